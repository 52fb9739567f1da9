//===- LayerSpec.cpp - parse and validate JSON layer specs ----------------===//
#include "seqmix/Spec/LayerSpec.h"
#include "seqmix/Support/Limits.h"
#include "seqmix/Support/Nesting.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"

#include <cmath>
#include <optional>

using namespace seqmix;
using llvm::json::Object;
using llvm::json::Value;

const char *seqmix::mixerName(Mixer m) {
  switch (m) {
  case Mixer::SoftmaxAttention:
    return "softmax_attention";
  case Mixer::LinearAttention:
    return "linear_attention";
  case Mixer::GatedLinearAttention:
    return "gated_linear_attention";
  case Mixer::DeltaRule:
    return "delta_rule";
  case Mixer::SelectiveScan:
    return "selective_scan";
  case Mixer::LTIScan:
    return "lti_scan";
  case Mixer::CausalConv1d:
    return "causal_conv1d";
  }
  return "?";
}

namespace {
const char *kindOf(const Value &v) {
  switch (v.kind()) {
  case Value::Null:
    return "null";
  case Value::Boolean:
    return "a boolean";
  case Value::Number:
    return "a number";
  case Value::String:
    return "a string";
  case Value::Array:
    return "an array";
  case Value::Object:
    return "an object";
  }
  return "?";
}

std::string quoted(llvm::ArrayRef<llvm::StringRef> items) {
  std::string s;
  for (auto [i, it] : llvm::enumerate(items))
    s += (i ? ", " : "") + ("\"" + it + "\"").str();
  return s;
}

TextPosition positionOf(llvm::StringRef text, size_t offset) {
  llvm::StringRef before = text.take_front(offset);
  size_t nl = before.rfind('\n');
  return {static_cast<unsigned>(1 + before.count('\n')),
          static_cast<unsigned>(
              offset - (nl == llvm::StringRef::npos ? 0 : nl + 1) + 1)};
}

/// RFC 8259 number grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
bool isJsonNumber(llvm::StringRef t) {
  t.consume_front("-");
  auto digits = [&] {
    size_t n = 0;
    while (n < t.size() && llvm::isDigit(t[n]))
      ++n;
    t = t.drop_front(n);
    return n;
  };
  if (t.consume_front("0")) {
    if (!t.empty() && llvm::isDigit(t[0]))
      return false; // a leading zero
  } else if (!digits()) {
    return false;
  }
  if (t.consume_front(".") && !digits())
    return false;
  if (t.consume_front("e") || t.consume_front("E")) {
    if (!t.consume_front("+"))
      t.consume_front("-");
    if (!digits())
      return false;
  }
  return t.empty();
}

/// What a scan of text that llvm::json::parse accepted finds: where every
/// key is, the first key given twice in one object (llvm::json keeps the
/// last one silently), and the first number that is not JSON (llvm::json
/// takes `04`, `1.`, `+1` or `.5`).
struct TextLayout {
  std::map<std::string, TextPosition> keys;
  std::optional<std::pair<std::string, TextPosition>> duplicate;
  std::optional<std::pair<std::string, TextPosition>> badNumber;
};
TextLayout scanLayout(llvm::StringRef text) {
  struct Scope {
    bool isObject;
    std::string path;
    llvm::StringSet<> keys;
  };
  TextLayout layout;
  llvm::SmallVector<Scope, 4> scopes;
  std::string lastKey;
  // The dotted path of `lastKey` in the innermost object.
  auto keyPath = [&] {
    const std::string &prefix = scopes.back().path;
    return prefix.empty() ? lastKey : prefix + "." + lastKey;
  };
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '{' || c == '[') {
      std::string path = scopes.empty()           ? ""
                         : scopes.back().isObject ? keyPath()
                                                  : scopes.back().path;
      scopes.push_back({c == '{', std::move(path), {}});
      continue;
    }
    if (c == '}' || c == ']') {
      if (!scopes.empty())
        scopes.pop_back();
      continue;
    }
    // llvm::json also reads numbers that start with '+' or '.'.
    if (c == '-' || c == '+' || c == '.' || llvm::isDigit(c)) {
      size_t end = text.find_first_not_of("0123456789+-.eE", i);
      llvm::StringRef token = text.slice(i, end);
      if (!layout.badNumber && !isJsonNumber(token))
        layout.badNumber = {token.str(), positionOf(text, i)};
      i = std::min(end, text.size()) - 1;
      continue;
    }
    if (c != '"')
      continue;
    size_t start = i;
    i = skipStringLiteral(text, i);
    llvm::StringRef str = text.slice(start + 1, i);
    size_t next = text.find_first_not_of(" \t\r\n", i + 1);
    bool isKey = !scopes.empty() && scopes.back().isObject &&
                 next != llvm::StringRef::npos && text[next] == ':';
    if (!isKey)
      continue;
    lastKey = str.str();
    TextPosition pos = positionOf(text, start);
    if (scopes.back().keys.insert(str).second) {
      layout.keys.emplace(keyPath(), pos);
      continue;
    }
    if (!layout.duplicate)
      layout.duplicate = {keyPath(), pos};
  }
  return layout;
}

