//===- MetadataFuzzer.cpp - libFuzzer target for the runtime ABI text -----===//
//
// seqmix_layer_from_entry parses ABI metadata that a caller may hand in; any
// text must give a layer or an error message, never a crash. A layer that
// loads is then called with tensors of the wrong count, which must be an
// error too (the entry is never reached). Built by `make fuzz`.
//
//===----------------------------------------------------------------------===//
#include "seqmix-c/Runtime.h"

#include <cstdint>
#include <cstdlib>
#include <string>

namespace {
void neverCalled() { std::abort(); }
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string text(reinterpret_cast<const char *>(data), size);
  char *err = nullptr;
  seqmix_layer *layer = seqmix_layer_from_entry(
      reinterpret_cast<void *>(&neverCalled), text.c_str(), &err);
  if (!layer) {
    if (!err)
      std::abort();
    seqmix_free_error(err);
    return 0;
  }
  int32_t n = seqmix_layer_num_args(layer);
  for (int32_t i = 0; i < n; ++i)
    (void)seqmix_layer_arg_name(layer, i);
  if (seqmix_layer_call(layer, nullptr, n + 1, &err) == 0)
    std::abort();
  seqmix_free_error(err);
  seqmix_layer_free(layer);
  return 0;
}
