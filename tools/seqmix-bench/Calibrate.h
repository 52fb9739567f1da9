//===- Calibrate.h - fit the cost model's constants on this machine -*- C++
//-*-===//
#ifndef SEQMIX_BENCH_CALIBRATE_H
#define SEQMIX_BENCH_CALIBRATE_H

#include "seqmix/Bench/Probe.h"

#include "llvm/Support/raw_ostream.h"

#include <cstdint>
#include <string>

namespace seqmix::bench {

struct CalibrateOptions {
  std::string seqmixc; ///< the compiler (beside the bench)
  std::string outPath; ///< where the fitted table goes
  std::string grid;    ///< "full" or "quick" (a few tiny shapes, for tests)
  int threads = 1;
  unsigned reps = 5, warmup = 2;
  /// Rounds of timing, alternating between the forms of a layer; a point
  /// keeps the least of its rounds' medians.
  unsigned rounds = 3;
  uint64_t seed = 1;
  MachineProbe probe; ///< peak and bandwidth measured in this run
};

/// Times a fixed grid of layers (gated linear attention with 64- and
/// 128-wide heads in every form and several chunk sizes, causal softmax
/// attention) on this machine, fits the cost model's constants to the times
/// by least squares on the relative error, writes the table to
/// `o.outPath` and reports, per shape of the grid, whether the fitted model
/// and the built-in one pick a form within 10 % of the measured fastest.
/// Returns the process exit status.
int runCalibration(const CalibrateOptions &o, llvm::raw_ostream &os);

} // namespace seqmix::bench

#endif // SEQMIX_BENCH_CALIBRATE_H
