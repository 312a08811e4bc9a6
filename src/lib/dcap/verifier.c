#include "dcap/verifier.h"

#include <string.h>

#include <openssl/crypto.h>

#include "dcap/x509.h"
#include "util/mt_alloc.h"
#include "util/mt_limits.h"

mt_err
mt_verifier_new(const struct mt_verifier_opts *opts, struct mt_verifier **out)
{
    struct mt_verifier *v;
    const uint8_t *der = mt_intel_root_der;
    size_t der_len = mt_intel_root_der_len;
    uint8_t digest[32];
    mt_err e = MT_OK;

    v = mt_calloc(1, sizeof(*v));
    MT_ENSURE(v != NULL, MT_ERR_NOMEM);
    mt_cache_init(&v->cache, MT_MAX_CACHE_ENTRIES);
    if (opts != NULL && opts->root_der != NULL) {
        der = opts->root_der;
        der_len = opts->root_der_len;
    }
    if (opts != NULL) {
        v->allow_debug = opts->allow_debug;
        v->allow_service_td = opts->allow_service_td;
        v->no_cache = opts->no_cache;
    }
    v->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    MT_ENSURE_GOTO(v->sha256 != NULL, MT_ERR_CRYPTO, e, out);
    MT_GUARD_GOTO(mt_x509_from_der(der, der_len, &v->root), e, out);
    MT_GUARD_GOTO(mt_x509_sha256(v->root, digest), e, out);
    v->intel_root = CRYPTO_memcmp(digest, mt_intel_root_sha256, 32) == 0;
    /* The built-in bytes must match their pin: a damaged binary must not verify. */
    MT_ENSURE_GOTO(der != mt_intel_root_der || v->intel_root, MT_ERR_INTERNAL, e, out);
    v->store = X509_STORE_new();
    MT_ENSURE_GOTO(v->store != NULL, MT_ERR_NOMEM, e, out);
    MT_ENSURE_GOTO(X509_STORE_add_cert(v->store, v->root) == 1, MT_ERR_CRYPTO, e, out);
    *out = v;
    v = NULL;
out:
    mt_verifier_free(v);
    return e;
}

void
mt_verifier_free(struct mt_verifier *v)
{
    if (v == NULL)
        return;
    mt_cache_clear(&v->cache);
    X509_STORE_free(v->store);
    X509_free(v->root);
    EVP_MD_free(v->sha256);
    mt_free(v);
}

int
mt_verifier_is_intel_root(const struct mt_verifier *v)
{
    return v->intel_root;
}

void
mt_verifier_clear_cache(struct mt_verifier *v)
{
    mt_cache_clear(&v->cache);
}

mt_err
mt_verifier_hash(struct mt_verifier *v, const char *tag, const void *a, size_t alen,
                 const void *b, size_t blen, const void *c, size_t clen, const void *d,
                 size_t dlen, uint8_t out[32])
{
    const void *parts[4] = {a, b, c, d};
    size_t lens[4] = {alen, blen, clen, dlen}, i;
    EVP_MD_CTX *md;
    uint64_t n;
    uint8_t len_le[8];
    int ok;

    md = EVP_MD_CTX_new();
    MT_ENSURE(md != NULL, MT_ERR_NOMEM);
    ok = EVP_DigestInit_ex(md, v->sha256, NULL) == 1 &&
         EVP_DigestUpdate(md, tag, strlen(tag) + 1) == 1;
    for (i = 0; ok && i < 4; i++) {
        /* Length-prefix every part so that no two inputs share a key. */
        n = parts[i] == NULL ? 0 : lens[i];
        for (size_t k = 0; k < 8; k++)
            len_le[k] = (uint8_t)(n >> (8 * k));
        ok = EVP_DigestUpdate(md, len_le, 8) == 1 &&
             (n == 0 || EVP_DigestUpdate(md, parts[i], n) == 1);
    }
    ok = ok && EVP_DigestFinal_ex(md, out, NULL) == 1;
    EVP_MD_CTX_free(md);
    MT_ENSURE(ok, MT_ERR_CRYPTO);
    return MT_OK;
}
