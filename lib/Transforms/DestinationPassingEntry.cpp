//===- DestinationPassingEntry.cpp - caller-owned outputs for entries -----===//
#include "seqmix/Transforms/Passes.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "mlir/Interfaces/DestinationStyleOpInterface.h"

namespace mlir::seqmix {
#define GEN_PASS_DEF_SEQMIXDESTINATIONPASSINGENTRY
#include "seqmix/Transforms/Passes.h.inc"
} // namespace mlir::seqmix

using namespace mlir;

namespace {
/// Collects in `roots` the tensor.empty ops a result is computed into,
/// following each op's tied destination (DPS inits, scf.forall shared
/// outputs, scf.for iter_args) and, through an scf.if (the per-call choice
/// between copies of a layer), the value each branch yields; false when a
/// chain ends elsewhere or a value on the way has another use.
bool collectRoots(Value v, SmallVectorImpl<tensor::EmptyOp> &roots) {
  for (;;) {
    auto r = dyn_cast<OpResult>(v);
    if (!r)
      return false;
    Operation *def = r.getOwner();
    unsigned n = r.getResultNumber();
    if (auto empty = dyn_cast<tensor::EmptyOp>(def)) {
      if (!empty->hasOneUse())
        return false;
      roots.push_back(empty);
      return true;
    }
    if (auto ifOp = dyn_cast<scf::IfOp>(def)) {
      if (ifOp.getElseRegion().empty())
        return false;
      for (scf::YieldOp yield : {ifOp.thenYield(), ifOp.elseYield()}) {
        Value branch = yield.getOperand(n);
        if (!branch.hasOneUse() || !collectRoots(branch, roots))
          return false;
      }
      return true;
    }
    if (auto forall = dyn_cast<scf::ForallOp>(def))
      v = forall.getOutputs()[n];
    else if (auto loop = dyn_cast<scf::ForOp>(def))
      v = loop.getInitArgs()[n];
    else if (auto dps = dyn_cast<DestinationStyleOpInterface>(def))
      v = dps.getDpsInitOperand(n)->get();
    else
      return false;
    // Every op on the way must have this one use, or another reader would
    // see the caller's buffer change under it.
    if (!v.hasOneUse())
      return false;
  }
}

struct DestinationPassingEntryPass
    : seqmix::impl::SeqMixDestinationPassingEntryBase<
          DestinationPassingEntryPass> {
  void runOnOperation() override {
    for (func::FuncOp fn : getOperation().getOps<func::FuncOp>()) {
      if (fn.isPrivate() || fn.isExternal() || fn.getNumResults() == 0)
        continue;
      if (failed(convert(fn)))
        return signalPassFailure();
    }
  }

  LogicalResult convert(func::FuncOp fn) {
    SmallVector<Type> resultTypes(fn.getResultTypes());
    for (auto [i, t] : llvm::enumerate(resultTypes))
      if (!isa<RankedTensorType>(t))
        return fn.emitError() << "seqmix-dps-entry: result #" << i
                              << " is not a ranked tensor: " << t;
    unsigned first = fn.getNumArguments();
    for (auto [i, t] : llvm::enumerate(resultTypes)) {
      auto tensor = cast<RankedTensorType>(t);
      auto memref = MemRefType::get(tensor.getShape(), tensor.getElementType());
      if (failed(fn.insertArgument(fn.getNumArguments(), memref,
                                   fn.getResultAttrDict(i), fn.getLoc())))
        return fn.emitError("seqmix-dps-entry: cannot add an output argument");
    }
    SmallVector<func::ReturnOp> returns;
    fn.walk([&](func::ReturnOp r) { returns.push_back(r); });
    for (func::ReturnOp ret : returns) {
      OpBuilder b(ret);
      // A result computed into an empty tensor is computed in the caller's
      // buffer instead: no temporary and no copy out. (The runtime checks
      // that outputs do not overlap inputs, so the layer may write there
      // from the start.) eliminate-empty-tensors does not do this for a
      // memref destination.
      // A layer choosing per call between copies computes each copy's
      // result in the caller's buffer (only one of them runs).
      if (returns.size() == 1)
        for (auto [i, v] : llvm::enumerate(ret.getOperands())) {
          SmallVector<tensor::EmptyOp> roots;
          if (!collectRoots(v, roots))
            continue;
          OpBuilder eb(fn.getBody());
          Value caller = bufferization::ToTensorOp::create(
              eb, roots.front().getLoc(), roots.front().getType(),
              fn.getArgument(first + i),
              /*restrict=*/true, /*writable=*/true);
          for (tensor::EmptyOp empty : roots) {
            empty.replaceAllUsesWith(caller);
            empty.erase();
          }
        }
      for (auto [i, v] : llvm::enumerate(ret.getOperands()))
        bufferization::MaterializeInDestinationOp::create(
            b, ret.getLoc(), TypeRange{}, v, fn.getArgument(first + i),
            /*restrict=*/nullptr, /*writable=*/b.getUnitAttr());
      func::ReturnOp::create(b, ret.getLoc());
      ret.erase();
    }
    llvm::BitVector all(fn.getNumResults(), true);
    if (failed(fn.eraseResults(all)))
      return failure();
    // The seqmix.* argument annotations feed the runtime ABI metadata, which
    // is read before this pass; LLVM translation does not know them.
    for (unsigned i = 0, e = fn.getNumArguments(); i < e; ++i)
      for (StringRef name : {"seqmix.name", "seqmix.dims"})
        fn.removeArgAttr(i, name);
    return success();
  }
};
} // namespace
