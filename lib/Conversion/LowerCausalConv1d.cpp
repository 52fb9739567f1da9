//===- LowerCausalConv1d.cpp - the short depthwise causal convolution -----===//
//
// out[t] = act(sum_k w[k] x~[t + k] + bias) per channel, x~ = [state, x] (the
// W - 1 inputs before the call, zeros without a state), act the identity or
// SiLU; the final state is the last W - 1 entries of x~.
//
// Memory-bound: one scf.forall iteration per (batch, channel) row, whose T
// inputs are read from memory once. The outputs from t = W - 1 on read only
// x: one elementwise op over W views of the row shifted by 0..W-1, which the
// schedule vectorizes along t (unaligned loads of a row in the first-level
// cache). The first W - 1 outputs read the state: they come from a small
// [2 (W - 1)] buffer [state, x[0..W-2]] (zeros past T), the final state from
// [state, x] at T..T+W-2.
//
//===----------------------------------------------------------------------===//
#include "seqmix/Conversion/LowerForms.h"

#include "ChannelBlocks.h"

using namespace mlir;
using namespace mlir::seqmix;

namespace {

/// `len` outputs into `dest` ([len]): act(sum_k w[k] src[k + t] + bias) with
/// src a 1-D tensor read at offsets 0..W-1 from `first`.
Value convolve(SliceKernelBuilder &kb, Value src, ArrayRef<Value> taps,
               Value bias, bool useSilu, OpFoldResult len, Value dest) {
  SmallVector<Value> views;
  for (auto [k, tap] : llvm::enumerate(taps)) {
    (void)tap;
    views.push_back(kb.slice(src, {kb.ofr(k)}, {len}, {0}));
  }
  SmallVector<SmallVector<unsigned>> dims(views.size() + 1, {0});
  return kb.generic(views, dest, 1, dims, SliceKernelBuilder::parallel(1),
                    [&](OpBuilder &b, Location l, ValueRange a) -> Value {
                      Value y = bias;
                      for (auto [k, tap] : llvm::enumerate(taps))
                        y = math::FmaOp::create(b, l, tap, a[k], y);
                      return useSilu ? silu(b, l, y) : y;
                    });
}

/// A [size] tensor whose entry i is [state, x][first + i] (x has `len`
/// entries, the state W - 1; zero past the end): the reads are clamped into
/// range and the unused ones selected away.
Value gatherExtended(SliceKernelBuilder &kb, Value state, Value x, Value len,
                     int64_t wm1, Value first, int64_t size) {
  ImplicitLocOpBuilder &b = kb.builder();
  Value lastX = arith::SubIOp::create(
      b, arith::MaxSIOp::create(b, len, kb.index(1)), kb.index(1));
  return kb.generic(
      ValueRange{}, kb.empty({kb.ofr(size)}), 1, {{0}},
      SliceKernelBuilder::parallel(1),
      [&](OpBuilder &nb, Location l, ValueRange) -> Value {
        ImplicitLocOpBuilder ib(l, nb);
        auto cidx = [&](int64_t v) {
          return arith::ConstantIndexOp::create(ib, v);
        };
        Value i =
            arith::AddIOp::create(ib, linalg::IndexOp::create(ib, 0), first);
        Value zero = arith::ConstantOp::create(ib, ib.getF32FloatAttr(0.0));
        Value inState =
            arith::CmpIOp::create(ib, arith::CmpIPredicate::slt, i, cidx(wm1));
        Value xi = arith::SubIOp::create(ib, i, cidx(wm1));
        Value inX =
            arith::CmpIOp::create(ib, arith::CmpIPredicate::slt, xi, len);
        Value xc = arith::MinSIOp::create(
            ib, arith::MaxSIOp::create(ib, xi, cidx(0)), lastX);
        Value fromX = tensor::ExtractOp::create(ib, x, ValueRange{xc});
        fromX = arith::SelectOp::create(ib, inX, fromX, zero);
        Value fromState = zero;
        if (state) {
          Value sc = arith::MinSIOp::create(ib, i, cidx(wm1 - 1));
          fromState = tensor::ExtractOp::create(ib, state, ValueRange{sc});
        }
        return arith::SelectOp::create(ib, inState, fromState, fromX);
      });
}

} // namespace

