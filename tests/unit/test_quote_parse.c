/*
 * mt_quote_parse (dcap-verify.md section 1) on synthetic quotes from the
 * test PKI and on byte buffers assembled here field by field: every header
 * check, the v5 body descriptor, the type-6 wrapper, every length field,
 * truncation at every length, size limits, mock quotes, and the JSON views
 * (mt_quote_to_json, mt_quote_measurements_json).
 */
#include "mt_testlib.h"

#include <stdlib.h>
#include <string.h>

#include "quote/quote.h"
#include "quote/quote_json.h"
#include "testpki/testpki.h"
#include "util/mt_alloc.h"
#include "util/mt_buf.h"
#include "util/mt_hex.h"
#include "util/mt_limits.h"

#define NOW ((int64_t)1752919200)
#define NKINDS 4

/* One synthetic quote per generator kind, made once for the whole file. */
struct sample {
    enum mt_testpki_kind kind;
    struct mt_testpki_params params;
    uint8_t *bytes;
    size_t len;
};

static struct mt_testpki *pki;
static struct sample samples[NKINDS];
static uint8_t att_key[64];

static int
setup(void **state)
{
    static const enum mt_testpki_kind kinds[NKINDS] = {MT_TESTPKI_TDX_V4, MT_TESTPKI_TDX_V5_TD10,
                                                       MT_TESTPKI_TDX_V5_TD15, MT_TESTPKI_SGX_V3};
    struct mt_testpki_params p;
    size_t i;

    (void)state;
    mt_testpki_params_default(&p, MT_TESTPKI_TDX_V4, NOW);
    if (mt_testpki_new(&p, &pki) != MT_OK || mt_testpki_att_key_raw(pki, att_key) != MT_OK)
        return -1;
    for (i = 0; i < NKINDS; i++) {
        samples[i].kind = kinds[i];
        mt_testpki_params_default(&samples[i].params, kinds[i], NOW);
        /* a TD 1.5 body with recognisable 1.5-only fields */
        memset(samples[i].params.quote.td.mr_service_td, 0x5E, 48);
        if (mt_testpki_quote(pki, &samples[i].params, &samples[i].bytes, &samples[i].len) != MT_OK)
            return -1;
    }
    return 0;
}

static int
teardown(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < NKINDS; i++)
        mt_free(samples[i].bytes);
    mt_testpki_free(pki);
    return 0;
}

static const struct sample *
sample(enum mt_testpki_kind kind)
{
    size_t i;

    for (i = 0; i < NKINDS; i++) {
        if (samples[i].kind == kind)
            return &samples[i];
    }
    fail_msg("no sample of kind %d", (int)kind);
    return NULL;
}

/*
 * Parse a private heap copy of exactly len bytes, so that any read past
 * the end is caught by ASan; on failure *q must be left untouched.
 */
static mt_err
parse_exact(const uint8_t *buf, size_t len, struct mt_quote *q)
{
    struct mt_quote before;
    uint8_t *copy = malloc(len == 0 ? 1 : len);
    mt_err e;

    assert_non_null(copy);
    if (len > 0)
        memcpy(copy, buf, len);
    memset(q, 0xA5, sizeof(*q));
    memcpy(&before, q, sizeof(before));
    e = mt_quote_parse(copy, len, q);
    if (e != MT_OK)
        assert_memory_equal(q, &before, sizeof(before));
    /* pointers into the copy would dangle: only report the error */
    free(copy);
    return e;
}

/* Parse without copying; the quote borrows buf. */
static mt_err
parse(const uint8_t *buf, size_t len, struct mt_quote *q)
{
    return mt_quote_parse(buf, len, q);
}

static void
put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void
put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t)v);
    put16(p + 2, (uint16_t)(v >> 16));
}

/* A private copy of a sample, to mutate. */
static uint8_t *
dup_sample(const struct sample *s)
{
    uint8_t *b = malloc(s->len);

    assert_non_null(b);
    memcpy(b, s->bytes, s->len);
    return b;
}

/* ---- assembling quotes field by field ---- */

/*
 * Every field of a quote, so a test can write any combination, including
 * inconsistent ones.  The *_delta fields are added to the true length when
 * the length field is written; *_extra bytes are appended inside that block.
 */
struct qspec {
    uint16_t version;
    uint16_t key_type;
    uint32_t tee_type;
    uint16_t qe_svn, pce_svn; /* informational (v3) or reserved */
    uint8_t vendor[16];
    uint8_t user_data[20];
    int descriptor; /* write the v5 body descriptor */
    uint16_t body_type;
    uint32_t body_size_field;
    const uint8_t *body; /* NULL: zeros */
    size_t body_len;
    uint8_t sig_and_key[128];
    int outer; /* write the type-6 wrapper (v4/v5) */
    uint16_t outer_type;
    int64_t outer_len_delta;
    size_t outer_extra;
    uint8_t qe_report[MT_SGX_REPORT_SIZE];
    uint8_t qe_sig[64];
    uint16_t auth_len;
    int64_t auth_len_delta;
    const uint8_t *auth; /* NULL: zeros */
    uint16_t cert_type;
    int64_t cert_len_delta;
    const uint8_t *cert; /* NULL: 'C' bytes */
    size_t cert_len;
    int64_t sig_len_delta;
    size_t sig_extra;
    size_t padding;
};

/* A well-formed hand-made quote of the given version (3, 4 or 5 with TD 1.0). */
static void
spec_handmade(struct qspec *s, uint16_t version)
{
    size_t i;

    memset(s, 0, sizeof(*s));
    s->version = version;
    s->key_type = 2;
    s->tee_type = version == 3 ? MT_TEE_SGX : MT_TEE_TDX;
    memcpy(s->vendor, mt_intel_qe_vendor_id, 16);
    for (i = 0; i < 20; i++)
        s->user_data[i] = (uint8_t)(0xD0 + i);
    s->descriptor = version == 5;
    s->body_type = 2;
    s->body_size_field = MT_TD10_REPORT_SIZE;
    s->body_len = version == 3 ? MT_SGX_REPORT_SIZE : MT_TD10_REPORT_SIZE;
    for (i = 0; i < sizeof(s->sig_and_key); i++)
        s->sig_and_key[i] = (uint8_t)i;
    s->outer = version != 3;
    s->outer_type = 6;
    s->qe_report[256] = 2; /* isv_prod_id */
    s->qe_report[258] = 7; /* isv_svn */
    memset(s->qe_sig, 0x51, 64);
    s->auth_len = 32;
    s->cert_type = 5;
    s->cert = (const uint8_t *)"\0\0\0";
    s->cert_len = 3;
}

