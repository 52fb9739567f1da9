// RUN: seqmix-opt %s --seqmix-approximate-exp | FileCheck %s

// CHECK-LABEL: func @decay
// CHECK-NOT: math.exp
// CHECK: math.fma
// CHECK: arith.bitcast
func.func @decay(%x: f32) -> f32 {
  %e = math.exp %x : f32
  return %e : f32
}

// negative_: f64 is left to libm.
// CHECK-LABEL: func @negative_f64
// CHECK: math.exp %{{.*}} : f64
func.func @negative_f64(%x: f64) -> f64 {
  %e = math.exp %x : f64
  return %e : f64
}
