// RUN: seqmix-opt %s --seqmix-prefetch-blocks | FileCheck %s --enable-var-scope

// A block loop over a sequence (step 32, the view's rows at offset t): the
// next block's q rows (32 x 128 f32, 8 lines a row) are prefetched into the
// second-level cache, 2 rows per iteration of the host loop (the loop nest
// with the most work, 16 iterations), and only when the next block is full.
// CHECK-LABEL: func @stream
// CHECK-SAME: (%[[Q:[^:]*]]: memref<4x?x128xf32>
// CHECK: scf.for %[[T:.*]] = %c0 to %[[N:.*]] step %c32
// CHECK: scf.for {{.*}} to %c32 step %c1
// CHECK-NOT: memref.prefetch
// CHECK: %[[NEXT:.*]] = arith.addi %[[T]], %c32
// CHECK: %[[END:.*]] = arith.addi %[[NEXT]], %c32
// CHECK: %[[FULL:.*]] = arith.cmpi ule, %[[END]], %[[N]]
// CHECK: scf.for %[[I:.*]] = %c0 to %c128 step %c8
// CHECK: scf.if %[[FULL]]
// CHECK: %[[V:.*]] = memref.subview %[[Q]][%{{.*}}, %[[NEXT]], 0] [1, 32, 128] [1, 1, 1]
// CHECK: scf.for %[[R:.*]] =
// CHECK-COUNT-8: memref.prefetch %[[V]][%[[R]], %{{.*}}], read, locality<2>, data
// CHECK-NOT: memref.prefetch
// CHECK: return
func.func @stream(%q: memref<4x?x128xf32>, %s: memref<128x128xf32>, %h: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %c32 = arith.constant 32 : index
  %c128 = arith.constant 128 : index
  %cst = arith.constant 1.0 : f32
  %n = memref.dim %q, %c1 : memref<4x?x128xf32>
  scf.for %t = %c0 to %n step %c32 {
    %v = memref.subview %q[%h, %t, 0] [1, 32, 128] [1, 1, 1] : memref<4x?x128xf32> to memref<32x128xf32, strided<[128, 1], offset: ?>>
    // A small loop: not the host.
    scf.for %i = %c0 to %c32 step %c1 {
      memref.store %cst, %v[%i, %c0] : memref<32x128xf32, strided<[128, 1], offset: ?>>
    }
    // The host: 16 x 128 x 32 iterations.
    scf.for %i = %c0 to %c128 step %c8 {
      scf.for %j = %c0 to %c128 step %c1 {
        scf.for %k = %c0 to %c32 step %c1 {
          %x = memref.load %v[%k, %j] : memref<32x128xf32, strided<[128, 1], offset: ?>>
          memref.store %x, %s[%i, %j] : memref<128x128xf32>
        }
      }
    }
  }
  return
}

// Left alone: a register tile's 8 elements of one token's vector (under
// 4 KiB), a view whose size along the loop is not its step, and a view of a
// local buffer.
// CHECK-LABEL: func @not_streams
// CHECK-NOT: memref.prefetch
// CHECK: return
func.func @not_streams(%k: memref<128xf32>, %q: memref<?x128xf32>, %s: memref<128x128xf32>) {
  %c0 = arith.constant 0 : index
  %c8 = arith.constant 8 : index
  %c16 = arith.constant 16 : index
  %c32 = arith.constant 32 : index
  %c128 = arith.constant 128 : index
  %n = memref.dim %q, %c0 : memref<?x128xf32>
  %local = memref.alloca() : memref<256x128xf32>
  scf.for %t = %c0 to %c128 step %c8 {
    %v = memref.subview %k[%t] [8] [1] : memref<128xf32> to memref<8xf32, strided<[1], offset: ?>>
    %w = memref.subview %q[%t, 0] [16, 128] [1, 1] : memref<?x128xf32> to memref<16x128xf32, strided<[128, 1], offset: ?>>
    %l = memref.subview %local[%t, 0] [8, 128] [1, 1] : memref<256x128xf32> to memref<8x128xf32, strided<[128, 1], offset: ?>>
    scf.for %i = %c0 to %c128 step %c16 {
      %x = memref.load %v[%c0] : memref<8xf32, strided<[1], offset: ?>>
      %y = memref.load %w[%c0, %i] : memref<16x128xf32, strided<[128, 1], offset: ?>>
      %z = memref.load %l[%c0, %i] : memref<8x128xf32, strided<[128, 1], offset: ?>>
      %a = arith.addf %x, %y : f32
      %b = arith.addf %a, %z : f32
      memref.store %b, %s[%i, %t] : memref<128x128xf32>
    }
  }
  return
}
