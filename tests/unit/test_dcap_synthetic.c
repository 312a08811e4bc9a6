/*
 * Verification cases that real data cannot produce (dcap-verify.md 4.6),
 * built with the synthetic PKI: each case starts from a quote that verifies
 * UpToDate, changes one or two things, and asserts the exact mt_err that
 * mt_verify_quote returns.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "dcap/dcap.h"
#include "mt_testlib.h"
#include "testpki/testpki.h"
#include "testpki_fixture.h"

/* 2025-07-19T10:00:00Z; every default date is relative to it. */
#define NOW ((int64_t)1752919200)

struct vcase {
    const char *name;
    enum mt_testpki_kind kind;
    void (*mutate)(struct mt_testpki_params *p);
    mt_err want;
};

static void
run_vcase(void **state)
{
    const struct vcase *c = *state;
    struct mt_testpki_params p;
    struct mt_verdict v;
    mt_err got;

    mt_testpki_params_default(&p, c->kind, NOW);
    if (c->mutate != NULL)
        c->mutate(&p);
    got = testpki_verify(&p, NULL, &v);
    if (got != c->want)
        fail_msg("%s: got %s (%s), want %s", c->name, mt_err_code(got), v.detail,
                 mt_err_code(c->want));
}

static void
revoke(struct mt_testpki_params *p, enum mt_testpki_crl crl, uint64_t serial)
{
    assert_int_equal(mt_testpki_crl_revoke(&p->crl[crl], serial), MT_OK);
}

/* ---- mutations: one per case ---- */

static void
m_pck_leaf_revoked(struct mt_testpki_params *p)
{
    revoke(p, MT_TESTPKI_PCK_CRL, 0x1234);
    revoke(p, MT_TESTPKI_PCK_CRL, p->cert[MT_TESTPKI_PCK_LEAF].serial);
}

static void
m_pck_ca_revoked(struct mt_testpki_params *p)
{
    revoke(p, MT_TESTPKI_ROOT_CRL, p->cert[MT_TESTPKI_PCK_CA].serial);
}

static void
m_tcb_signer_revoked(struct mt_testpki_params *p)
{
    revoke(p, MT_TESTPKI_ROOT_CRL, p->cert[MT_TESTPKI_TCB_SIGNER].serial);
}

static void
m_root_revoked(struct mt_testpki_params *p)
{
    revoke(p, MT_TESTPKI_ROOT_CRL, p->cert[MT_TESTPKI_ROOT].serial);
}

static void
m_root_crl_wrong_key(struct mt_testpki_params *p)
{
    p->crl[MT_TESTPKI_ROOT_CRL].wrong_key = 1;
}

static void
m_root_crl_broken(struct mt_testpki_params *p)
{
    p->broken = MT_TESTPKI_BREAK_ROOT_CRL;
}

static void
m_root_crl_expired(struct mt_testpki_params *p)
{
    p->crl[MT_TESTPKI_ROOT_CRL].next_update = p->now - 1;
}

static void
m_pck_crl_wrong_key(struct mt_testpki_params *p)
{
    p->crl[MT_TESTPKI_PCK_CRL].wrong_key = 1;
}

static void
m_pck_crl_broken(struct mt_testpki_params *p)
{
    p->broken = MT_TESTPKI_BREAK_PCK_CRL;
}

static void
m_pck_crl_expired(struct mt_testpki_params *p)
{
    p->crl[MT_TESTPKI_PCK_CRL].next_update = p->now - 1;
}

static void
m_pck_crl_other_ca(struct mt_testpki_params *p)
{
    p->crl[MT_TESTPKI_PCK_CRL].other_ca = 1;
}

static void
m_platform_level_revoked(struct mt_testpki_params *p)
{
    p->tcb_info.levels[0].status = MT_TCB_REVOKED;
}

static void
m_qe_level_revoked(struct mt_testpki_params *p)
{
    p->qe_identity.levels[0].status = MT_TCB_REVOKED;
}

