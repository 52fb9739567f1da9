//===- CAPITest.cpp - the C API: compile, query, call on DLPack -----------===//
//
// Uses only the C headers (seqmix-c/Compiler.h, Runtime.h, DLPack.h), as a C
// program or a framework binding would.
//
//===----------------------------------------------------------------------===//
#include "seqmix-c/Compiler.h"
#include "seqmix-c/DLPack.h"
#include "seqmix-c/Runtime.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <unistd.h>
#include <vector>

namespace {
// A small scalar-gated GLA layer with a dynamic length and final state.
const char *kSpec = R"({
  "seqmix": 1, "name": "capi_gla", "mixer": "gated_linear_attention",
  "gate": "scalar", "heads": 2, "key_dim": 64, "value_dim": 32,
  "batch": 1, "seq_len": "?", "state": {"final": true}
})";

struct Status {
  seqmix_status *s;
  explicit Status(seqmix_status *s) : s(s) {}
  ~Status() { seqmix_status_destroy(s); }
  bool ok() const { return seqmix_status_ok(s); }
  std::string text() const { return seqmix_status_text(s); }
};

struct Options {
  seqmix_compile_options *o = seqmix_compile_options_create();
  ~Options() { seqmix_compile_options_destroy(o); }
};

std::string tempPath(const char *suffix) {
  char name[] = "/tmp/seqmix-capi-XXXXXX";
  int fd = mkstemp(name);
  close(fd);
  std::remove(name);
  return std::string(name) + suffix;
}

std::string compileToSo(const char *spec, Options &opts) {
  std::string path = tempPath(".so");
  Status st(seqmix_compile_to_file(spec, std::strlen(spec), "capi.json", opts.o,
                                   "so", path.c_str()));
  EXPECT_TRUE(st.ok()) << st.text();
  return path;
}

DLTensor cpuTensor(float *data, std::vector<int64_t> &shape) {
  DLTensor t{};
  t.data = data;
  t.device = {kDLCPU, 0};
  t.ndim = static_cast<int32_t>(shape.size());
  t.dtype = {kDLFloat, 32, 1};
  t.shape = shape.data();
  t.strides = nullptr;
  t.byte_offset = 0;
  return t;
}
} // namespace

TEST(CAPI, VersionNamesSeqmixAndLLVM) {
  std::string v = seqmix_compiler_version();
  EXPECT_NE(v.find("seqmix "), std::string::npos) << v;
  EXPECT_NE(v.find("LLVM "), std::string::npos) << v;
}

TEST(CAPI, OptionsRejectUnknownNamesAndNonNumbers) {
  Options o;
  EXPECT_EQ(seqmix_compile_options_set(o.o, "form", "chunked"), 0);
  EXPECT_EQ(seqmix_compile_options_set(o.o, "chunk_size", "32"), 0);
  EXPECT_EQ(seqmix_compile_options_set(o.o, "chunk_size", "lots"), -1);
  EXPECT_EQ(seqmix_compile_options_set(o.o, "colour", "blue"), -1);
  EXPECT_EQ(seqmix_compile_options_set(o.o, "remarks", "2"), -1);
  EXPECT_EQ(seqmix_compile_options_set(nullptr, "form", "auto"), -1);
}

TEST(CAPI, IRAfterEveryPhaseAndMetadata) {
  Options o;
  for (const char *phase : {"import", "select-forms", "lower-forms", "schedule",
                            "bufferize", "llvm"}) {
    void *data = nullptr;
    size_t size = 0;
    Status st(seqmix_compile_to_buffer(kSpec, std::strlen(kSpec), "capi.json",
                                       o.o, phase, "mlir", &data, &size));
    ASSERT_TRUE(st.ok()) << phase << ": " << st.text();
    ASSERT_NE(data, nullptr);
    std::string text(static_cast<char *>(data), size);
    EXPECT_EQ(std::strlen(static_cast<char *>(data)), size);
    if (std::string(phase) == "import")
      EXPECT_NE(text.find("seqmix.gated_linear_attention"), std::string::npos);
    if (std::string(phase) == "llvm")
      EXPECT_NE(text.find("llvm.func"), std::string::npos);
    seqmix_free_buffer(data);
  }
  void *data = nullptr;
  size_t size = 0;
  Status st(seqmix_compile_to_buffer(kSpec, std::strlen(kSpec), "capi.json",
                                     o.o, nullptr, "metadata", &data, &size));
  ASSERT_TRUE(st.ok()) << st.text();
  std::string md(static_cast<char *>(data), size);
  EXPECT_NE(md.find("seqmix-abi 1"), std::string::npos) << md;
  EXPECT_NE(md.find("arg in q f32 batch:1 heads:2 seq_len:? key_dim:32"),
            std::string::npos)
      << md;
  seqmix_free_buffer(data);
}