/* The spec of a parsed quote: writing it back must give the same bytes. */
static void
spec_from_quote(struct qspec *s, const struct mt_quote *q)
{
    memset(s, 0, sizeof(*s));
    s->version = q->version;
    s->key_type = q->att_key_type;
    s->tee_type = q->tee_type;
    s->qe_svn = q->qe_svn;
    s->pce_svn = q->pce_svn;
    memcpy(s->vendor, q->qe_vendor_id, 16);
    memcpy(s->user_data, q->user_data, 20);
    s->descriptor = q->version == 5;
    s->body_type = q->body_type;
    s->body_size_field = q->body_size;
    s->body = q->body;
    s->body_len = q->body_size;
    memcpy(s->sig_and_key, q->quote_sig, 64);
    memcpy(s->sig_and_key + 64, q->att_key, 64);
    s->outer = q->version != 3;
    s->outer_type = q->outer_cert_type;
    memcpy(s->qe_report, q->qe_report_raw, MT_SGX_REPORT_SIZE);
    memcpy(s->qe_sig, q->qe_report_sig, 64);
    s->auth_len = q->qe_auth_data_len;
    s->auth = q->qe_auth_data;
    s->cert_type = q->cert_type;
    s->cert = q->cert_data;
    s->cert_len = q->cert_data_len;
    s->padding = q->trailing_len;
}

static void
add(struct mt_buf *b, const void *p, size_t n)
{
    EXPECT_OK(mt_buf_append(b, p, n));
}

static void
add_fill(struct mt_buf *b, const uint8_t *p, size_t n, uint8_t fill)
{
    uint8_t chunk[256];
    size_t k;

    if (p != NULL) {
        add(b, p, n);
        return;
    }
    memset(chunk, fill, sizeof(chunk));
    for (; n > 0; n -= k) {
        k = n < sizeof(chunk) ? n : sizeof(chunk);
        add(b, chunk, k);
    }
}

static void
add16(struct mt_buf *b, uint16_t v)
{
    uint8_t le[2];

    put16(le, v);
    add(b, le, 2);
}

static void
add32(struct mt_buf *b, uint32_t v)
{
    uint8_t le[4];

    put32(le, v);
    add(b, le, 4);
}

/* Write the quote a spec describes; *len gets its size.  Free with mt_free. */
static uint8_t *
build(const struct qspec *s, size_t *len)
{
    struct mt_buf q, sig, blk;
    uint8_t hdr[MT_QUOTE_HEADER_SIZE];
    uint8_t *out;

    mt_buf_init(&q, 4u * MT_MAX_QUOTE_SIZE);
    mt_buf_init(&sig, 4u * MT_MAX_QUOTE_SIZE);
    mt_buf_init(&blk, 4u * MT_MAX_QUOTE_SIZE);
    memset(hdr, 0, sizeof(hdr));
    put16(hdr, s->version);
    put16(hdr + 2, s->key_type);
    put32(hdr + 4, s->tee_type);
    put16(hdr + 8, s->qe_svn);
    put16(hdr + 10, s->pce_svn);
    memcpy(hdr + 12, s->vendor, 16);
    memcpy(hdr + 28, s->user_data, 20);
    add(&q, hdr, sizeof(hdr));
    if (s->descriptor) {
        add16(&q, s->body_type);
        add32(&q, s->body_size_field);
    }
    add_fill(&q, s->body, s->body_len, 0);

    /* QE report .. cert data: the v3 tail, or the content of the type-6 block */
    add(&blk, s->qe_report, sizeof(s->qe_report));
    add(&blk, s->qe_sig, sizeof(s->qe_sig));
    add16(&blk, (uint16_t)(s->auth_len + s->auth_len_delta));
    add_fill(&blk, s->auth, s->auth_len, 0);
    add16(&blk, s->cert_type);
    add32(&blk, (uint32_t)((int64_t)s->cert_len + s->cert_len_delta));
    add_fill(&blk, s->cert, s->cert_len, 'C');
    add_fill(&blk, NULL, s->outer_extra, 0xEE);

    add(&sig, s->sig_and_key, sizeof(s->sig_and_key));
    if (s->outer) {
        add16(&sig, s->outer_type);
        add32(&sig, (uint32_t)((int64_t)blk.len + s->outer_len_delta));
    }
    add(&sig, blk.p, blk.len);
    add_fill(&sig, NULL, s->sig_extra, 0xEF);

    add32(&q, (uint32_t)((int64_t)sig.len + s->sig_len_delta));
    add(&q, sig.p, sig.len);
    add_fill(&q, NULL, s->padding, 0);
    out = mt_buf_take(&q, len);
    mt_buf_free(&sig);
    mt_buf_free(&blk);
    return out;
}

/* Build a spec and parse it (an exact heap copy); returns the error. */
static mt_err
build_parse(const struct qspec *s)
{
    struct mt_quote q;
    size_t len;
    uint8_t *b = build(s, &len);
    mt_err e = parse_exact(b, len, &q);

    mt_free(b);
    return e;
}

/* ---- synthetic quotes ---- */

