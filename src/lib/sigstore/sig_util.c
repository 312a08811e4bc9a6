/*
 * Small helpers of the sigstore verifier: failure details, protojson bytes
 * and int64 fields, RFC 3339 with milliseconds, PEM and SPKI DER
 * (sigstore.md 2.1, 6.4).
 */
#include <stdio.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "sigstore/sig_internal.h"
#include "util/mt_alloc.h"
#include "util/mt_b64.h"
#include "util/mt_json.h"
#include "util/mt_time.h"
#include "util/mt_utf8.h"

void
sig_utf8_fix(char *s)
{
    unsigned char *r = (unsigned char *)s, *w = r;
    size_t n, i;

    while (*r != '\0') {
        n = mt_utf8_seq(r);
        if (n == 0) {
            /* A sequence cut by a truncation at the end is dropped, other bad bytes become '?'. */
            for (i = 1; i < 4 && r[i] != '\0' && (r[i] & 0xC0) == 0x80; i++)
                ;
            if (r[0] >= 0xC2 && r[0] <= 0xF4 && r[i] == '\0')
                break;
            *w++ = '?';
            r++;
            continue;
        }
        for (i = 0; i < n; i++)
            *w++ = *r++;
    }
    *w = '\0';
}

mt_err
sig_fail(struct mt_sigstore_result *res, mt_err e, const char *fmt, ...)
{
    va_list ap;

    if (res != NULL && res->detail[0] == '\0') {
        va_start(ap, fmt);
        vsnprintf(res->detail, sizeof(res->detail), fmt, ap);
        va_end(ap);
        /* %.160s and the buffer's end may cut a character; details are UTF-8 (JSON output). */
        sig_utf8_fix(res->detail);
    }
    return e;
}

mt_err
sig_b64_decode(const char *s, size_t len, size_t max, uint8_t **out, size_t *out_len)
{
    char *copy;
    size_t i, n = 0, padded;
    int url = 0;
    mt_err e;

    MT_ENSURE(s != NULL, MT_ERR_SIGSTORE_BASE64);
    MT_ENSURE(len <= (max / 3 + 2) * 4 + len / 32, MT_ERR_TOO_LARGE);
    /*
     * protojson decodes bytes with Go's base64, which skips '\r' and '\n',
     * and accepts the URL-safe alphabet and missing padding (2.1).  Bring
     * the text to the standard padded form and decode that strictly:
     * other characters, mixed alphabets and interior padding still fail.
     */
    copy = mt_malloc(len + 4);
    MT_ENSURE(copy != NULL, MT_ERR_NOMEM);
    for (i = 0; i < len; i++) {
        if (s[i] == '\r' || s[i] == '\n')
            continue;
        copy[n++] = s[i];
        url |= s[i] == '-' || s[i] == '_';
    }
    for (i = 0; url && i < n; i++) {
        if (copy[i] == '+' || copy[i] == '/')
            goto bad;
        copy[i] = copy[i] == '-' ? '+' : copy[i] == '_' ? '/' : copy[i];
    }
    if (n % 4 == 1)
        goto bad;
    padded = (n + 3) / 4 * 4;
    for (i = n; i < padded; i++)
        copy[i] = '=';
    e = mt_b64_decode_alloc(copy, padded, max, out, out_len);
    mt_free(copy);
    return e == MT_ERR_BASE64 ? MT_ERR_SIGSTORE_BASE64 : e;
bad:
    mt_free(copy);
    return MT_ERR_SIGSTORE_BASE64;
}

mt_err
sig_json_bytes(const json_t *obj, const char *key, size_t max, uint8_t **out, size_t *out_len)
{
    json_t *v = json_object_get(obj, key);

    MT_ENSURE(json_is_string(v), MT_ERR_SIGSTORE_FORMAT);
    return sig_b64_decode(json_string_value(v), json_string_length(v), max, out, out_len);
}

mt_err
sig_json_bytes_exact(const json_t *obj, const char *key, uint8_t *out, size_t n)
{
    uint8_t *b = NULL;
    size_t len = 0;

    MT_GUARD(sig_json_bytes(obj, key, n, &b, &len));
    if (len != n) {
        mt_free(b);
        return MT_ERR_SIGSTORE_FORMAT;
    }
    memcpy(out, b, n);
    mt_free(b);
    return MT_OK;
}

mt_err
sig_json_int64(const json_t *obj, const char *key, int64_t *out)
{
    json_t *v = json_object_get(obj, key);
    const char *s;
    size_t len, i = 0;
    int64_t r;

    if (json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
        return MT_OK;
    }
    MT_ENSURE(json_is_string(v), MT_ERR_SIGSTORE_FORMAT);
    s = json_string_value(v);
    len = json_string_length(v);
    /* Optional '-' then 1-19 digits, nothing else (4.1). */
    if (len > 0 && s[0] == '-')
        i = 1;
    MT_ENSURE(len > i && len - i <= 19 && strlen(s) == len, MT_ERR_SIGSTORE_FORMAT);
    for (; i < len; i++)
        MT_ENSURE(s[i] >= '0' && s[i] <= '9', MT_ERR_SIGSTORE_FORMAT);
    MT_ENSURE(mt_parse_int64(s, &r) == MT_OK, MT_ERR_SIGSTORE_FORMAT);
    *out = r;
    return MT_OK;
}

