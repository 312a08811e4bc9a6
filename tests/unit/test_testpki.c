/*
 * Self-tests of the synthetic PKI and quote generator (src/lib/testpki):
 * what it writes must be what Intel writes, checked with the quote parser,
 * OpenSSL's own chain/CRL verification and the document parsers, so the
 * negative cases in test_dcap_synthetic.c fail for the reason they claim.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "dcap/pck.h"
#include "dcap/tcb_docs.h"
#include "dcap/x509.h"
#include "mt_testlib.h"
#include "quote/quote.h"
#include "testpki/testpki.h"
#include "util/mt_alloc.h"
#include "util/mt_json.h"
#include "util/mt_limits.h"

/* 2025-07-19T10:00:00Z: any fixed time works; the defaults are relative to it. */
#define NOW ((int64_t)1752919200)

static int
starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static struct mt_testpki_bundle *
bundle(const struct mt_testpki_params *p)
{
    struct mt_testpki_bundle *b = NULL;

    EXPECT_OK(mt_testpki_bundle_new(p, &b));
    assert_non_null(b);
    return b;
}

/* ---- quotes ---- */

static void
check_quote_common(const struct mt_testpki_bundle *b, const struct mt_testpki_params *p,
                   const struct mt_quote *q)
{
    uint8_t att[64], digest[32];
    unsigned int dlen = 0;
    EVP_MD_CTX *ctx;
    EVP_PKEY *ak = NULL;
    STACK_OF(X509) *chain = NULL;

    assert_int_equal(q->kind, MT_QUOTE_DCAP);
    assert_int_equal(q->att_key_type, 2);
    assert_memory_equal(q->qe_vendor_id, mt_intel_qe_vendor_id, 16);
    assert_memory_equal(q->user_data, p->quote.qe_id, 16);
    assert_int_equal(q->cert_type, 5);
    assert_int_equal(q->qe_auth_data_len, 32);
    assert_memory_equal(q->qe_auth_data, p->quote.qe_auth_data, 32);
    assert_int_equal(q->qe_report.isv_svn, p->quote.qe.isv_svn);
    assert_int_equal(q->qe_report.isv_prod_id, p->quote.qe.isv_prod_id);
    assert_memory_equal(q->qe_report.mr_signer, p->quote.qe.mr_signer, 32);

    /* the attestation key is bound by the QE report (dcap-verify.md 2.8) */
    EXPECT_OK(mt_testpki_att_key_raw(b->pki, att));
    assert_memory_equal(q->att_key, att, 64);
    ctx = EVP_MD_CTX_new();
    assert_non_null(ctx);
    assert_int_equal(EVP_DigestInit_ex(ctx, EVP_sha256(), NULL), 1);
    assert_int_equal(EVP_DigestUpdate(ctx, att, 64), 1);
    assert_int_equal(EVP_DigestUpdate(ctx, q->qe_auth_data, q->qe_auth_data_len), 1);
    assert_int_equal(EVP_DigestFinal_ex(ctx, digest, &dlen), 1);
    EVP_MD_CTX_free(ctx);
    assert_memory_equal(q->qe_report.report_data, digest, 32);

    /* QE report signed by the PCK leaf, quote signed by the attestation key */
    EXPECT_OK(mt_ecdsa_verify_raw(b->pki->key[MT_TESTPKI_PCK_LEAF], q->qe_report_raw,
                                  MT_SGX_REPORT_SIZE, q->qe_report_sig,
                                  MT_ERR_QE_REPORT_SIGNATURE));
    EXPECT_OK(mt_p256_key_from_raw(q->att_key, &ak));
    EXPECT_OK(mt_ecdsa_verify_raw(ak, q->signed_region, q->signed_len, q->quote_sig,
                                  MT_ERR_QUOTE_SIGNATURE));
    EVP_PKEY_free(ak);

    /* type 5: leaf, CA, root as PEM with the trailing NUL of real quotes */
    assert_true(q->cert_data_len > 0);
    assert_int_equal(q->cert_data[q->cert_data_len - 1], 0);
    EXPECT_OK(mt_pem_chain_parse((const char *)q->cert_data, q->cert_data_len, &chain));
    assert_int_equal(sk_X509_num(chain), 3);
    assert_int_equal(X509_cmp(sk_X509_value(chain, 0), b->pki->cert[MT_TESTPKI_PCK_LEAF]), 0);
    assert_int_equal(X509_cmp(sk_X509_value(chain, 1), b->pki->cert[MT_TESTPKI_PCK_CA]), 0);
    assert_int_equal(X509_cmp(sk_X509_value(chain, 2), b->pki->cert[MT_TESTPKI_ROOT]), 0);
    sk_X509_pop_free(chain, X509_free);
}

