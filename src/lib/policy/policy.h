#ifndef MT_POLICY_H
#define MT_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "util/mt_err.h"

/*
 * The attestation policy of mero-kms-phala (mero-tee-reference.md 1.4) and
 * its evaluation (1.7 /get-key step 7d).  Parsing and evaluation are pure:
 * no I/O, no globals, no clock.  Fetching a release document lives in
 * policy_fetch.c, below the same header.
 *
 * One model serves both directions of the protocol:
 *   MT_POLICY_NODE  what the KMS enforces on nodes: node_allowed_* first,
 *                   then allowed_* (the reference KMS);
 *   MT_POLICY_KMS   what a node enforces on the KMS (Plane 1, 2.5):
 *                   kms_allowed_* only.  The reference merod reads
 *                   allowed_* here, which release documents no longer carry
 *                   (defects 13 and 14); we read the keys the release writes.
 */

#define MT_MEAS_LEN 48
/* A release policy document; real ones are about 4 KiB. */
#define MT_POLICY_MAX_DOC (256u * 1024u)

/* Known image profiles (1.3), exact after trim + lowercase. */
#define MT_PROFILE_DEBUG "debug"
#define MT_PROFILE_DEBUG_RO "debug-read-only"
#define MT_PROFILE_LOCKED_RO "locked-read-only"
#define MT_PROFILE_MAX 32

struct mt_meas_list {
    uint8_t (*v)[MT_MEAS_LEN]; /* owned array of n measurements */
    size_t n;
};

enum mt_policy_subject {
    MT_POLICY_NODE = 0, /* KMS side: node_allowed_* then allowed_* */
    MT_POLICY_KMS = 1,  /* node side: kms_allowed_* */
};

struct mt_policy {
    int enforce;         /* 1: TCB + measurement checks apply */
    char **tcb_statuses; /* owned, ASCII-lowercased, never empty strings */
    size_t num_tcb_statuses;
    struct mt_meas_list mrtd, rtmr[4];
    char tag[64];        /* the document's tag ("" for an env policy) */
    char profile[32];    /* the document's profile ("" when absent or env policy) */
    uint8_t binding[32]; /* kms.default_binding_b64 (MT_POLICY_KMS documents only) */
    int has_binding;
};

/*
 * Trim ASCII whitespace, strip leading "0x" (repeatedly, lowercase x only,
 * as the reference), lowercase, require exactly 96 hex digits, decode.
 * MT_ERR_POLICY_FORMAT otherwise; out is written only on success.
 */
MT_WUR mt_err mt_measurement_normalize(const char *s, uint8_t out[MT_MEAS_LEN]);
/* The same on s[0..len) (no NUL needed); an embedded NUL is refused. */
MT_WUR mt_err mt_measurement_normalize_n(const char *s, size_t len, uint8_t out[MT_MEAS_LEN]);

/*
 * Trim + ASCII-lowercase s[0..len) and require one of the known profiles;
 * out (MT_PROFILE_MAX bytes) receives the canonical name.
 * MT_ERR_POLICY_FORMAT for anything else.
 */
MT_WUR mt_err mt_profile_normalize(const char *s, size_t len, char out[MT_PROFILE_MAX]);

/*
 * Parse a release policy document (1.4 "Policy JSON parse"):
 *   - the root is a JSON object (UTF-8; duplicate keys are refused, a
 *     deliberate deviation: serde_json would keep the last one silently);
 *   - "tag" is a string equal to expected_tag (a "mero-kms-v" prefix on
 *     expected_tag is ignored);
 *   - "role": "kms"; absent only when legacy and expected_profile is
 *     locked-read-only; anything else (another string, a non-string) fails;
 *   - "profile": a known profile equal to expected_profile; absent under the
 *     same legacy rule;
 *   - "policy" is an object;
 *   - subject NODE: TCB list = policy.node_allowed_tcb_statuses if it is an
 *     array, else policy.allowed_tcb_statuses if an array, else
 *     ["uptodate"]; non-string entries dropped, entries trimmed, lowercased,
 *     empties dropped.  For X in mrtd, rtmr0..3: node_allowed_X when the key
 *     is present (even []: no fallback), else allowed_X, else []; the chosen
 *     value must be an array of strings that normalise to 48 bytes.
 *     Everything else (kms_allowed_*, kms, measurement_markers) is ignored.
 *   - subject KMS: the same rules on kms_allowed_tcb_statuses and
 *     kms_allowed_X only (absent list -> ["uptodate"] / []), with merod's
 *     two leniencies (2.4): a TCB list that ends up empty means
 *     ["uptodate"], and blank measurement entries are skipped.
 *     kms.default_binding_b64, when present, must be base64 of exactly 32
 *     bytes (has_binding); requiring it is the caller's choice.
 * enforce is 1 in the result; the caller applies ENFORCE_MEASUREMENT_POLICY.
 * Errors: MT_ERR_POLICY_FORMAT (why says what and where), MT_ERR_TOO_LARGE
 * (over MT_POLICY_MAX_DOC), MT_ERR_ARG, MT_ERR_NOMEM.  *out only on success.
 */
MT_WUR mt_err mt_policy_parse_release(const char *json, size_t len, const char *expected_tag,
                                      const char *expected_profile, int legacy,
                                      enum mt_policy_subject subject, struct mt_policy **out,
                                      char *why, size_t why_len);

/*
 * An enforcing policy must have a non-empty TCB list and all five
 * allowlists (1.4), checked in the order tcb, mrtd, rtmr0..3.
 * MT_ERR_CONFIG with why naming the first empty one as allowed_<label>;
 * MT_OK for a complete or non-enforcing policy.
 */
MT_WUR mt_err mt_policy_require_complete(const struct mt_policy *p, char *why, size_t why_len);

