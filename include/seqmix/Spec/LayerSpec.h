//===- LayerSpec.h - JSON layer spec v1 ---------------------------*- C++
//-*-===//
//
// The versioned JSON description of one sequence-mixing layer (docs/spec.md).
// Parsing needs only LLVMSupport: the spec is also read by tools that do not
// link MLIR (the input generator, the runtime's callers).
//
//===----------------------------------------------------------------------===//
#ifndef SEQMIX_SPEC_LAYERSPEC_H
#define SEQMIX_SPEC_LAYERSPEC_H

#include "seqmix/Spec/Mixer.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace seqmix {

/// Spec spelling of a mixer ("gated_linear_attention", ...).
const char *mixerName(Mixer m);

/// One tensor of the layer's calling convention.
struct TensorDesc {
  std::string name;
  /// Static sizes, or -1 for a dynamic dimension.
  std::vector<int64_t> shape;
  /// Name of every dimension ("batch", "heads", "seq_len", "key_dim", ...).
  /// Dimensions with the same name must have the same size at run time.
  std::vector<std::string> dims;
  bool complex = false; ///< complex<f32> instead of f32 (LTI complex mode)
  /// The element type of a real tensor: "f32", or the spec's dtype ("bf16",
  /// "f16") for the activations and outputs (FORMS.md 0.3; gates, states
  /// and the scans' A stay f32).
  std::string dtype = "f32";
  /// Stored in bf16 or f16 (never a complex tensor).
  bool isNarrow() const { return dtype != "f32"; }
  /// Bytes of one element.
  int64_t elementBytes() const { return complex ? 8 : isNarrow() ? 2 : 4; }
};

/// A 1-based line and column in the spec text.
struct TextPosition {
  unsigned line = 1, column = 1;
};

/// The deepest nesting of arrays and objects a spec may have (a spec needs
/// three levels; deeper text is refused before the recursive JSON parser).
inline constexpr unsigned kMaxSpecNesting = 64;
/// The longest layer name: it names the library file and its entry symbol.
inline constexpr size_t kMaxNameLength = 128;

/// A validated layer spec. Per-head sizes are resolved (key_dim / heads ...).
struct LayerSpec {
  int version = 1;
  std::string source; ///< where the spec came from (file name), for messages
  /// Where each field's key is in the text, by dotted path ("state.initial").
  std::map<std::string, TextPosition> fieldPositions;
  std::string name;
  Mixer mixer = Mixer::GatedLinearAttention;
  int64_t batch = -1;  ///< -1: dynamic ("?")
  int64_t seqLen = -1; ///< -1: dynamic ("?")
  /// Softmax attention: the key/value length when it differs from the query
  /// length (decode against a KV cache): -1 dynamic, 0 = same as seq_len.
  int64_t kvLen = 0;
  std::string dtype = "f32";
  bool initialState = false, finalState = false;
  std::string form = "auto"; ///< auto | parallel | chunked | recurrent
  int64_t chunkSize = 0;     ///< 0: auto
  std::string target = "cpu";

  // Attention-like mixers (per-head sizes).
  int64_t heads = 0, kvHeads = 0, headKeyDim = 0, headValueDim = 0;
  /// Gated linear attention and the delta rule: value heads H_v, a multiple
  /// of `heads` (grouped value heads: value head h reads the q and k of head
  /// h / (H_v / H)); equal to `heads` unless the spec says otherwise. v, the
  /// gates, beta, the states and the output have H_v heads.
  int64_t valueHeads = 0;
  bool causal = true;
  double scale = 1.0;
  std::optional<int64_t> window;
  /// Softmax attention: also return lse [B, H, T_q] ("outputs": ["out",
  /// "lse"]).
  bool lse = false;
  std::string featureMap = "identity"; ///< identity | elu1 | relu | taylor
  bool normalize = false;
  double eps = 1e-6;
  std::string gate = "none";    ///< none | constant | scalar | vector
  std::vector<double> logDecay; ///< gate constant: log gamma per head
  bool gated = false, l2normQK = true;

  // State-space mixers.
  int64_t channels = 0, stateDim = 0, groups = 1;
  bool deltaSoftplus = true, deltaBias = false, dSkip = false, zGate = false;
  std::string discretization = "zoh"; ///< zoh | bilinear | euler_b
  bool complexMode = true;

  // The causal convolution: taps per channel, bias, SiLU after it.
  int64_t width = 0;
  bool convBias = false, silu = false;

  /// Inputs in calling order (FORMS.md App. A order, initial state last).
  std::vector<TensorDesc> inputs() const;
  /// Outputs in calling order: the result, then the log-sum-exp or the final
  /// state if any.
  std::vector<TensorDesc> outputs() const;
  /// Whether the tensor named `tensor` (an input or output) has the spec's
  /// dtype rather than f32.
  bool followsDtype(llvm::StringRef tensor) const;
  /// Feature dimension after the feature map (linear attention).
  int64_t featureDim() const;
  /// Columns of the linear-attention state (V, or V + 1 with normalize).
  int64_t stateColumns() const;
  /// The dimension name of the value-side heads: "heads", or "value_heads"
  /// when they differ from the query heads.
  const char *valueHeadsName() const {
    return valueHeads == 0 || valueHeads == heads ? "heads" : "value_heads";
  }
};

/// Parses and validates a spec. `source` names the input in messages. Every
/// error names the field and what is allowed.
llvm::Expected<LayerSpec> parseLayerSpec(llvm::StringRef json,
                                         llvm::StringRef source);

/// Reads and parses a spec file.
llvm::Expected<LayerSpec> loadLayerSpec(llvm::StringRef path);

} // namespace seqmix

#endif // SEQMIX_SPEC_LAYERSPEC_H
