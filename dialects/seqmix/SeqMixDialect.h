//===- SeqMixDialect.h - the seqmix dialect, attributes and ops -*- C++ -*-===//
#ifndef SEQMIX_DIALECT_SEQMIXDIALECT_H
#define SEQMIX_DIALECT_SEQMIXDIALECT_H

#include "seqmix/Support/Limits.h"

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "seqmix/SeqMixDialect.h.inc"
#include "seqmix/SeqMixEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "seqmix/SeqMixAttrs.h.inc"

#define GET_OP_CLASSES
#include "seqmix/SeqMixOps.h.inc"

namespace mlir::seqmix {
/// Name of the form attribute every seqmix op may carry.
inline constexpr llvm::StringLiteral kFormAttrName = "form";

/// The largest chunk size of the chunked form (seqmix/Support/Limits.h).
inline constexpr int64_t kMaxChunkSize = ::seqmix::kMaxChunkSize;

/// The form attribute of a seqmix op, or null when none was chosen yet.
FormAttr getForm(Operation *op);

/// True when `op` is one of the dialect's sequence-mixing operations.
bool isSequenceMixer(Operation *op);

/// The named dimensions of every tensor operand and result of a seqmix op,
/// in the op's layout (for example q of gated_linear_attention is
/// {batch, heads, seq_len, key_dim}). Dimensions with the same name must have
/// the same size. Absent optional operands are skipped.
SmallVector<std::pair<Value, SmallVector<StringRef>>>
getDimensionRoles(Operation *op);

/// Feature dimension after a linear-attention feature map on key dim `k`.
int64_t featureDim(FeatureMap map, int64_t k);
} // namespace mlir::seqmix

#endif // SEQMIX_DIALECT_SEQMIXDIALECT_H
