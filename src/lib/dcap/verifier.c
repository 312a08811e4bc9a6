#include "dcap/verifier.h"

#include <string.h>

#include <openssl/crypto.h>

#include "dcap/x509.h"
#include "util/mt_alloc.h"
#include "util/mt_limits.h"

static mt_err
root_decode(const uint8_t *der, size_t der_len, X509 **out)
{
    X509 *intel;

    if (der != mt_intel_root_der)
        return mt_x509_from_der(der, der_len, out);
    intel = mt_intel_root_x509();
    MT_ENSURE(intel != NULL, MT_ERR_INTERNAL);
    MT_ENSURE(X509_up_ref(intel) == 1, MT_ERR_CRYPTO);
    *out = intel;
    return MT_OK;
}

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
    MT_GUARD_GOTO(root_decode(der, der_len, &v->root), e, out);
    v->root_der = mt_malloc(der_len);
    MT_ENSURE_GOTO(v->root_der != NULL, MT_ERR_NOMEM, e, out);
    memcpy(v->root_der, der, der_len);
    v->root_der_len = der_len;
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
    mt_free(v->root_der);
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
mt_verifier_pem_chain(struct mt_verifier *v, const char *pem, size_t len, STACK_OF(X509) **out)
{
    return mt_pem_chain_parse_known(pem, len, v->root, v->root_der, v->root_der_len, out);
}

mt_err
mt_verifier_hash(struct mt_verifier *v, const char *tag, const struct mt_hash_part *parts,
                 size_t num_parts, uint8_t out[32])
{
    EVP_MD_CTX *md;
    uint8_t len_le[8];
    size_t i, k;
    int ok;

    md = EVP_MD_CTX_new();
    MT_ENSURE(md != NULL, MT_ERR_NOMEM);
    ok = EVP_DigestInit_ex(md, v->sha256, NULL) == 1 &&
         EVP_DigestUpdate(md, tag, strlen(tag) + 1) == 1;
    for (i = 0; ok && i < num_parts; i++) {
        /* Length-prefix every part so that no two inputs share a key. */
        for (k = 0; k < 8; k++)
            len_le[k] = (uint8_t)((uint64_t)parts[i].len >> (8 * k));
        ok = EVP_DigestUpdate(md, len_le, 8) == 1 &&
             (parts[i].len == 0 || EVP_DigestUpdate(md, parts[i].p, parts[i].len) == 1);
    }
    ok = ok && EVP_DigestFinal_ex(md, out, NULL) == 1;
    EVP_MD_CTX_free(md);
    MT_ENSURE(ok, MT_ERR_CRYPTO);
    return MT_OK;
}