/// The largest size any field may give.
constexpr int64_t kMaxSize = int64_t(1) << 24;

/// Reads typed fields of one JSON object, remembering the first error.
class FieldReader {
public:
  FieldReader(std::string source, const Object &obj,
              const std::map<std::string, TextPosition> &positions,
              std::string prefix = "")
      : source(std::move(source)), obj(obj), positions(positions),
        prefix(std::move(prefix)) {}

  bool ok() const { return !error; }
  llvm::Error takeError() {
    return llvm::createStringError(llvm::inconvertibleErrorCode(), *error);
  }
  /// "file:line:col" of a field's key, or "file" when it is not in the text.
  std::string at(llvm::StringRef field) const {
    auto it = positions.find(prefix + field.str());
    if (it == positions.end())
      return source;
    return source + ":" + std::to_string(it->second.line) + ":" +
           std::to_string(it->second.column);
  }
  void fail(llvm::StringRef field, const llvm::Twine &msg) {
    if (!error)
      error =
          at(field) + ": field '" + prefix + field.str() + "': " + msg.str();
  }
  void failGeneral(const llvm::Twine &msg) {
    if (!error)
      error = source + ": " + msg.str();
  }
  bool has(llvm::StringRef field) const { return obj.get(field) != nullptr; }

  const Value *get(llvm::StringRef field, bool required,
                   llvm::StringRef why = "") {
    const Value *v = obj.get(field);
    if (!v && required && !error)
      error = source + ": missing field '" + prefix + field.str() + "'" +
              (why.empty() ? std::string() : " (" + why.str() + ")");
    return v;
  }

  /// An integer in [min, max]; "?" is accepted (as -1) when `allowDynamic`.
  int64_t integer(llvm::StringRef field, bool required, int64_t dflt,
                  int64_t min = 1, bool allowDynamic = false,
                  llvm::StringRef why = "", int64_t max = kMaxSize) {
    const Value *v = get(field, required, why);
    if (!v)
      return dflt;
    if (allowDynamic) {
      if (auto s = v->getAsString()) {
        if (*s == "?")
          return -1;
        fail(field, "expected an integer >= " + llvm::Twine(min) +
                        " or \"?\" (dynamic), got \"" + *s + "\"");
        return dflt;
      }
    }
    std::optional<int64_t> i = v->getAsInteger();
    if (!i) {
      fail(field, "expected an integer >= " + llvm::Twine(min) +
                      (allowDynamic ? " or \"?\" (dynamic)" : "") + ", got " +
                      kindOf(*v));
      return dflt;
    }
    if (*i < min) {
      fail(field, "expected an integer >= " + llvm::Twine(min) + ", got " +
                      llvm::Twine(*i));
      return dflt;
    }
    // Sizes multiply into buffer sizes: keep every one well inside int64.
    if (*i > max) {
      fail(field, "expected an integer <= " + llvm::Twine(max) + ", got " +
                      llvm::Twine(*i));
      return dflt;
    }
    return *i;
  }

  bool boolean(llvm::StringRef field, bool dflt) {
    const Value *v = get(field, false);
    if (!v)
      return dflt;
    if (auto b = v->getAsBoolean())
      return *b;
    fail(field, llvm::Twine("expected true or false, got ") + kindOf(*v));
    return dflt;
  }

  std::string string(llvm::StringRef field, bool required, llvm::StringRef dflt,
                     llvm::ArrayRef<llvm::StringRef> allowed,
                     llvm::StringRef why = "") {
    const Value *v = get(field, required, why);
    if (!v)
      return dflt.str();
    auto s = v->getAsString();
    if (!s) {
      fail(field, "expected " +
                      (allowed.empty() ? std::string("a string")
                                       : "one of " + quoted(allowed)) +
                      ", got " + kindOf(*v));
      return dflt.str();
    }
    if (!allowed.empty() && !llvm::is_contained(allowed, *s)) {
      fail(field,
           "expected one of " + quoted(allowed) + ", got \"" + *s + "\"");
      return dflt.str();
    }
    return s->str();
  }

