//===- PrefetchBlocks.cpp - prefetch the next block of streamed operands --===//
//
// The chunked and blocked forms walk their inputs block by block: each step
// of a block loop reads rows [t, t + C) of q, k, v and the gates straight
// from the caller's arrays, which the hardware prefetchers bring in only
// once the first loads of a block miss. This pass issues those lines one
// block ahead, spread over the block's main loop nest, so they arrive in the
// second-level cache while the current block computes (CPU_CODEGEN.md 4e).
//
// A block loop is an scf.for with a constant step C whose induction variable
// is the offset of a memref.subview of a function argument along a dimension
// of static size C (a full block; the ragged last block is left alone). For
// each such "stream" the next block's view is the same subview at offset
// t + C. The lines are spread over the host loop: of the loops directly in
// the block loop's body (through scf.if), the one with the most estimated
// work. Its iteration i prefetches rows [i * r, (i + 1) * r) of every stream
// (r = ceil(rows / trips)), every 64-byte line of each row, for reading into
// the second-level cache (locality 2), and only when the next block is a
// full one.
//
//===----------------------------------------------------------------------===//
#include "seqmix/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/MapVector.h"

namespace mlir::seqmix {
#define GEN_PASS_DEF_SEQMIXPREFETCHBLOCKS
#include "seqmix/Transforms/Passes.h.inc"
} // namespace mlir::seqmix

using namespace mlir;

