// RUN: seqmix-opt %s --seqmix-gpu-distribute --canonicalize | FileCheck %s --enable-var-scope
// RUN: seqmix-opt %s --seqmix-gpu-distribute=emulate=true --canonicalize | FileCheck %s --check-prefix=EMU
// RUN: seqmix-opt %s --seqmix-gpu-distribute=row-runs=false --canonicalize | FileCheck %s --check-prefix=PLAIN

// The GPU schedule's FA2-style runs: in a bf16 layer, an online-softmax
// step (S = q k^T, row max, P = exp(S - max), row sum, O = 0.5 O + P V,
// O /= l) is row-local -- each buffer it writes is touched only at the
// row of the iteration -- so each warp computes its units of 16 rows
// alone: S, P and the row statistics live in the registers of the mma.sync
// accumulator layout (no shared memory for them), the row max and sum fold
// a lane's elements and combine the four lanes of a row with shuffles xor
// 1 and 2, P V takes its A fragments from P's accumulators, and O's
// rescale is applied to the accumulators as P V loads them. One block
// barrier follows the run; a bar.warp.sync orders the warp's writes to O
// before the division reads them.
#a = affine_map<(m, n, k) -> (m, k)>
#bt = affine_map<(m, n, k) -> (n, k)>
#b = affine_map<(m, n, k) -> (k, n)>
#c = affine_map<(m, n, k) -> (m, n)>
#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
#scalar2 = affine_map<(d0, d1) -> ()>
#v = affine_map<(d0) -> (d0)>
#scalar1 = affine_map<(d0) -> ()>

// CHECK-LABEL: func @online_softmax_step
// CHECK: gpu.launch
// CHECK-NOT: memref<64x64xf32
// The units of 16 rows over the warps (tid / 32, from 0 to 4).
// CHECK: scf.for %{{.*}} = %{{.*}} to %c4 step
// S = q k^T: two groups of 4 n-tiles, each a loop over the k-steps.
// CHECK: scf.for {{.*}} iter_args({{.*}}) -> (vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>)
// q's and k's pairs (k, k + 1) sit next to each other: one aligned load
// each, rounded to bf16 as a pair.
// CHECK: %[[PAIR:.*]] = vector.load %{{.*}} {alignment = 8 : i64} : memref<64x32xf32>, vector<2xf32>
// CHECK: arith.truncf %[[PAIR]] : vector<2xf32> to vector<2xbf16>
// CHECK-COUNT-4: nvvm.mma.sync
// CHECK: scf.for {{.*}} iter_args({{.*}}) -> (vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>)
// CHECK-COUNT-4: nvvm.mma.sync
// The row max: the quad's lanes combined.
// CHECK: gpu.shuffle  xor %{{.*}}, %c1_i32, %c32_i32
// CHECK: arith.maxnumf
// CHECK: gpu.shuffle  xor %{{.*}}, %c2_i32, %c32_i32
// CHECK: math.exp
// The row sum.
// CHECK: gpu.shuffle  xor %{{.*}}, %c1_i32, %c32_i32
// CHECK: arith.addf
// P V: O's rescale on the loaded accumulators, P packed from registers.
// CHECK: %[[O:.*]] = memref.load %{{.*}} : memref<64x32xf32, strided<[32, 1], offset: ?>>
// CHECK: arith.mulf %[[O]], %cst
// CHECK: nvvm.mma.sync
// CHECK-COUNT-15: nvvm.mma.sync
// CHECK-NOT: nvvm.mma.sync
// CHECK: nvvm.bar.warp.sync
// CHECK: arith.divf
// CHECK: } {seqmix.gpu.row_run}
// CHECK-NEXT: gpu.barrier
// CHECK-NOT: linalg.generic
// CHECK: return

// EMU-LABEL: func @online_softmax_step
// EMU-NOT: nvvm.mma.sync
// EMU-NOT: gpu.shuffle
// The registers of S and of each row vector: [32 lanes, slots].
// EMU-DAG: memref<32x32xf32>
// EMU-DAG: memref<32x2xf32>
// EMU: } {seqmix.gpu.row_run}

