/*
 * The fleet sidecar end to end (issue 7): the real mero-fleet-sidecar
 * binary as a process, a TLS stand-in for the fleet manager with a test CA
 * (tests/testlib/mdma_stub.c), a plain-HTTP stand-in for merod's admin API
 * and a fake meroctl that records its argument vectors
 * (tests/helpers/fake_meroctl.c).  Backoffs and poll intervals are a few
 * milliseconds, set in the generated configuration.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
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

#include "kmsclient/quote_source.h"
#include "mdma_stub.h"
#include "mt_testlib.h"
#include "sidecar/sidecar.h"
#include "sidecar_harness.h"
#include "sim_fixture.h"
#include "util/mt_alloc.h"

#define G1 "1111111111111111111111111111111111111111111111111111111111111111"
#define G2 "2222222222222222222222222222222222222222222222222222222222222222"

static void
join_record(struct sidecar_fx *f, int idx, char *out, size_t len)
{
    FILE *fp = fopen(f->joins, "rb");
    int c, rec = 0;
    size_t k = 0;

    assert_non_null(fp);
    while ((c = fgetc(fp)) != EOF) {
        if (c == '\n') {
            rec++;
            continue;
        }
        if (rec == idx && k + 1 < len)
            out[k++] = c == '\0' ? '|' : (char)c;
    }
    out[k] = '\0';
    fclose(fp);
}

#define GET(s, field) mdma_stub_get((s), &(s)->field)

static void
test_happy_path(void **state)
{
    struct sidecar_fx *f = *state;
    char rec[512], want[512];

    sidecar_assign(f, "{\"group_id\":\"" G1 "\",\"name\":\"x\"}");
    assert_int_equal(sidecar_run_once(f, "0"), 0);
    assert_int_equal(sidecar_join_count(f), 1);
    join_record(f, 0, rec, sizeof(rec));
    snprintf(want, sizeof(want), "--home|/mnt/data/calimero|--node|default|tee|fleet-join|%s|", G1);
    assert_string_equal(rec, want);
    assert_int_equal(GET(&f->mdma, confirm_ok), 1);
    assert_int_equal(GET(&f->mdma, bad_token_count), 0);
    assert_non_null(strstr(f->mdma.last_confirm, "\"group_id\":\"" G1 "\""));
    assert_non_null(strstr(f->mdma.last_confirm, f->merod.mrtd));
    assert_non_null(strstr(f->mdma.last_should_join, f->merod.peer_id));
    assert_string_equal(sidecar_status_of(f, G1), "confirmed");
    /* A second run neither joins nor confirms again. */
    assert_int_equal(sidecar_run_once(f, "0"), 0);
    assert_int_equal(sidecar_join_count(f), 1);
    assert_int_equal(GET(&f->mdma, confirm_ok), 1);
    assert_int_equal(GET(&f->mdma, should_join_count), 2);
    assert_true(sidecar_log_has(f, "\"event\":\"confirm_ok\""));
    assert_false(sidecar_log_has(f, SIDECAR_TOKEN));
}

static void
test_join_fails_twice_then_succeeds(void **state)
{
    struct sidecar_fx *f = *state;

    sidecar_assign(f, "{\"group_id\":\"" G1 "\"}");
    assert_int_equal(sidecar_run_once(f, "1,7,0"), 0);
    assert_int_equal(sidecar_join_count(f), 1);
    assert_int_equal(GET(&f->mdma, confirm_count), 0);
    assert_string_equal(sidecar_status_of(f, G1), "pending");
    usleep(30000);
    assert_int_equal(sidecar_run_once(f, "1,7,0"), 0);
    assert_int_equal(sidecar_join_count(f), 2);
    assert_int_equal(GET(&f->mdma, confirm_count), 0);
    usleep(30000);
    assert_int_equal(sidecar_run_once(f, "1,7,0"), 0);
    assert_int_equal(sidecar_join_count(f), 3);
    assert_int_equal(GET(&f->mdma, confirm_count), 1);
    assert_int_equal(GET(&f->mdma, confirm_ok), 1);
    assert_string_equal(sidecar_status_of(f, G1), "confirmed");
    usleep(30000);
    assert_int_equal(sidecar_run_once(f, "1,7,0"), 0);
    assert_int_equal(sidecar_join_count(f), 3);
    assert_int_equal(GET(&f->mdma, confirm_count), 1);
    assert_true(sidecar_log_has(f, "meroctl exited with status 7"));
}

