#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "dcap/collateral.h"
#include "dcap/x509.h"
#include "pccs/pccs.h"
#include "sim/sim_pcs.h"
#include "quote/quote.h"
#include "util/mt_alloc.h"
#include "util/mt_file.h"
#include "util/mt_hex.h"
#include "util/mt_limits.h"
#include "util/mt_time.h"

/*
 * PCCS / PCS fetching (dcap-verify.md 3.3) against the stand-in of
 * tests/testlib/pcs_server.c, serving the real collateral of the shared
 * vectors.  Only 127.0.0.1 is ever contacted.
 */

#define VEC_DIR MT_SHARED_DIR "/vectors/dcap/"

extern char **environ;

struct vec {
    uint8_t *quote;
    size_t quote_len;
    struct mt_quote q;
    struct mt_collateral *col;
    char *json;
    size_t json_len;
};

static struct vec d1, d2;

static void
require_shared(void)
{
    if (access(VEC_DIR "D2_tdx_quote.bin", R_OK) != 0)
        fail_msg("../shared is absent: %s not readable; the PCCS tests need the shared DCAP "
                 "vectors (check out shared/ beside main/ or set -DMT_SHARED=...)",
                 VEC_DIR "D2_tdx_quote.bin");
}

static void
vec_load(struct vec *v, const char *quote_file, const char *col_file)
{
    char path[512];
    uint8_t *json;

    require_shared();
    memset(v, 0, sizeof(*v));
    snprintf(path, sizeof(path), "%s%s", VEC_DIR, quote_file);
    assert_int_equal(mt_file_read(path, MT_MAX_QUOTE_SIZE, &v->quote, &v->quote_len), MT_OK);
    assert_int_equal(mt_quote_parse(v->quote, v->quote_len, &v->q), MT_OK);
    snprintf(path, sizeof(path), "%s%s", VEC_DIR, col_file);
    assert_int_equal(mt_file_read(path, MT_MAX_COLLATERAL_JSON, &json, &v->json_len), MT_OK);
    v->json = (char *)json;
    assert_int_equal(mt_collateral_parse(v->json, v->json_len, &v->col), MT_OK);
}

static void
vec_free(struct vec *v)
{
    mt_free(v->quote);
    mt_free(v->json);
    mt_collateral_free(v->col);
    memset(v, 0, sizeof(*v));
}

static int
group_setup(void **state)
{
    (void)state;
    /* The stand-in is on 127.0.0.1; an inherited proxy must not get in the way (CLI too). */
    unsetenv("http_proxy");
    unsetenv("HTTP_PROXY");
    unsetenv("https_proxy");
    unsetenv("HTTPS_PROXY");
    unsetenv("all_proxy");
    unsetenv("ALL_PROXY");
    if (mt_pccs_global_init() != MT_OK)
        return -1;
    return 0;
}

static int
group_teardown(void **state)
{
    (void)state;
    vec_free(&d1);
    vec_free(&d2);
    mt_pccs_global_cleanup();
    return 0;
}

static void
need_d1(void)
{
    if (d1.col == NULL)
        vec_load(&d1, "D1_sgx_quote.bin", "D1_sgx_quote_collateral.json");
}

static void
need_d2(void)
{
    if (d2.col == NULL)
        vec_load(&d2, "D2_tdx_quote.bin", "D2_tdx_quote_collateral.json");
}

static struct mt_pcs_server *
server_with(const struct mt_collateral *a, const struct mt_collateral *b)
{
    struct mt_pcs_server *s = NULL;

    assert_int_equal(mt_pcs_server_start(&s), MT_OK);
    if (a != NULL)
        assert_int_equal(mt_pcs_server_add(s, a), MT_OK);
    if (b != NULL)
        assert_int_equal(mt_pcs_server_add(s, b), MT_OK);
    return s;
}

static void
opts_for(struct mt_pccs_opts *o, const char **urls, size_t n)
{
    mt_pccs_opts_init(o);
    o->urls = urls;
    o->num_urls = n;
    o->proxy = "";
    o->no_cdp_fallback = 1;
    o->timeout_ms = 10000;
}

/* The quote's PEM chain without the trailing NUL real quotes carry. */
static size_t
quote_pem_len(const struct vec *v)
{
    size_t n = v->q.cert_data_len;

    while (n > 0 && v->q.cert_data[n - 1] == 0)
        n--;
    return n;
}

static void
assert_same_collateral(const struct mt_collateral *got, const struct vec *v)
{
    const struct mt_collateral *want = v->col;
    size_t n = quote_pem_len(v);

    assert_non_null(got);
    assert_string_equal(got->pck_crl_issuer_chain, want->pck_crl_issuer_chain);
    assert_int_equal(got->root_ca_crl_len, want->root_ca_crl_len);
    assert_memory_equal(got->root_ca_crl, want->root_ca_crl, want->root_ca_crl_len);
    assert_int_equal(got->pck_crl_len, want->pck_crl_len);
    assert_memory_equal(got->pck_crl, want->pck_crl, want->pck_crl_len);
    assert_string_equal(got->tcb_info_issuer_chain, want->tcb_info_issuer_chain);
    /* The signed bytes: byte-identical, not merely the same JSON. */
    assert_int_equal(got->tcb_info_len, want->tcb_info_len);
    assert_memory_equal(got->tcb_info, want->tcb_info, want->tcb_info_len);
    assert_int_equal(got->tcb_info[got->tcb_info_len], '\0');
    assert_memory_equal(got->tcb_info_signature, want->tcb_info_signature, 64);
    assert_string_equal(got->qe_identity_issuer_chain, want->qe_identity_issuer_chain);
    assert_int_equal(got->qe_identity_len, want->qe_identity_len);
    assert_memory_equal(got->qe_identity, want->qe_identity, want->qe_identity_len);
    assert_memory_equal(got->qe_identity_signature, want->qe_identity_signature, 64);
    /* dcap-qvl fills the PCK chain from the quote. */
    assert_non_null(got->pck_certificate_chain);
    assert_int_equal(strlen(got->pck_certificate_chain), n);
    assert_memory_equal(got->pck_certificate_chain, v->q.cert_data, n);
}

