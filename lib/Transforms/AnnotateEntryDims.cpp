//===- AnnotateEntryDims.cpp - dimension names for the runtime ABI --------===//
#include "seqmix/SeqMixDialect.h"
#include "seqmix/Transforms/EntryAnnotations.h"
#include "seqmix/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"

namespace mlir::seqmix {
#define GEN_PASS_DEF_SEQMIXANNOTATEENTRYDIMS
#include "seqmix/Transforms/Passes.h.inc"
} // namespace mlir::seqmix

using namespace mlir;
using namespace mlir::seqmix;

bool mlir::seqmix::isAbiIdentifier(StringRef s) {
  if (s.empty() || s.size() > 128 || !(llvm::isAlpha(s[0]) || s[0] == '_'))
    return false;
  return llvm::all_of(s, [](char c) { return llvm::isAlnum(c) || c == '_'; });
}

namespace {
/// One entry argument or result, for messages and checks.
struct EntryTensor {
  std::string what; // "argument #2 ('g')"
  RankedTensorType type;
  DictionaryAttr attrs;
  /// The dimension names it will have in the metadata, when annotated.
  SmallVector<StringRef> dims;
};

std::string describe(bool result, unsigned index, DictionaryAttr attrs) {
  std::string s = (result ? "result #" : "argument #") + std::to_string(index);
  if (attrs)
    if (auto n = attrs.getAs<StringAttr>(kNameAttr);
        n && isAbiIdentifier(n.getValue()))
      s += " ('" + n.str() + "')";
  return s;
}

SmallVector<EntryTensor> entryTensors(func::FuncOp fn) {
  SmallVector<EntryTensor> all;
  auto add = [&](bool result, unsigned i, Type t, DictionaryAttr attrs) {
    all.push_back(
        {describe(result, i, attrs), dyn_cast<RankedTensorType>(t), attrs, {}});
  };
  for (auto [i, t] : llvm::enumerate(fn.getArgumentTypes()))
    add(false, i, t, fn.getArgAttrDict(i));
  for (auto [i, t] : llvm::enumerate(fn.getResultTypes()))
    add(true, i, t, fn.getResultAttrDict(i));
  return all;
}
} // namespace

LogicalResult mlir::seqmix::verifyEntryAnnotations(func::FuncOp fn) {
  if (!isAbiIdentifier(fn.getSymName()))
    return fn.emitError() << "the layer's entry function is named '"
                          << fn.getSymName()
                          << "'; a layer name must be an identifier "
                             "([A-Za-z_][A-Za-z0-9_]*, at most 128 "
                             "characters)";
  llvm::StringSet<> names;
  llvm::StringMap<std::pair<int64_t, std::string>> staticSize;
  for (EntryTensor &t : entryTensors(fn)) {
    if (!t.attrs)
      continue;
    if (Attribute a = t.attrs.get(kNameAttr)) {
      auto s = dyn_cast<StringAttr>(a);
      if (!s || !isAbiIdentifier(s.getValue()))
        return fn.emitError()
               << "entry " << t.what << ": " << kNameAttr
               << " must be a string holding an identifier "
                  "([A-Za-z_][A-Za-z0-9_]*, at most 128 characters), got "
               << a;
      if (!names.insert(s.getValue()).second)
        return fn.emitError()
               << "entry " << t.what << ": " << kNameAttr << " '"
               << s.getValue() << "' is given to two arguments or results";
    }
    Attribute a = t.attrs.get(kDimsAttr);
    if (!a)
      continue;
    auto arr = dyn_cast<ArrayAttr>(a);
    if (!t.type)
      return fn.emitError() << "entry " << t.what << ": " << kDimsAttr
                            << " needs a ranked tensor";
    if (!arr || static_cast<int64_t>(arr.size()) != t.type.getRank())
      return fn.emitError() << "entry " << t.what << ": " << kDimsAttr
                            << " must be an array of " << t.type.getRank()
                            << " dimension names (one per dimension of "
                            << t.type << "), got " << a;
    for (auto [d, elem] : llvm::enumerate(arr)) {
      auto s = dyn_cast<StringAttr>(elem);
      if (!s || !isAbiIdentifier(s.getValue()))
        return fn.emitError()
               << "entry " << t.what << ": " << kDimsAttr << "[" << d
               << "] must be a string holding an identifier, "
                  "got "
               << elem;
      int64_t size = t.type.getDimSize(d);
      if (ShapedType::isDynamic(size))
        continue;
      auto [it, inserted] = staticSize.try_emplace(s.getValue(), size, t.what);
      if (!inserted && it->second.first != size)
        return fn.emitError()
               << "entry " << t.what << ": dimension " << d << " ('"
               << s.getValue() << "') is " << size << " but the dimension of "
               << it->second.second << " with that name is " << it->second.first
               << "; no call could satisfy both";
    }
  }
  return success();
}

