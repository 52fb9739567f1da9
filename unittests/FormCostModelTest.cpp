//===- FormCostModelTest.cpp - FORMS.md section 6 selection ---------------===//
#include "seqmix/Analysis/FormCostModel.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <tuple>

using namespace seqmix;

namespace {
Problem gla(int64_t T, int64_t bh, int64_t d) {
  Problem p;
  p.family = Mixer::GatedLinearAttention;
  p.gate = Gate::Scalar;
  p.heads = bh;
  p.seqLen = T;
  p.keyDim = p.valueDim = d;
  return p;
}
} // namespace

TEST(FormCostModel, FlopCountsFollowFormulas) {
  Machine m = Machine::hostCpu();
  Problem p = gla(256, 1, 64);
  Estimate par = estimateForm(p, Form::Parallel, 0, m);
  EXPECT_DOUBLE_EQ(par.flopsMatmul, 2.0 * 256 * 256 * 128);
  Estimate ch = estimateForm(p, Form::Chunked, 64, m);
  EXPECT_DOUBLE_EQ(ch.flopsMatmul, 2.0 * 256 * 64 * 128 + 4.0 * 256 * 64 * 64);
  EXPECT_DOUBLE_EQ(ch.depth, 4);
  Estimate rec = estimateForm(p, Form::Recurrent, 0, m);
  EXPECT_DOUBLE_EQ(rec.flopsVector, 5.0 * 256 * 64 * 64 + 256);
  EXPECT_DOUBLE_EQ(rec.depth, 256);
}

TEST(FormCostModel, ParallelForShortChunkedForLong) {
  // FORMS.md 6.4's CPU rows: parallel for short sequences, chunked for long.
  Machine m = Machine::illustrativeCpu();
  std::vector<Form> all = {Form::Parallel, Form::Chunked, Form::Recurrent};
  Estimate best;
  ASSERT_TRUE(selectForm(gla(64, 16, 128), all, m, best));
  EXPECT_EQ(best.form, Form::Parallel);
  ASSERT_TRUE(selectForm(gla(16384, 16, 128), all, m, best));
  EXPECT_EQ(best.form, Form::Chunked);
}

TEST(FormCostModel, HostCalibrationPrefersRecurrentForLongSmallHeads) {
  // Without register-tiled matmuls (today's code), the recurrent form wins
  // long sequences with 64-wide heads on this machine, as measured.
  Machine m = Machine::hostCpu();
  std::vector<Form> all = {Form::Parallel, Form::Chunked, Form::Recurrent};
  Estimate best;
  ASSERT_TRUE(selectForm(gla(2048, 8, 64), all, m, best));
  EXPECT_EQ(best.form, Form::Recurrent);
}

TEST(FormCostModel, OnlyCandidatesAreChosen) {
  Machine m = Machine::hostCpu();
  Estimate best;
  std::vector<Estimate> seen;
  ASSERT_TRUE(selectForm(gla(4096, 4, 64), {Form::Recurrent}, m, best, &seen));
  EXPECT_EQ(best.form, Form::Recurrent);
  EXPECT_EQ(seen.size(), 1u);
  EXPECT_FALSE(selectForm(gla(4096, 4, 64), {}, m, best));
}

TEST(FormCostModel, ChunkSizesStayWithinSequence) {
  Machine m = Machine::hostCpu();
  Estimate best;
  std::vector<Estimate> seen;
  ASSERT_TRUE(selectForm(gla(40, 1, 64), {Form::Chunked}, m, best, &seen));
  for (const Estimate &e : seen)
    EXPECT_TRUE(e.chunk <= 40 || e.chunk == 16) << e.chunk;
}

namespace {
Problem softmax(int64_t B, int64_t H, int64_t T, int64_t Tk, bool causal) {
  Problem p;
  p.family = Mixer::SoftmaxAttention;
  p.batch = B;
  p.heads = H;
  p.seqLen = T;
  p.kvLen = Tk;
  p.keyDim = p.valueDim = 64;
  p.causal = causal;
  return p;
}
const std::vector<Form> kAllForms = {Form::Parallel, Form::Chunked,
                                     Form::Recurrent};
} // namespace

