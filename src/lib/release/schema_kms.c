#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "policy/policy.h"
#include "release/schema.h"
#include "util/mt_alloc.h"
#include "util/mt_b64.h"
#include "util/mt_hex.h"

/*
 * The KMS release's documents (mero-tee-reference.md 3.1): profile
 * policies, compatibility map, container metadata, release manifest.  The
 * reference's verifier checked these with jq (3.5 step 4-5); these checks
 * cover the same fields and add the ones whose absence would let a KMS or a
 * node load a weaker policy than the release intends.
 */

#define SCHEMA MT_ERR_RELEASE_SCHEMA

static const char *const meas_keys[5] = {"mrtd", "rtmr0", "rtmr1", "rtmr2", "rtmr3"};

static mt_err
want_run(const json_t *doc, char *why, size_t why_len)
{
    const char *s;

    MT_GUARD(mt_rel_get_nonempty(doc, "", "workflow_run_id", &s, why, why_len));
    MT_GUARD(mt_rel_get_nonempty(doc, "", "workflow_run_attempt", &s, why, why_len));
    return mt_rel_want_time(doc, "", "generated_at", why, why_len);
}

/* Both parsers of policy/policy.h must accept the document. */
static mt_err
policy_parses(const char *raw, size_t len, const char *version, const char *profile, int legacy,
              char *why, size_t why_len)
{
    static const enum mt_policy_subject subjects[2] = {MT_POLICY_NODE, MT_POLICY_KMS};
    struct mt_policy *p = NULL;
    char inner[256];
    size_t i;
    mt_err e;

    for (i = 0; i < 2; i++) {
        inner[0] = '\0';
        e = mt_policy_parse_release(raw, len, version, profile, legacy, subjects[i], &p, inner,
                                    sizeof(inner));
        if (e == MT_ERR_NOMEM)
            return e;
        if (e != MT_OK)
            return mt_rel_fail(SCHEMA, why, why_len, "the %s policy parser refuses it: %s",
                               i == 0 ? "KMS's" : "node's", inner[0] ? inner : mt_err_message(e));
        mt_policy_free(p);
        p = NULL;
    }
    return MT_OK;
}