static mt_err
fetch(const char **urls, size_t n, const struct vec *v, struct mt_collateral **out, char *reason,
      size_t reason_len)
{
    struct mt_pccs_opts o;

    opts_for(&o, urls, n);
    return mt_pccs_fetch(&o, &v->q, out, reason, reason_len);
}

/* Fetch with one server and one fault; the result must be exactly `want`. */
static void
expect_fault(const struct vec *v, unsigned ep_mask, enum mt_pcs_fault f, unsigned long a,
             mt_err want)
{
    struct mt_pcs_server *s = server_with(v->col, NULL);
    struct mt_collateral *c = NULL;
    const char *urls[1];
    char reason[512];
    mt_err e;

    urls[0] = mt_pcs_server_url(s);
    mt_pcs_server_set_fault(s, ep_mask, f, a);
    e = fetch(urls, 1, v, &c, reason, sizeof(reason));
    if (e != want)
        fail_msg("fault %d on mask %#x: got %s, want %s (%s)", (int)f, ep_mask, mt_err_code(e),
                 mt_err_code(want), reason);
    assert_null(c);
    print_message("  fault %d: %s\n", (int)f, reason);
    /* Every failure names the URL it happened on. */
    assert_non_null(strstr(reason, urls[0]));
    mt_pcs_server_stop(s);
}

static void
test_fetch_tdx_d2(void **state)
{
    struct mt_pcs_server *s;
    struct mt_collateral *c = NULL;
    const char *urls[1];
    char reason[256];

    (void)state;
    need_d2();
    s = server_with(d2.col, NULL);
    urls[0] = mt_pcs_server_url(s);
    assert_int_equal(fetch(urls, 1, &d2, &c, reason, sizeof(reason)), MT_OK);
    assert_string_equal(reason, "");
    assert_same_collateral(c, &d2);
    assert_int_equal(mt_pcs_server_count(s, MT_PCS_EP_PCKCRL), 1);
    assert_int_equal(mt_pcs_server_count(s, MT_PCS_EP_TCB), 1);
    assert_int_equal(mt_pcs_server_count(s, MT_PCS_EP_QE_IDENTITY), 1);
    assert_int_equal(mt_pcs_server_count(s, MT_PCS_EP_ROOTCACRL), 1);
    assert_int_equal(mt_pcs_server_count(s, MT_PCS_EP_OTHER), 0);
    mt_collateral_free(c);
    mt_pcs_server_stop(s);
}

static void
test_fetch_sgx_d1(void **state)
{
    struct mt_pcs_server *s;
    struct mt_collateral *c = NULL;
    const char *urls[1];

    (void)state;
    need_d1();
    s = server_with(d1.col, NULL);
    urls[0] = mt_pcs_server_url(s);
    assert_int_equal(fetch(urls, 1, &d1, &c, NULL, 0), MT_OK);
    assert_same_collateral(c, &d1);
    assert_int_equal(mt_pcs_server_count(s, MT_PCS_EP_OTHER), 0);
    mt_collateral_free(c);
    mt_pcs_server_stop(s);
}

/* SGX and TDX, processor and platform CA, from one server: routing by tee, fmspc, ca. */
static void
test_fetch_both_from_one_server(void **state)
{
    struct mt_pcs_server *s;
    struct mt_collateral *c1 = NULL, *c2 = NULL;
    const char *urls[1];

    (void)state;
    need_d1();
    need_d2();
    s = server_with(d1.col, d2.col);
    urls[0] = mt_pcs_server_url(s);
    assert_int_equal(fetch(urls, 1, &d1, &c1, NULL, 0), MT_OK);
    assert_int_equal(fetch(urls, 1, &d2, &c2, NULL, 0), MT_OK);
    assert_same_collateral(c1, &d1);
    assert_same_collateral(c2, &d2);
    mt_collateral_free(c1);
    mt_collateral_free(c2);
    mt_pcs_server_stop(s);
}

/* Wire variants real servers use: v3 header name, DER root CRL, pretty-printed JSON. */
static void
test_fetch_wire_variants(void **state)
{
    static const unsigned flags[] = {
        MT_PCS_FLAG_V3_TCB_HEADER, MT_PCS_FLAG_ROOTCRL_DER, MT_PCS_FLAG_SPACED_JSON,
        MT_PCS_FLAG_V3_TCB_HEADER | MT_PCS_FLAG_ROOTCRL_DER | MT_PCS_FLAG_SPACED_JSON};
    struct mt_pcs_server *s;
    struct mt_collateral *c = NULL;
    const char *urls[1];
    size_t i;

    (void)state;
    need_d2();
    s = server_with(d2.col, NULL);
    urls[0] = mt_pcs_server_url(s);
    for (i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
        mt_pcs_server_set_flags(s, flags[i]);
        assert_int_equal(fetch(urls, 1, &d2, &c, NULL, 0), MT_OK);
        assert_same_collateral(c, &d2);
        mt_collateral_free(c);
        c = NULL;
    }
    mt_pcs_server_stop(s);
}

/* dcap-qvl's old base URL form carries the API prefix; it must not be doubled. */
static void
test_fetch_base_with_api_suffix(void **state)
{
    struct mt_pcs_server *s;
    struct mt_collateral *c = NULL;
    const char *urls[1];
    char base[128];

    (void)state;
    need_d2();
    s = server_with(d2.col, NULL);
    snprintf(base, sizeof(base), "%s/sgx/certification/v4/", mt_pcs_server_url(s));
    urls[0] = base;
    assert_int_equal(fetch(urls, 1, &d2, &c, NULL, 0), MT_OK);
    assert_same_collateral(c, &d2);
    assert_int_equal(mt_pcs_server_count(s, MT_PCS_EP_OTHER), 0);
    mt_collateral_free(c);
    mt_pcs_server_stop(s);
}

