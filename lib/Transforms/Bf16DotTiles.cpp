//===- Bf16DotTiles.cpp - register tiles on AVX512-BF16 dot products ------===//
//
// The bf16 variant of seqmix-tile-contractions' register tile (issue 11,
// FORMS.md 0.3.4): a contraction C[m, n] += A[m, k] B[k, n] whose operands
// are both bf16 activations as the caller gave them (each an f32 widening of
// a bf16 tensor, perhaps transposed: q k^T of softmax attention, the
// ungated k^T v and q k^T of linear attention) is computed from the bf16
// values with vdpbf16ps, which multiplies pairs of bf16 along k and adds both
// products to an f32 lane:
//   - A is read as [M, K] bf16 (the source, or its bf16 transpose);
//   - B is packed in pairs along k, Bp[k2, n, j] = B[2 k2 + j, n] (the
//     "VNNI" layout: one 32-bit lane holds the pair a dot product takes);
//   - the op becomes a generic over (m, n, k2, j) with an f32 accumulator,
//     which tiles as before; a static MR x NR tile steps k2 and, per row,
//     broadcasts the pair A[m, 2 k2 : 2 k2 + 2] as one 32-bit lane to every
//     lane and takes one dot per vector of NR.
// The products are those of the f32 path (both operands are exact bf16
// values, and a bf16 x bf16 product is exact in f32); only the order of the
// f32 additions differs. Partial tiles stay linalg ops on the same bf16
// operands.
//
//===----------------------------------------------------------------------===//
#include "ScheduleUtils.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Dialect/X86Vector/X86VectorDialect.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

using namespace mlir;

namespace {
constexpr llvm::StringLiteral kBf16Dot = "seqmix.bf16_dot";

/// Whether `g` only widens its one bf16 input to f32, element by element
/// (identity maps), perhaps times one f32 scalar defined outside it (a
/// `seqmix.widen` block of NarrowActivations, or softmax attention's q times
/// its scale): sets `scale` to that scalar, or null.
bool isBf16Widening(linalg::GenericOp g, Value &scale) {
  scale = nullptr;
  if (g.getNumDpsInputs() != 1 || g.getNumDpsInits() != 1 ||
      g.getNumParallelLoops() != g.getNumLoops() ||
      !llvm::all_of(g.getIndexingMapsArray(),
                    [](AffineMap m) { return m.isIdentity(); }))
    return false;
  auto in = dyn_cast<RankedTensorType>(g.getDpsInputs()[0].getType());
  if (!in || !in.getElementType().isBF16())
    return false;
  Block &body = g.getRegion().front();
  auto yield = cast<linalg::YieldOp>(body.getTerminator());
  Value out = yield.getValues().front();
  if (auto mul = out.getDefiningOp<arith::MulFOp>()) {
    for (auto [x, y] : {std::pair(mul.getLhs(), mul.getRhs()),
                        std::pair(mul.getRhs(), mul.getLhs())})
      if (!g.getRegion().isAncestor(y.getParentRegion()) &&
          y.getType().isF32()) {
        scale = y;
        out = x;
        break;
      }
    if (!scale)
      return false;
  }
  auto ext = out.getDefiningOp<arith::ExtFOp>();
  return ext && ext.getIn() == body.getArgument(0) && ext.getType().isF32() &&
         body.getOperations().size() == (scale ? 3u : 2u);
}

/// The 2-D bf16 tensor that `v` is the f32 widening of (times `scale`, or
/// null), looking through one 2-D transpose (`transposed` says whether it
/// did); null when `v` is not a bf16 value so widened.
Value widenedBf16Source(Value v, bool &transposed, Value &scale) {
  transposed = false;
  if (auto t = v.getDefiningOp<linalg::TransposeOp>()) {
    if (t.getPermutation() != ArrayRef<int64_t>{1, 0})
      return nullptr;
    transposed = true;
    v = t.getInput();
  }
  auto g = v.getDefiningOp<linalg::GenericOp>();
  if (!g || !isBf16Widening(g, scale))
    return nullptr;
  Value src = g.getDpsInputs()[0];
  return cast<RankedTensorType>(src.getType()).getRank() == 2 ? src : nullptr;
}

/// Whether `map` (of loops m, n, k = d0, d1, d2) reads its 2-D operand as
/// (first, second) or (second, first); sets `inOrder` accordingly.
bool readsPair(AffineMap map, unsigned first, unsigned second, bool &inOrder) {
  if (map.getNumResults() != 2 || !map.isProjectedPermutation())
    return false;
  unsigned r0 = map.getDimPosition(0), r1 = map.getDimPosition(1);
  inOrder = r0 == first && r1 == second;
  return inOrder || (r0 == second && r1 == first);
}

Value transposeBf16(ImplicitLocOpBuilder &b, Value src) {
  auto t = cast<RankedTensorType>(src.getType());
  SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, b.getLoc(), src);
  std::swap(sizes[0], sizes[1]);
  Value empty = tensor::EmptyOp::create(b, sizes, t.getElementType());
  return linalg::TransposeOp::create(b, src, empty, ArrayRef<int64_t>{1, 0})
      .getResult()
      .front();
}

