//===- AsyncCopies.cpp - the next block's operands copied ahead -----------===//
//
// Stage 2's copies (issue 12: "cp.async multi-stage copies"): in a bf16 or
// f16 layer a chunk loop widens blocks of its inputs (K and V of a key block,
// the chunk's q, k, v) from global memory into f32 scratch. Here each such
// block of a loop gets two slots of a staging buffer in shared memory, in
// the layer's dtype, and the loop becomes a two-stage pipeline:
//
//   before the loop:   cp.async block(lb) -> slot 0; commit
//   iteration i:       cp.async block(i + 1) -> slot (i + 1) % 2; commit
//                      wait until one group is pending (block i arrived)
//                      barrier
//                      the widening reads slot i % 2 (shared, not global)
//
// so the global reads of the next block overlap this block's compute.
// Every thread copies 16-byte pieces (8 elements) of the block's rows in
// turn; a row past the end of the sequence is zero-filled (cp.async's
// source size 0), so the last, partial block needs no other guard. The
// slot i % 2 that iteration i + 1 overwrites was last read by iteration
// i's widening, which a barrier ends.
//
// A block qualifies when it is a static [rows, cols] slice, cols a multiple
// of 8 and its rows 16-byte aligned (a row stride and column offset that
// are multiples of 8 elements), of a function argument, its offsets the
// loop's induction variable or values defined outside the loop. The runtime
// checks that every tensor of a cuda layer is 16-byte aligned.
//
// The emulation copies synchronously (the same pieces, slots and zero
// fill), which checks the indexing and the slot rotation on the CPU.
//
//===----------------------------------------------------------------------===//
#include "GpuSchedule.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/IRMapping.h"

using namespace mlir;
using namespace mlir::seqmix;

namespace {
constexpr int64_t kPiece = 8; // elements per 16-byte copy (bf16, f16)
/// Marks a staging buffer's allocation.
constexpr llvm::StringLiteral kStagingAttr = "seqmix.gpu.staging";

/// A widened block of a loop and how to address it.
struct Block2D {
  linalg::LinalgOp widen;
  memref::SubViewOp slice; // of a function argument
  int64_t rows, cols;
  unsigned rowDim, colDim; // the source dimensions of the block's two
};

/// The block `widen` reads when it qualifies (see the file comment).
std::optional<Block2D> matchBlock(linalg::LinalgOp widen, scf::ForOp loop) {
  if (!widen->hasAttr("seqmix.widen") || widen.getNumDpsInputs() != 1)
    return std::nullopt;
  auto slice =
      widen.getDpsInputOperand(0)->get().getDefiningOp<memref::SubViewOp>();
  if (!slice || !isa<BlockArgument>(slice.getSource()) ||
      !isa<func::FuncOp>(
          cast<BlockArgument>(slice.getSource()).getOwner()->getParentOp()))
    return std::nullopt;
  MemRefType type = slice.getType();
  Type elem = type.getElementType();
  if (type.getRank() != 2 || !type.hasStaticShape() ||
      (!elem.isBF16() && !elem.isF16()))
    return std::nullopt;
  // Offsets: the induction variable, or values from outside the loop.
  for (Value v : slice.getOffsets())
    if (v != loop.getInductionVar() && !loop.isDefinedOutsideOfLoop(v))
      return std::nullopt;
  if (!slice.getSizes().empty() || !slice.getStrides().empty())
    return std::nullopt;
  // The two dimensions of the source the block spans (the others size 1).
  SmallVector<unsigned> dims;
  for (auto [d, size] : llvm::enumerate(slice.getStaticSizes()))
    if (size != 1)
      dims.push_back(d);
  if (dims.size() != 2)
    return std::nullopt;
  for (int64_t s : slice.getStaticStrides())
    if (s != 1)
      return std::nullopt;
  Block2D blk{widen,   slice,  type.getDimSize(0), type.getDimSize(1),
              dims[0], dims[1]};
  auto src = cast<MemRefType>(slice.getSource().getType());
  SmallVector<int64_t> strides;
  int64_t offset;
  if (failed(src.getStridesAndOffset(strides, offset)) ||
      strides[blk.colDim] != 1 || ShapedType::isDynamic(strides[blk.rowDim]) ||
      strides[blk.rowDim] % kPiece != 0 || blk.cols % kPiece != 0)
    return std::nullopt;
  // The columns: a constant offset, a multiple of a piece.
  int64_t colOff = slice.getStaticOffsets()[blk.colDim];
  if (ShapedType::isDynamic(colOff) || colOff % kPiece != 0)
    return std::nullopt;
  // Every dimension but the rows' must lie inside the source statically.
  if (ShapedType::isDynamic(src.getDimSize(blk.colDim)) ||
      colOff + blk.cols > src.getDimSize(blk.colDim))
    return std::nullopt;
  return blk;
}

struct Pipeliner {
  IRRewriter &rewriter;
  Value tid, nthreads;
  bool emulate;

