// RUN: seqmix-opt %s --seqmix-gpu-distribute --canonicalize | FileCheck %s --enable-var-scope
// RUN: seqmix-opt %s --seqmix-gpu-distribute=async-copies=false --canonicalize | FileCheck %s --check-prefix=OFF
// RUN: seqmix-opt %s --seqmix-gpu-distribute=emulate=true --canonicalize | FileCheck %s --check-prefix=EMU

// Stage 2's copies: a bf16 layer's loop over key blocks widens a 64 x 32
// block of K from global memory each iteration. The block gets two slots of
// a bf16 staging buffer in shared memory: before the loop the threads copy
// the first block into slot 0 with cp.async (16 bytes, 8 elements, a piece;
// a row past the sequence's end reads 0 elements and is zero-filled) and
// commit; each iteration copies the next block into the other slot, commits,
// waits until one group is pending, and after a barrier the widening reads
// the current slot. The emulation copies synchronously.
#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>

// CHECK-LABEL: func @blocks
// CHECK: gpu.launch
// CHECK: %[[SMEM:.*]] = gpu.dynamic_shared_memory
// CHECK: %[[STAGE:.*]] = memref.view %[[SMEM]]{{.*}} to memref<2x64x32xbf16, #gpu.address_space<workgroup>>
// CHECK: scf.if
// CHECK: scf.for %[[P:.*]] = %[[TX:[a-z0-9]+]] to %c256 step
// CHECK: %[[R:.*]] = arith.divui %[[P]], %c4
// CHECK: nvgpu.device_async_copy %{{.*}}[%{{.*}}, %{{.*}}], %[[STAGE]][%c0, %[[R]], %{{.*}}], 8, %{{.*}} {bypassL1}
// CHECK: nvgpu.device_async_create_group
// CHECK: scf.for %[[IV:.*]] = %c0 to %{{.*}} step %c64 {
// CHECK: scf.if
// CHECK: nvgpu.device_async_copy {{.*}} {bypassL1}
// CHECK: %[[TOKEN:.*]] = nvgpu.device_async_create_group
// CHECK: nvgpu.device_async_wait %[[TOKEN]] {numGroups = 1 : i32}
// CHECK: gpu.barrier
// CHECK: linalg.generic {{.*}} ins(%{{.*}} : memref<1x1xbf16, strided<[32, 1], offset: ?>>) {{.*}} attrs = {seqmix.widen}
// OFF-LABEL: func @blocks
// OFF-NOT: nvgpu.
// OFF: return
// EMU-LABEL: func @blocks
// EMU-NOT: nvgpu.
// EMU: memref.view {{.*}} to memref<2x64x32xbf16>
// EMU: arith.select %{{.*}}, %{{.*}}, %cst{{.*}} : bf16
func.func @blocks(%k: memref<?x?x32xbf16>, %out: memref<?x64xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  %n = memref.dim %k, %c0 : memref<?x?x32xbf16>
  %t = memref.dim %k, %c1 : memref<?x?x32xbf16>
  scf.forall (%b) in (%n) {
    %acc = memref.subview %out[%b, 0] [1, 64] [1, 1] : memref<?x64xf32> to memref<64xf32, strided<[1], offset: ?>>
    scf.for %s = %c0 to %t step %c64 {
      %blk = memref.subview %k[%b, %s, 0] [1, 64, 32] [1, 1, 1] : memref<?x?x32xbf16> to memref<64x32xbf16, strided<[32, 1], offset: ?>>
      %w = memref.alloc() : memref<64x32xf32>
      linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%blk : memref<64x32xbf16, strided<[32, 1], offset: ?>>) outs(%w : memref<64x32xf32>) attrs = {seqmix.widen} {
      ^bb0(%in: bf16, %o: f32):
        %e = arith.extf %in : bf16 to f32
        linalg.yield %e : f32
      }
      linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]} ins(%w : memref<64x32xf32>) outs(%acc : memref<64xf32, strided<[1], offset: ?>>) {
      ^bb0(%in: f32, %o: f32):
        %x = arith.addf %in, %o : f32
        linalg.yield %x : f32
      }
      memref.dealloc %w : memref<64x32xf32>
    }
  }
  return
}

