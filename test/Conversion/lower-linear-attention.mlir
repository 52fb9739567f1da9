// RUN: seqmix-opt %s -split-input-file --seqmix-lower-forms | FileCheck %s --enable-var-scope

// Recurrent form, elu1 with the normalizer and a final state: one token
// loop per (batch, head) slice carries the [K, V + 1] state (the value row
// augmented by a one: the last column is z); the feature map is taken of
// each token's rows inside the loop; each output row is divided by its last
// column plus eps.
// CHECK-LABEL: func @elu1_normalized
// CHECK: scf.forall (%{{.*}}, %{{.*}}) in (%{{.*}}, 2) shared_outs(%{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}) -> (tensor<2x2x?x6xf32>, tensor<2x2x4x7xf32>)
// CHECK: %[[LOOP:.*]]:2 = scf.for {{.*}} -> (tensor<4x7xf32>, tensor<?x6xf32>)
// CHECK: math.exp
// CHECK: arith.select
// CHECK: linalg.generic {{.*}} outs(%{{.*}} : tensor<4x7xf32>)
// CHECK: arith.divf
// CHECK-NOT: seqmix.linear_attention
func.func @elu1_normalized(%q: tensor<2x2x?x4xf32>, %v: tensor<2x2x?x6xf32>) -> (tensor<2x2x?x6xf32>, tensor<2x2x4x7xf32>) {
  %o, %s = seqmix.linear_attention %q, %q, %v {feature_map = #seqmix.feature_map<elu1>, scale = 1.0 : f32, normalize = true, form = #seqmix.form<recurrent>} : (tensor<2x2x?x4xf32>, tensor<2x2x?x4xf32>, tensor<2x2x?x6xf32>) -> (tensor<2x2x?x6xf32>, tensor<2x2x4x7xf32>)
  return %o, %s : tensor<2x2x?x6xf32>, tensor<2x2x4x7xf32>
}

// -----

// Taylor (Based), K = 3: K' = 1 + 3 + 6 = 10 features, each c_p x'[i_p]
// x'[j_p] over x' = [1, x], from constant index and coefficient tables.
// CHECK-LABEL: func @taylor
// CHECK: scf.for {{.*}} -> (tensor<10x5xf32>, tensor<?x5xf32>)
// CHECK: arith.constant dense<[0, 1, 2, 3, 1, 2, 3, 1, 1, 2]> : tensor<10xindex>
// CHECK: arith.constant dense<[0, 0, 0, 0, 1, 2, 3, 2, 3, 3]> : tensor<10xindex>
// CHECK: tensor.extract
func.func @taylor(%q: tensor<1x1x?x3xf32>, %v: tensor<1x1x?x5xf32>) -> tensor<1x1x?x5xf32> {
  %o = seqmix.linear_attention %q, %q, %v {feature_map = #seqmix.feature_map<taylor>, scale = 1.0 : f32, form = #seqmix.form<recurrent>} : (tensor<1x1x?x3xf32>, tensor<1x1x?x3xf32>, tensor<1x1x?x5xf32>) -> tensor<1x1x?x5xf32>
  return %o : tensor<1x1x?x5xf32>
}

// -----

// Non-causal: the state of the whole sequence first, then every row.
// CHECK-LABEL: func @noncausal
// CHECK: %[[S:.*]] = scf.for {{.*}} -> (tensor<4x6xf32>)
// CHECK: scf.for {{.*}} -> (tensor<?x6xf32>)
// CHECK: linalg.generic {{.*}} ins(%[[S]], %{{.*}} : tensor<4x6xf32>, tensor<4xf32>)
func.func @noncausal(%q: tensor<1x2x?x4xf32>, %v: tensor<1x2x?x6xf32>) -> tensor<1x2x?x6xf32> {
  %o = seqmix.linear_attention %q, %q, %v {feature_map = #seqmix.feature_map<relu>, scale = 1.0 : f32, causal = false, form = #seqmix.form<recurrent>} : (tensor<1x2x?x4xf32>, tensor<1x2x?x4xf32>, tensor<1x2x?x6xf32>) -> tensor<1x2x?x6xf32>
  return %o : tensor<1x2x?x6xf32>
}

// -----

// Based's Taylor map in the chunked form: the intra scores come from the raw
// rows (a contraction over d = 3, transposed keys [3, 16]) as
// 1 + s + s^2/2 with s = q.k / sqrt(3); the 10 feature columns (K' = 1 + 3 +
// 6) carry the inter term and the state update only.
// CHECK-LABEL: func @taylor_chunked
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c16
// CHECK: linalg.transpose ins(%{{.*}} : tensor<16x3xf32>) outs(%{{.*}} : tensor<3x16xf32>)
// CHECK: arith.constant 0.577350259 : f32
// CHECK: arith.constant 5.000000e-01 : f32
// CHECK: linalg.matmul ins(%{{.*}}, %{{.*}} : tensor<16x10xf32>, tensor<10x6xf32>)
func.func @taylor_chunked(%q: tensor<1x1x?x3xf32>, %v: tensor<1x1x?x5xf32>) -> tensor<1x1x?x5xf32> {
  %o = seqmix.linear_attention %q, %q, %v {feature_map = #seqmix.feature_map<taylor>, normalize = true, scale = 1.0 : f32, form = #seqmix.form<chunked, chunk = 16>} : (tensor<1x1x?x3xf32>, tensor<1x1x?x3xf32>, tensor<1x1x?x5xf32>) -> tensor<1x1x?x5xf32>
  return %o : tensor<1x1x?x5xf32>
}
