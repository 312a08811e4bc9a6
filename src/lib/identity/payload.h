#ifndef MT_IDENTITY_PAYLOAD_H
#define MT_IDENTITY_PAYLOAD_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "util/mt_err.h"

/*
 * The canonical signature payload a node signs for /get-key and the KMS
 * verifies (mero-tee-reference.md 1.9): compact JSON, no whitespace, no
 * trailing newline,
 *
 *   {"challengeId":"<id>","challengeNonceHex":"<64 hex>",
 *    "quoteHashHex":"<64 hex>","peerId":"<peer>"}
 *
 * in this (insertion) order, which is what both reference builds produce
 * (serde_json with preserve_order).  The alphabetical variant
 * (challengeId, challengeNonceHex, peerId, quoteHashHex) is what a build
 * without preserve_order would produce; the KMS accepts either, a node
 * emits insertion order.
 *
 * Strings are escaped as serde_json does: '"' and '\' with a backslash,
 * 0x08 \b, 0x09 \t, 0x0A \n, 0x0C \f, 0x0D \r, every other byte below 0x20
 * as \u00XX (lowercase hex); '/', DEL and non-ASCII bytes are copied.
 */

#define MT_KMS_NONCE_LEN 32u
/* Longest challenge ID or peer ID accepted here (bytes, before escaping). */
#define MT_KMS_PAYLOAD_MAX_FIELD 65536u

/*
 * Build the payload into a new NUL-terminated allocation (*out, mt_free)
 * of *len bytes (len may be NULL).  alphabetical = 0 for insertion order.
 * Errors: MT_ERR_ARG (NULL inputs), MT_ERR_TOO_LARGE (a field over
 * MT_KMS_PAYLOAD_MAX_FIELD), MT_ERR_NOMEM.
 */
MT_WUR mt_err mt_kms_payload(const char *challenge_id, const uint8_t nonce[32],
                             const uint8_t quote_sha256[32], const char *peer_id, int alphabetical,
                             char **out, size_t *len);

/*
 * The KMS's /get-key step 6e: verify sig over the insertion-order payload
 * and, failing that, over the alphabetical one.  MT_OK with *alphabetical
 * (may be NULL) saying which matched, or MT_ERR_INVALID_SIGNATURE (also for
 * a signature that is not 64 bytes); MT_ERR_ARG, MT_ERR_TOO_LARGE,
 * MT_ERR_NOMEM as for mt_kms_payload.
 */
MT_WUR mt_err mt_kms_payload_verify(const char *challenge_id, const uint8_t nonce[32],
                                    const uint8_t quote_sha256[32], const char *peer_id,
                                    EVP_PKEY *pub, const uint8_t *sig, size_t sig_len,
                                    int *alphabetical);

/* SHA256("mero-kms-phala-attest-v1"): the default /attest binding (reference 1.7, 1.10). */
extern const uint8_t mt_kms_default_binding[32];

#endif
