#include "kms/kms_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>
#include <openssl/crypto.h>

#include "kms/kms_handlers.h"
#include "util/mt_alloc.h"
#include "util/mt_buf.h"

/* Most workers (daemons); main.c asks for at most 63. */
#define KMS_HTTP_MAX_WORKERS 64u
/* Connections the whole server holds at once, split across the daemons. */
#define KMS_HTTP_CONNECTION_LIMIT 1024u

/*
 * Either one single-threaded daemon per worker, each with its own SO_REUSEPORT listening
 * socket (the kernel spreads new connections across them by hash), or, where SO_REUSEPORT is
 * missing, daemon[0] alone with MHD's thread pool on one shared socket.  The pool lets whichever
 * thread wakes first accept every pending connection, so a burst of keep-alive connections can
 * all land on one thread while the other cores idle; separate sockets cannot do that.
 */
struct mt_kms_http {
    struct MHD_Daemon *daemon[KMS_HTTP_MAX_WORKERS];
    unsigned num_daemons;
    struct mt_kms *k;
    uint16_t port;
};

/*
 * Per-request state across MHD's calls.  A /get-key answer waits for its
 * audit line's fsync without holding the worker: the connection is
 * suspended with the answer in `pending`, the audit log's syncer calls
 * on_durable, which records the outcome and resumes the connection, and
 * MHD calls on_request again to send it.
 */
