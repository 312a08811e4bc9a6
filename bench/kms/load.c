#include "load.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "proc.h"
#include "util/mt_alloc.h"

/* Answers are small JSON (a key, a challenge, an error): 64 KiB is plenty. */
#define IN_CAP (64u * 1024u)
/* A phase gives up when nothing at all has been answered for this long. */
#define STALL_S 30.0

struct lconn {
    int fd;
    int busy;
    size_t req;    /* request in flight */
    double origin; /* latency is measured from here */
    char *out;     /* request bytes, out_off of out_len sent */
    size_t out_len, out_off, out_cap;
    char in[IN_CAP];
    size_t in_len;
};

struct loop {
    const struct load_spec *s;
    struct load_result *r;
    struct lconn *c;
    size_t *idle; /* stack of idle connection indices */
    size_t num_idle;
    int ep, timer;
    uint32_t *lat_us; /* latencies of 200 answers */
    size_t num_lat;
    double t0, last_answer, last_progress;
};

static int
conn_open(struct loop *l, size_t i)
{
    struct sockaddr_in sin;
    struct epoll_event ev;
    int fd, one = 1;

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons(l->s->port);
    if (inet_pton(AF_INET, l->s->host, &sin.sin_addr) != 1)
        return -1;
    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    /* Requests go out in one write; Nagle would only add delay. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) {
        close(fd);
        return -1;
    }
    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN;
    ev.data.u64 = i;
    if (epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
        close(fd);
        return -1;
    }
    l->c[i].fd = fd;
    l->c[i].in_len = 0;
    return 0;
}

static void
conn_close(struct loop *l, size_t i)
{
    if (l->c[i].fd >= 0) {
        epoll_ctl(l->ep, EPOLL_CTL_DEL, l->c[i].fd, NULL);
        close(l->c[i].fd);
    }
    l->c[i].fd = -1;
}

/* A broken connection: the request in flight is lost; reconnect and return it to the pool. */
static void
conn_reset(struct loop *l, size_t i)
{
    if (l->c[i].busy)
        l->r->failed++;
    l->c[i].busy = 0;
    conn_close(l, i);
    if (conn_open(l, i) == 0)
        l->idle[l->num_idle++] = i;
}

static void
want_out(struct loop *l, size_t i, int on)
{
    struct epoll_event ev;

    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN | (on ? EPOLLOUT : 0u);
    ev.data.u64 = i;
    epoll_ctl(l->ep, EPOLL_CTL_MOD, l->c[i].fd, &ev);
}

static void
conn_flush(struct loop *l, size_t i)
{
    struct lconn *c = &l->c[i];
    ssize_t w;

    while (c->out_off < c->out_len) {
        w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            want_out(l, i, 1);
            return;
        }
        if (w <= 0) {
            conn_reset(l, i);
            return;
        }
        c->out_off += (size_t)w;
    }
}

/* Put request `req` on an idle connection, latency measured from origin. */
static int
issue(struct loop *l, size_t req, double origin)
{
    const struct load_spec *s = l->s;
    struct lconn *c;
    const char *body;
    size_t blen, need, i;
    char hdr[256];
    int n;

    if (l->num_idle == 0)
        return 0;
    i = l->idle[--l->num_idle];
    c = &l->c[i];
    s->body(s->arg, req, &body, &blen);
    n = snprintf(hdr, sizeof(hdr),
                 "POST %s HTTP/1.1\r\nHost: %s:%u\r\nContent-Type: application/json\r\n"
                 "Content-Length: %zu\r\n\r\n",
                 s->path, s->host, (unsigned)s->port, blen);
    need = (size_t)n + blen;
    if (need > c->out_cap) {
        mt_free(c->out);
        c->out = mt_malloc(need);
        c->out_cap = c->out == NULL ? 0 : need;
        if (c->out == NULL)
            return -1;
    }
    memcpy(c->out, hdr, (size_t)n);
    memcpy(c->out + n, body, blen);
    c->out_len = need;
    c->out_off = 0;
    c->busy = 1;
    c->req = req;
    c->origin = origin;
    l->r->issued++;
    conn_flush(l, i);
    return 1;
}

