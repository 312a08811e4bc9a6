/*
 * Allocation torture (STYLE.md section 4 item 14): for the real vectors,
 * fail the 1st, 2nd, ... mt_alloc allocation of an operation until one run
 * completes without reaching the failure.  Every run that hits the failure
 * must return MT_ERR_NOMEM (or, when only a cache insertion failed, still
 * succeed with the correct verdict), never crash and never leak (the
 * sanitizer build runs LeakSanitizer).  jansson and OpenSSL allocate with
 * their own malloc, so only mt_alloc allocations are failed here.
 */
#include "mt_testlib.h"

#include <stdio.h>
#include <string.h>

#include "dcap/dcap.h"
#include "dcap/tcb_docs.h"
#include "quote/quote.h"
#include "quote/quote_json.h"
#include "util/mt_alloc.h"

#define VEC "vectors/dcap/"
/* Far more allocations than any operation here makes; reaching it is a failure. */
#define MAX_SWEEP 100000ul

struct vector {
    const char *name;
    int64_t now;
    uint8_t *quote;
    size_t quote_len;
    char *col_text;
    size_t col_len;
    struct mt_collateral *col;
    struct mt_verdict want; /* from an undisturbed verification */
};

static struct vector vecs[2] = {
    {"D2", 1752919234, NULL, 0, NULL, 0, NULL, {0}},
    {"D1", 1752919277, NULL, 0, NULL, 0, NULL, {0}},
};

static int
setup(void **state)
{
    static const char *const files[2][2] = {
        {VEC "D2_tdx_quote.bin", VEC "D2_tdx_quote_collateral.json"},
        {VEC "D1_sgx_quote.bin", VEC "D1_sgx_quote_collateral.json"},
    };
    struct mt_verifier *v = NULL;
    size_t i;

    (void)state;
    mt_alloc_fail_at(0);
    for (i = 0; i < 2; i++) {
        vecs[i].quote = mt_test_read_shared(files[i][0], &vecs[i].quote_len);
        vecs[i].col_text = (char *)mt_test_read_shared(files[i][1], &vecs[i].col_len);
        if (mt_collateral_parse(vecs[i].col_text, vecs[i].col_len, &vecs[i].col) != MT_OK ||
            mt_verifier_new(NULL, &v) != MT_OK)
            return -1;
        if (mt_verify_quote(v, vecs[i].quote, vecs[i].quote_len, vecs[i].col, vecs[i].now,
                            &vecs[i].want) != MT_OK)
            return -1;
        mt_verifier_free(v);
    }
    return 0;
}

static int
teardown(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < 2; i++) {
        mt_free(vecs[i].quote);
        mt_free(vecs[i].col_text);
        mt_collateral_free(vecs[i].col);
    }
    return 0;
}

/* Arm the hook for the nth allocation; returns whether the last run reached it. */
static void
arm(unsigned long n)
{
    mt_alloc_fail_at(n);
}

static int
disarm(unsigned long n)
{
    int hit = mt_alloc_count() >= n;

    mt_alloc_fail_at(0);
    return hit;
}

static void
expect_verdict(const char *what, unsigned long n, const struct mt_verdict *got,
               const struct mt_verdict *want)
{
    size_t i;

    if (got->tcb.status != want->tcb.status || got->tcb.num_advisories != want->tcb.num_advisories)
        fail_msg("%s, allocation %lu failed: verdict %s with %zu advisories, want %s with %zu",
                 what, n, mt_tcb_status_name(got->tcb.status), got->tcb.num_advisories,
                 mt_tcb_status_name(want->tcb.status), want->tcb.num_advisories);
    for (i = 0; i < want->tcb.num_advisories; i++)
        assert_string_equal(got->tcb.advisories[i], want->tcb.advisories[i]);
    assert_int_equal(got->qe.status, want->qe.status);
    assert_int_equal(got->platform.status, want->platform.status);
    assert_int_equal(got->has_module, want->has_module);
    assert_true(got->valid_until == want->valid_until);
}

