//===- CPUTarget.cpp - LLVM IR, object files, shared libraries, JIT -------===//
#include "seqmix/Target/CPU.h"

#include "seqmix/SeqMixDialect.h"
#include "seqmix/Transforms/EntryAnnotations.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/AsmParser/Parser.h"
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/ExecutionEngine/Orc/Mangling.h"
#include "llvm/IR/Constants.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/Linker/Linker.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/TargetParser/Host.h"

#include <cmath>
#include <map>

#ifndef SEQMIX_CLANG_PATH
#define SEQMIX_CLANG_PATH "/usr/lib/llvm-22/bin/clang"
#endif
#ifndef SEQMIX_LLVM_LIBRARY_DIR
#define SEQMIX_LLVM_LIBRARY_DIR "/usr/lib/llvm-22/lib"
#endif

using namespace mlir;
using namespace mlir::seqmix;

extern "C" void *seqmix_scratch_alloc(size_t size);
extern "C" void seqmix_scratch_free(void *ptr);

namespace {

/// The heap functions the memref lowering calls (finalize-memref-to-llvm
/// with use-generic-functions).
constexpr llvm::StringLiteral kAllocFn = "_mlir_memref_to_llvm_alloc";
constexpr llvm::StringLiteral kFreeFn = "_mlir_memref_to_llvm_free";

/// Links the LLVM IR `text` (C compiled with the project) into `layer`;
/// the functions in `internal` become internal to the layer.
LogicalResult linkEmbeddedIR(llvm::Module &layer, const char *text,
                             llvm::StringRef what,
                             ArrayRef<llvm::StringRef> internal) {
  llvm::SMDiagnostic diag;
  std::unique_ptr<llvm::Module> scratch =
      llvm::parseAssemblyString(text, diag, layer.getContext());
  if (!scratch) {
    llvm::errs() << "internal error: the IR of " << what
                 << " does not parse: " << diag.getMessage() << "\n";
    return failure();
  }
  // The layer's own target and flags win.
  scratch->setDataLayout(layer.getDataLayout());
  scratch->setTargetTriple(layer.getTargetTriple());
  if (llvm::NamedMDNode *flags = scratch->getModuleFlagsMetadata())
    scratch->eraseNamedMetadata(flags);
  if (llvm::NamedMDNode *ident = scratch->getNamedMetadata("llvm.ident"))
    scratch->eraseNamedMetadata(ident);
  for (llvm::Function &f : *scratch) {
    f.removeFnAttr("target-cpu");
    f.removeFnAttr("target-features");
    f.removeFnAttr("tune-cpu");
  }
  if (llvm::Linker::linkModules(layer, std::move(scratch))) {
    llvm::errs() << "internal error: cannot link " << what << "\n";
    return failure();
  }
  for (llvm::StringRef name : internal)
    if (llvm::Function *f = layer.getFunction(name); f && !f->isDeclaration())
      f->setLinkage(llvm::GlobalValue::InternalLinkage);
  return success();
}

/// Links LayerScratch.c's allocator into a layer that allocates, its
/// functions internal to the layer.
LogicalResult linkLayerScratch(llvm::Module &layer) {
  if (!layer.getFunction(kAllocFn) && !layer.getFunction(kFreeFn))
    return success();
  static const char kText[] =
#include "LayerScratch.ll.inc"
      ;
  return linkEmbeddedIR(layer, kText, "the layer allocator",
                        {kAllocFn, kFreeFn});
}

/// Links LayerCuda.c's mgpu* functions into a cuda layer's host code (one
/// that calls mgpuLaunchKernel); its table `seqmix_cuda` stays exported,
/// for the runtime to fill.
LogicalResult linkLayerCuda(llvm::Module &layer) {
  if (!layer.getFunction("mgpuLaunchKernel"))
    return success();
  static const char kText[] =
#include "LayerCuda.ll.inc"
      ;
  static const llvm::StringRef kFns[] = {
      "mgpuModuleLoad",    "mgpuModuleLoadJIT",
      "mgpuModuleUnload",  "mgpuModuleGetFunction",
      "mgpuLaunchKernel",  "mgpuStreamCreate",
      "mgpuStreamDestroy", "mgpuStreamSynchronize",
      "mgpuMemAlloc",      "mgpuMemFree"};
  return linkEmbeddedIR(layer, kText, "the CUDA calls", kFns);
}
void initNativeTarget() {
  static bool done = [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    return true;
  }();
  (void)done;
}

/// Appends one "arg in|out <name> <type> dim:size ..." line.
LogicalResult describeTensor(func::FuncOp fn, Type type, DictionaryAttr attrs,
                             bool output, unsigned index, std::string &out) {
  auto tensor = dyn_cast<RankedTensorType>(type);
  if (!tensor)
    return fn.emitError()
           << "entry " << (output ? "result" : "argument") << " #" << index
           << " must be a ranked tensor to build the runtime ABI, got " << type;
  // Static sizes must describe a buffer a caller can pass: >= 1 each, and
  // (with the dynamic ones at 1) a byte size that fits in 63 bits.
  Type elem = tensor.getElementType();
  uint64_t bytes = isa<ComplexType>(elem) ? 8 : elem.isF32() ? 4 : 2;
  for (int64_t d = 0; d < tensor.getRank(); ++d) {
    int64_t s = tensor.getDimSize(d);
    if (ShapedType::isDynamic(s))
      continue;
    if (s < 1)
      return fn.emitError()
             << "entry " << (output ? "result" : "argument") << " #" << index
             << " has a dimension of size " << s << "; every size must be >= 1";
    if (__builtin_mul_overflow(bytes, static_cast<uint64_t>(s), &bytes) ||
        bytes > static_cast<uint64_t>(INT64_MAX))
      return fn.emitError() << "entry " << (output ? "result" : "argument")
                            << " #" << index << " of type " << type
                            << " is too large to address (its size in bytes "
                               "does not fit in 63 bits)";
  }
  std::string typeName;
  if (elem.isF32())
    typeName = "f32";
  else if (elem.isBF16())
    typeName = "bf16";
  else if (elem.isF16())
    typeName = "f16";
  else if (auto c = dyn_cast<ComplexType>(elem);
           c && c.getElementType().isF32())
    typeName = "complex64";
  else
    return fn.emitError()
           << "entry " << (output ? "result" : "argument") << " #" << index
           << " has element type " << elem
           << "; the runtime supports f32, bf16, f16 and complex<f32>";
  std::string name = (output ? "result" : "arg") + std::to_string(index);
  ArrayAttr dimNames;
  if (attrs) {
    if (auto n = attrs.getAs<StringAttr>(kNameAttr))
      name = n.str();
    dimNames = attrs.getAs<ArrayAttr>(kDimsAttr);
  }
  out +=
      std::string("arg ") + (output ? "out " : "in ") + name + " " + typeName;
  for (int64_t d = 0; d < tensor.getRank(); ++d) {
    // A dimension nothing names gets a name of its own, so only its static
    // size is checked.
    std::string dn = name + "_d" + std::to_string(d);
    if (dimNames && d < static_cast<int64_t>(dimNames.size()))
      if (auto s = dyn_cast<StringAttr>(dimNames[d]))
        dn = s.str();
    out += " " + dn + ":" +
           (tensor.isDynamicDim(d) ? std::string("?")
                                   : std::to_string(tensor.getDimSize(d)));
  }
  out += "\n";
  return success();
}
} // namespace

