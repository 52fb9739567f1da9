//===- FFTConvolution.cpp - long causal convolutions by FFT ---------------===//
//
// y = K * u over T tokens for a block of Dc channels, with both sequences
// zero-padded to n = 2^ceil(log2 2T) >= 2T - 1 points so that the circular
// convolution is the causal one (FORMS.md 5.1).
//
// One complex transform carries both real sequences: z = u + i K, so
// U[k] = (Z[k] + conj Z[n-k]) / 2, Kf[k] = (Z[k] - conj Z[n-k]) / (2i) and
// Y = U Kf = (Z[k]^2 - conj(Z[n-k])^2) / (4i); y = Re IDFT(Y) (Y is
// Hermitian, y real).
//
// The n-point transform runs in four steps, n = n1 n2, so that every
// sub-transform (n1 or n2 points of Dc lanes) stays in the first- or
// second-level cache. With j = j1 n2 + j2 and k = k1 + n1 k2:
//   X[k] = sum_j2 w_n2^(j2 k2) w_n^(j2 k1) sum_j1 x[j] w_n1^(j1 k1).
//   pass A  for each column j2: read the n1 inputs x[j1 n2 + j2] (u and K,
//           zero past T), transform, twiddle by w_n^(j2 k1), store at row
//           k1 n2 + j2 of Z;
//   pass B  for each pair of rows k1 and n1 - k1 (the rows of Z[k] and of
//           its partner Z[n - k]): transform both (X[k1 + n1 k2] at k2),
//           form Y for row k1, transform it back, twiddle by w_n^-(j2 k1)
//           and store it over row k1 (y is real, so row n1 - k1 of the
//           result is the conjugate of row k1 and is not computed);
//   pass C  for each pair of columns a and b = a + n2 / 2 (each transforms
//           back to a real sequence): transform a + i b back (rows k1 >
//           n1 / 2 read as conjugates), y[j1 n2 + j] = the real parts for
//           column a, the imaginary ones for b, j1 n2 + j < T.
// Each sub-transform is a Stockham FFT of radix-4 stages after one radix-2
// stage for odd powers of two (natural order in and out), ping-ponging
// between two [L, 2, Dc] buffers (real and imaginary rows); a butterfly is
// one loop step on vectors of the Dc channels, its twiddles broadcast
// entries of one table w_n^m, m < n, computed once per block (every
// sub-transform's twiddles are entries of it).
//
//===----------------------------------------------------------------------===//
#include "FFTConvolution.h"
#include "VectorMath.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

#include "llvm/Support/MathExtras.h"

using namespace mlir;
using namespace mlir::seqmix;

namespace {

/// Complex values as real and imaginary parts: vector<Dc x f32> values, or
/// the twiddle table's two [n] f32 tensors.
struct Planes {
  Value re, im;
};

/// Loads row i of a transform's input (vectors).
using Loader = llvm::function_ref<Planes(ImplicitLocOpBuilder &, Value)>;

Value cst(ImplicitLocOpBuilder &b, int64_t x) {
  return arith::ConstantIndexOp::create(b, x);
}

class FFTBuilder {
public:
  FFTBuilder(int64_t Dc, Type f32, Value logn, Planes table)
      : vt(VectorType::get({Dc}, f32)), logn(logn), table(table) {}

