#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
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
enum doc_kind {
    DOC_MRTDS,
    DOC_PROV,
    DOC_SBOM,
    DOC_POLICY,
    DOC_COMPAT,
    DOC_META,
    DOC_MANIFEST,
    DOC_REKOR
};

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
    case DOC_REKOR:
        e = mt_rel_schema_rekor_index(doc, v, x->why, sizeof(x->why));
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
    if (is_file(x->o->dir, MT_REL_KMS_REKOR))
        MT_GUARD(load_doc(x, MT_REL_KMS_REKOR, DOC_REKOR, NULL, &x->l->rekor, NULL, NULL));
    return MT_OK;
}

/* consistency:rekor-index, when the index is present. */
static mt_err
rekor(struct ctx *x)
{
    mt_err e;

    if (!is_file(x->o->dir, MT_REL_KMS_REKOR))
        return MT_OK;
    x->why[0] = '\0';
    if (x->l->rekor == NULL || x->l->kms.manifest == NULL) {
        snprintf(x->why, sizeof(x->why), "needs a valid %s and %s", MT_REL_KMS_REKOR,
                 MT_REL_KMS_MANIFEST);
        e = MT_ERR_RELEASE_INCONSISTENT;
    } else {
        e = mt_rel_rekor_index_check(x->o->dir, x->l->rekor, x->l->kms.manifest,
                                     x->l->have_sums ? &x->l->sums : NULL, x->why, sizeof(x->why));
        if (e == MT_ERR_NOMEM)
            return e;
    }
    return check(x, "consistency", "rekor-index", e);
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

int
mt_rel_asset_listed(enum mt_rel_family f, const struct mt_rel_sums *sums, const json_t *manifest,
                    const char *name)
{
    const json_t *bins = json_object_get(manifest, "binaries");
    const char *a;
    size_t i;

    for (i = 0; (a = mt_rel_required_asset(f, i)) != NULL; i++) {
        if (strcmp(a, name) == 0)
            return 1;
    }
    for (i = 0; (a = mt_rel_optional_asset(f, i)) != NULL; i++) {
        if (strcmp(a, name) == 0)
            return 1;
    }
    if (sums != NULL && mt_rel_checksums_find(sums, name) != NULL)
        return 1;
    for (i = 0; f == MT_REL_KMS && i < json_array_size(bins); i++) {
        a = json_string_value(json_object_get(json_array_get(bins, i), "file"));
        if (a != NULL && strcmp(a, name) == 0)
            return 1;
    }
    return 0;
}

/* A decimal string for a log coordinate (string or integer), or NULL. */
static const char *
log_number(const json_t *v, char *buf, size_t len)
{
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_integer(v)) {
        snprintf(buf, len, "%lld", (long long)json_integer_value(v));
        return buf;
    }
    return NULL;
}

/* Compare an index entry's log fields with the bundle's first transparency-log entry. */
static mt_err
rekor_entry_log(const char *bundle_path, const json_t *entry, const char *asset, char *why,
                size_t why_len)
{
    static const char *const names[3] = {"log_index", "integrated_time", "log_id"};
    const json_t *tl, *payload;
    const char *want[3], *got[3] = {NULL, NULL, NULL};
    char wb[2][24], gb[2][24];
    json_t *b = NULL;
    size_t i;
    mt_err e;

    for (i = 0; i < 2; i++)
        want[i] = log_number(json_object_get(entry, names[i]), wb[i], sizeof(wb[i]));
    want[2] = json_string_value(json_object_get(entry, "log_id"));
    e = mt_rel_json_load(bundle_path, &b, NULL, NULL);
    if (e == MT_ERR_NOMEM)
        return e;
    if (e != MT_OK)
        return mt_rel_fail(MT_ERR_RELEASE_INCONSISTENT, why, why_len,
                           "%.80s.bundle.json is not a JSON document: %s", asset,
                           mt_err_message(e));
    tl = json_array_get(json_object_get(json_object_get(b, "verificationMaterial"), "tlogEntries"),
                        0);
    payload = json_object_get(json_object_get(b, "rekorBundle"), "Payload");
    if (tl != NULL) {
        got[0] = log_number(json_object_get(tl, "logIndex"), gb[0], sizeof(gb[0]));
        got[1] = log_number(json_object_get(tl, "integratedTime"), gb[1], sizeof(gb[1]));
        got[2] = json_string_value(json_object_get(json_object_get(tl, "logId"), "keyId"));
    } else if (payload != NULL) {
        got[0] = log_number(json_object_get(payload, "logIndex"), gb[0], sizeof(gb[0]));
        got[1] = log_number(json_object_get(payload, "integratedTime"), gb[1], sizeof(gb[1]));
        got[2] = json_string_value(json_object_get(payload, "logID"));
    }
    e = MT_OK;
    for (i = 0; i < 3 && e == MT_OK; i++) {
        if (got[i] == NULL)
            e = mt_rel_fail(MT_ERR_RELEASE_INCONSISTENT, why, why_len,
                            "entry %.80s has a %s but its bundle records no transparency-log "
                            "entry",
                            asset, names[i]);
        else if (want[i] == NULL || strcmp(want[i], got[i]) != 0)
            e = mt_rel_fail(MT_ERR_RELEASE_INCONSISTENT, why, why_len,
                            "entry %.80s: %s \"%.64s\" is not the bundle's \"%.64s\"", asset,
                            names[i], want[i] != NULL ? want[i] : "?", got[i]);
    }
    json_decref(b);
    return e;
}

