/*
 * mero-kms over real HTTP against simulated TDs (mero-tee-reference.md §7):
 * every route, every error with its status and tag, the /get-key check
 * order, single-use challenges, the policy, the key path, /attest, and the
 * audit trail.
 */
#include "mt_testlib.h"
#include "kms_fixture.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <openssl/core_names.h>
#include <openssl/kdf.h>

#include "audit/audit.h"
#include "identity/identity.h"
#include "kms/kms_handlers.h"
#include "pccs/pccs.h"
#include "util/mt_alloc.h"
#include "util/mt_b64.h"
#include "util/mt_file.h"
#include "util/mt_hex.h"

static void
start(struct kms_fixture *f)
{
    kms_fixture_boot(f);
    kms_fixture_start_kms(f);
}

/* Every sample in Prometheus text has a "# TYPE <name>" line before it. */
static void
assert_metrics_typed(const char *text)
{
    const char *line = text;
    size_t samples = 0;

    while (*line != '\0') {
        const char *end = strchr(line, '\n'), *name_end;
        char want[160];

        assert_non_null(end); /* every line ends in a newline */
        if (*line != '#') {
            name_end = line + strcspn(line, "{ ");
            assert_true(name_end < end && (size_t)(name_end - line) < 100);
            snprintf(want, sizeof(want), "# TYPE %.*s ", (int)(name_end - line), line);
            if (strstr(text, want) == NULL || strstr(text, want) > line)
                fail_msg("metric without a TYPE line before it: %.*s", (int)(end - line), line);
            samples++;
        }
        line = end + 1;
    }
    assert_true(samples >= 10);
}

static void
test_health_and_routes(void **state)
{
    struct kms_fixture f;
    char *resp = NULL, big[70000];
    json_t *r;

    (void)state;
    kms_fixture_boot(&f);
    /* Not ready (no policy source at all): /health stays 200 with the reference's keys. */
    kms_fixture_env(&f, "USE_ENV_POLICY", NULL);
    kms_fixture_start_kms(&f);
    assert_int_equal(kms_request(&f, "GET", "/health", NULL, NULL, 0, &resp), 200);
    r = json_loads(resp, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(r, "status")), "alive");
    assert_string_equal(json_string_value(json_object_get(r, "service")), "mero-kms-phala");
    assert_true(json_is_false(json_object_get(r, "policyReady")));
    assert_non_null(strstr(json_string_value(json_object_get(r, "trustRoot")), "TEST ROOT"));
    json_decref(r);
    mt_free(resp);
    /* /ready says why not. */
    assert_int_equal(kms_request(&f, "GET", "/ready", NULL, NULL, 0, &resp), 503);
    assert_non_null(strstr(resp, "MERO_KMS_VERSION"));
    mt_free(resp);
    /* §7 item 2 */
    assert_int_equal(kms_request(&f, "GET", "/nope", NULL, NULL, 0, &resp), 404);
    assert_string_equal(resp, "");
    mt_free(resp);
    assert_int_equal(kms_request(&f, "GET", "/challenge", NULL, NULL, 0, &resp), 405);
    mt_free(resp);
    assert_int_equal(kms_request(&f, "POST", "/health", NULL, NULL, 0, &resp), 405);
    mt_free(resp);
    assert_int_equal(
        kms_request(&f, "POST", "/challenge", "text/plain", "{\"peerId\":\"x\"}", 14, &resp), 415);
    mt_free(resp);
    assert_int_equal(kms_request(&f, "POST", "/challenge", NULL, "{}", 2, &resp), 415);
    mt_free(resp);
    assert_int_equal(
        kms_request(&f, "POST", "/challenge", "application/json", "{\"peerId\":", 10, &resp), 400);
    mt_free(resp);
    assert_int_equal(kms_request(&f, "POST", "/challenge", "application/json", "{}", 2, &resp),
                     422);
    assert_non_null(strstr(resp, "peerId"));
    mt_free(resp);
    assert_int_equal(
        kms_request(&f, "POST", "/challenge", "application/json", "{\"peerId\":5}", 12, &resp),
        422);
    mt_free(resp);
    assert_int_equal(kms_request(&f, "POST", "/challenge", "application/vnd.api+json",
                                 "{\"peerId\":\"\"}", 13, &resp),
                     400); /* +json accepted: the peer check answers */
    mt_free(resp);
    memset(big, ' ', sizeof(big));
    big[0] = '{';
    big[sizeof(big) - 1] = '}';
    assert_int_equal(
        kms_request(&f, "POST", "/challenge", "application/json", big, sizeof(big), &resp), 413);
    mt_free(resp);
    /* /metrics is Prometheus text. */
    assert_int_equal(kms_request(&f, "GET", "/metrics", NULL, NULL, 0, &resp), 200);
    assert_non_null(strstr(resp, "mero_kms_test_trust_root 1"));
    assert_non_null(strstr(resp, "mero_kms_requests_total{route=\"challenge\",status=\"4xx\"}"));
    assert_metrics_typed(resp);
    mt_free(resp);
    kms_fixture_stop(&f);
}

