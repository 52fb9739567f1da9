//===- FFTConvolution.h - long causal convolutions by FFT -------*- C++ -*-===//
//
// The causal convolution y = K * u of a block of channels through the
// lowering's own FFT (the LTI scan's parallel form for long sequences).
//
//===----------------------------------------------------------------------===//
#ifndef SEQMIX_LIB_CONVERSION_FFTCONVOLUTION_H
#define SEQMIX_LIB_CONVERSION_FFTCONVOLUTION_H

#include "SliceKernelBuilder.h"

namespace mlir::seqmix {

/// y[t] = sum_{l <= t} K[l] u[t - l] for t < seqLen, over Dc channels at
/// once: `u` is [T, Dc], `K` has at least T rows of Dc, the result is
/// [T, Dc] (f32 tensors). Zero-padded to n = 2^ceil(log2 2T) points (no
/// wrap-around); u and K travel as the real and imaginary parts of one
/// complex sequence (K scaled per channel by a power of two to u's norm),
/// transformed in four passes (n = n1 n2) by radix-4 Stockham FFTs whose
/// butterflies work on vectors of the Dc channels; the spectra are split,
/// multiplied and transformed back. Needs T >= 2.
Value fftCausalConvolution(SliceKernelBuilder &kb, Value K, Value u,
                           Value seqLen, int64_t Dc);

} // namespace mlir::seqmix

#endif // SEQMIX_LIB_CONVERSION_FFTCONVOLUTION_H
