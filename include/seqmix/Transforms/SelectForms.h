//===- SelectForms.h - the cost model's view of a seqmix op -----*- C++ -*-===//
//
// What seqmix-select-forms asks the cost model for one op, shared with the
// driver, which records the candidates' costs in a layer's ABI metadata.
//
//===----------------------------------------------------------------------===//
#ifndef SEQMIX_TRANSFORMS_SELECTFORMS_H
#define SEQMIX_TRANSFORMS_SELECTFORMS_H

#include "seqmix/Analysis/FormCostModel.h"

#include "mlir/IR/Operation.h"

#include <optional>
#include <string>
#include <vector>

namespace mlir::seqmix {

/// The cost model's estimates for every candidate form of one op.
struct FormEstimates {
  /// The op's sizes; dynamic batch and sequence length take the assumptions
  /// of the selection pass (batch 1, kAssumedSeqLen).
  ::seqmix::Problem problem;
  ::seqmix::Estimate best;
  std::vector<::seqmix::Estimate> all;

  /// "B=2 H=4 T=128 K=64 V=64".
  std::string sizes() const;
  /// "parallel=9.90e-03s chunked(16)=1.55e-03s recurrent=7.24e-04s".
  std::string candidates() const;
};

/// Sequence length the cost model assumes for a dynamic one.
constexpr int64_t kAssumedSeqLen = 512;

/// Estimates every form `op` has a lowering for (every form when it has none
/// yet; never `recurrent` for softmax attention) on machine `m`.
/// std::nullopt when `op` is not a sequence mixer or no form is available.
std::optional<FormEstimates> estimateForms(Operation *op,
                                           const ::seqmix::Machine &m);

/// The same at sequence length `seqLen` (a dynamic one takes this value).
std::optional<FormEstimates> estimateForms(Operation *op, int64_t seqLen,
                                           const ::seqmix::Machine &m);

/// The discardable attribute on an op that a per-call choice made for a
/// range of sequence lengths: array<i64: lo, hi> (hi = 0: no upper end).
constexpr llvm::StringLiteral kSeqLenRangeAttrName = "seqmix.seq_len_range";

/// "chunked(chunk 64)", or with a range "recurrent if seq_len < 37",
/// "parallel if 37 <= seq_len < 300", "chunked(chunk 64) if seq_len >= 300":
/// the op's form as the layer metadata's "forms" line lists it.
std::string describeForm(Operation *op);

} // namespace mlir::seqmix

#endif // SEQMIX_TRANSFORMS_SELECTFORMS_H
