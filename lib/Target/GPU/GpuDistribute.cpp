//===- GpuDistribute.cpp - slices to blocks, linalg ops to threads --------===//
//
// The GPU schedule's first stage (SIMT; issue 12, GPU_CODEGEN.md 4), on the
// bufferized layer: the lowerings' slice loops (scf.forall over (batch,
// head, ...)) become gpu.launch ops with one block per slice, and inside a
// block every linalg op is spread over the threads (a block-stride loop over
// its flattened parallel iterations), with a barrier after it. Control flow
// runs uniformly in every thread; other writes run on thread 0. Scratch
// buffers of a slice become views of the block's dynamic shared memory
// (GPU_CODEGEN.md pitfall 3: a workgroup memref.alloc is miscompiled).
// A linalg op outside any slice loop gets a launch of its own, its
// iterations spread over the whole grid.
//
//===----------------------------------------------------------------------===//
#include "GpuSchedule.h"
#include "seqmix/Transforms/Passes.h"

#include "mlir/Analysis/TopologicalSortUtils.h"
#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Transforms/Transforms.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/TilingInterface.h"
#include "mlir/Interfaces/ValueBoundsOpInterface.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

namespace mlir::seqmix {
#define GEN_PASS_DEF_SEQMIXGPUDISTRIBUTE
#include "seqmix/Transforms/Passes.h.inc"
} // namespace mlir::seqmix

using namespace mlir;
using namespace mlir::seqmix;

/// A constant upper bound of the index `v` (a block's rows: min(C, T - t),
/// ...): through constants, min, max, select, add and multiply of bounded
/// non-negative values, else what ValueBoundsOpInterface derives.
std::optional<int64_t> mlir::seqmix::upperBound(Value v, int depth) {
  if (depth > 16)
    return std::nullopt;
  if (std::optional<int64_t> c = getConstantIntValue(v))
    return *c;
  Operation *op = v.getDefiningOp();
  auto both = [&](auto combine) -> std::optional<int64_t> {
    std::optional<int64_t> a = upperBound(op->getOperand(0), depth + 1),
                           b = upperBound(op->getOperand(1), depth + 1);
    return combine(a, b);
  };
  if (isa_and_nonnull<arith::MinSIOp, arith::MinUIOp>(op))
    return both([](auto a, auto b) -> std::optional<int64_t> {
      if (a && b)
        return std::min(*a, *b);
      return a ? a : b;
    });
  if (isa_and_nonnull<arith::MaxSIOp, arith::MaxUIOp>(op))
    return both([](auto a, auto b) -> std::optional<int64_t> {
      if (a && b)
        return std::max(*a, *b);
      return std::nullopt;
    });
  if (isa_and_nonnull<arith::AddIOp, arith::MulIOp>(op)) {
    bool add = isa<arith::AddIOp>(op);
    return both([&](auto a, auto b) -> std::optional<int64_t> {
      if (!a || !b)
        return std::nullopt;
      return add ? *a + *b : *a * *b;
    });
  }
  if (auto sub = dyn_cast_or_null<arith::SubIOp>(op)) {
    // (Sizes are not negative: a bound of the minuend, less a constant.)
    std::optional<int64_t> a = upperBound(sub.getLhs(), depth + 1);
    std::optional<int64_t> c = getConstantIntValue(sub.getRhs());
    if (!a)
      return std::nullopt;
    return c ? *a - *c : *a;
  }
  if (auto arg = dyn_cast<BlockArgument>(v))
    if (auto loop = dyn_cast<scf::ForOp>(arg.getOwner()->getParentOp());
        loop && arg == loop.getInductionVar())
      if (std::optional<int64_t> ub =
              upperBound(loop.getUpperBound(), depth + 1))
        return *ub - 1;
  if (auto sel = dyn_cast_or_null<arith::SelectOp>(op)) {
    std::optional<int64_t> a = upperBound(sel.getTrueValue(), depth + 1),
                           b = upperBound(sel.getFalseValue(), depth + 1);
    if (a && b)
      return std::max(*a, *b);
    return std::nullopt;
  }
  FailureOr<int64_t> ub = ValueBoundsConstraintSet::computeConstantBound(
      presburger::BoundType::UB, ValueBoundsConstraintSet::Variable(v), nullptr,
      /*closedUB=*/true);
  if (succeeded(ub))
    return *ub;
  return std::nullopt;
}

std::optional<int64_t> mlir::seqmix::allocDimBound(Operation *alloc,
                                                   unsigned dim) {
  auto type = cast<MemRefType>(alloc->getResult(0).getType());
  if (!type.isDynamicDim(dim))
    return type.getDimSize(dim);
  return upperBound(alloc->getOperand(type.getDynamicDimIndex(dim)));
}

SmallVector<Value> mlir::seqmix::delinearize(ImplicitLocOpBuilder &b,
                                             Value linear,
                                             ArrayRef<Value> sizes) {
  SmallVector<Value> ivs(sizes.size());
  for (int64_t i = int64_t(sizes.size()) - 1; i >= 0; --i) {
    if (i == 0) {
      ivs[i] = linear;
      break;
    }
    ivs[i] = arith::RemUIOp::create(b, linear, sizes[i]);
    linear = arith::DivUIOp::create(b, linear, sizes[i]);
  }
  return ivs;
}

Value mlir::seqmix::product(ImplicitLocOpBuilder &b, ArrayRef<Value> sizes) {
  Value p = arith::ConstantIndexOp::create(b, 1);
  for (Value s : sizes)
    p = arith::MulIOp::create(b, p, s);
  return p;
}

