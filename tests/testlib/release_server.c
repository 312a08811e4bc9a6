#include "release_server.h"
#include "mhd_test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#include <microhttpd.h>

/*
 * The server allocates with libc, not mt_alloc, so a test that sets the
 * mt_alloc failure hook fails only the client's allocations.
 */

enum rs_kind {
    RS_BODY = 0,
    RS_STATUS,
    RS_REDIRECT,
    RS_HANGUP,
    RS_OVERSIZE,
};

struct rs_route {
    char *path; /* owned; NULL = free slot */
    enum rs_kind kind;
    unsigned status;
    char *body; /* owned: the body, or the Location of a redirect */
    size_t len; /* body length, or the oversize byte count */
    int chunked;
    unsigned long count;
};

struct rs_dir {
    char *prefix; /* owned; NULL = free slot */
    char *dir;    /* owned */
};

struct mt_release_server {
    struct rs_dir dirs[MT_RELEASE_SERVER_MAX_DIRS];
    struct MHD_Daemon *daemon;
    uint16_t port;
    char url[32];
    pthread_mutex_t lock; /* guards everything below */
    struct rs_route routes[MT_RELEASE_SERVER_MAX_PATHS];
    unsigned long total;
    unsigned long delay_ms;
    char user_agent[256];
    atomic_int stopping;
};

/* A route copied out from under the lock. */
struct rs_answer {
    enum rs_kind kind;
    unsigned status;
    char *body;
    size_t len;
    int chunked;
};

static void
route_clear(struct rs_route *r)
{
    free(r->path);
    free(r->body);
    memset(r, 0, sizeof(*r));
}

/* The route for path, or NULL; lock held. */
static struct rs_route *
find(struct mt_release_server *s, const char *path)
{
    size_t i;

    for (i = 0; i < MT_RELEASE_SERVER_MAX_PATHS; i++) {
        if (s->routes[i].path != NULL && strcmp(s->routes[i].path, path) == 0)
            return &s->routes[i];
    }
    return NULL;
}

static enum MHD_Result
queue(struct MHD_Connection *conn, unsigned status, const char *body, size_t len, const char *type,
      const char *location)
{
    struct MHD_Response *resp;
    enum MHD_Result ret;

    resp = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (resp == NULL)
        return MHD_NO;
    if (type != NULL)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (location != NULL)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, location);
    ret = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/*
 * The file a served directory holds for url, as a malloc'd path, or NULL
 * when no directory's prefix matches; lock held.
 */
static char *
dir_file(struct mt_release_server *s, const char *url)
{
    size_t i, n;
    const char *name;
    char *path;

    for (i = 0; i < MT_RELEASE_SERVER_MAX_DIRS; i++) {
        if (s->dirs[i].prefix == NULL)
            continue;
        n = strlen(s->dirs[i].prefix);
        if (strncmp(url, s->dirs[i].prefix, n) != 0 || url[n] != '/')
            continue;
        name = url + n + 1;
        if (name[0] == '\0' || strchr(name, '/') != NULL || strcmp(name, ".") == 0 ||
            strcmp(name, "..") == 0)
            return NULL;
        n = strlen(s->dirs[i].dir) + strlen(name) + 2;
        path = malloc(n);
        if (path != NULL)
            snprintf(path, n, "%s/%s", s->dirs[i].dir, name);
        return path;
    }
    return NULL;
}

