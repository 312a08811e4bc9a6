#include "sim/sim_http.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <microhttpd.h>
#include <openssl/crypto.h>

#include "util/mt_alloc.h"
#include "util/mt_buf.h"
#include "util/mt_json.h"

/* dstack allows 10 MiB per call; nothing the API carries needs more than this. */
#define SIM_MAX_REQUEST (1024u * 1024u)
#define SIM_THREADS 4u

struct mt_sim_http {
    struct MHD_Daemon *daemon;
    struct mt_sim_agent *agent;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    int fd;
};

/* Per-request state across MHD's calls of the handler. */
struct request {
    struct mt_buf body;
    int too_large;
};

/* Responses may hold key material (GetKey): wipe them when MHD is done. */
static void
free_body(void *p)
{
    if (p != NULL)
        OPENSSL_cleanse(p, strlen(p));
    mt_free(p);
}

static enum MHD_Result
send_text(struct MHD_Connection *c, unsigned status, char *body, const char *type)
{
    struct MHD_Response *r;
    enum MHD_Result ret;

    r = MHD_create_response_from_buffer_with_free_callback(strlen(body), body, free_body);
    if (r == NULL) {
        free_body(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result
send_error(struct MHD_Connection *c, const char *msg)
{
    json_t *o = json_pack("{s:s}", "error", msg);
    char *text = o == NULL ? NULL : json_dumps(o, JSON_INDENT(2));
    char *body = text == NULL ? NULL : mt_strdup(text);

    json_decref(o);
    mt_free_libc(text);
    if (body == NULL)
        return MHD_NO;
    return send_text(c, MHD_HTTP_BAD_REQUEST, body, "application/json");
}

static enum MHD_Result
collect_query(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    json_t *args = cls;

    (void)kind;
    /* serde_qs form: every value a string; a bare key ("?json") is an empty string. */
    if (json_object_set_new(args, key, json_string(value == NULL ? "" : value)) != 0)
        return MHD_NO;
    return MHD_YES;
}

static int
is_json_type(const char *type)
{
    size_t n = strlen("application/json");

    return type != NULL && strncasecmp(type, "application/json", n) == 0 &&
           (type[n] == '\0' || type[n] == ';' || type[n] == ' ');
}

static enum MHD_Result
dispatch(struct mt_sim_http *h, struct MHD_Connection *c, const char *url, const char *method,
         struct request *rq)
{
    const char *name = url + 1, *type;
    json_t *args = NULL, *query;
    char *body = NULL;
    int status = 0, json_flag;
    enum MHD_Result ret;
    mt_err e;

    query = json_object();
    if (query == NULL)
        return MHD_NO;
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect_query, query);
    json_flag = json_object_get(query, "json") != NULL;
    if (strcmp(method, MHD_HTTP_METHOD_GET) == 0) {
        /* GET takes its argument from the query string. */
        json_object_del(query, "json");
        args = query;
        query = NULL;
    } else {
        type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
        if (rq->too_large) {
            json_decref(query);
            return send_error(c, "Request body is too large");
        }
        if (!is_json_type(type) && !json_flag) {
            json_decref(query);
            /* dstack would decode protobuf here; the simulator speaks JSON only. */
            return send_error(c, "Unsupported request encoding: send Content-Type: "
                                 "application/json");
        }
        if (rq->body.len > 0) {
            if (mt_json_parse((const char *)rq->body.p, rq->body.len, SIM_MAX_REQUEST, &args) !=
                    MT_OK ||
                !json_is_object(args)) {
                json_decref(args);
                json_decref(query);
                return send_error(c, "Invalid JSON request body");
            }
        }
    }
    json_decref(query);
    e = mt_sim_agent_call(h->agent, name, args, &status, &body);
    json_decref(args);
    if (e != MT_OK)
        return send_error(c, mt_err_message(e));
    ret = send_text(c, (unsigned)status, body, "application/json");
    return ret;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
           const char *version, const char *upload_data, size_t *upload_size, void **con_cls)
{
    struct mt_sim_http *h = cls;
    struct request *rq = *con_cls;

    (void)version;
    if (rq == NULL) {
        rq = mt_calloc(1, sizeof(*rq));
        if (rq == NULL)
            return MHD_NO;
        mt_buf_init(&rq->body, SIM_MAX_REQUEST);
        *con_cls = rq;
        return MHD_YES;
    }
    if (*upload_size > 0) {
        /* Past the limit the rest is read and dropped; the answer is a 400. */
        if (!rq->too_large && mt_buf_append(&rq->body, upload_data, *upload_size) != MT_OK) {
            rq->too_large = 1;
            mt_buf_free(&rq->body);
        }
        *upload_size = 0;
        return MHD_YES;
    }
    /* Routes are one path segment: /GetQuote.  Anything else is Rocket's 404. */
    if (url[0] != '/' || url[1] == '\0' || strchr(url + 1, '/') != NULL ||
        (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_POST) != 0)) {
        char *nf = mt_strdup("404: Not Found");

        return nf == NULL ? MHD_NO : send_text(c, MHD_HTTP_NOT_FOUND, nf, "text/plain");
    }
    return dispatch(h, c, url, method, rq);
}

static void
on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
             enum MHD_RequestTerminationCode toe)
{
    struct request *rq = *con_cls;

