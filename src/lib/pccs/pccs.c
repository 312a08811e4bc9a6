#include "pccs/pccs.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "dcap/pck.h"
#include "dcap/x509.h"
#include "util/mt_alloc.h"
#include "util/mt_buf.h"
#include "util/mt_hex.h"
#include "util/mt_json.h"
#include "util/mt_limits.h"

/*
 * All header lines of one response together.  Real PCS responses carry two
 * chains at most (about 4 KB each URL-encoded) plus a dozen short headers.
 */
#define PCCS_MAX_HEADER_TOTAL (4u * MT_MAX_PCCS_HEADER)
/* Issuer-chain headers wanted from one response (TCB Info: v4 and v3 names). */
#define PCCS_MAX_WANTED 2

#define PCCS_PATH_PCKCRL "/sgx/certification/v4/pckcrl"
#define PCCS_PATH_ROOTCACRL "/sgx/certification/v4/rootcacrl"
#define HDR_PCK_CRL_CHAIN "SGX-PCK-CRL-Issuer-Chain"
#define HDR_TCB_CHAIN "TCB-Info-Issuer-Chain"
#define HDR_TCB_CHAIN_V3 "SGX-TCB-Info-Issuer-Chain"
#define HDR_QE_CHAIN "SGX-Enclave-Identity-Issuer-Chain"

/* One header the caller wants from a response. */
struct pccs_hdr {
    const char *name;
    char *value; /* raw (still percent-encoded), owned; NULL when absent */
    size_t len;
    unsigned count; /* occurrences; more than one is refused */
};

/* One HTTP exchange. */
struct pccs_xfer {
    struct mt_buf body;
    struct pccs_hdr hdr[PCCS_MAX_WANTED];
    size_t num_hdr;
    size_t header_total;
    mt_err cb_err; /* set when a callback aborted the transfer */
    long status;
};

/* What the quote decides about the requests, and what responses must match. */
struct pccs_target {
    const char *tee;       /* "sgx" or "tdx" */
    char fmspc[13];        /* upper-case hex */
    const char *ca;        /* "processor" or "platform" */
    STACK_OF(X509) *chain; /* the quote's PCK chain, leaf first */
    char *pem;             /* the chain's text, trailing NULs removed */
};

/* State shared by the requests of one fetch. */
struct pccs_session {
    CURL *curl;
    const struct mt_pccs_opts *opts;
    char base[MT_PCCS_MAX_URL + 1];
    char url[MT_PCCS_MAX_URL + 256]; /* the request in flight, for reasons */
    char errbuf[CURL_ERROR_SIZE];
    char *reason;
    size_t reason_len;
};

void
mt_pccs_opts_init(struct mt_pccs_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->connect_timeout_ms = MT_PCCS_DEFAULT_CONNECT_TIMEOUT_MS;
    o->timeout_ms = MT_PCCS_DEFAULT_TIMEOUT_MS;
}

mt_err
mt_pccs_global_init(void)
{
    MT_ENSURE(curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK, MT_ERR_INTERNAL);
    return MT_OK;
}

void
mt_pccs_global_cleanup(void)
{
    curl_global_cleanup();
}

/* Record why a request failed; the last failure of a fetch is what the caller sees. */
static mt_err
fail(struct pccs_session *s, mt_err e, const char *what)
{
    if (s->reason != NULL && s->reason_len > 0)
        snprintf(s->reason, s->reason_len, "GET %s: %s (%s)", s->url, what, mt_err_code(e));
    return e;
}

static mt_err
fail_status(struct pccs_session *s, long status)
{
    if (s->reason != NULL && s->reason_len > 0)
        snprintf(s->reason, s->reason_len, "GET %s: HTTP status %ld (%s)", s->url, status,
                 mt_err_code(MT_ERR_HTTP_STATUS));
    return MT_ERR_HTTP_STATUS;
}

static void
xfer_init(struct pccs_xfer *x, const char *const *names, size_t num)
{
    size_t i;

    memset(x, 0, sizeof(*x));
    mt_buf_init(&x->body, MT_MAX_PCCS_BODY);
    for (i = 0; i < num && i < PCCS_MAX_WANTED; i++)
        x->hdr[i].name = names[i];
    x->num_hdr = i;
}

