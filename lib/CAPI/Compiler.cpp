//===- Compiler.cpp - the compiler's C API (seqmix-c/Compiler.h) ----------===//
#include "seqmix-c/Compiler.h"

#include "seqmix/Driver/Driver.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Location.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/Timing.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Config/llvm-config.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Regex.h"

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#ifndef SEQMIX_VERSION_STRING
#define SEQMIX_VERSION_STRING "unknown"
#endif

using namespace mlir;
using namespace mlir::seqmix;

struct seqmix_compile_options {
  DriverOptions driver;
};

namespace {
struct DiagnosticRecord {
  std::string severity, message, location;
};
} // namespace

struct seqmix_status {
  bool ok = true;
  std::vector<DiagnosticRecord> diagnostics;
  std::string text;

  /// Adds a driver-level message; a leading "<source>:<line>:<col>: " (how
  /// spec errors name their JSON field) becomes the location.
  void addDriverError(llvm::StringRef msg) {
    static const llvm::Regex loc("^([^:]+:[0-9]+:[0-9]+): (.*)$");
    llvm::SmallVector<llvm::StringRef, 3> m;
    if (loc.match(msg, &m))
      diagnostics.push_back({"error", m[2].str(), m[1].str()});
    else
      diagnostics.push_back({"error", msg.str(), ""});
    ok = false;
  }

  void finish() {
    text.clear();
    for (const DiagnosticRecord &d : diagnostics)
      text += (d.location.empty() ? "" : d.location + ": ") + d.severity +
              ": " + d.message + "\n";
  }
};

namespace {
const char *severityName(DiagnosticSeverity s) {
  switch (s) {
  case DiagnosticSeverity::Error:
    return "error";
  case DiagnosticSeverity::Warning:
    return "warning";
  case DiagnosticSeverity::Remark:
    return "remark";
  case DiagnosticSeverity::Note:
    return "note";
  }
  return "error";
}

std::string locationText(Location loc) {
  if (auto file = loc->findInstanceOf<FileLineColLoc>())
    return (file.getFilename().getValue() + ":" + llvm::Twine(file.getLine()) +
            ":" + llvm::Twine(file.getColumn()))
        .str();
  return "";
}

/// Registers the passes the pipelines name, and the pass manager's options
/// (left at their defaults; the driver applies them), once per process.
void registerOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    registerSeqMixPassesAndPipelines();
    registerPassManagerCLOptions();
    registerDefaultTimingManagerCLOptions();
  });
}

/// Compiles `source` up to `to` (and metadata when `needMetadata`),
/// collecting every diagnostic in `status`; then runs `then` on the result.
template <typename Then>
void compileWith(const char *source, size_t length, const char *sourceName,
                 const seqmix_compile_options *options, Phase to,
                 bool needMetadata, seqmix_status &status, Then then) {
  if (!source) {
    status.addDriverError("no source given (NULL)");
    return;
  }
  registerOnce();
  DialectRegistry registry;
  registerSeqMixDialects(registry);
  MLIRContext ctx(registry, MLIRContext::Threading::DISABLED);
  ctx.printOpOnDiagnostic(false);
  ScopedDiagnosticHandler handler(&ctx, [&](mlir::Diagnostic &diag) {
    auto add = [&](mlir::Diagnostic &d) {
      status.diagnostics.push_back({severityName(d.getSeverity()), d.str(),
                                    locationText(d.getLocation())});
    };
    add(diag);
    for (mlir::Diagnostic &note : diag.getNotes())
      add(note);
    if (diag.getSeverity() == DiagnosticSeverity::Error)
      status.ok = false;
    return success();
  });
  DriverOptions opts = options ? options->driver : DriverOptions();
  DriverInput input{sourceName && *sourceName ? sourceName : "<source>",
                    std::string(source, length), std::nullopt};
  llvm::SourceMgr sm;
  auto error = [&](const llvm::Twine &msg) {
    status.addDriverError(msg.str());
  };
  FailureOr<Compilation> c = compileLayer(ctx, sm, input, Phase::Import, to,
                                          needMetadata, opts, error);
  if (failed(c)) {
    if (status.ok)
      status.addDriverError("compilation failed");
    return;
  }
  then(*c, opts, error);
}

char *copyText(llvm::StringRef text) {
  char *p = static_cast<char *>(std::malloc(text.size() + 1));
  if (!p)
    return nullptr;
  std::memcpy(p, text.data(), text.size());
  p[text.size()] = 0;
  return p;
}
} // namespace

