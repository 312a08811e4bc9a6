/*
 * Phase 2 of the sigstore verifier (sigstore.md 2.4-2.5, 2.7, 3.3, 4.4-4.6):
 * RFC 3161 timestamps (module and strict bundle semantics), Rekor v2
 * entries (rebuilt body, index rules, Ed25519 C2SP checkpoints and key
 * IDs) and DSSE envelopes (PAE, envelope signature, in-toto subject), each
 * one-field mutation failing at its own check.  Vectors are read in place
 * from shared/vectors/sigstore.
 */
#include "mt_testlib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "sigstore/sig_internal.h"
#include "util/mt_alloc.h"
#include "util/mt_b64.h"

#define VDIR "vectors/sigstore/"
#define R2 VDIR "conformance/rekor2-happy-path/"
#define R2_BUNDLE R2 "bundle.sigstore.json"
#define R2_ROOT R2 "trusted_root.json"
#define R2_GENTIME 1749729740 /* 2025-06-12T12:02:20Z */
#define PAYLOAD_MISMATCH                                                                           \
    VDIR "conformance/rekor2-timestamp-payload-mismatch_fail/bundle.sigstore.json"
#define DSSE_V1 VDIR "conformance/happy-path-intoto-in-dsse-v3/bundle.sigstore.json"
#define PROD VDIR "trusted_root.json"
#define BEACON                                                                                     \
    "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/"      \
    "workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main"
#define GHA "https://token.actions.githubusercontent.com"
#define TLOG0 "verificationMaterial/tlogEntries/0"
#define TS0 "verificationMaterial/timestampVerificationData/rfc3161Timestamps/0"
#define INTOTO "application/vnd.in-toto+json"

static uint8_t *artifact;
static size_t artifact_len;

static int
setup(void **state)
{
    (void)state;
    mt_test_require_shared();
    artifact = mt_test_read_shared(VDIR "a.txt", &artifact_len);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    mt_free(artifact);
    return 0;
}

static struct mt_sigstore_trust *
trust_from_json(json_t *j)
{
    struct mt_sigstore_trust *t = NULL;
    char *text = json_dumps(j, JSON_COMPACT);

    assert_non_null(text);
    EXPECT_OK(mt_sigstore_trust_parse((const uint8_t *)text, strlen(text), &t));
    free(text); /* lint-allow: free (jansson's malloc) */
    return t;
}

static struct mt_sigstore_trust *
trust_load(const char *rel)
{
    json_t *j = mt_test_load_shared_json(rel);
    struct mt_sigstore_trust *t = trust_from_json(j);

    json_decref(j);
    return t;
}

static mt_err
verify_keyless(const struct mt_sigstore_trust *t, json_t *bundle, const uint8_t *sha256,
               struct mt_sigstore_result *res)
{
    struct mt_sigstore_policy pol = {.identity = BEACON, .issuer = GHA};
    struct mt_sigstore_artifact art = {.data = artifact, .len = artifact_len};
    char *text = json_dumps(bundle, JSON_COMPACT);
    mt_err e;

    assert_non_null(text);
    if (sha256 != NULL) {
        art.data = NULL;
        art.len = 0;
        art.sha256 = sha256;
    }
    e = mt_sigstore_verify_bundle(t, &pol, &art, (const uint8_t *)text, strlen(text), res);
    free(text); /* lint-allow: free (jansson's malloc) */
    if (e != MT_OK)
        assert_true(res->detail[0] != '\0');
    return e;
}

/* Decoded bytes of a base64 string member. */
static uint8_t *
b64_member(json_t *obj, const char *key, size_t *len)
{
    uint8_t *out = NULL;

    EXPECT_OK(sig_json_bytes(obj, key, SIG_MAX_FIELD, &out, len));
    return out;
}

static void
set_b64(json_t *obj, const char *key, const uint8_t *data, size_t len)
{
    char *s = mt_b64_encode_alloc(data, len);

    assert_non_null(s);
    json_object_set_new(obj, key, json_string(s));
    mt_free(s);
}

