#include "kms/kms_http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>
#include <openssl/crypto.h>

#include "kms/kms_handlers.h"
#include "util/mt_alloc.h"
#include "util/mt_buf.h"

struct mt_kms_http {
    struct MHD_Daemon *daemon;
    struct mt_kms *k;
    uint16_t port;
};

/* Per-request state across MHD's calls. */
struct conn {
    struct mt_buf body;
    int too_large;
    uint64_t t0;
};

static void
free_secret_body(void *p)
{
    /* Only key-carrying responses come here; the length is the string's. */
    if (p != NULL)
        OPENSSL_cleanse(p, strlen(p));
    mt_free(p);
}

static enum MHD_Result
send_response(struct MHD_Connection *c, struct mt_kms_response *rs)
{
    struct MHD_Response *r;
    enum MHD_Result ret;
    size_t i;

    if (rs->secret) {
        r = MHD_create_response_from_buffer_with_free_callback(rs->body_len, rs->body,
                                                               free_secret_body);
        if (r != NULL)
            rs->body = NULL; /* MHD owns it now and wipes it when done */
    } else {
        r = MHD_create_response_from_buffer(rs->body_len, rs->body, MHD_RESPMEM_MUST_COPY);
    }
    if (r == NULL) {
        mt_kms_response_free(rs);
        return MHD_NO;
    }
    if (rs->content_type != NULL)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, rs->content_type);
    for (i = 0; i < rs->num_headers; i++)
        MHD_add_response_header(r, rs->header_name[i], rs->header_value[i]);
    if (rs->secret)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    ret = MHD_queue_response(c, rs->status, r);
    MHD_destroy_response(r);
    mt_kms_response_free(rs);
    return ret;
}

static void
log_request(const char *method, const char *url, unsigned status, uint64_t us)
{
    json_t *f = json_pack("{s:s,s:s,s:i,s:I}", "method", method, "path", url, "status", (int)status,
                          "durationUs", (json_int_t)us);

    /* A not-ready /ready is an answer, not a fault: probes would flood the error level. */
    mt_kms_log(status >= 500 && strcmp(url, "/ready") != 0 ? "error" : "info", "request", f);
    json_decref(f);
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
           const char *version, const char *upload_data, size_t *upload_size, void **con_cls)
{
    struct mt_kms_http *h = cls;
    struct conn *cn = *con_cls;
    struct mt_kms_request rq;
    struct mt_kms_response rs;
    const char *cl;

    (void)version;
    if (cn == NULL) {
        cn = mt_calloc(1, sizeof(*cn));
        if (cn == NULL)
            return MHD_NO;
        mt_buf_init(&cn->body, MT_KMS_MAX_BODY);
        cn->t0 = mt_monotonic_us();
        *con_cls = cn;
        /* A declared length over the limit is refused before reading it. */
        cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl != NULL && strlen(cl) > 6)
            cn->too_large = 1;
        else if (cl != NULL && strtoul(cl, NULL, 10) > MT_KMS_MAX_BODY)
            cn->too_large = 1;
        return MHD_YES;
    }
    if (*upload_size > 0) {
        if (!cn->too_large && mt_buf_append(&cn->body, upload_data, *upload_size) != MT_OK) {
            cn->too_large = 1;
            mt_buf_free(&cn->body);
        }
        *upload_size = 0;
        return MHD_YES;
    }
    memset(&rq, 0, sizeof(rq));
    rq.method = method;
    rq.path = url;
    rq.content_type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    rq.origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
    rq.acr_method =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Access-Control-Request-Method");
    rq.body = cn->body.p == NULL ? (const uint8_t *)"" : cn->body.p;
    rq.body_len = cn->body.len;
    rq.body_too_large = cn->too_large;
    if (mt_kms_handle(h->k, &rq, &rs) != MT_OK)
        return MHD_NO;
    log_request(method, url, rs.status, mt_monotonic_us() - cn->t0);
    return send_response(c, &rs);
}

static void
on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
             enum MHD_RequestTerminationCode toe)
{
    struct conn *cn = *con_cls;

    (void)cls;
    (void)c;
    (void)toe;
    if (cn == NULL)
        return;
    /* Request bodies carry signatures and quotes: not secrets, but no reason to linger. */
    if (cn->body.p != NULL)
        OPENSSL_cleanse(cn->body.p, cn->body.len);
    mt_buf_free(&cn->body);
    mt_free(cn);
    *con_cls = NULL;
}

void
mt_kms_http_stop(struct mt_kms_http *h)
{
    if (h == NULL)
        return;
    if (h->daemon != NULL)
        MHD_stop_daemon(h->daemon);
    mt_free(h);
}

uint16_t
mt_kms_http_port(const struct mt_kms_http *h)
{
    return h->port;
}

mt_err
mt_kms_http_start(struct mt_kms *k, unsigned threads, struct mt_kms_http **out, char *why,
                  size_t why_len)
{
    struct sockaddr_storage ss;
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
    const union MHD_DaemonInfo *info;
    struct mt_kms_http *h;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL;
    mt_err e = MT_OK;

    memset(&ss, 0, sizeof(ss));
    if (inet_pton(AF_INET, k->cfg->listen_host, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons(k->cfg->listen_port);
    } else if (inet_pton(AF_INET6, k->cfg->listen_host, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(k->cfg->listen_port);
        flags |= MHD_USE_IPv6;
    } else {
        snprintf(why, why_len, "LISTEN_ADDR: %s is not an IP address", k->cfg->listen_host);
        return MT_ERR_CONFIG;
    }
    h = mt_calloc(1, sizeof(*h));
    MT_ENSURE(h != NULL, MT_ERR_NOMEM);
    h->k = k;
    h->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_THREAD_POOL_SIZE, threads == 0 ? 2u : threads, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, NULL, MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_CONNECTION_LIMIT, 1024u,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(128u * 1024u), MHD_OPTION_END);
    if (h->daemon == NULL) {
        snprintf(why, why_len, "cannot listen on %s:%u", k->cfg->listen_host,
                 (unsigned)k->cfg->listen_port);
        e = MT_ERR_IO;
        goto out;
    }
    info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info != NULL ? info->port : k->cfg->listen_port;
    *out = h;
    h = NULL;
out:
    mt_kms_http_stop(h);
    return e;
}
