//===- SelectForms.cpp - choose a computation form per seqmix op ----------===//
#include "seqmix/Transforms/SelectForms.h"
#include "seqmix/Analysis/FormCostModel.h"
#include "seqmix/Conversion/LowerForms.h"
#include "seqmix/SeqMixDialect.h"
#include "seqmix/Transforms/Passes.h"

#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/FormatVariadic.h"

namespace mlir::seqmix {
#define GEN_PASS_DEF_SEQMIXSELECTFORMS
#include "seqmix/Transforms/Passes.h.inc"
} // namespace mlir::seqmix

using namespace mlir;
using namespace mlir::seqmix;

namespace {
/// Static size or `fallback` when dynamic.
int64_t sizeOr(Value v, unsigned dim, int64_t fallback) {
  int64_t s = cast<RankedTensorType>(v.getType()).getDimSize(dim);
  return ShapedType::isDynamic(s) ? fallback : s;
}

/// The cost-model view of a seqmix op; dynamic batch / sequence sizes take
/// the pass's assumptions.
::seqmix::Problem describe(Operation *op, int64_t assumedSeqLen) {
  ::seqmix::Problem p;
  Value first = op->getOperand(0);
  p.batch = sizeOr(first, 0, 1);
  p.heads = sizeOr(first, 1, 1);
  llvm::TypeSwitch<Operation *>(op)
      .Case<SoftmaxAttentionOp>([&](auto o) {
        p.family = ::seqmix::Mixer::SoftmaxAttention;
        p.seqLen = sizeOr(o.getQ(), 2, assumedSeqLen);
        p.keyDim = sizeOr(o.getQ(), 3, 64);
        p.valueDim = sizeOr(o.getV(), 3, 64);
        p.kvLen = sizeOr(o.getK(), 2, assumedSeqLen);
        p.causal = o.getCausal();
      })
      .Case<LinearAttentionOp, GatedLinearAttentionOp, DeltaRuleOp>(
          [&](auto o) {
            p.seqLen = sizeOr(o.getQ(), 2, assumedSeqLen);
            p.keyDim = sizeOr(o.getQ(), 3, 64);
            p.valueDim = sizeOr(o.getV(), 3, 64);
          })
      .Case<SelectiveScanOp>([&](auto o) {
        p.family = ::seqmix::Mixer::SelectiveScan;
        p.seqLen = sizeOr(o.getU(), 2, assumedSeqLen);
        p.keyDim = sizeOr(o.getA(), 1, 16);
        p.valueDim = 1;
      })
      .Case<LTIScanOp>([&](auto o) {
        p.family = ::seqmix::Mixer::LTIScan;
        p.seqLen = sizeOr(o.getU(), 2, assumedSeqLen);
        p.keyDim = sizeOr(o.getA(), 1, 64);
        p.valueDim = 1;
      });
  if (isa<LinearAttentionOp>(op))
    p.family = ::seqmix::Mixer::LinearAttention;
  if (isa<DeltaRuleOp>(op))
    p.family = ::seqmix::Mixer::DeltaRule;
  if (auto gla = dyn_cast<GatedLinearAttentionOp>(op)) {
    p.family = ::seqmix::Mixer::GatedLinearAttention;
    p.gate = static_cast<::seqmix::Gate>(gla.getGate());
  }
  return p;
}

::seqmix::Form toModel(FormKind k) {
  switch (k) {
  case FormKind::parallel:
    return ::seqmix::Form::Parallel;
  case FormKind::chunked:
    return ::seqmix::Form::Chunked;
  case FormKind::recurrent:
    return ::seqmix::Form::Recurrent;
  }
  return ::seqmix::Form::Recurrent;
}

FormKind fromModel(::seqmix::Form f) {
  switch (f) {
  case ::seqmix::Form::Parallel:
    return FormKind::parallel;
  case ::seqmix::Form::Chunked:
    return FormKind::chunked;
  case ::seqmix::Form::Recurrent:
    return FormKind::recurrent;
  }
  return FormKind::recurrent;
}

} // namespace