static void
test_synthetic_kinds(void **state)
{
    static const struct {
        enum mt_testpki_kind kind;
        uint16_t version, body_type;
        enum mt_body_kind body_kind;
        uint32_t body_size;
        size_t signed_len;
    } want[] = {
        {MT_TESTPKI_TDX_V4, 4, 0, MT_BODY_TD10, 584, 632},
        {MT_TESTPKI_TDX_V5_TD10, 5, 2, MT_BODY_TD10, 584, 638},
        {MT_TESTPKI_TDX_V5_TD15, 5, 3, MT_BODY_TD15, 648, 702},
        {MT_TESTPKI_SGX_V3, 3, 0, MT_BODY_SGX, 384, 432},
    };
    static const uint8_t zero[48];
    struct mt_quote q;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        const struct sample *s = sample(want[i].kind);
        const struct mt_testpki_quote_params *qp = &s->params.quote;
        int tdx = want[i].kind != MT_TESTPKI_SGX_V3;

        EXPECT_OK(parse(s->bytes, s->len, &q));
        assert_int_equal(q.kind, MT_QUOTE_DCAP);
        assert_int_equal(q.version, want[i].version);
        assert_int_equal(q.att_key_type, 2);
        assert_int_equal(q.tee_type, tdx ? MT_TEE_TDX : MT_TEE_SGX);
        assert_memory_equal(q.qe_vendor_id, mt_intel_qe_vendor_id, 16);
        assert_memory_equal(q.user_data, qp->qe_id, 16);
        assert_int_equal(q.body_kind, want[i].body_kind);
        assert_int_equal(q.body_type, want[i].body_type);
        assert_int_equal(q.body_size, want[i].body_size);
        assert_ptr_equal(q.signed_region, s->bytes);
        assert_int_equal(q.signed_len, want[i].signed_len);
        assert_ptr_equal(q.body, s->bytes + want[i].signed_len - want[i].body_size);
        /* the signature data runs to the very end: no padding by default */
        assert_int_equal(q.sig_data_len, s->len - want[i].signed_len - 4);
        assert_int_equal(q.trailing_len, 0);
        assert_ptr_equal(q.quote_sig, s->bytes + want[i].signed_len + 4);
        assert_memory_equal(q.att_key, att_key, 64);
        assert_int_equal(q.outer_cert_type, tdx ? 6 : 0);
        assert_int_equal(q.qe_auth_data_len, 32);
        assert_memory_equal(q.qe_auth_data, qp->qe_auth_data, 32);
        assert_int_equal(q.cert_type, 5);
        assert_true(q.cert_data_len > 1000);
        assert_memory_equal(q.cert_data, "-----BEGIN CERTIFICATE-----", 27);
        assert_int_equal(q.cert_data[q.cert_data_len - 1], '\0');
        assert_ptr_equal(q.cert_data + q.cert_data_len, s->bytes + s->len);
        assert_int_equal(q.qe_report.isv_svn, qp->qe.isv_svn);
        assert_int_equal(q.qe_report.isv_prod_id, qp->qe.isv_prod_id);
        assert_memory_equal(q.qe_report.mr_signer, qp->qe.mr_signer, 32);
        assert_memory_equal(q.qe_report.attributes, qp->qe.attributes, 16);
        if (tdx) {
            assert_memory_equal(q.td.tee_tcb_svn, qp->td.tee_tcb_svn, 16);
            assert_memory_equal(q.td.mr_seam, qp->td.mr_seam, 48);
            assert_memory_equal(q.td.td_attributes, qp->td.td_attributes, 8);
            assert_memory_equal(q.td.xfam, qp->td.xfam, 8);
            assert_memory_equal(q.td.mr_td, qp->td.mr_td, 48);
            assert_memory_equal(q.td.rt_mr[0], qp->td.rt_mr[0], 48);
            assert_memory_equal(q.td.rt_mr[2], qp->td.rt_mr[2], 48);
            assert_memory_equal(q.td.report_data, qp->td.report_data, 64);
            assert_ptr_equal(mt_quote_report_data(&q), q.td.report_data);
            if (want[i].body_kind == MT_BODY_TD15) {
                assert_memory_equal(q.td.tee_tcb_svn2, qp->td.tee_tcb_svn2, 16);
                assert_memory_equal(q.td.mr_service_td, qp->td.mr_service_td, 48);
            } else {
                /* 1.5-only fields stay zero for a 1.0 body */
                assert_memory_equal(q.td.mr_service_td, zero, 48);
                assert_memory_equal(q.td.tee_tcb_svn2, zero, 16);
            }
        } else {
            assert_memory_equal(q.sgx.cpu_svn, qp->sgx.cpu_svn, 16);
            assert_memory_equal(q.sgx.attributes, qp->sgx.attributes, 16);
            assert_memory_equal(q.sgx.mr_enclave, qp->sgx.mr_enclave, 32);
            assert_memory_equal(q.sgx.mr_signer, qp->sgx.mr_signer, 32);
            assert_memory_equal(q.sgx.report_data, "Hello, world!", 13);
            assert_ptr_equal(mt_quote_report_data(&q), q.sgx.report_data);
            /* v3 headers carry QE and PCE SVNs */
            assert_int_equal(q.qe_svn, qp->qe.isv_svn);
            assert_int_equal(q.pce_svn, s->params.pck.pce_svn);
        }
    }
    assert_string_equal(mt_body_kind_name(MT_BODY_SGX), "sgx");
    assert_string_equal(mt_body_kind_name(MT_BODY_TD10), "td10");
    assert_string_equal(mt_body_kind_name(MT_BODY_TD15), "td15");
    assert_string_equal(mt_body_kind_name((enum mt_body_kind)0), "unknown");
}

/* spec_from_quote + build reproduce the generator's bytes exactly: the builder is sound. */
static void
test_builder_round_trip(void **state)
{
    struct mt_quote q;
    struct qspec s;
    uint8_t *b;
    size_t i, len;

    (void)state;
    for (i = 0; i < NKINDS; i++) {
        EXPECT_OK(parse(samples[i].bytes, samples[i].len, &q));
        spec_from_quote(&s, &q);
        b = build(&s, &len);
        assert_int_equal(len, samples[i].len);
        assert_memory_equal(b, samples[i].bytes, len);
        mt_free(b);
    }
}

/* Hand-made quotes with arbitrary content parse: the parser checks structure only. */
static void
test_handmade(void **state)
{
    static const uint16_t versions[] = {3, 4, 5};
    struct mt_quote q;
    struct qspec s;
    uint8_t *b;
    size_t i, len;

    (void)state;
    for (i = 0; i < 3; i++) {
        spec_handmade(&s, versions[i]);
        b = build(&s, &len);
        EXPECT_OK(parse(b, len, &q));
        assert_int_equal(q.version, versions[i]);
        assert_memory_equal(q.user_data, s.user_data, 20);
        assert_int_equal(q.qe_report.isv_prod_id, 2);
        assert_int_equal(q.qe_report.isv_svn, 7);
        assert_memory_equal(q.quote_sig, s.sig_and_key, 64);
        assert_memory_equal(q.att_key, s.sig_and_key + 64, 64);
        assert_int_equal(q.cert_data_len, 3);
        assert_memory_equal(q.cert_data, "\0\0\0", 3);
        assert_int_equal(q.outer_cert_type, versions[i] == 3 ? 0 : 6);
        mt_free(b);
    }

    /* QE auth data of 0 bytes, and an inner cert type the verifier would refuse */
    spec_handmade(&s, 4);
    s.auth_len = 0;
    s.cert_type = 3;
    s.cert_len = 0;
    b = build(&s, &len);
    EXPECT_OK(parse(b, len, &q));
    assert_int_equal(q.qe_auth_data_len, 0);
    assert_int_equal(q.cert_type, 3);
    assert_int_equal(q.cert_data_len, 0);
    mt_free(b);
}

