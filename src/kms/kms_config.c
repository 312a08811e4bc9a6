#include "kms/kms_config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "pccs/pccs.h"
#include "util/mt_alloc.h"
#include "util/mt_hex.h"

/*
 * mero-kms configuration (mero-tee-reference.md 1.2-1.4), every invalid
 * value fatal.  The environment is read only through the injected getter,
 * so tests never touch the process environment.  REDIS_URL's grammar lives
 * in kms_env.c.
 */

/* Longest profile pin file accepted: "<profile>\n" is under 20 bytes. */
#define PIN_FILE_MAX 256

/* One load in progress. */
struct cfg_ctx {
    mt_env_get_fn get;
    void *arg;
    char *why;
    size_t why_len;
    struct mt_kms_config *c;
};

__attribute__((format(printf, 3, 4))) static void
say(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;

    if (buf == NULL || len == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
}

/* Record a fatal problem with a variable; always MT_ERR_CONFIG. */
__attribute__((format(printf, 3, 4))) static mt_err
bad(struct cfg_ctx *x, const char *var, const char *fmt, ...)
{
    char msg[768];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    say(x->why, x->why_len, "%s: %s", var, msg);
    return MT_ERR_CONFIG;
}

__attribute__((format(printf, 2, 3))) static mt_err
warn(struct cfg_ctx *x, const char *fmt, ...)
{
    struct mt_kms_config *c = x->c;
    char line[768], **grown, *dup;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    dup = mt_strdup(line);
    MT_ENSURE(dup != NULL, MT_ERR_NOMEM);
    grown = mt_realloc(c->warnings, (c->num_warnings + 1) * sizeof(*grown));
    if (grown == NULL) {
        mt_free(dup);
        return MT_ERR_NOMEM;
    }
    c->warnings = grown;
    c->warnings[c->num_warnings++] = dup;
    return MT_OK;
}

static const char *
env(struct cfg_ctx *x, const char *name)
{
    return x->get(name, x->arg);
}

static int
is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static const char *
trim(const char *s, size_t *len)
{
    size_t n = *len;

    while (n > 0 && is_space(*s)) {
        s++;
        n--;
    }
    while (n > 0 && is_space(s[n - 1]))
        n--;
    *len = n;
    return s;
}

/* Copy s[0..n) NUL-terminated into out[out_len]; 0 when it does not fit. */
static int
copy_span(char *out, size_t out_len, const char *s, size_t n)
{
    if (n >= out_len)
        return 0;
    memcpy(out, s, n);
    out[n] = '\0';
    return 1;
}

/* A printable copy of a value for messages, cut at 64 bytes. */
static const char *
show(const char *s, size_t n, char out[72])
{
    size_t i;

    for (i = 0; i < n && i < 64; i++)
        out[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
    if (n > 64) {
        memcpy(out + i, "...", 3);
        i += 3;
    }
    out[i] = '\0';
    return out;
}

const char *
mt_env_getenv(const char *name, void *arg)
{
    (void)arg;
    return getenv(name);
}

mt_err
mt_env_parse_bool(const char *s, int *out)
{
    static const char *const yes[] = {"1", "true", "yes", "on"};
    static const char *const no[] = {"0", "false", "no", "off"};
    size_t n, i;

    MT_ENSURE(s != NULL && out != NULL, MT_ERR_CONFIG);
    n = strlen(s);
    s = trim(s, &n);
    for (i = 0; i < 4; i++) {
        if (strlen(yes[i]) == n && strncasecmp(s, yes[i], n) == 0) {
            *out = 1;
            return MT_OK;
        }
        if (strlen(no[i]) == n && strncasecmp(s, no[i], n) == 0) {
            *out = 0;
            return MT_OK;
        }
    }
    return MT_ERR_CONFIG;
}

mt_err
mt_kms_parse_pin(const char *s, uint8_t out[32])
{
    char hex[64];
    size_t n, i;

    MT_ENSURE(s != NULL && out != NULL, MT_ERR_CONFIG);
    n = strlen(s);
    s = trim(s, &n);
    while (n >= 2 && s[0] == '0' && s[1] == 'x') {
        s += 2;
        n -= 2;
    }
    MT_ENSURE(n == sizeof(hex), MT_ERR_CONFIG);
    for (i = 0; i < n; i++)
        hex[i] = s[i] >= 'A' && s[i] <= 'Z' ? (char)(s[i] - 'A' + 'a') : s[i];
    MT_ENSURE(mt_hex_decode_exact(hex, sizeof(hex), out, 32) == MT_OK, MT_ERR_CONFIG);
    return MT_OK;
}

/* Unsigned decimal digits only (no sign, no spaces inside), <= max. */
static int
parse_uint(const char *s, size_t n, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    size_t i;

    if (n == 0 || n > 20)
        return 0;
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        if (v > (max - (uint64_t)(s[i] - '0')) / 10)
            return 0;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return 1;
}

static mt_err
get_uint(struct cfg_ctx *x, const char *var, uint64_t def, uint64_t min, uint64_t max,
         uint64_t *out)
{
    const char *s = env(x, var);
    char q[72];
    size_t n;
    uint64_t v;

    if (s == NULL) {
        *out = def;
        return MT_OK;
    }
    n = strlen(s);
    s = trim(s, &n);
    if (!parse_uint(s, n, UINT64_MAX, &v) || v < min || v > max)
        return bad(x, var, "must be an integer in %llu..%llu, got '%s'", (unsigned long long)min,
                   (unsigned long long)max, show(s, n, q));
    *out = v;
    return MT_OK;
}

static mt_err
get_bool(struct cfg_ctx *x, const char *var, int def, int *out)
{
    const char *s = env(x, var);
    char q[72];

    if (s == NULL) {
        *out = def;
        return MT_OK;
    }
    if (mt_env_parse_bool(s, out) != MT_OK)
        return bad(x, var, "invalid boolean '%s' (use 1/true/yes/on or 0/false/no/off)",
                   show(s, strlen(s), q));
    return MT_OK;
}

/* No control characters (nor DEL) anywhere. */
static int
printable(const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return 0;
    }
    return 1;
}

/*
 * A path-like string: unset -> def (may be NULL); set -> trimmed, non-empty
 * unless allow_empty, printable, < max bytes.  *out is a new string or NULL.
 */
static mt_err
get_path(struct cfg_ctx *x, const char *var, const char *def, int allow_empty, size_t max,
         char **out)
{
    const char *s = env(x, var);
    size_t n;

    *out = NULL;
    if (s == NULL) {
        if (def == NULL)
            return MT_OK;
        *out = mt_strdup(def);
        MT_ENSURE(*out != NULL, MT_ERR_NOMEM);
        return MT_OK;
    }
    n = strlen(s);
    s = trim(s, &n);
    if (n == 0 && !allow_empty)
        return bad(x, var, "is set but empty");
    if (n >= max)
        return bad(x, var, "is longer than %zu bytes", max - 1);
    if (!printable(s, n))
        return bad(x, var, "contains control characters");
    *out = mt_strndup(s, n);
    MT_ENSURE(*out != NULL, MT_ERR_NOMEM);
    return MT_OK;
}

/* LISTEN_ADDR: a.b.c.d:port or [v6]:port (no host names, as Rust's SocketAddr). */
static mt_err
get_listen(struct cfg_ctx *x)
{
    struct mt_kms_config *c = x->c;
    const char *s = env(x, "LISTEN_ADDR"), *host, *port, *colon, *close;
    unsigned char addr[16];
    char hbuf[64], q[72];
    size_t n, hlen;
    uint64_t p;
    int af;

    if (s == NULL) {
        memcpy(c->listen_host, MT_KMS_DEFAULT_LISTEN_HOST, sizeof(MT_KMS_DEFAULT_LISTEN_HOST));
        c->listen_port = MT_KMS_DEFAULT_LISTEN_PORT;
        return MT_OK;
    }
    n = strlen(s);
    s = trim(s, &n);
    if (n > 0 && s[0] == '[') {
        close = memchr(s, ']', n);
        if (close == NULL || (size_t)(close - s) + 1 >= n || close[1] != ':')
            goto invalid;
        host = s + 1;
        hlen = (size_t)(close - host);
        port = close + 2;
        af = AF_INET6;
    } else {
        colon = memchr(s, ':', n);
        if (colon == NULL)
            goto invalid;
        host = s;
        hlen = (size_t)(colon - s);
        port = colon + 1;
        af = AF_INET;
    }
    if (!copy_span(hbuf, sizeof(hbuf), host, hlen) || inet_pton(af, hbuf, addr) != 1)
        goto invalid;
    if (!parse_uint(port, n - (size_t)(port - s), 65535, &p))
        goto invalid;
    memcpy(c->listen_host, hbuf, hlen + 1);
    c->listen_port = (uint16_t)p;
    return MT_OK;
invalid:
    return bad(x, "LISTEN_ADDR", "must be <IPv4>:<port> or [<IPv6>]:<port>, got '%s'",
               show(s, n, q));
}

static mt_err
get_dstack_socket(struct cfg_ctx *x)
{
    char *s = NULL;

    MT_GUARD(get_path(x, "DSTACK_SOCKET_PATH", MT_KMS_DEFAULT_DSTACK_SOCKET, 0,
                      sizeof(x->c->dstack_socket), &s));
    memcpy(x->c->dstack_socket, s, strlen(s) + 1);
    mt_free(s);
    return MT_OK;
}

static mt_err
get_redis(struct cfg_ctx *x)
{
    struct mt_kms_redis_target t;
    const char *s = env(x, "REDIS_URL");
    char msg[256];
    size_t n;
    mt_err e;

    if (s == NULL)
        return MT_OK;
    n = strlen(s);
    s = trim(s, &n);
    if (n == 0)
        return MT_OK; /* empty = unset, as the reference */
    x->c->redis_url = mt_strndup(s, n);
    MT_ENSURE(x->c->redis_url != NULL, MT_ERR_NOMEM);
    e = mt_kms_redis_url_parse(x->c->redis_url, &t, msg, sizeof(msg));
    /*
     * The challenge store connects over TCP with a lower-case redis:// URL and
     * AUTH user+password or password only: refuse here what it cannot use, so
     * the message names the variable instead of failing later at startup.
     */
    if (e == MT_OK && t.is_unix)
        snprintf(msg, sizeof(msg), "unix sockets are not supported; use redis://host:port");
    else if (e == MT_OK && strncmp(x->c->redis_url, "redis://", 8) != 0)
        snprintf(msg, sizeof(msg), "the scheme must be written redis:// (lower case)");
    else if (e == MT_OK && t.user[0] != '\0' && !t.has_password)
        snprintf(msg, sizeof(msg), "a user needs a password (redis://user:password@host)");
    else
        msg[0] = e == MT_OK ? '\0' : msg[0];
    OPENSSL_cleanse(&t, sizeof(t));
    if (e != MT_OK || msg[0] != '\0')
        return bad(x, "REDIS_URL", "%s", msg);
    return MT_OK;
}

/*
 * The profile pin file (1.3): missing -> no pin (0 returned in *pinned);
 * empty after trim, unreadable, too large or unknown -> fatal.
 */
static mt_err
read_pin_file(struct cfg_ctx *x, char pin[MT_PROFILE_MAX], int *pinned)
{
    const char *path = x->c->profile_pin_file;
    char buf[PIN_FILE_MAX + 1], q[72];
    struct stat st;
    const char *t;
    size_t got = 0, n;
    ssize_t r;
    int fd, err;

    *pinned = 0;
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        err = errno;
        if (err == ENOENT)
            return MT_OK;
        return bad(x, "KMS_PROFILE_PIN_FILE", "cannot read profile pin file %s: %s", path,
                   strerror(err));
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return bad(x, "KMS_PROFILE_PIN_FILE", "profile pin file %s is not a regular file", path);
    }
    while (got < sizeof(buf)) {
        r = read(fd, buf + got, sizeof(buf) - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            err = r < 0 ? errno : 0;
            if (r < 0) {
                close(fd);
                return bad(x, "KMS_PROFILE_PIN_FILE", "cannot read profile pin file %s: %s", path,
                           strerror(err));
            }
            break;
        }
        got += (size_t)r;
    }
    close(fd);
    if (got > PIN_FILE_MAX)
        return bad(x, "KMS_PROFILE_PIN_FILE", "profile pin file %s is larger than %d bytes", path,
                   PIN_FILE_MAX);
    n = got;
    t = trim(buf, &n);
    if (n == 0)
        return bad(x, "KMS_PROFILE_PIN_FILE", "profile pin file %s is empty; refusing startup",
                   path);
    if (mt_profile_normalize(t, n, pin) != MT_OK)
        return bad(x, "KMS_PROFILE_PIN_FILE",
                   "profile pin file %s holds unknown profile '%s'; refusing startup", path,
                   show(t, n, q));
    *pinned = 1;
    return MT_OK;
}

