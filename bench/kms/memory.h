#ifndef MT_BENCH_MEMORY_H
#define MT_BENCH_MEMORY_H

/*
 * Memory per pending challenge in the in-memory store, measured in this
 * process with `pending` challenges inserted into a fresh store:
 *   store  what the store itself asked the allocator for
 *          (mt_kms_store_mem_stats: tables, peer strings, the store);
 *   heap   the growth of glibc's heap in use (mallinfo2), which adds the
 *          allocator's own overhead and slack.
 * Peers are spread as the KMS's per-peer limit forces them to be.
 */
#include <stddef.h>

struct mem_result {
    size_t pending;
    size_t peers;
    size_t limit;
    double store_bytes; /* per challenge */
    double heap_bytes;  /* per challenge; < 0 when mallinfo2 cannot see the allocator */
};

/* 0 on success. */
int memory_measure(size_t pending, size_t peers, size_t limit, struct mem_result *r);

#endif
