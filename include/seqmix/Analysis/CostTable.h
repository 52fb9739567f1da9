//===- CostTable.h - the cost model's machine constants as JSON --*- C++
//-*-===//
//
// `seqmix-bench --calibrate` fits the constants of `Machine` on the machine it
// runs on and writes them as a small JSON table; the compiler reads one with
// `--cost-model=<file>` (or SEQMIX_COST_MODEL) instead of the default table,
// `Machine::hostCpu()`. docs/performance.md describes the format.
//
//===----------------------------------------------------------------------===//
#ifndef SEQMIX_ANALYSIS_COSTTABLE_H
#define SEQMIX_ANALYSIS_COSTTABLE_H

#include "seqmix/Analysis/FormCostModel.h"

#include "llvm/Support/Error.h"

#include <string>

namespace seqmix {

/// The format version a table carries in its "seqmix_cost_model" field.
inline constexpr int kCostTableVersion = 1;

/// Where a table came from, written beside the constants (not read back).
struct CostTableInfo {
  std::string cpu;   ///< CPU model name
  std::string isa;   ///< "AVX-512", "AVX2", ...
  int threads = 0;   ///< threads it was fitted on
  std::string notes; ///< how it was fitted
};

/// The table for `m`, as JSON text ending in a newline.
std::string printCostTable(const Machine &m, const CostTableInfo &info);

/// The machine a table describes: every field it names replaces the default
/// table's (`Machine::hostCpu()`); an unknown field, a value that is not a
/// finite number > 0 (>= 0 for the fixed costs: tau_*, launch, *_step) or
/// another format version is an error naming the field and `origin` (a
/// path, for the message).
llvm::Expected<Machine> parseCostTable(llvm::StringRef text,
                                       llvm::StringRef origin);

/// parseCostTable on the contents of the file `path`.
llvm::Expected<Machine> loadCostTable(llvm::StringRef path);

} // namespace seqmix

#endif // SEQMIX_ANALYSIS_COSTTABLE_H