/* 1.3: pin file, MERO_KMS_PROFILE, deprecated KMS_POLICY_PROFILE. */
static mt_err
get_profile(struct cfg_ctx *x)
{
    struct mt_kms_config *c = x->c;
    const char *mp = env(x, "MERO_KMS_PROFILE"), *kp = env(x, "KMS_POLICY_PROFILE");
    const char *ov, *ov_var, *a, *b;
    char pin[MT_PROFILE_MAX], norm[MT_PROFILE_MAX], q1[72], q2[72];
    size_t an, bn, on;
    int pinned;

    MT_GUARD(get_path(x, "KMS_PROFILE_PIN_FILE", MT_KMS_DEFAULT_PROFILE_PIN_FILE, 0,
                      MT_KMS_MAX_PATH, &c->profile_pin_file));
    MT_GUARD(read_pin_file(x, pin, &pinned));
    if (mp != NULL && kp != NULL) {
        an = strlen(mp);
        bn = strlen(kp);
        a = trim(mp, &an);
        b = trim(kp, &bn);
        if (an != bn || strncasecmp(a, b, an) != 0)
            return bad(x, "MERO_KMS_PROFILE",
                       "'%s' does not match KMS_POLICY_PROFILE '%s'; set only MERO_KMS_PROFILE",
                       show(a, an, q1), show(b, bn, q2));
    }
    if (mp == NULL && kp != NULL)
        MT_GUARD(warn(x, "KMS_POLICY_PROFILE is deprecated; use MERO_KMS_PROFILE"));
    ov = mp != NULL ? mp : kp;
    ov_var = mp != NULL ? "MERO_KMS_PROFILE" : "KMS_POLICY_PROFILE";
    if (pinned) {
        if (ov != NULL) {
            on = strlen(ov);
            if (mt_profile_normalize(ov, on, norm) != MT_OK || strcmp(norm, pin) != 0)
                return bad(x, ov_var, "'%s' does not match profile-pinned image value '%s' (%s)",
                           show(ov, on, q1), pin, c->profile_pin_file);
        }
        memcpy(c->profile, pin, strlen(pin) + 1);
        return MT_OK;
    }
    memcpy(c->profile, MT_KMS_DEFAULT_PROFILE, sizeof(MT_KMS_DEFAULT_PROFILE));
    if (ov == NULL)
        return MT_OK;
    on = strlen(ov);
    a = trim(ov, &on);
    if (on == 0)
        return MT_OK;
    if (mt_profile_normalize(a, on, norm) != MT_OK)
        return bad(x, ov_var, "unknown profile '%s' (known: %s, %s, %s)", show(a, on, q1),
                   MT_PROFILE_DEBUG, MT_PROFILE_DEBUG_RO, MT_PROFILE_LOCKED_RO);
    memcpy(c->profile, norm, strlen(norm) + 1);
    return MT_OK;
}

