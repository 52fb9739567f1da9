//===- LaneDistribution.cpp - a lowering's vector code over threads -------===//
//
// The scans' lowerings (selective scan, LTI) write their token loops as
// vector code whose lanes are channels: every vector op is lane-wise (each
// lane of the result depends only on the same lane of the operands), every
// vector read and write covers lanes 0..W-1 of a row starting at column 0.
// On the CPU a lane is a SIMD lane; on the GPU (issue 12; mamba's kernels
// put channels on threads likewise) thread i runs the same code on lane i:
// a vector of W lanes becomes one scalar per thread, a transfer at [.., 0]
// a load or store at [.., i], a broadcast its scalar, and the scalar code
// around it (indices, the token's B_t[n]) runs in every thread. Such code
// would otherwise run on thread 0 alone.
//
// The lanes share no data: a region qualifies only if no lane reads what
// another wrote (a scalar load of a buffer the region writes disqualifies
// it). So the emulation may run the lanes one after another.
//
//===----------------------------------------------------------------------===//
#include "GpuSchedule.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/IRMapping.h"

using namespace mlir;
using namespace mlir::seqmix;

namespace {
bool isZero(Value v) {
  std::optional<int64_t> c = getConstantIntValue(v);
  return c && *c == 0;
}

/// A transfer of a whole 1-D row from column 0, without mask.
bool isRowTransfer(VectorTransferOpInterface t) {
  auto type = t.getVectorType();
  if (type.getRank() != 1 || t.getMask() ||
      !t.getPermutationMap().isMinorIdentity() ||
      !isa<MemRefType>(t.getShapedType()))
    return false;
  for (unsigned i = 0; i < t.getTransferRank(); ++i)
    if (!t.isDimInBounds(i))
      return false;
  return isZero(t.getIndices().back());
}

/// Checks the ops (and their regions) and finds the width.
struct LaneCheck {
  int64_t width = 0;
  SmallVector<Value> written;     // roots of transfer writes
  SmallVector<Value> scalarReads; // roots of scalar loads
  const llvm::SmallPtrSet<Operation *, 16> &region;

  bool width1D(Type t) {
    auto v = dyn_cast<VectorType>(t);
    if (!v)
      return true;
    if (v.getRank() != 1 || v.isScalable())
      return false;
    if (width && width != v.getDimSize(0))
      return false;
    width = v.getDimSize(0);
    return true;
  }

  bool check(Operation *op) {
    for (Type t : op->getResultTypes())
      if (!width1D(t)) {
        return false;
      }
    for (Value v : op->getOperands()) {
      if (!width1D(v.getType())) {
        return false;
      }
      // A vector from outside: only a splat constant has a lane value.
      if (isa<VectorType>(v.getType())) {
        Operation *def = v.getDefiningOp();
        Operation *at =
            def ? def : cast<BlockArgument>(v).getOwner()->getParentOp();
        bool inside = false;
        for (Operation *p = at; p; p = p->getParentOp())
          if (region.contains(p))
            inside = true;
        if (!inside && !(def && isa<arith::ConstantOp>(def) &&
                         isa<SplatElementsAttr>(
                             cast<arith::ConstantOp>(def).getValue()))) {
          return false;
        }
      }
    }
    if (auto read = dyn_cast<vector::TransferReadOp>(op)) {
      return isRowTransfer(read);
    }
    if (auto write = dyn_cast<vector::TransferWriteOp>(op)) {
      written.push_back(viewRoot(write.getBase()));
      return isRowTransfer(write);
    }
    if (auto load = dyn_cast<memref::LoadOp>(op)) {
      scalarReads.push_back(viewRoot(load.getMemRef()));
      return true;
    }
    if (auto bc = dyn_cast<vector::BroadcastOp>(op))
      return !isa<VectorType>(bc.getSourceType());
    if (isa<vector::FMAOp, scf::ForOp, scf::IfOp, scf::YieldOp>(op) ||
        (op->getNumRegions() == 0 &&
         (isa<arith::ArithDialect, math::MathDialect>(op->getDialect())) &&
         (op->hasTrait<OpTrait::Elementwise>() || isa<arith::ConstantOp>(op) ||
          op->getNumResults() == 0 ||
          llvm::none_of(op->getResultTypes(),
                        [](Type t) { return isa<VectorType>(t); })))) {
      for (Region &r : op->getRegions())
        for (Operation &o : r.getOps())
          if (!check(&o))
            return false;
      return true;
    }
    return false;
  }
};

Type scalarOf(Type t) {
  if (auto v = dyn_cast<VectorType>(t))
    return v.getElementType();
  return t;
}

/// Clones `op` for one lane: vectors become their lane's scalar.
struct LaneCloner {
  OpBuilder &b;
  Value lane;
  IRMapping map;