    (void)cls;
    (void)c;
    (void)toe;
    if (rq == NULL)
        return;
    mt_buf_free(&rq->body);
    mt_free(rq);
    *con_cls = NULL;
}

void
mt_sim_http_stop(struct mt_sim_http *h)
{
    if (h == NULL)
        return;
    if (h->daemon != NULL)
        MHD_stop_daemon(h->daemon);
    if (h->fd >= 0)
        close(h->fd);
    if (h->path[0] != '\0')
        unlink(h->path);
    mt_free(h);
}

/* Remove a stale socket left by an earlier run; refuse to remove anything else. */
static mt_err
clear_stale(const char *path)
{
    struct stat st;

    if (lstat(path, &st) != 0)
        return errno == ENOENT ? MT_OK : MT_ERR_IO;
    MT_ENSURE(S_ISSOCK(st.st_mode), MT_ERR_IO);
    MT_ENSURE(unlink(path) == 0, MT_ERR_IO);
    return MT_OK;
}

mt_err
mt_sim_http_start(const char *socket_path, struct mt_sim_agent *agent, struct mt_sim_http **out)
{
    struct mt_sim_http *h;
    struct sockaddr_un sun;
    mt_err e = MT_OK;

    MT_ENSURE(strlen(socket_path) > 0 && strlen(socket_path) < sizeof(sun.sun_path), MT_ERR_ARG);
    h = mt_calloc(1, sizeof(*h));
    MT_ENSURE(h != NULL, MT_ERR_NOMEM);
    h->agent = agent;
    h->fd = -1;
    MT_GUARD_GOTO(clear_stale(socket_path), e, out);
    h->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    MT_ENSURE_GOTO(h->fd >= 0, MT_ERR_IO, e, out);
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    memcpy(sun.sun_path, socket_path, strlen(socket_path) + 1);
    MT_ENSURE_GOTO(bind(h->fd, (struct sockaddr *)&sun, sizeof(sun)) == 0, MT_ERR_IO, e, out);
    memcpy(h->path, socket_path, strlen(socket_path) + 1);
    /* Owner and group only: whoever can connect can derive the app's keys. */
    MT_ENSURE_GOTO(chmod(socket_path, 0660) == 0, MT_ERR_IO, e, out);
    MT_ENSURE_GOTO(listen(h->fd, 128) == 0, MT_ERR_IO, e, out);
    h->daemon =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, 0, NULL, NULL, on_request,
                         h, MHD_OPTION_LISTEN_SOCKET, h->fd, MHD_OPTION_THREAD_POOL_SIZE,
                         SIM_THREADS, MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
                         MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_END);
    MT_ENSURE_GOTO(h->daemon != NULL, MT_ERR_IO, e, out);
    h->fd = -1; /* MHD owns the listening socket now and closes it when stopped */
    *out = h;
    h = NULL;
out:
    mt_sim_http_stop(h);
    return e;
}