static void
test_challenge(void **state)
{
    static const char *const bad[] = {"", "   ", "0OIl", "not-valid-peer-id-0OIl"};
    struct kms_fixture f;
    struct node_identity id;
    char body[512], long_peer[140];
    uint8_t *nonce = NULL;
    size_t i, n;
    json_t *r;

    (void)state;
    start(&f);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(body, sizeof(body), "{\"peerId\":\"%s\"}", bad[i]);
        kms_expect_error(kms_post_json(&f, "/challenge", body, &r), &r, 400, "invalid_peer_id",
                         NULL);
    }
    memset(long_peer, 'a', 129);
    long_peer[129] = '\0';
    snprintf(body, sizeof(body), "{\"peerId\":\"%s\"}", long_peer);
    kms_expect_error(kms_post_json(&f, "/challenge", body, &r), &r, 400, "invalid_peer_id",
                     "exceeds max length 128");
    /* §7 item 4 */
    node_identity_new(&id);
    snprintf(body, sizeof(body), "{\"peerId\":\"%s\",\"extra\":1}", id.peer);
    assert_int_equal(kms_post_json(&f, "/challenge", body, &r), 200);
    assert_int_equal(json_string_length(json_object_get(r, "challengeId")), 32);
    for (i = 0; i < 32; i++) {
        char ch = json_string_value(json_object_get(r, "challengeId"))[i];

        assert_true((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'));
    }
    EXPECT_OK(
        mt_b64_decode_alloc(json_string_value(json_object_get(r, "nonceB64")), 44, 64, &nonce, &n));
    assert_int_equal(n, 32);
    mt_free(nonce);
    assert_int_equal(json_integer_value(json_object_get(r, "expiresAt")), f.now + 60);
    json_decref(r);
    node_identity_free(&id);
    kms_fixture_stop(&f);
}

static void
test_capacity(void **state)
{
    struct kms_fixture f;
    struct node_identity a, b;
    char body[256];
    json_t *r;
    int i;

    (void)state;
    kms_fixture_boot(&f);
    kms_fixture_env(&f, "MAX_PENDING_CHALLENGES", "1");
    kms_fixture_start_kms(&f);
    node_identity_new(&a);
    node_identity_new(&b);
    snprintf(body, sizeof(body), "{\"peerId\":\"%s\"}", a.peer);
    assert_int_equal(kms_post_json(&f, "/challenge", body, &r), 200);
    json_decref(r);
    /* §7 item 5: the pool is global... */
    snprintf(body, sizeof(body), "{\"peerId\":\"%s\"}", b.peer);
    kms_expect_error(kms_post_json(&f, "/challenge", body, &r), &r, 429, "rate_limited", NULL);
    /* ... and expired challenges free it (§7 item 6). */
    f.now += 61;
    assert_int_equal(kms_post_json(&f, "/challenge", body, &r), 200);
    json_decref(r);
    kms_fixture_stop_kms(&f);

    /* The per-peer limit (our addition): one peer cannot take the whole pool. */
    kms_fixture_env(&f, "MAX_PENDING_CHALLENGES", "100");
    kms_fixture_env(&f, "MAX_PENDING_CHALLENGES_PER_PEER", "3");
    kms_fixture_start_kms(&f);
    snprintf(body, sizeof(body), "{\"peerId\":\"%s\"}", a.peer);
    for (i = 0; i < 3; i++) {
        assert_int_equal(kms_post_json(&f, "/challenge", body, &r), 200);
        json_decref(r);
    }
    kms_expect_error(kms_post_json(&f, "/challenge", body, &r), &r, 429, "rate_limited", NULL);
    snprintf(body, sizeof(body), "{\"peerId\":\"%s\"}", b.peer);
    assert_int_equal(kms_post_json(&f, "/challenge", body, &r), 200);
    json_decref(r);
    node_identity_free(&a);
    node_identity_free(&b);
    kms_fixture_stop(&f);
}

/* The key the local provider must give for a path (docs/configuration.md). */
static void
expected_local_key(const struct kms_fixture *f, const char *path, char hex[65])
{
    char file[256];
    uint8_t *root, out[32];
    size_t len;
    OSSL_PARAM p[5];
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *ctx = EVP_KDF_CTX_new(kdf);

    snprintf(file, sizeof(file), "%s/kms-root.key", f->node.dir);
    root = mt_test_read_file(file, &len);
    assert_int_equal(len, 32);
    p[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
    p[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, root, 32);
    p[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)"mero-kms-local-v1", 17);
    p[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)path, strlen(path));
    p[4] = OSSL_PARAM_construct_end();
    assert_int_equal(EVP_KDF_derive(ctx, out, 32, p), 1);
    mt_hex_encode(out, 32, hex);
    EVP_KDF_CTX_free(ctx);
    EVP_KDF_free(kdf);
    mt_free(root);
}

