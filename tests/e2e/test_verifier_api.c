/*
 * mero-verifier end to end over loopback HTTP: the simulator's KMS
 * (kms_fixture), a node stand-in answering /admin-api/tee/attest from a
 * simulated dstack socket, and the verifier configured through an
 * environment map.  Each failure mode asserts its exact check id or error
 * code (docs/verifier.md).
 */
#include "mt_testlib.h"
#include "ita_stub.h"
#include "kms_fixture.h"
#include "mhd_test.h"
#include "release_fixture.h"
#include "verifier_harness.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <curl/curl.h>
#include <microhttpd.h>

#include "dstack/dstack_client.h"
#include "release/assemble.h"
#include "sim/sim_agent.h"
#include "sim/sim_machine.h"
#include "measure/rtmr.h"
#include "sim/sim_pki.h"
#include "util/mt_alloc.h"
#include "util/mt_b64.h"
#include "util/mt_buf.h"
#include "util/mt_hex.h"
#include "util/mt_json.h"
#include "verifier/verifier.h"

enum node_mode { NODE_OK, NODE_REPLAY, NODE_TAMPER, NODE_REDIRECT, NODE_OVERSIZE };

static struct kms_fixture kf;
static struct MHD_Daemon *node_d;
static char node_url[64];
static enum node_mode node_mode;
static const char *node_socket; /* NULL: the locked-read-only node */
static char web_dir[256];

/* A node admin endpoint: quote from the locked-read-only sim, report data nonce || 0^32. */
static enum MHD_Result
node_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
             const char *version, const char *upload_data, size_t *upload_size, void **con_cls)
{
    struct mt_buf *body = *con_cls;
    struct mt_dstack_client *dc = NULL;
    struct mt_dstack_quote q;
    struct MHD_Response *r;
    uint8_t rd[64];
    json_t *in = NULL, *out;
    char *b64, *text;
    enum MHD_Result ret;
    unsigned status = 200;

    (void)cls;
    (void)version;
    (void)method;
    if (body == NULL) {
        body = calloc(1, sizeof(*body));
        mt_buf_init(body, 65536);
        *con_cls = body;
        return MHD_YES;
    }
    if (*upload_size > 0) {
        assert_int_equal(mt_buf_append(body, upload_data, *upload_size), MT_OK);
        *upload_size = 0;
        return MHD_YES;
    }
    if (node_mode == NODE_REDIRECT) {
        r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(r, "Location", "http://169.254.169.254/latest/meta-data");
        ret = MHD_queue_response(c, 302, r);
        MHD_destroy_response(r);
        return ret;
    }
    if (node_mode == NODE_OVERSIZE) {
        size_t n = 3u * 1024u * 1024u;
        text = malloc(n);
        memset(text, 'x', n);
        r = MHD_create_response_from_buffer(n, text, MHD_RESPMEM_MUST_FREE);
        ret = MHD_queue_response(c, 200, r);
        MHD_destroy_response(r);
        return ret;
    }
    memset(rd, 0, sizeof(rd));
    assert_string_equal(url, "/admin-api/tee/attest");
    assert_int_equal(mt_json_parse((const char *)body->p, body->len, 65536, &in), MT_OK);
    assert_int_equal(mt_json_get_hex(in, "nonce", rd, 32), MT_OK);
    json_decref(in);
    if (node_mode == NODE_REPLAY)
        memset(rd, 0x42, 32); /* an old nonce: not this request's */
    {
        struct mt_dstack_opts o;
        mt_dstack_opts_init(&o);
        o.socket_path = node_socket != NULL ? node_socket : kf.node.socket;
        assert_int_equal(mt_dstack_client_new(&o, &dc), MT_OK);
    }
    memset(&q, 0, sizeof(q));
    assert_int_equal(mt_dstack_get_quote(dc, rd, 64, &q), MT_OK);
    mt_dstack_client_free(dc);
    b64 = mt_b64_encode_alloc(q.quote, q.quote_len);
    in = NULL;
    assert_int_equal(mt_json_parse(q.event_log, strlen(q.event_log), 1u << 22, &in), MT_OK);
    if (node_mode == NODE_TAMPER) {
        /* Change the compose hash: the log no longer replays to RTMR3. */
        size_t i;
        json_t *e;
        json_array_foreach(in, i, e)
        {
            if (strcmp(json_string_value(json_object_get(e, "event")), "compose-hash") == 0) {
                json_object_set_new(e, "event_payload",
                                    json_string("00000000000000000000000000000000000000000000000000"
                                                "00000000000000"));
                json_object_set_new(e, "digest", json_string(""));
            }
        }
    }
    out = json_pack("{s:{s:s,s:o}}", "data", "quoteB64", b64, "eventLog", in);
    text = json_dumps(out, JSON_COMPACT);
    json_decref(out);
    mt_free(b64);
    mt_dstack_quote_free(&q);
    r = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(r, "Content-Type", "application/json");
    ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

/* The harness's base environment plus this file's web directory. */
static void
base_env(struct vf_env *m)
{
    vf_base_env(m, &kf);
    vf_env_set(m, "VERIFIER_WEB_DIR", web_dir);
}

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
    return mt_buf_append(arg, p, size * n) == MT_OK ? size * n : 0;
}