static void
test_fallback_after_500(void **state)
{
    struct mt_pcs_server *bad, *good;
    struct mt_collateral *c = NULL;
    const char *urls[2];
    char reason[256];

    (void)state;
    need_d2();
    bad = server_with(d2.col, NULL);
    good = server_with(d2.col, NULL);
    mt_pcs_server_set_fault(bad, MT_PCS_EP_ALL, MT_PCS_FAULT_STATUS, 500);
    urls[0] = mt_pcs_server_url(bad);
    urls[1] = mt_pcs_server_url(good);
    assert_int_equal(fetch(urls, 2, &d2, &c, reason, sizeof(reason)), MT_OK);
    assert_same_collateral(c, &d2);
    /* The first server failed on its first request and was not asked again. */
    assert_int_equal(mt_pcs_server_count(bad, MT_PCS_EP_PCKCRL), 1);
    assert_int_equal(mt_pcs_server_count(bad, MT_PCS_EP_TCB), 0);
    assert_int_equal(mt_pcs_server_count(good, MT_PCS_EP_PCKCRL), 1);
    assert_int_equal(mt_pcs_server_count(good, MT_PCS_EP_ROOTCACRL), 1);
    assert_string_equal(reason, "");
    mt_collateral_free(c);
    c = NULL;

    /* A failure late in the sequence also moves on: no mixing of two servers' collateral. */
    mt_pcs_server_clear_faults(bad);
    mt_pcs_server_set_fault(bad, MT_PCS_EP_BIT(MT_PCS_EP_ROOTCACRL), MT_PCS_FAULT_STATUS, 503);
    mt_pcs_server_reset_counts(good);
    assert_int_equal(fetch(urls, 2, &d2, &c, NULL, 0), MT_OK);
    assert_same_collateral(c, &d2);
    assert_int_equal(mt_pcs_server_count(good, MT_PCS_EP_PCKCRL), 1);
    mt_collateral_free(c);
    mt_pcs_server_stop(bad);
    mt_pcs_server_stop(good);
}

/* Every URL fails: the last URL's error and reason are reported. */
static void
test_all_urls_down(void **state)
{
    struct mt_collateral *c = NULL;
    const char *urls[2];
    char u1[64], u2[64], reason[512];
    uint16_t p1, p2;

    (void)state;
    need_d2();
    assert_int_equal(mt_pcs_unused_port(&p1), MT_OK);
    assert_int_equal(mt_pcs_unused_port(&p2), MT_OK);
    snprintf(u1, sizeof(u1), "http://127.0.0.1:%u", (unsigned)p1);
    snprintf(u2, sizeof(u2), "http://127.0.0.1:%u", (unsigned)p2);
    urls[0] = u1;
    urls[1] = u2;
    assert_int_equal(fetch(urls, 2, &d2, &c, reason, sizeof(reason)), MT_ERR_NETWORK);
    assert_null(c);
    assert_non_null(strstr(reason, u2));
    assert_non_null(strstr(reason, "/sgx/certification/v4/pckcrl?ca=platform&encoding=der"));
}

static void
test_last_error_is_reported(void **state)
{
    struct mt_pcs_server *s;
    struct mt_collateral *c = NULL;
    const char *urls[2];
    char down[64], reason[512];
    uint16_t port;

    (void)state;
    need_d2();
    s = server_with(d2.col, NULL);
    mt_pcs_server_set_fault(s, MT_PCS_EP_ALL, MT_PCS_FAULT_STATUS, 502);
    assert_int_equal(mt_pcs_unused_port(&port), MT_OK);
    snprintf(down, sizeof(down), "http://127.0.0.1:%u", (unsigned)port);
    /* Network error first, HTTP error last: the HTTP error wins. */
    urls[0] = down;
    urls[1] = mt_pcs_server_url(s);
    assert_int_equal(fetch(urls, 2, &d2, &c, reason, sizeof(reason)), MT_ERR_HTTP_STATUS);
    assert_non_null(strstr(reason, "HTTP status 502"));
    assert_non_null(strstr(reason, urls[1]));
    /* And the other way round. */
    urls[0] = mt_pcs_server_url(s);
    urls[1] = down;
    assert_int_equal(fetch(urls, 2, &d2, &c, reason, sizeof(reason)), MT_ERR_NETWORK);
    assert_null(c);
    mt_pcs_server_stop(s);
}

/* The stand-in knows another FMSPC only: a genuine 404 from the tcb route. */
static void
test_unknown_fmspc_is_404(void **state)
{
    struct mt_pcs_server *s;
    struct mt_collateral *other = NULL, *c = NULL;
    const char *urls[1];
    char reason[512], *p;

    (void)state;
    need_d2();
    assert_int_equal(mt_collateral_dup(d2.col, &other), MT_OK);
    p = strstr(other->tcb_info, "\"fmspc\":\"B0C06F000000\"");
    assert_non_null(p);
    memcpy(p + 9, "00906ED50000", 12);
    s = server_with(other, NULL);
    urls[0] = mt_pcs_server_url(s);
    assert_int_equal(fetch(urls, 1, &d2, &c, reason, sizeof(reason)), MT_ERR_HTTP_STATUS);
    assert_null(c);
    assert_non_null(strstr(reason, "HTTP status 404"));
    assert_non_null(strstr(reason, "/tdx/certification/v4/tcb?fmspc=B0C06F000000"));
    assert_int_equal(mt_pcs_server_count(s, MT_PCS_EP_TCB), 1);
    mt_collateral_free(other);
    mt_pcs_server_stop(s);
}

