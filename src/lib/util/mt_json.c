#include "util/mt_json.h"

#include <string.h>

#include "util/mt_alloc.h"
#include "util/mt_hex.h"
#include "util/mt_json_yajl.h"
#include "util/mt_time.h"

mt_err
mt_json_parse(const char *text, size_t len, size_t max, json_t **out)
{
    json_error_t jerr;
    json_t *j;

    MT_ENSURE(len <= max, MT_ERR_TOO_LARGE);
    MT_ENSURE(len > 0, MT_ERR_JSON);
    /* Never JSON, yet jansson lets one through after a number ("[1\0]"). */
    MT_ENSURE(memchr(text, '\0', len) == NULL, MT_ERR_JSON);
    /* Escape-free text (nearly all of it) takes the fast path; see mt_json_yajl.c. */
    if (memchr(text, '\\', len) == NULL)
        return mt_json_parse_yajl(text, len, out);
    /* JSON_REJECT_DUPLICATES: a duplicate key is an ambiguity an attacker can use. */
    j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    MT_ENSURE(j != NULL, MT_ERR_JSON);
    *out = j;
    return MT_OK;
}

mt_err
mt_json_get_str(const json_t *obj, const char *key, const char **out, size_t *out_len)
{
    json_t *v = json_object_get(obj, key);

    MT_ENSURE(json_is_string(v), MT_ERR_JSON_FIELD);
    *out = json_string_value(v);
    if (out_len != NULL)
        *out_len = json_string_length(v);
    return MT_OK;
}

mt_err
mt_json_get_int(const json_t *obj, const char *key, int64_t min, int64_t max, int64_t *out)
{
    json_t *v = json_object_get(obj, key);
    json_int_t i;

    MT_ENSURE(json_is_integer(v), MT_ERR_JSON_FIELD);
    i = json_integer_value(v);
    MT_ENSURE(i >= min && i <= max, MT_ERR_JSON_FIELD);
    *out = (int64_t)i;
    return MT_OK;
}

mt_err
mt_json_get_array(const json_t *obj, const char *key, size_t max, json_t **out)
{
    json_t *v = json_object_get(obj, key);

    MT_ENSURE(json_is_array(v), MT_ERR_JSON_FIELD);
    MT_ENSURE(json_array_size(v) <= max, MT_ERR_TOO_LARGE);
    *out = v;
    return MT_OK;
}

mt_err
mt_json_get_object(const json_t *obj, const char *key, json_t **out)
{
    json_t *v = json_object_get(obj, key);

    MT_ENSURE(json_is_object(v), MT_ERR_JSON_FIELD);
    *out = v;
    return MT_OK;
}

mt_err
mt_json_get_hex(const json_t *obj, const char *key, uint8_t *out, size_t n)
{
    const char *s;
    size_t len;

    MT_GUARD(mt_json_get_str(obj, key, &s, &len));
    MT_ENSURE(mt_hex_decode_exact(s, len, out, n) == MT_OK, MT_ERR_JSON_FIELD);
    return MT_OK;
}

mt_err
mt_json_get_time(const json_t *obj, const char *key, int64_t *out)
{
    const char *s;

    MT_GUARD(mt_json_get_str(obj, key, &s, NULL));
    MT_ENSURE(mt_rfc3339_parse(s, out) == MT_OK, MT_ERR_JSON_FIELD);
    return MT_OK;
}

mt_err
mt_json_set_new(json_t *obj, const char *key, json_t *value)
{
    MT_ENSURE(value != NULL, MT_ERR_NOMEM);
    MT_ENSURE(json_object_set_new(obj, key, value) == 0, MT_ERR_NOMEM);
    return MT_OK;
}

mt_err
mt_json_set_hex(json_t *obj, const char *key, const uint8_t *b, size_t n)
{
    char *s = mt_hex_encode_alloc(b, n);
    mt_err e;

    MT_ENSURE(s != NULL, MT_ERR_NOMEM);
    e = mt_json_set_new(obj, key, json_string(s));
    mt_free(s);
    return e;
}