static void
test_key_release(void **state)
{
    struct kms_fixture f;
    struct node_identity id;
    char cid[33], path[256], want[65], first[65];
    json_t *body, *r;

    (void)state;
    start(&f);
    node_identity_new(&id);
    body = kms_get_key_body(&f, &id, f.node.socket, cid);
    assert_int_equal(kms_post_body(&f, "/get-key", body, &r), 200);
    /* §7 item 21: <prefix>/<profile>/<peerId> */
    snprintf(path, sizeof(path), "merod/storage/locked-read-only/%s", id.peer);
    expected_local_key(&f, path, want);
    assert_string_equal(json_string_value(json_object_get(r, "key")), want);
    snprintf(first, sizeof(first), "%s", want);
    json_decref(r);
    /* §7 item 10: the challenge is single use. */
    kms_expect_error(kms_post_body(&f, "/get-key", body, &r), &r, 401, "invalid_challenge",
                     "challenge not found or expired");
    json_decref(body);
    /* The same node again: the same key. */
    body = kms_get_key_body(&f, &id, f.node.socket, cid);
    assert_int_equal(kms_post_body(&f, "/get-key", body, &r), 200);
    assert_string_equal(json_string_value(json_object_get(r, "key")), first);
    json_decref(r);
    json_decref(body);
    /* Warm path: collateral fetched once for both. */
    {
        struct mt_collateral_store_stats st;

        mt_collateral_store_stats(f.kms->collateral, &st);
        assert_int_equal(st.fetches, 1);
    }
    node_identity_free(&id);
    kms_fixture_stop(&f);
}

static void
test_debug_node_refused(void **state)
{
    struct kms_fixture f;
    struct node_identity id;
    char cid[33];
    json_t *body, *r;

    (void)state;
    start(&f);
    node_identity_new(&id);
    body = kms_get_key_body(&f, &id, f.debug_socket, cid);
    /* Same firmware, another image: RTMR0/1 pass, RTMR2 names the profile. */
    kms_expect_error(kms_post_body(&f, "/get-key", body, &r), &r, 403,
                     "measurement_policy_rejected", "RTMR2");
    json_decref(body);
    node_identity_free(&id);
    kms_fixture_stop(&f);
}

