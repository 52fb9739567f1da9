//===- LayerHarness.cpp - seeded inputs, reference outputs, errors --------===//
#include "seqmix/Testing/LayerHarness.h"

#include <cstring>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <stdexcept>

using namespace seqmix;

int64_t HostTensor::elements() const {
  int64_t n = 1;
  for (int64_t s : shape)
    n *= s;
  return n;
}

std::vector<int64_t> seqmix::concreteShape(const TensorDesc &d, int64_t B,
                                           int64_t T, int64_t Tk) {
  std::vector<int64_t> s = d.shape;
  for (size_t i = 0; i < s.size(); ++i)
    if (s[i] < 0)
      s[i] = d.dims[i] == "batch"               ? B
             : d.dims[i] == "kv_len" && Tk >= 0 ? Tk
                                                : T;
  return s;
}

namespace {
/// A tensor's layout around its seq_len dimension: `outer` slices of `length`
/// tokens of `inner` floats each (complex counted twice). `dim` is -1 when
/// the tensor has no seq_len dimension.
struct SeqLenLayout {
  int dim = -1;
  int64_t outer = 1, length = 0, inner = 1;
};

SeqLenLayout seqLenLayout(const HostTensor &t) {
  SeqLenLayout l;
  for (size_t i = 0; i < t.desc.dims.size(); ++i)
    if (t.desc.dims[i] == "seq_len")
      l.dim = static_cast<int>(i);
  if (l.dim < 0)
    return l;
  l.length = t.shape[l.dim];
  l.inner = t.desc.complex ? 2 : 1;
  for (int i = 0; i < l.dim; ++i)
    l.outer *= t.shape[i];
  for (size_t i = l.dim + 1; i < t.shape.size(); ++i)
    l.inner *= t.shape[i];
  return l;
}

/// Copies `n` tokens of every slice from token `from` of `src` to token `to`
/// of `dst` (both laid out as `s` and `d`, differing only in length).
void copyTokens(const std::vector<float> &src, const SeqLenLayout &s,
                int64_t from, std::vector<float> &dst, const SeqLenLayout &d,
                int64_t to, int64_t n) {
  for (int64_t o = 0; o < s.outer; ++o)
    std::copy_n(src.begin() + (o * s.length + from) * s.inner, n * s.inner,
                dst.begin() + (o * d.length + to) * d.inner);
}
} // namespace

HostTensor seqmix::sliceSeqLen(const HostTensor &t, int64_t t0, int64_t t1) {
  SeqLenLayout l = seqLenLayout(t);
  if (l.dim < 0)
    return t;
  HostTensor part{t.desc, t.shape, {}};
  part.shape[l.dim] = t1 - t0;
  SeqLenLayout p = l;
  p.length = t1 - t0;
  part.data.resize(static_cast<size_t>(p.outer * p.length * p.inner));
  copyTokens(t.data, l, t0, part.data, p, 0, p.length);
  return part;
}

void seqmix::insertSeqLen(HostTensor &whole, const HostTensor &part,
                          int64_t t0) {
  SeqLenLayout w = seqLenLayout(whole);
  if (w.dim < 0) {
    whole.data = part.data;
    return;
  }
  SeqLenLayout p = seqLenLayout(part);
  copyTokens(part.data, p, 0, whole.data, w, t0, p.length);
}

