#include "util/mt_json_yajl.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>

#include "util/mt_alloc.h"

/*
 * jansson's parser costs about 10 ns per input byte (it checks and copies a
 * byte at a time); a /get-key body carries a ~9 KB base64 quote, so parsing
 * alone took ~100 us of a ~400 us request.  yajl's lexer scans strings with a
 * lookup table at under 1 ns per byte.  This file drives yajl's event parser
 * and builds the same jansson tree json_loadb(JSON_REJECT_DUPLICATES) would,
 * so every caller keeps its jansson accessors.
 *
 * Parity with jansson is what makes the swap safe, and the differential fuzz
 * target (fuzz_json_parity) checks it on every input this path accepts:
 *   - top level an object or an array (json_loadb without JSON_DECODE_ANY);
 *   - duplicate keys refused; NUL in a key or string refused;
 *   - strings and keys must be valid UTF-8 without encoded surrogates or
 *     overlong forms: jansson's own constructors (json_stringn,
 *     json_object_setn_new) check that, yajl only checks the byte structure;
 *   - numbers classified and range-checked as jansson does (integer unless
 *     it has '.', 'e' or 'E'; strtoll / strtod overflow refused), from the
 *     raw text yajl hands over; yajl's own integer parser refuses
 *     -9223372036854775808, which jansson accepts;
 *   - nesting limited as jansson's JSON_PARSER_MAX_DEPTH: a value at level
 *     2049 (the top level being 1) is refused;
 *   - white space is the four characters of RFC 8259 (yajl's lexer also
 *     skips \v and \f; found by the differential fuzz target), and only
 *     white space may follow the value;
 *   - one deliberate difference: a NUL byte anywhere is refused; jansson
 *     skips one after a number or literal ("[1\0]" parses), a lexer quirk,
 *     and mt_json_parse refuses NUL bytes before choosing a parser.
 * yajl decodes a lone surrogate escape (\ud800) to "?" where jansson refuses
 * it; mt_json_parse therefore sends any text containing a backslash to
 * jansson and only escape-free text here.
 */

#define JANSSON_MAX_DEPTH 2048
#define NUM_INLINE 64

struct builder {
    json_t *root;
    json_t **stack; /* open containers, borrowed (each is owned by its parent or root) */
    size_t depth, cap;
    char *key; /* the pending object key, copied: yajl's pointer dies with the callback */
    size_t key_len, key_cap;
    yajl_handle h;
    size_t end; /* offset just after the top-level value */
    int nomem;
};

static int
push(struct builder *b, json_t *c)
{
    json_t **s;
    size_t ncap;

    if (b->depth == b->cap) {
        ncap = b->cap == 0 ? 16 : b->cap * 2;
        s = mt_realloc(b->stack, ncap * sizeof(*s));
        if (s == NULL) {
            b->nomem = 1;
            return 0;
        }
        b->stack = s;
        b->cap = ncap;
    }
    b->stack[b->depth++] = c;
    return 1;
}

/* Attach v (a new reference) to the open container, or make it the root. */
static int
attach(struct builder *b, json_t *v)
{
    json_t *parent;

    if (v == NULL)
        return 0; /* jansson refused the value (bad UTF-8) or ran out of memory */
    /* jansson counts every value, scalars too, against its depth limit. */
    if (b->depth + 1 > JANSSON_MAX_DEPTH) {
        json_decref(v);
        return 0;
    }
    if (b->depth == 0) {
        /* json_loadb without JSON_DECODE_ANY: only an object or array at the top. */
        if (b->root != NULL || !(json_is_object(v) || json_is_array(v))) {
            json_decref(v);
            return 0;
        }
        b->root = v;
        return 1;
    }
    parent = b->stack[b->depth - 1];
    if (json_is_array(parent))
        return json_array_append_new(parent, v) == 0;
    /* An object: the key arrived in the callback before this one. */
    if (json_object_getn(parent, b->key, b->key_len) != NULL) {
        json_decref(v); /* duplicate key */
        return 0;
    }
    return json_object_setn_new(parent, b->key, b->key_len, v) == 0;
}

static int
on_null(void *ctx)
{
    return attach(ctx, json_null());
}

static int
on_boolean(void *ctx, int v)
{
    return attach(ctx, v ? json_true() : json_false());
}

static int
on_number(void *ctx, const char *s, size_t len)
{
    struct builder *b = ctx;
    char inline_buf[NUM_INLINE], *text = inline_buf, *end;
    json_t *v = NULL;

    if (len >= sizeof(inline_buf)) {
        text = mt_malloc(len + 1);
        if (text == NULL) {
            b->nomem = 1;
            return 0;
        }
    }
    memcpy(text, s, len);
    text[len] = '\0';
    errno = 0;
    if (memchr(text, '.', len) == NULL && memchr(text, 'e', len) == NULL &&
        memchr(text, 'E', len) == NULL) {
        long long i = strtoll(text, &end, 10);

        if (errno != ERANGE && end == text + len)
            v = json_integer((json_int_t)i);
    } else {
        double d = strtod(text, &end);

        /* jansson refuses overflow only; an underflow towards 0 is accepted. */
        if (!((d == HUGE_VAL || d == -HUGE_VAL) && errno == ERANGE) && end == text + len)
            v = json_real(d);
    }
    if (text != inline_buf)
        mt_free(text);
    return attach(b, v);
}

