#ifndef MT_VERIFIER_SERVICE_H
#define MT_VERIFIER_SERVICE_H

#include <stddef.h>
#include <stdint.h>

#include <netdb.h>
#include <sys/socket.h>

#include <jansson.h>

#include "util/mt_err.h"

/*
 * mero-verifier: the public attestation verifier (docs/verifier.md).
 * POST /api/verify fetches (or takes) a TDX quote with its event log and
 * reports one check per claim, every claim bound to the verified quote.
 */

#define MTV_MAX_LIST 16u                      /* entries of a CSV variable */
#define MTV_MAX_STR 1024u                     /* one configured string */
#define MTV_MAX_BODY (512u * 1024u)           /* POST /api/verify body */
#define MTV_MAX_RESPONSE (2u * 1024u * 1024u) /* a target's answer */
#define MTV_MAX_URL 2048u                     /* kmsUrl / nodeUrl */
#define MTV_MAX_QUOTE (64u * 1024u)           /* decoded quote bytes */
#define MTV_MAX_STATIC (4u * 1024u * 1024u)   /* one static file */

typedef const char *(*mtv_env_fn)(const char *name, void *arg);

struct mtv_config {
    char listen_host[64];
    uint16_t listen_port;
    char web_dir[MTV_MAX_STR];
    char pccs_urls[MTV_MAX_LIST][MTV_MAX_STR];
    size_t num_pccs_urls;
    char cache_dir[MTV_MAX_STR];
    uint8_t *root_der; /* VERIFIER_TRUST_ROOT_FILE, or NULL: Intel's root */
    size_t root_der_len;
    char release_dir[MTV_MAX_STR];
    char release_base_url[MTV_MAX_STR];
    char release_trusted_root[MTV_MAX_STR];
    char release_key[MTV_MAX_STR];
    char allowed_hosts[MTV_MAX_LIST][256]; /* "host" exact, ".suffix" anchored */
    size_t num_allowed_hosts;              /* 0: any host (addresses still checked) */
    uint16_t allowed_ports[MTV_MAX_LIST];  /* VERIFIER_ALLOWED_PORTS */
    size_t num_allowed_ports;              /* 0: 80/443 (any with VERIFIER_ALLOW_PRIVATE) */
    int allow_http;
    int allow_private;
    unsigned rate_limit; /* POST /api/verify per client address per minute; 0: off */
    char cors_origins[MTV_MAX_LIST][256];
    size_t num_cors_origins;
    char ita_api_key[MTV_MAX_STR];
    char ita_url[MTV_MAX_STR];
    char ita_jwks_url[MTV_MAX_STR];
    char ita_issuer[MTV_MAX_STR];
    long connect_timeout_ms;
    long timeout_ms;
    /* Warnings to print at startup (dev trust root, private addresses). */
    char warnings[4][256];
    size_t num_warnings;
};

/* Read and check every variable through get; why names the variable on failure. */
MT_WUR mt_err mtv_config_load(mtv_env_fn get, void *arg, struct mtv_config **out, char *why,
                              size_t why_len);
void mtv_config_free(struct mtv_config *c);

/* ---- vf_request.c: the body of POST /api/verify ---- */

enum mtv_kind { MTV_KMS = 1, MTV_NODE = 2, MTV_PASTE = 3 };

struct mtv_request {
    enum mtv_kind kind;
    char url[MTV_MAX_URL + 1]; /* kms / node */
    uint8_t *quote;            /* paste: decoded quote (mt_free) */
    size_t quote_len;
    char *eventlog; /* paste: event log JSON array text, or NULL */
    size_t eventlog_len;
    uint8_t nonce[64]; /* paste: nonceHex (32 bytes: first half of report data; 64: all) */
    size_t nonce_len;  /* 0: none given */
    char release_tag[64];
    char profile[32];
};

/* Parse and validate a request body (MT_ERR_VERIFIER_BAD_REQUEST, why says the field). */
MT_WUR mt_err mtv_request_parse(const char *body, size_t len, struct mtv_request *out, char *why,
                                size_t why_len);
void mtv_request_free(struct mtv_request *r);

/* ---- vf_fetch.c: SSRF-safe HTTP ---- */

