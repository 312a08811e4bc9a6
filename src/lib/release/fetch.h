#ifndef MT_RELEASE_FETCH_H
#define MT_RELEASE_FETCH_H

#include "release/release.h"

/*
 * Download a release's assets from a URL base ("https://github.com/OWNER/
 * REPO/releases/download/mero-kms-vX.Y.Z") into a local directory, so that
 * release verify can check them offline: the family's required assets, the
 * optional ones, every file the checksums list and (KMS) every asset the
 * manifest's asset_purposes names, each with its .sig, .pem and
 * .bundle.json sidecars (a 404 skips a file; verify then reports it).
 * libcurl; the base must pass mt_rel_fetch_url_check; asset names are
 * percent-encoded path segments; redirects only to https (at most 5), 10 s
 * connect and 300 s total timeout, sizes bounded as verify bounds them.
 * Errors: MT_ERR_NETWORK, MT_ERR_HTTP_STATUS (not 2xx / 404), MT_ERR_IO,
 * MT_ERR_TOO_LARGE, MT_ERR_ARG; why says which URL.
 */
/*
 * The base URL, parsed with curl_url(): scheme https, or http with host
 * exactly 127.0.0.1 (*plain_http = 1; loopback test servers); no user name
 * or password (http://127.0.0.1:1@host/ is user "127.0.0.1" at host
 * "host"), no query or fragment.  MT_ERR_ARG with why otherwise.
 */
MT_WUR mt_err mt_rel_fetch_url_check(const char *url, int *plain_http, char *why, size_t why_len);

MT_WUR mt_err mt_rel_fetch_release(const char *base_url, enum mt_rel_family f, const char *dest,
                                   char *why, size_t why_len);

#endif