/* ---- header (dcap-verify.md 1.1, 2.3) ---- */

static mt_err
header_variant(enum mt_testpki_kind kind, uint16_t version, uint16_t key_type, uint32_t tee,
               int vendor_flip)
{
    const struct sample *s = sample(kind);
    uint8_t *b = dup_sample(s);
    struct mt_quote q;
    mt_err e;

    put16(b, version);
    put16(b + 2, key_type);
    put32(b + 4, tee);
    if (vendor_flip)
        b[12 + 15] ^= 0x01;
    e = parse_exact(b, s->len, &q);
    free(b);
    return e;
}

static void
test_header_checks(void **state)
{
    const enum mt_testpki_kind v4 = MT_TESTPKI_TDX_V4, v5 = MT_TESTPKI_TDX_V5_TD10,
                               v3 = MT_TESTPKI_SGX_V3;

    (void)state;
    EXPECT_OK(header_variant(v4, 4, 2, MT_TEE_TDX, 0));
    EXPECT_OK(header_variant(v5, 5, 2, MT_TEE_TDX, 0));
    EXPECT_OK(header_variant(v3, 3, 2, MT_TEE_SGX, 0));

    /* version outside 3..5 */
    EXPECT_ERR(header_variant(v4, 2, 2, MT_TEE_TDX, 0), MT_ERR_QUOTE_VERSION);
    EXPECT_ERR(header_variant(v4, 6, 2, MT_TEE_TDX, 0), MT_ERR_QUOTE_VERSION);
    EXPECT_ERR(header_variant(v4, 0, 2, MT_TEE_TDX, 0), MT_ERR_QUOTE_VERSION);
    EXPECT_ERR(header_variant(v4, 0xFFFF, 2, MT_TEE_TDX, 0), MT_ERR_QUOTE_VERSION);
    EXPECT_ERR(header_variant(v4, 0x0104, 2, MT_TEE_TDX, 0), MT_ERR_QUOTE_VERSION);

    /* QE vendor id */
    EXPECT_ERR(header_variant(v4, 4, 2, MT_TEE_TDX, 1), MT_ERR_QUOTE_VENDOR);
    EXPECT_ERR(header_variant(v3, 3, 2, MT_TEE_SGX, 1), MT_ERR_QUOTE_VENDOR);

    /* attestation key type: only 2 (ECDSA P-256) */
    EXPECT_ERR(header_variant(v4, 4, 3, MT_TEE_TDX, 0), MT_ERR_QUOTE_KEY_TYPE);
    EXPECT_ERR(header_variant(v5, 5, 3, MT_TEE_TDX, 0), MT_ERR_QUOTE_KEY_TYPE);
    EXPECT_ERR(header_variant(v3, 3, 3, MT_TEE_SGX, 0), MT_ERR_QUOTE_KEY_TYPE);
    EXPECT_ERR(header_variant(v4, 4, 0, MT_TEE_TDX, 0), MT_ERR_QUOTE_KEY_TYPE);
    EXPECT_ERR(header_variant(v4, 4, 0x0102, MT_TEE_TDX, 0), MT_ERR_QUOTE_KEY_TYPE);

    /* TEE type: unknown values, and SGX/TDX with the wrong version */
    EXPECT_ERR(header_variant(v4, 4, 2, 0x82, 0), MT_ERR_QUOTE_TEE_TYPE);
    EXPECT_ERR(header_variant(v4, 4, 2, 0x80, 0), MT_ERR_QUOTE_TEE_TYPE);
    EXPECT_ERR(header_variant(v4, 4, 2, 0x81000000u, 0), MT_ERR_QUOTE_TEE_TYPE);
    EXPECT_ERR(header_variant(v4, 4, 2, 0x00000181u, 0), MT_ERR_QUOTE_TEE_TYPE);
    EXPECT_ERR(header_variant(v4, 4, 2, MT_TEE_SGX, 0), MT_ERR_QUOTE_TEE_TYPE); /* SGX v4 */
    EXPECT_ERR(header_variant(v5, 5, 2, MT_TEE_SGX, 0), MT_ERR_QUOTE_TEE_TYPE); /* SGX v5 */
    EXPECT_ERR(header_variant(v4, 3, 2, MT_TEE_TDX, 0), MT_ERR_QUOTE_TEE_TYPE); /* TDX v3 */
    EXPECT_ERR(header_variant(v3, 3, 2, MT_TEE_TDX, 0), MT_ERR_QUOTE_TEE_TYPE);
    EXPECT_ERR(header_variant(v3, 4, 2, MT_TEE_SGX, 0), MT_ERR_QUOTE_TEE_TYPE);

    /* several faults: the first check in dcap-qvl's order names the error */
    EXPECT_ERR(header_variant(v4, 6, 3, 0x82, 1), MT_ERR_QUOTE_VERSION);
    EXPECT_ERR(header_variant(v4, 4, 3, 0x82, 1), MT_ERR_QUOTE_VENDOR);
    EXPECT_ERR(header_variant(v4, 4, 3, 0x82, 0), MT_ERR_QUOTE_TEE_TYPE);
    EXPECT_ERR(header_variant(v4, 4, 3, MT_TEE_SGX, 0), MT_ERR_QUOTE_TEE_TYPE);
}

/* The header fields the parser does not judge are free: reserved SVNs, user data. */
static void
test_header_free_fields(void **state)
{
    const struct sample *s = sample(MT_TESTPKI_TDX_V4);
    uint8_t *b = dup_sample(s);
    struct mt_quote q;

    (void)state;
    put16(b + 8, 0xBEEF);
    put16(b + 10, 0xCAFE);
    memset(b + 28, 0xFF, 20);
    EXPECT_OK(parse(b, s->len, &q));
    assert_int_equal(q.qe_svn, 0xBEEF);
    assert_int_equal(q.pce_svn, 0xCAFE);
    assert_int_equal(q.user_data[19], 0xFF);
    free(b);
}

/* ---- v5 body descriptor (1.2) ---- */

static mt_err
descriptor_variant(enum mt_testpki_kind kind, uint16_t type, uint32_t size)
{
    const struct sample *s = sample(kind);
    uint8_t *b = dup_sample(s);
    struct mt_quote q;
    mt_err e;

    put16(b + 48, type);
    put32(b + 50, size);
    e = parse_exact(b, s->len, &q);
    free(b);
    return e;
}

