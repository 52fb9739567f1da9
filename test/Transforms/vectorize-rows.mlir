// RUN: seqmix-opt %s --seqmix-vectorize-rows=vector-width=16 | FileCheck %s
// RUN: not seqmix-opt %s --seqmix-vectorize-rows=vector-width=12 2>&1 | FileCheck %s --check-prefix=BADWIDTH

// After bufferization, elementwise work and row reductions along the
// innermost, contiguous dimension are cut into rows of 16 lanes, peeled, and
// the full rows vectorized; the ragged rest of a dynamic row stays a linalg
// op. BADWIDTH: seqmix-vectorize-rows: vector-width must be a power of two from 1 to 64 f32 lanes, got 12
#id = affine_map<(i, j) -> (i, j)>
#row = affine_map<(i, j) -> (i)>
#tr = affine_map<(i, j) -> (j, i)>

// CHECK-LABEL: func @elementwise
// CHECK: scf.for %{{.*}} = %c0 to %c16 step %c1
// CHECK: scf.for %{{.*}} = %c0 to %c32 step %c16
// CHECK: vector.transfer_read {{.*}} {in_bounds = [true, true]} {{.*}} vector<1x16xf32>
// CHECK: arith.mulf %{{.*}}, %{{.*}} : vector<1x16xf32>
// CHECK: vector.transfer_write
// CHECK-NOT: linalg.generic
// CHECK: return
func.func @elementwise(%a: memref<16x32xf32>) {
  linalg.generic {indexing_maps = [#id], iterator_types = ["parallel", "parallel"]} outs(%a : memref<16x32xf32>) {
  ^bb0(%x: f32):
    %y = arith.mulf %x, %x : f32
    linalg.yield %y : f32
  }
  return
}

// A row reduction keeps one vector accumulator per row: the full vectors
// combined lane-wise, the lanes as a tree of halves (16, 8, 4, 2, 1), the
// ragged rest element by element, one read-modify-write of the result.
// CHECK-LABEL: func @row_max_dynamic
// CHECK: scf.for %[[I:.*]] = %c0 to %c8 step %c1
// CHECK: %[[N:.*]] = memref.dim %{{.*}}, %c1
// CHECK: %[[REM:.*]] = arith.remui %[[N]], %c16
// CHECK: %[[FULL:.*]] = arith.subi %[[N]], %[[REM]]
// CHECK: %[[ACC:.*]] = scf.for %[[J:.*]] = %c0 to %[[FULL]] step %c16 iter_args(%[[A:.*]] = %cst) -> (vector<16xf32>)
// CHECK: %[[V:.*]] = vector.load %{{.*}}[%[[I]], %[[J]]] : memref<8x?xf32>, vector<16xf32>
// CHECK: arith.maximumf %[[A]], %[[V]] : vector<16xf32>
// CHECK: vector.extract_strided_slice %[[ACC]] {offsets = [0], sizes = [8], strides = [1]}
// CHECK: vector.extract_strided_slice %[[ACC]] {offsets = [8], sizes = [8], strides = [1]}
// CHECK: arith.maximumf {{.*}} : vector<8xf32>
// CHECK: arith.maximumf {{.*}} : vector<4xf32>
// CHECK: arith.maximumf {{.*}} : vector<2xf32>
// CHECK: arith.maximumf {{.*}} : vector<1xf32>
// CHECK: %[[R:.*]] = vector.extract %{{.*}}[0] : f32 from vector<1xf32>
// CHECK: %[[T:.*]] = scf.for %{{.*}} = %[[FULL]] to %[[N]] step %c1 iter_args(%[[S:.*]] = %[[R]]) -> (f32)
// CHECK: memref.load
// CHECK: arith.maximumf %[[S]], %{{.*}} : f32
// CHECK: %[[OLD:.*]] = memref.load %{{.*}}[%[[I]]] : memref<8xf32>
// CHECK: %[[NEW:.*]] = arith.maximumf %[[OLD]], %[[T]] : f32
// CHECK: memref.store %[[NEW]], %{{.*}}[%[[I]]] : memref<8xf32>
// CHECK-NOT: linalg.generic
func.func @row_max_dynamic(%s: memref<8x?xf32>, %m: memref<8xf32>) {
  linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]} ins(%s : memref<8x?xf32>) outs(%m : memref<8xf32>) {
  ^bb0(%x: f32, %acc: f32):
    %y = arith.maximumf %x, %acc : f32
    linalg.yield %y : f32
  }
  return
}

// A row dot product (the key-vector gate's diagonal scores, a row of W
// times one vector of q) keeps one vector accumulator per row too, with
// fused multiply-adds.
// CHECK-LABEL: func @row_dot
// CHECK: scf.for %[[I:.*]] = %c0 to %{{.*}} step %c1
// CHECK: %[[ACC:.*]] = scf.for %[[J:.*]] = %c0 to %{{.*}} step %c16 iter_args(%[[A:.*]] = %cst) -> (vector<16xf32>)
// CHECK: %[[W:.*]] = vector.load %{{.*}}[%[[I]], %[[J]]] : memref<?x32xf32>, vector<16xf32>
// CHECK: %[[Q:.*]] = vector.load %{{.*}}[%[[J]]] : memref<32xf32>, vector<16xf32>
// CHECK: vector.fma %[[W]], %[[Q]], %[[A]] : vector<16xf32>
// CHECK: arith.addf {{.*}} : vector<8xf32>
// CHECK: memref.load %{{.*}}[%[[I]]] : memref<?xf32>
// CHECK: memref.store
// CHECK-NOT: linalg.generic
func.func @row_dot(%w: memref<?x32xf32>, %q: memref<32xf32>, %p: memref<?xf32>) {
  linalg.generic {indexing_maps = [#id, affine_map<(i, j) -> (j)>, #row], iterator_types = ["parallel", "reduction"]} ins(%w, %q : memref<?x32xf32>, memref<32xf32>) outs(%p : memref<?xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %m = arith.mulf %x, %y : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  }
  return
}

// A transpose reads its input across rows, and a row with a non-unit inner
// stride is not contiguous: neither is cut into rows.
// CHECK-LABEL: func @not_rows
// CHECK-NOT: scf.for
// CHECK: linalg.generic
// CHECK: linalg.generic
func.func @not_rows(%a: memref<16x32xf32>, %b: memref<32x16xf32>, %c: memref<16x32xf32, strided<[1, 16]>>) {
  linalg.generic {indexing_maps = [#tr, #id], iterator_types = ["parallel", "parallel"]} ins(%a : memref<16x32xf32>) outs(%b : memref<32x16xf32>) {
  ^bb0(%x: f32, %y: f32):
    linalg.yield %x : f32
  }
  linalg.generic {indexing_maps = [#id], iterator_types = ["parallel", "parallel"]} outs(%c : memref<16x32xf32, strided<[1, 16]>>) {
  ^bb0(%x: f32):
    %y = arith.mulf %x, %x : f32
    linalg.yield %y : f32
  }
  return
}