/* KEY_NAMESPACE_PREFIX: '/' trimmed at both ends (no whitespace trim), empty -> default. */
static mt_err
get_prefix(struct cfg_ctx *x)
{
    struct mt_kms_config *c = x->c;
    const char *s = env(x, "KEY_NAMESPACE_PREFIX");
    size_t n;

    memcpy(c->key_prefix, MT_KMS_DEFAULT_KEY_PREFIX, sizeof(MT_KMS_DEFAULT_KEY_PREFIX));
    if (s == NULL)
        return MT_OK;
    n = strlen(s);
    while (n > 0 && *s == '/') {
        s++;
        n--;
    }
    while (n > 0 && s[n - 1] == '/')
        n--;
    if (n == 0)
        return MT_OK;
    if (!copy_span(c->key_prefix, sizeof(c->key_prefix), s, n))
        return bad(x, "KEY_NAMESPACE_PREFIX", "is longer than %zu bytes",
                   sizeof(c->key_prefix) - 1);
    return MT_OK;
}

/* Append s[0..n) to a string array. */
static mt_err
push_str(char ***arr, size_t *num, const char *s, size_t n)
{
    char **grown, *dup;

    dup = mt_strndup(s, n);
    MT_ENSURE(dup != NULL, MT_ERR_NOMEM);
    grown = mt_realloc(*arr, (*num + 1) * sizeof(*grown));
    if (grown == NULL) {
        mt_free(dup);
        return MT_ERR_NOMEM;
    }
    *arr = grown;
    (*arr)[(*num)++] = dup;
    return MT_OK;
}

