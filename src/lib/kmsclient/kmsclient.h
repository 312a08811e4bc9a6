#ifndef MT_KMSCLIENT_H
#define MT_KMSCLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "kmsclient/kc_http.h"
#include "kmsclient/quote_source.h"
#include "policy/policy.h"
#include "util/mt_err.h"
#include "util/mt_secret.h"

/*
 * The node's side of the KMS protocol (mero-tee-reference.md 2.3-2.8):
 * what merod does to obtain its storage key, with the reference's defects
 * fixed where that keeps the wire format.
 *
 *   transport  the URL rules of kc_http.h;
 *   Plane 1    (only with a policy) POST attest {nonceB64[, bindingB64]}:
 *              bounded fields, reportData == nonce || binding (constant
 *              time; on mismatch nothing else is sent), the quote's own
 *              report data equal too, mock quotes only when allowed, else
 *              DCAP verification (collateral from the PCCS URLs, the given
 *              trust root or Intel's), the eventLog (when present) must
 *              replay to the quote's RTMR3, then the release policy's
 *              kms_allowed_* lists (defect 13: merod reads allowed_*);
 *   Plane 2    POST challenge {peerId}: challengeId <= 512 chars, nonceB64
 *              <= 2048 chars decoding to 32 bytes; a quote over nonce ||
 *              SHA256(peerId) from the quote source; the canonical payload
 *              (1.9) signed with the identity key; POST get-key; the key
 *              must be non-empty hex of at most 4096 digits, even, and at
 *              least 32 bytes (core HEAD's rule).
 *
 * The outcome is a probe result (2.8): the stage reached, the reference's
 * code, the KMS's error tag and a detail line.  The key never appears in
 * it, nor in any log: it is decoded from the response text straight into a
 * struct mt_secret and the text is wiped.
 *
 * Call curl_global_init (mt_pccs_global_init) once before using a client.
 */

/* Response and field limits (reference 2.5, 2.6). */
#define MT_KC_MAX_ATTEST_RESPONSE (1024u * 1024u)
#define MT_KC_MAX_RESPONSE (64u * 1024u)
#define MT_KC_MAX_QUOTE_B64 131072u
#define MT_KC_MAX_REPORT_DATA_HEX 1024u
#define MT_KC_MAX_CHALLENGE_ID 512u
#define MT_KC_MAX_NONCE_B64 2048u
#define MT_KC_MAX_KEY_HEX 4096u
#define MT_KC_MIN_KEY_BYTES 32u
/* Intel PCS, used for collateral when no PCCS URL is given. */
#define MT_KC_DEFAULT_PCCS "https://api.trustedservices.intel.com"

enum mt_kc_stage {
    MT_KC_STAGE_TRANSPORT = 0,
    MT_KC_STAGE_ATTEST,
    MT_KC_STAGE_CHALLENGE,
    MT_KC_STAGE_GET_KEY,
};

/* "transport", "attest", "challenge", "get_key". */
const char *mt_kc_stage_name(enum mt_kc_stage s);

struct mt_kc_result {
    int ok;
    enum mt_kc_stage stage;
    const char *code;   /* "OK" or a KMS_* code; never NULL after mt_kc_get_key */
    char kms_error[64]; /* the KMS's error tag, "" when none */
    char details[1024]; /* "" when none */
    mt_err err;         /* the underlying error (MT_OK on success) */
};

/* {"ok":..,"stage":..,"code":..[,"kms_error":..][,"details":..]}; NULL when out of memory. */
json_t *mt_kc_result_to_json(const struct mt_kc_result *r);

struct mt_kc_opts {
    struct mt_kc_http_opts http;

    /* Plane 1, run only when policy is set. */
    const struct mt_policy *policy; /* parsed with MT_POLICY_KMS (kms_allowed_*) */
    const uint8_t *binding;         /* 32 bytes; NULL = the policy's, else the default */
    int allow_mock_kms;             /* accept a mock KMS quote (development only) */
    const char *const *pccs_urls;   /* collateral sources, in order; none = Intel PCS */
    size_t num_pccs_urls;
    const char *pccs_ca_file;      /* CA bundle for the PCCS; NULL = default store */
    const uint8_t *trust_root_der; /* NULL = the built-in Intel root */
    size_t trust_root_der_len;
    int64_t now; /* verification time; 0 = the system clock */

    /* Plane 2. */
    const struct mt_quote_source *quote_source;
    EVP_PKEY *identity; /* Ed25519 private key */
};

void mt_kc_opts_init(struct mt_kc_opts *o);

/*
 * Run the whole flow.  On success MT_OK, *key is a new secret (free with
 * mt_secret_free) and r says "OK".  On failure the error, r names the
 * stage and code, *key is untouched.  r is always filled.
 */
MT_WUR mt_err mt_kc_get_key(const struct mt_kc_opts *o, struct mt_secret *key,
                            struct mt_kc_result *r);

/*
 * Load a release policy document (kms-phala-attestation-policy.<profile>.json)
 * for Plane 1: its own "tag" and "profile" are taken as the expected ones
 * (a document without "profile" is read as the legacy generic asset), and
 * it is parsed with MT_POLICY_KMS (kms_allowed_*), then required to be
 * complete (every list non-empty).  Errors: MT_ERR_IO, MT_ERR_TOO_LARGE,
 * MT_ERR_POLICY_FORMAT, MT_ERR_CONFIG (an empty list), MT_ERR_NOMEM; why
 * says what.
 */
MT_WUR mt_err mt_kc_policy_load(const char *path, struct mt_policy **out, char *why,
                                size_t why_len);

#endif
