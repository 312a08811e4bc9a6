#include "verifier/verifier.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "util/mt_alloc.h"
#include "util/mt_buf.h"

/*
 * The verifier's only way out to the network (docs/verifier.md "SSRF"):
 * scheme allowlist (https; http with VERIFIER_ALLOW_HTTP), host allowlist
 * (exact or anchored ".suffix"), the host resolved here and every address
 * checked (private, loopback, link-local, CGNAT, multicast, metadata,
 * IPv4-mapped/NAT64 forms refused unless VERIFIER_ALLOW_PRIVATE), the
 * checked address pinned with CURLOPT_RESOLVE (no second lookup, so no DNS
 * rebinding), the lookup bounded by the connect timeout, ports 80/443 only
 * unless VERIFIER_ALLOWED_PORTS (or VERIFIER_ALLOW_PRIVATE), no proxy, no redirects, connect and
 * total timeouts, and a response size cap.
 */

static int
v4_private(const uint8_t a[4])
{
    if (a[0] == 0 || a[0] == 10 || a[0] == 127 || a[0] >= 224)
        return 1; /* this-network, RFC 1918, loopback, multicast, reserved, broadcast */
    if (a[0] == 100 && (a[1] & 0xc0) == 64)
        return 1; /* CGNAT 100.64/10 */
    if (a[0] == 169 && a[1] == 254)
        return 1; /* link-local, incl. 169.254.169.254 metadata */
    if (a[0] == 172 && (a[1] & 0xf0) == 16)
        return 1;
    if (a[0] == 192 && a[1] == 168)
        return 1;
    if (a[0] == 192 && a[1] == 0 && (a[2] == 0 || a[2] == 2))
        return 1; /* IETF protocol assignments, TEST-NET-1 */
    if (a[0] == 198 && (a[1] == 18 || a[1] == 19))
        return 1; /* benchmarking */
    if (a[0] == 198 && a[1] == 51 && a[2] == 100)
        return 1;
    if (a[0] == 203 && a[1] == 0 && a[2] == 113)
        return 1;
    return 0;
}

int
mtv_addr_is_private(const struct sockaddr *sa)
{
    static const uint8_t zero12[12] = {0};
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
    static const uint8_t nat64_local[6] = {0, 0x64, 0xff, 0x9b, 0, 0x01}; /* 64:ff9b:1::/48 */
    static const uint8_t siit[10] = {0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff}; /* ::ffff:0:0:0/96 */
    const uint8_t *a;

    if (sa == NULL)
        return 1;
    if (sa->sa_family == AF_INET)
        return v4_private((const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr);
    if (sa->sa_family != AF_INET6)
        return 1;
    a = (const uint8_t *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
    /* ::ffff:a.b.c.d, 64:ff9b::a.b.c.d and ::a.b.c.d (incl. :: and ::1) carry an IPv4 address. */
    if (memcmp(a, mapped, 12) == 0 || memcmp(a, nat64, 12) == 0)
        return v4_private(a + 12);
    if (memcmp(a, zero12, 12) == 0)
        return 1;
    /* Local-use NAT64 (RFC 8215) and SIIT (RFC 7915) translate to any IPv4 address. */
    if (memcmp(a, nat64_local, 6) == 0 || (memcmp(a, siit, 10) == 0 && a[10] == 0 && a[11] == 0))
        return 1;
    if ((a[0] & 0xfe) == 0xfc)
        return 1; /* unique local fc00::/7, incl. fd00:ec2::254 metadata */
    if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
        return 1; /* link-local */
    if (a[0] == 0xfe && (a[1] & 0xc0) == 0xc0)
        return 1; /* deprecated site-local */
    if (a[0] == 0xff)
        return 1; /* multicast */
    if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0d && a[3] == 0xb8)
        return 1; /* documentation */
    if (a[0] == 0x20 && a[1] == 0x02)
        return v4_private(a + 2); /* 6to4 embeds an IPv4 address */
    if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0 && a[3] == 0)
        return 1; /* Teredo */
    return 0;
}

int
mtv_host_allowed(const struct mtv_config *c, const char *host)
{
    size_t i, hl = strlen(host), sl;

    if (c->num_allowed_hosts == 0)
        return 1;
    for (i = 0; i < c->num_allowed_hosts; i++) {
        const char *rule = c->allowed_hosts[i];
        if (rule[0] == '.') {
            /* ".example.com" matches "a.example.com", never "evilexample.com" or the bare name. */
            sl = strlen(rule);
            if (hl > sl && strcmp(host + hl - sl, rule) == 0)
                return 1;
        } else if (strcmp(host, rule) == 0) {
            return 1;
        }
    }
    return 0;
}