static void
m_td_debug(struct mt_testpki_params *p)
{
    mt_testpki_td_attr_set(p, 0, 1);
}

static void
m_td_bit1(struct mt_testpki_params *p)
{
    mt_testpki_td_attr_set(p, 1, 1);
}

static void
m_td_bit8(struct mt_testpki_params *p)
{
    mt_testpki_td_attr_set(p, 8, 1);
}

static void
m_td_bit29(struct mt_testpki_params *p)
{
    mt_testpki_td_attr_set(p, 29, 1);
}

static void
m_td_bit32(struct mt_testpki_params *p)
{
    mt_testpki_td_attr_set(p, 32, 1);
}

static void
m_td_pks_kl_perfmon(struct mt_testpki_params *p)
{
    mt_testpki_td_attr_set(p, 30, 1);
    mt_testpki_td_attr_set(p, 31, 1);
    mt_testpki_td_attr_set(p, 63, 1);
}

static void
m_sept_ve_clear(struct mt_testpki_params *p)
{
    mt_testpki_td_attr_set(p, 28, 0);
}

static void
m_mr_service_td(struct mt_testpki_params *p)
{
    p->quote.td.mr_service_td[0] = 0x01;
}

static void
m_sgx_debug(struct mt_testpki_params *p)
{
    p->quote.sgx.attributes[0] |= 0x02;
}

static void
m_qe_isvsvn_low(struct mt_testpki_params *p)
{
    p->quote.qe.isv_svn = 1; /* levels start at 4 and 2 */
}

static void
m_qe_mrsigner(struct mt_testpki_params *p)
{
    p->quote.qe.mr_signer[31] ^= 0x01;
}

static void
m_qe_isvprodid(struct mt_testpki_params *p)
{
    p->quote.qe.isv_prod_id = 7;
}

static void
m_qe_miscselect(struct mt_testpki_params *p)
{
    p->quote.qe.misc_select = 0x1;
}

static void
m_qe_attributes(struct mt_testpki_params *p)
{
    p->quote.qe.attributes[0] |= 0x20; /* inside the FB mask, not the debug bit */
}

static void
m_qe_debug(struct mt_testpki_params *p)
{
    p->quote.qe.attributes[0] |= 0x02;
}

static void
m_qe_auth_len(struct mt_testpki_params *p)
{
    p->quote.qe_auth_data_len = 16;
}

static void
m_module_isvsvn_low(struct mt_testpki_params *p)
{
    p->quote.td.tee_tcb_svn[0] = 1; /* TDX_01 levels: 4, 2 */
}

static void
m_no_module_identity(struct mt_testpki_params *p)
{
    p->quote.td.tee_tcb_svn[1] = 2; /* no TDX_02 in the TCB Info */
}

static void
m_tcb_signer_ca(struct mt_testpki_params *p)
{
    p->cert[MT_TESTPKI_TCB_SIGNER].ca = 1;
}

static void
m_pck_leaf_ca(struct mt_testpki_params *p)
{
    p->cert[MT_TESTPKI_PCK_LEAF].ca = 1;
}

static void
m_tcb_info_expired(struct mt_testpki_params *p)
{
    p->tcb_info.next_update = p->now - 1;
}

static void
m_tcb_info_future(struct mt_testpki_params *p)
{
    p->tcb_info.issue_date = p->now + 1;
}

static void
m_qe_identity_expired(struct mt_testpki_params *p)
{
    p->qe_identity.next_update = p->now - 1;
}

static void
m_qe_identity_future(struct mt_testpki_params *p)
{
    p->qe_identity.issue_date = p->now + 1;
}

static void
m_fmspc(struct mt_testpki_params *p)
{
    p->tcb_info.fmspc[5] ^= 0x01;
}

static void
m_pce_id(struct mt_testpki_params *p)
{
    p->tcb_info.pce_id[1] = 0x01;
}