static void
test_v5_body_descriptor(void **state)
{
    const enum mt_testpki_kind td10 = MT_TESTPKI_TDX_V5_TD10, td15 = MT_TESTPKI_TDX_V5_TD15;
    struct qspec s;

    (void)state;
    EXPECT_OK(descriptor_variant(td10, 2, 584));
    EXPECT_OK(descriptor_variant(td15, 3, 648));

    /* type 1 (SGX in v5), 4 (TD 1.5 EX), 0 and others are refused */
    EXPECT_ERR(descriptor_variant(td10, 1, 384), MT_ERR_QUOTE_BODY_TYPE);
    EXPECT_ERR(descriptor_variant(td10, 1, 584), MT_ERR_QUOTE_BODY_TYPE);
    EXPECT_ERR(descriptor_variant(td10, 4, 885), MT_ERR_QUOTE_BODY_TYPE);
    EXPECT_ERR(descriptor_variant(td10, 0, 584), MT_ERR_QUOTE_BODY_TYPE);
    EXPECT_ERR(descriptor_variant(td10, 0xFFFF, 584), MT_ERR_QUOTE_BODY_TYPE);
    EXPECT_ERR(descriptor_variant(td10, 0x0102, 584), MT_ERR_QUOTE_BODY_TYPE);

    /* body_size must be exactly the size of the type */
    EXPECT_ERR(descriptor_variant(td10, 2, 583), MT_ERR_QUOTE_BODY_SIZE);
    EXPECT_ERR(descriptor_variant(td10, 2, 585), MT_ERR_QUOTE_BODY_SIZE);
    EXPECT_ERR(descriptor_variant(td10, 2, 648), MT_ERR_QUOTE_BODY_SIZE);
    EXPECT_ERR(descriptor_variant(td10, 2, 0), MT_ERR_QUOTE_BODY_SIZE);
    EXPECT_ERR(descriptor_variant(td10, 2, 0xFFFFFFFFu), MT_ERR_QUOTE_BODY_SIZE);
    EXPECT_ERR(descriptor_variant(td15, 3, 584), MT_ERR_QUOTE_BODY_SIZE);
    EXPECT_ERR(descriptor_variant(td15, 3, 647), MT_ERR_QUOTE_BODY_SIZE);
    EXPECT_ERR(descriptor_variant(td15, 3, 0x10000288u), MT_ERR_QUOTE_BODY_SIZE);

    /* a type check comes before the size check */
    EXPECT_ERR(descriptor_variant(td10, 1, 1), MT_ERR_QUOTE_BODY_TYPE);

    /* hand-made: a consistent v5 TD 1.5 descriptor with a 648-byte body parses */
    spec_handmade(&s, 5);
    s.body_type = 3;
    s.body_size_field = 648;
    s.body_len = 648;
    EXPECT_OK(build_parse(&s));
    s.body_len = 584; /* body shorter than its descriptor says */
    EXPECT_ERR(build_parse(&s), MT_ERR_QUOTE_DECODE);
}

/* ---- signature data (1.7, 1.8) ---- */

static void
test_outer_cert_type(void **state)
{
    static const uint16_t bad[] = {0, 1, 4, 5, 7, 0x0600, 0xFFFF};
    struct qspec s;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        spec_handmade(&s, 4);
        s.outer_type = bad[i];
        EXPECT_ERR(build_parse(&s), MT_ERR_QUOTE_CERT_TYPE);
        spec_handmade(&s, 5);
        s.outer_type = bad[i];
        EXPECT_ERR(build_parse(&s), MT_ERR_QUOTE_CERT_TYPE);
    }
    /* on a synthetic quote: bytes 128..130 of the signature data */
    {
        const struct sample *sm = sample(MT_TESTPKI_TDX_V4);
        uint8_t *b = dup_sample(sm);
        struct mt_quote q;

        put16(b + 632 + 4 + 128, 5);
        EXPECT_ERR(parse_exact(b, sm->len, &q), MT_ERR_QUOTE_CERT_TYPE);
        free(b);
    }
}

/* Every length field one too big, one too small, and absurd. */
static void
test_length_fields(void **state)
{
    static const uint16_t versions[] = {3, 4, 5};
    static const int64_t deltas[] = {1, -1, 0x7FFFFFFF, -3};
    /* cert sizes stay under MT_MAX_CERT_DATA: over it is test_cert_data_limit */
    static const int64_t cert_deltas[] = {1, -1, 1000, -3};
    struct qspec s;
    size_t i, k;

    (void)state;
    /*
     * Zero cert bytes: a field read one byte off then holds a small length,
     * so the error is the structural one, never the cert-size limit.
     */
    for (i = 0; i < 3; i++) {
        for (k = 0; k < sizeof(deltas) / sizeof(deltas[0]); k++) {
            /* sig_data_len larger than the bytes left, or smaller than its content */
            spec_handmade(&s, versions[i]);
            s.sig_len_delta = deltas[k];
            EXPECT_ERR(build_parse(&s), MT_ERR_QUOTE_DECODE);
            /* QE auth data size */
            spec_handmade(&s, versions[i]);
            s.auth_len_delta = deltas[k] > 0 ? 1 : -1;
            EXPECT_ERR(build_parse(&s), MT_ERR_QUOTE_DECODE);
            /* inner certification data size: larger than its block, or leaving bytes over */
            spec_handmade(&s, versions[i]);
            s.cert_len_delta = cert_deltas[k];
            EXPECT_ERR(build_parse(&s), MT_ERR_QUOTE_DECODE);
            if (versions[i] == 3)
                continue;
            /* outer (type 6) block size */
            spec_handmade(&s, versions[i]);
            s.outer_len_delta = deltas[k];
            EXPECT_ERR(build_parse(&s), MT_ERR_QUOTE_DECODE);
        }
        /* the largest values a field can hold */
        spec_handmade(&s, versions[i]);
        s.sig_len_delta = 0xFFFFFFFFll - 2000; /* written modulo 2^32: near UINT32_MAX */
        EXPECT_ERR(build_parse(&s), MT_ERR_QUOTE_DECODE);
        spec_handmade(&s, versions[i]);
        s.auth_len_delta = 0xFFFF - 32;
        EXPECT_ERR(build_parse(&s), MT_ERR_QUOTE_DECODE);
    }
}