static void
test_quote_tdx_v4(void **state)
{
    struct mt_testpki_params p;
    struct mt_testpki_bundle *b;
    struct mt_quote q;

    (void)state;
    mt_testpki_params_default(&p, MT_TESTPKI_TDX_V4, NOW);
    b = bundle(&p);
    EXPECT_OK(mt_quote_parse(b->quote, b->quote_len, &q));
    assert_int_equal(q.version, 4);
    assert_int_equal(q.tee_type, MT_TEE_TDX);
    assert_int_equal(q.body_kind, MT_BODY_TD10);
    assert_int_equal(q.signed_len, 632);
    assert_int_equal(q.outer_cert_type, 6);
    assert_memory_equal(q.td.tee_tcb_svn, p.quote.td.tee_tcb_svn, 16);
    assert_memory_equal(q.td.mr_td, p.quote.td.mr_td, 48);
    assert_memory_equal(q.td.rt_mr[2], p.quote.td.rt_mr[2], 48);
    assert_memory_equal(q.td.report_data, p.quote.td.report_data, 64);
    assert_memory_equal(q.td.td_attributes, "\0\0\0\x10\0\0\0\0", 8);
    assert_int_equal(q.trailing_len, 0);
    check_quote_common(b, &p, &q);
    mt_testpki_bundle_free(b);
}

/*
 * Like a real QE, the test PKI signs its QE report once: two quotes with
 * different report data carry the same QE report signature (a verifier may
 * cache that check); the quote signatures differ.  A different PKI signs
 * anew, and a broken QE report signature stays broken.
 */
static void
test_qe_report_signed_once(void **state)
{
    struct mt_testpki_params p;
    struct mt_testpki_bundle *a, *b;
    struct mt_quote qa, qb, q2p;
    uint8_t *q2;
    size_t q2_len;

    (void)state;
    mt_testpki_params_default(&p, MT_TESTPKI_TDX_V4, NOW);
    a = bundle(&p);
    p.quote.td.report_data[0] ^= 0xff;
    EXPECT_OK(mt_testpki_quote(a->pki, &p, &q2, &q2_len));
    EXPECT_OK(mt_quote_parse(a->quote, a->quote_len, &qa));
    EXPECT_OK(mt_quote_parse(q2, q2_len, &q2p));
    assert_memory_equal(qa.qe_report_raw, q2p.qe_report_raw, MT_SGX_REPORT_SIZE);
    assert_memory_equal(qa.qe_report_sig, q2p.qe_report_sig, 64);
    assert_memory_not_equal(qa.quote_sig, q2p.quote_sig, 64);
    b = bundle(&p); /* a fresh PKI: a new PCK key signs anew */
    EXPECT_OK(mt_quote_parse(b->quote, b->quote_len, &qb));
    assert_memory_not_equal(qa.qe_report_sig, qb.qe_report_sig, 64);
    mt_free(q2);
    mt_testpki_bundle_free(a);
    mt_testpki_bundle_free(b);
}

static void
test_quote_tdx_v5(void **state)
{
    struct mt_testpki_params p;
    struct mt_testpki_bundle *b;
    struct mt_quote q;

    (void)state;
    mt_testpki_params_default(&p, MT_TESTPKI_TDX_V5_TD15, NOW);
    p.quote.td.mr_service_td[47] = 0x5E;
    p.quote.trailing_padding = 70;
    b = bundle(&p);
    EXPECT_OK(mt_quote_parse(b->quote, b->quote_len, &q));
    assert_int_equal(q.version, 5);
    assert_int_equal(q.body_type, 3);
    assert_int_equal(q.body_size, MT_TD15_REPORT_SIZE);
    assert_int_equal(q.body_kind, MT_BODY_TD15);
    assert_int_equal(q.signed_len, 702);
    assert_int_equal(q.trailing_len, 70);
    assert_memory_equal(q.td.mr_service_td, p.quote.td.mr_service_td, 48);
    assert_memory_equal(q.td.tee_tcb_svn2, p.quote.td.tee_tcb_svn2, 16);
    check_quote_common(b, &p, &q);
    mt_testpki_bundle_free(b);

    mt_testpki_params_default(&p, MT_TESTPKI_TDX_V5_TD10, NOW);
    b = bundle(&p);
    EXPECT_OK(mt_quote_parse(b->quote, b->quote_len, &q));
    assert_int_equal(q.version, 5);
    assert_int_equal(q.body_type, 2);
    assert_int_equal(q.body_kind, MT_BODY_TD10);
    assert_int_equal(q.signed_len, 638);
    check_quote_common(b, &p, &q);
    mt_testpki_bundle_free(b);
}

