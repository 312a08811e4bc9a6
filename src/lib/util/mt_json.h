#ifndef MT_JSON_H
#define MT_JSON_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "util/mt_err.h"

/*
 * Typed, bounded access to JSON through jansson.  Every getter fails with
 * MT_ERR_JSON_FIELD when the member is missing or of the wrong type, so
 * callers never see a NULL from jansson.
 */

/* Parse at most max bytes of JSON text (one value, nothing after it). */
MT_WUR mt_err mt_json_parse(const char *text, size_t len, size_t max, json_t **out);
MT_WUR mt_err mt_json_get_str(const json_t *obj, const char *key, const char **out,
                              size_t *out_len);
MT_WUR mt_err mt_json_get_int(const json_t *obj, const char *key, int64_t min, int64_t max,
                              int64_t *out);
MT_WUR mt_err mt_json_get_array(const json_t *obj, const char *key, size_t max, json_t **out);
MT_WUR mt_err mt_json_get_object(const json_t *obj, const char *key, json_t **out);
/* A hex string member decoding to exactly n bytes. */
MT_WUR mt_err mt_json_get_hex(const json_t *obj, const char *key, uint8_t *out, size_t n);
/* An RFC 3339 UTC date member. */
MT_WUR mt_err mt_json_get_time(const json_t *obj, const char *key, int64_t *out);
/* Set a member to a lowercase hex string of n bytes. */
MT_WUR mt_err mt_json_set_hex(json_t *obj, const char *key, const uint8_t *b, size_t n);
/* Set a member, taking the reference of value even on failure. */
MT_WUR mt_err mt_json_set_new(json_t *obj, const char *key, json_t *value);

#endif