/* No byte above 0x7f, eight at a time. */
static int
all_ascii(const unsigned char *s, size_t len)
{
    uint64_t acc = 0, w;
    size_t i = 0;

    for (; i + 8 <= len; i += 8) {
        memcpy(&w, s + i, 8);
        acc |= w;
    }
    for (; i < len; i++)
        acc |= s[i];
    return (acc & UINT64_C(0x8080808080808080)) == 0;
}

static int
on_string(void *ctx, const unsigned char *s, size_t len)
{
    if (memchr(s, '\0', len) != NULL)
        return 0;
    /* ASCII is valid UTF-8: skip jansson's byte-at-a-time check (a 9 KB quote cost ~15 us). */
    if (all_ascii(s, len))
        return attach(ctx, json_stringn_nocheck((const char *)s, len));
    return attach(ctx, json_stringn((const char *)s, len));
}

static int
on_map_key(void *ctx, const unsigned char *s, size_t len)
{
    struct builder *b = ctx;
    char *k;

    if (memchr(s, '\0', len) != NULL)
        return 0;
    if (len + 1 > b->key_cap) {
        k = mt_realloc(b->key, len + 1);
        if (k == NULL) {
            b->nomem = 1;
            return 0;
        }
        b->key = k;
        b->key_cap = len + 1;
    }
    memcpy(b->key, s, len);
    b->key[len] = '\0';
    b->key_len = len;
    return 1;
}

static int
open_container(struct builder *b, json_t *c)
{
    if (c == NULL || !attach(b, json_incref(c))) {
        json_decref(c);
        return 0;
    }
    json_decref(c); /* the parent (or root) holds it now; the stack borrows it */
    return push(b, c);
}

static int
on_start_map(void *ctx)
{
    return open_container(ctx, json_object());
}

static int
on_start_array(void *ctx)
{
    return open_container(ctx, json_array());
}

static int
on_end(void *ctx)
{
    struct builder *b = ctx;

    b->depth--;
    if (b->depth == 0)
        b->end = yajl_get_bytes_consumed(b->h); /* the closing bracket's offset + 1 */
    return 1;
}

static const yajl_callbacks callbacks = {
    .yajl_null = on_null,
    .yajl_boolean = on_boolean,
    .yajl_number = on_number,
    .yajl_string = on_string,
    .yajl_start_map = on_start_map,
    .yajl_map_key = on_map_key,
    .yajl_end_map = on_end,
    .yajl_start_array = on_start_array,
    .yajl_end_array = on_end,
};

/*
 * After the value only white space.  yajl's own check misses an unterminated
 * string there ("[]\"x" passes: its lexer waits for the closing quote, and
 * the end of input does not count as garbage); found by fuzz_json_parity.
 */
static int
only_white_space(const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
            return 0;
    }
    return 1;
}

mt_err
mt_json_parse_yajl(const char *text, size_t len, json_t **out)
{
    struct builder b;
    yajl_handle h;
    mt_err e = MT_ERR_JSON;

    /*
     * yajl's lexer also takes \v and \f for white space; JSON (RFC 8259
     * section 2) and jansson do not, and inside a string they are raw
     * control characters, invalid too.  A NUL byte is never JSON either, but
     * both libraries let some through (jansson skips one after a number or
     * a literal: "[1\0]" parses).  Any of the three anywhere: not JSON.
     */
    if (memchr(text, '\0', len) != NULL || memchr(text, '\v', len) != NULL ||
        memchr(text, '\f', len) != NULL)
        return MT_ERR_JSON;
    memset(&b, 0, sizeof(b));
    /* yajl allocates with malloc and asserts on failure, as jansson does. */
    h = yajl_alloc(&callbacks, NULL, &b);
    if (h == NULL)
        return MT_ERR_NOMEM;
    /* yajl's defaults are strict already (no comments, no trailing garbage,
     * one value, strings checked); say so rather than rely on it. */
    if (yajl_config(h, yajl_allow_comments, 0) == 0 ||
        yajl_config(h, yajl_dont_validate_strings, 0) == 0 ||
        yajl_config(h, yajl_allow_trailing_garbage, 0) == 0 ||
        yajl_config(h, yajl_allow_multiple_values, 0) == 0 ||
        yajl_config(h, yajl_allow_partial_values, 0) == 0) {
        e = MT_ERR_INTERNAL;
        goto out;
    }
    b.h = h;
    if (yajl_parse(h, (const unsigned char *)text, len) == yajl_status_ok &&
        yajl_complete_parse(h) == yajl_status_ok && b.root != NULL && b.depth == 0 &&
        only_white_space(text + b.end, len - b.end)) {
        *out = b.root;
        b.root = NULL;
        e = MT_OK;
    } else if (b.nomem) {
        e = MT_ERR_NOMEM;
    }
out:
    yajl_free(h);
    json_decref(b.root);
    mt_free(b.stack);
    mt_free(b.key);
    return e;
}
