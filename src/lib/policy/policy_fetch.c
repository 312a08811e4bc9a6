#include "policy/policy.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "util/mt_alloc.h"
#include "util/mt_buf.h"
#include "util/mt_hex.h"

/*
 * Release policy fetch (mero-tee-reference.md 1.4 "Release fetch"): the
 * candidate order and the per-candidate rules of the reference, over
 * libcurl or a local directory of release assets.
 */

/* What one candidate produced. */
enum cand_outcome {
    CAND_BODY, /* a 2xx body (or a file) is in x->body */
    CAND_NEXT, /* 404 or transport error: try the next candidate */
    CAND_STOP, /* anything else: final, with an error */
};

struct fetch_xfer {
    CURL *h;
    struct mt_buf body;
    size_t discarded; /* bytes of a non-2xx body thrown away */
    int discard_full; /* a non-2xx body went past the limit */
    mt_err cb_err;    /* why on_body stopped the transfer */
    char errbuf[CURL_ERROR_SIZE];
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

/* Release versions end up in a URL path: only tag characters pass. */
static int
version_ok(const char *v, size_t n)
{
    size_t i;
    char c;

    if (n == 0 || n >= 64)
        return 0;
    for (i = 0; i < n; i++) {
        c = v[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              c == '.' || c == '-' || c == '_' || c == '+'))
            return 0;
    }
    return 1;
}

mt_err
mt_policy_candidate(const struct mt_policy_source *src, int i, char *out, size_t out_len)
{
    char profile[MT_PROFILE_MAX];
    const char *version, *root;
    size_t root_len;
    int n;

    MT_ENSURE(src != NULL && out != NULL && out_len > 0 && (i == 0 || i == 1), MT_ERR_ARG);
    MT_ENSURE(src->version != NULL && src->profile != NULL, MT_ERR_ARG);
    version = src->version;
    if (strncmp(version, MT_POLICY_TAG_PREFIX, strlen(MT_POLICY_TAG_PREFIX)) == 0)
        version += strlen(MT_POLICY_TAG_PREFIX);
    MT_ENSURE(version_ok(version, strlen(version)), MT_ERR_ARG);
    MT_ENSURE(mt_profile_normalize(src->profile, strlen(src->profile), profile) == MT_OK,
              MT_ERR_ARG);
    root = src->dir != NULL ? src->dir : src->base_url;
    MT_ENSURE(root != NULL, MT_ERR_ARG);
    root_len = strlen(root);
    /* One trailing '/' or many: the joins below add their own. */
    while (root_len > 1 && root[root_len - 1] == '/')
        root_len--;
    MT_ENSURE(root_len > 0 && root_len <= MT_POLICY_MAX_URL, MT_ERR_ARG);
    if (root_len == 1 && root[0] == '/')
        root_len = 0;
    if (src->dir != NULL) {
        if (i == 0)
            n = snprintf(out, out_len, "%.*s/%s.%s.json", (int)root_len, root,
                         MT_POLICY_ASSET_PREFIX, profile);
        else
            n = snprintf(out, out_len, "%.*s/%s.json", (int)root_len, root, MT_POLICY_ASSET_PREFIX);
    } else if (i == 0) {
        n = snprintf(out, out_len, "%.*s/%s%s/%s.%s.json", (int)root_len, root,
                     MT_POLICY_TAG_PREFIX, version, MT_POLICY_ASSET_PREFIX, profile);
    } else {
        n = snprintf(out, out_len, "%.*s/%s%s/%s.json", (int)root_len, root, MT_POLICY_TAG_PREFIX,
                     version, MT_POLICY_ASSET_PREFIX);
    }
    MT_ENSURE(n > 0 && (size_t)n < out_len, MT_ERR_ARG);
    return MT_OK;
}

static size_t
on_body(char *p, size_t size, size_t nmemb, void *ud)
{
    struct fetch_xfer *x = ud;
    size_t n = size * nmemb;
    long status = 0;
    mt_err e;

    if (curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK)
        status = 0;
    if (status < 200 || status > 299) {
        /* Only the status of an error answer matters; its body is read and dropped, bounded. */
        if (n > MT_POLICY_MAX_DOC - x->discarded) {
            x->discard_full = 1;
            return 0;
        }
        x->discarded += n;
        return n;
    }
    e = mt_buf_append(&x->body, p, n);
    if (e != MT_OK) {
        /* A short count makes libcurl stop with CURLE_WRITE_ERROR. */
        x->cb_err = e;
        return 0;
    }
    return n;
}

