//===- NarrowActivations.h - bf16/f16 activations around f32 lowerings -*- C++
//-*-===//
#ifndef SEQMIX_LIB_CONVERSION_NARROWACTIVATIONS_H
#define SEQMIX_LIB_CONVERSION_NARROWACTIVATIONS_H

#include "mlir/IR/PatternMatch.h"

namespace mlir::seqmix {

/// For an op with bf16 or f16 tensors (operands or results): widens those
/// operands to f32, replaces `op` by a clone on the f32 values whose narrow
/// results become f32, narrows them back once (round to nearest even) and
/// returns the clone, which a family lowering then lowers in f32. Returns
/// `op` itself when every tensor is f32 (or complex) already.
FailureOr<Operation *> widenNarrowActivations(Operation *op,
                                              RewriterBase &rewriter);

/// After the lowerings: every tensor.extract_slice of a widened tensor
/// becomes the widening of the same slice of the narrow one (blocks widened
/// as they are read); widenings nothing reads whole any more go.
void sinkWidening(Operation *root, RewriterBase &rewriter);

/// After the lowerings: a narrowed result of a slice loop (scf.forall)
/// becomes the loop's own result in the narrow type, each slice narrowed
/// before it is written (the f32 output is never whole).
void sinkNarrowing(Operation *root, RewriterBase &rewriter);

} // namespace mlir::seqmix

#endif // SEQMIX_LIB_CONVERSION_NARROWACTIVATIONS_H
