//===- SeqMixDialect.cpp - seqmix dialect registration and attributes -----===//
#include "SeqMixDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::seqmix;

#include "seqmix/SeqMixDialect.cpp.inc"
#include "seqmix/SeqMixEnums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "seqmix/SeqMixAttrs.cpp.inc"

void SeqMixDialect::initialize() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "seqmix/SeqMixAttrs.cpp.inc"
      >();
  addOperations<
#define GET_OP_LIST
#include "seqmix/SeqMixOps.cpp.inc"
      >();
}

LogicalResult FormAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                               FormKind kind, int64_t chunk) {
  if (kind == FormKind::chunked && chunk < 1)
    return emitError() << "chunked form needs a chunk size >= 1, got " << chunk;
  if (kind == FormKind::chunked && chunk > kMaxChunkSize)
    return emitError() << "chunked form needs a chunk size <= " << kMaxChunkSize
                       << ", got " << chunk;
  if (kind != FormKind::chunked && chunk != 0)
    return emitError() << "only the chunked form takes a chunk size";
  return success();
}

FormAttr mlir::seqmix::getForm(Operation *op) {
  return op->getAttrOfType<FormAttr>(kFormAttrName);
}

bool mlir::seqmix::isSequenceMixer(Operation *op) {
  return isa<SoftmaxAttentionOp, LinearAttentionOp, GatedLinearAttentionOp,
             DeltaRuleOp, SelectiveScanOp, LTIScanOp, CausalConv1dOp>(op);
}

int64_t mlir::seqmix::featureDim(FeatureMap map, int64_t k) {
  if (map == FeatureMap::taylor)
    return 1 + k + k * (k + 1) / 2;
  return k;
}
