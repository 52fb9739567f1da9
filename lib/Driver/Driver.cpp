//===- Driver.cpp - compile a layer spec or IR, as a library --------------===//
#include "seqmix/Driver/Driver.h"

#include "seqmix/Analysis/CostTable.h"
#include "seqmix/Analysis/FormCostModel.h"
#include "seqmix/SeqMixDialect.h"
#include "seqmix/Spec/ImportSpec.h"
#include "seqmix/Support/Limits.h"
#include "seqmix/Support/Nesting.h"
#include "seqmix/Target/CPU.h"
#include "seqmix/Target/GPU.h"
#include "seqmix/Transforms/Passes.h"
#include "seqmix/Transforms/SelectForms.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Support/Timing.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Process.h"
#include "llvm/Target/TargetMachine.h"

#include <algorithm>
#include <cstdlib>

using namespace mlir;
using namespace mlir::seqmix;

static std::string llvmToString(Type t) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << t;
  return s;
}

static LogicalResult runPhases(ModuleOp module, Phase from, Phase to,
                               const CompileOptions &opts) {
  if (static_cast<int>(to) <= static_cast<int>(from))
    return success();
  PassManager pm(module.getContext());
  if (failed(applyPassManagerCLOptions(pm)))
    return failure();
  applyDefaultTimingPassManagerCLOptions(pm);
  for (int p = static_cast<int>(from) + 1; p <= static_cast<int>(to); ++p)
    if (failed(addPhasePasses(pm, static_cast<Phase>(p), opts)))
      return failure();
  return pm.run(module);
}

