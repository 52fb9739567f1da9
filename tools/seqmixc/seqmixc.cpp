//===- seqmixc.cpp - the seqmix compiler driver ---------------------------===//
//
//   seqmixc [options] <layer.json | file.mlir>      compile a layer
//   seqmixc run [options] <layer.json>              compile, run on seeded
//                                                   inputs, check against the
//                                                   reference, time it
//
//===----------------------------------------------------------------------===//
#include "seqmix-c/Runtime.h"
#include "seqmix/Analysis/CostTable.h"
#include "seqmix/Analysis/FormCostModel.h"
#include "seqmix/Driver/Driver.h"
#include "seqmix/Pipelines/Pipelines.h"
#include "seqmix/SeqMixDialect.h"
#include "seqmix/Spec/ImportSpec.h"
#include "seqmix/Spec/LayerSpec.h"
#include "seqmix/Support/Nesting.h"
#include "seqmix/Target/CPU.h"
#include "seqmix/Target/GPU.h"
#include "seqmix/Testing/LayerHarness.h"
#include "seqmix/Transforms/Passes.h"
#include "seqmix/Transforms/SelectForms.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Support/Timing.h"
#include "llvm/Config/llvm-config.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <unistd.h>

using namespace mlir;
using namespace mlir::seqmix;
namespace cl = llvm::cl;

static cl::OptionCategory compileCat("seqmixc compilation options");
static cl::OptionCategory runCat("seqmixc run options");

static cl::opt<std::string> inputFile(cl::Positional,
                                      cl::desc("<layer.json | input.mlir>"),
                                      cl::init("-"), cl::cat(compileCat));
static cl::opt<std::string> outputFile("o",
                                       cl::desc("Output file ('-' for stdout)"),
                                       cl::value_desc("file"), cl::init(""),
                                       cl::cat(compileCat));
static cl::opt<std::string> compileTo(
    "compile-to",
    cl::desc("Stop after this phase and print its IR: import, select-forms, "
             "lower-forms, schedule, bufferize, llvm"),
    cl::value_desc("phase"), cl::init(""), cl::cat(compileCat));
static cl::opt<std::string> compileFrom(
    "compile-from",
    cl::desc("The phase the .mlir input is already at (default: import)"),
    cl::value_desc("phase"), cl::init("import"), cl::cat(compileCat));
static cl::opt<std::string> emit(
    "emit",
    cl::desc("What to write: mlir, llvm (LLVM IR), asm, obj, so (shared "
             "library, default "
             "when compiling to the end), metadata (the runtime ABI text); "
             "for the cuda target ptx (the kernels' PTX) or cubin (their "
             "ptxas binary)"),
    cl::value_desc("kind"), cl::init(""), cl::cat(compileCat));
static cl::opt<std::string>
    formOpt("form",
            cl::desc("Computation form of every op: auto (cost "
                     "model), parallel, chunked, recurrent. Default: "
                     "the spec's 'form' field, else auto"),
            cl::value_desc("form"), cl::init(""), cl::cat(compileCat));
static cl::opt<int64_t>
    chunkSize("chunk-size",
              cl::desc("Chunk size of the chunked form (0 = choose)"),
              cl::init(0), cl::cat(compileCat));
static cl::opt<std::string>
    target("target",
           cl::desc("Target: cpu or cuda (NVIDIA GPUs: --emit=ptx or cubin). "
                    "Default: the spec's 'target' field, else cpu"),
           cl::value_desc("cpu|cuda"), cl::init(""), cl::cat(compileCat));
static cl::opt<bool> gpuEmulation(
    "gpu-emulation",
    cl::desc("Test: compile the cuda target's schedule for this CPU, each "
             "launch a loop over its blocks with one thread each (seqmixc "
             "run checks it against the reference without a GPU)"),
    cl::init(false), cl::Hidden, cl::cat(compileCat));
static cl::opt<std::string>
    gpuArch("gpu-arch",
            cl::desc("The NVIDIA architecture of the cuda target (default "
                     "sm_90; sm_80, sm_90a, ...)"),
            cl::value_desc("sm_NN"), cl::init("sm_90"), cl::cat(compileCat));
static cl::opt<bool> tensorCores(
    "tensor-cores",
    cl::desc("cuda target, bf16 and f16 layers: compute the contractions "
             "(q k^T, P V, the chunk products) on tensor cores (mma.sync "
             "m16n8k16, f32 accumulation; sm_80 and later). "
             "--tensor-cores=false keeps them on the SIMT cores. f32 layers "
             "always stay SIMT (no silent tf32)"),
    cl::init(true), cl::cat(compileCat));
static cl::opt<bool> rowRuns(
    "row-runs",
    cl::desc("cuda target with tensor cores: run a block's row-local ops "
             "around a contraction (softmax's key-block step, a chunk's "
             "intra-chunk part) FA2-style on each warp's 16 rows, S and P in "
             "the mma fragments' registers. --row-runs=false: each op on the "
             "whole block, its temporaries in shared memory"),
    cl::init(true), cl::cat(compileCat));
