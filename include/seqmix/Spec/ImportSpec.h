//===- ImportSpec.h - layer spec to seqmix IR --------------------*- C++
//-*-===//
#ifndef SEQMIX_SPEC_IMPORTSPEC_H
#define SEQMIX_SPEC_IMPORTSPEC_H

#include "seqmix/Spec/LayerSpec.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

namespace mlir::seqmix {

/// Builds a module with one public `func.func @<name>` holding the layer's
/// seqmix op (phase 0, import). Inputs and outputs follow
/// LayerSpec::inputs()/outputs(); each argument and result carries its name
/// in `seqmix.name` and its dimension names in `seqmix.dims`. Returns null
/// after emitting a diagnostic when the op does not verify.
OwningOpRef<ModuleOp> importLayerSpec(const ::seqmix::LayerSpec &spec,
                                      MLIRContext *context);

} // namespace mlir::seqmix

#endif // SEQMIX_SPEC_IMPORTSPEC_H