static void
test_confirm_retried_500_timeout_refused(void **state)
{
    struct sidecar_fx *f = *state;
    unsigned short port = f->mdma.port;

    sidecar_assign(f, "{\"group_id\":\"" G1 "\"}");
    pthread_mutex_lock(&f->mdma.mu);
    f->mdma.confirm_fail = 1;
    f->mdma.confirm_fail_status = 500;
    pthread_mutex_unlock(&f->mdma.mu);
    assert_int_equal(sidecar_run_once(f, "0"), 0);
    assert_int_equal(GET(&f->mdma, confirm_count), 1);
    assert_int_equal(GET(&f->mdma, confirm_ok), 0);
    assert_string_equal(sidecar_status_of(f, G1), "joined");
    /* Timeout: the manager holds the confirm past http_timeout_ms. */
    pthread_mutex_lock(&f->mdma.mu);
    f->mdma.confirm_fail = 1;
    f->mdma.confirm_delay_ms = 1500;
    pthread_mutex_unlock(&f->mdma.mu);
    usleep(30000);
    assert_int_equal(sidecar_run_once(f, "0"), 0);
    assert_int_equal(GET(&f->mdma, confirm_count), 2);
    assert_int_equal(GET(&f->mdma, confirm_ok), 0);
    assert_string_equal(sidecar_status_of(f, G1), "joined");
    /* Connection refused. */
    mdma_stub_stop(&f->mdma);
    usleep(30000);
    assert_int_equal(sidecar_run_once(f, "0"), 0);
    assert_string_equal(sidecar_status_of(f, G1), "joined");
    assert_true(sidecar_log_has(f, "\"event\":\"mdma_unreachable\""));
    assert_true(sidecar_log_has(f, "\"event\":\"confirm_failed\""));
    /* Back: confirmed once, and the group was joined only once. */
    mdma_stub_start(&f->mdma, port);
    usleep(30000);
    assert_int_equal(sidecar_run_once(f, "0"), 0);
    assert_int_equal(GET(&f->mdma, confirm_ok), 1);
    assert_string_equal(sidecar_status_of(f, G1), "confirmed");
    assert_int_equal(sidecar_join_count(f), 1);
}

static int
wait_for(struct mdma_stub *s, const int *field, int want, int secs)
{
    int i;

    for (i = 0; i < secs * 100; i++) {
        if (mdma_stub_get(s, field) >= want)
            return 1;
        usleep(10000);
    }
    return 0;
}

static void
test_confirm_survives_kill_and_restart(void **state)
{
    struct sidecar_fx *f = *state;
    char path[64], *cmdline;
    FILE *fp;
    size_t n;

    sidecar_assign(f, "{\"group_id\":\"" G1 "\"}");
    pthread_mutex_lock(&f->mdma.mu);
    f->mdma.confirm_fail = -1;
    pthread_mutex_unlock(&f->mdma.mu);
    f->bg = sidecar_spawn(f, 0, "0", NULL);
    assert_true(wait_for(&f->mdma, &f->mdma.confirm_count, 2, 20));
    /* The token is not in the process's arguments. */
    snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)f->bg);
    fp = fopen(path, "rb");
    assert_non_null(fp);
    cmdline = calloc(1, 4096);
    n = fread(cmdline, 1, 4095, fp);
    fclose(fp);
    assert_true(n > 0);
    for (size_t i = 0; i < n; i++)
        cmdline[i] = cmdline[i] == '\0' ? ' ' : cmdline[i];
    assert_null(strstr(cmdline, SIDECAR_TOKEN));
    assert_non_null(strstr(cmdline, "--config"));
    free(cmdline);
    kill(f->bg, SIGKILL);
    waitpid(f->bg, NULL, 0);
    f->bg = 0;
    assert_int_equal(GET(&f->mdma, confirm_ok), 0);
    assert_string_equal(sidecar_status_of(f, G1), "joined");
    pthread_mutex_lock(&f->mdma.mu);
    f->mdma.confirm_fail = 0;
    pthread_mutex_unlock(&f->mdma.mu);
    f->bg = sidecar_spawn(f, 0, "0", NULL);
    assert_true(wait_for(&f->mdma, &f->mdma.confirm_ok, 1, 20));
    kill(f->bg, SIGTERM);
    assert_int_equal(sidecar_wait_exit(f->bg, 10), 0);
    f->bg = 0;
    assert_int_equal(GET(&f->mdma, confirm_ok), 1);
    assert_int_equal(sidecar_join_count(f), 1);
    assert_string_equal(sidecar_status_of(f, G1), "confirmed");
    assert_false(sidecar_log_has(f, SIDECAR_TOKEN));
    assert_true(sidecar_log_has(f, "\"event\":\"stopping\""));
}

