//===- WarpRowRuns.cpp - row-local runs of a block on a warp's registers --===//
//
// The GPU schedule's FA2-style path (issue 12, GPU_CODEGEN.md 4): in a bf16
// or f16 layer, a run of consecutive linalg ops of a block that are all
// row-local -- every buffer the run writes is read and written only at the
// row of the op's iteration -- and that holds a tensor-core contraction
// runs without block barriers and without shared memory for its
// temporaries. Softmax attention's key-block step is such a run:
//   S = q k^T, mask, m = rowmax(S), P = exp(S - m), alpha, l = alpha l +
//   rowsum(P), O = alpha O + P V
// and so is a gated chunk's intra-chunk part (A = q k^T, decay and mask,
// O += A V).
//
// Each warp takes units of 16 rows. In a unit every op runs on the
// m16n8k16 accumulator layout (groupID g = lane / 4, t = lane % 4): a lane
// holds, of a tile [16, 8 j], the elements (g, 8j + 2t + {0,1}) and
// (g + 8, 8j + 2t + {0,1}), and of a row vector the rows g and g + 8.
//   - a scratch buffer the run writes first and nobody reads after it
//     (S, P, the block's row max) lives in registers: up to 64 columns, 4
//     f32 per 8 columns per lane (a buffer used by both branches of the
//     chunk loop's scf.if, softmax's rescale factor, stays in memory);
//   - an elementwise op (mask, exp, rescale; linalg.index is the lane's
//     position) computes its lane's elements from registers or memory;
//   - a row reduction folds a lane's elements of its two rows, then
//     combines the four lanes of the row with two gpu.shuffle xor steps;
//   - a contraction with m the rows runs as nvvm.mma.sync on the unit: A
//     from registers is the C layout of two n-tiles read as the A layout
//     of one k-step (P never leaves the registers), else loaded; B loaded;
//     C from registers or memory, an elementwise op on C just before it
//     (O's rescale) applied as C is loaded.
// Buffers the run writes in memory (the loop-carried O, m, l) are touched
// at the rows of the unit only, by its warp: a bar.warp.sync orders them
// inside the run, a block barrier follows it.
//
// The emulation (seqmix-gpu-distribute{emulate}) runs the same units and
// lanes in loops, registers as a [32, slots] buffer per value, the
// shuffles as reads of the quad's partials, an mma as each lane's sums
// over k reading A's elements from the lanes that hold them: the layout,
// the A-from-C reuse and the row combines are checked against the
// reference on a machine without a GPU.
//
//===----------------------------------------------------------------------===//
#include "GpuSchedule.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include <limits>

using namespace mlir;
using namespace mlir::seqmix;

