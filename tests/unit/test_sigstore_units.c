/*
 * The sigstore modules one at a time (sigstore.md 7.6 unit checkpoints):
 * Merkle inclusion, checkpoints, the SET payload, base64 strictness,
 * RFC 3339 windows, the trusted root, the Fulcio chain at a time, SCTs and
 * identity extraction, on the happy-path-v0.3 conformance bundle and the
 * production trusted root (read in place from shared/).
 */
#include "mt_testlib.h"

#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "sigstore/sig_internal.h"
#include "util/mt_alloc.h"
#include "util/mt_hex.h"

#define VDIR "vectors/sigstore/"
#define V03 VDIR "conformance/happy-path-v0.3/bundle.sigstore.json"
#define PROD VDIR "trusted_root.json"
#define BEACON                                                                                     \
    "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/"      \
    "workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main"
#define GHA "https://token.actions.githubusercontent.com"

static struct mt_sigstore_trust *
load_trust(const char *rel)
{
    struct mt_sigstore_trust *t = NULL;
    uint8_t *doc;
    size_t len = 0;

    mt_test_require_shared();
    doc = mt_test_read_shared(rel, &len);
    EXPECT_OK(mt_sigstore_trust_parse(doc, len, &t));
    mt_free(doc);
    return t;
}

static struct sig_bundle *
load_bundle(const char *rel)
{
    struct sig_bundle *b = mt_calloc(1, sizeof(*b));
    struct mt_sigstore_result res;
    uint8_t *doc;
    size_t len = 0;

    assert_non_null(b);
    mt_test_require_shared();
    doc = mt_test_read_shared(rel, &len);
    memset(&res, 0, sizeof(res));
    EXPECT_OK(sig_bundle_parse(doc, len, b, &res));
    mt_free(doc);
    return b;
}

static void
free_bundle(struct sig_bundle *b)
{
    sig_bundle_clear(b);
    mt_free(b);
}

static void
hex32(const char *hex, uint8_t out[32])
{
    assert_int_equal(mt_hex_decode_exact(hex, 64, out, 32), MT_OK);
}

/* 7.6: leaf hash, inclusion proof, checkpoint. */
static void
test_merkle_v03(void **state)
{
    struct sig_bundle *b = load_bundle(V03);
    const struct sig_tlog_entry *e = &b->entries[0];
    uint8_t lh[32], want[32], root[32];

    (void)state;
    assert_int_equal(e->body_len, 4189);
    sig_merkle_leaf_hash(e->body, e->body_len, lh);
    hex32("aee3c920bb1132e929ed20e1c194579a60e95849f7a554e0033fdd26ee221629", want);
    assert_memory_equal(lh, want, 32);
    assert_int_equal(e->proof_index, 75408392);
    assert_int_equal(e->tree_size, 75408393);
    hex32("1679e3d7752ed63764b0f7381d92daa4a5f7dbd755943e7e30636c8aa06ad573", root);
    assert_memory_equal(e->root_hash, root, 32);
    EXPECT_OK(sig_merkle_verify(lh, e->proof_index, e->tree_size, (const uint8_t(*)[32])e->hashes,
                                e->n_hashes, e->root_hash));
    /* The global index is not the proof index (4.13). */
    EXPECT_ERR(sig_merkle_verify(lh, e->log_index, e->tree_size, (const uint8_t(*)[32])e->hashes,
                                 e->n_hashes, e->root_hash),
               MT_ERR_SIGSTORE_INCLUSION_PROOF);
    /* Wrong index, size, a corrupted hash, a short or long path, a wrong root. */
    EXPECT_ERR(sig_merkle_verify(lh, e->proof_index - 1, e->tree_size,
                                 (const uint8_t(*)[32])e->hashes, e->n_hashes, e->root_hash),
               MT_ERR_SIGSTORE_INCLUSION_PROOF);
    EXPECT_ERR(sig_merkle_verify(lh, e->proof_index, e->tree_size + 1,
                                 (const uint8_t(*)[32])e->hashes, e->n_hashes, e->root_hash),
               MT_ERR_SIGSTORE_INCLUSION_PROOF);
    EXPECT_ERR(sig_merkle_verify(lh, e->proof_index, e->tree_size, (const uint8_t(*)[32])e->hashes,
                                 e->n_hashes - 1, e->root_hash),
               MT_ERR_SIGSTORE_INCLUSION_PROOF);
    e->hashes[3][7] ^= 1;
    EXPECT_ERR(sig_merkle_verify(lh, e->proof_index, e->tree_size, (const uint8_t(*)[32])e->hashes,
                                 e->n_hashes, e->root_hash),
               MT_ERR_SIGSTORE_INCLUSION_PROOF);
    e->hashes[3][7] ^= 1;
    root[0] ^= 1;
    EXPECT_ERR(sig_merkle_verify(lh, e->proof_index, e->tree_size, (const uint8_t(*)[32])e->hashes,
                                 e->n_hashes, root),
               MT_ERR_SIGSTORE_INCLUSION_PROOF);
    free_bundle(b);
}

static void
node(const uint8_t l[32], const uint8_t r[32], uint8_t out[32])
{
    uint8_t buf[65];
    unsigned int n = 0;

    buf[0] = 1;
    memcpy(buf + 1, l, 32);
    memcpy(buf + 33, r, 32);
    assert_int_equal(EVP_Digest(buf, 65, out, &n, EVP_sha256(), NULL), 1);
}