static void
test_mdma_down_keeps_state(void **state)
{
    struct sidecar_fx *f = *state;
    unsigned short port = f->mdma.port;
    char path[256], *before, *after;

    sidecar_assign(f, "{\"group_id\":\"" G1 "\"}");
    assert_int_equal(sidecar_run_once(f, "0"), 0);
    assert_string_equal(sidecar_status_of(f, G1), "confirmed");
    snprintf(path, sizeof(path), "%s/fleet-state.json", f->state_dir);
    before = mt_test_slurp(path, 1);
    mdma_stub_stop(&f->mdma);
    assert_int_equal(sidecar_run_once(f, "0"), 0);
    assert_int_equal(sidecar_run_once(f, "0"), 0);
    after = mt_test_slurp(path, 1);
    assert_string_equal(before, after);
    free(before);
    free(after);
    /* An error status is an outage too. */
    mdma_stub_start(&f->mdma, port);
    mdma_stub_set_answer(&f->mdma, 503, "{\"assignments\":[]}");
    assert_int_equal(sidecar_run_once(f, "0"), 0);
    assert_string_equal(sidecar_status_of(f, G1), "confirmed");
    {
        json_t *g = sidecar_state_group(f, G1);

        assert_true(json_is_true(json_object_get(g, "assigned")));
        json_decref(g);
    }
    /* Back up, with one more group. */
    sidecar_assign(f, "{\"group_id\":\"" G1 "\"},{\"group_id\":\"" G2 "\"}");
    assert_int_equal(sidecar_run_once(f, "0"), 0);
    assert_int_equal(sidecar_join_count(f), 2);
    assert_string_equal(sidecar_status_of(f, G2), "confirmed");
    assert_true(sidecar_log_has(f, "\"event\":\"mdma_status\""));
}

static void
test_malformed_answers_ignored(void **state)
{
    struct sidecar_fx *f = *state;
    char pwned[256], body[1024];
    const char *bad[] = {
        "{\"assignments\":[{\"group_id\":\"" G1 "\"}",
        "not json",
        "[]",
        "{\"assignments\":{}}",
        "{\"assignments\":[{\"group_id\":\"" G1 "\"},{\"group_id\":\"abc\"}]}",
        "{\"assignments\":[{\"group_id\":"
        "\"111111111111111111111111111111111111111111111111111111111"
        "111111g\"}]}",
        "{\"assignments\":[{\"group_id\":12}]}",
        "{\"assignments\":[{\"group_id\":\"" G1 "\\n--help\"}]}",
        "{\"assignments\":[{\"group_id\":\"; rm -rf /tmp/x\"}]}",
    };
    size_t i;
    struct stat sb;

    snprintf(pwned, sizeof(pwned), "%s/pwned", f->dir);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        mdma_stub_set_answer(&f->mdma, 200, bad[i]);
        assert_int_equal(sidecar_run_once(f, "0"), 0);
    }
    snprintf(body, sizeof(body), "{\"assignments\":[{\"group_id\":\"$(touch %s)\"}]}", pwned);
    mdma_stub_set_answer(&f->mdma, 200, body);
    assert_int_equal(sidecar_run_once(f, "0"), 0);
    snprintf(body, sizeof(body), "{\"assignments\":[{\"group_id\":\"`touch %s`\"}]}", pwned);
    mdma_stub_set_answer(&f->mdma, 200, body);
    assert_int_equal(sidecar_run_once(f, "0"), 0);
    /* A body over max_response_bytes (default 64 KiB). */
    pthread_mutex_lock(&f->mdma.mu);
    f->mdma.huge_body = 2u * 1024u * 1024u;
    pthread_mutex_unlock(&f->mdma.mu);
    assert_int_equal(sidecar_run_once(f, "0"), 0);
    assert_int_equal(sidecar_join_count(f), 0);
    assert_int_equal(GET(&f->mdma, confirm_count), 0);
    assert_int_not_equal(stat(pwned, &sb), 0);
    assert_true(sidecar_log_has(f, "\"event\":\"mdma_response_invalid\""));
    assert_true(sidecar_log_has(f, "group_id is not 64 hex digits"));
    assert_true(sidecar_log_has(f, "response body over"));
}