mt_err
mt_rel_rekor_index_check(const char *dir, const json_t *index, const json_t *manifest,
                         const struct mt_rel_sums *sums, char *why, size_t why_len)
{
    static const char *const run[2] = {"workflow_run_id", "workflow_run_attempt"};
    const json_t *entries = json_object_get(index, "entries");
    char path[MT_REL_MAX_PATH], hex[65];
    uint8_t got[32];
    size_t i;
    mt_err e;

    MT_ENSURE(dir != NULL && json_is_array(entries), MT_ERR_ARG);
    for (i = 0; manifest != NULL && i < 2; i++) {
        const char *a = json_string_value(json_object_get(index, run[i]));
        const char *b = json_string_value(json_object_get(manifest, run[i]));

        if (a == NULL || b == NULL || strcmp(a, b) != 0)
            return mt_rel_fail(MT_ERR_RELEASE_INCONSISTENT, why, why_len,
                               "%s differs from the manifest's", run[i]);
    }
    for (i = 0; i < json_array_size(entries); i++) {
        const json_t *entry = json_array_get(entries, i);
        const char *asset = json_string_value(json_object_get(entry, "asset"));
        const char *hash = json_string_value(json_object_get(entry, "hash"));
        const char *log_id = json_string_value(json_object_get(entry, "log_id"));

        if (asset == NULL || hash == NULL || log_id == NULL || strlen(hash) != 71)
            return mt_rel_fail(MT_ERR_RELEASE_INCONSISTENT, why, why_len,
                               "entries[%zu] does not follow the schema", i);
        if (strcmp(asset, MT_REL_KMS_REKOR) == 0 ||
            !mt_rel_asset_listed(MT_REL_KMS, sums, manifest, asset))
            return mt_rel_fail(MT_ERR_RELEASE_INCONSISTENT, why, why_len,
                               "entry %.80s is not an asset of this release", asset);
        if (!is_file(dir, asset))
            return mt_rel_fail(MT_ERR_RELEASE_INCONSISTENT, why, why_len,
                               "entry %.80s: the asset is not in the directory", asset);
        MT_GUARD(mt_rel_path(dir, asset, path, sizeof(path)));
        e = mt_rel_file_sha256(path, MT_REL_MAX_ASSET_SIZE, got);
        if (e == MT_ERR_NOMEM)
            return e;
        if (e != MT_OK)
            return mt_rel_fail(MT_ERR_RELEASE_INCONSISTENT, why, why_len,
                               "entry %.80s: the asset cannot be hashed: %s", asset,
                               mt_err_message(e));
        mt_hex_encode(got, 32, hex);
        if (CRYPTO_memcmp(hex, hash + 7, 64) != 0)
            return mt_rel_fail(MT_ERR_RELEASE_INCONSISTENT, why, why_len,
                               "entry %.80s: hash is not the asset's SHA-256 (sha256:%s)", asset,
                               hex);
        if (snprintf(path, sizeof(path), "%s/%s.bundle.json", dir, asset) >= (int)sizeof(path))
            return MT_ERR_ARG;
        {
            struct stat st;

            if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode))
                return mt_rel_fail(MT_ERR_RELEASE_INCONSISTENT, why, why_len,
                                   "entry %.80s: %.80s.bundle.json is not in the directory", asset,
                                   asset);
        }
        if (log_id[0] != '\0')
            MT_GUARD(rekor_entry_log(path, entry, asset, why, why_len));
    }
    return MT_OK;
}

