/*
 * The Fulcio certificate path at a verified signing time (sigstore.md 4.7,
 * "hybrid model"): only the trusted root's CA certificates are used, the
 * anchor is the chain's last element, every certificate must be valid at
 * t, the leaf needs digitalSignature and codeSigning, and an issuer with
 * an EKU extension must allow codeSigning (OpenSSL 3.0 has no code-signing
 * purpose, so these are checked by hand).
 */
#include <string.h>
#include <time.h>

#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "sigstore/sig_internal.h"

static mt_err
leaf_usage(X509 *leaf)
{
    /* An absent extension reads as "everything allowed": require presence first. */
    MT_ENSURE(X509_get_ext_by_NID(leaf, NID_key_usage, -1) >= 0 &&
                  (X509_get_key_usage(leaf) & KU_DIGITAL_SIGNATURE) != 0,
              MT_ERR_SIGSTORE_CERT_USAGE);
    MT_ENSURE(X509_get_ext_by_NID(leaf, NID_ext_key_usage, -1) >= 0 &&
                  (X509_get_extended_key_usage(leaf) & XKU_CODE_SIGN) != 0,
              MT_ERR_SIGSTORE_CERT_USAGE);
    return MT_OK;
}

/*
 * Go's x509 (and so cosign and sigstore-go) requires the requested usage of
 * every certificate in the path that restricts its extended key usage: an
 * issuer with an EKU extension must allow codeSigning or anyExtendedKeyUsage
 * (4.7).  Issuers without the extension are unrestricted.
 */
static int
issuers_allow_code_signing(STACK_OF(X509) *chain)
{
    int i;
    X509 *c;

    for (i = 1; i < sk_X509_num(chain); i++) {
        c = sk_X509_value(chain, i);
        if (X509_get_ext_by_NID(c, NID_ext_key_usage, -1) < 0)
            continue;
        if ((X509_get_extended_key_usage(c) & (XKU_CODE_SIGN | XKU_ANYEKU)) == 0)
            return 0;
    }
    return 1;
}

/* Verify leaf up to ca's anchor at when; the issuer of the leaf on success. */
static mt_err
chain_at(const struct sig_ca *ca, X509 *leaf, int64_t when, X509 **issuer, int *why)
{
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    STACK_OF(X509) *chain;
    unsigned long flags = X509_V_FLAG_X509_STRICT;
    mt_err rv = MT_ERR_SIGSTORE_CHAIN;

    *why = 0;
    if (store == NULL || ctx == NULL) {
        rv = MT_ERR_NOMEM;
        goto out;
    }
    if (X509_STORE_add_cert(store, ca->anchor) != 1)
        goto out;
    if (!ca->anchor_self_signed)
        flags |= X509_V_FLAG_PARTIAL_CHAIN;
    if (X509_STORE_CTX_init(ctx, store, leaf, ca->intermediates) != 1)
        goto out;
    X509_STORE_CTX_set_flags(ctx, flags);
    X509_STORE_CTX_set_time(ctx, 0, (time_t)when);
    if (X509_verify_cert(ctx) != 1) {
        *why = X509_STORE_CTX_get_error(ctx);
        goto out;
    }
    chain = X509_STORE_CTX_get0_chain(ctx);
    if (chain == NULL || sk_X509_num(chain) < 2) {
        /* The leaf itself is no anchor of ours: a chain has at least two elements. */
        goto out;
    }
    if (!issuers_allow_code_signing(chain)) {
        *why = X509_V_ERR_INVALID_PURPOSE;
        goto out;
    }
    *issuer = sk_X509_value(chain, 1);
    if (X509_up_ref(*issuer) != 1) {
        *issuer = NULL;
        rv = MT_ERR_CRYPTO;
        goto out;
    }
    rv = MT_OK;
out:
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    return rv;
}

mt_err
sig_fulcio_verify(const struct mt_sigstore_trust *t, X509 *leaf, int64_t when, X509 **issuer_out,
                  struct mt_sigstore_result *res)
{
    size_t i, tried = 0;
    int why = 0;
    X509 *issuer = NULL;
    mt_err e;

    MT_ENSURE(when >= 0 && when <= INT64_MAX / 1000, MT_ERR_TIME);
    for (i = 0; i < t->n_cas; i++) {
        if (!sig_window_contains(&t->cas[i].valid, when * 1000))
            continue;
        tried++;
        e = chain_at(&t->cas[i], leaf, when, &issuer, &why);
        if (e == MT_ERR_NOMEM || e == MT_ERR_CRYPTO)
            return e;
        if (e == MT_OK)
            break;
    }
    MT_ENSURE(tried > 0, sig_fail(res, MT_ERR_SIGSTORE_NO_CA,
                                  "no certificate authority is valid at %lld", (long long)when));
    MT_ENSURE(issuer != NULL,
              sig_fail(res, MT_ERR_SIGSTORE_CHAIN, "certificate does not chain at %lld: %s",
                       (long long)when, X509_verify_cert_error_string(why)));
    e = leaf_usage(leaf);
    if (e != MT_OK) {
        X509_free(issuer);
        return sig_fail(res, e, "leaf lacks digitalSignature or codeSigning");
    }
    *issuer_out = issuer;
    return MT_OK;
}
