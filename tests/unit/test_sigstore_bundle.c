/*
 * Bundle parsing and binding, negatively (sigstore.md 2.2-2.6, 4.1-4.4,
 * 7.5): one-field mutations of the happy-path-v0.3 bundle and of the
 * derived legacy bundle must each fail at their own check; truncated,
 * mistyped, duplicate, unknown and oversized inputs are refused.
 */
#include "mt_testlib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sigstore/sigstore.h"
#include "util/mt_alloc.h"

#define VDIR "vectors/sigstore/"
#define V03 VDIR "conformance/happy-path-v0.3/bundle.sigstore.json"
#define V01 VDIR "conformance/happy-path-v0.1/bundle.sigstore.json"
#define LEG VDIR "legacy/happy-path-v0.1.bundle.json"
#define BEACON                                                                                     \
    "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/"      \
    "workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main"
#define GHA "https://token.actions.githubusercontent.com"

static struct mt_sigstore_trust *trust;
static uint8_t *artifact;
static size_t artifact_len;

static int
setup(void **state)
{
    char path[1024];

    (void)state;
    mt_test_require_shared();
    snprintf(path, sizeof(path), "%s/" VDIR "trusted_root.json", mt_test_shared_dir());
    if (mt_sigstore_trust_load(path, &trust) != MT_OK)
        return -1;
    artifact = mt_test_read_shared(VDIR "a.txt", &artifact_len);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    mt_sigstore_trust_free(trust);
    mt_free(artifact);
    return 0;
}

static mt_err
verify_text(const char *text, size_t len, struct mt_sigstore_result *res)
{
    struct mt_sigstore_policy pol = {.identity = BEACON, .issuer = GHA};
    struct mt_sigstore_artifact art = {.data = artifact, .len = artifact_len};

    return mt_sigstore_verify_bundle(trust, &pol, &art, (const uint8_t *)text, len, res);
}

static mt_err
verify_json(json_t *j)
{
    struct mt_sigstore_result res;
    char *text = json_dumps(j, JSON_COMPACT);
    mt_err e;

    assert_non_null(text);
    e = verify_text(text, strlen(text), &res);
    if (e != MT_OK)
        assert_true(res.detail[0] != '\0');
    free(text); /* lint-allow: free (jansson's malloc) */
    return e;
}

#define TLOG0 "verificationMaterial/tlogEntries/0"

/* Set (or with NULL delete) member key of the object at path, verify, expect want. */
static void
mutate(const char *base, const char *path, const char *key, json_t *value, mt_err want)
{
    json_t *j = mt_test_load_shared_json(base), *o = path[0] ? mt_test_json_at(j, path) : j;

    if (value == NULL)
        json_object_del(o, key);
    else
        json_object_set_new(o, key, value);
    {
        mt_err got = verify_json(j);

        if (got != want)
            fail_msg("%s: %s/%s: got %s, want %s", base, path, key, mt_err_code(got),
                     mt_err_code(want));
    }
    json_decref(j);
}

static void
test_happy(void **state)
{
    json_t *j;

    (void)state;
    j = mt_test_load_shared_json(V03);
    EXPECT_OK(verify_json(j));
    json_decref(j);
    j = mt_test_load_shared_json(LEG);
    EXPECT_OK(verify_json(j));
    json_decref(j);
}

