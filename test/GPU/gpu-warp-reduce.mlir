// RUN: seqmix-opt %s --seqmix-gpu-distribute --canonicalize | FileCheck %s --enable-var-scope
// RUN: seqmix-opt %s --seqmix-gpu-distribute=warp-reductions=false --canonicalize | FileCheck %s --check-prefix=OFF
// RUN: seqmix-opt %s --seqmix-gpu-distribute=emulate=true --canonicalize | FileCheck %s --check-prefix=EMU

// A block's reduction with few outputs and a long reduction (a decode
// step's row max over 1024 scores) runs with a warp per output element:
// lane l folds elements l, l + 32, ... from the combiner's identity (-inf
// for a max), five gpu.shuffle xor steps (16, 8, 4, 2, 1) combine the
// lanes, and lane 0 folds the total into the output. Many outputs of a
// short reduction (64 row sums of 64) stay one thread per output.
#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>

// CHECK-LABEL: func @row_max
// CHECK: %[[WARP:.*]] = arith.divui %[[TX:[a-z0-9]+]], %c32
// CHECK: %[[LANE:.*]] = arith.remui %[[TX]], %c32
// CHECK: scf.for %[[ROW:.*]] = %[[WARP]] to %c2 step
// CHECK: %[[PART:.*]] = scf.for %[[K:.*]] = %[[LANE]] to %c1024 step %c32 iter_args(%[[ACC:.*]] = %cst{{.*}}) -> (f32)
// CHECK: %[[X:.*]] = memref.load %{{.*}}[%[[ROW]], %[[K]]]
// CHECK: %[[M:.*]] = arith.maxnumf %[[X]], %[[ACC]]
// CHECK: scf.yield %[[M]]
// CHECK: %[[S16:.*]], %{{.*}} = gpu.shuffle  xor %[[PART]], %c16_i32, %c32_i32 : f32
// CHECK: %[[C16:.*]] = arith.maxnumf %[[PART]], %[[S16]]
// CHECK: gpu.shuffle  xor %[[C16]], %c8_i32, %c32_i32
// CHECK: gpu.shuffle  xor %{{.*}}, %c4_i32, %c32_i32
// CHECK: gpu.shuffle  xor %{{.*}}, %c2_i32, %c32_i32
// CHECK: gpu.shuffle  xor %{{.*}}, %c1_i32, %c32_i32
// CHECK: %[[TOTAL:.*]] = arith.maxnumf
// CHECK: %[[FIRST:.*]] = arith.cmpi eq, %[[LANE]], %c0
// CHECK: scf.if %[[FIRST]] {
// CHECK: %[[OLD:.*]] = memref.load %{{.*}}[%[[ROW]]]
// CHECK: %[[NEW:.*]] = arith.maxnumf %[[TOTAL]], %[[OLD]]
// CHECK: memref.store %[[NEW]]
// CHECK: gpu.barrier
// CHECK-NOT: gpu.shuffle
// CHECK: return
// OFF-LABEL: func @row_max
// OFF-NOT: gpu.shuffle
// OFF: return
// EMU-LABEL: func @row_max
// EMU-NOT: gpu.shuffle
// EMU: scf.for %{{.*}} = %{{.*}} to %c1024 step %c1
// EMU: return
func.func @row_max(%s: memref<?x2x1024xf32>, %m: memref<?x2xf32>, %t: memref<?x64x64xf32>, %r: memref<?x64xf32>) {
  %c0 = arith.constant 0 : index
  %n = memref.dim %s, %c0 : memref<?x2x1024xf32>
  scf.forall (%b) in (%n) {
    %ss = memref.subview %s[%b, 0, 0] [1, 2, 1024] [1, 1, 1] : memref<?x2x1024xf32> to memref<2x1024xf32, strided<[1024, 1], offset: ?>>
    %ms = memref.subview %m[%b, 0] [1, 2] [1, 1] : memref<?x2xf32> to memref<2xf32, strided<[1], offset: ?>>
    linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]} ins(%ss : memref<2x1024xf32, strided<[1024, 1], offset: ?>>) outs(%ms : memref<2xf32, strided<[1], offset: ?>>) {
    ^bb0(%in: f32, %out: f32):
      %x = arith.maxnumf %in, %out : f32
      linalg.yield %x : f32
    }
    %ts = memref.subview %t[%b, 0, 0] [1, 64, 64] [1, 1, 1] : memref<?x64x64xf32> to memref<64x64xf32, strided<[64, 1], offset: ?>>
    %rs = memref.subview %r[%b, 0] [1, 64] [1, 1] : memref<?x64xf32> to memref<64xf32, strided<[1], offset: ?>>
    linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]} ins(%ts : memref<64x64xf32, strided<[64, 1], offset: ?>>) outs(%rs : memref<64xf32, strided<[1], offset: ?>>) {
    ^bb0(%in: f32, %out: f32):
      %x = arith.addf %in, %out : f32
      linalg.yield %x : f32
    }
  }
  return
}
