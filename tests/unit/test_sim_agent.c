/*
 * mero-tee-sim's guest agent over its real Unix socket (dstack.md 1-5):
 * every method, every error, the event log against the quoted registers,
 * GetKey against dstack's vectors, quotes that verify with the simulator's
 * PCCS collateral, and concurrent clients.
 */
#include "mt_testlib.h"
#include "sim_fixture.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "dcap/dcap.h"
#include "measure/eventlog.h"
#include "measure/rtmr.h"
#include "pccs/pccs.h"
#include "quote/quote.h"
#include "sim/sim_pki.h"
#include "util/mt_alloc.h"
#include "util/mt_hex.h"

/* POST a JSON body; returns the status, *out the parsed body (or NULL). */
static long
post(const struct sim_fixture *f, const char *method, const char *body, json_t **out, char **raw)
{
    char path[64], *resp = NULL, type[128];
    long status;

    snprintf(path, sizeof(path), "/%s", method);
    status = sim_http(f->socket, "POST", path, "application/json", body,
                      body == NULL ? 0 : strlen(body), &resp, type, sizeof(type));
    if (status == 200 || status == 400)
        assert_string_equal(type, "application/json");
    if (out != NULL)
        *out = json_loads(resp, JSON_DECODE_ANY, NULL);
    if (raw != NULL)
        *raw = resp;
    else
        mt_free(resp);
    return status;
}

static const char *
error_of(const json_t *j)
{
    return json_string_value(json_object_get(j, "error"));
}

/* The quote of a GetQuote response, decoded. */
static uint8_t *
quote_of(const json_t *r, size_t *len)
{
    const char *hex = json_string_value(json_object_get(r, "quote"));
    uint8_t *q = NULL;

    assert_non_null(hex);
    EXPECT_OK(mt_hex_decode_alloc(hex, strlen(hex), 1u << 20, &q, len));
    return q;
}

static void
expect_rtmrs_replay(const json_t *r, const struct mt_quote *q)
{
    const char *log = json_string_value(json_object_get(r, "event_log"));
    struct mt_eventlog *el = NULL;
    uint8_t rtmr[4][48];
    int i;

    assert_non_null(log);
    EXPECT_OK(mt_eventlog_parse(log, strlen(log), &el));
    EXPECT_OK(mt_eventlog_replay(el, rtmr));
    for (i = 0; i < 4; i++)
        assert_memory_equal(rtmr[i], q->td.rt_mr[i], 48);
    mt_eventlog_free(el);
}

static void
test_get_quote_verifies(void **state)
{
    struct sim_fixture f;
    struct mt_verdict v;
    struct mt_quote q;
    uint8_t *quote, want_rd[64] = {0};
    size_t len;
    char *raw = NULL;
    const char *key;
    json_t *r, *val;
    int i = 0;

    (void)state;
    sim_fixture_start(&f, sim_fixture_machine("locked-read-only"), 1);
    assert_int_equal(post(&f, "GetQuote", "{\"report_data\":\"0xDEADbeef\"}", &r, &raw), 200);
    /* dstack's shape: compact, exactly these keys in this order, no trailing newline. */
    assert_int_not_equal(raw[strlen(raw) - 1], '\n');
    assert_null(strchr(raw, '\n'));
    json_object_foreach(r, key, val)
    {
        static const char *const order[] = {"quote", "event_log", "report_data", "vm_config"};

        assert_true(i < 4);
        assert_string_equal(key, order[i++]);
        assert_true(json_is_string(val));
    }
    assert_int_equal(i, 4);
    want_rd[0] = 0xde, want_rd[1] = 0xad, want_rd[2] = 0xbe, want_rd[3] = 0xef;
    assert_string_equal(json_string_value(json_object_get(r, "report_data")),
                        mt_test_hex(want_rd, 64));
    quote = quote_of(r, &len);
    EXPECT_OK(mt_quote_parse(quote, len, &q));
    assert_int_equal(q.version, 4);
    assert_memory_equal(q.td.report_data, want_rd, 64);
    expect_rtmrs_replay(r, &q);
    /* Verifies against the test root with the simulator's collateral ... */
    EXPECT_OK(sim_fixture_verify(&f, quote, len, 1, &v));
    assert_int_equal(v.tcb.status, MT_TCB_UP_TO_DATE);
    /* ... and never against Intel's. */
    EXPECT_ERR(sim_fixture_verify(&f, quote, len, 0, &v), MT_ERR_ROOT_CRL);
    mt_free(quote);
    mt_free(raw);
    json_decref(r);
    sim_fixture_stop(&f);
}