/* 1 when the address must not be contacted without VERIFIER_ALLOW_PRIVATE. */
int mtv_addr_is_private(const struct sockaddr *sa);
/* 1 when host (lowercase) passes the host allowlist. */
int mtv_host_allowed(const struct mtv_config *c, const char *host);
/*
 * 1 when port may be contacted: VERIFIER_ALLOWED_PORTS when set, else 80
 * and 443, else (VERIFIER_ALLOW_PRIVATE, development) any port.
 */
int mtv_port_allowed(const struct mtv_config *c, unsigned long port);
/*
 * The resolver mtv_fetch runs with a deadline (connect_timeout_ms) on a
 * worker thread; tests replace it with a slow one.  NULL restores
 * getaddrinfo.
 */
typedef int (*mtv_resolver_fn)(const char *host, const char *port, const struct addrinfo *hints,
                               struct addrinfo **res);
void mtv_set_resolver(mtv_resolver_fn fn);
/*
 * POST body (JSON) to base_url + path, or GET when body is NULL.  Errors:
 * MT_ERR_VERIFIER_TARGET_REFUSED (scheme, host, address), _FETCH_FAILED
 * (transport, timeout, non-2xx: *status says), _REDIRECT, _RESPONSE_TOO_LARGE.
 * *out (mt_free, NUL-terminated) gets the body.
 */
MT_WUR mt_err mtv_fetch(const struct mtv_config *c, const char *base_url, const char *path,
                        const char *body, const char *const *headers, size_t max, long *status,
                        char **out, size_t *out_len, char *why, size_t why_len);

/* ---- vf_verify.c ---- */

struct mtv_service;

MT_WUR mt_err mtv_service_new(const struct mtv_config *c, struct mtv_service **out, char *why,
                              size_t why_len);
void mtv_service_free(struct mtv_service *s);
const struct mtv_config *mtv_service_config(const struct mtv_service *s);

/*
 * Run one verification.  On MT_OK *result is the response object; otherwise
 * the error (its code and HTTP status from the table) and why.
 */
MT_WUR mt_err mtv_verify(struct mtv_service *s, const struct mtv_request *rq, json_t **result,
                         char *why, size_t why_len);

/* ---- vf_ita.c ---- */

#define MTV_MAX_JWT (64u * 1024u)   /* an ITA token */
#define MTV_MAX_JWKS (256u * 1024u) /* the JWKS document */
#define MTV_JWT_SKEW 60             /* seconds of clock skew allowed on exp / nbf */

/* Strict base64url without padding (RFC 7515): MT_ERR_VERIFIER_ITA when malformed. */
MT_WUR mt_err mtv_b64url_decode(const char *s, size_t len, size_t max, uint8_t **out,
                                size_t *out_len);
/*
 * Verify a compact JWS against a JWKS document ({"keys":[...]}) with
 * OpenSSL: alg in RS256/PS384/ES256/ES384 (never none/HS*), exactly one
 * key with the header's kid (its kty/crv/alg/use consistent with alg; RSA
 * >= 2048 bits), the signature, iss == issuer, exp (required) and nbf with
 * MTV_JWT_SKEW.  On MT_OK *claims (json_decref) is the payload; otherwise
 * MT_ERR_VERIFIER_ITA (or _NOMEM), reason a stable code (token_malformed,
 * algorithm, unknown_kid, jwks_invalid, key_invalid, signature, issuer,
 * expired, not_yet_valid) and why the detail.
 */
MT_WUR mt_err mtv_jwt_verify(const char *jwt, size_t jwt_len, const char *jwks, size_t jwks_len,
                             const char *issuer, int64_t now, json_t **claims, char *reason,
                             size_t reason_len, char *why, size_t why_len);

/* The `ita` check for a verified quote: status pass/fail/skipped, with evidence. */
json_t *mtv_ita_check(struct mtv_service *s, const uint8_t *quote, size_t quote_len,
                      const json_t *measurements);

/* ---- vf_http.c ---- */

/* The rate-limit key of a client: IPv4 /32 (mapped too), IPv6 "prefix::/64"; "?" for NULL. */
void mtv_client_key(const struct sockaddr *sa, char *out, size_t len);

struct mtv_http;

MT_WUR mt_err mtv_http_start(struct mtv_service *s, struct mtv_http **out, char *why,
                             size_t why_len);
uint16_t mtv_http_port(const struct mtv_http *h);
void mtv_http_stop(struct mtv_http *h);

#endif
