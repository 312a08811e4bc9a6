/*
 * The challenge store (mero-tee-reference.md 1.13; kms_store.h).  One
 * conformance suite, a table of tests that each take a store factory, runs
 * against the memory store and against a real private redis-server
 * (tests/testlib/redis_fixture.c).  Then Redis-only tests (the exact keys,
 * values and sorted sets the reference uses, Redis going away and coming
 * back, URLs) and memory-only tests (the per-challenge memory bound at
 * 100 000 pending, bounded growth under expiry, allocation failures).
 *
 * A missing redis-server makes the Redis tests FAIL, saying so.
 */
#include "mt_testlib.h"

#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <openssl/rand.h>

#include "kms/kms_store.h"
#include "redis_fixture.h"
#include "util/mt_alloc.h"
#include "util/mt_hex.h"
#include "util/mt_time.h"

#define T0 1700000000ull
#define PEER_A "12D3KooWAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define PEER_B "12D3KooWBbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

/* --- factories ------------------------------------------------------------ */

struct factory {
    const char *name;
    int redis;
};

static struct redis_fixture g_redis;
static int g_redis_up;

static const struct factory mem_factory = {"memory", 0};
static const struct factory redis_factory = {"redis", 1};

static void
redis_up(void)
{
    if (!g_redis_up) {
        redis_fixture_start(&g_redis, NULL);
        g_redis_up = 1;
    }
}

static mt_err
make_store(const struct factory *f, size_t total, size_t per_peer, struct mt_kms_store **out)
{
    struct mt_kms_store_limits l = {total, per_peer};
    char url[128];

    if (!f->redis)
        return mt_kms_store_mem_new(&l, out);
    redis_fixture_url(&g_redis, -1, url, sizeof(url));
    return mt_kms_store_redis_new(url, &l, out);
}

static struct mt_kms_store *
mk(void **state, size_t total, size_t per_peer)
{
    struct mt_kms_store *s = NULL;

    EXPECT_OK(make_store(*state, total, per_peer, &s));
    assert_non_null(s);
    return s;
}

/* Per-test setup: a clean Redis for the Redis runs. */
static int
setup_each(void **state)
{
    const struct factory *f = *state;

    if (f->redis) {
        redis_up();
        if (g_redis.pid <= 0 || g_redis.paused)
            redis_fixture_restart(&g_redis);
        redis_fixture_flush(&g_redis);
    }
    return 0;
}

static int
teardown_group(void **state)
{
    (void)state;
    if (g_redis_up)
        redis_fixture_destroy(&g_redis);
    g_redis_up = 0;
    return 0;
}

/* --- helpers ---------------------------------------------------------------- */

static void
rand_id(char out[MT_CHALLENGE_ID_HEX + 1])
{
    uint8_t b[16];

    assert_int_equal(RAND_bytes(b, sizeof(b)), 1);
    mt_hex_encode(b, sizeof(b), out);
}

static void
rand_nonce(uint8_t n[32])
{
    assert_int_equal(RAND_bytes(n, 32), 1);
}

static void
ins(struct mt_kms_store *s, const char *id, const uint8_t n[32], const char *peer, uint64_t exp,
    uint64_t now)
{
    EXPECT_OK(s->ops->insert(s, id, n, peer, exp, now));
}

static size_t
cnt(struct mt_kms_store *s, uint64_t now)
{
    size_t n = 12345;

    EXPECT_OK(s->ops->count(s, now, &n));
    return n;
}

/* Insert a fresh random challenge; its id into id (may be NULL). */
static mt_err
ins_rand(struct mt_kms_store *s, const char *peer, uint64_t exp, uint64_t now, char *id_out)
{
    char id[MT_CHALLENGE_ID_HEX + 1];
    uint8_t n[32];

    rand_id(id);
    rand_nonce(n);
    if (id_out != NULL)
        memcpy(id_out, id, sizeof(id));
    return s->ops->insert(s, id, n, peer, exp, now);
}

static double
now_s(void)
{
    return (double)mt_monotonic_us() / 1e6;
}

/* --- the conformance suite ---------------------------------------------------- */

static void
c_insert_consume(void **state)
{
    struct mt_kms_store *s = mk(state, 10, 0);
    char id[33];
    uint8_t n[32], got[32];

    rand_id(id);
    rand_nonce(n);
    EXPECT_OK(s->ops->ping(s));
    assert_int_equal(cnt(s, T0), 0);
    ins(s, id, n, PEER_A, T0 + 60, T0);
    assert_int_equal(cnt(s, T0), 1);
    memset(got, 0, sizeof(got));
    EXPECT_OK(s->ops->consume(s, id, PEER_A, T0 + 1, got));
    assert_memory_equal(got, n, 32);
    assert_int_equal(cnt(s, T0 + 1), 0);
    mt_kms_store_free(s);
}

static void
c_single_use(void **state)
{
    struct mt_kms_store *s = mk(state, 10, 0);
    char id[33];
    uint8_t n[32], got[32], untouched[32];

    rand_id(id);
    rand_nonce(n);
    ins(s, id, n, PEER_A, T0 + 60, T0);
    EXPECT_OK(s->ops->consume(s, id, PEER_A, T0, got));
    memset(got, 0xa5, sizeof(got));
    memset(untouched, 0xa5, sizeof(untouched));
    EXPECT_ERR(s->ops->consume(s, id, PEER_A, T0, got), MT_ERR_CHALLENGE_NOT_FOUND);
    EXPECT_ERR(s->ops->consume(s, id, PEER_A, T0, got), MT_ERR_CHALLENGE_NOT_FOUND);
    assert_memory_equal(got, untouched, 32); /* failures leave nonce_out alone */
    mt_kms_store_free(s);
}

static void
c_unknown_id(void **state)
{
    struct mt_kms_store *s = mk(state, 10, 0);
    static const char *bad[] = {"",
                                "abc",
                                "0123456789abcdef0123456789abcde",
                                "0123456789abcdef0123456789abcdef0",
                                "0123456789abcdef0123456789abcdeg",
                                "0123456789abcdef 123456789abcdef",
                                "index"};
    char id[33], other[33], upper[33];
    uint8_t n[32], got[32];
    size_t i;

    rand_id(id);
    rand_id(other);
    rand_nonce(n);
    EXPECT_ERR(s->ops->consume(s, other, PEER_A, T0, got), MT_ERR_CHALLENGE_NOT_FOUND);
    memcpy(id, "abcdef", 6); /* make sure it has letters to uppercase */
    ins(s, id, n, PEER_A, T0 + 60, T0);
    EXPECT_ERR(s->ops->consume(s, other, PEER_A, T0, got), MT_ERR_CHALLENGE_NOT_FOUND);
    /* lookup is by exact string: the uppercase form passes /get-key's shape check but is unknown */
    for (i = 0; i < 33; i++)
        upper[i] = (id[i] >= 'a' && id[i] <= 'f') ? (char)(id[i] - 32) : id[i];
    EXPECT_ERR(s->ops->consume(s, upper, PEER_A, T0, got), MT_ERR_CHALLENGE_NOT_FOUND);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        EXPECT_ERR(s->ops->consume(s, bad[i], PEER_A, T0, got), MT_ERR_CHALLENGE_NOT_FOUND);
    assert_int_equal(cnt(s, T0), 1);
    EXPECT_OK(s->ops->consume(s, id, PEER_A, T0, got));
    assert_memory_equal(got, n, 32);
    mt_kms_store_free(s);
}

