#include "dcap/x509.h"

#include <string.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include "util/mt_alloc.h"

static const char pem_begin[] = "-----BEGIN CERTIFICATE-----";
static const char pem_end[] = "-----END CERTIFICATE-----";

static int
is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

static const char *
find(const char *hay, size_t n, const char *needle)
{
    size_t k = strlen(needle), i;

    for (i = 0; k <= n && i <= n - k; i++) {
        if (memcmp(hay + i, needle, k) == 0)
            return hay + i;
    }
    return NULL;
}

/*
 * The PEM text is split by hand so that nothing but certificates and
 * whitespace is accepted between blocks (PEM_read_bio_X509 would skip any
 * garbage), then each block is decoded by OpenSSL.
 */
mt_err
mt_pem_chain_parse(const char *pem, size_t len, STACK_OF(X509) **out)
{
    STACK_OF(X509) *chain = NULL;
    const char *p = pem, *end = pem + len, *b, *e;
    X509 *x = NULL;
    BIO *bio = NULL;
    mt_err err = MT_OK;

    /* One trailing NUL is how real quotes end their type-5 data (1.9). */
    if (len > 0 && end[-1] == '\0')
        end--;
    chain = sk_X509_new_null();
    MT_ENSURE(chain != NULL, MT_ERR_NOMEM);
    for (;;) {
        while (p < end && is_space(*p))
            p++;
        if (p == end)
            break;
        MT_ENSURE_GOTO((size_t)(end - p) > sizeof(pem_begin) - 1 &&
                           memcmp(p, pem_begin, sizeof(pem_begin) - 1) == 0,
                       MT_ERR_PEM, err, out);
        b = p;
        e = find(b, (size_t)(end - b), pem_end);
        MT_ENSURE_GOTO(e != NULL, MT_ERR_PEM, err, out);
        e += sizeof(pem_end) - 1;
        MT_ENSURE_GOTO(sk_X509_num(chain) < (int)MT_MAX_CHAIN_CERTS, MT_ERR_PEM, err, out);
        bio = BIO_new_mem_buf(b, (int)(e - b));
        MT_ENSURE_GOTO(bio != NULL, MT_ERR_NOMEM, err, out);
        x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
        MT_ENSURE_GOTO(x != NULL, MT_ERR_PEM, err, out);
        MT_ENSURE_GOTO(sk_X509_push(chain, x) > 0, MT_ERR_NOMEM, err, out);
        x = NULL;
        BIO_free(bio);
        bio = NULL;
        p = e;
    }
    MT_ENSURE_GOTO(sk_X509_num(chain) > 0, MT_ERR_PEM, err, out);
    *out = chain;
    chain = NULL;
out:
    X509_free(x);
    BIO_free(bio);
    sk_X509_pop_free(chain, X509_free);
    return err;
}

mt_err
mt_x509_from_der(const uint8_t *der, size_t len, X509 **out)
{
    const unsigned char *p = der;
    X509 *x;

    MT_ENSURE(len > 0 && len <= MT_MAX_CERT_DATA, MT_ERR_PEM);
    x = d2i_X509(NULL, &p, (long)len);
    MT_ENSURE(x != NULL, MT_ERR_PEM);
    if (p != der + len) {
        X509_free(x);
        return MT_ERR_TRAILING;
    }
    *out = x;
    return MT_OK;
}

mt_err
mt_crl_from_der(const uint8_t *der, size_t len, X509_CRL **out)
{
    const unsigned char *p = der;
    X509_CRL *c;

    MT_ENSURE(len > 0 && len <= MT_MAX_SIGNED_JSON, MT_ERR_COLLATERAL_FORMAT);
    c = d2i_X509_CRL(NULL, &p, (long)len);
    MT_ENSURE(c != NULL, MT_ERR_COLLATERAL_FORMAT);
    if (p != der + len) {
        X509_CRL_free(c);
        return MT_ERR_COLLATERAL_FORMAT;
    }
    *out = c;
    return MT_OK;
}

