//===- Reference.cpp - double-precision recurrent definitions -------------===//
//
// Written directly from the step definitions of FORMS.md (sections 1-5); every
// state is a plain double array updated token by token.
//
//===----------------------------------------------------------------------===//
#include "seqmix/Reference/Reference.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <tuple>

using namespace seqmix::ref;

double seqmix::ref::softplus(double x) {
  if (x > 20)
    return x;
  return std::max(x, 0.0) + std::log1p(std::exp(-std::abs(x)));
}

double seqmix::ref::logsigmoid(double x) { return -softplus(-x); }

double seqmix::ref::silu(double x) {
  double s =
      x >= 0 ? 1.0 / (1.0 + std::exp(-x)) : std::exp(x) / (1.0 + std::exp(x));
  return x * s;
}

static void require(bool cond, const char *what) {
  if (!cond)
    throw std::invalid_argument(what);
}

Array seqmix::ref::softmaxAttention(const Array &q, const Array &k,
                                    const Array &v, const SoftmaxParams &p,
                                    Array *lse) {
  const int64_t B = q.dim(0), H = q.dim(1), Tq = q.dim(2), K = q.dim(3);
  const int64_t Hkv = k.dim(1), Tk = k.dim(2), V = v.dim(3);
  require(H % Hkv == 0, "heads must be a multiple of kv heads");
  Array o({B, H, Tq, V});
  if (lse)
    *lse = Array({B, H, Tq});
  std::vector<double> s(Tk);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h) {
      int64_t hk = h * Hkv / H;
      for (int64_t i = 0; i < Tq; ++i) {
        int64_t pos = Tk - Tq + i;
        double m = -std::numeric_limits<double>::infinity();
        for (int64_t j = 0; j < Tk; ++j) {
          bool visible = !p.causal || j <= pos;
          if (p.window)
            visible = visible && (p.causal ? pos - j < *p.window
                                           : std::llabs(pos - j) < *p.window);
          if (!visible) {
            s[j] = -std::numeric_limits<double>::infinity();
            continue;
          }
          double dot = 0;
          for (int64_t d = 0; d < K; ++d)
            dot += q(b, h, i, d) * k(b, hk, j, d);
          s[j] = p.scale * dot;
          m = std::max(m, s[j]);
        }
        if (m == -std::numeric_limits<double>::infinity()) {
          // No visible key: the output row stays 0 and lse is -inf.
          if (lse)
            (*lse)(b, h, i) = m;
          continue;
        }
        double l = 0;
        for (int64_t j = 0; j < Tk; ++j)
          l += std::exp(s[j] - m);
        if (lse)
          (*lse)(b, h, i) = m + std::log(l);
        for (int64_t j = 0; j < Tk; ++j) {
          double w = std::exp(s[j] - m) / l;
          if (w == 0)
            continue;
          for (int64_t e = 0; e < V; ++e)
            o(b, h, i, e) += w * v(b, hk, j, e);
        }
      }
    }
  return o;
}

std::vector<double> seqmix::ref::featureMap(FeatureMap map, const double *x,
                                            int64_t K) {
  std::vector<double> f;
  switch (map) {
  case FeatureMap::Identity:
    f.assign(x, x + K);
    break;
  case FeatureMap::Elu1:
    for (int64_t i = 0; i < K; ++i)
      f.push_back(x[i] > 0 ? x[i] + 1 : std::exp(x[i]));
    break;
  case FeatureMap::Relu:
    for (int64_t i = 0; i < K; ++i)
      f.push_back(std::max(x[i], 0.0));
    break;
  case FeatureMap::Taylor: {
    // [1, x / d^(1/4), x_i^2 / (sqrt2 sqrt d), x_i x_j / sqrt d (i < j)]:
    // phi(x).phi(y) = 1 + s + s^2 / 2 with s = x.y / sqrt(d).
    double d = static_cast<double>(K);
    f.push_back(1.0);
    for (int64_t i = 0; i < K; ++i)
      f.push_back(x[i] / std::pow(d, 0.25));
    for (int64_t i = 0; i < K; ++i)
      f.push_back(x[i] * x[i] / (std::sqrt(2.0) * std::sqrt(d)));
    for (int64_t i = 0; i < K; ++i)
      for (int64_t j = i + 1; j < K; ++j)
        f.push_back(x[i] * x[j] / std::sqrt(d));
    break;
  }
  }
  return f;
}

