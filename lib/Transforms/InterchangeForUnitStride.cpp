//===- InterchangeForUnitStride.cpp - innermost loop parallel, unit stride ===//
#include "seqmix/Transforms/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::seqmix {
#define GEN_PASS_DEF_SEQMIXINTERCHANGEFORUNITSTRIDE
#include "seqmix/Transforms/Passes.h.inc"
} // namespace mlir::seqmix

using namespace mlir;

namespace {
/// Number of operands whose last (contiguous) dimension is indexed by loop
/// `dim` alone.
unsigned unitStrideUses(linalg::GenericOp op, unsigned dim) {
  unsigned uses = 0;
  for (AffineMap map : op.getIndexingMapsArray()) {
    if (map.getNumResults() == 0)
      continue;
    if (auto d = dyn_cast<AffineDimExpr>(map.getResults().back()))
      uses += d.getPosition() == dim;
  }
  return uses;
}

/// The loop order that makes the best parallel unit-stride loop innermost,
/// or an empty vector when the current order is already best.
SmallVector<unsigned> chooseOrder(linalg::GenericOp op) {
  unsigned numLoops = op.getNumLoops();
  if (numLoops < 2)
    return {};
  SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
  unsigned inner = numLoops - 1;
  // An innermost reduction that walks its operands' contiguous dimension
  // stays innermost unless a parallel loop does so for more operands: a
  // row maximum or sum over S[i, j] reads S along j (seqmix-vectorize-rows
  // turns it into vector reductions), where making i innermost for the
  // sake of the result l[i] would read S with a stride of a whole row.
  unsigned innerScore = unitStrideUses(op, inner);
  std::optional<unsigned> best;
  unsigned bestScore = innerScore;
  for (unsigned d = 0; d < inner; ++d) {
    if (iterators[d] != utils::IteratorType::parallel)
      continue;
    unsigned score = unitStrideUses(op, d);
    if (score > bestScore) {
      best = d;
      bestScore = score;
    }
  }
  if (!best)
    return {};
  SmallVector<unsigned> order;
  for (unsigned d = 0; d < numLoops; ++d)
    if (d != *best)
      order.push_back(d);
  order.push_back(*best);
  return order;
}

struct InterchangeForUnitStridePass
    : seqmix::impl::SeqMixInterchangeForUnitStrideBase<
          InterchangeForUnitStridePass> {
  void runOnOperation() override {
    SmallVector<linalg::GenericOp> ops;
    getOperation().walk([&](linalg::GenericOp op) { ops.push_back(op); });
    IRRewriter rewriter(&getContext());
    for (linalg::GenericOp op : ops) {
      SmallVector<unsigned> order = chooseOrder(op);
      if (order.empty())
        continue;
      rewriter.setInsertionPoint(op);
      if (failed(linalg::interchangeGenericOp(rewriter, op, order))) {
        op.emitError("seqmix-interchange-for-unit-stride: cannot interchange "
                     "the loops");
        return signalPassFailure();
      }
    }
  }
};
} // namespace
