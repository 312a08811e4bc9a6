#include "sidecar/sidecar.h"

#include <string.h>

#include <curl/curl.h>

#include "util/mt_alloc.h"

/*
 * One HTTP exchange through libcurl.  TLS verification is never switched
 * off: the only knob is a CA bundle (docs/fleet-sidecar.md).  Redirects are
 * not followed, only http and https are spoken, no proxy from the
 * environment is used, and the body stops at max_body.
 */

struct sink {
    struct mt_buf *b;
    int too_large;
};

static size_t
on_data(char *p, size_t size, size_t nmemb, void *arg)
{
    struct sink *s = arg;
    size_t n = size * nmemb;

    if (mt_buf_append(s->b, p, n) != MT_OK) {
        s->too_large = 1;
        return 0;
    }
    return n;
}

void
sc_http_resp_free(struct sc_http_resp *r)
{
    if (r == NULL)
        return;
    mt_buf_free_secret(&r->body);
    r->status = 0;
}

mt_err
sc_http_request(const struct sc_http_opts *o, const char *url, const char *const *headers,
                const char *body, struct sc_http_resp *r)
{
    struct curl_slist *hl = NULL, *t;
    struct sink sink;
    CURLcode cc;
    CURL *h;
    mt_err e = MT_OK;
    size_t i;

    memset(r, 0, sizeof(*r));
    mt_buf_init(&r->body, o->max_body);
    sink.b = &r->body;
    sink.too_large = 0;
    h = curl_easy_init();
    MT_ENSURE(h != NULL, MT_ERR_NOMEM);
    if (body != NULL) {
        t = curl_slist_append(hl, "Content-Type: application/json");
        MT_ENSURE_GOTO(t != NULL, MT_ERR_NOMEM, e, out);
        hl = t;
    }
    for (i = 0; headers != NULL && headers[i] != NULL; i++) {
        t = curl_slist_append(hl, headers[i]);
        MT_ENSURE_GOTO(t != NULL, MT_ERR_NOMEM, e, out);
        hl = t;
    }
    t = curl_slist_append(hl, "Expect:");
    MT_ENSURE_GOTO(t != NULL, MT_ERR_NOMEM, e, out);
    hl = t;
    if (curl_easy_setopt(h, CURLOPT_URL, url) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_NOPROXY, "*") != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, o->timeout_ms) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, o->timeout_ms) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)o->max_body) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_USERAGENT, "mero-fleet-sidecar") != CURLE_OK) {
        e = MT_ERR_INTERNAL;
        goto out;
    }
    if (o->ca_file != NULL && curl_easy_setopt(h, CURLOPT_CAINFO, o->ca_file) != CURLE_OK) {
        e = MT_ERR_INTERNAL;
        goto out;
    }
    if (body != NULL &&
        (curl_easy_setopt(h, CURLOPT_POSTFIELDS, body) != CURLE_OK ||
         curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body)) != CURLE_OK)) {
        e = MT_ERR_INTERNAL;
        goto out;
    }
    cc = curl_easy_perform(h);
    if (sink.too_large || cc == CURLE_FILESIZE_EXCEEDED) {
        snprintf(r->error, sizeof(r->error), "response body over %zu bytes", o->max_body);
        e = MT_ERR_TOO_LARGE;
        goto out;
    }
    if (cc != CURLE_OK) {
        snprintf(r->error, sizeof(r->error), "%s", curl_easy_strerror(cc));
        e = MT_ERR_NETWORK;
        goto out;
    }
    (void)curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
out:
    curl_slist_free_all(hl);
    curl_easy_cleanup(h);
    return e;
}