static void
xfer_reset_headers(struct pccs_xfer *x)
{
    size_t i;

    for (i = 0; i < x->num_hdr; i++) {
        mt_free(x->hdr[i].value);
        x->hdr[i].value = NULL;
        x->hdr[i].len = 0;
        x->hdr[i].count = 0;
    }
    x->header_total = 0;
}

static void
xfer_free(struct pccs_xfer *x)
{
    xfer_reset_headers(x);
    mt_buf_free(&x->body);
}

static size_t
on_body(char *p, size_t size, size_t nmemb, void *ud)
{
    struct pccs_xfer *x = ud;
    size_t n = size * nmemb;
    mt_err e;

    e = mt_buf_append(&x->body, p, n);
    if (e != MT_OK) {
        /* Returning a short count makes libcurl abort with CURLE_WRITE_ERROR. */
        x->cb_err = e;
        return 0;
    }
    return n;
}

static int
is_ows(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

static size_t
on_header(char *p, size_t size, size_t nmemb, void *ud)
{
    struct pccs_xfer *x = ud;
    size_t n = size * nmemb, name_len, vlen, i;
    const char *colon, *v;

    if (n >= 5 && memcmp(p, "HTTP/", 5) == 0) {
        /* A new status line (after a 1xx): only the final response's headers count. */
        xfer_reset_headers(x);
    }
    if (n > PCCS_MAX_HEADER_TOTAL - x->header_total) {
        x->cb_err = MT_ERR_TOO_LARGE;
        return 0;
    }
    x->header_total += n;
    colon = memchr(p, ':', n);
    if (colon == NULL)
        return n;
    name_len = (size_t)(colon - p);
    for (i = 0; i < x->num_hdr; i++) {
        if (strlen(x->hdr[i].name) != name_len || strncasecmp(p, x->hdr[i].name, name_len) != 0)
            continue;
        v = colon + 1;
        vlen = n - name_len - 1;
        while (vlen > 0 && is_ows(*v)) {
            v++;
            vlen--;
        }
        while (vlen > 0 && is_ows(v[vlen - 1]))
            vlen--;
        if (vlen > MT_MAX_PCCS_HEADER) {
            x->cb_err = MT_ERR_TOO_LARGE;
            return 0;
        }
        x->hdr[i].count++;
        if (x->hdr[i].count > 1)
            continue;
        x->hdr[i].value = mt_strndup(v, vlen);
        if (x->hdr[i].value == NULL) {
            x->cb_err = MT_ERR_NOMEM;
            return 0;
        }
        x->hdr[i].len = vlen;
    }
    return n;
}

static mt_err
curl_to_err(CURLcode rc)
{
    switch (rc) {
    case CURLE_OK:
        return MT_OK;
    case CURLE_FILESIZE_EXCEEDED:
        return MT_ERR_TOO_LARGE;
    case CURLE_OUT_OF_MEMORY:
        return MT_ERR_NOMEM;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
        return MT_ERR_ARG;
    default:
        /* Resolve, connect, TLS, timeout, reset: the server did not answer. */
        return MT_ERR_NETWORK;
    }
}

/*
 * GET url (absolute) into x.  MT_OK only for a complete 200 response; the
 * reason names the URL on every failure.
 */
static mt_err
pccs_get(struct pccs_session *s, const char *url, struct pccs_xfer *x)
{
    CURLcode rc;
    mt_err e;
    size_t n = strlen(url);

    MT_ENSURE(n < sizeof(s->url), MT_ERR_ARG);
    memcpy(s->url, url, n + 1);
    s->errbuf[0] = '\0';
    if (curl_easy_setopt(s->curl, CURLOPT_URL, url) != CURLE_OK ||
        curl_easy_setopt(s->curl, CURLOPT_WRITEDATA, x) != CURLE_OK ||
        curl_easy_setopt(s->curl, CURLOPT_HEADERDATA, x) != CURLE_OK)
        return fail(s, MT_ERR_INTERNAL, "cannot configure the request");
    rc = curl_easy_perform(s->curl);
    if (rc != CURLE_OK) {
        e = curl_to_err(rc);
        /* Our own callbacks know better than CURLE_WRITE_ERROR why they stopped. */
        if (x->cb_err != MT_OK)
            e = x->cb_err;
        if (e == MT_ERR_TOO_LARGE)
            return fail(s, e, "response over the size limit");
        return fail(s, e, s->errbuf[0] != '\0' ? s->errbuf : curl_easy_strerror(rc));
    }
    if (curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &x->status) != CURLE_OK)
        return fail(s, MT_ERR_INTERNAL, "no response code");
    if (x->status != 200)
        return fail_status(s, x->status);
    return MT_OK;
}

