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

// A result computed into an empty tensor (through an scf.forall's shared
// output and a DPS op) is computed in the caller's buffer: the empty tensor
// becomes the output argument itself, so bufferization needs no temporary
// and no copy out.
// CHECK-LABEL: func.func @into_empty
// CHECK-SAME: (%[[X:.*]]: tensor<?x4xf32>, %[[OUT:.*]]: memref<?x4xf32>)
// CHECK: %[[DEST:.*]] = bufferization.to_tensor %[[OUT]] restrict writable
// CHECK-NOT: tensor.empty
// CHECK: scf.forall {{.*}} shared_outs(%{{.*}} = %[[DEST]])
// CHECK: bufferization.materialize_in_destination
func.func @into_empty(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
  %c0 = arith.constant 0 : index
  %n = tensor.dim %x, %c0 : tensor<?x4xf32>
  %e = tensor.empty(%n) : tensor<?x4xf32>
  %r = scf.forall (%i) in (%n) shared_outs(%o = %e) -> tensor<?x4xf32> {
    %row = tensor.extract_slice %x[%i, 0] [1, 4] [1, 1] : tensor<?x4xf32> to tensor<1x4xf32>
    %d = tensor.extract_slice %o[%i, 0] [1, 4] [1, 1] : tensor<?x4xf32> to tensor<1x4xf32>
    %c = linalg.copy ins(%row : tensor<1x4xf32>) outs(%d : tensor<1x4xf32>) -> tensor<1x4xf32>
    scf.forall.in_parallel {
      tensor.parallel_insert_slice %c into %o[%i, 0] [1, 4] [1, 1] : tensor<1x4xf32> into tensor<?x4xf32>
    }
  }
  return %r : tensor<?x4xf32>
}

// negative: an empty tensor with another reader keeps its own buffer.
// CHECK-LABEL: func.func @negative_shared_empty
// CHECK-NOT: bufferization.to_tensor
// CHECK: tensor.empty
func.func @negative_shared_empty(%x: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  %e = tensor.empty() : tensor<4xf32>
  %a = linalg.copy ins(%x : tensor<4xf32>) outs(%e : tensor<4xf32>) -> tensor<4xf32>
  %b = linalg.copy ins(%x : tensor<4xf32>) outs(%e : tensor<4xf32>) -> tensor<4xf32>
  return %a, %b : tensor<4xf32>, tensor<4xf32>
}

// A layer that chooses per call between copies (an scf.if on the length)
// computes whichever copy runs in the caller's buffer: every branch's empty
// tensor becomes the one output argument (before, bufferization allocated
// a result per call and copied it out: 16 MB and 20 % of a chunked GLA
// call at T = 8192).
// CHECK-LABEL: func.func @per_call
// CHECK-SAME: (%[[X:.*]]: tensor<?x4xf32>, %[[C:.*]]: i1, %[[OUT:.*]]: memref<?x4xf32>)
// CHECK: %[[DEST:.*]] = bufferization.to_tensor %[[OUT]] restrict writable
// CHECK-NOT: tensor.empty
// CHECK: scf.if %[[C]]
// CHECK: linalg.copy ins(%[[X]] : tensor<?x4xf32>) outs(%[[DEST]] : tensor<?x4xf32>)
// CHECK: } else {
// CHECK: linalg.exp ins(%[[X]] : tensor<?x4xf32>) outs(%[[DEST]] : tensor<?x4xf32>)
// CHECK: bufferization.materialize_in_destination
func.func @per_call(%x: tensor<?x4xf32>, %c: i1) -> tensor<?x4xf32> {
  %c0 = arith.constant 0 : index
  %n = tensor.dim %x, %c0 : tensor<?x4xf32>
  %r = scf.if %c -> tensor<?x4xf32> {
    %e = tensor.empty(%n) : tensor<?x4xf32>
    %a = linalg.copy ins(%x : tensor<?x4xf32>) outs(%e : tensor<?x4xf32>) -> tensor<?x4xf32>
    scf.yield %a : tensor<?x4xf32>
  } else {
    %e = tensor.empty(%n) : tensor<?x4xf32>
    %b = linalg.exp ins(%x : tensor<?x4xf32>) outs(%e : tensor<?x4xf32>) -> tensor<?x4xf32>
    scf.yield %b : tensor<?x4xf32>
  }
  return %r : tensor<?x4xf32>
}

// Through an scf.if whose branch yields a value that is also the second
// result, the first result is not computed in its caller's buffer (it would
// clobber the second): only the second output is, and the other branch keeps
// its empty tensor.
// CHECK-LABEL: func.func @per_call_shared
// CHECK-SAME: %[[OUT0:[^:]*]]: memref<?x4xf32>, %[[OUT1:[^:]*]]: memref<?x4xf32>)
// CHECK-NOT: bufferization.to_tensor %[[OUT0]]
// CHECK: bufferization.to_tensor %[[OUT1]] restrict writable
// CHECK-NOT: bufferization.to_tensor %[[OUT0]]
// CHECK: tensor.empty
// CHECK: return
func.func @per_call_shared(%x: tensor<?x4xf32>, %c: i1) -> (tensor<?x4xf32>, tensor<?x4xf32>) {
  %c0 = arith.constant 0 : index
  %n = tensor.dim %x, %c0 : tensor<?x4xf32>
  %e = tensor.empty(%n) : tensor<?x4xf32>
  %a = linalg.copy ins(%x : tensor<?x4xf32>) outs(%e : tensor<?x4xf32>) -> tensor<?x4xf32>
  %r = scf.if %c -> tensor<?x4xf32> {
    scf.yield %a : tensor<?x4xf32>
  } else {
    %f = tensor.empty(%n) : tensor<?x4xf32>
    %b = linalg.exp ins(%x : tensor<?x4xf32>) outs(%f : tensor<?x4xf32>) -> tensor<?x4xf32>
    scf.yield %b : tensor<?x4xf32>
  }
  return %r, %a : tensor<?x4xf32>, tensor<?x4xf32>
}