namespace {
HostTensor allocate(const TensorDesc &d, int64_t B, int64_t T,
                    int64_t Tk = -1) {
  HostTensor t{d, concreteShape(d, B, T, Tk), {}};
  t.data.assign(static_cast<size_t>(t.elements() * (d.complex ? 2 : 1)), 0.0f);
  return t;
}

class Gen {
public:
  explicit Gen(uint64_t seed) : rng(seed) {}
  double normal() { return nd(rng); }
  double uniform(double a, double b) {
    return std::uniform_real_distribution<double>(a, b)(rng);
  }

private:
  std::mt19937_64 rng;
  std::normal_distribution<double> nd{0.0, 1.0};
};

double inverseSoftplus(double x) { return x + std::log(-std::expm1(-x)); }

/// Fills one input by the family's generator (FORMS.md 7.3).
/// Applies the gate regime to log gates `t` (scalar [B,H,T] or vector
/// [B,H,T,K]) after the default generator filled them.
void stressGates(HostTensor &t, Gen &g, GateRegime regime) {
  if (regime == GateRegime::Default)
    return;
  const int64_t T = t.shape[2];
  const int64_t inner = t.shape.size() > 3 ? t.shape[3] : 1;
  for (int64_t i = 0; i < t.elements(); ++i) {
    int64_t tok = (i / inner) % T;
    if (regime == GateRegime::Strong)
      t.data[i] = static_cast<float>(ref::logsigmoid(g.normal()));
    else if (tok % 37 == 5)
      t.data[i] = -1e4f;
  }
}

/// FORMS.md 7.6, the delta rule's colinear keys: every key of a run of 4
/// tokens is the run's first (k_i = k_j, so A = tril(diag(beta) K K^T) has
/// large off-diagonal mass), and beta = 2 on every third token (I - 2 k k^T
/// has the eigenvalue -1 for a unit k).
void stressKeys(HostTensor &t) {
  const int64_t T = t.shape[2];
  const int64_t inner = t.shape.size() > 3 ? t.shape[3] : 1;
  if (t.desc.name == "k") {
    for (int64_t i = 0; i < t.elements(); ++i) {
      int64_t tok = (i / inner) % T;
      t.data[i] = t.data[i - (tok % 4) * inner];
    }
  } else if (t.desc.name == "beta") {
    for (int64_t i = 0; i < t.elements(); ++i)
      if ((i % T) % 3 == 2)
        t.data[i] = 2.0f;
  }
}

/// FORMS.md 7.6 for the selective scan's delta_raw: strong, delta about 4
/// every step (dA = exp(-4 (n + 1)), nearly a reset each token); reset, a
/// delta_raw of 1e3 every 37 tokens (dA = 0 exactly, a large dBu) and of -30
/// at another (delta ~ 1e-13: dA = 1, a skip).
/// Without softplus the values are the deltas themselves: 4 e^(N/4), 1e3
/// and 1e-13.
void stressDelta(HostTensor &t, Gen &g, GateRegime regime, bool softplus) {
  if (regime == GateRegime::Default)
    return;
  const int64_t T = t.shape[2];
  for (int64_t i = 0; i < t.elements(); ++i) {
    int64_t tok = i % T;
    if (regime == GateRegime::Strong)
      t.data[i] = static_cast<float>(softplus ? 4.0 + g.normal()
                                              : 4.0 * std::exp(g.normal() / 4));
    else if (tok % 37 == 5)
      t.data[i] = 1e3f;
    else if (tok % 37 == 20)
      t.data[i] = softplus ? -30.0f : 1e-13f;
  }
}

/// FORMS.md 7.6 for the LTI scan's steps (one per channel): strong, dt in
/// [1, 10] on every channel (Re(dt A) <= -0.5: short memory; the bilinear
/// rule's real-mode Abar is negative from dt |A| > 2); reset, dt = 1e3 on
/// every third channel (Abar = 0 to the last bit: a reset every token) and
/// dt = 1e-7 on the next (Abar = 1 to rounding: a skip).
void stressStep(HostTensor &t, Gen &g, GateRegime regime) {
  if (regime == GateRegime::Default)
    return;
  for (int64_t h = 0; h < t.elements(); ++h) {
    if (regime == GateRegime::Strong)
      t.data[h] = static_cast<float>(g.uniform(0.0, std::log(10.0)));
    else if (h % 3 == 0)
      t.data[h] = static_cast<float>(std::log(1e3));
    else if (h % 3 == 1)
      t.data[h] = static_cast<float>(std::log(1e-7));
  }
}

void fill(const LayerSpec &s, HostTensor &t, Gen &g) {
  const std::string &n = t.desc.name;
  const int64_t count = t.elements();
  auto each = [&](auto f) {
    for (int64_t i = 0; i < count; ++i)
      t.data[i] = static_cast<float>(f(i));
  };
  double K = static_cast<double>(std::max<int64_t>(1, s.headKeyDim));
  if (n == "initial_state") {
    for (float &x : t.data)
      x = static_cast<float>(g.normal());
    // Linear attention's normalizer z (the state's last column) sums phi(k)
    // over a prefix, and the denominators q^.z are only well posed for
    // states a prefix produces (an N(0, 1) column crosses zero): with the
    // normalizer the state is that of a random 4-token prefix, k, v ~ N(0, 1).
    if (s.mixer == Mixer::LinearAttention && s.normalize) {
      ref::FeatureMap map = s.featureMap == "elu1"   ? ref::FeatureMap::Elu1
                            : s.featureMap == "relu" ? ref::FeatureMap::Relu
                            : s.featureMap == "taylor"
                                ? ref::FeatureMap::Taylor
                                : ref::FeatureMap::Identity;
      int64_t K = s.headKeyDim, V = s.headValueDim, cols = V + 1;
      std::vector<double> k(K), v(cols, 1.0);
      int64_t Kf =
          static_cast<int64_t>(ref::featureMap(map, k.data(), K).size());
      int64_t slice = Kf * cols;
      for (int64_t base = 0; base + slice <= count; base += slice) {
        std::vector<double> S(slice, 0.0);
        for (int prefix = 0; prefix < 4; ++prefix) {
          for (double &x : k)
            x = g.normal();
          for (int64_t e = 0; e < V; ++e)
            v[e] = g.normal();
          std::vector<double> phi = ref::featureMap(map, k.data(), K);
          for (int64_t i = 0; i < Kf; ++i)
            for (int64_t e = 0; e < cols; ++e)
              S[i * cols + e] += phi[i] * v[e];
        }
        for (int64_t i = 0; i < slice; ++i)
          t.data[base + i] = static_cast<float>(S[i]);
      }
    }
    return;
  }
  switch (s.mixer) {
  case Mixer::SoftmaxAttention:
  case Mixer::LinearAttention:
    each([&](int64_t) { return g.normal(); });
    return;
  case Mixer::CausalConv1d:
    // Taps of a unit-variance sum (Mamba's conv init scale), the rest N(0, 1).
    if (n == "weight")
      each([&](int64_t) { return g.normal() / std::sqrt(double(s.width)); });
    else
      each([&](int64_t) { return g.normal(); });
    return;
  case Mixer::GatedLinearAttention:
    if (n == "q")
      each([&](int64_t) { return g.normal() / std::sqrt(K); });
    else if (n == "g" && s.gate == "scalar") // moderate: alpha mostly 0.85-0.95
      each([&](int64_t) { return ref::logsigmoid(g.normal() + 2.0); });
    else if (n == "g") // GLA-like weak vector gates
      each([&](int64_t) { return ref::logsigmoid(g.normal()) / 16.0; });
    else
      each([&](int64_t) { return g.normal(); });
    return;
  case Mixer::DeltaRule:
    if (n == "beta")
      each([&](int64_t) { return 1.0 / (1.0 + std::exp(-g.normal())); });
    else if (n == "g")
      each([&](int64_t) { return ref::logsigmoid(g.normal() + 3.0); });
    else if (n == "q" || n == "k") {
      // L2-normalized rows (fp32) so the state stays non-expansive.
      int64_t rowLen = t.shape.back();
      for (int64_t r = 0; r < count / rowLen; ++r) {
        double n2 = 0;
        std::vector<double> row(rowLen);
        for (double &x : row) {
          x = g.normal();
          n2 += x * x;
        }
        for (int64_t i = 0; i < rowLen; ++i)
          t.data[r * rowLen + i] = static_cast<float>(row[i] / std::sqrt(n2));
      }
    } else
      each([&](int64_t) { return g.normal(); });
    return;
  case Mixer::SelectiveScan:
    if (n == "A")
      each([&](int64_t i) { return -static_cast<double>(i % s.stateDim + 1); });
    else if (n == "delta_bias")
      each([&](int64_t) {
        return inverseSoftplus(
            std::exp(g.uniform(std::log(1e-3), std::log(1e-1))));
      });
    else if (n == "delta" && s.deltaSoftplus)
      each([&](int64_t) { return 0.5 * g.normal(); });
    else if (n == "delta") // used as it is: a positive step, as dt
      each([&](int64_t) {
        return std::exp(g.uniform(std::log(1e-3), std::log(1e-1)));
      });
    else
      each([&](int64_t) { return g.normal(); });
    return;
  case Mixer::LTIScan:
    if (n == "A") {
      for (int64_t i = 0; i < count; ++i) {
        int64_t mode = i % s.stateDim;
        if (s.complexMode) { // S4D-Lin: -1/2 + i pi n
          t.data[2 * i] = -0.5f;
          t.data[2 * i + 1] = static_cast<float>(M_PI * mode);
        } else {
          t.data[i] = static_cast<float>(-(mode + 1));
        }
      }
    } else if (n == "B") {
      for (int64_t i = 0; i < count; ++i)
        t.data[s.complexMode ? 2 * i : i] = 1.0f;
    } else if (n == "C") {
      for (float &x : t.data)
        x = static_cast<float>(g.normal() /
                               (s.complexMode ? std::sqrt(2.0) : 1.0));
    } else if (n == "log_dt") {
      each([&](int64_t) { return g.uniform(std::log(1e-3), std::log(1e-1)); });
    } else {
      each([&](int64_t) { return g.normal(); });
    }
    return;
  }
}

/// x ([B, H, T, D]) with its heads repeated to `Hv` (a multiple of H): head
/// h of the result is head h / (Hv / H) of x. The reference computes
/// grouped value heads (FORMS.md 3.1, 4.1 with H_v value heads) on q and k
/// repeated this way.
ref::Array repeatHeads(const ref::Array &x, int64_t Hv) {
  const int64_t B = x.shape[0], H = x.shape[1], T = x.shape[2], D = x.shape[3];
  if (Hv == H)
    return x;
  ref::Array r({B, Hv, T, D});
  const int64_t group = Hv / H;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < Hv; ++h)
      for (int64_t i = 0; i < T * D; ++i)
        r.data[(b * Hv + h) * T * D + i] =
            x.data[(b * H + h / group) * T * D + i];
  return r;
}

