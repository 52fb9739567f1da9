//===- LowerDeltaRule.cpp - delta rule and gated delta rule by form -------===//
//
// Recurrent form (FORMS.md 4.2), in the stored orientation S [K, V] (fp32):
// per (batch, head) slice an scf.for over time carries S and, per token,
//   S = exp(g_t) S                      (gated delta rule only)
//   u = beta_t (v_t - S^T k_t)          (the correction actually written)
//   S = S + k_t u^T
//   o_t = S^T (scale q_t)
// with q and k L2-normalized in the kernel (x / sqrt(|x|^2 + eps)) when the
// op asks.
//
// Chunked form (FORMS.md 4.3, the WY representation / UT transform): per
// chunk, with chunk-local cumulative log gates b and D[r, i] = exp(seg(r, i))
// from directly accumulated segment sums, masked before the exp, A =
// tril(diag(beta) (K K^T) .* D, -1); the forward substitution (I + A) [U W] =
// [beta .* V, (beta .* exp(b)) .* K] in fp32, by blocks of 16 rows that
// each take the rows before them in one contraction; Delta = U - W S; O = (Q .*
// exp(b)) S + ((Q K^T) .* D) Delta; and S = exp(b_C) S + (K .* exp(b_C - b))^T
// Delta. The parallel form (4.4) is one chunk of the whole sequence.
//
//===----------------------------------------------------------------------===//
#include "seqmix/Conversion/LowerForms.h"

#include "SliceKernelBuilder.h"

using namespace mlir;
using namespace mlir::seqmix;

