// RUN: seqmix-opt %s -split-input-file --seqmix-lower-forms | FileCheck %s --enable-var-scope

// LTI scan (complex mode, ZOH), recurrent form: the discretization of
// every block of 16 channels once per call (an scf.forall over the 2 blocks
// whose outputs stack the nine [N', 16] planes: G, Bbar, f C and log Abar,
// real and imaginary, and the sign), the complex A, B and C split into f32
// planes first (cos and sin of dt Im(A)); then one scf.forall iteration per
// (batch, block); the token loop carries the state's two planes and their
// two compensation planes; the final state is rebuilt as complex.
// CHECK-LABEL: func @s4d
// CHECK: scf.forall (%{{.*}}) in (2) shared_outs({{.*}}) -> (tensor<2x4x16xf32>, tensor<2x4x16xf32>, tensor<2x4x16xf32>, tensor<2x4x16xf32>, tensor<2x4x16xf32>, tensor<2x4x16xf32>, tensor<2x4x16xf32>, tensor<2x4x16xf32>, tensor<2x4x16xf32>)
// CHECK: complex.re
// CHECK: complex.im
// CHECK: math.cos
// CHECK: math.sin
// CHECK: scf.forall (%{{.*}}, %{{.*}}) in (%{{.*}}, 2)
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c256
// CHECK: linalg.transpose ins(%{{.*}} : tensor<16x256xf32>) outs(%{{.*}} : tensor<256x16xf32>)
// CHECK: scf.for %{{.*}} = %c0{{.*}} to %c256 step %c1{{.*}} -> (tensor<4x16xf32>, tensor<4x16xf32>, tensor<4x16xf32>, tensor<4x16xf32>, tensor<256x16xf32>)
// CHECK: math.fma
// CHECK: complex.create
// CHECK-NOT: seqmix.lti_scan
func.func @s4d(%u: tensor<2x32x?xf32>, %A: tensor<32x4xcomplex<f32>>, %dt: tensor<32xf32>, %D: tensor<32xf32>, %s: tensor<2x32x4xcomplex<f32>>) -> (tensor<2x32x?xf32>, tensor<2x32x4xcomplex<f32>>) {
  %o, %f = seqmix.lti_scan %u, %A, %A, %A, %dt skip(%D) state(%s) {discretization = #seqmix.discretization<zoh>, form = #seqmix.form<recurrent>} : (tensor<2x32x?xf32>, tensor<32x4xcomplex<f32>>, tensor<32x4xcomplex<f32>>, tensor<32x4xcomplex<f32>>, tensor<32xf32>, tensor<32xf32>, tensor<2x32x4xcomplex<f32>>) -> (tensor<2x32x?xf32>, tensor<2x32x4xcomplex<f32>>)
  return %o, %f : tensor<2x32x?xf32>, tensor<2x32x4xcomplex<f32>>
}

// -----

// Chunked form (real mode, bilinear): the powers Abar^j (j <= 32) as
// exp(j log Abar) with the sign's parity, the chunk's kernel K[0..31], then
// per chunk of 32 tokens the state's read-out and the causal convolution
// (one row update per lag).
// CHECK-LABEL: func @chunked
// CHECK: math.log1p
// CHECK: linalg.generic
// CHECK: math.floor
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c32
// CHECK: scf.for
// CHECK: math.fma
func.func @chunked(%u: tensor<1x8x?xf32>, %A: tensor<8x4xf32>, %dt: tensor<8xf32>, %s: tensor<1x8x4xf32>) -> (tensor<1x8x?xf32>, tensor<1x8x4xf32>) {
  %o, %f = seqmix.lti_scan %u, %A, %A, %A, %dt state(%s) {discretization = #seqmix.discretization<bilinear>, form = #seqmix.form<chunked, chunk = 32>} : (tensor<1x8x?xf32>, tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32>, tensor<8xf32>, tensor<1x8x4xf32>) -> (tensor<1x8x?xf32>, tensor<1x8x4xf32>)
  return %o, %f : tensor<1x8x?xf32>, tensor<1x8x4xf32>
}

// -----

// Parallel form: the kernel over 2 ceil(T / 128) x 64 lags from the exact
// powers Abar^(64 j) and Abar^i (a batched product with 2 x 8 accumulators
// of 16 lanes per mode step), then the causal convolution: through the FFT
// from T = 768 on (n = 2^(64 - ctlz(2T - 1)) points; K scaled by a power of
// two per channel, u + i K transformed in four passes over [rows, 2, 16]
// buffers), directly below.
// CHECK-LABEL: func @conv
// CHECK: arith.ceildivui
// CHECK: bufferization.alloc_tensor({{.*}}) : tensor<?x16xf32>
// CHECK: scf.for {{.*}} -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>)
// CHECK: math.fma {{.*}} : vector<16xf32>
// CHECK: scf.if
// CHECK: math.ctlz
// CHECK: arith.bitcast {{.*}} : vector<16xf32> to vector<16xi32>
// CHECK: bufferization.alloc_tensor({{.*}}) : tensor<?x2x16xf32>
// CHECK: vector.transfer_write {{.*}} : vector<16xf32>, tensor<?x2x16xf32>
// CHECK: } else {
// CHECK: scf.for
// CHECK-NOT: seqmix.lti_scan
func.func @conv(%u: tensor<1x16x?xf32>, %A: tensor<16x4xcomplex<f32>>, %dt: tensor<16xf32>) -> tensor<1x16x?xf32> {
  %o = seqmix.lti_scan %u, %A, %A, %A, %dt {discretization = #seqmix.discretization<euler_b>, form = #seqmix.form<parallel>} : (tensor<1x16x?xf32>, tensor<16x4xcomplex<f32>>, tensor<16x4xcomplex<f32>>, tensor<16x4xcomplex<f32>>, tensor<16xf32>) -> tensor<1x16x?xf32>
  return %o : tensor<1x16x?xf32>
}
