//===- CostTable.cpp - the cost model's machine constants as JSON ---------===//
#include "seqmix/Analysis/CostTable.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>

using namespace seqmix;

namespace {
/// One constant of the table: its JSON name, the member it sets and its unit.
struct Field {
  const char *name;
  double Machine::*member;
  const char *unit;
  bool mayBeZero = false; ///< a fixed cost: 0 is a value
};

constexpr Field kFields[] = {
    {"peak_matmul", &Machine::peakMatmul, "FLOP/s"},
    {"peak_vector", &Machine::peakVector, "FLOP/s"},
    {"eta_matmul", &Machine::etaMatmul, "fraction of peak_matmul"},
    {"eta_vector", &Machine::etaVector, "fraction of peak_vector"},
    {"bandwidth", &Machine::bandwidth, "bytes/s"},
    {"saturation", &Machine::saturation, "workers"},
    {"tau_chunk", &Machine::tauChunk, "s per dependent chunk step", true},
    {"tau_token", &Machine::tauToken, "s per dependent token step", true},
    {"launch", &Machine::launch, "s per call", true},
    {"block_step", &Machine::blockStep, "s per softmax block step", true},
    {"chunk_step", &Machine::chunkStep, "s per linear chunk step", true},
    {"cache_bytes", &Machine::cacheBytes, "bytes of cache per worker"},
    {"l1_bytes", &Machine::l1Bytes, "bytes of L1 per worker"},
    {"bf16_dot_speedup", &Machine::bf16DotSpeedup,
     "vdpbf16ps MAC rate / f32 FMA rate"},
};

constexpr const char *kVersionKey = "seqmix_cost_model";
constexpr const char *kInfoKeys[] = {"cpu", "isa", "threads", "notes", "units"};

llvm::Error tableError(llvm::StringRef origin, const llvm::Twine &msg) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 origin + ": " + msg);
}
} // namespace

std::string seqmix::printCostTable(const Machine &m,
                                   const CostTableInfo &info) {
  std::string s;
  llvm::raw_string_ostream os(s);
  llvm::json::OStream j(os, 2);
  j.object([&] {
    j.attribute(kVersionKey, kCostTableVersion);
    if (!info.cpu.empty())
      j.attribute("cpu", info.cpu);
    if (!info.isa.empty())
      j.attribute("isa", info.isa);
    if (info.threads > 0)
      j.attribute("threads", info.threads);
    if (!info.notes.empty())
      j.attribute("notes", info.notes);
    for (const Field &f : kFields)
      j.attribute(f.name, m.*f.member);
    j.attributeObject("units", [&] {
      for (const Field &f : kFields)
        j.attribute(f.name, f.unit);
    });
  });
  os << "\n";
  return s;
}

llvm::Expected<Machine> seqmix::parseCostTable(llvm::StringRef text,
                                               llvm::StringRef origin) {
  llvm::Expected<llvm::json::Value> doc = llvm::json::parse(text);
  if (!doc)
    return tableError(origin,
                      "not valid JSON: " + llvm::toString(doc.takeError()));
  const llvm::json::Object *obj = doc->getAsObject();
  if (!obj)
    return tableError(origin, "a cost table is a JSON object");
  const llvm::json::Value *version = obj->get(kVersionKey);
  if (!version)
    return tableError(origin, llvm::Twine("missing field '") + kVersionKey +
                                  "' (the format version, " +
                                  llvm::Twine(kCostTableVersion) + ")");
  if (version->getAsInteger() != std::optional<int64_t>(kCostTableVersion))
    return tableError(origin, llvm::Twine("field '") + kVersionKey +
                                  "': this compiler reads version " +
                                  llvm::Twine(kCostTableVersion));
  Machine m = Machine::hostCpu();
  // Object iteration order is unspecified: report the first bad key in
  // sorted order so the message does not depend on the hash.
  std::vector<std::string> keys;
  for (const auto &kv : *obj)
    keys.push_back(kv.first.str());
  llvm::sort(keys);
  for (const std::string &key : keys) {
    if (key == kVersionKey || llvm::is_contained(kInfoKeys, key))
      continue;
    const Field *field = nullptr;
    for (const Field &f : kFields)
      if (key == f.name)
        field = &f;
    if (!field) {
      std::string known;
      for (const Field &f : kFields)
        known += (known.empty() ? "" : ", ") + std::string(f.name);
      return tableError(origin,
                        "unknown field '" + key + "' (known: " + known + ")");
    }
    std::optional<double> v = obj->get(key)->getAsNumber();
    if (!v || !std::isfinite(*v) || *v < 0 || (*v == 0 && !field->mayBeZero))
      return tableError(origin,
                        "field '" + key + "' must be a " +
                            (field->mayBeZero ? "non-negative" : "positive") +
                            " number (" + field->unit + ")");
    m.*field->member = *v;
  }
  if (m.etaMatmul > 1 || m.etaVector > 1)
    return tableError(origin, "eta_matmul and eta_vector are fractions of "
                              "the peak: at most 1");
  return m;
}

llvm::Expected<Machine> seqmix::loadCostTable(llvm::StringRef path) {
  auto buf = llvm::MemoryBuffer::getFile(path, /*IsText=*/true);
  if (!buf)
    return tableError(path, "cannot read the cost table: " +
                                buf.getError().message());
  return parseCostTable((*buf)->getBuffer(), path);
}
