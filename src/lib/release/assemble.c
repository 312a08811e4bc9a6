#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "release/assemble.h"
#include "release/schema.h"
#include "util/mt_alloc.h"
#include "util/mt_file.h"
#include "util/mt_hex.h"
#include "util/mt_json.h"

/*
 * release assemble: the documents the reference's jq programs write
 * (mero-tee-reference.md 3.1, 3.2, 4.7 publish_mrtds, 4.8
 * release-metadata), in their key order and layout, from validated probe
 * results.  Differences from the reference: provenance profiles carry the
 * release version as their tag, not the branch name (defect 30); assembly
 * refuses unseparated profiles (defects 17, 29).
 */

static const char *const meas_keys[5] = {"mrtd", "rtmr0", "rtmr1", "rtmr2", "rtmr3"};

struct asm_ctx {
    const struct mt_rel_assemble_in *in;
    const char *v;    /* version */
    char base[256];   /* release download base URL */
    char kms_tag[64]; /* mero-kms-vX.Y.Z */
    char node_tag[64];
    char kms_dir[MT_REL_MAX_PATH];
    char node_dir[MT_REL_MAX_PATH];
    char *why;
    size_t why_len;
    uint8_t *container_sbom; /* the --container-sbom file, checked, written verbatim */
    size_t container_sbom_len;
};

static const char *
meta_s(const struct asm_ctx *x, const char *key)
{
    return json_string_value(json_object_get(x->in->meta, key));
}

static const char *
probe_s(const json_t *p, const char *key)
{
    return json_string_value(json_object_get(p, key));
}

static json_t *
list1(const char *s)
{
    return json_pack("[s]", s);
}

static mt_err
write_doc(const char *dir, const char *name, const json_t *doc, uint8_t sha[32])
{
    char path[MT_REL_MAX_PATH];
    struct mt_buf b;
    unsigned int dl = 32;
    mt_err e;

    MT_ENSURE(doc != NULL, MT_ERR_NOMEM);
    MT_GUARD(mt_rel_path(dir, name, path, sizeof(path)));
    mt_buf_init(&b, MT_REL_MAX_DOC);
    e = mt_rel_json_dump(doc, &b);
    if (e == MT_OK)
        e = mt_file_write_atomic(path, b.p, b.len, 0644);
    if (e == MT_OK && sha != NULL && EVP_Digest(b.p, b.len, sha, &dl, EVP_sha256(), NULL) != 1)
        e = MT_ERR_CRYPTO;
    mt_buf_free(&b);
    return e;
}

/* ---- node release ---- */

static json_t *
mrtds_profile(const json_t *p)
{
    json_t *o =
        json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "mrtd", probe_s(p, "mrtd"), "mrtd_source",
                  probe_s(p, "mrtd_source"), "mrtd_path", probe_s(p, "mrtd_path"), "quote_path",
                  "$.data.quoteB64", "token_path", "$.token", "ita_url", probe_s(p, "ita_url"),
                  "ita_request_kind", probe_s(p, "ita_request_kind"), "timestamp_utc",
                  probe_s(p, "timestamp_utc"));
    char key[32];
    size_t i;

    if (o == NULL)
        return NULL;
    for (i = 1; i < 5; i++)
        json_object_set_new(o, meas_keys[i], json_string(probe_s(p, meas_keys[i])));
    for (i = 0; i < 5; i++) {
        snprintf(key, sizeof(key), "allowed_%s", meas_keys[i]);
        json_object_set_new(o, key, list1(probe_s(p, meas_keys[i])));
    }
    json_object_set_new(o, "allowed_tcb_statuses", list1(probe_s(p, "tcb_status")));
    if (json_object_size(o) != 18) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *
published_mrtds(const struct asm_ctx *x)
{
    json_t *profiles = json_object();
    size_t i;

    for (i = 0; profiles != NULL && i < MT_REL_NUM_PROFILES; i++) {
        json_t *p = mrtds_profile(x->in->node_probe[i]);

        if (p == NULL || json_object_set_new(profiles, mt_rel_profiles[i], p) != 0) {
            json_decref(profiles);
            return NULL;
        }
    }
    return json_pack("{s:s,s:s,s:s,s:{s:s,s:s,s:s},s:o}", "role", "node", "tag", x->v,
                     "generated_at", meta_s(x, "generated_at"), "measurement_markers", "role",
                     "calimero.role=node", "profile_key", "calimero.profile", "root_hash_key",
                     "calimero.root_hash", "profiles", profiles);
}

