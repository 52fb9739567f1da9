//===- NarrowActivations.cpp - bf16/f16 activations around f32 lowerings --===//
//
// FORMS.md 0.3: activations and outputs may be bf16 or f16, while every
// accumulation, statistic, gate, decay and state is fp32. The family
// lowerings compute in f32; this file puts the conversions around them:
//
//  - widenNarrowActivations (before a family lowering): each bf16/f16
//    operand is widened by an elementwise linalg.generic (arith.extf, marked
//    kWidenAttr), the op is cloned on the f32 values with f32 results, and
//    each result the op had in a narrow type is narrowed back (arith.truncf:
//    round to nearest even; marked kNarrowAttr).
//  - sinkWidening (after every lowering): each tensor.extract_slice of a
//    widened tensor becomes the widening of the same slice of the narrow
//    tensor, so that a lowering's blocks are widened as they are read (in
//    cache) and no f32 copy of a whole input is made; a block's widening
//    with one elementwise reader is fused into that reader, and a scalar
//    read extends its element. A widened tensor that something else reads
//    whole (the selective scan's transpose of B and C) keeps its whole
//    widening.
//  - sinkNarrowing: the narrowing of an scf.forall's result moves into the
//    loop, each slice narrowed before its parallel_insert_slice; a slice
//    assembled from blocks (tensor.insert_slice) is narrowed block by
//    block, and a block computed by an elementwise generic computes the
//    narrow type itself.
//
//===----------------------------------------------------------------------===//
#include "NarrowActivations.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/IRMapping.h"

using namespace mlir;
using namespace mlir::seqmix;

