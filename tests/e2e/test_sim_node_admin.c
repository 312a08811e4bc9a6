/*
 * The simulated node admin API (mero-tee-sim --node-admin, src/sim/sim_node.c):
 * POST /admin-api/tee/attest answers as merod does (reference 2.9, 1.10) with
 * a quote of the simulated TD that verifies against the test root, whose
 * report data is nonce || 32 zero bytes (or the application id), and whose
 * parsed body matches the quote bytes; bad nonces, bad JSON, other methods,
 * other paths, other content types and oversized bodies are refused with
 * their status; the program takes the option on loopback only.
 */
#include "mt_testlib.h"
#include "sim_fixture.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>

#include "dcap/dcap.h"
#include "pccs/pccs.h"
#include "quote/quote.h"
#include "sim/sim_node.h"
#include "util/mt_alloc.h"
#include "util/mt_b64.h"
#include "util/mt_buf.h"
#include "util/mt_hex.h"

/* One request to the admin API; returns the status, *resp the body (mt_free). */
static long
node_http(uint16_t port, const char *method, const char *path, const char *content_type,
          const char *body, size_t body_len, char **resp)
{
    struct mt_buf buf;
    char url[128];
    long status;

    mt_buf_init(&buf, 1u << 20);
    snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", (unsigned)port, path);
    status = mt_test_http(url, method, content_type, body, body_len, 30L, &buf);
    if (mt_buf_append(&buf, "", 1) != MT_OK)
        fail_msg("out of memory");
    *resp = (char *)mt_buf_take(&buf, NULL);
    return status;
}

static const char *
body_hex(const json_t *body, const char *key)
{
    const char *s = json_string_value(json_object_get(body, key));

    if (s == NULL)
        fail_msg("quote.body.%s missing", key);
    return s;
}

/* Attest with this request body; check the answer against the quote bytes and want_rd. */
static void
attest_ok(const struct sim_fixture *f, uint16_t port, const char *req, const uint8_t want_rd[64])
{
    struct mt_verdict v;
    struct mt_quote q;
    json_t *r, *data, *body;
    uint8_t *quote = NULL;
    size_t len = 0;
    char *resp = NULL, key[8];
    const char *b64;
    int i;

    assert_int_equal(node_http(port, "POST", "/admin-api/tee/attest", "application/json", req,
                               strlen(req), &resp),
                     200);
    r = json_loads(resp, 0, NULL);
    assert_non_null(r);
    data = json_object_get(r, "data");
    b64 = json_string_value(json_object_get(data, "quoteB64"));
    assert_non_null(b64);
    EXPECT_OK(mt_b64_decode_alloc(b64, strlen(b64), 1u << 20, &quote, &len));
    EXPECT_OK(mt_quote_parse(quote, len, &q));
    assert_memory_equal(mt_quote_report_data(&q), want_rd, 64);
    body = json_object_get(json_object_get(data, "quote"), "body");
    assert_non_null(body);
    assert_string_equal(body_hex(body, "reportdata"), mt_test_hex(want_rd, 64));
    assert_string_equal(body_hex(body, "mrtd"), mt_test_hex(q.td.mr_td, 48));
    for (i = 0; i < 4; i++) {
        snprintf(key, sizeof(key), "rtmr%d", i);
        assert_string_equal(body_hex(body, key), mt_test_hex(q.td.rt_mr[i], 48));
    }
    assert_string_equal(body_hex(body, "tdattributes"), mt_test_hex(q.td.td_attributes, 8));
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(json_object_get(data, "quote"), "header"), "version")),
                     4);
    assert_int_equal(
        json_integer_value(json_object_get(
            json_object_get(json_object_get(data, "quote"), "certificationData"), "type")),
        6);
    EXPECT_OK(sim_fixture_verify(f, quote, len, 1, &v));
    mt_free(quote);
    json_decref(r);
    mt_free(resp);
}

static void
expect_status(uint16_t port, const char *method, const char *path, const char *type,
              const char *body, size_t body_len, long want, const char *want_text)
{
    char *resp = NULL;
    long got = node_http(port, method, path, type, body, body_len, &resp);

    if (got != want)
        fail_msg("%s %s: status %ld, want %ld (%s)", method, path, got, want, resp);
    if (want_text != NULL && strstr(resp, want_text) == NULL)
        fail_msg("%s %s: %s lacks %s", method, path, resp, want_text);
    mt_free(resp);
}