ref::Array toArray(const HostTensor &t) {
  ref::Array a(t.shape);
  for (size_t i = 0; i < a.data.size(); ++i)
    a.data[i] = t.data[i];
  return a;
}

ref::CArray toCArray(const HostTensor &t) {
  ref::CArray a(t.shape);
  for (size_t i = 0; i < a.data.size(); ++i)
    a.data[i] = t.desc.complex
                    ? std::complex<double>(t.data[2 * i], t.data[2 * i + 1])
                    : std::complex<double>(t.data[i], 0.0);
  return a;
}
} // namespace

std::optional<GateRegime> seqmix::parseGateRegime(llvm::StringRef name) {
  if (name == "default")
    return GateRegime::Default;
  if (name == "strong")
    return GateRegime::Strong;
  if (name == "reset")
    return GateRegime::Reset;
  return std::nullopt;
}

std::optional<KeyRegime> seqmix::parseKeyRegime(llvm::StringRef name) {
  if (name == "default")
    return KeyRegime::Default;
  if (name == "colinear")
    return KeyRegime::Colinear;
  return std::nullopt;
}

std::vector<HostTensor> seqmix::makeInputs(const LayerSpec &spec, int64_t B,
                                           int64_t T, uint64_t seed,
                                           GateRegime gates, int64_t Tk,
                                           KeyRegime keys) {
  std::vector<HostTensor> in;
  Gen g(seed);
  for (const TensorDesc &d : spec.inputs()) {
    in.push_back(allocate(d, B, T, Tk));
    fill(spec, in.back(), g);
    if (d.name == "g")
      stressGates(in.back(), g, gates);
    if (d.name == "delta" && spec.mixer == Mixer::SelectiveScan)
      stressDelta(in.back(), g, gates, spec.deltaSoftplus);
    if (d.name == "log_dt" && spec.mixer == Mixer::LTIScan)
      stressStep(in.back(), g, gates);
    if (keys == KeyRegime::Colinear && spec.mixer == Mixer::DeltaRule)
      stressKeys(in.back());
    // Inputs in a narrow type: the reference sees the same rounded values.
    if (d.isNarrow())
      for (float &x : in.back().data)
        x = roundToDtype(x, d.dtype);
  }
  return in;
}

