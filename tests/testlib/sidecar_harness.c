/* The fleet sidecar end-to-end harness (sidecar_harness.h). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>

#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mt_testlib.h"
#include "sidecar_harness.h"

void
sidecar_write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    assert_true(fputs(text, f) >= 0);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(chmod(path, mode), 0);
}

void
sidecar_config(struct sidecar_fx *f, const char *extra)
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
    sidecar_write_file(f->conf, text, 0600);
}

int
sidecar_setup(void **state)
{
    struct sidecar_fx *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/mt-sidecar-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->conf, sizeof(f->conf), "%s/fleet-sidecar.conf", f->dir);
    snprintf(f->token, sizeof(f->token), "%s/token", f->dir);
    snprintf(f->state_dir, sizeof(f->state_dir), "%s/state", f->dir);
    snprintf(f->log, sizeof(f->log), "%s/sidecar.log", f->dir);
    snprintf(f->joins, sizeof(f->joins), "%s/meroctl.log", f->dir);
    assert_int_equal(mkdir(f->state_dir, 0700), 0);
    sidecar_write_file(f->token, SIDECAR_TOKEN "\n", 0600);
    mdma_stub_init(&f->mdma, 1, f->dir);
    snprintf(f->mdma.expect_token, sizeof(f->mdma.expect_token), "%s", SIDECAR_TOKEN);
    mdma_stub_start(&f->mdma, 0);
    mdma_stub_init(&f->merod, 0, f->dir);
    mdma_stub_start(&f->merod, 0);
    snprintf(f->mrtd_source, sizeof(f->mrtd_source), "merod");
    sidecar_config(f, NULL);
    *state = f;
    return 0;
}

int
sidecar_teardown(void **state)
{
    struct sidecar_fx *f = *state;
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
pid_t
sidecar_spawn(struct sidecar_fx *f, int once, const char *script, const char *extra_arg)
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

int
sidecar_wait_exit(pid_t pid, int secs)
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

int
sidecar_run_once(struct sidecar_fx *f, const char *script)
{
    return sidecar_wait_exit(sidecar_spawn(f, 1, script, NULL), 30);
}

/* Records of the fake meroctl: count, and record i (0-based) as argv joined by ' '. */
int
sidecar_join_count(struct sidecar_fx *f)
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

json_t *
sidecar_state_group(struct sidecar_fx *f, const char *id)
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

const char *
sidecar_status_of(struct sidecar_fx *f, const char *id)
{
    static char buf[32];
    json_t *g = sidecar_state_group(f, id);

    snprintf(buf, sizeof(buf), "%s", g ? json_string_value(json_object_get(g, "status")) : "-");
    json_decref(g);
    return buf;
}

int
sidecar_log_has(struct sidecar_fx *f, const char *needle)
{
    char *t = mt_test_slurp(f->log, 1);
    int r = strstr(t, needle) != NULL;

    free(t);
    return r;
}

void
sidecar_assign(struct sidecar_fx *f, const char *ids)
{
    char body[2048];

    snprintf(body, sizeof(body), "{\"assignments\":[%s],\"extra\":{\"ignored\":true}}", ids);
    mdma_stub_set_answer(&f->mdma, 200, body);
}