/* HTTP to the verifier; returns the status, *out the body, *ctype the content type. */
static long
vf_http(const struct vf *v, const char *method, const char *path, const char *ct, const char *body,
        char **out, char *ctype, size_t ctype_len, char *csp, size_t csp_len)
{
    struct curl_slist *hdrs = NULL;
    struct mt_buf buf;
    char url[512], hdr[128], *t = NULL;
    long status = -1;
    CURL *h = curl_easy_init();

    mt_buf_init(&buf, 16u << 20);
    snprintf(url, sizeof(url), "%s%s", v->url, path);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &buf);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 120L);
    snprintf(hdr, sizeof(hdr), "Content-Type: %s", ct != NULL ? ct : "");
    hdrs = curl_slist_append(hdrs, hdr);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    if (body != NULL) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    if (csp != NULL)
        csp[0] = '\0';
    if (curl_easy_perform(h) == CURLE_OK) {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &t);
        if (ctype != NULL)
            snprintf(ctype, ctype_len, "%s", t != NULL ? t : "");
        if (csp != NULL) {
            struct curl_header *ch = NULL;
            if (curl_easy_header(h, "Content-Security-Policy", 0, CURLH_HEADER, -1, &ch) ==
                CURLHE_OK)
                snprintf(csp, csp_len, "%s", ch->value);
        }
    }
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    assert_int_equal(mt_buf_append(&buf, "", 1), MT_OK);
    *out = (char *)mt_buf_take(&buf, NULL);
    return status;
}

static long
verify(const struct vf *v, const char *body, json_t **out)
{
    char *resp = NULL;
    long st = vf_http(v, "POST", "/api/verify", "application/json", body, &resp, NULL, 0, NULL, 0);

    *out = NULL;
    if (mt_json_parse(resp, strlen(resp), 16u << 20, out) != MT_OK)
        fail_msg("not JSON (%ld): %.300s", st, resp);
    mt_free(resp);
    return st;
}

static const char *
check_status(const json_t *r, const char *id)
{
    const json_t *c = vf_find_check(r, id);

    if (c == NULL)
        fail_msg("no check %s", id);
    return json_string_value(json_object_get(c, "status"));
}

/* The evidence member `name` of a check, as a string (NULL without the check). */
static const char *
check_ev(const json_t *r, const char *id, const char *name)
{
    return json_string_value(
        json_object_get(json_object_get(vf_find_check(r, id), "evidence"), name));
}

/* Print every check of r, each cut to max characters. */
static void
print_checks(const json_t *r, int max)
{
    size_t i;
    json_t *c;

    json_array_foreach(json_object_get(r, "checks"), i, c)
    {
        char *d = json_dumps(c, JSON_COMPACT);
        print_message("%.*s\n", max, d);
        free(d);
    }
}

static void
expect_verdict(const json_t *r, const char *verdict)
{
    const char *v = json_string_value(json_object_get(r, "verdict"));

    if (v == NULL || strcmp(v, verdict) != 0) {
        print_checks(r, 600);
        fail_msg("verdict %s, want %s", v, verdict);
    }
}

/* POST body to /api/verify; requires status 200 and verdict.  The answer (json_decref). */
static json_t *
verify_verdict(const struct vf *v, const char *body, const char *verdict)
{
    json_t *r;

    assert_int_equal(verify(v, body, &r), 200);
    expect_verdict(r, verdict);
    return r;
}

static void
want_check(const json_t *r, const char *id, const char *status)
{
    const char *s = check_status(r, id);

    if (strcmp(s, status) != 0) {
        print_checks(r, INT_MAX);
        fail_msg("check %s is %s, want %s", id, s, status);
    }
}

static void
expect_error(long st, json_t **rp, long want, const char *code)
{
    json_t *r = *rp;
    const char *c = json_string_value(json_object_get(json_object_get(r, "error"), "code"));

    if (st != want || c == NULL || strcmp(c, code) != 0) {
        char *d = json_dumps(r, 0);
        fail_msg("status %ld code %s, want %ld %s: %s", st, c, want, code, d);
    }
}

static int
setup(void **state)
{
    uint16_t p;
    char path[300];
    FILE *f;

    (void)state;
    kms_fixture_boot(&kf);
    kms_fixture_start_kms(&kf);
    assert_int_equal(mt_pcs_unused_port(&p), MT_OK);
    node_d =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, p, NULL,
                         NULL, node_request, NULL, MHD_OPTION_NOTIFY_COMPLETED,
                         mt_test_free_buf_body, NULL, MHD_OPTION_SOCK_ADDR, NULL, MHD_OPTION_END);
    assert_non_null(node_d);
    snprintf(node_url, sizeof(node_url), "http://127.0.0.1:%u", (unsigned)p);
    snprintf(web_dir, sizeof(web_dir), "%s/web", kf.node.dir);
    assert_int_equal(mkdir(web_dir, 0700), 0);
    snprintf(path, sizeof(path), "%s/index.html", web_dir);
    f = fopen(path, "w");
    fputs("<!doctype html><title>verifier</title>", f);
    fclose(f);
    snprintf(path, sizeof(path), "%s/app.js", web_dir);
    f = fopen(path, "w");
    fputs("console.log(1);", f);
    fclose(f);
    snprintf(path, sizeof(path), "%s/secret.txt", web_dir);
    f = fopen(path, "w");
    fputs("secret", f);
    fclose(f);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    MHD_stop_daemon(node_d);
    kms_fixture_stop(&kf);
    return 0;
}

static void
test_kms_genuine_passes(void **state)
{
    struct vf_env m;
    struct vf v;
    json_t *r;
    char body[256];

    (void)state;
    base_env(&m);
    vf_start(&v, &m);
    snprintf(body, sizeof(body), "{\"kmsUrl\":\"%s/\"}", kf.url);
    r = verify_verdict(&v, body, "incomplete");
    want_check(r, "quote", "pass");
    want_check(r, "tcb", "pass");
    want_check(r, "nonce", "pass");
    want_check(r, "event_log", "pass");
    want_check(r, "compose_hash", "pass");
    want_check(r, "app_id", "pass");
    want_check(r, "release", "skipped");
    want_check(r, "ita", "skipped");
    assert_int_equal(
        strlen(json_string_value(json_object_get(json_object_get(r, "measurements"), "rtmr3"))),
        96);
    assert_true(json_array_size(json_object_get(r, "events")) > 0);
    assert_true(json_is_null(json_object_get(r, "release")));
    json_decref(r);
    vf_stop(&v);
}

