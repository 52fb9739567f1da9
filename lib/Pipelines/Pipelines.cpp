//===- Pipelines.cpp - the seqmix compilation phases ----------------------===//
#include "seqmix/Pipelines/Pipelines.h"

#include "seqmix/SeqMixDialect.h"
#include "seqmix/Transforms/Passes.h"

#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Target/LLVM/NVVM/Target.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/GPU/GPUToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/NVVM/NVVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/OpenMP/OpenMPToLLVMIRTranslation.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/Triple.h"

#include <deque>

using namespace mlir;
using namespace mlir::seqmix;

static const char *const kPhaseNames[] = {
    "import", "select-forms", "lower-forms", "schedule", "bufferize", "llvm"};

std::optional<Phase> mlir::seqmix::parsePhase(StringRef name) {
  for (auto [i, n] : llvm::enumerate(kPhaseNames))
    if (name == n)
      return static_cast<Phase>(i);
  return std::nullopt;
}

StringRef mlir::seqmix::phaseName(Phase phase) {
  return kPhaseNames[static_cast<int>(phase)];
}

std::string mlir::seqmix::phaseList() {
  std::string s;
  for (auto [i, n] : llvm::enumerate(kPhaseNames))
    s += (i ? ", " : "") + std::string(n);
  return s;
}

/// Upstream passes of each phase, as pass-pipeline text (no anchor).
static const char *upstreamPasses(Phase phase, const CompileOptions &opts) {
  switch (phase) {
  case Phase::Import:
  case Phase::SelectForms:
    return "";
  case Phase::LowerForms:
    return "canonicalize,cse";
  case Phase::Schedule:
    // The default CPU schedule (after generalizing named ops and ordering
    // loops for unit stride): hoist loop invariants and clean up. Tiling and
    // vectorization strategies plug in here.
    return "func.func(loop-invariant-code-motion),canonicalize,cse";
  case Phase::Bufferize:
    return "eliminate-empty-tensors,"
           "one-shot-bufferize{bufferize-function-boundaries "
           "function-boundary-type-conversion=identity-layout-map},"
           "canonicalize,buffer-deallocation-pipeline,canonicalize";
  case Phase::LLVM:
    if (opts.openmp)
      // The (batch, head) forall becomes an OpenMP parallel loop.
      // finalize-memref-to-llvm must precede convert-scf-to-cf here, or the
      // alloca scopes of the OpenMP regions fail to verify.
      // Block scratch moves to each thread's stack once the threads exist.
      return "convert-linalg-to-loops,scf-forall-to-parallel,"
             "convert-scf-to-openmp,seqmix-hoist-scratch,"
             "expand-strided-metadata,lower-affine,"
             "convert-vector-to-llvm{enable-x86vector},finalize-memref-to-llvm{"
             "use-generic-"
             "functions},"
             "convert-scf-to-cf,"
             "convert-math-to-llvm,convert-complex-to-llvm,"
             "convert-arith-to-llvm,convert-index-to-llvm,"
             "convert-openmp-to-llvm,convert-func-to-llvm,convert-cf-to-llvm,"
             "convert-ub-to-llvm,reconcile-unrealized-casts";
    return "convert-linalg-to-loops,scf-forall-to-for,seqmix-hoist-scratch,"
           "convert-scf-to-cf,"
           "expand-strided-metadata,lower-affine,convert-vector-to-llvm{enable-"
           "x86vector},"
           "finalize-memref-to-llvm{use-generic-functions},"
           "convert-math-to-llvm,convert-complex-to-llvm,convert-arith-to-llvm,"
           "convert-index-to-llvm,"
           "convert-func-to-llvm,convert-cf-to-llvm,convert-ub-to-llvm,"
           "reconcile-unrealized-casts";
  }
  return "";
}