static void
free_strs(char **arr, size_t num)
{
    size_t i;

    for (i = 0; i < num; i++)
        mt_free(arr[i]);
    mt_free(arr);
}

/*
 * Split a CSV value: entries trimmed, empties dropped (the reference's CSV
 * rule).  Calls fn for each entry with its 1-based position.
 */
typedef mt_err (*csv_fn)(struct cfg_ctx *x, const char *var, size_t idx, const char *s, size_t n,
                         void *ud);

static mt_err
csv_each(struct cfg_ctx *x, const char *var, const char *value, csv_fn fn, void *ud)
{
    const char *p = value, *comma, *t;
    size_t n, idx = 0;

    for (;;) {
        comma = strchr(p, ',');
        n = comma != NULL ? (size_t)(comma - p) : strlen(p);
        t = trim(p, &n);
        if (n > 0)
            MT_GUARD(fn(x, var, ++idx, t, n, ud));
        if (comma == NULL)
            return MT_OK;
        p = comma + 1;
    }
}

/* An HTTP header value as the http crate takes it: visible ASCII and tab. */
static mt_err
cors_entry(struct cfg_ctx *x, const char *var, size_t idx, const char *s, size_t n, void *ud)
{
    struct mt_kms_config *c = x->c;
    size_t i;

    (void)ud;
    if (c->num_cors_origins >= MT_KMS_MAX_CORS_ORIGINS)
        return bad(x, var, "more than %u origins", MT_KMS_MAX_CORS_ORIGINS);
    if (n > MT_KMS_MAX_CORS_ORIGIN_LEN)
        return bad(x, var, "entry %zu is longer than %u bytes", idx, MT_KMS_MAX_CORS_ORIGIN_LEN);
    for (i = 0; i < n; i++) {
        if (!((s[i] >= 0x20 && s[i] < 0x7f) || s[i] == '\t'))
            return bad(x, var, "entry %zu is not a valid header value", idx);
    }
    return push_str(&c->cors_origins, &c->num_cors_origins, s, n);
}

static mt_err
get_cors(struct cfg_ctx *x)
{
    const char *s = env(x, "CORS_ALLOWED_ORIGINS");

    if (s == NULL)
        return MT_OK;
    return csv_each(x, "CORS_ALLOWED_ORIGINS", s, cors_entry, NULL);
}

static int
version_char(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' ||
           c == '-' || c == '_' || c == '+';
}

/* MERO_KMS_VERSION: trimmed, non-empty, "mero-kms-v" stripped; it goes into a URL path. */
static mt_err
get_version(struct cfg_ctx *x)
{
    struct mt_kms_config *c = x->c;
    const char *s = env(x, "MERO_KMS_VERSION");
    const size_t plen = strlen(MT_POLICY_TAG_PREFIX);
    char q[72];
    size_t n, i;

    if (s == NULL)
        return MT_OK;
    n = strlen(s);
    s = trim(s, &n);
    if (n == 0)
        return bad(x, "MERO_KMS_VERSION", "is set but empty");
    if (n >= plen && strncmp(s, MT_POLICY_TAG_PREFIX, plen) == 0) {
        s += plen;
        n -= plen;
    }
    if (n == 0 || n >= sizeof(c->version))
        return bad(x, "MERO_KMS_VERSION", "'%s' is not a release version", show(s, n, q));
    for (i = 0; i < n; i++) {
        if (!version_char(s[i]))
            return bad(x, "MERO_KMS_VERSION",
                       "'%s' is not a release version (letters, digits and . - _ + only)",
                       show(s, n, q));
    }
    memcpy(c->version, s, n);
    c->version[n] = '\0';
    c->has_version = 1;
    return MT_OK;
}

