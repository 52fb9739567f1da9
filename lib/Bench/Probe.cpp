//===- Probe.cpp - fp32 FMA peak, read bandwidth, exp rate of this machine ===//
//
// The FMA probe runs more independent accumulator chains than the FMA units'
// latency x throughput needs (4-5 cycles x 2 units), so it is bound by issue
// rate only. The kernels carry target attributes and are picked at run time,
// so the library itself is built for the baseline ISA.
//
//===----------------------------------------------------------------------===//
#include "seqmix/Bench/Probe.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <immintrin.h>
#include <thread>
#include <vector>

using namespace seqmix;

namespace {
using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// 16 chains of 16 lanes: 512 FLOPs per iteration.
__attribute__((target("avx512f"))) float fmaChainsAvx512(int64_t iters,
                                                         float seed) {
  __m512 acc[16];
  for (int j = 0; j < 16; ++j)
    acc[j] = _mm512_set1_ps(seed + j);
  const __m512 m = _mm512_set1_ps(0.999999f), a = _mm512_set1_ps(1e-7f);
  for (int64_t i = 0; i < iters; ++i) {
#pragma clang loop unroll(full)
    for (int j = 0; j < 16; ++j)
      acc[j] = _mm512_fmadd_ps(acc[j], m, a);
  }
  __m512 s = acc[0];
  for (int j = 1; j < 16; ++j)
    s = _mm512_add_ps(s, acc[j]);
  return _mm512_reduce_add_ps(s);
}

// 12 chains of 8 lanes (AVX2 has 16 registers): 192 FLOPs per iteration.
__attribute__((target("avx2,fma"))) float fmaChainsAvx2(int64_t iters,
                                                        float seed) {
  __m256 acc[12];
  for (int j = 0; j < 12; ++j)
    acc[j] = _mm256_set1_ps(seed + j);
  const __m256 m = _mm256_set1_ps(0.999999f), a = _mm256_set1_ps(1e-7f);
  for (int64_t i = 0; i < iters; ++i) {
#pragma clang loop unroll(full)
    for (int j = 0; j < 12; ++j)
      acc[j] = _mm256_fmadd_ps(acc[j], m, a);
  }
  __m256 s = acc[0];
  for (int j = 1; j < 12; ++j)
    s = _mm256_add_ps(s, acc[j]);
  float out[8];
  _mm256_storeu_ps(out, s);
  float r = 0;
  for (float f : out)
    r += f;
  return r;
}

// 8 scalar chains: 16 FLOPs per iteration.
float fmaChainsScalar(int64_t iters, float seed) {
  volatile float mv = 0.999999f, av = 1e-7f;
  float m = mv, a = av, acc[8];
  for (int j = 0; j < 8; ++j)
    acc[j] = seed + j;
  for (int64_t i = 0; i < iters; ++i)
    for (int j = 0; j < 8; ++j)
      acc[j] = __builtin_fmaf(acc[j], m, a);
  float r = 0;
  for (float f : acc)
    r += f;
  return r;
}

// The exp probe's constants: log2 e, ln 2 in two parts, and the Cephes
// polynomial for e^r on [-ln2/2, ln2/2] (highest degree first).
constexpr float kLog2e = 1.44269504088896341f, kLn2Hi = 0.693359375f,
                kLn2Lo = -2.12194440e-4f;
constexpr float kExpPoly[] = {1.9875691500e-4f, 1.3981999507e-3f,
                              8.3334519073e-3f, 4.1665795894e-2f,
                              1.6666665459e-1f, 5.0000001201e-1f};

// exp(x) by range reduction and a degree-6 polynomial (the Cephes expf
// scheme, the class of MLIR's math polynomial approximation): n = round(x
// log2 e), r = x - n ln 2 in two parts, e^r by the polynomial, 2^n by scalef.
// Four independent vectors per step over an L1-resident buffer of `n`
// arguments, `passes` times; the sums keep the results live.
__attribute__((target("avx512f"))) float
expStreamAvx512(const float *x, int64_t n, int64_t passes) {
  const __m512 log2e = _mm512_set1_ps(kLog2e);
  const __m512 c1 = _mm512_set1_ps(kLn2Hi), c2 = _mm512_set1_ps(kLn2Lo);
  const __m512 one = _mm512_set1_ps(1.0f);
  __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(),
                   _mm512_setzero_ps(), _mm512_setzero_ps()};
  for (int64_t pass = 0; pass < passes; ++pass)
    for (int64_t i = 0; i + 64 <= n; i += 64) {
#pragma clang loop unroll(full)
      for (int j = 0; j < 4; ++j) {
        __m512 v = _mm512_loadu_ps(x + i + 16 * j);
        __m512 k = _mm512_roundscale_ps(_mm512_mul_ps(v, log2e),
                                        _MM_FROUND_TO_NEAREST_INT);
        __m512 r = _mm512_fnmadd_ps(k, c1, v);
        r = _mm512_fnmadd_ps(k, c2, r);
        __m512 y = _mm512_set1_ps(kExpPoly[0]);
        for (int c = 1; c < 6; ++c)
          y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(kExpPoly[c]));
        y = _mm512_fmadd_ps(y, _mm512_mul_ps(r, r), _mm512_add_ps(r, one));
        acc[j] = _mm512_add_ps(acc[j], _mm512_scalef_ps(y, k));
      }
    }
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc[0], acc[1]),
                                            _mm512_add_ps(acc[2], acc[3])));
}