namespace {
/// Every role list `op` gives `value` (one per operand or result slot that
/// holds it).
SmallVector<SmallVector<StringRef>> rolesOf(Operation *op, Value value) {
  SmallVector<SmallVector<StringRef>> all;
  if (!op || !isSequenceMixer(op))
    return all;
  for (auto &[v, dims] : getDimensionRoles(op))
    if (v == value)
      all.push_back(dims);
  return all;
}

struct AnnotateEntryDimsPass
    : mlir::seqmix::impl::SeqMixAnnotateEntryDimsBase<AnnotateEntryDimsPass> {
  void runOnOperation() override {
    for (func::FuncOp fn : getOperation().getOps<func::FuncOp>()) {
      if (fn.isExternal() || !fn.isPublic())
        continue;
      // Checked again once the derived names are in: one name must not
      // stand for two static sizes across given and derived names either.
      if (failed(verifyEntryAnnotations(fn)) || failed(annotate(fn)) ||
          failed(verifyEntryAnnotations(fn)))
        return signalPassFailure();
    }
  }

  /// Derives every entry tensor's dimension names from the seqmix op that
  /// reads (or, for a result, produces) it, and checks given names against
  /// them: the runtime ties dynamic sizes together only through names, so
  /// two dynamic dimensions that the op equates must share a name.
  LogicalResult annotate(func::FuncOp fn) {
    Builder b(&getContext());
    SmallVector<EntryTensor> tensors = entryTensors(fn);
    Operation *ret = fn.getBody().front().getTerminator();
    // Role -> (given name, where) over the dynamic dimensions.
    llvm::StringMap<std::pair<StringRef, std::string>> given;
    for (size_t i = 0; i < tensors.size(); ++i) {
      const EntryTensor &t = tensors[i];
      bool isResult = i >= fn.getNumArguments();
      unsigned index = isResult ? i - fn.getNumArguments() : i;
      SmallVector<StringRef> roles;
      std::string roleOwner;
      auto consider = [&](Operation *op, Value v) -> LogicalResult {
        for (SmallVector<StringRef> &r : rolesOf(op, v)) {
          if (roles.empty()) {
            roles = r;
            roleOwner = op->getName().getStringRef().str();
            continue;
          }
          // One tensor in two slots (q and k, say): its static sizes are
          // checked exactly, but a dynamic one must mean the same in both.
          for (auto [d, role] : llvm::enumerate(r))
            if (t.type && t.type.isDynamicDim(d) && role != roles[d])
              return fn.emitError()
                     << "entry " << t.what << " has two different roles for "
                     << "its dynamic dimension " << d << ": " << roles[d]
                     << " in " << roleOwner << " and " << role << " in "
                     << op->getName() << "; pass a separate argument to each";
        }
        return success();
      };
      if (isResult) {
        Value v = ret->getOperand(index);
        if (failed(consider(v.getDefiningOp(), v)))
          return failure();
      } else {
        for (Operation *user : fn.getArgument(index).getUsers())
          if (failed(consider(user, fn.getArgument(index))))
            return failure();
      }
      ArrayAttr dims = t.attrs ? t.attrs.getAs<ArrayAttr>(kDimsAttr) : nullptr;
      if (roles.empty()) {
        // Nothing ties its sizes to the layer's: only static sizes are safe.
        if (t.type && !t.type.hasStaticShape())
          return fn.emitError()
                 << "entry " << t.what << " has type " << t.type
                 << " with a dynamic dimension, but it is not "
                 << (isResult ? "produced" : "used") << " directly by a "
                 << "seqmix op, so its size cannot be tied to the layer's "
                    "dimensions; make its shape static or "
                 << (isResult ? "return the op's result"
                              : "pass it to the op unchanged");
        continue;
      }
      SmallVector<StringRef> names = roles;
      if (dims)
        for (auto [d, name] : llvm::enumerate(names))
          name = cast<StringAttr>(dims[d]).getValue();
      else if (isResult)
        fn.setResultAttr(index, kDimsAttr, b.getStrArrayAttr(roles));
      else
        fn.setArgAttr(index, kDimsAttr, b.getStrArrayAttr(roles));
      for (auto [d, role] : llvm::enumerate(roles)) {
        if (!t.type.isDynamicDim(d))
          continue; // the runtime checks a static size exactly
        auto [it, inserted] = given.try_emplace(role, names[d], t.what);
        if (!inserted && it->second.first != names[d])
          return fn.emitError()
                 << "entry " << t.what << ": dynamic dimension " << d
                 << " is named '" << names[d] << "', but it is " << role
                 << " of the seqmix op, which " << it->second.second
                 << " names '" << it->second.first
                 << "'; give dimensions with one role one name";
      }
    }
    return success();
  }
};
} // namespace
