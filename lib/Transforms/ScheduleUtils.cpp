//===- ScheduleUtils.cpp - shared pieces of the CPU schedule passes -------===//
#include "ScheduleUtils.h"

#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/TargetParser/Host.h"

using namespace mlir;

FailureOr<int64_t> mlir::seqmix::resolveF32Lanes(Operation *root,
                                                 int64_t requested,
                                                 StringRef pass) {
  int64_t lanes = requested;
  if (lanes == 0) {
    llvm::StringMap<bool> features = llvm::sys::getHostCPUFeatures();
    lanes = features.lookup("avx512f") ? 16 : features.lookup("avx2") ? 8 : 4;
  }
  if (lanes >= 1 && lanes <= 64 && (lanes & (lanes - 1)) == 0)
    return lanes;
  return root->emitError() << pass
                           << ": vector-width must be a power of two from 1 "
                              "to 64 f32 lanes, got "
                           << lanes;
}

FrozenRewritePatternSet
mlir::seqmix::canonicalizationPatterns(MLIRContext *ctx) {
  RewritePatternSet patterns(ctx);
  for (RegisteredOperationName name : ctx->getRegisteredOperations())
    name.getCanonicalizationPatterns(patterns, ctx);
  for (Dialect *d : ctx->getLoadedDialects())
    d->getCanonicalizationPatterns(patterns);
  return FrozenRewritePatternSet(std::move(patterns));
}

LogicalResult mlir::seqmix::canonicalize(
    Operation *root, const FrozenRewritePatternSet &patterns, StringRef pass) {
  if (succeeded(applyPatternsGreedily(root, patterns)))
    return success();
  return root->emitError() << pass << ": canonicalization failed";
}

bool mlir::seqmix::vectorizeInPlace(RewriterBase &rewriter, Operation *op,
                                    bool createNamedContraction) {
  rewriter.setInsertionPoint(op);
  FailureOr<linalg::VectorizationResult> v = linalg::vectorize(
      rewriter, op, /*inputVectorSizes=*/{}, /*inputScalableVecDims=*/{},
      /*vectorizeNDExtract=*/false, /*flatten1DDepthwiseConv=*/false,
      /*assumeDynamicDimsMatchVecSizes=*/false, createNamedContraction);
  if (failed(v))
    return false;
  if (v->replacements.empty())
    rewriter.eraseOp(op);
  else
    rewriter.replaceOp(op, v->replacements);
  return true;
}
