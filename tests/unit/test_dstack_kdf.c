/*
 * dstack GetKey derivation (dstack.md section 2.2) against every case of
 * shared/dstack-fixtures/sim-getkey-vectors.json: key bytes, derived public
 * key and the message signature_chain[0] signs.  The fixture is required:
 * the test fails, never skips, when it is absent.  Plus the algorithm names
 * the agent accepts, invalid secp256k1 scalars, and an independent HKDF
 * (two HMACs) on a long path.
 */
#include "mt_testlib.h"

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "dstack/dstack_kdf.h"
#include "util/mt_alloc.h"
#include "util/mt_hex.h"
#include "util/mt_json.h"

#define VECTORS "dstack-fixtures/sim-getkey-vectors.json"
#define APPKEYS "dstack-fixtures/sim-appkeys.json"

static void
hex_member(const json_t *o, const char *key, uint8_t *out, size_t n)
{
    if (mt_json_get_hex(o, key, out, n) != MT_OK)
        fail_msg("%s: member %s is not %zu bytes of hex", VECTORS, key, n);
}

static void
load_app_key(uint8_t app_key[32])
{
    json_t *v = mt_test_load_shared_json(VECTORS);
    json_t *k = mt_test_load_shared_json(APPKEYS);
    uint8_t other[32];

    hex_member(v, "app_k256_key", app_key, 32);
    /* the vectors were computed from the simulator's appkeys.json */
    if (mt_json_get_hex(k, "k256_key", other, 32) != MT_OK)
        fail_msg("%s: k256_key is not 32 bytes of hex", APPKEYS);
    assert_memory_equal(app_key, other, 32);
    json_decref(v);
    json_decref(k);
}

static void
test_vectors(void **state)
{
    json_t *v = mt_test_load_shared_json(VECTORS), *cases, *c, *req;
    uint8_t app_key[32], want_key[32], want_pub[MT_DSTACK_MAX_PUBKEY], pub[MT_DSTACK_MAX_PUBKEY];
    const char *path, *purpose, *alg, *want_msg;
    size_t i, path_len, pub_len, want_pub_len, msg_len, checked_msgs = 0;
    struct mt_secret key = {0};
    enum mt_dstack_alg a;
    char *msg;

    (void)state;
    load_app_key(app_key);
    if (mt_json_get_array(v, "cases", 1000, &cases) != MT_OK || json_array_size(cases) == 0)
        fail_msg("%s: no cases", VECTORS);
    for (i = 0; i < json_array_size(cases); i++) {
        c = json_array_get(cases, i);
        if (mt_json_get_object(c, "request", &req) != MT_OK ||
            mt_json_get_str(req, "path", &path, &path_len) != MT_OK ||
            mt_json_get_str(req, "purpose", &purpose, NULL) != MT_OK ||
            mt_json_get_str(req, "algorithm", &alg, NULL) != MT_OK)
            fail_msg("%s: case %zu has no request path/purpose/algorithm", VECTORS, i);
        hex_member(c, "key", want_key, 32);

        EXPECT_OK(mt_dstack_derive_key(app_key, path, path_len, &key));
        if (!mt_secret_eq(&key, want_key, 32))
            fail_msg("case %zu (path \"%s\"): key %s differs", i, path,
                     mt_test_hex(key.p, key.len));

        EXPECT_OK(mt_dstack_alg_parse(alg, &a));
        EXPECT_OK(mt_dstack_derived_pubkey(key.p, a, pub, &pub_len));
        want_pub_len = a == MT_DSTACK_SECP256K1 ? 33 : 32;
        hex_member(c, "derived_pubkey", want_pub, want_pub_len);
        assert_int_equal(pub_len, want_pub_len);
        if (memcmp(pub, want_pub, pub_len) != 0)
            fail_msg("case %zu (path \"%s\", %s): pubkey %s differs", i, path, alg,
                     mt_test_hex(pub, pub_len));

        if (mt_json_get_str(c, "signed_message", &want_msg, NULL) == MT_OK) {
            EXPECT_OK(mt_dstack_signed_message(purpose, pub, pub_len, &msg, &msg_len));
            assert_string_equal(msg, want_msg);
            assert_int_equal(msg_len, strlen(want_msg));
            mt_free(msg);
            checked_msgs++;
        }
        mt_secret_free(&key);
    }
    /* every case of the current fixture lists its message */
    assert_int_equal(checked_msgs, json_array_size(cases));
    json_decref(v);
}

