//===- SeqMixOps.cpp - seqmix op verifiers --------------------------------===//
//
// Every constraint Cn listed in an op's description is checked here; the
// message starts with "[Cn]" so that a user can look it up in docs/.
//
//===----------------------------------------------------------------------===//
#include "SeqMixDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "mlir/IR/OpImplementation.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cmath>

using namespace mlir;
using namespace mlir::seqmix;

#define GET_OP_CLASSES
#include "seqmix/SeqMixOps.cpp.inc"

namespace {
/// One dimension of an expected shape: a symbolic name ("B", "T", ...) bound on
/// first use, or a literal size that must match exactly.
struct Dim {
  Dim(const char *name) : name(name) {}
  Dim(std::string name, int64_t size) : name(std::move(name)), size(size) {}
  std::string name;
  int64_t size = ShapedType::kDynamic;
};

/// Checks operand shapes against named dimensions and reports the first
/// mismatch with the operand, the dimension and both sizes.
class ShapeChecker {
public:
  explicit ShapeChecker(Operation *op) : op(op) {}

  LogicalResult check(Value value, StringRef operand, ArrayRef<Dim> dims,
                      StringRef rankCid, StringRef dimCid) {
    auto type = dyn_cast<RankedTensorType>(value.getType());
    std::string layout = "[";
    for (auto [i, d] : llvm::enumerate(dims))
      layout += (i ? ", " : "") + d.name;
    layout += "]";
    if (!type || type.getRank() != static_cast<int64_t>(dims.size()))
      return op->emitOpError()
             << "[" << rankCid << "] " << operand << " must be a rank-"
             << dims.size() << " tensor " << layout << ", got "
             << value.getType();
    for (auto [i, d] : llvm::enumerate(dims)) {
      int64_t got = type.getDimSize(i);
      if (got == 0)
        return op->emitOpError()
               << "[" << rankCid << "] dimension " << i << " (" << d.name
               << ") of " << operand
               << " must be >= 1 (empty tensors are not supported), got 0";
      if (d.size != ShapedType::kDynamic) {
        if (!ShapedType::isDynamic(got) && got != d.size)
          return op->emitOpError() << "[" << dimCid << "] dimension " << i
                                   << " (" << d.name << ") of " << operand
                                   << " must be " << d.size << ", got " << got;
        continue;
      }
      if (ShapedType::isDynamic(got))
        continue;
      auto it = bound.find(d.name);
      if (it == bound.end()) {
        bound[d.name] = {got, operand.str()};
        continue;
      }
      if (it->second.first != got)
        return op->emitOpError()
               << "[" << dimCid << "] dimension " << d.name << " is "
               << it->second.first << " in " << it->second.second << " but "
               << got << " in " << operand;
    }
    return success();
  }

