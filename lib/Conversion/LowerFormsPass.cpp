//===- LowerFormsPass.cpp - the seqmix-lower-forms pass
//--------------------===//
#include "seqmix/Conversion/LowerForms.h"
#include "seqmix/Transforms/Passes.h"

#include "NarrowActivations.h"

#include "mlir/IR/PatternMatch.h"
#include "llvm/ADT/StringMap.h"

#include <thread>

namespace mlir::seqmix {
#define GEN_PASS_DEF_SEQMIXLOWERFORMS
#include "seqmix/Transforms/Passes.h.inc"
} // namespace mlir::seqmix

using namespace mlir;
using namespace mlir::seqmix;

namespace {
/// The lowerings size their loops and results from the op's first operand;
/// a dimension static in some tensors and dynamic in others could disagree
/// at run time, so it is rejected here.
LogicalResult checkUniformDims(Operation *op) {
  llvm::StringMap<std::pair<int64_t, Value>> seen;
  for (auto &[value, dims] : getDimensionRoles(op)) {
    auto type = cast<RankedTensorType>(value.getType());
    for (auto [i, name] : llvm::enumerate(dims)) {
      int64_t size = type.getDimSize(i);
      auto [it, inserted] = seen.try_emplace(name, size, value);
      if (!inserted && ShapedType::isDynamic(it->second.first) !=
                           ShapedType::isDynamic(size))
        return op->emitOpError()
               << "cannot be lowered: dimension " << name
               << " is static in some tensors and dynamic in others ("
               << it->second.second.getType() << " vs " << type
               << "); give every tensor the same static or dynamic size";
    }
  }
  return success();
}

} // namespace

namespace {
/// One lowered family: which ops, why a form is not lowered (empty when it
/// is), and the lowering (given what it may assume of the target). Each family
/// lives in its own file, lib/Conversion/Lower<Family>.cpp; adding one adds
/// a line here.
struct FamilyLowering {
  bool (*matches)(Operation *);
  std::string (*whyNot)(Operation *, FormKind);
  LogicalResult (*lower)(Operation *, RewriterBase &, const LoweringTarget &);
};

template <typename OpTy> bool isOp(Operation *op) { return isa<OpTy>(op); }

const FamilyLowering kFamilies[] = {
    {isOp<GatedLinearAttentionOp>,
     [](Operation *op, FormKind f) {
       return whyNotLoweredGLA(cast<GatedLinearAttentionOp>(op), f);
     },
     [](Operation *op, RewriterBase &r, const LoweringTarget &) {
       return lowerGatedLinearAttention(cast<GatedLinearAttentionOp>(op), r);
     }},
    {isOp<LinearAttentionOp>,
     [](Operation *op, FormKind f) {
       return whyNotLoweredLinear(cast<LinearAttentionOp>(op), f);
     },
     [](Operation *op, RewriterBase &r, const LoweringTarget &) {
       return lowerLinearAttention(cast<LinearAttentionOp>(op), r);
     }},
    {isOp<DeltaRuleOp>,
     [](Operation *op, FormKind f) {
       return whyNotLoweredDelta(cast<DeltaRuleOp>(op), f);
     },
     [](Operation *op, RewriterBase &r, const LoweringTarget &) {
       return lowerDeltaRule(cast<DeltaRuleOp>(op), r);
     }},
    {isOp<SelectiveScanOp>,
     [](Operation *op, FormKind f) {
       return whyNotLoweredSelectiveScan(cast<SelectiveScanOp>(op), f);
     },
     [](Operation *op, RewriterBase &r, const LoweringTarget &t) {
       return lowerSelectiveScan(cast<SelectiveScanOp>(op), r, t);
     }},
    {isOp<LTIScanOp>,
     [](Operation *op, FormKind f) {
       return whyNotLoweredLTIScan(cast<LTIScanOp>(op), f);
     },
     [](Operation *op, RewriterBase &r, const LoweringTarget &) {
       return lowerLTIScan(cast<LTIScanOp>(op), r);
     }},
    {isOp<CausalConv1dOp>,
     [](Operation *op, FormKind f) {
       return whyNotLoweredCausalConv1d(cast<CausalConv1dOp>(op), f);
     },
     [](Operation *op, RewriterBase &r, const LoweringTarget &) {
       return lowerCausalConv1d(cast<CausalConv1dOp>(op), r);
     }},
    {isOp<SoftmaxAttentionOp>,
     [](Operation *op, FormKind f) {
       return whyNotLoweredSoftmax(cast<SoftmaxAttentionOp>(op), f);
     },
     [](Operation *op, RewriterBase &r, const LoweringTarget &t) {
       return lowerSoftmaxAttention(cast<SoftmaxAttentionOp>(op), r, t);
     }},
};

const FamilyLowering *familyOf(Operation *op) {
  for (const FamilyLowering &f : kFamilies)
    if (f.matches(op))
      return &f;
  return nullptr;
}
} // namespace