extern "C" {

const char *seqmix_compiler_version(void) {
  return "seqmix " SEQMIX_VERSION_STRING " (LLVM " LLVM_VERSION_STRING ")";
}

seqmix_compile_options *seqmix_compile_options_create(void) {
  return new seqmix_compile_options();
}

void seqmix_compile_options_destroy(seqmix_compile_options *options) {
  delete options;
}

int32_t seqmix_compile_options_set(seqmix_compile_options *options,
                                   const char *name, const char *value) {
  if (!options || !name || !value)
    return -1;
  DriverOptions &o = options->driver;
  llvm::StringRef n(name), v(value);
  auto number = [&](int64_t &out) {
    long long x;
    if (v.getAsInteger(10, x))
      return -1;
    out = x;
    return 0;
  };
  if (n == "form")
    o.form = v.str();
  else if (n == "chunk_size")
    return number(o.chunkSize);
  else if (n == "target_cpu")
    o.targetCpu = v.str();
  else if (n == "threading")
    o.threading = v.str();
  else if (n == "workers")
    return number(o.workers);
  else if (n == "schedule")
    o.scheduleFile = v.str();
  else if (n == "cost_model")
    o.costModelFile = v.str();
  else if (n == "bf16_dot")
    o.bf16Dot = v.str();
  else if (n == "remarks") {
    if (v != "0" && v != "1")
      return -1;
    o.remarks = v == "1";
  } else
    return -1;
  return 0;
}

int32_t seqmix_status_ok(const seqmix_status *status) {
  return status && status->ok ? 1 : 0;
}

int32_t seqmix_status_num_diagnostics(const seqmix_status *status) {
  return status ? static_cast<int32_t>(status->diagnostics.size()) : 0;
}

static const DiagnosticRecord *diagnosticAt(const seqmix_status *status,
                                            int32_t i) {
  if (!status || i < 0 || static_cast<size_t>(i) >= status->diagnostics.size())
    return nullptr;
  return &status->diagnostics[i];
}

const char *seqmix_status_severity(const seqmix_status *status, int32_t i) {
  const DiagnosticRecord *d = diagnosticAt(status, i);
  return d ? d->severity.c_str() : "";
}

const char *seqmix_status_message(const seqmix_status *status, int32_t i) {
  const DiagnosticRecord *d = diagnosticAt(status, i);
  return d ? d->message.c_str() : "";
}

const char *seqmix_status_location(const seqmix_status *status, int32_t i) {
  const DiagnosticRecord *d = diagnosticAt(status, i);
  return d ? d->location.c_str() : "";
}

const char *seqmix_status_text(const seqmix_status *status) {
  return status ? status->text.c_str() : "";
}

void seqmix_status_destroy(seqmix_status *status) { delete status; }

seqmix_status *seqmix_compile_to_file(const char *source, size_t length,
                                      const char *source_name,
                                      const seqmix_compile_options *options,
                                      const char *emit,
                                      const char *output_path) {
  auto *status = new seqmix_status();
  llvm::StringRef kind = emit ? emit : "";
  if (kind != "so" && kind != "obj")
    status->addDriverError("seqmix_compile_to_file emits \"so\" or \"obj\", "
                           "got \"" +
                           kind.str() + "\"");
  else if (!output_path || !*output_path)
    status->addDriverError("no output path given");
  else
    compileWith(source, length, source_name, options, kLastPhase, true, *status,
                [&](Compilation &c, const DriverOptions &opts, auto error) {
                  std::string text;
                  (void)emitNative(c, kind, output_path, opts, text, error);
                });
  status->finish();
  return status;
}

seqmix_status *seqmix_compile_to_buffer(const char *source, size_t length,
                                        const char *source_name,
                                        const seqmix_compile_options *options,
                                        const char *phase, const char *emit,
                                        void **data, size_t *size) {
  auto *status = new seqmix_status();
  if (data)
    *data = nullptr;
  if (size)
    *size = 0;
  llvm::StringRef kind = emit ? emit : "";
  bool native =
      kind == "llvm" || kind == "asm" || kind == "obj" || kind == "so";
  std::optional<Phase> to = kLastPhase;
  if (!data || !size) {
    status->addDriverError("no place for the result (data or size is NULL)");
  } else if (!native && kind != "mlir" && kind != "metadata") {
    status->addDriverError("emit must be mlir, metadata, llvm, asm, obj or "
                           "so, got \"" +
                           kind.str() + "\"");
  } else if (phase && *phase && !(to = parsePhase(phase))) {
    status->addDriverError("phase must be one of " + phaseList() + ", got \"" +
                           std::string(phase) + "\"");
  } else if (native && *to != kLastPhase) {
    status->addDriverError("emit \"" + kind.str() +
                           "\" needs the whole pipeline (phase llvm)");
  } else {
    compileWith(
        source, length, source_name, options, *to, native || kind == "metadata",
        *status, [&](Compilation &c, const DriverOptions &opts, auto error) {
          std::string text;
          if (kind == "metadata") {
            text = c.metadata;
          } else if (kind == "mlir") {
            llvm::raw_string_ostream os(text);
            c.module->print(os);
          } else if (kind == "llvm" || kind == "asm") {
            if (failed(emitNative(c, kind, "", opts, text, error)))
              return;
          } else {
            // A binary: through a temporary file.
            llvm::SmallString<128> tmp;
            if (auto ec = llvm::sys::fs::createTemporaryFile(
                    "seqmix-buffer", kind == "so" ? "so" : "o", tmp)) {
              error("cannot create a temporary file: " + ec.message());
              return;
            }
            bool ok = succeeded(emitNative(c, kind, tmp, opts, text, error));
            if (ok) {
              auto buf = llvm::MemoryBuffer::getFile(tmp, /*IsText=*/false);
              if (!buf) {
                error("cannot read back '" + tmp +
                      "': " + buf.getError().message());
                ok = false;
              } else {
                text = (*buf)->getBuffer().str();
              }
            }
            llvm::sys::fs::remove(tmp);
            if (!ok)
              return;
          }
          char *out = copyText(text);
          if (!out) {
            error("out of memory for a " + llvm::Twine(text.size()) +
                  "-byte result");
            return;
          }
          *data = out;
          *size = text.size();
        });
  }
  status->finish();
  return status;
}

void seqmix_free_buffer(void *data) { std::free(data); }

} // extern "C"