int
mtv_port_allowed(const struct mtv_config *c, unsigned long port)
{
    size_t i;

    if (c->num_allowed_ports > 0) {
        for (i = 0; i < c->num_allowed_ports; i++)
            if (c->allowed_ports[i] == port)
                return 1;
        return 0;
    }
    return c->allow_private || port == 80 || port == 443;
}

/*
 * getaddrinfo has no timeout: it runs on a detached worker thread and the
 * caller waits until the deadline.  A lookup that outlives it frees itself
 * when it ends; at most MAX_LOOKUPS run at once, so a stalled resolver
 * cannot pile up threads.
 */
#define MAX_LOOKUPS 32

struct lookup {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int refs, done, rc;
    char host[256], port[16];
    struct addrinfo *res;
};

static pthread_mutex_t lookups_mu = PTHREAD_MUTEX_INITIALIZER;
static unsigned lookups_running;
static _Atomic(mtv_resolver_fn) resolver_fn;

void
mtv_set_resolver(mtv_resolver_fn fn)
{
    atomic_store(&resolver_fn, fn);
}

static void
lookup_unref(struct lookup *l)
{
    int last;

    pthread_mutex_lock(&l->mu);
    last = --l->refs == 0;
    pthread_mutex_unlock(&l->mu);
    if (!last)
        return;
    if (l->res != NULL)
        freeaddrinfo(l->res);
    pthread_cond_destroy(&l->cv);
    pthread_mutex_destroy(&l->mu);
    mt_free(l);
}

static void *
lookup_run(void *arg)
{
    struct lookup *l = arg;
    struct addrinfo hints, *res = NULL;
    mtv_resolver_fn fn = atomic_load(&resolver_fn);
    int rc;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    rc = fn != NULL ? fn(l->host, l->port, &hints, &res)
                    : getaddrinfo(l->host, l->port, &hints, &res);
    pthread_mutex_lock(&l->mu);
    l->rc = rc;
    l->res = res;
    l->done = 1;
    pthread_cond_signal(&l->cv);
    pthread_mutex_unlock(&l->mu);
    pthread_mutex_lock(&lookups_mu);
    lookups_running--;
    pthread_mutex_unlock(&lookups_mu);
    lookup_unref(l);
    return NULL;
}

/* getaddrinfo within timeout_ms: 0 and *res, a gai error, or EAI_AGAIN with *timed_out. */
static int
resolve_deadline(const char *host, const char *port, long timeout_ms, struct addrinfo **res,
                 int *timed_out)
{
    pthread_condattr_t ca;
    pthread_attr_t ta;
    pthread_t t;
    struct timespec dl;
    struct lookup *l;
    int rc = EAI_MEMORY, started;

    *res = NULL;
    *timed_out = 0;
    l = mt_calloc(1, sizeof(*l));
    if (l == NULL)
        return EAI_MEMORY;
    snprintf(l->host, sizeof(l->host), "%s", host);
    snprintf(l->port, sizeof(l->port), "%s", port);
    l->refs = 2;
    pthread_mutex_init(&l->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&l->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_lock(&lookups_mu);
    started = lookups_running < MAX_LOOKUPS;
    if (started)
        lookups_running++;
    pthread_mutex_unlock(&lookups_mu);
    if (started) {
        pthread_attr_init(&ta);
        pthread_attr_setdetachstate(&ta, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&t, &ta, lookup_run, l) != 0) {
            pthread_mutex_lock(&lookups_mu);
            lookups_running--;
            pthread_mutex_unlock(&lookups_mu);
            started = 0;
        }
        pthread_attr_destroy(&ta);
    }
    if (!started) {
        l->refs = 1;
        *timed_out = 1; /* too many lookups stalled: refuse like a timeout */
        lookup_unref(l);
        return EAI_AGAIN;
    }
    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_sec += timeout_ms / 1000;
    dl.tv_nsec += (timeout_ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&l->mu);
    while (!l->done && pthread_cond_timedwait(&l->cv, &l->mu, &dl) != ETIMEDOUT)
        ;
    if (l->done) {
        rc = l->rc;
        *res = l->res;
        l->res = NULL;
    } else {
        rc = EAI_AGAIN;
        *timed_out = 1;
    }
    pthread_mutex_unlock(&l->mu);
    lookup_unref(l);
    return rc;
}

struct sink {
    struct mt_buf buf;
    int too_large;
};

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
    struct sink *s = arg;

    if (mt_buf_append(&s->buf, p, size * n) != MT_OK) {
        s->too_large = 1;
        return 0;
    }
    return size * n;
}

