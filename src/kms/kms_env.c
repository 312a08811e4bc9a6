#include "kms/kms_config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

/*
 * REDIS_URL (mero-tee-reference.md 1.2: "invalid URL -> fatal").  The
 * reference hands the URL to the redis crate; we accept the subset of its
 * forms that a hiredis client without TLS can serve, and say exactly which
 * part is wrong.  Messages never repeat the URL: it may hold a password.
 */

#define REDIS_DEFAULT_PORT 6379

static int
hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Strict percent-decoding of s[0..n) into out[out_len] (NUL-terminated); no NUL results. */
static int
pct_decode(const char *s, size_t n, char *out, size_t out_len)
{
    size_t i, o = 0;
    int hi, lo;
    char ch;

    for (i = 0; i < n; i++) {
        ch = s[i];
        if (ch == '%') {
            if (i + 2 >= n)
                return 0;
            hi = hexval(s[i + 1]);
            lo = hexval(s[i + 2]);
            if (hi < 0 || lo < 0)
                return 0;
            ch = (char)(hi * 16 + lo);
            if (ch == '\0')
                return 0;
            i += 2;
        }
        if (o + 1 >= out_len)
            return 0;
        out[o++] = ch;
    }
    out[o] = '\0';
    return 1;
}

static int
parse_u32(const char *s, size_t n, unsigned long max, unsigned long *out)
{
    unsigned long v = 0;
    size_t i;

    if (n == 0 || n > 10)
        return 0;
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10 + (unsigned long)(s[i] - '0');
        if (v > max)
            return 0;
    }
    *out = v;
    return 1;
}

/* A host name or IPv4 literal: letters, digits, '-', '.', '_'. */
static int
host_ok(const char *s, size_t n)
{
    size_t i;

    if (n == 0)
        return 0;
    for (i = 0; i < n; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z') ||
              (s[i] >= 'A' && s[i] <= 'Z') || s[i] == '-' || s[i] == '.' || s[i] == '_'))
            return 0;
    }
    return 1;
}

/* redis://[[user]:password@]host[:port][/db] */
static mt_err
parse_tcp(const char *s, size_t n, struct mt_kms_redis_target *t, char *why, size_t why_len)
{
    const char *auth_end, *at = NULL, *hp, *colon, *close, *p;
    struct in6_addr a6;
    unsigned long v;
    size_t hn;

    if (memchr(s, '?', n) != NULL || memchr(s, '#', n) != NULL)
        return mt_errf(MT_ERR_CONFIG, why, why_len, "redis:// URLs take no query or fragment");
    auth_end = memchr(s, '/', n);
    if (auth_end == NULL)
        auth_end = s + n;
    for (p = s; p < auth_end; p++) {
        if (*p == '@')
            at = p;
    }
    hp = s;
    if (at != NULL) {
        colon = memchr(s, ':', (size_t)(at - s));
        if (colon == NULL) {
            if (!pct_decode(s, (size_t)(at - s), t->user, sizeof(t->user)))
                return mt_errf(MT_ERR_CONFIG, why, why_len, "bad user name in the URL");
        } else {
            if (!pct_decode(s, (size_t)(colon - s), t->user, sizeof(t->user)))
                return mt_errf(MT_ERR_CONFIG, why, why_len, "bad user name in the URL");
            if (!pct_decode(colon + 1, (size_t)(at - colon - 1), t->password, sizeof(t->password)))
                return mt_errf(MT_ERR_CONFIG, why, why_len,
                               "bad password in the URL (percent-encoding or length)");
            t->has_password = 1;
        }
        hp = at + 1;
    }
    if (hp < auth_end && *hp == '[') {
        close = memchr(hp, ']', (size_t)(auth_end - hp));
        if (close == NULL)
            return mt_errf(MT_ERR_CONFIG, why, why_len, "unterminated IPv6 literal");
        hn = (size_t)(close - hp - 1);
        if (hn == 0 || hn >= sizeof(t->host))
            return mt_errf(MT_ERR_CONFIG, why, why_len, "bad IPv6 literal");
        memcpy(t->host, hp + 1, hn);
        t->host[hn] = '\0';
        if (inet_pton(AF_INET6, t->host, &a6) != 1)
            return mt_errf(MT_ERR_CONFIG, why, why_len, "bad IPv6 literal");
        colon = close + 1 < auth_end ? close + 1 : NULL;
        if (colon != NULL && *colon != ':')
            return mt_errf(MT_ERR_CONFIG, why, why_len, "unexpected text after the IPv6 literal");
    } else {
        colon = memchr(hp, ':', (size_t)(auth_end - hp));
        hn = (size_t)((colon != NULL ? colon : auth_end) - hp);
        if (!host_ok(hp, hn) || hn >= sizeof(t->host))
            return mt_errf(MT_ERR_CONFIG, why, why_len, "missing or invalid host");
        memcpy(t->host, hp, hn);
        t->host[hn] = '\0';
    }
    t->port = REDIS_DEFAULT_PORT;
    if (colon != NULL) {
        if (!parse_u32(colon + 1, (size_t)(auth_end - colon - 1), 65535, &v) || v == 0)
            return mt_errf(MT_ERR_CONFIG, why, why_len, "port must be 1..65535");
        t->port = (uint16_t)v;
    }
    if (auth_end < s + n && (size_t)(s + n - auth_end) > 1) {
        if (!parse_u32(auth_end + 1, (size_t)(s + n - auth_end - 1), 0xffffffffUL, &v))
            return mt_errf(MT_ERR_CONFIG, why, why_len,
                           "database must be a decimal number (redis://host/N)");
        t->db = (unsigned)v;
    }
    return MT_OK;
}

