#include "dcap/verifier.h"

#include <stdio.h>
#include <string.h>

#include <openssl/x509v3.h>

#include "util/mt_time.h"

mt_err
mt_asn1_time_to_unix(const ASN1_TIME *t, int64_t *out)
{
    struct tm tm;

    MT_ENSURE(t != NULL && ASN1_TIME_to_tm(t, &tm) == 1, MT_ERR_TIME);
    return mt_tm_to_unix(&tm, out);
}

mt_err
mt_crl_window(X509_CRL *crl, int64_t *this_update, int64_t *next_update)
{
    MT_GUARD(mt_asn1_time_to_unix(X509_CRL_get0_lastUpdate(crl), this_update));
    /* A CRL without nextUpdate could be used forever: refuse it. */
    MT_GUARD(mt_asn1_time_to_unix(X509_CRL_get0_nextUpdate(crl), next_update));
    return MT_OK;
}

/* No critical extension we do not understand, on the CRL or any entry (RFC 5280 5.2, 5.3). */
static int
crl_extensions_ok(X509_CRL *crl)
{
    STACK_OF(X509_REVOKED) *revoked;
    int i;

    if (X509_CRL_get_ext_by_critical(crl, 1, -1) >= 0)
        return 0;
    revoked = X509_CRL_get_REVOKED(crl);
    for (i = 0; i < sk_X509_REVOKED_num(revoked); i++) {
        if (X509_REVOKED_get_ext_by_critical(sk_X509_REVOKED_value(revoked, i), 1, -1) >= 0)
            return 0;
    }
    return 1;
}

/*
 * Check one certificate against the CRL of its issuer: the CRL must be
 * issued under the issuer's name and verify with its key (unless
 * crl_verified), be current at now, and not list the certificate.
 */
static mt_err
revocation_check(X509 *cert, X509 *issuer, X509_CRL *crl, int crl_verified, int64_t now,
                 int64_t *nb, int64_t *na, int is_pck_crl)
{
    mt_err not_auth = is_pck_crl ? MT_ERR_PCK_CRL_NOT_AUTHORITATIVE : MT_ERR_ROOT_CRL;
    X509_REVOKED *rev = NULL;
    int64_t this_upd, next_upd;
    EVP_PKEY *key;

    /* dcap-qvl: "unknown status = deny" (dcap-verify.md 2.2). */
    MT_ENSURE(crl != NULL, not_auth);
    MT_ENSURE(X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(issuer)) == 0,
              not_auth);
    if (!crl_verified) {
        key = X509_get0_pubkey(issuer);
        MT_ENSURE(key != NULL && X509_CRL_verify(crl, key) == 1,
                  is_pck_crl ? MT_ERR_PCK_CRL_SIGNATURE : MT_ERR_ROOT_CRL);
    }
    MT_ENSURE(crl_extensions_ok(crl), is_pck_crl ? MT_ERR_PCK_CHAIN : MT_ERR_ROOT_CRL);
    MT_ENSURE(mt_crl_window(crl, &this_upd, &next_upd) == MT_OK,
              is_pck_crl ? MT_ERR_PCK_CHAIN : MT_ERR_ROOT_CRL);
    /* Both ends inclusive: now == nextUpdate is still valid (vector N14). */
    MT_ENSURE(now >= this_upd, is_pck_crl ? MT_ERR_PCK_CRL_NOT_YET_VALID : MT_ERR_ROOT_CRL);
    MT_ENSURE(now <= next_upd, is_pck_crl ? MT_ERR_PCK_CRL_EXPIRED : MT_ERR_ROOT_CRL);
    /* 1 = listed; 2 = listed as removeFromCRL, which means not revoked. */
    MT_ENSURE(X509_CRL_get0_by_cert(crl, &rev, cert) != 1, MT_ERR_CERT_REVOKED);
    if (this_upd > *nb)
        *nb = this_upd;
    if (next_upd < *na)
        *na = next_upd;
    return MT_OK;
}

static mt_err
map_store_error(int err, mt_err chain_err)
{
    switch (err) {
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_CERT_UNTRUSTED:
        return MT_ERR_ROOT_PIN;
    case X509_V_ERR_OUT_OF_MEM:
        return MT_ERR_NOMEM;
    default:
        return chain_err;
    }
}