// A staged block that only feeds tensor-core contractions, through its
// widening and a transpose in each branch (softmax's K block: q k^T): the
// contractions read the bf16 slot in shared memory directly, the transpose's
// map composed into theirs ((n, k) on the slot), and the f32 copies go --
// no widened or transposed buffer is left.
#qa = affine_map<(m, n, k) -> (m, k)>
#kb = affine_map<(m, n, k) -> (k, n)>
#sc = affine_map<(m, n, k) -> (m, n)>
#tr = affine_map<(d0, d1) -> (d1, d0)>
// CHECK-LABEL: func @staged_operands
// CHECK-NOT: memref<32x64xf32
// CHECK: %[[STAGE:.*]] = memref.view {{.*}} to memref<2x64x32xbf16, #gpu.address_space<workgroup>>
// CHECK-NOT: memref<32x64xf32
// CHECK: nvgpu.device_async_wait
// CHECK-NOT: seqmix.widen
// CHECK: scf.if
// CHECK: memref.load %{{.*}} : memref<64x32xbf16, strided<[32, 1], offset: ?>>
// CHECK: nvvm.mma.sync
// CHECK: } else {
// CHECK: memref.load %{{.*}} : memref<64x32xbf16, strided<[32, 1], offset: ?>>
// CHECK: nvvm.mma.sync
// CHECK-NOT: memref<32x64xf32
// CHECK: return
// OFF-LABEL: func @staged_operands
// OFF: seqmix.widen
// EMU-LABEL: func @staged_operands
// EMU-NOT: seqmix.widen
// EMU-NOT: memref<32x64xf32
// EMU: return
func.func @staged_operands(%q: memref<?x64x32xbf16>, %k: memref<?x?x32xbf16>, %s: memref<?x64x64xf32>, %flag: i1) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  %n = memref.dim %k, %c0 : memref<?x?x32xbf16>
  %t = memref.dim %k, %c1 : memref<?x?x32xbf16>
  scf.forall (%b) in (%n) {
    %ss = memref.subview %s[%b, 0, 0] [1, 64, 64] [1, 1, 1] : memref<?x64x64xf32> to memref<64x64xf32, strided<[64, 1], offset: ?>>
    %qs = memref.subview %q[%b, 0, 0] [1, 64, 32] [1, 1, 1] : memref<?x64x32xbf16> to memref<64x32xbf16, strided<[32, 1], offset: ?>>
    %qw = memref.alloc() : memref<64x32xf32>
    linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%qs : memref<64x32xbf16, strided<[32, 1], offset: ?>>) outs(%qw : memref<64x32xf32>) {
    ^bb0(%in: bf16, %o: f32):
      %e = arith.extf %in : bf16 to f32
      linalg.yield %e : f32
    }
    scf.for %i = %c0 to %t step %c64 {
      %blk = memref.subview %k[%b, %i, 0] [1, 64, 32] [1, 1, 1] : memref<?x?x32xbf16> to memref<64x32xbf16, strided<[32, 1], offset: ?>>
      %w = memref.alloc() : memref<64x32xf32>
      linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%blk : memref<64x32xbf16, strided<[32, 1], offset: ?>>) outs(%w : memref<64x32xf32>) attrs = {seqmix.widen} {
      ^bb0(%in: bf16, %o: f32):
        %e = arith.extf %in : bf16 to f32
        linalg.yield %e : f32
      }
      %kt = memref.alloc() : memref<32x64xf32>
      scf.if %flag {
        linalg.generic {indexing_maps = [#tr, #id], iterator_types = ["parallel", "parallel"]} ins(%w : memref<64x32xf32>) outs(%kt : memref<32x64xf32>) {
        ^bb0(%in: f32, %o: f32):
          linalg.yield %in : f32
        }
        linalg.generic {indexing_maps = [#qa, #kb, #sc], iterator_types = ["parallel", "parallel", "reduction"]} ins(%qw, %kt : memref<64x32xf32>, memref<32x64xf32>) outs(%ss : memref<64x64xf32, strided<[64, 1], offset: ?>>) {
        ^bb0(%x: f32, %y: f32, %acc: f32):
          %p = arith.mulf %x, %y : f32
          %r = arith.addf %acc, %p : f32
          linalg.yield %r : f32
        }
      } else {
        linalg.generic {indexing_maps = [#tr, #id], iterator_types = ["parallel", "parallel"]} ins(%w : memref<64x32xf32>) outs(%kt : memref<32x64xf32>) {
        ^bb0(%in: f32, %o: f32):
          linalg.yield %in : f32
        }
        linalg.generic {indexing_maps = [#qa, #kb, #sc], iterator_types = ["parallel", "parallel", "reduction"]} ins(%qw, %kt : memref<64x32xf32>, memref<32x64xf32>) outs(%ss : memref<64x64xf32, strided<[64, 1], offset: ?>>) {
        ^bb0(%x: f32, %y: f32, %acc: f32):
          %p = arith.mulf %x, %y : f32
          %r = arith.addf %acc, %p : f32
          linalg.yield %r : f32
        }
      }
      memref.dealloc %kt : memref<32x64xf32>
      memref.dealloc %w : memref<64x32xf32>
    }
  }
  return
}
