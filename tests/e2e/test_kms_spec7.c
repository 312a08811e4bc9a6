/*
 * mero-tee-reference.md §7, items 1-39: the behaviours that test_kms_api.c
 * and test_kms_resilience.c do not already pin, one test per item, over
 * real HTTP to mero-kms on loopback (in process, or the mero-kms program
 * where the item is about the process exiting).  Each test asserts the
 * exact status and error tag, and the details where the reference fixes
 * them.  Where the reference's behaviour is a defect we fix (§8), the test
 * asserts ours and names the defect.  docs/spec7-coverage.md maps every
 * item to its test.
 */
#include "mt_testlib.h"
#include "kms_fixture.h"
#include "redis_fixture.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "dstack/dstack_client.h"
#include "dstack_stub.h"
#include "identity/identity.h"
#include "identity/payload.h"
#include "pccs/pccs.h"
#include "quote/quote.h"
#include "release_server.h"
#include "util/mt_alloc.h"
#include "util/mt_b64.h"
#include "util/mt_buf.h"
#include "util/mt_hex.h"
#include "util/mt_secret.h"

#define POLICY_GENERIC "kms-phala-attestation-policy.json"
#define POLICY_LOCKED "kms-phala-attestation-policy.locked-read-only.json"

/* ---- helpers ---------------------------------------------------------------------------- */

static void
expect_ok(long status, json_t **rp)
{
    if (status != 200)
        fail_msg("want 200, got %ld %s (%s)", status,
                 kms_tag_of(*rp) == NULL ? "(no tag)" : kms_tag_of(*rp),
                 kms_details_of(*rp) == NULL ? "" : kms_details_of(*rp));
    json_decref(*rp);
    *rp = NULL;
}

static void
start(struct kms_fixture *f)
{
    kms_fixture_boot(f);
    kms_fixture_start_kms(f);
}

static long
challenge_for(const struct kms_fixture *f, const char *peer, json_t **out)
{
    char body[256];

    snprintf(body, sizeof(body), "{\"peerId\":\"%s\"}", peer);
    return kms_post_json(f, "/challenge", body, out);
}

/* A /challenge for id: its id and nonce. */
static void
new_challenge(const struct kms_fixture *f, const struct node_identity *id, char cid[33],
              uint8_t nonce[32])
{
    uint8_t *nb = NULL;
    size_t n;
    json_t *cr = NULL;

    assert_int_equal(challenge_for(f, id->peer, &cr), 200);
    snprintf(cid, 33, "%s", json_string_value(json_object_get(cr, "challengeId")));
    EXPECT_OK(
        mt_b64_decode_alloc(json_string_value(json_object_get(cr, "nonceB64")), 44, 64, &nb, &n));
    assert_int_equal(n, 32);
    memcpy(nonce, nb, 32);
    mt_free(nb);
    json_decref(cr);
}

/* A quote of the simulated node at socket for nonce || SHA-256(peer); *quote is mt_free'd. */
static void
node_quote(const char *socket, const char *peer, const uint8_t nonce[32], uint8_t **quote,
           size_t *len)
{
    struct mt_dstack_opts o;
    struct mt_dstack_client *c = NULL;
    struct mt_dstack_quote dq;
    uint8_t rd[64];
    unsigned int hl = 32;

    memcpy(rd, nonce, 32);
    assert_int_equal(EVP_Digest(peer, strlen(peer), rd + 32, &hl, EVP_sha256(), NULL), 1);
    mt_dstack_opts_init(&o);
    o.socket_path = socket;
    EXPECT_OK(mt_dstack_client_new(&o, &c));
    memset(&dq, 0, sizeof(dq));
    EXPECT_OK(mt_dstack_get_quote(c, rd, 64, &dq));
    *quote = mt_malloc(dq.quote_len);
    assert_non_null(*quote);
    memcpy(*quote, dq.quote, dq.quote_len);
    *len = dq.quote_len;
    mt_dstack_quote_free(&dq);
    mt_dstack_client_free(c);
}

/* A /get-key body whose signature covers `payload` (any bytes) instead of the canonical one. */
static json_t *
body_signing(const struct node_identity *id, const char *cid, const uint8_t *quote,
             size_t quote_len, const char *payload, size_t payload_len)
{
    uint8_t sig[64];
    char *quote_b64, *sig_b64;
    json_t *o;

    EXPECT_OK(mt_ed25519_sign(id->key, (const uint8_t *)payload, payload_len, sig));
    quote_b64 = mt_b64_encode_alloc(quote, quote_len);
    sig_b64 = mt_b64_encode_alloc(sig, 64);
    o = json_pack("{s:s,s:s,s:s,s:s,s:s}", "challengeId", cid, "quoteB64", quote_b64, "peerId",
                  id->peer, "peerPublicKeyB64", id->pubkey_b64, "signatureB64", sig_b64);
    mt_free(quote_b64);
    mt_free(sig_b64);
    assert_non_null(o);
    return o;
}

/* A full, valid /get-key for id's simulated node; returns the status. */
static long
get_key(const struct kms_fixture *f, const struct node_identity *id, const char *socket,
        json_t **out)
{
    char cid[33];
    json_t *body = kms_get_key_body(f, id, socket, cid);
    long status = kms_post_body(f, "/get-key", body, out);

    json_decref(body);
    return status;
}

static void
write_text(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");

    assert_non_null(fp);
    assert_true(fputs(text, fp) >= 0);
    assert_int_equal(fclose(fp), 0);
}

/* What a release policy document for the simulated node holds. */
enum {
    DOC_NO_TCB = 1u << 0,          /* no TCB list at all */
    DOC_EMPTY_NODE_MRTD = 1u << 1, /* node_allowed_mrtd: [] beside a good allowed_mrtd */
    DOC_LEGACY_MRTD = 1u << 2,     /* the good MRTD only under allowed_mrtd */
};

/* role / profile NULL: absent.  Returns text for mt_free_libc. */
static char *
policy_doc(const struct kms_fixture *f, const char *tag, const char *role, const char *profile,
           unsigned flags)
{
    uint8_t rtmr[4][48];
    char hex[97], key[32], *text;
    json_t *doc, *pol;
    int i;

    mt_sim_agent_rtmrs(f->node.agent, rtmr);
    pol = json_object();
    if (!(flags & DOC_NO_TCB))
        json_object_set_new(pol, "node_allowed_tcb_statuses", json_pack("[s]", "UpToDate"));
    mt_hex_encode(mt_sim_agent_params(f->node.agent)->quote.td.mr_td, 48, hex);
    if (flags & (DOC_EMPTY_NODE_MRTD | DOC_LEGACY_MRTD))
        json_object_set_new(pol, "allowed_mrtd", json_pack("[s]", hex));
    if (flags & DOC_EMPTY_NODE_MRTD)
        json_object_set_new(pol, "node_allowed_mrtd", json_array());
    else if (!(flags & DOC_LEGACY_MRTD))
        json_object_set_new(pol, "node_allowed_mrtd", json_pack("[s]", hex));
    for (i = 0; i < 4; i++) {
        mt_hex_encode(rtmr[i], 48, hex);
        snprintf(key, sizeof(key), "node_allowed_rtmr%d", i);
        json_object_set_new(pol, key, json_pack("[s]", hex));
    }
    doc = json_pack("{s:s}", "tag", tag);
    if (role != NULL)
        json_object_set_new(doc, "role", json_string(role));
    if (profile != NULL)
        json_object_set_new(doc, "profile", json_string(profile));
    json_object_set_new(doc, "policy", pol);
    text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    assert_non_null(text);
    json_decref(doc);
    return text;
}

/* Empty the release directory <state>/release (created if needed); its path into dir. */
static void
release_dir(const struct kms_fixture *f, char *dir, size_t len)
{
    char path[512];

    snprintf(dir, len, "%s/release", f->node.dir);
    (void)mkdir(dir, 0700);
    snprintf(path, sizeof(path), "%s/%s", dir, POLICY_GENERIC);
    (void)unlink(path);
    snprintf(path, sizeof(path), "%s/%s", dir, POLICY_LOCKED);
    (void)unlink(path);
}

static void
release_put(const char *dir, const char *asset, char *text)
{
    char path[512];

    snprintf(path, sizeof(path), "%s/%s", dir, asset);
    write_text(path, text);
    mt_free_libc(text);
}