struct conn {
    struct mt_buf body;
    int too_large;
    int waiting;    /* suspended until pending's audit line settles */
    mt_err durable; /* its outcome, set by on_durable before the resume */
    struct mt_kms_response pending;
    struct mt_audit_waiter waiter;
    struct MHD_Connection *c;
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

/*
 * libmicrohttpd's per-connection pool holds only the request line, headers
 * and I/O buffers (bodies go to our own buffer, responses are copied), and
 * MHD clears the pool between keep-alive requests: 128 KiB cost a 128 KiB
 * memset per request.  32 KiB leaves headers ample room.
 */
#define MT_KMS_HTTP_POOL_BYTES (32u * 1024u)

static void
log_request(const char *method, const char *url, unsigned status, uint64_t us)
{
    json_t *f = json_pack("{s:s,s:s,s:i,s:I}", "method", method, "path", url, "status", (int)status,
                          "durationUs", (json_int_t)us);

    /* A not-ready /ready is an answer, not a fault: probes would flood the error level. */
    mt_kms_log(status >= 500 && strcmp(url, "/ready") != 0 ? "error" : "info", "request", f);
    json_decref(f);
}

/* The audit log's syncer thread: the line settled; hand the outcome to the worker. */
static void
on_durable(void *arg, mt_err e)
{
    struct conn *cn = arg;

    cn->durable = e;
    /* MHD's resume takes a lock the worker also takes: cn->durable is visible to it. */
    MHD_resume_connection(cn->c);
}

/* Send rs once its audit line has settled (durable), with the request's log line. */
static enum MHD_Result
finish(struct mt_kms_http *h, struct MHD_Connection *c, struct conn *cn, const char *method,
       const char *url, struct mt_kms_response *rs, mt_err durable)
{
    if (mt_kms_handle_finish(h->k, rs, durable) != MT_OK)
        return MHD_NO;
    log_request(method, url, rs->status, mt_monotonic_us() - cn->t0);
    return send_response(c, rs);
}

/*
 * Park the answer until its audit line is durable.  Suspend first: MHD
 * forbids resuming a connection that is not suspended, and the syncer may
 * call on_durable before mt_audit_notify returns.  After mt_audit_quiesce
 * (shutdown) the worker waits itself and resumes at once.
 */
static enum MHD_Result
park(struct mt_kms_http *h, struct MHD_Connection *c, struct conn *cn, struct mt_kms_response *rs)
{
    uint64_t upto = rs->audit_upto;

    cn->pending = *rs;
    cn->waiting = 1;
    cn->c = c;
    MHD_suspend_connection(c);
    if (!mt_audit_notify(h->k->audit, &cn->waiter, upto, on_durable, cn)) {
        cn->durable = mt_audit_wait(h->k->audit, upto);
        MHD_resume_connection(c);
    }
    return MHD_YES;
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
    int settled;

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
    if (cn->waiting) {
        /* Resumed: the audit line settled. */
        cn->waiting = 0;
        rs = cn->pending;
        memset(&cn->pending, 0, sizeof(cn->pending));
        return finish(h, c, cn, method, url, &rs, cn->durable);
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
    if (mt_kms_handle_start(h->k, &rq, &rs) != MT_OK)
        return MHD_NO;
    if (rs.audit_upto == 0)
        return finish(h, c, cn, method, url, &rs, MT_OK);
    settled = mt_audit_durable(h->k->audit, rs.audit_upto);
    if (settled != 0) /* already durable (or never will be): no need to park */
        return finish(h, c, cn, method, url, &rs, settled > 0 ? MT_OK : MT_ERR_IO);
    return park(h, c, cn, &rs);
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
    /* An answer never sent (the client went away): it may hold a key. */
    mt_kms_response_free(&cn->pending);
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
    unsigned i;

    if (h == NULL)
        return;
    /*
     * MHD must not stop with suspended connections: once the audit log has
     * run every registered callback (each resumes its connection) and
     * refuses new ones (workers then wait for the fsync themselves), none
     * is left suspended.
     */
    mt_audit_quiesce(h->k->audit);
    /* Each daemon finishes its requests and closes its listening socket (MHD owns it). */
    for (i = 0; i < h->num_daemons; i++)
        if (h->daemon[i] != NULL)
            MHD_stop_daemon(h->daemon[i]);
    mt_free(h);
}

uint16_t
mt_kms_http_port(const struct mt_kms_http *h)
{
    return h->port;
}

static socklen_t
sockaddr_len(const struct sockaddr_storage *ss)
{
    return ss->ss_family == AF_INET6 ? (socklen_t)sizeof(struct sockaddr_in6)
                                     : (socklen_t)sizeof(struct sockaddr_in);
}

/*
 * A listening socket on ss with SO_REUSEPORT, set up as MHD sets up its own (SO_REUSEADDR,
 * IPV6_V6ONLY, backlog SOMAXCONN, non-blocking, close-on-exec).  *no_reuseport is set when the
 * kernel or libc lacks SO_REUSEPORT, so the caller can fall back to the thread pool.
 */
static mt_err
listen_reuseport(const struct sockaddr_storage *ss, int *out_fd, int *no_reuseport)
{
    const int on = 1;
    int fd;
    mt_err e = MT_ERR_IO;

    fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    MT_ENSURE(fd >= 0, MT_ERR_IO);
    /* As MHD does: a restart may rebind while old connections sit in TIME_WAIT; not fatal. */
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
#ifdef SO_REUSEPORT
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0) {
        *no_reuseport = errno == ENOPROTOOPT || errno == EINVAL;
        goto out;
    }
#else
    *no_reuseport = 1;
    goto out;
#endif
    /* MHD_USE_IPv6 without MHD_USE_DUAL_STACK listens on IPv6 only: keep that. */
    if (ss->ss_family == AF_INET6 &&
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) != 0)
        goto out;
    if (bind(fd, (const struct sockaddr *)ss, sockaddr_len(ss)) != 0 || listen(fd, SOMAXCONN) != 0)
        goto out;
    *out_fd = fd;
    fd = -1;
    e = MT_OK;
out:
    if (fd >= 0)
        close(fd);
    return e;
}

/*
 * Fails when something already listens on ss's port.  A plain bind would refuse, but SO_REUSEPORT
 * would let this process silently join another one's group (same user) and split its traffic:
 * probe first with a socket that has no SO_REUSEPORT, as MHD's own bind would.
 */
