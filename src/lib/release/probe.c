#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "release/assemble.h"
#include "release/schema.h"
#include "util/mt_alloc.h"
#include "util/mt_file.h"
#include "util/mt_json.h"
#include "util/mt_time.h"

/*
 * The inputs of release assemble (assemble.h has the formats).  Strict:
 * these files come from probe jobs, and a typo must not silently drop a
 * measurement from a release.
 */

#define PROBE MT_ERR_RELEASE_PROBE_FORMAT

static const char *const meas_keys[5] = {"mrtd", "rtmr0", "rtmr1", "rtmr2", "rtmr3"};

static mt_err
only_keys(const json_t *o, const char *where, const char *const *keys, char *why, size_t why_len)
{
    const char *k;
    json_t *v;
    size_t i;

    json_object_foreach((json_t *)o, k, v)
    {
        int ok = 0;

        for (i = 0; keys[i] != NULL; i++)
            ok |= strcmp(k, keys[i]) == 0;
        if (!ok)
            return mt_rel_fail(PROBE, why, why_len, "%s%s%.64s: unknown member", where,
                               where[0] ? "." : "", k);
    }
    return MT_OK;
}

static mt_err
get_s(const json_t *o, const char *where, const char *key, int required, const char **out,
      char *why, size_t why_len)
{
    json_t *v = json_object_get(o, key);

    if (v == NULL && !required) {
        *out = NULL;
        return MT_OK;
    }
    if (!json_is_string(v))
        return mt_rel_fail(PROBE, why, why_len, "%s%s%s: %s", where, where[0] ? "." : "", key,
                           v == NULL ? "missing" : "not a string");
    if (strlen(json_string_value(v)) != json_string_length(v) || json_string_length(v) > 1024)
        return mt_rel_fail(PROBE, why, why_len, "%s%s%s: NUL or over 1024 bytes", where,
                           where[0] ? "." : "", key);
    *out = json_string_value(v);
    return MT_OK;
}

/* Hex of exactly n digits, either case, into out lowercase (n + 1 bytes). */
static mt_err
get_hex(const json_t *o, const char *key, size_t n, char *out, char *why, size_t why_len)
{
    const char *s;
    size_t i;

    MT_GUARD(get_s(o, "", key, 1, &s, why, why_len));
    if (strlen(s) != n)
        return mt_rel_fail(PROBE, why, why_len, "%s: want %zu hex digits, got %zu", key, n,
                           strlen(s));
    for (i = 0; i < n; i++) {
        if (!isxdigit((unsigned char)s[i]))
            return mt_rel_fail(PROBE, why, why_len, "%s: not hexadecimal", key);
        out[i] = (char)tolower((unsigned char)s[i]);
    }
    out[n] = '\0';
    return MT_OK;
}

static mt_err
set_str(json_t *o, const char *key, const char *v)
{
    return json_object_set_new(o, key, json_string(v)) == 0 ? MT_OK : MT_ERR_NOMEM;
}

static mt_err
one_of(const char *key, const char *v, const char *const *allowed, char *why, size_t why_len)
{
    size_t i;

    for (i = 0; allowed[i] != NULL; i++) {
        if (strcmp(v, allowed[i]) == 0)
            return MT_OK;
    }
    return mt_rel_fail(PROBE, why, why_len, "%s: \"%.40s\" is not an allowed value", key, v);
}

static mt_err
common(const json_t *in, const char *kind, json_t *out, int with_meas, char *why, size_t why_len)
{
    const char *s;
    char hex[97], tcb[65];
    size_t i;

    if (mt_rel_want_int(in, "", "schema_version", 1, why, why_len) != MT_OK)
        return mt_rel_fail(PROBE, why, why_len, "schema_version: want 1");
    MT_GUARD(get_s(in, "", "kind", 1, &s, why, why_len));
    if (strcmp(s, kind) != 0)
        return mt_rel_fail(PROBE, why, why_len, "kind: \"%.40s\", want \"%s\"", s, kind);
    MT_GUARD(set_str(out, "kind", kind));
    if (!with_meas)
        return MT_OK;
    MT_GUARD(get_s(in, "", "profile", 1, &s, why, why_len));
    if (mt_rel_profile_index(s) < 0)
        return mt_rel_fail(PROBE, why, why_len, "profile: \"%.40s\" is not a known profile", s);
    MT_GUARD(set_str(out, "profile", s));
    for (i = 0; i < 5; i++) {
        MT_GUARD(get_hex(in, meas_keys[i], 96, hex, why, why_len));
        MT_GUARD(set_str(out, meas_keys[i], hex));
    }
    MT_GUARD(get_s(in, "", "tcb_status", 1, &s, why, why_len));
    if (s[0] == '\0' || strlen(s) >= sizeof(tcb))
        return mt_rel_fail(PROBE, why, why_len, "tcb_status: empty or too long");
    for (i = 0; s[i] != '\0'; i++) {
        if (!isalpha((unsigned char)s[i]))
            return mt_rel_fail(PROBE, why, why_len, "tcb_status: letters only");
        tcb[i] = (char)tolower((unsigned char)s[i]);
    }
    tcb[i] = '\0';
    return set_str(out, "tcb_status", tcb);
}