  /// A finite number, or "auto" (returns nullopt).
  std::optional<double> numberOrAuto(llvm::StringRef field, bool positive) {
    const Value *v = get(field, false);
    if (!v)
      return std::nullopt;
    if (auto s = v->getAsString()) {
      if (*s == "auto")
        return std::nullopt;
      fail(field, "expected a number or \"auto\", got \"" + *s + "\"");
      return std::nullopt;
    }
    std::optional<double> d = v->getAsNumber();
    if (!d || !std::isfinite(*d) || (positive && *d <= 0)) {
      fail(field, llvm::Twine("expected a ") +
                      (positive ? "positive " : "finite ") +
                      "number or \"auto\", got " +
                      (d ? std::to_string(*d) : std::string(kindOf(*v))));
      return std::nullopt;
    }
    if (!checkF32(field, *d))
      return std::nullopt;
    return d;
  }

  /// The op attributes are f32: a value that would become inf (or 0 from a
  /// non-zero number) is an error here, at its field, not in the verifier.
  bool checkF32(llvm::StringRef field, double d) {
    float f = static_cast<float>(d);
    if (std::isfinite(f) && (d == 0 || f != 0))
      return true;
    fail(field, "expected a number that f32 can hold (magnitude between "
                "1.4e-45 and 3.4e38, or 0), got " +
                    llvm::formatv("{0:e}", d).str());
    return false;
  }

  /// Rejects fields outside `allowed`.
  void rejectUnknown(llvm::ArrayRef<llvm::StringRef> allowed,
                     llvm::StringRef context) {
    std::vector<std::string> keys;
    for (const auto &kv : obj)
      keys.push_back(kv.first.str());
    llvm::sort(keys);
    for (const std::string &k : keys)
      if (!llvm::is_contained(allowed, k)) {
        if (!error)
          error = at(k) + ": unknown field '" + prefix + k + "' " +
                  context.str() +
                  "; allowed fields: " + llvm::join(allowed, ", ");
        return;
      }
  }

private:
  std::string source;
  const Object &obj;
  const std::map<std::string, TextPosition> &positions;
  std::string prefix;
  std::optional<std::string> error;
};

bool isIdentifier(llvm::StringRef s) {
  if (s.empty() || !(llvm::isAlpha(s[0]) || s[0] == '_'))
    return false;
  return llvm::all_of(s, [](char c) { return llvm::isAlnum(c) || c == '_'; });
}

const llvm::StringRef kCommonFields[] = {
    "seqmix", "name",  "mixer", "description", "batch", "seq_len",
    "dtype",  "state", "form",  "chunk_size",  "target"};

std::vector<llvm::StringRef> allowedFields(Mixer m) {
  std::vector<llvm::StringRef> f(std::begin(kCommonFields),
                                 std::end(kCommonFields));
  auto add = [&](std::initializer_list<llvm::StringRef> more) {
    f.insert(f.end(), more.begin(), more.end());
  };
  switch (m) {
  case Mixer::SoftmaxAttention:
    add({"heads", "kv_heads", "head_dim", "key_dim", "value_dim", "causal",
         "scale", "window", "kv_len", "outputs"});
    break;
  case Mixer::LinearAttention:
    add({"heads", "key_dim", "value_dim", "feature_map", "normalize", "eps",
         "scale", "causal"});
    break;
  case Mixer::GatedLinearAttention:
    add({"heads", "value_heads", "key_dim", "value_dim", "gate", "decay",
         "scale", "feature_map", "normalize", "causal"});
    break;
  case Mixer::DeltaRule:
    add({"heads", "value_heads", "key_dim", "value_dim", "gated", "l2norm_qk",
         "eps", "scale"});
    break;
  case Mixer::SelectiveScan:
    add({"channels", "state_dim", "groups", "delta_softplus", "delta_bias",
         "d_skip", "z_gate"});
    break;
  case Mixer::LTIScan:
    add({"channels", "state_dim", "discretization", "mode", "d_skip"});
    break;
  case Mixer::CausalConv1d:
    add({"channels", "width", "bias", "activation"});
    break;
  }
  return f;
}

