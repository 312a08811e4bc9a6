#include "sim/sim_pcs.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>
#include <openssl/x509.h>

#include "dcap/x509.h"
#include "pccs/pccs.h"
#include "util/mt_alloc.h"
#include "util/mt_buf.h"
#include "util/mt_hex.h"
#include "util/mt_json.h"
#include "util/mt_limits.h"

/* Collaterals one server holds (SGX + TDX and a spare are plenty for tests). */
#define PCS_MAX_ENTRIES 8
/* Room for an oversized header and the usual ones in MHD's per-connection pool. */
#define PCS_CONNECTION_MEMORY (256u * 1024u)

#define HDR_PCK_CRL_CHAIN "SGX-PCK-CRL-Issuer-Chain"
#define HDR_TCB_CHAIN "TCB-Info-Issuer-Chain"
#define HDR_TCB_CHAIN_V3 "SGX-TCB-Info-Issuer-Chain"
#define HDR_QE_CHAIN "SGX-Enclave-Identity-Issuer-Chain"

/* One collateral, pre-rendered in every wire form the routes need. */
struct pcs_entry {
    struct mt_collateral *col;
    char tee[4]; /* "sgx" / "tdx" */
    char fmspc[13];
    char ca[10];         /* "processor" / "platform" */
    char *pck_crl_chain; /* percent-encoded */
    char *tcb_chain;
    char *qe_chain;
    char *pck_crl_hex;
    char *root_crl_hex;
    char *tcb_sig_hex;
    char *qe_sig_hex;
};

struct pcs_fault {
    enum mt_pcs_fault fault;
    unsigned long arg;
};

struct mt_pcs_server {
    struct MHD_Daemon *daemon;
    uint16_t port;
    char url[32];
    pthread_mutex_t lock; /* guards everything below */
    struct pcs_entry entries[PCS_MAX_ENTRIES];
    size_t num_entries;
    struct pcs_fault faults[MT_PCS_EP__COUNT];
    unsigned flags;
    unsigned long counts[MT_PCS_EP__COUNT];
    atomic_int stopping;
};

/* A response being assembled under the lock, sent after it is released. */
struct pcs_reply {
    unsigned status;
    struct mt_buf body;
    const char *content_type;
    const char *hdr_name; /* issuer-chain header, or NULL */
    char *hdr_value;      /* owned */
    int chunked_oversize;
};

static void
entry_free(struct pcs_entry *e)
{
    mt_collateral_free(e->col);
    mt_free(e->pck_crl_chain);
    mt_free(e->tcb_chain);
    mt_free(e->qe_chain);
    mt_free(e->pck_crl_hex);
    mt_free(e->root_crl_hex);
    mt_free(e->tcb_sig_hex);
    mt_free(e->qe_sig_hex);
    memset(e, 0, sizeof(*e));
}

static mt_err
encode_chain(const char *pem, char **out)
{
    size_t n;

    if (pem == NULL)
        pem = "";
    return mt_pccs_percent_encode(pem, strlen(pem), out, &n);
}

