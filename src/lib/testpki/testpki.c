#include "testpki/testpki.h"

#include <string.h>

#include "util/mt_alloc.h"

/*
 * Defaults, mutators and the lifecycle of the test PKI.  The default values
 * mirror the real samples of dcap-verify.md 4.3 (D2 for TDX, D1 for SGX) so
 * that a generated quote exercises the same code paths as a real one.
 */

#define YEAR (365 * (int64_t)MT_TESTPKI_DAY)

/* TDX QE and SGX QE signers (dcap-verify.md 2.9). */
static const uint8_t td_qe_mrsigner[32] = {
    0xDC, 0x9E, 0x2A, 0x7C, 0x6F, 0x94, 0x8F, 0x17, 0x47, 0x4E, 0x34, 0xA7, 0xFC, 0x43, 0xED, 0x03,
    0x0F, 0x7C, 0x15, 0x63, 0xF1, 0xBA, 0xBD, 0xDF, 0x63, 0x40, 0xC8, 0x2E, 0x0E, 0x54, 0xA8, 0xC5};
static const uint8_t sgx_qe_mrsigner[32] = {
    0x8C, 0x4F, 0x57, 0x75, 0xD7, 0x96, 0x50, 0x3E, 0x96, 0x13, 0x7F, 0x77, 0xC6, 0x8A, 0x82, 0x9A,
    0x00, 0x56, 0xAC, 0x8D, 0xED, 0x70, 0x14, 0x0B, 0x08, 0x1B, 0x09, 0x44, 0x90, 0xC5, 0x7B, 0xFF};

/* Platform TCB of the samples: D2 (TDX, FMSPC B0C06F000000) and D1 (SGX, 00A067110000). */
static const uint8_t tdx_cpu_svn[16] = {3, 3, 2, 2, 4, 1, 0, 5};
static const uint8_t tdx_level_sgx[16] = {2, 2, 2, 2, 3, 1, 0, 5};
static const uint8_t tdx_level_tdx[16] = {5, 0, 2};
static const uint8_t tdx_fmspc[6] = {0xB0, 0xC0, 0x6F, 0x00, 0x00, 0x00};
static const uint8_t sgx_cpu_svn[16] = {11, 11, 2, 2, 255, 1, 0, 0};
static const uint8_t sgx_old_sgx[16] = {10, 10, 2, 2, 255, 1, 0, 0};
static const uint8_t sgx_fmspc[6] = {0x00, 0xA0, 0x67, 0x11, 0x00, 0x00};

/* Recognisable filler: byte i is seed + i. */
static void
fill(uint8_t *b, size_t n, uint8_t seed)
{
    size_t i;

    for (i = 0; i < n; i++)
        b[i] = (uint8_t)(seed + i);
}

static void
isv_level(struct mt_testpki_isv_level *l, uint16_t isvsvn, int64_t date, enum mt_tcb_status st)
{
    memset(l, 0, sizeof(*l));
    l->isvsvn = isvsvn;
    l->tcb_date = date;
    l->status = st;
}

static void
tcb_level(struct mt_testpki_tcb_level *l, const uint8_t sgx[16], uint16_t pcesvn,
          const uint8_t tdx[16], int64_t date, enum mt_tcb_status st)
{
    memset(l, 0, sizeof(*l));
    memcpy(l->sgx, sgx, 16);
    l->num_sgx = 16;
    l->pcesvn = pcesvn;
    if (tdx != NULL)
        memcpy(l->tdx, tdx, 16);
    l->num_tdx = 16;
    l->tcb_date = date;
    l->status = st;
}