static mt_err
strings_obj(const json_t *in, const char *key, const char *const *keys, int need_name, json_t *out,
            char *why, size_t why_len)
{
    json_t *o = json_object_get(in, key), *copy;
    const char *s;
    size_t i;

    if (o == NULL && !need_name) {
        o = json_object();
        if (o == NULL)
            return MT_ERR_NOMEM;
        for (i = 0; keys[i] != NULL; i++)
            json_object_set_new(o, keys[i], json_string(""));
        return json_object_set_new(out, key, o) == 0 ? MT_OK : MT_ERR_NOMEM;
    }
    if (!json_is_object(o))
        return mt_rel_fail(PROBE, why, why_len, "%s: %s", key,
                           o == NULL ? "missing" : "not an object");
    MT_GUARD(only_keys(o, key, keys, why, why_len));
    copy = json_object();
    if (copy == NULL)
        return MT_ERR_NOMEM;
    for (i = 0; keys[i] != NULL; i++) {
        mt_err e = get_s(o, key, keys[i], 1, &s, why, why_len);

        if (e == MT_OK && need_name && i == 0 && s[0] == '\0')
            e = mt_rel_fail(PROBE, why, why_len, "%s.%s: empty", key, keys[i]);
        if (e == MT_OK)
            e = set_str(copy, keys[i], s);
        if (e != MT_OK) {
            json_decref(copy);
            return e;
        }
    }
    return json_object_set_new(out, key, copy) == 0 ? MT_OK : MT_ERR_NOMEM;
}

static mt_err
node_probe(const json_t *in, json_t *out, char *why, size_t why_len)
{
    static const char *const keys[] = {"schema_version",
                                       "kind",
                                       "profile",
                                       "mrtd",
                                       "rtmr0",
                                       "rtmr1",
                                       "rtmr2",
                                       "rtmr3",
                                       "tcb_status",
                                       "timestamp_utc",
                                       "external_verification",
                                       "image",
                                       "mrtd_source",
                                       "mrtd_path",
                                       "ita_url",
                                       "ita_request_kind",
                                       "attestation_context",
                                       NULL};
    static const char *const sources[] = {"parsed_td_quote", "ita_and_quote",
                                          "external_attestation_token", NULL};
    static const char *const kinds[] = {"", "v2_tdx", "legacy_quote", NULL};
    static const char *const image_keys[] = {"name", "project", "family", "self_link", NULL};
    static const char *const ctx_keys[] = {"base_url", "nonce", "instance", "image",
                                           "project",  "zone",  NULL};
    const char *s;
    int64_t t;

    MT_GUARD(only_keys(in, "", keys, why, why_len));
    MT_GUARD(common(in, "node-probe", out, 1, why, why_len));
    MT_GUARD(get_s(in, "", "timestamp_utc", 1, &s, why, why_len));
    if (mt_rfc3339_parse(s, &t) != MT_OK)
        return mt_rel_fail(PROBE, why, why_len, "timestamp_utc: not an RFC 3339 time");
    MT_GUARD(set_str(out, "timestamp_utc", s));
    MT_GUARD(get_s(in, "", "external_verification", 1, &s, why, why_len));
    if (strcmp(s, "performed") != 0)
        return mt_rel_fail(PROBE, why, why_len,
                           "external_verification: \"%.40s\"; only a probe whose quote was "
                           "verified (\"performed\") can be published",
                           s);
    MT_GUARD(get_s(in, "", "mrtd_source", 0, &s, why, why_len));
    if (s == NULL)
        s = "parsed_td_quote";
    MT_GUARD(one_of("mrtd_source", s, sources, why, why_len));
    MT_GUARD(set_str(out, "mrtd_source", s));
    MT_GUARD(get_s(in, "", "mrtd_path", 0, &s, why, why_len));
    MT_GUARD(set_str(out, "mrtd_path", s != NULL ? s : ""));
    MT_GUARD(get_s(in, "", "ita_url", 0, &s, why, why_len));
    MT_GUARD(set_str(out, "ita_url", s != NULL ? s : ""));
    MT_GUARD(get_s(in, "", "ita_request_kind", 0, &s, why, why_len));
    if (s == NULL)
        s = "";
    MT_GUARD(one_of("ita_request_kind", s, kinds, why, why_len));
    MT_GUARD(set_str(out, "ita_request_kind", s));
    MT_GUARD(strings_obj(in, "image", image_keys, 1, out, why, why_len));
    return strings_obj(in, "attestation_context", ctx_keys, 0, out, why, why_len);
}

