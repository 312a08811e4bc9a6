#include "sim/sim_node.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <microhttpd.h>

#include "quote/quote.h"
#include "util/mt_alloc.h"
#include "util/mt_b64.h"
#include "util/mt_buf.h"
#include "util/mt_hex.h"
#include "util/mt_json.h"
#include "util/mt_limits.h"

#define NODE_CONNECTION_MEMORY (64u * 1024u)

struct mt_sim_node {
    struct MHD_Daemon *daemon;
    struct mt_sim_agent *agent;
    uint16_t port;
};

/* Per-request state: the body read so far. */
struct node_req {
    struct mt_buf body;
    int oversize;
};

static mt_err
error_body(int status_in, const char *msg, int *status, char **resp)
{
    json_t *o = json_pack("{s:s}", "error", msg);
    char *text;

    MT_ENSURE(o != NULL, MT_ERR_NOMEM);
    text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    MT_ENSURE(text != NULL, MT_ERR_NOMEM);
    *resp = mt_strdup(text);
    mt_free_libc(text);
    MT_ENSURE(*resp != NULL, MT_ERR_NOMEM);
    *status = status_in;
    return MT_OK;
}

static void
set_hex(json_t *o, const char *key, const uint8_t *p, size_t n, int *ok)
{
    char *hex = mt_hex_encode_alloc(p, n);

    if (hex == NULL || json_object_set_new(o, key, json_string(hex)) != 0)
        *ok = 0;
    mt_free(hex);
}

static void
set_new(json_t *o, const char *key, json_t *v, int *ok)
{
    if (v == NULL || json_object_set_new(o, key, v) != 0)
        *ok = 0;
}

/*
 * The parsed quote the way merod returns it (reference 2.9): header, body
 * with lowercase register names, signature, attestation key and the outer
 * certification data (type 6: QE report, its signature, QE auth data and
 * the inner PCK certification data).
 */
static json_t *
merod_quote_json(const struct mt_quote *q)
{
    json_t *o = json_object(), *h = json_object(), *b = json_object(), *cd = json_object();
    const struct mt_td_report *r = &q->td;
    char key[8];
    int ok = o != NULL && h != NULL && b != NULL && cd != NULL, i;

    set_new(h, "version", json_integer(q->version), &ok);
    set_new(h, "attestationKeyType", json_integer(q->att_key_type), &ok);
    set_new(h, "teeType", json_integer(q->tee_type), &ok);
    set_hex(h, "qeVendorId", q->qe_vendor_id, 16, &ok);
    set_hex(h, "userData", q->user_data, 20, &ok);
    set_new(b, "tdxVersion", json_string(q->body_kind == MT_BODY_TD15 ? "1.5" : "1.0"), &ok);
    set_hex(b, "teeTcbSvn", r->tee_tcb_svn, 16, &ok);
    set_hex(b, "mrseam", r->mr_seam, 48, &ok);
    set_hex(b, "mrsignerseam", r->mr_signer_seam, 48, &ok);
    set_hex(b, "seamattributes", r->seam_attributes, 8, &ok);
    set_hex(b, "tdattributes", r->td_attributes, 8, &ok);
    set_hex(b, "xfam", r->xfam, 8, &ok);
    set_hex(b, "mrtd", r->mr_td, 48, &ok);
    set_hex(b, "mrconfigid", r->mr_config_id, 48, &ok);
    set_hex(b, "mrowner", r->mr_owner, 48, &ok);
    set_hex(b, "mrownerconfig", r->mr_owner_config, 48, &ok);
    for (i = 0; i < 4; i++) {
        snprintf(key, sizeof(key), "rtmr%d", i);
        set_hex(b, key, r->rt_mr[i], 48, &ok);
    }
    set_hex(b, "reportdata", r->report_data, 64, &ok);
    if (q->body_kind == MT_BODY_TD15) {
        set_hex(b, "teeTcbSvn2", r->tee_tcb_svn2, 16, &ok);
        set_hex(b, "mrservicetd", r->mr_service_td, 48, &ok);
    }
    set_new(cd, "type", json_integer(q->outer_cert_type), &ok);
    if (ok && q->qe_report_raw != NULL && q->cert_data != NULL &&
        q->cert_data + q->cert_data_len >= q->qe_report_raw)
        set_hex(cd, "data", q->qe_report_raw,
                (size_t)(q->cert_data + q->cert_data_len - q->qe_report_raw), &ok);
    set_new(o, "header", h, &ok);
    h = NULL;
    set_new(o, "body", b, &ok);
    b = NULL;
    set_hex(o, "signature", q->quote_sig, 64, &ok);
    set_hex(o, "attestationKey", q->att_key, 64, &ok);
    set_new(o, "certificationData", cd, &ok);
    cd = NULL;
    if (!ok) {
        json_decref(o);
        o = NULL;
    }
    return o;
}

