#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "release/schema.h"
#include "util/mt_hex.h"

/*
 * Cross-document checks (mero-tee-reference.md 3.5 step 5-6, 3.6), plus the
 * profile-separation guards the reference meant to run but never did: its
 * jq overlap expressions do not compile, so inside `if jq -e` they always
 * passed (defect 17); and its "profiles differ" test let two of three
 * profiles be identical (defect 29).
 */

#define INCONS MT_ERR_RELEASE_INCONSISTENT
#define SEP MT_ERR_RELEASE_SEPARATION

static const char *const meas_keys[5] = {"mrtd", "rtmr0", "rtmr1", "rtmr2", "rtmr3"};

static const char *
str_at(const json_t *doc, const char *k1, const char *k2)
{
    const json_t *o = doc;

    if (k2 != NULL)
        o = json_object_get(o, k1);
    return json_string_value(json_object_get(o, k2 != NULL ? k2 : k1));
}

static json_t *
policy_list(const json_t *policy_doc, const char *key)
{
    return json_object_get(json_object_get(policy_doc, "policy"), key);
}

static int
kms_complete(const struct mt_rel_kms_docs *d)
{
    size_t i;

    for (i = 0; i < MT_REL_NUM_PROFILES; i++) {
        if (d->policy[i] == NULL)
            return 0;
    }
    return d->manifest != NULL && d->metadata != NULL && d->compat != NULL && d->generic != NULL;
}

/* A string member that every present document must carry with one value. */
static mt_err
same_field(const json_t *const *docs, const char *const *names, size_t n, const char *field,
           char *why, size_t why_len)
{
    const char *first = NULL, *first_name = NULL;
    size_t i;

    for (i = 0; i < n; i++) {
        const char *s = str_at(docs[i], field, NULL);

        if (s == NULL)
            return mt_rel_fail(INCONS, why, why_len, "%s has no %s", names[i], field);
        if (first == NULL) {
            first = s;
            first_name = names[i];
        } else if (strcmp(first, s) != 0) {
            return mt_rel_fail(INCONS, why, why_len, "%s %s \"%.64s\" differs from %s's \"%.64s\"",
                               names[i], field, s, first_name, first);
        }
    }
    return MT_OK;
}

static void
sha256(const uint8_t *p, size_t n, char hex[65])
{
    uint8_t d[32];
    unsigned int dl = 32;

    if (EVP_Digest(p, n, d, &dl, EVP_sha256(), NULL) != 1)
        memset(d, 0, sizeof(d));
    mt_hex_encode(d, 32, hex);
}

static int
hex_equal(const char *a, const char *b)
{
    size_t n = strlen(a);

    return n == strlen(b) && CRYPTO_memcmp(a, b, n) == 0;
}

static mt_err
check_digests(const struct mt_rel_kms_docs *d, char *why, size_t why_len)
{
    const json_t *c = json_object_get(d->compat, "compatibility");
    const json_t *pm = json_object_get(d->metadata, "container_profile_digests");
    const json_t *pn = json_object_get(d->manifest, "container_profile_digests");
    const char *md = str_at(d->manifest, "container", "digest");
    const char *xd = str_at(d->metadata, "container", "digest");
    size_t i;

    if (md == NULL || xd == NULL || strcmp(md, xd) != 0)
        return mt_rel_fail(INCONS, why, why_len,
                           "container.digest differs between the manifest and the metadata");
    if (!json_equal(pm, pn))
        return mt_rel_fail(INCONS, why, why_len,
                           "container_profile_digests differ between the manifest and the "
                           "metadata");
    if (!json_equal(json_object_get(pm, mt_rel_profiles[MT_REL_LOCKED]),
                    json_object_get(json_object_get(d->metadata, "container"), "digest")))
        return mt_rel_fail(INCONS, why, why_len,
                           "container.digest is not the locked-read-only image's digest");
    for (i = 0; i < MT_REL_NUM_PROFILES; i++) {
        const json_t *p = json_object_get(json_object_get(c, "profiles"), mt_rel_profiles[i]);

        if (!json_equal(json_object_get(p, "kms_image_digest"),
                        json_object_get(pm, mt_rel_profiles[i])))
            return mt_rel_fail(INCONS, why, why_len,
                               "compatibility map's %s kms_image_digest is not the metadata's",
                               mt_rel_profiles[i]);
    }
    return MT_OK;
}