static json_t *
compatibility_short(const struct asm_ctx *x)
{
    char kms_url[512], node_url[512];

    snprintf(kms_url, sizeof(kms_url), "%s/%s/%s", x->base, x->kms_tag, MT_REL_KMS_POLICY);
    snprintf(node_url, sizeof(node_url), "%s/%s/%s", x->base, x->node_tag, MT_REL_NODE_MRTDS);
    return json_pack("{s:s,s:s,s:s,s:s,s:s}", "version", x->v, "kms_tag", x->kms_tag,
                     "node_image_tag", x->node_tag, "kms_policy_url", kms_url, "node_policy_url",
                     node_url);
}

static json_t *
provenance(const struct asm_ctx *x, const json_t *mrtds)
{
    json_t *profiles = json_object();
    size_t i;

    for (i = 0; profiles != NULL && i < MT_REL_NUM_PROFILES; i++) {
        const json_t *p = x->in->node_probe[i];
        json_t *o =
            json_pack("{s:s,s:s,s:s,s:s,s:s,s:O,s:O,s:{s:s,s:s}}", "profile", mt_rel_profiles[i],
                      "tag", x->v, "commit_sha", meta_s(x, "commit_sha"), "workflow_run_id",
                      meta_s(x, "workflow_run_id"), "workflow_run_attempt",
                      meta_s(x, "workflow_run_attempt"), "image", json_object_get(p, "image"),
                      "attestation_context", json_object_get(p, "attestation_context"),
                      "external_verification", "status", "performed", "mrtd", probe_s(p, "mrtd"));

        if (o == NULL || json_object_set_new(profiles, mt_rel_profiles[i], o) != 0) {
            json_decref(profiles);
            return NULL;
        }
    }
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:o,s:o,s:O,s:O,s:{s:[s,s],s:[s],s:[s],s:[s,s]}}",
                     "role", "node", "tag", x->v, "commit_sha", meta_s(x, "commit_sha"),
                     "workflow_run_id", meta_s(x, "workflow_run_id"), "workflow_run_attempt",
                     meta_s(x, "workflow_run_attempt"), "generated_at", meta_s(x, "generated_at"),
                     "compatibility", compatibility_short(x), "profiles", profiles, "mrtds", mrtds,
                     "measurement_policy", mrtds, "asset_purposes", MT_REL_NODE_MRTDS,
                     "operator-required", "auditor-required", MT_REL_NODE_PROVENANCE,
                     "auditor-required", MT_REL_NODE_SBOM, "auditor-convenience",
                     MT_REL_NODE_CHECKSUMS, "operator-required", "auditor-required");
}

/* A minimal SPDX 2.3 document describing files (name, SHA-256). */
static json_t *
sbom(const struct asm_ctx *x, const char *name, const char *tag, const char *const *files,
     const uint8_t (*sha)[32], size_t n)
{
    json_t *arr = json_array();
    char ns[512], hex[65], id[32];
    size_t i;

    for (i = 0; arr != NULL && i < n; i++) {
        mt_hex_encode(sha[i], 32, hex);
        snprintf(id, sizeof(id), "SPDXRef-File-%zu", i + 1);
        if (json_array_append_new(arr, json_pack("{s:s,s:s,s:[{s:s,s:s}]}", "fileName", files[i],
                                                 "SPDXID", id, "checksums", "algorithm", "SHA256",
                                                 "checksumValue", hex)) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    snprintf(ns, sizeof(ns), "https://github.com/%s/releases/tag/%s/%s", meta_s(x, "repository"),
             tag, name);
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:{s:s,s:[s]},s:o}", "spdxVersion", "SPDX-2.3",
                     "dataLicense", "CC0-1.0", "SPDXID", "SPDXRef-DOCUMENT", "name", name,
                     "documentNamespace", ns, "creationInfo", "created", meta_s(x, "generated_at"),
                     "creators", "Tool: mero-tee release assemble", "files", arr);
}

