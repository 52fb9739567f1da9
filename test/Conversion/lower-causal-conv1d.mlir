// RUN: seqmix-opt %s -split-input-file --seqmix-lower-forms | FileCheck %s --enable-var-scope

// One scf.forall iteration per (batch, channel) row. The taps and the bias
// are scalars of the row; the first min(T, W - 1) outputs read a [2 (W - 1)]
// buffer [state, x[0..W-2]] (clamped reads, selected); the rest is one
// elementwise op over W views of the row shifted by 0..W-1, with SiLU; the
// final state gathers [state, x] at T..T+W-2.
// CHECK-LABEL: func @conv
// CHECK: scf.forall (%{{.*}}, %{{.*}}) in (%{{.*}}, 8)
// CHECK: tensor.extract %{{.*}} : tensor<8x4xf32>
// CHECK: linalg.generic {{.*}} outs(%{{.*}} : tensor<6xf32>)
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} : tensor<?xf32>, tensor<?xf32>, tensor<?xf32>, tensor<?xf32>)
// CHECK: math.fma
// CHECK: arith.bitcast {{.*}} : f32 to i32
// CHECK-NOT: arith.divf
// CHECK: linalg.generic {{.*}} outs(%{{.*}} : tensor<3xf32>)
// CHECK-NOT: seqmix.causal_conv1d
func.func @conv(%x: tensor<2x8x?xf32>, %w: tensor<8x4xf32>, %b: tensor<8xf32>, %s: tensor<2x8x3xf32>) -> (tensor<2x8x?xf32>, tensor<2x8x3xf32>) {
  %o, %f = seqmix.causal_conv1d %x, %w bias(%b) state(%s) {silu = true, form = #seqmix.form<parallel>} : (tensor<2x8x?xf32>, tensor<8x4xf32>, tensor<8xf32>, tensor<2x8x3xf32>) -> (tensor<2x8x?xf32>, tensor<2x8x3xf32>)
  return %o, %f : tensor<2x8x?xf32>, tensor<2x8x3xf32>
}
