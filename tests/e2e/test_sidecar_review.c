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
#include "util/mt_alloc.h"

extern char **environ;

#define TOKEN "tok-SECRET-7f3a9c1e5b"
#define G1 "1111111111111111111111111111111111111111111111111111111111111111"
#define G2 "2222222222222222222222222222222222222222222222222222222222222222"

struct fx {
    char dir[64];
    char conf[128], token[128], state_dir[128], log[128], joins[128];
    char mrtd_source[256];
    struct mdma_stub mdma, merod;
    pid_t bg;
};

static struct fx *F;

static void
write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    assert_true(fputs(text, f) >= 0);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(chmod(path, mode), 0);
}

static void
config(struct fx *f, const char *extra)
{
    char text[4096];

    snprintf(text, sizeof(text),
             "# test configuration\n"
             "mdma_url = %s/\n"
             "token_file = %s\n"
             "ca_file = %s\n"
             "meroctl = %s\n"
             "meroctl_home = /mnt/data/calimero\n"
             "meroctl_node = default\n"
             "merod_admin_url = %s\n"
             "mrtd_source = %s\n"
             "state_dir = %s\n"
             "poll_interval_ms = 50\n"
             "http_timeout_ms = 1000\n"
             "backoff_initial_ms = 1\n"
             "backoff_max_ms = 20\n"
             "ready_initial_ms = 10\n"
             "ready_max_ms = 40\n"
             "%s",
             f->mdma.url, f->token, f->mdma.ca_path, MT_FAKE_MEROCTL_PATH, f->merod.url,
             f->mrtd_source, f->state_dir, extra != NULL ? extra : "");
    write_file(f->conf, text, 0600);
}

static int
setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/mt-sidecar-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->conf, sizeof(f->conf), "%s/fleet-sidecar.conf", f->dir);
    snprintf(f->token, sizeof(f->token), "%s/token", f->dir);
    snprintf(f->state_dir, sizeof(f->state_dir), "%s/state", f->dir);
    snprintf(f->log, sizeof(f->log), "%s/sidecar.log", f->dir);
    snprintf(f->joins, sizeof(f->joins), "%s/meroctl.log", f->dir);
    assert_int_equal(mkdir(f->state_dir, 0700), 0);
    write_file(f->token, TOKEN "\n", 0600);
    mdma_stub_init(&f->mdma, 1, f->dir);
    snprintf(f->mdma.expect_token, sizeof(f->mdma.expect_token), "%s", TOKEN);
    mdma_stub_start(&f->mdma, 0);
    mdma_stub_init(&f->merod, 0, f->dir);
    mdma_stub_start(&f->merod, 0);
    snprintf(f->mrtd_source, sizeof(f->mrtd_source), "merod");
    config(f, NULL);
    F = f;
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *f = *state;
    char cmd[256];

    if (f->bg > 0) {
        kill(f->bg, SIGKILL);
        waitpid(f->bg, NULL, 0);
    }
    mdma_stub_free(&f->mdma);
    mdma_stub_free(&f->merod);
    if (getenv("KEEP"))
        return 0;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", f->dir);
    free(f);
    return 0;
}

/* Start the sidecar; script is the fake meroctl's MT_FAKE_MEROCTL_SCRIPT. */
static pid_t
spawn_sidecar(struct fx *f, int once, const char *script, const char *extra_arg)
{
    char e1[256], e2[256];
    char *envp[] = {e1, e2, "PATH=/usr/bin:/bin", NULL};
    char *argv[] = {"mero-fleet-sidecar",   "--config",        f->conf,
                    once ? "--once" : NULL, (char *)extra_arg, NULL};
    posix_spawn_file_actions_t fa;
    pid_t pid;

    if (!once) {
        argv[3] = (char *)extra_arg;
        argv[4] = NULL;
    }
    snprintf(e1, sizeof(e1), "MT_FAKE_MEROCTL_LOG=%s", f->joins);
    snprintf(e2, sizeof(e2), "MT_FAKE_MEROCTL_SCRIPT=%s", script != NULL ? script : "");
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 2, f->log, O_WRONLY | O_CREAT | O_APPEND, 0600);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    assert_int_equal(posix_spawn(&pid, MT_SIDECAR_PATH, &fa, NULL, argv, envp), 0);
    posix_spawn_file_actions_destroy(&fa);
    return pid;
}