/*
 * Evaluate a verified quote (1.7 /get-key step 7d, messages verbatim):
 *   not enforcing                 -> MT_OK
 *   tcb_status NULL (absent)      -> MT_ERR_TCB_STATUS_REJECTED
 *                                    "Quote verification did not provide a TCB status"
 *   lowercase(tcb) not listed     -> MT_ERR_TCB_STATUS_REJECTED
 *                                    "TCB status '<as given>' is not allowed. Allowed values: a, b"
 *   then MRTD, RTMR0..RTMR3 in order:
 *     empty allowlist             -> MT_ERR_MEASUREMENT_REJECTED "<LABEL> allowlist is empty"
 *     value not listed            -> MT_ERR_MEASUREMENT_REJECTED "<LABEL> '<hex>' is not in
 * allowlist" TCB matching is ASCII case-insensitive; measurements compare as bytes. detail (may be
 * NULL) is "" on MT_OK.
 */
MT_WUR mt_err mt_policy_check(const struct mt_policy *p, const char *tcb_status,
                              const uint8_t mrtd[MT_MEAS_LEN], const uint8_t rtmr[4][MT_MEAS_LEN],
                              char *detail, size_t detail_len);

/* enforce = 1, TCB ["uptodate"], every allowlist empty, no tag/profile/binding. */
MT_WUR mt_err mt_policy_new_empty(struct mt_policy **out);
/* Drop every TCB status (an explicitly empty list). */
void mt_policy_clear_tcb(struct mt_policy *p);
/* Append a status after trim + ASCII-lowercase; an empty result is dropped (MT_OK). */
MT_WUR mt_err mt_policy_add_tcb(struct mt_policy *p, const char *s, size_t len);
/* Append one measurement. */
MT_WUR mt_err mt_meas_list_add(struct mt_meas_list *l, const uint8_t m[MT_MEAS_LEN]);
/* NULL-safe. */
void mt_policy_free(struct mt_policy *p);

/* The labels used in messages: "MRTD", "RTMR0".."RTMR3" (i = 0..4). */
const char *mt_policy_meas_label(size_t i);

/*
 * Release fetch (1.4 "Release fetch"), in policy_fetch.c.
 *
 * Candidates, in the reference's order:
 *   1. <base>/mero-kms-v<version>/kms-phala-attestation-policy.<profile>.json
 *   2. <base>/mero-kms-v<version>/kms-phala-attestation-policy.json  (legacy)
 * or, with dir set, <dir>/kms-phala-attestation-policy.<profile>.json then
 * <dir>/kms-phala-attestation-policy.json, where a missing file counts as a
 * 404.  Per candidate: transport error or 404 -> remember, try the next;
 * any other non-2xx -> stop; 2xx -> the body (at most MT_POLICY_MAX_DOC)
 * must match the pin when one is set (mismatch -> stop, no fallback), then
 * it is parsed with legacy = (candidate 2) and the result, good or bad, is
 * final.
 *
 * HTTP: libcurl, connect timeout 10 s, total 30 s, User-Agent mero-kms/1.0,
 * http and https for the first request, redirects followed only to https and
 * at most 5 hops (GitHub sends release downloads to its CDN).
 */
#define MT_POLICY_DEFAULT_BASE_URL "https://github.com/calimero-network/mero-tee/releases/download"
#define MT_POLICY_ASSET_PREFIX "kms-phala-attestation-policy"
#define MT_POLICY_TAG_PREFIX "mero-kms-v"
#define MT_POLICY_CONNECT_TIMEOUT_MS 10000L
#define MT_POLICY_TIMEOUT_MS 30000L
#define MT_POLICY_MAX_REDIRECTS 5L
#define MT_POLICY_USER_AGENT "mero-kms/1.0"
#define MT_POLICY_MAX_URL 2048u

struct mt_policy_source {
    const char *base_url; /* release download base; used when dir is NULL */
    const char *dir;      /* local directory of release assets; wins when set */
    const char *version;  /* "2.3.40" (a "mero-kms-v" prefix is stripped) */
    const char *profile;  /* a known profile */
    const uint8_t *pin;   /* SHA-256 of the expected document, or NULL */
    enum mt_policy_subject subject;
    long connect_timeout_ms; /* 0 = MT_POLICY_CONNECT_TIMEOUT_MS */
    long timeout_ms;         /* 0 = MT_POLICY_TIMEOUT_MS */
    const char *ca_file;     /* PEM CA bundle, NULL = libcurl's default */
};

/*
 * Candidate i (0 = profile asset, 1 = generic legacy asset) as a URL (or
 * path, with dir).  MT_ERR_ARG for a bad source or a result over out_len.
 */
MT_WUR mt_err mt_policy_candidate(const struct mt_policy_source *src, int i, char *out,
                                  size_t out_len);

/*
 * Fetch, pin-check and parse the release policy.  On failure why holds one
 * line naming the candidate and the cause (the last candidate's when all
 * were skipped).  Errors: MT_ERR_POLICY_FETCH (every candidate 404 or
 * unreachable; another non-2xx status; a local read error),
 * MT_ERR_POLICY_PIN, MT_ERR_TOO_LARGE (body over MT_POLICY_MAX_DOC),
 * MT_ERR_POLICY_FORMAT, MT_ERR_ARG, MT_ERR_NOMEM, MT_ERR_INTERNAL.
 *
 * The pin is checked against whichever candidate was read, the generic one
 * included, exactly like the reference (defect 11): an operator who pins the
 * profile asset's hash gets a pin mismatch, not a silent fallback, when
 * only the generic asset exists.
 */
MT_WUR mt_err mt_policy_fetch_release(const struct mt_policy_source *src, struct mt_policy **out,
                                      char *why, size_t why_len);

#endif