static mt_err
node_release(const struct asm_ctx *x)
{
    static const char *const files[3] = {MT_REL_NODE_MRTDS, MT_REL_NODE_PROVENANCE,
                                         MT_REL_NODE_SBOM};
    struct mt_rel_sum sums[3];
    struct mt_rel_sums s = {sums, 3};
    uint8_t sha[3][32];
    char path[MT_REL_MAX_PATH];
    json_t *mrtds = published_mrtds(x), *doc;
    struct mt_buf b;
    size_t i;
    mt_err e;

    MT_ENSURE(mrtds != NULL, MT_ERR_NOMEM);
    e = write_doc(x->node_dir, MT_REL_NODE_MRTDS, mrtds, sha[0]);
    if (e == MT_OK) {
        doc = provenance(x, mrtds);
        e = write_doc(x->node_dir, MT_REL_NODE_PROVENANCE, doc, sha[1]);
        json_decref(doc);
    }
    json_decref(mrtds);
    MT_GUARD(e);
    doc = sbom(x, "mero-tee-node-image-release", x->node_tag, files, (const uint8_t(*)[32])sha, 2);
    e = write_doc(x->node_dir, MT_REL_NODE_SBOM, doc, sha[2]);
    json_decref(doc);
    MT_GUARD(e);
    for (i = 0; i < 3; i++) {
        snprintf(sums[i].name, sizeof(sums[i].name), "%s", files[i]);
        memcpy(sums[i].sha256, sha[i], 32);
    }
    mt_buf_init(&b, MT_REL_MAX_CHECKSUMS);
    e = mt_rel_checksums_format(&s, &b);
    if (e == MT_OK)
        e = mt_rel_path(x->node_dir, MT_REL_NODE_CHECKSUMS, path, sizeof(path));
    if (e == MT_OK)
        e = mt_file_write_atomic(path, b.p, b.len, 0644);
    mt_buf_free(&b);
    return e;
}

/* ---- KMS release ---- */

static json_t *
report_data_layout(void)
{
    return json_pack("{s:s,s:s}", "bytes_0_31", "nonce", "bytes_32_63",
                     "binding_or_default_domain_separator");
}

static json_t *
kms_policy(const struct asm_ctx *x, size_t i)
{
    const json_t *k = x->in->kms_probe[i], *n = x->in->node_probe[i];
    json_t *pol = json_object();
    const char *compose = probe_s(k, "compose_hash");
    char key[48];
    size_t m;

    if (pol == NULL)
        return NULL;
    json_object_set_new(pol, "kms_allowed_tcb_statuses", list1(probe_s(k, "tcb_status")));
    for (m = 0; m < 5; m++) {
        snprintf(key, sizeof(key), "kms_allowed_%s", meas_keys[m]);
        json_object_set_new(pol, key, list1(probe_s(k, meas_keys[m])));
    }
    json_object_set_new(pol, "kms_allowed_event_payload",
                        compose[0] != '\0' ? list1(compose) : json_array());
    /* node_* = published-mrtds' lists of the same profile (3.1). */
    json_object_set_new(pol, "node_allowed_tcb_statuses", list1(probe_s(n, "tcb_status")));
    for (m = 0; m < 5; m++) {
        snprintf(key, sizeof(key), "node_allowed_%s", meas_keys[m]);
        json_object_set_new(pol, key, list1(probe_s(n, meas_keys[m])));
    }
    if (json_object_size(pol) != 13) {
        json_decref(pol);
        return NULL;
    }
    return json_pack(
        "{s:i,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:{s:s,s:s,s:s},s:s,s:{s:s,s:s,s:s,s:s},"
        "s:{s:s,s:s,s:o,s:s,s:s},s:o,s:s}",
        "schema_version", 1, "role", "kms", "profile", mt_rel_profiles[i], "tag", x->v,
        "commit_sha", meta_s(x, "commit_sha"), "workflow_run_id", meta_s(x, "workflow_run_id"),
        "workflow_run_attempt", meta_s(x, "workflow_run_attempt"), "generated_at",
        meta_s(x, "generated_at"), "source", "repository", meta_s(x, "repository"), "workflow",
        "Release mero-kms", "ref", meta_s(x, "ref"), "policy_registry_entry_path",
        "release-probe+node", "measurement_markers", "kms_role", "calimero.role=kms", "node_role",
        "calimero.role=node", "node_profile_key", "calimero.profile", "node_root_hash_key",
        "calimero.root_hash", "kms", "provider", "mero-kms-phala", "attest_endpoint", "/attest",
        "report_data_layout", report_data_layout(), "default_binding_hex",
        MT_REL_DEFAULT_BINDING_HEX, "default_binding_b64", MT_REL_DEFAULT_BINDING_B64, "policy",
        pol, "merod_config_path", "tee.kms.phala.attestation");
}