TEST(FormCostModel, SoftmaxCausalSkipsHalfTheScores) {
  Machine m = Machine::hostCpu();
  Estimate causal =
      estimateForm(softmax(1, 8, 4096, 4096, true), Form::Chunked, 64, m);
  Estimate full =
      estimateForm(softmax(1, 8, 4096, 4096, false), Form::Chunked, 64, m);
  // Visible pairs T(T+1)/2 plus half a block per query on the diagonal.
  EXPECT_DOUBLE_EQ(causal.flopsMatmul,
                   8 * 2.0 * (4096.0 * 4097 / 2 + 4096.0 * 64 / 2) * 128);
  EXPECT_DOUBLE_EQ(full.flopsMatmul, 8 * 2.0 * 4096 * 4096 * 128);
  EXPECT_NEAR(causal.seconds / full.seconds, 0.5, 0.02);
}

TEST(FormCostModel, SoftmaxPrefillIsChunkedWithMidSizedBlocks) {
  // Measured on this machine's kind (causal, B=1 H=8 D=64): blocks of 64 to
  // 128 beat 16 (block-step overhead) and 256 (partial diagonal blocks),
  // and the chunked form beats the materialized one.
  Machine m = Machine::hostCpu();
  Estimate best;
  std::vector<Estimate> seen;
  for (int64_t T : {1024, 4096}) {
    seen.clear();
    ASSERT_TRUE(
        selectForm(softmax(1, 8, T, T, true), kAllForms, m, best, &seen));
    EXPECT_EQ(best.form, Form::Chunked) << T;
    EXPECT_GE(best.chunk, 64) << T;
    EXPECT_LE(best.chunk, 128) << T;
    // Every candidate is reported: parallel, chunked 16..256, recurrent.
    EXPECT_EQ(seen.size(), 7u);
  }
}

TEST(FormCostModel, SoftmaxParallelOnlyWhileScoresAreSmall) {
  Machine m = Machine::hostCpu();
  Estimate best;
  ASSERT_TRUE(selectForm(softmax(1, 8, 64, 64, false), kAllForms, m, best));
  EXPECT_EQ(best.form, Form::Parallel);
  ASSERT_TRUE(selectForm(softmax(1, 8, 4096, 4096, false), kAllForms, m, best));
  EXPECT_NE(best.form, Form::Parallel);
}

TEST(FormCostModel, SoftmaxDecodeIsRecurrentAndSplitsFewSlices) {
  Machine m = Machine::hostCpu();
  Estimate best;
  for (int64_t H : {1, 8}) {
    ASSERT_TRUE(selectForm(softmax(1, H, 1, 4096, true), kAllForms, m, best));
    EXPECT_EQ(best.form, Form::Recurrent) << H;
  }
  // One slice: split-KV spreads the 32 key steps over both workers.
  Estimate one =
      estimateForm(softmax(1, 1, 1, 4096, true), Form::Recurrent, 0, m);
  EXPECT_DOUBLE_EQ(one.depth, 16);
}