std::vector<HostTensor> seqmix::makeOutputs(const LayerSpec &spec, int64_t B,
                                            int64_t T) {
  std::vector<HostTensor> out;
  for (const TensorDesc &d : spec.outputs())
    out.push_back(allocate(d, B, T));
  return out;
}

std::vector<std::vector<double>>
seqmix::referenceOutputs(const LayerSpec &s,
                         const std::vector<HostTensor> &inputs) {
  std::map<std::string, ref::Array> a;
  std::map<std::string, const HostTensor *> raw;
  for (const HostTensor &t : inputs) {
    raw[t.desc.name] = &t;
    if (!t.desc.complex)
      a[t.desc.name] = toArray(t);
  }
  auto opt = [&](const char *n) -> const ref::Array * {
    auto it = a.find(n);
    return it == a.end() ? nullptr : &it->second;
  };
  ref::Result r;
  switch (s.mixer) {
  case Mixer::SoftmaxAttention:
    r.out = ref::softmaxAttention(a["q"], a["k"], a["v"],
                                  {s.scale, s.causal, s.window},
                                  s.lse ? &r.state : nullptr);
    if (s.lse)
      return {r.out.data, r.state.data};
    break;
  case Mixer::LinearAttention: {
    ref::LinearParams p;
    p.map = s.featureMap == "elu1"     ? ref::FeatureMap::Elu1
            : s.featureMap == "relu"   ? ref::FeatureMap::Relu
            : s.featureMap == "taylor" ? ref::FeatureMap::Taylor
                                       : ref::FeatureMap::Identity;
    p.scale = s.scale;
    p.normalize = s.normalize;
    p.eps = s.eps;
    p.causal = s.causal;
    r = ref::linearAttention(a["q"], a["k"], a["v"], opt("initial_state"), p);
    break;
  }
  case Mixer::GatedLinearAttention: {
    ref::GLAParams p;
    p.gate = s.gate == "constant" ? ref::Gate::Constant
             : s.gate == "scalar" ? ref::Gate::Scalar
             : s.gate == "vector" ? ref::Gate::Vector
                                  : ref::Gate::None;
    p.scale = s.scale;
    // The compiled op holds the log decays as f32: use the same values.
    for (double x : s.logDecay)
      p.logDecay.push_back(static_cast<float>(x));
    r = ref::gatedLinearAttention(repeatHeads(a["q"], s.valueHeads),
                                  repeatHeads(a["k"], s.valueHeads), a["v"],
                                  opt("g"), opt("initial_state"), p);
    break;
  }
  case Mixer::DeltaRule:
    r = ref::deltaRule(repeatHeads(a["q"], s.valueHeads),
                       repeatHeads(a["k"], s.valueHeads), a["v"], a["beta"],
                       opt("g"), opt("initial_state"),
                       {s.scale, s.l2normQK, s.eps});
    break;
  case Mixer::SelectiveScan:
    r = ref::selectiveScan(a["u"], a["delta"], a["A"], a["B"], a["C"], opt("D"),
                           opt("z"), opt("delta_bias"), opt("initial_state"),
                           s.deltaSoftplus);
    break;
  case Mixer::CausalConv1d:
    r = ref::causalConv1d(a["x"], a["weight"], opt("bias"),
                          opt("initial_state"), s.silu);
    break;
  case Mixer::LTIScan: {
    ref::CArray A = toCArray(*raw["A"]), Bc = toCArray(*raw["B"]),
                Cc = toCArray(*raw["C"]);
    std::optional<ref::CArray> x0;
    if (raw.count("initial_state"))
      x0 = toCArray(*raw["initial_state"]);
    ref::Discretization d =
        s.discretization == "bilinear"  ? ref::Discretization::Bilinear
        : s.discretization == "euler_b" ? ref::Discretization::EulerB
                                        : ref::Discretization::ZOH;
    ref::LTIResult lr = ref::ltiScan(a["u"], A, Bc, Cc, a["log_dt"], opt("D"),
                                     x0 ? &*x0 : nullptr, d, s.complexMode);
    std::vector<std::vector<double>> outs = {lr.out.data};
    if (s.finalState) {
      std::vector<double> st;
      for (const auto &c : lr.state.data) {
        if (s.complexMode) {
          st.push_back(c.real());
          st.push_back(c.imag());
        } else {
          st.push_back(c.real());
        }
      }
      outs.push_back(std::move(st));
    }
    return outs;
  }
  }
  std::vector<std::vector<double>> outs = {r.out.data};
  if (s.finalState)
    outs.push_back(r.state.data);
  return outs;
}

