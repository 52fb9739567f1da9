//===- LowerDeltaRule.cpp - delta rule and gated delta rule by form -------===//
//
// Recurrent form (FORMS.md 4.2), in the stored orientation S [K, V] (fp32):
// per (batch, head) slice an scf.for over time carries S and, per token,
//   S = exp(g_t) S                      (gated delta rule only)
//   u = beta_t (v_t - S^T k_t)          (the correction actually written)
//   S = S + k_t u^T
//   o_t = S^T (scale q_t)
// with q and k L2-normalized in the kernel (x / sqrt(|x|^2 + eps)) when the
// op asks. The chunked (WY / UT transform) and parallel forms are not
// lowered yet.
//
//===----------------------------------------------------------------------===//
#include "seqmix/Conversion/LowerForms.h"

#include "SliceKernelBuilder.h"

using namespace mlir;
using namespace mlir::seqmix;

namespace {
using utils::IteratorType;
constexpr IteratorType kPar = IteratorType::parallel;
constexpr IteratorType kRed = IteratorType::reduction;

/// Shapes and attributes of one delta-rule op.
struct DeltaInfo {
  DeltaRuleOp op;
  int64_t H, K, V;
  Value batch, seqLen; // index values
  float scale, eps;
  bool l2norm;
};

/// Row t of `src` ([B, H, T, width]) of slice (bi, hi), as a [width] tensor.
Value tokenRow(SliceKernelBuilder &kb, Value src, Value bi, Value hi, Value t,
               int64_t width) {
  return kb.slice(src, {bi, hi, t, kb.ofr(0)},
                  {kb.ofr(1), kb.ofr(1), kb.ofr(1), kb.ofr(width)}, {3});
}

/// x * factor / sqrt(|x|^2 + eps) with the L2 normalization, else
/// x * factor (factor null: 1).
Value normalizedRow(SliceKernelBuilder &kb, const DeltaInfo &info, Value x,
                    Value factor) {
  ImplicitLocOpBuilder &b = kb.builder();
  Value f = factor;
  if (info.l2norm) {
    Value sq = kb.fill(kb.empty({}), 0.0);
    sq = kb.generic(ValueRange{x}, sq, 1, {{0}, {}}, {kRed},
                    [](OpBuilder &bb, Location l, ValueRange a) -> Value {
                      Value p = arith::MulFOp::create(bb, l, a[0], a[0]);
                      return arith::AddFOp::create(bb, l, a[1], p);
                    });
    Value norm2 = tensor::ExtractOp::create(b, sq, ValueRange{});
    Value inv = math::RsqrtOp::create(
        b, arith::AddFOp::create(b, norm2, kb.f(info.eps)));
    f = f ? arith::MulFOp::create(b, f, inv).getResult() : inv;
  }
  if (!f)
    return x;
  return kb.generic(ValueRange{x}, kb.empty({kb.ofr(info.K)}), 1, {{0}, {0}},
                    {kPar},
                    [&](OpBuilder &bb, Location l, ValueRange a) -> Value {
                      return arith::MulFOp::create(bb, l, a[0], f);
                    });
}

std::pair<Value, Value> buildRecurrentSlice(SliceKernelBuilder &kb,
                                            const DeltaInfo &info, Value bi,
                                            Value hi, Value outArg,
                                            Value stateArg) {
  ImplicitLocOpBuilder &b = kb.builder();
  DeltaRuleOp op = info.op;
  int64_t K = info.K, V = info.V;
  SmallVector<OpFoldResult> offs = {bi, hi, kb.ofr(0), kb.ofr(0)};
  SmallVector<OpFoldResult> sizes = {kb.ofr(1), kb.ofr(1), kb.ofr(K),
                                     kb.ofr(V)};
  Value state = stateArg ? kb.slice(stateArg, offs, sizes, {2, 3})
                         : kb.empty({kb.ofr(K), kb.ofr(V)});
  if (Value init = op.getInitialState())
    state = linalg::CopyOp::create(
                b, ValueRange{kb.slice(init, offs, sizes, {2, 3})},
                ValueRange{state})
                .getResult(0);
  else
    state = kb.fill(state, 0.0);
  Value out = kb.slice(outArg, {bi, hi, kb.ofr(0), kb.ofr(0)},
                       {kb.ofr(1), kb.ofr(1), info.seqLen, kb.ofr(V)}, {2, 3});
  auto loop = scf::ForOp::create(
      b, kb.index(0), info.seqLen, kb.index(1), ValueRange{state, out},
      [&](OpBuilder &nb, Location loc, Value t, ValueRange iter) {
        ImplicitLocOpBuilder ib(loc, nb);
        SliceKernelBuilder k(ib);
        Value kt = normalizedRow(k, info, tokenRow(k, op.getK(), bi, hi, t, K),
                                 Value());
        Value qt = normalizedRow(k, info, tokenRow(k, op.getQ(), bi, hi, t, K),
                                 k.f(info.scale));
        Value vt = tokenRow(k, op.getV(), bi, hi, t, V);
        Value beta =
            tensor::ExtractOp::create(ib, op.getBeta(), ValueRange{bi, hi, t});
        Value s = iter[0];
        if (Value g = op.getG()) {
          Value alpha = math::ExpOp::create(
              ib, tensor::ExtractOp::create(ib, g, ValueRange{bi, hi, t}));
          s = k.generic(ValueRange{}, s, 2, {{0, 1}},
                        SliceKernelBuilder::parallel(2),
                        [&](OpBuilder &bb, Location l, ValueRange a) -> Value {
                          return arith::MulFOp::create(bb, l, a[0], alpha);
                        });
        }
        // w = S^T k_t, then u = beta (v_t - w).
        Value w = k.fill(k.empty({k.ofr(V)}), 0.0);
        w = k.generic(ValueRange{s, kt}, w, 2, {{1, 0}, {1}, {0}}, {kPar, kRed},
                      [](OpBuilder &bb, Location l, ValueRange a) -> Value {
                        Value p = arith::MulFOp::create(bb, l, a[0], a[1]);
                        return arith::AddFOp::create(bb, l, a[2], p);
                      });
        Value u = k.generic(
            ValueRange{vt, w}, k.empty({k.ofr(V)}), 1, {{0}, {0}, {0}}, {kPar},
            [&](OpBuilder &bb, Location l, ValueRange a) -> Value {
              Value d = arith::SubFOp::create(bb, l, a[0], a[1]);
              return arith::MulFOp::create(bb, l, d, beta);
            });
        // S <- S + k_t u^T.
        s = k.generic(ValueRange{kt, u}, s, 2, {{0}, {1}, {0, 1}},
                      SliceKernelBuilder::parallel(2),
                      [](OpBuilder &bb, Location l, ValueRange a) -> Value {
                        Value p = arith::MulFOp::create(bb, l, a[0], a[1]);
                        return arith::AddFOp::create(bb, l, a[2], p);
                      });
        // o_t = S^T (scale q_t).
        Value orow = k.slice(iter[1], {t, k.ofr(0)}, {k.ofr(1), k.ofr(V)}, {1});
        orow = k.fill(orow, 0.0);
        orow = k.generic(ValueRange{s, qt}, orow, 2, {{1, 0}, {1}, {0}},
                         {kPar, kRed},
                         [](OpBuilder &bb, Location l, ValueRange a) -> Value {
                           Value p = arith::MulFOp::create(bb, l, a[0], a[1]);
                           return arith::AddFOp::create(bb, l, a[2], p);
                         });
        Value o = k.insert(orow, iter[1], {t, k.ofr(0)}, {k.ofr(1), k.ofr(V)});
        scf::YieldOp::create(ib, ValueRange{s, o});
      });
  return {loop.getResult(1), loop.getResult(0)};
}
} // namespace

