//===- DestinationPassingEntry.cpp - caller-owned outputs for entries -----===//
#include "seqmix/Transforms/Passes.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Builders.h"

namespace mlir::seqmix {
#define GEN_PASS_DEF_SEQMIXDESTINATIONPASSINGENTRY
#include "seqmix/Transforms/Passes.h.inc"
} // namespace mlir::seqmix

using namespace mlir;

namespace {
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