/// Whether the code will run on a CPU with AVX-512F: this machine's, or the
/// --target-cpu's, whose f32 vector width the driver resolved (16 lanes on
/// x86 only with AVX-512F).
static bool targetHasAvx512(const CompileOptions &opts) {
  if (opts.target != "cpu")
    return false;
  if (!llvm::Triple(llvm::sys::getProcessTriple()).isX86())
    return false;
  if (opts.vectorWidth)
    return opts.vectorWidth == 16;
  return llvm::sys::getHostCPUFeatures().lookup("avx512f");
}

/// Bytes of dynamic shared memory a block may have on `arch` (the opt-in
/// maximum of the CUDA programming guide's table): 227 KiB on sm_90 and
/// sm_100, 163 KiB on sm_80 and sm_87, 99 KiB on sm_86 and sm_89, 96 KiB on
/// sm_70, 64 KiB on sm_75.
static int64_t maxSharedBytes(StringRef arch) {
  StringRef cc = arch.drop_front(3).take_while(llvm::isDigit);
  if (cc == "80" || cc == "87")
    return 163 * 1024;
  if (cc == "86" || cc == "89")
    return 99 * 1024;
  if (cc == "70" || cc == "72")
    return 96 * 1024;
  if (cc == "75")
    return 64 * 1024;
  return 227 * 1024;
}

/// The cuda target's passes of `phase` (GPU_CODEGEN.md 4, stage 1): the
/// lowered layer, bufferized as for the CPU, is spread over blocks and
/// threads (seqmix-gpu-distribute), outlined into one gpu.module, lowered to
/// NVVM and serialized by ptxas.
static LogicalResult addGpuPhasePasses(OpPassManager &pm, Phase phase,
                                       const CompileOptions &opts) {
  auto add = [&](StringRef text) -> LogicalResult {
    std::string err;
    llvm::raw_string_ostream os(err);
    if (succeeded(parsePassPipeline(text, pm, os)))
      return success();
    llvm::errs() << "internal error: bad GPU pipeline for phase "
                 << phaseName(phase) << ": " << err << "\n";
    return failure();
  };
  switch (phase) {
  case Phase::Schedule:
    // No CPU register tiles: the linalg ops go to threads after
    // bufferization.
    return add("linalg-generalize-named-ops,canonicalize,cse");
  case Phase::LLVM:
    break;
  default:
    // Select-forms, lower-forms and bufferization are the CPU's.
    return addPhasePasses(pm, phase, opts, /*cpu=*/true);
  }
  if (opts.target == "gpu-emulation") {
    // The GPU schedule emulated on the host (a test without a GPU), then
    // the CPU's last phase.
    SeqMixGpuDistributeOptions o;
    o.emulate = true;
    o.tensorCores = opts.gpuTensorCores;
    o.rowRuns = opts.gpuRowRuns;
    pm.addPass(createSeqMixGpuDistribute(o));
    return addPhasePasses(pm, phase, opts, /*cpu=*/true);
  }
  SeqMixGpuDistributeOptions o;
  o.maxSharedBytes = maxSharedBytes(opts.gpuArch);
  o.tensorCores = opts.gpuTensorCores;
  o.rowRuns = opts.gpuRowRuns;
  pm.addPass(createSeqMixGpuDistribute(o));
  // The vector code some lowerings write themselves (the selective scan's
  // lanes of channels) down to loads, stores and arithmetic, before the
  // kernels leave the module (pitfall 4: transfers inside gpu.module are
  // not lowered).
  pm.addPass(createSeqMixLowerVectors());
  // Index computations move into the kernels before outlining (pitfall 6);
  // a self-copy left by bufferization folds (pitfall 8).
  if (failed(
          add("canonicalize,cse,gpu-launch-sink-index-computations,"
              "gpu-kernel-outlining,convert-linalg-to-loops,lower-affine,"
              "canonicalize,cse,nvvm-attach-target{chip=" +
              opts.gpuArch +
              " O=3},gpu.module(convert-scf-to-cf,expand-strided-metadata,"
              "lower-affine,convert-nvgpu-to-nvvm,convert-gpu-to-nvvm,"
              "canonicalize,cse,"
              "reconcile-unrealized-casts,seqmix-gpu-finalize-kernels),"
              "gpu-module-to-binary{format=" +
              (opts.gpuFormat == "host" ? std::string("bin") : opts.gpuFormat) +
              (opts.cudaToolkit.empty() ? "" : " toolkit=" + opts.cudaToolkit) +
              "}")))
    return failure();
  if (opts.gpuFormat != "host")
    return success();
  // The host code around the launches, for a shared library: each call's
  // launches and device buffers in one stream (gpu-async-region), lowered to
  // calls of the mgpu* functions every cuda layer carries (LayerCuda.c),
  // under the CPU's entry convention.
  pm.addPass(createSeqMixHideEntry());
  if (failed(add("func.func(gpu-async-region),convert-scf-to-cf,"
                 "expand-strided-metadata,lower-affine,"
                 "finalize-memref-to-llvm{use-generic-functions},"
                 "convert-math-to-llvm,convert-arith-to-llvm,"
                 "convert-index-to-llvm,convert-func-to-llvm,"
                 "convert-cf-to-llvm,gpu-to-llvm,convert-ub-to-llvm,"
                 "reconcile-unrealized-casts")))
    return failure();
  pm.addPass(createSeqMixExportEntry());
  return success();
}