/* The fixture's environment switched from USE_ENV_POLICY to release version 9.9.9. */
static void
use_release(struct kms_fixture *f)
{
    static const char *const vars[] = {"USE_ENV_POLICY", "ALLOWED_TCB_STATUSES", "ALLOWED_MRTD",
                                       "ALLOWED_RTMR0",  "ALLOWED_RTMR1",        "ALLOWED_RTMR2",
                                       "ALLOWED_RTMR3"};
    size_t i;

    for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
        kms_fixture_env(f, vars[i], NULL);
    kms_fixture_env(f, "MERO_KMS_VERSION", "mero-kms-v9.9.9");
}

/* The fixture's value for an environment variable, NULL when unset. */
static const char *
env_value(const struct kms_fixture *f, const char *name)
{
    size_t i;

    for (i = 0; i < f->num_env; i++) {
        if (strcmp(f->env_name[i], name) == 0)
            return f->env_value[i];
    }
    return NULL;
}

/*
 * Run the mero-kms program with the fixture's environment: it must exit
 * non-zero within 5 s, and its log must name `needle`.
 */
static void
expect_process_refuses(const struct kms_fixture *f, const char *needle)
{
    char *envp[KMS_FIXTURE_MAX_ENV + 1], entries[KMS_FIXTURE_MAX_ENV][1100], log[300];
    uint8_t *text;
    size_t i, n = 0, len;
    pid_t pid;
    int status = 0, tries;

    for (i = 0; i < f->num_env; i++) {
        if (f->env_name[i][0] == '\0')
            continue;
        snprintf(entries[n], sizeof(entries[n]), "%s=%s", f->env_name[i], f->env_value[i]);
        envp[n] = entries[n];
        n++;
    }
    envp[n] = NULL;
    snprintf(log, sizeof(log), "%s/refused.log", f->node.dir);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (freopen(log, "w", stderr) == NULL)
            _exit(126);
        execle(MT_KMS_PATH, MT_KMS_PATH, (char *)NULL, envp);
        _exit(127);
    }
    for (tries = 0; tries < 500; tries++) {
        if (waitpid(pid, &status, WNOHANG) == pid)
            break;
        usleep(10000);
    }
    if (tries == 500) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        fail_msg("mero-kms kept running; want a refusal naming %s", needle);
    }
    assert_true(WIFEXITED(status));
    assert_int_not_equal(WEXITSTATUS(status), 0);
    assert_int_not_equal(WEXITSTATUS(status), 127);
    text = mt_test_read_file(log, &len);
    if (strstr((const char *)text, needle) == NULL)
        fail_msg("the refusal does not name %s: %s", needle, (const char *)text);
    mt_free(text);
    (void)unlink(log);
}

/* ---- items ------------------------------------------------------------------------------ */

/* §7 item 2: the 64 KiB body limit at its boundary, and 404/405/415/422 on every POST route. */
static void
test_item_02_http_extraction_edges(void **state)
{
    static const char no_sig[] =
        "{\"challengeId\":\"a\",\"quoteB64\":\"\",\"peerId\":\"a\",\"peerPublicKeyB64\":\"\"}";
    struct kms_fixture f;
    struct node_identity id;
    char *big, *resp = NULL;
    size_t head;

    (void)state;
    start(&f);
    node_identity_new(&id);
    big = mt_malloc(65537 + 1);
    assert_non_null(big);
    /* exactly 65 536 bytes: accepted */
    head = (size_t)snprintf(big, 65538, "{\"peerId\":\"%s\"", id.peer);
    memset(big + head, ' ', 65536 - head - 1);
    big[65535] = '}';
    big[65536] = '\0';
    assert_int_equal(kms_request(&f, "POST", "/challenge", "application/json", big, 65536, &resp),
                     200);
    mt_free(resp);
    /* one more byte: 413, on every POST route */
    big[65535] = ' ';
    big[65536] = '}';
    assert_int_equal(kms_request(&f, "POST", "/challenge", "application/json", big, 65537, &resp),
                     413);
    mt_free(resp);
    assert_int_equal(kms_request(&f, "POST", "/get-key", "application/json", big, 65537, &resp),
                     413);
    mt_free(resp);
    assert_int_equal(kms_request(&f, "POST", "/attest", "application/json", big, 65537, &resp),
                     413);
    mt_free(resp);
    mt_free(big);
    /* a trailing slash is another path */
    assert_int_equal(kms_request(&f, "POST", "/challenge/", "application/json", "{}", 2, &resp),
                     404);
    assert_string_equal(resp, "");
    mt_free(resp);
    /* wrong methods: 405 with an empty body */
    assert_int_equal(kms_request(&f, "GET", "/get-key", NULL, NULL, 0, &resp), 405);
    assert_string_equal(resp, "");
    mt_free(resp);
    assert_int_equal(kms_request(&f, "GET", "/attest", NULL, NULL, 0, &resp), 405);
    assert_string_equal(resp, "");
    mt_free(resp);
    /* 415 / 400 / 422 on /get-key and /attest too */
    assert_int_equal(kms_request(&f, "POST", "/attest", "text/plain", "{}", 2, &resp), 415);
    mt_free(resp);
    assert_int_equal(kms_request(&f, "POST", "/get-key", "application/json", "[", 1, &resp), 400);
    mt_free(resp);
    assert_int_equal(
        kms_request(&f, "POST", "/get-key", "application/json", no_sig, strlen(no_sig), &resp),
        422);
    assert_non_null(strstr(resp, "signatureB64"));
    mt_free(resp);
    assert_int_equal(kms_request(&f, "POST", "/attest", "application/json", "{}", 2, &resp), 422);
    assert_non_null(strstr(resp, "nonceB64"));
    mt_free(resp);
    assert_int_equal(
        kms_request(&f, "POST", "/attest", "application/json", "{\"nonceB64\":7}", 14, &resp), 422);
    mt_free(resp);
    node_identity_free(&id);
    kms_fixture_stop(&f);
}

/* §7 item 3: the three peer-ID refusals, with the reference's exact details. */
static void
test_item_03_peer_id_details(void **state)
{
    struct kms_fixture f;
    char long_peer[140], ok_peer[129];
    json_t *r = NULL;

    (void)state;
    start(&f);
    kms_expect_error_exact(challenge_for(&f, "", &r), &r, 400, "invalid_peer_id",
                           "peer ID must not be empty");
    kms_expect_error_exact(challenge_for(&f, " \\t ", &r), &r, 400, "invalid_peer_id",
                           "peer ID must not be empty");
    memset(long_peer, 'a', 129);
    long_peer[129] = '\0';
    kms_expect_error_exact(challenge_for(&f, long_peer, &r), &r, 400, "invalid_peer_id",
                           "peer ID exceeds max length 128");
    kms_expect_error_exact(challenge_for(&f, "12D3KooW0OIl", &r), &r, 400, "invalid_peer_id",
                           "peer ID contains non-base58btc characters");
    /* 128 base58 characters is the longest shape accepted */
    memset(ok_peer, 'a', 128);
    ok_peer[128] = '\0';
    expect_ok(challenge_for(&f, ok_peer, &r), &r);
    kms_fixture_stop(&f);
}

/* §7 item 4: expiresAt = now + CHALLENGE_TTL_SECS; at expiresAt the challenge is gone. */
static void
test_item_04_ttl_and_expiry(void **state)
{
    struct kms_fixture f;
    struct node_identity id;
    char cid[33];
    json_t *r = NULL, *r2 = NULL, *body;

    (void)state;
    kms_fixture_boot(&f);
    kms_fixture_env(&f, "CHALLENGE_TTL_SECS", "5");
    kms_fixture_start_kms(&f);
    node_identity_new(&id);
    assert_int_equal(challenge_for(&f, id.peer, &r), 200);
    assert_int_equal(json_integer_value(json_object_get(r, "expiresAt")), f.now + 5);
    assert_int_equal(challenge_for(&f, id.peer, &r2), 200);
    assert_string_not_equal(json_string_value(json_object_get(r, "challengeId")),
                            json_string_value(json_object_get(r2, "challengeId")));
    assert_string_not_equal(json_string_value(json_object_get(r, "nonceB64")),
                            json_string_value(json_object_get(r2, "nonceB64")));
    json_decref(r);
    json_decref(r2);
    r = NULL;
    /* expires_at <= now is expired: 5 s later the request is refused */
    body = kms_get_key_body(&f, &id, f.node.socket, cid);
    f.now += 5;
    kms_expect_error(kms_post_body(&f, "/get-key", body, &r), &r, 401, "invalid_challenge",
                     "Challenge validation failed: ");
    json_decref(body);
    node_identity_free(&id);
    kms_fixture_stop(&f);
}

