/*
 * The verifier's result cache (dcap/cache.h, dcap-verify.md section 5):
 * directly (window, kinds, eviction, generations) and through
 * mt_verify_quote on the real vectors: a warm verifier answers exactly like
 * a cold one, and never hides an expiry.
 */
#include "mt_testlib.h"

#include <string.h>

#include "dcap/cache.h"
#include "dcap/dcap.h"
#include "dcap/verifier.h"
#include "util/mt_alloc.h"

#define VEC "vectors/dcap/"
#define D2_NOW ((int64_t)1752919234)
#define D1_NOW ((int64_t)1752919277)
/* D2: the PCK CRL's nextUpdate (inclusive) and the TCB Info's nextUpdate. */
#define D2_PCK_CRL_NEXT ((int64_t)1752919235)
#define D2_TCB_NEXT ((int64_t)1752920163)
#define D2_TCB_ISSUE ((int64_t)1750328163)

/* ---- the cache itself ---- */

/* Values are slots of this array; freeing one counts it. */
static int vals[16];
static int freed[16];

static void
val_free(void *p)
{
    freed[(int *)p - vals]++;
}

static void
reset_freed(void)
{
    memset(freed, 0, sizeof(freed));
}

static void
key_of(uint8_t key[32], uint8_t n)
{
    memset(key, 0, 32);
    key[0] = n;
    key[31] = (uint8_t)(0xA0 ^ n);
}

static mt_err
put(struct mt_cache *c, enum mt_cache_kind kind, uint8_t k, int64_t nb, int64_t na, int slot)
{
    uint8_t key[32];

    key_of(key, k);
    return mt_cache_put(c, kind, key, nb, na, &vals[slot], val_free);
}

static void *
get(struct mt_cache *c, enum mt_cache_kind kind, uint8_t k, int64_t now)
{
    uint8_t key[32];
    int64_t nb = -7, na = -7;
    void *v;

    key_of(key, k);
    v = mt_cache_get(c, kind, key, now, &nb, &na);
    if (v == NULL) {
        /* a miss leaves the window outputs alone */
        assert_true(nb == -7 && na == -7);
    }
    return v;
}

static void
test_window_inclusive(void **state)
{
    struct mt_cache c;
    uint8_t key[32];
    int64_t nb = 0, na = 0;

    (void)state;
    reset_freed();
    mt_cache_init(&c, 8);
    mt_cache_begin(&c);
    EXPECT_OK(put(&c, MT_CACHE_TCB_INFO, 1, 100, 200, 0));
    assert_int_equal(c.num_entries, 1);

    /* both ends are inside */
    key_of(key, 1);
    assert_ptr_equal(mt_cache_get(&c, MT_CACHE_TCB_INFO, key, 100, &nb, &na), &vals[0]);
    assert_int_equal(nb, 100);
    assert_int_equal(na, 200);
    assert_ptr_equal(get(&c, MT_CACHE_TCB_INFO, 1, 150), &vals[0]);
    assert_ptr_equal(get(&c, MT_CACHE_TCB_INFO, 1, 200), &vals[0]);
    assert_int_equal(c.hits, 3);
    assert_int_equal(c.misses, 0);
    assert_int_equal(freed[0], 0);

    /* one second after: a miss that evicts (and frees) the entry */
    assert_null(get(&c, MT_CACHE_TCB_INFO, 1, 201));
    assert_int_equal(c.num_entries, 0);
    assert_int_equal(freed[0], 1);
    assert_int_equal(c.misses, 1);
    /* gone for good, even back inside the window */
    assert_null(get(&c, MT_CACHE_TCB_INFO, 1, 150));

    /* one second before: the same */
    EXPECT_OK(put(&c, MT_CACHE_TCB_INFO, 1, 100, 200, 1));
    assert_null(get(&c, MT_CACHE_TCB_INFO, 1, 99));
    assert_int_equal(freed[1], 1);
    assert_int_equal(c.num_entries, 0);

    /* a one-second window, and the unbounded one */
    EXPECT_OK(put(&c, MT_CACHE_PCK, 2, 500, 500, 2));
    assert_ptr_equal(get(&c, MT_CACHE_PCK, 2, 500), &vals[2]);
    EXPECT_OK(put(&c, MT_CACHE_QE_REPORT, 3, INT64_MIN, INT64_MAX, 3));
    assert_ptr_equal(get(&c, MT_CACHE_QE_REPORT, 3, INT64_MIN), &vals[3]);
    assert_ptr_equal(get(&c, MT_CACHE_QE_REPORT, 3, INT64_MAX), &vals[3]);
    assert_ptr_equal(get(&c, MT_CACHE_QE_REPORT, 3, 0), &vals[3]);
    mt_cache_clear(&c);
    assert_int_equal(freed[2], 1);
    assert_int_equal(freed[3], 1);
}

