#include "kms/kms_handlers.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "kms/kms_reply.h"
#include "kms/kms_routes.h"
#include "util/mt_json.h"

/* The reference's routes (mero-tee-reference.md 1.6) plus /ready and /metrics. */
static const struct {
    const char *path;
    const char *method;
    enum mt_kms_route route;
    const char *const *fields; /* required string fields of the JSON body; NULL for GET */
} routes[] = {
    {"/health", "GET", MT_KMS_ROUTE_HEALTH, NULL},
    {"/ready", "GET", MT_KMS_ROUTE_READY, NULL},
    {"/metrics", "GET", MT_KMS_ROUTE_METRICS, NULL},
    {"/challenge", "POST", MT_KMS_ROUTE_CHALLENGE, (const char *const[]){"peerId", NULL}},
    {"/get-key", "POST", MT_KMS_ROUTE_GET_KEY,
     (const char *const[]){"challengeId", "quoteB64", "peerId", "peerPublicKeyB64", "signatureB64",
                           NULL}},
    {"/attest", "POST", MT_KMS_ROUTE_ATTEST, (const char *const[]){"nonceB64", NULL}},
};

static void
add_header(struct mt_kms_response *rs, const char *name, const char *value)
{
    if (rs->num_headers >= MT_KMS_MAX_HEADERS)
        return;
    rs->header_name[rs->num_headers] = name;
    snprintf(rs->header_value[rs->num_headers], sizeof(rs->header_value[0]), "%s", value);
    rs->num_headers++;
}

static int
origin_allowed(const struct mt_kms *k, const char *origin)
{
    size_t i;

    if (origin == NULL)
        return 0;
    for (i = 0; i < k->cfg->num_cors_origins; i++) {
        if (strcmp(origin, k->cfg->cors_origins[i]) == 0)
            return 1;
    }
    return 0;
}

/* CORS as tower-http's layer with an exact origin list (1.6); nothing when unset. */
static void
add_cors(const struct mt_kms *k, const struct mt_kms_request *rq, struct mt_kms_response *rs)
{
    if (k->cfg->num_cors_origins == 0)
        return;
    add_header(rs, "Vary", "origin, access-control-request-method, access-control-request-headers");
    if (!origin_allowed(k, rq->origin))
        return;
    add_header(rs, "Access-Control-Allow-Origin", rq->origin);
}

/* application/json, or any +json type, parameters allowed (axum's Json extractor). */
static int
is_json_type(const char *t)
{
    const char *semi, *plus;
    size_t n;

    if (t == NULL)
        return 0;
    semi = strchr(t, ';');
    n = semi == NULL ? strlen(t) : (size_t)(semi - t);
    while (n > 0 && t[n - 1] == ' ')
        n--;
    if (n == strlen("application/json") && strncasecmp(t, "application/json", n) == 0)
        return 1;
    plus = memchr(t, '+', n);
    return strncasecmp(t, "application/", 12) == 0 && plus != NULL && (size_t)(t + n - plus) == 5 &&
           strncasecmp(plus, "+json", 5) == 0;
}

/*
 * axum's Json extraction, in its order: 413 over the limit, 415 without a
 * JSON content type, 400 for malformed JSON, 422 for a missing or mistyped
 * field.  Extra fields are ignored.  *out is the parsed object.
 */
static mt_err
extract(const struct mt_kms_request *rq, const char *const *fields, json_t **out,
        struct mt_kms_response *rs)
{
    char msg[160];
    json_t *o = NULL;
    size_t i;

    *out = NULL;
    if (rq->body_too_large || rq->body_len > MT_KMS_MAX_BODY)
        return mt_kms_reply_text(rs, 413,
                                 "Failed to buffer the request body: length limit exceeded");
    if (!is_json_type(rq->content_type))
        return mt_kms_reply_text(rs, 415, "Expected request with `Content-Type: application/json`");
    if (mt_json_parse((const char *)rq->body, rq->body_len, MT_KMS_MAX_BODY, &o) != MT_OK)
        return mt_kms_reply_text(rs, 400, "Failed to parse the request body as JSON");
    if (!json_is_object(o)) {
        json_decref(o);
        return mt_kms_reply_text(rs, 422,
                                 "Failed to deserialize the JSON body into the target "
                                 "type: expected a JSON object");
    }
    for (i = 0; fields[i] != NULL; i++) {
        if (!json_is_string(json_object_get(o, fields[i]))) {
            snprintf(msg, sizeof(msg),
                     "Failed to deserialize the JSON body into the target type: %s field `%s`",
                     json_object_get(o, fields[i]) == NULL ? "missing" : "invalid type for",
                     fields[i]);
            json_decref(o);
            return mt_kms_reply_text(rs, 422, msg);
        }
    }
    *out = o;
    return MT_OK;
}

