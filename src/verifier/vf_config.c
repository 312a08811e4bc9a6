#include "verifier/verifier.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/mt_alloc.h"
#include "util/mt_file.h"

/*
 * mero-verifier configuration from the environment (docs/verifier.md),
 * every invalid value fatal with a message naming the variable, as the
 * KMS does.  Read only through the injected getter.
 */

#ifndef MTV_DEFAULT_WEB_DIR
#define MTV_DEFAULT_WEB_DIR "web"
#endif

#define MTV_DEFAULT_ITA_URL "https://api.trustauthority.intel.com/appraisal/v2/attest"
#define MTV_DEFAULT_ITA_JWKS "https://portal.trustauthority.intel.com/certs"
#define MTV_DEFAULT_ITA_ISSUER "https://portal.trustauthority.intel.com"
#define MTV_DEFAULT_PCCS "https://api.trustedservices.intel.com/tdx/certification/v4"

__attribute__((format(printf, 4, 5))) static mt_err
bad(char *why, size_t why_len, const char *var, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (why != NULL && why_len > 0)
        snprintf(why, why_len, "%s: %s", var, msg);
    return MT_ERR_CONFIG;
}

static void
warn(struct mtv_config *c, const char *msg)
{
    if (c->num_warnings < 4)
        snprintf(c->warnings[c->num_warnings++], sizeof(c->warnings[0]), "%s", msg);
}

/* Copy a string variable (unset or empty keeps def). */
static mt_err
get_str(mtv_env_fn get, void *arg, const char *var, const char *def, char *out, size_t out_len,
        char *why, size_t why_len)
{
    const char *v = get(var, arg);
    size_t i;

    if (v == NULL || v[0] == '\0')
        v = def;
    if (strlen(v) >= out_len)
        return bad(why, why_len, var, "longer than %zu bytes", out_len - 1);
    for (i = 0; v[i] != '\0'; i++)
        if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
            return bad(why, why_len, var, "control character at offset %zu", i);
    snprintf(out, out_len, "%s", v);
    return MT_OK;
}

static mt_err
get_bool(mtv_env_fn get, void *arg, const char *var, int *out, char *why, size_t why_len)
{
    const char *v = get(var, arg);

    if (v == NULL || v[0] == '\0' || strcmp(v, "0") == 0 || strcmp(v, "false") == 0)
        *out = 0;
    else if (strcmp(v, "1") == 0 || strcmp(v, "true") == 0)
        *out = 1;
    else
        return bad(why, why_len, var, "want 0 or 1, got \"%.40s\"", v);
    return MT_OK;
}

/* Split a CSV into out[][w]; empty entries are refused; check(entry) may refuse. */
static mt_err
get_csv(mtv_env_fn get, void *arg, const char *var, char *out, size_t w, size_t *n,
        int (*check)(const char *), char *why, size_t why_len)
{
    const char *v = get(var, arg), *p, *end;
    size_t len;

    *n = 0;
    if (v == NULL || v[0] == '\0')
        return MT_OK;
    p = v;
    for (;;) {
        end = strchr(p, ',');
        len = end == NULL ? strlen(p) : (size_t)(end - p);
        while (len > 0 && (*p == ' ' || *p == '\t')) {
            p++;
            len--;
        }
        while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        if (len == 0)
            return bad(why, why_len, var, "empty entry %zu", *n);
        if (len >= w)
            return bad(why, why_len, var, "entry %zu is longer than %zu bytes", *n, w - 1);
        if (*n >= MTV_MAX_LIST)
            return bad(why, why_len, var, "more than %u entries", MTV_MAX_LIST);
        memcpy(out + *n * w, p, len);
        out[*n * w + len] = '\0';
        if (check != NULL && !check(out + *n * w))
            return bad(why, why_len, var, "invalid entry \"%.80s\"", out + *n * w);
        (*n)++;
        if (end == NULL)
            break;
        p = end + 1;
    }
    return MT_OK;
}

/* A host name or ".suffix": lowercase letters, digits, '-', '.', or an IP literal. */
static int
host_ok(const char *h)
{
    size_t i, n = strlen(h);
    uint8_t tmp[16];

    if (inet_pton(AF_INET, h, tmp) == 1 || inet_pton(AF_INET6, h, tmp) == 1)
        return 1;
    if (n == 0 || n > 253 || (h[0] == '.' && n == 1) || h[n - 1] == '.')
        return 0;
    for (i = 0; i < n; i++) {
        char ch = h[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '.'))
            return 0;
        if (ch == '.' && i + 1 < n && h[i + 1] == '.')
            return 0;
    }
    return 1;
}

