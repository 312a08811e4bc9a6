#include "verifier/verifier.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "util/mt_alloc.h"
#include "util/mt_buf.h"

/*
 * mero-verifier's HTTP side (docs/verifier.md "Routes"): the page's static
 * files, /api/health, /api/verify with a per-address rate limit, CORS for
 * configured origins, JSON errors {"error":{"code","message"}}.
 */

#define RL_SLOTS 1024u

struct rl_slot {
    char addr[INET6_ADDRSTRLEN];
    int64_t minute;
    unsigned count;
};

struct mtv_http {
    struct MHD_Daemon *d;
    struct mtv_service *s;
    const struct mtv_config *c;
    uint16_t port;
    pthread_mutex_t rl_lock;
    struct rl_slot rl[RL_SLOTS];
};

struct conn {
    struct mt_buf body;
    int too_large;
};

static const char csp[] = "default-src 'self'; script-src 'self'; style-src 'self'; "
                          "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; "
                          "base-uri 'none'; form-action 'self'; object-src 'none'";

static void
common_headers(struct mtv_http *h, struct MHD_Connection *c, struct MHD_Response *r)
{
    const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
    size_t i;

    MHD_add_response_header(r, "Content-Security-Policy", csp);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    if (origin == NULL)
        return;
    for (i = 0; i < h->c->num_cors_origins; i++) {
        if (strcmp(origin, h->c->cors_origins[i]) == 0) {
            MHD_add_response_header(r, "Access-Control-Allow-Origin", origin);
            MHD_add_response_header(r, "Vary", "Origin");
            MHD_add_response_header(r, "Access-Control-Allow-Methods", "GET, POST, OPTIONS");
            MHD_add_response_header(r, "Access-Control-Allow-Headers", "Content-Type");
            break;
        }
    }
}

static enum MHD_Result
send_buf(struct mtv_http *h, struct MHD_Connection *c, unsigned status, const char *type,
         const void *body, size_t len)
{
    struct MHD_Response *r;
    enum MHD_Result ret;

    r = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (r == NULL)
        return MHD_NO;
    if (type != NULL)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    common_headers(h, c, r);
    ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result
send_json(struct mtv_http *h, struct MHD_Connection *c, unsigned status, json_t *j)
{
    char *text = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
    enum MHD_Result ret;

    json_decref(j);
    if (text == NULL)
        return MHD_NO;
    ret = send_buf(h, c, status, "application/json", text, strlen(text));
    free(text); /* lint-allow: free (jansson's malloc) */
    return ret;
}

static enum MHD_Result
send_error(struct mtv_http *h, struct MHD_Connection *c, mt_err e, const char *msg)
{
    return send_json(h, c, (unsigned)mt_err_http_status(e),
                     json_pack("{s:{s:s,s:s}}", "error", "code", mt_err_code(e), "message",
                               msg != NULL && msg[0] != '\0' ? msg : mt_err_message(e)));
}

/* 1 when this address may make another request this minute. */
static int
rate_ok(struct mtv_http *h, const char *addr)
{
    int64_t minute = (int64_t)time(NULL) / 60;
    size_t i, slot, oldest = 0;
    uint32_t hash = 2166136261u;
    int ok;

    if (h->c->rate_limit == 0)
        return 1;
    for (i = 0; addr[i] != '\0'; i++)
        hash = (hash ^ (uint8_t)addr[i]) * 16777619u;
    pthread_mutex_lock(&h->rl_lock);
    /*
     * Open addressing over 8 slots.  Only a slot idle since an earlier
     * minute is reused: a flood of new addresses never resets another
     * client's count.  When all 8 are busy this minute, the newcomer is
     * refused (429) until one goes idle.
     */
    slot = SIZE_MAX;
    for (i = 0; i < 8; i++) {
        size_t k = (hash + i) % RL_SLOTS;
        if (strcmp(h->rl[k].addr, addr) == 0) {
            slot = k;
            break;
        }
        if (i == 0 || h->rl[k].minute < h->rl[oldest].minute)
            oldest = k;
    }
    if (slot == SIZE_MAX) {
        if (h->rl[oldest].addr[0] != '\0' && h->rl[oldest].minute == minute) {
            pthread_mutex_unlock(&h->rl_lock);
            return 0;
        }
        slot = oldest;
        snprintf(h->rl[slot].addr, sizeof(h->rl[slot].addr), "%s", addr);
        h->rl[slot].minute = minute;
        h->rl[slot].count = 0;
    }
    if (h->rl[slot].minute != minute) {
        h->rl[slot].minute = minute;
        h->rl[slot].count = 0;
    }
    ok = h->rl[slot].count < h->c->rate_limit;
    if (ok)
        h->rl[slot].count++;
    pthread_mutex_unlock(&h->rl_lock);
    return ok;
}

/*
 * The rate-limit key of a client address: IPv4 (and IPv4-mapped IPv6) by
 * its /32, other IPv6 by its /64 ("2001:db8:1:2::/64"), since one host
 * usually holds a whole /64.
 */
void
mtv_client_key(const struct sockaddr *sa, char *out, size_t len)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    struct in6_addr a6;
    char text[INET6_ADDRSTRLEN];

    snprintf(out, len, "?");
    if (sa == NULL)
        return;
    if (sa->sa_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)len);
    } else if (sa->sa_family == AF_INET6) {
        memcpy(&a6, &((const struct sockaddr_in6 *)sa)->sin6_addr, sizeof(a6));
        if (memcmp(a6.s6_addr, mapped, 12) == 0) {
            inet_ntop(AF_INET, a6.s6_addr + 12, out, (socklen_t)len);
            return;
        }
        memset(a6.s6_addr + 8, 0, 8);
        if (inet_ntop(AF_INET6, &a6, text, sizeof(text)) != NULL)
            snprintf(out, len, "%s/64", text);
    }
}