/* Replace the first occurrence of from in a text member (which must contain it). */
static void
edit_text(json_t *obj, const char *key, const char *from, const char *to)
{
    const char *s = json_string_value(json_object_get(obj, key)), *hit;
    char *out;
    size_t n;

    assert_non_null(s);
    hit = strstr(s, from);
    assert_non_null(hit);
    n = strlen(s) - strlen(from) + strlen(to) + 1;
    out = mt_malloc(n);
    assert_non_null(out);
    snprintf(out, n, "%.*s%s%s", (int)(hit - s), s, to, hit + strlen(from));
    json_object_set_new(obj, key, json_string(out));
    mt_free(out);
}

/* Replace from with to inside the decoded canonicalizedBody of entry 0. */
static void
edit_body(json_t *bundle, const char *from, const char *to)
{
    json_t *e = mt_test_json_at(bundle, TLOG0), *tmp = json_object();
    uint8_t *body;
    size_t len = 0;
    char *text;

    body = b64_member(e, "canonicalizedBody", &len);
    text = mt_malloc(len + 1);
    assert_non_null(text);
    memcpy(text, body, len);
    text[len] = '\0';
    json_object_set_new(tmp, "t", json_string(text));
    edit_text(tmp, "t", from, to);
    set_b64(e, "canonicalizedBody", (const uint8_t *)json_string_value(json_object_get(tmp, "t")),
            strlen(json_string_value(json_object_get(tmp, "t"))));
    json_decref(tmp);
    mt_free(text);
    mt_free(body);
}