mt_err
sig_json_only_keys(const json_t *obj, const char *const *allowed)
{
    const char *k;
    json_t *v;
    size_t i;
    int ok;

    MT_ENSURE(json_is_object(obj), MT_ERR_SIGSTORE_FORMAT);
    json_object_foreach((json_t *)obj, k, v)
    {
        (void)v;
        ok = 0;
        for (i = 0; allowed[i] != NULL && !ok; i++)
            ok = strcmp(k, allowed[i]) == 0;
        MT_ENSURE(ok, MT_ERR_SIGSTORE_FORMAT);
    }
    return MT_OK;
}

const json_t *
sig_json_path(const json_t *v, const char *const *path)
{
    size_t i;

    for (i = 0; v != NULL && path[i] != NULL; i++)
        v = json_is_object(v) ? json_object_get(v, path[i]) : NULL;
    return v;
}

mt_err
sig_tlog_body_load(const struct sig_tlog_entry *e, json_t **body, struct mt_sigstore_result *res)
{
    const char *kind, *ver;
    mt_err rv;

    *body = NULL;
    rv = mt_json_parse((const char *)e->body, e->body_len, SIG_MAX_FIELD, body);
    MT_ENSURE(rv == MT_OK, rv == MT_ERR_NOMEM ? rv
                                              : sig_fail(res, MT_ERR_SIGSTORE_TLOG_BODY,
                                                         "canonicalizedBody is not JSON"));
    if (mt_json_get_str(*body, "kind", &kind, NULL) != MT_OK ||
        mt_json_get_str(*body, "apiVersion", &ver, NULL) != MT_OK || strcmp(kind, e->kind) != 0 ||
        strcmp(ver, e->version) != 0) {
        json_decref(*body);
        *body = NULL;
        return sig_fail(res, MT_ERR_SIGSTORE_TLOG_BODY,
                        "body kind/apiVersion differ from kindVersion %s/%s", e->kind, e->version);
    }
    return MT_OK;
}

mt_err
sig_rfc3339_ms(const char *s, int round_up, int64_t *out_ms)
{
    const char *dot;
    int64_t sec, ms = 0;
    int digits = 0, extra = 0;

    MT_ENSURE(s != NULL && mt_rfc3339_parse(s, &sec) == MT_OK, MT_ERR_TIME);
    MT_ENSURE(sec > INT64_MIN / 1000 + 1 && sec < INT64_MAX / 1000 - 1, MT_ERR_TIME);
    dot = strchr(s, '.');
    if (dot != NULL) {
        for (dot++; *dot >= '0' && *dot <= '9'; dot++, digits++) {
            if (digits < 3)
                ms = ms * 10 + (*dot - '0');
            else if (*dot != '0')
                extra = 1;
        }
        for (; digits < 3; digits++)
            ms *= 10;
    }
    /* A window end of 23:59:59.9995 still covers 23:59:59.999 (4.13). */
    if (round_up && extra)
        ms++;
    *out_ms = sec * 1000 + ms;
    return MT_OK;
}

mt_err
sig_pem_to_der(const uint8_t *pem, size_t len, const char *type, uint8_t **der, size_t *der_len)
{
    char *name = NULL, *header = NULL;
    unsigned char *data = NULL;
    long n = 0;
    BIO *bio;
    mt_err rv = MT_ERR_SIGSTORE_FORMAT;
    uint8_t *copy;

    MT_ENSURE(len <= SIG_MAX_FIELD * 2, MT_ERR_TOO_LARGE);
    bio = BIO_new_mem_buf(pem, (int)len);
    MT_ENSURE(bio != NULL, MT_ERR_NOMEM);
    if (PEM_read_bio(bio, &name, &header, &data, &n) != 1)
        goto out;
    if (strcmp(name, type) != 0 || header[0] != '\0' || n <= 0)
        goto out;
    copy = mt_malloc((size_t)n);
    MT_ENSURE_GOTO(copy != NULL, MT_ERR_NOMEM, rv, out);
    memcpy(copy, data, (size_t)n);
    *der = copy;
    *der_len = (size_t)n;
    rv = MT_OK;
out:
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(data);
    BIO_free(bio);
    return rv;
}

mt_err
sig_spki_der(EVP_PKEY *key, uint8_t **der, size_t *der_len)
{
    unsigned char *p = NULL;
    uint8_t *copy;
    int n;

    n = i2d_PUBKEY(key, &p);
    MT_ENSURE(n > 0, MT_ERR_CRYPTO);
    copy = mt_malloc((size_t)n);
    if (copy == NULL) {
        OPENSSL_free(p);
        return MT_ERR_NOMEM;
    }
    memcpy(copy, p, (size_t)n);
    OPENSSL_free(p);
    *der = copy;
    *der_len = (size_t)n;
    return MT_OK;
}