/* Bytes inside a block beyond what its content declares are refused. */
static void
test_extra_bytes(void **state)
{
    struct qspec s;
    struct mt_quote q;
    uint8_t *b;
    size_t len;

    (void)state;
    /* the type-6 block carries one byte after the inner cert data */
    spec_handmade(&s, 4);
    s.outer_extra = 1;
    EXPECT_ERR(build_parse(&s), MT_ERR_QUOTE_DECODE);
    spec_handmade(&s, 5);
    s.outer_extra = 100;
    EXPECT_ERR(build_parse(&s), MT_ERR_QUOTE_DECODE);
    /* the signature data carries bytes after the type-6 block */
    spec_handmade(&s, 4);
    s.sig_extra = 1;
    EXPECT_ERR(build_parse(&s), MT_ERR_QUOTE_DECODE);
    /* v3: after the cert data, inside the signature data */
    spec_handmade(&s, 3);
    s.outer_extra = 1;
    EXPECT_ERR(build_parse(&s), MT_ERR_QUOTE_DECODE);
    spec_handmade(&s, 3);
    s.sig_extra = 7;
    EXPECT_ERR(build_parse(&s), MT_ERR_QUOTE_DECODE);

    /* whereas bytes after the signature data are padding, ignored (1.3) */
    spec_handmade(&s, 4);
    s.padding = 3065;
    b = build(&s, &len);
    EXPECT_OK(parse(b, len, &q));
    assert_int_equal(q.trailing_len, 3065);
    mt_free(b);
}

/* Trailing padding of any content is accepted and counted. */
static void
test_trailing_padding(void **state)
{
    static const char text[] = "some ASCII text after the quote";
    size_t i;

    (void)state;
    for (i = 0; i < NKINDS; i++) {
        const struct sample *s = &samples[i];
        uint8_t *b = malloc(s->len + sizeof(text));
        struct mt_quote q;

        assert_non_null(b);
        memcpy(b, s->bytes, s->len);
        memcpy(b + s->len, text, sizeof(text));
        EXPECT_OK(parse(b, s->len + sizeof(text), &q));
        assert_int_equal(q.trailing_len, sizeof(text));
        assert_int_equal(q.sig_data_len, s->len - q.signed_len - 4);
        EXPECT_OK(parse(b, s->len + 1, &q));
        assert_int_equal(q.trailing_len, 1);
        free(b);
    }
}

/*
 * Every prefix of every sample: never a crash (each prefix is an exact
 * heap copy, so ASan sees any over-read), never a success before the
 * signature data is complete, always MT_ERR_QUOTE_DECODE.  With padding,
 * every prefix from the end of the signature data on succeeds.
 */
static void
test_truncation_every_length(void **state)
{
    struct mt_quote q;
    size_t i, n, end, padded_len;
    uint8_t *padded;
    mt_err e;

    (void)state;
    for (i = 0; i < NKINDS; i++) {
        const struct sample *s = &samples[i];

        end = s->len; /* no padding: the signature data ends the quote */
        for (n = 0; n < end; n++) {
            e = parse_exact(s->bytes, n, &q);
            if (e != MT_ERR_QUOTE_DECODE)
                fail_msg("kind %d, %zu of %zu bytes: got %s, want quote_decode", (int)s->kind, n,
                         end, mt_err_code(e));
        }
        EXPECT_OK(parse_exact(s->bytes, end, &q));

        padded_len = end + 70;
        padded = calloc(1, padded_len);
        assert_non_null(padded);
        memcpy(padded, s->bytes, end);
        for (n = end; n <= padded_len; n++) {
            EXPECT_OK(parse(padded, n, &q));
            assert_int_equal(q.trailing_len, n - end);
        }
        free(padded);
    }
}

/* ---- limits ---- */

static void
test_quote_size_limit(void **state)
{
    const struct sample *s = sample(MT_TESTPKI_TDX_V4);
    uint8_t *b = calloc(1, MT_MAX_QUOTE_SIZE + 1);
    struct mt_quote q;

    (void)state;
    assert_non_null(b);
    memcpy(b, s->bytes, s->len);
    EXPECT_OK(parse(b, MT_MAX_QUOTE_SIZE, &q));
    assert_int_equal(q.trailing_len, MT_MAX_QUOTE_SIZE - s->len);
    EXPECT_ERR(parse_exact(b, MT_MAX_QUOTE_SIZE + 1, &q), MT_ERR_TOO_LARGE);
    EXPECT_ERR(parse(b, SIZE_MAX, &q), MT_ERR_TOO_LARGE); /* checked before any read */
    /* the limit applies to mock quotes too */
    memcpy(b, MT_MOCK_QUOTE_MAGIC, MT_MOCK_QUOTE_MAGIC_LEN);
    EXPECT_OK(parse(b, MT_MAX_QUOTE_SIZE, &q));
    EXPECT_ERR(parse_exact(b, MT_MAX_QUOTE_SIZE + 1, &q), MT_ERR_TOO_LARGE);
    free(b);
}

/*
 * Certification data up to MT_MAX_CERT_DATA is accepted; one byte more is
 * MT_ERR_TOO_LARGE (util/mt_limits.h), although the quote is within its own
 * limit and every byte is present.
 */
static void
test_cert_data_limit(void **state)
{
    static const uint16_t versions[] = {3, 4, 5};
    struct qspec s;
    struct mt_quote q;
    uint8_t *b;
    size_t i, len;

    (void)state;
    for (i = 0; i < 3; i++) {
        spec_handmade(&s, versions[i]);
        s.cert = NULL; /* 'C' bytes */
        s.cert_len = MT_MAX_CERT_DATA;
        b = build(&s, &len);
        EXPECT_OK(parse(b, len, &q));
        assert_int_equal(q.cert_data_len, MT_MAX_CERT_DATA);
        mt_free(b);

        s.cert_len = MT_MAX_CERT_DATA + 1;
        b = build(&s, &len);
        assert_true(len <= MT_MAX_QUOTE_SIZE);
        EXPECT_ERR(parse_exact(b, len, &q), MT_ERR_TOO_LARGE);
        mt_free(b);

        /* a declared size over the limit is refused before the bytes are looked for */
        spec_handmade(&s, versions[i]);
        s.cert_len_delta = 0x7FFFFFFF;
        EXPECT_ERR(build_parse(&s), MT_ERR_TOO_LARGE);
    }
}

/* ---- mock quotes (mero-tee-reference.md 1.11) ---- */

