//===- Driver.h - compile a layer spec or IR, as a library ------*- C++ -*-===//
//
// What seqmixc does, without its command line: load a layer spec (a file or
// JSON text) or MLIR, run the phases, build the runtime ABI metadata and
// emit LLVM IR, assembly, an object or a shared library. Used by seqmixc and
// by the C API (include/seqmix-c/Compiler.h).
//
//===----------------------------------------------------------------------===//
#ifndef SEQMIX_DRIVER_DRIVER_H
#define SEQMIX_DRIVER_DRIVER_H

#include "seqmix/Pipelines/Pipelines.h"
#include "seqmix/Spec/LayerSpec.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/Support/SourceMgr.h"

#include <optional>
#include <string>

namespace mlir::seqmix {

/// The compiler's options, as seqmixc's flags name them.
struct DriverOptions {
  /// auto, parallel, chunked or recurrent (auto: the spec's "form" field is
  /// already in the spec; this overrides it unless empty).
  std::string form;
  int64_t chunkSize = 0;
  bool remarks = false;
  /// openmp or none.
  std::string threading = "openmp";
  int64_t workers = 0;
  /// host or an LLVM CPU name.
  std::string targetCpu = "host";
  /// A transform-dialect script replacing the built-in schedule.
  std::string scheduleFile;
  /// A cost table (seqmix-bench --calibrate); empty: $SEQMIX_COST_MODEL when
  /// `costModelFromEnv`, else the built-in table.
  std::string costModelFile;
  bool costModelFromEnv = true;
  /// AVX512-BF16 dot products for the contractions of two bf16 activations:
  /// auto (when the target has them and the cost table rates them faster
  /// than f32 FMAs), on (the target must have them) or off.
  std::string bf16Dot = "auto";
  /// cpu or cuda; empty: the spec's "target" (cpu for MLIR input).
  std::string target;
  /// The cuda target's architecture (sm_90, sm_90a, sm_80, ...).
  std::string gpuArch = "sm_90";
  /// The cuda target's tensor cores for bf16 and f16 layers (mma.sync
  /// m16n8k16, from sm_80); off: SIMT only.
  bool tensorCores = true;
  /// With tensor cores: row-local runs in the warps' registers (FA2-style).
  bool rowRuns = true;
  /// What the cuda target's last phase makes: host (the cubin and the host
  /// code, for a shared library: what the C API emits), isa (PTX) or bin
  /// (cubin); seqmixc picks it from --emit.
  std::string gpuFormat = "host";
};

/// What to compile: a spec (.json) or MLIR. With `text`, the input is that
/// text and `name` only names it in messages; otherwise `name` is a path.
struct DriverInput {
  std::string name;
  std::optional<std::string> text;
  /// Whether the input is a layer spec (else MLIR). Default: by `name`'s
  /// extension (.json), or JSON text starting with '{'.
  std::optional<bool> isSpec;
};

/// The result of compiling: the module (at the requested phase), the ABI
/// metadata and, for specs, the spec.
struct Compilation {
  OwningOpRef<ModuleOp> module;
  std::string metadata;
  std::optional<::seqmix::LayerSpec> spec;
  std::string formSummary;
  /// The target compiled for: cpu or cuda.
  std::string target = "cpu";
};

/// Receives a driver-level error (bad option, unreadable input); errors in
/// the spec or the IR go to the context's diagnostic handler.
using DriverErrorFn = llvm::function_ref<void(const llvm::Twine &)>;

/// Loads `input` and compiles it from phase `from` up to `to`; with
/// `needMetadata`, builds the runtime ABI metadata too. `formOverride`
/// replaces opts.form (a cross-check compilation in another form).
FailureOr<Compilation>
compileLayer(MLIRContext &ctx, llvm::SourceMgr &sm, const DriverInput &input,
             Phase from, Phase to, bool needMetadata, const DriverOptions &opts,
             DriverErrorFn error,
             std::optional<std::string> formOverride = std::nullopt);

/// Emits a compilation at the last phase: `kind` llvm or asm as `text`;
/// obj or so as the file `path` (a failure removes a file it created).
LogicalResult emitNative(Compilation &c, llvm::StringRef kind,
                         llvm::StringRef path, const DriverOptions &opts,
                         std::string &text, DriverErrorFn error);

/// Checks before the (slow) code generation that `path` can be written; on
/// success remembers in `created` whether this made a new, empty file.
std::optional<std::string> checkWritable(llvm::StringRef path, bool &created);

} // namespace mlir::seqmix

#endif // SEQMIX_DRIVER_DRIVER_H
