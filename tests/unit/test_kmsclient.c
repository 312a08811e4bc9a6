/*
 * The node client (src/lib/kmsclient, `mero-tee node`): merod's side of the
 * KMS protocol (mero-tee-reference.md 2.3-2.8, behaviours 37-39) against
 * kms_stub, a scripted stand-in for the KMS, and the TEE simulator (real
 * quotes, a PCCS, the simulator's test root).
 *
 *   transport   URL rules, joining, probe codes, no request on refusal;
 *   Plane 1     policy match / mismatch with the simulator's measurements,
 *               reportData mismatch stops before /challenge, mock quotes,
 *               field bounds, eventLog replay, KMS error bodies;
 *   Plane 2     the happy path with dstack, mock and a fake configfs-TSM
 *               tree, every challenge and key check with its code;
 *   CLI         keygen, peer-id, get-key (key file mode, --json, --show-key).
 */
#include "mt_testlib.h"
#include "kms_stub.h"
#include "sim_fixture.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "dcap/x509.h"
#include "dstack/dstack_client.h"
#include "identity/identity.h"
#include "kmsclient/kmsclient.h"
#include "pccs/pccs.h"
#include "quote/quote.h"
#include "util/mt_alloc.h"
#include "util/mt_b64.h"
#include "util/mt_hex.h"

/* The CLI, compiled in so that it runs in this process (it is a thin layer). */
#include "../../src/cli/cli_io.c"
#include "../../src/cli/cmd_node.c"

int mt_cmd_node(int argc, char **argv);

static EVP_PKEY *node_key;
static char tmpdir[64];