static void
m_tcb_info_sgx_for_tdx(struct mt_testpki_params *p)
{
    p->tcb_info.id = "SGX";
}

static void
m_tcb_info_tdx_for_sgx(struct mt_testpki_params *p)
{
    p->tcb_info.id = "TDX";
}

static void
m_qe_identity_qe_for_tdx(struct mt_testpki_params *p)
{
    p->qe_identity.id = "QE";
}

static void
m_qe_identity_tdqe_for_sgx(struct mt_testpki_params *p)
{
    p->qe_identity.id = "TD_QE";
}

static void
m_platform_below_levels(struct mt_testpki_params *p)
{
    p->pck.cpu_svn[0] = 1; /* both levels want 2 */
}

static void
m_pcesvn_below_levels(struct mt_testpki_params *p)
{
    p->pck.pce_svn = 4; /* levels want 11 and 5 */
}

static void
m_sgx_15_components(struct mt_testpki_params *p)
{
    p->tcb_info.num_levels = 1;
    p->tcb_info.levels[0].num_sgx = 15;
}

static void
m_tdx_15_components(struct mt_testpki_params *p)
{
    p->tcb_info.num_levels = 1;
    p->tcb_info.levels[0].num_tdx = 15;
}

static void
m_break_quote(struct mt_testpki_params *p)
{
    p->broken = MT_TESTPKI_BREAK_QUOTE;
}

static void
m_break_qe_report(struct mt_testpki_params *p)
{
    p->broken = MT_TESTPKI_BREAK_QE_REPORT;
}

static void
m_break_qe_hash(struct mt_testpki_params *p)
{
    p->broken = MT_TESTPKI_BREAK_QE_HASH;
}

static void
m_break_tcb_info(struct mt_testpki_params *p)
{
    p->broken = MT_TESTPKI_BREAK_TCB_INFO;
}

static void
m_break_qe_identity(struct mt_testpki_params *p)
{
    p->broken = MT_TESTPKI_BREAK_QE_IDENTITY;
}

static void
m_break_pck_leaf(struct mt_testpki_params *p)
{
    p->broken = MT_TESTPKI_BREAK_PCK_LEAF;
}

static void
m_break_pck_ca(struct mt_testpki_params *p)
{
    p->broken = MT_TESTPKI_BREAK_PCK_CA;
}

static void
m_break_tcb_signer(struct mt_testpki_params *p)
{
    p->broken = MT_TESTPKI_BREAK_TCB_SIGNER;
}

static void
m_pck_leaf_expired(struct mt_testpki_params *p)
{
    p->cert[MT_TESTPKI_PCK_LEAF].not_after = p->now - 1;
}

static void
m_pck_leaf_not_yet_valid(struct mt_testpki_params *p)
{
    p->cert[MT_TESTPKI_PCK_LEAF].not_before = p->now + 1;
}

static void
m_pck_chain_in_collateral(struct mt_testpki_params *p)
{
    p->collateral_pck_chain = 1;
}

static void
m_padding(struct mt_testpki_params *p)
{
    p->quote.trailing_padding = 3065; /* as the larger real v4 sample */
}

static void
m_pem_without_nul(struct mt_testpki_params *p)
{
    p->quote.pem_trailing_nul = 0; /* as the GCP / dcap-rs samples */
}

/* now == nextUpdate is still valid (N14) */
static void
m_at_next_update(struct mt_testpki_params *p)
{
    p->crl[MT_TESTPKI_PCK_CRL].next_update = p->now;
    p->tcb_info.next_update = p->now;
    p->qe_identity.next_update = p->now;
}

static void
m_sgx_platform_revoked(struct mt_testpki_params *p)
{
    p->tcb_info.levels[0].status = MT_TCB_REVOKED;
}

#define OK_TDX(n, m)                                                                               \
    {                                                                                              \
        n, MT_TESTPKI_TDX_V4, m, MT_OK                                                             \
    }