mt_err
mt_rel_schema_policy(const char *raw, size_t raw_len, const json_t *doc, const char *version,
                     const char *profile, char *why, size_t why_len)
{
    const char *want_profile = profile != NULL ? profile : mt_rel_profiles[MT_REL_LOCKED];
    json_t *o, *pol, *list;
    const char *s, *hex, *b64;
    uint8_t bin[32], *dec = NULL;
    size_t i, dlen = 0;
    char key[48];

    if (!json_is_object(doc))
        return mt_rel_fail(SCHEMA, why, why_len, "the document is not an object");
    MT_GUARD(policy_parses(raw, raw_len, version, want_profile, profile == NULL, why, why_len));
    MT_GUARD(mt_rel_want_int(doc, "", "schema_version", 1, why, why_len));
    MT_GUARD(mt_rel_want_str(doc, "", "role", "kms", why, why_len));
    MT_GUARD(mt_rel_want_str(doc, "", "profile", want_profile, why, why_len));
    MT_GUARD(mt_rel_want_str(doc, "", "tag", version, why, why_len));
    MT_GUARD(mt_rel_want_commit(doc, "", "commit_sha", why, why_len));
    MT_GUARD(want_run(doc, why, why_len));
    MT_GUARD(mt_rel_get_obj(doc, "", "source", &o, why, why_len));
    MT_GUARD(mt_rel_get_nonempty(o, "source", "repository", &s, why, why_len));
    MT_GUARD(mt_rel_get_obj(doc, "", "measurement_markers", &o, why, why_len));
    MT_GUARD(mt_rel_get_obj(doc, "", "kms", &o, why, why_len));
    MT_GUARD(mt_rel_want_str(o, "kms", "provider", "mero-kms-phala", why, why_len));
    MT_GUARD(mt_rel_want_str(o, "kms", "attest_endpoint", "/attest", why, why_len));
    MT_GUARD(mt_rel_want_hex(o, "kms", "default_binding_hex", 64, why, why_len));
    MT_GUARD(mt_rel_get_nonempty(o, "kms", "default_binding_b64", &b64, why, why_len));
    hex = json_string_value(json_object_get(o, "default_binding_hex"));
    MT_GUARD(mt_hex_decode_exact(hex, 64, bin, 32));
    if (mt_b64_decode_alloc(b64, strlen(b64), 64, &dec, &dlen) != MT_OK || dlen != 32 ||
        CRYPTO_memcmp(dec, bin, 32) != 0) {
        mt_free(dec);
        return mt_rel_fail(SCHEMA, why, why_len,
                           "kms.default_binding_b64: not the base64 of default_binding_hex");
    }
    mt_free(dec);
    MT_GUARD(mt_rel_get_obj(doc, "", "policy", &pol, why, why_len));
    MT_GUARD(mt_rel_want_tcb_list(pol, "policy", "kms_allowed_tcb_statuses", why, why_len));
    MT_GUARD(mt_rel_want_tcb_list(pol, "policy", "node_allowed_tcb_statuses", why, why_len));
    for (i = 0; i < 5; i++) {
        snprintf(key, sizeof(key), "kms_allowed_%s", meas_keys[i]);
        MT_GUARD(mt_rel_want_meas_list(pol, "policy", key, 0, NULL, why, why_len));
        snprintf(key, sizeof(key), "node_allowed_%s", meas_keys[i]);
        MT_GUARD(mt_rel_want_meas_list(pol, "policy", key, 0, NULL, why, why_len));
    }
    list = json_object_get(pol, "kms_allowed_event_payload");
    if (!json_is_array(list) || json_array_size(list) > 1)
        return mt_rel_fail(SCHEMA, why, why_len,
                           "policy.kms_allowed_event_payload: want an array of at most one "
                           "compose hash");
    if (json_array_size(list) == 1) {
        json_t *v = json_array_get(list, 0);

        if (!json_is_string(v) ||
            !mt_rel_is_lower_hex(json_string_value(v), json_string_length(v), 64))
            return mt_rel_fail(SCHEMA, why, why_len,
                               "policy.kms_allowed_event_payload[0]: want 64 lowercase hex");
    }
    return mt_rel_want_str(doc, "", "merod_config_path", "tee.kms.phala.attestation", why, why_len);
}

/* A URL that ends with "/<tag>/<asset>". */
static mt_err
want_url(const json_t *obj, const char *where, const char *key, const char *tag, const char *asset,
         char *why, size_t why_len)
{
    char tail[MT_REL_MAX_NAME + 64];
    const char *s;
    size_t n, t;

    MT_GUARD(mt_rel_get_nonempty(obj, where, key, &s, why, why_len));
    snprintf(tail, sizeof(tail), "/%s/%s", tag, asset);
    n = strlen(s);
    t = strlen(tail);
    if (strncmp(s, "https://", 8) != 0 || n <= t + 8 || strcmp(s + n - t, tail) != 0)
        return mt_rel_fail(SCHEMA, why, why_len, "%s.%s: want an https URL ending in %s", where,
                           key, tail);
    return MT_OK;
}