static void
test_merod_not_ready_waits(void **state)
{
    struct sidecar_fx *f = *state;

    pthread_mutex_lock(&f->merod.mu);
    f->merod.health_fail = 4;
    pthread_mutex_unlock(&f->merod.mu);
    sidecar_assign(f, "{\"group_id\":\"" G1 "\"}");
    assert_int_equal(sidecar_run_once(f, "0"), 0);
    assert_int_equal(GET(&f->merod, health_count), 5);
    assert_int_equal(sidecar_join_count(f), 1);
    assert_true(sidecar_log_has(f, "\"event\":\"merod_not_ready\""));
    /* A bad MRTD from merod is refused and waited on, never sent. */
    pthread_mutex_lock(&f->merod.mu);
    f->merod.mrtd[0] = 'A';
    pthread_mutex_unlock(&f->merod.mu);
    {
        pid_t pid = sidecar_spawn(f, 1, "0", NULL);

        usleep(300000);
        kill(pid, SIGTERM);
        assert_int_equal(sidecar_wait_exit(pid, 10), 0);
    }
    assert_true(sidecar_log_has(f, "\"event\":\"mrtd_unavailable\""));
    assert_int_equal(GET(&f->mdma, should_join_count), 1);
}

static void
test_untrusted_certificate_refused(void **state)
{
    struct sidecar_fx *f = *state;
    char text[4096], *old = mt_test_slurp(f->conf, 1), *p;

    /* Without ca_file the system store is used, which does not know the test CA. */
    p = strstr(old, "ca_file");
    assert_non_null(p);
    *p = '#';
    snprintf(text, sizeof(text), "%s", old);
    free(old);
    sidecar_write_file(f->conf, text, 0600);
    sidecar_assign(f, "{\"group_id\":\"" G1 "\"}");
    assert_int_equal(sidecar_run_once(f, "0"), 0);
    assert_int_equal(sidecar_join_count(f), 0);
    assert_int_equal(GET(&f->mdma, should_join_count), 0);
    assert_true(sidecar_log_has(f, "\"event\":\"mdma_unreachable\""));
}

static void
test_corrupt_state_recovered(void **state)
{
    struct sidecar_fx *f = *state;
    char path[256], cmd[512];

    snprintf(path, sizeof(path), "%s/fleet-state.json", f->state_dir);
    sidecar_write_file(path, "{\"version\":1,\"groups\":[{\"group_id\":", 0600);
    sidecar_assign(f, "{\"group_id\":\"" G1 "\"}");
    assert_int_equal(sidecar_run_once(f, "0"), 0);
    assert_true(sidecar_log_has(f, "\"event\":\"state_corrupt\""));
    assert_string_equal(sidecar_status_of(f, G1), "confirmed");
    snprintf(cmd, sizeof(cmd), "ls %s/fleet-state.json.corrupt-* >/dev/null 2>&1", f->state_dir);
    assert_int_equal(system(cmd), 0);
    /* --status prints the state. */
    snprintf(cmd, sizeof(cmd), "%s --config %s --status | grep -q '\"status\": \"confirmed\"'",
             MT_SIDECAR_PATH, f->conf);
    assert_int_equal(system(cmd), 0);
}

