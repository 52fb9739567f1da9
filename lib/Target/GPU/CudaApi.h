/*===- CudaApi.h - the table of CUDA calls a cuda layer exports ---*- C -*-===*
 *
 * Every cuda layer defines `struct seqmix_cuda_api seqmix_cuda` (its host
 * code's mgpu* functions call the driver through it, LayerCuda.c) and the
 * runtime fills it after loading the layer (lib/Runtime/Cuda.cpp). C, for
 * both. CUresult is an int; handles are pointers.
 *
 *===----------------------------------------------------------------------===*/
#ifndef SEQMIX_TARGET_GPU_CUDAAPI_H
#define SEQMIX_TARGET_GPU_CUDAAPI_H

#include <stddef.h>
#include <stdint.h>

struct seqmix_cuda_api {
  int32_t version; /* 1 */
  int32_t status;  /* the first CUresult that was not CUDA_SUCCESS */
  const char *where;
  void *stream; /* the stream the layer's work goes to (null: default) */
  int (*moduleLoadData)(void **module, const void *image);
  int (*moduleUnload)(void *module);
  int (*moduleGetFunction)(void **fn, void *module, const char *name);
  int (*funcSetAttribute)(void *fn, int attrib, int value);
  int (*launchKernel)(void *fn, unsigned gx, unsigned gy, unsigned gz,
                      unsigned bx, unsigned by, unsigned bz, unsigned smem,
                      void *stream, void **params, void **extra);
  int (*memAlloc)(uint64_t *ptr, size_t bytes);
  int (*memFree)(uint64_t ptr);
  int (*streamSynchronize)(void *stream);
};

#endif /* SEQMIX_TARGET_GPU_CUDAAPI_H */