TEST(CAPI, SharedLibraryInMemoryIsAnElfFile) {
  Options o;
  void *data = nullptr;
  size_t size = 0;
  Status st(seqmix_compile_to_buffer(kSpec, std::strlen(kSpec), "capi.json",
                                     o.o, nullptr, "so", &data, &size));
  ASSERT_TRUE(st.ok()) << st.text();
  ASSERT_GT(size, 4u);
  EXPECT_EQ(std::string(static_cast<char *>(data), 4), "\x7f"
                                                       "ELF");
  seqmix_free_buffer(data);
}

TEST(CAPI, DiagnosticsCarryTheirLocation) {
  Options o;
  // A bad field of the spec: its line and column.
  const char *bad = "{\"seqmix\": 1, \"name\": \"x\",\n \"mixer\": \"bogus\"}";
  std::string path = tempPath(".so");
  {
    Status st(seqmix_compile_to_file(bad, std::strlen(bad), "bad.json", o.o,
                                     "so", path.c_str()));
    ASSERT_FALSE(st.ok());
    ASSERT_EQ(seqmix_status_num_diagnostics(st.s), 1);
    EXPECT_STREQ(seqmix_status_severity(st.s, 0), "error");
    EXPECT_STREQ(seqmix_status_location(st.s, 0), "bad.json:2:2");
    EXPECT_NE(std::string(seqmix_status_message(st.s, 0)).find("mixer"),
              std::string::npos);
    EXPECT_NE(access(path.c_str(), F_OK), 0)
        << "a failed compile left " << path;
  }
  // Invalid IR: the IR line.
  const char *ir = "func.func @f(%a: tensor<4xf32>) -> tensor<4xf32> {\n"
                   "  %x = arith.addf %a, %b : tensor<4xf32>\n"
                   "  return %x : tensor<4xf32>\n}\n";
  {
    Status st(seqmix_compile_to_file(ir, std::strlen(ir), "in.mlir", o.o, "so",
                                     path.c_str()));
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(
        std::string(seqmix_status_location(st.s, 0)).rfind("in.mlir:2:", 0), 0u)
        << st.text();
  }
  // A bad option: no place in the input.
  ASSERT_EQ(seqmix_compile_options_set(o.o, "form", "sideways"), 0);
  {
    Status st(seqmix_compile_to_file(kSpec, std::strlen(kSpec), "capi.json",
                                     o.o, "so", path.c_str()));
    ASSERT_FALSE(st.ok());
    EXPECT_STREQ(seqmix_status_location(st.s, 0), "");
    EXPECT_NE(st.text().find("sideways"), std::string::npos) << st.text();
  }
  // Bad emit kinds and phases, and NULLs.
  Options good;
  void *data = nullptr;
  size_t size = 0;
  {
    Status st(seqmix_compile_to_buffer(kSpec, std::strlen(kSpec), "capi.json",
                                       good.o, "schedule", "so", &data, &size));
    EXPECT_FALSE(st.ok());
    EXPECT_EQ(data, nullptr);
  }
  {
    Status st(seqmix_compile_to_buffer(kSpec, std::strlen(kSpec), "capi.json",
                                       good.o, "later", "mlir", &data, &size));
    EXPECT_FALSE(st.ok());
    EXPECT_NE(st.text().find("later"), std::string::npos) << st.text();
  }
  {
    Status st(
        seqmix_compile_to_file(nullptr, 0, "x", good.o, "so", path.c_str()));
    EXPECT_FALSE(st.ok());
  }
  {
    Status st(seqmix_compile_to_file(kSpec, std::strlen(kSpec), "capi.json",
                                     good.o, "exe", path.c_str()));
    EXPECT_FALSE(st.ok());
  }
}

