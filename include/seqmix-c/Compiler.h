/*===- seqmix-c/Compiler.h - compile seqmix layers (C API) --------*- C -*-===*\
|*                                                                            *|
|* Compiles a layer spec (JSON text) or MLIR text in-process: to a shared     *|
|* library that libseqmix_runtime loads (seqmix-c/Runtime.h), to an object,   *|
|* or to the text of any phase (MLIR), LLVM IR, assembly or the runtime ABI   *|
|* metadata. This library links MLIR and LLVM (libseqmix_compiler.so); the    *|
|* runtime does not. Every call returns a status that carries every           *|
|* diagnostic with its location. Thread-safe: each call has its own MLIR      *|
|* context. See docs/c-api.md.                                                *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/
#ifndef SEQMIX_C_COMPILER_H
#define SEQMIX_C_COMPILER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The version of seqmix ("0.1.0") and of the LLVM/MLIR it was built with,
 *  as one line: "seqmix 0.1.0 (LLVM 22.1.0)". Part of the compile cache key. */
const char *seqmix_compiler_version(void);

/*===--------------------------------------------------------------------===*
 * Options
 *===--------------------------------------------------------------------===*/

typedef struct seqmix_compile_options seqmix_compile_options;

seqmix_compile_options *seqmix_compile_options_create(void);
void seqmix_compile_options_destroy(seqmix_compile_options *options);

/** Sets one option by name, with seqmixc's flag values as text:
 *    form        auto | parallel | chunked | recurrent (default: the spec's)
 *    chunk_size  0 (choose) .. 4096
 *    target_cpu  host (default) or an LLVM CPU name (x86-64-v3, znver4, ...)
 *    threading   openmp (default) | none
 *    workers     threads the layer runs on, for split-KV decode (0: this
 *                machine's)
 *    schedule    path of a transform-dialect script replacing the built-in
 *                CPU schedule
 *    cost_model  path of a cost table (seqmix-bench --calibrate); without
 *                it, $SEQMIX_COST_MODEL, else the built-in table
 *    bf16_dot    auto (default) | on | off: AVX512-BF16 dot products for the
 *                products of two bf16 activations (seqmixc --bf16-dot)
 *    remarks     0 | 1: report each form decision as a remark diagnostic
 *  Returns 0, or -1 for an unknown name or a value that is not a number
 *  where one is needed (the values themselves are checked when compiling). */
int32_t seqmix_compile_options_set(seqmix_compile_options *options,
                                   const char *name, const char *value);

/*===--------------------------------------------------------------------===*
 * Status and diagnostics
 *===--------------------------------------------------------------------===*/

typedef struct seqmix_status seqmix_status;

/** 1 when the call succeeded (it may still carry warnings and remarks). */
int32_t seqmix_status_ok(const seqmix_status *status);
int32_t seqmix_status_num_diagnostics(const seqmix_status *status);
/** "error", "warning", "remark" or "note". */
const char *seqmix_status_severity(const seqmix_status *status, int32_t i);
/** The message, without location. */
const char *seqmix_status_message(const seqmix_status *status, int32_t i);
/** Where: "<source>:<line>:<col>" (a spec's JSON field or an IR line), or
 *  "" when the problem has no place in the input (a bad option). */
const char *seqmix_status_location(const seqmix_status *status, int32_t i);
/** Every diagnostic, one per line, as "<location>: <severity>: <message>". */
const char *seqmix_status_text(const seqmix_status *status);
void seqmix_status_destroy(seqmix_status *status);

/*===--------------------------------------------------------------------===*
 * Compiling
 *===--------------------------------------------------------------------===*/

/** Compiles `source` (`length` bytes: a JSON layer spec, or MLIR when it
 *  does not start with '{'; `source_name` names it in diagnostics) through
 *  the whole pipeline and writes `emit` ("so": a shared library for
 *  seqmix_layer_load, or "obj") to `output_path`. A failure leaves no file
 *  it created behind. Never returns NULL. */
seqmix_status *seqmix_compile_to_file(const char *source, size_t length,
                                      const char *source_name,
                                      const seqmix_compile_options *options,
                                      const char *emit,
                                      const char *output_path);

/** Compiles `source` and returns an artifact in memory, in `*data`
 *  (`*size` bytes, plus a terminating NUL for the text kinds; release with
 *  seqmix_free_buffer):
 *    emit "mlir"      the IR after `phase` (import, select-forms,
 *                     lower-forms, schedule, bufferize, llvm)
 *    emit "metadata"  the runtime ABI metadata (docs/runtime.md)
 *    emit "llvm", "asm", "obj", "so"  the whole pipeline; `phase` must be
 *                     NULL or "llvm"
 *  Never returns NULL; on failure `*data` is NULL. */
seqmix_status *seqmix_compile_to_buffer(const char *source, size_t length,
                                        const char *source_name,
                                        const seqmix_compile_options *options,
                                        const char *phase, const char *emit,
                                        void **data, size_t *size);

void seqmix_free_buffer(void *data);

#ifdef __cplusplus
}
#endif

#endif /* SEQMIX_C_COMPILER_H */