  Value cst(ImplicitLocOpBuilder &b, int64_t v) {
    return arith::ConstantIndexOp::create(b, v);
  }

  /// The slice of `blk` at loop iteration `iv` (a clone with iv mapped).
  Value sliceAt(ImplicitLocOpBuilder &b, Block2D &blk, scf::ForOp loop,
                Value iv) {
    IRMapping map;
    map.map(loop.getInductionVar(), iv);
    return b.clone(*blk.slice, map)->getResult(0);
  }

  /// This thread's pieces of the block at `iv` into slot `slot` of
  /// `stage` ([2, rows, cols]); rows past the source's end zero-filled;
  /// then one commit.
  void copyBlock(ImplicitLocOpBuilder &b, Block2D &blk, scf::ForOp loop,
                 Value iv, Value slot, Value stage) {
    Value src = sliceAt(b, blk, loop, iv);
    auto slice = src.getDefiningOp<memref::SubViewOp>();
    // Rows left in the source from this block's first.
    Value rowOff = getValueOrCreateConstantIndexOp(
        b, b.getLoc(), slice.getMixedOffsets()[blk.rowDim]);
    Value srcRows = memref::DimOp::create(b, slice.getSource(), blk.rowDim);
    Value perRow = cst(b, blk.cols / kPiece);
    // (The emulation maps tid to 0 and the block size to 1.)
    auto loopPieces = scf::ForOp::create(
        b, tid, cst(b, blk.rows * blk.cols / kPiece), nthreads);
    loopPieces->setAttr(kDistributedAttr, b.getUnitAttr());
    {
      OpBuilder::InsertionGuard g(b);
      b.setInsertionPoint(loopPieces.getBody()->getTerminator());
      Value p = loopPieces.getInductionVar();
      Value r = arith::DivUIOp::create(b, p, perRow);
      Value c = arith::MulIOp::create(b, arith::RemUIOp::create(b, p, perRow),
                                      cst(b, kPiece));
      Value inside =
          arith::CmpIOp::create(b, arith::CmpIPredicate::ult,
                                arith::AddIOp::create(b, rowOff, r), srcRows);
      // A row past the end reads nothing (and row 0, in bounds if any row
      // is; with no row at all the loop has not run).
      Value readRow = arith::SelectOp::create(b, inside, r, cst(b, 0));
      if (emulate) {
        Type elem = cast<MemRefType>(stage.getType()).getElementType();
        Value zero = arith::ConstantOp::create(b, elem, b.getZeroAttr(elem));
        auto each = scf::ForOp::create(b, cst(b, 0), cst(b, kPiece), cst(b, 1));
        OpBuilder::InsertionGuard g2(b);
        b.setInsertionPoint(each.getBody()->getTerminator());
        Value col = arith::AddIOp::create(b, c, each.getInductionVar());
        Value v = memref::LoadOp::create(b, src, ValueRange{readRow, col});
        v = arith::SelectOp::create(b, inside, v, zero);
        memref::StoreOp::create(b, v, stage, ValueRange{slot, r, col});
      } else {
        Value n = arith::SelectOp::create(b, inside, cst(b, kPiece), cst(b, 0));
        auto copy = nvgpu::DeviceAsyncCopyOp::create(
            b, nvgpu::DeviceAsyncTokenType::get(b.getContext()), stage,
            ValueRange{slot, r, c}, src, ValueRange{readRow, c},
            b.getIndexAttr(kPiece), n, /*bypassL1=*/b.getUnitAttr());
        (void)copy;
      }
    }
  }

