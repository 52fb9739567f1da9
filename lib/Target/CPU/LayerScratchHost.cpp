//===- LayerScratchHost.cpp - the JIT's copy of the layer allocator -------===//
//
// LayerScratch.c under the names seqmix_scratch_alloc and
// seqmix_scratch_free, which createJit binds MLIR's generic allocation
// functions to (the layers compiled ahead of time carry their own copy).
//
//===----------------------------------------------------------------------===//
#define SCRATCH_ALLOC seqmix_scratch_alloc
#define SCRATCH_FREE seqmix_scratch_free
extern "C" {
#include "LayerScratch.c"
}