static mt_err
port_free(const struct sockaddr_storage *ss)
{
    const int on = 1;
    int fd;
    mt_err e = MT_OK;

    fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    MT_ENSURE(fd >= 0, MT_ERR_IO);
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    if (ss->ss_family == AF_INET6)
        (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
    if (bind(fd, (const struct sockaddr *)ss, sockaddr_len(ss)) != 0)
        e = MT_ERR_IO;
    close(fd);
    return e;
}

/*
 * One daemon with the options every layout shares.  fd >= 0: single-threaded on that listening
 * socket with connection_limit connections; fd < 0: MHD binds ss itself and runs a pool of
 * pool_size threads (MHD splits connection_limit across them).
 */
static struct MHD_Daemon *
daemon_start(struct mt_kms_http *h, unsigned flags, int fd, struct sockaddr_storage *ss,
             unsigned pool_size, unsigned connection_limit)
{
    struct MHD_OptionItem layout[3];

    memset(layout, 0, sizeof(layout));
    if (fd >= 0) {
        layout[0].option = MHD_OPTION_LISTEN_SOCKET;
        layout[0].value = fd;
        layout[1].option = MHD_OPTION_END;
    } else {
        layout[0].option = MHD_OPTION_SOCK_ADDR;
        layout[0].ptr_value = ss;
        layout[1].option = MHD_OPTION_THREAD_POOL_SIZE;
        layout[1].value = (intptr_t)pool_size;
        layout[2].option = MHD_OPTION_END;
    }
    return MHD_start_daemon(flags, 0, NULL, NULL, on_request, h, MHD_OPTION_ARRAY, layout,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
                            MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_CONNECTION_LIMIT,
                            connection_limit, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                            (size_t)MT_KMS_HTTP_POOL_BYTES, MHD_OPTION_END);
}

/*
 * One single-threaded daemon per worker, each on its own SO_REUSEPORT socket bound to ss.  With
 * port 0 the first socket picks the port and the rest join it.  *no_reuseport: nothing was
 * started because SO_REUSEPORT is unavailable on the first socket.
 */
static mt_err
start_reuseport(struct mt_kms_http *h, unsigned flags, struct sockaddr_storage *ss,
                unsigned workers, int *no_reuseport)
{
    struct sockaddr_storage bound;
    socklen_t len;
    unsigned i, limit;
    int fd = -1;

    if (((struct sockaddr_in *)ss)->sin_port != 0)
        MT_GUARD(port_free(ss));
    for (i = 0; i < workers; i++) {
        MT_GUARD(listen_reuseport(ss, &fd, no_reuseport));
        if (i == 0 && ((struct sockaddr_in *)ss)->sin_port == 0) {
            len = sizeof(bound);
            if (getsockname(fd, (struct sockaddr *)&bound, &len) != 0) {
                close(fd);
                return MT_ERR_IO;
            }
            /* sin_port and sin6_port sit at the same offset. */
            ((struct sockaddr_in *)ss)->sin_port = ((struct sockaddr_in *)&bound)->sin_port;
        }
        /* The same total as the pool had: MHD splits its limit across pool threads this way. */
        limit = KMS_HTTP_CONNECTION_LIMIT / workers + (i < KMS_HTTP_CONNECTION_LIMIT % workers);
        h->daemon[i] = daemon_start(h, flags, fd, ss, 0, limit);
        /*
         * On failure the socket is left alone: some of MHD's failure paths close a given
         * listening socket and some do not, and closing a reused descriptor number would be
         * worse than leaking one on a failed start.
         */
        MT_ENSURE(h->daemon[i] != NULL, MT_ERR_IO);
        h->num_daemons = i + 1;
    }
    h->port = ntohs(((struct sockaddr_in *)ss)->sin_port);
    return MT_OK;
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
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME;
    unsigned workers = threads == 0 ? 2u : threads;
    int no_reuseport = 0;
    mt_err e = MT_OK;

    if (workers > KMS_HTTP_MAX_WORKERS)
        workers = KMS_HTTP_MAX_WORKERS;
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
    e = start_reuseport(h, flags, &ss, workers, &no_reuseport);
    if (e == MT_OK) {
        *out = h;
        h = NULL;
        goto out;
    }
    if (!no_reuseport || h->num_daemons != 0) {
        snprintf(why, why_len, "cannot listen on %s:%u: %s", k->cfg->listen_host,
                 (unsigned)k->cfg->listen_port, strerror(errno));
        goto out;
    }
    /* No SO_REUSEPORT: one daemon, MHD's thread pool sharing one socket, as before. */
    e = MT_OK;
    h->daemon[0] = daemon_start(h, flags, -1, &ss, workers, KMS_HTTP_CONNECTION_LIMIT);
    if (h->daemon[0] == NULL) {
        snprintf(why, why_len, "cannot listen on %s:%u", k->cfg->listen_host,
                 (unsigned)k->cfg->listen_port);
        e = MT_ERR_IO;
        goto out;
    }
    h->num_daemons = 1;
    info = MHD_get_daemon_info(h->daemon[0], MHD_DAEMON_INFO_BIND_PORT);
    h->port = info != NULL ? info->port : k->cfg->listen_port;
    *out = h;
    h = NULL;
out:
    mt_kms_http_stop(h);
    return e;
}
