//===- ChannelBlocks.h - [B, D, T] ops in blocks of channels ----*- C++ -*-===//
//
// The state-space scans and the causal convolution work on [B, D, T]
// activations with T innermost and keep each channel's state to itself. Their
// lowerings take one block of Dc channels (one vector register's lanes) per
// scf.forall iteration, transpose blocks of tokens into rows of Dc channels,
// and walk the rows. This header keeps that loop structure in one place.
//
//===----------------------------------------------------------------------===//
#ifndef SEQMIX_LIB_CONVERSION_CHANNELBLOCKS_H
#define SEQMIX_LIB_CONVERSION_CHANNELBLOCKS_H

#include "SliceKernelBuilder.h"
#include "VectorMath.h"

namespace mlir::seqmix {

/// Channels per block: the largest power of two up to `most` (16 on the
/// CPU, one vector register; a block's threads on the GPU) that divides `n`.
inline int64_t channelBlock(int64_t n, int64_t most = 16) {
  int64_t c = 1;
  while (c * 2 <= most && n % (c * 2) == 0)
    c *= 2;
  return c;
}

/// The transpose of a 2-D f32 tensor `x` of [rows, cols]: [cols, rows].
inline Value transposed(SliceKernelBuilder &kb, Value x, OpFoldResult rows,
                        OpFoldResult cols) {
  return linalg::TransposeOp::create(kb.builder(), x, kb.empty({cols, rows}),
                                     ArrayRef<int64_t>{1, 0})
      .getResult()[0];
}

/// silu(z) = z sigmoid(z) (F32Math::silu: the stable sigmoid, no division).
inline Value silu(OpBuilder &b, Location l, Value z) {
  return F32Math(b, l, z.getType()).silu(z);
}

} // namespace mlir::seqmix

#endif // SEQMIX_LIB_CONVERSION_CHANNELBLOCKS_H
