//===- UngatedBlock.h - a block of tokens of an ungated linear recurrence -===//
//
// The parallel-form block of gated linear attention with gate none (FORMS.md
// 3.4 and 3.5), shared with kernelized linear attention, whose feature-mapped
// q and k and value rows augmented by a one column are the same computation
// (FORMS.md 2.4 and 2.5). Implemented in LowerGatedLinearAttention.cpp.
//
//===----------------------------------------------------------------------===//
#ifndef SEQMIX_LIB_CONVERSION_UNGATEDBLOCK_H
#define SEQMIX_LIB_CONVERSION_UNGATEDBLOCK_H

#include "SliceKernelBuilder.h"

namespace mlir::seqmix {

/// L consecutive tokens of one (batch, head) slice.
struct UngatedBlock {
  Value q, k, v; ///< [L, K], [L, K], [L, V]
  Value len;     ///< L
  Value out;     ///< [L, V] destination of the outputs
  Value state;   ///< [K, V] state before the block (updated in place into the
                 ///< state after it when `wantState`); null when zero, unused
  bool stateIsZero = true;
  bool wantState = false;
  /// Based's Taylor map (FORMS.md 2.2): phi(x) . phi(y) = 1 + s + s^2 / 2
  /// with s = x . y / sqrt(d). When set, the intra-block scores come from
  /// these raw [L, d] rows as scale (1 + s + s^2 / 2), one contraction over d
  /// instead of over K' = 1 + d + d (d + 1) / 2 feature columns; q and k (the
  /// features) still carry the inter term and the state update.
  Value taylorQ, taylorK;
};

/// O = tril(scale Q K^T) V + (scale Q) S_0 and, when `wantState`, the state
/// after the block S_0 + K^T V, with every product a contraction the CPU
/// schedule tiles.
std::pair<Value, Value> buildUngatedBlock(SliceKernelBuilder &kb, int64_t K,
                                          int64_t V, float scale,
                                          const UngatedBlock &blk);

} // namespace mlir::seqmix

#endif // SEQMIX_LIB_CONVERSION_UNGATEDBLOCK_H