static void
test_node_modes(void **state)
{
    struct vf_env m;
    struct vf v;
    json_t *r;
    char body[256];

    (void)state;
    base_env(&m);
    vf_start(&v, &m);
    snprintf(body, sizeof(body), "{\"nodeUrl\":\"%s\"}", node_url);
    node_mode = NODE_OK;
    r = verify_verdict(&v, body, "incomplete");
    want_check(r, "nonce", "pass");
    want_check(r, "event_log", "pass");
    json_decref(r);

    node_mode = NODE_REPLAY;
    r = verify_verdict(&v, body, "fail");
    want_check(r, "quote", "pass");
    want_check(r, "nonce", "fail");
    json_decref(r);

    node_mode = NODE_TAMPER;
    r = verify_verdict(&v, body, "fail");
    want_check(r, "event_log", "fail");
    want_check(r, "compose_hash", "fail");
    json_decref(r);

    node_mode = NODE_REDIRECT;
    expect_error(verify(&v, body, &r), &r, 502, "verifier_redirect_refused");
    json_decref(r);

    node_mode = NODE_OVERSIZE;
    expect_error(verify(&v, body, &r), &r, 502, "verifier_response_too_large");
    json_decref(r);
    node_mode = NODE_OK;
    vf_stop(&v);
}

static void
test_paste(void **state)
{
    struct mt_dstack_client *dc = NULL;
    struct mt_dstack_opts o;
    struct mt_dstack_quote q;
    struct vf_env m;
    struct vf v;
    uint8_t rd[64];
    char *b64, *body, hex[129];
    json_t *r, *req;

    (void)state;
    base_env(&m);
    vf_start(&v, &m);
    memset(rd, 7, sizeof(rd));
    mt_dstack_opts_init(&o);
    o.socket_path = kf.node.socket;
    assert_int_equal(mt_dstack_client_new(&o, &dc), MT_OK);
    memset(&q, 0, sizeof(q));
    assert_int_equal(mt_dstack_get_quote(dc, rd, 64, &q), MT_OK);
    mt_dstack_client_free(dc);
    b64 = mt_b64_encode_alloc(q.quote, q.quote_len);
    mt_hex_encode(rd, 64, hex);
    req = json_pack("{s:s,s:s,s:s}", "quoteB64", b64, "eventLog", q.event_log, "nonceHex", hex);
    body = json_dumps(req, JSON_COMPACT);
    r = verify_verdict(&v, body, "incomplete");
    want_check(r, "nonce", "pass");
    json_decref(r);
    free(body);
    /* Without a nonce: no freshness, said so. */
    json_object_del(req, "nonceHex");
    body = json_dumps(req, JSON_COMPACT);
    assert_int_equal(verify(&v, body, &r), 200);
    want_check(r, "nonce", "skipped");
    json_decref(r);
    free(body);
    json_decref(req);
    mt_free(b64);
    mt_dstack_quote_free(&q);
    vf_stop(&v);
}

static void
test_wrong_root_and_expired_collateral(void **state)
{
    struct mt_pcs_server *stale = NULL;
    struct vf_env m;
    struct vf v;
    json_t *r;
    char body[256], why[256], dir[] = "/tmp/mt-vf-root-XXXXXX", path[300];

    (void)state;
    /* A root the quote is not signed by. */
    assert_non_null(mkdtemp(dir));
    assert_int_equal(mt_sim_pki_init(dir, 0, why, sizeof(why)), MT_OK);
    base_env(&m);
    snprintf(path, sizeof(path), "%s/root.der", dir);
    vf_env_set(&m, "VERIFIER_TRUST_ROOT_FILE", path);
    vf_start(&v, &m);
    snprintf(body, sizeof(body), "{\"kmsUrl\":\"%s\"}", kf.url);
    r = verify_verdict(&v, body, "fail");
    want_check(r, "quote", "fail");
    want_check(r, "tcb", "skipped");
    /* The collateral's root CRL is the first thing signed by the real root. */
    assert_string_equal(check_ev(r, "quote", "code"), "root_crl");
    json_decref(r);
    vf_stop(&v);
    snprintf(path, sizeof(path), "rm -rf '%s'", dir);
    assert_int_equal(system(path), 0);

    /* Collateral past its nextUpdate. */
    assert_int_equal(mt_sim_pccs_start(kf.node.pki, mt_sim_agent_params(kf.node.agent), kf.node.now,
                                       MT_SIM_COLLATERAL_STALE, 0, &stale, why, sizeof(why)),
                     MT_OK);
    base_env(&m);
    vf_env_set(&m, "PCCS_URLS", mt_pcs_server_url(stale));
    vf_start(&v, &m);
    r = verify_verdict(&v, body, "fail");
    want_check(r, "quote", "fail");
    assert_string_equal(check_ev(r, "quote", "code"), "tcb_info_expired");
    json_decref(r);
    vf_stop(&v);
    mt_pcs_server_stop(stale);
}

static void
test_ssrf_and_fetch_errors(void **state)
{
    struct vf_env m;
    struct vf v;
    json_t *r;
    char body[256];

    (void)state;
    base_env(&m);
    vf_env_set(&m, "VERIFIER_ALLOW_PRIVATE", "0");
    vf_start(&v, &m);
    snprintf(body, sizeof(body), "{\"kmsUrl\":\"%s\"}", kf.url);
    expect_error(verify(&v, body, &r), &r, 403, "verifier_target_refused");
    json_decref(r);
    expect_error(verify(&v, "{\"nodeUrl\":\"http://169.254.169.254\"}", &r), &r, 403,
                 "verifier_target_refused");
    json_decref(r);
    expect_error(verify(&v, "{\"nodeUrl\":\"http://[::ffff:127.0.0.1]:1\"}", &r), &r, 403,
                 "verifier_target_refused");
    json_decref(r);
    vf_stop(&v);

    base_env(&m);
    vf_env_set(&m, "VERIFIER_ALLOW_HTTP", "0");
    vf_start(&v, &m);
    expect_error(verify(&v, body, &r), &r, 403, "verifier_target_refused");
    json_decref(r);
    vf_stop(&v);

    base_env(&m);
    vf_env_set(&m, "VERIFIER_ALLOWED_HOSTS", ".calimero.network");
    vf_start(&v, &m);
    expect_error(verify(&v, body, &r), &r, 403, "verifier_target_refused");
    json_decref(r);
    vf_stop(&v);

    base_env(&m);
    vf_start(&v, &m);
    /* Nothing listens on port 1. */
    expect_error(verify(&v, "{\"kmsUrl\":\"http://127.0.0.1:1\"}", &r), &r, 502,
                 "verifier_fetch_failed");
    json_decref(r);
    vf_stop(&v);
}

