#include "dstack/dstack_kdf.h"

#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/obj_mac.h>
#include <openssl/params.h>

#include "util/mt_alloc.h"
#include "util/mt_hex.h"

/* HKDF salt of dstack's ra-tls kdf.rs (derive_key: salt b"RATLS"). */
#define DSTACK_KDF_SALT "RATLS"
#define DSTACK_KEY_LEN 32u

mt_err
mt_dstack_derive_key(const uint8_t app_key[32], const char *path, size_t path_len,
                     struct mt_secret *out)
{
    EVP_KDF *kdf = NULL;
    EVP_KDF_CTX *kctx = NULL;
    OSSL_PARAM params[5];
    struct mt_secret key = {0};
    mt_err e = MT_OK;

    MT_ENSURE(app_key != NULL && out != NULL, MT_ERR_ARG);
    MT_ENSURE(path != NULL || path_len == 0, MT_ERR_ARG);
    if (path == NULL)
        path = "";
    MT_GUARD(mt_secret_new(DSTACK_KEY_LEN, &key));
    kdf = EVP_KDF_fetch(NULL, OSSL_KDF_NAME_HKDF, NULL);
    MT_ENSURE_GOTO(kdf != NULL, MT_ERR_CRYPTO, e, out);
    kctx = EVP_KDF_CTX_new(kdf);
    MT_ENSURE_GOTO(kctx != NULL, MT_ERR_NOMEM, e, out);
    /* The default mode is extract-then-expand, which is what dstack's hkdf crate does. */
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)app_key, 32);
    params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)DSTACK_KDF_SALT,
                                                  sizeof(DSTACK_KDF_SALT) - 1);
    params[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)path, path_len);
    params[4] = OSSL_PARAM_construct_end();
    MT_ENSURE_GOTO(EVP_KDF_derive(kctx, key.p, key.len, params) == 1, MT_ERR_CRYPTO, e, out);
    *out = key;
    memset(&key, 0, sizeof(key));
out:
    /* EVP_KDF_CTX_free wipes the HKDF state (the PRK) before freeing it. */
    EVP_KDF_CTX_free(kctx);
    EVP_KDF_free(kdf);
    mt_secret_free(&key);
    return e;
}

mt_err
mt_dstack_alg_parse(const char *s, enum mt_dstack_alg *out)
{
    MT_ENSURE(out != NULL, MT_ERR_ARG);
    if (s == NULL || s[0] == '\0' || strcmp(s, "secp256k1") == 0 || strcmp(s, "k256") == 0) {
        *out = MT_DSTACK_SECP256K1;
        return MT_OK;
    }
    if (strcmp(s, "ed25519") == 0) {
        *out = MT_DSTACK_ED25519;
        return MT_OK;
    }
    return MT_ERR_ARG;
}

/*
 * secp256k1: d * G, compressed.  OpenSSL 3.0's EC key import does not
 * compute the public key from a private one (EVP_PKEY_fromdata with only
 * OSSL_PKEY_PARAM_PRIV_KEY yields a key whose public part is absent: "not a
 * public key"), so the point multiplication is done here with the EC_POINT
 * functions, which are not deprecated; the scalar is a constant-time,
 * secure-heap BIGNUM.
 */
static mt_err
pub_secp256k1(const uint8_t key[32], uint8_t out[MT_DSTACK_MAX_PUBKEY], size_t *out_len)
{
    EC_GROUP *group = NULL;
    EC_POINT *point = NULL;
    BN_CTX *bctx = NULL;
    BIGNUM *d = NULL;
    size_t n;
    mt_err e = MT_OK;

    group = EC_GROUP_new_by_curve_name_ex(NULL, NULL, NID_secp256k1);
    MT_ENSURE_GOTO(group != NULL, MT_ERR_CRYPTO, e, out);
    bctx = BN_CTX_secure_new();
    d = BN_secure_new();
    point = EC_POINT_new(group);
    MT_ENSURE_GOTO(bctx != NULL && d != NULL && point != NULL, MT_ERR_NOMEM, e, out);
    BN_set_flags(d, BN_FLG_CONSTTIME);
    MT_ENSURE_GOTO(BN_bin2bn(key, 32, d) != NULL, MT_ERR_NOMEM, e, out);
    /* dstack (k256 SigningKey::from_slice) refuses 0 and values >= n. */
    MT_ENSURE_GOTO(!BN_is_zero(d) && BN_cmp(d, EC_GROUP_get0_order(group)) < 0, MT_ERR_CRYPTO, e,
                   out);
    MT_ENSURE_GOTO(EC_POINT_mul(group, point, d, NULL, NULL, bctx) == 1, MT_ERR_CRYPTO, e, out);
    n = EC_POINT_point2oct(group, point, POINT_CONVERSION_COMPRESSED, out, MT_DSTACK_MAX_PUBKEY,
                           bctx);
    MT_ENSURE_GOTO(n == MT_DSTACK_MAX_PUBKEY, MT_ERR_CRYPTO, e, out);
    *out_len = n;
out:
    BN_clear_free(d);
    BN_CTX_free(bctx);
    EC_POINT_free(point);
    EC_GROUP_free(group);
    return e;
}

static mt_err
pub_ed25519(const uint8_t key[32], uint8_t out[MT_DSTACK_MAX_PUBKEY], size_t *out_len)
{
    EVP_PKEY *pkey;
    size_t n = 32;
    mt_err e = MT_OK;

    /* The seed is the RFC 8032 private key; the key object wipes its copy when freed. */
    pkey = EVP_PKEY_new_raw_private_key_ex(NULL, "ED25519", NULL, key, 32);
    MT_ENSURE(pkey != NULL, MT_ERR_CRYPTO);
    if (EVP_PKEY_get_raw_public_key(pkey, out, &n) != 1 || n != 32)
        e = MT_ERR_CRYPTO;
    else
        *out_len = n;
    EVP_PKEY_free(pkey);
    return e;
}

mt_err
mt_dstack_derived_pubkey(const uint8_t key[32], enum mt_dstack_alg alg,
                         uint8_t out[MT_DSTACK_MAX_PUBKEY], size_t *out_len)
{
    MT_ENSURE(key != NULL && out != NULL && out_len != NULL, MT_ERR_ARG);
    switch (alg) {
    case MT_DSTACK_SECP256K1:
        return pub_secp256k1(key, out, out_len);
    case MT_DSTACK_ED25519:
        return pub_ed25519(key, out, out_len);
    default:
        return MT_ERR_ARG;
    }
}

mt_err
mt_dstack_signed_message(const char *purpose, const uint8_t *pub, size_t pub_len, char **out,
                         size_t *out_len)
{
    size_t plen, n;
    char *s;

    MT_ENSURE(pub != NULL && out != NULL && out_len != NULL, MT_ERR_ARG);
    MT_ENSURE(pub_len > 0, MT_ERR_ARG);
    MT_ENSURE(pub_len <= MT_DSTACK_MAX_PUBKEY, MT_ERR_TOO_LARGE);
    if (purpose == NULL)
        purpose = "";
    plen = strlen(purpose);
    MT_ENSURE(plen <= SIZE_MAX - 2 * MT_DSTACK_MAX_PUBKEY - 2, MT_ERR_TOO_LARGE);
    n = plen + 1 + 2 * pub_len;
    s = mt_malloc(n + 1);
    MT_ENSURE(s != NULL, MT_ERR_NOMEM);
    memcpy(s, purpose, plen);
    s[plen] = ':';
    mt_hex_encode(pub, pub_len, s + plen + 1);
    *out = s;
    *out_len = n;
    return MT_OK;
}
