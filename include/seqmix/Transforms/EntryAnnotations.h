//===- EntryAnnotations.h - checks of seqmix.name / seqmix.dims -*- C++ -*-===//
//
// The runtime ABI metadata names every entry argument (`seqmix.name`) and
// every dimension (`seqmix.dims`); the runtime then checks that dimensions
// with one name have one size. Hand-written IR can carry any attributes, so
// they are checked before they reach the metadata.
//
//===----------------------------------------------------------------------===//
#ifndef SEQMIX_TRANSFORMS_ENTRYANNOTATIONS_H
#define SEQMIX_TRANSFORMS_ENTRYANNOTATIONS_H

#include "mlir/Dialect/Func/IR/FuncOps.h"

namespace mlir::seqmix {

inline constexpr llvm::StringLiteral kNameAttr = "seqmix.name";
inline constexpr llvm::StringLiteral kDimsAttr = "seqmix.dims";

/// [A-Za-z_][A-Za-z0-9_]*, at most 128 characters.
bool isAbiIdentifier(llvm::StringRef s);

/// Checks the entry function's own name and the form of its annotations: a
/// `seqmix.name` is an identifier and unique among arguments and results; a
/// `seqmix.dims` is an array of identifiers, one per dimension; dimensions
/// given one name do not have two different static sizes. Errors name the
/// argument or result.
LogicalResult verifyEntryAnnotations(func::FuncOp fn);

} // namespace mlir::seqmix

#endif // SEQMIX_TRANSFORMS_ENTRYANNOTATIONS_H