static int
cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Is name a listed asset or one of its three sidecars? */
static int
release_file(struct ctx *x, const char *name)
{
    static const char *const suffix[3] = {".sig", ".pem", ".bundle.json"};
    char stem[MT_REL_MAX_NAME + 1];
    size_t n = strlen(name), i, k;
    const json_t *man = x->l->kms.manifest;
    const struct mt_rel_sums *sums = x->l->have_sums ? &x->l->sums : NULL;

    if (mt_rel_asset_listed(x->o->family, sums, man, name))
        return 1;
    for (i = 0; i < 3; i++) {
        k = strlen(suffix[i]);
        if (n > k && n - k <= MT_REL_MAX_NAME && strcmp(name + n - k, suffix[i]) == 0) {
            memcpy(stem, name, n - k);
            stem[n - k] = '\0';
            if (mt_rel_asset_listed(x->o->family, sums, man, stem))
                return 1;
        }
    }
    return 0;
}

/*
 * assets:unlisted: every entry of the directory is a release file.  An
 * added file (a script, another policy, a stray archive) is reported by
 * name: a directory that verifies holds exactly the release.
 */
static mt_err
unlisted(struct ctx *x)
{
    char **names = NULL;
    size_t n = 0, entries = 0, i;
    struct dirent *de;
    DIR *d;
    mt_err e = MT_OK;
    int over = 0, used;

    x->why[0] = '\0';
    d = opendir(x->o->dir);
    if (d == NULL) {
        snprintf(x->why, sizeof(x->why), "the directory cannot be listed: %s", strerror(errno));
        return check(x, "assets", "unlisted", MT_ERR_IO);
    }
    names = mt_calloc(MT_REL_MAX_DIR_ENTRIES, sizeof(*names));
    if (names == NULL) {
        closedir(d);
        return MT_ERR_NOMEM;
    }
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (++entries > MT_REL_MAX_DIR_ENTRIES) {
            over = 1;
            break;
        }
        if (release_file(x, de->d_name))
            continue;
        names[n] = mt_strdup(de->d_name);
        if (names[n] == NULL) {
            e = MT_ERR_NOMEM;
            break;
        }
        n++;
    }
    closedir(d);
    if (e == MT_OK) {
        qsort(names, n, sizeof(*names), cmp_names);
        if (over) {
            e = MT_ERR_TOO_LARGE;
            snprintf(x->why, sizeof(x->why), "more than %u directory entries",
                     MT_REL_MAX_DIR_ENTRIES);
        } else if (n > 0) {
            e = MT_ERR_RELEASE_UNLISTED;
            used = snprintf(x->why, sizeof(x->why), "%zu file%s no asset list mentions:", n,
                            n == 1 ? "" : "s");
            for (i = 0; i < n && i < 8 && used > 0 && (size_t)used < sizeof(x->why); i++)
                used += snprintf(x->why + used, sizeof(x->why) - (size_t)used, "%s %.80s",
                                 i == 0 ? "" : ",", names[i]);
            if (n > 8 && used > 0 && (size_t)used < sizeof(x->why))
                snprintf(x->why + used, sizeof(x->why) - (size_t)used, ", and %zu more", n - 8);
        }
        e = check(x, "assets", "unlisted", e);
    }
    for (i = 0; i < n; i++)
        mt_free(names[i]);
    mt_free(names);
    return e;
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
    json_decref(l->rekor);
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
        MT_GUARD_GOTO(rekor(&x), e, out);
    } else {
        MT_GUARD_GOTO(schemas_node(&x), e, out);
        MT_GUARD_GOTO(mt_rel_consistency_node(&l.node, r), e, out);
    }
    MT_GUARD_GOTO(signatures(&x), e, out);
    MT_GUARD_GOTO(unlisted(&x), e, out);
    if (loaded != NULL) {
        *loaded = l;
        loaded->kms.sums = loaded->have_sums ? &loaded->sums : NULL;
        memset(&l, 0, sizeof(l));
    }
out:
    mt_rel_loaded_free(&l);
    return e;
}