static void
test_bad_requests(void **state)
{
    static const char *const bad[] = {
        "",
        "[]",
        "{",
        "{}",
        "{\"kmsUrl\":1}",
        "{\"kmsUrl\":\"\"}",
        "{\"kmsUrl\":\"ftp://x\"}",
        "{\"kmsUrl\":\"https://a b\"}",
        "{\"kmsUrl\":\"https://a\",\"nodeUrl\":\"https://b\"}",
        "{\"kmsUrl\":\"https://a\",\"extra\":1}",
        "{\"kmsUrl\":\"https://a\",\"eventLog\":[]}",
        "{\"kmsUrl\":\"https://a\",\"nonceHex\":\"00\"}",
        "{\"kmsUrl\":\"https://a\",\"releaseTag\":\"v1.2.3\"}",
        "{\"kmsUrl\":\"https://a\",\"releaseTag\":\"mero-kms-v1.2\"}",
        "{\"kmsUrl\":\"https://a\",\"profile\":\"prod\"}",
        "{\"kmsUrl\":\"https://a\",\"profile\":5}",
        "{\"quoteB64\":\"!!!\"}",
        "{\"quoteB64\":\"AAAA\",\"nonceHex\":\"zz\"}",
        "{\"quoteB64\":\"AAAA\",\"nonceHex\":\"0011\"}",
        "{\"quoteB64\":\"AAAA\",\"eventLog\":5}",
    };
    struct vf_env m;
    struct vf v;
    json_t *r;
    size_t i;
    char *resp;

    (void)state;
    base_env(&m);
    vf_start(&v, &m);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        long st = verify(&v, bad[i], &r);
        if (st != 400)
            fail_msg("case %zu (%s): status %ld", i, bad[i], st);
        expect_error(st, &r, 400, "verifier_bad_request");
        json_decref(r);
    }
    /* A parsable quote that is not TDX-shaped: a fail verdict, not an error. */
    r = verify_verdict(&v, "{\"quoteB64\":\"AAAA\"}", "fail");
    want_check(r, "quote", "fail");
    json_decref(r);
    assert_int_equal(
        vf_http(&v, "POST", "/api/verify", "text/plain", "{}", &resp, NULL, 0, NULL, 0), 415);
    mt_free(resp);
    assert_int_equal(vf_http(&v, "GET", "/api/verify", NULL, NULL, &resp, NULL, 0, NULL, 0), 405);
    mt_free(resp);
    assert_int_equal(vf_http(&v, "GET", "/api/nope", NULL, NULL, &resp, NULL, 0, NULL, 0), 404);
    mt_free(resp);
    vf_stop(&v);
}

static void
test_static_and_health(void **state)
{
    static const char *const refused[] = {"/secret.txt", "/../etc/passwd",  "/%2e%2e/etc/passwd",
                                          "/.hidden.js", "/sub/app.js",     "/app.js/",
                                          "/nope.html",  "/..%2fsecret.txt"};
    struct vf_env m;
    struct vf v;
    char *resp, ct[128], csp[512];
    size_t i;

    (void)state;
    base_env(&m);
    vf_start(&v, &m);
    assert_int_equal(vf_http(&v, "GET", "/", NULL, NULL, &resp, ct, sizeof(ct), csp, sizeof(csp)),
                     200);
    assert_string_equal(ct, "text/html; charset=utf-8");
    assert_non_null(strstr(csp, "default-src 'self'"));
    assert_non_null(strstr(resp, "verifier"));
    mt_free(resp);
    assert_int_equal(vf_http(&v, "GET", "/app.js", NULL, NULL, &resp, ct, sizeof(ct), NULL, 0),
                     200);
    assert_string_equal(ct, "text/javascript; charset=utf-8");
    mt_free(resp);
    for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        long st = vf_http(&v, "GET", refused[i], NULL, NULL, &resp, NULL, 0, NULL, 0);
        if (st != 404)
            fail_msg("%s: %ld", refused[i], st);
        assert_null(strstr(resp, "secret\0"));
        mt_free(resp);
    }
    assert_int_equal(vf_http(&v, "GET", "/api/health", NULL, NULL, &resp, ct, sizeof(ct), NULL, 0),
                     200);
    assert_non_null(strstr(resp, "\"status\":\"ok\""));
    mt_free(resp);
    vf_stop(&v);
}

static void
test_rate_limit(void **state)
{
    struct vf_env m;
    struct vf v;
    json_t *r;
    int i;

    (void)state;
    base_env(&m);
    vf_env_set(&m, "VERIFIER_RATE_LIMIT", "3");
    vf_start(&v, &m);
    for (i = 0; i < 3; i++) {
        expect_error(verify(&v, "{}", &r), &r, 400, "verifier_bad_request");
        json_decref(r);
    }
    expect_error(verify(&v, "{}", &r), &r, 429, "verifier_rate_limited");
    json_decref(r);
    vf_stop(&v);
}