Result seqmix::ref::linearAttention(const Array &q, const Array &k,
                                    const Array &v, const Array *s0,
                                    const LinearParams &p) {
  const int64_t B = q.dim(0), H = q.dim(1), T = q.dim(2), K = q.dim(3),
                V = v.dim(3);
  const int64_t Kf =
      static_cast<int64_t>(featureMap(p.map, &q.data[0], K).size());
  const int64_t cols = V + (p.normalize ? 1 : 0);
  Result r{Array({B, H, T, V}), Array({B, H, Kf, cols})};
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h) {
      // Augmenting v with a ones column makes the last state column z.
      std::vector<double> S(Kf * cols, 0.0);
      if (s0)
        for (int64_t i = 0; i < Kf * cols; ++i)
          S[i] = s0->data[s0->offset(b, h, 0, 0) + i];
      std::vector<std::vector<double>> phiK(T), phiQ(T);
      for (int64_t t = 0; t < T; ++t) {
        phiK[t] = featureMap(p.map, &k.data[k.offset(b, h, t, 0)], K);
        phiQ[t] = featureMap(p.map, &q.data[q.offset(b, h, t, 0)], K);
      }
      auto vAug = [&](int64_t t, int64_t e) {
        return e < V ? v(b, h, t, e) : 1.0;
      };
      if (!p.causal) {
        for (int64_t t = 0; t < T; ++t)
          for (int64_t i = 0; i < Kf; ++i)
            for (int64_t e = 0; e < cols; ++e)
              S[i * cols + e] += phiK[t][i] * vAug(t, e);
      }
      for (int64_t t = 0; t < T; ++t) {
        if (p.causal)
          for (int64_t i = 0; i < Kf; ++i)
            for (int64_t e = 0; e < cols; ++e)
              S[i * cols + e] += phiK[t][i] * vAug(t, e);
        std::vector<double> num(cols, 0.0);
        for (int64_t i = 0; i < Kf; ++i)
          for (int64_t e = 0; e < cols; ++e)
            num[e] += S[i * cols + e] * p.scale * phiQ[t][i];
        for (int64_t e = 0; e < V; ++e)
          r.out(b, h, t, e) = p.normalize ? num[e] / (num[V] + p.eps) : num[e];
      }
      for (int64_t i = 0; i < Kf * cols; ++i)
        r.state.data[r.state.offset(b, h, 0, 0) + i] = S[i];
    }
  return r;
}

Result seqmix::ref::gatedLinearAttention(const Array &q, const Array &k,
                                         const Array &v, const Array *g,
                                         const Array *s0, const GLAParams &p) {
  const int64_t B = q.dim(0), H = q.dim(1), T = q.dim(2), K = q.dim(3),
                V = v.dim(3);
  require(p.gate == Gate::None || p.gate == Gate::Constant || g,
          "gate operand missing");
  require(p.gate != Gate::Constant ||
              static_cast<int64_t>(p.logDecay.size()) == H,
          "one log decay per head");
  Result r{Array({B, H, T, V}), Array({B, H, K, V})};
  std::vector<double> S(K * V), alpha(K);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h) {
      for (int64_t i = 0; i < K * V; ++i)
        S[i] = s0 ? s0->data[s0->offset(b, h, 0, 0) + i] : 0.0;
      for (int64_t t = 0; t < T; ++t) {
        for (int64_t i = 0; i < K; ++i) {
          switch (p.gate) {
          case Gate::None:
            alpha[i] = 1.0;
            break;
          case Gate::Constant:
            alpha[i] = std::exp(p.logDecay[h]);
            break;
          case Gate::Scalar:
            alpha[i] = std::exp((*g)(b, h, t));
            break;
          case Gate::Vector:
            alpha[i] = std::exp((*g)(b, h, t, i));
            break;
          }
        }
        for (int64_t i = 0; i < K; ++i)
          for (int64_t e = 0; e < V; ++e)
            S[i * V + e] =
                alpha[i] * S[i * V + e] + k(b, h, t, i) * v(b, h, t, e);
        for (int64_t e = 0; e < V; ++e) {
          double o = 0;
          for (int64_t i = 0; i < K; ++i)
            o += S[i * V + e] * p.scale * q(b, h, t, i);
          r.out(b, h, t, e) = o;
        }
      }
      for (int64_t i = 0; i < K * V; ++i)
        r.state.data[r.state.offset(b, h, 0, 0) + i] = S[i];
    }
  return r;
}

