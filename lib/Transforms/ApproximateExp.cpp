//===- ApproximateExp.cpp - polynomial f32 exp ----------------------------===//
#include "seqmix/Transforms/Passes.h"

#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::seqmix {
#define GEN_PASS_DEF_SEQMIXAPPROXIMATEEXP
#include "seqmix/Transforms/Passes.h.inc"
} // namespace mlir::seqmix

using namespace mlir;

namespace {
struct ApproximateExpPass
    : seqmix::impl::SeqMixApproximateExpBase<ApproximateExpPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    populateMathPolynomialApproximationPatterns(patterns, [](StringRef name) {
      // log1p expands into log, which is approximated too.
      return name == "exp" || name == "math.exp" || name == "log1p" ||
             name == "sin" || name == "math.sin" || name == "cos" ||
             name == "math.cos" || name == "math.log1p" || name == "log" ||
             name == "math.log";
    });
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};
} // namespace
