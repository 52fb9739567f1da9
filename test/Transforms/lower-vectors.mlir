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

// A 2-D transpose (K^T of a chunk) is tiled 16 x 16 on AVX-512, and each
// tile becomes the 64 two-register shuffles of a 16 x 16 transpose (4
// stages of 16), not one shuffle of the flattened 256 lanes (which LLVM's
// x86 backend splits into a sequence 4-5x longer, with spills).
// CHECK-LABEL: func @transpose
// CHECK: scf.for
// CHECK-COUNT-64: vector.shuffle {{.*}} : vector<16xf32>, vector<16xf32>
// CHECK-NOT: vector.shuffle
// CHECK-NOT: vector.transpose
// CHECK: return
func.func @transpose(%k: tensor<32x128xf32>) -> tensor<128x32xf32> {
  %e = tensor.empty() : tensor<128x32xf32>
  %t = linalg.transpose ins(%k : tensor<32x128xf32>) outs(%e : tensor<128x32xf32>) permutation = [1, 0]
  return %t : tensor<128x32xf32>
}