static void
test_tsa_module(void **state)
{
    struct mt_sigstore_trust *r2 = trust_load(R2_ROOT), *prod = trust_load(PROD), *t;
    struct mt_sigstore_result res;
    json_t *b = mt_test_load_shared_json(R2_BUNDLE), *root;
    uint8_t *ts, *sig;
    size_t ts_len = 0, sig_len = 0;
    int64_t gen = 0;

    (void)state;
    ts = b64_member(mt_test_json_at(b, TS0), "signedTimestamp", &ts_len);
    sig = b64_member(mt_test_json_at(b, "messageSignature"), "signature", &sig_len);
    memset(&res, 0, sizeof(res));
    EXPECT_OK(sig_tsa_verify(r2, ts, ts_len, sig, sig_len, &gen, &res));
    assert_int_equal(gen, R2_GENTIME);
    /* The imprint is over exactly the signature bytes. */
    sig[sig_len - 1] ^= 1;
    EXPECT_ERR(sig_tsa_verify(r2, ts, ts_len, sig, sig_len, &gen, &res),
               MT_ERR_SIGSTORE_TIMESTAMP_IMPRINT);
    EXPECT_ERR(sig_tsa_verify(r2, ts, ts_len, sig, sig_len - 1, &gen, &res),
               MT_ERR_SIGSTORE_TIMESTAMP_IMPRINT);
    sig[sig_len - 1] ^= 1;
    /* Strict DER: truncated, trailing bytes, empty. */
    EXPECT_ERR(sig_tsa_verify(r2, ts, ts_len - 1, sig, sig_len, &gen, &res),
               MT_ERR_SIGSTORE_TIMESTAMP_FORMAT);
    EXPECT_ERR(sig_tsa_verify(r2, ts, 10, sig, sig_len, &gen, &res),
               MT_ERR_SIGSTORE_TIMESTAMP_FORMAT);
    EXPECT_ERR(sig_tsa_verify(r2, ts, 0, sig, sig_len, &gen, &res),
               MT_ERR_SIGSTORE_TIMESTAMP_FORMAT);
    {
        uint8_t *longer = mt_malloc(ts_len + 1);

        assert_non_null(longer);
        memcpy(longer, ts, ts_len);
        longer[ts_len] = 0;
        EXPECT_ERR(sig_tsa_verify(r2, longer, ts_len + 1, sig, sig_len, &gen, &res),
                   MT_ERR_SIGSTORE_TIMESTAMP_FORMAT);
        mt_free(longer);
    }
    /* Another TSA (production), or none: the token's own certificates are never anchors. */
    EXPECT_ERR(sig_tsa_verify(prod, ts, ts_len, sig, sig_len, &gen, &res),
               MT_ERR_SIGSTORE_TIMESTAMP);
    EXPECT_ERR(sig_tsa_verify(NULL, ts, ts_len, sig, sig_len, &gen, &res),
               MT_ERR_SIGSTORE_TIMESTAMP);
    /* The TSA window is closed: end == genTime passes, a second earlier fails, so does start. */
    root = mt_test_load_shared_json(R2_ROOT);
    json_object_set_new(mt_test_json_at(root, "timestampAuthorities/0/validFor"), "end",
                        json_string("2025-06-12T12:02:20Z"));
    t = trust_from_json(root);
    EXPECT_OK(sig_tsa_verify(t, ts, ts_len, sig, sig_len, &gen, &res));
    mt_sigstore_trust_free(t);
    json_object_set_new(mt_test_json_at(root, "timestampAuthorities/0/validFor"), "end",
                        json_string("2025-06-12T12:02:19Z"));
    t = trust_from_json(root);
    memset(&res, 0, sizeof(res));
    EXPECT_ERR(sig_tsa_verify(t, ts, ts_len, sig, sig_len, &gen, &res),
               MT_ERR_SIGSTORE_TIMESTAMP_TIME);
    mt_sigstore_trust_free(t);
    json_object_del(mt_test_json_at(root, "timestampAuthorities/0/validFor"), "end");
    json_object_set_new(mt_test_json_at(root, "timestampAuthorities/0/validFor"), "start",
                        json_string("2025-06-12T12:02:21Z"));
    t = trust_from_json(root);
    EXPECT_ERR(sig_tsa_verify(t, ts, ts_len, sig, sig_len, &gen, &res),
               MT_ERR_SIGSTORE_TIMESTAMP_TIME);
    mt_sigstore_trust_free(t);
    /* A chain naming another signing certificate: the token's signer is pinned to it. */
    json_object_del(mt_test_json_at(root, "timestampAuthorities/0/validFor"), "start");
    {
        json_t *certs = mt_test_json_at(root, "timestampAuthorities/0/certChain/certificates");

        json_array_set(certs, 0, json_array_get(certs, 1)); /* [anchor, anchor] */
        t = trust_from_json(root);
        EXPECT_ERR(sig_tsa_verify(t, ts, ts_len, sig, sig_len, &gen, &res),
                   MT_ERR_SIGSTORE_TIMESTAMP);
        mt_sigstore_trust_free(t);
        /* The anchor alone names no signing certificate: the embedded one it issued signs. */
        json_array_remove(certs, 0);
        t = trust_from_json(root);
        EXPECT_OK(sig_tsa_verify(t, ts, ts_len, sig, sig_len, &gen, &res));
        mt_sigstore_trust_free(t);
    }
    json_decref(root);
    mt_free(ts);
    mt_free(sig);
    json_decref(b);
    mt_sigstore_trust_free(r2);
    mt_sigstore_trust_free(prod);
}

/* Mutate the rekor2-happy-path bundle with fn, verify with its root, expect want. */
static void
r2_case(const char *what, void (*fn)(json_t *), mt_err want)
{
    struct mt_sigstore_trust *t = trust_load(R2_ROOT);
    struct mt_sigstore_result res;
    json_t *b = mt_test_load_shared_json(R2_BUNDLE);
    mt_err got;

    fn(b);
    got = verify_keyless(t, b, NULL, &res);
    if (got != want)
        fail_msg("rekor2-happy-path, %s: got %s, want %s (%s)", what, mt_err_code(got),
                 mt_err_code(want), res.detail);
    json_decref(b);
    mt_sigstore_trust_free(t);
}

static void
m_none(json_t *b)
{
    (void)b;
}

static void
m_no_timestamps(json_t *b)
{
    json_object_del(mt_test_json_at(b, "verificationMaterial"), "timestampVerificationData");
}

static void
m_no_tlog(json_t *b)
{
    json_object_set_new(mt_test_json_at(b, "verificationMaterial"), "tlogEntries", json_array());
}

static void
m_log_index(json_t *b)
{
    json_object_set_new(mt_test_json_at(b, TLOG0), "logIndex", json_string("734"));
}

static void
m_promise(json_t *b)
{
    json_object_set_new(mt_test_json_at(b, TLOG0), "inclusionPromise",
                        json_pack("{s:s}", "signedEntryTimestamp", "MEUCIQ=="));
}

