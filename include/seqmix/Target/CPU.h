//===- CPU.h - CPU code generation: LLVM IR, objects, .so, JIT ---*- C++
//-*-===//
#ifndef SEQMIX_TARGET_CPU_H
#define SEQMIX_TARGET_CPU_H

#include "mlir/ExecutionEngine/ExecutionEngine.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/IR/Module.h"
#include "llvm/Target/TargetMachine.h"

#include <memory>
#include <string>
#include <vector>

namespace mlir::seqmix {

/// The ABI metadata text ("seqmix-abi 1", docs/runtime.md) of the public
/// entry function of `module`, read at tensor level (before bufferization):
/// arguments then results, with the names and dimension names the importer
/// attached. Fails with a diagnostic when there is not exactly one public
/// function or a type is not a ranked f32/complex<f32> tensor.
FailureOr<std::string> buildAbiMetadata(ModuleOp module);

/// Run-time limits the chosen forms need, as metadata lines
/// "limit <dimension> <max>" (docs/runtime.md). The parallel forms hold
/// T x T fp32 matrices per slice; their sequence length is capped so that
/// this workspace stays within `workspaceBytes` per thread; a static
/// sequence length above that cap is an error on the op.
FailureOr<std::string>
workspaceLimits(ModuleOp module, int64_t workspaceBytes = int64_t(1) << 31);

/// A TargetMachine for this host (`cpu` = "host") or a named CPU. For a
/// shared library (`forJit` false) the code model is the small one, as a C
/// compiler's: constants and jump tables are reached RIP-relative, not
/// through a 64-bit offset loaded per use (the large model LLVM picks for a
/// JIT, whose sections may lie far apart).
llvm::Expected<std::unique_ptr<llvm::TargetMachine>>
createCpuTargetMachine(llvm::StringRef cpu, bool forJit = false);

/// f32 lanes of the vector registers of a named CPU (`llc-22 -mcpu=help`): 16
/// with AVX-512, 8 with AVX2, else 4; an error for an unknown name.
llvm::Expected<int64_t> cpuF32Lanes(llvm::StringRef cpu);

/// Whether this host (`cpu` = "host") or a named CPU has the AVX512-BF16 dot
/// product (vdpbf16ps); an error for an unknown name.
llvm::Expected<bool> cpuHasBf16Dot(llvm::StringRef cpu);

/// Translates an LLVM-dialect module to LLVM IR for `tm`, optimizes it at -O3
/// and adds the `seqmix_abi_metadata` symbol.
std::unique_ptr<llvm::Module>
translateToOptimizedLLVMIR(ModuleOp module, llvm::LLVMContext &ctx,
                           llvm::TargetMachine &tm, llvm::StringRef metadata);

/// Writes a relocatable object for `tm`.
/// Returns the native assembly of `module` for `tm`, or fails with `error`.
FailureOr<std::string>
emitAssembly(llvm::Module &module, llvm::TargetMachine &tm, std::string &error);

LogicalResult emitObjectFile(llvm::Module &module, llvm::TargetMachine &tm,
                             llvm::StringRef path, std::string &error);

/// Whether the code calls the OpenMP runtime (libomp).
bool usesOpenMP(const llvm::Module &module);
bool usesOpenMP(ModuleOp module);

/// The symbols `module` defines with external linkage: what a library built
/// from it may export (the C-interface entry and the ABI metadata).
std::vector<std::string> definedExternalSymbols(const llvm::Module &module);

/// Links an object into a shared library with the clang driver (lld), with
/// libomp when `openmp`. A version script exports `exports` and hides every
/// other symbol (the C runtime's start files included). On failure `error`
/// says what went wrong, with the linker's first message.
LogicalResult linkSharedLibrary(llvm::StringRef object, llvm::StringRef output,
                                bool openmp,
                                llvm::ArrayRef<std::string> exports,
                                std::string &error);

/// A JIT of an LLVM-dialect module, optimized for the host.
llvm::Expected<std::unique_ptr<ExecutionEngine>> createJit(ModuleOp module);

} // namespace mlir::seqmix

#endif // SEQMIX_TARGET_CPU_H
