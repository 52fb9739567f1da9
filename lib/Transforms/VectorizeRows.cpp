//===- VectorizeRows.cpp - elementwise work in rows of vector registers ---===//
//
// After bufferization (phase llvm, before seqmix-lower-vectors): every linalg
// op whose innermost loop walks the innermost dimension of each operand it
// uses (unit stride: scaling, masks, exp, fills, row maxima and sums) is
// tiled into rows of one vector register along that loop (1 along the
// others), the row loop is peeled, and the full rows are vectorized; the
// ragged rest of a dynamic row stays a linalg op for the loop lowering.
// On memrefs, so that the many small tiles cost the bufferization analysis
// nothing.
//
//===----------------------------------------------------------------------===//
#include "seqmix/Transforms/Passes.h"

#include "ScheduleUtils.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Transforms/Transforms.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::seqmix {
#define GEN_PASS_DEF_SEQMIXVECTORIZEROWS
#include "seqmix/Transforms/Passes.h.inc"
} // namespace mlir::seqmix

using namespace mlir;

namespace {
constexpr llvm::StringLiteral kMarker = "seqmix.row";
constexpr llvm::StringLiteral kPass = "seqmix-vectorize-rows";

/// Whether `op` reads and writes every buffer along its innermost dimension
/// in its innermost loop (or does not index it at all: broadcasts).
bool isRowVectorizable(linalg::LinalgOp op) {
  if (!op.hasPureBufferSemantics() || op.getNumLoops() == 0)
    return false;
  unsigned inner = op.getNumLoops() - 1;
  for (OpOperand &operand : op->getOpOperands()) {
    auto type = dyn_cast<MemRefType>(operand.get().getType());
    if (!type)
      continue; // a scalar
    // f32, or bf16/f16 (the widening of narrow activations' blocks and the
    // narrowing of outputs: the row of lanes is the same count of elements).
    Type elem = type.getElementType();
    if (!elem.isF32() && !elem.isBF16() && !elem.isF16())
      return false;
    AffineMap map = op.getMatchingIndexingMap(&operand);
    for (unsigned r = 0; r < map.getNumResults(); ++r) {
      auto d = dyn_cast<AffineDimExpr>(map.getResult(r));
      if (!d || (d.getPosition() == inner && r + 1 != map.getNumResults()))
        return false;
    }
    if (map.getNumResults() > 0 && map.isFunctionOfDim(inner) &&
        cast<AffineDimExpr>(map.getResults().back()).getPosition() != inner)
      return false;
    // The rows must be contiguous.
    if (map.isFunctionOfDim(inner) && !type.getLayout().isIdentity()) {
      SmallVector<int64_t> strides;
      int64_t offset;
      if (failed(type.getStridesAndOffset(strides, offset)) ||
          strides.back() != 1)
        return false;
    }
  }
  return true;
}

/// A row reduction out[i...] = combine(out[i...], in[i..., j]) over the
/// innermost loop j: its combining kind and the identity of the combiner.
/// A row dot product out[i...] += in[i..., j] * w[p(i..., j)] (w indexed by
/// a projection of the loops that ends in j) has kind ADD and `weighted`.
struct RowReduction {
  vector::CombiningKind kind;
  double identity;
  bool weighted = false;
};

/// Whether `op` has reduction loops and every one of them runs once (static
/// range 1).
bool hasOnlyUnitReductions(linalg::GenericOp op) {
  bool any = false;
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  for (auto [d, it] : llvm::enumerate(op.getIteratorTypesArray())) {
    if (it != utils::IteratorType::reduction)
      continue;
    if (ranges[d] != 1)
      return false;
    any = true;
  }
  return any;
}

/// `op` (on memrefs) without its reduction loops, all of one iteration: the
/// operands rank-reduced past those dimensions, the loops renumbered, the
/// body kept. Null (and `op` untouched) when the body reads a loop index.
Operation *dropUnitReductions(RewriterBase &rewriter, linalg::GenericOp op) {
  if (!op.getBody()->getOps<linalg::IndexOp>().empty())
    return nullptr;
  SmallVector<utils::IteratorType> its = op.getIteratorTypesArray();
  unsigned n = op.getNumLoops();
  SmallVector<int64_t> newPos(n, -1);
  unsigned kept = 0;
  for (unsigned d = 0; d < n; ++d)
    if (its[d] != utils::IteratorType::reduction)
      newPos[d] = kept++;
  rewriter.setInsertionPoint(op);
  SmallVector<Value> operands;
  SmallVector<AffineMap> maps;
  for (OpOperand &operand : op->getOpOperands()) {
    AffineMap map = op.getMatchingIndexingMap(&operand);
    auto type = dyn_cast<MemRefType>(operand.get().getType());
    if (!type)
      return nullptr;
    SmallVector<int64_t> shape;
    SmallVector<AffineExpr> exprs;
    for (auto [r, e] : llvm::enumerate(map.getResults())) {
      auto d = dyn_cast<AffineDimExpr>(e);
      if (!d)
        return nullptr;
      if (newPos[d.getPosition()] < 0)
        continue; // a unit dimension of a reduction loop
      shape.push_back(type.getDimSize(r));
      exprs.push_back(rewriter.getAffineDimExpr(newPos[d.getPosition()]));
    }
    operands.push_back(memref::createCanonicalRankReducingSubViewOp(
        rewriter, op.getLoc(), operand.get(), shape));
    maps.push_back(AffineMap::get(kept, 0, exprs, rewriter.getContext()));
  }
  unsigned numIns = op.getNumDpsInputs();
  auto flat = linalg::GenericOp::create(
      rewriter, op.getLoc(), TypeRange{},
      ValueRange(operands).take_front(numIns),
      ValueRange(operands).drop_front(numIns), maps,
      SmallVector<utils::IteratorType>(kept, utils::IteratorType::parallel));
  rewriter.inlineRegionBefore(op.getRegion(), flat.getRegion(),
                              flat.getRegion().end());
  rewriter.eraseOp(op);
  return flat;
}

/// Whether `map` projects the loops onto dimensions in order and ends in the
/// innermost loop (`n` loops).
bool endsInInnerLoop(AffineMap map, unsigned n) {
  if (map.getNumResults() == 0 || !map.isProjectedPermutation())
    return false;
  int64_t prev = -1;
  for (AffineExpr e : map.getResults()) {
    auto d = dyn_cast<AffineDimExpr>(e);
    if (!d || static_cast<int64_t>(d.getPosition()) <= prev)
      return false;
    prev = d.getPosition();
  }
  return prev == static_cast<int64_t>(n) - 1;
}

/// Whether the body of the two-input generic `op` is
/// out + in0 * in1 (in either order).
bool isMultiplyAdd(linalg::GenericOp op) {
  Block &body = op.getRegion().front();
  if (body.getOperations().size() != 3)
    return false;
  auto mul = dyn_cast<arith::MulFOp>(&body.front());
  auto add = dyn_cast<arith::AddFOp>(mul ? mul->getNextNode() : nullptr);
  auto yield = cast<linalg::YieldOp>(body.getTerminator());
  if (!mul || !add || yield.getNumOperands() != 1 ||
      yield.getOperand(0) != add.getResult())
    return false;
  Value in0 = body.getArgument(0), in1 = body.getArgument(1),
        out = body.getArgument(2);
  bool mulOk = (mul.getLhs() == in0 && mul.getRhs() == in1) ||
               (mul.getLhs() == in1 && mul.getRhs() == in0);
  bool addOk = (add.getLhs() == mul.getResult() && add.getRhs() == out) ||
               (add.getLhs() == out && add.getRhs() == mul.getResult());
  return mulOk && addOk;
}

/// Whether `op` is a row reduction: loops (parallel..., reduction), one
/// input indexed by every loop in order, the output by the parallel loops
/// in order, and a body that combines the two with addf, maximumf, maxnumf
/// or minimumf.
std::optional<RowReduction> matchRowReduction(linalg::GenericOp op) {
  unsigned n = op.getNumLoops();
  unsigned numIns = op.getNumDpsInputs();
  if (n < 1 || numIns < 1 || numIns > 2 || op.getNumDpsInits() != 1)
    return std::nullopt;
  SmallVector<utils::IteratorType> it = op.getIteratorTypesArray();
  for (unsigned d = 0; d < n; ++d)
    if ((it[d] == utils::IteratorType::reduction) != (d + 1 == n))
      return std::nullopt;
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  AffineMap inMap = maps[0];
  AffineMap outMap = maps.back();
  MLIRContext *ctx = op.getContext();
  if (inMap != AffineMap::getMultiDimIdentityMap(n, ctx) ||
      outMap != AffineMap::getMultiDimIdentityMap(n, ctx).getMajorSubMap(n - 1))
    return std::nullopt;
  if (numIns == 2) {
    if (!endsInInnerLoop(maps[1], n) || !isMultiplyAdd(op))
      return std::nullopt;
    return RowReduction{vector::CombiningKind::ADD, 0.0, /*weighted=*/true};
  }
  Block &body = op.getRegion().front();
  if (body.getOperations().size() != 2)
    return std::nullopt;
  Operation *combine = &body.front();
  auto yield = cast<linalg::YieldOp>(body.getTerminator());
  if (yield.getNumOperands() != 1 ||
      yield.getOperand(0) != combine->getResult(0) ||
      combine->getNumOperands() != 2)
    return std::nullopt;
  Value a = combine->getOperand(0), b = combine->getOperand(1);
  Value in = body.getArgument(0), out = body.getArgument(1);
  if (!((a == in && b == out) || (a == out && b == in)))
    return std::nullopt;
  if (isa<arith::AddFOp>(combine))
    return RowReduction{vector::CombiningKind::ADD, 0.0};
  if (isa<arith::MaximumFOp>(combine))
    return RowReduction{vector::CombiningKind::MAXIMUMF,
                        -std::numeric_limits<double>::infinity()};
  if (isa<arith::MaxNumFOp>(combine))
    return RowReduction{vector::CombiningKind::MAXNUMF,
                        -std::numeric_limits<double>::infinity()};
  if (isa<arith::MinimumFOp>(combine))
    return RowReduction{vector::CombiningKind::MINIMUMF,
                        std::numeric_limits<double>::infinity()};
  return std::nullopt;
}

/// Replaces the row reduction `op` by loops over its rows that keep one
/// vector accumulator per row: full vectors of the row combined lane-wise,
/// one horizontal reduction, the ragged rest element by element, and one
/// read-modify-write of the result. (Tiling it into rows of one vector
/// would reduce horizontally and round-trip the result through memory at
/// every vector.)
void emitRowReduction(RewriterBase &rewriter, linalg::GenericOp op,
                      const RowReduction &red, int64_t lanes) {
  Location loc = op.getLoc();
  rewriter.setInsertionPoint(op);
  Value in = op.getDpsInputOperand(0)->get();
  Value out = op.getDpsInitOperand(0)->get();
  Value weight = red.weighted ? op.getDpsInputOperand(1)->get() : Value();
  AffineMap weightMap =
      red.weighted ? op.getIndexingMapsArray()[1] : AffineMap();
  unsigned n = op.getNumLoops();
  Type f32 = rewriter.getF32Type();
  auto vecType = VectorType::get({lanes}, f32);
  // The combiner: the op's own (addf, max, min); for a row dot product the
  // addf of the multiply-add.
  Operation *combine = red.weighted
                           ? op.getRegion().front().front().getNextNode()
                           : &op.getRegion().front().front();
  // The weight's indices at row `at` (the parallel loops, then j).
  auto weightAt = [&](ArrayRef<Value> at) {
    SmallVector<Value> w;
    for (AffineExpr e : weightMap.getResults())
      w.push_back(at[cast<AffineDimExpr>(e).getPosition()]);
    return w;
  };
  auto combineValues = [&](OpBuilder &b, Value x, Value y) -> Value {
    OperationState state(loc, combine->getName());
    state.addOperands({x, y});
    state.addTypes(x.getType());
    state.addAttributes(combine->getAttrs());
    return b.create(state)->getResult(0);
  };
  Value c0 = arith::ConstantIndexOp::create(rewriter, loc, 0);
  Value c1 = arith::ConstantIndexOp::create(rewriter, loc, 1);
  Value step = arith::ConstantIndexOp::create(rewriter, loc, lanes);
  SmallVector<Value> idx;
  // The parallel loops, outermost first.
  for (unsigned d = 0; d + 1 < n; ++d) {
    Value size = memref::DimOp::create(rewriter, loc, in, d);
    auto loop = scf::ForOp::create(rewriter, loc, c0, size, c1);
    rewriter.setInsertionPointToStart(loop.getBody());
    idx.push_back(loop.getInductionVar());
  }
  Value len = memref::DimOp::create(rewriter, loc, in, n - 1);
  // full = len - len % lanes
  Value rem = arith::RemUIOp::create(rewriter, loc, len, step);
  Value full = arith::SubIOp::create(rewriter, loc, len, rem);
  Value init = arith::ConstantOp::create(
      rewriter, loc,
      DenseElementsAttr::get(vecType, rewriter.getF32FloatAttr(red.identity)));
  auto vloop = scf::ForOp::create(
      rewriter, loc, c0, full, step, ValueRange{init},
      [&](OpBuilder &b, Location l, Value j, ValueRange acc) {
        SmallVector<Value> at(idx);
        at.push_back(j);
        Value v = vector::LoadOp::create(b, l, vecType, in, at);
        if (weight) {
          Value w = vector::LoadOp::create(b, l, vecType, weight, weightAt(at));
          Value fma = vector::FMAOp::create(b, l, v, w, acc[0]);
          scf::YieldOp::create(b, l, fma);
          return;
        }
        scf::YieldOp::create(b, l, combineValues(b, acc[0], v));
      });
  // Across the lanes as a tree: halves combined lane-wise, log2(lanes)
  // steps (LLVM expands a maxnum reduction into `lanes` dependent scalar
  // steps, and an fadd one too unless it may reassociate).
  Value acc = vloop.getResult(0);
  for (int64_t w = lanes; w > 1 && w % 2 == 0; w /= 2) {
    Value lo = vector::ExtractStridedSliceOp::create(
        rewriter, loc, acc, ArrayRef<int64_t>{0}, ArrayRef<int64_t>{w / 2},
        ArrayRef<int64_t>{1});
    Value hi = vector::ExtractStridedSliceOp::create(
        rewriter, loc, acc, ArrayRef<int64_t>{w / 2}, ArrayRef<int64_t>{w / 2},
        ArrayRef<int64_t>{1});
    acc = combineValues(rewriter, lo, hi);
  }
  Value r = vector::ReductionOp::create(rewriter, loc, red.kind, acc);
  auto sloop = scf::ForOp::create(
      rewriter, loc, full, len, c1, ValueRange{r},
      [&](OpBuilder &b, Location l, Value j, ValueRange acc) {
        SmallVector<Value> at(idx);
        at.push_back(j);
        Value x = memref::LoadOp::create(b, l, in, at);
        if (weight)
          x = arith::MulFOp::create(
              b, l, x, memref::LoadOp::create(b, l, weight, weightAt(at)));
        scf::YieldOp::create(b, l, combineValues(b, acc[0], x));
      });
  Value old = memref::LoadOp::create(rewriter, loc, out, idx);
  memref::StoreOp::create(rewriter, loc,
                          combineValues(rewriter, old, sloop.getResult(0)), out,
                          idx);
  rewriter.eraseOp(op);
}

struct VectorizeRowsPass
    : mlir::seqmix::impl::SeqMixVectorizeRowsBase<VectorizeRowsPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    FailureOr<int64_t> width =
        mlir::seqmix::resolveF32Lanes(module, vectorWidth, kPass);
    if (failed(width))
      return signalPassFailure();
    int64_t lanes = *width;
    IRRewriter rewriter(&getContext());
    SmallVector<linalg::LinalgOp> ops;
    module.walk([&](linalg::LinalgOp op) {
      if (isRowVectorizable(op))
        ops.push_back(op);
    });
    for (linalg::LinalgOp op : ops) {
      bool allF32 = llvm::all_of(op->getOperandTypes(), [](Type t) {
        auto m = dyn_cast<MemRefType>(t);
        return !m || m.getElementType().isF32();
      });
      if (auto generic = dyn_cast<linalg::GenericOp>(op.getOperation());
          generic && allF32)
        if (std::optional<RowReduction> red = matchRowReduction(generic)) {
          emitRowReduction(rewriter, generic, *red, lanes);
          continue;
        }
      SmallVector<int64_t> sizes(op.getNumLoops(), 1);
      sizes.back() = lanes;
      linalg::LinalgTilingOptions options;
      options.setTileSizes(sizes).setLoopType(
          linalg::LinalgTilingLoopType::Loops);
      rewriter.setInsertionPoint(op);
      FailureOr<linalg::TiledLinalgOp> tiled =
          linalg::tileLinalgOp(rewriter, op, options);
      if (failed(tiled)) {
        op->emitError("seqmix-vectorize-rows: cannot tile this op into rows");
        return signalPassFailure();
      }
      tiled->op->setAttr(kMarker, rewriter.getUnitAttr());
      rewriter.eraseOp(op);
      if (tiled->loops.empty())
        continue;
      auto inner = dyn_cast<scf::ForOp>(tiled->loops.back());
      scf::ForOp partial;
      if (inner) {
        rewriter.setInsertionPoint(inner);
        // Fails (harmlessly) when the row count is already exact.
        (void)scf::peelForLoopAndSimplifyBounds(rewriter, inner, partial);
      }
    }
    // Fold the peeled bounds into static row shapes.
    if (failed(mlir::seqmix::canonicalize(module, canonicalization, kPass)))
      return signalPassFailure();
    SmallVector<Operation *> rows;
    module.walk([&](linalg::LinalgOp op) {
      if (!op->hasAttr(kMarker))
        return;
      op->removeAttr(kMarker);
      // Only full rows: a shorter dimension stays a loop.
      if (llvm::all_of(op->getOperands(),
                       [](Value v) {
                         auto t = dyn_cast<MemRefType>(v.getType());
                         return !t || t.hasStaticShape();
                       }) &&
          op.getStaticLoopRanges().back() == lanes)
        rows.push_back(op);
    });
    for (Operation *op : rows) {
      // A row whose reduction loops all have one iteration (a sum over a
      // middle dimension, tiled to one term per row) is elementwise: its
      // loops become parallel, so that the vectorizer need not recognize the
      // body as a reduction (an fma, or a complex product's real part, is
      // none).
      if (auto generic = dyn_cast<linalg::GenericOp>(op))
        if (hasOnlyUnitReductions(generic))
          if (Operation *flat = dropUnitReductions(rewriter, generic))
            op = flat;
      (void)mlir::seqmix::vectorizeInPlace(rewriter, op); // else: a loop
    }
    // Folding proves the row transfers in bounds (no masks, no checks).
    if (failed(mlir::seqmix::canonicalize(module, canonicalization, kPass)))
      return signalPassFailure();
  }

  LogicalResult initialize(MLIRContext *ctx) override {
    canonicalization = mlir::seqmix::canonicalizationPatterns(ctx);
    return success();
  }

  FrozenRewritePatternSet canonicalization;
};
} // namespace
