// RUN: seqmix-opt %s --seqmix-select-forms | FileCheck %s
// RUN: not seqmix-opt %s --seqmix-select-forms="form=recurrent" 2>&1 | FileCheck %s --check-prefix=FORCED

// FORCED: error: form 'recurrent' cannot be used for 'seqmix.softmax_attention': softmax attention keeps no fixed-size state

// Ops without a lowering still get the model's choice; softmax never gets
// the recurrent form.
// CHECK-LABEL: func @softmax
// CHECK-NOT: recurrent
// CHECK: form = #seqmix.form<{{parallel|chunked}}
func.func @softmax(%q: tensor<1x1x4096x64xf32>) -> tensor<1x1x4096x64xf32> {
  %o = seqmix.softmax_attention %q, %q, %q {scale = 1.0 : f32}
      : (tensor<1x1x4096x64xf32>, tensor<1x1x4096x64xf32>, tensor<1x1x4096x64xf32>) -> tensor<1x1x4096x64xf32>
  return %o : tensor<1x1x4096x64xf32>
}