static void
test_attest(void **state)
{
    struct sim_fixture f;
    struct mt_sim_node *node = NULL;
    uint8_t rd[64] = {0};
    char req[256], why[128], *resp = NULL;
    uint16_t port;
    json_t *r;
    int i;

    (void)state;
    sim_fixture_start(&f, sim_fixture_machine("locked-read-only"), 1);
    EXPECT_OK(mt_sim_node_start(f.agent, 0, &node, why, sizeof(why)));
    port = mt_sim_node_port(node);
    assert_true(port != 0);

    for (i = 0; i < 32; i++)
        rd[i] = (uint8_t)(0xa0 + i);
    snprintf(req, sizeof(req), "{\"nonce\":\"%s\"}", mt_test_hex(rd, 32));
    attest_ok(&f, port, req, rd);
    /* Uppercase hex is the same nonce. */
    for (i = (int)strlen("{\"nonce\":\""); req[i] != '\0'; i++)
        if (req[i] >= 'a' && req[i] <= 'f')
            req[i] = (char)(req[i] - 'a' + 'A');
    attest_ok(&f, port, req, rd);
    /* applicationId: its 32 bytes are the second half. */
    for (i = 32; i < 64; i++)
        rd[i] = (uint8_t)i;
    snprintf(req, sizeof(req), "{\"nonce\":\"%s\",", mt_test_hex(rd, 32));
    snprintf(req + strlen(req), sizeof(req) - strlen(req), "\"applicationId\":\"%s\"}",
             mt_test_hex(rd + 32, 32));
    attest_ok(&f, port, req, rd);

    /* info: the machine's MRTD. */
    assert_int_equal(node_http(port, "GET", "/admin-api/tee/info", NULL, NULL, 0, &resp), 200);
    r = json_loads(resp, 0, NULL);
    assert_non_null(r);
    assert_string_equal(json_string_value(json_object_get(json_object_get(r, "data"), "mrtd")),
                        mt_test_hex(mt_sim_agent_machine(f.agent)->mrtd, 48));
    json_decref(r);
    mt_free(resp);

    mt_sim_node_stop(node);
    sim_fixture_stop(&f);
}

static void
test_refusals(void **state)
{
    struct sim_fixture f;
    struct mt_sim_node *node = NULL;
    static const char *const bad_bodies[] = {
        "",
        "not json",
        "[]",
        "{}",
        "{\"nonce\":null}",
        "{\"nonce\":42}",
        "{\"nonce\":\"abcd\"}",
        /* 63 and 65 digits, a non-hex digit, 0x prefix */
        "{\"nonce\":\"000000000000000000000000000000000000000000000000000000000000000\"}",
        "{\"nonce\":\"00000000000000000000000000000000000000000000000000000000000000000\"}",
        "{\"nonce\":\"000000000000000000000000000000000000000000000000000000000000000g\"}",
        "{\"nonce\":\"0x00000000000000000000000000000000000000000000000000000000000000\"}",
        ("{\"nonce\":\"0000000000000000000000000000000000000000000000000000000000000000\","
         "\"applicationId\":\"xyz\"}"),
        "{\"nonce\":\"0000000000000000000000000000000000000000000000000000000000000000\"} x",
    };
    const char *good =
        "{\"nonce\":\"0000000000000000000000000000000000000000000000000000000000000000\"}";
    char why[128], *big;
    size_t i;

    (void)state;
    sim_fixture_start(&f, sim_fixture_machine("debug"), 0);
    EXPECT_OK(mt_sim_node_start(f.agent, 0, &node, why, sizeof(why)));
    for (i = 0; i < sizeof(bad_bodies) / sizeof(bad_bodies[0]); i++)
        expect_status(mt_sim_node_port(node), "POST", "/admin-api/tee/attest", "application/json",
                      bad_bodies[i], strlen(bad_bodies[i]), 400, "\"error\"");
    /* Wrong method, wrong path, wrong content type. */
    expect_status(mt_sim_node_port(node), "GET", "/admin-api/tee/attest", NULL, NULL, 0, 405,
                  "method not allowed");
    expect_status(mt_sim_node_port(node), "PUT", "/admin-api/tee/attest", "application/json", good,
                  strlen(good), 405, NULL);
    expect_status(mt_sim_node_port(node), "POST", "/admin-api/tee/info", "application/json", good,
                  strlen(good), 405, NULL);
    expect_status(mt_sim_node_port(node), "POST", "/admin-api/tee/attest/", "application/json",
                  good, strlen(good), 404, NULL);
    expect_status(mt_sim_node_port(node), "POST", "/attest", "application/json", good, strlen(good),
                  404, NULL);
    expect_status(mt_sim_node_port(node), "POST", "/admin-api/tee/attest", "text/plain", good,
                  strlen(good), 415, NULL);
    expect_status(mt_sim_node_port(node), "POST", "/admin-api/tee/attest", NULL, good, strlen(good),
                  415, NULL);
    /* Oversize: one byte over the limit, and far over it. */
    big = mt_calloc(1, 1u << 20);
    assert_non_null(big);
    memset(big, ' ', (1u << 20) - 1);
    memcpy(big, good, strlen(good));
    expect_status(mt_sim_node_port(node), "POST", "/admin-api/tee/attest", "application/json", big,
                  MT_SIM_NODE_MAX_BODY + 1, 413, "too large");
    expect_status(mt_sim_node_port(node), "POST", "/admin-api/tee/attest", "application/json", big,
                  (1u << 20) - 1, 413, NULL);
    /* Exactly the limit (the good body padded with whitespace) is accepted. */
    expect_status(mt_sim_node_port(node), "POST", "/admin-api/tee/attest", "application/json", big,
                  MT_SIM_NODE_MAX_BODY, 200, "quoteB64");
    mt_free(big);
    /* Still serving after all that. */
    expect_status(mt_sim_node_port(node), "POST", "/admin-api/tee/attest",
                  "application/json; charset=utf-8", good, strlen(good), 200, "quoteB64");
    mt_sim_node_stop(node);
    sim_fixture_stop(&f);
}