/* Parse, check scheme/host/port; fills host (brackets removed), port and the url to request. */
static mt_err
check_url(const struct mtv_config *c, const char *base, const char *path, char *host,
          size_t host_len, char *port, size_t port_len, char *full, size_t full_len, char *why,
          size_t why_len)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *h = NULL, *p = NULL, *user = NULL, *pw = NULL, *query = NULL,
         *frag = NULL;
    mt_err e = MT_ERR_VERIFIER_TARGET_REFUSED;
    size_t i, n;

    MT_ENSURE(u != NULL, MT_ERR_NOMEM);
    if (curl_url_set(u, CURLUPART_URL, base, 0) != CURLUE_OK) {
        snprintf(why, why_len, "the URL does not parse");
        goto out;
    }
    (void)curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
    (void)curl_url_get(u, CURLUPART_HOST, &h, 0);
    (void)curl_url_get(u, CURLUPART_PORT, &p, CURLU_DEFAULT_PORT);
    (void)curl_url_get(u, CURLUPART_USER, &user, 0);
    (void)curl_url_get(u, CURLUPART_PASSWORD, &pw, 0);
    (void)curl_url_get(u, CURLUPART_QUERY, &query, 0);
    (void)curl_url_get(u, CURLUPART_FRAGMENT, &frag, 0);
    if (scheme == NULL || h == NULL || p == NULL) {
        snprintf(why, why_len, "the URL has no scheme or host");
        goto out;
    }
    if (strcmp(scheme, "https") != 0 && !(strcmp(scheme, "http") == 0 && c->allow_http)) {
        snprintf(why, why_len, "scheme %.16s is not allowed (https%s)", scheme,
                 c->allow_http ? " or http" : " only");
        goto out;
    }
    if (user != NULL || pw != NULL || query != NULL || frag != NULL) {
        snprintf(why, why_len, "the URL must not carry credentials, a query or a fragment");
        goto out;
    }
    n = strlen(h);
    if (n >= 2 && h[0] == '[' && h[n - 1] == ']') {
        memmove(h, h + 1, n - 2);
        h[n - 2] = '\0';
        n -= 2;
    }
    if (n == 0 || n >= host_len || strlen(p) >= port_len) {
        snprintf(why, why_len, "bad host");
        goto out;
    }
    for (i = 0; i < n; i++)
        host[i] = (h[i] >= 'A' && h[i] <= 'Z') ? (char)(h[i] - 'A' + 'a') : h[i];
    host[n] = '\0';
    if (!mtv_host_allowed(c, host)) {
        snprintf(why, why_len, "host %.200s is not in VERIFIER_ALLOWED_HOSTS", host);
        goto out;
    }
    if (!mtv_port_allowed(c, strtoul(p, NULL, 10))) {
        snprintf(why, why_len,
                 "port %.8s is not allowed (80 and 443; VERIFIER_ALLOWED_PORTS lists others)", p);
        goto out;
    }
    snprintf(port, port_len, "%s", p);
    n = (size_t)snprintf(full, full_len, "%s%s", base, path);
    if (n >= full_len) {
        snprintf(why, why_len, "the URL is too long");
        goto out;
    }
    e = MT_OK;
out:
    curl_free(scheme);
    curl_free(h);
    curl_free(p);
    curl_free(user);
    curl_free(pw);
    curl_free(query);
    curl_free(frag);
    curl_url_cleanup(u);
    return e;
}