/// B in pairs along k: [K/2, N, 2] from `src`, which is B ([K, N],
/// `rowsAreK`) or B^T ([N, K]).
Value packPairs(ImplicitLocOpBuilder &b, Value src, bool rowsAreK) {
  MLIRContext *ctx = b.getContext();
  auto t = cast<RankedTensorType>(src.getType());
  int64_t k = t.getDimSize(rowsAreK ? 0 : 1);
  OpFoldResult n = tensor::getMixedSize(b, b.getLoc(), src, rowsAreK ? 1 : 0);
  Value empty = tensor::EmptyOp::create(
      b, ArrayRef<OpFoldResult>{b.getIndexAttr(k / 2), n, b.getIndexAttr(2)},
      b.getBF16Type());
  AffineExpr k2 = getAffineDimExpr(0, ctx), nn = getAffineDimExpr(1, ctx),
             j = getAffineDimExpr(2, ctx);
  AffineExpr kk = k2 * 2 + j;
  AffineMap in = rowsAreK ? AffineMap::get(3, 0, {kk, nn}, ctx)
                          : AffineMap::get(3, 0, {nn, kk}, ctx);
  auto pack = linalg::GenericOp::create(
      b, empty.getType(), ValueRange{src}, ValueRange{empty},
      ArrayRef<AffineMap>{in, AffineMap::getMultiDimIdentityMap(3, ctx)},
      SmallVector<utils::IteratorType>(3, utils::IteratorType::parallel),
      [](OpBuilder &nb, Location loc, ValueRange args) {
        linalg::YieldOp::create(nb, loc, args[0]);
      });
  return pack.getResult(0);
}
} // namespace

