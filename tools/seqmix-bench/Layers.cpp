//===- Layers.cpp - compile, load and time layers for seqmix-bench --------===//
#include "Layers.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Program.h"

#include <algorithm>
#include <chrono>

using namespace seqmix;
using namespace seqmix::bench;

double bench::median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

std::optional<std::string>
bench::compileLayer(const std::string &seqmixc, const std::string &spec,
                    const Config &c, int threads, const std::string &dir,
                    std::string &soPath,
                    const std::vector<std::string> &extraArgs) {
  soPath = dir + "/" + c.form + "_" + std::to_string(c.chunk) + ".so";
  std::string errPath = dir + "/compile.err";
  std::vector<std::string> args = {seqmixc,
                                   spec,
                                   "--form=" + c.form,
                                   "--workers=" + std::to_string(threads),
                                   "-o",
                                   soPath};
  if (c.form == "chunked")
    args.push_back("--chunk-size=" + std::to_string(c.chunk));
  args.insert(args.end(), extraArgs.begin(), extraArgs.end());
  std::vector<llvm::StringRef> argv(args.begin(), args.end());
  std::optional<llvm::StringRef> redirects[] = {
      std::nullopt, llvm::StringRef(""), llvm::StringRef(errPath)};
  std::string execErr;
  int rc = llvm::sys::ExecuteAndWait(seqmixc, argv, std::nullopt, redirects, 0,
                                     0, &execErr);
  if (rc == 0)
    return std::nullopt;
  std::string msg = execErr;
  if (auto buf = llvm::MemoryBuffer::getFile(errPath))
    msg = llvm::StringRef((*buf)->getBuffer()).trim().str();
  // The first line says what is wrong; the rest is context.
  return msg.substr(0, msg.find('\n'));
}

seqmix_layer *bench::loadLayer(const std::string &soPath, std::string &err) {
  char *msg = nullptr;
  seqmix_layer *layer = seqmix_layer_load(soPath.c_str(), &msg);
  llvm::sys::fs::remove(soPath);
  if (!layer) {
    err = msg ? msg : "unknown error";
    seqmix_free_error(msg);
  }
  return layer;
}

std::string bench::layerForms(const seqmix_layer *layer) {
  for (llvm::StringRef line :
       llvm::split(llvm::StringRef(seqmix_layer_metadata(layer)), '\n'))
    if (line.consume_front("forms "))
      return line.str();
  return "";
}

std::optional<std::string> bench::timeLayer(seqmix_layer *layer,
                                            std::vector<seqmix_tensor> &args,
                                            unsigned warmup, unsigned reps,
                                            std::vector<double> &timesMs) {
  char *err = nullptr;
  if (seqmix_layer_call(layer, args.data(), int32_t(args.size()), &err)) {
    std::string msg = err ? err : "call failed";
    seqmix_free_error(err);
    return msg;
  }
  for (unsigned i = 1; i < warmup; ++i)
    (void)seqmix_layer_call(layer, args.data(), int32_t(args.size()), nullptr);
  for (unsigned r = 0; r < reps; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    (void)seqmix_layer_call(layer, args.data(), int32_t(args.size()), nullptr);
    timesMs.push_back(std::chrono::duration<double, std::milli>(
                          std::chrono::steady_clock::now() - t0)
                          .count());
  }
  return std::nullopt;
}

ErrorStats bench::compareOutputs(const std::vector<std::vector<float>> &got,
                                 const std::vector<HostTensor> &base) {
  ErrorStats worst;
  for (size_t i = 0; i < got.size() && i < base.size(); ++i) {
    std::vector<double> ref(base[i].data.begin(), base[i].data.end());
    ErrorStats e = compareToReference(got[i], ref);
    worst.maxAbs = std::max(worst.maxAbs, e.maxAbs);
    worst.maxRel = std::max(worst.maxRel, e.maxRel);
    worst.relRms = std::max(worst.relRms, e.relRms);
    worst.finite &= e.finite && got[i].size() == base[i].data.size();
  }
  return worst;
}
