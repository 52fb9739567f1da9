//===- Limits.h - size limits shared by the spec, the IR and the tools ----===//
//
// Plain constants (no MLIR), so that the spec parser, the dialect's
// verifiers and the drivers agree on them.
//
//===----------------------------------------------------------------------===//
#ifndef SEQMIX_SUPPORT_LIMITS_H
#define SEQMIX_SUPPORT_LIMITS_H

#include <cstdint>

namespace seqmix {

/// The largest chunk size of the chunked form. Each chunk is a parallel-form
/// block with C x C workspaces per (batch, head) slice; 4096 keeps them at
/// 64 MiB each.
inline constexpr int64_t kMaxChunkSize = 4096;

/// The deepest bracket nesting accepted in .mlir input: MLIR's parser
/// recurses once per level and overflows the stack near 20000 levels.
inline constexpr unsigned kMaxIRNesting = 200;

} // namespace seqmix

#endif // SEQMIX_SUPPORT_LIMITS_H