/*
 * One cold verification (verifier created, used, freed) with allocation n
 * failing.  Returns whether allocation n was reached.
 */
static int
cold_run(const struct vector *vec, unsigned long n, unsigned long *nomem)
{
    struct mt_verifier *v = NULL;
    struct mt_verdict verdict;
    char what[64];
    mt_err e;
    int hit;

    snprintf(what, sizeof(what), "%s cold verification", vec->name);
    arm(n);
    e = mt_verifier_new(NULL, &v);
    if (e == MT_OK) {
        e = mt_verify_quote(v, vec->quote, vec->quote_len, vec->col, vec->now, &verdict);
        mt_verifier_free(v);
    } else {
        assert_null(v);
    }
    hit = disarm(n);
    if (!hit) {
        if (e != MT_OK)
            fail_msg("%s without a failed allocation: %s", what, mt_err_code(e));
        expect_verdict(what, n, &verdict, &vec->want);
        return 0;
    }
    if (e == MT_ERR_NOMEM) {
        (*nomem)++;
        return 1;
    }
    if (e != MT_OK)
        fail_msg("%s, allocation %lu failed: got %s, want out_of_memory", what, n, mt_err_code(e));
    /* a cache entry that could not be stored: the answer must still be right */
    expect_verdict(what, n, &verdict, &vec->want);
    return 1;
}

static void
test_verify_cold(void **state)
{
    unsigned long n, nomem;
    size_t i;

    (void)state;
    for (i = 0; i < 2; i++) {
        nomem = 0;
        for (n = 1; n < MAX_SWEEP && cold_run(&vecs[i], n, &nomem); n++)
            ;
        assert_true(n < MAX_SWEEP);
        /* the sweep did exercise failure paths */
        assert_true(n > 5);
        assert_true(nomem > 0);
        print_message("%s: cold verification makes %lu mt_alloc allocations; %lu failures gave "
                      "out_of_memory\n",
                      vecs[i].name, n - 1, nomem);
    }
}

/*
 * The same on a verifier whose cache is already warm from a successful
 * run, and again after each failure (the cache may hold a partial run).
 */
static void
test_verify_warm(void **state)
{
    struct mt_verifier *v = NULL;
    struct mt_verdict verdict;
    unsigned long n;
    mt_err e;
    int hit;
    size_t i;

    (void)state;
    for (i = 0; i < 2; i++) {
        const struct vector *vec = &vecs[i];

        EXPECT_OK(mt_verifier_new(NULL, &v));
        EXPECT_OK(mt_verify_quote(v, vec->quote, vec->quote_len, vec->col, vec->now, &verdict));
        for (n = 1; n < MAX_SWEEP; n++) {
            arm(n);
            e = mt_verify_quote(v, vec->quote, vec->quote_len, vec->col, vec->now, &verdict);
            hit = disarm(n);
            if (hit && e == MT_ERR_NOMEM) {
                /* the next run must recover: clear half the time to mix cold and warm */
                if (n % 2 == 0)
                    mt_verifier_clear_cache(v);
                continue;
            }
            if (e != MT_OK)
                fail_msg("%s warm, allocation %lu: got %s", vec->name, n, mt_err_code(e));
            expect_verdict("warm verification", n, &verdict, &vec->want);
            if (!hit)
                break;
        }
        assert_true(n < MAX_SWEEP);
        mt_verifier_free(v);
    }
}

