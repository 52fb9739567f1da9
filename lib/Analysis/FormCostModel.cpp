//===- FormCostModel.cpp - FORMS.md section 6 time model ------------------===//
#include "seqmix/Analysis/FormCostModel.h"

#include <algorithm>
#include <cmath>

using namespace seqmix;

const char *seqmix::formName(Form form) {
  switch (form) {
  case Form::Parallel:
    return "parallel";
  case Form::Chunked:
    return "chunked";
  case Form::Recurrent:
    return "recurrent";
  }
  return "?";
}

Machine Machine::hostCpu() {
  // CPU_CODEGEN.md: 226.8 GFLOP/s FMA peak per core, 2 cores, ~25 GB/s. The
  // efficiencies are those measured for the code this compiler generates
  // today (loops vectorized by LLVM, no register tiling; seqmixc run on
  // gated linear attention, K = V = 64, 2 threads): about 28 GFLOP/s in the
  // matmul-shaped forms and 60 GFLOP/s in the recurrent form.
  return Machine{453.6e9, 453.6e9, 0.06, 0.13, 25e9, 2, 0.2e-6, 0.02e-6, 2e-6};
}

Machine Machine::illustrativeCpu() {
  // FORMS.md 6.2: a 16-core AVX-512 CPU with tuned micro-kernels.
  return Machine{2.56e12, 2.56e12, 0.7, 0.4, 100e9, 16, 0.2e-6, 0.02e-6, 2e-6};
}

Estimate seqmix::estimateForm(const Problem &p, Form form, int64_t chunk,
                              const Machine &m) {
  Estimate e;
  e.form = form;
  e.chunk = form == Form::Chunked ? chunk : 0;
  const double T = static_cast<double>(p.seqLen), K = p.keyDim, V = p.valueDim;
  const double C = std::max<double>(1, std::min<double>(chunk, T));
  const double nc = std::ceil(T / C);
  const double slices = static_cast<double>(p.batch) * p.heads;
  const double act = 4.0 * T * (2 * K + 2 * V); // fp32 q, k, v, o
  double items = slices;
  switch (p.family) {
  case Mixer::SoftmaxAttention: {
    // T is the number of queries, Tk of keys (bottom-right aligned).
    const double Tk = p.kvLen > 0 ? static_cast<double>(p.kvLen) : T;
    // Scores a causal mask leaves visible (FORMS.md 1.1).
    const double visible =
        p.causal ? std::max(0.0, T * (Tk - T) + T * (T + 1) / 2) : T * Tk;
    if (form == Form::Chunked) {
      // Key blocks no query of a block sees are skipped; the partial
      // (diagonal) blocks are computed whole.
      double tiles = std::min(T * Tk, visible + (p.causal ? T * C / 2 : 0));
      e.flopsMatmul = 2 * tiles * (K + V);
      e.flopsVector = 6 * tiles;
      e.depth = std::ceil(Tk / C);
      items = slices * nc;
    } else if (form == Form::Recurrent) {
      // Decode: all queries as one block over the keys up to the last
      // query's position, 256 keys a step, (batch, head) in parallel.
      const double Cd = 256;
      double tiles = T * Tk; // one query block: no key block is skipped
      e.flopsMatmul = 2 * tiles * (K + V);
      e.flopsVector = 6 * tiles;
      e.bytes = 4 * T * Cd;
      e.depth = std::ceil(Tk / Cd);
    } else {
      e.flopsMatmul = 2 * T * Tk * (K + V);
      e.flopsVector = 6 * T * Tk;
      e.bytes = 16 * T * Tk;
      e.depth = 1;
    }
    break;
  }
  case Mixer::LinearAttention:
  case Mixer::GatedLinearAttention:
  case Mixer::DeltaRule: {
    bool delta = p.family == Mixer::DeltaRule;
    bool vectorGate = p.gate == Gate::Vector;
    if (form == Form::Recurrent) {
      e.flopsVector = (delta ? 7 : 5) * T * K * V + (vectorGate ? T * K : T);
      e.depth = T;
    } else if (form == Form::Chunked) {
      e.flopsMatmul = delta ? T * (6 * C * K + 4 * C * V + 6 * K * V)
                            : 2 * T * C * (K + V) + 4 * T * K * V;
      e.flopsVector = delta
                          ? T * C * C / 3 + 2 * T * C
                          : (vectorGate ? 13 * T * K + 24 * T * K : 3 * T * C);
      e.depth = nc;
      items = slices * nc;
    } else {
      e.flopsMatmul = delta ? 2 * T * T * (2 * K + V) : 2 * T * T * (K + V);
      e.flopsVector = delta ? T * T * (K + V) : 2 * T * T;
      e.bytes = 8 * T * T;
      e.depth = delta ? T : 1;
      items = slices;
    }
    e.bytes += act + (vectorGate ? 4 * T * K : 0);
    break;
  }
  case Mixer::SelectiveScan:
  case Mixer::LTIScan:
    // keyDim = state size N per channel.
    if (form == Form::Recurrent) {
      e.flopsVector = 7 * T * K;
      e.depth = T;
    } else if (form == Form::Chunked) {
      e.flopsVector = 12 * T * K;
      e.depth = nc + C;
      items = slices * nc;
    } else {
      e.flopsVector = 12 * T * K;
      e.bytes = 8 * T * K;
      e.depth = 2 * std::log2(std::max(2.0, T));
    }
    e.bytes += 4.0 * 4 * T;
    break;
  }
  e.flopsMatmul *= slices;
  e.flopsVector *= slices;
  e.bytes *= slices;
  double use = std::min(1.0, items / m.saturation);
  double compute = (e.flopsMatmul / (m.etaMatmul * m.peakMatmul) +
                    e.flopsVector / (m.etaVector * m.peakVector)) /
                   use;
  double tau = form == Form::Recurrent ? m.tauToken : m.tauChunk;
  e.seconds =
      std::max(compute, e.bytes / m.bandwidth) + e.depth * tau + m.launch;
  return e;
}

bool seqmix::selectForm(const Problem &p, const std::vector<Form> &candidates,
                        const Machine &m, Estimate &best,
                        std::vector<Estimate> *all) {
  bool found = false;
  auto consider = [&](const Estimate &e) {
    if (all)
      all->push_back(e);
    if (!found || e.seconds < best.seconds) {
      best = e;
      found = true;
    }
  };
  for (Form f : candidates) {
    if (f != Form::Chunked) {
      consider(estimateForm(p, f, 0, m));
      continue;
    }
    for (int64_t c = 16; c <= 256; c *= 2)
      if (c <= p.seqLen || c == 16)
        consider(estimateForm(p, f, c, m));
  }
  return found;
}