static void
test_kinds_and_keys(void **state)
{
    struct mt_cache c;
    uint8_t key[32];
    int64_t nb, na;

    (void)state;
    reset_freed();
    mt_cache_init(&c, 8);
    mt_cache_begin(&c);
    /* the same key under two kinds: two entries */
    EXPECT_OK(put(&c, MT_CACHE_TCB_INFO, 1, 0, 1000, 0));
    EXPECT_OK(put(&c, MT_CACHE_QE_IDENTITY, 1, 0, 1000, 1));
    assert_ptr_equal(get(&c, MT_CACHE_TCB_INFO, 1, 10), &vals[0]);
    assert_ptr_equal(get(&c, MT_CACHE_QE_IDENTITY, 1, 10), &vals[1]);
    /* other kinds, other keys: misses that evict nothing */
    assert_null(get(&c, MT_CACHE_CHAIN, 1, 10));
    assert_null(get(&c, MT_CACHE_ROOT_CRL, 1, 10));
    assert_null(get(&c, MT_CACHE_TCB_INFO, 2, 10));
    key_of(key, 1);
    key[15] ^= 0x01; /* one bit in the middle */
    assert_null(mt_cache_get(&c, MT_CACHE_TCB_INFO, key, 10, &nb, &na));
    assert_int_equal(c.num_entries, 2);
    assert_int_equal(freed[0] + freed[1], 0);
    /* an expired lookup of one kind leaves the other kind's entry */
    assert_null(get(&c, MT_CACHE_TCB_INFO, 1, 5000));
    assert_int_equal(freed[0], 1);
    assert_ptr_equal(get(&c, MT_CACHE_QE_IDENTITY, 1, 10), &vals[1]);
    mt_cache_clear(&c);
    assert_int_equal(freed[1], 1);
}

static void
test_evict_oldest(void **state)
{
    struct mt_cache c;

    (void)state;
    reset_freed();
    mt_cache_init(&c, 3);
    mt_cache_begin(&c);
    EXPECT_OK(put(&c, MT_CACHE_CHAIN, 1, 0, 100, 1));
    EXPECT_OK(put(&c, MT_CACHE_CHAIN, 2, 0, 100, 2));
    EXPECT_OK(put(&c, MT_CACHE_CHAIN, 3, 0, 100, 3));
    assert_int_equal(c.num_entries, 3);

    /* a new verification: the oldest insertion goes */
    mt_cache_begin(&c);
    EXPECT_OK(put(&c, MT_CACHE_CHAIN, 4, 0, 100, 4));
    assert_int_equal(c.num_entries, 3);
    assert_int_equal(freed[1], 1);
    assert_null(get(&c, MT_CACHE_CHAIN, 1, 50));
    assert_ptr_equal(get(&c, MT_CACHE_CHAIN, 2, 50), &vals[2]); /* touches 2 */

    /* 2 was touched in this generation: 3 is now the oldest evictable */
    EXPECT_OK(put(&c, MT_CACHE_CHAIN, 5, 0, 100, 5));
    assert_int_equal(freed[3], 1);
    assert_int_equal(freed[2], 0);
    assert_ptr_equal(get(&c, MT_CACHE_CHAIN, 2, 50), &vals[2]);
    assert_ptr_equal(get(&c, MT_CACHE_CHAIN, 4, 50), &vals[4]);
    assert_ptr_equal(get(&c, MT_CACHE_CHAIN, 5, 50), &vals[5]);

    /* next generation: touching an old entry protects it, seq order picks the rest */
    mt_cache_begin(&c);
    assert_ptr_equal(get(&c, MT_CACHE_CHAIN, 2, 50), &vals[2]);
    EXPECT_OK(put(&c, MT_CACHE_CHAIN, 6, 0, 100, 6));
    assert_int_equal(freed[4], 1); /* 4 (seq 3) before 5 (seq 4); 2 pinned */
    mt_cache_clear(&c);
    assert_int_equal(freed[2] + freed[5] + freed[6], 3);
}