static mt_err
get_pin(struct cfg_ctx *x)
{
    const char *s = env(x, "MERO_KMS_POLICY_SHA256");

    if (s == NULL)
        return MT_OK;
    if (mt_kms_parse_pin(s, x->c->policy_pin) != MT_OK)
        return bad(x, "MERO_KMS_POLICY_SHA256",
                   "must be 64 hex digits (SHA-256, optional 0x prefix)");
    x->c->has_policy_pin = 1;
    return MT_OK;
}

/* http://<host> is only for loopback IP literals; names (localhost too) do not count. */
static int
loopback_literal(const char *h, size_t n)
{
    struct in6_addr a6;
    unsigned char a4[4];
    char buf[64];

    if (n >= 2 && h[0] == '[' && h[n - 1] == ']') {
        if (!copy_span(buf, sizeof(buf), h + 1, n - 2) || inet_pton(AF_INET6, buf, &a6) != 1)
            return 0;
        return IN6_IS_ADDR_LOOPBACK(&a6);
    }
    if (!copy_span(buf, sizeof(buf), h, n) || inet_pton(AF_INET, buf, a4) != 1)
        return 0;
    return a4[0] == 127;
}

/*
 * A base URL: scheme http or https (case-insensitive), a non-empty host,
 * no user info, query, fragment, whitespace or control characters.
 * With loopback_http, plain http is accepted only for loopback literals.
 */
static const char *
check_url(const char *s, size_t n, int loopback_http)
{
    const char *host, *end, *p;
    size_t hn;
    int https;

    if (!printable(s, n) || memchr(s, ' ', n) != NULL)
        return "must not contain spaces or control characters";
    if (n >= 8 && strncasecmp(s, "https://", 8) == 0) {
        https = 1;
        host = s + 8;
    } else if (n >= 7 && strncasecmp(s, "http://", 7) == 0) {
        https = 0;
        host = s + 7;
    } else {
        return "must be an http(s) URL";
    }
    end = s + n;
    for (p = host; p < end; p++) {
        if (*p == '?' || *p == '#')
            return "must not have a query or fragment";
    }
    p = memchr(host, '/', (size_t)(end - host));
    if (p == NULL)
        p = end;
    if (memchr(host, '@', (size_t)(p - host)) != NULL)
        return "must not carry user info";
    /* The host ends at the port colon (after a bracketed IPv6 literal). */
    if (host < p && *host == '[') {
        end = memchr(host, ']', (size_t)(p - host));
        if (end == NULL)
            return "has an unterminated IPv6 literal";
        hn = (size_t)(end - host) + 1;
    } else {
        end = memchr(host, ':', (size_t)(p - host));
        hn = (size_t)((end != NULL ? end : p) - host);
    }
    if (hn == 0)
        return "has no host";
    if (!https && loopback_http && !loopback_literal(host, hn))
        return "must be https (plain http only to a loopback IP literal)";
    return NULL;
}

static mt_err
get_release(struct cfg_ctx *x)
{
    struct mt_kms_config *c = x->c;
    const char *problem;
    struct stat st;

    MT_GUARD(get_path(x, "MERO_KMS_RELEASE_BASE_URL", MT_POLICY_DEFAULT_BASE_URL, 0,
                      MT_POLICY_MAX_URL, &c->release_base_url));
    problem = check_url(c->release_base_url, strlen(c->release_base_url), 1);
    if (problem != NULL)
        return bad(x, "MERO_KMS_RELEASE_BASE_URL", "%s", problem);
    MT_GUARD(get_path(x, "MERO_KMS_RELEASE_DIR", NULL, 0, MT_KMS_MAX_PATH, &c->release_dir));
    if (c->release_dir != NULL && (stat(c->release_dir, &st) != 0 || !S_ISDIR(st.st_mode)))
        return bad(x, "MERO_KMS_RELEASE_DIR", "%s is not a directory", c->release_dir);
    return MT_OK;
}