namespace {
/// Columns of a tile held in registers (4 f32 per 8 columns per lane).
constexpr int64_t kMaxRegisterCols = 64;
/// Columns of any 2-D op of a run (its lane's elements unrolled).
constexpr int64_t kMaxCols = 128;
/// The reduction depth of a run's contraction (its k-steps unrolled when
/// A is in registers).
constexpr int64_t kMaxDepth = 256;
/// n-tiles a contraction with A in memory accumulates at once.
constexpr int64_t kGroupTiles = 4;

enum class Kind { Map, Reduce, Contract };

/// A run's op, classified.
struct RunOp {
  mutable linalg::LinalgOp op;
  Kind kind;
  unsigned rowDim = 0;
  /// 2-D Map: the column dimension; Reduce: the reduced one; Contract: n.
  unsigned colDim = 0;
  /// 8-column tiles over colDim (0 for a 1-D Map).
  int64_t colTiles = 0;
  /// Contract: its k-steps of 16, and its operands.
  int64_t kSteps = 0;
  std::optional<MmaContraction> c;
};

/// The size of loop `dim` of `op` as an operand it indexes gives it: a
/// static size, else an allocation's size operand, else the operand and
/// dimension to take memref.dim of.
struct LoopSize {
  std::optional<int64_t> fixed;
  Value value;
  OpOperand *operand = nullptr;
  unsigned dim = 0;
};
LoopSize loopSize(linalg::LinalgOp op, unsigned dim) {
  LoopSize size;
  for (OpOperand &operand : op->getOpOperands()) {
    auto type = dyn_cast<MemRefType>(operand.get().getType());
    if (!type)
      continue;
    AffineMap map = op.getMatchingIndexingMap(&operand);
    for (unsigned r = 0; r < map.getNumResults(); ++r) {
      if (map.getDimPosition(r) != dim)
        continue;
      if (!type.isDynamicDim(r)) {
        size.fixed = type.getDimSize(r);
        return size;
      }
      if (auto alloc = operand.get().getDefiningOp<memref::AllocOp>()) {
        if (!size.value)
          size.value = alloc.getDynamicSizes()[type.getDynamicDimIndex(r)];
      } else if (!size.operand) {
        size.operand = &operand;
        size.dim = r;
      }
    }
  }
  return size;
}

/// A constant bound of loop `dim` of `op`.
std::optional<int64_t> boundOf(linalg::LinalgOp op, unsigned dim) {
  LoopSize size = loopSize(op, dim);
  if (size.fixed)
    return size.fixed;
  return size.value ? upperBound(size.value) : std::nullopt;
}

/// `op` as an op of a run, or nullopt.
std::optional<RunOp> classify(linalg::LinalgOp op) {
  if (!op.hasPureBufferSemantics() || op.getNumDpsInits() != 1)
    return std::nullopt;
  for (AffineMap map : op.getIndexingMapsArray())
    if (!map.isProjectedPermutation())
      return std::nullopt;
  AffineMap outMap = op.getMatchingIndexingMap(op.getDpsInitOperand(0));
  if (outMap.getNumResults() == 0)
    return std::nullopt;
  RunOp r;
  r.op = op;
  r.kind = Kind::Map;
  r.rowDim = outMap.getDimPosition(0);
  auto tiles = [&](unsigned dim, int64_t most) -> std::optional<int64_t> {
    std::optional<int64_t> ub = boundOf(op, dim);
    if (!ub || *ub < 1 || *ub > most)
      return std::nullopt;
    return (*ub + 7) / 8;
  };
  if (op.getNumLoops() == 3) {
    r.c = matchMmaContraction(op);
    if (!r.c || r.c->mapC.getDimPosition(0) != r.c->m)
      return std::nullopt;
    r.kind = Kind::Contract;
    r.rowDim = r.c->m;
    r.colDim = r.c->n;
    std::optional<int64_t> nt = tiles(r.c->n, kMaxCols),
                           kt = tiles(r.c->k, kMaxDepth);
    if (!nt || !kt)
      return std::nullopt;
    r.colTiles = *nt;
    r.kSteps = (*kt + 1) / 2;
    return r;
  }
  if (!hasPureBody(op))
    return std::nullopt;
  SmallVector<utils::IteratorType> iters = op.getIteratorTypesArray();
  if (op.getNumLoops() == 1) {
    if (iters[0] != utils::IteratorType::parallel)
      return std::nullopt;
    return r;
  }
  if (op.getNumLoops() != 2 || iters[r.rowDim] != utils::IteratorType::parallel)
    return std::nullopt;
  r.colDim = 1 - r.rowDim;
  if (iters[r.colDim] == utils::IteratorType::reduction) {
    if (outMap.getNumResults() != 1 || !reductionCombiner(op))
      return std::nullopt;
    r.kind = Kind::Reduce;
  } else if (outMap.getNumResults() != 2) {
    return std::nullopt;
  }
  std::optional<int64_t> nt = tiles(r.colDim, kMaxCols);
  if (!nt)
    return std::nullopt;
  r.colTiles = *nt;
  return r;
}

/// Whether `operand` of the run op `r` is accessed at the row of the
/// iteration: its first index the row. (The caller checks that every
/// access to its buffer in the run is through the same value.)
bool rowLocal(const RunOp &r, OpOperand &operand) {
  if (viewRoot(operand.get()) != operand.get() &&
      !operand.get().getDefiningOp<memref::SubViewOp>())
    return false;
  if (r.kind == Kind::Contract && operand.get() == r.c->b &&
      operand.getOperandNumber() == 1)
    return false;
  AffineMap map = r.op.getMatchingIndexingMap(&operand);
  return map.getNumResults() > 0 && map.getDimPosition(0) == r.rowDim;
}

/// The dimensions operand `operand` of `r` must be indexed by to live in
/// registers (rows, then columns).
SmallVector<unsigned> registerDims(const RunOp &r, OpOperand &operand,
                                   unsigned rank) {
  if (rank == 1)
    return {r.rowDim};
  if (r.kind != Kind::Contract)
    return {r.rowDim, r.colDim};
  if (operand.getOperandNumber() == 0)
    return {r.c->m, r.c->k};
  if (operand.getOperandNumber() == 2)
    return {r.c->m, r.c->n};
  return {}; // B never
}

/// Whether `op` writes all of `root` without reading it: an elementwise
/// op (classify) whose output is `root`, its output argument unused, and
/// no input `root`.
bool writesWhole(linalg::LinalgOp op, Value root) {
  std::optional<RunOp> r = classify(op);
  OpOperand *init = op.getDpsInitOperand(0);
  return r && r->kind == Kind::Map && init->get() == root &&
         op.getMatchingBlockArgument(init).use_empty() &&
         llvm::none_of(op.getDpsInputOperands(),
                       [&](OpOperand *in) { return in->get() == root; });
}

/// The 8-column tiles of its buffer that `operand` of `r` touches (A of a
/// contraction: two per k-step).
int64_t tilesOf(const RunOp &r, OpOperand &operand) {
  return r.kind == Kind::Contract && operand.getOperandNumber() == 0
             ? 2 * r.kSteps
             : r.colTiles;
}

/// Whether an op of `ops` uses the buffer (or a view of the buffer) of
/// `v`.
bool touches(ArrayRef<RunOp> ops, Value v) {
  return llvm::any_of(ops, [&](const RunOp &r) {
    return llvm::any_of(r.op->getOpOperands(), [&](OpOperand &operand) {
      return viewRoot(operand.get()) == viewRoot(v);
    });
  });
}

/// The memref operand roots the run's ops write.
SetVector<Value> writtenRoots(ArrayRef<RunOp> ops) {
  SetVector<Value> w;
  for (const RunOp &r : ops)
    w.insert(viewRoot(r.op.getDpsInitOperand(0)->get()));
  return w;
}
} // namespace

