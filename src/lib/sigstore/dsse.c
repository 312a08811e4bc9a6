/*
 * DSSE envelopes with in-toto statements (sigstore.md 2.4 "dsse 0.0.1",
 * 2.7, 4.10): the Rekor v1 dsse 0.0.1 body bound to the envelope (payload
 * hash, the one signature, the verifier certificate or key), the
 * pre-authentication encoding PAE(type, body), the envelope signature over
 * it, and the artifact's SHA-256 among the statement's subjects.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "sigstore/sig_internal.h"
#include "util/mt_alloc.h"
#include "util/mt_hex.h"
#include "util/mt_json.h"

#define BODY(res, ...) sig_fail((res), MT_ERR_SIGSTORE_TLOG_BODY, __VA_ARGS__)
#define INTOTO_TYPE "application/vnd.in-toto+json"
#define SIG_MAX_SUBJECTS 1024u

mt_err
sig_dsse_pae(const char *type, const uint8_t *payload, size_t len, uint8_t **out, size_t *out_len)
{
    char head[96];
    size_t tlen, cap;
    uint8_t *p;
    int n;

    MT_ENSURE(type != NULL && (payload != NULL || len == 0), MT_ERR_ARG);
    tlen = strlen(type);
    MT_ENSURE(tlen <= SIG_MAX_FIELD && len <= SIG_MAX_FIELD * 2, MT_ERR_TOO_LARGE);
    /* "DSSEv1" SP len(type) SP type SP len(body) SP body; lengths in ASCII decimal. */
    n = snprintf(head, sizeof(head), "DSSEv1 %zu ", tlen);
    MT_ENSURE(n > 0 && (size_t)n < sizeof(head), MT_ERR_INTERNAL);
    cap = (size_t)n + tlen + 32 + len;
    p = mt_malloc(cap);
    MT_ENSURE(p != NULL, MT_ERR_NOMEM);
    memcpy(p, head, (size_t)n);
    memcpy(p + n, type, tlen);
    *out_len = (size_t)n + tlen;
    n = snprintf(head, sizeof(head), " %zu ", len);
    if (n <= 0 || (size_t)n >= sizeof(head)) {
        mt_free(p);
        return MT_ERR_INTERNAL;
    }
    memcpy(p + *out_len, head, (size_t)n);
    *out_len += (size_t)n;
    if (len > 0)
        memcpy(p + *out_len, payload, len);
    *out_len += len;
    *out = p;
    return MT_OK;
}

/* A "sha256" hash object {algorithm, value(hex)} equal to want: 1, 0 differs, -1 malformed. */
static int
hash_equals(const json_t *h, const uint8_t want[32])
{
    const json_t *alg = json_object_get(h, "algorithm"), *val = json_object_get(h, "value");
    uint8_t got[32];

    if (!json_is_string(alg) || !json_is_string(val))
        return -1;
    if (strcmp(json_string_value(alg), "sha256") != 0)
        return 0;
    if (mt_hex_decode_exact(json_string_value(val), json_string_length(val), got, 32) != MT_OK)
        return -1;
    return CRYPTO_memcmp(got, want, 32) == 0;
}

mt_err
sig_dsse_body_check(const struct sig_tlog_entry *e, const struct sig_binding *bind,
                    struct mt_sigstore_result *res)
{
    static const char *const p_ph[] = {"spec", "payloadHash", NULL};
    static const char *const p_sigs[] = {"spec", "signatures", NULL};
    json_t *body = NULL;
    const json_t *sigs, *s0, *v;
    uint8_t ph[32], *sig = NULL, *pem = NULL, *der = NULL;
    size_t sig_len = 0, pem_len = 0, der_len = 0;
    unsigned int hn = 0;
    int r;
    mt_err rv;

