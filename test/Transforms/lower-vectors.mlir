// RUN: seqmix-opt %s --seqmix-tile-contractions=vector-width=16 --one-shot-bufferize="bufferize-function-boundaries" --seqmix-lower-vectors | FileCheck %s

// The 8 x 32 register tile after bufferization: per step of the reduction,
// 8 broadcasts of A and 8 FMAs on 32-lane rows (16 zmm FMAs on AVX-512) into
// the loop-carried accumulator; no vector.contract, no transfer op and no
// allocation are left in the micro-kernel.
// CHECK-LABEL: func @mm
// CHECK: scf.for %{{.*}} = %c0 to %c64 step %c1 iter_args({{.*}}) -> (vector<8x32xf32>)
// CHECK-NOT: memref.alloc
// CHECK-NOT: vector.transfer
// CHECK-COUNT-8: vector.fma {{.*}} : vector<32xf32>
// CHECK-NOT: vector.fma
// CHECK: scf.yield
// CHECK-NOT: vector.contract
// CHECK: return
func.func @mm(%a: tensor<16x64xf32>, %b: tensor<64x64xf32>) -> tensor<16x64xf32> {
  %c0 = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<16x64xf32>
  %z = linalg.fill ins(%c0 : f32) outs(%e : tensor<16x64xf32>) -> tensor<16x64xf32>
  %r = linalg.matmul ins(%a, %b : tensor<16x64xf32>, tensor<64x64xf32>) outs(%z : tensor<16x64xf32>) -> tensor<16x64xf32>
  return %r : tensor<16x64xf32>
}