std::optional<RowRun>
mlir::seqmix::matchRowRun(ArrayRef<Operation *> ops,
                          const llvm::SmallPtrSetImpl<Operation *> &skip) {
  SmallVector<RunOp> run;
  SmallVector<Operation *> between;
  size_t betweenUsed = 0;
  for (Operation *op : ops) {
    if (skip.contains(op))
      break;
    if (auto l = dyn_cast<linalg::LinalgOp>(op)) {
      std::optional<RunOp> r = classify(l);
      if (!r)
        break;
      run.push_back(*r);
      betweenUsed = between.size();
      continue;
    }
    if (op->hasAttr(kDistributedAttr))
      break;
    if (isa<memref::AllocOp>(op) || (op->getNumRegions() == 0 && isPure(op))) {
      between.push_back(op);
      continue;
    }
    break;
  }
  // Cut the run before the first op that reads or writes a buffer the run
  // writes other than at its row.
  // (Every access to such a buffer through one value: the buffer, or one
  // subview of it.)
  while (!run.empty()) {
    SetVector<Value> written = writtenRoots(run);
    DenseMap<Value, Value> access;
    size_t bad = run.size();
    for (size_t i = 0; i < run.size() && bad == run.size(); ++i)
      for (OpOperand &operand : run[i].op->getOpOperands()) {
        if (!isa<MemRefType>(operand.get().getType()))
          continue;
        Value root = viewRoot(operand.get());
        if (!written.contains(root))
          continue;
        Value &via = access[root];
        if (!via)
          via = operand.get();
        if (via != operand.get() || !rowLocal(run[i], operand)) {
          bad = i;
          break;
        }
      }
    if (bad == run.size())
      break;
    run.resize(bad);
  }
  if (run.empty())
    return std::nullopt;
  // Drop the pure ops and allocations after the last op of the run.
  Operation *last = run.back().op;
  between.resize(betweenUsed);
  llvm::erase_if(between,
                 [&](Operation *o) { return last->isBeforeInBlock(o); });

  RowRun result;
  for (const RunOp &r : run)
    result.ops.push_back(r.op);
  result.between = between;
  llvm::append_range(result.erased, result.ops);
  // The buffers in registers.
  bool contractionInRegisters = false;
  for (Value root : writtenRoots(run)) {
    auto alloc = root.getDefiningOp<memref::AllocOp>();
    auto type = dyn_cast<MemRefType>(root.getType());
    if (!alloc || !type.getElementType().isF32() || type.getRank() > 2)
      continue;
    SmallVector<Operation *> deallocs;
    bool ok = true, first = true, inContraction = false;
    int64_t tilesNeeded = 1;
    SmallVector<Operation *> elsewhere;
    for (Operation *user : root.getUsers()) {
      if (isa<memref::DeallocOp>(user)) {
        deallocs.push_back(user);
        continue;
      }
      if (!llvm::is_contained(result.ops, user))
        elsewhere.push_back(user);
    }
    // Users outside the run (the other branch of the chunk loop's scf.if)
    // never see what the run leaves: each in a block that does not hold
    // the run, where the first user writes the whole buffer without
    // reading it. (The allocation then stays, for them.)
    DenseMap<Block *, Operation *> firstIn;
    for (Operation *user : elsewhere) {
      Operation *&f = firstIn[user->getBlock()];
      if (!f || user->isBeforeInBlock(f))
        f = user;
    }
    for (auto [block, f] : firstIn) {
      auto l = dyn_cast<linalg::LinalgOp>(f);
      ok &= !block->findAncestorOpInBlock(*run.front().op) && l &&
            writesWhole(l, root);
    }
    for (const RunOp &r : run) {
      if (!ok)
        break;
      bool uses = false;
      for (OpOperand &operand : r.op->getOpOperands()) {
        if (operand.get() != root)
          continue;
        uses = true;
        SmallVector<unsigned> dims = registerDims(r, operand, type.getRank());
        AffineMap map = r.op.getMatchingIndexingMap(&operand);
        if (dims.empty() || map.getNumResults() != dims.size()) {
          ok = false;
          break;
        }
        for (auto [i, d] : llvm::enumerate(dims))
          ok &= map.getDimPosition(i) == d;
        if (type.getRank() == 2)
          tilesNeeded = std::max(tilesNeeded, tilesOf(r, operand));
        if (r.kind == Kind::Contract)
          inContraction = true;
      }
      if (!uses || !ok)
        continue;
      if (first) {
        // Written before it is read.
        ok = writesWhole(r.op, root);
        first = false;
      }
    }
    if (!ok || first || tilesNeeded * 8 > kMaxRegisterCols)
      continue;
    contractionInRegisters |= inContraction;
    result.internal.push_back(root);
    // (An allocation in another block, an enclosing one, or with other
    // users stays until the scratch placement drops it unused: the
    // distribution of that block still lists it.)
    if (elsewhere.empty() && alloc->getBlock() == run.front().op->getBlock()) {
      llvm::append_range(result.erased, deallocs);
      result.erased.push_back(alloc);
    }
  }
  if (!contractionInRegisters)
    return std::nullopt;
  return result;
}

namespace {
/// Emits a run's ops on the fragment layout of one unit.
struct RunEmitter {
  RunEmitter(ImplicitLocOpBuilder &b, Type mmaType, bool emulate)
      : b(b), mmaType(mmaType), emulate(emulate) {}
  ImplicitLocOpBuilder &b;
  Type mmaType;
  bool emulate;
  /// Slots (f32 per lane) of each buffer in registers.
  DenseMap<Value, int64_t> slots;
  /// GPU: each register buffer's values; EMU: its [32, slots] buffer.
  DenseMap<Value, SmallVector<Value>> regs;
  DenseMap<Value, Value> mems;
  Value r0, lane, g, t2, zero;

  Value cst(int64_t v) { return arith::ConstantIndexOp::create(b, v); }
  Value addc(Value x, int64_t v) {
    return v ? arith::AddIOp::create(b, x, cst(v)).getResult() : x;
  }
  Value lt(Value x, Value y) {
    return arith::CmpIOp::create(b, arith::CmpIPredicate::ult, x, y);
  }
  Value all(Value x, Value y) {
    if (!x)
      return y;
    if (!y)
      return x;
    return arith::AndIOp::create(b, x, y);
  }
  Value f32(double v) {
    return arith::ConstantOp::create(b, b.getF32Type(), b.getF32FloatAttr(v));
  }
  Value rowAt(int64_t h) {
    return addc(arith::AddIOp::create(b, r0, g), 8 * h);
  }
  Value colAt(int64_t j, int64_t e) { return addc(t2, 8 * j + (e & 1)); }
  void setLane(Value l) {
    lane = l;
    g = arith::DivUIOp::create(b, l, cst(4));
    t2 = arith::MulIOp::create(b, arith::RemUIOp::create(b, l, cst(4)), cst(2));
  }

  bool inRegisters(Value v) { return slots.count(v); }
  Value get(Value root, int64_t s) {
    if (emulate)
      return memref::LoadOp::create(b, mems[root], ValueRange{lane, cst(s)});
    SmallVector<Value> &r = regs[root];
    r.resize(slots[root]);
    return r[s] ? r[s] : f32(0.0);
  }
  void set(Value root, int64_t s, Value v) {
    if (emulate) {
      memref::StoreOp::create(b, v, mems[root], ValueRange{lane, cst(s)});
      return;
    }
    SmallVector<Value> &r = regs[root];
    r.resize(slots[root]);
    r[s] = v;
  }

  /// `size` unless it is a constant multiple of `extent` (no check).
  Value checkOf(Value size, int64_t extent) {
    std::optional<int64_t> c = getConstantIntValue(size);
    return c && *c % extent == 0 ? Value() : size;
  }
  /// The loop sizes of `op` (loopSize).
  SmallVector<Value> sizesOf(linalg::LinalgOp op) {
    SmallVector<Value> s;
    for (unsigned d = 0; d < op.getNumLoops(); ++d) {
      LoopSize size = loopSize(op, d);
      s.push_back(size.fixed ? cst(*size.fixed)
                  : size.value
                      ? size.value
                      : memref::DimOp::create(b, size.operand->get(), size.dim)
                            .getResult());
    }
    return s;
  }

