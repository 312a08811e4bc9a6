#include "kmsclient/kc_http.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "util/mt_alloc.h"

struct mt_kc_http {
    CURL *curl;
    CURLU *base;     /* the parsed base URL */
    char *base_path; /* its path, ending in '/' */
    int loopback;    /* host is a loopback IP literal */
    int plain;       /* scheme is http */
    char errbuf[CURL_ERROR_SIZE];
};

/* Response limits up to this are allocated whole before receiving (see mt_kc_http_post). */
#define MT_KC_HTTP_PREALLOC (64u * 1024u)
static const uint8_t zero_block[MT_KC_HTTP_PREALLOC];

static const char *const request_headers[] = {
    "Content-Type: application/json", "Accept: application/json",
    "Expect:", /* no 100-continue round trip for larger bodies */
};

struct body_sink {
    struct mt_buf *buf;
    int too_large;
};

void
mt_kc_http_opts_init(struct mt_kc_http_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->connect_timeout_ms = MT_KC_DEFAULT_CONNECT_TIMEOUT_MS;
    o->timeout_ms = MT_KC_DEFAULT_TIMEOUT_MS;
}

static void why_set(char *why, size_t why_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
why_set(char *why, size_t why_len, const char *fmt, ...)
{
    va_list ap;

    if (why == NULL || why_len == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(why, why_len, fmt, ap);
    va_end(ap);
}

/* 127.0.0.0/8 or ::1, as text exactly as libcurl normalised the host. */
static int
host_is_loopback(const char *host)
{
    struct in_addr a4;
    struct in6_addr a6;
    char tmp[64];
    size_t n = strlen(host);

    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (n >= 2 && n < sizeof(tmp) && host[0] == '[' && host[n - 1] == ']') {
        memcpy(tmp, host + 1, n - 2);
        tmp[n - 2] = '\0';
        return inet_pton(AF_INET6, tmp, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
    }
    return 0;
}

static mt_err
parse_url(struct mt_kc_http *h, const char *url, int insecure_http, const char **code, char *why,
          size_t why_len)
{
    char *scheme = NULL, *host = NULL, *path = NULL;
    size_t n;
    mt_err e = MT_ERR_ARG;

    *code = "KMS_ENDPOINT_URL_INVALID";
    if (strlen(url) > MT_KC_MAX_URL) {
        why_set(why, why_len, "KMS URL is longer than %u bytes", MT_KC_MAX_URL);
        return MT_ERR_ARG;
    }
    h->base = curl_url();
    if (h->base == NULL)
        return MT_ERR_NOMEM;
    if (curl_url_set(h->base, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(h->base, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(h->base, CURLUPART_HOST, &host, 0) != CURLUE_OK || host[0] == '\0' ||
        curl_url_get(h->base, CURLUPART_PATH, &path, 0) != CURLUE_OK) {
        why_set(why, why_len, "invalid KMS URL '%s': expected https://HOST[:PORT][/PATH]", url);
        goto out;
    }
    if (strcmp(scheme, "https") != 0 && strcmp(scheme, "http") != 0) {
        why_set(why, why_len, "unsupported KMS URL scheme '%s' in '%s' (only https and http)",
                scheme, url);
        goto out;
    }
    h->plain = strcmp(scheme, "http") == 0;
    h->loopback = host_is_loopback(host);
    if (h->plain && !h->loopback && !insecure_http) {
        *code = "KMS_HTTP_INSECURE";
        why_set(why, why_len,
                "refusing plain http to '%s': only https, or http to a loopback IP literal "
                "(127.0.0.0/8, [::1]); the name localhost does not count",
                host);
        goto out;
    }
    /* ensure_trailing_slash: the endpoints are joined below the base path */
    n = strlen(path);
    h->base_path = mt_malloc(n + 2);
    if (h->base_path == NULL) {
        e = MT_ERR_NOMEM;
        goto out;
    }
    memcpy(h->base_path, path, n + 1);
    if (n == 0 || path[n - 1] != '/') {
        h->base_path[n] = '/';
        h->base_path[n + 1] = '\0';
    }
    e = MT_OK;
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(path);
    return e;
}

static size_t
on_body(char *p, size_t size, size_t nmemb, void *arg)
{
    struct body_sink *s = arg;

    if (mt_buf_append(s->buf, p, size * nmemb) != MT_OK) {
        s->too_large = 1;
        return 0; /* aborts the transfer */
    }
    return size * nmemb;
}

mt_err
mt_kc_http_new(const struct mt_kc_http_opts *o, struct mt_kc_http **out, const char **code,
               char *why, size_t why_len)
{
    struct mt_kc_http *h;
    long cto, to;
    int ok = 1;
    mt_err e;

    if (why != NULL && why_len > 0)
        why[0] = '\0';
    *code = "KMS_HTTP_CLIENT_SETUP_FAILED";
    MT_ENSURE(o != NULL && out != NULL, MT_ERR_ARG);
    if (o->url == NULL || o->url[0] == '\0') {
        *code = "KMS_PROVIDER_NOT_CONFIGURED";
        why_set(why, why_len, "no KMS URL is configured");
        return MT_ERR_ARG;
    }
    cto = o->connect_timeout_ms > 0 ? o->connect_timeout_ms : MT_KC_DEFAULT_CONNECT_TIMEOUT_MS;
    to = o->timeout_ms > 0 ? o->timeout_ms : MT_KC_DEFAULT_TIMEOUT_MS;
    h = mt_calloc(1, sizeof(*h));
    MT_ENSURE(h != NULL, MT_ERR_NOMEM);
    e = parse_url(h, o->url, o->insecure_http, code, why, why_len);
    if (e != MT_OK)
        goto fail;
    *code = "KMS_HTTP_CLIENT_SETUP_FAILED";
    h->curl = curl_easy_init();
    if (h->curl == NULL) {
        e = MT_ERR_INTERNAL;
        why_set(why, why_len, "cannot create an HTTP client");
        goto fail;
    }
    ok &= curl_easy_setopt(h->curl, CURLOPT_NOSIGNAL, 1L) == CURLE_OK;
    ok &= curl_easy_setopt(h->curl, CURLOPT_ERRORBUFFER, h->errbuf) == CURLE_OK;
    ok &= curl_easy_setopt(h->curl, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK;
    ok &= curl_easy_setopt(h->curl, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK;
    ok &= curl_easy_setopt(h->curl, CURLOPT_CONNECTTIMEOUT_MS, cto) == CURLE_OK;
    ok &= curl_easy_setopt(h->curl, CURLOPT_TIMEOUT_MS, to) == CURLE_OK;
    ok &= curl_easy_setopt(h->curl, CURLOPT_SSL_VERIFYPEER, 1L) == CURLE_OK;
    ok &= curl_easy_setopt(h->curl, CURLOPT_SSL_VERIFYHOST, 2L) == CURLE_OK;
    ok &= curl_easy_setopt(h->curl, CURLOPT_USERAGENT, "mero-tee-node/1.0") == CURLE_OK;
    ok &= curl_easy_setopt(h->curl, CURLOPT_WRITEFUNCTION, on_body) == CURLE_OK;
    if (o->ca_file != NULL)
        ok &= curl_easy_setopt(h->curl, CURLOPT_CAINFO, o->ca_file) == CURLE_OK;
    /* A loopback KMS is never reached through a proxy; otherwise as configured. */
    if (h->loopback)
        ok &= curl_easy_setopt(h->curl, CURLOPT_PROXY, "") == CURLE_OK;
    else if (o->proxy != NULL)
        ok &= curl_easy_setopt(h->curl, CURLOPT_PROXY, o->proxy) == CURLE_OK;
    if (!ok) {
        e = MT_ERR_INTERNAL;
        why_set(why, why_len, "libcurl refused an option (is it built with http and https?)");
        goto fail;
    }
    *out = h;
    return MT_OK;
fail:
    mt_kc_http_free(h);
    return e;
}

void
mt_kc_http_free(struct mt_kc_http *h)
{
    if (h == NULL)
        return;
    curl_easy_cleanup(h->curl);
    curl_url_cleanup(h->base);
    mt_free(h->base_path);
    mt_free(h);
}

int
mt_kc_http_is_loopback(const struct mt_kc_http *h)
{
    return h != NULL && h->loopback;
}

int
mt_kc_http_is_plain(const struct mt_kc_http *h)
{
    return h != NULL && h->plain;
}

/* A copy of the base URL pointing at the endpoint. */
static mt_err
endpoint_url(const struct mt_kc_http *h, const char *name, CURLU **out)
{
    size_t bl = strlen(h->base_path), nl = strlen(name);
    char *path;
    CURLU *u;
    int ok;

    MT_ENSURE(nl > 0 && strchr(name, '/') == NULL && strchr(name, '?') == NULL, MT_ERR_ARG);
    path = mt_malloc(bl + nl + 1);
    MT_ENSURE(path != NULL, MT_ERR_NOMEM);
    memcpy(path, h->base_path, bl);
    memcpy(path + bl, name, nl + 1);
    u = curl_url_dup(h->base);
    ok = u != NULL && curl_url_set(u, CURLUPART_PATH, path, 0) == CURLUE_OK &&
         curl_url_set(u, CURLUPART_QUERY, NULL, 0) == CURLUE_OK &&
         curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0) == CURLUE_OK;
    mt_free(path);
    if (!ok) {
        curl_url_cleanup(u);
        return MT_ERR_NOMEM;
    }
    *out = u;
    return MT_OK;
}

mt_err
mt_kc_http_endpoint(const struct mt_kc_http *h, const char *name, char **out)
{
    CURLU *u = NULL;
    char *s = NULL;
    mt_err e;

    MT_ENSURE(h != NULL && name != NULL && out != NULL, MT_ERR_ARG);
    MT_GUARD(endpoint_url(h, name, &u));
    e = curl_url_get(u, CURLUPART_URL, &s, 0) == CURLUE_OK ? MT_OK : MT_ERR_NOMEM;
    if (e == MT_OK) {
        *out = mt_strdup(s);
        if (*out == NULL)
            e = MT_ERR_NOMEM;
    }
    curl_free(s);
    curl_url_cleanup(u);
    return e;
}

void
mt_kc_response_free(struct mt_kc_response *resp)
{
    if (resp == NULL)
        return;
    mt_buf_free_secret(&resp->body);
}

mt_err
mt_kc_http_post(struct mt_kc_http *h, const char *endpoint, const char *json, size_t len,
                size_t max_body, struct mt_kc_response *resp)
{
    struct curl_slist *hdrs = NULL, *t;
    struct body_sink sink;
    CURLU *u = NULL;
    CURLcode rc;
    int ok = 1;
    mt_err e;

    MT_ENSURE(resp != NULL, MT_ERR_ARG);
    memset(resp, 0, sizeof(*resp));
    mt_buf_init(&resp->body, max_body);
    MT_ENSURE(h != NULL && endpoint != NULL && json != NULL && max_body > 0, MT_ERR_ARG);
    /*
     * Small bodies (the one carrying the key among them) get their whole
     * buffer now, so it never moves while filling: a realloc would leave
     * an unwiped copy of what was received so far.
     */
    if (max_body <= MT_KC_HTTP_PREALLOC) {
        MT_GUARD(mt_buf_append(&resp->body, zero_block, max_body));
        resp->body.len = 0;
    }
    MT_GUARD(endpoint_url(h, endpoint, &u));
    sink.buf = &resp->body;
    sink.too_large = 0;
    h->errbuf[0] = '\0';
    for (size_t i = 0; i < sizeof(request_headers) / sizeof(request_headers[0]); i++) {
        t = curl_slist_append(hdrs, request_headers[i]);
        if (t == NULL) {
            e = MT_ERR_NOMEM;
            goto out;
        }
        hdrs = t;
    }
    ok &= curl_easy_setopt(h->curl, CURLOPT_CURLU, u) == CURLE_OK;
    ok &= curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, hdrs) == CURLE_OK;
    ok &= curl_easy_setopt(h->curl, CURLOPT_POST, 1L) == CURLE_OK;
    ok &= curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, json) == CURLE_OK;
    ok &= curl_easy_setopt(h->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len) == CURLE_OK;
    ok &= curl_easy_setopt(h->curl, CURLOPT_WRITEDATA, &sink) == CURLE_OK;
    ok &= curl_easy_setopt(h->curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max_body) == CURLE_OK;
    if (!ok) {
        e = MT_ERR_INTERNAL;
        goto out;
    }
    rc = curl_easy_perform(h->curl);
    if (sink.too_large || rc == CURLE_FILESIZE_EXCEEDED) {
        (void)curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &resp->status);
        snprintf(resp->error, sizeof(resp->error), "response body exceeds %zu bytes", max_body);
        e = MT_ERR_TOO_LARGE;
        goto out;
    }
    if (rc != CURLE_OK) {
        snprintf(resp->error, sizeof(resp->error), "%s",
                 h->errbuf[0] != '\0' ? h->errbuf : curl_easy_strerror(rc));
        e = MT_ERR_NETWORK;
        goto out;
    }
    if (curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &resp->status) != CURLE_OK ||
        resp->status < 100) {
        snprintf(resp->error, sizeof(resp->error), "no HTTP status received");
        e = MT_ERR_NETWORK;
        goto out;
    }
    /* An empty body still reads as "" */
    e = mt_buf_append(&resp->body, "", 0);
out:
    /* The handle must not keep pointers to what is freed here. */
    (void)curl_easy_setopt(h->curl, CURLOPT_CURLU, NULL);
    (void)curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, NULL);
    (void)curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, NULL);
    curl_slist_free_all(hdrs);
    curl_url_cleanup(u);
    return e;
}
