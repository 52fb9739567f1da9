// RUN: seqmix-opt %s --seqmix-annotate-entry-dims | FileCheck %s

// CHECK-LABEL: func.func @layer
// CHECK-SAME: %{{.*}}: tensor<?x2x?x8xf32> {seqmix.dims = ["batch", "heads", "seq_len", "key_dim"]}
// CHECK-SAME: %{{.*}}: tensor<?x2x?x4xf32> {seqmix.dims = ["batch", "heads", "seq_len", "value_dim"]}
// CHECK-SAME: %{{.*}}: tensor<?x2x?xf32> {seqmix.dims = ["batch", "heads", "seq_len"]}
// CHECK-SAME: %{{.*}}: tensor<7xf32> {seqmix.dims = ["mine"]}
// CHECK-SAME: -> (tensor<?x2x?x4xf32> {seqmix.dims = ["batch", "heads", "seq_len", "value_dim"]}, tensor<?x2x8x4xf32> {seqmix.dims = ["batch", "heads", "key_dim", "state_cols"]})
func.func @layer(%q: tensor<?x2x?x8xf32>, %v: tensor<?x2x?x4xf32>, %g: tensor<?x2x?xf32>, %x: tensor<7xf32> {seqmix.dims = ["mine"]})
    -> (tensor<?x2x?x4xf32>, tensor<?x2x8x4xf32>) {
  %o, %f = seqmix.gated_linear_attention %q, %q, %v gates(%g) {gate = #seqmix.gate<scalar>, scale = 1.0 : f32}
      : (tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?xf32>) -> (tensor<?x2x?x4xf32>, tensor<?x2x8x4xf32>)
  return %o, %f : tensor<?x2x?x4xf32>, tensor<?x2x8x4xf32>
}
