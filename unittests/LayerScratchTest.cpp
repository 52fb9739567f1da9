//===- LayerScratchTest.cpp - the compiled layers' heap allocator ---------===//
//
// lib/Target/CPU/LayerScratch.c, as the JIT binds it (LayerScratchHost.cpp):
// large blocks freed by a thread come back to that thread for requests that
// fit; small ones, oversized ones and other threads' requests go to malloc.
//
//===----------------------------------------------------------------------===//
#include <gtest/gtest.h>

#include <cstddef>
#include <cstring>
#include <thread>

extern "C" void *seqmix_scratch_alloc(size_t size);
extern "C" void seqmix_scratch_free(void *ptr);

namespace {

constexpr size_t kMiB = size_t(1) << 20;

TEST(LayerScratch, ReusesAFreedLargeBlockOnTheSameThread) {
  void *a = seqmix_scratch_alloc(4 * kMiB);
  ASSERT_NE(a, nullptr);
  std::memset(a, 1, 4 * kMiB);
  seqmix_scratch_free(a);
  void *b = seqmix_scratch_alloc(4 * kMiB);
  EXPECT_EQ(a, b);
  // A smaller request that still fits (at least half the block) too.
  seqmix_scratch_free(b);
  void *c = seqmix_scratch_alloc(3 * kMiB);
  EXPECT_EQ(a, c);
  seqmix_scratch_free(c);
}

TEST(LayerScratch, KeepsBlocksForRequestsThatFit) {
  void *big = seqmix_scratch_alloc(8 * kMiB);
  ASSERT_NE(big, nullptr);
  seqmix_scratch_free(big);
  // Less than half the cached block: a new one (the cached one is held).
  void *small = seqmix_scratch_alloc(1 * kMiB);
  ASSERT_NE(small, nullptr);
  EXPECT_NE(small, big);
  // Larger than the cached block: a new one.
  void *larger = seqmix_scratch_alloc(9 * kMiB);
  ASSERT_NE(larger, nullptr);
  EXPECT_NE(larger, big);
  // The cached block is still there for a request that fits.
  void *again = seqmix_scratch_alloc(8 * kMiB);
  EXPECT_EQ(again, big);
  seqmix_scratch_free(small);
  seqmix_scratch_free(larger);
  seqmix_scratch_free(again);
}

TEST(LayerScratch, EachThreadHasItsOwnBlocks) {
  void *a = seqmix_scratch_alloc(2 * kMiB);
  ASSERT_NE(a, nullptr);
  seqmix_scratch_free(a);
  void *fromOther = nullptr;
  std::thread t([&] {
    fromOther = seqmix_scratch_alloc(2 * kMiB);
    std::memset(fromOther, 2, 2 * kMiB);
    // Cached by this thread, freed when it exits.
    seqmix_scratch_free(fromOther);
  });
  t.join();
  EXPECT_NE(fromOther, a);
  void *b = seqmix_scratch_alloc(2 * kMiB);
  EXPECT_EQ(b, a);
  seqmix_scratch_free(b);
}

TEST(LayerScratch, SmallBlocksAndNullAreHandled) {
  seqmix_scratch_free(nullptr);
  void *p = seqmix_scratch_alloc(64);
  ASSERT_NE(p, nullptr);
  std::memset(p, 3, 64);
  seqmix_scratch_free(p);
  EXPECT_EQ(seqmix_scratch_alloc(~size_t(0)), nullptr);
  EXPECT_EQ(seqmix_scratch_alloc(~size_t(0) - 8), nullptr);
}

} // namespace
