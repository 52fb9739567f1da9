// RUN: seqmix-opt %s --seqmix-lower-forms | FileCheck --enable-var-scope %s

// bf16 activations (FORMS.md 0.3): the lowering runs in f32 on their
// widening, which seqmix-lower-forms moves to each block the lowering reads
// (the block's bf16 slice, then an elementwise extf: no f32 copy of a whole
// input); the gate and the states stay f32; the output is narrowed (truncf,
// round to nearest even) slice by slice inside the slice loop, whose result
// is the bf16 output itself.
// CHECK-LABEL: func @scalar_gate
// CHECK-SAME: (%[[Q:.*]]: tensor<?x2x?x8xbf16>, %[[V:.*]]: tensor<?x2x?x4xbf16>, %[[G:.*]]: tensor<?x2x?xf32>)
// CHECK-NOT: arith.extf
// CHECK: %[[LOOP:.*]]:2 = scf.forall {{.*}} -> (tensor<?x2x?x4xbf16>, tensor<?x2x8x4xf32>)
// CHECK: %[[QB:.*]] = tensor.extract_slice %[[Q]]{{.*}} to tensor<16x8xbf16>
// CHECK: linalg.generic {{.*}} ins(%[[QB]] : tensor<16x8xbf16>) outs(%{{.*}} : tensor<16x8xf32>)
// CHECK: arith.extf %{{.*}} : bf16 to f32
// CHECK: %[[VB:.*]] = tensor.extract_slice %[[V]]{{.*}} to tensor<16x4xbf16>
// CHECK: %[[PART:.*]] = linalg.generic {{.*}} ins(%{{.*}} : tensor<?x4xf32>) outs(%{{.*}} : tensor<?x4xbf16>)
// CHECK: arith.truncf %{{.*}} : f32 to bf16
// CHECK: scf.forall.in_parallel
// CHECK: tensor.parallel_insert_slice %[[PART]] into
// CHECK-NOT: arith.truncf
// CHECK: return %[[LOOP]]#0, %[[LOOP]]#1 : tensor<?x2x?x4xbf16>, tensor<?x2x8x4xf32>
func.func @scalar_gate(%q: tensor<?x2x?x8xbf16>, %v: tensor<?x2x?x4xbf16>, %g: tensor<?x2x?xf32>) -> (tensor<?x2x?x4xbf16>, tensor<?x2x8x4xf32>) {
  %o, %f = seqmix.gated_linear_attention %q, %q, %v gates(%g) {gate = #seqmix.gate<scalar>, scale = 0.5 : f32, form = #seqmix.form<chunked, chunk = 16>}
      : (tensor<?x2x?x8xbf16>, tensor<?x2x?x8xbf16>, tensor<?x2x?x4xbf16>, tensor<?x2x?xf32>) -> (tensor<?x2x?x4xbf16>, tensor<?x2x8x4xf32>)
  return %o, %f : tensor<?x2x?x4xbf16>, tensor<?x2x8x4xf32>
}

// A slice assembled from blocks (the convolution's first W - 1 outputs, then
// the rest) is narrowed block by block: each block's elementwise generic
// computes bf16 itself (its truncf fused in), inserted into a bf16 row; no
// f32 row is written and narrowed in a pass of its own.
// CHECK-LABEL: func @conv_blocks
// CHECK: scf.forall
// CHECK: %[[HEAD:.*]] = linalg.generic {{.*}} ins({{.*}} : tensor<?xf32>, tensor<?xf32>, tensor<?xf32>, tensor<?xf32>) outs(%{{.*}} : tensor<?xbf16>)
// CHECK: arith.truncf %{{.*}} : f32 to bf16
// CHECK: %[[ROW:.*]] = tensor.insert_slice %[[HEAD]] into %{{.*}} : tensor<?xbf16> into tensor<?xbf16>
// CHECK: %[[MAIN:.*]] = linalg.generic {{.*}} ins({{.*}} : tensor<?xbf16>, tensor<?xbf16>, tensor<?xbf16>, tensor<?xbf16>) outs(%{{.*}} : tensor<?xbf16>)
// CHECK: arith.truncf %{{.*}} : f32 to bf16
// CHECK: %[[FULL:.*]] = tensor.insert_slice %[[MAIN]] into %[[ROW]]
// CHECK-NOT: linalg.generic
// CHECK: tensor.parallel_insert_slice %[[FULL]] into
func.func @conv_blocks(%x: tensor<2x8x?xbf16>, %w: tensor<8x4xbf16>) -> tensor<2x8x?xbf16> {
  %o = seqmix.causal_conv1d %x, %w {silu = true, form = #seqmix.form<parallel>} : (tensor<2x8x?xbf16>, tensor<8x4xbf16>) -> tensor<2x8x?xbf16>
  return %o : tensor<2x8x?xbf16>
}
