//===- ScheduleUtils.h - shared pieces of the CPU schedule passes -*- C++
//-*-===//
//
// What seqmix-tile-contractions (on tensors) and seqmix-vectorize-rows (on
// memrefs) both need: the vector width, the canonicalization that folds
// peeled bounds into static shapes, and vectorizing one tiled op in place.
//
//===----------------------------------------------------------------------===//
#ifndef SEQMIX_LIB_TRANSFORMS_SCHEDULEUTILS_H
#define SEQMIX_LIB_TRANSFORMS_SCHEDULEUTILS_H

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Rewrite/FrozenRewritePatternSet.h"

namespace mlir::seqmix {

/// The f32 lanes to vectorize for: `requested`, or this machine's (16 with
/// AVX-512, 8 with AVX2, else 4) when 0. Emits the error on `root`, naming
/// `pass`, unless the width is a power of two from 1 to 64.
FailureOr<int64_t> resolveF32Lanes(Operation *root, int64_t requested,
                                   StringRef pass);

/// Every registered op's and loaded dialect's canonicalization patterns (what
/// the canonicalize pass applies), built once per pass.
FrozenRewritePatternSet canonicalizationPatterns(MLIRContext *ctx);

/// Applies `patterns` to `root`; emits the error, naming `pass`, when the
/// rewrite does not converge.
LogicalResult canonicalize(Operation *root,
                           const FrozenRewritePatternSet &patterns,
                           StringRef pass);

/// Vectorizes the (static) linalg `op` and replaces it; false when the
/// vectorizer cannot take it (the op is then left as it is).
bool vectorizeInPlace(RewriterBase &rewriter, Operation *op,
                      bool createNamedContraction = false);

/// Rewrites the f32 contraction `op` (loops m, n, k) into a bf16 one for
/// AVX512-BF16 dot products (Bf16DotTiles.cpp) when both its operands are
/// widened bf16 tensors (perhaps transposed) and its reduction is static and
/// even; returns the new op (marked), or null, leaving `op`, when it does not
/// apply.
linalg::GenericOp rewriteAsBf16PairContraction(RewriterBase &rewriter,
                                               linalg::LinalgOp op);

/// Whether `op` is (a tile of) a contraction that
/// rewriteAsBf16PairContraction made.
bool isBf16PairContraction(Operation *op);

/// Drops the mark isBf16PairContraction reads.
void clearBf16PairMarker(Operation *op);

/// Replaces the static register tile `tile` of such a contraction by its
/// vdpbf16ps kernel (x86vector.avx512.dot); fails, leaving the tile, when its
/// width is no multiple of 4 lanes.
LogicalResult emitBf16DotTile(RewriterBase &rewriter, linalg::GenericOp tile);

} // namespace mlir::seqmix

#endif // SEQMIX_LIB_TRANSFORMS_SCHEDULEUTILS_H