static void
test_http_status_errors(void **state)
{
    (void)state;
    need_d2();
    expect_fault(&d2, MT_PCS_EP_BIT(MT_PCS_EP_PCKCRL), MT_PCS_FAULT_STATUS, 404,
                 MT_ERR_HTTP_STATUS);
    expect_fault(&d2, MT_PCS_EP_BIT(MT_PCS_EP_QE_IDENTITY), MT_PCS_FAULT_STATUS, 500,
                 MT_ERR_HTTP_STATUS);
    /* Redirects are not followed: a 302 is just a non-200 answer. */
    expect_fault(&d2, MT_PCS_EP_BIT(MT_PCS_EP_TCB), MT_PCS_FAULT_STATUS, 302, MT_ERR_HTTP_STATUS);
    expect_fault(&d2, MT_PCS_EP_BIT(MT_PCS_EP_ROOTCACRL), MT_PCS_FAULT_STATUS, 404,
                 MT_ERR_HTTP_STATUS);
}

static void
test_too_large(void **state)
{
    (void)state;
    need_d2();
    /* Announced by Content-Length. */
    expect_fault(&d2, MT_PCS_EP_BIT(MT_PCS_EP_TCB), MT_PCS_FAULT_OVERSIZE, 0, MT_ERR_TOO_LARGE);
    /* Chunked: only counting the bytes catches it. */
    expect_fault(&d2, MT_PCS_EP_BIT(MT_PCS_EP_PCKCRL), MT_PCS_FAULT_OVERSIZE_CHUNKED, 0,
                 MT_ERR_TOO_LARGE);
    expect_fault(&d2, MT_PCS_EP_BIT(MT_PCS_EP_ROOTCACRL), MT_PCS_FAULT_OVERSIZE_CHUNKED, 0,
                 MT_ERR_TOO_LARGE);
    expect_fault(&d2, MT_PCS_EP_BIT(MT_PCS_EP_QE_IDENTITY), MT_PCS_FAULT_HUGE_HEADER, 0,
                 MT_ERR_TOO_LARGE);
}

static void
test_collateral_format_errors(void **state)
{
    static const enum mt_pcs_endpoint docs[] = {MT_PCS_EP_TCB, MT_PCS_EP_QE_IDENTITY};
    static const enum mt_pcs_endpoint all[] = {MT_PCS_EP_PCKCRL, MT_PCS_EP_TCB,
                                               MT_PCS_EP_QE_IDENTITY, MT_PCS_EP_ROOTCACRL};
    size_t i;

    (void)state;
    need_d2();
    for (i = 0; i < 3; i++) {
        expect_fault(&d2, MT_PCS_EP_BIT(all[i]), MT_PCS_FAULT_DROP_CHAIN, 0,
                     MT_ERR_COLLATERAL_FORMAT);
        expect_fault(&d2, MT_PCS_EP_BIT(all[i]), MT_PCS_FAULT_BAD_PERCENT, 0,
                     MT_ERR_COLLATERAL_FORMAT);
    }
    for (i = 0; i < 2; i++) {
        expect_fault(&d2, MT_PCS_EP_BIT(docs[i]), MT_PCS_FAULT_BAD_SIGNATURE, 0,
                     MT_ERR_COLLATERAL_FORMAT);
        expect_fault(&d2, MT_PCS_EP_BIT(docs[i]), MT_PCS_FAULT_NO_MEMBER, 0,
                     MT_ERR_COLLATERAL_FORMAT);
    }
    for (i = 0; i < 4; i++)
        expect_fault(&d2, MT_PCS_EP_BIT(all[i]), MT_PCS_FAULT_GARBAGE, 0, MT_ERR_COLLATERAL_FORMAT);
}

/* The wrong CA's CRL (or a TCB Info of another FMSPC) is refused at fetch time. */
static void
test_wrong_content(void **state)
{
    struct mt_pcs_server *s;
    struct mt_collateral *mix = NULL, *c = NULL;
    const char *urls[1];
    char reason[512];

    (void)state;
    need_d1();
    need_d2();
    /* D2's documents with D1's (processor CA) CRL served as the platform CA's. */
    assert_int_equal(mt_collateral_dup(d2.col, &mix), MT_OK);
    mt_free(mix->pck_crl);
    mix->pck_crl = mt_malloc(d1.col->pck_crl_len);
    assert_non_null(mix->pck_crl);
    memcpy(mix->pck_crl, d1.col->pck_crl, d1.col->pck_crl_len);
    mix->pck_crl_len = d1.col->pck_crl_len;
    s = server_with(mix, NULL);
    urls[0] = mt_pcs_server_url(s);
    /* The stand-in files it under "processor"; D2 asks for "platform". */
    assert_int_equal(fetch(urls, 1, &d2, &c, reason, sizeof(reason)), MT_ERR_HTTP_STATUS);
    mt_pcs_server_stop(s);
    mt_collateral_free(mix);

    /* A root CRL swapped for a PCK CRL: wrong issuer. */
    assert_int_equal(mt_collateral_dup(d2.col, &mix), MT_OK);
    mt_free(mix->root_ca_crl);
    mix->root_ca_crl = mt_malloc(d2.col->pck_crl_len);
    assert_non_null(mix->root_ca_crl);
    memcpy(mix->root_ca_crl, d2.col->pck_crl, d2.col->pck_crl_len);
    mix->root_ca_crl_len = d2.col->pck_crl_len;
    s = server_with(mix, NULL);
    urls[0] = mt_pcs_server_url(s);
    assert_int_equal(fetch(urls, 1, &d2, &c, reason, sizeof(reason)), MT_ERR_COLLATERAL_FORMAT);
    assert_non_null(strstr(reason, "rootcacrl"));
    assert_null(c);
    mt_pcs_server_stop(s);
    mt_collateral_free(mix);
}

