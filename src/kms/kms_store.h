#ifndef MT_KMS_STORE_H
#define MT_KMS_STORE_H

/*
 * The challenge store (mero-tee-reference.md 1.13): challenges issued by
 * POST /challenge and taken, exactly once, by POST /get-key.  Two backends
 * sit behind one small vtable (STYLE.md section 4 item 15) and pass one
 * conformance suite (tests/unit/test_kms_store.c):
 *
 *   memory  compact open-addressing tables under one mutex;
 *   Redis   hiredis, atomic Lua scripts, the reference's key names and
 *           value JSON, so that mero-kms-phala and mero-kms can share a
 *           Redis (and pending challenges survive an upgrade).
 *
 * Semantics shared by both (differences from the reference in brackets):
 *  - A challenge is live while now < expires_at; expires_at <= now is
 *    expired.  Expired challenges are pruned lazily, inside insert, consume
 *    and count; there is no background task.
 *  - insert refuses with MT_ERR_RATE_LIMITED when, after pruning, max_total
 *    challenges are pending, or max_per_peer are pending for this peer
 *    [the reference only has the global limit: defect 1].  An id that is
 *    already pending is refused with MT_ERR_ARG [the reference overwrites
 *    it, which would silently cancel another peer's challenge].
 *    expires_at <= now is accepted (CHALLENGE_TTL_SECS=0) and the challenge
 *    is born expired [Redis in the reference fails: defect 6].
 *  - consume looks the id up by exact string (an uppercase or malformed id
 *    is MT_ERR_CHALLENGE_NOT_FOUND); then a different peer_id (exact byte
 *    comparison of the raw string) is MT_ERR_CHALLENGE_PEER_MISMATCH and the
 *    record is KEPT [the reference deletes it: defect 7]; then an expired
 *    record is deleted and MT_ERR_CHALLENGE_EXPIRED; else the record is
 *    deleted and its nonce returned.  Once pruned, an expired challenge is
 *    MT_ERR_CHALLENGE_NOT_FOUND.
 *  - Every operation is atomic with respect to every other, from any number
 *    of threads (and, for Redis, from any number of processes).
 *  - Nonces are wiped (OPENSSL_cleanse) from the store's own memory when a
 *    record goes away.
 */
#include <stddef.h>
#include <stdint.h>

#include "util/mt_err.h"

/* Challenge ids are 16 random bytes as 32 lowercase hex digits. */
#define MT_CHALLENGE_ID_HEX 32
#define MT_CHALLENGE_NONCE_LEN 32

/* The reference's defaults (mero-tee-reference.md, key constants). */
#define MT_KMS_STORE_DEFAULT_MAX_TOTAL 10000u
/* Largest max_total a store accepts (the memory store indexes with 32 bits). */
#define MT_KMS_STORE_MAX_TOTAL (1u << 24)
/* Redis connect and command timeout, and the longest wait for the connection lock. */
#define MT_KMS_STORE_REDIS_TIMEOUT_MS 2000
/* After a failed connect, Redis calls fail at once for this long before trying again. */
#define MT_KMS_STORE_REDIS_RETRY_MS 200

struct mt_kms_store;

struct mt_kms_store_ops {
    /*
     * Store a challenge (challenge_id: 32 lowercase hex; peer_id: any
     * non-NULL string, stored raw).  MT_ERR_RATE_LIMITED when the global or
     * the per-peer limit is reached (expired entries pruned first);
     * MT_ERR_ARG for a malformed id, an id already pending or a NULL
     * argument; MT_ERR_NOMEM (memory store); MT_ERR_STORE_UNAVAILABLE when
     * the backend fails.
     */
    mt_err (*insert)(struct mt_kms_store *s, const char *challenge_id, const uint8_t nonce[32],
                     const char *peer_id, uint64_t expires_at, uint64_t now);
    /*
     * Take the challenge for peer_id: exactly once, atomically, even under
     * concurrent calls.  MT_ERR_CHALLENGE_NOT_FOUND (unknown, malformed id,
     * already consumed or pruned), MT_ERR_CHALLENGE_PEER_MISMATCH (the
     * record is NOT deleted), MT_ERR_CHALLENGE_EXPIRED (deleted),
     * MT_ERR_ARG (NULL argument), MT_ERR_STORE_UNAVAILABLE.  On success
     * nonce_out gets the nonce and the record is gone; on any failure
     * nonce_out is untouched.
     */
    mt_err (*consume)(struct mt_kms_store *s, const char *challenge_id, const char *peer_id,
                      uint64_t now, uint8_t nonce_out[32]);
    /* Readiness: MT_OK when usable (Redis: PING answered), else MT_ERR_STORE_UNAVAILABLE. */
    mt_err (*ping)(struct mt_kms_store *s);
    /* Live (expires_at > now) pending challenges, for /metrics. */
    mt_err (*count)(struct mt_kms_store *s, uint64_t now, size_t *out);
    /* Release everything (wiping nonces).  Not NULL-safe: use mt_kms_store_free. */
    void (*free)(struct mt_kms_store *s);
};

/* Backends embed this first. */
struct mt_kms_store {
    const struct mt_kms_store_ops *ops;
};

/*
 * max_total: 1..MT_KMS_STORE_MAX_TOTAL (MT_ERR_ARG otherwise).
 * max_per_peer: 0 means no per-peer limit (only max_total applies).
 */
struct mt_kms_store_limits {
    size_t max_total;
    size_t max_per_peer;
};

/* A memory store.  MT_ERR_ARG (bad limits, NULL), MT_ERR_NOMEM, MT_ERR_CRYPTO (no randomness). */
MT_WUR mt_err mt_kms_store_mem_new(const struct mt_kms_store_limits *l, struct mt_kms_store **out);

/*
 * A Redis store for redis://[[user]:password@]host[:port][/db] (host may be
 * an [IPv6] literal; user and password are percent-decoded; port defaults
 * to 6379, db to 0).  No connection is made here: the first operation
 * connects, and every operation reconnects after a failure.  MT_ERR_ARG for
 * a bad URL (also rediss://, unix sockets and query strings, which are not
 * supported) or bad limits; MT_ERR_NOMEM.
 */
MT_WUR mt_err mt_kms_store_redis_new(const char *redis_url, const struct mt_kms_store_limits *l,
                                     struct mt_kms_store **out);

/* NULL-safe destructor for either backend. */
static inline void
mt_kms_store_free(struct mt_kms_store *s)
{
    if (s != NULL)
        s->ops->free(s);
}

/* 1 when id is exactly MT_CHALLENGE_ID_HEX lowercase hex digits (the form stores hold). */
int mt_kms_challenge_id_valid(const char *id);

/*
 * Memory store introspection, for tests and benchmarks.  bytes is what the
 * store has requested from the allocator (tables, peer strings and the
 * store itself), without the allocator's own overhead.
 */
struct mt_kms_store_mem_stats {
    size_t entries;     /* records held, including expired ones not yet pruned */
    size_t entry_cap;   /* capacity of the record array */
    size_t index_slots; /* slots of the record index */
    size_t peers;       /* distinct peers with records */
    size_t peer_cap;    /* capacity of the peer array */
    size_t peer_slots;  /* slots of the peer index */
    size_t bytes;       /* heap bytes requested */
    uint64_t prunes;    /* full pruning passes so far */
    uint64_t pruned;    /* records removed by pruning so far */
};
/* MT_ERR_ARG when s is not a memory store. */
MT_WUR mt_err mt_kms_store_mem_stats(struct mt_kms_store *s, struct mt_kms_store_mem_stats *out);

#endif
