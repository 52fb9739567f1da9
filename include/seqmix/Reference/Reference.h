//===- Reference.h - double-precision oracle for every family ---*- C++ -*-===//
//
// The independent reference of FORMS.md 7.1: each family computed by its
// recurrent definition (softmax attention by its naive definition) in double
// precision, token by token, with no chunking and no factorization. It shares
// no code with the compiler and depends on nothing but the C++ library.
//
//===----------------------------------------------------------------------===//
#ifndef SEQMIX_REFERENCE_REFERENCE_H
#define SEQMIX_REFERENCE_REFERENCE_H

#include <complex>
#include <cstdint>
#include <optional>
#include <vector>

namespace seqmix::ref {

/// A dense row-major array of doubles (or complex doubles).
template <typename T> struct BasicArray {
  std::vector<int64_t> shape;
  std::vector<T> data;

  BasicArray() = default;
  explicit BasicArray(std::vector<int64_t> s) : shape(std::move(s)) {
    int64_t n = 1;
    for (int64_t d : shape)
      n *= d;
    data.assign(static_cast<size_t>(n), T());
  }
  BasicArray(std::vector<int64_t> s, std::vector<T> values)
      : shape(std::move(s)), data(std::move(values)) {}

  int64_t dim(size_t i) const { return shape.at(i); }
  int64_t size() const { return static_cast<int64_t>(data.size()); }
  template <typename... I> int64_t offset(I... idx) const {
    int64_t is[] = {static_cast<int64_t>(idx)...};
    int64_t off = 0;
    for (size_t d = 0; d < sizeof...(I); ++d)
      off = off * shape[d] + is[d];
    return off;
  }
  template <typename... I> T &operator()(I... idx) {
    return data[offset(idx...)];
  }
  template <typename... I> const T &operator()(I... idx) const {
    return data[offset(idx...)];
  }
};
using Array = BasicArray<double>;
using CArray = BasicArray<std::complex<double>>;

/// Output and (when the family has one) final state.
struct Result {
  Array out;
  Array state;
};

// Stable scalar functions (FORMS.md 0.5(a)).
double softplus(double x);
double logsigmoid(double x);
double silu(double x);

/// Softmax attention. q [B,H,Tq,K], k [B,Hkv,Tk,K], v [B,Hkv,Tk,V]. Queries
/// are bottom-right aligned; rows with no visible key give 0. When `lse` is
/// given it receives [B,H,Tq]: m + log l of each row (-inf for a row with no
/// visible key).
struct SoftmaxParams {
  double scale = 1.0;
  bool causal = true;
  std::optional<int64_t> window;
};
Array softmaxAttention(const Array &q, const Array &k, const Array &v,
                       const SoftmaxParams &p, Array *lse = nullptr);

enum class FeatureMap { Identity, Elu1, Relu, Taylor };
/// phi(x) for one vector x of length K (FORMS.md 2.2).
std::vector<double> featureMap(FeatureMap map, const double *x, int64_t K);

/// Linear attention. State [B,H,K',V] or, with normalize, [B,H,K',V+1] whose
/// last column is the normalizer z.
struct LinearParams {
  FeatureMap map = FeatureMap::Identity;
  double scale = 1.0;
  bool normalize = false;
  double eps = 1e-6;
  bool causal = true;
};
Result linearAttention(const Array &q, const Array &k, const Array &v,
                       const Array *initialState, const LinearParams &p);

enum class Gate { None, Constant, Scalar, Vector };
/// Gated linear attention; g is [B,H,T] (scalar) or [B,H,T,K] (vector), in
/// log space; logDecay holds one log gate per head for Gate::Constant.
struct GLAParams {
  Gate gate = Gate::None;
  double scale = 1.0;
  std::vector<double> logDecay;
};
Result gatedLinearAttention(const Array &q, const Array &k, const Array &v,
                            const Array *g, const Array *initialState,
                            const GLAParams &p);

/// (Gated) delta rule, key-major state [B,H,K,V]; g [B,H,T] optional.
struct DeltaParams {
  double scale = 1.0;
  bool l2norm = true;
  double eps = 1e-6;
};
Result deltaRule(const Array &q, const Array &k, const Array &v,
                 const Array &beta, const Array *g, const Array *initialState,
                 const DeltaParams &p);

/// Mamba-1 selective scan: u, delta [B,D,T]; A [D,N]; B, C [B,G,N,T];
/// D, deltaBias [D]; z [B,D,T]; state [B,D,N].
Result selectiveScan(const Array &u, const Array &delta, const Array &A,
                     const Array &B, const Array &C, const Array *D,
                     const Array *z, const Array *deltaBias,
                     const Array *initialState, bool softplus);

enum class Discretization { ZOH, Bilinear, EulerB };
/// LTI diagonal SSM: u [B,H,T]; A, B, C [H,N'] (complex; real mode uses zero
/// imaginary parts); logDt, D [H]; state [B,H,N'] complex. `complexMode`
/// doubles the real part of the read-out (conjugate pairs).
struct LTIResult {
  Array out;
  CArray state;
};
LTIResult ltiScan(const Array &u, const CArray &A, const CArray &B,
                  const CArray &C, const Array &logDt, const Array *D,
                  const CArray *initialState, Discretization disc,
                  bool complexMode);

/// Depthwise causal convolution: x [B,D,T]; weight [D,W]; bias [D]; state
/// [B,D,W-1] (the inputs before x). out[t] = act(sum_k w[k] x~[t + k] + bias)
/// over x~ = [state, x]; the final state is the last W-1 entries of x~.
Result causalConv1d(const Array &x, const Array &weight, const Array *bias,
                    const Array *initialState, bool silu);

/// Discretized (Abar, Bbar) of one mode (FORMS.md 5.1).
std::pair<std::complex<double>, std::complex<double>>
discretize(std::complex<double> A, std::complex<double> B, double dt,
           Discretization d);

} // namespace seqmix::ref

#endif // SEQMIX_REFERENCE_REFERENCE_H