static void
test_join_timeout_and_removed(void **state)
{
    struct sidecar_fx *f = *state;

    sidecar_config(f, "join_timeout_ms = 300\n");
    sidecar_assign(f, "{\"group_id\":\"" G1 "\"}");
    assert_int_equal(sidecar_run_once(f, "hang"), 0);
    assert_string_equal(sidecar_status_of(f, G1), "pending");
    assert_true(sidecar_log_has(f, "sidecar_join_timeout"));
    assert_int_equal(GET(&f->mdma, confirm_count), 0);
    usleep(30000);
    assert_int_equal(sidecar_run_once(f, "hang,0"), 0);
    assert_string_equal(sidecar_status_of(f, G1), "confirmed");
    /* The assignment disappears: logged, kept, no leave. */
    sidecar_assign(f, "");
    assert_int_equal(sidecar_run_once(f, "hang,0"), 0);
    assert_true(sidecar_log_has(f, "\"event\":\"assignment_removed\""));
    assert_string_equal(sidecar_status_of(f, G1), "confirmed");
    assert_int_equal(sidecar_join_count(f), 2);
}

static void
test_status_endpoint(void **state)
{
    struct sidecar_fx *f = *state;
    char cmd[512];
    int port = 20000 + (int)(getpid() % 20000), ok = 0, i;

    snprintf(cmd, sizeof(cmd), "status_port = %d\n", port);
    sidecar_config(f, cmd);
    sidecar_assign(f, "{\"group_id\":\"" G1 "\"}");
    f->bg = sidecar_spawn(f, 0, "0", NULL);
    assert_true(wait_for(&f->mdma, &f->mdma.confirm_ok, 1, 20));
    snprintf(cmd, sizeof(cmd),
             "curl -sf http://127.0.0.1:%d/status | grep -q '\"status\": \"confirmed\"'", port);
    for (i = 0; i < 50 && !ok; i++) {
        ok = system(cmd) == 0;
        if (!ok)
            usleep(50000);
    }
    assert_true(ok);
    kill(f->bg, SIGTERM);
    assert_int_equal(sidecar_wait_exit(f->bg, 10), 0);
    f->bg = 0;
}

/* ---- the MRTD from the node's own TD quote (simulator) ---- */

/*
 * A simulated TD whose MRTD is a pattern no default machine has, so the
 * value the manager sees can only have come from this machine's quote.
 * want receives it as 96 lowercase hex, computed here from the profile.
 */
static struct mt_sim_machine *
patterned_machine(char want[SC_MRTD_HEX + 1])
{
    struct mt_sim_machine *m = sim_fixture_machine("locked-read-only");
    size_t i;

    for (i = 0; i < sizeof(m->mrtd); i++) {
        m->mrtd[i] = (uint8_t)(0x5a ^ (i * 7u));
        snprintf(want + 2 * i, 3, "%02x", (unsigned)m->mrtd[i]);
    }
    return m;
}

/* body's "mrtd" member, or "-" (static buffer). */
static const char *
mrtd_in(const char *body)
{
    static char buf[128];
    json_t *j = json_loads(body, 0, NULL);

    snprintf(buf, sizeof(buf), "%s", j ? json_string_value(json_object_get(j, "mrtd")) : "-");
    json_decref(j);
    return buf;
}

static void
expect_mrtd_everywhere(struct sidecar_fx *f, const char *want)
{
    char path[256];
    json_t *st;

    assert_string_equal(mrtd_in(f->mdma.last_should_join), want);
    assert_string_equal(mrtd_in(f->mdma.last_confirm), want);
    assert_string_not_equal(want, f->merod.mrtd);
    snprintf(path, sizeof(path), "%s/fleet-state.json", f->state_dir);
    st = json_load_file(path, 0, NULL);
    assert_non_null(st);
    assert_string_equal(json_string_value(json_object_get(st, "mrtd")), want);
    json_decref(st);
}

