//===- ReferenceTest.cpp - the oracle against FORMS.md 7.7 known answers --===//
#include "seqmix/Reference/Reference.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

using namespace seqmix::ref;

namespace {
/// [1, 1, T, d] array from per-token rows.
Array seq(std::vector<std::vector<double>> rows) {
  int64_t T = rows.size(), d = rows[0].size();
  Array a({1, 1, T, d});
  for (int64_t t = 0; t < T; ++t)
    for (int64_t i = 0; i < d; ++i)
      a(0, 0, t, i) = rows[t][i];
  return a;
}
Array scalars(std::vector<double> xs) {
  std::vector<std::vector<double>> rows;
  for (double x : xs)
    rows.push_back({x});
  return seq(rows);
}
Array perToken(std::vector<double> xs) { // [1, 1, T]
  Array a({1, 1, static_cast<int64_t>(xs.size())});
  a.data = xs;
  return a;
}
void expectOut(const Array &o, std::vector<double> expect, double tol = 1e-12) {
  ASSERT_EQ(o.size(), static_cast<int64_t>(expect.size()));
  for (size_t i = 0; i < expect.size(); ++i)
    EXPECT_NEAR(o.data[i], expect[i], tol) << "at index " << i;
}
Array randn(std::vector<int64_t> shape, std::mt19937_64 &rng, double s = 1.0) {
  Array a(shape);
  std::normal_distribution<double> n(0, 1);
  for (double &x : a.data)
    x = s * n(rng);
  return a;
}
} // namespace

TEST(Reference, KAT_A1_SoftmaxCausal) {
  Array o = softmaxAttention(scalars({0, 1}), scalars({0, std::log(3.0)}),
                             scalars({4, 8}), {1.0, true, std::nullopt});
  expectOut(o, {4, 7});
}

TEST(Reference, KAT_A2_SoftmaxLargeLogits) {
  Array o =
      softmaxAttention(scalars({0, 1}), scalars({1000, 1000 + std::log(3.0)}),
                       scalars({4, 8}), {1.0, true, std::nullopt});
  expectOut(o, {4, 7}, 1e-9);
}

TEST(Reference, KAT_A3_WindowOne) {
  Array o = softmaxAttention(scalars({0.3, -1, 2, 5}), scalars({1, 2, -3, 4}),
                             scalars({1, 2, 3, 4}), {1.0, true, 1});
  expectOut(o, {1, 2, 3, 4});
}

TEST(Reference, KAT_A4_CausalMean) {
  Array q = scalars({0, 0, 0}), v = scalars({2, 4, 9});
  expectOut(softmaxAttention(q, q, v, {1.0, true, std::nullopt}), {2, 3, 5});
  expectOut(softmaxAttention(q, q, v, {1.0, false, std::nullopt}), {5, 5, 5});
}

TEST(Reference, SoftmaxFullyMaskedRowIsZero) {
  // Tq > Tk with causal: the first query sees no key.
  Array o = softmaxAttention(scalars({1, 1, 1}), scalars({1, 1}),
                             scalars({3, 5}), {1.0, true, std::nullopt});
  EXPECT_EQ(o.data[0], 0.0);
  EXPECT_FALSE(std::isnan(o.data[1]));
}

TEST(Reference, SoftmaxLogSumExp) {
  // KAT-A1: row 0 sees one key of score 0, row 1 scores [0, ln 3].
  Array lse;
  softmaxAttention(scalars({0, 1}), scalars({0, std::log(3.0)}),
                   scalars({4, 8}), {1.0, true, std::nullopt}, &lse);
  ASSERT_EQ(lse.shape, (std::vector<int64_t>{1, 1, 2}));
  EXPECT_NEAR(lse.data[0], 0.0, 1e-12);
  EXPECT_NEAR(lse.data[1], std::log(4.0), 1e-12);
  // Logits near 1000 shift the lse by 1000; a row with no visible key has
  // lse -inf.
  softmaxAttention(scalars({0, 1}), scalars({1000, 1000 + std::log(3.0)}),
                   scalars({4, 8}), {1.0, true, std::nullopt}, &lse);
  EXPECT_NEAR(lse.data[1], 1000 + std::log(4.0), 1e-9);
  softmaxAttention(scalars({1, 1, 1}), scalars({1, 1}), scalars({3, 5}),
                   {1.0, true, std::nullopt}, &lse);
  EXPECT_EQ(lse.data[0], -std::numeric_limits<double>::infinity());
  EXPECT_NEAR(lse.data[2], 1 + std::log(2.0), 1e-12);
}

