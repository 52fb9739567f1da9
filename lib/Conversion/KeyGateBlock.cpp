//===- KeyGateBlock.cpp - a block of tokens under a key-vector gate -------===//
//
// FORMS.md 3.5 with the key-vector gate: G_t = alpha_t 1_V^T, alpha = exp(g).
// For a block of L tokens with chunk-local decays
//   P[r, i] = sum_k q~[r, k] k[i, k] prod_{j = i+1..r} alpha[j, k]   (i <= r)
//   O       = P V + (q~ .* F) S_0,          F[r] = prod_{j <= r} alpha[j]
//   S_L     = F[L-1] .* S_0 + (K .* R)^T V,  R[i] = prod_{j > i} alpha[j]
// P is built by sub-chunks I of c tokens (first token rho):
//  - the diagonal block exactly: a running product per key over the
//    sub-chunk's tokens, W_r[i] = k_i .* prod_{j=i+1..r} alpha_j, and
//    P[r, i] = q~_r . W_r[i] (c x c x K multiplies, no exp);
//  - the earlier tokens i < rho as one contraction of q and k rescaled to rho:
//    P[I, :rho] = (q~_I .* A_I) (K_:rho .* D_rho)^T with
//    A_I[r] = prod_{j=rho+1..r} alpha_j and D_rho[i] = prod_{j=i+1..rho}
//    alpha_j, both <= 1.
// Every decay is a product of gates in [0, 1] accumulated directly, the
// multiplicative twin of the direct segment sums of FORMS.md 0.5(b): a hard
// reset (alpha = 0) stays an exact zero, nothing overflows, and no exp of a
// difference of long cumulative sums is ever taken (exp is taken once per
// gate entry, of g itself).
//
//===----------------------------------------------------------------------===//
#include "KeyGateBlock.h"

using namespace mlir;
using namespace mlir::seqmix;

