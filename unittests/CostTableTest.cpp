//===- CostTableTest.cpp - the cost model's constants as JSON -------------===//
#include "seqmix/Analysis/CostTable.h"

#include <gtest/gtest.h>

using namespace seqmix;

namespace {
std::string errorOf(llvm::StringRef text) {
  llvm::Expected<Machine> m = parseCostTable(text, "t.json");
  if (m)
    return "";
  return llvm::toString(m.takeError());
}
} // namespace

TEST(CostTable, PrintedTableReadsBackTheSameMachine) {
  Machine m = Machine::hostCpu();
  m.peakMatmul = 351.8e9;
  m.etaMatmul = 0.591;
  m.chunkStep = 3.86e-6;
  m.launch = 17e-6;
  m.bf16DotSpeedup = 1.9;
  CostTableInfo info{"Some CPU", "avx512", 2, "fitted in a test"};
  std::string text = printCostTable(m, info);
  llvm::Expected<Machine> back = parseCostTable(text, "t.json");
  ASSERT_TRUE(static_cast<bool>(back)) << llvm::toString(back.takeError());
  EXPECT_DOUBLE_EQ(back->peakMatmul, m.peakMatmul);
  EXPECT_DOUBLE_EQ(back->etaMatmul, m.etaMatmul);
  EXPECT_DOUBLE_EQ(back->chunkStep, m.chunkStep);
  EXPECT_DOUBLE_EQ(back->launch, m.launch);
  EXPECT_DOUBLE_EQ(back->l1Bytes, m.l1Bytes);
  EXPECT_DOUBLE_EQ(back->bf16DotSpeedup, 1.9);
}

TEST(CostTable, MissingFieldsKeepTheBuiltInTable) {
  llvm::Expected<Machine> m =
      parseCostTable(R"({"seqmix_cost_model": 1, "eta_vector": 0.5})", "t");
  ASSERT_TRUE(static_cast<bool>(m));
  EXPECT_DOUBLE_EQ(m->etaVector, 0.5);
  EXPECT_DOUBLE_EQ(m->etaMatmul, Machine::hostCpu().etaMatmul);
  EXPECT_DOUBLE_EQ(m->chunkStep, Machine::hostCpu().chunkStep);
}

TEST(CostTable, BadTablesNameTheProblem) {
  EXPECT_NE(errorOf("{").find("t.json: not valid JSON"), std::string::npos);
  EXPECT_NE(errorOf("[1]").find("a cost table is a JSON object"),
            std::string::npos);
  EXPECT_NE(errorOf(R"({"eta_matmul": 0.5})")
                .find("missing field "
                      "'seqmix_cost_model'"),
            std::string::npos);
  EXPECT_NE(errorOf(R"({"seqmix_cost_model": 2})").find("reads version 1"),
            std::string::npos);
  EXPECT_NE(errorOf(R"({"seqmix_cost_model": 1, "eta_matmull": 0.5})")
                .find("unknown field 'eta_matmull'"),
            std::string::npos);
  EXPECT_NE(errorOf(R"({"seqmix_cost_model": 1, "chunk_step": -1})")
                .find("field 'chunk_step' must be a non-negative number"),
            std::string::npos);
  EXPECT_NE(errorOf(R"({"seqmix_cost_model": 1, "launch": "2us"})")
                .find("field 'launch' must be a non-negative number"),
            std::string::npos);
  EXPECT_NE(errorOf(R"({"seqmix_cost_model": 1, "bandwidth": 0})")
                .find("field 'bandwidth' must be a positive number"),
            std::string::npos);
  EXPECT_EQ(errorOf(R"({"seqmix_cost_model": 1, "chunk_step": 0})"), "");
  EXPECT_NE(errorOf(R"({"seqmix_cost_model": 1, "eta_matmul": 1.5})")
                .find("at most 1"),
            std::string::npos);
  llvm::Expected<Machine> m = loadCostTable("/nonexistent/table.json");
  ASSERT_FALSE(static_cast<bool>(m));
  EXPECT_NE(llvm::toString(m.takeError()).find("cannot read the cost table"),
            std::string::npos);
}

TEST(CostTable, TermsAddUpToTheEstimate) {
  // The fit reads an estimate's terms: they must give its seconds back.
  Machine m = Machine::hostCpu();
  Problem p;
  p.family = Mixer::GatedLinearAttention;
  p.gate = Gate::Scalar;
  p.heads = 4;
  p.seqLen = 1024;
  p.keyDim = p.valueDim = 128;
  for (Form f : {Form::Parallel, Form::Chunked, Form::Recurrent}) {
    Estimate e = estimateForm(p, f, 32, m);
    EXPECT_DOUBLE_EQ(e.terms.seconds(m), e.seconds) << formName(f);
  }
  p.family = Mixer::SoftmaxAttention;
  Estimate e = estimateForm(p, Form::Chunked, 64, m);
  EXPECT_DOUBLE_EQ(e.terms.seconds(m), e.seconds);
  EXPECT_GT(e.terms.blockSteps, 0);
  // Doubling the block step adds exactly its share.
  Machine m2 = m;
  m2.blockStep *= 2;
  EXPECT_NEAR(estimateForm(p, Form::Chunked, 64, m2).seconds - e.seconds,
              e.terms.blockSteps * m.blockStep, 1e-12);
}