/* Our fix of defect 7: the wrong peer must not burn the right peer's challenge. */
static void
c_wrong_peer(void **state)
{
    struct mt_kms_store *s = mk(state, 10, 0);
    char id[33];
    uint8_t n[32], got[32];

    rand_id(id);
    rand_nonce(n);
    ins(s, id, n, PEER_A, T0 + 60, T0);
    EXPECT_ERR(s->ops->consume(s, id, PEER_B, T0 + 1, got), MT_ERR_CHALLENGE_PEER_MISMATCH);
    EXPECT_ERR(s->ops->consume(s, id, PEER_B, T0 + 1, got), MT_ERR_CHALLENGE_PEER_MISMATCH);
    EXPECT_ERR(s->ops->consume(s, id, "", T0 + 1, got), MT_ERR_CHALLENGE_PEER_MISMATCH);
    assert_int_equal(cnt(s, T0 + 1), 1);
    EXPECT_OK(s->ops->consume(s, id, PEER_A, T0 + 2, got));
    assert_memory_equal(got, n, 32);
    EXPECT_ERR(s->ops->consume(s, id, PEER_B, T0 + 2, got), MT_ERR_CHALLENGE_NOT_FOUND);
    mt_kms_store_free(s);
}

static void
c_expiry(void **state)
{
    struct mt_kms_store *s = mk(state, 10, 0);
    char id[33], id2[33];
    uint8_t n[32], got[32];

    rand_id(id);
    rand_id(id2);
    rand_nonce(n);
    ins(s, id, n, PEER_A, T0 + 60, T0);
    ins(s, id2, n, PEER_A, T0 + 60, T0);
    EXPECT_OK(s->ops->consume(s, id2, PEER_A, T0 + 59, got)); /* last live second */
    EXPECT_ERR(s->ops->consume(s, id, PEER_A, T0 + 60, got), MT_ERR_CHALLENGE_EXPIRED);
    EXPECT_ERR(s->ops->consume(s, id, PEER_A, T0 + 60, got), MT_ERR_CHALLENGE_NOT_FOUND);
    assert_int_equal(cnt(s, T0 + 60), 0);
    /* the wrong peer on an expired record: mismatch first, then the record is pruned */
    ins(s, id, n, PEER_A, T0 + 70, T0 + 60);
    EXPECT_ERR(s->ops->consume(s, id, PEER_B, T0 + 70, got), MT_ERR_CHALLENGE_PEER_MISMATCH);
    EXPECT_ERR(s->ops->consume(s, id, PEER_A, T0 + 70, got), MT_ERR_CHALLENGE_NOT_FOUND);
    mt_kms_store_free(s);
}

/* CHALLENGE_TTL_SECS=0: the challenge is stored but born expired (defect 6). */
static void
c_born_expired(void **state)
{
    struct mt_kms_store *s = mk(state, 10, 0);
    char id[33];
    uint8_t n[32], got[32];

    rand_id(id);
    rand_nonce(n);
    ins(s, id, n, PEER_A, T0, T0);
    EXPECT_ERR(s->ops->consume(s, id, PEER_A, T0, got), MT_ERR_CHALLENGE_EXPIRED);
    EXPECT_ERR(s->ops->consume(s, id, PEER_A, T0, got), MT_ERR_CHALLENGE_NOT_FOUND);
    mt_kms_store_free(s);
}

/* §7 item 5: with a global limit of 1 another peer is refused. */
static void
c_global_limit_two_peers(void **state)
{
    struct mt_kms_store *s = mk(state, 1, 0);
    char id[33];
    uint8_t got[32];

    EXPECT_OK(ins_rand(s, PEER_A, T0 + 60, T0, id));
    EXPECT_ERR(ins_rand(s, PEER_B, T0 + 60, T0, NULL), MT_ERR_RATE_LIMITED);
    EXPECT_ERR(ins_rand(s, PEER_A, T0 + 60, T0, NULL), MT_ERR_RATE_LIMITED);
    EXPECT_OK(s->ops->consume(s, id, PEER_A, T0, got));
    EXPECT_OK(ins_rand(s, PEER_B, T0 + 60, T0, NULL));
    mt_kms_store_free(s);
}

/* §7 item 6: expired challenges are pruned on the next insert and free capacity. */
static void
c_prune_frees_global(void **state)
{
    struct mt_kms_store *s = mk(state, 2, 0);
    char a[33], b[33];
    uint8_t got[32];

    EXPECT_OK(ins_rand(s, PEER_A, T0 + 10, T0, a));
    EXPECT_OK(ins_rand(s, PEER_A, T0 + 20, T0, b));
    EXPECT_ERR(ins_rand(s, PEER_B, T0 + 70, T0 + 9, NULL), MT_ERR_RATE_LIMITED);
    EXPECT_OK(ins_rand(s, PEER_B, T0 + 70, T0 + 10, NULL)); /* a pruned */
    EXPECT_ERR(s->ops->consume(s, a, PEER_A, T0 + 10, got), MT_ERR_CHALLENGE_NOT_FOUND);
    EXPECT_ERR(ins_rand(s, PEER_B, T0 + 70, T0 + 19, NULL), MT_ERR_RATE_LIMITED);
    EXPECT_OK(ins_rand(s, PEER_B, T0 + 70, T0 + 25, NULL)); /* b pruned */
    EXPECT_ERR(s->ops->consume(s, b, PEER_A, T0 + 25, got), MT_ERR_CHALLENGE_NOT_FOUND);
    assert_int_equal(cnt(s, T0 + 25), 2);
    assert_int_equal(cnt(s, T0 + 70), 0);
    mt_kms_store_free(s);
}

static void
c_prune_frees_per_peer(void **state)
{
    struct mt_kms_store *s = mk(state, 100, 2);
    char a1[33];
    uint8_t got[32];

    EXPECT_OK(ins_rand(s, PEER_A, T0 + 10, T0, a1));
    EXPECT_OK(ins_rand(s, PEER_A, T0 + 30, T0, NULL));
    EXPECT_ERR(ins_rand(s, PEER_A, T0 + 70, T0 + 5, NULL), MT_ERR_RATE_LIMITED);
    EXPECT_OK(ins_rand(s, PEER_B, T0 + 70, T0 + 5, NULL));
    EXPECT_OK(ins_rand(s, PEER_A, T0 + 70, T0 + 10, NULL)); /* a1 pruned */
    EXPECT_ERR(s->ops->consume(s, a1, PEER_A, T0 + 10, got), MT_ERR_CHALLENGE_NOT_FOUND);
    EXPECT_ERR(ins_rand(s, PEER_A, T0 + 70, T0 + 10, NULL), MT_ERR_RATE_LIMITED);
    mt_kms_store_free(s);
}

/* The per-peer limit (our fix of defect 1): one client cannot exhaust the pool. */
static void
c_per_peer_limit(void **state)
{
    struct mt_kms_store *s = mk(state, 100, 3);
    char ids[3][33];
    uint8_t got[32];
    int i;

    for (i = 0; i < 3; i++)
        EXPECT_OK(ins_rand(s, PEER_A, T0 + 60, T0, ids[i]));
    EXPECT_ERR(ins_rand(s, PEER_A, T0 + 60, T0, NULL), MT_ERR_RATE_LIMITED);
    EXPECT_ERR(ins_rand(s, PEER_A, T0 + 60, T0, NULL), MT_ERR_RATE_LIMITED);
    for (i = 0; i < 3; i++)
        EXPECT_OK(ins_rand(s, PEER_B, T0 + 60, T0, NULL));
    EXPECT_ERR(ins_rand(s, PEER_B, T0 + 60, T0, NULL), MT_ERR_RATE_LIMITED);
    /* a mismatched consume does not free the slot; a real one does */
    EXPECT_ERR(s->ops->consume(s, ids[0], PEER_B, T0, got), MT_ERR_CHALLENGE_PEER_MISMATCH);
    EXPECT_ERR(ins_rand(s, PEER_A, T0 + 60, T0, NULL), MT_ERR_RATE_LIMITED);
    EXPECT_OK(s->ops->consume(s, ids[0], PEER_A, T0, got));
    EXPECT_OK(ins_rand(s, PEER_A, T0 + 60, T0, NULL));
    assert_int_equal(cnt(s, T0), 6);
    mt_kms_store_free(s);
}

