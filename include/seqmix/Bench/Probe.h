//===- Probe.h - this machine's fp32 FMA peak and read bandwidth -*- C++
//-*-===//
//
// The yardsticks seqmix-bench reports against: the fp32 FMA throughput the
// cores reach with independent register-resident FMA chains, and the rate at
// which they stream reads from main memory. Measured in the same run as the
// layers they judge, since machines of one kind differ (Zen 3/4/5, Intel) and
// a shared VM drifts. No MLIR here.
//
//===----------------------------------------------------------------------===//
#ifndef SEQMIX_BENCH_PROBE_H
#define SEQMIX_BENCH_PROBE_H

#include <cstdint>
#include <string>

namespace seqmix {

/// What the probe measured, on `threads` threads.
struct MachineProbe {
  std::string cpu; ///< the CPU's model name (/proc/cpuinfo)
  std::string isa; ///< the widest FMA the probe used: avx512, avx2 or scalar
  int threads = 1;
  double fmaFlops = 0;  ///< fp32 FLOP/s (an FMA is 2 FLOPs), best of the runs
  double readBytes = 0; ///< bytes/s streamed from memory, best of the runs
  /// fp32 exponentials per second (a vectorized polynomial exp over a
  /// first-level-cache buffer), best of the runs; 0 without AVX2/AVX-512.
  double expRate = 0;
  /// MAC rate of AVX512-BF16 dot products over that of f32 FMAs in an 8 x 32
  /// register tile (the cost table's bf16_dot_speedup); 0 without
  /// AVX512-BF16.
  double bf16DotSpeedup = 0;
};

/// The CPU's model name, or "unknown".
std::string cpuModelName();

/// The machine's hardware threads (at least 1).
int hardwareThreads();

/// fp32 FLOP/s of `threads` threads each running independent chains of
/// vector FMAs (AVX-512 or AVX2+FMA where the CPU has them); the best of
/// `runs` timings of about 50 ms each.
double probeFmaPeak(int threads, int runs = 5);

/// Bytes/s of `threads` threads each summing its share of a `bytes` buffer
/// (far larger than the caches); the best of `runs` passes.
double probeReadBandwidth(int threads, int64_t bytes = int64_t(256) << 20,
                          int runs = 5);

/// fp32 exponentials/s of `threads` threads each evaluating a vectorized
/// polynomial exp (range reduction, degree-6 polynomial, 2^n) over an
/// L1-resident buffer, 4 independent vectors per step; the best of `runs`.
/// The yardstick of exp-bound layers (the selective scan's D N T decays).
double probeExpRate(int threads, int runs = 5);

/// One thread's MAC rate in an 8 x 32 register tile (k = 64, operands in the
/// first-level cache, as seqmix-tile-contractions' tiles) with vdpbf16ps on
/// bf16 pairs over that with f32 FMAs, the best of `runs` each; 0 when the
/// CPU has no AVX512-BF16.
double probeBf16DotSpeedup(int runs = 5);

/// All probes on `threads` threads.
MachineProbe probeMachine(int threads);

} // namespace seqmix

#endif // SEQMIX_BENCH_PROBE_H
