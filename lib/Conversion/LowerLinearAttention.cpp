//===- LowerLinearAttention.cpp - kernelized linear attention by form -----===//
//
// Recurrent form (FORMS.md 2.3), every feature map: per (batch, head) slice
// an scf.for over time carries the fp32 state S [K', V'], where V' = V + 1
// with the normalizer (the value row augmented by a one, so that the last
// state column is z and the last output column the denominator, FORMS.md
// 2.5):
//   S = S + phi(k_t) [v_t, 1]^T,   o'_t = S^T (scale phi(q_t)),
//   o_t = o'_t[:V] / (o'_t[V] + eps)   (or o'_t with no normalizer).
// The feature map is applied to each token's q and k rows inside the loop,
// never as a pass over q and k in memory. The non-causal op (no state)
// first sums S over the whole sequence, then reads every row out of it.
// The parallel and chunked forms are not lowered yet.
//
//===----------------------------------------------------------------------===//
#include "seqmix/Conversion/LowerForms.h"

#include "SliceKernelBuilder.h"

#include <cmath>

using namespace mlir;
using namespace mlir::seqmix;

namespace {
using utils::IteratorType;
constexpr IteratorType kPar = IteratorType::parallel;
constexpr IteratorType kRed = IteratorType::reduction;

/// Shapes and attributes of one linear-attention op.
struct LinearInfo {
  LinearAttentionOp op;
  int64_t H, K, Kf, V, cols; // cols: V, or V + 1 with the normalizer
  Value batch, seqLen;       // index values
  FeatureMap map;
  float scale, eps;
  bool normalize, causal;
};

/// phi(x) of a [K] row as a [K'] tensor, times `scale` (null: 1).
Value featureRow(SliceKernelBuilder &kb, const LinearInfo &info, Value x,
                 Value scale) {
  ImplicitLocOpBuilder &b = kb.builder();
  auto times = [&](OpBuilder &bb, Location l, Value v) -> Value {
    return scale ? arith::MulFOp::create(bb, l, v, scale).getResult() : v;
  };
  if (info.map != FeatureMap::taylor)
    return kb.generic(
        ValueRange{x}, kb.empty({kb.ofr(info.K)}), 1, {{0}, {0}}, {kPar},
        [&](OpBuilder &bb, Location l, ValueRange a) -> Value {
          Value v = a[0];
          Value zero = arith::ConstantOp::create(bb, l, bb.getF32FloatAttr(0));
          switch (info.map) {
          case FeatureMap::elu1: {
            // x + 1 for x > 0, else exp(x), with the exp taken of min(x, 0)
            // so that it never overflows.
            Value one = arith::ConstantOp::create(bb, l, bb.getF32FloatAttr(1));
            Value pos = arith::CmpFOp::create(bb, l, arith::CmpFPredicate::OGT,
                                              v, zero);
            Value neg = math::ExpOp::create(
                bb, l, arith::MinimumFOp::create(bb, l, v, zero));
            v = arith::SelectOp::create(
                bb, l, pos, arith::AddFOp::create(bb, l, v, one), neg);
            break;
          }
          case FeatureMap::relu:
            v = arith::MaximumFOp::create(bb, l, v, zero);
            break;
          default:
            break;
          }
          return times(bb, l, v);
        });
  // Taylor (Based): phi_p = c_p x'[i_p] x'[j_p] over x' = [1, x]: the
  // constant, x / d^(1/4), x_i^2 / (sqrt2 sqrt d), then x_i x_j / sqrt d for
  // i < j, in the reference's order.
  int64_t K = info.K;
  double d = static_cast<double>(K);
  SmallVector<APInt> is, js;
  SmallVector<float> cs;
  auto push = [&](int64_t i, int64_t j, double c) {
    is.push_back(APInt(64, i));
    js.push_back(APInt(64, j));
    cs.push_back(static_cast<float>(c));
  };
  push(0, 0, 1.0);
  for (int64_t i = 0; i < K; ++i)
    push(1 + i, 0, 1.0 / std::pow(d, 0.25));
  for (int64_t i = 0; i < K; ++i)
    push(1 + i, 1 + i, 1.0 / (std::sqrt(2.0) * std::sqrt(d)));
  for (int64_t i = 0; i < K; ++i)
    for (int64_t j = i + 1; j < K; ++j)
      push(1 + i, 1 + j, 1.0 / std::sqrt(d));
  auto indexType = RankedTensorType::get({info.Kf}, b.getIndexType());
  auto f32Type = RankedTensorType::get({info.Kf}, kb.f32Type());
  Value iTable = arith::ConstantOp::create(
      b, indexType, DenseElementsAttr::get(indexType, is));
  Value jTable = arith::ConstantOp::create(
      b, indexType, DenseElementsAttr::get(indexType, js));
  Value cTable = arith::ConstantOp::create(
      b, f32Type, DenseElementsAttr::get(f32Type, ArrayRef<float>(cs)));
  Value ext = kb.fill(kb.empty({kb.ofr(K + 1)}), 1.0);
  ext = kb.insert(x, ext, {kb.ofr(1)}, {kb.ofr(K)});
  return kb.generic(
      ValueRange{iTable, jTable, cTable}, kb.empty({kb.ofr(info.Kf)}), 1,
      {{0}, {0}, {0}, {0}}, {kPar},
      [&](OpBuilder &bb, Location l, ValueRange a) -> Value {
        Value xi = tensor::ExtractOp::create(bb, l, ext, ValueRange{a[0]});
        Value xj = tensor::ExtractOp::create(bb, l, ext, ValueRange{a[1]});
        Value v = arith::MulFOp::create(bb, l, a[2],
                                        arith::MulFOp::create(bb, l, xi, xj));
        return times(bb, l, v);
      });
}

/// Row t of q or k of slice (bi, hi), as a [K] tensor.
Value tokenRow(SliceKernelBuilder &kb, Value src, Value bi, Value hi, Value t,
               int64_t width) {
  return kb.slice(src, {bi, hi, t, kb.ofr(0)},
                  {kb.ofr(1), kb.ofr(1), kb.ofr(1), kb.ofr(width)}, {3});
}

/// The state update S <- S + phi(k_t) [v_t, 1]^T.
Value updateState(SliceKernelBuilder &kb, const LinearInfo &info, Value state,
                  Value bi, Value hi, Value t) {
  LinearAttentionOp op = info.op;
  Value kf =
      featureRow(kb, info, tokenRow(kb, op.getK(), bi, hi, t, info.K), Value());
  Value vt = tokenRow(kb, op.getV(), bi, hi, t, info.V);
  if (info.normalize) {
    Value ext = kb.fill(kb.empty({kb.ofr(info.cols)}), 1.0);
    vt = kb.insert(vt, ext, {kb.ofr(0)}, {kb.ofr(info.V)});
  }
  return kb.generic(ValueRange{kf, vt}, state, 2, {{0}, {1}, {0, 1}},
                    SliceKernelBuilder::parallel(2),
                    [](OpBuilder &bb, Location l, ValueRange a) -> Value {
                      Value kv = arith::MulFOp::create(bb, l, a[0], a[1]);
                      return arith::AddFOp::create(bb, l, a[2], kv);
                    });
}

/// Output row t: S^T (scale phi(q_t)), divided by its last column plus eps
/// with the normalizer, inserted into `out` ([T, V]).
Value readOut(SliceKernelBuilder &kb, const LinearInfo &info, Value state,
              Value out, Value bi, Value hi, Value t) {
  Value qf = featureRow(
      kb, info,
      tokenRow(kb, LinearAttentionOp(info.op).getQ(), bi, hi, t, info.K),
      kb.f(info.scale));
  Value num = kb.fill(kb.empty({kb.ofr(info.cols)}), 0.0);
  num = kb.generic(ValueRange{state, qf}, num, 2, {{1, 0}, {1}, {0}},
                   {kPar, kRed},
                   [](OpBuilder &bb, Location l, ValueRange a) -> Value {
                     Value p = arith::MulFOp::create(bb, l, a[0], a[1]);
                     return arith::AddFOp::create(bb, l, a[2], p);
                   });
  Value row = num;
  if (info.normalize) {
    ImplicitLocOpBuilder &b = kb.builder();
    Value den = tensor::ExtractOp::create(
        b, num, ValueRange{arith::ConstantIndexOp::create(b, info.V)});
    den = arith::AddFOp::create(b, den, kb.f(info.eps));
    Value head = kb.slice(num, {kb.ofr(0)}, {kb.ofr(info.V)}, {0});
    row = kb.generic(ValueRange{head}, kb.empty({kb.ofr(info.V)}), 1,
                     {{0}, {0}}, {kPar},
                     [&](OpBuilder &bb, Location l, ValueRange a) -> Value {
                       return arith::DivFOp::create(bb, l, a[0], den);
                     });
  }
  return kb.insert(row, out, {t, kb.ofr(0)}, {kb.ofr(1), kb.ofr(info.V)});
}

std::pair<Value, Value> buildRecurrentSlice(SliceKernelBuilder &kb,
                                            const LinearInfo &info, Value bi,
                                            Value hi, Value outArg,
                                            Value stateArg) {
  ImplicitLocOpBuilder &b = kb.builder();
  LinearAttentionOp op = info.op;
  SmallVector<OpFoldResult> offs = {bi, hi, kb.ofr(0), kb.ofr(0)};
  SmallVector<OpFoldResult> sizes = {kb.ofr(1), kb.ofr(1), kb.ofr(info.Kf),
                                     kb.ofr(info.cols)};
  Value state = stateArg ? kb.slice(stateArg, offs, sizes, {2, 3})
                         : kb.empty({kb.ofr(info.Kf), kb.ofr(info.cols)});
  if (Value init = op.getInitialState())
    state = linalg::CopyOp::create(
                b, ValueRange{kb.slice(init, offs, sizes, {2, 3})},
                ValueRange{state})
                .getResult(0);
  else
    state = kb.fill(state, 0.0);
  Value out =
      kb.slice(outArg, {bi, hi, kb.ofr(0), kb.ofr(0)},
               {kb.ofr(1), kb.ofr(1), info.seqLen, kb.ofr(info.V)}, {2, 3});
  if (!info.causal) {
    // Every output row reads the state of the whole sequence.
    auto sum = scf::ForOp::create(
        b, kb.index(0), info.seqLen, kb.index(1), ValueRange{state},
        [&](OpBuilder &nb, Location loc, Value t, ValueRange iter) {
          ImplicitLocOpBuilder ib(loc, nb);
          SliceKernelBuilder k(ib);
          scf::YieldOp::create(
              ib, ValueRange{updateState(k, info, iter[0], bi, hi, t)});
        });
    state = sum.getResult(0);
    auto rows = scf::ForOp::create(
        b, kb.index(0), info.seqLen, kb.index(1), ValueRange{out},
        [&](OpBuilder &nb, Location loc, Value t, ValueRange iter) {
          ImplicitLocOpBuilder ib(loc, nb);
          SliceKernelBuilder k(ib);
          scf::YieldOp::create(
              ib, ValueRange{readOut(k, info, state, iter[0], bi, hi, t)});
        });
    return {rows.getResult(0), state};
  }
  auto loop = scf::ForOp::create(
      b, kb.index(0), info.seqLen, kb.index(1), ValueRange{state, out},
      [&](OpBuilder &nb, Location loc, Value t, ValueRange iter) {
        ImplicitLocOpBuilder ib(loc, nb);
        SliceKernelBuilder k(ib);
        Value s = updateState(k, info, iter[0], bi, hi, t);
        Value o = readOut(k, info, s, iter[1], bi, hi, t);
        scf::YieldOp::create(ib, ValueRange{s, o});
      });
  return {loop.getResult(1), loop.getResult(0)};
}
} // namespace

