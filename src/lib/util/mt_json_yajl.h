#ifndef MT_JSON_YAJL_H
#define MT_JSON_YAJL_H

#include <stddef.h>

#include <jansson.h>

#include "util/mt_err.h"

/*
 * Parse JSON text with yajl into the jansson tree that
 * json_loadb(text, len, JSON_REJECT_DUPLICATES) returns, for text without a
 * backslash (mt_json_parse dispatches; mt_json_yajl.c says why).
 * MT_ERR_JSON when jansson would refuse the text, MT_ERR_NOMEM when out of
 * memory; *out is set only on success.
 */
MT_WUR mt_err mt_json_parse_yajl(const char *text, size_t len, json_t **out);

#endif
