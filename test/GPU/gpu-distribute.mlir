// RUN: seqmix-opt %s --seqmix-gpu-distribute --canonicalize | FileCheck %s --enable-var-scope
// RUN: seqmix-opt %s --seqmix-gpu-distribute=max-shared-bytes=64 --canonicalize | FileCheck %s --check-prefix=BIG

// The GPU schedule, stage 1: the slice loop becomes a launch with one block
// per slice (its iteration space flattened onto the grid's x axis) and 128
// threads; each linalg op in the slice is spread over the threads (a
// block-stride loop over its parallel iterations, each computing its whole
// reduction) and followed by a barrier; the slice's scratch buffer is a view
// of the dynamic shared memory (past max-shared-bytes, a slot per block of
// a global buffer the host allocates); a scalar store runs on thread 0.
#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>

// CHECK-LABEL: func @slices
// CHECK: %[[BLOCKS:.*]] = arith.muli
// CHECK: gpu.launch blocks(%[[BX:[a-z0-9]+]], %{{.*}}, %{{.*}}) in (%{{.*}} = %[[BLOCKS]], {{.*}}) threads(%[[TX:[a-z0-9]+]], %{{.*}}, %{{.*}}) in (%[[NT:[a-z0-9]+]] = %c128{{.*}}, {{.*}}) dynamic_shared_memory_size %c256_i32
// CHECK: %[[SMEM:.*]] = gpu.dynamic_shared_memory : memref<?xi8, #gpu.address_space<workgroup>>
// CHECK: %[[H:.*]] = arith.remui %[[BX]]
// CHECK: %[[B:.*]] = arith.divui %[[BX]]
// CHECK: %[[VIEW:.*]] = memref.view %[[SMEM]][%c0{{.*}}][] : memref<?xi8, #gpu.address_space<workgroup>> to memref<8x8xf32, #gpu.address_space<workgroup>>
// CHECK: %[[TMP:.*]] = memref.memory_space_cast %[[VIEW]]
// CHECK: scf.for %[[I:.*]] = %[[TX]] to %c64{{.*}} step %[[NT]] {
// CHECK: linalg.generic {{.*}} outs(%{{.*}} : memref<1x1xf32, strided<[8, 1], offset: ?>>)
// CHECK: gpu.barrier
// CHECK: scf.for %{{.*}} = %[[TX]] to %c8{{.*}} step %[[NT]] {
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]{{.*}} ins(%{{.*}} : memref<1x8xf32, strided<[8, 1], offset: ?>>)
// CHECK: gpu.barrier
// CHECK: %[[FIRST:.*]] = arith.cmpi eq, %[[TX]], %c0
// CHECK: scf.if %[[FIRST]] {
// CHECK-NEXT: memref.store
// CHECK: gpu.barrier
// CHECK-NOT: memref.alloc
// CHECK-NOT: scf.forall
// CHECK: return
// BIG: %[[BUF:.*]] = gpu.alloc (%{{.*}}) : memref<?xi8>
// BIG: gpu.launch blocks(%[[BX:[a-z0-9]+]], %{{.*}}, %{{.*}}) in
// BIG-SAME: dynamic_shared_memory_size %c0_i32
// BIG: %[[AT:.*]] = arith.muli %[[BX]], %c256
// BIG: memref.view %[[BUF]][%[[AT]]][] : memref<?xi8> to memref<8x8xf32>
// BIG: gpu.dealloc %[[BUF]]
func.func @slices(%x: memref<?x4x8x8xf32>, %out: memref<?x4x8xf32>, %flag: memref<?x4xf32>) {
  %c0 = arith.constant 0 : index
  %one = arith.constant 1.0 : f32
  %batch = memref.dim %x, %c0 : memref<?x4x8x8xf32>
  scf.forall (%b, %h) in (%batch, 4) {
    %tmp = memref.alloc() : memref<8x8xf32>
    %xs = memref.subview %x[%b, %h, 0, 0] [1, 1, 8, 8] [1, 1, 1, 1] : memref<?x4x8x8xf32> to memref<8x8xf32, strided<[8, 1], offset: ?>>
    linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%xs : memref<8x8xf32, strided<[8, 1], offset: ?>>) outs(%tmp : memref<8x8xf32>) {
    ^bb0(%in: f32, %o: f32):
      %e = math.exp %in : f32
      linalg.yield %e : f32
    }
    %os = memref.subview %out[%b, %h, 0] [1, 1, 8] [1, 1, 1] : memref<?x4x8xf32> to memref<8xf32, strided<[1], offset: ?>>
    linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]} ins(%tmp : memref<8x8xf32>) outs(%os : memref<8xf32, strided<[1], offset: ?>>) {
    ^bb0(%in: f32, %o: f32):
      %s = arith.addf %in, %o : f32
      linalg.yield %s : f32
    }
    memref.store %one, %flag[%b, %h] : memref<?x4xf32>
    memref.dealloc %tmp : memref<8x8xf32>
  }
  return
}

