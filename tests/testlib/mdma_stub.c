#include "mdma_stub.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>
#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "mhd_test.h"
#include "util/mt_alloc.h"

#define STUB_MAX_BODY 65536u

static void
die(const char *what)
{
    fprintf(stderr, "mdma_stub: %s\n", what);
    abort();
}

static char *
bio_text(BIO *b)
{
    char *p, *out;
    long n = BIO_get_mem_data(b, &p);

    out = mt_malloc((size_t)n + 1);
    if (out == NULL)
        die("out of memory");
    memcpy(out, p, (size_t)n);
    out[n] = '\0';
    return out;
}

static void
add_ext(X509 *issuer, X509 *cert, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509_EXTENSION *ex;

    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    ex = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (ex == NULL || !X509_add_ext(cert, ex, -1))
        die("extension");
    X509_EXTENSION_free(ex);
}

static X509 *
make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key, long serial, int ca)
{
    X509 *c = X509_new();
    X509_NAME *n;

    if (c == NULL || !X509_set_version(c, 2) ||
        !ASN1_INTEGER_set(X509_get_serialNumber(c), serial) ||
        X509_gmtime_adj(X509_getm_notBefore(c), -3600) == NULL ||
        X509_gmtime_adj(X509_getm_notAfter(c), 86400) == NULL || !X509_set_pubkey(c, key))
        die("certificate");
    n = X509_get_subject_name(c);
    if (!X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0))
        die("name");
    if (!X509_set_issuer_name(c, issuer != NULL ? X509_get_subject_name(issuer) : n))
        die("issuer");
    if (ca) {
        add_ext(c, c, NID_basic_constraints, "critical,CA:TRUE");
        add_ext(c, c, NID_key_usage, "critical,keyCertSign,cRLSign");
        add_ext(c, c, NID_subject_key_identifier, "hash");
    } else {
        add_ext(issuer, c, NID_basic_constraints, "critical,CA:FALSE");
        add_ext(issuer, c, NID_key_usage, "critical,digitalSignature");
        add_ext(issuer, c, NID_ext_key_usage, "serverAuth");
        add_ext(issuer, c, NID_subject_alt_name, "IP:127.0.0.1");
        add_ext(issuer, c, NID_authority_key_identifier, "keyid");
    }
    if (X509_sign(c, issuer_key, EVP_sha256()) == 0)
        die("sign");
    return c;
}

static void
make_pki(struct mdma_stub *s, const char *dir)
{
    EVP_PKEY *ca_key = EVP_EC_gen("P-256"), *key = EVP_EC_gen("P-256");
    X509 *ca, *cert;
    BIO *b;
    FILE *f;

    if (ca_key == NULL || key == NULL)
        die("keygen");
    ca = make_cert(ca_key, "mero-tee test MDMA CA", NULL, ca_key, 1, 1);
    cert = make_cert(key, "127.0.0.1", ca, ca_key, 2, 0);
    snprintf(s->ca_path, sizeof(s->ca_path), "%s/ca.pem", dir);
    f = fopen(s->ca_path, "w");
    if (f == NULL || !PEM_write_X509(f, ca) || fclose(f) != 0)
        die("write ca.pem");
    b = BIO_new(BIO_s_mem());
    if (b == NULL || !PEM_write_bio_X509(b, cert))
        die("cert pem");
    s->cert_pem = bio_text(b);
    BIO_free(b);
    b = BIO_new(BIO_s_mem());
    if (b == NULL || !PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL))
        die("key pem");
    s->key_pem = bio_text(b);
    BIO_free(b);
    X509_free(ca);
    X509_free(cert);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(key);
}

void
mdma_stub_init(struct mdma_stub *s, int tls, const char *dir)
{
    memset(s, 0, sizeof(*s));
    s->tls = tls;
    pthread_mutex_init(&s->mu, NULL);
    s->should_join_status = 200;
    s->confirm_fail_status = 500;
    snprintf(s->peer_id, sizeof(s->peer_id),
             "12D3KooW9pP4Seg3kZYhySpuVjn1RPdQBsUFZKiFxGMGQN5MeL6A");
    memset(s->mrtd, 'a', 96);
    s->mrtd[96] = '\0';
    mdma_stub_set_answer(s, 200, "{\"assignments\":[]}");
    if (tls)
        make_pki(s, dir);
}

