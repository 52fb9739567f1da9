//===- LayerSpecTest.cpp - JSON spec parsing and validation ---------------===//
#include "seqmix/Spec/LayerSpec.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace seqmix;

namespace {
const char *kGla =
    R"({"seqmix": 1, "name": "gla", "mixer": "gated_linear_attention",
  "gate": "scalar", "heads": 4, "key_dim": 256, "value_dim": 128,
  "state": {"initial": true, "final": true}})";

/// Parses `json`, expecting failure; returns the message.
std::string error(const std::string &json) {
  llvm::Expected<LayerSpec> s = parseLayerSpec(json, "t.json");
  if (s) {
    ADD_FAILURE() << "expected an error for " << json;
    return "";
  }
  return llvm::toString(s.takeError());
}

/// kGla with one field replaced (or added).
std::string withField(const std::string &field, const std::string &value) {
  std::string base =
      R"({"seqmix": 1, "name": "gla", "mixer": "gated_linear_attention",
    "gate": "scalar", "heads": 4, "key_dim": 256, "value_dim": 128)";
  size_t pos = base.find("\"" + field + "\"");
  if (pos != std::string::npos) {
    size_t colon = base.find(':', pos), end = base.find_first_of(",}", colon);
    base.replace(colon + 1, end - colon - 1, " " + value);
    return base + "}";
  }
  return base + ", \"" + field + "\": " + value + "}";
}
} // namespace

TEST(LayerSpec, ParsesGLA) {
  llvm::Expected<LayerSpec> s = parseLayerSpec(kGla, "t.json");
  ASSERT_TRUE(static_cast<bool>(s)) << llvm::toString(s.takeError());
  EXPECT_EQ(s->mixer, Mixer::GatedLinearAttention);
  EXPECT_EQ(s->headKeyDim, 64);
  EXPECT_EQ(s->headValueDim, 32);
  EXPECT_EQ(s->batch, -1);
  EXPECT_EQ(s->seqLen, -1);
  EXPECT_NEAR(s->scale, 0.125, 1e-12);
  auto in = s->inputs();
  ASSERT_EQ(in.size(), 5u);
  EXPECT_EQ(in[3].name, "g");
  EXPECT_EQ(in[3].shape, (std::vector<int64_t>{-1, 4, -1}));
  EXPECT_EQ(in[4].name, "initial_state");
  EXPECT_EQ(in[4].shape, (std::vector<int64_t>{-1, 4, 64, 32}));
  auto out = s->outputs();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].dims[0], "batch");
}

TEST(LayerSpec, RetNetDecays) {
  llvm::Expected<LayerSpec> s = parseLayerSpec(
      withField("gate", "\"constant\"").insert(1, "\"decay\": \"retnet\", "),
      "t.json");
  ASSERT_TRUE(static_cast<bool>(s)) << llvm::toString(s.takeError());
  ASSERT_EQ(s->logDecay.size(), 4u);
  EXPECT_NEAR(std::exp(s->logDecay[0]), 1 - 1.0 / 32, 1e-15);
  EXPECT_NEAR(std::exp(s->logDecay[3]), 1 - 1.0 / 256, 1e-15);
}

TEST(LayerSpec, MalformedJSON) {
  std::string e = error("{\"seqmix\": 1, ");
  EXPECT_NE(e.find("t.json: malformed JSON"), std::string::npos) << e;
}

TEST(LayerSpec, NotAnObject) {
  EXPECT_NE(error("[1, 2]").find("must be a JSON object"), std::string::npos);
}

TEST(LayerSpec, DuplicateField) {
  std::string e = error("{\"seqmix\": 1,\n \"seqmix\": 1}");
  EXPECT_NE(e.find("t.json:2:2: field 'seqmix' is given twice"),
            std::string::npos)
      << e;
  // Equal keys in different objects, and strings that look like keys inside
  // arrays or values, are not duplicates.
  llvm::Expected<LayerSpec> s = parseLayerSpec(
      R"({"seqmix": 1, "name": "gla", "mixer": "gated_linear_attention",
  "gate": "constant", "heads": 2, "key_dim": 16, "value_dim": 16,
  "description": "heads: \"heads\"", "decay": [0.5, 0.9],
  "state": {"initial": true, "final": true}})",
      "t.json");
  EXPECT_TRUE(static_cast<bool>(s)) << llvm::toString(s.takeError());
  e = error(R"({"seqmix": 1, "state": {"final": true, "final": false}})");
  EXPECT_NE(e.find("field 'state.final' is given twice"), std::string::npos)
      << e;
}

TEST(LayerSpec, UnknownField) {
  std::string e = error(withField("gatee", "\"scalar\""));
  EXPECT_NE(e.find("unknown field 'gatee'"), std::string::npos) << e;
  EXPECT_NE(e.find("allowed fields:"), std::string::npos) << e;
}

