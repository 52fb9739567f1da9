//===- MmaTiles.cpp - a block's contractions on tensor cores --------------===//
//
// The GPU schedule's second stage for bf16 and f16 layers (issue 12,
// GPU_CODEGEN.md 4): a contraction C[m, n] += A[m, k] * B[k, n] of a block
// (softmax's q k^T and P V, the chunked linear family's q k^T, A V, q S,
// k^T V) runs as warp-level mma.sync m16n8k16 tiles with f32 accumulators,
// instead of one thread per output element.
//
// Each warp takes units of 16 rows x 4 n-tiles (32 columns) in turn; for
// every 16-deep k step a lane loads its A fragment once and one B fragment
// per n-tile, packs them in pairs of the layer's dtype and issues one
// nvvm.mma.sync per n-tile. The fragment layout is the PTX ISA's for
// m16n8k16 (groupID = lane / 4, threadID_in_group = lane % 4):
//   A (row): a0,a1 (g, 2t+{0,1}), a2,a3 (g+8, 2t+{0,1}),
//            a4,a5 (g, 2t+8+{0,1}), a6,a7 (g+8, 2t+8+{0,1});
//   B (col): b0,b1 (2t+{0,1}, g), b2,b3 (2t+8+{0,1}, g);
//   C/D:     c0,c1 (g, 2t+{0,1}), c2,c3 (g+8, 2t+{0,1})
// (the same positions convert-vector-to-gpu gives f16 fragments). Elements
// past the op's sizes load as zero and are not stored, so dynamic block
// sizes (the last chunk of a sequence) need no padding.
//
// Operands in f32 (the widened blocks of the layer's inputs, exact in the
// layer's dtype; P and decayed or state operands, rounded) are rounded to
// the layer's dtype on load: FORMS.md 7.2's "bf16 inputs and matmul
// operands, fp32 accumulation". An f32 layer never takes this path (tf32
// is not a silent substitute for f32).
//
// The emulation (seqmix-gpu-distribute{emulate}) computes each unit's tile
// with the same rounding and bounds in plain loops, so the tiling, the
// operand maps and the rounding are checked against the reference on a
// machine without a GPU; only the lane layout above is not.
//
//===----------------------------------------------------------------------===//
#include "GpuSchedule.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;
using namespace mlir::seqmix;

namespace {
/// n-tiles (of 8 columns) a warp's unit holds accumulators for.
constexpr int64_t kMaxNTiles = 4;

using Contraction = MmaContraction;

bool isMmaElement(Type t) { return t.isF32() || t.isBF16() || t.isF16(); }

/// `op` as C += A * B over three loops with the plain body
/// out + in0 * in1 (inputs maybe widened), on memrefs; nullopt otherwise.
/// (The loops are found as seqmix-tile-contractions finds them, by
/// linalg's contraction interface; the body is checked here, because that
/// interface also takes any unary op on the operands, which the tiles do
/// not compute.)
std::optional<Contraction> matchContraction(linalg::LinalgOp op) {
  if (!op.hasPureBufferSemantics() || op.getNumLoops() != 3 ||
      op.getNumDpsInputs() != 2 || op.getNumDpsInits() != 1 ||
      !linalg::isaContractionOpInterface(op))
    return std::nullopt;
  FailureOr<linalg::ContractionDimensions> dims =
      linalg::inferContractionDims(op);
  if (failed(dims) || !dims->batch.empty() || dims->m.size() != 1 ||
      dims->n.size() != 1 || dims->k.size() != 1)
    return std::nullopt;
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  Contraction c;
  c.m = dims->m[0];
  c.n = dims->n[0];
  c.k = dims->k[0];
  c.mapA = maps[0];
  c.mapB = maps[1];
  c.mapC = maps[2];
  c.a = op.getDpsInputOperand(0)->get();
  c.b = op.getDpsInputOperand(1)->get();
  c.c = op.getDpsInitOperand(0)->get();
  for (Value v : {c.a, c.b, c.c}) {
    auto t = dyn_cast<MemRefType>(v.getType());
    if (!t || t.getRank() != 2 || !isMmaElement(t.getElementType()))
      return std::nullopt;
  }
  if (!cast<MemRefType>(c.c.getType()).getElementType().isF32())
    return std::nullopt;
  // The body: yield(out + x * y), x and y the inputs, maybe widened.
  Block *body = op.getBlock();
  auto yield = cast<linalg::YieldOp>(body->getTerminator());
  auto add = yield.getValues()[0].getDefiningOp<arith::AddFOp>();
  if (!add || !add.getType().isF32())
    return std::nullopt;
  Value out = body->getArgument(2);
  Value prod = add.getLhs() == out ? add.getRhs() : add.getLhs();
  if ((add.getLhs() == out) == (add.getRhs() == out))
    return std::nullopt;
  auto mul = prod.getDefiningOp<arith::MulFOp>();
  if (!mul)
    return std::nullopt;
  auto input = [&](Value v) -> std::optional<unsigned> {
    if (auto ext = v.getDefiningOp<arith::ExtFOp>())
      v = ext.getIn();
    auto arg = dyn_cast<BlockArgument>(v);
    if (!arg || arg.getOwner() != body || arg.getArgNumber() > 1)
      return std::nullopt;
    return arg.getArgNumber();
  };
  std::optional<unsigned> x = input(mul.getLhs()), y = input(mul.getRhs());
  if (!x || !y || *x == *y)
    return std::nullopt;
  if (body->getOperations().size() !=
      3 + (mul.getLhs() != body->getArgument(*x)) +
          (mul.getRhs() != body->getArgument(*y)))
    return std::nullopt;
  return c;
}

/// Builds the tiles of one contraction.
struct MmaBuilder {
  ImplicitLocOpBuilder &b;
  const Contraction &c;
  Type mmaType; // bf16 or f16
  Value sizeM, sizeN, sizeK;
  Value zeroIdx;
  /// An elementwise op on C that follows the contraction (a mask, a
  /// decay), applied to each sum before it is stored; null: none.
  linalg::LinalgOp epilogue = nullptr;
  /// Whether the tiles can pass the size of m, n, k (else, a size that is
  /// a constant multiple of the tile's extent, no bounds checks).
  bool checkM = true, checkN = true, checkK = true;