/* max_per_peer 0 (or >= max_total): only the global limit applies. */
static void
c_limits(void **state)
{
    const struct factory *f = *state;
    struct mt_kms_store *s = NULL;
    int i;

    EXPECT_ERR(make_store(f, 0, 0, &s), MT_ERR_ARG);
    EXPECT_ERR(make_store(f, (size_t)MT_KMS_STORE_MAX_TOTAL + 1, 0, &s), MT_ERR_ARG);
    assert_null(s);
    s = mk(state, 5, 0);
    for (i = 0; i < 5; i++)
        EXPECT_OK(ins_rand(s, PEER_A, T0 + 60, T0, NULL));
    EXPECT_ERR(ins_rand(s, PEER_A, T0 + 60, T0, NULL), MT_ERR_RATE_LIMITED);
    mt_kms_store_free(s);
    /* later than everything above, which a shared backend (Redis) still holds until pruned */
    s = mk(state, 3, 7);
    for (i = 0; i < 3; i++)
        EXPECT_OK(ins_rand(s, PEER_A, T0 + 160, T0 + 100, NULL));
    EXPECT_ERR(ins_rand(s, PEER_B, T0 + 160, T0 + 100, NULL), MT_ERR_RATE_LIMITED);
    mt_kms_store_free(s);
}

static void
c_count(void **state)
{
    struct mt_kms_store *s = mk(state, 10, 0);

    EXPECT_OK(ins_rand(s, PEER_A, T0 + 10, T0, NULL));
    EXPECT_OK(ins_rand(s, PEER_B, T0 + 20, T0, NULL));
    EXPECT_OK(ins_rand(s, PEER_B, T0 + 30, T0, NULL));
    assert_int_equal(cnt(s, T0), 3);
    assert_int_equal(cnt(s, T0 + 9), 3);
    assert_int_equal(cnt(s, T0 + 10), 2);
    assert_int_equal(cnt(s, T0 + 29), 1);
    assert_int_equal(cnt(s, T0 + 30), 0);
    mt_kms_store_free(s);
}

/* An id already pending: the identical record again is a no-op, anything else is refused. */
static void
c_duplicate_id(void **state)
{
    struct mt_kms_store *s = mk(state, 10, 0);
    char id[33];
    uint8_t n[32], n2[32], got[32];

    rand_id(id);
    rand_nonce(n);
    memcpy(n2, n, 32);
    n2[31] ^= 1;
    ins(s, id, n, PEER_A, T0 + 60, T0);
    EXPECT_OK(s->ops->insert(s, id, n, PEER_A, T0 + 60, T0));
    EXPECT_ERR(s->ops->insert(s, id, n2, PEER_A, T0 + 60, T0), MT_ERR_ARG);
    EXPECT_ERR(s->ops->insert(s, id, n, PEER_B, T0 + 60, T0), MT_ERR_ARG);
    EXPECT_ERR(s->ops->insert(s, id, n, PEER_A, T0 + 61, T0), MT_ERR_ARG);
    assert_int_equal(cnt(s, T0), 1);
    EXPECT_OK(s->ops->consume(s, id, PEER_A, T0, got));
    assert_memory_equal(got, n, 32);
    mt_kms_store_free(s);
}

static void
c_bad_args(void **state)
{
    struct mt_kms_store *s = mk(state, 10, 0);
    char id[33], upper[33];
    uint8_t n[32], got[32];
    size_t c = 0;

    rand_id(id);
    rand_nonce(n);
    memcpy(upper, "ABCDEF0123456789ABCDEF0123456789", 33);
    EXPECT_ERR(s->ops->insert(s, NULL, n, PEER_A, T0 + 60, T0), MT_ERR_ARG);
    EXPECT_ERR(s->ops->insert(s, "abc", n, PEER_A, T0 + 60, T0), MT_ERR_ARG);
    EXPECT_ERR(s->ops->insert(s, upper, n, PEER_A, T0 + 60, T0), MT_ERR_ARG);
    EXPECT_ERR(s->ops->insert(s, id, NULL, PEER_A, T0 + 60, T0), MT_ERR_ARG);
    EXPECT_ERR(s->ops->insert(s, id, n, NULL, T0 + 60, T0), MT_ERR_ARG);
    EXPECT_ERR(s->ops->consume(s, NULL, PEER_A, T0, got), MT_ERR_ARG);
    EXPECT_ERR(s->ops->consume(s, id, NULL, T0, got), MT_ERR_ARG);
    EXPECT_ERR(s->ops->consume(s, id, PEER_A, T0, NULL), MT_ERR_ARG);
    EXPECT_ERR(s->ops->count(s, T0, NULL), MT_ERR_ARG);
    EXPECT_OK(s->ops->count(s, T0, &c));
    assert_int_equal(c, 0);
    mt_kms_store_free(s);
    mt_kms_store_free(NULL);
}

/* Peer ids are stored raw and compared byte for byte (the handler passes the untrimmed string). */
static void
c_peer_exact_bytes(void **state)
{
    struct mt_kms_store *s = mk(state, 100, 0);
    static const char *peers[] = {" " PEER_A "\t\n", "quote\"back\\slash/\x01\x1f\x7f",
                                  "utf8-\xc3\xa9\xe2\x82\xac", ""};
    char ids[5][33], *longp;
    uint8_t n[5][32], got[32];
    size_t i;

    longp = malloc(4097);
    assert_non_null(longp);
    memset(longp, 'z', 4096);
    longp[4096] = '\0';
    for (i = 0; i < 5; i++) {
        rand_id(ids[i]);
        rand_nonce(n[i]);
        ins(s, ids[i], n[i], i < 4 ? peers[i] : longp, T0 + 60, T0);
    }
    EXPECT_ERR(s->ops->consume(s, ids[0], PEER_A, T0, got), MT_ERR_CHALLENGE_PEER_MISMATCH);
    EXPECT_ERR(s->ops->consume(s, ids[0], " " PEER_A, T0, got), MT_ERR_CHALLENGE_PEER_MISMATCH);
    longp[4095] = 'y';
    EXPECT_ERR(s->ops->consume(s, ids[4], longp, T0, got), MT_ERR_CHALLENGE_PEER_MISMATCH);
    longp[4095] = 'z';
    EXPECT_ERR(s->ops->consume(s, ids[3], " ", T0, got), MT_ERR_CHALLENGE_PEER_MISMATCH);
    for (i = 0; i < 5; i++) {
        EXPECT_OK(s->ops->consume(s, ids[i], i < 4 ? peers[i] : longp, T0, got));
        assert_memory_equal(got, n[i], 32);
    }
    free(longp);
    mt_kms_store_free(s);
}

/* Enough records to make the memory store grow and shrink its tables; random consume order. */
static void
c_many(void **state)
{
    const struct factory *f = *state;
    size_t total = f->redis ? 1500 : 20000, i, j;
    struct mt_kms_store *s = mk(state, total, 0);
    char(*ids)[33] = malloc(total * 33);
    uint8_t(*nonces)[32] = malloc(total * 32), got[32];
    size_t *order = malloc(total * sizeof(size_t)), tmp;
    char peer[32];

    assert_non_null(ids);
    assert_non_null(nonces);
    assert_non_null(order);
    for (i = 0; i < total; i++) {
        rand_id(ids[i]);
        rand_nonce(nonces[i]);
        snprintf(peer, sizeof(peer), "peer-%zu", i % 97);
        ins(s, ids[i], nonces[i], peer, T0 + 60 + i % 7, T0);
        order[i] = i;
    }
    EXPECT_ERR(ins_rand(s, PEER_A, T0 + 60, T0, NULL), MT_ERR_RATE_LIMITED);
    assert_int_equal(cnt(s, T0), total);
    for (i = total - 1; i > 0; i--) {
        j = (size_t)rand() % (i + 1);
        tmp = order[i];
        order[i] = order[j];
        order[j] = tmp;
    }
    for (i = 0; i < total; i++) {
        j = order[i];
        snprintf(peer, sizeof(peer), "peer-%zu", j % 97);
        EXPECT_OK(s->ops->consume(s, ids[j], peer, T0 + 1, got));
        assert_memory_equal(got, nonces[j], 32);
        if (i % 1000 == 0)
            assert_int_equal(cnt(s, T0 + 1), total - i - 1);
    }
    assert_int_equal(cnt(s, T0 + 1), 0);
    free(ids);
    free(nonces);
    free(order);
    mt_kms_store_free(s);
}

