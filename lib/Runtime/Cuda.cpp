//===- Cuda.cpp - the CUDA driver, dlopened, for cuda layers --------------===//
//
// A layer compiled for the cuda target carries its kernels (a cubin) and
// host code that calls the mgpu* functions of LayerCuda.c, which reach the
// driver through the table `seqmix_cuda` in the layer. This file opens the
// driver (libcuda.so.1, never linked: the runtime loads on machines
// without a GPU), checks the device against the layer's architecture and
// fills that table. No CUDA header: the few types and constants the driver
// API fixes are spelled out here.
//
//===----------------------------------------------------------------------===//
#include "Cuda.h"
#include "Error.h"

#include <dlfcn.h>

#include <mutex>
#include <string>

using namespace seqmix_runtime;

namespace {
using CUresult = int;
using CUdevice = int;
constexpr int kComputeCapabilityMajor = 75; // CU_DEVICE_ATTRIBUTE_...
constexpr int kComputeCapabilityMinor = 76;
constexpr int kPointerMemoryType = 2; // CU_POINTER_ATTRIBUTE_MEMORY_TYPE
constexpr unsigned kMemoryTypeDevice = 2, kMemoryTypeUnified = 4;

struct Driver {
  void *lib = nullptr;
  std::string error; // why there is no usable driver, if there is none
  CUresult (*init)(unsigned) = nullptr;
  CUresult (*deviceGetCount)(int *) = nullptr;
  CUresult (*deviceGet)(CUdevice *, int) = nullptr;
  CUresult (*deviceGetAttribute)(int *, int, CUdevice) = nullptr;
  CUresult (*primaryCtxRetain)(void **, CUdevice) = nullptr;
  CUresult (*ctxSetCurrent)(void *) = nullptr;
  CUresult (*getErrorName)(CUresult, const char **) = nullptr;
  CUresult (*pointerGetAttribute)(void *, int, uint64_t) = nullptr;
  CUresult (*memcpyHtoD)(uint64_t, const void *, size_t) = nullptr;
  CUresult (*memcpyDtoH)(void *, uint64_t, size_t) = nullptr;
  SeqmixCudaApi api{};
  void *ctx = nullptr;
  int major = 0, minor = 0;
};

template <typename F> bool bind(void *lib, const char *name, F &fn) {
  fn = reinterpret_cast<F>(dlsym(lib, name));
  return fn != nullptr;
}

std::string resultName(const Driver &d, CUresult r) {
  const char *name = nullptr;
  if (d.getErrorName && d.getErrorName(r, &name) == 0 && name)
    return name;
  return "CUresult " + std::to_string(r);
}

/// Opens the driver and device 0 once per process.
Driver &driver() {
  static Driver d;
  static std::once_flag once;
  std::call_once(once, [] {
    d.lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!d.lib) {
      const char *why = dlerror();
      d.error = std::string("no CUDA driver (") +
                (why ? why : "libcuda.so.1 not found") + ")";
      return;
    }
    SeqmixCudaApi &a = d.api;
    bool ok = bind(d.lib, "cuInit", d.init) &&
              bind(d.lib, "cuDeviceGetCount", d.deviceGetCount) &&
              bind(d.lib, "cuDeviceGet", d.deviceGet) &&
              bind(d.lib, "cuDeviceGetAttribute", d.deviceGetAttribute) &&
              bind(d.lib, "cuDevicePrimaryCtxRetain", d.primaryCtxRetain) &&
              bind(d.lib, "cuCtxSetCurrent", d.ctxSetCurrent) &&
              bind(d.lib, "cuGetErrorName", d.getErrorName) &&
              bind(d.lib, "cuPointerGetAttribute", d.pointerGetAttribute) &&
              bind(d.lib, "cuMemcpyHtoD_v2", d.memcpyHtoD) &&
              bind(d.lib, "cuMemcpyDtoH_v2", d.memcpyDtoH) &&
              bind(d.lib, "cuModuleLoadData", a.moduleLoadData) &&
              bind(d.lib, "cuModuleUnload", a.moduleUnload) &&
              bind(d.lib, "cuModuleGetFunction", a.moduleGetFunction) &&
              bind(d.lib, "cuFuncSetAttribute", a.funcSetAttribute) &&
              bind(d.lib, "cuLaunchKernel", a.launchKernel) &&
              bind(d.lib, "cuMemAlloc_v2", a.memAlloc) &&
              bind(d.lib, "cuMemFree_v2", a.memFree) &&
              bind(d.lib, "cuStreamSynchronize", a.streamSynchronize);
    if (!ok) {
      d.error = "the CUDA driver (libcuda.so.1) lacks a function seqmix "
                "needs; it is older than CUDA 11";
      return;
    }
    if (CUresult r = d.init(0)) {
      d.error = "the CUDA driver does not start: cuInit: " + resultName(d, r);
      return;
    }
    int count = 0;
    if (CUresult r = d.deviceGetCount(&count); r || count < 1) {
      d.error =
          "no CUDA device" +
          (r ? " (cuDeviceGetCount: " + resultName(d, r) + ")" : std::string());
      return;
    }
    CUdevice dev = 0;
    if (CUresult r = d.deviceGet(&dev, 0)) {
      d.error = "cuDeviceGet: " + resultName(d, r);
      return;
    }
    d.deviceGetAttribute(&d.major, kComputeCapabilityMajor, dev);
    d.deviceGetAttribute(&d.minor, kComputeCapabilityMinor, dev);
    if (CUresult r = d.primaryCtxRetain(&d.ctx, dev)) {
      d.error = "cuDevicePrimaryCtxRetain: " + resultName(d, r);
      return;
    }
    a.version = 1;
  });
  return d;
}

