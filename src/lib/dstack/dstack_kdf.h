#ifndef MT_DSTACK_KDF_H
#define MT_DSTACK_KDF_H

#include <stddef.h>
#include <stdint.h>

#include "util/mt_err.h"
#include "util/mt_secret.h"

/*
 * dstack GetKey key derivation (dstack.md section 2), for the TEE simulator
 * and for tests that check what a guest agent returned:
 *
 *   key = HKDF-SHA256(IKM = app_key, salt = "RATLS", info = path, L = 32)
 *
 * The algorithm does not change the key bytes; it only decides which public
 * key the signature chain commits to (secp256k1: the 33-byte compressed SEC1
 * point of key as a scalar; ed25519: the RFC 8032 public key of key as a seed).
 *
 * GAP: GetKey's signature_chain[0] is a recoverable secp256k1 signature over
 * Keccak-256(purpose ":" hex(pubkey)).  OpenSSL 3.0 has SHA-3 and KMAC but
 * not Keccak-256 (the pre-standard padding; EVP "KECCAK-256" arrived in
 * OpenSSL 3.2), and this project does not carry its own Keccak.  So the
 * chain can neither be produced nor checked here; mt_dstack_signed_message
 * builds the exact message for the day a Keccak-256 is available, and the
 * fixtures (sim-getkey-vectors.json) hold the expected digests and
 * signatures for that day.
 */

enum mt_dstack_alg {
    MT_DSTACK_SECP256K1 = 0,
    MT_DSTACK_ED25519,
};

/* Largest public key any algorithm produces (compressed secp256k1). */
#define MT_DSTACK_MAX_PUBKEY 33u

/*
 * Derive the 32-byte key for path (path_len bytes, any content; empty is
 * allowed) into a new secret.  Errors: MT_ERR_ARG (NULL app_key or out, NULL
 * path with path_len > 0), MT_ERR_NOMEM, MT_ERR_CRYPTO.  *out is written
 * only on success.
 */
MT_WUR mt_err mt_dstack_derive_key(const uint8_t app_key[32], const char *path, size_t path_len,
                                   struct mt_secret *out);

/*
 * The GetKey "algorithm" field as the guest agent reads it: "" (or NULL),
 * "secp256k1" and "k256" are secp256k1, "ed25519" is ed25519; anything else
 * (other case included) is MT_ERR_ARG, where the agent answers 400
 * "Unsupported algorithm".
 */
MT_WUR mt_err mt_dstack_alg_parse(const char *s, enum mt_dstack_alg *out);

/*
 * The public key of a derived key: secp256k1 -> 33-byte compressed SEC1
 * point, ed25519 -> 32-byte raw public key; *out_len says which.  out has
 * room for MT_DSTACK_MAX_PUBKEY bytes.  Errors: MT_ERR_ARG (NULL argument,
 * unknown alg), MT_ERR_CRYPTO (secp256k1 key 0 or >= the group order, which
 * the agent also refuses; probability about 2^-128), MT_ERR_NOMEM.
 */
MT_WUR mt_err mt_dstack_derived_pubkey(const uint8_t key[32], enum mt_dstack_alg alg,
                                       uint8_t out[MT_DSTACK_MAX_PUBKEY], size_t *out_len);

/*
 * The message signature_chain[0] signs before hashing:
 *   purpose ":" lowercase-hex(pubkey)
 * (purpose may be NULL or empty).  On success *out is a new NUL-terminated
 * string (free with mt_free) and *out_len its length.  Errors: MT_ERR_ARG,
 * MT_ERR_TOO_LARGE (pub_len over MT_DSTACK_MAX_PUBKEY), MT_ERR_NOMEM.
 */
MT_WUR mt_err mt_dstack_signed_message(const char *purpose, const uint8_t *pub, size_t pub_len,
                                       char **out, size_t *out_len);

#endif