/* Resolve host, refuse when any address is private (unless allowed); the first address as text. */
static mt_err
resolve(const struct mtv_config *c, const char *host, const char *port, char *addr, size_t addr_len,
        char *why, size_t why_len)
{
    struct addrinfo *res = NULL, *ai;
    char text[INET6_ADDRSTRLEN];
    mt_err e = MT_OK;
    int rc, timed_out;

    rc = resolve_deadline(host, port, c->connect_timeout_ms, &res, &timed_out);
    if (timed_out) {
        snprintf(why, why_len, "cannot resolve %.200s within %ld ms", host, c->connect_timeout_ms);
        return MT_ERR_VERIFIER_FETCH_FAILED;
    }
    if (rc != 0 || res == NULL) {
        snprintf(why, why_len, "cannot resolve %.200s: %s", host, gai_strerror(rc));
        if (res != NULL)
            freeaddrinfo(res);
        return MT_ERR_VERIFIER_FETCH_FAILED;
    }
    addr[0] = '\0';
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        const void *bin = ai->ai_family == AF_INET
                              ? (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr
                              : (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;
        if (inet_ntop(ai->ai_family, bin, text, sizeof(text)) == NULL)
            continue;
        if (!c->allow_private && mtv_addr_is_private(ai->ai_addr)) {
            snprintf(why, why_len, "%.200s resolves to %s, a private or reserved address", host,
                     text);
            e = MT_ERR_VERIFIER_TARGET_REFUSED;
            break;
        }
        if (addr[0] == '\0') {
            if (ai->ai_family == AF_INET6)
                snprintf(addr, addr_len, "[%s]", text);
            else
                snprintf(addr, addr_len, "%s", text);
        }
    }
    freeaddrinfo(res);
    if (e == MT_OK && addr[0] == '\0') {
        snprintf(why, why_len, "no usable address for %.200s", host);
        e = MT_ERR_VERIFIER_FETCH_FAILED;
    }
    return e;
}

mt_err
mtv_fetch(const struct mtv_config *c, const char *base_url, const char *path, const char *body,
          const char *const *headers, size_t max, long *status, char **out, size_t *out_len,
          char *why, size_t why_len)
{
    char host[256], port[16], addr[INET6_ADDRSTRLEN + 2], full[MTV_MAX_URL + 256],
        pin[sizeof(host) + sizeof(port) + sizeof(addr) + 4];
    struct curl_slist *resolve_list = NULL, *hdrs = NULL;
    struct sink sink;
    CURLcode cc;
    CURL *h = NULL;
    mt_err e;
    size_t i;

    *status = 0;
    why[0] = '\0';
    MT_GUARD(check_url(c, base_url, path, host, sizeof(host), port, sizeof(port), full,
                       sizeof(full), why, why_len));
    MT_GUARD(resolve(c, host, port, addr, sizeof(addr), why, why_len));
    memset(&sink, 0, sizeof(sink));
    mt_buf_init(&sink.buf, max);
    e = MT_ERR_NOMEM;
    h = curl_easy_init();
    if (h == NULL)
        goto out;
    snprintf(pin, sizeof(pin), "%s:%s:%s", host, port, addr);
    resolve_list = curl_slist_append(NULL, pin);
    hdrs = curl_slist_append(NULL, "Accept: application/json");
    if (resolve_list == NULL || hdrs == NULL)
        goto out;
    if (body != NULL) {
        struct curl_slist *t = curl_slist_append(hdrs, "Content-Type: application/json");
        if (t == NULL)
            goto out;
        hdrs = t;
    }
    for (i = 0; headers != NULL && headers[i] != NULL; i++) {
        struct curl_slist *t = curl_slist_append(hdrs, headers[i]);
        if (t == NULL)
            goto out;
        hdrs = t;
    }
    curl_easy_setopt(h, CURLOPT_URL, full);
    curl_easy_setopt(h, CURLOPT_RESOLVE, resolve_list);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, c->allow_http ? "https,http" : "https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(h, CURLOPT_PROXY, "");
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "mero-verifier/1");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
    if (body != NULL) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    cc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
    if (sink.too_large || cc == CURLE_FILESIZE_EXCEEDED) {
        snprintf(why, why_len, "%s answered more than %zu bytes", host, max);
        e = MT_ERR_VERIFIER_RESPONSE_TOO_LARGE;
        goto out;
    }
    if (cc != CURLE_OK) {
        snprintf(why, why_len, "%s: %s", host, curl_easy_strerror(cc));
        e = MT_ERR_VERIFIER_FETCH_FAILED;
        goto out;
    }
    if (*status >= 300 && *status < 400) {
        snprintf(why, why_len, "%s answered %ld (a redirect, not followed)", host, *status);
        e = MT_ERR_VERIFIER_REDIRECT;
        goto out;
    }
    if (*status < 200 || *status >= 300) {
        snprintf(why, why_len, "%s answered HTTP %ld", host, *status);
        e = MT_ERR_VERIFIER_FETCH_FAILED;
        goto out;
    }
    e = mt_buf_append(&sink.buf, "", 1);
    if (e != MT_OK) {
        snprintf(why, why_len, "%s answered more than %zu bytes", host, max);
        e = MT_ERR_VERIFIER_RESPONSE_TOO_LARGE;
        goto out;
    }
    *out = (char *)mt_buf_take(&sink.buf, out_len);
    *out_len -= 1;
    e = MT_OK;
out:
    mt_buf_free(&sink.buf);
    curl_slist_free_all(resolve_list);
    curl_slist_free_all(hdrs);
    if (h != NULL)
        curl_easy_cleanup(h);
    return e;
}