/* §7 items 7-9, 11: the order of the first checks, and what consumes. */
static void
test_get_key_order(void **state)
{
    struct kms_fixture f;
    struct node_identity id;
    char cid[33], upper[33];
    json_t *body, *r;
    size_t i;

    (void)state;
    start(&f);
    node_identity_new(&id);
    body = kms_get_key_body(&f, &id, f.node.socket, cid);
    /* a bad peer ID wins over everything */
    json_object_set_new(body, "peerId", json_string("0OIl"));
    kms_expect_error(kms_post_body(&f, "/get-key", body, &r), &r, 400, "invalid_peer_id", NULL);
    json_object_set_new(body, "peerId", json_string(id.peer));
    /* a malformed challenge ID: 401, nothing consumed */
    json_object_set_new(body, "challengeId", json_string("abc"));
    kms_expect_error(kms_post_body(&f, "/get-key", body, &r), &r, 401, "invalid_challenge",
                     "32 hex characters");
    /* upper case passes the shape check but is not found (ids are stored lower case) */
    for (i = 0; i < 32; i++)
        upper[i] = (char)(cid[i] >= 'a' && cid[i] <= 'f' ? cid[i] - 32 : cid[i]);
    upper[32] = '\0';
    if (strcmp(upper, cid) != 0) {
        json_object_set_new(body, "challengeId", json_string(upper));
        kms_expect_error(kms_post_body(&f, "/get-key", body, &r), &r, 401, "invalid_challenge",
                         "not found");
    }
    json_object_set_new(body, "challengeId", json_string(cid));
    /* bad quote base64: 400 before the challenge is touched */
    {
        json_t *q = json_object_get(body, "quoteB64");
        char *keep = mt_strdup(json_string_value(q));

        json_object_set_new(body, "quoteB64", json_string("!!!"));
        kms_expect_error(kms_post_body(&f, "/get-key", body, &r), &r, 400, "invalid_request", NULL);
        json_object_set_new(body, "quoteB64", json_string(keep));
        mt_free(keep);
    }
    /* still consumable */
    assert_int_equal(kms_post_body(&f, "/get-key", body, &r), 200);
    json_decref(r);
    json_decref(body);
    kms_fixture_stop_kms(&f);

    /* §7 item 9: policy not ready → 503, challenge not consumed. */
    kms_fixture_env(&f, "USE_ENV_POLICY", NULL);
    kms_fixture_start_kms(&f);
    body = kms_get_key_body(&f, &id, f.node.socket, cid);
    kms_expect_error(kms_post_body(&f, "/get-key", body, &r), &r, 503, "policy_not_ready",
                     "MERO_KMS_VERSION");
    json_decref(body);
    node_identity_free(&id);
    kms_fixture_stop(&f);
}

/* §7 item 12, with the reference's defect 7 fixed. */
static void
test_wrong_peer_does_not_burn(void **state)
{
    struct kms_fixture f;
    struct node_identity a, b;
    char cid[33];
    json_t *body, *stolen, *r;

    (void)state;
    start(&f);
    node_identity_new(&a);
    node_identity_new(&b);
    body = kms_get_key_body(&f, &a, f.node.socket, cid);
    stolen = json_deep_copy(body);
    json_object_set_new(stolen, "peerId", json_string(b.peer));
    json_object_set_new(stolen, "peerPublicKeyB64", json_string(b.pubkey_b64));
    kms_expect_error(kms_post_body(&f, "/get-key", stolen, &r), &r, 401, "invalid_challenge",
                     "challenge peer mismatch");
    /* A's challenge survives B's attempt. */
    assert_int_equal(kms_post_body(&f, "/get-key", body, &r), 200);
    json_decref(r);
    json_decref(stolen);
    json_decref(body);
    node_identity_free(&a);
    node_identity_free(&b);
    kms_fixture_stop(&f);
}

/* §7 items 13-14 */
static void
test_signature_checks(void **state)
{
    struct kms_fixture f;
    struct node_identity a, x;
    char cid[33];
    json_t *body, *r;
    const char *sig;
    char *flipped;

    (void)state;
    start(&f);
    node_identity_new(&a);
    node_identity_new(&x);
    body = kms_get_key_body(&f, &a, f.node.socket, cid);
    json_object_set_new(body, "peerPublicKeyB64", json_string("***"));
    kms_expect_error(kms_post_body(&f, "/get-key", body, &r), &r, 400, "invalid_peer_public_key",
                     NULL);
    json_decref(body);

    body = kms_get_key_body(&f, &a, f.node.socket, cid);
    json_object_set_new(body, "signatureB64", json_string("***"));
    kms_expect_error(kms_post_body(&f, "/get-key", body, &r), &r, 401, "invalid_signature", NULL);
    json_decref(body);

    body = kms_get_key_body(&f, &a, f.node.socket, cid);
    json_object_set_new(body, "peerPublicKeyB64", json_string("AAAA"));
    kms_expect_error(kms_post_body(&f, "/get-key", body, &r), &r, 400, "invalid_peer_public_key",
                     NULL);
    json_decref(body);

    /*
     * An off-curve key (y = 2): refused as a key whether or not the peer ID
     * is its own, before the peer or signature checks would speak.
     */
    {
        uint8_t raw[MT_ED25519_PUBKEY_LEN] = {2}, pb[MT_LIBP2P_ED25519_PB_LEN];
        struct node_identity off = x;
        char *b64;

        mt_libp2p_ed25519_encode(raw, pb);
        b64 = mt_b64_encode_alloc(pb, sizeof(pb));
        assert_non_null(b64);
        snprintf(off.pubkey_b64, sizeof(off.pubkey_b64), "%s", b64);
        EXPECT_OK(mt_peer_id_from_pubkey_proto(pb, sizeof(pb), off.peer, sizeof(off.peer)));
        /* its own peer ID: the challenge, quote and peer binding are the key's (X signs) */
        body = kms_get_key_body(&f, &off, f.node.socket, cid);
        kms_expect_error(kms_post_body(&f, "/get-key", body, &r), &r, 400,
                         "invalid_peer_public_key", NULL);
        json_decref(body);
        /* A's peer ID */
        body = kms_get_key_body(&f, &a, f.node.socket, cid);
        json_object_set_new(body, "peerPublicKeyB64", json_string(b64));
        kms_expect_error(kms_post_body(&f, "/get-key", body, &r), &r, 400,
                         "invalid_peer_public_key", NULL);
        json_decref(body);
        mt_free(b64);
    }

    /* X's key for A's peer ID */
    body = kms_get_key_body(&f, &a, f.node.socket, cid);
    json_object_set_new(body, "peerPublicKeyB64", json_string(x.pubkey_b64));
    kms_expect_error(kms_post_body(&f, "/get-key", body, &r), &r, 401, "peer_identity_mismatch",
                     NULL);
    json_decref(body);

    /* a flipped signature */
    body = kms_get_key_body(&f, &a, f.node.socket, cid);
    sig = json_string_value(json_object_get(body, "signatureB64"));
    flipped = mt_strdup(sig);
    flipped[0] = flipped[0] == 'A' ? 'B' : 'A';
    json_object_set_new(body, "signatureB64", json_string(flipped));
    mt_free(flipped);
    kms_expect_error(kms_post_body(&f, "/get-key", body, &r), &r, 401, "invalid_signature", NULL);
    json_decref(body);
    node_identity_free(&a);
    node_identity_free(&x);
    kms_fixture_stop(&f);
}

