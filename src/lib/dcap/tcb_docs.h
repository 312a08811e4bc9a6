#ifndef MT_TCB_DOCS_H
#define MT_TCB_DOCS_H

#include <stddef.h>
#include <stdint.h>

#include "dcap/tcb.h"
#include "util/mt_err.h"

/*
 * The two signed JSON documents of the collateral, parsed (dcap-verify.md
 * section 3.2).  Parsing checks types and sizes only; signatures, dates and
 * matching are the verifier's job.
 */

#define MT_TCB_COMPONENTS 16

struct mt_tcb_level {
    uint8_t sgx[MT_TCB_COMPONENTS]; /* sgxtcbcomponents[].svn */
    size_t num_sgx;                 /* as published; must be 16 to match */
    uint16_t pcesvn;
    uint8_t tdx[MT_TCB_COMPONENTS]; /* tdxtcbcomponents[].svn (TDX only) */
    size_t num_tdx;
    int64_t tcb_date;
    struct mt_tcb_result result; /* tcbStatus + advisoryIDs */
};

/* A TCB level of a QE identity or a TDX module identity: just an ISVSVN. */
struct mt_isv_level {
    uint16_t isvsvn;
    int64_t tcb_date;
    struct mt_tcb_result result;
};

struct mt_module_identity {
    char id[16]; /* "TDX_01" */
    uint8_t mrsigner[48];
    uint8_t attributes[8];
    uint8_t attributes_mask[8];
    struct mt_isv_level *levels;
    size_t num_levels;
};

struct mt_tcb_info {
    char id[8]; /* "SGX" or "TDX" */
    int64_t version;
    int64_t issue_date;
    int64_t next_update;
    uint8_t fmspc[6];
    uint8_t pce_id[2];
    int64_t tcb_type;
    int64_t tcb_eval_num;
    int has_module; /* tdxModule present */
    uint8_t module_mrsigner[48];
    uint8_t module_attributes[8];
    uint8_t module_attributes_mask[8];
    struct mt_module_identity *modules;
    size_t num_modules;
    struct mt_tcb_level *levels; /* sorted: highest TCB first (2.4 step 6) */
    size_t num_levels;
};

struct mt_qe_identity {
    char id[8]; /* "QE", "TD_QE", ... */
    int64_t version;
    int64_t issue_date;
    int64_t next_update;
    int64_t tcb_eval_num;
    uint32_t miscselect;
    uint32_t miscselect_mask;
    uint8_t attributes[16];
    uint8_t attributes_mask[16];
    uint8_t mrsigner[32];
    uint16_t isvprodid;
    struct mt_isv_level *levels; /* in published order */
    size_t num_levels;
};

MT_WUR mt_err mt_tcb_info_parse(const char *text, size_t len, struct mt_tcb_info **out);
void mt_tcb_info_free(struct mt_tcb_info *t);
MT_WUR mt_err mt_qe_identity_parse(const char *text, size_t len, struct mt_qe_identity **out);
void mt_qe_identity_free(struct mt_qe_identity *q);

#endif
