/*===- LayerScratch.c - the heap allocator of compiled layers --------------===
 *
 * Compiled layers allocate their scratch (the buffers of a block: the FFT's
 * planes, tables, transposed inputs) with memref.alloc, lowered to calls of
 * SCRATCH_ALLOC and SCRATCH_FREE. Large buffers come and go on every call;
 * from malloc they are often fresh pages (glibc returns the top of its
 * heaps, and maps large blocks anew), so that each call pays a page fault
 * per 4 KiB: at T = 16384 the LTI scan's FFT spent as long faulting as
 * computing. These functions keep up to kSlots freed blocks of at least
 * kMinCached bytes per thread (kMaxCachedBytes in all) and hand them out
 * again for requests that fit (best fit, at most twice the request), so
 * that the threads of a pool reuse warm memory from call to call.
 *
 * The file is compiled twice: to LLVM IR embedded in the compiler and
 * linked into every layer it emits (the names are MLIR's generic allocation
 * functions), and into the compiler itself under other names, which its JIT
 * binds them to. A block leaving a thread that exits is freed with it
 * (pthread key destructor); unloading a layer frees the unloading thread's
 * blocks and drops the key (other live threads' cached blocks are then
 * lost to the process, never reused and never freed).
 *
 *===----------------------------------------------------------------------===*/
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>

#ifndef SCRATCH_ALLOC
#define SCRATCH_ALLOC _mlir_memref_to_llvm_alloc
#define SCRATCH_FREE _mlir_memref_to_llvm_free
#define SCRATCH_EXPORT
#else
#define SCRATCH_EXPORT __attribute__((visibility("default")))
#endif

enum { kSlots = 8, kHeader = 16 };
#define kMinCached ((size_t)1 << 18)
#define kMaxCachedBytes ((size_t)1 << 28)

typedef struct {
  char *block[kSlots];
  size_t size[kSlots];
  size_t bytes;
} Cache;

static pthread_key_t key;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int haveKey;

static void releaseCache(void *p) {
  Cache *c = (Cache *)p;
  for (int i = 0; i < kSlots; ++i)
    free(c->block[i]);
  free(c);
}

static void makeKey(void) {
  haveKey = pthread_key_create(&key, releaseCache) == 0;
}

static Cache *threadCache(void) {
  pthread_once(&once, makeKey);
  if (!haveKey)
    return NULL;
  Cache *c = (Cache *)pthread_getspecific(key);
  if (!c) {
    c = (Cache *)calloc(1, sizeof *c);
    if (c && pthread_setspecific(key, c) != 0) {
      free(c);
      c = NULL;
    }
  }
  return c;
}

__attribute__((destructor)) static void unloadCache(void) {
  if (!haveKey)
    return;
  Cache *c = (Cache *)pthread_getspecific(key);
  if (c) {
    pthread_setspecific(key, NULL);
    releaseCache(c);
  }
  pthread_key_delete(key);
  haveKey = 0;
}

/* Each block starts with a header holding its size (malloc's alignment is
 * kept: MLIR aligns within the block itself). */
SCRATCH_EXPORT void *SCRATCH_ALLOC(size_t size) {
  if (size > (size_t)-1 - kHeader)
    return NULL;
  size_t total = size + kHeader;
  if (total >= kMinCached) {
    Cache *c = threadCache();
    int best = -1;
    for (int i = 0; c && i < kSlots; ++i)
      if (c->block[i] && c->size[i] >= total && c->size[i] / 2 <= total &&
          (best < 0 || c->size[i] < c->size[best]))
        best = i;
    if (best >= 0) {
      char *p = c->block[best];
      c->block[best] = NULL;
      c->bytes -= c->size[best];
      return p + kHeader;
    }
  }
  char *p = (char *)malloc(total);
  if (!p)
    return NULL;
  *(size_t *)p = total;
  return p + kHeader;
}

SCRATCH_EXPORT void SCRATCH_FREE(void *ptr) {
  if (!ptr)
    return;
  char *p = (char *)ptr - kHeader;
  size_t total = *(size_t *)p;
  if (total >= kMinCached) {
    Cache *c = threadCache();
    if (c && total <= kMaxCachedBytes) {
      /* An empty slot, else the smallest block if smaller than this one. */
      int slot = 0;
      for (int i = 0; i < kSlots; ++i) {
        if (!c->block[i]) {
          slot = i;
          break;
        }
        if (c->size[i] < c->size[slot])
          slot = i;
      }
      if (c->block[slot] && c->size[slot] >= total)
        slot = -1;
      if (slot >= 0) {
        size_t freed = c->block[slot] ? c->size[slot] : 0;
        if (c->bytes - freed + total <= kMaxCachedBytes) {
          free(c->block[slot]);
          c->bytes -= freed;
          c->block[slot] = p;
          c->size[slot] = total;
          c->bytes += total;
          return;
        }
      }
    }
  }
  free(p);
}