/* A /challenge for id: its id and nonce. */
static void
new_challenge(const struct kms_fixture *f, const struct node_identity *id, char challenge[33],
              uint8_t nonce[32])
{
    char req[256];
    uint8_t *nb = NULL;
    size_t n;
    json_t *cr;

    snprintf(req, sizeof(req), "{\"peerId\":\"%s\"}", id->peer);
    assert_int_equal(kms_post_json(f, "/challenge", req, &cr), 200);
    snprintf(challenge, 33, "%s", json_string_value(json_object_get(cr, "challengeId")));
    EXPECT_OK(
        mt_b64_decode_alloc(json_string_value(json_object_get(cr, "nonceB64")), 44, 64, &nb, &n));
    assert_int_equal(n, 32);
    memcpy(nonce, nb, 32);
    mt_free(nb);
    json_decref(cr);
}

/* §7 items 16-18 */
static void
test_mock_quotes(void **state)
{
    struct kms_fixture f;
    struct node_identity id;
    char cid[33];
    json_t *body, *r;

    (void)state;
    start(&f);
    node_identity_new(&id);
    body = kms_get_key_body(&f, &id, NULL, cid);
    kms_expect_error(kms_post_body(&f, "/get-key", body, &r), &r, 401, "mock_attestation_rejected",
                     NULL);
    json_decref(body);
    kms_fixture_stop_kms(&f);

    kms_fixture_env(&f, "ACCEPT_MOCK_ATTESTATION", "true");
    kms_fixture_start_kms(&f);
    body = kms_get_key_body(&f, &id, NULL, cid);
    assert_int_equal(kms_post_body(&f, "/get-key", body, &r), 200);
    json_decref(r);
    json_decref(body);
    /* Mock quotes with one thing wrong each, on fresh challenges. */
    {
        uint8_t mock[MT_MOCK_QUOTE_SIZE], nonce[32];
        char challenge[33];

        /* right nonce, wrong peer binding (report_data[32..64] zero) */
        new_challenge(&f, &id, challenge, nonce);
        memset(mock, 0, sizeof(mock));
        memcpy(mock, MT_MOCK_QUOTE_MAGIC, MT_MOCK_QUOTE_MAGIC_LEN);
        memcpy(mock + MT_MOCK_QUOTE_MAGIC_LEN, nonce, 32);
        body = kms_sign_body(&id, id.peer, challenge, nonce, mock, sizeof(mock));
        kms_expect_error(kms_post_body(&f, "/get-key", body, &r), &r, 401, "peer_id_mismatch",
                         NULL);
        json_decref(body);
        /* shorter than magic + report data (81 bytes) */
        new_challenge(&f, &id, challenge, nonce);
        body = kms_sign_body(&id, id.peer, challenge, nonce, mock, 80);
        kms_expect_error(kms_post_body(&f, "/get-key", body, &r), &r, 401,
                         "attestation_verification_failed", NULL);
        json_decref(body);
        /* another nonce */
        new_challenge(&f, &id, challenge, nonce);
        memset(mock + MT_MOCK_QUOTE_MAGIC_LEN, 0x77, 32);
        body = kms_sign_body(&id, id.peer, challenge, nonce, mock, sizeof(mock));
        kms_expect_error(kms_post_body(&f, "/get-key", body, &r), &r, 401, "invalid_challenge",
                         "Attested nonce");
        json_decref(body);
    }
    node_identity_free(&id);
    kms_fixture_stop(&f);
}

