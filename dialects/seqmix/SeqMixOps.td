//===- SeqMixOps.td - seqmix operations --------------------*- tablegen -*-===//
#ifndef SEQMIX_OPS_TD
#define SEQMIX_OPS_TD

include "SeqMixDialect.td"
include "SeqMixAttrs.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def SeqMix_SoftmaxAttentionOp : SeqMix_Op<"softmax_attention", [Pure]> {
  let summary = "scaled-dot-product softmax attention (causal, windowed, grouped KV heads)";
  let description = [{
    `o = softmax(scale * q k^T + mask) v` per (batch, head). Queries are
    bottom-right aligned: query `i` sits at position `T_k - T_q + i`. Query head
    `h` reads KV head `floor(h * H_kv / H)`. A row with no visible key gives 0.

    Constraints:
    - C1: `q` is `[B, H, Tq, K]`, `k` is `[B, Hkv, Tk, K]`, `v` is `[B, Hkv, Tk, V]`
      (rank 4); the result is `[B, H, Tq, V]`.
    - C2: all tensors have the same float element type.
    - C3: batch sizes agree; `k` and `v` agree on `Hkv` and `Tk`; `q` and `k`
      agree on `K`.
    - C4: `H` is a multiple of `Hkv`.
    - C5: `window`, when given, is at least 1.
    - C6: `scale` is finite and positive.
    - C7: the optional second result `lse` is f32 `[B, H, Tq]`: the
      log-sum-exp `m + log l` of each row's scaled, masked scores, `-inf` for
      a row with no visible key (FORMS.md 1.1).

    Forms: `parallel` materializes the T_q x T_k scores, `chunked` is the
    tiled online softmax, and `recurrent` is the decode form: every query of
    the call (one or a few new tokens) against the T_k cached keys, one key
    block at a time (softmax attention has no fixed-size state; its decode
    state is the KV cache passed as k and v).

    ```mlir
    %o = seqmix.softmax_attention %q, %k, %v {causal = true, scale = 0.125 : f32}
        : (tensor<?x8x?x64xf32>, tensor<?x2x?x64xf32>, tensor<?x2x?x64xf32>)
        -> tensor<?x8x?x64xf32>
    ```
  }];
  let arguments = (ins AnyRankedTensor:$q, AnyRankedTensor:$k, AnyRankedTensor:$v,
    F32Attr:$scale,
    DefaultValuedAttr<BoolAttr, "true">:$causal,
    OptionalAttr<I64Attr>:$window,
    OptionalAttr<SeqMix_FormAttr>:$form);
  let results = (outs AnyRankedTensor:$out, Optional<AnyRankedTensor>:$lse);
  let assemblyFormat = [{
    $q `,` $k `,` $v attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def SeqMix_LinearAttentionOp : SeqMix_Op<"linear_attention", [Pure]> {
  let summary = "kernelized linear attention (Katharopoulos et al.; Based)";
  let description = [{
    With `q^ = scale * phi(q_t)` and `k^ = phi(k_t)`:
    `num_t = sum_{i<=t} (q^_t . k^_i) v_i`, `den_t = sum_{i<=t} q^_t . k^_i` and
    `o_t = num_t / (den_t + eps)` when `normalize`, else `num_t`. Non-causal
    sums run over the whole sequence.

    The state is key-major: `S` is `[B, H, K', V]` where `K'` is the feature
    dimension (`K` for identity/elu1/relu, `1 + K + K(K+1)/2` for taylor). With
    `normalize` the normalizer `z` is stored as one extra value column, so the
    state is `[B, H, K', V + 1]` (FORMS.md 2.5).

    Constraints:
    - C1: `q`, `k` are `[B, H, T, K]` and `v` is `[B, H, T, V]`; the result is
      `[B, H, T, V]`.
    - C2: `q`, `k`, `v` and the result share one float element type.
    - C3: `q`, `k` and `v` agree on `B`, `H`, `T`; `q` and `k` agree on `K`.
    - C4: the identity feature map is not used with `normalize` (the
      denominator can cross zero).
    - C5: `eps` is finite and non-negative; `scale` is finite.
    - C6: initial and final states are f32 of shape `[B, H, K', V]`
      (`[B, H, K', V + 1]` with `normalize`).
    - C7: a state (initial or final) requires `causal`.
  }];
  let arguments = (ins AnyRankedTensor:$q, AnyRankedTensor:$k, AnyRankedTensor:$v,
    Optional<AnyRankedTensor>:$initial_state,
    SeqMix_FeatureMapAttr:$feature_map,
    F32Attr:$scale,
    DefaultValuedAttr<BoolAttr, "false">:$normalize,
    DefaultValuedAttr<F32Attr, "1.0e-6">:$eps,
    DefaultValuedAttr<BoolAttr, "true">:$causal,
    OptionalAttr<SeqMix_FormAttr>:$form);
  let results = (outs AnyRankedTensor:$out, Optional<AnyRankedTensor>:$final_state);
  let assemblyFormat = [{
    $q `,` $k `,` $v (`state` `(` $initial_state^ `)`)? attr-dict
    `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// Feature dimension K' after the feature map.
    int64_t getFeatureDim();
  }];
}

def SeqMix_GatedLinearAttentionOp : SeqMix_Op<"gated_linear_attention",
    [Pure, AttrSizedOperandSegments]> {
  let summary = "gated linear attention: S_t = G_t * S_{t-1} + k_t v_t^T, o_t = S_t^T (scale q_t)";
  let description = [{
    The gated linear recurrence of RetNet, GLA, Mamba-2/SSD and plain linear
    attention, with a key-major fp32 state `S` of shape `[B, H, K, V]`.
    Gates are given in log space (`g = log alpha <= 0`):

    | gate | gate operand / attribute | G_t |
    |---|---|---|
    | none | none | 1 |
    | constant | `log_decay`: one log gate per head | gamma_h |
    | scalar | `g : [B, H, T]` | exp(g_t) |
    | vector | `g : [B, H, T, K]` | exp(g_t) broadcast over V |

    Grouped value heads: `v` may have `Hv` heads, a multiple of the `H`
    heads of `q` and `k` (the layout of Gated DeltaNet models); value head
    `h` reads the `q` and `k` of head `h / (Hv / H)`, and the gates, the
    states and the result have `Hv` heads. `Hv = H` is the ungrouped op.

    Constraints:
    - C1: `q`, `k` are `[B, H, T, K]` and `v` is `[B, Hv, T, V]`; the result is
      `[B, Hv, T, V]`.
    - C2: `q`, `k`, `v` and the result share one float element type.
    - C3: `q`, `k` and `v` agree on `B`, `T`; `q` and `k` on `H` and `K`;
      `Hv` is a multiple of `H`.
    - C4: gate `none` takes neither `g` nor `log_decay`.
    - C5: gate `constant` takes `log_decay` with one finite value `<= 0` per
      value head, and no `g`.
    - C6: gate `scalar` takes an f32 `g` of shape `[B, Hv, T]`; gate `vector`
      an f32 `g` of shape `[B, Hv, T, K]`; neither takes `log_decay`.
    - C7: initial and final states are f32 of shape `[B, Hv, K, V]`.
    - C8: `scale` is finite.
  }];
  let arguments = (ins AnyRankedTensor:$q, AnyRankedTensor:$k, AnyRankedTensor:$v,
    Optional<AnyRankedTensor>:$g,
    Optional<AnyRankedTensor>:$initial_state,
    SeqMix_GateKindAttr:$gate,
    F32Attr:$scale,
    OptionalAttr<DenseF32ArrayAttr>:$log_decay,
    OptionalAttr<SeqMix_FormAttr>:$form);
  let results = (outs AnyRankedTensor:$out, Optional<AnyRankedTensor>:$final_state);
  let assemblyFormat = [{
    $q `,` $k `,` $v (`gates` `(` $g^ `)`)? (`state` `(` $initial_state^ `)`)?
    attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def SeqMix_DeltaRuleOp : SeqMix_Op<"delta_rule", [Pure, AttrSizedOperandSegments]> {
  let summary = "delta rule and gated delta rule (DeltaNet, Gated DeltaNet)";
  let description = [{
    Key-major state `S : [B, H, K, V]` (fp32):
    `S_t = alpha_t (I - beta_t k_t k_t^T) S_{t-1} + beta_t k_t v_t^T` and
    `o_t = S_t^T (scale q_t)`, with `alpha_t = exp(g_t)` when the gate operand
    `g` is present (gated delta rule) and 1 otherwise. With `l2norm_qk`, `q`
    and `k` are L2-normalized inside the op (`x / sqrt(|x|^2 + eps)`).

    Grouped value heads: `v` may have `Hv` heads, a multiple of the `H`
    heads of `q` and `k` (Gated DeltaNet's layout); value head `h` reads the
    `q` and `k` of head `h / (Hv / H)`, and `beta`, the gate, the states and
    the result have `Hv` heads.

    Constraints:
    - C1: `q`, `k` are `[B, H, T, K]`, `v` is `[B, Hv, T, V]`, `beta` is
      `[B, Hv, T]`; the result is `[B, Hv, T, V]`.
    - C2: `q`, `k`, `v`, `beta` and the result share one float element type.
    - C3: all operands agree on `B`, `T`; `q` and `k` on `H` and `K`; `v`,
      `beta` and the result on `Hv`, a multiple of `H`.
    - C4: the gate `g`, when present, is f32 of shape `[B, Hv, T]`.
    - C5: initial and final states are f32 of shape `[B, Hv, K, V]`.
    - C6: `scale` is finite; `eps` is finite and positive.
  }];
  let arguments = (ins AnyRankedTensor:$q, AnyRankedTensor:$k, AnyRankedTensor:$v,
    AnyRankedTensor:$beta,
    Optional<AnyRankedTensor>:$g,
    Optional<AnyRankedTensor>:$initial_state,
    F32Attr:$scale,
    DefaultValuedAttr<BoolAttr, "true">:$l2norm_qk,
    DefaultValuedAttr<F32Attr, "1.0e-6">:$eps,
    OptionalAttr<SeqMix_FormAttr>:$form);
  let results = (outs AnyRankedTensor:$out, Optional<AnyRankedTensor>:$final_state);
  let assemblyFormat = [{
    $q `,` $k `,` $v `,` $beta (`gates` `(` $g^ `)`)? (`state` `(` $initial_state^ `)`)?
    attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def SeqMix_SelectiveScanOp : SeqMix_Op<"selective_scan", [Pure, AttrSizedOperandSegments]> {
  let summary = "selective state-space scan (Mamba-1)";
  let description = [{
    Per channel `d` and state index `n` (state `h : [B, D, N]`, fp32):
    `delta_t = softplus(delta_raw_t + delta_bias)` (or without softplus),
    `h_t = exp(delta_t A) * h_{t-1} + delta_t B_t u_t`,
    `y_t = sum_n C_t[n] h_t[n] + D_skip u_t`, and `out_t = y_t * silu(z_t)` when
    `z` is given. Channel `d` uses group `floor(d * G / D)` of `B` and `C`.

    Constraints:
    - C1: `u`, `delta` (and `z`) are `[B, D, T]`; `A` is `[D, N]`; `B`, `C` are
      `[B, G, N, T]`; `D_skip` and `delta_bias` are `[D]`; the result is
      `[B, D, T]`.
    - C2: all operands and the result have one float element type; `A` and
      `delta_bias` are f32.
    - C3: dimensions named alike agree across operands.
    - C4: `D` is a multiple of `G`.
    - C5: initial and final states are f32 of shape `[B, D, N]`.
  }];
  let arguments = (ins AnyRankedTensor:$u, AnyRankedTensor:$delta, AnyRankedTensor:$A,
    AnyRankedTensor:$B, AnyRankedTensor:$C,
    Optional<AnyRankedTensor>:$D_skip,
    Optional<AnyRankedTensor>:$z,
    Optional<AnyRankedTensor>:$delta_bias,
    Optional<AnyRankedTensor>:$initial_state,
    DefaultValuedAttr<BoolAttr, "true">:$delta_softplus,
    OptionalAttr<SeqMix_FormAttr>:$form);
  let results = (outs AnyRankedTensor:$out, Optional<AnyRankedTensor>:$final_state);
  let assemblyFormat = [{
    $u `,` $delta `,` $A `,` $B `,` $C (`skip` `(` $D_skip^ `)`)? (`gate` `(` $z^ `)`)?
    (`delta_bias` `(` $delta_bias^ `)`)? (`state` `(` $initial_state^ `)`)?
    attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def SeqMix_LTIScanOp : SeqMix_Op<"lti_scan", [Pure, AttrSizedOperandSegments]> {
  let summary = "linear time-invariant diagonal state-space scan (S4D, H3)";
  let description = [{
    Per channel `h` with `N'` diagonal modes:
    `x_t = Abar * x_{t-1} + Bbar u_t`, `y_t = f * Re(sum_n C_n x_t[n]) + D u_t`,
    where `(Abar, Bbar)` come from `(A, B, dt = exp(log_dt))` by the
    `discretization` rule (zoh, bilinear, euler_b). The mode follows the element
    type of `A`, `B` and `C`: `complex<f32>` is complex mode (one mode per
    conjugate pair, `f = 2`), `f32` is real mode (`f = 1`).

    Constraints:
    - C1: `u` is `[B, H, T]`; `A`, `B`, `C` are `[H, N']`; `log_dt` and `D`
      are `[H]`; the result is `[B, H, T]`.
    - C2: `u` and the result share one float element type; `log_dt` and `D`
      are f32; `A`, `B`, `C` are all f32 or all `complex<f32>`.
    - C3: dimensions named alike agree across operands.
    - C4: initial and final states are `[B, H, N']` with the element type of
      `A`.
  }];
  let arguments = (ins AnyRankedTensor:$u, AnyRankedTensor:$A, AnyRankedTensor:$B,
    AnyRankedTensor:$C, AnyRankedTensor:$log_dt,
    Optional<AnyRankedTensor>:$D_skip,
    Optional<AnyRankedTensor>:$initial_state,
    SeqMix_DiscretizationAttr:$discretization,
    OptionalAttr<SeqMix_FormAttr>:$form);
  let results = (outs AnyRankedTensor:$out, Optional<AnyRankedTensor>:$final_state);
  let assemblyFormat = [{
    $u `,` $A `,` $B `,` $C `,` $log_dt (`skip` `(` $D_skip^ `)`)?
    (`state` `(` $initial_state^ `)`)? attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def SeqMix_CausalConv1dOp : SeqMix_Op<"causal_conv1d", [Pure, AttrSizedOperandSegments]> {
  let summary = "depthwise causal convolution (the short conv of Mamba, H3, Gated DeltaNet)";
  let description = [{
    Per channel `d` with `W` taps `w[d, 0..W-1]` over the input extended on
    the left by the `W - 1` inputs before it (the conv state; zeros without
    one), `x~ = [state, x]`:
    `out[t] = act(sum_k w[d, k] x~[t + k] + bias[d])`, with `act` the identity
    or `silu` (`z sigmoid(z)`). The final state is the last `W - 1` entries of
    `x~`, so that a call on the next tokens continues the sequence (decode).

    Constraints:
    - C1: `x` is `[B, D, T]`; `weight` is `[D, W]`; `bias` is `[D]`; the
      result is `[B, D, T]`.
    - C2: `x`, `weight`, `bias` and the result have one float element type.
    - C3: dimensions named alike agree across operands.
    - C4: `W` is static and at least 1.
    - C5: initial and final states are `[B, D, W - 1]` with the element type
      of `x`.

    The op has one form, `parallel`: every output reads its `W` inputs
    directly (no state is carried across the sequence).
  }];
  let arguments = (ins AnyRankedTensor:$x, AnyRankedTensor:$weight,
    Optional<AnyRankedTensor>:$bias,
    Optional<AnyRankedTensor>:$initial_state,
    DefaultValuedAttr<BoolAttr, "false">:$silu,
    OptionalAttr<SeqMix_FormAttr>:$form);
  let results = (outs AnyRankedTensor:$out, Optional<AnyRankedTensor>:$final_state);
  let assemblyFormat = [{
    $x `,` $weight (`bias` `(` $bias^ `)`)? (`state` `(` $initial_state^ `)`)?
    attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

#endif // SEQMIX_OPS_TD