static mt_err
entry_fill(struct pcs_entry *e, const struct mt_collateral *c)
{
    json_t *tcb = NULL;
    X509_CRL *crl = NULL;
    const char *id = NULL, *fmspc = NULL;
    char cn[128];
    size_t flen = 0;
    int n;
    mt_err err = MT_OK;

    memset(e, 0, sizeof(*e));
    MT_GUARD_GOTO(mt_collateral_dup(c, &e->col), err, out);
    MT_GUARD_GOTO(mt_json_parse(c->tcb_info, c->tcb_info_len, MT_MAX_SIGNED_JSON, &tcb), err, out);
    MT_GUARD_GOTO(mt_json_get_str(tcb, "fmspc", &fmspc, &flen), err, out);
    MT_ENSURE_GOTO(flen == 12, MT_ERR_JSON_FIELD, err, out);
    memcpy(e->fmspc, fmspc, 12);
    /* TCB Info v2 has no id; it is SGX-only. */
    if (mt_json_get_str(tcb, "id", &id, NULL) == MT_OK && strcmp(id, "TDX") == 0)
        memcpy(e->tee, "tdx", 4);
    else
        memcpy(e->tee, "sgx", 4);
    MT_GUARD_GOTO(mt_crl_from_der(c->pck_crl, c->pck_crl_len, &crl), err, out);
    n = X509_NAME_get_text_by_NID(X509_CRL_get_issuer(crl), NID_commonName, cn, sizeof(cn));
    MT_ENSURE_GOTO(n > 0, MT_ERR_COLLATERAL_FORMAT, err, out);
    if (strstr(cn, "Platform") != NULL)
        memcpy(e->ca, "platform", 9);
    else
        memcpy(e->ca, "processor", 10);
    MT_GUARD_GOTO(encode_chain(c->pck_crl_issuer_chain, &e->pck_crl_chain), err, out);
    MT_GUARD_GOTO(encode_chain(c->tcb_info_issuer_chain, &e->tcb_chain), err, out);
    MT_GUARD_GOTO(encode_chain(c->qe_identity_issuer_chain, &e->qe_chain), err, out);
    e->pck_crl_hex = mt_hex_encode_alloc(c->pck_crl, c->pck_crl_len);
    e->root_crl_hex = mt_hex_encode_alloc(c->root_ca_crl, c->root_ca_crl_len);
    e->tcb_sig_hex = mt_hex_encode_alloc(c->tcb_info_signature, 64);
    e->qe_sig_hex = mt_hex_encode_alloc(c->qe_identity_signature, 64);
    MT_ENSURE_GOTO(e->pck_crl_hex != NULL && e->root_crl_hex != NULL && e->tcb_sig_hex != NULL &&
                       e->qe_sig_hex != NULL,
                   MT_ERR_NOMEM, err, out);
out:
    if (err != MT_OK)
        entry_free(e);
    X509_CRL_free(crl);
    json_decref(tcb);
    return err;
}

static mt_err
set_body(struct pcs_reply *r, const void *p, size_t n, const char *type)
{
    r->content_type = type;
    return mt_buf_append(&r->body, p, n);
}

static mt_err
set_chain(struct pcs_reply *r, const char *name, const char *encoded)
{
    r->hdr_name = name;
    r->hdr_value = mt_strdup(encoded);
    MT_ENSURE(r->hdr_value != NULL, MT_ERR_NOMEM);
    return MT_OK;
}

/* {"<member>":<doc>,"signature":"<hex>"}, or a spaced variant with the signature first. */
static mt_err
set_doc(struct pcs_reply *r, const char *member, const char *doc, size_t doc_len,
        const char *sig_hex, size_t sig_len, int spaced)
{
    struct mt_buf *b = &r->body;

    r->content_type = "application/json";
    if (spaced) {
        MT_GUARD(mt_buf_append_str(b, "{\n  \"signature\" : \""));
        MT_GUARD(mt_buf_append(b, sig_hex, sig_len));
        MT_GUARD(mt_buf_append_str(b, "\",\n  \""));
        MT_GUARD(mt_buf_append_str(b, member));
        MT_GUARD(mt_buf_append_str(b, "\" :\t"));
        MT_GUARD(mt_buf_append(b, doc, doc_len));
        return mt_buf_append_str(b, "\n}\n");
    }
    MT_GUARD(mt_buf_append_str(b, "{\""));
    MT_GUARD(mt_buf_append_str(b, member));
    MT_GUARD(mt_buf_append_str(b, "\":"));
    MT_GUARD(mt_buf_append(b, doc, doc_len));
    MT_GUARD(mt_buf_append_str(b, ",\"signature\":\""));
    MT_GUARD(mt_buf_append(b, sig_hex, sig_len));
    return mt_buf_append_str(b, "\"}");
}

static const char *
arg(struct MHD_Connection *conn, const char *key)
{
    return MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, key);
}

