//===- ExpandMemRefCopies.cpp - memref.copy to linalg.copy ----------------===//
//
// Also: a memref.expand_shape of a contiguous buffer whose reassociation group
// has two or more dynamic sizes becomes the memref.reinterpret_cast it
// stands for (MLIR 22's expand-strided-metadata crashes on such a group; the
// LTI scan's FFT stages view [n, 16] rows as [2, n / (2 Ns), Ns, 16]).
//
#include "seqmix/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
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
    SmallVector<memref::ExpandShapeOp> expands;
    getOperation().walk([&](memref::ExpandShapeOp op) {
      if (hasGroupOfDynamicSizes(op) &&
          op.getSrcType().getLayout().isIdentity())
        expands.push_back(op);
    });
    for (memref::ExpandShapeOp op : expands)
      asReinterpretCast(op);
  }

  /// Whether some reassociation group of `op` has two or more dynamic sizes.
  static bool hasGroupOfDynamicSizes(memref::ExpandShapeOp op) {
    MemRefType type = op.getResultType();
    for (const ReassociationIndices &group : op.getReassociationIndices())
      if (llvm::count_if(group,
                         [&](int64_t d) { return type.isDynamicDim(d); }) >= 2)
        return true;
    return false;
  }

  /// The view of the contiguous source with the result's sizes and their
  /// row-major strides.
  static void asReinterpretCast(memref::ExpandShapeOp op) {
    OpBuilder b(op);
    Location loc = op.getLoc();
    SmallVector<OpFoldResult> sizes = op.getMixedOutputShape();
    SmallVector<OpFoldResult> strides(sizes.size());
    OpFoldResult stride = b.getIndexAttr(1);
    for (int64_t d = static_cast<int64_t>(sizes.size()) - 1; d >= 0; --d) {
      strides[d] = stride;
      std::optional<int64_t> s = getConstantIntValue(stride),
                             z = getConstantIntValue(sizes[d]);
      if (s && z)
        stride = b.getIndexAttr(*s * *z);
      else
        stride = arith::MulIOp::create(
                     b, loc, getValueOrCreateConstantIndexOp(b, loc, stride),
                     getValueOrCreateConstantIndexOp(b, loc, sizes[d]))
                     .getResult();
    }
    auto cast = memref::ReinterpretCastOp::create(
        b, loc, op.getResultType(), op.getSrc(), b.getIndexAttr(0), sizes,
        strides);
    op.replaceAllUsesWith(cast.getResult());
    op.erase();
  }
};
} // namespace
