/*
 * The fleet sidecar's review fixes end to end (security review 2, items 8
 * and 9): the real binary against the TLS manager stand-in and the fake
 * meroctl, with the fixture of test_sidecar_e2e.c.  An unreadable state
 * file is never replaced (exit 75), a state written for another identity is
 * moved aside and the groups re-joined, a full state makes room instead of
 * refusing new assignments, and removed never-joined groups are forgotten.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "mdma_stub.h"
#include "mt_testlib.h"
#include "sidecar/sidecar.h"
#include "sidecar_harness.h"
#include "util/mt_alloc.h"

#define G1 "1111111111111111111111111111111111111111111111111111111111111111"
#define G2 "2222222222222222222222222222222222222222222222222222222222222222"

#define GET(s, field) mdma_stub_get((s), &(s)->field)

#define OTHER_PEER "12D3KooWAnotherNodeAnotherNodeAnotherNodeAnotherNode1"

static char *
state_text(struct sidecar_fx *f)
{
    char path[256];

    snprintf(path, sizeof(path), "%s/fleet-state.json", f->state_dir);
    return mt_test_slurp(path, 1);
}

static void
confirm_fails(struct sidecar_fx *f, int fail, int status)
{
    pthread_mutex_lock(&f->mdma.mu);
    f->mdma.confirm_fail = fail;
    f->mdma.confirm_fail_status = status;
    pthread_mutex_unlock(&f->mdma.mu);
}

static size_t
state_groups(struct sidecar_fx *f)
{
    char path[256];
    json_t *root;
    json_error_t err;
    size_t n;

    snprintf(path, sizeof(path), "%s/fleet-state.json", f->state_dir);
    root = json_load_file(path, 0, &err);
    assert_non_null(root);
    n = json_array_size(json_object_get(root, "groups"));
    json_decref(root);
    return n;
}

/* 8: the state path is a directory (EISDIR-like, reproducible as root): exit 75, nothing touched.
 */
static void
test_unreadable_state_not_overwritten(void **state)
{
    struct sidecar_fx *f = *state;
    char path[256], inner[300];
    struct stat sb;

    snprintf(path, sizeof(path), "%s/fleet-state.json", f->state_dir);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(inner, sizeof(inner), "%s/keep", path);
    sidecar_write_file(inner, "precious\n", 0600);
    sidecar_assign(f, "{\"group_id\":\"" G1 "\"}");
    assert_int_equal(sidecar_run_once(f, "0"), SC_EXIT_STATE_UNREADABLE);
    assert_true(sidecar_log_has(f, "\"event\":\"state_unreadable\""));
    assert_false(sidecar_log_has(f, "starting from empty state"));
    assert_int_equal(GET(&f->mdma, should_join_count), 0);
    assert_int_equal(sidecar_join_count(f), 0);
    assert_int_equal(stat(path, &sb), 0);
    assert_true(S_ISDIR(sb.st_mode));
    assert_int_equal(stat(inner, &sb), 0);
    /* Once the path is a readable file again the service runs normally. */
    unlink(inner);
    assert_int_equal(rmdir(path), 0);
    assert_int_equal(sidecar_run_once(f, "0"), 0);
    assert_string_equal(sidecar_status_of(f, G1), "confirmed");
}

/* 9: a state written for another peer ID (or MRTD) is moved aside and the groups re-joined. */
static void
test_identity_change_resets_state(void **state)
{
    struct sidecar_fx *f = *state;
    char path[256], text[2048], cmd[512], *now;

    sidecar_assign(f, "{\"group_id\":\"" G1 "\"}");
    assert_int_equal(sidecar_run_once(f, "0"), 0);
    assert_string_equal(sidecar_status_of(f, G1), "confirmed");
    assert_int_equal(sidecar_join_count(f), 1);
    /* Same identity: nothing re-joined. */
    assert_int_equal(sidecar_run_once(f, "0"), 0);
    assert_int_equal(sidecar_join_count(f), 1);
    assert_false(sidecar_log_has(f, "identity_changed"));
    /* The file says another peer. */
    snprintf(path, sizeof(path), "%s/fleet-state.json", f->state_dir);
    snprintf(text, sizeof(text),
             "{\"version\":1,\"peer_id\":\"%s\",\"mrtd\":\"%s\",\"groups\":[{\"group_id\":\"" G1
             "\",\"status\":\"confirmed\",\"assigned\":true,\"join_attempts\":0,"
             "\"confirm_attempts\":0,\"next_try_ms\":0,\"last_error\":\"\"}]}\n",
             OTHER_PEER, f->merod.mrtd);
    sidecar_write_file(path, text, 0600);
    assert_int_equal(sidecar_run_once(f, "0"), 0);
    assert_true(sidecar_log_has(f, "\"event\":\"identity_changed\""));
    assert_true(sidecar_log_has(f, "\"event\":\"state_reset\""));
    assert_int_equal(sidecar_join_count(f), 2);
    assert_int_equal(GET(&f->mdma, confirm_ok), 2);
    assert_string_equal(sidecar_status_of(f, G1), "confirmed");
    now = state_text(f);
    assert_non_null(strstr(now, f->merod.peer_id));
    assert_null(strstr(now, OTHER_PEER));
    free(now);
    snprintf(cmd, sizeof(cmd), "grep -lq '%s' %s/fleet-state.json.identity-*", OTHER_PEER,
             f->state_dir);
    assert_int_equal(system(cmd), 0);
}

