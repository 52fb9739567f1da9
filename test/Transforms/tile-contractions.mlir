// RUN: seqmix-opt %s --seqmix-tile-contractions=vector-width=16 | FileCheck %s --enable-var-scope
// RUN: seqmix-opt %s --seqmix-tile-contractions=vector-width=8 | FileCheck %s --check-prefix=AVX2
// RUN: not seqmix-opt %s --seqmix-tile-contractions=vector-width=3 2>&1 | FileCheck %s --check-prefix=BADWIDTH

// Every matmul-shaped linalg op (named or generic, any operand layout) gets
// 8 x 32 register tiles with 16 lanes (6 x 16 with 8): static tiles step the
// reduction by one into a vector.contract whose accumulator is a loop-carried
// vector; the partial tile of a dynamic dimension stays a linalg op.

// CHECK-LABEL: func @static_mm
// CHECK: scf.for %{{.*}} = %c0 to %c16 step %c8
// CHECK: scf.for %{{.*}} = %c0 to %c64 step %c32
// CHECK: %[[ACC0:.*]] = vector.transfer_read {{.*}} : tensor<8x32xf32>, vector<8x32xf32>
// CHECK: %[[K:.*]] = scf.for %{{.*}} = %c0 to %c64 step %c1 iter_args(%[[ACC:.*]] = %[[ACC0]]) -> (vector<8x32xf32>)
// CHECK: vector.contract {{.*}} %[[ACC]] : vector<8x1xf32>, vector<1x32xf32> into vector<8x32xf32>
// CHECK: vector.transfer_write %[[K]],
// CHECK-NOT: linalg.matmul
// CHECK: return
// AVX2-LABEL: func @static_mm
// AVX2: scf.for %{{.*}} step %c6
// AVX2: scf.for %{{.*}} step %c16
// AVX2: vector.contract {{.*}} : vector<6x1xf32>, vector<1x16xf32> into vector<6x16xf32>
// BADWIDTH: seqmix-tile-contractions: vector-width must be a power of two from 1 to 64 f32 lanes, got 3
func.func @static_mm(%a: tensor<16x64xf32>, %b: tensor<64x64xf32>) -> tensor<16x64xf32> {
  %c0 = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<16x64xf32>
  %z = linalg.fill ins(%c0 : f32) outs(%e : tensor<16x64xf32>) -> tensor<16x64xf32>
  %r = linalg.matmul ins(%a, %b : tensor<16x64xf32>, tensor<64x64xf32>) outs(%z : tensor<16x64xf32>) -> tensor<16x64xf32>
  return %r : tensor<16x64xf32>
}

// A dynamic row count: the loop is peeled into full 8-row tiles (vectorized)
// and one partial tile of full width, cut into single rows that are
// vectorized too (1 x 32 tiles); no scalar matmul is left.
// CHECK-LABEL: func @dynamic_m
// CHECK: %[[DIM:.*]] = tensor.dim
// CHECK: %[[SPLIT:.*]] = affine.apply {{.*}}()[%[[DIM]]]
// CHECK: scf.for %{{.*}} = %c0 to %[[SPLIT]] step %c8
// CHECK: vector.contract {{.*}} into vector<8x32xf32>
// CHECK: scf.for %{{.*}} = %[[SPLIT]] to %[[DIM]] step %c8
// CHECK: scf.for %{{.*}} = %c0 to %{{.*}} step %c1
// CHECK: vector.contract {{.*}} into vector<1x32xf32>
// CHECK-NOT: linalg.matmul
// CHECK: return
func.func @dynamic_m(%a: tensor<?x64xf32>, %b: tensor<64x64xf32>, %c: tensor<?x64xf32>) -> tensor<?x64xf32> {
  %r = linalg.matmul ins(%a, %b : tensor<?x64xf32>, tensor<64x64xf32>) outs(%c : tensor<?x64xf32>) -> tensor<?x64xf32>
  return %r : tensor<?x64xf32>
}