static mt_err
get_keys(struct cfg_ctx *x)
{
    struct mt_kms_config *c = x->c;
    const char *s = env(x, "KMS_KEY_PROVIDER");
    char *file = NULL;
    char q[72];
    size_t n;
    mt_err e = MT_OK;

    c->key_provider = MT_KMS_KEYS_DSTACK;
    if (s != NULL) {
        n = strlen(s);
        s = trim(s, &n);
        if (n == 5 && strncasecmp(s, "local", 5) == 0)
            c->key_provider = MT_KMS_KEYS_LOCAL;
        else if (!(n == 6 && strncasecmp(s, "dstack", 6) == 0))
            return bad(x, "KMS_KEY_PROVIDER", "must be 'dstack' or 'local', got '%s'",
                       show(s, n, q));
    }
    MT_GUARD(get_path(x, "KMS_LOCAL_ROOT_KEY_FILE", NULL, 0, MT_KMS_MAX_PATH, &file));
    if (c->key_provider == MT_KMS_KEYS_DSTACK) {
        if (file != NULL)
            e = warn(x, "KMS_LOCAL_ROOT_KEY_FILE is ignored unless KMS_KEY_PROVIDER=local");
        mt_free(file);
        return e;
    }
    c->local_root_key_file = file;
    if (file == NULL)
        return bad(x, "KMS_LOCAL_ROOT_KEY_FILE", "is required when KMS_KEY_PROVIDER=local");
    /* A missing file is created (0600) by the KMS at startup; anything else must be readable. */
    if (access(file, R_OK) != 0 && errno != ENOENT)
        return bad(x, "KMS_LOCAL_ROOT_KEY_FILE", "cannot read %s: %s", file, strerror(errno));
    return warn(x, "KMS_KEY_PROVIDER=local: keys derive from %s, not dstack; development only",
                file);
}

static mt_err
pccs_entry(struct cfg_ctx *x, const char *var, size_t idx, const char *s, size_t n, void *ud)
{
    struct mt_kms_config *c = x->c;
    const char *problem;

    (void)ud;
    if (c->num_pccs_urls >= MT_PCCS_MAX_URLS)
        return bad(x, var, "more than %u URLs", MT_PCCS_MAX_URLS);
    if (n > MT_PCCS_MAX_URL)
        return bad(x, var, "entry %zu is longer than %u bytes", idx, MT_PCCS_MAX_URL);
    /* Collateral is signed by Intel, so plain http (a local PCCS) is acceptable. */
    problem = check_url(s, n, 0);
    if (problem != NULL)
        return bad(x, var, "entry %zu %s", idx, problem);
    return push_str(&c->pccs_urls, &c->num_pccs_urls, s, n);
}

static mt_err
get_pccs(struct cfg_ctx *x)
{
    struct mt_kms_config *c = x->c;
    const char *s = env(x, "PCCS_URLS");

    if (s == NULL)
        return push_str(&c->pccs_urls, &c->num_pccs_urls, MT_KMS_DEFAULT_PCCS_URL,
                        strlen(MT_KMS_DEFAULT_PCCS_URL));
    MT_GUARD(csv_each(x, "PCCS_URLS", s, pccs_entry, NULL));
    if (c->num_pccs_urls == 0)
        return bad(x, "PCCS_URLS", "is set but lists no URL");
    return MT_OK;
}

static mt_err
get_files(struct cfg_ctx *x)
{
    struct mt_kms_config *c = x->c;

    MT_GUARD(get_path(x, "COLLATERAL_CACHE_DIR", MT_KMS_DEFAULT_COLLATERAL_DIR, 1, MT_KMS_MAX_PATH,
                      &c->collateral_cache_dir));
    MT_GUARD(
        get_path(x, "AUDIT_LOG_PATH", MT_KMS_DEFAULT_AUDIT_LOG, 0, MT_KMS_MAX_PATH, &c->audit_log));
    MT_GUARD(get_path(x, "KMS_TRUST_ROOT_FILE", NULL, 0, MT_KMS_MAX_PATH, &c->trust_root_file));
    if (c->trust_root_file == NULL)
        return MT_OK;
    if (access(c->trust_root_file, R_OK) != 0)
        return bad(x, "KMS_TRUST_ROOT_FILE", "cannot read %s: %s", c->trust_root_file,
                   strerror(errno));
    return warn(x,
                "KMS_TRUST_ROOT_FILE=%s: quotes are verified against this root instead of "
                "Intel's; DEVELOPMENT ONLY, never in production",
                c->trust_root_file);
}

static mt_err
tcb_entry(struct cfg_ctx *x, const char *var, size_t idx, const char *s, size_t n, void *ud)
{
    (void)var;
    (void)idx;
    (void)ud;
    return mt_policy_add_tcb(x->c->policy, s, n);
}

static mt_err
meas_entry(struct cfg_ctx *x, const char *var, size_t idx, const char *s, size_t n, void *ud)
{
    uint8_t m[MT_MEAS_LEN];

    if (mt_measurement_normalize_n(s, n, m) != MT_OK)
        return bad(x, var, "entry %zu: expected 48 bytes (96 hex characters, optional 0x)", idx);
    return mt_meas_list_add(ud, m);
}

/* USE_ENV_POLICY: ALLOWED_TCB_STATUSES and ALLOWED_MRTD / ALLOWED_RTMR0..3 (1.2). */
static mt_err
load_env_policy(struct cfg_ctx *x)
{
    static const char *const vars[5] = {"ALLOWED_MRTD", "ALLOWED_RTMR0", "ALLOWED_RTMR1",
                                        "ALLOWED_RTMR2", "ALLOWED_RTMR3"};
    struct mt_policy *p = x->c->policy;
    const char *s;
    size_t i;

    s = env(x, "ALLOWED_TCB_STATUSES");
    if (s != NULL) {
        /* Set, even to "", replaces the ["uptodate"] default. */
        mt_policy_clear_tcb(p);
        MT_GUARD(csv_each(x, "ALLOWED_TCB_STATUSES", s, tcb_entry, NULL));
    }
    for (i = 0; i < 5; i++) {
        s = env(x, vars[i]);
        if (s != NULL)
            MT_GUARD(csv_each(x, vars[i], s, meas_entry, i == 0 ? &p->mrtd : &p->rtmr[i - 1]));
    }
    return MT_OK;
}