std::string mlir::seqmix::whyNotLoweredCausalConv1d(CausalConv1dOp,
                                                    FormKind form) {
  if (form == FormKind::parallel)
    return "";
  return ("seqmix.causal_conv1d has one form, parallel (every output reads "
          "its W inputs directly); the " +
          stringifyFormKind(form) + " form does not exist")
      .str();
}

LogicalResult mlir::seqmix::lowerCausalConv1d(CausalConv1dOp op,
                                              RewriterBase &rewriter) {
  auto xType = cast<RankedTensorType>(op.getX().getType());
  auto wType = cast<RankedTensorType>(op.getWeight().getType());
  if (xType.isDynamicDim(1))
    return op->emitOpError("cannot be lowered: channels must be static");
  if (failed(checkF32Activations(op, xType.getElementType())))
    return failure();
  rewriter.setInsertionPoint(op);
  ImplicitLocOpBuilder b(op.getLoc(), rewriter);
  const int64_t W = wType.getDimSize(1);
  Value batch = tensor::DimOp::create(b, op.getX(), 0);
  Value seqLen = tensor::DimOp::create(b, op.getX(), 2);
  SliceLoopShape shape{op.getOut(), op.getFinalState(), batch, seqLen};
  auto forall = buildSliceLoop(
      b, shape,
      [&](SliceKernelBuilder &kb, Value bi, Value d, Value outArg,
          Value stateArg) -> std::pair<Value, Value> {
        ImplicitLocOpBuilder &ib = kb.builder();
        OpFoldResult T = getAsOpFoldResult(seqLen), one = kb.ofr(1);
        Value x = kb.slice(op.getX(), {bi, d, kb.ofr(0)}, {one, one, T}, {2});
        SmallVector<Value> taps;
        for (int64_t k = 0; k < W; ++k)
          taps.push_back(tensor::ExtractOp::create(ib, op.getWeight(),
                                                   ValueRange{d, kb.index(k)}));
        Value bias = op.getBias() ? tensor::ExtractOp::create(ib, op.getBias(),
                                                              ValueRange{d})
                                        .getResult()
                                  : kb.f(0.0);
        Value out = kb.slice(outArg, {bi, d, kb.ofr(0)}, {one, one, T}, {2});
        const int64_t wm1 = W - 1;
        Value state;
        if (Value init = op.getInitialState())
          state =
              kb.slice(init, {bi, d, kb.ofr(0)}, {one, one, kb.ofr(wm1)}, {2});
        // The first min(T, W - 1) outputs, from [state, x[0..W-2]].
        Value head = arith::MinSIOp::create(ib, seqLen, kb.index(wm1));
        if (wm1 > 0) {
          Value hb =
              gatherExtended(kb, state, x, seqLen, wm1, kb.index(0), 2 * wm1);
          OpFoldResult h = getAsOpFoldResult(head);
          Value dest = kb.slice(out, {kb.ofr(0)}, {h}, {0});
          Value o = convolve(kb, hb, taps, bias, op.getSilu(), h, dest);
          out = kb.insert(o, out, {kb.ofr(0)}, {h});
        }
        // The rest, from x alone: out[W - 1 + t] reads x[t..t+W-1].
        OpFoldResult n = getAsOpFoldResult(
            arith::SubIOp::create(ib, seqLen, head).getResult());
        Value dest = kb.slice(out, {head}, {n}, {0});
        Value o = convolve(kb, x, taps, bias, op.getSilu(), n, dest);
        out = kb.insert(o, out, {head}, {n});
        Value fs;
        if (stateArg)
          fs = gatherExtended(kb, state, x, seqLen, wm1, seqLen, wm1);
        return {out, fs};
      });
  rewriter.replaceOp(op, forall.getResults());
  return success();
}
