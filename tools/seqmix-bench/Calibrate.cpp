//===- Calibrate.cpp - fit the cost model's constants on this machine -----===//
//
// The model (FormCostModel.h) is linear in four constants once the peak
// rates, bandwidth and worker count are the probe's: a = 1 / (etaMatmul
// peak), b = 1 / (etaVector peak), chunkStep and blockStep. Each timed point
// gives one equation t = a matmulWork + b vectorWork + chunkStep chunkSteps +
// blockStep blockSteps + launch + fixed; the fit minimizes the sum of squared
// relative errors, keeping every constant positive (a constant the data
// cannot pin down keeps the built-in table's value).
//
//===----------------------------------------------------------------------===//
#include "Calibrate.h"
#include "Layers.h"

#include "seqmix/Analysis/CostTable.h"
#include "seqmix/Analysis/FormCostModel.h"
#include "seqmix/Spec/LayerSpec.h"
#include "seqmix/Testing/LayerHarness.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <ctime>
#include <map>

using namespace seqmix;
using namespace seqmix::bench;

namespace {
/// One layer of the grid, the forms to time and at which lengths.
struct GridCase {
  std::string name; ///< short label ("gla K=V=128")
  std::string spec; ///< JSON text
  struct Item {
    Config config;
    std::vector<int64_t> lens;
  };
  std::vector<Item> items;
};

std::string glaSpec(const char *name, int heads, int dim,
                    const char *gate = "scalar") {
  return llvm::formatv(
             R"({{"seqmix": 1, "name": "{0}", "mixer": "gated_linear_attention",)"
             R"( "gate": "{3}", "heads": {1}, "key_dim": {2}, "value_dim": {2},)"
             R"( "batch": 1, "seq_len": "?"})",
             name, heads, heads * dim, gate)
      .str();
}

std::string deltaSpec(const char *name, int heads, int dim) {
  return llvm::formatv(
             R"({{"seqmix": 1, "name": "{0}", "mixer": "delta_rule",)"
             R"( "gated": true, "l2norm_qk": true, "heads": {1},)"
             R"( "key_dim": {2}, "value_dim": {2}, "batch": 1, "seq_len": "?"})",
             name, heads, heads * dim)
      .str();
}

std::string softmaxSpec(const char *name, int heads, int dim) {
  return llvm::formatv(
             R"({{"seqmix": 1, "name": "{0}", "mixer": "softmax_attention",)"
             R"( "heads": {1}, "head_dim": {2}, "causal": true, "batch": 1,)"
             R"( "seq_len": "?"})",
             name, heads, dim)
      .str();
}

Config chunked(int64_t c) { return Config{"chunked", c, true}; }
const Config kParallel{"parallel", 0, true};
const Config kRecurrent{"recurrent", 0, true};

std::vector<GridCase> makeGrid(const std::string &grid) {
  if (grid == "quick")
    return {
        {"gla K=V=32",
         glaSpec("cal_gla32", 2, 32),
         {{kParallel, {32, 64}},
          {chunked(16), {32, 64}},
          {kRecurrent, {32, 64}}}},
        {"softmax D=32",
         softmaxSpec("cal_sdpa32", 2, 32),
         {{kParallel, {32, 64}}, {chunked(16), {32, 64}}}},
    };
  std::vector<int64_t> longs = {256, 1024, 4096};
  return {
      {"gla K=V=128",
       glaSpec("cal_gla128", 4, 128),
       {{kParallel, {64, 256, 1024}},
        {chunked(16), longs},
        {chunked(32), longs},
        {chunked(64), longs},
        {chunked(128), longs},
        {kRecurrent, {64, 256, 1024, 4096}}}},
      {"gla K=V=64",
       glaSpec("cal_gla64", 4, 64),
       {{kParallel, {64, 256}},
        {chunked(16), longs},
        {chunked(32), longs},
        {chunked(64), longs},
        {kRecurrent, {64, 256, 1024, 4096}}}},
      {"gla-vector K=V=128",
       glaSpec("cal_glav128", 4, 128, "vector"),
       {{chunked(16), longs},
        {chunked(32), longs},
        {chunked(64), longs},
        {kRecurrent, longs}}},
      {"delta K=V=128",
       deltaSpec("cal_delta128", 4, 128),
       {{kParallel, {64, 256}},
        {chunked(16), longs},
        {chunked(32), longs},
        {chunked(64), longs},
        {kRecurrent, longs}}},
      {"softmax D=64",
       softmaxSpec("cal_sdpa64", 8, 64),
       {{kParallel, {256, 1024}},
        {chunked(32), {256, 1024, 2048}},
        {chunked(64), {256, 1024, 2048}},
        {chunked(128), {256, 1024, 2048}}}},
  };
}

Form formOf(const Config &c) {
  return c.form == "parallel"  ? Form::Parallel
         : c.form == "chunked" ? Form::Chunked
                               : Form::Recurrent;
}

/// One timed point.
struct Point {
  size_t caseIndex;
  int64_t T;
  Config config;
  Problem problem;
  double seconds; ///< the least of the rounds' medians
  /// The model's estimate of this point on machine `m`.
  Estimate estimate(const Machine &m) const {
    return estimateForm(problem, formOf(config), config.chunk, m);
  }
};

constexpr int kUnknowns = 5; // a, b, chunkStep, blockStep, launch

std::array<double, kUnknowns> featuresOf(const CostTerms &t) {
  return {t.matmulWork, t.vectorWork, t.chunkSteps, t.blockSteps, 1.0};
}

std::array<double, kUnknowns> constantsOf(const Machine &m) {
  return {1 / (m.etaMatmul * m.peakMatmul), 1 / (m.etaVector * m.peakVector),
          m.chunkStep, m.blockStep, m.launch};
}

/// Solves the n x n system `A x = r` (Gaussian elimination with partial
/// pivoting); false when it is singular.
bool solve(std::vector<std::vector<double>> A, std::vector<double> r,
           std::vector<double> &x) {
  size_t n = r.size();
  for (size_t c = 0; c < n; ++c) {
    size_t p = c;
    for (size_t i = c + 1; i < n; ++i)
      if (std::fabs(A[i][c]) > std::fabs(A[p][c]))
        p = i;
    if (std::fabs(A[p][c]) < 1e-300)
      return false;
    std::swap(A[p], A[c]);
    std::swap(r[p], r[c]);
    for (size_t i = c + 1; i < n; ++i) {
      double f = A[i][c] / A[c][c];
      for (size_t k = c; k < n; ++k)
        A[i][k] -= f * A[c][k];
      r[i] -= f * r[c];
    }
  }
  x.assign(n, 0);
  for (size_t c = n; c-- > 0;) {
    double s = r[c];
    for (size_t k = c + 1; k < n; ++k)
      s -= A[c][k] * x[k];
    x[c] = s / A[c][c];
  }
  return true;
}

/// Least squares on relative errors over `points`, starting from `base`
/// (whose peak, bandwidth and saturation are the probe's). Every constant
/// the data cannot pin down, or that fits to a non-positive value, keeps
/// `base`'s value (the fixed-cost ones: 0) and the rest are fitted again.
Machine fitOnce(const std::vector<Point> &points, const std::vector<bool> &use,
                const Machine &base, bool fitSteps, std::string &notes) {
  std::array<double, kUnknowns> x = constantsOf(base);
  // The step costs are fitted here or held at base's values.
  std::array<bool, kUnknowns> free = {true, true, fitSteps, fitSteps, true};
  const std::array<bool, kUnknowns> wanted = free;
  // Rows: features / t and (t - fixed) / t; memory-bound points say nothing
  // of the compute constants.
  std::vector<std::array<double, kUnknowns>> F;
  std::vector<double> rhs;
  for (size_t i = 0; i < points.size(); ++i) {
    const Point &pt = points[i];
    Estimate e = pt.estimate(base);
    if (!use[i] || e.terms.memory > e.terms.compute(base))
      continue;
    std::array<double, kUnknowns> f = featuresOf(e.terms);
    for (double &v : f)
      v /= pt.seconds;
    F.push_back(f);
    // serial holds the launch, which is fitted.
    rhs.push_back(
        (pt.seconds - (e.terms.serial - base.launch) - e.terms.fixedCompute) /
        pt.seconds);
  }
  for (int k = 0; k < kUnknowns; ++k) {
    double norm = 0;
    for (const auto &f : F)
      norm += f[k] * f[k];
    if (norm == 0)
      free[k] = false;
  }
  for (int iter = 0; iter < kUnknowns + 1; ++iter) {
    std::vector<int> cols;
    for (int k = 0; k < kUnknowns; ++k)
      if (free[k])
        cols.push_back(k);
    if (cols.empty())
      break;
    std::vector<std::vector<double>> A(cols.size(),
                                       std::vector<double>(cols.size(), 0));
    std::vector<double> r(cols.size(), 0), sol;
    for (size_t i = 0; i < F.size(); ++i) {
      double y = rhs[i];
      for (int k = 0; k < kUnknowns; ++k)
        if (!free[k])
          y -= F[i][k] * x[k];
      for (size_t p = 0; p < cols.size(); ++p) {
        r[p] += F[i][cols[p]] * y;
        for (size_t q = 0; q < cols.size(); ++q)
          A[p][q] += F[i][cols[p]] * F[i][cols[q]];
      }
    }
    if (!solve(A, r, sol)) {
      notes += " (singular fit: built-in constants kept)";
      break;
    }
    bool again = false;
    for (size_t p = 0; p < cols.size(); ++p) {
      if (sol[p] > 0) {
        x[cols[p]] = sol[p];
        continue;
      }
      // Not positive: keep the base value (a rate) or no fixed cost.
      free[cols[p]] = false;
      x[cols[p]] = cols[p] < 2 ? constantsOf(base)[cols[p]] : 0;
      again = true;
    }
    if (!again)
      break;
  }
  Machine m = base;
  m.etaMatmul = std::clamp(1 / (x[0] * m.peakMatmul), 0.01, 1.0);
  m.etaVector = std::clamp(1 / (x[1] * m.peakVector), 0.01, 1.0);
  m.chunkStep = x[2];
  m.blockStep = x[3];
  m.launch = x[4];
  const char *names[] = {"eta_matmul", "eta_vector", "chunk_step", "block_step",
                         "launch"};
  for (int k = 0; k < kUnknowns; ++k)
    if (wanted[k] && !free[k])
      notes += std::string(" ") + names[k] + " not fitted;";
  if (!fitSteps)
    notes += " chunk_step and block_step chosen on a grid;";
  return m;
}

/// The relative error of the model `m` at `pt`: predicted / measured - 1.
double relativeError(const Point &pt, const Machine &m) {
  return pt.estimate(m).seconds / pt.seconds - 1;
}

/// fitOnce, then again without the points the fit misses by more than 50 %
/// (shapes whose cost the model's form cannot follow, such as score matrices
/// far out of cache, would otherwise bend the constants that decide the
/// close calls); `dropped` says which.
Machine fit(const std::vector<Point> &points, const Machine &base,
            bool fitSteps, std::vector<bool> &dropped, std::string &notes) {
  std::vector<bool> use(points.size(), true);
  Machine m = base;
  for (int round = 0; round < 4; ++round) {
    std::string roundNotes;
    m = fitOnce(points, use, base, fitSteps, roundNotes);
    bool changed = false;
    for (size_t i = 0; i < points.size(); ++i)
      if (use[i] && std::fabs(relativeError(points[i], m)) > 0.5) {
        use[i] = false;
        changed = true;
      }
    if (!changed || round == 3) {
      notes += roundNotes;
      break;
    }
  }
  dropped.assign(points.size(), false);
  for (size_t i = 0; i < points.size(); ++i)
    dropped[i] = !use[i];
  return m;
}

/// The timed points of one shape (layer and length), the forms to choose
/// among.
using Shapes = std::map<std::pair<size_t, int64_t>, std::vector<const Point *>>;

/// The point among `pts` that machine `m` predicts to be the fastest.
const Point *pickFor(const std::vector<const Point *> &pts, const Machine &m) {
  const Point *best = nullptr;
  double bestS = 0;
  for (const Point *pt : pts) {
    double s = pt->estimate(m).seconds;
    if (!best || s < bestS) {
      best = pt;
      bestS = s;
    }
  }
  return best;
}

const Point *fastestOf(const std::vector<const Point *> &pts) {
  return *std::min_element(
      pts.begin(), pts.end(),
      [](const Point *a, const Point *b) { return a->seconds < b->seconds; });
}

/// How well `m` decides: 1000 per shape whose pick is more than 10 % slower
/// than the fastest, plus the picks' excess time over the fastest (as a
/// fraction), plus the RMS relative error over every point (the points
/// left out of the least-squares fit too: among tables that decide alike,
/// the one whose times are right).
double decisionScore(const Shapes &shapes, const std::vector<Point> &points,
                     const Machine &m) {
  double score = 0;
  for (const auto &shape : shapes) {
    double ratio =
        pickFor(shape.second, m)->seconds / fastestOf(shape.second)->seconds;
    score += (ratio > 1.10 ? 1000 : 0) + (ratio - 1);
  }
  double sq = 0;
  for (const Point &pt : points) {
    double e = relativeError(pt, m);
    sq += e * e;
  }
  return score + (points.empty() ? 0 : std::sqrt(sq / points.size()));
}

/// The least-squares constants follow the times on average; the choices
/// hang on the few points where forms or chunk sizes are close, which the
/// model's form cannot all follow at once, and mostly on the fixed costs of
/// a step. So: for each pair of step costs (chunk step, block step) on a
/// grid from 0 to 32 us, the rates and the launch cost by least squares,
/// and of those the machine that decides best (decisionScore); the
/// least-squares fit of all five constants is one of the candidates.
Machine fitForDecisions(const Shapes &shapes, const std::vector<Point> &points,
                        const Machine &base, std::vector<bool> &dropped,
                        std::string &notes) {
  Machine best = fit(points, base, /*fitSteps=*/true, dropped, notes);
  double bestScore = decisionScore(shapes, points, best);
  const double steps[] = {0, 0.5e-6, 1e-6, 2e-6, 4e-6, 8e-6, 16e-6, 32e-6};
  for (double cs : steps)
    for (double bs : steps) {
      Machine start = base;
      start.chunkStep = cs;
      start.blockStep = bs;
      std::vector<bool> d;
      std::string n;
      Machine m = fit(points, start, /*fitSteps=*/false, d, n);
      double score = decisionScore(shapes, points, m);
      if (score < bestScore - 1e-9) {
        best = m;
        bestScore = score;
        dropped = d;
        notes = n;
      }
    }
  return best;
}

int fail(const llvm::Twine &msg) {
  llvm::outs().flush();
  llvm::errs() << "seqmix-bench: error: --calibrate: " << msg << "\n";
  return 1;
}
} // namespace