TEST(Reference, KAT_L1_LinearIdentity) {
  Array x = scalars({1, 1, 1, 1});
  expectOut(linearAttention(x, x, x, nullptr,
                            {FeatureMap::Identity, 1.0, false, 0, true})
                .out,
            {1, 2, 3, 4});
}

TEST(Reference, KAT_L2_LinearNormalized) {
  Array x = scalars({1, 1, 1, 1});
  Result r = linearAttention(x, x, scalars({1, 2, 3, 4}), nullptr,
                             {FeatureMap::Elu1, 1.0, true, 0.0, true});
  // elu1(1) = 2 for both q and k: the kernel is constant, o = running mean.
  expectOut(r.out, {1, 1.5, 2, 2.5});
}

TEST(Reference, KAT_L3_TaylorNormalized) {
  Array z = seq({{0, 0, 0, 0}, {0, 0, 0, 0}, {0, 0, 0, 0}});
  Array v = scalars({2, 4, 9});
  Result r = linearAttention(z, z, v, nullptr,
                             {FeatureMap::Taylor, 1.0, true, 0.0, true});
  expectOut(r.out, {2, 3, 5});
}

TEST(Reference, KAT_L4_Elu1) {
  double x[] = {-std::log(2.0), 0, 1};
  std::vector<double> f = featureMap(FeatureMap::Elu1, x, 3);
  EXPECT_NEAR(f[0], 0.5, 1e-15);
  EXPECT_NEAR(f[1], 1.0, 1e-15);
  EXPECT_NEAR(f[2], 2.0, 1e-15);
}

TEST(Reference, TaylorKernelIsSecondOrderExp) {
  std::mt19937_64 rng(3);
  std::normal_distribution<double> n(0, 1);
  std::vector<double> x(16), y(16);
  for (int i = 0; i < 16; ++i) {
    x[i] = n(rng);
    y[i] = n(rng);
  }
  auto fx = featureMap(FeatureMap::Taylor, x.data(), 16);
  auto fy = featureMap(FeatureMap::Taylor, y.data(), 16);
  ASSERT_EQ(fx.size(), 1u + 16 + 16 * 17 / 2);
  double dot = 0, s = 0;
  for (size_t i = 0; i < fx.size(); ++i)
    dot += fx[i] * fy[i];
  for (int i = 0; i < 16; ++i)
    s += x[i] * y[i];
  s /= 4.0;
  EXPECT_NEAR(dot, 1 + s + s * s / 2, 1e-12);
}

TEST(Reference, KAT_G1_ConstantGate) {
  Array x = scalars({1, 1, 1, 1});
  Result r = gatedLinearAttention(x, x, x, nullptr, nullptr,
                                  {Gate::Constant, 1.0, {std::log(0.5)}});
  expectOut(r.out, {1, 1.5, 1.75, 1.875});
}

TEST(Reference, KAT_G2_VectorGate) {
  Array q = seq({{1, 1}, {1, 1}, {1, 1}, {1, 1}});
  Array g = seq({{0, std::log(0.5)},
                 {0, std::log(0.5)},
                 {0, std::log(0.5)},
                 {0, std::log(0.5)}});
  Result r = gatedLinearAttention(q, q, scalars({1, 1, 1, 1}), &g, nullptr,
                                  {Gate::Vector, 1.0, {}});
  expectOut(r.out, {2, 3.5, 4.75, 5.875});
}

TEST(Reference, KAT_G3_Memoryless) {
  Array x = scalars({1, 1});
  Array g = perToken({-50, -50});
  Result r = gatedLinearAttention(x, x, scalars({3, 5}), &g, nullptr,
                                  {Gate::Scalar, 1.0, {}});
  expectOut(r.out, {3, 5}, 1e-12);
}

