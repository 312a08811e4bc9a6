#include "dstack_stub.h"
#include "mhd_test.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

/* Methods one stub can be scripted for (the agent has nine). */
#define STUB_MAX_METHODS 16

struct stub_reply {
    char method[64];
    unsigned status;
    char *body; /* owned; NULL for an oversize reply */
    size_t body_len;
    size_t oversize; /* > 0: n bytes of 'x' */
    int chunked;
};

struct mt_dstack_stub {
    struct MHD_Daemon *daemon;
    char dir[64];
    char path[128];
    pthread_mutex_t lock; /* guards everything below */
    struct stub_reply replies[STUB_MAX_METHODS];
    size_t num_replies;
    unsigned long delay_ms;
    unsigned long count;
    struct mt_dstack_stub_request last;
    int have_last;
    atomic_int stopping;
};

/*
 * Per-request state while MHD feeds the upload.  The stub allocates with
 * libc, not mt_alloc, so a test that sets the mt_alloc failure hook fails
 * only the client's allocations, never the stand-in server's.
 */
struct stub_conn {
    char *body;
    size_t len;
    int too_large;
};

/* A reply copied out from under the lock. */
struct stub_answer {
    unsigned status;
    char *body;
    size_t body_len;
    size_t oversize;
    int chunked;
};