std::string mlir::seqmix::whyNotLowered(Operation *op, FormKind form) {
  if (const FamilyLowering *family = familyOf(op))
    return family->whyNot(op, form);
  return (op->getName().getStringRef() +
          " has no lowering yet in this release (gated_linear_attention, "
          "linear_attention, delta_rule, softmax_attention, selective_scan, "
          "lti_scan and causal_conv1d are lowered)")
      .str();
}

SmallVector<FormKind> mlir::seqmix::getLoweredForms(Operation *op) {
  SmallVector<FormKind> forms;
  for (FormKind f :
       {FormKind::parallel, FormKind::chunked, FormKind::recurrent})
    if (whyNotLowered(op, f).empty())
      forms.push_back(f);
  return forms;
}

namespace {
struct LowerFormsPass
    : mlir::seqmix::impl::SeqMixLowerFormsBase<LowerFormsPass> {
  using Base::Base;
  void runOnOperation() override {
    SmallVector<Operation *> mixers;
    getOperation().walk([&](Operation *op) {
      if (isSequenceMixer(op))
        mixers.push_back(op);
    });
    IRRewriter rewriter(&getContext());
    bool failedAny = false;
    if (workers < 0) {
      getOperation().emitError()
          << "seqmix-lower-forms: workers must be >= 0, got "
          << workers.getValue();
      return signalPassFailure();
    }
    LoweringTarget target;
    target.workers =
        workers ? workers.getValue()
                : std::max<int64_t>(1, std::thread::hardware_concurrency());
    target.avx512 = avx512;
    if (channelBlock < 1) {
      getOperation().emitError()
          << "seqmix-lower-forms: channel-block must be >= 1, got "
          << channelBlock.getValue();
      return signalPassFailure();
    }
    target.maxChannelBlock = channelBlock;
    for (Operation *op : mixers) {
      if (failed(checkUniformDims(op))) {
        failedAny = true;
        continue;
      }
      FormAttr form = getForm(op);
      if (const FamilyLowering *family = familyOf(op)) {
        // What every lowering needs first: a form it has.
        if (!form) {
          op->emitOpError("has no form attribute; run seqmix-select-forms "
                          "first or set #seqmix.form<...>");
          failedAny = true;
          continue;
        }
        if (std::string why = whyNotLowered(op, form.getKind()); !why.empty()) {
          op->emitOpError() << "cannot be lowered: " << why;
          failedAny = true;
          continue;
        }
        // bf16/f16 activations: the lowering runs on their f32 widening.
        FailureOr<Operation *> wide = widenNarrowActivations(op, rewriter);
        failedAny |=
            failed(wide) || failed(family->lower(*wide, rewriter, target));
        continue;
      }
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
      return signalPassFailure();
    sinkWidening(getOperation(), rewriter);
    sinkNarrowing(getOperation(), rewriter);
  }
};
} // namespace