int bench::runCalibration(const CalibrateOptions &o, llvm::raw_ostream &os) {
  if (o.grid != "full" && o.grid != "quick")
    return fail("--calibrate-grid takes full or quick, got '" + o.grid + "'");
  if (o.probe.fmaFlops <= 0 || o.probe.readBytes <= 0)
    return fail("the fit needs the probe's peak and bandwidth (drop "
                "--probe=false)");
  std::vector<GridCase> grid = makeGrid(o.grid);
  llvm::SmallString<128> tmp;
  if (auto ec = llvm::sys::fs::createUniqueDirectory("seqmix-calibrate", tmp))
    return fail("cannot create a temporary directory: " + ec.message());
  struct Cleanup {
    llvm::SmallString<128> &dir;
    ~Cleanup() { llvm::sys::fs::remove_directories(dir); }
  } cleanup{tmp};

  os << llvm::format("calibrating on %s (%s), %d threads: fp32 FMA peak %.1f "
                     "GFLOP/s, read bandwidth %.1f GB/s (measured now)\n",
                     o.probe.cpu.c_str(), o.probe.isa.c_str(), o.threads,
                     o.probe.fmaFlops / 1e9, o.probe.readBytes / 1e9);
  std::vector<Point> points;
  Tolerance tol;
  Tolerance mutual{2 * tol.relRms, 2 * tol.maxRel};
  for (size_t ci = 0; ci < grid.size(); ++ci) {
    const GridCase &gc = grid[ci];
    std::string specPath = (tmp + "/" + std::to_string(ci) + ".json").str();
    {
      std::error_code ec;
      llvm::raw_fd_ostream f(specPath, ec);
      if (ec)
        return fail("cannot write " + specPath + ": " + ec.message());
      f << gc.spec << "\n";
    }
    llvm::Expected<LayerSpec> spec = loadLayerSpec(specPath);
    if (!spec)
      return fail("grid spec " + gc.name + ": " +
                  llvm::toString(spec.takeError()));
    // The first form's outputs at each length, to check the others against.
    std::map<int64_t, std::vector<HostTensor>> firstOutputs;
    // Every form of the case compiled and loaded first, then timed in
    // rounds that alternate between them: each point keeps the smallest of
    // its rounds' medians, so that a slow spell of a shared machine does not
    // fall on one form only.
    struct Loaded {
      const GridCase::Item *item;
      seqmix_layer *layer;
    };
    std::vector<Loaded> loaded;
    struct Unload {
      std::vector<Loaded> &layers;
      ~Unload() {
        for (Loaded &l : layers)
          seqmix_layer_free(l.layer);
      }
    } unload{loaded};
    for (const GridCase::Item &item : gc.items) {
      std::string so;
      if (std::optional<std::string> err = compileLayer(
              o.seqmixc, specPath, item.config, o.threads, tmp.str().str(), so))
        return fail("cannot compile " + gc.name + " in form " +
                    item.config.label() + ": " + *err);
      std::string loadErr;
      seqmix_layer *layer = loadLayer(so, loadErr);
      if (!layer)
        return fail("cannot load " + gc.name + " in form " +
                    item.config.label() + ": " + loadErr);
      loaded.push_back({&item, layer});
    }
    std::map<int64_t, std::vector<HostTensor>> inputsAt;
    std::map<std::pair<size_t, int64_t>, double> best; // (form, T) -> ms
    for (unsigned round = 0; round < o.rounds; ++round)
      for (size_t li = 0; li < loaded.size(); ++li)
        for (int64_t T : loaded[li].item->lens) {
          const std::string what = gc.name + " " +
                                   loaded[li].item->config.label() +
                                   " at T=" + std::to_string(T);
          std::vector<HostTensor> &inputs = inputsAt[T];
          if (inputs.empty())
            inputs = makeInputs(*spec, 1, T, o.seed, GateRegime::Default);
          std::vector<HostTensor> outputs = makeOutputs(*spec, 1, T);
          std::vector<seqmix_tensor> args = tensorArgs(inputs, outputs);
          std::vector<double> times;
          if (std::optional<std::string> err =
                  timeLayer(loaded[li].layer, args, o.warmup, o.reps, times))
            return fail(what + ": " + *err);
          readBack(outputs);
          if (round == 0) {
            std::vector<std::vector<float>> got;
            for (HostTensor &t : outputs)
              got.push_back(t.data);
            auto first = firstOutputs.find(T);
            if (first == firstOutputs.end()) {
              firstOutputs[T] = outputs;
            } else if (ErrorStats e = compareOutputs(got, first->second);
                       !withinTolerance(e, mutual)) {
              return fail(what + " disagrees with the first form " +
                          llvm::formatv("(max_rel {0:e2})", e.maxRel).str());
            }
          }
          double m = median(times);
          auto it = best.find({li, T});
          if (it == best.end() || m < it->second)
            best[{li, T}] = m;
        }
    for (size_t li = 0; li < loaded.size(); ++li)
      for (int64_t T : loaded[li].item->lens) {
        std::optional<Problem> p = problemForSpec(*spec, 1, T);
        if (!p)
          return fail("the cost model does not count " + gc.name);
        points.push_back(
            {ci, T, loaded[li].item->config, *p, best[{li, T}] * 1e-3});
      }
  }

  // The probe's machine with the built-in efficiencies, then the fit.
  Machine base = Machine::hostCpu();
  base.peakMatmul = base.peakVector = o.probe.fmaFlops;
  base.bandwidth = o.probe.readBytes;
  base.saturation = o.threads;
  // Measured, not fitted (the built-in rate stays without AVX512-BF16, where
  // --bf16-dot=auto never takes it).
  if (o.probe.bf16DotSpeedup > 0)
    base.bf16DotSpeedup = o.probe.bf16DotSpeedup;
  Shapes shapes;
  for (const Point &pt : points)
    shapes[{pt.caseIndex, pt.T}].push_back(&pt);
  std::string fitNotes;
  std::vector<bool> dropped;
  Machine fitted = fitForDecisions(shapes, points, base, dropped, fitNotes);
  Machine builtin = Machine::hostCpu();

  os << llvm::format("%-14s %6s  %-12s %10s %12s %12s\n", "layer", "T", "form",
                     "measured ms", "fitted ms", "built-in ms");
  size_t nDropped = 0;
  for (size_t i = 0; i < points.size(); ++i) {
    const Point &pt = points[i];
    nDropped += dropped[i];
    os << llvm::format("%-14s %6lld  %-12s %10.3f %12.3f %12.3f%s\n",
                       grid[pt.caseIndex].name.c_str(), (long long)pt.T,
                       pt.config.label().c_str(), pt.seconds * 1e3,
                       pt.estimate(fitted).seconds * 1e3,
                       pt.estimate(builtin).seconds * 1e3,
                       dropped[i] ? "  (left out of the fit)" : "");
  }

  // Per shape: the measured fastest and what each table picks among the
  // timed forms.
  int fittedOk = 0, builtinOk = 0;
  os << "per shape: the measured fastest; the form each table picks among "
        "those timed (its time / the fastest)\n";
  for (auto &shape : shapes) {
    const std::pair<size_t, int64_t> &key = shape.first;
    const std::vector<const Point *> &pts = shape.second;
    const Point *fastest = fastestOf(pts);
    const Point *pf = pickFor(pts, fitted), *pb = pickFor(pts, builtin);
    double rf = pf->seconds / fastest->seconds,
           rb = pb->seconds / fastest->seconds;
    fittedOk += rf <= 1.10;
    builtinOk += rb <= 1.10;
    os << llvm::format("  %-14s T=%-5lld fastest %-12s fitted %-12s (%.2fx)  "
                       "built-in %-12s (%.2fx)\n",
                       grid[key.first].name.c_str(), (long long)key.second,
                       fastest->config.label().c_str(),
                       pf->config.label().c_str(), rf,
                       pb->config.label().c_str(), rb);
  }
  os << llvm::format("fitted table: within 10 %% of the fastest on %d of %zu "
                     "shapes; built-in table: %d of %zu\n",
                     fittedOk, shapes.size(), builtinOk, shapes.size());

  CostTableInfo info;
  info.cpu = o.probe.cpu;
  info.isa = o.probe.isa;
  info.threads = o.threads;
  char date[32] = "";
  std::time_t now = std::time(nullptr);
  std::strftime(date, sizeof date, "%Y-%m-%d", std::gmtime(&now));
  info.notes = llvm::formatv("seqmix-bench --calibrate on {0}: grid {1}, {2} "
                             "points ({3} left out of the fit), the least of "
                             "{4} rounds' medians of {5} calls;{6} {7} of {8} "
                             "shapes within 10 % of the fastest",
                             date, o.grid, points.size(), nDropped, o.rounds,
                             o.reps, fitNotes, fittedOk, shapes.size())
                   .str();
  std::string text = printCostTable(fitted, info);
  // Written beside the target and renamed: a reader never sees half a table.
  std::string partial = o.outPath + ".partial";
  {
    std::error_code ec;
    llvm::raw_fd_ostream f(partial, ec);
    if (ec)
      return fail("cannot write " + partial + ": " + ec.message());
    f << text;
    f.close();
    if (f.has_error())
      return fail("cannot write " + partial + ": " + f.error().message());
  }
  if (std::error_code ec = llvm::sys::fs::rename(partial, o.outPath)) {
    llvm::sys::fs::remove(partial);
    return fail("cannot write " + o.outPath + ": " + ec.message());
  }
  os << llvm::format(
      "fitted: eta_matmul %.3f (%.1f GFLOP/s), eta_vector %.3f "
      "(%.1f GFLOP/s), chunk_step %.2f us, block_step %.2f us, "
      "launch %.2f us\n",
      fitted.etaMatmul, fitted.etaMatmul * fitted.peakMatmul / 1e9,
      fitted.etaVector, fitted.etaVector * fitted.peakVector / 1e9,
      fitted.chunkStep * 1e6, fitted.blockStep * 1e6, fitted.launch * 1e6);
  os << "wrote " << o.outPath
     << " (compile with seqmixc --cost-model=" << o.outPath
     << " or SEQMIX_COST_MODEL)\n";
  return 0;
}
