/*
 * The fleet sidecar's review fixes (security review 2, items 7-10), piece by
 * piece: the token's character set and the log redaction of its JSON-escaped
 * form (7), a state file that exists but cannot be read (8), the state's
 * retention and cap, and its identity members (9), and core dumps (10).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mt_testlib.h"
#include "sidecar/sidecar.h"
#include "util/mt_alloc.h"

#define UNIT_PATH MT_SOURCE_DIR "/image/systemd/mero-fleet-sidecar.service"
#define MAIN_PATH MT_SOURCE_DIR "/src/sidecar/main.c"
#define PEER "12D3KooW9pP4Seg3kZYhySpuVjn1RPdQBsUFZKiFxGMGQN5MeL6A"
#define MRTD                                                                                       \
    "abababababababababababababababababababababababab"                                             \
    "abababababababababababababababababababababababab"

static char dir[64];

static int
setup(void **state)
{
    (void)state;
    return mt_test_mkdtemp(dir, sizeof(dir), "mt-screview") == 0 ? 0 : -1;
}

static int
teardown(void **state)
{
    (void)state;
    sc_log_set_secret(NULL);
    sc_log_set_fd(2);
    (void)mt_test_rm_rf(dir);
    return 0;
}

static void
put(const char *path, const char *text, mode_t mode)
{
    FILE *f;

    unlink(path);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(chmod(path, mode), 0);
}

static void
group_id(unsigned k, char out[65])
{
    snprintf(out, 65, "%064x", k);
}

/* ---- 7: token characters and redaction ---- */

static void
test_token_refuses_quote_and_backslash(void **state)
{
    const char *bad[] = {"ab\"cd\n", "ab\\cd\n", "\"\n", "\\\n"};
    char path[128], why[512], *tok = NULL;
    size_t i;

    (void)state;
    snprintf(path, sizeof(path), "%s/token", dir);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        put(path, bad[i], 0600);
        why[0] = '\0';
        EXPECT_ERR(sc_token_load(path, &tok, why, sizeof(why)), MT_ERR_CONFIG);
        assert_non_null(strstr(why, "printable ASCII"));
    }
    /* Everything else printable is still accepted (a base64 or URL-safe token, punctuation). */
    put(path, "Az09._~+/=-!#$%&'()*,:;<>?@[]^`{|}\n", 0600);
    EXPECT_OK(sc_token_load(path, &tok, why, sizeof(why)));
    assert_string_equal(tok, "Az09._~+/=-!#$%&'()*,:;<>?@[]^`{|}");
    sc_secret_free(tok);
}

static char *
log_with_secret(const char *secret, const char *value)
{
    char path[128];
    int fd;

    snprintf(path, sizeof(path), "%s/log", dir);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    sc_log_set_fd(fd);
    sc_log_set_secret(secret);
    sc_log("info", "x", "detail", value, NULL);
    sc_log_set_secret(NULL);
    sc_log_set_fd(2);
    close(fd);
    return mt_test_slurp(path, 0);
}

static void
test_redaction_covers_escaped_form(void **state)
{
    char *line;

    (void)state;
    /* The reviewer's case: '"' and '\' are escaped in the line, the raw token is not there. */
    line = log_with_secret("ab\"cd\\ef/gh", "tok=ab\"cd\\ef/gh");
    assert_null(strstr(line, "ab\\\"cd\\\\ef/gh"));
    assert_null(strstr(line, "cd\\\\ef"));
    assert_non_null(strstr(line, "tok=[redacted]"));
    free(line);
    /* A control character (escaped as \t) in a token given to the logger directly. */
    line = log_with_secret("tab\there-secret", "v=tab\there-secret.");
    assert_null(strstr(line, "here-secret"));
    assert_non_null(strstr(line, "v=[redacted]."));
    free(line);
    /* The plain case is unchanged, and a cleared secret is no longer redacted. */
    line = log_with_secret("abcdefgh", "tok=abcdefgh");
    assert_non_null(strstr(line, "tok=********")); /* shorter than the mark */
    free(line);
    line = log_with_secret(NULL, "tok=abcdefgh");
    assert_non_null(strstr(line, "tok=abcdefgh"));
    free(line);
}

/* ---- 8: a state file that exists but cannot be read ---- */

