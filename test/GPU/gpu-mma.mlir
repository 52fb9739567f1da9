// RUN: seqmix-opt %s --seqmix-gpu-distribute --canonicalize | FileCheck %s --enable-var-scope
// RUN: seqmix-opt %s --seqmix-gpu-distribute=tensor-cores=false --canonicalize | FileCheck %s --check-prefix=SIMT
// RUN: seqmix-opt %s --seqmix-gpu-distribute=emulate=true --canonicalize | FileCheck %s --check-prefix=EMU

// The GPU schedule, stage 2: in a bf16 layer, a block's contraction
// C[m, n] += A[m, k] * B[k, n] runs on the warps as mma.sync m16n8k16
// tiles: units of 16 rows x 4 n-tiles (32 columns) go to the warps in turn
// (warp = tid / 32, 4 warps of 128 threads); each lane loads its
// accumulators (rows g and g + 8, columns 2t, 2t + 1 of each n-tile), then
// per 16-deep k step its A fragment (4 registers of two bf16, from the f32
// operand rounded on load) and each n-tile's B fragment (2 registers), and
// issues one mma.sync per n-tile; the sums are stored back. The static
// sizes here (64 x 64, k = 32) need no bounds checks; the dynamic rows of
// @dynamic_rows load zeros past the end and skip their stores. The exp that
// follows on the output in place is applied to each sum before its store
// (an epilogue, like @masked's causal mask). An f32 layer stays SIMT.
#a = affine_map<(m, n, k) -> (m, k)>
#bt = affine_map<(m, n, k) -> (n, k)>
#c = affine_map<(m, n, k) -> (m, n)>
#id = affine_map<(d0, d1) -> (d0, d1)>

// CHECK-LABEL: func @qk
// CHECK: gpu.launch
// CHECK: memref.subview %arg2
// CHECK: %[[WARP:.*]] = arith.divui %[[TX:[a-z0-9]+]], %c32
// CHECK: %[[LANE:.*]] = arith.remui %[[TX]], %c32
// CHECK: scf.for %{{.*}} = %[[WARP]] to %c8 step
// CHECK: %[[G:.*]] = arith.divui %[[LANE]], %c4
// CHECK: memref.load
// CHECK: scf.for %[[K:.*]] = %c0 to %c32 step %c16 iter_args({{.*}}) -> (vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>)
// CHECK: %[[X:.*]] = memref.load %{{.*}} : memref<64x32xf32
// CHECK: arith.truncf %[[X]] : f32 to bf16
// CHECK: vector.bitcast %{{.*}} : vector<2xbf16> to vector<1xi32>
// CHECK: nvvm.mma.sync A[{{.*}}, {{.*}}, {{.*}}, {{.*}}] B[{{.*}}, {{.*}}] C[{{.*}}, {{.*}}, {{.*}}, {{.*}}] {layoutA = #nvvm.mma_layout<row>, layoutB = #nvvm.mma_layout<col>, multiplicandAPtxType = #nvvm.mma_type<bf16>, multiplicandBPtxType = #nvvm.mma_type<bf16>, shape = #nvvm.shape<m = 16, n = 8, k = 16>}
// CHECK-COUNT-3: nvvm.mma.sync
// CHECK-NOT: nvvm.mma.sync
// CHECK: scf.yield
// CHECK: %[[E:.*]] = math.exp
// CHECK: memref.store %[[E]]
// CHECK: gpu.barrier
// CHECK-NOT: linalg.generic
// CHECK: return
// SIMT-LABEL: func @qk
// SIMT-NOT: nvvm.mma.sync
// SIMT: iterator_types = ["parallel", "parallel", "reduction"]
// EMU-LABEL: func @qk
// EMU-NOT: nvvm.mma.sync
// EMU: arith.truncf %{{.*}} : f32 to bf16
// EMU: arith.extf %{{.*}} : bf16 to f32
func.func @qk(%q: memref<?x64x32xbf16>, %k: memref<?x64x32xbf16>, %s: memref<?x64x64xf32>) {
  %c0 = arith.constant 0 : index
  %n = memref.dim %q, %c0 : memref<?x64x32xbf16>
  scf.forall (%b) in (%n) {
    %qw = memref.alloc() : memref<64x32xf32>
    %kw = memref.alloc() : memref<64x32xf32>
    %qs = memref.subview %q[%b, 0, 0] [1, 64, 32] [1, 1, 1] : memref<?x64x32xbf16> to memref<64x32xbf16, strided<[32, 1], offset: ?>>
    %ks = memref.subview %k[%b, 0, 0] [1, 64, 32] [1, 1, 1] : memref<?x64x32xbf16> to memref<64x32xbf16, strided<[32, 1], offset: ?>>
    linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%qs : memref<64x32xbf16, strided<[32, 1], offset: ?>>) outs(%qw : memref<64x32xf32>) {
    ^bb0(%in: bf16, %o: f32):
      %e = arith.extf %in : bf16 to f32
      linalg.yield %e : f32
    }
    linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%ks : memref<64x32xbf16, strided<[32, 1], offset: ?>>) outs(%kw : memref<64x32xf32>) {
    ^bb0(%in: bf16, %o: f32):
      %e = arith.extf %in : bf16 to f32
      linalg.yield %e : f32
    }
    %ss = memref.subview %s[%b, 0, 0] [1, 64, 64] [1, 1, 1] : memref<?x64x64xf32> to memref<64x64xf32, strided<[64, 1], offset: ?>>
    linalg.generic {indexing_maps = [#a, #bt, #c], iterator_types = ["parallel", "parallel", "reduction"]} ins(%qw, %kw : memref<64x32xf32>, memref<64x32xf32>) outs(%ss : memref<64x64xf32, strided<[64, 1], offset: ?>>) {
    ^bb0(%x: f32, %y: f32, %acc: f32):
      %p = arith.mulf %x, %y : f32
      %r = arith.addf %acc, %p : f32
      linalg.yield %r : f32
    }
    linalg.generic {indexing_maps = [#id], iterator_types = ["parallel", "parallel"]} outs(%ss : memref<64x64xf32, strided<[64, 1], offset: ?>>) {
    ^bb0(%o: f32):
      %e = math.exp %o : f32
      linalg.yield %e : f32
    }
    memref.dealloc %qw : memref<64x32xf32>
    memref.dealloc %kw : memref<64x32xf32>
  }
  return
}

