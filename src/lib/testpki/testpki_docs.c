#include "testpki/testpki.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "util/mt_alloc.h"
#include "util/mt_hex.h"
#include "util/mt_json.h"
#include "util/mt_limits.h"
#include "util/mt_time.h"

/*
 * TCB Info and QE Identity documents in Intel's compact JSON (member order
 * and upper-case hex as PCS serves them, dcap-verify.md 3.2), signed by the
 * TCB Signing key over the exact text, and the collateral that carries them.
 */

/* Component labels Intel attaches in TDX TCB Info (dcap-verify.md 3.2). */
static const char *const sgx_labels[16][2] = {
    {"BIOS", "Early Microcode Update"},
    {"OS/VMM", "SGX Late Microcode Update"},
    {"OS/VMM", "TXT SINIT"},
    {"BIOS", NULL},
    {"BIOS", NULL},
    {"BIOS", NULL},
    {NULL, NULL},
    {"OS/VMM", "SEAMLDR ACM"},
};
static const char *const tdx_labels[16][2] = {
    {"OS/VMM", "TDX Module"},
    {"OS/VMM", "TDX Module"},
    {"OS/VMM", "TDX Late Microcode Update"},
};

static mt_err
set_str(json_t *o, const char *key, const char *s)
{
    MT_ENSURE(s != NULL, MT_ERR_ARG);
    return mt_json_set_new(o, key, json_string(s));
}

static mt_err
set_int(json_t *o, const char *key, json_int_t v)
{
    return mt_json_set_new(o, key, json_integer(v));
}

/* Intel writes hex members in upper case. */
static mt_err
set_hex(json_t *o, const char *key, const uint8_t *b, size_t n)
{
    char s[2 * 48 + 1];
    size_t i;

    MT_ENSURE(n <= 48, MT_ERR_ARG);
    mt_hex_encode(b, n, s);
    for (i = 0; i < 2 * n; i++) {
        if (s[i] >= 'a' && s[i] <= 'f')
            s[i] = (char)(s[i] - 'a' + 'A');
    }
    return set_str(o, key, s);
}

static mt_err
set_date(json_t *o, const char *key, int64_t t)
{
    char s[21];

    mt_rfc3339_format(t, s);
    return set_str(o, key, s);
}

static mt_err
append(json_t *a, json_t *v)
{
    /* json_array_append_new drops the reference on failure too */
    MT_ENSURE(v != NULL, MT_ERR_NOMEM);
    MT_ENSURE(json_array_append_new(a, v) == 0, MT_ERR_NOMEM);
    return MT_OK;
}

/* tcbDate, tcbStatus and (when there are any) advisoryIDs of a level. */
static mt_err
set_result(json_t *o, int64_t date, enum mt_tcb_status st, const struct mt_testpki_advisories *adv)
{
    json_t *ids;
    size_t i;

    MT_GUARD(set_date(o, "tcbDate", date));
    MT_GUARD(set_str(o, "tcbStatus", mt_tcb_status_name(st)));
    if (adv->num == 0)
        return MT_OK;
    MT_ENSURE(adv->num <= MT_TESTPKI_MAX_ADVISORIES, MT_ERR_ARG);
    ids = json_array();
    MT_GUARD(mt_json_set_new(o, "advisoryIDs", ids));
    for (i = 0; i < adv->num; i++) {
        MT_ENSURE(adv->ids[i] != NULL, MT_ERR_ARG);
        MT_GUARD(append(ids, json_string(adv->ids[i])));
    }
    return MT_OK;
}

