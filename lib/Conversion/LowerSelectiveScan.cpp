//===- LowerSelectiveScan.cpp - Mamba-1's selective scan by form ----------===//
//
// Recurrent form (FORMS.md 5.3), per token:
//   delta_t = softplus(delta_raw_t + delta_bias)     (or without softplus)
//   h_t     = exp(delta_t A) * h_{t-1} + delta_t B_t u_t      (h [D, N], fp32)
//   y_t     = C_t . h_t + D_skip u_t,   out_t = y_t silu(z_t)  (with z)
//
// The state of a block of Dc channels is kept transposed, [N, Dc], across
// the whole sequence, so that every token's update is N rows of Dc channels
// (one vector each with Dc = 16): the recurrent token loop is vector code
// (recurrentTokens) that takes dA = exp(delta A) with F32Math's exp and
// accumulates the read-out C_t . h_t in rows. The inputs arrive with T
// innermost ([B, D, T], [B, G, N, T]); each block of 256 tokens is transposed
// once into token rows (delta, delta u, B_t, C_t), and its outputs back, so
// that the token loop reads contiguous rows. softplus, the skip and the z gate
// run over whole rows of a block, before and after the scan.
//
//===----------------------------------------------------------------------===//
#include "seqmix/Conversion/LowerForms.h"

#include "ChannelBlocks.h"
#include "VectorMath.h"

using namespace mlir;
using namespace mlir::seqmix;

