#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "release/verify.h"
#include "util/mt_alloc.h"
#include "util/mt_file.h"
#include "util/mt_hex.h"
#include "util/mt_json.h"

/*
 * release verify (mero-tee-reference.md 3.5-3.7, done offline and without
 * the reference's gaps: every checksum compared with its file (defect 19),
 * every asset's signature verified, the compatibility map included (defect
 * 18), and the separation guards run (defect 17)).
 */

/*
 * The file cache: every file verify looks at is opened once (openat on the
 * directory opened once, O_NOFOLLOW, O_NONBLOCK against FIFOs, fstat: a
 * regular file, bounded), read into memory and hashed; the checksum,
 * schema, consistency and signature checks and the loaded documents all
 * use these bytes (review finding 2: before, each was re-opened by path).
 */
struct mt_rel_file {
    char name[MT_REL_MAX_NAME + 1];
    mt_err err; /* MT_OK: data holds the file */
    uint8_t *data;
    size_t len;
    uint8_t sha256[32];
    uint8_t *sig, *bundle;
    size_t sig_len, bundle_len;
    mt_err sig_err, bundle_err;
    int has_pem;
};

#define MAX_FILES (MT_REL_MAX_CHECKSUM_LINES + 2u * MT_REL_MAX_LIST + 32u)

struct fcache {
    int dirfd;
    struct mt_rel_loaded *l;
};

/*
 * Read dirfd/name: *data (NUL-terminated, mt_free) and *len.  MT_OK;
 * MT_ERR_RELEASE_ASSET_MISSING (absent, a symlink or not a regular file);
 * MT_ERR_TOO_LARGE over max; MT_ERR_IO; MT_ERR_NOMEM.
 */