/* Entries of the running verification are never evicted; the new value is dropped instead. */
static void
test_current_generation_pinned(void **state)
{
    struct mt_cache c;

    (void)state;
    reset_freed();
    mt_cache_init(&c, 2);
    mt_cache_begin(&c);
    EXPECT_OK(put(&c, MT_CACHE_PCK, 1, 0, 100, 1));
    EXPECT_OK(put(&c, MT_CACHE_PCK, 2, 0, 100, 2));
    EXPECT_ERR(put(&c, MT_CACHE_PCK, 3, 0, 100, 3), MT_ERR_NOMEM);
    assert_int_equal(freed[3], 1); /* the cache owned it, so it freed it */
    assert_int_equal(freed[1] + freed[2], 0);
    assert_ptr_equal(get(&c, MT_CACHE_PCK, 1, 1), &vals[1]);
    assert_ptr_equal(get(&c, MT_CACHE_PCK, 2, 1), &vals[2]);
    assert_null(get(&c, MT_CACHE_PCK, 3, 1));

    /* an entry read (not inserted) in this generation is pinned as well */
    mt_cache_begin(&c);
    assert_ptr_equal(get(&c, MT_CACHE_PCK, 1, 1), &vals[1]);
    assert_ptr_equal(get(&c, MT_CACHE_PCK, 2, 1), &vals[2]);
    EXPECT_ERR(put(&c, MT_CACHE_PCK, 4, 0, 100, 4), MT_ERR_NOMEM);
    assert_int_equal(freed[4], 1);

    /* a fresh generation frees them up again */
    mt_cache_begin(&c);
    EXPECT_OK(put(&c, MT_CACHE_PCK, 5, 0, 100, 5));
    assert_int_equal(freed[1], 1);
    mt_cache_clear(&c);
}

static void
test_degenerate(void **state)
{
    struct mt_cache c;
    uint8_t key[32];

    (void)state;
    reset_freed();
    /* a cache with room for nothing drops every value */
    mt_cache_init(&c, 0);
    mt_cache_begin(&c);
    EXPECT_ERR(put(&c, MT_CACHE_CHAIN, 1, 0, 100, 1), MT_ERR_NOMEM);
    assert_int_equal(freed[1], 1);
    assert_null(get(&c, MT_CACHE_CHAIN, 1, 1));
    mt_cache_clear(&c);

    /* values without a free function */
    mt_cache_init(&c, 2);
    key_of(key, 7);
    EXPECT_OK(mt_cache_put(&c, MT_CACHE_CHAIN, key, 0, 10, &vals[7], NULL));
    assert_null(get(&c, MT_CACHE_CHAIN, 7, 11));
    assert_int_equal(freed[7], 0);
    EXPECT_OK(mt_cache_put(&c, MT_CACHE_CHAIN, key, 0, 10, &vals[7], NULL));
    mt_cache_clear(&c);
    assert_int_equal(freed[7], 0);

    /* the entry table's allocation failing drops the value with NOMEM */
    mt_cache_init(&c, 4);
    mt_alloc_fail_at(1);
    EXPECT_ERR(put(&c, MT_CACHE_CHAIN, 8, 0, 10, 8), MT_ERR_NOMEM);
    mt_alloc_fail_at(0);
    assert_int_equal(freed[8], 1);
    assert_int_equal(c.num_entries, 0);
    EXPECT_OK(put(&c, MT_CACHE_CHAIN, 8, 0, 10, 9));
    mt_cache_clear(&c);
    assert_int_equal(freed[9], 1);
}