/* Small trees computed by hand: sizes 1, 2, 3, index bounds, proof too long. */
static void
test_merkle_small(void **state)
{
    uint8_t l[3][32], n01[32], root3[32], path[2][32];
    const uint8_t leaf[3] = {'a', 'b', 'c'};
    int i;

    (void)state;
    for (i = 0; i < 3; i++)
        sig_merkle_leaf_hash(&leaf[i], 1, l[i]);
    EXPECT_OK(sig_merkle_verify(l[0], 0, 1, NULL, 0, l[0]));
    EXPECT_ERR(sig_merkle_verify(l[0], 1, 1, NULL, 0, l[0]), MT_ERR_SIGSTORE_INCLUSION_PROOF);
    EXPECT_ERR(sig_merkle_verify(l[0], -1, 1, NULL, 0, l[0]), MT_ERR_SIGSTORE_INCLUSION_PROOF);
    EXPECT_ERR(sig_merkle_verify(l[0], 0, 0, NULL, 0, l[0]), MT_ERR_SIGSTORE_INCLUSION_PROOF);
    node(l[0], l[1], n01);
    node(n01, l[2], root3);
    /* leaf 2 of 3: path [n01] */
    memcpy(path[0], n01, 32);
    EXPECT_OK(sig_merkle_verify(l[2], 2, 3, (const uint8_t(*)[32])path, 1, root3));
    /* leaf 0 of 3: path [l1, l2] */
    memcpy(path[0], l[1], 32);
    memcpy(path[1], l[2], 32);
    EXPECT_OK(sig_merkle_verify(l[0], 0, 3, (const uint8_t(*)[32])path, 2, root3));
    /* leaf 1 of 2 with one extra hash: too long */
    memcpy(path[0], l[0], 32);
    memcpy(path[1], l[2], 32);
    EXPECT_OK(sig_merkle_verify(l[1], 1, 2, (const uint8_t(*)[32])path, 1, n01));
    EXPECT_ERR(sig_merkle_verify(l[1], 1, 2, (const uint8_t(*)[32])path, 2, n01),
               MT_ERR_SIGSTORE_INCLUSION_PROOF);
}

#define CP_TEXT                                                                                    \
    "rekor.sigstore.dev - 2605736670972794746\n75408393\n"                                         \
    "Fnnj13Uu1jdksPc4HZLapKX329dVlD5+MGNsiqBq1XM=\n"

static void
test_checkpoint(void **state)
{
    struct sig_bundle *b = load_bundle(V03);
    struct mt_sigstore_trust *t = load_trust(PROD);
    const struct sig_tlog_entry *e = &b->entries[0];
    const struct sig_log *log = sig_trust_find_tlog(t, e->log_id);
    struct mt_sigstore_result res;
    struct sig_checkpoint cp;
    char note[4096], *sigline;
    size_t text_len = 0, n;
    uint8_t hint[4] = {0xc0, 0xd2, 0x3d, 0x6a};

    (void)state;
    assert_non_null(log);
    assert_memory_equal(log->log_id, hint, 4);
    memset(&res, 0, sizeof(res));
    EXPECT_OK(sig_checkpoint_parse(e->checkpoint, e->checkpoint_len, &cp, &text_len));
    assert_string_equal(cp.origin, "rekor.sigstore.dev - 2605736670972794746");
    assert_int_equal(cp.size, 75408393);
    assert_memory_equal(cp.root, e->root_hash, 32);
    assert_int_equal(text_len, strlen(CP_TEXT));
    assert_memory_equal(e->checkpoint, CP_TEXT, text_len);
    EXPECT_OK(sig_checkpoint_verify(e->checkpoint, e->checkpoint_len, log, 0, &cp, &res));

    /* A witness line with an unknown hint, before the log's own line: ignored. */
    sigline = e->checkpoint + text_len + 1;
    n = (size_t)snprintf(note, sizeof(note), "%s\n\xe2\x80\x94 witness AAAAAAAAAAAAAAAA\n%s",
                         CP_TEXT, sigline);
    EXPECT_OK(sig_checkpoint_verify(note, n, log, 0, &cp, &res));
    /* The log's line with a flipped signature byte. */
    memcpy(note, e->checkpoint, e->checkpoint_len + 1);
    note[e->checkpoint_len - 10] = note[e->checkpoint_len - 10] == 'A' ? 'B' : 'A';
    EXPECT_ERR(sig_checkpoint_verify(note, e->checkpoint_len, log, 0, &cp, &res),
               MT_ERR_SIGSTORE_CHECKPOINT_SIG);
    /* Only a witness line: no signature from the log. */
    n = (size_t)snprintf(note, sizeof(note), "%s\n\xe2\x80\x94 rekor.sigstore.dev AAAAAAAAAAAA\n",
                         CP_TEXT);
    EXPECT_ERR(sig_checkpoint_verify(note, n, log, 0, &cp, &res),
               MT_ERR_SIGSTORE_CHECKPOINT_NO_SIG);
    /* Changed text: the signature no longer covers it. */
    memcpy(note, e->checkpoint, e->checkpoint_len + 1);
    note[30] = '9';
    EXPECT_ERR(sig_checkpoint_verify(note, e->checkpoint_len, log, 0, &cp, &res),
               MT_ERR_SIGSTORE_CHECKPOINT_SIG);
    free_bundle(b);
    mt_sigstore_trust_free(t);
}

