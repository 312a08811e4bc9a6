#ifndef MT_SECRET_H
#define MT_SECRET_H

#include <stddef.h>
#include <stdint.h>

#include "util/mt_err.h"

/*
 * Key material (STYLE.md section 4 item 9).  The bytes live in whole pages
 * of their own, so that locking and the core-dump exclusion cover exactly
 * this secret and unlocking it never unlocks a neighbour (mlock does not
 * nest).  Both protections are best effort: a container without
 * CAP_IPC_LOCK or with a small RLIMIT_MEMLOCK refuses mlock, and that must
 * not stop a KMS from serving.  What took effect is in `flags`.
 *
 * There is deliberately no function that prints, hex-encodes or logs a
 * secret; code that must put key bytes on the wire does so itself, into a
 * buffer it wipes.  Compare with mt_secret_eq (constant time), never memcmp.
 *
 * A zeroed struct is a valid empty secret; mt_secret_free on it, on NULL or
 * twice in a row is a no-op.
 */

/* flags: which protections took effect for this allocation. */
#define MT_SECRET_LOCKED 0x1u      /* mlock succeeded: never written to swap */
#define MT_SECRET_NODUMP 0x2u      /* madvise(MADV_DONTDUMP) succeeded: left out of core dumps */
#define MT_SECRET_SECURE_HEAP 0x4u /* in OpenSSL's secure heap (mt_secret_heap_init) */

/* Largest secret: key material is tiny, and locked memory is a scarce rlimit. */
#define MT_SECRET_MAX (64u * 1024u)

struct mt_secret {
    uint8_t *p;   /* len bytes, page aligned (or in the secure heap); NULL when empty */
    size_t len;   /* bytes of key material */
    void *base_;  /* private: the allocation p lies in */
    size_t span_; /* private: bytes from p to the end of its last page */
    unsigned flags;
};

/*
 * Serve secrets of up to MT_SECRET_HEAP_MAX_ITEM bytes from OpenSSL's secure
 * heap (CRYPTO_secure_malloc_init): heap_bytes of memory locked and left
 * out of core dumps once, with guard pages around it, instead of an mlock,
 * an madvise and their undoing for every secret (a /get-key's key cost
 * ~3.5 us that way, ~0.8 us from the heap).  Call once, early, before
 * threads start.  Returns MT_OK with *protected = 1 when the heap's pages
 * are locked and excluded from dumps, 0 when OpenSSL made the heap without
 * that protection (then every secret keeps using its own locked pages);
 * MT_ERR_CRYPTO when no heap could be made (secrets keep their own pages).
 * When the heap is full, secrets fall back to their own pages too.
 */
#define MT_SECRET_HEAP_MAX_ITEM 64u
MT_WUR mt_err mt_secret_heap_init(size_t heap_bytes, int *protected_);

/*
 * A new zero-filled secret of len bytes (1..MT_SECRET_MAX).  Errors:
 * MT_ERR_ARG (len 0, out NULL), MT_ERR_TOO_LARGE, MT_ERR_NOMEM.  *out is
 * written only on success.
 */
MT_WUR mt_err mt_secret_new(size_t len, struct mt_secret *out);
/* Wipe (OPENSSL_cleanse), unlock, free, and reset *s to empty.  NULL-safe. */
void mt_secret_free(struct mt_secret *s);
/*
 * 1 when s holds exactly the n bytes b, else 0.  The contents are compared
 * in constant time (CRYPTO_memcmp); lengths are not secret.  NULL-safe.
 */
int mt_secret_eq(const struct mt_secret *s, const uint8_t *b, size_t n);

#endif