/* §7 items 19-20 */
static void
test_policy_enforcement(void **state)
{
    struct kms_fixture f;
    struct node_identity id;
    char cid[33];
    json_t *body, *r;

    (void)state;
    kms_fixture_boot(&f);
    kms_fixture_env(&f, "ALLOWED_TCB_STATUSES", "outofdate");
    kms_fixture_start_kms(&f);
    node_identity_new(&id);
    body = kms_get_key_body(&f, &id, f.node.socket, cid);
    kms_expect_error(kms_post_body(&f, "/get-key", body, &r), &r, 403, "tcb_status_rejected",
                     "TCB status 'UpToDate' is not allowed");
    json_decref(body);
    kms_fixture_stop_kms(&f);

    /* Case-insensitive TCB, wrong MRTD: the first measurement named. */
    kms_fixture_env(&f, "ALLOWED_TCB_STATUSES", "UPTODATE");
    kms_fixture_env(&f, "ALLOWED_MRTD",
                    "0x111111111111111111111111111111111111111111111111111111"
                    "111111111111111111111111111111111111111111");
    kms_fixture_start_kms(&f);
    body = kms_get_key_body(&f, &id, f.node.socket, cid);
    kms_expect_error(kms_post_body(&f, "/get-key", body, &r), &r, 403,
                     "measurement_policy_rejected", "MRTD '");
    json_decref(body);
    kms_fixture_stop_kms(&f);

    /* Enforcement off: TCB and measurements skipped. */
    kms_fixture_env(&f, "ENFORCE_MEASUREMENT_POLICY", "false");
    kms_fixture_start_kms(&f);
    body = kms_get_key_body(&f, &id, f.debug_socket, cid);
    assert_int_equal(kms_post_body(&f, "/get-key", body, &r), 200);
    json_decref(r);
    json_decref(body);
    node_identity_free(&id);
    kms_fixture_stop(&f);
}

static void
test_key_prefix(void **state)
{
    struct kms_fixture f;
    struct node_identity id;
    char cid[33], path[256], want[65];
    json_t *body, *r;

    (void)state;
    kms_fixture_boot(&f);
    kms_fixture_env(&f, "KEY_NAMESPACE_PREFIX", "/a/b/");
    kms_fixture_start_kms(&f);
    node_identity_new(&id);
    body = kms_get_key_body(&f, &id, f.node.socket, cid);
    assert_int_equal(kms_post_body(&f, "/get-key", body, &r), 200);
    snprintf(path, sizeof(path), "a/b/locked-read-only/%s", id.peer);
    expected_local_key(&f, path, want);
    assert_string_equal(json_string_value(json_object_get(r, "key")), want);
    json_decref(r);
    json_decref(body);
    node_identity_free(&id);
    kms_fixture_stop(&f);
}

