//===- LowerLTIScan.cpp - the LTI diagonal SSM (S4D, H3) by form ----------===//
//
// FORMS.md 5.1. Per channel, N' diagonal modes discretized from (A, B,
// dt = exp(log_dt)) by ZOH, bilinear or Euler-B:
//   x_t = Abar x_{t-1} + Bbar u_t,   y_t = f Re(sum_n C_n x_t[n]) + D u_t
// (complex mode: complex<f32> A, B, C and state, f = 2; real mode: f32, f = 1).
//
// Like the selective scan, a block of Dc channels (the lanes of a vector
// register) is one scf.forall iteration; every per-mode quantity is kept
// transposed, [N', Dc], as real and imaginary planes of f32, so that each
// step is N' rows of Dc channels. The discretization runs once per block.
//
//   recurrent  token by token (blocks of 256 tokens transposed into rows).
//   chunked    block Toeplitz plus state passing: within a chunk of C tokens,
//              y = K[0..C-1] * u (the chunk's causal convolution)
//                  + f Re(sum_n C_n Abar_n^(r+1) x0_n)  (the state before it),
//              x_C = Abar^C x0 + sum_s Abar^(C-1-s) Bbar u_s.
//   parallel   the causal convolution y = K * u + D u over the whole
//              sequence, K[l] = f Re(sum_n C_n Bbar_n Abar_n^l) (direct
//              Toeplitz sum); no state in or out.
//
// Every power Abar^l is exp(l log Abar), never a repeated product
// (FORMS.md 5.1): log Abar is dt A for ZOH and Euler-B and the complex log
// of the bilinear Abar; the phase l Im(log Abar) is reduced modulo 2 pi
// before its sine and cosine. The parallel form's kernel over T tokens
// splits l = j M + i and multiplies two such exact powers, Abar^(jM) and
// Abar^i (two roundings, not l), so that it takes (T/M + M) N' exponentials
// instead of T N'.
//
//===----------------------------------------------------------------------===//
#include "seqmix/Conversion/LowerForms.h"

#include "ChannelBlocks.h"
#include "FFTConvolution.h"
#include "VectorMath.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Complex/IR/Complex.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

#include "llvm/Support/MathExtras.h"

using namespace mlir;
using namespace mlir::seqmix;