  /// The op being emitted: per loop dimension, the size a point may pass
  /// (null: none), and the largest index its lanes reach.
  SmallVector<Value> limit;
  SmallVector<int64_t> reach;

  /// Whether index `index` of `buffer`'s dimension `dim` is inside the
  /// memory of `buffer` when it is at most `most`: a scratch buffer of the
  /// block, whose every dimension has a bound, is placed at its bounds
  /// (placeScratch), so any indices below the bounds are.
  static bool insideBounds(Value buffer, unsigned dim, int64_t most) {
    auto alloc = buffer.getDefiningOp<memref::AllocOp>();
    if (!alloc || !alloc->getParentOfType<gpu::LaunchOp>())
      return false;
    for (unsigned d = 0; d < alloc.getType().getRank(); ++d) {
      std::optional<int64_t> ub = allocDimBound(alloc, d);
      if (!ub || (d == dim && most >= *ub))
        return false;
    }
    return true;
  }

  /// Memref operand `operand` at the point `ivs`: an index past the op's
  /// size clamped to 0 (its result is never stored) unless the buffer's
  /// memory holds it. (Each index clamped on its own: the lanes' addresses
  /// stay a few bases plus constants.)
  Value loadAt(OpOperand &operand, ArrayRef<Value> ivs) {
    return memref::LoadOp::create(b, operand.get(), clampedAt(operand, ivs));
  }
  /// The indices of `operand` at the point `ivs`, clamped as loadAt's.
  SmallVector<Value> clampedAt(OpOperand &operand, ArrayRef<Value> ivs) {
    linalg::LinalgOp op = cast<linalg::LinalgOp>(operand.getOwner());
    AffineMap map = op.getMatchingIndexingMap(&operand);
    SmallVector<Value> idx = indicesAt(map, ivs);
    for (unsigned r = 0; r < map.getNumResults(); ++r) {
      unsigned d = map.getDimPosition(r);
      if (limit[d] && !insideBounds(operand.get(), r, reach[d]))
        idx[r] = arith::SelectOp::create(b, lt(idx[r], limit[d]), idx[r], zero);
    }
    return idx;
  }

  /// Whether operand `operand` holds the elements (.., k) and (.., k + 1)
  /// of an mma pair next to each other, 2-element aligned, for every even
  /// k the op reaches without a bounds check of `kDim`: k indexes its
  /// contiguous last dimension of even size, and its memory is a block
  /// buffer (an allocation, or a slot of one) whose rows are aligned.
  bool pairsAlong(OpOperand &operand, unsigned kDim) {
    linalg::LinalgOp op = cast<linalg::LinalgOp>(operand.getOwner());
    AffineMap map = op.getMatchingIndexingMap(&operand);
    auto type = cast<MemRefType>(operand.get().getType());
    int64_t offset;
    SmallVector<int64_t> strides;
    if (limit[kDim] || map.getNumResults() == 0 ||
        map.getDimPosition(map.getNumResults() - 1) != kDim ||
        failed(type.getStridesAndOffset(strides, offset)) ||
        strides.back() != 1 || type.isDynamicDim(type.getRank() - 1) ||
        type.getShape().back() % 2 != 0)
      return false;
    for (int64_t st : ArrayRef<int64_t>(strides).drop_back())
      if (ShapedType::isDynamic(st) || st % 2 != 0)
        return false;
    Value v = operand.get();
    if (auto slot = v.getDefiningOp<memref::SubViewOp>()) {
      // A slot: whole blocks of an allocation (offsets in its first
      // dimension only).
      if (!llvm::all_of(ArrayRef(slot.getMixedOffsets()).drop_front(),
                        [](OpFoldResult o) { return isZeroInteger(o); }))
        return false;
      v = slot.getSource();
    }
    auto alloc = v.getDefiningOp<memref::AllocOp>();
    return alloc && alloc.getType().getLayout().isIdentity() &&
           alloc->getParentOfType<gpu::LaunchOp>();
  }

