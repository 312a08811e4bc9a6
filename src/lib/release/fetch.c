#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "release/fetch.h"
#include "release/schema.h"
#include "util/mt_alloc.h"
#include "util/mt_file.h"

struct sink {
    int fd;
    uint64_t n, max;
    mt_err err;
};

static size_t
on_body(char *p, size_t size, size_t nmemb, void *ud)
{
    struct sink *s = ud;
    size_t n = size * nmemb;

    if (s->n + n > s->max) {
        s->err = MT_ERR_TOO_LARGE;
        return 0;
    }
    if (mt_file_write_all(s->fd, p, n) != MT_OK) {
        s->err = MT_ERR_IO;
        return 0;
    }
    s->n += n;
    return n;
}

mt_err
mt_rel_fetch_url_check(const char *url, int *plain_http, char *why, size_t why_len)
{
    char *scheme = NULL, *host = NULL, *user = NULL, *pass = NULL, *query = NULL, *frag = NULL;
    CURLU *u;
    mt_err e = MT_ERR_ARG;

    *plain_http = 0;
    MT_ENSURE(url != NULL, MT_ERR_ARG);
    u = curl_url();
    MT_ENSURE(u != NULL, MT_ERR_NOMEM);
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK) {
        mt_rel_fail(MT_ERR_ARG, why, why_len, "%s: not a URL", url);
        goto out;
    }
    if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
        mt_rel_fail(MT_ERR_ARG, why, why_len, "%s: no scheme or host", url);
        goto out;
    }
    /* Absent parts: CURLUE_NO_USER etc., the pointers stay NULL. */
    (void)curl_url_get(u, CURLUPART_USER, &user, 0);
    (void)curl_url_get(u, CURLUPART_PASSWORD, &pass, 0);
    (void)curl_url_get(u, CURLUPART_QUERY, &query, 0);
    (void)curl_url_get(u, CURLUPART_FRAGMENT, &frag, 0);
    if (user != NULL || pass != NULL) {
        /* "http://127.0.0.1:1@host/" is user 127.0.0.1, password 1, host host. */
        mt_rel_fail(MT_ERR_ARG, why, why_len, "%s: a user name or password in the URL", url);
        goto out;
    }
    if (query != NULL || frag != NULL) {
        mt_rel_fail(MT_ERR_ARG, why, why_len, "%s: a query or fragment in the URL", url);
        goto out;
    }
    if (strcmp(scheme, "https") == 0) {
        e = MT_OK;
    } else if (strcmp(scheme, "http") == 0 && strcmp(host, "127.0.0.1") == 0) {
        *plain_http = 1; /* tests: a server on loopback */
        e = MT_OK;
    } else {
        mt_rel_fail(MT_ERR_ARG, why, why_len,
                    "%s: want an https URL (http only to host 127.0.0.1, for tests)", url);
    }
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(user);
    curl_free(pass);
    curl_free(query);
    curl_free(frag);
    curl_url_cleanup(u);
    return e;
}

