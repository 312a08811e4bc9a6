#ifndef MT_RELEASE_H
#define MT_RELEASE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "util/mt_buf.h"
#include "util/mt_err.h"

/*
 * Release documents (mero-tee-reference.md section 3): the two release
 * families of one version (mero-kms-vX.Y.Z, mero-tee-vX.Y.Z), their asset
 * lists, the checksums files, the schema of every JSON document, the
 * cross-document checks, and the report that `mero-tee release verify`
 * prints.  Parsing and checking are pure (no network, no clock); reading a
 * release directory is bounded file I/O.  Assembly, signing, the merod
 * configuration and the catalog are in their own headers below this one.
 */

enum mt_rel_family {
    MT_REL_KMS = 0,  /* mero-kms-vX.Y.Z */
    MT_REL_NODE = 1, /* mero-tee-vX.Y.Z */
};

/* Bounds on everything a release directory holds. */
#define MT_REL_MAX_DOC (1024u * 1024u)                  /* one JSON document */
#define MT_REL_MAX_CHECKSUMS (64u * 1024u)              /* a checksums file */
#define MT_REL_MAX_CHECKSUM_LINES 256u                  /* lines in one */
#define MT_REL_MAX_NAME 255u                            /* an asset's base name */
#define MT_REL_MAX_ASSET_SIZE (2048ull * 1024u * 1024u) /* a hashed asset (binaries) */
#define MT_REL_MAX_SIG_FILE (64u * 1024u)               /* a .sig / .pem file */
#define MT_REL_MAX_LIST 64u                             /* entries in one allowlist */
#define MT_REL_MAX_VERSION 32u                          /* "X.Y.Z" */
#define MT_REL_MAX_PATH 4096u
#define MT_REL_MAX_DIR_ENTRIES 4096u /* entries of a release directory (assets:unlisted) */

/* The three image profiles, in the order documents list them. */
#define MT_REL_NUM_PROFILES 3
extern const char *const mt_rel_profiles[MT_REL_NUM_PROFILES]; /* debug, debug-read-only, locked */
#define MT_REL_LOCKED 2                                        /* index of locked-read-only */

/* Asset names (3.1, 3.2). */
#define MT_REL_KMS_CHECKSUMS "kms-phala-checksums.txt"
#define MT_REL_KMS_MANIFEST "kms-phala-release-manifest.json"
#define MT_REL_KMS_POLICY "kms-phala-attestation-policy.json"
#define MT_REL_KMS_COMPAT "kms-phala-compatibility-map.json"
#define MT_REL_KMS_METADATA "kms-phala-container-metadata.json"
#define MT_REL_KMS_CONTAINER_SBOM "kms-phala-container-sbom.spdx.json"
#define MT_REL_KMS_BINARIES_SBOM "kms-phala-binaries-sbom.spdx.json"
#define MT_REL_KMS_REKOR "kms-phala-rekor-index.json"
#define MT_REL_KMS_TRUST_BUNDLE "kms-phala-trust-bundle.tar.gz"
#define MT_REL_NODE_MRTDS "published-mrtds.json"
#define MT_REL_NODE_PROVENANCE "release-provenance.json"
#define MT_REL_NODE_SBOM "node-image-gcp-release-sbom.spdx.json"
#define MT_REL_NODE_CHECKSUMS "node-image-gcp-checksums.txt"
#define MT_REL_DEFAULT_REPOSITORY "calimero-network/mero-tee"
#define MT_REL_OIDC_ISSUER "https://token.actions.githubusercontent.com"
#define MT_REL_DEFAULT_BINDING_HEX                                                                 \
    "2323feace9fd1751a89ab2bebb8aba145f343a3688e3d1655ed428eb0766e396"
#define MT_REL_DEFAULT_BINDING_B64 "IyP+rOn9F1GomrK+u4q6FF80OjaI49FlXtQo6wdm45Y="

/* "mero-kms-v" / "mero-tee-v". */
const char *mt_rel_tag_prefix(enum mt_rel_family f);
/* "kms-phala-attestation-policy.<profile>.json" into out. */
MT_WUR mt_err mt_rel_policy_asset(const char *profile, char *out, size_t out_len);
/* "X.Y.Z", each part 1-9 decimal digits, no leading zero unless "0": MT_ERR_ARG otherwise. */
MT_WUR mt_err mt_rel_version_check(const char *v);
/* Index of a profile name in mt_rel_profiles, or -1. */
int mt_rel_profile_index(const char *name);

/*
 * The required assets of a family (always signed), in a fixed order:
 * i = 0.. until NULL.  KMS: checksums, manifest, generic policy, the three
 * profile policies, compatibility map, container metadata, container SBOM,
 * binaries SBOM (3.5 step 1's base assets plus the profile policies).  Node:
 * published-mrtds, provenance, SBOM, checksums.
 */