/* §7 items 23-25 */
static void
test_attest(void **state)
{
    static const char default_binding[] =
        "2323feace9fd1751a89ab2bebb8aba145f343a3688e3d1655ed428eb0766e396";
    struct kms_fixture f;
    uint8_t nonce[32], *quote = NULL;
    size_t len;
    char *nb64, body[256], want[129];
    struct mt_quote q;
    json_t *r;

    (void)state;
    start(&f);
    memset(nonce, 0xab, sizeof(nonce));
    nb64 = mt_b64_encode_alloc(nonce, 32);
    snprintf(body, sizeof(body), "{\"nonceB64\":\"%s\"}", nb64);
    assert_int_equal(kms_post_json(&f, "/attest", body, &r), 200);
    mt_hex_encode(nonce, 32, want);
    memcpy(want + 64, default_binding, 65);
    assert_string_equal(json_string_value(json_object_get(r, "reportDataHex")), want);
    assert_true(json_is_array(json_object_get(r, "eventLog")));
    assert_true(json_is_string(json_object_get(r, "vmConfig")));
    EXPECT_OK(mt_b64_decode_alloc(json_string_value(json_object_get(r, "quoteB64")),
                                  json_string_length(json_object_get(r, "quoteB64")), 1u << 20,
                                  &quote, &len));
    EXPECT_OK(mt_quote_parse(quote, len, &q));
    assert_string_equal(mt_test_hex(q.td.report_data, 64), want);
    mt_free(quote);
    json_decref(r);
    /* explicit null binding: the default */
    snprintf(body, sizeof(body), "{\"nonceB64\":\"%s\",\"bindingB64\":null}", nb64);
    assert_int_equal(kms_post_json(&f, "/attest", body, &r), 200);
    assert_string_equal(json_string_value(json_object_get(r, "reportDataHex")), want);
    json_decref(r);
    /* 31-byte nonce / binding */
    kms_expect_error(
        kms_post_json(&f, "/attest",
                      "{\"nonceB64\":\"q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urqw==\"}", &r),
        &r, 400, "invalid_attestation_request", "32 bytes");
    snprintf(
        body, sizeof(body),
        "{\"nonceB64\":\"%s\",\"bindingB64\":\"q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urqw==\"}",
        nb64);
    kms_expect_error(kms_post_json(&f, "/attest", body, &r), &r, 400, "invalid_attestation_request",
                     "bindingB64");
    kms_expect_error(kms_post_json(&f, "/attest", "{\"nonceB64\":\"%%%\"}", &r), &r, 400,
                     "invalid_attestation_request", NULL);
    /* The profile event went into the KMS TD's RTMR3 at startup. */
    assert_string_equal(f.kms->profile_event, "measured");
    /* dstack gone: a server-side failure, 503. */
    mt_sim_http_stop(f.kms_sim_http);
    f.kms_sim_http = NULL;
    snprintf(body, sizeof(body), "{\"nonceB64\":\"%s\"}", nb64);
    kms_expect_error(kms_post_json(&f, "/attest", body, &r), &r, 503, "dstack_unavailable", NULL);
    mt_free(nb64);
    kms_fixture_stop(&f);
}

/* §7 item 36 */
static void
test_cors(void **state)
{
    struct kms_fixture f;
    char *resp = NULL;

    (void)state;
    kms_fixture_boot(&f);
    kms_fixture_env(&f, "CORS_ALLOWED_ORIGINS", "https://a.example, https://b.example");
    kms_fixture_start_kms(&f);
    /* The handler level decides the headers; exercise it directly for exact assertions. */
    {
        struct mt_kms_request rq;
        struct mt_kms_response rs;
        size_t i;
        int found = 0;

        memset(&rq, 0, sizeof(rq));
        rq.method = "GET";
        rq.path = "/health";
        rq.origin = "https://b.example";
        EXPECT_OK(mt_kms_handle(f.kms, &rq, &rs));
        for (i = 0; i < rs.num_headers; i++)
            found |= strcmp(rs.header_name[i], "Access-Control-Allow-Origin") == 0 &&
                     strcmp(rs.header_value[i], "https://b.example") == 0;
        assert_true(found);
        mt_kms_response_free(&rs);
        rq.origin = "https://evil.example";
        EXPECT_OK(mt_kms_handle(f.kms, &rq, &rs));
        for (i = 0; i < rs.num_headers; i++)
            assert_string_not_equal(rs.header_name[i], "Access-Control-Allow-Origin");
        mt_kms_response_free(&rs);
        rq.method = "OPTIONS";
        rq.path = "/get-key";
        rq.origin = "https://a.example";
        rq.acr_method = "POST";
        EXPECT_OK(mt_kms_handle(f.kms, &rq, &rs));
        assert_int_equal(rs.status, 200);
        found = 0;
        for (i = 0; i < rs.num_headers; i++)
            found |= strcmp(rs.header_name[i], "Access-Control-Allow-Methods") == 0;
        assert_true(found);
        mt_kms_response_free(&rs);
    }
    kms_fixture_stop_kms(&f);
    kms_fixture_env(&f, "CORS_ALLOWED_ORIGINS", NULL);
    kms_fixture_start_kms(&f);
    assert_int_equal(kms_request(&f, "OPTIONS", "/get-key", NULL, NULL, 0, &resp), 405);
    mt_free(resp);
    kms_fixture_stop(&f);
}

