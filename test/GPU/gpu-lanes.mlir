// RUN: seqmix-opt %s --seqmix-gpu-distribute --canonicalize | FileCheck %s --enable-var-scope
// RUN: seqmix-opt %s --seqmix-gpu-distribute=lanes-on-threads=false --canonicalize | FileCheck %s --check-prefix=OFF
// RUN: seqmix-opt %s --seqmix-gpu-distribute=emulate=true --canonicalize | FileCheck %s --check-prefix=EMU

// A lowering's lane-wise vector code (a scan's token loop over a block of
// 64 channels: h = a * h + x per token, the state carried in a vector) runs
// with lane i on thread i: each vector is the thread's scalar, a row
// transfer at [t, 0] a load or store at [t, tid], a broadcast its scalar, a
// splat constant a scalar; threads past the 64 lanes idle. Without the
// option, or for code whose lanes share data (@shared: a scalar read of the
// rows the lanes write), it runs on thread 0; the emulation runs the lanes
// in a loop.

// CHECK-LABEL: func @scan
// CHECK: gpu.launch
// CHECK: %[[ACTIVE:.*]] = arith.cmpi ult, %[[TX:[a-z0-9]+]], %c64
// CHECK: scf.if %[[ACTIVE]] {
// CHECK: %[[H0:.*]] = memref.load %{{.*}}[%c0, %[[TX]]] : memref<1x64xf32
// CHECK: %[[H:.*]] = scf.for %[[T:.*]] = %c0 to %c256 step %c1 iter_args(%[[ACC:.*]] = %[[H0]]) -> (f32) {
// CHECK: %[[X:.*]] = memref.load %{{.*}}[%[[T]], %[[TX]]]
// CHECK: %[[A:.*]] = memref.load %{{.*}}[%[[T]]] : memref<256xf32
// CHECK: %[[N:.*]] = math.fma %[[A]], %[[ACC]], %[[X]] : f32
// CHECK: %[[S:.*]] = arith.mulf %[[N]], %cst{{.*}} : f32
// CHECK: memref.store %[[S]], %{{.*}}[%[[T]], %[[TX]]]
// CHECK: scf.yield %[[N]] : f32
// CHECK: memref.store %[[H]], %{{.*}}[%c0, %[[TX]]]
// CHECK: gpu.barrier
// CHECK-NOT: vector.
// CHECK-LABEL: func @shared
// CHECK: arith.cmpi eq, %{{.*}}, %c0
// CHECK: vector.transfer_write
// OFF-LABEL: func @scan
// OFF: arith.cmpi eq, %{{.*}}, %c0
// OFF: vector.transfer_read
// EMU-LABEL: func @scan
// EMU: scf.for %[[LANE:.*]] = %c0 to %c64 step %c1 {
// EMU: memref.load %{{.*}}[%c0, %[[LANE]]]
func.func @scan(%x: memref<?x256x64xf32>, %a: memref<256xf32>, %h: memref<?x1x64xf32>, %y: memref<?x256x64xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c256 = arith.constant 256 : index
  %z = arith.constant 0.0 : f32
  %half = arith.constant dense<0.5> : vector<64xf32>
  %n = memref.dim %x, %c0 : memref<?x256x64xf32>
  scf.forall (%b) in (%n) {
    %xs = memref.subview %x[%b, 0, 0] [1, 256, 64] [1, 1, 1] : memref<?x256x64xf32> to memref<256x64xf32, strided<[64, 1], offset: ?>>
    %ys = memref.subview %y[%b, 0, 0] [1, 256, 64] [1, 1, 1] : memref<?x256x64xf32> to memref<256x64xf32, strided<[64, 1], offset: ?>>
    %hs = memref.subview %h[%b, 0, 0] [1, 1, 64] [1, 1, 1] : memref<?x1x64xf32> to memref<1x64xf32, strided<[64, 1], offset: ?>>
    %h0 = vector.transfer_read %hs[%c0, %c0], %z {in_bounds = [true]} : memref<1x64xf32, strided<[64, 1], offset: ?>>, vector<64xf32>
    %hn = scf.for %t = %c0 to %c256 step %c1 iter_args(%acc = %h0) -> (vector<64xf32>) {
      %xt = vector.transfer_read %xs[%t, %c0], %z {in_bounds = [true]} : memref<256x64xf32, strided<[64, 1], offset: ?>>, vector<64xf32>
      %at = memref.load %a[%t] : memref<256xf32>
      %av = vector.broadcast %at : f32 to vector<64xf32>
      %next = vector.fma %av, %acc, %xt : vector<64xf32>
      %scaled = arith.mulf %next, %half : vector<64xf32>
      vector.transfer_write %scaled, %ys[%t, %c0] {in_bounds = [true]} : vector<64xf32>, memref<256x64xf32, strided<[64, 1], offset: ?>>
      scf.yield %next : vector<64xf32>
    }
    vector.transfer_write %hn, %hs[%c0, %c0] {in_bounds = [true]} : vector<64xf32>, memref<1x64xf32, strided<[64, 1], offset: ?>>
  }
  return
}

func.func @shared(%x: memref<?x256x64xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c256 = arith.constant 256 : index
  %z = arith.constant 0.0 : f32
  %n = memref.dim %x, %c0 : memref<?x256x64xf32>
  scf.forall (%b) in (%n) {
    %xs = memref.subview %x[%b, 0, 0] [1, 256, 64] [1, 1, 1] : memref<?x256x64xf32> to memref<256x64xf32, strided<[64, 1], offset: ?>>
    scf.for %t = %c1 to %c256 step %c1 {
      %p = arith.subi %t, %c1 : index
      %prev = memref.load %xs[%p, %c1] : memref<256x64xf32, strided<[64, 1], offset: ?>>
      %v = vector.broadcast %prev : f32 to vector<64xf32>
      vector.transfer_write %v, %xs[%t, %c0] {in_bounds = [true]} : vector<64xf32>, memref<256x64xf32, strided<[64, 1], offset: ?>>
    }
  }
  return
}
