//===- seqmix-opt.cpp - the mlir-opt of seqmix ----------------------------===//
#include "seqmix/Pipelines/Pipelines.h"
#include "seqmix/Support/Nesting.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  mlir::seqmix::registerSeqMixPassesAndPipelines();
  mlir::DialectRegistry registry;
  mlir::seqmix::registerSeqMixDialects(registry);
  auto [input, output] = mlir::registerAndParseCLIOptions(
      argc, argv,
      "seqmix-opt: run seqmix and MLIR passes on .mlir files\n\n"
      "  Phases as pipelines: --seqmix-to-select-forms, "
      "--seqmix-to-lower-forms,\n"
      "  --seqmix-to-schedule, --seqmix-to-bufferize, --seqmix-cpu-pipeline\n"
      "  (options: form=auto|parallel|chunked|recurrent chunk-size=N).\n",
      registry);
  mlir::MlirOptMainConfig config =
      mlir::MlirOptMainConfig::createFromCLOptions();
  if (config.shouldShowDialects() || config.shouldListPasses())
    return mlir::asMainReturnCode(
        mlir::MlirOptMain(argc, argv, input, output, registry));
  std::string error;
  std::unique_ptr<llvm::MemoryBuffer> file = mlir::openInputFile(input, &error);
  if (!file) {
    llvm::errs() << error << "\n";
    return 1;
  }
  if (!::seqmix::checkIRNesting(*file, "seqmix-opt"))
    return 1;
  std::unique_ptr<llvm::ToolOutputFile> out =
      mlir::openOutputFile(output, &error);
  if (!out) {
    llvm::errs() << error << "\n";
    return 1;
  }
  if (mlir::failed(
          mlir::MlirOptMain(out->os(), std::move(file), registry, config)))
    return 1;
  out->keep();
  return 0;
}