TEST(LayerSpec, WrongType) {
  std::string e = error(withField("heads", "\"four\""));
  EXPECT_NE(e.find("field 'heads': expected an integer >= 1, got a string"),
            std::string::npos)
      << e;
  e = error(withField("heads", "1e30"));
  EXPECT_NE(e.find("field 'heads': expected an integer >= 1, got a number"),
            std::string::npos)
      << e;
  e = error(withField("heads", "100000000"));
  EXPECT_NE(e.find("field 'heads': expected an integer <= 16777216"),
            std::string::npos)
      << e;
  e = error(withField("heads", "0"));
  EXPECT_NE(e.find("field 'heads': expected an integer >= 1, got 0"),
            std::string::npos)
      << e;
}

TEST(LayerSpec, MissingField) {
  std::string e =
      error(R"({"seqmix": 1, "name": "x", "mixer": "delta_rule", "heads": 2,
    "key_dim": 8})");
  EXPECT_NE(e.find("missing field 'value_dim'"), std::string::npos) << e;
  e = error(R"({"seqmix": 1, "name": "x"})");
  EXPECT_NE(e.find("missing field 'mixer'"), std::string::npos) << e;
}

TEST(LayerSpec, KeyDimMustDivide) {
  std::string e = error(withField("key_dim", "250"));
  EXPECT_NE(e.find("field 'key_dim': must be divisible by heads (4), got 250"),
            std::string::npos)
      << e;
}

TEST(LayerSpec, BadEnumValue) {
  std::string e = error(withField("gate", "\"diagonal\""));
  EXPECT_NE(
      e.find(
          "field 'gate': expected one of \"none\", \"constant\", \"scalar\", "
          "\"vector\", got \"diagonal\""),
      std::string::npos)
      << e;
}

TEST(LayerSpec, UnsupportedCombinations) {
  EXPECT_NE(
      error(withField("feature_map", "\"elu1\"")).find("field 'feature_map'"),
      std::string::npos);
  EXPECT_NE(
      error(
          R"({"seqmix": 1, "name": "x", "mixer": "linear_attention", "heads": 1,
    "key_dim": 4, "value_dim": 4, "normalize": true})")
          .find("field 'normalize'"),
      std::string::npos);
  EXPECT_NE(
      error(withField("decay", "[0.5, 0.5, 0.5, 0.5]")).find("field 'decay'"),
      std::string::npos);
  EXPECT_NE(error(withField("dtype", "\"f64\"")).find("field 'dtype'"),
            std::string::npos);
}

TEST(LayerSpec, NarrowDtypeTypesActivationsOnly) {
  // FORMS.md 0.3: q, k, v and the output in the spec's dtype; the gate, the
  // states stay f32.
  llvm::Expected<LayerSpec> s =
      parseLayerSpec(withField("dtype", "\"bf16\""), "t.json");
  ASSERT_TRUE(static_cast<bool>(s)) << llvm::toString(s.takeError());
  for (const TensorDesc &d : s->inputs())
    EXPECT_EQ(d.dtype, d.name == "g" ? "f32" : "bf16") << d.name;
  for (const TensorDesc &d : s->outputs())
    EXPECT_EQ(d.dtype, d.name == "out" ? "bf16" : "f32") << d.name;
  EXPECT_EQ(s->inputs()[0].elementBytes(), 2);
}

TEST(LayerSpec, ConstantGateNeedsDecays) {
  std::string e = error(withField("gate", "\"constant\""));
  EXPECT_NE(e.find("missing field 'decay'"), std::string::npos) << e;
  e = error(withField("gate", "\"constant\"")
                .insert(1, "\"decay\": [0.5, 1.5, 0.5, 0.5], "));
  EXPECT_NE(e.find("every decay must be a number in (0, 1]"), std::string::npos)
      << e;
}

TEST(LayerSpec, StateFieldErrors) {
  std::string e = error(withField("state", "{\"initial\": 1}"));
  EXPECT_NE(e.find("field 'state.initial': expected true or false"),
            std::string::npos)
      << e;
  e = error(withField("state", "{\"inital\": true}"));
  EXPECT_NE(e.find("unknown field 'state.inital'"), std::string::npos) << e;
}

TEST(LayerSpec, DynamicAndStaticSizes) {
  llvm::Expected<LayerSpec> s = parseLayerSpec(
      withField("seq_len", "128").insert(1, "\"batch\": \"?\", "), "t.json");
  ASSERT_TRUE(static_cast<bool>(s)) << llvm::toString(s.takeError());
  EXPECT_EQ(s->seqLen, 128);
  EXPECT_EQ(s->batch, -1);
  EXPECT_NE(error(withField("seq_len", "\"*\"")).find("or \"?\" (dynamic)"),
            std::string::npos);
}