/// key_dim / value_dim are the layer's total widths; each head gets 1/heads.
int64_t perHead(FieldReader &r, llvm::StringRef field, int64_t total,
                int64_t heads) {
  if (!r.ok() || heads <= 0 || total <= 0)
    return 0;
  if (total % heads != 0) {
    r.fail(field, "must be divisible by heads (" + llvm::Twine(heads) +
                      "), got " + llvm::Twine(total) +
                      "; key_dim and value_dim are totals over "
                      "all heads");
    return 0;
  }
  return total / heads;
}
} // namespace

llvm::Expected<LayerSpec> seqmix::parseLayerSpec(llvm::StringRef json,
                                                 llvm::StringRef source) {
  auto error = [&](TextPosition pos, const llvm::Twine &msg) {
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   source + ":" + llvm::Twine(pos.line) + ":" +
                                       llvm::Twine(pos.column) + ": " + msg);
  };
  // llvm::json's parser recurses once per level: bound the depth first.
  if (std::optional<size_t> deep =
          findTooDeep(json, kMaxSpecNesting, "[{", "]}", false))
    return error(positionOf(json, *deep),
                 "malformed JSON: arrays and objects nest deeper than " +
                     llvm::Twine(kMaxSpecNesting) + " levels");
  llvm::Expected<Value> parsed = llvm::json::parse(json);
  if (!parsed)
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(), "%s: malformed JSON: %s",
        source.str().c_str(), llvm::toString(parsed.takeError()).c_str());
  TextLayout layout = scanLayout(json);
  if (layout.badNumber)
    return error(layout.badNumber->second,
                 "malformed JSON: '" + layout.badNumber->first +
                     "' is not a JSON number (no leading zeros, a digit on "
                     "both sides of '.')");
  if (layout.duplicate)
    return error(layout.duplicate->second,
                 "field '" + layout.duplicate->first +
                     "' is given twice; give each field once");
  const Object *root = parsed->getAsObject();
  if (!root)
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        "%s: a layer spec must be a JSON object, got %s", source.str().c_str(),
        kindOf(*parsed));
  FieldReader r(source.str(), *root, layout.keys);
  LayerSpec spec;
  spec.source = source.str();
  spec.fieldPositions = layout.keys;

  const Value *ver = r.get("seqmix", true, "the spec format version, 1");
  if (ver) {
    std::optional<int64_t> v = ver->getAsInteger();
    if (!v || *v != 1)
      r.fail("seqmix", "this compiler reads spec format version 1");
  }
  spec.name = r.string("name", true, "", {});
  if (r.ok() && !isIdentifier(spec.name))
    r.fail("name", "expected an identifier ([A-Za-z_][A-Za-z0-9_]*), got \"" +
                       spec.name + "\"");
  if (r.ok() && spec.name.size() > kMaxNameLength)
    r.fail("name", "expected at most " + llvm::Twine(kMaxNameLength) +
                       " characters (the name is the library's file name "
                       "and entry symbol), got " +
                       llvm::Twine(spec.name.size()));
  static const llvm::StringRef mixers[] = {
      "softmax_attention", "linear_attention", "gated_linear_attention",
      "delta_rule",        "selective_scan",   "lti_scan",
      "causal_conv1d"};
  std::string mixer = r.string("mixer", true, "", mixers);
  if (!r.ok())
    return r.takeError();
  spec.mixer =
      static_cast<Mixer>(llvm::find(mixers, mixer) - std::begin(mixers));
  std::string ctx = "for mixer '" + mixer + "'";
  r.rejectUnknown(allowedFields(spec.mixer), ctx);

  spec.batch = r.integer("batch", false, -1, 1, true);
  spec.seqLen = r.integer("seq_len", false, -1, 1, true);
  spec.dtype = r.string("dtype", false, "f32", {"f32", "bf16", "f16"});
  spec.form = r.string("form", false, "auto",
                       {"auto", "parallel", "chunked", "recurrent"});
  if (const Value *c = r.get("chunk_size", false)) {
    if (c->getAsString() && *c->getAsString() == "auto")
      spec.chunkSize = 0;
    else
      spec.chunkSize =
          r.integer("chunk_size", false, 0, 1, false, "", kMaxChunkSize);
  }
  if (r.ok() && spec.chunkSize && spec.form != "chunked" && spec.form != "auto")
    r.fail("chunk_size",
           "only applies to form \"chunked\" (or \"auto\"), but form is \"" +
               spec.form + "\"");
  (void)r.string("description", false, "", {}); // free text, but a string
  spec.target = r.string("target", false, "cpu", {"cpu", "cuda"});

  if (const Value *st = r.get("state", false)) {
    const Object *so = st->getAsObject();
    if (!so) {
      r.fail("state",
             llvm::Twine("expected an object {\"initial\": bool, \"final\": "
                         "bool}, got ") +
                 kindOf(*st));
    } else {
      FieldReader sr(source.str(), *so, layout.keys, "state.");
      sr.rejectUnknown({"initial", "final"}, "");
      spec.initialState = sr.boolean("initial", false);
      spec.finalState = sr.boolean("final", false);
      if (!sr.ok())
        return sr.takeError();
      if (spec.mixer == Mixer::SoftmaxAttention &&
          (spec.initialState || spec.finalState))
        r.fail("state",
               "softmax_attention keeps no fixed-size state (its decode "
               "state is a KV cache); remove the field");
    }
  }
  if (!r.ok())
    return r.takeError();

  switch (spec.mixer) {
  case Mixer::SoftmaxAttention: {
    spec.heads = r.integer("heads", true, 0);
    spec.valueHeads = spec.heads;
    spec.kvHeads = r.integer("kv_heads", false, spec.heads);
    if (r.ok() && spec.heads % spec.kvHeads != 0)
      r.fail("kv_heads", "must divide heads (" + llvm::Twine(spec.heads) +
                             "), got " + llvm::Twine(spec.kvHeads));
    if (r.has("head_dim")) {
      if (r.has("key_dim") || r.has("value_dim"))
        r.failGeneral(
            "give either 'head_dim' or 'key_dim' and 'value_dim', not both");
      spec.headKeyDim = spec.headValueDim = r.integer("head_dim", true, 0);
    } else {
      spec.headKeyDim =
          perHead(r, "key_dim",
                  r.integer("key_dim", true, 0, 1, false, "or give 'head_dim'"),
                  spec.heads);
      spec.headValueDim =
          perHead(r, "value_dim", r.integer("value_dim", true, 0), spec.heads);
    }
    spec.causal = r.boolean("causal", true);
    spec.kvLen = r.integer("kv_len", false, 0, 1, true);
    if (r.has("window") && !r.get("window", false)->getAsNull())
      spec.window = r.integer("window", false, 1);
    if (const Value *o = r.get("outputs", false)) {
      // ["out"] or ["out", "lse"]: the result, then the log-sum-exp.
      const llvm::json::Array *arr = o->getAsArray();
      std::vector<std::string> names;
      for (size_t i = 0; arr && i < arr->size(); ++i) {
        std::optional<llvm::StringRef> n = (*arr)[i].getAsString();
        if (!n) {
          arr = nullptr;
          break;
        }
        names.push_back(n->str());
      }
      if (!arr || names.empty() || names.size() > 2 || names[0] != "out" ||
          (names.size() == 2 && names[1] != "lse"))
        r.fail("outputs",
               "expected [\"out\"] or [\"out\", \"lse\"] (the result, then "
               "the optional log-sum-exp of each row)");
      else
        spec.lse = names.size() == 2;
    }
    spec.scale =
        r.numberOrAuto("scale", true)
            .value_or(spec.headKeyDim ? 1.0 / std::sqrt(double(spec.headKeyDim))
                                      : 1.0);
    break;
  }
  case Mixer::LinearAttention:
  case Mixer::GatedLinearAttention:
  case Mixer::DeltaRule: {
    spec.heads = r.integer("heads", true, 0);
    spec.kvHeads = spec.heads;
    spec.valueHeads = spec.heads;
    if (spec.mixer != Mixer::LinearAttention && r.ok()) {
      spec.valueHeads = r.integer("value_heads", false, spec.heads);
      if (r.ok() && spec.valueHeads % spec.heads != 0)
        r.fail("value_heads", "must be a multiple of heads (" +
                                  llvm::Twine(spec.heads) + "), got " +
                                  llvm::Twine(spec.valueHeads));
    }
    spec.headKeyDim =
        perHead(r, "key_dim", r.integer("key_dim", true, 0), spec.heads);
    spec.headValueDim = perHead(r, "value_dim", r.integer("value_dim", true, 0),
                                spec.valueHeads);
    if (!r.ok())
      return r.takeError();
    double defaultScale = 1.0 / std::sqrt(double(spec.headKeyDim));
    if (spec.mixer == Mixer::LinearAttention) {
      spec.featureMap = r.string("feature_map", false, "identity",
                                 {"identity", "elu1", "relu", "taylor"});
      spec.normalize = r.boolean("normalize", false);
      spec.causal = r.boolean("causal", true);
      if (const Value *e = r.get("eps", false)) {
        std::optional<double> d = e->getAsNumber();
        if (!d || !std::isfinite(*d) || *d < 0)
          r.fail("eps", "expected a finite number >= 0");
        else if (r.checkF32("eps", *d))
          spec.eps = *d;
      }
      if (r.ok() && spec.featureMap == "identity" && spec.normalize)
        r.fail("normalize",
               "cannot be true with feature_map \"identity\" (the "
               "denominator can cross zero); use \"elu1\", \"relu\" or "
               "\"taylor\"");
      if (r.ok() && !spec.causal && (spec.initialState || spec.finalState))
        r.fail("state",
               "a non-causal linear attention has no state; set causal to "
               "true or remove the state");
      // Based's Taylor map carries its own 1/sqrt(d) temperature; a normalizer
      // cancels the scale anyway (FORMS.md 2.1-2.2).
      if (spec.featureMap == "taylor" || spec.normalize)
        defaultScale = 1.0;
    } else if (spec.mixer == Mixer::GatedLinearAttention) {
      spec.gate = r.string("gate", true, "none",
                           {"none", "constant", "scalar", "vector"});
      std::string fm = r.string("feature_map", false, "identity",
                                {"identity", "elu1", "relu", "taylor"});
      if (r.ok() && fm != "identity")
        r.fail("feature_map",
               "gated_linear_attention supports only \"identity\"; "
               "use mixer \"linear_attention\" for feature maps");
      if (r.ok() && r.boolean("normalize", false))
        r.fail("normalize",
               "gated_linear_attention supports only false; use mixer "
               "\"linear_attention\" for a normalized layer");
      if (r.ok() && !r.boolean("causal", true))
        r.fail("causal", "gated_linear_attention is always causal");
      if (const Value *d =
              r.get("decay", spec.gate == "constant",
                    "gate \"constant\" needs one decay per head")) {
        if (spec.gate != "constant") {
          r.fail("decay", "only applies to gate \"constant\", but gate is \"" +
                              spec.gate + "\"");
        } else if (d->getAsString() && *d->getAsString() == "retnet") {
          // RetNet: gamma_h = 1 - 2^(-5-h); log1p keeps the digits near 1.
          for (int64_t h = 0; h < spec.valueHeads; ++h)
            spec.logDecay.push_back(std::log1p(-std::ldexp(1.0, int(-5 - h))));
        } else if (const llvm::json::Array *arr = d->getAsArray()) {
          if (static_cast<int64_t>(arr->size()) != spec.valueHeads)
            r.fail("decay",
                   llvm::Twine("expected one decay per ") +
                       (spec.valueHeads == spec.heads ? "head" : "value head") +
                       " (" + llvm::Twine(spec.valueHeads) + " values), got " +
                       llvm::Twine(arr->size()));
          for (const Value &x : *arr) {
            std::optional<double> g = x.getAsNumber();
            if (!g || !(*g > 0) || *g > 1) {
              r.fail("decay", "every decay must be a number in (0, 1]");
              break;
            }
            spec.logDecay.push_back(std::log(*g));
          }
        } else {
          r.fail("decay",
                 llvm::Twine("expected an array of decays in (0, 1] (one per "
                             "head) or \"retnet\", got ") +
                     kindOf(*d));
        }
      }
    } else {
      spec.gated = r.boolean("gated", false);
      spec.l2normQK = r.boolean("l2norm_qk", true);
      if (const Value *e = r.get("eps", false)) {
        std::optional<double> d = e->getAsNumber();
        if (!d || !std::isfinite(*d) || *d <= 0)
          r.fail("eps", "expected a finite number > 0");
        else if (r.checkF32("eps", *d))
          spec.eps = *d;
      }
    }
    spec.scale = r.numberOrAuto("scale", false).value_or(defaultScale);
    break;
  }
  case Mixer::SelectiveScan:
    spec.channels = r.integer("channels", true, 0);
    spec.stateDim = r.integer("state_dim", true, 0);
    spec.groups = r.integer("groups", false, 1);
    if (r.ok() && spec.channels % spec.groups != 0)
      r.fail("groups", "must divide channels (" + llvm::Twine(spec.channels) +
                           "), got " + llvm::Twine(spec.groups));
    spec.deltaSoftplus = r.boolean("delta_softplus", true);
    spec.deltaBias = r.boolean("delta_bias", false);
    spec.dSkip = r.boolean("d_skip", false);
    spec.zGate = r.boolean("z_gate", false);
    break;
  case Mixer::LTIScan:
    spec.channels = r.integer("channels", true, 0);
    spec.stateDim = r.integer("state_dim", true, 0);
    spec.discretization = r.string("discretization", false, "zoh",
                                   {"zoh", "bilinear", "euler_b"});
    spec.complexMode =
        r.string("mode", false, "complex", {"complex", "real"}) == "complex";
    spec.dSkip = r.boolean("d_skip", false);
    break;
  case Mixer::CausalConv1d:
    spec.channels = r.integer("channels", true, 0);
    spec.width = r.integer("width", true, 0, 1, false, "", 64);
    spec.convBias = r.boolean("bias", false);
    spec.silu =
        r.string("activation", false, "none", {"none", "silu"}) == "silu";
    if (r.ok() && spec.width == 1 && (spec.initialState || spec.finalState))
      r.fail("state", "a convolution of width 1 has no state (it keeps the "
                      "width - 1 = 0 inputs before the call); remove the "
                      "field or use a width >= 2");
    break;
  }
  if (!r.ok())
    return r.takeError();
  return spec;
}

