// RUN: seqmix-opt %s --seqmix-expand-memref-copies | FileCheck %s

// CHECK-LABEL: func @copy
// CHECK-NOT: memref.copy
// CHECK: linalg.copy ins(%{{.*}} : memref<?xf32, strided<[2]>>) outs(%{{.*}} : memref<?xf32>)
func.func @copy(%a: memref<?xf32, strided<[2]>>, %b: memref<?xf32>) {
  memref.copy %a, %b : memref<?xf32, strided<[2]>> to memref<?xf32>
  return
}
