//===- LowerSoftmaxAttention.cpp - softmax attention by form --------------===//
//
// Both forms are built from one block step of the online softmax (FORMS.md
// 1.3) over a block of queries Q_I [Lq, K] and a block of keys K_J, V_J:
//   S   = Q_I K_J^T                   (a linalg contraction)
//   S   = scale S, -inf where key j is not visible to query i
//   m'  = max(m, rowmax S),  u = (m' == -inf ? 0 : m')
//   P   = exp(S - u),  c = exp(m - u)
//   l   = c l + rowsum P,  acc = c acc + P V_J      (P V_J: linalg.matmul)
// carrying (m, l, acc) in fp32, and O = acc / l (0 where l = 0: rows with no
// visible key give 0, never NaN).
//
// - parallel (FORMS.md 1.2): one step over all T_q queries and T_k keys per
//   (batch, head): the materialized T_q x T_k scores, max, exp, sum, divide.
// - chunked (FORMS.md 1.3, FlashAttention-2 order): the (batch, head, query
//   block) loop is parallel; a sequential loop over key blocks carries
//   (m, l, acc). Query and key blocks both have the form's chunk size C.
//   Key blocks no query of the block can see (causal, window) are not
//   visited; blocks every query sees in full skip the mask arithmetic.
// - recurrent (decode, FORMS.md 1.4): all T_q queries (one or a few new
//   tokens) as one block against the T_k cached keys, 128 keys per step of
//   the key loop. When batch x heads is smaller than the workers the keys
//   are split into segments (split-KV, flash-decoding): (batch, head,
//   segment) run in parallel and the partial states are merged by FORMS.md
//   0.5(d).
//
// With the optional lse result, lse = m + log l from the same state.
//
// Positions are bottom-right aligned: query i sits at T_k - T_q + i. Query
// head h reads KV head floor(h H_kv / H); K and V are never repeated.
//
//===----------------------------------------------------------------------===//
#include "seqmix/Conversion/LowerForms.h"

#include "SliceKernelBuilder.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

#include <limits>

using namespace mlir;
using namespace mlir::seqmix;

