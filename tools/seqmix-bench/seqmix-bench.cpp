//===- seqmix-bench.cpp - time a layer in each form, beside its peers -----===//
//
//   seqmix-bench [options] <layer.json>
//
// Compiles the spec once per form and chunk size (with seqmixc), runs each
// layer on seeded inputs after warm-up calls, and reports the median and
// minimum time of N calls, GFLOP/s and GB/s as FORMS.md 6.1 counts them, and
// the fractions of this machine's fp32 FMA peak and read bandwidth that a
// built-in probe measures in the same run. --peers times the PyTorch
// implementations a user would otherwise call, in this process, on the same
// inputs, checks that they agree with seqmix, and prints the ratio.
//
//===----------------------------------------------------------------------===//
#include "Calibrate.h"
#include "Layers.h"
#include "Peers.h"

#include "seqmix-c/Runtime.h"
#include "seqmix/Analysis/FormCostModel.h"
#include "seqmix/Bench/Probe.h"
#include "seqmix/Spec/LayerSpec.h"
#include "seqmix/Testing/LayerHarness.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <map>
#include <optional>

namespace cl = llvm::cl;
using namespace seqmix;
using namespace seqmix::bench;

static cl::OptionCategory benchCat("seqmix-bench options");
static cl::opt<std::string> specFile(cl::Positional, cl::desc("<layer.json>"),
                                     cl::cat(benchCat));
static cl::opt<std::string> calibrateOpt(
    "calibrate",
    cl::desc("Instead of timing a spec: time a fixed grid of layers, fit the "
             "cost model's constants to this machine and write them as a "
             "table for seqmixc --cost-model"),
    cl::value_desc("table.json"), cl::init(""), cl::cat(benchCat));
static cl::opt<std::string> calibrateGridOpt(
    "calibrate-grid",
    cl::desc("The grid --calibrate times: full (about a minute), or quick (a "
             "few tiny shapes, to test the tool)"),
    cl::init("full"), cl::cat(benchCat));
static cl::list<std::string>
    formsOpt("form",
             cl::desc("Forms to time, comma separated: parallel, chunked, "
                      "recurrent, auto (the compiler's choice). Default: "
                      "parallel, chunked and recurrent, skipping a form the "
                      "family has no lowering for"),
             cl::CommaSeparated, cl::cat(benchCat));
static cl::list<int64_t>
    chunksOpt("chunk-size",
              cl::desc("Chunk sizes of the chunked form, comma separated "
                       "(default: 16, 32, 64, 128, 256 up to the sequence "
                       "length)"),
              cl::CommaSeparated, cl::cat(benchCat));
static cl::opt<int64_t> batchOpt("batch",
                                 cl::desc("Batch size (default: spec, else 1)"),
                                 cl::init(0), cl::cat(benchCat));
static cl::list<int64_t>
    seqLensOpt("seq-len",
               cl::desc("Sequence lengths, comma separated (default: spec, "
                        "else 1024)"),
               cl::CommaSeparated, cl::cat(benchCat));
static cl::opt<int64_t>
    kvLenOpt("kv-len",
             cl::desc("Key/value length of a spec with kv_len \"?\" "
                      "(softmax decode)"),
             cl::init(0), cl::cat(benchCat));
static cl::opt<unsigned>
    repsOpt("reps",
            cl::desc("Timed calls per configuration; "
                     "the median is reported (default 10)"),
            cl::init(10), cl::cat(benchCat));
static cl::opt<unsigned> warmupOpt("warmup",
                                   cl::desc("Untimed calls first (default 2)"),
                                   cl::init(2), cl::cat(benchCat));
static cl::opt<int> threadsOpt(
    "num-threads",
    cl::desc("Threads for the layers, the peers and the probe (default: "
             "this machine's hardware threads)"),
    cl::init(0), cl::cat(benchCat));
static cl::opt<bool> peersOpt("peers",
                              cl::desc("Also time the PyTorch peers of the "
                                       "family on the same inputs"),
                              cl::init(false), cl::cat(benchCat));
static cl::opt<bool> jsonOpt("json",
                             cl::desc("Print one JSON document instead of "
                                      "the table"),
                             cl::init(false), cl::cat(benchCat));
