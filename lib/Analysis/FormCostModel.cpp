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
  // `seqmix-bench --calibrate --reps=7` on 2 threads of an Intel Xeon with
  // AVX-512 (the bench's probe: 349-363 GFLOP/s fp32 FMA peak, 25-26 GB/s read;
  // docs/performance.md, machine B), fitted on the code this compiler
  // generates now (register tiles with the state's decay fused in, 16 x 16
  // shuffle transposes, the next block prefetched, row reductions in vector
  // accumulators, the recurrent state walked in tiles):
  //   - the matmul-shaped forms at 0.709 of the peak, the recurrent form's
  //     vector work at 0.712;
  //   - no cost per chunk step beyond its FLOPs, 2.0 us per softmax block
  //     step and worker, 12.3 us per call;
  // and within 10 % of the fastest measured form on 10 of the grid's 11
  // shapes (the miss: T = 64, every form under 0.1 ms). The softmax
  // parallel form's rate halves once its T_q x T_k scores outgrow 1 MiB of
  // cache, and so does the decode form's with its T_q x 128 steps on a long
  // prefill. A table fitted on another machine replaces these
  // (--cost-model, CostTable.h).
  Machine m{363e9,  363e9,   0.709,    0.712,  26.3e9,  2,
            0.2e-6, 0.02e-6, 12.32e-6, 2.0e-6, 1 << 20, 32 << 10};
  m.chunkStep = 0;
  return m;
}

Machine Machine::illustrativeCpu() {
  // FORMS.md 6.2: a 16-core AVX-512 CPU with tuned micro-kernels.
  return Machine{2.56e12, 2.56e12, 0.7,  0.4,    100e9,   16,
                 0.2e-6,  0.02e-6, 2e-6, 0.5e-6, 1 << 20, 32 << 10};
}

/// How much slower the softmax steps run when their score matrix (`bytes`)
/// outgrows the cache: up to 2x, reached at 16x the cache.
static double spillSlowdown(double bytes, const Machine &m) {
  double spill = bytes / m.cacheBytes;
  return spill > 1 ? 1 + std::min(1.0, std::log2(spill) / 4) : 1;
}

