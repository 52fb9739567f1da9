//===- SliceKernelBuilder.h - helpers for per-slice tensor kernels -*- C++
//-*-===//
//
// The lowerings of the seqmix ops build, for one (batch, head) slice at a time,
// small linalg kernels on 1-D and 2-D f32 tensors inside an scf.forall over
// (batch, head). This header keeps the builder boilerplate in one place.
//
//===----------------------------------------------------------------------===//
#ifndef SEQMIX_LIB_CONVERSION_SLICEKERNELBUILDER_H
#define SEQMIX_LIB_CONVERSION_SLICEKERNELBUILDER_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

namespace mlir::seqmix {

/// The iterator kinds of the slice kernels' linalg.generic ops.
constexpr utils::IteratorType kPar = utils::IteratorType::parallel;
constexpr utils::IteratorType kRed = utils::IteratorType::reduction;

/// Thin layer over ImplicitLocOpBuilder for f32 slice kernels.
class SliceKernelBuilder {
public:
  explicit SliceKernelBuilder(ImplicitLocOpBuilder &b)
      : b(b), f32(b.getF32Type()) {}

  ImplicitLocOpBuilder &builder() { return b; }
  Type f32Type() const { return f32; }

  Value f(double x) {
    return arith::ConstantOp::create(b, b.getF32FloatAttr(x));
  }
  Value index(int64_t x) { return arith::ConstantIndexOp::create(b, x); }
  OpFoldResult ofr(int64_t x) { return b.getIndexAttr(x); }

  /// tensor.empty of f32 with the given sizes.
  Value empty(ArrayRef<OpFoldResult> sizes) {
    return tensor::EmptyOp::create(b, sizes, f32);
  }
  Value fill(Value dest, double x) {
    return linalg::FillOp::create(b, ValueRange{f(x)}, ValueRange{dest})
        .getResult(0);
  }
  Value zeros(ArrayRef<OpFoldResult> sizes) { return fill(empty(sizes), 0.0); }

  /// Rank-reducing tensor.extract_slice keeping the dimensions in `keep`
  /// (of the element type of `src`).
  Value slice(Value src, ArrayRef<OpFoldResult> offsets,
              ArrayRef<OpFoldResult> sizes, ArrayRef<unsigned> keep) {
    SmallVector<int64_t> shape;
    for (unsigned d : keep) {
      std::optional<int64_t> c = getConstantIntValue(sizes[d]);
      shape.push_back(c ? *c : ShapedType::kDynamic);
    }
    auto type = RankedTensorType::get(
        shape, cast<RankedTensorType>(src.getType()).getElementType());
    SmallVector<OpFoldResult> strides(offsets.size(), b.getIndexAttr(1));
    return tensor::ExtractSliceOp::create(b, type, src, offsets, sizes,
                                          strides);
  }

  /// tensor.insert_slice of a lower-rank `src` into `dest`.
  Value insert(Value src, Value dest, ArrayRef<OpFoldResult> offsets,
               ArrayRef<OpFoldResult> sizes) {
    SmallVector<OpFoldResult> strides(offsets.size(), b.getIndexAttr(1));
    return tensor::InsertSliceOp::create(b, src, dest, offsets, sizes, strides);
  }

  /// linalg.generic with maps given as lists of loop dimensions per operand
  /// (each operand indexed by a projection of the loops) and a body that
  /// receives the block arguments and the loop indices are read with index().
  Value generic(ValueRange ins, Value out, unsigned numLoops,
                ArrayRef<SmallVector<unsigned>> operandDims,
                ArrayRef<utils::IteratorType> iterators,
                function_ref<Value(OpBuilder &, Location, ValueRange)> body) {
    return generics(ins, ValueRange{out}, numLoops, operandDims, iterators,
                    [&](OpBuilder &nb, Location loc, ValueRange args) {
                      return SmallVector<Value>{body(nb, loc, args)};
                    })
        .front();
  }
  /// generic() with several outputs: `body` yields one value per output.
  SmallVector<Value>
  generics(ValueRange ins, ValueRange outs, unsigned numLoops,
           ArrayRef<SmallVector<unsigned>> operandDims,
           ArrayRef<utils::IteratorType> iterators,
           function_ref<SmallVector<Value>(OpBuilder &, Location, ValueRange)>
               body) {
    SmallVector<AffineMap> maps;
    for (const auto &dims : operandDims) {
      SmallVector<AffineExpr> exprs;
      for (unsigned d : dims)
        exprs.push_back(b.getAffineDimExpr(d));
      maps.push_back(AffineMap::get(numLoops, 0, exprs, b.getContext()));
    }
    auto op = linalg::GenericOp::create(
        b, TypeRange(outs), ins, outs, maps, iterators,
        [&](OpBuilder &nb, Location loc, ValueRange args) {
          linalg::YieldOp::create(nb, loc, body(nb, loc, args));
        });
    return SmallVector<Value>(op.getResults().begin(), op.getResults().end());
  }