static void
test_collateral_parse(void **state)
{
    struct mt_collateral *c;
    unsigned long n;
    mt_err e;
    int hit;
    size_t i;

    (void)state;
    for (i = 0; i < 2; i++) {
        const struct vector *vec = &vecs[i];

        for (n = 1; n < MAX_SWEEP; n++) {
            c = NULL;
            arm(n);
            e = mt_collateral_parse(vec->col_text, vec->col_len, &c);
            hit = disarm(n);
            if (hit) {
                if (e != MT_ERR_NOMEM)
                    fail_msg("%s collateral, allocation %lu: got %s, want out_of_memory", vec->name,
                             n, mt_err_code(e));
                assert_null(c);
                continue;
            }
            EXPECT_OK(e);
            assert_int_equal(c->tcb_info_len, vec->col->tcb_info_len);
            assert_string_equal(c->tcb_info, vec->col->tcb_info);
            assert_string_equal(c->qe_identity, vec->col->qe_identity);
            assert_int_equal(c->pck_crl_len, vec->col->pck_crl_len);
            assert_memory_equal(c->pck_crl, vec->col->pck_crl, c->pck_crl_len);
            assert_memory_equal(c->root_ca_crl, vec->col->root_ca_crl, c->root_ca_crl_len);
            mt_collateral_free(c);
            break;
        }
        assert_true(n > 5 && n < MAX_SWEEP);
    }
}

/* The two signed documents alone. */
static void
test_signed_documents(void **state)
{
    struct mt_tcb_info *t;
    struct mt_qe_identity *q;
    unsigned long n;
    mt_err e;
    int hit;
    size_t i;

    (void)state;
    for (i = 0; i < 2; i++) {
        const struct mt_collateral *col = vecs[i].col;

        for (n = 1; n < MAX_SWEEP; n++) {
            t = NULL;
            arm(n);
            e = mt_tcb_info_parse(col->tcb_info, col->tcb_info_len, &t);
            hit = disarm(n);
            if (!hit)
                break;
            EXPECT_ERR(e, MT_ERR_NOMEM);
            assert_null(t);
        }
        EXPECT_OK(e);
        assert_true(n > 1 && n < MAX_SWEEP);
        mt_tcb_info_free(t);

        for (n = 1; n < MAX_SWEEP; n++) {
            q = NULL;
            arm(n);
            e = mt_qe_identity_parse(col->qe_identity, col->qe_identity_len, &q);
            hit = disarm(n);
            if (!hit)
                break;
            EXPECT_ERR(e, MT_ERR_NOMEM);
            assert_null(q);
        }
        EXPECT_OK(e);
        assert_true(n > 1 && n < MAX_SWEEP);
        mt_qe_identity_free(q);
    }
}

/* JSON builders return NULL when an allocation fails, and free what they built. */
static void
test_json_builders(void **state)
{
    struct mt_quote q;
    json_t *want, *got;
    unsigned long n;
    int hit;
    size_t i, k;

    (void)state;
    for (i = 0; i < 2; i++) {
        const struct vector *vec = &vecs[i];

        EXPECT_OK(mt_quote_parse(vec->quote, vec->quote_len, &q));
        for (k = 0; k < 3; k++) {
            want = k == 0   ? mt_quote_to_json(&q)
                   : k == 1 ? mt_quote_measurements_json(&q)
                            : mt_verdict_to_json(&vec->want);
            assert_non_null(want);
            for (n = 1; n < MAX_SWEEP; n++) {
                arm(n);
                got = k == 0   ? mt_quote_to_json(&q)
                      : k == 1 ? mt_quote_measurements_json(&q)
                               : mt_verdict_to_json(&vec->want);
                hit = disarm(n);
                if (!hit)
                    break;
                if (got != NULL)
                    fail_msg("%s JSON builder %zu: allocation %lu failed but got a result",
                             vec->name, k, n);
            }
            assert_true(n > 1 && n < MAX_SWEEP);
            assert_non_null(got);
            assert_true(json_equal(got, want));
            json_decref(got);
            json_decref(want);
        }
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verify_cold),      cmocka_unit_test(test_verify_warm),
        cmocka_unit_test(test_collateral_parse), cmocka_unit_test(test_signed_documents),
        cmocka_unit_test(test_json_builders),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