Result seqmix::ref::deltaRule(const Array &q, const Array &k, const Array &v,
                              const Array &beta, const Array *g,
                              const Array *s0, const DeltaParams &p) {
  const int64_t B = q.dim(0), H = q.dim(1), T = q.dim(2), K = q.dim(3),
                V = v.dim(3);
  Result r{Array({B, H, T, V}), Array({B, H, K, V})};
  std::vector<double> S(K * V), qt(K), kt(K), u(V);
  auto load = [&](const Array &x, int64_t b, int64_t h, int64_t t,
                  std::vector<double> &dst) {
    double n2 = 0;
    for (int64_t i = 0; i < K; ++i) {
      dst[i] = x(b, h, t, i);
      n2 += dst[i] * dst[i];
    }
    if (p.l2norm)
      for (double &d : dst)
        d /= std::sqrt(n2 + p.eps);
  };
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h) {
      for (int64_t i = 0; i < K * V; ++i)
        S[i] = s0 ? s0->data[s0->offset(b, h, 0, 0) + i] : 0.0;
      for (int64_t t = 0; t < T; ++t) {
        load(q, b, h, t, qt);
        load(k, b, h, t, kt);
        double a = g ? std::exp((*g)(b, h, t)) : 1.0;
        for (double &s : S)
          s *= a;
        // u = beta (v - S^T k); S += k u^T.
        for (int64_t e = 0; e < V; ++e) {
          double sk = 0;
          for (int64_t i = 0; i < K; ++i)
            sk += S[i * V + e] * kt[i];
          u[e] = beta(b, h, t) * (v(b, h, t, e) - sk);
        }
        for (int64_t i = 0; i < K; ++i)
          for (int64_t e = 0; e < V; ++e)
            S[i * V + e] += kt[i] * u[e];
        for (int64_t e = 0; e < V; ++e) {
          double o = 0;
          for (int64_t i = 0; i < K; ++i)
            o += S[i * V + e] * p.scale * qt[i];
          r.out(b, h, t, e) = o;
        }
      }
      for (int64_t i = 0; i < K * V; ++i)
        r.state.data[r.state.offset(b, h, 0, 0) + i] = S[i];
    }
  return r;
}

Result seqmix::ref::selectiveScan(const Array &u, const Array &delta,
                                  const Array &A, const Array &Bm,
                                  const Array &Cm, const Array *D,
                                  const Array *z, const Array *deltaBias,
                                  const Array *h0, bool useSoftplus) {
  const int64_t Bn = u.dim(0), Dn = u.dim(1), T = u.dim(2), N = A.dim(1),
                G = Bm.dim(1);
  require(Dn % G == 0, "channels must be a multiple of groups");
  Result r{Array({Bn, Dn, T}), Array({Bn, Dn, N})};
  std::vector<double> h(N);
  for (int64_t b = 0; b < Bn; ++b)
    for (int64_t d = 0; d < Dn; ++d) {
      int64_t grp = d * G / Dn;
      for (int64_t n = 0; n < N; ++n)
        h[n] = h0 ? (*h0)(b, d, n) : 0.0;
      for (int64_t t = 0; t < T; ++t) {
        double x = delta(b, d, t) + (deltaBias ? (*deltaBias)(d) : 0.0);
        double dt = useSoftplus ? softplus(x) : x;
        double y = 0;
        for (int64_t n = 0; n < N; ++n) {
          h[n] = std::exp(dt * A(d, n)) * h[n] +
                 dt * Bm(b, grp, n, t) * u(b, d, t);
          y += Cm(b, grp, n, t) * h[n];
        }
        if (D)
          y += (*D)(d)*u(b, d, t);
        if (z)
          y *= silu((*z)(b, d, t));
        r.out(b, d, t) = y;
      }
      for (int64_t n = 0; n < N; ++n)
        r.state(b, d, n) = h[n];
    }
  return r;
}