std::string mlir::seqmix::whyNotLoweredLinear(LinearAttentionOp op,
                                              FormKind form) {
  if (form != FormKind::recurrent)
    return ("the " + stringifyFormKind(form) +
            " form of seqmix.linear_attention is not lowered yet; use form "
            "recurrent")
        .str();
  return "";
}

LogicalResult mlir::seqmix::lowerLinearAttention(LinearAttentionOp op,
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
  int64_t V = vType.getDimSize(3);
  LinearInfo info{op,
                  qType.getDimSize(1),
                  qType.getDimSize(3),
                  op.getFeatureDim(),
                  V,
                  V + (op.getNormalize() ? 1 : 0),
                  tensor::DimOp::create(b, op.getQ(), 0),
                  tensor::DimOp::create(b, op.getQ(), 2),
                  op.getFeatureMap(),
                  op.getScale().convertToFloat(),
                  op.getEps().convertToFloat(),
                  op.getNormalize(),
                  op.getCausal()};
  HeadSliceShape shape{
      cast<RankedTensorType>(op.getOut().getType()),
      op.getFinalState() ? cast<RankedTensorType>(op.getFinalState().getType())
                         : RankedTensorType(),
      info.batch,
      info.seqLen,
      info.H,
      info.V,
      info.Kf,
      info.cols};
  scf::ForallOp loop = buildHeadSliceLoop(
      b, shape,
      [&](SliceKernelBuilder &kb, Value bi, Value hi, Value outArg,
          Value stateArg) {
        return buildRecurrentSlice(kb, info, bi, hi, outArg, stateArg);
      });
  rewriter.replaceOp(op, loop.getResults());
  return success();
}