static void
test_timeout(void **state)
{
    struct mt_pcs_server *s;
    struct mt_collateral *c = NULL;
    struct mt_pccs_opts o;
    const char *urls[1];
    char reason[512];
    uint64_t t0, dt;

    (void)state;
    need_d2();
    s = server_with(d2.col, NULL);
    mt_pcs_server_set_fault(s, MT_PCS_EP_BIT(MT_PCS_EP_TCB), MT_PCS_FAULT_SLOW, 5000);
    urls[0] = mt_pcs_server_url(s);
    opts_for(&o, urls, 1);
    o.timeout_ms = 300;
    t0 = mt_monotonic_us();
    assert_int_equal(mt_pccs_fetch(&o, &d2.q, &c, reason, sizeof(reason)), MT_ERR_NETWORK);
    dt = mt_monotonic_us() - t0;
    assert_null(c);
    assert_non_null(strstr(reason, "tcb?fmspc="));
    /* The total timeout, not the server, ended the wait. */
    assert_true(dt < 3000000u);
    mt_pcs_server_stop(s);
}

static void
test_bad_arguments(void **state)
{
    struct mt_pcs_server *s;
    struct mt_collateral *c = NULL;
    struct mt_pccs_opts o;
    struct mt_quote mock;
    const char *urls[1];
    uint8_t mockq[MT_MOCK_QUOTE_SIZE];
    char reason[256];

    (void)state;
    need_d2();
    s = server_with(d2.col, NULL);
    urls[0] = mt_pcs_server_url(s);
    opts_for(&o, urls, 0);
    assert_int_equal(mt_pccs_fetch(&o, &d2.q, &c, reason, sizeof(reason)), MT_ERR_ARG);
    opts_for(&o, urls, 1);
    o.timeout_ms = 0;
    assert_int_equal(mt_pccs_fetch(&o, &d2.q, &c, reason, sizeof(reason)), MT_ERR_ARG);

    /* Only http and https: libcurl must refuse other schemes. */
    urls[0] = "file:///etc/passwd";
    opts_for(&o, urls, 1);
    assert_int_equal(mt_pccs_fetch(&o, &d2.q, &c, reason, sizeof(reason)), MT_ERR_ARG);
    urls[0] = "http://127.0.0.1:1/?x";
    assert_int_equal(mt_pccs_fetch(&o, &d2.q, &c, reason, sizeof(reason)), MT_ERR_ARG);

    memset(mockq, 0, sizeof(mockq));
    memcpy(mockq, MT_MOCK_QUOTE_MAGIC, MT_MOCK_QUOTE_MAGIC_LEN);
    assert_int_equal(mt_quote_parse(mockq, sizeof(mockq), &mock), MT_OK);
    urls[0] = mt_pcs_server_url(s);
    assert_int_equal(mt_pccs_fetch(&o, &mock, &c, reason, sizeof(reason)), MT_ERR_ARG);
    assert_null(c);
    /* Nothing was requested for any of these. */
    assert_int_equal(mt_pcs_server_count(s, MT_PCS_EP_PCKCRL), 0);
    mt_pcs_server_stop(s);
}

/* A self-signed stand-in root whose CRL distribution point is the stand-in server. */
static char *
root_with_cdp(const char *url, X509 *intel_root)
{
    X509 *x;
    EVP_PKEY *k;
    X509_EXTENSION *ext;
    X509V3_CTX ctx;
    BIO *b;
    BUF_MEM *m;
    char value[256], *pem;

    k = EVP_EC_gen("P-256");
    assert_non_null(k);
    x = X509_new();
    assert_non_null(x);
    assert_int_equal(X509_set_version(x, 2), 1);
    assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), 7), 1);
    assert_int_equal(X509_set_subject_name(x, X509_get_subject_name(intel_root)), 1);
    assert_int_equal(X509_set_issuer_name(x, X509_get_subject_name(intel_root)), 1);
    assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), 0));
    assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 3600));
    assert_int_equal(X509_set_pubkey(x, k), 1);
    snprintf(value, sizeof(value), "URI:%s/IntelSGXRootCA.der", url);
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_crl_distribution_points, value);
    assert_non_null(ext);
    assert_int_equal(X509_add_ext(x, ext, -1), 1);
    X509_EXTENSION_free(ext);
    assert_true(X509_sign(x, k, EVP_sha256()) > 0);
    b = BIO_new(BIO_s_mem());
    assert_non_null(b);
    assert_int_equal(PEM_write_bio_X509(b, x), 1);
    BIO_get_mem_ptr(b, &m);
    pem = mt_strndup(m->data, m->length);
    assert_non_null(pem);
    BIO_free(b);
    X509_free(x);
    EVP_PKEY_free(k);
    return pem;
}