  /// Pipelines the qualifying blocks of `loop` (a loop of a launch's body);
  /// returns whether it did.
  bool run(scf::ForOp loop) {
    // Only an innermost loop streams its blocks (softmax's key blocks);
    // an outer chunk loop around sub-chunk loops (GLA's per-channel gates,
    // the delta rule's solve) holds more state, and its kernels are the
    // ones at 255 registers already.
    bool nested = false;
    loop.getBody()->walk([&](scf::ForOp) { nested = true; });
    if (nested)
      return false;
    SmallVector<Block2D> blocks;
    loop.getBody()->walk([&](linalg::LinalgOp op) {
      // Only the loop's own blocks (not those of a nested loop).
      if (op->getParentOfType<scf::ForOp>() != loop)
        return;
      if (std::optional<Block2D> blk = matchBlock(op, loop))
        blocks.push_back(*blk);
    });
    if (blocks.empty())
      return false;
    ImplicitLocOpBuilder b(loop.getLoc(), rewriter);
    b.setInsertionPoint(loop);
    Value lb = loop.getLowerBound(), ub = loop.getUpperBound(),
          step = loop.getStep();
    SmallVector<Value> stages;
    for (Block2D &blk : blocks) {
      auto type = MemRefType::get({2, blk.rows, blk.cols},
                                  blk.slice.getType().getElementType());
      stages.push_back(memref::AllocOp::create(b, type));
      stages.back().getDefiningOp()->setAttr(kStagingAttr, b.getUnitAttr());
    }
    // The blocks at iteration `at` into `slot` when `at` < ub, then one
    // commit (an empty group when there is nothing to copy).
    auto copyAll = [&](Value at, Value slot) -> Value {
      Value valid = arith::CmpIOp::create(b, arith::CmpIPredicate::slt, at, ub);
      auto ifOp = scf::IfOp::create(b, valid, /*withElseRegion=*/false);
      ifOp->setAttr(kDistributedAttr, b.getUnitAttr());
      {
        OpBuilder::InsertionGuard g(b);
        b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
        for (auto [blk, stage] : llvm::zip(blocks, stages))
          copyBlock(b, blk, loop, at, slot, stage);
      }
      if (emulate)
        return Value();
      Value token = nvgpu::DeviceAsyncCreateGroupOp::create(
          b, nvgpu::DeviceAsyncTokenType::get(b.getContext()), ValueRange{});
      token.getDefiningOp()->setAttr(kDistributedAttr, b.getUnitAttr());
      return token;
    };
    // Prologue: the first block into slot 0.
    copyAll(lb, cst(b, 0));
    // In the loop: the next block into the other slot, then wait for this
    // one.
    b.setInsertionPointToStart(loop.getBody());
    Value iv = loop.getInductionVar();
    Value k = arith::DivUIOp::create(b, arith::SubIOp::create(b, iv, lb), step);
    Value cur = arith::RemUIOp::create(b, k, cst(b, 2));
    Value nextSlot = arith::RemUIOp::create(
        b, arith::AddIOp::create(b, k, cst(b, 1)), cst(b, 2));
    Value token = copyAll(arith::AddIOp::create(b, iv, step), nextSlot);
    if (!emulate) {
      nvgpu::DeviceAsyncWaitOp::create(b, token, b.getI32IntegerAttr(1))
          ->setAttr(kDistributedAttr, b.getUnitAttr());
    }
    gpu::BarrierOp::create(b);
    // The widenings read the current slot.
    for (auto [blk, stage] : llvm::zip(blocks, stages)) {
      OpBuilder::InsertionGuard g(b);
      b.setInsertionPoint(blk.widen);
      Value slotView = memref::SubViewOp::create(
          b,
          MemRefType::get({blk.rows, blk.cols},
                          cast<MemRefType>(stage.getType()).getElementType(),
                          StridedLayoutAttr::get(b.getContext(),
                                                 ShapedType::kDynamic,
                                                 {blk.cols, 1})),
          stage,
          ArrayRef<OpFoldResult>{cur, b.getIndexAttr(0), b.getIndexAttr(0)},
          ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(blk.rows),
                                 b.getIndexAttr(blk.cols)},
          ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(1),
                                 b.getIndexAttr(1)});
      blk.widen.getDpsInputOperand(0)->set(slotView);
    }
    b.setInsertionPointAfter(loop);
    for (Value stage : stages)
      memref::DeallocOp::create(b, stage);
    return true;
  }
};
} // namespace

