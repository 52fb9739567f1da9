//===- AnnotateEntryDims.cpp - dimension names for the runtime ABI --------===//
#include "seqmix/SeqMixDialect.h"
#include "seqmix/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"

namespace mlir::seqmix {
#define GEN_PASS_DEF_SEQMIXANNOTATEENTRYDIMS
#include "seqmix/Transforms/Passes.h.inc"
} // namespace mlir::seqmix

using namespace mlir;
using namespace mlir::seqmix;

namespace {
constexpr StringLiteral kDimsAttr = "seqmix.dims";

/// The role names `op` gives `value`, or null.
ArrayAttr rolesOf(Operation *op, Value value) {
  if (!op || !isSequenceMixer(op))
    return nullptr;
  for (auto &[v, dims] : getDimensionRoles(op))
    if (v == value)
      return Builder(op->getContext()).getStrArrayAttr(dims);
  return nullptr;
}

struct AnnotateEntryDimsPass
    : mlir::seqmix::impl::SeqMixAnnotateEntryDimsBase<AnnotateEntryDimsPass> {
  void runOnOperation() override {
    for (func::FuncOp fn : getOperation().getOps<func::FuncOp>()) {
      if (fn.isExternal() || !fn.isPublic())
        continue;
      for (BlockArgument arg : fn.getArguments()) {
        if (fn.getArgAttr(arg.getArgNumber(), kDimsAttr))
          continue;
        for (Operation *user : arg.getUsers())
          if (ArrayAttr names = rolesOf(user, arg)) {
            fn.setArgAttr(arg.getArgNumber(), kDimsAttr, names);
            break;
          }
      }
      Operation *ret = fn.getBody().front().getTerminator();
      for (auto [i, v] : llvm::enumerate(ret->getOperands()))
        if (!fn.getResultAttr(i, kDimsAttr))
          if (ArrayAttr names = rolesOf(v.getDefiningOp(), v))
            fn.setResultAttr(i, kDimsAttr, names);
    }
  }
};
} // namespace
