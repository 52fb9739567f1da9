//===- VectorizeRows.cpp - elementwise work in rows of vector registers ---===//
//
// After bufferization (phase llvm, before seqmix-lower-vectors): every linalg
// op whose innermost loop walks the innermost dimension of each operand it
// uses (unit stride: scaling, masks, exp, fills, row maxima and sums) is
// tiled into rows of one vector register along that loop (1 along the
// others), the row loop is peeled, and the full rows are vectorized; the
// ragged rest of a dynamic row stays a linalg op for the loop lowering.
// On memrefs, so that the many small tiles cost the bufferization analysis
// nothing.
//
//===----------------------------------------------------------------------===//
#include "seqmix/Transforms/Passes.h"

#include "ScheduleUtils.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Transforms/Transforms.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::seqmix {
#define GEN_PASS_DEF_SEQMIXVECTORIZEROWS
#include "seqmix/Transforms/Passes.h.inc"
} // namespace mlir::seqmix

using namespace mlir;

namespace {
constexpr llvm::StringLiteral kMarker = "seqmix.row";
constexpr llvm::StringLiteral kPass = "seqmix-vectorize-rows";

/// Whether `op` reads and writes every buffer along its innermost dimension
/// in its innermost loop (or does not index it at all: broadcasts).
bool isRowVectorizable(linalg::LinalgOp op) {
  if (!op.hasPureBufferSemantics() || op.getNumLoops() == 0)
    return false;
  unsigned inner = op.getNumLoops() - 1;
  for (OpOperand &operand : op->getOpOperands()) {
    auto type = dyn_cast<MemRefType>(operand.get().getType());
    if (!type)
      continue; // a scalar
    if (!type.getElementType().isF32())
      return false;
    AffineMap map = op.getMatchingIndexingMap(&operand);
    for (unsigned r = 0; r < map.getNumResults(); ++r) {
      auto d = dyn_cast<AffineDimExpr>(map.getResult(r));
      if (!d || (d.getPosition() == inner && r + 1 != map.getNumResults()))
        return false;
    }
    if (map.getNumResults() > 0 && map.isFunctionOfDim(inner) &&
        cast<AffineDimExpr>(map.getResults().back()).getPosition() != inner)
      return false;
    // The rows must be contiguous.
    if (map.isFunctionOfDim(inner) && !type.getLayout().isIdentity()) {
      SmallVector<int64_t> strides;
      int64_t offset;
      if (failed(type.getStridesAndOffset(strides, offset)) ||
          strides.back() != 1)
        return false;
    }
  }
  return true;
}

struct VectorizeRowsPass
    : mlir::seqmix::impl::SeqMixVectorizeRowsBase<VectorizeRowsPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    FailureOr<int64_t> width =
        mlir::seqmix::resolveF32Lanes(module, vectorWidth, kPass);
    if (failed(width))
      return signalPassFailure();
    int64_t lanes = *width;
    IRRewriter rewriter(&getContext());
    SmallVector<linalg::LinalgOp> ops;
    module.walk([&](linalg::LinalgOp op) {
      if (isRowVectorizable(op))
        ops.push_back(op);
    });
    for (linalg::LinalgOp op : ops) {
      SmallVector<int64_t> sizes(op.getNumLoops(), 1);
      sizes.back() = lanes;
      linalg::LinalgTilingOptions options;
      options.setTileSizes(sizes).setLoopType(
          linalg::LinalgTilingLoopType::Loops);
      rewriter.setInsertionPoint(op);
      FailureOr<linalg::TiledLinalgOp> tiled =
          linalg::tileLinalgOp(rewriter, op, options);
      if (failed(tiled)) {
        op->emitError("seqmix-vectorize-rows: cannot tile this op into rows");
        return signalPassFailure();
      }
      tiled->op->setAttr(kMarker, rewriter.getUnitAttr());
      rewriter.eraseOp(op);
      if (tiled->loops.empty())
        continue;
      auto inner = dyn_cast<scf::ForOp>(tiled->loops.back());
      scf::ForOp partial;
      if (inner) {
        rewriter.setInsertionPoint(inner);
        // Fails (harmlessly) when the row count is already exact.
        (void)scf::peelForLoopAndSimplifyBounds(rewriter, inner, partial);
      }
    }
    // Fold the peeled bounds into static row shapes.
    if (failed(mlir::seqmix::canonicalize(module, canonicalization, kPass)))
      return signalPassFailure();
    SmallVector<Operation *> rows;
    module.walk([&](linalg::LinalgOp op) {
      if (!op->hasAttr(kMarker))
        return;
      op->removeAttr(kMarker);
      // Only full rows: a shorter dimension stays a loop.
      if (llvm::all_of(op->getOperands(),
                       [](Value v) {
                         auto t = dyn_cast<MemRefType>(v.getType());
                         return !t || t.hasStaticShape();
                       }) &&
          op.getStaticLoopRanges().back() == lanes)
        rows.push_back(op);
    });
    for (Operation *op : rows)
      (void)mlir::seqmix::vectorizeInPlace(rewriter, op); // else: a loop
    // Folding proves the row transfers in bounds (no masks, no checks).
    if (failed(mlir::seqmix::canonicalize(module, canonicalization, kPass)))
      return signalPassFailure();
  }

  LogicalResult initialize(MLIRContext *ctx) override {
    canonicalization = mlir::seqmix::canonicalizationPatterns(ctx);
    return success();
  }

  FrozenRewritePatternSet canonicalization;
};
} // namespace
