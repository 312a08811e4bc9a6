#include "util/mt_json_dump.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "util/mt_alloc.h"

/*
 * The writer runs twice over the same tree: with p == NULL it only counts
 * (the measuring pass), then it fills the exact allocation.  Escapes are
 * jansson's (dump.c): \" \\ \b \f \n \r \t, other control characters as
 * \u00XX, and with JSON_ENSURE_ASCII every non-ASCII code point as \uXXXX
 * (a surrogate pair above U+FFFF), hex digits in upper case; '/' and DEL
 * are not escaped.  jansson strings are valid UTF-8 (they may hold NUL
 * bytes, dumped as \u0000).
 */
struct w {
    char *p;    /* NULL while measuring */
    size_t cap; /* bytes at p: the measured length */
    size_t n;
    int over; /* the writing pass wanted more than was measured: nothing more is written */
    int ascii;
};

static void
put(struct w *w, const void *s, size_t n)
{
    if (w->p != NULL) {
        if (w->over || n > w->cap - w->n) {
            w->over = 1;
            return;
        }
        memcpy(w->p + w->n, s, n);
    }
    w->n += n;
}

static void
put_c(struct w *w, char c)
{
    put(w, &c, 1);
}

static void
put_u(struct w *w, unsigned cp)
{
    static const char hex[] = "0123456789ABCDEF";
    char seq[6] = {'\\',        'u', hex[(cp >> 12) & 15], hex[(cp >> 8) & 15], hex[(cp >> 4) & 15],
                   hex[cp & 15]};

    put(w, seq, 6);
}

/* Length of the UTF-8 sequence starting with lead byte c (the input is valid UTF-8). */
static size_t
utf8_len(unsigned char c)
{
    return c < 0xe0 ? 2 : (c < 0xf0 ? 3 : 4);
}

static unsigned
utf8_decode(const unsigned char *s, size_t n)
{
    if (n == 2)
        return ((unsigned)(s[0] & 0x1f) << 6) | (s[1] & 0x3f);
    if (n == 3)
        return ((unsigned)(s[0] & 0x0f) << 12) | ((unsigned)(s[1] & 0x3f) << 6) | (s[2] & 0x3f);
    return ((unsigned)(s[0] & 0x07) << 18) | ((unsigned)(s[1] & 0x3f) << 12) |
           ((unsigned)(s[2] & 0x3f) << 6) | (s[3] & 0x3f);
}

static void
put_string(struct w *w, const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, run = 0, k;
    unsigned cp;

    put_c(w, '"');
    while (i < len) {
        unsigned char c = s[i];

        if (c >= 0x20 && c != '"' && c != '\\' && (c < 0x80 || !w->ascii)) {
            i++;
            continue;
        }
        put(w, s + run, i - run);
        switch (c) {
        case '"':
            put(w, "\\\"", 2);
            break;
        case '\\':
            put(w, "\\\\", 2);
            break;
        case '\b':
            put(w, "\\b", 2);
            break;
        case '\f':
            put(w, "\\f", 2);
            break;
        case '\n':
            put(w, "\\n", 2);
            break;
        case '\r':
            put(w, "\\r", 2);
            break;
        case '\t':
            put(w, "\\t", 2);
            break;
        default:
            if (c < 0x80) {
                put_u(w, c);
                break;
            }
            k = utf8_len(c);
            if (k > len - i) /* not valid UTF-8: cannot come from jansson; keep the bytes */
                k = len - i;
            cp = utf8_decode(s + i, k);
            if (cp < 0x10000) {
                put_u(w, cp);
            } else {
                cp -= 0x10000;
                put_u(w, 0xd800 | (cp >> 10));
                put_u(w, 0xdc00 | (cp & 0x3ff));
            }
            i += k;
            run = i;
            continue;
        }
        i++;
        run = i;
    }
    put(w, s + run, i - run);
    put_c(w, '"');
}

static mt_err
put_value(struct w *w, const json_t *v, unsigned depth)
{
    char num[32];
    const char *key;
    json_t *m;
    size_t i, n;
    int r;

    switch (json_typeof(v)) {
    case JSON_OBJECT:
    case JSON_ARRAY:
        MT_ENSURE(depth < MT_JSON_DUMP_MAX_DEPTH, MT_ERR_TOO_LARGE);
        if (json_is_array(v)) {
            put_c(w, '[');
            n = json_array_size(v);
            for (i = 0; i < n; i++) {
                if (i > 0)
                    put_c(w, ',');
                MT_GUARD(put_value(w, json_array_get(v, i), depth + 1));
            }
            put_c(w, ']');
            return MT_OK;
        }
        put_c(w, '{');
        i = 0;
        /* json_object_foreach takes a non-const object; nothing is modified. */
        json_object_foreach((json_t *)v, key, m)
        {
            if (i++ > 0)
                put_c(w, ',');
            put_string(w, key, strlen(key));
            put_c(w, ':');
            MT_GUARD(put_value(w, m, depth + 1));
        }
        put_c(w, '}');
        return MT_OK;
    case JSON_STRING:
        put_string(w, json_string_value(v), json_string_length(v));
        return MT_OK;
    case JSON_INTEGER:
        r = snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        MT_ENSURE(r > 0 && (size_t)r < sizeof(num), MT_ERR_INTERNAL);
        put(w, num, (size_t)r);
        return MT_OK;
    case JSON_REAL: {
        /* jansson's own formatting (precision, exponent, ".0"): rare, so borrowed. */
        char *t = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);

        MT_ENSURE(t != NULL, MT_ERR_NOMEM);
        put(w, t, strlen(t));
        mt_free_libc(t);
        return MT_OK;
    }
    case JSON_TRUE:
        put(w, "true", 4);
        return MT_OK;
    case JSON_FALSE:
        put(w, "false", 5);
        return MT_OK;
    case JSON_NULL:
        put(w, "null", 4);
        return MT_OK;
    }
    return MT_ERR_INTERNAL;
}

mt_err
mt_json_dumps(const json_t *v, size_t flags, char **out, size_t *len)
{
    struct w w;
    char *p;

    MT_ENSURE(out != NULL, MT_ERR_ARG);
    *out = NULL;
    MT_ENSURE(v != NULL && (json_is_object(v) || json_is_array(v)), MT_ERR_ARG);
    MT_ENSURE((flags & ~(size_t)(JSON_ENSURE_ASCII | JSON_PRESERVE_ORDER)) == 0, MT_ERR_ARG);
    memset(&w, 0, sizeof(w));
    w.ascii = (flags & JSON_ENSURE_ASCII) != 0;
    MT_GUARD(put_value(&w, v, 0));
    p = mt_malloc(w.n + 1);
    MT_ENSURE(p != NULL, MT_ERR_NOMEM);
    /* The tree is the caller's and unchanged: the second pass writes what the first counted. */
    w.p = p;
    w.cap = w.n;
    w.n = 0;
    if (put_value(&w, v, 0) != MT_OK || w.over || w.n != w.cap) {
        OPENSSL_cleanse(p, w.cap); /* the caller's text may be a secret */
        mt_free(p);
        return w.over ? MT_ERR_INTERNAL : MT_ERR_NOMEM;
    }
    p[w.n] = '\0';
    *out = p;
    if (len != NULL)
        *len = w.n;
    return MT_OK;
}