static int
setup(void **state)
{
    (void)state;
    if (mt_pccs_global_init() != MT_OK || mt_node_key_generate(&node_key) != MT_OK)
        return -1;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/mt-kmsclient-XXXXXX");
    return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
    char cmd[128];

    (void)state;
    EVP_PKEY_free(node_key);
    mt_pccs_global_cleanup();
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void
opts_for(struct mt_kc_opts *o, const struct mt_quote_source *src, const char *url)
{
    mt_kc_opts_init(o);
    o->http.url = url;
    o->http.proxy = "";
    o->quote_source = src;
    o->identity = node_key;
}

/* Run the flow; on success the key must be the stub's default. */
static mt_err
run(const struct mt_kc_opts *o, struct mt_kc_result *r)
{
    struct mt_secret key;
    mt_err e;

    memset(&key, 0x5a, sizeof(key));
    e = mt_kc_get_key(o, &key, r);
    assert_non_null(r->code);
    if (e == MT_OK) {
        assert_true(r->ok);
        assert_int_equal(key.len, 32);
        assert_true(mt_secret_eq(&key, kms_stub_default_key, 32));
        mt_secret_free(&key);
    } else {
        assert_false(r->ok);
        assert_int_equal(key.len, (size_t)0x5a5a5a5a5a5a5a5aull); /* untouched */
    }
    return e;
}

static void
expect_code(const struct mt_kc_result *r, enum mt_kc_stage stage, const char *code)
{
    if (r->stage != stage || strcmp(r->code, code) != 0)
        fail_msg("got %s/%s (%s), want %s/%s", mt_kc_stage_name(r->stage), r->code, r->details,
                 mt_kc_stage_name(stage), code);
}

static void
mock_source(struct mt_quote_source *src)
{
    EXPECT_OK(mt_quote_source_parse("mock", src));
}

/* ---- transport -------------------------------------------------------- */

static void
expect_url(const char *url, int insecure, const char *code)
{
    struct mt_kc_http_opts o;
    struct mt_kc_http *h = NULL;
    const char *got = NULL;
    char why[256];
    mt_err e;

    mt_kc_http_opts_init(&o);
    o.url = url;
    o.insecure_http = insecure;
    e = mt_kc_http_new(&o, &h, &got, why, sizeof(why));
    if (code == NULL) {
        if (e != MT_OK)
            fail_msg("%s: refused (%s: %s)", url, got, why);
        mt_kc_http_free(h);
        return;
    }
    if (e == MT_OK)
        fail_msg("%s: accepted, want %s", url, code);
    assert_string_equal(got, code);
    assert_true(why[0] != '\0');
}

static void
expect_join(const char *base, const char *name, const char *want)
{
    struct mt_kc_http_opts o;
    struct mt_kc_http *h = NULL;
    const char *code;
    char why[256], *url = NULL;

    mt_kc_http_opts_init(&o);
    o.url = base;
    EXPECT_OK(mt_kc_http_new(&o, &h, &code, why, sizeof(why)));
    EXPECT_OK(mt_kc_http_endpoint(h, name, &url));
    assert_string_equal(url, want);
    mt_free(url);
    mt_kc_http_free(h);
}

static void
test_transport_rules(void **state)
{
    (void)state;
    /* https always; http only to loopback IP literals */
    expect_url("https://kms.example.com", 0, NULL);
    expect_url("https://10.0.0.1:8443/kms/", 0, NULL);
    expect_url("http://127.0.0.1:8080", 0, NULL);
    expect_url("http://127.5.6.7/", 0, NULL);
    expect_url("http://[::1]:8080/", 0, NULL);
    expect_url("http://10.0.0.1:8080", 0, "KMS_HTTP_INSECURE");
    expect_url("http://localhost:8080", 0, "KMS_HTTP_INSECURE");
    expect_url("http://LOCALHOST", 0, "KMS_HTTP_INSECURE");
    expect_url("http://127.0.0.1.nip.io/", 0, "KMS_HTTP_INSECURE");
    expect_url("http://[::ffff:127.0.0.1]/", 0, "KMS_HTTP_INSECURE");
    expect_url("http://kms.example.com", 0, "KMS_HTTP_INSECURE");
    /* unless explicitly allowed */
    expect_url("http://10.0.0.1:8080", 1, NULL);
    expect_url("http://localhost:8080", 1, NULL);
    /* not a usable URL at all */
    expect_url("kms.example.com", 0, "KMS_ENDPOINT_URL_INVALID");
    expect_url("ftp://kms.example.com/", 0, "KMS_ENDPOINT_URL_INVALID");
    expect_url("file:///etc/passwd", 1, "KMS_ENDPOINT_URL_INVALID");
    expect_url("https://", 0, "KMS_ENDPOINT_URL_INVALID");
    expect_url("https://kms example.com/", 0, "KMS_ENDPOINT_URL_INVALID");
    expect_url("", 0, "KMS_PROVIDER_NOT_CONFIGURED");
    expect_url(NULL, 0, "KMS_PROVIDER_NOT_CONFIGURED");

    /* joining: a trailing '/' is added, query and fragment dropped */
    expect_join("https://kms.example.com", "challenge", "https://kms.example.com/challenge");
    expect_join("https://kms.example.com/", "attest", "https://kms.example.com/attest");
    expect_join("https://kms.example.com/kms", "get-key", "https://kms.example.com/kms/get-key");
    expect_join("https://kms.example.com/a/b/", "challenge",
                "https://kms.example.com/a/b/challenge");
    expect_join("https://kms.example.com/a?x=1#frag", "challenge",
                "https://kms.example.com/a/challenge");
}

static void
test_transport_refusal_sends_nothing(void **state)
{
    struct kms_stub *stub = kms_stub_start(NULL);
    struct mt_quote_source src;
    struct mt_kc_opts o;
    struct mt_kc_result r;
    char url[128];
    json_t *j;
    char *s;

    (void)state;
    mock_source(&src);
    /* the stub's port, but through the name localhost: refused before connecting */
    snprintf(url, sizeof(url), "http://localhost:%s", strrchr(kms_stub_url(stub), ':') + 1);
    opts_for(&o, &src, url);
    EXPECT_ERR(run(&o, &r), MT_ERR_ARG);
    expect_code(&r, MT_KC_STAGE_TRANSPORT, "KMS_HTTP_INSECURE");
    assert_int_equal(kms_stub_count(stub, KMS_STUB_CHALLENGE), 0);
    j = mt_kc_result_to_json(&r);
    s = json_dumps(j, JSON_COMPACT);
    assert_non_null(strstr(s,
                           "{\"ok\":false,\"stage\":\"transport\",\"code\":\"KMS_HTTP_INSECURE\","
                           "\"details\":\""));
    assert_null(strstr(s, "kms_error"));
    mt_free_libc(s);
    json_decref(j);
    /* nothing listening: the challenge request fails */
    kms_stub_stop(stub);
    opts_for(&o, &src, "http://127.0.0.1:1");
    EXPECT_ERR(run(&o, &r), MT_ERR_NETWORK);
    expect_code(&r, MT_KC_STAGE_CHALLENGE, "KMS_CHALLENGE_REQUEST_FAILED");
}

/* ---- Plane 2 ---------------------------------------------------------- */

static void
test_happy_path_dstack(void **state)
{
    struct sim_fixture f;
    struct kms_stub *stub;
    struct mt_quote_source src;
    struct mt_kc_opts o;
    struct mt_kc_result r;
    char spec[256], url[160], peer[MT_PEER_ID_BUF], *body, *path, *verdict, *s;
    json_t *req, *j;
    uint8_t *quote = NULL, rd[64];
    size_t qlen = 0;
    struct mt_quote q;

    (void)state;
    sim_fixture_start(&f, sim_fixture_machine("locked-read-only"), 0);
    stub = kms_stub_start(f.socket);
    kms_stub_accept_mock(stub, 0);
    snprintf(spec, sizeof(spec), "dstack:%s", f.socket);
    EXPECT_OK(mt_quote_source_parse(spec, &src));
    /* a base path without a trailing slash still reaches <base>/challenge */
    snprintf(url, sizeof(url), "%s/prefix", kms_stub_url(stub));
    opts_for(&o, &src, url);
    EXPECT_OK(run(&o, &r));
    expect_code(&r, MT_KC_STAGE_GET_KEY, "OK");
    assert_string_equal(r.details, "KMS probe succeeded and returned 32 key bytes");
    j = mt_kc_result_to_json(&r);
    s = json_dumps(j, JSON_COMPACT);
    assert_string_equal(s, "{\"ok\":true,\"stage\":\"get_key\",\"code\":\"OK\",\"details\":\"KMS "
                           "probe succeeded and returned 32 key bytes\"}");
    mt_free_libc(s);
    json_decref(j);
    assert_int_equal(kms_stub_count(stub, KMS_STUB_ATTEST), 0); /* no policy: no Plane 1 */
    assert_int_equal(kms_stub_count(stub, KMS_STUB_CHALLENGE), 1);
    assert_int_equal(kms_stub_count(stub, KMS_STUB_GET_KEY), 1);
    path = kms_stub_last_path(stub);
    assert_string_equal(path, "/prefix/get-key");
    free(path);
    verdict = kms_stub_last_get_key_verdict(stub);
    assert_string_equal(verdict, "ok");
    free(verdict);
    assert_int_equal(kms_stub_last_alphabetical(stub), 0); /* insertion order, as merod */

    /* what was sent: the challenge carried our peer ID, get-key a real quote over
     * nonce || SHA256(peerId) and our libp2p key */
    EXPECT_OK(mt_peer_id_from_pkey(node_key, peer));
    body = kms_stub_last_body(stub, KMS_STUB_CHALLENGE);
    req = json_loads(body, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(req, "peerId")), peer);
    assert_int_equal(json_object_size(req), 1);
    json_decref(req);
    free(body);
    body = kms_stub_last_body(stub, KMS_STUB_GET_KEY);
    req = json_loads(body, 0, NULL);
    assert_int_equal(json_object_size(req), 5);
    s = (char *)json_string_value(json_object_get(req, "quoteB64"));
    EXPECT_OK(mt_b64_decode_alloc(s, strlen(s), MT_MAX_QUOTE_SIZE, &quote, &qlen));
    EXPECT_OK(mt_quote_parse(quote, qlen, &q));
    assert_int_equal(q.kind, MT_QUOTE_DCAP);
    SHA256((const uint8_t *)peer, strlen(peer), rd);
    assert_memory_equal(q.td.report_data + 32, rd, 32);
    mt_free(quote);
    json_decref(req);
    free(body);

    kms_stub_stop(stub);
    sim_fixture_stop(&f);
}

static void
test_mock_source_layout(void **state)
{
    struct mt_quote_source src;
    uint8_t rd[64], *q = NULL, want[256];
    size_t len = 0;
    char why[128];

    (void)state;
    for (size_t i = 0; i < 64; i++)
        rd[i] = (uint8_t)(0xa0 + i);
    mock_source(&src);
    EXPECT_OK(mt_quote_source_get(&src, rd, &q, &len, why, sizeof(why)));
    assert_int_equal(len, 256);
    assert_memory_equal(q, "MOCK_TDX_QUOTE_V1", 17);
    assert_memory_equal(q + 17, rd, 64);
    memset(want, 0, sizeof(want));
    assert_memory_equal(q + 81, want, 256 - 81);
    assert_true(mt_quote_is_mock(q, len));
    mt_free(q);
    /* spec parsing */
    EXPECT_OK(mt_quote_source_parse("dstack", &src));
    assert_int_equal(src.kind, MT_QSRC_DSTACK);
    assert_null(src.path);
    EXPECT_OK(mt_quote_source_parse("tsm:/x/y", &src));
    assert_int_equal(src.kind, MT_QSRC_TSM);
    assert_string_equal(src.path, "/x/y");
    EXPECT_ERR(mt_quote_source_parse("dstack:", &src), MT_ERR_ARG);
    EXPECT_ERR(mt_quote_source_parse("sgx", &src), MT_ERR_ARG);
    EXPECT_ERR(mt_quote_source_parse("Mock", &src), MT_ERR_ARG);
}

