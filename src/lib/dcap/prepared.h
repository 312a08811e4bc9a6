#ifndef MT_PREPARED_H
#define MT_PREPARED_H

#include <stdatomic.h>

#include <openssl/x509.h>

#include "dcap/collateral.h"
#include "dcap/tcb_docs.h"

/*
 * Collateral decoded once (struct mt_prepared_collateral of dcap.h).  Each
 * component is decoded independently and a failure is recorded, not
 * raised: the verifier reports it at the step where dcap-qvl's order meets
 * that component.  Immutable after mt_collateral_prepare, so one prepared
 * collateral may serve verifiers on several threads.
 */
struct mt_prepared_signed_doc {
    const char *text; /* borrowed from col */
    size_t text_len;
    const uint8_t *sig;
    const char *chain_pem;
    void *doc; /* struct mt_tcb_info * / struct mt_qe_identity *, or NULL */
    mt_err doc_err;
    STACK_OF(X509) *chain; /* or NULL */
    mt_err chain_err;
    uint8_t doc_hash[32];   /* over text and signature */
    uint8_t chain_hash[32]; /* over the chain PEM */
};

struct mt_prepared_collateral {
    atomic_int refs;           /* mt_prepared_collateral_ref / _free */
    struct mt_collateral *col; /* a private deep copy */
    X509_CRL *root_crl;
    mt_err root_crl_err;
    X509_CRL *pck_crl;
    mt_err pck_crl_err;
    struct mt_prepared_signed_doc tcb_info;
    struct mt_prepared_signed_doc qe_identity;
    STACK_OF(X509) *pck_chain; /* from col->pck_certificate_chain, when present */
    mt_err pck_chain_err;
    uint8_t root_crl_hash[32];
    uint8_t pck_crl_hash[32];
    uint8_t pck_chain_hash[32];
};

/* SHA-256 of one buffer. */
MT_WUR mt_err mt_sha256(const void *data, size_t len, uint8_t out[32]);

#endif