static void
test_checkpoint_malformed(void **state)
{
    static const char *const bad[] = {
        "",
        "no blank line\n",
        CP_TEXT "\n",                        /* empty signature block */
        CP_TEXT "\n\xe2\x80\x94 x AAAAAAAA", /* no final newline */
        "\n75408393\nFnnj13Uu1jdksPc4HZLapKX329dVlD5+MGNsiqBq1XM=\n\n\xe2\x80\x94 x AAAAAAAA\n",
        "origin\nFnnj13Uu1jdksPc4HZLapKX329dVlD5+MGNsiqBq1XM=\n\n\xe2\x80\x94 x AAAAAAAA\n",
        "origin\n12x\nFnnj13Uu1jdksPc4HZLapKX329dVlD5+MGNsiqBq1XM=\n\n\xe2\x80\x94 x AAAAAAAA\n",
        "origin\n-1\nFnnj13Uu1jdksPc4HZLapKX329dVlD5+MGNsiqBq1XM=\n\n\xe2\x80\x94 x AAAAAAAA\n",
        "origin\n5\nAAAA\n\n\xe2\x80\x94 x AAAAAAAA\n", /* root not 32 bytes */
        "origin\n5\n!!!!\n\n\xe2\x80\x94 x AAAAAAAA\n", /* root not base64 */
        "origin\n99999999999999999999\nFnnj13Uu1jdksPc4HZLapKX329dVlD5+MGNsiqBq1XM=\n\n- x A\n",
    };
    struct sig_checkpoint cp;
    size_t i, tl;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (sig_checkpoint_parse(bad[i], strlen(bad[i]), &cp, &tl) == MT_OK)
            fail_msg("checkpoint %zu parsed", i);
    }
    EXPECT_ERR(sig_checkpoint_parse(NULL, 0, &cp, &tl), MT_ERR_SIGSTORE_CHECKPOINT_FORMAT);
}

/* Signature lines and origins that parse but must not verify. */
static void
test_checkpoint_lines(void **state)
{
    struct mt_sigstore_trust *t = load_trust(PROD);
    const struct sig_log *log = &t->tlogs[0];
    struct mt_sigstore_result res;
    struct sig_checkpoint cp;
    static const char *const lines[] = {
        CP_TEXT "\nnot an em dash line\n",
        CP_TEXT "\n\xe2\x80\x94 nameonly\n",
        CP_TEXT "\n\xe2\x80\x94 x AAAA\n", /* blob shorter than 5 bytes */
        CP_TEXT "\n\xe2\x80\x94 x !!!!!!!!\n",
        /* a v1 origin needs " - <tree id>" */
        ("rekor.sigstore.dev\n5\nFnnj13Uu1jdksPc4HZLapKX329dVlD5+MGNsiqBq1XM=\n\n\xe2\x80\x94 x "
         "wNI9agAA\n"),
    };
    size_t i;

    (void)state;
    memset(&res, 0, sizeof(res));
    for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
        EXPECT_ERR(sig_checkpoint_verify(lines[i], strlen(lines[i]), log, 0, &cp, &res),
                   MT_ERR_SIGSTORE_CHECKPOINT_FORMAT);
    mt_sigstore_trust_free(t);
}

/* 4.4 d worked example: payload length 5722, its SHA-256, and the verified SET. */
static void
test_set_payload(void **state)
{
    struct sig_bundle *b = load_bundle(V03);
    struct mt_sigstore_trust *t = load_trust(PROD);
    struct sig_tlog_entry *e = &b->entries[0];
    struct mt_sigstore_result res;
    uint8_t h[32], want[32];
    unsigned int n = 0;
    char *p = NULL;
    size_t len = 0;
    const char *tail =
        ",\"integratedTime\":1710869186,\"logID\":\"c0d23d6ad406973f9559f3ba2d1ca01f8"
        "4147d8ffc5b8445c224f98b9591801d\",\"logIndex\":79571823}";

    (void)state;
    EXPECT_OK(sig_set_payload(e, &p, &len));
    assert_int_equal(len, 5722);
    assert_memory_equal(p, "{\"body\":\"", 9);
    assert_string_equal(p + len - strlen(tail), tail);
    assert_int_equal(EVP_Digest(p, len, h, &n, EVP_sha256(), NULL), 1);
    hex32("a77a67b05ef48abed4f89d052a01940e1fda0144fe6f845d353e809d19d8d35c", want);
    assert_memory_equal(h, want, 32);
    mt_free(p);
    memset(&res, 0, sizeof(res));
    EXPECT_OK(sig_set_verify(e, sig_trust_find_tlog(t, e->log_id), &res));
    /* Every covered field matters. */
    e->integrated_time++;
    EXPECT_ERR(sig_set_verify(e, sig_trust_find_tlog(t, e->log_id), &res), MT_ERR_SIGSTORE_SET);
    e->integrated_time--;
    e->log_index++;
    EXPECT_ERR(sig_set_verify(e, sig_trust_find_tlog(t, e->log_id), &res), MT_ERR_SIGSTORE_SET);
    e->log_index--;
    /* A time outside the log key's window, even with a valid signature over it. */
    t->tlogs[0].valid.end_ms = (e->integrated_time - 1) * 1000;
    EXPECT_ERR(sig_set_verify(e, sig_trust_find_tlog(t, e->log_id), &res),
               MT_ERR_SIGSTORE_SET_TIME);
    t->tlogs[0].valid.end_ms = e->integrated_time * 1000; /* closed interval (3.2) */
    EXPECT_OK(sig_set_verify(e, sig_trust_find_tlog(t, e->log_id), &res));
    free_bundle(b);
    mt_sigstore_trust_free(t);
}