static void
test_happy_path_mock(void **state)
{
    struct kms_stub *stub = kms_stub_start(NULL);
    struct mt_quote_source src;
    struct mt_kc_opts o;
    struct mt_kc_result r;

    (void)state;
    mock_source(&src);
    opts_for(&o, &src, kms_stub_url(stub));
    EXPECT_OK(run(&o, &r));
    /* a KMS that refuses mock quotes says so */
    kms_stub_accept_mock(stub, 0);
    EXPECT_ERR(run(&o, &r), MT_ERR_HTTP_STATUS);
    expect_code(&r, MT_KC_STAGE_GET_KEY, "KMS_GET_KEY_REJECTED");
    assert_string_equal(r.kms_error, "mock_attestation_rejected");
    kms_stub_stop(stub);
}

/* A fake configfs-TSM entry: outblob is produced from inblob by this hook. */
enum tsm_mode { TSM_GOOD, TSM_WRONG_RD, TSM_CONFLICT, TSM_NO_OUTBLOB, TSM_EMPTY };

struct tsm_fake {
    enum tsm_mode mode;
    unsigned calls;
};

static void
write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");

    assert_non_null(f);
    if (n > 0)
        assert_int_equal(fwrite(p, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static void
tsm_hook(const char *dir, void *arg)
{
    struct tsm_fake *fake = arg;
    char path[512];
    uint8_t *in, quote[256];
    size_t n;

    fake->calls++;
    snprintf(path, sizeof(path), "%s/inblob", dir);
    in = mt_test_read_file(path, &n);
    assert_int_equal(n, 64);
    if (fake->mode == TSM_WRONG_RD)
        in[0] ^= 1;
    mt_mock_quote(in, quote);
    mt_free(in);
    snprintf(path, sizeof(path), "%s/outblob", dir);
    if (fake->mode == TSM_EMPTY)
        write_file(path, "", 0);
    else if (fake->mode != TSM_NO_OUTBLOB)
        write_file(path, quote, sizeof(quote));
    if (fake->mode == TSM_CONFLICT) {
        snprintf(path, sizeof(path), "%s/generation", dir);
        write_file(path, "2\n", 2);
    }
}

static size_t
count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    size_t n = 0;

    assert_non_null(d);
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            n++;
    }
    closedir(d);
    return n;
}

static void
test_tsm_fake_tree(void **state)
{
    struct kms_stub *stub = kms_stub_start(NULL);
    struct tsm_fake fake = {TSM_GOOD, 0};
    struct mt_quote_source src;
    struct mt_kc_opts o;
    struct mt_kc_result r;
    char base[128], spec[160], why[256], missing[160];
    uint8_t rd[64], *q = NULL;
    size_t len;

    (void)state;
    snprintf(base, sizeof(base), "%s/tsm", tmpdir);
    assert_int_equal(mkdir(base, 0700), 0);
    snprintf(spec, sizeof(spec), "tsm:%s", base);
    EXPECT_OK(mt_quote_source_parse(spec, &src));
    src.tsm_hook = tsm_hook;
    src.tsm_hook_arg = &fake;

    /* the whole flow with a TSM quote; the entry is removed afterwards */
    opts_for(&o, &src, kms_stub_url(stub));
    EXPECT_OK(run(&o, &r));
    assert_int_equal(fake.calls, 1);
    assert_int_equal(count_entries(base), 0);

    memset(rd, 7, sizeof(rd));
    EXPECT_OK(mt_quote_source_get(&src, rd, &q, &len, why, sizeof(why)));
    assert_int_equal(len, 256);
    assert_memory_equal(q + 17, rd, 64);
    mt_free(q);

    /* a quote over other report data, a concurrent writer, no or an empty outblob */
    fake.mode = TSM_WRONG_RD;
    EXPECT_ERR(mt_quote_source_get(&src, rd, &q, &len, why, sizeof(why)),
               MT_ERR_ATTESTATION_FAILED);
    fake.mode = TSM_CONFLICT;
    EXPECT_ERR(mt_quote_source_get(&src, rd, &q, &len, why, sizeof(why)), MT_ERR_IO);
    assert_non_null(strstr(why, "concurrently"));
    fake.mode = TSM_NO_OUTBLOB;
    EXPECT_ERR(mt_quote_source_get(&src, rd, &q, &len, why, sizeof(why)), MT_ERR_IO);
    fake.mode = TSM_EMPTY;
    EXPECT_ERR(mt_quote_source_get(&src, rd, &q, &len, why, sizeof(why)), MT_ERR_IO);
    assert_int_equal(count_entries(base), 0);

    /* through the flow: a failing source is KMS_GET_KEY_ATTESTATION_FAILED */
    fake.mode = TSM_WRONG_RD;
    EXPECT_ERR(run(&o, &r), MT_ERR_ATTESTATION_FAILED);
    expect_code(&r, MT_KC_STAGE_GET_KEY, "KMS_GET_KEY_ATTESTATION_FAILED");
    assert_int_equal(kms_stub_count(stub, KMS_STUB_GET_KEY), 1);

    /* no configfs at all */
    snprintf(missing, sizeof(missing), "tsm:%s/no-such-dir", tmpdir);
    EXPECT_OK(mt_quote_source_parse(missing, &src));
    EXPECT_ERR(mt_quote_source_get(&src, rd, &q, &len, why, sizeof(why)), MT_ERR_IO);
    assert_non_null(strstr(why, "configfs-TSM"));
    kms_stub_stop(stub);
}

/* A scripted /challenge answer and the code it must produce. */
static void
expect_challenge(struct kms_stub *stub, unsigned status, const char *body, const char *code,
                 const char *kms_error)
{
    struct mt_quote_source src;
    struct mt_kc_opts o;
    struct mt_kc_result r;
    unsigned before = kms_stub_count(stub, KMS_STUB_GET_KEY);

    mock_source(&src);
    opts_for(&o, &src, kms_stub_url(stub));
    kms_stub_script(stub, KMS_STUB_CHALLENGE, status, body);
    assert_int_not_equal(run(&o, &r), MT_OK);
    expect_code(&r, MT_KC_STAGE_CHALLENGE, code);
    assert_string_equal(r.kms_error, kms_error);
    assert_int_equal(kms_stub_count(stub, KMS_STUB_GET_KEY), before);
    kms_stub_script(stub, KMS_STUB_CHALLENGE, 0, NULL);
}