    MT_ENSURE(bind->is_dsse && bind->dsse_payload != NULL, MT_ERR_ARG);
    MT_GUARD(sig_tlog_body_load(e, &body, res));
    /* payloadHash == H(payload) */
    MT_ENSURE_GOTO(
        EVP_Digest(bind->dsse_payload, bind->dsse_payload_len, ph, &hn, EVP_sha256(), NULL) == 1,
        MT_ERR_CRYPTO, rv, out);
    r = hash_equals(sig_json_path(body, p_ph), ph);
    MT_ENSURE_GOTO(r >= 0, BODY(res, "body payloadHash: missing or malformed"), rv, out);
    MT_ENSURE_GOTO(r == 1,
                   sig_fail(res, MT_ERR_SIGSTORE_TLOG_DIGEST,
                            "tlog entry %lld records a different DSSE payload",
                            (long long)e->log_index),
                   rv, out);
    /* Exactly one signature, the envelope's. */
    sigs = sig_json_path(body, p_sigs);
    MT_ENSURE_GOTO(json_is_array(sigs) && json_array_size(sigs) == 1,
                   BODY(res, "body must record exactly one DSSE signature"), rv, out);
    s0 = json_array_get(sigs, 0);
    v = json_object_get(s0, "signature");
    MT_ENSURE_GOTO(json_is_string(v) && sig_b64_decode(json_string_value(v), json_string_length(v),
                                                       SIG_MAX_FIELD, &sig, &sig_len) == MT_OK,
                   BODY(res, "body signatures[0].signature: missing or bad base64"), rv, out);
    MT_ENSURE_GOTO(sig_len == bind->sig_len && CRYPTO_memcmp(sig, bind->sig, sig_len) == 0,
                   sig_fail(res, MT_ERR_SIGSTORE_TLOG_SIGNATURE,
                            "tlog entry %lld records a different DSSE signature",
                            (long long)e->log_index),
                   rv, out);
    /* The verifier: b64 of the PEM certificate (or PUBLIC KEY), compared as DER. */
    v = json_object_get(s0, "verifier");
    MT_ENSURE_GOTO(json_is_string(v) && sig_b64_decode(json_string_value(v), json_string_length(v),
                                                       SIG_MAX_FIELD, &pem, &pem_len) == MT_OK,
                   BODY(res, "body signatures[0].verifier: missing or bad base64"), rv, out);
    rv = sig_pem_to_der(pem, pem_len, bind->material_is_key ? "PUBLIC KEY" : "CERTIFICATE", &der,
                        &der_len);
    MT_ENSURE_GOTO(rv != MT_ERR_NOMEM, rv, rv, out);
    MT_ENSURE_GOTO(rv == MT_OK && der_len == bind->material_der_len &&
                       CRYPTO_memcmp(der, bind->material_der, der_len) == 0,
                   sig_fail(res, MT_ERR_SIGSTORE_TLOG_KEY, "tlog entry %lld records a different %s",
                            (long long)e->log_index,
                            bind->material_is_key ? "public key" : "certificate"),
                   rv, out);
    rv = MT_OK;
out:
    mt_free(sig);
    mt_free(pem);
    mt_free(der);
    json_decref(body);
    return rv;
}

mt_err
sig_intoto_subject(const uint8_t *payload, size_t len, const uint8_t digest[32])
{
    json_t *st = NULL, *subjects, *s;
    const json_t *v;
    uint8_t got[32];
    size_t i;
    int found = 0;
    mt_err rv;

    rv = mt_json_parse((const char *)payload, len, SIG_MAX_FIELD * 2, &st);
    MT_ENSURE(rv == MT_OK, rv == MT_ERR_NOMEM ? rv : MT_ERR_SIGSTORE_DSSE_SUBJECT);
    subjects = json_object_get(st, "subject");
    MT_ENSURE_GOTO(json_is_object(st) && json_is_array(subjects) &&
                       json_array_size(subjects) <= SIG_MAX_SUBJECTS,
                   MT_ERR_SIGSTORE_DSSE_SUBJECT, rv, out);
    json_array_foreach(subjects, i, s)
    {
        v = json_object_get(json_object_get(s, "digest"), "sha256");
        if (json_is_string(v) &&
            mt_hex_decode_exact(json_string_value(v), json_string_length(v), got, 32) == MT_OK &&
            CRYPTO_memcmp(got, digest, 32) == 0)
            found = 1;
    }
    rv = found ? MT_OK : MT_ERR_SIGSTORE_DSSE_SUBJECT;
out:
    json_decref(st);
    return rv;
}

mt_err
sig_dsse_verify(EVP_PKEY *key, const EVP_MD *md, const struct sig_bundle *b,
                const uint8_t digest[32], struct mt_sigstore_result *res)
{
    EVP_MD_CTX *ctx = NULL;
    uint8_t *pae = NULL;
    size_t pae_len = 0;
    mt_err rv;
    int ok;

    MT_ENSURE(b->is_dsse && b->dsse_type != NULL, MT_ERR_ARG);
    MT_ENSURE(strcmp(b->dsse_type, INTOTO_TYPE) == 0,
              sig_fail(res, MT_ERR_SIGSTORE_UNSUPPORTED,
                       "DSSE payloadType \"%.64s\" (only " INTOTO_TYPE " names an artifact)",
                       b->dsse_type));
    MT_ENSURE(key != NULL && (EVP_PKEY_get_base_id(key) == EVP_PKEY_EC ||
                              EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA),
              sig_fail(res, MT_ERR_SIGSTORE_UNSUPPORTED, "DSSE signature key type"));
    /* The signature over PAE(type, payload) first: an unverified statement proves nothing. */
    MT_GUARD(sig_dsse_pae(b->dsse_type, b->dsse_payload, b->dsse_payload_len, &pae, &pae_len));
    ctx = EVP_MD_CTX_new();
    MT_ENSURE_GOTO(ctx != NULL, MT_ERR_NOMEM, rv, out);
    ok = EVP_DigestVerifyInit(ctx, NULL, md, NULL, key) == 1 &&
         EVP_DigestVerify(ctx, b->sig, b->sig_len, pae, pae_len) == 1;
    MT_ENSURE_GOTO(
        ok,
        sig_fail(res, MT_ERR_SIGSTORE_SIGNATURE,
                 "DSSE envelope signature does not verify over PAE(payloadType, payload)"),
        rv, out);
    rv = sig_intoto_subject(b->dsse_payload, b->dsse_payload_len, digest);
    MT_ENSURE_GOTO(rv == MT_OK,
                   rv == MT_ERR_NOMEM ? rv
                                      : sig_fail(res, rv,
                                                 "the in-toto statement has no subject with the "
                                                 "artifact's sha256"),
                   rv, out);
out:
    EVP_MD_CTX_free(ctx);
    mt_free(pae);
    return rv;
}