static void
test_structure(void **state)
{
    (void)state;
    mutate(V03, "", "extra", json_true(), MT_ERR_SIGSTORE_FORMAT);
    mutate(V03, "", "verificationMaterial", NULL, MT_ERR_SIGSTORE_FORMAT);
    mutate(V03, "", "verificationMaterial", json_string("x"), MT_ERR_SIGSTORE_FORMAT);
    mutate(V03, "", "messageSignature", NULL, MT_ERR_SIGSTORE_FORMAT);
    mutate(V03, "", "dsseEnvelope", json_object(), MT_ERR_SIGSTORE_FORMAT); /* two contents */
    mutate(V03, "", "mediaType", json_integer(3), MT_ERR_SIGSTORE_FORMAT);
    mutate(V03, "", "mediaType", json_string("application/vnd.dev.sigstore.bundle.v0.4+json"),
           MT_ERR_SIGSTORE_MEDIA_TYPE);
    mutate(V03, "verificationMaterial", "publicKey", json_pack("{s:s}", "hint", "x"),
           MT_ERR_SIGSTORE_FORMAT); /* two materials */
    mutate(V03, "verificationMaterial", "certificate", NULL, MT_ERR_SIGSTORE_FORMAT);
    mutate(V03, "verificationMaterial", "x509CertificateChain", json_pack("{s:[]}", "certificates"),
           MT_ERR_SIGSTORE_FORMAT);
    mutate(V03, "verificationMaterial/certificate", "rawBytes", json_string("MIIB"),
           MT_ERR_SIGSTORE_CERT);
    mutate(V03, "verificationMaterial/certificate", "rawBytes", json_integer(1),
           MT_ERR_SIGSTORE_FORMAT);
    mutate(V03, "verificationMaterial", "tlogEntries", json_string("x"), MT_ERR_SIGSTORE_FORMAT);
    mutate(V03, "verificationMaterial", "tlogEntries", json_array(), MT_ERR_SIGSTORE_NO_TLOG);
    mutate(V03, "verificationMaterial", "timestampVerificationData",
           json_pack("{s:[{s:s}]}", "rfc3161Timestamps", "signedTimestamp", "!!"),
           MT_ERR_SIGSTORE_BASE64);
    mutate(V03, "messageSignature", "signature", json_string(""), MT_ERR_SIGSTORE_FORMAT);
    mutate(V03, "messageSignature", "signature", json_string("%%%"), MT_ERR_SIGSTORE_BASE64);
    mutate(V03, "messageSignature/messageDigest", "algorithm", json_string("SHA2_384"),
           MT_ERR_SIGSTORE_FORMAT);
    mutate(V03, "messageSignature/messageDigest", "digest", json_string("AAAA"),
           MT_ERR_SIGSTORE_FORMAT);
    mutate(V03, "messageSignature", "messageDigest", NULL, MT_OK); /* only a hint */
    mutate(V03, "messageSignature", "unknown", json_true(), MT_ERR_SIGSTORE_FORMAT);
    /* v0.1 needs the SET; v0.2+ the proof. */
    mutate(V01, TLOG0, "inclusionPromise", NULL, MT_ERR_SIGSTORE_MISSING_PROMISE);
    mutate(V03, TLOG0, "inclusionProof", NULL, MT_ERR_SIGSTORE_MISSING_PROOF);
    /* A DSSE envelope needs payload, payloadType and one signature (test_sigstore_phase2). */
    {
        json_t *j = mt_test_load_shared_json(V03);

        json_object_del(j, "messageSignature");
        json_object_set_new(j, "dsseEnvelope", json_object());
        EXPECT_ERR(verify_json(j), MT_ERR_SIGSTORE_FORMAT);
        json_decref(j);
    }
}