Value mlir::seqmix::viewRoot(Value v) {
  while (auto view = v.getDefiningOp<ViewLikeOpInterface>())
    v = view.getViewSource();
  return v;
}

SmallVector<Value> mlir::seqmix::indicesAt(AffineMap map, ArrayRef<Value> ivs) {
  SmallVector<Value> idx;
  for (unsigned r = 0; r < map.getNumResults(); ++r)
    idx.push_back(ivs[map.getDimPosition(r)]);
  return idx;
}

Value mlir::seqmix::yieldedAt(OpBuilder &b, linalg::LinalgOp op,
                              ArrayRef<Value> ivs,
                              ArrayRef<std::pair<unsigned, Value>> given) {
  Block *body = op.getBlock();
  IRMapping map;
  for (OpOperand &operand : op->getOpOperands()) {
    Value arg = body->getArgument(operand.getOperandNumber());
    auto it = llvm::find_if(given, [&](const std::pair<unsigned, Value> &g) {
      return g.first == operand.getOperandNumber();
    });
    if (it != given.end())
      map.map(arg, it->second);
    else if (!isa<MemRefType>(operand.get().getType()))
      map.map(arg, operand.get());
    else
      map.map(arg, memref::LoadOp::create(
                       b, op.getLoc(), operand.get(),
                       indicesAt(op.getMatchingIndexingMap(&operand), ivs)));
  }
  for (Operation &o : body->without_terminator()) {
    if (auto index = dyn_cast<linalg::IndexOp>(o)) {
      map.map(index.getResult(), ivs[index.getDim()]);
      continue;
    }
    b.clone(o, map);
  }
  return map.lookup(body->getTerminator()->getOperand(0));
}

