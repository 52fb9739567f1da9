// RUN: seqmix-opt %s --seqmix-cpu-pipeline="form=recurrent" | FileCheck %s --check-prefix=LLVM
// RUN: seqmix-opt %s --seqmix-cpu-pipeline="form=parallel" | FileCheck %s --check-prefix=LLVM
// RUN: seqmix-opt %s --seqmix-to-select-forms | FileCheck %s --check-prefix=SELECT
// RUN: seqmix-opt %s --seqmix-to-lower-forms="form=recurrent" | FileCheck %s --check-prefix=LOWER
// RUN: seqmix-opt %s --seqmix-to-bufferize="form=parallel" | FileCheck %s --check-prefix=BUF

// SELECT: seqmix.gated_linear_attention {{.*}}form = #seqmix.form<
// LOWER-NOT: seqmix.gated_linear_attention
// LOWER: scf.forall
// BUF-LABEL: func.func @layer
// BUF-SAME: memref<?x2x?x4xf32>
// BUF-NOT: tensor<
// BUF: scf.forall

// LLVM-NOT: seqmix.
// LLVM-NOT: linalg.
// LLVM-NOT: scf.
// The implementation is internal and renamed; only the C interface keeps
// the layer's name (seqmix-hide-entry, seqmix-export-entry).
// LLVM-DAG: llvm.func internal @seqmix.layer.layer(
// LLVM-DAG: llvm.func @_mlir_ciface_layer(
// LLVM-DAG: llvm.func @_mlir_memref_to_llvm_alloc
func.func @layer(%q: tensor<?x2x?x8xf32>, %v: tensor<?x2x?x4xf32>, %g: tensor<?x2x?xf32>) -> tensor<?x2x?x4xf32>
    attributes {llvm.emit_c_interface} {
  %o = seqmix.gated_linear_attention %q, %q, %v gates(%g) {gate = #seqmix.gate<scalar>, scale = 0.5 : f32}
      : (tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?xf32>) -> tensor<?x2x?x4xf32>
  return %o : tensor<?x2x?x4xf32>
}
