//===- DLPack.cpp - call compiled layers on DLPack tensors ----------------===//
#include "seqmix-c/DLPack.h"

#include "Error.h"

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {
using seqmix_runtime::setError;

std::string deviceName(DLDeviceType t) {
  switch (t) {
  case kDLCPU:
    return "cpu";
  case kDLCUDA:
    return "cuda";
  case kDLCUDAHost:
    return "cuda_host";
  case kDLROCM:
    return "rocm";
  case kDLMetal:
    return "metal";
  case kDLVulkan:
    return "vulkan";
  default:
    return "device type " + std::to_string(static_cast<int>(t));
  }
}

std::string dtypeName(DLDataType t) {
  std::string base = t.code == kDLFloat     ? "float"
                     : t.code == kDLInt     ? "int"
                     : t.code == kDLUInt    ? "uint"
                     : t.code == kDLBfloat  ? "bfloat"
                     : t.code == kDLComplex ? "complex"
                                            : "code" + std::to_string(t.code);
  std::string s = base + std::to_string(t.bits);
  if (t.lanes != 1)
    s += "x" + std::to_string(t.lanes);
  return s;
}
} // namespace

extern "C" int32_t seqmix_layer_call_dlpack(seqmix_layer *layer,
                                            const DLTensor *const *args,
                                            int32_t nargs, char **error) {
  if (!layer) {
    setError(error, "no layer");
    return 1;
  }
  const int32_t expected = seqmix_layer_num_args(layer);
  if (nargs != expected || !args) {
    setError(error, std::string("layer ") + seqmix_layer_name(layer) +
                        " takes " + std::to_string(expected) +
                        " tensors (inputs then outputs), got " +
                        (args ? std::to_string(nargs) : "a NULL array"));
    return 1;
  }
  std::vector<seqmix_tensor> tensors(nargs);
  for (int32_t i = 0; i < nargs; ++i) {
    const DLTensor *t = args[i];
    std::string what =
        std::string(seqmix_layer_arg_is_output(layer, i) ? "output '"
                                                         : "input '") +
        seqmix_layer_arg_name(layer, i) + "'";
    if (!t) {
      setError(error, what + ": the DLTensor is NULL");
      return 1;
    }
    const bool gpu = std::string(seqmix_layer_target(layer)) == "cuda";
    const DLDeviceType wantDevice = gpu ? kDLCUDA : kDLCPU;
    if (t->device.device_type != wantDevice) {
      setError(error, what + ": the tensor is on " +
                          deviceName(t->device.device_type) +
                          (gpu ? "; this layer was compiled for the GPU: "
                                 "pass CUDA tensors"
                               : "; this layer was compiled for the CPU"));
      return 1;
    }
    if (gpu && t->device.device_id != 0) {
      setError(error, what + ": the tensor is on CUDA device " +
                          std::to_string(t->device.device_id) +
                          "; this runtime runs cuda layers on device 0");
      return 1;
    }
    const std::string type = seqmix_layer_arg_dtype(layer, i);
    DLDataType want = type == "complex64" ? DLDataType{kDLComplex, 64, 1}
                      : type == "bf16"    ? DLDataType{kDLBfloat, 16, 1}
                      : type == "f16"     ? DLDataType{kDLFloat, 16, 1}
                                          : DLDataType{kDLFloat, 32, 1};
    if (t->dtype.code != want.code || t->dtype.bits != want.bits ||
        t->dtype.lanes != want.lanes) {
      setError(error, what + ": expected element type " + dtypeName(want) +
                          ", got " + dtypeName(t->dtype));
      return 1;
    }
    if (!t->data && t->ndim > 0) {
      setError(error, what + ": the data pointer is NULL");
      return 1;
    }
    if (t->ndim < 0 || !t->shape) {
      setError(error, what + ": the tensor has no shape");
      return 1;
    }
    if (t->strides)
      for (int32_t d = 0; d < t->ndim; ++d)
        if (t->strides[d] < 0) {
          setError(error, what + ": negative stride " +
                              std::to_string(t->strides[d]) + " in dimension " +
                              std::to_string(d) +
                              "; pass a copy with non-negative strides");
          return 1;
        }
    tensors[i].data = static_cast<char *>(t->data) + t->byte_offset;
    tensors[i].ndim = t->ndim;
    tensors[i].shape = t->shape;
    tensors[i].strides = t->strides;
  }
  return seqmix_layer_call(layer, tensors.data(), nargs, error);
}
