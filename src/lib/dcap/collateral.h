#ifndef MT_COLLATERAL_H
#define MT_COLLATERAL_H

#include <stddef.h>
#include <stdint.h>

#include "util/mt_err.h"

/*
 * Quote collateral in dcap-qvl's QuoteCollateralV3 shape (dcap-verify.md
 * section 3.1).  Byte fields are hex strings in JSON and raw bytes here;
 * tcb_info and qe_identity hold the exact signed JSON text.  Every string is
 * NUL-terminated and owned by the struct.
 */
struct mt_collateral {
    char *pck_crl_issuer_chain; /* PEM; carried, not used by verification */
    uint8_t *root_ca_crl;       /* DER CRL of the root CA */
    size_t root_ca_crl_len;
    uint8_t *pck_crl; /* DER CRL of the PCK Processor or Platform CA */
    size_t pck_crl_len;
    char *tcb_info_issuer_chain; /* PEM, TCB Signing then root */
    char *tcb_info;              /* exact signed text of the tcbInfo object */
    size_t tcb_info_len;
    uint8_t tcb_info_signature[64]; /* raw r||s */
    char *qe_identity_issuer_chain; /* PEM */
    char *qe_identity;              /* exact signed text of the enclaveIdentity object */
    size_t qe_identity_len;
    uint8_t qe_identity_signature[64];
    char *pck_certificate_chain; /* optional PEM chain; NULL when absent */
};

/* Parse collateral JSON (at most MT_MAX_COLLATERAL_JSON bytes). */
MT_WUR mt_err mt_collateral_parse(const char *json, size_t len, struct mt_collateral **out);
/* Serialise to JSON text (keys in dcap-qvl's order); *out freed with mt_free. */
MT_WUR mt_err mt_collateral_to_json(const struct mt_collateral *c, char **out);
/* Deep copy. */
MT_WUR mt_err mt_collateral_dup(const struct mt_collateral *c, struct mt_collateral **out);
/* NULL-safe. */
void mt_collateral_free(struct mt_collateral *c);

#endif
