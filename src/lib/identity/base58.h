#ifndef MT_IDENTITY_BASE58_H
#define MT_IDENTITY_BASE58_H

#include <stddef.h>
#include <stdint.h>

#include "util/mt_err.h"

/*
 * base58btc with the Bitcoin alphabet
 * (123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz), no
 * multibase prefix, no checksum: the string form of libp2p peer IDs
 * (mero-tee-reference.md 2.7).  Leading zero bytes map one-to-one to
 * leading '1' characters.
 *
 * Both directions are bounded: the conversion is quadratic, so inputs are
 * capped well above any peer ID (a peer ID is at most 128 characters,
 * reference 1.7).
 */

/* Longest byte string mt_base58_encode accepts. */
#define MT_BASE58_MAX_BYTES 128u
/* Longest string mt_base58_decode accepts (ceil(128 * log 256 / log 58) = 175). */
#define MT_BASE58_MAX_CHARS 175u

/* 1 when ch is one of the 58 alphabet characters. */
int mt_base58_is_alphabet(char ch);

/*
 * Encode in[0..n) into out (NUL-terminated).  Errors: MT_ERR_TOO_LARGE when
 * n > MT_BASE58_MAX_BYTES or out_size cannot hold the text and its NUL,
 * MT_ERR_ARG for NULL pointers.  out is written only on success.
 */
MT_WUR mt_err mt_base58_encode(const uint8_t *in, size_t n, char *out, size_t out_size);

/*
 * Decode s[0..len) into out.  "" decodes to zero bytes.  Errors:
 * MT_ERR_INVALID_PEER_ID for a character outside the alphabet (base58 text
 * only ever reaches us as a peer ID), MT_ERR_TOO_LARGE when len >
 * MT_BASE58_MAX_CHARS or the bytes are more than MT_BASE58_MAX_BYTES or do
 * not fit out_size, MT_ERR_ARG for NULL pointers.  out and *out_len are
 * written only on success.
 */
MT_WUR mt_err mt_base58_decode(const char *s, size_t len, uint8_t *out, size_t out_size,
                               size_t *out_len);

#endif
