//===- IRFuzzer.cpp - libFuzzer target for the IR path --------------------===//
//
// Any text given as a .mlir module must parse or fail, verify or fail, and
// then go through the compiler's front half (entry annotations, form
// selection, lowering, the default schedule) and the ABI metadata builder
// without a crash, a sanitizer report or an invalid module between passes.
// Metadata the compiler writes must always be accepted by the runtime.
// Built by `make fuzz`, seeded from test/ .mlir files.
//
//===----------------------------------------------------------------------===//
#include "seqmix-c/Runtime.h"
#include "seqmix/Pipelines/Pipelines.h"
#include "seqmix/Support/Nesting.h"
#include "seqmix/Target/CPU.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"

#include <cstdint>
#include <cstdlib>
#include <string>

using namespace mlir;

namespace {
void neverCalled() { std::abort(); }

MLIRContext &context() {
  static MLIRContext *ctx = [] {
    mlir::seqmix::registerSeqMixPassesAndPipelines();
    DialectRegistry registry;
    mlir::seqmix::registerSeqMixDialects(registry);
    auto *c = new MLIRContext(registry, MLIRContext::Threading::DISABLED);
    c->loadAllAvailableDialects();
    c->printOpOnDiagnostic(false);
    // Errors are expected; keep them quiet.
    c->getDiagEngine().registerHandler([](Diagnostic &) { return success(); });
    return c;
  }();
  return *ctx;
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  // MLIR's lexer reads up to a terminating NUL, as every MemoryBuffer (and
  // so every file seqmixc reads) has one; the fuzzer's bytes do not.
  std::string copy(reinterpret_cast<const char *>(data), size);
  llvm::StringRef text(copy.c_str(), size);
  // seqmixc refuses deeper input before parsing (MLIR's parser recurses).
  if (::seqmix::findTooDeepIR(text))
    return 0;
  MLIRContext &ctx = context();
  OwningOpRef<ModuleOp> module =
      parseSourceString<ModuleOp>(text, ParserConfig(&ctx));
  if (!module || failed(verify(*module)))
    return 0;
  PassManager pm(&ctx);
  pm.enableVerifier(true);
  mlir::seqmix::CompileOptions opts;
  opts.openmp = false;
  for (mlir::seqmix::Phase p :
       {mlir::seqmix::Phase::SelectForms, mlir::seqmix::Phase::LowerForms,
        mlir::seqmix::Phase::Schedule})
    if (failed(mlir::seqmix::addPhasePasses(pm, p, opts)))
      std::abort();
  if (failed(pm.run(*module)))
    return 0;
  FailureOr<std::string> meta = mlir::seqmix::buildAbiMetadata(*module);
  if (failed(meta))
    return 0;
  char *err = nullptr;
  seqmix_layer *layer = seqmix_layer_from_entry(
      reinterpret_cast<void *>(&neverCalled), meta->c_str(), &err);
  if (!layer)
    std::abort(); // the compiler wrote metadata the runtime cannot read
  seqmix_layer_free(layer);
  return 0;
}