/* Intel PCS has no rootcacrl: follow the root certificate's CRL distribution point. */
static void
test_root_crl_from_cdp(void **state)
{
    struct mt_pcs_server *s;
    struct mt_collateral *mod = NULL, *c = NULL;
    struct mt_pccs_opts o;
    STACK_OF(X509) *chain = NULL;
    const char *urls[1];
    char reason[512];

    (void)state;
    need_d2();
    assert_int_equal(mt_pcs_server_start(&s), MT_OK);
    assert_int_equal(mt_pem_chain_parse((const char *)d2.q.cert_data, d2.q.cert_data_len, &chain),
                     MT_OK);
    assert_int_equal(mt_collateral_dup(d2.col, &mod), MT_OK);
    mt_free(mod->qe_identity_issuer_chain);
    mod->qe_identity_issuer_chain =
        root_with_cdp(mt_pcs_server_url(s), sk_X509_value(chain, sk_X509_num(chain) - 1));
    assert_int_equal(mt_pcs_server_add(s, mod), MT_OK);
    mt_pcs_server_set_flags(s, MT_PCS_FLAG_NO_ROOTCACRL);
    urls[0] = mt_pcs_server_url(s);

    /* Fallback disabled: the 404 is the answer. */
    opts_for(&o, urls, 1);
    assert_int_equal(mt_pccs_fetch(&o, &d2.q, &c, reason, sizeof(reason)), MT_ERR_HTTP_STATUS);
    assert_int_equal(mt_pcs_server_count(s, MT_PCS_EP_ROOT_CDP), 0);

    o.no_cdp_fallback = 0;
    assert_int_equal(mt_pccs_fetch(&o, &d2.q, &c, reason, sizeof(reason)), MT_OK);
    assert_int_equal(mt_pcs_server_count(s, MT_PCS_EP_ROOT_CDP), 1);
    assert_int_equal(c->root_ca_crl_len, d2.col->root_ca_crl_len);
    assert_memory_equal(c->root_ca_crl, d2.col->root_ca_crl, d2.col->root_ca_crl_len);
    assert_string_equal(c->qe_identity_issuer_chain, mod->qe_identity_issuer_chain);
    mt_collateral_free(c);
    c = NULL;

    /* The distribution point fails too: its error is reported. */
    mt_pcs_server_set_fault(s, MT_PCS_EP_BIT(MT_PCS_EP_ROOT_CDP), MT_PCS_FAULT_STATUS, 500);
    assert_int_equal(mt_pccs_fetch(&o, &d2.q, &c, reason, sizeof(reason)), MT_ERR_HTTP_STATUS);
    assert_non_null(strstr(reason, "/IntelSGXRootCA.der"));

    /* The real Intel chain's root points at Intel: not reachable here, so never tried. */
    sk_X509_pop_free(chain, X509_free);
    mt_collateral_free(mod);
    mt_pcs_server_stop(s);
}

static void
test_percent_decode(void **state)
{
    char *out = NULL, *enc = NULL;
    size_t n, en;
    const char pem[] = "-----BEGIN CERTIFICATE-----\nMIIB+a/b=\n-----END CERTIFICATE-----\n";

    (void)state;
    assert_int_equal(mt_pccs_percent_decode("a%20b%0Ac%2B+", 13, &out, &n), MT_OK);
    assert_string_equal(out, "a b\nc++");
    assert_int_equal(n, 7);
    mt_free(out);
    assert_int_equal(mt_pccs_percent_decode("%2f%2F", 6, &out, &n), MT_OK);
    assert_string_equal(out, "//");
    mt_free(out);
    assert_int_equal(mt_pccs_percent_decode("abc%", 4, &out, &n), MT_ERR_COLLATERAL_FORMAT);
    assert_int_equal(mt_pccs_percent_decode("abc%4", 5, &out, &n), MT_ERR_COLLATERAL_FORMAT);
    assert_int_equal(mt_pccs_percent_decode("%ZZabc", 6, &out, &n), MT_ERR_COLLATERAL_FORMAT);
    assert_int_equal(mt_pccs_percent_decode("a%00b", 5, &out, &n), MT_ERR_COLLATERAL_FORMAT);
    assert_int_equal(mt_pccs_percent_decode("a b", 3, &out, &n), MT_ERR_COLLATERAL_FORMAT);
    assert_int_equal(mt_pccs_percent_decode("a\x80", 2, &out, &n), MT_ERR_COLLATERAL_FORMAT);

    assert_int_equal(mt_pccs_percent_encode(pem, strlen(pem), &enc, &en), MT_OK);
    assert_null(strchr(enc, '+'));
    assert_null(strchr(enc, '\n'));
    assert_int_equal(strncmp(enc, "-----BEGIN%20CERTIFICATE-----%0AMIIB%2Ba%2Fb%3D", 47), 0);
    assert_int_equal(mt_pccs_percent_decode(enc, en, &out, &n), MT_OK);
    assert_string_equal(out, pem);
    mt_free(out);
    mt_free(enc);
}

static void
test_json_member_slicing(void **state)
{
    const char *v;
    size_t n;
    /* Braces, quotes and the member name inside strings must not confuse the scanner. */
    const char body[] = "{ \"note\" : \"}{\\\"tcbInfo\\\":{\" ,\n"
                        "  \"tcbInfo\" :\t{\"a\":\"x}\\\\\",\"b\":[{\"c\":\"]\"}], \"d\" : 1 } ,"
                        "\"signature\":\"00\", \"n\": -1.5e3, \"t\": true }";
    const char want[] = "{\"a\":\"x}\\\\\",\"b\":[{\"c\":\"]\"}], \"d\" : 1 }";

    (void)state;
    assert_int_equal(mt_pccs_json_member(body, strlen(body), "tcbInfo", &v, &n), MT_OK);
    assert_int_equal(n, strlen(want));
    assert_memory_equal(v, want, n);
    assert_int_equal(mt_pccs_json_member(body, strlen(body), "n", &v, &n), MT_OK);
    assert_int_equal(n, 6);
    assert_memory_equal(v, "-1.5e3", 6);
    assert_int_equal(mt_pccs_json_member(body, strlen(body), "t", &v, &n), MT_OK);
    assert_memory_equal(v, "true", 4);
    assert_int_equal(mt_pccs_json_member(body, strlen(body), "enclaveIdentity", &v, &n),
                     MT_ERR_JSON_FIELD);
    assert_int_equal(mt_pccs_json_member("{}", 2, "x", &v, &n), MT_ERR_JSON_FIELD);
    assert_int_equal(mt_pccs_json_member("[1]", 3, "x", &v, &n), MT_ERR_JSON);
    assert_int_equal(mt_pccs_json_member("{\"x\":{\"y\":1}", 12, "x", &v, &n), MT_ERR_JSON);
    assert_int_equal(mt_pccs_json_member("{\"x\":\"abc", 9, "x", &v, &n), MT_ERR_JSON);
    assert_int_equal(mt_pccs_json_member("{\"x\":1,\"x\":2}", 13, "x", &v, &n), MT_ERR_JSON);
}

