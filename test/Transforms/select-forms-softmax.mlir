// RUN: seqmix-opt %s --seqmix-select-forms | FileCheck %s
// RUN: seqmix-opt %s --seqmix-select-forms="form=recurrent" 2>&1 | FileCheck %s --check-prefix=FORCED

// The recurrent form of softmax attention is its decode form: forced, or
// chosen by the cost model when few queries meet many keys. A prefill
// (T_q = T_k = 4096) is chunked or parallel, never recurrent.
// FORCED: form = #seqmix.form<recurrent>
// CHECK-LABEL: func @softmax
// CHECK-NOT: recurrent
// CHECK: form = #seqmix.form<{{parallel|chunked}}
func.func @softmax(%q: tensor<1x1x4096x64xf32>) -> tensor<1x1x4096x64xf32> {
  %o = seqmix.softmax_attention %q, %q, %q {scale = 1.0 : f32}
      : (tensor<1x1x4096x64xf32>, tensor<1x1x4096x64xf32>, tensor<1x1x4096x64xf32>) -> tensor<1x1x4096x64xf32>
  return %o : tensor<1x1x4096x64xf32>
}

// Decode (one query against 4096 cached keys): the recurrent (decode) form;
// the materialized form would transpose all 4096 keys at once.
// CHECK-LABEL: func @decode
// CHECK: form = #seqmix.form<recurrent>
func.func @decode(%q: tensor<1x8x1x64xf32>, %kv: tensor<1x8x4096x64xf32>) -> tensor<1x8x1x64xf32> {
  %o = seqmix.softmax_attention %q, %kv, %kv {scale = 1.0 : f32}
      : (tensor<1x8x1x64xf32>, tensor<1x8x4096x64xf32>, tensor<1x8x4096x64xf32>) -> tensor<1x8x1x64xf32>
  return %o : tensor<1x8x1x64xf32>
}