mt_err
mt_rel_schema_compat(const json_t *doc, const char *version, char *why, size_t why_len)
{
    char kms_tag[64], node_tag[64], where[96], want[128], asset[96];
    json_t *c, *roles, *profiles, *v;
    const char *key, *s;
    size_t i, j;

    if (!json_is_object(doc))
        return mt_rel_fail(SCHEMA, why, why_len, "the document is not an object");
    snprintf(kms_tag, sizeof(kms_tag), "mero-kms-v%s", version);
    snprintf(node_tag, sizeof(node_tag), "mero-tee-v%s", version);
    MT_GUARD(mt_rel_want_int(doc, "", "schema_version", 1, why, why_len));
    MT_GUARD(mt_rel_want_str(doc, "", "tag", version, why, why_len));
    MT_GUARD(want_run(doc, why, why_len));
    MT_GUARD(mt_rel_get_obj(doc, "", "compatibility", &c, why, why_len));
    MT_GUARD(mt_rel_want_str(c, "compatibility", "version", version, why, why_len));
    MT_GUARD(mt_rel_get_obj(c, "compatibility", "roles", &roles, why, why_len));
    MT_GUARD(mt_rel_want_str(roles, "compatibility.roles", "kms", "kms", why, why_len));
    MT_GUARD(mt_rel_want_str(roles, "compatibility.roles", "node", "node", why, why_len));
    MT_GUARD(mt_rel_want_str(c, "compatibility", "kms_tag", kms_tag, why, why_len));
    MT_GUARD(mt_rel_want_str(c, "compatibility", "kms_policy_source_tag", kms_tag, why, why_len));
    MT_GUARD(mt_rel_want_str(c, "compatibility", "node_image_tag", node_tag, why, why_len));
    MT_GUARD(
        want_url(c, "compatibility", "kms_policy_url", kms_tag, MT_REL_KMS_POLICY, why, why_len));
    MT_GUARD(
        want_url(c, "compatibility", "node_policy_url", node_tag, MT_REL_NODE_MRTDS, why, why_len));
    MT_GUARD(mt_rel_want_hex(c, "compatibility", "kms_policy_sha256", 64, why, why_len));
    MT_GUARD(mt_rel_get_obj(c, "compatibility", "profiles", &profiles, why, why_len));
    json_object_foreach(profiles, key, v)
    {
        if (mt_rel_profile_index(key) < 0)
            return mt_rel_fail(SCHEMA, why, why_len,
                               "compatibility.profiles: unknown profile \"%.40s\"", key);
    }
    for (i = 0; i < MT_REL_NUM_PROFILES; i++) {
        const char *p = mt_rel_profiles[i];
        json_t *o;

        snprintf(where, sizeof(where), "compatibility.profiles.%s", p);
        MT_GUARD(mt_rel_get_obj(profiles, "compatibility.profiles", p, &o, why, why_len));
        snprintf(want, sizeof(want), "%s-%s", version, p);
        MT_GUARD(mt_rel_want_str(o, where, "kms_image_tag", want, why, why_len));
        MT_GUARD(mt_rel_want_digest(o, where, "kms_image_digest", why, why_len));
        MT_GUARD(mt_rel_get_str(o, where, "event_payload", &s, why, why_len));
        if (s[0] != '\0' && !mt_rel_is_lower_hex(s, strlen(s), 64))
            return mt_rel_fail(SCHEMA, why, why_len,
                               "%s.event_payload: want \"\" or 64 lowercase hex", where);
        MT_GUARD(mt_rel_want_str(o, where, "kms_role", "kms", why, why_len));
        MT_GUARD(mt_rel_policy_asset(p, asset, sizeof(asset)));
        MT_GUARD(mt_rel_want_str(o, where, "kms_policy_asset", asset, why, why_len));
        MT_GUARD(want_url(o, where, "kms_policy_url", kms_tag, asset, why, why_len));
        MT_GUARD(mt_rel_want_hex(o, where, "kms_policy_sha256", 64, why, why_len));
        MT_GUARD(mt_rel_want_str(o, where, "node_role", "node", why, why_len));
        MT_GUARD(mt_rel_want_str(o, where, "node_profile", p, why, why_len));
        MT_GUARD(want_url(o, where, "node_policy_url", node_tag, MT_REL_NODE_MRTDS, why, why_len));
        for (j = 0; j < i; j++) {
            json_t *other = json_object_get(profiles, mt_rel_profiles[j]);

            if (json_equal(json_object_get(o, "kms_image_digest"),
                           json_object_get(other, "kms_image_digest")))
                return mt_rel_fail(SCHEMA, why, why_len,
                                   "compatibility.profiles: %s and %s share one image digest",
                                   mt_rel_profiles[j], p);
        }
    }
    return MT_OK;
}