FailureOr<std::string> mlir::seqmix::buildAbiMetadata(ModuleOp module) {
  SmallVector<func::FuncOp> publicFns;
  for (func::FuncOp fn : module.getOps<func::FuncOp>())
    if (fn.isPublic() && !fn.isExternal())
      publicFns.push_back(fn);
  if (publicFns.size() != 1)
    return module.emitError()
           << "a compiled layer needs exactly one public function, found "
           << publicFns.size();
  func::FuncOp fn = publicFns.front();
  if (failed(verifyEntryAnnotations(fn)))
    return failure();
  std::string text = "seqmix-abi 1\nname " + fn.getSymName().str() + "\n";
  for (auto [i, t] : llvm::enumerate(fn.getArgumentTypes()))
    if (failed(describeTensor(fn, t, fn.getArgAttrDict(i), false, i, text)))
      return failure();
  for (auto [i, t] : llvm::enumerate(fn.getResultTypes()))
    if (failed(describeTensor(fn, t, fn.getResultAttrDict(i), true, i, text)))
      return failure();
  return text;
}

namespace {
/// The ABI name of dimension `dim` of `value` when it is an argument of the
/// public entry function (its seqmix.dims annotation), else `fallback`.
std::string entryDimName(Value value, unsigned dim, StringRef fallback) {
  auto arg = dyn_cast<BlockArgument>(value);
  if (!arg)
    return fallback.str();
  auto fn = dyn_cast<func::FuncOp>(arg.getOwner()->getParentOp());
  if (!fn)
    return fallback.str();
  if (auto dims = fn.getArgAttrOfType<ArrayAttr>(arg.getArgNumber(), kDimsAttr))
    if (dim < dims.size())
      if (auto s = dyn_cast<StringAttr>(dims[dim]))
        return s.str();
  return fallback.str();
}
} // namespace