  /// The static size bound to `name`, or kDynamic.
  int64_t get(StringRef name) const {
    auto it = bound.find(name);
    return it == bound.end() ? ShapedType::kDynamic : it->second.first;
  }

private:
  Operation *op;
  llvm::StringMap<std::pair<int64_t, std::string>> bound;
};

Type elementType(Value v) {
  return cast<ShapedType>(v.getType()).getElementType();
}

/// All of `values` have the same float element type.
LogicalResult checkSameFloat(Operation *op,
                             ArrayRef<std::pair<Value, StringRef>> values,
                             StringRef cid) {
  Type first = elementType(values.front().first);
  if (!isa<FloatType>(first))
    return op->emitOpError()
           << "[" << cid << "] " << values.front().second
           << " must have a float element type, got " << first;
  for (auto [v, name] : values.drop_front())
    if (elementType(v) != first)
      return op->emitOpError()
             << "[" << cid << "] " << name << " has element type "
             << elementType(v) << " but " << values.front().second << " has "
             << first;
  return success();
}

LogicalResult checkF32(Operation *op, Value v, StringRef name, StringRef cid) {
  if (!elementType(v).isF32())
    return op->emitOpError()
           << "[" << cid << "] " << name << " must have element type f32, got "
           << elementType(v);
  return success();
}

LogicalResult checkFinite(Operation *op, float x, StringRef name, StringRef cid,
                          bool positive = false, bool nonNegative = false) {
  if (!std::isfinite(x))
    return op->emitOpError() << "[" << cid << "] " << name << " must be finite";
  if (positive && !(x > 0))
    return op->emitOpError()
           << "[" << cid << "] " << name << " must be > 0, got " << x;
  if (nonNegative && x < 0)
    return op->emitOpError()
           << "[" << cid << "] " << name << " must be >= 0, got " << x;
  return success();
}

/// Shared check of an optional initial state and final state.
LogicalResult checkStates(Operation *op, ShapeChecker &shapes, Value init,
                          Value final, ArrayRef<Dim> dims, StringRef cid,
                          Type elem = nullptr) {
  for (auto [v, name] : {std::pair<Value, StringRef>{init, "initial_state"},
                         std::pair<Value, StringRef>{final, "final_state"}}) {
    if (!v)
      continue;
    if (failed(shapes.check(v, name, dims, cid, cid)))
      return failure();
    if (elem) {
      if (elementType(v) != elem)
        return op->emitOpError()
               << "[" << cid << "] " << name << " must have element type "
               << elem << ", got " << elementType(v);
    } else if (failed(checkF32(op, v, name, cid))) {
      return failure();
    }
  }
  return success();
}

/// The operands shared by linear, gated linear and delta-rule attention
/// (C1-C3 of each): q, k [B, H, T, K], v and the result [B, Hv, T, V], and one
/// float element type over them and `alsoSameType` ([B, Hv, T]). With
/// `groupedValues` the value heads Hv may be any multiple of H (grouped value
/// heads); otherwise Hv is H.
LogicalResult checkQKV(Operation *op, ShapeChecker &s, Value q, Value k,
                       Value v, Value out,
                       ArrayRef<std::pair<Value, StringRef>> alsoSameType = {},
                       bool groupedValues = false) {
  Dim hv = groupedValues ? "Hv" : "H";
  if (failed(s.check(q, "q", {"B", "H", "T", "K"}, "C1", "C3")) ||
      failed(s.check(k, "k", {"B", "H", "T", "K"}, "C1", "C3")) ||
      failed(s.check(v, "v", {"B", hv, "T", "V"}, "C1", "C3")))
    return failure();
  for (auto [value, name] : alsoSameType)
    if (failed(s.check(value, name, {"B", hv, "T"}, "C1", "C3")))
      return failure();
  if (failed(s.check(out, "result", {"B", hv, "T", "V"}, "C1", "C1")))
    return failure();
  if (groupedValues) {
    int64_t h = s.get("H"), vh = s.get("Hv");
    if (!ShapedType::isDynamic(h) && !ShapedType::isDynamic(vh) &&
        (h == 0 || vh % h != 0))
      return op->emitOpError()
             << "[C3] value heads (" << vh << ", in v) must be a multiple of "
             << "heads (" << h << ", in q and k)";
  }
  SmallVector<std::pair<Value, StringRef>> same = {
      {q, "q"}, {k, "k"}, {v, "v"}};
  same.append(alsoSameType.begin(), alsoSameType.end());
  same.push_back({out, "result"});
  return checkSameFloat(op, same, "C2");
}
} // namespace

//===----------------------------------------------------------------------===//
// softmax_attention
//===----------------------------------------------------------------------===//

LogicalResult SoftmaxAttentionOp::verify() {
  ShapeChecker s(*this);
  if (failed(s.check(getQ(), "q", {"B", "H", "Tq", "K"}, "C1", "C3")) ||
      failed(s.check(getK(), "k", {"B", "Hkv", "Tk", "K"}, "C1", "C3")) ||
      failed(s.check(getV(), "v", {"B", "Hkv", "Tk", "V"}, "C1", "C3")) ||
      failed(s.check(getOut(), "result", {"B", "H", "Tq", "V"}, "C1", "C1")))
    return failure();
  if (failed(checkSameFloat(
          *this,
          {{getQ(), "q"}, {getK(), "k"}, {getV(), "v"}, {getOut(), "result"}},
          "C2")))
    return failure();
  int64_t h = s.get("H"), hkv = s.get("Hkv");
  if (!ShapedType::isDynamic(h) && !ShapedType::isDynamic(hkv) &&
      (hkv == 0 || h % hkv != 0))
    return emitOpError() << "[C4] query heads (" << h
                         << ") must be a multiple of kv heads (" << hkv << ")";
  // I64Attr is signless and its accessor zero-extends; C5 is a signed bound.
  if (IntegerAttr window = getWindowAttr(); window && window.getInt() < 1)
    return emitOpError() << "[C5] window must be >= 1, got " << window.getInt();
  if (failed(
          checkFinite(*this, getScale().convertToFloat(), "scale", "C6", true)))
    return failure();
  if (Value lse = getLse())
    if (failed(s.check(lse, "lse", {"B", "H", "Tq"}, "C7", "C7")) ||
        failed(checkF32(*this, lse, "lse", "C7")))
      return failure();
  return success();
}