static void
test_get_quote_empty_and_get(void **state)
{
    struct sim_fixture f;
    char *resp = NULL, hex[129];
    uint8_t rd[64];
    json_t *r;

    (void)state;
    sim_fixture_start(&f, sim_fixture_machine("debug"), 0);
    /* An empty body means every field default: 64 zero bytes of report data. */
    assert_int_equal(post(&f, "GetQuote", NULL, &r, NULL), 200);
    memset(rd, 0, sizeof(rd));
    assert_string_equal(json_string_value(json_object_get(r, "report_data")), mt_test_hex(rd, 64));
    json_decref(r);
    /* GET with a query string. */
    memset(rd, 0x5a, sizeof(rd));
    mt_hex_encode(rd, 64, hex);
    {
        char path[200];

        snprintf(path, sizeof(path), "/GetQuote?report_data=%s", hex);
        assert_int_equal(sim_http(f.socket, "GET", path, NULL, NULL, 0, &resp, NULL, 0), 200);
    }
    r = json_loads(resp, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(r, "report_data")), hex);
    json_decref(r);
    mt_free(resp);
    /* POST without a JSON content type, but with the ?json flag. */
    assert_int_equal(sim_http(f.socket, "POST", "/Info?json", NULL, "{}", 2, &resp, NULL, 0), 200);
    mt_free(resp);
    sim_fixture_stop(&f);
}

static void
test_emit_event_extends_rtmr3(void **state)
{
    static const char *const names[] = {"calimero.kms.profile", "second", ""};
    static const char *const payloads[] = {"63616c696d65726f2e6b6d732e70726f66696c653d6c6f636b6564",
                                           "00ff", ""};
    struct sim_fixture f;
    uint8_t before[4][48], expect[48], d[48], *payload, *quote;
    size_t n, len, events_before;
    char body[512], *raw = NULL;
    struct mt_eventlog *el = NULL;
    struct mt_quote q;
    json_t *r;
    int i;

    (void)state;
    sim_fixture_start(&f, sim_fixture_machine("locked-read-only"), 0);
    assert_int_equal(post(&f, "GetQuote", "{}", &r, NULL), 200);
    EXPECT_OK(mt_eventlog_parse(json_string_value(json_object_get(r, "event_log")),
                                json_string_length(json_object_get(r, "event_log")), &el));
    events_before = el->num_events;
    mt_eventlog_free(el);
    json_decref(r);
    mt_sim_agent_rtmrs(f.agent, before);
    memcpy(expect, before[3], 48);
    for (i = 0; i < 3; i++) {
        snprintf(body, sizeof(body), "{\"event\":\"%s\",\"payload\":\"%s\"}", names[i],
                 payloads[i]);
        assert_int_equal(post(&f, "EmitEvent", body, NULL, &raw), 200);
        assert_string_equal(raw, "null");
        mt_free(raw);
        EXPECT_OK(mt_hex_decode_alloc(payloads[i], strlen(payloads[i]), 64, &payload, &n));
        EXPECT_OK(mt_rtmr_event_digest(MT_DSTACK_RUNTIME_EVENT_TYPE, names[i], strlen(names[i]),
                                       payload, n, d));
        EXPECT_OK(mt_rtmr_extend(expect, d));
        mt_free(payload);
    }
    assert_int_equal(post(&f, "GetQuote", "{\"report_data\":\"01\"}", &r, NULL), 200);
    quote = quote_of(r, &len);
    EXPECT_OK(mt_quote_parse(quote, len, &q));
    assert_memory_equal(q.td.rt_mr[3], expect, 48);
    assert_memory_equal(q.td.rt_mr[2], before[2], 48);
    expect_rtmrs_replay(r, &q);
    EXPECT_OK(mt_eventlog_parse(json_string_value(json_object_get(r, "event_log")),
                                json_string_length(json_object_get(r, "event_log")), &el));
    assert_int_equal(el->num_events, events_before + 3);
    assert_string_equal(el->events[events_before].event, "calimero.kms.profile");
    mt_eventlog_free(el);
    mt_free(quote);
    json_decref(r);
    sim_fixture_stop(&f);
}