/* One file: *got = 1 when stored, 0 on 404. */
static mt_err
get_one(const char *base, int plain_http, const char *name, const char *dest, uint64_t max,
        int *got, char *why, size_t why_len)
{
    char *esc;
    char url[MT_REL_MAX_PATH], path[MT_REL_MAX_PATH], tmp[MT_REL_MAX_PATH];
    struct sink s = {-1, 0, max, MT_OK};
    CURLcode cc;
    long status = 0;
    CURL *h;
    int n, ok = 1;
    mt_err e = MT_ERR_NETWORK;

    *got = 0;
    MT_ENSURE(mt_rel_name_ok(name, strlen(name)), MT_ERR_ARG);
    /* The name is one path segment: percent-encoded, it cannot add a query or a host. */
    esc = curl_easy_escape(NULL, name, 0);
    MT_ENSURE(esc != NULL, MT_ERR_NOMEM);
    n = snprintf(url, sizeof(url), "%s/%s", base, esc);
    curl_free(esc);
    MT_ENSURE(n > 0 && (size_t)n < sizeof(url), MT_ERR_ARG);
    MT_GUARD(mt_rel_path(dest, name, path, sizeof(path)));
    n = snprintf(tmp, sizeof(tmp), "%s.part", path);
    MT_ENSURE(n > 0 && (size_t)n < sizeof(tmp), MT_ERR_ARG);
    s.fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (s.fd < 0)
        return mt_rel_fail(MT_ERR_IO, why, why_len, "%s: %s", tmp, strerror(errno));
    h = curl_easy_init();
    if (h == NULL) {
        close(s.fd);
        unlink(tmp);
        return MT_ERR_NOMEM;
    }
    ok &= curl_easy_setopt(h, CURLOPT_URL, url) == CURLE_OK;
    ok &= curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) == CURLE_OK;
    ok &= curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 10000L) == CURLE_OK;
    ok &= curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 300000L) == CURLE_OK;
    ok &= curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, plain_http ? "http" : "https") == CURLE_OK;
    ok &= curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L) == CURLE_OK;
    ok &= curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "https") == CURLE_OK;
    ok &= curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L) == CURLE_OK;
    ok &= curl_easy_setopt(h, CURLOPT_USERAGENT, "mero-tee-release/1.0") == CURLE_OK;
    ok &= curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body) == CURLE_OK;
    ok &= curl_easy_setopt(h, CURLOPT_WRITEDATA, &s) == CURLE_OK;
    ok &= curl_easy_setopt(h, CURLOPT_FAILONERROR, 0L) == CURLE_OK;
    if (!ok) {
        e = MT_ERR_INTERNAL;
        goto out;
    }
    cc = curl_easy_perform(h);
    if (cc != CURLE_OK) {
        e = s.err != MT_OK ? s.err : MT_ERR_NETWORK;
        mt_rel_fail(e, why, why_len, "%s: %s", url,
                    s.err != MT_OK ? mt_err_message(s.err) : curl_easy_strerror(cc));
        goto out;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (status == 404) {
        e = MT_OK;
        goto out;
    }
    if (status < 200 || status > 299) {
        e = mt_rel_fail(MT_ERR_HTTP_STATUS, why, why_len, "%s: HTTP %ld", url, status);
        goto out;
    }
    if (fsync(s.fd) != 0 || close(s.fd) != 0) {
        s.fd = -1;
        e = mt_rel_fail(MT_ERR_IO, why, why_len, "%s: %s", tmp, strerror(errno));
        goto out;
    }
    s.fd = -1;
    if (rename(tmp, path) != 0) {
        e = mt_rel_fail(MT_ERR_IO, why, why_len, "%s: %s", path, strerror(errno));
        goto out;
    }
    *got = 1;
    e = MT_OK;
out:
    if (s.fd >= 0)
        close(s.fd);
    if (*got == 0)
        unlink(tmp);
    curl_easy_cleanup(h);
    return e;
}

static mt_err
get_with_sidecars(const char *base, int plain_http, const char *name, const char *dest,
                  uint64_t max, char *why, size_t why_len)
{
    static const char *const suffix[3] = {".sig", ".pem", ".bundle.json"};
    char side[MT_REL_MAX_NAME + 16];
    int got;
    size_t i;

    MT_GUARD(get_one(base, plain_http, name, dest, max, &got, why, why_len));
    for (i = 0; got && i < 3; i++) {
        int g2;

        snprintf(side, sizeof(side), "%s%s", name, suffix[i]);
        MT_GUARD(get_one(base, plain_http, side, dest,
                         i == 2 ? MT_REL_MAX_DOC : MT_REL_MAX_SIG_FILE, &g2, why, why_len));
    }
    return MT_OK;
}

/* The assets the manifest's asset_purposes names that were not fetched yet (verify requires them).
 */