/* Match the path to an endpoint; *tee gets the {tee} segment for tcb / qe routes. */
static enum mt_pcs_endpoint
route(const char *url, char tee[4])
{
    static const char v4[] = "/certification/v4/";
    const char *rest;

    if (strcmp(url, "/IntelSGXRootCA.der") == 0)
        return MT_PCS_EP_ROOT_CDP;
    if (strncmp(url, "/sgx", 4) == 0 || strncmp(url, "/tdx", 4) == 0) {
        memcpy(tee, url + 1, 3);
        tee[3] = '\0';
        if (strncmp(url + 4, v4, sizeof(v4) - 1) != 0)
            return MT_PCS_EP_OTHER;
        rest = url + 4 + sizeof(v4) - 1;
        if (strcmp(rest, "tcb") == 0)
            return MT_PCS_EP_TCB;
        if (strcmp(rest, "qe/identity") == 0)
            return MT_PCS_EP_QE_IDENTITY;
        /* CRLs live under /sgx/ only (dcap-verify.md 3.3). */
        if (strcmp(tee, "sgx") == 0 && strcmp(rest, "pckcrl") == 0)
            return MT_PCS_EP_PCKCRL;
        if (strcmp(tee, "sgx") == 0 && strcmp(rest, "rootcacrl") == 0)
            return MT_PCS_EP_ROOTCACRL;
    }
    return MT_PCS_EP_OTHER;
}

/* Build the normal answer for a routed request; 404 when nothing matches. */
static mt_err
build_reply(struct mt_pcs_server *s, struct MHD_Connection *conn, enum mt_pcs_endpoint ep,
            const char *tee, struct pcs_reply *r, const struct pcs_entry **matched)
{
    const struct pcs_entry *e = NULL;
    const char *q, *enc;
    size_t i;
    int spaced = (s->flags & MT_PCS_FLAG_SPACED_JSON) != 0;

    r->status = 404;
    for (i = 0; i < s->num_entries && e == NULL; i++) {
        const struct pcs_entry *c = &s->entries[i];

        switch (ep) {
        case MT_PCS_EP_PCKCRL:
            q = arg(conn, "ca");
            if (q != NULL && strcmp(q, c->ca) == 0)
                e = c;
            break;
        case MT_PCS_EP_TCB:
            q = arg(conn, "fmspc");
            if (q != NULL && strcmp(tee, c->tee) == 0 && strlen(q) == 12 &&
                strncasecmp(q, c->fmspc, 12) == 0)
                e = c;
            break;
        case MT_PCS_EP_QE_IDENTITY:
            if (strcmp(tee, c->tee) == 0)
                e = c;
            break;
        case MT_PCS_EP_ROOTCACRL:
            if ((s->flags & MT_PCS_FLAG_NO_ROOTCACRL) == 0)
                e = c;
            break;
        case MT_PCS_EP_ROOT_CDP:
            e = c;
            break;
        default:
            break;
        }
    }
    if (e == NULL)
        return set_body(r, "not found\n", 10, "text/plain");
    *matched = e;
    r->status = 200;
    switch (ep) {
    case MT_PCS_EP_PCKCRL:
        MT_GUARD(set_chain(r, HDR_PCK_CRL_CHAIN, e->pck_crl_chain));
        enc = arg(conn, "encoding");
        /* Without encoding=der a PCCS answers hex text (dcap-verify.md 3.3). */
        if (enc != NULL && strcmp(enc, "der") == 0)
            return set_body(r, e->col->pck_crl, e->col->pck_crl_len, "application/pkix-crl");
        return set_body(r, e->pck_crl_hex, strlen(e->pck_crl_hex), "text/plain");
    case MT_PCS_EP_TCB:
        MT_GUARD(set_chain(
            r, (s->flags & MT_PCS_FLAG_V3_TCB_HEADER) != 0 ? HDR_TCB_CHAIN_V3 : HDR_TCB_CHAIN,
            e->tcb_chain));
        return set_doc(r, "tcbInfo", e->col->tcb_info, e->col->tcb_info_len, e->tcb_sig_hex, 128,
                       spaced);
    case MT_PCS_EP_QE_IDENTITY:
        MT_GUARD(set_chain(r, HDR_QE_CHAIN, e->qe_chain));
        return set_doc(r, "enclaveIdentity", e->col->qe_identity, e->col->qe_identity_len,
                       e->qe_sig_hex, 128, spaced);
    case MT_PCS_EP_ROOTCACRL:
        if ((s->flags & MT_PCS_FLAG_ROOTCRL_DER) != 0)
            return set_body(r, e->col->root_ca_crl, e->col->root_ca_crl_len,
                            "application/pkix-crl");
        return set_body(r, e->root_crl_hex, strlen(e->root_crl_hex), "text/plain");
    case MT_PCS_EP_ROOT_CDP:
        return set_body(r, e->col->root_ca_crl, e->col->root_ca_crl_len, "application/pkix-crl");
    default:
        return MT_ERR_INTERNAL;
    }
}