static mt_err
open_handle(const struct mt_policy_source *src, struct fetch_xfer *x)
{
    CURL *h;
    int ok = 1;

    h = curl_easy_init();
    MT_ENSURE(h != NULL, MT_ERR_NOMEM);
    x->h = h;
    /* Signals are unsafe in threaded programs (the KMS retries from a worker). */
    ok &= curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) == CURLE_OK;
    ok &= curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                           src->connect_timeout_ms > 0 ? src->connect_timeout_ms
                                                       : MT_POLICY_CONNECT_TIMEOUT_MS) == CURLE_OK;
    ok &=
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS,
                         src->timeout_ms > 0 ? src->timeout_ms : MT_POLICY_TIMEOUT_MS) == CURLE_OK;
    ok &= curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK;
    /*
     * GitHub answers release downloads with a redirect to its CDN, so
     * redirects are followed, but only to https: a plain-http hop would let
     * anyone on the path choose the policy (the pin is optional).
     */
    ok &= curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L) == CURLE_OK;
    ok &= curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "https") == CURLE_OK;
    ok &= curl_easy_setopt(h, CURLOPT_MAXREDIRS, MT_POLICY_MAX_REDIRECTS) == CURLE_OK;
    ok &= curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L) == CURLE_OK;
    ok &= curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L) == CURLE_OK;
    if (src->ca_file != NULL)
        ok &= curl_easy_setopt(h, CURLOPT_CAINFO, src->ca_file) == CURLE_OK;
    ok &= curl_easy_setopt(h, CURLOPT_USERAGENT, MT_POLICY_USER_AGENT) == CURLE_OK;
    ok &= curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body) == CURLE_OK;
    ok &= curl_easy_setopt(h, CURLOPT_WRITEDATA, x) == CURLE_OK;
    ok &= curl_easy_setopt(h, CURLOPT_ERRORBUFFER, x->errbuf) == CURLE_OK;
    ok &= curl_easy_setopt(h, CURLOPT_HTTPGET, 1L) == CURLE_OK;
    MT_ENSURE(ok, MT_ERR_INTERNAL);
    return MT_OK;
}

/* GET one candidate URL.  *err is the error of a CAND_STOP. */
static enum cand_outcome
get_url(struct fetch_xfer *x, const char *url, mt_err *err, char *why, size_t why_len)
{
    CURLcode rc;
    long status = 0;

    mt_buf_free(&x->body);
    mt_buf_init(&x->body, MT_POLICY_MAX_DOC);
    x->discarded = 0;
    x->discard_full = 0;
    x->cb_err = MT_OK;
    x->errbuf[0] = '\0';
    if (curl_easy_setopt(x->h, CURLOPT_URL, url) != CURLE_OK) {
        say(why, why_len, "GET %s: cannot configure the request", url);
        *err = MT_ERR_INTERNAL;
        return CAND_STOP;
    }
    rc = curl_easy_perform(x->h);
    if (curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK)
        status = 0;
    if (rc != CURLE_OK && x->cb_err == MT_ERR_TOO_LARGE) {
        say(why, why_len, "GET %s: policy document exceeds %u bytes", url, MT_POLICY_MAX_DOC);
        *err = MT_ERR_TOO_LARGE;
        return CAND_STOP;
    }
    if (rc != CURLE_OK && x->cb_err != MT_OK) {
        say(why, why_len, "GET %s: %s", url, mt_err_message(x->cb_err));
        *err = x->cb_err;
        return CAND_STOP;
    }
    if (rc != CURLE_OK && !x->discard_full) {
        /* Resolve, connect, TLS, timeout, refused redirect: the reference moves on. */
        say(why, why_len, "GET %s: %s", url,
            x->errbuf[0] != '\0' ? x->errbuf : curl_easy_strerror(rc));
        return CAND_NEXT;
    }
    if (status == 404) {
        say(why, why_len, "GET %s: HTTP status 404", url);
        return CAND_NEXT;
    }
    if (status < 200 || status > 299) {
        say(why, why_len, "GET %s: HTTP status %ld", url, status);
        *err = MT_ERR_POLICY_FETCH;
        return CAND_STOP;
    }
    return CAND_BODY;
}