static void
test_emit_modes(void **state)
{
    struct sim_fixture f;
    struct mt_sim_machine *m;
    uint8_t before[4][48], after[4][48];
    char *raw = NULL;
    json_t *r;

    (void)state;
    m = sim_fixture_machine("debug");
    m->emit_mode = MT_SIM_EMIT_NOOP;
    sim_fixture_start(&f, m, 0);
    mt_sim_agent_rtmrs(f.agent, before);
    assert_int_equal(post(&f, "EmitEvent", "{\"event\":\"x\",\"payload\":\"01\"}", NULL, &raw),
                     200);
    assert_string_equal(raw, "null");
    mt_free(raw);
    mt_sim_agent_rtmrs(f.agent, after);
    assert_memory_equal(before, after, sizeof(before));
    sim_fixture_stop(&f);

    m = sim_fixture_machine("debug");
    m->emit_mode = MT_SIM_EMIT_REJECT;
    sim_fixture_start(&f, m, 0);
    mt_sim_agent_rtmrs(f.agent, before);
    assert_int_equal(post(&f, "EmitEvent", "{\"event\":\"calimero.kms.profile\"}", &r, NULL), 400);
    assert_string_equal(error_of(r), "runtime event emission is unavailable in simulator mode: "
                                     "calimero.kms.profile");
    json_decref(r);
    mt_sim_agent_rtmrs(f.agent, after);
    assert_memory_equal(before, after, sizeof(before));
    sim_fixture_stop(&f);
}

static void
test_get_key_vectors(void **state)
{
    json_t *vec = mt_test_load_shared_json("dstack-fixtures/sim-getkey-vectors.json"), *c, *r;
    struct sim_fixture f;
    struct mt_sim_machine *m;
    const char *app_key = json_string_value(json_object_get(vec, "app_k256_key"));
    char body[1024];
    size_t i;

    (void)state;
    m = sim_fixture_machine("locked-read-only");
    EXPECT_OK(mt_hex_decode_exact(app_key, strlen(app_key), m->app_key, 32));
    sim_fixture_start(&f, m, 0);
    assert_true(json_array_size(json_object_get(vec, "cases")) >= 4);
    json_array_foreach(json_object_get(vec, "cases"), i, c)
    {
        char *req = json_dumps(json_object_get(c, "request"), JSON_COMPACT);

        snprintf(body, sizeof(body), "%s", req);
        mt_free_libc(req);
        assert_int_equal(post(&f, "GetKey", body, &r, NULL), 200);
        assert_string_equal(json_string_value(json_object_get(r, "key")),
                            json_string_value(json_object_get(c, "key")));
        assert_true(json_is_array(json_object_get(r, "signature_chain")));
        json_decref(r);
    }
    /* Same path, either algorithm: same key bytes (dstack.md 2.1). */
    assert_int_equal(post(&f, "GetKey", "{\"path\":\"p\",\"algorithm\":\"ed25519\"}", &r, NULL),
                     200);
    {
        json_t *r2;

        assert_int_equal(post(&f, "GetKey", "{\"path\":\"p\",\"algorithm\":\"k256\"}", &r2, NULL),
                         200);
        assert_string_equal(json_string_value(json_object_get(r, "key")),
                            json_string_value(json_object_get(r2, "key")));
        json_decref(r2);
    }
    json_decref(r);
    assert_int_equal(post(&f, "GetKey", "{\"path\":\"p\",\"algorithm\":\"rsa\"}", &r, NULL), 400);
    assert_string_equal(error_of(r), "Unsupported algorithm");
    json_decref(r);
    json_decref(vec);
    sim_fixture_stop(&f);
}