static mt_err
dispatch(struct mt_kms *k, const struct mt_kms_request *rq, struct mt_kms_response *rs,
         uint64_t request_id)
{
    json_t *body = NULL;
    size_t i;
    mt_err e;

    for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (strcmp(rq->path, routes[i].path) == 0)
            break;
    }
    if (i == sizeof(routes) / sizeof(routes[0])) {
        rs->route = MT_KMS_ROUTE_OTHER;
        return mt_kms_reply_text(rs, 404, "");
    }
    rs->route = routes[i].route;
    if (strcmp(rq->method, "OPTIONS") == 0 && k->cfg->num_cors_origins > 0 &&
        rq->acr_method != NULL) {
        /* CORS preflight, answered by the layer. */
        MT_GUARD(mt_kms_reply_text(rs, 200, ""));
        if (origin_allowed(k, rq->origin)) {
            add_header(rs, "Access-Control-Allow-Methods", "GET,POST");
            add_header(rs, "Access-Control-Allow-Headers", "*");
        }
        return MT_OK;
    }
    if (strcmp(rq->method, routes[i].method) != 0 &&
        !(strcmp(rq->method, "HEAD") == 0 && strcmp(routes[i].method, "GET") == 0))
        return mt_kms_reply_text(rs, 405, "");
    if (routes[i].fields != NULL) {
        MT_GUARD(extract(rq, routes[i].fields, &body, rs));
        if (body == NULL)
            return MT_OK; /* the extractor answered */
    }
    switch (routes[i].route) {
    case MT_KMS_ROUTE_HEALTH:
        e = mt_kms_route_health(k, rs);
        break;
    case MT_KMS_ROUTE_READY:
        e = mt_kms_route_ready(k, rs);
        break;
    case MT_KMS_ROUTE_METRICS:
        e = mt_kms_route_metrics(k, rs);
        break;
    case MT_KMS_ROUTE_CHALLENGE:
        e = mt_kms_route_challenge(k, body, rs);
        break;
    case MT_KMS_ROUTE_GET_KEY:
        e = mt_kms_route_get_key(k, body, request_id, rs);
        break;
    case MT_KMS_ROUTE_ATTEST:
        e = mt_kms_route_attest(k, body, rs);
        break;
    default:
        e = mt_kms_reply_text(rs, 404, "");
        break;
    }
    json_decref(body);
    return e;
}

mt_err
mt_kms_handle_start(struct mt_kms *k, const struct mt_kms_request *rq, struct mt_kms_response *rs)
{
    uint64_t t0 = mt_monotonic_us(), id;
    mt_err e;

    memset(rs, 0, sizeof(*rs));
    id = atomic_fetch_add(&k->next_request_id, 1);
    e = dispatch(k, rq, rs, id);
    if (e != MT_OK) {
        mt_kms_response_free(rs);
        return e;
    }
    add_cors(k, rq, rs);
    rs->t0 = t0;
    return MT_OK;
}

mt_err
mt_kms_handle_finish(struct mt_kms *k, struct mt_kms_response *rs, mt_err durable)
{
    unsigned cls;

    if (durable != MT_OK) {
        mt_kms_log("error", "audit log fsync failed: the decision may not be recorded", NULL);
        if (rs->secret) {
            /*
             * Not recorded, not released: the key-carrying body is wiped and the
             * reply becomes 503 audit_unavailable (route, timing and CORS headers kept).
             */
            mt_kms_response_free(rs);
            rs->secret = 0;
            MT_GUARD(mt_kms_reply_error(rs, MT_ERR_AUDIT_UNAVAILABLE, "audit log fsync failed"));
        }
    } else if (rs->secret) {
        atomic_fetch_add(&k->metrics.keys_released, 1);
    }
    rs->audit_upto = 0;
    cls = rs->status >= 500 ? MT_KMS_STATUS_5XX
                            : (rs->status >= 400 ? MT_KMS_STATUS_4XX : MT_KMS_STATUS_2XX);
    atomic_fetch_add(&k->metrics.requests[rs->route][cls], 1);
    atomic_fetch_add(&k->metrics.latency_us_sum[rs->route], mt_monotonic_us() - rs->t0);
    return MT_OK;
}

mt_err
mt_kms_handle(struct mt_kms *k, const struct mt_kms_request *rq, struct mt_kms_response *rs)
{
    mt_err durable = MT_OK;

    MT_GUARD(mt_kms_handle_start(k, rq, rs));
    if (rs->audit_upto != 0)
        durable = mt_audit_wait(k->audit, rs->audit_upto);
    return mt_kms_handle_finish(k, rs, durable);
}