static void
b64_ok(const char *s, const char *want)
{
    uint8_t *out = NULL;
    size_t len = 0;

    EXPECT_OK(sig_b64_decode(s, strlen(s), 1024, &out, &len));
    assert_int_equal(len, strlen(want));
    assert_memory_equal(out, want, len);
    mt_free(out);
}

static void
b64_bad(const char *s, mt_err want)
{
    uint8_t *out = NULL;
    size_t len = 0;

    EXPECT_ERR(sig_b64_decode(s, strlen(s), 1024, &out, &len), want);
    assert_null(out);
}

static void
test_base64(void **state)
{
    (void)state;
    b64_ok("aGVsbG8/Pz8+", "hello?\x3f?>");
    b64_ok("aGVsbG8_Pz8-", "hello?\x3f?>"); /* URL-safe */
    b64_ok("aGk=", "hi");
    b64_ok("aGk", "hi"); /* padding optional */
    b64_ok("aG\r\nk=", "hi");
    b64_ok("", "");
    b64_bad("INVALID!!!BASE64!!!ENCODING===", MT_ERR_SIGSTORE_BASE64);
    b64_bad("aGVsbG8/Pz8-", MT_ERR_SIGSTORE_BASE64); /* mixed alphabets */
    b64_bad("aGk==", MT_ERR_SIGSTORE_BASE64);
    b64_bad("a", MT_ERR_SIGSTORE_BASE64);
    b64_bad("aGl=", MT_ERR_SIGSTORE_BASE64); /* non-canonical trailing bits */
    b64_bad("aG=k", MT_ERR_SIGSTORE_BASE64);
    b64_bad("aGk= ", MT_ERR_SIGSTORE_BASE64);
    b64_bad("aGVs bG8=", MT_ERR_SIGSTORE_BASE64);
    {
        uint8_t *out = NULL;
        size_t len = 0;

        EXPECT_ERR(sig_b64_decode("AAAAAAAA", 8, 5, &out, &len), MT_ERR_TOO_LARGE);
    }
}

static void
test_rfc3339_ms(void **state)
{
    int64_t ms = 0;

    (void)state;
    EXPECT_OK(sig_rfc3339_ms("2021-01-12T11:53:27Z", 0, &ms));
    assert_int_equal(ms, 1610452407000);
    EXPECT_OK(sig_rfc3339_ms("2022-12-31T23:59:59.999Z", 1, &ms));
    assert_int_equal(ms, 1672531199999);
    EXPECT_OK(sig_rfc3339_ms("2022-12-31T23:59:59.9991Z", 1, &ms));
    assert_int_equal(ms, 1672531200000);
    EXPECT_OK(sig_rfc3339_ms("2022-12-31T23:59:59.9991Z", 0, &ms));
    assert_int_equal(ms, 1672531199999);
    EXPECT_OK(sig_rfc3339_ms("2022-12-31T23:59:59.5Z", 0, &ms));
    assert_int_equal(ms, 1672531199500);
    EXPECT_ERR(sig_rfc3339_ms("2022-12-31 23:59:59Z", 0, &ms), MT_ERR_TIME);
    EXPECT_ERR(sig_rfc3339_ms("2022-12-31T23:59:59+01:00", 0, &ms), MT_ERR_TIME);
    EXPECT_ERR(sig_rfc3339_ms("2022-12-31T23:59:59.Z", 0, &ms), MT_ERR_TIME);
    EXPECT_ERR(sig_rfc3339_ms(NULL, 0, &ms), MT_ERR_TIME);
}

/* The production root: instances, IDs and closed windows (3.2, 3.4). */
static void
test_trust_windows(void **state)
{
    struct mt_sigstore_trust *t = load_trust(PROD);
    uint8_t id[32];

    (void)state;
    assert_int_equal(t->n_tlogs, 2);
    assert_int_equal(t->n_ctlogs, 2);
    assert_int_equal(t->n_cas, 2);
    assert_int_equal(t->n_tsas, 1);
    hex32("c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d", id);
    assert_ptr_equal(sig_trust_find_tlog(t, id), &t->tlogs[0]);
    assert_false(t->tlogs[0].ed25519);
    assert_true(t->tlogs[1].ed25519);
    id[0] ^= 1;
    assert_null(sig_trust_find_tlog(t, id));
    assert_string_equal(t->tlogs[0].base_url, "https://rekor.sigstore.dev");
    /* CA #1: 2021-03-07T03:20:29Z .. 2022-12-31T23:59:59.999Z, both ends inclusive. */
    assert_true(sig_window_contains(&t->cas[0].valid, 1615087229000));
    assert_false(sig_window_contains(&t->cas[0].valid, 1615087228999));
    assert_true(sig_window_contains(&t->cas[0].valid, 1672531199999));
    assert_false(sig_window_contains(&t->cas[0].valid, 1672531200000));
    assert_true(t->cas[0].anchor_self_signed);
    assert_int_equal(sk_X509_num(t->cas[0].intermediates), 0);
    assert_int_equal(sk_X509_num(t->cas[1].intermediates), 1);
    /* CA #2 is open-ended. */
    assert_true(sig_window_contains(&t->cas[1].valid, INT64_MAX));
    mt_sigstore_trust_free(t);
    mt_sigstore_trust_free(NULL);
}