namespace {
/// Marks the elementwise generics that widen a narrow tensor to f32, and
/// those that narrow an f32 result.
constexpr StringLiteral kWidenAttr = "seqmix.widen";
constexpr StringLiteral kNarrowAttr = "seqmix.narrow";

bool isNarrowFloat(Type t) { return t.isBF16() || t.isF16(); }

/// A tensor.empty of `elem` with the sizes of the ranked tensor `like` (of
/// its destination when an op computes it in place: no tensor.dim of `like`
/// is left to keep it alive).
Value emptyLike(OpBuilder &b, Location loc, Value like, Type elem) {
  while (auto result = dyn_cast<OpResult>(like)) {
    auto dps = dyn_cast<DestinationStyleOpInterface>(result.getOwner());
    if (!dps)
      break;
    like = dps.getTiedOpOperand(result)->get();
  }
  return tensor::EmptyOp::create(b, loc, tensor::getMixedSizes(b, loc, like),
                                 elem);
}

/// The elementwise conversion of the ranked tensor `x` to `elem` (extf to
/// f32 or truncf to a narrow type), marked (kWidenAttr, kNarrowAttr) when
/// `mark`: the whole-tensor conversions the sink functions move.
Value convert(OpBuilder &b, Location loc, Value x, Type elem,
              bool mark = true) {
  Value init = emptyLike(b, loc, x, elem);
  unsigned rank = cast<RankedTensorType>(x.getType()).getRank();
  SmallVector<AffineMap> maps(2, b.getMultiDimIdentityMap(rank));
  SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
  bool widen = elem.isF32();
  auto generic = linalg::GenericOp::create(
      b, loc, TypeRange{init.getType()}, ValueRange{x}, ValueRange{init}, maps,
      iters, [&](OpBuilder &nb, Location l, ValueRange args) {
        Value v =
            widen ? arith::ExtFOp::create(nb, l, elem, args[0]).getResult()
                  : arith::TruncFOp::create(nb, l, elem, args[0]).getResult();
        linalg::YieldOp::create(nb, l, v);
      });
  if (mark)
    generic->setAttr(widen ? kWidenAttr : kNarrowAttr, b.getUnitAttr());
  return generic.getResult(0);
}

/// Whether the contents of `v` are undefined: a tensor.empty, or a slice
/// of one.
bool isUndefined(Value v) {
  while (auto slice = v.getDefiningOp<tensor::ExtractSliceOp>())
    v = slice.getSource();
  return v.getDefiningOp<tensor::EmptyOp>() != nullptr;
}

/// `v` narrowed to `elem` block by block, where `v` (an f32 slice of a
/// lowering's output) was assembled from blocks: through a chain of
/// tensor.insert_slice the blocks are narrowed one by one into a narrow
/// destination (an undefined destination stays undefined, in the narrow
/// type). Appends the conversions of the blocks to `blocks`
/// (fuseNarrowing's candidates).
Value narrowBlocks(RewriterBase &rewriter, Location loc, Value v, Type elem,
                   SmallVectorImpl<linalg::GenericOp> &blocks) {
  if (isUndefined(v))
    return emptyLike(rewriter, loc, v, elem);
  if (auto ins = v.getDefiningOp<tensor::InsertSliceOp>()) {
    Value dest = narrowBlocks(rewriter, loc, ins.getDest(), elem, blocks);
    Value src = narrowBlocks(rewriter, loc, ins.getSource(), elem, blocks);
    return tensor::InsertSliceOp::create(
        rewriter, loc, src, dest, ins.getMixedOffsets(), ins.getMixedSizes(),
        ins.getMixedStrides());
  }
  Value narrowed = convert(rewriter, loc, v, elem, /*mark=*/false);
  blocks.push_back(narrowed.getDefiningOp<linalg::GenericOp>());
  return narrowed;
}

/// Erases what defines `v` if nothing reads it and it has no side effects,
/// and so on up its operands (the f32 assembly of a slice that narrowBlocks
/// replaced, and the slices of it its blocks took as destinations).
void eraseIfDead(RewriterBase &rewriter, Value v) {
  Operation *op = v.getDefiningOp();
  if (!op || !isOpTriviallyDead(op))
    return;
  SmallVector<Value> operands(op->getOperands());
  rewriter.eraseOp(op);
  for (Value operand : operands)
    eraseIfDead(rewriter, operand);
}

/// Fuses the narrowing `convert` of a block into the all-parallel generic
/// that computes the block, when nothing else reads it: the generic
/// computes the narrow type itself, and no f32 copy of the block is written
/// and read again.
/// Fuses the elementwise producer of `use` into its consumer (linalg's
/// elementwise fusion) and replaces the consumer by the fused op; false,
/// changing nothing, when they do not fuse.
bool fuseIntoConsumer(RewriterBase &rewriter, OpOperand &use) {
  Operation *consumer = use.getOwner();
  if (!linalg::areElementwiseOpsFusable(&use))
    return false;
  rewriter.setInsertionPoint(consumer);
  FailureOr<linalg::ElementwiseOpFusionResult> fused =
      linalg::fuseElementwiseOps(rewriter, &use);
  if (failed(fused))
    return false;
  for (OpResult r : consumer->getResults())
    rewriter.replaceAllUsesWith(r, fused->replacements.lookup(r));
  rewriter.eraseOp(consumer);
  return true;
}

void fuseNarrowing(RewriterBase &rewriter, linalg::GenericOp convert) {
  OpOperand &use = convert->getOpOperand(0);
  auto producer = use.get().getDefiningOp<linalg::GenericOp>();
  if (!producer || !use.get().hasOneUse() ||
      producer.getNumReductionLoops() != 0 || producer->getNumResults() != 1 ||
      !fuseIntoConsumer(rewriter, use))
    return;
  if (producer->use_empty()) {
    SmallVector<Value> operands(producer->getOperands());
    rewriter.eraseOp(producer);
    for (Value operand : operands)
      eraseIfDead(rewriter, operand);
  }
}

/// The generic that widened `v`, if it is one.
linalg::GenericOp widening(Value v) {
  auto generic = v.getDefiningOp<linalg::GenericOp>();
  return generic && generic->hasAttr(kWidenAttr) ? generic
                                                 : linalg::GenericOp();
}
} // namespace

