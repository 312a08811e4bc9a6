#include <stdio.h>
#include <string.h>

#include "release/schema.h"

/*
 * The node release's documents (mero-tee-reference.md 3.2):
 * published-mrtds.json, release-provenance.json, and the SBOM's envelope.
 */

#define SCHEMA MT_ERR_RELEASE_SCHEMA

static const char *const meas_keys[5] = {"mrtd", "rtmr0", "rtmr1", "rtmr2", "rtmr3"};

/* Exactly the three profiles, no others. */
static mt_err
want_profiles(const json_t *obj, const char *where, json_t **out, char *why, size_t why_len)
{
    const char *key;
    json_t *p, *v;
    size_t i;

    MT_GUARD(mt_rel_get_obj(obj, where, "profiles", &p, why, why_len));
    json_object_foreach(p, key, v)
    {
        if (mt_rel_profile_index(key) < 0)
            return mt_rel_fail(SCHEMA, why, why_len, "%s.profiles: unknown profile \"%.40s\"",
                               where, key);
    }
    for (i = 0; i < MT_REL_NUM_PROFILES; i++) {
        if (!json_is_object(json_object_get(p, mt_rel_profiles[i])))
            return mt_rel_fail(SCHEMA, why, why_len, "%s.profiles.%s: missing or not an object",
                               where, mt_rel_profiles[i]);
    }
    *out = p;
    return MT_OK;
}

static mt_err
want_version_tag(const json_t *doc, const char *where, const char *version, char *why,
                 size_t why_len)
{
    return mt_rel_want_str(doc, where, "tag", version, why, why_len);
}

mt_err
mt_rel_schema_mrtds(const json_t *doc, const char *version, char *why, size_t why_len)
{
    json_t *profiles, *markers, *list;
    const char *s;
    char where[96], key[32];
    size_t i, k;

    if (!json_is_object(doc))
        return mt_rel_fail(SCHEMA, why, why_len, "the document is not an object");
    /* role defaults to node in the reference's verifier; present, it must say so. */
    if (json_object_get(doc, "role") != NULL)
        MT_GUARD(mt_rel_want_str(doc, "", "role", "node", why, why_len));
    MT_GUARD(want_version_tag(doc, "", version, why, why_len));
    MT_GUARD(mt_rel_want_time(doc, "", "generated_at", why, why_len));
    MT_GUARD(mt_rel_get_obj(doc, "", "measurement_markers", &markers, why, why_len));
    MT_GUARD(mt_rel_get_nonempty(markers, "measurement_markers", "role", &s, why, why_len));
    MT_GUARD(mt_rel_get_nonempty(markers, "measurement_markers", "profile_key", &s, why, why_len));
    MT_GUARD(
        mt_rel_get_nonempty(markers, "measurement_markers", "root_hash_key", &s, why, why_len));
    MT_GUARD(want_profiles(doc, "", &profiles, why, why_len));
    for (i = 0; i < MT_REL_NUM_PROFILES; i++) {
        json_t *p = json_object_get(profiles, mt_rel_profiles[i]);

        snprintf(where, sizeof(where), "profiles.%s", mt_rel_profiles[i]);
        for (k = 0; k < 5; k++)
            MT_GUARD(mt_rel_want_hex(p, where, meas_keys[k], 96, why, why_len));
        MT_GUARD(mt_rel_get_nonempty(p, where, "mrtd_source", &s, why, why_len));
        MT_GUARD(mt_rel_want_time(p, where, "timestamp_utc", why, why_len));
        for (k = 0; k < 5; k++) {
            const char *own;
            const char *shared;
            json_t *one;

            snprintf(key, sizeof(key), "allowed_%s", meas_keys[k]);
            MT_GUARD(mt_rel_want_meas_list(p, where, key, 0, &list, why, why_len));
            /* The probe's own value must be admitted by its own allowlist. */
            own = json_string_value(json_object_get(p, meas_keys[k]));
            one = json_pack("[s]", own);
            if (one == NULL)
                return MT_ERR_NOMEM;
            if (!mt_rel_lists_overlap(one, list, &shared)) {
                json_decref(one);
                return mt_rel_fail(SCHEMA, why, why_len, "%s.%s: does not list the %s itself",
                                   where, key, meas_keys[k]);
            }
            json_decref(one);
        }
        MT_GUARD(mt_rel_want_tcb_list(p, where, "allowed_tcb_statuses", why, why_len));
    }
    return MT_OK;
}