/* Offset just past "\r\n\r\n", or 0 when the header is not complete yet. */
static size_t
header_end(const char *p, size_t n)
{
    size_t i;

    for (i = 3; i < n; i++) {
        if (p[i] == '\n' && p[i - 1] == '\r' && p[i - 2] == '\n' && p[i - 3] == '\r')
            return i + 1;
    }
    return 0;
}

/* Status, Content-Length and whether the server will close; -1 for what we do not speak. */
static int
parse_header(const char *p, size_t hlen, int *status, size_t *clen, int *closing)
{
    const char *line = p, *eol, *end = p + hlen;
    char *num_end;

    if (hlen < 12 || strncmp(p, "HTTP/1.", 7) != 0)
        return -1;
    *status = (int)strtol(p + 9, &num_end, 10);
    *clen = 0;
    *closing = 0;
    while (line < end) {
        eol = line;
        while (eol < end && *eol != '\n')
            eol++;
        if (strncasecmp(line, "content-length:", 15) == 0)
            *clen = (size_t)strtoull(line + 15, NULL, 10);
        else if (strncasecmp(line, "transfer-encoding:", 18) == 0)
            return -1; /* MHD sends a length for buffer responses */
        else if (strncasecmp(line, "connection:", 11) == 0 && eol - line > 11 &&
                 strncasecmp(line + 11, " close", 6) == 0)
            *closing = 1;
        line = eol + 1;
    }
    return 0;
}

static void
answered(struct loop *l, size_t i, int status, const char *body, size_t blen)
{
    struct lconn *c = &l->c[i];
    double t = now_s();

    l->r->answered++;
    l->last_answer = l->last_progress = t;
    if (status == 200) {
        l->r->ok++;
        l->lat_us[l->num_lat++] = (uint32_t)((t - c->origin) * 1e6);
    } else if (l->r->first_bad == 0) {
        l->r->first_bad = status;
    }
    if (l->s->on_answer != NULL)
        l->s->on_answer(l->s->arg, c->req, status, body, blen);
    c->busy = 0;
    l->idle[l->num_idle++] = i;
}

static void
conn_read(struct loop *l, size_t i)
{
    struct lconn *c = &l->c[i];
    size_t hend, clen;
    ssize_t n;
    int status, closing;

    for (;;) {
        if (c->in_len == IN_CAP) {
            conn_reset(l, i);
            return;
        }
        n = recv(c->fd, c->in + c->in_len, IN_CAP - c->in_len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n <= 0) {
            conn_reset(l, i);
            return;
        }
        c->in_len += (size_t)n;
    }
    hend = header_end(c->in, c->in_len);
    if (hend == 0 || !c->busy)
        return;
    if (parse_header(c->in, hend, &status, &clen, &closing) != 0) {
        conn_reset(l, i);
        return;
    }
    if (c->in_len < hend + clen)
        return;
    c->in_len = 0; /* one request in flight: nothing can follow the answer */
    answered(l, i, status, c->in + hend, clen);
    if (closing) {
        /* answered() returned it to the pool; take it back and reopen it. */
        l->num_idle--;
        conn_close(l, i);
        if (conn_open(l, i) == 0)
            l->idle[l->num_idle++] = i;
    }
}

static void
arm_timer(struct loop *l, double at)
{
    struct itimerspec its;

    memset(&its, 0, sizeof(its));
    its.it_value.tv_sec = (time_t)at;
    its.it_value.tv_nsec = (long)((at - floor(at)) * 1e9);
    if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
        its.it_value.tv_nsec = 1;
    timerfd_settime(l->timer, TFD_TIMER_ABSTIME, &its, NULL);
}

static int
cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

    return x < y ? -1 : x > y;
}

static double
pct_ms(const uint32_t *v, size_t n, double q)
{
    size_t k;

    if (n == 0)
        return 0;
    k = (size_t)ceil(q * (double)n);
    if (k == 0)
        k = 1;
    return (double)v[k - 1] / 1000.0;
}

