/* Compiles a small gated-linear-attention layer in-process with the C API,
 * loads it with the runtime and calls it on DLPack tensors, then checks one
 * output against the recurrence computed here. */
#include <seqmix-c/Compiler.h>
#include <seqmix-c/DLPack.h>
#include <seqmix-c/Runtime.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *kSpec =
    "{\"seqmix\": 1, \"name\": \"consumer_gla\", \"mixer\": "
    "\"gated_linear_attention\", \"gate\": \"scalar\", \"heads\": 1, "
    "\"key_dim\": 4, \"value_dim\": 2, \"scale\": 1.0, \"batch\": 1, "
    "\"seq_len\": 3}";

static DLTensor tensor(float *data, int32_t ndim, int64_t *shape) {
  DLTensor t;
  memset(&t, 0, sizeof t);
  t.data = data;
  t.device.device_type = kDLCPU;
  t.ndim = ndim;
  t.dtype.code = kDLFloat;
  t.dtype.bits = 32;
  t.dtype.lanes = 1;
  t.shape = shape;
  return t;
}

int main(void) {
  char path[] = "/tmp/seqmix-consumer-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0)
    return 1;
  close(fd);
  printf("%s\n", seqmix_compiler_version());
  seqmix_compile_options *opts = seqmix_compile_options_create();
  seqmix_compile_options_set(opts, "form", "recurrent");
  seqmix_status *st = seqmix_compile_to_file(kSpec, strlen(kSpec), "consumer",
                                             opts, "so", path);
  seqmix_compile_options_destroy(opts);
  if (!seqmix_status_ok(st)) {
    fprintf(stderr, "compile failed:\n%s", seqmix_status_text(st));
    return 1;
  }
  seqmix_status_destroy(st);

  char *err = NULL;
  seqmix_layer *layer = seqmix_layer_load(path, &err);
  unlink(path);
  if (!layer) {
    fprintf(stderr, "load failed: %s\n", err);
    return 1;
  }
  printf("layer %s: %d arguments, forms %s\n", seqmix_layer_name(layer),
         seqmix_layer_num_args(layer), seqmix_layer_forms(layer));

  enum { T = 3, K = 4, V = 2 };
  float q[T * K], k[T * K], v[T * V], g[T], out[T * V];
  for (int i = 0; i < T * K; ++i) {
    q[i] = 0.1f * (float)(i % 5);
    k[i] = 0.2f - 0.05f * (float)i;
  }
  for (int i = 0; i < T * V; ++i)
    v[i] = 1.0f + (float)i;
  for (int t = 0; t < T; ++t)
    g[t] = -0.5f * (float)t;
  int64_t qs[4] = {1, 1, T, K}, vs[4] = {1, 1, T, V}, gs[3] = {1, 1, T};
  DLTensor args[5] = {tensor(q, 4, qs), tensor(k, 4, qs), tensor(v, 4, vs),
                      tensor(g, 3, gs), tensor(out, 4, vs)};
  const DLTensor *ptrs[5] = {&args[0], &args[1], &args[2], &args[3], &args[4]};
  if (seqmix_layer_call_dlpack(layer, ptrs, 5, &err)) {
    fprintf(stderr, "call failed: %s\n", err);
    return 1;
  }
  /* The recurrence: S_t = exp(g_t) S_{t-1} + k_t v_t^T, o_t = q_t S_t. */
  double S[K][V] = {{0}}, maxErr = 0;
  for (int t = 0; t < T; ++t) {
    for (int a = 0; a < K; ++a)
      for (int b = 0; b < V; ++b)
        S[a][b] = exp(g[t]) * S[a][b] + k[t * K + a] * v[t * V + b];
    for (int b = 0; b < V; ++b) {
      double o = 0;
      for (int a = 0; a < K; ++a)
        o += q[t * K + a] * S[a][b];
      double e = fabs(o - out[t * V + b]);
      maxErr = e > maxErr ? e : maxErr;
    }
  }
  printf("out[2] = %.6f %.6f, max error vs the recurrence %.1e: %s\n",
         out[2 * V], out[2 * V + 1], maxErr, maxErr < 1e-5 ? "PASS" : "FAIL");
  seqmix_layer_free(layer);
  return maxErr < 1e-5 ? 0 : 1;
}
