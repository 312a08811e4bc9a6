#include "dcap/prepared.h"

#include <string.h>

#include <openssl/evp.h>

#include "dcap/dcap.h"
#include "dcap/verifier.h"
#include "dcap/x509.h"
#include "util/mt_alloc.h"

mt_err
mt_sha256(const void *data, size_t len, uint8_t out[32])
{
    unsigned int n = 32;

    MT_ENSURE(EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) == 1 && n == 32, MT_ERR_CRYPTO);
    return MT_OK;
}

/* Keep NOMEM (the caller stops), turn anything else into the component's error. */
static mt_err
recorded(mt_err e, mt_err as)
{
    return e == MT_OK || e == MT_ERR_NOMEM ? e : as;
}

static mt_err
doc_prepare(struct mt_prepared_signed_doc *d, int tcb, const char *text, size_t text_len,
            const uint8_t *sig, const char *chain_pem)
{
    struct mt_tcb_info *t = NULL;
    struct mt_qe_identity *q = NULL;
    uint8_t both[32 + 64];

    d->text = text;
    d->text_len = text_len;
    d->sig = sig;
    d->chain_pem = chain_pem;
    if (tcb) {
        d->doc_err = mt_tcb_info_parse(text, text_len, &t);
        d->doc = t;
    } else {
        d->doc_err = mt_qe_identity_parse(text, text_len, &q);
        d->doc = q;
    }
    MT_ENSURE(d->doc_err != MT_ERR_NOMEM, MT_ERR_NOMEM);
    d->chain_err = recorded(mt_pem_chain_parse(chain_pem, strlen(chain_pem), &d->chain),
                            tcb ? MT_ERR_TCB_INFO_CHAIN : MT_ERR_QE_IDENTITY_CHAIN);
    MT_ENSURE(d->chain_err != MT_ERR_NOMEM, MT_ERR_NOMEM);
    MT_GUARD(mt_sha256(chain_pem, strlen(chain_pem), d->chain_hash));
    /* Text and signature together: hash the text, then both hashes' worth. */
    MT_GUARD(mt_sha256(text, text_len, both));
    memcpy(both + 32, sig, 64);
    return mt_sha256(both, sizeof(both), d->doc_hash);
}

static void
doc_release(struct mt_prepared_signed_doc *d, int tcb)
{
    if (tcb)
        mt_tcb_info_free(d->doc);
    else
        mt_qe_identity_free(d->doc);
    sk_X509_pop_free(d->chain, X509_free);
}

struct mt_prepared_collateral *
mt_prepared_collateral_ref(struct mt_prepared_collateral *p)
{
    atomic_fetch_add(&p->refs, 1);
    return p;
}

/* The intersection of the documents' and CRLs' windows (dcap-verify.md 4.1). */
mt_err
mt_prepared_collateral_window(const struct mt_prepared_collateral *p, int64_t *not_before,
                              int64_t *not_after)
{
    const struct mt_tcb_info *t = p->tcb_info.doc;
    const struct mt_qe_identity *q = p->qe_identity.doc;
    int64_t lo, hi, tu, nu;
    X509_CRL *crls[2] = {p->root_crl, p->pck_crl};
    size_t i;

    MT_ENSURE(t != NULL, p->tcb_info.doc_err != MT_OK ? p->tcb_info.doc_err : MT_ERR_INTERNAL);
    MT_ENSURE(q != NULL,
              p->qe_identity.doc_err != MT_OK ? p->qe_identity.doc_err : MT_ERR_INTERNAL);
    lo = t->issue_date > q->issue_date ? t->issue_date : q->issue_date;
    hi = t->next_update < q->next_update ? t->next_update : q->next_update;
    for (i = 0; i < 2; i++) {
        MT_ENSURE(crls[i] != NULL, MT_ERR_COLLATERAL_FORMAT);
        MT_GUARD(mt_crl_window(crls[i], &tu, &nu));
        if (tu > lo)
            lo = tu;
        if (nu < hi)
            hi = nu;
    }
    *not_before = lo;
    *not_after = hi;
    return MT_OK;
}

void
mt_prepared_collateral_free(struct mt_prepared_collateral *p)
{
    if (p == NULL)
        return;
    /* The last reference frees. */
    if (atomic_fetch_sub(&p->refs, 1) > 1)
        return;
    X509_CRL_free(p->root_crl);
    X509_CRL_free(p->pck_crl);
    doc_release(&p->tcb_info, 1);
    doc_release(&p->qe_identity, 0);
    sk_X509_pop_free(p->pck_chain, X509_free);
    mt_collateral_free(p->col);
    mt_free(p);
}

mt_err
mt_collateral_prepare(const struct mt_collateral *c, struct mt_prepared_collateral **out)
{
    struct mt_prepared_collateral *p;
    struct mt_collateral *col;
    mt_err e = MT_OK;

    p = mt_calloc(1, sizeof(*p));
    MT_ENSURE(p != NULL, MT_ERR_NOMEM);
    atomic_init(&p->refs, 1);
    MT_GUARD_GOTO(mt_collateral_dup(c, &p->col), e, out);
    col = p->col;
    p->root_crl_err =
        recorded(mt_crl_from_der(col->root_ca_crl, col->root_ca_crl_len, &p->root_crl),
                 MT_ERR_COLLATERAL_FORMAT);
    MT_GUARD_GOTO(p->root_crl_err == MT_ERR_NOMEM ? MT_ERR_NOMEM : MT_OK, e, out);
    p->pck_crl_err = recorded(mt_crl_from_der(col->pck_crl, col->pck_crl_len, &p->pck_crl),
                              MT_ERR_COLLATERAL_FORMAT);
    MT_GUARD_GOTO(p->pck_crl_err == MT_ERR_NOMEM ? MT_ERR_NOMEM : MT_OK, e, out);
    MT_GUARD_GOTO(mt_sha256(col->root_ca_crl, col->root_ca_crl_len, p->root_crl_hash), e, out);
    MT_GUARD_GOTO(mt_sha256(col->pck_crl, col->pck_crl_len, p->pck_crl_hash), e, out);
    MT_GUARD_GOTO(doc_prepare(&p->tcb_info, 1, col->tcb_info, col->tcb_info_len,
                              col->tcb_info_signature, col->tcb_info_issuer_chain),
                  e, out);
    MT_GUARD_GOTO(doc_prepare(&p->qe_identity, 0, col->qe_identity, col->qe_identity_len,
                              col->qe_identity_signature, col->qe_identity_issuer_chain),
                  e, out);
    if (col->pck_certificate_chain != NULL) {
        p->pck_chain_err =
            recorded(mt_pem_chain_parse(col->pck_certificate_chain,
                                        strlen(col->pck_certificate_chain), &p->pck_chain),
                     MT_ERR_PCK_CHAIN);
        MT_GUARD_GOTO(p->pck_chain_err == MT_ERR_NOMEM ? MT_ERR_NOMEM : MT_OK, e, out);
        MT_GUARD_GOTO(mt_sha256(col->pck_certificate_chain, strlen(col->pck_certificate_chain),
                                p->pck_chain_hash),
                      e, out);
    }
    *out = p;
    p = NULL;
out:
    mt_prepared_collateral_free(p);
    return e;
}