static void
test_signed_doc(void **state)
{
    char sig[129], body[1024], *doc = NULL;
    size_t n;
    uint8_t s[64];
    const char member[] = "{\"id\":\"TD_QE\", \"x\":\"}\\u0041\"}";

    (void)state;
    memset(sig, 'a', 128);
    sig[128] = '\0';
    snprintf(body, sizeof(body), "{\"enclaveIdentity\":%s,\"signature\":\"%s\"}", member, sig);
    assert_int_equal(mt_pccs_signed_doc(body, strlen(body), "enclaveIdentity", &doc, &n, s), MT_OK);
    /* Escapes and spacing kept as transmitted. */
    assert_string_equal(doc, member);
    assert_int_equal(n, strlen(member));
    assert_int_equal(s[0], 0xaa);
    mt_free(doc);

    /* Signature must be exactly 128 hex digits. */
    snprintf(body, sizeof(body), "{\"enclaveIdentity\":%s,\"signature\":\"%.126s\"}", member, sig);
    assert_int_equal(mt_pccs_signed_doc(body, strlen(body), "enclaveIdentity", &doc, &n, s),
                     MT_ERR_COLLATERAL_FORMAT);
    snprintf(body, sizeof(body), "{\"enclaveIdentity\":%s,\"signature\":\"%.127sg\"}", member, sig);
    assert_int_equal(mt_pccs_signed_doc(body, strlen(body), "enclaveIdentity", &doc, &n, s),
                     MT_ERR_COLLATERAL_FORMAT);
    snprintf(body, sizeof(body), "{\"enclaveIdentity\":%s,\"signature\":7}", member);
    assert_int_equal(mt_pccs_signed_doc(body, strlen(body), "enclaveIdentity", &doc, &n, s),
                     MT_ERR_COLLATERAL_FORMAT);
    /* The member must be an object. */
    snprintf(body, sizeof(body), "{\"enclaveIdentity\":\"%s\",\"signature\":\"%s\"}", "x", sig);
    assert_int_equal(mt_pccs_signed_doc(body, strlen(body), "enclaveIdentity", &doc, &n, s),
                     MT_ERR_COLLATERAL_FORMAT);
    /* An escaped key parses to the member but cannot be sliced verbatim: refused. */
    snprintf(body, sizeof(body), "{\"enclave\\u0049dentity\":%s,\"signature\":\"%s\"}", member,
             sig);
    assert_int_equal(mt_pccs_signed_doc(body, strlen(body), "enclaveIdentity", &doc, &n, s),
                     MT_ERR_COLLATERAL_FORMAT);
    /* Duplicate keys are ambiguous. */
    snprintf(body, sizeof(body),
             "{\"enclaveIdentity\":%s,\"enclaveIdentity\":{},\"signature\":\"%s\"}", member, sig);
    assert_int_equal(mt_pccs_signed_doc(body, strlen(body), "enclaveIdentity", &doc, &n, s),
                     MT_ERR_COLLATERAL_FORMAT);
    assert_int_equal(mt_pccs_signed_doc("nope", 4, "enclaveIdentity", &doc, &n, s),
                     MT_ERR_COLLATERAL_FORMAT);
}

/*
 * A stand-in in a child process, so that the allocation-failure hook (process
 * state, not thread-safe) only ever affects the fetching side.  The child
 * serves until the parent closes *hold.
 */
static pid_t
server_process(const struct mt_collateral *c, char *url, size_t url_len, int *hold)
{
    struct mt_pcs_server *s = NULL;
    int up[2], down[2];
    ssize_t n;
    char ch;
    pid_t pid;

    assert_int_equal(pipe(up), 0);
    assert_int_equal(pipe(down), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(up[0]);
        close(down[1]);
        if (mt_pcs_server_start(&s) != MT_OK || mt_pcs_server_add(s, c) != MT_OK)
            _exit(1);
        n = (ssize_t)strlen(mt_pcs_server_url(s)) + 1;
        if (write(up[1], mt_pcs_server_url(s), (size_t)n) != n)
            _exit(1);
        close(up[1]);
        while (read(down[0], &ch, 1) > 0)
            ;
        mt_pcs_server_stop(s);
        _exit(0);
    }
    close(up[1]);
    close(down[0]);
    n = read(up[0], url, url_len - 1);
    assert_true(n > 1);
    url[n] = '\0';
    close(up[0]);
    *hold = down[1];
    return pid;
}

