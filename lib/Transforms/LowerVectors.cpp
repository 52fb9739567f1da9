//===- LowerVectors.cpp - register tiles down to FMAs ---------------------===//
//
// Lowers the vector ops of the register tiles (seqmix-tile-contractions)
// after bufferization, in the ordered pattern groups of CPU_CODEGEN.md 2d:
// one set with all of them loops without end (pitfall 1), and no
// canonicalization may follow (pitfall 2: it folds the accumulator back into
// hundreds of scalars).
//   1. vector.contract -> vector.outerproduct -> vector.fma, row
//      reductions -> vector.reduction;
//   2. transfer permutation maps, broadcasts, transposes, shape casts;
//   3. n-D transfers -> 1-D transfers (fully unrolled);
//   4. 1-D transfers -> vector.load / vector.store.
//
//===----------------------------------------------------------------------===//
#include "seqmix/Transforms/Passes.h"

#include "mlir/Conversion/VectorToSCF/VectorToSCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Dialect/Vector/Transforms/LoweringPatterns.h"
#include "mlir/Dialect/Vector/Transforms/VectorRewritePatterns.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::seqmix {
#define GEN_PASS_DEF_SEQMIXLOWERVECTORS
#include "seqmix/Transforms/Passes.h.inc"
} // namespace mlir::seqmix

using namespace mlir;

namespace {
struct LowerVectorsPass
    : mlir::seqmix::impl::SeqMixLowerVectorsBase<LowerVectorsPass> {
  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    auto apply = [&](auto populate) {
      RewritePatternSet patterns(ctx);
      populate(patterns);
      // With folding, as transform.apply_patterns does: without it the
      // broadcast lowering of a cast-away unit dimension produced wrong code
      // (a row of B replaced by its first element).
      return applyPatternsGreedily(getOperation(), std::move(patterns));
    };
    bool ok =
        succeeded(apply([](RewritePatternSet &p) {
          vector::populateCastAwayVectorLeadingOneDimPatterns(p);
          vector::populateVectorContractLoweringPatterns(
              p, vector::VectorContractLowering::OuterProduct);
          vector::populateVectorOuterProductLoweringPatterns(p);
          vector::populateVectorMultiReductionLoweringPatterns(
              p, vector::VectorMultiReductionLowering::InnerReduction);
        })) &&
        succeeded(apply([](RewritePatternSet &p) {
          vector::populateVectorTransferPermutationMapLoweringPatterns(p);
          vector::populateVectorBroadcastLoweringPatterns(p);
          // A 16 x 16 f32 transpose tile (AVX-512) as the 64 unpack and
          // shuffle steps of MLIR's Shuffle16x16 lowering; any other lanes x
          // lanes tile as one shuffle of the flattened registers, which
          // LLVM's x86 backend breaks up itself (for 16 x 16 into a sequence
          // 4-5x longer, with spills: 12 % of the chunked GLA form's time).
          vector::populateVectorTransposeLoweringPatterns(
              p, vector::VectorTransposeLowering::Shuffle16x16,
              /*benefit=*/2);
          vector::populateVectorTransposeLoweringPatterns(
              p, vector::VectorTransposeLowering::Shuffle1D);
          vector::populateVectorShapeCastLoweringPatterns(p);
        })) &&
        succeeded(apply([](RewritePatternSet &p) {
          populateVectorToSCFConversionPatterns(
              p,
              VectorTransferToSCFOptions().enableFullUnroll().setTargetRank(1));
        })) &&
        succeeded(apply([](RewritePatternSet &p) {
          vector::populateVectorTransferLoweringPatterns(p, 1);
          // A one-element transfer (a 1 x 1 tile of a degenerate shape, head
          // size or block of 1) from a strided view: a scalar load or store.
          vector::populateScalarVectorTransferLoweringPatterns(
              p, /*benefit=*/1, /*allowMultipleUses=*/true);
        }));
    if (!ok) {
      getOperation().emitError("seqmix-lower-vectors: the vector lowering "
                               "did not converge");
      return signalPassFailure();
    }
    // A contraction left here would reach LLVM as a scalarized loop.
    WalkResult left = getOperation().walk([](vector::ContractionOp op) {
      op.emitError("seqmix-lower-vectors: vector.contract was not lowered "
                   "to FMAs");
      return WalkResult::interrupt();
    });
    if (left.wasInterrupted())
      signalPassFailure();
  }
};
} // namespace
