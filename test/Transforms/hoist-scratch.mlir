// RUN: seqmix-opt %s --seqmix-hoist-scratch --split-input-file | FileCheck --enable-var-scope %s
// RUN: seqmix-opt %s --seqmix-hoist-scratch=stack-bytes=1024 --split-input-file | FileCheck --enable-var-scope %s --check-prefix=SMALL

// A block buffer of min(T - c0, 64) x 128 floats in a chunk loop of serial
// code: one 64 x 128 stack buffer at the function's entry, viewed with the
// block's sizes; the dealloc goes.
// CHECK-LABEL: func @chunk_scratch
// CHECK-NEXT: %[[BUF:.*]] = memref.alloca() {alignment = 64 : i64} : memref<8192xf32>
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %{{.*}} {
// CHECK: %[[LEN:.*]] = arith.minsi
// CHECK: %[[VIEW:.*]] = memref.reinterpret_cast %[[BUF]] to offset: [0], sizes: [%[[LEN]], 128], strides: [128, 1] : memref<8192xf32> to memref<?x128xf32>
// CHECK: linalg.fill {{.*}} outs(%[[VIEW]] : memref<?x128xf32>)
// CHECK-NOT: memref.alloc(
// CHECK-NOT: memref.dealloc
// SMALL-LABEL: func @chunk_scratch
// SMALL-NOT: memref.alloca
// SMALL: memref.alloc(
func.func @chunk_scratch(%t: index, %out: memref<4x?x128xf32>) {
  %c0 = arith.constant 0 : index
  %c64 = arith.constant 64 : index
  %f = arith.constant 1.0 : f32
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  scf.for %h = %c0 to %c4 step %c1 {
    scf.for %c = %c0 to %t step %c64 {
      %rest = arith.subi %t, %c : index
      %len = arith.minsi %rest, %c64 : index
      %buf = memref.alloc(%len) {alignment = 64 : i64} : memref<?x128xf32>
      linalg.fill ins(%f : f32) outs(%buf : memref<?x128xf32>)
      %dst = memref.subview %out[%h, %c, 0] [1, %len, 128] [1, 1, 1] : memref<4x?x128xf32> to memref<?x128xf32, strided<[128, 1], offset: ?>>
      memref.copy %buf, %dst : memref<?x128xf32> to memref<?x128xf32, strided<[128, 1], offset: ?>>
      memref.dealloc %buf : memref<?x128xf32>
    }
  }
  return
}

// -----

// Two dynamic sizes: strides follow the dynamic row length. In an OpenMP
// parallel region the buffer goes to the region's entry, once per thread.
// CHECK-LABEL: func @square
// CHECK: omp.parallel {
// CHECK-NEXT: memref.alloca() : memref<4096xf32>
// CHECK: omp.wsloop
// CHECK: memref.reinterpret_cast %{{.*}} to offset: [0], sizes: [%[[L:.*]], %[[L]]], strides: [%[[L]], 1] : memref<4096xf32> to memref<?x?xf32>
func.func @square(%t: index, %out: memref<?xf32>) {
  %c0 = arith.constant 0 : index
  %c64 = arith.constant 64 : index
  %f = arith.constant 1.0 : f32
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  omp.parallel {
    omp.wsloop {
      omp.loop_nest (%h) : index = (%c0) to (%c2) step (%c1) {
        scf.for %c = %c0 to %t step %c64 {
          %rest = arith.subi %t, %c : index
          %len = arith.minsi %rest, %c64 : index
          %buf = memref.alloc(%len, %len) : memref<?x?xf32>
          linalg.fill ins(%f : f32) outs(%buf : memref<?x?xf32>)
          %v = memref.load %buf[%c0, %c0] : memref<?x?xf32>
          memref.store %v, %out[%c] : memref<?xf32>
          memref.dealloc %buf : memref<?x?xf32>
        }
        omp.yield
      }
    }
    omp.terminator
  }
  return
}

// -----

// negative: an unbounded size, and a buffer outside any loop, stay on the
// heap.
// CHECK-LABEL: func @negative_unbounded
// CHECK-NOT: memref.alloca
// CHECK: memref.alloc(%{{.*}}) : memref<?xf32>
// CHECK: memref.alloc(%{{.*}}) : memref<?xf32>
func.func @negative_unbounded(%t: index, %out: memref<?xf32>) {
  %c0 = arith.constant 0 : index
  %f = arith.constant 1.0 : f32
  %outer = memref.alloc(%t) : memref<?xf32>
  linalg.fill ins(%f : f32) outs(%outer : memref<?xf32>)
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  scf.for %h = %c0 to %c2 step %c1 {
    %buf = memref.alloc(%t) : memref<?xf32>
    linalg.fill ins(%f : f32) outs(%buf : memref<?xf32>)
    memref.copy %buf, %out : memref<?xf32> to memref<?xf32>
    memref.dealloc %buf : memref<?xf32>
  }
  memref.dealloc %outer : memref<?xf32>
  return
}

// -----

// negative: a buffer yielded to the next iteration keeps its own memory.
// CHECK-LABEL: func @negative_yielded
// CHECK-NOT: memref.alloca(
// CHECK: memref.alloc() : memref<16xf32>
func.func @negative_yielded(%n: index, %init: memref<16xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %r = scf.for %i = %c0 to %n step %c1 iter_args(%acc = %init) -> (memref<16xf32>) {
    %buf = memref.alloc() : memref<16xf32>
    memref.copy %acc, %buf : memref<16xf32> to memref<16xf32>
    scf.yield %buf : memref<16xf32>
  }
  return
}

// -----

// negative: a buffer that leaves a branch through a view (the static block of
// a full chunk cast to the dynamic type of a partial one) keeps its own
// memory, and so does one freed through a view: on the stack, the free that
// ownership-based deallocation places after the branch would free the stack.
// CHECK-LABEL: func @negative_yielded_view
// CHECK-NOT: memref.alloca(
// CHECK: memref.alloc() : memref<16xf32>
// CHECK: memref.alloc() : memref<8xf32>
func.func @negative_yielded_view(%n: index, %c: i1, %other: memref<?xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %f = arith.constant 1.0 : f32
  scf.for %i = %c0 to %n step %c1 {
    %r = scf.if %c -> (memref<?xf32>) {
      %buf = memref.alloc() : memref<16xf32>
      linalg.fill ins(%f : f32) outs(%buf : memref<16xf32>)
      %dyn = memref.cast %buf : memref<16xf32> to memref<?xf32>
      scf.yield %dyn : memref<?xf32>
    } else {
      scf.yield %other : memref<?xf32>
    }
    %buf2 = memref.alloc() : memref<8xf32>
    %sub = memref.subview %buf2[0] [4] [1] : memref<8xf32> to memref<4xf32, strided<[1]>>
    memref.dealloc %sub : memref<4xf32, strided<[1]>>
  }
  return
}