static void
defaults_pki(struct mt_testpki_params *p, int tdx)
{
    int64_t now = p->now;
    int i;

    p->ca_type = tdx ? MT_PCK_CA_PLATFORM : MT_PCK_CA_PROCESSOR;
    for (i = 0; i < MT_TESTPKI_NUM_CERTS; i++) {
        /* 0x7e57 ("test") in the top bytes keeps the serials recognisable */
        p->cert[i].serial = 0x7e57000000000001ull + (uint64_t)i;
        p->cert[i].not_before = now - 30 * MT_TESTPKI_DAY;
        p->cert[i].not_after = now + 7 * YEAR;
        p->cert[i].ca = i == MT_TESTPKI_ROOT || i == MT_TESTPKI_PCK_CA;
    }
    p->cert[MT_TESTPKI_ROOT].not_before = now - YEAR;
    p->cert[MT_TESTPKI_ROOT].not_after = now + 20 * YEAR;

    fill(p->pck.ppid, 16, 0x81);
    memcpy(p->pck.cpu_svn, tdx ? tdx_cpu_svn : sgx_cpu_svn, 16);
    p->pck.pce_svn = tdx ? 11 : 13;
    memcpy(p->pck.fmspc, tdx ? tdx_fmspc : sgx_fmspc, 6);
    p->pck.sgx_type = tdx ? 1 : 0;
    fill(p->pck.platform_instance_id, 16, 0x07);

    for (i = 0; i < 2; i++) {
        p->crl[i].this_update = now - MT_TESTPKI_DAY;
        p->crl[i].next_update = now + 30 * MT_TESTPKI_DAY;
    }
}

static void
defaults_tcb_info(struct mt_testpki_params *p, int tdx)
{
    struct mt_testpki_tcb_info_params *t = &p->tcb_info;
    int64_t now = p->now;
    int64_t date = now - 90 * MT_TESTPKI_DAY;
    struct mt_testpki_module *m;

    t->id = tdx ? "TDX" : "SGX";
    t->version = 3;
    t->issue_date = now - MT_TESTPKI_DAY;
    t->next_update = now + 30 * MT_TESTPKI_DAY;
    memcpy(t->fmspc, p->pck.fmspc, 6);
    memcpy(t->pce_id, p->pck.pce_id, 2);
    t->tcb_eval_num = 17;
    if (tdx) {
        /* the platform's own level, then an older one, as in sample D2 */
        tcb_level(&t->levels[0], tdx_level_sgx, 11, tdx_level_tdx, date, MT_TCB_UP_TO_DATE);
        tcb_level(&t->levels[1], tdx_level_sgx, 5, tdx_level_tdx, date - YEAR, MT_TCB_OUT_OF_DATE);
        t->levels[1].adv.ids[0] = "INTEL-SA-00837";
        t->levels[1].adv.num = 1;
        t->num_levels = 2;

        t->has_module = 1;
        memset(t->module_attributes_mask, 0xFF, 8);
        /* TDX_03 first, as Intel publishes it; the default quote selects TDX_01 */
        m = &t->modules[0];
        m->version = 3;
        memset(m->attributes_mask, 0xFF, 8);
        isv_level(&m->levels[0], 3, date, MT_TCB_UP_TO_DATE);
        m->num_levels = 1;
        m = &t->modules[1];
        m->version = 1;
        memset(m->attributes_mask, 0xFF, 8);
        isv_level(&m->levels[0], 4, date, MT_TCB_UP_TO_DATE);
        isv_level(&m->levels[1], 2, date - YEAR, MT_TCB_OUT_OF_DATE);
        m->num_levels = 2;
        t->num_modules = 2;
    } else {
        tcb_level(&t->levels[0], sgx_cpu_svn, 13, NULL, date, MT_TCB_UP_TO_DATE);
        tcb_level(&t->levels[1], sgx_old_sgx, 13, NULL, date - YEAR, MT_TCB_OUT_OF_DATE);
        t->levels[1].adv.ids[0] = "INTEL-SA-00828";
        t->levels[1].adv.num = 1;
        t->num_levels = 2;
    }
}

