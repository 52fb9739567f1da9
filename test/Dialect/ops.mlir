// RUN: seqmix-opt %s | FileCheck --enable-var-scope %s
// RUN: seqmix-opt %s | seqmix-opt | FileCheck --enable-var-scope %s
// RUN: seqmix-opt %s --mlir-print-op-generic | seqmix-opt | FileCheck --enable-var-scope %s

// CHECK-LABEL: func @softmax
func.func @softmax(%q: tensor<?x8x?x64xf32>, %k: tensor<?x2x?x64xf32>, %v: tensor<?x2x?x32xf32>) -> tensor<?x8x?x32xf32> {
  // CHECK: seqmix.softmax_attention %{{.*}}, %{{.*}}, %{{.*}} {form = #seqmix.form<chunked, chunk = 64>, scale = 1.250000e-01 : f32, window = 128 : i64}
  %o = seqmix.softmax_attention %q, %k, %v {scale = 0.125 : f32, window = 128, form = #seqmix.form<chunked, chunk = 64>}
      : (tensor<?x8x?x64xf32>, tensor<?x2x?x64xf32>, tensor<?x2x?x32xf32>) -> tensor<?x8x?x32xf32>
  return %o : tensor<?x8x?x32xf32>
}

// CHECK-LABEL: func @softmax_noncausal
func.func @softmax_noncausal(%q: tensor<1x1x4x8xf32>) -> tensor<1x1x4x8xf32> {
  // CHECK: seqmix.softmax_attention {{.*}} {causal = false, scale = 1.000000e+00 : f32}
  %o = seqmix.softmax_attention %q, %q, %q {causal = false, scale = 1.0 : f32}
      : (tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>) -> tensor<1x1x4x8xf32>
  return %o : tensor<1x1x4x8xf32>
}

// CHECK-LABEL: func @softmax_lse
func.func @softmax_lse(%q: tensor<?x4x?x8xf32>, %k: tensor<?x1x?x8xf32>) -> (tensor<?x4x?x8xf32>, tensor<?x4x?xf32>) {
  // CHECK: %{{.*}}, %{{.*}} = seqmix.softmax_attention {{.*}} : (tensor<?x4x?x8xf32>, tensor<?x1x?x8xf32>, tensor<?x1x?x8xf32>) -> (tensor<?x4x?x8xf32>, tensor<?x4x?xf32>)
  %o, %lse = seqmix.softmax_attention %q, %k, %k {scale = 1.0 : f32}
      : (tensor<?x4x?x8xf32>, tensor<?x1x?x8xf32>, tensor<?x1x?x8xf32>) -> (tensor<?x4x?x8xf32>, tensor<?x4x?xf32>)
  return %o, %lse : tensor<?x4x?x8xf32>, tensor<?x4x?xf32>
}

// CHECK-LABEL: func @linear
func.func @linear(%q: tensor<2x4x?x16xf32>, %v: tensor<2x4x?x32xf32>, %s: tensor<2x4x16x33xf32>)
    -> (tensor<2x4x?x32xf32>, tensor<2x4x16x33xf32>) {
  // CHECK: %{{.*}}, %{{.*}} = seqmix.linear_attention %{{.*}}, %{{.*}}, %{{.*}} state(%{{.*}}) {feature_map = #seqmix.feature_map<elu1>, normalize = true, scale = 1.000000e+00 : f32}
  %o, %f = seqmix.linear_attention %q, %q, %v state(%s) {feature_map = #seqmix.feature_map<elu1>, normalize = true, scale = 1.0 : f32}
      : (tensor<2x4x?x16xf32>, tensor<2x4x?x16xf32>, tensor<2x4x?x32xf32>, tensor<2x4x16x33xf32>)
      -> (tensor<2x4x?x32xf32>, tensor<2x4x16x33xf32>)
  return %o, %f : tensor<2x4x?x32xf32>, tensor<2x4x16x33xf32>
}

// CHECK-LABEL: func @linear_taylor
func.func @linear_taylor(%q: tensor<1x1x?x4xf32>, %v: tensor<1x1x?x8xf32>) -> (tensor<1x1x?x8xf32>, tensor<1x1x15x8xf32>) {
  // CHECK: seqmix.linear_attention {{.*}}feature_map = #seqmix.feature_map<taylor>
  %o, %f = seqmix.linear_attention %q, %q, %v {feature_map = #seqmix.feature_map<taylor>, scale = 1.0 : f32}
      : (tensor<1x1x?x4xf32>, tensor<1x1x?x4xf32>, tensor<1x1x?x8xf32>) -> (tensor<1x1x?x8xf32>, tensor<1x1x15x8xf32>)
  return %o, %f : tensor<1x1x?x8xf32>, tensor<1x1x15x8xf32>
}

// CHECK-LABEL: func @gla_none
func.func @gla_none(%q: tensor<?x2x?x8xf32>, %v: tensor<?x2x?x4xf32>) -> tensor<?x2x?x4xf32> {
  // CHECK: seqmix.gated_linear_attention %{{.*}}, %{{.*}}, %{{.*}} {form = #seqmix.form<parallel>, gate = #seqmix.gate<none>, scale = 5.000000e-01 : f32}
  %o = seqmix.gated_linear_attention %q, %q, %v {gate = #seqmix.gate<none>, scale = 0.5 : f32, form = #seqmix.form<parallel>}
      : (tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>, tensor<?x2x?x4xf32>) -> tensor<?x2x?x4xf32>
  return %o : tensor<?x2x?x4xf32>
}

// CHECK-LABEL: func @gla_constant
func.func @gla_constant(%q: tensor<?x2x?x8xf32>, %v: tensor<?x2x?x4xf32>) -> (tensor<?x2x?x4xf32>, tensor<?x2x8x4xf32>) {
  // CHECK: seqmix.gated_linear_attention {{.*}} {form = #seqmix.form<recurrent>, gate = #seqmix.gate<constant>, log_decay = array<f32: -5.000000e-01, -2.500000e-01>
  %o, %f = seqmix.gated_linear_attention %q, %q, %v {gate = #seqmix.gate<constant>, log_decay = array<f32: -0.5, -0.25>, scale = 0.5 : f32, form = #seqmix.form<recurrent>}
      : (tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>, tensor<?x2x?x4xf32>) -> (tensor<?x2x?x4xf32>, tensor<?x2x8x4xf32>)
  return %o, %f : tensor<?x2x?x4xf32>, tensor<?x2x8x4xf32>
}

// CHECK-LABEL: func @gla_scalar
func.func @gla_scalar(%q: tensor<?x2x?x8xf32>, %v: tensor<?x2x?x4xf32>, %g: tensor<?x2x?xf32>, %s: tensor<?x2x8x4xf32>) -> (tensor<?x2x?x4xf32>, tensor<?x2x8x4xf32>) {
  // CHECK: seqmix.gated_linear_attention %{{.*}}, %{{.*}}, %{{.*}} gates(%{{.*}}) state(%{{.*}}) {gate = #seqmix.gate<scalar>
  %o, %f = seqmix.gated_linear_attention %q, %q, %v gates(%g) state(%s) {gate = #seqmix.gate<scalar>, scale = 1.0 : f32}
      : (tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?xf32>, tensor<?x2x8x4xf32>) -> (tensor<?x2x?x4xf32>, tensor<?x2x8x4xf32>)
  return %o, %f : tensor<?x2x?x4xf32>, tensor<?x2x8x4xf32>
}

// CHECK-LABEL: func @gla_vector
func.func @gla_vector(%q: tensor<1x2x5x8xf32>, %v: tensor<1x2x5x4xf32>, %g: tensor<1x2x5x8xf32>, %s: tensor<1x2x8x4xf32>) -> tensor<1x2x5x4xf32> {
  // CHECK: seqmix.gated_linear_attention {{.*}} gates(%{{.*}}) state(%{{.*}}) {gate = #seqmix.gate<vector>
  %o = seqmix.gated_linear_attention %q, %q, %v gates(%g) state(%s) {gate = #seqmix.gate<vector>, scale = 1.0 : f32}
      : (tensor<1x2x5x8xf32>, tensor<1x2x5x8xf32>, tensor<1x2x5x4xf32>, tensor<1x2x5x8xf32>, tensor<1x2x8x4xf32>) -> tensor<1x2x5x4xf32>
  return %o : tensor<1x2x5x4xf32>
}

// CHECK-LABEL: func @delta
func.func @delta(%q: tensor<?x2x?x8xf32>, %v: tensor<?x2x?x4xf32>, %b: tensor<?x2x?xf32>, %g: tensor<?x2x?xf32>, %s: tensor<?x2x8x4xf32>) -> (tensor<?x2x?x4xf32>, tensor<?x2x8x4xf32>) {
  // CHECK: seqmix.delta_rule %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} gates(%{{.*}}) state(%{{.*}}) {l2norm_qk = false, scale = 1.000000e+00 : f32}
  %o, %f = seqmix.delta_rule %q, %q, %v, %b gates(%g) state(%s) {scale = 1.0 : f32, l2norm_qk = false}
      : (tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?xf32>, tensor<?x2x?xf32>, tensor<?x2x8x4xf32>) -> (tensor<?x2x?x4xf32>, tensor<?x2x8x4xf32>)
  return %o, %f : tensor<?x2x?x4xf32>, tensor<?x2x8x4xf32>
}

// CHECK-LABEL: func @delta_plain
func.func @delta_plain(%q: tensor<1x1x3x2xf32>, %v: tensor<1x1x3x1xf32>, %b: tensor<1x1x3xf32>) -> tensor<1x1x3x1xf32> {
  // CHECK: seqmix.delta_rule %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} {scale = 1.000000e+00 : f32}
  %o = seqmix.delta_rule %q, %q, %v, %b {scale = 1.0 : f32}
      : (tensor<1x1x3x2xf32>, tensor<1x1x3x2xf32>, tensor<1x1x3x1xf32>, tensor<1x1x3xf32>) -> tensor<1x1x3x1xf32>
  return %o : tensor<1x1x3x1xf32>
}

// CHECK-LABEL: func @mamba
func.func @mamba(%u: tensor<?x8x?xf32>, %A: tensor<8x4xf32>, %B: tensor<?x2x4x?xf32>, %D: tensor<8xf32>, %s: tensor<?x8x4xf32>) -> (tensor<?x8x?xf32>, tensor<?x8x4xf32>) {
  // CHECK: seqmix.selective_scan %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} skip(%{{.*}}) gate(%{{.*}}) delta_bias(%{{.*}}) state(%{{.*}}) {delta_softplus = false}
  %o, %f = seqmix.selective_scan %u, %u, %A, %B, %B skip(%D) gate(%u) delta_bias(%D) state(%s) {delta_softplus = false}
      : (tensor<?x8x?xf32>, tensor<?x8x?xf32>, tensor<8x4xf32>, tensor<?x2x4x?xf32>, tensor<?x2x4x?xf32>, tensor<8xf32>, tensor<?x8x?xf32>, tensor<8xf32>, tensor<?x8x4xf32>) -> (tensor<?x8x?xf32>, tensor<?x8x4xf32>)
  return %o, %f : tensor<?x8x?xf32>, tensor<?x8x4xf32>
}

// CHECK-LABEL: func @mamba_minimal
func.func @mamba_minimal(%u: tensor<1x2x3xf32>, %A: tensor<2x4xf32>, %B: tensor<1x1x4x3xf32>) -> tensor<1x2x3xf32> {
  // CHECK: seqmix.selective_scan %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} :
  %o = seqmix.selective_scan %u, %u, %A, %B, %B
      : (tensor<1x2x3xf32>, tensor<1x2x3xf32>, tensor<2x4xf32>, tensor<1x1x4x3xf32>, tensor<1x1x4x3xf32>) -> tensor<1x2x3xf32>
  return %o : tensor<1x2x3xf32>
}

// CHECK-LABEL: func @lti_complex
func.func @lti_complex(%u: tensor<?x4x?xf32>, %A: tensor<4x8xcomplex<f32>>, %dt: tensor<4xf32>, %s: tensor<?x4x8xcomplex<f32>>) -> (tensor<?x4x?xf32>, tensor<?x4x8xcomplex<f32>>) {
  // CHECK: seqmix.lti_scan %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} skip(%{{.*}}) state(%{{.*}}) {discretization = #seqmix.discretization<bilinear>, form = #seqmix.form<recurrent>}
  %o, %f = seqmix.lti_scan %u, %A, %A, %A, %dt skip(%dt) state(%s) {discretization = #seqmix.discretization<bilinear>, form = #seqmix.form<recurrent>}
      : (tensor<?x4x?xf32>, tensor<4x8xcomplex<f32>>, tensor<4x8xcomplex<f32>>, tensor<4x8xcomplex<f32>>, tensor<4xf32>, tensor<4xf32>, tensor<?x4x8xcomplex<f32>>) -> (tensor<?x4x?xf32>, tensor<?x4x8xcomplex<f32>>)
  return %o, %f : tensor<?x4x?xf32>, tensor<?x4x8xcomplex<f32>>
}

// CHECK-LABEL: func @conv
func.func @conv(%x: tensor<?x4x?xf32>, %w: tensor<4x3xf32>, %b: tensor<4xf32>, %s: tensor<?x4x2xf32>) -> (tensor<?x4x?xf32>, tensor<?x4x2xf32>) {
  // CHECK: seqmix.causal_conv1d %{{.*}}, %{{.*}} bias(%{{.*}}) state(%{{.*}}) {silu = true}
  %o, %f = seqmix.causal_conv1d %x, %w bias(%b) state(%s) {silu = true}
      : (tensor<?x4x?xf32>, tensor<4x3xf32>, tensor<4xf32>, tensor<?x4x2xf32>) -> (tensor<?x4x?xf32>, tensor<?x4x2xf32>)
  return %o, %f : tensor<?x4x?xf32>, tensor<?x4x2xf32>
}

// CHECK-LABEL: func @lti_real
func.func @lti_real(%u: tensor<1x4x5xf32>, %A: tensor<4x8xf32>, %dt: tensor<4xf32>) -> tensor<1x4x5xf32> {
  // CHECK: seqmix.lti_scan {{.*}} {discretization = #seqmix.discretization<zoh>}
  %o = seqmix.lti_scan %u, %A, %A, %A, %dt {discretization = #seqmix.discretization<zoh>}
      : (tensor<1x4x5xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<4xf32>) -> tensor<1x4x5xf32>
  return %o : tensor<1x4x5xf32>
}
