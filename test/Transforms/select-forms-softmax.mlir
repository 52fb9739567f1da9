// RUN: seqmix-opt %s --seqmix-select-forms | FileCheck %s
// RUN: seqmix-opt %s --seqmix-select-forms="form=recurrent" 2>&1 | FileCheck %s --check-prefix=FORCED

// The recurrent form of softmax attention is its decode form; it is used
// when asked for. The cost model does not estimate it yet, so it never
// chooses it.
// FORCED: form = #seqmix.form<recurrent>
// CHECK-LABEL: func @softmax
// CHECK-NOT: recurrent
// CHECK: form = #seqmix.form<{{parallel|chunked}}
func.func @softmax(%q: tensor<1x1x4096x64xf32>) -> tensor<1x1x4096x64xf32> {
  %o = seqmix.softmax_attention %q, %q, %q {scale = 1.0 : f32}
      : (tensor<1x1x4096x64xf32>, tensor<1x1x4096x64xf32>, tensor<1x1x4096x64xf32>) -> tensor<1x1x4096x64xf32>
  return %o : tensor<1x1x4096x64xf32>
}