namespace {
using utils::IteratorType;
/// Keys per step of the recurrent (decode) form.
constexpr int64_t kDecodeKeyBlock = 128;

struct SoftmaxInfo {
  SoftmaxAttentionOp op;
  int64_t H, Hkv, K, V;
  Value batch, tq, tk; // index values
  float scale;
  bool causal;
  std::optional<int64_t> window;
};

/// The online-softmax state of a block of Lq query rows.
struct RowState {
  Value m, l, acc; // [Lq], [Lq], [Lq, V]
};

/// Which keys of a block the block's queries see.
enum class Visibility { All, Masked };

Value negInf(SliceKernelBuilder &kb) {
  return kb.f(-std::numeric_limits<double>::infinity());
}

/// Whether key `j` is visible to the query at absolute position `pos`
/// (signed index arithmetic; `pos` is negative for queries before the
/// first key when T_q > T_k).
Value isVisible(OpBuilder &b, Location l, const SoftmaxInfo &info, Value pos,
                Value j) {
  Value visible = arith::ConstantIntOp::create(b, l, 1, 1);
  auto andWith = [&](Value c) {
    visible = arith::AndIOp::create(b, l, visible, c);
  };
  if (info.causal)
    andWith(arith::CmpIOp::create(b, l, arith::CmpIPredicate::sle, j, pos));
  if (info.window) {
    Value w = arith::ConstantIndexOp::create(b, l, *info.window);
    Value back = arith::SubIOp::create(b, l, pos, j);
    andWith(arith::CmpIOp::create(b, l, arith::CmpIPredicate::slt, back, w));
    if (!info.causal) {
      Value ahead = arith::SubIOp::create(b, l, j, pos);
      andWith(arith::CmpIOp::create(b, l, arith::CmpIPredicate::slt, ahead, w));
    }
  }
  return visible;
}

/// One online-softmax step of queries [q0, q0 + Lq) (rows `Q`) over keys
/// [k0, k0 + Lk) (rows `Kb`, `Vb`).
RowState attendBlock(SliceKernelBuilder &kb, const SoftmaxInfo &info, Value Q,
                     Value q0, Value lq, Value Kb, Value Vb, Value k0, Value lk,
                     RowState st, Visibility vis) {
  ImplicitLocOpBuilder &b = kb.builder();
  // A constant size (a full block) gives static shapes.
  OpFoldResult Lq = getAsOpFoldResult(lq), Lk = getAsOpFoldResult(lk);
  Value zero = kb.f(0.0), ninf = negInf(kb);
  // S = Q K^T: K is transposed once per block so that S's rows are built
  // from contiguous rows of K^T.
  Value KT = linalg::TransposeOp::create(b, Kb, kb.empty({kb.ofr(info.K), Lk}),
                                         ArrayRef<int64_t>{1, 0})
                 .getResult()[0];
  Value S = kb.generic(ValueRange{Q, KT}, kb.zeros({Lq, Lk}), 3,
                       {{0, 2}, {2, 1}, {0, 1}}, {kPar, kPar, kRed},
                       [](OpBuilder &bb, Location l, ValueRange a) -> Value {
                         Value p = arith::MulFOp::create(bb, l, a[0], a[1]);
                         return arith::AddFOp::create(bb, l, a[2], p);
                       });
  // Mask before the exp (only blocks that need it; Q is scaled already).
  Value offset = arith::SubIOp::create(b, info.tk, info.tq);
  if (vis == Visibility::Masked)
    S = kb.generic(ValueRange{}, S, 2, {{0, 1}},
                   SliceKernelBuilder::parallel(2),
                   [&](OpBuilder &bb, Location l, ValueRange a) -> Value {
                     Value s = a[0];
                     Value r = linalg::IndexOp::create(bb, l, 0);
                     Value c = linalg::IndexOp::create(bb, l, 1);
                     Value pos = arith::AddIOp::create(
                         bb, l, offset, arith::AddIOp::create(bb, l, q0, r));
                     Value j = arith::AddIOp::create(bb, l, k0, c);
                     return arith::SelectOp::create(
                         bb, l, isVisible(bb, l, info, pos, j), s, ninf);
                   });
  // u = max(m, rowmax S) with -inf replaced by 0. The state is updated in
  // place (m last, after every read of the old m), so that the loop over key
  // blocks carries the same buffers.
  Value rowMax = kb.generic(
      ValueRange{S},
      kb.fill(kb.empty({Lq}), -std::numeric_limits<double>::infinity()), 2,
      {{0, 1}, {0}}, {kPar, kRed},
      [](OpBuilder &bb, Location l, ValueRange a) -> Value {
        // maxnum (a NaN score is skipped here; its exp is still NaN, so it
        // reaches the output): one vmaxps where maximum takes six.
        return arith::MaxNumFOp::create(bb, l, a[0], a[1]);
      });
  Value use =
      kb.generic(ValueRange{st.m, rowMax}, kb.empty({Lq}), 1, {{0}, {0}, {0}},
                 {kPar}, [&](OpBuilder &bb, Location l, ValueRange a) -> Value {
                   Value mx = arith::MaximumFOp::create(bb, l, a[0], a[1]);
                   Value isNinf = arith::CmpFOp::create(
                       bb, l, arith::CmpFPredicate::OEQ, mx, ninf);
                   return arith::SelectOp::create(bb, l, isNinf, zero, mx);
                 });
  // P = exp(S - u) (masked entries give exp(-inf) = 0); c = exp(m - u).
  Value P = kb.generic(ValueRange{use}, S, 2, {{0}, {0, 1}},
                       SliceKernelBuilder::parallel(2),
                       [](OpBuilder &bb, Location l, ValueRange a) -> Value {
                         Value d = arith::SubFOp::create(bb, l, a[1], a[0]);
                         return math::ExpOp::create(bb, l, d);
                       });
  Value corr =
      kb.generic(ValueRange{st.m, use}, kb.empty({Lq}), 1, {{0}, {0}, {0}},
                 {kPar}, [](OpBuilder &bb, Location l, ValueRange a) -> Value {
                   Value d = arith::SubFOp::create(bb, l, a[0], a[1]);
                   return math::ExpOp::create(bb, l, d);
                 });
  Value mNew = kb.generic(ValueRange{rowMax}, st.m, 1, {{0}, {0}}, {kPar},
                          [](OpBuilder &bb, Location l, ValueRange a) -> Value {
                            return arith::MaximumFOp::create(bb, l, a[0], a[1]);
                          });
  // l = c l + rowsum P.
  Value lScaled =
      kb.generic(ValueRange{corr}, st.l, 1, {{0}, {0}}, {kPar},
                 [](OpBuilder &bb, Location l, ValueRange a) -> Value {
                   return arith::MulFOp::create(bb, l, a[0], a[1]);
                 });
  Value lNew =
      kb.generic(ValueRange{P}, lScaled, 2, {{0, 1}, {0}}, {kPar, kRed},
                 [](OpBuilder &bb, Location l, ValueRange a) -> Value {
                   return arith::AddFOp::create(bb, l, a[0], a[1]);
                 });
  // acc = c acc + P V.
  Value accScaled =
      kb.generic(ValueRange{corr}, st.acc, 2, {{0}, {0, 1}},
                 SliceKernelBuilder::parallel(2),
                 [](OpBuilder &bb, Location l, ValueRange a) -> Value {
                   return arith::MulFOp::create(bb, l, a[0], a[1]);
                 });
  Value accNew =
      linalg::MatmulOp::create(b, ValueRange{P, Vb}, ValueRange{accScaled})
          .getResult(0);
  return {mNew, lNew, accNew};
}

/// The fresh state of `lq` query rows: m = -inf, l = 0, acc = 0.
RowState initialState(SliceKernelBuilder &kb, const SoftmaxInfo &info,
                      Value lq) {
  OpFoldResult Lq = getAsOpFoldResult(lq);
  Value m = kb.generic(
      ValueRange{}, kb.empty({Lq}), 1, {{0}}, {kPar},
      [&](OpBuilder &bb, Location l, ValueRange) -> Value {
        return arith::ConstantOp::create(
            bb, l, bb.getF32FloatAttr(-std::numeric_limits<float>::infinity()));
      });
  return {m, kb.zeros({Lq}), kb.zeros({Lq, kb.ofr(info.V)})};
}

/// The consecutive loop dimensions [0, n).
SmallVector<unsigned> firstDims(unsigned n) {
  SmallVector<unsigned> d;
  for (unsigned i = 0; i < n; ++i)
    d.push_back(i);
  return d;
}

/// O = acc / l, 0 where l = 0, written into `dest` (acc and dest [..., V],
/// l [...]).
Value normalize(SliceKernelBuilder &kb, Value acc, Value l, Value dest) {
  unsigned rank = cast<RankedTensorType>(dest.getType()).getRank();
  Value zero = kb.f(0.0);
  return kb.generic(ValueRange{acc, l}, dest, rank,
                    {firstDims(rank), firstDims(rank - 1), firstDims(rank)},
                    SliceKernelBuilder::parallel(rank),
                    [&](OpBuilder &bb, Location loc, ValueRange a) -> Value {
                      Value empty = arith::CmpFOp::create(
                          bb, loc, arith::CmpFPredicate::OEQ, a[1], zero);
                      Value o = arith::DivFOp::create(bb, loc, a[0], a[1]);
                      return arith::SelectOp::create(bb, loc, empty, zero, o);
                    });
}

/// lse = m + log l into `dest` (same shape). A row with no visible key has
/// m = -inf and l = 0 and gets -inf + log 0 = -inf, never NaN.
Value logSumExp(SliceKernelBuilder &kb, Value m, Value l, Value dest) {
  unsigned rank = cast<RankedTensorType>(dest.getType()).getRank();
  return kb.generic(ValueRange{m, l}, dest, rank,
                    {firstDims(rank), firstDims(rank), firstDims(rank)},
                    SliceKernelBuilder::parallel(rank),
                    [](OpBuilder &bb, Location loc, ValueRange a) -> Value {
                      Value logL = math::LogOp::create(bb, loc, a[1]);
                      return arith::AddFOp::create(bb, loc, a[0], logL);
                    });
}

/// Rows [start, start + len) of head `head` of `src` [B, heads, T, width].
Value rows(SliceKernelBuilder &kb, Value src, Value bi, Value head,
           OpFoldResult start, Value len, int64_t width) {
  return kb.slice(src, {bi, head, start, kb.ofr(0)},
                  {kb.ofr(1), kb.ofr(1), getAsOpFoldResult(len), kb.ofr(width)},
                  {2, 3});
}

/// The query rows [start, start + len) of head `head`, times the softmax
/// scale: scaling the L_q x K queries once per block saves a pass over each
/// L_q x L_k block of scores.
Value scaledQueryRows(SliceKernelBuilder &kb, const SoftmaxInfo &info, Value bi,
                      Value head, OpFoldResult start, Value len) {
  SoftmaxAttentionOp op = info.op;
  Value q = rows(kb, op.getQ(), bi, head, start, len, info.K);
  Value scale = kb.f(info.scale);
  return kb.generic(ValueRange{q},
                    kb.empty({getAsOpFoldResult(len), kb.ofr(info.K)}), 2,
                    {{0, 1}, {0, 1}}, SliceKernelBuilder::parallel(2),
                    [&](OpBuilder &bb, Location l, ValueRange a) -> Value {
                      return arith::MulFOp::create(bb, l, a[0], scale);
                    });
}

/// Whether every key in [k0, k0 + lk) is visible to every query in
/// [q0, q0 + lq): the block needs no mask.
Value blockIsFull(ImplicitLocOpBuilder &b, const SoftmaxInfo &info, Value q0,
                  Value lq, Value k0, Value lk) {
  Value one = arith::ConstantIndexOp::create(b, 1);
  Value offset = arith::SubIOp::create(b, info.tk, info.tq);
  Value firstPos = arith::AddIOp::create(b, offset, q0);
  Value lastPos =
      arith::AddIOp::create(b, firstPos, arith::SubIOp::create(b, lq, one));
  Value lastKey =
      arith::AddIOp::create(b, k0, arith::SubIOp::create(b, lk, one));
  Value full = arith::ConstantIntOp::create(b, 1, 1);
  auto andWith = [&](Value c) { full = arith::AndIOp::create(b, full, c); };
  if (info.causal)
    andWith(
        arith::CmpIOp::create(b, arith::CmpIPredicate::sle, lastKey, firstPos));
  if (info.window) {
    Value w = arith::ConstantIndexOp::create(b, *info.window);
    // The farthest pair: the last query and the first key (behind), and the
    // first query and the last key (ahead, non-causal).
    andWith(arith::CmpIOp::create(b, arith::CmpIPredicate::slt,
                                  arith::SubIOp::create(b, lastPos, k0), w));
    if (!info.causal)
      andWith(arith::CmpIOp::create(b, arith::CmpIPredicate::slt,
                                    arith::SubIOp::create(b, lastKey, firstPos),
                                    w));
  }
  return full;
}

/// Clamps `x` to [lo, hi] (signed).
Value clamp(ImplicitLocOpBuilder &b, Value x, Value lo, Value hi) {
  return arith::MinSIOp::create(b, arith::MaxSIOp::create(b, x, lo), hi);
}

/// The keys [kBegin, kEnd) that some query in [q0, q0 + lq) may see.
std::pair<Value, Value> visibleKeys(ImplicitLocOpBuilder &b,
                                    const SoftmaxInfo &info, Value q0,
                                    Value lq) {
  Value zero = arith::ConstantIndexOp::create(b, 0);
  Value one = arith::ConstantIndexOp::create(b, 1);
  Value offset = arith::SubIOp::create(b, info.tk, info.tq);
  Value firstPos = arith::AddIOp::create(b, offset, q0);
  Value lastPos =
      arith::AddIOp::create(b, firstPos, arith::SubIOp::create(b, lq, one));
  Value begin = zero, end = info.tk;
  if (info.causal)
    end = arith::AddIOp::create(b, lastPos, one);
  else if (info.window)
    end = arith::AddIOp::create(
        b, lastPos, arith::ConstantIndexOp::create(b, *info.window));
  if (info.window)
    begin =
        arith::SubIOp::create(b, arith::AddIOp::create(b, firstPos, one),
                              arith::ConstantIndexOp::create(b, *info.window));
  begin = clamp(b, begin, zero, info.tk);
  end = clamp(b, end, begin, info.tk);
  return {begin, end};
}

/// Query head h reads KV head floor(h H_kv / H).
Value kvHeadOf(SliceKernelBuilder &kb, const SoftmaxInfo &info, Value hi) {
  ImplicitLocOpBuilder &b = kb.builder();
  return arith::DivUIOp::create(
      b, arith::MulIOp::create(b, hi, kb.index(info.Hkv)), kb.index(info.H));
}

/// Queries [q0, q0 + lq) (rows `Q`) of batch `bi` against keys [kBegin, kEnd)
/// of KV head `kvHead`, in key blocks of `block`, starting from `st`. Only
/// partial blocks pay for the mask.
RowState attendKeyRange(SliceKernelBuilder &kb, const SoftmaxInfo &info,
                        Value Q, Value q0, Value lq, Value bi, Value kvHead,
                        Value kBegin, Value kEnd, int64_t block, RowState st) {
  ImplicitLocOpBuilder &b = kb.builder();
  SoftmaxAttentionOp op = info.op;
  Value step = kb.index(block);
  auto loop = scf::ForOp::create(
      b, kBegin, kEnd, step, ValueRange{st.m, st.l, st.acc},
      [&](OpBuilder &nb, Location loc, Value k0, ValueRange iter) {
        ImplicitLocOpBuilder ib(loc, nb);
        Value lk = arith::MinSIOp::create(ib, step,
                                          arith::SubIOp::create(ib, kEnd, k0));
        RowState in{iter[0], iter[1], iter[2]};
        // One block step over `len` keys, `len` a constant for full blocks
        // (every op of the step then has static key sizes).
        auto attendKeys = [&](ImplicitLocOpBuilder &bb, Value len) {
          SliceKernelBuilder k(bb);
          Value Kb = rows(k, op.getK(), bi, kvHead, k0, len, info.K);
          Value Vb = rows(k, op.getV(), bi, kvHead, k0, len, info.V);
          if (!info.causal && !info.window)
            return attendBlock(k, info, Q, q0, lq, Kb, Vb, k0, len, in,
                               Visibility::All);
          Value full = blockIsFull(bb, info, q0, lq, k0, len);
          auto step = [&](Visibility vis) {
            return [&, vis](OpBuilder &nb, Location l) {
              ImplicitLocOpBuilder b2(l, nb);
              SliceKernelBuilder k2(b2);
              RowState r =
                  attendBlock(k2, info, Q, q0, lq, Kb, Vb, k0, len, in, vis);
              scf::YieldOp::create(b2, ValueRange{r.m, r.l, r.acc});
            };
          };
          auto branch = scf::IfOp::create(bb, full, step(Visibility::All),
                                          step(Visibility::Masked));
          return RowState{branch.getResult(0), branch.getResult(1),
                          branch.getResult(2)};
        };
        // Full key blocks (all but the last) take the static copy.
        scf::YieldOp::create(
            ib, SliceKernelBuilder(ib).staticWhenFull(
                    lk, step, [&](ImplicitLocOpBuilder &bb, Value len) {
                      RowState r = attendKeys(bb, len);
                      return SmallVector<Value>{r.m, r.l, r.acc};
                    }));
      });
  return {loop.getResult(0), loop.getResult(1), loop.getResult(2)};
}

/// The final (m, l, acc) of queries [q0, q0 + lq) of slice (bi, hi) against
/// the keys of its KV head, in key blocks of `chunk` over the visible keys
/// (all keys as one block when `chunk` is 0).
RowState attendQueries(SliceKernelBuilder &kb, const SoftmaxInfo &info,
                       Value bi, Value hi, Value q0, Value lq, int64_t chunk) {
  ImplicitLocOpBuilder &b = kb.builder();
  SoftmaxAttentionOp op = info.op;
  Value kvHead = kvHeadOf(kb, info, hi);
  RowState st = initialState(kb, info, lq);
  Value Q = scaledQueryRows(kb, info, bi, hi, q0, lq);
  if (chunk == 0) {
    Value Kb = rows(kb, op.getK(), bi, kvHead, kb.ofr(0), info.tk, info.K);
    Value Vb = rows(kb, op.getV(), bi, kvHead, kb.ofr(0), info.tk, info.V);
    bool masked = info.causal || info.window;
    return attendBlock(kb, info, Q, q0, lq, Kb, Vb, kb.index(0), info.tk, st,
                       masked ? Visibility::Masked : Visibility::All);
  }
  std::pair<Value, Value> keys = visibleKeys(b, info, q0, lq);
  return attendKeyRange(kb, info, Q, q0, lq, bi, kvHead, keys.first,
                        keys.second, chunk, st);
}

/// ceil(a / b) for a >= 0, b > 0.
Value ceilDiv(ImplicitLocOpBuilder &b, Value a, Value d) {
  Value one = arith::ConstantIndexOp::create(b, 1);
  return arith::DivUIOp::create(
      b, arith::SubIOp::create(b, arith::AddIOp::create(b, a, d), one), d);
}

/// Output tensors of the op, empty: out [B, H, Tq, V] and, when the op has
/// it, lse [B, H, Tq].
SmallVector<Value> emptyResults(ImplicitLocOpBuilder &b,
                                const SoftmaxInfo &info) {
  SmallVector<Value> inits;
  for (Value r : info.op->getResults()) {
    auto type = cast<RankedTensorType>(r.getType());
    SmallVector<Value> dyn;
    if (type.isDynamicDim(0))
      dyn.push_back(info.batch);
    if (type.isDynamicDim(2))
      dyn.push_back(info.tq);
    inits.push_back(tensor::EmptyOp::create(b, type, dyn));
  }
  return inits;
}

/// Parallel and chunked: (batch, head[, query block]) in parallel, each
/// writing its rows of out (and lse).
SmallVector<Value> lowerBlocked(SliceKernelBuilder &kb, const SoftmaxInfo &info,
                                int64_t chunk) {
  ImplicitLocOpBuilder &b = kb.builder();
  SmallVector<OpFoldResult> ubs = {info.batch, b.getIndexAttr(info.H)};
  if (chunk)
    ubs.push_back(ceilDiv(b, info.tq, kb.index(chunk)));
  auto forall =
      scf::ForallOp::create(b, ubs, emptyResults(b, info), std::nullopt);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPoint(forall.getBody()->getTerminator());
  Value bi = forall.getInductionVars()[0], hi = forall.getInductionVars()[1];
  Value q0 = kb.index(0), lq = info.tq;
  if (chunk) {
    Value c = kb.index(chunk);
    q0 = arith::MulIOp::create(b, forall.getInductionVars()[2], c);
    lq = arith::MinSIOp::create(b, c, arith::SubIOp::create(b, info.tq, q0));
  }
  RowState st = attendQueries(kb, info, bi, hi, q0, lq, chunk);
  ValueRange outs = forall.getRegionIterArgs();
  Value o =
      normalize(kb, st.acc, st.l, rows(kb, outs[0], bi, hi, q0, lq, info.V));
  Value lse;
  SmallVector<OpFoldResult> lseOffsets = {bi, hi, q0},
                            lseSizes = {b.getIndexAttr(1), b.getIndexAttr(1),
                                        lq};
  if (outs.size() > 1)
    lse =
        logSumExp(kb, st.m, st.l, kb.slice(outs[1], lseOffsets, lseSizes, {2}));
  b.setInsertionPointToEnd(forall.getTerminator().getBody());
  SmallVector<OpFoldResult> strides(4, b.getIndexAttr(1));
  tensor::ParallelInsertSliceOp::create(
      b, o, outs[0], ArrayRef<OpFoldResult>{bi, hi, q0, b.getIndexAttr(0)},
      ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(1), lq,
                             b.getIndexAttr(info.V)},
      strides);
  if (lse)
    tensor::ParallelInsertSliceOp::create(
        b, lse, outs[1], lseOffsets, lseSizes,
        ArrayRef<OpFoldResult>(strides).drop_back());
  return SmallVector<Value>(forall.getResults());
}