static json_t *
profile_digests(const struct asm_ctx *x)
{
    json_t *o = json_object();
    size_t i;

    for (i = 0; o != NULL && i < MT_REL_NUM_PROFILES; i++)
        json_object_set_new(o, mt_rel_profiles[i],
                            json_string(probe_s(x->in->kms_probe[i], "image_digest")));
    return o;
}

static json_t *
container(const struct asm_ctx *x)
{
    return json_pack("{s:s,s:s,s:O}", "image", meta_s(x, "container_image"), "digest",
                     probe_s(x->in->kms_probe[MT_REL_LOCKED], "image_digest"), "tags",
                     json_object_get(x->in->meta, "container_tags"));
}

static json_t *
compat_map(const struct asm_ctx *x, const uint8_t pol_sha[MT_REL_NUM_PROFILES][32])
{
    char url[512], hex[65], asset[96], tag[96], node_url[512];
    json_t *profiles = json_object();
    size_t i;

    snprintf(node_url, sizeof(node_url), "%s/%s/%s", x->base, x->node_tag, MT_REL_NODE_MRTDS);
    for (i = 0; profiles != NULL && i < MT_REL_NUM_PROFILES; i++) {
        const json_t *k = x->in->kms_probe[i];
        json_t *o;

        if (mt_rel_policy_asset(mt_rel_profiles[i], asset, sizeof(asset)) != MT_OK)
            break;
        snprintf(tag, sizeof(tag), "%s-%s", x->v, mt_rel_profiles[i]);
        snprintf(url, sizeof(url), "%s/%s/%s", x->base, x->kms_tag, asset);
        mt_hex_encode(pol_sha[i], 32, hex);
        o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "kms_image_tag", tag,
                      "kms_image_digest", probe_s(k, "image_digest"), "event_payload",
                      probe_s(k, "compose_hash"), "kms_role", "kms", "kms_policy_asset", asset,
                      "kms_policy_url", url, "kms_policy_sha256", hex, "node_role", "node",
                      "node_profile", mt_rel_profiles[i], "node_policy_url", node_url);
        if (o == NULL || json_object_set_new(profiles, mt_rel_profiles[i], o) != 0) {
            json_decref(profiles);
            return NULL;
        }
    }
    if (i < MT_REL_NUM_PROFILES) {
        json_decref(profiles);
        return NULL;
    }
    snprintf(url, sizeof(url), "%s/%s/%s", x->base, x->kms_tag, MT_REL_KMS_POLICY);
    /* The generic policy is the locked-read-only document: the same hash. */
    mt_hex_encode(pol_sha[MT_REL_LOCKED], 32, hex);
    return json_pack("{s:i,s:s,s:s,s:s,s:s,s:{s:s,s:{s:s,s:s},s:s,s:s,s:s,s:s,s:s,s:s,s:o}}",
                     "schema_version", 1, "tag", x->v, "workflow_run_id",
                     meta_s(x, "workflow_run_id"), "workflow_run_attempt",
                     meta_s(x, "workflow_run_attempt"), "generated_at", meta_s(x, "generated_at"),
                     "compatibility", "version", x->v, "roles", "kms", "kms", "node", "node",
                     "kms_tag", x->kms_tag, "kms_policy_source_tag", x->kms_tag, "node_image_tag",
                     x->node_tag, "kms_policy_url", url, "node_policy_url", node_url,
                     "kms_policy_sha256", hex, "profiles", profiles);
}

static json_t *
metadata(const struct asm_ctx *x)
{
    return json_pack("{s:i,s:s,s:s,s:s,s:s,s:s,s:o,s:o,s:s}", "schema_version", 1, "tag", x->v,
                     "commit_sha", meta_s(x, "commit_sha"), "workflow_run_id",
                     meta_s(x, "workflow_run_id"), "workflow_run_attempt",
                     meta_s(x, "workflow_run_attempt"), "generated_at", meta_s(x, "generated_at"),
                     "container", container(x), "container_profile_digests", profile_digests(x),
                     "compatibility_map_asset", MT_REL_KMS_COMPAT);
}