static void
test_challenge_checks(void **state)
{
    struct kms_stub *stub = kms_stub_start(NULL);
    struct mt_quote_source src;
    struct mt_kc_opts o;
    struct mt_kc_result r;
    static const char nonce_ok[] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    char *big, *body;
    size_t n;

    (void)state;
    big = malloc(8192);
    assert_non_null(big);
    /* challengeId over 512 chars */
    memset(big, 'a', 513);
    big[513] = '\0';
    n = strlen(big) + 128;
    body = malloc(n + 4096);
    assert_non_null(body);
    snprintf(body, n, "{\"challengeId\":\"%s\",\"nonceB64\":\"%s\"}", big, nonce_ok);
    expect_challenge(stub, 200, body, "KMS_CHALLENGE_ID_OVERSIZED", "");
    /* nonceB64 over 2048 chars (even though it is valid base64) */
    memset(big, 'A', 2052);
    big[2052] = '\0';
    snprintf(body, 4096, "{\"challengeId\":\"abc\",\"nonceB64\":\"%s\"}", big);
    expect_challenge(stub, 200, body, "KMS_CHALLENGE_NONCE_OVERSIZED", "");
    /* bad base64, 31 and 33 bytes */
    expect_challenge(stub, 200, "{\"challengeId\":\"abc\",\"nonceB64\":\"not base64!\"}",
                     "KMS_CHALLENGE_NONCE_INVALID", "");
    expect_challenge(stub, 200,
                     "{\"challengeId\":\"abc\",\"nonceB64\":"
                     "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\"}",
                     "KMS_CHALLENGE_NONCE_INVALID", "");
    expect_challenge(stub, 200,
                     "{\"challengeId\":\"abc\",\"nonceB64\":"
                     "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}",
                     "KMS_CHALLENGE_NONCE_INVALID", "");
    /* not JSON, missing or mistyped fields, not an object */
    expect_challenge(stub, 200, "<html>", "KMS_CHALLENGE_RESPONSE_INVALID", "");
    expect_challenge(stub, 200, "{\"challengeId\":\"abc\"}", "KMS_CHALLENGE_RESPONSE_INVALID", "");
    expect_challenge(stub, 200, "{\"challengeId\":7,\"nonceB64\":\"AAAA\"}",
                     "KMS_CHALLENGE_RESPONSE_INVALID", "");
    expect_challenge(stub, 200, "[]", "KMS_CHALLENGE_RESPONSE_INVALID", "");
    /* KMS errors: the tag is reported and mapped */
    expect_challenge(stub, 400, "{\"error\":\"invalid_peer_id\",\"details\":\"peer ID bad\"}",
                     "KMS_CHALLENGE_REJECTED", "invalid_peer_id");
    expect_challenge(stub, 403, "{\"error\":\" Measurement_Policy_Rejected \"}",
                     "KMS_PROFILE_POLICY_REJECTED", " Measurement_Policy_Rejected ");
    expect_challenge(stub, 429, "Too many\x01 requests", "KMS_CHALLENGE_REJECTED", "");
    /* details that are not a string make the body not an error object (as serde) */
    expect_challenge(stub, 500, "{\"error\":\"x\",\"details\":5}", "KMS_CHALLENGE_REJECTED", "");

    /* a raw body is reported, sanitised */
    mock_source(&src);
    opts_for(&o, &src, kms_stub_url(stub));
    kms_stub_script(stub, KMS_STUB_CHALLENGE, 429, "Too many\x01 requests");
    EXPECT_ERR(run(&o, &r), MT_ERR_HTTP_STATUS);
    assert_non_null(strstr(r.details, "HTTP 429"));
    assert_non_null(strstr(r.details, "Too many? requests"));
    /* an oversized body */
    memset(big, ' ', 8191);
    big[8191] = '\0';
    kms_stub_script(stub, KMS_STUB_CHALLENGE, 0, NULL);
    free(body);
    body = malloc(MT_KC_MAX_RESPONSE + 64);
    assert_non_null(body);
    memset(body, ' ', MT_KC_MAX_RESPONSE + 10);
    memcpy(body, "{\"a\":1}", 7);
    body[MT_KC_MAX_RESPONSE + 10] = '\0';
    expect_challenge(stub, 200, body, "KMS_CHALLENGE_RESPONSE_INVALID", "");
    /* exactly 512 characters is fine: the stub then refuses the unknown id */
    memset(big, 'a', 512);
    big[512] = '\0';
    snprintf(body, 4096, "{\"challengeId\":\"%s\",\"nonceB64\":\"%s\"}", big, nonce_ok);
    kms_stub_script(stub, KMS_STUB_CHALLENGE, 200, body);
    EXPECT_ERR(run(&o, &r), MT_ERR_HTTP_STATUS);
    expect_code(&r, MT_KC_STAGE_GET_KEY, "KMS_GET_KEY_REJECTED");
    assert_string_equal(r.kms_error, "invalid_challenge");
    free(big);
    free(body);
    kms_stub_stop(stub);
}

static void
expect_key(struct kms_stub *stub, const char *key_text, const char *code)
{
    struct mt_quote_source src;
    struct mt_kc_opts o;
    struct mt_kc_result r;

    mock_source(&src);
    opts_for(&o, &src, kms_stub_url(stub));
    kms_stub_set_key(stub, key_text);
    if (code == NULL) {
        EXPECT_OK(run(&o, &r));
        return;
    }
    assert_int_not_equal(run(&o, &r), MT_OK);
    expect_code(&r, MT_KC_STAGE_GET_KEY, code);
    /* the key text never shows up in the result */
    if (strlen(key_text) >= 8)
        assert_null(strstr(r.details, key_text));
}

static void
expect_get_key_reply(struct kms_stub *stub, unsigned status, const char *body, const char *code,
                     const char *kms_error)
{
    struct mt_quote_source src;
    struct mt_kc_opts o;
    struct mt_kc_result r;

    mock_source(&src);
    opts_for(&o, &src, kms_stub_url(stub));
    kms_stub_script(stub, KMS_STUB_GET_KEY, status, body);
    assert_int_not_equal(run(&o, &r), MT_OK);
    expect_code(&r, MT_KC_STAGE_GET_KEY, code);
    assert_string_equal(r.kms_error, kms_error);
    kms_stub_script(stub, KMS_STUB_GET_KEY, 0, NULL);
}