LogicalResult mlir::seqmix::addPhasePasses(OpPassManager &pm, Phase phase,
                                           const CompileOptions &opts,
                                           bool cpu) {
  if ((opts.target == "cuda" || opts.target == "gpu-emulation") && !cpu)
    return addGpuPhasePasses(pm, phase, opts);
  switch (phase) {
  case Phase::SelectForms: {
    SeqMixSelectFormsOptions o;
    o.form = opts.form;
    o.chunkSize = opts.chunkSize;
    o.emitRemarks = opts.remarks;
    o.costModel = opts.costModelFile;
    pm.addPass(createSeqMixAnnotateEntryDims());
    pm.addPass(createSeqMixSelectForms(o));
    return success();
  }
  case Phase::LowerForms: {
    SeqMixLowerFormsOptions o;
    // A serial build runs on one thread: split-KV would only add a merge.
    o.workers = opts.openmp && opts.target == "cpu" ? opts.workers : 1;
    o.avx512 = targetHasAvx512(opts);
    // On the GPU the scan's lanes are threads (seqmix-gpu-distribute's
    // lanes-on-threads): a block of 128 channels, one per thread.
    if (opts.target == "cuda" || opts.target == "gpu-emulation")
      o.channelBlock = 128;
    pm.addPass(createSeqMixLowerForms(o));
    break;
  }
  case Phase::Schedule: {
    // Register tiles for every contraction, then the remaining (partial or
    // elementwise) linalg ops in unit-stride loop order.
    std::string err;
    llvm::raw_string_ostream os(err);
    if (!opts.scheduleFile.empty()) {
      // A user's transform script replaces the built-in register tiling.
      if (failed(parsePassPipeline("transform-preload-library{transform-"
                                   "library-paths=" +
                                       opts.scheduleFile +
                                       "},transform-interpreter",
                                   pm, os))) {
        llvm::errs() << "internal error: bad schedule pipeline: " << err
                     << "\n";
        return failure();
      }
    } else {
      SeqMixTileContractionsOptions tiles;
      tiles.vectorWidth = opts.vectorWidth;
      tiles.bf16Dot = opts.bf16Dot;
      pm.addPass(createSeqMixTileContractions(tiles));
    }
    if (failed(parsePassPipeline("linalg-generalize-named-ops", pm, os)))
      return failure();
    pm.addPass(createSeqMixInterchangeForUnitStride());
    break;
  }
  case Phase::Bufferize:
    pm.addPass(createSeqMixDestinationPassingEntry());
    break;
  case Phase::LLVM:
    pm.addPass(createSeqMixHideEntry());
    {
      SeqMixVectorizeRowsOptions rows;
      rows.vectorWidth = opts.vectorWidth;
      pm.addPass(createSeqMixVectorizeRows(rows));
    }
    pm.addPass(createSeqMixLowerVectors());
    pm.addPass(createSeqMixExpandMemRefCopies());
    pm.addPass(createSeqMixApproximateExp());
    pm.addPass(createSeqMixPrefetchBlocks());
    break;
  default:
    break;
  }
  StringRef text = upstreamPasses(phase, opts);
  if (!text.empty()) {
    std::string err;
    llvm::raw_string_ostream os(err);
    if (failed(parsePassPipeline(text, pm, os))) {
      llvm::errs() << "internal error: bad pipeline for phase "
                   << phaseName(phase) << ": " << err << "\n";
      return failure();
    }
  }
  if (phase == Phase::LLVM)
    pm.addPass(createSeqMixExportEntry());
  return success();
}

