//===- GPUTarget.cpp - the cuda target: architectures and binaries --------===//
#include "seqmix/Target/GPU.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/TargetParser/Triple.h"

#include <cstdlib>
#include <memory>

extern "C" {
void LLVMInitializeNVPTXTargetInfo();
void LLVMInitializeNVPTXTarget();
void LLVMInitializeNVPTXTargetMC();
}

using namespace mlir;

llvm::Error mlir::seqmix::checkGpuArch(llvm::StringRef arch) {
  static const bool init = [] {
    LLVMInitializeNVPTXTargetInfo();
    LLVMInitializeNVPTXTarget();
    LLVMInitializeNVPTXTargetMC();
    // Shared memory addressed with 32-bit pointers, as CUDA does (the
    // NVPTX backend's --nvptx-short-ptr, unless given): the blocks'
    // scratch views otherwise take 64-bit registers for every address, and
    // the largest kernels (the chunked delta rule with tensor cores) spill.
    auto &cl = llvm::cl::getRegisteredOptions();
    auto it = cl.find("nvptx-short-ptr");
    if (it != cl.end() && it->second->getNumOccurrences() == 0)
      static_cast<llvm::cl::opt<bool> *>(it->second)->setValue(true);
    return true;
  }();
  (void)init;
  llvm::Triple triple("nvptx64-nvidia-cuda");
  std::string err;
  const llvm::Target *target = llvm::TargetRegistry::lookupTarget(triple, err);
  if (!target)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "LLVM has no NVPTX backend: " + err);
  std::unique_ptr<llvm::MCSubtargetInfo> sti(
      target->createMCSubtargetInfo(triple, "", ""));
  if (!arch.starts_with("sm_") || !sti || !sti->isCPUStringValid(arch))
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        "unknown NVIDIA architecture '%s' (expected sm_80, sm_86, sm_89, "
        "sm_90, sm_90a, sm_100, ...)",
        arch.str().c_str());
  return llvm::Error::success();
}

llvm::Expected<std::string> mlir::seqmix::findCudaToolkit() {
  auto hasPtxas = [](llvm::StringRef dir) {
    llvm::SmallString<256> p(dir);
    llvm::sys::path::append(p, "bin", "ptxas");
    return llvm::sys::fs::can_execute(p);
  };
  for (const char *var : {"CUDA_HOME", "CUDA_PATH", "CUDA_ROOT"})
    if (const char *dir = std::getenv(var); dir && *dir && hasPtxas(dir))
      return std::string(dir);
  if (llvm::ErrorOr<std::string> ptxas = llvm::sys::findProgramByName("ptxas"))
    return llvm::sys::path::parent_path(llvm::sys::path::parent_path(*ptxas))
        .str();
  if (hasPtxas("/usr/local/cuda"))
    return std::string("/usr/local/cuda");
  return llvm::createStringError(
      llvm::inconvertibleErrorCode(),
      "the cuda target needs the CUDA toolkit (ptxas, and libdevice for the "
      "math functions): none in $CUDA_HOME, $CUDA_PATH, $CUDA_ROOT, on PATH "
      "or in /usr/local/cuda");
}

llvm::Expected<std::string> mlir::seqmix::gpuBinaryObject(ModuleOp module) {
  SmallVector<gpu::BinaryOp> binaries(module.getOps<gpu::BinaryOp>());
  if (binaries.size() != 1)
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        "expected the layer's kernels in one gpu.binary, found %zu",
        binaries.size());
  ArrayAttr objects = binaries.front().getObjects();
  if (objects.size() != 1)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "expected one object in the gpu.binary");
  auto object = cast<gpu::ObjectAttr>(objects[0]);
  return object.getObject().getValue().str();
}