/* Every allocation failure point must fail cleanly (run under ASan to see leaks). */
static void
test_out_of_memory(void **state)
{
    struct mt_collateral *c = NULL;
    const char *urls[1];
    char url[64];
    unsigned long nth;
    int hold, status, failures = 0;
    pid_t pid;
    mt_err e = MT_ERR_NOMEM;

    (void)state;
    need_d2();
    pid = server_process(d2.col, url, sizeof(url), &hold);
    urls[0] = url;
    for (nth = 1; nth < 5000; nth++) {
        mt_alloc_fail_at(nth);
        e = fetch(urls, 1, &d2, &c, NULL, 0);
        mt_alloc_fail_at(0);
        if (e == MT_OK)
            break;
        assert_null(c);
        failures++;
    }
    assert_int_equal(e, MT_OK);
    /* The fetch allocates through mt_alloc at least for the chain, documents and CRLs. */
    assert_true(failures > 10);
    assert_same_collateral(c, &d2);
    mt_collateral_free(c);
    close(hold);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* Run the CLI; stdout goes to out_file.  Returns the exit status. */
static int
run_cli(char *const argv[], const char *out_file)
{
    posix_spawn_file_actions_t fa;
    pid_t pid;
    int status;

    assert_int_equal(posix_spawn_file_actions_init(&fa), 0);
    assert_int_equal(
        posix_spawn_file_actions_addopen(&fa, 1, out_file, O_WRONLY | O_CREAT | O_TRUNC, 0600), 0);
    assert_int_equal(posix_spawn(&pid, MT_CLI_PATH, &fa, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

/* The CLI's JSON equals the vector's collateral, plus the quote's PCK chain. */
static void
assert_cli_json(const char *path, const struct vec *v)
{
    uint8_t *text;
    size_t len, n = quote_pem_len(v);
    json_t *got, *want, *val;
    json_error_t jerr;
    const char *key;

    assert_int_equal(mt_file_read(path, MT_MAX_COLLATERAL_JSON, &text, &len), MT_OK);
    assert_int_equal(text[len - 1], '\n');
    got = json_loadb((const char *)text, len, JSON_REJECT_DUPLICATES, &jerr);
    assert_non_null(got);
    want = json_loadb(v->json, v->json_len, 0, &jerr);
    assert_non_null(want);
    json_object_foreach(want, key, val)
    {
        if (!json_equal(json_object_get(got, key), val))
            fail_msg("CLI output differs from the vector in '%s'", key);
    }
    assert_int_equal(json_object_size(got), json_object_size(want) + 1);
    val = json_object_get(got, "pck_certificate_chain");
    assert_true(json_is_string(val));
    assert_int_equal(json_string_length(val), n);
    assert_memory_equal(json_string_value(val), v->q.cert_data, n);
    json_decref(got);
    json_decref(want);
    mt_free(text);
}

static void
test_cli_fetch(void **state)
{
    struct mt_pcs_server *s, *bad;
    char dir[] = "/tmp/mt-pccs-cli-XXXXXX";
    char out[128], log[128], hexq[128], qpath[256], url[64], badurl[64];
    char *hex;
    FILE *f;
    int fd;

    (void)state;
    need_d2();
    s = server_with(d2.col, NULL);
    bad = server_with(d2.col, NULL);
    mt_pcs_server_set_fault(bad, MT_PCS_EP_ALL, MT_PCS_FAULT_STATUS, 500);
    snprintf(url, sizeof(url), "%s", mt_pcs_server_url(s));
    snprintf(badurl, sizeof(badurl), "%s", mt_pcs_server_url(bad));
    assert_non_null(mkdtemp(dir));
    snprintf(out, sizeof(out), "%s/collateral.json", dir);
    snprintf(log, sizeof(log), "%s/stdout", dir);
    snprintf(hexq, sizeof(hexq), "%s/quote.hex", dir);
    snprintf(qpath, sizeof(qpath), "%s", VEC_DIR "D2_tdx_quote.bin");

    {
        /* Binary quote, fallback URL, --out. */
        char *argv[] = {"mero-tee", "collateral", "fetch", qpath,       "--pccs", badurl, "--pccs",
                        url,        "--out",      out,     "--timeout", "10000",  NULL};

        assert_int_equal(run_cli(argv, log), 0);
        assert_cli_json(out, &d2);
    }
    {
        /* Hex quote with 0x and a newline, to stdout. */
        char *argv[] = {"mero-tee", "collateral", "fetch",   "--hex", hexq,
                        "--pccs",   url,          "--proxy", "",      NULL};

        hex = mt_hex_encode_alloc(d2.quote, d2.quote_len);
        assert_non_null(hex);
        fd = open(hexq, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        assert_true(fd >= 0);
        f = fdopen(fd, "w");
        assert_non_null(f);
        fprintf(f, "0x%s\n", hex);
        assert_int_equal(fclose(f), 0);
        mt_free(hex);
        assert_int_equal(run_cli(argv, log), 0);
        assert_cli_json(log, &d2);
    }
    {
        /* Fetch failure: exit 1, nothing written. */
        char *argv[] = {"mero-tee", "collateral", "fetch", qpath, "--pccs", badurl, NULL};

        assert_int_equal(run_cli(argv, log), 1);
    }
    {
        /* Usage errors: exit 2. */
        char *no_url[] = {"mero-tee", "collateral", "fetch", qpath, NULL};
        char *no_file[] = {"mero-tee", "collateral", "fetch", "/nonexistent/q",
                           "--pccs",   url,          NULL};
        char *bad_hex[] = {"mero-tee", "collateral", "fetch", qpath, "--hex", "--pccs", url, NULL};
        char *bad_timeout[] = {"mero-tee", "collateral", "fetch", qpath, "--pccs",
                               url,        "--timeout",  "soon",  NULL};
        char *no_sub[] = {"mero-tee", "collateral", NULL};

        assert_int_equal(run_cli(no_url, log), 2);
        assert_int_equal(run_cli(no_file, log), 2);
        assert_int_equal(run_cli(bad_hex, log), 2);
        assert_int_equal(run_cli(bad_timeout, log), 2);
        assert_int_equal(run_cli(no_sub, log), 2);
    }
    unlink(out);
    unlink(log);
    unlink(hexq);
    rmdir(dir);
    mt_pcs_server_stop(s);
    mt_pcs_server_stop(bad);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_percent_decode),
        cmocka_unit_test(test_json_member_slicing),
        cmocka_unit_test(test_signed_doc),
        cmocka_unit_test(test_fetch_tdx_d2),
        cmocka_unit_test(test_fetch_sgx_d1),
        cmocka_unit_test(test_fetch_both_from_one_server),
        cmocka_unit_test(test_fetch_wire_variants),
        cmocka_unit_test(test_fetch_base_with_api_suffix),
        cmocka_unit_test(test_fallback_after_500),
        cmocka_unit_test(test_all_urls_down),
        cmocka_unit_test(test_last_error_is_reported),
        cmocka_unit_test(test_unknown_fmspc_is_404),
        cmocka_unit_test(test_http_status_errors),
        cmocka_unit_test(test_too_large),
        cmocka_unit_test(test_collateral_format_errors),
        cmocka_unit_test(test_wrong_content),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_root_crl_from_cdp),
        cmocka_unit_test(test_out_of_memory),
        cmocka_unit_test(test_cli_fetch),
    };

    return cmocka_run_group_tests_name("pccs_fetch", tests, group_setup, group_teardown);
}
