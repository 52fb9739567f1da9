// RUN: seqmix-opt %s --seqmix-dps-entry | FileCheck --enable-var-scope %s

// CHECK-LABEL: func.func @entry
// CHECK-SAME: (%[[A:.*]]: tensor<?x4xf32> {seqmix.other = 1 : i64}, %[[B:.*]]: tensor<4xf32>, %[[OUT0:.*]]: memref<?x4xf32>, %[[OUT1:.*]]: memref<4xf32>)
// CHECK-NOT: ->
// CHECK: bufferization.materialize_in_destination %[[A]] in writable %[[OUT0]]
// CHECK: bufferization.materialize_in_destination %[[B]] in writable %[[OUT1]]
// CHECK: return{{$}}
func.func @entry(%a: tensor<?x4xf32> {seqmix.name = "a", seqmix.dims = ["n", "m"], seqmix.other = 1}, %b: tensor<4xf32>)
    -> (tensor<?x4xf32> {seqmix.name = "out"}, tensor<4xf32>) {
  return %a, %b : tensor<?x4xf32>, tensor<4xf32>
}

// Private functions keep their results.
// CHECK-LABEL: func.func private @helper
// CHECK-SAME: -> tensor<4xf32>
func.func private @helper(%b: tensor<4xf32>) -> tensor<4xf32> {
  return %b : tensor<4xf32>
}