/* §7 item 7: with two faults, the earlier check in the reference's order answers. */
static void
test_item_07_check_order(void **state)
{
    struct kms_fixture f;
    struct node_identity id;
    char cid[33];
    json_t *body, *r = NULL;

    (void)state;
    kms_fixture_boot(&f);
    kms_fixture_env(&f, "USE_ENV_POLICY", NULL); /* not ready */
    kms_fixture_start_kms(&f);
    node_identity_new(&id);
    body = json_pack("{s:s,s:s,s:s,s:s,s:s}", "challengeId", "xyz", "quoteB64", "!!!", "peerId",
                     "0OIl", "peerPublicKeyB64", "!!!", "signatureB64", "!!!");
    assert_non_null(body);
    /* peer shape before challenge-id shape */
    kms_expect_error(kms_post_body(&f, "/get-key", body, &r), &r, 400, "invalid_peer_id", NULL);
    /* challenge-id shape (401) before readiness (503) */
    json_object_set_new(body, "peerId", json_string(id.peer));
    kms_expect_error_exact(kms_post_body(&f, "/get-key", body, &r), &r, 401, "invalid_challenge",
                           "challenge ID must be 32 hex characters");
    /* readiness before the quote's base64 */
    json_object_set_new(body, "challengeId", json_string("0123456789abcdef0123456789abcdef"));
    kms_expect_error(kms_post_body(&f, "/get-key", body, &r), &r, 503, "policy_not_ready",
                     "MERO_KMS_VERSION");
    json_decref(body);
    kms_fixture_stop_kms(&f);

    /* Ready: the quote's base64 before consuming, before the key and signature. */
    kms_fixture_env(&f, "USE_ENV_POLICY", "true");
    kms_fixture_start_kms(&f);
    body = kms_get_key_body(&f, &id, f.node.socket, cid);
    {
        char *keep = mt_strdup(json_string_value(json_object_get(body, "quoteB64")));
        char *keep_pk = mt_strdup(json_string_value(json_object_get(body, "peerPublicKeyB64")));

        json_object_set_new(body, "quoteB64", json_string("!!!"));
        json_object_set_new(body, "peerPublicKeyB64", json_string("!!!"));
        kms_expect_error(kms_post_body(&f, "/get-key", body, &r), &r, 400, "invalid_request", NULL);
        json_object_set_new(body, "quoteB64", json_string(keep));
        json_object_set_new(body, "peerPublicKeyB64", json_string(keep_pk));
        mt_free(keep);
        mt_free(keep_pk);
    }
    /* nothing was consumed */
    expect_ok(kms_post_body(&f, "/get-key", body, &r), &r);
    json_decref(body);
    node_identity_free(&id);
    kms_fixture_stop(&f);
}

/* §7 item 8: 31 / 33 characters or a non-hex digit: 401, and the challenge survives. */
static void
test_item_08_bad_challenge_id_not_consumed(void **state)
{
    static const char *const bad[] = {
        "0123456789abcdef0123456789abcde",   /* 31 */
        "0123456789abcdef0123456789abcdef0", /* 33 */
        "0123456789abcdef0123456789abcdeg",  /* non-hex */
        " 123456789abcdef0123456789abcdef",  /* a space */
        "",
    };
    struct kms_fixture f;
    struct node_identity id;
    char cid[33];
    json_t *body, *r = NULL;
    size_t i;

    (void)state;
    start(&f);
    node_identity_new(&id);
    body = kms_get_key_body(&f, &id, f.node.socket, cid);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_object_set_new(body, "challengeId", json_string(bad[i]));
        kms_expect_error_exact(kms_post_body(&f, "/get-key", body, &r), &r, 401,
                               "invalid_challenge", "challenge ID must be 32 hex characters");
    }
    json_object_set_new(body, "challengeId", json_string(cid));
    expect_ok(kms_post_body(&f, "/get-key", body, &r), &r);
    json_decref(body);
    node_identity_free(&id);
    kms_fixture_stop(&f);
}

/*
 * §7 item 9: policy not ready → 503 with the stored reason, and the
 * challenge is not consumed: with a pool of one it still fills the pool.
 */
static void
test_item_09_not_ready_keeps_challenge(void **state)
{
    struct kms_fixture f;
    struct node_identity a, b;
    char cid[33];
    json_t *body, *r = NULL;

    (void)state;
    kms_fixture_boot(&f);
    kms_fixture_env(&f, "USE_ENV_POLICY", NULL);
    kms_fixture_env(&f, "MAX_PENDING_CHALLENGES", "1");
    kms_fixture_start_kms(&f);
    node_identity_new(&a);
    node_identity_new(&b);
    body = kms_get_key_body(&f, &a, f.node.socket, cid);
    kms_expect_error_exact(kms_post_body(&f, "/get-key", body, &r), &r, 503, "policy_not_ready",
                           "MERO_KMS_VERSION is not set; release policy is not available yet");
    json_decref(body);
    kms_expect_error(challenge_for(&f, b.peer, &r), &r, 429, "rate_limited", NULL);
    kms_fixture_stop_kms(&f);

    /* The control: a ready KMS consumes, and the pool frees. */
    kms_fixture_env(&f, "USE_ENV_POLICY", "true");
    kms_fixture_start_kms(&f);
    assert_int_equal(get_key(&f, &a, f.node.socket, &r), 200);
    json_decref(r);
    r = NULL;
    expect_ok(challenge_for(&f, b.peer, &r), &r);
    node_identity_free(&a);
    node_identity_free(&b);
    kms_fixture_stop(&f);
}

/* §7 item 10 (reference test 20): a refusal after step 5 still burns the challenge. */
static void
test_item_10_consumed_before_signature(void **state)
{
    struct kms_fixture f;
    struct node_identity id;
    char cid[33], *good;
    json_t *body, *r = NULL;

    (void)state;
    start(&f);
    node_identity_new(&id);
    body = kms_get_key_body(&f, &id, f.node.socket, cid);
    good = mt_strdup(json_string_value(json_object_get(body, "peerPublicKeyB64")));
    json_object_set_new(body, "peerPublicKeyB64", json_string("garbage!"));
    kms_expect_error(kms_post_body(&f, "/get-key", body, &r), &r, 400, "invalid_peer_public_key",
                     NULL);
    kms_expect_error_exact(kms_post_body(&f, "/get-key", body, &r), &r, 401, "invalid_challenge",
                           "Challenge validation failed: challenge not found or expired");
    /* the same with the right key: still gone */
    json_object_set_new(body, "peerPublicKeyB64", json_string(good));
    kms_expect_error(kms_post_body(&f, "/get-key", body, &r), &r, 401, "invalid_challenge",
                     "challenge not found or expired");
    json_decref(body);
    mt_free(good);
    /* after a bad signature too */
    body = kms_get_key_body(&f, &id, f.node.socket, cid);
    {
        char *sig = mt_strdup(json_string_value(json_object_get(body, "signatureB64")));
        uint8_t zero[64];
        char *zero_b64;

        memset(zero, 0, sizeof(zero));
        zero_b64 = mt_b64_encode_alloc(zero, sizeof(zero));
        json_object_set_new(body, "signatureB64", json_string(zero_b64));
        mt_free(zero_b64);
        kms_expect_error_exact(kms_post_body(&f, "/get-key", body, &r), &r, 401,
                               "invalid_signature", "signature verification failed");
        json_object_set_new(body, "signatureB64", json_string(sig));
        mt_free(sig);
    }
    kms_expect_error(kms_post_body(&f, "/get-key", body, &r), &r, 401, "invalid_challenge",
                     "challenge not found or expired");
    json_decref(body);
    node_identity_free(&id);
    kms_fixture_stop(&f);
}