namespace {

/// Tokens per block of the recurrence (as the selective scan's).
constexpr int64_t kTokenBlock = 256;
/// The parallel form's kernel: exact powers Abar^i for i < kPowerSplit and
/// Abar^(j kPowerSplit), multiplied.
constexpr int64_t kPowerSplit = 64;
/// The parallel form convolves by the FFT from this many tokens on
/// (directly below).
constexpr int64_t kFFTFrom = 256;
/// The chunked form's chunk when the form names none.
constexpr int64_t kDefaultChunk = 64;

/// A complex value, or a tensor of them, as real and imaginary parts; a null
/// imaginary part is zero (real mode).
struct Cx {
  Value re, im;
};

/// Scalar f32 complex arithmetic in a linalg body, skipping zero parts.
class CxMath {
public:
  CxMath(OpBuilder &b, Location l) : b(b), l(l) {}
  Value c(double x) {
    return arith::ConstantOp::create(b, l, b.getF32FloatAttr(x));
  }
  Value add(Value x, Value y) {
    if (!x || !y)
      return x ? x : y;
    return arith::AddFOp::create(b, l, x, y);
  }
  Value sub(Value x, Value y) {
    if (!y)
      return x;
    if (!x)
      return arith::NegFOp::create(b, l, y);
    return arith::SubFOp::create(b, l, x, y);
  }
  Value mul(Value x, Value y) {
    if (!x || !y)
      return Value();
    return arith::MulFOp::create(b, l, x, y);
  }
  Value div(Value x, Value y) {
    return x ? arith::DivFOp::create(b, l, x, y).getResult() : Value();
  }
  /// x y + z.
  Value fma(Value x, Value y, Value z) {
    if (!x || !y)
      return z;
    if (!z)
      return mul(x, y);
    return math::FmaOp::create(b, l, x, y, z);
  }
  Value select(Value cond, Value x, Value y) {
    if (!x && !y)
      return Value();
    return arith::SelectOp::create(b, l, cond, x ? x : c(0), y ? y : c(0));
  }
  Cx add(Cx x, Cx y) { return {add(x.re, y.re), add(x.im, y.im)}; }
  Cx sub(Cx x, Cx y) { return {sub(x.re, y.re), sub(x.im, y.im)}; }
  Cx mul(Cx x, Cx y) {
    return {sub(mul(x.re, y.re), mul(x.im, y.im)),
            add(mul(x.re, y.im), mul(x.im, y.re))};
  }
  Cx scale(Cx x, Value s) { return {mul(x.re, s), mul(x.im, s)}; }
  Cx div(Cx x, Cx y) {
    Value den = add(mul(y.re, y.re), mul(y.im, y.im));
    Cx num = mul(x, {y.re, y.im ? arith::NegFOp::create(b, l, y.im) : y.im});
    return {div(num.re, den), div(num.im, den)};
  }
  Cx select(Value cond, Cx x, Cx y) {
    return {select(cond, x.re, y.re), select(cond, x.im, y.im)};
  }
  /// exp(x) - 1 for real x, its Taylor series (to x^6) for |x| < 0.1.
  Value expm1(Value x) {
    Value series = c(1.0 / 720);
    for (double coef : {1.0 / 120, 1.0 / 24, 1.0 / 6, 1.0 / 2, 1.0})
      series = fma(series, x, c(coef));
    series = mul(series, x);
    Value small = arith::CmpFOp::create(b, l, arith::CmpFPredicate::OLT,
                                        math::AbsFOp::create(b, l, x), c(0.1));
    return select(small, series, sub(math::ExpOp::create(b, l, x), c(1)));
  }
  /// exp(z) - 1: (expm1(zr) cos(zi) - 2 sin^2(zi / 2), exp(zr) sin(zi)).
  Cx expm1(Cx z) {
    if (!z.im)
      return {expm1(z.re), Value()};
    Value th = reducePhase(z.im);
    Value s = math::SinOp::create(b, l, mul(th, c(0.5)));
    Value re =
        fma(expm1(z.re), math::CosOp::create(b, l, th), mul(c(-2), mul(s, s)));
    return {re, mul(math::ExpOp::create(b, l, z.re),
                    math::SinOp::create(b, l, th))};
  }
  /// theta reduced modulo 2 pi into [-pi, pi] (Cody-Waite: 2 pi split into
  /// a short high part, exact in every product k 2pi_hi for |k| < 2^15, and
  /// the rest).
  Value reducePhase(Value theta) {
    constexpr double hi = 6.28125;
    Value k = math::RoundEvenOp::create(
        b, l, mul(theta, c(1.0 / (2 * llvm::numbers::pi))));
    Value r = fma(arith::NegFOp::create(b, l, k), c(hi), theta);
    return fma(arith::NegFOp::create(b, l, k), c(2 * llvm::numbers::pi - hi),
               r);
  }

private:
  OpBuilder &b;
  Location l;
};

struct LTIInfo {
  mutable LTIScanOp op;
  int64_t H, N, Dc;
  bool complex;
  Discretization disc;
  Value batch, seqLen;
};

/// The discretized parameters of a block, [N', Dc] planes. Abar = s + G
/// with s = +1 or -1 (the sign of Re(Abar)) and G free of cancellation, so
/// that modes with long memory (|Abar| near 1: Abar near 1 for small steps,
/// near -1 for the bilinear rule's large ones) keep their decay and rotation
/// to the last bit; the recurrence steps s x + G x + Bbar u. `sign` is s
/// (null: +1 everywhere). Then Bbar, the read-out f C, and log Abar (or, when
/// `signedLog`, log(s Abar): Abar^l = s^l exp(l log(s Abar))); real mode has
/// no imaginary planes.
struct Params {
  Cx G, B, C, logA;
  Value sign;
  bool signedLog = false;
};

/// The values of a block's [N', Dc] planes as a flat list (nulls skipped).
SmallVector<Value> flatten(ArrayRef<Cx> xs) {
  SmallVector<Value> v;
  for (const Cx &x : xs)
    for (Value p : {x.re, x.im})
      if (p)
        v.push_back(p);
  return v;
}

/// The planes of `p` in a fixed order (G, B, C, log Abar, then the sign).
SmallVector<Value> paramPlanes(const Params &p) {
  SmallVector<Value> v = flatten({p.G, p.B, p.C, p.logA});
  if (p.sign)
    v.push_back(p.sign);
  return v;
}

/// Params with the layout of `like` and the planes `planes` (in the order of
/// paramPlanes).
Params paramsFrom(const Params &like, ArrayRef<Value> planes) {
  Params p = like;
  unsigned i = 0;
  for (Cx *x : {&p.G, &p.B, &p.C, &p.logA}) {
    x->re = planes[i++];
    if (x->im)
      x->im = planes[i++];
  }
  if (p.sign)
    p.sign = planes[i++];
  return p;
}

/// The discretization of FORMS.md 5.1 for one block of channels.
Params discretize(SliceKernelBuilder &kb, const LTIInfo &info, Value c0) {
  LTIScanOp op = info.op;
  OpFoldResult dc = kb.ofr(info.Dc), n = kb.ofr(info.N);
  auto modes = [&](Value src) {
    return kb.slice(src, {c0, kb.ofr(0)}, {dc, n}, {0, 1});
  };
  Value logDt = kb.slice(op.getLogDt(), {c0}, {dc}, {0});
  const bool cplx = info.complex;
  const Discretization disc = info.disc;
  // Real ZOH and Euler-B: Abar = exp(dt A) > 0, s = +1.
  const bool hasSign = cplx || disc == Discretization::bilinear;
  auto plane = [&] { return kb.empty({n, dc}); };
  auto planes = [&] { return Cx{plane(), cplx ? plane() : Value()}; };
  Params p{planes(),
           planes(),
           planes(),
           planes(),
           hasSign ? plane() : Value(),
           disc == Discretization::bilinear};
  SmallVector<Value> outs = paramPlanes(p);
  // A, B and C as [N', Dc] planes of f32 first (complex split, transposed),
  // so that the discretization below is f32 rows of channels that vectorize.
  SmallVector<Value> partPlanes;
  for (int i = 0; i < 3; ++i) {
    partPlanes.push_back(plane());
    if (cplx)
      partPlanes.push_back(plane());
  }
  SmallVector<SmallVector<unsigned>> splitDims = {{1, 0}, {1, 0}, {1, 0}};
  splitDims.append(partPlanes.size(), {0, 1});
  partPlanes = kb.generics(
      ValueRange{modes(op.getA()), modes(op.getB()), modes(op.getC())},
      partPlanes, 2, splitDims, SliceKernelBuilder::parallel(2),
      [&](OpBuilder &b, Location l, ValueRange a) {
        SmallVector<Value> ys;
        for (int i = 0; i < 3; ++i) {
          if (!cplx) {
            ys.push_back(a[i]);
            continue;
          }
          ys.push_back(complex::ReOp::create(b, l, a[i]));
          ys.push_back(complex::ImOp::create(b, l, a[i]));
        }
        return ys;
      });
  SmallVector<Value> ins = partPlanes;
  ins.push_back(logDt);
  SmallVector<SmallVector<unsigned>> dims(partPlanes.size(), {0, 1});
  dims.push_back({1});
  dims.append(outs.size(), {0, 1});
  SmallVector<Value> res = kb.generics(
      ins, outs, 2, dims, SliceKernelBuilder::parallel(2),
      [&](OpBuilder &b, Location l, ValueRange args) {
        CxMath m(b, l);
        const unsigned per = cplx ? 2 : 1;
        auto parts = [&](int i) -> Cx {
          return {args[per * i], cplx ? args[per * i + 1] : Value()};
        };
        auto lt = [&](Value x, Value y) {
          return arith::CmpFOp::create(b, l, arith::CmpFPredicate::OLT, x, y);
        };
        Cx A = parts(0), B = parts(1), C = parts(2);
        Value dt = math::ExpOp::create(b, l, args[3 * per]);
        Cx z = m.scale(A, dt);
        Cx G, Bb, logA;
        Value neg; // Re(Abar) < 0
        if (disc == Discretization::bilinear) {
          // Abar = (1 + h) / (1 - h), h = z/2: Abar - 1 = z / (1 - h) and
          // Abar + 1 = 2 / (1 - h); Re(Abar) < 0 where |h| > 1.
          Cx h = m.scale(z, m.c(0.5));
          Cx den = m.sub({m.c(1), Value()}, h);
          Value den2 = m.add(m.mul(den.re, den.re), m.mul(den.im, den.im));
          neg = lt(m.c(1), m.add(m.mul(h.re, h.re), m.mul(h.im, h.im)));
          Cx plusOne = m.div({m.c(2), Value()}, den);
          G = m.select(neg, plusOne, m.div(z, den));
          Bb = m.div(m.scale(B, dt), den);
          // log |Abar| = log1p(4 Re(h) / |1 - h|^2) / 2 where |Abar| is
          // near 1 (no cancellation for small or large |h|), and
          // (log |1 + h|^2 - log |1 - h|^2) / 2 where it is small (h near -1).
          Value q = m.div(m.mul(m.c(4), h.re), den2);
          Cx num = m.add({m.c(1), Value()}, h);
          Value num2 = m.add(m.mul(num.re, num.re), m.mul(num.im, num.im));
          logA.re =
              m.mul(m.c(0.5), m.select(lt(q, m.c(-0.75)),
                                       m.sub(math::LogOp::create(b, l, num2),
                                             math::LogOp::create(b, l, den2)),
                                       math::Log1pOp::create(b, l, q)));
          if (cplx) {
            // arg(s Abar): arg(1 + h) - arg(1 - h) for s = 1; for s = -1,
            // arg(-Abar) = arg(1 - (Abar + 1)).
            Value direct =
                m.add(math::Atan2Op::create(b, l, h.im, m.add(m.c(1), h.re)),
                      math::Atan2Op::create(b, l, h.im, den.re));
            Value flipped = math::Atan2Op::create(
                b, l, arith::NegFOp::create(b, l, plusOne.im),
                m.sub(m.c(1), plusOne.re));
            logA.im = m.select(neg, flipped, direct);
          }
        } else {
          // Abar = exp(z): Abar - 1 = (expm1(zr) cos zi - 2 sin^2(zi/2),
          // e^zr sin zi) and Abar + 1 = (expm1(zr) cos zi + 2 cos^2(zi/2),
          // e^zr sin zi); Re(Abar) < 0 where cos zi < 0.
          logA = z;
          Value em1 = m.expm1(z.re);
          if (cplx) {
            // (the phase reduced modulo 2 pi first)
            Value th = m.reducePhase(z.im);
            Value cosz = math::CosOp::create(b, l, th);
            Value sh = math::SinOp::create(b, l, m.mul(th, m.c(0.5)));
            Value ch = math::CosOp::create(b, l, m.mul(th, m.c(0.5)));
            Value im = m.mul(math::ExpOp::create(b, l, z.re),
                             math::SinOp::create(b, l, th));
            neg = lt(cosz, m.c(0));
            Value minus = m.fma(em1, cosz, m.mul(m.c(-2), m.mul(sh, sh)));
            Value plus = m.fma(em1, cosz, m.mul(m.c(2), m.mul(ch, ch)));
            G = {m.select(neg, plus, minus), im};
          } else {
            G = {em1, Value()};
          }
          if (disc == Discretization::zoh) {
            // Bbar = dt phi1(z) B, phi1(z) = (exp(z) - 1) / z: its Taylor
            // series (to z^5, error below 2e-10) for |z| < 0.1.
            Cx series = {m.c(1.0 / 720), Value()};
            for (double coef : {1.0 / 120, 1.0 / 24, 1.0 / 6, 1.0 / 2, 1.0})
              series = m.add(m.mul(series, z), {m.c(coef), Value()});
            Value small =
                lt(m.add(m.mul(z.re, z.re), m.mul(z.im, z.im)), m.c(0.01));
            Cx E = m.expm1(z);
            Bb = m.scale(m.mul(m.select(small, series, m.div(E, z)), B), dt);
          } else {
            Bb = m.scale(B, dt);
          }
        }
        Cx Cf = m.scale(C, m.c(cplx ? 2.0 : 1.0));
        SmallVector<Value> ys;
        for (const Cx &x : {G, Bb, Cf, logA}) {
          ys.push_back(x.re);
          if (cplx)
            ys.push_back(x.im ? x.im : m.c(0));
        }
        if (hasSign)
          ys.push_back(m.select(neg, m.c(-1), m.c(1)));
        return ys;
      });
  return paramsFrom(p, res);
}

/// The [count, N', Dc] planes of W Abar^(first + step j), j < count, each
/// power exp((first + step j) log Abar) (W null: 1).
Cx powers(SliceKernelBuilder &kb, const LTIInfo &info, const Params &p,
          OpFoldResult count, int64_t first, int64_t step, Cx W = {}) {
  OpFoldResult dc = kb.ofr(info.Dc), n = kb.ofr(info.N);
  const bool cplx = info.complex;
  const bool flip = p.signedLog && p.sign;
  SmallVector<Value> ins = flatten({p.logA, W});
  if (flip)
    ins.push_back(p.sign);
  SmallVector<Value> outs = {kb.empty({count, n, dc})};
  if (cplx)
    outs.push_back(kb.empty({count, n, dc}));
  SmallVector<SmallVector<unsigned>> dims(ins.size(), {1, 2});
  dims.append(outs.size(), {0, 1, 2});
  SmallVector<Value> res = kb.generics(
      ins, outs, 3, dims, SliceKernelBuilder::parallel(3),
      [&](OpBuilder &b, Location l, ValueRange a) {
        CxMath m(b, l);
        Value j = linalg::IndexOp::create(b, l, 0);
        Value e = arith::AddIOp::create(
            b, l, arith::ConstantIndexOp::create(b, l, first),
            arith::MulIOp::create(b, l, j,
                                  arith::ConstantIndexOp::create(b, l, step)));
        Value ell = arith::SIToFPOp::create(
            b, l, b.getF32Type(),
            arith::IndexCastOp::create(b, l, b.getI64Type(), e));
        unsigned k = 0;
        Value lr = a[k++], li = cplx ? a[k++] : Value();
        Cx w;
        if (W.re) {
          w.re = a[k++];
          if (W.im)
            w.im = a[k++];
        }
        // exp(l lr), and exactly 1 for l = 0 (also where Abar = 0).
        Value zero =
            arith::CmpFOp::create(b, l, arith::CmpFPredicate::OEQ, ell, m.c(0));
        // Powers below 2^-50 (beyond fp32's reach next to Abar^0 = 1) are
        // flushed to zero, so that their products with the other factors
        // never reach subnormal numbers (a hundredfold slower multiply).
        Value mag = math::ExpOp::create(b, l, m.mul(ell, lr));
        mag = m.select(arith::CmpFOp::create(b, l, arith::CmpFPredicate::OLT,
                                             mag, m.c(0x1p-50)),
                       m.c(0), mag);
        mag = m.select(zero, m.c(1), mag);
        if (flip) {
          // s^l with s = -1: the sign alternates with l.
          Value half = math::FloorOp::create(b, l, m.mul(ell, m.c(0.5)));
          Value odd = arith::CmpFOp::create(b, l, arith::CmpFPredicate::ONE,
                                            m.mul(half, m.c(2)), ell);
          Value neg = arith::CmpFOp::create(b, l, arith::CmpFPredicate::OLT,
                                            a[k], m.c(0));
          mag = m.select(arith::AndIOp::create(b, l, odd, neg),
                         arith::NegFOp::create(b, l, mag), mag);
        }
        Cx pw = {mag, Value()};
        if (cplx) {
          Value theta = m.reducePhase(m.mul(ell, li));
          pw = {m.mul(mag, math::CosOp::create(b, l, theta)),
                m.mul(mag, math::SinOp::create(b, l, theta))};
        }
        if (w.re)
          pw = m.mul(w, pw);
        SmallVector<Value> ys = {pw.re};
        if (cplx)
          ys.push_back(pw.im ? pw.im : m.c(0));
        return ys;
      });
  return {res[0], cplx ? res[1] : Value()};
}

/// Row `i` of [rows, N', Dc] planes: [N', Dc].
Cx planeRow(SliceKernelBuilder &kb, const LTIInfo &info, Cx x, OpFoldResult i) {
  auto row = [&](Value v) -> Value {
    if (!v)
      return v;
    return kb.slice(v, {i, kb.ofr(0), kb.ofr(0)},
                    {kb.ofr(1), kb.ofr(info.N), kb.ofr(info.Dc)}, {1, 2});
  };
  return {row(x.re), row(x.im)};
}

/// Rows [first, first + len) of [rows, N', Dc] planes.
Cx planeRows(SliceKernelBuilder &kb, const LTIInfo &info, Cx x,
             OpFoldResult first, OpFoldResult len) {
  auto rows = [&](Value v) -> Value {
    if (!v)
      return v;
    return kb.slice(v, {first, kb.ofr(0), kb.ofr(0)},
                    {len, kb.ofr(info.N), kb.ofr(info.Dc)}, {0, 1, 2});
  };
  return {rows(x.re), rows(x.im)};
}

/// The elementwise product of two [N', Dc] complex planes.
Cx planeProduct(SliceKernelBuilder &kb, const LTIInfo &info, Cx x, Cx y) {
  OpFoldResult dc = kb.ofr(info.Dc), n = kb.ofr(info.N);
  SmallVector<Value> ins = flatten({x, y});
  SmallVector<Value> outs = {kb.empty({n, dc})};
  if (info.complex)
    outs.push_back(kb.empty({n, dc}));
  SmallVector<SmallVector<unsigned>> dims(ins.size() + outs.size(), {0, 1});
  SmallVector<Value> res =
      kb.generics(ins, outs, 2, dims, SliceKernelBuilder::parallel(2),
                  [&](OpBuilder &b, Location l, ValueRange a) {
                    CxMath m(b, l);
                    Cx p = info.complex ? m.mul({a[0], a[1]}, {a[2], a[3]})
                                        : Cx{m.mul(a[0], a[1]), Value()};
                    return flatten({p});
                  });
  return {res[0], info.complex ? res[1] : Value()};
}

/// The state of the block before the sequence, [N', Dc] planes (zeros
/// without an initial state).
Cx initialState(SliceKernelBuilder &kb, const LTIInfo &info, Value bi,
                Value c0) {
  OpFoldResult dc = kb.ofr(info.Dc), n = kb.ofr(info.N);
  Value init = info.op.getInitialState();
  Cx x{kb.zeros({n, dc}), info.complex ? kb.zeros({n, dc}) : Value()};
  if (!init)
    return x;
  Value src = kb.slice(init, {bi, c0, kb.ofr(0)}, {kb.ofr(1), dc, n}, {1, 2});
  SmallVector<SmallVector<unsigned>> dims = {{1, 0}, {0, 1}};
  if (info.complex)
    dims.push_back({0, 1});
  SmallVector<Value> res = kb.generics(
      ValueRange{src}, flatten({x}), 2, dims, SliceKernelBuilder::parallel(2),
      [&](OpBuilder &b, Location l, ValueRange a) -> SmallVector<Value> {
        if (!info.complex)
          return {a[0]};
        return {complex::ReOp::create(b, l, a[0]),
                complex::ImOp::create(b, l, a[0])};
      });
  return {res[0], info.complex ? res[1] : Value()};
}

/// The [Dc, N'] final state (of the op's element type) from [N', Dc] planes.
Value finalState(SliceKernelBuilder &kb, const LTIInfo &info, Cx x) {
  ImplicitLocOpBuilder &b = kb.builder();
  Type elem = cast<RankedTensorType>(info.op.getFinalState().getType())
                  .getElementType();
  Value dest =
      tensor::EmptyOp::create(b, ArrayRef<int64_t>{info.Dc, info.N}, elem);
  SmallVector<SmallVector<unsigned>> dims(info.complex ? 2 : 1, {1, 0});
  dims.push_back({0, 1});
  return kb
      .generics(
          flatten({x}), ValueRange{dest}, 2, dims,
          SliceKernelBuilder::parallel(2),
          [&](OpBuilder &bb, Location l, ValueRange a) -> SmallVector<Value> {
            if (!info.complex)
              return {a[0]};
            return {complex::CreateOp::create(bb, l, cast<ComplexType>(elem),
                                              a[0], a[1])};
          })
      .front();
}

/// out rows [Dc, L] = y^T + D u (y: [L, Dc] rows, u: [Dc, L]) into `dest`.
Value readOut(SliceKernelBuilder &kb, const LTIInfo &info, Value y, Value u,
              Value c0, Value dest, OpFoldResult len) {
  Value yT = transposed(kb, y, len, kb.ofr(info.Dc));
  Value skip = info.op.getDSkip();
  if (!skip)
    return linalg::CopyOp::create(kb.builder(), ValueRange{yT},
                                  ValueRange{dest})
        .getResult(0);
  Value d = kb.slice(skip, {c0}, {kb.ofr(info.Dc)}, {0});
  return kb.generic(ValueRange{yT, u, d}, dest, 2,
                    {{0, 1}, {0, 1}, {0}, {0, 1}},
                    SliceKernelBuilder::parallel(2),
                    [](OpBuilder &b, Location l, ValueRange a) -> Value {
                      return math::FmaOp::create(b, l, a[2], a[1], a[0]);
                    });
}

/// y[r] += K[l] u[r - l] for l <= r < len: the causal convolution of the
/// [len, Dc] rows `u` by the kernel rows K[0..len-1] ([>= len, Dc]), as one
/// row update per lag.
Value causalConvolution(SliceKernelBuilder &kb, Value K, Value u, Value y,
                        Value len, int64_t Dc) {
  ImplicitLocOpBuilder &b = kb.builder();
  auto loop = scf::ForOp::create(
      b, kb.index(0), len, kb.index(1), ValueRange{y},
      [&](OpBuilder &nb, Location loc, Value lag, ValueRange it) {
        ImplicitLocOpBuilder ib(loc, nb);
        SliceKernelBuilder k(ib);
        OpFoldResult rows =
            getAsOpFoldResult(arith::SubIOp::create(ib, len, lag).getResult());
        OpFoldResult dc = k.ofr(Dc);
        Value kr = k.slice(K, {lag, k.ofr(0)}, {k.ofr(1), dc}, {1});
        Value ur = k.slice(u, {k.ofr(0), k.ofr(0)}, {rows, dc}, {0, 1});
        Value yr = k.slice(it[0], {lag, k.ofr(0)}, {rows, dc}, {0, 1});
        yr = k.generic(ValueRange{kr, ur}, yr, 2, {{1}, {0, 1}, {0, 1}},
                       SliceKernelBuilder::parallel(2),
                       [](OpBuilder &bb, Location l, ValueRange a) -> Value {
                         return math::FmaOp::create(bb, l, a[0], a[1], a[2]);
                       });
        scf::YieldOp::create(ib,
                             k.insert(yr, it[0], {lag, k.ofr(0)}, {rows, dc}));
      });
  return loop.getResult(0);
}

/// The recurrent form for one block: returns its [Dc, T] output rows and
/// final state planes.
std::pair<Value, Cx> recurrentBlock(SliceKernelBuilder &kb, const LTIInfo &info,
                                    const Params &p, Value bi, Value c0,
                                    Value out0) {
  OpFoldResult dc = kb.ofr(info.Dc);
  const bool cplx = info.complex;
  Cx x0 = initialState(kb, info, bi, c0);
  // The state and its compensation (Kahan): the rounding error of every
  // step's sum x + (E x + Bbar u), carried into the next step, so that
  // increments below the state's last bit (steps dt |A| < 1e-7: modes that
  // barely decay) are not lost, nor does their rounding add up over T.
  OpFoldResult n = kb.ofr(info.N);
  Cx lo0{kb.zeros({n, dc}), cplx ? kb.zeros({n, dc}) : Value()};
  SmallVector<Value> inits = flatten({x0, lo0});
  const unsigned planes = cplx ? 2 : 1;
  inits.push_back(out0);
  ValueRange r = buildTokenBlockLoop(
      kb, info.seqLen, kTokenBlock, inits,
      [&](SliceKernelBuilder &k, Value t0, Value len, ValueRange iter) {
        OpFoldResult L = getAsOpFoldResult(len);
        Value U =
            k.slice(info.op.getU(), {bi, c0, t0}, {k.ofr(1), dc, L}, {1, 2});
        Value UT = transposed(k, U, dc, L);
        SmallVector<Value> carried(iter.drop_back());
        carried.push_back(k.zeros({L, dc}));
        auto tokens = scf::ForOp::create(
            k.builder(), k.index(0), len, k.index(1), carried,
            [&](OpBuilder &nb, Location loc, Value i, ValueRange it) {
              ImplicitLocOpBuilder ib(loc, nb);
              SliceKernelBuilder k2(ib);
              Value ur = k2.slice(UT, {i, k2.ofr(0)}, {k2.ofr(1), dc}, {1});
              // x = s x + G x + Bbar u (Abar = s + G).
              SmallVector<Value> ins = flatten({p.G, p.B});
              ins.push_back(ur);
              if (p.sign)
                ins.push_back(p.sign);
              SmallVector<Value> xs(it.drop_back());
              SmallVector<SmallVector<unsigned>> dims(ins.size(), {0, 1});
              dims[flatten({p.G, p.B}).size()] = {1};
              dims.append(xs.size(), {0, 1});
              xs = k2.generics(
                  ins, xs, 2, dims, SliceKernelBuilder::parallel(2),
                  [&](OpBuilder &b, Location l, ValueRange a) {
                    CxMath m(b, l);
                    // (x, lo) + d: the sum and its rounding error (Fast2Sum;
                    // d is rarely larger than x, and then the state is
                    // mostly new input).
                    // s x + d (s x exact) and its rounding error.
                    Value sgn = p.sign ? a[2 * planes + 1] : Value();
                    auto step = [&](Value x, Value d) {
                      Value sx = sgn ? m.mul(sgn, x) : x;
                      Value sum = m.add(sx, d);
                      return std::pair{sum, m.sub(d, m.sub(sum, sx))};
                    };
                    unsigned o = 2 * planes + 1 + (p.sign ? 1 : 0);
                    Value u = a[2 * planes];
                    if (!cplx) { // a: G, B, u, [s], x, lo
                      Value x = a[o];
                      auto [y, lo] =
                          step(x, m.fma(a[0], x, m.fma(a[1], u, a[o + 1])));
                      return SmallVector<Value>{y, lo};
                    }
                    // a: Gr, Gi, Br, Bi, u, [s], xr, xi, lor, loi.
                    Value xr = a[o], xi = a[o + 1];
                    Value nGi = arith::NegFOp::create(b, l, a[1]);
                    auto [yr, lr] = step(
                        xr, m.fma(a[0], xr,
                                  m.fma(nGi, xi, m.fma(a[2], u, a[o + 2]))));
                    auto [yi, li] = step(
                        xi, m.fma(a[0], xi,
                                  m.fma(a[1], xr, m.fma(a[3], u, a[o + 3]))));
                    return SmallVector<Value>{yr, yi, lr, li};
                  });
              xs.resize(planes * 2);
              // y = Re(sum_n C_n x_n) (loops: c, n).
              SmallVector<Value> rins = flatten({p.C});
              rins.append(xs.begin(), xs.begin() + planes);
              Value yrow =
                  k2.slice(it.back(), {i, k2.ofr(0)}, {k2.ofr(1), dc}, {1});
              SmallVector<SmallVector<unsigned>> rdims(rins.size(), {1, 0});
              rdims.push_back({0});
              yrow = k2.generic(
                  rins, yrow, 2, rdims, {kPar, kRed},
                  [&](OpBuilder &b, Location l, ValueRange a) -> Value {
                    CxMath m(b, l);
                    if (!cplx)
                      return m.fma(a[0], a[1], a[2]);
                    return m.fma(a[0], a[2], m.sub(a[4], m.mul(a[1], a[3])));
                  });
              SmallVector<Value> yields = xs;
              yields.push_back(
                  k2.insert(yrow, it.back(), {i, k2.ofr(0)}, {k2.ofr(1), dc}));
              scf::YieldOp::create(ib, yields);
            });
        Value dest = k.slice(iter.back(), {k.ofr(0), t0}, {dc, L}, {0, 1});
        Value o = readOut(k, info, tokens.getResults().back(), U, c0, dest, L);
        SmallVector<Value> next(tokens.getResults().drop_back());
        next.push_back(k.insert(o, iter.back(), {k.ofr(0), t0}, {dc, L}));
        return next;
      });
  // The state is x + lo (rounded once).
  SmallVector<Value> xf(r.begin(), r.begin() + planes);
  SmallVector<Value> lo(r.begin() + planes, r.begin() + 2 * planes);
  SmallVector<SmallVector<unsigned>> fdims(2 * planes, {0, 1});
  xf = kb.generics(lo, xf, 2, fdims, SliceKernelBuilder::parallel(2),
                   [&](OpBuilder &b, Location l, ValueRange a) {
                     SmallVector<Value> ys;
                     for (unsigned i = 0; i < planes; ++i)
                       ys.push_back(
                           arith::AddFOp::create(b, l, a[planes + i], a[i]));
                     return ys;
                   });
  return {r.back(), {xf[0], cplx ? xf[1] : Value()}};
}

/// sum over the middle loop of Re(x . P): out[r, c] += sum_n (xr[n, c]
/// Pr[r, n, c] - xi[n, c] Pi[r, n, c]) with x [N', Dc] planes and P
/// [rows, N', Dc] planes.
Value modeSum(SliceKernelBuilder &kb, Cx x, Cx P, Value out) {
  SmallVector<Value> ins = flatten({x, P});
  SmallVector<SmallVector<unsigned>> dims;
  unsigned nx = x.im ? 2 : 1;
  for (unsigned i = 0; i < nx; ++i)
    dims.push_back({1, 2});
  for (unsigned i = 0; i < (P.im ? 2u : 1u); ++i)
    dims.push_back({0, 1, 2});
  dims.push_back({0, 2});
  return kb.generic(ins, out, 3, dims, {kPar, kRed, kPar},
                    [&](OpBuilder &b, Location l, ValueRange a) -> Value {
                      CxMath m(b, l);
                      if (nx == 1)
                        return m.fma(a[0], a[1], a[2]);
                      return m.fma(a[0], a[2], m.sub(a[4], m.mul(a[1], a[3])));
                    });
}

/// The chunked form for one block.
std::pair<Value, Cx> chunkedBlock(SliceKernelBuilder &kb, const LTIInfo &info,
                                  const Params &p, int64_t chunk, Value bi,
                                  Value c0, Value out0) {
  OpFoldResult dc = kb.ofr(info.Dc), n = kb.ofr(info.N);
  const bool cplx = info.complex;
  // Abar^j, j = 0..C; the kernel K[l] = Re(sum_n W_n Abar_n^l), l < C, with
  // W = f C Bbar; Bbar Abar^(C-1-j), j < C (the state update's weights,
  // reversed).
  Cx P = powers(kb, info, p, kb.ofr(chunk + 1), 0, 1);
  Cx W = planeProduct(kb, info, p.C, p.B);
  Value K = modeSum(kb, W, planeRows(kb, info, P, kb.ofr(0), kb.ofr(chunk)),
                    kb.zeros({kb.ofr(chunk), dc}));
  Cx Q = powers(kb, info, p, kb.ofr(chunk), chunk - 1, -1, p.B);
  Cx x0 = initialState(kb, info, bi, c0);
  SmallVector<Value> inits = flatten({x0});
  inits.push_back(out0);
  ValueRange r = buildTokenBlockLoop(
      kb, info.seqLen, chunk, inits,
      [&](SliceKernelBuilder &k, Value t0, Value len, ValueRange iter) {
        ImplicitLocOpBuilder &b = k.builder();
        OpFoldResult L = getAsOpFoldResult(len);
        Cx x{iter[0], cplx ? iter[1] : Value()};
        Value U =
            k.slice(info.op.getU(), {bi, c0, t0}, {k.ofr(1), dc, L}, {1, 2});
        Value UT = transposed(k, U, dc, L);
        // y[r] = Re(sum_n (f C x0)_n Abar_n^(r+1)) + (K * u)[r].
        Cx Z = planeProduct(k, info, p.C, x);
        Value Y =
            modeSum(k, Z, planeRows(k, info, P, k.ofr(1), L), k.zeros({L, dc}));
        Y = causalConvolution(k, K, UT, Y, len, info.Dc);
        // x_C = Abar^L x0 + sum_s Bbar Abar^(L-1-s) u_s.
        Value first = arith::SubIOp::create(b, k.index(chunk), len);
        Cx Qs = planeRows(k, info, Q, first, L);
        SmallVector<Value> sins = flatten({Qs});
        sins.push_back(UT);
        SmallVector<Value> souts = {k.zeros({n, dc})};
        if (cplx)
          souts.push_back(k.zeros({n, dc}));
        SmallVector<SmallVector<unsigned>> sdims(sins.size() - 1, {0, 1, 2});
        sdims.push_back({0, 2});
        sdims.append(souts.size(), {1, 2});
        SmallVector<Value> S =
            k.generics(sins, souts, 3, sdims, {kRed, kPar, kPar},
                       [&](OpBuilder &bb, Location l, ValueRange a) {
                         CxMath m(bb, l);
                         SmallVector<Value> ys = {
                             m.fma(a[0], a[cplx ? 2 : 1], a[cplx ? 3 : 2])};
                         if (cplx)
                           ys.push_back(m.fma(a[1], a[2], a[4]));
                         return ys;
                       });
        // (in place: the chunk loop carries the state's buffers)
        SmallVector<Value> xins = flatten({planeRow(k, info, P, L)});
        xins.append(S);
        SmallVector<Value> xouts = flatten({x});
        SmallVector<SmallVector<unsigned>> xdims(xins.size() + xouts.size(),
                                                 {0, 1});
        SmallVector<Value> xn = k.generics(
            xins, xouts, 2, xdims, SliceKernelBuilder::parallel(2),
            [&](OpBuilder &bb, Location l, ValueRange a) {
              CxMath m(bb, l);
              if (!cplx)
                return SmallVector<Value>{m.fma(a[0], a[2], a[1])};
              // a: Pr, Pi, Sr, Si, xr, xi.
              Cx y = m.add(m.mul({a[0], a[1]}, {a[4], a[5]}), {a[2], a[3]});
              return SmallVector<Value>{y.re, y.im};
            });
        Value dest = k.slice(iter.back(), {k.ofr(0), t0}, {dc, L}, {0, 1});
        Value o = readOut(k, info, Y, U, c0, dest, L);
        xn.push_back(k.insert(o, iter.back(), {k.ofr(0), t0}, {dc, L}));
        return xn;
      });
  return {r.back(), {r[0], cplx ? r[1] : Value()}};
}

/// K[j M + i] = Re(sum_n X[j, n] P[i, n]) for the [J, N', Dc] planes X
/// (J even) and the [M, N', Dc] planes P (M = kPowerSplit): [J M, Dc]. A
/// batched (over the Dc lanes) complex matrix product, register-tiled by
/// hand: each step of the mode loop loads two rows of X and kTile rows of P
/// and updates 2 x kTile accumulators of Dc lanes.
Value kernelSum(SliceKernelBuilder &kb, const LTIInfo &info, Cx X, Cx P,
                Value J) {
  constexpr int64_t kTile = 8;
  static_assert(kPowerSplit % kTile == 0);
  ImplicitLocOpBuilder &b = kb.builder();
  const bool cplx = info.complex;
  VectorType vt = VectorType::get({info.Dc}, b.getF32Type());
  Value zeroV = splatF32(b, vt, 0.0f);
  auto idx = [](ImplicitLocOpBuilder &ib, int64_t x) -> Value {
    return arith::ConstantIndexOp::create(ib, x);
  };
  auto read = [&](ImplicitLocOpBuilder &ib, Value plane, Value r, Value n) {
    return readLanes(ib, vt, plane, {r, n});
  };
  Value rows = arith::MulIOp::create(b, J, kb.index(kPowerSplit));
  Value K0 = bufferization::AllocTensorOp::create(
      b, RankedTensorType::get({ShapedType::kDynamic, info.Dc}, b.getF32Type()),
      ValueRange{rows});
  auto overTiles = scf::ForOp::create(
      b, kb.index(0), kb.index(kPowerSplit), kb.index(kTile), ValueRange{K0},
      [&](OpBuilder &nb, Location loc, Value i0, ValueRange kt) {
        ImplicitLocOpBuilder ib(loc, nb);
        auto overRows = scf::ForOp::create(
            ib, idx(ib, 0), J, idx(ib, 2), ValueRange{kt[0]},
            [&](OpBuilder &rb, Location rl, Value j0, ValueRange kr) {
              ImplicitLocOpBuilder jb(rl, rb);
              Value j1 = arith::AddIOp::create(jb, j0, idx(jb, 1));
              SmallVector<Value> init(2 * kTile, zeroV);
              auto modes = scf::ForOp::create(
                  jb, idx(jb, 0), idx(jb, info.N), idx(jb, 1), init,
                  [&](OpBuilder &mb, Location ml, Value n, ValueRange acc) {
                    ImplicitLocOpBuilder lb(ml, mb);
                    Value x[2][2];
                    for (auto [a, j] :
                         llvm::enumerate(ArrayRef<Value>{j0, j1})) {
                      x[a][0] = read(lb, X.re, j, n);
                      // -Im, so that every update is one fma.
                      x[a][1] =
                          cplx ? arith::NegFOp::create(lb, read(lb, X.im, j, n))
                               : Value();
                    }
                    SmallVector<Value> next(acc.begin(), acc.end());
                    for (int64_t t = 0; t < kTile; ++t) {
                      Value i = arith::AddIOp::create(lb, i0, idx(lb, t));
                      Value pr = read(lb, P.re, i, n);
                      Value pi = cplx ? read(lb, P.im, i, n) : Value();
                      for (int a = 0; a < 2; ++a) {
                        Value &s = next[a * kTile + t];
                        s = math::FmaOp::create(lb, x[a][0], pr, s);
                        if (cplx)
                          s = math::FmaOp::create(lb, x[a][1], pi, s);
                      }
                    }
                    scf::YieldOp::create(lb, next);
                  });
              Value k = kr[0];
              for (int a = 0; a < 2; ++a) {
                Value base = arith::AddIOp::create(
                    jb,
                    arith::MulIOp::create(jb, a ? j1 : j0,
                                          idx(jb, kPowerSplit)),
                    i0);
                for (int64_t t = 0; t < kTile; ++t)
                  k = writeLanes(
                      jb, modes.getResult(a * kTile + t), k,
                      arith::AddIOp::create(jb, base, idx(jb, t)).getResult());
              }
              scf::YieldOp::create(jb, k);
            });
        scf::YieldOp::create(ib, overRows.getResult(0));
      });
  return overTiles.getResult(0);
}

/// The parallel form (the causal convolution by the kernel) for one block.
/// The rows of the parallel form's kernel: M ceil(T / M) rounded up to
/// even multiples of M = kPowerSplit (kernelSum's tiles), at least T.
Value kernelRows(ImplicitLocOpBuilder &b, const LTIInfo &info) {
  Value J = arith::CeilDivUIOp::create(
      b, info.seqLen, arith::ConstantIndexOp::create(b, 2 * kPowerSplit));
  return arith::MulIOp::create(
      b, J, arith::ConstantIndexOp::create(b, 2 * kPowerSplit));
}

/// The parallel form's kernel of a block, [kernelRows, Dc]:
/// K[j M + i] = Re(sum_n (W Abar^(jM))_n Abar_n^i).
Value kernelOf(SliceKernelBuilder &kb, const LTIInfo &info, const Params &p) {
  ImplicitLocOpBuilder &b = kb.builder();
  Value J =
      arith::DivUIOp::create(b, kernelRows(b, info), kb.index(kPowerSplit));
  Cx W = planeProduct(kb, info, p.C, p.B);
  Cx X = powers(kb, info, p, getAsOpFoldResult(J), 0, kPowerSplit, W);
  Cx P = powers(kb, info, p, kb.ofr(kPowerSplit), 0, 1);
  return kernelSum(kb, info, X, P, J);
}

/// The parallel form (the causal convolution by the block's kernel K) for
/// one (batch, block).
Value parallelBlock(SliceKernelBuilder &kb, const LTIInfo &info, Value K,
                    Value bi, Value c0, Value out0) {
  ImplicitLocOpBuilder &b = kb.builder();
  OpFoldResult dc = kb.ofr(info.Dc);
  OpFoldResult T = getAsOpFoldResult(info.seqLen);
  Value U =
      kb.slice(info.op.getU(), {bi, c0, kb.ofr(0)}, {kb.ofr(1), dc, T}, {1, 2});
  Value UT = transposed(kb, U, dc, T);
  // Direct below kFFTFrom tokens, through the FFT from there.
  Value useFFT = arith::CmpIOp::create(b, arith::CmpIPredicate::sge,
                                       info.seqLen, kb.index(kFFTFrom));
  Value Y = scf::IfOp::create(
                b, useFFT,
                [&](OpBuilder &nb, Location loc) {
                  ImplicitLocOpBuilder ib(loc, nb);
                  SliceKernelBuilder k(ib);
                  scf::YieldOp::create(
                      ib, fftCausalConvolution(k, K, UT, info.seqLen, info.Dc));
                },
                [&](OpBuilder &nb, Location loc) {
                  ImplicitLocOpBuilder ib(loc, nb);
                  SliceKernelBuilder k(ib);
                  scf::YieldOp::create(
                      ib, causalConvolution(k, K, UT, k.zeros({T, dc}),
                                            info.seqLen, info.Dc));
                })
                .getResult(0);
  return readOut(kb, info, Y, U, c0, out0, T);
}

} // namespace

