//===- RuntimeTest.cpp - the runtime ABI without a compiler ---------------===//
//
// A hand-written entry point stands in for compiled code: it receives the
// memref descriptors the runtime builds, so the tests check the calling
// convention and every argument check.
//
//===----------------------------------------------------------------------===//
#include "seqmix-c/Runtime.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {
struct Desc2 {
  float *alloc, *aligned;
  int64_t offset, sizes[2], strides[2];
};

int calls = 0;

/// out[i, j] = 2 * x[i, j]; checks the descriptors it receives.
extern "C" void doubleEntry(Desc2 *x, Desc2 *out) {
  ++calls;
  for (int64_t i = 0; i < x->sizes[0]; ++i)
    for (int64_t j = 0; j < x->sizes[1]; ++j)
      out->aligned[out->offset + i * out->strides[0] + j * out->strides[1]] =
          2 * x->aligned[x->offset + i * x->strides[0] + j * x->strides[1]];
}

const char *kMeta = "seqmix-abi 1\nname dbl\n"
                    "arg in x f32 seq_len:? width:3\n"
                    "arg out out f32 seq_len:? width:3\n";

struct RuntimeTest : ::testing::Test {
  void SetUp() override {
    char *err = nullptr;
    layer = seqmix_layer_from_entry(reinterpret_cast<void *>(&doubleEntry),
                                    kMeta, &err);
    ASSERT_NE(layer, nullptr) << (err ? err : "");
  }
  void TearDown() override { seqmix_layer_free(layer); }

  /// Calls the layer; returns the error message or "" on success.
  std::string call(std::vector<seqmix_tensor> args) {
    char *err = nullptr;
    int rc = seqmix_layer_call(layer, args.data(),
                               static_cast<int32_t>(args.size()), &err);
    std::string msg = err ? err : "";
    seqmix_free_error(err);
    EXPECT_EQ(rc != 0, !msg.empty());
    return msg;
  }

  seqmix_layer *layer = nullptr;
};
} // namespace

TEST_F(RuntimeTest, DescribesArguments) {
  EXPECT_EQ(seqmix_layer_num_args(layer), 2);
  EXPECT_STREQ(seqmix_layer_arg_name(layer, 0), "x");
  EXPECT_EQ(seqmix_layer_arg_is_output(layer, 1), 1);
  EXPECT_EQ(seqmix_layer_arg_name(layer, 2), nullptr);
}

TEST_F(RuntimeTest, PassesDescriptors) {
  std::vector<float> x = {1, 2, 3, 4, 5, 6}, out(6);
  int64_t shape[] = {2, 3};
  calls = 0;
  EXPECT_EQ(
      call({{x.data(), 2, shape, nullptr}, {out.data(), 2, shape, nullptr}}),
      "");
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(out, (std::vector<float>{2, 4, 6, 8, 10, 12}));
}

TEST_F(RuntimeTest, RejectsBadShapes) {
  std::vector<float> x(8), out(8);
  int64_t s23[] = {2, 3}, s24[] = {2, 4}, s33[] = {3, 3}, s6[] = {6};
  calls = 0;
  EXPECT_NE(call({{x.data(), 2, s24, nullptr}, {out.data(), 2, s24, nullptr}})
                .find("dimension 1 (width) must be 3"),
            std::string::npos);
  EXPECT_NE(call({{x.data(), 2, s23, nullptr}, {out.data(), 2, s33, nullptr}})
                .find("dimension seq_len is 2 in 'x' but 3 in 'out'"),
            std::string::npos);
  EXPECT_NE(call({{x.data(), 1, s6, nullptr}, {out.data(), 2, s23, nullptr}})
                .find("'x' must have rank 2"),
            std::string::npos);
  EXPECT_NE(call({{x.data(), 2, s23, nullptr}}).find("takes 2 tensors"),
            std::string::npos);
  EXPECT_EQ(calls, 0);
}

TEST_F(RuntimeTest, RejectsOverlapAndStrides) {
  std::vector<float> x(12);
  int64_t shape[] = {2, 3}, strided[] = {6, 1};
  EXPECT_NE(
      call({{x.data(), 2, shape, nullptr}, {x.data() + 3, 2, shape, nullptr}})
          .find("output 'out' overlaps argument 'x'"),
      std::string::npos);
  EXPECT_NE(
      call({{x.data(), 2, shape, strided}, {x.data() + 6, 2, shape, nullptr}})
          .find("must be row-major contiguous"),
      std::string::npos);
}