/* §7 item 13: protobuf keys that are not Ed25519, or not 32 bytes, are 400. */
static void
test_item_13_non_ed25519_keys(void **state)
{
    struct kms_fixture f;
    struct node_identity id;
    uint8_t pb[40];
    char cid[33], *b64;
    json_t *body, *r = NULL;

    (void)state;
    start(&f);
    node_identity_new(&id);
    /* secp256k1 (KeyType 2), a 33-byte compressed key */
    pb[0] = 0x08;
    pb[1] = 0x02;
    pb[2] = 0x12;
    pb[3] = 0x21;
    pb[4] = 0x02;
    memset(pb + 5, 0x11, 32);
    b64 = mt_b64_encode_alloc(pb, 37);
    body = kms_get_key_body(&f, &id, f.node.socket, cid);
    json_object_set_new(body, "peerPublicKeyB64", json_string(b64));
    kms_expect_error(kms_post_body(&f, "/get-key", body, &r), &r, 400, "invalid_peer_public_key",
                     NULL);
    json_decref(body);
    mt_free(b64);
    /* Ed25519 with a 31-byte key */
    pb[1] = 0x01;
    pb[3] = 0x1f;
    b64 = mt_b64_encode_alloc(pb, 35);
    body = kms_get_key_body(&f, &id, f.node.socket, cid);
    json_object_set_new(body, "peerPublicKeyB64", json_string(b64));
    kms_expect_error(kms_post_body(&f, "/get-key", body, &r), &r, 400, "invalid_peer_public_key",
                     NULL);
    json_decref(body);
    mt_free(b64);
    node_identity_free(&id);
    kms_fixture_stop(&f);
}

/*
 * Sign bytes that differ from every accepted payload (variant 0: insertion
 * order with a space after each colon; 1: quoteHashHex first) over a fresh
 * challenge and quote: /get-key answers 401 invalid_signature.
 */
static void
expect_payload_refused(struct kms_fixture *f, const struct node_identity *id, int variant)
{
    uint8_t nonce[32], qhash[32], *quote = NULL;
    unsigned int hl = 32;
    size_t qlen;
    char cid[33], nonce_hex[65], qhash_hex[65], text[512];
    json_t *body, *r = NULL;

    new_challenge(f, id, cid, nonce);
    node_quote(f->node.socket, id->peer, nonce, &quote, &qlen);
    assert_int_equal(EVP_Digest(quote, qlen, qhash, &hl, EVP_sha256(), NULL), 1);
    mt_hex_encode(nonce, 32, nonce_hex);
    mt_hex_encode(qhash, 32, qhash_hex);
    if (variant == 0)
        snprintf(text, sizeof(text),
                 "{\"challengeId\": \"%s\",\"challengeNonceHex\": \"%s\",\"quoteHashHex\": "
                 "\"%s\",\"peerId\": \"%s\"}",
                 cid, nonce_hex, qhash_hex, id->peer);
    else
        snprintf(text, sizeof(text),
                 "{\"quoteHashHex\":\"%s\",\"challengeId\":\"%s\",\"challengeNonceHex\":\"%s\","
                 "\"peerId\":\"%s\"}",
                 qhash_hex, cid, nonce_hex, id->peer);
    body = body_signing(id, cid, quote, qlen, text, strlen(text));
    kms_expect_error_exact(kms_post_body(f, "/get-key", body, &r), &r, 401, "invalid_signature",
                           "signature verification failed");
    json_decref(body);
    mt_free(quote);
}

/*
 * §7 item 15: signatures over the alphabetical-key payload are accepted (as
 * decided in §1.9); any other bytes (whitespace, another order) are not.
 */
static void
test_item_15_payload_variants(void **state)
{
    struct kms_fixture f;
    struct node_identity id;
    uint8_t nonce[32], qhash[32], *quote = NULL;
    unsigned int hl = 32;
    size_t qlen, plen;
    char cid[33], *payload = NULL;
    json_t *body, *r = NULL;

    (void)state;
    start(&f);
    node_identity_new(&id);
    /* alphabetical order: 200 */
    new_challenge(&f, &id, cid, nonce);
    node_quote(f.node.socket, id.peer, nonce, &quote, &qlen);
    assert_int_equal(EVP_Digest(quote, qlen, qhash, &hl, EVP_sha256(), NULL), 1);
    EXPECT_OK(mt_kms_payload(cid, nonce, qhash, id.peer, 1, &payload, &plen));
    assert_non_null(strstr(payload, "\"challengeNonceHex\":\""));
    assert_true(strstr(payload, "\"peerId\"") < strstr(payload, "\"quoteHashHex\""));
    body = body_signing(&id, cid, quote, qlen, payload, plen);
    expect_ok(kms_post_body(&f, "/get-key", body, &r), &r);
    json_decref(body);
    mt_free(payload);
    mt_free(quote);
    /* insertion order with a space after each colon: 401 */
    expect_payload_refused(&f, &id, 0);
    /* a third order (quoteHashHex first): 401 */
    expect_payload_refused(&f, &id, 1);
    node_identity_free(&id);
    kms_fixture_stop(&f);
}

/* §7 item 19: the TCB refusal's exact text, and a case-insensitive match. */
static void
test_item_19_tcb_details(void **state)
{
    struct kms_fixture f;
    struct node_identity id;
    json_t *r = NULL;

    (void)state;
    kms_fixture_boot(&f);
    kms_fixture_env(&f, "ALLOWED_TCB_STATUSES", "OutOfDate, SWHardeningNeeded");
    kms_fixture_start_kms(&f);
    node_identity_new(&id);
    kms_expect_error_exact(get_key(&f, &id, f.node.socket, &r), &r, 403, "tcb_status_rejected",
                           "TCB status 'UpToDate' is not allowed. Allowed values: outofdate, "
                           "swhardeningneeded");
    kms_fixture_stop_kms(&f);
    kms_fixture_env(&f, "ALLOWED_TCB_STATUSES", "UpToDate");
    kms_fixture_start_kms(&f);
    expect_ok(get_key(&f, &id, f.node.socket, &r), &r);
    node_identity_free(&id);
    kms_fixture_stop(&f);
}

/*
 * §7 item 20: MRTD → RTMR0 → … → RTMR3, the first failing list named with
 * the normalised value; ENFORCE_MEASUREMENT_POLICY=false skips TCB too.
 */
static void
test_item_20_measurement_order(void **state)
{
    struct kms_fixture f;
    struct node_identity id;
    uint8_t rtmr[4][48];
    char want[200], hex[97], wrong[99];
    json_t *r = NULL;

    (void)state;
    wrong[0] = '0';
    wrong[1] = 'x';
    memset(wrong + 2, '4', 96);
    wrong[98] = '\0';
    kms_fixture_boot(&f);
    mt_sim_agent_rtmrs(f.node.agent, rtmr);
    kms_fixture_env(&f, "ALLOWED_RTMR0", wrong);
    kms_fixture_env(&f, "ALLOWED_RTMR3", wrong);
    kms_fixture_start_kms(&f);
    node_identity_new(&id);
    mt_hex_encode(rtmr[0], 48, hex);
    snprintf(want, sizeof(want), "RTMR0 '%s' is not in allowlist", hex);
    kms_expect_error_exact(get_key(&f, &id, f.node.socket, &r), &r, 403,
                           "measurement_policy_rejected", want);
    kms_fixture_stop_kms(&f);
    mt_hex_encode(rtmr[0], 48, hex);
    kms_fixture_env(&f, "ALLOWED_RTMR0", hex);
    kms_fixture_start_kms(&f);
    mt_hex_encode(rtmr[3], 48, hex);
    snprintf(want, sizeof(want), "RTMR3 '%s' is not in allowlist", hex);
    kms_expect_error_exact(get_key(&f, &id, f.node.socket, &r), &r, 403,
                           "measurement_policy_rejected", want);
    kms_fixture_stop_kms(&f);
    /* not enforcing: neither the TCB status nor the measurements are checked */
    kms_fixture_env(&f, "ENFORCE_MEASUREMENT_POLICY", "false");
    kms_fixture_env(&f, "ALLOWED_TCB_STATUSES", "outofdate");
    kms_fixture_start_kms(&f);
    expect_ok(get_key(&f, &id, f.node.socket, &r), &r);
    node_identity_free(&id);
    kms_fixture_stop(&f);
}