static void
test_state_not_regular_is_unreadable(void **state)
{
    struct sc_state st;
    char sdir[128], path[256], inner[300], aside[512];
    struct stat sb;
    int missing = 1;

    (void)state;
    snprintf(sdir, sizeof(sdir), "%s/state", dir);
    assert_int_equal(mkdir(sdir, 0700), 0);
    snprintf(path, sizeof(path), "%s/%s", sdir, SC_STATE_FILE);
    /* A directory in its place: an I/O error, not corruption; nothing moved. */
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(inner, sizeof(inner), "%s/keep", path);
    put(inner, "x", 0600);
    EXPECT_ERR(sc_state_load(sdir, &st, &missing, aside, sizeof(aside)), MT_ERR_IO);
    assert_int_equal(missing, 0);
    assert_int_equal(st.n, 0);
    assert_int_equal(stat(inner, &sb), 0);
    unlink(inner);
    rmdir(path);
    /* A FIFO: refused at once (opening it would block the service forever). */
    assert_int_equal(mkfifo(path, 0600), 0);
    alarm(10);
    EXPECT_ERR(sc_state_load(sdir, &st, &missing, aside, sizeof(aside)), MT_ERR_IO);
    alarm(0);
    assert_int_equal(lstat(path, &sb), 0);
    assert_true(S_ISFIFO(sb.st_mode));
}

/* ---- 9: retention, the cap, identity members ---- */

static struct sc_group *
add(struct sc_state *st, unsigned k, enum sc_status s, int assigned, int64_t removed_ms)
{
    char id[65];
    struct sc_group *g;

    group_id(k, id);
    EXPECT_OK(sc_state_add(st, id, &g));
    g->status = s;
    g->assigned = assigned;
    g->removed_ms = removed_ms;
    return g;
}

static int drops;

static void
count_drop(const struct sc_group *g, const char *reason)
{
    (void)g;
    assert_non_null(reason);
    drops++;
}

static void
test_prune_policy(void **state)
{
    struct sc_state st = {NULL, 0};
    const int64_t now = 1800000000000LL;
    char id[65];

    (void)state;
    add(&st, 1, SC_PENDING, 1, 0);                                 /* assigned: kept */
    add(&st, 2, SC_CONFIRMED, 1, 0);                               /* assigned: kept */
    add(&st, 3, SC_PENDING, 0, now - 5);                           /* never joined: dropped */
    add(&st, 4, SC_JOINED, 0, now - 2 * SC_REMOVED_KEEP_MS);       /* confirm pending: kept */
    add(&st, 5, SC_CONFIRMED, 0, now - SC_REMOVED_KEEP_MS + 1000); /* within retention */
    add(&st, 6, SC_CONFIRMED, 0, now - SC_REMOVED_KEEP_MS);        /* retention over */
    add(&st, 7, SC_CONFIRMED, 0, 0);                               /* old file: stamped now */
    drops = 0;
    assert_int_equal(sc_state_prune(&st, now, 0, count_drop), 2);
    assert_int_equal(drops, 2);
    assert_int_equal(st.n, 5);
    group_id(3, id);
    assert_null(sc_state_find(&st, id));
    group_id(6, id);
    assert_null(sc_state_find(&st, id));
    group_id(4, id);
    assert_non_null(sc_state_find(&st, id));
    group_id(7, id);
    assert_int_equal(sc_state_find(&st, id)->removed_ms, now);
    /* need_room with space left drops nothing more. */
    assert_int_equal(sc_state_prune(&st, now, 1, NULL), 0);
    sc_state_free(&st);
}

static void
test_full_state_makes_room(void **state)
{
    struct sc_state st = {NULL, 0};
    const int64_t now = 1800000000000LL;
    struct sc_group *g;
    char id[65];
    unsigned k;

    (void)state;
    /* 256 assigned, 254 joined awaiting confirmation, 2 removed confirmed groups. */
    for (k = 0; k < SC_MAX_GROUPS; k++)
        add(&st, k, SC_CONFIRMED, 1, 0);
    for (; k < SC_MAX_STATE_GROUPS - 2; k++)
        add(&st, k, SC_JOINED, 0, now - 10);
    add(&st, 9000, SC_CONFIRMED, 0, now - 50);
    add(&st, 9001, SC_CONFIRMED, 0, now - 100); /* the oldest removal */
    assert_int_equal(st.n, SC_MAX_STATE_GROUPS);
    group_id(10000, id);
    EXPECT_ERR(sc_state_add(&st, id, &g), MT_ERR_TOO_LARGE);
    assert_int_equal(sc_state_prune(&st, now, 1, NULL), 1);
    group_id(9001, id);
    assert_null(sc_state_find(&st, id));
    group_id(10000, id);
    EXPECT_OK(sc_state_add(&st, id, &g));
    /* Full again: the other removed group goes; then nothing is left to drop. */
    assert_int_equal(sc_state_prune(&st, now, 1, NULL), 1);
    group_id(10001, id);
    EXPECT_OK(sc_state_add(&st, id, &g));
    assert_int_equal(sc_state_prune(&st, now, 1, NULL), 0);
    group_id(10002, id);
    EXPECT_ERR(sc_state_add(&st, id, &g), MT_ERR_TOO_LARGE);
    sc_state_free(&st);
}