mt_err
mt_root_load(const uint8_t *buf, size_t len, uint8_t **der, size_t *der_len)
{
    STACK_OF(X509) *chain = NULL;
    X509 *x = NULL;
    unsigned char *enc = NULL;
    int n;
    mt_err e = MT_OK;

    if (len > 0 && buf[0] == 0x30) {
        MT_GUARD(mt_x509_from_der(buf, len, &x));
    } else {
        MT_GUARD(mt_pem_chain_parse((const char *)buf, len, &chain));
        MT_ENSURE_GOTO(sk_X509_num(chain) == 1, MT_ERR_PEM, e, out);
        x = sk_X509_shift(chain);
    }
    n = i2d_X509(x, &enc);
    MT_ENSURE_GOTO(n > 0, MT_ERR_CRYPTO, e, out);
    *der = mt_malloc((size_t)n);
    MT_ENSURE_GOTO(*der != NULL, MT_ERR_NOMEM, e, out);
    memcpy(*der, enc, (size_t)n);
    *der_len = (size_t)n;
out:
    OPENSSL_free(enc);
    X509_free(x);
    sk_X509_pop_free(chain, X509_free);
    return e;
}

mt_err
mt_x509_sha256(X509 *cert, uint8_t out[32])
{
    unsigned int n = 32;

    MT_ENSURE(X509_digest(cert, EVP_sha256(), out, &n) == 1 && n == 32, MT_ERR_CRYPTO);
    return MT_OK;
}

mt_err
mt_ecdsa_verify_raw(EVP_PKEY *key, const uint8_t *msg, size_t msg_len, const uint8_t sig[64],
                    mt_err fail)
{
    ECDSA_SIG *s = NULL;
    BIGNUM *r = NULL, *sv = NULL;
    EVP_MD_CTX *md = NULL;
    unsigned char *der = NULL;
    int der_len, ok;
    mt_err e = MT_OK;

    s = ECDSA_SIG_new();
    r = BN_bin2bn(sig, 32, NULL);
    sv = BN_bin2bn(sig + 32, 32, NULL);
    MT_ENSURE_GOTO(s != NULL && r != NULL && sv != NULL, MT_ERR_NOMEM, e, out);
    MT_ENSURE_GOTO(ECDSA_SIG_set0(s, r, sv) == 1, MT_ERR_CRYPTO, e, out);
    r = sv = NULL;
    der_len = i2d_ECDSA_SIG(s, &der);
    MT_ENSURE_GOTO(der_len > 0, MT_ERR_CRYPTO, e, out);
    md = EVP_MD_CTX_new();
    MT_ENSURE_GOTO(md != NULL, MT_ERR_NOMEM, e, out);
    MT_ENSURE_GOTO(EVP_DigestVerifyInit_ex(md, NULL, "SHA256", NULL, NULL, key, NULL) == 1,
                   MT_ERR_CRYPTO, e, out);
    ok = EVP_DigestVerify(md, der, (size_t)der_len, msg, msg_len);
    /* Only 1 is a valid signature; 0 and negative values both mean "no". */
    MT_ENSURE_GOTO(ok == 1, fail, e, out);
out:
    OPENSSL_free(der);
    EVP_MD_CTX_free(md);
    BN_free(r);
    BN_free(sv);
    ECDSA_SIG_free(s);
    return e;
}

mt_err
mt_p256_key_from_raw(const uint8_t xy[64], EVP_PKEY **out)
{
    /* SubjectPublicKeyInfo prefix for an uncompressed P-256 point (2.14). */
    static const uint8_t spki_prefix[27] = {0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48,
                                            0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48,
                                            0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04};
    uint8_t spki[sizeof(spki_prefix) + 64];
    const unsigned char *p = spki;
    EVP_PKEY *k;

    memcpy(spki, spki_prefix, sizeof(spki_prefix));
    memcpy(spki + sizeof(spki_prefix), xy, 64);
    /* d2i_PUBKEY decodes the point and rejects one that is not on the curve. */
    k = d2i_PUBKEY(NULL, &p, (long)sizeof(spki));
    MT_ENSURE(k != NULL, MT_ERR_CRYPTO);
    *out = k;
    return MT_OK;
}
