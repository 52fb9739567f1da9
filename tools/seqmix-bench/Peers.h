//===- Peers.h - PyTorch peers timed inside seqmix-bench --------*- C++ -*-===//
//
// Runs tools/seqmix-bench/peers.py in an interpreter embedded in this
// process (the project's venv, which holds PyTorch), on the same input
// buffers the seqmix layer read, with the same number of threads.
//
//===----------------------------------------------------------------------===//
#ifndef SEQMIX_BENCH_PEERS_H
#define SEQMIX_BENCH_PEERS_H

#include "seqmix/Testing/LayerHarness.h"

#include "llvm/Support/Error.h"

#include <memory>
#include <string>
#include <vector>

namespace seqmix {

struct PeerResult {
  std::string name;
  std::string form; ///< the form whose FLOP count credits it ("visible": the
                    ///< scores a mask leaves visible)
  std::vector<double> timesMs;
  std::vector<std::vector<float>> outputs; ///< in the layer's output order
  std::string error;                       ///< empty when it ran
};

class PeerRunner {
public:
  /// Starts the interpreter of `python` (a venv's bin/python) and imports
  /// the peers module `script` (a .py file); fails with a message that says
  /// what is missing.
  static llvm::Expected<std::unique_ptr<PeerRunner>>
  create(const std::string &python, const std::string &script);

  /// Times every peer of the layer's family. `layerJson` describes the layer
  /// as peers.py reads it; `inputs` are in the layer's calling order.
  llvm::Expected<std::vector<PeerResult>> run(const std::string &layerJson,
                                              std::vector<HostTensor> &inputs,
                                              unsigned reps, unsigned warmup,
                                              int threads, double maxSeconds);

  ~PeerRunner();

private:
  PeerRunner() = default;
  void *module = nullptr; // PyObject *
};

} // namespace seqmix

#endif // SEQMIX_BENCH_PEERS_H