/// The compute capability an "sm_90" / "sm_90a" / "sm_100" name stands for.
bool parseArch(const std::string &arch, int &major, int &minor) {
  if (arch.rfind("sm_", 0) != 0)
    return false;
  std::string digits;
  for (char c : arch.substr(3))
    if (c >= '0' && c <= '9')
      digits += c;
    else
      break;
  if (digits.size() < 2)
    return false;
  major = std::stoi(digits.substr(0, digits.size() - 1));
  minor = digits.back() - '0';
  return true;
}
} // namespace

bool seqmix_runtime::attachCuda(void *layerHandle, const std::string &arch,
                                SeqmixCudaApi *&table, std::string &err) {
  int major = 0, minor = 0;
  if (!parseArch(arch, major, minor)) {
    err = "unknown CUDA architecture '" + arch + "' in the layer metadata";
    return false;
  }
  Driver &d = driver();
  if (!d.error.empty()) {
    err = "a cuda layer (" + arch + ") needs an NVIDIA GPU: " + d.error;
    return false;
  }
  // A cubin runs on its own major version, at its minor version or above.
  if (d.major != major || d.minor < minor) {
    err = "the layer is compiled for " + arch + ", but device 0 is sm_" +
          std::to_string(d.major) + std::to_string(d.minor) +
          " (recompile with seqmixc --gpu-arch=sm_" + std::to_string(d.major) +
          std::to_string(d.minor) + ")";
    return false;
  }
  table = static_cast<SeqmixCudaApi *>(dlsym(layerHandle, "seqmix_cuda"));
  if (!table || table->version != 1) {
    err = "the layer has no seqmix_cuda table of version 1";
    return false;
  }
  void *stream = table->stream;
  *table = d.api;
  table->stream = stream;
  return true;
}

bool seqmix_runtime::beginCudaCall(SeqmixCudaApi *table, std::string &err) {
  Driver &d = driver();
  if (CUresult r = d.ctxSetCurrent(d.ctx)) {
    err = "cuCtxSetCurrent: " + resultName(d, r);
    return false;
  }
  table->status = 0;
  table->where = nullptr;
  return true;
}

bool seqmix_runtime::isDeviceMemory(const void *ptr) {
  Driver &d = driver();
  if (!d.error.empty() || !d.pointerGetAttribute)
    return false;
  unsigned type = 0;
  if (d.pointerGetAttribute(&type, kPointerMemoryType,
                            reinterpret_cast<uint64_t>(ptr)))
    return false;
  return type == kMemoryTypeDevice || type == kMemoryTypeUnified;
}

bool seqmix_runtime::endCudaCall(SeqmixCudaApi *table, std::string &err) {
  if (table->status == 0)
    return true;
  err = std::string("CUDA call failed: ") +
        (table->where ? table->where : "?") + ": " +
        resultName(driver(), table->status);
  return false;
}

// The C API's device buffers (tools and tests; PyTorch and JAX callers pass
// their own CUDA tensors).
extern "C" {
static bool current(char **error) {
  Driver &d = driver();
  if (!d.error.empty()) {
    setError(error, d.error);
    return false;
  }
  if (CUresult r = d.ctxSetCurrent(d.ctx)) {
    setError(error, "cuCtxSetCurrent: " + resultName(d, r));
    return false;
  }
  return true;
}

void *seqmix_cuda_alloc(size_t bytes, char **error) {
  if (!current(error))
    return nullptr;
  Driver &d = driver();
  uint64_t ptr = 0;
  if (CUresult r = d.api.memAlloc(&ptr, bytes ? bytes : 1)) {
    setError(error, "cuMemAlloc of " + std::to_string(bytes) +
                        " bytes: " + resultName(d, r));
    return nullptr;
  }
  return reinterpret_cast<void *>(ptr);
}

void seqmix_cuda_free(void *ptr) {
  Driver &d = driver();
  if (ptr && d.error.empty() && d.ctxSetCurrent(d.ctx) == 0)
    d.api.memFree(reinterpret_cast<uint64_t>(ptr));
}

int32_t seqmix_cuda_copy(void *dst, const void *src, size_t bytes,
                         int32_t toDevice, char **error) {
  if (!current(error))
    return 1;
  Driver &d = driver();
  CUresult r = toDevice
                   ? d.memcpyHtoD(reinterpret_cast<uint64_t>(dst), src, bytes)
                   : d.memcpyDtoH(dst, reinterpret_cast<uint64_t>(src), bytes);
  if (r) {
    setError(error, std::string(toDevice ? "cuMemcpyHtoD" : "cuMemcpyDtoH") +
                        ": " + resultName(d, r));
    return 1;
  }
  return 0;
}
}