TEST(CAPI, RemarksAreDiagnosticsOfASuccessfulCompile) {
  Options o;
  ASSERT_EQ(seqmix_compile_options_set(o.o, "remarks", "1"), 0);
  void *data = nullptr;
  size_t size = 0;
  Status st(seqmix_compile_to_buffer(kSpec, std::strlen(kSpec), "capi.json",
                                     o.o, "select-forms", "mlir", &data,
                                     &size));
  ASSERT_TRUE(st.ok()) << st.text();
  ASSERT_GE(seqmix_status_num_diagnostics(st.s), 1);
  EXPECT_STREQ(seqmix_status_severity(st.s, 0), "remark");
  EXPECT_NE(std::string(seqmix_status_location(st.s, 0)).find("capi.json:"),
            std::string::npos);
  seqmix_free_buffer(data);
}

TEST(CAPI, CompileLoadQueryAndCallOnDLPack) {
  Options o;
  ASSERT_EQ(seqmix_compile_options_set(o.o, "form", "chunked"), 0);
  ASSERT_EQ(seqmix_compile_options_set(o.o, "chunk_size", "16"), 0);
  std::string path = compileToSo(kSpec, o);
  char *err = nullptr;
  seqmix_layer *layer = seqmix_layer_load(path.c_str(), &err);
  ASSERT_NE(layer, nullptr) << (err ? err : "");
  std::remove(path.c_str());

  // The signature.
  EXPECT_STREQ(seqmix_layer_name(layer), "capi_gla");
  ASSERT_EQ(seqmix_layer_num_args(layer), 6); // q k v g | out final_state
  EXPECT_STREQ(seqmix_layer_arg_name(layer, 0), "q");
  EXPECT_STREQ(seqmix_layer_arg_dtype(layer, 0), "f32");
  EXPECT_EQ(seqmix_layer_arg_ndim(layer, 0), 4);
  EXPECT_EQ(seqmix_layer_arg_dim(layer, 0, 1), 2);
  EXPECT_EQ(seqmix_layer_arg_dim(layer, 0, 2), -1);
  EXPECT_STREQ(seqmix_layer_arg_dim_name(layer, 0, 2), "seq_len");
  EXPECT_EQ(seqmix_layer_arg_dim(layer, 0, 9), 0);
  EXPECT_EQ(seqmix_layer_arg_dim_name(layer, 9, 0), nullptr);
  EXPECT_TRUE(seqmix_layer_arg_is_output(layer, 4));
  EXPECT_STREQ(seqmix_layer_forms(layer), "chunked(chunk 16)");
  EXPECT_GE(seqmix_layer_num_cost_lines(layer), 1);
  EXPECT_NE(std::string(seqmix_layer_cost_line(layer, 0)).find("chunked(16)="),
            std::string::npos);
  EXPECT_STREQ(seqmix_layer_cost_model(layer), "built-in");
  // A chunked layer has no length limit (a parallel one has).
  EXPECT_EQ(seqmix_layer_dim_limit(layer, "seq_len"), -1);

  // The same call through seqmix_tensor and through DLTensor (q, k, v in
  // one buffer with a byte offset each, to check byte_offset).
  const int64_t T = 37, H = 2, K = 32, V = 16;
  std::vector<float> qkv(3 * H * T * K), g(H * T), out1(H * T * V),
      out2(H * T * V), st1(H * K * V), st2(H * K * V);
  for (size_t i = 0; i < qkv.size(); ++i)
    qkv[i] = std::sin(0.37f * i);
  for (size_t i = 0; i < g.size(); ++i)
    g[i] = -0.05f * (1 + i % 7);
  std::vector<int64_t> qs = {1, H, T, K}, vs = {1, H, T, V}, gs = {1, H, T},
                       ss = {1, H, K, V};
  float *q = qkv.data(), *k = q + H * T * K, *v = k + H * T * K;
  seqmix_tensor a[6] = {{q, 4, qs.data(), nullptr},
                        {k, 4, qs.data(), nullptr},
                        {v, 4, vs.data(), nullptr},
                        {g.data(), 3, gs.data(), nullptr},
                        {out1.data(), 4, vs.data(), nullptr},
                        {st1.data(), 4, ss.data(), nullptr}};
  ASSERT_EQ(seqmix_layer_call(layer, a, 6, &err), 0) << err;
  DLTensor t[6] = {cpuTensor(q, qs),           cpuTensor(q, qs),
                   cpuTensor(q, vs),           cpuTensor(g.data(), gs),
                   cpuTensor(out2.data(), vs), cpuTensor(st2.data(), ss)};
  t[1].byte_offset = H * T * K * sizeof(float);
  t[2].byte_offset = 2 * H * T * K * sizeof(float);
  const DLTensor *tp[6] = {&t[0], &t[1], &t[2], &t[3], &t[4], &t[5]};
  ASSERT_EQ(seqmix_layer_call_dlpack(layer, tp, 6, &err), 0) << err;
  EXPECT_EQ(out1, out2);
  EXPECT_EQ(st1, st2);
  float sum = 0;
  for (float x : out2)
    sum += std::fabs(x);
  EXPECT_GT(sum, 0);

  // The layer takes row-major data: a transposed view is refused by name
  // (the Python package copies such inputs first).
  std::vector<float> qt(H * T * K);
  std::vector<int64_t> qtStrides = {H * K * T, K * T, 1, T};
  DLTensor strided = cpuTensor(qt.data(), qs);
  strided.strides = qtStrides.data();
  {
    DLTensor t3[6] = {strided, t[1], t[2], t[3], t[4], t[5]};
    const DLTensor *tp3[6] = {&t3[0], &t3[1], &t3[2], &t3[3], &t3[4], &t3[5]};
    EXPECT_NE(seqmix_layer_call_dlpack(layer, tp3, 6, &err), 0);
    EXPECT_NE(std::string(err).find("'q' must be row-major contiguous"),
              std::string::npos)
        << err;
    seqmix_free_error(err);
  }
  // Explicit row-major strides are fine.
  std::vector<int64_t> rowMajor = {H * T * K, T * K, K, 1};
  DLTensor explicitStrides = t[0];
  explicitStrides.strides = rowMajor.data();
  std::vector<float> out3(H * T * V);
  {
    DLTensor t3[6] = {
        explicitStrides, t[1], t[2], t[3], cpuTensor(out3.data(), vs), t[5]};
    const DLTensor *tp3[6] = {&t3[0], &t3[1], &t3[2], &t3[3], &t3[4], &t3[5]};
    ASSERT_EQ(seqmix_layer_call_dlpack(layer, tp3, 6, &err), 0) << err;
    EXPECT_EQ(out1, out3);
  }

  // Errors name the argument and what was expected.
  auto expectError = [&](DLTensor bad, int which, const char *needle) {
    DLTensor ts[6] = {t[0], t[1], t[2], t[3], t[4], t[5]};
    ts[which] = bad;
    const DLTensor *p[6] = {&ts[0], &ts[1], &ts[2], &ts[3], &ts[4], &ts[5]};
    char *e = nullptr;
    EXPECT_NE(seqmix_layer_call_dlpack(layer, p, 6, &e), 0);
    ASSERT_NE(e, nullptr);
    EXPECT_NE(std::string(e).find(needle), std::string::npos) << e;
    seqmix_free_error(e);
  };
  DLTensor gpu = t[0];
  gpu.device = {kDLCUDA, 0};
  expectError(gpu, 0, "input 'q': the tensor is on cuda");
  // A CPU layer has no stream to run on.
  EXPECT_STREQ(seqmix_layer_target(layer), "cpu");
  EXPECT_NE(seqmix_layer_set_stream(layer, nullptr, &err), 0);
  ASSERT_NE(err, nullptr);
  EXPECT_NE(std::string(err).find("runs on the CPU"), std::string::npos) << err;
  seqmix_free_error(err);
  err = nullptr;
  DLTensor f64 = t[1];
  f64.dtype = {kDLFloat, 64, 1};
  expectError(f64, 1, "input 'k': expected element type float32, got float64");
  std::vector<int64_t> wrong = {1, H, T, K + 1};
  DLTensor shape = cpuTensor(q, wrong);
  expectError(shape, 0, "q");
  std::vector<int64_t> negStrides = {H * T * K, T * K, -K, 1};
  DLTensor neg = t[0];
  neg.strides = negStrides.data();
  expectError(neg, 0, "negative stride");
  const DLTensor *few[2] = {&t[0], &t[1]};
  EXPECT_NE(seqmix_layer_call_dlpack(layer, few, 2, &err), 0);
  EXPECT_NE(std::string(err).find("takes 6 tensors"), std::string::npos) << err;
  seqmix_free_error(err);
  seqmix_layer_free(layer);
}