static cl::opt<std::string>
    targetCpu("target-cpu",
              cl::desc("CPU to generate code for (default: host)"),
              cl::init("host"), cl::cat(compileCat));
static cl::opt<std::string> bf16Dot(
    "bf16-dot",
    cl::desc("bf16 layers: compute the products of two bf16 activations (q "
             "k^T, ...) with AVX512-BF16 dot products (vdpbf16ps): auto "
             "(when the target has them and the cost table's "
             "bf16_dot_speedup exceeds 1), on (the target must have them), "
             "off"),
    cl::value_desc("auto|on|off"), cl::init("auto"), cl::cat(compileCat));
static cl::opt<bool>
    remarks("remarks",
            cl::desc("Report each form decision (with candidate costs)"),
            cl::init(false), cl::cat(compileCat));
static cl::opt<std::string> threading(
    "threading",
    cl::desc("How the independent (batch, head) slices run: openmp (threads "
             "of LLVM's libomp; OMP_NUM_THREADS sets how many) or none"),
    cl::value_desc("kind"), cl::init("openmp"), cl::cat(compileCat));
static cl::opt<std::string> scheduleFile(
    "schedule",
    cl::desc("A transform-dialect script (@__transform_main) to run as the "
             "schedule phase instead of the built-in CPU schedule"),
    cl::value_desc("file.mlir"), cl::init(""), cl::cat(compileCat));
static cl::opt<std::string> costModelFile(
    "cost-model",
    cl::desc("A JSON table of the cost model's machine constants, as "
             "seqmix-bench --calibrate writes it, for form: auto (default: "
             "$SEQMIX_COST_MODEL, else the built-in table)"),
    cl::value_desc("table.json"), cl::init(""), cl::cat(compileCat));
static cl::opt<int64_t> workers(
    "workers",
    cl::desc("Threads the layer will run on, for split-KV decode of softmax "
             "attention (0: this machine's hardware threads)"),
    cl::init(0), cl::cat(compileCat));

static cl::opt<int64_t>
    runBatch("batch", cl::desc("run: batch size (default: spec, else 2)"),
             cl::init(0), cl::cat(runCat));
static cl::list<int64_t>
    runSeqLens("seq-len",
               cl::desc("run: sequence lengths, comma separated "
                        "(default: spec, else 64)"),
               cl::CommaSeparated, cl::cat(runCat));
static cl::opt<int64_t>
    runKvLen("kv-len",
             cl::desc("run: key/value length for a softmax spec with a dynamic "
                      "kv_len (default: the spec's, else the sequence length)"),
             cl::init(0), cl::cat(runCat));
static cl::opt<uint64_t> runSeed("seed", cl::desc("run: input seed"),
                                 cl::init(0), cl::cat(runCat));
static cl::opt<unsigned>
    runReps("reps", cl::desc("run: timed calls per length (median)"),
            cl::init(5), cl::cat(runCat));
static cl::opt<std::string>
    runLayer("layer",
             cl::desc("run: use this compiled layer (.so) instead of "
                      "compiling the spec"),
             cl::value_desc("file.so"), cl::init(""), cl::cat(runCat));
static cl::opt<std::string> runGates(
    "gates",
    cl::desc("run: log gates to generate: default (FORMS.md 7.3), strong "
             "(alpha ~ 0.5), reset (a hard reset g = -1e4 every 37 tokens); "
             "for selective_scan the delta: strong (delta ~ 4), reset "
             "(delta_raw 1e3 and -30 once every 37 tokens); for lti_scan "
             "the steps: strong (dt in [1, 10]), reset (dt 1e3 and 1e-7 on "
             "alternate channels)"),
    cl::value_desc("regime"), cl::init("default"), cl::cat(runCat));
static cl::opt<std::string> runKeys(
    "keys",
    cl::desc("run: keys to generate (delta_rule): default (FORMS.md 7.3), "
             "colinear (runs of 4 equal keys, beta = 2 on every third token, "
             "FORMS.md 7.6)"),
    cl::value_desc("regime"), cl::init("default"), cl::cat(runCat));
static cl::list<std::string> runCrossCheck(
    "cross-check",
    cl::desc("run: also compile the layer in these forms (JIT, comma "
             "separated) and check each against the reference and against "
             "the main form on every output"),
    cl::value_desc("forms"), cl::CommaSeparated, cl::cat(runCat));
static cl::opt<bool> runReference(
    "reference",
    cl::desc("run: compare with the double-precision reference (default "
             "on; --reference=false only times the layer, for shapes whose "
             "reference would take minutes)"),
    cl::init(true), cl::cat(runCat));
static cl::opt<bool> runCheckSplit(
    "check-split",
    cl::desc("run: also run each sequence in two calls, the second starting "
             "from the first's final state (prefill then continue), at "
             "T1 = 1 and T/2, and check both against the reference (needs "
             "initial and final state and a dynamic seq_len)"),
    cl::init(false), cl::cat(runCat));
