/*
 * mero-verifier regressions from the second security review
 * (docs/verifier.md "Checks", "Verdict"): digest-less events do not hide
 * forged events from the replay, checks about a quote that did not verify
 * are skipped, and a verdict without proof of freshness or against a
 * development trust root is "incomplete", not "pass".
 */
#include "mt_testlib.h"
#include "kms_fixture.h"
#include "verifier_harness.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "dstack/dstack_client.h"
#include "measure/eventlog.h"
#include "sim/sim_pki.h"
#include "util/mt_alloc.h"
#include "util/mt_b64.h"
#include "util/mt_buf.h"
#include "util/mt_hex.h"
#include "util/mt_json.h"
#include "verifier/verifier.h"

static struct kms_fixture kf;

/* POST body to /api/verify: status 200, the answer (json_decref). */
static json_t *
verify(const struct vf *v, const char *body)
{
    struct mt_buf buf;
    char url[128];
    json_t *r = NULL;
    long st;

    mt_buf_init(&buf, 16u << 20);
    snprintf(url, sizeof(url), "%s/api/verify", v->url);
    st = mt_test_http(url, "POST", "application/json", body, strlen(body), 120, &buf);
    assert_int_equal(mt_buf_append(&buf, "", 1), MT_OK);
    if (st != 200 || mt_json_parse((const char *)buf.p, buf.len - 1, 16u << 20, &r) != MT_OK)
        fail_msg("status %ld: %.300s", st, (const char *)buf.p);
    mt_buf_free(&buf);
    return r;
}

static void
print_checks(const json_t *r)
{
    char *d = json_dumps(json_object_get(r, "checks"), JSON_INDENT(1));

    print_message("verdict %s\n%s\n", json_string_value(json_object_get(r, "verdict")), d);
    free(d);
}

/* Check id has status (and, when detail is not NULL, that detail). */
static void
want_check(const json_t *r, const char *id, const char *status, const char *detail)
{
    const json_t *c = vf_find_check(r, id);
    const char *s = json_string_value(json_object_get(c, "status"));
    const char *d = json_string_value(json_object_get(c, "detail"));

    if (c == NULL || strcmp(s, status) != 0 || (detail != NULL && strcmp(d, detail) != 0)) {
        print_checks(r);
        fail_msg("check %s is %s (%s), want %s (%s)", id, s, d, status, detail ? detail : "*");
    }
}

static void
want_verdict(const json_t *r, const char *verdict)
{
    const char *v = json_string_value(json_object_get(r, "verdict"));

    if (v == NULL || strcmp(v, verdict) != 0) {
        print_checks(r);
        fail_msg("verdict %s, want %s", v, verdict);
    }
}

/* A genuine simulator quote over report data rd and its event log. */
struct genuine {
    char *b64;
    char hex[129];
    json_t *log;
};

static void
genuine_get(struct genuine *g)
{
    struct mt_dstack_client *dc = NULL;
    struct mt_dstack_opts o;
    struct mt_dstack_quote q;
    uint8_t rd[64];

    memset(rd, 7, sizeof(rd));
    mt_dstack_opts_init(&o);
    o.socket_path = kf.node.socket;
    assert_int_equal(mt_dstack_client_new(&o, &dc), MT_OK);
    memset(&q, 0, sizeof(q));
    assert_int_equal(mt_dstack_get_quote(dc, rd, 64, &q), MT_OK);
    mt_dstack_client_free(dc);
    g->b64 = mt_b64_encode_alloc(q.quote, q.quote_len);
    assert_non_null(g->b64);
    mt_hex_encode(rd, 64, g->hex);
    assert_int_equal(mt_json_parse(q.event_log, strlen(q.event_log), 1u << 22, &g->log), MT_OK);
    mt_dstack_quote_free(&q);
}

static void
genuine_free(struct genuine *g)
{
    mt_free(g->b64);
    json_decref(g->log);
}

/* Paste g's quote with log (stolen) and, when with_nonce, its nonceHex. */
static json_t *
paste(const struct vf *v, const struct genuine *g, json_t *log, int with_nonce)
{
    json_t *req = json_pack("{s:s}", "quoteB64", g->b64), *r;
    char *body;

    if (log != NULL)
        json_object_set_new(req, "eventLog", log);
    if (with_nonce)
        json_object_set_new(req, "nonceHex", json_string(g->hex));
    body = json_dumps(req, JSON_COMPACT);
    r = verify(v, body);
    free(body);
    json_decref(req);
    return r;
}

