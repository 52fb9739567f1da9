//===- GPU.h - the cuda target: architectures and binaries -------*- C++
//-*-===//
//
// What the driver needs of the cuda target besides its passes: checking an
// --gpu-arch name and taking the kernels' binary (PTX text or a cubin) out
// of the gpu.binary the last phase leaves.
//
//===----------------------------------------------------------------------===//
#ifndef SEQMIX_TARGET_GPU_H
#define SEQMIX_TARGET_GPU_H

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/Error.h"

#include <string>

namespace mlir::seqmix {

/// An error unless `arch` is an NVIDIA architecture LLVM's NVPTX backend
/// knows (sm_80, sm_90, sm_90a, ...), listing some.
llvm::Error checkGpuArch(llvm::StringRef arch);

/// The CUDA toolkit the cuda target serializes with (ptxas, and libdevice
/// for the math functions): $CUDA_HOME, $CUDA_PATH or $CUDA_ROOT, else the
/// directory above the ptxas on PATH, else /usr/local/cuda; an error naming
/// what was looked for when none has bin/ptxas.
llvm::Expected<std::string> findCudaToolkit();

/// The object (PTX text for format isa, the cubin for bin) of the one
/// gpu.binary in `module`, the layer's kernels; an error when there is none
/// or more than one.
llvm::Expected<std::string> gpuBinaryObject(ModuleOp module);

} // namespace mlir::seqmix

#endif // SEQMIX_TARGET_GPU_H