// CHECK-LABEL: func @dynamic_rows
// CHECK: scf.for
// CHECK: %[[IN:.*]] = arith.cmpi ult, %{{.*}}, %[[ROWS:.*]] : index
// CHECK: %[[R:.*]] = arith.select %[[IN]], %{{.*}}, %c0 : index
// CHECK: %[[V:.*]] = memref.load %{{.*}}[%[[R]], %{{.*}}]
// CHECK: arith.select %[[IN]], %[[V]], %cst
// CHECK: nvvm.mma.sync
// CHECK: scf.if
// CHECK-NEXT: memref.store
func.func @dynamic_rows(%p: memref<?x?x64xbf16>, %v: memref<?x64x64xbf16>, %o: memref<?x?x64xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %n = memref.dim %p, %c0 : memref<?x?x64xbf16>
  %t = memref.dim %p, %c1 : memref<?x?x64xbf16>
  scf.forall (%b) in (%n) {
    %ps = memref.subview %p[%b, 0, 0] [1, %t, 64] [1, 1, 1] : memref<?x?x64xbf16> to memref<?x64xbf16, strided<[64, 1], offset: ?>>
    %vs = memref.subview %v[%b, 0, 0] [1, 64, 64] [1, 1, 1] : memref<?x64x64xbf16> to memref<64x64xbf16, strided<[64, 1], offset: ?>>
    %os = memref.subview %o[%b, 0, 0] [1, %t, 64] [1, 1, 1] : memref<?x?x64xf32> to memref<?x64xf32, strided<[64, 1], offset: ?>>
    linalg.generic {indexing_maps = [#a, affine_map<(m, n, k) -> (k, n)>, #c], iterator_types = ["parallel", "parallel", "reduction"]} ins(%ps, %vs : memref<?x64xbf16, strided<[64, 1], offset: ?>>, memref<64x64xbf16, strided<[64, 1], offset: ?>>) outs(%os : memref<?x64xf32, strided<[64, 1], offset: ?>>) {
    ^bb0(%x: bf16, %y: bf16, %acc: f32):
      %xf = arith.extf %x : bf16 to f32
      %yf = arith.extf %y : bf16 to f32
      %pr = arith.mulf %xf, %yf : f32
      %r = arith.addf %acc, %pr : f32
      linalg.yield %r : f32
    }
  }
  return
}

// An f32 layer: SIMT.
// CHECK-LABEL: func @f32_layer
// CHECK-NOT: nvvm.mma.sync
// CHECK: return
func.func @f32_layer(%x: memref<?x16x16xf32>, %s: memref<?x16x16xf32>) {
  %c0 = arith.constant 0 : index
  %n = memref.dim %x, %c0 : memref<?x16x16xf32>
  scf.forall (%b) in (%n) {
    %xs = memref.subview %x[%b, 0, 0] [1, 16, 16] [1, 1, 1] : memref<?x16x16xf32> to memref<16x16xf32, strided<[16, 1], offset: ?>>
    %ss = memref.subview %s[%b, 0, 0] [1, 16, 16] [1, 1, 1] : memref<?x16x16xf32> to memref<16x16xf32, strided<[16, 1], offset: ?>>
    linalg.generic {indexing_maps = [#a, #bt, #c], iterator_types = ["parallel", "parallel", "reduction"]} ins(%xs, %xs : memref<16x16xf32, strided<[16, 1], offset: ?>>, memref<16x16xf32, strided<[16, 1], offset: ?>>) outs(%ss : memref<16x16xf32, strided<[16, 1], offset: ?>>) {
    ^bb0(%a0: f32, %b0: f32, %acc: f32):
      %p = arith.mulf %a0, %b0 : f32
      %r = arith.addf %acc, %p : f32
      linalg.yield %r : f32
    }
  }
  return
}

// An elementwise op on the contraction's output in place (the causal mask
// of a diagonal block, with linalg.index) is applied to each sum in
// registers before the store, and leaves no pass of its own.
// CHECK-LABEL: func @masked
// CHECK: scf.for
// CHECK: nvvm.mma.sync
// CHECK: scf.yield
// CHECK: %[[CMP:.*]] = arith.cmpi ule
// CHECK: %[[SEL:.*]] = arith.select %[[CMP]], %{{.*}}, %cst
// CHECK: memref.store %[[SEL]]
// CHECK: gpu.barrier
// CHECK-NOT: linalg.generic
// CHECK: return
// EMU-LABEL: func @masked
// EMU: arith.cmpi ule
// EMU: arith.select
func.func @masked(%x: memref<?x64x32xbf16>, %s: memref<?x64x64xf32>) {
  %c0 = arith.constant 0 : index
  %ninf = arith.constant 0xFF800000 : f32
  %n = memref.dim %x, %c0 : memref<?x64x32xbf16>
  scf.forall (%b) in (%n) {
    %xs = memref.subview %x[%b, 0, 0] [1, 64, 32] [1, 1, 1] : memref<?x64x32xbf16> to memref<64x32xbf16, strided<[32, 1], offset: ?>>
    %ss = memref.subview %s[%b, 0, 0] [1, 64, 64] [1, 1, 1] : memref<?x64x64xf32> to memref<64x64xf32, strided<[64, 1], offset: ?>>
    linalg.generic {indexing_maps = [#a, #bt, #c], iterator_types = ["parallel", "parallel", "reduction"]} ins(%xs, %xs : memref<64x32xbf16, strided<[32, 1], offset: ?>>, memref<64x32xbf16, strided<[32, 1], offset: ?>>) outs(%ss : memref<64x64xf32, strided<[64, 1], offset: ?>>) {
    ^bb0(%a0: bf16, %b0: bf16, %acc: f32):
      %af = arith.extf %a0 : bf16 to f32
      %bf = arith.extf %b0 : bf16 to f32
      %p = arith.mulf %af, %bf : f32
      %r = arith.addf %acc, %p : f32
      linalg.yield %r : f32
    }
    linalg.generic {indexing_maps = [#id], iterator_types = ["parallel", "parallel"]} outs(%ss : memref<64x64xf32, strided<[64, 1], offset: ?>>) {
    ^bb0(%o: f32):
      %i = linalg.index 0 : index
      %j = linalg.index 1 : index
      %keep = arith.cmpi ule, %j, %i : index
      %v = arith.select %keep, %o, %ninf : f32
      linalg.yield %v : f32
    }
  }
  return
}