static json_t *
event(int imr, long long type, const char *digest, const char *name, const char *payload)
{
    return json_pack("{s:i,s:I,s:s,s:s,s:s}", "imr", imr, "event_type", (json_int_t)type, "digest",
                     digest, "event", name, "event_payload", payload);
}

/* 1 when an event named name is in the answer's events table. */
static int
shown(const json_t *r, const char *name)
{
    size_t i;
    json_t *e;

    json_array_foreach(json_object_get(r, "events"), i, e)
    {
        if (strcmp(json_string_value(json_object_get(e, "event")), name) == 0)
            return 1;
    }
    return 0;
}

/* Review 2 finding 1 (poc_gap): a digest-less event must not hide later events from the replay. */
static void
test_eventlog_gap(void **state)
{
    static const char forged[] = "1111111111111111111111111111111111111111111111111111111111111111";
    struct vf_env m;
    struct genuine g;
    struct vf v;
    json_t *r, *log, *e;
    size_t i;

    (void)state;
    vf_base_env(&m, &kf);
    vf_start(&v, &m);
    genuine_get(&g);

    /* The genuine log replays; every event is shown. */
    r = paste(&v, &g, json_deep_copy(g.log), 1);
    want_check(r, "event_log", "pass", NULL);
    want_check(r, "compose_hash", "pass", NULL);
    assert_int_equal(json_array_size(json_object_get(r, "events")), json_array_size(g.log));
    json_decref(r);

    /* A: a digest-less non-runtime IMR3 event, then a forged runtime event. */
    log = json_deep_copy(g.log);
    json_array_append_new(log, event(3, 1, "", "gap", ""));
    json_array_append_new(log,
                          event(3, MT_DSTACK_RUNTIME_EVENT_TYPE, "", "forged-event", "deadbeef"));
    r = paste(&v, &g, log, 1);
    want_check(r, "event_log", "fail", NULL);
    want_check(r, "compose_hash", "fail", NULL);
    want_check(r, "app_id", "fail", NULL);
    want_verdict(r, "fail");
    assert_false(shown(r, "forged-event"));
    json_decref(r);

    /* A': a non-runtime IMR3 event with a stated digest is refused as well. */
    log = json_deep_copy(g.log);
    json_array_append_new(
        log, event(3, 1,
                   "000000000000000000000000000000000000000000000000000000000000000000000000000000"
                   "000000000000000000",
                   "named-by-attacker", "41"));
    r = paste(&v, &g, log, 1);
    want_check(r, "event_log", "fail", NULL);
    want_verdict(r, "fail");
    json_decref(r);

    /* B: the genuine IMR0-2 events, then only a gap and a forged compose-hash in IMR3. */
    log = json_array();
    json_array_foreach(g.log, i, e)
    {
        if (json_integer_value(json_object_get(e, "imr")) != 3)
            json_array_append(log, e);
    }
    json_array_append_new(log, event(3, 1, "", "gap", ""));
    json_array_append_new(log, event(3, MT_DSTACK_RUNTIME_EVENT_TYPE, "", "compose-hash", forged));
    r = paste(&v, &g, log, 1);
    want_check(r, "event_log", "fail", NULL);
    want_check(r, "compose_hash", "fail", NULL);
    want_verdict(r, "fail");
    json_decref(r);

    /* C: a digest-less event in IMR0 leaves RTMR0 "not covered": its events are not shown. */
    log = json_deep_copy(g.log);
    json_array_append_new(log, event(0, 1, "", "gap0", ""));
    r = paste(&v, &g, log, 1);
    want_check(r, "event_log", "pass", NULL);
    want_check(r, "compose_hash", "pass", NULL);
    assert_string_equal(
        json_string_value(json_object_get(
            json_object_get(json_object_get(vf_find_check(r, "event_log"), "evidence"), "rtmrs"),
            "rtmr0")),
        "not covered");
    assert_false(shown(r, "gap0"));
    json_array_foreach(json_object_get(r, "events"), i, e)
        assert_int_not_equal(json_integer_value(json_object_get(e, "imr")), 0);
    json_decref(r);

    genuine_free(&g);
    vf_stop(&v);
}