// Scratch of the two branches of an scf.if (one runs: a chunk loop's
// full-block and last-block paths) starts at the same offset; what the
// slice allocates before the branch stays below both.
// CHECK-LABEL: func @branches
// CHECK: gpu.launch {{.*}} dynamic_shared_memory_size %c512_i32
// CHECK: memref.view %{{.*}}[%c0{{.*}}][] : {{.*}} to memref<8x8xf32, #gpu.address_space<workgroup>>
// CHECK: scf.if
// CHECK: memref.view %{{.*}}[%c256][] : {{.*}} to memref<8x8xf32, #gpu.address_space<workgroup>>
// CHECK: } else {
// CHECK: memref.view %{{.*}}[%c256][] : {{.*}} to memref<4x8xf32, #gpu.address_space<workgroup>>
func.func @branches(%x: memref<?x8x8xf32>, %out: memref<?x8xf32>, %full: i1) {
  %c0 = arith.constant 0 : index
  %batch = memref.dim %x, %c0 : memref<?x8x8xf32>
  scf.forall (%b) in (%batch) {
    %a = memref.alloc() : memref<8x8xf32>
    %xs = memref.subview %x[%b, 0, 0] [1, 8, 8] [1, 1, 1] : memref<?x8x8xf32> to memref<8x8xf32, strided<[8, 1], offset: ?>>
    %os = memref.subview %out[%b, 0] [1, 8] [1, 1] : memref<?x8xf32> to memref<8xf32, strided<[1], offset: ?>>
    linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%xs : memref<8x8xf32, strided<[8, 1], offset: ?>>) outs(%a : memref<8x8xf32>) {
    ^bb0(%in: f32, %o: f32):
      %e = math.exp %in : f32
      linalg.yield %e : f32
    }
    scf.if %full {
      %t = memref.alloc() : memref<8x8xf32>
      linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%a : memref<8x8xf32>) outs(%t : memref<8x8xf32>) {
      ^bb0(%in: f32, %o: f32):
        %e = math.exp %in : f32
        linalg.yield %e : f32
      }
      linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]} ins(%t : memref<8x8xf32>) outs(%os : memref<8xf32, strided<[1], offset: ?>>) {
      ^bb0(%in: f32, %o: f32):
        %s = arith.addf %in, %o : f32
        linalg.yield %s : f32
      }
    } else {
      %t = memref.alloc() : memref<4x8xf32>
      %as = memref.subview %a[0, 0] [4, 8] [1, 1] : memref<8x8xf32> to memref<4x8xf32, strided<[8, 1]>>
      linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%as : memref<4x8xf32, strided<[8, 1]>>) outs(%t : memref<4x8xf32>) {
      ^bb0(%in: f32, %o: f32):
        %e = math.exp %in : f32
        linalg.yield %e : f32
      }
      %o4 = memref.subview %os[0] [4] [1] : memref<8xf32, strided<[1], offset: ?>> to memref<4xf32, strided<[1], offset: ?>>
      linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]} ins(%t : memref<4x8xf32>) outs(%o4 : memref<4xf32, strided<[1], offset: ?>>) {
      ^bb0(%in: f32, %o: f32):
        %s = arith.addf %in, %o : f32
        linalg.yield %s : f32
      }
    }
  }
  return
}