static cl::opt<bool> probeOpt("probe",
                              cl::desc("Measure the FMA peak and read "
                                       "bandwidth first (default on; "
                                       "--probe=false skips it)"),
                              cl::init(true), cl::cat(benchCat));
static cl::opt<bool>
    checkOpt("check",
             cl::desc("Also compare every output with the double-precision "
                      "reference (slow for long sequences)"),
             cl::init(false), cl::cat(benchCat));
static cl::opt<std::string> bf16DotOpt(
    "bf16-dot", cl::desc("seqmixc's --bf16-dot for the layers (auto, on, off)"),
    cl::value_desc("auto|on|off"), cl::init("auto"), cl::cat(benchCat));
static cl::opt<uint64_t> seedOpt("seed", cl::desc("Input seed (default 1)"),
                                 cl::init(1), cl::cat(benchCat));
static cl::opt<double> peerSecondsOpt(
    "peer-max-seconds",
    cl::desc("A peer slower than this for all its timed calls runs fewer "
             "of them (default 20)"),
    cl::init(20), cl::cat(benchCat));
static cl::opt<std::string> peersScriptOpt(
    "peers-script",
    cl::desc("A Python module with the run() of peers.py to use instead of "
             "the built-in peers (default: share/seqmix-bench/peers.py)"),
    cl::value_desc("file.py"), cl::init(""), cl::cat(benchCat));
static cl::opt<std::string> pythonOpt(
    "python",
    cl::desc("The Python (of a venv with PyTorch) that runs the peers "
             "(default: $SEQMIX_PYTHON, else the project's venv)"),
    cl::init(""), cl::cat(benchCat));

namespace {
int fail(const llvm::Twine &msg) {
  llvm::outs().flush();
  llvm::errs() << "seqmix-bench: error: " << msg << "\n";
  return 1;
}

/// A compiled layer of one config.
struct Built {
  Config config;
  seqmix_layer *layer = nullptr;
  std::string formName; ///< as the metadata names it ("chunked(chunk 64)")
  std::string skipped;  ///< why it was not built
};

/// One timed row of the report.
struct Row {
  int64_t T = 0;
  std::string impl, form; ///< "seqmix"/peer name, form label
  std::vector<double> timesMs;
  double flops = 0, bytes = 0;
  std::optional<ErrorStats> vsBaseline, vsReference;
  bool ok = true;
  std::string note;
};

std::string selfDir(const char *argv0) {
  std::string exe =
      llvm::sys::fs::getMainExecutable(argv0, reinterpret_cast<void *>(&fail));
  return llvm::sys::path::parent_path(exe).str();
}

/// The layer as peers.py reads it.
std::string layerJson(const LayerSpec &spec) {
  llvm::json::Object o;
  o["mixer"] = mixerName(spec.mixer);
  o["gate"] = spec.gate;
  o["scale"] = spec.scale;
  o["causal"] = spec.causal;
  o["gated"] = spec.gated;
  o["l2norm_qk"] = spec.l2normQK;
  o["eps"] = spec.eps;
  o["delta_softplus"] = spec.deltaSoftplus;
  o["silu"] = spec.silu;
  o["discretization"] = spec.discretization;
  o["complex_mode"] = spec.complexMode;
  if (spec.window)
    o["window"] = *spec.window;
  else
    o["window"] = nullptr;
  llvm::json::Array decay;
  for (double d : spec.logDecay)
    decay.push_back(d);
  o["log_decay"] = std::move(decay);
  llvm::json::Array ins, outs, narrow;
  for (const TensorDesc &d : spec.inputs()) {
    ins.push_back(d.name);
    if (d.isNarrow())
      narrow.push_back(d.name);
  }
  o["dtype"] = spec.dtype;
  o["narrow_inputs"] = std::move(narrow);
  for (const TensorDesc &d : spec.outputs())
    outs.push_back(d.name);
  o["inputs"] = std::move(ins);
  o["outputs"] = std::move(outs);
  std::string s;
  llvm::raw_string_ostream os(s);
  os << llvm::json::Value(std::move(o));
  return s;
}

/// The settings both modes check alike: the thread count (exported as
/// OMP_NUM_THREADS before any layer loads libomp), reps and warm-up. The
/// first bad one's message, or none.
std::optional<std::string> checkRunOptions(int &threads) {
  threads = threadsOpt > 0 ? int(threadsOpt) : hardwareThreads();
  if (threadsOpt < 0 || threads > 4096)
    return "--num-threads must be between 1 and 4096 (0: this machine's)";
  setenv("OMP_NUM_THREADS", std::to_string(threads).c_str(), 1);
  if (repsOpt < 1 || repsOpt > 100000)
    return "--reps must be between 1 and 100000";
  if (warmupOpt > 1000)
    return "--warmup must be at most 1000";
  return std::nullopt;
}

/// The seqmixc beside this binary, or why it cannot be run.
llvm::Expected<std::string> findSeqmixc(const char *argv0) {
  std::string path = selfDir(argv0) + "/seqmixc";
  if (!llvm::sys::fs::can_execute(path))
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "cannot find seqmixc beside seqmix-bench (" +
                                       path + ")");
  return path;
}