/* container {image, digest, tags[]} and container_profile_digests {3 distinct}. */
static mt_err
want_container(const json_t *doc, char *why, size_t why_len)
{
    json_t *c, *tags, *d;
    const char *s;
    size_t i, j;

    MT_GUARD(mt_rel_get_obj(doc, "", "container", &c, why, why_len));
    MT_GUARD(mt_rel_get_nonempty(c, "container", "image", &s, why, why_len));
    MT_GUARD(mt_rel_want_digest(c, "container", "digest", why, why_len));
    tags = json_object_get(c, "tags");
    if (!json_is_array(tags) || json_array_size(tags) > MT_REL_MAX_LIST)
        return mt_rel_fail(SCHEMA, why, why_len, "container.tags: want an array of strings");
    for (i = 0; i < json_array_size(tags); i++) {
        if (!json_is_string(json_array_get(tags, i)))
            return mt_rel_fail(SCHEMA, why, why_len, "container.tags[%zu]: not a string", i);
    }
    MT_GUARD(mt_rel_get_obj(doc, "", "container_profile_digests", &d, why, why_len));
    for (i = 0; i < MT_REL_NUM_PROFILES; i++) {
        MT_GUARD(
            mt_rel_want_digest(d, "container_profile_digests", mt_rel_profiles[i], why, why_len));
        for (j = 0; j < i; j++) {
            if (json_equal(json_object_get(d, mt_rel_profiles[i]),
                           json_object_get(d, mt_rel_profiles[j])))
                return mt_rel_fail(SCHEMA, why, why_len,
                                   "container_profile_digests: %s and %s are equal",
                                   mt_rel_profiles[j], mt_rel_profiles[i]);
        }
    }
    return MT_OK;
}

mt_err
mt_rel_schema_metadata(const json_t *doc, const char *version, char *why, size_t why_len)
{
    if (!json_is_object(doc))
        return mt_rel_fail(SCHEMA, why, why_len, "the document is not an object");
    MT_GUARD(mt_rel_want_int(doc, "", "schema_version", 1, why, why_len));
    MT_GUARD(mt_rel_want_str(doc, "", "tag", version, why, why_len));
    MT_GUARD(mt_rel_want_commit(doc, "", "commit_sha", why, why_len));
    MT_GUARD(want_run(doc, why, why_len));
    MT_GUARD(want_container(doc, why, why_len));
    return mt_rel_want_str(doc, "", "compatibility_map_asset", MT_REL_KMS_COMPAT, why, why_len);
}

static int
purpose_ok(const char *s)
{
    return strcmp(s, "operator-required") == 0 || strcmp(s, "auditor-required") == 0 ||
           strcmp(s, "operator-convenience") == 0 || strcmp(s, "auditor-convenience") == 0;
}