std::string mlir::seqmix::whyNotLoweredDelta(DeltaRuleOp op, FormKind form) {
  if (form != FormKind::recurrent)
    return ("the " + stringifyFormKind(form) +
            " form of seqmix.delta_rule (the WY representation, FORMS.md "
            "4.3-4.4) is not lowered yet; use form recurrent")
        .str();
  return "";
}

LogicalResult mlir::seqmix::lowerDeltaRule(DeltaRuleOp op,
                                           RewriterBase &rewriter) {
  auto qType = cast<RankedTensorType>(op.getQ().getType());
  auto vType = cast<RankedTensorType>(op.getV().getType());
  if (qType.isDynamicDim(1) || qType.isDynamicDim(3) || vType.isDynamicDim(3))
    return op.emitOpError(
        "cannot be lowered: heads, key_dim and value_dim must be static");
  if (!qType.getElementType().isF32())
    return op.emitOpError() << "cannot be lowered: only f32 activations are "
                               "lowered yet, got "
                            << qType.getElementType();
  rewriter.setInsertionPoint(op);
  ImplicitLocOpBuilder b(op.getLoc(), rewriter);
  DeltaInfo info{op,
                 qType.getDimSize(1),
                 qType.getDimSize(3),
                 vType.getDimSize(3),
                 tensor::DimOp::create(b, op.getQ(), 0),
                 tensor::DimOp::create(b, op.getQ(), 2),
                 op.getScale().convertToFloat(),
                 op.getEps().convertToFloat(),
                 op.getL2normQk()};
  HeadSliceShape shape{
      cast<RankedTensorType>(op.getOut().getType()),
      op.getFinalState() ? cast<RankedTensorType>(op.getFinalState().getType())
                         : RankedTensorType(),
      info.batch,
      info.seqLen,
      info.H,
      info.V,
      info.K,
      info.V};
  scf::ForallOp loop = buildHeadSliceLoop(
      b, shape,
      [&](SliceKernelBuilder &kb, Value bi, Value hi, Value outArg,
          Value stateArg) {
        return buildRecurrentSlice(kb, info, bi, hi, outArg, stateArg);
      });
  rewriter.replaceOp(op, loop.getResults());
  return success();
}
