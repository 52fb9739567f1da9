//===- WarpReductions.cpp - a block's row reductions over warp lanes ------===//
//
// The GPU schedule's reductions (issue 12, GPU_CODEGEN.md 4: "warp shuffles
// for softmax statistics"): a linalg op with one reduction dimension whose
// body folds its inputs into the output with one associative combiner
// (softmax's row max and row sum, the normalizers of the linear family, the
// sums of decode) runs with one warp per output element instead of one
// thread: the warps take the output elements in turn, each lane folds the
// reduction's elements lane, lane + 32, ... from the combiner's identity
// (the body cloned, its output argument the running value), a butterfly of
// gpu.shuffle xor combines the 32 partial values, and lane 0 folds the total
// into the output. A sum over 64 keys takes 2 steps and 5 shuffles per lane
// instead of 64 steps on one thread of two in four.
//
// The emulation (one thread per block) runs the same loops with one lane
// and no shuffles.
//
//===----------------------------------------------------------------------===//
#include "GpuSchedule.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

#include <limits>

using namespace mlir;
using namespace mlir::seqmix;

namespace {

using Combiner = ReductionCombiner;

std::optional<Combiner> matchCombiner(linalg::LinalgOp op) {
  Block *body = op.getBlock();
  auto yield = cast<linalg::YieldOp>(body->getTerminator());
  if (yield.getNumOperands() != 1)
    return std::nullopt;
  Value out = body->getArguments().back();
  Operation *comb = yield.getValues()[0].getDefiningOp();
  if (!comb || comb->getBlock() != body || comb->getNumOperands() != 2 ||
      !out.hasOneUse() || *out.getUsers().begin() != comb)
    return std::nullopt;
  auto type = dyn_cast<FloatType>(out.getType());
  if (!type)
    return std::nullopt;
  Builder b(op.getContext());
  double inf = std::numeric_limits<double>::infinity();
  if (isa<arith::AddFOp>(comb))
    return Combiner{comb, b.getFloatAttr(type, 0.0)};
  if (isa<arith::MaximumFOp, arith::MaxNumFOp>(comb))
    return Combiner{comb, b.getFloatAttr(type, -inf)};
  if (isa<arith::MinimumFOp, arith::MinNumFOp>(comb))
    return Combiner{comb, b.getFloatAttr(type, inf)};
  return std::nullopt;
}

Value combine(OpBuilder &b, Operation *comb, Value x, Value y) {
  return combineWith(b, comb, x, y);
}
} // namespace

std::optional<ReductionCombiner>
mlir::seqmix::reductionCombiner(linalg::LinalgOp op) {
  return matchCombiner(op);
}

Value mlir::seqmix::combineWith(OpBuilder &b, Operation *comb, Value x,
                                Value y) {
  OperationState state(comb->getLoc(), comb->getName());
  state.addOperands({x, y});
  state.addTypes(x.getType());
  state.addAttributes(comb->getAttrs());
  return b.create(state)->getResult(0);
}

bool mlir::seqmix::isReduction(linalg::LinalgOp op) {
  if (!op.hasPureBufferSemantics() || op.getNumDpsInits() != 1 ||
      op.getNumReductionLoops() != 1 || !matchCombiner(op))
    return false;
  return llvm::all_of(op.getIndexingMapsArray(), [](AffineMap map) {
    return map.isProjectedPermutation();
  });
}