Estimate seqmix::estimateForm(const Problem &p, Form form, int64_t chunk,
                              const Machine &m) {
  // The parallel forms of the key-vector gate (FORMS.md 3.4: the same
  // sub-chunks, each earlier one a contraction of dynamic size) and of the
  // delta rule (4.4: one WY block, its forward substitution T^3/3) are their
  // chunked forms with one chunk of T tokens, inter and state terms
  // included.
  bool oneChunk =
      (p.family == Mixer::GatedLinearAttention && p.gate == Gate::Vector) ||
      p.family == Mixer::DeltaRule;
  if (oneChunk && form == Form::Parallel) {
    Estimate whole =
        estimateForm(p, Form::Chunked, std::max<int64_t>(1, p.seqLen), m);
    whole.form = Form::Parallel;
    whole.chunk = 0;
    return whole;
  }
  Estimate e;
  e.form = form;
  e.chunk = form == Form::Chunked ? chunk : 0;
  const double T = static_cast<double>(p.seqLen), K = p.keyDim, V = p.valueDim;
  const double C = std::max<double>(1, std::min<double>(chunk, T));
  const double nc = std::ceil(T / C);
  const double slices = static_cast<double>(p.batch) * p.heads;
  const double ab = p.activationBytes;
  const double act = ab * T * (2 * K + 2 * V); // q, k, v, o
  double items = slices;
  double blocks = 0;       // block steps per slice (softmax attention)
  double slowdown = 1;     // of the compute rate (softmax scores out of cache)
  double keyBlock = 0;     // keys per block step (softmax: K^T is K x keyBlock)
  double vectorPasses = 1; // time per vector FLOP, in units of the tiled one
  switch (p.family) {
  case Mixer::SoftmaxAttention: {
    // T is the number of queries, Tk of keys (bottom-right aligned).
    const double Tk = p.kvLen > 0 ? static_cast<double>(p.kvLen) : T;
    // Scores a causal mask leaves visible (FORMS.md 1.1).
    const double visible =
        p.causal ? std::max(0.0, T * (Tk - T) + T * (T + 1) / 2) : T * Tk;
    if (form == Form::Chunked) {
      // Query blocks of C = min(chunk, T) rows, key blocks of Ck =
      // min(chunk, T_k) keys. Key blocks no query of a block sees are
      // skipped; the partial (diagonal) blocks are computed whole.
      const double Ck = std::max<double>(1, std::min<double>(chunk, Tk));
      double tiles = std::min(T * Tk, visible + (p.causal ? T * Ck / 2 : 0));
      e.flopsMatmul = 2 * tiles * (K + V);
      e.flopsVector = 6 * tiles;
      e.depth = std::ceil(Tk / Ck);
      items = slices * nc;
      blocks = std::max(nc, std::ceil(tiles / (C * Ck)));
      keyBlock = Ck;
    } else if (form == Form::Recurrent) {
      // Decode: all queries as one block over the keys up to the last
      // query's position, 128 keys a step; with split-KV the keys are cut
      // into S segments so that (batch, head, segment) fill the workers, as
      // the lowering does.
      const double Cd = 128;
      double tiles = T * Tk; // one query block: no key block is skipped
      double steps = std::max(1.0, std::ceil(Tk / Cd));
      double splits =
          std::min(std::max(1.0, std::ceil(m.saturation / slices)), steps);
      e.flopsMatmul = 2 * tiles * (K + V);
      e.flopsVector = 6 * tiles + 4 * splits * T * V; // + the merge
      e.bytes = 4 * T * Cd;
      e.depth = std::ceil(steps / splits);
      items = slices * splits;
      blocks = steps;
      keyBlock = std::min(Cd, Tk);
      slowdown = spillSlowdown(4 * T * Cd, m); // T_q x 128 scores a step
    } else {
      e.flopsMatmul = 2 * T * Tk * (K + V);
      e.flopsVector = 6 * T * Tk;
      e.bytes = 16 * T * Tk;
      e.depth = 1;
      blocks = 1;
      keyBlock = Tk;
      slowdown = spillSlowdown(4 * T * Tk, m);
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
      // The delta rule's recurrence walks its state in K x 32 column tiles
      // over blocks of 64 tokens, like the gated linear recurrence, but with
      // two row dot products per column and token: measured 1.4x slower per
      // FLOP (B=1 H=4 K=V=128 T=8192 on machine B: 39 % of peak against
      // GLA's 55 %).
      if (delta)
        vectorPasses = 1.4;
      e.depth = T;
    } else if (form == Form::Chunked) {
      e.flopsMatmul = delta ? T * (6 * C * K + 4 * C * V + 6 * K * V)
                            : 2 * T * C * (K + V) + 4 * T * K * V;
      e.flopsVector = delta
                          ? T * C * C / 3 + 2 * T * C
                          : (vectorGate ? 13 * T * K + 24 * T * K : 3 * T * C);
      e.depth = nc;
      items = slices * nc;
      blocks = nc;
    } else {
      e.flopsMatmul = delta ? 2 * T * T * (2 * K + V) : 2 * T * T * (K + V);
      e.flopsVector = delta ? T * T * (K + V) : 2 * T * T;
      e.bytes = 8 * T * T;
      e.depth = delta ? T : 1;
      items = slices;
    }
    e.bytes += act + (vectorGate ? 4 * T * K : 0) +
               4 * K * V * ((p.stateIn ? 1 : 0) + (p.stateOut ? 1 : 0));
    break;
  }
  case Mixer::CausalConv1d:
    // keyDim = the width W; one form (parallel): W multiply-adds per output,
    // the input read and the output written once.
    e.flopsVector = 2 * T * K;
    e.bytes = 2 * ab * T;
    e.depth = 1;
    break;
  case Mixer::LTIScan: {
    // keyDim = modes N' per channel, valueDim = planes per mode (2 complex,
    // 1 real). Recurrent: a compensated state step (6 per plane) and the
    // read-out (2 per plane) per mode and token. Chunked: the state's
    // read-out and update through the powers (4 per plane per mode and
    // token), the chunk's causal convolution (C/2 per token, one row update
    // per lag) and its tables of powers (about 40 per plane, mode and lag).
    // Parallel: the kernel (2 per plane per mode and lag) and its tables (64
    // + T/64 lags), then the direct convolution (T/2 per token) below 256
    // tokens or the FFT convolution (below). The time per FLOP of each
    // (vectorPasses) is what machine B measured for the code generated now
    // (H = 256, B = 1, T = 64 to 16384; N' = 32 complex modes, N' = 16 real
    // ones): complex arithmetic runs slower per FLOP than real; the chunked
    // form overtakes the recurrence from about T = 1024; the FFT
    // convolution beats the recurrence from T = 1024 with complex modes,
    // never with real ones.
    const double planes = V;
    const bool complexModes = planes > 1;
    if (form == Form::Recurrent) {
      e.flopsVector = 8 * planes * T * K;
      e.depth = T;
      vectorPasses = complexModes ? 2.9 : 2.0;
    } else if (form == Form::Chunked) {
      e.flopsVector = T * (4 * planes * K + C) + 80 * planes * C * K;
      e.depth = nc;
      vectorPasses = complexModes ? 3.7 : 1.9;
    } else {
      // The kernel and its tables, then the direct convolution below 256
      // tokens or the FFT of n = 2^ceil(log2 2T) points from there, as the
      // lowering chooses. The FFT (one n-point transform forward, half of
      // one back, in four passes over n rows of 16 channels) costs c n
      // log2 n with c growing with n, as its buffer leaves the caches:
      // fitted to the real-mode times (kernel 1.1 per FLOP from the
      // complex-real differences), c = 18 at n = 2^11, 24 at 2^13 and 31
      // at 2^15.
      e.flopsVector =
          2 * planes * T * K + 80 * planes * (64 + std::ceil(T / 64)) * K;
      e.depth = 1;
      if (T < 256) {
        e.flopsVector += T * T;
        vectorPasses = 5;
      } else {
        const double logn = std::ceil(std::log2(2 * T));
        const double c = 18 + 3.4 * std::max(-2.0, logn - 11);
        e.flopsVector += c * std::exp2(logn) * logn;
        vectorPasses = 1.1;
      }
    }
    e.bytes += 2 * ab * T; // u and the output
    break;
  }
  case Mixer::SelectiveScan:
    // keyDim = state size N per channel.
    if (form == Form::Recurrent) {
      e.flopsVector = 7 * T * K;
      e.depth = T;
    } else if (form == Form::Chunked) {
      // The CPU lowering of the chunked form (the two-level scan) scans each
      // chunk token by token after the previous one (the parallelism over
      // chunks is not used): as deep as the recurrence, with its extra work
      // (the carried g = exp(Lambda) h_start, its flush and the sum h~ + g:
      // machine B, B = 1, D = 1536, N = 16, T = 4096, chunked(64) 19.0-21.0
      // ms against the recurrence's 17.9-20.3 in the same runs).
      e.flopsVector = 8 * T * K;
      e.depth = T;
    } else {
      // The associative scan in blocks of 32 tokens, one after the other:
      // the elements' exps and products (7), five Hillis-Steele passes of a
      // multiply and an fma over [32, N] (3 each, counted per token) and the
      // fused read-out, with their passes over the block's [32, N, Dc]
      // tables; machine B measured it 9x slower than the recurrence (B = 1,
      // D = 256, N = 16, T = 4096: 44 ms against 5.0 ms), which this count
      // follows.
      e.flopsVector = 63 * T * K;
      e.bytes = 8 * T * K;
      e.depth = std::ceil(T / 32);
    }
    e.bytes += 4 * ab * T; // u, delta, z and the output
    break;
  }
  e.flopsMatmul *= slices;
  e.flopsVector *= slices;
  e.bytes *= slices;
  CostTerms &t = e.terms;
  double use = std::min(1.0, items / m.saturation);
  t.matmulWork = slowdown * e.flopsMatmul / use;
  t.vectorWork = slowdown * vectorPasses * e.flopsVector / use;
  // Block steps spread over the workers in use: their fixed cost, and the
  // transposed key block, which writes one cache line per element once it
  // outgrows the first-level cache (measured: the parallel form of a decode
  // step, T_k = 4096, is 5x slower than 128-key steps).
  double perWorker =
      blocks * slices / std::max(1.0, std::min(items, m.saturation));
  if (p.family == Mixer::SoftmaxAttention) {
    t.blockSteps = perWorker;
    if (4 * K * keyBlock > m.l1Bytes)
      t.fixedCompute = perWorker * K * keyBlock * 64 / m.bandwidth;
  } else {
    t.chunkSteps = perWorker;
  }
  t.memory = e.bytes / m.bandwidth;
  t.serial =
      e.depth * (form == Form::Recurrent ? m.tauToken : m.tauChunk) + m.launch;
  e.seconds = t.seconds(m);
  return e;
}

double CostTerms::compute(const Machine &m) const {
  return matmulWork / (m.etaMatmul * m.peakMatmul) +
         vectorWork / (m.etaVector * m.peakVector) + chunkSteps * m.chunkStep +
         blockSteps * m.blockStep + fixedCompute;
}

double CostTerms::seconds(const Machine &m) const {
  return std::max(compute(m), memory) + serial;
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
  // A decode step of a linear recurrence (FORMS.md 6.6: T = 1 is the
  // recurrent step) streams its state once in every form, and the
  // recurrence does so with the least work around it (measured, B=8 H=32
  // K=V=128 on machine B: the gated delta rule's recurrent step 1.32 ms,
  // chunked 1.36-1.44, parallel 1.7-2.0; linear attention 1.14 against
  // 1.35-1.46).
  bool linear = p.family == Mixer::LinearAttention ||
                p.family == Mixer::GatedLinearAttention ||
                p.family == Mixer::DeltaRule;
  if (found && linear && p.seqLen == 1 && best.form != Form::Recurrent)
    for (Form f : candidates)
      if (f == Form::Recurrent) {
        best = estimateForm(p, f, 0, m);
        break;
      }
  return found;
}