//===----------------------------------------------------------------------===//
// linear_attention
//===----------------------------------------------------------------------===//

int64_t LinearAttentionOp::getFeatureDim() {
  int64_t k = cast<RankedTensorType>(getQ().getType()).getDimSize(3);
  if (ShapedType::isDynamic(k))
    return k;
  return featureDim(getFeatureMap(), k);
}

LogicalResult LinearAttentionOp::verify() {
  ShapeChecker s(*this);
  if (failed(checkQKV(*this, s, getQ(), getK(), getV(), getOut())))
    return failure();
  if (getFeatureMap() == FeatureMap::identity && getNormalize())
    return emitOpError() << "[C4] the identity feature map cannot be used with "
                            "normalize (the denominator can cross zero); use "
                            "elu1, relu or taylor";
  if (failed(checkFinite(*this, getEps().convertToFloat(), "eps", "C5", false,
                         true)) ||
      failed(checkFinite(*this, getScale().convertToFloat(), "scale", "C5")))
    return failure();
  int64_t kf = getFeatureDim();
  int64_t vcols = s.get("V");
  if (!ShapedType::isDynamic(vcols) && getNormalize())
    vcols += 1;
  Dim kDim = ShapedType::isDynamic(kf) ? Dim("K'", ShapedType::kDynamic)
                                       : Dim("K'", kf);
  Dim vDim = ShapedType::isDynamic(vcols)
                 ? Dim(getNormalize() ? "V+1" : "V", ShapedType::kDynamic)
                 : Dim(getNormalize() ? "V+1" : "V", vcols);
  if (failed(checkStates(*this, s, getInitialState(), getFinalState(),
                         {"B", "H", kDim, vDim}, "C6")))
    return failure();
  if (!getCausal() && (getInitialState() || getFinalState()))
    return emitOpError()
           << "[C7] a state (initial or final) requires causal = true";
  return success();
}

//===----------------------------------------------------------------------===//
// gated_linear_attention
//===----------------------------------------------------------------------===//

LogicalResult GatedLinearAttentionOp::verify() {
  ShapeChecker s(*this);
  if (failed(checkQKV(*this, s, getQ(), getK(), getV(), getOut(), {},
                      /*groupedValues=*/true)))
    return failure();
  GateKind gate = getGate();
  StringRef gateName = stringifyGateKind(gate);
  switch (gate) {
  case GateKind::none:
    if (getG() || getLogDecay())
      return emitOpError()
             << "[C4] gate 'none' takes neither a gate operand nor log_decay";
    break;
  case GateKind::constant: {
    if (getG())
      return emitOpError()
             << "[C5] gate 'constant' takes no gate operand; give "
                "log_decay instead";
    if (!getLogDecay())
      return emitOpError()
             << "[C5] gate 'constant' needs log_decay (one log gate per head)";
    ArrayRef<float> decay = *getLogDecay();
    int64_t h = s.get("Hv");
    if (!ShapedType::isDynamic(h) && static_cast<int64_t>(decay.size()) != h)
      return emitOpError() << "[C5] log_decay has " << decay.size()
                           << " values but there are " << h << " (value) heads";
    for (auto [i, x] : llvm::enumerate(decay))
      if (!std::isfinite(x) || x > 0)
        return emitOpError()
               << "[C5] log_decay[" << i
               << "] must be finite and <= 0 (a decay in (0, 1]), got " << x;
    break;
  }
  case GateKind::scalar:
  case GateKind::vector: {
    if (getLogDecay())
      return emitOpError() << "[C6] gate '" << gateName
                           << "' takes no log_decay";
    if (!getG())
      return emitOpError() << "[C6] gate '" << gateName
                           << "' needs a gate operand g";
    SmallVector<Dim> dims = {"B", "Hv", "T"};
    if (gate == GateKind::vector)
      dims.push_back("K");
    if (failed(s.check(getG(), "g", dims, "C6", "C6")) ||
        failed(checkF32(*this, getG(), "g (log gates)", "C6")))
      return failure();
    break;
  }
  }
  if (failed(checkStates(*this, s, getInitialState(), getFinalState(),
                         {"B", "Hv", "K", "V"}, "C7")))
    return failure();
  return checkFinite(*this, getScale().convertToFloat(), "scale", "C8");
}

