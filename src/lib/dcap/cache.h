#ifndef MT_CACHE_H
#define MT_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "util/mt_err.h"

/*
 * The verifier's result cache (dcap-verify.md section 5).  An entry is keyed
 * by a SHA-256 over a kind tag and the exact bytes that were verified, and
 * holds the window [not_before, not_after] in which the result stays true.
 * A lookup outside that window evicts the entry and misses, so the caller
 * re-runs the check, which then fails with the precise error.  Only
 * successful results are stored.
 *
 * Values stay valid for the whole of one verification: mt_cache_begin starts
 * a generation, entries touched in it are pinned, and eviction only removes
 * entries of earlier generations.
 */
enum mt_cache_kind {
    MT_CACHE_ROOT_CRL = 1, /* root CRL checked against the pinned root */
    MT_CACHE_CHAIN,        /* a TCB-signing chain */
    MT_CACHE_TCB_INFO,     /* a TCB Info document: chain + signature + parse */
    MT_CACHE_QE_IDENTITY,  /* a QE Identity document */
    MT_CACHE_PCK,          /* PCK chain + PCK CRL + SGX extension */
    MT_CACHE_QE_REPORT,    /* QE report signature + binding, attestation key */
};

struct mt_cache_entry {
    uint8_t key[32];
    enum mt_cache_kind kind;
    int64_t not_before;
    int64_t not_after;
    void *value;
    void (*free_value)(void *);
    uint64_t seq; /* insertion order, for eviction of the oldest */
    uint64_t gen; /* generation that last used the entry */
};

struct mt_cache {
    struct mt_cache_entry *entries;
    size_t num_entries;
    size_t max_entries;
    uint64_t next_seq;
    uint64_t gen;
    uint64_t hits;
    uint64_t misses;
};

void mt_cache_init(struct mt_cache *c, size_t max_entries);
void mt_cache_clear(struct mt_cache *c);
/* Start a verification: values used from now on stay valid until the next call. */
void mt_cache_begin(struct mt_cache *c);
/*
 * The value of a live entry, or NULL (an entry expired at now is dropped).
 * On a hit, the entry's window is written to *nb, *na.
 */
void *mt_cache_get(struct mt_cache *c, enum mt_cache_kind kind, const uint8_t key[32], int64_t now,
                   int64_t *nb, int64_t *na);
/*
 * Store a value; the cache owns it from here on.  On failure the value has
 * been freed and must not be used.
 */
MT_WUR mt_err mt_cache_put(struct mt_cache *c, enum mt_cache_kind kind, const uint8_t key[32],
                           int64_t not_before, int64_t not_after, void *value,
                           void (*free_value)(void *));

#endif