/* tcbLevels of a QE identity or module identity: {"tcb":{"isvsvn":N},...}. */
static mt_err
set_isv_levels(json_t *o, const struct mt_testpki_isv_level *levels, size_t n)
{
    json_t *arr = json_array(), *lv, *tcb;
    size_t i;

    MT_GUARD(mt_json_set_new(o, "tcbLevels", arr));
    MT_ENSURE(n <= MT_TESTPKI_MAX_LEVELS, MT_ERR_ARG);
    for (i = 0; i < n; i++) {
        lv = json_object();
        MT_GUARD(append(arr, lv));
        tcb = json_object();
        MT_GUARD(mt_json_set_new(lv, "tcb", tcb));
        MT_GUARD(set_int(tcb, "isvsvn", levels[i].isvsvn));
        MT_GUARD(set_result(lv, levels[i].tcb_date, levels[i].status, &levels[i].adv));
    }
    return MT_OK;
}

static mt_err
set_components(json_t *o, const char *key, const uint8_t *svn, size_t n,
               const char *const labels[16][2])
{
    json_t *arr = json_array(), *c;
    size_t i;

    MT_GUARD(mt_json_set_new(o, key, arr));
    MT_ENSURE(n <= 16, MT_ERR_ARG);
    for (i = 0; i < n; i++) {
        c = json_object();
        MT_GUARD(append(arr, c));
        MT_GUARD(set_int(c, "svn", svn[i]));
        if (labels != NULL && labels[i][0] != NULL)
            MT_GUARD(set_str(c, "category", labels[i][0]));
        if (labels != NULL && labels[i][1] != NULL)
            MT_GUARD(set_str(c, "type", labels[i][1]));
    }
    return MT_OK;
}

static mt_err
set_tcb_levels(json_t *o, const struct mt_testpki_tcb_info_params *t, int tdx)
{
    json_t *arr = json_array(), *lv, *tcb;
    const struct mt_testpki_tcb_level *l;
    size_t i;

    MT_GUARD(mt_json_set_new(o, "tcbLevels", arr));
    MT_ENSURE(t->num_levels <= MT_TESTPKI_MAX_LEVELS, MT_ERR_ARG);
    for (i = 0; i < t->num_levels; i++) {
        l = &t->levels[i];
        lv = json_object();
        MT_GUARD(append(arr, lv));
        tcb = json_object();
        MT_GUARD(mt_json_set_new(lv, "tcb", tcb));
        MT_GUARD(
            set_components(tcb, "sgxtcbcomponents", l->sgx, l->num_sgx, tdx ? sgx_labels : NULL));
        MT_GUARD(set_int(tcb, "pcesvn", l->pcesvn));
        if (tdx)
            MT_GUARD(set_components(tcb, "tdxtcbcomponents", l->tdx, l->num_tdx, tdx_labels));
        MT_GUARD(set_result(lv, l->tcb_date, l->status, &l->adv));
    }
    return MT_OK;
}

/* mrsigner, attributes, attributesMask: shared by tdxModule and its identities. */
static mt_err
set_module_ident(json_t *o, const uint8_t mrsigner[48], const uint8_t attr[8],
                 const uint8_t mask[8])
{
    MT_GUARD(set_hex(o, "mrsigner", mrsigner, 48));
    MT_GUARD(set_hex(o, "attributes", attr, 8));
    return set_hex(o, "attributesMask", mask, 8);
}

static mt_err
set_modules(json_t *o, const struct mt_testpki_tcb_info_params *t)
{
    json_t *mod = json_object(), *arr, *id;
    const struct mt_testpki_module *m;
    char name[8];
    size_t i;

    MT_GUARD(mt_json_set_new(o, "tdxModule", mod));
    MT_GUARD(
        set_module_ident(mod, t->module_mrsigner, t->module_attributes, t->module_attributes_mask));
    arr = json_array();
    MT_GUARD(mt_json_set_new(o, "tdxModuleIdentities", arr));
    MT_ENSURE(t->num_modules <= MT_TESTPKI_MAX_MODULES, MT_ERR_ARG);
    for (i = 0; i < t->num_modules; i++) {
        m = &t->modules[i];
        id = json_object();
        MT_GUARD(append(arr, id));
        snprintf(name, sizeof(name), "TDX_%02X", (unsigned)m->version);
        MT_GUARD(set_str(id, "id", name));
        MT_GUARD(set_module_ident(id, m->mrsigner, m->attributes, m->attributes_mask));
        MT_GUARD(set_isv_levels(id, m->levels, m->num_levels));
    }
    return MT_OK;
}