//===----------------------------------------------------------------------===//
// delta_rule
//===----------------------------------------------------------------------===//

LogicalResult DeltaRuleOp::verify() {
  ShapeChecker s(*this);
  if (failed(checkQKV(*this, s, getQ(), getK(), getV(), getOut(),
                      {{getBeta(), "beta"}}, /*groupedValues=*/true)))
    return failure();
  if (getG() && (failed(s.check(getG(), "g", {"B", "Hv", "T"}, "C4", "C4")) ||
                 failed(checkF32(*this, getG(), "g (log gates)", "C4"))))
    return failure();
  if (failed(checkStates(*this, s, getInitialState(), getFinalState(),
                         {"B", "Hv", "K", "V"}, "C5")))
    return failure();
  if (failed(checkFinite(*this, getScale().convertToFloat(), "scale", "C6")) ||
      failed(checkFinite(*this, getEps().convertToFloat(), "eps", "C6", true)))
    return failure();
  return success();
}

//===----------------------------------------------------------------------===//
// selective_scan
//===----------------------------------------------------------------------===//

LogicalResult SelectiveScanOp::verify() {
  ShapeChecker s(*this);
  if (failed(s.check(getU(), "u", {"B", "D", "T"}, "C1", "C3")) ||
      failed(s.check(getDelta(), "delta", {"B", "D", "T"}, "C1", "C3")) ||
      failed(s.check(getA(), "A", {"D", "N"}, "C1", "C3")) ||
      failed(s.check(getB(), "B", {"B", "G", "N", "T"}, "C1", "C3")) ||
      failed(s.check(getC(), "C", {"B", "G", "N", "T"}, "C1", "C3")) ||
      failed(s.check(getOut(), "result", {"B", "D", "T"}, "C1", "C1")))
    return failure();
  if (getDSkip() && failed(s.check(getDSkip(), "D_skip", {"D"}, "C1", "C3")))
    return failure();
  if (getZ() && failed(s.check(getZ(), "z", {"B", "D", "T"}, "C1", "C3")))
    return failure();
  if (getDeltaBias() &&
      failed(s.check(getDeltaBias(), "delta_bias", {"D"}, "C1", "C3")))
    return failure();
  SmallVector<std::pair<Value, StringRef>> same = {{getU(), "u"},
                                                   {getDelta(), "delta"},
                                                   {getB(), "B"},
                                                   {getC(), "C"},
                                                   {getOut(), "result"}};
  if (getDSkip())
    same.push_back({getDSkip(), "D_skip"});
  if (getZ())
    same.push_back({getZ(), "z"});
  if (failed(checkSameFloat(*this, same, "C2")) ||
      failed(checkF32(*this, getA(), "A", "C2")) ||
      (getDeltaBias() &&
       failed(checkF32(*this, getDeltaBias(), "delta_bias", "C2"))))
    return failure();
  int64_t d = s.get("D"), g = s.get("G");
  if (!ShapedType::isDynamic(d) && !ShapedType::isDynamic(g) &&
      (g == 0 || d % g != 0))
    return emitOpError() << "[C4] channels (" << d
                         << ") must be a multiple of groups (" << g << ")";
  return checkStates(*this, s, getInitialState(), getFinalState(),
                     {"B", "D", "N"}, "C5");
}