  Value cst(int64_t v) { return arith::ConstantIndexOp::create(b, v); }
  Value add(Value x, Value y) { return arith::AddIOp::create(b, x, y); }
  Value addc(Value x, int64_t v) { return v ? add(x, cst(v)) : x; }
  Value lt(Value x, Value y) {
    return arith::CmpIOp::create(b, arith::CmpIPredicate::ult, x, y);
  }

  /// The loop point of (row, col) of operand `which` (0 = A (m, k),
  /// 1 = B (k, n), 2 = C (m, n)).
  SmallVector<Value> point(int which, Value row, Value col) {
    SmallVector<Value> dims(3, zeroIdx);
    unsigned r = which == 1 ? c.k : c.m, cc = which == 0 ? c.k : c.n;
    dims[r] = row;
    dims[cc] = col;
    return dims;
  }
  Value memrefOf(int which) {
    return which == 0 ? c.a : which == 1 ? c.b : c.c;
  }
  AffineMap mapOf(int which) {
    return which == 0 ? c.mapA : which == 1 ? c.mapB : c.mapC;
  }
  Value rowsOf(int which) { return which == 1 ? sizeK : sizeM; }
  Value colsOf(int which) { return which == 0 ? sizeK : sizeN; }
  bool checkRows(int which) { return which == 1 ? checkK : checkM; }
  bool checkCols(int which) { return which == 0 ? checkK : checkN; }
  /// x < size, or true where the tiles cannot pass the size.
  Value inside(Value x, Value size, bool check) {
    if (!check)
      return arith::ConstantIntOp::create(b, b.getI1Type(), 1);
    return lt(x, size);
  }

  /// Operand `which` at (row, col), zero outside the op's sizes, in
  /// `type` (the mma dtype for A and B, f32 for C): a load at a clamped
  /// index and a select.
  Value load(int which, Value row, Value col, Type type) {
    if (!checkRows(which) && !checkCols(which))
      return convert(memref::LoadOp::create(
                         b, memrefOf(which),
                         indicesAt(mapOf(which), point(which, row, col))),
                     type);
    Value inb =
        arith::AndIOp::create(b, inside(row, rowsOf(which), checkRows(which)),
                              inside(col, colsOf(which), checkCols(which)));
    Value r = arith::SelectOp::create(b, inb, row, zeroIdx);
    Value cl = arith::SelectOp::create(b, inb, col, zeroIdx);
    Value v = memref::LoadOp::create(
        b, memrefOf(which), indicesAt(mapOf(which), point(which, r, cl)));
    v = convert(v, type);
    Value zero = arith::ConstantOp::create(b, type, b.getFloatAttr(type, 0.0));
    return arith::SelectOp::create(b, inb, v, zero);
  }