static void
test_entry_fields(void **state)
{
    json_t *j, *entries;

    (void)state;
    mutate(V03, TLOG0, "logIndex", json_string("-1"), MT_ERR_SIGSTORE_LOG_INDEX);
    mutate(V03, TLOG0, "logIndex", json_string("12x"), MT_ERR_SIGSTORE_FORMAT);
    mutate(V03, TLOG0, "logIndex", json_string(""), MT_ERR_SIGSTORE_FORMAT);
    mutate(V03, TLOG0, "logIndex", json_string("99999999999999999999"), MT_ERR_SIGSTORE_FORMAT);
    mutate(V03, TLOG0, "logIndex", json_real(1.5), MT_ERR_SIGSTORE_FORMAT);
    mutate(V03, TLOG0, "logIndex", json_integer(79571823), MT_OK); /* bare numbers accepted */
    mutate(V03, TLOG0, "logIndex", json_string("79571824"), MT_ERR_SIGSTORE_SET);
    mutate(V03, TLOG0, "integratedTime", json_string("1710869187"), MT_ERR_SIGSTORE_SET);
    mutate(V03, TLOG0, "integratedTime", json_string("-5"), MT_ERR_SIGSTORE_FORMAT);
    mutate(V03, TLOG0 "/logId", "keyId", json_string("AAAA"), MT_ERR_SIGSTORE_FORMAT);
    mutate(V03, TLOG0 "/logId", "keyId",
           json_string("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="), MT_ERR_SIGSTORE_NO_TLOG);
    mutate(V03, TLOG0, "logId", NULL, MT_ERR_SIGSTORE_FORMAT);
    mutate(V03, TLOG0, "kindVersion", NULL, MT_ERR_SIGSTORE_FORMAT);
    /* Kinds not verified stay refused; a known kind must fit the body and the content. */
    mutate(V03, TLOG0 "/kindVersion", "version", json_string("0.0.3"), MT_ERR_SIGSTORE_UNSUPPORTED);
    mutate(V03, TLOG0 "/kindVersion", "kind", json_string("intoto"), MT_ERR_SIGSTORE_UNSUPPORTED);
    mutate(V03, TLOG0 "/kindVersion", "version", json_string("0.0.2"), MT_ERR_SIGSTORE_TLOG_BODY);
    mutate(V03, TLOG0 "/kindVersion", "kind", json_string("dsse"), MT_ERR_SIGSTORE_TLOG_BODY);
    mutate(V03, TLOG0, "canonicalizedBody", NULL, MT_ERR_SIGSTORE_FORMAT);
    mutate(V03, TLOG0, "canonicalizedBody", json_string("e30="), MT_ERR_SIGSTORE_TLOG_BODY);
    mutate(V03, TLOG0, "canonicalizedBody", json_string("bm90IGpzb24="), MT_ERR_SIGSTORE_TLOG_BODY);
    mutate(V03, TLOG0, "unknown", json_true(), MT_ERR_SIGSTORE_FORMAT);
    mutate(V03, TLOG0 "/inclusionPromise", "signedEntryTimestamp", json_string("AAAA"),
           MT_ERR_SIGSTORE_SET);
    mutate(V03, TLOG0, "inclusionPromise", NULL, MT_ERR_SIGSTORE_NO_SIGNED_TIME);
    mutate(V03, TLOG0 "/inclusionProof", "checkpoint", NULL, MT_ERR_SIGSTORE_MISSING_CHECKPOINT);
    mutate(V03, TLOG0 "/inclusionProof/checkpoint", "envelope", json_string("x"),
           MT_ERR_SIGSTORE_CHECKPOINT_FORMAT);
    mutate(V03, TLOG0 "/inclusionProof", "treeSize", json_string("75408394"),
           MT_ERR_SIGSTORE_CHECKPOINT_MISMATCH);
    mutate(V03, TLOG0 "/inclusionProof", "rootHash",
           json_string("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="),
           MT_ERR_SIGSTORE_CHECKPOINT_MISMATCH);
    mutate(V03, TLOG0 "/inclusionProof", "logIndex", json_string("75408391"),
           MT_ERR_SIGSTORE_INCLUSION_PROOF);
    mutate(V03, TLOG0 "/inclusionProof", "logIndex", json_string("-2"), MT_ERR_SIGSTORE_LOG_INDEX);
    mutate(V03, TLOG0 "/inclusionProof", "hashes", json_pack("[s]", "AAAA"),
           MT_ERR_SIGSTORE_FORMAT);
    mutate(V03, TLOG0 "/inclusionProof", "hashes", json_array(), MT_ERR_SIGSTORE_INCLUSION_PROOF);
    mutate(V03, TLOG0 "/inclusionProof", "hashes", json_integer(0), MT_ERR_SIGSTORE_FORMAT);
    /* Duplicate (logId, logIndex); more than 32 entries. */
    j = mt_test_load_shared_json(V03);
    entries = mt_test_json_at(j, "verificationMaterial/tlogEntries");
    json_array_append(entries, json_array_get(entries, 0));
    EXPECT_ERR(verify_json(j), MT_ERR_SIGSTORE_FORMAT);
    while (json_array_size(entries) <= 32)
        json_array_append(entries, json_array_get(entries, 0));
    EXPECT_ERR(verify_json(j), MT_ERR_SIGSTORE_FORMAT);
    json_decref(j);
}