llvm::Expected<LayerSpec> seqmix::loadLayerSpec(llvm::StringRef path) {
  auto buf = llvm::MemoryBuffer::getFileOrSTDIN(path, /*IsText=*/true);
  if (!buf)
    return llvm::createStringError(buf.getError(), "%s: cannot read: %s",
                                   path.str().c_str(),
                                   buf.getError().message().c_str());
  return parseLayerSpec((*buf)->getBuffer(), path);
}

int64_t LayerSpec::featureDim() const {
  if (mixer == Mixer::LinearAttention && featureMap == "taylor")
    return 1 + headKeyDim + headKeyDim * (headKeyDim + 1) / 2;
  return headKeyDim;
}

int64_t LayerSpec::stateColumns() const {
  return headValueDim + (mixer == Mixer::LinearAttention && normalize ? 1 : 0);
}

std::vector<TensorDesc> LayerSpec::inputs() const {
  std::vector<TensorDesc> in;
  auto dim = [](int64_t v) { return v; };
  int64_t B = batch, T = seqLen;
  auto bhtd = [&](const char *n, int64_t h, const char *hn, int64_t d,
                  const char *dn) {
    in.push_back({n, {B, h, T, d}, {"batch", hn, "seq_len", dn}});
  };
  switch (mixer) {
  case Mixer::SoftmaxAttention:
    bhtd("q", heads, "heads", headKeyDim, "key_dim");
    {
      // Keys and values have their own length only when the spec gives one.
      int64_t Tk = kvLen == 0 ? T : kvLen;
      const char *tk = kvLen == 0 ? "seq_len" : "kv_len";
      in.push_back({"k",
                    {B, kvHeads, Tk, headKeyDim},
                    {"batch", "kv_heads", tk, "key_dim"}});
      in.push_back({"v",
                    {B, kvHeads, Tk, headValueDim},
                    {"batch", "kv_heads", tk, "value_dim"}});
    }
    break;
  case Mixer::LinearAttention:
  case Mixer::GatedLinearAttention:
  case Mixer::DeltaRule: {
    // Value-side tensors have the value heads (grouped value heads).
    int64_t Hv = valueHeads > 0 ? valueHeads : heads;
    const char *hv = valueHeadsName();
    bhtd("q", heads, "heads", headKeyDim, "key_dim");
    bhtd("k", heads, "heads", headKeyDim, "key_dim");
    bhtd("v", Hv, hv, headValueDim, "value_dim");
    if (mixer == Mixer::DeltaRule)
      in.push_back({"beta", {B, Hv, T}, {"batch", hv, "seq_len"}});
    if ((mixer == Mixer::GatedLinearAttention && gate == "scalar") ||
        (mixer == Mixer::DeltaRule && gated))
      in.push_back({"g", {B, Hv, T}, {"batch", hv, "seq_len"}});
    if (mixer == Mixer::GatedLinearAttention && gate == "vector")
      bhtd("g", Hv, hv, headKeyDim, "key_dim");
    if (initialState)
      in.push_back({"initial_state",
                    {B, Hv, featureDim(), stateColumns()},
                    {"batch", hv, "state_rows", "state_cols"}});
    break;
  } break;
  case Mixer::SelectiveScan:
    in.push_back({"u", {B, channels, T}, {"batch", "channels", "seq_len"}});
    in.push_back({"delta", {B, channels, T}, {"batch", "channels", "seq_len"}});
    in.push_back({"A", {channels, stateDim}, {"channels", "state_dim"}});
    in.push_back({"B",
                  {B, groups, stateDim, T},
                  {"batch", "groups", "state_dim", "seq_len"}});
    in.push_back({"C",
                  {B, groups, stateDim, T},
                  {"batch", "groups", "state_dim", "seq_len"}});
    if (dSkip)
      in.push_back({"D", {channels}, {"channels"}});
    if (zGate)
      in.push_back({"z", {B, channels, T}, {"batch", "channels", "seq_len"}});
    if (deltaBias)
      in.push_back({"delta_bias", {channels}, {"channels"}});
    if (initialState)
      in.push_back({"initial_state",
                    {B, channels, stateDim},
                    {"batch", "channels", "state_dim"}});
    break;
  case Mixer::CausalConv1d:
    in.push_back({"x", {B, channels, T}, {"batch", "channels", "seq_len"}});
    in.push_back({"weight", {channels, width}, {"channels", "width"}});
    if (convBias)
      in.push_back({"bias", {channels}, {"channels"}});
    if (initialState)
      in.push_back({"initial_state",
                    {B, channels, width - 1},
                    {"batch", "channels", "conv_state"}});
    break;
  case Mixer::LTIScan: {
    in.push_back({"u", {B, channels, T}, {"batch", "channels", "seq_len"}});
    for (const char *n : {"A", "B", "C"})
      in.push_back(
          {n, {channels, stateDim}, {"channels", "state_dim"}, complexMode});
    in.push_back({"log_dt", {channels}, {"channels"}});
    if (dSkip)
      in.push_back({"D", {channels}, {"channels"}});
    if (initialState)
      in.push_back({"initial_state",
                    {B, channels, stateDim},
                    {"batch", "channels", "state_dim"},
                    complexMode});
    break;
  }
  }
  (void)dim;
  for (TensorDesc &d : in)
    if (followsDtype(d.name))
      d.dtype = dtype;
  return in;
}