void mlir::seqmix::pipelineBlockCopies(IRRewriter &rewriter,
                                       gpu::LaunchOp launch, bool emulate) {
  SmallVector<scf::ForOp> loops;
  launch.getBody().walk([&](scf::ForOp loop) { loops.push_back(loop); });
  Pipeliner p{rewriter, launch.getThreadIds().x, launch.getBlockSize().x,
              emulate};
  for (scf::ForOp loop : loops)
    p.run(loop);
}

void mlir::seqmix::useSharedViewsForAsyncCopies(gpu::LaunchOp launch) {
  launch.getBody().walk([](nvgpu::DeviceAsyncCopyOp copy) {
    if (auto cast = copy.getDst().getDefiningOp<memref::MemorySpaceCastOp>())
      copy.getDstMutable().assign(cast.getSource());
  });
}

namespace {
/// `op` as a copy of a 2-D buffer: out[outMap(i)] = in[inMap(i)], maybe
/// widened (extf), both maps permutations; its source, else null.
Value copySource(linalg::LinalgOp op) {
  if (!op || !op.hasPureBufferSemantics() || op.getNumDpsInputs() != 1 ||
      op.getNumDpsInits() != 1 || op.getNumLoops() != 2 ||
      op.getNumReductionLoops() != 0)
    return Value();
  for (AffineMap map : op.getIndexingMapsArray())
    if (!map.isPermutation())
      return Value();
  Block *body = op.getBlock();
  auto yield = cast<linalg::YieldOp>(body->getTerminator());
  Value v = yield.getValues()[0];
  if (auto ext = v.getDefiningOp<arith::ExtFOp>())
    v = ext.getIn();
  if (v != body->getArgument(0) ||
      body->getOperations().size() != (v == yield.getValues()[0] ? 1u : 2u))
    return Value();
  return op.getDpsInputOperand(0)->get();
}

/// The ops that write the buffer `x` (an allocation, no views of it) when
/// each is the same copy (copySource: one source, the same maps and
/// widening; softmax's two branches each transpose the key block into the
/// same buffer), every other user reading it or freeing it.
SmallVector<linalg::LinalgOp> copiesInto(Value x) {
  if (!x.getDefiningOp<memref::AllocOp>())
    return {};
  SmallVector<linalg::LinalgOp> writers;
  for (OpOperand &use : x.getUses()) {
    Operation *user = use.getOwner();
    if (isa<memref::DeallocOp>(user))
      continue;
    auto l = dyn_cast<linalg::LinalgOp>(user);
    if (!l)
      return {};
    if (l.isDpsInit(&use))
      writers.push_back(l);
  }
  for (linalg::LinalgOp w : writers) {
    linalg::LinalgOp w0 = writers.front();
    if (!copySource(w) || copySource(w) != copySource(w0) ||
        w.getIndexingMapsArray() != w0.getIndexingMapsArray() ||
        w.getBlock()->getOperations().size() !=
            w0.getBlock()->getOperations().size())
      return {};
  }
  return writers;
}
} // namespace