/* Binding (4.4 c): the entry of one bundle under the material of another. */
static void
test_binding(void **state)
{
    json_t *j = mt_test_load_shared_json(V03), *other = mt_test_load_shared_json(V01);
    struct mt_sigstore_result res;
    struct mt_sigstore_policy pol = {.identity = BEACON, .issuer = GHA};
    struct mt_sigstore_artifact art;
    uint8_t *wrong;
    size_t n = 0;
    char *text;

    (void)state;
    /* Another certificate (same identity) with this bundle's entry: key mismatch. */
    json_object_set(
        mt_test_json_at(j, "verificationMaterial/certificate"), "rawBytes",
        mt_test_json_at(other,
                        "verificationMaterial/x509CertificateChain/certificates/0/rawBytes"));
    json_object_set(mt_test_json_at(j, "messageSignature"), "signature",
                    mt_test_json_at(other, "messageSignature/signature"));
    EXPECT_ERR(verify_json(j), MT_ERR_SIGSTORE_TLOG_SIGNATURE);
    json_decref(j);
    j = mt_test_load_shared_json(V03);
    json_object_set(
        mt_test_json_at(j, "verificationMaterial/certificate"), "rawBytes",
        mt_test_json_at(other,
                        "verificationMaterial/x509CertificateChain/certificates/0/rawBytes"));
    EXPECT_ERR(verify_json(j), MT_ERR_SIGSTORE_TLOG_KEY);
    json_decref(j);
    json_decref(other);
    /* Another artifact: messageDigest first; without the hint, the tlog digest. */
    j = mt_test_load_shared_json(V03);
    text = json_dumps(j, JSON_COMPACT);
    wrong = mt_test_read_shared(VDIR "sigstore-python/bundle_v3.txt", &n);
    memset(&art, 0, sizeof(art));
    art.data = wrong;
    art.len = n;
    EXPECT_ERR(
        mt_sigstore_verify_bundle(trust, &pol, &art, (const uint8_t *)text, strlen(text), &res),
        MT_ERR_SIGSTORE_MESSAGE_DIGEST);
    free(text); /* lint-allow: free (jansson's malloc) */
    json_object_del(mt_test_json_at(j, "messageSignature"), "messageDigest");
    text = json_dumps(j, JSON_COMPACT);
    EXPECT_ERR(
        mt_sigstore_verify_bundle(trust, &pol, &art, (const uint8_t *)text, strlen(text), &res),
        MT_ERR_SIGSTORE_TLOG_DIGEST);
    free(text); /* lint-allow: free (jansson's malloc) */
    /* An unreadable artifact file is an I/O error, not a verdict. */
    art.data = NULL;
    art.len = 0;
    art.path = "/nonexistent/artifact";
    text = json_dumps(j, JSON_COMPACT);
    EXPECT_ERR(
        mt_sigstore_verify_bundle(trust, &pol, &art, (const uint8_t *)text, strlen(text), &res),
        MT_ERR_IO);
    free(text); /* lint-allow: free (jansson's malloc) */
    mt_free(wrong);
    json_decref(j);
}

