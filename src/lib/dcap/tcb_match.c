#include "dcap/tcb_match.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

mt_err
mt_tcb_match_qe(const struct mt_qe_identity *qe, const struct mt_sgx_report *r,
                struct mt_tcb_result *out)
{
    size_t i;

    MT_ENSURE(memcmp(r->mr_signer, qe->mrsigner, 32) == 0, MT_ERR_QE_MRSIGNER);
    /* A debug QE is never acceptable, whatever allow_debug says (2.9 step 2). */
    MT_ENSURE((r->attributes[0] & 0x02) == 0, MT_ERR_QE_DEBUG);
    MT_ENSURE(r->isv_prod_id == qe->isvprodid, MT_ERR_QE_ISVPRODID);
    MT_ENSURE((r->misc_select & qe->miscselect_mask) == (qe->miscselect & qe->miscselect_mask),
              MT_ERR_QE_MISCSELECT);
    for (i = 0; i < 16; i++)
        MT_ENSURE((r->attributes[i] & qe->attributes_mask[i]) ==
                      (qe->attributes[i] & qe->attributes_mask[i]),
                  MT_ERR_QE_ATTRIBUTES);
    /*
     * Levels are taken in published order, which Intel keeps descending by
     * isvsvn; the first one at or below the QE's ISVSVN applies.
     */
    for (i = 0; i < qe->num_levels; i++) {
        if (r->isv_svn >= qe->levels[i].isvsvn) {
            *out = qe->levels[i].result;
            return MT_OK;
        }
    }
    return MT_ERR_QE_ISVSVN;
}

static int
svns_at_least(const uint8_t *have, const uint8_t *need, size_t from, size_t n)
{
    size_t i;

    for (i = from; i < n; i++) {
        if (have[i] < need[i])
            return 0;
    }
    return 1;
}

mt_err
mt_tcb_match_platform(const struct mt_tcb_info *ti, const struct mt_quote *q,
                      const struct mt_pck_info *pck, const struct mt_tcb_level **matched)
{
    int tdx = q->tee_type == MT_TEE_TDX;
    size_t i, tdx_from;

    MT_ENSURE(memcmp(ti->fmspc, pck->fmspc, 6) == 0, MT_ERR_FMSPC_MISMATCH);
    /* Intel checks the PCE-ID as well; dcap-qvl does not (2.11 step 1). */
    MT_ENSURE(memcmp(ti->pce_id, pck->pce_id, 2) == 0, MT_ERR_PCEID_MISMATCH);
    if (tdx)
        MT_ENSURE(strcmp(ti->id, "TDX") == 0 && ti->version >= 3, MT_ERR_TCB_INFO_TYPE);
    else
        MT_ENSURE(strcmp(ti->id, "SGX") == 0 && ti->version >= 2, MT_ERR_TCB_INFO_TYPE);

    /* Intel: the module's own SVN bytes are judged by its identity instead. */
    tdx_from = tdx && q->td.tee_tcb_svn[1] > 0 ? 2 : 0;
    for (i = 0; i < ti->num_levels; i++) {
        const struct mt_tcb_level *l = &ti->levels[i];

        if (pck->pce_svn < l->pcesvn)
            continue;
        MT_ENSURE(l->num_sgx == MT_TCB_COMPONENTS, MT_ERR_SGX_COMPONENTS);
        /* dcap-qvl compares the CPUSVN octets; the parser made sure they
         * equal the 16 component SVNs Intel compares. */
        if (!svns_at_least(pck->cpu_svn, l->sgx, 0, MT_TCB_COMPONENTS))
            continue;
        if (tdx) {
            MT_ENSURE(l->num_tdx == MT_TCB_COMPONENTS, MT_ERR_TDX_COMPONENTS);
            if (!svns_at_least(q->td.tee_tcb_svn, l->tdx, tdx_from, MT_TCB_COMPONENTS))
                continue;
        }
        *matched = l;
        return MT_OK;
    }
    return MT_ERR_NO_TCB_LEVEL;
}

/* SEAM attributes: masked equality, and no bits outside the mask (2.11). */
static int
seam_attributes_ok(const uint8_t seam[8], const uint8_t exp[8], const uint8_t mask[8])
{
    size_t i;

    for (i = 0; i < 8; i++) {
        if ((seam[i] & mask[i]) != (exp[i] & mask[i]) || (seam[i] & (uint8_t)~mask[i]) != 0)
            return 0;
    }
    return 1;
}

mt_err
mt_tcb_match_module(const struct mt_tcb_info *ti, const struct mt_td_report *td, int *has_module,
                    char module_id[16], struct mt_tcb_result *out)
{
    const uint8_t *mrsigner = ti->module_mrsigner, *attr = ti->module_attributes,
                  *mask = ti->module_attributes_mask;
    const struct mt_module_identity *mi = NULL;
    uint8_t ver = td->tee_tcb_svn[1], isv = td->tee_tcb_svn[0];
    char want[16];
    size_t i;

    *has_module = 0;
    MT_ENSURE(ti->has_module, MT_ERR_TDX_MODULE);
    if (ver > 0) {
        /* Intel: a module version with no identities at all is a mismatch. */
        MT_ENSURE(ti->num_modules > 0, MT_ERR_TDX_MODULE);
        snprintf(want, sizeof(want), "TDX_%02X", (unsigned)ver);
        for (i = 0; i < ti->num_modules; i++) {
            if (strcasecmp(ti->modules[i].id, want) == 0) {
                mi = &ti->modules[i];
                break;
            }
        }
        MT_ENSURE(mi != NULL, MT_ERR_TDX_MODULE);
        mrsigner = mi->mrsigner;
        attr = mi->attributes;
        mask = mi->attributes_mask;
    }
    MT_ENSURE(memcmp(td->mr_signer_seam, mrsigner, 48) == 0, MT_ERR_TDX_MODULE);
    MT_ENSURE(seam_attributes_ok(td->seam_attributes, attr, mask), MT_ERR_TDX_MODULE);
    if (mi == NULL)
        return MT_OK;
    for (i = 0; i < mi->num_levels; i++) {
        if (isv >= mi->levels[i].isvsvn) {
            *out = mi->levels[i].result;
            *has_module = 1;
            memcpy(module_id, mi->id, sizeof(mi->id));
            return MT_OK;
        }
    }
    return MT_ERR_TDX_MODULE_ISVSVN;
}