/* unix:///path[?db=N][&pass=P][&user=U] */
static mt_err
parse_unix(const char *s, size_t n, struct mt_kms_redis_target *t, char *why, size_t why_len)
{
    const char *q, *p, *end, *amp, *eq;
    unsigned long v;
    size_t pn;
    int seen_db = 0, seen_pass = 0, seen_user = 0;

    t->is_unix = 1;
    if (memchr(s, '#', n) != NULL)
        return mt_errf(MT_ERR_CONFIG, why, why_len, "unix socket URLs take no fragment");
    q = memchr(s, '?', n);
    pn = (size_t)((q != NULL ? q : s + n) - s);
    if (pn < 2 || s[0] != '/')
        return mt_errf(MT_ERR_CONFIG, why, why_len,
                       "unix socket URLs need an absolute path (unix:///path)");
    if (pn >= sizeof(t->path))
        return mt_errf(MT_ERR_CONFIG, why, why_len, "unix socket path is longer than %zu bytes",
                       sizeof(t->path) - 1);
    memcpy(t->path, s, pn);
    t->path[pn] = '\0';
    if (q == NULL)
        return MT_OK;
    end = s + n;
    for (p = q + 1; p < end; p = amp + 1) {
        amp = memchr(p, '&', (size_t)(end - p));
        if (amp == NULL)
            amp = end;
        eq = memchr(p, '=', (size_t)(amp - p));
        if (eq == NULL)
            return mt_errf(MT_ERR_CONFIG, why, why_len, "query parameters must be key=value");
        if (eq - p == 2 && strncmp(p, "db", 2) == 0 && !seen_db++) {
            if (!parse_u32(eq + 1, (size_t)(amp - eq - 1), 0xffffffffUL, &v))
                return mt_errf(MT_ERR_CONFIG, why, why_len, "db must be a decimal number");
            t->db = (unsigned)v;
        } else if (eq - p == 4 && strncmp(p, "pass", 4) == 0 && !seen_pass++) {
            if (!pct_decode(eq + 1, (size_t)(amp - eq - 1), t->password, sizeof(t->password)))
                return mt_errf(MT_ERR_CONFIG, why, why_len,
                               "bad pass parameter (percent-encoding or length)");
            t->has_password = 1;
        } else if (eq - p == 4 && strncmp(p, "user", 4) == 0 && !seen_user++) {
            if (!pct_decode(eq + 1, (size_t)(amp - eq - 1), t->user, sizeof(t->user)))
                return mt_errf(MT_ERR_CONFIG, why, why_len, "bad user parameter");
        } else {
            return mt_errf(MT_ERR_CONFIG, why, why_len,
                           "unknown or repeated query parameter (db, pass, user)");
        }
        if (amp == end)
            break;
    }
    return MT_OK;
}

mt_err
mt_kms_redis_url_parse(const char *url, struct mt_kms_redis_target *out, char *why, size_t why_len)
{
    static const struct {
        const char *scheme;
        int is_unix;
    } schemes[] = {{"redis://", 0}, {"unix://", 1}, {"redis+unix://", 1}};
    struct mt_kms_redis_target t;
    size_t n, i, k;
    mt_err e;

    if (why != NULL && why_len > 0)
        why[0] = '\0';
    if (url == NULL || out == NULL)
        return mt_errf(MT_ERR_CONFIG, why, why_len, "no URL");
    n = strlen(url);
    if (n > MT_KMS_MAX_PATH)
        return mt_errf(MT_ERR_CONFIG, why, why_len, "URL is too long");
    for (i = 0; i < n; i++) {
        if ((unsigned char)url[i] <= 0x20 || url[i] == 0x7f)
            return mt_errf(MT_ERR_CONFIG, why, why_len,
                           "URL contains spaces or control characters");
    }
    if (n >= 9 && strncasecmp(url, "rediss://", 9) == 0)
        return mt_errf(MT_ERR_CONFIG, why, why_len,
                       "rediss:// (TLS) is not supported; use redis:// or unix://");
    memset(&t, 0, sizeof(t));
    e = mt_errf(MT_ERR_CONFIG, why, why_len,
                "must be redis://[[user]:password@]host[:port][/db] or "
                "unix:///path[?db=N&pass=P]");
    for (i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
        k = strlen(schemes[i].scheme);
        if (n < k || strncasecmp(url, schemes[i].scheme, k) != 0)
            continue;
        if (schemes[i].is_unix)
            e = parse_unix(url + k, n - k, &t, why, why_len);
        else
            e = parse_tcp(url + k, n - k, &t, why, why_len);
        break;
    }
    if (e == MT_OK) {
        OPENSSL_cleanse(out, sizeof(*out));
        *out = t;
    }
    OPENSSL_cleanse(&t, sizeof(t));
    return e;
}