/* Legacy (B), 7.5 negative mutations. */
static void
test_legacy(void **state)
{
    json_t *j, *v;
    char *text;

    (void)state;
    mutate(LEG, "rekorBundle/Payload", "logIndex", json_integer(27246493), MT_ERR_SIGSTORE_SET);
    mutate(LEG, "rekorBundle/Payload", "integratedTime", json_integer(1689177397),
           MT_ERR_SIGSTORE_SET);
    mutate(LEG, "rekorBundle/Payload", "integratedTime", json_string("1689177396"),
           MT_ERR_SIGSTORE_FORMAT);
    mutate(LEG, "rekorBundle/Payload", "logID", json_string("c0d2"), MT_ERR_SIGSTORE_FORMAT);
    mutate(LEG, "rekorBundle/Payload", "logID",
           json_string("00d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d"),
           MT_ERR_SIGSTORE_NO_TLOG);
    mutate(LEG, "rekorBundle/Payload", "logIndex", json_integer(-1), MT_ERR_SIGSTORE_LOG_INDEX);
    mutate(LEG, "rekorBundle", "Payload", NULL, MT_ERR_SIGSTORE_FORMAT);
    mutate(LEG, "", "rekorBundle", NULL, MT_ERR_SIGSTORE_NO_TLOG);
    mutate(LEG, "", "cert", json_string("bm90IGEgY2VydA=="), MT_ERR_SIGSTORE_CERT);
    mutate(LEG, "", "cert", NULL, MT_ERR_SIGSTORE_KEY_REQUIRED);
    mutate(LEG, "", "base64Signature", json_string("@@"), MT_ERR_SIGSTORE_BASE64);
    mutate(LEG, "", "somethingElse", json_true(), MT_OK); /* unknown keys ignored */
    /* Keys match case-insensitively; two spellings of one key are ambiguous. */
    j = mt_test_load_shared_json(LEG);
    v = mt_test_json_at(j, "rekorBundle");
    json_object_set(v, "signedEntryTimestamp", json_object_get(v, "SignedEntryTimestamp"));
    json_object_del(v, "SignedEntryTimestamp");
    EXPECT_OK(verify_json(j));
    json_object_set(v, "SIGNEDENTRYTIMESTAMP", json_object_get(v, "signedEntryTimestamp"));
    EXPECT_ERR(verify_json(j), MT_ERR_SIGSTORE_FORMAT);
    json_decref(j);
    /* Neither shape. */
    text = "{\"hello\":1}";
    EXPECT_ERR(verify_text(text, strlen(text), &(struct mt_sigstore_result){0}),
               MT_ERR_SIGSTORE_FORMAT);
}

static void
test_raw_inputs(void **state)
{
    struct mt_sigstore_result res;
    uint8_t *doc, *big;
    size_t len = 0, i;
    char dup[] = "{\"mediaType\":\"a\",\"mediaType\":\"b\"}";

    (void)state;
    doc = mt_test_read_shared(V03, &len);
    /* Every truncation of the document fails, and never as a pass. */
    for (i = 0; i < len; i += 97)
        assert_int_not_equal(verify_text((const char *)doc, i, &res), MT_OK);
    EXPECT_ERR(verify_text((const char *)doc, len / 2, &res), MT_ERR_SIGSTORE_JSON);
    EXPECT_ERR(verify_text("", 0, &res), MT_ERR_SIGSTORE_JSON);
    EXPECT_ERR(verify_text(dup, strlen(dup), &res), MT_ERR_SIGSTORE_JSON);
    EXPECT_ERR(verify_text("[]", 2, &res), MT_ERR_SIGSTORE_FORMAT);
    EXPECT_ERR(verify_text("\"x\"", 3, &res), MT_ERR_SIGSTORE_JSON);
    mt_free(doc);
    big = mt_malloc(MT_SIGSTORE_MAX_DOC + 1);
    assert_non_null(big);
    memset(big, ' ', MT_SIGSTORE_MAX_DOC + 1);
    EXPECT_ERR(verify_text((const char *)big, MT_SIGSTORE_MAX_DOC + 1, &res), MT_ERR_TOO_LARGE);
    mt_free(big);
    /* Unusable policy and arguments. */
    {
        struct mt_sigstore_policy pol = {.identity = BEACON};
        struct mt_sigstore_artifact art = {.data = artifact, .len = artifact_len};
        uint8_t sha[32] = {0};

        EXPECT_ERR(mt_sigstore_verify_bundle(trust, &pol, &art, (const uint8_t *)"{}", 2, &res),
                   MT_ERR_SIGSTORE_POLICY);
        pol.issuer = GHA;
        art.sha256 = sha; /* two artifacts */
        doc = mt_test_read_shared(V03, &len);
        EXPECT_ERR(mt_sigstore_verify_bundle(trust, &pol, &art, doc, len, &res), MT_ERR_ARG);
        mt_free(doc);
        EXPECT_ERR(mt_sigstore_verify_bundle(trust, &pol, &art, doc, len, NULL), MT_ERR_ARG);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_happy),        cmocka_unit_test(test_structure),
        cmocka_unit_test(test_entry_fields), cmocka_unit_test(test_binding),
        cmocka_unit_test(test_legacy),       cmocka_unit_test(test_raw_inputs),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
