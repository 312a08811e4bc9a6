#include <stdio.h>
#include <string.h>

#include "release/release.h"

/*
 * Asset names and lists of the two release families (mero-tee-reference.md
 * 3.1, 3.2), version and profile names.
 */

const char *const mt_rel_profiles[MT_REL_NUM_PROFILES] = {"debug", "debug-read-only",
                                                          "locked-read-only"};

static const char *const kms_required[] = {
    MT_REL_KMS_CHECKSUMS,
    MT_REL_KMS_MANIFEST,
    MT_REL_KMS_POLICY,
    "kms-phala-attestation-policy.debug.json",
    "kms-phala-attestation-policy.debug-read-only.json",
    "kms-phala-attestation-policy.locked-read-only.json",
    MT_REL_KMS_COMPAT,
    MT_REL_KMS_METADATA,
    MT_REL_KMS_CONTAINER_SBOM, /* 3.5 step 1: both SBOMs are base assets */
    MT_REL_KMS_BINARIES_SBOM,
    NULL,
};

static const char *const kms_optional[] = {
    MT_REL_KMS_REKOR,
    MT_REL_KMS_TRUST_BUNDLE,
    NULL,
};

static const char *const node_required[] = {
    MT_REL_NODE_MRTDS, MT_REL_NODE_PROVENANCE, MT_REL_NODE_SBOM, MT_REL_NODE_CHECKSUMS, NULL,
};

static const char *const node_optional[] = {NULL};

const char *
mt_rel_tag_prefix(enum mt_rel_family f)
{
    return f == MT_REL_KMS ? "mero-kms-v" : "mero-tee-v";
}

const char *
mt_rel_required_asset(enum mt_rel_family f, size_t i)
{
    const char *const *l = f == MT_REL_KMS ? kms_required : node_required;
    size_t n = f == MT_REL_KMS ? sizeof(kms_required) / sizeof(kms_required[0])
                               : sizeof(node_required) / sizeof(node_required[0]);

    return i < n ? l[i] : NULL;
}

const char *
mt_rel_optional_asset(enum mt_rel_family f, size_t i)
{
    const char *const *l = f == MT_REL_KMS ? kms_optional : node_optional;
    size_t n = f == MT_REL_KMS ? sizeof(kms_optional) / sizeof(kms_optional[0])
                               : sizeof(node_optional) / sizeof(node_optional[0]);

    return i < n ? l[i] : NULL;
}

mt_err
mt_rel_policy_asset(const char *profile, char *out, size_t out_len)
{
    int n = snprintf(out, out_len, "kms-phala-attestation-policy.%s.json", profile);

    MT_ENSURE(n > 0 && (size_t)n < out_len, MT_ERR_ARG);
    return MT_OK;
}

int
mt_rel_profile_index(const char *name)
{
    int i;

    for (i = 0; i < MT_REL_NUM_PROFILES; i++) {
        if (strcmp(name, mt_rel_profiles[i]) == 0)
            return i;
    }
    return -1;
}

mt_err
mt_rel_version_check(const char *v)
{
    size_t part = 0, digits = 0, i, len;

    MT_ENSURE(v != NULL, MT_ERR_ARG);
    len = strnlen(v, MT_REL_MAX_VERSION + 1);
    MT_ENSURE(len > 0 && len <= MT_REL_MAX_VERSION, MT_ERR_ARG);
    for (i = 0; i <= len; i++) {
        char c = v[i];

        if (c >= '0' && c <= '9') {
            /* No leading zeros: "01" would name the same release as "1". */
            MT_ENSURE(!(digits == 1 && v[i - 1] == '0'), MT_ERR_ARG);
            MT_ENSURE(++digits <= 9, MT_ERR_ARG);
            continue;
        }
        MT_ENSURE(digits > 0, MT_ERR_ARG);
        if (c == '\0')
            break;
        MT_ENSURE(c == '.' && part < 2, MT_ERR_ARG);
        part++;
        digits = 0;
    }
    MT_ENSURE(part == 2, MT_ERR_ARG);
    return MT_OK;
}

mt_err
mt_rel_path(const char *dir, const char *name, char *out, size_t out_len)
{
    int n = snprintf(out, out_len, "%s/%s", dir, name);

    MT_ENSURE(n > 0 && (size_t)n < out_len, MT_ERR_ARG);
    return MT_OK;
}