static void
test_info(void **state)
{
    struct sim_fixture f;
    struct mt_sim_machine *m;
    uint8_t compose_hash[32], rtmr[4][48];
    unsigned int hl = 32;
    char *text;
    json_t *r, *tcb;

    (void)state;
    m = sim_fixture_machine("debug-read-only");
    EVP_Digest(m->app_compose, strlen(m->app_compose), compose_hash, &hl, EVP_sha256(), NULL);
    sim_fixture_start(&f, m, 0);
    assert_int_equal(post(&f, "Info", "{}", &r, NULL), 200);
    assert_string_equal(json_string_value(json_object_get(r, "compose_hash")),
                        mt_test_hex(compose_hash, 32));
    assert_int_equal(json_string_length(json_object_get(r, "app_id")), 40);
    assert_string_equal(json_string_value(json_object_get(r, "device_id")),
                        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    text = (char *)json_string_value(json_object_get(r, "tcb_info"));
    tcb = json_loads(text, 0, NULL);
    assert_non_null(tcb);
    mt_sim_agent_rtmrs(f.agent, rtmr);
    assert_string_equal(json_string_value(json_object_get(tcb, "rtmr3")), mt_test_hex(rtmr[3], 48));
    assert_true(json_is_array(json_object_get(tcb, "event_log")));
    assert_string_equal(json_string_value(json_object_get(tcb, "mr_aggregated")),
                        json_string_value(json_object_get(r, "mr_aggregated")));
    json_decref(tcb);
    json_decref(r);
    /* GET works too, without a body. */
    assert_int_equal(sim_http(f.socket, "GET", "/Info", NULL, NULL, 0, &text, NULL, 0), 200);
    mt_free(text);
    sim_fixture_stop(&f);
}

/* Each bad request: 400, dstack's pretty {"error": ...}, and no state change. */
static void
test_bad_requests(void **state)
{
    static const struct {
        const char *method, *body, *error;
    } cases[] = {
        {"GetQuote", "{\"report_data\":\"abc\"}", "Invalid hex: odd number of digits"},
        {"GetQuote", "{\"report_data\":\"zz\"}", "Invalid hex: invalid character"},
        {"GetQuote", "{\"report_data\":5}", "invalid type: expected a string"},
        {"GetQuote", "{\"report_data\":\"", "Invalid JSON request body"},
        {"GetQuote", "[]", "Invalid JSON request body"},
        {"EmitEvent", "{\"event\":\"e\",\"payload\":\"0g\"}", "Invalid hex: invalid character"},
        {"EmitEvent", "{\"event\":[],\"payload\":\"00\"}", "invalid type: expected a string"},
        {"Frobnicate", "{}", "Method not found: Frobnicate"},
    };
    struct sim_fixture f;
    uint8_t before[4][48], after[4][48], rd[65];
    char body[256], hex[131], *raw = NULL, *big;
    json_t *r;
    size_t i;

    (void)state;
    sim_fixture_start(&f, sim_fixture_machine("locked-read-only"), 0);
    mt_sim_agent_rtmrs(f.agent, before);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(post(&f, cases[i].method, cases[i].body, &r, &raw), 400);
        assert_non_null(r);
        assert_string_equal(error_of(r), cases[i].error);
        /* pretty-printed, as Rocket's error body */
        assert_non_null(strstr(raw, "{\n  \"error\": "));
        json_decref(r);
        mt_free(raw);
    }
    memset(rd, 1, sizeof(rd));
    mt_hex_encode(rd, 65, hex);
    snprintf(body, sizeof(body), "{\"report_data\":\"%s\"}", hex);
    assert_int_equal(post(&f, "GetQuote", body, &r, NULL), 400);
    assert_string_equal(error_of(r), "Report data is too long");
    json_decref(r);
    /* Not JSON: dstack would read protobuf; we refuse clearly. */
    assert_int_equal(
        sim_http(f.socket, "POST", "/GetQuote", "application/octet-stream", "x", 1, &raw, NULL, 0),
        400);
    mt_free(raw);
    /* Oversized body. */
    big = mt_malloc(2u * 1024u * 1024u + 1);
    memset(big, ' ', 2u * 1024u * 1024u);
    big[2u * 1024u * 1024u] = '\0';
    assert_int_equal(post(&f, "EmitEvent", big, &r, NULL), 400);
    assert_string_equal(error_of(r), "Request body is too large");
    json_decref(r);
    mt_free(big);
    /* Paths that are not one segment, and other methods: 404. */
    assert_int_equal(
        sim_http(f.socket, "POST", "/prpc/GetQuote", "application/json", "{}", 2, &raw, NULL, 0),
        404);
    mt_free(raw);
    assert_int_equal(sim_http(f.socket, "POST", "/", "application/json", "{}", 2, &raw, NULL, 0),
                     404);
    mt_free(raw);
    mt_sim_agent_rtmrs(f.agent, after);
    assert_memory_equal(before, after, sizeof(before));
    sim_fixture_stop(&f);
}

