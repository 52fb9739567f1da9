//===- seqmix-opt.cpp - the mlir-opt of seqmix ----------------------------===//
#include "seqmix/Pipelines/Pipelines.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::seqmix::registerSeqMixPassesAndPipelines();
  mlir::DialectRegistry registry;
  mlir::seqmix::registerSeqMixDialects(registry);
  return mlir::asMainReturnCode(mlir::MlirOptMain(
      argc, argv,
      "seqmix-opt: run seqmix and MLIR passes on .mlir files\n\n"
      "  Phases as pipelines: --seqmix-to-select-forms, "
      "--seqmix-to-lower-forms,\n"
      "  --seqmix-to-schedule, --seqmix-to-bufferize, --seqmix-cpu-pipeline\n"
      "  (options: form=auto|parallel|chunked|recurrent chunk-size=N).\n",
      registry));
}