/* Read one candidate file; a missing file is the 404 of the directory form. */
static enum cand_outcome
read_file(struct fetch_xfer *x, const char *path, mt_err *err, char *why, size_t why_len)
{
    struct stat st;
    char buf[4096];
    ssize_t r;
    int fd, saved;
    enum cand_outcome o = CAND_BODY;
    mt_err e;

    mt_buf_free(&x->body);
    mt_buf_init(&x->body, MT_POLICY_MAX_DOC);
    /* O_NONBLOCK: a FIFO planted under an asset's name must not hang the KMS in open(). */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        saved = errno;
        say(why, why_len, "read %s: %s", path, strerror(saved));
        if (saved == ENOENT || saved == ENOTDIR)
            return CAND_NEXT;
        *err = MT_ERR_POLICY_FETCH;
        return CAND_STOP;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        say(why, why_len, "read %s: not a regular file", path);
        *err = MT_ERR_POLICY_FETCH;
        o = CAND_STOP;
        goto out;
    }
    for (;;) {
        r = read(fd, buf, sizeof(buf));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            say(why, why_len, "read %s: %s", path, strerror(errno));
            *err = MT_ERR_POLICY_FETCH;
            o = CAND_STOP;
            goto out;
        }
        if (r == 0)
            break;
        e = mt_buf_append(&x->body, buf, (size_t)r);
        if (e != MT_OK) {
            if (e == MT_ERR_TOO_LARGE)
                say(why, why_len, "read %s: policy document exceeds %u bytes", path,
                    MT_POLICY_MAX_DOC);
            else
                say(why, why_len, "read %s: %s", path, mt_err_message(e));
            *err = e;
            o = CAND_STOP;
            goto out;
        }
    }
out:
    close(fd);
    return o;
}

static mt_err
check_pin(const uint8_t pin[32], const struct mt_buf *body, const char *where, char *why,
          size_t why_len)
{
    uint8_t got[32];
    unsigned int got_len = 0;
    char want_hex[65], got_hex[65];

    if (EVP_Digest(body->p != NULL ? body->p : (const uint8_t *)"", body->len, got, &got_len,
                   EVP_sha256(), NULL) != 1 ||
        got_len != sizeof(got)) {
        say(why, why_len, "%s: SHA-256 failed", where);
        return MT_ERR_CRYPTO;
    }
    if (CRYPTO_memcmp(got, pin, sizeof(got)) == 0)
        return MT_OK;
    mt_hex_encode(pin, 32, want_hex);
    mt_hex_encode(got, 32, got_hex);
    say(why, why_len, "Policy hash mismatch for %s: expected sha256 %s, got %s", where, want_hex,
        got_hex);
    return MT_ERR_POLICY_PIN;
}

mt_err
mt_policy_fetch_release(const struct mt_policy_source *src, struct mt_policy **out, char *why,
                        size_t why_len)
{
    char where[MT_POLICY_MAX_URL + 256], inner[768];
    struct fetch_xfer x;
    struct mt_policy *p = NULL;
    enum cand_outcome o = CAND_NEXT;
    int i;
    mt_err e = MT_ERR_POLICY_FETCH;

    memset(&x, 0, sizeof(x));
    mt_buf_init(&x.body, MT_POLICY_MAX_DOC);
    say(why, why_len, "%s", "");
    if (src == NULL || out == NULL || mt_policy_candidate(src, 0, where, sizeof(where)) != MT_OK) {
        say(why, why_len, "bad policy source (version, profile or location)");
        return MT_ERR_ARG;
    }
    if (src->dir == NULL)
        MT_GUARD_GOTO(open_handle(src, &x), e, out);
    for (i = 0; i < 2; i++) {
        MT_GUARD_GOTO(mt_policy_candidate(src, i, where, sizeof(where)), e, out);
        if (src->dir != NULL)
            o = read_file(&x, where, &e, why, why_len);
        else
            o = get_url(&x, where, &e, why, why_len);
        if (o != CAND_NEXT)
            break;
    }
    if (o == CAND_NEXT) {
        /* why holds the last candidate's reason, as the reference reports it. */
        e = MT_ERR_POLICY_FETCH;
        goto out;
    }
    if (o == CAND_STOP)
        goto out;
    /* The pin covers whichever candidate was read, the generic one too (defect 11). */
    if (src->pin != NULL)
        MT_GUARD_GOTO(check_pin(src->pin, &x.body, where, why, why_len), e, out);
    e = mt_policy_parse_release((const char *)(x.body.p != NULL ? x.body.p : (const uint8_t *)""),
                                x.body.len, src->version, src->profile, i == 1, src->subject, &p,
                                inner, sizeof(inner));
    if (e != MT_OK) {
        say(why, why_len, "%s: %s", where, inner);
        goto out;
    }
    *out = p;
    p = NULL;
out:
    mt_policy_free(p);
    mt_buf_free(&x.body);
    if (x.h != NULL)
        curl_easy_cleanup(x.h);
    return e;
}