FailureOr<std::string> mlir::seqmix::workspaceLimits(ModuleOp module,
                                                     int64_t workspaceBytes) {
  // The parallel forms keep T_q x T_k f32 matrices per slice (scores, their
  // decay/mask, the segment sums of the scalar gate and a spare for the
  // bufferized temporaries: four of them): each sequence length is capped.
  const int64_t bound = static_cast<int64_t>(
      std::sqrt(static_cast<double>(workspaceBytes) / (4.0 * 4.0)));
  std::map<std::string, int64_t> limits;
  auto limitSeqLen = [&](Operation *op, Value tensor) -> LogicalResult {
    int64_t T = cast<RankedTensorType>(tensor.getType()).getDimSize(2);
    if (!ShapedType::isDynamic(T) && T > bound)
      return op->emitOpError()
             << "the parallel form keeps T x T workspaces, so it takes at "
                "most "
             << bound << " tokens, but a sequence length is static " << T
             << "; use form recurrent or chunked";
    // The name the runtime checks this length under.
    limits[entryDimName(tensor, 2, "seq_len")] = bound;
    return success();
  };
  WalkResult walk = module.walk([&](Operation *op) {
    FormAttr form = getForm(op);
    // A per-call choice runs the parallel form only below its range's end:
    // within the cap, that copy limits nothing.
    if (auto range =
            op->getAttrOfType<DenseI64ArrayAttr>("seqmix.seq_len_range");
        form && range && range.size() == 2 && range[1] > 0 &&
        range[1] - 1 <= bound)
      form = nullptr;
    if (auto gla = dyn_cast<GatedLinearAttentionOp>(op)) {
      // Every form keeps a K x V f32 state per slice (malloc'ed by the
      // compiled code, which cannot report a failed allocation).
      auto qType = cast<RankedTensorType>(gla.getQ().getType());
      auto vType = cast<RankedTensorType>(gla.getV().getType());
      int64_t K = qType.getDimSize(3), V = vType.getDimSize(3);
      if (!ShapedType::isDynamic(K) && !ShapedType::isDynamic(V) &&
          static_cast<double>(K) * static_cast<double>(V) * 4.0 >
              static_cast<double>(workspaceBytes)) {
        gla.emitOpError() << "the state of one head is " << K << " x " << V
                          << " f32 values, more than the "
                          << (workspaceBytes >> 20)
                          << " MiB a slice may hold; use smaller heads";
        return WalkResult::interrupt();
      }
      if (form && form.getKind() == FormKind::parallel &&
          failed(limitSeqLen(op, gla.getQ())))
        return WalkResult::interrupt();
    }
    if (auto softmax = dyn_cast<SoftmaxAttentionOp>(op))
      if (form && form.getKind() == FormKind::parallel &&
          (failed(limitSeqLen(op, softmax.getQ())) ||
           failed(limitSeqLen(op, softmax.getK()))))
        return WalkResult::interrupt();
    return WalkResult::advance();
  });
  if (walk.wasInterrupted())
    return failure();
  std::string lines;
  for (auto &[dim, max] : limits)
    lines += "limit " + dim + " " + std::to_string(max) + "\n";
  return lines;
}