/* Rewrite a reply according to a fault; en is the entry that produced it (or NULL). */
static mt_err
apply_fault(enum mt_pcs_endpoint ep, const struct pcs_entry *en, const struct pcs_fault *f,
            struct pcs_reply *r)
{
    char *v;
    size_t n;
    int bad_sig;
    mt_err e;

    switch (f->fault) {
    case MT_PCS_FAULT_STATUS:
        mt_buf_free(&r->body);
        mt_free(r->hdr_value);
        r->hdr_value = NULL;
        r->hdr_name = NULL;
        r->status = (unsigned)f->arg;
        return set_body(r, "injected failure\n", 17, "text/plain");
    case MT_PCS_FAULT_OVERSIZE:
        mt_buf_free(&r->body);
        mt_buf_init(&r->body, MT_MAX_PCCS_BODY + 1);
        v = mt_malloc(MT_MAX_PCCS_BODY + 1);
        MT_ENSURE(v != NULL, MT_ERR_NOMEM);
        memset(v, 'x', MT_MAX_PCCS_BODY + 1);
        e = mt_buf_append(&r->body, v, MT_MAX_PCCS_BODY + 1);
        mt_free(v);
        return e;
    case MT_PCS_FAULT_OVERSIZE_CHUNKED:
        r->chunked_oversize = 1;
        return MT_OK;
    case MT_PCS_FAULT_HUGE_HEADER:
        if (r->hdr_name == NULL)
            return MT_OK;
        v = mt_malloc(MT_MAX_PCCS_HEADER + 2);
        MT_ENSURE(v != NULL, MT_ERR_NOMEM);
        memset(v, 'A', MT_MAX_PCCS_HEADER + 1);
        v[MT_MAX_PCCS_HEADER + 1] = '\0';
        mt_free(r->hdr_value);
        r->hdr_value = v;
        return MT_OK;
    case MT_PCS_FAULT_DROP_CHAIN:
        mt_free(r->hdr_value);
        r->hdr_value = NULL;
        r->hdr_name = NULL;
        return MT_OK;
    case MT_PCS_FAULT_BAD_PERCENT:
        if (r->hdr_value == NULL)
            return MT_OK;
        /* "%ZZ" is not an escape; a lenient decoder would pass it through. */
        n = strlen(r->hdr_value);
        v = mt_malloc(n + 4);
        MT_ENSURE(v != NULL, MT_ERR_NOMEM);
        memcpy(v, "%ZZ", 3);
        memcpy(v + 3, r->hdr_value, n + 1);
        mt_free(r->hdr_value);
        r->hdr_value = v;
        return MT_OK;
    case MT_PCS_FAULT_BAD_SIGNATURE:
    case MT_PCS_FAULT_NO_MEMBER:
        if (en == NULL || (ep != MT_PCS_EP_TCB && ep != MT_PCS_EP_QE_IDENTITY))
            return MT_OK;
        bad_sig = f->fault == MT_PCS_FAULT_BAD_SIGNATURE;
        /* Re-render the document: 126 hex digits, or the member under another name. */
        mt_buf_free(&r->body);
        if (ep == MT_PCS_EP_TCB)
            return set_doc(r, bad_sig ? "tcbInfo" : "tcbInfoV2", en->col->tcb_info,
                           en->col->tcb_info_len, en->tcb_sig_hex, bad_sig ? 126 : 128, 0);
        return set_doc(r, bad_sig ? "enclaveIdentity" : "identity", en->col->qe_identity,
                       en->col->qe_identity_len, en->qe_sig_hex, bad_sig ? 126 : 128, 0);
    case MT_PCS_FAULT_GARBAGE:
        mt_buf_free(&r->body);
        return set_body(r, "<html><body>maintenance</body></html>\n", 38, "text/html");
    default:
        return MT_OK;
    }
}