mt_err
mt_rel_schema_manifest(const json_t *doc, const char *version, char *why, size_t why_len)
{
    json_t *bins, *v, *ppa, *purposes, *val;
    char where[64], asset[96];
    const char *s, *key;
    size_t i, j;

    if (!json_is_object(doc))
        return mt_rel_fail(SCHEMA, why, why_len, "the document is not an object");
    MT_GUARD(mt_rel_want_str(doc, "", "tag", version, why, why_len));
    MT_GUARD(mt_rel_want_commit(doc, "", "commit_sha", why, why_len));
    MT_GUARD(want_run(doc, why, why_len));
    bins = json_object_get(doc, "binaries");
    if (!json_is_array(bins) || json_array_size(bins) == 0 ||
        json_array_size(bins) > MT_REL_MAX_CHECKSUM_LINES)
        return mt_rel_fail(SCHEMA, why, why_len, "binaries: want a non-empty array");
    for (i = 0; i < json_array_size(bins); i++) {
        json_t *b = json_array_get(bins, i);

        snprintf(where, sizeof(where), "binaries[%zu]", i);
        if (!json_is_object(b))
            return mt_rel_fail(SCHEMA, why, why_len, "%s: not an object", where);
        MT_GUARD(mt_rel_get_nonempty(b, where, "file", &s, why, why_len));
        if (strchr(s, '/') != NULL || strlen(s) > MT_REL_MAX_NAME)
            return mt_rel_fail(SCHEMA, why, why_len, "%s.file: not a base name", where);
        if (mt_rel_want_hex(b, where, "sha256", 64, why, why_len) != MT_OK) {
            /* The reference compares case-insensitively; accept upper case too. */
            const char *h;

            MT_GUARD(mt_rel_get_str(b, where, "sha256", &h, why, why_len));
            if (strlen(h) != 64 || strspn(h, "0123456789abcdefABCDEF") != 64)
                return mt_rel_fail(SCHEMA, why, why_len, "%s.sha256: want 64 hex digits", where);
        }
        for (j = 0; j < i; j++) {
            if (json_equal(json_object_get(b, "file"),
                           json_object_get(json_array_get(bins, j), "file")))
                return mt_rel_fail(SCHEMA, why, why_len, "%s.file: listed twice", where);
        }
    }
    MT_GUARD(want_container(doc, why, why_len));
    MT_GUARD(mt_rel_get_obj(doc, "", "verification", &v, why, why_len));
    MT_GUARD(mt_rel_want_str(v, "verification", "kms_attest_endpoint", "/attest", why, why_len));
    MT_GUARD(mt_rel_want_str(v, "verification", "attestation_policy_asset", MT_REL_KMS_POLICY, why,
                             why_len));
    MT_GUARD(mt_rel_want_str(v, "verification", "container_metadata_asset", MT_REL_KMS_METADATA,
                             why, why_len));
    MT_GUARD(mt_rel_get_obj(v, "verification", "policy_profile_assets", &ppa, why, why_len));
    for (i = 0; i < MT_REL_NUM_PROFILES; i++) {
        MT_GUARD(mt_rel_policy_asset(mt_rel_profiles[i], asset, sizeof(asset)));
        MT_GUARD(mt_rel_want_str(ppa, "verification.policy_profile_assets", mt_rel_profiles[i],
                                 asset, why, why_len));
    }
    MT_GUARD(mt_rel_get_obj(doc, "", "asset_purposes", &purposes, why, why_len));
    json_object_foreach(purposes, key, val)
    {
        if (!json_is_array(val) || json_array_size(val) == 0 || json_array_size(val) > 4)
            return mt_rel_fail(SCHEMA, why, why_len, "asset_purposes.%.80s: want 1-4 purposes",
                               key);
        for (i = 0; i < json_array_size(val); i++) {
            json_t *p = json_array_get(val, i);

            if (!json_is_string(p) || !purpose_ok(json_string_value(p)))
                return mt_rel_fail(SCHEMA, why, why_len,
                                   "asset_purposes.%.80s[%zu]: unknown purpose", key, i);
        }
    }
    return MT_OK;
}

/* A base name an index may point at: printable, no '/', not "." or "..", bounded. */
static int
asset_name_ok(const char *s)
{
    size_t n = strlen(s), i;

    if (n == 0 || n > MT_REL_MAX_NAME || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return 0;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c <= 0x20 || c >= 0x7f || c == '/' || c == '\\')
            return 0;
    }
    return 1;
}

/* "" , a decimal string without leading zeros, or a non-negative integer. */
static int
log_number_ok(const json_t *v, int *empty)
{
    const char *s;
    size_t n, i;

    if (json_is_integer(v)) {
        *empty = 0;
        return json_integer_value(v) >= 0;
    }
    if (!json_is_string(v))
        return 0;
    s = json_string_value(v);
    n = json_string_length(v);
    *empty = n == 0;
    if (n == 0)
        return 1;
    if (n > 19 || strlen(s) != n || (n > 1 && s[0] == '0'))
        return 0;
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
    }
    return 1;
}