//===----------------------------------------------------------------------===//
// lti_scan
//===----------------------------------------------------------------------===//

LogicalResult LTIScanOp::verify() {
  ShapeChecker s(*this);
  if (failed(s.check(getU(), "u", {"B", "H", "T"}, "C1", "C3")) ||
      failed(s.check(getA(), "A", {"H", "N'"}, "C1", "C3")) ||
      failed(s.check(getB(), "B", {"H", "N'"}, "C1", "C3")) ||
      failed(s.check(getC(), "C", {"H", "N'"}, "C1", "C3")) ||
      failed(s.check(getLogDt(), "log_dt", {"H"}, "C1", "C3")) ||
      failed(s.check(getOut(), "result", {"B", "H", "T"}, "C1", "C1")))
    return failure();
  if (getDSkip() && failed(s.check(getDSkip(), "D_skip", {"H"}, "C1", "C3")))
    return failure();
  if (failed(
          checkSameFloat(*this, {{getU(), "u"}, {getOut(), "result"}}, "C2")) ||
      failed(checkF32(*this, getLogDt(), "log_dt", "C2")) ||
      (getDSkip() && failed(checkF32(*this, getDSkip(), "D_skip", "C2"))))
    return failure();
  Type modeType = elementType(getA());
  auto complex = dyn_cast<ComplexType>(modeType);
  if (!modeType.isF32() && !(complex && complex.getElementType().isF32()))
    return emitOpError() << "[C2] A must have element type f32 (real mode) or "
                            "complex<f32> (complex mode), got "
                         << modeType;
  for (auto [v, name] :
       {std::pair<Value, StringRef>{getB(), "B"}, {getC(), "C"}})
    if (elementType(v) != modeType)
      return emitOpError() << "[C2] " << name << " has element type "
                           << elementType(v) << " but A has " << modeType;
  return checkStates(*this, s, getInitialState(), getFinalState(),
                     {"B", "H", "N'"}, "C4", modeType);
}

//===----------------------------------------------------------------------===//
// causal_conv1d
//===----------------------------------------------------------------------===//

LogicalResult CausalConv1dOp::verify() {
  ShapeChecker s(*this);
  if (failed(s.check(getX(), "x", {"B", "D", "T"}, "C1", "C3")) ||
      failed(s.check(getWeight(), "weight", {"D", "W"}, "C1", "C3")) ||
      failed(s.check(getOut(), "result", {"B", "D", "T"}, "C1", "C1")))
    return failure();
  if (getBias() && failed(s.check(getBias(), "bias", {"D"}, "C1", "C3")))
    return failure();
  SmallVector<std::pair<Value, StringRef>> same = {
      {getX(), "x"}, {getWeight(), "weight"}, {getOut(), "result"}};
  if (getBias())
    same.push_back({getBias(), "bias"});
  if (failed(checkSameFloat(*this, same, "C2")))
    return failure();
  int64_t w = cast<RankedTensorType>(getWeight().getType()).getDimSize(1);
  if (ShapedType::isDynamic(w))
    return emitOpError() << "[C4] the width W (dimension 1 of weight) must "
                            "be static";
  if ((getInitialState() || getFinalState()) && w == 1)
    return emitOpError() << "[C5] a convolution of width 1 has no state "
                            "(W - 1 = 0 inputs)";
  return checkStates(*this, s, getInitialState(), getFinalState(),
                     {"B", "D", Dim("W - 1", w - 1)}, "C5",
                     elementType(getX()));
}

//===----------------------------------------------------------------------===//
// Dimension roles
//===----------------------------------------------------------------------===//

