/*
 * The CLI end to end on quotes from a generated test PKI: `dev sample`
 * writes quote, collateral and root; `quote verify` must accept them with
 * that root (DER or PEM), refuse them with Intel's, and refuse a debug TD.
 */
#include "mt_testlib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "util/mt_alloc.h"

static char dir[64];

static int
setup(void **state)
{
    (void)state;
    return mt_test_mkdtemp(dir, sizeof(dir), "mt-cli-dev");
}

static int
teardown(void **state)
{
    (void)state;
    return mt_test_rm_rf(dir);
}

static json_t *
verify_json(int want_rc, const char *sub, const char *root, const char *now)
{
    char q[256], c[256], r[256], *out = NULL;
    json_t *j;
    int rc;

    snprintf(q, sizeof(q), "%s/%s/quote.bin", dir, sub);
    snprintf(c, sizeof(c), "%s/%s/collateral.json", dir, sub);
    if (root != NULL) {
        snprintf(r, sizeof(r), "%s/%s/%s", dir, sub, root);
        rc = mt_test_run_cli(&out, "quote", "verify", q, "--collateral", c, "--now", now,
                             "--trust-root", r, "--json", NULL);
    } else {
        rc = mt_test_run_cli(&out, "quote", "verify", q, "--collateral", c, "--now", now, "--json",
                             NULL);
    }
    assert_int_equal(rc, want_rc);
    j = json_loads(out, 0, NULL);
    assert_non_null(j);
    mt_free(out);
    return j;
}

static const char *
error_code(const json_t *j)
{
    return json_string_value(json_object_get(json_object_get(j, "error"), "code"));
}

/* Write the DER root as PEM next to it, to check PEM trust roots too. */
static void
root_to_pem(const char *sub)
{
    char path[256];
    uint8_t *der;
    const unsigned char *p;
    size_t len;
    X509 *x;
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s/root.der", dir, sub);
    der = mt_test_read_file(path, &len);
    p = der;
    x = d2i_X509(NULL, &p, (long)len);
    assert_non_null(x);
    snprintf(path, sizeof(path), "%s/%s/root.pem", dir, sub);
    f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_X509(f, x), 1);
    fclose(f);
    X509_free(x);
    mt_free(der);
}

static void
test_sample_verifies_with_its_root(void **state)
{
    char out_dir[128], *out = NULL, now[32], line[40];
    json_t *j;

    (void)state;
    snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
    snprintf(line, sizeof(line), "%s\n", now);
    snprintf(out_dir, sizeof(out_dir), "%s/good", dir);
    assert_int_equal(mt_test_run_cli(&out, "dev", "sample", "--out", out_dir, "--now", now, NULL),
                     0);
    assert_string_equal(out, line);
    mt_free(out);

    j = verify_json(0, "good", "root.der", now);
    assert_true(json_is_true(json_object_get(j, "ok")));
    assert_string_equal(json_string_value(json_object_get(j, "tcbStatus")), "UpToDate");
    json_decref(j);

    root_to_pem("good");
    j = verify_json(0, "good", "root.pem", now);
    assert_true(json_is_true(json_object_get(j, "ok")));
    json_decref(j);

    /* The built-in Intel root does not sign the test PKI's root CRL. */
    j = verify_json(1, "good", NULL, now);
    assert_string_equal(error_code(j), "root_crl");
    json_decref(j);

    /* A year later the generated collateral has expired. */
    snprintf(now, sizeof(now), "%lld", (long long)time(NULL) + 366LL * 86400);
    j = verify_json(1, "good", "root.der", now);
    assert_string_equal(error_code(j), "root_crl");
    json_decref(j);
}

static void
test_debug_td_refused(void **state)
{
    char out_dir[128], *out = NULL, now[32];
    json_t *j;

    (void)state;
    snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
    snprintf(out_dir, sizeof(out_dir), "%s/debug", dir);
    assert_int_equal(
        mt_test_run_cli(&out, "dev", "sample", "--out", out_dir, "--now", now, "--debug-td", NULL),
        0);
    mt_free(out);
    j = verify_json(1, "debug", "root.der", now);
    assert_string_equal(error_code(j), "debug_enabled");
    /* The measurements are still reported for a refused quote that parsed. */
    assert_non_null(json_object_get(json_object_get(j, "measurements"), "mrTd"));
    json_decref(j);
}

static void
test_sgx_and_td15_samples(void **state)
{
    static const char *const kinds[] = {"sgx", "tdx15"};
    char out_dir[128], *out = NULL, now[32];
    json_t *j;
    size_t i;

    (void)state;
    snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
    for (i = 0; i < 2; i++) {
        snprintf(out_dir, sizeof(out_dir), "%s/%s", dir, kinds[i]);
        assert_int_equal(mt_test_run_cli(&out, "dev", "sample", "--out", out_dir, "--kind",
                                         kinds[i], "--now", now, NULL),
                         0);
        mt_free(out);
        j = verify_json(0, kinds[i], "root.der", now);
        assert_true(json_is_true(json_object_get(j, "ok")));
        json_decref(j);
    }
}

static void
test_bad_arguments(void **state)
{
    char *out = NULL;

    (void)state;
    assert_int_equal(mt_test_run_cli(&out, "dev", "sample", NULL), 2);
    mt_free(out);
    assert_int_equal(mt_test_run_cli(&out, "dev", "sample", "--out", dir, "--kind", "arm", NULL),
                     2);
    mt_free(out);
    assert_int_equal(mt_test_run_cli(&out, "dev", "sample", "--out", dir, "--now", "-5", NULL), 2);
    mt_free(out);
    assert_int_equal(mt_test_run_cli(&out, "dev", NULL), 2);
    mt_free(out);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sample_verifies_with_its_root),
        cmocka_unit_test(test_debug_td_refused),
        cmocka_unit_test(test_sgx_and_td15_samples),
        cmocka_unit_test(test_bad_arguments),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