namespace {

/// Shapes and attributes of one delta-rule op.
struct DeltaInfo {
  DeltaRuleOp op;
  int64_t H, K, V;     ///< H: value heads (the slices), K, V: head sizes
  int64_t group;       ///< value heads per q/k head (grouped value heads)
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
  Value state =
      initialSliceState(kb, op.getInitialState(), stateArg, bi, hi, K, V);
  Value out = kb.slice(outArg, {bi, hi, kb.ofr(0), kb.ofr(0)},
                       {kb.ofr(1), kb.ofr(1), info.seqLen, kb.ofr(V)}, {2, 3});
  auto loop = scf::ForOp::create(
      b, kb.index(0), info.seqLen, kb.index(1), ValueRange{state, out},
      [&](OpBuilder &nb, Location loc, Value t, ValueRange iter) {
        ImplicitLocOpBuilder ib(loc, nb);
        SliceKernelBuilder k(ib);
        Value kt = normalizedRow(
            k, info,
            tokenRow(k, op.getK(), bi, keyHead(ib, hi, info.group), t, K),
            Value());
        Value qt = normalizedRow(
            k, info,
            tokenRow(k, op.getQ(), bi, keyHead(ib, hi, info.group), t, K),
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
/// Rows [start, start + n) of `src` ([B, H, T, width]) of slice (bi, hi).
Value blockRows(SliceKernelBuilder &kb, Value src, Value bi, Value hi,
                OpFoldResult start, OpFoldResult n, int64_t width) {
  return kb.slice(src, {bi, hi, start, kb.ofr(0)},
                  {kb.ofr(1), kb.ofr(1), n, kb.ofr(width)}, {2, 3});
}

/// Every row of an [n, K] block L2-normalized (when the op asks) and scaled
/// by `factor` (null: 1).
Value normalizedRows(SliceKernelBuilder &kb, const DeltaInfo &info, Value x,
                     OpFoldResult n, Value factor) {
  Value norms;
  if (info.l2norm) {
    norms = kb.zeros({n});
    norms = kb.generic(ValueRange{x}, norms, 2, {{0, 1}, {0}}, {kPar, kRed},
                       [](OpBuilder &bb, Location l, ValueRange a) -> Value {
                         Value p = arith::MulFOp::create(bb, l, a[0], a[0]);
                         return arith::AddFOp::create(bb, l, a[1], p);
                       });
  } else if (!factor) {
    return x;
  }
  Value eps = kb.f(info.eps);
  SmallVector<Value> ins = {x};
  SmallVector<SmallVector<unsigned>> dims = {{0, 1}};
  if (norms) {
    ins.push_back(norms);
    dims.push_back({0});
  }
  dims.push_back({0, 1});
  return kb.generic(
      ins, kb.empty({n, kb.ofr(info.K)}), 2, dims,
      SliceKernelBuilder::parallel(2),
      [&](OpBuilder &bb, Location l, ValueRange a) -> Value {
        Value v = a[0];
        if (norms) {
          Value inv = math::RsqrtOp::create(
              bb, l, arith::AddFOp::create(bb, l, a[1], eps));
          v = arith::MulFOp::create(bb, l, v, inv);
        }
        return factor ? arith::MulFOp::create(bb, l, v, factor).getResult() : v;
      });
}

/// C[m, n] = sum_k A[m, k] B[n, k] (A B^T), with B transposed once so the
/// contraction reads contiguous rows (the CPU schedule tiles it).
Value matmulTransposedB(SliceKernelBuilder &kb, Value A, Value B,
                        OpFoldResult m, OpFoldResult n, int64_t k) {
  ImplicitLocOpBuilder &b = kb.builder();
  Value BT = linalg::TransposeOp::create(b, B, kb.empty({kb.ofr(k), n}),
                                         ArrayRef<int64_t>{1, 0})
                 .getResult()[0];
  return kb.generic(ValueRange{A, BT}, kb.zeros({m, n}), 3,
                    {{0, 2}, {2, 1}, {0, 1}}, {kPar, kPar, kRed},
                    [](OpBuilder &bb, Location l, ValueRange a) -> Value {
                      Value p = arith::MulFOp::create(bb, l, a[0], a[1]);
                      return arith::AddFOp::create(bb, l, a[2], p);
                    });
}

/// Rows of the substitution solved one by one, and the block of rows that
/// earlier rows are merged into by one contraction.
constexpr int64_t kSolveBlock = 16;

/// Solves (I + A) X = R for X ([m, width]) with A ([m, m]) strictly lower
/// triangular, row by row in fp32: X_r = R_r - sum_{i<r} A[r, i] X_i (X
/// starts at zero, so the rows not yet solved meet zeros of A, never
/// garbage).
Value rowSubstitution(SliceKernelBuilder &kb, Value A, Value R, Value m,
                      int64_t width) {
  ImplicitLocOpBuilder &b = kb.builder();
  OpFoldResult mf = getAsOpFoldResult(m);
  auto solve = scf::ForOp::create(
      b, kb.index(0), m, kb.index(1), ValueRange{kb.zeros({mf, kb.ofr(width)})},
      [&](OpBuilder &nb, Location loc, Value r, ValueRange iter) {
        ImplicitLocOpBuilder ib(loc, nb);
        SliceKernelBuilder k(ib);
        Value arow = k.slice(A, {r, k.ofr(0)}, {k.ofr(1), mf}, {1});
        Value row = k.slice(R, {r, k.ofr(0)}, {k.ofr(1), k.ofr(width)}, {1});
        Value acc = k.zeros({k.ofr(width)});
        acc = k.generic(ValueRange{arow, iter[0]}, acc, 2, {{1}, {1, 0}, {0}},
                        {kPar, kRed},
                        [](OpBuilder &bb, Location l, ValueRange a) -> Value {
                          Value p = arith::MulFOp::create(bb, l, a[0], a[1]);
                          return arith::AddFOp::create(bb, l, a[2], p);
                        });
        Value x = k.generic(
            ValueRange{row, acc}, k.empty({k.ofr(width)}), 1, {{0}, {0}, {0}},
            {kPar}, [](OpBuilder &bb, Location l, ValueRange a) {
              return arith::SubFOp::create(bb, l, a[0], a[1]).getResult();
            });
        Value X = k.insert(x, iter[0], {r, k.ofr(0)}, {k.ofr(1), k.ofr(width)});
        scf::YieldOp::create(ib, ValueRange{X});
      });
  return solve.getResult(0);
}

/// Solves (I + A) X = R (A [n, n] strictly lower triangular, R and X
/// [n, width]) in fp32 by blocks of kSolveBlock rows (FORMS.md 0.5(f),
/// blocked): each block first takes the rows solved before it in one
/// contraction, R_b - A[b, :r0] X[:r0], then substitutes its own rows one by
/// one. A chunk of up to kSolveBlock tokens is one block.
Value forwardSubstitution(SliceKernelBuilder &kb, Value A, Value R, Value n,
                          int64_t width) {
  ImplicitLocOpBuilder &b = kb.builder();
  OpFoldResult nf = getAsOpFoldResult(n);
  std::optional<int64_t> staticN = getConstantIntValue(nf);
  if (staticN && *staticN <= kSolveBlock)
    return rowSubstitution(kb, A, R, n, width);
  Value step = kb.index(kSolveBlock);
  auto blocks = scf::ForOp::create(
      b, kb.index(0), n, step, ValueRange{kb.zeros({nf, kb.ofr(width)})},
      [&](OpBuilder &nb, Location loc, Value r0, ValueRange iter) {
        ImplicitLocOpBuilder ib(loc, nb);
        Value m =
            arith::MinSIOp::create(ib, step, arith::SubIOp::create(ib, n, r0));
        ValueRange next = SliceKernelBuilder(ib).staticWhenFull(
            m, step, [&](ImplicitLocOpBuilder &bb, Value len) {
              SliceKernelBuilder k(bb);
              OpFoldResult lf = getAsOpFoldResult(len);
              OpFoldResult before = r0;
              // R_b - A[b, :r0] X[:r0] (empty for the first block).
              Value Ab = k.slice(A, {r0, k.ofr(0)}, {lf, before}, {0, 1});
              Value Xb = k.slice(iter[0], {k.ofr(0), k.ofr(0)},
                                 {before, k.ofr(width)}, {0, 1});
              Value merged = linalg::MatmulOp::create(
                                 bb, ValueRange{Ab, Xb},
                                 ValueRange{k.zeros({lf, k.ofr(width)})})
                                 .getResult(0);
              Value Rb = k.slice(R, {r0, k.ofr(0)}, {lf, k.ofr(width)}, {0, 1});
              Rb = k.generic(
                  ValueRange{Rb, merged}, k.empty({lf, k.ofr(width)}), 2,
                  {{0, 1}, {0, 1}, {0, 1}}, SliceKernelBuilder::parallel(2),
                  [](OpBuilder &b2, Location l, ValueRange a) {
                    return arith::SubFOp::create(b2, l, a[0], a[1]).getResult();
                  });
              Value Aloc = k.slice(A, {r0, r0}, {lf, lf}, {0, 1});
              Value Xloc = rowSubstitution(k, Aloc, Rb, len, width);
              return SmallVector<Value>{
                  k.insert(Xloc, iter[0], {r0, k.ofr(0)}, {lf, k.ofr(width)})};
            });
        scf::YieldOp::create(ib, next);
      });
  return blocks.getResult(0);
}

/// One chunk of tokens [start, start + n) with the WY representation
/// (FORMS.md 4.3), from the state S before it; returns the [n, V] outputs
/// (written into `dest`) and the state after the chunk.
std::pair<Value, Value> wyChunk(SliceKernelBuilder &kb, const DeltaInfo &info,
                                Value bi, Value hi, OpFoldResult start,
                                Value len, Value S, Value dest) {
  ImplicitLocOpBuilder &b = kb.builder();
  DeltaRuleOp op = info.op;
  int64_t K = info.K, V = info.V;
  OpFoldResult n = getAsOpFoldResult(len);
  Value zero = kb.f(0.0);
  Value hk = keyHead(b, hi, info.group);
  Value Kn = normalizedRows(
      kb, info, blockRows(kb, op.getK(), bi, hk, start, n, K), n, Value());
  Value Qn =
      normalizedRows(kb, info, blockRows(kb, op.getQ(), bi, hk, start, n, K), n,
                     kb.f(info.scale));
  Value Vr = blockRows(kb, op.getV(), bi, hi, start, n, V);
  Value beta =
      kb.slice(op.getBeta(), {bi, hi, start}, {kb.ofr(1), kb.ofr(1), n}, {2});
  // Chunk-local log gates: b_r = g_1 + ... + g_r (gamma_r = exp(b_r)) and
  // the segment sums seg(r, i) = g_{i+1} + ... + g_r for i <= r, each
  // accumulated directly (FORMS.md 0.5(b)) rather than as a difference of
  // cumulative sums, which loses every low bit after a hard reset
  // (g = -1e4); lastSeg(i) = seg(n, i) and total = b_n.
  Value bcum, seg, lastSeg, total;
  if (Value g = op.getG()) {
    SegmentSums sums = segmentSums(
        kb, kb.slice(g, {bi, hi, start}, {kb.ofr(1), kb.ofr(1), n}, {2}), len);
    seg = sums.seg;
    bcum = sums.inclusive;
    lastSeg = sums.lastSeg;
    total = sums.total;
  }
  // A = tril(diag(beta) (K K^T) .* D, -1).
  Value KK = matmulTransposedB(kb, Kn, Kn, n, n, K);
  // M .* D, kept where i < r (`strict`) or i <= r, zero elsewhere, with
  // D[r, i] = exp(seg(r, i)) masked before the exp; rows scaled by `rows`
  // when given.
  bool gated = static_cast<bool>(seg);
  auto maskedDecay = [&](Value M, bool strict, Value rows) {
    SmallVector<Value> ins;
    SmallVector<SmallVector<unsigned>> dims;
    if (rows) {
      ins.push_back(rows);
      dims.push_back({0});
    }
    if (gated) {
      ins.push_back(seg);
      dims.push_back({0, 1});
    }
    dims.push_back({0, 1});
    return kb.generic(
        ins, M, 2, dims, SliceKernelBuilder::parallel(2),
        [&](OpBuilder &bb, Location l, ValueRange a) -> Value {
          Value r = linalg::IndexOp::create(bb, l, 0);
          Value i = linalg::IndexOp::create(bb, l, 1);
          Value kept = arith::CmpIOp::create(bb, l,
                                             strict ? arith::CmpIPredicate::ult
                                                    : arith::CmpIPredicate::ule,
                                             i, r);
          Value v = a.back();
          if (rows)
            v = arith::MulFOp::create(bb, l, a[0], v);
          if (gated) {
            Value lg =
                arith::SelectOp::create(bb, l, kept, a[rows ? 1 : 0], zero);
            v = arith::MulFOp::create(bb, l, v, math::ExpOp::create(bb, l, lg));
          }
          return arith::SelectOp::create(bb, l, kept, v, zero);
        });
  };
  Value A = maskedDecay(KK, /*strict=*/true, beta);
  // The right-hand sides [beta .* V, (beta .* gamma) .* K] ([n, V + K]).
  Value rhs = kb.empty({n, kb.ofr(V + K)});
  Value bv = kb.generic(ValueRange{Vr, beta}, kb.empty({n, kb.ofr(V)}), 2,
                        {{0, 1}, {0}, {0, 1}}, SliceKernelBuilder::parallel(2),
                        [](OpBuilder &bb, Location l, ValueRange a) -> Value {
                          return arith::MulFOp::create(bb, l, a[0], a[1]);
                        });
  SmallVector<Value> kIns = {Kn, beta};
  SmallVector<SmallVector<unsigned>> kDims = {{0, 1}, {0}};
  if (gated) {
    kIns.push_back(bcum);
    kDims.push_back({0});
  }
  kDims.push_back({0, 1});
  Value bk = kb.generic(
      kIns, kb.empty({n, kb.ofr(K)}), 2, kDims, SliceKernelBuilder::parallel(2),
      [&](OpBuilder &bb, Location l, ValueRange a) -> Value {
        Value v = arith::MulFOp::create(bb, l, a[0], a[1]);
        if (gated)
          v = arith::MulFOp::create(bb, l, v, math::ExpOp::create(bb, l, a[2]));
        return v;
      });
  rhs = kb.insert(bv, rhs, {kb.ofr(0), kb.ofr(0)}, {n, kb.ofr(V)});
  rhs = kb.insert(bk, rhs, {kb.ofr(0), kb.ofr(V)}, {n, kb.ofr(K)});
  Value X = forwardSubstitution(kb, A, rhs, len, V + K);
  Value U = kb.slice(X, {kb.ofr(0), kb.ofr(0)}, {n, kb.ofr(V)}, {0, 1});
  Value W = kb.slice(X, {kb.ofr(0), kb.ofr(V)}, {n, kb.ofr(K)}, {0, 1});
  // Delta = U - W S.
  Value WS = linalg::MatmulOp::create(b, ValueRange{W, S},
                                      ValueRange{kb.zeros({n, kb.ofr(V)})})
                 .getResult(0);
  Value Delta =
      kb.generic(ValueRange{U, WS}, kb.empty({n, kb.ofr(V)}), 2,
                 {{0, 1}, {0, 1}, {0, 1}}, SliceKernelBuilder::parallel(2),
                 [](OpBuilder &bb, Location l, ValueRange a) {
                   return arith::SubFOp::create(bb, l, a[0], a[1]).getResult();
                 });
  // O = (Q .* gamma) S + ((Q K^T) .* D) Delta (the diagonal included).
  Value QK = matmulTransposedB(kb, Qn, Kn, n, n, K);
  Value P = maskedDecay(QK, /*strict=*/false, Value());
  Value Qg = Qn;
  if (gated)
    Qg = kb.generic(ValueRange{Qn, bcum}, kb.empty({n, kb.ofr(K)}), 2,
                    {{0, 1}, {0}, {0, 1}}, SliceKernelBuilder::parallel(2),
                    [](OpBuilder &bb, Location l, ValueRange a) -> Value {
                      return arith::MulFOp::create(
                          bb, l, a[0], math::ExpOp::create(bb, l, a[1]));
                    });
  Value O = kb.fill(dest, 0.0);
  O = linalg::MatmulOp::create(b, ValueRange{P, Delta}, ValueRange{O})
          .getResult(0);
  O = linalg::MatmulOp::create(b, ValueRange{Qg, S}, ValueRange{O})
          .getResult(0);
  // S' = gamma_n S + (K .* exp(b_n - b))^T Delta.
  Value Sd = S;
  Value Kw = Kn;
  if (gated) {
    Value g = math::ExpOp::create(b, total);
    Sd = kb.generic(ValueRange{}, S, 2, {{0, 1}},
                    SliceKernelBuilder::parallel(2),
                    [&](OpBuilder &bb, Location l, ValueRange a) -> Value {
                      return arith::MulFOp::create(bb, l, a[0], g);
                    });
    Kw = kb.generic(ValueRange{Kn, lastSeg}, kb.empty({n, kb.ofr(K)}), 2,
                    {{0, 1}, {0}, {0, 1}}, SliceKernelBuilder::parallel(2),
                    [&](OpBuilder &bb, Location l, ValueRange a) -> Value {
                      return arith::MulFOp::create(
                          bb, l, a[0], math::ExpOp::create(bb, l, a[1]));
                    });
  }
  Value S1 = kb.generic(ValueRange{Kw, Delta}, Sd, 3, {{2, 0}, {2, 1}, {0, 1}},
                        {kPar, kPar, kRed},
                        [](OpBuilder &bb, Location l, ValueRange a) -> Value {
                          Value p = arith::MulFOp::create(bb, l, a[0], a[1]);
                          return arith::AddFOp::create(bb, l, a[2], p);
                        });
  return {O, S1};
}

/// The slice's state before the sequence (SliceKernelBuilder.h).
Value initialState(SliceKernelBuilder &kb, const DeltaInfo &info, Value bi,
                   Value hi, Value stateArg) {
  DeltaRuleOp op = info.op;
  return initialSliceState(kb, op.getInitialState(), stateArg, bi, hi, info.K,
                           info.V);
}

/// Columns of a state tile and tokens of a block of the tiled recurrence.
constexpr int64_t kStateTileCols = 32, kTokenBlock = 64;
/// Blocks of at least this many tokens walk their tiles transposed.
constexpr int64_t kTransposeMinTokens = 8;

/// The recurrence with the state walked in column tiles: for each block of
/// kTokenBlock tokens (their q and k normalized once, their gates' exps
/// taken once), for each K x N column tile of S, every token of the block
///   w = a_t (S^T k_t),  u = beta_t (v_t - w),  S = a_t S + k_t u^T,
///   o_t = S^T (scale q_t)
/// on the tile's N columns (each column of S depends only on its own column
/// of v). The same arithmetic, token by token, as the untiled form; but the
/// tile (K x 32 floats, 16 KiB for K = 128) stays in the first-level cache
/// for a whole token block, where the untiled form walks the whole K x V
/// state through the caches four times per token. A decode step (T = 1)
/// streams the state once.
std::pair<Value, Value> buildTiledRecurrentSlice(SliceKernelBuilder &kb,
                                                 const DeltaInfo &info,
                                                 Value bi, Value hi,
                                                 Value outArg, Value stateArg) {
  ImplicitLocOpBuilder &b = kb.builder();
  DeltaRuleOp op = info.op;
  const int64_t K = info.K, V = info.V, N = std::min(V, kStateTileCols);
  Value s0 = initialState(kb, info, bi, hi, stateArg);
  Value o0 = kb.slice(outArg, {bi, hi, kb.ofr(0), kb.ofr(0)},
                      {kb.ofr(1), kb.ofr(1), info.seqLen, kb.ofr(V)}, {2, 3});
  Value blockStep = kb.index(kTokenBlock);
  auto blocks = scf::ForOp::create(
      b, kb.index(0), info.seqLen, blockStep, ValueRange{s0, o0},
      [&](OpBuilder &nb, Location loc, Value t0, ValueRange iter) {
        ImplicitLocOpBuilder ib(loc, nb);
        SliceKernelBuilder k(ib);
        Value len = arith::MinSIOp::create(
            ib, blockStep, arith::SubIOp::create(ib, info.seqLen, t0));
        OpFoldResult L = len;
        Value hk = keyHead(ib, hi, info.group);
        Value kn = normalizedRows(
            k, info, blockRows(k, op.getK(), bi, hk, t0, L, K), L, Value());
        Value qn =
            normalizedRows(k, info, blockRows(k, op.getQ(), bi, hk, t0, L, K),
                           L, k.f(info.scale));
        auto tokens1d = [&](Value src) {
          return k.slice(src, {bi, hi, t0}, {k.ofr(1), k.ofr(1), L}, {2});
        };
        Value betas = tokens1d(op.getBeta());
        Value alphas;
        if (Value g = op.getG())
          alphas =
              k.generic(ValueRange{tokens1d(g)}, k.empty({L}), 1, {{0}, {0}},
                        {kPar}, [](OpBuilder &bb, Location l, ValueRange a) {
                          return math::ExpOp::create(bb, l, a[0]).getResult();
                        });
        Value oblk = k.slice(iter[1], {t0, k.ofr(0)}, {L, k.ofr(V)}, {0, 1});
        auto cols = scf::ForOp::create(
            ib, k.index(0), k.index(V), k.index(N), ValueRange{iter[0], oblk},
            [&](OpBuilder &nb1, Location l1, Value c0, ValueRange it1) {
              ImplicitLocOpBuilder b1(l1, nb1);
              SliceKernelBuilder k1(b1);
              Value tile = k1.slice(it1[0], {k1.ofr(0), c0},
                                    {k1.ofr(K), k1.ofr(N)}, {0, 1});
              Value oCols = it1[1];
              // The block's tokens on one tile, stored [K, N] or (transposed)
              // [N, K]. Transposed, each value column of S is a contiguous
              // row, so S^T k and S^T q are row dot products with their
              // accumulators in registers instead of N-wide rows updated
              // through memory K times: 2x faster over long blocks, but the
              // two transposes cost more than they save in a short block (a
              // decode step).
              auto tokenLoop = [&](ImplicitLocOpBuilder &tb, Value st0,
                                   bool transposed) -> SmallVector<Value> {
                // S^T x over the tile's columns into dest.
                auto stTimes = [&](SliceKernelBuilder &kk, Value m, Value x,
                                   Value dest) {
                  SmallVector<SmallVector<unsigned>> dims = {
                      transposed ? SmallVector<unsigned>{0, 1}
                                 : SmallVector<unsigned>{1, 0},
                      {1},
                      {0}};
                  return kk.generic(
                      ValueRange{m, x}, dest, 2, dims, {kPar, kRed},
                      [](OpBuilder &bb, Location l, ValueRange a) -> Value {
                        Value p = arith::MulFOp::create(bb, l, a[0], a[1]);
                        return arith::AddFOp::create(bb, l, a[2], p);
                      });
                };
                auto toks = scf::ForOp::create(
                    tb, SliceKernelBuilder(tb).index(0), len,
                    SliceKernelBuilder(tb).index(1), ValueRange{st0, oCols},
                    [&](OpBuilder &nb2, Location l2, Value i, ValueRange it2) {
                      ImplicitLocOpBuilder b2(l2, nb2);
                      SliceKernelBuilder k2(b2);
                      auto row = [&](Value m, int64_t width) {
                        return k2.slice(m, {i, k2.ofr(0)},
                                        {k2.ofr(1), k2.ofr(width)}, {1});
                      };
                      Value kr = row(kn, K), qr = row(qn, K);
                      Value t = arith::AddIOp::create(b2, t0, i);
                      Value vr = k2.slice(
                          op.getV(), {bi, hi, t, c0},
                          {k2.ofr(1), k2.ofr(1), k2.ofr(1), k2.ofr(N)}, {3});
                      Value beta =
                          tensor::ExtractOp::create(b2, betas, ValueRange{i});
                      Value alpha = alphas ? tensor::ExtractOp::create(
                                                 b2, alphas, ValueRange{i})
                                                 .getResult()
                                           : Value();
                      // w = S^T k_t.
                      Value w = stTimes(k2, it2[0], kr, k2.zeros({k2.ofr(N)}));
                      // u = beta (v - a w).
                      Value u = k2.generic(
                          ValueRange{vr, w}, k2.empty({k2.ofr(N)}), 1,
                          {{0}, {0}, {0}}, {kPar},
                          [&](OpBuilder &bb, Location l,
                              ValueRange a) -> Value {
                            Value aw = a[1];
                            if (alpha)
                              aw = arith::MulFOp::create(bb, l, aw, alpha);
                            Value d = arith::SubFOp::create(bb, l, a[0], aw);
                            return arith::MulFOp::create(bb, l, d, beta);
                          });
                      // S = a S + k u^T.
                      SmallVector<SmallVector<unsigned>> dims =
                          transposed
                              ? SmallVector<SmallVector<unsigned>>{{1},
                                                                   {0},
                                                                   {0, 1}}
                              : SmallVector<SmallVector<unsigned>>{
                                    {0}, {1}, {0, 1}};
                      Value st = k2.generic(
                          ValueRange{kr, u}, it2[0], 2, dims,
                          SliceKernelBuilder::parallel(2),
                          [&](OpBuilder &bb, Location l,
                              ValueRange a) -> Value {
                            Value sv = a[2];
                            if (alpha)
                              sv = arith::MulFOp::create(bb, l, sv, alpha);
                            return math::FmaOp::create(bb, l, a[0], a[1], sv);
                          });
                      // o_t[cols] = S^T (scale q_t).
                      Value orow = k2.slice(it2[1], {i, c0},
                                            {k2.ofr(1), k2.ofr(N)}, {1});
                      orow = stTimes(k2, st, qr, k2.fill(orow, 0.0));
                      Value o = k2.insert(orow, it2[1], {i, c0},
                                          {k2.ofr(1), k2.ofr(N)});
                      scf::YieldOp::create(b2, ValueRange{st, o});
                    });
                return {toks.getResult(0), toks.getResult(1)};
              };
              Value longBlock =
                  arith::CmpIOp::create(b1, arith::CmpIPredicate::sge, len,
                                        k1.index(kTransposeMinTokens));
              auto branch = scf::IfOp::create(
                  b1, longBlock,
                  [&](OpBuilder &nb, Location l) {
                    ImplicitLocOpBuilder tb(l, nb);
                    SliceKernelBuilder kt(tb);
                    Value tileT =
                        linalg::TransposeOp::create(
                            tb, tile, kt.empty({kt.ofr(N), kt.ofr(K)}),
                            ArrayRef<int64_t>{1, 0})
                            .getResult()[0];
                    SmallVector<Value> r = tokenLoop(tb, tileT, true);
                    r[0] = linalg::TransposeOp::create(tb, r[0], tile,
                                                       ArrayRef<int64_t>{1, 0})
                               .getResult()[0];
                    scf::YieldOp::create(tb, r);
                  },
                  [&](OpBuilder &nb, Location l) {
                    ImplicitLocOpBuilder tb(l, nb);
                    scf::YieldOp::create(tb, tokenLoop(tb, tile, false));
                  });
              Value S = k1.insert(branch.getResult(0), it1[0], {k1.ofr(0), c0},
                                  {k1.ofr(K), k1.ofr(N)});
              scf::YieldOp::create(b1, ValueRange{S, branch.getResult(1)});
            });
        Value out =
            k.insert(cols.getResult(1), iter[1], {t0, k.ofr(0)}, {L, k.ofr(V)});
        scf::YieldOp::create(ib, ValueRange{cols.getResult(0), out});
      });
  return {blocks.getResult(1), stateArg ? blocks.getResult(0) : Value()};
}

/// FORMS.md 4.3: an scf.for over chunks of C tokens carries the state; the
/// parallel form (4.4) is one chunk of the whole sequence.
std::pair<Value, Value> buildChunkedSlice(SliceKernelBuilder &kb,
                                          const DeltaInfo &info, int64_t chunk,
                                          Value bi, Value hi, Value outArg,
                                          Value stateArg) {
  int64_t V = info.V;
  Value s0 = initialState(kb, info, bi, hi, stateArg);
  Value o0 = kb.slice(outArg, {bi, hi, kb.ofr(0), kb.ofr(0)},
                      {kb.ofr(1), kb.ofr(1), info.seqLen, kb.ofr(V)}, {2, 3});
  if (chunk <= 0) {
    auto [out, state] =
        wyChunk(kb, info, bi, hi, kb.ofr(0), info.seqLen, s0, o0);
    return {out, stateArg ? state : Value()};
  }
  auto [out, state] = buildChunkLoop(
      kb, info.seqLen, chunk, V, s0, o0,
      [&](SliceKernelBuilder &k, Value c0, Value n, Value carried, Value dest) {
        return wyChunk(k, info, bi, hi, c0, n, carried, dest);
      });
  return {out, stateArg ? state : Value()};
}
} // namespace

std::string mlir::seqmix::whyNotLoweredDelta(DeltaRuleOp op, FormKind form) {
  return "";
}

LogicalResult mlir::seqmix::lowerDeltaRule(DeltaRuleOp op,
                                           RewriterBase &rewriter) {
  auto qType = cast<RankedTensorType>(op.getQ().getType());
  auto vType = cast<RankedTensorType>(op.getV().getType());
  if (failed(checkSliceLowerable(op, op.getQ(), op.getV())))
    return failure();
  FormAttr form = getForm(op);
  rewriter.setInsertionPoint(op);
  ImplicitLocOpBuilder b(op.getLoc(), rewriter);
  DeltaInfo info{op,
                 vType.getDimSize(1),
                 qType.getDimSize(3),
                 vType.getDimSize(3),
                 vType.getDimSize(1) / qType.getDimSize(1),
                 tensor::DimOp::create(b, op.getQ(), 0),
                 tensor::DimOp::create(b, op.getQ(), 2),
                 op.getScale().convertToFloat(),
                 op.getEps().convertToFloat(),
                 op.getL2normQk()};
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
          return buildChunkedSlice(kb, info, 0, bi, hi, outArg, stateArg);
        case FormKind::recurrent:
          break;
        }
        // The tiled walk needs whole column tiles (every usual head size).
        if (info.V % std::min(info.V, kStateTileCols) == 0)
          return buildTiledRecurrentSlice(kb, info, bi, hi, outArg, stateArg);
        return buildRecurrentSlice(kb, info, bi, hi, outArg, stateArg);
      });
  rewriter.replaceOp(op, loop.getResults());
  return success();
}