mt_err
mt_rel_schema_provenance(const json_t *doc, const char *version, char *why, size_t why_len)
{
    char want[96], where[96];
    json_t *c, *profiles, *o;
    const char *s;
    size_t i;

    if (!json_is_object(doc))
        return mt_rel_fail(SCHEMA, why, why_len, "the document is not an object");
    MT_GUARD(mt_rel_want_str(doc, "", "role", "node", why, why_len));
    MT_GUARD(want_version_tag(doc, "", version, why, why_len));
    MT_GUARD(mt_rel_want_commit(doc, "", "commit_sha", why, why_len));
    MT_GUARD(mt_rel_get_nonempty(doc, "", "workflow_run_id", &s, why, why_len));
    MT_GUARD(mt_rel_get_nonempty(doc, "", "workflow_run_attempt", &s, why, why_len));
    MT_GUARD(mt_rel_want_time(doc, "", "generated_at", why, why_len));
    MT_GUARD(mt_rel_get_obj(doc, "", "compatibility", &c, why, why_len));
    MT_GUARD(mt_rel_want_str(c, "compatibility", "version", version, why, why_len));
    snprintf(want, sizeof(want), "mero-kms-v%s", version);
    MT_GUARD(mt_rel_want_str(c, "compatibility", "kms_tag", want, why, why_len));
    snprintf(want, sizeof(want), "mero-tee-v%s", version);
    MT_GUARD(mt_rel_want_str(c, "compatibility", "node_image_tag", want, why, why_len));
    MT_GUARD(mt_rel_get_nonempty(c, "compatibility", "kms_policy_url", &s, why, why_len));
    MT_GUARD(mt_rel_get_nonempty(c, "compatibility", "node_policy_url", &s, why, why_len));
    MT_GUARD(want_profiles(doc, "", &profiles, why, why_len));
    for (i = 0; i < MT_REL_NUM_PROFILES; i++) {
        json_t *p = json_object_get(profiles, mt_rel_profiles[i]);

        snprintf(where, sizeof(where), "profiles.%s", mt_rel_profiles[i]);
        MT_GUARD(mt_rel_want_str(p, where, "profile", mt_rel_profiles[i], why, why_len));
        MT_GUARD(mt_rel_get_nonempty(p, where, "tag", &s, why, why_len));
        MT_GUARD(mt_rel_want_commit(p, where, "commit_sha", why, why_len));
        MT_GUARD(mt_rel_get_obj(p, where, "image", &o, why, why_len));
        snprintf(where, sizeof(where), "profiles.%s.image", mt_rel_profiles[i]);
        MT_GUARD(mt_rel_get_nonempty(o, where, "name", &s, why, why_len));
        snprintf(where, sizeof(where), "profiles.%s", mt_rel_profiles[i]);
        MT_GUARD(mt_rel_get_obj(p, where, "external_verification", &o, why, why_len));
        snprintf(where, sizeof(where), "profiles.%s.external_verification", mt_rel_profiles[i]);
        MT_GUARD(mt_rel_want_str(o, where, "status", "performed", why, why_len));
        MT_GUARD(mt_rel_want_hex(o, where, "mrtd", 96, why, why_len));
    }
    MT_GUARD(mt_rel_get_obj(doc, "", "mrtds", &o, why, why_len));
    MT_GUARD(mt_rel_get_obj(doc, "", "measurement_policy", &o, why, why_len));
    MT_GUARD(mt_rel_want_str(o, "measurement_policy", "tag", version, why, why_len));
    return MT_OK;
}

mt_err
mt_rel_schema_sbom(const json_t *doc, char *why, size_t why_len)
{
    const char *s;

    if (!json_is_object(doc))
        return mt_rel_fail(SCHEMA, why, why_len, "the document is not an object");
    MT_GUARD(mt_rel_get_str(doc, "", "spdxVersion", &s, why, why_len));
    if (strncmp(s, "SPDX-", 5) != 0)
        return mt_rel_fail(SCHEMA, why, why_len, "spdxVersion: not an SPDX version");
    return MT_OK;
}