static ssize_t
oversize_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    const uint64_t total = (uint64_t)MT_MAX_PCCS_BODY + 65536u;
    size_t n;

    (void)cls;
    if (pos >= total)
        return MHD_CONTENT_READER_END_OF_STREAM;
    n = max;
    if ((uint64_t)n > total - pos)
        n = (size_t)(total - pos);
    memset(buf, 'x', n);
    return (ssize_t)n;
}

/* Sleep ms milliseconds in small steps, returning early when the server stops. */
static void
pcs_sleep(struct mt_pcs_server *s, unsigned long ms)
{
    struct timespec ts = {0, 10 * 1000 * 1000};
    unsigned long waited = 0;

    while (waited < ms && atomic_load(&s->stopping) == 0) {
        nanosleep(&ts, NULL);
        waited += 10;
    }
}

static enum MHD_Result
send_reply(struct MHD_Connection *conn, struct pcs_reply *r)
{
    struct MHD_Response *resp;
    enum MHD_Result ret;

    if (r->chunked_oversize)
        resp =
            MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, oversize_reader, NULL, NULL);
    else
        resp = MHD_create_response_from_buffer(
            r->body.len, r->body.p != NULL ? (void *)r->body.p : (void *)"", MHD_RESPMEM_MUST_COPY);
    if (resp == NULL)
        return MHD_NO;
    if (r->content_type != NULL)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type);
    if (r->hdr_name != NULL && r->hdr_value != NULL)
        MHD_add_response_header(resp, r->hdr_name, r->hdr_value);
    ret = MHD_queue_response(conn, r->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
           const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    struct mt_pcs_server *s = cls;
    const struct pcs_entry *en = NULL;
    struct pcs_reply r;
    struct pcs_fault f;
    enum mt_pcs_endpoint ep;
    enum MHD_Result ret;
    char tee[4] = "";
    mt_err e;

    (void)version;
    (void)upload_data;
    (void)upload_data_size;
    (void)con_cls;
    memset(&r, 0, sizeof(r));
    mt_buf_init(&r.body, MT_MAX_PCCS_BODY + 1);
    ep = route(url, tee);

    pthread_mutex_lock(&s->lock);
    s->counts[ep]++;
    f = s->faults[ep];
    pthread_mutex_unlock(&s->lock);

    /* Wait outside the lock so other connections keep being served. */
    if (f.fault == MT_PCS_FAULT_SLOW)
        pcs_sleep(s, f.arg);

    pthread_mutex_lock(&s->lock);
    if (strcmp(method, "GET") != 0) {
        r.status = 405;
        e = set_body(&r, "method not allowed\n", 19, "text/plain");
    } else {
        e = build_reply(s, conn, ep, tee, &r, &en);
        if (e == MT_OK && (r.status == 200 || f.fault == MT_PCS_FAULT_STATUS))
            e = apply_fault(ep, en, &f, &r);
    }
    pthread_mutex_unlock(&s->lock);

    if (e != MT_OK) {
        mt_buf_free(&r.body);
        mt_free(r.hdr_value);
        mt_buf_init(&r.body, 64);
        r.hdr_name = NULL;
        r.hdr_value = NULL;
        r.chunked_oversize = 0;
        r.status = 500;
        if (set_body(&r, "stand-in error\n", 15, "text/plain") != MT_OK)
            r.body.len = 0;
    }
    ret = send_reply(conn, &r);
    mt_buf_free(&r.body);
    mt_free(r.hdr_value);
    return ret;
}

mt_err
mt_pcs_server_start(struct mt_pcs_server **out)
{
    return mt_pcs_server_start_at(0, out);
}

