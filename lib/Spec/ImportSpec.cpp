//===- ImportSpec.cpp - layer spec to a func.func holding the seqmix op ---===//
#include "seqmix/Spec/ImportSpec.h"

#include "seqmix/SeqMixDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Verifier.h"
#include "llvm/ADT/StringMap.h"

using namespace mlir;
using namespace mlir::seqmix;
using ::seqmix::LayerSpec;
using ::seqmix::Mixer;
using ::seqmix::TensorDesc;

namespace {
Type tensorType(MLIRContext *ctx, const TensorDesc &d) {
  SmallVector<int64_t> shape;
  for (int64_t s : d.shape)
    shape.push_back(s < 0 ? ShapedType::kDynamic : s);
  Type f32 = Float32Type::get(ctx);
  Type real = d.dtype == "bf16"  ? Type(BFloat16Type::get(ctx))
              : d.dtype == "f16" ? Type(Float16Type::get(ctx))
                                 : f32;
  Type elem = d.complex ? Type(ComplexType::get(f32)) : real;
  return RankedTensorType::get(shape, elem);
}

DictionaryAttr describe(Builder &b, const TensorDesc &d) {
  SmallVector<Attribute> dims;
  for (const std::string &n : d.dims)
    dims.push_back(b.getStringAttr(n));
  return b.getDictionaryAttr(
      {b.getNamedAttr("seqmix.name", b.getStringAttr(d.name)),
       b.getNamedAttr("seqmix.dims", b.getArrayAttr(dims))});
}

} // namespace

OwningOpRef<ModuleOp> mlir::seqmix::importLayerSpec(const LayerSpec &spec,
                                                    MLIRContext *ctx) {
  ctx->loadDialect<SeqMixDialect, func::FuncDialect>();
  // Diagnostics on the function point at the spec's "name" field, those on
  // the op (its verifier) at the "mixer" field.
  std::string file = spec.source.empty() ? spec.name + ".json" : spec.source;
  auto fieldLoc = [&](StringRef field) -> Location {
    auto it = spec.fieldPositions.find(field.str());
    ::seqmix::TextPosition pos =
        it == spec.fieldPositions.end() ? ::seqmix::TextPosition{} : it->second;
    return FileLineColLoc::get(ctx, file, pos.line, pos.column);
  };
  Location loc = fieldLoc("name");
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  OpBuilder b(ctx);
  b.setInsertionPointToEnd(module->getBody());

  std::vector<TensorDesc> ins = spec.inputs(), outs = spec.outputs();
  SmallVector<Type> argTypes, resTypes;
  for (const TensorDesc &d : ins)
    argTypes.push_back(tensorType(ctx, d));
  for (const TensorDesc &d : outs)
    resTypes.push_back(tensorType(ctx, d));
  auto fn = func::FuncOp::create(b, loc, spec.name,
                                 b.getFunctionType(argTypes, resTypes));
  fn->setAttr("llvm.emit_c_interface", b.getUnitAttr());
  for (auto [i, d] : llvm::enumerate(ins))
    fn.setArgAttrs(i, describe(b, d));
  for (auto [i, d] : llvm::enumerate(outs))
    fn.setResultAttrs(i, describe(b, d));
  Block *entry = fn.addEntryBlock();
  b.setInsertionPointToStart(entry);
  loc = fieldLoc("mixer");
  llvm::StringMap<Value> arg;
  for (auto [i, d] : llvm::enumerate(ins))
    arg[d.name] = entry->getArgument(i);
  auto opt = [&](StringRef name) -> Value { return arg.lookup(name); };
  Type out = resTypes[0];
  Type fin = resTypes.size() > 1 ? resTypes[1] : Type();
  SmallVector<Type> results = {out};
  if (fin)
    results.push_back(fin);
  Value init = opt("initial_state");
  FloatAttr scale = b.getF32FloatAttr(static_cast<float>(spec.scale));

  Operation *op = nullptr;
  switch (spec.mixer) {
  case Mixer::SoftmaxAttention: {
    // The optional second result is the log-sum-exp (spec "outputs").
    auto o = SoftmaxAttentionOp::create(
        b, loc, results, arg["q"], arg["k"], arg["v"], scale,
        b.getBoolAttr(spec.causal),
        spec.window ? b.getI64IntegerAttr(*spec.window) : IntegerAttr(),
        FormAttr());
    op = o;
    break;
  }
  case Mixer::LinearAttention: {
    auto fm = FeatureMapAttr::get(ctx, *symbolizeFeatureMap(spec.featureMap));
    op = LinearAttentionOp::create(
        b, loc, results, arg["q"], arg["k"], arg["v"], init, fm, scale,
        b.getBoolAttr(spec.normalize),
        b.getF32FloatAttr(static_cast<float>(spec.eps)),
        b.getBoolAttr(spec.causal), FormAttr());
    break;
  }
  case Mixer::GatedLinearAttention: {
    auto gate = GateKindAttr::get(ctx, *symbolizeGateKind(spec.gate));
    DenseF32ArrayAttr decay;
    if (spec.gate == "constant") {
      SmallVector<float> d(spec.logDecay.begin(), spec.logDecay.end());
      decay = b.getDenseF32ArrayAttr(d);
    }
    op = GatedLinearAttentionOp::create(b, loc, results, arg["q"], arg["k"],
                                        arg["v"], opt("g"), init, gate, scale,
                                        decay, FormAttr());
    break;
  }
  case Mixer::DeltaRule:
    op = DeltaRuleOp::create(
        b, loc, results, arg["q"], arg["k"], arg["v"], arg["beta"], opt("g"),
        init, scale, b.getBoolAttr(spec.l2normQK),
        b.getF32FloatAttr(static_cast<float>(spec.eps)), FormAttr());
    break;
  case Mixer::SelectiveScan:
    op = SelectiveScanOp::create(b, loc, results, arg["u"], arg["delta"],
                                 arg["A"], arg["B"], arg["C"], opt("D"),
                                 opt("z"), opt("delta_bias"), init,
                                 b.getBoolAttr(spec.deltaSoftplus), FormAttr());
    break;
  case Mixer::LTIScan: {
    auto disc = DiscretizationAttr::get(
        ctx, *symbolizeDiscretization(spec.discretization));
    op = LTIScanOp::create(b, loc, results, arg["u"], arg["A"], arg["B"],
                           arg["C"], arg["log_dt"], opt("D"), init, disc,
                           FormAttr());
    break;
  }
  case Mixer::CausalConv1d:
    op = CausalConv1dOp::create(b, loc, results, arg["x"], arg["weight"],
                                opt("bias"), init, b.getBoolAttr(spec.silu),
                                FormAttr());
    break;
  }
  if (spec.form != "auto") {
    FormKind kind = *symbolizeFormKind(spec.form);
    int64_t chunk =
        kind == FormKind::chunked ? (spec.chunkSize ? spec.chunkSize : 64) : 0;
    op->setAttr(kFormAttrName, FormAttr::get(ctx, kind, chunk));
  }
  func::ReturnOp::create(b, loc, op->getResults());
  if (failed(verify(*module)))
    return nullptr;
  return module;
}