/* Read a regular file (not a symlink) into a malloc'd buffer: 0, or 404 / 500. */
static unsigned
read_served(const char *path, char **body, size_t *len)
{
    struct stat st;
    FILE *f;
    char *b;

    if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return 404;
    if ((uint64_t)st.st_size > MT_RELEASE_SERVER_MAX_FILE)
        return 500;
    b = malloc((size_t)st.st_size + 1);
    if (b == NULL)
        return 500;
    f = fopen(path, "rb");
    if (f == NULL || fread(b, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
        if (f != NULL)
            fclose(f);
        free(b);
        return 500;
    }
    fclose(f);
    *body = b;
    *len = (size_t)st.st_size;
    return 0;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
           const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    struct mt_release_server *s = cls;
    struct MHD_Response *resp;
    struct rs_route *r;
    struct rs_answer a;
    const char *ua;
    char *served = NULL;
    char text[64];
    unsigned long delay;
    enum MHD_Result ret;
    int n;

    (void)version;
    (void)upload_data;
    (void)upload_data_size;
    /* First call: headers only; answer on the second, as MHD expects for bodies. */
    if (*con_cls == NULL) {
        *con_cls = s;
        return MHD_YES;
    }
    memset(&a, 0, sizeof(a));
    pthread_mutex_lock(&s->lock);
    s->total++;
    ua = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_USER_AGENT);
    snprintf(s->user_agent, sizeof(s->user_agent), "%s", ua != NULL ? ua : "");
    r = find(s, url);
    if (r == NULL) {
        a.kind = RS_STATUS;
        a.status = 404;
        served = dir_file(s, url);
    } else {
        r->count++;
        a.kind = r->kind;
        a.status = r->status;
        a.len = r->len;
        a.chunked = r->chunked;
        if (r->body != NULL) {
            a.body = malloc(r->len + 1);
            if (a.body != NULL) {
                memcpy(a.body, r->body, r->len);
                a.body[r->len] = '\0';
            }
        }
    }
    delay = s->delay_ms;
    pthread_mutex_unlock(&s->lock);
    if (served != NULL) {
        a.status = read_served(served, &a.body, &a.len);
        if (a.status == 0)
            a.kind = RS_BODY;
        free(served);
    }

    if (delay > 0)
        mt_test_sleep_unless(&s->stopping, delay);
    if (strcmp(method, "GET") != 0) {
        ret = queue(conn, 405, "method not allowed\n", 19, "text/plain", NULL);
        goto out;
    }
    switch (a.kind) {
    case RS_BODY:
        ret = a.body != NULL ? queue(conn, 200, a.body, a.len, "application/octet-stream", NULL)
                             : MHD_NO;
        break;
    case RS_REDIRECT:
        ret = a.body != NULL ? queue(conn, 302, "", 0, NULL, a.body) : MHD_NO;
        break;
    case RS_HANGUP:
        /* MHD_NO closes the connection before anything is sent. */
        ret = MHD_NO;
        break;
    case RS_OVERSIZE:
        resp = mt_test_filler_response(a.len, a.chunked);
        if (resp == NULL) {
            ret = MHD_NO;
            break;
        }
        ret = MHD_queue_response(conn, 200, resp);
        MHD_destroy_response(resp);
        break;
    case RS_STATUS:
    default:
        n = snprintf(text, sizeof(text), "%s\n", a.status == 404 ? "Not Found" : "scripted status");
        ret = queue(conn, a.status, text, (size_t)n, "text/plain", NULL);
        break;
    }
out:
    free(a.body);
    return ret;
}

mt_err
mt_release_server_start(struct mt_release_server **out)
{
    struct mt_release_server *s;
    struct sockaddr_in sin;
    const union MHD_DaemonInfo *info;

    s = calloc(1, sizeof(*s));
    MT_ENSURE(s != NULL, MT_ERR_NOMEM);
    if (pthread_mutex_init(&s->lock, NULL) != 0) {
        free(s);
        return MT_ERR_INTERNAL;
    }
    atomic_init(&s->stopping, 0);
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = 0;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->daemon =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, NULL,
                         NULL, on_request, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sin,
                         MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_END);
    if (s->daemon == NULL) {
        mt_release_server_stop(s);
        return MT_ERR_IO;
    }
    info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    if (info == NULL || info->port == 0) {
        mt_release_server_stop(s);
        return MT_ERR_IO;
    }
    s->port = info->port;
    snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%u", (unsigned)s->port);
    *out = s;
    return MT_OK;
}

void
mt_release_server_stop(struct mt_release_server *s)
{
    size_t i;

    if (s == NULL)
        return;
    atomic_store(&s->stopping, 1);
    if (s->daemon != NULL)
        MHD_stop_daemon(s->daemon);
    for (i = 0; i < MT_RELEASE_SERVER_MAX_PATHS; i++)
        route_clear(&s->routes[i]);
    for (i = 0; i < MT_RELEASE_SERVER_MAX_DIRS; i++) {
        free(s->dirs[i].prefix);
        free(s->dirs[i].dir);
    }
    pthread_mutex_destroy(&s->lock);
    free(s);
}

const char *
mt_release_server_url(const struct mt_release_server *s)
{
    return s->url;
}

uint16_t
mt_release_server_port(const struct mt_release_server *s)
{
    return s->port;
}

/* Replace (or create) the route of path; body is copied.  Counts survive a replace. */
static mt_err
script(struct mt_release_server *s, const char *path, enum rs_kind kind, unsigned status,
       const void *body, size_t len, int chunked)
{
    struct rs_route *r;
    char *p = NULL, *b = NULL;
    unsigned long count = 0;
    size_t i;
    mt_err e = MT_OK;

    MT_ENSURE(s != NULL && path != NULL && path[0] == '/', MT_ERR_ARG);
    if (body != NULL) {
        b = malloc(len + 1);
        MT_ENSURE(b != NULL, MT_ERR_NOMEM);
        memcpy(b, body, len);
        b[len] = '\0';
    }
    pthread_mutex_lock(&s->lock);
    r = find(s, path);
    if (r != NULL) {
        count = r->count;
        p = r->path;
        r->path = NULL;
        route_clear(r);
    } else {
        for (i = 0; i < MT_RELEASE_SERVER_MAX_PATHS && r == NULL; i++) {
            if (s->routes[i].path == NULL)
                r = &s->routes[i];
        }
        p = strdup(path);
    }
    if (r == NULL || p == NULL) {
        free(p);
        free(b);
        e = r == NULL ? MT_ERR_TOO_LARGE : MT_ERR_NOMEM;
        goto out;
    }
    r->path = p;
    r->kind = kind;
    r->status = status;
    r->body = b;
    r->len = len;
    r->chunked = chunked;
    r->count = count;
out:
    pthread_mutex_unlock(&s->lock);
    return e;
}