static int
run_sim(const char *const *argv)
{
    int status;
    pid_t pid = fork();

    assert_true(pid >= 0);
    if (pid == 0) {
        if (freopen("/dev/null", "w", stderr) == NULL || freopen("/dev/null", "w", stdout) == NULL)
            _exit(126);
        execv(MT_SIM_PATH, (char *const *)argv);
        _exit(127);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The program: --node-admin serves the machine's TD; loopback only; needs --machine. */
static void
test_program(void **state)
{
    char dir[64] = "/tmp/mt-simnode-XXXXXX", state_dir[128], machine[192], sock[192], arg[32],
         cmd[128], *resp = NULL;
    const char *good =
        "{\"nonce\":\"1111111111111111111111111111111111111111111111111111111111111111\"}";
    uint16_t port;
    int i;
    pid_t pid;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(state_dir, sizeof(state_dir), "%s/state", dir);
    snprintf(machine, sizeof(machine), "%s/machine-debug.json", state_dir);
    snprintf(sock, sizeof(sock), "%s/d.sock", dir);
    {
        const char *init[] = {MT_SIM_PATH, "init", "--state-dir", state_dir, NULL};
        const char *public_addr[] = {MT_SIM_PATH,  "--state-dir", state_dir, "--machine",
                                     machine,      "--socket",    sock,      "--node-admin",
                                     "0.0.0.0:80", NULL};
        const char *no_machine[] = {MT_SIM_PATH,   "--state-dir",  state_dir,     "--pccs",
                                    "127.0.0.1:1", "--node-admin", "127.0.0.1:2", NULL};

        assert_int_equal(run_sim(init), 0);
        assert_int_equal(run_sim(public_addr), 2);
        assert_int_equal(run_sim(no_machine), 2);
    }
    EXPECT_OK(mt_pcs_unused_port(&port));
    snprintf(arg, sizeof(arg), "127.0.0.1:%u", (unsigned)port);
    {
        const char *argv[] = {MT_SIM_PATH, "--state-dir", state_dir,      "--machine", machine,
                              "--socket",  sock,          "--node-admin", arg,         NULL};

        pid = mt_test_spawn_quiet(argv);
    }
    for (i = 0; i < 100; i++) {
        if (node_http(port, "POST", "/admin-api/tee/attest", "application/json", good, strlen(good),
                      &resp) == 200)
            break;
        mt_free(resp);
        resp = NULL;
        usleep(50000);
    }
    assert_true(i < 100);
    assert_non_null(strstr(resp, "\"reportdata\":\"1111"));
    mt_free(resp);
    mt_test_stop_process(pid);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_attest),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_program),
    };

    curl_global_init(CURL_GLOBAL_DEFAULT);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