std::vector<TensorDesc> LayerSpec::outputs() const {
  std::vector<TensorDesc> out;
  int64_t B = batch, T = seqLen;
  switch (mixer) {
  case Mixer::SoftmaxAttention:
  case Mixer::LinearAttention:
  case Mixer::GatedLinearAttention:
  case Mixer::DeltaRule: {
    // Softmax attention and linear attention have valueHeads == heads.
    int64_t Hv = valueHeads > 0 ? valueHeads : heads;
    const char *hv = valueHeadsName();
    out.push_back({"out",
                   {B, Hv, T, headValueDim},
                   {"batch", hv, "seq_len", "value_dim"}});
    if (lse)
      out.push_back({"lse", {B, heads, T}, {"batch", "heads", "seq_len"}});
    if (finalState)
      out.push_back({"final_state",
                     {B, Hv, featureDim(), stateColumns()},
                     {"batch", hv, "state_rows", "state_cols"}});
    break;
  }
  case Mixer::CausalConv1d:
    out.push_back({"out", {B, channels, T}, {"batch", "channels", "seq_len"}});
    if (finalState)
      out.push_back({"final_state",
                     {B, channels, width - 1},
                     {"batch", "channels", "conv_state"}});
    break;
  case Mixer::SelectiveScan:
  case Mixer::LTIScan:
    out.push_back({"out", {B, channels, T}, {"batch", "channels", "seq_len"}});
    if (finalState)
      out.push_back({"final_state",
                     {B, channels, stateDim},
                     {"batch", "channels", "state_dim"},
                     mixer == Mixer::LTIScan && complexMode});
    break;
  }
  for (TensorDesc &d : out)
    if (followsDtype(d.name))
      d.dtype = dtype;
  return out;
}

bool LayerSpec::followsDtype(llvm::StringRef tensor) const {
  switch (mixer) {
  case Mixer::SoftmaxAttention:
  case Mixer::LinearAttention:
  case Mixer::GatedLinearAttention:
  case Mixer::DeltaRule:
    return tensor == "q" || tensor == "k" || tensor == "v" ||
           tensor == "beta" || tensor == "out";
  case Mixer::SelectiveScan:
    return tensor == "u" || tensor == "delta" || tensor == "B" ||
           tensor == "C" || tensor == "D" || tensor == "z" || tensor == "out";
  case Mixer::CausalConv1d:
    // The conv state is the last inputs themselves.
    return true;
  case Mixer::LTIScan:
    return tensor == "u" || tensor == "out";
  }
  return false;
}