  /// Row `row` of a [rows, Dc] plane.
  Value read(ImplicitLocOpBuilder &b, Value plane, Value row) const {
    return readLanes(b, vt, plane, row);
  }
  /// Row `row` of a [rows, 2, Dc] buffer (real, imaginary).
  Planes load(ImplicitLocOpBuilder &b, Value buf, Value row) const {
    return {readLanes(b, vt, buf, {row, cst(b, 0)}),
            readLanes(b, vt, buf, {row, cst(b, 1)})};
  }
  Value store(ImplicitLocOpBuilder &b, Planes v, Value buf, Value row) const {
    buf = writeLanes(b, v.re, buf, {row, cst(b, 0)});
    return writeLanes(b, v.im, buf, {row, cst(b, 1)});
  }
  /// Row `row` of a [rows, Dc] plane written.
  Value write(ImplicitLocOpBuilder &b, Value v, Value plane, Value row) const {
    return writeLanes(b, v, plane, row);
  }
  static Value zero(ImplicitLocOpBuilder &b) {
    return arith::ConstantOp::create(b, b.getF32FloatAttr(0));
  }
  Value splat(ImplicitLocOpBuilder &b, Value scalar) const {
    return vector::BroadcastOp::create(b, vt, scalar);
  }
  /// w_n^m = e^(-2 pi i m / n), m < n, over the lanes.
  Planes twiddle(ImplicitLocOpBuilder &b, Value m) const {
    return {splat(b, tensor::ExtractOp::create(b, table.re, ValueRange{m})),
            splat(b, tensor::ExtractOp::create(b, table.im, ValueRange{m}))};
  }
  /// w x, or conj(w) x when `conj`.
  static Planes mul(ImplicitLocOpBuilder &b, Planes w, Planes x, bool conj) {
    auto fma = [&](Value p, Value q, Value r) -> Value {
      return math::FmaOp::create(b, p, q, r);
    };
    Value ii = arith::MulFOp::create(b, w.im, x.im);
    Value ir = arith::MulFOp::create(b, w.im, x.re);
    if (conj)
      return {fma(w.re, x.re, ii),
              fma(w.re, x.im, arith::NegFOp::create(b, ir))};
    return {fma(w.re, x.re, arith::NegFOp::create(b, ii)), fma(w.re, x.im, ir)};
  }

  /// Stage s of a mixed-radix Stockham transform of L points, of radix r
  /// (2 or 4), Ns = 2^s the product of the earlier stages' radices: the
  /// butterfly j = a Ns + k (j < L / r, k < Ns) reads v_q = x[q L / r + j],
  /// q < r, turns v_q into w^(q k) v_q with w = e^(-+ 2 pi i / (r Ns)) =
  /// w_n^(n / (r Ns)), and writes its r-point DFT out_p at a r Ns + p Ns + k
  /// = r j - (r - 1) k. Returns `dst` ([L, 2, Dc]) written.
  Value stage(ImplicitLocOpBuilder &b, Loader load, Value dst, Value L, Value s,
              int64_t radix, bool inverse) const {
    const int64_t logR = radix == 4 ? 2 : 1;
    Value one = cst(b, 1);
    Value count = arith::ShRUIOp::create(b, L, cst(b, logR));
    Value ns = arith::ShLIOp::create(b, one, s);
    Value mask = arith::SubIOp::create(b, ns, one);
    Value shift = arith::SubIOp::create(
        b, arith::SubIOp::create(b, logn, cst(b, logR)), s);
    auto loop = scf::ForOp::create(
        b, cst(b, 0), count, one, ValueRange{dst},
        [&](OpBuilder &nb, Location loc, Value j, ValueRange it) {
          ImplicitLocOpBuilder ib(loc, nb);
          Value k = arith::AndIOp::create(ib, j, mask);
          SmallVector<Planes, 4> v;
          for (int64_t q = 0; q < radix; ++q) {
            Value at = arith::AddIOp::create(
                ib, arith::MulIOp::create(ib, count, cst(ib, q)), j);
            Planes x = load(ib, at);
            if (q > 0) {
              Value m = arith::ShLIOp::create(
                  ib, arith::MulIOp::create(ib, k, cst(ib, q)), shift);
              x = mul(ib, twiddle(ib, m), x, inverse);
            }
            v.push_back(x);
          }
          SmallVector<Planes, 4> out;
          if (radix == 2) {
            out = {add(ib, v[0], v[1]), sub(ib, v[0], v[1])};
          } else {
            Planes t0 = add(ib, v[0], v[2]), t1 = sub(ib, v[0], v[2]);
            Planes t2 = add(ib, v[1], v[3]), d = sub(ib, v[1], v[3]);
            // -i d forward, +i d inverse.
            Planes t3 = inverse ? Planes{arith::NegFOp::create(ib, d.im), d.re}
                                : Planes{d.im, arith::NegFOp::create(ib, d.re)};
            out = {add(ib, t0, t2), add(ib, t1, t3), sub(ib, t0, t2),
                   sub(ib, t1, t3)};
          }
          Value base = arith::SubIOp::create(
              ib, arith::MulIOp::create(ib, j, cst(ib, radix)),
              arith::MulIOp::create(ib, k, cst(ib, radix - 1)));
          Value y = it[0];
          for (int64_t p = 0; p < radix; ++p)
            y = store(ib, out[p], y,
                      arith::AddIOp::create(
                          ib, base, arith::MulIOp::create(ib, ns, cst(ib, p))));
          scf::YieldOp::create(ib, y);
        });
    return loop.getResult(0);
  }