std::string mlir::seqmix::whyNotLoweredLTIScan(LTIScanOp op, FormKind form) {
  if (form == FormKind::parallel &&
      (op.getInitialState() || op.getFinalState()))
    return "the parallel form of seqmix.lti_scan (the causal convolution by "
           "its kernel, FORMS.md 5.1) takes no initial state and gives no "
           "final state; use form chunked or recurrent";
  return "";
}

LogicalResult mlir::seqmix::lowerLTIScan(LTIScanOp op, RewriterBase &rewriter) {
  auto uType = cast<RankedTensorType>(op.getU().getType());
  auto aType = cast<RankedTensorType>(op.getA().getType());
  if (uType.isDynamicDim(1) || aType.isDynamicDim(1))
    return op->emitOpError(
        "cannot be lowered: channels and state_dim must be static");
  rewriter.setInsertionPoint(op);
  ImplicitLocOpBuilder b(op.getLoc(), rewriter);
  const int64_t H = uType.getDimSize(1);
  LTIInfo info{op,
               H,
               aType.getDimSize(1),
               channelBlock(H),
               isa<ComplexType>(aType.getElementType()),
               op.getDiscretization(),
               tensor::DimOp::create(b, op.getU(), 0),
               tensor::DimOp::create(b, op.getU(), 2)};
  // The discretization of every block of channels, once per call (shared by
  // the batch): each [N', Dc] plane of Params stacked into [H / Dc, N', Dc].
  const int64_t blocks = H / info.Dc;
  // An scf.forall over the blocks whose results stack the [rows_i, Dc]
  // tensors `body` returns for each block: [H / Dc, rows_i, Dc].
  auto stackPerBlock =
      [&](ArrayRef<OpFoldResult> rows,
          function_ref<SmallVector<Value>(SliceKernelBuilder &, Value blk)>
              body) {
        SmallVector<Value> shared;
        for (OpFoldResult r : rows)
          shared.push_back(tensor::EmptyOp::create(
              b,
              ArrayRef<OpFoldResult>{b.getIndexAttr(blocks), r,
                                     b.getIndexAttr(info.Dc)},
              b.getF32Type()));
        auto loop = scf::ForallOp::create(
            b, ArrayRef<OpFoldResult>{b.getIndexAttr(blocks)}, shared,
            std::nullopt);
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPoint(loop.getBody()->getTerminator());
        SliceKernelBuilder kb(b);
        Value blk = loop.getInductionVars()[0];
        SmallVector<Value> parts = body(kb, blk);
        assert(parts.size() == rows.size());
        b.setInsertionPointToEnd(loop.getTerminator().getBody());
        for (auto [i, part] : llvm::enumerate(parts))
          tensor::ParallelInsertSliceOp::create(
              b, part, loop.getRegionIterArgs()[i],
              ArrayRef<OpFoldResult>{blk, b.getIndexAttr(0), b.getIndexAttr(0)},
              ArrayRef<OpFoldResult>{b.getIndexAttr(1), rows[i],
                                     b.getIndexAttr(info.Dc)},
              ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(1),
                                     b.getIndexAttr(1)});
        return SmallVector<Value>(loop.getResults());
      };
  // The discretization of every block of channels, once per call (shared by
  // the batch): each [N', Dc] plane of Params stacked.
  const bool hasSign = info.complex || info.disc == Discretization::bilinear;
  const int64_t numPlanes = 4 * (info.complex ? 2 : 1) + (hasSign ? 1 : 0);
  Params layout; // one block's Params, which lends `all` its layout
  SmallVector<Value> stacked = stackPerBlock(
      SmallVector<OpFoldResult>(numPlanes, b.getIndexAttr(info.N)),
      [&](SliceKernelBuilder &kb, Value blk) {
        layout = discretize(
            kb, info,
            arith::MulIOp::create(kb.builder(), blk, kb.index(info.Dc)));
        return paramPlanes(layout);
      });
  Params all = paramsFrom(layout, stacked);
  // The planes of block `blk`.
  auto blockParams = [&](SliceKernelBuilder &kb, Value blk) {
    SmallVector<Value> planes;
    for (Value stackedPlane : paramPlanes(all))
      planes.push_back(kb.slice(stackedPlane, {blk, kb.ofr(0), kb.ofr(0)},
                                {kb.ofr(1), kb.ofr(info.N), kb.ofr(info.Dc)},
                                {1, 2}));
    return paramsFrom(all, planes);
  };
  FormAttr form = getForm(op);
  // The parallel form's kernels, once per call too: [H / Dc, rows, Dc].
  Value kernels;
  OpFoldResult kRows;
  if (form.getKind() == FormKind::parallel) {
    kRows = getAsOpFoldResult(kernelRows(b, info));
    kernels = stackPerBlock({kRows}, [&](SliceKernelBuilder &kb, Value blk) {
      return SmallVector<Value>{kernelOf(kb, info, blockParams(kb, blk))};
    })[0];
  }
  SliceLoopShape shape{op.getOut(), op.getFinalState(), info.batch, info.seqLen,
                       info.Dc};
  auto forall = buildSliceLoop(
      b, shape,
      [&](SliceKernelBuilder &kb, Value bi, Value c0, Value outArg,
          Value stateArg) -> std::pair<Value, Value> {
        ImplicitLocOpBuilder &ib = kb.builder();
        Value blk = arith::DivUIOp::create(ib, c0, kb.index(info.Dc));
        Value out0 =
            kb.slice(outArg, {bi, c0, kb.ofr(0)},
                     {kb.ofr(1), kb.ofr(info.Dc), info.seqLen}, {1, 2});
        if (form.getKind() == FormKind::parallel) {
          Value K = kb.slice(kernels, {blk, kb.ofr(0), kb.ofr(0)},
                             {kb.ofr(1), kRows, kb.ofr(info.Dc)}, {1, 2});
          return {parallelBlock(kb, info, K, bi, c0, out0), Value()};
        }
        Params p = blockParams(kb, blk);
        auto [out, x] = form.getKind() == FormKind::chunked
                            ? chunkedBlock(kb, info, p,
                                           form.getChunk() > 0 ? form.getChunk()
                                                               : kDefaultChunk,
                                           bi, c0, out0)
                            : recurrentBlock(kb, info, p, bi, c0, out0);
        return {out, stateArg ? finalState(kb, info, x) : Value()};
      });
  rewriter.replaceOp(op, forall.getResults());
  return success();
}
