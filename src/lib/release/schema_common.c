#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "release/schema.h"
#include "util/mt_time.h"

/* Typed access to release documents, with the JSON path in every failure. */

mt_err
mt_rel_fail(mt_err err, char *why, size_t why_len, const char *fmt, ...)
{
    va_list ap;

    if (why != NULL && why_len > 0) {
        va_start(ap, fmt);
        vsnprintf(why, why_len, fmt, ap);
        va_end(ap);
    }
    return err;
}

#define SCHEMA MT_ERR_RELEASE_SCHEMA
#define DOT(where) ((where)[0] != '\0' ? "." : "")

int
mt_rel_is_lower_hex(const char *s, size_t len, size_t want)
{
    size_t i;

    if (len != want)
        return 0;
    for (i = 0; i < len; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    }
    return 1;
}

mt_err
mt_rel_get_str(const json_t *obj, const char *where, const char *key, const char **out, char *why,
               size_t why_len)
{
    json_t *v = json_object_get(obj, key);

    if (v == NULL)
        return mt_rel_fail(SCHEMA, why, why_len, "%s%s%s: missing", where, DOT(where), key);
    if (!json_is_string(v))
        return mt_rel_fail(SCHEMA, why, why_len, "%s%s%s: not a string", where, DOT(where), key);
    if (strlen(json_string_value(v)) != json_string_length(v))
        return mt_rel_fail(SCHEMA, why, why_len, "%s%s%s: contains NUL", where, DOT(where), key);
    *out = json_string_value(v);
    return MT_OK;
}

mt_err
mt_rel_get_nonempty(const json_t *obj, const char *where, const char *key, const char **out,
                    char *why, size_t why_len)
{
    const char *s;

    MT_GUARD(mt_rel_get_str(obj, where, key, &s, why, why_len));
    if (s[0] == '\0')
        return mt_rel_fail(SCHEMA, why, why_len, "%s%s%s: empty", where, DOT(where), key);
    *out = s;
    return MT_OK;
}

mt_err
mt_rel_want_str(const json_t *obj, const char *where, const char *key, const char *want, char *why,
                size_t why_len)
{
    const char *s;

    MT_GUARD(mt_rel_get_str(obj, where, key, &s, why, why_len));
    if (strcmp(s, want) != 0)
        return mt_rel_fail(SCHEMA, why, why_len, "%s%s%s: \"%.80s\", want \"%s\"", where,
                           DOT(where), key, s, want);
    return MT_OK;
}

mt_err
mt_rel_want_int(const json_t *obj, const char *where, const char *key, json_int_t want, char *why,
                size_t why_len)
{
    json_t *v = json_object_get(obj, key);

    if (!json_is_integer(v) || json_integer_value(v) != want)
        return mt_rel_fail(SCHEMA, why, why_len, "%s%s%s: want the integer %lld", where, DOT(where),
                           key, (long long)want);
    return MT_OK;
}

mt_err
mt_rel_get_obj(const json_t *obj, const char *where, const char *key, json_t **out, char *why,
               size_t why_len)
{
    json_t *v = json_object_get(obj, key);

    if (!json_is_object(v))
        return mt_rel_fail(SCHEMA, why, why_len, "%s%s%s: %s", where, DOT(where), key,
                           v == NULL ? "missing" : "not an object");
    *out = v;
    return MT_OK;
}

mt_err
mt_rel_want_hex(const json_t *obj, const char *where, const char *key, size_t hex_len, char *why,
                size_t why_len)
{
    const char *s;

    MT_GUARD(mt_rel_get_str(obj, where, key, &s, why, why_len));
    if (!mt_rel_is_lower_hex(s, strlen(s), hex_len))
        return mt_rel_fail(SCHEMA, why, why_len, "%s%s%s: want %zu lowercase hex digits", where,
                           DOT(where), key, hex_len);
    return MT_OK;
}

mt_err
mt_rel_want_digest(const json_t *obj, const char *where, const char *key, char *why, size_t why_len)
{
    const char *s;

    MT_GUARD(mt_rel_get_str(obj, where, key, &s, why, why_len));
    if (strncmp(s, "sha256:", 7) != 0 || !mt_rel_is_lower_hex(s + 7, strlen(s + 7), 64))
        return mt_rel_fail(SCHEMA, why, why_len, "%s%s%s: want sha256:<64 lowercase hex>", where,
                           DOT(where), key);
    return MT_OK;
}

