/*
 * Embedded SCTs (sigstore.md 4.8, RFC 6962 3.2): OpenSSL parses the list;
 * the signed structure is rebuilt by hand (precert entry: issuer key hash
 * and the leaf TBS without the SCT extension, re-encoded by OpenSSL) and
 * checked with the CT log key of the trusted root.  At least one SCT from a
 * known log, inside that log key's window, must verify.
 */
#include <string.h>

#include <openssl/ct.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "sigstore/sig_internal.h"
#include "util/mt_alloc.h"
#include "util/mt_buf.h"

static mt_err
precert_tbs(X509 *leaf, uint8_t **out, size_t *out_len)
{
    X509 *dup = X509_dup(leaf);
    X509_EXTENSION *ext;
    unsigned char *p = NULL;
    int idx, n;
    mt_err rv = MT_ERR_SIGSTORE_SCT;

    MT_ENSURE(dup != NULL, MT_ERR_NOMEM);
    idx = X509_get_ext_by_NID(dup, NID_ct_precert_scts, -1);
    if (idx < 0 || X509_get_ext_by_NID(dup, NID_ct_precert_scts, idx) >= 0)
        goto out;
    ext = X509_delete_ext(dup, idx);
    X509_EXTENSION_free(ext);
    n = i2d_re_X509_tbs(dup, &p);
    if (n <= 0 || n > 0xffffff)
        goto out;
    *out = mt_malloc((size_t)n);
    if (*out == NULL) {
        rv = MT_ERR_NOMEM;
        goto out;
    }
    memcpy(*out, p, (size_t)n);
    *out_len = (size_t)n;
    rv = MT_OK;
out:
    OPENSSL_free(p);
    X509_free(dup);
    return rv;
}

static mt_err
issuer_key_hash(X509 *issuer, uint8_t out[32])
{
    unsigned char *p = NULL;
    unsigned int n = 0;
    int len;
    int ok;

    len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(issuer), &p);
    MT_ENSURE(len > 0, MT_ERR_CRYPTO);
    ok = EVP_Digest(p, (size_t)len, out, &n, EVP_sha256(), NULL) == 1;
    OPENSSL_free(p);
    MT_ENSURE(ok && n == 32, MT_ERR_CRYPTO);
    return MT_OK;
}

/* The digitally-signed struct of RFC 6962 3.2 for a precert entry. */
static mt_err
signed_data(const SCT *sct, const uint8_t ikh[32], const uint8_t *tbs, size_t tbs_len,
            struct mt_buf *b)
{
    uint64_t ts = SCT_get_timestamp(sct);
    unsigned char *ext = NULL;
    size_t ext_len = SCT_get0_extensions(sct, &ext);
    uint8_t hdr[12], len3[3], len2[2];
    int i;

    MT_ENSURE(ext_len <= 0xffff, MT_ERR_SIGSTORE_SCT);
    hdr[0] = 0; /* version v1 */
    hdr[1] = 0; /* certificate_timestamp */
    for (i = 0; i < 8; i++)
        hdr[2 + i] = (uint8_t)(ts >> (56 - 8 * i));
    hdr[10] = 0; /* precert_entry */
    hdr[11] = 1;
    len3[0] = (uint8_t)(tbs_len >> 16);
    len3[1] = (uint8_t)(tbs_len >> 8);
    len3[2] = (uint8_t)tbs_len;
    len2[0] = (uint8_t)(ext_len >> 8);
    len2[1] = (uint8_t)ext_len;
    MT_GUARD(mt_buf_append(b, hdr, sizeof(hdr)));
    MT_GUARD(mt_buf_append(b, ikh, 32));
    MT_GUARD(mt_buf_append(b, len3, 3));
    MT_GUARD(mt_buf_append(b, tbs, tbs_len));
    MT_GUARD(mt_buf_append(b, len2, 2));
    if (ext_len > 0)
        MT_GUARD(mt_buf_append(b, ext, ext_len));
    return MT_OK;
}

mt_err
sig_sct_verify(const struct mt_sigstore_trust *t, X509 *leaf, X509 *issuer,
               struct mt_sigstore_result *res)
{
    STACK_OF(SCT) *scts = NULL;
    const struct sig_log *logs_ok[SIG_MAX_TRUST_LOGS];
    const struct sig_log *log;
    uint8_t *tbs = NULL, ikh[32];
    unsigned char *id, *sig;
    size_t tbs_len = 0, id_len, sig_len, n_ok = 0, k;
    struct mt_buf b;
    uint64_t ts;
    int i, crit = 0, seen, nid;
    mt_err rv, e;

    mt_buf_init(&b, SIG_MAX_FIELD * 2);
    scts = X509_get_ext_d2i(leaf, NID_ct_precert_scts, &crit, NULL);
    MT_ENSURE_GOTO(scts != NULL && sk_SCT_num(scts) > 0,
                   sig_fail(res, MT_ERR_SIGSTORE_SCT, "certificate has no embedded SCT"), rv, out);
    MT_GUARD_GOTO(precert_tbs(leaf, &tbs, &tbs_len), rv, out);
    MT_GUARD_GOTO(issuer_key_hash(issuer, ikh), rv, out);
    for (i = 0; i < sk_SCT_num(scts); i++) {
        const SCT *sct = sk_SCT_value(scts, i);

        if (SCT_get_version(sct) != SCT_VERSION_V1)
            continue;
        id_len = SCT_get0_log_id(sct, &id);
        log = sig_trust_find_ctlog(t, id, id_len);
        if (log == NULL)
            continue;
        ts = SCT_get_timestamp(sct);
        if (ts > (uint64_t)INT64_MAX || !sig_window_contains(&log->valid, (int64_t)ts))
            continue;
        nid = SCT_get_signature_nid(sct);
        if (nid != NID_ecdsa_with_SHA256 && nid != NID_sha256WithRSAEncryption)
            continue;
        sig_len = SCT_get0_signature(sct, &sig);
        b.len = 0;
        MT_GUARD_GOTO(signed_data(sct, ikh, tbs, tbs_len, &b), rv, out);
        e = sig_verify_message(log->key, b.p, b.len, sig, sig_len);
        if (e == MT_ERR_NOMEM) {
            rv = e;
            goto out;
        }
        if (e != MT_OK)
            continue;
        /* At most one SCT counts per log. */
        seen = 0;
        for (k = 0; k < n_ok; k++)
            seen |= logs_ok[k] == log;
        if (!seen && n_ok < SIG_MAX_TRUST_LOGS)
            logs_ok[n_ok++] = log;
    }
    MT_ENSURE_GOTO(n_ok >= 1,
                   sig_fail(res, MT_ERR_SIGSTORE_SCT,
                            "no embedded SCT verifies with a CT log of the trusted root"),
                   rv, out);
    rv = MT_OK;
out:
    SCT_LIST_free(scts);
    mt_free(tbs);
    mt_buf_free(&b);
    return rv;
}
