#ifndef MT_RELEASE_CATALOG_H
#define MT_RELEASE_CATALOG_H

#include <jansson.h>

#include "release/verify.h"

/*
 * compatibility-catalog.json (mero-tee-reference.md 3.3):
 *   {"schema_version":1,"releases":[{version, kms_tag, node_image_tag,
 *    kms_policy_url, node_policy_url}]}, version-sorted.
 * The reference derived it from mero-kms-v* tag names alone (defect 37);
 * here a version is listed only when both of its release directories
 * verify completely and agree with each other (cross:node-measurements).
 */

/* Numeric X.Y.Z order (both must pass mt_rel_version_check). */
int mt_rel_version_cmp(const char *a, const char *b);

/*
 * Verify kms_dir (mero-kms-vV) and node_dir (mero-tee-vV) and check them
 * against each other, every check into r.  When all pass, *entry is the
 * catalog entry (URLs from the verified compatibility map); otherwise
 * *entry is NULL.  MT_OK when the checks ran.
 */
MT_WUR mt_err mt_rel_catalog_check(const struct mt_rel_trust_cfg *c, const char *kms_dir,
                                   const char *node_dir, const char *version,
                                   struct mt_rel_report *r, json_t **entry, char *why,
                                   size_t why_len);

/* The catalog document from entries (sorted here; a version twice is MT_ERR_ARG). */
MT_WUR mt_err mt_rel_catalog_doc(const json_t *entries, json_t **out);

#endif
