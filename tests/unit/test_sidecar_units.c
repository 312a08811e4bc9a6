/*
 * The fleet sidecar's pieces alone (src/sidecar): the configuration parser
 * and its file checks (negative cases first), the token file, the MDMA
 * answer parser, the state file and meroctl's timeout.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mt_testlib.h"
#include "sidecar/sidecar.h"
#include "util/mt_alloc.h"

#define GID "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789"
#define BASE "mdma_url = https://mdma.example/\ntoken_file = /etc/calimero/fleet-token\n"

static char dir[64];

static void
put(const char *name, const char *text, mode_t mode, char *path, size_t len)
{
    FILE *f;

    snprintf(path, len, "%s/%s", dir, name);
    unlink(path);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(chmod(path, mode), 0);
}

static void
expect_config_error(const char *text, const char *needle)
{
    struct sc_config c;
    char why[512] = "";

    EXPECT_ERR(sc_config_parse(text, strlen(text), &c, why, sizeof(why)), MT_ERR_CONFIG);
    if (strstr(why, needle) == NULL)
        fail_msg("config error '%s' does not mention '%s'", why, needle);
}

static void
test_config_ok_and_defaults(void **state)
{
    struct sc_config c;
    char why[256];
    const char *t = "# comment\n\n" BASE "  poll_interval_ms =  5000  \r\n"
                    "mrtd_source = tsm:/sys/kernel/config/tsm/report\nleave_removed = true\n";

    (void)state;
    EXPECT_OK(sc_config_parse(t, strlen(t), &c, why, sizeof(why)));
    assert_string_equal(c.mdma_url, "https://mdma.example");
    assert_int_equal(c.poll_interval_ms, 5000);
    assert_int_equal(c.leave_removed, 1);
    assert_string_equal(c.meroctl_node, "default");
    assert_string_equal(c.merod_admin_url, "http://127.0.0.1:2428");
    assert_null(c.ca_file);
    sc_config_free(&c);
}

static void
test_config_negative(void **state)
{
    (void)state;
    expect_config_error("token_file = /x\n", "mdma_url: missing");
    expect_config_error("mdma_url = https://m\n", "token_file: missing");
    expect_config_error(BASE "bogus = 1\n", "unknown key");
    expect_config_error(BASE "mdma_url = https://other\n", "given twice");
    expect_config_error("mdma_url = http://mdma.example\ntoken_file = /t\n", "https://");
    expect_config_error("mdma_url = https://u:p@mdma\ntoken_file = /t\n", "credentials");
    expect_config_error("mdma_url = https://\ntoken_file = /t\n", "https://");
    expect_config_error(BASE "token = abc\n", "never written here");
    expect_config_error(BASE "poll_interval_ms = 5s\n", "poll_interval_ms");
    expect_config_error(BASE "poll_interval_ms = -5\n", "not a number");
    expect_config_error(BASE "poll_interval_ms = 1\n", "10..");
    expect_config_error(BASE "poll_interval_ms = 99999999999999999999\n", "integer");
    expect_config_error(BASE "meroctl = meroctl\n", "absolute path");
    expect_config_error(BASE "meroctl_node = a b\n", "meroctl_node");
    expect_config_error(BASE "meroctl_node = -x\n", "meroctl_node");
    expect_config_error(BASE "mrtd_source = mock\n", "mrtd_source");
    expect_config_error(BASE "leave_removed = yes\n", "true or false");
    expect_config_error(BASE "state_dir =\n", "empty value");
    expect_config_error(BASE "just words\n", "key = value");
    expect_config_error(BASE "ca_file = /a\tb\n", "control character");
    expect_config_error(BASE "backoff_initial_ms = 500\nbackoff_max_ms = 100\n", "backoff_max_ms");
    expect_config_error(BASE "peer_id_path = admin\n", "peer_id_path");
}

static void
test_config_long_line_and_nul(void **state)
{
    char *t = mt_malloc(SC_MAX_CONFIG_LINE + 64);
    struct sc_config c;
    char why[256];

    (void)state;
    assert_non_null(t);
    memset(t, 'a', SC_MAX_CONFIG_LINE + 10);
    t[SC_MAX_CONFIG_LINE + 10] = '\0';
    expect_config_error(t, "longer than");
    EXPECT_ERR(sc_config_parse(BASE "\0x", sizeof(BASE) + 1, &c, why, sizeof(why)), MT_ERR_CONFIG);
    mt_free(t);
}

static void
test_config_file_permissions(void **state)
{
    struct sc_config c;
    char path[128], why[512];

    (void)state;
    put("ok.conf", BASE, 0600, path, sizeof(path));
    EXPECT_OK(sc_config_load(path, &c, why, sizeof(why)));
    sc_config_free(&c);
    put("group.conf", BASE, 0640, path, sizeof(path));
    EXPECT_ERR(sc_config_load(path, &c, why, sizeof(why)), MT_ERR_SIDECAR_FILE_PERMS);
    assert_non_null(strstr(why, "0640"));
    put("world.conf", BASE, 0604, path, sizeof(path));
    EXPECT_ERR(sc_config_load(path, &c, why, sizeof(why)), MT_ERR_SIDECAR_FILE_PERMS);
    put("gw.conf", BASE, 0620, path, sizeof(path));
    EXPECT_ERR(sc_config_load(path, &c, why, sizeof(why)), MT_ERR_SIDECAR_FILE_PERMS);
    EXPECT_ERR(sc_config_load("/nonexistent/x.conf", &c, why, sizeof(why)), MT_ERR_IO);
    EXPECT_ERR(sc_config_load(dir, &c, why, sizeof(why)), MT_ERR_SIDECAR_FILE_PERMS);
    /* A symlink is not followed. */
    put("ok.conf", BASE, 0600, path, sizeof(path));
    {
        char link[160];

        snprintf(link, sizeof(link), "%s/link.conf", dir);
        unlink(link);
        assert_int_equal(symlink(path, link), 0);
        EXPECT_ERR(sc_config_load(link, &c, why, sizeof(why)), MT_ERR_IO);
    }
}