/// Decode (FORMS.md 1.4): every query as one block against its visible keys.
/// With split-KV the visible keys are cut into S segments, S = min(ceil(
/// workers / (B H)), ceil(keys / kDecodeKeyBlock)) chosen at run time (1 when
/// B H fills the workers); the (batch, head, segment) loop is parallel and
/// each segment's partial (m, l, acc) is merged by FORMS.md 0.5(d):
///   M = max_s m_s, w_s = exp(m_s - M), l = sum_s w_s l_s,
///   acc = sum_s w_s acc_s, O = acc / l, lse = M + log l.
SmallVector<Value> lowerDecode(SliceKernelBuilder &kb, const SoftmaxInfo &info,
                               int64_t workers) {
  ImplicitLocOpBuilder &b = kb.builder();
  Value zero = kb.index(0), one = kb.index(1);
  std::pair<Value, Value> keys = visibleKeys(b, info, zero, info.tq);
  Value kBegin = keys.first, kEnd = keys.second;
  Value visible = arith::SubIOp::create(b, kEnd, kBegin);
  Value byKeys = arith::MaxUIOp::create(
      b, one, ceilDiv(b, visible, kb.index(kDecodeKeyBlock)));
  Value tasks = arith::MaxUIOp::create(
      b, one, arith::MulIOp::create(b, info.batch, kb.index(info.H)));
  Value wanted = ceilDiv(b, kb.index(workers), tasks);
  Value splits = arith::MinUIOp::create(b, wanted, byKeys);
  Value segment = ceilDiv(b, visible, splits);

  OpFoldResult B = info.batch, H = b.getIndexAttr(info.H), S = splits,
               Tq = info.tq, V = b.getIndexAttr(info.V);
  SmallVector<Value> parts = {kb.empty({B, H, S, Tq}), kb.empty({B, H, S, Tq}),
                              kb.empty({B, H, S, Tq, V})};
  auto forall = scf::ForallOp::create(b, ArrayRef<OpFoldResult>{B, H, S}, parts,
                                      std::nullopt);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(forall.getBody()->getTerminator());
    SmallVector<Value> iv(forall.getInductionVars());
    Value s0 = arith::MinUIOp::create(
        b,
        arith::AddIOp::create(b, kBegin,
                              arith::MulIOp::create(b, iv[2], segment)),
        kEnd);
    Value s1 =
        arith::MinUIOp::create(b, arith::AddIOp::create(b, s0, segment), kEnd);
    Value Q = scaledQueryRows(kb, info, iv[0], iv[1], zero, info.tq);
    RowState st = attendKeyRange(
        kb, info, Q, zero, info.tq, iv[0], kvHeadOf(kb, info, iv[1]), s0, s1,
        kDecodeKeyBlock, initialState(kb, info, info.tq));
    b.setInsertionPointToEnd(forall.getTerminator().getBody());
    ValueRange outs = forall.getRegionIterArgs();
    OpFoldResult c0 = b.getIndexAttr(0), c1 = b.getIndexAttr(1);
    SmallVector<OpFoldResult> offsets = {iv[0], iv[1], iv[2], c0, c0};
    SmallVector<OpFoldResult> sizes = {c1, c1, c1, Tq, V};
    SmallVector<OpFoldResult> strides(5, c1);
    SmallVector<Value, 3> partial = {st.m, st.l, st.acc};
    for (auto [i, v] : llvm::enumerate(partial)) {
      size_t rank = i == 2 ? 5 : 4;
      tensor::ParallelInsertSliceOp::create(
          b, v, outs[i], ArrayRef<OpFoldResult>(offsets).take_front(rank),
          ArrayRef<OpFoldResult>(sizes).take_front(rank),
          ArrayRef<OpFoldResult>(strides).take_front(rank));
    }
  }
  Value mParts = forall.getResult(0), lParts = forall.getResult(1),
        accParts = forall.getResult(2);
  // The merge: loops (b, h, i[, e], s) with the segment innermost.
  Value ninf = negInf(kb), fzero = kb.f(0.0);
  Value M = kb.generic(
      ValueRange{mParts},
      kb.fill(kb.empty({B, H, Tq}), -std::numeric_limits<double>::infinity()),
      4, {{0, 1, 3, 2}, {0, 1, 2}}, {kPar, kPar, kPar, kRed},
      [](OpBuilder &bb, Location l, ValueRange a) -> Value {
        return arith::MaximumFOp::create(bb, l, a[0], a[1]);
      });
  Value W = kb.generic(
      ValueRange{mParts, M}, kb.empty({B, H, S, Tq}), 4,
      {{0, 1, 2, 3}, {0, 1, 3}, {0, 1, 2, 3}}, SliceKernelBuilder::parallel(4),
      [&](OpBuilder &bb, Location l, ValueRange a) -> Value {
        Value isNinf =
            arith::CmpFOp::create(bb, l, arith::CmpFPredicate::OEQ, a[1], ninf);
        Value u = arith::SelectOp::create(bb, l, isNinf, fzero, a[1]);
        Value d = arith::SubFOp::create(bb, l, a[0], u);
        return math::ExpOp::create(bb, l, d);
      });
  auto weighted = [](OpBuilder &bb, Location l, ValueRange a) -> Value {
    Value p = arith::MulFOp::create(bb, l, a[0], a[1]);
    return arith::AddFOp::create(bb, l, a[2], p);
  };
  Value L = kb.generic(ValueRange{W, lParts}, kb.zeros({B, H, Tq}), 4,
                       {{0, 1, 3, 2}, {0, 1, 3, 2}, {0, 1, 2}},
                       {kPar, kPar, kPar, kRed}, weighted);
  Value A = kb.generic(ValueRange{W, accParts}, kb.zeros({B, H, Tq, V}), 5,
                       {{0, 1, 4, 2}, {0, 1, 4, 2, 3}, {0, 1, 2, 3}},
                       {kPar, kPar, kPar, kPar, kRed}, weighted);
  SmallVector<Value> inits = emptyResults(b, info);
  SmallVector<Value> results = {normalize(kb, A, L, inits[0])};
  if (inits.size() > 1)
    results.push_back(logSumExp(kb, M, L, inits[1]));
  return results;
}
} // namespace