static void
test_key_checks(void **state)
{
    struct kms_stub *stub = kms_stub_start(NULL);
    char hex[65], text[5000];

    (void)state;
    mt_hex_encode(kms_stub_default_key, 32, hex);
    /* trimmed (Rust's trim) and either case */
    snprintf(text, sizeof(text), "  %s \xe3\x80\x80", hex);
    expect_key(stub, text, NULL);
    for (size_t i = 0; i < 64; i++)
        text[i] = (char)(hex[i] >= 'a' ? hex[i] - 'a' + 'A' : hex[i]);
    text[64] = '\0';
    expect_key(stub, text, NULL);
    /* empty, blank, odd, non-hex, over 4096, under 32 bytes */
    expect_key(stub, "", "KMS_KEY_INVALID");
    expect_key(stub, "   ", "KMS_KEY_INVALID");
    snprintf(text, sizeof(text), "%s0", hex);
    expect_key(stub, text, "KMS_KEY_INVALID");
    snprintf(text, sizeof(text), "%.62szz", hex);
    expect_key(stub, text, "KMS_KEY_INVALID");
    memset(text, 'a', 4098);
    text[4098] = '\0';
    expect_key(stub, text, "KMS_KEY_INVALID");
    snprintf(text, sizeof(text), "%.62s", hex);
    expect_key(stub, text, "KMS_KEY_INVALID");
    /* 4096 hex digits is the largest key: accepted (2048 bytes), but not ours */
    memset(text, 'a', 4096);
    text[4096] = '\0';
    kms_stub_set_key(stub, text);
    {
        struct mt_quote_source src;
        struct mt_kc_opts o;
        struct mt_kc_result r;
        struct mt_secret key;

        mock_source(&src);
        opts_for(&o, &src, kms_stub_url(stub));
        memset(&key, 0, sizeof(key));
        EXPECT_OK(mt_kc_get_key(&o, &key, &r));
        assert_int_equal(key.len, 2048);
        assert_string_equal(r.details, "KMS probe succeeded and returned 2048 key bytes");
        mt_secret_free(&key);
    }
    kms_stub_set_key(stub, hex);

    /* malformed get-key answers */
    expect_get_key_reply(stub, 200, "{}", "KMS_GET_KEY_RESPONSE_INVALID", "");
    expect_get_key_reply(stub, 200, "{\"key\":12}", "KMS_GET_KEY_RESPONSE_INVALID", "");
    expect_get_key_reply(stub, 200, "{\"key\":\"00\",\"key\":\"11\"}",
                         "KMS_GET_KEY_RESPONSE_INVALID", "");
    expect_get_key_reply(stub, 200, "{\"key\":\"0011\"", "KMS_GET_KEY_RESPONSE_INVALID", "");
    expect_get_key_reply(stub, 200, "not json", "KMS_GET_KEY_RESPONSE_INVALID", "");
    expect_get_key_reply(stub, 200, "{\"key\":\"\\u0030\\u0030\"}", "KMS_KEY_INVALID", "");
    /* KMS error bodies */
    expect_get_key_reply(stub, 403,
                         "{\"error\":\"measurement_policy_rejected\",\"details\":\"RTMR3 'ab' is "
                         "not in allowlist\"}",
                         "KMS_PROFILE_POLICY_REJECTED", "measurement_policy_rejected");
    expect_get_key_reply(stub, 401, "{\"error\":\"invalid_signature\"}", "KMS_GET_KEY_REJECTED",
                         "invalid_signature");
    expect_get_key_reply(stub, 503, "{\"error\":\"policy_not_ready\",\"details\":null}",
                         "KMS_GET_KEY_REJECTED", "policy_not_ready");
    expect_get_key_reply(stub, 302, "", "KMS_GET_KEY_REJECTED", "");
    kms_stub_stop(stub);
}

/* ---- Plane 1 ---------------------------------------------------------- */

static char *
hex48(const uint8_t *m)
{
    static char buf[8][97];
    static int next;
    char *b = buf[next++ % 8];

    mt_hex_encode(m, 48, b);
    return b;
}

/* A release policy document listing these measurements (rtmr3_hex overrides RTMR3). */
static void
write_policy(const char *path, const uint8_t mrtd[48], const uint8_t rtmr[4][48],
             const char *rtmr3_hex, const char *tcb_json)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fprintf(f,
            "{\"schema_version\":1,\"role\":\"kms\",\"profile\":\"locked-read-only\","
            "\"tag\":\"2.3.40\",\"kms\":{\"provider\":\"mero-kms-phala\","
            "\"default_binding_b64\":\"IyP+rOn9F1GomrK+u4q6FF80OjaI49FlXtQo6wdm45Y=\"},"
            "\"policy\":{%s%s\"kms_allowed_mrtd\":[\"%s\"],\"kms_allowed_rtmr0\":[\"0x%s\"],"
            "\"kms_allowed_rtmr1\":[\"%s\"],\"kms_allowed_rtmr2\":[\"%s\"],"
            "\"kms_allowed_rtmr3\":[\"%s\"],\"node_allowed_mrtd\":[\"%s\"]}}\n",
            tcb_json != NULL ? tcb_json : "", tcb_json != NULL ? "," : "", hex48(mrtd),
            hex48(rtmr[0]), hex48(rtmr[1]), hex48(rtmr[2]),
            rtmr3_hex != NULL ? rtmr3_hex : hex48(rtmr[3]), hex48(rtmr[0]));
    assert_int_equal(fclose(f), 0);
}

struct plane1 {
    struct sim_fixture f;
    struct kms_stub *stub;
    uint8_t mrtd[48], rtmr[4][48];
    uint8_t *root_der;
    size_t root_der_len;
    const char *pccs[1];
    struct mt_quote_source src;
    char spec[256];
};

static void
plane1_start(struct plane1 *p)
{
    struct mt_dstack_opts o;
    struct mt_dstack_client *c = NULL;
    struct mt_dstack_quote dq;
    struct mt_quote q;
    uint8_t rd[64] = {0}, *root;
    char path[256];
    size_t len;

    memset(p, 0, sizeof(*p));
    sim_fixture_start(&p->f, sim_fixture_machine("locked-read-only"), 1);
    p->stub = kms_stub_start(p->f.socket);
    /* the simulator's measurements, from one of its quotes */
    mt_dstack_opts_init(&o);
    o.socket_path = p->f.socket;
    EXPECT_OK(mt_dstack_client_new(&o, &c));
    memset(&dq, 0, sizeof(dq));
    EXPECT_OK(mt_dstack_get_quote(c, rd, 64, &dq));
    EXPECT_OK(mt_quote_parse(dq.quote, dq.quote_len, &q));
    memcpy(p->mrtd, q.td.mr_td, 48);
    memcpy(p->rtmr, q.td.rt_mr, sizeof(p->rtmr));
    mt_dstack_quote_free(&dq);
    mt_dstack_client_free(c);
    snprintf(path, sizeof(path), "%s/root.der", p->f.dir);
    root = mt_test_read_file(path, &len);
    EXPECT_OK(mt_root_load(root, len, &p->root_der, &p->root_der_len));
    mt_free(root);
    p->pccs[0] = mt_pcs_server_url(p->f.pccs);
    snprintf(p->spec, sizeof(p->spec), "dstack:%s", p->f.socket);
    EXPECT_OK(mt_quote_source_parse(p->spec, &p->src));
}