static void
test_config_errors(void **state)
{
    static const char *const cases[][2] = {
        {"VERIFIER_LISTEN", "nohost"},
        {"VERIFIER_LISTEN", "example.com:80"},
        {"VERIFIER_LISTEN", "127.0.0.1:99999"},
        {"VERIFIER_ALLOW_HTTP", "yes"},
        {"VERIFIER_ALLOW_PRIVATE", "2"},
        {"VERIFIER_RATE_LIMIT", "-1"},
        {"VERIFIER_RATE_LIMIT", "abc"},
        {"VERIFIER_ALLOWED_HOSTS", "a,,b"},
        {"VERIFIER_ALLOWED_HOSTS", "bad_host!"},
        {"CORS_ALLOWED_ORIGINS", "example.com"},
        {"PCCS_URLS", "ftp://x"},
        {"VERIFIER_TRUST_ROOT_FILE", "/nonexistent/root"},
        {"ITA_URL", "file:///x"},
        {"VERIFIER_RELEASE_BASE_URL", "gopher://x"},
    };
    struct mtv_config *c = NULL;
    struct vf_env m;
    char why[512];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        base_env(&m);
        vf_env_set(&m, cases[i][0], cases[i][1]);
        if (mtv_config_load(vf_env_get, &m, &c, why, sizeof(why)) != MT_ERR_CONFIG)
            fail_msg("%s=%s accepted", cases[i][0], cases[i][1]);
        if (strstr(why, cases[i][0]) == NULL)
            fail_msg("%s: message does not name it: %s", cases[i][0], why);
    }
}

static void
test_ita(void **state)
{
    static const struct {
        enum ita_stub_mode mode;
        const char *reason;
    } bad[] = {
        {ITA_STUB_WRONG_ISSUER, "issuer"},         {ITA_STUB_EXPIRED, "expired"},
        {ITA_STUB_NOT_YET_VALID, "not_yet_valid"}, {ITA_STUB_BAD_SIGNATURE, "signature"},
        {ITA_STUB_UNKNOWN_KID, "unknown_kid"},     {ITA_STUB_ALG_NONE, "algorithm"},
        {ITA_STUB_ALG_HS256, "algorithm"},         {ITA_STUB_CLAIMS_MISMATCH, "claims_mismatch"},
    };
    struct ita_stub *ita = NULL;
    struct vf_env m;
    struct vf v;
    json_t *r;
    char body[256], u[128];
    int alg;
    size_t i;

    (void)state;
    assert_int_equal(ita_stub_start("test-key", "https://ita.test", &ita), MT_OK);
    base_env(&m);
    vf_env_set(&m, "ITA_API_KEY", "test-key");
    snprintf(u, sizeof(u), "%s/appraisal/v2/attest", ita_stub_url(ita));
    vf_env_set(&m, "ITA_URL", u);
    snprintf(u, sizeof(u), "%s/certs", ita_stub_url(ita));
    vf_env_set(&m, "ITA_JWKS_URL", u);
    vf_env_set(&m, "ITA_ISSUER", "https://ita.test");
    vf_start(&v, &m);
    snprintf(body, sizeof(body), "{\"kmsUrl\":\"%s\"}", kf.url);
    /* A valid token under each allowed algorithm. */
    for (alg = ITA_STUB_RS256; alg <= ITA_STUB_ES384; alg++) {
        ita_stub_set(ita, (enum ita_stub_alg)alg, ITA_STUB_OK);
        r = verify_verdict(&v, body, "incomplete");
        want_check(r, "ita", "pass");
        assert_string_equal(check_ev(r, "ita", "tcbStatus"), "UpToDate");
        json_decref(r);
    }
    /* Each broken token fails the check with its reason, and the verdict with it. */
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ita_stub_set(ita, i % 2 ? ITA_STUB_ES256 : ITA_STUB_RS256, bad[i].mode);
        r = verify_verdict(&v, body, "fail");
        want_check(r, "quote", "pass");
        want_check(r, "ita", "fail");
        if (check_ev(r, "ita", "reason") == NULL ||
            strcmp(check_ev(r, "ita", "reason"), bad[i].reason) != 0)
            fail_msg("mode %d: reason %s, want %s", (int)bad[i].mode, check_ev(r, "ita", "reason"),
                     bad[i].reason);
        if (bad[i].mode == ITA_STUB_CLAIMS_MISMATCH)
            assert_string_equal(check_ev(r, "ita", "claim"), "tdx_rtmr3");
        json_decref(r);
    }
    vf_stop(&v);
    /* A wrong API key: ITA refuses the appraisal (401). */
    vf_env_set(&m, "ITA_API_KEY", "other-key");
    vf_start(&v, &m);
    ita_stub_set(ita, ITA_STUB_RS256, ITA_STUB_OK);
    assert_int_equal(verify(&v, body, &r), 200);
    want_check(r, "ita", "fail");
    assert_string_equal(check_ev(r, "ita", "reason"), "appraisal_failed");
    assert_string_equal(check_ev(r, "ita", "code"), "verifier_fetch_failed");
    json_decref(r);
    vf_stop(&v);
    /* The ITA host is subject to the host allowlist like any target. */
    vf_env_set(&m, "ITA_API_KEY", "test-key");
    vf_env_set(&m, "VERIFIER_ALLOWED_HOSTS", "127.0.0.1");
    snprintf(u, sizeof(u), "http://localhost:%s/appraisal/v2/attest",
             strrchr(ita_stub_url(ita), ':') + 1);
    vf_env_set(&m, "ITA_URL", u);
    vf_start(&v, &m);
    assert_int_equal(verify(&v, body, &r), 200);
    want_check(r, "ita", "fail");
    assert_string_equal(check_ev(r, "ita", "reason"), "appraisal_failed");
    assert_string_equal(check_ev(r, "ita", "code"), "verifier_target_refused");
    json_decref(r);
    vf_stop(&v);
    ita_stub_stop(ita);
}

/*
 * A release assembled from the simulators' measurements (as
 * test_release_roundtrip does, through the library), signed with a
 * generated key: node probes of the locked-read-only and debug nodes and a
 * debug-read-only machine; KMS probes of the KMS TD as it runs
 * (locked-read-only, with its verified compose hash pinned) and with the
 * other profiles' events extended.
 */