FailureOr<Operation *>
mlir::seqmix::widenNarrowActivations(Operation *op, RewriterBase &rewriter) {
  auto narrowTensor = [](Type t) {
    auto rt = dyn_cast<RankedTensorType>(t);
    return rt && isNarrowFloat(rt.getElementType());
  };
  if (llvm::none_of(op->getOperandTypes(), narrowTensor) &&
      llvm::none_of(op->getResultTypes(), narrowTensor))
    return op;
  Location loc = op->getLoc();
  Type f32 = rewriter.getF32Type();
  rewriter.setInsertionPoint(op);
  IRMapping widened;
  for (Value v : op->getOperands())
    if (narrowTensor(v.getType()) && !widened.contains(v))
      widened.map(v, convert(rewriter, loc, v, f32));
  Operation *wide = rewriter.clone(*op, widened);
  for (OpResult r : wide->getResults())
    if (narrowTensor(r.getType()))
      r.setType(cast<RankedTensorType>(r.getType()).clone(f32));
  rewriter.setInsertionPointAfter(wide);
  SmallVector<Value> results;
  for (auto [orig, w] : llvm::zip(op->getResults(), wide->getResults()))
    results.push_back(
        narrowTensor(orig.getType())
            ? convert(rewriter, loc, w,
                      cast<RankedTensorType>(orig.getType()).getElementType())
            : Value(w));
  rewriter.replaceOp(op, results);
  return wide;
}

void mlir::seqmix::sinkWidening(Operation *root, RewriterBase &rewriter) {
  bool changed = true;
  while (changed) {
    changed = false;
    SmallVector<tensor::ExtractSliceOp> slices;
    root->walk([&](tensor::ExtractSliceOp s) {
      if (widening(s.getSource()))
        slices.push_back(s);
    });
    for (tensor::ExtractSliceOp s : slices) {
      linalg::GenericOp w = widening(s.getSource());
      Value narrow = w.getDpsInputs()[0];
      rewriter.setInsertionPoint(s);
      RankedTensorType type = s.getResultType().clone(
          cast<RankedTensorType>(narrow.getType()).getElementType());
      Value part = tensor::ExtractSliceOp::create(
          rewriter, s.getLoc(), type, narrow, s.getMixedOffsets(),
          s.getMixedSizes(), s.getMixedStrides());
      rewriter.replaceOp(
          s, convert(rewriter, s.getLoc(), part, rewriter.getF32Type()));
      changed = true;
    }
  }
  // For each widening (whole or of a block): its sizes are those of the
  // narrow tensor; an elementwise reader (every loop parallel), when it is
  // the block's only one, takes the widening into its body: it reads the
  // narrow block and extends each element as it loads it (no f32 copy of
  // the block); a scalar read extends its element; a widening read by
  // nothing else goes.
  SmallVector<linalg::GenericOp> widenings;
  root->walk([&](linalg::GenericOp g) {
    if (g->hasAttr(kWidenAttr))
      widenings.push_back(g);
  });
  for (linalg::GenericOp g : widenings) {
    Value narrow = g.getDpsInputs()[0];
    for (OpOperand &use : llvm::make_early_inc_range(g->getResult(0).getUses()))
      if (auto dim = dyn_cast<tensor::DimOp>(use.getOwner()))
        rewriter.modifyOpInPlace(dim,
                                 [&] { dim.getSourceMutable().set(narrow); });
    for (OpOperand &use :
         llvm::make_early_inc_range(g->getResult(0).getUses())) {
      Operation *user = use.getOwner();
      if (auto extract = dyn_cast<tensor::ExtractOp>(user)) {
        rewriter.setInsertionPoint(extract);
        Value element = tensor::ExtractOp::create(rewriter, extract.getLoc(),
                                                  narrow, extract.getIndices());
        rewriter.replaceOpWithNewOp<arith::ExtFOp>(extract, extract.getType(),
                                                   element);
        continue;
      }
      // (Only a widening's one reader: another would keep the f32 block,
      // and the fused op would write it a second time.)
      auto consumer = dyn_cast<linalg::GenericOp>(user);
      if (!consumer || !g->getResult(0).hasOneUse() ||
          consumer.getNumReductionLoops() != 0 || !consumer.isDpsInput(&use))
        continue;
      (void)fuseIntoConsumer(rewriter, use);
    }
    if (g->use_empty())
      rewriter.eraseOp(g);
  }
}