static int
wait_exit(pid_t pid, int secs)
{
    int st, i;

    for (i = 0; i < secs * 100; i++) {
        if (waitpid(pid, &st, WNOHANG) == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        usleep(10000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    fail_msg("sidecar did not exit within %d s", secs);
    return -1;
}

static int
run_once(struct fx *f, const char *script)
{
    return wait_exit(spawn_sidecar(f, 1, script, NULL), 30);
}

/* Records of the fake meroctl: count, and record i (0-based) as argv joined by ' '. */
static int
join_count(struct fx *f)
{
    FILE *fp = fopen(f->joins, "rb");
    int n = 0, c;

    if (fp == NULL)
        return 0;
    while ((c = fgetc(fp)) != EOF)
        n += c == '\n';
    fclose(fp);
    return n;
}

static json_t *
state_group(struct fx *f, const char *id)
{
    char path[256];
    json_t *root, *g, *out = NULL;
    json_error_t err;
    size_t i;

    snprintf(path, sizeof(path), "%s/fleet-state.json", f->state_dir);
    root = json_load_file(path, 0, &err);
    assert_non_null(root);
    json_array_foreach(json_object_get(root, "groups"), i, g)
    {
        if (strcmp(json_string_value(json_object_get(g, "group_id")), id) == 0)
            out = json_incref(g);
    }
    json_decref(root);
    return out;
}

static const char *
status_of(struct fx *f, const char *id)
{
    static char buf[32];
    json_t *g = state_group(f, id);

    snprintf(buf, sizeof(buf), "%s", g ? json_string_value(json_object_get(g, "status")) : "-");
    json_decref(g);
    return buf;
}

static int
log_has(struct fx *f, const char *needle)
{
    char *t = mt_test_slurp(f->log, 1);
    int r = strstr(t, needle) != NULL;

    free(t);
    return r;
}

static void
assign(struct fx *f, const char *ids)
{
    char body[2048];

    snprintf(body, sizeof(body), "{\"assignments\":[%s],\"extra\":{\"ignored\":true}}", ids);
    mdma_stub_set_answer(&f->mdma, 200, body);
}

#define GET(s, field) mdma_stub_get((s), &(s)->field)

#define OTHER_PEER "12D3KooWAnotherNodeAnotherNodeAnotherNodeAnotherNode1"

static char *
state_text(struct fx *f)
{
    char path[256];

    snprintf(path, sizeof(path), "%s/fleet-state.json", f->state_dir);
    return mt_test_slurp(path, 1);
}

static void
confirm_fails(struct fx *f, int fail, int status)
{
    pthread_mutex_lock(&f->mdma.mu);
    f->mdma.confirm_fail = fail;
    f->mdma.confirm_fail_status = status;
    pthread_mutex_unlock(&f->mdma.mu);
}

static size_t
state_groups(struct fx *f)
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
    struct fx *f = *state;
    char path[256], inner[300];
    struct stat sb;

    snprintf(path, sizeof(path), "%s/fleet-state.json", f->state_dir);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(inner, sizeof(inner), "%s/keep", path);
    write_file(inner, "precious\n", 0600);
    assign(f, "{\"group_id\":\"" G1 "\"}");
    assert_int_equal(run_once(f, "0"), SC_EXIT_STATE_UNREADABLE);
    assert_true(log_has(f, "\"event\":\"state_unreadable\""));
    assert_false(log_has(f, "starting from empty state"));
    assert_int_equal(GET(&f->mdma, should_join_count), 0);
    assert_int_equal(join_count(f), 0);
    assert_int_equal(stat(path, &sb), 0);
    assert_true(S_ISDIR(sb.st_mode));
    assert_int_equal(stat(inner, &sb), 0);
    /* Once the path is a readable file again the service runs normally. */
    unlink(inner);
    assert_int_equal(rmdir(path), 0);
    assert_int_equal(run_once(f, "0"), 0);
    assert_string_equal(status_of(f, G1), "confirmed");
}

/* 9: a state written for another peer ID (or MRTD) is moved aside and the groups re-joined. */
static void
test_identity_change_resets_state(void **state)
{
    struct fx *f = *state;
    char path[256], text[2048], cmd[512], *now;

    assign(f, "{\"group_id\":\"" G1 "\"}");
    assert_int_equal(run_once(f, "0"), 0);
    assert_string_equal(status_of(f, G1), "confirmed");
    assert_int_equal(join_count(f), 1);
    /* Same identity: nothing re-joined. */
    assert_int_equal(run_once(f, "0"), 0);
    assert_int_equal(join_count(f), 1);
    assert_false(log_has(f, "identity_changed"));
    /* The file says another peer. */
    snprintf(path, sizeof(path), "%s/fleet-state.json", f->state_dir);
    snprintf(text, sizeof(text),
             "{\"version\":1,\"peer_id\":\"%s\",\"mrtd\":\"%s\",\"groups\":[{\"group_id\":\"" G1
             "\",\"status\":\"confirmed\",\"assigned\":true,\"join_attempts\":0,"
             "\"confirm_attempts\":0,\"next_try_ms\":0,\"last_error\":\"\"}]}\n",
             OTHER_PEER, f->merod.mrtd);
    write_file(path, text, 0600);
    assert_int_equal(run_once(f, "0"), 0);
    assert_true(log_has(f, "\"event\":\"identity_changed\""));
    assert_true(log_has(f, "\"event\":\"state_reset\""));
    assert_int_equal(join_count(f), 2);
    assert_int_equal(GET(&f->mdma, confirm_ok), 2);
    assert_string_equal(status_of(f, G1), "confirmed");
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
    struct fx *f = *state;
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
    write_file(path, text, 0600);
    free(text);
    assign(f, "{\"group_id\":\"" G1 "\"}");
    assert_int_equal(run_once(f, "0"), 0);
    assert_false(log_has(f, "\"event\":\"state_full\""));
    assert_true(log_has(f, "\"event\":\"state_pruned\""));
    assert_true(log_has(f, "state full"));
    assert_string_equal(status_of(f, G1), "confirmed");
    assert_int_equal(join_count(f), 1);
    assert_int_equal(state_groups(f), SC_MAX_STATE_GROUPS);
    /* The oldest removal (k = 0) was the one dropped. */
    snprintf(gid, sizeof(gid), "%064x", 0x100u);
    assert_string_equal(status_of(f, gid), "-");
    snprintf(gid, sizeof(gid), "%064x", 0x101u);
    assert_string_equal(status_of(f, gid), "confirmed");
}

/* 9: a group removed before it was ever joined is forgotten; a joined one keeps confirming. */
static void
test_removed_pending_forgotten(void **state)
{
    struct fx *f = *state;

    assign(f, "{\"group_id\":\"" G1 "\"},{\"group_id\":\"" G2 "\"}");
    confirm_fails(f, -1, 500);
    /* G1's join fails, G2's works but its confirm gets a 500. */
    assert_int_equal(run_once(f, "5,0"), 0);
    assert_string_equal(status_of(f, G1), "pending");
    assert_string_equal(status_of(f, G2), "joined");
    assign(f, "");
    usleep(30000);
    assert_int_equal(run_once(f, "0"), 0);
    assert_true(log_has(f, "forgotten (never joined)"));
    assert_string_equal(status_of(f, G1), "-");
    assert_string_equal(status_of(f, G2), "joined");
    /* The pending confirmation is still sent once MDMA accepts it again. */
    confirm_fails(f, 0, 0);
    usleep(30000);
    assert_int_equal(run_once(f, "0"), 0);
    assert_string_equal(status_of(f, G2), "confirmed");
    assert_int_equal(join_count(f), 2);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_unreadable_state_not_overwritten, setup, teardown),
        cmocka_unit_test_setup_teardown(test_identity_change_resets_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_state_still_joins, setup, teardown),
        cmocka_unit_test_setup_teardown(test_removed_pending_forgotten, setup, teardown),
    };

    signal(SIGPIPE, SIG_IGN);
    (void)F;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