/* Review 2 finding 2 (poc_wrongroot): nothing about an unverified quote passes. */
static void
test_wrong_root_skips_claims(void **state)
{
    static const char *const skipped[] = {"nonce",   "event_log",      "compose_hash",
                                          "app_id",  "release",        "measurements",
                                          "profile", "compose_policy", "tcb"};
    struct vf_env m;
    struct vf v;
    json_t *r;
    char body[256], why[256], dir[PATH_MAX], path[PATH_MAX + 16];
    size_t i;

    (void)state;
    assert_int_equal(mt_test_mkdtemp(dir, sizeof(dir), "vf-review-root"), 0);
    assert_int_equal(mt_sim_pki_init(dir, 0, why, sizeof(why)), MT_OK);
    vf_base_env(&m, &kf);
    snprintf(path, sizeof(path), "%s/root.der", dir);
    vf_env_set(&m, "VERIFIER_TRUST_ROOT_FILE", path);
    vf_start(&v, &m);
    snprintf(body, sizeof(body), "{\"kmsUrl\":\"%s\"}", kf.url);
    r = verify(&v, body);
    want_check(r, "quote", "fail", NULL);
    for (i = 0; i < sizeof(skipped) / sizeof(skipped[0]); i++)
        want_check(r, skipped[i], "skipped", "the quote did not verify");
    want_check(r, "ita", "skipped", NULL);
    assert_int_equal(json_array_size(json_object_get(r, "events")), 0);
    assert_false(
        json_is_true(json_object_get(json_object_get(r, "measurements"), "quoteVerified")));
    want_verdict(r, "fail");
    json_decref(r);
    vf_stop(&v);
    assert_int_equal(mt_test_rm_rf(dir), 0);
}

/* The "incomplete" reasons the quote check names. */
static size_t
incomplete_reasons(const json_t *r, const char *needle)
{
    const json_t *a =
        json_object_get(json_object_get(vf_find_check(r, "quote"), "evidence"), "incomplete");
    size_t i, hit = 0;
    json_t *s;

    json_array_foreach(a, i, s)
    {
        if (strstr(json_string_value(s), needle) != NULL)
            hit++;
    }
    return hit;
}

/* Review 2 finding 11: "pass" needs a fresh quote verified to Intel's root. */
static void
test_incomplete_verdict(void **state)
{
    struct vf_env m;
    struct genuine g;
    struct vf v;
    json_t *r;
    char body[256];

    (void)state;
    vf_base_env(&m, &kf);
    vf_start(&v, &m);
    genuine_get(&g);

    /* Pasted without nonceHex, verified against the development root: both reasons. */
    r = paste(&v, &g, json_deep_copy(g.log), 0);
    want_check(r, "quote", "pass", NULL);
    want_check(r, "nonce", "skipped", NULL);
    want_verdict(r, "incomplete");
    assert_int_equal(incomplete_reasons(r, "no nonce"), 1);
    assert_int_equal(incomplete_reasons(r, "development trust root"), 1);
    json_decref(r);

    /* With the nonce and no event log: only the development root keeps it incomplete. */
    r = paste(&v, &g, NULL, 1);
    want_check(r, "nonce", "pass", NULL);
    want_check(r, "event_log", "skipped", NULL);
    want_check(r, "compose_hash", "skipped", NULL);
    want_verdict(r, "incomplete");
    assert_int_equal(incomplete_reasons(r, "no nonce"), 0);
    assert_int_equal(incomplete_reasons(r, "development trust root"), 1);
    json_decref(r);

    /* A fresh KMS verification against the development root. */
    snprintf(body, sizeof(body), "{\"kmsUrl\":\"%s\"}", kf.url);
    r = verify(&v, body);
    want_check(r, "nonce", "pass", NULL);
    want_check(r, "event_log", "pass", NULL);
    want_verdict(r, "incomplete");
    json_decref(r);

    /* A failing check still makes it "fail". */
    g.hex[0] = g.hex[0] == '0' ? '1' : '0';
    r = paste(&v, &g, NULL, 1);
    want_check(r, "nonce", "fail", NULL);
    want_verdict(r, "fail");
    json_decref(r);

    genuine_free(&g);
    vf_stop(&v);
}

static int
setup(void **state)
{
    (void)state;
    kms_fixture_boot(&kf);
    kms_fixture_start_kms(&kf);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    kms_fixture_stop(&kf);
    return 0;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eventlog_gap),
        cmocka_unit_test(test_wrong_root_skips_claims),
        cmocka_unit_test(test_incomplete_verdict),
    };

    curl_global_init(CURL_GLOBAL_DEFAULT);
    return cmocka_run_group_tests(tests, setup, teardown);
}
