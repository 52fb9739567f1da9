//===- SliceKernelBuilder.h - helpers for per-slice tensor kernels -*- C++
//-*-===//
//
// The lowerings of the seqmix ops build, for one (batch, head) slice at a time,
// small linalg kernels on 1-D and 2-D f32 tensors inside an scf.forall over
// (batch, head). This header keeps the builder boilerplate in one place.
//
//===----------------------------------------------------------------------===//
#ifndef SEQMIX_LIB_CONVERSION_SLICEKERNELBUILDER_H
#define SEQMIX_LIB_CONVERSION_SLICEKERNELBUILDER_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

namespace mlir::seqmix {

/// Thin layer over ImplicitLocOpBuilder for f32 slice kernels.
class SliceKernelBuilder {
public:
  explicit SliceKernelBuilder(ImplicitLocOpBuilder &b)
      : b(b), f32(b.getF32Type()) {}

  ImplicitLocOpBuilder &builder() { return b; }
  Type f32Type() const { return f32; }

  Value f(double x) {
    return arith::ConstantOp::create(b, b.getF32FloatAttr(x));
  }
  Value index(int64_t x) { return arith::ConstantIndexOp::create(b, x); }
  OpFoldResult ofr(int64_t x) { return b.getIndexAttr(x); }

  /// tensor.empty of f32 with the given sizes.
  Value empty(ArrayRef<OpFoldResult> sizes) {
    return tensor::EmptyOp::create(b, sizes, f32);
  }
  Value fill(Value dest, double x) {
    return linalg::FillOp::create(b, ValueRange{f(x)}, ValueRange{dest})
        .getResult(0);
  }
  Value zeros(ArrayRef<OpFoldResult> sizes) { return fill(empty(sizes), 0.0); }

  /// Rank-reducing tensor.extract_slice keeping the dimensions in `keep`.
  Value slice(Value src, ArrayRef<OpFoldResult> offsets,
              ArrayRef<OpFoldResult> sizes, ArrayRef<unsigned> keep) {
    SmallVector<int64_t> shape;
    for (unsigned d : keep) {
      std::optional<int64_t> c = getConstantIntValue(sizes[d]);
      shape.push_back(c ? *c : ShapedType::kDynamic);
    }
    auto type = RankedTensorType::get(shape, f32);
    SmallVector<OpFoldResult> strides(offsets.size(), b.getIndexAttr(1));
    return tensor::ExtractSliceOp::create(b, type, src, offsets, sizes,
                                          strides);
  }

  /// tensor.insert_slice of a lower-rank `src` into `dest`.
  Value insert(Value src, Value dest, ArrayRef<OpFoldResult> offsets,
               ArrayRef<OpFoldResult> sizes) {
    SmallVector<OpFoldResult> strides(offsets.size(), b.getIndexAttr(1));
    return tensor::InsertSliceOp::create(b, src, dest, offsets, sizes, strides);
  }

  /// linalg.generic with maps given as lists of loop dimensions per operand
  /// (each operand indexed by a projection of the loops) and a body that
  /// receives the block arguments and the loop indices are read with index().
  Value generic(ValueRange ins, Value out, unsigned numLoops,
                ArrayRef<SmallVector<unsigned>> operandDims,
                ArrayRef<utils::IteratorType> iterators,
                function_ref<Value(OpBuilder &, Location, ValueRange)> body) {
    SmallVector<AffineMap> maps;
    for (const auto &dims : operandDims) {
      SmallVector<AffineExpr> exprs;
      for (unsigned d : dims)
        exprs.push_back(b.getAffineDimExpr(d));
      maps.push_back(AffineMap::get(numLoops, 0, exprs, b.getContext()));
    }
    auto op = linalg::GenericOp::create(
        b, TypeRange{out.getType()}, ins, ValueRange{out}, maps, iterators,
        [&](OpBuilder &nb, Location loc, ValueRange args) {
          linalg::YieldOp::create(nb, loc, body(nb, loc, args));
        });
    return op.getResult(0);
  }