bool mlir::seqmix::buildWarpReduction(ImplicitLocOpBuilder &b,
                                      linalg::LinalgOp op, Value tid,
                                      Value nthreads, int64_t threads,
                                      bool emulate) {
  Combiner comb = *matchCombiner(op);
  SmallVector<Range> ranges = op.createLoopRanges(b, b.getLoc());
  SmallVector<utils::IteratorType> iters = op.getIteratorTypesArray();
  // The choice, on bounds of the sizes (unknown: 4096): a thread per output
  // element takes ceil(rows / threads) * R dependent steps; a warp per
  // element ceil(rows / warps) * (ceil(R / 32) + 2 log2 32) (the shuffles
  // and their combines). A few rows of a long reduction (decode's scores)
  // go to warps; many rows (a contraction's outputs, a chunk's 64 row
  // statistics) stay on threads.
  auto bound = [&](OpFoldResult size) {
    Value v = getValueOrCreateConstantIndexOp(b, b.getLoc(), size);
    return upperBound(v).value_or(4096);
  };
  int64_t rowsBound = 1, redBound = 1;
  for (auto [r, it] : llvm::zip(ranges, iters))
    (it == utils::IteratorType::parallel ? rowsBound : redBound) *=
        bound(r.size);
  int64_t warps = std::max<int64_t>(threads / kWarp, 1);
  int64_t simtSteps = (rowsBound + threads - 1) / threads * redBound;
  int64_t warpSteps =
      (rowsBound + warps - 1) / warps * ((redBound + kWarp - 1) / kWarp + 10);
  if (warpSteps >= simtSteps)
    return false;
  auto cst = [&](int64_t v) { return arith::ConstantIndexOp::create(b, v); };
  int64_t lanes = emulate ? 1 : kWarp;
  Value warp = arith::DivUIOp::create(b, tid, cst(lanes));
  Value lane = arith::RemUIOp::create(b, tid, cst(lanes));
  Value nwarps = arith::DivUIOp::create(
      b, arith::AddIOp::create(b, nthreads, cst(lanes - 1)), cst(lanes));
  // The output elements: the parallel dimensions, flattened.
  SmallVector<Value> par;
  unsigned red = 0;
  for (auto [i, it] : llvm::enumerate(iters)) {
    if (it == utils::IteratorType::parallel)
      par.push_back(
          getValueOrCreateConstantIndexOp(b, b.getLoc(), ranges[i].size));
    else
      red = i;
  }
  auto rows = scf::ForOp::create(b, warp, product(b, par), nwarps);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(rows.getBody());
  // The output element's point in the parallel dimensions.
  SmallVector<Value> ivs(iters.size());
  SmallVector<Value> rowIvs = delinearize(b, rows.getInductionVar(), par);
  for (unsigned i = 0, p = 0; i < iters.size(); ++i)
    if (iters[i] == utils::IteratorType::parallel)
      ivs[i] = arith::AddIOp::create(
          b, getValueOrCreateConstantIndexOp(b, b.getLoc(), ranges[i].offset),
          rowIvs[p++]);
  // This lane's partial value over k = lane, lane + lanes, ...
  Value init = arith::ConstantOp::create(b, comb.identity);
  Value redOffset =
      getValueOrCreateConstantIndexOp(b, b.getLoc(), ranges[red].offset);
  Value redSize =
      getValueOrCreateConstantIndexOp(b, b.getLoc(), ranges[red].size);
  auto ks = scf::ForOp::create(b, lane, redSize, cst(lanes), init);
  {
    OpBuilder::InsertionGuard g2(b);
    b.setInsertionPointToStart(ks.getBody());
    ivs[red] = arith::AddIOp::create(b, redOffset, ks.getInductionVar());
    // The body with the output argument the running value.
    unsigned out = op.getDpsInitOperand(0)->getOperandNumber();
    scf::YieldOp::create(
        b, yieldedAt(b, op, ivs, {{out, ks.getRegionIterArg(0)}}));
  }
  Value partial = ks.getResult(0);
  // The butterfly: after it every lane holds the warp's total.
  for (int64_t offset = lanes / 2; offset >= 1; offset /= 2) {
    auto shuffle = gpu::ShuffleOp::create(
        b, partial, static_cast<int32_t>(offset), static_cast<int32_t>(lanes),
        gpu::ShuffleMode::XOR);
    partial = combine(b, comb.op, partial, shuffle.getShuffleResult());
  }
  // Lane 0 folds it into the output.
  OpOperand *init0 = op.getDpsInitOperand(0);
  SmallVector<Value> outIdx = indicesAt(op.getMatchingIndexingMap(init0), ivs);
  Value first =
      arith::CmpIOp::create(b, arith::CmpIPredicate::eq, lane, cst(0));
  auto ifOp = scf::IfOp::create(b, first, /*withElseRegion=*/false);
  b.setInsertionPointToStart(ifOp.thenBlock());
  Value old = memref::LoadOp::create(b, init0->get(), outIdx);
  // The body's operand order: combine(out, x) or combine(x, out).
  bool outFirst =
      comb.op->getOperand(0) == op.getBlock()->getArguments().back();
  Value result = outFirst ? combine(b, comb.op, old, partial)
                          : combine(b, comb.op, partial, old);
  memref::StoreOp::create(b, result, init0->get(), outIdx);
  return true;
}