static void
plane1_stop(struct plane1 *p)
{
    kms_stub_stop(p->stub);
    sim_fixture_stop(&p->f);
    mt_free(p->root_der);
}

static void
plane1_opts(struct plane1 *p, struct mt_kc_opts *o, const struct mt_policy *policy)
{
    opts_for(o, &p->src, kms_stub_url(p->stub));
    o->policy = policy;
    o->pccs_urls = p->pccs;
    o->num_pccs_urls = 1;
    o->trust_root_der = p->root_der;
    o->trust_root_der_len = p->root_der_len;
    o->now = p->f.now;
}

static struct mt_policy *
load_policy(const char *path)
{
    struct mt_policy *pol = NULL;
    char why[256];
    mt_err e = mt_kc_policy_load(path, &pol, why, sizeof(why));

    if (e != MT_OK)
        fail_msg("policy %s: %s (%s)", path, mt_err_code(e), why);
    return pol;
}

static void
test_plane1_policy(void **state)
{
    struct plane1 p;
    struct mt_kc_opts o;
    struct mt_kc_result r;
    struct mt_policy *pol;
    char path[128], *body;
    json_t *req;

    (void)state;
    plane1_start(&p);
    snprintf(path, sizeof(path), "%s/policy-good.json", tmpdir);
    write_policy(path, p.mrtd, p.rtmr, NULL, NULL);
    pol = load_policy(path);
    plane1_opts(&p, &o, pol);
    EXPECT_OK(run(&o, &r));
    assert_int_equal(kms_stub_count(p.stub, KMS_STUB_ATTEST), 1);
    assert_int_equal(kms_stub_count(p.stub, KMS_STUB_CHALLENGE), 1);
    /* the policy's binding was sent */
    body = kms_stub_last_body(p.stub, KMS_STUB_ATTEST);
    req = json_loads(body, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(req, "bindingB64")),
                        "IyP+rOn9F1GomrK+u4q6FF80OjaI49FlXtQo6wdm45Y=");
    assert_int_equal(json_string_length(json_object_get(req, "nonceB64")), 44);
    json_decref(req);
    free(body);

    /* the eventLog must replay to the quoted RTMR3 */
    kms_stub_set_attest_event_log(p.stub, "[]");
    EXPECT_ERR(run(&o, &r), MT_ERR_RTMR_MISMATCH);
    expect_code(&r, MT_KC_STAGE_ATTEST, "KMS_ATTEST_VERIFICATION_FAILED");
    kms_stub_set_attest_event_log(p.stub, "{\"x\":1}");
    EXPECT_ERR(run(&o, &r), MT_ERR_EVENTLOG_FORMAT);
    expect_code(&r, MT_KC_STAGE_ATTEST, "KMS_ATTEST_RESPONSE_INVALID");
    /* without one, only the quote is checked */
    kms_stub_set_attest_event_log(p.stub, "");
    EXPECT_OK(run(&o, &r));
    kms_stub_set_attest_event_log(p.stub, NULL);
    mt_policy_free(pol);

    /* a policy that does not list the KMS's RTMR3: rejected, and no challenge */
    snprintf(path, sizeof(path), "%s/policy-bad.json", tmpdir);
    write_policy(path, p.mrtd, p.rtmr,
                 "abababababababababababababababababababababababababababababababab"
                 "abababababababababababababababab",
                 NULL);
    pol = load_policy(path);
    plane1_opts(&p, &o, pol);
    EXPECT_ERR(run(&o, &r), MT_ERR_MEASUREMENT_REJECTED);
    expect_code(&r, MT_KC_STAGE_ATTEST, "KMS_PROFILE_POLICY_REJECTED");
    assert_non_null(strstr(r.details, "RTMR3"));
    assert_int_equal(kms_stub_count(p.stub, KMS_STUB_CHALLENGE), 2);
    mt_policy_free(pol);

    /* a TCB list without the simulator's status */
    snprintf(path, sizeof(path), "%s/policy-tcb.json", tmpdir);
    write_policy(path, p.mrtd, p.rtmr, NULL, "\"kms_allowed_tcb_statuses\":[\"outofdate\"]");
    pol = load_policy(path);
    plane1_opts(&p, &o, pol);
    EXPECT_ERR(run(&o, &r), MT_ERR_TCB_STATUS_REJECTED);
    expect_code(&r, MT_KC_STAGE_ATTEST, "KMS_PROFILE_POLICY_REJECTED");

    /* wrong trust root, unreachable PCCS, a time past the collateral */
    o.trust_root_der = NULL; /* the Intel root: the simulator's CRLs and chains fail */
    assert_int_not_equal(run(&o, &r), MT_OK);
    expect_code(&r, MT_KC_STAGE_ATTEST, "KMS_ATTEST_VERIFICATION_FAILED");
    plane1_opts(&p, &o, pol);
    p.pccs[0] = "http://127.0.0.1:1";
    EXPECT_ERR(run(&o, &r), MT_ERR_NETWORK);
    expect_code(&r, MT_KC_STAGE_ATTEST, "KMS_ATTEST_VERIFICATION_FAILED");
    assert_non_null(strstr(r.details, "collateral"));
    assert_int_equal(kms_stub_count(p.stub, KMS_STUB_CHALLENGE), 2);
    mt_policy_free(pol);
    plane1_stop(&p);
}

static void
test_plane1_report_data_mismatch(void **state)
{
    struct plane1 p;
    struct mt_kc_opts o;
    struct mt_kc_result r;
    struct mt_policy *pol;
    char path[128], rd[129];

    (void)state;
    plane1_start(&p);
    snprintf(path, sizeof(path), "%s/policy-rd.json", tmpdir);
    write_policy(path, p.mrtd, p.rtmr, NULL, NULL);
    pol = load_policy(path);
    plane1_opts(&p, &o, pol);
    memset(rd, '0', 128);
    rd[128] = '\0';
    kms_stub_set_attest_report_data(p.stub, rd);
    EXPECT_ERR(run(&o, &r), MT_ERR_ATTESTATION_FAILED);
    expect_code(&r, MT_KC_STAGE_ATTEST, "KMS_ATTEST_REPORT_DATA_MISMATCH");
    assert_int_equal(kms_stub_count(p.stub, KMS_STUB_ATTEST), 1);
    assert_int_equal(kms_stub_count(p.stub, KMS_STUB_CHALLENGE), 0);
    assert_int_equal(kms_stub_count(p.stub, KMS_STUB_GET_KEY), 0);
    /* the KMS's reportDataHex is consistent but the quote was made for another nonce:
     * a different --binding than the KMS used makes reportDataHex disagree first */
    kms_stub_set_attest_report_data(p.stub, NULL);
    o.binding = (const uint8_t *)"0123456789abcdef0123456789abcdef";
    EXPECT_OK(run(&o, &r)); /* the stub quotes whatever binding is sent */
    mt_policy_free(pol);
    plane1_stop(&p);
}

