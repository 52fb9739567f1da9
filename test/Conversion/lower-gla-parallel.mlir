// RUN: seqmix-opt %s --seqmix-lower-forms | FileCheck --enable-var-scope %s

// The parallel form: per slice, P = scale Q K^T, decayed and masked (mask
// before exp), then O = P V with linalg.matmul.

// CHECK-LABEL: func @no_gate
// CHECK: scf.forall
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel"]
// CHECK: %[[T:.*]] = linalg.index 0
// CHECK: %[[I:.*]] = linalg.index 1
// CHECK: %[[VIS:.*]] = arith.cmpi ule, %[[I]], %[[T]]
// CHECK-NOT: math.exp
// CHECK: arith.select %[[VIS]]
// CHECK: linalg.matmul
// CHECK-NOT: seqmix.
func.func @no_gate(%q: tensor<?x2x?x8xf32>, %v: tensor<?x2x?x4xf32>) -> tensor<?x2x?x4xf32> {
  %o = seqmix.gated_linear_attention %q, %q, %v {gate = #seqmix.gate<none>, scale = 0.5 : f32, form = #seqmix.form<parallel>}
      : (tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>, tensor<?x2x?x4xf32>) -> tensor<?x2x?x4xf32>
  return %o : tensor<?x2x?x4xf32>
}

// The scalar gate builds the segment sums row by row (no difference of
// cumulative sums), and masks them before the exp.
// CHECK-LABEL: func @scalar_gate
// CHECK: scf.forall
// CHECK: %[[SEG:.*]]:4 = scf.for
// CHECK: arith.cmpi ult
// CHECK: scf.yield
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]
// CHECK: linalg.generic {{.*}} ins(%[[SEG]]#1 : tensor<?x?xf32>)
// CHECK: %[[VIS:.*]] = arith.cmpi ule
// CHECK: %[[L:.*]] = arith.select %[[VIS]], %{{.*}}, %{{.*}}
// CHECK: math.exp %[[L]]
// CHECK: linalg.matmul
// The initial-state term and the final state:
// CHECK: linalg.matmul
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]
// CHECK: scf.forall.in_parallel
// CHECK-NOT: seqmix.
func.func @scalar_gate(%q: tensor<?x2x?x8xf32>, %v: tensor<?x2x?x4xf32>, %g: tensor<?x2x?xf32>, %s: tensor<?x2x8x4xf32>) -> (tensor<?x2x?x4xf32>, tensor<?x2x8x4xf32>) {
  %o, %f = seqmix.gated_linear_attention %q, %q, %v gates(%g) state(%s) {gate = #seqmix.gate<scalar>, scale = 0.5 : f32, form = #seqmix.form<parallel>}
      : (tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?xf32>, tensor<?x2x8x4xf32>) -> (tensor<?x2x?x4xf32>, tensor<?x2x8x4xf32>)
  return %o, %f : tensor<?x2x?x4xf32>, tensor<?x2x8x4xf32>
}

// CHECK-LABEL: func @constant_gate
// CHECK: scf.forall
// CHECK-NOT: scf.for
// CHECK: arith.subi
// CHECK: arith.sitofp
// CHECK: math.exp
// CHECK: linalg.matmul
// CHECK-NOT: seqmix.
func.func @constant_gate(%q: tensor<1x2x?x8xf32>, %v: tensor<1x2x?x4xf32>) -> tensor<1x2x?x4xf32> {
  %o = seqmix.gated_linear_attention %q, %q, %v {gate = #seqmix.gate<constant>, log_decay = array<f32: -0.5, -0.25>, scale = 1.0 : f32, form = #seqmix.form<parallel>}
      : (tensor<1x2x?x8xf32>, tensor<1x2x?x8xf32>, tensor<1x2x?x4xf32>) -> tensor<1x2x?x4xf32>
  return %o : tensor<1x2x?x4xf32>
}