  /// The L-point DFT (L = 2^logL >= 2; inverse: the unscaled inverse) of
  /// the rows load(0 .. L-1), ping-ponging between the buffers a and b
  /// ([L, 2, Dc]): radix-4 stages, after one radix-2 stage when logL is
  /// odd. The first stage (or two) read the loader, so that an even number
  /// remains and the transform ends in a. Returns the buffers {a', b'}, the
  /// transform in a'.
  std::pair<Value, Value> transform(ImplicitLocOpBuilder &b, Loader load,
                                    Value a, Value bb, Value L, Value logL,
                                    bool inverse) const {
    auto isOdd = [&](Value x) -> Value {
      return arith::CmpIOp::create(b, arith::CmpIPredicate::ne,
                                   arith::AndIOp::create(b, x, cst(b, 1)),
                                   cst(b, 0));
    };
    Value odd = isOdd(logL);
    // An odd number of stages in all (radix-4 ones and the radix-2 one).
    Value oddStages = isOdd(
        arith::AddIOp::create(b, arith::ShRUIOp::create(b, logL, cst(b, 1)),
                              arith::AndIOp::create(b, logL, cst(b, 1))));
    // The first stage of radix `first`, alone into a or, followed by a
    // radix-4 one, into b and then a; yields {a', b', the next stage's s}.
    auto start = [&](int64_t first) {
      const int64_t logFirst = first == 4 ? 2 : 1;
      return scf::IfOp::create(
          b, oddStages,
          [&](OpBuilder &nb, Location loc) {
            ImplicitLocOpBuilder ib(loc, nb);
            Value y = stage(ib, load, a, L, cst(ib, 0), first, inverse);
            scf::YieldOp::create(ib, ValueRange{y, bb, cst(ib, logFirst)});
          },
          [&](OpBuilder &nb, Location loc) {
            ImplicitLocOpBuilder ib(loc, nb);
            Value y = stage(ib, load, bb, L, cst(ib, 0), first, inverse);
            Value z = stage(ib, rows(y), a, L, cst(ib, logFirst), 4, inverse);
            scf::YieldOp::create(ib, ValueRange{z, y, cst(ib, logFirst + 2)});
          });
    };
    auto first = scf::IfOp::create(
        b, odd,
        [&](OpBuilder &nb, Location loc) {
          ImplicitLocOpBuilder ib(loc, nb);
          OpBuilder::InsertionGuard g(b);
          b.setInsertionPoint(ib.getInsertionBlock(), ib.getInsertionPoint());
          scf::YieldOp::create(ib, start(2).getResults());
        },
        [&](OpBuilder &nb, Location loc) {
          ImplicitLocOpBuilder ib(loc, nb);
          OpBuilder::InsertionGuard g(b);
          b.setInsertionPoint(ib.getInsertionBlock(), ib.getInsertionPoint());
          scf::YieldOp::create(ib, start(4).getResults());
        });
    auto pairs = scf::ForOp::create(
        b, first.getResult(2), logL, cst(b, 4),
        ValueRange{first.getResult(0), first.getResult(1)},
        [&](OpBuilder &nb, Location loc, Value s, ValueRange it) {
          ImplicitLocOpBuilder ib(loc, nb);
          Value y = stage(ib, rows(it[0]), it[1], L, s, 4, inverse);
          Value z = stage(ib, rows(y), it[0], L,
                          arith::AddIOp::create(ib, s, cst(ib, 2)), 4, inverse);
          scf::YieldOp::create(ib, ValueRange{z, y});
        });
    return {pairs.getResult(0), pairs.getResult(1)};
  }

  static Planes add(ImplicitLocOpBuilder &b, Planes x, Planes y) {
    return {arith::AddFOp::create(b, x.re, y.re),
            arith::AddFOp::create(b, x.im, y.im)};
  }
  static Planes sub(ImplicitLocOpBuilder &b, Planes x, Planes y) {
    return {arith::SubFOp::create(b, x.re, y.re),
            arith::SubFOp::create(b, x.im, y.im)};
  }