static cl::opt<bool>
    runJit("jit",
           cl::desc("run: execute through the JIT instead of a compiled .so"),
           cl::init(false), cl::cat(runCat));

namespace {
int fail(const llvm::Twine &msg) {
  llvm::outs().flush();
  llvm::errs() << "seqmixc: error: " << msg << "\n";
  return 1;
}

bool isSpecFile(llvm::StringRef path) { return path.ends_with(".json"); }

/// seqmixc's flags as driver options.
DriverOptions driverOptions() {
  DriverOptions o;
  o.form = formOpt;
  o.chunkSize = chunkSize;
  o.remarks = remarks;
  o.threading = threading;
  o.workers = workers;
  o.targetCpu = targetCpu;
  o.scheduleFile = scheduleFile;
  o.costModelFile = costModelFile;
  o.bf16Dot = bf16Dot;
  o.target = gpuEmulation ? std::string("gpu-emulation") : target;
  o.gpuArch = gpuArch;
  o.tensorCores = tensorCores;
  o.rowRuns = rowRuns;
  o.gpuFormat = emit == "cubin" ? "bin"
                : emit == "ptx" || emit == "mlir" || emit == "metadata"
                    ? "isa"
                    : "host";
  return o;
}

/// Loads the input and compiles it from `from` up to `to`.
FailureOr<Compilation>
compile(MLIRContext &ctx, llvm::SourceMgr &sm, Phase from, Phase to,
        bool needMetadata,
        std::optional<std::string> formOverride = std::nullopt) {
  DriverInput input{inputFile, std::nullopt, isSpecFile(inputFile)};
  return compileLayer(
      ctx, sm, input, from, to, needMetadata, driverOptions(),
      [](const llvm::Twine &msg) { fail(msg); }, formOverride);
}

/// Writes `text` to -o (or stdout).
int writeText(llvm::StringRef text, llvm::StringRef path) {
  std::string err;
  auto out = openOutputFile(path.empty() ? "-" : path, &err);
  if (!out)
    return fail(err);
  out->os() << text;
  out->keep();
  return 0;
}

/// Writes a binary file's contents to stdout.
int copyToStdout(llvm::StringRef file) {
  auto buf = llvm::MemoryBuffer::getFile(file, /*IsText=*/false);
  if (!buf)
    return fail("cannot read back '" + file + "': " + buf.getError().message());
  llvm::outs() << (*buf)->getBuffer();
  llvm::outs().flush();
  return 0;
}

int emitNative(Compilation &c, llvm::StringRef kind, std::string path) {
  bool binary = kind == "obj" || kind == "so";
  bool toStdout = path == "-";
  if (binary && toStdout && llvm::sys::Process::StandardOutIsDisplayed())
    return fail("refusing to write --emit=" + kind +
                " (binary) to a terminal; redirect stdout or give -o <file>");
  std::string name = c.spec ? c.spec->name : "layer";
  if (binary && path.empty())
    path = name + (kind == "obj" ? ".o" : ".so");
  // Binary output to stdout goes through a temporary file.
  llvm::SmallString<128> out(path);
  if (binary && toStdout)
    if (auto ec = llvm::sys::fs::createTemporaryFile(
            "seqmix-out", kind == "obj" ? "o" : "so", out))
      return fail("cannot create a temporary file: " + ec.message());
  std::string text;
  bool ok = succeeded(
      mlir::seqmix::emitNative(c, kind, out, driverOptions(), text,
                               [](const llvm::Twine &msg) { fail(msg); }));
  int rc = !ok        ? 1
           : !binary  ? writeText(text, path)
           : toStdout ? copyToStdout(out)
                      : 0;
  if (binary && toStdout)
    llvm::sys::fs::remove(out);
  return rc;
}

/// The kernels of a layer compiled for the cuda target: PTX text or cubin.
int emitGpu(Compilation &c, llvm::StringRef kind, const std::string &path) {
  llvm::Expected<std::string> object = gpuBinaryObject(*c.module);
  if (!object)
    return fail(llvm::toString(object.takeError()));
  if (kind == "ptx")
    return writeText(*object, path);
  bool toStdout = path.empty() || path == "-";
  if (toStdout && llvm::sys::Process::StandardOutIsDisplayed())
    return fail("refusing to write --emit=cubin (binary) to a terminal; "
                "redirect stdout or give -o <file>");
  std::string err;
  auto out = openOutputFile(toStdout ? "-" : path, &err);
  if (!out)
    return fail(err);
  out->os() << *object;
  out->keep();
  return 0;
}

int compileMain(MLIRContext &ctx) {
  std::optional<Phase> to = kLastPhase;
  if (!compileTo.empty() && !(to = parsePhase(compileTo)))
    return fail("--compile-to must be one of " + phaseList() + ", got '" +
                compileTo + "'");
  std::optional<Phase> from = parsePhase(compileFrom);
  if (!from)
    return fail("--compile-from must be one of " + phaseList() + ", got '" +
                compileFrom + "'");
  std::string kind = emit;
  if (kind.empty())
    kind = compileTo.empty() ? "so" : "mlir";
  static const char *kinds[] = {"mlir", "llvm",     "asm", "obj",
                                "so",   "metadata", "ptx", "cubin"};
  if (!llvm::is_contained(kinds, kind))
    return fail("--emit must be mlir, llvm, asm, obj, so, metadata, ptx or "
                "cubin, got '" +
                kind + "'");
  bool gpuKind = kind == "ptx" || kind == "cubin";
  bool native = kind == "llvm" || kind == "asm" || kind == "obj" ||
                kind == "so" || gpuKind;
  if (native && !compileTo.empty() && *to != kLastPhase)
    return fail("--emit=" + kind +
                " needs the whole pipeline; drop --compile-to=" + compileTo);
  llvm::SourceMgr sm;
  SourceMgrDiagnosticHandler handler(sm, &ctx);
  FailureOr<Compilation> c =
      compile(ctx, sm, *from, native ? kLastPhase : *to,
              (native && !gpuKind) || kind == "metadata");
  if (failed(c))
    return 1;
  if (gpuKind && c->target != "cuda")
    return fail("--emit=" + kind +
                " needs the cuda target (--target=cuda "
                "or \"target\": \"cuda\" in the spec)");
  if (gpuKind)
    return emitGpu(*c, kind, outputFile);
  if (kind == "metadata")
    return writeText(c->metadata, outputFile);
  if (kind == "mlir") {
    std::string text;
    llvm::raw_string_ostream os(text);
    c->module->print(os);
    return writeText(text, outputFile);
  }
  return emitNative(*c, kind, outputFile);
}

/// Device copies of a call's tensors, for a layer compiled for the cuda
/// target (its arguments are GPU memory).
struct DeviceArgs {
  std::vector<void *> ptrs;
  std::vector<size_t> bytes;
  std::vector<seqmix_tensor> args;
  DeviceArgs() = default;
  DeviceArgs(const DeviceArgs &) = delete;
  ~DeviceArgs() {
    for (void *p : ptrs)
      seqmix_cuda_free(p);
  }
};

bool runsOnGpu(const seqmix_layer *layer) {
  return llvm::StringRef(seqmix_layer_target(layer)) == "cuda";
}

/// Copies the host tensors `host` of a call of `layer` to the GPU.
std::optional<std::string> toDevice(const seqmix_layer *layer,
                                    const std::vector<seqmix_tensor> &host,
                                    DeviceArgs &dev) {
  for (size_t i = 0; i < host.size(); ++i) {
    llvm::StringRef type = seqmix_layer_arg_dtype(layer, int32_t(i));
    size_t n = type == "complex64" ? 8 : type == "f32" ? 4 : 2;
    for (int32_t d = 0; d < host[i].ndim; ++d)
      n *= size_t(host[i].shape[d]);
    char *err = nullptr;
    void *p = seqmix_cuda_alloc(n, &err);
    if (!p || seqmix_cuda_copy(p, host[i].data, n, 1, &err)) {
      std::string msg = err ? err : "unknown error";
      seqmix_free_error(err);
      seqmix_cuda_free(p);
      return msg;
    }
    dev.ptrs.push_back(p);
    dev.bytes.push_back(n);
    seqmix_tensor t = host[i];
    t.data = p;
    dev.args.push_back(t);
  }
  return std::nullopt;
}

/// Calls `layer`; the error message on failure.
std::optional<std::string> callLayer(seqmix_layer *layer,
                                     const std::vector<seqmix_tensor> &args) {
  if (runsOnGpu(layer)) {
    // Inputs to the GPU, the call there, outputs back into `args`.
    DeviceArgs dev;
    if (std::optional<std::string> err = toDevice(layer, args, dev))
      return err;
    char *err = nullptr;
    if (seqmix_layer_call(layer, dev.args.data(),
                          static_cast<int32_t>(dev.args.size()), &err)) {
      std::string msg = err ? err : "unknown error";
      seqmix_free_error(err);
      return msg;
    }
    for (size_t i = 0; i < args.size(); ++i)
      if (seqmix_layer_arg_is_output(layer, int32_t(i)) &&
          seqmix_cuda_copy(args[i].data, dev.ptrs[i], dev.bytes[i], 0, &err)) {
        std::string msg = err ? err : "unknown error";
        seqmix_free_error(err);
        return msg;
      }
    return std::nullopt;
  }
  char *err = nullptr;
  if (!seqmix_layer_call(layer, args.data(), static_cast<int32_t>(args.size()),
                         &err))
    return std::nullopt;
  std::string msg = err ? err : "unknown error";
  seqmix_free_error(err);
  return msg;
}

/// FORMS.md 7.5 (state splitting): runs tokens [0, T1) and then [T1, T) from
/// the first part's final state, and compares the joined outputs and the
/// last final state with the reference of the whole sequence. Appends what it
/// measured to `os`; false when out of tolerance or a call failed.
bool checkSplit(seqmix_layer *layer, const ::seqmix::LayerSpec &spec,
                const std::vector<::seqmix::HostTensor> &inputs,
                const std::vector<std::vector<double>> &ref, int64_t B,
                int64_t T, int64_t T1, const ::seqmix::Tolerance &tol,
                llvm::raw_ostream &os) {
  std::vector<::seqmix::HostTensor> whole = ::seqmix::makeOutputs(spec, B, T);
  std::vector<float> state; // the first part's final state
  for (auto [t0, t1] : {std::pair{int64_t(0), T1}, std::pair{T1, T}}) {
    std::vector<::seqmix::HostTensor> in;
    for (const ::seqmix::HostTensor &t : inputs)
      in.push_back(::seqmix::sliceSeqLen(t, t0, t1));
    if (t0 > 0)
      in.back().data = state; // initial_state is the last input
    std::vector<::seqmix::HostTensor> out =
        ::seqmix::makeOutputs(spec, B, t1 - t0);
    if (std::optional<std::string> err =
            callLayer(layer, ::seqmix::tensorArgs(in, out))) {
      os << " split@" << T1 << ": call failed: " << *err << ";";
      return false;
    }
    ::seqmix::readBack(out);
    for (size_t i = 0; i < out.size(); ++i)
      ::seqmix::insertSeqLen(whole[i], out[i], t0);
    state = out.back().data; // final_state is the last output
  }
  bool ok = true;
  os << " split@" << T1 << ":";
  for (size_t i = 0; i < whole.size(); ++i) {
    ::seqmix::ErrorStats e =
        ::seqmix::compareToReference(whole[i].data, ref[i]);
    ok &= ::seqmix::withinTolerance(e, tol);
    os << llvm::format(" %s max_rel %.2e;", whole[i].desc.name.c_str(),
                       e.maxRel);
  }
  return ok;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

int runMain(MLIRContext &ctx) {
  if (!isSpecFile(inputFile))
    return fail("seqmixc run needs a layer spec (.json), got '" + inputFile +
                "'");
  llvm::SourceMgr sm;
  SourceMgrDiagnosticHandler handler(sm, &ctx);
  // With --layer the spec is only imported (for the reference and inputs);
  // the compiled library brings its own code and forms.
  bool prebuilt = !runLayer.empty();
  if (target == "cuda" && runJit)
    return fail("--jit applies to the cpu target; the cuda target runs "
                "compiled (a host library that launches its kernels)");
  FailureOr<Compilation> c = compile(
      ctx, sm, Phase::Import, prebuilt ? Phase::Import : kLastPhase, !prebuilt);
  if (failed(c))
    return 1;
  const ::seqmix::LayerSpec &spec = *c->spec;
  int64_t B = runBatch.getNumOccurrences() ? int64_t(runBatch)
                                           : (spec.batch > 0 ? spec.batch : 2);
  if (B < 1)
    return fail("--batch must be >= 1");
  for (const std::string &f : runCrossCheck)
    if (f != "parallel" && f != "chunked" && f != "recurrent")
      return fail("--cross-check takes forms parallel, chunked or recurrent, "
                  "got '" +
                  f + "'");
  if (!runReference && (!runCrossCheck.empty() || runCheckSplit))
    return fail("--cross-check and --check-split compare with the reference; "
                "drop --reference=false");
  if (runReps < 1 || runReps > 100000)
    return fail("--reps must be between 1 and 100000, got " +
                llvm::Twine(unsigned(runReps)));
  if (spec.batch > 0 && B != spec.batch)
    return fail("--batch=" + std::to_string(B) +
                " but the spec fixes batch = " + std::to_string(spec.batch));
  std::optional<::seqmix::GateRegime> regime =
      ::seqmix::parseGateRegime(runGates);
  if (!regime)
    return fail("--gates must be default, strong or reset, got '" + runGates +
                "'");
  std::optional<::seqmix::KeyRegime> keyRegime =
      ::seqmix::parseKeyRegime(runKeys);
  if (!keyRegime)
    return fail("--keys must be default or colinear, got '" + runKeys + "'");
  std::vector<int64_t> lens(runSeqLens.begin(), runSeqLens.end());
  if (lens.empty())
    lens.push_back(spec.seqLen > 0 ? spec.seqLen : 64);
  for (int64_t T : lens) {
    if (T < 1)
      return fail("--seq-len values must be >= 1, got " + std::to_string(T));
    if (spec.seqLen > 0 && T != spec.seqLen)
      return fail(
          "--seq-len=" + std::to_string(T) +
          " but the spec fixes seq_len = " + std::to_string(spec.seqLen));
  }

  if (runKvLen.getNumOccurrences()) {
    if (spec.kvLen == 0)
      return fail("--kv-len needs a spec with a \"kv_len\" field (softmax "
                  "attention whose keys differ in length from its queries)");
    if (runKvLen < 1)
      return fail("--kv-len must be >= 1, got " +
                  std::to_string(int64_t(runKvLen)));
    if (spec.kvLen > 0 && runKvLen != spec.kvLen)
      return fail("--kv-len=" + std::to_string(int64_t(runKvLen)) +
                  " but the spec fixes kv_len = " + std::to_string(spec.kvLen));
  }
  // The key/value length of every run (-1: the sequence length).
  int64_t Tk = runKvLen.getNumOccurrences() ? int64_t(runKvLen)
               : spec.kvLen > 0             ? spec.kvLen
                                            : -1;
  if (runCheckSplit) {
    if (!spec.initialState || !spec.finalState)
      return fail("--check-split needs a spec with \"state\": {\"initial\": "
                  "true, \"final\": true}");
    if (spec.seqLen > 0)
      return fail("--check-split needs a dynamic seq_len (\"?\"), but the "
                  "spec fixes seq_len = " +
                  std::to_string(spec.seqLen));
  }

  std::unique_ptr<ExecutionEngine> engine;
  seqmix_layer *layer = nullptr;
  char *err = nullptr;
  llvm::SmallString<128> tmpDir;
  std::string mode = runJit ? "JIT" : "compiled .so";
  if (!runLayer.empty()) {
    if (runJit)
      return fail("--layer and --jit exclude each other");
    layer = seqmix_layer_load(runLayer.c_str(), &err);
    mode = runLayer;
  } else if (runJit) {
    auto jit = createJit(*c->module);
    if (!jit)
      return fail("JIT compilation failed: " + llvm::toString(jit.takeError()));
    engine = std::move(*jit);
    auto sym = engine->lookup("_mlir_ciface_" + spec.name);
    if (!sym)
      return fail("JIT: entry not found: " + llvm::toString(sym.takeError()));
    layer = seqmix_layer_from_entry(*sym, c->metadata.c_str(), &err);
  } else {
    if (auto ec = llvm::sys::fs::createUniqueDirectory("seqmix-run", tmpDir))
      return fail("cannot create a temporary directory: " + ec.message());
    std::string so = (tmpDir + "/layer.so").str();
    if (int rc = emitNative(*c, "so", so))
      return rc;
    layer = seqmix_layer_load(so.c_str(), &err);
    llvm::sys::fs::remove(so);
    llvm::sys::fs::remove(tmpDir);
  }
  if (!layer) {
    std::string msg = err ? err : "unknown error";
    seqmix_free_error(err);
    return fail("cannot load the compiled layer: " + msg);
  }
  if (prebuilt) {
    // The library must implement this spec's calling convention.
    std::vector<::seqmix::TensorDesc> expect = spec.inputs();
    for (const auto &o : spec.outputs())
      expect.push_back(o);
    bool match =
        seqmix_layer_num_args(layer) == static_cast<int32_t>(expect.size());
    for (size_t i = 0; match && i < expect.size(); ++i)
      match = expect[i].name ==
                  seqmix_layer_arg_name(layer, static_cast<int32_t>(i)) &&
              seqmix_layer_arg_is_output(layer, static_cast<int32_t>(i)) ==
                  (i >= spec.inputs().size() ? 1 : 0);
    if (!match) {
      seqmix_layer_free(layer);
      return fail(runLayer +
                  " was not compiled from a spec with the arguments of " +
                  inputFile);
    }
    std::istringstream meta(seqmix_layer_metadata(layer));
    std::string line;
    while (std::getline(meta, line))
      if (llvm::StringRef(line).starts_with("forms "))
        c->formSummary = line.substr(6);
  }

  // A second compilation of the same spec in another form, to check that the
  // forms agree with each other (FORMS.md 7.4).
  std::vector<std::unique_ptr<ExecutionEngine>> crossEngines;
  std::vector<seqmix_layer *> crosses;
  auto freeLayers = [&] {
    seqmix_layer_free(layer);
    for (seqmix_layer *x : crosses)
      seqmix_layer_free(x);
  };
  for (const std::string &crossForm : runCrossCheck) {
    FailureOr<Compilation> c2 =
        compile(ctx, sm, Phase::Import, kLastPhase, true, crossForm);
    if (failed(c2)) {
      freeLayers();
      return 1;
    }
    if (c2->target == "cuda") {
      // A cuda layer runs compiled: a library of its own, loaded.
      llvm::SmallString<128> dir;
      if (auto ec = llvm::sys::fs::createUniqueDirectory("seqmix-run", dir)) {
        freeLayers();
        return fail("cannot create a temporary directory: " + ec.message());
      }
      std::string so = (dir + "/cross.so").str();
      int rc = emitNative(*c2, "so", so);
      seqmix_layer *cross = rc ? nullptr : seqmix_layer_load(so.c_str(), &err);
      llvm::sys::fs::remove(so);
      llvm::sys::fs::remove(dir);
      if (!cross) {
        std::string msg = err ? err : "unknown error";
        seqmix_free_error(err);
        err = nullptr;
        freeLayers();
        return rc ? rc
                  : fail("cannot load the cross-check layer in form " +
                         crossForm + ": " + msg);
      }
      crosses.push_back(cross);
      continue;
    }
    auto jit = createJit(*c2->module);
    if (!jit) {
      freeLayers();
      return fail("JIT compilation failed: " + llvm::toString(jit.takeError()));
    }
    crossEngines.push_back(std::move(*jit));
    auto sym = crossEngines.back()->lookup("_mlir_ciface_" + spec.name);
    seqmix_layer *cross =
        sym ? seqmix_layer_from_entry(*sym, c2->metadata.c_str(), &err)
            : nullptr;
    if (!cross) {
      freeLayers();
      return fail("cannot build the cross-check layer in form " + crossForm);
    }
    crosses.push_back(cross);
  }

  std::string gate = spec.mixer == ::seqmix::Mixer::GatedLinearAttention
                         ? ", gate " + spec.gate
                         : std::string();
  llvm::outs() << "layer " << spec.name << " ("
               << ::seqmix::mixerName(spec.mixer) << gate << "), form "
               << c->formSummary << ", " << mode << ", B=" << B << "\n";
  ::seqmix::Tolerance tol = ::seqmix::toleranceFor(spec.dtype);
  double worstAbs = 0, worstRel = 0, worstRms = 0;
  bool allOk = true;
  for (int64_t T : lens) {
    // Inputs and outputs in f32 plus their f64 copies for the reference
    // (and a bf16/f16 tensor's buffer in its type) must fit in half of this
    // machine's memory (allocation failure would abort the process).
    double bytes = 0;
    for (const auto &list : {spec.inputs(), spec.outputs()})
      for (const ::seqmix::TensorDesc &d : list) {
        double n =
            (d.complex ? 2 : 1) * 12.0 + (d.isNarrow() ? d.elementBytes() : 0);
        for (int64_t s : ::seqmix::concreteShape(d, B, T, Tk))
          n *= static_cast<double>(s);
        bytes += n;
      }
    double physical = static_cast<double>(sysconf(_SC_PHYS_PAGES)) *
                      static_cast<double>(sysconf(_SC_PAGESIZE));
    if (bytes > 0.5 * physical) {
      freeLayers();
      return fail(llvm::formatv("B={0} T={1} needs about {2:f1} GiB for the "
                                "inputs, outputs and reference; this machine "
                                "has {3:f1} GiB",
                                B, T, bytes / (1 << 30), physical / (1 << 30))
                      .str());
    }
    auto inputs =
        ::seqmix::makeInputs(spec, B, T, runSeed, *regime, Tk, *keyRegime);
    auto outputs = ::seqmix::makeOutputs(spec, B, T);
    std::vector<seqmix_tensor> args = ::seqmix::tensorArgs(inputs, outputs);
    if (std::optional<std::string> msg = callLayer(layer, args)) {
      freeLayers();
      return fail("call failed: " + *msg);
    }
    ::seqmix::readBack(outputs);
    auto ref = runReference ? ::seqmix::referenceOutputs(spec, inputs)
                            : std::vector<std::vector<double>>(outputs.size());
    std::string line;
    llvm::raw_string_ostream os(line);
    os << llvm::format("  T=%-5lld", static_cast<long long>(T));
    if (Tk >= 0)
      os << llvm::format(" T_k=%-5lld", static_cast<long long>(Tk));
    bool ok = true;
    for (size_t i = 0; i < outputs.size() && runReference; ++i) {
      ::seqmix::ErrorStats e =
          ::seqmix::compareToReference(outputs[i].data, ref[i]);
      ok &= ::seqmix::withinTolerance(e, tol);
      worstAbs = std::max(worstAbs, e.maxAbs);
      worstRel = std::max(worstRel, e.maxRel);
      worstRms = std::max(worstRms, e.relRms);
      os << llvm::format(" %s: max_abs %.2e max_rel %.2e rel_rms %.2e;",
                         outputs[i].desc.name.c_str(), e.maxAbs, e.maxRel,
                         e.relRms);
    }
    for (auto [x, cross] : llvm::enumerate(crosses)) {
      // Two forms may each be off by the tolerance, in opposite directions.
      ::seqmix::Tolerance mutual{2 * tol.relRms, 2 * tol.maxRel};
      auto other = ::seqmix::makeOutputs(spec, B, T);
      // A failed call leaves zeros, which the comparisons below reject.
      (void)callLayer(cross, ::seqmix::tensorArgs(inputs, other));
      ::seqmix::readBack(other);
      os << " vs " << runCrossCheck[x] << ":";
      for (size_t i = 0; i < outputs.size(); ++i) {
        std::vector<double> theirs(other[i].data.begin(), other[i].data.end());
        ::seqmix::ErrorStats e =
            ::seqmix::compareToReference(outputs[i].data, theirs);
        ::seqmix::ErrorStats r =
            ::seqmix::compareToReference(other[i].data, ref[i]);
        ok &= ::seqmix::withinTolerance(e, mutual) &&
              ::seqmix::withinTolerance(r, tol);
        worstAbs = std::max(worstAbs, r.maxAbs);
        worstRel = std::max(worstRel, r.maxRel);
        worstRms = std::max(worstRms, r.relRms);
        os << llvm::format(" %s max_rel %.2e (vs reference %.2e);",
                           outputs[i].desc.name.c_str(), e.maxRel, r.maxRel);
      }
    }
    if (runCheckSplit) {
      std::vector<int64_t> cuts;
      for (int64_t T1 : {int64_t(1), T / 2})
        if (T1 >= 1 && T1 < T && (cuts.empty() || cuts.back() != T1))
          cuts.push_back(T1);
      for (int64_t T1 : cuts)
        ok &= checkSplit(layer, spec, inputs, ref, B, T, T1, tol, os);
    }
    std::vector<double> times;
    // A cuda layer is timed on device copies made once (each call waits
    // for its kernels).
    DeviceArgs dev;
    if (runsOnGpu(layer))
      if (std::optional<std::string> msg = toDevice(layer, args, dev)) {
        freeLayers();
        return fail("cannot copy the inputs to the GPU: " + *msg);
      }
    std::vector<seqmix_tensor> &timed = runsOnGpu(layer) ? dev.args : args;
    for (unsigned r = 0; r < runReps; ++r) {
      auto t0 = std::chrono::steady_clock::now();
      (void)seqmix_layer_call(layer, timed.data(),
                              static_cast<int32_t>(timed.size()), nullptr);
      times.push_back(std::chrono::duration<double, std::milli>(
                          std::chrono::steady_clock::now() - t0)
                          .count());
    }
    double ms = median(times);
    os << llvm::format(" time %.3f ms", ms);
    if (std::optional<double> flops = ::seqmix::formFlops(
            spec, ::seqmix::formForSeqLen(c->formSummary, T), B, T, Tk))
      os << llvm::format(" (%.2f GFLOP/s)", *flops / (ms * 1e6));
    os << (ok ? "  ok" : "  FAIL");
    llvm::outs() << line << "\n";
    allOk &= ok;
  }
  freeLayers();
  if (!runReference) {
    llvm::outs() << "not compared with the reference (--reference=false)\n";
    return allOk ? 0 : 1;
  }
  llvm::outs() << llvm::format(
      "max error vs reference: abs %.3e, rel %.3e, rel_rms %.3e "
      "(tolerance rel_rms <= %.0e, max_rel <= %.0e): %s\n",
      worstAbs, worstRel, worstRms, tol.relRms, tol.maxRel,
      allOk ? "PASS" : "FAIL");
  return allOk ? 0 : 1;
}
} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  bool run = argc > 1 && llvm::StringRef(argv[1]) == "run";
  std::vector<char *> args(argv, argv + argc);
  if (run)
    args.erase(args.begin() + 1);

