/*===- seqmix-c/DLPack.h - call seqmix layers on DLPack tensors ---*- C -*-===*\
|*                                                                            *|
|* The runtime's DLPack entry point (part of libseqmix_runtime). A DLTensor   *|
|* is what frameworks exchange: PyTorch's, JAX's and numpy's __dlpack__ give  *|
|* a DLManagedTensor whose dl_tensor this takes, without copying.             *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/
#ifndef SEQMIX_C_DLPACK_H
#define SEQMIX_C_DLPACK_H

#include "seqmix-c/Runtime.h"

#include <dlpack/dlpack.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Calls the layer on DLPack tensors: `args` holds every input then every
 *  output, in order, as for seqmix_layer_call. Each tensor must live on the
 *  CPU (kDLCPU), have the argument's element type (float32: kDLFloat, 32
 *  bits, 1 lane; complex64: kDLComplex, 64 bits) and its rank, and be laid
 *  out row-major and contiguous (`strides` NULL, or in elements describing
 *  that layout; a size-1 dimension's stride is free); `byte_offset` is
 *  honoured. Other layouts are refused, naming the argument: copy them
 *  first. The tensors stay the caller's. Returns 0 on
 *  success; otherwise non-zero and a message naming the argument in
 *  `error`. */
int32_t seqmix_layer_call_dlpack(seqmix_layer *layer,
                                 const DLTensor *const *args, int32_t nargs,
                                 char **error);

#ifdef __cplusplus
}
#endif

#endif /* SEQMIX_C_DLPACK_H */
