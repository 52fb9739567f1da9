// RUN: seqmix-opt %s --seqmix-interchange-for-unit-stride | FileCheck %s

#pv_p = affine_map<(t, j, i) -> (t, i)>
#pv_v = affine_map<(t, j, i) -> (i, j)>
#pv_o = affine_map<(t, j, i) -> (t, j)>

// O[t, j] += P[t, i] V[i, j]: j (unit stride in V and O) becomes innermost.
// The loops become (t, i, j).
// CHECK-DAG: #[[P:.*]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-DAG: #[[V:.*]] = affine_map<(d0, d1, d2) -> (d1, d2)>
// CHECK-DAG: #[[O:.*]] = affine_map<(d0, d1, d2) -> (d0, d2)>
// CHECK-LABEL: func @pv
// CHECK: linalg.generic {indexing_maps = [#[[P]], #[[V]], #[[O]]], iterator_types = ["parallel", "reduction", "parallel"]}
func.func @pv(%p: tensor<8x8xf32>, %v: tensor<8x4xf32>, %o: tensor<8x4xf32>) -> tensor<8x4xf32> {
  %r = linalg.generic {indexing_maps = [#pv_p, #pv_v, #pv_o], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%p, %v : tensor<8x8xf32>, tensor<8x4xf32>) outs(%o : tensor<8x4xf32>) {
  ^bb0(%a: f32, %b: f32, %c: f32):
    %m = arith.mulf %a, %b : f32
    %s = arith.addf %c, %m : f32
    linalg.yield %s : f32
  } -> tensor<8x4xf32>
  return %r : tensor<8x4xf32>
}

#id = affine_map<(i, j) -> (i, j)>

// negative_: already innermost parallel and unit stride: unchanged.
// CHECK-LABEL: func @negative_elementwise
// CHECK: iterator_types = ["parallel", "parallel"]
// CHECK-SAME: ins(%arg0 : tensor<8x4xf32>)
func.func @negative_elementwise(%a: tensor<8x4xf32>) -> tensor<8x4xf32> {
  %r = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%a : tensor<8x4xf32>) outs(%a : tensor<8x4xf32>) {
  ^bb0(%x: f32, %y: f32):
    linalg.yield %x : f32
  } -> tensor<8x4xf32>
  return %r : tensor<8x4xf32>
}

#rs_s = affine_map<(i, j) -> (i, j)>
#rs_l = affine_map<(i, j) -> (i)>

// negative_: a row sum l[i] += S[i, j] keeps j (unit stride in S) innermost;
// making i innermost for l would read S with a stride of a whole row.
// CHECK-LABEL: func @negative_row_sum
// CHECK: linalg.generic {indexing_maps = [#{{.*}}, #{{.*}}], iterator_types = ["parallel", "reduction"]}
func.func @negative_row_sum(%s: tensor<?x?xf32>, %l: tensor<?xf32>) -> tensor<?xf32> {
  %r = linalg.generic {indexing_maps = [#rs_s, #rs_l], iterator_types = ["parallel", "reduction"]}
      ins(%s : tensor<?x?xf32>) outs(%l : tensor<?xf32>) {
  ^bb0(%x: f32, %acc: f32):
    %a = arith.addf %acc, %x : f32
    linalg.yield %a : f32
  } -> tensor<?xf32>
  return %r : tensor<?xf32>
}