/* §7 item 22: the dstack key provider returns GetKey's key for the path, verbatim. */
static void
test_item_22_dstack_key_verbatim(void **state)
{
    struct kms_fixture f;
    struct node_identity id;
    struct mt_dstack_opts o;
    struct mt_dstack_client *c = NULL;
    struct mt_secret key;
    char path[256], *hex;
    json_t *r = NULL;

    (void)state;
    kms_fixture_boot(&f);
    kms_fixture_env(&f, "KMS_KEY_PROVIDER", "dstack");
    kms_fixture_env(&f, "KMS_LOCAL_ROOT_KEY_FILE", NULL);
    kms_fixture_start_kms(&f);
    node_identity_new(&id);
    assert_int_equal(get_key(&f, &id, f.node.socket, &r), 200);
    snprintf(path, sizeof(path), "merod/storage/locked-read-only/%s", id.peer);
    mt_dstack_opts_init(&o);
    o.socket_path = f.kms_socket;
    EXPECT_OK(mt_dstack_client_new(&o, &c));
    memset(&key, 0, sizeof(key));
    EXPECT_OK(mt_dstack_get_key(c, path, "", "secp256k1", &key));
    hex = mt_malloc(2 * key.len + 1);
    assert_non_null(hex);
    mt_hex_encode(key.p, key.len, hex);
    assert_string_equal(json_string_value(json_object_get(r, "key")), hex);
    mt_free(hex);
    mt_secret_free(&key);
    mt_dstack_client_free(c);
    json_decref(r);
    node_identity_free(&id);
    kms_fixture_stop(&f);
}

/* §7 item 23: /attest nonce and binding refusals, with their details. */
static void
test_item_23_attest_refusals(void **state)
{
    static const char b31[] = "q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urqw==";
    static const char b33[] = "q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6ur";
    static const char b32[] = "q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=";
    struct kms_fixture f;
    char body[256];
    json_t *r = NULL;

    (void)state;
    start(&f);
    snprintf(body, sizeof(body), "{\"nonceB64\":\"%s\"}", b31);
    kms_expect_error_exact(kms_post_json(&f, "/attest", body, &r), &r, 400,
                           "invalid_attestation_request", "nonceB64 must be exactly 32 bytes");
    snprintf(body, sizeof(body), "{\"nonceB64\":\"%s\"}", b33);
    kms_expect_error_exact(kms_post_json(&f, "/attest", body, &r), &r, 400,
                           "invalid_attestation_request", "nonceB64 must be exactly 32 bytes");
    /* missing padding is not the canonical encoding */
    kms_expect_error(kms_post_json(&f, "/attest",
                                   "{\"nonceB64\":\"q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s\"}",
                                   &r),
                     &r, 400, "invalid_attestation_request", "nonceB64: ");
    snprintf(body, sizeof(body), "{\"nonceB64\":\"%s\",\"bindingB64\":\"%s\"}", b32, b33);
    kms_expect_error_exact(kms_post_json(&f, "/attest", body, &r), &r, 400,
                           "invalid_attestation_request", "bindingB64 must be exactly 32 bytes");
    snprintf(body, sizeof(body), "{\"nonceB64\":\"%s\",\"bindingB64\":\"#\"}", b32);
    kms_expect_error(kms_post_json(&f, "/attest", body, &r), &r, 400, "invalid_attestation_request",
                     "bindingB64: ");
    /* the nonce is checked first */
    snprintf(body, sizeof(body), "{\"nonceB64\":\"%s\",\"bindingB64\":\"%s\"}", b31, b31);
    kms_expect_error(kms_post_json(&f, "/attest", body, &r), &r, 400, "invalid_attestation_request",
                     "nonceB64");
    kms_fixture_stop(&f);
}

/* §7 item 24: an explicit binding: reportDataHex = hex(nonce || binding), also in the quote. */
static void
test_item_24_explicit_binding(void **state)
{
    struct kms_fixture f;
    uint8_t nonce[32], binding[32], *quote = NULL;
    size_t len;
    char *nb, *bb, body[256], want[129];
    struct mt_quote q;
    json_t *r = NULL;

    (void)state;
    start(&f);
    memset(nonce, 0x5a, sizeof(nonce));
    memset(binding, 0xc3, sizeof(binding));
    nb = mt_b64_encode_alloc(nonce, 32);
    bb = mt_b64_encode_alloc(binding, 32);
    snprintf(body, sizeof(body), "{\"nonceB64\":\"%s\",\"bindingB64\":\"%s\"}", nb, bb);
    assert_int_equal(kms_post_json(&f, "/attest", body, &r), 200);
    mt_hex_encode(nonce, 32, want);
    mt_hex_encode(binding, 32, want + 64);
    assert_string_equal(json_string_value(json_object_get(r, "reportDataHex")), want);
    EXPECT_OK(mt_b64_decode_alloc(json_string_value(json_object_get(r, "quoteB64")),
                                  json_string_length(json_object_get(r, "quoteB64")), 1u << 20,
                                  &quote, &len));
    EXPECT_OK(mt_quote_parse(quote, len, &q));
    assert_string_equal(mt_test_hex(q.td.report_data, 64), want);
    mt_free(quote);
    json_decref(r);
    mt_free(nb);
    mt_free(bb);
    kms_fixture_stop(&f);
}

/*
 * §7 item 25: dstack answering an error, a quote that is not hex, or an
 * event log that is not JSON.  The reference says 401
 * attestation_verification_failed; these are the server's failures, so we
 * answer 503 dstack_unavailable (§8 defect 4).  The agent is asked for
 * exactly hex(nonce || binding) (item 24).
 */
static void
test_item_25_attest_dstack_failures(void **state)
{
    struct kms_fixture f;
    struct mt_dstack_stub *stub = NULL;
    struct mt_dstack_stub_request last;
    uint8_t nonce[32];
    char *nb, body[256], want[160], *reply, *qhex;
    const char *lit;
    size_t i;
    json_t *r = NULL;

    (void)state;
    kms_fixture_boot(&f);
    EXPECT_OK(mt_dstack_stub_start(&stub));
    kms_fixture_env(&f, "DSTACK_SOCKET_PATH", mt_dstack_stub_socket(stub));
    kms_fixture_start_kms(&f); /* the profile event fails against the stub: not fatal */
    memset(nonce, 0x21, sizeof(nonce));
    nb = mt_b64_encode_alloc(nonce, 32);
    snprintf(body, sizeof(body), "{\"nonceB64\":\"%s\"}", nb);

    lit = "{\"error\":\"boom\"}";
    EXPECT_OK(mt_dstack_stub_set_reply(stub, "GetQuote", 500, lit, strlen(lit)));
    kms_expect_error(kms_post_json(&f, "/attest", body, &r), &r, 503, "dstack_unavailable",
                     "dstack GetQuote failed");
    memset(&last, 0, sizeof(last));
    EXPECT_OK(mt_dstack_stub_last_request(stub, &last));
    assert_string_equal(last.method, "GetQuote");
    mt_hex_encode(nonce, 32, want);
    memcpy(want + 64, "2323feace9fd1751a89ab2bebb8aba145f343a3688e3d1655ed428eb0766e396", 65);
    assert_non_null(strstr(last.body, want));
    mt_dstack_stub_request_free(&last);

    /* a quote that is not hex */
    lit = "{\"quote\":\"zz\",\"event_log\":\"[]\"}";
    EXPECT_OK(mt_dstack_stub_set_reply(stub, "GetQuote", 200, lit, strlen(lit)));
    kms_expect_error(kms_post_json(&f, "/attest", body, &r), &r, 503, "dstack_unavailable",
                     "dstack GetQuote failed");

    /* a long enough hex quote, but an event log that is not JSON */
    qhex = mt_malloc(2 * MT_DSTACK_MIN_QUOTE + 1);
    assert_non_null(qhex);
    for (i = 0; i < 2 * MT_DSTACK_MIN_QUOTE; i++)
        qhex[i] = 'a';
    qhex[2 * MT_DSTACK_MIN_QUOTE] = '\0';
    reply = mt_malloc(2 * MT_DSTACK_MIN_QUOTE + 128);
    assert_non_null(reply);
    snprintf(reply, 2 * MT_DSTACK_MIN_QUOTE + 128, "{\"quote\":\"%s\",\"event_log\":\"not json\"}",
             qhex);
    EXPECT_OK(mt_dstack_stub_set_reply(stub, "GetQuote", 200, reply, strlen(reply)));
    kms_expect_error(kms_post_json(&f, "/attest", body, &r), &r, 503, "dstack_unavailable",
                     "dstack GetQuote failed");
    mt_free(reply);
    mt_free(qhex);
    mt_free(nb);
    kms_fixture_stop_kms(&f);
    mt_dstack_stub_stop(stub);
    kms_fixture_stop(&f);
}

/*
 * §7 item 26: each invalid value makes the mero-kms process exit non-zero
 * naming the variable.  Also ours where the reference silently falls back
 * (§8 defect 5: LISTEN_ADDR, CHALLENGE_TTL_SECS, MAX_PENDING_CHALLENGES)
 * or accepts a useless value (§8 defect 6: CHALLENGE_TTL_SECS=0).
 */
