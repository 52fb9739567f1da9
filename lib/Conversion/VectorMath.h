//===- VectorMath.h - elementwise f32 math for the lowerings ----*- C++ -*-===//
//
// exp, log1p on [0, 1], 1/d on [1, 2], softplus and silu as plain
// arithmetic (fma, integer bit operations, no division and no library
// call), on f32 scalars (in linalg.generic bodies, vectorized later) or f32
// vectors (in loops written as vector code). Their accuracy is stated with
// each; FORMS.md's tolerances are checked by the tests of the lowerings that
// use them.
//
//===----------------------------------------------------------------------===//
#ifndef SEQMIX_LIB_CONVERSION_VECTORMATH_H
#define SEQMIX_LIB_CONVERSION_VECTORMATH_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Dialect/X86Vector/X86VectorDialect.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

#include <initializer_list>

namespace mlir::seqmix {

/// Builds f32 math on values of one type (f32 or a vector of f32).
class F32Math {
public:
  F32Math(OpBuilder &b, Location l, Type type) : b(b), l(l), type(type) {}

  /// A constant of the type (a splat for vectors).
  Value c(float x) {
    if (auto vt = dyn_cast<VectorType>(type))
      return arith::ConstantOp::create(b, l, DenseElementsAttr::get(vt, x));
    return arith::ConstantOp::create(b, l, b.getF32FloatAttr(x));
  }
  Value add(Value x, Value y) { return arith::AddFOp::create(b, l, x, y); }
  Value sub(Value x, Value y) { return arith::SubFOp::create(b, l, x, y); }
  Value mul(Value x, Value y) { return arith::MulFOp::create(b, l, x, y); }
  Value fma(Value x, Value y, Value z) {
    return math::FmaOp::create(b, l, x, y, z);
  }
  /// p(x) = sum_k coef[k] x^k by Horner's rule.
  Value horner(Value x, std::initializer_list<float> coef) {
    auto it = coef.end();
    Value p = c(*--it);
    while (it != coef.begin())
      p = fma(p, x, c(*--it));
    return p;
  }
  /// x < y ? y : x and x > y ? y : x, in the form LLVM makes one max or min
  /// (a NaN x compares false and stays).
  Value atLeast(Value x, Value lo) {
    return arith::SelectOp::create(
        b, l, arith::CmpFOp::create(b, l, arith::CmpFPredicate::OLT, x, lo), lo,
        x);
  }
  Value atMost(Value x, Value hi) {
    return arith::SelectOp::create(
        b, l, arith::CmpFOp::create(b, l, arith::CmpFPredicate::OGT, x, hi), hi,
        x);
  }

  /// exp(x) (the Cephes expf scheme, as the bench's exp probe and MLIR's
  /// polynomial approximation): n = round(x log2 e) by the 1.5 2^23
  /// rounding trick, r = x - n ln 2 in two parts, e^r by a degree-5
  /// polynomial (relative error below 2e-7 on [-ln2/2, ln2/2], about 3
  /// ulp), 2^n built in the exponent bits. x is clamped to [-87.33, 88.72]
  /// first (a NaN stays a NaN): below, the result is 2^-126 e^r (about
  /// 1.2e-38) instead of 0, never a subnormal; from 88.37 on it is +inf
  /// (exp overflows f32 at 88.72). 13 operations.
  Value exp(Value x) {
    x = atMost(atLeast(x, c(-87.33f)), c(88.72f));
    // t = x log2 e + 1.5 2^23 + 127: its low mantissa bits hold n + 127.
    constexpr float kMagic = 12582912.0f + 127.0f;
    Value t = fma(x, c(1.44269504088896341f), c(kMagic));
    Value n = sub(t, c(kMagic));
    Value r = fma(n, c(-0.693359375f), x);
    r = fma(n, c(2.12194440e-4f), r);
    // Coefficients fitted for the least relative error on the interval.
    Value y = horner(r, {1.0f, 1.0f, 0.499992311000824f, 0.16667114198207855f,
                         0.041890114545822144f, 0.008312524296343327f});
    // 2^n: (n + 127) << 23 as f32 bits.
    Type it = intType();
    Value bits = arith::ShLIOp::create(
        b, l, arith::BitcastOp::create(b, l, it, t), intConst(it, 23));
    return mul(y, arith::BitcastOp::create(b, l, type, bits));
  }