  Value convert(Value v, Type type) {
    return convertFloat(b, b.getLoc(), v, type);
  }

  /// Stores `v` to C at (row, col) when inside the op's sizes.
  void store(Value v, Value row, Value col) {
    SmallVector<Value> idx = indicesAt(c.mapC, point(2, row, col));
    if (!checkM && !checkN) {
      memref::StoreOp::create(b, applyEpilogue(v, idx), c.c, idx);
      return;
    }
    Value inb = arith::AndIOp::create(b, inside(row, sizeM, checkM),
                                      inside(col, sizeN, checkN));
    auto ifOp = scf::IfOp::create(b, inb, /*withElseRegion=*/false);
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(ifOp.thenBlock());
    memref::StoreOp::create(b, applyEpilogue(v, idx), c.c, idx);
  }

  /// The epilogue's body at C's element `idx` (its iteration point), its
  /// output (and any read of C) the sum `v`.
  Value applyEpilogue(Value v, ArrayRef<Value> idx) {
    if (!epilogue)
      return v;
    SmallVector<std::pair<unsigned, Value>> sums;
    for (OpOperand &operand : epilogue->getOpOperands())
      if (operand.get() == c.c)
        sums.push_back({operand.getOperandNumber(), v});
    return yieldedAt(b, epilogue, idx, sums);
  }

  Value pack(Value lo, Value hi) {
    return packMmaPair(b, b.getLoc(), mmaType, lo, hi);
  }

  /// The accumulators of a unit at rows m0, columns n0 (nTiles n-tiles),
  /// over the whole k range, on tensor cores; then stored.
  void warpTile(Value lane, Value m0, Value n0, int64_t nTiles) {
    Value g = arith::DivUIOp::create(b, lane, cst(4));
    Value t2 = arith::MulIOp::create(b, arith::RemUIOp::create(b, lane, cst(4)),
                                     cst(2));
    Type f32 = b.getF32Type();
    auto accType = VectorType::get({4}, f32);
    Value rowLo = add(m0, g), rowHi = addc(rowLo, 8);
    // c0..c3 at (g, 2t), (g, 2t+1), (g+8, 2t), (g+8, 2t+1).
    auto accPos = [&](int64_t j, int i) -> std::pair<Value, Value> {
      Value col = addc(add(n0, t2), 8 * j + (i & 1));
      return {i < 2 ? rowLo : rowHi, col};
    };
    SmallVector<Value> accs;
    for (int64_t j = 0; j < nTiles; ++j) {
      SmallVector<Value> e;
      for (int i = 0; i < 4; ++i) {
        auto [r, col] = accPos(j, i);
        e.push_back(load(2, r, col, f32));
      }
      accs.push_back(vector::FromElementsOp::create(b, accType, e));
    }
    auto kLoop = scf::ForOp::create(b, zeroIdx, sizeK, cst(16), accs);
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(kLoop.getBody());
      Value k0 = kLoop.getInductionVar();
      Value kLo = add(k0, t2), kHi = addc(kLo, 8);
      auto pair = [&](int which, Value row, Value col, bool alongRow) {
        Value lo = load(which, row, col, mmaType);
        Value hi = alongRow ? load(which, row, addc(col, 1), mmaType)
                            : load(which, addc(row, 1), col, mmaType);
        return pack(lo, hi);
      };
      // A: (g, 2t), (g+8, 2t), (g, 2t+8), (g+8, 2t+8), each with its right
      // neighbour.
      SmallVector<Value> aRegs = {
          pair(0, rowLo, kLo, true), pair(0, rowHi, kLo, true),
          pair(0, rowLo, kHi, true), pair(0, rowHi, kHi, true)};
      SmallVector<Value> next;
      for (int64_t j = 0; j < nTiles; ++j) {
        Value col = addc(add(n0, g), 8 * j);
        // B: (2t, g) and (2t+8, g), each with the element below.
        SmallVector<Value> bRegs = {pair(1, kLo, col, false),
                                    pair(1, kHi, col, false)};
        Value acc = kLoop.getRegionIterArg(j);
        SmallVector<Value> cRegs;
        for (int64_t i = 0; i < 4; ++i)
          cRegs.push_back(
              vector::ExtractOp::create(b, acc, ArrayRef<int64_t>{i}));
        SmallVector<Value> e =
            mmaSync(b, b.getLoc(), mmaType, aRegs, bRegs, cRegs);
        next.push_back(vector::FromElementsOp::create(b, accType, e));
      }
      scf::YieldOp::create(b, next);
    }
    for (int64_t j = 0; j < nTiles; ++j)
      for (int i = 0; i < 4; ++i) {
        auto [r, col] = accPos(j, i);
        store(vector::ExtractOp::create(b, kLoop.getResult(j),
                                        ArrayRef<int64_t>{i}),
              r, col);
      }
  }

