/*
 * RFC 3161 signed timestamps (sigstore.md 4.5, 6.3): a DER TimeStampResp,
 * status granted, whose TSTInfo message imprint is the hash of the bundle's
 * signature bytes, signed by a timestamp authority of the trusted root.  The
 * signer chain goes to that TSA's last certificate (the anchor) with only
 * its other certificates as intermediates, validated at genTime (not now);
 * OpenSSL's TS API also checks the ESS signing-certificate ID and the
 * timeStamping EKU.  When the chain names the signing certificate, the
 * token's signer must be that certificate.  genTime must lie in the TSA's
 * validFor (closed).  Certificates embedded in the token are never anchors.
 */
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pkcs7.h>
#include <openssl/ts.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "sigstore/sig_internal.h"
#include "util/mt_time.h"

#define TSFMT(res, ...) sig_fail((res), MT_ERR_SIGSTORE_TIMESTAMP_FORMAT, __VA_ARGS__)

/* genTime to Unix milliseconds: GeneralizedTime "YYYYMMDDHHMMSS[.f+]Z" (RFC 3161 2.4.2). */
static mt_err
gen_time_ms(const ASN1_GENERALIZEDTIME *gt, int64_t *out_ms)
{
    const unsigned char *d;
    struct tm tm;
    int64_t sec, ms = 0;
    int i, n, digits = 0;

    MT_ENSURE(gt != NULL && ASN1_GENERALIZEDTIME_check(gt) == 1, MT_ERR_SIGSTORE_TIMESTAMP_FORMAT);
    MT_ENSURE(ASN1_TIME_to_tm(gt, &tm) == 1 && mt_tm_to_unix(&tm, &sec) == MT_OK,
              MT_ERR_SIGSTORE_TIMESTAMP_FORMAT);
    MT_ENSURE(sec >= 0 && sec < INT64_MAX / 1000 - 1, MT_ERR_SIGSTORE_TIMESTAMP_FORMAT);
    d = ASN1_STRING_get0_data(gt);
    n = ASN1_STRING_length(gt);
    /* The fraction, truncated to milliseconds (RFC 3161 forbids trailing zeros; not needed here).
     */
    for (i = 0; i < n && d[i] != '.'; i++)
        ;
    for (i++; i < n && d[i] >= '0' && d[i] <= '9'; i++) {
        if (digits++ < 3)
            ms = ms * 10 + (d[i] - '0');
    }
    for (; digits > 0 && digits < 3; digits++)
        ms *= 10;
    *out_ms = sec * 1000 + ms;
    return MT_OK;
}

/* The imprint must be a known hash of exactly the signature bytes (cheap, before any trust). */
static mt_err
check_imprint(TS_TST_INFO *info, const uint8_t *sig, size_t sig_len, struct mt_sigstore_result *res)
{
    TS_MSG_IMPRINT *mi = TS_TST_INFO_get_msg_imprint(info);
    const ASN1_OBJECT *oid = NULL;
    const EVP_MD *md;
    ASN1_OCTET_STRING *got;
    uint8_t h[EVP_MAX_MD_SIZE];
    unsigned int hn = 0;
    int nid;

    MT_ENSURE(mi != NULL, TSFMT(res, "timestamp without a message imprint"));
    X509_ALGOR_get0(&oid, NULL, NULL, TS_MSG_IMPRINT_get_algo(mi));
    nid = OBJ_obj2nid(oid);
    MT_ENSURE(nid == NID_sha256 || nid == NID_sha384 || nid == NID_sha512,
              sig_fail(res, MT_ERR_SIGSTORE_TIMESTAMP_IMPRINT,
                       "timestamp imprint hash %s is not SHA-256/384/512", OBJ_nid2sn(nid)));
    md = EVP_get_digestbynid(nid);
    MT_ENSURE(md != NULL, MT_ERR_CRYPTO);
    MT_ENSURE(EVP_Digest(sig, sig_len, h, &hn, md, NULL) == 1, MT_ERR_CRYPTO);
    got = TS_MSG_IMPRINT_get_msg(mi);
    MT_ENSURE(got != NULL && (unsigned int)ASN1_STRING_length(got) == hn &&
                  CRYPTO_memcmp(ASN1_STRING_get0_data(got), h, hn) == 0,
              sig_fail(res, MT_ERR_SIGSTORE_TIMESTAMP_IMPRINT,
                       "timestamp message imprint is not the hash of the bundle signature"));
    return MT_OK;
}

/*
 * When the trusted root names the TSA's signing certificate (chain element
 * 0), the token's signer must be exactly that certificate, not another one
 * the same anchor issued (and the token embedded).  1 pinned, 0 not.
 */
static int
signer_pinned(const struct sig_ca *ca, TS_RESP *resp)
{
    STACK_OF(X509) *signers;
    int ok;

    if (sk_X509_num(ca->intermediates) == 0)
        return 1; /* a chain of the anchor alone names no signing certificate */
    signers = PKCS7_get0_signers(TS_RESP_get_token(resp), ca->intermediates, 0);
    ok = signers != NULL && sk_X509_num(signers) == 1 &&
         X509_cmp(sk_X509_value(signers, 0), sk_X509_value(ca->intermediates, 0)) == 0;
    sk_X509_free(signers); /* the certificates are not owned by the stack */
    return ok;
}

