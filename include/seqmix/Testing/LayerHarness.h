//===- LayerHarness.h - inputs, reference outputs, errors ------*- C++ -*-===//
//
// What `seqmixc run`, the bench tool and the integration tests share: the
// well-conditioned input generators of FORMS.md 7.3 for each family, the
// double-precision reference evaluated on the same (f32-rounded) inputs, and
// the error metrics of FORMS.md 7.2. No MLIR here.
//
//===----------------------------------------------------------------------===//
#ifndef SEQMIX_TESTING_LAYERHARNESS_H
#define SEQMIX_TESTING_LAYERHARNESS_H

#include "seqmix-c/Runtime.h"
#include "seqmix/Analysis/FormCostModel.h"
#include "seqmix/Reference/Reference.h"
#include "seqmix/Spec/LayerSpec.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace seqmix {

/// A concrete host tensor. `data` holds its values as f32 (interleaved for
/// complex<f32>); a bf16 or f16 tensor's values are exactly representable
/// in its type, and `narrow` is its buffer in that type, which tensorArgs
/// fills from `data` and readBack copies back after a call.
struct HostTensor {
  TensorDesc desc;
  std::vector<int64_t> shape;
  std::vector<float> data;
  std::vector<uint16_t> narrow;
  int64_t elements() const;
};

/// `x` rounded to the nearest value of `dtype` ("f32", "bf16" or "f16"; ties
/// to even), as f32; and that value's bits in the narrow type.
float roundToDtype(float x, const std::string &dtype);
uint16_t narrowBits(float x, const std::string &dtype);
float widenBits(uint16_t bits, const std::string &dtype);

/// Concrete shapes of the spec's tensors for batch `B` and sequence `T`;
/// a dynamic kv_len (softmax decode) is `Tk`, or `T` when Tk < 0.
std::vector<int64_t> concreteShape(const TensorDesc &d, int64_t B, int64_t T,
                                   int64_t Tk = -1);

/// The tokens [t0, t1) of `t` along its seq_len dimension; a tensor without
/// one (weights, states) is returned whole.
HostTensor sliceSeqLen(const HostTensor &t, int64_t t0, int64_t t1);

/// Writes `part` into `whole` at tokens [t0, t0 + length of part) along the
/// seq_len dimension; a tensor without one is copied whole.
void insertSeqLen(HostTensor &whole, const HostTensor &part, int64_t t0);

/// Which log gates to generate (gated families; the selective scan's delta,
/// FORMS.md 7.6: strong delta ~ 4, reset delta_raw 1e3 and -30).
enum class GateRegime {
  Default, ///< FORMS.md 7.3: moderate scalar gates, weak (GLA-like) vector
           ///< gates
  Strong,  ///< logsigmoid(N(0, 1)): alpha about 0.5 on average
  Reset,   ///< default gates with a hard reset (g = -1e4) every 37 tokens
};

/// Parses "default", "strong" or "reset".
std::optional<GateRegime> parseGateRegime(llvm::StringRef name);

/// Which keys to generate (the delta rule, FORMS.md 7.6).
enum class KeyRegime {
  Default,  ///< FORMS.md 7.3
  Colinear, ///< runs of 4 equal keys, and beta = 2 (the eigenvalue -1 of
            ///< I - beta k k^T with normalized keys) on every third token
};

/// Parses "default" or "colinear".
std::optional<KeyRegime> parseKeyRegime(llvm::StringRef name);

/// Seeded inputs for `spec` (FORMS.md 7.3 generators; 7.6 for the stressed
/// gate and key regimes).
std::vector<HostTensor> makeInputs(const LayerSpec &spec, int64_t B, int64_t T,
                                   uint64_t seed,
                                   GateRegime gates = GateRegime::Default,
                                   int64_t Tk = -1,
                                   KeyRegime keys = KeyRegime::Default);

/// The runtime's view of host tensors: every input, then every output, in
/// the layer's calling order. f32 tensors are passed as they are; bf16 and
/// f16 ones through their `narrow` buffers, filled from `data` here.
std::vector<seqmix_tensor> tensorArgs(std::vector<HostTensor> &inputs,
                                      std::vector<HostTensor> &outputs);

/// After a call: the values of each bf16/f16 output's `narrow` buffer into
/// its `data`.
void readBack(std::vector<HostTensor> &outputs);

/// Zero-filled outputs of the right shapes.
std::vector<HostTensor> makeOutputs(const LayerSpec &spec, int64_t B,
                                    int64_t T);

/// The reference outputs (out, then lse or final state when the spec has one)
/// as flat doubles in the same layout as the outputs (complex interleaved).
std::vector<std::vector<double>>
referenceOutputs(const LayerSpec &spec, const std::vector<HostTensor> &inputs);

struct ErrorStats {
  double maxAbs = 0, maxRel = 0, relRms = 0;
  bool finite = true;
};

/// FORMS.md 7.2: rel_rms = |x - ref|_2 / (|ref|_2 + 1e-30),
/// max_rel = max|x - ref| / (max|ref| + 1e-30). An infinite reference value
/// must be matched exactly (else `finite` is false) and is left out of the
/// norms.
ErrorStats compareToReference(const std::vector<float> &got,
                              const std::vector<double> &ref);

/// FORMS.md 7.2 tolerances for fp32 everywhere.
struct Tolerance {
  double relRms = 1e-5, maxRel = 1e-4;
};
/// FORMS.md 7.2's tolerances for a spec's dtype: fp32 everywhere; bf16
/// inputs with fp32 accumulation and state against the reference on the
/// same rounded inputs (5e-3, 1e-2); f16 (1e-3, 2e-3).
Tolerance toleranceFor(const std::string &dtype);
bool withinTolerance(const ErrorStats &e, const Tolerance &tol);

/// The cost model's view of one call of `spec` on batch `B`, `T` tokens
/// (and `Tk` keys for softmax decode, -1: T), for FLOP and byte counts as
/// FORMS.md 6.1 gives them; nullopt for a family the model does not count.
std::optional<Problem> problemForSpec(const LayerSpec &spec, int64_t B,
                                      int64_t T, int64_t Tk = -1);

/// A form as layer metadata and remarks name it: "parallel", "recurrent" or
/// "chunked(chunk N)"; nullopt for anything else.
std::optional<std::pair<Form, int64_t>> parseFormName(llvm::StringRef name);

/// The form that a layer's "forms" metadata (one entry per op, ", "
/// separated; an entry of a per-call choice ends in "if seq_len < 37",
/// "if 37 <= seq_len < 300" or "if seq_len >= 300") uses at sequence length
/// `T`; a line without conditions is returned as it is.
std::string formForSeqLen(llvm::StringRef forms, int64_t T);

/// FLOPs (matmul + vector) of `spec` computed in the form named `form` (as
/// parseFormName reads it); nullopt when the model does not count it.
std::optional<double> formFlops(const LayerSpec &spec, llvm::StringRef form,
                                int64_t B, int64_t T, int64_t Tk = -1);

} // namespace seqmix

#endif // SEQMIX_TESTING_LAYERHARNESS_H