static void
m_no_proof(json_t *b)
{
    json_object_del(mt_test_json_at(b, TLOG0), "inclusionProof");
}

static void
m_body_space(json_t *b)
{
    edit_body(b, "{\"apiVersion\"", "{ \"apiVersion\""); /* same fields, not canonical */
}

static void
m_body_key_details(json_t *b)
{
    edit_body(b, "PKIX_ECDSA_P256_SHA_256", "PKIX_ECDSA_P384_SHA_384");
}

static void
m_body_algorithm(json_t *b)
{
    edit_body(b, "\"SHA2_256\"", "\"SHA2_384\"");
}

static void
m_kind_version(json_t *b)
{
    json_object_set_new(mt_test_json_at(b, TLOG0 "/kindVersion"), "version", json_string("0.0.1"));
}

static void
m_signer_name(json_t *b)
{
    /* The origin line stays; only the signature line's name changes: no line of the log. */
    edit_text(mt_test_json_at(b, TLOG0 "/inclusionProof/checkpoint"), "envelope",
              "\xe2\x80\x94 log2025-alpha1.rekor.sigstage.dev ",
              "\xe2\x80\x94 log2025-alpha1.rekor.sigstage.dew ");
}

static void
m_checkpoint_sig(json_t *b)
{
    /* A byte of the Ed25519 signature (after the 4-byte key hint). */
    edit_text(mt_test_json_at(b, TLOG0 "/inclusionProof/checkpoint"), "envelope", "8w1amdbj1mjN",
              "8w1amdbj1mjO");
}

static void
m_checkpoint_witness_only(json_t *b)
{
    /* A hint that is not the log's: an unknown witness line, and no log line. */
    edit_text(mt_test_json_at(b, TLOG0 "/inclusionProof/checkpoint"), "envelope", "8w1amdbj",
              "AAAAAdbj");
}

static void
m_ts_duplicate(json_t *b)
{
    json_t *arr =
        mt_test_json_at(b, "verificationMaterial/timestampVerificationData/rfc3161Timestamps");

    json_array_append_new(arr, json_deep_copy(json_array_get(arr, 0)));
}

static void
m_ts_foreign(json_t *b)
{
    json_t *other = mt_test_load_shared_json(PAYLOAD_MISMATCH);
    json_t *arr =
        mt_test_json_at(b, "verificationMaterial/timestampVerificationData/rfc3161Timestamps");

    /* Strict: a second timestamp over other bytes fails even beside a good one. */
    json_array_append(arr, mt_test_json_at(other, TS0));
    json_decref(other);
}

static void
m_ts_garbage(json_t *b)
{
    json_object_set_new(mt_test_json_at(b, TS0), "signedTimestamp", json_string("MAMCAQA="));
}

/*
 * 3.2 / 4.4 g: a Rekor v2 entry has no SET, so the RFC 3161 genTime must lie
 * in the log key's validFor (closed).  The root is the happy path's, with
 * the Ed25519 log's window changed in memory (review finding 1).
 */
static mt_err
r2_tlog_window(const char *start, const char *end, struct mt_sigstore_result *res)
{
    json_t *root = mt_test_load_shared_json(R2_ROOT), *b = mt_test_load_shared_json(R2_BUNDLE);
    json_t *vf = json_object(), *tlogs = json_object_get(root, "tlogs");
    struct mt_sigstore_trust *t;
    size_t i, hit = 0;
    mt_err e;

    assert_non_null(vf);
    json_object_set_new(vf, "start", json_string(start));
    if (end != NULL)
        json_object_set_new(vf, "end", json_string(end));
    for (i = 0; i < json_array_size(tlogs); i++) {
        json_t *pk = mt_test_json_at(json_array_get(tlogs, i), "publicKey");

        if (strcmp(json_string_value(json_object_get(pk, "keyDetails")), "PKIX_ED25519") != 0)
            continue;
        json_object_set(pk, "validFor", vf);
        hit++;
    }
    assert_int_equal(hit, 1);
    json_decref(vf);
    t = trust_from_json(root);
    e = verify_keyless(t, b, NULL, res);
    mt_sigstore_trust_free(t);
    json_decref(b);
    json_decref(root);
    return e;
}

