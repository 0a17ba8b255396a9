// Counts malloc-family calls for VoiceAllocationTests (not compiled by SwiftPM: excluded in
// Package.swift). Build and run:
//   cc -shared -fPIC -O2 -o /tmp/malloc-count.so Tests/VoiceTests/malloc-count.c
//   LD_PRELOAD=/tmp/malloc-count.so swift test --skip-build --filter VoiceAllocationTests
// Without the preload the test is skipped.
#include <stdatomic.h>
#include <stddef.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

static atomic_long calls;

void *malloc(size_t n) { atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed); return __libc_malloc(n); }
void *calloc(size_t a, size_t b) { atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed); return __libc_calloc(a, b); }
void *realloc(void *p, size_t n) { atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed); return __libc_realloc(p, n); }
void *aligned_alloc(size_t a, size_t n) { atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed); return __libc_memalign(a, n); }
int posix_memalign(void **out, size_t a, size_t n) {
    atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed);
    void *p = __libc_memalign(a, n);
    if (!p) return 12;
    *out = p;
    return 0;
}
long faxd_malloc_count(void) { return atomic_load_explicit(&calls, memory_order_relaxed); }