static mt_err
read_at(int dirfd, const char *name, uint64_t max, uint8_t **data, size_t *len)
{
    struct stat st;
    uint8_t *buf = NULL, *nb;
    size_t cap, n = 0;
    mt_err e = MT_ERR_IO;
    int fd;

    *data = NULL;
    *len = 0;
    fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return errno == ENOENT || errno == ELOOP || errno == ENOTDIR || errno == ENXIO
                   ? MT_ERR_RELEASE_ASSET_MISSING
                   : MT_ERR_IO;
    if (fstat(fd, &st) != 0)
        goto out;
    if (!S_ISREG(st.st_mode)) {
        e = MT_ERR_RELEASE_ASSET_MISSING;
        goto out;
    }
    if (st.st_size < 0 || (uint64_t)st.st_size > max) {
        e = MT_ERR_TOO_LARGE;
        goto out;
    }
    cap = (size_t)st.st_size + 1;
    buf = mt_malloc(cap + 1);
    if (buf == NULL) {
        e = MT_ERR_NOMEM;
        goto out;
    }
    for (;;) {
        ssize_t r;

        if (n == cap) { /* the file grew since fstat: keep reading, bounded */
            if ((uint64_t)cap > max) {
                e = MT_ERR_TOO_LARGE;
                goto out;
            }
            cap = (uint64_t)cap * 2 > max + 1 ? (size_t)max + 1 : cap * 2;
            nb = mt_realloc(buf, cap + 1);
            if (nb == NULL) {
                e = MT_ERR_NOMEM;
                goto out;
            }
            buf = nb;
        }
        r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            goto out;
        if (r == 0)
            break;
        n += (size_t)r;
    }
    if ((uint64_t)n > max) {
        e = MT_ERR_TOO_LARGE;
        goto out;
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
    buf = NULL;
    e = MT_OK;
out:
    mt_free(buf);
    close(fd);
    return e;
}

/* Documents are bounded by MT_REL_MAX_DOC; archives (binaries, trust bundle) by the asset bound. */
static uint64_t
file_max(const char *name)
{
    size_t n = strlen(name);

    if ((n > 5 && strcmp(name + n - 5, ".json") == 0) ||
        (n > 4 && strcmp(name + n - 4, ".txt") == 0))
        return MT_REL_MAX_DOC;
    return MT_REL_MAX_ASSET_SIZE;
}

static mt_err
read_sidecar(int dirfd, const char *name, const char *suffix, uint64_t max, uint8_t **data,
             size_t *len, mt_err *err)
{
    char side[MT_REL_MAX_NAME + 16];
    mt_err e;

    snprintf(side, sizeof(side), "%s%s", name, suffix);
    e = read_at(dirfd, side, max, data, len);
    if (e == MT_ERR_NOMEM)
        return e;
    /* Absent (or not a regular file): no sidecar.  Unreadable: said at the signature. */
    *err = e == MT_ERR_RELEASE_ASSET_MISSING ? MT_OK : e;
    return MT_OK;
}

/*
 * The file name, read with its sidecars on first use; every later use gets
 * the same bytes.  NULL only for MT_ERR_NOMEM, too many files or a name
 * that is not a base name (*err says which).
 */
static struct mt_rel_file *
file_get(struct fcache *c, const char *name, mt_err *err)
{
    struct mt_rel_loaded *l = c->l;
    struct mt_rel_file *f;
    uint8_t *pem = NULL;
    size_t i, pem_len = 0;
    mt_err pem_err = MT_OK;

    *err = MT_OK;
    for (i = 0; i < l->n_files; i++) {
        if (strcmp(l->files[i].name, name) == 0)
            return &l->files[i];
    }
    if (!mt_rel_name_ok(name, strlen(name))) {
        *err = MT_ERR_ARG;
        return NULL;
    }
    if (l->n_files == l->cap_files) {
        size_t cap = l->cap_files == 0 ? 32 : l->cap_files * 2;
        struct mt_rel_file *v;

        if (l->cap_files >= MAX_FILES) {
            *err = MT_ERR_TOO_LARGE;
            return NULL;
        }
        v = mt_realloc(l->files, cap * sizeof(*v));
        if (v == NULL) {
            *err = MT_ERR_NOMEM;
            return NULL;
        }
        l->files = v;
        l->cap_files = cap;
    }
    f = &l->files[l->n_files];
    memset(f, 0, sizeof(*f));
    snprintf(f->name, sizeof(f->name), "%s", name);
    l->n_files++;
    f->err = read_at(c->dirfd, name, file_max(name), &f->data, &f->len);
    if (f->err == MT_ERR_NOMEM) {
        *err = MT_ERR_NOMEM;
        return NULL;
    }
    if (f->err == MT_OK && mt_rel_sha256(f->data, f->len, f->sha256) != MT_OK)
        f->err = MT_ERR_CRYPTO;
    if (f->err != MT_OK) {
        mt_free(f->data);
        f->data = NULL;
        f->len = 0;
        return f;
    }
    if (read_sidecar(c->dirfd, name, ".sig", MT_REL_MAX_SIG_FILE, &f->sig, &f->sig_len,
                     &f->sig_err) != MT_OK ||
        read_sidecar(c->dirfd, name, ".bundle.json", MT_REL_MAX_DOC, &f->bundle, &f->bundle_len,
                     &f->bundle_err) != MT_OK ||
        read_sidecar(c->dirfd, name, ".pem", MT_REL_MAX_SIG_FILE, &pem, &pem_len, &pem_err) !=
            MT_OK) {
        *err = MT_ERR_NOMEM;
        return NULL;
    }
    f->has_pem = pem != NULL || pem_err != MT_OK;
    mt_free(pem);
    return f;
}

/* Why f is not usable, for a report line. */
static const char *
file_why(const struct mt_rel_file *f)
{
    return f->err == MT_ERR_RELEASE_ASSET_MISSING ? "missing or not a regular file"
                                                  : mt_err_message(f->err);
}

static void
file_free(struct mt_rel_file *f)
{
    mt_free(f->data);
    mt_free(f->sig);
    mt_free(f->bundle);
}

/* Is name a readable file of the directory (read now if not yet)?  -1: out of memory. */
static int
have(struct fcache *c, const char *name)
{
    mt_err e;
    struct mt_rel_file *f = file_get(c, name, &e);

    if (f == NULL)
        return e == MT_ERR_NOMEM ? -1 : 0;
    return f->err == MT_OK;
}

/* The asset view of f for a signature check. */
static void
file_asset(const struct mt_rel_file *f, struct mt_rel_asset *a)
{
    memset(a, 0, sizeof(*a));
    a->name = f->name;
    if (f->err == MT_OK) {
        a->data = f->data;
        a->len = f->len;
        memcpy(a->sha256, f->sha256, 32);
    }
    a->sig = f->sig;
    a->sig_len = f->sig_len;
    a->sig_err = f->sig_err;
    a->bundle = f->bundle;
    a->bundle_len = f->bundle_len;
    a->bundle_err = f->bundle_err;
    a->has_pem = f->has_pem;
}

static int
open_dir(const char *dir)
{
    return open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

struct ctx {
    const struct mt_rel_verify_opts *o;
    struct mt_rel_report *r;
    struct mt_rel_loaded *l;
    struct fcache fc;
    char why[1024];
};

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
    struct mt_rel_file *f;
    const char *a;
    size_t i;
    mt_err e;

    for (i = 0; (a = mt_rel_required_asset(x->o->family, i)) != NULL; i++) {
        f = file_get(&x->fc, a, &e);
        if (f == NULL)
            return e;
        if (f->err == MT_ERR_RELEASE_ASSET_MISSING)
            snprintf(x->why, sizeof(x->why), "%s is missing or not a regular file", a);
        else
            snprintf(x->why, sizeof(x->why), "%s: %s", a, file_why(f));
        MT_GUARD(check(x, "asset", a, f->err));
    }
    /* The optional assets are read now too, before any check uses them. */
    for (i = 0; (a = mt_rel_optional_asset(x->o->family, i)) != NULL; i++) {
        if (have(&x->fc, a) < 0)
            return MT_ERR_NOMEM;
    }
    return MT_OK;
}

static mt_err
checksums(struct ctx *x)
{
    const char *file = x->o->family == MT_REL_KMS ? MT_REL_KMS_CHECKSUMS : MT_REL_NODE_CHECKSUMS;
    struct mt_rel_file *f;
    char hex[65], inner[256];
    size_t i;
    mt_err e;

    f = file_get(&x->fc, file, &e);
    if (f == NULL)
        return e;
    e = f->err;
    if (e == MT_OK) {
        inner[0] = '\0';
        e = mt_rel_checksums_parse((const char *)f->data, f->len, &x->l->sums, inner,
                                   sizeof(inner));
        if (e == MT_ERR_NOMEM)
            return e;
        snprintf(x->why, sizeof(x->why), "%s: %s", file, inner);
    } else {
        snprintf(x->why, sizeof(x->why), "%s: cannot be read (%s)", file, file_why(f));
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
        struct mt_rel_file *g = file_get(&x->fc, s->name, &e);

        if (g == NULL)
            return e;
        if (g->err == MT_ERR_RELEASE_ASSET_MISSING) {
            e = MT_ERR_RELEASE_ASSET_MISSING;
            snprintf(x->why, sizeof(x->why), "listed in %s but not present", file);
        } else if ((e = g->err) != MT_OK) {
            snprintf(x->why, sizeof(x->why), "cannot be read: %s", file_why(g));
        } else if (CRYPTO_memcmp(g->sha256, s->sha256, 32) != 0) {
            e = MT_ERR_RELEASE_CHECKSUM_MISMATCH;
            mt_hex_encode(g->sha256, 32, hex);
            snprintf(x->why, sizeof(x->why), "file SHA-256 is %s, %s lists another", hex, file);
        }
        MT_GUARD(check(x, "checksum", s->name, e));
    }
    return MT_OK;
}

/*
 * Parse name from its cached bytes; run its schema; *out keeps the document
 * only when it is valid (consistency checks then see NULL and say what they
 * need), and *raw_out then points at the cached bytes.
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
         const uint8_t **raw_out, size_t *raw_len)
{
    struct mt_rel_file *f;
    json_t *doc = NULL;
    const char *v = x->o->version;
    mt_err e;

    x->why[0] = '\0';
    f = file_get(&x->fc, name, &e);
    if (f == NULL)
        return e;
    if (f->err != MT_OK) {
        snprintf(x->why, sizeof(x->why), "%s", file_why(f));
        return check(x, "schema", name, f->err);
    }
    e = f->len > MT_REL_MAX_DOC
            ? MT_ERR_TOO_LARGE
            : mt_json_parse((const char *)f->data, f->len, MT_REL_MAX_DOC, &doc);
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
        e = mt_rel_schema_policy((const char *)f->data, f->len, doc, v, profile, x->why,
                                 sizeof(x->why));
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
        return e;
    }
    if (e == MT_OK && out != NULL) {
        *out = doc;
        doc = NULL;
        if (raw_out != NULL) {
            *raw_out = f->data;
            *raw_len = f->len;
        }
    }
    json_decref(doc);
    return check(x, "schema", name, e);
}

static mt_err
schemas_kms(struct ctx *x)
{
    struct mt_rel_kms_docs *k = &x->l->kms;
    char name[96];
    size_t i;
    int h;

    MT_GUARD(load_doc(x, MT_REL_KMS_MANIFEST, DOC_MANIFEST, NULL, &k->manifest, NULL, NULL));
    MT_GUARD(load_doc(x, MT_REL_KMS_POLICY, DOC_POLICY, NULL, &k->generic, &k->generic_raw,
                      &k->generic_len));
    for (i = 0; i < MT_REL_NUM_PROFILES; i++) {
        MT_GUARD(mt_rel_policy_asset(mt_rel_profiles[i], name, sizeof(name)));
        MT_GUARD(load_doc(x, name, DOC_POLICY, mt_rel_profiles[i], &k->policy[i], &k->policy_raw[i],
                          &k->policy_len[i]));
    }
    MT_GUARD(load_doc(x, MT_REL_KMS_COMPAT, DOC_COMPAT, NULL, &k->compat, NULL, NULL));
    MT_GUARD(load_doc(x, MT_REL_KMS_METADATA, DOC_META, NULL, &k->metadata, NULL, NULL));
    MT_GUARD(load_doc(x, MT_REL_KMS_CONTAINER_SBOM, DOC_SBOM, NULL, NULL, NULL, NULL));
    MT_GUARD(load_doc(x, MT_REL_KMS_BINARIES_SBOM, DOC_SBOM, NULL, NULL, NULL, NULL));
    h = have(&x->fc, MT_REL_KMS_REKOR);
    MT_ENSURE(h >= 0, MT_ERR_NOMEM);
    if (h)
        MT_GUARD(load_doc(x, MT_REL_KMS_REKOR, DOC_REKOR, NULL, &x->l->rekor, NULL, NULL));
    return MT_OK;
}

static mt_err rekor_check(struct fcache *c, const json_t *index, const json_t *manifest,
                          const struct mt_rel_sums *sums, char *why, size_t why_len);

/* consistency:rekor-index, when the index is present. */
static mt_err
rekor(struct ctx *x)
{
    mt_err e;
    int h = have(&x->fc, MT_REL_KMS_REKOR);

    MT_ENSURE(h >= 0, MT_ERR_NOMEM);
    if (!h)
        return MT_OK;
    x->why[0] = '\0';
    if (x->l->rekor == NULL || x->l->kms.manifest == NULL) {
        snprintf(x->why, sizeof(x->why), "needs a valid %s and %s", MT_REL_KMS_REKOR,
                 MT_REL_KMS_MANIFEST);
        e = MT_ERR_RELEASE_INCONSISTENT;
    } else {
        e = rekor_check(&x->fc, x->l->rekor, x->l->kms.manifest,
                        x->l->have_sums ? &x->l->sums : NULL, x->why, sizeof(x->why));
        if (e == MT_ERR_NOMEM)
            return e;
    }
    return check(x, "consistency", "rekor-index", e);
}

/*
 * assets:purposes: every key of the manifest's asset_purposes (3.1) names
 * an asset that is present; signatures() then checks its signature.
 */
static mt_err
purposes(struct ctx *x)
{
    const json_t *p = json_object_get(x->l->kms.manifest, "asset_purposes");
    const char *key;
    const json_t *val;
    size_t missing = 0;
    int used = 0;
    mt_err e = MT_OK, ge;

    x->why[0] = '\0';
    if (x->l->kms.manifest == NULL) {
        snprintf(x->why, sizeof(x->why), "needs a valid %s", MT_REL_KMS_MANIFEST);
        return check(x, "assets", "purposes", MT_ERR_RELEASE_INCONSISTENT);
    }
    json_object_foreach((json_t *)p, key, val)
    {
        struct mt_rel_file *f;

        (void)val;
        if (!mt_rel_name_ok(key, strlen(key))) {
            e = MT_ERR_RELEASE_SCHEMA;
            snprintf(x->why, sizeof(x->why), "asset_purposes names \"%.80s\", not a file name",
                     key);
            break;
        }
        f = file_get(&x->fc, key, &ge);
        if (f == NULL)
            return ge;
        if (f->err == MT_OK)
            continue;
        e = MT_ERR_RELEASE_ASSET_MISSING;
        if (missing++ == 0)
            used = snprintf(x->why, sizeof(x->why),
                            "asset_purposes names assets that are not "
                            "present:");
        if (used > 0 && (size_t)used < sizeof(x->why))
            used += snprintf(x->why + used, sizeof(x->why) - (size_t)used, "%s %.80s",
                             missing == 1 ? "" : ",", key);
    }
    return check(x, "assets", "purposes", e);
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
    struct mt_rel_asset a;
    struct mt_rel_file *f;
    mt_err e;

    x->why[0] = '\0';
    f = file_get(&x->fc, asset, &e);
    if (f == NULL)
        return e;
    if (x->o->verify_sig == NULL) {
        snprintf(x->why, sizeof(x->why), "no trusted root or public key given");
        e = MT_ERR_RELEASE_NO_TRUST;
    } else {
        file_asset(f, &a);
        e = x->o->verify_sig(x->o->sig_arg, &a, x->why, sizeof(x->why));
        if (e == MT_ERR_NOMEM)
            return e;
    }
    return check(x, "signature", asset, e);
}

/* Has signatures() already checked name: an asset, or one of the first sums_upto checksum lines? */
static int
signed_before(struct ctx *x, const char *name, size_t sums_upto)
{
    const char *a;
    size_t k;

    for (k = 0; (a = mt_rel_required_asset(x->o->family, k)) != NULL; k++) {
        if (strcmp(a, name) == 0)
            return 1;
    }
    for (k = 0; (a = mt_rel_optional_asset(x->o->family, k)) != NULL; k++) {
        if (strcmp(a, name) == 0 && have(&x->fc, a) == 1)
            return 1;
    }
    for (k = 0; x->l->have_sums && k < sums_upto && k < x->l->sums.n; k++) {
        if (strcmp(x->l->sums.v[k].name, name) == 0)
            return 1;
    }
    return 0;
}

static mt_err
signatures(struct ctx *x)
{
    const json_t *p =
        x->o->family == MT_REL_KMS ? json_object_get(x->l->kms.manifest, "asset_purposes") : NULL;
    const char *a, *key;
    const json_t *val;
    size_t i;

    for (i = 0; (a = mt_rel_required_asset(x->o->family, i)) != NULL; i++)
        MT_GUARD(signature(x, a));
    for (i = 0; (a = mt_rel_optional_asset(x->o->family, i)) != NULL; i++) {
        if (have(&x->fc, a) == 1)
            MT_GUARD(signature(x, a));
    }
    /* Files the checksums list that are not already covered (the KMS's binaries). */
    for (i = 0; x->l->have_sums && i < x->l->sums.n; i++) {
        if (!signed_before(x, x->l->sums.v[i].name, i))
            MT_GUARD(signature(x, x->l->sums.v[i].name));
    }
    /* Assets the manifest's asset_purposes names that are not covered yet. */
    json_object_foreach((json_t *)p, key, val)
    {
        (void)val;
        if (mt_rel_name_ok(key, strlen(key)) && !signed_before(x, key, SIZE_MAX))
            MT_GUARD(signature(x, key));
    }
    return MT_OK;
}

static int
purpose_listed(const json_t *manifest, const char *name)
{
    const json_t *p = json_object_get(manifest, "asset_purposes");

    return json_is_object(p) && json_object_get(p, name) != NULL &&
           mt_rel_name_ok(name, strlen(name));
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
    return f == MT_REL_KMS && purpose_listed(manifest, name);
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
rekor_entry_log(const struct mt_rel_file *f, const json_t *entry, const char *asset, char *why,
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
    e = f->bundle_err != MT_OK
            ? f->bundle_err
            : mt_json_parse((const char *)f->bundle, f->bundle_len, MT_REL_MAX_DOC, &b);
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

static mt_err
rekor_check(struct fcache *c, const json_t *index, const json_t *manifest,
            const struct mt_rel_sums *sums, char *why, size_t why_len)
{
    static const char *const run[2] = {"workflow_run_id", "workflow_run_attempt"};
    const json_t *entries = json_object_get(index, "entries");
    char hex[65];
    size_t i;
    mt_err e;

    MT_ENSURE(json_is_array(entries), MT_ERR_ARG);
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
        struct mt_rel_file *f;

        if (asset == NULL || hash == NULL || log_id == NULL || strlen(hash) != 71)
            return mt_rel_fail(MT_ERR_RELEASE_INCONSISTENT, why, why_len,
                               "entries[%zu] does not follow the schema", i);
        if (strcmp(asset, MT_REL_KMS_REKOR) == 0 || !mt_rel_name_ok(asset, strlen(asset)) ||
            !mt_rel_asset_listed(MT_REL_KMS, sums, manifest, asset))
            return mt_rel_fail(MT_ERR_RELEASE_INCONSISTENT, why, why_len,
                               "entry %.80s is not an asset of this release", asset);
        f = file_get(c, asset, &e);
        if (f == NULL)
            return e == MT_ERR_NOMEM ? e : MT_ERR_RELEASE_INCONSISTENT;
        if (f->err == MT_ERR_RELEASE_ASSET_MISSING)
            return mt_rel_fail(MT_ERR_RELEASE_INCONSISTENT, why, why_len,
                               "entry %.80s: the asset is not in the directory", asset);
        if (f->err != MT_OK)
            return mt_rel_fail(MT_ERR_RELEASE_INCONSISTENT, why, why_len,
                               "entry %.80s: the asset cannot be read: %s", asset,
                               mt_err_message(f->err));
        mt_hex_encode(f->sha256, 32, hex);
        if (CRYPTO_memcmp(hex, hash + 7, 64) != 0)
            return mt_rel_fail(MT_ERR_RELEASE_INCONSISTENT, why, why_len,
                               "entry %.80s: hash is not the asset's SHA-256 (sha256:%s)", asset,
                               hex);
        if (f->bundle == NULL && f->bundle_err == MT_OK)
            return mt_rel_fail(MT_ERR_RELEASE_INCONSISTENT, why, why_len,
                               "entry %.80s: %.80s.bundle.json is not in the directory", asset,
                               asset);
        if (log_id[0] != '\0')
            MT_GUARD(rekor_entry_log(f, entry, asset, why, why_len));
    }
    return MT_OK;
}

mt_err
mt_rel_rekor_index_check(const char *dir, const json_t *index, const json_t *manifest,
                         const struct mt_rel_sums *sums, char *why, size_t why_len)
{
    struct mt_rel_loaded l;
    struct fcache c;
    mt_err e;

    MT_ENSURE(dir != NULL && index != NULL, MT_ERR_ARG);
    memset(&l, 0, sizeof(l));
    c.l = &l;
    c.dirfd = open_dir(dir);
    if (c.dirfd < 0)
        return mt_rel_fail(MT_ERR_IO, why, why_len, "%s: %s", dir, strerror(errno));
    e = rekor_check(&c, index, manifest, sums, why, why_len);
    close(c.dirfd);
    mt_rel_loaded_free(&l);
    return e;
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
    {
        /* The directory that was read: the descriptor opened once, not the path again. */
        int fd = dup(x->fc.dirfd);

        d = fd >= 0 ? fdopendir(fd) : NULL;
        if (d == NULL && fd >= 0)
            close(fd);
        if (d != NULL)
            rewinddir(d);
    }
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
    for (i = 0; i < l->n_files; i++)
        file_free(&l->files[i]);
    mt_free(l->files);
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
    memset(&l, 0, sizeof(l));
    memset(&x, 0, sizeof(x));
    x.o = o;
    x.r = r;
    x.l = &l;
    x.fc.l = &l;
    /* The directory is opened once; every file is read through it (openat). */
    x.fc.dirfd = open_dir(o->dir);
    MT_ENSURE(x.fc.dirfd >= 0, MT_ERR_IO);
    if (fstat(x.fc.dirfd, &st) != 0 || !S_ISDIR(st.st_mode)) {
        close(x.fc.dirfd);
        return MT_ERR_IO;
    }
    MT_GUARD_GOTO(presence(&x), e, out);
    MT_GUARD_GOTO(checksums(&x), e, out);
    if (o->family == MT_REL_KMS) {
        MT_GUARD_GOTO(schemas_kms(&x), e, out);
        MT_GUARD_GOTO(mt_rel_consistency_kms(&l.kms, r), e, out);
        MT_GUARD_GOTO(rekor(&x), e, out);
        MT_GUARD_GOTO(purposes(&x), e, out);
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
    close(x.fc.dirfd);
    mt_rel_loaded_free(&l);
    return e;
}