static mt_err
tcb_info_json(const struct mt_testpki_tcb_info_params *t, json_t *o)
{
    const int tdx = t->id != NULL && strcmp(t->id, "TDX") == 0;

    MT_GUARD(set_str(o, "id", t->id));
    MT_GUARD(set_int(o, "version", t->version));
    MT_GUARD(set_date(o, "issueDate", t->issue_date));
    MT_GUARD(set_date(o, "nextUpdate", t->next_update));
    MT_GUARD(set_hex(o, "fmspc", t->fmspc, 6));
    MT_GUARD(set_hex(o, "pceId", t->pce_id, 2));
    MT_GUARD(set_int(o, "tcbType", t->tcb_type));
    MT_GUARD(set_int(o, "tcbEvaluationDataNumber", t->tcb_eval_num));
    if (tdx && t->has_module)
        MT_GUARD(set_modules(o, t));
    return set_tcb_levels(o, t, tdx);
}

static mt_err
qe_identity_json(const struct mt_testpki_qe_identity_params *q, json_t *o)
{
    uint8_t le[4];

    MT_GUARD(set_str(o, "id", q->id));
    MT_GUARD(set_int(o, "version", q->version));
    MT_GUARD(set_date(o, "issueDate", q->issue_date));
    MT_GUARD(set_date(o, "nextUpdate", q->next_update));
    MT_GUARD(set_int(o, "tcbEvaluationDataNumber", q->tcb_eval_num));
    /* miscselect is the little-endian u32 of the QE report (dcap-verify.md 2.9 step 4) */
    le[0] = (uint8_t)q->miscselect;
    le[1] = (uint8_t)(q->miscselect >> 8);
    le[2] = (uint8_t)(q->miscselect >> 16);
    le[3] = (uint8_t)(q->miscselect >> 24);
    MT_GUARD(set_hex(o, "miscselect", le, 4));
    le[0] = (uint8_t)q->miscselect_mask;
    le[1] = (uint8_t)(q->miscselect_mask >> 8);
    le[2] = (uint8_t)(q->miscselect_mask >> 16);
    le[3] = (uint8_t)(q->miscselect_mask >> 24);
    MT_GUARD(set_hex(o, "miscselectMask", le, 4));
    MT_GUARD(set_hex(o, "attributes", q->attributes, 16));
    MT_GUARD(set_hex(o, "attributesMask", q->attributes_mask, 16));
    MT_GUARD(set_hex(o, "mrsigner", q->mrsigner, 32));
    MT_GUARD(set_int(o, "isvprodid", q->isvprodid));
    return set_isv_levels(o, q->levels, q->num_levels);
}

/* Compact text (no spaces, insertion order), like Intel's; *out freed with mt_free. */
static mt_err
dump(const json_t *j, char **out, size_t *len)
{
    size_t n = json_dumpb(j, NULL, 0, JSON_COMPACT);
    char *s;

    MT_ENSURE(n > 0, MT_ERR_JSON);
    MT_ENSURE(n <= MT_MAX_SIGNED_JSON, MT_ERR_TOO_LARGE);
    s = mt_malloc(n + 1);
    MT_ENSURE(s != NULL, MT_ERR_NOMEM);
    if (json_dumpb(j, s, n, JSON_COMPACT) != n) {
        mt_free(s);
        return MT_ERR_JSON;
    }
    s[n] = '\0';
    *out = s;
    *len = n;
    return MT_OK;
}