static void
defaults_qe_identity(struct mt_testpki_params *p, int tdx)
{
    struct mt_testpki_qe_identity_params *q = &p->qe_identity;
    int64_t now = p->now;
    int64_t date = now - 90 * MT_TESTPKI_DAY;

    q->id = tdx ? "TD_QE" : "QE";
    q->version = 2;
    q->issue_date = now - MT_TESTPKI_DAY;
    q->next_update = now + 30 * MT_TESTPKI_DAY;
    q->tcb_eval_num = 17;
    q->miscselect = 0;
    q->miscselect_mask = 0xFFFFFFFFu;
    q->attributes[0] = 0x11;
    memset(q->attributes_mask, 0xFF, 8);
    q->attributes_mask[0] = 0xFB;
    memcpy(q->mrsigner, tdx ? td_qe_mrsigner : sgx_qe_mrsigner, 32);
    q->isvprodid = tdx ? 2 : 1;
    isv_level(&q->levels[0], 4, date, MT_TCB_UP_TO_DATE);
    isv_level(&q->levels[1], 2, date - YEAR, MT_TCB_OUT_OF_DATE);
    q->levels[1].adv.ids[0] = "INTEL-SA-00615";
    q->levels[1].adv.num = 1;
    q->num_levels = 2;
}

static void
defaults_quote(struct mt_testpki_params *p, int tdx)
{
    struct mt_testpki_quote_params *q = &p->quote;
    struct mt_td_report *td = &q->td;
    struct mt_sgx_report *qe = &q->qe;
    static const uint8_t qe_cpu_svn[16] = {3, 3, 0x19, 0x1B, 4, 0xFF, 0, 6};
    int i;

    fill(q->qe_id, 16, 0x88);

    /* TD: module 1.x ISVSVN 6, late microcode 3, only SEPT_VE_DISABLE set */
    td->tee_tcb_svn[0] = 6;
    td->tee_tcb_svn[1] = 1;
    td->tee_tcb_svn[2] = 3;
    fill(td->mr_seam, 48, 0x5B);
    td->td_attributes[3] = 0x10;
    td->xfam[0] = 0xE7;
    td->xfam[1] = 0x02;
    td->xfam[2] = 0x06;
    fill(td->mr_td, 48, 0x91);
    for (i = 0; i < 3; i++)
        fill(td->rt_mr[i], 48, (uint8_t)(0x40 + 0x30 * i));
    fill(td->report_data, 64, 0x9A);
    memcpy(td->tee_tcb_svn2, td->tee_tcb_svn, 16);

    /* SGX enclave: INIT | MODE64BIT, not DEBUG */
    memcpy(q->sgx.cpu_svn, p->pck.cpu_svn, 16);
    q->sgx.attributes[0] = 0x05;
    q->sgx.attributes[8] = 0xE7;
    fill(q->sgx.mr_enclave, 32, 0x33);
    fill(q->sgx.mr_signer, 32, 0x81);
    memcpy(q->sgx.report_data, "Hello, world!", 13);

    /* QE report of sample D2 (attributes 0x15: INIT | MODE64BIT | PROVISIONKEY) */
    memcpy(qe->cpu_svn, qe_cpu_svn, 16);
    qe->attributes[0] = 0x15;
    qe->attributes[8] = 0xE7;
    fill(qe->mr_enclave, 32, 0xE5);
    memcpy(qe->mr_signer, tdx ? td_qe_mrsigner : sgx_qe_mrsigner, 32);
    qe->isv_prod_id = tdx ? 2 : 1;
    qe->isv_svn = 6;

    fill(q->qe_auth_data, 32, 0x00);
    q->qe_auth_data_len = 32;
    q->pem_trailing_nul = 1;
}

void
mt_testpki_params_default(struct mt_testpki_params *p, enum mt_testpki_kind kind, int64_t now)
{
    const int tdx = kind != MT_TESTPKI_SGX_V3;

    memset(p, 0, sizeof(*p));
    p->now = now;
    p->kind = kind;
    defaults_pki(p, tdx);
    defaults_tcb_info(p, tdx);
    defaults_qe_identity(p, tdx);
    defaults_quote(p, tdx);
}

