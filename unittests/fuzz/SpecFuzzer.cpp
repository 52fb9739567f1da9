//===- SpecFuzzer.cpp - libFuzzer target for the layer-spec parser --------===//
//
// Any byte string given to parseLayerSpec must give a spec or an error, never
// a crash, a sanitizer report or a hang. A spec that parses must describe its
// tensors without failing. Built with -DSEQMIX_BUILD_FUZZERS=ON (`make fuzz`).
//
//===----------------------------------------------------------------------===//
#include "seqmix/Spec/LayerSpec.h"

#include <cstdint>
#include <cstdlib>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string text(reinterpret_cast<const char *>(data), size);
  llvm::Expected<seqmix::LayerSpec> spec =
      seqmix::parseLayerSpec(text, "fuzz.json");
  if (!spec) {
    // Every error names the source it came from.
    if (llvm::toString(spec.takeError()).rfind("fuzz.json", 0) != 0)
      std::abort();
    return 0;
  }
  for (const auto &descs : {spec->inputs(), spec->outputs()})
    for (const seqmix::TensorDesc &d : descs)
      if (d.shape.size() != d.dims.size())
        std::abort();
  return 0;
}