namespace {

/// Tokens of a block of the recurrence: each block reads 1 KiB of every
/// channel's row of u, delta and z (measured, B=1 D=1536 N=16 T=4096 on
/// machine B: 88 ms with blocks of 64 tokens, 68 ms with 256).
constexpr int64_t kTokenBlock = 256;

struct ScanInfo {
  SelectiveScanOp op;
  int64_t D, N, G;
  int64_t Dc; ///< channels per block (a divisor of D / G)
  Value batch, seqLen;
  /// B and C transposed once for all channel blocks: [B, G, T, N] (token
  /// rows of the state size).
  Value BT, CT;
  /// The decays may scale by 2^n with vscalefps (LoweringTarget::avx512).
  bool avx512;
};

/// State rows the recurrence's token loop carries at once (recurrentTokens).
constexpr int64_t kStateGroup = 4;

/// The recurrence over `len` tokens of a block, as vector code. The N rows
/// of the state are independent recurrences, coupled only by the read-out,
/// so the rows go kStateGroup at a time through the whole block: their
/// state and rows of A stay in registers (all 16 of each would not fit
/// with the exp's constants: the state spilled), and each token reads its
/// rows of delta and delta u ([L, Dc]), broadcasts B_t[n] and C_t[n]
/// ([L, N]), takes dA = exp(delta A[n]) (F32Math's exp, or exp2Scalef of
/// delta A[n] log2(e) with `avx512` and 16 lanes), h[n] = dA h[n] + B_t[n]
/// (delta u) and adds C_t[n] h[n] to the token's read-out row. Returns the
/// [L, Dc] read-out rows and the state after the block, written into `h0`'s
/// buffer. `twoLevel` is the chunked form's block (FORMS.md 5.3's two-level
/// scan): h~ scans from zero while g = exp(Lambda) h_start, Lambda = sum
/// delta A, is carried as the product of the same decays (no second exp);
/// the read-out sees h~ + g, and the state after the chunk is h~ + g.
std::pair<Value, Value> recurrentTokens(SliceKernelBuilder &k, Value AT,
                                        Value dT, Value duT, Value BT, Value CT,
                                        Value h0, Value len, int64_t N,
                                        int64_t Dc, bool twoLevel,
                                        bool avx512) {
  ImplicitLocOpBuilder &b = k.builder();
  VectorType vt = VectorType::get({Dc}, b.getF32Type());
  const int64_t G = N % kStateGroup == 0 ? kStateGroup : 1;
  auto idx = [](ImplicitLocOpBuilder &ib, int64_t x) -> Value {
    return arith::ConstantIndexOp::create(ib, x);
  };
  auto row = [&](ImplicitLocOpBuilder &ib, Value plane, Value r) {
    return readLanes(ib, vt, plane, r);
  };
  // exp(delta A) of a row (with vscalefps the row is A log2(e)).
  const bool scalef = avx512 && Dc == 16;
  auto decay = [&](ImplicitLocOpBuilder &ib, Value delta, Value aRow) {
    F32Math m(ib, ib.getLoc(), vt);
    Value x = m.mul(delta, aRow);
    return scalef ? m.exp2Scalef(x) : m.exp(x);
  };
  Value Y0 = k.zeros({getAsOpFoldResult(len), k.ofr(Dc)});
  auto groups = scf::ForOp::create(
      b, idx(b, 0), idx(b, N), idx(b, G), ValueRange{Y0, h0},
      [&](OpBuilder &gb, Location gl, Value n0, ValueRange git) {
        ImplicitLocOpBuilder ob(gl, gb);
        SmallVector<Value> ns, a, inits = {git[0]};
        for (int64_t j = 0; j < G; ++j) {
          ns.push_back(arith::AddIOp::create(ob, n0, idx(ob, j)));
          a.push_back(row(ob, AT, ns.back()));
          if (scalef) // exp(delta A) = 2^(delta A log2(e))
            a.back() = arith::MulFOp::create(
                ob, a.back(), splatF32(ob, vt, 1.44269504088896341f));
          inits.push_back(twoLevel ? splatF32(ob, vt, 0.0f)
                                   : row(ob, git[1], ns.back()));
        }
        // The decays of the next token are taken a step ahead (carried),
        // so that their exps overlap the current token's updates.
        Value d0 = row(ob, dT, idx(ob, 0));
        for (int64_t j = 0; j < G; ++j)
          inits.push_back(decay(ob, d0, a[j]));
        if (twoLevel) // g = h_start, decayed token by token
          for (int64_t j = 0; j < G; ++j)
            inits.push_back(row(ob, git[1], ns[j]));
        Value last = arith::SubIOp::create(ob, len, idx(ob, 1));
        auto tokens = scf::ForOp::create(
            ob, idx(ob, 0), len, idx(ob, 1), inits,
            [&](OpBuilder &nb, Location loc, Value i, ValueRange it) {
              ImplicitLocOpBuilder ib(loc, nb);
              Value du = row(ib, duT, i);
              Value ahead = arith::MinUIOp::create(
                  ib, arith::AddIOp::create(ib, i, idx(ib, 1)), last);
              Value dn = row(ib, dT, ahead);
              // Two partial sums of the read-out (half the dependent chain).
              Value ys[2] = {row(ib, it[0], i), splatF32(ib, vt, 0.0f)};
              SmallVector<Value> next = {Value()}, decays, gs;
              for (int64_t j = 0; j < G; ++j) {
                Value &y = ys[j % 2];
                auto scalar = [&](Value m) -> Value {
                  return vector::BroadcastOp::create(
                      ib, vt,
                      tensor::ExtractOp::create(ib, m, ValueRange{i, ns[j]}));
                };
                Value dA = it[1 + G + j];
                Value h = math::FmaOp::create(
                    ib, dA, it[1 + j],
                    arith::MulFOp::create(ib, du, scalar(BT)));
                Value seen = h;
                if (twoLevel) {
                  // (Flushed below 2^-100: a long chunk's product of
                  // decays would crawl through subnormal numbers, a
                  // hundredfold slower multiply; chunks of 256 took 3x
                  // the time of chunks of 64.)
                  Value g = arith::MulFOp::create(ib, dA, it[1 + 2 * G + j]);
                  Value live = arith::CmpFOp::create(
                      ib, arith::CmpFPredicate::OGE,
                      math::AbsFOp::create(ib, g), splatF32(ib, vt, 0x1p-100f));
                  g = arith::SelectOp::create(ib, live, g,
                                              splatF32(ib, vt, 0.0f));
                  gs.push_back(g);
                  seen = arith::AddFOp::create(ib, h, g);
                }
                y = math::FmaOp::create(ib, scalar(CT), seen, y);
                next.push_back(h);
                decays.push_back(decay(ib, dn, a[j]));
              }
              next.append(decays);
              next.append(gs);
              next[0] = writeLanes(ib, arith::AddFOp::create(ib, ys[0], ys[1]),
                                   it[0], i);
              scf::YieldOp::create(ib, next);
            });
        Value after = git[1];
        for (int64_t j = 0; j < G; ++j) {
          Value h = tokens.getResult(1 + j);
          if (twoLevel)
            h = arith::AddFOp::create(ob, h, tokens.getResult(1 + 2 * G + j));
          after = writeLanes(ob, h, after, ns[j]);
        }
        scf::YieldOp::create(ob, ValueRange{tokens.getResult(0), after});
      });
  return {groups.getResult(0), groups.getResult(1)};
}

/// Tokens of a block of the parallel form (log2 of it scan passes).
constexpr int64_t kScanBlock = 32;

/// The parallel form's block (FORMS.md 5.3, the associative scan): the
/// elements (a_t, b_t) = (exp(delta_t A), delta_t B_t u_t) of `len` tokens
/// ([L, N, Dc]) are combined by Hillis-Steele passes, (a, b)_t <- (a_t
/// a_{t-d}, a_t b_{t-d} + b_t) for d = 1, 2, 4, ... (log2 kScanBlock passes,
/// unrolled; rows past `len` are empty), after which a_t is the decay from
/// the block's start and b_t the state scanned from zero. The read-out is
/// fused: y_t = C_t . (b_t + a_t h_start); the state after the block is
/// b_last + a_last h_start, written into `hStart`'s buffer. Returns the
/// [L, Dc] read-out rows and that state.
std::pair<Value, Value> associativeScan(SliceKernelBuilder &k, Value AT,
                                        Value dT, Value duT, Value BT, Value CT,
                                        Value hStart, Value len, int64_t N,
                                        int64_t Dc) {
  ImplicitLocOpBuilder &b = k.builder();
  OpFoldResult L = getAsOpFoldResult(len), n = k.ofr(N), dc = k.ofr(Dc);
  SmallVector<Value> ab =
      k.generics(ValueRange{dT, AT, BT, duT},
                 ValueRange{k.empty({L, n, dc}), k.empty({L, n, dc})}, 3,
                 {{0, 2}, {1, 2}, {0, 1}, {0, 2}, {0, 1, 2}, {0, 1, 2}},
                 SliceKernelBuilder::parallel(3),
                 [](OpBuilder &bb, Location l, ValueRange a) {
                   return SmallVector<Value>{
                       math::ExpOp::create(
                           bb, l, arith::MulFOp::create(bb, l, a[0], a[1])),
                       arith::MulFOp::create(bb, l, a[2], a[3])};
                 });
  Value A = ab[0], B = ab[1];
  for (int64_t d = 1; d < kScanBlock; d *= 2) {
    Value rowsV = arith::SubIOp::create(
        b, arith::MaxSIOp::create(b, len, k.index(d)), k.index(d));
    OpFoldResult rows = getAsOpFoldResult(rowsV);
    auto at = [&](Value x, OpFoldResult first) {
      return k.slice(x, {first, k.ofr(0), k.ofr(0)}, {rows, n, dc}, {0, 1, 2});
    };
    SmallVector<Value> next =
        k.generics(ValueRange{at(A, k.ofr(d)), at(A, k.ofr(0)), at(B, k.ofr(0)),
                              at(B, k.ofr(d))},
                   ValueRange{k.empty({rows, n, dc}), k.empty({rows, n, dc})},
                   3, SmallVector<SmallVector<unsigned>>(6, {0, 1, 2}),
                   SliceKernelBuilder::parallel(3),
                   [](OpBuilder &bb, Location l, ValueRange a) {
                     return SmallVector<Value>{
                         arith::MulFOp::create(bb, l, a[0], a[1]),
                         math::FmaOp::create(bb, l, a[0], a[2], a[3])};
                   });
    A = k.insert(next[0], A, {k.ofr(d), k.ofr(0), k.ofr(0)}, {rows, n, dc});
    B = k.insert(next[1], B, {k.ofr(d), k.ofr(0), k.ofr(0)}, {rows, n, dc});
  }
  Value Y = k.generic(ValueRange{CT, B, A, hStart}, k.zeros({L, dc}), 3,
                      {{0, 1}, {0, 1, 2}, {0, 1, 2}, {1, 2}, {0, 2}},
                      {kPar, kRed, kPar},
                      [](OpBuilder &bb, Location l, ValueRange a) -> Value {
                        Value h = math::FmaOp::create(bb, l, a[2], a[3], a[1]);
                        return math::FmaOp::create(bb, l, a[0], h, a[4]);
                      });
  Value last = arith::SubIOp::create(b, len, k.index(1));
  auto lastRow = [&](Value x) {
    return k.slice(x, {last, k.ofr(0), k.ofr(0)}, {k.ofr(1), n, dc}, {1, 2});
  };
  Value after =
      k.generic(ValueRange{lastRow(A), lastRow(B)}, hStart, 2,
                {{0, 1}, {0, 1}, {0, 1}}, SliceKernelBuilder::parallel(2),
                [](OpBuilder &bb, Location l, ValueRange a) -> Value {
                  return math::FmaOp::create(bb, l, a[0], a[2], a[1]);
                });
  return {Y, after};
}

/// The recurrent form (`chunk` 0: blocks of kTokenBlock tokens) or the
/// chunked form (blocks of `chunk` tokens, each scanned from zero and
/// combined with the state before it) for one block of channels.
std::pair<Value, Value> buildScanBlock(SliceKernelBuilder &kb,
                                       const ScanInfo &info, int64_t chunk,
                                       Value bi, Value c0, Value outArg,
                                       Value stateArg) {
  const bool chunked = chunk > 0, parallelForm = chunk < 0;
  ImplicitLocOpBuilder &b = kb.builder();
  SelectiveScanOp op = info.op;
  const int64_t N = info.N, Dc = info.Dc;
  OpFoldResult dc = kb.ofr(Dc), n = kb.ofr(N);
  // The channels' group of B and C.
  Value grp = arith::DivUIOp::create(
      b, arith::MulIOp::create(b, c0, kb.index(info.G)), kb.index(info.D));
  // A^T [N, Dc] for the block.
  Value AT = transposed(
      kb, kb.slice(op.getA(), {c0, kb.ofr(0)}, {dc, n}, {0, 1}), dc, n);
  // The state, transposed: [N, Dc].
  Value h0;
  if (Value init = op.getInitialState())
    h0 = transposed(
        kb, kb.slice(init, {bi, c0, kb.ofr(0)}, {kb.ofr(1), dc, n}, {1, 2}), dc,
        n);
  else
    h0 = kb.zeros({n, dc});
  auto channelVec = [&](Value src) -> Value {
    return src ? kb.slice(src, {c0}, {dc}, {0}) : Value();
  };
  Value bias = channelVec(op.getDeltaBias()), skip = channelVec(op.getDSkip());
  Value out0 = kb.slice(outArg, {bi, c0, kb.ofr(0)},
                        {kb.ofr(1), dc, info.seqLen}, {1, 2});
  bool softplusOn = op.getDeltaSoftplus();
  ValueRange blocks = buildTokenBlockLoop(
      kb, info.seqLen,
      chunked ? chunk : (parallelForm ? kScanBlock : kTokenBlock),
      ValueRange{h0, out0},
      [&](SliceKernelBuilder &k, Value t0, Value len, ValueRange iter) {
        OpFoldResult L = getAsOpFoldResult(len);
        auto rows = [&](Value src) {
          return k.slice(src, {bi, c0, t0}, {k.ofr(1), dc, L}, {1, 2});
        };
        Value U = rows(op.getU());
        // delta = softplus(delta_raw + bias) and delta u, [Dc, L].
        SmallVector<Value> ins = {rows(op.getDelta())};
        SmallVector<SmallVector<unsigned>> dims = {{0, 1}};
        if (bias) {
          ins.push_back(bias);
          dims.push_back({0});
        }
        dims.push_back({0, 1});
        Value dl = k.generic(
            ins, k.empty({dc, L}), 2, dims, SliceKernelBuilder::parallel(2),
            [&](OpBuilder &bb, Location l, ValueRange a) -> Value {
              Value x = a[0];
              if (bias)
                x = arith::AddFOp::create(bb, l, x, a[1]);
              return softplusOn ? F32Math(bb, l, x.getType()).softplus(x) : x;
            });
        Value du = k.generic(
            ValueRange{dl, U}, k.empty({dc, L}), 2, {{0, 1}, {0, 1}, {0, 1}},
            SliceKernelBuilder::parallel(2),
            [](OpBuilder &bb, Location l, ValueRange a) {
              return arith::MulFOp::create(bb, l, a[0], a[1]).getResult();
            });
        // Token rows: delta, delta u [L, Dc]; B_t, C_t [L, N].
        Value dT = transposed(k, dl, dc, L), duT = transposed(k, du, dc, L);
        auto groupRows = [&](Value srcT) {
          return k.slice(srcT, {bi, grp, t0, k.ofr(0)},
                         {k.ofr(1), k.ofr(1), L, n}, {2, 3});
        };
        Value BT = groupRows(info.BT), CT = groupRows(info.CT);
        Value Yrows, after;
        if (parallelForm) {
          std::tie(Yrows, after) =
              associativeScan(k, AT, dT, duT, BT, CT, iter[0], len, N, Dc);
        } else {
          std::tie(Yrows, after) =
              recurrentTokens(k, AT, dT, duT, BT, CT, iter[0], len, N, Dc,
                              chunked, info.avx512);
        }
        // y = y + D u, then y silu(z), over the block's rows.
        Value Y = transposed(k, Yrows, L, dc);
        SmallVector<Value> eins = {Y, U};
        SmallVector<SmallVector<unsigned>> edims = {{0, 1}, {0, 1}};
        if (skip) {
          eins.push_back(skip);
          edims.push_back({0});
        }
        Value z = op.getZ() ? rows(op.getZ()) : Value();
        if (z) {
          eins.push_back(z);
          edims.push_back({0, 1});
        }
        Value dest = k.slice(iter[1], {k.ofr(0), t0}, {dc, L}, {0, 1});
        edims.push_back({0, 1});
        Value o = k.generic(
            eins, dest, 2, edims, SliceKernelBuilder::parallel(2),
            [&](OpBuilder &bb, Location l, ValueRange a) -> Value {
              Value y = a[0];
              unsigned next = 2;
              if (skip)
                y = math::FmaOp::create(bb, l, a[next++], a[1], y);
              if (z)
                y = arith::MulFOp::create(bb, l, y, silu(bb, l, a[next]));
              return y;
            });
        Value out = k.insert(o, iter[1], {k.ofr(0), t0}, {dc, L});
        return SmallVector<Value>{after, out};
      });
  // (Full blocks get static shapes, so that their transposes are 16 x 16
  // shuffles.)
  Value state;
  if (stateArg)
    state = transposed(kb, blocks[0], n, dc);
  return {blocks[1], state};
}
} // namespace