mt_err
mt_testpki_crl_revoke(struct mt_testpki_crl_params *crl, uint64_t serial)
{
    MT_ENSURE(crl->num_revoked < MT_TESTPKI_MAX_REVOKED, MT_ERR_TOO_LARGE);
    crl->revoked[crl->num_revoked++] = serial;
    return MT_OK;
}

mt_err
mt_testpki_advisories_add(struct mt_testpki_advisories *a, const char *id)
{
    MT_ENSURE(id != NULL, MT_ERR_ARG);
    MT_ENSURE(a->num < MT_TESTPKI_MAX_ADVISORIES, MT_ERR_TOO_LARGE);
    a->ids[a->num++] = id;
    return MT_OK;
}

void
mt_testpki_td_attr_set(struct mt_testpki_params *p, unsigned bit, int on)
{
    uint8_t mask;

    if (bit >= 64)
        return;
    mask = (uint8_t)(1u << (bit % 8));
    if (on)
        p->quote.td.td_attributes[bit / 8] |= mask;
    else
        p->quote.td.td_attributes[bit / 8] &= (uint8_t)~mask;
}

void
mt_testpki_pck_svn_set(struct mt_testpki_params *p, const uint8_t cpu_svn[16], uint16_t pce_svn)
{
    memcpy(p->pck.cpu_svn, cpu_svn, 16);
    p->pck.pce_svn = pce_svn;
}

/* ---- lifecycle ---- */

void
mt_testpki_free(struct mt_testpki *pki)
{
    int i;

    if (pki == NULL)
        return;
    for (i = 0; i < MT_TESTPKI_NUM_CERTS; i++) {
        X509_free(pki->cert[i]);
        EVP_PKEY_free(pki->key[i]);
    }
    EVP_PKEY_free(pki->att_key);
    mt_free(pki->root_der);
    mt_free(pki);
}

mt_err
mt_testpki_new(const struct mt_testpki_params *p, struct mt_testpki **out)
{
    struct mt_testpki *pki;
    int i;
    mt_err e = MT_ERR_CRYPTO;

    pki = mt_calloc(1, sizeof(*pki));
    MT_ENSURE(pki != NULL, MT_ERR_NOMEM);
    for (i = 0; i < MT_TESTPKI_NUM_CERTS; i++) {
        pki->key[i] = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
        if (pki->key[i] == NULL)
            goto out;
    }
    pki->att_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    if (pki->att_key == NULL)
        goto out;
    MT_GUARD_GOTO(mt_testpki_issue(pki, p), e, out);
    *out = pki;
    pki = NULL;
    e = MT_OK;
out:
    mt_testpki_free(pki);
    return e;
}

const uint8_t *
mt_testpki_root_der(const struct mt_testpki *pki, size_t *len)
{
    *len = pki->root_der_len;
    return pki->root_der;
}

mt_err
mt_testpki_att_key_raw(const struct mt_testpki *pki, uint8_t xy[64])
{
    return mt_testpki_pub_raw(pki->att_key, xy);
}

void
mt_testpki_bundle_free(struct mt_testpki_bundle *b)
{
    if (b == NULL)
        return;
    mt_testpki_free(b->pki);
    mt_free(b->quote);
    mt_collateral_free(b->col);
    mt_free(b);
}

mt_err
mt_testpki_bundle_new(const struct mt_testpki_params *p, struct mt_testpki_bundle **out)
{
    struct mt_testpki_bundle *b;
    mt_err e;

    b = mt_calloc(1, sizeof(*b));
    MT_ENSURE(b != NULL, MT_ERR_NOMEM);
    MT_GUARD_GOTO(mt_testpki_new(p, &b->pki), e, out);
    MT_GUARD_GOTO(mt_testpki_quote(b->pki, p, &b->quote, &b->quote_len), e, out);
    MT_GUARD_GOTO(mt_testpki_collateral(b->pki, p, &b->col), e, out);
    *out = b;
    b = NULL;
out:
    mt_testpki_bundle_free(b);
    return e;
}
