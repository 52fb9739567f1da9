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
