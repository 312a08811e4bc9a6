/*
 * Rekor v1 hashedrekord 0.0.1 entry bodies (sigstore.md 2.4, 4.4 b-c): the
 * body is parsed, never re-serialised, and bound to the bundle's signature,
 * certificate or key, and the artifact digest (CVE-2022-36056,
 * CVE-2026-22703: 4.13).
 */
#include <string.h>

#include <openssl/crypto.h>

#include "sigstore/sig_internal.h"
#include "util/mt_alloc.h"
#include "util/mt_hex.h"
#include "util/mt_json.h"

#define BODY(res, ...) sig_fail((res), MT_ERR_SIGSTORE_TLOG_BODY, __VA_ARGS__)

static int
bytes_equal(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    return alen == blen && CRYPTO_memcmp(a, b, alen) == 0;
}

static mt_err
get_path(const json_t *root, const char *const *path, json_t **out)
{
    const json_t *v = root;
    size_t i;

    for (i = 0; path[i] != NULL; i++) {
        MT_ENSURE(json_is_object(v), MT_ERR_SIGSTORE_TLOG_BODY);
        v = json_object_get(v, path[i]);
    }
    MT_ENSURE(json_is_string(v), MT_ERR_SIGSTORE_TLOG_BODY);
    *out = (json_t *)v;
    return MT_OK;
}

mt_err
sig_rekor_body_check(const struct sig_tlog_entry *e, const struct sig_binding *bind,
                     struct mt_sigstore_result *res)
{
    static const char *const p_sig[] = {"spec", "signature", "content", NULL};
    static const char *const p_key[] = {"spec", "signature", "publicKey", "content", NULL};
    static const char *const p_alg[] = {"spec", "data", "hash", "algorithm", NULL};
    static const char *const p_val[] = {"spec", "data", "hash", "value", NULL};
    json_t *body = NULL, *v;
    const char *kind, *ver;
    uint8_t *sig = NULL, *pem = NULL, *der = NULL, digest[32];
    size_t sig_len = 0, pem_len = 0, der_len = 0;
    mt_err rv;

    rv = mt_json_parse((const char *)e->body, e->body_len, SIG_MAX_FIELD, &body);
    MT_ENSURE(rv == MT_OK, rv == MT_ERR_NOMEM ? rv : BODY(res, "canonicalizedBody is not JSON"));
    MT_ENSURE_GOTO(mt_json_get_str(body, "kind", &kind, NULL) == MT_OK &&
                       mt_json_get_str(body, "apiVersion", &ver, NULL) == MT_OK,
                   BODY(res, "body without kind or apiVersion"), rv, out);
    MT_ENSURE_GOTO(
        strcmp(kind, e->kind) == 0 && strcmp(ver, e->version) == 0,
        BODY(res, "body is %.32s/%.16s but kindVersion says %s/%s", kind, ver, e->kind, e->version),
        rv, out);

    /* The signature recorded in the log is the bundle's. */
    MT_GUARD_GOTO(get_path(body, p_sig, &v), rv, bad_shape);
    rv = sig_b64_decode(json_string_value(v), json_string_length(v), SIG_MAX_FIELD, &sig, &sig_len);
    MT_ENSURE_GOTO(rv == MT_OK, BODY(res, "body signature.content: bad base64"), rv, out);
    MT_ENSURE_GOTO(bytes_equal(sig, sig_len, bind->sig, bind->sig_len),
                   sig_fail(res, MT_ERR_SIGSTORE_TLOG_SIGNATURE,
                            "tlog entry %lld records a different signature",
                            (long long)e->log_index),
                   rv, out);

    /* The certificate (or key) recorded in the log is the bundle's (or the pinned key). */
    MT_GUARD_GOTO(get_path(body, p_key, &v), rv, bad_shape);
    rv = sig_b64_decode(json_string_value(v), json_string_length(v), SIG_MAX_FIELD, &pem, &pem_len);
    MT_ENSURE_GOTO(rv == MT_OK, BODY(res, "body publicKey.content: bad base64"), rv, out);
    rv = sig_pem_to_der(pem, pem_len, bind->material_is_key ? "PUBLIC KEY" : "CERTIFICATE", &der,
                        &der_len);
    MT_ENSURE_GOTO(rv != MT_ERR_NOMEM, rv, rv, out);
    MT_ENSURE_GOTO(
        rv == MT_OK && bytes_equal(der, der_len, bind->material_der, bind->material_der_len),
        sig_fail(res, MT_ERR_SIGSTORE_TLOG_KEY, "tlog entry %lld records a different %s",
                 (long long)e->log_index, bind->material_is_key ? "public key" : "certificate"),
        rv, out);

    /* And the artifact digest. */
    MT_GUARD_GOTO(get_path(body, p_alg, &v), rv, bad_shape);
    MT_ENSURE_GOTO(strcmp(json_string_value(v), "sha256") == 0,
                   sig_fail(res, MT_ERR_SIGSTORE_TLOG_DIGEST, "tlog entry hash algorithm %.32s",
                            json_string_value(v)),
                   rv, out);
    MT_GUARD_GOTO(get_path(body, p_val, &v), rv, bad_shape);
    MT_ENSURE_GOTO(
        mt_hex_decode_exact(json_string_value(v), json_string_length(v), digest, 32) == MT_OK &&
            CRYPTO_memcmp(digest, bind->digest, 32) == 0,
        sig_fail(res, MT_ERR_SIGSTORE_TLOG_DIGEST,
                 "tlog entry %lld records a different artifact digest", (long long)e->log_index),
        rv, out);
    rv = MT_OK;
    goto out;
bad_shape:
    rv = BODY(res, "body is not a hashedrekord 0.0.1 entry");
out:
    mt_free(sig);
    mt_free(pem);
    mt_free(der);
    json_decref(body);
    return rv;
}

int
sig_entry_is_v2(const struct sig_tlog_entry *e)
{
    /* Rekor v2 (rekor-tiles) writes the 0.0.2 kinds; Rekor v1 never does. */
    return strcmp(e->version, "0.0.2") == 0 &&
           (strcmp(e->kind, "hashedrekord") == 0 || strcmp(e->kind, "dsse") == 0);
}