static void
test_mock(void **state)
{
    uint8_t b[MT_MOCK_QUOTE_SIZE];
    struct mt_quote q;
    size_t i;

    (void)state;
    memcpy(b, MT_MOCK_QUOTE_MAGIC, MT_MOCK_QUOTE_MAGIC_LEN);
    for (i = MT_MOCK_QUOTE_MAGIC_LEN; i < sizeof(b); i++)
        b[i] = (uint8_t)(i * 3);

    /* magic + 64 bytes exactly */
    assert_true(mt_quote_is_mock(b, 81));
    EXPECT_OK(parse_exact(b, 81, &q));
    EXPECT_OK(parse(b, 81, &q));
    assert_int_equal(q.kind, MT_QUOTE_MOCK);
    assert_int_equal(q.tee_type, MT_TEE_TDX);
    assert_int_equal(q.body_kind, MT_BODY_TD10);
    assert_int_equal(q.trailing_len, 0);
    assert_memory_equal(q.td.report_data, b + 17, 64);
    assert_ptr_equal(mt_quote_report_data(&q), q.td.report_data);

    /* the 256-byte form: the rest is trailing */
    EXPECT_OK(parse(b, sizeof(b), &q));
    assert_int_equal(q.trailing_len, MT_MOCK_QUOTE_SIZE - 81);
    assert_memory_equal(q.td.report_data, b + 17, 64);

    /* 80 bytes, down to the bare magic: too short */
    EXPECT_ERR(parse_exact(b, 80, &q), MT_ERR_QUOTE_MOCK_SHORT);
    EXPECT_ERR(parse_exact(b, 48, &q), MT_ERR_QUOTE_MOCK_SHORT);
    EXPECT_ERR(parse_exact(b, 17, &q), MT_ERR_QUOTE_MOCK_SHORT);
    /* 16 bytes are not the magic any more: a too-short DCAP quote */
    assert_false(mt_quote_is_mock(b, 16));
    EXPECT_ERR(parse_exact(b, 16, &q), MT_ERR_QUOTE_DECODE);
    assert_false(mt_quote_is_mock(b, 0));
    assert_false(mt_quote_is_mock(NULL, 0));

    /* a different magic is parsed as DCAP: "MO" as a version */
    b[16] = '2';
    assert_false(mt_quote_is_mock(b, sizeof(b)));
    EXPECT_ERR(parse_exact(b, sizeof(b), &q), MT_ERR_QUOTE_VERSION);
    b[16] = '1';
    b[0] = 'm'; /* the magic is case-sensitive */
    assert_false(mt_quote_is_mock(b, sizeof(b)));
    EXPECT_ERR(parse_exact(b, sizeof(b), &q), MT_ERR_QUOTE_VERSION);
}

/* Empty and NULL input. */
static void
test_empty(void **state)
{
    struct mt_quote q;

    (void)state;
    EXPECT_ERR(parse_exact(NULL, 0, &q), MT_ERR_QUOTE_DECODE);
    EXPECT_ERR(parse(NULL, 0, &q), MT_ERR_QUOTE_DECODE);
}

/* ---- JSON views ---- */

static const char *
jstr(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);

    if (!json_is_string(v))
        fail_msg("JSON member %s is missing or not a string", key);
    return json_string_value(v);
}

static json_int_t
jint(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);

    if (!json_is_integer(v))
        fail_msg("JSON member %s is missing or not an integer", key);
    return json_integer_value(v);
}

static void
expect_hex(const json_t *o, const char *key, const uint8_t *b, size_t n)
{
    char *h = mt_hex_encode_alloc(b, n);

    assert_non_null(h);
    assert_string_equal(jstr(o, key), h);
    mt_free(h);
}

static void
test_quote_to_json_td(void **state)
{
    static const char *const td_keys[] = {
        "teeTcbSvn", "mrSeam",     "mrSignerSeam", "seamAttributes", "tdAttributes", "xfam",
        "mrTd",      "mrConfigId", "mrOwner",      "mrOwnerConfig",  "rtMr0",        "rtMr1",
        "rtMr2",     "rtMr3",      "reportData",   "type",           "bodyType",     "size"};
    struct mt_quote q;
    json_t *j, *hdr, *body, *sig, *qe;
    size_t i, k;

    (void)state;
    for (i = 0; i < NKINDS; i++) {
        const struct sample *s = &samples[i];
        const struct mt_td_report *td = &s->params.quote.td;
        int td15 = s->kind == MT_TESTPKI_TDX_V5_TD15;

        if (s->kind == MT_TESTPKI_SGX_V3)
            continue;
        EXPECT_OK(parse(s->bytes, s->len, &q));
        j = mt_quote_to_json(&q);
        assert_non_null(j);
        assert_string_equal(jstr(j, "kind"), "dcap");
        assert_int_equal(jint(j, "signedLength"), q.signed_len);
        assert_int_equal(jint(j, "signatureDataLength"), q.sig_data_len);
        assert_int_equal(jint(j, "trailingBytes"), 0);

        hdr = json_object_get(j, "header");
        assert_int_equal(jint(hdr, "version"), q.version);
        assert_int_equal(jint(hdr, "attestationKeyType"), 2);
        assert_int_equal(jint(hdr, "teeType"), 129);
        assert_int_equal(jint(hdr, "qeSvn"), 0);
        assert_int_equal(jint(hdr, "pceSvn"), 0);
        assert_string_equal(jstr(hdr, "qeVendorId"), "939a7233f79c4ca9940a0db3957f0607");
        expect_hex(hdr, "userData", q.user_data, 20);
        assert_int_equal(json_object_size(hdr), 7);

        body = json_object_get(j, "body");
        for (k = 0; k < sizeof(td_keys) / sizeof(td_keys[0]); k++)
            if (json_object_get(body, td_keys[k]) == NULL)
                fail_msg("body lacks %s", td_keys[k]);
        assert_int_equal(json_object_size(body), 18 + (td15 ? 2 : 0));
        assert_string_equal(jstr(body, "type"), td15 ? "td15" : "td10");
        if (q.version == 5)
            assert_int_equal(jint(body, "bodyType"), td15 ? 3 : 2);
        else
            assert_true(json_is_null(json_object_get(body, "bodyType")));
        assert_int_equal(jint(body, "size"), td15 ? 648 : 584);
        expect_hex(body, "teeTcbSvn", td->tee_tcb_svn, 16);
        assert_string_equal(jstr(body, "teeTcbSvn"), "06010300000000000000000000000000");
        expect_hex(body, "mrSeam", td->mr_seam, 48);
        expect_hex(body, "tdAttributes", td->td_attributes, 8);
        assert_string_equal(jstr(body, "tdAttributes"), "0000001000000000");
        expect_hex(body, "xfam", td->xfam, 8);
        expect_hex(body, "mrTd", td->mr_td, 48);
        expect_hex(body, "rtMr0", td->rt_mr[0], 48);
        expect_hex(body, "rtMr1", td->rt_mr[1], 48);
        expect_hex(body, "rtMr2", td->rt_mr[2], 48);
        expect_hex(body, "rtMr3", td->rt_mr[3], 48);
        expect_hex(body, "reportData", td->report_data, 64);
        if (td15) {
            expect_hex(body, "teeTcbSvn2", td->tee_tcb_svn2, 16);
            expect_hex(body, "mrServiceTd", td->mr_service_td, 48);
        } else {
            assert_null(json_object_get(body, "mrServiceTd"));
            assert_null(json_object_get(body, "teeTcbSvn2"));
        }

        sig = json_object_get(j, "signature");
        expect_hex(sig, "quoteSignature", q.quote_sig, 64);
        expect_hex(sig, "attestationKey", att_key, 64);
        assert_int_equal(jint(sig, "outerCertType"), 6);
        assert_int_equal(jint(sig, "certType"), 5);
        assert_int_equal(jint(sig, "certDataLength"), q.cert_data_len);
        expect_hex(sig, "qeAuthData", q.qe_auth_data, 32);
        expect_hex(sig, "qeReportSignature", q.qe_report_sig, 64);
        qe = json_object_get(sig, "qeReport");
        assert_int_equal(jint(qe, "isvSvn"), 6);
        assert_int_equal(jint(qe, "isvProdId"), 2);
        assert_int_equal(jint(qe, "miscSelect"), 0);
        assert_int_equal(jint(qe, "configSvn"), 0);
        expect_hex(qe, "mrSigner", q.qe_report.mr_signer, 32);
        expect_hex(qe, "mrEnclave", q.qe_report.mr_enclave, 32);
        expect_hex(qe, "cpuSvn", q.qe_report.cpu_svn, 16);
        expect_hex(qe, "attributes", q.qe_report.attributes, 16);
        expect_hex(qe, "configId", q.qe_report.config_id, 64);
        expect_hex(qe, "reportData", q.qe_report.report_data, 64);
        assert_int_equal(json_object_size(qe), 10);
        json_decref(j);
    }
}

