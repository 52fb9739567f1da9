//===- GpuSchedule.h - pieces of the GPU schedule ---------------*- C++ -*-===//
//
// Shared by the GPU distribution (GpuDistribute.cpp) and its tensor-core
// tiles (MmaTiles.cpp).
//
//===----------------------------------------------------------------------===//
#ifndef SEQMIX_LIB_TARGET_GPU_GPUSCHEDULE_H
#define SEQMIX_LIB_TARGET_GPU_GPUSCHEDULE_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "mlir/IR/PatternMatch.h"
#include "llvm/ADT/SmallPtrSet.h"

#include <optional>

namespace mlir {
namespace gpu {
class LaunchOp;
} // namespace gpu
} // namespace mlir

namespace mlir::seqmix {

/// Threads of a warp.
constexpr int64_t kWarp = 32;

/// Marks ops the schedule built already spread over the threads (the
/// distribution leaves them as they are).
constexpr llvm::StringLiteral kDistributedAttr = "seqmix.gpu.distributed";

/// In a launch's body (before the distribution): each loop's widened
/// blocks of global inputs become a two-stage pipeline of cp.async copies
/// into two slots of shared memory (AsyncCopies.cpp); with `emulate`,
/// synchronous copies of the same pieces.
void pipelineBlockCopies(IRRewriter &rewriter, gpu::LaunchOp launch,
                         bool emulate);

/// After pipelineBlockCopies: a tensor-core contraction that reads a
/// staged block through copies of it (the widening to f32, a transpose)
/// reads the block's slot in shared memory directly, in the layer's dtype,
/// with the copies' maps composed into its own; copies nothing else reads
/// go, with their buffers.
void readStagedBlocksDirectly(IRRewriter &rewriter, gpu::LaunchOp launch);

/// After the scratch buffers are placed: each async copy writes the
/// workgroup view of its staging buffer (not the generic cast of it).
void useSharedViewsForAsyncCopies(gpu::LaunchOp launch);

/// `linear` split into indices of the row-major space `sizes`.
SmallVector<Value> delinearize(ImplicitLocOpBuilder &b, Value linear,
                               ArrayRef<Value> sizes);

/// The product of `sizes` (1 for none).
Value product(ImplicitLocOpBuilder &b, ArrayRef<Value> sizes);

/// The buffer a view (subview, cast, ...) is of.
Value viewRoot(Value v);

/// The indices into an operand with the projected permutation `map` at the
/// loop point `ivs`.
SmallVector<Value> indicesAt(AffineMap map, ArrayRef<Value> ivs);

/// Emits, at `b`, the body of the linalg op `op` (on memrefs) at the loop
/// point `ivs` and returns the value it yields: each block argument is its
/// operand loaded at the point (through its indexing map; a scalar operand
/// as it is), except the operands `given` (operand number, value), and
/// linalg.index is the point.
Value yieldedAt(OpBuilder &b, linalg::LinalgOp op, ArrayRef<Value> ivs,
                ArrayRef<std::pair<unsigned, Value>> given);

/// A constant upper bound of the index `v` (a block's rows: min(C, T - t),
/// ...), or nullopt.
std::optional<int64_t> upperBound(Value v, int depth = 0);

/// A constant bound of dimension `dim` of the buffer `alloc` allocates (a
/// memref.alloc or alloca): its static size, or upperBound of its size
/// operand.
std::optional<int64_t> allocDimBound(Operation *alloc, unsigned dim);

/// The element type of `func`'s activations when the layer is bf16 or f16
/// (the dtype of its tensor-core operands), else null.
Type mmaElementType(func::FuncOp func);

/// The operand roles of a contraction tensor cores can compute.
struct MmaContraction {
  unsigned m, n, k;           // loop dimensions
  AffineMap mapA, mapB, mapC; // indexing maps of A (m, k), B (k, n), C
  Value a, b, c;              // the memrefs
};

/// `op` as an MmaContraction (isMmaContraction), else nullopt.
std::optional<MmaContraction> matchMmaContraction(linalg::LinalgOp op);

/// `v` (a float) converted to the float type `type`.
Value convertFloat(OpBuilder &b, Location loc, Value v, Type type);

/// Two elements of the mma dtype as one 32-bit register of a fragment.
Value packMmaPair(OpBuilder &b, Location loc, Type mmaType, Value lo, Value hi);

/// One nvvm.mma.sync m16n8k16 row.col with f32 accumulators: A's four
/// packed registers, B's two, C's four f32; returns D's four f32.
SmallVector<Value> mmaSync(OpBuilder &b, Location loc, Type mmaType,
                           ArrayRef<Value> a, ArrayRef<Value> bRegs,
                           ArrayRef<Value> c);

/// Whether the body of `op` is arithmetic on its arguments and indices
/// only (pure ops without regions) and yields one value.
bool hasPureBody(linalg::LinalgOp op);

/// Whether `op` is a contraction C[m, n] += A[m, k] * B[k, n] on memrefs
/// (f32 accumulator, the plain multiply-add body) that tensor-core tiles
/// can compute.
bool isMmaContraction(linalg::LinalgOp op);

/// Builds, at `b`'s insertion point, the computation of the contraction
/// `op` (isMmaContraction) by the warps of a block of `nthreads` threads
/// (`tid` this thread's index): mma.sync m16n8k16 tiles on operands rounded
/// to `mmaType` (bf16 or f16), or, with `emulate`, the same tiles in plain
/// loops on one thread; `epilogue` (isMmaEpilogue), when given, applied to
/// each sum before it is stored. `op` itself is left to the caller.
void buildMmaContraction(ImplicitLocOpBuilder &b, linalg::LinalgOp op,
                         Type mmaType, Value tid, Value nthreads, bool emulate,
                         linalg::LinalgOp epilogue = nullptr);

/// Whether `op`, an elementwise op over the contraction's output C in place
/// (a causal mask, a decay: identity map on C, other inputs indexed by C's
/// dimensions and not views of C's buffer, a pure body), can be applied to
/// each sum of the contraction's tiles before it is stored (the epilogue of
/// buildMmaContraction).
bool isMmaEpilogue(linalg::LinalgOp contraction, linalg::LinalgOp op);

/// The combiner of a reduction's body (the op that folds the output
/// argument into the yielded value: addf, max or min) and its identity,
/// when the body is yield(combine(out, f(ins))) with `out` used only there.
struct ReductionCombiner {
  Operation *op;
  TypedAttr identity;
};
std::optional<ReductionCombiner> reductionCombiner(linalg::LinalgOp op);

/// The combiner `comb` applied to (x, y).
Value combineWith(OpBuilder &b, Operation *comb, Value x, Value y);

/// Whether `op` is a reduction (one reduction dimension, one output, the
/// body folding into it with addf, max or min) that warps can compute.
bool isReduction(linalg::LinalgOp op);

/// Builds, at `b`'s insertion point, `op` (isReduction) computed with one
/// warp per output element: lanes fold strided parts of the reduction, a
/// gpu.shuffle xor butterfly combines them, lane 0 writes; with `emulate`,
/// one lane and no shuffles. Returns false (having built only size
/// computations) when the bounds of its sizes say one thread per output
/// element of a block of `threads` is faster. `op` itself is left to the
/// caller.
bool buildWarpReduction(ImplicitLocOpBuilder &b, linalg::LinalgOp op, Value tid,
                        Value nthreads, int64_t threads, bool emulate);

/// The width W when `ops` (a block's writes outside linalg ops, in order)
/// are lane-wise vector code of 1-D vectors of W lanes whose lanes share no
/// data (LaneDistribution.cpp), else nullopt.
std::optional<int64_t> laneWidth(ArrayRef<Operation *> ops);

/// Clones `ops` (laneWidth) at `b`'s insertion point for the one lane
/// `lane`: each vector value its lane's scalar.
void buildLaneDistributed(OpBuilder &b, ArrayRef<Operation *> ops, Value lane);

/// A run of a block's linalg ops, all row-local on one row space (each
/// buffer the run writes read and written only at the row of the op's
/// iteration), that the warps compute in registers (WarpRowRuns.cpp).
struct RowRun {
  /// The run's ops, in order.
  SmallVector<linalg::LinalgOp> ops;
  /// Pure ops and allocations between them (moved before the run).
  SmallVector<Operation *> between;
  /// The scratch buffers the run holds in registers (their allocations go).
  SmallVector<Value> internal;
  /// Every op the run's construction erases.
  SmallVector<Operation *> erased;
};

/// The row run that starts at `ops.front()`, a linalg op in a launch (the
/// ops after it in its block follow in `ops`; those in `skip` end it),
/// when it holds a contraction with an operand in registers; else nullopt.
std::optional<RowRun>
matchRowRun(ArrayRef<Operation *> ops,
            const llvm::SmallPtrSetImpl<Operation *> &skip);

/// Builds `run` at its first op for a block of `nthreads` threads (`tid`
/// this thread's index), the ops between moved before it: each warp takes
/// units of 16 rows; in a unit the ops run on the mma fragment layout,
/// buffers of `run.internal` in registers, contractions as mma.sync with
/// operands rounded to `mmaType`, row reductions across the four lanes of
/// a row; with `emulate`, the same lanes and fragments in loops and
/// buffers on one thread. Erases `run.erased`.
void buildRowRun(IRRewriter &rewriter, const RowRun &run, Type mmaType,
                 Value tid, Value nthreads, bool emulate);

} // namespace mlir::seqmix

#endif // SEQMIX_LIB_TARGET_GPU_GPUSCHEDULE_H
