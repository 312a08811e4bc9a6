#ifndef MT_B64_H
#define MT_B64_H

#include <stddef.h>
#include <stdint.h>

#include "util/mt_err.h"

/*
 * Strict RFC 4648 base64, standard alphabet, with '=' padding, as Rust's
 * base64::STANDARD (mero-tee-reference.md conventions): no whitespace, no
 * URL-safe characters, no missing or non-canonical padding (the unused low
 * bits of the last symbol must be zero).
 */
MT_WUR mt_err mt_b64_decode_alloc(const char *s, size_t len, size_t max, uint8_t **out,
                                  size_t *out_len);
/* Encode into a new NUL-terminated allocation, or NULL when out of memory. */
char *mt_b64_encode_alloc(const uint8_t *in, size_t n);

#endif