  /// A loader of the rows of a [rows, 2, Dc] buffer.
  std::function<Planes(ImplicitLocOpBuilder &, Value)> rows(Value buf) const {
    return [this, buf](ImplicitLocOpBuilder &b, Value i) {
      return load(b, buf, i);
    };
  }

private:
  VectorType vt;
  Value logn;
  Planes table;
};

/// Y[k] = U[k] Kf[k] / n from z = Z[k] and p = Z[n - k] (see the top): with
/// z = a + ib and p = c + ie, 2U = (a + c) + i (b - e) and 2Kf = (b + e) +
/// i (c - a); `quarter` is 1 / (4n) over the lanes.
Planes spectrumProduct(ImplicitLocOpBuilder &b, Planes z, Planes p,
                       Value quarter) {
  auto mul = [&](Value x, Value y) -> Value {
    return arith::MulFOp::create(b, x, y);
  };
  auto fma = [&](Value x, Value y, Value w) -> Value {
    return math::FmaOp::create(b, x, y, w);
  };
  auto add = [&](Value x, Value y) -> Value {
    return arith::AddFOp::create(b, x, y);
  };
  auto sub = [&](Value x, Value y) -> Value {
    return arith::SubFOp::create(b, x, y);
  };
  // 2U = (a + c) + i (b - e), 2Kf = (b + e) + i (c - a).
  Value ur = add(z.re, p.re), ui = sub(z.im, p.im);
  Value kr = add(z.im, p.im), ki = sub(p.re, z.re);
  Value re = fma(ur, kr, arith::NegFOp::create(b, mul(ui, ki)));
  Value im = fma(ur, ki, mul(ui, kr));
  return {mul(re, quarter), mul(im, quarter)};
}

} // namespace

