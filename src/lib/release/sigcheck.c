#include <stdio.h>
#include <string.h>

#include "release/verify.h"
#include "sigstore/sigstore.h"

/*
 * The signature of one release asset, through src/lib/sigstore
 * (shared/specs/sigstore.md).  Sidecars as the reference's workflows write
 * them (3.1, 3.4): <asset>.sig (base64 DER), <asset>.pem (Fulcio
 * certificate), <asset>.bundle.json (cosign --bundle); release sign writes
 * .sig and a key-mode v0.3 bundle.
 */

mt_err
mt_rel_family_identity(enum mt_rel_family f, const char *repository, char *out, size_t out_len)
{
    int n = snprintf(out, out_len, "https://github.com/%s/.github/workflows/%s@refs/heads/master",
                     repository != NULL ? repository : MT_REL_DEFAULT_REPOSITORY,
                     f == MT_REL_KMS ? "release-kms-phala.yaml" : "release-node-image-gcp.yaml");

    MT_ENSURE(n > 0 && (size_t)n < out_len, MT_ERR_ARG);
    return MT_OK;
}

static mt_err
fail_res(mt_err e, const struct mt_sigstore_result *res, const char *what, char *why,
         size_t why_len)
{
    snprintf(why, why_len, "%s: %s", what, res->detail[0] ? res->detail : mt_err_message(e));
    return e;
}

static mt_err
check_bundle(const struct mt_rel_trust *t, const struct mt_rel_asset *a, char *why, size_t why_len)
{
    struct mt_sigstore_artifact art = {NULL, a->data, a->len, NULL};
    struct mt_sigstore_policy pol;
    struct mt_sigstore_result res;
    mt_err e;

    if (a->bundle_err != MT_OK) {
        snprintf(why, why_len, "bundle cannot be read: %s", mt_err_message(a->bundle_err));
        return a->bundle_err;
    }
    memset(&pol, 0, sizeof(pol));
    memset(&res, 0, sizeof(res));
    pol.key = t->key;
    pol.identity = t->identity;
    pol.issuer = t->issuer;
    e = mt_sigstore_verify_bundle(t->root, &pol, &art, a->bundle, a->bundle_len, &res);
    return e == MT_OK ? MT_OK : fail_res(e, &res, "bundle", why, why_len);
}

static mt_err
check_sig(const struct mt_rel_trust *t, const struct mt_rel_asset *a, char *why, size_t why_len)
{
    struct mt_sigstore_artifact art = {NULL, a->data, a->len, NULL};
    struct mt_sigstore_result res;
    mt_err e;

    if (a->sig_err != MT_OK) {
        snprintf(why, why_len, ".sig cannot be read: %s", mt_err_message(a->sig_err));
        return a->sig_err;
    }
    memset(&res, 0, sizeof(res));
    e = mt_sigstore_verify_detached(t->key, &art, a->sig, a->sig_len, &res);
    return e == MT_OK ? MT_OK : fail_res(e, &res, ".sig", why, why_len);
}

mt_err
mt_rel_sigcheck(void *arg, const struct mt_rel_asset *a, char *why, size_t why_len)
{
    const struct mt_rel_trust *t = arg;
    int has_bundle, has_sig;

    why[0] = '\0';
    if (t == NULL || (t->key == NULL && t->root == NULL)) {
        snprintf(why, why_len, "no --trusted-root or --key given");
        return MT_ERR_RELEASE_NO_TRUST;
    }
    if (a == NULL || a->name == NULL || a->data == NULL) {
        snprintf(why, why_len, "the asset is missing");
        return MT_ERR_RELEASE_ASSET_MISSING;
    }
    has_bundle = a->bundle != NULL || a->bundle_err != MT_OK;
    has_sig = a->sig != NULL || a->sig_err != MT_OK;
    if (t->key != NULL) {
        /* Key mode: every sidecar present must verify with the pinned key. */
        if (!has_bundle && !has_sig) {
            snprintf(why, why_len, "neither %s.bundle.json nor %s.sig exists", a->name, a->name);
            return MT_ERR_RELEASE_SIGNATURE_MISSING;
        }
        if (has_bundle)
            MT_GUARD(check_bundle(t, a, why, why_len));
        if (has_sig)
            MT_GUARD(check_sig(t, a, why, why_len));
        return MT_OK;
    }
    if (has_bundle)
        return check_bundle(t, a, why, why_len);
    if (has_sig && a->has_pem) {
        snprintf(why, why_len,
                 "only %s.sig and %s.pem: without a bundle there is no transparency-log entry "
                 "and no trusted signing time, so the short-lived certificate cannot be checked "
                 "offline (give --key for key-signed releases)",
                 a->name, a->name);
        return MT_ERR_RELEASE_UNVERIFIABLE;
    }
    snprintf(why, why_len, "no %s.bundle.json", a->name);
    return MT_ERR_RELEASE_SIGNATURE_MISSING;
}