/// The subtarget of the named x86 CPU (`llc-22 -mcpu=help`) on this host's
/// triple; an error for an unknown name.
static llvm::Expected<std::unique_ptr<llvm::MCSubtargetInfo>>
namedCpu(llvm::StringRef cpu) {
  initNativeTarget();
  llvm::Triple triple(llvm::sys::getProcessTriple());
  std::string err;
  const llvm::Target *target = llvm::TargetRegistry::lookupTarget(triple, err);
  if (!target)
    return llvm::createStringError(llvm::inconvertibleErrorCode(), err);
  std::unique_ptr<llvm::MCSubtargetInfo> generic(
      target->createMCSubtargetInfo(triple, "", ""));
  if (!generic || !generic->isCPUStringValid(cpu))
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        "unknown CPU '%s' for %s (llc-22 -mcpu=help lists the names)",
        cpu.str().c_str(), triple.str().c_str());
  return std::unique_ptr<llvm::MCSubtargetInfo>(
      target->createMCSubtargetInfo(triple, cpu, ""));
}

llvm::Expected<int64_t> mlir::seqmix::cpuF32Lanes(llvm::StringRef cpu) {
  auto sti = namedCpu(cpu);
  if (!sti)
    return sti.takeError();
  if ((*sti)->checkFeatures("+avx512f"))
    return 16;
  return (*sti)->checkFeatures("+avx2") ? 8 : 4;
}

llvm::Expected<bool> mlir::seqmix::cpuHasBf16Dot(llvm::StringRef cpu) {
  if (!llvm::Triple(llvm::sys::getProcessTriple()).isX86())
    return false;
  if (cpu == "host")
    return llvm::sys::getHostCPUFeatures().lookup("avx512bf16");
  auto sti = namedCpu(cpu);
  if (!sti)
    return sti.takeError();
  return (*sti)->checkFeatures("+avx512bf16");
}

llvm::Expected<std::unique_ptr<llvm::TargetMachine>>
mlir::seqmix::createCpuTargetMachine(llvm::StringRef cpu, bool forJit) {
  initNativeTarget();
  auto jtmb = llvm::orc::JITTargetMachineBuilder::detectHost();
  if (!jtmb)
    return jtmb.takeError();
  if (cpu != "host") {
    // Reject unknown names up front (LLVM would only warn and fall back).
    std::string err;
    const llvm::Target *target =
        llvm::TargetRegistry::lookupTarget(jtmb->getTargetTriple(), err);
    if (!target)
      return llvm::createStringError(llvm::inconvertibleErrorCode(), err);
    std::unique_ptr<llvm::MCSubtargetInfo> sti(
        target->createMCSubtargetInfo(jtmb->getTargetTriple(), "", ""));
    if (!sti || !sti->isCPUStringValid(cpu))
      return llvm::createStringError(
          llvm::inconvertibleErrorCode(),
          "unknown CPU '%s' for %s (llc-22 -mcpu=help lists the names)",
          cpu.str().c_str(), jtmb->getTargetTriple().str().c_str());
    jtmb->setCPU(cpu.str());
    jtmb->getFeatures() = llvm::SubtargetFeatures();
  }
  jtmb->setCodeGenOptLevel(llvm::CodeGenOptLevel::Aggressive);
  jtmb->setRelocationModel(llvm::Reloc::PIC_);
  // (Measured: the selective scan's recurrence, B=1 D=1536 N=16 T=4096,
  // 3-5 % faster as a .so in the small model; 300 movabs of constant-pool
  // offsets in its loops before, 5 after.)
  if (!forJit)
    jtmb->setCodeModel(llvm::CodeModel::Small);
  // A multiply feeding an add becomes one FMA (as -ffp-contract=fast): half
  // the instructions of the elementwise multiply-adds the vectorizer leaves
  // (state updates, row updates), and one rounding instead of two.
  jtmb->getOptions().AllowFPOpFusion = llvm::FPOpFusion::Fast;
  return jtmb->createTargetMachine();
}