static void
test_item_26_startup_fatal(void **state)
{
    static const char *const cases[][2] = {
        {"MAX_PENDING_CHALLENGES", "0"},
        {"ACCEPT_MOCK_ATTESTATION", "maybe"},
        {"ENFORCE_MEASUREMENT_POLICY", "maybe"},
        {"USE_ENV_POLICY", "maybe"},
        {"MERO_KMS_POLICY_SHA256", "abc"},
        {"MERO_KMS_POLICY_SHA256",
         "zz23feace9fd1751a89ab2bebb8aba145f343a3688e3d1655ed428eb0766e396"},
        {"ALLOWED_MRTD", "abcd"},
        {"CORS_ALLOWED_ORIGINS", "https://a.example,https://b\x01.example"},
        {"REDIS_URL", "not a url"},
        {"LISTEN_ADDR", "nonsense"},       /* defect 5 */
        {"CHALLENGE_TTL_SECS", "sixty"},   /* defect 5 */
        {"MAX_PENDING_CHALLENGES", "ten"}, /* defect 5 */
        {"CHALLENGE_TTL_SECS", "0"},       /* defect 6 */
    };
    struct kms_fixture f;
    char keep[1024];
    const char *was;
    size_t i;

    (void)state;
    kms_fixture_boot(&f);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        was = env_value(&f, cases[i][0]);
        if (was != NULL)
            snprintf(keep, sizeof(keep), "%s", was);
        kms_fixture_env(&f, cases[i][0], cases[i][1]);
        expect_process_refuses(&f, cases[i][0]);
        kms_fixture_env(&f, cases[i][0], was == NULL ? NULL : keep);
    }
    /* An empty MERO_KMS_VERSION, in release mode. */
    kms_fixture_env(&f, "USE_ENV_POLICY", NULL);
    kms_fixture_env(&f, "MERO_KMS_VERSION", "   ");
    expect_process_refuses(&f, "MERO_KMS_VERSION");
    kms_fixture_stop(&f);
}

/* §7 item 27: the profile pin file and the two profile variables. */
static void
test_item_27_profile_startup_fatal(void **state)
{
    struct kms_fixture f;
    char pin[256];

    (void)state;
    kms_fixture_boot(&f);
    snprintf(pin, sizeof(pin), "%s/image-profile", f.node.dir);
    kms_fixture_env(&f, "KMS_PROFILE_PIN_FILE", pin);
    /* pinned debug, MERO_KMS_PROFILE=locked-read-only */
    write_text(pin, "debug\n");
    expect_process_refuses(&f, "does not match profile-pinned image value");
    /* an empty pin file */
    write_text(pin, "  \n");
    expect_process_refuses(&f, "is empty; refusing startup");
    /* both variables, different */
    (void)unlink(pin);
    kms_fixture_env(&f, "MERO_KMS_PROFILE", "debug");
    kms_fixture_env(&f, "KMS_POLICY_PROFILE", "locked-read-only");
    expect_process_refuses(&f, "KMS_POLICY_PROFILE");
    /* the control: a pin with a matching override (any case) starts as the pin */
    kms_fixture_env(&f, "KMS_POLICY_PROFILE", NULL);
    kms_fixture_env(&f, "MERO_KMS_PROFILE", " LOCKED-Read-Only ");
    write_text(pin, "locked-read-only\n");
    kms_fixture_start_kms(&f);
    assert_string_equal(f.kms->cfg->profile, "locked-read-only");
    kms_fixture_stop(&f);
}

/*
 * §7 item 29 (from a release directory): without the profile asset the
 * generic one is used, as legacy (no role or profile, locked-read-only);
 * a profile asset for another profile leaves the service degraded.
 */
static void
test_item_29_release_generic_fallback(void **state)
{
    struct kms_fixture f;
    struct node_identity id;
    char dir[256], *resp = NULL;
    json_t *r = NULL;

    (void)state;
    kms_fixture_boot(&f);
    release_dir(&f, dir, sizeof(dir));
    release_put(dir, POLICY_GENERIC, policy_doc(&f, "9.9.9", NULL, NULL, 0));
    use_release(&f);
    kms_fixture_env(&f, "MERO_KMS_RELEASE_DIR", dir);
    kms_fixture_start_kms(&f);
    node_identity_new(&id);
    expect_ok(get_key(&f, &id, f.node.socket, &r), &r);
    kms_fixture_stop_kms(&f);
    /* the profile asset names another profile: degraded, no fallback to the generic one */
    release_put(dir, POLICY_LOCKED, policy_doc(&f, "9.9.9", "kms", "debug", 0));
    kms_fixture_start_kms(&f);
    assert_int_equal(kms_request(&f, "GET", "/health", NULL, NULL, 0, &resp), 200);
    mt_free(resp);
    kms_expect_error(
        get_key(&f, &id, f.node.socket, &r), &r, 503, "policy_not_ready",
        "Failed to load release policy for version '9.9.9' profile 'locked-read-only'");
    node_identity_free(&id);
    kms_fixture_stop(&f);
}

/*
 * §7 items 29-30 over HTTP: a 404 on the profile asset falls back to the
 * generic one; a 500 stops (the generic asset is never asked for); a policy
 * whose tag is not the version leaves the service degraded.
 */
static void
test_item_30_release_fetch_stops(void **state)
{
    struct kms_fixture f;
    struct mt_release_server *srv = NULL;
    struct node_identity id;
    char *text;
    json_t *r = NULL;

    (void)state;
    kms_fixture_boot(&f);
    EXPECT_OK(mt_release_server_start(&srv));
    use_release(&f);
    kms_fixture_env(&f, "MERO_KMS_RELEASE_BASE_URL", mt_release_server_url(srv));
    node_identity_new(&id);
    /* profile asset 404, generic asset good: ready */
    EXPECT_OK(mt_release_server_set_status(srv, "/mero-kms-v9.9.9/" POLICY_LOCKED, 404));
    text = policy_doc(&f, "9.9.9", NULL, NULL, 0);
    EXPECT_OK(mt_release_server_put_asset(srv, "9.9.9", POLICY_GENERIC, text, strlen(text)));
    mt_free_libc(text);
    kms_fixture_start_kms(&f);
    assert_int_equal(mt_release_server_count(srv, "/mero-kms-v9.9.9/" POLICY_LOCKED), 1);
    assert_int_equal(mt_release_server_count(srv, "/mero-kms-v9.9.9/" POLICY_GENERIC), 1);
    expect_ok(get_key(&f, &id, f.node.socket, &r), &r);
    kms_fixture_stop_kms(&f);
    /* profile asset 500: stop there */
    mt_release_server_clear(srv);
    text = policy_doc(&f, "9.9.9", NULL, NULL, 0);
    EXPECT_OK(mt_release_server_put_asset(srv, "9.9.9", POLICY_GENERIC, text, strlen(text)));
    mt_free_libc(text);
    EXPECT_OK(mt_release_server_set_status(srv, "/mero-kms-v9.9.9/" POLICY_LOCKED, 500));
    kms_fixture_start_kms(&f);
    assert_int_equal(mt_release_server_count(srv, "/mero-kms-v9.9.9/" POLICY_GENERIC), 0);
    kms_expect_error(get_key(&f, &id, f.node.socket, &r), &r, 503, "policy_not_ready",
                     "Failed to load release policy for version '9.9.9'");
    kms_fixture_stop_kms(&f);
    /* the profile asset's tag is another version: degraded */
    mt_release_server_clear(srv);
    text = policy_doc(&f, "9.9.8", "kms", "locked-read-only", 0);
    EXPECT_OK(mt_release_server_put_asset(srv, "9.9.9", POLICY_LOCKED, text, strlen(text)));
    mt_free_libc(text);
    kms_fixture_start_kms(&f);
    kms_expect_error(get_key(&f, &id, f.node.socket, &r), &r, 503, "policy_not_ready",
                     "Failed to load release policy for version '9.9.9'");
    node_identity_free(&id);
    kms_fixture_stop_kms(&f);
    mt_release_server_stop(srv);
    kms_fixture_stop(&f);
}

/*
 * §7 items 31-32: no TCB list → ["uptodate"]; allowed_mrtd is used when
 * node_allowed_mrtd is absent, but a present node_allowed_mrtd: [] wins and
 * makes the policy incomplete, which is fatal while enforcing; a policy that
 * does not parse only degrades (the reference's asymmetry, §8 defect 12,
 * kept for wire compatibility).
 */