static mt_err
check_binaries(const struct mt_rel_kms_docs *d, char *why, size_t why_len)
{
    const json_t *bins = json_object_get(d->manifest, "binaries");
    size_t i;

    if (json_array_size(bins) != d->sums->n)
        return mt_rel_fail(INCONS, why, why_len,
                           "the manifest lists %zu binaries, the checksums file %zu",
                           json_array_size(bins), d->sums->n);
    for (i = 0; i < json_array_size(bins); i++) {
        const json_t *b = json_array_get(bins, i);
        const char *file = str_at(b, "file", NULL), *h = str_at(b, "sha256", NULL);
        const struct mt_rel_sum *s = file != NULL ? mt_rel_checksums_find(d->sums, file) : NULL;
        uint8_t want[32];

        if (s == NULL)
            return mt_rel_fail(INCONS, why, why_len,
                               "manifest binary %.80s is not in the checksums file",
                               file != NULL ? file : "?");
        if (h == NULL || mt_hex_decode_exact(h, strlen(h), want, 32) != MT_OK ||
            CRYPTO_memcmp(want, s->sha256, 32) != 0)
            return mt_rel_fail(INCONS, why, why_len,
                               "manifest sha256 of %.80s differs from the checksums file", file);
    }
    return MT_OK;
}

static mt_err
check_policy_digests(const struct mt_rel_kms_docs *d, char *why, size_t why_len)
{
    const json_t *c = json_object_get(d->compat, "compatibility");
    char hex[65];
    const char *want;
    size_t i;

    sha256(d->generic_raw, d->generic_len, hex);
    want = str_at(c, "kms_policy_sha256", NULL);
    if (want == NULL || !hex_equal(want, hex))
        return mt_rel_fail(INCONS, why, why_len,
                           "compatibility.kms_policy_sha256 is not the SHA-256 of %s (%s)",
                           MT_REL_KMS_POLICY, hex);
    for (i = 0; i < MT_REL_NUM_PROFILES; i++) {
        const json_t *p = json_object_get(json_object_get(c, "profiles"), mt_rel_profiles[i]);

        sha256(d->policy_raw[i], d->policy_len[i], hex);
        want = str_at(p, "kms_policy_sha256", NULL);
        if (want == NULL || !hex_equal(want, hex))
            return mt_rel_fail(INCONS, why, why_len,
                               "compatibility.profiles.%s.kms_policy_sha256 is not the SHA-256 "
                               "of its policy (%s)",
                               mt_rel_profiles[i], hex);
    }
    return MT_OK;
}

static mt_err
check_event_payload(const struct mt_rel_kms_docs *d, char *why, size_t why_len)
{
    const json_t *c = json_object_get(d->compat, "compatibility");
    size_t i;

    for (i = 0; i < MT_REL_NUM_PROFILES; i++) {
        const json_t *p = json_object_get(json_object_get(c, "profiles"), mt_rel_profiles[i]);
        const json_t *l = policy_list(d->policy[i], "kms_allowed_event_payload");
        const char *ev = str_at(p, "event_payload", NULL);
        const char *want = json_array_size(l) > 0 ? json_string_value(json_array_get(l, 0)) : "";

        if (ev == NULL || want == NULL || strcmp(ev, want) != 0)
            return mt_rel_fail(INCONS, why, why_len,
                               "compatibility.profiles.%s.event_payload differs from the "
                               "policy's kms_allowed_event_payload",
                               mt_rel_profiles[i]);
    }
    return MT_OK;
}

/* key's lists pairwise disjoint across the three documents. */
static mt_err
pairwise_disjoint(json_t *const lists[MT_REL_NUM_PROFILES], const char *what, char *why,
                  size_t why_len)
{
    const char *shared;
    size_t i, j;

    for (i = 0; i < MT_REL_NUM_PROFILES; i++) {
        for (j = i + 1; j < MT_REL_NUM_PROFILES; j++) {
            if (json_array_size(lists[i]) == 0 || json_array_size(lists[j]) == 0)
                return mt_rel_fail(SEP, why, why_len, "%s of %s or %s is empty", what,
                                   mt_rel_profiles[i], mt_rel_profiles[j]);
            if (mt_rel_lists_overlap(lists[i], lists[j], &shared))
                return mt_rel_fail(SEP, why, why_len, "%s of %s and %s share %.24s...", what,
                                   mt_rel_profiles[i], mt_rel_profiles[j], shared);
        }
    }
    return MT_OK;
}