static void
test_rekor_v2_log_window(void **state)
{
    struct mt_sigstore_result res;

    (void)state;
    /* /tmp/review/tr_v2_expired.json: a log key retired in 2000 vouched for a 2025 entry. */
    EXPECT_ERR(r2_tlog_window("2000-01-01T00:00:00Z", "2000-01-02T00:00:00Z", &res),
               MT_ERR_SIGSTORE_TLOG_KEY_TIME);
    assert_non_null(strstr(res.detail, "log2025-alpha1.rekor.sigstage.dev"));
    /* The genTime (2025-06-12T12:02:20Z) at either end passes: the window is closed. */
    EXPECT_OK(r2_tlog_window("2025-04-16T00:00:00Z", "2025-06-12T12:02:20Z", &res));
    assert_int_equal(res.signing_time, R2_GENTIME);
    EXPECT_OK(r2_tlog_window("2025-06-12T12:02:20Z", NULL, &res));
    EXPECT_OK(r2_tlog_window("2025-04-16T00:00:00Z", "2025-06-12T12:02:20.999Z", &res));
    /* One second out on either side fails. */
    EXPECT_ERR(r2_tlog_window("2025-04-16T00:00:00Z", "2025-06-12T12:02:19Z", &res),
               MT_ERR_SIGSTORE_TLOG_KEY_TIME);
    EXPECT_ERR(r2_tlog_window("2025-06-12T12:02:21Z", NULL, &res), MT_ERR_SIGSTORE_TLOG_KEY_TIME);
    EXPECT_ERR(r2_tlog_window("2025-06-12T12:02:21Z", "2030-01-01T00:00:00Z", &res),
               MT_ERR_SIGSTORE_TLOG_KEY_TIME);
}

static void
test_rekor_v2(void **state)
{
    struct mt_sigstore_trust *t = trust_load(R2_ROOT);
    struct mt_sigstore_result res;
    json_t *b = mt_test_load_shared_json(R2_BUNDLE);
    uint8_t other[32];

    (void)state;
    /* What a pass reports: the TSA time, the v2 log index and ID. */
    EXPECT_OK(verify_keyless(t, b, NULL, &res));
    assert_int_equal(res.signing_time, R2_GENTIME);
    assert_int_equal(res.log_index, 735);
    assert_string_equal(res.log_id_hex,
                        "f30d5a999d92e662484244263f174cb8eacbfe8264bc583d32741799e3825dc9");
    memset(other, 0x11, sizeof(other));
    EXPECT_ERR(verify_keyless(t, b, other, &res), MT_ERR_SIGSTORE_MESSAGE_DIGEST);
    json_decref(b);
    mt_sigstore_trust_free(t);

    r2_case("unchanged", m_none, MT_OK);
    r2_case("no timestamps (rekor2-no-timestamp)", m_no_timestamps, MT_ERR_SIGSTORE_NO_SIGNED_TIME);
    r2_case("no tlog entries", m_no_tlog, MT_ERR_SIGSTORE_NO_TLOG);
    r2_case("logIndex differs from the proof index", m_log_index, MT_ERR_SIGSTORE_INCLUSION_PROOF);
    r2_case("inclusion promise on a v2 entry", m_promise, MT_ERR_SIGSTORE_FORMAT);
    r2_case("no inclusion proof", m_no_proof, MT_ERR_SIGSTORE_MISSING_PROOF);
    r2_case("body not canonical", m_body_space, MT_ERR_SIGSTORE_TLOG_BODY);
    r2_case("body keyDetails", m_body_key_details, MT_ERR_SIGSTORE_TLOG_KEY);
    r2_case("body digest algorithm", m_body_algorithm, MT_ERR_SIGSTORE_TLOG_DIGEST);
    r2_case("kindVersion 0.0.1", m_kind_version, MT_ERR_SIGSTORE_TLOG_BODY);
    r2_case("checkpoint signer name", m_signer_name, MT_ERR_SIGSTORE_CHECKPOINT_NO_SIG);
    r2_case("checkpoint signature", m_checkpoint_sig, MT_ERR_SIGSTORE_CHECKPOINT_SIG);
    r2_case("checkpoint without the log's line", m_checkpoint_witness_only,
            MT_ERR_SIGSTORE_CHECKPOINT_NO_SIG);
    r2_case("the same timestamp twice", m_ts_duplicate, MT_OK);
    r2_case("a second, foreign timestamp", m_ts_foreign, MT_ERR_SIGSTORE_TIMESTAMP_IMPRINT);
    r2_case("timestamp not a TimeStampResp", m_ts_garbage, MT_ERR_SIGSTORE_TIMESTAMP_FORMAT);
}

