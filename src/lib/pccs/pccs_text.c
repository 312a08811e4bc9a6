#include "pccs/pccs.h"

#include <string.h>

#include <jansson.h>

#include "util/mt_alloc.h"
#include "util/mt_hex.h"
#include "util/mt_json.h"
#include "util/mt_limits.h"

static int
hex_digit(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

mt_err
mt_pccs_percent_decode(const char *s, size_t len, char **out, size_t *out_len)
{
    char *d;
    size_t i, n = 0;
    int hi, lo;
    mt_err e = MT_ERR_COLLATERAL_FORMAT;

    MT_ENSURE(s != NULL, MT_ERR_COLLATERAL_FORMAT);
    MT_ENSURE(len <= MT_MAX_PCCS_HEADER, MT_ERR_TOO_LARGE);
    /* Decoding never grows the text. */
    d = mt_malloc(len + 1);
    MT_ENSURE(d != NULL, MT_ERR_NOMEM);
    for (i = 0; i < len; i++) {
        /* Header values are visible ASCII; anything else means a broken proxy or server. */
        if (s[i] < 0x21 || s[i] > 0x7e)
            goto out;
        if (s[i] != '%') {
            d[n++] = s[i];
            continue;
        }
        if (len - i < 3)
            goto out;
        hi = hex_digit(s[i + 1]);
        lo = hex_digit(s[i + 2]);
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
            goto out;
        d[n++] = (char)(hi << 4 | lo);
        i += 2;
    }
    d[n] = '\0';
    *out = d;
    *out_len = n;
    d = NULL;
    e = MT_OK;
out:
    mt_free(d);
    return e;
}

static int
unreserved(unsigned char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           ch == '-' || ch == '_' || ch == '.' || ch == '~';
}

mt_err
mt_pccs_percent_encode(const char *s, size_t len, char **out, size_t *out_len)
{
    static const char digits[] = "0123456789ABCDEF";
    char *d;
    unsigned char ch;
    size_t i, n = 0;

    MT_ENSURE(s != NULL, MT_ERR_ARG);
    MT_ENSURE(len <= (MT_MAX_PCCS_HEADER - 1) / 3, MT_ERR_TOO_LARGE);
    d = mt_malloc(3 * len + 1);
    MT_ENSURE(d != NULL, MT_ERR_NOMEM);
    for (i = 0; i < len; i++) {
        ch = (unsigned char)s[i];
        if (unreserved(ch)) {
            d[n++] = (char)ch;
        } else {
            d[n++] = '%';
            d[n++] = digits[ch >> 4];
            d[n++] = digits[ch & 0x0f];
        }
    }
    d[n] = '\0';
    *out = d;
    *out_len = n;
    return MT_OK;
}

static size_t
skip_ws(const char *s, size_t len, size_t i)
{
    while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
        i++;
    return i;
}

/* At an opening quote: move past the closing one.  0 when unterminated. */
static int
skip_string(const char *s, size_t len, size_t *pos)
{
    size_t i = *pos + 1;

    while (i < len) {
        if (s[i] == '\\') {
            /* The escaped character can be a quote; never read it as the end. */
            if (len - i < 2)
                return 0;
            i += 2;
            continue;
        }
        if (s[i] == '"') {
            *pos = i + 1;
            return 1;
        }
        i++;
    }
    return 0;
}

/*
 * Move past one JSON value.  Containers are matched by depth counting
 * rather than recursion, so hostile nesting cannot exhaust the stack; the
 * text has been validated by jansson before this runs in production paths,
 * so bracket kinds are not re-checked here.
 */
static int
skip_value(const char *s, size_t len, size_t *pos)
{
    size_t i = *pos, depth = 0;

    if (i >= len)
        return 0;
    if (s[i] == '"')
        return skip_string(s, len, pos);
    if (s[i] != '{' && s[i] != '[') {
        while (i < len && s[i] != ',' && s[i] != '}' && s[i] != ']' && s[i] != ' ' &&
               s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
            i++;
        if (i == *pos)
            return 0;
        *pos = i;
        return 1;
    }
    while (i < len) {
        if (s[i] == '"') {
            if (!skip_string(s, len, &i))
                return 0;
            continue;
        }
        if (s[i] == '{' || s[i] == '[') {
            depth++;
        } else if (s[i] == '}' || s[i] == ']') {
            if (depth == 0)
                return 0;
            depth--;
            if (depth == 0) {
                *pos = i + 1;
                return 1;
            }
        }
        i++;
    }
    return 0;
}

mt_err
mt_pccs_json_member(const char *text, size_t len, const char *key, const char **val,
                    size_t *val_len)
{
    size_t i, key_start, key_end, v_start, klen;
    const char *found = NULL;
    size_t found_len = 0;

    MT_ENSURE(text != NULL && key != NULL, MT_ERR_ARG);
    klen = strlen(key);
    i = skip_ws(text, len, 0);
    MT_ENSURE(i < len && text[i] == '{', MT_ERR_JSON);
    i = skip_ws(text, len, i + 1);
    if (i < len && text[i] == '}')
        return MT_ERR_JSON_FIELD;
    for (;;) {
        MT_ENSURE(i < len && text[i] == '"', MT_ERR_JSON);
        key_start = i + 1;
        MT_ENSURE(skip_string(text, len, &i), MT_ERR_JSON);
        key_end = i - 1;
        i = skip_ws(text, len, i);
        MT_ENSURE(i < len && text[i] == ':', MT_ERR_JSON);
        i = skip_ws(text, len, i + 1);
        v_start = i;
        MT_ENSURE(skip_value(text, len, &i), MT_ERR_JSON);
        if (key_end - key_start == klen && memcmp(text + key_start, key, klen) == 0) {
            MT_ENSURE(found == NULL, MT_ERR_JSON);
            found = text + v_start;
            found_len = i - v_start;
        }
        i = skip_ws(text, len, i);
        MT_ENSURE(i < len, MT_ERR_JSON);
        if (text[i] == '}')
            break;
        MT_ENSURE(text[i] == ',', MT_ERR_JSON);
        i = skip_ws(text, len, i + 1);
    }
    MT_ENSURE(skip_ws(text, len, i + 1) == len, MT_ERR_JSON);
    MT_ENSURE(found != NULL, MT_ERR_JSON_FIELD);
    *val = found;
    *val_len = found_len;
    return MT_OK;
}

mt_err
mt_pccs_signed_doc(const char *body, size_t len, const char *member, char **doc, size_t *doc_len,
                   uint8_t sig[64])
{
    json_t *root = NULL, *slice = NULL, *obj;
    json_error_t jerr;
    const char *hex, *raw;
    size_t hex_len, raw_len;
    uint8_t s[64];
    char *copy = NULL;
    mt_err e;

    e = mt_json_parse(body, len, MT_MAX_PCCS_BODY, &root);
    MT_ENSURE(e == MT_OK, e == MT_ERR_TOO_LARGE ? e : MT_ERR_COLLATERAL_FORMAT);
    MT_ENSURE_GOTO(json_is_object(root), MT_ERR_COLLATERAL_FORMAT, e, out);
    MT_ENSURE_GOTO(mt_json_get_object(root, member, &obj) == MT_OK, MT_ERR_COLLATERAL_FORMAT, e,
                   out);
    MT_ENSURE_GOTO(mt_json_get_str(root, "signature", &hex, &hex_len) == MT_OK,
                   MT_ERR_COLLATERAL_FORMAT, e, out);
    /* Raw r||s of a P-256 signature: exactly 64 bytes (dcap-verify.md 2.4). */
    MT_ENSURE_GOTO(hex_len == 128 && mt_hex_decode_exact(hex, hex_len, s, sizeof(s)) == MT_OK,
                   MT_ERR_COLLATERAL_FORMAT, e, out);
    /*
     * The signature covers the member's bytes as transmitted, so slice them
     * from the body rather than re-serialising (dcap-verify.md 2.4 step 1).
     */
    MT_ENSURE_GOTO(mt_pccs_json_member(body, len, member, &raw, &raw_len) == MT_OK,
                   MT_ERR_COLLATERAL_FORMAT, e, out);
    MT_ENSURE_GOTO(raw_len <= MT_MAX_SIGNED_JSON, MT_ERR_TOO_LARGE, e, out);
    /* The slice must mean exactly what the parser saw, or the scanner was fooled. */
    slice = json_loadb(raw, raw_len, JSON_REJECT_DUPLICATES, &jerr);
    MT_ENSURE_GOTO(json_is_object(slice) && json_equal(slice, obj), MT_ERR_COLLATERAL_FORMAT, e,
                   out);
    copy = mt_strndup(raw, raw_len);
    MT_ENSURE_GOTO(copy != NULL, MT_ERR_NOMEM, e, out);
    *doc = copy;
    *doc_len = raw_len;
    memcpy(sig, s, sizeof(s));
    e = MT_OK;
out:
    json_decref(slice);
    json_decref(root);
    return e;
}