static mt_err
add(struct mt_rel_report *r, const char *name, mt_err e, const char *why)
{
    return mt_rel_report_add(r, name, e, "%s", why);
}

mt_err
mt_rel_consistency_kms(const struct mt_rel_kms_docs *d, struct mt_rel_report *r)
{
    const json_t *docs[7];
    const char *names[7];
    json_t *kms3[MT_REL_NUM_PROFILES], *node3[MT_REL_NUM_PROFILES];
    char why[512];
    const char *shared;
    size_t i, j, n = 0;
    mt_err e;

    if (!kms_complete(d)) {
        static const char *const checks[] = {
            "consistency:commit-sha",        "consistency:workflow-run",
            "consistency:container-digests", "consistency:binaries",
            "consistency:policy-digests",    "consistency:generic-policy",
            "consistency:event-payload",     "separation:kms-profiles",
            "separation:node-profiles",      "separation:kms-node-rtmr3",
        };
        for (i = 0; i < sizeof(checks) / sizeof(checks[0]); i++)
            MT_GUARD(mt_rel_report_add(r, checks[i], INCONS,
                                       "needs every KMS document to be present and valid"));
        return MT_OK;
    }
    docs[n] = d->manifest;
    names[n++] = MT_REL_KMS_MANIFEST;
    docs[n] = d->metadata;
    names[n++] = MT_REL_KMS_METADATA;
    docs[n] = d->generic;
    names[n++] = MT_REL_KMS_POLICY;
    for (i = 0; i < MT_REL_NUM_PROFILES; i++) {
        docs[n] = d->policy[i];
        names[n++] = mt_rel_profiles[i];
    }
    why[0] = '\0';
    e = same_field(docs, names, n, "commit_sha", why, sizeof(why));
    MT_GUARD(add(r, "consistency:commit-sha", e, why));
    docs[n] = d->compat;
    names[n++] = MT_REL_KMS_COMPAT;
    e = same_field(docs, names, n, "workflow_run_id", why, sizeof(why));
    if (e == MT_OK)
        e = same_field(docs, names, n, "workflow_run_attempt", why, sizeof(why));
    MT_GUARD(add(r, "consistency:workflow-run", e, why));
    MT_GUARD(add(r, "consistency:container-digests", check_digests(d, why, sizeof(why)), why));
    if (d->sums == NULL)
        MT_GUARD(add(r, "consistency:binaries", INCONS, "needs " MT_REL_KMS_CHECKSUMS));
    else
        MT_GUARD(add(r, "consistency:binaries", check_binaries(d, why, sizeof(why)), why));
    MT_GUARD(add(r, "consistency:policy-digests", check_policy_digests(d, why, sizeof(why)), why));
    e = d->generic_len == d->policy_len[MT_REL_LOCKED] &&
                CRYPTO_memcmp(d->generic_raw, d->policy_raw[MT_REL_LOCKED], d->generic_len) == 0
            ? MT_OK
            : INCONS;
    MT_GUARD(mt_rel_report_add(r, "consistency:generic-policy", e,
                               "%s is not a byte copy of the locked-read-only policy",
                               MT_REL_KMS_POLICY));
    MT_GUARD(add(r, "consistency:event-payload", check_event_payload(d, why, sizeof(why)), why));

    for (i = 0; i < MT_REL_NUM_PROFILES; i++) {
        kms3[i] = policy_list(d->policy[i], "kms_allowed_rtmr3");
        node3[i] = policy_list(d->policy[i], "node_allowed_rtmr3");
    }
    MT_GUARD(add(r, "separation:kms-profiles",
                 pairwise_disjoint(kms3, "kms_allowed_rtmr3", why, sizeof(why)), why));
    MT_GUARD(add(r, "separation:node-profiles",
                 pairwise_disjoint(node3, "node_allowed_rtmr3", why, sizeof(why)), why));
    e = MT_OK;
    for (i = 0; i < MT_REL_NUM_PROFILES && e == MT_OK; i++) {
        for (j = 0; j < MT_REL_NUM_PROFILES && e == MT_OK; j++) {
            if (mt_rel_lists_overlap(kms3[i], node3[j], &shared))
                e = mt_rel_fail(SEP, why, sizeof(why),
                                "kms_allowed_rtmr3 of %s shares %.24s... with node_allowed_rtmr3 "
                                "of %s",
                                mt_rel_profiles[i], shared, mt_rel_profiles[j]);
        }
    }
    return add(r, "separation:kms-node-rtmr3", e, why);
}

