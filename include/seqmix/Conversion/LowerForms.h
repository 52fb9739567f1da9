//===- LowerForms.h - lowerings of seqmix ops by form -----------*- C++ -*-===//
#ifndef SEQMIX_CONVERSION_LOWERFORMS_H
#define SEQMIX_CONVERSION_LOWERFORMS_H

#include "seqmix/SeqMixDialect.h"

#include "mlir/IR/PatternMatch.h"

namespace mlir::seqmix {

/// The forms that have a lowering for `op` as it stands (its family, gate
/// kind, ...). Selection only picks among these.
SmallVector<FormKind> getLoweredForms(Operation *op);

/// Why `form` has no lowering for `op`, or the empty string when it has one.
std::string whyNotLowered(Operation *op, FormKind form);

/// What a lowering may assume of the machine the code runs on.
struct LoweringTarget {
  /// Threads the code runs on (>= 1).
  int64_t workers = 1;
  /// The CPU has AVX-512F: a lowering may use its instructions that the
  /// vector dialect cannot express (x86vector ops).
  bool avx512 = false;
  /// Most channels per block of the scans (the lanes of their token loops):
  /// a vector register's 16 on the CPU, a block's threads on the GPU.
  int64_t maxChannelBlock = 16;
};

/// Per family (one file each, lib/Conversion/Lower<Family>.cpp): why `form`
/// is not lowered for the op ("" when it is), and the lowering, which
/// replaces the op by linalg/scf/tensor IR computing its form. The lowering
/// is called by seqmix-lower-forms once the op has a form that whyNotLowered
/// accepts; it emits an error on the op for shapes or types it cannot take.
std::string whyNotLoweredGLA(GatedLinearAttentionOp op, FormKind form);
LogicalResult lowerGatedLinearAttention(GatedLinearAttentionOp op,
                                        RewriterBase &rewriter);
std::string whyNotLoweredLinear(LinearAttentionOp op, FormKind form);
LogicalResult lowerLinearAttention(LinearAttentionOp op,
                                   RewriterBase &rewriter);
std::string whyNotLoweredDelta(DeltaRuleOp op, FormKind form);
LogicalResult lowerDeltaRule(DeltaRuleOp op, RewriterBase &rewriter);
std::string whyNotLoweredSelectiveScan(SelectiveScanOp op, FormKind form);
/// With `target.avx512`, the decays exp(delta A) take vscalefps (2^n without
/// clamps, a shorter exp).
LogicalResult lowerSelectiveScan(SelectiveScanOp op, RewriterBase &rewriter,
                                 const LoweringTarget &target);
std::string whyNotLoweredLTIScan(LTIScanOp op, FormKind form);
LogicalResult lowerLTIScan(LTIScanOp op, RewriterBase &rewriter);
std::string whyNotLoweredCausalConv1d(CausalConv1dOp op, FormKind form);
LogicalResult lowerCausalConv1d(CausalConv1dOp op, RewriterBase &rewriter);
std::string whyNotLoweredSoftmax(SoftmaxAttentionOp op, FormKind form);
/// The decode form splits its keys over `target.workers` when batch x heads
/// is smaller (split-KV, FORMS.md 1.4).
LogicalResult lowerSoftmaxAttention(SoftmaxAttentionOp op,
                                    RewriterBase &rewriter,
                                    const LoweringTarget &target);

} // namespace mlir::seqmix

#endif // SEQMIX_CONVERSION_LOWERFORMS_H
