// RUN: seqmix-opt %s --seqmix-lower-forms | FileCheck --enable-var-scope %s

// The recurrent form: a forall over (batch, head), a loop over time carrying
// the [K, V] state, and the state update and read-out as linalg.generic.

// CHECK-LABEL: func @scalar_gate
// CHECK-SAME: (%[[Q:.*]]: tensor<?x2x?x8xf32>, %[[V:.*]]: tensor<?x2x?x4xf32>, %[[G:.*]]: tensor<?x2x?xf32>, %[[S:.*]]: tensor<?x2x8x4xf32>)
// CHECK-DAG: %[[B:.*]] = tensor.dim %[[Q]], %c0
// CHECK-DAG: %[[T:.*]] = tensor.dim %[[Q]], %c2
// CHECK: %[[R:.*]]:2 = scf.forall (%[[BI:.*]], %[[HI:.*]]) in (%[[B]], 2) shared_outs(%[[OUT:.*]] = %{{.*}}, %[[FIN:.*]] = %{{.*}})
// CHECK: %[[INIT:.*]] = tensor.extract_slice %[[S]][%[[BI]], %[[HI]], 0, 0] [1, 1, 8, 4]
// CHECK: %[[S0:.*]] = linalg.copy ins(%[[INIT]] : tensor<8x4xf32>)
// CHECK: scf.for %[[TI:.*]] = %{{.*}} to %[[T]] step %{{.*}} iter_args(%[[ST:.*]] = %[[S0]], %{{.*}} = %{{.*}}) -> (tensor<8x4xf32>, tensor<?x4xf32>)
// CHECK: %[[GT:.*]] = tensor.extract %[[G]][%[[BI]], %[[HI]], %[[TI]]]
// CHECK: %[[ALPHA:.*]] = math.exp %[[GT]]
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel"]{{.*}} outs(%[[ST]] : tensor<8x4xf32>)
// CHECK: arith.mulf %[[ALPHA]]
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]
// CHECK: tensor.insert_slice
// CHECK: scf.forall.in_parallel
// CHECK: tensor.parallel_insert_slice %{{.*}} into %[[OUT]]
// CHECK: tensor.parallel_insert_slice %{{.*}} into %[[FIN]]
// CHECK: return %[[R]]#0, %[[R]]#1
// CHECK-NOT: seqmix.
func.func @scalar_gate(%q: tensor<?x2x?x8xf32>, %v: tensor<?x2x?x4xf32>, %g: tensor<?x2x?xf32>, %s: tensor<?x2x8x4xf32>) -> (tensor<?x2x?x4xf32>, tensor<?x2x8x4xf32>) {
  %o, %f = seqmix.gated_linear_attention %q, %q, %v gates(%g) state(%s) {gate = #seqmix.gate<scalar>, scale = 0.5 : f32, form = #seqmix.form<recurrent>}
      : (tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?xf32>, tensor<?x2x8x4xf32>) -> (tensor<?x2x?x4xf32>, tensor<?x2x8x4xf32>)
  return %o, %f : tensor<?x2x?x4xf32>, tensor<?x2x8x4xf32>
}

// CHECK-LABEL: func @vector_gate
// CHECK-SAME: %[[G:[^:]*]]: tensor<1x2x5x8xf32>) -> tensor<1x2x5x4xf32>
// CHECK: scf.forall
// CHECK: linalg.fill
// CHECK: scf.for
// CHECK: %[[GV:.*]] = tensor.extract_slice %[[G]]{{.*}} [1, 1, 1, 8] {{.*}} to tensor<8xf32>
// CHECK: linalg.generic {{.*}} ins(%[[GV]] : tensor<8xf32>)
// CHECK-NEXT: ^bb0
// CHECK-NEXT: math.exp
// CHECK-NOT: seqmix.
func.func @vector_gate(%q: tensor<1x2x5x8xf32>, %v: tensor<1x2x5x4xf32>, %g: tensor<1x2x5x8xf32>) -> tensor<1x2x5x4xf32> {
  %o = seqmix.gated_linear_attention %q, %q, %v gates(%g) {gate = #seqmix.gate<vector>, scale = 1.0 : f32, form = #seqmix.form<recurrent>}
      : (tensor<1x2x5x8xf32>, tensor<1x2x5x8xf32>, tensor<1x2x5x4xf32>, tensor<1x2x5x8xf32>) -> tensor<1x2x5x4xf32>
  return %o : tensor<1x2x5x4xf32>
}

// CHECK-LABEL: func @constant_gate
// CHECK: scf.forall (%{{.*}}, %[[H:.*]]) in
// CHECK: %[[TABLE:.*]] = arith.constant dense<[-5.000000e-01, -2.500000e-01]> : tensor<2xf32>
// CHECK: %[[LG:.*]] = tensor.extract %[[TABLE]][%[[H]]]
// CHECK: math.exp %[[LG]]
// CHECK: scf.for
// CHECK-NOT: seqmix.
func.func @constant_gate(%q: tensor<?x2x?x8xf32>, %v: tensor<?x2x?x4xf32>) -> tensor<?x2x?x4xf32> {
  %o = seqmix.gated_linear_attention %q, %q, %v {gate = #seqmix.gate<constant>, log_decay = array<f32: -0.5, -0.25>, scale = 1.0 : f32, form = #seqmix.form<recurrent>}
      : (tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>, tensor<?x2x?x4xf32>) -> tensor<?x2x?x4xf32>
  return %o : tensor<?x2x?x4xf32>
}
