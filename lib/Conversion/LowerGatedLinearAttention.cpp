//===- LowerGatedLinearAttention.cpp - GLA to linalg/scf by form ----------===//
//
// Recurrent form (FORMS.md 3.3), all gate kinds: per (batch, head) slice an
// scf.for over time carries the fp32 state S [K, V]:
//   S = G_t * S + k_t v_t^T,   o_t = S^T (scale q_t).
//
// Parallel form (FORMS.md 3.4), gates none / constant / scalar: per slice
//   P = (scale Q K^T) .* D,  O = P V  (+ (scale Q .* exp(b)) S_0),
// with D[t, i] = exp(seg(t, i)) for i <= t, masked *before* the exp. For the
// scalar gate seg(t, i) = g_{i+1} + ... + g_t is accumulated directly (the
// stable segment sum of FORMS.md 0.5(b)), never as a difference of long
// cumulative sums, which loses low bits once |b| grows.
// The final state is exp(b_T) S_0 + sum_i exp(seg(T, i)) k_i v_i^T.
// The key-vector gate's blocks are built by sub-chunks (KeyGateBlock.cpp).
//
// Chunked form (FORMS.md 3.5): a loop over chunks carrying the state, each
// chunk a parallel-form block with the carried state as its initial state.
//
//===----------------------------------------------------------------------===//
#include "seqmix/Conversion/LowerForms.h"

#include "KeyGateBlock.h"
#include "SliceKernelBuilder.h"
#include "UngatedBlock.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

#include <cmath>

using namespace mlir;
using namespace mlir::seqmix;

