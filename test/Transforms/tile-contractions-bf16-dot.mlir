// RUN: seqmix-opt %s --seqmix-tile-contractions="vector-width=16 bf16-dot=true" | FileCheck %s --enable-var-scope
// RUN: seqmix-opt %s --seqmix-tile-contractions="vector-width=16" | FileCheck %s --check-prefix=OFF

// With bf16-dot, a contraction of two widened bf16 tensors (q k^T: k
// transposed; q times a scale) is computed on the bf16 values: B packed in
// pairs along k ([K/2, N, 2]), each static 8 x 32 tile a loop over the pairs
// with one vdpbf16ps (x86vector.avx512.dot) per row and vector of 16 lanes,
// the scale applied once to the tile's sum (init + s * dots). A contraction
// with an operand computed in f32, or an odd reduction, keeps f32 FMAs.

#id = affine_map<(d0, d1) -> (d0, d1)>

// CHECK-LABEL: func @scaled_qk
// CHECK-SAME: %[[Q:.*]]: tensor<16x64xbf16>, %[[K:.*]]: tensor<32x64xbf16>
// CHECK: %[[PACK:.*]] = linalg.generic {{.*}} ins(%[[K]] : tensor<32x64xbf16>) outs(%{{.*}} : tensor<32x32x2xbf16>)
// CHECK: scf.for %{{.*}} step %c8
// CHECK: %[[B:.*]] = tensor.collapse_shape %{{.*}} {{\[}}[0], [1, 2]] : tensor<32x32x2xbf16> into tensor<32x64xbf16>
// CHECK: %[[DOTS:.*]]:16 = scf.for %[[K2:.*]] = %c0 to %c32 step %c1 iter_args
// CHECK: vector.transfer_read %[[B]][%[[K2]], %c0]{{.*}} : tensor<32x64xbf16>, vector<32xbf16>
// CHECK: %[[PAIR:.*]] = vector.transfer_read {{.*}} : tensor<8x64xbf16>, vector<2xbf16>
// CHECK: %[[WORD:.*]] = vector.bitcast %[[PAIR]] : vector<2xbf16> to vector<1xi32>
// CHECK: %[[SPLAT:.*]] = vector.broadcast %[[WORD]] : vector<1xi32> to vector<16xi32>
// CHECK: %[[A:.*]] = vector.bitcast %[[SPLAT]] : vector<16xi32> to vector<32xbf16>
// CHECK: x86vector.avx512.dot %{{.*}}, %[[A]], %{{.*}} : vector<32xbf16> -> vector<16xf32>
// CHECK: vector.fma %[[DOTS]]#0,
// CHECK-NOT: vector.contract
// CHECK: return
// OFF-LABEL: func @scaled_qk
// OFF-NOT: x86vector
// OFF: vector.contract
func.func @scaled_qk(%q: tensor<16x64xbf16>, %k: tensor<32x64xbf16>) -> tensor<16x32xf32> {
  %scale = arith.constant 0.125 : f32
  %zero = arith.constant 0.0 : f32
  %e0 = tensor.empty() : tensor<16x64xf32>
  %qw = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%q : tensor<16x64xbf16>) outs(%e0 : tensor<16x64xf32>) {
  ^bb0(%in: bf16, %out: f32):
    %x = arith.extf %in : bf16 to f32
    %y = arith.mulf %x, %scale : f32
    linalg.yield %y : f32
  } -> tensor<16x64xf32>
  %e1 = tensor.empty() : tensor<32x64xf32>
  %kw = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%k : tensor<32x64xbf16>) outs(%e1 : tensor<32x64xf32>) {
  ^bb0(%in: bf16, %out: f32):
    %x = arith.extf %in : bf16 to f32
    linalg.yield %x : f32
  } -> tensor<32x64xf32>
  %e2 = tensor.empty() : tensor<64x32xf32>
  %kt = linalg.transpose ins(%kw : tensor<32x64xf32>) outs(%e2 : tensor<64x32xf32>) permutation = [1, 0]
  %e3 = tensor.empty() : tensor<16x32xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e3 : tensor<16x32xf32>) -> tensor<16x32xf32>
  %s = linalg.matmul ins(%qw, %kt : tensor<16x64xf32>, tensor<64x32xf32>) outs(%z : tensor<16x32xf32>) -> tensor<16x32xf32>
  return %s : tensor<16x32xf32>
}

// An operand computed in f32 (p = exp(s), not a bf16 value): f32 FMAs.
// CHECK-LABEL: func @computed_operand
// CHECK-NOT: x86vector
// CHECK: vector.contract
func.func @computed_operand(%p: tensor<16x64xf32>, %v: tensor<64x32xbf16>) -> tensor<16x32xf32> {
  %zero = arith.constant 0.0 : f32
  %e1 = tensor.empty() : tensor<64x32xf32>
  %vw = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%v : tensor<64x32xbf16>) outs(%e1 : tensor<64x32xf32>) {
  ^bb0(%in: bf16, %out: f32):
    %x = arith.extf %in : bf16 to f32
    linalg.yield %x : f32
  } -> tensor<64x32xf32>
  %e3 = tensor.empty() : tensor<16x32xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e3 : tensor<16x32xf32>) -> tensor<16x32xf32>
  %o = linalg.matmul ins(%p, %vw : tensor<16x64xf32>, tensor<64x32xf32>) outs(%z : tensor<16x32xf32>) -> tensor<16x32xf32>
  return %o : tensor<16x32xf32>
}

// An odd reduction has no pairs: f32 FMAs.
// CHECK-LABEL: func @odd_reduction
// CHECK-NOT: x86vector
// CHECK: vector.contract
func.func @odd_reduction(%a: tensor<16x5xbf16>, %b: tensor<5x32xbf16>) -> tensor<16x32xf32> {
  %zero = arith.constant 0.0 : f32
  %e0 = tensor.empty() : tensor<16x5xf32>
  %aw = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%a : tensor<16x5xbf16>) outs(%e0 : tensor<16x5xf32>) {
  ^bb0(%in: bf16, %out: f32):
    %x = arith.extf %in : bf16 to f32
    linalg.yield %x : f32
  } -> tensor<16x5xf32>
  %e1 = tensor.empty() : tensor<5x32xf32>
  %bw = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%b : tensor<5x32xbf16>) outs(%e1 : tensor<5x32xf32>) {
  ^bb0(%in: bf16, %out: f32):
    %x = arith.extf %in : bf16 to f32
    linalg.yield %x : f32
  } -> tensor<5x32xf32>
  %e3 = tensor.empty() : tensor<16x32xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e3 : tensor<16x32xf32>) -> tensor<16x32xf32>
  %o = linalg.matmul ins(%aw, %bw : tensor<16x5xf32>, tensor<5x32xf32>) outs(%z : tensor<16x32xf32>) -> tensor<16x32xf32>
  return %o : tensor<16x32xf32>
}