static json_t *
manifest(const struct asm_ctx *x, const struct mt_rel_sums *bins)
{
    json_t *arr = json_array(), *ppa = json_object(), *purposes;
    char asset[96], hex[65];
    size_t i;

    for (i = 0; arr != NULL && i < bins->n; i++) {
        mt_hex_encode(bins->v[i].sha256, 32, hex);
        json_array_append_new(arr, json_pack("{s:s,s:s}", "file", bins->v[i].name, "sha256", hex));
    }
    for (i = 0; ppa != NULL && i < MT_REL_NUM_PROFILES; i++) {
        if (mt_rel_policy_asset(mt_rel_profiles[i], asset, sizeof(asset)) == MT_OK)
            json_object_set_new(ppa, mt_rel_profiles[i], json_string(asset));
    }
    purposes = json_pack("{s:[s,s],s:[s],s:[s]}", MT_REL_KMS_CHECKSUMS, "operator-required",
                         "auditor-required", MT_REL_KMS_MANIFEST, "auditor-required",
                         MT_REL_KMS_POLICY, "operator-required");
    for (i = 0; purposes != NULL && i < MT_REL_NUM_PROFILES; i++) {
        if (mt_rel_policy_asset(mt_rel_profiles[i], asset, sizeof(asset)) == MT_OK)
            json_object_set_new(purposes, asset, json_pack("[s]", "operator-required"));
    }
    if (purposes != NULL) {
        json_object_set_new(purposes, MT_REL_KMS_COMPAT,
                            json_pack("[s,s]", "operator-convenience", "auditor-required"));
        json_object_set_new(purposes, MT_REL_KMS_METADATA, json_pack("[s]", "auditor-required"));
        json_object_set_new(purposes, MT_REL_KMS_CONTAINER_SBOM,
                            json_pack("[s]", "auditor-convenience"));
        json_object_set_new(purposes, MT_REL_KMS_BINARIES_SBOM,
                            json_pack("[s]", "auditor-convenience"));
        for (i = 0; i < bins->n; i++)
            json_object_set_new(purposes, bins->v[i].name,
                                json_pack("[s]", "operator-convenience"));
    }
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:o,s:o,s:o,s:{s:s,s:o,s:s,s:s,s:o,s:s},s:o}", "tag",
                     x->v, "commit_sha", meta_s(x, "commit_sha"), "workflow_run_id",
                     meta_s(x, "workflow_run_id"), "workflow_run_attempt",
                     meta_s(x, "workflow_run_attempt"), "generated_at", meta_s(x, "generated_at"),
                     "binaries", arr, "container", container(x), "container_profile_digests",
                     profile_digests(x), "verification", "kms_attest_endpoint", "/attest",
                     "report_data_layout", report_data_layout(), "policy_registry_entry_path",
                     "release-probe+node", "attestation_policy_asset", MT_REL_KMS_POLICY,
                     "policy_profile_assets", ppa, "container_metadata_asset", MT_REL_KMS_METADATA,
                     "asset_purposes", purposes);
}

/* Copy a binary archive into the KMS directory (O_EXCL) and hash it. */
static mt_err
copy_binary(const struct asm_ctx *x, const char *src, struct mt_rel_sum *out)
{
    const char *base = strrchr(src, '/');
    char dst[MT_REL_MAX_PATH];
    uint8_t buf[64 * 1024];
    uint64_t total = 0;
    int in = -1, fd = -1;
    mt_err e = MT_ERR_IO;

    base = base != NULL ? base + 1 : src;
    if (base[0] == '\0' || strlen(base) > MT_REL_MAX_NAME || base[0] == '.' ||
        strchr(base, '\\') != NULL)
        return mt_rel_fail(MT_ERR_ARG, x->why, x->why_len, "%s: not a usable file name", src);
    snprintf(out->name, sizeof(out->name), "%s", base);
    MT_GUARD(mt_rel_path(x->kms_dir, base, dst, sizeof(dst)));
    in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return mt_rel_fail(MT_ERR_IO, x->why, x->why_len, "%s: %s", src, strerror(errno));
    fd = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        mt_rel_fail(MT_ERR_IO, x->why, x->why_len, "%s: %s", dst, strerror(errno));
        goto out;
    }
    for (;;) {
        ssize_t n = read(in, buf, sizeof(buf));

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            goto out;
        if (n == 0)
            break;
        total += (uint64_t)n;
        if (total > MT_REL_MAX_ASSET_SIZE) {
            e = MT_ERR_TOO_LARGE;
            goto out;
        }
        if (mt_file_write_all(fd, buf, (size_t)n) != MT_OK)
            goto out;
    }
    if (fsync(fd) != 0)
        goto out;
    close(fd);
    fd = -1;
    e = mt_rel_file_sha256(dst, MT_REL_MAX_ASSET_SIZE, out->sha256);