  /// The emulation of warpTile on one thread: every element of the unit,
  /// its operands rounded to the mma dtype, summed in f32.
  void emulatedTile(Value m0, Value n0, int64_t nTiles) {
    Type f32 = b.getF32Type();
    auto rows = scf::ForOp::create(b, zeroIdx, cst(16), cst(1));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(rows.getBody());
    auto cols = scf::ForOp::create(b, zeroIdx, cst(8 * nTiles), cst(1));
    b.setInsertionPointToStart(cols.getBody());
    Value row = add(m0, rows.getInductionVar());
    Value col = add(n0, cols.getInductionVar());
    Value init = load(2, row, col, f32);
    auto ks = scf::ForOp::create(b, zeroIdx, sizeK, cst(1), init);
    {
      OpBuilder::InsertionGuard g2(b);
      b.setInsertionPointToStart(ks.getBody());
      Value k = ks.getInductionVar();
      Value x = convert(load(0, row, k, mmaType), f32);
      Value y = convert(load(1, k, col, mmaType), f32);
      Value s = arith::AddFOp::create(b, ks.getRegionIterArg(0),
                                      arith::MulFOp::create(b, x, y));
      scf::YieldOp::create(b, s);
    }
    store(ks.getResult(0), row, col);
  }
};
} // namespace

Type mlir::seqmix::mmaElementType(func::FuncOp func) {
  for (Type t : func.getArgumentTypes())
    if (auto m = dyn_cast<MemRefType>(t)) {
      Type e = m.getElementType();
      if (e.isBF16() || e.isF16())
        return e;
      if (isa<FloatType>(e))
        return Type();
    }
  return Type();
}

std::optional<MmaContraction>
mlir::seqmix::matchMmaContraction(linalg::LinalgOp op) {
  return matchContraction(op);
}

Value mlir::seqmix::convertFloat(OpBuilder &b, Location loc, Value v,
                                 Type type) {
  unsigned from = v.getType().getIntOrFloatBitWidth(),
           to = type.getIntOrFloatBitWidth();
  if (v.getType() == type)
    return v;
  if (from > to)
    return arith::TruncFOp::create(b, loc, type, v);
  if (from < to)
    return arith::ExtFOp::create(b, loc, type, v);
  // bf16 <-> f16: through f32.
  return arith::TruncFOp::create(
      b, loc, type, arith::ExtFOp::create(b, loc, b.getF32Type(), v));
}

/// Two elements of the mma dtype as the 32-bit register of a fragment
/// (nvvm.mma.sync takes f16 pairs as vector<2xf16>, bf16 pairs as i32.)
Value mlir::seqmix::packMmaPair(OpBuilder &b, Location loc, Type mmaType,
                                Value lo, Value hi) {
  Value v = vector::FromElementsOp::create(
      b, loc, VectorType::get({2}, mmaType), ValueRange{lo, hi});
  if (mmaType.isF16())
    return v;
  Value i = vector::BitCastOp::create(b, loc,
                                      VectorType::get({1}, b.getI32Type()), v);
  return vector::ExtractOp::create(b, loc, i, ArrayRef<int64_t>{0});
}

SmallVector<Value> mlir::seqmix::mmaSync(OpBuilder &b, Location loc,
                                         Type mmaType, ArrayRef<Value> a,
                                         ArrayRef<Value> bRegs,
                                         ArrayRef<Value> c) {
  NVVM::MMATypes t =
      mmaType.isBF16() ? NVVM::MMATypes::bf16 : NVVM::MMATypes::f16;
  std::array<NVVM::MMATypes, 2> types = {t, t};
  std::array<NVVM::MMALayout, 2> layouts = {NVVM::MMALayout::row,
                                            NVVM::MMALayout::col};
  Type f32 = b.getF32Type();
  auto resType = LLVM::LLVMStructType::getLiteral(b.getContext(),
                                                  SmallVector<Type>(4, f32));
  Value d = NVVM::MmaOp::create(b, loc, resType, a, bRegs, c,
                                ArrayRef<int64_t>{16, 8, 16}, std::nullopt,
                                std::nullopt, types, layouts);
  SmallVector<Value> e;
  for (int64_t i = 0; i < 4; ++i)
    e.push_back(LLVM::ExtractValueOp::create(b, loc, d, i));
  return e;
}