  /// One block step in two copies: `step(full)` when the block's length
  /// `len` equals `full` (a constant, so that every op of that copy has
  /// static shapes) and `step(len)` for the partial block; scf.if yields
  /// what `step` returns.
  ValueRange staticWhenFull(
      Value len, Value full,
      function_ref<SmallVector<Value>(ImplicitLocOpBuilder &, Value)> step) {
    auto copy = [&](Value n) {
      return [&, n](OpBuilder &nb, Location loc) {
        ImplicitLocOpBuilder bb(loc, nb);
        scf::YieldOp::create(bb, step(bb, n));
      };
    };
    Value isFull =
        arith::CmpIOp::create(b, arith::CmpIPredicate::eq, len, full);
    return scf::IfOp::create(b, isFull, copy(full), copy(len)).getResults();
  }

  static SmallVector<utils::IteratorType> parallel(unsigned n) {
    return SmallVector<utils::IteratorType>(n, utils::IteratorType::parallel);
  }

private:
  ImplicitLocOpBuilder &b;
  Type f32;
};

/// An error on `op` unless its activations' element type `elem` is f32 (the
/// lowerings compute in f32; seqmix-lower-forms hands them bf16 and f16
/// activations widened, NarrowActivations.h).
inline LogicalResult checkF32Activations(Operation *op, Type elem) {
  if (elem.isF32())
    return success();
  return op->emitOpError()
         << "cannot be lowered: only f32, bf16 and f16 activations are "
            "lowered, got "
         << elem;
}

/// Why a linear-recurrence op cannot be lowered as (batch, head) slices of
/// static head sizes in f32, as an error on `op`; success when it can.
inline LogicalResult checkSliceLowerable(Operation *op, Value q, Value v) {
  auto qType = cast<RankedTensorType>(q.getType());
  auto vType = cast<RankedTensorType>(v.getType());
  if (qType.isDynamicDim(1) || qType.isDynamicDim(3) || vType.isDynamicDim(1) ||
      vType.isDynamicDim(3))
    return op->emitOpError(
        "cannot be lowered: heads, key_dim and value_dim must be static");
  return checkF32Activations(op, qType.getElementType());
}

/// The [rows, cols] state of slice (bi, hi) before the sequence: a copy of
/// `init` ([B, H, rows, cols], or zeros when null), written into the slice of
/// the final-state result `stateArg` when there is one.
inline Value initialSliceState(SliceKernelBuilder &kb, Value init,
                               Value stateArg, Value bi, Value hi, int64_t rows,
                               int64_t cols) {
  SmallVector<OpFoldResult> offs = {bi, hi, kb.ofr(0), kb.ofr(0)};
  SmallVector<OpFoldResult> sizes = {kb.ofr(1), kb.ofr(1), kb.ofr(rows),
                                     kb.ofr(cols)};
  Value dest = stateArg ? kb.slice(stateArg, offs, sizes, {2, 3})
                        : kb.empty({kb.ofr(rows), kb.ofr(cols)});
  if (!init)
    return kb.fill(dest, 0.0);
  return linalg::CopyOp::create(kb.builder(),
                                ValueRange{kb.slice(init, offs, sizes, {2, 3})},
                                ValueRange{dest})
      .getResult(0);
}

/// The q and k head that value head `hi` reads with grouped value heads
/// (`group` value heads per q/k head): hi / group.
inline Value keyHead(ImplicitLocOpBuilder &b, Value hi, int64_t group) {
  if (group == 1)
    return hi;
  return arith::DivUIOp::create(b, hi,
                                arith::ConstantIndexOp::create(b, group));
}

/// The slices of an op whose results are [B, X, ...] tensors: its output
/// result (dimension 2 the sequence, dynamic or not), its final-state result
/// (or null), B and T as index values, and `step`, how many of the X
/// entries one slice takes (a divisor of X): 1 for the (batch, head) slices
/// of the linear families ([T, V] output rows, [rows, cols] state) and the
/// causal convolution's (batch, channel) rows, a block of Dc channels for
/// the scans ([Dc, T] output rows, [Dc, S] state).
struct SliceLoopShape {
  Value out, finalState;
  Value batch, seqLen;
  int64_t step = 1;
};

/// Creates the scf.forall over (batch, slice of `step` entries of dimension
/// 1) whose shared outputs are the output and, when there is one, the final
/// state. `body` builds one slice (batch `bi`, first entry `first`) and
/// returns its output and final state (or null): each result with its
/// leading batch dimension dropped, and with `step` == 1 also its second.
inline scf::ForallOp buildSliceLoop(
    ImplicitLocOpBuilder &b, const SliceLoopShape &shape,
    function_ref<std::pair<Value, Value>(SliceKernelBuilder &, Value bi,
                                         Value first, Value outArg,
                                         Value stateArg)>
        body) {
  SliceKernelBuilder kb(b);
  auto outType = cast<RankedTensorType>(shape.out.getType());
  auto stateType = shape.finalState
                       ? cast<RankedTensorType>(shape.finalState.getType())
                       : RankedTensorType();
  SmallVector<Value> outDyn;
  if (outType.isDynamicDim(0))
    outDyn.push_back(shape.batch);
  if (outType.isDynamicDim(2))
    outDyn.push_back(shape.seqLen);
  SmallVector<Value> shared = {tensor::EmptyOp::create(b, outType, outDyn)};
  if (stateType) {
    SmallVector<Value> stDyn;
    if (stateType.isDynamicDim(0))
      stDyn.push_back(shape.batch);
    shared.push_back(tensor::EmptyOp::create(b, stateType, stDyn));
  }
  SmallVector<OpFoldResult> ubs = {
      shape.batch, b.getIndexAttr(outType.getDimSize(1) / shape.step)};
  auto forall = scf::ForallOp::create(b, ubs, shared, std::nullopt);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPoint(forall.getBody()->getTerminator());
  Value bi = forall.getInductionVars()[0];
  Value first = forall.getInductionVars()[1];
  if (shape.step != 1)
    first = arith::MulIOp::create(b, first, kb.index(shape.step));
  Value outArg = forall.getRegionIterArgs()[0];
  Value stateArg = stateType ? forall.getRegionIterArgs()[1] : Value();
  auto [out, state] = body(kb, bi, first, outArg, stateArg);
  b.setInsertionPointToEnd(forall.getTerminator().getBody());
  // Each result into [bi, first, 0, ...] of its whole: the slice's sizes,
  // the sequence (dimension 2 of the output) as T.
  auto insert = [&](Value slice, Value dest, RankedTensorType type,
                    bool isOut) {
    SmallVector<OpFoldResult> offs = {bi, first},
                              sizes = {b.getIndexAttr(1),
                                       b.getIndexAttr(shape.step)};
    for (int64_t d = 2; d < type.getRank(); ++d) {
      offs.push_back(b.getIndexAttr(0));
      sizes.push_back(isOut && d == 2 ? OpFoldResult(shape.seqLen)
                                      : b.getIndexAttr(type.getDimSize(d)));
    }
    SmallVector<OpFoldResult> strides(type.getRank(), b.getIndexAttr(1));
    tensor::ParallelInsertSliceOp::create(b, slice, dest, offs, sizes, strides);
  };
  insert(out, outArg, outType, true);
  if (stateArg)
    insert(state, stateArg, stateType, false);
  return forall;
}

/// The chunk-local log gates of a block of n tokens (g: [n]), each sum
/// accumulated directly (FORMS.md 0.5(b)) rather than as a difference of
/// cumulative sums, which loses every low bit after a hard reset:
///   seg       [n, n]: seg(t, i) = g_{i+1} + ... + g_t for i <= t (0 above:
///                     masked later)
///   inclusive [n]   : b_t = g_1 + ... + g_t
///   lastSeg   [n]   : seg(n, i), the decay from token i to the block's end
///   total           : b_n
struct SegmentSums {
  Value seg, inclusive, lastSeg, total;
};
inline SegmentSums segmentSums(SliceKernelBuilder &kb, Value g, Value len) {
  ImplicitLocOpBuilder &b = kb.builder();
  OpFoldResult n = getAsOpFoldResult(len);
  Value zero = kb.f(0.0);
  auto loop = scf::ForOp::create(
      b, kb.index(0), len, kb.index(1),
      ValueRange{kb.zeros({n}), kb.empty({n, n}), kb.empty({n}), zero},
      [&](OpBuilder &nb, Location loc, Value t, ValueRange iter) {
        ImplicitLocOpBuilder ib(loc, nb);
        SliceKernelBuilder k(ib);
        Value gt = tensor::ExtractOp::create(ib, g, ValueRange{t});
        // Row t from row t-1: seg(t, i) = seg(t-1, i) + g_t for i < t,
        // seg(t, t) = 0.
        Value row = k.generic(
            ValueRange{}, iter[0], 1, {{0}}, {utils::IteratorType::parallel},
            [&](OpBuilder &bb, Location l, ValueRange a) -> Value {
              Value i = linalg::IndexOp::create(bb, l, 0);
              Value before =
                  arith::CmpIOp::create(bb, l, arith::CmpIPredicate::ult, i, t);
              Value acc = arith::AddFOp::create(bb, l, a[0], gt);
              return arith::SelectOp::create(bb, l, before, acc, zero);
            });
        Value mat = k.insert(row, iter[1], {t, k.ofr(0)}, {k.ofr(1), n});
        Value cum = arith::AddFOp::create(ib, iter[3], gt);
        Value bvec = tensor::InsertOp::create(ib, cum, iter[2], ValueRange{t});
        scf::YieldOp::create(ib, ValueRange{row, mat, bvec, cum});
      });
  return {loop.getResult(1), loop.getResult(2), loop.getResult(0),
          loop.getResult(3)};
}

/// An scf.for over blocks of `step` tokens of [0, seqLen) carrying `inits`.
/// `body` builds one block of `len` tokens from `t0` (a constant `len` for
/// full blocks, so that their ops have static shapes) and returns the
/// carried values after it. Returns the carried values after the last block.
inline ValueRange buildTokenBlockLoop(
    SliceKernelBuilder &kb, Value seqLen, int64_t step, ValueRange inits,
    function_ref<SmallVector<Value>(SliceKernelBuilder &, Value t0, Value len,
                                    ValueRange iter)>
        body) {
  ImplicitLocOpBuilder &b = kb.builder();
  Value stepV = kb.index(step);
  auto loop = scf::ForOp::create(
      b, kb.index(0), seqLen, stepV, inits,
      [&](OpBuilder &nb, Location loc, Value t0, ValueRange iter) {
        ImplicitLocOpBuilder ib(loc, nb);
        Value len = arith::MinSIOp::create(
            ib, stepV, arith::SubIOp::create(ib, seqLen, t0));
        ValueRange next = SliceKernelBuilder(ib).staticWhenFull(
            len, stepV, [&](ImplicitLocOpBuilder &bb, Value n) {
              SliceKernelBuilder k(bb);
              return body(k, t0, n, iter);
            });
        scf::YieldOp::create(ib, next);
      });
  return loop.getResults();
}

/// The chunked forms' loop (FORMS.md 2.5, 3.5, 4.3): an scf.for over chunks
/// of `chunk` tokens of [0, seqLen) carrying the state (from `s0`) and the
/// [T, outCols] output rows (from `o0`). `body` computes one chunk of `n`
/// tokens starting at `c0` from the state before it into `dest` (its
/// [n, outCols] rows) and returns its outputs and the state after it. Full
/// chunks (all but the last) get static shapes. Returns the output rows and
/// the final state.
inline std::pair<Value, Value> buildChunkLoop(
    SliceKernelBuilder &kb, Value seqLen, int64_t chunk, int64_t outCols,
    Value s0, Value o0,
    function_ref<std::pair<Value, Value>(SliceKernelBuilder &, Value c0,
                                         Value n, Value state, Value dest)>
        body) {
  ValueRange r = buildTokenBlockLoop(
      kb, seqLen, chunk, ValueRange{s0, o0},
      [&](SliceKernelBuilder &k, Value c0, Value n, ValueRange iter) {
        OpFoldResult nf = getAsOpFoldResult(n);
        Value dest =
            k.slice(iter[1], {c0, k.ofr(0)}, {nf, k.ofr(outCols)}, {0, 1});
        auto [out, state] = body(k, c0, n, iter[0], dest);
        Value o = k.insert(out, iter[1], {c0, k.ofr(0)}, {nf, k.ofr(outCols)});
        return SmallVector<Value>{state, o};
      });
  return {r[1], r[0]};
}
} // namespace mlir::seqmix

#endif // SEQMIX_LIB_CONVERSION_SLICEKERNELBUILDER_H