Value mlir::seqmix::fftCausalConvolution(SliceKernelBuilder &kb, Value K,
                                         Value u, Value seqLen, int64_t Dc) {
  ImplicitLocOpBuilder &b = kb.builder();
  Type f32 = b.getF32Type();
  // logn = ceil(log2(2T)) = 64 - ctlz(2T - 1); n1 = 2^floor(logn / 2) <=
  // n2 = 2^ceil(logn / 2).
  Value twoT = arith::ShLIOp::create(b, seqLen, cst(b, 1));
  Value lz = math::CountLeadingZerosOp::create(
      b, arith::IndexCastOp::create(b, b.getI64Type(),
                                    arith::SubIOp::create(b, twoT, cst(b, 1))));
  Value logn = arith::IndexCastOp::create(
      b, b.getIndexType(),
      arith::SubIOp::create(
          b, arith::ConstantOp::create(b, b.getI64IntegerAttr(64)), lz));
  Value n = arith::ShLIOp::create(b, cst(b, 1), logn);
  Value s1 = arith::ShRUIOp::create(b, logn, cst(b, 1));
  Value s2 = arith::SubIOp::create(b, logn, s1);
  Value n1 = arith::ShLIOp::create(b, cst(b, 1), s1);
  Value n2 = arith::ShLIOp::create(b, cst(b, 1), s2);
  Value nMask = arith::SubIOp::create(b, n, cst(b, 1));
  Value nF = arith::UIToFPOp::create(
      b, f32, arith::IndexCastOp::create(b, b.getI64Type(), n));
  Value invN = arith::DivFOp::create(
      b, arith::ConstantOp::create(b, b.getF32FloatAttr(1)), nF);

  // The table w_n^m = e^(-2 pi i m / n), m < n.
  OpFoldResult N = getAsOpFoldResult(n);
  SmallVector<Value> w = kb.generics(
      ValueRange{}, ValueRange{kb.empty({N}), kb.empty({N})}, 1, {{0}, {0}},
      SliceKernelBuilder::parallel(1),
      [&](OpBuilder &bb, Location l, ValueRange) {
        Value m = arith::UIToFPOp::create(
            bb, l, bb.getF32Type(),
            arith::IndexCastOp::create(bb, l, bb.getI64Type(),
                                       linalg::IndexOp::create(bb, l, 0)));
        Value theta = arith::DivFOp::create(
            bb, l,
            arith::MulFOp::create(
                bb, l, m,
                arith::ConstantOp::create(
                    bb, l, bb.getF32FloatAttr(2 * llvm::numbers::pi))),
            nF);
        return SmallVector<Value>{
            math::CosOp::create(bb, l, theta),
            arith::NegFOp::create(bb, l, math::SinOp::create(bb, l, theta))};
      });
  FFTBuilder fb(Dc, f32, logn, {w[0], w[1]});
  // Each buffer its own allocation: tensor.empty ops of one shape would be
  // merged into one value, and bufferization lets iteration arguments that
  // start from the same empty tensor share its memory.
  auto buffer = [&](Value rows) -> Value {
    return bufferization::AllocTensorOp::create(
        b, RankedTensorType::get({ShapedType::kDynamic, 2, Dc}, f32),
        ValueRange{rows});
  };
  auto twiddled = [&](ImplicitLocOpBuilder &b, Value e, Value fixed, Planes x,
                      bool conj) {
    Value m =
        arith::AndIOp::create(b, arith::MulIOp::create(b, e, fixed), nMask);
    return FFTBuilder::mul(b, fb.twiddle(b, m), x, conj);
  };
  // Row j1 n2 + j2 of a column j2.
  auto columnRow = [&](ImplicitLocOpBuilder &b, Value j1, Value j2) -> Value {
    return arith::AddIOp::create(b, arith::MulIOp::create(b, j1, n2), j2);
  };

  // u and K share one transform, so that each spectrum carries the other's
  // rounding error: per channel, K is scaled by a power of two alpha (exact)
  // that brings its norm near u's (the product's error then stays at the
  // size of separate transforms'), and y by 1 / alpha.
  VectorType vt = VectorType::get({Dc}, f32);
  Value zeroV = fb.splat(b, FFTBuilder::zero(b));
  auto norms = scf::ForOp::create(
      b, cst(b, 0), seqLen, cst(b, 1), ValueRange{zeroV, zeroV},
      [&](OpBuilder &nb, Location loc, Value t, ValueRange acc) {
        ImplicitLocOpBuilder ib(loc, nb);
        Value x = fb.read(ib, u, t), k = fb.read(ib, K, t);
        scf::YieldOp::create(ib,
                             ValueRange{math::FmaOp::create(ib, x, x, acc[0]),
                                        math::FmaOp::create(ib, k, k, acc[1])});
      });
  // alpha = 2^(e / 2) for e the binary exponent of |u|^2 / |K|^2, clamped
  // to [-120, 120] (zero or infinite ratios included).
  VectorType it = VectorType::get({Dc}, b.getI32Type());
  auto splatI = [&](int32_t x) -> Value {
    return arith::ConstantOp::create(b, DenseElementsAttr::get(it, x));
  };
  Value ratio =
      arith::DivFOp::create(b, norms.getResult(0), norms.getResult(1));
  Value e = arith::SubIOp::create(
      b,
      arith::ShRUIOp::create(
          b,
          arith::AndIOp::create(b, arith::BitcastOp::create(b, it, ratio),
                                splatI(0x7fffffff)),
          splatI(23)),
      splatI(127));
  e = arith::MinSIOp::create(b, arith::MaxSIOp::create(b, e, splatI(-120)),
                             splatI(120));
  Value half = arith::ShRSIOp::create(b, e, splatI(1));
  auto pow2 = [&](Value x) -> Value {
    return arith::BitcastOp::create(
        b, vt,
        arith::ShLIOp::create(b, arith::AddIOp::create(b, x, splatI(127)),
                              splatI(23)));
  };
  Value alpha = pow2(half);
  Value alphaInv = pow2(arith::SubIOp::create(b, splatI(0), half));

  // Pass A: columns j2 of z = u + i alpha K, transformed, twiddled, into Z.
  auto passA = scf::ForOp::create(
      b, cst(b, 0), n2, cst(b, 1),
      ValueRange{buffer(n), buffer(n1), buffer(n1)},
      [&](OpBuilder &nb, Location loc, Value j2, ValueRange it) {
        ImplicitLocOpBuilder ib(loc, nb);
        auto input = [&](ImplicitLocOpBuilder &lb, Value j1) -> Planes {
          Value j = columnRow(lb, j1, j2);
          Value in =
              arith::CmpIOp::create(lb, arith::CmpIPredicate::ult, j, seqLen);
          Value row = arith::SelectOp::create(lb, in, j, cst(lb, 0));
          Value zero = fb.splat(lb, FFTBuilder::zero(lb));
          Value k = arith::MulFOp::create(lb, fb.read(lb, K, row), alpha);
          return {arith::SelectOp::create(lb, in, fb.read(lb, u, row), zero),
                  arith::SelectOp::create(lb, in, k, zero)};
        };
        std::pair<Value, Value> t =
            fb.transform(ib, input, it[1], it[2], n1, s1, false);
        Value x = t.first;
        auto put = scf::ForOp::create(
            ib, cst(ib, 0), n1, cst(ib, 1), ValueRange{it[0]},
            [&](OpBuilder &sb, Location sl, Value k1, ValueRange z) {
              ImplicitLocOpBuilder lb(sl, sb);
              Planes v = twiddled(lb, k1, j2, fb.load(lb, x, k1), false);
              scf::YieldOp::create(
                  lb, fb.store(lb, v, z[0], columnRow(lb, k1, j2)));
            });
        scf::YieldOp::create(ib, ValueRange{put.getResult(0), x, t.second});
      });
  Value Z = passA.getResult(0);

  // Pass B: row pairs (k1, n1 - k1), k1 <= n1 / 2 (rows 0 and n1 / 2 pair
  // with themselves). y is real: Y[n - k] = conj Y[k], and after the
  // inverse row transforms and twiddles, row n1 - k1 is the conjugate of
  // row k1 (see docs/pipeline.md); only rows k1 <= n1 / 2 are transformed
  // back and stored, and pass C reads the others as their conjugates.
  Value halfN1 = arith::ShRUIOp::create(b, n1, cst(b, 1));
  auto passB = scf::ForOp::create(
      b, cst(b, 0), arith::AddIOp::create(b, halfN1, cst(b, 1)), cst(b, 1),
      ValueRange{Z, buffer(n2), buffer(n2), buffer(n2), buffer(n2)},
      [&](OpBuilder &nb, Location loc, Value k1, ValueRange it) {
        ImplicitLocOpBuilder ib(loc, nb);
        Value z = it[0];
        Value k1p =
            arith::AndIOp::create(ib, arith::SubIOp::create(ib, n1, k1),
                                  arith::SubIOp::create(ib, n1, cst(ib, 1)));
        Value r1 = arith::MulIOp::create(ib, k1, n2);
        Value r2 = arith::MulIOp::create(ib, k1p, n2);
        auto row1 = [&](ImplicitLocOpBuilder &lb, Value i) {
          return fb.load(lb, z, arith::AddIOp::create(lb, r1, i));
        };
        auto row2 = [&](ImplicitLocOpBuilder &lb, Value i) {
          return fb.load(lb, z, arith::AddIOp::create(lb, r2, i));
        };
        std::pair<Value, Value> t1 =
            fb.transform(ib, row1, it[1], it[2], n2, s2, false);
        std::pair<Value, Value> t2 =
            fb.transform(ib, row2, it[3], it[4], n2, s2, false);
        Value F1 = t1.first, F2 = t2.first;
        // The partner of X[k1 + n1 k2] (at k2 of row k1) is X[n - k1 - n1
        // k2]: at (n2 - k2) mod n2 of row 0 when k1 = 0, else at n2 - 1 -
        // k2 of row n1 - k1.
        Value isZero =
            arith::CmpIOp::create(ib, arith::CmpIPredicate::eq, k1, cst(ib, 0));
        Value n2Mask = arith::SubIOp::create(ib, n2, cst(ib, 1));
        Value quarter = fb.splat(
            ib, arith::MulFOp::create(
                    ib, invN,
                    arith::ConstantOp::create(ib, ib.getF32FloatAttr(0.25))));
        auto product = scf::ForOp::create(
            ib, cst(ib, 0), n2, cst(ib, 1), ValueRange{t1.second},
            [&](OpBuilder &sb, Location sl, Value k2, ValueRange g) {
              ImplicitLocOpBuilder lb(sl, sb);
              Value p = arith::SelectOp::create(
                  lb, isZero,
                  arith::AndIOp::create(lb, arith::SubIOp::create(lb, n2, k2),
                                        n2Mask),
                  arith::SubIOp::create(lb, n2Mask, k2));
              Planes y = spectrumProduct(lb, fb.load(lb, F1, k2),
                                         fb.load(lb, F2, p), quarter);
              scf::YieldOp::create(lb, fb.store(lb, y, g[0], k2));
            });
        Value Y = product.getResult(0);
        // Back by rows (into the buffers of F1 and F2, free now), twiddled
        // by w_n^-(j2 k1), over row k1 of Z.
        std::pair<Value, Value> h =
            fb.transform(ib, fb.rows(Y), F1, F2, n2, s2, true);
        auto put = scf::ForOp::create(
            ib, cst(ib, 0), n2, cst(ib, 1), ValueRange{z},
            [&](OpBuilder &sb, Location sl, Value j2, ValueRange zz) {
              ImplicitLocOpBuilder lb(sl, sb);
              Planes v = twiddled(lb, j2, k1, fb.load(lb, h.first, j2), true);
              scf::YieldOp::create(
                  lb,
                  fb.store(lb, v, zz[0], arith::AddIOp::create(lb, r1, j2)));
            });
        scf::YieldOp::create(
            ib, ValueRange{put.getResult(0), h.first, Y, h.second, t2.second});
      });
  Z = passB.getResult(0);

  // Pass C: columns back, two at a time: columns a = j2 and b = j2 + n2 / 2
  // transform to real sequences, so that the transform of a + i b gives a
  // in its real and b in its imaginary parts; y[j1 n2 + j2] for j1 n2 + j2 <
  // T. Row k1 > n1 / 2 is the conjugate of row n1 - k1.
  OpFoldResult T = getAsOpFoldResult(seqLen);
  Value halfN2 = arith::ShRUIOp::create(b, n2, cst(b, 1));
  auto passC = scf::ForOp::create(
      b, cst(b, 0), halfN2, cst(b, 1),
      ValueRange{kb.empty({T, kb.ofr(Dc)}), buffer(n1), buffer(n1)},
      [&](OpBuilder &nb, Location loc, Value ja, ValueRange it) {
        ImplicitLocOpBuilder ib(loc, nb);
        Value jb = arith::AddIOp::create(ib, ja, halfN2);
        Value one =
            fb.splat(ib, arith::ConstantOp::create(ib, ib.getF32FloatAttr(1)));
        Value minusOne =
            fb.splat(ib, arith::ConstantOp::create(ib, ib.getF32FloatAttr(-1)));
        auto columns = [&](ImplicitLocOpBuilder &lb, Value k1) -> Planes {
          Value mirrored =
              arith::CmpIOp::create(lb, arith::CmpIPredicate::ugt, k1, halfN1);
          Value row = arith::SelectOp::create(
              lb, mirrored, arith::SubIOp::create(lb, n1, k1), k1);
          Planes x = fb.load(lb, Z, columnRow(lb, row, ja));
          Planes y = fb.load(lb, Z, columnRow(lb, row, jb));
          // (x or conj x) + i (y or conj y), sign s = -1 for conj.
          Value sgn = arith::SelectOp::create(lb, mirrored, minusOne, one);
          return {arith::SubFOp::create(lb, x.re,
                                        arith::MulFOp::create(lb, sgn, y.im)),
                  math::FmaOp::create(lb, sgn, x.im, y.re)};
        };
        std::pair<Value, Value> t =
            fb.transform(ib, columns, it[1], it[2], n1, s1, true);
        Value x = t.first;
        // ceil((T - j) / n2) rows of column j (j < n2 <= T).
        auto put = [&](Value y, Value j, bool imag) {
          Value count = arith::CeilDivUIOp::create(
              ib, arith::SubIOp::create(ib, seqLen, j), n2);
          return scf::ForOp::create(
                     ib, cst(ib, 0), count, cst(ib, 1), ValueRange{y},
                     [&](OpBuilder &sb, Location sl, Value j1, ValueRange yy) {
                       ImplicitLocOpBuilder lb(sl, sb);
                       Planes xv = fb.load(lb, x, j1);
                       Value v = arith::MulFOp::create(lb, imag ? xv.im : xv.re,
                                                       alphaInv);
                       scf::YieldOp::create(
                           lb, fb.write(lb, v, yy[0], columnRow(lb, j1, j)));
                     })
              .getResult(0);
        };
        Value y = put(put(it[0], ja, false), jb, true);
        scf::YieldOp::create(ib, ValueRange{y, x, t.second});
      });
  return passC.getResult(0);
}
