//===- ExpandMemRefCopies.cpp - memref.copy to linalg.copy ----------------===//
#include "seqmix/Transforms/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Builders.h"

namespace mlir::seqmix {
#define GEN_PASS_DEF_SEQMIXEXPANDMEMREFCOPIES
#include "seqmix/Transforms/Passes.h.inc"
} // namespace mlir::seqmix

using namespace mlir;

namespace {
struct ExpandMemRefCopiesPass
    : seqmix::impl::SeqMixExpandMemRefCopiesBase<ExpandMemRefCopiesPass> {
  void runOnOperation() override {
    SmallVector<memref::CopyOp> copies;
    getOperation().walk([&](memref::CopyOp op) { copies.push_back(op); });
    for (memref::CopyOp op : copies) {
      OpBuilder b(op);
      linalg::CopyOp::create(b, op.getLoc(), ValueRange{op.getSource()},
                             ValueRange{op.getTarget()});
      op.erase();
    }
  }
};
} // namespace