bool mlir::seqmix::isMmaContraction(linalg::LinalgOp op) {
  return matchContraction(op).has_value();
}

bool mlir::seqmix::isMmaEpilogue(linalg::LinalgOp contraction,
                                 linalg::LinalgOp op) {
  std::optional<Contraction> c = matchContraction(contraction);
  if (!c || !op.hasPureBufferSemantics() || op.getNumDpsInits() != 1 ||
      op.getDpsInitOperand(0)->get() != c->c || op.getNumLoops() != 2 ||
      op.getNumReductionLoops() != 0 ||
      !op.getMatchingIndexingMap(op.getDpsInitOperand(0)).isIdentity())
    return false;
  if (!hasPureBody(op))
    return false;
  for (OpOperand *in : op.getDpsInputOperands()) {
    AffineMap m = op.getMatchingIndexingMap(in);
    if (!m.isProjectedPermutation())
      return false;
    // C itself only as the same element; no other view of C's buffer.
    if (in->get() == c->c) {
      if (!m.isIdentity())
        return false;
      continue;
    }
    if (viewRoot(in->get()) == viewRoot(c->c))
      return false;
  }
  return true;
}

bool mlir::seqmix::hasPureBody(linalg::LinalgOp op) {
  for (Operation &o : op.getBlock()->without_terminator())
    if (o.getNumRegions() != 0 || !isPure(&o))
      return false;
  return cast<linalg::YieldOp>(op.getBlock()->getTerminator())
             .getNumOperands() == 1;
}

void mlir::seqmix::buildMmaContraction(ImplicitLocOpBuilder &b,
                                       linalg::LinalgOp op, Type mmaType,
                                       Value tid, Value nthreads, bool emulate,
                                       linalg::LinalgOp epilogue) {
  Contraction c = *matchContraction(op);
  SmallVector<Range> ranges = op.createLoopRanges(b, b.getLoc());
  auto size = [&](unsigned d) {
    return getValueOrCreateConstantIndexOp(b, b.getLoc(), ranges[d].size);
  };
  MmaBuilder mb{b,
                c,
                mmaType,
                size(c.m),
                size(c.n),
                size(c.k),
                arith::ConstantIndexOp::create(b, 0)};
  mb.epilogue = epilogue;
  // As many n-tiles per unit as the columns need, up to kMaxNTiles.
  int64_t nTiles = kMaxNTiles;
  if (std::optional<int64_t> ub = upperBound(mb.sizeN))
    nTiles = std::clamp<int64_t>((*ub + 7) / 8, 1, kMaxNTiles);
  auto multipleOf = [](Value size, int64_t extent) {
    std::optional<int64_t> c = getConstantIntValue(size);
    return c && *c % extent == 0;
  };
  mb.checkM = !multipleOf(mb.sizeM, 16);
  mb.checkN = !multipleOf(mb.sizeN, 8 * nTiles);
  mb.checkK = !multipleOf(mb.sizeK, 16);
  Value warp = arith::DivUIOp::create(b, tid, mb.cst(32));
  Value lane = arith::RemUIOp::create(b, tid, mb.cst(32));
  Value nwarps = arith::DivUIOp::create(b, mb.addc(nthreads, 31), mb.cst(32));
  auto ceilDiv = [&](Value x, int64_t d) {
    return arith::DivUIOp::create(b, mb.addc(x, d - 1), mb.cst(d));
  };
  Value strips = ceilDiv(mb.sizeM, 16);
  Value groups = ceilDiv(mb.sizeN, 8 * nTiles);
  Value units = arith::MulIOp::create(b, strips, groups);
  auto loop = scf::ForOp::create(b, warp, units, nwarps);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(loop.getBody());
  Value u = loop.getInductionVar();
  Value m0 = arith::MulIOp::create(b, arith::DivUIOp::create(b, u, groups),
                                   mb.cst(16));
  Value n0 = arith::MulIOp::create(b, arith::RemUIOp::create(b, u, groups),
                                   mb.cst(8 * nTiles));
  if (emulate)
    mb.emulatedTile(m0, n0, nTiles);
  else
    mb.warpTile(lane, m0, n0, nTiles);
}