/* A GetQuote from the agent with these 64 report-data bytes; the quote bytes (mt_free). */
static mt_err
agent_quote(struct mt_sim_agent *agent, const uint8_t rd[64], uint8_t **quote, size_t *len)
{
    char hex[129], *body = NULL;
    json_t *args, *resp = NULL;
    const char *qhex;
    int status = 0;
    mt_err e;

    mt_hex_encode(rd, 64, hex);
    args = json_pack("{s:s}", "report_data", hex);
    MT_ENSURE(args != NULL, MT_ERR_NOMEM);
    e = mt_sim_agent_call(agent, "GetQuote", args, &status, &body);
    json_decref(args);
    if (e == MT_OK && status != 200)
        e = MT_ERR_INTERNAL;
    if (e == MT_OK)
        e = mt_json_parse(body, strlen(body), MT_MAX_DSTACK_RESPONSE, &resp);
    mt_free(body);
    if (e == MT_OK) {
        qhex = json_string_value(json_object_get(resp, "quote"));
        e = qhex == NULL ? MT_ERR_INTERNAL
                         : mt_hex_decode_alloc(qhex, strlen(qhex), MT_MAX_QUOTE_SIZE, quote, len);
    }
    json_decref(resp);
    return e;
}

/* 64 hex digits (either case) into 32 bytes; 0 when the value is anything else. */
static int
hex32(const json_t *v, uint8_t out[32])
{
    const char *s = json_string_value(v);

    return s != NULL && strlen(s) == 64 && mt_hex_decode_exact(s, 64, out, 32) == MT_OK;
}

mt_err
mt_sim_node_attest(struct mt_sim_agent *agent, const char *body, size_t len, int *status,
                   char **resp)
{
    json_t *req = NULL, *data = NULL, *qj, *out;
    const json_t *app;
    struct mt_quote q;
    uint8_t rd[64] = {0}, *quote = NULL;
    size_t qlen = 0;
    char *b64 = NULL, *text;
    mt_err e;

    *resp = NULL;
    if (mt_json_parse(body, len, MT_SIM_NODE_MAX_BODY, &req) != MT_OK || !json_is_object(req)) {
        json_decref(req);
        return error_body(400, "request body is not a JSON object", status, resp);
    }
    if (!hex32(json_object_get(req, "nonce"), rd)) {
        json_decref(req);
        return error_body(400, "nonce must be 64 hex digits (32 bytes)", status, resp);
    }
    /* merod binds the application's bytecode BlobId (32 bytes) when one is named. */
    app = json_object_get(req, "applicationId");
    if (app != NULL && !json_is_null(app) && !hex32(app, rd + 32)) {
        json_decref(req);
        return error_body(400, "applicationId must be 64 hex digits (32 bytes)", status, resp);
    }
    json_decref(req);

    e = agent_quote(agent, rd, &quote, &qlen);
    if (e == MT_OK)
        e = mt_quote_parse(quote, qlen, &q);
    if (e == MT_OK && q.body_kind != MT_BODY_TD10 && q.body_kind != MT_BODY_TD15)
        e = MT_ERR_INTERNAL;
    if (e != MT_OK) {
        mt_free(quote);
        return error_body(500, "quote generation failed", status, resp);
    }
    b64 = mt_b64_encode_alloc(quote, qlen);
    qj = merod_quote_json(&q);
    data = json_object();
    out = json_object();
    e = MT_ERR_NOMEM;
    if (b64 != NULL && qj != NULL && data != NULL && out != NULL &&
        json_object_set_new(data, "quoteB64", json_string(b64)) == 0 &&
        json_object_set_new(data, "quote", qj) == 0) {
        qj = NULL;
        if (json_object_set_new(out, "data", data) == 0) {
            data = NULL;
            text = json_dumps(out, JSON_COMPACT | JSON_PRESERVE_ORDER);
            if (text != NULL) {
                *resp = mt_strdup(text);
                mt_free_libc(text);
                if (*resp != NULL) {
                    *status = 200;
                    e = MT_OK;
                }
            }
        }
    }
    json_decref(qj);
    json_decref(data);
    json_decref(out);
    mt_free(b64);
    mt_free(quote);
    return e;
}

