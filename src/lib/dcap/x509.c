#include "dcap/x509.h"

#include <pthread.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "dcap/dcap.h"
#include "util/mt_alloc.h"
#include "util/mt_b64.h"
#include "util/mt_buf.h"

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
 * The body of one PEM block: base64 in lines, decoded strictly (our own
 * decoder; PEM_read_bio_X509 would skip any garbage around the block).
 */
static mt_err
pem_body_decode(const char *b, const char *e, uint8_t **der, size_t *der_len)
{
    struct mt_buf text;
    const char *p, *nl;
    mt_err err;

    mt_buf_init(&text, MT_MAX_CERT_DATA);
    for (p = b; p < e; p = nl + 1) {
        nl = memchr(p, '\n', (size_t)(e - p));
        if (nl == NULL)
            nl = e;
        /* Tolerate CRLF line ends, nothing else. */
        err = mt_buf_append(&text, p, (size_t)(nl - p) - (nl > p && nl[-1] == '\r'));
        if (err != MT_OK) {
            mt_buf_free(&text);
            return err == MT_ERR_NOMEM ? err : MT_ERR_PEM;
        }
    }
    if (text.p == NULL) {
        mt_buf_free(&text);
        return MT_ERR_PEM;
    }
    err = mt_b64_decode_alloc((const char *)text.p, text.len, MT_MAX_CERT_DATA, der, der_len);
    mt_buf_free(&text);
    MT_ENSURE(err == MT_OK, err == MT_ERR_NOMEM ? err : MT_ERR_PEM);
    return MT_OK;
}

mt_err
mt_pem_chain_parse_known(const char *pem, size_t len, X509 *known, const uint8_t *known_der,
                         size_t known_der_len, STACK_OF(X509) **out)
{
    STACK_OF(X509) *chain = NULL;
    const char *p = pem, *end = pem + len, *b, *e;
    uint8_t *der = NULL;
    size_t der_len;
    X509 *x = NULL;
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
        b = p + sizeof(pem_begin) - 1;
        e = find(b, (size_t)(end - b), pem_end);
        MT_ENSURE_GOTO(e != NULL, MT_ERR_PEM, err, out);
        MT_ENSURE_GOTO(sk_X509_num(chain) < (int)MT_MAX_CHAIN_CERTS, MT_ERR_PEM, err, out);
        while (b < e && is_space(*b))
            b++;
        MT_GUARD_GOTO(pem_body_decode(b, e, &der, &der_len), err, out);
        if (known != NULL && der_len == known_der_len && memcmp(der, known_der, der_len) == 0 &&
            X509_up_ref(known) == 1)
            x = known;
        else
            MT_GUARD_GOTO(mt_x509_from_der(der, der_len, &x), err, out);
        mt_free(der);
        der = NULL;
        MT_ENSURE_GOTO(sk_X509_push(chain, x) > 0, MT_ERR_NOMEM, err, out);
        x = NULL;
        p = e + sizeof(pem_end) - 1;
    }
    MT_ENSURE_GOTO(sk_X509_num(chain) > 0, MT_ERR_PEM, err, out);
    *out = chain;
    chain = NULL;
out:
    mt_free(der);
    X509_free(x);
    sk_X509_pop_free(chain, X509_free);
    return err;
}

/*
 * Decoded on first use under a mutex; a failed decode (out of memory) is
 * not cached, so a later call tries again.
 */
static pthread_mutex_t intel_root_lock = PTHREAD_MUTEX_INITIALIZER;
static X509 *intel_root;

X509 *
mt_intel_root_x509(void)
{
    X509 *x;

    pthread_mutex_lock(&intel_root_lock);
    if (intel_root == NULL &&
        mt_x509_from_der(mt_intel_root_der, mt_intel_root_der_len, &x) == MT_OK)
        intel_root = x;
    x = intel_root;
    pthread_mutex_unlock(&intel_root_lock);
    return x;
}

mt_err
mt_pem_chain_parse(const char *pem, size_t len, STACK_OF(X509) **out)
{
    return mt_pem_chain_parse_known(pem, len, mt_intel_root_x509(), mt_intel_root_der,
                                    mt_intel_root_der_len, out);
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

/*
 * A P-256 key without a public point: the group parameters every imported
 * key copies.  Made once; only read afterwards (EVP_PKEY_copy_parameters
 * takes it const), so threads share it.
 */
static EVP_PKEY *p256_params;
static pthread_once_t p256_params_once = PTHREAD_ONCE_INIT;

static void
p256_params_make(void)
{
    OSSL_PARAM params[2];
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    EVP_PKEY *k = NULL;

    params[0] =
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)"prime256v1", 0);
    params[1] = OSSL_PARAM_construct_end();
    if (ctx != NULL && EVP_PKEY_fromdata_init(ctx) == 1 &&
        EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_KEY_PARAMETERS, params) == 1)
        p256_params = k;
    EVP_PKEY_CTX_free(ctx);
}

mt_err
mt_p256_key_from_raw(const uint8_t xy[64], EVP_PKEY **out)
{
    uint8_t point[65];
    EVP_PKEY *k;
    int ok;

    MT_ENSURE(pthread_once(&p256_params_once, p256_params_make) == 0 && p256_params != NULL,
              MT_ERR_NOMEM);
    point[0] = 0x04; /* SEC1 uncompressed */
    memcpy(point + 1, xy, 64);
    /*
     * The group copied from a parameters-only key, then the point set on it
     * (as TLS does with a peer's key share): a third of the cost of
     * EVP_PKEY_fromdata, which builds the group from its name every time,
     * and a fifth of d2i_PUBKEY's decoder set-up.  Setting the point runs
     * EC_POINT_oct2point, which rejects points not on the curve.
     */
    k = EVP_PKEY_new();
    MT_ENSURE(k != NULL, MT_ERR_NOMEM);
    ok = EVP_PKEY_copy_parameters(k, p256_params) == 1 &&
         EVP_PKEY_set1_encoded_public_key(k, point, sizeof(point)) == 1;
    if (!ok) {
        EVP_PKEY_free(k);
        return MT_ERR_CRYPTO;
    }
    *out = k;
    return MT_OK;
}
