//===- FormCostModelTest.cpp - FORMS.md section 6 selection ---------------===//
#include "seqmix/Analysis/FormCostModel.h"

#include <gtest/gtest.h>

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