TEST(LayerSpec, VersionAndName) {
  EXPECT_NE(error(R"({"seqmix": 2, "name": "x", "mixer": "lti_scan"})")
                .find("version 1"),
            std::string::npos);
  EXPECT_NE(error(R"({"seqmix": 1, "name": "1x", "mixer": "lti_scan"})")
                .find("expected an identifier"),
            std::string::npos);
}

TEST(LayerSpec, SelectiveScanGroups) {
  std::string e = error(R"({"seqmix": 1, "name": "m", "mixer": "selective_scan",
    "channels": 6, "state_dim": 4, "groups": 4})");
  EXPECT_NE(e.find("field 'groups': must divide channels (6), got 4"),
            std::string::npos)
      << e;
}

TEST(LayerSpec, CausalConv1d) {
  llvm::Expected<LayerSpec> s = parseLayerSpec(
      R"({"seqmix": 1, "name": "c", "mixer": "causal_conv1d", "channels": 6,
          "width": 4, "bias": true, "activation": "silu",
          "state": {"initial": true, "final": true}})",
      "t.json");
  ASSERT_TRUE(static_cast<bool>(s)) << llvm::toString(s.takeError());
  EXPECT_EQ(s->width, 4);
  EXPECT_TRUE(s->convBias);
  EXPECT_TRUE(s->silu);
  std::vector<TensorDesc> in = s->inputs(), out = s->outputs();
  ASSERT_EQ(in.size(), 4u);
  EXPECT_EQ(in[1].name, "weight");
  EXPECT_EQ(in[3].shape, (std::vector<int64_t>{-1, 6, 3}));
  EXPECT_EQ(in[3].dims.back(), "conv_state");
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].shape, (std::vector<int64_t>{-1, 6, 3}));
  std::string e = error(R"({"seqmix": 1, "name": "c", "mixer": "causal_conv1d",
    "channels": 6, "width": 1, "state": {"final": true}})");
  EXPECT_NE(e.find("field 'state': a convolution of width 1 has no state"),
            std::string::npos)
      << e;
  e = error(R"({"seqmix": 1, "name": "c", "mixer": "causal_conv1d",
    "channels": 6, "width": 4, "activation": "relu"})");
  EXPECT_NE(e.find("field 'activation'"), std::string::npos) << e;
  e = error(R"({"seqmix": 1, "name": "c", "mixer": "causal_conv1d",
    "channels": 6})");
  EXPECT_NE(e.find("missing"), std::string::npos) << e;
}

TEST(LayerSpec, ErrorsGiveTheFieldsLineAndColumn) {
  // "heads" opens line 2 at column 23 of withField's text.
  EXPECT_EQ(error(withField("heads", "\"x\"")),
            "t.json:2:23: field 'heads': expected an integer >= 1, got a "
            "string");
  EXPECT_NE(error(withField("bogus", "1"))
                .find("t.json:2:69: unknown field "
                      "'bogus'"),
            std::string::npos);
  // A missing field has no position of its own.
  EXPECT_NE(error(R"({"seqmix": 1, "name": "g"})").find("t.json: missing"),
            std::string::npos);
}

TEST(LayerSpec, NumbersFollowTheJsonGrammar) {
  for (const char *bad : {"04", "-04", "00", "1.", ".5", "+1", "1.e3", "01.5"})
    EXPECT_NE(error(withField("heads", bad)).find("is not a JSON number"),
              std::string::npos)
        << bad;
  for (const char *good : {"4", "4.0", "4e0", "40E-1"}) {
    llvm::Expected<LayerSpec> s =
        parseLayerSpec(withField("heads", good), "t.json");
    ASSERT_TRUE(bool(s)) << good << ": " << llvm::toString(s.takeError());
    EXPECT_EQ(s->heads, 4) << good;
  }
}

TEST(LayerSpec, NestingIsBoundedBeforeParsing) {
  auto nested = [](unsigned depth) {
    return withField("description",
                     std::string(depth, '[') + std::string(depth, ']'));
  };
  // 63 levels inside the root object parse (and then fail on the type).
  EXPECT_NE(error(nested(63)).find("field 'description': expected a string"),
            std::string::npos);
  EXPECT_NE(error(nested(64)).find("nest deeper than 64 levels"),
            std::string::npos);
  EXPECT_NE(error(std::string(1 << 20, '[')).find("t.json:1:65: malformed"),
            std::string::npos);
}

TEST(LayerSpec, F32AttributesAndLimits) {
  EXPECT_NE(error(withField("scale", "1e39")).find("f32 can hold"),
            std::string::npos);
  EXPECT_NE(error(withField("scale", "1e-50")).find("f32 can hold"),
            std::string::npos);
  EXPECT_NE(error(withField("chunk_size", "4097")).find("<= 4096"),
            std::string::npos);
  EXPECT_NE(error(withField("name", '"' + std::string(129, 'n') + '"'))
                .find("at most 128 characters"),
            std::string::npos);
}