std::string FormEstimates::sizes() const {
  std::string s = llvm::formatv("B={0} H={1} T={2} K={3} V={4}", problem.batch,
                                problem.heads, problem.seqLen, problem.keyDim,
                                problem.valueDim)
                      .str();
  if (problem.family == ::seqmix::Mixer::SoftmaxAttention)
    s += " T_k=" + std::to_string(problem.kvLen);
  return s;
}

std::string FormEstimates::candidates() const {
  std::string s;
  for (const ::seqmix::Estimate &e : all) {
    s += (s.empty() ? "" : " ") + std::string(::seqmix::formName(e.form));
    if (e.chunk)
      s += "(" + std::to_string(e.chunk) + ")";
    s += "=" + llvm::formatv("{0:e2}", e.seconds).str() + "s";
  }
  return s;
}

std::optional<FormEstimates> mlir::seqmix::estimateForms(Operation *op) {
  if (!isSequenceMixer(op))
    return std::nullopt;
  FormEstimates est;
  est.problem = describe(op, kAssumedSeqLen);
  SmallVector<FormKind> lowered = getLoweredForms(op);
  // Ops with no lowering yet still get the model's choice among all forms,
  // so the IR can be inspected; lower-forms reports what is missing.
  if (lowered.empty())
    lowered = {FormKind::parallel, FormKind::chunked, FormKind::recurrent};
  std::vector<::seqmix::Form> candidates;
  for (FormKind k : lowered)
    candidates.push_back(toModel(k));
  if (!::seqmix::selectForm(est.problem, candidates,
                            ::seqmix::Machine::hostCpu(), est.best, &est.all))
    return std::nullopt;
  return est;
}

namespace {
struct SelectFormsPass
    : mlir::seqmix::impl::SeqMixSelectFormsBase<SelectFormsPass> {
  using SeqMixSelectFormsBase::SeqMixSelectFormsBase;

  void runOnOperation() override {
    std::optional<FormKind> forced;
    if (form != "auto") {
      forced = symbolizeFormKind(form);
      if (!forced) {
        getOperation().emitError()
            << "seqmix-select-forms: unknown form '" << form
            << "'; expected auto, parallel, chunked or recurrent";
        return signalPassFailure();
      }
    }
    // Read the option as int64_t: a pass Option in `?:` or `<<` converts
    // through other types (int, char).
    const int64_t requested = chunkSize.getValue();
    if (requested < 0 || requested > kMaxChunkSize) {
      getOperation().emitError()
          << "seqmix-select-forms: chunk-size must be between 1 and "
          << kMaxChunkSize << " (or 0 to choose), got " << requested;
      return signalPassFailure();
    }
    MLIRContext *ctx = &getContext();
    WalkResult result = getOperation().walk([&](Operation *op) {
      if (!isSequenceMixer(op))
        return WalkResult::advance();
      if (forced) {
        int64_t chunk =
            *forced == FormKind::chunked ? (requested ? requested : 64) : 0;
        op->setAttr(kFormAttrName, FormAttr::get(ctx, *forced, chunk));
        if (emitRemarks)
          op->emitRemark() << "form " << stringifyFormKind(*forced)
                           << " forced by the user";
        return WalkResult::advance();
      }
      if (getForm(op))
        return WalkResult::advance(); // an explicit choice in the input wins
      std::optional<FormEstimates> est = estimateForms(op);
      if (!est) {
        op->emitOpError("no computation form is available");
        return WalkResult::interrupt();
      }
      const ::seqmix::Estimate &best = est->best;
      int64_t chunk = best.form == ::seqmix::Form::Chunked
                          ? (requested ? requested : best.chunk)
                          : 0;
      op->setAttr(kFormAttrName,
                  FormAttr::get(ctx, fromModel(best.form), chunk));
      if (emitRemarks) {
        auto diag = op->emitRemark()
                    << "form " << ::seqmix::formName(best.form);
        if (chunk)
          diag << " (chunk " << chunk << ")";
        diag << " chosen by the cost model for " << est->sizes()
             << "; candidates: " << est->candidates();
      }
      return WalkResult::advance();
    });
    if (result.wasInterrupted())
      signalPassFailure();
  }
};
} // namespace
