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

static int
local_base(const char *url)
{
    return strncmp(url, "http://127.0.0.1:", 17) == 0 || strncmp(url, "http://127.0.0.1/", 17) == 0;
}

/* One file: *got = 1 when stored, 0 on 404. */
static mt_err
get_one(const char *base, const char *name, const char *dest, uint64_t max, int *got, char *why,
        size_t why_len)
{
    char url[MT_REL_MAX_PATH], path[MT_REL_MAX_PATH], tmp[MT_REL_MAX_PATH];
    struct sink s = {-1, 0, max, MT_OK};
    CURLcode cc;
    long status = 0;
    CURL *h;
    int n, ok = 1;
    mt_err e = MT_ERR_NETWORK;

    *got = 0;
    n = snprintf(url, sizeof(url), "%s/%s", base, name);
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
    ok &=
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, local_base(base) ? "http" : "https") == CURLE_OK;
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
get_with_sidecars(const char *base, const char *name, const char *dest, uint64_t max, char *why,
                  size_t why_len)
{
    static const char *const suffix[3] = {".sig", ".pem", ".bundle.json"};
    char side[MT_REL_MAX_NAME + 16];
    int got;
    size_t i;

    MT_GUARD(get_one(base, name, dest, max, &got, why, why_len));
    for (i = 0; got && i < 3; i++) {
        int g2;

        snprintf(side, sizeof(side), "%s%s", name, suffix[i]);
        MT_GUARD(get_one(base, side, dest, i == 2 ? MT_REL_MAX_DOC : MT_REL_MAX_SIG_FILE, &g2, why,
                         why_len));
    }
    return MT_OK;
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

    MT_ENSURE(base_url != NULL && dest != NULL, MT_ERR_ARG);
    n = strnlen(base_url, sizeof(base));
    MT_ENSURE(n < sizeof(base) - MT_REL_MAX_NAME - 32 && n > 0, MT_ERR_ARG);
    memcpy(base, base_url, n + 1);
    while (n > 0 && base[n - 1] == '/')
        base[--n] = '\0';
    for (i = 0; e == MT_OK && (a = mt_rel_required_asset(f, i)) != NULL; i++)
        e = get_with_sidecars(base, a, dest, MT_REL_MAX_DOC, why, why_len);
    for (i = 0; e == MT_OK && (a = mt_rel_optional_asset(f, i)) != NULL; i++)
        e = get_with_sidecars(base, a, dest, MT_REL_MAX_ASSET_SIZE, why, why_len);
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
            e = get_with_sidecars(base, sums.v[i].name, dest, MT_REL_MAX_ASSET_SIZE, why, why_len);
    }
    mt_rel_checksums_free(&sums);
    return e;
}