/* Serialise, sign with the TCB signer, break the signature when asked. */
static mt_err
sign_doc(const struct mt_testpki *pki, const json_t *j, int broken, char **json, size_t *len,
         uint8_t sig[64])
{
    char *s = NULL;
    size_t n = 0;
    mt_err e;

    MT_GUARD(dump(j, &s, &n));
    MT_GUARD_GOTO(mt_testpki_sign_raw(pki->key[MT_TESTPKI_TCB_SIGNER], (const uint8_t *)s, n, sig),
                  e, out);
    if (broken)
        sig[63] ^= 0x01;
    *json = s;
    *len = n;
    s = NULL;
out:
    mt_free(s);
    return e;
}

mt_err
mt_testpki_tcb_info(const struct mt_testpki *pki, const struct mt_testpki_params *p, char **json,
                    size_t *len, uint8_t sig[64])
{
    json_t *o = json_object();
    mt_err e;

    MT_ENSURE(o != NULL, MT_ERR_NOMEM);
    MT_GUARD_GOTO(tcb_info_json(&p->tcb_info, o), e, out);
    MT_GUARD_GOTO(sign_doc(pki, o, (p->broken & MT_TESTPKI_BREAK_TCB_INFO) != 0, json, len, sig), e,
                  out);
out:
    json_decref(o);
    return e;
}

mt_err
mt_testpki_qe_identity(const struct mt_testpki *pki, const struct mt_testpki_params *p, char **json,
                       size_t *len, uint8_t sig[64])
{
    json_t *o = json_object();
    mt_err e;

    MT_ENSURE(o != NULL, MT_ERR_NOMEM);
    MT_GUARD_GOTO(qe_identity_json(&p->qe_identity, o), e, out);
    MT_GUARD_GOTO(sign_doc(pki, o, (p->broken & MT_TESTPKI_BREAK_QE_IDENTITY) != 0, json, len, sig),
                  e, out);
out:
    json_decref(o);
    return e;
}

mt_err
mt_testpki_collateral(const struct mt_testpki *pki, const struct mt_testpki_params *p,
                      struct mt_collateral **out)
{
    struct mt_collateral *c;
    size_t unused;
    mt_err e;

    c = mt_calloc(1, sizeof(*c));
    MT_ENSURE(c != NULL, MT_ERR_NOMEM);
    MT_GUARD_GOTO(
        mt_testpki_chain_pem(pki, MT_TESTPKI_CHAIN_PCK_CRL, 0, &c->pck_crl_issuer_chain, &unused),
        e, out);
    MT_GUARD_GOTO(
        mt_testpki_crl_der(pki, p, MT_TESTPKI_ROOT_CRL, &c->root_ca_crl, &c->root_ca_crl_len), e,
        out);
    MT_GUARD_GOTO(mt_testpki_crl_der(pki, p, MT_TESTPKI_PCK_CRL, &c->pck_crl, &c->pck_crl_len), e,
                  out);
    MT_GUARD_GOTO(
        mt_testpki_chain_pem(pki, MT_TESTPKI_CHAIN_TCB, 0, &c->tcb_info_issuer_chain, &unused), e,
        out);
    MT_GUARD_GOTO(
        mt_testpki_tcb_info(pki, p, &c->tcb_info, &c->tcb_info_len, c->tcb_info_signature), e, out);
    MT_GUARD_GOTO(
        mt_testpki_chain_pem(pki, MT_TESTPKI_CHAIN_TCB, 0, &c->qe_identity_issuer_chain, &unused),
        e, out);
    MT_GUARD_GOTO(mt_testpki_qe_identity(pki, p, &c->qe_identity, &c->qe_identity_len,
                                         c->qe_identity_signature),
                  e, out);
    if (p->collateral_pck_chain)
        MT_GUARD_GOTO(
            mt_testpki_chain_pem(pki, MT_TESTPKI_CHAIN_PCK, 0, &c->pck_certificate_chain, &unused),
            e, out);
    *out = c;
    c = NULL;
out:
    mt_collateral_free(c);
    return e;
}