/* Scripted /attest answers against a mock-quoting stub. */
static void
expect_attest(struct kms_stub *stub, const struct mt_policy *pol, int allow_mock, unsigned status,
              const char *body, const char *code)
{
    struct mt_quote_source src;
    struct mt_kc_opts o;
    struct mt_kc_result r;
    unsigned before = kms_stub_count(stub, KMS_STUB_CHALLENGE);

    mock_source(&src);
    opts_for(&o, &src, kms_stub_url(stub));
    o.policy = pol;
    o.allow_mock_kms = allow_mock;
    kms_stub_script(stub, KMS_STUB_ATTEST, status, body);
    if (code == NULL) {
        EXPECT_OK(run(&o, &r));
    } else {
        assert_int_not_equal(run(&o, &r), MT_OK);
        expect_code(&r, MT_KC_STAGE_ATTEST, code);
        assert_int_equal(kms_stub_count(stub, KMS_STUB_CHALLENGE), before);
    }
    kms_stub_script(stub, KMS_STUB_ATTEST, 0, NULL);
}

static void
test_plane1_mock_and_bounds(void **state)
{
    struct kms_stub *stub = kms_stub_start(NULL);
    uint8_t zero[48] = {0}, zeros4[4][48];
    struct mt_policy *pol;
    char path[128], *big;
    size_t n;

    (void)state;
    memset(zeros4, 0, sizeof(zeros4));
    snprintf(path, sizeof(path), "%s/policy-mock.json", tmpdir);
    write_policy(path, zero, zeros4, NULL, NULL);
    pol = load_policy(path);
    /* mock KMS quotes: refused unless allowed; allowed, the all-zero measurements must be listed */
    expect_attest(stub, pol, 0, 0, NULL, "KMS_ATTEST_MOCK_QUOTE_REJECTED");
    expect_attest(stub, pol, 1, 0, NULL, NULL);
    mt_policy_free(pol);
    snprintf(path, sizeof(path), "%s/policy-nomock.json", tmpdir);
    zero[0] = 1;
    write_policy(path, zero, zeros4, NULL, NULL);
    pol = load_policy(path);
    expect_attest(stub, pol, 1, 0, NULL, "KMS_PROFILE_POLICY_REJECTED");

    /* KMS errors */
    expect_attest(stub, pol, 1, 401,
                  "{\"error\":\"attestation_verification_failed\",\"details\":\"dstack down\"}",
                  "KMS_ATTEST_REJECTED");
    expect_attest(stub, pol, 1, 403, "{\"error\":\"profile_policy_rejected\"}",
                  "KMS_PROFILE_POLICY_REJECTED");
    /* malformed answers */
    expect_attest(stub, pol, 1, 200, "{\"quoteB64\":\"AAAA\"}", "KMS_ATTEST_RESPONSE_INVALID");
    expect_attest(stub, pol, 1, 200, "{\"quoteB64\":\"\",\"reportDataHex\":\"00\"}",
                  "KMS_ATTEST_RESPONSE_INVALID");
    expect_attest(stub, pol, 1, 200, "{\"quoteB64\":\"AAAA\",\"reportDataHex\":\"\"}",
                  "KMS_ATTEST_RESPONSE_INVALID");
    expect_attest(stub, pol, 1, 200, "{\"quoteB64\":\"A A=\",\"reportDataHex\":\"00\"}",
                  "KMS_ATTEST_RESPONSE_INVALID");
    expect_attest(stub, pol, 1, 200, "{\"quoteB64\":\"AAAA\",\"reportDataHex\":\"0g\"}",
                  "KMS_ATTEST_RESPONSE_INVALID");
    expect_attest(stub, pol, 1, 200, "{\"quoteB64\":\"AAAA\",\"reportDataHex\":\"0000\"}",
                  "KMS_ATTEST_RESPONSE_INVALID");
    expect_attest(stub, pol, 1, 200, "nope", "KMS_ATTEST_RESPONSE_INVALID");
    /* oversized fields and body */
    big = malloc(MT_KC_MAX_ATTEST_RESPONSE + 64);
    assert_non_null(big);
    n = (size_t)snprintf(big, 64, "{\"reportDataHex\":\"00\",\"quoteB64\":\"");
    memset(big + n, 'A', MT_KC_MAX_QUOTE_B64 + 4);
    memcpy(big + n + MT_KC_MAX_QUOTE_B64 + 4, "\"}", 3);
    expect_attest(stub, pol, 1, 200, big, "KMS_ATTEST_RESPONSE_OVERSIZED");
    n = (size_t)snprintf(big, 64, "{\"quoteB64\":\"AAAA\",\"reportDataHex\":\"");
    memset(big + n, '0', MT_KC_MAX_REPORT_DATA_HEX + 2);
    memcpy(big + n + MT_KC_MAX_REPORT_DATA_HEX + 2, "\"}", 3);
    expect_attest(stub, pol, 1, 200, big, "KMS_ATTEST_RESPONSE_OVERSIZED");
    memset(big, ' ', MT_KC_MAX_ATTEST_RESPONSE + 8);
    memcpy(big, "{}", 2);
    big[MT_KC_MAX_ATTEST_RESPONSE + 8] = '\0';
    expect_attest(stub, pol, 1, 200, big, "KMS_ATTEST_RESPONSE_OVERSIZED");
    free(big);
    mt_policy_free(pol);
    kms_stub_stop(stub);
}