/* An origin: scheme://host[:port], no path. */
static int
origin_ok(const char *o)
{
    const char *h;

    if (strncmp(o, "https://", 8) == 0)
        h = o + 8;
    else if (strncmp(o, "http://", 7) == 0)
        h = o + 7;
    else
        return 0;
    if (*h == '\0' || strchr(h, '/') != NULL)
        return 0;
    for (; *h != '\0'; h++)
        if ((unsigned char)*h <= 0x20 || *h == 0x7f || *h == ',' || *h == '"')
            return 0;
    return 1;
}

static int
url_ok(const char *u)
{
    return strncmp(u, "https://", 8) == 0 || strncmp(u, "http://", 7) == 0;
}

static mt_err
get_listen(mtv_env_fn get, void *arg, struct mtv_config *c, char *why, size_t why_len)
{
    const char *v = get("VERIFIER_LISTEN", arg), *colon;
    uint8_t tmp[16];
    char *end;
    unsigned long port;
    size_t hl;

    if (v == NULL || v[0] == '\0')
        v = "127.0.0.1:8090";
    colon = strrchr(v, ':');
    if (colon == NULL)
        return bad(why, why_len, "VERIFIER_LISTEN", "want HOST:PORT");
    hl = (size_t)(colon - v);
    if (hl >= 2 && v[0] == '[' && v[hl - 1] == ']') {
        v++;
        hl -= 2;
    }
    if (hl == 0 || hl >= sizeof(c->listen_host))
        return bad(why, why_len, "VERIFIER_LISTEN", "bad host");
    memcpy(c->listen_host, v, hl);
    c->listen_host[hl] = '\0';
    if (inet_pton(AF_INET, c->listen_host, tmp) != 1 &&
        inet_pton(AF_INET6, c->listen_host, tmp) != 1)
        return bad(why, why_len, "VERIFIER_LISTEN", "%s is not an IP address", c->listen_host);
    if (colon[1] < '0' || colon[1] > '9')
        return bad(why, why_len, "VERIFIER_LISTEN", "bad port");
    port = strtoul(colon + 1, &end, 10);
    if (*end != '\0' || port > 65535 || strlen(colon + 1) > 5)
        return bad(why, why_len, "VERIFIER_LISTEN", "bad port");
    c->listen_port = (uint16_t)port;
    return MT_OK;
}

/* VERIFIER_ALLOWED_PORTS: comma-separated ports 1..65535. */
static mt_err
get_ports(mtv_env_fn get, void *arg, struct mtv_config *c, char *why, size_t why_len)
{
    const char *v = get("VERIFIER_ALLOWED_PORTS", arg);
    char *end;
    unsigned long n;

    c->num_allowed_ports = 0;
    if (v == NULL || v[0] == '\0')
        return MT_OK;
    for (;;) {
        if (*v < '0' || *v > '9' || c->num_allowed_ports >= MTV_MAX_LIST)
            return bad(why, why_len, "VERIFIER_ALLOWED_PORTS", "want up to %u ports 1..65535",
                       MTV_MAX_LIST);
        n = strtoul(v, &end, 10);
        if (n == 0 || n > 65535 || end - v > 5 || (*end != ',' && *end != '\0'))
            return bad(why, why_len, "VERIFIER_ALLOWED_PORTS", "want up to %u ports 1..65535",
                       MTV_MAX_LIST);
        c->allowed_ports[c->num_allowed_ports++] = (uint16_t)n;
        if (*end == '\0')
            return MT_OK;
        v = end + 1;
    }
}

