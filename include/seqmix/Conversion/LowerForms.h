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

/// Replaces a gated_linear_attention op by linalg/scf/tensor IR computing its
/// `form`. Emits an error on the op and fails when the form is not lowered.
LogicalResult lowerGatedLinearAttention(GatedLinearAttentionOp op,
                                        RewriterBase &rewriter);

} // namespace mlir::seqmix

#endif // SEQMIX_CONVERSION_LOWERFORMS_H