linalg::GenericOp
mlir::seqmix::rewriteAsBf16PairContraction(RewriterBase &rewriter,
                                           linalg::LinalgOp op) {
  bool aTransposed, bTransposed, aMK, bKN;
  Value aScale, bScale;
  Value a = widenedBf16Source(op.getDpsInputs()[0], aTransposed, aScale);
  Value b = widenedBf16Source(op.getDpsInputs()[1], bTransposed, bScale);
  if (!a || !b ||
      !readsPair(op.getMatchingIndexingMap(op.getDpsInputOperand(0)), 0, 2,
                 aMK) ||
      !readsPair(op.getMatchingIndexingMap(op.getDpsInputOperand(1)), 2, 1,
                 bKN) ||
      op.getMatchingIndexingMap(op.getDpsInitOperand(0)) !=
          AffineMap::getMultiDimIdentityMap(3, op.getContext())
              .getMajorSubMap(2))
    return nullptr;
  // The source's row dimension: A's rows are m, B's are k.
  bool aRowsAreM = aMK != aTransposed, bRowsAreK = bKN != bTransposed;
  int64_t k = cast<RankedTensorType>(a.getType()).getDimSize(aRowsAreM ? 1 : 0);
  // Pairs along k need an even, static reduction.
  if (ShapedType::isDynamic(k) || k % 2 != 0 || k == 0)
    return nullptr;

  rewriter.setInsertionPoint(op);
  ImplicitLocOpBuilder ib(op.getLoc(), rewriter);
  // The operands' scales apply to each product (the tiles scale the sum).
  Value scale = aScale && bScale ? arith::MulFOp::create(ib, aScale, bScale)
                                 : (aScale ? aScale : bScale);
  Value am = aRowsAreM ? a : transposeBf16(ib, a);
  Value bp = packPairs(ib, b, bRowsAreK);
  MLIRContext *ctx = op.getContext();
  AffineExpr m = getAffineDimExpr(0, ctx), n = getAffineDimExpr(1, ctx),
             k2 = getAffineDimExpr(2, ctx), j = getAffineDimExpr(3, ctx);
  SmallVector<AffineMap> maps = {AffineMap::get(4, 0, {m, k2 * 2 + j}, ctx),
                                 AffineMap::get(4, 0, {k2, n, j}, ctx),
                                 AffineMap::get(4, 0, {m, n}, ctx)};
  using utils::IteratorType;
  Value init = op.getDpsInits()[0];
  auto dot = linalg::GenericOp::create(
      ib, init.getType(), ValueRange{am, bp}, ValueRange{init}, maps,
      ArrayRef<IteratorType>{IteratorType::parallel, IteratorType::parallel,
                             IteratorType::reduction, IteratorType::reduction},
      [&](OpBuilder &nb, Location loc, ValueRange args) {
        Value x = arith::ExtFOp::create(nb, loc, nb.getF32Type(), args[0]);
        Value y = arith::ExtFOp::create(nb, loc, nb.getF32Type(), args[1]);
        Value p = arith::MulFOp::create(nb, loc, x, y);
        if (scale)
          p = arith::MulFOp::create(nb, loc, p, scale);
        linalg::YieldOp::create(
            nb, loc, arith::AddFOp::create(nb, loc, args[2], p).getResult());
      });
  dot->setAttr(kBf16Dot, rewriter.getUnitAttr());
  rewriter.replaceOp(op, dot.getResults());
  return dot;
}

bool mlir::seqmix::isBf16PairContraction(Operation *op) {
  return op->hasAttr(kBf16Dot);
}

void mlir::seqmix::clearBf16PairMarker(Operation *op) {
  op->removeAttr(kBf16Dot);
}