out:
    if (in >= 0)
        close(in);
    if (fd >= 0)
        close(fd);
    return e;
}

static int
cmp_sum(const void *a, const void *b)
{
    const struct mt_rel_sum *x = a, *y = b;
    int c = memcmp(x->sha256, y->sha256, 32);

    return c != 0 ? c : strcmp(x->name, y->name);
}

/*
 * kms-phala-binaries-sbom.spdx.json: the reference runs syft over the
 * binary archives; offline we describe the same files (name, SHA-256) in
 * the minimal SPDX 2.3 form of the node SBOM, in checksums order.
 */
static mt_err
binaries_sbom(const struct asm_ctx *x, const struct mt_rel_sums *bins)
{
    const char *names[MT_REL_MAX_BINARIES];
    uint8_t sha[MT_REL_MAX_BINARIES][32];
    json_t *doc;
    size_t i;
    mt_err e;

    MT_ENSURE(bins->n <= MT_REL_MAX_BINARIES, MT_ERR_ARG);
    for (i = 0; i < bins->n; i++) {
        names[i] = bins->v[i].name;
        memcpy(sha[i], bins->v[i].sha256, 32);
    }
    doc = sbom(x, "mero-kms-phala-binaries", x->kms_tag, names, (const uint8_t(*)[32])sha, bins->n);
    e = write_doc(x->kms_dir, MT_REL_KMS_BINARIES_SBOM, doc, NULL);
    json_decref(doc);
    return e;
}

static mt_err
kms_release(const struct asm_ctx *x)
{
    uint8_t pol_sha[MT_REL_NUM_PROFILES][32];
    struct mt_rel_sum bins_v[MT_REL_MAX_BINARIES];
    struct mt_rel_sums bins = {bins_v, 0};
    char asset[96], path[MT_REL_MAX_PATH];
    struct mt_buf b;
    json_t *doc;
    size_t i, j;
    mt_err e = MT_OK;

    for (i = 0; i < MT_REL_NUM_PROFILES; i++) {
        MT_GUARD(mt_rel_policy_asset(mt_rel_profiles[i], asset, sizeof(asset)));
        doc = kms_policy(x, i);
        e = write_doc(x->kms_dir, asset, doc, pol_sha[i]);
        if (e == MT_OK && i == MT_REL_LOCKED)
            e = write_doc(x->kms_dir, MT_REL_KMS_POLICY, doc, NULL);
        json_decref(doc);
        MT_GUARD(e);
    }
    doc = compat_map(x, (const uint8_t(*)[32])pol_sha);
    e = write_doc(x->kms_dir, MT_REL_KMS_COMPAT, doc, NULL);
    json_decref(doc);
    MT_GUARD(e);
    doc = metadata(x);
    e = write_doc(x->kms_dir, MT_REL_KMS_METADATA, doc, NULL);
    json_decref(doc);
    MT_GUARD(e);
    for (i = 0; i < x->in->num_binaries; i++) {
        MT_GUARD(copy_binary(x, x->in->binaries[i], &bins_v[i]));
        bins.n++;
        for (j = 0; j < i; j++) {
            if (strcmp(bins_v[j].name, bins_v[i].name) == 0)
                return mt_rel_fail(MT_ERR_ARG, x->why, x->why_len, "binary %s given twice",
                                   bins_v[i].name);
        }
    }
    /* The reference pipes sha256sum through sort: lines ordered by digest. */
    qsort(bins_v, bins.n, sizeof(bins_v[0]), cmp_sum);
    MT_GUARD(binaries_sbom(x, &bins));
    MT_GUARD(mt_rel_path(x->kms_dir, MT_REL_KMS_CONTAINER_SBOM, path, sizeof(path)));
    MT_GUARD(mt_file_write_atomic(path, x->container_sbom, x->container_sbom_len, 0644));
    doc = manifest(x, &bins);
    e = write_doc(x->kms_dir, MT_REL_KMS_MANIFEST, doc, NULL);
    json_decref(doc);
    MT_GUARD(e);
    mt_buf_init(&b, MT_REL_MAX_CHECKSUMS);
    e = mt_rel_checksums_format(&bins, &b);
    if (e == MT_OK)
        e = mt_rel_path(x->kms_dir, MT_REL_KMS_CHECKSUMS, path, sizeof(path));
    if (e == MT_OK)
        e = mt_file_write_atomic(path, b.p, b.len, 0644);
    mt_buf_free(&b);
    return e;
}

