//===- Layers.h - compile, load and time layers for seqmix-bench -*- C++
//-*-===//
#ifndef SEQMIX_BENCH_LAYERS_H
#define SEQMIX_BENCH_LAYERS_H

#include "seqmix-c/Runtime.h"
#include "seqmix/Testing/LayerHarness.h"

#include <optional>
#include <string>
#include <vector>

namespace seqmix::bench {

/// One form to compile: "parallel", "recurrent", "auto" or chunked with a
/// chunk size.
struct Config {
  std::string form;
  int64_t chunk = 0;
  bool named = false; ///< the user asked for it: a failure is an error
  std::string label() const {
    return form == "chunked" ? "chunked(" + std::to_string(chunk) + ")" : form;
  }
};

/// The median of `v` (the upper one of an even count); 0 when empty.
double median(std::vector<double> v);

/// Compiles the spec file `spec` in config `c` with `seqmixc` into a shared
/// library in `dir` (its path in `soPath`); the first line of the compiler's
/// error on failure.
std::optional<std::string>
compileLayer(const std::string &seqmixc, const std::string &spec,
             const Config &c, int threads, const std::string &dir,
             std::string &soPath,
             const std::vector<std::string> &extraArgs = {});

/// Loads the library at `soPath` and deletes the file; nullptr and `err` on
/// failure.
seqmix_layer *loadLayer(const std::string &soPath, std::string &err);

/// The layer's "forms" metadata line ("chunked(chunk 64)", or a per-call
/// choice), empty when it has none.
std::string layerForms(const seqmix_layer *layer);

/// Calls `layer` once (an error text on failure), then `warmup - 1` more
/// untimed calls and `reps` timed ones: their times in ms.
std::optional<std::string> timeLayer(seqmix_layer *layer,
                                     std::vector<seqmix_tensor> &args,
                                     unsigned warmup, unsigned reps,
                                     std::vector<double> &timesMs);

/// The worst error of the outputs `got` against `base`, output by output.
ErrorStats compareOutputs(const std::vector<std::vector<float>> &got,
                          const std::vector<HostTensor> &base);

} // namespace seqmix::bench

#endif // SEQMIX_BENCH_LAYERS_H