// PLAIN-LABEL: func @online_softmax_step
// PLAIN-NOT: seqmix.gpu.row_run
// PLAIN: nvvm.mma.sync
// PLAIN-NOT: seqmix.gpu.row_run
// PLAIN: return
func.func @online_softmax_step(%q: memref<?x64x32xbf16>, %k: memref<?x64x32xbf16>, %v: memref<?x64x32xbf16>, %o: memref<?x64x32xf32>) {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %half = arith.constant 0.5 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %n = memref.dim %q, %c0 : memref<?x64x32xbf16>
  scf.forall (%bb) in (%n) {
    %qw = memref.alloc() : memref<64x32xf32>
    %kw = memref.alloc() : memref<64x32xf32>
    %vw = memref.alloc() : memref<64x32xf32>
    %qs = memref.subview %q[%bb, 0, 0] [1, 64, 32] [1, 1, 1] : memref<?x64x32xbf16> to memref<64x32xbf16, strided<[32, 1], offset: ?>>
    %ks = memref.subview %k[%bb, 0, 0] [1, 64, 32] [1, 1, 1] : memref<?x64x32xbf16> to memref<64x32xbf16, strided<[32, 1], offset: ?>>
    %vs = memref.subview %v[%bb, 0, 0] [1, 64, 32] [1, 1, 1] : memref<?x64x32xbf16> to memref<64x32xbf16, strided<[32, 1], offset: ?>>
    %os = memref.subview %o[%bb, 0, 0] [1, 64, 32] [1, 1, 1] : memref<?x64x32xf32> to memref<64x32xf32, strided<[32, 1], offset: ?>>
    linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%qs : memref<64x32xbf16, strided<[32, 1], offset: ?>>) outs(%qw : memref<64x32xf32>) {
    ^bb0(%in: bf16, %out: f32):
      %e = arith.extf %in : bf16 to f32
      linalg.yield %e : f32
    }
    linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%ks : memref<64x32xbf16, strided<[32, 1], offset: ?>>) outs(%kw : memref<64x32xf32>) {
    ^bb0(%in: bf16, %out: f32):
      %e = arith.extf %in : bf16 to f32
      linalg.yield %e : f32
    }
    linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%vs : memref<64x32xbf16, strided<[32, 1], offset: ?>>) outs(%vw : memref<64x32xf32>) {
    ^bb0(%in: bf16, %out: f32):
      %e = arith.extf %in : bf16 to f32
      linalg.yield %e : f32
    }
    %s = memref.alloc() : memref<64x64xf32>
    %mx = memref.alloc() : memref<64xf32>
    %l = memref.alloc() : memref<64xf32>
    linalg.generic {indexing_maps = [#scalar2, #id], iterator_types = ["parallel", "parallel"]} ins(%zero : f32) outs(%s : memref<64x64xf32>) {
    ^bb0(%in: f32, %out: f32):
      linalg.yield %in : f32
    }
    linalg.generic {indexing_maps = [#a, #bt, #c], iterator_types = ["parallel", "parallel", "reduction"]} ins(%qw, %kw : memref<64x32xf32>, memref<64x32xf32>) outs(%s : memref<64x64xf32>) {
    ^bb0(%x: f32, %y: f32, %acc: f32):
      %p = arith.mulf %x, %y : f32
      %r = arith.addf %acc, %p : f32
      linalg.yield %r : f32
    }
    linalg.generic {indexing_maps = [#scalar1, #v], iterator_types = ["parallel"]} ins(%ninf : f32) outs(%mx : memref<64xf32>) {
    ^bb0(%in: f32, %out: f32):
      linalg.yield %in : f32
    }
    linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]} ins(%s : memref<64x64xf32>) outs(%mx : memref<64xf32>) {
    ^bb0(%in: f32, %out: f32):
      %m = arith.maxnumf %in, %out : f32
      linalg.yield %m : f32
    }
    linalg.generic {indexing_maps = [#row, #id], iterator_types = ["parallel", "parallel"]} ins(%mx : memref<64xf32>) outs(%s : memref<64x64xf32>) {
    ^bb0(%in: f32, %out: f32):
      %d = arith.subf %out, %in : f32
      %e = math.exp %d : f32
      linalg.yield %e : f32
    }
    linalg.generic {indexing_maps = [#scalar1, #v], iterator_types = ["parallel"]} ins(%zero : f32) outs(%l : memref<64xf32>) {
    ^bb0(%in: f32, %out: f32):
      linalg.yield %in : f32
    }
    linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]} ins(%s : memref<64x64xf32>) outs(%l : memref<64xf32>) {
    ^bb0(%in: f32, %out: f32):
      %m = arith.addf %in, %out : f32
      linalg.yield %m : f32
    }
    linalg.generic {indexing_maps = [#id], iterator_types = ["parallel", "parallel"]} outs(%os : memref<64x32xf32, strided<[32, 1], offset: ?>>) {
    ^bb0(%out: f32):
      %m = arith.mulf %out, %half : f32
      linalg.yield %m : f32
    }
    linalg.generic {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"]} ins(%s, %vw : memref<64x64xf32>, memref<64x32xf32>) outs(%os : memref<64x32xf32, strided<[32, 1], offset: ?>>) {
    ^bb0(%x: f32, %y: f32, %acc: f32):
      %p = arith.mulf %x, %y : f32
      %r = arith.addf %acc, %p : f32
      linalg.yield %r : f32
    }
    linalg.generic {indexing_maps = [#row, #id], iterator_types = ["parallel", "parallel"]} ins(%l : memref<64xf32>) outs(%os : memref<64x32xf32, strided<[32, 1], offset: ?>>) {
    ^bb0(%in: f32, %out: f32):
      %d = arith.divf %out, %in : f32
      linalg.yield %d : f32
    }
    memref.dealloc %s : memref<64x64xf32>
    memref.dealloc %mx : memref<64xf32>
    memref.dealloc %l : memref<64xf32>
  }
  return
}
