//===- SeqMixAttrs.td - seqmix enums and attributes --------*- tablegen -*-===//
#ifndef SEQMIX_ATTRS_TD
#define SEQMIX_ATTRS_TD

include "SeqMixDialect.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"

def SeqMix_FormKind : I32EnumAttr<"FormKind", "how a sequence-mixing op is computed", [
    I32EnumAttrCase<"parallel", 0>,
    I32EnumAttrCase<"chunked", 1>,
    I32EnumAttrCase<"recurrent", 2>]> {
  let cppNamespace = "::mlir::seqmix";
  let genSpecializedAttr = 0;
}

def SeqMix_FeatureMap : I32EnumAttr<"FeatureMap", "linear-attention feature map", [
    I32EnumAttrCase<"identity", 0>,
    I32EnumAttrCase<"elu1", 1>,
    I32EnumAttrCase<"relu", 2>,
    I32EnumAttrCase<"taylor", 3>]> {
  let cppNamespace = "::mlir::seqmix";
  let genSpecializedAttr = 0;
}
def SeqMix_FeatureMapAttr : EnumAttr<SeqMix_Dialect, SeqMix_FeatureMap, "feature_map"> {
  let assemblyFormat = "`<` $value `>`";
}

def SeqMix_GateKind : I32EnumAttr<"GateKind", "gate of a gated linear recurrence", [
    I32EnumAttrCase<"none", 0>,
    I32EnumAttrCase<"constant", 1>,
    I32EnumAttrCase<"scalar", 2>,
    I32EnumAttrCase<"vector", 3>]> {
  let cppNamespace = "::mlir::seqmix";
  let genSpecializedAttr = 0;
}
def SeqMix_GateKindAttr : EnumAttr<SeqMix_Dialect, SeqMix_GateKind, "gate"> {
  let assemblyFormat = "`<` $value `>`";
}

def SeqMix_Discretization : I32EnumAttr<"Discretization",
    "discretization rule of a continuous-time SSM", [
    I32EnumAttrCase<"zoh", 0>,
    I32EnumAttrCase<"bilinear", 1>,
    I32EnumAttrCase<"euler_b", 2>]> {
  let cppNamespace = "::mlir::seqmix";
  let genSpecializedAttr = 0;
}
def SeqMix_DiscretizationAttr
    : EnumAttr<SeqMix_Dialect, SeqMix_Discretization, "discretization"> {
  let assemblyFormat = "`<` $value `>`";
}

def SeqMix_FormAttr : AttrDef<SeqMix_Dialect, "Form"> {
  let mnemonic = "form";
  let summary = "the computation form chosen for a sequence-mixing op";
  let description = [{
    `#seqmix.form<parallel>`, `#seqmix.form<recurrent>` or
    `#seqmix.form<chunked, chunk = C>`. The chunk size is given exactly when the
    form is chunked, and is at least 1 and at most 4096 (each chunk holds
    C x C workspaces per slice).
  }];
  let parameters = (ins
    EnumParameter<SeqMix_FormKind>:$kind,
    DefaultValuedParameter<"int64_t", "0">:$chunk);
  let assemblyFormat = "`<` $kind (`,` `chunk` `=` $chunk^)? `>`";
  let genVerifyDecl = 1;
}

#endif // SEQMIX_ATTRS_TD