  Value get(Value v) {
    if (Value m = map.lookupOrNull(v))
      return m;
    if (auto c = v.getDefiningOp<arith::ConstantOp>())
      if (auto splat = dyn_cast<SplatElementsAttr>(c.getValue())) {
        Value s = arith::ConstantOp::create(
            b, c.getLoc(), cast<TypedAttr>(splat.getSplatValue<Attribute>()));
        map.map(v, s);
        return s;
      }
    return v;
  }

  SmallVector<Value> get(ValueRange vs) {
    SmallVector<Value> out;
    for (Value v : vs)
      out.push_back(get(v));
    return out;
  }

  SmallVector<Value> laneIndices(ValueRange indices) {
    SmallVector<Value> idx = get(indices);
    idx.back() = lane;
    return idx;
  }

  void cloneBlock(Block &block) {
    for (Operation &o : block)
      clone(&o);
  }

  void clone(Operation *op) {
    Location loc = op->getLoc();
    if (auto read = dyn_cast<vector::TransferReadOp>(op)) {
      map.map(read.getResult(),
              memref::LoadOp::create(b, loc, read.getBase(),
                                     laneIndices(read.getIndices())));
      return;
    }
    if (auto write = dyn_cast<vector::TransferWriteOp>(op)) {
      memref::StoreOp::create(b, loc, get(write.getVector()), write.getBase(),
                              laneIndices(write.getIndices()));
      return;
    }
    if (auto bc = dyn_cast<vector::BroadcastOp>(op)) {
      map.map(bc.getResult(), get(bc.getSource()));
      return;
    }
    if (auto fma = dyn_cast<vector::FMAOp>(op)) {
      map.map(fma.getResult(),
              math::FmaOp::create(b, loc, get(fma.getLhs()), get(fma.getRhs()),
                                  get(fma.getAcc())));
      return;
    }
    if (auto c = dyn_cast<arith::ConstantOp>(op)) {
      (void)get(c.getResult());
      if (!map.contains(c.getResult()))
        map.map(c.getResult(), b.clone(*op)->getResult(0));
      return;
    }
    if (auto loop = dyn_cast<scf::ForOp>(op)) {
      auto lanes = scf::ForOp::create(
          b, loc, get(loop.getLowerBound()), get(loop.getUpperBound()),
          get(loop.getStep()), get(loop.getInitArgs()));
      map.map(loop.getInductionVar(), lanes.getInductionVar());
      for (auto [from, to] :
           llvm::zip(loop.getRegionIterArgs(), lanes.getRegionIterArgs()))
        map.map(from, to);
      {
        // (The builder gives a body with a yield only without iter_args.)
        Block *body = lanes.getBody();
        while (!body->empty())
          body->back().erase();
        OpBuilder::InsertionGuard g(b);
        b.setInsertionPointToEnd(body);
        cloneBlock(*loop.getBody());
      }
      map.map(loop.getResults(), lanes.getResults());
      return;
    }
    if (auto ifOp = dyn_cast<scf::IfOp>(op)) {
      SmallVector<Type> types;
      for (Type t : ifOp.getResultTypes())
        types.push_back(scalarOf(t));
      auto lanes = scf::IfOp::create(b, loc, types, get(ifOp.getCondition()),
                                     !ifOp.getElseRegion().empty());
      for (auto [from, to] :
           llvm::zip(ifOp->getRegions(), lanes->getRegions())) {
        if (from.empty())
          continue;
        Block &dst = to.front();
        while (!dst.empty())
          dst.back().erase();
        OpBuilder::InsertionGuard g(b);
        b.setInsertionPointToEnd(&dst);
        cloneBlock(from.front());
      }
      map.map(ifOp.getResults(), lanes.getResults());
      return;
    }
    if (auto yield = dyn_cast<scf::YieldOp>(op)) {
      scf::YieldOp::create(b, loc, get(yield.getOperands()));
      return;
    }
    OperationState state(loc, op->getName());
    state.addOperands(get(op->getOperands()));
    for (Type t : op->getResultTypes())
      state.addTypes(scalarOf(t));
    state.addAttributes(op->getAttrs());
    Operation *lanes = b.create(state);
    map.map(op->getResults(), lanes->getResults());
  }
};
} // namespace

std::optional<int64_t> mlir::seqmix::laneWidth(ArrayRef<Operation *> ops) {
  llvm::SmallPtrSet<Operation *, 16> region(ops.begin(), ops.end());
  LaneCheck check{0, {}, {}, region};
  for (Operation *op : ops)
    if (!check.check(op)) {
      return std::nullopt;
    }
  if (check.width < 1 || check.written.empty())
    return std::nullopt;
  // No lane may read (as a scalar) what the lanes write.
  for (Value r : check.scalarReads)
    if (llvm::is_contained(check.written, r))
      return std::nullopt;
  return check.width;
}

void mlir::seqmix::buildLaneDistributed(OpBuilder &b, ArrayRef<Operation *> ops,
                                        Value lane) {
  LaneCloner cloner{b, lane, {}};
  for (Operation *op : ops)
    cloner.clone(op);
}
