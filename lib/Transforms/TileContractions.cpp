//===- TileContractions.cpp - register tiles for matmul-shaped ops --------===//
//
// The CPU schedule for every contraction a lowering emits (phase schedule,
// on tensors; CPU_CODEGEN.md 4): each linalg op with loops (m, n, k) and a
// multiply-add body, whichever family emitted it, is
//   1. tiled by MR x NR over (m, n) with scf.for (8 x 32 f32 with 32 vector
//      registers of 16 lanes, derived from the vector width otherwise);
//   2. peeled, so that the main tiles have static MR x NR shapes; a partial
//      tile of full width (the last rows) is cut into static 1 x NR rows,
//      and only a partial tile of a ragged width stays general;
//   3. for the static tiles, stepped by one over k and vectorized into
//      vector.contract on an MR x NR accumulator, whose read and write are
//      hoisted out of the k loop, so the accumulator is loop-carried in
//      registers (seqmix-lower-vectors turns the contract into FMAs).
// Partial tiles are left as linalg ops for the loop lowering. Elementwise
// work is vectorized after bufferization (seqmix-vectorize-rows), where its
// many small tiles cost the bufferization analysis nothing.
//
//===----------------------------------------------------------------------===//
#include "seqmix/Transforms/Passes.h"

#include "ScheduleUtils.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/IR/LinalgInterfaces.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Transforms/TileUsingInterface.h"
#include "mlir/Dialect/SCF/Transforms/Transforms.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Dialect/Vector/Transforms/LoweringPatterns.h"
#include "mlir/Dialect/Vector/Transforms/VectorRewritePatterns.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "mlir/Transforms/LoopInvariantCodeMotionUtils.h"

namespace mlir::seqmix {
#define GEN_PASS_DEF_SEQMIXTILECONTRACTIONS
#include "seqmix/Transforms/Passes.h.inc"
} // namespace mlir::seqmix

using namespace mlir;

namespace {
constexpr llvm::StringLiteral kMarker = "seqmix.contraction";
constexpr llvm::StringLiteral kPass = "seqmix-tile-contractions";
/// Marks the elementwise producer of an accumulator fused into its tile.
constexpr llvm::StringLiteral kFusedInit = "seqmix.fused_init";

/// Rows and reduction steps of a cache block (step 0 below).
constexpr int64_t kCacheBlock = 256;

/// Whether `op` is a 2-D contraction C[m, n] += A[m, k] B[k, n] (operands in
/// any layout) with the loops in (m, n, k) order on f32 tensors.
bool isTileableContraction(linalg::LinalgOp op) {
  if (!op.hasPureTensorSemantics() || op.getNumLoops() != 3 ||
      op.getNumDpsInputs() != 2 || op.getNumDpsInits() != 1 ||
      !linalg::isaContractionOpInterface(op))
    return false;
  FailureOr<linalg::ContractionDimensions> dims =
      linalg::inferContractionDims(op);
  if (failed(dims) || !dims->batch.empty() || dims->m.size() != 1 ||
      dims->n.size() != 1 || dims->k.size() != 1 || dims->m[0] != 0 ||
      dims->n[0] != 1 || dims->k[0] != 2)
    return false;
  for (Value v : op->getOperands())
    if (!cast<ShapedType>(v.getType()).getElementType().isF32())
      return false;
  return true;
}

/// Whether the contraction's output tile is static (its reduction may be
/// dynamic: it is stepped by one).
bool hasStaticTile(linalg::LinalgOp op) {
  auto t = dyn_cast<RankedTensorType>(op.getDpsInits()[0].getType());
  // A tile one column wide is no vector: it stays a loop (and a 1 x 1 tile
  // of a transposed operand would become a 0-d strided read that the vector
  // lowering does not take).
  return t && t.hasStaticShape() && t.getRank() == 2 && t.getDimSize(1) > 1;
}

/// Tiles `op` with `sizes` (one per loop) into scf.for loops; returns the
/// loops (outermost first) and the tiled op.
FailureOr<scf::SCFTilingResult> tile(RewriterBase &rewriter, Operation *op,
                                     ArrayRef<int64_t> sizes) {
  scf::SCFTilingOptions options;
  SmallVector<OpFoldResult> tileSizes;
  for (int64_t s : sizes)
    tileSizes.push_back(rewriter.getIndexAttr(s));
  options.setTileSizes(tileSizes);
  options.setLoopType(scf::SCFTilingOptions::LoopType::ForOp);
  rewriter.setInsertionPoint(op);
  FailureOr<scf::SCFTilingResult> r =
      scf::tileUsingSCF(rewriter, cast<TilingInterface>(op), options);
  if (succeeded(r))
    rewriter.replaceOp(op, r->replacements);
  return r;
}

/// Whether a loop of `op` is statically empty (a block that folded to zero
/// rows): the op computes nothing, and tiling it would divide by zero.
bool hasEmptyLoop(linalg::LinalgOp op) {
  return llvm::is_contained(op.getStaticLoopRanges(), 0);
}

struct TileContractionsPass
    : mlir::seqmix::impl::SeqMixTileContractionsBase<TileContractionsPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    FailureOr<int64_t> width =
        mlir::seqmix::resolveF32Lanes(module, vectorWidth, kPass);
    if (failed(width))
      return signalPassFailure();
    int64_t lanes = *width;
    // Two vectors per accumulator row; with 32 registers (AVX-512) eight
    // rows, otherwise six (AVX2's 16 registers hold 12 accumulators, the
    // two rows of B and a broadcast).
    int64_t nr = 2 * lanes, mr = lanes >= 16 ? 8 : 6;
    if (tileRows > 0)
      mr = tileRows;

