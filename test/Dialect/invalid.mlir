// RUN: seqmix-opt %s -split-input-file -verify-diagnostics

//===-- softmax_attention ---------------------------------------------------===//

func.func @softmax_c1_rank(%q: tensor<4x8xf32>, %k: tensor<1x1x4x8xf32>) {
  // expected-error @+1 {{[C1] q must be a rank-4 tensor [B, H, Tq, K], got 'tensor<4x8xf32>'}}
  %o = seqmix.softmax_attention %q, %k, %k {scale = 1.0 : f32} : (tensor<4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>) -> tensor<1x1x4x8xf32>
  return
}

// -----

func.func @softmax_c1_result(%q: tensor<1x2x4x8xf32>) {
  // expected-error @+1 {{[C1] dimension V is 8 in v but 9 in result}}
  %o = seqmix.softmax_attention %q, %q, %q {scale = 1.0 : f32} : (tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>) -> tensor<1x2x4x9xf32>
  return
}

// -----

func.func @softmax_c7_lse_shape(%q: tensor<1x2x4x8xf32>) {
  // expected-error @+1 {{[C7] dimension Tq is 4 in q but 5 in lse}}
  %o, %l = seqmix.softmax_attention %q, %q, %q {scale = 1.0 : f32} : (tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>) -> (tensor<1x2x4x8xf32>, tensor<1x2x5xf32>)
  return
}

// -----

func.func @softmax_c7_lse_rank(%q: tensor<1x2x4x8xf32>) {
  // expected-error @+1 {{[C7] lse must be a rank-3 tensor [B, H, Tq], got 'tensor<1x2x4x1xf32>'}}
  %o, %l = seqmix.softmax_attention %q, %q, %q {scale = 1.0 : f32} : (tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>) -> (tensor<1x2x4x8xf32>, tensor<1x2x4x1xf32>)
  return
}

// -----

func.func @softmax_c7_lse_f32(%q: tensor<1x2x4x8xf16>) {
  // expected-error @+1 {{[C7] lse must have element type f32, got 'f16'}}
  %o, %l = seqmix.softmax_attention %q, %q, %q {scale = 1.0 : f32} : (tensor<1x2x4x8xf16>, tensor<1x2x4x8xf16>, tensor<1x2x4x8xf16>) -> (tensor<1x2x4x8xf16>, tensor<1x2x4xf16>)
  return
}

// -----

func.func @softmax_c2_elem(%q: tensor<1x1x4x8xf32>, %k: tensor<1x1x4x8xf16>) {
  // expected-error @+1 {{[C2] k has element type 'f16' but q has 'f32'}}
  %o = seqmix.softmax_attention %q, %k, %q {scale = 1.0 : f32} : (tensor<1x1x4x8xf32>, tensor<1x1x4x8xf16>, tensor<1x1x4x8xf32>) -> tensor<1x1x4x8xf32>
  return
}

// -----

func.func @softmax_c2_float(%q: tensor<1x1x4x8xi32>) {
  // expected-error @+1 {{[C2] q must have a float element type, got 'i32'}}
  %o = seqmix.softmax_attention %q, %q, %q {scale = 1.0 : f32} : (tensor<1x1x4x8xi32>, tensor<1x1x4x8xi32>, tensor<1x1x4x8xi32>) -> tensor<1x1x4x8xi32>
  return
}

// -----

func.func @softmax_c3_batch(%q: tensor<2x1x4x8xf32>, %k: tensor<3x1x4x8xf32>) {
  // expected-error @+1 {{[C3] dimension B is 2 in q but 3 in k}}
  %o = seqmix.softmax_attention %q, %k, %k {scale = 1.0 : f32} : (tensor<2x1x4x8xf32>, tensor<3x1x4x8xf32>, tensor<3x1x4x8xf32>) -> tensor<2x1x4x8xf32>
  return
}

// -----

func.func @softmax_c3_keydim(%q: tensor<1x1x4x8xf32>, %k: tensor<1x1x4x16xf32>) {
  // expected-error @+1 {{[C3] dimension K is 8 in q but 16 in k}}
  %o = seqmix.softmax_attention %q, %k, %q {scale = 1.0 : f32} : (tensor<1x1x4x8xf32>, tensor<1x1x4x16xf32>, tensor<1x1x4x8xf32>) -> tensor<1x1x4x8xf32>
  return
}