// The same with AVX2 (8 lanes; 2^n through the exponent bits).
__attribute__((target("avx2,fma"))) float
expStreamAvx2(const float *x, int64_t n, int64_t passes) {
  const __m256 log2e = _mm256_set1_ps(kLog2e);
  const __m256 c1 = _mm256_set1_ps(kLn2Hi), c2 = _mm256_set1_ps(kLn2Lo);
  const __m256 one = _mm256_set1_ps(1.0f);
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(),
                   _mm256_setzero_ps(), _mm256_setzero_ps()};
  for (int64_t pass = 0; pass < passes; ++pass)
    for (int64_t i = 0; i + 32 <= n; i += 32) {
#pragma clang loop unroll(full)
      for (int j = 0; j < 4; ++j) {
        __m256 v = _mm256_loadu_ps(x + i + 8 * j);
        __m256 k =
            _mm256_round_ps(_mm256_mul_ps(v, log2e),
                            _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        __m256 r = _mm256_fnmadd_ps(k, c1, v);
        r = _mm256_fnmadd_ps(k, c2, r);
        __m256 y = _mm256_set1_ps(kExpPoly[0]);
        for (int c = 1; c < 6; ++c)
          y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(kExpPoly[c]));
        y = _mm256_fmadd_ps(y, _mm256_mul_ps(r, r), _mm256_add_ps(r, one));
        __m256i e = _mm256_slli_epi32(
            _mm256_add_epi32(_mm256_cvtps_epi32(k), _mm256_set1_epi32(127)),
            23);
        acc[j] =
            _mm256_add_ps(acc[j], _mm256_mul_ps(y, _mm256_castsi256_ps(e)));
      }
    }
  __m256 s = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]),
                           _mm256_add_ps(acc[2], acc[3]));
  float out[8];
  _mm256_storeu_ps(out, s);
  float r = 0;
  for (float f : out)
    r += f;
  return r;
}

// An 8 x 32 register tile over k = 64, `reps` times: 16 accumulators, a
// row of B (two vectors) and a broadcast of A per step, as the compiler's
// tiles. Returns a sum of the tile, so that nothing is left out.
constexpr int kTileRows = 8, kTileK = 64;

__attribute__((target("avx512f"))) float tileFma(const float *a, const float *b,
                                                 int64_t reps) {
  float sum = 0;
  for (int64_t rep = 0; rep < reps; ++rep) {
    __m512 acc[kTileRows][2];
    for (auto &row : acc)
      row[0] = row[1] = _mm512_setzero_ps();
    for (int k = 0; k < kTileK; ++k) {
      __m512 b0 = _mm512_loadu_ps(b + 32 * k),
             b1 = _mm512_loadu_ps(b + 32 * k + 16);
#pragma clang loop unroll(full)
      for (int r = 0; r < kTileRows; ++r) {
        __m512 x = _mm512_set1_ps(a[r * kTileK + k]);
        acc[r][0] = _mm512_fmadd_ps(x, b0, acc[r][0]);
        acc[r][1] = _mm512_fmadd_ps(x, b1, acc[r][1]);
      }
    }
    for (auto &row : acc)
      sum += _mm512_reduce_add_ps(_mm512_add_ps(row[0], row[1]));
  }
  return sum;
}