Result seqmix::ref::causalConv1d(const Array &x, const Array &weight,
                                 const Array *bias, const Array *x0,
                                 bool useSilu) {
  const int64_t Bn = x.dim(0), Dn = x.dim(1), T = x.dim(2), W = weight.dim(1);
  require(W >= 1, "the width must be >= 1");
  Result r{Array({Bn, Dn, T}), Array({Bn, Dn, W - 1})};
  std::vector<double> ext(static_cast<size_t>(T + W - 1));
  for (int64_t b = 0; b < Bn; ++b)
    for (int64_t d = 0; d < Dn; ++d) {
      // x~ = [state, x], the state zeros without one.
      for (int64_t i = 0; i < W - 1; ++i)
        ext[i] = x0 ? (*x0)(b, d, i) : 0.0;
      for (int64_t t = 0; t < T; ++t)
        ext[W - 1 + t] = x(b, d, t);
      for (int64_t t = 0; t < T; ++t) {
        double y = bias ? (*bias)(d) : 0.0;
        for (int64_t k = 0; k < W; ++k)
          y += weight(d, k) * ext[t + k];
        r.out(b, d, t) = useSilu ? silu(y) : y;
      }
      for (int64_t i = 0; i < W - 1; ++i)
        r.state(b, d, i) = ext[T + i];
    }
  return r;
}

std::pair<std::complex<double>, std::complex<double>>
seqmix::ref::discretize(std::complex<double> A, std::complex<double> B,
                        double dt, Discretization d) {
  using C = std::complex<double>;
  C z = dt * A;
  switch (d) {
  case Discretization::ZOH: {
    // Bbar = dt * phi1(dt A) * B with phi1(z) = expm1(z) / z, series near 0.
    C phi1 = std::abs(z) < 1e-4 ? 1.0 + z / 2.0 + z * z / 6.0
                                : (std::exp(z) - 1.0) / z;
    return {std::exp(z), dt * phi1 * B};
  }
  case Discretization::Bilinear:
    return {(1.0 + z / 2.0) / (1.0 - z / 2.0), dt * B / (1.0 - z / 2.0)};
  case Discretization::EulerB:
    return {std::exp(z), dt * B};
  }
  return {C(0), C(0)};
}

LTIResult seqmix::ref::ltiScan(const Array &u, const CArray &A,
                               const CArray &Bc, const CArray &Cc,
                               const Array &logDt, const Array *D,
                               const CArray *x0, Discretization disc,
                               bool complexMode) {
  const int64_t Bn = u.dim(0), H = u.dim(1), T = u.dim(2), N = A.dim(1);
  LTIResult r{Array({Bn, H, T}), CArray({Bn, H, N})};
  const double f = complexMode ? 2.0 : 1.0;
  std::vector<std::complex<double>> x(N), Ab(N), Bb(N);
  for (int64_t h = 0; h < H; ++h) {
    double dt = std::exp(logDt(h));
    for (int64_t n = 0; n < N; ++n)
      std::tie(Ab[n], Bb[n]) = discretize(A(h, n), Bc(h, n), dt, disc);
    for (int64_t b = 0; b < Bn; ++b) {
      for (int64_t n = 0; n < N; ++n)
        x[n] = x0 ? (*x0)(b, h, n) : 0.0;
      for (int64_t t = 0; t < T; ++t) {
        std::complex<double> y = 0;
        for (int64_t n = 0; n < N; ++n) {
          x[n] = Ab[n] * x[n] + Bb[n] * u(b, h, t);
          y += Cc(h, n) * x[n];
        }
        r.out(b, h, t) = f * y.real() + (D ? (*D)(h)*u(b, h, t) : 0.0);
      }
      for (int64_t n = 0; n < N; ++n)
        r.state(b, h, n) = x[n];
    }
  }
  return r;
}