/* base + path (+ query) into s->url-sized storage. */
static mt_err
pccs_url(struct pccs_session *s, char *out, size_t out_len, const char *path, const char *q1,
         const char *q2)
{
    int n;

    n = snprintf(out, out_len, "%s%s%s%s", s->base, path, q1 != NULL ? q1 : "",
                 q2 != NULL ? q2 : "");
    if (n <= 0 || (size_t)n >= out_len) {
        snprintf(s->url, sizeof(s->url), "%s%s", s->base, path);
        return fail(s, MT_ERR_ARG, "request URL too long");
    }
    return MT_OK;
}

/* The decoded PEM of a required issuer-chain header; it must hold certificates. */
static mt_err
take_chain(struct pccs_session *s, const struct pccs_hdr *h, char **out)
{
    STACK_OF(X509) *chain = NULL;
    char *pem = NULL;
    size_t len;
    mt_err e;

    if (h->value == NULL)
        return fail(s, MT_ERR_COLLATERAL_FORMAT, "missing issuer-chain header");
    if (h->count > 1)
        return fail(s, MT_ERR_COLLATERAL_FORMAT, "repeated issuer-chain header");
    e = mt_pccs_percent_decode(h->value, h->len, &pem, &len);
    if (e != MT_OK)
        return fail(s, e, "issuer-chain header is not strict percent-encoding");
    e = mt_pem_chain_parse(pem, len, &chain);
    sk_X509_pop_free(chain, X509_free);
    if (e != MT_OK) {
        mt_free(pem);
        if (e == MT_ERR_NOMEM)
            return fail(s, e, "out of memory");
        return fail(s, MT_ERR_COLLATERAL_FORMAT, "issuer-chain header is not a PEM chain");
    }
    *out = pem;
    return MT_OK;
}

/*
 * A CRL body: DER (starts with a SEQUENCE tag), or hex text of DER as a
 * PCCS sends it.  The CRL must be issued by `issuer`.
 */
static mt_err
take_crl(struct pccs_session *s, const struct mt_buf *b, const X509_NAME *issuer, uint8_t **out,
         size_t *out_len)
{
    uint8_t *der = NULL;
    size_t len = b->len, der_len = 0;
    X509_CRL *crl = NULL;
    mt_err e = MT_OK;

    if (len > 0 && b->p[0] == 0x30) {
        der = mt_malloc(len);
        if (der == NULL)
            return fail(s, MT_ERR_NOMEM, "out of memory");
        memcpy(der, b->p, len);
        der_len = len;
    } else {
        while (len > 0 && is_ows((char)b->p[len - 1]))
            len--;
        e = mt_hex_decode_alloc((const char *)b->p, len, MT_MAX_PCCS_BODY, &der, &der_len);
        if (e != MT_OK) {
            e = e == MT_ERR_NOMEM ? e : MT_ERR_COLLATERAL_FORMAT;
            return fail(s, e, "CRL body is neither DER nor hex");
        }
    }
    e = mt_crl_from_der(der, der_len, &crl);
    if (e != MT_OK) {
        fail(s, MT_ERR_COLLATERAL_FORMAT, "CRL body does not decode");
        e = MT_ERR_COLLATERAL_FORMAT;
        goto out;
    }
    if (X509_NAME_cmp(X509_CRL_get_issuer(crl), issuer) != 0) {
        e = fail(s, MT_ERR_COLLATERAL_FORMAT, "CRL is not issued by the expected CA");
        goto out;
    }
    *out = der;
    *out_len = der_len;
    der = NULL;
out:
    X509_CRL_free(crl);
    mt_free(der);
    return e;
}