static void
test_note_key_ids(void **state)
{
    struct mt_sigstore_trust *prod = trust_load(PROD), *r2 = trust_load(R2_ROOT);
    uint8_t id[32];
    char host[64];
    size_t i, v2 = 0;

    (void)state;
    /* 3.3: H(host || 0x0A || 0x01 || raw key) is the logId of every Ed25519 log. */
    for (i = 0; i < prod->n_tlogs; i++) {
        if (!prod->tlogs[i].ed25519)
            continue;
        EXPECT_OK(sig_note_key_id(&prod->tlogs[i], id));
        assert_memory_equal(id, prod->tlogs[i].log_id, 32);
        v2++;
    }
    for (i = 0; i < r2->n_tlogs; i++) {
        EXPECT_OK(sig_note_key_id(&r2->tlogs[i], id));
        assert_memory_equal(id, r2->tlogs[i].log_id, 32); /* ECDSA: H(SPKI), Ed25519: C2SP */
        v2 += r2->tlogs[i].ed25519;
    }
    assert_int_equal(v2, 2);
    EXPECT_OK(sig_url_host("https://log2025-1.rekor.sigstore.dev", host, sizeof(host)));
    assert_string_equal(host, "log2025-1.rekor.sigstore.dev");
    EXPECT_OK(sig_url_host("https://h.example:8443/path?q", host, sizeof(host)));
    assert_string_equal(host, "h.example");
    EXPECT_OK(sig_url_host("http://h", host, sizeof(host)));
    assert_string_equal(host, "h");
    EXPECT_ERR(sig_url_host("https://", host, sizeof(host)), MT_ERR_SIGSTORE_TRUST_ROOT);
    EXPECT_ERR(sig_url_host("https://u@h", host, sizeof(host)), MT_ERR_SIGSTORE_TRUST_ROOT);
    EXPECT_ERR(sig_url_host("https://a-very-long-host-name.example", host, 8),
               MT_ERR_SIGSTORE_TRUST_ROOT);
    mt_sigstore_trust_free(prod);
    mt_sigstore_trust_free(r2);
}

static void
test_pae(void **state)
{
    static const char want[] = "DSSEv1 29 http://example.com/HelloWorld 11 hello world";
    uint8_t *pae = NULL;
    size_t len = 0;

    (void)state;
    /* The example of the DSSE specification (protocol.md). */
    EXPECT_OK(sig_dsse_pae("http://example.com/HelloWorld", (const uint8_t *)"hello world", 11,
                           &pae, &len));
    assert_int_equal(len, strlen(want));
    assert_memory_equal(pae, want, len);
    mt_free(pae);
    EXPECT_OK(sig_dsse_pae("", NULL, 0, &pae, &len));
    assert_int_equal(len, strlen("DSSEv1 0  0 "));
    assert_memory_equal(pae, "DSSEv1 0  0 ", len);
    mt_free(pae);
}