static mt_err
warn_ignored(struct cfg_ctx *x)
{
    static const char *const policy_vars[] = {"ALLOWED_TCB_STATUSES", "ALLOWED_MRTD",
                                              "ALLOWED_RTMR0",        "ALLOWED_RTMR1",
                                              "ALLOWED_RTMR2",        "ALLOWED_RTMR3"};
    struct mt_kms_config *c = x->c;
    size_t i;

    if (c->use_env_policy) {
        if (c->has_version)
            MT_GUARD(warn(x, "MERO_KMS_VERSION is ignored because USE_ENV_POLICY=true"));
        if (c->has_policy_pin)
            MT_GUARD(warn(x, "MERO_KMS_POLICY_SHA256 is ignored because USE_ENV_POLICY=true"));
        return MT_OK;
    }
    for (i = 0; i < sizeof(policy_vars) / sizeof(policy_vars[0]); i++) {
        if (env(x, policy_vars[i]) != NULL)
            MT_GUARD(warn(x, "%s is ignored unless USE_ENV_POLICY=true", policy_vars[i]));
    }
    return MT_OK;
}

mt_err
mt_kms_policy_fetch(const struct mt_kms_config *c, struct mt_policy **out, char *reason,
                    size_t reason_len)
{
    struct mt_policy_source src;
    struct mt_policy *p = NULL;
    char inner[448];
    mt_err e;

    say(reason, reason_len, "%s", "");
    MT_ENSURE(c != NULL && out != NULL, MT_ERR_ARG);
    if (c->use_env_policy) {
        say(reason, reason_len, "USE_ENV_POLICY=true: the environment policy is not reloaded");
        return MT_ERR_ARG;
    }
    if (!c->has_version) {
        say(reason, reason_len, "MERO_KMS_VERSION is not set; release policy is not available yet");
        return MT_ERR_POLICY_NOT_READY;
    }
    memset(&src, 0, sizeof(src));
    src.base_url = c->release_base_url;
    src.dir = c->release_dir;
    src.version = c->version;
    src.profile = c->profile;
    src.pin = c->has_policy_pin ? c->policy_pin : NULL;
    src.subject = MT_POLICY_NODE;
    e = mt_policy_fetch_release(&src, &p, inner, sizeof(inner));
    if (e != MT_OK) {
        say(reason, reason_len, "Failed to load release policy for version '%s' profile '%s': %s",
            c->version, c->profile, inner);
        return e;
    }
    p->enforce = c->enforce;
    if (c->enforce && !c->accept_mock) {
        e = mt_policy_require_complete(p, inner, sizeof(inner));
        if (e != MT_OK) {
            say(reason, reason_len,
                "release policy for version '%s' profile '%s' is incomplete: %s", c->version,
                c->profile, inner);
            mt_policy_free(p);
            return e;
        }
    }
    *out = p;
    return MT_OK;
}

mt_err
mt_kms_policy_reload(struct mt_kms_config *c)
{
    struct mt_policy *p = NULL;
    char reason[sizeof(c->policy_reason)];
    mt_err e;

    MT_ENSURE(c != NULL, MT_ERR_ARG);
    if (c->use_env_policy)
        return MT_OK;
    e = mt_kms_policy_fetch(c, &p, reason, sizeof(reason));
    if (e == MT_OK) {
        mt_policy_free(c->policy);
        c->policy = p;
        c->policy_ready = 1;
        c->policy_reason[0] = '\0';
        return MT_OK;
    }
    /* A failed retry never takes a working policy away. */
    if (!c->policy_ready)
        memcpy(c->policy_reason, reason, sizeof(reason));
    return e;
}

static mt_err
load_policy(struct cfg_ctx *x)
{
    struct mt_kms_config *c = x->c;
    char inner[448];
    mt_err e;

    MT_GUARD(mt_policy_new_empty(&c->policy));
    if (c->use_env_policy) {
        MT_GUARD(load_env_policy(x));
        c->policy->enforce = c->enforce;
        c->policy_ready = 1;
        if (c->enforce && !c->accept_mock &&
            mt_policy_require_complete(c->policy, inner, sizeof(inner)) != MT_OK)
            return bad(x, "USE_ENV_POLICY",
                       "%s (set ALLOWED_TCB_STATUSES, ALLOWED_MRTD and "
                       "ALLOWED_RTMR0..3, or ENFORCE_MEASUREMENT_POLICY=false)",
                       inner);
        return MT_OK;
    }
    c->policy->enforce = c->enforce;
    e = mt_kms_policy_reload(c);
    if (e == MT_ERR_CONFIG) {
        say(x->why, x->why_len, "ENFORCE_MEASUREMENT_POLICY: %s", c->policy_reason);
        return e;
    }
    if (e == MT_ERR_NOMEM)
        return e;
    /* Anything else leaves the service degraded with policy_reason set, as the reference. */
    return MT_OK;
}

