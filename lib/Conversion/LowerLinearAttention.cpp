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
//
// Parallel and chunked forms (FORMS.md 2.4, 2.5): the feature-mapped q and
// k of a block (the whole sequence, or one chunk of C tokens, mapped in the
// kernel) and its augmented values go through the ungated block of gated
// linear attention (UngatedBlock.h): tril(scale Q^ K^T) V' + (scale Q^) S,
// and S + K^T V' for the next chunk, all contractions the CPU schedule
// tiles. With Based's Taylor map the intra scores are scale (1 + s + s^2/2)
// from s = q.k / sqrt(d): one contraction over d instead of over the
// K' = 1 + d + d(d+1)/2 features. Non-causal layers take
// O = (scale Q^)(K^T V') in both forms.
//
//===----------------------------------------------------------------------===//
#include "seqmix/Conversion/LowerForms.h"

#include "SliceKernelBuilder.h"
#include "UngatedBlock.h"

#include <array>

#include <cmath>

using namespace mlir;
using namespace mlir::seqmix;

namespace {

/// Shapes and attributes of one linear-attention op.
struct LinearInfo {
  LinearAttentionOp op;
  int64_t H, K, Kf, V, cols; // cols: V, or V + 1 with the normalizer
  Value batch, seqLen;       // index values
  FeatureMap map;
  float scale, eps;
  bool normalize, causal;
};

/// phi of one element for the elementwise maps (identity, elu1, relu).
Value mapElement(OpBuilder &bb, Location l, FeatureMap map, Value v) {
  Value zero = arith::ConstantOp::create(bb, l, bb.getF32FloatAttr(0));
  switch (map) {
  case FeatureMap::elu1: {
    // x + 1 for x > 0, else exp(x), with the exp taken of min(x, 0) so that
    // it never overflows.
    Value one = arith::ConstantOp::create(bb, l, bb.getF32FloatAttr(1));
    Value pos =
        arith::CmpFOp::create(bb, l, arith::CmpFPredicate::OGT, v, zero);
    Value neg =
        math::ExpOp::create(bb, l, arith::MinimumFOp::create(bb, l, v, zero));
    return arith::SelectOp::create(bb, l, pos,
                                   arith::AddFOp::create(bb, l, v, one), neg);
  }
  case FeatureMap::relu:
    return arith::MaximumFOp::create(bb, l, v, zero);
  default:
    return v;
  }
}

/// The Taylor (Based) map as phi_p = c_p x'[i_p] x'[j_p] over x' = [1, x]:
/// the constant, x / d^(1/4), x_i^2 / (sqrt2 sqrt d), then x_i x_j / sqrt d
/// for i < j, in the reference's order. The tables i, j (index) and c (f32),
/// each [K'].
std::array<Value, 3> taylorTables(SliceKernelBuilder &kb,
                                  const LinearInfo &info) {
  ImplicitLocOpBuilder &b = kb.builder();
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
  return {
      arith::ConstantOp::create(b, indexType,
                                DenseElementsAttr::get(indexType, is)),
      arith::ConstantOp::create(b, indexType,
                                DenseElementsAttr::get(indexType, js)),
      arith::ConstantOp::create(
          b, f32Type, DenseElementsAttr::get(f32Type, ArrayRef<float>(cs)))};
}

/// phi(x) of a [K] row as a [K'] tensor, times `scale` (null: 1).
Value featureRow(SliceKernelBuilder &kb, const LinearInfo &info, Value x,
                 Value scale) {
  auto times = [&](OpBuilder &bb, Location l, Value v) -> Value {
    return scale ? arith::MulFOp::create(bb, l, v, scale).getResult() : v;
  };
  if (info.map != FeatureMap::taylor)
    return kb.generic(ValueRange{x}, kb.empty({kb.ofr(info.K)}), 1, {{0}, {0}},
                      {kPar},
                      [&](OpBuilder &bb, Location l, ValueRange a) -> Value {
                        return times(bb, l, mapElement(bb, l, info.map, a[0]));
                      });
  auto [iTable, jTable, cTable] = taylorTables(kb, info);
  Value ext = kb.fill(kb.empty({kb.ofr(info.K + 1)}), 1.0);
  ext = kb.insert(x, ext, {kb.ofr(1)}, {kb.ofr(info.K)});
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

/// phi of every row of an [n, K] block as an [n, K'] tensor (a block of a
/// chunk or of the slice, in the kernel).
Value featureRows(SliceKernelBuilder &kb, const LinearInfo &info, Value x,
                  OpFoldResult n) {
  if (info.map != FeatureMap::taylor)
    return kb.generic(ValueRange{x}, kb.empty({n, kb.ofr(info.K)}), 2,
                      {{0, 1}, {0, 1}}, SliceKernelBuilder::parallel(2),
                      [&](OpBuilder &bb, Location l, ValueRange a) -> Value {
                        return mapElement(bb, l, info.map, a[0]);
                      });
  auto [iTable, jTable, cTable] = taylorTables(kb, info);
  Value ext = kb.fill(kb.empty({n, kb.ofr(info.K + 1)}), 1.0);
  ext = kb.insert(x, ext, {kb.ofr(0), kb.ofr(1)}, {n, kb.ofr(info.K)});
  return kb.generic(
      ValueRange{iTable, jTable, cTable}, kb.empty({n, kb.ofr(info.Kf)}), 2,
      {{1}, {1}, {1}, {0, 1}}, SliceKernelBuilder::parallel(2),
      [&](OpBuilder &bb, Location l, ValueRange a) -> Value {
        Value t = linalg::IndexOp::create(bb, l, 0);
        Value xi = tensor::ExtractOp::create(bb, l, ext, ValueRange{t, a[0]});
        Value xj = tensor::ExtractOp::create(bb, l, ext, ValueRange{t, a[1]});
        return arith::MulFOp::create(bb, l, a[2],
                                     arith::MulFOp::create(bb, l, xi, xj));
      });
}

/// The value rows of a block augmented by a ones column with the
/// normalizer ([n, V + 1]), else as they are.
Value augmentedValues(SliceKernelBuilder &kb, const LinearInfo &info, Value v,
                      OpFoldResult n) {
  if (!info.normalize)
    return v;
  Value ext = kb.fill(kb.empty({n, kb.ofr(info.cols)}), 1.0);
  return kb.insert(v, ext, {kb.ofr(0), kb.ofr(0)}, {n, kb.ofr(info.V)});
}

/// The [n, V] outputs of an [n, V'] block: with the normalizer each row
/// divided by its last column plus eps, written into `dest`.
Value normalizedRows(SliceKernelBuilder &kb, const LinearInfo &info,
                     Value outAug, OpFoldResult n, Value dest) {
  if (!info.normalize)
    return outAug;
  Value head =
      kb.slice(outAug, {kb.ofr(0), kb.ofr(0)}, {n, kb.ofr(info.V)}, {0, 1});
  Value den =
      kb.slice(outAug, {kb.ofr(0), kb.ofr(info.V)}, {n, kb.ofr(1)}, {0});
  Value eps = kb.f(info.eps);
  return kb.generic(ValueRange{head, den}, dest, 2, {{0, 1}, {0}, {0, 1}},
                    SliceKernelBuilder::parallel(2),
                    [&](OpBuilder &bb, Location l, ValueRange a) -> Value {
                      Value d = arith::AddFOp::create(bb, l, a[1], eps);
                      return arith::DivFOp::create(bb, l, a[0], d);
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

/// The slice's [K', V'] state before the sequence (SliceKernelBuilder.h).
Value initialState(SliceKernelBuilder &kb, const LinearInfo &info, Value bi,
                   Value hi, Value stateArg) {
  LinearAttentionOp op = info.op;
  return initialSliceState(kb, op.getInitialState(), stateArg, bi, hi, info.Kf,
                           info.cols);
}

/// The [T, V] output rows of slice (bi, hi).
Value outputRows(SliceKernelBuilder &kb, const LinearInfo &info, Value bi,
                 Value hi, Value outArg) {
  return kb.slice(outArg, {bi, hi, kb.ofr(0), kb.ofr(0)},
                  {kb.ofr(1), kb.ofr(1), info.seqLen, kb.ofr(info.V)}, {2, 3});
}

/// Rows [start, start + n) of q, k or v of slice (bi, hi).
Value blockRows(SliceKernelBuilder &kb, Value src, Value bi, Value hi,
                OpFoldResult start, OpFoldResult n, int64_t width) {
  return kb.slice(src, {bi, hi, start, kb.ofr(0)},
                  {kb.ofr(1), kb.ofr(1), n, kb.ofr(width)}, {2, 3});
}

/// Tokens [start, start + n) as one ungated block: phi(q), phi(k) and the
/// (augmented) values, the carried state; returns the [n, V] outputs
/// written into `dest` and the state after the block (when `wantState`).
std::pair<Value, Value> causalBlock(SliceKernelBuilder &kb,
                                    const LinearInfo &info, Value bi, Value hi,
                                    OpFoldResult start, Value n, Value state,
                                    bool stateIsZero, bool wantState,
                                    Value dest) {
  LinearAttentionOp op = info.op;
  OpFoldResult len = getAsOpFoldResult(n);
  UngatedBlock blk;
  Value q = blockRows(kb, op.getQ(), bi, hi, start, len, info.K);
  Value k = blockRows(kb, op.getK(), bi, hi, start, len, info.K);
  blk.q = featureRows(kb, info, q, len);
  blk.k = featureRows(kb, info, k, len);
  if (info.map == FeatureMap::taylor) {
    // The intra scores from the raw rows: 1 + s + s^2/2 (FORMS.md 2.2).
    blk.taylorQ = q;
    blk.taylorK = k;
  }
  blk.v = augmentedValues(
      kb, info, blockRows(kb, op.getV(), bi, hi, start, len, info.V), len);
  blk.len = n;
  blk.out = info.normalize ? kb.empty({len, kb.ofr(info.cols)}) : dest;
  blk.state = state;
  blk.stateIsZero = stateIsZero;
  blk.wantState = wantState;
  auto [out, after] =
      buildUngatedBlock(kb, info.Kf, info.cols, info.scale, blk);
  return {normalizedRows(kb, info, out, len, dest), after};
}

/// Non-causal, in the parallel and chunked forms: O = (scale phi(Q))
/// (phi(K)^T V'), two contractions and no quadratic term (FORMS.md 2.4).
Value nonCausalSlice(SliceKernelBuilder &kb, const LinearInfo &info, Value bi,
                     Value hi, Value outArg) {
  ImplicitLocOpBuilder &b = kb.builder();
  LinearAttentionOp op = info.op;
  OpFoldResult T = getAsOpFoldResult(info.seqLen);
  Value qf = featureRows(
      kb, info, blockRows(kb, op.getQ(), bi, hi, kb.ofr(0), T, info.K), T);
  Value kf = featureRows(
      kb, info, blockRows(kb, op.getK(), bi, hi, kb.ofr(0), T, info.K), T);
  Value v = augmentedValues(
      kb, info, blockRows(kb, op.getV(), bi, hi, kb.ofr(0), T, info.V), T);
  Value S = kb.zeros({kb.ofr(info.Kf), kb.ofr(info.cols)});
  S = kb.generic(ValueRange{kf, v}, S, 3, {{2, 0}, {2, 1}, {0, 1}},
                 {kPar, kPar, kRed},
                 [](OpBuilder &bb, Location l, ValueRange a) -> Value {
                   Value p = arith::MulFOp::create(bb, l, a[0], a[1]);
                   return arith::AddFOp::create(bb, l, a[2], p);
                 });
  Value scale = kb.f(info.scale);
  S = kb.generic(ValueRange{}, S, 2, {{0, 1}}, SliceKernelBuilder::parallel(2),
                 [&](OpBuilder &bb, Location l, ValueRange a) -> Value {
                   return arith::MulFOp::create(bb, l, a[0], scale);
                 });
  Value dest = outputRows(kb, info, bi, hi, outArg);
  Value O =
      kb.fill(info.normalize ? kb.empty({T, kb.ofr(info.cols)}) : dest, 0.0);
  O = linalg::MatmulOp::create(b, ValueRange{qf, S}, ValueRange{O})
          .getResult(0);
  return normalizedRows(kb, info, O, T, dest);
}

std::pair<Value, Value> buildParallelSlice(SliceKernelBuilder &kb,
                                           const LinearInfo &info, Value bi,
                                           Value hi, Value outArg,
                                           Value stateArg) {
  if (!info.causal)
    return {nonCausalSlice(kb, info, bi, hi, outArg), Value()};
  bool init = static_cast<bool>(LinearAttentionOp(info.op).getInitialState());
  Value state =
      init || stateArg ? initialState(kb, info, bi, hi, stateArg) : Value();
  return causalBlock(kb, info, bi, hi, kb.ofr(0), info.seqLen, state, !init,
                     static_cast<bool>(stateArg),
                     outputRows(kb, info, bi, hi, outArg));
}

/// FORMS.md 2.5: an scf.for over chunks of C tokens carries the state; each
/// chunk is an ungated block with the carried state; full chunks take a
/// copy with static shapes, the last may be shorter.
std::pair<Value, Value> buildChunkedSlice(SliceKernelBuilder &kb,
                                          const LinearInfo &info, int64_t chunk,
                                          Value bi, Value hi, Value outArg,
                                          Value stateArg) {
  if (!info.causal)
    return {nonCausalSlice(kb, info, bi, hi, outArg), Value()};
  Value s0 = initialState(kb, info, bi, hi, stateArg);
  Value o0 = outputRows(kb, info, bi, hi, outArg);
  auto [out, state] = buildChunkLoop(
      kb, info.seqLen, chunk, info.V, s0, o0,
      [&](SliceKernelBuilder &k, Value c0, Value n, Value carried, Value dest) {
        return causalBlock(k, info, bi, hi, c0, n, carried,
                           /*stateIsZero=*/false, /*wantState=*/true, dest);
      });
  return {out, stateArg ? state : Value()};
}

std::pair<Value, Value> buildRecurrentSlice(SliceKernelBuilder &kb,
                                            const LinearInfo &info, Value bi,
                                            Value hi, Value outArg,
                                            Value stateArg) {
  ImplicitLocOpBuilder &b = kb.builder();
  Value state = initialState(kb, info, bi, hi, stateArg);
  Value out = outputRows(kb, info, bi, hi, outArg);
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
  return "";
}

LogicalResult mlir::seqmix::lowerLinearAttention(LinearAttentionOp op,
                                                 RewriterBase &rewriter) {
  auto qType = cast<RankedTensorType>(op.getQ().getType());
  auto vType = cast<RankedTensorType>(op.getV().getType());
  if (failed(checkSliceLowerable(op, op.getQ(), op.getV())))
    return failure();
  FormAttr form = getForm(op);
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
  SliceLoopShape shape{op.getOut(), op.getFinalState(), info.batch,
                       info.seqLen};
  scf::ForallOp loop = buildSliceLoop(
      b, shape,
      [&](SliceKernelBuilder &kb, Value bi, Value hi, Value outArg,
          Value stateArg) {
        switch (form.getKind()) {
        case FormKind::chunked:
          return buildChunkedSlice(kb, info, form.getChunk(), bi, hi, outArg,
                                   stateArg);
        case FormKind::parallel:
          return buildParallelSlice(kb, info, bi, hi, outArg, stateArg);
        case FormKind::recurrent:
          break;
        }
        return buildRecurrentSlice(kb, info, bi, hi, outArg, stateArg);
      });
  rewriter.replaceOp(op, loop.getResults());
  return success();
}
