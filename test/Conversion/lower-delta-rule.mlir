// RUN: seqmix-opt %s -split-input-file --seqmix-lower-forms | FileCheck %s --enable-var-scope

// Gated delta rule, recurrent form, with in-kernel L2 normalization and a
// final state: one token loop per (batch, head) slice carries S [K, V]; per
// token q and k are scaled by rsqrt(|x|^2 + eps), S decays by exp(g_t), the
// correction u = beta (v - S^T k) is written as S += k u^T, and the output
// row is S^T (scale q).
// CHECK-LABEL: func @gated
// CHECK: scf.forall (%{{.*}}, %{{.*}}) in (%{{.*}}, 2) shared_outs(%{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}) -> (tensor<1x2x?x6xf32>, tensor<1x2x4x6xf32>)
// CHECK: scf.for {{.*}} -> (tensor<4x6xf32>, tensor<?x6xf32>)
// CHECK: math.rsqrt
// CHECK: math.rsqrt
// CHECK: math.exp
// CHECK: arith.subf
// CHECK-NOT: seqmix.delta_rule
func.func @gated(%q: tensor<1x2x?x4xf32>, %v: tensor<1x2x?x6xf32>, %b: tensor<1x2x?xf32>) -> (tensor<1x2x?x6xf32>, tensor<1x2x4x6xf32>) {
  %o, %s = seqmix.delta_rule %q, %q, %v, %b gates(%b) {scale = 0.5 : f32, form = #seqmix.form<recurrent>} : (tensor<1x2x?x4xf32>, tensor<1x2x?x4xf32>, tensor<1x2x?x6xf32>, tensor<1x2x?xf32>, tensor<1x2x?xf32>) -> (tensor<1x2x?x6xf32>, tensor<1x2x4x6xf32>)
  return %o, %s : tensor<1x2x?x6xf32>, tensor<1x2x4x6xf32>
}

// -----

// Without the normalization and the gate: no rsqrt, no exp.
// CHECK-LABEL: func @plain
// CHECK: scf.for
// CHECK-NOT: math.rsqrt
// CHECK-NOT: math.exp
// CHECK: return
func.func @plain(%q: tensor<1x1x?x4xf32>, %b: tensor<1x1x?xf32>) -> tensor<1x1x?x4xf32> {
  %o = seqmix.delta_rule %q, %q, %q, %b {scale = 1.0 : f32, l2norm_qk = false, form = #seqmix.form<recurrent>} : (tensor<1x1x?x4xf32>, tensor<1x1x?x4xf32>, tensor<1x1x?x4xf32>, tensor<1x1x?xf32>) -> tensor<1x1x?x4xf32>
  return %o : tensor<1x1x?x4xf32>
}

// -----

// Chunked form with chunks of 64: the forward substitution runs by blocks of
// 16 rows; each block first takes the rows solved before it in one
// contraction (A[b, :r0] X[:r0]), then substitutes its own rows one by one.
// CHECK-LABEL: func @blocked_solve
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c64
// CHECK: scf.for %[[R0:.*]] = %c0{{.*}} to %c64 step %c16
// CHECK: linalg.matmul ins(%{{.*}}, %{{.*}} : tensor<16x?xf32>, tensor<?x10xf32>)
// CHECK: scf.for %{{.*}} = %c0{{.*}} to %c16 step %c1
func.func @blocked_solve(%q: tensor<1x1x?x4xf32>, %v: tensor<1x1x?x6xf32>, %b: tensor<1x1x?xf32>) -> tensor<1x1x?x6xf32> {
  %o = seqmix.delta_rule %q, %q, %v, %b {scale = 1.0 : f32, form = #seqmix.form<chunked, chunk = 64>} : (tensor<1x1x?x4xf32>, tensor<1x1x?x4xf32>, tensor<1x1x?x6xf32>, tensor<1x1x?xf32>) -> tensor<1x1x?x6xf32>
  return %o : tensor<1x1x?x6xf32>
}