LogicalResult mlir::seqmix::emitBf16DotTile(RewriterBase &rewriter,
                                            linalg::GenericOp tile) {
  auto cType = dyn_cast<RankedTensorType>(tile.getDpsInits()[0].getType());
  auto aType = dyn_cast<RankedTensorType>(tile.getDpsInputs()[0].getType());
  if (!cType || !aType || !cType.hasStaticShape() || !aType.hasStaticShape())
    return failure();
  int64_t rows = cType.getDimSize(0), cols = cType.getDimSize(1);
  int64_t k = aType.getDimSize(1);
  // The widest vector of f32 lanes the dot takes that divides the tile.
  int64_t lanes = 0;
  for (int64_t w : {16, 8, 4})
    if (cols % w == 0) {
      lanes = w;
      break;
    }
  if (!lanes || k % 2 != 0 || aType.getDimSize(0) != rows)
    return failure();

  // The scale of the products (rewriteAsBf16PairContraction's body:
  // out + (x y) s), applied to the tile's sum of products.
  Value scale;
  auto sum = cast<linalg::YieldOp>(tile.getRegion().front().getTerminator())
                 .getValues()
                 .front()
                 .getDefiningOp<arith::AddFOp>();
  if (!sum)
    return failure();
  if (auto p = sum.getRhs().getDefiningOp<arith::MulFOp>())
    if (!tile.getRegion().isAncestor(p.getRhs().getParentRegion()))
      scale = p.getRhs();

  rewriter.setInsertionPoint(tile);
  ImplicitLocOpBuilder b(tile.getLoc(), rewriter);
  Value a = tile.getDpsInputs()[0], c = tile.getDpsInits()[0];
  // The tile's pairs as rows of 2 NR bf16.
  Value bp = tensor::CollapseShapeOp::create(
      b, tile.getDpsInputs()[1],
      SmallVector<ReassociationIndices>{{0}, {1, 2}});
  auto idx = [&](int64_t i) -> Value {
    return arith::ConstantIndexOp::create(b, i);
  };
  auto accType = VectorType::get({lanes}, b.getF32Type());
  auto pairType = VectorType::get({2 * lanes}, b.getBF16Type());
  Value zeroF = arith::ConstantOp::create(b, b.getF32FloatAttr(0));
  Value zeroB = arith::ConstantOp::create(b, b.getZeroAttr(b.getBF16Type()));
  int64_t vecs = cols / lanes;
  // With a scale the dots start from zero and the tile's initial value is
  // added at the end (init + s * dots), else they start from it.
  SmallVector<Value> init, acc;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t v = 0; v < vecs; ++v)
      init.push_back(vector::TransferReadOp::create(
          b, accType, c, ValueRange{idx(r), idx(v * lanes)}, zeroF,
          ArrayRef<bool>{true}));
  if (scale)
    acc.assign(init.size(), arith::ConstantOp::create(
                                b, DenseElementsAttr::get(accType, 0.0f)));
  else
    acc = init;
  auto loop = scf::ForOp::create(
      b, idx(0), idx(k / 2), idx(1), acc,
      [&](OpBuilder &nb, Location loc, Value k2, ValueRange carried) {
        ImplicitLocOpBuilder lb(loc, nb);
        Value kk = arith::MulIOp::create(lb, k2,
                                         arith::ConstantIndexOp::create(lb, 2));
        SmallVector<Value> bRow;
        for (int64_t v = 0; v < vecs; ++v)
          bRow.push_back(vector::TransferReadOp::create(
              lb, pairType, bp,
              ValueRange{k2, arith::ConstantIndexOp::create(lb, 2 * lanes * v)},
              zeroB, ArrayRef<bool>{true}));
        SmallVector<Value> next;
        for (int64_t r = 0; r < rows; ++r) {
          Value pair = vector::TransferReadOp::create(
              lb, VectorType::get({2}, lb.getBF16Type()), a,
              ValueRange{arith::ConstantIndexOp::create(lb, r), kk}, zeroB,
              ArrayRef<bool>{true});
          Value word = vector::BitCastOp::create(
              lb, VectorType::get({1}, lb.getI32Type()), pair);
          Value splat = vector::BroadcastOp::create(
              lb, VectorType::get({lanes}, lb.getI32Type()), word);
          Value aPairs = vector::BitCastOp::create(lb, pairType, splat);
          for (int64_t v = 0; v < vecs; ++v)
            next.push_back(x86vector::DotBF16Op::create(
                lb, accType, carried[r * vecs + v], aPairs, bRow[v]));
        }
        scf::YieldOp::create(lb, next);
      });
  Value scales =
      scale ? vector::BroadcastOp::create(b, accType, scale) : Value();
  Value out = c;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t v = 0; v < vecs; ++v) {
      int64_t i = r * vecs + v;
      Value result = loop.getResult(i);
      if (scale)
        result = vector::FMAOp::create(b, result, scales, init[i]);
      out = vector::TransferWriteOp::create(b, result, out,
                                            ValueRange{idx(r), idx(v * lanes)},
                                            ArrayRef<bool>{true})
                .getResult();
    }
  rewriter.replaceOp(tile, out);
  return success();
}
