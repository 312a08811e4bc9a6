#ifndef MT_HEX_H
#define MT_HEX_H

#include <stddef.h>
#include <stdint.h>

#include "util/mt_err.h"

/*
 * Strict hexadecimal.  Decoding accepts upper and lower case digits and
 * nothing else: no prefix, no whitespace, an even number of digits.
 */

/* Decode exactly out_len bytes from a string of exactly 2 * out_len digits. */
MT_WUR mt_err mt_hex_decode_exact(const char *hex, size_t hex_len, uint8_t *out, size_t out_len);
/* Decode into a new allocation of at most max bytes; *out must be freed with mt_free. */
MT_WUR mt_err mt_hex_decode_alloc(const char *hex, size_t hex_len, size_t max, uint8_t **out,
                                  size_t *out_len);
/* Encode n bytes as lowercase hex into out, which holds at least 2 * n + 1 bytes. */
void mt_hex_encode(const uint8_t *in, size_t n, char *out);
/* Encode into a new NUL-terminated allocation, or NULL when out of memory. */
char *mt_hex_encode_alloc(const uint8_t *in, size_t n);

#endif