static mt_err
fetch_pck_crl(struct pccs_session *s, const struct pccs_target *t, struct mt_collateral *c)
{
    static const char *const names[] = {HDR_PCK_CRL_CHAIN};
    char url[sizeof(s->url)];
    struct pccs_xfer x;
    X509 *leaf = sk_X509_value(t->chain, 0);
    mt_err e;

    xfer_init(&x, names, 1);
    /* Always under /sgx/, whatever the TEE (dcap-verify.md 3.3). */
    MT_GUARD_GOTO(pccs_url(s, url, sizeof(url), PCCS_PATH_PCKCRL "?ca=", t->ca, "&encoding=der"), e,
                  out);
    MT_GUARD_GOTO(pccs_get(s, url, &x), e, out);
    MT_GUARD_GOTO(take_chain(s, &x.hdr[0], &c->pck_crl_issuer_chain), e, out);
    MT_GUARD_GOTO(take_crl(s, &x.body, X509_get_issuer_name(leaf), &c->pck_crl, &c->pck_crl_len), e,
                  out);
out:
    xfer_free(&x);
    return e;
}

/* A signed JSON document response: {"<member>":{...},"signature":"<hex>"}. */
static mt_err
take_doc(struct pccs_session *s, const struct pccs_xfer *x, const char *member, char **doc,
         size_t *doc_len, uint8_t sig[64])
{
    char what[96];
    mt_err e;

    e = mt_pccs_signed_doc((const char *)x->body.p, x->body.len, member, doc, doc_len, sig);
    if (e == MT_ERR_TOO_LARGE)
        return fail(s, e, "signed document over the size limit");
    if (e == MT_ERR_NOMEM)
        return fail(s, e, "out of memory");
    if (e != MT_OK) {
        snprintf(what, sizeof(what), "body is not {\"%s\":{...},\"signature\":\"<128 hex>\"}",
                 member);
        return fail(s, e, what);
    }
    return MT_OK;
}

/* The TCB Info must be the one asked for; a PCCS serving another FMSPC is broken. */
static mt_err
check_fmspc(struct pccs_session *s, const struct pccs_target *t, const char *doc, size_t len)
{
    json_t *j = NULL;
    const char *f;
    size_t flen;
    mt_err e = MT_OK;

    if (mt_json_parse(doc, len, MT_MAX_SIGNED_JSON, &j) != MT_OK ||
        mt_json_get_str(j, "fmspc", &f, &flen) != MT_OK || flen != 12 ||
        strncasecmp(f, t->fmspc, 12) != 0)
        e = fail(s, MT_ERR_COLLATERAL_FORMAT, "tcbInfo is not for the requested FMSPC");
    json_decref(j);
    return e;
}

static mt_err
fetch_tcb(struct pccs_session *s, const struct pccs_target *t, struct mt_collateral *c)
{
    /* API v4 name first; the v3 name is what older PCCS versions send. */
    static const char *const names[] = {HDR_TCB_CHAIN, HDR_TCB_CHAIN_V3};
    char url[sizeof(s->url)], path[64];
    struct pccs_xfer x;
    const struct pccs_hdr *h;
    mt_err e;

    xfer_init(&x, names, 2);
    snprintf(path, sizeof(path), "/%s/certification/v4/tcb?fmspc=", t->tee);
    MT_GUARD_GOTO(pccs_url(s, url, sizeof(url), path, t->fmspc, NULL), e, out);
    MT_GUARD_GOTO(pccs_get(s, url, &x), e, out);
    h = x.hdr[0].value != NULL ? &x.hdr[0] : &x.hdr[1];
    MT_GUARD_GOTO(take_chain(s, h, &c->tcb_info_issuer_chain), e, out);
    MT_GUARD_GOTO(take_doc(s, &x, "tcbInfo", &c->tcb_info, &c->tcb_info_len, c->tcb_info_signature),
                  e, out);
    MT_GUARD_GOTO(check_fmspc(s, t, c->tcb_info, c->tcb_info_len), e, out);
out:
    xfer_free(&x);
    return e;
}

static mt_err
fetch_qe_identity(struct pccs_session *s, const struct pccs_target *t, struct mt_collateral *c)
{
    static const char *const names[] = {HDR_QE_CHAIN};
    char url[sizeof(s->url)], path[64];
    struct pccs_xfer x;
    mt_err e;

    xfer_init(&x, names, 1);
    snprintf(path, sizeof(path), "/%s/certification/v4/qe/identity?update=standard", t->tee);
    MT_GUARD_GOTO(pccs_url(s, url, sizeof(url), path, NULL, NULL), e, out);
    MT_GUARD_GOTO(pccs_get(s, url, &x), e, out);
    MT_GUARD_GOTO(take_chain(s, &x.hdr[0], &c->qe_identity_issuer_chain), e, out);
    MT_GUARD_GOTO(take_doc(s, &x, "enclaveIdentity", &c->qe_identity, &c->qe_identity_len,
                           c->qe_identity_signature),
                  e, out);
out:
    xfer_free(&x);
    return e;
}

