#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/crypto.h>

#include "release/verify.h"
#include "util/mt_alloc.h"
#include "util/mt_file.h"
#include "util/mt_hex.h"

/*
 * release verify (mero-tee-reference.md 3.5-3.7, done offline and without
 * the reference's gaps: every checksum compared with its file (defect 19),
 * every asset's signature verified, the compatibility map included (defect
 * 18), and the separation guards run (defect 17)).
 */

struct ctx {
    const struct mt_rel_verify_opts *o;
    struct mt_rel_report *r;
    struct mt_rel_loaded *l;
    char why[1024];
};

static int
is_file(const char *dir, const char *name)
{
    char path[MT_REL_MAX_PATH];
    struct stat st;

    return mt_rel_path(dir, name, path, sizeof(path)) == MT_OK && lstat(path, &st) == 0 &&
           S_ISREG(st.st_mode);
}

static mt_err
check(struct ctx *x, const char *kind, const char *subject, mt_err e)
{
    char name[MT_REL_MAX_NAME + 32];

    snprintf(name, sizeof(name), "%s:%s", kind, subject);
    return mt_rel_report_add(x->r, name, e, "%s", x->why);
}

static mt_err
presence(struct ctx *x)
{
    const char *a;
    size_t i;

    for (i = 0; (a = mt_rel_required_asset(x->o->family, i)) != NULL; i++) {
        snprintf(x->why, sizeof(x->why), "%s is missing or not a regular file", a);
        MT_GUARD(
            check(x, "asset", a, is_file(x->o->dir, a) ? MT_OK : MT_ERR_RELEASE_ASSET_MISSING));
    }
    return MT_OK;
}

static mt_err
checksums(struct ctx *x)
{
    const char *file = x->o->family == MT_REL_KMS ? MT_REL_KMS_CHECKSUMS : MT_REL_NODE_CHECKSUMS;
    char path[MT_REL_MAX_PATH], hex[65], inner[256];
    uint8_t *text = NULL, got[32];
    size_t len = 0, i;
    mt_err e;

    MT_GUARD(mt_rel_path(x->o->dir, file, path, sizeof(path)));
    e = mt_file_read(path, MT_REL_MAX_CHECKSUMS, &text, &len);
    if (e == MT_OK) {
        inner[0] = '\0';
        e = mt_rel_checksums_parse((const char *)text, len, &x->l->sums, inner, sizeof(inner));
        mt_free(text);
        if (e == MT_ERR_NOMEM)
            return e;
        snprintf(x->why, sizeof(x->why), "%s: %s", file, inner);
    } else {
        snprintf(x->why, sizeof(x->why), "%s: cannot be read (%s)", file, mt_err_message(e));
    }
    MT_GUARD(check(x, "checksums", "parse", e));
    if (e != MT_OK)
        return MT_OK;
    x->l->have_sums = 1;
    x->l->kms.sums = &x->l->sums;
    if (x->o->family == MT_REL_NODE) {
        static const char *const need[] = {MT_REL_NODE_MRTDS, MT_REL_NODE_PROVENANCE,
                                           MT_REL_NODE_SBOM};
        e = MT_OK;
        for (i = 0; i < 3 && e == MT_OK; i++) {
            if (mt_rel_checksums_find(&x->l->sums, need[i]) == NULL) {
                e = MT_ERR_RELEASE_ASSET_MISSING;
                snprintf(x->why, sizeof(x->why), "%s has no line for %s", file, need[i]);
            }
        }
        MT_GUARD(check(x, "checksums", "coverage", e));
    }
    for (i = 0; i < x->l->sums.n; i++) {
        const struct mt_rel_sum *s = &x->l->sums.v[i];

        MT_GUARD(mt_rel_path(x->o->dir, s->name, path, sizeof(path)));
        if (!is_file(x->o->dir, s->name)) {
            e = MT_ERR_RELEASE_ASSET_MISSING;
            snprintf(x->why, sizeof(x->why), "listed in %s but not present", file);
        } else if ((e = mt_rel_file_sha256(path, MT_REL_MAX_ASSET_SIZE, got)) != MT_OK) {
            snprintf(x->why, sizeof(x->why), "cannot be hashed: %s", mt_err_message(e));
        } else if (CRYPTO_memcmp(got, s->sha256, 32) != 0) {
            e = MT_ERR_RELEASE_CHECKSUM_MISMATCH;
            mt_hex_encode(got, 32, hex);
            snprintf(x->why, sizeof(x->why), "file SHA-256 is %s, %s lists another", hex, file);
        }
        MT_GUARD(check(x, "checksum", s->name, e));
    }
    return MT_OK;
}

