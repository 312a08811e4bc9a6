#ifndef MT_JSON_DUMP_H
#define MT_JSON_DUMP_H

#include <stddef.h>

#include <jansson.h>

#include "util/mt_err.h"

/*
 * json_dumps(v, JSON_COMPACT | flags), byte for byte, without jansson's
 * per-token callbacks and buffer growth: one pass measures, one writes into
 * a single mt_malloc'd allocation of exactly the right size.  Three times
 * faster on the KMS's records, and a text that holds a key (a /get-key
 * answer) never leaves a reallocated copy behind: wipe *out and it is gone.
 *
 * flags: 0 or JSON_ENSURE_ASCII (JSON_PRESERVE_ORDER is accepted and, as in
 * jansson 2.8 and later, changes nothing: members come in insertion order).
 * v must be an object or an array, as json_dumps without JSON_ENCODE_ANY
 * wants; nesting deeper than MT_JSON_DUMP_MAX_DEPTH (jansson's parser
 * limit) is refused.  *out is NUL-terminated, *len (may be NULL) excludes
 * the NUL; free with mt_free.  MT_ERR_ARG for other flags or a v that is
 * not an object or array, MT_ERR_TOO_LARGE past the depth, MT_ERR_NOMEM.
 *
 * Parity with json_dumps is tested (test_util_json_dump) and fuzzed
 * (fuzz_json_parity).
 */
#define MT_JSON_DUMP_MAX_DEPTH 2048

MT_WUR mt_err mt_json_dumps(const json_t *v, size_t flags, char **out, size_t *len);

#endif