static void
test_quote_sgx_v3(void **state)
{
    struct mt_testpki_params p;
    struct mt_testpki_bundle *b;
    struct mt_quote q;

    (void)state;
    mt_testpki_params_default(&p, MT_TESTPKI_SGX_V3, NOW);
    b = bundle(&p);
    EXPECT_OK(mt_quote_parse(b->quote, b->quote_len, &q));
    assert_int_equal(q.version, 3);
    assert_int_equal(q.tee_type, MT_TEE_SGX);
    assert_int_equal(q.body_kind, MT_BODY_SGX);
    assert_int_equal(q.signed_len, 432);
    assert_int_equal(q.qe_svn, p.quote.qe.isv_svn);
    assert_int_equal(q.pce_svn, p.pck.pce_svn);
    assert_memory_equal(q.sgx.report_data, "Hello, world!", 13);
    assert_memory_equal(q.sgx.attributes, p.quote.sgx.attributes, 16);
    check_quote_common(b, &p, &q);
    mt_testpki_bundle_free(b);
}

/* Each break bit spoils exactly the signature it names. */
static void
test_quote_breaks(void **state)
{
    struct mt_testpki_params p;
    struct mt_testpki_bundle *b;
    struct mt_quote q;
    EVP_PKEY *ak = NULL;

    (void)state;
    mt_testpki_params_default(&p, MT_TESTPKI_TDX_V4, NOW);
    p.broken = MT_TESTPKI_BREAK_QUOTE;
    b = bundle(&p);
    EXPECT_OK(mt_quote_parse(b->quote, b->quote_len, &q));
    EXPECT_OK(mt_p256_key_from_raw(q.att_key, &ak));
    EXPECT_ERR(
        mt_ecdsa_verify_raw(ak, q.signed_region, q.signed_len, q.quote_sig, MT_ERR_QUOTE_SIGNATURE),
        MT_ERR_QUOTE_SIGNATURE);
    EXPECT_OK(mt_ecdsa_verify_raw(b->pki->key[MT_TESTPKI_PCK_LEAF], q.qe_report_raw,
                                  MT_SGX_REPORT_SIZE, q.qe_report_sig, MT_ERR_QE_REPORT_SIGNATURE));
    EVP_PKEY_free(ak);
    mt_testpki_bundle_free(b);

    p.broken = MT_TESTPKI_BREAK_QE_REPORT;
    b = bundle(&p);
    EXPECT_OK(mt_quote_parse(b->quote, b->quote_len, &q));
    EXPECT_ERR(mt_ecdsa_verify_raw(b->pki->key[MT_TESTPKI_PCK_LEAF], q.qe_report_raw,
                                   MT_SGX_REPORT_SIZE, q.qe_report_sig, MT_ERR_QE_REPORT_SIGNATURE),
               MT_ERR_QE_REPORT_SIGNATURE);
    mt_testpki_bundle_free(b);

    /* a different auth data length still hashes what is present */
    p.broken = 0;
    p.quote.qe_auth_data_len = 16;
    b = bundle(&p);
    EXPECT_OK(mt_quote_parse(b->quote, b->quote_len, &q));
    assert_int_equal(q.qe_auth_data_len, 16);
    mt_testpki_bundle_free(b);
}

/* ---- certificates and CRLs, checked by OpenSSL itself ---- */

/* X509_verify_cert over leaf with both CRLs; returns the X509_V_* result. */
static int
openssl_verify(const struct mt_testpki *pki, const struct mt_collateral *col, int leaf_idx,
               int64_t now)
{
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    STACK_OF(X509) *untrusted = sk_X509_new_null();
    STACK_OF(X509_CRL) *crls = sk_X509_CRL_new_null();
    X509_CRL *root_crl = NULL, *pck_crl = NULL;
    int rc;

    assert_non_null(store);
    assert_non_null(ctx);
    assert_non_null(untrusted);
    assert_non_null(crls);
    EXPECT_OK(mt_crl_from_der(col->root_ca_crl, col->root_ca_crl_len, &root_crl));
    EXPECT_OK(mt_crl_from_der(col->pck_crl, col->pck_crl_len, &pck_crl));
    assert_true(sk_X509_CRL_push(crls, root_crl) > 0);
    assert_true(sk_X509_CRL_push(crls, pck_crl) > 0);
    assert_int_equal(X509_STORE_add_cert(store, pki->cert[MT_TESTPKI_ROOT]), 1);
    assert_true(sk_X509_push(untrusted, pki->cert[MT_TESTPKI_PCK_CA]) > 0);
    assert_int_equal(X509_STORE_CTX_init(ctx, store, pki->cert[leaf_idx], untrusted), 1);
    X509_STORE_CTX_set0_crls(ctx, crls);
    X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL |
                                      X509_V_FLAG_X509_STRICT);
    X509_STORE_CTX_set_time(ctx, 0, (time_t)now);
    rc = X509_verify_cert(ctx) == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
    X509_STORE_CTX_free(ctx);
    sk_X509_CRL_pop_free(crls, X509_CRL_free);
    sk_X509_free(untrusted);
    X509_STORE_free(store);
    return rc;
}