#define TDX(n, m, e)                                                                               \
    {                                                                                              \
        n, MT_TESTPKI_TDX_V4, m, e                                                                 \
    }
#define TD15(n, m, e)                                                                              \
    {                                                                                              \
        n, MT_TESTPKI_TDX_V5_TD15, m, e                                                            \
    }
#define SGX(n, m, e)                                                                               \
    {                                                                                              \
        n, MT_TESTPKI_SGX_V3, m, e                                                                 \
    }

static const struct vcase cases[] = {
    /* valid quotes */
    {"valid_tdx_v4", MT_TESTPKI_TDX_V4, NULL, MT_OK},
    {"valid_tdx_v5_td15", MT_TESTPKI_TDX_V5_TD15, NULL, MT_OK},
    {"valid_tdx_v5_td10", MT_TESTPKI_TDX_V5_TD10, NULL, MT_OK},
    {"valid_sgx_v3", MT_TESTPKI_SGX_V3, NULL, MT_OK},
    OK_TDX("valid_pck_chain_in_collateral", m_pck_chain_in_collateral),
    OK_TDX("valid_trailing_padding", m_padding),
    OK_TDX("valid_pem_without_nul", m_pem_without_nul),
    OK_TDX("valid_now_at_next_update", m_at_next_update),
    OK_TDX("valid_td_pks_kl_perfmon", m_td_pks_kl_perfmon),

    /* revocation and CRLs (2.2) */
    TDX("pck_leaf_revoked", m_pck_leaf_revoked, MT_ERR_CERT_REVOKED),
    SGX("sgx_pck_leaf_revoked", m_pck_leaf_revoked, MT_ERR_CERT_REVOKED),
    TDX("pck_ca_revoked", m_pck_ca_revoked, MT_ERR_CERT_REVOKED),
    TDX("root_revoked", m_root_revoked, MT_ERR_ROOT_CRL),
    TDX("root_crl_wrong_key", m_root_crl_wrong_key, MT_ERR_ROOT_CRL),
    TDX("root_crl_signature", m_root_crl_broken, MT_ERR_ROOT_CRL),
    TDX("root_crl_expired", m_root_crl_expired, MT_ERR_ROOT_CRL),
    TDX("pck_crl_wrong_key", m_pck_crl_wrong_key, MT_ERR_PCK_CRL_SIGNATURE),
    TDX("pck_crl_signature", m_pck_crl_broken, MT_ERR_PCK_CRL_SIGNATURE),
    TDX("pck_crl_expired", m_pck_crl_expired, MT_ERR_PCK_CRL_EXPIRED),
    TDX("pck_crl_other_ca", m_pck_crl_other_ca, MT_ERR_PCK_CRL_NOT_AUTHORITATIVE),
    SGX("sgx_pck_crl_other_ca", m_pck_crl_other_ca, MT_ERR_PCK_CRL_NOT_AUTHORITATIVE),

    /* TCB status */
    TDX("platform_level_revoked", m_platform_level_revoked, MT_ERR_TCB_REVOKED),
    SGX("sgx_platform_level_revoked", m_sgx_platform_revoked, MT_ERR_TCB_REVOKED),
    TDX("qe_level_revoked", m_qe_level_revoked, MT_ERR_TCB_REVOKED),

    /* report attribute policy (1.6, 2.12) */
    TDX("td_debug", m_td_debug, MT_ERR_DEBUG_ENABLED),
    TDX("td_reserved_bit1", m_td_bit1, MT_ERR_TD_RESERVED_BITS),
    TDX("td_reserved_bit8", m_td_bit8, MT_ERR_TD_RESERVED_BITS),
    TDX("td_reserved_bit29", m_td_bit29, MT_ERR_TD_RESERVED_BITS),
    TDX("td_reserved_bit32", m_td_bit32, MT_ERR_TD_RESERVED_BITS),
    TD15("td15_reserved_bit32", m_td_bit32, MT_ERR_TD_RESERVED_BITS),
    TDX("td_sept_ve_disable_clear", m_sept_ve_clear, MT_ERR_SEPT_VE_DISABLE),
    TD15("td15_mr_service_td", m_mr_service_td, MT_ERR_MR_SERVICE_TD),
    SGX("sgx_enclave_debug", m_sgx_debug, MT_ERR_DEBUG_ENABLED),

    /* QE identity (2.9) */
    TDX("qe_isvsvn_below_levels", m_qe_isvsvn_low, MT_ERR_QE_ISVSVN),
    TDX("qe_mrsigner", m_qe_mrsigner, MT_ERR_QE_MRSIGNER),
    TDX("qe_isvprodid", m_qe_isvprodid, MT_ERR_QE_ISVPRODID),
    TDX("qe_miscselect", m_qe_miscselect, MT_ERR_QE_MISCSELECT),
    TDX("qe_attributes", m_qe_attributes, MT_ERR_QE_ATTRIBUTES),
    TDX("qe_debug", m_qe_debug, MT_ERR_QE_DEBUG),
    SGX("sgx_qe_debug", m_qe_debug, MT_ERR_QE_DEBUG),
    TDX("qe_auth_data_len", m_qe_auth_len, MT_ERR_QUOTE_QE_AUTH_LEN),

    /* TDX module identity (2.11 step 4) */
    TDX("module_isvsvn_below_levels", m_module_isvsvn_low, MT_ERR_TDX_MODULE_ISVSVN),
    TDX("module_identity_missing", m_no_module_identity, MT_ERR_TDX_MODULE),

    /* certificates */
    TDX("tcb_signer_is_ca", m_tcb_signer_ca, MT_ERR_CA_AS_LEAF),
    TDX("pck_leaf_is_ca", m_pck_leaf_ca, MT_ERR_CA_AS_LEAF),
    TDX("pck_leaf_expired", m_pck_leaf_expired, MT_ERR_CERT_EXPIRED),
    TDX("pck_leaf_not_yet_valid", m_pck_leaf_not_yet_valid, MT_ERR_CERT_EXPIRED),

    /* document validity windows */
    TDX("tcb_info_expired", m_tcb_info_expired, MT_ERR_TCB_INFO_EXPIRED),
    TDX("tcb_info_issue_date_future", m_tcb_info_future, MT_ERR_TCB_INFO_NOT_YET_VALID),
    TDX("qe_identity_expired", m_qe_identity_expired, MT_ERR_QE_IDENTITY_EXPIRED),
    TDX("qe_identity_issue_date_future", m_qe_identity_future, MT_ERR_QE_IDENTITY_NOT_YET_VALID),

    /* platform TCB (2.11) */
    TDX("fmspc_mismatch", m_fmspc, MT_ERR_FMSPC_MISMATCH),
    SGX("sgx_fmspc_mismatch", m_fmspc, MT_ERR_FMSPC_MISMATCH),
    TDX("pce_id_mismatch", m_pce_id, MT_ERR_PCEID_MISMATCH),
    TDX("tcb_info_sgx_for_tdx", m_tcb_info_sgx_for_tdx, MT_ERR_TCB_INFO_TYPE),
    SGX("tcb_info_tdx_for_sgx", m_tcb_info_tdx_for_sgx, MT_ERR_TCB_INFO_TYPE),
    TDX("qe_identity_qe_for_tdx", m_qe_identity_qe_for_tdx, MT_ERR_QE_IDENTITY_TYPE),
    SGX("qe_identity_td_qe_for_sgx", m_qe_identity_tdqe_for_sgx, MT_ERR_QE_IDENTITY_TYPE),
    TDX("platform_svn_below_levels", m_platform_below_levels, MT_ERR_NO_TCB_LEVEL),
    SGX("sgx_platform_svn_below_levels", m_platform_below_levels, MT_ERR_NO_TCB_LEVEL),
    TDX("pcesvn_below_levels", m_pcesvn_below_levels, MT_ERR_NO_TCB_LEVEL),
    TDX("sgx_15_components", m_sgx_15_components, MT_ERR_SGX_COMPONENTS),
    TDX("tdx_15_components", m_tdx_15_components, MT_ERR_TDX_COMPONENTS),

    /* signatures */
    TDX("quote_signature", m_break_quote, MT_ERR_QUOTE_SIGNATURE),
    SGX("sgx_quote_signature", m_break_quote, MT_ERR_QUOTE_SIGNATURE),
    TDX("qe_report_signature", m_break_qe_report, MT_ERR_QE_REPORT_SIGNATURE),
    TDX("qe_report_hash", m_break_qe_hash, MT_ERR_QE_REPORT_HASH),
    TDX("tcb_info_signature", m_break_tcb_info, MT_ERR_TCB_INFO_SIGNATURE),
    TDX("qe_identity_signature", m_break_qe_identity, MT_ERR_QE_IDENTITY_SIGNATURE),
    TDX("pck_leaf_cert_signature", m_break_pck_leaf, MT_ERR_PCK_CHAIN),
    TDX("pck_ca_cert_signature", m_break_pck_ca, MT_ERR_PCK_CHAIN),
    TDX("tcb_signer_cert_signature", m_break_tcb_signer, MT_ERR_TCB_INFO_CHAIN),
    TDX("tcb_signer_revoked", m_tcb_signer_revoked, MT_ERR_CERT_REVOKED),
};