  /// One block step in two copies: `step(full)` when the block's length
  /// `len` equals `full` (a constant, so that every op of that copy has
  /// static shapes) and `step(len)` for the partial block; scf.if yields
  /// what `step` returns.
  ValueRange staticWhenFull(
      Value len, Value full,
      function_ref<SmallVector<Value>(ImplicitLocOpBuilder &, Value)> step) {
    auto copy = [&](Value n) {
      return [&, n](OpBuilder &nb, Location loc) {
        ImplicitLocOpBuilder bb(loc, nb);
        scf::YieldOp::create(bb, step(bb, n));
      };
    };
    Value isFull =
        arith::CmpIOp::create(b, arith::CmpIPredicate::eq, len, full);
    return scf::IfOp::create(b, isFull, copy(full), copy(len)).getResults();
  }

  static SmallVector<utils::IteratorType> parallel(unsigned n) {
    return SmallVector<utils::IteratorType>(n, utils::IteratorType::parallel);
  }

private:
  ImplicitLocOpBuilder &b;
  Type f32;
};

/// The shapes of the (batch, head) loop of a linear-recurrence op: its
/// output [B, H, T, V], its optional final state [B, H, rows, cols], and the
/// sizes (B and T as index values).
struct HeadSliceShape {
  RankedTensorType outType;
  RankedTensorType stateType; // null without a final state
  Value batch, seqLen;
  int64_t heads, outCols, stateRows, stateCols;
};

/// Creates the scf.forall over (batch, head) whose shared outputs are the
/// output tensor and, when there is one, the final state. `body` builds the
/// slice's computation and returns the [T, outCols] output rows and the
/// [stateRows, stateCols] final state (or null) to insert.
inline scf::ForallOp buildHeadSliceLoop(
    ImplicitLocOpBuilder &b, const HeadSliceShape &shape,
    function_ref<std::pair<Value, Value>(
        SliceKernelBuilder &, Value bi, Value hi, Value outArg, Value stateArg)>
        body) {
  SliceKernelBuilder kb(b);
  SmallVector<Value> outDyn;
  if (shape.outType.isDynamicDim(0))
    outDyn.push_back(shape.batch);
  if (shape.outType.isDynamicDim(2))
    outDyn.push_back(shape.seqLen);
  SmallVector<Value> sharedOuts = {
      tensor::EmptyOp::create(b, shape.outType, outDyn)};
  if (shape.stateType) {
    SmallVector<Value> stDyn;
    if (shape.stateType.isDynamicDim(0))
      stDyn.push_back(shape.batch);
    sharedOuts.push_back(tensor::EmptyOp::create(b, shape.stateType, stDyn));
  }
  SmallVector<OpFoldResult> ubs = {shape.batch, b.getIndexAttr(shape.heads)};
  auto forall = scf::ForallOp::create(b, ubs, sharedOuts, std::nullopt);
  Block *blk = forall.getBody();
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPoint(blk->getTerminator());
  Value bi = forall.getInductionVars()[0], hi = forall.getInductionVars()[1];
  Value outArg = forall.getRegionIterArgs()[0];
  Value stateArg = shape.stateType ? forall.getRegionIterArgs()[1] : Value();
  auto [outSlice, stateSlice] = body(kb, bi, hi, outArg, stateArg);

  b.setInsertionPointToEnd(forall.getTerminator().getBody());
  SmallVector<OpFoldResult> strides(4, b.getIndexAttr(1));
  tensor::ParallelInsertSliceOp::create(
      b, outSlice, outArg,
      ArrayRef<OpFoldResult>{bi, hi, b.getIndexAttr(0), b.getIndexAttr(0)},
      ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(1), shape.seqLen,
                             b.getIndexAttr(shape.outCols)},
      strides);
  if (stateArg)
    tensor::ParallelInsertSliceOp::create(
        b, stateSlice, stateArg,
        ArrayRef<OpFoldResult>{bi, hi, b.getIndexAttr(0), b.getIndexAttr(0)},
        ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(1),
                               b.getIndexAttr(shape.stateRows),
                               b.getIndexAttr(shape.stateCols)},
        strides);
  return forall;
}

} // namespace mlir::seqmix

#endif // SEQMIX_LIB_CONVERSION_SLICEKERNELBUILDER_H