void mlir::seqmix::readStagedBlocksDirectly(IRRewriter &rewriter,
                                            gpu::LaunchOp launch) {
  SmallVector<linalg::LinalgOp> contractions;
  launch.getBody().walk([&](linalg::LinalgOp op) {
    if (isMmaContraction(op))
      contractions.push_back(op);
  });
  SetVector<Operation *> copies;
  for (linalg::LinalgOp c : contractions) {
    SmallVector<Value> operands = c->getOperands();
    SmallVector<AffineMap> maps = c.getIndexingMapsArray();
    bool changed = false;
    for (unsigned i = 0; i < 2; ++i) {
      // Follow copies back from the operand while each is of a buffer
      // nothing else writes, done before `c` in a block around it.
      Value x = operands[i];
      AffineMap map = maps[i];
      SmallVector<Operation *> chain;
      while (true) {
        // (One of the copies runs before `c`, in a block around it.)
        SmallVector<linalg::LinalgOp> writers = copiesInto(x);
        linalg::LinalgOp copy;
        for (linalg::LinalgOp w : writers) {
          Operation *around = w->getBlock()->findAncestorOpInBlock(*c);
          if (around && w->isBeforeInBlock(around))
            copy = w;
        }
        if (!copy)
          break;
        for (linalg::LinalgOp w : writers)
          chain.push_back(w);
        AffineMap in = copy.getMatchingIndexingMap(copy.getDpsInputOperand(0));
        AffineMap out = copy.getMatchingIndexingMap(copy.getDpsInitOperand(0));
        map = in.compose(inversePermutation(out)).compose(map);
        x = copySource(copy);
      }
      // Only to a slot of a staging buffer: one the loop's current block
      // was copied into, which nothing writes before the iteration's last
      // barrier (a global source would be read once per use).
      auto slot = x.getDefiningOp<memref::SubViewOp>();
      auto stage = slot ? slot.getSource().getDefiningOp<memref::AllocOp>()
                        : memref::AllocOp();
      if (chain.empty() || !stage || !stage->hasAttr(kStagingAttr))
        continue;
      operands[i] = x;
      maps[i] = map;
      changed = true;
      copies.insert(chain.begin(), chain.end());
    }
    if (!changed)
      continue;
    // The contraction again, reading the staged blocks (widened in its
    // body).
    rewriter.setInsertionPoint(c);
    unsigned numInputs = c.getNumDpsInputs();
    Block *oldBody = c.getBlock();
    linalg::GenericOp::create(
        rewriter, c.getLoc(), TypeRange{},
        ValueRange(operands).take_front(numInputs),
        ValueRange(operands).drop_front(numInputs), maps,
        c.getIteratorTypesArray(),
        [&](OpBuilder &b, Location loc, ValueRange args) {
          IRMapping m;
          for (auto [arg, now] : llvm::zip(oldBody->getArguments(), args))
            m.map(arg, now.getType() == arg.getType()
                           ? now
                           : arith::ExtFOp::create(b, loc, arg.getType(), now)
                                 .getResult());
          for (Operation &o : *oldBody)
            b.clone(o, m);
        });
    rewriter.eraseOp(c);
  }
  // The buffers nothing reads any more, with the copies into them.
  for (bool erased = true; erased;) {
    erased = false;
    for (Operation *op : copies) {
      Value x = cast<linalg::LinalgOp>(op).getDpsInitOperand(0)->get();
      // Every user a copy into x or a dealloc.
      if (llvm::any_of(x.getUses(), [&](OpOperand &use) {
            auto l = dyn_cast<linalg::LinalgOp>(use.getOwner());
            return !isa<memref::DeallocOp>(use.getOwner()) &&
                   !(l && copies.contains(l) && l.isDpsInit(&use));
          }))
        continue;
      for (Operation *u : llvm::make_early_inc_range(x.getUsers())) {
        copies.remove(u);
        rewriter.eraseOp(u);
      }
      rewriter.eraseOp(x.getDefiningOp());
      erased = true;
      break;
    }
  }
}