/* §7 item 35: many concurrent consumes of one challenge, exactly one wins. */
#define RACERS 100

struct race {
    struct mt_kms_store *s;
    const char *id;
    pthread_barrier_t *bar;
    mt_err rv;
    uint8_t nonce[32];
};

static void *
race_main(void *arg)
{
    struct race *r = arg;

    pthread_barrier_wait(r->bar);
    r->rv = r->s->ops->consume(r->s, r->id, PEER_A, T0 + 1, r->nonce);
    return NULL;
}

/* Consume one id from RACERS threads spread over `nstores` stores; returns the winners. */
static int
race_consume(struct mt_kms_store **stores, int nstores, const char *id, const uint8_t n[32])
{
    static struct race r[RACERS];
    pthread_t th[RACERS];
    pthread_barrier_t bar;
    int i, wins = 0, lost = 0;

    assert_int_equal(pthread_barrier_init(&bar, NULL, RACERS), 0);
    for (i = 0; i < RACERS; i++) {
        r[i].s = stores[i % nstores];
        r[i].id = id;
        r[i].bar = &bar;
        r[i].rv = MT_ERR_INTERNAL;
        assert_int_equal(pthread_create(&th[i], NULL, race_main, &r[i]), 0);
    }
    for (i = 0; i < RACERS; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&bar);
    for (i = 0; i < RACERS; i++) {
        if (r[i].rv == MT_OK) {
            wins++;
            assert_memory_equal(r[i].nonce, n, 32);
        } else if (r[i].rv == MT_ERR_CHALLENGE_NOT_FOUND) {
            lost++;
        } else {
            fail_msg("racer %d: %s", i, mt_err_code(r[i].rv));
        }
    }
    assert_int_equal(wins + lost, RACERS);
    return wins;
}

static void
c_race_consume(void **state)
{
    struct mt_kms_store *s = mk(state, 10, 0);
    char id[33];
    uint8_t n[32];
    int round;

    for (round = 0; round < 5; round++) {
        rand_id(id);
        rand_nonce(n);
        ins(s, id, n, PEER_A, T0 + 60, T0);
        assert_int_equal(race_consume(&s, 1, id, n), 1);
    }
    mt_kms_store_free(s);
}

/* Concurrent inserts: per-thread peers, then concurrent consumes of the same records. */
#define INS_THREADS 16
#define INS_EACH 50

struct inserter {
    struct mt_kms_store *s;
    int k;
    int ok, limited, other;
    int consumed, bad_consume;
    char ids[INS_EACH + 5][33];
};

static void *
inserter_main(void *arg)
{
    struct inserter *in = arg;
    char peer[32], id[33];
    uint8_t got[32];
    int i;
    mt_err e;

    snprintf(peer, sizeof(peer), "peer-%d", in->k);
    for (i = 0; i < INS_EACH + 5; i++) {
        e = ins_rand(in->s, peer, T0 + 60, T0, id);
        if (e == MT_OK)
            memcpy(in->ids[in->ok++], id, 33);
        else if (e == MT_ERR_RATE_LIMITED)
            in->limited++;
        else
            in->other++;
    }
    for (i = 0; i < in->ok; i++) {
        if (in->s->ops->consume(in->s, in->ids[i], peer, T0 + 1, got) == MT_OK)
            in->consumed++;
        else
            in->bad_consume++;
    }
    return NULL;
}

static void
c_concurrent_inserts(void **state)
{
    static struct inserter in[INS_THREADS];
    struct mt_kms_store *s = mk(state, INS_THREADS * INS_EACH, INS_EACH);
    pthread_t th[INS_THREADS];
    int i;

    memset(in, 0, sizeof(in));
    for (i = 0; i < INS_THREADS; i++) {
        in[i].s = s;
        in[i].k = i;
        assert_int_equal(pthread_create(&th[i], NULL, inserter_main, &in[i]), 0);
    }
    for (i = 0; i < INS_THREADS; i++)
        pthread_join(th[i], NULL);
    for (i = 0; i < INS_THREADS; i++) {
        assert_int_equal(in[i].other, 0);
        assert_int_equal(in[i].ok, INS_EACH); /* each peer hits exactly its own limit */
        assert_int_equal(in[i].limited, 5);
        assert_int_equal(in[i].consumed, INS_EACH);
        assert_int_equal(in[i].bad_consume, 0);
    }
    assert_int_equal(cnt(s, T0 + 1), 0);
    mt_kms_store_free(s);
}

/* The global limit holds exactly under concurrency. */
struct gl {
    struct mt_kms_store *s;
    int k, ok, limited, other;
};

static void *
gl_main(void *arg)
{
    struct gl *g = arg;
    char peer[32];
    int i;
    mt_err e;

    for (i = 0; i < 60; i++) {
        snprintf(peer, sizeof(peer), "p-%d-%d", g->k, i);
        e = ins_rand(g->s, peer, T0 + 60, T0, NULL);
        if (e == MT_OK)
            g->ok++;
        else if (e == MT_ERR_RATE_LIMITED)
            g->limited++;
        else
            g->other++;
    }
    return NULL;
}

static void
c_concurrent_global_limit(void **state)
{
    struct gl g[8];
    struct mt_kms_store *s = mk(state, 200, 1);
    pthread_t th[8];
    int i, ok = 0, limited = 0;

    memset(g, 0, sizeof(g));
    for (i = 0; i < 8; i++) {
        g[i].s = s;
        g[i].k = i;
        assert_int_equal(pthread_create(&th[i], NULL, gl_main, &g[i]), 0);
    }
    for (i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(g[i].other, 0);
        ok += g[i].ok;
        limited += g[i].limited;
    }
    assert_int_equal(ok, 200);
    assert_int_equal(limited, 8 * 60 - 200);
    assert_int_equal(cnt(s, T0), 200);
    mt_kms_store_free(s);
}

/* --- Redis only -------------------------------------------------------------- */

static redisReply *
rcmd(redisContext *c, const char *fmt, ...)
{
    va_list ap;
    redisReply *r;

    va_start(ap, fmt);
    r = redisvCommand(c, fmt, ap);
    va_end(ap);
    if (r == NULL)
        fail_msg("inspection command failed: %s", c->errstr);
    return r;
}

static long long
rint_(redisContext *c, const char *fmt, const char *a, const char *b)
{
    redisReply *r = rcmd(c, fmt, a, b);
    long long v;

    if (r->type != REDIS_REPLY_INTEGER)
        fail_msg("%s: not an integer reply (type %d)", fmt, r->type);
    v = r->integer;
    freeReplyObject(r);
    return v;
}

static char *
rstr(redisContext *c, const char *fmt, const char *a, const char *b)
{
    redisReply *r = rcmd(c, fmt, a, b);
    char *s = NULL;

    if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS)
        s = strdup(r->str);
    freeReplyObject(r);
    return s;
}

#define KP "mero-kms-phala:challenge:"