namespace {

/// Shapes and operands of one GLA op, shared by both forms.
struct GLAInfo {
  GatedLinearAttentionOp op;
  int64_t H, K, V;     ///< H: value heads (the slices), K, V: head sizes
  int64_t group;       ///< value heads per q/k head (grouped value heads)
  Value batch, seqLen; // index values
  GateKind gate;
  float scale;
};

/// The (batch, head) loop of the op (SliceKernelBuilder.h).
FailureOr<scf::ForallOp> buildSliceLoop(
    ImplicitLocOpBuilder &b, GLAInfo &info,
    function_ref<std::pair<Value, Value>(
        SliceKernelBuilder &, Value bi, Value hi, Value outArg, Value stateArg)>
        body) {
  GatedLinearAttentionOp op = info.op;
  SliceLoopShape shape{op.getOut(), op.getFinalState(), info.batch,
                       info.seqLen};
  return buildSliceLoop(b, shape, body);
}

/// The per-head log decay of a constant gate, read at head `hi`.
Value constantLogDecay(SliceKernelBuilder &kb, GLAInfo &info, Value hi) {
  ImplicitLocOpBuilder &b = kb.builder();
  auto type = RankedTensorType::get({info.H}, kb.f32Type());
  auto values = DenseElementsAttr::get(type, *info.op.getLogDecay());
  Value table = arith::ConstantOp::create(b, type, values);
  return tensor::ExtractOp::create(b, table, ValueRange{hi});
}

/// The slice's initial state (SliceKernelBuilder.h).
Value initialSliceState(SliceKernelBuilder &kb, GLAInfo &info, Value bi,
                        Value hi, Value stateArg) {
  return mlir::seqmix::initialSliceState(kb, info.op.getInitialState(),
                                         stateArg, bi, hi, info.K, info.V);
}

/// The [T, V] output rows of slice (bi, hi).
Value outputRows(SliceKernelBuilder &kb, GLAInfo &info, Value bi, Value hi,
                 Value outArg) {
  return kb.slice(outArg, {bi, hi, kb.ofr(0), kb.ofr(0)},
                  {kb.ofr(1), kb.ofr(1), info.seqLen, kb.ofr(info.V)}, {2, 3});
}

/// rows[t, :] * weight(t, vec[t]) for a [T, width] matrix; `vec` ([T]) may be
/// null, and `weight` then gets a null value.
Value weightRows(
    SliceKernelBuilder &kb, Value rows, Value vec, OpFoldResult T,
    int64_t width,
    function_ref<Value(OpBuilder &, Location, Value row, Value vecAtRow)>
        weight) {
  SmallVector<Value> ins;
  SmallVector<SmallVector<unsigned>> dims;
  if (vec) {
    ins.push_back(vec);
    dims.push_back({0});
  }
  ins.push_back(rows);
  dims.push_back({0, 1});
  dims.push_back({0, 1});
  return kb.generic(ins, kb.empty({T, kb.ofr(width)}), 2, dims,
                    SliceKernelBuilder::parallel(2),
                    [&](OpBuilder &bb, Location l, ValueRange a) -> Value {
                      Value row = linalg::IndexOp::create(bb, l, 0);
                      Value w = weight(bb, l, row, vec ? a[0] : Value());
                      return arith::MulFOp::create(bb, l, a[ins.size() - 1], w);
                    });
}

//===----------------------------------------------------------------------===//
// Recurrent form
//===----------------------------------------------------------------------===//

/// What both recurrences start from: the slice's initial state and output
/// rows, the constant gate's decay (or null) and the scale.
struct RecurrentStart {
  Value state, out, constAlpha, scale;
};
RecurrentStart recurrentSetup(SliceKernelBuilder &kb, GLAInfo &info, Value bi,
                              Value hi, Value outArg, Value stateArg) {
  RecurrentStart r;
  r.state = initialSliceState(kb, info, bi, hi, stateArg);
  r.out = outputRows(kb, info, bi, hi, outArg);
  if (info.gate == GateKind::constant)
    r.constAlpha =
        math::ExpOp::create(kb.builder(), constantLogDecay(kb, info, hi));
  r.scale = kb.f(info.scale);
  return r;
}

/// State tile (rows x columns) and token block of the tiled recurrence.
constexpr int64_t kStateTileRows = 8, kStateTileCols = 32, kTokenBlock = 64;

/// The recurrence with the state walked in tiles: for each block of
/// kTokenBlock tokens, for each kStateTileRows x kStateTileCols tile of S,
/// every token of the block updates the tile and adds its rows' share of
/// o_t = S_t^T (scale q_t) to the output row:
///   S[r, c] <- a_t[r] S[r, c] + k_t[r] v_t[c]
///   o_t[c] += sum_r (scale q_t[r]) S[r, c]
/// The same arithmetic, token by token, as the untiled form; but each tile
/// (1 KiB) stays in the first-level cache for a whole token block, where the
/// untiled form streams the whole K x V state through the caches twice per
/// token. The gates' exps are taken once per block.
std::pair<Value, Value> buildTiledRecurrentSlice(SliceKernelBuilder &kb,
                                                 GLAInfo &info, Value bi,
                                                 Value hi, Value outArg,
                                                 Value stateArg) {
  ImplicitLocOpBuilder &b = kb.builder();
  GatedLinearAttentionOp op = info.op;
  const int64_t K = info.K, V = info.V;
  const int64_t R = std::min(K, kStateTileRows),
                N = std::min(V, kStateTileCols);
  RecurrentStart start = recurrentSetup(kb, info, bi, hi, outArg, stateArg);
  Value s0 = start.state, o0 = start.out, constAlpha = start.constAlpha,
        scale = start.scale;
  Value blockStep = kb.index(kTokenBlock);

  auto blocks = scf::ForOp::create(
      b, kb.index(0), info.seqLen, blockStep, ValueRange{s0, o0},
      [&](OpBuilder &nb, Location loc, Value t0, ValueRange iter) {
        ImplicitLocOpBuilder ib(loc, nb);
        SliceKernelBuilder k(ib);
        Value len = arith::MinSIOp::create(
            ib, blockStep, arith::SubIOp::create(ib, info.seqLen, t0));
        OpFoldResult L = len;
        SmallVector<OpFoldResult> rowOffs = {bi, hi, t0, k.ofr(0)};
        Value hk = keyHead(ib, hi, info.group);
        // The block's scaled queries, and its gates' exps.
        Value q = k.slice(op.getQ(), {bi, hk, t0, k.ofr(0)},
                          {k.ofr(1), k.ofr(1), L, k.ofr(K)}, {2, 3});
        Value qs = weightRows(
            k, q, Value(), L, K,
            [&](OpBuilder &, Location, Value, Value) { return scale; });
        Value alphas; // [L] (scalar gate) or [L, K] (vector gate)
        if (info.gate == GateKind::scalar) {
          Value g =
              k.slice(op.getG(), {bi, hi, t0}, {k.ofr(1), k.ofr(1), L}, {2});
          alphas =
              k.generic(ValueRange{g}, k.empty({L}), 1, {{0}, {0}}, {kPar},
                        [](OpBuilder &bb, Location l, ValueRange a) -> Value {
                          return math::ExpOp::create(bb, l, a[0]);
                        });
        } else if (info.gate == GateKind::vector) {
          Value g = k.slice(op.getG(), rowOffs,
                            {k.ofr(1), k.ofr(1), L, k.ofr(K)}, {2, 3});
          alphas =
              k.generic(ValueRange{g}, k.empty({L, k.ofr(K)}), 2,
                        {{0, 1}, {0, 1}}, SliceKernelBuilder::parallel(2),
                        [](OpBuilder &bb, Location l, ValueRange a) -> Value {
                          return math::ExpOp::create(bb, l, a[0]);
                        });
        }
        // The block's output rows, accumulated over the row tiles of S.
        Value oblk = k.fill(
            k.slice(iter[1], {t0, k.ofr(0)}, {L, k.ofr(V)}, {0, 1}), 0.0);
        auto rowTiles = scf::ForOp::create(
            ib, k.index(0), k.index(K), k.index(R), ValueRange{iter[0], oblk},
            [&](OpBuilder &nb1, Location l1, Value r0, ValueRange it1) {
              ImplicitLocOpBuilder b1(l1, nb1);
              SliceKernelBuilder k1(b1);
              auto colTiles = scf::ForOp::create(
                  b1, k1.index(0), k1.index(V), k1.index(N),
                  ValueRange{it1[0], it1[1]},
                  [&](OpBuilder &nb2, Location l2, Value c0, ValueRange it2) {
                    ImplicitLocOpBuilder b2(l2, nb2);
                    SliceKernelBuilder k2(b2);
                    Value tile = k2.slice(it2[0], {r0, c0},
                                          {k2.ofr(R), k2.ofr(N)}, {0, 1});
                    auto tokens = scf::ForOp::create(
                        b2, k2.index(0), len, k2.index(1),
                        ValueRange{tile, it2[1]},
                        [&](OpBuilder &nb3, Location l3, Value i,
                            ValueRange it3) {
                          ImplicitLocOpBuilder b3(l3, nb3);
                          SliceKernelBuilder k3(b3);
                          Value t = arith::AddIOp::create(b3, t0, i);
                          SmallVector<OpFoldResult> offs = {bi, hk, t, r0};
                          Value kr = k3.slice(
                              op.getK(), offs,
                              {k3.ofr(1), k3.ofr(1), k3.ofr(1), k3.ofr(R)},
                              {3});
                          Value vc = k3.slice(
                              op.getV(), {bi, hi, t, c0},
                              {k3.ofr(1), k3.ofr(1), k3.ofr(1), k3.ofr(N)},
                              {3});
                          SmallVector<Value> ins;
                          SmallVector<SmallVector<unsigned>> dims;
                          Value alpha = constAlpha;
                          if (info.gate == GateKind::scalar)
                            alpha = tensor::ExtractOp::create(b3, alphas,
                                                              ValueRange{i});
                          if (info.gate == GateKind::vector) {
                            ins.push_back(k3.slice(
                                alphas, {i, r0}, {k3.ofr(1), k3.ofr(R)}, {1}));
                            dims.push_back({0});
                          }
                          ins.append({kr, vc});
                          dims.append({{0}, {1}, {0, 1}});
                          bool vectorGate = info.gate == GateKind::vector;
                          Value upd = k3.generic(
                              ins, it3[0], 2, dims,
                              SliceKernelBuilder::parallel(2),
                              [&](OpBuilder &bb, Location l,
                                  ValueRange a) -> Value {
                                // The decay, then one fused multiply-add
                                // for the outer product.
                                Value s = a.back();
                                Value g = vectorGate ? a[0] : alpha;
                                if (g)
                                  s = arith::MulFOp::create(bb, l, g, s);
                                return math::FmaOp::create(
                                    bb, l, a[vectorGate ? 1 : 0],
                                    a[vectorGate ? 2 : 1], s);
                              });
                          Value qr = k3.slice(qs, {i, r0},
                                              {k3.ofr(1), k3.ofr(R)}, {1});
                          Value orow = k3.slice(it3[1], {i, c0},
                                                {k3.ofr(1), k3.ofr(N)}, {1});
                          orow = k3.generic(
                              ValueRange{upd, qr}, orow, 2, {{1, 0}, {1}, {0}},
                              {kPar, kRed},
                              [](OpBuilder &bb, Location l,
                                 ValueRange a) -> Value {
                                Value p =
                                    arith::MulFOp::create(bb, l, a[0], a[1]);
                                return arith::AddFOp::create(bb, l, a[2], p);
                              });
                          Value o = k3.insert(orow, it3[1], {i, c0},
                                              {k3.ofr(1), k3.ofr(N)});
                          scf::YieldOp::create(b3, ValueRange{upd, o});
                        });
                    Value st = k2.insert(tokens.getResult(0), it2[0], {r0, c0},
                                         {k2.ofr(R), k2.ofr(N)});
                    scf::YieldOp::create(b2,
                                         ValueRange{st, tokens.getResult(1)});
                  });
              scf::YieldOp::create(b1, colTiles.getResults());
            });
        Value out = k.insert(rowTiles.getResult(1), iter[1], {t0, k.ofr(0)},
                             {L, k.ofr(V)});
        scf::YieldOp::create(ib, ValueRange{rowTiles.getResult(0), out});
      });
  return {blocks.getResult(1), blocks.getResult(0)};
}

std::pair<Value, Value> buildRecurrentSlice(SliceKernelBuilder &kb,
                                            GLAInfo &info, Value bi, Value hi,
                                            Value outArg, Value stateArg) {
  // The tiled walk needs whole tiles (every usual head size has them).
  if (info.K % std::min(info.K, kStateTileRows) == 0 &&
      info.V % std::min(info.V, kStateTileCols) == 0)
    return buildTiledRecurrentSlice(kb, info, bi, hi, outArg, stateArg);
  ImplicitLocOpBuilder &b = kb.builder();
  GatedLinearAttentionOp op = info.op;
  int64_t K = info.K, V = info.V;
  RecurrentStart start = recurrentSetup(kb, info, bi, hi, outArg, stateArg);
  Value s0 = start.state, o0 = start.out, constAlpha = start.constAlpha,
        scale = start.scale;

  auto loop = scf::ForOp::create(
      b, kb.index(0), info.seqLen, kb.index(1), ValueRange{s0, o0},
      [&](OpBuilder &nb, Location loc, Value t, ValueRange iter) {
        ImplicitLocOpBuilder ib(loc, nb);
        SliceKernelBuilder k(ib);
        SmallVector<OpFoldResult> offs = {bi, hi, t, k.ofr(0)};
        SmallVector<OpFoldResult> keyOffs = {bi, keyHead(ib, hi, info.group), t,
                                             k.ofr(0)};
        Value qt = k.slice(op.getQ(), keyOffs,
                           {k.ofr(1), k.ofr(1), k.ofr(1), k.ofr(K)}, {3});
        Value kt = k.slice(op.getK(), keyOffs,
                           {k.ofr(1), k.ofr(1), k.ofr(1), k.ofr(K)}, {3});
        Value vt = k.slice(op.getV(), offs,
                           {k.ofr(1), k.ofr(1), k.ofr(1), k.ofr(V)}, {3});
        Value alpha = constAlpha;
        if (info.gate == GateKind::scalar) {
          Value gt =
              tensor::ExtractOp::create(ib, op.getG(), ValueRange{bi, hi, t});
          alpha = math::ExpOp::create(ib, gt);
        }
        // S <- G_t * S + k_t v_t^T, updated in place in the loop-carried state.
        Value state;
        if (info.gate == GateKind::vector) {
          Value gt = k.slice(op.getG(), offs,
                             {k.ofr(1), k.ofr(1), k.ofr(1), k.ofr(K)}, {3});
          Value alphaVec = k.generic(
              ValueRange{gt}, k.empty({k.ofr(K)}), 1, {{0}, {0}}, {kPar},
              [](OpBuilder &bb, Location l, ValueRange a) -> Value {
                return math::ExpOp::create(bb, l, a[0]);
              });
          state = k.generic(
              ValueRange{alphaVec, kt, vt}, iter[0], 2, {{0}, {0}, {1}, {0, 1}},
              SliceKernelBuilder::parallel(2),
              [](OpBuilder &bb, Location l, ValueRange a) -> Value {
                Value decayed = arith::MulFOp::create(bb, l, a[0], a[3]);
                Value kv = arith::MulFOp::create(bb, l, a[1], a[2]);
                return arith::AddFOp::create(bb, l, decayed, kv);
              });
        } else {
          state =
              k.generic(ValueRange{kt, vt}, iter[0], 2, {{0}, {1}, {0, 1}},
                        SliceKernelBuilder::parallel(2),
                        [&](OpBuilder &bb, Location l, ValueRange a) -> Value {
                          Value s = a[2];
                          if (alpha)
                            s = arith::MulFOp::create(bb, l, alpha, s);
                          Value kv = arith::MulFOp::create(bb, l, a[0], a[1]);
                          return arith::AddFOp::create(bb, l, s, kv);
                        });
        }
        // o_t = S^T (scale q_t), written into row t of the output slice.
        Value qs = k.generic(
            ValueRange{qt}, k.empty({k.ofr(K)}), 1, {{0}, {0}}, {kPar},
            [&](OpBuilder &bb, Location l, ValueRange a) -> Value {
              return arith::MulFOp::create(bb, l, a[0], scale);
            });
        Value orow = k.slice(iter[1], {t, k.ofr(0)}, {k.ofr(1), k.ofr(V)}, {1});
        orow = k.fill(orow, 0.0);
        orow = k.generic(ValueRange{state, qs}, orow, 2, {{1, 0}, {1}, {0}},
                         {kPar, kRed},
                         [](OpBuilder &bb, Location l, ValueRange a) -> Value {
                           Value p = arith::MulFOp::create(bb, l, a[0], a[1]);
                           return arith::AddFOp::create(bb, l, a[2], p);
                         });
        Value out =
            k.insert(orow, iter[1], {t, k.ofr(0)}, {k.ofr(1), k.ofr(V)});
        scf::YieldOp::create(ib, ValueRange{state, out});
      });
  return {loop.getResult(1), loop.getResult(0)};
}

//===----------------------------------------------------------------------===//
// Parallel form
//===----------------------------------------------------------------------===//

/// Converts an index value to f32 inside a linalg body.
Value indexToF32(OpBuilder &b, Location loc, Value idx) {
  Value i64 = arith::IndexCastOp::create(b, loc, b.getI64Type(), idx);
  return arith::SIToFPOp::create(b, loc, b.getF32Type(), i64);
}

/// Consecutive tokens of one (batch, head) slice, computed together in the
/// parallel form: the whole sequence (parallel form) or one chunk (chunked
/// form, FORMS.md 3.5). All cumulative gate sums are local to the block.
/// The fields of a key-vector gate's block (KeyGateBlock.h: q, k, v, g,
/// len, out, state, stateIsZero, wantState), where `g` holds the [L] log
/// gates of the scalar gate too (null for the other gates), and
struct TokenBlock : KeyGateBlock {
  /// Raw [L, d] rows whose Taylor kernel 1 + s + s^2/2 (s = x.y/sqrt(d))
  /// gives the intra scores (gate none only, UngatedBlock.h); else null.
  Value taylorQ, taylorK;
};

/// Outputs of `blk` and, when requested, the state after it.
std::pair<Value, Value> buildBlock(SliceKernelBuilder &kb, GLAInfo &info,
                                   Value hi, const TokenBlock &blk) {
  ImplicitLocOpBuilder &b = kb.builder();
  int64_t K = info.K;
  if (info.gate == GateKind::vector)
    return buildKeyGateBlock(kb, K, info.V, info.scale, kKeyGateSubChunk, blk);
  // A constant length (a full chunk) gives static shapes.
  OpFoldResult T = getAsOpFoldResult(blk.len);
  Value Q = blk.q, Kt = blk.k, Vt = blk.v;
  Value scale = kb.f(info.scale);
  Value zero = kb.f(0.0);

  // Log-decay ingredients by gate kind:
  //  seg    [T, T]: seg(t, i) for i <= t   (scalar gate)
  //  bIncl  [T]   : b_t = g_1 + ... + g_t  (scalar gate)
  //  lastSeg[T]   : seg(T, i)              (scalar gate)
  //  total        : b_T                    (scalar gate)
  Value logDecay, seg, bIncl, lastSeg, total;
  if (info.gate == GateKind::constant)
    logDecay = constantLogDecay(kb, info, hi);
  if (info.gate == GateKind::scalar) {
    SegmentSums sums = segmentSums(kb, blk.g, blk.len);
    seg = sums.seg;
    bIncl = sums.inclusive;
    lastSeg = sums.lastSeg;
    total = sums.total;
  }

  // P = scale * Q K^T, then decay and causal mask (mask before exp). K is
  // transposed once (T K copies) so that P's rows are built from contiguous
  // rows of K^T rather than by strided dot products.
  const bool taylor = static_cast<bool>(blk.taylorQ);
  Value scoreQ = taylor ? blk.taylorQ : Q, scoreK = taylor ? blk.taylorK : Kt;
  int64_t scoreDim =
      taylor ? cast<RankedTensorType>(scoreK.getType()).getDimSize(1) : K;
  Value KT =
      linalg::TransposeOp::create(b, scoreK, kb.empty({kb.ofr(scoreDim), T}),
                                  ArrayRef<int64_t>{1, 0})
          .getResult()[0];
  Value P = kb.generic(ValueRange{scoreQ, KT}, kb.zeros({T, T}), 3,
                       {{0, 2}, {2, 1}, {0, 1}}, {kPar, kPar, kRed},
                       [](OpBuilder &bb, Location l, ValueRange a) -> Value {
                         Value p = arith::MulFOp::create(bb, l, a[0], a[1]);
                         return arith::AddFOp::create(bb, l, a[2], p);
                       });
  SmallVector<Value> maskIns;
  SmallVector<SmallVector<unsigned>> maskDims;
  if (seg) {
    maskIns.push_back(seg);
    maskDims.push_back({0, 1});
  }
  maskDims.push_back({0, 1});
  GateKind gate = info.gate;
  P = kb.generic(
      maskIns, P, 2, maskDims, SliceKernelBuilder::parallel(2),
      [&](OpBuilder &bb, Location l, ValueRange a) -> Value {
        Value t = linalg::IndexOp::create(bb, l, 0);
        Value i = linalg::IndexOp::create(bb, l, 1);
        Value visible =
            arith::CmpIOp::create(bb, l, arith::CmpIPredicate::ule, i, t);
        Value raw = a.back();
        if (taylor) {
          // 1 + s + s^2 / 2 with s = raw / sqrt(d).
          Value sv = arith::MulFOp::create(
              bb, l, raw,
              arith::ConstantOp::create(
                  bb, l,
                  bb.getF32FloatAttr(
                      1.0 / std::sqrt(static_cast<double>(scoreDim)))));
          Value one = arith::ConstantOp::create(bb, l, bb.getF32FloatAttr(1.0));
          Value half =
              arith::ConstantOp::create(bb, l, bb.getF32FloatAttr(0.5));
          Value quad = arith::MulFOp::create(
              bb, l, arith::MulFOp::create(bb, l, sv, sv), half);
          raw = arith::AddFOp::create(
              bb, l, arith::AddFOp::create(bb, l, one, sv), quad);
        }
        Value p = arith::MulFOp::create(bb, l, raw, scale);
        if (gate != GateKind::none) {
          Value lg;
          if (gate == GateKind::constant) {
            Value dist = arith::SubIOp::create(bb, l, t, i);
            lg =
                arith::MulFOp::create(bb, l, indexToF32(bb, l, dist), logDecay);
          } else {
            lg = a[0];
          }
          lg = arith::SelectOp::create(bb, l, visible, lg, zero);
          p = arith::MulFOp::create(bb, l, p, math::ExpOp::create(bb, l, lg));
        }
        return arith::SelectOp::create(bb, l, visible, p, zero);
      });

  Value O = kb.fill(blk.out, 0.0);
  O = linalg::MatmulOp::create(b, ValueRange{P, Vt}, ValueRange{O})
          .getResult(0);

  // Decay from the sequence start to position t (inclusive), exp(b_t).
  auto decayToT = [&](OpBuilder &bb, Location l, Value t, Value b) -> Value {
    if (gate == GateKind::none)
      return arith::ConstantOp::create(bb, l, bb.getF32FloatAttr(1.0));
    if (gate == GateKind::constant) {
      Value n = arith::AddIOp::create(bb, l, t,
                                      arith::ConstantIndexOp::create(bb, l, 1));
      return math::ExpOp::create(
          bb, l, arith::MulFOp::create(bb, l, indexToF32(bb, l, n), logDecay));
    }
    return math::ExpOp::create(bb, l, b);
  };

  Value S0 = blk.state;
  if (!blk.stateIsZero) {
    // Inter term: O += (scale Q .* exp(b)) S_0.
    Value Qd = weightRows(kb, Q, bIncl, T, K,
                          [&](OpBuilder &bb, Location l, Value t, Value b) {
                            Value d = decayToT(bb, l, t, b);
                            return arith::MulFOp::create(bb, l, d, scale);
                          });
    O = linalg::MatmulOp::create(b, ValueRange{Qd, S0}, ValueRange{O})
            .getResult(0);
  }

  Value SF;
  if (blk.wantState) {
    // S_T = exp(b_T) S_0 + sum_i exp(seg(T, i)) k_i v_i^T.
    Value totalDecay;
    if (gate == GateKind::none) {
      totalDecay = kb.f(1.0);
    } else if (gate == GateKind::constant) {
      totalDecay = math::ExpOp::create(
          b, arith::MulFOp::create(b, indexToF32(b, b.getLoc(), blk.len),
                                   logDecay));
    } else {
      totalDecay = math::ExpOp::create(b, total);
    }
    Value start = S0;
    if (!blk.stateIsZero && gate != GateKind::none)
      start = kb.generic(
          ValueRange{}, S0, 2, {{0, 1}}, SliceKernelBuilder::parallel(2),
          [&](OpBuilder &bb, Location l, ValueRange a) -> Value {
            return arith::MulFOp::create(bb, l, a[0], totalDecay);
          });
    Value Kw = Kt;
    if (gate != GateKind::none) {
      Value seqLen = blk.len;
      Kw = weightRows(
          kb, Kt, lastSeg, T, K,
          [&](OpBuilder &bb, Location l, Value i, Value seg) -> Value {
            if (gate == GateKind::scalar)
              return math::ExpOp::create(bb, l, seg);
            Value one = arith::ConstantIndexOp::create(bb, l, 1);
            Value dist = arith::SubIOp::create(
                bb, l, arith::SubIOp::create(bb, l, seqLen, one), i);
            return math::ExpOp::create(
                bb, l,
                arith::MulFOp::create(bb, l, indexToF32(bb, l, dist),
                                      logDecay));
          });
    }
    SF = kb.generic(ValueRange{Kw, Vt}, start, 3, {{2, 0}, {2, 1}, {0, 1}},
                    {kPar, kPar, kRed},
                    [](OpBuilder &bb, Location l, ValueRange a) -> Value {
                      Value p = arith::MulFOp::create(bb, l, a[0], a[1]);
                      return arith::AddFOp::create(bb, l, a[2], p);
                    });
  }
  return {O, SF};
}

/// The q, k, v (and scalar gate) rows of tokens [start, start + len) of
/// slice (bi, hi).
TokenBlock sliceTokens(SliceKernelBuilder &kb, GLAInfo &info, Value bi,
                       Value hi, OpFoldResult start, Value len) {
  GatedLinearAttentionOp op = info.op;
  Value hk = keyHead(kb.builder(), hi, info.group);
  auto rowsOf = [&](Value src, Value head, int64_t width) {
    return kb.slice(
        src, {bi, head, start, kb.ofr(0)},
        {kb.ofr(1), kb.ofr(1), getAsOpFoldResult(len), kb.ofr(width)}, {2, 3});
  };
  auto rows = [&](Value src, int64_t width) { return rowsOf(src, hi, width); };
  TokenBlock blk;
  blk.q = rowsOf(op.getQ(), hk, info.K);
  blk.k = rowsOf(op.getK(), hk, info.K);
  blk.v = rows(op.getV(), info.V);
  if (info.gate == GateKind::scalar)
    blk.g = kb.slice(op.getG(), {bi, hi, start},
                     {kb.ofr(1), kb.ofr(1), getAsOpFoldResult(len)}, {2});
  if (info.gate == GateKind::vector)
    blk.g = rows(op.getG(), info.K);
  blk.len = len;
  return blk;
}

std::pair<Value, Value> buildParallelSlice(SliceKernelBuilder &kb,
                                           GLAInfo &info, Value bi, Value hi,
                                           Value outArg, Value stateArg) {
  GatedLinearAttentionOp op = info.op;
  TokenBlock blk = sliceTokens(kb, info, bi, hi, kb.ofr(0), info.seqLen);
  blk.out =
      kb.slice(outArg, {bi, hi, kb.ofr(0), kb.ofr(0)},
               {kb.ofr(1), kb.ofr(1), info.seqLen, kb.ofr(info.V)}, {2, 3});
  blk.stateIsZero = !op.getInitialState();
  blk.wantState = static_cast<bool>(stateArg);
  if (op.getInitialState() || stateArg)
    blk.state = initialSliceState(kb, info, bi, hi, stateArg);
  return buildBlock(kb, info, hi, blk);
}

//===----------------------------------------------------------------------===//
// Chunked form
//===----------------------------------------------------------------------===//

/// FORMS.md 3.5: an scf.for over chunks of C tokens carries the state; each
/// chunk is a parallel-form block with the carried state as its initial state
/// (inter term) and the state after it as the next chunk's. The last chunk
/// may be shorter than C.
std::pair<Value, Value> buildChunkedSlice(SliceKernelBuilder &kb, GLAInfo &info,
                                          int64_t chunk, Value bi, Value hi,
                                          Value outArg, Value stateArg) {
  Value s0 = initialSliceState(kb, info, bi, hi, stateArg);
  Value o0 = outputRows(kb, info, bi, hi, outArg);
  auto [out, state] = buildChunkLoop(
      kb, info.seqLen, chunk, info.V, s0, o0,
      [&](SliceKernelBuilder &k, Value c0, Value n, Value carried, Value dest) {
        TokenBlock blk = sliceTokens(k, info, bi, hi, c0, n);
        blk.out = dest;
        blk.state = carried;
        blk.stateIsZero = false;
        blk.wantState = true;
        return buildBlock(k, info, hi, blk);
      });
  return {out, stateArg ? state : Value()};
}
} // namespace