  /// 2^x for every finite x, on vectors of 16 f32 lanes, for CPUs with
  /// AVX-512F (x86vector.avx512.mask.scalef): n = roundeven(x), f = x - n in
  /// [-1/2, 1/2], 2^f by a degree-5 polynomial (relative error below 2e-7
  /// in f32 arithmetic), and 2^n applied by vscalefps, which gives 0 and
  /// +inf where the result leaves f32's range (subnormal results on the
  /// way) with no clamps. 8 operations (vrndscaleps is two micro-ops), where
  /// exp takes 13.
  Value exp2Scalef(Value x) {
    Value n = math::RoundEvenOp::create(b, l, x);
    // 1 and ln 2 (rounded) lead, so that 2^f - 1 keeps f's relative
    // accuracy for small f: a slow decay taken thousands of times must not
    // drift. The rest is fitted for the least relative error.
    Value p = horner(sub(x, n), {1.0f, 0.6931471824645996f,
                                 0.24022282660007477f, 0.05550558492541313f,
                                 0.00966968759894371f, 0.0013300584396347404f});
    Value allLanes =
        arith::ConstantOp::create(b, l, b.getI16IntegerAttr(int16_t(-1)));
    Value currentRounding =
        arith::ConstantOp::create(b, l, b.getI32IntegerAttr(4));
    // The op's (src, a, b) are the intrinsic's (a, b, passthrough).
    return x86vector::MaskScaleFOp::create(b, l, p, n, p, allLanes,
                                           currentRounding);
  }

  /// log(1 + e) for e in [0, 1] (and about 0 below): e g(e) with g a
  /// degree-9 polynomial fitted to log1p(e) / e, relative error below 2e-7
  /// down to the smallest e (no 1 + e is formed). 10 operations.
  Value log1pUnit(Value e) {
    return mul(e, horner(e, {1.0f, -0.4999990165233612f, 0.3332996368408203f,
                             -0.24954132735729218f, 0.19675937294960022f,
                             -0.15305587649345398f, 0.106036476790905f,
                             -0.05695946142077446f, 0.01985142193734646f,
                             -0.003244016319513321f}));
  }

  /// 1 / d for d in [1, 2]: the line 24/17 - 8/17 d (relative error at most
  /// 1/17), then three Newton steps r (2 - d r) (error squared each:
  /// below 1e-9 before rounding). 7 operations.
  Value reciprocalOnOneTwo(Value d) {
    Value r = fma(d, c(-8.0f / 17.0f), c(24.0f / 17.0f));
    for (int i = 0; i < 3; ++i)
      r = mul(r, fma(arith::NegFOp::create(b, l, d), r, c(2.0f)));
    return r;
  }

  /// softplus(x) in the stable form of FORMS.md 0.5(a): x for x > 20, else
  /// max(x, 0) + log1p(exp(-|x|)).
  Value softplus(Value x) {
    Value e = exp(arith::NegFOp::create(b, l, math::AbsFOp::create(b, l, x)));
    Value sp = add(atLeast(x, c(0.0f)), log1pUnit(e));
    Value big =
        arith::CmpFOp::create(b, l, arith::CmpFPredicate::OGT, x, c(20.0f));
    return arith::SelectOp::create(b, l, big, x, sp);
  }

  /// silu(z) = z sigmoid(z), the sigmoid in the stable form of FORMS.md
  /// 0.5(a) (exp of -|z| only): 1 / (1 + e) for z >= 0, e / (1 + e) below,
  /// with e = exp(-|z|) in (0, 1].
  Value silu(Value z) {
    Value e = exp(arith::NegFOp::create(b, l, math::AbsFOp::create(b, l, z)));
    Value r = reciprocalOnOneTwo(add(c(1.0f), e));
    Value pos =
        arith::CmpFOp::create(b, l, arith::CmpFPredicate::OGE, z, c(0.0f));
    return mul(z, arith::SelectOp::create(b, l, pos, r, mul(e, r)));
  }

private:
  Type intType() {
    if (auto vt = dyn_cast<VectorType>(type))
      return VectorType::get(vt.getShape(), b.getI32Type());
    return b.getI32Type();
  }
  Value intConst(Type it, int32_t x) {
    if (auto vt = dyn_cast<VectorType>(it))
      return arith::ConstantOp::create(b, l, DenseElementsAttr::get(vt, x));
    return arith::ConstantOp::create(b, l, b.getI32IntegerAttr(x));
  }

  OpBuilder &b;
  Location l;
  Type type;
};

/// The row of lanes `vt` of `tensor` at `lead`, the indices of every
/// dimension but the innermost (read from 0, in bounds).
inline Value readLanes(ImplicitLocOpBuilder &b, VectorType vt, Value tensor,
                       ValueRange lead) {
  SmallVector<Value> at(lead);
  at.push_back(arith::ConstantIndexOp::create(b, 0));
  return vector::TransferReadOp::create(
      b, vt, tensor, at, arith::ConstantOp::create(b, b.getF32FloatAttr(0)),
      ArrayRef<bool>{true});
}

/// `tensor` with `v` written as its row of lanes at `lead` (readLanes').
inline Value writeLanes(ImplicitLocOpBuilder &b, Value v, Value tensor,
                        ValueRange lead) {
  SmallVector<Value> at(lead);
  at.push_back(arith::ConstantIndexOp::create(b, 0));
  return vector::TransferWriteOp::create(b, v, tensor, at, ArrayRef<bool>{true})
      .getResult();
}

/// A splat constant of the f32 vector type `vt`.
inline Value splatF32(ImplicitLocOpBuilder &b, VectorType vt, float x) {
  return arith::ConstantOp::create(b, DenseElementsAttr::get(vt, x));
}

} // namespace mlir::seqmix

#endif // SEQMIX_LIB_CONVERSION_VECTORMATH_H
