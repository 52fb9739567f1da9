//===- LayerHarnessTest.cpp - seq_len slicing of host tensors -------------===//
#include "seqmix/Testing/LayerHarness.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace seqmix;

namespace {
/// A [2, 3, T, 2] tensor (dims batch, heads, seq_len, key_dim) holding
/// 1000 * b + 100 * h + 10 * t + k.
HostTensor numbered(int64_t T) {
  HostTensor t;
  t.desc.name = "q";
  t.desc.shape = {-1, 3, -1, 2};
  t.desc.dims = {"batch", "heads", "seq_len", "key_dim"};
  t.shape = {2, 3, T, 2};
  for (int b = 0; b < 2; ++b)
    for (int h = 0; h < 3; ++h)
      for (int s = 0; s < T; ++s)
        for (int k = 0; k < 2; ++k)
          t.data.push_back(static_cast<float>(1000 * b + 100 * h + 10 * s + k));
  return t;
}
} // namespace

TEST(LayerHarness, SliceSeqLenTakesTokensOfEverySlice) {
  HostTensor part = sliceSeqLen(numbered(5), 2, 4);
  EXPECT_EQ(part.shape, (std::vector<int64_t>{2, 3, 2, 2}));
  ASSERT_EQ(part.data.size(), 24u);
  EXPECT_EQ(part.data[0], 20.0f);    // b 0, h 0, t 2, k 0
  EXPECT_EQ(part.data[3], 31.0f);    // b 0, h 0, t 3, k 1
  EXPECT_EQ(part.data[4], 120.0f);   // b 0, h 1, t 2
  EXPECT_EQ(part.data[23], 1231.0f); // b 1, h 2, t 3, k 1
}

TEST(LayerHarness, InsertSeqLenUndoesSlice) {
  HostTensor whole = numbered(7), rebuilt = numbered(7);
  std::fill(rebuilt.data.begin(), rebuilt.data.end(), -1.0f);
  insertSeqLen(rebuilt, sliceSeqLen(whole, 0, 3), 0);
  insertSeqLen(rebuilt, sliceSeqLen(whole, 3, 7), 3);
  EXPECT_EQ(rebuilt.data, whole.data);
}

TEST(LayerHarness, TensorsWithoutSeqLenStayWhole) {
  HostTensor state;
  state.desc.dims = {"batch", "heads", "state_rows", "state_cols"};
  state.shape = {1, 1, 2, 2};
  state.data = {1, 2, 3, 4};
  EXPECT_EQ(sliceSeqLen(state, 0, 1).data, state.data);
  HostTensor other = state;
  other.data = {5, 6, 7, 8};
  insertSeqLen(state, other, 1);
  EXPECT_EQ(state.data, other.data);
}

TEST(LayerHarness, NarrowRoundingIsToNearestEven) {
  // bf16 keeps 8 significand bits: between 1 and 2 its spacing is 2^-7.
  EXPECT_EQ(roundToDtype(1.0f + 0x1p-8f, "bf16"), 1.0f); // tie: to even
  EXPECT_EQ(roundToDtype(1.0f + 3 * 0x1p-8f, "bf16"),
            1.0f + 0x1p-6f); // tie: up
  EXPECT_EQ(roundToDtype(1.0f + 0x1p-8f + 0x1p-20f, "bf16"),
            1.0f + 0x1p-7f); // above
  EXPECT_EQ(narrowBits(1.0f, "bf16"), 0x3f80);
  EXPECT_EQ(widenBits(0xc000, "bf16"), -2.0f);
  EXPECT_TRUE(std::isnan(widenBits(narrowBits(NAN, "bf16"), "bf16")));
  // f16: 11 significand bits, largest finite 65504.
  EXPECT_EQ(roundToDtype(1.0f + 0x1p-11f, "f16"), 1.0f);
  EXPECT_EQ(narrowBits(1.0f, "f16"), 0x3c00);
  EXPECT_EQ(roundToDtype(65504.0f, "f16"), 65504.0f);
  EXPECT_TRUE(std::isinf(roundToDtype(1e6f, "f16")));
  EXPECT_EQ(roundToDtype(0.1f, "f32"), 0.1f);
}

TEST(LayerHarness, NarrowTensorsTravelInTheirType) {
  HostTensor in;
  in.desc.dtype = "bf16";
  in.shape = {3};
  in.data = {1.0f, -2.5f, 0.0f};
  HostTensor out = in;
  out.data = {0, 0, 0};
  std::vector<HostTensor> ins = {in}, outs = {out};
  std::vector<seqmix_tensor> args = tensorArgs(ins, outs);
  ASSERT_EQ(args.size(), 2u);
  EXPECT_EQ(args[0].data, ins[0].narrow.data());
  EXPECT_EQ(ins[0].narrow, (std::vector<uint16_t>{0x3f80, 0xc020, 0}));
  // What a layer writes comes back as values.
  outs[0].narrow = {0x4040, 0xbf80, 0x3f00};
  readBack(outs);
  EXPECT_EQ(outs[0].data, (std::vector<float>{3.0f, -1.0f, 0.5f}));
}
