//===- HoistScratch.cpp - block scratch on the stack, once per thread -----===//
//
// Bufferization gives every block-local temporary of a chunk or key-block
// loop (K^T, the score block, row statistics) a memref.alloc inside the loop,
// freed again at the end of each iteration: a malloc and a free per block,
// per worker. This pass runs once the (batch, head) forall is an OpenMP
// parallel region (or, in serial code, a loop of the function) and moves
// every buffer allocated inside a loop whose sizes have constant upper
// bounds (min(C, T - c0) <= C) into one stack buffer of the bounded size at
// the entry of that region, which each thread enters once (or of the
// function). Each iteration views the buffer with its own sizes through
// memref.reinterpret_cast, dense and row-major as the alloc was, so no user
// changes type. Buffers without a bound, or beyond the stack budget, stay as
// they are.
//
//===----------------------------------------------------------------------===//
#include "seqmix/Transforms/Passes.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/OpenMP/OpenMPDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/Builders.h"
#include "mlir/Interfaces/CallInterfaces.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "mlir/Interfaces/LoopLikeInterface.h"
#include "mlir/Interfaces/ValueBoundsOpInterface.h"

namespace mlir::seqmix {
#define GEN_PASS_DEF_SEQMIXHOISTSCRATCH
#include "seqmix/Transforms/Passes.h.inc"
} // namespace mlir::seqmix

using namespace mlir;