static int
verify_case(const struct mt_testpki_params *p, int leaf_idx)
{
    struct mt_testpki_bundle *b = bundle(p);
    int rc = openssl_verify(b->pki, b->col, leaf_idx, p->now);

    mt_testpki_bundle_free(b);
    return rc;
}

static void
test_chain_openssl(void **state)
{
    struct mt_testpki_params p;

    (void)state;
    mt_testpki_params_default(&p, MT_TESTPKI_TDX_V4, NOW);
    assert_int_equal(verify_case(&p, MT_TESTPKI_PCK_LEAF), X509_V_OK);
    assert_int_equal(verify_case(&p, MT_TESTPKI_TCB_SIGNER), X509_V_OK);

    EXPECT_OK(mt_testpki_crl_revoke(&p.crl[MT_TESTPKI_PCK_CRL], 99));
    EXPECT_OK(
        mt_testpki_crl_revoke(&p.crl[MT_TESTPKI_PCK_CRL], p.cert[MT_TESTPKI_PCK_LEAF].serial));
    assert_int_equal(verify_case(&p, MT_TESTPKI_PCK_LEAF), X509_V_ERR_CERT_REVOKED);

    mt_testpki_params_default(&p, MT_TESTPKI_SGX_V3, NOW);
    assert_int_equal(verify_case(&p, MT_TESTPKI_PCK_LEAF), X509_V_OK);
    EXPECT_OK(mt_testpki_crl_revoke(&p.crl[MT_TESTPKI_ROOT_CRL], p.cert[MT_TESTPKI_PCK_CA].serial));
    assert_int_equal(verify_case(&p, MT_TESTPKI_PCK_LEAF), X509_V_ERR_CERT_REVOKED);

    mt_testpki_params_default(&p, MT_TESTPKI_TDX_V4, NOW);
    p.crl[MT_TESTPKI_PCK_CRL].wrong_key = 1;
    assert_int_equal(verify_case(&p, MT_TESTPKI_PCK_LEAF), X509_V_ERR_CRL_SIGNATURE_FAILURE);

    mt_testpki_params_default(&p, MT_TESTPKI_TDX_V4, NOW);
    p.broken = MT_TESTPKI_BREAK_PCK_CRL;
    assert_int_equal(verify_case(&p, MT_TESTPKI_PCK_LEAF), X509_V_ERR_CRL_SIGNATURE_FAILURE);

    mt_testpki_params_default(&p, MT_TESTPKI_TDX_V4, NOW);
    p.crl[MT_TESTPKI_PCK_CRL].other_ca = 1;
    assert_int_equal(verify_case(&p, MT_TESTPKI_PCK_LEAF), X509_V_ERR_UNABLE_TO_GET_CRL);

    mt_testpki_params_default(&p, MT_TESTPKI_TDX_V4, NOW);
    p.crl[MT_TESTPKI_PCK_CRL].next_update = NOW - 1;
    assert_int_equal(verify_case(&p, MT_TESTPKI_PCK_LEAF), X509_V_ERR_CRL_HAS_EXPIRED);

    mt_testpki_params_default(&p, MT_TESTPKI_TDX_V4, NOW);
    p.broken = MT_TESTPKI_BREAK_PCK_LEAF;
    assert_int_equal(verify_case(&p, MT_TESTPKI_PCK_LEAF), X509_V_ERR_CERT_SIGNATURE_FAILURE);

    mt_testpki_params_default(&p, MT_TESTPKI_TDX_V4, NOW);
    p.broken = MT_TESTPKI_BREAK_TCB_SIGNER;
    assert_int_equal(verify_case(&p, MT_TESTPKI_TCB_SIGNER), X509_V_ERR_CERT_SIGNATURE_FAILURE);

    mt_testpki_params_default(&p, MT_TESTPKI_TDX_V4, NOW);
    p.cert[MT_TESTPKI_PCK_LEAF].not_after = NOW - 1;
    assert_int_equal(verify_case(&p, MT_TESTPKI_PCK_LEAF), X509_V_ERR_CERT_HAS_EXPIRED);
}