static void
test_item_31_32_policy_lists(void **state)
{
    struct kms_fixture f;
    struct node_identity id;
    char dir[256], why[512], path[512];
    json_t *r = NULL;

    (void)state;
    kms_fixture_boot(&f);
    release_dir(&f, dir, sizeof(dir));
    use_release(&f);
    kms_fixture_env(&f, "MERO_KMS_RELEASE_DIR", dir);
    node_identity_new(&id);
    /* no TCB list, MRTD only under allowed_mrtd: the UpToDate node gets its key */
    release_put(dir, POLICY_LOCKED,
                policy_doc(&f, "9.9.9", "kms", "locked-read-only", DOC_NO_TCB | DOC_LEGACY_MRTD));
    kms_fixture_start_kms(&f);
    assert_int_equal(f.kms->cfg->policy->num_tcb_statuses, 1);
    assert_string_equal(f.kms->cfg->policy->tcb_statuses[0], "uptodate");
    expect_ok(get_key(&f, &id, f.node.socket, &r), &r);
    kms_fixture_stop_kms(&f);
    /* node_allowed_mrtd: [] present: no fallback, so MRTD is empty: fatal */
    release_put(dir, POLICY_LOCKED,
                policy_doc(&f, "9.9.9", "kms", "locked-read-only", DOC_EMPTY_NODE_MRTD));
    EXPECT_ERR(kms_fixture_try_kms(&f, why, sizeof(why)), MT_ERR_CONFIG);
    assert_non_null(strstr(why, "allowed_mrtd"));
    /* a policy that does not parse: running, degraded */
    snprintf(path, sizeof(path), "%s/%s", dir, POLICY_LOCKED);
    write_text(path, "{not json");
    kms_fixture_start_kms(&f);
    kms_expect_error(get_key(&f, &id, f.node.socket, &r), &r, 503, "policy_not_ready",
                     "Failed to load release policy");
    node_identity_free(&id);
    kms_fixture_stop(&f);
}

/* §7 item 33: USE_ENV_POLICY ignores MERO_KMS_VERSION; no ALLOWED_TCB_STATUSES → uptodate. */
static void
test_item_33_env_policy(void **state)
{
    struct kms_fixture f;
    struct node_identity id;
    json_t *r = NULL;

    (void)state;
    kms_fixture_boot(&f);
    kms_fixture_env(&f, "MERO_KMS_VERSION", "9.9.9");
    kms_fixture_env(&f, "MERO_KMS_RELEASE_BASE_URL", "http://127.0.0.1:9"); /* never asked */
    kms_fixture_env(&f, "ALLOWED_TCB_STATUSES", NULL);
    kms_fixture_start_kms(&f);
    assert_int_equal(f.kms->cfg->policy_ready, 1);
    node_identity_new(&id);
    expect_ok(get_key(&f, &id, f.node.socket, &r), &r);
    /* the debug node is still refused: the env allowlists are in force */
    kms_expect_error(get_key(&f, &id, f.debug_socket, &r), &r, 403, "measurement_policy_rejected",
                     "RTMR2");
    node_identity_free(&id);
    kms_fixture_stop(&f);
}

/* /health's profileEvent over HTTP. */
static void
expect_profile_event(const struct kms_fixture *f, const char *prefix)
{
    char *resp = NULL;
    json_t *h;
    const char *ev;

    assert_int_equal(kms_request(f, "GET", "/health", NULL, NULL, 0, &resp), 200);
    h = json_loads(resp, 0, NULL);
    assert_non_null(h);
    ev = json_string_value(json_object_get(h, "profileEvent"));
    assert_non_null(ev);
    if (strncmp(ev, prefix, strlen(prefix)) != 0)
        fail_msg("profileEvent \"%s\", want \"%s...\"", ev, prefix);
    json_decref(h);
    mt_free(resp);
}

/*
 * §7 item 34: the profile event.  Skipped in mock mode; measured once, as
 * RTMR3 := SHA384(RTMR3 || digest) with §1.5's digest; not again on a
 * restart; a dstack failure does not stop startup; and another profile
 * already measured refuses startup (the reference only warns: §8 defect 2).
 */
static void
test_item_34_profile_event(void **state)
{
    static const char digest_lro[] =
        "c1bab0788a0e0554c109c96519f55bbd88dd9b185db37f355559f1ef7d26f1"
        "a31222131415180727a1f3f45d57f3b0a1";
    struct kms_fixture f;
    uint8_t before[4][48], after[4][48], buf[96], want[48];
    unsigned int hl = 48;
    char why[512], missing[256];

    (void)state;
    kms_fixture_boot(&f);
    mt_sim_agent_rtmrs(f.kms_agent, before);
    /* mock mode: skipped, RTMR3 untouched */
    kms_fixture_env(&f, "ACCEPT_MOCK_ATTESTATION", "true");
    kms_fixture_start_kms(&f);
    expect_profile_event(&f, "skipped");
    mt_sim_agent_rtmrs(f.kms_agent, after);
    assert_memory_equal(before[3], after[3], 48);
    kms_fixture_stop_kms(&f);
    /* measured: the §1.5 vector */
    kms_fixture_env(&f, "ACCEPT_MOCK_ATTESTATION", NULL);
    kms_fixture_start_kms(&f);
    expect_profile_event(&f, "measured");
    mt_sim_agent_rtmrs(f.kms_agent, after);
    memcpy(buf, before[3], 48);
    EXPECT_OK(mt_hex_decode_exact(digest_lro, 96, buf + 48, 48));
    assert_int_equal(EVP_Digest(buf, 96, want, &hl, EVP_sha384(), NULL), 1);
    assert_memory_equal(after[3], want, 48);
    kms_fixture_stop_kms(&f);
    /* a restart finds it in the event log */
    kms_fixture_start_kms(&f);
    expect_profile_event(&f, "already measured");
    mt_sim_agent_rtmrs(f.kms_agent, after);
    assert_memory_equal(after[3], want, 48);
    kms_fixture_stop_kms(&f);
    /* another profile on the same TD: refused (defect 2) */
    kms_fixture_env(&f, "MERO_KMS_PROFILE", "debug");
    EXPECT_ERR(kms_fixture_try_kms(&f, why, sizeof(why)), MT_ERR_CONFIG);
    assert_non_null(strstr(why, "refusing to start as debug"));
    /* no dstack at all: starts, and says so */
    kms_fixture_env(&f, "MERO_KMS_PROFILE", "locked-read-only");
    snprintf(missing, sizeof(missing), "%s/no-such.sock", f.node.dir);
    kms_fixture_env(&f, "DSTACK_SOCKET_PATH", missing);
    kms_fixture_start_kms(&f);
    expect_profile_event(&f, "failed");
    kms_fixture_stop(&f);
}

/*
 * §7 item 35 with the KMS on Redis: the record's JSON and its index entry
 * as §1.13; a wrong peer's attempt leaves the challenge (item 12, §8
 * defect 7); concurrent /get-key with one challenge: exactly one key, and
 * the record and index entry are gone.
 */