// The same tile on bf16 pairs: A's pair (k, k + 1) broadcast as one 32-bit
// lane, B packed in pairs (Bp[k / 2][n][k % 2]).
__attribute__((target("avx512f,avx512bf16"))) float
tileDot(const uint16_t *a, const uint16_t *b, int64_t reps) {
  float sum = 0;
  for (int64_t rep = 0; rep < reps; ++rep) {
    __m512 acc[kTileRows][2];
    for (auto &row : acc)
      row[0] = row[1] = _mm512_setzero_ps();
    for (int k = 0; k < kTileK; k += 2) {
      __m512bh b0 = (__m512bh)_mm512_loadu_si512(b + 32 * k),
               b1 = (__m512bh)_mm512_loadu_si512(b + 32 * k + 32);
#pragma clang loop unroll(full)
      for (int r = 0; r < kTileRows; ++r) {
        int32_t pair;
        std::memcpy(&pair, a + r * kTileK + k, 4);
        __m512bh x = (__m512bh)_mm512_set1_epi32(pair);
        acc[r][0] = _mm512_dpbf16_ps(acc[r][0], x, b0);
        acc[r][1] = _mm512_dpbf16_ps(acc[r][1], x, b1);
      }
    }
    for (auto &row : acc)
      sum += _mm512_reduce_add_ps(_mm512_add_ps(row[0], row[1]));
  }
  return sum;
}

struct FmaKernel {
  const char *isa;
  float (*run)(int64_t, float);
  double flopsPerIter;
};

FmaKernel bestFmaKernel() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f"))
    return {"avx512", fmaChainsAvx512, 16 * 16 * 2};
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    return {"avx2", fmaChainsAvx2, 12 * 8 * 2};
  return {"scalar", fmaChainsScalar, 8 * 2};
}

/// Runs `work(thread index)` on `threads` threads released together; returns
/// the wall time from the release to the last finish.
template <typename Fn> double timeOnThreads(int threads, Fn work) {
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      ready.fetch_add(1);
      while (!go.load(std::memory_order_acquire))
        std::this_thread::yield();
      work(t);
    });
  while (ready.load() < threads)
    std::this_thread::yield();
  Clock::time_point t0 = Clock::now();
  go.store(true, std::memory_order_release);
  for (std::thread &th : pool)
    th.join();
  return secondsSince(t0);
}

__attribute__((target("avx2"))) uint64_t sumAvx2(const uint64_t *p, int64_t n) {
  __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    s0 = _mm256_add_epi64(s0, _mm256_load_si256((const __m256i *)(p + i)));
    s1 = _mm256_add_epi64(s1, _mm256_load_si256((const __m256i *)(p + i + 4)));
    s2 = _mm256_add_epi64(s2, _mm256_load_si256((const __m256i *)(p + i + 8)));
    s3 = _mm256_add_epi64(s3, _mm256_load_si256((const __m256i *)(p + i + 12)));
  }
  s0 = _mm256_add_epi64(_mm256_add_epi64(s0, s1), _mm256_add_epi64(s2, s3));
  uint64_t out[4];
  _mm256_storeu_si256((__m256i *)out, s0);
  uint64_t r = out[0] + out[1] + out[2] + out[3];
  for (; i < n; ++i)
    r += p[i];
  return r;
}

uint64_t sumScalar(const uint64_t *p, int64_t n) {
  uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    s0 += p[i];
    s1 += p[i + 1];
    s2 += p[i + 2];
    s3 += p[i + 3];
  }
  for (; i < n; ++i)
    s0 += p[i];
  return s0 + s1 + s2 + s3;
}
} // namespace

std::string seqmix::cpuModelName() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) != 0)
      continue;
    size_t colon = line.find(':');
    if (colon == std::string::npos)
      break;
    std::string name = line.substr(colon + 1);
    name.erase(0, name.find_first_not_of(" \t"));
    return name.empty() ? "unknown" : name;
  }
  return "unknown";
}