static enum MHD_Result
send_answer(struct MHD_Connection *conn, const struct stub_answer *a)
{
    struct MHD_Response *resp;
    enum MHD_Result ret;

    if (a->oversize > 0) {
        resp = mt_test_filler_response(a->oversize, a->chunked);
    } else {
        resp = MHD_create_response_from_buffer(a->body_len, a->body != NULL ? a->body : (void *)"",
                                               MHD_RESPMEM_MUST_COPY);
    }
    if (resp == NULL)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    ret = MHD_queue_response(conn, a->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static void
copy_field(char *dst, size_t cap, const char *src)
{
    size_t n = src != NULL ? strlen(src) : 0;

    if (n >= cap)
        n = cap - 1;
    if (n > 0)
        memcpy(dst, src, n);
    dst[n] = '\0';
}

/* Record the request and choose the answer, under the lock. */
static void
record_and_choose(struct mt_dstack_stub *s, struct MHD_Connection *conn, const char *url,
                  const char *http_method, struct stub_conn *sc, struct stub_answer *a,
                  unsigned long *delay)
{
    const char *name = url[0] == '/' ? url + 1 : url;
    struct mt_dstack_stub_request *r = &s->last;
    char msg[160];
    size_t i;
    int n, found = 0;

    memset(a, 0, sizeof(*a));
    pthread_mutex_lock(&s->lock);
    s->count++;
    mt_dstack_stub_request_free(r);
    copy_field(r->method, sizeof(r->method), name);
    copy_field(r->http_method, sizeof(r->http_method), http_method);
    copy_field(r->content_type, sizeof(r->content_type),
               MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE));
    r->body = strndup(sc->body != NULL ? sc->body : "", sc->len);
    r->body_len = r->body != NULL ? sc->len : 0;
    s->have_last = 1;
    *delay = s->delay_ms;
    for (i = 0; i < s->num_replies; i++) {
        if (strcmp(s->replies[i].method, name) != 0)
            continue;
        found = 1;
        a->status = s->replies[i].status;
        a->oversize = s->replies[i].oversize;
        a->chunked = s->replies[i].chunked;
        if (s->replies[i].body != NULL) {
            a->body = malloc(s->replies[i].body_len + 1);
            if (a->body != NULL) {
                memcpy(a->body, s->replies[i].body, s->replies[i].body_len);
                a->body_len = s->replies[i].body_len;
            }
        }
        break;
    }
    pthread_mutex_unlock(&s->lock);
    if (found && (a->body != NULL || a->oversize > 0))
        return;
    if (sc->too_large) {
        a->status = 413;
        n = snprintf(msg, sizeof(msg), "{\"error\": \"request body too large\"}");
    } else {
        a->status = 400;
        n = snprintf(msg, sizeof(msg), "{\n  \"error\": \"Service not found: %.64s\"\n}", name);
    }
    a->body = strndup(msg, n > 0 ? (size_t)n : 0);
    a->body_len = a->body != NULL ? strlen(a->body) : 0;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
           const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    struct mt_dstack_stub *s = cls;
    struct stub_conn *sc = *con_cls;
    struct stub_answer a;
    unsigned long delay = 0;
    enum MHD_Result ret;
    char *nb;
    size_t n;

    (void)version;
    if (sc == NULL) {
        /* First call: headers only.  Collect the body over the next calls. */
        sc = calloc(1, sizeof(*sc));
        if (sc == NULL)
            return MHD_NO;
        *con_cls = sc;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        n = *upload_data_size;
        if (sc->too_large || n > MT_DSTACK_STUB_MAX_REQUEST - sc->len ||
            (nb = realloc(sc->body, sc->len + n + 1)) == NULL) {
            sc->too_large = 1;
        } else {
            sc->body = nb;
            memcpy(sc->body + sc->len, upload_data, n);
            sc->len += n;
            sc->body[sc->len] = '\0';
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    record_and_choose(s, conn, url, method, sc, &a, &delay);
    /* Wait outside the lock so other connections keep being served. */
    if (delay > 0)
        mt_test_sleep_unless(&s->stopping, delay);
    ret = send_answer(conn, &a);
    free(a.body);
    return ret;
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
             enum MHD_RequestTerminationCode toe)
{
    struct stub_conn *sc = *con_cls;

    (void)cls;
    (void)conn;
    (void)toe;
    if (sc != NULL) {
        free(sc->body);
        free(sc);
        *con_cls = NULL;
    }
}

mt_err
mt_dstack_stub_start(struct mt_dstack_stub **out)
{
    struct mt_dstack_stub *s;
    struct sockaddr_un sun;
    int fd = -1;
    mt_err e = MT_OK;

    s = calloc(1, sizeof(*s));
    MT_ENSURE(s != NULL, MT_ERR_NOMEM);
    if (pthread_mutex_init(&s->lock, NULL) != 0) {
        free(s);
        return MT_ERR_INTERNAL;
    }
    atomic_init(&s->stopping, 0);
    snprintf(s->dir, sizeof(s->dir), "/tmp/mt-dstack-XXXXXX");
    if (mkdtemp(s->dir) == NULL) {
        s->dir[0] = '\0';
        e = MT_ERR_IO;
        goto out;
    }
    snprintf(s->path, sizeof(s->path), "%s/dstack.sock", s->dir);
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    memcpy(sun.sun_path, s->path, strlen(s->path) + 1);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    MT_ENSURE_GOTO(fd >= 0, MT_ERR_IO, e, out);
    MT_ENSURE_GOTO(bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0, MT_ERR_IO, e, out);
    MT_ENSURE_GOTO(listen(fd, 16) == 0, MT_ERR_IO, e, out);
    s->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0,
                                 NULL, NULL, on_request, s, MHD_OPTION_LISTEN_SOCKET, fd,
                                 MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                                 MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_END);
    MT_ENSURE_GOTO(s->daemon != NULL, MT_ERR_IO, e, out);
    /* The daemon owns the socket now and closes it when stopped. */
    fd = -1;
    *out = s;
    s = NULL;
out:
    if (fd >= 0)
        close(fd);
    mt_dstack_stub_stop(s);
    return e;
}

void
mt_dstack_stub_stop(struct mt_dstack_stub *s)
{
    size_t i;

    if (s == NULL)
        return;
    atomic_store(&s->stopping, 1);
    if (s->daemon != NULL)
        MHD_stop_daemon(s->daemon);
    if (s->path[0] != '\0')
        (void)unlink(s->path);
    if (s->dir[0] != '\0')
        (void)rmdir(s->dir);
    for (i = 0; i < s->num_replies; i++)
        free(s->replies[i].body);
    mt_dstack_stub_request_free(&s->last);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

const char *
mt_dstack_stub_socket(const struct mt_dstack_stub *s)
{
    return s->path;
}

/* The slot for method, new or replaced; NULL when the table is full. */
static struct stub_reply *
slot(struct mt_dstack_stub *s, const char *method)
{
    struct stub_reply *r;
    size_t i;

    for (i = 0; i < s->num_replies; i++) {
        if (strcmp(s->replies[i].method, method) == 0) {
            r = &s->replies[i];
            free(r->body);
            memset(r, 0, sizeof(*r));
            copy_field(r->method, sizeof(r->method), method);
            return r;
        }
    }
    if (s->num_replies == STUB_MAX_METHODS)
        return NULL;
    r = &s->replies[s->num_replies++];
    memset(r, 0, sizeof(*r));
    copy_field(r->method, sizeof(r->method), method);
    return r;
}

mt_err
mt_dstack_stub_set_reply(struct mt_dstack_stub *s, const char *method, unsigned status,
                         const char *body, size_t body_len)
{
    struct stub_reply *r;
    char *copy;

    copy = malloc(body_len + 1);
    MT_ENSURE(copy != NULL, MT_ERR_NOMEM);
    memcpy(copy, body, body_len);
    copy[body_len] = '\0';
    pthread_mutex_lock(&s->lock);
    r = slot(s, method);
    if (r != NULL) {
        r->status = status;
        r->body = copy;
        r->body_len = body_len;
        copy = NULL;
    }
    pthread_mutex_unlock(&s->lock);
    free(copy);
    return r != NULL ? MT_OK : MT_ERR_TOO_LARGE;
}

mt_err
mt_dstack_stub_set_oversize(struct mt_dstack_stub *s, const char *method, size_t n, int chunked)
{
    struct stub_reply *r;

    MT_ENSURE(n > 0, MT_ERR_ARG);
    pthread_mutex_lock(&s->lock);
    r = slot(s, method);
    if (r != NULL) {
        r->status = 200;
        r->oversize = n;
        r->chunked = chunked;
    }
    pthread_mutex_unlock(&s->lock);
    return r != NULL ? MT_OK : MT_ERR_TOO_LARGE;
}

void
mt_dstack_stub_set_delay(struct mt_dstack_stub *s, unsigned long ms)
{
    pthread_mutex_lock(&s->lock);
    s->delay_ms = ms;
    pthread_mutex_unlock(&s->lock);
}

unsigned long
mt_dstack_stub_count(struct mt_dstack_stub *s)
{
    unsigned long n;

    pthread_mutex_lock(&s->lock);
    n = s->count;
    pthread_mutex_unlock(&s->lock);
    return n;
}

void
mt_dstack_stub_reset_count(struct mt_dstack_stub *s)
{
    pthread_mutex_lock(&s->lock);
    s->count = 0;
    pthread_mutex_unlock(&s->lock);
}

mt_err
mt_dstack_stub_last_request(struct mt_dstack_stub *s, struct mt_dstack_stub_request *out)
{
    mt_err e = MT_OK;

    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&s->lock);
    if (!s->have_last) {
        e = MT_ERR_ARG;
    } else {
        *out = s->last;
        out->body = strndup(s->last.body != NULL ? s->last.body : "", s->last.body_len);
        if (out->body == NULL) {
            memset(out, 0, sizeof(*out));
            e = MT_ERR_NOMEM;
        }
    }
    pthread_mutex_unlock(&s->lock);
    return e;
}

void
mt_dstack_stub_request_free(struct mt_dstack_stub_request *r)
{
    if (r == NULL)
        return;
    free(r->body);
    memset(r, 0, sizeof(*r));
}