TEST(Reference, GateNoneEqualsLinearIdentity) {
  std::mt19937_64 rng(1);
  Array q = randn({2, 3, 9, 4}, rng), k = randn({2, 3, 9, 4}, rng),
        v = randn({2, 3, 9, 5}, rng);
  Array s0 = randn({2, 3, 4, 5}, rng);
  Result a = gatedLinearAttention(q, k, v, nullptr, &s0, {Gate::None, 0.5, {}});
  Result b = linearAttention(q, k, v, &s0,
                             {FeatureMap::Identity, 0.5, false, 0, true});
  for (int64_t i = 0; i < a.out.size(); ++i)
    ASSERT_NEAR(a.out.data[i], b.out.data[i], 1e-12);
  for (int64_t i = 0; i < a.state.size(); ++i)
    ASSERT_NEAR(a.state.data[i], b.state.data[i], 1e-12);
}

TEST(Reference, GLAVectorMatchesThreeIndexForm) {
  // Second oracle (FORMS.md 3.1 unrolled form): o_t = sum_i sum_k q_tk k_ik
  // exp(b_tk - b_ik) v_i with b the inclusive cumulative log gate.
  std::mt19937_64 rng(2);
  const int64_t T = 11, K = 3, V = 2;
  Array q = randn({1, 1, T, K}, rng), k = randn({1, 1, T, K}, rng),
        v = randn({1, 1, T, V}, rng);
  Array g({1, 1, T, K});
  std::uniform_real_distribution<double> u(-1.0, 0.0);
  for (double &x : g.data)
    x = u(rng);
  Result r =
      gatedLinearAttention(q, k, v, &g, nullptr, {Gate::Vector, 0.7, {}});
  std::vector<std::vector<double>> b(T, std::vector<double>(K, 0));
  for (int64_t t = 0; t < T; ++t)
    for (int64_t c = 0; c < K; ++c)
      b[t][c] = (t ? b[t - 1][c] : 0) + g(0, 0, t, c);
  for (int64_t t = 0; t < T; ++t)
    for (int64_t e = 0; e < V; ++e) {
      double o = 0;
      for (int64_t i = 0; i <= t; ++i)
        for (int64_t c = 0; c < K; ++c)
          o += 0.7 * q(0, 0, t, c) * k(0, 0, i, c) *
               std::exp(b[t][c] - b[i][c]) * v(0, 0, i, e);
      EXPECT_NEAR(r.out(0, 0, t, e), o, 1e-12);
    }
}

TEST(Reference, StateSplitting) {
  std::mt19937_64 rng(4);
  const int64_t T = 10, T1 = 4;
  Array q = randn({1, 2, T, 3}, rng), k = randn({1, 2, T, 3}, rng),
        v = randn({1, 2, T, 2}, rng);
  Array g({1, 2, T});
  for (double &x : g.data)
    x = logsigmoid(std::normal_distribution<double>(2, 1)(rng));
  Result whole =
      gatedLinearAttention(q, k, v, &g, nullptr, {Gate::Scalar, 1.0, {}});
  auto part = [&](const Array &a, int64_t from, int64_t to) {
    std::vector<int64_t> s = a.shape;
    s[2] = to - from;
    Array p(s);
    int64_t inner = a.shape.size() > 3 ? a.shape[3] : 1;
    for (int64_t h = 0; h < a.shape[1]; ++h)
      for (int64_t t = from; t < to; ++t)
        for (int64_t i = 0; i < inner; ++i)
          p.data[(h * (to - from) + (t - from)) * inner + i] =
              a.data[(h * a.shape[2] + t) * inner + i];
    return p;
  };
  Array g1 = part(g, 0, T1), g2 = part(g, T1, T);
  Result first =
      gatedLinearAttention(part(q, 0, T1), part(k, 0, T1), part(v, 0, T1), &g1,
                           nullptr, {Gate::Scalar, 1.0, {}});
  Result second =
      gatedLinearAttention(part(q, T1, T), part(k, T1, T), part(v, T1, T), &g2,
                           &first.state, {Gate::Scalar, 1.0, {}});
  for (int64_t i = 0; i < whole.state.size(); ++i)
    EXPECT_NEAR(whole.state.data[i], second.state.data[i], 1e-12);
  Array tail = part(whole.out, T1, T);
  for (int64_t i = 0; i < tail.size(); ++i)
    EXPECT_NEAR(tail.data[i], second.out.data[i], 1e-12);
}

