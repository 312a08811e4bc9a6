#ifndef MT_RELEASE_MEROD_CONFIG_H
#define MT_RELEASE_MEROD_CONFIG_H

#include <jansson.h>

#include "release/release.h"

/*
 * The merod side of a verified KMS release (mero-tee-reference.md 3.8,
 * 3.9): the [tee.kms.phala] TOML block, byte for byte as the reference's
 * generate-merod-kms-phala-attestation-config.sh writes it, and the
 * `merod config` settings its apply script runs.  Measurements come from
 * policy.kms_allowed_* (what the node must check the KMS against, Plane 1).
 * The reference's merod reads policy.allowed_* from release policy files,
 * which current releases do not carry (defects 13, 14); the generated
 * config carries the lists explicitly, so it does not depend on that path.
 */

#define MT_REL_MEROD_SETTINGS 10
#define MT_REL_MAX_KMS_URL 2048u

/* https:// or http:// followed by printable ASCII without space, '"' or '\'. */
MT_WUR mt_err mt_rel_kms_url_check(const char *url);

/*
 * The TOML block for a policy document that passed mt_rel_schema_policy;
 * version "X.Y.Z", profile its profile.  MT_ERR_ARG for a bad URL,
 * MT_ERR_RELEASE_SCHEMA when the lists are missing.
 */
MT_WUR mt_err mt_rel_merod_toml(const json_t *policy_doc, const char *version, const char *profile,
                                const char *kms_url, struct mt_buf *out);

/*
 * The ten "key=value" arguments of `merod config` (3.9), in the
 * reference's order: url, enabled, accept_mock, allowed_tcb_statuses,
 * allowed_mrtd, allowed_rtmr0..3, binding_b64.  out[i] are mt_free'd by
 * mt_rel_merod_settings_free.
 */
MT_WUR mt_err mt_rel_merod_settings(const json_t *policy_doc, const char *kms_url,
                                    char *out[MT_REL_MEROD_SETTINGS]);
void mt_rel_merod_settings_free(char *s[MT_REL_MEROD_SETTINGS]);

#endif