static void
test_cert_fields(void **state)
{
    struct mt_testpki_params p;
    struct mt_testpki *pki = NULL;
    char cn[64], org[64];

    (void)state;
    mt_testpki_params_default(&p, MT_TESTPKI_TDX_V4, NOW);
    EXPECT_OK(mt_testpki_new(&p, &pki));
    assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(pki->cert[MT_TESTPKI_ROOT]),
                                          NID_commonName, cn, sizeof(cn)) > 0);
    assert_string_equal(cn, "Intel SGX Root CA");
    assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(pki->cert[MT_TESTPKI_ROOT]),
                                          NID_organizationName, org, sizeof(org)) > 0);
    assert_non_null(strstr(org, "test"));
    assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(pki->cert[MT_TESTPKI_PCK_CA]),
                                          NID_commonName, cn, sizeof(cn)) > 0);
    assert_string_equal(cn, "Intel SGX PCK Platform CA");
    assert_int_equal(X509_check_ca(pki->cert[MT_TESTPKI_ROOT]), 1);
    assert_int_equal(X509_check_ca(pki->cert[MT_TESTPKI_PCK_CA]), 1);
    assert_int_equal(X509_check_ca(pki->cert[MT_TESTPKI_PCK_LEAF]), 0);
    assert_int_equal(X509_check_ca(pki->cert[MT_TESTPKI_TCB_SIGNER]), 0);
    assert_int_equal(X509_get_pathlen(pki->cert[MT_TESTPKI_ROOT]), 1);
    assert_int_equal(X509_get_pathlen(pki->cert[MT_TESTPKI_PCK_CA]), 0);
    assert_int_equal(X509_check_issued(pki->cert[MT_TESTPKI_ROOT], pki->cert[MT_TESTPKI_ROOT]),
                     X509_V_OK);
    mt_testpki_free(pki);
    pki = NULL;

    /* the CA-as-leaf knobs */
    p.cert[MT_TESTPKI_PCK_LEAF].ca = 1;
    p.cert[MT_TESTPKI_TCB_SIGNER].ca = 1;
    p.ca_type = MT_PCK_CA_PROCESSOR;
    EXPECT_OK(mt_testpki_new(&p, &pki));
    assert_int_equal(X509_check_ca(pki->cert[MT_TESTPKI_PCK_LEAF]), 1);
    assert_int_equal(X509_check_ca(pki->cert[MT_TESTPKI_TCB_SIGNER]), 1);
    assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(pki->cert[MT_TESTPKI_PCK_CA]),
                                          NID_commonName, cn, sizeof(cn)) > 0);
    assert_string_equal(cn, "Intel SGX PCK Processor CA");
    mt_testpki_free(pki);
}

/* The SGX extension reads back through the verifier's own parser. */
static void
test_sgx_extension(void **state)
{
    static const uint8_t svn255[] = {0x02, 0x02, 0x00, 0xFF};
    struct mt_testpki_params p;
    struct mt_testpki *pki = NULL;
    struct mt_pck_info info;
    uint8_t *der = NULL;
    size_t len = 0, i;
    int found = 0;

    (void)state;
    mt_testpki_params_default(&p, MT_TESTPKI_SGX_V3, NOW);
    EXPECT_OK(mt_testpki_sgx_ext_der(&p.pck, MT_PCK_CA_PROCESSOR, &der, &len));
    assert_true(len > 16 && der[0] == 0x30);
    for (i = 0; i + sizeof(svn255) <= len; i++)
        found |= memcmp(der + i, svn255, sizeof(svn255)) == 0;
    assert_true(found); /* comp05 = 255 needs the leading zero octet */
    mt_free(der);

    EXPECT_OK(mt_testpki_new(&p, &pki));
    memset(&info, 0, sizeof(info));
    EXPECT_OK(mt_pck_info_parse(pki->cert[MT_TESTPKI_PCK_LEAF], &info));
    assert_memory_equal(info.ppid, p.pck.ppid, 16);
    assert_memory_equal(info.cpu_svn, p.pck.cpu_svn, 16);
    assert_memory_equal(info.tcb_comp, p.pck.cpu_svn, 16);
    assert_int_equal(info.pce_svn, p.pck.pce_svn);
    assert_memory_equal(info.fmspc, p.pck.fmspc, 6);
    assert_memory_equal(info.pce_id, p.pck.pce_id, 2);
    assert_int_equal(info.sgx_type, 0);
    assert_int_equal(info.ca, MT_PCK_CA_PROCESSOR);
    mt_testpki_free(pki);
    pki = NULL;

    /* Platform CA leaves carry PlatformInstanceID and Configuration too */
    mt_testpki_params_default(&p, MT_TESTPKI_TDX_V4, NOW);
    p.pck.pce_svn = 0x1234;
    EXPECT_OK(mt_testpki_new(&p, &pki));
    EXPECT_OK(mt_pck_info_parse(pki->cert[MT_TESTPKI_PCK_LEAF], &info));
    assert_int_equal(info.pce_svn, 0x1234);
    assert_int_equal(info.sgx_type, 1);
    assert_int_equal(info.ca, MT_PCK_CA_PLATFORM);
    mt_testpki_free(pki);
}