/* A key-based v0.3 DSSE bundle without tlog entries, signed with k over PAE(type, stmt). */
static char *
dsse_bundle(EVP_PKEY *k, const char *type, const char *stmt, int over_pae, const char *extra_sig)
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    uint8_t *pae = NULL, *sig;
    size_t pae_len = 0, sig_len = 0;
    json_t *j, *sigs;
    char *text, *copy;

    assert_non_null(c);
    EXPECT_OK(sig_dsse_pae(type, (const uint8_t *)stmt, strlen(stmt), &pae, &pae_len));
    if (!over_pae) {
        mt_free(pae);
        pae = (uint8_t *)mt_strdup(stmt);
        pae_len = strlen(stmt);
    }
    assert_int_equal(EVP_DigestSignInit(c, NULL, EVP_sha256(), NULL, k), 1);
    assert_int_equal(EVP_DigestSign(c, NULL, &sig_len, pae, pae_len), 1);
    sig = mt_malloc(sig_len);
    assert_non_null(sig);
    assert_int_equal(EVP_DigestSign(c, sig, &sig_len, pae, pae_len), 1);
    EVP_MD_CTX_free(c);
    j = json_pack("{s:s,s:{s:{s:s}},s:{s:s,s:[]}}", "mediaType",
                  "application/vnd.dev.sigstore.bundle.v0.3+json", "verificationMaterial",
                  "publicKey", "hint", "unauthenticated", "dsseEnvelope", "payloadType", type,
                  "signatures");
    assert_non_null(j);
    set_b64(mt_test_json_at(j, "dsseEnvelope"), "payload", (const uint8_t *)stmt, strlen(stmt));
    sigs = json_object();
    set_b64(sigs, "sig", sig, sig_len);
    json_object_set_new(sigs, "keyid", json_string(""));
    json_array_append_new(mt_test_json_at(j, "dsseEnvelope/signatures"), sigs);
    if (extra_sig != NULL)
        json_array_append_new(mt_test_json_at(j, "dsseEnvelope/signatures"),
                              json_pack("{s:s}", "sig", extra_sig));
    text = json_dumps(j, JSON_COMPACT);
    assert_non_null(text);
    copy = mt_strdup(text);
    free(text); /* lint-allow: free (jansson's malloc) */
    json_decref(j);
    mt_free(sig);
    mt_free(pae);
    return copy;
}

static mt_err
verify_key_text(EVP_PKEY *k, const char *text)
{
    struct mt_sigstore_policy pol = {.key = k};
    struct mt_sigstore_artifact art = {.data = artifact, .len = artifact_len};
    struct mt_sigstore_result res;
    mt_err e =
        mt_sigstore_verify_bundle(NULL, &pol, &art, (const uint8_t *)text, strlen(text), &res);

    if (e != MT_OK)
        assert_true(res.detail[0] != '\0');
    return e;
}

static void
dsse_case(EVP_PKEY *sign_key, EVP_PKEY *verify_key, const char *type, const char *stmt,
          int over_pae, const char *extra_sig, mt_err want)
{
    char *text = dsse_bundle(sign_key, type, stmt, over_pae, extra_sig);
    mt_err got = verify_key_text(verify_key, text);

    if (got != want)
        fail_msg("DSSE %s / %.60s: got %s, want %s", type, stmt, mt_err_code(got),
                 mt_err_code(want));
    mt_free(text);
}

static void
test_dsse_key_mode(void **state)
{
    static const char good[] =
        "{\"_type\":\"https://in-toto.io/Statement/v1\",\"subject\":[{\"name\":\"x\",\"digest\":"
        "{\"sha512\":\"00\"}},{\"name\":\"a.txt\",\"digest\":{\"sha256\":"
        "\"A0CFC71271D6E278E57CD332FF957C3F7043FDDA354C4CBB190A30D56EFA01BF\"}}],"
        "\"predicateType\":\"x\",\"predicate\":{}}";
    static const char other[] =
        "{\"_type\":\"https://in-toto.io/Statement/"
        "v1\",\"subject\":[{\"name\":\"a.txt\",\"digest\":"
        "{\"sha256\":\"a0cfc71271d6e278e57cd332ff957c3f7043fdda354c4cbb190a30d56efa01be\"}}]}";
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    EVP_PKEY *k2 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");

    (void)state;
    assert_non_null(k);
    assert_non_null(k2);
    dsse_case(k, k, INTOTO, good, 1, NULL, MT_OK);
    dsse_case(k, k2, INTOTO, good, 1, NULL, MT_ERR_SIGSTORE_SIGNATURE);
    dsse_case(k, k, INTOTO, good, 0, NULL, MT_ERR_SIGSTORE_SIGNATURE); /* not over PAE */
    dsse_case(k, k, INTOTO, other, 1, NULL, MT_ERR_SIGSTORE_DSSE_SUBJECT);
    dsse_case(k, k, INTOTO, "{\"subject\":{}}", 1, NULL, MT_ERR_SIGSTORE_DSSE_SUBJECT);
    dsse_case(k, k, INTOTO, "not json", 1, NULL, MT_ERR_SIGSTORE_DSSE_SUBJECT);
    dsse_case(k, k, "application/json", good, 1, NULL, MT_ERR_SIGSTORE_UNSUPPORTED);
    dsse_case(k, k, INTOTO, good, 1, "MEUCIQ==", MT_ERR_SIGSTORE_FORMAT); /* two signatures */
    EVP_PKEY_free(k);
    EVP_PKEY_free(k2);
}