/* A trusted root with one field changed must be refused (3.1-3.2). */
static void
trust_mutant(const char *path, json_t *value, mt_err want)
{
    json_t *root = mt_test_load_shared_json(PROD), *o = root;
    struct mt_sigstore_trust *t = NULL;
    char *text, buf[256], *tok, *save = NULL;
    const char *last = NULL;

    snprintf(buf, sizeof(buf), "%s", path);
    for (tok = strtok_r(buf, "/", &save); tok != NULL; tok = strtok_r(NULL, "/", &save)) {
        if (last != NULL)
            o = json_is_array(o) ? json_array_get(o, (size_t)strtoul(last, NULL, 10))
                                 : json_object_get(o, last);
        last = tok;
    }
    assert_non_null(o);
    if (value == NULL) {
        if (json_is_array(o))
            json_array_remove(o, (size_t)strtoul(last, NULL, 10));
        else
            json_object_del(o, last);
    } else if (json_is_array(o)) {
        json_array_set_new(o, (size_t)strtoul(last, NULL, 10), value);
    } else {
        json_object_set_new(o, last, value);
    }
    text = json_dumps(root, JSON_COMPACT);
    assert_non_null(text);
    EXPECT_ERR(mt_sigstore_trust_parse((const uint8_t *)text, strlen(text), &t), want);
    assert_null(t);
    free(text); /* lint-allow: free (jansson's malloc) */
    json_decref(root);
}

static void
test_trust_negative(void **state)
{
    struct mt_sigstore_trust *t = NULL;
    uint8_t *doc, *big;
    size_t len = 0, i;

    (void)state;
    mt_test_require_shared();
    trust_mutant("tlogs/0/publicKey/validFor/start", NULL, MT_ERR_SIGSTORE_TRUST_ROOT);
    trust_mutant("tlogs/0/publicKey/validFor", NULL, MT_ERR_SIGSTORE_TRUST_ROOT);
    trust_mutant("tlogs/0/publicKey/validFor/end", json_string("2020-01-01T00:00:00Z"),
                 MT_ERR_SIGSTORE_TRUST_ROOT); /* end before start */
    trust_mutant("tlogs/0/publicKey/validFor/start", json_string("yesterday"),
                 MT_ERR_SIGSTORE_TRUST_ROOT);
    trust_mutant("tlogs/0/publicKey/rawBytes", json_string("AAAA"), MT_ERR_SIGSTORE_TRUST_ROOT);
    trust_mutant("tlogs/0/publicKey/rawBytes", json_string("!!"), MT_ERR_SIGSTORE_TRUST_ROOT);
    trust_mutant("tlogs/0/publicKey/rawBytes", json_integer(5), MT_ERR_SIGSTORE_TRUST_ROOT);
    trust_mutant("tlogs/0/hashAlgorithm", json_string("SHA2_384"), MT_ERR_SIGSTORE_TRUST_ROOT);
    trust_mutant("tlogs/0/logId/keyId", json_string("AAAA"), MT_ERR_SIGSTORE_TRUST_ROOT);
    trust_mutant("tlogs/0/baseUrl", NULL, MT_ERR_SIGSTORE_TRUST_ROOT);
    trust_mutant("tlogs", NULL, MT_ERR_SIGSTORE_TRUST_ROOT);
    trust_mutant("tlogs", json_object(), MT_ERR_SIGSTORE_TRUST_ROOT);
    trust_mutant("mediaType", json_string("application/json"), MT_ERR_SIGSTORE_TRUST_ROOT);
    trust_mutant("certificateAuthorities/0/certChain/certificates", json_array(),
                 MT_ERR_SIGSTORE_TRUST_ROOT);
    trust_mutant("certificateAuthorities/0/certChain/certificates/0/rawBytes", json_string("MIIB"),
                 MT_ERR_SIGSTORE_TRUST_ROOT);
    trust_mutant("ctlogs/0/publicKey/validFor/start", json_string("2021-13-01T00:00:00Z"),
                 MT_ERR_SIGSTORE_TRUST_ROOT);
    trust_mutant("timestampAuthorities/0/certChain", NULL, MT_ERR_SIGSTORE_TRUST_ROOT);

    /* Truncated, not JSON, duplicate keys, too large. */
    doc = mt_test_read_shared(PROD, &len);
    EXPECT_ERR(mt_sigstore_trust_parse(doc, len / 2, &t), MT_ERR_SIGSTORE_TRUST_ROOT);
    EXPECT_ERR(mt_sigstore_trust_parse((const uint8_t *)"[]", 2, &t), MT_ERR_SIGSTORE_TRUST_ROOT);
    EXPECT_ERR(mt_sigstore_trust_parse((const uint8_t *)"{\"a\":1,\"a\":2}", 13, &t),
               MT_ERR_SIGSTORE_TRUST_ROOT);
    mt_free(doc);
    big = mt_malloc(MT_SIGSTORE_MAX_DOC + 1);
    assert_non_null(big);
    for (i = 0; i < MT_SIGSTORE_MAX_DOC + 1; i++)
        big[i] = ' ';
    EXPECT_ERR(mt_sigstore_trust_parse(big, MT_SIGSTORE_MAX_DOC + 1, &t), MT_ERR_TOO_LARGE);
    mt_free(big);
    assert_null(t);
    EXPECT_ERR(mt_sigstore_trust_load("/nonexistent/trusted_root.json", &t), MT_ERR_IO);
}