/* ---- cases that look at the verdict, not just the code ---- */

static void
verify_ok(const struct mt_testpki_params *p, const struct testpki_run *run, struct mt_verdict *v)
{
    mt_err got = testpki_verify(p, run, v);

    if (got != MT_OK)
        fail_msg("got %s (%s), want ok", mt_err_code(got), v->detail);
}

static void
test_valid_statuses(void **state)
{
    static const enum mt_testpki_kind kinds[] = {MT_TESTPKI_TDX_V4, MT_TESTPKI_TDX_V5_TD10,
                                                 MT_TESTPKI_TDX_V5_TD15, MT_TESTPKI_SGX_V3};
    struct mt_testpki_params p;
    struct mt_verdict v;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        mt_testpki_params_default(&p, kinds[i], NOW);
        verify_ok(&p, NULL, &v);
        assert_int_equal(v.tcb.status, MT_TCB_UP_TO_DATE);
        assert_int_equal(v.tcb.num_advisories, 0);
        assert_int_equal(v.platform.status, MT_TCB_UP_TO_DATE);
        assert_int_equal(v.qe.status, MT_TCB_UP_TO_DATE);
        assert_true(v.pck_parsed);
        assert_memory_equal(v.fmspc, p.pck.fmspc, 6);
        assert_int_equal(v.pce_svn, p.pck.pce_svn);
        if (kinds[i] == MT_TESTPKI_SGX_V3) {
            assert_false(v.has_module);
        } else {
            assert_true(v.has_module);
            assert_string_equal(v.module_id, "TDX_01");
            assert_int_equal(v.module.status, MT_TCB_UP_TO_DATE);
        }
    }
}