void mlir::seqmix::sinkNarrowing(Operation *root, RewriterBase &rewriter) {
  SmallVector<linalg::GenericOp> narrowings;
  root->walk([&](linalg::GenericOp g) {
    if (g->hasAttr(kNarrowAttr))
      narrowings.push_back(g);
  });
  for (linalg::GenericOp g : narrowings) {
    auto result = dyn_cast<OpResult>(g.getDpsInputs()[0]);
    auto loop =
        result ? dyn_cast<scf::ForallOp>(result.getOwner()) : scf::ForallOp();
    if (!loop)
      continue;
    unsigned i = result.getResultNumber();
    // Sizes of the result are those of the loop's init.
    for (OpOperand &use : llvm::make_early_inc_range(result.getUses()))
      if (auto dim = dyn_cast<tensor::DimOp>(use.getOwner()))
        rewriter.modifyOpInPlace(
            dim, [&] { dim.getSourceMutable().set(loop.getOutputs()[i]); });
    if (!result.hasOneUse())
      continue;
    BlockArgument shared = loop.getRegionIterArgs()[i];
    auto wideType = cast<RankedTensorType>(shared.getType());
    auto narrowType = cast<RankedTensorType>(g.getResult(0).getType());
    Location loc = g.getLoc();
    // Every slice writes its part (parallel_insert_slice): nothing reads
    // the whole.
    SmallVector<tensor::ParallelInsertSliceOp> inserts;
    for (Operation &op : loop.getTerminator().getYieldingOps())
      if (auto ins = dyn_cast<tensor::ParallelInsertSliceOp>(op);
          ins && ins.getDest() == shared)
        inserts.push_back(ins);
    if (inserts.empty())
      continue;
    // The body's other uses of the shared output only take slices of it as
    // destinations (its contents are undefined): an f32 tensor.empty of the
    // same sizes serves them, and folds into each slice's own.
    rewriter.setInsertionPointToStart(loop.getBody());
    Value scratch = emptyLike(rewriter, loc, shared, wideType.getElementType());
    rewriter.replaceUsesWithIf(shared, scratch, [&](OpOperand &use) {
      return !isa<tensor::ParallelInsertSliceOp>(use.getOwner()) &&
             !isa<tensor::DimOp>(use.getOwner());
    });
    // Each slice narrowed before it is written, block by block where it
    // was assembled from blocks.
    for (tensor::ParallelInsertSliceOp ins : inserts) {
      rewriter.setInsertionPoint(loop.getTerminator());
      SmallVector<linalg::GenericOp> blocks;
      Value whole = ins.getSource();
      Value part = narrowBlocks(rewriter, loc, whole,
                                narrowType.getElementType(), blocks);
      rewriter.modifyOpInPlace(ins, [&] { ins.getSourceMutable().set(part); });
      eraseIfDead(rewriter, whole);
      // The last block first: an earlier block's f32 result may be read
      // only by the f32 destination a later block was computed into.
      for (linalg::GenericOp block : llvm::reverse(blocks))
        fuseNarrowing(rewriter, block);
    }
    // The loop's output in the narrow type.
    rewriter.setInsertionPoint(loop);
    Value narrowInit = emptyLike(rewriter, loc, loop.getOutputs()[i],
                                 narrowType.getElementType());
    rewriter.modifyOpInPlace(loop, [&] {
      loop.getOutputsMutable()[i].set(narrowInit);
      shared.setType(narrowType);
      result.setType(narrowType);
    });
    rewriter.replaceOp(g, result);
  }
}