  registerSeqMixPassesAndPipelines();
  registerAsmPrinterCLOptions();
  registerMLIRContextCLOptions();
  registerPassManagerCLOptions();
  registerDefaultTimingManagerCLOptions();
  cl::HideUnrelatedOptions({&compileCat, &runCat, &llvm::getColorCategory()});
  // HideUnrelatedOptions makes the others "really hidden"; MLIR's own flags
  // stay listed by --help-hidden, as --help says.
  for (auto &[name, opt] : cl::getRegisteredOptions())
    if (name.starts_with("mlir-"))
      opt->setHiddenFlag(cl::Hidden);
  cl::SetVersionPrinter([](llvm::raw_ostream &os) {
    os << "seqmixc (seqmix " SEQMIX_VERSION_STRING
          ") with LLVM/MLIR " LLVM_VERSION_STRING "\n";
  });
  cl::ParseCommandLineOptions(
      static_cast<int>(args.size()), args.data(),
      "seqmixc: the seqmix compiler for sequence-mixing layers\n\n"
      "  seqmixc [options] <layer.json | input.mlir>   compile a layer\n"
      "  seqmixc run [options] <layer.json>            compile it, run it on "
      "seeded\n"
      "                                                inputs, check it "
      "against the\n"
      "                                                reference and time "
      "it\n\n"
      "Examples:\n"
      "  seqmixc examples/gla.json -o gla.so\n"
      "  seqmixc examples/gla.json --compile-to=select-forms --remarks\n"
      "  seqmixc examples/gla.json --emit=llvm --form=parallel\n"
      "  seqmixc run examples/gla.json --form=recurrent "
      "--seq-len=1,7,64,300\n\n"
      "MLIR's --mlir-print-ir-after-all, --mlir-print-ir-before-all, "
      "--mlir-timing and\n"
      "the other --mlir-* flags work in both modes; --help-hidden lists "
      "them.\n");

  // Like mlir-opt, '-' (the default) reads .mlir from stdin; with no input
  // named and a terminal there, say what is missing instead of waiting.
  if (inputFile.getNumOccurrences() == 0 &&
      llvm::sys::Process::StandardInIsUserInput())
    return fail("no input file (a layer spec .json or an .mlir file; '-' "
                "reads .mlir from stdin); see --help");

  DialectRegistry registry;
  registerSeqMixDialects(registry);
  MLIRContext ctx(registry);
  ctx.printOpOnDiagnostic(false);
  return run ? runMain(ctx) : compileMain(ctx);
}