/* ---- documents ---- */

static void
test_docs(void **state)
{
    struct mt_testpki_params p;
    struct mt_testpki_bundle *b;
    struct mt_tcb_info *ti = NULL;
    struct mt_qe_identity *qi = NULL;
    json_t *j = NULL;
    STACK_OF(X509) *chain = NULL;

    (void)state;
    mt_testpki_params_default(&p, MT_TESTPKI_TDX_V4, NOW);
    EXPECT_OK(mt_testpki_advisories_add(&p.tcb_info.levels[0].adv, "INTEL-SA-00615"));
    b = bundle(&p);

    /* compact JSON in Intel's member order */
    assert_true(starts_with(b->col->tcb_info, "{\"id\":\"TDX\",\"version\":3,\"issueDate\":"));
    assert_null(strstr(b->col->tcb_info, ": "));
    assert_null(strstr(b->col->tcb_info, ", "));
    assert_non_null(strstr(
        b->col->tcb_info, "{\"svn\":2,\"category\":\"BIOS\",\"type\":\"Early Microcode Update\"}"));
    assert_non_null(strstr(b->col->tcb_info, "\"fmspc\":\"B0C06F000000\""));
    assert_non_null(strstr(b->col->tcb_info, "\"id\":\"TDX_01\""));
    assert_true(starts_with(b->col->qe_identity, "{\"id\":\"TD_QE\",\"version\":2,"));
    assert_int_equal(strlen(b->col->tcb_info), b->col->tcb_info_len);
    EXPECT_OK(mt_json_parse(b->col->tcb_info, b->col->tcb_info_len, MT_MAX_SIGNED_JSON, &j));
    json_decref(j);
    j = NULL;

    EXPECT_OK(mt_tcb_info_parse(b->col->tcb_info, b->col->tcb_info_len, &ti));
    assert_string_equal(ti->id, "TDX");
    assert_int_equal(ti->version, 3);
    assert_int_equal(ti->issue_date, p.tcb_info.issue_date);
    assert_int_equal(ti->next_update, p.tcb_info.next_update);
    assert_memory_equal(ti->fmspc, p.pck.fmspc, 6);
    assert_int_equal(ti->num_levels, 2);
    assert_int_equal(ti->num_modules, 2);
    assert_true(ti->has_module);
    assert_int_equal(ti->levels[0].pcesvn, 11);
    assert_int_equal(ti->levels[0].num_sgx, 16);
    assert_int_equal(ti->levels[0].num_tdx, 16);
    assert_int_equal(ti->levels[0].result.num_advisories, 1);
    assert_string_equal(ti->levels[0].result.advisories[0], "INTEL-SA-00615");
    mt_tcb_info_free(ti);

    EXPECT_OK(mt_qe_identity_parse(b->col->qe_identity, b->col->qe_identity_len, &qi));
    assert_string_equal(qi->id, "TD_QE");
    assert_int_equal(qi->isvprodid, 2);
    assert_int_equal(qi->miscselect_mask, 0xFFFFFFFFu);
    assert_memory_equal(qi->mrsigner, p.qe_identity.mrsigner, 32);
    assert_int_equal(qi->num_levels, 2);
    assert_int_equal(qi->levels[0].isvsvn, 4);
    mt_qe_identity_free(qi);

    /* signed over the exact text by the TCB signer, whose chain is in the collateral */
    EXPECT_OK(mt_ecdsa_verify_raw(b->pki->key[MT_TESTPKI_TCB_SIGNER],
                                  (const uint8_t *)b->col->tcb_info, b->col->tcb_info_len,
                                  b->col->tcb_info_signature, MT_ERR_TCB_INFO_SIGNATURE));
    EXPECT_OK(mt_ecdsa_verify_raw(b->pki->key[MT_TESTPKI_TCB_SIGNER],
                                  (const uint8_t *)b->col->qe_identity, b->col->qe_identity_len,
                                  b->col->qe_identity_signature, MT_ERR_QE_IDENTITY_SIGNATURE));
    EXPECT_OK(mt_pem_chain_parse(b->col->tcb_info_issuer_chain,
                                 strlen(b->col->tcb_info_issuer_chain), &chain));
    assert_int_equal(sk_X509_num(chain), 2);
    sk_X509_pop_free(chain, X509_free);
    assert_null(b->col->pck_certificate_chain);
    mt_testpki_bundle_free(b);

    /* SGX documents have no TDX parts; broken signatures do not verify */
    mt_testpki_params_default(&p, MT_TESTPKI_SGX_V3, NOW);
    p.broken = MT_TESTPKI_BREAK_TCB_INFO | MT_TESTPKI_BREAK_QE_IDENTITY;
    p.collateral_pck_chain = 1;
    b = bundle(&p);
    assert_null(strstr(b->col->tcb_info, "tdx"));
    assert_true(starts_with(b->col->tcb_info, "{\"id\":\"SGX\",\"version\":3,"));
    assert_true(starts_with(b->col->qe_identity, "{\"id\":\"QE\","));
    EXPECT_ERR(mt_ecdsa_verify_raw(b->pki->key[MT_TESTPKI_TCB_SIGNER],
                                   (const uint8_t *)b->col->tcb_info, b->col->tcb_info_len,
                                   b->col->tcb_info_signature, MT_ERR_TCB_INFO_SIGNATURE),
               MT_ERR_TCB_INFO_SIGNATURE);
    EXPECT_ERR(mt_ecdsa_verify_raw(b->pki->key[MT_TESTPKI_TCB_SIGNER],
                                   (const uint8_t *)b->col->qe_identity, b->col->qe_identity_len,
                                   b->col->qe_identity_signature, MT_ERR_QE_IDENTITY_SIGNATURE),
               MT_ERR_QE_IDENTITY_SIGNATURE);
    assert_non_null(b->col->pck_certificate_chain);
    mt_testpki_bundle_free(b);
}

