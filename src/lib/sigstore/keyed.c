/*
 * Key-based cosign signatures (sigstore.md 5): loading cosign.pub, the
 * detached .sig, and the signature check with the hash of the key type.
 */
#include <ctype.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/pem.h>

#include "sigstore/sig_internal.h"
#include "util/mt_alloc.h"
#include "util/mt_file.h"

/* A cosign.pub is a few hundred bytes; an RSA-4096 key under 1 KB. */
#define SIG_MAX_KEY_FILE (16u * 1024u)

const EVP_MD *
sig_key_md(EVP_PKEY *key)
{
    int bits = EVP_PKEY_get_bits(key);

    /* 5.1: P-256 SHA-256, P-384 SHA-384, P-521 SHA-512; RSA PKCS#1 v1.5 SHA-256. */
    if (EVP_PKEY_get_base_id(key) == EVP_PKEY_EC) {
        if (bits == 384)
            return EVP_sha384();
        if (bits == 521)
            return EVP_sha512();
    }
    return EVP_sha256();
}

static int
key_supported(EVP_PKEY *key)
{
    char curve[64];
    size_t n = 0;

    if (EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA)
        return EVP_PKEY_get_bits(key) >= 2048 && EVP_PKEY_get_bits(key) <= 8192;
    if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC)
        return 0; /* Ed25519: cosign signs Ed25519ph, which OpenSSL 3.0 lacks (5.1) */
    if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, curve, sizeof(curve), &n) !=
        1)
        return 0;
    return strcmp(curve, "prime256v1") == 0 || strcmp(curve, "secp384r1") == 0 ||
           strcmp(curve, "secp521r1") == 0;
}

mt_err
mt_sigstore_key_load(const char *path, EVP_PKEY **out)
{
    uint8_t *text = NULL, *der = NULL;
    const unsigned char *p;
    size_t len = 0, der_len = 0;
    EVP_PKEY *key = NULL;
    mt_err rv;

    MT_ENSURE(path != NULL && out != NULL, MT_ERR_ARG);
    MT_GUARD(mt_file_read(path, SIG_MAX_KEY_FILE, &text, &len));
    /* Exactly one PEM "PUBLIC KEY" block (a DER SubjectPublicKeyInfo), nothing else. */
    MT_GUARD_GOTO(sig_pem_to_der(text, len, "PUBLIC KEY", &der, &der_len), rv, bad);
    p = der;
    key = d2i_PUBKEY(NULL, &p, (long)der_len);
    MT_ENSURE_GOTO(key != NULL && p == der + der_len, MT_ERR_SIGSTORE_KEY, rv, out);
    MT_ENSURE_GOTO(key_supported(key), MT_ERR_SIGSTORE_KEY, rv, out);
    *out = key;
    key = NULL;
    rv = MT_OK;
    goto out;
bad:
    if (rv != MT_ERR_NOMEM)
        rv = MT_ERR_SIGSTORE_KEY;
out:
    EVP_PKEY_free(key);
    mt_free(der);
    mt_free(text);
    return rv;
}

mt_err
sig_keyed_signature(EVP_PKEY *key, const struct sig_digest *d, const uint8_t *sig, size_t sig_len,
                    int key_md_only, struct mt_sigstore_result *res)
{
    const EVP_MD *md = sig_key_md(key);
    mt_err e;

    MT_ENSURE(key_supported(key), sig_fail(res, MT_ERR_SIGSTORE_KEY, "unsupported key type"));
    if (EVP_MD_get_type(md) != NID_sha256) {
        if (d->extra_md != NULL && EVP_MD_get_type(d->extra_md) == EVP_MD_get_type(md)) {
            e = sig_verify_prehashed(key, md, d->extra, d->extra_len, sig, sig_len);
            if (e == MT_OK || key_md_only)
                return e == MT_OK ? MT_OK
                                  : sig_fail(res, e,
                                             "signature does not verify with the given public "
                                             "key over the %s of the artifact",
                                             EVP_MD_get0_name(md));
        } else if (key_md_only) {
            /* Digest mode gives only the SHA-256; this key signs another hash. */
            return sig_fail(res, MT_ERR_SIGSTORE_SIGNATURE,
                            "a P-%d key signs the %s of the artifact; give the file, not its "
                            "sha256 digest",
                            EVP_PKEY_get_bits(key), EVP_MD_get0_name(md));
        }
    }
    /* SHA-256 for P-256 and RSA; in a bundle, what a hashedrekord entry records for any key. */
    e = sig_verify_prehashed(key, EVP_sha256(), d->sha256, 32, sig, sig_len);
    if (e != MT_OK)
        return sig_fail(res, e, "signature does not verify with the given public key");
    return MT_OK;
}

/* Trim ASCII whitespace at both ends. */
static void
trim(const uint8_t **p, size_t *len)
{
    while (*len > 0 && isspace((*p)[0]))
        (*p)++, (*len)--;
    while (*len > 0 && isspace((*p)[*len - 1]))
        (*len)--;
}

mt_err
mt_sigstore_verify_detached(EVP_PKEY *key, const struct mt_sigstore_artifact *artifact,
                            const uint8_t *sig, size_t sig_len, struct mt_sigstore_result *res)
{
    struct sig_digest d;
    const uint8_t *s = sig;
    uint8_t *raw = NULL;
    size_t n = sig_len, raw_len = 0;
    mt_err rv;

    MT_ENSURE(res != NULL, MT_ERR_ARG);
    memset(res, 0, sizeof(*res));
    res->signing_time = -1;
    res->log_index = -1;
    MT_ENSURE(key != NULL && sig != NULL,
              sig_fail(res, MT_ERR_SIGSTORE_KEY_REQUIRED, "no public key given"));
    MT_ENSURE(sig_len <= SIG_MAX_FIELD, sig_fail(res, MT_ERR_TOO_LARGE, "signature too large"));
    MT_ENSURE(key_supported(key), sig_fail(res, MT_ERR_SIGSTORE_KEY, "unsupported key type"));
    /* cosign's rule (2.6): base64 when it decodes as base64, raw DER otherwise. */
    trim(&s, &n);
    if (n > 0 && sig_b64_decode((const char *)s, n, SIG_MAX_FIELD, &raw, &raw_len) == MT_OK) {
        s = raw;
        n = raw_len;
    } else {
        s = sig;
        n = sig_len;
    }
    MT_GUARD_GOTO(sig_artifact_digest(artifact, sig_key_md(key), &d, res), rv, out);
    /* 5.1: a detached signature is over the key type's hash only. */
    MT_GUARD_GOTO(sig_keyed_signature(key, &d, s, n, 1, res), rv, out);
    rv = MT_OK;
out:
    mt_free(raw);
    return rv;
}
