// RUN: seqmix-opt %s --seqmix-select-forms="remarks=1" -verify-diagnostics | FileCheck %s
// RUN: not seqmix-opt %s --seqmix-select-forms="form=tiled" 2>&1 | FileCheck %s --check-prefix=BADFORM

// BADFORM: seqmix-select-forms: unknown form 'tiled'; expected auto, parallel, chunked or recurrent

// CHECK-LABEL: func @gla
func.func @gla(%q: tensor<2x4x128x64xf32>, %g: tensor<2x4x128xf32>) -> tensor<2x4x128x64xf32> {
  // expected-remark @+1 {{chosen by the cost model for B=2 H=4 T=128 K=64 V=64; candidates: parallel=}}
  %o = seqmix.gated_linear_attention %q, %q, %q gates(%g) {gate = #seqmix.gate<scalar>, scale = 1.0 : f32}
      : (tensor<2x4x128x64xf32>, tensor<2x4x128x64xf32>, tensor<2x4x128x64xf32>, tensor<2x4x128xf32>) -> tensor<2x4x128x64xf32>
  return %o : tensor<2x4x128x64xf32>
}