static void
client_addr(struct MHD_Connection *c, char *out, size_t len)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

    mtv_client_key(ci != NULL ? ci->client_addr : NULL, out, len);
}

/* "/name.ext" with a safe name and an allowed extension: its content type, else NULL. */
static const char *
static_type(const char *path)
{
    const char *name = path + 1, *dot;
    size_t i, n = strlen(name);

    if (path[0] != '/' || n == 0 || n > 128 || name[0] == '.')
        return NULL;
    for (i = 0; i < n; i++) {
        char ch = name[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '_' || ch == '.'))
            return NULL;
    }
    if (strstr(name, "..") != NULL)
        return NULL;
    dot = strrchr(name, '.');
    if (dot == NULL)
        return NULL;
    if (strcmp(dot, ".html") == 0)
        return "text/html; charset=utf-8";
    if (strcmp(dot, ".js") == 0)
        return "text/javascript; charset=utf-8";
    if (strcmp(dot, ".css") == 0)
        return "text/css; charset=utf-8";
    return NULL;
}

static enum MHD_Result
serve_static(struct mtv_http *h, struct MHD_Connection *c, const char *url)
{
    const char *path = strcmp(url, "/") == 0 ? "/index.html" : url;
    const char *type = static_type(path);
    char file[MTV_MAX_STR + 160];
    struct mt_buf b;
    struct stat st;
    char chunk[8192];
    enum MHD_Result ret;
    ssize_t n;
    int fd;

    if (type == NULL)
        return send_error(h, c, MT_ERR_VERIFIER_NOT_FOUND, NULL);
    snprintf(file, sizeof(file), "%s%s", h->c->web_dir, path);
    fd = open(file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return send_error(h, c, MT_ERR_VERIFIER_NOT_FOUND, NULL);
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > (off_t)MTV_MAX_STATIC) {
        close(fd);
        return send_error(h, c, MT_ERR_VERIFIER_NOT_FOUND, NULL);
    }
    mt_buf_init(&b, MTV_MAX_STATIC);
    while ((n = read(fd, chunk, sizeof(chunk))) > 0) {
        if (mt_buf_append(&b, chunk, (size_t)n) != MT_OK) {
            n = -1;
            break;
        }
    }
    close(fd);
    if (n < 0) {
        mt_buf_free(&b);
        return send_error(h, c, MT_ERR_IO, "cannot read the file");
    }
    ret = send_buf(h, c, MHD_HTTP_OK, type, b.p == NULL ? (const void *)"" : b.p, b.len);
    mt_buf_free(&b);
    return ret;
}