#define REL_VERSION "2.3.41"
static char rel_root[300], rel_pub[300];

static json_t *
probe(const char *kind, const char *profile, const uint8_t mrtd[48], uint8_t rtmr[4][48],
      const char *compose, char digest_ch)
{
    char why[256], *text;
    json_t *o = json_pack("{s:i,s:s,s:s,s:s}", "schema_version", 1, "kind", kind, "profile",
                          profile, "tcb_status", "UpToDate"),
           *n = NULL;

    release_set_regs(o, mrtd, rtmr);
    if (strcmp(kind, "node-probe") == 0) {
        json_object_set_new(o, "timestamp_utc", json_string("2026-04-01T10:00:00Z"));
        json_object_set_new(o, "external_verification", json_string("performed"));
        json_object_set_new(o, "image",
                            json_pack("{s:s,s:s,s:s,s:s}", "name", profile, "project", "sim",
                                      "family", profile, "self_link", ""));
    }
    if (compose != NULL) {
        char digest[80];
        memset(digest, digest_ch, sizeof(digest));
        memcpy(digest, "sha256:", 7);
        digest[7 + 64] = '\0';
        json_object_set_new(o, "compose_hash", json_string(compose));
        json_object_set_new(o, "image_digest", json_string(digest));
    }
    text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (mt_rel_probe_parse(text, strlen(text),
                           kind[0] == 'n' ? MT_REL_PROBE_NODE : MT_REL_PROBE_KMS, &n, why,
                           sizeof(why)) != MT_OK)
        fail_msg("%s %s: %s", kind, profile, why);
    free(text);
    return n;
}

static void
release_setup(void)
{
    static const char *const kms_profiles[] = {"debug", "debug-read-only"};
    struct mt_rel_assemble_in in;
    json_t *node[3], *kms[3], *meta, *r;
    struct mt_sim_machine *machine;
    uint8_t rtmr[4][48], d[48];
    char why[256], sbom[400], bin[400], priv[400], payload[64], *out = NULL, body[256];
    const char *bins[1] = {bin}, *compose;
    struct vf_env m;
    struct vf v;
    EVP_PKEY *k;
    FILE *f;
    mt_err e;
    int i;

    if (rel_root[0] != '\0')
        return;
    /* The KMS's compose hash, read from its verified log. */
    base_env(&m);
    vf_start(&v, &m);
    snprintf(body, sizeof(body), "{\"kmsUrl\":\"%s\"}", kf.url);
    assert_int_equal(verify(&v, body, &r), 200);
    compose = check_ev(r, "compose_hash", "composeHash");
    assert_non_null(compose);
    mt_sim_agent_rtmrs(kf.kms_agent, rtmr);
    kms[2] = probe("kms-probe", "locked-read-only",
                   mt_sim_agent_params(kf.kms_agent)->quote.td.mr_td, rtmr, compose, '3');
    json_decref(r);
    vf_stop(&v);
    for (i = 0; i < 2; i++) {
        snprintf(payload, sizeof(payload), "calimero.kms.profile=%s", kms_profiles[i]);
        assert_int_equal(mt_rtmr_event_digest(MT_DSTACK_RUNTIME_EVENT_TYPE, "calimero.kms.profile",
                                              20, (const uint8_t *)payload, strlen(payload), d),
                         MT_OK);
        assert_int_equal(mt_rtmr_extend(rtmr[3], d), MT_OK);
        kms[i] =
            probe("kms-probe", kms_profiles[i], mt_sim_agent_params(kf.kms_agent)->quote.td.mr_td,
                  rtmr, "", (char)('1' + i));
    }
    mt_sim_agent_rtmrs(kf.debug_agent, rtmr);
    node[0] = probe("node-probe", "debug", mt_sim_agent_params(kf.debug_agent)->quote.td.mr_td,
                    rtmr, NULL, 0);
    machine = sim_fixture_machine("debug-read-only");
    assert_int_equal(mt_sim_boot_registers(machine, rtmr), MT_OK);
    node[1] = probe("node-probe", "debug-read-only", machine->mrtd, rtmr, NULL, 0);
    mt_sim_machine_free(machine);
    mt_sim_agent_rtmrs(kf.node.agent, rtmr);
    node[2] = probe("node-probe", "locked-read-only",
                    mt_sim_agent_params(kf.node.agent)->quote.td.mr_td, rtmr, NULL, 0);
    meta = json_pack("{s:i,s:s,s:s,s:s,s:s,s:s,s:s}", "schema_version", 1, "kind", "release-meta",
                     "version", REL_VERSION, "commit_sha",
                     "0123456789abcdef0123456789abcdef01234567", "workflow_run_id", "77",
                     "workflow_run_attempt", "2", "generated_at", "2026-04-01T12:00:00Z");
    snprintf(bin, sizeof(bin), "%s/mero-kms-phala_x86_64-unknown-linux-gnu.tar.gz", kf.node.dir);
    f = fopen(bin, "w");
    fputs("not really a tarball\n", f);
    fclose(f);
    snprintf(sbom, sizeof(sbom),
             "%s/tests/golden/release/inputs/kms-phala-container-sbom.spdx.json", MT_SOURCE_DIR);
    snprintf(rel_root, sizeof(rel_root), "%s/releases", kf.node.dir);
    memset(&in, 0, sizeof(in));
    in.meta = meta;
    for (i = 0; i < 3; i++) {
        /* mt_rel_profiles order: debug, debug-read-only, locked-read-only. */
        in.node_probe[mt_rel_profile_index(i == 0   ? "debug"
                                           : i == 1 ? "debug-read-only"
                                                    : "locked-read-only")] = node[i];
        in.kms_probe[mt_rel_profile_index(i == 0   ? "debug"
                                          : i == 1 ? "debug-read-only"
                                                   : "locked-read-only")] = kms[i];
    }
    in.binaries = bins;
    in.num_binaries = 1;
    in.container_sbom = sbom;
    in.out_dir = rel_root;
    {
        char *t = json_dumps(meta, JSON_COMPACT);
        json_t *nm = NULL;
        assert_int_equal(mt_rel_probe_parse(t, strlen(t), MT_REL_PROBE_META, &nm, why, sizeof(why)),
                         MT_OK);
        free(t);
        json_decref(meta);
        meta = nm;
        in.meta = meta;
    }
    if ((e = mt_rel_assemble(&in, why, sizeof(why))) != MT_OK)
        fail_msg("assemble: %s %s", mt_err_code(e), why);
    for (i = 0; i < 3; i++) {
        json_decref(node[i]);
        json_decref(kms[i]);
    }
    json_decref(meta);
    /* Sign both families with a generated key. */
    k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    snprintf(priv, sizeof(priv), "%s/release.key", kf.node.dir);
    snprintf(rel_pub, sizeof(rel_pub), "%s/release.pub", kf.node.dir);
    f = fopen(priv, "w");
    assert_int_equal(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL), 1);
    fclose(f);
    f = fopen(rel_pub, "w");
    assert_int_equal(PEM_write_PUBKEY(f, k), 1);
    fclose(f);
    EVP_PKEY_free(k);
    snprintf(bin, sizeof(bin), "%s/mero-kms-v" REL_VERSION, rel_root);
    assert_int_equal(mt_test_run_cli(&out, "release", "sign", bin, "--key", priv, NULL), 0);
    mt_free(out);
    snprintf(bin, sizeof(bin), "%s/mero-tee-v" REL_VERSION, rel_root);
    assert_int_equal(mt_test_run_cli(&out, "release", "sign", bin, "--key", priv, NULL), 0);
    mt_free(out);
}

