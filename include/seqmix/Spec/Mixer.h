//===- Mixer.h - the families of sequence-mixing layers --------*- C++ -*-===//
//
// Shared by the spec, the cost model and the tools; depends on nothing.
//
//===----------------------------------------------------------------------===//
#ifndef SEQMIX_SPEC_MIXER_H
#define SEQMIX_SPEC_MIXER_H

namespace seqmix {

/// One family of sequence-mixing layer (one op of the dialect each).
enum class Mixer {
  SoftmaxAttention,
  LinearAttention,
  GatedLinearAttention,
  DeltaRule,
  SelectiveScan,
  LTIScan,
  CausalConv1d
};

} // namespace seqmix

#endif // SEQMIX_SPEC_MIXER_H