/*
 * The single http(s) URI of the root certificate's CRL distribution point,
 * taken from the last certificate of the QE Identity chain
 * (dcap-verify.md 3.3, Intel PCS row).
 */
static mt_err
root_cdp_url(struct pccs_session *s, const struct mt_collateral *c, char *out, size_t out_len)
{
    STACK_OF(X509) *chain = NULL;
    STACK_OF(DIST_POINT) *dps = NULL;
    DIST_POINT *dp;
    GENERAL_NAME *gn;
    const unsigned char *uri;
    int ulen;
    mt_err e = MT_ERR_COLLATERAL_FORMAT;

    if (mt_pem_chain_parse(c->qe_identity_issuer_chain, strlen(c->qe_identity_issuer_chain),
                           &chain) != MT_OK)
        goto out;
    dps = X509_get_ext_d2i(sk_X509_value(chain, sk_X509_num(chain) - 1),
                           NID_crl_distribution_points, NULL, NULL);
    if (dps == NULL || sk_DIST_POINT_num(dps) != 1)
        goto out;
    dp = sk_DIST_POINT_value(dps, 0);
    if (dp->distpoint == NULL || dp->distpoint->type != 0 ||
        sk_GENERAL_NAME_num(dp->distpoint->name.fullname) != 1)
        goto out;
    gn = sk_GENERAL_NAME_value(dp->distpoint->name.fullname, 0);
    if (gn->type != GEN_URI)
        goto out;
    uri = ASN1_STRING_get0_data(gn->d.uniformResourceIdentifier);
    ulen = ASN1_STRING_length(gn->d.uniformResourceIdentifier);
    if (ulen <= 0 || (size_t)ulen >= out_len || memchr(uri, '\0', (size_t)ulen) != NULL)
        goto out;
    /* libcurl refuses other schemes anyway; fail here with a clearer reason. */
    if (strncasecmp((const char *)uri, "https://", 8) != 0 &&
        strncasecmp((const char *)uri, "http://", 7) != 0)
        goto out;
    memcpy(out, uri, (size_t)ulen);
    out[ulen] = '\0';
    e = MT_OK;
out:
    sk_DIST_POINT_pop_free(dps, DIST_POINT_free);
    sk_X509_pop_free(chain, X509_free);
    if (e != MT_OK)
        return fail(s, e, "no usable CRL distribution point in the root certificate");
    return e;
}

static mt_err
fetch_root_crl(struct pccs_session *s, const struct pccs_target *t, struct mt_collateral *c)
{
    char url[sizeof(s->url)];
    struct pccs_xfer x;
    X509 *root = sk_X509_value(t->chain, sk_X509_num(t->chain) - 1);
    mt_err e;

    xfer_init(&x, NULL, 0);
    MT_GUARD_GOTO(pccs_url(s, url, sizeof(url), PCCS_PATH_ROOTCACRL, NULL, NULL), e, out);
    e = pccs_get(s, url, &x);
    if (e == MT_ERR_HTTP_STATUS && x.status == 404 && !s->opts->no_cdp_fallback) {
        xfer_free(&x);
        xfer_init(&x, NULL, 0);
        MT_GUARD_GOTO(root_cdp_url(s, c, url, sizeof(url)), e, out);
        e = pccs_get(s, url, &x);
    }
    if (e != MT_OK)
        goto out;
    MT_GUARD_GOTO(
        take_crl(s, &x.body, X509_get_subject_name(root), &c->root_ca_crl, &c->root_ca_crl_len), e,
        out);
out:
    xfer_free(&x);
    return e;
}