static void
test_state_info_roundtrip(void **state)
{
    struct sc_state st = {NULL, 0}, back = {NULL, 0};
    struct sc_state_info info, got;
    char *text = NULL, bad[1024];

    (void)state;
    add(&st, 1, SC_CONFIRMED, 0, 1234);
    memset(&info, 0, sizeof(info));
    snprintf(info.peer_id, sizeof(info.peer_id), "%s", PEER);
    snprintf(info.mrtd, sizeof(info.mrtd), "%s", MRTD);
    info.full_total = 3;
    EXPECT_OK(sc_state_serialize_info(&st, &info, &text));
    assert_non_null(strstr(text, "\"state_full_total\": 3"));
    EXPECT_OK(sc_state_parse_info(text, strlen(text), &back, &got));
    assert_string_equal(got.peer_id, PEER);
    assert_string_equal(got.mrtd, MRTD);
    assert_int_equal(got.full_total, 3);
    assert_int_equal(back.n, 1);
    assert_int_equal(back.g[0].removed_ms, 1234);
    sc_state_free(&back);
    mt_free(text);
    sc_state_free(&st);
    /* Files without the new members still load; bad identity members are corruption. */
    EXPECT_OK(sc_state_parse_info("{\"version\":1,\"groups\":[]}", 25, &back, &got));
    assert_string_equal(got.peer_id, "");
    assert_string_equal(got.mrtd, "");
    snprintf(bad, sizeof(bad), "{\"version\":1,\"peer_id\":\"0OIl\",\"groups\":[]}");
    EXPECT_ERR(sc_state_parse(bad, strlen(bad), &back), MT_ERR_SIDECAR_STATE_CORRUPT);
    snprintf(bad, sizeof(bad), "{\"version\":1,\"mrtd\":\"AB\",\"groups\":[]}");
    EXPECT_ERR(sc_state_parse(bad, strlen(bad), &back), MT_ERR_SIDECAR_STATE_CORRUPT);
    snprintf(bad, sizeof(bad), "{\"version\":1,\"mrtd\":5,\"groups\":[]}");
    EXPECT_ERR(sc_state_parse(bad, strlen(bad), &back), MT_ERR_SIDECAR_STATE_CORRUPT);
}

/* ---- 10: core dumps ---- */

static void
test_core_dumps_disabled(void **state)
{
    pid_t pid;
    int st;

    (void)state;
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct rlimit rl;

        if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 1)
            _exit(10); /* the premise: dumpable before */
        if (sc_disable_core_dumps() != MT_OK)
            _exit(11);
        if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0)
            _exit(12);
        if (getrlimit(RLIMIT_CORE, &rl) != 0 || rl.rlim_cur != 0 || rl.rlim_max != 0)
            _exit(13);
        _exit(0);
    }
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

static void
test_main_disables_core_dumps_first(void **state)
{
    char *src = mt_test_slurp(MAIN_PATH, 0);
    const char *call = strstr(src, "sc_disable_core_dumps()");
    const char *token = strstr(src, "sc_token_load(");

    (void)state;
    assert_non_null(call);
    assert_non_null(token);
    assert_true(call < token);
    free(src);
}

static void
test_unit_limits_core(void **state)
{
    char *unit = mt_test_slurp(UNIT_PATH, 0);
    const char *svc = strstr(unit, "\n[Service]\n"), *next, *p;
    int found = 0;

    (void)state;
    assert_non_null(svc);
    next = strstr(svc + 1, "\n[");
    for (p = svc; (p = strstr(p + 1, "\nLimitCORE=")) != NULL && (next == NULL || p < next);) {
        assert_true(strncmp(p, "\nLimitCORE=0\n", 13) == 0);
        found++;
    }
    assert_int_equal(found, 1);
    free(unit);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_token_refuses_quote_and_backslash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redaction_covers_escaped_form, setup, teardown),
        cmocka_unit_test_setup_teardown(test_state_not_regular_is_unreadable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prune_policy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_state_makes_room, setup, teardown),
        cmocka_unit_test_setup_teardown(test_state_info_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_core_dumps_disabled, setup, teardown),
        cmocka_unit_test_setup_teardown(test_main_disables_core_dumps_first, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unit_limits_core, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