static void
test_clear(void **state)
{
    struct mt_cache c;
    int i;

    (void)state;
    reset_freed();
    mt_cache_init(&c, 8);
    mt_cache_begin(&c);
    for (i = 0; i < 5; i++)
        EXPECT_OK(put(&c, MT_CACHE_TCB_INFO, (uint8_t)i, 0, 100, i));
    mt_cache_clear(&c);
    for (i = 0; i < 5; i++)
        assert_int_equal(freed[i], 1);
    assert_int_equal(c.num_entries, 0);
    assert_null(c.entries);
    assert_int_equal(c.max_entries, 8);
    /* clearing twice, and using it afterwards */
    mt_cache_clear(&c);
    EXPECT_OK(put(&c, MT_CACHE_TCB_INFO, 1, 0, 100, 10));
    assert_ptr_equal(get(&c, MT_CACHE_TCB_INFO, 1, 5), &vals[10]);
    mt_cache_clear(&c);
    assert_int_equal(freed[10], 1);
}

/* ---- through the verifier, on the real vectors ---- */

struct vector {
    uint8_t *quote;
    size_t quote_len;
    struct mt_collateral *col;
};

static void
vector_load(struct vector *v, const char *quote, const char *collateral)
{
    uint8_t *text;
    size_t len;

    v->quote = mt_test_read_shared(quote, &v->quote_len);
    text = mt_test_read_shared(collateral, &len);
    EXPECT_OK(mt_collateral_parse((const char *)text, len, &v->col));
    mt_free(text);
}

static void
vector_free(struct vector *v)
{
    mt_free(v->quote);
    mt_collateral_free(v->col);
}

static struct vector d1, d2;

static int
setup(void **state)
{
    (void)state;
    vector_load(&d2, VEC "D2_tdx_quote.bin", VEC "D2_tdx_quote_collateral.json");
    vector_load(&d1, VEC "D1_sgx_quote.bin", VEC "D1_sgx_quote_collateral.json");
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    vector_free(&d1);
    vector_free(&d2);
    return 0;
}

static struct mt_verifier *
verifier(int no_cache)
{
    struct mt_verifier_opts opts;
    struct mt_verifier *v = NULL;

    memset(&opts, 0, sizeof(opts));
    opts.no_cache = no_cache;
    EXPECT_OK(mt_verifier_new(&opts, &v));
    assert_true(mt_verifier_is_intel_root(v));
    return v;
}

static mt_err
verify(struct mt_verifier *v, const struct vector *vec, int64_t now, struct mt_verdict *out)
{
    return mt_verify_quote(v, vec->quote, vec->quote_len, vec->col, now, out);
}

/* What a cold verifier says, on a verifier of its own. */
static mt_err
verify_cold(const struct vector *vec, int64_t now, struct mt_verdict *out)
{
    struct mt_verifier *v = verifier(1);
    mt_err e = verify(v, vec, now, out);

    assert_int_equal(v->cache.num_entries, 0);
    mt_verifier_free(v);
    return e;
}

static void
expect_same_result(const struct mt_tcb_result *a, const struct mt_tcb_result *b)
{
    size_t i;

    assert_int_equal(a->status, b->status);
    assert_int_equal(a->num_advisories, b->num_advisories);
    for (i = 0; i < a->num_advisories; i++)
        assert_string_equal(a->advisories[i], b->advisories[i]);
}