namespace {
/// Bytes of a cache line.
constexpr int64_t kLineBytes = 64;
/// The smallest view worth prefetching: a block of rows of the sequence
/// (C rows of a head's q, k or v), not the few lines of one token's vector
/// that a register tile loop walks (which are in the first-level cache).
constexpr int64_t kMinBlockBytes = 4096;
/// Trip count assumed for a loop with dynamic bounds, when weighing work.
constexpr int64_t kUnknownTrips = 16;

/// A rough count of the operations `op` executes: loops multiply their body
/// by their trip count, linalg ops count their iteration space.
int64_t estimatedWork(Operation *op) {
  if (auto forOp = dyn_cast<scf::ForOp>(op)) {
    std::optional<int64_t> trips =
        forOp.getStaticTripCount()
            ? std::optional<int64_t>(forOp.getStaticTripCount()->getSExtValue())
            : std::nullopt;
    int64_t body = 0;
    for (Operation &inner : *forOp.getBody())
      body += estimatedWork(&inner);
    return trips.value_or(kUnknownTrips) * body;
  }
  if (auto linalgOp = dyn_cast<linalg::LinalgOp>(op)) {
    int64_t n = 1;
    for (int64_t r : linalgOp.getStaticLoopRanges())
      n *= ShapedType::isDynamic(r) ? kUnknownTrips : r;
    return n;
  }
  int64_t n = 1;
  for (Region &region : op->getRegions())
    for (Operation &inner : region.getOps())
      n += estimatedWork(&inner);
  return n;
}

/// A subview of a function argument that a block loop walks.
struct Stream {
  memref::SubViewOp view;
  unsigned offsetIndex; // the operand (among the mixed offsets) that is t
};

/// Whether `view`'s result is a static 1-D or 2-D memref of at least
/// kMinBlockBytes whose innermost dimension is contiguous (so a row is a run
/// of lines).
bool isPrefetchable(memref::SubViewOp view) {
  MemRefType type = view.getType();
  if (!type.hasStaticShape() || type.getRank() < 1 || type.getRank() > 2 ||
      !type.getElementType().isIntOrFloat())
    return false;
  SmallVector<int64_t> strides;
  int64_t offset;
  if (failed(type.getStridesAndOffset(strides, offset)))
    return false;
  if (strides.back() != 1)
    return false;
  // A block of a sequence, not a register tile's slice of a feature vector.
  int64_t bytes = type.getNumElements() * type.getElementTypeBitWidth() / 8;
  return bytes >= kMinBlockBytes;
}

/// The streams of block loop `loop`: subviews of function arguments inside
/// it whose offset is the induction variable, along a dimension whose size
/// is the loop's step, with every other operand defined outside the loop.
SmallVector<Stream> findStreams(scf::ForOp loop, int64_t step) {
  SmallVector<Stream> streams;
  Value iv = loop.getInductionVar();
  loop.getBody()->walk([&](memref::SubViewOp view) {
    auto source = dyn_cast<BlockArgument>(view.getSource());
    if (!source || !isa<func::FuncOp>(source.getOwner()->getParentOp()))
      return;
    if (!isPrefetchable(view))
      return;
    std::optional<unsigned> found;
    SmallVector<OpFoldResult> offsets = view.getMixedOffsets();
    SmallVector<OpFoldResult> sizes = view.getMixedSizes();
    for (auto [i, ofr] : llvm::enumerate(offsets)) {
      auto v = dyn_cast<Value>(ofr);
      if (v != iv)
        continue;
      std::optional<int64_t> size = getConstantIntValue(sizes[i]);
      if (size && *size == step)
        found = i;
    }
    if (!found)
      return;
    for (Value v : view->getOperands())
      if (v != iv && !loop.isDefinedOutsideOfLoop(v))
        return;
    streams.push_back({view, *found});
  });
  return streams;
}

/// The loop to spread the prefetches over: of the scf.for ops with a static
/// trip count in `block` (the one holding the block's views, the body of the
/// block loop or of its full-block branch), with no scf.for between, the one
/// with the most work.
scf::ForOp findHost(Block *block) {
  scf::ForOp best;
  int64_t bestWork = 0;
  for (Operation &top : *block)
    top.walk<WalkOrder::PreOrder>([&](Operation *op) {
      auto forOp = dyn_cast<scf::ForOp>(op);
      if (!forOp)
        return WalkResult::advance();
      int64_t work = estimatedWork(forOp);
      if (work > bestWork && forOp.getStaticTripCount()) {
        best = forOp;
        bestWork = work;
      }
      return WalkResult::skip();
    });
  return best;
}

struct PrefetchBlocksPass
    : mlir::seqmix::impl::SeqMixPrefetchBlocksBase<PrefetchBlocksPass> {
  void runOnOperation() override {
    SmallVector<scf::ForOp> loops;
    getOperation().walk([&](scf::ForOp loop) { loops.push_back(loop); });
    for (scf::ForOp loop : loops) {
      std::optional<int64_t> step = getConstantIntValue(loop.getStep());
      if (!step || *step <= 1)
        continue;
      // The views of one block (the full-block branch) share a host.
      llvm::MapVector<Block *, SmallVector<Stream>> byBlock;
      for (const Stream &s : findStreams(loop, *step))
        byBlock[s.view->getBlock()].push_back(s);
      for (auto &[block, streams] : byBlock)
        if (scf::ForOp host = findHost(block))
          prefetchInto(loop, host, *step, streams);
    }
  }

  void prefetchInto(scf::ForOp loop, scf::ForOp host, int64_t step,
                    ArrayRef<Stream> streams) {
    Location loc = host.getLoc();
    OpBuilder b(host);
    // The next block is prefetched only when it is a full one.
    Value stepV = arith::ConstantIndexOp::create(b, loc, step);
    Value next = arith::AddIOp::create(b, loc, loop.getInductionVar(), stepV);
    Value nextEnd = arith::AddIOp::create(b, loc, next, stepV);
    Value full = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ule,
                                       nextEnd, loop.getUpperBound());
    int64_t trips = host.getStaticTripCount()->getSExtValue();

    b.setInsertionPointToStart(host.getBody());
    // Iteration number i of the host loop.
    Value i = arith::DivUIOp::create(
        b, loc,
        arith::SubIOp::create(b, loc, host.getInductionVar(),
                              host.getLowerBound()),
        host.getStep());
    auto ifOp = scf::IfOp::create(b, loc, full, /*withElseRegion=*/false);
    b.setInsertionPointToStart(ifOp.thenBlock());
    for (Stream s : streams) {
      // The next block's view.
      SmallVector<OpFoldResult> offsets = s.view.getMixedOffsets();
      offsets[s.offsetIndex] = next;
      auto view = memref::SubViewOp::create(
          b, loc, s.view.getType(), s.view.getSource(), offsets,
          s.view.getMixedSizes(), s.view.getMixedStrides());
      MemRefType type = s.view.getType();
      int64_t rows = type.getRank() == 2 ? type.getDimSize(0) : 1;
      int64_t cols = type.getShape().back();
      int64_t elemBytes =
          std::max<int64_t>(1, type.getElementTypeBitWidth() / 8);
      int64_t perLine = std::max<int64_t>(1, kLineBytes / elemBytes);
      int64_t rowsPerTrip = (rows + trips - 1) / trips;
      // Rows [i * r, min((i + 1) * r, rows)).
      Value r = arith::ConstantIndexOp::create(b, loc, rowsPerTrip);
      Value rowsV = arith::ConstantIndexOp::create(b, loc, rows);
      Value first = arith::MinUIOp::create(
          b, loc, arith::MulIOp::create(b, loc, i, r), rowsV);
      Value last = arith::MinUIOp::create(
          b, loc, arith::AddIOp::create(b, loc, first, r), rowsV);
      Value one = arith::ConstantIndexOp::create(b, loc, 1);
      auto rowLoop = scf::ForOp::create(b, loc, first, last, one);
      OpBuilder rb = OpBuilder::atBlockBegin(rowLoop.getBody());
      Value row = rowLoop.getInductionVar();
      for (int64_t c = 0; c < cols; c += perLine) {
        Value col = arith::ConstantIndexOp::create(rb, loc, c);
        SmallVector<Value> indices;
        if (type.getRank() == 2)
          indices = {row, col};
        else
          indices = {col};
        memref::PrefetchOp::create(rb, loc, view, indices, /*isWrite=*/false,
                                   /*localityHint=*/2, /*isDataCache=*/true);
      }
    }
  }
};
} // namespace