/* 4.7: the v0.3 leaf at its integrated time, and at times where it must not chain. */
static void
test_fulcio_chain(void **state)
{
    struct sig_bundle *b = load_bundle(V03);
    struct mt_sigstore_trust *t = load_trust(PROD);
    struct mt_sigstore_result res;
    X509 *issuer = NULL;
    unsigned char *p = NULL;
    uint8_t h[32], want[32];
    unsigned int n = 0;
    int len;

    (void)state;
    memset(&res, 0, sizeof(res));
    EXPECT_OK(sig_fulcio_verify(t, b->leaf, 1710869186, &issuer, &res));
    assert_non_null(issuer);
    /* 4.8 worked value: the issuer key hash. */
    len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(issuer), &p);
    assert_true(len > 0);
    assert_int_equal(EVP_Digest(p, (size_t)len, h, &n, EVP_sha256(), NULL), 1);
    OPENSSL_free(p);
    hex32("c355ee53d69e68aade04e5c6cc202cfac11fbcaa67e9a2ba7a64ced2aec8ccd0", want);
    assert_memory_equal(h, want, 32);
    EXPECT_OK(sig_sct_verify(t, b->leaf, issuer, &res));
    X509_free(issuer);
    issuer = NULL;
    /* Leaf validity 17:26:26-17:36:26 UTC (7.6). */
    EXPECT_OK(sig_fulcio_verify(t, b->leaf, 1710869186 + 599, &issuer, &res));
    X509_free(issuer);
    issuer = NULL;
    res.detail[0] = '\0';
    EXPECT_ERR(sig_fulcio_verify(t, b->leaf, 1710869186 + 601, &issuer, &res),
               MT_ERR_SIGSTORE_CHAIN);
    assert_non_null(strstr(res.detail, "expired"));
    /* 2022-06-01: CA #1 and #2 both valid by window, but the leaf is not yet valid. */
    EXPECT_ERR(sig_fulcio_verify(t, b->leaf, 1654041600, &issuer, &res), MT_ERR_SIGSTORE_CHAIN);
    /* 2021-01-01: before every CA window. */
    EXPECT_ERR(sig_fulcio_verify(t, b->leaf, 1609459200, &issuer, &res), MT_ERR_SIGSTORE_NO_CA);
    assert_null(issuer);
    free_bundle(b);
    mt_sigstore_trust_free(t);
}

/* A certificate for key, issued by (icert, ikey) or self-signed; eku NULL: no EKU extension. */
static X509 *
mk_cert(const char *cn, EVP_PKEY *key, X509 *icert, EVP_PKEY *ikey, int ca, const char *eku,
        time_t now)
{
    X509 *c = X509_new();
    X509_NAME *name = X509_NAME_new();
    X509V3_CTX v3;
    X509_EXTENSION *ext;
    static long serial = 1;
    struct {
        int nid;
        const char *value;
    } exts[5];
    size_t i, n = 0;

    assert_non_null(c);
    assert_non_null(name);
    assert_int_equal(X509_set_version(c, 2), 1);
    assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(c), serial++), 1);
    assert_int_equal(
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const uint8_t *)cn, -1, -1, 0), 1);
    assert_int_equal(X509_set_subject_name(c, name), 1);
    assert_int_equal(X509_set_issuer_name(c, icert != NULL ? X509_get_subject_name(icert) : name),
                     1);
    X509_NAME_free(name);
    assert_non_null(X509_time_adj_ex(X509_getm_notBefore(c), -1, 0, &now));
    assert_non_null(X509_time_adj_ex(X509_getm_notAfter(c), 1, 0, &now));
    assert_int_equal(X509_set_pubkey(c, key), 1);
    X509V3_set_ctx(&v3, icert != NULL ? icert : c, c, NULL, NULL, 0);
    exts[n].nid = NID_basic_constraints,
    exts[n++].value = ca ? "critical,CA:TRUE" : "critical,CA:FALSE";
    exts[n].nid = NID_key_usage,
    exts[n++].value = ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature";
    exts[n].nid = NID_subject_key_identifier, exts[n++].value = "hash";
    exts[n].nid = NID_authority_key_identifier, exts[n++].value = "keyid:always";
    if (eku != NULL)
        exts[n].nid = NID_ext_key_usage, exts[n++].value = eku;
    for (i = 0; i < n; i++) {
        ext = X509V3_EXT_conf_nid(NULL, &v3, exts[i].nid, exts[i].value);
        assert_non_null(ext);
        assert_int_equal(X509_add_ext(c, ext, -1), 1);
        X509_EXTENSION_free(ext);
    }
    assert_true(X509_sign(c, ikey != NULL ? ikey : key, EVP_sha256()) > 0);
    return c;
}

/*
 * 4.7, review finding 7: an issuer that carries an EKU extension must allow
 * codeSigning (or any usage), as in Go; one without the extension is
 * unrestricted.  A chain root -> intermediate -> leaf generated here, as the
 * only CA of the production root.
 */
