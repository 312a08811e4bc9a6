#ifndef MT_KMSCLIENT_KC_HTTP_H
#define MT_KMSCLIENT_KC_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "util/mt_buf.h"
#include "util/mt_err.h"

/*
 * The node client's HTTP transport to a KMS (mero-tee-reference.md 2.3),
 * one libcurl easy handle per client.
 *
 * URL rules, checked once when the client is made:
 *  - the URL must parse (libcurl's URL API) with an explicit scheme and a
 *    host; only http and https are accepted (KMS_ENDPOINT_URL_INVALID);
 *  - https is always allowed; http only when the host is a loopback IP
 *    literal (127.0.0.0/8 or ::1, after libcurl's normalisation of the
 *    host) unless insecure_http is set.  The name "localhost" is not a
 *    loopback literal: a resolver decides where it goes (KMS_HTTP_INSECURE).
 *  - endpoints are joined as Rust's Url::join does after merod's
 *    ensure_trailing_slash: the base path gets a trailing '/', the endpoint
 *    name is appended, query and fragment are dropped
 *    ("https://k.example/kms?x" + "challenge" = "https://k.example/kms/challenge").
 *
 * Every request: POST with Content-Type: application/json, the connect and
 * total timeouts, redirects never followed, http and https only, TLS peer
 * and host verification on, the response body capped (MT_ERR_TOO_LARGE past
 * the cap, also when a Content-Length announces it).  A loopback host is
 * never reached through a proxy.  The response body is wiped when freed;
 * bodies capped at 64 KiB or less are allocated whole up front, so no
 * partial copy is left behind by growing.  libcurl's own receive buffer is
 * not ours to wipe (it is reused by the next request on the handle and
 * freed, unwiped, with it).
 */

#define MT_KC_DEFAULT_CONNECT_TIMEOUT_MS 5000L
#define MT_KC_DEFAULT_TIMEOUT_MS 30000L
/* Longest KMS base URL accepted. */
#define MT_KC_MAX_URL 2048u

struct mt_kc_http;

struct mt_kc_http_opts {
    const char *url;         /* KMS base URL */
    int insecure_http;       /* allow http to any host */
    const char *ca_file;     /* PEM CA bundle for https; NULL = libcurl's default store */
    long connect_timeout_ms; /* 0 = MT_KC_DEFAULT_CONNECT_TIMEOUT_MS */
    long timeout_ms;         /* whole request; 0 = MT_KC_DEFAULT_TIMEOUT_MS */
    const char *proxy;       /* NULL = libcurl's environment rules; "" = none */
};

void mt_kc_http_opts_init(struct mt_kc_http_opts *o);

/*
 * Check the URL and make a client.  On failure *code is the probe code
 * (KMS_PROVIDER_NOT_CONFIGURED for a NULL or empty URL,
 * KMS_ENDPOINT_URL_INVALID, KMS_HTTP_INSECURE, KMS_HTTP_CLIENT_SETUP_FAILED)
 * and why says what was wrong.  Errors: MT_ERR_ARG (the URL), MT_ERR_NOMEM,
 * MT_ERR_INTERNAL (libcurl).
 */
MT_WUR mt_err mt_kc_http_new(const struct mt_kc_http_opts *o, struct mt_kc_http **out,
                             const char **code, char *why, size_t why_len);
/* NULL-safe. */
void mt_kc_http_free(struct mt_kc_http *h);

/* 1 when the base URL's host is a loopback IP literal. */
int mt_kc_http_is_loopback(const struct mt_kc_http *h);
/* 1 when the base URL is plain http. */
int mt_kc_http_is_plain(const struct mt_kc_http *h);

/* The full URL of an endpoint ("attest", "challenge", "get-key"); *out freed with mt_free. */
MT_WUR mt_err mt_kc_http_endpoint(const struct mt_kc_http *h, const char *name, char **out);

struct mt_kc_response {
    long status;        /* HTTP status, 0 when none was received */
    struct mt_buf body; /* the body (NUL-terminated), wiped when freed */
    char error[256];    /* transport error text when the request failed */
};

/*
 * POST json[0..len) to the endpoint, keeping at most max_body bytes of the
 * answer.  MT_OK when a response arrived (any status); MT_ERR_NETWORK when
 * none did (error says why); MT_ERR_TOO_LARGE when the body passed
 * max_body.  resp is initialised here and must be freed with
 * mt_kc_response_free whatever the result.
 */
MT_WUR mt_err mt_kc_http_post(struct mt_kc_http *h, const char *endpoint, const char *json,
                              size_t len, size_t max_body, struct mt_kc_response *resp);
void mt_kc_response_free(struct mt_kc_response *resp);

#endif