struct worker {
    const struct sim_fixture *f;
    int index;
    int ok;
};

static void *
worker_run(void *arg)
{
    struct worker *w = arg;
    struct mt_verdict v;
    struct mt_quote q;
    uint8_t *quote = NULL, rd[32];
    size_t len;
    char body[128], hex[65], *resp = NULL;
    json_t *r;
    const char *qhex;

    memset(rd, w->index, sizeof(rd));
    mt_hex_encode(rd, 32, hex);
    snprintf(body, sizeof(body), "{\"report_data\":\"%s\"}", hex);
    if (sim_http(w->f->socket, "POST", "/GetQuote", "application/json", body, strlen(body), &resp,
                 NULL, 0) != 200)
        goto out;
    r = json_loads(resp, 0, NULL);
    qhex = r == NULL ? NULL : json_string_value(json_object_get(r, "quote"));
    if (qhex != NULL && mt_hex_decode_alloc(qhex, strlen(qhex), 1u << 20, &quote, &len) == MT_OK &&
        mt_quote_parse(quote, len, &q) == MT_OK && memcmp(q.td.report_data, rd, 32) == 0 &&
        sim_fixture_verify(w->f, quote, len, 1, &v) == MT_OK)
        w->ok = 1;
    json_decref(r);
    mt_free(quote);
out:
    mt_free(resp);
    return NULL;
}

static void
test_concurrent_clients(void **state)
{
    struct sim_fixture f;
    struct worker w[16];
    pthread_t t[16];
    int i;

    (void)state;
    sim_fixture_start(&f, sim_fixture_machine("locked-read-only"), 1);
    for (i = 0; i < 16; i++) {
        w[i].f = &f;
        w[i].index = i + 1;
        w[i].ok = 0;
        assert_int_equal(pthread_create(&t[i], NULL, worker_run, &w[i]), 0);
    }
    for (i = 0; i < 16; i++) {
        pthread_join(t[i], NULL);
        if (!w[i].ok)
            fail_msg("client %d did not get a verifying quote", i);
    }
    sim_fixture_stop(&f);
}