namespace {

/// The rows of `x` ([n, K]) times running products of the rows of `alpha`
/// ([n, K]), each product accumulated directly:
///   prefix: out[r] = x[r] .* (alpha[s] * ... * alpha[r]), s = 1 with
///           `skipFirst` (out[0] = x[0]), else 0;
///   suffix: out[i] = x[i] .* (alpha[i+1] * ... * alpha[n-1]).
/// Returns the rows and the last running product (for a prefix the decay
/// over all n rows).
std::pair<Value, Value> decayedRows(SliceKernelBuilder &kb, Value x,
                                    Value alpha, Value n, int64_t K,
                                    bool suffix, bool skipFirst = false) {
  ImplicitLocOpBuilder &b = kb.builder();
  OpFoldResult nf = getAsOpFoldResult(n);
  Value ones = kb.fill(kb.empty({kb.ofr(K)}), 1.0);
  auto loop = scf::ForOp::create(
      b, kb.index(0), n, kb.index(1),
      ValueRange{ones, kb.empty({nf, kb.ofr(K)})},
      [&](OpBuilder &nb, Location loc, Value j, ValueRange iter) {
        ImplicitLocOpBuilder ib(loc, nb);
        SliceKernelBuilder k(ib);
        Value zero = k.index(0), one = k.index(1);
        Value last = arith::SubIOp::create(ib, n, one);
        // Row r of the result, and the gate row its product gains over the
        // previous one (none for the first row of a suffix or a skipFirst
        // prefix).
        Value r = suffix ? arith::SubIOp::create(ib, last, j) : j;
        Value src = suffix ? arith::MinSIOp::create(
                                 ib, arith::AddIOp::create(ib, r, one), last)
                           : r;
        Value first =
            arith::CmpIOp::create(ib, arith::CmpIPredicate::eq, j, zero);
        Value keep = (suffix || skipFirst)
                         ? first
                         : arith::ConstantIntOp::create(ib, 0, 1).getResult();
        auto row = [&](Value m, Value at) {
          return k.slice(m, {at, k.ofr(0)}, {k.ofr(1), k.ofr(K)}, {1});
        };
        // A product below 2^-100 is flushed to zero: what it weighs is below
        // fp32's resolution of the output, and a long product (the parallel
        // form's keys decayed over thousands of tokens) would otherwise run
        // through the subnormal range, where each multiply is a microcode
        // assist on x86 (measured: the parallel form at T = 4096 went from
        // seconds to milliseconds).
        Value tiny = k.f(0x1p-100);
        Value p = k.generic(
            ValueRange{row(alpha, src)}, iter[0], 1, {{0}, {0}}, {kPar},
            [&](OpBuilder &bb, Location l, ValueRange a) -> Value {
              Value prod = arith::MulFOp::create(bb, l, a[0], a[1]);
              Value small = arith::CmpFOp::create(
                  bb, l, arith::CmpFPredicate::OLT, prod, tiny);
              Value zero =
                  arith::ConstantOp::create(bb, l, bb.getF32FloatAttr(0.0));
              prod = arith::SelectOp::create(bb, l, small, zero, prod);
              return arith::SelectOp::create(bb, l, keep, a[1], prod);
            });
        Value dest = row(iter[1], r);
        Value xr = k.generic(
            ValueRange{row(x, r), p}, dest, 1, {{0}, {0}, {0}}, {kPar},
            [](OpBuilder &bb, Location l, ValueRange a) -> Value {
              return arith::MulFOp::create(bb, l, a[0], a[1]);
            });
        Value out = k.insert(xr, iter[1], {r, k.ofr(0)}, {k.ofr(1), k.ofr(K)});
        scf::YieldOp::create(ib, ValueRange{p, out});
      });
  return {loop.getResult(1), loop.getResult(0)};
}

/// The exact diagonal scores of one sub-chunk of m tokens (rows qs, keys,
/// alpha: [m, K]): P[r, i] = qs_r . W_r[i] for i <= r (zero above) with the
/// keys decayed to token r, W_r[i] = alpha_r .* W_{r-1}[i] (i < r) and
/// W_r[r] = k_r. Step r touches only rows 0..r of W, each a contiguous row of
/// K keys, so the work is a triangle of row updates and row dot products.
Value diagonalScores(SliceKernelBuilder &kb, Value qs, Value keys, Value alpha,
                     Value m, int64_t K) {
  ImplicitLocOpBuilder &b = kb.builder();
  OpFoldResult mf = getAsOpFoldResult(m);
  auto loop = scf::ForOp::create(
      b, kb.index(0), m, kb.index(1),
      ValueRange{kb.empty({mf, kb.ofr(K)}), kb.zeros({mf, mf})},
      [&](OpBuilder &nb, Location loc, Value r, ValueRange iter) {
        ImplicitLocOpBuilder ib(loc, nb);
        SliceKernelBuilder k(ib);
        auto row = [&](Value src) {
          return k.slice(src, {r, k.ofr(0)}, {k.ofr(1), k.ofr(K)}, {1});
        };
        Value a = row(alpha), qr = row(qs);
        // Rows 0..r-1 decay by alpha_r; row r is k_r.
        Value older =
            k.slice(iter[0], {k.ofr(0), k.ofr(0)}, {r, k.ofr(K)}, {0, 1});
        older = k.generic(ValueRange{a}, older, 2, {{1}, {0, 1}},
                          SliceKernelBuilder::parallel(2),
                          [](OpBuilder &bb, Location l, ValueRange x) -> Value {
                            return arith::MulFOp::create(bb, l, x[0], x[1]);
                          });
        Value W = k.insert(older, iter[0], {k.ofr(0), k.ofr(0)}, {r, k.ofr(K)});
        W = k.insert(row(keys), W, {r, k.ofr(0)}, {k.ofr(1), k.ofr(K)});
        // P[r, 0..r] = W[0..r] qs_r: one row dot product per key row.
        Value r1 = arith::AddIOp::create(ib, r, k.index(1));
        Value seen = k.slice(W, {k.ofr(0), k.ofr(0)}, {r1, k.ofr(K)}, {0, 1});
        Value prow = k.slice(iter[1], {r, k.ofr(0)}, {k.ofr(1), r1}, {1});
        prow = k.generic(ValueRange{seen, qr}, prow, 2, {{0, 1}, {1}, {0}},
                         {kPar, kRed},
                         [](OpBuilder &bb, Location l, ValueRange x) -> Value {
                           Value p = arith::MulFOp::create(bb, l, x[0], x[1]);
                           return arith::AddFOp::create(bb, l, x[2], p);
                         });
        Value P = k.insert(prow, iter[1], {r, k.ofr(0)}, {k.ofr(1), r1});
        scf::YieldOp::create(ib, ValueRange{W, P});
      });
  return loop.getResult(1);
}

/// C += A B for A [m, n], B [n, p] (linalg.matmul: a contraction the CPU
/// schedule tiles).
Value matmulAcc(SliceKernelBuilder &kb, Value A, Value B, Value C) {
  return linalg::MatmulOp::create(kb.builder(), ValueRange{A, B}, ValueRange{C})
      .getResult(0);
}

/// A B^T for A [m, K], B [n, K]: B is transposed once so that the
/// contraction reads contiguous rows of B^T.
Value timesTransposed(SliceKernelBuilder &kb, Value A, Value B, OpFoldResult m,
                      OpFoldResult n, int64_t K) {
  Value BT =
      linalg::TransposeOp::create(kb.builder(), B, kb.empty({kb.ofr(K), n}),
                                  ArrayRef<int64_t>{1, 0})
          .getResult()[0];
  return kb.generic(ValueRange{A, BT}, kb.zeros({m, n}), 3,
                    {{0, 2}, {2, 1}, {0, 1}}, {kPar, kPar, kRed},
                    [](OpBuilder &bb, Location l, ValueRange x) -> Value {
                      Value p = arith::MulFOp::create(bb, l, x[0], x[1]);
                      return arith::AddFOp::create(bb, l, x[2], p);
                    });
}
} // namespace