static void
test_item_35_redis_layout_and_race(void **state)
{
    enum { RACERS = 32 };
    struct redis_fixture redis;
    struct kms_fixture f;
    struct node_identity id, thief;
    char url[256], cid[33], *text;
    uint8_t *nonce = NULL;
    size_t n, i;
    int ok = 0, refused = 0;
    redisContext *c;
    redisReply *rep;
    json_t *r = NULL, *rec, *arr, *body, *stolen;

    (void)state;
    redis_fixture_start(&redis, NULL);
    kms_fixture_boot(&f);
    redis_fixture_url(&redis, 0, url, sizeof(url));
    kms_fixture_env(&f, "REDIS_URL", url);
    kms_fixture_start_kms(&f);
    node_identity_new(&id);
    c = redis_fixture_connect(&redis, 0);
    /* the record */
    assert_int_equal(challenge_for(&f, id.peer, &r), 200);
    rep = redisCommand(c, "GET mero-kms-phala:challenge:%s",
                       json_string_value(json_object_get(r, "challengeId")));
    assert_non_null(rep);
    assert_int_equal(rep->type, REDIS_REPLY_STRING);
    rec = json_loads(rep->str, 0, NULL);
    freeReplyObject(rep);
    assert_non_null(rec);
    assert_int_equal(json_object_size(rec), 3);
    EXPECT_OK(
        mt_b64_decode_alloc(json_string_value(json_object_get(r, "nonceB64")), 44, 64, &nonce, &n));
    arr = json_object_get(rec, "nonce");
    assert_int_equal(json_array_size(arr), 32);
    for (i = 0; i < 32; i++)
        assert_int_equal(json_integer_value(json_array_get(arr, i)), nonce[i]);
    mt_free(nonce);
    assert_string_equal(json_string_value(json_object_get(rec, "peer_id")), id.peer);
    assert_int_equal(json_integer_value(json_object_get(rec, "expires_at")), f.now + 60);
    json_decref(rec);
    /* its index entry, scored by expires_at */
    rep = redisCommand(c, "ZSCORE mero-kms-phala:challenge:index mero-kms-phala:challenge:%s",
                       json_string_value(json_object_get(r, "challengeId")));
    assert_non_null(rep);
    assert_int_equal(rep->type, REDIS_REPLY_STRING);
    assert_int_equal(strtoll(rep->str, NULL, 10), f.now + 60);
    freeReplyObject(rep);
    json_decref(r);
    r = NULL;
    /* item 12 on Redis: another peer's attempt does not burn it (§8 defect 7) */
    body = kms_get_key_body(&f, &id, f.node.socket, cid);
    node_identity_new(&thief);
    stolen = json_deep_copy(body);
    json_object_set_new(stolen, "peerId", json_string(thief.peer));
    json_object_set_new(stolen, "peerPublicKeyB64", json_string(thief.pubkey_b64));
    kms_expect_error_exact(kms_post_body(&f, "/get-key", stolen, &r), &r, 401, "invalid_challenge",
                           "Challenge validation failed: challenge peer mismatch");
    json_decref(stolen);
    node_identity_free(&thief);
    /* the race */
    text = json_dumps(body, JSON_COMPACT);
    kms_race_get_key(&f, text, RACERS, &ok, &refused);
    assert_int_equal(ok, 1);
    assert_int_equal(refused, RACERS - 1);
    rep = redisCommand(c, "EXISTS mero-kms-phala:challenge:%s", cid);
    assert_int_equal(rep->integer, 0);
    freeReplyObject(rep);
    rep = redisCommand(c, "ZSCORE mero-kms-phala:challenge:index mero-kms-phala:challenge:%s", cid);
    assert_int_equal(rep->type, REDIS_REPLY_NIL);
    freeReplyObject(rep);
    mt_free_libc(text);
    json_decref(body);
    redisFree(c);
    node_identity_free(&id);
    kms_fixture_stop(&f);
    redis_fixture_destroy(&redis);
}

/* Response headers of one request, lower-cased. */
static size_t
on_header(char *p, size_t size, size_t n, void *arg)
{
    size_t i;

    for (i = 0; i < size * n; i++)
        p[i] = (char)(p[i] >= 'A' && p[i] <= 'Z' ? p[i] - 'A' + 'a' : p[i]);
    return mt_buf_append(arg, p, size * n) == MT_OK ? size * n : 0;
}

static size_t
discard(char *p, size_t size, size_t n, void *arg)
{
    (void)p;
    (void)arg;
    return size * n;
}

/* One request with an Origin (and for preflight an Access-Control-Request-Method). */
static long
cors_request(const struct kms_fixture *f, const char *method, const char *path, const char *origin,
             const char *acr_method, const char *body, char **headers)
{
    struct curl_slist *h = NULL;
    struct mt_buf buf;
    char url[256], line[256];
    long status = -1;
    CURL *c;

    mt_buf_init(&buf, 64u * 1024u);
    c = curl_easy_init();
    assert_non_null(c);
    snprintf(url, sizeof(url), "%s%s", f->url, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &buf);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    snprintf(line, sizeof(line), "Origin: %s", origin);
    h = curl_slist_append(h, line);
    if (acr_method != NULL) {
        snprintf(line, sizeof(line), "Access-Control-Request-Method: %s", acr_method);
        h = curl_slist_append(h, line);
    }
    if (body != NULL) {
        h = curl_slist_append(h, "Content-Type: application/json");
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    assert_true(mt_buf_append(&buf, "", 1) == MT_OK);
    *headers = (char *)mt_buf_take(&buf, NULL);
    return status;
}

/* §7 item 36 over HTTP: the configured origin gets CORS headers, others and "unset" none. */
static void
test_item_36_cors_over_http(void **state)
{
    struct kms_fixture f;
    struct node_identity id;
    char *hd = NULL, body[256];

    (void)state;
    kms_fixture_boot(&f);
    kms_fixture_env(&f, "CORS_ALLOWED_ORIGINS", " https://a.example , ,https://b.example");
    kms_fixture_start_kms(&f);
    node_identity_new(&id);
    snprintf(body, sizeof(body), "{\"peerId\":\"%s\"}", id.peer);
    assert_int_equal(cors_request(&f, "GET", "/health", "https://b.example", NULL, NULL, &hd), 200);
    assert_non_null(strstr(hd, "access-control-allow-origin: https://b.example\r\n"));
    assert_null(strstr(hd, "access-control-allow-credentials"));
    mt_free(hd);
    assert_int_equal(cors_request(&f, "POST", "/challenge", "https://a.example", NULL, body, &hd),
                     200);
    assert_non_null(strstr(hd, "access-control-allow-origin: https://a.example\r\n"));
    mt_free(hd);
    /* preflight, answered by the layer */
    assert_int_equal(
        cors_request(&f, "OPTIONS", "/get-key", "https://a.example", "POST", NULL, &hd), 200);
    assert_non_null(strstr(hd, "access-control-allow-origin: https://a.example\r\n"));
    assert_non_null(strstr(hd, "access-control-allow-methods: "));
    assert_non_null(strstr(hd, "access-control-allow-headers: *\r\n"));
    mt_free(hd);
    /* another origin: no allow-origin */
    assert_int_equal(cors_request(&f, "GET", "/health", "https://evil.example", NULL, NULL, &hd),
                     200);
    assert_null(strstr(hd, "access-control-allow-origin"));
    mt_free(hd);
    assert_int_equal(
        cors_request(&f, "OPTIONS", "/get-key", "https://evil.example", "POST", NULL, &hd), 200);
    assert_null(strstr(hd, "access-control-allow-origin"));
    assert_null(strstr(hd, "access-control-allow-methods"));
    mt_free(hd);
    kms_fixture_stop_kms(&f);
    /* unset: no CORS headers at all */
    kms_fixture_env(&f, "CORS_ALLOWED_ORIGINS", NULL);
    kms_fixture_start_kms(&f);
    assert_int_equal(cors_request(&f, "POST", "/challenge", "https://a.example", NULL, body, &hd),
                     200);
    assert_null(strstr(hd, "access-control-"));
    mt_free(hd);
    node_identity_free(&id);
    kms_fixture_stop(&f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_item_02_http_extraction_edges),
        cmocka_unit_test(test_item_03_peer_id_details),
        cmocka_unit_test(test_item_04_ttl_and_expiry),
        cmocka_unit_test(test_item_07_check_order),
        cmocka_unit_test(test_item_08_bad_challenge_id_not_consumed),
        cmocka_unit_test(test_item_09_not_ready_keeps_challenge),
        cmocka_unit_test(test_item_10_consumed_before_signature),
        cmocka_unit_test(test_item_13_non_ed25519_keys),
        cmocka_unit_test(test_item_15_payload_variants),
        cmocka_unit_test(test_item_19_tcb_details),
        cmocka_unit_test(test_item_20_measurement_order),
        cmocka_unit_test(test_item_22_dstack_key_verbatim),
        cmocka_unit_test(test_item_23_attest_refusals),
        cmocka_unit_test(test_item_24_explicit_binding),
        cmocka_unit_test(test_item_25_attest_dstack_failures),
        cmocka_unit_test(test_item_26_startup_fatal),
        cmocka_unit_test(test_item_27_profile_startup_fatal),
        cmocka_unit_test(test_item_29_release_generic_fallback),
        cmocka_unit_test(test_item_30_release_fetch_stops),
        cmocka_unit_test(test_item_31_32_policy_lists),
        cmocka_unit_test(test_item_33_env_policy),
        cmocka_unit_test(test_item_34_profile_event),
        cmocka_unit_test(test_item_35_redis_layout_and_race),
        cmocka_unit_test(test_item_36_cors_over_http),
    };

    if (mt_pccs_global_init() != MT_OK)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