static mt_err
eku_chain(const char *root_eku, const char *int_eku, struct mt_sigstore_result *res)
{
    struct mt_sigstore_trust *t = load_trust(PROD);
    EVP_PKEY *rk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    EVP_PKEY *ik = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    EVP_PKEY *lk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    time_t now = time(NULL);
    X509 *root, *inter, *leaf, *issuer = NULL;
    size_t i;
    mt_err e;

    assert_true(rk != NULL && ik != NULL && lk != NULL);
    root = mk_cert("eku root", rk, NULL, NULL, 1, root_eku, now);
    inter = mk_cert("eku intermediate", ik, root, rk, 1, int_eku, now);
    leaf = mk_cert("eku leaf", lk, inter, ik, 0, "codeSigning", now);
    for (i = 0; i < t->n_cas; i++) {
        X509_free(t->cas[i].anchor);
        sk_X509_pop_free(t->cas[i].intermediates, X509_free);
    }
    t->n_cas = 1;
    t->cas[0].anchor = root;
    t->cas[0].intermediates = sk_X509_new_null();
    assert_non_null(t->cas[0].intermediates);
    assert_true(sk_X509_push(t->cas[0].intermediates, inter) > 0);
    t->cas[0].anchor_self_signed = 1;
    t->cas[0].valid.start_ms = INT64_MIN;
    t->cas[0].valid.end_ms = SIG_TIME_OPEN;
    memset(res, 0, sizeof(*res));
    e = sig_fulcio_verify(t, leaf, (int64_t)now, &issuer, res);
    if (e == MT_OK)
        assert_int_equal(X509_cmp(issuer, inter), 0);
    X509_free(issuer);
    X509_free(leaf);
    EVP_PKEY_free(rk);
    EVP_PKEY_free(ik);
    EVP_PKEY_free(lk);
    mt_sigstore_trust_free(t);
    return e;
}

static void
test_fulcio_intermediate_eku(void **state)
{
    struct mt_sigstore_result res;

    (void)state;
    EXPECT_OK(eku_chain(NULL, "codeSigning", &res));
    EXPECT_OK(eku_chain(NULL, NULL, &res));
    EXPECT_OK(eku_chain(NULL, "serverAuth,anyExtendedKeyUsage", &res));
    EXPECT_OK(eku_chain("codeSigning,serverAuth", "codeSigning", &res));
    EXPECT_ERR(eku_chain(NULL, "serverAuth,timeStamping", &res), MT_ERR_SIGSTORE_CHAIN);
    assert_non_null(strstr(res.detail, "purpose"));
    EXPECT_ERR(eku_chain("serverAuth", "codeSigning", &res), MT_ERR_SIGSTORE_CHAIN);
}

/* 4.8: without the CT log, or with another key, no SCT counts. */
static void
test_sct(void **state)
{
    struct sig_bundle *b = load_bundle(V03);
    struct mt_sigstore_trust *t = load_trust(PROD);
    struct mt_sigstore_trust *other =
        load_trust(VDIR "conformance/invalid-ct-key_fail/trusted_root.json");
    struct mt_sigstore_result res;
    X509 *issuer = NULL;
    size_t n;

    (void)state;
    memset(&res, 0, sizeof(res));
    EXPECT_OK(sig_fulcio_verify(t, b->leaf, 1710869186, &issuer, &res));
    EXPECT_ERR(sig_sct_verify(other, b->leaf, issuer, &res), MT_ERR_SIGSTORE_SCT);
    n = t->n_ctlogs;
    t->n_ctlogs = 0;
    EXPECT_ERR(sig_sct_verify(t, b->leaf, issuer, &res), MT_ERR_SIGSTORE_SCT);
    t->n_ctlogs = n;
    /* SCT time outside the CT key window: skipped. */
    t->ctlogs[1].valid.end_ms = 1710869186000;
    EXPECT_ERR(sig_sct_verify(t, b->leaf, issuer, &res), MT_ERR_SIGSTORE_SCT);
    t->ctlogs[1].valid.end_ms = SIG_TIME_OPEN;
    EXPECT_OK(sig_sct_verify(t, b->leaf, issuer, &res));
    /* Wrong issuer key hash: the leaf as its own issuer. */
    EXPECT_ERR(sig_sct_verify(t, b->leaf, b->leaf, &res), MT_ERR_SIGSTORE_SCT);
    X509_free(issuer);
    free_bundle(b);
    mt_sigstore_trust_free(t);
    mt_sigstore_trust_free(other);
}