TEST(FormCostModel, HostModelPicksWithinTenPercentOfMeasuredFastest) {
  // Medians of 7 calls that `seqmix-bench --calibrate --reps=7` measured on
  // the machine the built-in table was fitted on (2 threads of an Intel Xeon
  // with AVX-512, docs/performance.md, machine B): gated linear attention
  // (scalar gate, B = 1, H = 4, K = V = d) and causal softmax attention
  // (B = 1, H = 8, D = 64). For each shape, the form the built-in model
  // picks among those measured must be within 10 % of the fastest. (Left
  // out: T = 64, where every form takes under 0.2 ms, dominated by per-call
  // costs the model does not describe: it picks parallel where recurrent
  // measured 1.3-1.5x faster.)
  struct Measured {
    bool softmax;
    int64_t d, T;
    Form form;
    int64_t chunk;
    double ms;
  };
  const Measured grid[] = {
      {false, 128, 64, Form::Parallel, 0, 0.155},
      {false, 128, 256, Form::Parallel, 0, 0.598},
      {false, 128, 1024, Form::Parallel, 0, 30.150},
      {false, 128, 256, Form::Chunked, 16, 0.337},
      {false, 128, 1024, Form::Chunked, 16, 1.376},
      {false, 128, 4096, Form::Chunked, 16, 5.650},
      {false, 128, 256, Form::Chunked, 32, 0.341},
      {false, 128, 1024, Form::Chunked, 32, 1.417},
      {false, 128, 4096, Form::Chunked, 32, 5.806},
      {false, 128, 256, Form::Chunked, 64, 0.395},
      {false, 128, 1024, Form::Chunked, 64, 1.689},
      {false, 128, 4096, Form::Chunked, 64, 6.592},
      {false, 128, 256, Form::Chunked, 128, 0.552},
      {false, 128, 1024, Form::Chunked, 128, 2.189},
      {false, 128, 4096, Form::Chunked, 128, 10.036},
      {false, 128, 64, Form::Recurrent, 0, 0.104},
      {false, 128, 256, Form::Recurrent, 0, 0.350},
      {false, 128, 1024, Form::Recurrent, 0, 1.386},
      {false, 128, 4096, Form::Recurrent, 0, 6.000},
      {false, 64, 64, Form::Parallel, 0, 0.041},
      {false, 64, 256, Form::Parallel, 0, 0.348},
      {false, 64, 256, Form::Chunked, 32, 0.117},
      {false, 64, 1024, Form::Chunked, 32, 0.455},
      {false, 64, 4096, Form::Chunked, 32, 1.955},
      {false, 64, 256, Form::Chunked, 64, 0.150},
      {false, 64, 1024, Form::Chunked, 64, 0.596},
      {false, 64, 4096, Form::Chunked, 64, 2.487},
      {false, 64, 64, Form::Recurrent, 0, 0.031},
      {false, 64, 256, Form::Recurrent, 0, 0.091},
      {false, 64, 1024, Form::Recurrent, 0, 0.363},
      {false, 64, 4096, Form::Recurrent, 0, 1.578},
      {true, 64, 256, Form::Parallel, 0, 0.686},
      {true, 64, 1024, Form::Parallel, 0, 12.638},
      {true, 64, 256, Form::Chunked, 32, 0.489},
      {true, 64, 1024, Form::Chunked, 32, 6.296},
      {true, 64, 2048, Form::Chunked, 32, 25.179},
      {true, 64, 256, Form::Chunked, 64, 0.438},
      {true, 64, 1024, Form::Chunked, 64, 7.335},
      {true, 64, 2048, Form::Chunked, 64, 23.704},
      {true, 64, 256, Form::Chunked, 128, 0.474},
      {true, 64, 1024, Form::Chunked, 128, 5.585},
      {true, 64, 2048, Form::Chunked, 128, 21.141},
  };
  Machine m = Machine::hostCpu();
  std::map<std::tuple<bool, int64_t, int64_t>, std::vector<Measured>> shapes;
  for (const Measured &g : grid)
    if (g.T > 64)
      shapes[{g.softmax, g.d, g.T}].push_back(g);
  ASSERT_EQ(shapes.size(), 9u);
  for (auto &[key, points] : shapes) {
    auto [softmax, d, T] = key;
    Problem p = gla(T, softmax ? 8 : 4, d);
    p.gate = Gate::Scalar;
    if (softmax) {
      p.family = Mixer::SoftmaxAttention;
      p.gate = Gate::None;
    }
    const Measured *picked = nullptr, *fastest = nullptr;
    double best = 0;
    for (const Measured &g : points) {
      double s = estimateForm(p, g.form, g.chunk, m).seconds;
      if (!picked || s < best) {
        picked = &g;
        best = s;
      }
      if (!fastest || g.ms < fastest->ms)
        fastest = &g;
    }
    EXPECT_LE(picked->ms, 1.10 * fastest->ms)
        << (softmax ? "softmax" : "gla") << " T=" << T << " d=" << d
        << ": the model picks " << formName(picked->form) << "("
        << picked->chunk << "), the fastest is " << formName(fastest->form)
        << "(" << fastest->chunk << ")";
  }
}