FailureOr<Compilation> mlir::seqmix::compileLayer(
    MLIRContext &ctx, llvm::SourceMgr &sm, const DriverInput &input, Phase from,
    Phase to, bool needMetadata, const DriverOptions &driver,
    DriverErrorFn fail, std::optional<std::string> formOverride) {
  Compilation c;
  CompileOptions opts;
  bool spec = input.isSpec.value_or(
      llvm::StringRef(input.name).ends_with(".json") ||
      (input.text && llvm::StringRef(*input.text).ltrim().starts_with("{")));
  if (spec) {
    if (from != Phase::Import) {
      fail("--compile-from applies to .mlir input only");
      return failure();
    }
    llvm::Expected<::seqmix::LayerSpec> parsed =
        input.text ? ::seqmix::parseLayerSpec(*input.text, input.name)
                   : ::seqmix::loadLayerSpec(input.name);
    if (!parsed) {
      fail(llvm::toString(parsed.takeError()));
      return failure();
    }
    c.spec = *parsed;
    c.module = importLayerSpec(*parsed, &ctx);
    if (!c.module)
      return failure();
  } else {
    std::unique_ptr<llvm::MemoryBuffer> file;
    if (input.text) {
      file = llvm::MemoryBuffer::getMemBufferCopy(*input.text, input.name);
    } else {
      std::string err;
      file = openInputFile(input.name, &err);
      if (!file) {
        fail(err);
        return failure();
      }
    }
    // MLIR's parser recurses per nesting level; refuse absurd depths first.
    if (!::seqmix::checkIRNesting(*file, "seqmixc"))
      return failure();
    sm.AddNewSourceBuffer(std::move(file), llvm::SMLoc());
    c.module = parseSourceFile<ModuleOp>(sm, &ctx);
    if (!c.module)
      return failure();
  }
  int64_t chunkSize = driver.chunkSize, workers = driver.workers;
  const std::string &threading = driver.threading,
                    &targetCpu = driver.targetCpu,
                    &scheduleFile = driver.scheduleFile;
  opts.form = formOverride
                  ? *formOverride
                  : (driver.form.empty() ? "auto" : std::string(driver.form));
  opts.chunkSize = chunkSize;
  opts.remarks = driver.remarks;
  if (threading != "openmp" && threading != "none") {
    fail("--threading must be openmp or none, got '" + threading + "'");
    return failure();
  }
  opts.openmp = threading == "openmp";
  if (workers < 0 || workers > 4096) {
    fail("--workers must be between 0 (this machine's threads) and 4096, got " +
         llvm::Twine(int64_t(workers)));
    return failure();
  }
  opts.workers = workers;
  if (targetCpu != "host") {
    // The register tiles follow the named CPU's vector width.
    llvm::Expected<int64_t> lanes = cpuF32Lanes(targetCpu);
    if (!lanes) {
      fail("--target-cpu: " + llvm::toString(lanes.takeError()));
      return failure();
    }
    opts.vectorWidth = *lanes;
  }
  if (!scheduleFile.empty()) {
    if (!llvm::sys::fs::is_regular_file(scheduleFile)) {
      fail("--schedule: cannot read '" + scheduleFile +
           "' (expected a transform-dialect .mlir file)");
      return failure();
    }
    if (scheduleFile.find_first_of(",{}") != std::string::npos) {
      fail("--schedule: the path may not contain ',', '{' or '}'");
      return failure();
    }
    opts.scheduleFile = scheduleFile;
  }
  // The cost model's constants: --cost-model, else $SEQMIX_COST_MODEL.
  ::seqmix::Machine machine = ::seqmix::Machine::hostCpu();
  std::string costModel = driver.costModelFile;
  const char *costModelFlag = "--cost-model";
  if (costModel.empty() && driver.costModelFromEnv)
    if (const char *env = std::getenv("SEQMIX_COST_MODEL"); env && *env) {
      costModel = env;
      costModelFlag = "SEQMIX_COST_MODEL";
    }
  if (!costModel.empty()) {
    llvm::Expected<::seqmix::Machine> table =
        ::seqmix::loadCostTable(costModel);
    if (!table) {
      fail(llvm::Twine(costModelFlag) + ": " +
           llvm::toString(table.takeError()));
      return failure();
    }
    machine = *table;
    opts.costModelFile = costModel;
  }
  // The target: the flag, else the spec's field.
  opts.target = !driver.target.empty() ? driver.target
                : c.spec               ? c.spec->target
                                       : "cpu";
  if (opts.target != "cpu" && opts.target != "cuda" &&
      opts.target != "gpu-emulation") {
    fail("--target must be cpu or cuda, got '" + opts.target + "'");
    return failure();
  }
  opts.gpuTensorCores = driver.tensorCores;
  opts.gpuRowRuns = driver.rowRuns;
  if (opts.target == "cuda") {
    if (llvm::Error e = checkGpuArch(driver.gpuArch)) {
      fail("--gpu-arch: " + llvm::toString(std::move(e)));
      return failure();
    }
    if (driver.gpuFormat != "isa" && driver.gpuFormat != "bin" &&
        driver.gpuFormat != "host") {
      fail("internal error: GPU binary format '" + driver.gpuFormat + "'");
      return failure();
    }
    opts.gpuArch = driver.gpuArch;
    // mma.sync m16n8k16 with bf16 operands needs sm_80.
    unsigned cc = 0;
    (void)StringRef(driver.gpuArch).drop_front(3).consumeInteger(10, cc);
    opts.gpuTensorCores = opts.gpuTensorCores && cc >= 80;
    opts.gpuFormat = driver.gpuFormat;
    // Only the last phase serializes: earlier stops need no toolkit.
    if (to == Phase::LLVM) {
      llvm::Expected<std::string> toolkit = findCudaToolkit();
      if (!toolkit) {
        fail(llvm::toString(toolkit.takeError()));
        return failure();
      }
      if (toolkit->find_first_of(" ,{}") != std::string::npos) {
        fail("the CUDA toolkit's path may not contain ' ', ',', '{' or '}': " +
             *toolkit);
        return failure();
      }
      opts.cudaToolkit = *toolkit;
    }
  }
  c.target = opts.target;
  // AVX512-BF16 dot products: on demand, or where the cost table rates them
  // faster than f32 FMAs in a register tile (CPU only).
  const std::string &bf16Dot = driver.bf16Dot;
  if (bf16Dot != "auto" && bf16Dot != "on" && bf16Dot != "off") {
    fail("--bf16-dot must be auto, on or off, got '" + bf16Dot + "'");
    return failure();
  }
  if (bf16Dot != "off" && opts.target == "cpu") {
    llvm::Expected<bool> has = cpuHasBf16Dot(targetCpu);
    if (!has) {
      fail("--target-cpu: " + llvm::toString(has.takeError()));
      return failure();
    }
    if (bf16Dot == "on" && !*has) {
      fail("--bf16-dot=on: the target CPU (" + targetCpu +
           ") has no AVX512-BF16 dot product");
      return failure();
    }
    opts.bf16Dot = *has && (bf16Dot == "on" || machine.bf16DotSpeedup > 1);
  }
  // For the metadata, one line whatever the path holds.
  std::string costModelName = costModel.empty() ? "built-in" : costModel;
  std::replace(costModelName.begin(), costModelName.end(), '\n', ' ');
  if (opts.form != "auto" && !symbolizeFormKind(opts.form)) {
    fail("--form must be auto, parallel, chunked or recurrent, got '" +
         opts.form + "'");
    return failure();
  }
  if (chunkSize < 0 || chunkSize > kMaxChunkSize) {
    fail("--chunk-size must be between 1 and " + llvm::Twine(kMaxChunkSize) +
         " (or 0 to choose), got " + llvm::Twine(int64_t(chunkSize)));
    return failure();
  }
  if (chunkSize > 0 && opts.form != "chunked" && opts.form != "auto") {
    // A cross-check compilation in another form ignores the chunk size.
    if (!formOverride) {
      fail("--chunk-size applies to --form=chunked or auto only");
      return failure();
    }
    opts.chunkSize = 0;
  }
  // Run phase by phase: the forms are read after select-forms (before
  // lowering removes the ops) and the ABI at the last tensor-level phase.
  Phase abiPhase = Phase::Schedule;
  if (needMetadata && static_cast<int>(from) > static_cast<int>(abiPhase)) {
    fail("emitting a layer needs input before the bufferize phase (the "
         "runtime ABI is read from the tensor-level entry function)");
    return failure();
  }
  if (needMetadata && from == Phase::SelectForms) {
    // The select-forms phase, which checks the entry's dimension names
    // against the seqmix ops, is skipped for this input: check them here.
    PassManager pm(&ctx);
    pm.addPass(createSeqMixAnnotateEntryDims());
    if (failed(pm.run(*c.module)))
      return failure();
  }
  if (needMetadata && static_cast<int>(from) > int(Phase::SelectForms)) {
    // The ops are lowered: nothing can tie dynamic sizes together any more.
    for (func::FuncOp fn : c.module->getOps<func::FuncOp>()) {
      if (!fn.isPublic() || fn.isExternal())
        continue;
      auto types =
          llvm::concat<const Type>(fn.getArgumentTypes(), fn.getResultTypes());
      for (Type t : types)
        if (auto r = dyn_cast<RankedTensorType>(t); r && !r.hasStaticShape()) {
          fail("emitting a layer from input at phase " + phaseName(from) +
               " needs static shapes (entry type " + llvmToString(t) +
               " is dynamic): the dimension names of dynamic sizes are "
               "checked against the seqmix ops, which are lowered by then; "
               "compile from import or select-forms");
          return failure();
        }
    }
  }
  // One "costs" metadata line per op: the cost model's estimate of each form.
  std::string costLines;
  auto collectForms = [&] {
    c.module->walk([&](Operation *op) {
      if (FormAttr f = op->getAttrOfType<FormAttr>(kFormAttrName)) {
        c.formSummary += (c.formSummary.empty() ? "" : ", ") + describeForm(op);
        if (std::optional<FormEstimates> est = estimateForms(op, machine))
          costLines += "costs " + est->sizes() + " " + est->candidates() + "\n";
      }
    });
  };
  Phase done = from;
  std::string limits;
  for (Phase stop : {Phase::SelectForms, abiPhase, to}) {
    if (static_cast<int>(stop) > static_cast<int>(to) ||
        static_cast<int>(stop) <= static_cast<int>(done))
      continue;
    if (failed(runPhases(*c.module, done, stop, opts)))
      return failure();
    done = stop;
    if (stop == Phase::SelectForms) {
      collectForms();
      FailureOr<std::string> l = workspaceLimits(*c.module);
      if (failed(l))
        return failure();
      limits = *l;
    }
    if (stop == abiPhase && needMetadata) {
      FailureOr<std::string> meta = buildAbiMetadata(*c.module);
      if (failed(meta))
        return failure();
      c.metadata = *meta;
      if (!c.formSummary.empty())
        c.metadata += "forms " + c.formSummary + "\n" + costLines +
                      "cost-model " + costModelName + "\n";
      c.metadata += limits;
      // A cuda layer's runtime needs the driver and a device of this kind.
      if (opts.target == "cuda")
        c.metadata += "target cuda " + opts.gpuArch + "\n";
    }
  }
  return c;
}

