#ifndef MT_RELEASE_FETCH_H
#define MT_RELEASE_FETCH_H

#include "release/release.h"

/*
 * Download a release's assets from a URL base ("https://github.com/OWNER/
 * REPO/releases/download/mero-kms-vX.Y.Z") into a local directory, so that
 * release verify can check them offline: the family's required assets, the
 * optional ones and every file the checksums list, each with its .sig,
 * .pem and .bundle.json sidecars (a 404 skips a file; verify then reports
 * it).  libcurl, https for the first request unless the base is
 * http://127.0.0.1 (tests), redirects only to https (at most 5), 10 s
 * connect and 300 s total timeout, sizes bounded as verify bounds them.
 * Errors: MT_ERR_NETWORK, MT_ERR_HTTP_STATUS (not 2xx / 404), MT_ERR_IO,
 * MT_ERR_TOO_LARGE, MT_ERR_ARG; why says which URL.
 */
MT_WUR mt_err mt_rel_fetch_release(const char *base_url, enum mt_rel_family f, const char *dest,
                                   char *why, size_t why_len);

#endif
