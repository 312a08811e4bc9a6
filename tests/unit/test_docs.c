/*
 * Documentation that is generated from code must stay equal to it:
 * docs/errors.md carries the output of `mero-tee errors --markdown`.
 */
#include "mt_testlib.h"

#include <string.h>

#include "util/mt_alloc.h"

static void
test_errors_md_matches_table(void **state)
{
    char *table = NULL;
    uint8_t *doc;
    size_t len;
    int rc;

    (void)state;
    rc = mt_test_run_cli(&table, "errors", "--markdown", NULL);
    assert_int_equal(rc, 0);
    assert_non_null(
        strstr(table, "| `quote_signature` | 401 | `attestation_verification_failed` |"));
    doc = mt_test_read_file(MT_SOURCE_DIR "/docs/errors.md", &len);
    if (strstr((const char *)doc, table) == NULL)
        fail_msg("docs/errors.md is out of date: regenerate its table with "
                 "`build/mero-tee errors --markdown`");
    mt_free(doc);
    mt_free(table);
}

static void
test_errors_cli_usage(void **state)
{
    char *out = NULL;

    (void)state;
    assert_int_equal(mt_test_run_cli(&out, "errors", "--bogus", NULL), 2);
    mt_free(out);
    assert_int_equal(mt_test_run_cli(&out, "no-such-command", NULL), 2);
    mt_free(out);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_errors_md_matches_table),
        cmocka_unit_test(test_errors_cli_usage),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