/* Every field a caller reads from a verdict. */
static void
expect_same_verdict(const struct mt_verdict *a, const struct mt_verdict *b)
{
    if (a->err != b->err)
        fail_msg("verdicts differ: %s vs %s", mt_err_code(a->err), mt_err_code(b->err));
    assert_string_equal(a->detail, b->detail);
    assert_int_equal(a->quote_parsed, b->quote_parsed);
    assert_int_equal(a->pck_parsed, b->pck_parsed);
    if (a->pck_parsed) {
        assert_memory_equal(a->fmspc, b->fmspc, 6);
        assert_memory_equal(a->pce_id, b->pce_id, 2);
        assert_memory_equal(a->cpu_svn, b->cpu_svn, 16);
        assert_int_equal(a->pce_svn, b->pce_svn);
    }
    if (a->err != MT_OK)
        return;
    expect_same_result(&a->tcb, &b->tcb);
    expect_same_result(&a->platform, &b->platform);
    expect_same_result(&a->qe, &b->qe);
    assert_int_equal(a->has_module, b->has_module);
    if (a->has_module) {
        expect_same_result(&a->module, &b->module);
        assert_string_equal(a->module_id, b->module_id);
    }
    assert_int_equal(a->tcb_date, b->tcb_date);
    assert_memory_equal(a->level_sgx, b->level_sgx, 16);
    assert_memory_equal(a->level_tdx, b->level_tdx, 16);
    assert_int_equal(a->level_pce_svn, b->level_pce_svn);
    assert_true(a->valid_from == b->valid_from);
    assert_true(a->valid_until == b->valid_until);
}

static void
test_warm_equals_cold(void **state)
{
    struct mt_verdict cold, warm1, warm2;
    struct mt_verifier *v = verifier(0);
    uint64_t hits;
    size_t entries;

    (void)state;
    EXPECT_OK(verify_cold(&d2, D2_NOW, &cold));
    assert_int_equal(cold.tcb.status, MT_TCB_UP_TO_DATE);

    EXPECT_OK(verify(v, &d2, D2_NOW, &warm1));
    entries = v->cache.num_entries;
    assert_true(entries >= 4); /* root CRL, chain, TCB Info, QE Identity, PCK, QE report */
    hits = v->cache.hits;
    EXPECT_OK(verify(v, &d2, D2_NOW, &warm2));
    assert_true(v->cache.hits > hits);
    assert_int_equal(v->cache.num_entries, entries); /* nothing new */
    expect_same_verdict(&cold, &warm1);
    expect_same_verdict(&cold, &warm2);
    /* the collateral window: the PCK CRL ends it */
    assert_true(warm2.valid_until == D2_PCK_CRL_NEXT);
    assert_true(warm2.valid_from <= D2_NOW);

    /* the last second of the window: still the same answer */
    EXPECT_OK(verify(v, &d2, D2_PCK_CRL_NEXT, &warm2));
    EXPECT_OK(verify_cold(&d2, D2_PCK_CRL_NEXT, &cold));
    expect_same_verdict(&cold, &warm2);
    mt_verifier_free(v);
}

/* Moving `now` out of a cached window re-runs the check, which fails precisely. */
static void
test_cache_never_hides_expiry(void **state)
{
    static const struct {
        int64_t now;
        mt_err want;
    } steps[] = {
        {D2_NOW, MT_OK},
        {D2_TCB_NEXT + 1, MT_ERR_TCB_INFO_EXPIRED},
        {D2_NOW, MT_OK},
        {D2_PCK_CRL_NEXT + 1, MT_ERR_PCK_CRL_EXPIRED},
        {D2_NOW, MT_OK},
        {D2_TCB_ISSUE - 1, MT_ERR_TCB_INFO_NOT_YET_VALID},
        {D2_TCB_ISSUE, MT_ERR_QE_IDENTITY_NOT_YET_VALID}, /* issued 16 minutes later */
        {D2_PCK_CRL_NEXT, MT_OK},
        {D2_TCB_NEXT, MT_ERR_PCK_CRL_EXPIRED},
        {(int64_t)1752920164, MT_ERR_TCB_INFO_EXPIRED},
        {D2_NOW, MT_OK},
    };
    struct mt_verifier *v = verifier(0);
    struct mt_verdict warm, cold;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        mt_err got = verify(v, &d2, steps[i].now, &warm);

        if (got != steps[i].want)
            fail_msg("step %zu (now %lld): warm verifier got %s, want %s", i,
                     (long long)steps[i].now, mt_err_code(got), mt_err_code(steps[i].want));
        EXPECT_ERR(verify_cold(&d2, steps[i].now, &cold), steps[i].want);
        expect_same_verdict(&cold, &warm);
    }
    mt_verifier_free(v);
}