void mlir::seqmix::registerSeqMixDialects(DialectRegistry &registry) {
  registry.insert<SeqMixDialect>();
  registerAllDialects(registry);
  registerAllExtensions(registry);
  registerBuiltinDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
  registerOpenMPDialectTranslation(registry);
  // The GPU target: gpu.module to NVVM IR, and #nvvm.target's serialization
  // to PTX and cubin (ptxas from CUDA_HOME or PATH).
  registerGPUDialectTranslation(registry);
  gpu::registerOffloadingLLVMTranslationInterfaceExternalModels(registry);
  registerNVVMDialectTranslation(registry);
  NVVM::registerNVVMTargetInterfaceExternalModels(registry);
}

void mlir::seqmix::registerSeqMixPassesAndPipelines() {
  registerAllPasses();
  registerSeqMixPasses();
  struct PipelineOptions : public PassPipelineOptions<PipelineOptions> {
    Option<std::string> form{*this, "form",
                             llvm::cl::desc("auto|parallel|chunked|recurrent"),
                             llvm::cl::init("auto")};
    Option<int64_t> chunkSize{*this, "chunk-size",
                              llvm::cl::desc("chunk size (0 = auto)"),
                              llvm::cl::init(0)};
    Option<bool> openmp{*this, "openmp",
                        llvm::cl::desc("run the (batch, head) loop on "
                                       "OpenMP threads"),
                        llvm::cl::init(true)};
    Option<int64_t> workers{*this, "workers",
                            llvm::cl::desc("threads the code runs on, for "
                                           "split-KV decode (0 = this "
                                           "machine's)"),
                            llvm::cl::init(0)};
  };
  auto upTo = [](Phase last) {
    return [last](OpPassManager &pm, const PipelineOptions &o) {
      CompileOptions opts;
      opts.form = o.form;
      opts.chunkSize = o.chunkSize;
      opts.openmp = o.openmp;
      opts.workers = o.workers;
      for (int p = static_cast<int>(Phase::SelectForms);
           p <= static_cast<int>(last); ++p)
        (void)addPhasePasses(pm, static_cast<Phase>(p), opts);
    };
  };
  PassPipelineRegistration<PipelineOptions>(
      "seqmix-cpu-pipeline",
      "Compile seqmix IR down to the LLVM dialect for the CPU",
      upTo(Phase::LLVM));
  for (int p = static_cast<int>(Phase::SelectForms);
       p < static_cast<int>(Phase::LLVM); ++p) {
    static std::deque<std::string> names, docs;
    names.push_back("seqmix-to-" + phaseName(static_cast<Phase>(p)).str());
    docs.push_back("Run the seqmix phases up to and including " +
                   phaseName(static_cast<Phase>(p)).str());
    PassPipelineRegistration<PipelineOptions>(names.back(), docs.back(),
                                              upTo(static_cast<Phase>(p)));
  }
}
