// RUN: seqmix-opt %s --seqmix-lower-forms=workers=16 --canonicalize --cse | FileCheck --enable-var-scope %s

// Softmax attention by form. QK^T and P.V are linalg contractions (a generic
// with a matmul's maps, linalg.matmul); the scale, mask, max, exp and sums
// are separate elementwise/reduction generics.

// Chunked (chunk 32): (batch, head, query block) in parallel; a sequential
// loop over the visible key blocks carries (m, l, acc); blocks every query
// sees skip the mask (scf.if); lse = m + log l.
// CHECK-LABEL: func @chunked_causal
// CHECK: scf.forall (%[[B:.*]], %[[H:.*]], %[[QB:.*]]) in (%{{.*}}, 8, %{{.*}}) shared_outs(%[[O:.*]] = %{{.*}}, %[[LSE:.*]] = %{{.*}}) -> (tensor<?x8x?x8xf32>, tensor<?x8x?xf32>)
// Query head h reads KV head h * 2 / 8.
// CHECK: %[[H2:.*]] = arith.muli %[[H]], %c2
// CHECK: %[[KVH:.*]] = arith.divui %[[H2]], %c8
// CHECK: scf.for %[[K0:.*]] = %{{.*}} to %{{.*}} step %c32 iter_args(%{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}) -> (tensor<?xf32>, tensor<?xf32>, tensor<?x8xf32>)
// CHECK: tensor.extract_slice %{{.*}}[%[[B]], %[[KVH]], %[[K0]], 0]
// CHECK: %[[FULL:.*]] = arith.cmpi sle
// CHECK: scf.if %[[FULL]]
// CHECK: linalg.transpose
// CHECK: linalg.generic {indexing_maps = [#[[QMAP:.*]], #[[KMAP:.*]], #[[SMAP:.*]]], iterator_types = ["parallel", "parallel", "reduction"]}
// CHECK-NOT: linalg.index
// CHECK: math.exp
// CHECK: linalg.matmul
// CHECK: } else {
// CHECK: linalg.generic {indexing_maps = [#[[QMAP]], #[[KMAP]], #[[SMAP]]], iterator_types = ["parallel", "parallel", "reduction"]}
// The partial block masks before the exp.
// CHECK: linalg.index 0
// CHECK: arith.select
// CHECK: math.exp
// CHECK: linalg.matmul
// CHECK: math.log
// CHECK: scf.forall.in_parallel
// CHECK: tensor.parallel_insert_slice %{{.*}} into %[[O]]
// CHECK: tensor.parallel_insert_slice %{{.*}} into %[[LSE]]
// CHECK-NOT: seqmix.
func.func @chunked_causal(%q: tensor<?x8x?x16xf32>, %k: tensor<?x2x?x16xf32>, %v: tensor<?x2x?x8xf32>) -> (tensor<?x8x?x8xf32>, tensor<?x8x?xf32>) {
  %o, %lse = seqmix.softmax_attention %q, %k, %v {scale = 0.25 : f32, form = #seqmix.form<chunked, chunk = 32>}
      : (tensor<?x8x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x8xf32>) -> (tensor<?x8x?x8xf32>, tensor<?x8x?xf32>)
  return %o, %lse : tensor<?x8x?x8xf32>, tensor<?x8x?xf32>
}

// No mask: no index arithmetic. The one scf.if chooses between the copy of
// the step for a full key block (static 16 x 16 shapes) and a partial one.
// CHECK-LABEL: func @chunked_full
// CHECK: scf.forall
// CHECK: scf.for
// CHECK: %[[LK:.*]] = arith.minsi
// CHECK: %[[ISFULL:.*]] = arith.cmpi eq, %[[LK]], %c16
// CHECK: scf.if %[[ISFULL]]
// CHECK: linalg.transpose ins(%{{.*}} : tensor<16x16xf32>) outs(%{{.*}} : tensor<16x16xf32>)
// CHECK: } else {
// CHECK: linalg.transpose ins(%{{.*}} : tensor<?x16xf32>)
// CHECK-NOT: scf.if
// CHECK-NOT: linalg.index
// CHECK: return
func.func @chunked_full(%q: tensor<2x2x?x16xf32>) -> tensor<2x2x?x16xf32> {
  %o = seqmix.softmax_attention %q, %q, %q {causal = false, scale = 0.25 : f32, form = #seqmix.form<chunked, chunk = 16>}
      : (tensor<2x2x?x16xf32>, tensor<2x2x?x16xf32>, tensor<2x2x?x16xf32>) -> tensor<2x2x?x16xf32>
  return %o : tensor<2x2x?x16xf32>
}

// Parallel: one block per (batch, head), all T_q x T_k scores, no key loop.
// CHECK-LABEL: func @parallel
// CHECK: scf.forall (%{{.*}}, %{{.*}}) in (%{{.*}}, 8)
// CHECK-NOT: scf.for
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]
// CHECK-SAME: outs(%{{.*}} : tensor<?x?xf32>)
// CHECK: linalg.matmul
// CHECK: return
func.func @parallel(%q: tensor<?x8x?x16xf32>, %k: tensor<?x2x?x16xf32>, %v: tensor<?x2x?x8xf32>) -> tensor<?x8x?x8xf32> {
  %o = seqmix.softmax_attention %q, %k, %v {scale = 0.25 : f32, window = 4, form = #seqmix.form<parallel>}
      : (tensor<?x8x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x8xf32>) -> tensor<?x8x?x8xf32>
  return %o : tensor<?x8x?x8xf32>
}

// Decode with split-KV: S = min(ceil(16 / (B * 4)), ceil(keys / 128))
// segments chosen at run time; (batch, head, segment) in parallel, each
// segment's keys in steps of 128; then the merge of the partial states:
// M = max_s m_s, w_s = exp(m_s - M), l = sum_s w_s l_s, acc = sum_s w_s acc_s.
// CHECK-LABEL: func @decode
// CHECK: %[[TASKS:.*]] = arith.muli %{{.*}}, %c4
// CHECK: %[[T1:.*]] = arith.maxui %[[TASKS]], %c1
// CHECK: %[[WANT:.*]] = arith.divui %{{.*}}, %[[T1]]
// CHECK: %[[S:.*]] = arith.minui %[[WANT]], %{{.*}}
// CHECK: %[[MP:.*]] = tensor.empty(%{{.*}}, %[[S]]) : tensor<?x4x?x1xf32>
// CHECK: %[[AP:.*]] = tensor.empty(%{{.*}}, %[[S]]) : tensor<?x4x?x1x8xf32>
// CHECK: %[[PARTS:.*]]:3 = scf.forall (%{{.*}}, %{{.*}}, %{{.*}}) in (%{{.*}}, 4, %[[S]])
// CHECK: scf.for %{{.*}} step %c128
// CHECK: linalg.matmul
// CHECK: scf.forall.in_parallel
// CHECK-COUNT-3: tensor.parallel_insert_slice
// CHECK: %[[M:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%[[PARTS]]#0 : tensor<?x4x?x1xf32>)
// CHECK: arith.maximumf
// CHECK: %[[W:.*]] = linalg.generic {{.*}} ins(%[[PARTS]]#0, %[[M]] :
// CHECK: math.exp
// CHECK: %[[L:.*]] = linalg.generic {{.*}} ins(%[[W]], %[[PARTS]]#1 :
// CHECK: %[[A:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%[[W]], %[[PARTS]]#2 :
// CHECK: %[[OUT:.*]] = linalg.generic {{.*}} ins(%[[A]], %[[L]] :
// CHECK: arith.divf
// CHECK: return %[[OUT]]
func.func @decode(%q: tensor<?x4x1x16xf32>, %k: tensor<?x1x?x16xf32>, %v: tensor<?x1x?x8xf32>) -> tensor<?x4x1x8xf32> {
  %o = seqmix.softmax_attention %q, %k, %v {scale = 0.25 : f32, form = #seqmix.form<recurrent>}
      : (tensor<?x4x1x16xf32>, tensor<?x1x?x16xf32>, tensor<?x1x?x8xf32>) -> tensor<?x4x1x8xf32>
  return %o : tensor<?x4x1x8xf32>
}