static void
test_token_file(void **state)
{
    char path[128], why[256], *tok = NULL;

    (void)state;
    put("tok", "s3cr3t-token\n", 0600, path, sizeof(path));
    EXPECT_OK(sc_token_load(path, &tok, why, sizeof(why)));
    assert_string_equal(tok, "s3cr3t-token");
    sc_secret_free(tok);
    put("tok", "s3cr3t\n", 0644, path, sizeof(path));
    EXPECT_ERR(sc_token_load(path, &tok, why, sizeof(why)), MT_ERR_SIDECAR_FILE_PERMS);
    put("tok", "two words\n", 0600, path, sizeof(path));
    EXPECT_ERR(sc_token_load(path, &tok, why, sizeof(why)), MT_ERR_CONFIG);
    assert_null(strstr(why, "two"));
    put("tok", "a\nb\n", 0600, path, sizeof(path));
    EXPECT_ERR(sc_token_load(path, &tok, why, sizeof(why)), MT_ERR_CONFIG);
    put("tok", "\n", 0600, path, sizeof(path));
    EXPECT_ERR(sc_token_load(path, &tok, why, sizeof(why)), MT_ERR_CONFIG);
}

static void
test_mdma_parser(void **state)
{
    static char ids[SC_MAX_GROUPS][65];
    char why[256], big[SC_MAX_GROUPS * 100 + 100];
    size_t n = 9, i, k;
    const char *ok = "{\"assignments\":[{\"group_id\":\"" GID "\",\"x\":[1]},"
                     "{\"group_id\":\"ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF"
                     "0123456789\"}],\"more\":true}";
    const char *bad[] = {"",
                         "{",
                         "null",
                         "[]",
                         "{}",
                         "{\"assignments\":null}",
                         "{\"assignments\":[1]}",
                         "{\"assignments\":[{}]}",
                         "{\"assignments\":[{\"group_id\":\"" GID "0\"}]}",
                         "{\"assignments\":[{\"group_id\":\"$(touch /tmp/x)\"}]}",
                         "{\"assignments\":[{\"group_id\":\"" GID "\"}]} trailing"};

    (void)state;
    EXPECT_OK(sc_mdma_parse_assignments(ok, strlen(ok), ids, SC_MAX_GROUPS, &n, why, sizeof(why)));
    assert_int_equal(n, 1); /* the upper-case duplicate folds into the first */
    assert_string_equal(ids[0], GID);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        EXPECT_ERR(sc_mdma_parse_assignments(bad[i], strlen(bad[i]), ids, SC_MAX_GROUPS, &n, why,
                                             sizeof(why)),
                   MT_ERR_SIDECAR_MDMA_RESPONSE);
    /* More than SC_MAX_GROUPS assignments. */
    k = (size_t)snprintf(big, sizeof(big), "{\"assignments\":[");
    for (i = 0; i <= SC_MAX_GROUPS; i++)
        k += (size_t)snprintf(big + k, sizeof(big) - k, "%s{\"group_id\":\"%s\"}", i ? "," : "",
                              GID);
    snprintf(big + k, sizeof(big) - k, "]}");
    EXPECT_ERR(
        sc_mdma_parse_assignments(big, strlen(big), ids, SC_MAX_GROUPS, &n, why, sizeof(why)),
        MT_ERR_SIDECAR_MDMA_RESPONSE);
    assert_true(sc_is_mrtd("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff0011"
                           "2233445566778899aabbccddeeff"));
    assert_false(sc_is_mrtd("00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeeff0011"
                            "2233445566778899aabbccddeeff"));
    assert_true(sc_is_peer_id("12D3KooW9pP4Seg3kZYhySpuVjn1RPdQBsUFZKiFxGMGQN5MeL6A"));
    assert_false(sc_is_peer_id("12D3KooW0OIl"));
    assert_false(sc_is_peer_id(""));
}