/* Everything from one base URL, in dcap-qvl's order (dcap-verify.md 3.3). */
static mt_err
fetch_from(struct pccs_session *s, const struct pccs_target *t, struct mt_collateral **out)
{
    struct mt_collateral *c;
    mt_err e;

    c = mt_calloc(1, sizeof(*c));
    MT_ENSURE(c != NULL, MT_ERR_NOMEM);
    MT_GUARD_GOTO(fetch_pck_crl(s, t, c), e, out);
    MT_GUARD_GOTO(fetch_tcb(s, t, c), e, out);
    MT_GUARD_GOTO(fetch_qe_identity(s, t, c), e, out);
    MT_GUARD_GOTO(fetch_root_crl(s, t, c), e, out);
    /* dcap-qvl's fetcher fills it too, so the bundle verifies without the quote's chain. */
    c->pck_certificate_chain = mt_strdup(t->pem);
    MT_ENSURE_GOTO(c->pck_certificate_chain != NULL, MT_ERR_NOMEM, e, out);
    *out = c;
    c = NULL;
out:
    mt_collateral_free(c);
    return e;
}

/*
 * Normalise a base URL into s->base: no trailing '/', no dcap-qvl-style
 * "/sgx/certification/v4" suffix, no query or fragment to append paths to.
 */
static mt_err
set_base(struct pccs_session *s, const char *base)
{
    static const char *const suffixes[] = {"/sgx/certification/v4", "/tdx/certification/v4"};
    size_t n, k, i;

    n = strlen(base);
    MT_ENSURE(n > 0 && n <= MT_PCCS_MAX_URL, MT_ERR_ARG);
    MT_ENSURE(strpbrk(base, "?# \t\r\n") == NULL, MT_ERR_ARG);
    while (n > 0 && base[n - 1] == '/')
        n--;
    for (i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        k = strlen(suffixes[i]);
        if (n > k && strncmp(base + n - k, suffixes[i], k) == 0) {
            n -= k;
            break;
        }
    }
    MT_ENSURE(n > 0, MT_ERR_ARG);
    memcpy(s->base, base, n);
    s->base[n] = '\0';
    return MT_OK;
}

static void
target_free(struct pccs_target *t)
{
    sk_X509_pop_free(t->chain, X509_free);
    t->chain = NULL;
    mt_free(t->pem);
    t->pem = NULL;
}

/* Request parameters from the quote's PCK chain (dcap-verify.md 3.3, fetch order). */
static mt_err
target_from_quote(const struct mt_quote *q, struct pccs_target *t)
{
    struct mt_pck_info info;
    size_t n, i;
    char hex[13];
    mt_err e;

    memset(t, 0, sizeof(*t));
    MT_ENSURE(q->kind == MT_QUOTE_DCAP, MT_ERR_ARG);
    if (q->tee_type == MT_TEE_TDX)
        t->tee = "tdx";
    else if (q->tee_type == MT_TEE_SGX)
        t->tee = "sgx";
    else
        return MT_ERR_QUOTE_TEE_TYPE;
    /* Types 2/3 need the pckcert endpoint and a PPID; only type 5 is supported. */
    MT_ENSURE(q->cert_type == 5, MT_ERR_QUOTE_CERT_TYPE);
    MT_ENSURE(q->cert_data != NULL, MT_ERR_QUOTE_CERT_TYPE);
    n = q->cert_data_len;
    while (n > 0 && q->cert_data[n - 1] == 0)
        n--;
    MT_ENSURE(n > 0 && memchr(q->cert_data, 0, n) == NULL, MT_ERR_PEM);
    MT_GUARD_GOTO(mt_pem_chain_parse((const char *)q->cert_data, n, &t->chain), e, out);
    /* The leaf names the PCK CA, the last certificate is the root that signs the root CRL. */
    MT_ENSURE_GOTO(sk_X509_num(t->chain) >= 2, MT_ERR_PEM, e, out);
    MT_GUARD_GOTO(mt_pck_info_parse(sk_X509_value(t->chain, 0), &info), e, out);
    mt_hex_encode(info.fmspc, sizeof(info.fmspc), hex);
    /* PCS wants the FMSPC in upper case (dcap-qvl sends hex::encode_upper). */
    for (i = 0; i < 12; i++)
        t->fmspc[i] = hex[i] >= 'a' && hex[i] <= 'f' ? (char)(hex[i] - 'a' + 'A') : hex[i];
    t->fmspc[12] = '\0';
    t->ca = mt_pck_ca_name(info.ca);
    t->pem = mt_strndup((const char *)q->cert_data, n);
    MT_ENSURE_GOTO(t->pem != NULL, MT_ERR_NOMEM, e, out);
    e = MT_OK;
out:
    if (e != MT_OK)
        target_free(t);
    return e;
}