static void
test_mrtd_from_dstack_simulator(void **state)
{
    struct sidecar_fx *f = *state;
    struct sim_fixture sim;
    char want[SC_MRTD_HEX + 1];

    sim_fixture_start(&sim, patterned_machine(want), 0);
    snprintf(f->mrtd_source, sizeof(f->mrtd_source), "dstack:%s", sim.socket);
    sidecar_config(f, NULL);
    sidecar_assign(f, "{\"group_id\":\"" G1 "\"}");
    assert_int_equal(sidecar_run_once(f, "0"), 0);
    assert_int_equal(sidecar_join_count(f), 1);
    assert_int_equal(GET(&f->mdma, confirm_ok), 1);
    expect_mrtd_everywhere(f, want);
    assert_true(sidecar_log_has(f, want));
    /* The agent gone: the MRTD is waited for, nothing is sent to the manager. */
    sim_fixture_stop(&sim);
    {
        pid_t pid = sidecar_spawn(f, 1, "0", NULL);

        usleep(300000);
        kill(pid, SIGTERM);
        assert_int_equal(sidecar_wait_exit(pid, 10), 0);
    }
    assert_true(sidecar_log_has(f, "\"event\":\"mrtd_unavailable\""));
    assert_int_equal(GET(&f->mdma, should_join_count), 1);
}

/*
 * configfs-tsm: a fake tree in an ordinary directory.  A real configfs-tsm
 * writes outblob itself; here the quote source's test hook (reached through
 * sc_node_set_tsm_hook, so this part runs the sidecar in-process with
 * sc_run) asks the simulator for a quote over the inblob just written.
 */
struct tsm_fake {
    const char *socket;
    int calls;
};

static void
tsm_from_simulator(const char *entry, void *arg)
{
    struct tsm_fake *t = arg;
    struct mt_quote_source src;
    char path[512], spec[256], why[256];
    uint8_t *in, *q = NULL;
    size_t n, qlen = 0;
    FILE *fp;

    t->calls++;
    snprintf(path, sizeof(path), "%s/inblob", entry);
    in = mt_test_read_file(path, &n);
    assert_int_equal(n, 64);
    snprintf(spec, sizeof(spec), "dstack:%s", t->socket);
    EXPECT_OK(mt_quote_source_parse(spec, &src));
    if (mt_quote_source_get(&src, in, &q, &qlen, why, sizeof(why)) != MT_OK)
        fail_msg("simulator GetQuote: %s", why);
    mt_free(in);
    snprintf(path, sizeof(path), "%s/outblob", entry);
    fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(q, 1, qlen, fp), qlen);
    assert_int_equal(fclose(fp), 0);
    mt_free(q);
}