static mt_err
load(mtv_env_fn get, void *arg, struct mtv_config *c, char *why, size_t why_len)
{
    const char *v;
    char path[MTV_MAX_STR], *end;
    unsigned long n;
    size_t i, np;

    MT_GUARD(get_listen(get, arg, c, why, why_len));
    MT_GUARD(get_str(get, arg, "VERIFIER_WEB_DIR", MTV_DEFAULT_WEB_DIR, c->web_dir,
                     sizeof(c->web_dir), why, why_len));
    MT_GUARD(get_csv(get, arg, "PCCS_URLS", &c->pccs_urls[0][0], MTV_MAX_STR, &np, url_ok, why,
                     why_len));
    c->num_pccs_urls = np;
    if (np == 0) {
        snprintf(c->pccs_urls[0], MTV_MAX_STR, "%s", MTV_DEFAULT_PCCS);
        c->num_pccs_urls = 1;
    }
    MT_GUARD(get_str(get, arg, "COLLATERAL_CACHE_DIR", "", c->cache_dir, sizeof(c->cache_dir), why,
                     why_len));
    MT_GUARD(get_str(get, arg, "VERIFIER_TRUST_ROOT_FILE", "", path, sizeof(path), why, why_len));
    if (path[0] != '\0') {
        if (mt_file_read(path, 64u * 1024u, &c->root_der, &c->root_der_len) != MT_OK ||
            c->root_der_len == 0)
            return bad(why, why_len, "VERIFIER_TRUST_ROOT_FILE", "cannot read %s", path);
        warn(c, "VERIFIER_TRUST_ROOT_FILE: quotes are verified against a development root, not "
                "Intel's");
    }
    MT_GUARD(get_str(get, arg, "VERIFIER_RELEASE_DIR", "", c->release_dir, sizeof(c->release_dir),
                     why, why_len));
    MT_GUARD(get_str(get, arg, "VERIFIER_RELEASE_BASE_URL", "", c->release_base_url,
                     sizeof(c->release_base_url), why, why_len));
    if (c->release_base_url[0] != '\0' && !url_ok(c->release_base_url))
        return bad(why, why_len, "VERIFIER_RELEASE_BASE_URL", "want an http(s) URL");
    MT_GUARD(get_str(get, arg, "VERIFIER_RELEASE_TRUSTED_ROOT", "", c->release_trusted_root,
                     sizeof(c->release_trusted_root), why, why_len));
    MT_GUARD(get_str(get, arg, "VERIFIER_RELEASE_KEY", "", c->release_key, sizeof(c->release_key),
                     why, why_len));
    MT_GUARD(get_csv(get, arg, "VERIFIER_ALLOWED_HOSTS", &c->allowed_hosts[0][0], 256, &np, host_ok,
                     why, why_len));
    c->num_allowed_hosts = np;
    for (i = 0; i < np; i++)
        for (end = c->allowed_hosts[i]; *end != '\0'; end++)
            if (*end >= 'A' && *end <= 'Z')
                *end = (char)(*end - 'A' + 'a');
    if (np == 0)
        warn(c, "VERIFIER_ALLOWED_HOSTS is unset: any public host may be a target; production "
                "must set it");
    MT_GUARD(get_ports(get, arg, c, why, why_len));
    MT_GUARD(get_bool(get, arg, "VERIFIER_ALLOW_HTTP", &c->allow_http, why, why_len));
    MT_GUARD(get_bool(get, arg, "VERIFIER_ALLOW_PRIVATE", &c->allow_private, why, why_len));
    if (c->allow_private)
        warn(c, "VERIFIER_ALLOW_PRIVATE=1: private and loopback targets are allowed "
                "(development only)");
    v = get("VERIFIER_RATE_LIMIT", arg);
    c->rate_limit = 30;
    if (v != NULL && v[0] != '\0') {
        if (v[0] < '0' || v[0] > '9' || strlen(v) > 6)
            return bad(why, why_len, "VERIFIER_RATE_LIMIT", "want 0..100000 requests per minute");
        n = strtoul(v, &end, 10);
        if (*end != '\0' || n > 100000)
            return bad(why, why_len, "VERIFIER_RATE_LIMIT", "want 0..100000 requests per minute");
        c->rate_limit = (unsigned)n;
    }
    MT_GUARD(get_csv(get, arg, "CORS_ALLOWED_ORIGINS", &c->cors_origins[0][0], 256, &np, origin_ok,
                     why, why_len));
    c->num_cors_origins = np;
    MT_GUARD(
        get_str(get, arg, "ITA_API_KEY", "", c->ita_api_key, sizeof(c->ita_api_key), why, why_len));
    MT_GUARD(get_str(get, arg, "ITA_URL", MTV_DEFAULT_ITA_URL, c->ita_url, sizeof(c->ita_url), why,
                     why_len));
    if (!url_ok(c->ita_url))
        return bad(why, why_len, "ITA_URL", "want an http(s) URL");
    MT_GUARD(get_str(get, arg, "ITA_JWKS_URL", MTV_DEFAULT_ITA_JWKS, c->ita_jwks_url,
                     sizeof(c->ita_jwks_url), why, why_len));
    if (!url_ok(c->ita_jwks_url))
        return bad(why, why_len, "ITA_JWKS_URL", "want an http(s) URL");
    MT_GUARD(get_str(get, arg, "ITA_ISSUER", MTV_DEFAULT_ITA_ISSUER, c->ita_issuer,
                     sizeof(c->ita_issuer), why, why_len));
    c->connect_timeout_ms = 5000;
    c->timeout_ms = 20000;
    return MT_OK;
}

mt_err
mtv_config_load(mtv_env_fn get, void *arg, struct mtv_config **out, char *why, size_t why_len)
{
    struct mtv_config *c;
    mt_err e;

    MT_ENSURE(get != NULL && out != NULL, MT_ERR_ARG);
    c = mt_calloc(1, sizeof(*c));
    MT_ENSURE(c != NULL, MT_ERR_NOMEM);
    e = load(get, arg, c, why, why_len);
    if (e != MT_OK) {
        mtv_config_free(c);
        return e;
    }
    *out = c;
    return MT_OK;
}

void
mtv_config_free(struct mtv_config *c)
{
    if (c == NULL)
        return;
    mt_free(c->root_der);
    mt_free(c);
}