static json_t *
verify_rel(const struct vf *v, const char *key, const char *url, const char *tag,
           const char *profile)
{
    char body[512];
    json_t *r;

    if (profile != NULL)
        snprintf(body, sizeof(body), "{\"%s\":\"%s\",\"releaseTag\":\"%s\",\"profile\":\"%s\"}",
                 key, url, tag, profile);
    else
        snprintf(body, sizeof(body), "{\"%s\":\"%s\",\"releaseTag\":\"%s\"}", key, url, tag);
    assert_int_equal(verify(v, body, &r), 200);
    return r;
}

static const char *
release_profile(const json_t *r)
{
    return json_string_value(json_object_get(json_object_get(r, "release"), "profile"));
}

static void
test_release_checks(void **state)
{
    struct vf_env m;
    struct vf v;
    json_t *r, *matched;
    char path[700];
    FILE *f;

    (void)state;
    release_setup();
    base_env(&m);
    vf_env_set(&m, "VERIFIER_RELEASE_DIR", rel_root);
    vf_env_set(&m, "VERIFIER_RELEASE_KEY", rel_pub);
    vf_start(&v, &m);
    node_mode = NODE_OK;
    /* The locked-read-only node against its release and profile: all pass, signatures verified. */
    r = verify_rel(&v, "nodeUrl", node_url, "mero-tee-v" REL_VERSION, "locked-read-only");
    expect_verdict(r, "incomplete");
    want_check(r, "release", "pass");
    assert_string_equal(check_ev(r, "release", "signatures"), "verified");
    want_check(r, "measurements", "pass");
    want_check(r, "profile", "pass");
    want_check(r, "compose_policy", "skipped");
    assert_string_equal(release_profile(r), "locked-read-only");
    json_decref(r);
    /* No profile given: inferred. */
    r = verify_rel(&v, "nodeUrl", node_url, "mero-tee-v" REL_VERSION, NULL);
    expect_verdict(r, "incomplete");
    want_check(r, "profile", "pass");
    assert_string_equal(release_profile(r), "locked-read-only");
    json_decref(r);
    /* The debug node against the locked-read-only profile: measurements and profile fail. */
    node_socket = kf.debug_socket;
    r = verify_rel(&v, "nodeUrl", node_url, "mero-tee-v" REL_VERSION, "locked-read-only");
    expect_verdict(r, "fail");
    want_check(r, "quote", "pass");
    want_check(r, "release", "pass");
    want_check(r, "measurements", "fail");
    want_check(r, "profile", "fail");
    matched = json_object_get(json_object_get(r, "release"), "matchedProfiles");
    assert_int_equal(json_array_size(matched), 1);
    assert_string_equal(json_string_value(json_array_get(matched, 0)), "debug");
    json_decref(r);
    /* Without a profile the debug node is recognised as debug. */
    r = verify_rel(&v, "nodeUrl", node_url, "mero-tee-v" REL_VERSION, NULL);
    want_check(r, "measurements", "pass");
    want_check(r, "profile", "pass");
    assert_string_equal(release_profile(r), "debug");
    json_decref(r);
    node_socket = NULL;
    /* The KMS: measurements and the pinned compose hash of its profile. */
    r = verify_rel(&v, "kmsUrl", kf.url, "mero-kms-v" REL_VERSION, "locked-read-only");
    expect_verdict(r, "incomplete");
    want_check(r, "release", "pass");
    want_check(r, "measurements", "pass");
    want_check(r, "compose_policy", "pass");
    json_decref(r);
    /* The KMS against the debug profile: RTMR3 differs; debug pins no compose hash. */
    r = verify_rel(&v, "kmsUrl", kf.url, "mero-kms-v" REL_VERSION, "debug");
    expect_verdict(r, "fail");
    want_check(r, "measurements", "fail");
    want_check(r, "profile", "fail");
    want_check(r, "compose_policy", "skipped");
    json_decref(r);
    /* An unknown tag: the release check fails, the rest is skipped. */
    r = verify_rel(&v, "nodeUrl", node_url, "mero-tee-v9.9.9", NULL);
    want_check(r, "release", "fail");
    assert_string_equal(check_ev(r, "release", "code"), "release_asset_missing");
    want_check(r, "measurements", "skipped");
    json_decref(r);
    vf_stop(&v);

    /* No trust material: the documents are checked, the signatures reported unverified. */
    vf_env_set(&m, "VERIFIER_RELEASE_KEY", "");
    vf_start(&v, &m);
    r = verify_rel(&v, "nodeUrl", node_url, "mero-tee-v" REL_VERSION, "locked-read-only");
    expect_verdict(r, "fail");
    want_check(r, "release", "fail");
    assert_string_equal(check_ev(r, "release", "signatures"), "unverified");
    want_check(r, "measurements", "pass");
    json_decref(r);
    vf_stop(&v);

    /* A tampered copy of the release: its checksum (and signature) fail. */
    snprintf(path, sizeof(path), "cp -r '%s' '%s-tampered'", rel_root, rel_root);
    assert_int_equal(system(path), 0);
    snprintf(path, sizeof(path), "%s-tampered/mero-tee-v" REL_VERSION "/release-provenance.json",
             rel_root);
    f = fopen(path, "a");
    assert_non_null(f);
    fputs(" ", f);
    fclose(f);
    snprintf(path, sizeof(path), "%s-tampered", rel_root);
    vf_env_set(&m, "VERIFIER_RELEASE_DIR", path);
    vf_env_set(&m, "VERIFIER_RELEASE_KEY", rel_pub);
    vf_start(&v, &m);
    r = verify_rel(&v, "nodeUrl", node_url, "mero-tee-v" REL_VERSION, "locked-read-only");
    expect_verdict(r, "fail");
    want_check(r, "release", "fail");
    assert_string_equal(check_ev(r, "release", "signatures"), "failed");
    {
        json_t *c, *fl;
        size_t i, found = 0;
        json_array_foreach(json_object_get(r, "checks"), i, c)
        {
            if (strcmp(json_string_value(json_object_get(c, "id")), "release") != 0)
                continue;
            json_array_foreach(json_object_get(json_object_get(c, "evidence"), "failures"), found,
                               fl)
            {
                if (strcmp(json_string_value(json_object_get(fl, "name")),
                           "checksum:release-provenance.json") == 0)
                    break;
            }
            assert_true(found < json_array_size(
                                    json_object_get(json_object_get(c, "evidence"), "failures")));
        }
    }
    json_decref(r);
    vf_stop(&v);
}