/* §7 item 35 / §1.13: exactly the reference's keys, value JSON and index members. */
static void
r_layout(void **state)
{
    struct mt_kms_store *s = mk(state, 10, 5);
    redisContext *c = redis_fixture_connect(&g_redis, 0);
    const char *id = "0123456789abcdef0123456789abcdef";
    const char *key = KP "0123456789abcdef0123456789abcdef";
    const char *pkey = KP "peer:12D3KooWTest";
    char want[512], *v;
    uint8_t n[32], got[32];
    size_t o;
    int i;
    redisReply *r;

    for (i = 0; i < 32; i++)
        n[i] = (uint8_t)(i * 8);
    ins(s, id, n, "12D3KooWTest", 1712345678, 1712345678 - 60);
    o = (size_t)snprintf(want, sizeof(want), "{\"nonce\":[");
    for (i = 0; i < 32; i++)
        o += (size_t)snprintf(want + o, sizeof(want) - o, i ? ",%d" : "%d", i * 8);
    snprintf(want + o, sizeof(want) - o,
             "],\"peer_id\":\"12D3KooWTest\",\"expires_at\":1712345678}");
    v = rstr(c, "GET %s", key, NULL);
    assert_non_null(v);
    assert_string_equal(v, want);
    free(v);
    v = rstr(c, "TYPE %s", KP "index", NULL);
    assert_string_equal(v, "zset");
    free(v);
    v = rstr(c, "TYPE %s", pkey, NULL);
    assert_string_equal(v, "zset");
    free(v);
    v = rstr(c, "ZSCORE %s %s", KP "index", key);
    assert_string_equal(v, "1712345678");
    free(v);
    v = rstr(c, "ZSCORE %s %s", pkey, key);
    assert_string_equal(v, "1712345678");
    free(v);
    assert_int_equal(rint_(c, "ZCARD %s", KP "index", NULL), 1);
    assert_int_equal(rint_(c, "ZCARD %s", pkey, NULL), 1);
    i = (int)rint_(c, "TTL %s", key, NULL);
    assert_true(i >= 58 && i <= 60);
    i = (int)rint_(c, "TTL %s", pkey, NULL);
    assert_true(i >= 58 && i <= 60);
    r = rcmd(c, "KEYS %s", KP "*");
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_int_equal(r->elements, 3); /* the record, the index, the peer set: nothing else */
    freeReplyObject(r);
    EXPECT_OK(s->ops->consume(s, id, "12D3KooWTest", 1712345678 - 30, got));
    assert_memory_equal(got, n, 32);
    assert_int_equal(rint_(c, "EXISTS %s", key, NULL), 0);
    assert_int_equal(rint_(c, "ZCARD %s", KP "index", NULL), 0);
    assert_int_equal(rint_(c, "ZCARD %s", pkey, NULL), 0);
    redisFree(c);
    mt_kms_store_free(s);
}

/* serde_json's escaping of the raw peer id, and a saturated expires_at. */
static void
r_escaping(void **state)
{
    struct mt_kms_store *s = mk(state, 10, 0);
    redisContext *c = redis_fixture_connect(&g_redis, 0);
    const char *id = "ffffffffffffffffffffffffffffffff";
    const char *peer = " a\"b\\c/d\n\t\r\b\f\x01\x1f\x7f\xc3\xa9 ";
    char *v;
    uint8_t n[32], got[32];

    memset(n, 255, sizeof(n));
    ins(s, id, n, peer, UINT64_MAX, T0);
    v = rstr(c, "GET %s", KP "ffffffffffffffffffffffffffffffff", NULL);
    assert_non_null(v);
    assert_non_null(strstr(v,
                           ",\"peer_id\":\" a\\\"b\\\\c/d\\n\\t\\r\\b\\f\\u0001\\u001f\x7f\xc3\xa9 "
                           "\",\"expires_at\":18446744073709551615}"));
    assert_non_null(strstr(v, "{\"nonce\":[255,255,"));
    free(v);
    EXPECT_OK(s->ops->consume(s, id, peer, T0 + 1000000, got));
    assert_memory_equal(got, n, 32);
    redisFree(c);
    mt_kms_store_free(s);
}

/* A record written the way mero-kms-phala writes it (no per-peer set) is consumed normally. */
static void
r_reference_record(void **state)
{
    struct mt_kms_store *s = mk(state, 10, 0);
    redisContext *c = redis_fixture_connect(&g_redis, 0);
    const char *id = "00112233445566778899aabbccddeeff";
    char val[512];
    uint8_t n[32], got[32];
    size_t o;
    int i;
    redisReply *r;

    o = (size_t)snprintf(val, sizeof(val), "{\"nonce\":[");
    for (i = 0; i < 32; i++) {
        n[i] = (uint8_t)(200 + i);
        o += (size_t)snprintf(val + o, sizeof(val) - o, i ? ",%d" : "%d", 200 + i);
    }
    snprintf(val + o, sizeof(val) - o, "],\"peer_id\":\"%s\",\"expires_at\":%llu}", PEER_A,
             (unsigned long long)(T0 + 60));
    r = rcmd(c, "SET %s %s EX 60", KP "00112233445566778899aabbccddeeff", val);
    freeReplyObject(r);
    r = rcmd(c, "ZADD %s %llu %s", KP "index", (unsigned long long)(T0 + 60),
             KP "00112233445566778899aabbccddeeff");
    freeReplyObject(r);
    assert_int_equal(cnt(s, T0), 1);
    EXPECT_ERR(s->ops->consume(s, id, PEER_B, T0, got), MT_ERR_CHALLENGE_PEER_MISMATCH);
    EXPECT_OK(s->ops->consume(s, id, PEER_A, T0, got));
    assert_memory_equal(got, n, 32);
    assert_int_equal(rint_(c, "ZCARD %s", KP "index", NULL), 0);
    redisFree(c);
    mt_kms_store_free(s);
}

/* A malformed record is an error (not a crash, not a success) and is left for an operator. */
static void
r_corrupt_record(void **state)
{
    struct mt_kms_store *s = mk(state, 10, 0);
    redisContext *c = redis_fixture_connect(&g_redis, 0);
    static const char *vals[] = {"not json", "{\"nonce\":[1,2],\"peer_id\":\"x\",\"expires_at\":1}",
                                 "{\"nonce\":\"x\",\"peer_id\":\"x\",\"expires_at\":1}", "[]"};
    uint8_t got[32];
    size_t i;
    redisReply *r;

    for (i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        r = rcmd(c, "SET %s %s", KP "0123456789abcdef0123456789abcdef", vals[i]);
        freeReplyObject(r);
        EXPECT_ERR(s->ops->consume(s, "0123456789abcdef0123456789abcdef", "x", T0, got),
                   MT_ERR_STORE_UNAVAILABLE);
        assert_int_equal(rint_(c, "EXISTS %s", KP "0123456789abcdef0123456789abcdef", NULL), 1);
    }
    /* a key of the wrong type */
    r = rcmd(c, "DEL %s", KP "0123456789abcdef0123456789abcdef");
    freeReplyObject(r);
    r = rcmd(c, "LPUSH %s x", KP "0123456789abcdef0123456789abcdef");
    freeReplyObject(r);
    EXPECT_ERR(s->ops->consume(s, "0123456789abcdef0123456789abcdef", "x", T0, got),
               MT_ERR_STORE_UNAVAILABLE);
    EXPECT_OK(s->ops->ping(s));
    redisFree(c);
    mt_kms_store_free(s);
}

