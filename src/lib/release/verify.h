#ifndef MT_RELEASE_VERIFY_H
#define MT_RELEASE_VERIFY_H

#include <openssl/evp.h>

#include "release/release.h"
#include "release/schema.h"

/*
 * `mero-tee release verify`: an offline check of one downloaded release
 * directory (docs/release-verification.md names every check):
 *   asset:<name>         each required asset is present (a regular file)
 *   checksums:parse      the checksums file parses (checksums.c)
 *   checksums:coverage   (node) it lists published-mrtds, provenance and SBOM
 *   checksum:<name>      each listed file exists and has that SHA-256
 *   schema:<name>        each JSON document follows its schema (schema.h)
 *   consistency:* / separation:*   the cross-document checks (schema.h)
 *   assets:purposes      (KMS) every asset the manifest's asset_purposes
 *                        names is present (and, below, signed)
 *   signature:<name>     each asset's signature, by the verify_sig callback,
 *                        over the bytes the other checks read
 *   consistency:rekor-index  (KMS, when the index is present) its entries
 *                        match the directory: mt_rel_rekor_index_check
 *   assets:unlisted      no file in dir is outside the release: every entry
 *                        is a listed asset (mt_rel_asset_listed) or its
 *                        .sig / .pem / .bundle.json sidecar
 * The report gets every check even after failures, so one run shows all
 * that is wrong.
 */

/*
 * One file of a release as verify read it: the directory is opened once,
 * each file once (openat, O_NOFOLLOW, a regular file, bounded), and every
 * check that concerns it (checksum, schema, consistency, signature) and
 * every caller of the loaded documents uses these bytes, so what was
 * checked is what is used (no time-of-check/time-of-use gap).  Sidecars
 * are read the same way, when the asset is.
 */
struct mt_rel_asset {
    const char *name;
    const uint8_t *data; /* the file; NULL when it is missing or unreadable */
    size_t len;
    uint8_t sha256[32];          /* of data */
    const uint8_t *sig, *bundle; /* <name>.sig, <name>.bundle.json, or NULL */
    size_t sig_len, bundle_len;
    mt_err sig_err, bundle_err; /* a sidecar present but unreadable (too large) */
    int has_pem;                /* <name>.pem is a regular file */
};

/*
 * Verify the signature of an asset over asset->data with its sidecars.
 * MT_OK when verified; otherwise the error (MT_ERR_RELEASE_SIGNATURE_MISSING,
 * ..._UNVERIFIABLE, ..._NO_TRUST, ..._ASSET_MISSING, or a sigstore_* code)
 * with why filled.
 */
typedef mt_err (*mt_rel_sig_fn)(void *arg, const struct mt_rel_asset *asset, char *why,
                                size_t why_len);

struct mt_rel_verify_opts {
    const char *dir;
    enum mt_rel_family family;
    const char *version; /* "X.Y.Z" */
    mt_rel_sig_fn verify_sig;
    void *sig_arg;
};

/*
 * The loaded documents of a verified (or failed) directory, for callers
 * that use them afterwards (merod-config, catalog).  Owned; freed by
 * mt_rel_loaded_free.
 */
struct mt_rel_file; /* verify.c: one file read once, with its sidecars */

struct mt_rel_loaded {
    struct mt_rel_kms_docs kms; /* kms.policy_raw / generic_raw point into files */
    struct mt_rel_node_docs node;
    json_t *rekor; /* kms-phala-rekor-index.json when present and valid */
    struct mt_rel_sums sums;
    int have_sums;
    struct mt_rel_file *files; /* every file verify read, each once */
    size_t n_files, cap_files;
};

/*
 * Run every check into r.  MT_OK when the checks ran (read r for the
 * verdict: mt_rel_report_failed); MT_ERR_ARG for bad options, MT_ERR_NOMEM.
 * loaded (may be NULL) receives the documents.
 */
MT_WUR mt_err mt_rel_verify(const struct mt_rel_verify_opts *o, struct mt_rel_report *r,
                            struct mt_rel_loaded *loaded);
void mt_rel_loaded_free(struct mt_rel_loaded *l);