// A generic reading A transposed (the state update K^T V) with a dynamic
// reduction: the same register tile, the reduction loop over ? steps.
#ka = affine_map<(m, n, k) -> (k, m)>
#kb = affine_map<(m, n, k) -> (k, n)>
#kc = affine_map<(m, n, k) -> (m, n)>
// CHECK-LABEL: func @transposed_a
// CHECK: %[[R:.*]] = tensor.dim
// CHECK: scf.for %{{.*}} = %c0 to %[[R]] step %c1 iter_args({{.*}}) -> (vector<8x32xf32>)
// CHECK: vector.contract {{.*}} : vector<1x8xf32>, vector<1x32xf32> into vector<8x32xf32>
// CHECK-NOT: linalg.generic
// CHECK: return
func.func @transposed_a(%a: tensor<?x16xf32>, %b: tensor<?x32xf32>, %c: tensor<16x32xf32>) -> tensor<16x32xf32> {
  %r = linalg.generic {indexing_maps = [#ka, #kb, #kc], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b : tensor<?x16xf32>, tensor<?x32xf32>) outs(%c : tensor<16x32xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<16x32xf32>
  return %r : tensor<16x32xf32>
}

// Not a contraction: left alone (seqmix-vectorize-rows takes it after
// bufferization).
#id = affine_map<(i, j) -> (i, j)>
// CHECK-LABEL: func @elementwise
// CHECK-NOT: scf.for
// CHECK: linalg.generic
func.func @elementwise(%a: tensor<16x32xf32>) -> tensor<16x32xf32> {
  %r = linalg.generic {indexing_maps = [#id], iterator_types = ["parallel", "parallel"]} outs(%a : tensor<16x32xf32>) {
  ^bb0(%x: f32):
    %y = arith.mulf %x, %x : f32
    linalg.yield %y : f32
  } -> tensor<16x32xf32>
  return %r : tensor<16x32xf32>
}

// A large contraction (here dynamic rows and reduction, a parallel form's
// T x T scores times T x V values) is first cut into cache blocks of 256
// rows and 256 reduction steps, the register tiles inside.
// CHECK-LABEL: func @cache_blocks
// CHECK: scf.for %[[M0:.*]] = %c0 to %{{.*}} step %c256
// CHECK: scf.for %[[K0:.*]] = %c0 to %{{.*}} step %c256
// CHECK: scf.for %{{.*}} step %c8
// CHECK: scf.for %{{.*}} step %c32
// CHECK: vector.contract
func.func @cache_blocks(%p: tensor<?x?xf32>, %v: tensor<?x64xf32>, %o: tensor<?x64xf32>) -> tensor<?x64xf32> {
  %r = linalg.matmul ins(%p, %v : tensor<?x?xf32>, tensor<?x64xf32>) outs(%o : tensor<?x64xf32>) -> tensor<?x64xf32>
  return %r : tensor<?x64xf32>
}

// The decay of a state before a chunk's update is added (an elementwise op
// that scales the accumulator in place and has no other use) is fused into
// the register tile: each 8 x 32 accumulator is read, scaled in registers
// and carried through the reduction, with no pass of its own over the state.
// CHECK-LABEL: func @scaled_init
// CHECK-SAME: %[[S:[^:]*]]: tensor<16x64xf32>
// CHECK: scf.for {{.*}} iter_args(%{{.*}} = %[[S]])
// CHECK: scf.for
// CHECK: %[[A:.*]] = vector.transfer_read
// CHECK: %[[D:.*]] = vector.broadcast %{{.*}} : f32 to vector<8x32xf32>
// CHECK: %[[A2:.*]] = arith.mulf %[[A]], %[[D]] : vector<8x32xf32>
// CHECK: scf.for {{.*}} iter_args(%{{.*}} = %[[A2]]) -> (vector<8x32xf32>)
// CHECK: vector.contract
// CHECK-NOT: linalg.generic
// CHECK: return
// AVX2-LABEL: func @scaled_init
// AVX2: arith.mulf {{.*}} : vector<6x16xf32>
// AVX2: arith.mulf {{.*}} : vector<4x16xf32>
// AVX2-NOT: linalg.generic
// AVX2: return
func.func @scaled_init(%k: tensor<32x16xf32>, %v: tensor<32x64xf32>, %s: tensor<16x64xf32>, %d: f32) -> tensor<16x64xf32> {
  %decayed = linalg.generic {indexing_maps = [#id], iterator_types = ["parallel", "parallel"]} outs(%s : tensor<16x64xf32>) {
  ^bb0(%x: f32):
    %y = arith.mulf %x, %d : f32
    linalg.yield %y : f32
  } -> tensor<16x64xf32>
  %r = linalg.generic {indexing_maps = [#ka, #kb, #kc], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%k, %v : tensor<32x16xf32>, tensor<32x64xf32>) outs(%decayed : tensor<16x64xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %t = arith.addf %acc, %p : f32
    linalg.yield %t : f32
  } -> tensor<16x64xf32>
  return %r : tensor<16x64xf32>
}

// A per-row decay (the key-vector gate's exp(b_C) over the state's rows) is
// an init the tile fuses as well: each tile reads its 8 rows of the decay,
// broadcasts them along the 32 columns and scales the accumulator.
// CHECK-LABEL: func @row_scaled_init
// CHECK: scf.for
// CHECK: scf.for
// CHECK: vector.transfer_read %{{.*}} : tensor<8xf32>, vector<8xf32>
// CHECK: vector.broadcast %{{.*}} : vector<8xf32> to vector<32x8xf32>
// CHECK: %[[D:.*]] = vector.transpose %{{.*}}, [1, 0] : vector<32x8xf32> to vector<8x32xf32>
// CHECK: %[[A:.*]] = vector.transfer_read %{{.*}} : tensor<8x32xf32>, vector<8x32xf32>
// CHECK: %[[A2:.*]] = arith.mulf %[[D]], %[[A]] : vector<8x32xf32>
// CHECK: scf.for {{.*}} iter_args(%{{.*}} = %[[A2]]) -> (vector<8x32xf32>)
// CHECK: vector.contract
// CHECK-NOT: linalg.generic
// CHECK: return
func.func @row_scaled_init(%k: tensor<32x16xf32>, %v: tensor<32x64xf32>, %s: tensor<16x64xf32>, %d: tensor<16xf32>) -> tensor<16x64xf32> {
  %decayed = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i)>, #id], iterator_types = ["parallel", "parallel"]} ins(%d : tensor<16xf32>) outs(%s : tensor<16x64xf32>) {
  ^bb0(%w: f32, %x: f32):
    %y = arith.mulf %w, %x : f32
    linalg.yield %y : f32
  } -> tensor<16x64xf32>
  %r = linalg.generic {indexing_maps = [#ka, #kb, #kc], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%k, %v : tensor<32x16xf32>, tensor<32x64xf32>) outs(%decayed : tensor<16x64xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %t = arith.addf %acc, %p : f32
    linalg.yield %t : f32
  } -> tensor<16x64xf32>
  return %r : tensor<16x64xf32>
}

// A contraction or transpose with an empty loop (a block that folded to zero
// rows) computes nothing and is left as it is.
// CHECK-LABEL: func @empty
// CHECK: linalg.transpose
// CHECK: linalg.matmul
// CHECK-NOT: scf.for
// CHECK: return
func.func @empty(%a: tensor<1x0xf32>, %b: tensor<0x128xf32>, %c: tensor<1x128xf32>) -> (tensor<128x0xf32>, tensor<1x128xf32>) {
  %e = tensor.empty() : tensor<128x0xf32>
  %t = linalg.transpose ins(%b : tensor<0x128xf32>) outs(%e : tensor<128x0xf32>) permutation = [1, 0]
  %r = linalg.matmul ins(%a, %b : tensor<1x0xf32>, tensor<0x128xf32>) outs(%c : tensor<1x128xf32>) -> tensor<1x128xf32>
  return %t, %r : tensor<128x0xf32>, tensor<1x128xf32>
}
