/*
 * trusted_root.json (sigstore.md 3): Rekor logs, CT logs, Fulcio CAs and
 * TSAs with their validity windows.  Unknown fields are ignored (the file
 * is pinned and may gain fields); every field we use is checked.  A tlog
 * key without validFor.start makes the whole root invalid (3.2).
 */
#include <string.h>

#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "sigstore/sig_internal.h"
#include "util/mt_alloc.h"
#include "util/mt_file.h"
#include "util/mt_json.h"

#define BAD MT_ERR_SIGSTORE_TRUST_ROOT

int
sig_window_contains(const struct sig_window *w, int64_t t_ms)
{
    return t_ms >= w->start_ms && t_ms <= w->end_ms;
}

static mt_err
parse_window(const json_t *obj, int require_start, struct sig_window *w)
{
    json_t *vf = json_object_get(obj, "validFor"), *s, *e;

    w->start_ms = INT64_MIN;
    w->end_ms = SIG_TIME_OPEN;
    if (vf == NULL) {
        MT_ENSURE(!require_start, BAD);
        return MT_OK;
    }
    MT_ENSURE(json_is_object(vf), BAD);
    s = json_object_get(vf, "start");
    e = json_object_get(vf, "end");
    if (s == NULL)
        MT_ENSURE(!require_start, BAD);
    else
        MT_ENSURE(json_is_string(s) &&
                      sig_rfc3339_ms(json_string_value(s), 0, &w->start_ms) == MT_OK,
                  BAD);
    if (e != NULL)
        MT_ENSURE(json_is_string(e) && sig_rfc3339_ms(json_string_value(e), 1, &w->end_ms) == MT_OK,
                  BAD);
    MT_ENSURE(w->start_ms <= w->end_ms, BAD);
    return MT_OK;
}

static mt_err
parse_log(const json_t *lj, int is_tlog, struct sig_log *log)
{
    json_t *pk, *lid;
    const char *s;
    size_t len, n = 0;
    uint8_t *raw = NULL;
    const unsigned char *p;
    mt_err rv = MT_OK;

    MT_ENSURE(json_is_object(lj), BAD);
    MT_ENSURE(mt_json_get_str(lj, "baseUrl", &s, &len) == MT_OK && len < sizeof(log->base_url),
              BAD);
    memcpy(log->base_url, s, len + 1);
    MT_ENSURE(mt_json_get_str(lj, "hashAlgorithm", &s, NULL) == MT_OK && strcmp(s, "SHA2_256") == 0,
              BAD);
    MT_ENSURE(mt_json_get_object(lj, "logId", &lid) == MT_OK, BAD);
    MT_ENSURE(sig_json_bytes_exact(lid, "keyId", log->log_id, 32) == MT_OK, BAD);
    MT_ENSURE(mt_json_get_object(lj, "publicKey", &pk) == MT_OK, BAD);
    MT_GUARD(parse_window(pk, is_tlog, &log->valid));
    MT_ENSURE(mt_json_get_str(pk, "keyDetails", &s, NULL) == MT_OK, BAD);
    MT_ENSURE(sig_json_bytes(pk, "rawBytes", SIG_MAX_FIELD, &raw, &n) == MT_OK && n > 0, BAD);
    p = raw;
    if (strcmp(s, "PKCS1_RSA_PKCS1V5") == 0) /* staging's deprecated CT key (3.1) */
        log->key = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, (long)n);
    else
        log->key = d2i_PUBKEY(NULL, &p, (long)n);
    MT_ENSURE_GOTO(log->key != NULL && p == raw + n, BAD, rv, out);
    log->ed25519 = EVP_PKEY_get_base_id(log->key) == EVP_PKEY_ED25519;
out:
    mt_free(raw);
    return rv;
}

static mt_err
parse_ca(const json_t *cj, struct sig_ca *ca)
{
    json_t *chain, *certs, *c;
    uint8_t *der = NULL;
    const unsigned char *p;
    size_t i, n = 0, count;
    X509 *x;

    MT_ENSURE(json_is_object(cj), BAD);
    MT_ENSURE(mt_json_get_object(cj, "certChain", &chain) == MT_OK, BAD);
    MT_ENSURE(mt_json_get_array(chain, "certificates", SIG_MAX_CA_CHAIN, &certs) == MT_OK, BAD);
    count = json_array_size(certs);
    MT_ENSURE(count > 0, BAD);
    MT_GUARD(parse_window(cj, 0, &ca->valid));
    ca->intermediates = sk_X509_new_null();
    MT_ENSURE(ca->intermediates != NULL, MT_ERR_NOMEM);
    json_array_foreach(certs, i, c)
    {
        MT_ENSURE(json_is_object(c) &&
                      sig_json_bytes(c, "rawBytes", SIG_MAX_FIELD, &der, &n) == MT_OK,
                  BAD);
        p = der;
        x = d2i_X509(NULL, &p, (long)n);
        if (x == NULL || p != der + n) {
            X509_free(x);
            mt_free(der);
            return BAD;
        }
        mt_free(der);
        der = NULL;
        if (i + 1 == count) {
            ca->anchor = x;
        } else if (sk_X509_push(ca->intermediates, x) <= 0) {
            X509_free(x);
            return MT_ERR_NOMEM;
        }
    }
    ca->anchor_self_signed = X509_check_issued(ca->anchor, ca->anchor) == X509_V_OK;
    return MT_OK;
}