mt_err
mt_rel_want_time(const json_t *obj, const char *where, const char *key, char *why, size_t why_len)
{
    const char *s;
    int64_t t;

    MT_GUARD(mt_rel_get_str(obj, where, key, &s, why, why_len));
    if (mt_rfc3339_parse(s, &t) != MT_OK)
        return mt_rel_fail(SCHEMA, why, why_len, "%s%s%s: not an RFC 3339 time", where, DOT(where),
                           key);
    return MT_OK;
}

mt_err
mt_rel_want_commit(const json_t *obj, const char *where, const char *key, char *why, size_t why_len)
{
    const char *s;
    size_t n;

    MT_GUARD(mt_rel_get_str(obj, where, key, &s, why, why_len));
    n = strlen(s);
    if (!mt_rel_is_lower_hex(s, n, 40) && !mt_rel_is_lower_hex(s, n, 64))
        return mt_rel_fail(SCHEMA, why, why_len, "%s%s%s: not a git commit (40 or 64 hex)", where,
                           DOT(where), key);
    return MT_OK;
}

static mt_err
get_list(const json_t *obj, const char *where, const char *key, int allow_empty, json_t **out,
         char *why, size_t why_len)
{
    json_t *a = json_object_get(obj, key);
    size_t i, j;

    if (!json_is_array(a))
        return mt_rel_fail(SCHEMA, why, why_len, "%s%s%s: %s", where, DOT(where), key,
                           a == NULL ? "missing" : "not an array");
    if (json_array_size(a) == 0 && !allow_empty)
        return mt_rel_fail(SCHEMA, why, why_len, "%s%s%s: empty", where, DOT(where), key);
    if (json_array_size(a) > MT_REL_MAX_LIST)
        return mt_rel_fail(SCHEMA, why, why_len, "%s%s%s: more than %u entries", where, DOT(where),
                           key, MT_REL_MAX_LIST);
    for (i = 0; i < json_array_size(a); i++) {
        json_t *v = json_array_get(a, i);

        if (!json_is_string(v))
            return mt_rel_fail(SCHEMA, why, why_len, "%s%s%s[%zu]: not a string", where, DOT(where),
                               key, i);
        for (j = 0; j < i; j++) {
            if (json_equal(v, json_array_get(a, j)))
                return mt_rel_fail(SCHEMA, why, why_len, "%s%s%s[%zu]: duplicate", where,
                                   DOT(where), key, i);
        }
    }
    *out = a;
    return MT_OK;
}

mt_err
mt_rel_want_meas_list(const json_t *obj, const char *where, const char *key, int allow_empty,
                      json_t **out, char *why, size_t why_len)
{
    json_t *a;
    size_t i;

    MT_GUARD(get_list(obj, where, key, allow_empty, &a, why, why_len));
    for (i = 0; i < json_array_size(a); i++) {
        json_t *v = json_array_get(a, i);

        if (!mt_rel_is_lower_hex(json_string_value(v), json_string_length(v), 96))
            return mt_rel_fail(SCHEMA, why, why_len,
                               "%s%s%s[%zu]: not a measurement (96 lowercase hex)", where,
                               DOT(where), key, i);
    }
    if (out != NULL)
        *out = a;
    return MT_OK;
}

mt_err
mt_rel_want_tcb_list(const json_t *obj, const char *where, const char *key, char *why,
                     size_t why_len)
{
    json_t *a;
    size_t i, k;

    MT_GUARD(get_list(obj, where, key, 0, &a, why, why_len));
    for (i = 0; i < json_array_size(a); i++) {
        const char *s = json_string_value(json_array_get(a, i));
        size_t n = json_string_length(json_array_get(a, i));

        if (n == 0 || n > 64)
            return mt_rel_fail(SCHEMA, why, why_len, "%s%s%s[%zu]: bad TCB status", where,
                               DOT(where), key, i);
        for (k = 0; k < n; k++) {
            if (!(s[k] >= 'a' && s[k] <= 'z'))
                return mt_rel_fail(SCHEMA, why, why_len,
                                   "%s%s%s[%zu]: TCB status not lowercase letters", where,
                                   DOT(where), key, i);
        }
    }
    return MT_OK;
}

int
mt_rel_lists_overlap(const json_t *a, const json_t *b, const char **shared)
{
    size_t i, j;

    *shared = NULL;
    for (i = 0; i < json_array_size(a); i++) {
        for (j = 0; j < json_array_size(b); j++) {
            if (json_is_string(json_array_get(a, i)) &&
                json_equal(json_array_get(a, i), json_array_get(b, j))) {
                *shared = json_string_value(json_array_get(a, i));
                return 1;
            }
        }
    }
    return 0;
}
