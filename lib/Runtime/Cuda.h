//===- Cuda.h - the CUDA driver for cuda layers (runtime) --------*- C++
//-*-===//
#ifndef SEQMIX_LIB_RUNTIME_CUDA_H
#define SEQMIX_LIB_RUNTIME_CUDA_H

#include "../Target/GPU/CudaApi.h"

#include <string>

namespace seqmix_runtime {

/// The table every cuda layer exports as `seqmix_cuda`.
using SeqmixCudaApi = ::seqmix_cuda_api;

/// Opens the CUDA driver (once per process; libcuda.so.1 by dlopen), checks
/// device 0 against the layer's architecture `arch` ("sm_90") and fills the
/// layer's table; false with `err` saying what is missing (no driver, no
/// device, another architecture).
bool attachCuda(void *layerHandle, const std::string &arch,
                SeqmixCudaApi *&table, std::string &err);

/// Before a call: the device's context current, the table's status clear.
bool beginCudaCall(SeqmixCudaApi *table, std::string &err);

/// After a call: false with `err` naming the first CUDA call that failed.
bool endCudaCall(SeqmixCudaApi *table, std::string &err);

/// Whether `ptr` is device (or managed) memory of the driver's context.
bool isDeviceMemory(const void *ptr);

} // namespace seqmix_runtime

#endif // SEQMIX_LIB_RUNTIME_CUDA_H
