//===- LayerSymbols.cpp - keep a layer's symbols out of everyone's way ----===//
//
// seqmix-hide-entry renames the user-named implementation function before
// the LLVM lowering declares malloc, free, memcpy or expf; seqmix-export-entry
// restores the user's name on the C-interface wrapper only and makes every
// other definition internal.
//
//===----------------------------------------------------------------------===//
#include "seqmix/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/SymbolTable.h"

namespace mlir::seqmix {
#define GEN_PASS_DEF_SEQMIXHIDEENTRY
#define GEN_PASS_DEF_SEQMIXEXPORTENTRY
#include "seqmix/Transforms/Passes.h.inc"
} // namespace mlir::seqmix

using namespace mlir;

namespace {
constexpr StringLiteral kHiddenPrefix = "seqmix.layer.";
constexpr StringLiteral kCifacePrefix = "_mlir_ciface_";

struct HideEntryPass : seqmix::impl::SeqMixHideEntryBase<HideEntryPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SymbolTable symbols(module);
    for (func::FuncOp fn :
         llvm::make_early_inc_range(module.getOps<func::FuncOp>())) {
      if (!fn.isPublic() || fn.isExternal())
        continue;
      std::string hidden = (kHiddenPrefix + fn.getSymName()).str();
      if (symbols.lookup(hidden)) {
        fn.emitError() << "cannot hide the layer entry: symbol '" << hidden
                       << "' already exists";
        return signalPassFailure();
      }
      if (failed(symbols.rename(fn, StringAttr::get(&getContext(), hidden))))
        return signalPassFailure();
      fn->setAttr("llvm.emit_c_interface", UnitAttr::get(&getContext()));
    }
  }
};

struct ExportEntryPass : seqmix::impl::SeqMixExportEntryBase<ExportEntryPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SymbolTable symbols(module);
    std::string wrapperPrefix = (kCifacePrefix + kHiddenPrefix).str();
    for (LLVM::LLVMFuncOp fn :
         llvm::make_early_inc_range(module.getOps<LLVM::LLVMFuncOp>())) {
      if (fn.isExternal())
        continue; // a declaration: malloc, free, expf, libomp, ...
      StringRef name = fn.getSymName();
      if (name.starts_with(wrapperPrefix)) {
        std::string exported =
            (kCifacePrefix + name.drop_front(wrapperPrefix.size())).str();
        if (symbols.lookup(exported)) {
          fn.emitError() << "cannot export the layer entry: symbol '"
                         << exported << "' already exists";
          return signalPassFailure();
        }
        if (failed(
                symbols.rename(fn, StringAttr::get(&getContext(), exported))))
          return signalPassFailure();
        fn.setLinkage(LLVM::Linkage::External);
        continue;
      }
      fn.setLinkage(LLVM::Linkage::Internal);
    }
    for (LLVM::GlobalOp g : module.getOps<LLVM::GlobalOp>()) {
      bool defined = g.getValueAttr() || !g.getInitializerRegion().empty();
      if (defined && g.getLinkage() == LLVM::Linkage::External)
        g.setLinkage(LLVM::Linkage::Internal);
    }
  }
};
} // namespace