static void
test_policy_load(void **state)
{
    struct mt_policy *pol = NULL;
    uint8_t m[48] = {0}, r4[4][48];
    char path[128], why[256];
    FILE *f;

    (void)state;
    memset(r4, 0x11, sizeof(r4));
    snprintf(path, sizeof(path), "%s/policy-load.json", tmpdir);
    write_policy(path, m, r4, NULL, NULL);
    pol = load_policy(path);
    assert_int_equal(pol->num_tcb_statuses, 1);
    assert_string_equal(pol->tcb_statuses[0], "uptodate");
    assert_int_equal(pol->rtmr[0].n, 1); /* "0x" prefix accepted */
    assert_true(pol->has_binding);
    mt_policy_free(pol);
    /* a node policy (no kms_allowed_*) is not a KMS policy */
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("{\"role\":\"kms\",\"profile\":\"debug\",\"tag\":\"1.0.0\",\"policy\":"
          "{\"allowed_mrtd\":[\"00\"]}}",
          f);
    fclose(f);
    pol = NULL;
    assert_int_not_equal(mt_kc_policy_load(path, &pol, why, sizeof(why)), MT_OK);
    assert_null(pol);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("{\"role\":\"node\",\"tag\":\"1.0.0\",\"policy\":{}}", f);
    fclose(f);
    EXPECT_ERR(mt_kc_policy_load(path, &pol, why, sizeof(why)), MT_ERR_POLICY_FORMAT);
    snprintf(path, sizeof(path), "%s/no-such-policy.json", tmpdir);
    EXPECT_ERR(mt_kc_policy_load(path, &pol, why, sizeof(why)), MT_ERR_IO);
}

/* ---- CLI -------------------------------------------------------------- */

/* Run `mero-tee node ...` in this process, capturing stdout into *out (free). */
static int
node_cli(char **out, const char *const *args)
{
    char *argv[32], capture[128];
    int argc = 0, saved, fd, rc;
    size_t n;

    argv[argc++] = (char *)"node";
    while (*args != NULL)
        argv[argc++] = (char *)*args++;
    argv[argc] = NULL;
    snprintf(capture, sizeof(capture), "%s/stdout", tmpdir);
    fflush(stdout);
    saved = dup(1);
    fd = open(capture, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(saved >= 0 && fd >= 0);
    dup2(fd, 1);
    close(fd);
    rc = mt_cmd_node(argc, argv);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    if (out != NULL)
        *out = (char *)mt_test_read_file(capture, &n);
    return rc;
}

static void
test_cli(void **state)
{
    struct kms_stub *stub = kms_stub_start(NULL);
    char keyfile[128], keyout[128], hex[65], peer[MT_PEER_ID_BUF], *out = NULL;
    uint8_t *bytes;
    struct stat st;
    size_t n;
    json_t *j;

    (void)state;
    snprintf(keyfile, sizeof(keyfile), "%s/node.pem", tmpdir);
    snprintf(keyout, sizeof(keyout), "%s/storage.key", tmpdir);
    mt_hex_encode(kms_stub_default_key, 32, hex);

    assert_int_equal(node_cli(&out, (const char *const[]){"keygen", "--out", keyfile, NULL}), 0);
    assert_int_equal(stat(keyfile, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(strlen(out), 53);
    memcpy(peer, out, 52);
    peer[52] = '\0';
    mt_free(out);
    /* never replaced */
    assert_int_equal(node_cli(NULL, (const char *const[]){"keygen", "--out", keyfile, NULL}), 2);
    assert_int_equal(node_cli(&out, (const char *const[]){"peer-id", "--identity", keyfile, NULL}),
                     0);
    assert_non_null(strstr(out, peer));
    assert_non_null(strstr(out, "public_key_b64 CAESI"));
    mt_free(out);

    /* get-key: the key goes to the file (0600) and is printed only when asked */
    assert_int_equal(
        node_cli(&out, (const char *const[]){"get-key", "--kms", kms_stub_url(stub),
                                             "--quote-source", "mock", "--identity", keyfile,
                                             "--key-out", keyout, "--json", NULL}),
        0);
    j = json_loads(out, 0, NULL);
    assert_non_null(j);
    assert_true(json_is_true(json_object_get(j, "ok")));
    assert_string_equal(json_string_value(json_object_get(j, "code")), "OK");
    assert_null(json_object_get(j, "key"));
    assert_null(strstr(out, hex));
    json_decref(j);
    mt_free(out);
    assert_int_equal(stat(keyout, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    bytes = mt_test_read_file(keyout, &n);
    assert_int_equal(n, 32);
    assert_memory_equal(bytes, kms_stub_default_key, 32);
    mt_free(bytes);
    assert_int_equal(node_cli(&out, (const char *const[]){"get-key", "--kms", kms_stub_url(stub),
                                                          "--quote-source", "mock", "--identity",
                                                          keyfile, "--show-key", NULL}),
                     0);
    assert_non_null(strstr(out, hex));
    mt_free(out);

    /* failures: exit 1 with the probe result */
    kms_stub_set_key(stub, "abc");
    assert_int_equal(
        node_cli(&out, (const char *const[]){"get-key", "--kms", kms_stub_url(stub),
                                             "--quote-source", "mock", "--json", NULL}),
        1);
    j = json_loads(out, 0, NULL);
    assert_false(json_is_true(json_object_get(j, "ok")));
    assert_string_equal(json_string_value(json_object_get(j, "stage")), "get_key");
    assert_string_equal(json_string_value(json_object_get(j, "code")), "KMS_KEY_INVALID");
    json_decref(j);
    mt_free(out);
    assert_int_equal(
        node_cli(&out, (const char *const[]){"get-key", "--kms", "http://10.0.0.1",
                                             "--quote-source", "mock", "--json", NULL}),
        1);
    assert_non_null(strstr(out, "KMS_HTTP_INSECURE"));
    mt_free(out);

    /* usage errors: exit 2 */
    assert_int_equal(chmod(keyfile, 0644), 0);
    assert_int_equal(node_cli(NULL, (const char *const[]){"get-key", "--kms", kms_stub_url(stub),
                                                          "--identity", keyfile, NULL}),
                     2);
    assert_int_equal(node_cli(NULL, (const char *const[]){"get-key", "--kms", kms_stub_url(stub),
                                                          "--quote-source", "sgx", NULL}),
                     2);
    assert_int_equal(node_cli(NULL, (const char *const[]){"get-key", "--kms", kms_stub_url(stub),
                                                          "--allow-mock-kms", NULL}),
                     2);
    assert_int_equal(node_cli(NULL, (const char *const[]){"bogus", NULL}), 2);
    kms_stub_stop(stub);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_transport_rules),
        cmocka_unit_test(test_transport_refusal_sends_nothing),
        cmocka_unit_test(test_happy_path_dstack),
        cmocka_unit_test(test_mock_source_layout),
        cmocka_unit_test(test_happy_path_mock),
        cmocka_unit_test(test_tsm_fake_tree),
        cmocka_unit_test(test_challenge_checks),
        cmocka_unit_test(test_key_checks),
        cmocka_unit_test(test_plane1_policy),
        cmocka_unit_test(test_plane1_report_data_mismatch),
        cmocka_unit_test(test_plane1_mock_and_bounds),
        cmocka_unit_test(test_policy_load),
        cmocka_unit_test(test_cli),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
