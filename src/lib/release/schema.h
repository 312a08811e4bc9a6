#ifndef MT_RELEASE_SCHEMA_H
#define MT_RELEASE_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "release/release.h"

/*
 * Schemas of the release documents (mero-tee-reference.md 3.1, 3.2) and
 * the cross-document checks.  Every function returns MT_OK or
 * MT_ERR_RELEASE_SCHEMA / MT_ERR_RELEASE_INCONSISTENT /
 * MT_ERR_RELEASE_SEPARATION with why naming the JSON path and what was
 * wrong.  Unknown members are allowed in release documents (the reference
 * adds fields over time); every member the checks read must be there with
 * its type.  Measurements are 96 lowercase hex digits, as jq writes them.
 */

/* ---- schema_common.c: typed member access that explains failures ---- */

/* where: the path of obj ("profiles.debug"), for messages. */
MT_WUR mt_err mt_rel_get_str(const json_t *obj, const char *where, const char *key,
                             const char **out, char *why, size_t why_len);
/* A non-empty string. */
MT_WUR mt_err mt_rel_get_nonempty(const json_t *obj, const char *where, const char *key,
                                  const char **out, char *why, size_t why_len);
MT_WUR mt_err mt_rel_want_str(const json_t *obj, const char *where, const char *key,
                              const char *want, char *why, size_t why_len);
MT_WUR mt_err mt_rel_want_int(const json_t *obj, const char *where, const char *key,
                              json_int_t want, char *why, size_t why_len);
MT_WUR mt_err mt_rel_get_obj(const json_t *obj, const char *where, const char *key, json_t **out,
                             char *why, size_t why_len);
/* A string of exactly hex_len lowercase hex digits. */
MT_WUR mt_err mt_rel_want_hex(const json_t *obj, const char *where, const char *key, size_t hex_len,
                              char *why, size_t why_len);
/* "sha256:<64 lowercase hex>". */
MT_WUR mt_err mt_rel_want_digest(const json_t *obj, const char *where, const char *key, char *why,
                                 size_t why_len);
/* An RFC 3339 UTC time string. */
MT_WUR mt_err mt_rel_want_time(const json_t *obj, const char *where, const char *key, char *why,
                               size_t why_len);
/* A git commit: 40 or 64 lowercase hex. */
MT_WUR mt_err mt_rel_want_commit(const json_t *obj, const char *where, const char *key, char *why,
                                 size_t why_len);
/*
 * An array of at most MT_REL_MAX_LIST distinct measurements (96 lowercase
 * hex); non-empty unless allow_empty.  *out (may be NULL) gets the array.
 */
MT_WUR mt_err mt_rel_want_meas_list(const json_t *obj, const char *where, const char *key,
                                    int allow_empty, json_t **out, char *why, size_t why_len);
/* A non-empty array of distinct non-empty lowercase strings (TCB statuses). */
MT_WUR mt_err mt_rel_want_tcb_list(const json_t *obj, const char *where, const char *key, char *why,
                                   size_t why_len);