/*
 * Load name; run its schema; *out keeps the document only when it is valid
 * (consistency checks then see NULL and say what they need).
 */
enum doc_kind { DOC_MRTDS, DOC_PROV, DOC_SBOM, DOC_POLICY, DOC_COMPAT, DOC_META, DOC_MANIFEST };

static mt_err
load_doc(struct ctx *x, const char *name, enum doc_kind kind, const char *profile, json_t **out,
         uint8_t **raw_out, size_t *raw_len)
{
    char path[MT_REL_MAX_PATH];
    uint8_t *raw = NULL;
    size_t len = 0;
    json_t *doc = NULL;
    const char *v = x->o->version;
    mt_err e;

    x->why[0] = '\0';
    MT_GUARD(mt_rel_path(x->o->dir, name, path, sizeof(path)));
    if (!is_file(x->o->dir, name)) {
        snprintf(x->why, sizeof(x->why), "missing");
        return check(x, "schema", name, MT_ERR_RELEASE_ASSET_MISSING);
    }
    e = mt_rel_json_load(path, &doc, &raw, &len);
    if (e == MT_ERR_NOMEM)
        return e;
    if (e != MT_OK) {
        snprintf(x->why, sizeof(x->why), "not a JSON document: %s", mt_err_message(e));
        return check(x, "schema", name, e);
    }
    switch (kind) {
    case DOC_MRTDS:
        e = mt_rel_schema_mrtds(doc, v, x->why, sizeof(x->why));
        break;
    case DOC_PROV:
        e = mt_rel_schema_provenance(doc, v, x->why, sizeof(x->why));
        break;
    case DOC_SBOM:
        e = mt_rel_schema_sbom(doc, x->why, sizeof(x->why));
        break;
    case DOC_POLICY:
        e = mt_rel_schema_policy((const char *)raw, len, doc, v, profile, x->why, sizeof(x->why));
        break;
    case DOC_COMPAT:
        e = mt_rel_schema_compat(doc, v, x->why, sizeof(x->why));
        break;
    case DOC_META:
        e = mt_rel_schema_metadata(doc, v, x->why, sizeof(x->why));
        break;
    case DOC_MANIFEST:
        e = mt_rel_schema_manifest(doc, v, x->why, sizeof(x->why));
        break;
    }
    if (e == MT_ERR_NOMEM) {
        json_decref(doc);
        mt_free(raw);
        return e;
    }
    if (e == MT_OK && out != NULL) {
        *out = doc;
        doc = NULL;
        if (raw_out != NULL) {
            *raw_out = raw;
            *raw_len = len;
            raw = NULL;
        }
    }
    json_decref(doc);
    mt_free(raw);
    return check(x, "schema", name, e);
}

static mt_err
schemas_kms(struct ctx *x)
{
    struct mt_rel_kms_docs *k = &x->l->kms;
    char name[96];
    const char *a;
    size_t i;

    MT_GUARD(load_doc(x, MT_REL_KMS_MANIFEST, DOC_MANIFEST, NULL, &k->manifest, NULL, NULL));
    MT_GUARD(load_doc(x, MT_REL_KMS_POLICY, DOC_POLICY, NULL, &k->generic,
                      &x->l->raw[MT_REL_NUM_PROFILES], &k->generic_len));
    k->generic_raw = x->l->raw[MT_REL_NUM_PROFILES];
    for (i = 0; i < MT_REL_NUM_PROFILES; i++) {
        MT_GUARD(mt_rel_policy_asset(mt_rel_profiles[i], name, sizeof(name)));
        MT_GUARD(load_doc(x, name, DOC_POLICY, mt_rel_profiles[i], &k->policy[i], &x->l->raw[i],
                          &k->policy_len[i]));
        k->policy_raw[i] = x->l->raw[i];
    }
    MT_GUARD(load_doc(x, MT_REL_KMS_COMPAT, DOC_COMPAT, NULL, &k->compat, NULL, NULL));
    MT_GUARD(load_doc(x, MT_REL_KMS_METADATA, DOC_META, NULL, &k->metadata, NULL, NULL));
    for (i = 0; (a = mt_rel_optional_asset(MT_REL_KMS, i)) != NULL; i++) {
        size_t n = strlen(a);

        if (n > 10 && strcmp(a + n - 10, ".spdx.json") == 0 && is_file(x->o->dir, a))
            MT_GUARD(load_doc(x, a, DOC_SBOM, NULL, NULL, NULL, NULL));
    }
    return MT_OK;
}

