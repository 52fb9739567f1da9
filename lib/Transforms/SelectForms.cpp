//===- SelectForms.cpp - choose a computation form per seqmix op ----------===//
#include "seqmix/Transforms/SelectForms.h"
#include "seqmix/Analysis/CostTable.h"
#include "seqmix/Analysis/FormCostModel.h"
#include "seqmix/Conversion/LowerForms.h"
#include "seqmix/SeqMixDialect.h"
#include "seqmix/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

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
  // bf16 / f16 activations: half the bytes in memory.
  Type elem = cast<ShapedType>(first.getType()).getElementType();
  p.activationBytes = elem.isBF16() || elem.isF16() ? 2 : 4;
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
            // One slice per (batch, value head): grouped value heads share
            // q and k.
            p.heads = sizeOr(o.getV(), 1, 1);
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
        // Planes per mode: 2 in complex mode (real and imaginary), 1 real.
        p.valueDim =
            isa<ComplexType>(
                cast<RankedTensorType>(o.getA().getType()).getElementType())
                ? 2
                : 1;
      })
      .Case<CausalConv1dOp>([&](auto o) {
        p.family = ::seqmix::Mixer::CausalConv1d;
        p.seqLen = sizeOr(o.getX(), 2, assumedSeqLen);
        p.keyDim = sizeOr(o.getWeight(), 1, 4);
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

std::optional<FormEstimates>
mlir::seqmix::estimateForms(Operation *op, const ::seqmix::Machine &m) {
  return estimateForms(op, kAssumedSeqLen, m);
}

std::string mlir::seqmix::describeForm(Operation *op) {
  FormAttr f = getForm(op);
  if (!f)
    return "";
  std::string s = stringifyFormKind(f.getKind()).str();
  if (f.getKind() == FormKind::chunked)
    s += "(chunk " + std::to_string(f.getChunk()) + ")";
  auto range = op->getAttrOfType<DenseI64ArrayAttr>(kSeqLenRangeAttrName);
  if (!range || range.size() != 2)
    return s;
  int64_t lo = range[0], hi = range[1];
  if (lo <= 1 && hi > 0)
    return s + " if seq_len < " + std::to_string(hi);
  if (hi <= 0)
    return s + " if seq_len >= " + std::to_string(lo);
  return s + " if " + std::to_string(lo) + " <= seq_len < " +
         std::to_string(hi);
}

std::optional<FormEstimates>
mlir::seqmix::estimateForms(Operation *op, int64_t seqLen,
                            const ::seqmix::Machine &m) {
  if (!isSequenceMixer(op))
    return std::nullopt;
  FormEstimates est;
  est.problem = describe(op, seqLen);
  SmallVector<FormKind> lowered = getLoweredForms(op);
  // Ops with no lowering yet still get the model's choice among all forms,
  // so the IR can be inspected; lower-forms reports what is missing.
  if (lowered.empty())
    lowered = {FormKind::parallel, FormKind::chunked, FormKind::recurrent};
  std::vector<::seqmix::Form> candidates;
  for (FormKind k : lowered)
    candidates.push_back(toModel(k));
  if (!::seqmix::selectForm(est.problem, candidates, m, est.best, &est.all))
    return std::nullopt;
  return est;
}

namespace {
/// Sequence lengths [lo, hi) (hi = 0: no end) that one form serves.
struct LengthRange {
  int64_t lo, hi;
  ::seqmix::Form form;
  int64_t chunk = 0; ///< the range's chunk size (0: chunkFor chooses)
};

/// What distinguishes two lengths' choices: the form, and for softmax
/// attention also the chunk size (its best block size grows with the
/// length; for the linear families one chunk size per form's range).
struct Choice {
  ::seqmix::Form form;
  int64_t chunk = 0;
  bool operator==(const Choice &o) const {
    return form == o.form && chunk == o.chunk;
  }
};

/// The longest sequence the per-call choice considers; longer calls take the
/// last range's form.
constexpr int64_t kMaxPerCallSeqLen = int64_t(1) << 20;

/// The cost model's best form at every sequence length, as ranges: a scan
/// over powers of two, each change of form located by bisection.
std::optional<SmallVector<LengthRange>>
rangesByLength(Operation *op, const ::seqmix::Machine &m, bool chunkFixed) {
  bool byChunk = isa<SoftmaxAttentionOp>(op) && !chunkFixed;
  auto formAt = [&](int64_t T) -> std::optional<Choice> {
    std::optional<FormEstimates> est = estimateForms(op, T, m);
    if (!est)
      return std::nullopt;
    return Choice{est->best.form, byChunk ? est->best.chunk : 0};
  };
  std::optional<Choice> prev = formAt(1);
  if (!prev)
    return std::nullopt;
  SmallVector<LengthRange> ranges;
  int64_t lo = 1;
  for (int64_t T = 2; T <= kMaxPerCallSeqLen; T *= 2) {
    std::optional<Choice> f = formAt(T);
    if (!f)
      return std::nullopt;
    if (*f == *prev)
      continue;
    // The first length in (T/2, T] where the form is f.
    int64_t a = T / 2, b = T;
    while (b - a > 1) {
      int64_t m = a + (b - a) / 2;
      if (formAt(m) == f)
        b = m;
      else
        a = m;
    }
    ranges.push_back({lo, b, prev->form, prev->chunk});
    lo = b;
    prev = f;
  }
  ranges.push_back({lo, 0, prev->form, prev->chunk});
  return ranges;
}

/// The chunk size of a chunked range: the model's best at a length typical
/// of the range (its start times 4, at least 1024, within the range).
int64_t chunkFor(Operation *op, const LengthRange &r,
                 const ::seqmix::Machine &m) {
  int64_t T = std::max<int64_t>(4 * r.lo, 1024);
  if (r.hi > 0)
    T = std::min(T, r.hi - 1);
  std::optional<FormEstimates> est = estimateForms(op, std::max(T, r.lo), m);
  int64_t best = 64;
  double seconds = 0;
  if (est)
    for (const ::seqmix::Estimate &e : est->all)
      if (e.form == ::seqmix::Form::Chunked &&
          (seconds == 0 || e.seconds < seconds)) {
        best = e.chunk;
        seconds = e.seconds;
      }
  return best;
}

/// Whether `op`'s sequence length is dynamic and one value that the call
/// gives (the linear families and softmax attention: q [B, H, T, K]; the
/// scans: u [B, D, T]).
bool hasDynamicSeqLen(Operation *op) {
  auto first = cast<RankedTensorType>(op->getOperand(0).getType());
  if (isa<LinearAttentionOp, GatedLinearAttentionOp, DeltaRuleOp,
          SoftmaxAttentionOp>(op))
    return first.getRank() == 4 && first.isDynamicDim(2);
  // The scans: u [B, D, T].
  if (isa<SelectiveScanOp, LTIScanOp>(op))
    return first.getRank() == 3 && first.isDynamicDim(2);
  return false;
}

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
    ::seqmix::Machine machine = ::seqmix::Machine::hostCpu();
    if (!costModel.empty()) {
      llvm::Expected<::seqmix::Machine> table =
          ::seqmix::loadCostTable(costModel);
      if (!table) {
        getOperation().emitError()
            << "seqmix-select-forms: " << llvm::toString(table.takeError());
        return signalPassFailure();
      }
      machine = *table;
    }
    MLIRContext *ctx = &getContext();
    SmallVector<std::pair<Operation *, SmallVector<LengthRange>>> perCallOps;
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
      if (perCall && hasDynamicSeqLen(op)) {
        std::optional<SmallVector<LengthRange>> ranges =
            rangesByLength(op, machine, /*chunkFixed=*/requested != 0);
        if (ranges && ranges->size() > 1 && ranges->size() <= 4) {
          perCallOps.push_back({op, *ranges});
          return WalkResult::advance();
        }
      }
      std::optional<FormEstimates> est = estimateForms(op, machine);
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
      return signalPassFailure();
    for (auto &[op, ranges] : perCallOps)
      dispatchByLength(op, ranges, requested, machine);
  }

  /// Replaces `op` by a choice at run time among copies of it, one per
  /// range of sequence lengths, each with its range's form:
  ///   scf.if (T < hi_0) { op in form_0 } else { scf.if (T < hi_1) ... }
  void dispatchByLength(Operation *op, ArrayRef<LengthRange> ranges,
                        int64_t requested, const ::seqmix::Machine &machine) {
    MLIRContext *ctx = &getContext();
    OpBuilder b(op);
    Location loc = op->getLoc();
    Value T = tensor::DimOp::create(b, loc, op->getOperand(0), 2);
    SmallVector<Operation *> copies;
    auto copyFor = [&](OpBuilder &ob, const LengthRange &r) {
      Operation *c = ob.clone(*op);
      copies.push_back(c);
      int64_t chunk = r.form != ::seqmix::Form::Chunked ? 0
                      : requested                       ? requested
                      : r.chunk ? r.chunk
                                : chunkFor(op, r, machine);
      c->setAttr(kFormAttrName, FormAttr::get(ctx, fromModel(r.form), chunk));
      c->setAttr(kSeqLenRangeAttrName, ob.getDenseI64ArrayAttr({r.lo, r.hi}));
      return c;
    };
    std::function<SmallVector<Value>(OpBuilder &, size_t)> build =
        [&](OpBuilder &ob, size_t i) -> SmallVector<Value> {
      if (i + 1 == ranges.size())
        return copyFor(ob, ranges[i])->getResults();
      Value hi = arith::ConstantIndexOp::create(ob, loc, ranges[i].hi);
      Value below =
          arith::CmpIOp::create(ob, loc, arith::CmpIPredicate::ult, T, hi);
      auto ifOp = scf::IfOp::create(ob, loc, op->getResultTypes(), below,
                                    /*withElseRegion=*/true);
      OpBuilder tb = ifOp.getThenBodyBuilder();
      scf::YieldOp::create(tb, loc, copyFor(tb, ranges[i])->getResults());
      OpBuilder eb = ifOp.getElseBodyBuilder();
      scf::YieldOp::create(eb, loc, build(eb, i + 1));
      return ifOp.getResults();
    };
    SmallVector<Value> results = build(b, 0);
    if (emitRemarks) {
      auto diag = op->emitRemark() << "forms chosen per call by the cost "
                                      "model, by sequence length:";
      for (Operation *c : copies)
        diag << " " << describeForm(c) << ";";
    }
    op->replaceAllUsesWith(results);
    op->erase();
  }
};
} // namespace