TEST(Reference, KAT_D1_DeltaOverwrite) {
  Array k = seq({{1, 0}, {0, 1}, {1, 0}});
  Array beta = perToken({1, 1, 1});
  Result r = deltaRule(k, k, scalars({3, 5, 7}), beta, nullptr, nullptr,
                       {1.0, false, 1e-6});
  expectOut(r.state, {7, 5});
  expectOut(r.out, {3, 5, 7});
}

TEST(Reference, KAT_D2_DeltaEMA) {
  Array x = scalars({1, 1, 1});
  Array beta = perToken({0.5, 0.5, 0.5});
  Result r = deltaRule(x, x, scalars({2, 4, 8}), beta, nullptr, nullptr,
                       {1.0, false, 1e-6});
  expectOut(r.out, {1, 2.5, 5.25});
}

TEST(Reference, KAT_D3_GatedDelta) {
  Array x = scalars({1, 1, 1});
  Array beta = perToken({0.5, 0.5, 0.5});
  Array g = perToken({std::log(0.5), std::log(0.5), std::log(0.5)});
  Result r = deltaRule(x, x, scalars({2, 4, 8}), beta, &g, nullptr,
                       {1.0, false, 1e-6});
  expectOut(r.out, {1, 2.25, 4.5625});
}

TEST(Reference, KAT_D4_DeltaWithInitialState) {
  Array x = scalars({1, 1});
  Array beta = perToken({0.5, 0.5});
  Array s0({1, 1, 1, 1});
  s0.data = {4};
  Result r =
      deltaRule(x, x, scalars({2, 4}), beta, nullptr, &s0, {1.0, false, 1e-6});
  expectOut(r.out, {3, 3.5});
  expectOut(r.state, {3.5});
}

TEST(Reference, DeltaBetaZeroKeepsState) {
  std::mt19937_64 rng(5);
  Array q = randn({1, 1, 5, 3}, rng), k = randn({1, 1, 5, 3}, rng),
        v = randn({1, 1, 5, 2}, rng);
  Array s0 = randn({1, 1, 3, 2}, rng);
  Array beta({1, 1, 5});
  Result r = deltaRule(q, k, v, beta, nullptr, &s0, {1.0, true, 1e-6});
  for (int64_t i = 0; i < s0.size(); ++i)
    EXPECT_NEAR(r.state.data[i], s0.data[i], 1e-15);
}

TEST(Reference, KAT_S1_LTIKernel) {
  // Abar = 0.5, Bbar = 1 through Euler-B with dt = 1: A = ln 0.5, B = 1.
  Array u({1, 1, 4});
  u.data = {1, 0, 0, 0};
  CArray A({1, 1}), B({1, 1}), C({1, 1});
  A.data = {std::log(0.5)};
  B.data = {1.0};
  C.data = {1.0};
  Array logDt({1});
  LTIResult impulse = ltiScan(u, A, B, C, logDt, nullptr, nullptr,
                              Discretization::EulerB, false);
  expectOut(impulse.out, {1, 0.5, 0.25, 0.125});
  u.data = {1, 1, 1, 1};
  LTIResult step = ltiScan(u, A, B, C, logDt, nullptr, nullptr,
                           Discretization::EulerB, false);
  expectOut(step.out, {1, 1.5, 1.75, 1.875});
}

TEST(Reference, CausalConv1dByHand) {
  // W = 3, w = [1, 2, 3], bias 0.5, state [10, 20]: x~ = [10, 20, 1, 2],
  // out[0] = 10 + 40 + 3 + 0.5, out[1] = 20 + 2 + 6 + 0.5, final [1, 2].
  Array x({1, 1, 2}), w({1, 3}), bias({1}), s0({1, 1, 2});
  x.data = {1, 2};
  w.data = {1, 2, 3};
  bias.data = {0.5};
  s0.data = {10, 20};
  Result r = causalConv1d(x, w, &bias, &s0, false);
  expectOut(r.out, {53.5, 28.5});
  EXPECT_EQ(r.state.data, (std::vector<double>{1, 2}));
  // One token (T < W - 1) with SiLU: the state's tail and the token remain.
  Array one({1, 1, 1});
  one.data = {4};
  r = causalConv1d(one, w, nullptr, &s0, true);
  double y = 1 * 10 + 2 * 20 + 3 * 4;
  expectOut(r.out, {y / (1 + std::exp(-y))});
  EXPECT_EQ(r.state.data, (std::vector<double>{20, 4}));
  // No state: zeros before x.
  r = causalConv1d(x, w, nullptr, nullptr, false);
  expectOut(r.out, {3, 2 + 6});
}