mt_err
mt_rel_consistency_node(const struct mt_rel_node_docs *d, struct mt_rel_report *r)
{
    const json_t *pp, *mp;
    json_t *rt3[MT_REL_NUM_PROFILES];
    const char *top;
    char why[512];
    size_t i;
    mt_err e;

    if (d->mrtds == NULL || d->provenance == NULL) {
        static const char *const checks[] = {"consistency:provenance-mrtds",
                                             "consistency:provenance-mrtd",
                                             "consistency:commit-sha", "separation:node-profiles"};
        for (i = 0; i < sizeof(checks) / sizeof(checks[0]); i++)
            MT_GUARD(mt_rel_report_add(r, checks[i], INCONS,
                                       "needs %s and %s to be present and valid", MT_REL_NODE_MRTDS,
                                       MT_REL_NODE_PROVENANCE));
        return MT_OK;
    }
    e = json_equal(json_object_get(d->provenance, "mrtds"), d->mrtds) &&
                json_equal(json_object_get(d->provenance, "measurement_policy"), d->mrtds)
            ? MT_OK
            : INCONS;
    MT_GUARD(mt_rel_report_add(r, "consistency:provenance-mrtds", e,
                               "provenance mrtds / measurement_policy are not %s",
                               MT_REL_NODE_MRTDS));
    pp = json_object_get(d->provenance, "profiles");
    mp = json_object_get(d->mrtds, "profiles");
    e = MT_OK;
    for (i = 0; i < MT_REL_NUM_PROFILES && e == MT_OK; i++) {
        const char *a =
            str_at(json_object_get(pp, mt_rel_profiles[i]), "external_verification", "mrtd");
        const char *b = str_at(json_object_get(mp, mt_rel_profiles[i]), "mrtd", NULL);

        if (a == NULL || b == NULL || !hex_equal(a, b))
            e = mt_rel_fail(INCONS, why, sizeof(why),
                            "provenance %s external_verification.mrtd is not the published mrtd",
                            mt_rel_profiles[i]);
    }
    MT_GUARD(add(r, "consistency:provenance-mrtd", e, why));
    top = str_at(d->provenance, "commit_sha", NULL);
    e = MT_OK;
    for (i = 0; i < MT_REL_NUM_PROFILES && e == MT_OK; i++) {
        const char *c = str_at(json_object_get(pp, mt_rel_profiles[i]), "commit_sha", NULL);

        if (top == NULL || c == NULL || strcmp(top, c) != 0)
            e = mt_rel_fail(INCONS, why, sizeof(why),
                            "provenance %s commit_sha is not the release's commit",
                            mt_rel_profiles[i]);
    }
    MT_GUARD(add(r, "consistency:commit-sha", e, why));
    for (i = 0; i < MT_REL_NUM_PROFILES; i++)
        rt3[i] = json_object_get(json_object_get(mp, mt_rel_profiles[i]), "allowed_rtmr3");
    return add(r, "separation:node-profiles",
               pairwise_disjoint(rt3, "allowed_rtmr3", why, sizeof(why)), why);
}

mt_err
mt_rel_consistency_cross(const struct mt_rel_kms_docs *k, const struct mt_rel_node_docs *n,
                         struct mt_rel_report *r)
{
    const json_t *mp;
    char why[512], key[48], nkey[48];
    size_t i, m;
    mt_err e = MT_OK;

    if (!kms_complete(k) || n->mrtds == NULL)
        return mt_rel_report_add(r, "cross:node-measurements", INCONS,
                                 "needs both releases' documents");
    mp = json_object_get(n->mrtds, "profiles");
    for (i = 0; i < MT_REL_NUM_PROFILES && e == MT_OK; i++) {
        const json_t *pub = json_object_get(mp, mt_rel_profiles[i]);

        for (m = 0; m < 6 && e == MT_OK; m++) {
            const char *suffix = m < 5 ? meas_keys[m] : "tcb_statuses";

            snprintf(key, sizeof(key), "allowed_%s", suffix);
            snprintf(nkey, sizeof(nkey), "node_allowed_%s", suffix);
            if (!json_equal(json_object_get(pub, key), policy_list(k->policy[i], nkey)))
                e = mt_rel_fail(INCONS, why, sizeof(why),
                                "%s policy %s differs from %s profiles.%s.%s", mt_rel_profiles[i],
                                nkey, MT_REL_NODE_MRTDS, mt_rel_profiles[i], key);
        }
    }
    return add(r, "cross:node-measurements", e, why);
}