mt_err
mt_pcs_server_start_at(uint16_t port, struct mt_pcs_server **out)
{
    struct mt_pcs_server *s;
    struct sockaddr_in sin;
    const union MHD_DaemonInfo *info;
    mt_err e = MT_OK;

    s = mt_calloc(1, sizeof(*s));
    MT_ENSURE(s != NULL, MT_ERR_NOMEM);
    if (pthread_mutex_init(&s->lock, NULL) != 0) {
        mt_free(s);
        return MT_ERR_INTERNAL;
    }
    atomic_init(&s->stopping, 0);
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, NULL, NULL, on_request,
        s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sin, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)PCS_CONNECTION_MEMORY, MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_END);
    MT_ENSURE_GOTO(s->daemon != NULL, MT_ERR_IO, e, out);
    info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    MT_ENSURE_GOTO(info != NULL && info->port != 0, MT_ERR_IO, e, out);
    s->port = info->port;
    snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%u", (unsigned)s->port);
    *out = s;
    s = NULL;
out:
    mt_pcs_server_stop(s);
    return e;
}

mt_err
mt_pcs_server_add(struct mt_pcs_server *s, const struct mt_collateral *c)
{
    struct pcs_entry e;
    mt_err err;

    MT_GUARD(entry_fill(&e, c));
    pthread_mutex_lock(&s->lock);
    if (s->num_entries < PCS_MAX_ENTRIES) {
        s->entries[s->num_entries++] = e;
        err = MT_OK;
    } else {
        entry_free(&e);
        err = MT_ERR_TOO_LARGE;
    }
    pthread_mutex_unlock(&s->lock);
    return err;
}

void
mt_pcs_server_stop(struct mt_pcs_server *s)
{
    size_t i;

    if (s == NULL)
        return;
    atomic_store(&s->stopping, 1);
    if (s->daemon != NULL)
        MHD_stop_daemon(s->daemon);
    for (i = 0; i < s->num_entries; i++)
        entry_free(&s->entries[i]);
    pthread_mutex_destroy(&s->lock);
    mt_free(s);
}

uint16_t
mt_pcs_server_port(const struct mt_pcs_server *s)
{
    return s->port;
}

const char *
mt_pcs_server_url(const struct mt_pcs_server *s)
{
    return s->url;
}

void
mt_pcs_server_set_fault(struct mt_pcs_server *s, unsigned ep_mask, enum mt_pcs_fault f,
                        unsigned long a)
{
    size_t i;

    pthread_mutex_lock(&s->lock);
    for (i = 0; i < MT_PCS_EP__COUNT; i++) {
        if ((ep_mask & MT_PCS_EP_BIT(i)) != 0) {
            s->faults[i].fault = f;
            s->faults[i].arg = a;
        }
    }
    pthread_mutex_unlock(&s->lock);
}

void
mt_pcs_server_clear_faults(struct mt_pcs_server *s)
{
    mt_pcs_server_set_fault(s, MT_PCS_EP_ALL, MT_PCS_FAULT_NONE, 0);
}

void
mt_pcs_server_set_flags(struct mt_pcs_server *s, unsigned flags)
{
    pthread_mutex_lock(&s->lock);
    s->flags = flags;
    pthread_mutex_unlock(&s->lock);
}

unsigned long
mt_pcs_server_count(struct mt_pcs_server *s, enum mt_pcs_endpoint ep)
{
    unsigned long n;

    if ((unsigned)ep >= MT_PCS_EP__COUNT)
        return 0;
    pthread_mutex_lock(&s->lock);
    n = s->counts[ep];
    pthread_mutex_unlock(&s->lock);
    return n;
}

void
mt_pcs_server_reset_counts(struct mt_pcs_server *s)
{
    pthread_mutex_lock(&s->lock);
    memset(s->counts, 0, sizeof(s->counts));
    pthread_mutex_unlock(&s->lock);
}

mt_err
mt_pcs_unused_port(uint16_t *out)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof(sin);
    int fd;
    mt_err e = MT_ERR_IO;

    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    MT_ENSURE(fd >= 0, MT_ERR_IO);
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    /* Bound but never listening: a connect gets refused even before close. */
    if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
        getsockname(fd, (struct sockaddr *)&sin, &len) == 0) {
        *out = ntohs(sin.sin_port);
        e = MT_OK;
    }
    close(fd);
    return e;
}