TEST(Reference, KAT_S2_ZOH) {
  auto [Ab, Bb] = discretize(-1.0, 1.0, std::log(2.0), Discretization::ZOH);
  EXPECT_NEAR(Ab.real(), 0.5, 1e-15);
  EXPECT_NEAR(Bb.real(), 0.5, 1e-15);
}

TEST(Reference, KAT_M1_SelectiveScan) {
  Array u({1, 1, 4}), delta({1, 1, 4}), A({1, 1}), B({1, 1, 1, 4}),
      C({1, 1, 1, 4});
  u.data = {1, 1, 1, 1};
  A.data = {-1};
  B.data = C.data = {1, 1, 1, 1};
  Result r = selectiveScan(u, delta, A, B, C, nullptr, nullptr, nullptr,
                           nullptr, true);
  const double ln2 = std::log(2.0);
  expectOut(r.out, {ln2, 1.5 * ln2, 1.75 * ln2, 1.875 * ln2}, 1e-12);
  Array z({1, 1, 4});
  Result gated =
      selectiveScan(u, delta, A, B, C, nullptr, &z, nullptr, nullptr, true);
  expectOut(gated.out, {0, 0, 0, 0});
}

TEST(Reference, KAT_M2_SSDAsScalarGLA) {
  // SSD with P = N = 1: Delta = 1, A = -ln 2, B = C = x = 1 -> q = k = 1,
  // v = Delta x = 1, g = Delta A.
  Array x = scalars({1, 1, 1, 1});
  Array g = perToken(
      {-std::log(2.0), -std::log(2.0), -std::log(2.0), -std::log(2.0)});
  Result r =
      gatedLinearAttention(x, x, x, &g, nullptr, {Gate::Scalar, 1.0, {}});
  expectOut(r.out, {1, 1.5, 1.75, 1.875});
}

TEST(Reference, StableScalarFunctions) {
  EXPECT_NEAR(softplus(0), std::log(2.0), 1e-15);
  EXPECT_EQ(softplus(30), 30);
  EXPECT_TRUE(std::isfinite(logsigmoid(-1000)));
  EXPECT_NEAR(logsigmoid(-1000), -1000, 1e-12);
  EXPECT_NEAR(silu(0), 0, 1e-15);
}

TEST(Reference, KAT_H3_RecallThroughShiftAndDiagonalSSM) {
  // H3 with d_h = 1: o = q * SSM_diag(SSM_shift(k) * v). Shift taps [0, 1]
  // delay k by one token; the diagonal SSM with Abar = Bbar = C = 1 (real
  // mode, Euler-B with A = 0, dt = 1) is a running sum.
  std::vector<double> k = {1, 0, 0, 0}, v = {0, 5, 0, 0}, q = {1, 1, 1, 1};
  Array u({1, 1, 4});
  for (int t = 0; t < 4; ++t)
    u(0, 0, t) = (t ? k[t - 1] : 0.0) * v[t];
  CArray A({1, 1}), B({1, 1}), C({1, 1});
  B.data = {1.0};
  C.data = {1.0};
  Array logDt({1});
  LTIResult y = ltiScan(u, A, B, C, logDt, nullptr, nullptr,
                        Discretization::EulerB, false);
  for (int t = 0; t < 4; ++t)
    y.out(0, 0, t) *= q[t];
  expectOut(y.out, {0, 5, 5, 5});
}

TEST(Reference, KAT_SC_ScanOperator) {
  // h_t = 0.5 h_{t-1} + 1 through the selective scan with D = N = 1:
  // softplus off, delta = 1, A = ln 0.5, B = C = u = 1.
  Array u({1, 1, 4}), delta({1, 1, 4}), A({1, 1}), B({1, 1, 1, 4}),
      C({1, 1, 1, 4});
  u.data = delta.data = B.data = C.data = {1, 1, 1, 1};
  A.data = {std::log(0.5)};
  Result r = selectiveScan(u, delta, A, B, C, nullptr, nullptr, nullptr,
                           nullptr, false);
  expectOut(r.out, {1, 1.5, 1.75, 1.875});
}