/* The collateral survives the JSON round trip the CLI and services use. */
static void
test_collateral_json(void **state)
{
    struct mt_testpki_params p;
    struct mt_testpki_bundle *b;
    struct mt_collateral *c = NULL;
    char *json = NULL;

    (void)state;
    mt_testpki_params_default(&p, MT_TESTPKI_TDX_V5_TD15, NOW);
    b = bundle(&p);
    EXPECT_OK(mt_collateral_to_json(b->col, &json));
    EXPECT_OK(mt_collateral_parse(json, strlen(json), &c));
    assert_int_equal(c->tcb_info_len, b->col->tcb_info_len);
    assert_memory_equal(c->tcb_info, b->col->tcb_info, c->tcb_info_len);
    assert_int_equal(c->pck_crl_len, b->col->pck_crl_len);
    assert_memory_equal(c->pck_crl, b->col->pck_crl, c->pck_crl_len);
    assert_memory_equal(c->qe_identity_signature, b->col->qe_identity_signature, 64);
    mt_collateral_free(c);
    mt_free(json);
    mt_testpki_bundle_free(b);
}

/* ---- persistence ---- */

static void
test_save_load(void **state)
{
    char dir[] = "/tmp/testpki-XXXXXX";
    char path[256];
    struct mt_testpki_params p;
    struct mt_testpki *pki = NULL, *back = NULL;
    const uint8_t *a, *bd;
    uint8_t *quote = NULL;
    size_t alen, blen, qlen = 0;
    struct mt_quote q;
    struct stat st;
    static const char *const files[] = {"root.key",       "root.crt",       "pck_ca.key",
                                        "pck_ca.crt",     "pck_leaf.key",   "pck_leaf.crt",
                                        "tcb_signer.key", "tcb_signer.crt", "att.key"};
    size_t i;

    (void)state;
    assert_non_null(mkdtemp(dir));
    mt_testpki_params_default(&p, MT_TESTPKI_SGX_V3, NOW);
    EXPECT_OK(mt_testpki_new(&p, &pki));
    EXPECT_OK(mt_testpki_save(pki, dir));
    snprintf(path, sizeof(path), "%s/pck_leaf.key", dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    /* saving again over existing files keeps the key private */
    EXPECT_OK(mt_testpki_save(pki, dir));

    EXPECT_OK(mt_testpki_load(dir, &back));
    assert_int_equal(back->ca_type, MT_PCK_CA_PROCESSOR);
    a = mt_testpki_root_der(pki, &alen);
    bd = mt_testpki_root_der(back, &blen);
    assert_int_equal(alen, blen);
    assert_memory_equal(a, bd, alen);
    assert_int_equal(EVP_PKEY_eq(pki->att_key, back->att_key), 1);
    assert_int_equal(EVP_PKEY_eq(pki->key[MT_TESTPKI_PCK_LEAF], back->key[MT_TESTPKI_PCK_LEAF]), 1);

    /* a loaded PKI signs quotes, and can be re-issued with new dates */
    EXPECT_OK(mt_testpki_quote(back, &p, &quote, &qlen));
    EXPECT_OK(mt_quote_parse(quote, qlen, &q));
    EXPECT_OK(mt_ecdsa_verify_raw(pki->key[MT_TESTPKI_PCK_LEAF], q.qe_report_raw,
                                  MT_SGX_REPORT_SIZE, q.qe_report_sig, MT_ERR_QE_REPORT_SIGNATURE));
    mt_free(quote);
    p.cert[MT_TESTPKI_PCK_LEAF].not_after = NOW + 1000;
    EXPECT_OK(mt_testpki_issue(back, &p));
    assert_int_equal(X509_cmp_time(X509_get0_notAfter(back->cert[MT_TESTPKI_PCK_LEAF]),
                                   &(time_t){(time_t)(NOW + 1001)}),
                     -1);

    /* a missing file is an I/O error, not a crash */
    snprintf(path, sizeof(path), "%s/att.key", dir);
    assert_int_equal(unlink(path), 0);
    mt_testpki_free(back);
    back = NULL;
    assert_int_not_equal(mt_testpki_load(dir, &back), MT_OK);
    assert_null(back);

    for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
        (void)unlink(path);
    }
    assert_int_equal(rmdir(dir), 0);
    mt_testpki_free(pki);
}