const char *mt_rel_required_asset(enum mt_rel_family f, size_t i);
/* Assets a KMS release may carry (rekor index, trust bundle): signed when present. */
const char *mt_rel_optional_asset(enum mt_rel_family f, size_t i);

/* ---- checksums.c: sha256sum output ---- */

struct mt_rel_sum {
    char name[MT_REL_MAX_NAME + 1]; /* base name */
    uint8_t sha256[32];
};

struct mt_rel_sums {
    struct mt_rel_sum *v; /* owned */
    size_t n;
};

/*
 * Parse `sha256sum` output (3.1): lines "<64 hex><two spaces><name>\n"
 * (" *" binary-mode marker accepted), hex of either case, any order, a
 * directory prefix reduced to the base name, the last newline optional.
 * Refused (MT_ERR_RELEASE_CHECKSUMS_FORMAT, why says the line): no lines, an
 * empty or CRLF line, a bad digest, a name that is empty, "." / "..", over
 * MT_REL_MAX_NAME or not printable ASCII (mt_rel_name_ok), a base name listed twice,
 * more than MT_REL_MAX_CHECKSUM_LINES lines; MT_ERR_TOO_LARGE over
 * MT_REL_MAX_CHECKSUMS bytes.
 */
MT_WUR mt_err mt_rel_checksums_parse(const char *text, size_t len, struct mt_rel_sums *out,
                                     char *why, size_t why_len);
void mt_rel_checksums_free(struct mt_rel_sums *s);
/* The entry for a base name, or NULL. */
const struct mt_rel_sum *mt_rel_checksums_find(const struct mt_rel_sums *s, const char *name);
/* Append the lines of s, in its order, to out. */
MT_WUR mt_err mt_rel_checksums_format(const struct mt_rel_sums *s, struct mt_buf *out);
/* SHA-256 of len bytes. MT_ERR_CRYPTO. */
MT_WUR mt_err mt_rel_sha256(const void *data, size_t len, uint8_t out[32]);
/*
 * Is s[0..n) a usable asset base name: 1 to MT_REL_MAX_NAME printable ASCII
 * characters (0x20-0x7e) other than '/' and backslash, not "." or ".."?
 */
int mt_rel_name_ok(const char *s, size_t n);
/* SHA-256 of a regular file of at most max bytes, streamed. MT_ERR_IO, MT_ERR_TOO_LARGE. */
MT_WUR mt_err mt_rel_file_sha256(const char *path, uint64_t max, uint8_t out[32]);

/* ---- report.c: the result of a verification ---- */

struct mt_rel_check {
    char *name;   /* "checksum:<asset>", "schema:<asset>", "consistency:<what>", ... */
    mt_err err;   /* MT_OK: PASS */
    char *detail; /* why it failed ("" on PASS) */
};

struct mt_rel_report {
    struct mt_rel_check *v;
    size_t n, cap;
};

void mt_rel_report_init(struct mt_rel_report *r);
void mt_rel_report_free(struct mt_rel_report *r);
/* Record one check; detail is printf-formatted (ignored when err == MT_OK). */
MT_WUR mt_err mt_rel_report_add(struct mt_rel_report *r, const char *name, mt_err err,
                                const char *fmt, ...) __attribute__((format(printf, 4, 5)));
size_t mt_rel_report_failed(const struct mt_rel_report *r);
/* The first check of that name, or NULL. */
const struct mt_rel_check *mt_rel_report_find(const struct mt_rel_report *r, const char *name);
/* "PASS <name>" / "FAIL <name>: <detail> (<code>)" lines, then a summary line. */
MT_WUR mt_err mt_rel_report_text(const struct mt_rel_report *r, const char *title,
                                 struct mt_buf *out);
/* {"release":title,"ok":bool,"passed":n,"failed":n,"checks":[{name,ok,error,detail}]} */
json_t *mt_rel_report_json(const struct mt_rel_report *r, const char *title);

/* ---- jsonio.c: documents as the reference writes them ---- */

/* jq's pretty form: 2-space indent, key order kept, a final newline. */
MT_WUR mt_err mt_rel_json_dump(const json_t *j, struct mt_buf *out);
/* Read and parse a JSON document of at most MT_REL_MAX_DOC bytes; *raw (may be NULL) keeps the
 * bytes (mt_free). */
MT_WUR mt_err mt_rel_json_load(const char *path, json_t **out, uint8_t **raw, size_t *raw_len);
/* path = dir + "/" + name, bounded: MT_ERR_ARG when it does not fit. */
MT_WUR mt_err mt_rel_path(const char *dir, const char *name, char *out, size_t out_len);

#endif