std::unique_ptr<llvm::Module> mlir::seqmix::translateToOptimizedLLVMIR(
    ModuleOp module, llvm::LLVMContext &ctx, llvm::TargetMachine &tm,
    llvm::StringRef metadata) {
  std::unique_ptr<llvm::Module> llvmModule =
      translateModuleToLLVMIR(module, ctx);
  if (!llvmModule)
    return nullptr;
  llvmModule->setDataLayout(tm.createDataLayout());
  llvmModule->setTargetTriple(tm.getTargetTriple());
  if (failed(linkLayerScratch(*llvmModule)) ||
      failed(linkLayerCuda(*llvmModule)))
    return nullptr;
  if (!metadata.empty()) {
    llvm::Constant *text = llvm::ConstantDataArray::getString(ctx, metadata);
    auto *gv = new llvm::GlobalVariable(
        *llvmModule, text->getType(), /*isConstant=*/true,
        llvm::GlobalValue::ExternalLinkage, text, "seqmix_abi_metadata");
    gv->setAlignment(llvm::Align(1));
  }
  auto optimize = makeOptimizingTransformer(3, 0, &tm);
  if (llvm::Error err = optimize(llvmModule.get())) {
    module.emitError() << "LLVM optimization failed: "
                       << llvm::toString(std::move(err));
    return nullptr;
  }
  return llvmModule;
}

FailureOr<std::string> mlir::seqmix::emitAssembly(llvm::Module &module,
                                                  llvm::TargetMachine &tm,
                                                  std::string &error) {
  llvm::SmallString<0> text;
  llvm::raw_svector_ostream os(text);
  llvm::legacy::PassManager pm;
  if (tm.addPassesToEmitFile(pm, os, nullptr,
                             llvm::CodeGenFileType::AssemblyFile)) {
    error = "the target cannot emit assembly";
    return failure();
  }
  pm.run(module);
  return std::string(text.str());
}

LogicalResult mlir::seqmix::emitObjectFile(llvm::Module &module,
                                           llvm::TargetMachine &tm,
                                           llvm::StringRef path,
                                           std::string &error) {
  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec, llvm::sys::fs::OF_None);
  if (ec) {
    error = "cannot open " + path.str() + ": " + ec.message();
    return failure();
  }
  llvm::legacy::PassManager pm;
  if (tm.addPassesToEmitFile(pm, os, nullptr,
                             llvm::CodeGenFileType::ObjectFile)) {
    error = "the target cannot emit object files";
    return failure();
  }
  pm.run(module);
  os.flush();
  return success();
}

bool mlir::seqmix::usesOpenMP(const llvm::Module &module) {
  return module.getFunction("__kmpc_fork_call") != nullptr;
}

