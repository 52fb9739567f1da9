//===- Passes.h - seqmix pass declarations ---------------------*- C++ -*-===//
#ifndef SEQMIX_TRANSFORMS_PASSES_H
#define SEQMIX_TRANSFORMS_PASSES_H

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Complex/IR/Complex.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Dialect/X86Vector/X86VectorDialect.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir::seqmix {
#define GEN_PASS_DECL
#include "seqmix/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "seqmix/Transforms/Passes.h.inc"
} // namespace mlir::seqmix

#endif // SEQMIX_TRANSFORMS_PASSES_H