/* Pruning deletes the records of expired index members and trims peer sets by score. */
static void
r_prune_records(void **state)
{
    struct mt_kms_store *s = mk(state, 10, 2);
    redisContext *c = redis_fixture_connect(&g_redis, 0);
    char a[33], key[80];

    EXPECT_OK(ins_rand(s, PEER_A, T0 + 10, T0, a));
    EXPECT_OK(ins_rand(s, PEER_A, T0 + 100, T0, NULL));
    snprintf(key, sizeof(key), KP "%s", a);
    assert_int_equal(rint_(c, "EXISTS %s", key, NULL), 1);
    EXPECT_OK(ins_rand(s, PEER_B, T0 + 100, T0 + 10, NULL));
    assert_int_equal(rint_(c, "EXISTS %s", key, NULL), 0);
    assert_int_equal(rint_(c, "ZCARD %s", KP "index", NULL), 2);
    assert_int_equal(rint_(c, "ZCARD %s", KP "peer:" PEER_A, NULL), 2); /* stale until A inserts */
    EXPECT_OK(ins_rand(s, PEER_A, T0 + 100, T0 + 10, NULL));
    assert_int_equal(rint_(c, "ZCARD %s", KP "peer:" PEER_A, NULL), 2);
    EXPECT_ERR(ins_rand(s, PEER_A, T0 + 100, T0 + 10, NULL), MT_ERR_RATE_LIMITED);
    redisFree(c);
    mt_kms_store_free(s);
}

/* EVALSHA falls back to EVAL when Redis forgot the scripts (SCRIPT FLUSH, restart). */
static void
r_noscript(void **state)
{
    struct mt_kms_store *s = mk(state, 10, 0);
    redisContext *c = redis_fixture_connect(&g_redis, 0);
    char id[33];
    uint8_t got[32];
    redisReply *r;

    EXPECT_OK(ins_rand(s, PEER_A, T0 + 60, T0, id));
    r = rcmd(c, "SCRIPT FLUSH");
    freeReplyObject(r);
    EXPECT_OK(s->ops->consume(s, id, PEER_A, T0, got));
    r = rcmd(c, "SCRIPT FLUSH");
    freeReplyObject(r);
    EXPECT_OK(ins_rand(s, PEER_A, T0 + 60, T0, NULL));
    redisFree(c);
    mt_kms_store_free(s);
}

/* Several stores (several KMS processes) racing for one challenge through Lua: one winner. */
static void
r_race_many_connections(void **state)
{
    struct mt_kms_store *st[4];
    char id[33];
    uint8_t n[32];
    int i;

    for (i = 0; i < 4; i++)
        st[i] = mk(state, 10, 0);
    for (i = 0; i < 3; i++) {
        rand_id(id);
        rand_nonce(n);
        ins(st[i], id, n, PEER_A, T0 + 60, T0);
        assert_int_equal(race_consume(st, 4, id, n), 1);
    }
    for (i = 0; i < 4; i++)
        mt_kms_store_free(st[i]);
}

/* Every operation fails with MT_ERR_STORE_UNAVAILABLE within `limit` seconds. */
static void
expect_unavailable(struct mt_kms_store *s, const char *id, double limit)
{
    uint8_t n[32] = {0}, got[32];
    size_t c;
    double t;

    t = now_s();
    EXPECT_ERR(s->ops->ping(s), MT_ERR_STORE_UNAVAILABLE);
    assert_true(now_s() - t < limit);
    t = now_s();
    EXPECT_ERR(s->ops->insert(s, "0123456789abcdef0123456789abcdef", n, PEER_A, T0 + 60, T0),
               MT_ERR_STORE_UNAVAILABLE);
    assert_true(now_s() - t < limit);
    t = now_s();
    EXPECT_ERR(s->ops->consume(s, id, PEER_A, T0, got), MT_ERR_STORE_UNAVAILABLE);
    assert_true(now_s() - t < limit);
    t = now_s();
    EXPECT_ERR(s->ops->count(s, T0, &c), MT_ERR_STORE_UNAVAILABLE);
    assert_true(now_s() - t < limit);
}

/* Wait (up to 3 s) for the store to answer PING again. */
static void
expect_recovers(struct mt_kms_store *s)
{
    double t = now_s();

    while (s->ops->ping(s) != MT_OK) {
        if (now_s() - t > 3.0)
            fail_msg("store did not recover within 3 s of Redis coming back");
        usleep(20000);
    }
}

/* Redis killed mid-run: quick MT_ERR_STORE_UNAVAILABLE, and recovery once it is back. */
static void
r_killed_and_back(void **state)
{
    struct mt_kms_store *s = mk(state, 10, 0);
    char id[33];
    uint8_t got[32];

    EXPECT_OK(ins_rand(s, PEER_A, T0 + 60, T0, id));
    redis_fixture_kill(&g_redis);
    expect_unavailable(s, id, 3.0);
    expect_unavailable(s, id, 3.0);
    redis_fixture_restart(&g_redis);
    expect_recovers(s);
    /* the restarted Redis is empty (no persistence) */
    EXPECT_ERR(s->ops->consume(s, id, PEER_A, T0, got), MT_ERR_CHALLENGE_NOT_FOUND);
    EXPECT_OK(ins_rand(s, PEER_A, T0 + 60, T0, id));
    EXPECT_OK(s->ops->consume(s, id, PEER_A, T0, got));
    mt_kms_store_free(s);
}

/* A restart between two calls is invisible: the dead connection is replaced and the call retried.
 */
static void
r_restart_between_calls(void **state)
{
    struct mt_kms_store *s = mk(state, 10, 0);
    char id[33];
    uint8_t got[32];

    EXPECT_OK(s->ops->ping(s));
    redis_fixture_restart(&g_redis);
    EXPECT_OK(ins_rand(s, PEER_A, T0 + 60, T0, id));
    redis_fixture_restart(&g_redis);
    EXPECT_OK(s->ops->ping(s));
    EXPECT_ERR(s->ops->consume(s, id, PEER_A, T0, got), MT_ERR_CHALLENGE_NOT_FOUND);
    mt_kms_store_free(s);
}

/* A hung Redis (SIGSTOP): the command timeout bounds every call. */
static void
r_hung(void **state)
{
    struct mt_kms_store *s = mk(state, 10, 0);
    char id[33];
    double t;

    EXPECT_OK(ins_rand(s, PEER_A, T0 + 60, T0, id));
    redis_fixture_pause(&g_redis);
    t = now_s();
    EXPECT_ERR(s->ops->ping(s), MT_ERR_STORE_UNAVAILABLE);
    t = now_s() - t;
    assert_true(t >= 1.5 && t < 3.0);
    t = now_s();
    EXPECT_ERR(ins_rand(s, PEER_A, T0 + 60, T0, NULL), MT_ERR_STORE_UNAVAILABLE);
    assert_true(now_s() - t < 3.0);
    redis_fixture_resume(&g_redis);
    expect_recovers(s);
    EXPECT_OK(ins_rand(s, PEER_A, T0 + 60, T0, NULL));
    mt_kms_store_free(s);
}

/* Nothing listening at all: no hang, no crash. */
static void
r_unreachable(void **state)
{
    struct mt_kms_store_limits l = {10, 0};
    struct mt_kms_store *s = NULL;
    char url[64];
    int port = g_redis.port;

    (void)state;
    redis_fixture_kill(&g_redis);
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d", port);
    EXPECT_OK(mt_kms_store_redis_new(url, &l, &s));
    expect_unavailable(s, "0123456789abcdef0123456789abcdef", 3.0);
    mt_kms_store_free(s);
    redis_fixture_restart(&g_redis);
}