mt_err
mt_release_server_put(struct mt_release_server *s, const char *path, const void *body, size_t len)
{
    MT_ENSURE(body != NULL || len == 0, MT_ERR_ARG);
    return script(s, path, RS_BODY, 200, body != NULL ? body : "", len, 0);
}

mt_err
mt_release_server_put_asset(struct mt_release_server *s, const char *version, const char *asset,
                            const void *body, size_t len)
{
    char path[512];
    int n;

    MT_ENSURE(version != NULL && asset != NULL, MT_ERR_ARG);
    n = snprintf(path, sizeof(path), "/mero-kms-v%s/%s", version, asset);
    MT_ENSURE(n > 0 && (size_t)n < sizeof(path), MT_ERR_ARG);
    return mt_release_server_put(s, path, body, len);
}

mt_err
mt_release_server_set_status(struct mt_release_server *s, const char *path, unsigned status)
{
    return script(s, path, RS_STATUS, status, NULL, 0, 0);
}

mt_err
mt_release_server_set_redirect(struct mt_release_server *s, const char *path, const char *location)
{
    MT_ENSURE(location != NULL, MT_ERR_ARG);
    return script(s, path, RS_REDIRECT, 302, location, strlen(location), 0);
}

mt_err
mt_release_server_set_hangup(struct mt_release_server *s, const char *path)
{
    return script(s, path, RS_HANGUP, 0, NULL, 0, 0);
}

mt_err
mt_release_server_set_oversize(struct mt_release_server *s, const char *path, size_t n, int chunked)
{
    return script(s, path, RS_OVERSIZE, 200, NULL, n, chunked);
}

void
mt_release_server_clear(struct mt_release_server *s)
{
    size_t i;

    pthread_mutex_lock(&s->lock);
    for (i = 0; i < MT_RELEASE_SERVER_MAX_PATHS; i++)
        route_clear(&s->routes[i]);
    s->total = 0;
    s->user_agent[0] = '\0';
    pthread_mutex_unlock(&s->lock);
}

void
mt_release_server_set_delay(struct mt_release_server *s, unsigned long ms)
{
    pthread_mutex_lock(&s->lock);
    s->delay_ms = ms;
    pthread_mutex_unlock(&s->lock);
}

unsigned long
mt_release_server_count(struct mt_release_server *s, const char *path)
{
    struct rs_route *r;
    unsigned long n;

    pthread_mutex_lock(&s->lock);
    if (path == NULL) {
        n = s->total;
    } else {
        r = find(s, path);
        n = r != NULL ? r->count : 0;
    }
    pthread_mutex_unlock(&s->lock);
    return n;
}

void
mt_release_server_last_user_agent(struct mt_release_server *s, char *out, size_t out_len)
{
    if (out == NULL || out_len == 0)
        return;
    pthread_mutex_lock(&s->lock);
    snprintf(out, out_len, "%s", s->user_agent);
    pthread_mutex_unlock(&s->lock);
}

mt_err
mt_release_server_serve_dir(struct mt_release_server *s, const char *prefix, const char *dir)
{
    struct rs_dir *slot = NULL;
    char *p, *d;
    size_t i, n;
    mt_err e = MT_OK;

    MT_ENSURE(s != NULL && prefix != NULL && dir != NULL && prefix[0] == '/', MT_ERR_ARG);
    n = strlen(prefix);
    MT_ENSURE(n > 1 && prefix[n - 1] != '/', MT_ERR_ARG);
    p = strdup(prefix);
    d = strdup(dir);
    if (p == NULL || d == NULL) {
        free(p);
        free(d);
        return MT_ERR_NOMEM;
    }
    pthread_mutex_lock(&s->lock);
    for (i = 0; i < MT_RELEASE_SERVER_MAX_DIRS && slot == NULL; i++) {
        if (s->dirs[i].prefix != NULL && strcmp(s->dirs[i].prefix, prefix) == 0)
            slot = &s->dirs[i];
    }
    for (i = 0; i < MT_RELEASE_SERVER_MAX_DIRS && slot == NULL; i++) {
        if (s->dirs[i].prefix == NULL)
            slot = &s->dirs[i];
    }
    if (slot == NULL) {
        free(p);
        free(d);
        e = MT_ERR_TOO_LARGE;
    } else {
        free(slot->prefix);
        free(slot->dir);
        slot->prefix = p;
        slot->dir = d;
    }
    pthread_mutex_unlock(&s->lock);
    return e;
}
