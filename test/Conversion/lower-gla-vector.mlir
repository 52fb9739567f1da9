// RUN: seqmix-opt %s -split-input-file --seqmix-lower-forms | FileCheck %s --enable-var-scope

// Key-vector gate, chunked form with chunks of 16 (one sub-chunk): per chunk
// alpha = exp(g) is the only exp; the inter term's decayed queries and the
// state update's decayed keys are running products over the chunk's rows;
// the diagonal scores come from a loop over the sub-chunk's rows that decays
// the earlier keys (a product, no exp) and takes one row of dot products.
// CHECK-LABEL: func @chunked16
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c16
// CHECK: scf.if
// CHECK: math.exp
// CHECK-NOT: math.exp
// CHECK: linalg.matmul
// CHECK: scf.for {{.*}} -> (tensor<16x8xf32>, tensor<16x16xf32>)
// CHECK: arith.mulf
// CHECK: linalg.matmul ins(%{{.*}}, %{{.*}} : tensor<16x16xf32>, tensor<16x6xf32>)
// CHECK: } else {
// CHECK: math.exp
// CHECK-NOT: seqmix.gated_linear_attention
func.func @chunked16(%q: tensor<1x2x?x8xf32>, %v: tensor<1x2x?x6xf32>, %g: tensor<1x2x?x8xf32>, %s0: tensor<1x2x8x6xf32>) -> (tensor<1x2x?x6xf32>, tensor<1x2x8x6xf32>) {
  %o, %s = seqmix.gated_linear_attention %q, %q, %v gates(%g) state(%s0) {gate = #seqmix.gate<vector>, scale = 0.5 : f32, form = #seqmix.form<chunked, chunk = 16>} : (tensor<1x2x?x8xf32>, tensor<1x2x?x8xf32>, tensor<1x2x?x6xf32>, tensor<1x2x?x8xf32>, tensor<1x2x8x6xf32>) -> (tensor<1x2x?x6xf32>, tensor<1x2x8x6xf32>)
  return %o, %s : tensor<1x2x?x6xf32>, tensor<1x2x8x6xf32>
}

// -----

// Chunks of 64: a loop over the chunk's four sub-chunks (all full, static);
// each adds its diagonal block and the contraction of its rescaled queries
// with the earlier keys rescaled to its first token, P[I, :rho] V[:rho].
// CHECK-LABEL: func @chunked64
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c64
// CHECK: math.exp
// CHECK: scf.for %{{.*}} = %c0{{.*}} to %c64 step %c16 iter_args(%{{.*}}) -> (tensor<64x6xf32>)
// CHECK-NOT: math.exp
// CHECK: scf.for {{.*}} -> (tensor<16x8xf32>, tensor<16x16xf32>)
// CHECK: linalg.matmul ins(%{{.*}}, %{{.*}} : tensor<16x16xf32>, tensor<16x6xf32>)
// CHECK: linalg.transpose
// CHECK: linalg.matmul ins(%{{.*}}, %{{.*}} : tensor<16x?xf32>, tensor<?x6xf32>)
func.func @chunked64(%q: tensor<1x2x?x8xf32>, %v: tensor<1x2x?x6xf32>, %g: tensor<1x2x?x8xf32>) -> tensor<1x2x?x6xf32> {
  %o = seqmix.gated_linear_attention %q, %q, %v gates(%g) {gate = #seqmix.gate<vector>, scale = 0.5 : f32, form = #seqmix.form<chunked, chunk = 64>} : (tensor<1x2x?x8xf32>, tensor<1x2x?x8xf32>, tensor<1x2x?x6xf32>, tensor<1x2x?x8xf32>) -> tensor<1x2x?x6xf32>
  return %o : tensor<1x2x?x6xf32>
}

// -----

// Parallel form without state: one block of T tokens in sub-chunks (the last
// one ragged), no inter term and no state update.
// CHECK-LABEL: func @parallel
// CHECK: scf.forall
// CHECK: math.exp
// CHECK: scf.for %{{.*}} = %c0{{.*}} to %{{.*}} step %c16
// CHECK: scf.if
// CHECK-NOT: math.exp
// CHECK: return
func.func @parallel(%q: tensor<1x2x?x8xf32>, %v: tensor<1x2x?x6xf32>, %g: tensor<1x2x?x8xf32>) -> tensor<1x2x?x6xf32> {
  %o = seqmix.gated_linear_attention %q, %q, %v gates(%g) {gate = #seqmix.gate<vector>, scale = 0.5 : f32, form = #seqmix.form<parallel>} : (tensor<1x2x?x8xf32>, tensor<1x2x?x8xf32>, tensor<1x2x?x6xf32>, tensor<1x2x?x8xf32>) -> tensor<1x2x?x6xf32>
  return %o : tensor<1x2x?x6xf32>
}