  /// The mma register of the pair (.., k), (.., k + 1) of `operand` at the
  /// point `ivs` (k its pairsAlong dimension) with one load of both.
  Value loadPair(OpOperand &operand, ArrayRef<Value> ivs) {
    auto type = cast<MemRefType>(operand.get().getType());
    Type elem = type.getElementType();
    auto pairType = VectorType::get({2}, elem);
    int64_t bytes = 2 * elem.getIntOrFloatBitWidth() / 8;
    Value v = vector::LoadOp::create(
        b, pairType, operand.get(), clampedAt(operand, ivs),
        /*nontemporal=*/false, llvm::MaybeAlign(bytes));
    if (elem != mmaType) {
      auto mmaPair = VectorType::get({2}, mmaType);
      v = elem.getIntOrFloatBitWidth() > mmaType.getIntOrFloatBitWidth()
              ? arith::TruncFOp::create(b, mmaPair, v).getResult()
              : arith::ExtFOp::create(b, mmaPair, v).getResult();
    }
    if (mmaType.isF16())
      return v;
    Value i =
        vector::BitCastOp::create(b, VectorType::get({1}, b.getI32Type()), v);
    return vector::ExtractOp::create(b, i, ArrayRef<int64_t>{0});
  }
  void storeAt(OpOperand &operand, ArrayRef<Value> ivs, Value v, Value inb) {
    linalg::LinalgOp op = cast<linalg::LinalgOp>(operand.getOwner());
    SmallVector<Value> idx =
        indicesAt(op.getMatchingIndexingMap(&operand), ivs);
    if (!inb) {
      memref::StoreOp::create(b, v, operand.get(), idx);
      return;
    }
    auto ifOp = scf::IfOp::create(b, inb, /*withElseRegion=*/false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(ifOp.thenBlock());
    memref::StoreOp::create(b, v, operand.get(), idx);
  }

  /// The register slot of operand `operand` (in registers) at the lane's
  /// element (tile j, e) of a 2-D op, or row half h = e / 2.
  int64_t slotOf(Value root, int64_t j, int64_t e) {
    return cast<MemRefType>(root.getType()).getRank() == 1 ? e / 2 : 4 * j + e;
  }

  /// The block arguments of `op` at a lane's element (the point `ivs`):
  /// registers, loads, the output's `out` when given.
  SmallVector<std::pair<unsigned, Value>> operandsAt(linalg::LinalgOp op,
                                                     ArrayRef<Value> ivs,
                                                     int64_t j, int64_t e,
                                                     Value out) {
    SmallVector<std::pair<unsigned, Value>> given;
    for (OpOperand &operand : op->getOpOperands()) {
      unsigned n = operand.getOperandNumber();
      bool isInit = op.isDpsInit(&operand);
      if (isInit && out) {
        given.push_back({n, out});
        continue;
      }
      if (!isa<MemRefType>(operand.get().getType()))
        continue;
      if (isInit && op.getMatchingBlockArgument(&operand).use_empty()) {
        given.push_back(
            {n, arith::ConstantOp::create(
                    b, b.getZeroAttr(
                           op.getMatchingBlockArgument(&operand).getType()))});
        continue;
      }
      if (inRegisters(operand.get()))
        given.push_back({n, get(operand.get(), slotOf(operand.get(), j, e))});
      else
        given.push_back({n, loadAt(operand, ivs)});
    }
    return given;
  }

  /// Runs `body` for this lane (GPU) or each lane in a loop (EMU).
  void perLane(function_ref<void()> body) {
    if (!emulate) {
      body();
      return;
    }
    auto loop = scf::ForOp::create(b, cst(0), cst(kWarp), cst(1));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(loop.getBody()->getTerminator());
    setLane(loop.getInductionVar());
    body();
    lane = g = t2 = Value(); // (only inside the loop)
  }

  void emitMap(const RunOp &r) {
    linalg::LinalgOp op = r.op;
    OpOperand *init = op.getDpsInitOperand(0);
    bool oneD = op.getNumLoops() == 1;
    Value rows = limit[r.rowDim], cols = oneD ? Value() : limit[r.colDim];
    perLane([&] {
      int64_t tiles = oneD ? 1 : r.colTiles;
      for (int64_t j = 0; j < tiles; ++j)
        for (int64_t e = 0; e < 4; ++e) {
          if (oneD && (e & 1))
            continue; // a 1-D op: rows g and g + 8 only
          SmallVector<Value> ivs(op.getNumLoops());
          Value row = rowAt(e / 2);
          ivs[r.rowDim] = row;
          Value inb = rows ? lt(row, rows) : Value();
          if (!oneD) {
            Value col = colAt(j, e);
            ivs[r.colDim] = col;
            if (cols)
              inb = all(inb, lt(col, cols));
          }
          Value v = yieldedAt(b, op, ivs, operandsAt(op, ivs, j, e, {}));
          if (inRegisters(init->get())) {
            set(init->get(), slotOf(init->get(), j, e), v);
            continue;
          }
          // A row of a 1-D op is the same in the quad's four lanes: the
          // first stores it.
          if (oneD)
            inb = all(inb, arith::CmpIOp::create(b, arith::CmpIPredicate::eq,
                                                 t2, zero));
          storeAt(*init, ivs, v, inb);
        }
    });
  }

  void emitReduce(const RunOp &r, Value partials) {
    linalg::LinalgOp op = r.op;
    Value rows = limit[r.rowDim], cols = limit[r.colDim];
    OpOperand *init = op.getDpsInitOperand(0);
    ReductionCombiner comb = *reductionCombiner(op);
    bool outFirst =
        comb.op->getOperand(0) == op.getBlock()->getArguments().back();
    SmallVector<Value, 2> partial(2);
    // The lane's fold of its elements of rows g and g + 8.
    auto fold = [&] {
      for (int64_t h = 0; h < 2; ++h)
        partial[h] = arith::ConstantOp::create(b, comb.identity);
      for (int64_t j = 0; j < r.colTiles; ++j)
        for (int64_t e = 0; e < 4; ++e) {
          SmallVector<Value> ivs(2);
          Value row = rowAt(e / 2), col = colAt(j, e);
          ivs[r.rowDim] = row;
          ivs[r.colDim] = col;
          Value colIn = cols ? lt(col, cols) : Value();
          Value v =
              yieldedAt(b, op, ivs, operandsAt(op, ivs, j, e, partial[e / 2]));
          partial[e / 2] =
              colIn ? arith::SelectOp::create(b, colIn, v, partial[e / 2])
                          .getResult()
                    : v;
        }
    };
    // The row's total folded into the output.
    auto finish = [&](int64_t h, Value total) {
      SmallVector<Value> ivs(2);
      Value row = rowAt(h);
      ivs[r.rowDim] = row;
      ivs[r.colDim] = zero;
      Value inb = rows ? lt(row, rows) : Value();
      Value old =
          inRegisters(init->get()) ? get(init->get(), h) : loadAt(*init, ivs);
      Value v = outFirst ? combineWith(b, comb.op, old, total)
                         : combineWith(b, comb.op, total, old);
      if (inRegisters(init->get())) {
        set(init->get(), h, v);
        return;
      }
      storeAt(*init, ivs, v,
              all(inb, arith::CmpIOp::create(b, arith::CmpIPredicate::eq, t2,
                                             zero)));
    };
    if (!emulate) {
      fold();
      for (int64_t h = 0; h < 2; ++h) {
        Value p = partial[h];
        for (int32_t offset : {1, 2}) {
          auto s = gpu::ShuffleOp::create(b, p, offset, int32_t(kWarp),
                                          gpu::ShuffleMode::XOR);
          p = combineWith(b, comb.op, p, s.getShuffleResult());
        }
        finish(h, p);
      }
      return;
    }
    // EMU: each lane's partials to memory, then each quad's combine in the
    // shuffles' order.
    perLane([&] {
      fold();
      for (int64_t h = 0; h < 2; ++h)
        memref::StoreOp::create(b, partial[h], partials,
                                ValueRange{lane, cst(h)});
    });
    perLane([&] {
      Value q0 = arith::MulIOp::create(b, g, cst(4));
      for (int64_t h = 0; h < 2; ++h) {
        auto at = [&](int64_t i) {
          return memref::LoadOp::create(b, partials,
                                        ValueRange{addc(q0, i), cst(h)})
              .getResult();
        };
        Value p = combineWith(b, comb.op, combineWith(b, comb.op, at(0), at(1)),
                              combineWith(b, comb.op, at(2), at(3)));
        finish(h, p);
      }
    });
  }

  /// Whether the 2-D elementwise op `m` on a buffer in memory, followed
  /// by the contraction `c` accumulating into the same buffer, can be
  /// applied to each accumulator as the contraction loads it: its output
  /// indexed (row, column) as C is (m, n), and no other element of that
  /// buffer read.
  bool isPrologue(const RunOp &m, const RunOp &c) {
    if (m.kind != Kind::Map || c.kind != Kind::Contract ||
        m.op.getNumLoops() != 2)
      return false;
    Value x = m.op.getDpsInitOperand(0)->get();
    if (x != c.c->c || inRegisters(x) || m.colTiles > c.colTiles)
      return false;
    auto rowCol = [](AffineMap map, unsigned row, unsigned col) {
      return map.getNumResults() == 2 && map.getDimPosition(0) == row &&
             map.getDimPosition(1) == col;
    };
    if (!rowCol(m.op.getMatchingIndexingMap(m.op.getDpsInitOperand(0)),
                m.rowDim, m.colDim) ||
        !rowCol(c.c->mapC, c.c->m, c.c->n))
      return false;
    for (OpOperand *in : m.op.getDpsInputOperands())
      if (isa<MemRefType>(in->get().getType()) &&
          viewRoot(in->get()) == viewRoot(x) &&
          (in->get() != x ||
           !rowCol(m.op.getMatchingIndexingMap(in), m.rowDim, m.colDim)))
        return false;
    return true;
  }

  void emitContract(const RunOp &r, Value sizeK,
                    const RunOp *prologue = nullptr,
                    const std::pair<SmallVector<Value>, SmallVector<int64_t>>
                        *prologueLimits = nullptr) {
    linalg::LinalgOp op = r.op;
    const MmaContraction &c = *r.c;
    OpOperand &opA = op->getOpOperand(0), &opB = op->getOpOperand(1),
              &opC = op->getOpOperand(2);
    // (The sizes a point may pass: null where none.)
    Value rowsCheck = limit[c.m], colsCheck = limit[c.n], kCheck = limit[c.k];
    auto point = [&](Value row, Value col, Value k) {
      SmallVector<Value> ivs(3, zero);
      ivs[c.m] = row;
      ivs[c.n] = col;
      ivs[c.k] = k;
      return ivs;
    };
    Value zeroMma = arith::ConstantOp::create(b, b.getZeroAttr(mmaType));
    auto zeroPastK = [&](Value v, Value k) -> Value {
      if (!kCheck)
        return v;
      return arith::SelectOp::create(b, lt(k, sizeK), v, zeroMma);
    };
    // B at (k, col) in the mma dtype, zero past K (columns past N give
    // sums that are never stored).
    auto loadB = [&](Value k, Value col) {
      Value v = loadAt(opB, point(zero, col, k));
      return zeroPastK(convertFloat(b, b.getLoc(), v, mmaType), k);
    };
    // A in memory at (row, k), zero past K.
    auto loadA = [&](Value row, Value k) {
      Value v = loadAt(opA, point(row, zero, k));
      return zeroPastK(convertFloat(b, b.getLoc(), v, mmaType), k);
    };
    bool aRegs = inRegisters(c.a), cRegs = inRegisters(c.c);
    int64_t aTiles = aRegs ? slots[c.a] / 4 : 0;
    // C's element (j, e) of this lane: its position and bounds.
    auto cPoint = [&](int64_t j, int64_t e) {
      Value row = rowAt(e / 2), col = colAt(j, e);
      Value inb = all(rowsCheck ? lt(row, rowsCheck) : Value(),
                      colsCheck ? lt(col, colsCheck) : Value());
      return std::make_tuple(row, col, inb);
    };
    auto cInit = [&](int64_t j, int64_t e) {
      if (cRegs)
        return get(c.c, 4 * j + e);
      if (!prologue)
        return loadAt(opC, point(rowAt(e / 2), colAt(j, e), zero));
      // The prologue's body at the element (its loads under its limits).
      SmallVector<Value> savedLimit = limit;
      SmallVector<int64_t> savedReach = reach;
      limit = prologueLimits->first;
      reach = prologueLimits->second;
      SmallVector<Value> ivs(2);
      ivs[prologue->rowDim] = rowAt(e / 2);
      ivs[prologue->colDim] = colAt(j, e);
      Value v = yieldedAt(b, prologue->op, ivs,
                          operandsAt(prologue->op, ivs, j, e, {}));
      limit = savedLimit;
      reach = savedReach;
      return v;
    };
    auto cStore = [&](int64_t j, int64_t e, Value v) {
      if (cRegs) {
        set(c.c, 4 * j + e, v);
        return;
      }
      auto [row, col, inb] = cPoint(j, e);
      storeAt(opC, point(row, col, zero), v, inb);
    };
    // B's two registers for k-step base k0, n-tile j: (2t, g) and
    // (2t + 8, g), each with the element below.
    // (Pairs next to each other in memory, K's rows read in place: one
    // 32-bit load each.)
    bool bPairs = pairsAlong(opB, c.k);
    bool aPairs = !inRegisters(c.a) && pairsAlong(opA, c.k);
    auto bRegs = [&](Value k0, int64_t j) {
      Value col = addc(g, 8 * j);
      SmallVector<Value> regs;
      for (int64_t q = 0; q < 2; ++q) {
        Value k = addc(arith::AddIOp::create(b, k0, t2), 8 * q);
        regs.push_back(bPairs
                           ? loadPair(opB, point(zero, col, k))
                           : packMmaPair(b, b.getLoc(), mmaType, loadB(k, col),
                                         loadB(addc(k, 1), col)));
      }
      return regs;
    };
    // The order of A's registers: (g, 2t), (g + 8, 2t), (g, 2t + 8),
    // (g + 8, 2t + 8), each with its right neighbour: (h, q).
    const std::pair<int64_t, int64_t> aOrder[4] = {
        {0, 0}, {1, 0}, {0, 1}, {1, 1}};
    if (!emulate && aRegs) {
      // A in registers (P): its element (h, q, odd) of k-step s, row
      // g + 8h, k = 16s + 8q + 2t + odd, is C's element (tile 2s + q,
      // 2h + odd); packed once for every k-step, then each n-tile's sums
      // over the k-steps (few values live at a time).
      SmallVector<SmallVector<Value>> a(r.kSteps);
      for (int64_t s = 0; s < r.kSteps; ++s)
        for (auto [h, q] : aOrder) {
          Value pair[2];
          for (int64_t odd = 0; odd < 2; ++odd) {
            int64_t tile = 2 * s + q;
            Value v =
                tile < aTiles
                    ? convertFloat(b, b.getLoc(),
                                   get(c.a, 4 * tile + 2 * h + odd), mmaType)
                    : zeroMma;
            pair[odd] = zeroPastK(v, addc(t2, 16 * s + 8 * q + odd));
          }
          a[s].push_back(packMmaPair(b, b.getLoc(), mmaType, pair[0], pair[1]));
        }
      for (int64_t j = 0; j < r.colTiles; ++j) {
        SmallVector<Value> acc;
        for (int64_t e = 0; e < 4; ++e)
          acc.push_back(cInit(j, e));
        for (int64_t s = 0; s < r.kSteps; ++s)
          acc =
              mmaSync(b, b.getLoc(), mmaType, a[s], bRegs(cst(16 * s), j), acc);
        for (int64_t e = 0; e < 4; ++e)
          cStore(j, e, acc[e]);
      }
      return;
    }
    if (!emulate) {
      // A in memory: for each group of up to 4 n-tiles, a loop over the
      // k-steps carrying their accumulators, A's fragment loaded once a
      // step (the live accumulators bounded as in MmaTiles' units).
      Type f32 = b.getF32Type();
      auto accType = VectorType::get({4}, f32);
      for (int64_t j0 = 0; j0 < r.colTiles; j0 += kGroupTiles) {
        int64_t j1 = std::min(r.colTiles, j0 + kGroupTiles);
        SmallVector<Value> inits;
        for (int64_t j = j0; j < j1; ++j) {
          SmallVector<Value> e;
          for (int64_t i = 0; i < 4; ++i)
            e.push_back(cInit(j, i));
          inits.push_back(vector::FromElementsOp::create(b, accType, e));
        }
        auto ks = scf::ForOp::create(b, zero, sizeK, cst(16), inits);
        {
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPointToStart(ks.getBody());
          Value k0 = ks.getInductionVar();
          SmallVector<Value> a;
          for (auto [h, q] : aOrder) {
            Value k = addc(arith::AddIOp::create(b, k0, t2), 8 * q);
            a.push_back(aPairs ? loadPair(opA, point(rowAt(h), zero, k))
                               : packMmaPair(b, b.getLoc(), mmaType,
                                             loadA(rowAt(h), k),
                                             loadA(rowAt(h), addc(k, 1))));
          }
          SmallVector<Value> next;
          for (int64_t j = j0; j < j1; ++j) {
            SmallVector<Value> acc;
            for (int64_t i = 0; i < 4; ++i)
              acc.push_back(vector::ExtractOp::create(
                  b, ks.getRegionIterArg(j - j0), ArrayRef<int64_t>{i}));
            acc = mmaSync(b, b.getLoc(), mmaType, a, bRegs(k0, j), acc);
            next.push_back(vector::FromElementsOp::create(b, accType, acc));
          }
          scf::YieldOp::create(b, next);
        }
        for (int64_t j = j0; j < j1; ++j)
          for (int64_t e = 0; e < 4; ++e)
            cStore(j, e,
                   vector::ExtractOp::create(b, ks.getResult(j - j0),
                                             ArrayRef<int64_t>{e}));
      }
      return;
    }
    // EMU: each lane's sums over k, A in registers read from the lane and
    // slot that hold (row, k).
    perLane([&] {
      for (int64_t j = 0; j < r.colTiles; ++j)
        for (int64_t e = 0; e < 4; ++e) {
          Value row = rowAt(e / 2), col = colAt(j, e);
          auto ks = scf::ForOp::create(b, zero, cst(16 * r.kSteps), cst(1),
                                       ValueRange{cInit(j, e)});
          {
            OpBuilder::InsertionGuard guard(b);
            b.setInsertionPointToStart(ks.getBody());
            Value k = ks.getInductionVar();
            Value x;
            if (aRegs) {
              // (row, k) sits in lane 4 g + (k % 8) / 2, slot
              // 4 (k / 8) + 2 h + k % 2.
              Value k8 = arith::RemUIOp::create(b, k, cst(8));
              Value owner =
                  arith::AddIOp::create(b, arith::MulIOp::create(b, g, cst(4)),
                                        arith::DivUIOp::create(b, k8, cst(2)));
              Value slot =
                  addc(arith::AddIOp::create(
                           b,
                           arith::MulIOp::create(
                               b, arith::DivUIOp::create(b, k, cst(8)), cst(4)),
                           arith::RemUIOp::create(b, k, cst(2))),
                       2 * (e / 2));
              x = zeroPastK(
                  convertFloat(b, b.getLoc(),
                               memref::LoadOp::create(b, mems[c.a],
                                                      ValueRange{owner, slot}),
                               mmaType),
                  k);
            } else {
              x = loadA(row, k);
            }
            Value y = loadB(k, col);
            Type f = b.getF32Type();
            Value sum = arith::AddFOp::create(
                b, ks.getRegionIterArg(0),
                arith::MulFOp::create(b, convertFloat(b, b.getLoc(), x, f),
                                      convertFloat(b, b.getLoc(), y, f)));
            scf::YieldOp::create(b, sum);
          }
          cStore(j, e, ks.getResult(0));
        }
    });
  }
};
} // namespace

void mlir::seqmix::buildRowRun(IRRewriter &rewriter, const RowRun &run,
                               Type mmaType, Value tid, Value nthreads,
                               bool emulate) {
  Operation *first = run.ops.front();
  for (Operation *o : run.between)
    rewriter.moveOpBefore(o, first);
  ImplicitLocOpBuilder b(first->getLoc(), rewriter);
  b.setInsertionPoint(first);
  RunEmitter em(b, mmaType, emulate);
  em.zero = em.cst(0);
  SmallVector<RunOp> ops;
  for (linalg::LinalgOp op : run.ops)
    ops.push_back(*classify(op));
  // Each op's sizes, computed before the units; the units cover the most
  // rows of any op.
  SmallVector<SmallVector<Value>> sizes;
  Value rows;
  for (const RunOp &r : ops) {
    sizes.push_back(em.sizesOf(r.op));
    Value m = sizes.back()[r.rowDim];
    rows = rows ? arith::MaxUIOp::create(b, rows, m).getResult() : m;
  }
  for (Value root : run.internal) {
    auto type = cast<MemRefType>(root.getType());
    int64_t tiles = 1;
    for (const RunOp &r : ops)
      for (OpOperand &operand : r.op->getOpOperands())
        if (operand.get() == root)
          tiles = std::max(tiles, tilesOf(r, operand));
    em.slots[root] = type.getRank() == 1 ? 2 : 4 * tiles;
    if (emulate)
      em.mems[root] = memref::AllocOp::create(
          b, MemRefType::get({kWarp, em.slots[root]}, b.getF32Type()));
  }
  Value partials;
  if (emulate &&
      llvm::any_of(ops, [](const RunOp &r) { return r.kind == Kind::Reduce; }))
    partials =
        memref::AllocOp::create(b, MemRefType::get({kWarp, 2}, b.getF32Type()));
  Value units = arith::DivUIOp::create(b, em.addc(rows, 15), em.cst(16));
  Value warp = emulate
                   ? em.zero
                   : arith::DivUIOp::create(b, tid, em.cst(kWarp)).getResult();
  Value nwarps =
      emulate ? em.cst(1)
              : arith::DivUIOp::create(b, nthreads, em.cst(kWarp)).getResult();
  if (!emulate)
    em.setLane(arith::RemUIOp::create(b, tid, em.cst(kWarp)));
  auto loop = scf::ForOp::create(b, warp, units, nwarps);
  loop->setAttr("seqmix.gpu.row_run", b.getUnitAttr());
  b.setInsertionPoint(loop.getBody()->getTerminator());
  em.r0 = arith::MulIOp::create(b, loop.getInductionVar(), em.cst(16));
  // The most rows a unit reaches (from bounds of every op's rows).
  int64_t rowReach = std::numeric_limits<int64_t>::max();
  {
    std::optional<int64_t> most = 0;
    for (auto [i, r] : llvm::enumerate(ops)) {
      std::optional<int64_t> ub = upperBound(sizes[i][r.rowDim]);
      most = most && ub ? std::optional(std::max(*most, *ub)) : std::nullopt;
    }
    if (most)
      rowReach = (*most + 15) / 16 * 16 - 1;
  }
  // What each op's loops may pass and reach.
  SmallVector<std::pair<SmallVector<Value>, SmallVector<int64_t>>> limits;
  for (auto [i, r] : llvm::enumerate(ops)) {
    ArrayRef<Value> s = sizes[i];
    unsigned n = r.op.getNumLoops();
    SmallVector<Value> limit(n);
    SmallVector<int64_t> reach(n, 0);
    limit[r.rowDim] = em.checkOf(s[r.rowDim], 16);
    reach[r.rowDim] = rowReach;
    if (n > 1) {
      limit[r.colDim] = em.checkOf(s[r.colDim], 8);
      reach[r.colDim] = 8 * r.colTiles - 1;
    }
    if (r.kind == Kind::Contract) {
      limit[r.c->k] = em.checkOf(s[r.c->k], 16);
      reach[r.c->k] = 16 * r.kSteps - 1;
    }
    limits.push_back({limit, reach});
  }
  // A bar.warp.sync, unless one was the last op built.
  auto warpSync = [&] {
    Operation *at = &*b.getInsertionPoint();
    if (at->getPrevNode() && isa<NVVM::SyncWarpOp>(at->getPrevNode()))
      return;
    NVVM::SyncWarpOp::create(
        b, arith::ConstantIntOp::create(b, b.getI32Type(), -1));
  };
  for (auto [i, r] : llvm::enumerate(ops)) {
    em.limit = limits[i].first;
    em.reach = limits[i].second;
    // An elementwise op on the next contraction's C (O's rescale) is its
    // prologue: applied to the accumulators as they are loaded.
    if (i + 1 < ops.size() && em.isPrologue(r, ops[i + 1]))
      continue;
    const RunOp *prologue =
        i > 0 && em.isPrologue(ops[i - 1], r) ? &ops[i - 1] : nullptr;
    // Memory the op writes that an earlier op of the run read (in other
    // lanes: a row vector's four, a tile's other layout): after a
    // bar.warp.sync.
    Value out = r.op.getDpsInitOperand(0)->get();
    if (!emulate && !em.inRegisters(out) &&
        touches(ArrayRef<RunOp>(ops).take_front(prologue ? i - 1 : i), out))
      warpSync();
    switch (r.kind) {
    case Kind::Map:
      em.emitMap(r);
      break;
    case Kind::Reduce:
      em.emitReduce(r, partials);
      break;
    case Kind::Contract:
      em.emitContract(r, sizes[i][r.c->k], prologue,
                      prologue ? &limits[i - 1] : nullptr);
      break;
    }
    // Memory the op wrote that a later op of the run touches: the lanes of
    // the warp see each other's writes after a bar.warp.sync.
    if (!emulate && !em.inRegisters(out) &&
        touches(ArrayRef<RunOp>(ops).drop_front(i + 1), out))
      warpSync();
  }
  b.setInsertionPointAfter(loop);
  gpu::BarrierOp::create(b);
  // (In order: the ops, then each buffer's deallocations and allocation.)
  for (Operation *o : run.erased)
    rewriter.eraseOp(o);
}