ErrorStats seqmix::compareToReference(const std::vector<float> &got,
                                      const std::vector<double> &ref) {
  ErrorStats e;
  if (got.size() != ref.size())
    throw std::invalid_argument("compareToReference: size mismatch");
  double diff2 = 0, ref2 = 0, refMax = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    // An infinite reference value (lse of a row with no visible key is -inf)
    // must be matched exactly; it takes no part in the error norms.
    if (std::isinf(ref[i])) {
      if (static_cast<double>(got[i]) != ref[i])
        e.finite = false;
      continue;
    }
    if (!std::isfinite(got[i]))
      e.finite = false;
    double d = std::abs(static_cast<double>(got[i]) - ref[i]);
    e.maxAbs = std::max(e.maxAbs, d);
    diff2 += d * d;
    ref2 += ref[i] * ref[i];
    refMax = std::max(refMax, std::abs(ref[i]));
  }
  e.relRms = std::sqrt(diff2) / (std::sqrt(ref2) + 1e-30);
  e.maxRel = e.maxAbs / (refMax + 1e-30);
  if (!e.finite)
    e.maxAbs = e.maxRel = e.relRms = INFINITY;
  return e;
}

bool seqmix::withinTolerance(const ErrorStats &e, const Tolerance &tol) {
  return e.finite && e.relRms <= tol.relRms && e.maxRel <= tol.maxRel;
}