/*
 * Is name an asset of a release of family f: a required or optional
 * asset, a line of the checksums (sums, may be NULL), a binary of the KMS
 * manifest or a key of its asset_purposes (manifest, may be NULL)?
 * Sidecars are not assets.
 */
int mt_rel_asset_listed(enum mt_rel_family f, const struct mt_rel_sums *sums,
                        const json_t *manifest, const char *name);

/*
 * The entries of a rekor index that passed mt_rel_schema_rekor_index,
 * against the KMS release directory dir:
 *   - the index names the manifest's workflow run (manifest may be NULL:
 *     not compared);
 *   - each entry's asset is a listed asset of the release other than the
 *     index itself, present, and its SHA-256 is the entry's hash;
 *   - its bundle_asset is present and, when the entry's log fields are
 *     set, the bundle's first transparency-log entry has that log index,
 *     integrated time and log id (protobuf bundles:
 *     verificationMaterial.tlogEntries[0].logIndex, .integratedTime,
 *     .logId.keyId; legacy cosign bundles: rekorBundle.Payload.logIndex,
 *     .integratedTime, .logID).
 * The bundle itself is verified by signature:<asset>; this binds the
 * index's claims to it.  MT_ERR_RELEASE_INCONSISTENT (why says which entry),
 * MT_ERR_NOMEM.
 */
MT_WUR mt_err mt_rel_rekor_index_check(const char *dir, const json_t *index, const json_t *manifest,
                                       const struct mt_rel_sums *sums, char *why, size_t why_len);

/* ---- sigcheck.c: mt_rel_sig_fn over src/lib/sigstore ---- */

struct mt_sigstore_trust;

struct mt_rel_trust {
    struct mt_sigstore_trust *root; /* trusted_root.json, or NULL */
    EVP_PKEY *key;                  /* cosign public key, or NULL */
    const char *identity;           /* exact certificate SAN */
    const char *issuer;             /* exact OIDC issuer */
    char identity_buf[512];
};

/* What the user gave (all optional; NULL = default). */
struct mt_rel_trust_cfg {
    const char *trusted_root; /* trusted_root.json path */
    const char *key;          /* PEM public key path: key mode */
    const char *identity;     /* overrides the family's workflow identity */
    const char *issuer;       /* overrides https://token.actions.githubusercontent.com */
    const char *repository;   /* owner/name the family identities name (forks) */
};

/* Load the trust material for family f; why says which file failed. */
MT_WUR mt_err mt_rel_trust_open(const struct mt_rel_trust_cfg *c, enum mt_rel_family f,
                                struct mt_rel_trust *t, char *why, size_t why_len);
void mt_rel_trust_close(struct mt_rel_trust *t);

/*
 * mt_rel_trust_open + mt_rel_verify with mt_rel_sigcheck.  MT_OK when the
 * checks ran (the verdict is in r); other errors as the two calls.
 */
MT_WUR mt_err mt_rel_verify_release(const struct mt_rel_trust_cfg *c, const char *dir,
                                    enum mt_rel_family f, const char *version,
                                    struct mt_rel_report *r, struct mt_rel_loaded *loaded,
                                    char *why, size_t why_len);

/*
 * The workflow identity a family's assets are signed with (3.4), for
 * repository (NULL: calimero-network/mero-tee):
 * https://github.com/<repo>/.github/workflows/release-kms-phala.yaml@refs/heads/master
 * (release-node-image-gcp.yaml for the node family).  The reference matched
 * it as an unanchored-dot regular expression; we compare exactly.
 */
MT_WUR mt_err mt_rel_family_identity(enum mt_rel_family f, const char *repository, char *out,
                                     size_t out_len);

/*
 * Per asset, over asset->data: with a key, every present sidecar (<asset>.bundle.json,
 * <asset>.sig) must verify with it and at least one must exist; without a
 * key, <asset>.bundle.json must verify against the trusted root and the
 * identity.  A .sig + .pem pair without a bundle (what node releases ship)
 * cannot be verified offline (shared/specs/sigstore.md 0, 4.12):
 * MT_ERR_RELEASE_UNVERIFIABLE.
 */
mt_err mt_rel_sigcheck(void *trust, const struct mt_rel_asset *asset, char *why, size_t why_len);

#endif