/* The matched level's advisories come back in publication order with its status. */
static void
test_advisories(void **state)
{
    struct mt_testpki_params p;
    struct mt_verdict v;

    (void)state;
    mt_testpki_params_default(&p, MT_TESTPKI_TDX_V4, NOW);
    p.tcb_info.levels[0].status = MT_TCB_SW_HARDENING_NEEDED;
    assert_int_equal(mt_testpki_advisories_add(&p.tcb_info.levels[0].adv, "INTEL-SA-00615"), MT_OK);
    assert_int_equal(mt_testpki_advisories_add(&p.tcb_info.levels[0].adv, "INTEL-SA-00289"), MT_OK);
    verify_ok(&p, NULL, &v);
    assert_int_equal(v.tcb.status, MT_TCB_SW_HARDENING_NEEDED);
    assert_int_equal(v.tcb.num_advisories, 2);
    assert_string_equal(v.tcb.advisories[0], "INTEL-SA-00615");
    assert_string_equal(v.tcb.advisories[1], "INTEL-SA-00289");

    /* SGX: ConfigurationAndSWHardeningNeeded like sample D1 */
    mt_testpki_params_default(&p, MT_TESTPKI_SGX_V3, NOW);
    p.tcb_info.levels[0].status = MT_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED;
    assert_int_equal(mt_testpki_advisories_add(&p.tcb_info.levels[0].adv, "INTEL-SA-00289"), MT_OK);
    assert_int_equal(mt_testpki_advisories_add(&p.tcb_info.levels[0].adv, "INTEL-SA-00615"), MT_OK);
    verify_ok(&p, NULL, &v);
    assert_int_equal(v.tcb.status, MT_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED);
    assert_int_equal(v.tcb.num_advisories, 2);
    assert_string_equal(v.tcb.advisories[0], "INTEL-SA-00289");
    assert_string_equal(v.tcb.advisories[1], "INTEL-SA-00615");
}