// -----

func.func @softmax_c4_heads(%q: tensor<1x6x4x8xf32>, %k: tensor<1x4x4x8xf32>) {
  // expected-error @+1 {{[C4] query heads (6) must be a multiple of kv heads (4)}}
  %o = seqmix.softmax_attention %q, %k, %k {scale = 1.0 : f32} : (tensor<1x6x4x8xf32>, tensor<1x4x4x8xf32>, tensor<1x4x4x8xf32>) -> tensor<1x6x4x8xf32>
  return
}

// -----

func.func @softmax_c1_empty(%q: tensor<1x0x4x8xf32>) {
  // expected-error @+1 {{[C1] dimension 1 (H) of q must be >= 1 (empty tensors are not supported), got 0}}
  %o = seqmix.softmax_attention %q, %q, %q {scale = 1.0 : f32} : (tensor<1x0x4x8xf32>, tensor<1x0x4x8xf32>, tensor<1x0x4x8xf32>) -> tensor<1x0x4x8xf32>
  return
}

// -----

func.func @gla_c1_empty_seq(%q: tensor<?x2x0x8xf32>) {
  // expected-error @+1 {{[C1] dimension 2 (T) of q must be >= 1 (empty tensors are not supported), got 0}}
  %o = seqmix.gated_linear_attention %q, %q, %q {gate = #seqmix.gate<none>, scale = 1.0 : f32} : (tensor<?x2x0x8xf32>, tensor<?x2x0x8xf32>, tensor<?x2x0x8xf32>) -> tensor<?x2x0x8xf32>
  return
}

// -----

func.func @softmax_c5_window(%q: tensor<1x1x4x8xf32>) {
  // expected-error @+1 {{[C5] window must be >= 1, got 0}}
  %o = seqmix.softmax_attention %q, %q, %q {scale = 1.0 : f32, window = 0} : (tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>) -> tensor<1x1x4x8xf32>
  return
}

// -----

func.func @softmax_c6_scale(%q: tensor<1x1x4x8xf32>) {
  // expected-error @+1 {{[C6] scale must be > 0, got -1}}
  %o = seqmix.softmax_attention %q, %q, %q {scale = -1.0 : f32} : (tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>) -> tensor<1x1x4x8xf32>
  return
}

// -----

func.func @softmax_c6_nan(%q: tensor<1x1x4x8xf32>) {
  // expected-error @+1 {{[C6] scale must be finite}}
  %o = seqmix.softmax_attention %q, %q, %q {scale = 0x7FC00000 : f32} : (tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>) -> tensor<1x1x4x8xf32>
  return
}


//===-- form attribute --------------------------------------------------------===//

// -----

func.func @form_chunk_zero(%q: tensor<1x1x4x8xf32>) {
  // expected-error @+1 {{chunked form needs a chunk size >= 1, got 0}}
  %o = seqmix.softmax_attention %q, %q, %q {scale = 1.0 : f32, form = #seqmix.form<chunked>} : (tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>) -> tensor<1x1x4x8xf32>
  return
}

// -----

func.func @form_parallel_chunk(%q: tensor<1x1x4x8xf32>) {
  // expected-error @+1 {{only the chunked form takes a chunk size}}
  %o = seqmix.softmax_attention %q, %q, %q {scale = 1.0 : f32, form = #seqmix.form<parallel, chunk = 8>} : (tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>) -> tensor<1x1x4x8xf32>
  return
}

// -----

func.func @form_unknown(%q: tensor<1x1x4x8xf32>) {
  // expected-error @+2 {{expected ::mlir::seqmix::FormKind to be one of: parallel, chunked, recurrent}}
  // expected-error @+1 {{failed to parse SeqMix_FormAttr parameter 'kind'}}
  %o = seqmix.softmax_attention %q, %q, %q {scale = 1.0 : f32, form = #seqmix.form<tiled>} : (tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>) -> tensor<1x1x4x8xf32>
  return
}

//===-- linear_attention -------------------------------------------------------===//

// -----

func.func @linear_c1_rank(%q: tensor<1x4x8xf32>, %v: tensor<1x1x4x8xf32>) {
  // expected-error @+1 {{[C1] q must be a rank-4 tensor [B, H, T, K]}}
  %o = seqmix.linear_attention %q, %q, %v {feature_map = #seqmix.feature_map<relu>, scale = 1.0 : f32} : (tensor<1x4x8xf32>, tensor<1x4x8xf32>, tensor<1x1x4x8xf32>) -> tensor<1x1x4x8xf32>
  return
}

// -----

func.func @linear_c2_elem(%q: tensor<1x1x4x8xf32>, %v: tensor<1x1x4x8xbf16>) {
  // expected-error @+1 {{[C2] v has element type 'bf16' but q has 'f32'}}
  %o = seqmix.linear_attention %q, %q, %v {feature_map = #seqmix.feature_map<relu>, scale = 1.0 : f32} : (tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xbf16>) -> tensor<1x1x4x8xbf16>
  return
}

// -----

func.func @linear_c3_seq(%q: tensor<1x1x4x8xf32>, %v: tensor<1x1x5x8xf32>) {
  // expected-error @+1 {{[C3] dimension T is 4 in q but 5 in v}}
  %o = seqmix.linear_attention %q, %q, %v {feature_map = #seqmix.feature_map<relu>, scale = 1.0 : f32} : (tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x5x8xf32>) -> tensor<1x1x5x8xf32>
  return
}

// -----

func.func @linear_c4_identity_normalize(%q: tensor<1x1x4x8xf32>) {
  // expected-error @+1 {{[C4] the identity feature map cannot be used with normalize}}
  %o = seqmix.linear_attention %q, %q, %q {feature_map = #seqmix.feature_map<identity>, normalize = true, scale = 1.0 : f32} : (tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>) -> tensor<1x1x4x8xf32>
  return
}

// -----

func.func @linear_c5_eps(%q: tensor<1x1x4x8xf32>) {
  // expected-error @+1 {{[C5] eps must be >= 0, got -1}}
  %o = seqmix.linear_attention %q, %q, %q {feature_map = #seqmix.feature_map<elu1>, normalize = true, eps = -1.0 : f32, scale = 1.0 : f32} : (tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>) -> tensor<1x1x4x8xf32>
  return
}

// -----

func.func @linear_c6_normalized_state(%q: tensor<1x1x4x8xf32>, %s: tensor<1x1x8x8xf32>) {
  // expected-error @+1 {{[C6] dimension 3 (V+1) of initial_state must be 9, got 8}}
  %o = seqmix.linear_attention %q, %q, %q state(%s) {feature_map = #seqmix.feature_map<elu1>, normalize = true, scale = 1.0 : f32} : (tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x8x8xf32>) -> tensor<1x1x4x8xf32>
  return
}

// -----

func.func @linear_c6_taylor_state(%q: tensor<1x1x4x4xf32>, %s: tensor<1x1x4x4xf32>) {
  // expected-error @+1 {{[C6] dimension 2 (K') of initial_state must be 15, got 4}}
  %o = seqmix.linear_attention %q, %q, %q state(%s) {feature_map = #seqmix.feature_map<taylor>, scale = 1.0 : f32} : (tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>) -> tensor<1x1x4x4xf32>
  return
}

// -----

func.func @linear_c6_state_type(%q: tensor<1x1x4x8xf16>, %s: tensor<1x1x8x8xf16>) {
  // expected-error @+1 {{[C6] initial_state must have element type f32, got 'f16'}}
  %o = seqmix.linear_attention %q, %q, %q state(%s) {feature_map = #seqmix.feature_map<relu>, scale = 1.0 : f32} : (tensor<1x1x4x8xf16>, tensor<1x1x4x8xf16>, tensor<1x1x4x8xf16>, tensor<1x1x8x8xf16>) -> tensor<1x1x4x8xf16>
  return
}

// -----

func.func @linear_c7_noncausal_state(%q: tensor<1x1x4x8xf32>, %s: tensor<1x1x8x8xf32>) {
  // expected-error @+1 {{[C7] a state (initial or final) requires causal = true}}
  %o = seqmix.linear_attention %q, %q, %q state(%s) {feature_map = #seqmix.feature_map<relu>, causal = false, scale = 1.0 : f32} : (tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x8x8xf32>) -> tensor<1x1x4x8xf32>
  return
}

// -----

func.func @linear_bad_map(%q: tensor<1x1x4x8xf32>) {
  // expected-error @+2 {{expected ::mlir::seqmix::FeatureMap to be one of: identity, elu1, relu, taylor}}
  // expected-error @+1 {{failed to parse SeqMix_FeatureMapAttr parameter 'value'}}
  %o = seqmix.linear_attention %q, %q, %q {feature_map = #seqmix.feature_map<exp>, scale = 1.0 : f32} : (tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>) -> tensor<1x1x4x8xf32>
  return
}

//===-- gated_linear_attention -------------------------------------------------===//

// -----

func.func @gla_c1_rank(%q: tensor<1x1x4x8xf32>, %v: tensor<1x4x8xf32>) {
  // expected-error @+1 {{[C1] v must be a rank-4 tensor [B, Hv, T, V], got 'tensor<1x4x8xf32>'}}
  %o = seqmix.gated_linear_attention %q, %q, %v {gate = #seqmix.gate<none>, scale = 1.0 : f32} : (tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x4x8xf32>) -> tensor<1x1x4x8xf32>
  return
}

// -----

func.func @gla_c1_result(%q: tensor<1x1x4x8xf32>, %v: tensor<1x1x4x2xf32>) {
  // expected-error @+1 {{[C1] dimension V is 2 in v but 8 in result}}
  %o = seqmix.gated_linear_attention %q, %q, %v {gate = #seqmix.gate<none>, scale = 1.0 : f32} : (tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x2xf32>) -> tensor<1x1x4x8xf32>
  return
}

// -----

func.func @gla_c2_elem(%q: tensor<1x1x4x8xf32>, %k: tensor<1x1x4x8xf64>) {
  // expected-error @+1 {{[C2] k has element type 'f64' but q has 'f32'}}
  %o = seqmix.gated_linear_attention %q, %k, %q {gate = #seqmix.gate<none>, scale = 1.0 : f32} : (tensor<1x1x4x8xf32>, tensor<1x1x4x8xf64>, tensor<1x1x4x8xf32>) -> tensor<1x1x4x8xf32>
  return
}

// -----

func.func @gla_c3_value_heads(%q: tensor<1x2x4x8xf32>, %v: tensor<1x3x4x8xf32>) {
  // expected-error @+1 {{[C3] value heads (3, in v) must be a multiple of heads (2, in q and k)}}
  %o = seqmix.gated_linear_attention %q, %q, %v {gate = #seqmix.gate<none>, scale = 1.0 : f32} : (tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>, tensor<1x3x4x8xf32>) -> tensor<1x3x4x8xf32>
  return
}

// -----

func.func @delta_c4_gate_heads(%q: tensor<1x2x4x8xf32>, %v: tensor<1x4x4x8xf32>, %b: tensor<1x4x4xf32>, %g: tensor<1x2x4xf32>) {
  // expected-error @+1 {{[C4] dimension Hv is 4 in v but 2 in g}}
  %o = seqmix.delta_rule %q, %q, %v, %b gates(%g) {scale = 1.0 : f32} : (tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>, tensor<1x4x4x8xf32>, tensor<1x4x4xf32>, tensor<1x2x4xf32>) -> tensor<1x4x4x8xf32>
  return
}

// -----

func.func @gla_c3_heads(%q: tensor<1x2x4x8xf32>, %k: tensor<1x3x4x8xf32>) {
  // expected-error @+1 {{[C3] dimension H is 2 in q but 3 in k}}
  %o = seqmix.gated_linear_attention %q, %k, %q {gate = #seqmix.gate<none>, scale = 1.0 : f32} : (tensor<1x2x4x8xf32>, tensor<1x3x4x8xf32>, tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32>
  return
}

// -----

func.func @gla_c4_none_with_gate(%q: tensor<1x1x4x8xf32>, %g: tensor<1x1x4xf32>) {
  // expected-error @+1 {{[C4] gate 'none' takes neither a gate operand nor log_decay}}
  %o = seqmix.gated_linear_attention %q, %q, %q gates(%g) {gate = #seqmix.gate<none>, scale = 1.0 : f32} : (tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4xf32>) -> tensor<1x1x4x8xf32>
  return
}

// -----

func.func @gla_c5_missing_decay(%q: tensor<1x1x4x8xf32>) {
  // expected-error @+1 {{[C5] gate 'constant' needs log_decay (one log gate per head)}}
  %o = seqmix.gated_linear_attention %q, %q, %q {gate = #seqmix.gate<constant>, scale = 1.0 : f32} : (tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>) -> tensor<1x1x4x8xf32>
  return
}

// -----

func.func @gla_c5_decay_count(%q: tensor<1x2x4x8xf32>) {
  // expected-error @+1 {{[C5] log_decay has 1 values but there are 2 (value) heads}}
  %o = seqmix.gated_linear_attention %q, %q, %q {gate = #seqmix.gate<constant>, log_decay = array<f32: -0.5>, scale = 1.0 : f32} : (tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32>
  return
}

// -----

func.func @gla_c5_positive_decay(%q: tensor<1x1x4x8xf32>) {
  // expected-error @+1 {{[C5] log_decay[0] must be finite and <= 0 (a decay in (0, 1]), got 5.000000e-01}}
  %o = seqmix.gated_linear_attention %q, %q, %q {gate = #seqmix.gate<constant>, log_decay = array<f32: 0.5>, scale = 1.0 : f32} : (tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>) -> tensor<1x1x4x8xf32>
  return
}

// -----

func.func @gla_c5_constant_with_operand(%q: tensor<1x1x4x8xf32>, %g: tensor<1x1x4xf32>) {
  // expected-error @+1 {{[C5] gate 'constant' takes no gate operand; give log_decay instead}}
  %o = seqmix.gated_linear_attention %q, %q, %q gates(%g) {gate = #seqmix.gate<constant>, log_decay = array<f32: -0.5>, scale = 1.0 : f32} : (tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4xf32>) -> tensor<1x1x4x8xf32>
  return
}

// -----

func.func @gla_c6_missing_gate(%q: tensor<1x1x4x8xf32>) {
  // expected-error @+1 {{[C6] gate 'scalar' needs a gate operand g}}
  %o = seqmix.gated_linear_attention %q, %q, %q {gate = #seqmix.gate<scalar>, scale = 1.0 : f32} : (tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>) -> tensor<1x1x4x8xf32>
  return
}

// -----

func.func @gla_c6_scalar_shape(%q: tensor<1x1x4x8xf32>, %g: tensor<1x1x4x8xf32>) {
  // expected-error @+1 {{[C6] g must be a rank-3 tensor [B, Hv, T], got 'tensor<1x1x4x8xf32>'}}
  %o = seqmix.gated_linear_attention %q, %q, %q gates(%g) {gate = #seqmix.gate<scalar>, scale = 1.0 : f32} : (tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>) -> tensor<1x1x4x8xf32>
  return
}

// -----

func.func @gla_c6_vector_shape(%q: tensor<1x1x4x8xf32>, %g: tensor<1x1x4x2xf32>) {
  // expected-error @+1 {{[C6] dimension K is 8 in q but 2 in g}}
  %o = seqmix.gated_linear_attention %q, %q, %q gates(%g) {gate = #seqmix.gate<vector>, scale = 1.0 : f32} : (tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x2xf32>) -> tensor<1x1x4x8xf32>
  return
}

// -----

func.func @gla_c6_gate_type(%q: tensor<1x1x4x8xf16>, %g: tensor<1x1x4xf16>) {
  // expected-error @+1 {{[C6] g (log gates) must have element type f32, got 'f16'}}
  %o = seqmix.gated_linear_attention %q, %q, %q gates(%g) {gate = #seqmix.gate<scalar>, scale = 1.0 : f32} : (tensor<1x1x4x8xf16>, tensor<1x1x4x8xf16>, tensor<1x1x4x8xf16>, tensor<1x1x4xf16>) -> tensor<1x1x4x8xf16>
  return
}

// -----

func.func @gla_c6_decay_on_scalar(%q: tensor<1x1x4x8xf32>, %g: tensor<1x1x4xf32>) {
  // expected-error @+1 {{[C6] gate 'scalar' takes no log_decay}}
  %o = seqmix.gated_linear_attention %q, %q, %q gates(%g) {gate = #seqmix.gate<scalar>, log_decay = array<f32: -1.0>, scale = 1.0 : f32} : (tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4xf32>) -> tensor<1x1x4x8xf32>
  return
}

// -----

func.func @gla_c7_state_shape(%q: tensor<1x1x4x8xf32>, %v: tensor<1x1x4x2xf32>) {
  // expected-error @+1 {{[C7] dimension V is 2 in v but 8 in final_state}}
  %o, %f = seqmix.gated_linear_attention %q, %q, %v {gate = #seqmix.gate<none>, scale = 1.0 : f32} : (tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x2xf32>) -> (tensor<1x1x4x2xf32>, tensor<1x1x8x8xf32>)
  return
}

// -----

func.func @gla_c7_state_type(%q: tensor<1x1x4x8xf32>, %s: tensor<1x1x8x8xf64>) {
  // expected-error @+1 {{[C7] initial_state must have element type f32, got 'f64'}}
  %o = seqmix.gated_linear_attention %q, %q, %q state(%s) {gate = #seqmix.gate<none>, scale = 1.0 : f32} : (tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x8x8xf64>) -> tensor<1x1x4x8xf32>
  return
}

// -----

func.func @gla_c8_scale(%q: tensor<1x1x4x8xf32>) {
  // expected-error @+1 {{[C8] scale must be finite}}
  %o = seqmix.gated_linear_attention %q, %q, %q {gate = #seqmix.gate<none>, scale = 0x7F800000 : f32} : (tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>) -> tensor<1x1x4x8xf32>
  return
}

// -----

func.func @gla_bad_gate(%q: tensor<1x1x4x8xf32>) {
  // expected-error @+2 {{expected ::mlir::seqmix::GateKind to be one of: none, constant, scalar, vector}}
  // expected-error @+1 {{failed to parse SeqMix_GateKindAttr parameter 'value'}}
  %o = seqmix.gated_linear_attention %q, %q, %q {gate = #seqmix.gate<matrix>, scale = 1.0 : f32} : (tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>) -> tensor<1x1x4x8xf32>
  return
}

//===-- delta_rule ---------------------------------------------------------------===//

// -----

func.func @delta_c1_beta(%q: tensor<1x1x4x8xf32>, %b: tensor<1x1x4x8xf32>) {
  // expected-error @+1 {{[C1] beta must be a rank-3 tensor [B, Hv, T]}}
  %o = seqmix.delta_rule %q, %q, %q, %b {scale = 1.0 : f32} : (tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>) -> tensor<1x1x4x8xf32>
  return
}

// -----

func.func @delta_c2_elem(%q: tensor<1x1x4x8xf32>, %b: tensor<1x1x4xf16>) {
  // expected-error @+1 {{[C2] beta has element type 'f16' but q has 'f32'}}
  %o = seqmix.delta_rule %q, %q, %q, %b {scale = 1.0 : f32} : (tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4xf16>) -> tensor<1x1x4x8xf32>
  return
}

// -----

func.func @delta_c3_seq(%q: tensor<1x1x4x8xf32>, %b: tensor<1x1x5xf32>) {
  // expected-error @+1 {{[C3] dimension T is 4 in q but 5 in beta}}
  %o = seqmix.delta_rule %q, %q, %q, %b {scale = 1.0 : f32} : (tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x5xf32>) -> tensor<1x1x4x8xf32>
  return
}

// -----

func.func @delta_c4_gate(%q: tensor<1x1x4x8xf32>, %b: tensor<1x1x4xf32>, %g: tensor<1x1x4x8xf32>) {
  // expected-error @+1 {{[C4] g must be a rank-3 tensor [B, Hv, T]}}
  %o = seqmix.delta_rule %q, %q, %q, %b gates(%g) {scale = 1.0 : f32} : (tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4xf32>, tensor<1x1x4x8xf32>) -> tensor<1x1x4x8xf32>
  return
}

// -----

func.func @delta_c5_state(%q: tensor<1x1x4x8xf32>, %b: tensor<1x1x4xf32>, %s: tensor<1x1x8x4xf32>) {
  // expected-error @+1 {{[C5] dimension V is 8 in v but 4 in initial_state}}
  %o = seqmix.delta_rule %q, %q, %q, %b state(%s) {scale = 1.0 : f32} : (tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4xf32>, tensor<1x1x8x4xf32>) -> tensor<1x1x4x8xf32>
  return
}

// -----

func.func @delta_c6_eps(%q: tensor<1x1x4x8xf32>, %b: tensor<1x1x4xf32>) {
  // expected-error @+1 {{[C6] eps must be > 0, got 0}}
  %o = seqmix.delta_rule %q, %q, %q, %b {scale = 1.0 : f32, eps = 0.0 : f32} : (tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4xf32>) -> tensor<1x1x4x8xf32>
  return
}

//===-- selective_scan ------------------------------------------------------------===//

// -----

func.func @mamba_c1_A(%u: tensor<1x8x4xf32>, %A: tensor<8xf32>, %B: tensor<1x1x4x4xf32>) {
  // expected-error @+1 {{[C1] A must be a rank-2 tensor [D, N], got 'tensor<8xf32>'}}
  %o = seqmix.selective_scan %u, %u, %A, %B, %B : (tensor<1x8x4xf32>, tensor<1x8x4xf32>, tensor<8xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>) -> tensor<1x8x4xf32>
  return
}

// -----

func.func @mamba_c2_A_type(%u: tensor<1x8x4xf16>, %A: tensor<8x4xf16>, %B: tensor<1x1x4x4xf16>) {
  // expected-error @+1 {{[C2] A must have element type f32, got 'f16'}}
  %o = seqmix.selective_scan %u, %u, %A, %B, %B : (tensor<1x8x4xf16>, tensor<1x8x4xf16>, tensor<8x4xf16>, tensor<1x1x4x4xf16>, tensor<1x1x4x4xf16>) -> tensor<1x8x4xf16>
  return
}

// -----

func.func @mamba_c3_state_dim(%u: tensor<1x8x4xf32>, %A: tensor<8x4xf32>, %B: tensor<1x1x5x4xf32>) {
  // expected-error @+1 {{[C3] dimension N is 4 in A but 5 in B}}
  %o = seqmix.selective_scan %u, %u, %A, %B, %B : (tensor<1x8x4xf32>, tensor<1x8x4xf32>, tensor<8x4xf32>, tensor<1x1x5x4xf32>, tensor<1x1x5x4xf32>) -> tensor<1x8x4xf32>
  return
}

// -----

func.func @mamba_c4_groups(%u: tensor<1x8x4xf32>, %A: tensor<8x4xf32>, %B: tensor<1x3x4x4xf32>) {
  // expected-error @+1 {{[C4] channels (8) must be a multiple of groups (3)}}
  %o = seqmix.selective_scan %u, %u, %A, %B, %B : (tensor<1x8x4xf32>, tensor<1x8x4xf32>, tensor<8x4xf32>, tensor<1x3x4x4xf32>, tensor<1x3x4x4xf32>) -> tensor<1x8x4xf32>
  return
}

// -----

func.func @mamba_c5_state(%u: tensor<1x8x4xf32>, %A: tensor<8x4xf32>, %B: tensor<1x1x4x4xf32>, %s: tensor<1x8x5xf32>) {
  // expected-error @+1 {{[C5] dimension N is 4 in A but 5 in initial_state}}
  %o = seqmix.selective_scan %u, %u, %A, %B, %B state(%s) : (tensor<1x8x4xf32>, tensor<1x8x4xf32>, tensor<8x4xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x8x5xf32>) -> tensor<1x8x4xf32>
  return
}

//===-- lti_scan ---------------------------------------------------------------------===//

// -----

func.func @lti_c1_dt(%u: tensor<1x4x5xf32>, %A: tensor<4x8xf32>, %dt: tensor<4x1xf32>) {
  // expected-error @+1 {{[C1] log_dt must be a rank-1 tensor [H]}}
  %o = seqmix.lti_scan %u, %A, %A, %A, %dt {discretization = #seqmix.discretization<zoh>} : (tensor<1x4x5xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x1xf32>) -> tensor<1x4x5xf32>
  return
}

// -----

func.func @lti_c2_mixed_modes(%u: tensor<1x4x5xf32>, %A: tensor<4x8xf32>, %C: tensor<4x8xcomplex<f32>>, %dt: tensor<4xf32>) {
  // expected-error @+1 {{[C2] C has element type 'complex<f32>' but A has 'f32'}}
  %o = seqmix.lti_scan %u, %A, %A, %C, %dt {discretization = #seqmix.discretization<zoh>} : (tensor<1x4x5xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xcomplex<f32>>, tensor<4xf32>) -> tensor<1x4x5xf32>
  return
}

// -----

func.func @lti_c2_mode_type(%u: tensor<1x4x5xf32>, %A: tensor<4x8xf64>, %dt: tensor<4xf32>) {
  // expected-error @+1 {{[C2] A must have element type f32 (real mode) or complex<f32> (complex mode), got 'f64'}}
  %o = seqmix.lti_scan %u, %A, %A, %A, %dt {discretization = #seqmix.discretization<zoh>} : (tensor<1x4x5xf32>, tensor<4x8xf64>, tensor<4x8xf64>, tensor<4x8xf64>, tensor<4xf32>) -> tensor<1x4x5xf32>
  return
}

// -----

func.func @lti_c3_channels(%u: tensor<1x4x5xf32>, %A: tensor<3x8xf32>, %dt: tensor<4xf32>) {
  // expected-error @+1 {{[C3] dimension H is 4 in u but 3 in A}}
  %o = seqmix.lti_scan %u, %A, %A, %A, %dt {discretization = #seqmix.discretization<zoh>} : (tensor<1x4x5xf32>, tensor<3x8xf32>, tensor<3x8xf32>, tensor<3x8xf32>, tensor<4xf32>) -> tensor<1x4x5xf32>
  return
}

// -----

func.func @lti_c4_state_type(%u: tensor<1x4x5xf32>, %A: tensor<4x8xcomplex<f32>>, %dt: tensor<4xf32>, %s: tensor<1x4x8xf32>) {
  // expected-error @+1 {{[C4] initial_state must have element type 'complex<f32>', got 'f32'}}
  %o = seqmix.lti_scan %u, %A, %A, %A, %dt state(%s) {discretization = #seqmix.discretization<zoh>} : (tensor<1x4x5xf32>, tensor<4x8xcomplex<f32>>, tensor<4x8xcomplex<f32>>, tensor<4x8xcomplex<f32>>, tensor<4xf32>, tensor<1x4x8xf32>) -> tensor<1x4x5xf32>
  return
}

//===-- causal_conv1d -------------------------------------------------------===//

// -----

func.func @conv_c1_weight(%x: tensor<1x8x5xf32>, %w: tensor<8xf32>) {
  // expected-error @+1 {{[C1] weight must be a rank-2 tensor [D, W], got 'tensor<8xf32>'}}
  %o = seqmix.causal_conv1d %x, %w : (tensor<1x8x5xf32>, tensor<8xf32>) -> tensor<1x8x5xf32>
  return
}

// -----

func.func @conv_c3_channels(%x: tensor<1x8x5xf32>, %w: tensor<6x4xf32>) {
  // expected-error @+1 {{[C3] dimension D is 8 in x but 6 in weight}}
  %o = seqmix.causal_conv1d %x, %w : (tensor<1x8x5xf32>, tensor<6x4xf32>) -> tensor<1x8x5xf32>
  return
}

// -----

func.func @conv_c2_bias(%x: tensor<1x8x5xf32>, %w: tensor<8x4xf32>, %b: tensor<8xf16>) {
  // expected-error @+1 {{[C2] bias has element type 'f16' but x has 'f32'}}
  %o = seqmix.causal_conv1d %x, %w bias(%b) : (tensor<1x8x5xf32>, tensor<8x4xf32>, tensor<8xf16>) -> tensor<1x8x5xf32>
  return
}

// -----

func.func @conv_c4_width(%x: tensor<1x8x5xf32>, %w: tensor<8x?xf32>) {
  // expected-error @+1 {{[C4] the width W (dimension 1 of weight) must be static}}
  %o = seqmix.causal_conv1d %x, %w : (tensor<1x8x5xf32>, tensor<8x?xf32>) -> tensor<1x8x5xf32>
  return
}

// -----

func.func @conv_c5_state(%x: tensor<1x8x5xf32>, %w: tensor<8x4xf32>, %s: tensor<1x8x4xf32>) {
  // expected-error @+1 {{[C5] dimension 2 (W - 1) of initial_state must be 3, got 4}}
  %o = seqmix.causal_conv1d %x, %w state(%s) : (tensor<1x8x5xf32>, tensor<8x4xf32>, tensor<1x8x4xf32>) -> tensor<1x8x5xf32>
  return
}

// -----

func.func @conv_c5_width1(%x: tensor<1x8x5xf32>, %w: tensor<8x1xf32>) {
  // expected-error @+1 {{[C5] a convolution of width 1 has no state (W - 1 = 0 inputs)}}
  %o, %f = seqmix.causal_conv1d %x, %w : (tensor<1x8x5xf32>, tensor<8x1xf32>) -> (tensor<1x8x5xf32>, tensor<1x8x1xf32>)
  return
}