std::optional<Problem> seqmix::problemForSpec(const LayerSpec &spec, int64_t B,
                                              int64_t T, int64_t Tk) {
  Problem p;
  p.activationBytes = spec.dtype == "f32" ? 4 : 2;
  switch (spec.mixer) {
  case Mixer::GatedLinearAttention:
    p.gate = spec.gate == "constant" ? Gate::Constant
             : spec.gate == "scalar" ? Gate::Scalar
             : spec.gate == "vector" ? Gate::Vector
                                     : Gate::None;
    break;
  case Mixer::LinearAttention:
  case Mixer::DeltaRule:
    break;
  case Mixer::SoftmaxAttention:
    p.kvLen = Tk > 0 ? Tk : 0;
    p.causal = spec.causal;
    break;
  case Mixer::SelectiveScan:
  case Mixer::LTIScan:
  case Mixer::CausalConv1d:
    // One slice per (batch, channel): keyDim the state size (modes) or the
    // width, valueDim the planes per mode (2 for complex LTI modes).
    p.family = spec.mixer;
    p.batch = B;
    p.heads = spec.channels;
    p.seqLen = T;
    p.keyDim = spec.mixer == Mixer::CausalConv1d ? spec.width : spec.stateDim;
    p.valueDim = spec.mixer == Mixer::LTIScan && spec.complexMode ? 2 : 1;
    p.stateIn = spec.initialState;
    p.stateOut = spec.finalState;
    return p;
  }
  p.family = spec.mixer;
  p.batch = B;
  // A (batch, value head) slice is the unit of work (grouped value heads).
  p.heads = spec.valueHeads > 0 ? spec.valueHeads : spec.heads;
  p.seqLen = T;
  p.keyDim = spec.headKeyDim;
  p.valueDim = spec.headValueDim;
  p.stateIn = spec.initialState;
  p.stateOut = spec.finalState;
  return p;
}

std::optional<std::pair<Form, int64_t>>
seqmix::parseFormName(llvm::StringRef name) {
  int64_t chunk = 0;
  if (name == "parallel")
    return std::pair{Form::Parallel, int64_t(0)};
  if (name == "recurrent")
    return std::pair{Form::Recurrent, int64_t(0)};
  if (name.consume_front("chunked(chunk ") && name.consume_back(")") &&
      !name.getAsInteger(10, chunk) && chunk > 0)
    return std::pair{Form::Chunked, chunk};
  return std::nullopt;
}