/* A lower platform level is selected when the newest one is out of reach. */
static void
test_older_level(void **state)
{
    struct mt_testpki_params p;
    struct mt_verdict v;

    (void)state;
    mt_testpki_params_default(&p, MT_TESTPKI_TDX_V4, NOW);
    p.pck.pce_svn = 6; /* below level 0 (11), above level 1 (5) */
    verify_ok(&p, NULL, &v);
    assert_int_equal(v.platform.status, MT_TCB_OUT_OF_DATE);
    assert_int_equal(v.tcb.status, MT_TCB_OUT_OF_DATE);
    assert_int_equal(v.tcb.num_advisories, 1);
    assert_string_equal(v.tcb.advisories[0], "INTEL-SA-00837");
}

/* Intel QVL merge: platform ConfigurationNeeded + QE OutOfDate (dcap-verify.md 2.13). */
static void
test_intel_merge(void **state)
{
    struct mt_testpki_params p;
    struct mt_verdict v;

    (void)state;
    mt_testpki_params_default(&p, MT_TESTPKI_TDX_V4, NOW);
    p.tcb_info.levels[0].status = MT_TCB_CONFIGURATION_NEEDED;
    p.quote.qe.isv_svn = 3; /* QE level isvsvn 2: OutOfDate, INTEL-SA-00615 */
    verify_ok(&p, NULL, &v);
    assert_int_equal(v.platform.status, MT_TCB_CONFIGURATION_NEEDED);
    assert_int_equal(v.qe.status, MT_TCB_OUT_OF_DATE);
    assert_int_equal(v.tcb.status, MT_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED);
    assert_int_equal(v.tcb.num_advisories, 1);
    assert_string_equal(v.tcb.advisories[0], "INTEL-SA-00615");

    /* module OutOfDate merges the same way */
    mt_testpki_params_default(&p, MT_TESTPKI_TDX_V4, NOW);
    p.tcb_info.levels[0].status = MT_TCB_CONFIGURATION_NEEDED;
    p.quote.td.tee_tcb_svn[0] = 3; /* TDX_01 level isvsvn 2: OutOfDate */
    verify_ok(&p, NULL, &v);
    assert_int_equal(v.module.status, MT_TCB_OUT_OF_DATE);
    assert_int_equal(v.tcb.status, MT_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED);
}

/*
 * Intel compares TDX components 2..15 only when tee_tcb_svn[1] > 0: the
 * module SVN (component 0) is judged by the module identity instead.
 */