/* Run the mero-verifier program with m as its whole environment; stderr to log. */
static pid_t
spawn_verifier(const struct vf_env *m, const char *log)
{
    char entries[32][600], *envp[33];
    size_t i;
    pid_t pid;

    for (i = 0; i < m->n; i++) {
        snprintf(entries[i], sizeof(entries[i]), "%s=%s", m->name[i], m->value[i]);
        envp[i] = entries[i];
    }
    envp[m->n] = NULL;
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (freopen(log, "w", stderr) == NULL)
            _exit(126);
        execle(MT_VERIFIER_PATH, MT_VERIFIER_PATH, (char *)NULL, envp);
        _exit(127);
    }
    return pid;
}

static void
test_program(void **state)
{
    struct vf_env m;
    struct vf v;
    json_t *r;
    char listen[48], log[300], body[256], *resp = NULL, text[2048];
    uint16_t port;
    int status, tries;
    size_t n;
    pid_t pid;
    FILE *f;

    (void)state;
    assert_int_equal(mt_pcs_unused_port(&port), MT_OK);
    base_env(&m);
    snprintf(listen, sizeof(listen), "127.0.0.1:%u", (unsigned)port);
    vf_env_set(&m, "VERIFIER_LISTEN", listen);
    snprintf(log, sizeof(log), "%s/verifier.log", kf.node.dir);
    pid = spawn_verifier(&m, log);
    memset(&v, 0, sizeof(v));
    snprintf(v.url, sizeof(v.url), "http://%s", listen);
    for (tries = 0; tries < 200; tries++) {
        if (vf_http(&v, "GET", "/api/health", NULL, NULL, &resp, NULL, 0, NULL, 0) == 200)
            break;
        mt_free(resp);
        resp = NULL;
        assert_int_equal(waitpid(pid, &status, WNOHANG), 0);
        usleep(25000);
    }
    assert_non_null(resp);
    assert_non_null(strstr(resp, "\"service\":\"mero-verifier\""));
    assert_non_null(strstr(resp, "\"ita\":false"));
    mt_free(resp);
    snprintf(body, sizeof(body), "{\"kmsUrl\":\"%s\"}", kf.url);
    r = verify_verdict(&v, body, "incomplete");
    want_check(r, "nonce", "pass");
    json_decref(r);
    assert_int_equal(kill(pid, SIGTERM), 0);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    /* The development settings are announced at startup. */
    f = fopen(log, "r");
    n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    assert_non_null(strstr(text, "warning: VERIFIER_ALLOW_PRIVATE=1"));

    /* A fatal configuration: exit 1, the variable named. */
    vf_env_set(&m, "VERIFIER_RATE_LIMIT", "lots");
    pid = spawn_verifier(&m, log);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 1);
    f = fopen(log, "r");
    n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    if (strstr(text, "invalid configuration: VERIFIER_RATE_LIMIT") == NULL)
        fail_msg("stderr: %s", text);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kms_genuine_passes),
        cmocka_unit_test(test_node_modes),
        cmocka_unit_test(test_paste),
        cmocka_unit_test(test_wrong_root_and_expired_collateral),
        cmocka_unit_test(test_ssrf_and_fetch_errors),
        cmocka_unit_test(test_bad_requests),
        cmocka_unit_test(test_static_and_health),
        cmocka_unit_test(test_rate_limit),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_ita),
        cmocka_unit_test(test_release_checks),
        cmocka_unit_test(test_program),
    };

    curl_global_init(CURL_GLOBAL_DEFAULT);
    return cmocka_run_group_tests(tests, setup, teardown);
}
