//===- FormCostModel.h - cost of each computation form ----------*- C++ -*-===//
//
// The time model of FORMS.md section 6 as a plain C++ function (no MLIR), so
// selection can be unit-tested on its own. Hardware numbers are parameters.
//
//===----------------------------------------------------------------------===//
#ifndef SEQMIX_ANALYSIS_FORMCOSTMODEL_H
#define SEQMIX_ANALYSIS_FORMCOSTMODEL_H

#include "seqmix/Spec/Mixer.h"

#include <cstdint>
#include <string>
#include <vector>

namespace seqmix {

enum class Form { Parallel, Chunked, Recurrent };
enum class Gate { None, Constant, Scalar, Vector };

const char *formName(Form form);

/// One op instance: everything the formulas need, per (batch, head) slice
/// multiplied by batch * heads. For the SSM scans `heads` is the channel count
/// and `keyDim` the state size N.
struct Problem {
  Mixer family = Mixer::GatedLinearAttention;
  Gate gate = Gate::None;
  int64_t batch = 1, heads = 1, seqLen = 1, keyDim = 64, valueDim = 64;
  /// Softmax attention: the number of keys (0: seqLen) and the mask.
  int64_t kvLen = 0;
  bool causal = true;
  /// The call reads an initial state / writes a final state (K x V fp32 per
  /// slice for the linear families): memory traffic that dominates decode.
  bool stateIn = false, stateOut = false;
  /// Bytes of one activation or output element in memory (FORMS.md 6.1's
  /// e): 4 for f32, 2 for bf16 and f16. Gates, states and every buffer
  /// inside the forms are f32 whatever it is.
  double activationBytes = 4;
};

/// Target parameters of FORMS.md 6.2.
struct Machine {
  double peakMatmul; ///< FLOP/s of dense matmul
  double peakVector; ///< FLOP/s of elementwise work
  double etaMatmul;  ///< achieved fraction of peakMatmul
  double etaVector;  ///< achieved fraction of peakVector
  double bandwidth;  ///< bytes/s
  double saturation; ///< independent work items that fill the machine
  double tauChunk;   ///< seconds per dependent chunk step
  double tauToken;   ///< seconds per dependent token step
  double launch;     ///< seconds of fixed overhead
  /// Seconds of fixed cost per block step of one worker (softmax attention:
  /// one query block against one key block, whatever its size).
  double blockStep = 0;
  /// Bytes of cache per worker; a softmax score matrix larger than this
  /// slows the parallel form down (its passes over the scores leave cache).
  double cacheBytes = 1 << 20;
  /// Bytes of first-level cache per worker; a transposed key block larger
  /// than this costs one cache line per element.
  double l1Bytes = 32 << 10;
  /// Seconds of fixed cost per chunk step of one worker in the chunked
  /// linear forms (small chunks run smaller register tiles, less often full).
  double chunkStep = 0;
  /// MAC rate of the AVX512-BF16 dot product (vdpbf16ps) in a register tile
  /// over that of f32 FMAs; above 1 the compiler computes the products of
  /// two bf16 activations with it (--bf16-dot=auto). The built-in table's is
  /// the Sapphire Rapids build machine's (seqmix-bench --probe measures it).
  double bf16DotSpeedup = 0.5;

  /// The built-in table: a 2-core AVX-512 CPU of the project's build
  /// machines, with the efficiencies `seqmix-bench --calibrate` measured for
  /// the code seqmix generates today.
  static Machine hostCpu();
  /// FORMS.md 6.2's illustrative 16-core CPU with tuned matmul kernels.
  static Machine illustrativeCpu();
};

/// An estimate's time split into the parts the machine's constants scale, so
/// that a fit (seqmix-bench --calibrate) can solve for the constants:
///   seconds = max(compute, memory) + serial
///   compute = matmulWork / (etaMatmul peakMatmul)
///           + vectorWork / (etaVector peakVector)
///           + chunkSteps chunkStep + blockSteps blockStep + fixedCompute
struct CostTerms {
  double matmulWork = 0;   ///< FLOPs on the critical worker's share, scaled
  double vectorWork = 0;   ///< (by the machine's use and cache spills)
  double chunkSteps = 0;   ///< chunk steps of one worker (linear families)
  double blockSteps = 0;   ///< block steps of one worker (softmax attention)
  double fixedCompute = 0; ///< seconds not scaled by a fitted constant
  double memory = 0;       ///< seconds of memory traffic
  double serial = 0;       ///< seconds of dependent steps and launch
  double compute(const Machine &m) const;
  double seconds(const Machine &m) const;
};

struct Estimate {
  Form form;
  int64_t chunk = 0;
  double flopsMatmul = 0, flopsVector = 0, bytes = 0, depth = 0;
  double seconds = 0;
  CostTerms terms; ///< seconds = terms.seconds(machine)
};

/// Cost of computing `p` in `form` (chunk size `chunk` for the chunked form).
Estimate estimateForm(const Problem &p, Form form, int64_t chunk,
                      const Machine &m);

/// The cheapest of `candidates` (chunked tried with C in {16, ..., 256},
/// C <= T); all evaluated estimates are appended to `all` when given.
/// Returns false when `candidates` is empty.
bool selectForm(const Problem &p, const std::vector<Form> &candidates,
                const Machine &m, Estimate &best,
                std::vector<Estimate> *all = nullptr);

} // namespace seqmix

#endif // SEQMIX_ANALYSIS_FORMCOSTMODEL_H