static void
test_intel_tdx_skip(void **state)
{
    struct mt_testpki_params p;
    struct mt_verdict v;

    (void)state;
    mt_testpki_params_default(&p, MT_TESTPKI_TDX_V4, NOW);
    p.quote.td.tee_tcb_svn[0] = 4; /* below every level's tdx[0] = 5; TDX_01 wants 4 */
    verify_ok(&p, NULL, &v);
    assert_int_equal(v.platform.status, MT_TCB_UP_TO_DATE);
    assert_int_equal(v.module.status, MT_TCB_UP_TO_DATE);
    assert_int_equal(v.tcb.status, MT_TCB_UP_TO_DATE);

    /* component 2 still counts */
    mt_testpki_params_default(&p, MT_TESTPKI_TDX_V4, NOW);
    p.quote.td.tee_tcb_svn[2] = 1; /* levels want 2 */
    EXPECT_ERR(testpki_verify(&p, NULL, &v), MT_ERR_NO_TCB_LEVEL);
}

/* The policy switches admit what they name and nothing else. */
static void
test_policy_switches(void **state)
{
    const struct testpki_run debug = {0, 1, 0}, service = {0, 0, 1};
    struct mt_testpki_params p;
    struct mt_verdict v;

    (void)state;
    mt_testpki_params_default(&p, MT_TESTPKI_TDX_V4, NOW);
    mt_testpki_td_attr_set(&p, 0, 1);
    verify_ok(&p, &debug, &v);
    mt_testpki_td_attr_set(&p, 1, 1); /* reserved stays forbidden with allow_debug */
    EXPECT_ERR(testpki_verify(&p, &debug, &v), MT_ERR_TD_RESERVED_BITS);

    mt_testpki_params_default(&p, MT_TESTPKI_SGX_V3, NOW);
    p.quote.sgx.attributes[0] |= 0x02;
    verify_ok(&p, &debug, &v);
    p.quote.qe.attributes[0] |= 0x02; /* a debug QE never passes */
    EXPECT_ERR(testpki_verify(&p, &debug, &v), MT_ERR_QE_DEBUG);

    mt_testpki_params_default(&p, MT_TESTPKI_TDX_V5_TD15, NOW);
    p.quote.td.mr_service_td[47] = 0xAA;
    verify_ok(&p, &service, &v);
}

/*
 * The same quote pinned to the built-in Intel root fails at the root: the
 * root CRL does not verify with Intel's key, or the chain does not end at
 * the pin, whichever the verifier checks first.
 */
static void
test_intel_root(void **state)
{
    const struct testpki_run intel = {1, 0, 0};
    struct mt_testpki_params p;
    struct mt_verdict v;
    mt_err got;

    (void)state;
    mt_testpki_params_default(&p, MT_TESTPKI_TDX_V4, NOW);
    got = testpki_verify(&p, &intel, &v);
    print_message("intel root pin: %s (%s)\n", mt_err_code(got), v.detail);
    assert_true(got == MT_ERR_ROOT_PIN || got == MT_ERR_ROOT_CRL);
}

int
main(void)
{
    static const struct CMUnitTest fixed[] = {
        cmocka_unit_test(test_valid_statuses), cmocka_unit_test(test_advisories),
        cmocka_unit_test(test_older_level),    cmocka_unit_test(test_intel_merge),
        cmocka_unit_test(test_intel_tdx_skip), cmocka_unit_test(test_policy_switches),
        cmocka_unit_test(test_intel_root),
    };
    const size_t nc = sizeof(cases) / sizeof(cases[0]);
    const size_t nf = sizeof(fixed) / sizeof(fixed[0]);
    struct CMUnitTest tests[sizeof(cases) / sizeof(cases[0]) + sizeof(fixed) / sizeof(fixed[0])];
    size_t i;

    /* one named cmocka test per table row, so a failure names its case */
    for (i = 0; i < nc; i++) {
        memset(&tests[i], 0, sizeof(tests[i]));
        tests[i].name = cases[i].name;
        tests[i].test_func = run_vcase;
        tests[i].initial_state = (void *)&cases[i];
    }
    for (i = 0; i < nf; i++)
        tests[nc + i] = fixed[i];
    return _cmocka_run_group_tests("test_dcap_synthetic", tests, nc + nf, NULL, NULL);
}