namespace {
/// A constant upper bound of the index `v`: the smaller operand bound of a
/// min (the chunk length min(T - c0, C)), the larger of a select, else what
/// the value-bounds analysis finds.
FailureOr<int64_t> upperBound(Value v, unsigned depth = 0) {
  if (depth > 8)
    return failure();
  if (std::optional<int64_t> c = getConstantIntValue(v))
    return *c;
  Operation *def = v.getDefiningOp();
  if (def && isa<arith::MinSIOp, arith::MinUIOp>(def)) {
    FailureOr<int64_t> a = upperBound(def->getOperand(0), depth + 1);
    FailureOr<int64_t> b = upperBound(def->getOperand(1), depth + 1);
    if (succeeded(a) && succeeded(b))
      return std::min(*a, *b);
    return succeeded(a) ? a : b;
  }
  if (auto sel = dyn_cast_or_null<arith::SelectOp>(def)) {
    FailureOr<int64_t> a = upperBound(sel.getTrueValue(), depth + 1);
    FailureOr<int64_t> b = upperBound(sel.getFalseValue(), depth + 1);
    if (succeeded(a) && succeeded(b))
      return std::max(*a, *b);
    return failure();
  }
  return ValueBoundsConstraintSet::computeConstantBound(
      presburger::BoundType::UB, ValueBoundsConstraintSet::Variable(v),
      /*stopCondition=*/nullptr, /*closedUB=*/true);
}

/// Constant upper bounds of the sizes of `alloc`, or failure.
FailureOr<SmallVector<int64_t>> boundedShape(memref::AllocOp alloc) {
  MemRefType t = alloc.getType();
  SmallVector<int64_t> shape;
  unsigned dyn = 0;
  for (int64_t d : t.getShape()) {
    if (!ShapedType::isDynamic(d)) {
      shape.push_back(d);
      continue;
    }
    Value size = alloc.getDynamicSizes()[dyn++];
    FailureOr<int64_t> ub = upperBound(size);
    if (failed(ub) || *ub < 1)
      return failure();
    shape.push_back(*ub);
  }
  return shape;
}

/// The region whose entry runs once per worker: the OpenMP parallel region
/// (one entry per thread) or, in serial code, the function.
Operation *perWorkerScope(Operation *op) {
  for (Operation *p = op->getParentOp(); p; p = p->getParentOp())
    if (isa<omp::ParallelOp, FunctionOpInterface>(p))
      return p;
  return nullptr;
}

/// Whether a loop lies between `op` and `scope`.
bool inLoopBelow(Operation *op, Operation *scope) {
  for (Operation *p = op->getParentOp(); p && p != scope; p = p->getParentOp())
    if (isa<LoopLikeOpInterface, omp::LoopNestOp, omp::WsloopOp>(p))
      return true;
  return false;
}

/// Whether the buffer of `alloc` leaves its block: it or a view of it
/// (memref.cast, subview, reinterpret_cast, ...) is yielded to the next
/// iteration or out of a branch, returned, passed to a call, freed by an
/// ownership-based dealloc, or freed through a view. Such a buffer keeps
/// its own memory: on the stack it would be freed, or outlive, elsewhere.
bool escapes(memref::AllocOp alloc) {
  SmallVector<Value> worklist = {alloc.getResult()};
  while (!worklist.empty()) {
    Value v = worklist.pop_back_val();
    for (OpOperand &use : v.getUses()) {
      Operation *user = use.getOwner();
      if (user->hasTrait<OpTrait::IsTerminator>() ||
          isa<bufferization::DeallocOp, CallOpInterface>(user))
        return true;
      if (isa<memref::DeallocOp>(user) && v != alloc.getResult())
        return true;
      auto view = dyn_cast<ViewLikeOpInterface>(user);
      if ((view && view.getViewSource() == v) || isa<memref::CastOp>(user))
        for (Value r : user->getResults())
          if (isa<BaseMemRefType>(r.getType()))
            worklist.push_back(r);
    }
  }
  return false;
}

struct HoistScratchPass
    : mlir::seqmix::impl::SeqMixHoistScratchBase<HoistScratchPass> {
  using Base::Base;

  void runOnOperation() override {
    llvm::MapVector<Operation *, SmallVector<memref::AllocOp>> byScope;
    getOperation().walk([&](memref::AllocOp alloc) {
      Operation *scope = perWorkerScope(alloc);
      if (!scope || scope->getNumRegions() == 0 ||
          scope->getRegion(0).empty() || !inLoopBelow(alloc, scope) ||
          !alloc.getType().getLayout().isIdentity() ||
          alloc.getSymbolOperands().size())
        return;
      if (escapes(alloc))
        return;
      byScope[scope].push_back(alloc);
    });
    for (auto &[scope, allocs] : byScope)
      hoistInto(scope->getRegion(0).front(), allocs);
  }

  void hoistInto(Block &entry, ArrayRef<memref::AllocOp> allocs) {
    int64_t budget = stackBytes;
    for (memref::AllocOp alloc : allocs) {
      MemRefType t = alloc.getType();
      FailureOr<SmallVector<int64_t>> shape = boundedShape(alloc);
      if (failed(shape))
        continue;
      int64_t elems = 1;
      for (int64_t d : *shape)
        elems *= d;
      Type elem = t.getElementType();
      int64_t width = elem.isIndex()        ? 64
                      : elem.isIntOrFloat() ? elem.getIntOrFloatBitWidth()
                                            : 0;
      if (width == 0)
        continue;
      int64_t bytes = elems * ((width + 7) / 8);
      if (bytes > budget)
        continue;
      budget -= bytes;
      OpBuilder top = OpBuilder::atBlockBegin(&entry);
      auto flatType = MemRefType::get({elems}, t.getElementType());
      Value flat =
          memref::AllocaOp::create(top, alloc.getLoc(), flatType, ValueRange{},
                                   ValueRange{}, alloc.getAlignmentAttr());
      // The alloc's own sizes, dense and row-major, over the flat buffer.
      OpBuilder b(alloc);
      Location loc = alloc.getLoc();
      SmallVector<OpFoldResult> sizes, strides(t.getRank());
      unsigned dyn = 0;
      for (int64_t d : t.getShape())
        sizes.push_back(ShapedType::isDynamic(d)
                            ? OpFoldResult(alloc.getDynamicSizes()[dyn++])
                            : OpFoldResult(b.getIndexAttr(d)));
      OpFoldResult stride = b.getIndexAttr(1);
      for (int64_t i = t.getRank() - 1; i >= 0; --i) {
        strides[i] = stride;
        stride = affine::makeComposedFoldedAffineApply(
            b, loc, b.getAffineSymbolExpr(0) * b.getAffineSymbolExpr(1),
            {stride, sizes[i]});
      }
      Value view = memref::ReinterpretCastOp::create(
          b, loc, t, flat, b.getIndexAttr(0), sizes, strides);
      SmallVector<Operation *> deallocs;
      for (Operation *user : alloc->getUsers())
        if (isa<memref::DeallocOp>(user))
          deallocs.push_back(user);
      for (Operation *d : deallocs)
        d->erase();
      alloc.replaceAllUsesWith(view);
      alloc.erase();
    }
  }
};
} // namespace