mt_err
mt_rel_schema_rekor_index(const json_t *doc, const char *version, char *why, size_t why_len)
{
    static const char search[] = "https://search.sigstore.dev/?hash=";
    const json_t *entries;
    char where[48], want[MT_REL_MAX_NAME + 16];
    const char *asset, *bundle, *hash, *url, *log_id;
    size_t i, j;

    if (!json_is_object(doc))
        return mt_rel_fail(SCHEMA, why, why_len, "the document is not an object");
    MT_GUARD(mt_rel_want_int(doc, "", "schema_version", 1, why, why_len));
    MT_GUARD(mt_rel_want_str(doc, "", "tag", version, why, why_len));
    MT_GUARD(want_run(doc, why, why_len));
    entries = json_object_get(doc, "entries");
    if (!json_is_array(entries) || json_array_size(entries) == 0 ||
        json_array_size(entries) > MT_REL_MAX_REKOR_ENTRIES)
        return mt_rel_fail(SCHEMA, why, why_len, "entries: want an array of 1 to %u entries",
                           MT_REL_MAX_REKOR_ENTRIES);
    for (i = 0; i < json_array_size(entries); i++) {
        const json_t *e = json_array_get(entries, i);
        int empty[2] = {1, 1}, id_empty;

        snprintf(where, sizeof(where), "entries[%zu]", i);
        if (!json_is_object(e))
            return mt_rel_fail(SCHEMA, why, why_len, "%s: not an object", where);
        MT_GUARD(mt_rel_get_str(e, where, "asset", &asset, why, why_len));
        if (!asset_name_ok(asset))
            return mt_rel_fail(SCHEMA, why, why_len, "%s.asset: not a release asset name", where);
        for (j = 0; j < i; j++) {
            if (strcmp(asset, json_string_value(
                                  json_object_get(json_array_get(entries, j), "asset"))) == 0)
                return mt_rel_fail(SCHEMA, why, why_len, "%s.asset: %.80s is listed twice", where,
                                   asset);
        }
        snprintf(want, sizeof(want), "%s.bundle.json", asset);
        MT_GUARD(mt_rel_get_str(e, where, "bundle_asset", &bundle, why, why_len));
        if (strcmp(bundle, want) != 0)
            return mt_rel_fail(SCHEMA, why, why_len, "%s.bundle_asset: want \"%.80s\"", where,
                               want);
        MT_GUARD(mt_rel_want_digest(e, where, "hash", why, why_len));
        MT_GUARD(mt_rel_get_str(e, where, "hash", &hash, why, why_len));
        MT_GUARD(mt_rel_get_str(e, where, "sigstore_search_url", &url, why, why_len));
        if (strncmp(url, search, sizeof(search) - 1) != 0 ||
            strcmp(url + sizeof(search) - 1, hash) != 0)
            return mt_rel_fail(SCHEMA, why, why_len,
                               "%s.sigstore_search_url: want %s followed by the hash", where,
                               search);
        if (!log_number_ok(json_object_get(e, "log_index"), &empty[0]))
            return mt_rel_fail(SCHEMA, why, why_len,
                               "%s.log_index: want \"\", a decimal string or an integer >= 0",
                               where);
        if (!log_number_ok(json_object_get(e, "integrated_time"), &empty[1]))
            return mt_rel_fail(SCHEMA, why, why_len,
                               "%s.integrated_time: want \"\", a decimal string or an integer >= 0",
                               where);
        MT_GUARD(mt_rel_get_str(e, where, "log_id", &log_id, why, why_len));
        id_empty = log_id[0] == '\0';
        /* The reference reads the three from one bundle path: all set or all "" (legacy). */
        if (empty[0] != empty[1] || empty[0] != id_empty)
            return mt_rel_fail(SCHEMA, why, why_len,
                               "%s: log_index, integrated_time and log_id must be all set or all "
                               "empty",
                               where);
    }
    return MT_OK;
}