static void
summarize(struct loop *l)
{
    struct load_result *r = l->r;
    double sum = 0;
    size_t i;

    r->elapsed_s = l->last_answer > l->t0 ? l->last_answer - l->t0 : 0;
    r->rate = r->elapsed_s > 0 ? (double)r->ok / r->elapsed_s : 0;
    qsort(l->lat_us, l->num_lat, sizeof(uint32_t), cmp_u32);
    for (i = 0; i < l->num_lat; i++)
        sum += l->lat_us[i];
    r->mean_ms = l->num_lat > 0 ? sum / (double)l->num_lat / 1000.0 : 0;
    r->p50_ms = pct_ms(l->lat_us, l->num_lat, 0.50);
    r->p99_ms = pct_ms(l->lat_us, l->num_lat, 0.99);
    r->max_ms = l->num_lat > 0 ? (double)l->lat_us[l->num_lat - 1] / 1000.0 : 0;
}

/* Issue whatever is due; 1 when issuing is over for this phase. */
static int
dispatch(struct loop *l, double t)
{
    const struct load_spec *s = l->s;
    double due;

    for (;;) {
        if (l->r->issued >= s->max_requests || (s->seconds > 0 && t - l->t0 >= s->seconds))
            return 1;
        if (l->num_idle == 0)
            return 0;
        if (s->rate <= 0) {
            if (issue(l, l->r->issued, now_s()) < 0)
                return 1;
            continue;
        }
        due = l->t0 + (double)l->r->issued / s->rate;
        if (due > t) {
            arm_timer(l, due);
            return 0;
        }
        if (issue(l, l->r->issued, due) < 0)
            return 1;
    }
}

static int
run_loop(struct loop *l)
{
    struct epoll_event evs[64], ev;
    size_t busy, i;
    uint64_t ticks;
    int n, k, done;
    double t;

    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN;
    ev.data.u64 = l->s->conns;
    if (epoll_ctl(l->ep, EPOLL_CTL_ADD, l->timer, &ev) != 0)
        return -1;
    l->t0 = l->last_progress = now_s();
    for (;;) {
        t = now_s();
        done = dispatch(l, t);
        for (busy = 0, i = 0; i < l->s->conns; i++)
            busy += (size_t)l->c[i].busy;
        if (done && busy == 0)
            break;
        if (t - l->last_progress > STALL_S) {
            fprintf(stderr, "mero-kms-bench: no answer for %.0f s; giving up the phase\n", STALL_S);
            l->r->failed += busy;
            break;
        }
        n = epoll_wait(l->ep, evs, 64, 100);
        for (k = 0; k < n; k++) {
            i = (size_t)evs[k].data.u64;
            if (i == l->s->conns) {
                if (read(l->timer, &ticks, sizeof(ticks)) < 0)
                    continue;
                continue;
            }
            if (l->c[i].fd < 0)
                continue;
            if (evs[k].events & EPOLLOUT) {
                want_out(l, i, 0);
                conn_flush(l, i);
            }
            if (l->c[i].fd >= 0 && (evs[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
                conn_read(l, i);
        }
    }
    return 0;
}

int
load_run(const struct load_spec *s, struct load_result *r)
{
    struct loop l;
    size_t i;
    int rc = -1;

    memset(r, 0, sizeof(*r));
    memset(&l, 0, sizeof(l));
    l.s = s;
    l.r = r;
    l.ep = epoll_create1(0);
    l.timer = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
    l.c = mt_calloc(s->conns, sizeof(*l.c));
    l.idle = mt_calloc(s->conns, sizeof(*l.idle));
    l.lat_us = mt_calloc(s->max_requests + 1, sizeof(*l.lat_us));
    if (l.ep < 0 || l.timer < 0 || l.c == NULL || l.idle == NULL || l.lat_us == NULL) {
        fprintf(stderr, "mero-kms-bench: out of resources\n");
        goto out;
    }
    for (i = 0; i < s->conns; i++)
        l.c[i].fd = -1;
    for (i = 0; i < s->conns; i++) {
        if (conn_open(&l, i) != 0) {
            fprintf(stderr, "mero-kms-bench: cannot connect to %s:%u\n", s->host,
                    (unsigned)s->port);
            goto out;
        }
        l.idle[l.num_idle++] = i;
    }
    rc = run_loop(&l);
    summarize(&l);
out:
    for (i = 0; l.c != NULL && i < s->conns; i++) {
        conn_close(&l, i);
        mt_free(l.c[i].out);
    }
    if (l.timer >= 0)
        close(l.timer);
    if (l.ep >= 0)
        close(l.ep);
    mt_free(l.c);
    mt_free(l.idle);
    mt_free(l.lat_us);
    return rc;
}