static enum MHD_Result
api_verify(struct mtv_http *h, struct MHD_Connection *c, struct conn *cn)
{
    const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    struct mtv_request rq;
    char why[640], addr[INET6_ADDRSTRLEN];
    json_t *result = NULL;
    mt_err e;

    client_addr(c, addr, sizeof(addr));
    if (!rate_ok(h, addr))
        return send_error(h, c, MT_ERR_VERIFIER_RATE_LIMITED, NULL);
    if (ct == NULL || strncasecmp(ct, "application/json", 16) != 0 ||
        (ct[16] != '\0' && ct[16] != ';' && ct[16] != ' '))
        return send_error(h, c, MT_ERR_VERIFIER_MEDIA_TYPE, NULL);
    if (cn->too_large)
        return send_error(h, c, MT_ERR_TOO_LARGE, "the request body exceeds 512 KiB");
    e = mtv_request_parse(cn->body.p == NULL ? "" : (const char *)cn->body.p, cn->body.len, &rq,
                          why, sizeof(why));
    if (e != MT_OK)
        return send_error(h, c, e, why);
    why[0] = '\0';
    e = mtv_verify(h->s, &rq, &result, why, sizeof(why));
    mtv_request_free(&rq);
    if (e != MT_OK)
        return send_error(h, c, e, why);
    return send_json(h, c, MHD_HTTP_OK, result);
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
           const char *version, const char *upload_data, size_t *upload_size, void **con_cls)
{
    struct mtv_http *h = cls;
    struct conn *cn = *con_cls;
    const char *cl;

    (void)version;
    if (cn == NULL) {
        cn = mt_calloc(1, sizeof(*cn));
        if (cn == NULL)
            return MHD_NO;
        mt_buf_init(&cn->body, MTV_MAX_BODY);
        *con_cls = cn;
        cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl != NULL && (strlen(cl) > 9 || strtoul(cl, NULL, 10) > MTV_MAX_BODY))
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
    if (strcmp(method, "OPTIONS") == 0)
        return send_buf(h, c, MHD_HTTP_NO_CONTENT, NULL, "", 0);
    if (strcmp(url, "/api/verify") == 0) {
        if (strcmp(method, "POST") != 0)
            return send_error(h, c, MT_ERR_VERIFIER_METHOD, "use POST");
        return api_verify(h, c, cn);
    }
    if (strcmp(url, "/api/health") == 0) {
        if (strcmp(method, "GET") != 0)
            return send_error(h, c, MT_ERR_VERIFIER_METHOD, "use GET");
        return send_json(h, c, MHD_HTTP_OK,
                         json_pack("{s:s,s:s,s:b}", "status", "ok", "service", "mero-verifier",
                                   "ita", h->c->ita_api_key[0] != '\0'));
    }
    if (strncmp(url, "/api/", 5) == 0)
        return send_error(h, c, MT_ERR_VERIFIER_NOT_FOUND, NULL);
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return send_error(h, c, MT_ERR_VERIFIER_METHOD, "use GET");
    return serve_static(h, c, url);
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
    mt_buf_free(&cn->body);
    mt_free(cn);
    *con_cls = NULL;
}

mt_err
mtv_http_start(struct mtv_service *s, struct mtv_http **out, char *why, size_t why_len)
{
    const struct mtv_config *c = mtv_service_config(s);
    struct sockaddr_storage ss;
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
    const union MHD_DaemonInfo *info;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION;
    struct mtv_http *h;

    memset(&ss, 0, sizeof(ss));
    if (inet_pton(AF_INET, c->listen_host, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons(c->listen_port);
    } else if (inet_pton(AF_INET6, c->listen_host, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(c->listen_port);
        flags |= MHD_USE_IPv6;
    } else {
        snprintf(why, why_len, "VERIFIER_LISTEN: %s is not an IP address", c->listen_host);
        return MT_ERR_CONFIG;
    }
    h = mt_calloc(1, sizeof(*h));
    MT_ENSURE(h != NULL, MT_ERR_NOMEM);
    h->s = s;
    h->c = c;
    pthread_mutex_init(&h->rl_lock, NULL);
    h->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR, &ss,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
                            MHD_OPTION_CONNECTION_TIMEOUT, 60u, MHD_OPTION_CONNECTION_LIMIT, 128u,
                            MHD_OPTION_PER_IP_CONNECTION_LIMIT, 16u, MHD_OPTION_END);
    if (h->d == NULL) {
        snprintf(why, why_len, "cannot listen on %s:%u: %s", c->listen_host,
                 (unsigned)c->listen_port, strerror(errno));
        pthread_mutex_destroy(&h->rl_lock);
        mt_free(h);
        return MT_ERR_IO;
    }
    info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info != NULL ? info->port : c->listen_port;
    *out = h;
    return MT_OK;
}

uint16_t
mtv_http_port(const struct mtv_http *h)
{
    return h->port;
}

void
mtv_http_stop(struct mtv_http *h)
{
    if (h == NULL)
        return;
    MHD_stop_daemon(h->d);
    pthread_mutex_destroy(&h->rl_lock);
    mt_free(h);
}
