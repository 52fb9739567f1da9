// RUN: seqmix-opt %s --seqmix-select-forms="form=recurrent" | FileCheck %s --check-prefix=FORCED
// RUN: seqmix-opt %s --seqmix-select-forms="form=chunked chunk-size=32" | FileCheck %s --check-prefix=CHUNKED
// RUN: seqmix-opt %s --seqmix-select-forms | FileCheck %s --check-prefix=AUTO

// FORCED-LABEL: func @gla_vector
// FORCED: form = #seqmix.form<recurrent>
// CHUNKED-LABEL: func @gla_vector
// CHUNKED: form = #seqmix.form<chunked, chunk = 32>
// The vector gate has a lowering only in the recurrent form today.
// AUTO-LABEL: func @gla_vector
// AUTO: form = #seqmix.form<recurrent>
func.func @gla_vector(%q: tensor<?x4x?x64xf32>, %g: tensor<?x4x?x64xf32>) -> tensor<?x4x?x64xf32> {
  %o = seqmix.gated_linear_attention %q, %q, %q gates(%g) {gate = #seqmix.gate<vector>, scale = 1.0 : f32}
      : (tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>) -> tensor<?x4x?x64xf32>
  return %o : tensor<?x4x?x64xf32>
}

// A short static sequence with many heads: the cost model picks parallel.
// AUTO-LABEL: func @gla_short
// AUTO: form = #seqmix.form<parallel>
func.func @gla_short(%q: tensor<8x16x32x64xf32>, %g: tensor<8x16x32xf32>) -> tensor<8x16x32x64xf32> {
  %o = seqmix.gated_linear_attention %q, %q, %q gates(%g) {gate = #seqmix.gate<scalar>, scale = 1.0 : f32}
      : (tensor<8x16x32x64xf32>, tensor<8x16x32x64xf32>, tensor<8x16x32x64xf32>, tensor<8x16x32xf32>) -> tensor<8x16x32x64xf32>
  return %o : tensor<8x16x32x64xf32>
}

// An explicit form in the input is kept by auto and replaced when forced.
// AUTO-LABEL: func @explicit
// AUTO: form = #seqmix.form<parallel>
// FORCED-LABEL: func @explicit
// FORCED: form = #seqmix.form<recurrent>
func.func @explicit(%q: tensor<1x1x4096x64xf32>) -> tensor<1x1x4096x64xf32> {
  %o = seqmix.gated_linear_attention %q, %q, %q {gate = #seqmix.gate<none>, scale = 1.0 : f32, form = #seqmix.form<parallel>}
      : (tensor<1x1x4096x64xf32>, tensor<1x1x4096x64xf32>, tensor<1x1x4096x64xf32>) -> tensor<1x1x4096x64xf32>
  return %o : tensor<1x1x4096x64xf32>
}