/* The simulator's app public key (dstack.md 2.2, also asserted by dstack's Go SDK test). */
static void
test_app_pubkey(void **state)
{
    json_t *v = mt_test_load_shared_json(VECTORS);
    uint8_t app_key[32], want[33], pub[MT_DSTACK_MAX_PUBKEY];
    size_t n;

    (void)state;
    load_app_key(app_key);
    hex_member(v, "app_k256_pubkey_compressed", want, 33);
    EXPECT_OK(mt_dstack_derived_pubkey(app_key, MT_DSTACK_SECP256K1, pub, &n));
    assert_int_equal(n, 33);
    assert_memory_equal(pub, want, 33);
    json_decref(v);
}

static void
test_alg_parse(void **state)
{
    static const char *const bad[] = {
        "Secp256k1", "K256",       "ED25519", "ed25519 ", "secp256r1",          "p256",
        "ed448",     " secp256k1", "sr25519", "k256\n",   "secp256k1_prehashed"};
    enum mt_dstack_alg a;
    size_t i;

    (void)state;
    a = MT_DSTACK_ED25519;
    EXPECT_OK(mt_dstack_alg_parse("", &a));
    assert_int_equal(a, MT_DSTACK_SECP256K1);
    a = MT_DSTACK_ED25519;
    EXPECT_OK(mt_dstack_alg_parse(NULL, &a));
    assert_int_equal(a, MT_DSTACK_SECP256K1);
    a = MT_DSTACK_ED25519;
    EXPECT_OK(mt_dstack_alg_parse("secp256k1", &a));
    assert_int_equal(a, MT_DSTACK_SECP256K1);
    a = MT_DSTACK_ED25519;
    EXPECT_OK(mt_dstack_alg_parse("k256", &a));
    assert_int_equal(a, MT_DSTACK_SECP256K1);
    EXPECT_OK(mt_dstack_alg_parse("ed25519", &a));
    assert_int_equal(a, MT_DSTACK_ED25519);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        a = MT_DSTACK_ED25519;
        EXPECT_ERR(mt_dstack_alg_parse(bad[i], &a), MT_ERR_ARG);
        assert_int_equal(a, MT_DSTACK_ED25519);
    }
    EXPECT_ERR(mt_dstack_alg_parse("k256", NULL), MT_ERR_ARG);
}

static void
test_pubkey_errors(void **state)
{
    /* secp256k1 group order n */
    static const char order_hex[] =
        "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141";
    uint8_t key[32], pub[MT_DSTACK_MAX_PUBKEY];
    size_t n = 777;

    (void)state;
    memset(key, 0, sizeof(key));
    EXPECT_ERR(mt_dstack_derived_pubkey(key, MT_DSTACK_SECP256K1, pub, &n), MT_ERR_CRYPTO);
    EXPECT_OK(mt_hex_decode_exact(order_hex, 64, key, 32));
    EXPECT_ERR(mt_dstack_derived_pubkey(key, MT_DSTACK_SECP256K1, pub, &n), MT_ERR_CRYPTO);
    memset(key, 0xff, sizeof(key));
    EXPECT_ERR(mt_dstack_derived_pubkey(key, MT_DSTACK_SECP256K1, pub, &n), MT_ERR_CRYPTO);
    assert_int_equal(n, 777);
    /* n - 1 is the largest valid scalar; any 32 bytes are a valid ed25519 seed */
    EXPECT_OK(mt_hex_decode_exact(order_hex, 64, key, 32));
    key[31] = 0x40;
    EXPECT_OK(mt_dstack_derived_pubkey(key, MT_DSTACK_SECP256K1, pub, &n));
    assert_int_equal(n, 33);
    assert_true(pub[0] == 2 || pub[0] == 3);
    memset(key, 0xff, sizeof(key));
    EXPECT_OK(mt_dstack_derived_pubkey(key, MT_DSTACK_ED25519, pub, &n));
    assert_int_equal(n, 32);

    EXPECT_ERR(mt_dstack_derived_pubkey(key, (enum mt_dstack_alg)7, pub, &n), MT_ERR_ARG);
    EXPECT_ERR(mt_dstack_derived_pubkey(NULL, MT_DSTACK_ED25519, pub, &n), MT_ERR_ARG);
    EXPECT_ERR(mt_dstack_derived_pubkey(key, MT_DSTACK_ED25519, NULL, &n), MT_ERR_ARG);
    EXPECT_ERR(mt_dstack_derived_pubkey(key, MT_DSTACK_ED25519, pub, NULL), MT_ERR_ARG);
}