/* 9: 512 removed confirmed groups; a new assignment is still joined (the oldest goes). */
static void
test_full_state_still_joins(void **state)
{
    struct sidecar_fx *f = *state;
    size_t cap = 64 + SC_MAX_STATE_GROUPS * 400, len = 0;
    char path[256], gid[65], *text = malloc(cap);
    int64_t now_ms = (int64_t)time(NULL) * 1000;
    unsigned k;

    assert_non_null(text);
    len += (size_t)snprintf(text + len, cap - len, "{\"version\":1,\"groups\":[");
    for (k = 0; k < SC_MAX_STATE_GROUPS; k++) {
        snprintf(gid, sizeof(gid), "%064x", k + 0x100);
        len += (size_t)snprintf(text + len, cap - len,
                                "%s{\"group_id\":\"%s\",\"status\":\"confirmed\",\"assigned\":"
                                "false,\"join_attempts\":0,\"confirm_attempts\":0,"
                                "\"next_try_ms\":0,\"last_error\":\"\",\"removed_ms\":%lld}",
                                k ? "," : "", gid, (long long)(now_ms - 1000000 + k));
    }
    snprintf(text + len, cap - len, "]}\n");
    snprintf(path, sizeof(path), "%s/fleet-state.json", f->state_dir);
    sidecar_write_file(path, text, 0600);
    free(text);
    sidecar_assign(f, "{\"group_id\":\"" G1 "\"}");
    assert_int_equal(sidecar_run_once(f, "0"), 0);
    assert_false(sidecar_log_has(f, "\"event\":\"state_full\""));
    assert_true(sidecar_log_has(f, "\"event\":\"state_pruned\""));
    assert_true(sidecar_log_has(f, "state full"));
    assert_string_equal(sidecar_status_of(f, G1), "confirmed");
    assert_int_equal(sidecar_join_count(f), 1);
    assert_int_equal(state_groups(f), SC_MAX_STATE_GROUPS);
    /* The oldest removal (k = 0) was the one dropped. */
    snprintf(gid, sizeof(gid), "%064x", 0x100u);
    assert_string_equal(sidecar_status_of(f, gid), "-");
    snprintf(gid, sizeof(gid), "%064x", 0x101u);
    assert_string_equal(sidecar_status_of(f, gid), "confirmed");
}

/* 9: a group removed before it was ever joined is forgotten; a joined one keeps confirming. */
static void
test_removed_pending_forgotten(void **state)
{
    struct sidecar_fx *f = *state;

    sidecar_assign(f, "{\"group_id\":\"" G1 "\"},{\"group_id\":\"" G2 "\"}");
    confirm_fails(f, -1, 500);
    /* G1's join fails, G2's works but its confirm gets a 500. */
    assert_int_equal(sidecar_run_once(f, "5,0"), 0);
    assert_string_equal(sidecar_status_of(f, G1), "pending");
    assert_string_equal(sidecar_status_of(f, G2), "joined");
    sidecar_assign(f, "");
    usleep(30000);
    assert_int_equal(sidecar_run_once(f, "0"), 0);
    assert_true(sidecar_log_has(f, "forgotten (never joined)"));
    assert_string_equal(sidecar_status_of(f, G1), "-");
    assert_string_equal(sidecar_status_of(f, G2), "joined");
    /* The pending confirmation is still sent once MDMA accepts it again. */
    confirm_fails(f, 0, 0);
    usleep(30000);
    assert_int_equal(sidecar_run_once(f, "0"), 0);
    assert_string_equal(sidecar_status_of(f, G2), "confirmed");
    assert_int_equal(sidecar_join_count(f), 2);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_unreadable_state_not_overwritten, sidecar_setup,
                                        sidecar_teardown),
        cmocka_unit_test_setup_teardown(test_identity_change_resets_state, sidecar_setup,
                                        sidecar_teardown),
        cmocka_unit_test_setup_teardown(test_full_state_still_joins, sidecar_setup,
                                        sidecar_teardown),
        cmocka_unit_test_setup_teardown(test_removed_pending_forgotten, sidecar_setup,
                                        sidecar_teardown),
    };

    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
