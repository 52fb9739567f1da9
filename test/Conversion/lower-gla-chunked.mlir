// RUN: seqmix-opt %s --seqmix-lower-forms | FileCheck --enable-var-scope %s

// The chunked form: per slice, a loop over chunks of 16 tokens (the last one
// shorter) carries the state; each chunk is a parallel-form block whose
// initial state is the carried one and whose final state is carried on.

// CHECK-LABEL: func @scalar_gate
// CHECK-SAME: (%[[Q:.*]]: tensor<?x2x?x8xf32>, %[[V:.*]]: tensor<?x2x?x4xf32>, %[[G:.*]]: tensor<?x2x?xf32>)
// CHECK-DAG: %[[T:.*]] = tensor.dim %[[Q]], %c2
// CHECK: scf.forall (%[[BI:.*]], %[[HI:.*]]) in
// CHECK: %[[S0:.*]] = linalg.fill {{.*}} -> tensor<8x4xf32>
// CHECK: %[[C16:.*]] = arith.constant 16 : index
// CHECK: scf.for %[[C0:.*]] = %{{.*}} to %[[T]] step %[[C16]] iter_args(%[[S:.*]] = %[[S0]], %[[O:.*]] = %{{.*}}) -> (tensor<8x4xf32>, tensor<?x4xf32>)
// CHECK: %[[REST:.*]] = arith.subi %[[T]], %[[C0]]
// CHECK: %[[LEN:.*]] = arith.minsi %[[C16]], %[[REST]]
// CHECK: tensor.extract_slice %[[Q]][%[[BI]], %[[HI]], %[[C0]], 0] [1, 1, %[[LEN]], 8]
// CHECK: tensor.extract_slice %[[G]][%[[BI]], %[[HI]], %[[C0]]] [1, 1, %[[LEN]]]
// Chunk-local segment sums, then the masked decayed scores.
// CHECK: scf.for
// CHECK: linalg.transpose
// CHECK: math.exp
// CHECK: linalg.matmul
// The inter-chunk term reads the carried state.
// CHECK: linalg.matmul ins(%{{.*}}, %[[S]] : tensor<?x8xf32>, tensor<8x4xf32>)
// CHECK: tensor.insert_slice %{{.*}} into %[[O]][%[[C0]], 0] [%[[LEN]], 4]
// CHECK: scf.yield
// CHECK-NOT: seqmix.
func.func @scalar_gate(%q: tensor<?x2x?x8xf32>, %v: tensor<?x2x?x4xf32>, %g: tensor<?x2x?xf32>) -> (tensor<?x2x?x4xf32>, tensor<?x2x8x4xf32>) {
  %o, %f = seqmix.gated_linear_attention %q, %q, %v gates(%g) {gate = #seqmix.gate<scalar>, scale = 0.5 : f32, form = #seqmix.form<chunked, chunk = 16>}
      : (tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?xf32>) -> (tensor<?x2x?x4xf32>, tensor<?x2x8x4xf32>)
  return %o, %f : tensor<?x2x?x4xf32>, tensor<?x2x8x4xf32>
}
