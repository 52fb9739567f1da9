//===- Pipelines.h - the seqmix compilation phases ---------------*- C++
//-*-===//
#ifndef SEQMIX_PIPELINES_PIPELINES_H
#define SEQMIX_PIPELINES_PIPELINES_H

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Pass/PassManager.h"

#include <optional>
#include <string>

namespace mlir::seqmix {

/// The phases of DESIGN.md section 5, in order. The IR "at" a phase is the IR
/// after that phase ran.
enum class Phase { Import, SelectForms, LowerForms, Schedule, Bufferize, LLVM };

inline constexpr Phase kFirstPhase = Phase::Import;
inline constexpr Phase kLastPhase = Phase::LLVM;

std::optional<Phase> parsePhase(llvm::StringRef name);
llvm::StringRef phaseName(Phase phase);
/// "import, select-forms, ..." for help texts and errors.
std::string phaseList();

struct CompileOptions {
  std::string form = "auto"; ///< auto | parallel | chunked | recurrent
  int64_t chunkSize = 0;     ///< 0: chosen by the cost model
  bool remarks = false;      ///< report form decisions as remarks
  /// Run the (batch, head) loop on OpenMP threads (libomp) instead of
  /// serially.
  bool openmp = true;
  /// Threads the code runs on, for split-KV decode (0: this machine's).
  int64_t workers = 0;
  /// f32 lanes of the target's vector registers for the register tiles (0:
  /// this machine's).
  int64_t vectorWidth = 0;
  /// A transform-dialect script run as the schedule phase instead of the
  /// built-in one (empty: built-in).
  std::string scheduleFile;
  /// A JSON table of the cost model's machine constants (empty: built-in).
  std::string costModelFile;
  /// Contractions of two bf16 activations on AVX512-BF16 dot products (the
  /// driver resolves --bf16-dot and checks the target has them).
  bool bf16Dot = false;
  /// cpu, or cuda (the GPU schedule; the llvm phase ends in a gpu.binary),
  /// or gpu-emulation (the GPU schedule run on the host, one thread per
  /// block: a test of the schedule without a GPU).
  std::string target = "cpu";
  /// The NVIDIA architecture of the cuda target (sm_90, sm_80, ...).
  std::string gpuArch = "sm_90";
  /// The cuda target's stage 2: a bf16 or f16 layer's block contractions
  /// on tensor cores (mma.sync; the driver turns it off below sm_80).
  bool gpuTensorCores = true;
  /// With tensor cores: a block's row-local runs around a contraction in
  /// the warps' registers (seqmix-gpu-distribute{row-runs}).
  bool gpuRowRuns = true;
  /// What the cuda target's last phase makes: isa (a gpu.binary of PTX
  /// text), bin (of a cubin), or host (a cubin and the host code lowered to
  /// the LLVM dialect, for a shared library).
  std::string gpuFormat = "isa";
  /// The CUDA toolkit gpu-module-to-binary uses (empty: MLIR's search).
  std::string cudaToolkit;
};

/// Appends to `pm` (anchored on builtin.module) the passes that take the IR
/// from the previous phase to `phase`, for `opts.target` (`cpu` forces the
/// CPU passes: the cuda target shares select-forms and lower-forms).
/// Import adds nothing.
LogicalResult addPhasePasses(OpPassManager &pm, Phase phase,
                             const CompileOptions &opts, bool cpu = false);

/// Every dialect and interface the pipeline needs.
void registerSeqMixDialects(DialectRegistry &registry);

/// Registers the seqmix passes and the named pipelines `seqmix-cpu-pipeline`
/// (import to LLVM dialect) and `seqmix-to-<phase>` for seqmix-opt.
void registerSeqMixPassesAndPipelines();

} // namespace mlir::seqmix

#endif // SEQMIX_PIPELINES_PIPELINES_H