static mt_err
get_purposes(const char *base, int plain, const char *dest, const struct mt_rel_sums *sums,
             char *why, size_t why_len)
{
    char path[MT_REL_MAX_PATH];
    const char *key, *a;
    const json_t *val;
    json_t *man = NULL;
    mt_err e = MT_OK;

    MT_GUARD(mt_rel_path(dest, MT_REL_KMS_MANIFEST, path, sizeof(path)));
    if (mt_rel_json_load(path, &man, NULL, NULL) != MT_OK)
        return MT_OK; /* verify reports it */
    json_object_foreach(json_object_get(man, "asset_purposes"), key, val)
    {
        int known = 0;
        size_t k;

        (void)val;
        if (e != MT_OK || !mt_rel_name_ok(key, strlen(key)))
            continue;
        for (k = 0; (a = mt_rel_required_asset(MT_REL_KMS, k)) != NULL; k++)
            known |= strcmp(a, key) == 0;
        for (k = 0; (a = mt_rel_optional_asset(MT_REL_KMS, k)) != NULL; k++)
            known |= strcmp(a, key) == 0;
        known |= mt_rel_checksums_find(sums, key) != NULL;
        if (!known)
            e = get_with_sidecars(base, plain, key, dest, MT_REL_MAX_ASSET_SIZE, why, why_len);
    }
    json_decref(man);
    return e;
}

mt_err
mt_rel_fetch_release(const char *base_url, enum mt_rel_family f, const char *dest, char *why,
                     size_t why_len)
{
    const char *sums_name = f == MT_REL_KMS ? MT_REL_KMS_CHECKSUMS : MT_REL_NODE_CHECKSUMS;
    struct mt_rel_sums sums = {NULL, 0};
    char path[MT_REL_MAX_PATH], base[MT_REL_MAX_PATH];
    uint8_t *text = NULL;
    size_t len = 0, i, n;
    const char *a;
    mt_err e = MT_OK;
    int plain = 0;

    MT_ENSURE(base_url != NULL && dest != NULL, MT_ERR_ARG);
    n = strnlen(base_url, sizeof(base));
    MT_ENSURE(n < sizeof(base) - MT_REL_MAX_NAME - 32 && n > 0, MT_ERR_ARG);
    memcpy(base, base_url, n + 1);
    while (n > 0 && base[n - 1] == '/')
        base[--n] = '\0';
    MT_GUARD(mt_rel_fetch_url_check(base, &plain, why, why_len));
    for (i = 0; e == MT_OK && (a = mt_rel_required_asset(f, i)) != NULL; i++)
        e = get_with_sidecars(base, plain, a, dest, MT_REL_MAX_DOC, why, why_len);
    for (i = 0; e == MT_OK && (a = mt_rel_optional_asset(f, i)) != NULL; i++)
        e = get_with_sidecars(base, plain, a, dest, MT_REL_MAX_ASSET_SIZE, why, why_len);
    MT_GUARD(e);
    MT_GUARD(mt_rel_path(dest, sums_name, path, sizeof(path)));
    if (mt_file_read(path, MT_REL_MAX_CHECKSUMS, &text, &len) != MT_OK)
        return MT_OK; /* verify reports the missing or unreadable file */
    e = mt_rel_checksums_parse((const char *)text, len, &sums, NULL, 0);
    mt_free(text);
    if (e != MT_OK)
        return MT_OK;
    for (i = 0; e == MT_OK && i < sums.n; i++) {
        int known = 0, k;

        for (k = 0; (a = mt_rel_required_asset(f, (size_t)k)) != NULL; k++)
            known |= strcmp(a, sums.v[i].name) == 0;
        if (!known)
            e = get_with_sidecars(base, plain, sums.v[i].name, dest, MT_REL_MAX_ASSET_SIZE, why,
                                  why_len);
    }
    if (e == MT_OK && f == MT_REL_KMS)
        e = get_purposes(base, plain, dest, &sums, why, why_len);
    mt_rel_checksums_free(&sums);
    return e;
}