/* The token signed by ca's chain at gen_sec (OpenSSL TS API); 1 verified, 0 not, -1 no memory. */
static int
verify_with(const struct sig_ca *ca, TS_RESP *resp, const uint8_t *sig, size_t sig_len,
            int64_t gen_sec)
{
    X509_STORE *store = NULL;
    STACK_OF(X509) *certs = NULL;
    TS_VERIFY_CTX *vctx = NULL;
    BIO *data = NULL;
    int ok = -1, i;

    store = X509_STORE_new();
    certs = sk_X509_new_null();
    vctx = TS_VERIFY_CTX_new();
    data = BIO_new_mem_buf(sig, (int)sig_len);
    if (store == NULL || certs == NULL || vctx == NULL || data == NULL)
        goto out;
    if (X509_STORE_add_cert(store, ca->anchor) != 1)
        goto out;
    /* Chain validity at genTime, not now (the certificates may have expired since). */
    X509_VERIFY_PARAM_set_time(X509_STORE_get0_param(store), (time_t)gen_sec);
    if (!ca->anchor_self_signed)
        X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN);
    for (i = 0; i < sk_X509_num(ca->intermediates); i++) {
        X509 *x = sk_X509_value(ca->intermediates, i);

        if (X509_up_ref(x) != 1)
            goto out;
        if (sk_X509_push(certs, x) <= 0) {
            X509_free(x);
            goto out;
        }
    }
    /* Version, CMS signature + chain + ESS cert ID + EKU, and the imprint over the data. */
    TS_VERIFY_CTX_set_flags(vctx, TS_VFY_VERSION | TS_VFY_SIGNATURE | TS_VFY_DATA);
    TS_VERIFY_CTX_set_data(vctx, data);
    data = NULL;
    TS_VERIFY_CTX_set_store(vctx, store);
    store = NULL;
    TS_VERIFY_CTX_set_certs(vctx, certs);
    certs = NULL;
    ok = TS_RESP_verify_response(vctx, resp) == 1 ? 1 : 0;
    if (ok == 1)
        ok = signer_pinned(ca, resp);
out:
    ERR_clear_error();
    TS_VERIFY_CTX_free(vctx); /* frees the store, certs and data it was given */
    X509_STORE_free(store);
    sk_X509_pop_free(certs, X509_free);
    BIO_free(data);
    return ok;
}

mt_err
sig_tsa_verify(const struct mt_sigstore_trust *t, const uint8_t *der, size_t len,
               const uint8_t *sig, size_t sig_len, int64_t *gen_time,
               struct mt_sigstore_result *res)
{
    const unsigned char *p = der;
    TS_RESP *resp = NULL;
    TS_TST_INFO *info;
    const ASN1_INTEGER *status;
    int64_t ms = 0;
    size_t i;
    int verified = 0, outside = 0, r;
    mt_err rv;

    MT_ENSURE(der != NULL && len > 0 && len <= SIG_MAX_FIELD && sig != NULL && sig_len > 0 &&
                  sig_len <= SIG_MAX_FIELD,
              TSFMT(res, "empty or oversized timestamp"));
    resp = d2i_TS_RESP(NULL, &p, (long)len);
    MT_ENSURE_GOTO(resp != NULL && p == der + len,
                   TSFMT(res, "signedTimestamp is not a DER TimeStampResp"), rv, out);
    status = TS_STATUS_INFO_get0_status(TS_RESP_get_status_info(resp));
    /* granted (0) or grantedWithMods (1) */
    MT_ENSURE_GOTO(status != NULL && ASN1_INTEGER_get(status) >= 0 && ASN1_INTEGER_get(status) <= 1,
                   TSFMT(res, "timestamp status is not granted"), rv, out);
    info = TS_RESP_get_tst_info(resp);
    MT_ENSURE_GOTO(info != NULL && TS_RESP_get_token(resp) != NULL,
                   TSFMT(res, "timestamp response without a TSTInfo token"), rv, out);
    MT_GUARD_GOTO(gen_time_ms(TS_TST_INFO_get_time(info), &ms), rv, bad_time);
    MT_GUARD_GOTO(check_imprint(info, sig, sig_len, res), rv, out);
    for (i = 0; t != NULL && i < t->n_tsas && !verified; i++) {
        r = verify_with(&t->tsas[i], resp, sig, sig_len, ms / 1000);
        MT_ENSURE_GOTO(r >= 0, MT_ERR_NOMEM, rv, out);
        if (r == 0)
            continue;
        /* Signed by this TSA: its window must contain genTime (closed, 3.2). */
        if (sig_window_contains(&t->tsas[i].valid, ms))
            verified = 1;
        else
            outside = 1;
    }
    MT_ENSURE_GOTO(verified || !outside,
                   sig_fail(res, MT_ERR_SIGSTORE_TIMESTAMP_TIME,
                            "timestamp genTime %lld is outside the validity of its TSA",
                            (long long)(ms / 1000)),
                   rv, out);
    MT_ENSURE_GOTO(verified,
                   sig_fail(res, MT_ERR_SIGSTORE_TIMESTAMP,
                            "timestamp (genTime %lld) does not verify with any of the %zu "
                            "timestamp authorities of the trusted root",
                            (long long)(ms / 1000), t == NULL ? (size_t)0 : t->n_tsas),
                   rv, out);
    *gen_time = ms / 1000;
    rv = MT_OK;
    goto out;
bad_time:
    rv = TSFMT(res, "timestamp genTime is not a valid GeneralizedTime");
out:
    TS_RESP_free(resp);
    return rv;
}