std::optional<double> seqmix::formFlops(const LayerSpec &spec,
                                        llvm::StringRef form, int64_t B,
                                        int64_t T, int64_t Tk) {
  std::optional<Problem> p = problemForSpec(spec, B, T, Tk);
  std::optional<std::pair<Form, int64_t>> f = parseFormName(form);
  if (!p || !f)
    return std::nullopt;
  Estimate e = estimateForm(*p, f->first, f->second, Machine::hostCpu());
  return e.flopsMatmul + e.flopsVector;
}

std::string seqmix::formForSeqLen(llvm::StringRef forms, int64_t T) {
  if (!forms.contains(" if "))
    return forms.str();
  llvm::SmallVector<llvm::StringRef> entries;
  forms.split(entries, ", ");
  for (llvm::StringRef e : entries) {
    auto [form, cond] = e.split(" if ");
    int64_t lo = 1, hi = 0;
    llvm::StringRef c = cond.trim();
    if (c.consume_front("seq_len < ")) {
      if (c.getAsInteger(10, hi))
        continue;
    } else if (c.consume_front("seq_len >= ")) {
      if (c.getAsInteger(10, lo))
        continue;
    } else {
      auto [l, rest] = c.split(" <= seq_len < ");
      if (l.getAsInteger(10, lo) || rest.getAsInteger(10, hi))
        continue;
    }
    if (T >= lo && (hi <= 0 || T < hi))
      return form.str();
  }
  return forms.str();
}

std::vector<seqmix_tensor>
seqmix::tensorArgs(std::vector<HostTensor> &inputs,
                   std::vector<HostTensor> &outputs) {
  std::vector<seqmix_tensor> args;
  for (auto *list : {&inputs, &outputs})
    for (HostTensor &t : *list) {
      void *data = t.data.data();
      if (t.desc.isNarrow()) {
        t.narrow.resize(t.data.size());
        for (size_t i = 0; i < t.data.size(); ++i)
          t.narrow[i] = narrowBits(t.data[i], t.desc.dtype);
        data = t.narrow.data();
      }
      args.push_back({data, static_cast<int32_t>(t.shape.size()),
                      t.shape.data(), nullptr});
    }
  return args;
}

void seqmix::readBack(std::vector<HostTensor> &outputs) {
  for (HostTensor &t : outputs)
    if (t.desc.isNarrow())
      for (size_t i = 0; i < t.narrow.size() && i < t.data.size(); ++i)
        t.data[i] = widenBits(t.narrow[i], t.desc.dtype);
}

uint16_t seqmix::narrowBits(float x, const std::string &dtype) {
  if (dtype == "f16") {
    _Float16 h = static_cast<_Float16>(x); // round to nearest even
    uint16_t bits;
    std::memcpy(&bits, &h, sizeof bits);
    return bits;
  }
  uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  if ((u & 0x7fffffffu) > 0x7f800000u) // NaN: keep it quiet
    return static_cast<uint16_t>((u >> 16) | 0x40);
  u += 0x7fffu + ((u >> 16) & 1u); // round to nearest, ties to even
  return static_cast<uint16_t>(u >> 16);
}

float seqmix::widenBits(uint16_t bits, const std::string &dtype) {
  if (dtype == "f16") {
    _Float16 h;
    std::memcpy(&h, &bits, sizeof h);
    return static_cast<float>(h);
  }
  uint32_t u = static_cast<uint32_t>(bits) << 16;
  float x;
  std::memcpy(&x, &u, sizeof x);
  return x;
}

float seqmix::roundToDtype(float x, const std::string &dtype) {
  return dtype == "f32" ? x : widenBits(narrowBits(x, dtype), dtype);
}

seqmix::Tolerance seqmix::toleranceFor(const std::string &dtype) {
  if (dtype == "bf16")
    return {5e-3, 1e-2};
  if (dtype == "f16")
    return {1e-3, 2e-3};
  return {};
}