static void
test_identity(void **state)
{
    struct sig_bundle *b = load_bundle(V03);
    struct sig_bundle *on = load_bundle(VDIR "sigstore-go/othername.sigstore.json");
    struct mt_sigstore_policy pol;
    struct mt_sigstore_result res;
    char v[512];
    int found = 0, m = 0;

    (void)state;
    EXPECT_OK(sig_cert_san(b->leaf, v, sizeof(v)));
    assert_string_equal(v, BEACON);
    EXPECT_OK(sig_cert_issuer(b->leaf, v, sizeof(v)));
    assert_string_equal(v, GHA);
    EXPECT_OK(sig_cert_fulcio_ext(b->leaf, 1, v, sizeof(v), &found));
    assert_true(found);
    assert_string_equal(v, GHA);
    EXPECT_OK(sig_cert_fulcio_ext(b->leaf, 5, v, sizeof(v), &found));
    assert_true(found);
    assert_string_equal(v, "sigstore-conformance/extremely-dangerous-public-oidc-beacon");
    EXPECT_OK(sig_cert_fulcio_ext(b->leaf, 9, v, sizeof(v), &found));
    assert_true(found);
    assert_string_equal(v, BEACON);
    EXPECT_OK(sig_cert_fulcio_ext(b->leaf, 23, v, sizeof(v), &found));
    assert_false(found);
    /* A value that does not fit is refused, not truncated. */
    EXPECT_ERR(sig_cert_fulcio_ext(b->leaf, 9, v, 16, &found), MT_ERR_SIGSTORE_CERT_EXTENSION);
    /* otherName SAN (sigstore-go othername vector). */
    EXPECT_OK(sig_cert_san(on->leaf, v, sizeof(v)));
    assert_string_equal(v, "foo!oidc.local");
    EXPECT_OK(sig_cert_issuer(on->leaf, v, sizeof(v)));
    assert_string_equal(v, "http://oidc.local:8080");

    memset(&pol, 0, sizeof(pol));
    memset(&res, 0, sizeof(res));
    EXPECT_ERR(sig_policy_check_keyless(&pol), MT_ERR_SIGSTORE_POLICY);
    pol.identity = BEACON;
    EXPECT_ERR(sig_policy_check_keyless(&pol), MT_ERR_SIGSTORE_POLICY);
    pol.issuer = GHA;
    EXPECT_OK(sig_policy_check_keyless(&pol));
    EXPECT_OK(sig_identity_verify(b->leaf, &pol, &res));
    assert_string_equal(res.identity, BEACON);
    pol.identity_regexp = "^https://github\\.com/sigstore-conformance/.*@refs/heads/main$";
    EXPECT_OK(sig_identity_verify(b->leaf, &pol, &res));
    /* Exact and regexp: both must match. */
    pol.identity_regexp = "refs/tags/";
    EXPECT_ERR(sig_identity_verify(b->leaf, &pol, &res), MT_ERR_SIGSTORE_IDENTITY);
    pol.identity_regexp = "(unclosed";
    EXPECT_ERR(sig_policy_check_keyless(&pol), MT_ERR_SIGSTORE_POLICY);
    pol.identity_regexp = NULL;
    pol.identity = BEACON "x";
    memset(&res, 0, sizeof(res));
    EXPECT_ERR(sig_identity_verify(b->leaf, &pol, &res), MT_ERR_SIGSTORE_IDENTITY);
    assert_non_null(strstr(res.detail, "not allowed"));
    pol.identity = NULL;
    pol.identity_regexp = "sigstore-conformance"; /* unanchored, like RE2 MatchString */
    EXPECT_OK(sig_identity_verify(b->leaf, &pol, &res));
    pol.issuer = "https://accounts.google.com";
    EXPECT_ERR(sig_identity_verify(b->leaf, &pol, &res), MT_ERR_SIGSTORE_ISSUER);
    pol.issuer = NULL;
    pol.issuer_regexp = "^https://token\\.actions\\.githubusercontent\\.com$";
    EXPECT_OK(sig_identity_verify(b->leaf, &pol, &res));
    /* GitHub workflow pins (.2-.6). */
    pol.gh_workflow_repository = "sigstore-conformance/extremely-dangerous-public-oidc-beacon";
    pol.gh_workflow_ref = "refs/heads/main";
    EXPECT_OK(sig_identity_verify(b->leaf, &pol, &res));
    pol.gh_workflow_ref = "refs/heads/master";
    EXPECT_ERR(sig_identity_verify(b->leaf, &pol, &res), MT_ERR_SIGSTORE_GH_EXTENSION);
    pol.gh_workflow_ref = NULL;
    pol.gh_workflow_trigger = "pull_request_target";
    EXPECT_ERR(sig_identity_verify(b->leaf, &pol, &res), MT_ERR_SIGSTORE_GH_EXTENSION);
    /* othername: foo@oidc.local is not foo!oidc.local. */
    memset(&pol, 0, sizeof(pol));
    pol.identity = "foo@oidc.local";
    pol.issuer = "http://oidc.local:8080";
    EXPECT_ERR(sig_identity_verify(on->leaf, &pol, &res), MT_ERR_SIGSTORE_IDENTITY);
    EXPECT_OK(sig_regex_match("^a.c$", "abc", &m));
    assert_true(m);
    EXPECT_OK(sig_regex_match("^a.c$", "xabc", &m));
    assert_false(m);
    free_bundle(b);
    free_bundle(on);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_merkle_v03),
        cmocka_unit_test(test_merkle_small),
        cmocka_unit_test(test_checkpoint),
        cmocka_unit_test(test_checkpoint_malformed),
        cmocka_unit_test(test_checkpoint_lines),
        cmocka_unit_test(test_set_payload),
        cmocka_unit_test(test_base64),
        cmocka_unit_test(test_rfc3339_ms),
        cmocka_unit_test(test_trust_windows),
        cmocka_unit_test(test_trust_negative),
        cmocka_unit_test(test_fulcio_chain),
        cmocka_unit_test(test_fulcio_intermediate_eku),
        cmocka_unit_test(test_sct),
        cmocka_unit_test(test_identity),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