/// --calibrate: the probe, then the grid.
int calibrate(const char *argv0) {
  if (!specFile.empty())
    return fail("--calibrate times its own grid: give no layer spec");
  // (cl::list's operator& gives its vector: take the options by reference.)
  std::reference_wrapper<const cl::Option> specOnly[] = {
      formsOpt, chunksOpt, seqLensOpt, batchOpt,
      kvLenOpt, peersOpt,  jsonOpt,    checkOpt};
  for (const cl::Option &o : specOnly)
    if (o.getNumOccurrences())
      return fail("--" + o.ArgStr + " does not apply to --calibrate");
  CalibrateOptions o;
  if (std::optional<std::string> err = checkRunOptions(o.threads))
    return fail(*err);
  o.reps = repsOpt.getNumOccurrences() ? unsigned(repsOpt) : 5;
  o.warmup = warmupOpt;
  o.seed = seedOpt;
  o.grid = calibrateGridOpt;
  o.rounds = o.grid == "quick" ? 1 : 3;
  o.outPath = calibrateOpt;
  llvm::Expected<std::string> seqmixc = findSeqmixc(argv0);
  if (!seqmixc)
    return fail(llvm::toString(seqmixc.takeError()));
  o.seqmixc = *seqmixc;
  if (!probeOpt)
    return fail("--calibrate fits the model to the probe's peak and "
                "bandwidth: drop --probe=false");
  o.probe = probeMachine(o.threads);
  return runCalibration(o, llvm::outs());
}
} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions(benchCat);
  cl::ParseCommandLineOptions(
      argc, argv,
      "seqmix-bench: times a layer spec in each form and chunk size on "
      "seeded inputs, against this machine's measured peak and, with "
      "--peers, against PyTorch in the same process\n");

  if (!calibrateOpt.empty())
    return calibrate(argv[0]);
  if (specFile.empty())
    return fail("no layer spec given (seqmix-bench <layer.json>, or "
                "--calibrate=<table.json>)");
  llvm::Expected<LayerSpec> specOr = loadLayerSpec(specFile);
  if (!specOr)
    return fail(llvm::toString(specOr.takeError()));
  const LayerSpec &spec = *specOr;

  int threads = 1;
  if (std::optional<std::string> err = checkRunOptions(threads))
    return fail(*err);

  int64_t B =
      batchOpt > 0 ? int64_t(batchOpt) : (spec.batch > 0 ? spec.batch : 1);
  if (batchOpt < 0)
    return fail("--batch must be >= 1");
  if (spec.batch > 0 && B != spec.batch)
    return fail("--batch=" + std::to_string(B) +
                " but the spec fixes batch = " + std::to_string(spec.batch));
  std::vector<int64_t> lens(seqLensOpt.begin(), seqLensOpt.end());
  if (lens.empty())
    lens.push_back(spec.seqLen > 0 ? spec.seqLen : 1024);
  for (int64_t T : lens) {
    if (T < 1)
      return fail("--seq-len values must be >= 1, got " + std::to_string(T));
    if (spec.seqLen > 0 && T != spec.seqLen)
      return fail(
          "--seq-len=" + std::to_string(T) +
          " but the spec fixes seq_len = " + std::to_string(spec.seqLen));
  }
  int64_t Tk = -1;
  if (kvLenOpt.getNumOccurrences()) {
    if (spec.kvLen == 0)
      return fail("--kv-len needs a spec with a \"kv_len\" field");
    if (kvLenOpt < 1)
      return fail("--kv-len must be >= 1");
    if (spec.kvLen > 0 && kvLenOpt != spec.kvLen)
      return fail("--kv-len=" + std::to_string(int64_t(kvLenOpt)) +
                  " but the spec fixes kv_len = " + std::to_string(spec.kvLen));
    Tk = kvLenOpt;
  } else if (spec.kvLen > 0) {
    Tk = spec.kvLen;
  } else if (spec.kvLen < 0) {
    return fail("the spec's kv_len is \"?\": name it with --kv-len");
  }

  // The configurations to compile.
  std::vector<int64_t> chunks(chunksOpt.begin(), chunksOpt.end());
  bool chunksNamed = !chunks.empty();
  if (chunks.empty())
    chunks = {16, 32, 64, 128, 256};
  for (int64_t c : chunks)
    if (c < 1 || c > 4096)
      return fail("--chunk-size values must be between 1 and 4096, got " +
                  std::to_string(c));
  std::vector<std::string> forms(formsOpt.begin(), formsOpt.end());
  bool formsNamed = !forms.empty();
  if (forms.empty())
    forms = {"parallel", "chunked", "recurrent"};
  if (chunksNamed &&
      std::find(forms.begin(), forms.end(), "chunked") == forms.end())
    return fail("--chunk-size needs the chunked form among --form");
  int64_t maxT = *std::max_element(lens.begin(), lens.end());
  std::vector<Config> configs;
  for (const std::string &f : forms) {
    if (f != "parallel" && f != "chunked" && f != "recurrent" && f != "auto")
      return fail("--form takes parallel, chunked, recurrent or auto, got '" +
                  f + "'");
    if (f != "chunked") {
      configs.push_back({f, 0, formsNamed});
      continue;
    }
    for (int64_t c : chunks)
      if (chunksNamed || c <= maxT || c == chunks.front())
        configs.push_back({f, c, formsNamed || chunksNamed});
  }

  std::string dir = selfDir(argv[0]);
  llvm::Expected<std::string> seqmixcOr = findSeqmixc(argv[0]);
  if (!seqmixcOr)
    return fail(llvm::toString(seqmixcOr.takeError()));
  const std::string &seqmixc = *seqmixcOr;

  // The yardsticks, before anything else loads the machine.
  std::optional<MachineProbe> probe;
  if (probeOpt)
    probe = probeMachine(threads);

  std::unique_ptr<PeerRunner> peers;
  if (peersOpt) {
    std::string python = pythonOpt;
    if (python.empty())
      if (const char *env = std::getenv("SEQMIX_PYTHON"))
        python = env;
    if (python.empty())
      python = SEQMIX_DEFAULT_PYTHON;
    std::string script = peersScriptOpt.empty()
                             ? dir + "/../share/seqmix-bench/peers.py"
                             : std::string(peersScriptOpt);
    if (!llvm::sys::fs::is_regular_file(script))
      return fail("--peers: cannot read the peers module '" + script + "'");
    if (!llvm::StringRef(script).ends_with(".py"))
      return fail("--peers-script must name a .py file, got '" + script + "'");
    auto p = PeerRunner::create(python, script);
    if (!p)
      return fail(llvm::toString(p.takeError()));
    peers = std::move(*p);
  }

  llvm::SmallString<128> tmp;
  if (auto ec = llvm::sys::fs::createUniqueDirectory("seqmix-bench", tmp))
    return fail("cannot create a temporary directory: " + ec.message());
  std::vector<Built> built;
  for (const Config &c : configs) {
    Built b;
    b.config = c;
    std::string so;
    if (std::optional<std::string> err =
            compileLayer(seqmixc, specFile, c, threads, tmp.str().str(), so,
                         {"--bf16-dot=" + bf16DotOpt})) {
      if (c.named)
        return fail("cannot compile " + specFile + " in form " + c.label() +
                    ": " + *err);
      b.skipped = *err;
      built.push_back(b);
      continue;
    }
    std::string err;
    b.layer = loadLayer(so, err);
    if (!b.layer)
      return fail("cannot load the layer compiled in form " + c.label() + ": " +
                  err);
    b.formName = layerForms(b.layer);
    built.push_back(b);
  }
  llvm::sys::fs::remove_directories(tmp);

  std::vector<Row> rows;
  bool allOk = true;
  Tolerance tol = toleranceFor(spec.dtype);
  Tolerance mutual{2 * tol.relRms, 2 * tol.maxRel};
  for (int64_t T : lens) {
    std::vector<HostTensor> inputs =
        makeInputs(spec, B, T, seedOpt, GateRegime::Default, Tk);
    std::vector<std::vector<double>> ref;
    if (checkOpt)
      ref = referenceOutputs(spec, inputs);
    std::optional<std::vector<HostTensor>> baseline;
    std::optional<Problem> problem = problemForSpec(spec, B, T, Tk);
    for (Built &b : built) {
      if (!b.layer)
        continue;
      const Config &c = b.config;
      // A chunk longer than the sequence is the parallel form again.
      if (c.form == "chunked" && !chunksNamed && c.chunk > T &&
          c.chunk != chunks.front())
        continue;
      Row row;
      row.T = T;
      row.impl = "seqmix";
      std::string formNow = formForSeqLen(b.formName, T);
      row.form = c.form == "auto" ? "auto=" + formNow : c.label();
      std::vector<HostTensor> outputs = makeOutputs(spec, B, T);
      std::vector<seqmix_tensor> args = tensorArgs(inputs, outputs);
      if (std::optional<std::string> err =
              timeLayer(b.layer, args, warmupOpt, repsOpt, row.timesMs)) {
        row.ok = false;
        row.note = *err;
        rows.push_back(row);
        allOk = false;
        continue;
      }
      readBack(outputs);
      if (auto f = parseFormName(formNow); f && problem) {
        Estimate e =
            estimateForm(*problem, f->first, f->second, Machine::hostCpu());
        row.flops = e.flopsMatmul + e.flopsVector;
        row.bytes = e.bytes;
      }
      std::vector<std::vector<float>> got;
      for (HostTensor &o : outputs)
        got.push_back(o.data);
      if (!baseline) {
        baseline = outputs;
      } else {
        row.vsBaseline = compareOutputs(got, *baseline);
        row.ok &= withinTolerance(*row.vsBaseline, mutual);
      }
      if (checkOpt) {
        ErrorStats worst;
        for (size_t i = 0; i < outputs.size(); ++i) {
          ErrorStats e = compareToReference(outputs[i].data, ref[i]);
          worst.maxAbs = std::max(worst.maxAbs, e.maxAbs);
          worst.maxRel = std::max(worst.maxRel, e.maxRel);
          worst.relRms = std::max(worst.relRms, e.relRms);
          worst.finite &= e.finite;
        }
        row.vsReference = worst;
        row.ok &= withinTolerance(worst, tol);
      }
      allOk &= row.ok;
      rows.push_back(row);
    }
    if (peers) {
      auto results = peers->run(layerJson(spec), inputs, repsOpt, warmupOpt,
                                threads, peerSecondsOpt);
      if (!results)
        return fail(llvm::toString(results.takeError()));
      for (PeerResult &p : *results) {
        Row row;
        row.T = T;
        row.impl = p.name;
        row.form = p.form;
        row.timesMs = p.timesMs;
        if (!p.error.empty()) {
          row.ok = false;
          row.note = p.error;
          allOk = false;
          rows.push_back(row);
          continue;
        }
        if (problem) {
          Estimate e;
          if (p.form == "visible") {
            // Softmax: credited with the scores its mask leaves visible.
            Problem q = *problem;
            double Tkv = Tk > 0 ? double(Tk) : double(T);
            double vis = q.causal
                             ? std::max(0.0, T * (Tkv - T) + T * (T + 1.0) / 2)
                             : T * Tkv;
            e.flopsMatmul = 2 * vis * (q.keyDim + q.valueDim) * B * q.heads;
            e.flopsVector = 6 * vis * B * q.heads;
          } else if (auto f = parseFormName(p.form)) {
            e = estimateForm(*problem, f->first, f->second, Machine::hostCpu());
          }
          row.flops = e.flopsMatmul + e.flopsVector;
          row.bytes = e.bytes;
        }
        if (baseline) {
          row.vsBaseline = compareOutputs(p.outputs, *baseline);
          row.ok = withinTolerance(*row.vsBaseline, mutual);
          if (!row.ok)
            row.note = "disagrees with seqmix";
        }
        allOk &= row.ok;
        rows.push_back(row);
      }
    }
  }
  for (Built &b : built)
    if (b.layer)
      seqmix_layer_free(b.layer);

  // The fastest peer per length, for the ratios.
  std::map<int64_t, double> bestPeer;
  for (const Row &r : rows)
    if (r.impl != "seqmix" && r.ok && !r.timesMs.empty()) {
      double m = median(r.timesMs);
      auto it = bestPeer.find(r.T);
      if (it == bestPeer.end() || m < it->second)
        bestPeer[r.T] = m;
    }

  std::string gate =
      spec.mixer == Mixer::GatedLinearAttention ? ", gate " + spec.gate : "";
  if (jsonOpt) {
    llvm::json::OStream j(llvm::outs(), 2);
    j.object([&] {
      j.attribute("spec", specFile);
      j.attribute("layer", spec.name);
      j.attribute("mixer", mixerName(spec.mixer));
      if (spec.mixer == Mixer::GatedLinearAttention)
        j.attribute("gate", spec.gate);
      j.attribute("batch", B);
      j.attribute("heads", spec.heads);
      j.attribute("key_dim", spec.headKeyDim);
      j.attribute("value_dim", spec.headValueDim);
      if (Tk > 0)
        j.attribute("kv_len", Tk);
      j.attribute("threads", threads);
      j.attribute("reps", int64_t(repsOpt));
      j.attributeObject("machine", [&] {
        j.attribute("cpu", probe ? probe->cpu : cpuModelName());
        if (probe) {
          j.attribute("isa", probe->isa);
          j.attribute("fma_peak_gflops", probe->fmaFlops / 1e9);
          j.attribute("read_bandwidth_gbs", probe->readBytes / 1e9);
          j.attribute("exp_rate_gexps", probe->expRate / 1e9);
          if (probe->bf16DotSpeedup > 0)
            j.attribute("bf16_dot_speedup", probe->bf16DotSpeedup);
        }
      });
      j.attributeArray("skipped", [&] {
        for (const Built &b : built)
          if (!b.layer)
            j.object([&] {
              j.attribute("form", b.config.label());
              j.attribute("reason", b.skipped);
            });
      });
      j.attributeArray("results", [&] {
        for (const Row &r : rows)
          j.object([&] {
            j.attribute("seq_len", r.T);
            j.attribute("impl", r.impl);
            j.attribute("form", r.form);
            j.attribute("ok", r.ok);
            if (!r.note.empty())
              j.attribute("note", r.note);
            if (r.timesMs.empty())
              return;
            double m = median(r.timesMs);
            j.attribute("median_ms", m);
            j.attribute("min_ms",
                        *std::min_element(r.timesMs.begin(), r.timesMs.end()));
            j.attributeArray("times_ms", [&] {
              for (double t : r.timesMs)
                j.value(t);
            });
            if (r.flops > 0) {
              j.attribute("flops", r.flops);
              j.attribute("gflops", r.flops / (m * 1e6));
              if (probe)
                j.attribute("peak_fraction",
                            r.flops / (m * 1e-3) / probe->fmaFlops);
            }
            if (r.bytes > 0) {
              j.attribute("bytes", r.bytes);
              j.attribute("gbs", r.bytes / (m * 1e6));
              if (probe)
                j.attribute("bandwidth_fraction",
                            r.bytes / (m * 1e-3) / probe->readBytes);
            }
            if (auto it = bestPeer.find(r.T);
                r.impl == "seqmix" && it != bestPeer.end())
              j.attribute("speedup_vs_best_peer", it->second / m);
            if (r.vsBaseline)
              j.attribute("max_rel_vs_first_form", r.vsBaseline->maxRel);
            if (r.vsReference) {
              j.attribute("max_rel_vs_reference", r.vsReference->maxRel);
              j.attribute("rel_rms_vs_reference", r.vsReference->relRms);
            }
          });
      });
    });
    llvm::outs() << "\n";
    return allOk ? 0 : 1;
  }

  llvm::raw_ostream &os = llvm::outs();
  os << "layer " << spec.name << " (" << mixerName(spec.mixer) << gate
     << "), B=" << B << " H=" << spec.heads << " K=" << spec.headKeyDim
     << " V=" << spec.headValueDim;
  if (Tk > 0)
    os << " T_k=" << Tk;
  os << ", " << threads << " threads, median of " << repsOpt << " calls\n";
  if (probe)
    os << llvm::format("machine: %s (%s): fp32 FMA peak %.1f GFLOP/s, read "
                       "bandwidth %.1f GB/s, exp rate %.2f Gexp/s (measured "
                       "now)\n",
                       probe->cpu.c_str(), probe->isa.c_str(),
                       probe->fmaFlops / 1e9, probe->readBytes / 1e9,
                       probe->expRate / 1e9);
  if (probe && probe->bf16DotSpeedup > 0)
    os << llvm::format("AVX512-BF16 dot products run at %.2fx the MAC rate "
                       "of f32 FMAs in a register tile (bf16_dot_speedup)\n",
                       probe->bf16DotSpeedup);
  for (const Built &b : built)
    if (!b.layer)
      os << "skipped " << b.config.label() << ": " << b.skipped << "\n";
  os << llvm::format("%7s  %-16s %-26s %10s %10s %8s %6s %7s %6s %8s  %s\n",
                     "T", "impl", "form", "median ms", "min ms", "GFLOP/s",
                     "%peak", "GB/s", "%bw", "vs peer", "check");
  for (const Row &r : rows) {
    os << llvm::format("%7lld  %-16s %-26s", (long long)r.T, r.impl.c_str(),
                       r.form.c_str());
    if (r.timesMs.empty()) {
      os << "  " << r.note << "\n";
      continue;
    }
    double m = median(r.timesMs);
    double mn = *std::min_element(r.timesMs.begin(), r.timesMs.end());
    os << llvm::format(" %10.3f %10.3f", m, mn);
    auto percent = [&](double rate, double peak) -> std::string {
      return probe ? llvm::formatv("{0:f1}%", 100 * rate / peak).str() : "-";
    };
    if (r.flops > 0)
      os << llvm::format(
          " %8.1f %6s", r.flops / (m * 1e6),
          percent(r.flops / (m * 1e-3), probe ? probe->fmaFlops : 1).c_str());
    else
      os << llvm::format(" %8s %6s", "-", "-");
    if (r.bytes > 0)
      os << llvm::format(
          " %7.2f %6s", r.bytes / (m * 1e6),
          percent(r.bytes / (m * 1e-3), probe ? probe->readBytes : 1).c_str());
    else
      os << llvm::format(" %7s %6s", "-", "-");
    auto it = bestPeer.find(r.T);
    if (r.impl == "seqmix" && it != bestPeer.end())
      os << llvm::format(" %7.2fx", it->second / m);
    else
      os << llvm::format(" %8s", "");
    std::string check;
    if (r.vsBaseline)
      check += llvm::formatv("max_rel {0:e2} vs first", r.vsBaseline->maxRel);
    if (r.vsReference)
      check += llvm::formatv("{0}max_rel {1:e2} vs reference",
                             check.empty() ? "" : "; ", r.vsReference->maxRel);
    if (check.empty())
      check = "-";
    os << "  " << check << (r.ok ? "" : "  FAIL")
       << (r.note.empty() ? "" : " (" + r.note + ")") << "\n";
  }
  if (!bestPeer.empty())
    os << "vs peer: the fastest peer's median time / this row's (> 1: seqmix "
          "is faster)\n";
  // The selective scan is bound by its B D N T exponentials (exp(delta A)
  // per channel, state entry and token): each row against the time they
  // take alone at the probe's exp rate.
  if (probe && probe->expRate > 0 && spec.mixer == Mixer::SelectiveScan) {
    for (const Row &r : rows) {
      if (r.impl != "seqmix" || r.timesMs.empty())
        continue;
      double exps = double(B) * spec.channels * spec.stateDim * r.T;
      double expMs = exps / probe->expRate * 1e3;
      os << llvm::format("exp bound: T=%lld %s: %.3g exps take %.3f ms at "
                         "the probe's rate; the median is %.2fx that\n",
                         (long long)r.T, r.form.c_str(), exps, expMs,
                         median(r.timesMs) / expMs);
    }
  }
  return allOk ? 0 : 1;
}
