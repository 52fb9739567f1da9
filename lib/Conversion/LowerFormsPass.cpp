//===- LowerFormsPass.cpp - the seqmix-lower-forms pass
//--------------------===//
#include "seqmix/Conversion/LowerForms.h"
#include "seqmix/Transforms/Passes.h"

#include "mlir/IR/PatternMatch.h"

namespace mlir::seqmix {
#define GEN_PASS_DEF_SEQMIXLOWERFORMS
#include "seqmix/Transforms/Passes.h.inc"
} // namespace mlir::seqmix

using namespace mlir;
using namespace mlir::seqmix;

namespace {
struct LowerFormsPass
    : mlir::seqmix::impl::SeqMixLowerFormsBase<LowerFormsPass> {
  void runOnOperation() override {
    SmallVector<Operation *> mixers;
    getOperation().walk([&](Operation *op) {
      if (isSequenceMixer(op))
        mixers.push_back(op);
    });
    IRRewriter rewriter(&getContext());
    bool failedAny = false;
    for (Operation *op : mixers) {
      if (auto gla = dyn_cast<GatedLinearAttentionOp>(op)) {
        failedAny |= failed(lowerGatedLinearAttention(gla, rewriter));
        continue;
      }
      FormAttr form = getForm(op);
      op->emitOpError() << "cannot be lowered"
                        << (form ? " in form " +
                                       stringifyFormKind(form.getKind()).str()
                                 : std::string())
                        << ": "
                        << whyNotLowered(op, form ? form.getKind()
                                                  : FormKind::recurrent);
      failedAny = true;
    }
    if (failedAny)
      signalPassFailure();
  }
};
} // namespace