std::optional<std::string> mlir::seqmix::checkWritable(llvm::StringRef path,
                                                       bool &created) {
  if (llvm::sys::fs::is_directory(path))
    return "cannot write '" + path.str() +
           "': it is a directory; give -o a "
           "file name";
  created = !llvm::sys::fs::exists(path);
  int fd = -1;
  if (std::error_code ec = llvm::sys::fs::openFileForWrite(
          path, fd, llvm::sys::fs::CD_OpenAlways, llvm::sys::fs::OF_None)) {
    std::string hint = ec == std::errc::filename_too_long
                           ? "give a shorter -o path (without -o the file "
                             "is named after the layer)"
                           : "check the -o path";
    return "cannot write '" + path.str() + "': " + ec.message() + "; " + hint;
  }
  llvm::sys::Process::SafelyCloseFileDescriptor(fd);
  return std::nullopt;
}

LogicalResult mlir::seqmix::emitNative(Compilation &c, llvm::StringRef kind,
                                       llvm::StringRef path,
                                       const DriverOptions &opts,
                                       std::string &text, DriverErrorFn fail) {
  bool binary = kind == "obj" || kind == "so";
  bool created = false;
  if (binary)
    if (std::optional<std::string> why = checkWritable(path, created)) {
      fail(*why);
      return failure();
    }
  // A new file made by checkWritable goes away again when anything fails.
  auto failAndClean = [&](const llvm::Twine &msg) {
    if (created)
      llvm::sys::fs::remove(path);
    if (!msg.isTriviallyEmpty())
      fail(msg);
    return failure();
  };
  auto tm = createCpuTargetMachine(opts.targetCpu);
  if (!tm)
    return failAndClean("cannot create a target machine for CPU '" +
                        opts.targetCpu +
                        "': " + llvm::toString(tm.takeError()));
  llvm::LLVMContext llvmCtx;
  auto llvmModule =
      translateToOptimizedLLVMIR(*c.module, llvmCtx, **tm, c.metadata);
  if (!llvmModule)
    return failAndClean("");
  if (kind == "llvm") {
    llvm::raw_string_ostream os(text);
    llvmModule->print(os, nullptr);
    return success();
  }
  std::string err;
  if (kind == "asm") {
    FailureOr<std::string> asmText = emitAssembly(*llvmModule, **tm, err);
    if (failed(asmText)) {
      fail(err);
      return failure();
    }
    text = std::move(*asmText);
    return success();
  }
  if (kind == "obj")
    return succeeded(emitObjectFile(*llvmModule, **tm, path, err))
               ? success()
               : failAndClean(err);
  if (kind != "so") {
    fail("cannot emit '" + kind + "': expected llvm, asm, obj or so");
    return failure();
  }
  llvm::SmallString<128> obj;
  if (auto ec = llvm::sys::fs::createTemporaryFile("seqmix", "o", obj))
    return failAndClean("cannot create a temporary file: " + ec.message());
  bool ok =
      succeeded(emitObjectFile(*llvmModule, **tm, obj, err)) &&
      succeeded(linkSharedLibrary(obj, path, usesOpenMP(*llvmModule),
                                  definedExternalSymbols(*llvmModule), err));
  llvm::sys::fs::remove(obj);
  return ok ? success() : failAndClean(err);
}
