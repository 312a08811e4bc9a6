/*
 * Rekor v2 hashedrekord 0.0.2 entry bodies (sigstore.md 2.4, 4.4 c): the
 * expected body is rebuilt from the bundle (digest D, or H(PAE) for a DSSE
 * envelope; the signature; the leaf DER or the pinned key's SPKI; the
 * keyDetails of that key) and must equal canonicalizedBody byte for byte.
 * Before the byte comparison the body is parsed field by field, only so
 * that a mismatch names the field (digest, signature, key) that differs.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "sigstore/sig_internal.h"
#include "util/mt_alloc.h"
#include "util/mt_b64.h"
#include "util/mt_json.h"

#define BODY(res, ...) sig_fail((res), MT_ERR_SIGSTORE_TLOG_BODY, __VA_ARGS__)

/* keyDetails of a signing key whose hashedrekord digest is SHA-256 (2.4); NULL: unsupported. */
static const char *
key_details(EVP_PKEY *key)
{
    char curve[64];
    size_t n = 0;

    if (key == NULL)
        return NULL;
    if (EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA) {
        switch (EVP_PKEY_get_bits(key)) {
        case 2048:
            return "PKIX_RSA_PKCS1V15_2048_SHA256";
        case 3072:
            return "PKIX_RSA_PKCS1V15_3072_SHA256";
        case 4096:
            return "PKIX_RSA_PKCS1V15_4096_SHA256";
        default:
            return NULL;
        }
    }
    /* P-384/P-521 record SHA-384/512 digests and Ed25519 is Ed25519ph: not supported. */
    if (EVP_PKEY_get_base_id(key) == EVP_PKEY_EC &&
        EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, curve, sizeof(curve), &n) ==
            1 &&
        strcmp(curve, "prime256v1") == 0)
        return "PKIX_ECDSA_P256_SHA_256";
    return NULL;
}

/* A base64 string member equal to the given bytes: 1 equal, 0 differs, -1 absent or bad. */
static int
b64_member_equals(const json_t *v, const uint8_t *want, size_t want_len)
{
    uint8_t *got = NULL;
    size_t got_len = 0;
    int eq;

    if (!json_is_string(v) || sig_b64_decode(json_string_value(v), json_string_length(v),
                                             SIG_MAX_FIELD, &got, &got_len) != MT_OK)
        return -1;
    eq = got_len == want_len && CRYPTO_memcmp(got, want, want_len) == 0;
    mt_free(got);
    return eq;
}

/* Field-by-field comparison: the precise code when the entry is not the bundle's. */
static mt_err
compare_fields(const json_t *body, const struct sig_tlog_entry *e, const struct sig_binding *bind,
               const uint8_t *digest, const char *details, struct mt_sigstore_result *res)
{
    static const char *const p_alg[] = {"spec", "hashedRekordV002", "data", "algorithm", NULL};
    static const char *const p_dig[] = {"spec", "hashedRekordV002", "data", "digest", NULL};
    static const char *const p_sig[] = {"spec", "hashedRekordV002", "signature", "content", NULL};
    static const char *const p_kd[] = {"spec",     "hashedRekordV002", "signature",
                                       "verifier", "keyDetails",       NULL};
    static const char *const p_cert[] = {
        "spec", "hashedRekordV002", "signature", "verifier", "x509Certificate", "rawBytes", NULL};
    static const char *const p_key[] = {"spec",      "hashedRekordV002", "signature", "verifier",
                                        "publicKey", "rawBytes",         NULL};
    const json_t *v;
    int r;

    v = sig_json_path(body, p_alg);
    MT_ENSURE(json_is_string(v), BODY(res, "body is not a hashedrekord 0.0.2 entry"));
    MT_ENSURE(strcmp(json_string_value(v), "SHA2_256") == 0,
              sig_fail(res, MT_ERR_SIGSTORE_TLOG_DIGEST, "tlog entry digest algorithm %.32s",
                       json_string_value(v)));
    r = b64_member_equals(sig_json_path(body, p_dig), digest, 32);
    MT_ENSURE(r >= 0, BODY(res, "body data.digest: missing or bad base64"));
    MT_ENSURE(r == 1, sig_fail(res, MT_ERR_SIGSTORE_TLOG_DIGEST,
                               "tlog entry %lld records a different %s digest",
                               (long long)e->log_index, bind->is_dsse ? "envelope" : "artifact"));
    r = b64_member_equals(sig_json_path(body, p_sig), bind->sig, bind->sig_len);
    MT_ENSURE(r >= 0, BODY(res, "body signature.content: missing or bad base64"));
    MT_ENSURE(r == 1,
              sig_fail(res, MT_ERR_SIGSTORE_TLOG_SIGNATURE,
                       "tlog entry %lld records a different signature", (long long)e->log_index));
    r = b64_member_equals(sig_json_path(body, bind->material_is_key ? p_key : p_cert),
                          bind->material_der, bind->material_der_len);
    MT_ENSURE(r == 1, sig_fail(res, MT_ERR_SIGSTORE_TLOG_KEY,
                               "tlog entry %lld records a different %s", (long long)e->log_index,
                               bind->material_is_key ? "public key" : "certificate"));
    v = sig_json_path(body, p_kd);
    MT_ENSURE(json_is_string(v) && strcmp(json_string_value(v), details) == 0,
              sig_fail(res, MT_ERR_SIGSTORE_TLOG_KEY, "tlog entry keyDetails %.40s, expected %s",
                       json_is_string(v) ? json_string_value(v) : "(none)", details));
    return MT_OK;
}

