#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "release/verify.h"
#include "sigstore/sigstore.h"
#include "util/mt_alloc.h"
#include "util/mt_file.h"

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

static int
sidecar(const char *dir, const char *asset, const char *suffix, char *path, size_t path_len)
{
    struct stat st;
    int n = snprintf(path, path_len, "%s/%s%s", dir, asset, suffix);

    return n > 0 && (size_t)n < path_len && lstat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static mt_err
fail_res(mt_err e, const struct mt_sigstore_result *res, const char *what, char *why,
         size_t why_len)
{
    snprintf(why, why_len, "%s: %s", what, res->detail[0] ? res->detail : mt_err_message(e));
    return e;
}

static mt_err
check_bundle(const struct mt_rel_trust *t, const char *artifact_path, const char *bundle_path,
             char *why, size_t why_len)
{
    struct mt_sigstore_artifact art = {artifact_path, NULL, 0, NULL};
    struct mt_sigstore_policy pol;
    struct mt_sigstore_result res;
    uint8_t *b = NULL;
    size_t len = 0;
    mt_err e;

    e = mt_file_read(bundle_path, MT_SIGSTORE_MAX_DOC, &b, &len);
    if (e != MT_OK) {
        snprintf(why, why_len, "bundle cannot be read: %s", mt_err_message(e));
        return e;
    }
    memset(&pol, 0, sizeof(pol));
    memset(&res, 0, sizeof(res));
    pol.key = t->key;
    pol.identity = t->identity;
    pol.issuer = t->issuer;
    e = mt_sigstore_verify_bundle(t->root, &pol, &art, b, len, &res);
    mt_free(b);
    return e == MT_OK ? MT_OK : fail_res(e, &res, "bundle", why, why_len);
}

static mt_err
check_sig(const struct mt_rel_trust *t, const char *artifact_path, const char *sig_path, char *why,
          size_t why_len)
{
    struct mt_sigstore_artifact art = {artifact_path, NULL, 0, NULL};
    struct mt_sigstore_result res;
    uint8_t *s = NULL;
    size_t len = 0;
    mt_err e;

    e = mt_file_read(sig_path, MT_REL_MAX_SIG_FILE, &s, &len);
    if (e != MT_OK) {
        snprintf(why, why_len, ".sig cannot be read: %s", mt_err_message(e));
        return e;
    }
    memset(&res, 0, sizeof(res));
    e = mt_sigstore_verify_detached(t->key, &art, s, len, &res);
    mt_free(s);
    return e == MT_OK ? MT_OK : fail_res(e, &res, ".sig", why, why_len);
}

mt_err
mt_rel_sigcheck(void *arg, const char *dir, const char *asset, char *why, size_t why_len)
{
    const struct mt_rel_trust *t = arg;
    char art[MT_REL_MAX_PATH], bundle[MT_REL_MAX_PATH], sig[MT_REL_MAX_PATH], pem[MT_REL_MAX_PATH];
    int has_bundle, has_sig, has_pem;

    why[0] = '\0';
    if (t == NULL || (t->key == NULL && t->root == NULL)) {
        snprintf(why, why_len, "no --trusted-root or --key given");
        return MT_ERR_RELEASE_NO_TRUST;
    }
    if (!sidecar(dir, asset, "", art, sizeof(art))) {
        snprintf(why, why_len, "the asset is missing");
        return MT_ERR_RELEASE_ASSET_MISSING;
    }
    has_bundle = sidecar(dir, asset, ".bundle.json", bundle, sizeof(bundle));
    has_sig = sidecar(dir, asset, ".sig", sig, sizeof(sig));
    has_pem = sidecar(dir, asset, ".pem", pem, sizeof(pem));
    if (t->key != NULL) {
        /* Key mode: every sidecar present must verify with the pinned key. */
        if (!has_bundle && !has_sig) {
            snprintf(why, why_len, "neither %s.bundle.json nor %s.sig exists", asset, asset);
            return MT_ERR_RELEASE_SIGNATURE_MISSING;
        }
        if (has_bundle)
            MT_GUARD(check_bundle(t, art, bundle, why, why_len));
        if (has_sig)
            MT_GUARD(check_sig(t, art, sig, why, why_len));
        return MT_OK;
    }
    if (has_bundle)
        return check_bundle(t, art, bundle, why, why_len);
    if (has_sig && has_pem) {
        snprintf(why, why_len,
                 "only %s.sig and %s.pem: without a bundle there is no transparency-log entry "
                 "and no trusted signing time, so the short-lived certificate cannot be checked "
                 "offline (give --key for key-signed releases)",
                 asset, asset);
        return MT_ERR_RELEASE_UNVERIFIABLE;
    }
    snprintf(why, why_len, "no %s.bundle.json", asset);
    return MT_ERR_RELEASE_SIGNATURE_MISSING;
}
