/* run_layer.c - call a compiled seqmix layer from plain C.
 *
 *   seqmixc examples/retnet.json -o retnet.so
 *   run_layer retnet.so 2 16        (batch 2, sequence length 16)
 *
 * Fills every input with a small constant, calls the layer through the
 * runtime (libseqmix_runtime.so) and prints the first output values. Shapes
 * come from the layer's own metadata: dynamic dimensions named "batch" and
 * "seq_len" take the command-line sizes. */
#include "seqmix-c/Runtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ARGS 16
#define MAX_RANK 8

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s <layer.so> <batch> <seq_len>\n", argv[0]);
    return 2;
  }
  char *err = NULL;
  seqmix_layer *layer = seqmix_layer_load(argv[1], &err);
  if (!layer) {
    fprintf(stderr, "error: %s\n", err);
    seqmix_free_error(err);
    return 1;
  }
  long batch = atol(argv[2]), seqLen = atol(argv[3]);
  int n = seqmix_layer_num_args(layer);
  seqmix_tensor args[MAX_ARGS];
  int64_t shapes[MAX_ARGS][MAX_RANK];
  /* Parse the "arg" lines of the metadata for ranks and sizes. */
  const char *line = seqmix_layer_metadata(layer);
  int a = 0;
  while (line && *line && a < n && a < MAX_ARGS) {
    if (strncmp(line, "arg ", 4) == 0) {
      char dir[8], name[64], type[16];
      int used = 0;
      sscanf(line, "arg %7s %63s %15s%n", dir, name, type, &used);
      const char *p = line + used;
      int rank = 0;
      long elems = 1;
      char dim[64];
      while (rank < MAX_RANK && sscanf(p, " %63s%n", dim, &used) == 1 &&
             strchr(dim, ':')) {
        char *colon = strrchr(dim, ':');
        int64_t size = atol(colon + 1);
        if (colon[1] == '?')
          size = strncmp(dim, "batch:", 6) == 0 ? batch : seqLen;
        shapes[a][rank++] = size;
        elems *= size;
        p += used;
        if (*p == '\n')
          break;
      }
      float *data = malloc(sizeof(float) * (size_t)elems *
                           (strcmp(type, "complex64") == 0 ? 2 : 1));
      for (long i = 0; i < elems; ++i)
        data[i] = 0.1f;
      args[a].data = data;
      args[a].ndim = rank;
      args[a].shape = shapes[a];
      args[a].strides = NULL;
      ++a;
    }
    line = strchr(line, '\n');
    if (line)
      ++line;
  }
  if (seqmix_layer_call(layer, args, a, &err)) {
    fprintf(stderr, "error: %s\n", err);
    seqmix_free_error(err);
    return 1;
  }
  for (int i = 0; i < a; ++i)
    if (seqmix_layer_arg_is_output(layer, i))
      printf("%s[0..2] = %g %g %g\n", seqmix_layer_arg_name(layer, i),
             ((float *)args[i].data)[0], ((float *)args[i].data)[1],
             ((float *)args[i].data)[2]);
  for (int i = 0; i < a; ++i)
    free(args[i].data);
  seqmix_layer_free(layer);
  return 0;
}