static mt_err
schemas_node(struct ctx *x)
{
    struct mt_rel_node_docs *n = &x->l->node;

    MT_GUARD(load_doc(x, MT_REL_NODE_MRTDS, DOC_MRTDS, NULL, &n->mrtds, NULL, NULL));
    MT_GUARD(load_doc(x, MT_REL_NODE_PROVENANCE, DOC_PROV, NULL, &n->provenance, NULL, NULL));
    return load_doc(x, MT_REL_NODE_SBOM, DOC_SBOM, NULL, NULL, NULL, NULL);
}

static mt_err
signature(struct ctx *x, const char *asset)
{
    mt_err e;

    x->why[0] = '\0';
    if (x->o->verify_sig == NULL) {
        snprintf(x->why, sizeof(x->why), "no trusted root or public key given");
        e = MT_ERR_RELEASE_NO_TRUST;
    } else {
        e = x->o->verify_sig(x->o->sig_arg, x->o->dir, asset, x->why, sizeof(x->why));
        if (e == MT_ERR_NOMEM)
            return e;
    }
    return check(x, "signature", asset, e);
}

static mt_err
signatures(struct ctx *x)
{
    const char *a;
    size_t i;

    for (i = 0; (a = mt_rel_required_asset(x->o->family, i)) != NULL; i++)
        MT_GUARD(signature(x, a));
    for (i = 0; (a = mt_rel_optional_asset(x->o->family, i)) != NULL; i++) {
        if (is_file(x->o->dir, a))
            MT_GUARD(signature(x, a));
    }
    /* Files the checksums list that are not already covered (the KMS's binaries). */
    for (i = 0; x->l->have_sums && i < x->l->sums.n; i++) {
        const char *name = x->l->sums.v[i].name;
        size_t k;
        int known = 0;

        for (k = 0; (a = mt_rel_required_asset(x->o->family, k)) != NULL; k++)
            known |= strcmp(a, name) == 0;
        for (k = 0; (a = mt_rel_optional_asset(x->o->family, k)) != NULL; k++)
            known |= strcmp(a, name) == 0 && is_file(x->o->dir, a);
        if (!known)
            MT_GUARD(signature(x, name));
    }
    return MT_OK;
}

void
mt_rel_loaded_free(struct mt_rel_loaded *l)
{
    size_t i;

    if (l == NULL)
        return;
    json_decref(l->kms.manifest);
    json_decref(l->kms.metadata);
    json_decref(l->kms.compat);
    json_decref(l->kms.generic);
    for (i = 0; i < MT_REL_NUM_PROFILES; i++)
        json_decref(l->kms.policy[i]);
    json_decref(l->node.mrtds);
    json_decref(l->node.provenance);
    for (i = 0; i < MT_REL_NUM_PROFILES + 1; i++)
        mt_free(l->raw[i]);
    mt_rel_checksums_free(&l->sums);
    memset(l, 0, sizeof(*l));
}

mt_err
mt_rel_verify(const struct mt_rel_verify_opts *o, struct mt_rel_report *r,
              struct mt_rel_loaded *loaded)
{
    struct mt_rel_loaded l;
    struct ctx x;
    struct stat st;
    mt_err e;

    MT_ENSURE(o != NULL && o->dir != NULL && r != NULL, MT_ERR_ARG);
    MT_ENSURE(o->family == MT_REL_KMS || o->family == MT_REL_NODE, MT_ERR_ARG);
    MT_GUARD(mt_rel_version_check(o->version));
    MT_ENSURE(strlen(o->dir) < MT_REL_MAX_PATH - MT_REL_MAX_NAME - 32, MT_ERR_ARG);
    MT_ENSURE(stat(o->dir, &st) == 0 && S_ISDIR(st.st_mode), MT_ERR_IO);
    memset(&l, 0, sizeof(l));
    memset(&x, 0, sizeof(x));
    x.o = o;
    x.r = r;
    x.l = &l;
    MT_GUARD_GOTO(presence(&x), e, out);
    MT_GUARD_GOTO(checksums(&x), e, out);
    if (o->family == MT_REL_KMS) {
        MT_GUARD_GOTO(schemas_kms(&x), e, out);
        MT_GUARD_GOTO(mt_rel_consistency_kms(&l.kms, r), e, out);
    } else {
        MT_GUARD_GOTO(schemas_node(&x), e, out);
        MT_GUARD_GOTO(mt_rel_consistency_node(&l.node, r), e, out);
    }
    MT_GUARD_GOTO(signatures(&x), e, out);
    if (loaded != NULL) {
        *loaded = l;
        loaded->kms.sums = loaded->have_sums ? &loaded->sums : NULL;
        memset(&l, 0, sizeof(l));
    }
out:
    mt_rel_loaded_free(&l);
    return e;
}