static void
test_state_roundtrip_and_corruption(void **state)
{
    struct sc_state st = {NULL, 0}, back;
    struct sc_group *g;
    char sdir[128], path[256], aside[512], *text;
    int missing = 0;
    struct stat sb;

    (void)state;
    snprintf(sdir, sizeof(sdir), "%s/state", dir);
    mkdir(sdir, 0700);
    EXPECT_OK(sc_state_load(sdir, &back, &missing, aside, sizeof(aside)));
    assert_int_equal(missing, 1);
    EXPECT_OK(sc_state_add(&st, GID, &g));
    g->status = SC_JOINED;
    g->confirm_attempts = 3;
    g->next_try_ms = 1234;
    snprintf(g->last_error, sizeof(g->last_error), "confirm: \"quoted\"\n");
    EXPECT_ERR(sc_state_add(&st, "not-hex", &g), MT_ERR_ARG);
    EXPECT_OK(sc_state_save(sdir, &st, "12D3KooW", NULL));
    snprintf(path, sizeof(path), "%s/%s", sdir, SC_STATE_FILE);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    EXPECT_OK(sc_state_load(sdir, &back, &missing, aside, sizeof(aside)));
    assert_int_equal(missing, 0);
    assert_int_equal(back.n, 1);
    assert_int_equal(back.g[0].status, SC_JOINED);
    assert_int_equal(back.g[0].confirm_attempts, 3);
    assert_int_equal(back.g[0].next_try_ms, 1234);
    assert_string_equal(back.g[0].last_error, "confirm: \"quoted\"\n");
    sc_state_free(&back);
    sc_state_free(&st);
    /* Corrupt files: moved aside, empty state, never a crash. */
    {
        const char *bad[] = {"", "garbage", "{\"version\":2,\"groups\":[]}",
                             "{\"version\":1,\"groups\":[{\"group_id\":\"" GID
                             "\",\"status\":\"odd\",\"assigned\":true,\"join_attempts\":0,"
                             "\"confirm_attempts\":0,\"next_try_ms\":0}]}",
                             "{\"version\":1,\"groups\":[{\"group_id\":\"" GID
                             "\",\"status\":\"joined\",\"assigned\":true,\"join_attempts\":0,"
                             "\"confirm_attempts\":0,\"next_try_ms\":0},{\"group_id\":\"" GID
                             "\",\"status\":\"joined\",\"assigned\":true,\"join_attempts\":0,"
                             "\"confirm_attempts\":0,\"next_try_ms\":0}]}"};
        size_t i;

        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            FILE *f = fopen(path, "w");

            assert_non_null(f);
            fputs(bad[i], f);
            fclose(f);
            EXPECT_ERR(sc_state_load(sdir, &back, &missing, aside, sizeof(aside)),
                       MT_ERR_SIDECAR_STATE_CORRUPT);
            assert_int_equal(back.n, 0);
            assert_non_null(strstr(aside, ".corrupt-"));
            assert_int_equal(stat(aside, &sb), 0);
            assert_int_not_equal(stat(path, &sb), 0);
            unlink(aside);
        }
    }
    EXPECT_OK(sc_state_serialize(&st, NULL, NULL, &text));
    assert_non_null(strstr(text, "\"groups\": []"));
    mt_free(text);
}

