/*===- seqmix-c/Runtime.h - run compiled seqmix layers (C API) ----*- C -*-===*\
|*                                                                            *|
|* Loads a layer compiled by `seqmixc --emit=so` and calls it on caller-owned *|
|* buffers. This library does not depend on MLIR or LLVM.                     *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/
#ifndef SEQMIX_C_RUNTIME_H
#define SEQMIX_C_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** A dense f32 (or complex<f32>) tensor. `strides` are in elements, as in
 *  DLPack and MLIR memrefs; NULL means row-major contiguous. `data` must be
 *  aligned to 4 bytes (what malloc, numpy, PyTorch and JAX give), and the
 *  tensor's size in bytes must fit in 63 bits; `shape` holds `ndim` sizes,
 *  each >= 1. */
typedef struct seqmix_tensor {
  void *data;
  int32_t ndim;
  const int64_t *shape;
  const int64_t *strides;
} seqmix_tensor;

typedef struct seqmix_layer seqmix_layer;

/** Loads a compiled layer (.so) from a file path; a bare name is a file in
 *  the current directory, not a library search. On failure returns NULL and,
 *  when `error` is not NULL, stores a message to release with
 *  seqmix_free_error. */
seqmix_layer *seqmix_layer_load(const char *path, char **error);

/** Wraps an already loaded entry point (`_mlir_ciface_<name>`, e.g. from a
 *  JIT) described by ABI metadata text. */
seqmix_layer *seqmix_layer_from_entry(void *entry, const char *metadata,
                                      char **error);

void seqmix_layer_free(seqmix_layer *layer);

/** The layer's ABI metadata (text, see docs/runtime.md). */
const char *seqmix_layer_metadata(const seqmix_layer *layer);

/** Number of arguments: inputs first, then outputs. */
int32_t seqmix_layer_num_args(const seqmix_layer *layer);
const char *seqmix_layer_arg_name(const seqmix_layer *layer, int32_t i);
int32_t seqmix_layer_arg_is_output(const seqmix_layer *layer, int32_t i);

/** Where the layer runs: "cpu", or "cuda" (its tensors are device memory of
 *  the GPU, CUDA tensors through DLPack; the metadata's "target" line names
 *  the architecture). */
const char *seqmix_layer_target(const seqmix_layer *layer);
/** The CUDA stream (a CUstream; NULL: the default stream) a cuda layer's
 *  calls launch on; each call still returns when its work is done. Returns
 *  0, or non-zero with a message when the layer is not a cuda layer. */
int32_t seqmix_layer_set_stream(seqmix_layer *layer, void *stream,
                                char **error);
/** The layer's name (the spec's "name"). */
const char *seqmix_layer_name(const seqmix_layer *layer);

/** Argument i's element type: "f32" or "complex64" (NULL when i is out of
 *  range). */
const char *seqmix_layer_arg_dtype(const seqmix_layer *layer, int32_t i);
/** Argument i's rank (0 when i is out of range). */
int32_t seqmix_layer_arg_ndim(const seqmix_layer *layer, int32_t i);
/** The size of dimension d of argument i: >= 1 when static, -1 when
 *  dynamic (given at each call; dimensions with one name must agree), 0
 *  when i or d is out of range. */
int64_t seqmix_layer_arg_dim(const seqmix_layer *layer, int32_t i, int32_t d);
/** The name of dimension d of argument i ("batch", "seq_len", ...), or NULL
 *  when i or d is out of range. */
const char *seqmix_layer_arg_dim_name(const seqmix_layer *layer, int32_t i,
                                      int32_t d);
/** The largest size a named dimension may take at a call ("limit" lines of
 *  the metadata: the layer's scratch must fit), or -1 when unbounded. */
int64_t seqmix_layer_dim_limit(const seqmix_layer *layer, const char *dim);

/** The forms the layer was compiled in: the metadata's "forms" line without
 *  its key ("chunked(chunk 64)", or per range of lengths "parallel if
 *  seq_len < 102, chunked(chunk 16) if seq_len >= 102"), or "". */
const char *seqmix_layer_forms(const seqmix_layer *layer);
/** The cost model's estimates, one "costs" line per op and copy ("B=1 H=8
 *  T=512 K=128 V=64 parallel=3.16e-03s chunked(16)=..."), and the cost
 *  table used ("built-in" or a path). */
int32_t seqmix_layer_num_cost_lines(const seqmix_layer *layer);
const char *seqmix_layer_cost_line(const seqmix_layer *layer, int32_t i);
const char *seqmix_layer_cost_model(const seqmix_layer *layer);

/** Calls the layer: `args` holds every input then every output, in order.
 *  Shapes are checked against the metadata (static sizes, and equal sizes
 *  for dimensions with the same name); outputs must not overlap inputs.
 *  Returns 0 on success; otherwise non-zero and a message in `error`. */
int32_t seqmix_layer_call(seqmix_layer *layer, const seqmix_tensor *args,
                          int32_t nargs, char **error);

void seqmix_free_error(char *error);

/** Device memory of the GPU cuda layers run on (device 0), for tools and
 *  tests that start from host buffers (PyTorch and JAX callers pass their
 *  own CUDA tensors): allocate, free, and copy `bytes` to the device
 *  (`to_device` 1) or back (0). Without a driver or device they fail with
 *  the message a cuda layer's load gives. */
void *seqmix_cuda_alloc(size_t bytes, char **error);
void seqmix_cuda_free(void *ptr);
int32_t seqmix_cuda_copy(void *dst, const void *src, size_t bytes,
                         int32_t to_device, char **error);

#ifdef __cplusplus
}
#endif

#endif /* SEQMIX_C_RUNTIME_H */