static void
test_profiles_distinct(void **state)
{
    static const char *const names[] = {"locked-read-only", "debug-read-only", "debug"};
    struct mt_sim_machine *m[3];
    uint8_t rtmr[3][4][48];
    int i, j;

    (void)state;
    for (i = 0; i < 3; i++) {
        m[i] = sim_fixture_machine(names[i]);
        EXPECT_OK(mt_eventlog_replay(m[i]->boot_log, rtmr[i]));
    }
    for (i = 0; i < 3; i++) {
        for (j = i + 1; j < 3; j++) {
            assert_memory_equal(m[i]->mrtd, m[j]->mrtd, 48);
            assert_memory_equal(rtmr[i][0], rtmr[j][0], 48);
            assert_memory_not_equal(rtmr[i][2], rtmr[j][2], 48);
            assert_memory_not_equal(rtmr[i][3], rtmr[j][3], 48);
        }
    }
    /* Before dstack's own events, RTMR3 is exactly the node image's marker (reference 4.4). */
    {
        const struct mt_event *ev = mt_eventlog_find(m[0]->boot_log, "calimero-rtmr3-v2", SIZE_MAX);
        uint8_t zero[48] = {0}, d[48];
        unsigned int dl = 48;

        assert_null(ev); /* not a runtime event: find looks at runtime events only */
        ev = &m[0]->boot_log->events[m[0]->boot_log->num_events - 1];
        assert_int_equal(ev->imr, 3);
        EVP_Digest(ev->payload, ev->payload_len, d, &dl, EVP_sha384(), NULL);
        assert_memory_equal(ev->digest, d, 48);
        EXPECT_OK(mt_rtmr_extend(zero, d));
        assert_memory_equal(zero, rtmr[0][3], 48);
        assert_memory_equal(ev->payload, "calimero-rtmr3-v2:node:locked-read-only:", 40);
    }
    for (i = 0; i < 3; i++)
        mt_sim_machine_free(m[i]);
}

static void
test_pccs_failure_modes(void **state)
{
    static const struct {
        enum mt_sim_collateral_mode mode;
        mt_err want;
    } modes[] = {
        {MT_SIM_COLLATERAL_STALE, MT_ERR_TCB_INFO_EXPIRED},
        {MT_SIM_COLLATERAL_REVOKED, MT_ERR_CERT_REVOKED},
        {MT_SIM_COLLATERAL_BROKEN, MT_ERR_TCB_INFO_SIGNATURE},
    };
    struct sim_fixture f;
    struct mt_verdict v;
    uint8_t *quote;
    size_t len, i;
    char why[128];
    json_t *r;

    (void)state;
    sim_fixture_start(&f, sim_fixture_machine("locked-read-only"), 1);
    assert_int_equal(post(&f, "GetQuote", "{\"report_data\":\"aa\"}", &r, NULL), 200);
    quote = quote_of(r, &len);
    json_decref(r);
    EXPECT_OK(sim_fixture_verify(&f, quote, len, 1, &v));
    for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        mt_pcs_server_stop(f.pccs);
        f.pccs = NULL;
        EXPECT_OK(mt_sim_pccs_start(f.pki, mt_sim_agent_params(f.agent), f.now, modes[i].mode, 0,
                                    &f.pccs, why, sizeof(why)));
        EXPECT_ERR(sim_fixture_verify(&f, quote, len, 1, &v), modes[i].want);
    }
    mt_free(quote);
    sim_fixture_stop(&f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_quote_verifies),
        cmocka_unit_test(test_get_quote_empty_and_get),
        cmocka_unit_test(test_emit_event_extends_rtmr3),
        cmocka_unit_test(test_emit_modes),
        cmocka_unit_test(test_get_key_vectors),
        cmocka_unit_test(test_info),
        cmocka_unit_test(test_bad_requests),
        cmocka_unit_test(test_concurrent_clients),
        cmocka_unit_test(test_profiles_distinct),
        cmocka_unit_test(test_pccs_failure_modes),
    };

    /* libcurl's global state before the concurrent test starts threads. */
    if (mt_pccs_global_init() != MT_OK)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