/* happy-path-intoto-in-dsse-v3 (dsse 0.0.1 on Rekor v1), mutated. */
static void
test_dsse_v1_entry(void **state)
{
    struct mt_sigstore_trust *prod = trust_load(PROD);
    struct mt_sigstore_result res;
    json_t *b = mt_test_load_shared_json(DSSE_V1), *env;
    uint8_t other[32];

    (void)state;
    EXPECT_OK(verify_keyless(prod, b, NULL, &res));
    assert_true(res.signing_time > 0);
    /* The statement does not name another artifact (the signature still verifies). */
    memset(other, 0x22, sizeof(other));
    EXPECT_ERR(verify_keyless(prod, b, other, &res), MT_ERR_SIGSTORE_DSSE_SUBJECT);
    /* Only in-toto statements name an artifact. */
    env = mt_test_json_at(b, "dsseEnvelope");
    json_object_set_new(env, "payloadType", json_string("application/vnd.in-toto+jsoN"));
    EXPECT_ERR(verify_keyless(prod, b, NULL, &res), MT_ERR_SIGSTORE_UNSUPPORTED);
    json_decref(b);
    /* Another payload: the logged payloadHash differs. */
    b = mt_test_load_shared_json(DSSE_V1);
    set_b64(mt_test_json_at(b, "dsseEnvelope"), "payload", (const uint8_t *)"{}", 2);
    EXPECT_ERR(verify_keyless(prod, b, NULL, &res), MT_ERR_SIGSTORE_TLOG_DIGEST);
    json_decref(b);
    /* Envelope structure. */
    b = mt_test_load_shared_json(DSSE_V1);
    json_object_set_new(mt_test_json_at(b, "dsseEnvelope"), "extra", json_true());
    EXPECT_ERR(verify_keyless(prod, b, NULL, &res), MT_ERR_SIGSTORE_FORMAT);
    json_object_del(mt_test_json_at(b, "dsseEnvelope"), "extra");
    json_object_set_new(mt_test_json_at(b, "dsseEnvelope/signatures/0"), "keyid", json_integer(1));
    EXPECT_ERR(verify_keyless(prod, b, NULL, &res), MT_ERR_SIGSTORE_FORMAT);
    json_object_del(mt_test_json_at(b, "dsseEnvelope/signatures/0"), "keyid");
    json_object_set_new(mt_test_json_at(b, "dsseEnvelope"), "payloadType", json_string(""));
    EXPECT_ERR(verify_keyless(prod, b, NULL, &res), MT_ERR_SIGSTORE_FORMAT);
    json_decref(b);
    /* A dsse entry for a message signature, and a hashedrekord 0.0.1 entry for DSSE. */
    b = mt_test_load_shared_json(DSSE_V1);
    json_object_set_new(mt_test_json_at(b, TLOG0 "/kindVersion"), "kind",
                        json_string("hashedrekord"));
    EXPECT_ERR(verify_keyless(prod, b, NULL, &res), MT_ERR_SIGSTORE_TLOG_BODY);
    json_decref(b);
    mt_sigstore_trust_free(prod);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tsa_module),
        cmocka_unit_test(test_rekor_v2),
        cmocka_unit_test(test_rekor_v2_log_window),
        cmocka_unit_test(test_note_key_ids),
        cmocka_unit_test(test_pae),
        cmocka_unit_test(test_dsse_key_mode),
        cmocka_unit_test(test_dsse_v1_entry),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