/* HMAC-SHA256 through EVP_MAC, for the independent HKDF below. */
static void
hmac256(const uint8_t *k, size_t klen, const uint8_t *m1, size_t m1len, const uint8_t *m2,
        size_t m2len, uint8_t out[32])
{
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(mac);
    OSSL_PARAM p[2];
    size_t n = 0;

    p[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
    p[1] = OSSL_PARAM_construct_end();
    assert_int_equal(EVP_MAC_init(ctx, k, klen, p), 1);
    assert_int_equal(EVP_MAC_update(ctx, m1, m1len), 1);
    assert_int_equal(EVP_MAC_update(ctx, m2, m2len), 1);
    assert_int_equal(EVP_MAC_final(ctx, out, &n, 32), 1);
    assert_int_equal(n, 32);
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
}

/* RFC 5869 by hand: PRK = HMAC(salt, IKM); OKM = HMAC(PRK, info || 0x01). */
static void
test_long_path_matches_hmac(void **state)
{
    static const uint8_t one = 1;
    uint8_t app_key[32], prk[32], want[32];
    struct mt_secret key = {0};
    char *path;
    size_t n = 5000;

    (void)state;
    load_app_key(app_key);
    path = mt_malloc(n);
    assert_non_null(path);
    memset(path, 'p', n);
    hmac256((const uint8_t *)"RATLS", 5, app_key, 32, NULL, 0, prk);
    hmac256(prk, 32, (const uint8_t *)path, n, &one, 1, want);
    EXPECT_OK(mt_dstack_derive_key(app_key, path, n, &key));
    assert_true(mt_secret_eq(&key, want, 32));
    mt_secret_free(&key);
    mt_free(path);
}

static void
test_derive_args(void **state)
{
    uint8_t app_key[32];
    struct mt_secret a = {0}, b = {0}, keep;

    (void)state;
    load_app_key(app_key);
    /* NULL path with length 0 is the empty path; the key is then case 0's */
    EXPECT_OK(mt_dstack_derive_key(app_key, NULL, 0, &a));
    EXPECT_OK(mt_dstack_derive_key(app_key, "", 0, &b));
    assert_true(mt_secret_eq(&a, b.p, b.len));
    mt_secret_free(&b);
    /* path_len, not strlen, decides: "test" is a prefix of "tests" */
    EXPECT_OK(mt_dstack_derive_key(app_key, "tests", 4, &b));
    mt_secret_free(&a);
    EXPECT_OK(mt_dstack_derive_key(app_key, "test", 4, &a));
    assert_true(mt_secret_eq(&a, b.p, b.len));
    mt_secret_free(&a);
    mt_secret_free(&b);

    memset(&keep, 0x33, sizeof(keep));
    a = keep;
    EXPECT_ERR(mt_dstack_derive_key(app_key, NULL, 3, &a), MT_ERR_ARG);
    EXPECT_ERR(mt_dstack_derive_key(NULL, "x", 1, &a), MT_ERR_ARG);
    EXPECT_ERR(mt_dstack_derive_key(app_key, "x", 1, NULL), MT_ERR_ARG);
    mt_alloc_fail_at(1);
    EXPECT_ERR(mt_dstack_derive_key(app_key, "x", 1, &a), MT_ERR_NOMEM);
    mt_alloc_fail_at(0);
    assert_memory_equal(&a, &keep, sizeof(a));
}

static void
test_signed_message_args(void **state)
{
    uint8_t pub[34] = {0x02, 0xab};
    char *msg = NULL;
    size_t n = 0;

    (void)state;
    EXPECT_OK(mt_dstack_signed_message(NULL, pub, 2, &msg, &n));
    assert_string_equal(msg, ":02ab");
    assert_int_equal(n, 5);
    mt_free(msg);
    EXPECT_OK(mt_dstack_signed_message("a:b", pub, 1, &msg, &n));
    assert_string_equal(msg, "a:b:02");
    mt_free(msg);
    EXPECT_ERR(mt_dstack_signed_message("x", pub, 34, &msg, &n), MT_ERR_TOO_LARGE);
    EXPECT_ERR(mt_dstack_signed_message("x", pub, 0, &msg, &n), MT_ERR_ARG);
    EXPECT_ERR(mt_dstack_signed_message("x", NULL, 33, &msg, &n), MT_ERR_ARG);
    EXPECT_ERR(mt_dstack_signed_message("x", pub, 33, NULL, &n), MT_ERR_ARG);
    mt_alloc_fail_at(1);
    EXPECT_ERR(mt_dstack_signed_message("x", pub, 33, &msg, &n), MT_ERR_NOMEM);
    mt_alloc_fail_at(0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_app_pubkey),
        cmocka_unit_test(test_alg_parse),
        cmocka_unit_test(test_pubkey_errors),
        cmocka_unit_test(test_long_path_matches_hmac),
        cmocka_unit_test(test_derive_args),
        cmocka_unit_test(test_signed_message_args),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