/* ---- checks before writing anything ---- */

static const char *
rt3(const json_t *p)
{
    return probe_s(p, "rtmr3");
}

static mt_err
separated(const struct asm_ctx *x)
{
    const struct mt_rel_assemble_in *in = x->in;
    size_t i, j;

    for (i = 0; i < MT_REL_NUM_PROFILES; i++) {
        for (j = i + 1; j < MT_REL_NUM_PROFILES; j++) {
            if (strcmp(rt3(in->node_probe[i]), rt3(in->node_probe[j])) == 0)
                return mt_rel_fail(MT_ERR_RELEASE_SEPARATION, x->why, x->why_len,
                                   "node probes %s and %s have the same RTMR3", mt_rel_profiles[i],
                                   mt_rel_profiles[j]);
            if (strcmp(rt3(in->kms_probe[i]), rt3(in->kms_probe[j])) == 0)
                return mt_rel_fail(MT_ERR_RELEASE_SEPARATION, x->why, x->why_len,
                                   "KMS probes %s and %s have the same RTMR3", mt_rel_profiles[i],
                                   mt_rel_profiles[j]);
            if (strcmp(probe_s(in->kms_probe[i], "image_digest"),
                       probe_s(in->kms_probe[j], "image_digest")) == 0)
                return mt_rel_fail(MT_ERR_RELEASE_SEPARATION, x->why, x->why_len,
                                   "KMS probes %s and %s have the same image digest",
                                   mt_rel_profiles[i], mt_rel_profiles[j]);
        }
        for (j = 0; j < MT_REL_NUM_PROFILES; j++) {
            if (strcmp(rt3(in->kms_probe[i]), rt3(in->node_probe[j])) == 0)
                return mt_rel_fail(MT_ERR_RELEASE_SEPARATION, x->why, x->why_len,
                                   "the %s KMS probe's RTMR3 equals the %s node probe's",
                                   mt_rel_profiles[i], mt_rel_profiles[j]);
        }
    }
    return MT_OK;
}

mt_err
mt_rel_family_dir(const char *out_dir, enum mt_rel_family f, const char *version, char *out,
                  size_t out_len)
{
    int n = snprintf(out, out_len, "%s/%s%s", out_dir, mt_rel_tag_prefix(f), version);

    MT_ENSURE(n > 0 && (size_t)n < out_len, MT_ERR_ARG);
    return MT_OK;
}

/*
 * The container SBOM (3.1 kms-phala-container-sbom.spdx.json, a required
 * asset): syft's inventory of the image cannot be derived from the probes,
 * so it is an input, checked like release verify checks it (a JSON document
 * of at most MT_REL_MAX_DOC bytes with an SPDX spdxVersion) and copied
 * byte for byte.
 */