/* Replay race: one challenge, 100 concurrent /get-key: exactly one key. */
static void
test_replay_race(void **state)
{
    struct kms_fixture f;
    struct node_identity id;
    char cid[33], *text;
    json_t *body;
    int ok = 0, refused = 0;

    (void)state;
    start(&f);
    node_identity_new(&id);
    body = kms_get_key_body(&f, &id, f.node.socket, cid);
    text = json_dumps(body, JSON_COMPACT);
    kms_race_get_key(&f, text, 100, &ok, &refused);
    assert_int_equal(ok, 1);
    assert_int_equal(refused, 99);
    mt_free_libc(text);
    json_decref(body);
    node_identity_free(&id);
    kms_fixture_stop(&f);
}

/* Every decision is audited, the chain verifies, and no secret is in it. */
static void
test_audit_log(void **state)
{
    struct kms_fixture f;
    struct node_identity id;
    char cid[33], path[256], why[256], *key_hex;
    size_t lines = 0, bad = 0, len;
    uint8_t *text;
    json_t *body, *r;

    (void)state;
    start(&f);
    node_identity_new(&id);
    body = kms_get_key_body(&f, &id, f.node.socket, cid);
    assert_int_equal(kms_post_body(&f, "/get-key", body, &r), 200);
    key_hex = mt_strdup(json_string_value(json_object_get(r, "key")));
    json_decref(r);
    kms_expect_error(kms_post_body(&f, "/get-key", body, &r), &r, 401, "invalid_challenge", NULL);
    json_decref(body);
    body = kms_get_key_body(&f, &id, f.debug_socket, cid);
    kms_expect_error(kms_post_body(&f, "/get-key", body, &r), &r, 403,
                     "measurement_policy_rejected", NULL);
    json_decref(body);
    kms_fixture_stop_kms(&f); /* closes the log */
    snprintf(path, sizeof(path), "%s/audit.jsonl", f.node.dir);
    EXPECT_OK(mt_audit_verify_file(path, &lines, &bad, why, sizeof(why)));
    assert_int_equal(lines, 3);
    text = mt_test_read_file(path, &len);
    assert_null(strstr((const char *)text, key_hex));
    assert_null(strstr((const char *)text, "nonce"));
    assert_null(strstr((const char *)text, "signature"));
    assert_non_null(strstr((const char *)text, "\"decision\":\"granted\""));
    assert_non_null(strstr((const char *)text, "measurement_policy_rejected"));
    mt_free(text);
    mt_free(key_hex);
    node_identity_free(&id);
    kms_fixture_stop(&f);
}

/*
 * A grant that cannot be recorded is not released: with the audit log unable
 * to grow (RLIMIT_FSIZE at its current size: writes fail with EFBIG), a
 * request that passes every check gets 503 service_unavailable, no key.
 */
static void
test_audit_failure_blocks_release(void **state)
{
    struct kms_fixture f;
    struct node_identity id;
    struct rlimit old, lim;
    struct stat st;
    char cid[33], path[256];
    json_t *body, *r;

    (void)state;
    start(&f);
    node_identity_new(&id);
    body = kms_get_key_body(&f, &id, f.node.socket, cid);
    snprintf(path, sizeof(path), "%s/audit.jsonl", f.node.dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, SIG_IGN);
    lim = old;
    lim.rlim_cur = (rlim_t)st.st_size;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    r = NULL;
    kms_expect_error(kms_post_body(&f, "/get-key", body, &r), &r, 503, "service_unavailable",
                     "audit log");
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, SIG_DFL);
    json_decref(body);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 0); /* nothing half-written was left behind */
    node_identity_free(&id);
    kms_fixture_stop(&f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_health_and_routes),
        cmocka_unit_test(test_challenge),
        cmocka_unit_test(test_capacity),
        cmocka_unit_test(test_key_release),
        cmocka_unit_test(test_debug_node_refused),
        cmocka_unit_test(test_get_key_order),
        cmocka_unit_test(test_wrong_peer_does_not_burn),
        cmocka_unit_test(test_signature_checks),
        cmocka_unit_test(test_mock_quotes),
        cmocka_unit_test(test_policy_enforcement),
        cmocka_unit_test(test_key_prefix),
        cmocka_unit_test(test_attest),
        cmocka_unit_test(test_cors),
        cmocka_unit_test(test_replay_race),
        cmocka_unit_test(test_audit_log),
        cmocka_unit_test(test_audit_failure_blocks_release),
    };

    if (mt_pccs_global_init() != MT_OK)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
