//===- LayerHarnessTest.cpp - seq_len slicing of host tensors -------------===//
#include "seqmix/Testing/LayerHarness.h"

#include <gtest/gtest.h>

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