static mt_err
kms_probe(const json_t *in, json_t *out, char *why, size_t why_len)
{
    static const char *const keys[] = {"schema_version", "kind",         "profile",      "mrtd",
                                       "rtmr0",          "rtmr1",        "rtmr2",        "rtmr3",
                                       "tcb_status",     "compose_hash", "image_digest", NULL};
    char hex[65];
    const char *s;

    MT_GUARD(only_keys(in, "", keys, why, why_len));
    MT_GUARD(common(in, "kms-probe", out, 1, why, why_len));
    MT_GUARD(get_s(in, "", "compose_hash", 1, &s, why, why_len));
    if (s[0] == '\0')
        MT_GUARD(set_str(out, "compose_hash", ""));
    else {
        MT_GUARD(get_hex(in, "compose_hash", 64, hex, why, why_len));
        MT_GUARD(set_str(out, "compose_hash", hex));
    }
    MT_GUARD(get_s(in, "", "image_digest", 1, &s, why, why_len));
    if (strncmp(s, "sha256:", 7) != 0 || !mt_rel_is_lower_hex(s + 7, strlen(s + 7), 64))
        return mt_rel_fail(PROBE, why, why_len, "image_digest: want sha256:<64 lowercase hex>");
    return set_str(out, "image_digest", s);
}

static int
digits(const char *s, size_t max)
{
    size_t n = strlen(s);

    return n > 0 && n <= max && strspn(s, "0123456789") == n;
}

static int
repo_ok(const char *s)
{
    const char *slash = strchr(s, '/');
    size_t n = strlen(s);

    return slash != NULL && slash != s && slash[1] != '\0' && strchr(slash + 1, '/') == NULL &&
           n <= 140 &&
           strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-/") == n;
}