void
mt_sigstore_trust_free(struct mt_sigstore_trust *t)
{
    size_t i;

    if (t == NULL)
        return;
    for (i = 0; i < t->n_tlogs; i++)
        EVP_PKEY_free(t->tlogs[i].key);
    for (i = 0; i < t->n_ctlogs; i++)
        EVP_PKEY_free(t->ctlogs[i].key);
    for (i = 0; i < t->n_cas; i++) {
        X509_free(t->cas[i].anchor);
        sk_X509_pop_free(t->cas[i].intermediates, X509_free);
    }
    for (i = 0; i < t->n_tsas; i++) {
        X509_free(t->tsas[i].anchor);
        sk_X509_pop_free(t->tsas[i].intermediates, X509_free);
    }
    mt_free(t);
}

mt_err
mt_sigstore_trust_parse(const uint8_t *json, size_t len, struct mt_sigstore_trust **out)
{
    struct mt_sigstore_trust *t = NULL;
    json_t *root = NULL, *arr, *v;
    const char *mt;
    size_t i;
    mt_err rv;

    MT_ENSURE(json != NULL && out != NULL, MT_ERR_ARG);
    MT_ENSURE(len <= MT_SIGSTORE_MAX_DOC, MT_ERR_TOO_LARGE);
    rv = mt_json_parse((const char *)json, len, MT_SIGSTORE_MAX_DOC, &root);
    MT_ENSURE(rv == MT_OK, rv == MT_ERR_NOMEM ? rv : BAD);
    t = mt_calloc(1, sizeof(*t));
    MT_ENSURE_GOTO(t != NULL, MT_ERR_NOMEM, rv, out);
    MT_ENSURE_GOTO(json_is_object(root), BAD, rv, out);
    MT_ENSURE_GOTO(mt_json_get_str(root, "mediaType", &mt, NULL) == MT_OK, BAD, rv, out);
    MT_ENSURE_GOTO(strcmp(mt, "application/vnd.dev.sigstore.trustedroot+json;version=0.1") == 0 ||
                       strcmp(mt, "application/vnd.dev.sigstore.trustedroot.v0.2+json") == 0,
                   BAD, rv, out);
    MT_ENSURE_GOTO(mt_json_get_array(root, "tlogs", SIG_MAX_TRUST_LOGS, &arr) == MT_OK, BAD, rv,
                   out);
    json_array_foreach(arr, i, v)
    {
        t->n_tlogs = i + 1;
        MT_GUARD_GOTO(parse_log(v, 1, &t->tlogs[i]), rv, out);
    }
    if (json_object_get(root, "ctlogs") != NULL) {
        MT_ENSURE_GOTO(mt_json_get_array(root, "ctlogs", SIG_MAX_TRUST_LOGS, &arr) == MT_OK, BAD,
                       rv, out);
        json_array_foreach(arr, i, v)
        {
            t->n_ctlogs = i + 1;
            MT_GUARD_GOTO(parse_log(v, 0, &t->ctlogs[i]), rv, out);
        }
    }
    if (json_object_get(root, "certificateAuthorities") != NULL) {
        MT_ENSURE_GOTO(mt_json_get_array(root, "certificateAuthorities", SIG_MAX_TRUST_CAS, &arr) ==
                           MT_OK,
                       BAD, rv, out);
        json_array_foreach(arr, i, v)
        {
            t->n_cas = i + 1;
            MT_GUARD_GOTO(parse_ca(v, &t->cas[i]), rv, out);
        }
    }
    if (json_object_get(root, "timestampAuthorities") != NULL) {
        MT_ENSURE_GOTO(mt_json_get_array(root, "timestampAuthorities", SIG_MAX_TRUST_CAS, &arr) ==
                           MT_OK,
                       BAD, rv, out);
        json_array_foreach(arr, i, v)
        {
            t->n_tsas = i + 1;
            MT_GUARD_GOTO(parse_ca(v, &t->tsas[i]), rv, out);
        }
    }
    *out = t;
    t = NULL;
    rv = MT_OK;
out:
    mt_sigstore_trust_free(t);
    json_decref(root);
    return rv;
}

mt_err
mt_sigstore_trust_load(const char *path, struct mt_sigstore_trust **out)
{
    uint8_t *text = NULL;
    size_t len = 0;
    mt_err rv;

    MT_ENSURE(path != NULL && out != NULL, MT_ERR_ARG);
    MT_GUARD(mt_file_read(path, MT_SIGSTORE_MAX_DOC, &text, &len));
    rv = mt_sigstore_trust_parse(text, len, out);
    mt_free(text);
    return rv;
}

const struct sig_log *
sig_trust_find_tlog(const struct mt_sigstore_trust *t, const uint8_t id[32])
{
    size_t i;

    for (i = 0; t != NULL && i < t->n_tlogs; i++) {
        if (memcmp(t->tlogs[i].log_id, id, 32) == 0)
            return &t->tlogs[i];
    }
    return NULL;
}

const struct sig_log *
sig_trust_find_ctlog(const struct mt_sigstore_trust *t, const uint8_t *id, size_t id_len)
{
    size_t i;

    for (i = 0; t != NULL && id_len == 32 && i < t->n_ctlogs; i++) {
        if (memcmp(t->ctlogs[i].log_id, id, 32) == 0)
            return &t->ctlogs[i];
    }
    return NULL;
}
