#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include "dcap/x509.h"

#include "mt_testlib.h"

/*
 * mt_p256_key_from_raw: a quote's attestation key (raw X||Y) becomes a key
 * that verifies what the private key signed and nothing else; points off
 * the curve, the zero point and coordinates outside the field are refused;
 * threads importing at once (they share the group parameters) all succeed.
 */

struct signer {
    EVP_PKEY *key;
    uint8_t xy[64];
};

static void
signer_new(struct signer *s)
{
    uint8_t pub[65];
    size_t len = 0;

    s->key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    assert_non_null(s->key);
    assert_int_equal(
        EVP_PKEY_get_octet_string_param(s->key, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof(pub), &len),
        1);
    assert_int_equal(len, 65);
    assert_int_equal(pub[0], 0x04);
    memcpy(s->xy, pub + 1, 64);
}

/* ECDSA-SHA256 over msg as raw r||s. */
static void
sign_raw(const struct signer *s, const uint8_t *msg, size_t len, uint8_t sig[64])
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    uint8_t der[80];
    const uint8_t *p = der;
    size_t der_len = sizeof(der);
    ECDSA_SIG *es;
    const BIGNUM *r, *sv;

    assert_non_null(md);
    assert_int_equal(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, s->key), 1);
    assert_int_equal(EVP_DigestSign(md, der, &der_len, msg, len), 1);
    EVP_MD_CTX_free(md);
    es = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
    assert_non_null(es);
    ECDSA_SIG_get0(es, &r, &sv);
    assert_int_equal(BN_bn2binpad(r, sig, 32), 32);
    assert_int_equal(BN_bn2binpad(sv, sig + 32, 32), 32);
    ECDSA_SIG_free(es);
}

static void
test_import_verifies(void **state)
{
    static const uint8_t msg[] = "a quote's signed region";
    struct signer s;
    uint8_t sig[64], other[64];
    EVP_PKEY *k = NULL;

    (void)state;
    signer_new(&s);
    sign_raw(&s, msg, sizeof(msg), sig);
    EXPECT_OK(mt_p256_key_from_raw(s.xy, &k));
    assert_int_equal(EVP_PKEY_eq(k, s.key), 1);
    EXPECT_OK(mt_ecdsa_verify_raw(k, msg, sizeof(msg), sig, MT_ERR_QUOTE_SIGNATURE));
    EXPECT_ERR(mt_ecdsa_verify_raw(k, msg, sizeof(msg) - 1, sig, MT_ERR_QUOTE_SIGNATURE),
               MT_ERR_QUOTE_SIGNATURE);
    memcpy(other, sig, 64);
    other[63] ^= 1;
    EXPECT_ERR(mt_ecdsa_verify_raw(k, msg, sizeof(msg), other, MT_ERR_QUOTE_SIGNATURE),
               MT_ERR_QUOTE_SIGNATURE);
    EVP_PKEY_free(k);
    EVP_PKEY_free(s.key);
}

static void
test_bad_points_refused(void **state)
{
    /* The field prime p of P-256: a coordinate equal to it is out of range. */
    static const uint8_t prime[32] = {0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x01,
                                      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                      0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff,
                                      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    struct signer s;
    uint8_t xy[64];
    EVP_PKEY *k = NULL;

    (void)state;
    signer_new(&s);
    memcpy(xy, s.xy, 64);
    xy[63] ^= 1; /* off the curve */
    EXPECT_ERR(mt_p256_key_from_raw(xy, &k), MT_ERR_CRYPTO);
    assert_null(k);
    memset(xy, 0, 64);
    EXPECT_ERR(mt_p256_key_from_raw(xy, &k), MT_ERR_CRYPTO);
    memcpy(xy, prime, 32);
    memcpy(xy + 32, s.xy + 32, 32);
    EXPECT_ERR(mt_p256_key_from_raw(xy, &k), MT_ERR_CRYPTO);
    assert_null(k);
    EVP_PKEY_free(s.key);
}

#define NTHREADS 8
#define PER_THREAD 200
static void *
importer(void *arg)
{
    static const uint8_t msg[] = "concurrent";
    struct signer *s = arg;
    uint8_t sig[64];
    EVP_PKEY *k;
    int i;

    sign_raw(s, msg, sizeof(msg), sig);
    for (i = 0; i < PER_THREAD; i++) {
        k = NULL;
        if (mt_p256_key_from_raw(s->xy, &k) != MT_OK ||
            mt_ecdsa_verify_raw(k, msg, sizeof(msg), sig, MT_ERR_QUOTE_SIGNATURE) != MT_OK) {
            EVP_PKEY_free(k);
            return (void *)1;
        }
        EVP_PKEY_free(k);
    }
    return NULL;
}

static void
test_concurrent_imports(void **state)
{
    struct signer s[NTHREADS];
    pthread_t th[NTHREADS];
    void *rv;
    int i;

    (void)state;
    for (i = 0; i < NTHREADS; i++)
        signer_new(&s[i]);
    for (i = 0; i < NTHREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, importer, &s[i]), 0);
    for (i = 0; i < NTHREADS; i++) {
        assert_int_equal(pthread_join(th[i], &rv), 0);
        assert_null(rv);
        EVP_PKEY_free(s[i].key);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_import_verifies),
        cmocka_unit_test(test_bad_points_refused),
        cmocka_unit_test(test_concurrent_imports),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