static mt_err
session_open(struct pccs_session *s, const struct mt_pccs_opts *o)
{
    CURL *h;
    int ok = 1;

    h = curl_easy_init();
    MT_ENSURE(h != NULL, MT_ERR_NOMEM);
    s->curl = h;
    /* Signals are unsafe in threaded programs; timeouts still work via the resolver. */
    ok &= curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) == CURLE_OK;
    ok &= curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms) == CURLE_OK;
    ok &= curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, o->timeout_ms) == CURLE_OK;
    ok &= curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK;
    ok &= curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") == CURLE_OK;
    /* A redirect could move the request to a host the operator never named. */
    ok &= curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK;
    ok &= curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L) == CURLE_OK;
    ok &= curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L) == CURLE_OK;
    if (o->ca_file != NULL)
        ok &= curl_easy_setopt(h, CURLOPT_CAINFO, o->ca_file) == CURLE_OK;
    if (o->proxy != NULL)
        ok &= curl_easy_setopt(h, CURLOPT_PROXY, o->proxy) == CURLE_OK;
    /* Refuse early when Content-Length announces too much; on_body catches the rest. */
    ok &= curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)MT_MAX_PCCS_BODY) == CURLE_OK;
    ok &= curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body) == CURLE_OK;
    ok &= curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header) == CURLE_OK;
    ok &= curl_easy_setopt(h, CURLOPT_ERRORBUFFER, s->errbuf) == CURLE_OK;
    ok &= curl_easy_setopt(h, CURLOPT_USERAGENT, "mero-tee") == CURLE_OK;
    ok &= curl_easy_setopt(h, CURLOPT_HTTPGET, 1L) == CURLE_OK;
    MT_ENSURE(ok, MT_ERR_INTERNAL);
    return MT_OK;
}

mt_err
mt_pccs_fetch(const struct mt_pccs_opts *opts, const struct mt_quote *q, struct mt_collateral **out,
              char *reason, size_t reason_len)
{
    struct pccs_session *s = NULL;
    struct pccs_target t;
    struct mt_collateral *c = NULL;
    size_t i;
    mt_err e;

    memset(&t, 0, sizeof(t));
    if (reason != NULL && reason_len > 0)
        reason[0] = '\0';
    MT_ENSURE(opts != NULL && q != NULL && out != NULL, MT_ERR_ARG);
    MT_ENSURE(opts->urls != NULL && opts->num_urls > 0 && opts->num_urls <= MT_PCCS_MAX_URLS,
              MT_ERR_ARG);
    MT_ENSURE(opts->connect_timeout_ms > 0 && opts->timeout_ms > 0, MT_ERR_ARG);
    e = target_from_quote(q, &t);
    if (e != MT_OK) {
        if (reason != NULL && reason_len > 0)
            snprintf(reason, reason_len, "quote: %s", mt_err_message(e));
        return e;
    }
    s = mt_calloc(1, sizeof(*s));
    MT_ENSURE_GOTO(s != NULL, MT_ERR_NOMEM, e, out);
    s->opts = opts;
    s->reason = reason;
    s->reason_len = reason_len;
    MT_GUARD_GOTO(session_open(s, opts), e, out);
    e = MT_ERR_ARG;
    for (i = 0; i < opts->num_urls; i++) {
        if (opts->urls[i] == NULL || set_base(s, opts->urls[i]) != MT_OK) {
            e = MT_ERR_ARG;
            if (reason != NULL && reason_len > 0)
                snprintf(reason, reason_len, "invalid base URL #%zu", i + 1);
            continue;
        }
        e = fetch_from(s, &t, &c);
        if (e == MT_OK)
            break;
        /* Out of memory will not get better with another server. */
        if (e == MT_ERR_NOMEM)
            break;
    }
    if (e == MT_OK) {
        *out = c;
        if (reason != NULL && reason_len > 0)
            reason[0] = '\0';
    }
out:
    if (s != NULL) {
        curl_easy_cleanup(s->curl);
        mt_free(s);
    }
    target_free(&t);
    return e;
}
