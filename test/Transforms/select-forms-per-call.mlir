// RUN: seqmix-opt %s --seqmix-select-forms | FileCheck %s
// RUN: seqmix-opt %s --seqmix-select-forms="per-call=false" | FileCheck %s --check-prefix=ONE
// RUN: seqmix-opt %s --seqmix-select-forms="chunk-size=32" | FileCheck %s --check-prefix=CHUNK

// A dynamic sequence length whose best form changes with the length: the
// layer chooses per call. The op becomes nested scf.if on T = dim 2 of q,
// each branch a copy of it in its range's form, with the range attached.
// CHECK-LABEL: func @gla_dynamic
// CHECK: %[[T:.*]] = tensor.dim %arg0, %c2
// CHECK: %[[HIV:.*]] = arith.constant [[HI:[0-9]+]] : index
// CHECK: %[[BELOW:.*]] = arith.cmpi ult, %[[T]], %[[HIV]]
// CHECK: scf.if %[[BELOW]]
// CHECK: seqmix.gated_linear_attention {{.*}}form = #seqmix.form<{{[a-z]+.*}}>{{.*}}seqmix.seq_len_range = array<i64: 1, [[HI]]>
// CHECK: } else {
// CHECK: seqmix.gated_linear_attention {{.*}}seqmix.seq_len_range = array<i64: [[HI]], {{[0-9]+}}>
// CHECK: return
// ONE-LABEL: func @gla_dynamic
// ONE-NOT: scf.if
// ONE: seqmix.gated_linear_attention {{.*}}form =
// ONE-NOT: seq_len_range
func.func @gla_dynamic(%q: tensor<1x4x?x128xf32>, %g: tensor<1x4x?xf32>) -> tensor<1x4x?x128xf32> {
  %o = seqmix.gated_linear_attention %q, %q, %q gates(%g) {gate = #seqmix.gate<scalar>, scale = 1.0 : f32}
      : (tensor<1x4x?x128xf32>, tensor<1x4x?x128xf32>, tensor<1x4x?x128xf32>, tensor<1x4x?xf32>) -> tensor<1x4x?x128xf32>
  return %o : tensor<1x4x?x128xf32>
}

// A static length keeps one form.
// CHECK-LABEL: func @gla_static
// CHECK-NOT: scf.if
// CHECK-NOT: seq_len_range
// CHECK: return
func.func @gla_static(%q: tensor<1x4x100x128xf32>, %g: tensor<1x4x100xf32>) -> tensor<1x4x100x128xf32> {
  %o = seqmix.gated_linear_attention %q, %q, %q gates(%g) {gate = #seqmix.gate<scalar>, scale = 1.0 : f32}
      : (tensor<1x4x100x128xf32>, tensor<1x4x100x128xf32>, tensor<1x4x100x128xf32>, tensor<1x4x100xf32>) -> tensor<1x4x100x128xf32>
  return %o : tensor<1x4x100x128xf32>
}

// The chunk size the user names applies to every chunked range.
// CHUNK-LABEL: func @gla_dynamic
// CHUNK-NOT: #seqmix.form<chunked, chunk = {{(16|64|128|256)}}>
// CHUNK: return

// Softmax attention with a dynamic length: its choice also changes chunk
// size with the length (larger key blocks for longer sequences), so ranges
// differ by (form, chunk); the last range is chunked with the larger chunk.
// CHECK-LABEL: func @softmax_dynamic
// CHECK: %[[T:.*]] = tensor.dim %arg0, %c2
// CHECK: scf.if
// CHECK: seqmix.softmax_attention {{.*}}seqmix.seq_len_range = array<i64: 1,
// CHECK: seqmix.softmax_attention {{.*}}form = #seqmix.form<chunked, chunk = [[C1:[0-9]+]]>{{.*}}seq_len_range = array<i64: [[LO:[0-9]+]], [[HI:[0-9]+]]>
// CHECK: seqmix.softmax_attention {{.*}}form = #seqmix.form<chunked, chunk = [[C2:[0-9]+]]>{{.*}}seq_len_range = array<i64: [[HI]], 0>
// ONE-LABEL: func @softmax_dynamic
// ONE-NOT: scf.if
// ONE: seqmix.softmax_attention {{.*}}form =
// ONE-NOT: seq_len_range
func.func @softmax_dynamic(%q: tensor<1x8x?x64xf32>) -> tensor<1x8x?x64xf32> {
  %o = seqmix.softmax_attention %q, %q, %q {scale = 0.125 : f32}
      : (tensor<1x8x?x64xf32>, tensor<1x8x?x64xf32>, tensor<1x8x?x64xf32>) -> tensor<1x8x?x64xf32>
  return %o : tensor<1x8x?x64xf32>
}