int seqmix::hardwareThreads() {
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

double seqmix::probeFmaPeak(int threads, int runs) {
  threads = std::max(threads, 1);
  FmaKernel k = bestFmaKernel();
  // Size one run to about 50 ms on one thread.
  int64_t iters = 1 << 16;
  for (;;) {
    Clock::time_point t0 = Clock::now();
    volatile float sink = k.run(iters, 1.0f);
    (void)sink;
    if (secondsSince(t0) > 0.01 || iters > (int64_t(1) << 34))
      break;
    iters *= 2;
  }
  iters *= 5;
  double best = 0;
  std::vector<float> sinks(threads);
  for (int r = 0; r < runs; ++r) {
    double s = timeOnThreads(threads,
                             [&](int t) { sinks[t] = k.run(iters, 1.0f + t); });
    best = std::max(best, k.flopsPerIter * double(iters) * threads / s);
  }
  volatile float keep = sinks[0];
  (void)keep;
  return best;
}

double seqmix::probeReadBandwidth(int threads, int64_t bytes, int runs) {
  threads = std::max(threads, 1);
  int64_t words = bytes / 8;
  int64_t share = (words / threads) & ~int64_t(15);
  void *mem = nullptr;
  if (share <= 0 || posix_memalign(&mem, 64, size_t(share * threads * 8)) != 0)
    return 0;
  auto *buf = static_cast<uint64_t *>(mem);
  // Each thread touches its own share first, so its pages sit near it.
  timeOnThreads(threads, [&](int t) {
    std::memset(buf + t * share, t + 1, size_t(share * 8));
  });
  bool avx2 = __builtin_cpu_supports("avx2");
  std::vector<uint64_t> sinks(threads);
  double best = 0;
  for (int r = 0; r < runs; ++r) {
    double s = timeOnThreads(threads, [&](int t) {
      const uint64_t *p = buf + t * share;
      sinks[t] = avx2 ? sumAvx2(p, share) : sumScalar(p, share);
    });
    best = std::max(best, double(share * threads * 8) / s);
  }
  volatile uint64_t keep = sinks[0];
  (void)keep;
  std::free(mem);
  return best;
}

double seqmix::probeExpRate(int threads, int runs) {
  threads = std::max(threads, 1);
  __builtin_cpu_init();
  float (*kernel)(const float *, int64_t, int64_t) = nullptr;
  if (__builtin_cpu_supports("avx512f"))
    kernel = expStreamAvx512;
  else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    kernel = expStreamAvx2;
  else
    return 0;
  // 4096 arguments in [-10, 0] (16 KiB: first-level cache), per thread.
  constexpr int64_t n = 4096;
  std::vector<float> x(n);
  for (int64_t i = 0; i < n; ++i)
    x[i] = -10.0f * float(i) / float(n);
  int64_t passes = 16;
  for (;;) {
    Clock::time_point t0 = Clock::now();
    volatile float sink = kernel(x.data(), n, passes);
    (void)sink;
    if (secondsSince(t0) > 0.01 || passes > (int64_t(1) << 30))
      break;
    passes *= 2;
  }
  passes *= 5;
  double best = 0;
  std::vector<float> sinks(threads);
  for (int r = 0; r < runs; ++r) {
    double s = timeOnThreads(
        threads, [&](int t) { sinks[t] = kernel(x.data(), n, passes); });
    best = std::max(best, double(n) * double(passes) * threads / s);
  }
  volatile float keep = sinks[0];
  (void)keep;
  return best;
}

double seqmix::probeBf16DotSpeedup(int runs) {
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx512bf16"))
    return 0;
  // Small values (bf16 1/64 .. 1/2), the same in both tiles.
  std::vector<float> af(kTileRows * kTileK), bf(kTileK * 32);
  std::vector<uint16_t> ab(af.size()), bp(bf.size());
  for (size_t i = 0; i < af.size(); ++i) {
    af[i] = float(1 + i % 32) / 64.0f;
    uint32_t bits;
    std::memcpy(&bits, &af[i], 4);
    ab[i] = uint16_t(bits >> 16);
  }
  for (int k = 0; k < kTileK; ++k)
    for (int n = 0; n < 32; ++n) {
      float x = float(1 + (k + n) % 32) / 64.0f;
      bf[32 * k + n] = x;
      uint32_t bits;
      std::memcpy(&bits, &x, 4);
      bp[64 * (k / 2) + 2 * n + k % 2] = uint16_t(bits >> 16);
    }
  // Size one timing to about 10 ms of the FMA tile.
  int64_t reps = 1 << 10;
  for (;;) {
    Clock::time_point t0 = Clock::now();
    volatile float sink = tileFma(af.data(), bf.data(), reps);
    (void)sink;
    if (secondsSince(t0) > 0.01 || reps > (int64_t(1) << 30))
      break;
    reps *= 2;
  }
  double fma = 1e30, dot = 1e30;
  for (int r = 0; r < runs; ++r) {
    Clock::time_point t0 = Clock::now();
    volatile float s1 = tileFma(af.data(), bf.data(), reps);
    fma = std::min(fma, secondsSince(t0));
    t0 = Clock::now();
    volatile float s2 = tileDot(ab.data(), bp.data(), reps);
    dot = std::min(dot, secondsSince(t0));
    (void)s1;
    (void)s2;
  }
  return fma / dot;
}

MachineProbe seqmix::probeMachine(int threads) {
  MachineProbe p;
  p.cpu = cpuModelName();
  p.isa = bestFmaKernel().isa;
  p.threads = threads;
  p.fmaFlops = probeFmaPeak(threads);
  p.readBytes = probeReadBandwidth(threads);
  p.expRate = probeExpRate(threads);
  p.bf16DotSpeedup = probeBf16DotSpeedup();
  return p;
}