static mt_err
info_body(struct mt_sim_agent *agent, int *status, char **resp)
{
    const struct mt_sim_machine *m = mt_sim_agent_machine(agent);
    char hex[97], image[128], *text;
    json_t *o;

    mt_hex_encode(m->mrtd, 48, hex);
    snprintf(image, sizeof(image), "mero-tee-sim %s", m->name);
    o = json_pack("{s:{s:s,s:s,s:s}}", "data", "cloudProvider", "unknown", "osImage", image, "mrtd",
                  hex);
    MT_ENSURE(o != NULL, MT_ERR_NOMEM);
    text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    MT_ENSURE(text != NULL, MT_ERR_NOMEM);
    *resp = mt_strdup(text);
    mt_free_libc(text);
    MT_ENSURE(*resp != NULL, MT_ERR_NOMEM);
    *status = 200;
    return MT_OK;
}

static enum MHD_Result
send_json(struct MHD_Connection *conn, int status, const char *text)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result ret;

    if (r == NULL)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    if (status == 405)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW,
                                strstr(text, "GET") != NULL ? "GET" : "POST");
    ret = MHD_queue_response(conn, (unsigned int)status, r);
    MHD_destroy_response(r);
    return ret;
}

static int
is_json_type(const char *ct)
{
    size_t n = strlen("application/json");

    return ct != NULL && strncasecmp(ct, "application/json", n) == 0 &&
           (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
           const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    struct mt_sim_node *n = cls;
    struct node_req *st = *con_cls;
    const char *msg = NULL;
    char *resp = NULL;
    int status = 500, attest = strcmp(url, "/admin-api/tee/attest") == 0,
        info = strcmp(url, "/admin-api/tee/info") == 0;
    enum MHD_Result ret;
    mt_err e = MT_OK;

    (void)version;
    if (st == NULL) {
        st = mt_calloc(1, sizeof(*st));
        if (st == NULL)
            return MHD_NO;
        mt_buf_init(&st->body, MT_SIM_NODE_MAX_BODY);
        *con_cls = st;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        if (!st->oversize && mt_buf_append(&st->body, upload_data, *upload_data_size) != MT_OK)
            st->oversize = 1;
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (!attest && !info) {
        status = 404;
        msg = "not found";
    } else if (attest && strcmp(method, "POST") != 0) {
        status = 405;
        msg = "method not allowed: POST";
    } else if (info && strcmp(method, "GET") != 0) {
        status = 405;
        msg = "method not allowed: GET";
    } else if (st->oversize) {
        status = 413;
        msg = "request body too large";
    } else if (attest && !is_json_type(MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                                   MHD_HTTP_HEADER_CONTENT_TYPE))) {
        status = 415;
        msg = "Content-Type must be application/json";
    } else if (attest) {
        e = mt_sim_node_attest(n->agent, st->body.p != NULL ? (const char *)st->body.p : "",
                               st->body.len, &status, &resp);
    } else {
        e = info_body(n->agent, &status, &resp);
    }
    if (msg != NULL)
        e = error_body(status, msg, &status, &resp);
    if (e != MT_OK || resp == NULL) {
        mt_free(resp);
        return send_json(conn, 500, "{\"error\":\"internal error\"}");
    }
    ret = send_json(conn, status, resp);
    mt_free(resp);
    return ret;
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
             enum MHD_RequestTerminationCode toe)
{
    struct node_req *st = *con_cls;

    (void)cls;
    (void)conn;
    (void)toe;
    if (st != NULL) {
        mt_buf_free(&st->body);
        mt_free(st);
        *con_cls = NULL;
    }
}

mt_err
mt_sim_node_start(struct mt_sim_agent *agent, uint16_t port, struct mt_sim_node **out, char *why,
                  size_t why_len)
{
    struct mt_sim_node *n;
    struct sockaddr_in sin;
    const union MHD_DaemonInfo *info;

    *out = NULL;
    n = mt_calloc(1, sizeof(*n));
    MT_ENSURE(n != NULL, MT_ERR_NOMEM);
    n->agent = agent;
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    n->daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, NULL, NULL, on_request,
        n, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sin, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
        NULL, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)NODE_CONNECTION_MEMORY,
        MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_END);
    if (n->daemon == NULL) {
        snprintf(why, why_len, "cannot listen on 127.0.0.1:%u", (unsigned)port);
        mt_free(n);
        return MT_ERR_IO;
    }
    info = MHD_get_daemon_info(n->daemon, MHD_DAEMON_INFO_BIND_PORT);
    n->port = info != NULL ? info->port : port;
    *out = n;
    return MT_OK;
}

void
mt_sim_node_stop(struct mt_sim_node *n)
{
    if (n == NULL)
        return;
    if (n->daemon != NULL)
        MHD_stop_daemon(n->daemon);
    mt_free(n);
}

uint16_t
mt_sim_node_port(const struct mt_sim_node *n)
{
    return n->port;
}
