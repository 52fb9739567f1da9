// RUN: seqmix-opt %s --seqmix-expand-memref-copies | FileCheck %s

// CHECK-LABEL: func @copy
// CHECK-NOT: memref.copy
// CHECK: linalg.copy ins(%{{.*}} : memref<?xf32, strided<[2]>>) outs(%{{.*}} : memref<?xf32>)
func.func @copy(%a: memref<?xf32, strided<[2]>>, %b: memref<?xf32>) {
  memref.copy %a, %b : memref<?xf32, strided<[2]>> to memref<?xf32>
  return
}

// An expand_shape with two dynamic sizes in one group (which MLIR 22's
// expand-strided-metadata cannot take) becomes the reinterpret_cast it
// stands for: sizes [2, a, b, 16], row-major strides [a b 16, b 16, 16, 1].
// CHECK-LABEL: func @expand
// CHECK-NOT: memref.expand_shape
// CHECK-SAME: (%[[X:.*]]: memref<?x16xf32>, %[[A:.*]]: index, %[[B:.*]]: index)
// CHECK: %[[BC:.*]] = arith.muli %{{.*}}, %[[B]]
// CHECK: %[[ABC:.*]] = arith.muli %[[BC]], %[[A]]
// CHECK: memref.reinterpret_cast %[[X]] to offset: [0], sizes: [2, %[[A]], %[[B]], 16], strides: [%[[ABC]], %[[BC]], 16, 1]
func.func @expand(%x: memref<?x16xf32>, %a: index, %b: index) -> memref<2x?x?x16xf32> {
  %e = memref.expand_shape %x [[0, 1, 2], [3]] output_shape [2, %a, %b, 16] : memref<?x16xf32> into memref<2x?x?x16xf32>
  return %e : memref<2x?x?x16xf32>
}
