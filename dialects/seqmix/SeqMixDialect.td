//===- SeqMixDialect.td - the seqmix dialect definition ----*- tablegen -*-===//
#ifndef SEQMIX_DIALECT_TD
#define SEQMIX_DIALECT_TD

include "mlir/IR/OpBase.td"

def SeqMix_Dialect : Dialect {
  let name = "seqmix";
  let cppNamespace = "::mlir::seqmix";
  let summary = "Sequence-mixing layers of language models: what each layer computes";
  let description = [{
    The `seqmix` dialect has one operation per family of sequence-mixing layer:
    softmax attention, kernelized linear attention, gated linear attention
    (RetNet, GLA, Mamba-2/SSD), the (gated) delta rule, the selective scan
    (Mamba-1) and the LTI diagonal state-space scan (S4D/H3).

    An operation states *what* is computed on ranked tensors in the logical
    layout `[batch, heads, seq, dim]` (`[batch, channels, seq]` for the
    state-space scans). *How* it is computed is decided by the `form`
    attribute (`#seqmix.form<parallel>`, `#seqmix.form<chunked, chunk = 64>`,
    `#seqmix.form<recurrent>`), which a selection pass or the user sets and
    which the lowering passes read. Recurrent-capable operations take an
    optional fp32 initial state and may return the fp32 final state.

    Every shape and attribute constraint is a verifier check; the constraints
    of each operation are numbered C1, C2, ... in its description, and the
    verifier's message starts with that number. Every static dimension size
    is at least 1: an empty tensor violates the constraint that gives its
    operand's shape.
  }];
  let useDefaultAttributePrinterParser = 1;
}

class SeqMix_Op<string mnemonic, list<Trait> traits = []>
    : Op<SeqMix_Dialect, mnemonic, traits>;

#endif // SEQMIX_DIALECT_TD