/* ---- params helpers and allocation failure ---- */

static void
test_params_helpers(void **state)
{
    struct mt_testpki_params p;
    struct mt_testpki_advisories adv;
    size_t i;

    (void)state;
    mt_testpki_params_default(&p, MT_TESTPKI_TDX_V4, NOW);
    mt_testpki_td_attr_set(&p, 0, 1);
    mt_testpki_td_attr_set(&p, 63, 1);
    mt_testpki_td_attr_set(&p, 28, 0);
    assert_memory_equal(p.quote.td.td_attributes, "\x01\0\0\0\0\0\0\x80", 8);
    mt_testpki_td_attr_set(&p, 64, 1); /* out of range: ignored */
    for (i = 0; i < MT_TESTPKI_MAX_REVOKED; i++)
        EXPECT_OK(mt_testpki_crl_revoke(&p.crl[MT_TESTPKI_ROOT_CRL], i));
    EXPECT_ERR(mt_testpki_crl_revoke(&p.crl[MT_TESTPKI_ROOT_CRL], 1), MT_ERR_TOO_LARGE);
    memset(&adv, 0, sizeof(adv));
    for (i = 0; i < MT_TESTPKI_MAX_ADVISORIES; i++)
        EXPECT_OK(mt_testpki_advisories_add(&adv, "INTEL-SA-00001"));
    EXPECT_ERR(mt_testpki_advisories_add(&adv, "INTEL-SA-00002"), MT_ERR_TOO_LARGE);
    /* a revoked list of 8 still makes a valid CRL */
    mt_testpki_bundle_free(bundle(&p));
}

/*
 * Fail each allocation in turn: every path must report MT_ERR_NOMEM (or
 * an OpenSSL failure) and leak nothing under ASan.
 */
static void
test_alloc_failures(void **state)
{
    struct mt_testpki_params p;
    struct mt_testpki_bundle *b;
    unsigned long n;
    mt_err e;

    (void)state;
    mt_testpki_params_default(&p, MT_TESTPKI_TDX_V4, NOW);
    for (n = 1; n < 10000; n++) {
        b = NULL;
        mt_alloc_fail_at(n);
        e = mt_testpki_bundle_new(&p, &b);
        mt_alloc_fail_at(0);
        if (e == MT_OK) {
            mt_testpki_bundle_free(b);
            break;
        }
        assert_null(b);
        assert_true(e == MT_ERR_NOMEM || e == MT_ERR_CRYPTO || e == MT_ERR_JSON);
    }
    assert_true(n > 1 && n < 10000);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quote_tdx_v4),   cmocka_unit_test(test_qe_report_signed_once),
        cmocka_unit_test(test_quote_tdx_v5),   cmocka_unit_test(test_quote_sgx_v3),
        cmocka_unit_test(test_quote_breaks),   cmocka_unit_test(test_chain_openssl),
        cmocka_unit_test(test_cert_fields),    cmocka_unit_test(test_sgx_extension),
        cmocka_unit_test(test_docs),           cmocka_unit_test(test_collateral_json),
        cmocka_unit_test(test_save_load),      cmocka_unit_test(test_params_helpers),
        cmocka_unit_test(test_alloc_failures),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