std::pair<Value, Value>
mlir::seqmix::buildKeyGateBlock(SliceKernelBuilder &kb, int64_t K, int64_t V,
                                float scale, int64_t subChunk,
                                const KeyGateBlock &blk) {
  ImplicitLocOpBuilder &b = kb.builder();
  Value n = blk.len;
  OpFoldResult nf = getAsOpFoldResult(n);
  auto rows = [&](SliceKernelBuilder &k, Value src, OpFoldResult start,
                  OpFoldResult count, int64_t width) {
    return k.slice(src, {start, k.ofr(0)}, {count, k.ofr(width)}, {0, 1});
  };

  // alpha = exp(g): the only exps of the block. q~ = scale q.
  Value alpha =
      kb.generic(ValueRange{blk.g}, kb.empty({nf, kb.ofr(K)}), 2,
                 {{0, 1}, {0, 1}}, SliceKernelBuilder::parallel(2),
                 [](OpBuilder &bb, Location l, ValueRange x) -> Value {
                   return math::ExpOp::create(bb, l, x[0]);
                 });
  Value scaleV = kb.f(scale);
  Value qs = kb.generic(ValueRange{blk.q}, kb.empty({nf, kb.ofr(K)}), 2,
                        {{0, 1}, {0, 1}}, SliceKernelBuilder::parallel(2),
                        [&](OpBuilder &bb, Location l, ValueRange x) -> Value {
                          return arith::MulFOp::create(bb, l, x[0], scaleV);
                        });

  // Inter term: O = (q~ .* F) S_0.
  Value O = kb.fill(blk.out, 0.0);
  Value decayAll; // F[L-1] = exp(b_L), the block's decay of S_0
  if (!blk.stateIsZero) {
    auto [Qd, last] = decayedRows(kb, qs, alpha, n, K, /*suffix=*/false);
    decayAll = last;
    O = matmulAcc(kb, Qd, blk.state, O);
  }

  // Intra scores by sub-chunks of c tokens.
  std::optional<int64_t> staticLen = getConstantIntValue(nf);
  const int64_t c = subChunk;
  // A block no longer than one sub-chunk has no earlier sub-chunks.
  const bool offDiagonal = !staticLen || *staticLen > c;
  auto subChunkStep = [&](ImplicitLocOpBuilder &sb, Value rho, Value m,
                          Value Oin) -> Value {
    SliceKernelBuilder k(sb);
    OpFoldResult mf = getAsOpFoldResult(m);
    Value qI = rows(k, qs, rho, mf, K), kI = rows(k, blk.k, rho, mf, K),
          vI = rows(k, blk.v, rho, mf, V), aI = rows(k, alpha, rho, mf, K);
    Value OI = rows(k, Oin, rho, mf, V);
    OI = matmulAcc(k, diagonalScores(k, qI, kI, aI, m, K), vI, OI);
    if (offDiagonal) {
      // P[I, :rho] = (q~_I .* A_I) (K_:rho .* D_rho)^T; rho = 0 makes every
      // operand empty.
      Value Qr = decayedRows(k, qI, aI, m, K, /*suffix=*/false,
                             /*skipFirst=*/true)
                     .first;
      // Keys 0..rho (the last one, rho itself, is dropped) decayed to rho.
      Value rho1 = arith::AddIOp::create(sb, rho, k.index(1));
      OpFoldResult before = rho;
      Value Kr = decayedRows(k, rows(k, blk.k, k.ofr(0), rho1, K),
                             rows(k, alpha, k.ofr(0), rho1, K), rho1, K,
                             /*suffix=*/true)
                     .first;
      Kr = rows(k, Kr, k.ofr(0), before, K);
      Value Poff = timesTransposed(k, Qr, Kr, mf, before, K);
      OI = matmulAcc(k, Poff, rows(k, blk.v, k.ofr(0), before, V), OI);
    }
    return k.insert(OI, Oin, {rho, k.ofr(0)}, {mf, k.ofr(V)});
  };
  if (staticLen && *staticLen <= c) {
    O = subChunkStep(b, kb.index(0), n, O);
  } else {
    Value step = kb.index(c);
    bool allFull = staticLen && *staticLen % c == 0;
    auto loop = scf::ForOp::create(
        b, kb.index(0), n, step, ValueRange{O},
        [&](OpBuilder &nb, Location loc, Value rho, ValueRange iter) {
          ImplicitLocOpBuilder ib(loc, nb);
          if (allFull) {
            scf::YieldOp::create(ib, subChunkStep(ib, rho, step, iter[0]));
            return;
          }
          Value m = arith::MinSIOp::create(ib, step,
                                           arith::SubIOp::create(ib, n, rho));
          ValueRange next = SliceKernelBuilder(ib).staticWhenFull(
              m, step, [&](ImplicitLocOpBuilder &bb, Value len) {
                return SmallVector<Value>{subChunkStep(bb, rho, len, iter[0])};
              });
          scf::YieldOp::create(ib, next);
        });
    O = loop.getResult(0);
  }

  if (!blk.wantState)
    return {O, Value()};
  // S_L = F[L-1] .* S_0 + (K .* R)^T V.
  Value start = blk.state;
  if (!blk.stateIsZero) {
    start = kb.generic(ValueRange{decayAll}, start, 2, {{0}, {0, 1}},
                       SliceKernelBuilder::parallel(2),
                       [](OpBuilder &bb, Location l, ValueRange x) -> Value {
                         return arith::MulFOp::create(bb, l, x[0], x[1]);
                       });
  }
  Value Kw = decayedRows(kb, blk.k, alpha, n, K, /*suffix=*/true).first;
  Value S = kb.generic(ValueRange{Kw, blk.v}, start, 3,
                       {{2, 0}, {2, 1}, {0, 1}}, {kPar, kPar, kRed},
                       [](OpBuilder &bb, Location l, ValueRange x) -> Value {
                         Value p = arith::MulFOp::create(bb, l, x[0], x[1]);
                         return arith::AddFOp::create(bb, l, x[2], p);
                       });
  return {O, S};
}