static void
r_urls(void **state)
{
    static const char *bad[] = {"",
                                "http://127.0.0.1:6379",
                                "rediss://127.0.0.1",
                                "unix:///tmp/redis.sock",
                                "redis+unix:///tmp/redis.sock",
                                "REDIS://host",
                                "redis://",
                                "redis:///0",
                                "redis://:pw@",
                                "redis://user@host",
                                "redis://user:@host",
                                "redis://host:",
                                "redis://host:0",
                                "redis://host:65536",
                                "redis://host:99999999999",
                                "redis://host:12a",
                                "redis://host:-1",
                                "redis://host/abc",
                                "redis://host/-1",
                                "redis://host/1/2",
                                "redis://host/99999999999",
                                "redis://host?db=1",
                                "redis://host#frag",
                                "redis://ho st",
                                "redis://ho%st",
                                "redis://[::1",
                                "redis://[]:6379",
                                "redis://[::1]x",
                                "redis://[zz]",
                                "redis://:%zz@host",
                                "redis://:%4@host",
                                "redis://:%00@host",
                                "redis://host\n"};
    static const char *good[] = {"redis://localhost",
                                 "redis://127.0.0.1:6379",
                                 "redis://redis.internal:1/15",
                                 "redis://host/",
                                 "redis://:secret@host:6380/2",
                                 "redis://:p%40ss%3Aword@host",
                                 "redis://:@host",
                                 "redis://user:pw@host",
                                 "redis://:a@b@host",
                                 "redis://[::1]:6379/0",
                                 "redis://[::1]"};
    struct mt_kms_store_limits l = {10, 0};
    struct mt_kms_store *s;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        s = NULL;
        if (mt_kms_store_redis_new(bad[i], &l, &s) != MT_ERR_ARG)
            fail_msg("URL '%s' was not rejected with bad_argument", bad[i]);
        assert_null(s);
    }
    EXPECT_ERR(mt_kms_store_redis_new(NULL, &l, &s), MT_ERR_ARG);
    EXPECT_ERR(mt_kms_store_redis_new("redis://h", NULL, &s), MT_ERR_ARG);
    EXPECT_ERR(mt_kms_store_redis_new("redis://h", &l, NULL), MT_ERR_ARG);
    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        s = NULL;
        if (mt_kms_store_redis_new(good[i], &l, &s) != MT_OK)
            fail_msg("URL '%s' was rejected", good[i]);
        mt_kms_store_free(s);
    }
}

/* Password (percent-encoded) and database from the URL; wrong credentials are unavailability. */
static void
r_password_db(void **state)
{
    struct redis_fixture pw;
    struct mt_kms_store_limits l = {10, 0};
    struct mt_kms_store *s = NULL;
    redisContext *c;
    char url[160], id[33];
    uint8_t got[32];

    (void)state;
    redis_fixture_start(&pw, "s3cr@t:pw");
    snprintf(url, sizeof(url), "redis://:s3cr%%40t%%3Apw@127.0.0.1:%d/5", pw.port);
    EXPECT_OK(mt_kms_store_redis_new(url, &l, &s));
    EXPECT_OK(s->ops->ping(s));
    EXPECT_OK(ins_rand(s, PEER_A, T0 + 60, T0, id));
    c = redis_fixture_connect(&pw, 5);
    assert_int_equal(rint_(c, "ZCARD %s", KP "index", NULL), 1);
    redisFree(c);
    c = redis_fixture_connect(&pw, 0);
    assert_int_equal(rint_(c, "EXISTS %s", KP "index", NULL), 0);
    redisFree(c);
    EXPECT_OK(s->ops->consume(s, id, PEER_A, T0, got));
    mt_kms_store_free(s);

    snprintf(url, sizeof(url), "redis://:wrong@127.0.0.1:%d", pw.port);
    EXPECT_OK(mt_kms_store_redis_new(url, &l, &s));
    EXPECT_ERR(s->ops->ping(s), MT_ERR_STORE_UNAVAILABLE);
    mt_kms_store_free(s);
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d", pw.port);
    EXPECT_OK(mt_kms_store_redis_new(url, &l, &s));
    EXPECT_ERR(s->ops->ping(s), MT_ERR_STORE_UNAVAILABLE);
    EXPECT_ERR(ins_rand(s, PEER_A, T0 + 60, T0, NULL), MT_ERR_STORE_UNAVAILABLE);
    mt_kms_store_free(s);
    redis_fixture_destroy(&pw);
}

/* --- memory only ---------------------------------------------------------------- */

static size_t
heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();

    return mi.uordblks + mi.hblkhd;
}

/*
 * 1 when mallinfo2 sees this process's allocations (not under the ASan/TSan
 * allocators).  Chunks parked in glibc's per-thread cache already count as
 * in use, so only most of the 256 KB must show up.
 */
static int
mallinfo_works(void)
{
    size_t before = heap_in_use(), after;
    void *p[256];
    int i;

    for (i = 0; i < 256; i++) {
        p[i] = malloc(1000);
        assert_non_null(p[i]);
    }
    after = heap_in_use();
    for (i = 0; i < 256; i++)
        free(p[i]);
    return after >= before + 200000;
}

/* 52-character base58 peer ids, distinct per k (the shape of real Ed25519 peer ids). */
static void
peer_of(size_t k, char out[53])
{
    snprintf(out, 53, "12D3KooW%044zu", k);
}

static void
measure(size_t limit, size_t npending, size_t peers, double *per_store, double *per_heap,
        int *heap_ok)
{
    struct mt_kms_store_limits l = {limit, 0};
    struct mt_kms_store *s = NULL;
    struct mt_kms_store_mem_stats st;
    size_t before, i;
    char id[33], peer[53];
    uint8_t n[32], b[16];

    *heap_ok = mallinfo_works();
    memset(n, 7, sizeof(n));
    before = heap_in_use();
    EXPECT_OK(mt_kms_store_mem_new(&l, &s));
    for (i = 0; i < npending; i++) {
        memset(b, 0, sizeof(b));
        memcpy(b, &i, sizeof(i));
        b[15] = 0x5a;
        mt_hex_encode(b, sizeof(b), id);
        peer_of(i % peers, peer);
        EXPECT_OK(s->ops->insert(s, id, n, peer, T0 + 60, T0));
    }
    *per_heap = (double)(heap_in_use() - before) / (double)npending;
    EXPECT_OK(mt_kms_store_mem_stats(s, &st));
    assert_int_equal(st.entries, npending);
    assert_int_equal(st.peers, peers);
    *per_store = (double)st.bytes / (double)npending;
    mt_kms_store_free(s);
}

/* The memory target: <= 256 bytes of heap per pending challenge with 100 000 pending. */
static void
m_memory_bound(void **state)
{
    double store_b, heap_b;
    int heap_ok;

    static const struct {
        size_t limit, peers;
    } runs[] = {
        {100000, 100000},                 /* limit = pending: the record array is capped */
        {MT_KMS_STORE_MAX_TOTAL, 100000}, /* no cap: growth slack included */
        {MT_KMS_STORE_MAX_TOTAL, 1000},   /* typical: many challenges per peer */
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(runs) / sizeof(runs[0]); i++) {
        measure(runs[i].limit, 100000, runs[i].peers, &store_b, &heap_b, &heap_ok);
        print_message("memory store, limit %zu, 100000 pending, %zu peers: %.1f B/challenge "
                      "requested, %.1f B/challenge heap (mallinfo2)\n",
                      runs[i].limit, runs[i].peers, store_b, heap_b);
        assert_true(store_b <= 256.0);
        if (heap_ok)
            assert_true(heap_b <= 256.0);
        else
            print_message("note: mallinfo2 does not see this build's allocator (sanitizer); "
                          "only the store's own accounting was checked\n");
    }
}

/*
 * Lazy pruning keeps the table at the live set: 300 000 inserts with a 10 s
 * TTL while the clock advances 1 s per 1 000 inserts, so about 10 000 are
 * ever live, under a limit of 100 000.
 */