void
mt_kms_config_free(struct mt_kms_config *c)
{
    if (c == NULL)
        return;
    if (c->redis_url != NULL) {
        OPENSSL_cleanse(c->redis_url, strlen(c->redis_url));
        mt_free(c->redis_url);
    }
    free_strs(c->cors_origins, c->num_cors_origins);
    mt_free(c->release_base_url);
    mt_free(c->release_dir);
    mt_policy_free(c->policy);
    mt_free(c->local_root_key_file);
    free_strs(c->pccs_urls, c->num_pccs_urls);
    mt_free(c->collateral_cache_dir);
    mt_free(c->trust_root_file);
    mt_free(c->audit_log);
    mt_free(c->profile_pin_file);
    free_strs(c->warnings, c->num_warnings);
    mt_free(c);
}

mt_err
mt_kms_config_load(mt_env_get_fn get, void *arg, struct mt_kms_config **out, char *why,
                   size_t why_len)
{
    struct cfg_ctx x;
    struct mt_kms_config *c;
    uint64_t v;
    mt_err e;

    say(why, why_len, "%s", "");
    MT_ENSURE(get != NULL && out != NULL, MT_ERR_ARG);
    c = mt_calloc(1, sizeof(*c));
    MT_ENSURE(c != NULL, MT_ERR_NOMEM);
    x.get = get;
    x.arg = arg;
    x.why = why;
    x.why_len = why_len;
    x.c = c;

    MT_GUARD_GOTO(get_listen(&x), e, out);
    MT_GUARD_GOTO(get_dstack_socket(&x), e, out);
    MT_GUARD_GOTO(get_uint(&x, "CHALLENGE_TTL_SECS", MT_KMS_DEFAULT_TTL, 1, MT_KMS_MAX_TTL, &v), e,
                  out);
    c->challenge_ttl = v;
    MT_GUARD_GOTO(get_uint(&x, "MAX_PENDING_CHALLENGES", MT_KMS_DEFAULT_MAX_PENDING, 1,
                           MT_KMS_MAX_PENDING_LIMIT, &v),
                  e, out);
    c->max_pending = (size_t)v;
    MT_GUARD_GOTO(get_uint(&x, "MAX_PENDING_CHALLENGES_PER_PEER",
                           MT_KMS_DEFAULT_MAX_PENDING_PER_PEER, 1, MT_KMS_MAX_PENDING_LIMIT, &v),
                  e, out);
    c->max_pending_per_peer = (size_t)v;
    /* Unset: 0, the machine's default (main.c); set: 1..63. */
    MT_GUARD_GOTO(get_uint(&x, "HTTP_WORKERS", 0, 1, MT_KMS_MAX_WORKERS, &v), e, out);
    c->http_workers = (unsigned)v;
    MT_GUARD_GOTO(get_uint(&x, "AUDIT_SYNC_INTERVAL_US", MT_KMS_DEFAULT_AUDIT_SYNC_INTERVAL_US, 0,
                           MT_KMS_MAX_AUDIT_SYNC_INTERVAL_US, &v),
                  e, out);
    c->audit_sync_interval_us = (uint32_t)v;
    MT_GUARD_GOTO(get_bool(&x, "ACCEPT_MOCK_ATTESTATION", 0, &c->accept_mock), e, out);
    MT_GUARD_GOTO(get_redis(&x), e, out);
    MT_GUARD_GOTO(get_profile(&x), e, out);
    MT_GUARD_GOTO(get_prefix(&x), e, out);
    MT_GUARD_GOTO(get_cors(&x), e, out);
    MT_GUARD_GOTO(get_bool(&x, "ENFORCE_MEASUREMENT_POLICY", 1, &c->enforce), e, out);
    MT_GUARD_GOTO(get_bool(&x, "USE_ENV_POLICY", 0, &c->use_env_policy), e, out);
    MT_GUARD_GOTO(get_version(&x), e, out);
    MT_GUARD_GOTO(get_pin(&x), e, out);
    MT_GUARD_GOTO(get_release(&x), e, out);
    MT_GUARD_GOTO(get_keys(&x), e, out);
    MT_GUARD_GOTO(get_pccs(&x), e, out);
    MT_GUARD_GOTO(get_files(&x), e, out);
    MT_GUARD_GOTO(warn_ignored(&x), e, out);
    if (c->accept_mock)
        MT_GUARD_GOTO(warn(&x, "ACCEPT_MOCK_ATTESTATION=true: mock attestations are accepted; "
                               "never use this in production"),
                      e, out);
    if (!c->enforce)
        MT_GUARD_GOTO(warn(&x, "ENFORCE_MEASUREMENT_POLICY=false: TCB status and measurements "
                               "are not checked"),
                      e, out);
    MT_GUARD_GOTO(load_policy(&x), e, out);
    *out = c;
    c = NULL;
out:
    if (e == MT_ERR_NOMEM)
        say(why, why_len, "out of memory while loading the configuration");
    mt_kms_config_free(c);
    return e;
}
