/*===- LayerCuda.c - the CUDA calls of a cuda layer's host code -----------===*
 *
 * The host code MLIR's gpu-to-llvm writes for a cuda layer calls mgpu*
 * functions (module load, launch, stream, device memory). Debian ships no
 * libmlir_cuda_runtime, and a layer must load on a machine without a GPU,
 * so every cuda layer carries these definitions (compiled to LLVM IR with
 * the project and linked into it, internal to it), which reach the CUDA
 * driver only through the table `seqmix_cuda` that the seqmix runtime fills
 * after loading the layer, from the libcuda.so.1 it dlopens (never linked).
 *
 * The module is loaded lazily, at the first kernel lookup: the loader that
 * MLIR's translation registers runs when the layer is dlopened, before the
 * runtime has filled the table. Nothing here aborts: the first failure is
 * kept in the table (`status`, `where`) and everything after it does
 * nothing, and the runtime reports it when the call returns.
 *
 *===----------------------------------------------------------------------===*/
#include "CudaApi.h"

/* Filled by the runtime (seqmix_layer_load) before the first call. */
struct seqmix_cuda_api seqmix_cuda = {1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};

/* CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES */
#define MAX_DYNAMIC_SHARED 8
/* CUDA_ERROR_NOT_INITIALIZED: the runtime never filled the table. */
#define NOT_INITIALIZED 3
/* CUDA_ERROR_INVALID_HANDLE: a module or kernel that could not be had. */
#define INVALID_HANDLE 400

static int ok(int status, const char *where) {
  if (status != 0 && seqmix_cuda.status == 0) {
    seqmix_cuda.status = status;
    seqmix_cuda.where = where;
  }
  return status == 0 && seqmix_cuda.status == 0;
}

static int ready(const char *where) {
  if (!seqmix_cuda.launchKernel)
    return ok(NOT_INITIALIZED, where);
  return seqmix_cuda.status == 0;
}

/* A module not yet loaded: its image, loaded at the first lookup. */
struct lazy_module {
  const void *image;
  void *module;
};

static struct lazy_module modules[4];
static int numModules;

void *mgpuModuleLoad(void *data, size_t size) {
  (void)size;
  if (numModules == (int)(sizeof(modules) / sizeof(modules[0])))
    return 0;
  modules[numModules].image = data;
  modules[numModules].module = 0;
  return &modules[numModules++];
}

void *mgpuModuleLoadJIT(void *data, int optLevel) {
  (void)optLevel;
  return mgpuModuleLoad(data, 0);
}

void mgpuModuleUnload(void *module) {
  struct lazy_module *m = (struct lazy_module *)module;
  if (m && m->module && seqmix_cuda.moduleUnload)
    seqmix_cuda.moduleUnload(m->module);
  if (m)
    m->module = 0;
}

void *mgpuModuleGetFunction(void *module, const char *name) {
  struct lazy_module *m = (struct lazy_module *)module;
  if (!ready("cuModuleLoadData"))
    return 0;
  if (!m) {
    /* (More modules than mgpuModuleLoad keeps: never a silent skip.) */
    ok(INVALID_HANDLE, "mgpuModuleLoad");
    return 0;
  }
  if (!m->module &&
      !ok(seqmix_cuda.moduleLoadData(&m->module, m->image), "cuModuleLoadData"))
    return 0;
  void *fn = 0;
  if (!ok(seqmix_cuda.moduleGetFunction(&fn, m->module, name),
          "cuModuleGetFunction"))
    return 0;
  return fn;
}

void mgpuLaunchKernel(void *fn, intptr_t gx, intptr_t gy, intptr_t gz,
                      intptr_t bx, intptr_t by, intptr_t bz, int32_t smem,
                      void *stream, void **params, void **extra,
                      size_t paramsCount) {
  (void)stream;
  (void)paramsCount;
  if (!ready("cuLaunchKernel"))
    return;
  if (!fn) {
    ok(INVALID_HANDLE, "cuModuleGetFunction");
    return;
  }
  if (gx == 0 || gy == 0 || gz == 0)
    return; /* an empty grid (a batch of 0) launches nothing */
  if (smem > 48 * 1024 &&
      !ok(seqmix_cuda.funcSetAttribute(fn, MAX_DYNAMIC_SHARED, smem),
          "cuFuncSetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES)"))
    return;
  ok(seqmix_cuda.launchKernel(fn, (unsigned)gx, (unsigned)gy, (unsigned)gz,
                              (unsigned)bx, (unsigned)by, (unsigned)bz,
                              (unsigned)smem, seqmix_cuda.stream, params,
                              extra),
     "cuLaunchKernel");
}

/* The layer's work goes to the runtime's stream; gpu-async-region's own
 * streams are that one stream. */
void *mgpuStreamCreate(void) { return seqmix_cuda.stream; }

void mgpuStreamDestroy(void *stream) { (void)stream; }

void mgpuStreamSynchronize(void *stream) {
  (void)stream;
  if (ready("cuStreamSynchronize"))
    ok(seqmix_cuda.streamSynchronize(seqmix_cuda.stream),
       "cuStreamSynchronize");
}

void *mgpuMemAlloc(uint64_t bytes, void *stream, int8_t hostShared) {
  (void)stream;
  (void)hostShared;
  uint64_t ptr = 0;
  if (bytes == 0 || !ready("cuMemAlloc"))
    return 0;
  if (!ok(seqmix_cuda.memAlloc(&ptr, (size_t)bytes), "cuMemAlloc"))
    return 0;
  return (void *)(uintptr_t)ptr;
}

void mgpuMemFree(void *ptr, void *stream) {
  (void)stream;
  if (ptr && seqmix_cuda.memFree)
    seqmix_cuda.memFree((uint64_t)(uintptr_t)ptr);
}