std::pair<Value, Value>
mlir::seqmix::buildUngatedBlock(SliceKernelBuilder &kb, int64_t K, int64_t V,
                                float scale, const UngatedBlock &ub) {
  // With gate none the block reads nothing of a GLA op.
  GLAInfo info{GatedLinearAttentionOp(), 1,    K, V, 1, Value(), Value(),
               GateKind::none,           scale};
  TokenBlock blk;
  blk.q = ub.q;
  blk.k = ub.k;
  blk.v = ub.v;
  blk.len = ub.len;
  blk.out = ub.out;
  blk.state = ub.state;
  blk.stateIsZero = ub.stateIsZero;
  blk.wantState = ub.wantState;
  blk.taylorQ = ub.taylorQ;
  blk.taylorK = ub.taylorK;
  return buildBlock(kb, info, Value(), blk);
}

//===----------------------------------------------------------------------===//
// Entry points
//===----------------------------------------------------------------------===//

std::string mlir::seqmix::whyNotLoweredGLA(GatedLinearAttentionOp, FormKind) {
  return ""; // every gate kind in every form
}

LogicalResult mlir::seqmix::lowerGatedLinearAttention(GatedLinearAttentionOp op,
                                                      RewriterBase &rewriter) {
  FormAttr form = getForm(op);
  auto qType = cast<RankedTensorType>(op.getQ().getType());
  auto vType = cast<RankedTensorType>(op.getV().getType());
  if (failed(checkSliceLowerable(op, op.getQ(), op.getV())))
    return failure();

  rewriter.setInsertionPoint(op);
  ImplicitLocOpBuilder b(op.getLoc(), rewriter);
  GLAInfo info{op,
               vType.getDimSize(1),
               qType.getDimSize(3),
               vType.getDimSize(3),
               vType.getDimSize(1) / qType.getDimSize(1),
               tensor::DimOp::create(b, op.getQ(), 0),
               tensor::DimOp::create(b, op.getQ(), 2),
               op.getGate(),
               op.getScale().convertToFloat()};
  FormKind kind = form.getKind();
  FailureOr<scf::ForallOp> loop = buildSliceLoop(
      b, info,
      [&](SliceKernelBuilder &kb, Value bi, Value hi, Value outArg,
          Value stateArg) {
        switch (kind) {
        case FormKind::recurrent:
          return buildRecurrentSlice(kb, info, bi, hi, outArg, stateArg);
        case FormKind::chunked:
          return buildChunkedSlice(kb, info, form.getChunk(), bi, hi, outArg,
                                   stateArg);
        case FormKind::parallel:
          break;
        }
        return buildParallelSlice(kb, info, bi, hi, outArg, stateArg);
      });
  if (failed(loop))
    return failure();
  rewriter.replaceOp(op, loop->getResults());
  return success();
}
