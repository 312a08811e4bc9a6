#ifndef MT_KMS_HANDLERS_H
#define MT_KMS_HANDLERS_H

#include <stddef.h>
#include <stdint.h>

#include "kms/kms.h"

/*
 * The KMS's HTTP semantics without the transport (mero-tee-reference.md
 * 1.6-1.8), so that they can be tested and fuzzed in process: kms_http.c
 * turns libmicrohttpd requests into mt_kms_request and sends the
 * mt_kms_response back.
 */
#define MT_KMS_MAX_BODY 65536u

struct mt_kms_request {
    const char *method;       /* "GET", "POST", "OPTIONS", ... */
    const char *path;         /* "/get-key" (no query string) */
    const char *content_type; /* NULL when absent */
    const char *origin;       /* Origin header, NULL when absent */
    const char *acr_method;   /* Access-Control-Request-Method, NULL when absent */
    const uint8_t *body;
    size_t body_len;
    int body_too_large; /* the transport saw more than MT_KMS_MAX_BODY bytes */
};

/* Response headers beyond Content-Type (CORS). */
#define MT_KMS_MAX_HEADERS 6
struct mt_kms_response {
    unsigned status;
    char *body; /* mt_malloc'd, may be "" */
    size_t body_len;
    const char *content_type; /* NULL: no body type */
    int secret;               /* the body holds key material: wipe it after sending */
    size_t num_headers;
    const char *header_name[MT_KMS_MAX_HEADERS];
    char header_value[MT_KMS_MAX_HEADERS][256];
    enum mt_kms_route route;
    /*
     * Nonzero: the answer must wait until the first audit_upto bytes of the
     * audit log are durable (a /get-key decision's line), see
     * mt_kms_handle_start.
     */
    uint64_t audit_upto;
    uint64_t t0; /* when handling began (mt_monotonic_us), for the latency metric */
};

/*
 * Handle one request, waiting for its audit line when it has one.  Fails
 * only when out of memory (the transport then drops the connection).
 */
MT_WUR mt_err mt_kms_handle(struct mt_kms *k, const struct mt_kms_request *rq,
                            struct mt_kms_response *rs);

/*
 * mt_kms_handle in two halves, for a transport that must not block on the
 * disk.  mt_kms_handle_start prepares the answer; when rs->audit_upto is
 * nonzero the answer must not be sent before the audit log settles those
 * bytes (mt_audit_wait or mt_audit_notify on k->audit).
 * mt_kms_handle_finish then takes that outcome (MT_OK when there was
 * nothing to wait for): a key-carrying answer whose line did not become
 * durable is wiped and replaced by 503 audit_unavailable, since no key may
 * leave without its audit line.  It also counts the request in the metrics.
 */
MT_WUR mt_err mt_kms_handle_start(struct mt_kms *k, const struct mt_kms_request *rq,
                                  struct mt_kms_response *rs);
MT_WUR mt_err mt_kms_handle_finish(struct mt_kms *k, struct mt_kms_response *rs, mt_err durable);
/* Free the body (wiping it when secret).  NULL-safe. */
void mt_kms_response_free(struct mt_kms_response *rs);

#endif