void
mdma_stub_set_answer(struct mdma_stub *s, int status, const char *body)
{
    char *copy = mt_strdup(body);

    if (copy == NULL)
        die("out of memory");
    pthread_mutex_lock(&s->mu);
    mt_free(s->should_join_body);
    s->should_join_body = copy;
    s->should_join_status = status;
    s->huge_body = 0;
    pthread_mutex_unlock(&s->mu);
}

int
mdma_stub_get(struct mdma_stub *s, const int *field)
{
    int v;

    pthread_mutex_lock(&s->mu);
    v = *field;
    pthread_mutex_unlock(&s->mu);
    return v;
}

struct upload {
    char *p;
    size_t len;
    int too_big;
};

static void
on_done(void *cls, struct MHD_Connection *c, void **ctx, enum MHD_RequestTerminationCode t)
{
    struct upload *u = *ctx;

    (void)cls;
    (void)c;
    (void)t;
    if (u != NULL) {
        mt_free(u->p);
        mt_free(u);
    }
    *ctx = NULL;
}

static enum MHD_Result
reply(struct MHD_Connection *c, unsigned status, const char *body)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result rc;

    if (r == NULL)
        return MHD_NO;
    (void)MHD_add_response_header(r, "Content-Type", "application/json");
    rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

/* The group_id member of a confirm body (crude: the tests send well-formed JSON). */
static void
group_of(const char *body, char out[65])
{
    const char *p = strstr(body, "\"group_id\":\"");

    out[0] = '\0';
    if (p != NULL && strlen(p + 12) >= 64) {
        memcpy(out, p + 12, 64);
        out[64] = '\0';
    }
}

static enum MHD_Result
handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
       const char *version, const char *data, size_t *data_len, void **ctx)
{
    struct mdma_stub *s = cls;
    struct upload *u = *ctx;
    const char *tok;
    char buf[1024], gid[65];
    int delay = 0, fail = 0, st;

    (void)version;
    if (u == NULL) {
        u = mt_calloc(1, sizeof(*u));
        if (u == NULL)
            return MHD_NO;
        *ctx = u;
        return MHD_YES;
    }
    if (*data_len > 0) {
        if (u->len + *data_len > STUB_MAX_BODY) {
            u->too_big = 1;
        } else {
            char *g = mt_realloc(u->p, u->len + *data_len + 1);

            if (g == NULL)
                return MHD_NO;
            u->p = g;
            memcpy(u->p + u->len, data, *data_len);
            u->len += *data_len;
            u->p[u->len] = '\0';
        }
        *data_len = 0;
        return MHD_YES;
    }
    if (strncmp(url, "/api/", 5) == 0) {
        tok = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Fleet-Token");
        pthread_mutex_lock(&s->mu);
        snprintf(s->last_token, sizeof(s->last_token), "%s", tok != NULL ? tok : "");
        if (s->expect_token[0] != '\0' && (tok == NULL || strcmp(tok, s->expect_token) != 0))
            s->bad_token_count++;
        pthread_mutex_unlock(&s->mu);
    }
    if (strcmp(method, "POST") == 0 && strcmp(url, "/api/fleet/should-join") == 0) {
        struct MHD_Response *r;
        size_t huge;
        enum MHD_Result rc;

        pthread_mutex_lock(&s->mu);
        s->should_join_count++;
        snprintf(s->last_should_join, sizeof(s->last_should_join), "%s", u->p ? u->p : "");
        huge = s->huge_body;
        st = s->should_join_status;
        snprintf(buf, sizeof(buf), "%s", s->should_join_body);
        pthread_mutex_unlock(&s->mu);
        if (huge == 0)
            return reply(c, (unsigned)st, buf);
        r = mt_test_filler_response(huge, 0);
        if (r == NULL)
            return MHD_NO;
        rc = MHD_queue_response(c, MHD_HTTP_OK, r);
        MHD_destroy_response(r);
        return rc;
    }
    if (strcmp(method, "POST") == 0 && strcmp(url, "/api/fleet/confirm") == 0) {
        pthread_mutex_lock(&s->mu);
        s->confirm_count++;
        snprintf(s->last_confirm, sizeof(s->last_confirm), "%s", u->p ? u->p : "");
        if (s->confirm_fail != 0) {
            fail = 1;
            if (s->confirm_fail > 0)
                s->confirm_fail--;
            delay = s->confirm_delay_ms;
            st = s->confirm_fail_status;
        } else {
            group_of(u->p ? u->p : "", gid);
            if (s->confirm_ok < 32)
                memcpy(s->confirmed[s->confirm_ok], gid, sizeof(gid));
            s->confirm_ok++;
        }
        pthread_mutex_unlock(&s->mu);
        if (fail && delay > 0) {
            mt_test_sleep_unless(&s->stopping, (unsigned long)delay);
            return MHD_NO;
        }
        return fail ? reply(c, (unsigned)st, "{\"error\":\"scripted\"}") : reply(c, 200, "{}");
    }
    if (strcmp(method, "GET") == 0 && strcmp(url, "/admin-api/health") == 0) {
        pthread_mutex_lock(&s->mu);
        s->health_count++;
        fail = s->health_fail > 0;
        if (fail)
            s->health_fail--;
        pthread_mutex_unlock(&s->mu);
        return fail ? reply(c, 503, "{}") : reply(c, 200, "{\"data\":{\"status\":\"alive\"}}");
    }
    if (strcmp(method, "GET") == 0 && strcmp(url, "/admin-api/peers/self") == 0) {
        pthread_mutex_lock(&s->mu);
        snprintf(buf, sizeof(buf), "{\"data\":{\"peerId\":\"%s\"}}", s->peer_id);
        pthread_mutex_unlock(&s->mu);
        return reply(c, 200, buf);
    }
    if (strcmp(method, "GET") == 0 && strcmp(url, "/admin-api/tee/info") == 0) {
        pthread_mutex_lock(&s->mu);
        snprintf(buf, sizeof(buf),
                 "{\"data\":{\"cloudProvider\":\"unknown\",\"osImage\":\"x\",\"mrtd\":\"%s\"}}",
                 s->mrtd);
        pthread_mutex_unlock(&s->mu);
        return reply(c, 200, buf);
    }
    return reply(c, 404, "");
}