std::string mlir::seqmix::whyNotLoweredSelectiveScan(SelectiveScanOp,
                                                     FormKind) {
  return "";
}

LogicalResult mlir::seqmix::lowerSelectiveScan(SelectiveScanOp op,
                                               RewriterBase &rewriter,
                                               const LoweringTarget &target) {
  auto uType = cast<RankedTensorType>(op.getU().getType());
  auto aType = cast<RankedTensorType>(op.getA().getType());
  auto bType = cast<RankedTensorType>(op.getB().getType());
  if (uType.isDynamicDim(1) || aType.isDynamicDim(1) || bType.isDynamicDim(1))
    return op->emitOpError("cannot be lowered: channels, state_dim and "
                           "groups must be static");
  if (failed(checkF32Activations(op, uType.getElementType())))
    return failure();
  rewriter.setInsertionPoint(op);
  ImplicitLocOpBuilder b(op.getLoc(), rewriter);
  const int64_t D = uType.getDimSize(1), G = bType.getDimSize(1);
  ScanInfo info{op,
                D,
                aType.getDimSize(1),
                G,
                channelBlock(D / G, target.maxChannelBlock),
                tensor::DimOp::create(b, op.getU(), 0),
                tensor::DimOp::create(b, op.getU(), 2),
                Value(),
                Value(),
                target.avx512};
  // B and C into token rows once (every block of channels of a group reads
  // the same rows).
  auto tokenRows = [&](Value src) {
    auto type = cast<RankedTensorType>(src.getType());
    SmallVector<OpFoldResult> in = tensor::getMixedSizes(b, b.getLoc(), src);
    SmallVector<OpFoldResult> sizes = {in[0], in[1], in[3], in[2]};
    Value dest = tensor::EmptyOp::create(b, sizes, type.getElementType());
    return linalg::TransposeOp::create(b, src, dest,
                                       ArrayRef<int64_t>{0, 1, 3, 2})
        .getResult()[0];
  };
  info.BT = tokenRows(op.getB());
  info.CT = tokenRows(op.getC());
  SliceLoopShape shape{op.getOut(), op.getFinalState(), info.batch, info.seqLen,
                       info.Dc};
  FormAttr form = getForm(op);
  int64_t chunk = form.getKind() == FormKind::chunked
                      ? std::max<int64_t>(1, form.getChunk())
                  : form.getKind() == FormKind::parallel ? -1
                                                         : 0;
  auto forall = buildSliceLoop(b, shape,
                               [&](SliceKernelBuilder &kb, Value bi, Value c0,
                                   Value outArg, Value stateArg) {
                                 return buildScanBlock(kb, info, chunk, bi, c0,
                                                       outArg, stateArg);
                               });
  rewriter.replaceOp(op, forall.getResults());
  return success();
}
