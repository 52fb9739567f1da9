// RUN: seqmix-opt %s -split-input-file --seqmix-lower-forms -verify-diagnostics

func.func @no_form(%q: tensor<1x1x4x8xf32>) -> tensor<1x1x4x8xf32> {
  // expected-error @+1 {{has no form attribute; run seqmix-select-forms first}}
  %o = seqmix.gated_linear_attention %q, %q, %q {gate = #seqmix.gate<none>, scale = 1.0 : f32} : (tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>) -> tensor<1x1x4x8xf32>
  return %o : tensor<1x1x4x8xf32>
}

// -----

func.func @f64(%q: tensor<1x1x4x8xf64>) -> tensor<1x1x4x8xf64> {
  // expected-error @+1 {{only f32, bf16 and f16 activations are lowered, got 'f64'}}
  %o = seqmix.gated_linear_attention %q, %q, %q {gate = #seqmix.gate<none>, scale = 1.0 : f32, form = #seqmix.form<recurrent>} : (tensor<1x1x4x8xf64>, tensor<1x1x4x8xf64>, tensor<1x1x4x8xf64>) -> tensor<1x1x4x8xf64>
  return %o : tensor<1x1x4x8xf64>
}

// -----

func.func @dynamic_head_dim(%q: tensor<1x1x4x?xf32>) -> tensor<1x1x4x?xf32> {
  // expected-error @+1 {{heads, key_dim and value_dim must be static}}
  %o = seqmix.gated_linear_attention %q, %q, %q {gate = #seqmix.gate<none>, scale = 1.0 : f32, form = #seqmix.form<recurrent>} : (tensor<1x1x4x?xf32>, tensor<1x1x4x?xf32>, tensor<1x1x4x?xf32>) -> tensor<1x1x4x?xf32>
  return %o : tensor<1x1x4x?xf32>
}

// -----

func.func @mixed_static_dynamic(%q: tensor<?x1x4x8xf32>) -> tensor<2x1x4x8xf32> {
  // expected-error @+1 {{cannot be lowered: dimension batch is static in some tensors and dynamic in others ('tensor<?x1x4x8xf32>' vs 'tensor<2x1x4x8xf32>')}}
  %o = seqmix.gated_linear_attention %q, %q, %q {gate = #seqmix.gate<none>, scale = 1.0 : f32, form = #seqmix.form<recurrent>} : (tensor<?x1x4x8xf32>, tensor<?x1x4x8xf32>, tensor<?x1x4x8xf32>) -> tensor<2x1x4x8xf32>
  return %o : tensor<2x1x4x8xf32>
}

// -----

func.func @conv_recurrent(%x: tensor<1x16x8xf32>, %w: tensor<16x4xf32>) -> tensor<1x16x8xf32> {
  // expected-error @+1 {{cannot be lowered: seqmix.causal_conv1d has one form, parallel (every output reads its W inputs directly); the recurrent form does not exist}}
  %o = seqmix.causal_conv1d %x, %w {form = #seqmix.form<recurrent>} : (tensor<1x16x8xf32>, tensor<16x4xf32>) -> tensor<1x16x8xf32>
  return %o : tensor<1x16x8xf32>
}

// -----

func.func @lti_parallel_state(%u: tensor<1x16x8xf32>, %A: tensor<16x4xf32>, %dt: tensor<16xf32>) -> (tensor<1x16x8xf32>, tensor<1x16x4xf32>) {
  // expected-error @+1 {{cannot be lowered: the parallel form of seqmix.lti_scan (the causal convolution by its kernel, FORMS.md 5.1) takes no initial state and gives no final state; use form chunked or recurrent}}
  %o, %f = seqmix.lti_scan %u, %A, %A, %A, %dt {discretization = #seqmix.discretization<zoh>, form = #seqmix.form<parallel>} : (tensor<1x16x8xf32>, tensor<16x4xf32>, tensor<16x4xf32>, tensor<16x4xf32>, tensor<16xf32>) -> (tensor<1x16x8xf32>, tensor<1x16x4xf32>)
  return %o, %f : tensor<1x16x8xf32>, tensor<1x16x4xf32>
}