void
mdma_stub_start(struct mdma_stub *s, unsigned short port)
{
    struct sockaddr_in sa;
    const union MHD_DaemonInfo *info;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION;
    struct MHD_Daemon *d;

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    atomic_store(&s->stopping, 0);
    if (s->tls)
        d = MHD_start_daemon(flags | MHD_USE_TLS, port, NULL, NULL, handle, s, MHD_OPTION_SOCK_ADDR,
                             (struct sockaddr *)&sa, MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u,
                             MHD_OPTION_NOTIFY_COMPLETED, on_done, NULL, MHD_OPTION_HTTPS_MEM_KEY,
                             s->key_pem, MHD_OPTION_HTTPS_MEM_CERT, s->cert_pem, MHD_OPTION_END);
    else
        d = MHD_start_daemon(flags, port, NULL, NULL, handle, s, MHD_OPTION_SOCK_ADDR,
                             (struct sockaddr *)&sa, MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u,
                             MHD_OPTION_NOTIFY_COMPLETED, on_done, NULL, MHD_OPTION_END);
    if (d == NULL)
        die("MHD_start_daemon");
    info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info != NULL ? info->port : port;
    s->daemon = d;
    snprintf(s->url, sizeof(s->url), "%s://127.0.0.1:%u", s->tls ? "https" : "http",
             (unsigned)s->port);
}

void
mdma_stub_stop(struct mdma_stub *s)
{
    if (s->daemon == NULL)
        return;
    atomic_store(&s->stopping, 1);
    MHD_stop_daemon(s->daemon);
    s->daemon = NULL;
}

void
mdma_stub_free(struct mdma_stub *s)
{
    mdma_stub_stop(s);
    mt_free(s->should_join_body);
    mt_free(s->cert_pem);
    mt_free(s->key_pem);
    pthread_mutex_destroy(&s->mu);
    s->should_join_body = s->cert_pem = s->key_pem = NULL;
}
