//===- KeyGateBlock.h - a block of tokens under a key-vector gate -*- C++
//-*-===//
//
// The parallel and chunked forms of gated linear attention with the
// key-vector gate (FORMS.md 3.4 and 3.5): one block of tokens of a
// (batch, head) slice, computed by sub-chunks with every decay a product of
// gates <= 1, never the exp of a difference of long cumulative sums.
// Implemented in KeyGateBlock.cpp.
//
//===----------------------------------------------------------------------===//
#ifndef SEQMIX_LIB_CONVERSION_KEYGATEBLOCK_H
#define SEQMIX_LIB_CONVERSION_KEYGATEBLOCK_H

#include "SliceKernelBuilder.h"

namespace mlir::seqmix {

/// L consecutive tokens of one (batch, head) slice with their log gates.
struct KeyGateBlock {
  Value q, k, v; ///< [L, K], [L, K], [L, V]
  Value g;       ///< [L, K] log gates (<= 0)
  Value len;     ///< L
  Value out;     ///< [L, V] destination of the outputs
  Value state;   ///< [K, V] state before the block (updated in place into the
                 ///< state after it when `wantState`); null when zero, unused
  bool stateIsZero = true;
  bool wantState = false;
};

/// Sub-chunk size of the intra-block scores (FORMS.md 3.5, option 2).
constexpr int64_t kKeyGateSubChunk = 16;

/// O = intra + (scale Q .* exp(B)) S_0 and, when `wantState`, the state after
/// the block exp(b_L) .* S_0 + (K .* exp(b_L - B))^T V. The intra scores are
/// built by sub-chunks of `subChunk` tokens: the diagonal sub-chunk exactly
/// in fp32 (a running product of the gates per key), the earlier ones as a
/// contraction of q and k rescaled to the sub-chunk's first token.
std::pair<Value, Value> buildKeyGateBlock(SliceKernelBuilder &kb, int64_t K,
                                          int64_t V, float scale,
                                          int64_t subChunk,
                                          const KeyGateBlock &blk);

} // namespace mlir::seqmix

#endif // SEQMIX_LIB_CONVERSION_KEYGATEBLOCK_H