std::string mlir::seqmix::whyNotLoweredSoftmax(SoftmaxAttentionOp, FormKind) {
  return "";
}

LogicalResult
mlir::seqmix::lowerSoftmaxAttention(SoftmaxAttentionOp op,
                                    RewriterBase &rewriter,
                                    const LoweringTarget &target) {
  const int64_t workers = target.workers;
  FormAttr form = getForm(op);
  auto qType = cast<RankedTensorType>(op.getQ().getType());
  auto kType = cast<RankedTensorType>(op.getK().getType());
  auto vType = cast<RankedTensorType>(op.getV().getType());
  if (qType.isDynamicDim(1) || kType.isDynamicDim(1) || qType.isDynamicDim(3) ||
      vType.isDynamicDim(3))
    return op.emitOpError("cannot be lowered: heads, kv heads, key_dim and "
                          "value_dim must be static");
  if (failed(checkF32Activations(op, qType.getElementType())))
    return failure();

  rewriter.setInsertionPoint(op);
  ImplicitLocOpBuilder b(op.getLoc(), rewriter);
  std::optional<int64_t> window;
  if (IntegerAttr w = op.getWindowAttr())
    window = w.getInt();
  SoftmaxInfo info{op,
                   qType.getDimSize(1),
                   kType.getDimSize(1),
                   qType.getDimSize(3),
                   vType.getDimSize(3),
                   tensor::DimOp::create(b, op.getQ(), 0),
                   tensor::DimOp::create(b, op.getQ(), 2),
                   tensor::DimOp::create(b, op.getK(), 2),
                   op.getScale().convertToFloat(),
                   op.getCausal(),
                   window};
  SliceKernelBuilder kb(b);
  SmallVector<Value> results =
      form.getKind() == FormKind::recurrent
          ? lowerDecode(kb, info, workers)
          : lowerBlocked(kb, info,
                         form.getKind() == FormKind::chunked ? form.getChunk()
                                                             : int64_t(0));
  rewriter.replaceOp(op, results);
  return success();
}