bool mlir::seqmix::usesOpenMP(ModuleOp module) {
  bool found = false;
  module.walk([&](Operation *op) {
    if (op->getDialect() && op->getDialect()->getNamespace() == "omp") {
      found = true;
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  return found;
}

std::vector<std::string>
mlir::seqmix::definedExternalSymbols(const llvm::Module &module) {
  std::vector<std::string> names;
  for (const llvm::GlobalValue &gv : module.global_values())
    // (llvm.global_dtors and the like are no symbols of the object.)
    if (!gv.isDeclaration() && !gv.hasLocalLinkage() && gv.hasName() &&
        !gv.getName().starts_with("llvm."))
      names.push_back(gv.getName().str());
  return names;
}

namespace {
/// Removes a temporary file when it goes out of scope.
struct TempFile {
  llvm::SmallString<128> path;
  ~TempFile() {
    if (!path.empty())
      llvm::sys::fs::remove(path);
  }
};

/// The first non-empty lines of `path` (a tool's stderr), joined by "; ".
std::string firstLines(llvm::StringRef path, unsigned max) {
  auto buf = llvm::MemoryBuffer::getFile(path);
  if (!buf)
    return "";
  llvm::SmallVector<llvm::StringRef> lines;
  (*buf)->getBuffer().split(lines, '\n', -1, false);
  std::string out;
  for (llvm::StringRef l : llvm::ArrayRef(lines).take_front(max))
    out += (out.empty() ? "" : "; ") + l.trim().str();
  return out;
}
} // namespace

LogicalResult mlir::seqmix::linkSharedLibrary(
    llvm::StringRef object, llvm::StringRef output, bool openmp,
    llvm::ArrayRef<std::string> exports, std::string &error) {
  std::string clang = SEQMIX_CLANG_PATH;
  if (!llvm::sys::fs::can_execute(clang)) {
    auto found = llvm::sys::findProgramByName("clang-22");
    if (!found) {
      error = "cannot link a shared library: " + clang +
              " not found (install clang-22 and lld-22)";
      return failure();
    }
    clang = *found;
  }
  TempFile script, log;
  int fd = -1;
  if (auto ec = llvm::sys::fs::createTemporaryFile("seqmix-exports", "map", fd,
                                                   script.path)) {
    error = "cannot create a temporary file: " + ec.message();
    return failure();
  }
  {
    llvm::raw_fd_ostream os(fd, /*shouldClose=*/true);
    os << "{\n  global:\n";
    for (const std::string &name : exports)
      os << "    \"" << name << "\";\n";
    os << "  local: *;\n};\n";
  }
  if (auto ec =
          llvm::sys::fs::createTemporaryFile("seqmix-link", "log", log.path)) {
    error = "cannot create a temporary file: " + ec.message();
    return failure();
  }
  std::string libDir = SEQMIX_LLVM_LIBRARY_DIR;
  std::string libPath = "-L" + libDir, rpath = "-Wl,-rpath," + libDir;
  std::string versionScript = ("-Wl,--version-script=" + script.path).str();
  llvm::SmallVector<llvm::StringRef> args = {
      clang,  "-shared", "-fuse-ld=lld", "-o",
      output, object,    "-lm",          versionScript};
  if (openmp) {
    // libomp (LLVM's OpenMP runtime) is found at run time through the rpath.
    args.append({libPath, "-lomp", rpath});
  }
  std::optional<llvm::StringRef> redirects[] = {std::nullopt, log.path.str(),
                                                log.path.str()};
  std::string msg;
  int rc = llvm::sys::ExecuteAndWait(clang, args, std::nullopt, redirects, 0, 0,
                                     &msg);
  if (rc != 0) {
    std::string why = firstLines(log.path, 2);
    if (why.empty())
      why = msg.empty() ? clang + " exited with " + std::to_string(rc) : msg;
    error = "cannot link the layer into '" + output.str() + "': " + why;
    return failure();
  }
  return success();
}

llvm::Expected<std::unique_ptr<ExecutionEngine>>
mlir::seqmix::createJit(ModuleOp module) {
  auto tm = createCpuTargetMachine("host", /*forJit=*/true);
  if (!tm)
    return tm.takeError();
  ExecutionEngineOptions opts;
  static const std::string ompLibrary =
      std::string(SEQMIX_LLVM_LIBRARY_DIR) + "/libomp.so";
  llvm::SmallVector<llvm::StringRef> libs;
  if (usesOpenMP(module))
    libs.push_back(ompLibrary);
  opts.sharedLibPaths = libs;
  auto transformer = makeOptimizingTransformer(3, 0, tm->get());
  opts.transformer = transformer;
  opts.jitCodeGenOptLevel = llvm::CodeGenOptLevel::Aggressive;
  auto engine = ExecutionEngine::create(module, opts, std::move(*tm));
  if (!engine)
    return engine.takeError();
  // The layer allocator: the compiler's own copy (LayerScratchHost.cpp).
  (*engine)->registerSymbols([](llvm::orc::MangleAndInterner interner) {
    llvm::orc::SymbolMap symbols;
    symbols[interner(kAllocFn)] = {
        llvm::orc::ExecutorAddr::fromPtr(&seqmix_scratch_alloc),
        llvm::JITSymbolFlags::Exported};
    symbols[interner(kFreeFn)] = {
        llvm::orc::ExecutorAddr::fromPtr(&seqmix_scratch_free),
        llvm::JITSymbolFlags::Exported};
    return symbols;
  });
  return engine;
}