namespace {
constexpr llvm::StringLiteral kPass = "seqmix-gpu-distribute";
/// The gpu.module every kernel of a layer is outlined into.
constexpr llvm::StringLiteral kKernelModule = "seqmix_kernels";

/// Whether `root` (or an op nested in it) may write memory: an effect
/// interface that says so, or an op that declares no effects at all.
bool writesMemory(Operation *root) {
  WalkResult r = root->walk([](Operation *op) {
    if (auto mem = dyn_cast<MemoryEffectOpInterface>(op)) {
      if (mem.hasEffect<MemoryEffects::Write>() ||
          mem.hasEffect<MemoryEffects::Free>())
        return WalkResult::interrupt();
      return WalkResult::advance();
    }
    if (op->hasTrait<OpTrait::HasRecursiveMemoryEffects>() ||
        op->hasTrait<OpTrait::IsTerminator>())
      return WalkResult::advance();
    return WalkResult::interrupt();
  });
  return r.wasInterrupted();
}

/// Whether a linalg op is nested in `op`'s regions.
bool holdsLinalg(Operation *op) {
  WalkResult r =
      op->walk([&](linalg::LinalgOp) { return WalkResult::interrupt(); });
  return r.wasInterrupted();
}

/// Bytes of one element of a scratch buffer (0 when unknown).
int64_t elementBytes(Type t) {
  if (t.isIndex())
    return 8;
  if (t.isIntOrFloat())
    return (t.getIntOrFloatBitWidth() + 7) / 8;
  if (auto c = dyn_cast<ComplexType>(t))
    return 2 * elementBytes(c.getElementType());
  if (auto v = dyn_cast<VectorType>(t); v && v.hasStaticShape())
    return v.getNumElements() * elementBytes(v.getElementType());
  return 0;
}

struct GpuDistributePass
    : mlir::seqmix::impl::SeqMixGpuDistributeBase<GpuDistributePass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (threads < 1 || threads > 1024) {
      module.emitError() << kPass << ": threads must be from 1 to 1024, got "
                         << threads;
      return signalPassFailure();
    }
    IRRewriter rewriter(&getContext());
    for (auto func : module.getOps<func::FuncOp>()) {
      if (func.isExternal())
        continue;
      mmaType = tensorCores ? mmaElementType(func) : Type();
      if (failed(launchHostBlock(rewriter, func.getBody().front())))
        return signalPassFailure();
      // A buffer of the whole layer that a kernel uses (a transpose of B
      // and C before the scan, the partials of split-KV decode) lives in
      // device memory: gpu.alloc, which the host allocates.
      SmallVector<memref::AllocOp> hostAllocs;
      func.walk([&](memref::AllocOp alloc) {
        if (alloc->getParentOfType<gpu::LaunchOp>())
          return;
        if (llvm::any_of(alloc->getUsers(), [](Operation *user) {
              return user->getParentOfType<gpu::LaunchOp>() ||
                     isa<gpu::LaunchOp>(user);
            }))
          hostAllocs.push_back(alloc);
      });
      for (memref::AllocOp alloc :
           emulate ? SmallVector<memref::AllocOp>() : hostAllocs) {
        rewriter.setInsertionPoint(alloc);
        auto dev = gpu::AllocOp::create(
            rewriter, alloc.getLoc(), alloc.getType(), Type(), ValueRange{},
            alloc.getDynamicSizes(), alloc.getSymbolOperands(), UnitAttr());
        for (Operation *user : llvm::make_early_inc_range(alloc->getUsers()))
          if (auto dealloc = dyn_cast<memref::DeallocOp>(user)) {
            rewriter.setInsertionPoint(dealloc);
            gpu::DeallocOp::create(rewriter, dealloc.getLoc(), Type(),
                                   ValueRange{}, dev.getMemref());
            rewriter.eraseOp(dealloc);
          }
        rewriter.replaceOp(alloc, dev.getMemref());
      }
      WalkResult bad = WalkResult::advance();
      if (emulate) {
        SmallVector<gpu::LaunchOp> launches;
        func.walk([&](gpu::LaunchOp l) { launches.push_back(l); });
        for (gpu::LaunchOp l : launches)
          emulateLaunch(rewriter, l);
      }
      if (bad.wasInterrupted())
        return signalPassFailure();
    }
  }

  /// Launches the device work of a block of host code: its slice loops,
  /// its linalg ops and copies; host control flow around them (the per-call
  /// choice of form on the sequence length, an scf.if) stays on the host,
  /// its regions handled alike.
  LogicalResult launchHostBlock(IRRewriter &rewriter, Block &block) {
    SmallVector<Operation *> ops;
    for (Operation &op : block)
      ops.push_back(&op);
    for (Operation *op : ops) {
      if (auto forall = dyn_cast<scf::ForallOp>(op)) {
        if (failed(launchSlices(rewriter, forall)))
          return failure();
      } else if (auto copy = dyn_cast<memref::CopyOp>(op)) {
        if (failed(launchCopy(rewriter, copy)))
          return failure();
      } else if (auto linalgOp = dyn_cast<linalg::LinalgOp>(op)) {
        if (failed(launchAlone(rewriter, linalgOp)))
          return failure();
      } else if (op->getNumRegions() > 0) {
        for (Region &region : op->getRegions())
          for (Block &b : region)
            if (failed(launchHostBlock(rewriter, b)))
              return failure();
      }
    }
    return success();
  }

  /// The launch for `numBlocks` blocks of `threads` threads, its kernel
  /// named after the layer and outlined into the one module of its kernels.
  gpu::LaunchOp createLaunch(ImplicitLocOpBuilder &b, Value numBlocks) {
    Value one = arith::ConstantIndexOp::create(b, 1);
    Value block = arith::ConstantIndexOp::create(b, threads);
    Operation *parent = b.getInsertionBlock()->getParentOp();
    auto func = isa<func::FuncOp>(parent)
                    ? cast<func::FuncOp>(parent)
                    : parent->getParentOfType<func::FuncOp>();
    std::string name =
        func.getSymName().str() + "_k" + std::to_string(kernelCount++);
    auto launch = gpu::LaunchOp::create(
        b, numBlocks, one, one, block, one, one,
        arith::ConstantIntOp::create(b, b.getI32Type(), 0), nullptr, {}, {}, {},
        nullptr, nullptr, nullptr,
        FlatSymbolRefAttr::get(b.getContext(), kKernelModule),
        FlatSymbolRefAttr::get(b.getContext(), name));
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToEnd(&launch.getBody().front());
    gpu::TerminatorOp::create(b);
    return launch;
  }

  /// One block per iteration of the slice loop `forall`.
  LogicalResult launchSlices(IRRewriter &rewriter, scf::ForallOp forall) {
    ImplicitLocOpBuilder b(forall.getLoc(), rewriter);
    b.setInsertionPoint(forall);
    SmallVector<Value> lbs = getValueOrCreateConstantIndexOp(
        b, b.getLoc(), forall.getMixedLowerBound());
    SmallVector<Value> ubs = getValueOrCreateConstantIndexOp(
        b, b.getLoc(), forall.getMixedUpperBound());
    SmallVector<Value> steps =
        getValueOrCreateConstantIndexOp(b, b.getLoc(), forall.getMixedStep());
    SmallVector<Value> counts;
    for (auto [lb, ub, step] : llvm::zip(lbs, ubs, steps)) {
      Value span = arith::SubIOp::create(b, ub, lb);
      Value stepM1 =
          arith::SubIOp::create(b, step, arith::ConstantIndexOp::create(b, 1));
      counts.push_back(arith::DivUIOp::create(
          b, arith::AddIOp::create(b, span, stepM1), step));
    }
    gpu::LaunchOp launch = createLaunch(b, product(b, counts));
    Block &body = launch.getBody().front();
    b.setInsertionPoint(body.getTerminator());
    SmallVector<Value> idx = delinearize(b, launch.getBlockIds().x, counts);
    IRMapping map;
    for (auto [iv, i, lb, step] :
         llvm::zip(forall.getInductionVars(), idx, lbs, steps))
      map.map(iv,
              arith::AddIOp::create(b, lb, arith::MulIOp::create(b, i, step)));
    for (Operation &op : forall.getBody()->without_terminator())
      b.clone(op, map);
    if (!forall.getTerminator().getYieldingOps().empty())
      return forall.emitError()
             << kPass << ": a slice loop with tensor results (not bufferized)";
    rewriter.eraseOp(forall);
    if (asyncCopies && mmaType) {
      pipelineBlockCopies(rewriter, launch, emulate);
      readStagedBlocksDirectly(rewriter, launch);
    }
    if (failed(distributeBlock(rewriter, launch, body)))
      return failure();
    if (failed(placeScratch(rewriter, launch)))
      return failure();
    useSharedViewsForAsyncCopies(launch);
    return success();
  }

  /// A linalg op outside the slice loops: its iterations over every thread
  /// of a grid of its own.
  LogicalResult launchAlone(IRRewriter &rewriter, linalg::LinalgOp op) {
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    b.setInsertionPoint(op);
    SmallVector<Range> ranges = op.createLoopRanges(b, b.getLoc());
    SmallVector<Value> par;
    for (auto [r, it] : llvm::zip(ranges, op.getIteratorTypesArray()))
      if (it == utils::IteratorType::parallel)
        par.push_back(getValueOrCreateConstantIndexOp(b, b.getLoc(), r.size));
    Value total = product(b, par);
    Value block = arith::ConstantIndexOp::create(b, threads);
    Value blocks = arith::DivUIOp::create(
        b,
        arith::AddIOp::create(b, total,
                              arith::ConstantIndexOp::create(b, threads - 1)),
        block);
    blocks =
        arith::MaxUIOp::create(b, blocks, arith::ConstantIndexOp::create(b, 1));
    gpu::LaunchOp launch = createLaunch(b, blocks);
    Block &body = launch.getBody().front();
    rewriter.moveOpBefore(op, body.getTerminator());
    b.setInsertionPoint(op);
    // (The launch's own sizes, not the constants: what the emulation maps.)
    Value first =
        arith::AddIOp::create(b, launch.getThreadIds().x,
                              arith::MulIOp::create(b, launch.getBlockIds().x,
                                                    launch.getBlockSize().x));
    Value stride = arith::MulIOp::create(b, launch.getGridSize().x,
                                         launch.getBlockSize().x);
    return distributeOp(rewriter, op, first, stride, /*barrier=*/false);
  }

  /// `copy` as a linalg.copy, which spreads over threads like any linalg
  /// op; null for a self-copy (what bufferization leaves of an in-place
  /// insert), which is dropped.
  static linalg::LinalgOp copyAsLinalg(IRRewriter &rewriter,
                                       memref::CopyOp copy) {
    linalg::LinalgOp lc;
    if (copy.getSource() != copy.getTarget()) {
      rewriter.setInsertionPoint(copy);
      lc = linalg::CopyOp::create(rewriter, copy.getLoc(), copy.getSource(),
                                  copy.getTarget());
    }
    rewriter.eraseOp(copy);
    return lc;
  }

  LogicalResult launchCopy(IRRewriter &rewriter, memref::CopyOp copy) {
    linalg::LinalgOp lc = copyAsLinalg(rewriter, copy);
    return lc ? launchAlone(rewriter, lc) : success();
  }

  /// Spreads the ops of `block` (in a launch) over its threads.
  LogicalResult distributeBlock(IRRewriter &rewriter, gpu::LaunchOp launch,
                                Block &block) {
    Value tid = launch.getThreadIds().x;
    Value nthreads = launch.getBlockSize().x;
    bool rowRunsHere = mmaType && rowRuns && threads % 32 == 0;
    if (rowRunsHere) {
      // (Copies as linalg.copy first: a run may hold them.)
      SmallVector<memref::CopyOp> copies(block.getOps<memref::CopyOp>());
      for (memref::CopyOp copy : copies)
        copyAsLinalg(rewriter, copy);
    }
    SmallVector<Operation *> ops;
    for (Operation &op : block.without_terminator())
      ops.push_back(&op);
    // Consecutive writes outside linalg ops run on thread 0, together.
    SmallVector<Operation *> serial;
    // Ops of `ops` erased into a contraction's tiles (its epilogue).
    llvm::SmallPtrSet<Operation *, 4> fused;
    auto flush = [&]() -> LogicalResult {
      if (serial.empty())
        return success();
      for (Operation *op : serial)
        for (Value r : op->getResults())
          for (Operation *user : r.getUsers())
            if (!llvm::is_contained(serial, user))
              return op->emitError()
                     << kPass
                     << ": this op writes memory and every thread uses its "
                        "result; not supported yet on the GPU";
      ImplicitLocOpBuilder b(serial.front()->getLoc(), rewriter);
      b.setInsertionPoint(serial.front());
      // The pure vector ops the group reads (a transfer_read of the
      // initial state before the loop) go with it to the lanes.
      SmallVector<Operation *> pulled, group(serial);
      if (lanesOnThreads) {
        SmallVector<Operation *> work(serial);
        while (!work.empty()) {
          work.pop_back_val()->walk([&](Operation *o) {
            for (Value v : o->getOperands()) {
              Operation *def = v.getDefiningOp();
              if (!isa<VectorType>(v.getType()) || !def ||
                  def->getBlock() != serial.front()->getBlock() ||
                  isa<arith::ConstantOp>(def) || writesMemory(def) ||
                  llvm::is_contained(group, def))
                continue;
              group.push_back(def);
              pulled.push_back(def);
              work.push_back(def);
            }
          });
        }
        llvm::sort(group, [](Operation *a, Operation *b) {
          return a->isBeforeInBlock(b);
        });
      }
      if (std::optional<int64_t> w = laneWidth(group);
          w && lanesOnThreads && *w <= threads) {
        // Vector code of channel lanes (the scans' token loops): lane i on
        // thread i (LaneDistribution.cpp); emulated as a loop over lanes.
        Value width = arith::ConstantIndexOp::create(b, *w);
        if (emulate) {
          auto loop =
              scf::ForOp::create(b, arith::ConstantIndexOp::create(b, 0), width,
                                 arith::ConstantIndexOp::create(b, 1));
          b.setInsertionPoint(loop.getBody()->getTerminator());
          buildLaneDistributed(b, group, loop.getInductionVar());
          b.setInsertionPointAfter(loop);
        } else {
          Value active =
              arith::CmpIOp::create(b, arith::CmpIPredicate::ult, tid, width);
          auto ifOp = scf::IfOp::create(b, active, /*withElseRegion=*/false);
          b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
          buildLaneDistributed(b, group, tid);
          b.setInsertionPointAfter(ifOp);
        }
        gpu::BarrierOp::create(b);
        for (Operation *op : llvm::reverse(serial))
          rewriter.eraseOp(op);
        llvm::sort(pulled, [](Operation *a, Operation *b) {
          return b->isBeforeInBlock(a);
        });
        for (Operation *op : pulled)
          if (op->use_empty())
            rewriter.eraseOp(op);
        serial.clear();
        return success();
      }
      Value zero = arith::ConstantIndexOp::create(b, 0);
      Value first =
          arith::CmpIOp::create(b, arith::CmpIPredicate::eq, tid, zero);
      auto ifOp = scf::IfOp::create(b, first, /*withElseRegion=*/false);
      for (Operation *op : serial)
        rewriter.moveOpBefore(op, ifOp.thenBlock()->getTerminator());
      b.setInsertionPointAfter(ifOp);
      gpu::BarrierOp::create(b);
      serial.clear();
      return success();
    };
    for (auto [index, op] : llvm::enumerate(ops)) {
      if (fused.contains(op))
        continue;
      if (rowRunsHere && isa<linalg::LinalgOp>(op)) {
        // Row-local ops around a contraction in each warp's registers
        // (WarpRowRuns.cpp).
        if (std::optional<RowRun> run =
                matchRowRun(ArrayRef(ops).drop_front(index), fused)) {
          if (failed(flush()))
            return failure();
          for (Operation *o : run->erased)
            fused.insert(o);
          buildRowRun(rewriter, *run, mmaType, tid, nthreads, emulate);
          continue;
        }
      }
      if (op->hasAttr(kDistributedAttr)) {
        // Built for the threads already (AsyncCopies.cpp).
        if (failed(flush()))
          return failure();
        op->removeAttr(kDistributedAttr);
        continue;
      }
      if (auto copy = dyn_cast<memref::CopyOp>(op)) {
        if (failed(flush()))
          return failure();
        linalg::LinalgOp lc = copyAsLinalg(rewriter, copy);
        if (lc && failed(distributeOp(rewriter, lc, tid, nthreads, true)))
          return failure();
        continue;
      }
      if (auto linalgOp = dyn_cast<linalg::LinalgOp>(op)) {
        if (failed(flush()))
          return failure();
        if (mmaType && isMmaContraction(linalgOp)) {
          // Stage 2: the contraction on tensor cores (MmaTiles.cpp), with
          // an elementwise op on its output that follows it (the causal
          // mask of a diagonal block, a decay) applied to the sums in
          // registers before they are stored.
          linalg::LinalgOp epilogue;
          SmallVector<Operation *> between;
          for (Operation *next = op->getNextNode(); next;
               next = next->getNextNode()) {
            if (auto l = dyn_cast<linalg::LinalgOp>(next)) {
              if (isMmaEpilogue(linalgOp, l))
                epilogue = l;
              break;
            }
            if (next->getNumRegions() || !isPure(next))
              break;
            between.push_back(next);
          }
          // (The pure ops between, which the epilogue may use, go first.)
          if (epilogue)
            for (Operation *o : between)
              rewriter.moveOpBefore(o, op);
          ImplicitLocOpBuilder b(op->getLoc(), rewriter);
          b.setInsertionPoint(op);
          buildMmaContraction(b, linalgOp, mmaType, tid, nthreads, emulate,
                              epilogue);
          gpu::BarrierOp::create(b);
          rewriter.eraseOp(op);
          if (epilogue) {
            fused.insert(epilogue);
            rewriter.eraseOp(epilogue);
          }
          continue;
        }
        if (warpReductions && isReduction(linalgOp)) {
          // A long reduction over the lanes of a warp (WarpReductions.cpp).
          ImplicitLocOpBuilder b(op->getLoc(), rewriter);
          b.setInsertionPoint(op);
          if (buildWarpReduction(b, linalgOp, tid, nthreads, threads,
                                 emulate)) {
            gpu::BarrierOp::create(b);
            rewriter.eraseOp(op);
            continue;
          }
        }
        if (failed(distributeOp(rewriter, linalgOp, tid, nthreads, true)))
          return failure();
        continue;
      }
      if (isa<memref::AllocOp, memref::AllocaOp, memref::DeallocOp>(op))
        continue;
      if (auto forall = dyn_cast<scf::ForallOp>(op)) {
        // A nested parallel loop runs as sequential loops in every thread
        // (its linalg ops spread over them).
        if (failed(flush()))
          return failure();
        rewriter.setInsertionPoint(forall);
        SmallVector<Operation *> loops;
        if (failed(scf::forallToForLoop(rewriter, forall, &loops)))
          return forall.emitError() << kPass << ": cannot serialize this loop";
        if (failed(distributeRegions(rewriter, launch, loops.front())))
          return failure();
        continue;
      }
      if (op->getNumRegions() > 0 && holdsLinalg(op)) {
        if (failed(flush()) || failed(distributeRegions(rewriter, launch, op)))
          return failure();
        continue;
      }
      if (writesMemory(op)) {
        serial.push_back(op);
        continue;
      }
      // A pure op between serial ones stays with them only if they use it.
      if (!serial.empty() && failed(flush()))
        return failure();
    }
    return flush();
  }

  LogicalResult distributeRegions(IRRewriter &rewriter, gpu::LaunchOp launch,
                                  Operation *op) {
    for (Region &region : op->getRegions())
      for (Block &block : region)
        if (failed(distributeBlock(rewriter, launch, block)))
          return failure();
    return success();
  }

  /// Replaces `op` by a loop from `first` by `stride` over its flattened
  /// parallel iterations, each computing one iteration's tile (the whole
  /// reduction); a barrier follows when `barrier`.
  LogicalResult distributeOp(IRRewriter &rewriter, linalg::LinalgOp op,
                             Value first, Value stride, bool barrier) {
    if (!op.hasPureBufferSemantics())
      return op->emitError() << kPass << ": a linalg op on tensors";
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    b.setInsertionPoint(op);
    SmallVector<Range> ranges = op.createLoopRanges(b, b.getLoc());
    SmallVector<utils::IteratorType> iters = op.getIteratorTypesArray();
    SmallVector<Value> par;
    for (auto [r, it] : llvm::zip(ranges, iters))
      if (it == utils::IteratorType::parallel)
        par.push_back(getValueOrCreateConstantIndexOp(b, b.getLoc(), r.size));
    Value total = product(b, par);
    auto loop = scf::ForOp::create(b, first, total, stride);
    b.setInsertionPoint(loop.getBody()->getTerminator());
    SmallVector<Value> ivs = delinearize(b, loop.getInductionVar(), par);
    SmallVector<OpFoldResult> offsets, sizes;
    unsigned p = 0;
    for (auto [r, it] : llvm::zip(ranges, iters)) {
      if (it == utils::IteratorType::parallel) {
        offsets.push_back(
            arith::AddIOp::create(
                b, getValueOrCreateConstantIndexOp(b, b.getLoc(), r.offset),
                ivs[p++])
                .getResult());
        sizes.push_back(b.getIndexAttr(1));
      } else {
        offsets.push_back(r.offset);
        sizes.push_back(r.size);
      }
    }
    FailureOr<TilingResult> tiled =
        cast<TilingInterface>(op.getOperation())
            .getTiledImplementation(b, offsets, sizes);
    if (failed(tiled))
      return op->emitError() << kPass << ": cannot spread this op over threads";
    if (barrier) {
      b.setInsertionPointAfter(loop);
      gpu::BarrierOp::create(b);
    }
    rewriter.eraseOp(op);
    return success();
  }

  int64_t kernelCount = 0;
  /// The dtype of the layer's tensor-core operands (null: SIMT only).
  Type mmaType;

  /// Whether `v` can be computed before `launch` (defined outside it, or a
  /// pure op of such values); collects the ops to copy out in `ops`.
  bool hoistable(Value v, gpu::LaunchOp launch, SetVector<Operation *> &ops) {
    Operation *def = v.getDefiningOp();
    if (!def)
      return !launch->isAncestor(v.getParentBlock()->getParentOp());
    if (!launch->isAncestor(def))
      return true;
    // (The size of a kernel argument is known before the launch.)
    bool dim = isa<memref::DimOp>(def) &&
               getConstantIntValue(cast<memref::DimOp>(def).getIndex());
    if ((!isPure(def) && !dim) || def->getNumRegions() > 0)
      return false;
    for (Value operand : def->getOperands())
      if (!hoistable(operand, launch, ops))
        return false;
    ops.insert(def);
    return true;
  }

  /// An upper bound of the index `v` computed before `launch` (inserted at
  /// `b`): `v` itself when it is known there, else through loop induction
  /// variables (their upper bound), add, min and max; null when there is
  /// none.
  Value hostBound(ImplicitLocOpBuilder &b, Value v, gpu::LaunchOp launch,
                  int depth = 0) {
    if (depth > 16)
      return nullptr;
    SetVector<Operation *> ops;
    if (hoistable(v, launch, ops)) {
      IRMapping map;
      for (Operation *op : topologicalSort(ops))
        b.clone(*op, map);
      return map.lookupOrDefault(v);
    }
    if (std::optional<int64_t> c = upperBound(v))
      return arith::ConstantIndexOp::create(b, std::max<int64_t>(*c, 0));
    if (auto arg = dyn_cast<BlockArgument>(v)) {
      auto loop = dyn_cast<scf::ForOp>(arg.getOwner()->getParentOp());
      if (loop && arg == loop.getInductionVar())
        return hostBound(b, loop.getUpperBound(), launch, depth + 1);
      return nullptr;
    }
    Operation *op = v.getDefiningOp();
    if (!op || op->getNumOperands() != 2)
      return nullptr;
    if (isa<arith::MinSIOp, arith::MinUIOp>(op)) {
      if (Value a = hostBound(b, op->getOperand(0), launch, depth + 1))
        return a;
      return hostBound(b, op->getOperand(1), launch, depth + 1);
    }
    if (!isa<arith::AddIOp, arith::MaxSIOp, arith::MaxUIOp, arith::SubIOp>(op))
      return nullptr;
    Value a = hostBound(b, op->getOperand(0), launch, depth + 1);
    if (!a)
      return nullptr;
    if (isa<arith::SubIOp>(op))
      return a; // (sizes are not negative)
    Value c = hostBound(b, op->getOperand(1), launch, depth + 1);
    if (!c)
      return nullptr;
    if (isa<arith::AddIOp>(op))
      return arith::AddIOp::create(b, a, c);
    return arith::MaxUIOp::create(b, a, c);
  }

  /// Each memref.alloc (or alloca) in the launch becomes, where its size
  /// has a constant bound and the block's shared memory holds it, a view of
  /// the dynamic shared memory at a fixed offset; otherwise a view of a
  /// global buffer the host allocates for all blocks (gpu.alloc: its size
  /// per block must be computable before the launch). Either is cast to the
  /// default memory space; the deallocs go.
  LogicalResult placeScratch(IRRewriter &rewriter, gpu::LaunchOp launch) {
    SmallVector<Operation *> allocs, deallocs;
    launch.getBody().walk([&](Operation *op) {
      if (isa<memref::AllocOp, memref::AllocaOp>(op))
        allocs.push_back(op);
      else if (isa<memref::DeallocOp>(op))
        deallocs.push_back(op);
    });
    for (Operation *op : deallocs)
      rewriter.eraseOp(op);
    // (A buffer nothing uses any more, one a row run keeps in registers.)
    llvm::erase_if(allocs, [&](Operation *op) {
      if (!op->use_empty())
        return false;
      rewriter.eraseOp(op);
      return true;
    });
    if (allocs.empty())
      return success();
    MLIRContext *ctx = launch.getContext();
    Block &body = launch.getBody().front();
    auto wg = gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup);
    // Each buffer's bytes at its bounds (nullopt: no bound).
    DenseMap<Operation *, std::optional<int64_t>> bounds;
    for (Operation *op : allocs) {
      auto type = cast<MemRefType>(op->getResult(0).getType());
      if (!type.getLayout().isIdentity())
        return op->emitError() << kPass << ": a strided scratch buffer";
      int64_t elem = elementBytes(type.getElementType());
      if (elem == 0)
        return op->emitError() << kPass << ": a scratch buffer of "
                               << type.getElementType() << " elements";
      std::optional<int64_t> bound = elem;
      for (unsigned d = 0; d < type.getRank(); ++d) {
        std::optional<int64_t> ub = allocDimBound(op, d);
        bound = bound && ub ? std::optional(*bound * std::max<int64_t>(*ub, 0))
                            : std::nullopt;
      }
      bounds[op] = bound;
    }
    // Offsets in shared memory, in program order; the branches of an
    // scf.if (one runs) each start at the same offset, so a chunk loop's
    // full-block and last-block buffers share memory.
    DenseMap<Operation *, int64_t> sharedOffset;
    int64_t shared = 0;
    std::function<int64_t(Block &, int64_t)> place = [&](Block &block,
                                                         int64_t top) {
      for (Operation &op : block) {
        if (auto it = bounds.find(&op); it != bounds.end()) {
          int64_t offset = (top + 15) / 16 * 16;
          if (it->second && offset + *it->second <= maxSharedBytes) {
            sharedOffset[&op] = offset;
            top = offset + *it->second;
            shared = std::max(shared, top);
          }
          continue;
        }
        // (Not when a branch yields a buffer: it outlives the branch.)
        bool exclusive = isa<scf::IfOp>(op) &&
                         llvm::none_of(op.getResultTypes(), [](Type t) {
                           return isa<BaseMemRefType>(t);
                         });
        int64_t after = top;
        for (Region &region : op.getRegions())
          for (Block &b : region)
            after = std::max(after, place(b, exclusive ? top : after));
        top = after;
      }
      return top;
    };
    place(body, 0);
    SmallVector<std::pair<Operation *, int64_t>> inShared;
    for (Operation *op : allocs) {
      auto type = cast<MemRefType>(op->getResult(0).getType());
      int64_t elem = elementBytes(type.getElementType());
      std::optional<int64_t> bound = bounds[op];
      ImplicitLocOpBuilder ob(op->getLoc(), rewriter);
      ob.setInsertionPoint(op);
      if (auto it = sharedOffset.find(op); it != sharedOffset.end()) {
        inShared.emplace_back(op, it->second);
        continue;
      }
      // Global memory: one slot per block, sized before the launch: each
      // dynamic size computed there, or bounded there.
      ImplicitLocOpBuilder hb(launch.getLoc(), rewriter);
      hb.setInsertionPoint(launch);
      // (A bounded buffer gets its bounds, as in shared memory: a row run
      // may read past its sizes inside them, WarpRowRuns.cpp.)
      Value slot = arith::ConstantIndexOp::create(hb, bound ? *bound : elem);
      unsigned i = 0;
      for (int64_t d : bound ? ArrayRef<int64_t>() : type.getShape()) {
        Value size = ShapedType::isDynamic(d)
                         ? hostBound(hb, op->getOperand(i++), launch)
                         : arith::ConstantIndexOp::create(hb, d).getResult();
        if (!size)
          return op->emitError()
                 << kPass
                 << ": a scratch buffer whose size has no bound known before "
                    "the launch (not supported yet on the GPU)";
        slot = arith::MulIOp::create(hb, slot, size);
      }
      Value c15 = arith::ConstantIndexOp::create(hb, 15);
      Value c16 = arith::ConstantIndexOp::create(hb, 16);
      slot = arith::MulIOp::create(
          hb,
          arith::DivUIOp::create(hb, arith::AddIOp::create(hb, slot, c15), c16),
          c16);
      Value total = arith::MulIOp::create(hb, slot, launch.getGridSizeX());
      auto bufType = MemRefType::get({ShapedType::kDynamic}, hb.getI8Type());
      Value buf = emulate
                      ? memref::AllocOp::create(hb, bufType, total).getResult()
                      : gpu::AllocOp::create(hb, bufType, Type(), ValueRange{},
                                             ValueRange{total}, ValueRange{},
                                             UnitAttr())
                            .getResult(0);
      hb.setInsertionPointAfter(launch);
      if (emulate)
        memref::DeallocOp::create(hb, buf);
      else
        gpu::DeallocOp::create(hb, Type(), ValueRange{}, buf);
      Value at = arith::MulIOp::create(ob, launch.getBlockIds().x, slot);
      Value view = memref::ViewOp::create(ob, type, buf, at, op->getOperands());
      rewriter.replaceOp(op, view);
    }
    if (inShared.empty())
      return success();
    // The block's shared memory (emulated: a buffer of the block's own).
    rewriter.setInsertionPointToStart(&body);
    Value base;
    if (emulate) {
      base = memref::AllocOp::create(
          rewriter, launch.getLoc(),
          MemRefType::get({ShapedType::kDynamic}, rewriter.getI8Type()),
          ValueRange{arith::ConstantIndexOp::create(rewriter, launch.getLoc(),
                                                    shared)});
      rewriter.setInsertionPoint(body.getTerminator());
      memref::DeallocOp::create(rewriter, launch.getLoc(), base);
    } else {
      base = gpu::DynamicSharedMemoryOp::create(
          rewriter, launch.getLoc(),
          MemRefType::get({ShapedType::kDynamic}, rewriter.getI8Type(),
                          MemRefLayoutAttrInterface(), wg));
    }
    for (auto [op, offset] : inShared) {
      auto type = cast<MemRefType>(op->getResult(0).getType());
      ImplicitLocOpBuilder ob(op->getLoc(), rewriter);
      ob.setInsertionPoint(op);
      Value at = arith::ConstantIndexOp::create(ob, offset);
      if (emulate) {
        rewriter.replaceOp(
            op, memref::ViewOp::create(ob, type, base, at, op->getOperands()));
        continue;
      }
      auto viewType = MemRefType::get(type.getShape(), type.getElementType(),
                                      MemRefLayoutAttrInterface(), wg);
      Value view =
          memref::ViewOp::create(ob, viewType, base, at, op->getOperands());
      rewriter.replaceOp(op, memref::MemorySpaceCastOp::create(ob, type, view));
    }
    rewriter.setInsertionPoint(launch);
    Value size = arith::ConstantIntOp::create(rewriter, launch.getLoc(),
                                              rewriter.getI32Type(), shared);
    rewriter.modifyOpInPlace(launch, [&] {
      launch.getDynamicSharedMemorySizeMutable().assign(size);
    });
    return success();
  }

  /// The emulation of `launch` on the host (a test of the schedule without
  /// a GPU): its blocks one after another in a loop, each with one thread,
  /// which then takes every iteration of the block-stride loops; barriers
  /// have nothing to wait for.
  void emulateLaunch(IRRewriter &rewriter, gpu::LaunchOp launch) {
    ImplicitLocOpBuilder b(launch.getLoc(), rewriter);
    b.setInsertionPoint(launch);
    Value zero = arith::ConstantIndexOp::create(b, 0);
    Value one = arith::ConstantIndexOp::create(b, 1);
    auto loop = scf::ForOp::create(b, zero, launch.getGridSizeX(), one);
    IRMapping map;
    gpu::KernelDim3 blocks = launch.getBlockIds(),
                    threads = launch.getThreadIds(),
                    gridSize = launch.getGridSize(),
                    blockSize = launch.getBlockSize();
    map.map(blocks.x, loop.getInductionVar());
    for (Value v : {blocks.y, blocks.z, threads.x, threads.y, threads.z})
      map.map(v, zero);
    for (Value v :
         {blockSize.x, blockSize.y, blockSize.z, gridSize.y, gridSize.z})
      map.map(v, one);
    map.map(gridSize.x, launch.getGridSizeX());
    b.setInsertionPoint(loop.getBody()->getTerminator());
    for (Operation &op : launch.getBody().front().without_terminator())
      b.clone(op, map);
    loop.walk([&](gpu::BarrierOp barrier) { rewriter.eraseOp(barrier); });
    rewriter.eraseOp(launch);
  }
};
} // namespace

namespace mlir::seqmix {
#define GEN_PASS_DEF_SEQMIXGPUFINALIZEKERNELS
#include "seqmix/Transforms/Passes.h.inc"
} // namespace mlir::seqmix

namespace {
struct GpuFinalizeKernelsPass
    : mlir::seqmix::impl::SeqMixGpuFinalizeKernelsBase<GpuFinalizeKernelsPass> {
  void runOnOperation() override {
    getOperation().walk([](LLVM::LLVMFuncOp func) {
      if (func->hasAttr(NVVM::NVVMDialect::getKernelFuncAttrName()))
        func->setAttr(NVVM::NVVMDialect::getMinctasmAttrName(),
                      Builder(func).getI32IntegerAttr(1));
    });
    getOperation().walk([](LLVM::GlobalOp global) {
      auto array = dyn_cast<LLVM::LLVMArrayType>(global.getGlobalType());
      if (global.getAddrSpace() != 3 || !array || array.getNumElements() != 0)
        return;
      global.setLinkage(LLVM::Linkage::External);
    });
  }
};
} // namespace