mt_err
mt_chain_verify(struct mt_verifier *v, STACK_OF(X509) *chain, X509_CRL *leaf_crl,
                X509_CRL *root_crl, int64_t now, int expected_len, mt_err chain_err, int64_t *nb,
                int64_t *na, char *detail, size_t detail_len)
{
    X509_STORE_CTX *ctx = NULL;
    STACK_OF(X509) *untrusted = NULL, *built;
    X509 *leaf, *cert, *issuer;
    int64_t t, lo = INT64_MIN, hi = INT64_MAX;
    int i, n, rc, verr;
    mt_err e = MT_OK;

    MT_ENSURE(sk_X509_num(chain) > 0, chain_err);
    leaf = sk_X509_value(chain, 0);
    untrusted = sk_X509_new_null();
    MT_ENSURE(untrusted != NULL, MT_ERR_NOMEM);
    for (i = 1; i < sk_X509_num(chain); i++)
        MT_ENSURE_GOTO(sk_X509_push(untrusted, sk_X509_value(chain, i)) > 0, MT_ERR_NOMEM, e, out);
    ctx = X509_STORE_CTX_new();
    MT_ENSURE_GOTO(ctx != NULL, MT_ERR_NOMEM, e, out);
    MT_ENSURE_GOTO(X509_STORE_CTX_init(ctx, v->store, leaf, untrusted) == 1, MT_ERR_CRYPTO, e, out);
    /*
     * Times are checked below with inclusive bounds (OpenSSL treats
     * now == notAfter as expired), and revocation is checked below against
     * exactly the CRL of each issuer, as dcap-qvl does.
     */
    X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_NO_CHECK_TIME | X509_V_FLAG_X509_STRICT);
    X509_STORE_CTX_set_depth(ctx, expected_len);
    rc = X509_verify_cert(ctx);
    if (rc != 1) {
        verr = X509_STORE_CTX_get_error(ctx);
        snprintf(detail, detail_len, "certificate at depth %d: %s",
                 X509_STORE_CTX_get_error_depth(ctx), X509_verify_cert_error_string(verr));
        e = map_store_error(verr, chain_err);
        goto out;
    }
    built = X509_STORE_CTX_get0_chain(ctx);
    n = sk_X509_num(built);
    /* The anchor must be the pinned certificate itself, byte for byte. */
    MT_ENSURE_GOTO(n >= 1 && X509_cmp(sk_X509_value(built, n - 1), v->root) == 0, MT_ERR_ROOT_PIN,
                   e, out);
    if (n != expected_len) {
        snprintf(detail, detail_len, "chain has %d certificates, expected %d", n, expected_len);
        e = chain_err;
        goto out;
    }
    /* dcap-qvl ca_used_as_end_entity: the signer must not be a CA. */
    MT_ENSURE_GOTO(X509_check_ca(leaf) == 0, MT_ERR_CA_AS_LEAF, e, out);
    for (i = 0; i < n; i++) {
        cert = sk_X509_value(built, i);
        MT_ENSURE_GOTO(mt_asn1_time_to_unix(X509_get0_notBefore(cert), &t) == MT_OK, chain_err, e,
                       out);
        if (t > lo)
            lo = t;
        MT_ENSURE_GOTO(now >= t, MT_ERR_CERT_EXPIRED, e, out);
        MT_ENSURE_GOTO(mt_asn1_time_to_unix(X509_get0_notAfter(cert), &t) == MT_OK, chain_err, e,
                       out);
        if (t < hi)
            hi = t;
        if (now > t) {
            snprintf(detail, detail_len, "certificate at depth %d expired", i);
            e = MT_ERR_CERT_EXPIRED;
            goto out;
        }
    }
    for (i = 0; i + 1 < n; i++) {
        cert = sk_X509_value(built, i);
        issuer = sk_X509_value(built, i + 1);
        if (i + 1 == n - 1)
            e = revocation_check(cert, issuer, root_crl, 1, now, &lo, &hi, 0);
        else
            e = revocation_check(cert, issuer, leaf_crl, 0, now, &lo, &hi, 1);
        if (e != MT_OK) {
            snprintf(detail, detail_len, "certificate at depth %d: %s", i, mt_err_message(e));
            goto out;
        }
    }
    *nb = lo;
    *na = hi;
out:
    X509_STORE_CTX_free(ctx);
    sk_X509_free(untrusted);
    return e;
}