static void
test_quote_to_json_sgx_and_mock(void **state)
{
    const struct sample *s = sample(MT_TESTPKI_SGX_V3);
    uint8_t mock[100];
    struct mt_quote q;
    json_t *j, *body, *sig;

    (void)state;
    EXPECT_OK(parse(s->bytes, s->len, &q));
    j = mt_quote_to_json(&q);
    assert_non_null(j);
    body = json_object_get(j, "body");
    assert_string_equal(jstr(body, "type"), "sgx");
    assert_true(json_is_null(json_object_get(body, "bodyType")));
    assert_int_equal(jint(body, "size"), 384);
    expect_hex(body, "mrEnclave", s->params.quote.sgx.mr_enclave, 32);
    expect_hex(body, "mrSigner", s->params.quote.sgx.mr_signer, 32);
    expect_hex(body, "reportData", q.sgx.report_data, 64);
    assert_int_equal(jint(body, "isvProdId"), q.sgx.isv_prod_id);
    assert_null(json_object_get(body, "mrTd"));
    sig = json_object_get(j, "signature");
    assert_true(json_is_null(json_object_get(sig, "outerCertType")));
    assert_int_equal(jint(json_object_get(j, "header"), "version"), 3);
    assert_int_equal(jint(json_object_get(j, "header"), "teeType"), 0);
    json_decref(j);

    memset(mock, 0x11, sizeof(mock));
    memcpy(mock, MT_MOCK_QUOTE_MAGIC, MT_MOCK_QUOTE_MAGIC_LEN);
    mock[17] = 0xAB;
    EXPECT_OK(parse(mock, sizeof(mock), &q));
    j = mt_quote_to_json(&q);
    assert_non_null(j);
    assert_string_equal(jstr(j, "kind"), "mock");
    expect_hex(j, "reportData", mock + 17, 64);
    assert_int_equal(jint(j, "trailingBytes"), 100 - 81);
    assert_int_equal(json_object_size(j), 3);
    json_decref(j);
}

static void
test_measurements_json(void **state)
{
    const struct sample *td = sample(MT_TESTPKI_TDX_V5_TD15), *sgx = sample(MT_TESTPKI_SGX_V3);
    struct mt_quote q;
    json_t *j;

    (void)state;
    EXPECT_OK(parse(td->bytes, td->len, &q));
    j = mt_quote_measurements_json(&q);
    assert_non_null(j);
    assert_int_equal(json_object_size(j), 6);
    expect_hex(j, "mrTd", td->params.quote.td.mr_td, 48);
    expect_hex(j, "rtMr0", td->params.quote.td.rt_mr[0], 48);
    expect_hex(j, "rtMr1", td->params.quote.td.rt_mr[1], 48);
    expect_hex(j, "rtMr2", td->params.quote.td.rt_mr[2], 48);
    expect_hex(j, "rtMr3", td->params.quote.td.rt_mr[3], 48);
    expect_hex(j, "reportData", td->params.quote.td.report_data, 64);
    json_decref(j);

    EXPECT_OK(parse(sgx->bytes, sgx->len, &q));
    j = mt_quote_measurements_json(&q);
    assert_non_null(j);
    assert_int_equal(json_object_size(j), 3);
    expect_hex(j, "mrEnclave", sgx->params.quote.sgx.mr_enclave, 32);
    expect_hex(j, "mrSigner", sgx->params.quote.sgx.mr_signer, 32);
    expect_hex(j, "reportData", q.sgx.report_data, 64);
    json_decref(j);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_synthetic_kinds),
        cmocka_unit_test(test_builder_round_trip),
        cmocka_unit_test(test_handmade),
        cmocka_unit_test(test_header_checks),
        cmocka_unit_test(test_header_free_fields),
        cmocka_unit_test(test_v5_body_descriptor),
        cmocka_unit_test(test_outer_cert_type),
        cmocka_unit_test(test_length_fields),
        cmocka_unit_test(test_extra_bytes),
        cmocka_unit_test(test_trailing_padding),
        cmocka_unit_test(test_truncation_every_length),
        cmocka_unit_test(test_quote_size_limit),
        cmocka_unit_test(test_cert_data_limit),
        cmocka_unit_test(test_mock),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_quote_to_json_td),
        cmocka_unit_test(test_quote_to_json_sgx_and_mock),
        cmocka_unit_test(test_measurements_json),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