static void
test_mrtd_from_tsm_tree(void **state)
{
    struct sidecar_fx *f = *state;
    struct sim_fixture sim;
    struct tsm_fake t = {NULL, 0};
    struct sc_config c;
    struct sc_run_opts o = {1, 0};
    volatile sig_atomic_t stop = 0;
    char want[SC_MRTD_HEX + 1], base[160], why[256], cmd[256], *token = NULL;
    int fd;

    sim_fixture_start(&sim, patterned_machine(want), 0);
    t.socket = sim.socket;
    snprintf(base, sizeof(base), "%s/tsm", f->dir);
    assert_int_equal(mkdir(base, 0700), 0);
    snprintf(f->mrtd_source, sizeof(f->mrtd_source), "tsm:%s", base);
    sidecar_config(f, NULL);
    sidecar_assign(f, "{\"group_id\":\"" G1 "\"}");
    assert_int_equal(setenv("MT_FAKE_MEROCTL_LOG", f->joins, 1), 0);
    assert_int_equal(setenv("MT_FAKE_MEROCTL_SCRIPT", "0", 1), 0);
    fd = open(f->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    sc_log_set_fd(fd);
    if (sc_config_load(f->conf, &c, why, sizeof(why)) != MT_OK)
        fail_msg("config: %s", why);
    if (sc_token_load(c.token_file, &token, why, sizeof(why)) != MT_OK)
        fail_msg("token: %s", why);
    sc_log_set_secret(token);
    sc_node_set_tsm_hook(tsm_from_simulator, &t);
    assert_int_equal(sc_run(&c, token, &o, &stop), 0);
    sc_node_set_tsm_hook(NULL, NULL);
    sc_log_set_secret(NULL);
    sc_log_set_fd(2);
    close(fd);
    sc_secret_free(token);
    sc_config_free(&c);
    sim_fixture_stop(&sim);
    assert_int_equal(t.calls, 1);
    /* The entry is removed again. */
    snprintf(cmd, sizeof(cmd), "test -z \"$(ls -A '%s')\"", base);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(sidecar_join_count(f), 1);
    assert_int_equal(GET(&f->mdma, confirm_ok), 1);
    expect_mrtd_everywhere(f, want);
}

/* --leave-removed: a confirmed group MDMA withdraws is left with meroctl, then forgotten. */
static void
test_leave_removed(void **state)
{
    struct sidecar_fx *f = *state;
    char rec[512], want[512], path[256], *text;

    sidecar_assign(f, "{\"group_id\":\"" G1 "\"},{\"group_id\":\"" G2 "\"}");
    assert_int_equal(sidecar_run_once(f, "0"), 0);
    assert_string_equal(sidecar_status_of(f, G1), "confirmed");
    assert_string_equal(sidecar_status_of(f, G2), "confirmed");
    sidecar_assign(f, "{\"group_id\":\"" G2 "\"}");
    /* Without the option: logged, kept, no meroctl run. */
    assert_int_equal(sidecar_run_once(f, "0"), 0);
    assert_int_equal(sidecar_join_count(f), 2);
    assert_string_equal(sidecar_status_of(f, G1), "confirmed");
    /* With it: the leave fails once (kept, retried later), then works. */
    assert_int_equal(sidecar_wait_exit(sidecar_spawn(f, 1, "0,0,5", "--leave-removed"), 30), 0);
    assert_int_equal(sidecar_join_count(f), 3);
    join_record(f, 2, rec, sizeof(rec));
    snprintf(want, sizeof(want), "--home|/mnt/data/calimero|--node|default|tee|fleet-leave|%s|",
             G1);
    assert_string_equal(rec, want);
    assert_string_equal(sidecar_status_of(f, G1), "confirmed");
    assert_true(sidecar_log_has(f, "\"event\":\"leave_failed\""));
    usleep(40000); /* a failed leave waits backoff_max_ms (20) */
    assert_int_equal(sidecar_wait_exit(sidecar_spawn(f, 1, "0", "--leave-removed"), 30), 0);
    assert_int_equal(sidecar_join_count(f), 4);
    assert_true(sidecar_log_has(f, "\"event\":\"leave_ok\""));
    snprintf(path, sizeof(path), "%s/fleet-state.json", f->state_dir);
    text = mt_test_slurp(path, 1);
    assert_null(strstr(text, G1));
    assert_non_null(strstr(text, G2));
    free(text);
    assert_string_equal(sidecar_status_of(f, G2), "confirmed");
    assert_int_equal(GET(&f->mdma, confirm_ok), 2);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_happy_path, sidecar_setup, sidecar_teardown),
        cmocka_unit_test_setup_teardown(test_join_fails_twice_then_succeeds, sidecar_setup,
                                        sidecar_teardown),
        cmocka_unit_test_setup_teardown(test_confirm_retried_500_timeout_refused, sidecar_setup,
                                        sidecar_teardown),
        cmocka_unit_test_setup_teardown(test_confirm_survives_kill_and_restart, sidecar_setup,
                                        sidecar_teardown),
        cmocka_unit_test_setup_teardown(test_mdma_down_keeps_state, sidecar_setup,
                                        sidecar_teardown),
        cmocka_unit_test_setup_teardown(test_malformed_answers_ignored, sidecar_setup,
                                        sidecar_teardown),
        cmocka_unit_test_setup_teardown(test_merod_not_ready_waits, sidecar_setup,
                                        sidecar_teardown),
        cmocka_unit_test_setup_teardown(test_untrusted_certificate_refused, sidecar_setup,
                                        sidecar_teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_state_recovered, sidecar_setup,
                                        sidecar_teardown),
        cmocka_unit_test_setup_teardown(test_join_timeout_and_removed, sidecar_setup,
                                        sidecar_teardown),
        cmocka_unit_test_setup_teardown(test_status_endpoint, sidecar_setup, sidecar_teardown),
        cmocka_unit_test_setup_teardown(test_mrtd_from_dstack_simulator, sidecar_setup,
                                        sidecar_teardown),
        cmocka_unit_test_setup_teardown(test_mrtd_from_tsm_tree, sidecar_setup, sidecar_teardown),
        cmocka_unit_test_setup_teardown(test_leave_removed, sidecar_setup, sidecar_teardown),
    };

    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