static mt_err
load_container_sbom(struct asm_ctx *x, const char *path)
{
    json_t *doc = NULL;
    char inner[256];
    mt_err e;

    if (path == NULL)
        return mt_rel_fail(MT_ERR_ARG, x->why, x->why_len,
                           "a KMS release needs its container SBOM (--container-sbom FILE: "
                           "syft <image> -o spdx-json)");
    e = mt_file_read(path, MT_REL_MAX_DOC, &x->container_sbom, &x->container_sbom_len);
    if (e != MT_OK)
        return mt_rel_fail(e == MT_ERR_NOMEM ? e : MT_ERR_ARG, x->why, x->why_len,
                           "--container-sbom %s: %s", path, mt_err_message(e));
    e = mt_json_parse((const char *)x->container_sbom, x->container_sbom_len, MT_REL_MAX_DOC, &doc);
    if (e == MT_OK) {
        inner[0] = '\0';
        e = mt_rel_schema_sbom(doc, inner, sizeof(inner));
        json_decref(doc);
        if (e != MT_OK && e != MT_ERR_NOMEM)
            return mt_rel_fail(MT_ERR_ARG, x->why, x->why_len, "--container-sbom %s: %s", path,
                               inner);
    } else if (e != MT_ERR_NOMEM) {
        return mt_rel_fail(MT_ERR_ARG, x->why, x->why_len,
                           "--container-sbom %s: not a JSON document: %s", path, mt_err_message(e));
    }
    return e;
}

static mt_err assemble(struct asm_ctx *x);

mt_err
mt_rel_assemble(const struct mt_rel_assemble_in *in, char *why, size_t why_len)
{
    struct asm_ctx x;
    size_t i;
    mt_err e;

    if (why != NULL && why_len > 0)
        why[0] = '\0';
    MT_ENSURE(in != NULL && in->meta != NULL && in->out_dir != NULL, MT_ERR_ARG);
    if (in->num_binaries == 0 || in->num_binaries > MT_REL_MAX_BINARIES)
        return mt_rel_fail(MT_ERR_ARG, why, why_len, "a KMS release needs 1 to %u binaries",
                           MT_REL_MAX_BINARIES);
    for (i = 0; i < MT_REL_NUM_PROFILES; i++) {
        if (in->node_probe[i] == NULL || in->kms_probe[i] == NULL)
            return mt_rel_fail(MT_ERR_ARG, why, why_len, "no %s probe for profile %s",
                               in->node_probe[i] == NULL ? "node" : "KMS", mt_rel_profiles[i]);
        if (strcmp(probe_s(in->node_probe[i], "profile"), mt_rel_profiles[i]) != 0 ||
            strcmp(probe_s(in->kms_probe[i], "profile"), mt_rel_profiles[i]) != 0)
            return mt_rel_fail(MT_ERR_ARG, why, why_len, "probe for %s names another profile",
                               mt_rel_profiles[i]);
    }
    memset(&x, 0, sizeof(x));
    x.in = in;
    x.why = why;
    x.why_len = why_len;
    x.v = meta_s(&x, "version");
    MT_ENSURE(x.v != NULL && mt_rel_version_check(x.v) == MT_OK, MT_ERR_ARG);
    snprintf(x.base, sizeof(x.base), "https://github.com/%s/releases/download",
             meta_s(&x, "repository"));
    snprintf(x.kms_tag, sizeof(x.kms_tag), "mero-kms-v%s", x.v);
    snprintf(x.node_tag, sizeof(x.node_tag), "mero-tee-v%s", x.v);
    MT_GUARD(separated(&x));
    e = load_container_sbom(&x, in->container_sbom);
    if (e == MT_OK)
        e = assemble(&x);
    mt_free(x.container_sbom);
    return e;
}

static mt_err
assemble(struct asm_ctx *x)
{
    const struct mt_rel_assemble_in *in = x->in;
    char *why = x->why;
    size_t why_len = x->why_len;

    MT_GUARD(mt_rel_family_dir(in->out_dir, MT_REL_KMS, x->v, x->kms_dir, sizeof(x->kms_dir)));
    MT_GUARD(mt_rel_family_dir(in->out_dir, MT_REL_NODE, x->v, x->node_dir, sizeof(x->node_dir)));
    if (mkdir(in->out_dir, 0755) != 0 && errno != EEXIST)
        return mt_rel_fail(MT_ERR_IO, why, why_len, "%s: %s", in->out_dir, strerror(errno));
    if (mkdir(x->kms_dir, 0755) != 0)
        return mt_rel_fail(MT_ERR_IO, why, why_len, "%s: %s", x->kms_dir, strerror(errno));
    if (mkdir(x->node_dir, 0755) != 0)
        return mt_rel_fail(MT_ERR_IO, why, why_len, "%s: %s", x->node_dir, strerror(errno));
    MT_GUARD(node_release(x));
    return kms_release(x);
}
