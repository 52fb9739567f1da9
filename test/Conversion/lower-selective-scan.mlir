// RUN: seqmix-opt %s -split-input-file --seqmix-lower-forms | FileCheck %s --enable-var-scope
// RUN: seqmix-opt %s -split-input-file --seqmix-lower-forms=avx512=1 | FileCheck %s --check-prefix=AVX

// Selective scan, recurrent form: B and C transposed into token rows once;
// one scf.forall iteration per (batch, block of 16 channels); the block's
// state stays transposed, [N, 16], across the sequence; each block of 256
// tokens (full blocks static) takes softplus of delta_raw + bias over its
// rows (F32Math: exp and log1p as polynomials, the exponent built in the
// bits), transposes delta and delta u into token rows, and runs the token
// loop as vector code: the state's rows 4 at a time (here all 4) through
// the block, their state and the next token's decays exp(delta A) carried
// as vectors, h = dA h + B (delta u), the read-out C . h into the token's
// row; the skip and the z gate follow over the block's rows (silu without
// a division).
// CHECK-LABEL: func @mamba
// CHECK: linalg.transpose ins(%{{.*}} : tensor<2x1x4x?xf32>) outs(%{{.*}} : tensor<2x1x?x4xf32>) permutation = [0, 1, 3, 2]
// CHECK: scf.forall (%{{.*}}, %{{.*}}) in (%{{.*}}, 2)
// CHECK: linalg.transpose ins(%{{.*}} : tensor<16x4xf32>) outs(%{{.*}} : tensor<4x16xf32>)
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c256
// CHECK: scf.if
// CHECK: math.absf
// CHECK: arith.bitcast {{.*}} : f32 to i32
// CHECK: linalg.transpose ins(%{{.*}} : tensor<16x256xf32>) outs(%{{.*}} : tensor<256x16xf32>)
// CHECK: scf.for %{{.*}} = %c0{{.*}} to %c4 step %c4{{.*}} -> (tensor<256x16xf32>, tensor<4x16xf32>)
// CHECK: scf.for %{{.*}} = %c0{{.*}} to %c256 step %c1{{.*}} -> (tensor<256x16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>)
// CHECK-NOT: x86vector
// CHECK: math.fma {{.*}} : vector<16xf32>
// CHECK: arith.bitcast {{.*}} : vector<16xf32> to vector<16xi32>
// CHECK: vector.transfer_write
// CHECK: linalg.transpose ins(%{{.*}} : tensor<256x16xf32>) outs(%{{.*}} : tensor<16x256xf32>)
// CHECK-NOT: arith.divf
// CHECK: } else {
// CHECK-NOT: seqmix.selective_scan
//
// For a CPU with AVX-512F the decays are 2^(delta A log2(e)): the rows of A
// are scaled by log2(e) once, and each decay rounds, takes the polynomial
// of the fraction and scales by 2^n with vscalefps.
// AVX-LABEL: func @mamba
// AVX: scf.for %{{.*}} = %c0{{.*}} to %c4 step %c4
// AVX: arith.mulf {{.*}} : vector<16xf32>
// AVX: scf.for %{{.*}} = %c0{{.*}} to %c256 step %c1
// AVX: math.roundeven {{.*}} : vector<16xf32>
// AVX: x86vector.avx512.mask.scalef {{.*}} : vector<16xf32>
// AVX-NOT: arith.bitcast {{.*}} : vector<16xf32> to vector<16xi32>
// AVX: vector.transfer_write
func.func @mamba(%u: tensor<2x32x?xf32>, %A: tensor<32x4xf32>, %B: tensor<2x1x4x?xf32>, %D: tensor<32xf32>, %s: tensor<2x32x4xf32>) -> (tensor<2x32x?xf32>, tensor<2x32x4xf32>) {
  %o, %f = seqmix.selective_scan %u, %u, %A, %B, %B skip(%D) gate(%u) delta_bias(%D) state(%s) {form = #seqmix.form<recurrent>} : (tensor<2x32x?xf32>, tensor<2x32x?xf32>, tensor<32x4xf32>, tensor<2x1x4x?xf32>, tensor<2x1x4x?xf32>, tensor<32xf32>, tensor<2x32x?xf32>, tensor<32xf32>, tensor<2x32x4xf32>) -> (tensor<2x32x?xf32>, tensor<2x32x4xf32>)
  return %o, %f : tensor<2x32x?xf32>, tensor<2x32x4xf32>
}


// -----

// Chunked form: blocks of the chunk's 32 tokens; the vector token loop
// starts h~ from zero and also carries g = exp(Lambda) h_start, Lambda the
// chunk's cumulative log decay, as the product of the same decays (4 more
// vectors, flushed below 2^-100); the read-out sees h~ + g, and the state
// after the chunk is h~ + g.
// CHECK-LABEL: func @chunked
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c32
// CHECK: scf.for %{{.*}} = %c0{{.*}} to %c4 step %c4{{.*}} -> (tensor<32x16xf32>, tensor<4x16xf32>)
// CHECK: scf.for %{{.*}} = %c0{{.*}} to %c32 step %c1{{.*}} -> (tensor<32x16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>)
// CHECK: math.fma {{.*}} : vector<16xf32>
// CHECK: math.absf {{.*}} : vector<16xf32>
// CHECK: arith.addf {{.*}} : vector<16xf32>
func.func @chunked(%u: tensor<1x16x?xf32>, %A: tensor<16x4xf32>, %B: tensor<1x1x4x?xf32>, %s: tensor<1x16x4xf32>) -> (tensor<1x16x?xf32>, tensor<1x16x4xf32>) {
  %o, %f = seqmix.selective_scan %u, %u, %A, %B, %B state(%s) {form = #seqmix.form<chunked, chunk = 32>} : (tensor<1x16x?xf32>, tensor<1x16x?xf32>, tensor<16x4xf32>, tensor<1x1x4x?xf32>, tensor<1x1x4x?xf32>, tensor<1x16x4xf32>) -> (tensor<1x16x?xf32>, tensor<1x16x4xf32>)
  return %o, %f : tensor<1x16x?xf32>, tensor<1x16x4xf32>
}