/* Two different quotes and collaterals through one verifier. */
static void
test_interleaved_vectors(void **state)
{
    struct mt_verifier *v = verifier(0);
    struct mt_verdict a, b, c, cold;

    (void)state;
    EXPECT_OK(verify(v, &d2, D2_NOW, &a));
    EXPECT_OK(verify(v, &d1, D1_NOW, &b));
    EXPECT_OK(verify(v, &d2, D2_NOW, &c));

    assert_int_equal(a.tcb.status, MT_TCB_UP_TO_DATE);
    assert_int_equal(b.tcb.status, MT_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED);
    assert_int_equal(b.tcb.num_advisories, 2);
    assert_string_equal(b.tcb.advisories[0], "INTEL-SA-00289");
    assert_string_equal(b.tcb.advisories[1], "INTEL-SA-00615");
    expect_same_verdict(&a, &c);
    EXPECT_OK(verify_cold(&d1, D1_NOW, &cold));
    expect_same_verdict(&cold, &b);
    EXPECT_OK(verify_cold(&d2, D2_NOW, &cold));
    expect_same_verdict(&cold, &c);

    /* a collateral of the other quote does not get answered from the cache */
    EXPECT_ERR(mt_verify_quote(v, d2.quote, d2.quote_len, d1.col, D1_NOW, &a),
               MT_ERR_QE_IDENTITY_TYPE);
    EXPECT_ERR(mt_verify_quote(v, d1.quote, d1.quote_len, d2.col, D2_NOW, &a),
               MT_ERR_QE_IDENTITY_TYPE);
    EXPECT_OK(verify(v, &d1, D1_NOW, &b));
    mt_verifier_free(v);
}

static void
test_clear_cache(void **state)
{
    struct mt_verifier *v = verifier(0), *nc = verifier(1);
    struct mt_verdict a, b;

    (void)state;
    EXPECT_OK(verify(v, &d2, D2_NOW, &a));
    assert_true(v->cache.num_entries > 0);
    mt_verifier_clear_cache(v);
    assert_int_equal(v->cache.num_entries, 0);
    assert_null(v->cache.entries);
    mt_verifier_clear_cache(v); /* twice is fine */
    EXPECT_OK(verify(v, &d2, D2_NOW, &b));
    expect_same_verdict(&a, &b);
    assert_true(v->cache.num_entries > 0);

    /* no_cache keeps nothing between verifications, failed or not */
    EXPECT_OK(verify(nc, &d2, D2_NOW, &a));
    assert_int_equal(nc->cache.num_entries, 0);
    EXPECT_ERR(verify(nc, &d2, D2_TCB_NEXT + 1, &a), MT_ERR_TCB_INFO_EXPIRED);
    assert_int_equal(nc->cache.num_entries, 0);
    mt_verifier_free(nc);
    mt_verifier_free(v);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_window_inclusive),
        cmocka_unit_test(test_kinds_and_keys),
        cmocka_unit_test(test_evict_oldest),
        cmocka_unit_test(test_current_generation_pinned),
        cmocka_unit_test(test_degenerate),
        cmocka_unit_test(test_clear),
        cmocka_unit_test(test_warm_equals_cold),
        cmocka_unit_test(test_cache_never_hides_expiry),
        cmocka_unit_test(test_interleaved_vectors),
        cmocka_unit_test(test_clear_cache),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
