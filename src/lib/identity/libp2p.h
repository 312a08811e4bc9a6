#ifndef MT_IDENTITY_LIBP2P_H
#define MT_IDENTITY_LIBP2P_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "util/mt_err.h"

/*
 * libp2p identities as merod and mero-kms-phala use them
 * (mero-tee-reference.md 1.7 step 1, 1.7 /get-key step 6, 2.7).
 *
 * Public key protobuf: field 1 (varint) key type {RSA=0, Ed25519=1,
 * Secp256k1=2, ECDSA=3}, field 2 (bytes) key data.  Only Ed25519 is
 * supported, as in the reference KMS build: `08 01 12 20 <32-byte key>`.
 *
 * Peer ID: the multihash of the protobuf encoding (identity multihash
 * `00 <len> <protobuf>` when the encoding is at most 42 bytes, else SHA2-256
 * `12 20 SHA256(protobuf)`), as base58btc text without a multibase prefix.
 * Ed25519 peer IDs are 52 characters starting "12D3KooW".
 */

/* The reference's peer-ID length limit (bytes, after trimming). */
#define MT_PEER_ID_MAX_LEN 128u
/* A buffer for any peer ID this library produces or accepts, with its NUL. */
#define MT_PEER_ID_BUF (MT_PEER_ID_MAX_LEN + 1u)

#define MT_LIBP2P_KEY_RSA 0u
#define MT_LIBP2P_KEY_ED25519 1u
#define MT_LIBP2P_KEY_SECP256K1 2u
#define MT_LIBP2P_KEY_ECDSA 3u

#define MT_ED25519_PUBKEY_LEN 32u
#define MT_ED25519_SIG_LEN 64u
/* Protobuf encoding of an Ed25519 public key. */
#define MT_LIBP2P_ED25519_PB_LEN 36u
/* Longest protobuf encoding that is inlined in the peer ID (identity multihash). */
#define MT_LIBP2P_MAX_INLINE_KEY 42u
/* Longest protobuf public key accepted anywhere (an RSA-8192 key is about 1 KiB). */
#define MT_LIBP2P_MAX_PUBKEY_PB 4096u

/*
 * Rust's str::trim(): the bounds [*start, *end) of s[0..len) without
 * leading and trailing Unicode White_Space (ASCII 09-0D and 20, U+0085,
 * U+00A0, U+1680, U+2000-U+200A, U+2028, U+2029, U+202F, U+205F, U+3000),
 * decoded as UTF-8.  A byte sequence that is not valid UTF-8 stops the
 * trimming as any other non-space character does.
 */
void mt_unicode_trim(const char *s, size_t len, size_t *start, size_t *end);

/*
 * The reference's peer-ID shape check, applied to the trimmed string
 * (reference 1.7 /challenge step 1), in its order:
 *   empty                         "peer ID must not be empty"
 *   more than 128 bytes           "peer ID exceeds max length 128"
 *   a byte outside base58btc      "peer ID contains non-base58btc characters"
 * Each fails with MT_ERR_INVALID_PEER_ID and the message in detail (always
 * NUL-terminated when detail_len > 0; "" on success).  The _n form takes a
 * length and so also sees embedded NULs (which fail the alphabet check).
 */
MT_WUR mt_err mt_peer_id_check(const char *peer_id, char *detail, size_t detail_len);
MT_WUR mt_err mt_peer_id_check_n(const char *peer_id, size_t len, char *detail, size_t detail_len);

/*
 * Decode a libp2p public-key protobuf, strictly: exactly field 1 then field
 * 2, each once; varints minimally encoded and at most 64 bits; the bytes
 * field within the input; nothing after it.  Only key type Ed25519 with 32
 * bytes that decompress to a curve point (as ed25519-dalek's
 * VerifyingKey::from_bytes requires) is accepted.  Every failure is
 * MT_ERR_INVALID_PEER_PUBLIC_KEY (MT_ERR_NOMEM, MT_ERR_CRYPTO aside).  On
 * success *out is a new EVP_PKEY (EVP_PKEY_free).
 */
MT_WUR mt_err mt_libp2p_pubkey_decode(const uint8_t *pb, size_t len, EVP_PKEY **out);

/*
 * The two halves of mt_libp2p_pubkey_decode.  parse checks the protobuf
 * alone; point_check the curve point (a BIGNUM Legendre symbol, ~14 us).
 * A verifier may parse, verify, and run point_check only when the
 * signature fails, to name the error: OpenSSL's Ed25519 verification
 * decodes the point itself (ge_frombytes_vartime) and fails for exactly the
 * encodings point_check refuses, so a key that verified a signature is a
 * point.  Both fail with MT_ERR_INVALID_PEER_PUBLIC_KEY like decode.
 */
MT_WUR mt_err mt_libp2p_pubkey_parse(const uint8_t *pb, size_t len, EVP_PKEY **out);
MT_WUR mt_err mt_libp2p_pubkey_point_check(const uint8_t *pb, size_t len);

/* The protobuf encoding of a raw Ed25519 public key. */
void mt_libp2p_ed25519_encode(const uint8_t raw[MT_ED25519_PUBKEY_LEN],
                              uint8_t out[MT_LIBP2P_ED25519_PB_LEN]);

/*
 * The protobuf encoding of the public half of an Ed25519 EVP_PKEY (public
 * or private).  MT_ERR_ARG for any other key type.
 */
MT_WUR mt_err mt_libp2p_pubkey_encode(EVP_PKEY *key, uint8_t out[MT_LIBP2P_ED25519_PB_LEN]);

/*
 * The peer ID (base58 text, NUL-terminated) of a protobuf public key, taken
 * as given (not decoded).  MT_ERR_ARG for an empty input, MT_ERR_TOO_LARGE
 * over MT_LIBP2P_MAX_PUBKEY_PB.
 */
MT_WUR mt_err mt_peer_id_from_protobuf(const uint8_t *pb, size_t len, char out[MT_PEER_ID_BUF]);

/* The peer ID of an Ed25519 EVP_PKEY (public or private); MT_ERR_ARG for other types. */
MT_WUR mt_err mt_peer_id_from_pkey(EVP_PKEY *key, char out[MT_PEER_ID_BUF]);

/*
 * The KMS's /get-key steps 6c and 6d: decode the protobuf public key
 * (MT_ERR_INVALID_PEER_PUBLIC_KEY), derive its peer ID and require it to be
 * byte-for-byte the claimed peer_id[0..peer_id_len), untrimmed
 * (MT_ERR_PEER_IDENTITY_MISMATCH).  On success *out (may be NULL when not
 * wanted) is the decoded key.
 */
MT_WUR mt_err mt_peer_id_verify_pubkey(const char *peer_id, size_t peer_id_len, const uint8_t *pb,
                                       size_t pb_len, EVP_PKEY **out);

#endif