static mt_err
meta(const json_t *in, json_t *out, char *why, size_t why_len)
{
    static const char *const keys[] = {"schema_version",
                                       "kind",
                                       "version",
                                       "commit_sha",
                                       "workflow_run_id",
                                       "workflow_run_attempt",
                                       "generated_at",
                                       "repository",
                                       "ref",
                                       "container_image",
                                       "container_tags",
                                       NULL};
    const char *s, *v;
    json_t *tags;
    int64_t t;
    size_t i;

    MT_GUARD(only_keys(in, "", keys, why, why_len));
    MT_GUARD(common(in, "release-meta", out, 0, why, why_len));
    MT_GUARD(get_s(in, "", "version", 1, &v, why, why_len));
    if (mt_rel_version_check(v) != MT_OK)
        return mt_rel_fail(PROBE, why, why_len, "version: want X.Y.Z");
    MT_GUARD(set_str(out, "version", v));
    MT_GUARD(get_s(in, "", "commit_sha", 1, &s, why, why_len));
    if (!mt_rel_is_lower_hex(s, strlen(s), 40) && !mt_rel_is_lower_hex(s, strlen(s), 64))
        return mt_rel_fail(PROBE, why, why_len, "commit_sha: want 40 or 64 lowercase hex");
    MT_GUARD(set_str(out, "commit_sha", s));
    MT_GUARD(get_s(in, "", "workflow_run_id", 1, &s, why, why_len));
    if (!digits(s, 20))
        return mt_rel_fail(PROBE, why, why_len, "workflow_run_id: want a decimal string");
    MT_GUARD(set_str(out, "workflow_run_id", s));
    MT_GUARD(get_s(in, "", "workflow_run_attempt", 1, &s, why, why_len));
    if (!digits(s, 9))
        return mt_rel_fail(PROBE, why, why_len, "workflow_run_attempt: want a decimal string");
    MT_GUARD(set_str(out, "workflow_run_attempt", s));
    MT_GUARD(get_s(in, "", "generated_at", 1, &s, why, why_len));
    if (mt_rfc3339_parse(s, &t) != MT_OK)
        return mt_rel_fail(PROBE, why, why_len, "generated_at: not an RFC 3339 time");
    MT_GUARD(set_str(out, "generated_at", s));
    MT_GUARD(get_s(in, "", "repository", 0, &s, why, why_len));
    if (s != NULL && !repo_ok(s))
        return mt_rel_fail(PROBE, why, why_len, "repository: want owner/name");
    MT_GUARD(set_str(out, "repository", s != NULL ? s : MT_REL_DEFAULT_REPOSITORY));
    MT_GUARD(get_s(in, "", "ref", 0, &s, why, why_len));
    MT_GUARD(set_str(out, "ref", s != NULL && s[0] ? s : "refs/heads/master"));
    MT_GUARD(get_s(in, "", "container_image", 0, &s, why, why_len));
    MT_GUARD(set_str(out, "container_image",
                     s != NULL && s[0] ? s : "ghcr.io/calimero-network/mero-kms-phala"));
    tags = json_object_get(in, "container_tags");
    if (tags != NULL) {
        if (!json_is_array(tags) || json_array_size(tags) > MT_REL_MAX_LIST)
            return mt_rel_fail(PROBE, why, why_len, "container_tags: want an array of strings");
        for (i = 0; i < json_array_size(tags); i++) {
            if (!json_is_string(json_array_get(tags, i)))
                return mt_rel_fail(PROBE, why, why_len, "container_tags[%zu]: not a string", i);
        }
        tags = json_deep_copy(tags);
    } else {
        char t2[MT_REL_MAX_VERSION + 32];

        tags = json_array();
        for (i = 0; tags != NULL && i < MT_REL_NUM_PROFILES + 1; i++) {
            if (i == 0)
                snprintf(t2, sizeof(t2), "%s", v);
            else
                snprintf(t2, sizeof(t2), "%s-%s", v, mt_rel_profiles[MT_REL_NUM_PROFILES - i]);
            json_array_append_new(tags, json_string(t2));
        }
    }
    if (tags == NULL)
        return MT_ERR_NOMEM;
    return json_object_set_new(out, "container_tags", tags) == 0 ? MT_OK : MT_ERR_NOMEM;
}

mt_err
mt_rel_probe_parse(const char *text, size_t len, enum mt_rel_probe_kind kind, json_t **out,
                   char *why, size_t why_len)
{
    json_t *in = NULL, *res = NULL;
    mt_err e;

    if (why != NULL && why_len > 0)
        why[0] = '\0';
    MT_ENSURE(text != NULL, MT_ERR_ARG);
    if (len > MT_REL_MAX_PROBE)
        return mt_rel_fail(MT_ERR_TOO_LARGE, why, why_len, "over %u bytes", MT_REL_MAX_PROBE);
    if (mt_json_parse(text, len, MT_REL_MAX_PROBE, &in) != MT_OK)
        return mt_rel_fail(PROBE, why, why_len, "not one JSON value (or a duplicate key)");
    if (!json_is_object(in)) {
        json_decref(in);
        return mt_rel_fail(PROBE, why, why_len, "not a JSON object");
    }
    res = json_object();
    if (res == NULL) {
        json_decref(in);
        return MT_ERR_NOMEM;
    }
    switch (kind) {
    case MT_REL_PROBE_NODE:
        e = node_probe(in, res, why, why_len);
        break;
    case MT_REL_PROBE_KMS:
        e = kms_probe(in, res, why, why_len);
        break;
    default:
        e = meta(in, res, why, why_len);
        break;
    }
    json_decref(in);
    if (e != MT_OK) {
        json_decref(res);
        return e;
    }
    *out = res;
    return MT_OK;
}

mt_err
mt_rel_probe_load(const char *path, enum mt_rel_probe_kind kind, json_t **out, char *why,
                  size_t why_len)
{
    uint8_t *text = NULL;
    size_t len = 0;
    mt_err e;

    e = mt_file_read(path, MT_REL_MAX_PROBE, &text, &len);
    if (e != MT_OK)
        return mt_rel_fail(e, why, why_len, "%s: cannot be read (%s)", path, mt_err_message(e));
    e = mt_rel_probe_parse((const char *)text, len, kind, out, why, why_len);
    mt_free(text);
    return e;
}