    IRRewriter rewriter(&getContext());
    SmallVector<linalg::LinalgOp> contractions;
    module.walk([&](linalg::LinalgOp op) {
      if (isTileableContraction(op) && !hasEmptyLoop(op))
        contractions.push_back(op);
    });
    // With AVX512-BF16 dot products: a contraction of two bf16 activations
    // becomes one over bf16 pairs (loops m, n, k2, j; Bf16DotTiles.cpp),
    // tiled below like the others.
    if (bf16Dot)
      for (linalg::LinalgOp &op : contractions)
        if (linalg::GenericOp dot =
                mlir::seqmix::rewriteAsBf16PairContraction(rewriter, op))
          op = dot;
    // Tile sizes for the loops (m, n, k) of `op`: a pair contraction's
    // reduction is k2 = k / 2 and j, untiled.
    auto sizesFor = [](linalg::LinalgOp op, int64_t m, int64_t n,
                       int64_t k) -> SmallVector<int64_t> {
      if (mlir::seqmix::isBf16PairContraction(op))
        return {m, n, k / 2, 0};
      return {m, n, k};
    };
    // 0: cache blocks of the large contractions (a parallel form's T x T
    // scores against the T x V values): blocks of kCacheBlock rows and
    // kCacheBlock steps of the reduction, so that the reduction's panel of
    // B and the block of C stay in the second-level cache while the
    // register tiles walk them.
    for (linalg::LinalgOp &op : contractions) {
      SmallVector<int64_t> ranges = op.getStaticLoopRanges();
      auto large = [](int64_t n) {
        return ShapedType::isDynamic(n) || n > kCacheBlock;
      };
      int64_t k = mlir::seqmix::isBf16PairContraction(op) &&
                          !ShapedType::isDynamic(ranges[2])
                      ? 2 * ranges[2]
                      : ranges[2];
      if (!large(ranges[0]) || !large(k))
        continue;
      FailureOr<scf::SCFTilingResult> r =
          tile(rewriter, op, sizesFor(op, kCacheBlock, 0, kCacheBlock));
      if (failed(r) || r->tiledOps.size() != 1) {
        op->emitError("seqmix-tile-contractions: cannot block this "
                      "contraction for the cache");
        return signalPassFailure();
      }
      op = cast<linalg::LinalgOp>(r->tiledOps.front());
    }
    // 1-2: register tiles over (m, n), peeled. An elementwise op that
    // produces the accumulator's initial value (the decay of a recurrent
    // state before the chunk's update is added) is fused into the tile, so
    // that each accumulator tile is scaled in registers on its way in
    // instead of in a pass of its own over the state.
    for (linalg::LinalgOp op : contractions) {
      op->setAttr(kMarker, rewriter.getUnitAttr());
      FailureOr<SmallVector<LoopLikeOpInterface>> loops =
          tileFusingInit(rewriter, op, sizesFor(op, mr, nr, 0));
      if (failed(loops)) {
        op->emitError("seqmix-tile-contractions: cannot tile this "
                      "contraction");
        return signalPassFailure();
      }
      for (LoopLikeOpInterface loop : *loops) {
        auto forOp = cast<scf::ForOp>(loop.getOperation());
        scf::ForOp partial;
        rewriter.setInsertionPoint(forOp);
        // Fails (harmlessly) when the trip count is already exact.
        (void)scf::peelForLoopAndSimplifyBounds(rewriter, forOp, partial);
      }
    }
    // Fold the peeled bounds into static tile shapes.
    if (failed(mlir::seqmix::canonicalize(module, canonicalization, kPass)))
      return signalPassFailure();
    // 2b: a partial tile of fewer than MR rows (the last rows of a chunk of
    // 64 under 6-row tiles) is cut into single rows of NR columns, each a
    // static 1 x NR tile (the columns peeled again when the width is
    // dynamic): the last rows of every block stay vectorized.
    SmallVector<linalg::LinalgOp> rowRemainders;
    module.walk([&](linalg::LinalgOp op) {
      auto t = dyn_cast<RankedTensorType>(op.getDpsInits()[0].getType());
      if (op->hasAttr(kMarker) && t && t.getRank() == 2 && t.isDynamicDim(0))
        rowRemainders.push_back(op);
    });
    for (linalg::LinalgOp op : rowRemainders) {
      auto t = cast<RankedTensorType>(op.getDpsInits()[0].getType());
      bool fullWidth = t.getDimSize(1) == nr;
      FailureOr<scf::SCFTilingResult> r =
          tile(rewriter, op, sizesFor(op, 1, fullWidth ? 0 : nr, 0));
      if (failed(r)) {
        op->emitError("seqmix-tile-contractions: cannot tile the remainder "
                      "rows");
        return signalPassFailure();
      }
      if (!fullWidth && r->loops.size() == 2) {
        auto cols = cast<scf::ForOp>(r->loops[1].getOperation());
        scf::ForOp partial;
        rewriter.setInsertionPoint(cols);
        (void)scf::peelForLoopAndSimplifyBounds(rewriter, cols, partial);
      }
    }
    if (!rowRemainders.empty() &&
        failed(mlir::seqmix::canonicalize(module, canonicalization, kPass)))
      return signalPassFailure();
    // 3: the static tiles, stepped by one over k and vectorized.
    SmallVector<Operation *> tiles;
    module.walk([&](linalg::LinalgOp op) {
      if (op->hasAttr(kMarker) && hasStaticTile(op))
        tiles.push_back(op);
    });
    for (Operation *op : tiles) {
      if (mlir::seqmix::isBf16PairContraction(op)) {
        // The vdpbf16ps kernel; a tile whose width is no multiple of four
        // lanes stays a linalg op (loops).
        (void)mlir::seqmix::emitBf16DotTile(rewriter,
                                            cast<linalg::GenericOp>(op));
        continue;
      }
      FailureOr<scf::SCFTilingResult> r = tile(rewriter, op, {0, 0, 1});
      if (failed(r) || r->tiledOps.size() != 1) {
        op->emitError("seqmix-tile-contractions: cannot step the reduction");
        return signalPassFailure();
      }
      Operation *step = r->tiledOps.front();
      if (!mlir::seqmix::vectorizeInPlace(rewriter, step,
                                          /*createNamedContraction=*/true)) {
        step->emitError("seqmix-tile-contractions: cannot vectorize the "
                        "register tile");
        return signalPassFailure();
      }
    }
    // A fused init of a static tile is vectorized too, so the accumulator
    // is scaled between its load and the first FMA (its transfer_write
    // folds into the contraction tile's read).
    SmallVector<Operation *> inits;
    module.walk([&](linalg::GenericOp op) {
      auto t = dyn_cast<RankedTensorType>(op.getDpsInits()[0].getType());
      if (op->hasAttr(kFusedInit) && t && t.hasStaticShape())
        inits.push_back(op);
    });
    for (Operation *op : inits)
      if (!mlir::seqmix::vectorizeInPlace(rewriter, op))
        return op->emitError("seqmix-tile-contractions: cannot vectorize "
                             "the accumulator's initial value"),
               signalPassFailure();
    // A generic's multiply and reduction become one vector.contract (before
    // canonicalization folds the unit-size reduction away).
    {
      RewritePatternSet patterns(&getContext());
      vector::populateVectorTransferPermutationMapLoweringPatterns(patterns);
      vector::populateVectorReductionToContractPatterns(patterns);
      if (failed(applyPatternsGreedily(module, std::move(patterns)))) {
        module.emitError(
            "seqmix-tile-contractions: contraction forming failed");
        return signalPassFailure();
      }
    }
    if (failed(mlir::seqmix::canonicalize(module, canonicalization, kPass)))
      return signalPassFailure();
    // The accumulator's read and write become a loop-carried vector.
    SmallVector<scf::ForOp> kLoops;
    module.walk([&](scf::ForOp loop) {
      if (!loop.getBody()->getOps<vector::ContractionOp>().empty())
        kLoops.push_back(loop);
    });
    for (scf::ForOp loop : kLoops)
      (void)hoistLoopInvariantSubsets(rewriter, loop);
    // 4: 2-D f32 transposes (K^T of a block, operands a contraction reads
    // the other way round) in lanes x lanes tiles, each one register
    // transpose (seqmix-lower-vectors turns it into shuffles) instead of a
    // strided scalar copy.
    if (failed(tileTransposes(rewriter, module, lanes)))
      return signalPassFailure();
    module.walk([&](Operation *op) {
      op->removeAttr(kMarker);
      op->removeAttr(kFusedInit);
      mlir::seqmix::clearBf16PairMarker(op);
    });
    // Drop the tensor iter_args the hoisting left unused.
    if (failed(mlir::seqmix::canonicalize(module, canonicalization, kPass)))
      return signalPassFailure();
  }

  /// Tiles the contraction `op` over (m, n) with `sizes`, fusing into the
  /// tile the elementwise producer of its init when it has no other use;
  /// returns the tile loops, outermost first.
  FailureOr<SmallVector<LoopLikeOpInterface>>
  tileFusingInit(IRRewriter &rewriter, linalg::LinalgOp op,
                 ArrayRef<int64_t> sizes) {
    Operation *producer = op.getDpsInits()[0].getDefiningOp();
    auto init = dyn_cast_or_null<linalg::GenericOp>(producer);
    if (!init || !isScaledInit(init) || !init->getResult(0).hasOneUse()) {
      FailureOr<scf::SCFTilingResult> r = tile(rewriter, op, sizes);
      if (failed(r))
        return failure();
      return r->loops;
    }
    scf::SCFTileAndFuseOptions options;
    SmallVector<OpFoldResult> tileSizes;
    for (int64_t s : sizes)
      tileSizes.push_back(rewriter.getIndexAttr(s));
    options.tilingOptions.setTileSizes(tileSizes).setLoopType(
        scf::SCFTilingOptions::LoopType::ForOp);
    options.setFusionControlFn(
        [&](tensor::ExtractSliceOp, OpResult fused, bool isDestination)
            -> std::optional<scf::SCFTileAndFuseOptions::ControlFnResult> {
          if (!isDestination || fused.getOwner() != producer)
            return std::nullopt;
          return scf::SCFTileAndFuseOptions::ControlFnResult{};
        });
    rewriter.setInsertionPoint(op);
    FailureOr<scf::SCFTileAndFuseResult> r =
        scf::tileConsumerAndFuseProducersUsingSCF(
            rewriter, cast<TilingInterface>(op.getOperation()), options);
    if (failed(r))
      return failure();
    for (Operation *fused : r->tiledAndFusedOps)
      if (fused != r->tiledAndFusedOps.front())
        fused->setAttr(kFusedInit, rewriter.getUnitAttr());
    for (OpResult result : op->getResults())
      if (Value v = r->replacements.lookup(result))
        rewriter.replaceAllUsesWith(result, v);
    rewriter.eraseOp(op);
    if (producer->use_empty())
      rewriter.eraseOp(producer);
    return r->loops;
  }

  /// Whether `op` is an elementwise op on one 2-D f32 tensor it reads and
  /// writes in place (identity map), whose other operands are scalars or
  /// vectors broadcast along a dimension (a per-row decay): a scaled or
  /// masked copy of an accumulator.
  static bool isScaledInit(linalg::GenericOp op) {
    if (op.getNumDpsInits() != 1 ||
        op.getNumParallelLoops() != op.getNumLoops() || op.getNumLoops() != 2)
      return false;
    for (OpOperand *in : op.getDpsInputOperands()) {
      AffineMap map = op.getMatchingIndexingMap(in);
      if (map.getNumResults() > 1 || !map.isProjectedPermutation())
        return false;
    }
    return op.getMatchingIndexingMap(op.getDpsInitOperand(0)).isIdentity();
  }

  LogicalResult tileTransposes(IRRewriter &rewriter, ModuleOp module,
                               int64_t lanes) {
    SmallVector<linalg::TransposeOp> transposes;
    module.walk([&](linalg::TransposeOp op) {
      auto t = dyn_cast<RankedTensorType>(op.getInit().getType());
      if (op.hasPureTensorSemantics() && t && t.getRank() == 2 &&
          t.getElementType().isF32() && !hasEmptyLoop(op))
        transposes.push_back(op);
    });
    for (linalg::TransposeOp op : transposes) {
      op->setAttr(kMarker, rewriter.getUnitAttr());
      FailureOr<scf::SCFTilingResult> r = tile(rewriter, op, {lanes, lanes});
      if (failed(r))
        return op->emitError("seqmix-tile-contractions: cannot tile this "
                             "transpose");
      for (LoopLikeOpInterface loop : r->loops) {
        auto forOp = cast<scf::ForOp>(loop.getOperation());
        scf::ForOp partial;
        rewriter.setInsertionPoint(forOp);
        (void)scf::peelForLoopAndSimplifyBounds(rewriter, forOp, partial);
      }
    }
    if (transposes.empty())
      return success();
    if (failed(mlir::seqmix::canonicalize(module, canonicalization, kPass)))
      return failure();
    SmallVector<Operation *> tiles;
    module.walk([&](linalg::TransposeOp op) {
      auto t = cast<RankedTensorType>(op.getInit().getType());
      // (A tile with a unit dimension is a copy, left to the loops.)
      if (op->hasAttr(kMarker) && t.hasStaticShape() &&
          llvm::all_of(t.getShape(), [](int64_t d) { return d > 1; }))
        tiles.push_back(op);
    });
    for (Operation *op : tiles)
      if (!mlir::seqmix::vectorizeInPlace(rewriter, op))
        return op->emitError("seqmix-tile-contractions: cannot vectorize the "
                             "transpose tile");
    return success();
  }

  LogicalResult initialize(MLIRContext *ctx) override {
    canonicalization = mlir::seqmix::canonicalizationPatterns(ctx);
    return success();
  }

  FrozenRewritePatternSet canonicalization;
};
} // namespace
