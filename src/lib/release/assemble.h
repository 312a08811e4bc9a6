#ifndef MT_RELEASE_ASSEMBLE_H
#define MT_RELEASE_ASSEMBLE_H

#include <jansson.h>

#include "release/release.h"

/*
 * `mero-tee release assemble`: probe results in, the release documents of
 * mero-tee-reference.md 3.1-3.2 out.  The input formats (probe.c) are ours,
 * documented in docs/release-verification.md "Assembling a release":
 *
 *   node probe (one per image profile; measurements of a booted node image)
 *     {"schema_version":1,"kind":"node-probe","profile":P,
 *      "mrtd":H96,"rtmr0":H96,...,"rtmr3":H96,"tcb_status":"UpToDate",
 *      "timestamp_utc":T,"external_verification":"performed",
 *      "image":{"name","project","family","self_link"},
 *      optional "mrtd_source" (parsed_td_quote | ita_and_quote |
 *      external_attestation_token), "mrtd_path", "ita_url",
 *      "ita_request_kind" (v2_tdx | legacy_quote), "attestation_context":
 *      {"base_url","nonce","instance","image","project","zone"}}
 *   KMS probe (one per profile; the KMS CVM of that profile's image)
 *     {"schema_version":1,"kind":"kms-probe","profile":P,"mrtd":...,
 *      "rtmr3":H96,"tcb_status":S,"compose_hash":H64 or "",
 *      "image_digest":"sha256:H64"}
 *   release metadata
 *     {"schema_version":1,"kind":"release-meta","version":"X.Y.Z",
 *      "commit_sha":H40,"workflow_run_id":"N","workflow_run_attempt":"N",
 *      "generated_at":T, optional "repository" (owner/name), "ref",
 *      "container_image", "container_tags":[...]}
 * Hex of either case is accepted and written lowercase; TCB statuses are
 * lowercased; unknown members, duplicate keys, files over
 * MT_REL_MAX_PROBE bytes are refused (MT_ERR_RELEASE_PROBE_FORMAT, why says
 * which member).
 */

#define MT_REL_MAX_PROBE (64u * 1024u)
#define MT_REL_MAX_BINARIES 16u

enum mt_rel_probe_kind { MT_REL_PROBE_NODE, MT_REL_PROBE_KMS, MT_REL_PROBE_META };

/*
 * Parse and validate one input document; *out is a normalised copy
 * (lowercase hex and TCB status, defaults filled in) to json_decref.
 */
MT_WUR mt_err mt_rel_probe_parse(const char *text, size_t len, enum mt_rel_probe_kind kind,
                                 json_t **out, char *why, size_t why_len);
/* The same from a file. */
MT_WUR mt_err mt_rel_probe_load(const char *path, enum mt_rel_probe_kind kind, json_t **out,
                                char *why, size_t why_len);

struct mt_rel_assemble_in {
    const json_t *meta;                            /* normalised release metadata */
    const json_t *node_probe[MT_REL_NUM_PROFILES]; /* indexed like mt_rel_profiles */
    const json_t *kms_probe[MT_REL_NUM_PROFILES];
    const char *const *binaries; /* paths of the KMS binary archives (copied) */
    size_t num_binaries;
    const char *container_sbom; /* path of kms-phala-container-sbom.spdx.json (required) */
    const char *out_dir;        /* receives mero-kms-vX.Y.Z/ and mero-tee-vX.Y.Z/ */
};

/*
 * Write both families' documents.  out_dir is created if needed; the two
 * family directories must not exist yet (a release is never overwritten).
 * Profiles must be separated (every pair of node RTMR3 values and KMS RTMR3
 * values distinct, no KMS RTMR3 equal to a node one), or assembly refuses
 * with MT_ERR_RELEASE_SEPARATION: the reference's guards never ran
 * (defects 17, 29).  The container SBOM (a required KMS asset that cannot
 * be derived offline) must be given: an SPDX JSON document, copied as is.  Errors: MT_ERR_ARG,
 * MT_ERR_IO, MT_ERR_NOMEM, MT_ERR_RELEASE_SEPARATION; why says what.
 */
MT_WUR mt_err mt_rel_assemble(const struct mt_rel_assemble_in *in, char *why, size_t why_len);

/* <out_dir>/<prefix><version> into out. */
MT_WUR mt_err mt_rel_family_dir(const char *out_dir, enum mt_rel_family f, const char *version,
                                char *out, size_t out_len);

#endif