static void
test_meroctl_timeout_and_status(void **state)
{
    struct sc_config c;
    char why[256], out[256], log[128], text[512];

    (void)state;
    memset(&c, 0, sizeof(c));
    c.meroctl = MT_FAKE_MEROCTL_PATH;
    c.meroctl_home = "/h";
    c.meroctl_node = "n";
    c.join_timeout_ms = 300;
    snprintf(log, sizeof(log), "%s/meroctl.log", dir);
    setenv("MT_FAKE_MEROCTL_LOG", log, 1);
    setenv("MT_FAKE_MEROCTL_SCRIPT", "hang,3,0", 1);
    EXPECT_ERR(sc_meroctl_run(&c, "fleet-join", GID, out, sizeof(out), why, sizeof(why)),
               MT_ERR_SIDECAR_JOIN_TIMEOUT);
    EXPECT_ERR(sc_meroctl_run(&c, "fleet-join", GID, out, sizeof(out), why, sizeof(why)),
               MT_ERR_SIDECAR_JOIN_FAILED);
    assert_non_null(strstr(why, "status 3"));
    assert_non_null(strstr(out, "fake meroctl run 2"));
    EXPECT_OK(sc_meroctl_run(&c, "fleet-join", GID, out, sizeof(out), why, sizeof(why)));
    c.meroctl = "/nonexistent/meroctl";
    EXPECT_ERR(sc_meroctl_run(&c, "fleet-join", GID, out, sizeof(out), why, sizeof(why)),
               MT_ERR_SIDECAR_JOIN_FAILED);
    snprintf(text, sizeof(text), "%s", why);
    assert_non_null(strstr(text, "could not start"));
    unsetenv("MT_FAKE_MEROCTL_SCRIPT");
}

static int
setup(void **state)
{
    (void)state;
    assert_int_equal(mt_test_mkdtemp(dir, sizeof(dir), "mt-sidecar-unit"), 0);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    return mt_test_rm_rf(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_ok_and_defaults),
        cmocka_unit_test(test_config_negative),
        cmocka_unit_test(test_config_long_line_and_nul),
        cmocka_unit_test(test_config_file_permissions),
        cmocka_unit_test(test_token_file),
        cmocka_unit_test(test_mdma_parser),
        cmocka_unit_test(test_state_roundtrip_and_corruption),
        cmocka_unit_test(test_meroctl_timeout_and_status),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