TEST(Runtime, EnforcesLimits) {
  const char *meta = "seqmix-abi 1\nname dbl\n"
                     "arg in x f32 seq_len:? width:3\n"
                     "arg out out f32 seq_len:? width:3\n"
                     "limit seq_len 2\n";
  char *err = nullptr;
  seqmix_layer *layer = seqmix_layer_from_entry(
      reinterpret_cast<void *>(&doubleEntry), meta, &err);
  ASSERT_NE(layer, nullptr);
  std::vector<float> x(9), out(9);
  int64_t ok[] = {2, 3}, tooLong[] = {3, 3};
  seqmix_tensor fits[] = {{x.data(), 2, ok, nullptr},
                          {out.data(), 2, ok, nullptr}};
  EXPECT_EQ(seqmix_layer_call(layer, fits, 2, &err), 0);
  seqmix_tensor over[] = {{x.data(), 2, tooLong, nullptr},
                          {out.data(), 2, tooLong, nullptr}};
  EXPECT_NE(seqmix_layer_call(layer, over, 2, &err), 0);
  EXPECT_NE(std::string(err).find("dimension seq_len of argument 'x' is 3, "
                                  "above this layer's limit of 2"),
            std::string::npos)
      << err;
  seqmix_free_error(err);
  seqmix_layer_free(layer);
}

TEST(Runtime, RejectsBadMetadataAndFiles) {
  char *err = nullptr;
  EXPECT_EQ(seqmix_layer_from_entry(reinterpret_cast<void *>(&doubleEntry),
                                    "nonsense", &err),
            nullptr);
  EXPECT_NE(std::string(err).find("missing 'seqmix-abi 1' header"),
            std::string::npos);
  seqmix_free_error(err);
  EXPECT_EQ(seqmix_layer_load("/nonexistent/layer.so", &err), nullptr);
  EXPECT_NE(std::string(err).find("cannot load compiled layer"),
            std::string::npos);
  seqmix_free_error(err);
  for (const char *meta :
       {"seqmix-abi 1\nname l\narg in x f32 n:abc\n",
        "seqmix-abi 1\nname l\narg in x f32 n:99999999999999999999999\n",
        "seqmix-abi 1\nname l\narg in x f32 n:0\n",
        "seqmix-abi 1\nname l\narg in x f32 n:\n"}) {
    EXPECT_EQ(seqmix_layer_from_entry(reinterpret_cast<void *>(&doubleEntry),
                                      meta, &err),
              nullptr)
        << meta;
    EXPECT_NE(std::string(err).find("malformed dimension"), std::string::npos)
        << err;
    seqmix_free_error(err);
  }
  EXPECT_EQ(seqmix_layer_load("", &err), nullptr);
  EXPECT_NE(std::string(err).find("no path given"), std::string::npos);
  seqmix_free_error(err);
  EXPECT_EQ(seqmix_layer_load(nullptr, &err), nullptr);
  seqmix_free_error(err);
}

TEST_F(RuntimeTest, RejectsNullArraysWithAMessageThatSaysSo) {
  std::vector<float> x(6), out(6);
  int64_t shape[] = {2, 3};
  char *err = nullptr;
  EXPECT_NE(seqmix_layer_call(layer, nullptr, 2, &err), 0);
  EXPECT_NE(std::string(err).find("the args array is NULL"), std::string::npos)
      << err;
  seqmix_free_error(err);
  EXPECT_NE(
      call({{x.data(), 2, nullptr, nullptr}, {out.data(), 2, shape, nullptr}})
          .find("'x' has rank 2 but its shape array is NULL"),
      std::string::npos);
  EXPECT_NE(
      call({{nullptr, 2, shape, nullptr}, {out.data(), 2, shape, nullptr}})
          .find("'x' has no data"),
      std::string::npos);
  EXPECT_NE(
      call({{x.data(), -1, shape, nullptr}, {out.data(), 2, shape, nullptr}})
          .find("'x' must have rank 2, got rank -1"),
      std::string::npos);
  EXPECT_NE(call({}).find("takes 2 tensors (inputs then outputs), got 0"),
            std::string::npos);
}

TEST_F(RuntimeTest, SizesAreComputedWithOverflowChecks) {
  std::vector<float> x(6), out(6);
  calls = 0;
  // 2^62 rows of 3 floats: the byte count overflows 64 bits.
  for (int64_t rows : {int64_t(1) << 62, int64_t(1) << 61, INT64_MAX,
                       (int64_t(1) << 62) / 3 + 1}) {
    int64_t shape[] = {rows, 3};
    EXPECT_NE(
        call({{x.data(), 2, shape, nullptr}, {out.data(), 2, shape, nullptr}})
            .find("too large to address"),
        std::string::npos)
        << rows;
  }
  EXPECT_EQ(calls, 0);
}

TEST_F(RuntimeTest, RejectsMisalignedData) {
  std::vector<float> x(8), out(8);
  int64_t shape[] = {2, 3};
  void *odd = reinterpret_cast<char *>(x.data()) + 1;
  EXPECT_NE(call({{odd, 2, shape, nullptr}, {out.data(), 2, shape, nullptr}})
                .find("'x' is not aligned: its data must be aligned to 4"),
            std::string::npos);
}
