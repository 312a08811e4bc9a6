#ifndef MT_SIGSTORE_H
#define MT_SIGSTORE_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "util/mt_err.h"

/*
 * Offline Sigstore blob verification (shared/specs/sigstore.md, phases 1
 * and 2): protobuf bundles v0.1-v0.3 and the legacy cosign bundle, checked
 * against a pinned trusted_root.json, with Rekor v1 and v2 entries, RFC 3161
 * timestamps and DSSE in-toto envelopes; and key-based cosign signatures
 * (section 5).
 *
 * This header is the contract the release tool (src/lib/release) builds on;
 * the functions below keep their signatures.  Everything is pure apart from
 * reading the artifact file when the artifact is given by path: no network,
 * no clock (times come from verified log entries and timestamps).
 */

/* A parsed trusted_root.json (section 3). */
struct mt_sigstore_trust;

/* Bound on a trusted root or bundle document. */
#define MT_SIGSTORE_MAX_DOC (1024u * 1024u)

MT_WUR mt_err mt_sigstore_trust_parse(const uint8_t *json, size_t len,
                                      struct mt_sigstore_trust **out);
/* Reads and parses a file (at most MT_SIGSTORE_MAX_DOC bytes). */
MT_WUR mt_err mt_sigstore_trust_load(const char *path, struct mt_sigstore_trust **out);
void mt_sigstore_trust_free(struct mt_sigstore_trust *trust);

/*
 * What the signature must prove (section 4.9, 5.2).  Keyless mode needs
 * identity (or identity_regexp) and issuer (or issuer_regexp); key mode is
 * selected by key != NULL and ignores the identity fields.  The gh_* pins are
 * optional equalities on the Fulcio extensions (NULL: not checked).
 */
struct mt_sigstore_policy {
    const char *identity;        /* exact SAN */
    const char *issuer;          /* exact OIDC issuer */
    const char *identity_regexp; /* POSIX ERE, unanchored as RE2 MatchString */
    const char *issuer_regexp;
    const char *gh_workflow_trigger;    /* 1.3.6.1.4.1.57264.1.2 */
    const char *gh_workflow_sha;        /* .3 */
    const char *gh_workflow_name;       /* .4 */
    const char *gh_workflow_repository; /* .5 */
    const char *gh_workflow_ref;        /* .6 */
    EVP_PKEY *key;                      /* key-based mode when non-NULL (not owned) */
};

/*
 * The signed artifact: exactly one of path (streamed), data/len (in memory)
 * or sha256 (digest-only mode, --digest sha256:HEX).
 */
struct mt_sigstore_artifact {
    const char *path;
    const uint8_t *data;
    size_t len;
    const uint8_t *sha256; /* 32 bytes */
};

/* What a verification established; filled as far as it got. */
struct mt_sigstore_result {
    char identity[512];   /* SAN of the signing certificate ("" in key mode) */
    char issuer[512];     /* OIDC issuer ("" in key mode) */
    int64_t signing_time; /* Unix seconds: a SET-verified integratedTime, else a TSA genTime; -1 */
    int64_t log_index;    /* global Rekor log index; -1: no log entry */
    char log_id_hex[65];  /* Rekor log ID; "" without one */
    char detail[256];     /* the failed check in words ("" on success) */
};

/*
 * Verify a bundle (protobuf v0.1-v0.3 or legacy cosign JSON) over the
 * artifact.  trust may be NULL only in key mode for a bundle without log
 * entries.  MT_OK when verified; otherwise the code names the first check
 * that failed (rows "sigstore_*" of mt_err_table.h) and res->detail says
 * what was seen.  Material still not verified (the deprecated intoto kind,
 * dsse 0.0.2, Rekor v2 entries of keys other than P-256 and RSA, non-in-toto
 * DSSE payloads) is refused as sigstore_unsupported, never accepted.
 */
MT_WUR mt_err mt_sigstore_verify_bundle(const struct mt_sigstore_trust *trust,
                                        const struct mt_sigstore_policy *policy,
                                        const struct mt_sigstore_artifact *artifact,
                                        const uint8_t *bundle, size_t bundle_len,
                                        struct mt_sigstore_result *res);

/*
 * Key-based detached signature (cosign sign-blob --key, .sig file): sig is
 * base64 of the DER signature (a trailing newline allowed) or raw DER.
 */
MT_WUR mt_err mt_sigstore_verify_detached(EVP_PKEY *key,
                                          const struct mt_sigstore_artifact *artifact,
                                          const uint8_t *sig, size_t sig_len,
                                          struct mt_sigstore_result *res);

/* Load a PEM "PUBLIC KEY" file (cosign.pub): ECDSA P-256/P-384/P-521 or RSA. */
MT_WUR mt_err mt_sigstore_key_load(const char *path, EVP_PKEY **out);

#endif