int mt_rel_is_lower_hex(const char *s, size_t len, size_t want);
/* printf into why (NULL-safe) and return err. */
mt_err mt_rel_fail(mt_err err, char *why, size_t why_len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ---- the documents ---- */

/* published-mrtds.json (3.2). */
MT_WUR mt_err mt_rel_schema_mrtds(const json_t *doc, const char *version, char *why,
                                  size_t why_len);
/* release-provenance.json (3.2). */
MT_WUR mt_err mt_rel_schema_provenance(const json_t *doc, const char *version, char *why,
                                       size_t why_len);
/* An SPDX JSON SBOM: an object with "spdxVersion" "SPDX-...". */
MT_WUR mt_err mt_rel_schema_sbom(const json_t *doc, char *why, size_t why_len);
/*
 * kms-phala-attestation-policy[.<profile>].json (3.1); profile NULL for the
 * generic copy (which must be the locked-read-only document).  raw is the
 * file: it must also parse with the KMS's own parser (policy/policy.h) for
 * both subjects, so a document release verify passes is one the KMS and
 * `mero-tee node` load.
 */
MT_WUR mt_err mt_rel_schema_policy(const char *raw, size_t raw_len, const json_t *doc,
                                   const char *version, const char *profile, char *why,
                                   size_t why_len);
/* kms-phala-compatibility-map.json (3.1). */
MT_WUR mt_err mt_rel_schema_compat(const json_t *doc, const char *version, char *why,
                                   size_t why_len);
/* kms-phala-container-metadata.json (3.1). */
MT_WUR mt_err mt_rel_schema_metadata(const json_t *doc, const char *version, char *why,
                                     size_t why_len);
/* kms-phala-release-manifest.json (3.1; no schema_version). */
MT_WUR mt_err mt_rel_schema_manifest(const json_t *doc, const char *version, char *why,
                                     size_t why_len);

/*
 * kms-phala-rekor-index.json (3.1): schema_version 1, tag, workflow run,
 * generated_at, 1 to MT_REL_MAX_REKOR_ENTRIES entries, each {asset (a base
 * name, once), bundle_asset = asset + ".bundle.json", hash
 * "sha256:<64 hex>", sigstore_search_url = "https://search.sigstore.dev/
 * ?hash=" + hash, log_index and integrated_time ("" or decimal, as a
 * string or an integer), log_id (string)}; the three log fields all set or
 * all "" (what the reference writes for legacy bundles).  What the entries
 * must agree with in the directory is verify.h's mt_rel_rekor_index_check.
 */
#define MT_REL_MAX_REKOR_ENTRIES 256u
MT_WUR mt_err mt_rel_schema_rekor_index(const json_t *doc, const char *version, char *why,
                                        size_t why_len);

/* ---- consistency.c ---- */

/* The loaded documents of a KMS release; any may be NULL (missing or unreadable). */
struct mt_rel_kms_docs {
    json_t *manifest, *metadata, *compat, *generic, *policy[MT_REL_NUM_PROFILES];
    const uint8_t *generic_raw, *policy_raw[MT_REL_NUM_PROFILES];
    size_t generic_len, policy_len[MT_REL_NUM_PROFILES];
    const struct mt_rel_sums *sums; /* kms-phala-checksums.txt, or NULL */
};

struct mt_rel_node_docs {
    json_t *mrtds, *provenance;
};

/*
 * Each adds its checks to r, named as in docs/release-verification.md;
 * a check whose inputs are missing FAILs with "needs <asset>".
 *   consistency:commit-sha       every document names the same commit
 *   consistency:workflow-run     ... and the same workflow run and attempt
 *   consistency:container-digests manifest, metadata and map agree on image digests
 *   consistency:binaries         checksum lines = manifest binaries
 *   consistency:policy-digests   the map's kms_policy_sha256 values hash the policy files
 *   consistency:generic-policy   the generic policy is byte-identical to locked-read-only
 *   consistency:event-payload    the map's event_payload = kms_allowed_event_payload
 *   separation:kms-profiles      kms_allowed_rtmr3 pairwise disjoint across profiles
 *   separation:node-profiles     node_allowed_rtmr3 pairwise disjoint across profiles
 *   separation:kms-node-rtmr3    no KMS RTMR3 value is a node RTMR3 value
 */
MT_WUR mt_err mt_rel_consistency_kms(const struct mt_rel_kms_docs *d, struct mt_rel_report *r);
/*
 *   consistency:provenance-mrtds  provenance.mrtds and .measurement_policy = published-mrtds
 *   consistency:provenance-mrtd   per profile external_verification.mrtd = published mrtd
 *   consistency:commit-sha        per-profile commit = the release commit
 *   separation:node-profiles      allowed_rtmr3 pairwise disjoint across profiles
 */
MT_WUR mt_err mt_rel_consistency_node(const struct mt_rel_node_docs *d, struct mt_rel_report *r);
/*
 * Across the two families of one version (catalog update):
 *   cross:node-measurements  each KMS profile policy's node_allowed_* equal
 *                            published-mrtds' allowed_* of that profile
 *   cross:commit-sha is not checked: the families come from different workflows.
 */
MT_WUR mt_err mt_rel_consistency_cross(const struct mt_rel_kms_docs *k,
                                       const struct mt_rel_node_docs *n, struct mt_rel_report *r);

/* Do two arrays of strings share an element?  *shared gets it (or NULL). */
int mt_rel_lists_overlap(const json_t *a, const json_t *b, const char **shared);

#endif