SmallVector<std::pair<Value, SmallVector<StringRef>>>
mlir::seqmix::getDimensionRoles(Operation *op) {
  SmallVector<std::pair<Value, SmallVector<StringRef>>> roles;
  auto add = [&](Value v, SmallVector<StringRef> dims) {
    if (v)
      roles.push_back({v, std::move(dims)});
  };
  // The heads of v, the gates, the states and the result: "heads", or
  // "value_heads" when they differ from those of q (grouped value heads).
  auto valueHeads = [](Value q, Value v) -> StringRef {
    int64_t h = cast<RankedTensorType>(q.getType()).getDimSize(1);
    int64_t vh = cast<RankedTensorType>(v.getType()).getDimSize(1);
    return h == vh ? "heads" : "value_heads";
  };
  auto addAttention = [&](Value q, Value k, Value v, Value out, Value init,
                          Value fin, StringRef stateRows) {
    StringRef hv = valueHeads(q, v);
    add(q, {"batch", "heads", "seq_len", "key_dim"});
    add(k, {"batch", "heads", "seq_len", "key_dim"});
    add(v, {"batch", hv, "seq_len", "value_dim"});
    add(out, {"batch", hv, "seq_len", "value_dim"});
    add(init, {"batch", hv, stateRows, "state_cols"});
    add(fin, {"batch", hv, stateRows, "state_cols"});
  };
  llvm::TypeSwitch<Operation *>(op)
      .Case<SoftmaxAttentionOp>([&](auto o) {
        add(o.getQ(), {"batch", "heads", "q_len", "key_dim"});
        add(o.getK(), {"batch", "kv_heads", "kv_len", "key_dim"});
        add(o.getV(), {"batch", "kv_heads", "kv_len", "value_dim"});
        add(o.getOut(), {"batch", "heads", "q_len", "value_dim"});
        if (Value lse = o.getLse())
          add(lse, {"batch", "heads", "q_len"});
      })
      .Case<LinearAttentionOp>([&](auto o) {
        addAttention(o.getQ(), o.getK(), o.getV(), o.getOut(),
                     o.getInitialState(), o.getFinalState(), "feature_dim");
      })
      .Case<GatedLinearAttentionOp>([&](auto o) {
        addAttention(o.getQ(), o.getK(), o.getV(), o.getOut(),
                     o.getInitialState(), o.getFinalState(), "key_dim");
        StringRef hv = valueHeads(o.getQ(), o.getV());
        if (o.getGate() == GateKind::vector)
          add(o.getG(), {"batch", hv, "seq_len", "key_dim"});
        else
          add(o.getG(), {"batch", hv, "seq_len"});
      })
      .Case<DeltaRuleOp>([&](auto o) {
        addAttention(o.getQ(), o.getK(), o.getV(), o.getOut(),
                     o.getInitialState(), o.getFinalState(), "key_dim");
        StringRef hv = valueHeads(o.getQ(), o.getV());
        add(o.getBeta(), {"batch", hv, "seq_len"});
        add(o.getG(), {"batch", hv, "seq_len"});
      })
      .Case<SelectiveScanOp>([&](auto o) {
        for (Value v : {o.getU(), o.getDelta(), o.getZ(), o.getOut()})
          add(v, {"batch", "channels", "seq_len"});
        add(o.getA(), {"channels", "state_dim"});
        add(o.getB(), {"batch", "groups", "state_dim", "seq_len"});
        add(o.getC(), {"batch", "groups", "state_dim", "seq_len"});
        add(o.getDSkip(), {"channels"});
        add(o.getDeltaBias(), {"channels"});
        add(o.getInitialState(), {"batch", "channels", "state_dim"});
        add(o.getFinalState(), {"batch", "channels", "state_dim"});
      })
      .Case<CausalConv1dOp>([&](auto o) {
        add(o.getX(), {"batch", "channels", "seq_len"});
        add(o.getOut(), {"batch", "channels", "seq_len"});
        add(o.getWeight(), {"channels", "width"});
        add(o.getBias(), {"channels"});
        add(o.getInitialState(), {"batch", "channels", "conv_state"});
        add(o.getFinalState(), {"batch", "channels", "conv_state"});
      })
      .Case<LTIScanOp>([&](auto o) {
        add(o.getU(), {"batch", "channels", "seq_len"});
        add(o.getOut(), {"batch", "channels", "seq_len"});
        for (Value v : {o.getA(), o.getB(), o.getC()})
          add(v, {"channels", "state_dim"});
        add(o.getLogDt(), {"channels"});
        add(o.getDSkip(), {"channels"});
        add(o.getInitialState(), {"batch", "channels", "state_dim"});
        add(o.getFinalState(), {"batch", "channels", "state_dim"});
      });
  return roles;
}