static void
m_pruning_bounded(void **state)
{
    struct mt_kms_store *s = NULL;
    struct mt_kms_store_limits l = {100000, 0};
    struct mt_kms_store_mem_stats st;
    size_t i, max_entries = 0, max_bytes = 0;
    uint64_t now;
    char peer[53];

    (void)state;
    EXPECT_OK(mt_kms_store_mem_new(&l, &s));
    for (i = 0; i < 300000; i++) {
        now = T0 + i / 1000;
        peer_of(i % 5000, peer);
        EXPECT_OK(ins_rand(s, peer, now + 10, now, NULL));
        if (i % 997 == 0) {
            EXPECT_OK(mt_kms_store_mem_stats(s, &st));
            if (st.entries > max_entries)
                max_entries = st.entries;
            if (st.bytes > max_bytes)
                max_bytes = st.bytes;
        }
    }
    EXPECT_OK(mt_kms_store_mem_stats(s, &st));
    print_message("pruning: max %zu records held, max %zu bytes, %llu passes pruned %llu\n",
                  max_entries, max_bytes, (unsigned long long)st.prunes,
                  (unsigned long long)st.pruned);
    assert_true(max_entries <= 11000);
    assert_true(max_bytes <= 11000 * 256);
    assert_true(st.prunes <= 301); /* at most one pass per second of clock */
    /* everything expires: consume-side pruning empties the store and gives memory back */
    EXPECT_ERR(s->ops->consume(s, "0123456789abcdef0123456789abcdef", PEER_A, now + 11, NULL),
               MT_ERR_ARG);
    {
        uint8_t got[32];

        EXPECT_ERR(s->ops->consume(s, "0123456789abcdef0123456789abcdef", PEER_A, now + 11, got),
                   MT_ERR_CHALLENGE_NOT_FOUND);
    }
    EXPECT_OK(mt_kms_store_mem_stats(s, &st));
    assert_int_equal(st.entries, 0);
    assert_int_equal(st.peers, 0);
    assert_true(st.entry_cap <= 64);
    assert_true(st.peer_cap <= 64);
    mt_kms_store_free(s);
}

/* Out of memory at every allocation of a busy sequence: MT_ERR_NOMEM, no leak, store intact. */
static void
m_alloc_failures(void **state)
{
    struct mt_kms_store_limits l = {1000, 0};
    struct mt_kms_store *s = NULL;
    unsigned long nth;
    char ids[300][33], peer[53];
    uint8_t n[32], got[32];
    int i, inserted, failures = 0, pk[300];
    mt_err e;

    (void)state;
    rand_nonce(n);
    for (nth = 1; nth < 40; nth++) {
        mt_alloc_fail_at(nth);
        e = mt_kms_store_mem_new(&l, &s);
        if (e != MT_OK) {
            assert_int_equal(e, MT_ERR_NOMEM);
            failures++;
            continue;
        }
        inserted = 0;
        for (i = 0; i < 300; i++) {
            rand_id(ids[inserted]);
            pk[inserted] = i % 40;
            peer_of((size_t)pk[inserted], peer);
            e = s->ops->insert(s, ids[inserted], n, peer, T0 + 60, T0);
            if (e == MT_OK)
                inserted++;
            else if (e == MT_ERR_NOMEM)
                failures++;
            else
                fail_msg("insert: %s", mt_err_code(e));
        }
        mt_alloc_fail_at(0);
        assert_int_equal(cnt(s, T0), inserted);
        for (i = 0; i < inserted; i++) {
            peer_of((size_t)pk[i], peer);
            EXPECT_OK(s->ops->consume(s, ids[i], peer, T0, got));
            assert_memory_equal(got, n, 32);
        }
        assert_int_equal(cnt(s, T0), 0);
        mt_kms_store_free(s);
        s = NULL;
    }
    mt_alloc_fail_at(0);
    assert_true(failures > 0);
}

static void
m_stats_type(void **state)
{
    struct mt_kms_store_limits l = {10, 0};
    struct mt_kms_store *s = NULL;
    struct mt_kms_store_mem_stats st;

    (void)state;
    EXPECT_OK(mt_kms_store_redis_new("redis://127.0.0.1:1", &l, &s));
    EXPECT_ERR(mt_kms_store_mem_stats(s, &st), MT_ERR_ARG);
    EXPECT_ERR(mt_kms_store_mem_stats(NULL, &st), MT_ERR_ARG);
    mt_kms_store_free(s);
    assert_true(mt_kms_challenge_id_valid("0123456789abcdef0123456789abcdef"));
    assert_false(mt_kms_challenge_id_valid("0123456789ABCDEF0123456789abcdef"));
    assert_false(mt_kms_challenge_id_valid(NULL));
}

/* --- tables ------------------------------------------------------------------------ */

struct named {
    const char *name;
    CMUnitTestFunction fn;
};

static const struct named conformance[] = {
    {"insert_consume", c_insert_consume},
    {"single_use", c_single_use},
    {"unknown_id", c_unknown_id},
    {"wrong_peer_keeps_record", c_wrong_peer},
    {"expiry", c_expiry},
    {"born_expired", c_born_expired},
    {"global_limit_two_peers", c_global_limit_two_peers},
    {"prune_frees_global", c_prune_frees_global},
    {"prune_frees_per_peer", c_prune_frees_per_peer},
    {"per_peer_limit", c_per_peer_limit},
    {"limits", c_limits},
    {"count", c_count},
    {"duplicate_id", c_duplicate_id},
    {"bad_args", c_bad_args},
    {"peer_exact_bytes", c_peer_exact_bytes},
    {"many", c_many},
    {"race_consume_100_threads", c_race_consume},
    {"concurrent_inserts", c_concurrent_inserts},
    {"concurrent_global_limit", c_concurrent_global_limit},
};
#define NCONF (sizeof(conformance) / sizeof(conformance[0]))

static const struct named redis_only[] = {
    {"layout_matches_reference", r_layout},
    {"serde_escaping", r_escaping},
    {"reference_record", r_reference_record},
    {"corrupt_record", r_corrupt_record},
    {"prune_deletes_records", r_prune_records},
    {"noscript_fallback", r_noscript},
    {"race_many_connections", r_race_many_connections},
    {"killed_and_back", r_killed_and_back},
    {"restart_between_calls", r_restart_between_calls},
    {"hung_redis_times_out", r_hung},
    {"unreachable", r_unreachable},
    {"urls", r_urls},
    {"password_and_db", r_password_db},
};
#define NREDIS (sizeof(redis_only) / sizeof(redis_only[0]))

static const struct named mem_only[] = {
    {"memory_bound_100k", m_memory_bound},
    {"pruning_bounded", m_pruning_bounded},
    {"alloc_failures", m_alloc_failures},
    {"stats_type", m_stats_type},
};
#define NMEM (sizeof(mem_only) / sizeof(mem_only[0]))

static char names[NCONF * 2 + NREDIS + NMEM][96];

static size_t
add(struct CMUnitTest *t, size_t k, const char *prefix, const struct named *n, size_t count,
    const struct factory *f)
{
    size_t i;

    for (i = 0; i < count; i++, k++) {
        snprintf(names[k], sizeof(names[k]), "%s/%s", prefix, n[i].name);
        memset(&t[i], 0, sizeof(t[i]));
        t[i].name = names[k];
        t[i].test_func = n[i].fn;
        t[i].setup_func = setup_each;
        t[i].initial_state = (void *)f;
    }
    return k;
}

int
main(void)
{
    static struct CMUnitTest mem[NCONF + NMEM], red[NCONF + NREDIS];
    size_t k = 0;
    int rc = 0;

    srand((unsigned)time(NULL));
    k = add(mem, k, "memory", conformance, NCONF, &mem_factory);
    k = add(mem + NCONF, k, "memory", mem_only, NMEM, &mem_factory);
    k = add(red, k, "redis", conformance, NCONF, &redis_factory);
    (void)add(red + NCONF, k, "redis", redis_only, NREDIS, &redis_factory);
    rc |= _cmocka_run_group_tests("kms_store_memory", mem, NCONF + NMEM, NULL, NULL);
    rc |= _cmocka_run_group_tests("kms_store_redis", red, NCONF + NREDIS, NULL, teardown_group);
    return rc;
}
