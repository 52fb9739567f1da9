// RUN: seqmix-opt %s --seqmix-lower-forms | FileCheck --enable-var-scope %s

// The recurrent form: a forall over (batch, head); a loop over blocks of 64
// tokens carrying the [K, V] state and the output rows; in each block the
// gates' exps and the scaled queries once, then the state walked in tiles of
// 8 x 32 (here the whole 8 x 4 state), each tile updated by every token of
// the block (a multiply and an FMA per element) and read out into the
// block's output rows (a contraction over the tile's rows).

// CHECK-LABEL: func @scalar_gate
// CHECK-SAME: (%[[Q:.*]]: tensor<?x2x?x8xf32>, %[[V:.*]]: tensor<?x2x?x4xf32>, %[[G:.*]]: tensor<?x2x?xf32>, %[[S:.*]]: tensor<?x2x8x4xf32>)
// CHECK-DAG: %[[B:.*]] = tensor.dim %[[Q]], %c0
// CHECK-DAG: %[[T:.*]] = tensor.dim %[[Q]], %c2
// CHECK: %[[R:.*]]:2 = scf.forall (%[[BI:.*]], %[[HI:.*]]) in (%[[B]], 2) shared_outs(%[[OUT:.*]] = %{{.*}}, %[[FIN:.*]] = %{{.*}})
// CHECK: %[[INIT:.*]] = tensor.extract_slice %[[S]][%[[BI]], %[[HI]], 0, 0] [1, 1, 8, 4]
// CHECK: %[[S0:.*]] = linalg.copy ins(%[[INIT]] : tensor<8x4xf32>)
// CHECK: scf.for %[[T0:.*]] = %{{.*}} to %[[T]] step %c64 iter_args(%[[ST:.*]] = %[[S0]], %{{.*}} = %{{.*}}) -> (tensor<8x4xf32>, tensor<?x4xf32>)
// CHECK: %[[LEN:.*]] = arith.minsi %c64
// CHECK: %[[GB:.*]] = tensor.extract_slice %[[G]][%[[BI]], %[[HI]], %[[T0]]] [1, 1, %[[LEN]]]
// CHECK: %[[ALPHAS:.*]] = linalg.generic {{.*}} ins(%[[GB]] : tensor<?xf32>)
// CHECK-NEXT: ^bb0
// CHECK-NEXT: math.exp
// CHECK: linalg.fill
// CHECK: scf.for %[[R0:.*]] = %{{.*}} to %c8 step %c8
// CHECK: scf.for %[[C0:.*]] = %{{.*}} to %c4 step %c4
// CHECK: %[[TILE:.*]] = tensor.extract_slice %{{.*}}[%[[R0]], %[[C0]]] [8, 4] [1, 1] : tensor<8x4xf32> to tensor<8x4xf32>
// CHECK: scf.for %[[I:.*]] = %{{.*}} to %[[LEN]] step %c1 iter_args(%[[TI:.*]] = %[[TILE]], %{{.*}} = %{{.*}})
// CHECK: %[[ALPHA:.*]] = tensor.extract %[[ALPHAS]][%[[I]]]
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel"]{{.*}} outs(%[[TI]] : tensor<8x4xf32>)
// CHECK: arith.mulf %[[ALPHA]]
// CHECK-NEXT: math.fma
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

// A key size with no whole 8-row tiles (12): the state is updated and read
// out whole, token by token.
// CHECK-LABEL: func @untiled
// CHECK: scf.for %[[TI:.*]] = %{{.*}} to %{{.*}} step %c1 iter_args(%[[ST:.*]] = %{{.*}}, %{{.*}} = %{{.*}}) -> (tensor<12x4xf32>, tensor<?x4xf32>)
// CHECK: math.exp
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel"]{{.*}} outs(%[[ST]] : tensor<12x4xf32>)
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]
func.func @untiled(%q: tensor<?x2x?x12xf32>, %v: tensor<?x2x?x4xf32>, %g: tensor<?x2x?xf32>) -> tensor<?x2x?x4xf32> {
  %o = seqmix.gated_linear_attention %q, %q, %v gates(%g) {gate = #seqmix.gate<scalar>, scale = 0.5 : f32, form = #seqmix.form<recurrent>}
      : (tensor<?x2x?x12xf32>, tensor<?x2x?x12xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?xf32>) -> tensor<?x2x?x4xf32>
  return %o : tensor<?x2x?x4xf32>
}

// The vector gate: the block's [L, K] exps once, a row of 8 per token and
// tile.
// CHECK-LABEL: func @vector_gate
// CHECK-SAME: %[[G:[^:]*]]: tensor<1x2x5x8xf32>) -> tensor<1x2x5x4xf32>
// CHECK: scf.forall
// CHECK: linalg.fill
// CHECK: scf.for
// CHECK: %[[GB:.*]] = tensor.extract_slice %[[G]]{{.*}} to tensor<?x8xf32>
// CHECK: %[[EXPS:.*]] = linalg.generic {{.*}} ins(%[[GB]] : tensor<?x8xf32>)
// CHECK-NEXT: ^bb0
// CHECK-NEXT: math.exp
// CHECK: tensor.extract_slice %[[EXPS]]{{.*}} [1, 8] [1, 1] : tensor<?x8xf32> to tensor<8xf32>
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