/* The canonical body (2.4): compact JSON, keys sorted, standard padded base64. */
static mt_err
rebuild(const struct sig_binding *bind, const uint8_t *digest, const char *details, char **out,
        size_t *out_len)
{
    char *d64 = NULL, *s64 = NULL, *m64 = NULL, *buf = NULL;
    size_t cap;
    int n;
    mt_err rv = MT_ERR_NOMEM;

    d64 = mt_b64_encode_alloc(digest, 32);
    s64 = mt_b64_encode_alloc(bind->sig, bind->sig_len);
    m64 = mt_b64_encode_alloc(bind->material_der, bind->material_der_len);
    if (d64 == NULL || s64 == NULL || m64 == NULL)
        goto out;
    cap = strlen(d64) + strlen(s64) + strlen(m64) + strlen(details) + 256;
    buf = mt_malloc(cap);
    if (buf == NULL)
        goto out;
    n = snprintf(
        buf, cap,
        "{\"apiVersion\":\"0.0.2\",\"kind\":\"hashedrekord\",\"spec\":{\"hashedRekordV002\":"
        "{\"data\":{\"algorithm\":\"SHA2_256\",\"digest\":\"%s\"},\"signature\":{"
        "\"content\":\"%s\",\"verifier\":{\"keyDetails\":\"%s\",\"%s\":{\"rawBytes\":"
        "\"%s\"}}}}}}",
        d64, s64, details, bind->material_is_key ? "publicKey" : "x509Certificate", m64);
    if (n < 0 || (size_t)n >= cap) {
        rv = MT_ERR_INTERNAL;
        goto out;
    }
    *out = buf;
    *out_len = (size_t)n;
    buf = NULL;
    rv = MT_OK;
out:
    mt_free(d64);
    mt_free(s64);
    mt_free(m64);
    mt_free(buf);
    return rv;
}

mt_err
sig_rekor_v2_body_check(const struct sig_tlog_entry *e, const struct sig_binding *bind,
                        struct mt_sigstore_result *res)
{
    const char *details = key_details(bind->signer);
    const uint8_t *digest = bind->is_dsse ? bind->pae_digest : bind->digest;
    json_t *body = NULL;
    char *want = NULL;
    size_t want_len = 0;
    mt_err rv;

    MT_ENSURE(details != NULL, sig_fail(res, MT_ERR_SIGSTORE_UNSUPPORTED,
                                        "Rekor v2 entries are supported for ECDSA P-256 and RSA "
                                        "keys with SHA-256 only"));
    MT_ENSURE(digest != NULL, MT_ERR_ARG);
    MT_GUARD(sig_tlog_body_load(e, &body, res));
    MT_GUARD_GOTO(compare_fields(body, e, bind, digest, details, res), rv, out);
    MT_GUARD_GOTO(rebuild(bind, digest, details, &want, &want_len), rv, out);
    MT_ENSURE_GOTO(want_len == e->body_len && CRYPTO_memcmp(want, e->body, want_len) == 0,
                   BODY(res,
                        "Rekor v2 entry %lld is not the canonical body rebuilt from the bundle",
                        (long long)e->log_index),
                   rv, out);
    rv = MT_OK;
out:
    mt_free(want);
    json_decref(body);
    return rv;
}
