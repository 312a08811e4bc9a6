#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "dcap/pck.h"
#include "dcap/prepared.h"
#include "dcap/tcb_docs.h"
#include "dcap/tcb_match.h"
#include "dcap/verifier.h"
#include "dcap/x509.h"
#include "util/mt_alloc.h"
#include "util/mt_time.h"

/*
 * dcap-verify.md section 2.1, in dcap-qvl's order so that the first failing
 * check is the one dcap-qvl would name.  Each step that depends only on
 * collateral and certificates goes through the cache (section 5); a cache
 * entry records that a check passed and the window in which that holds,
 * the objects themselves come from the prepared collateral.
 */

/* What one verification carries between its steps. */
struct vstate {
    struct mt_verifier *v;
    const struct mt_prepared_collateral *pc;
    int64_t now;
    struct mt_verdict *out;
    uint8_t root_crl_key[32];
    int64_t lo, hi; /* validity window of everything relied on */
};

static void
window_narrow(struct vstate *s, int64_t nb, int64_t na)
{
    if (nb > s->lo)
        s->lo = nb;
    if (na < s->hi)
        s->hi = na;
}

/* Cached values that carry more than "passed". */
struct pck_val {
    STACK_OF(X509) *chain;
    X509 *leaf; /* borrowed from chain */
    struct mt_pck_info info;
    uint8_t key[32]; /* the cache key, reused by the QE report entry */
};

struct qe_report_val {
    EVP_PKEY *att_key;
};

static void
pck_val_free(void *p)
{
    struct pck_val *k = p;

    if (k == NULL)
        return;
    sk_X509_pop_free(k->chain, X509_free);
    mt_free(k);
}

static void
qe_report_val_free(void *p)
{
    struct qe_report_val *q = p;

    if (q == NULL)
        return;
    EVP_PKEY_free(q->att_key);
    mt_free(q);
}

/* A stand-in value for entries that only record success. */
static char passed;

static mt_err
fail(struct vstate *s, mt_err e, const char *detail)
{
    s->out->err = e;
    if (detail != NULL && s->out->detail[0] == '\0')
        snprintf(s->out->detail, sizeof(s->out->detail), "%s", detail);
    return e;
}

/* Step 1: the root CRL is signed by the pinned root, current, and does not revoke it. */
static mt_err
step_root_crl(struct vstate *s)
{
    struct mt_verifier *v = s->v;
    X509_CRL *crl = s->pc->root_crl;
    X509_REVOKED *rev = NULL;
    const char *why = NULL;
    int64_t this_upd = 0, next_upd = 0;
    const struct mt_hash_part parts[] = {{s->pc->root_crl_hash, 32}};

    MT_GUARD(mt_verifier_hash(v, "root-crl", parts, 1, s->root_crl_key));
    if (mt_cache_get(&v->cache, MT_CACHE_ROOT_CRL, s->root_crl_key, s->now, &this_upd, &next_upd) !=
        NULL)
        goto done;
    MT_GUARD(s->pc->root_crl_err);
    if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(v->root)) != 0)
        why = "the root CRL is not issued by the pinned root";
    else if (X509_CRL_verify(crl, X509_get0_pubkey(v->root)) != 1)
        why = "the root CRL is not signed by the pinned root";
    else if (X509_CRL_get_ext_by_critical(crl, 1, -1) >= 0)
        why = "the root CRL has a critical extension";
    else if (mt_crl_window(crl, &this_upd, &next_upd) != MT_OK)
        why = "the root CRL has no valid thisUpdate/nextUpdate";
    else if (s->now < this_upd)
        why = "the root CRL is not yet valid";
    else if (s->now > next_upd)
        why = "the root CRL has expired";
    else if (X509_CRL_get0_by_cert(crl, &rev, v->root) == 1)
        why = "the root CRL revokes the pinned root";
    if (why != NULL)
        return fail(s, MT_ERR_ROOT_CRL, why);
    MT_GUARD(mt_cache_put(&v->cache, MT_CACHE_ROOT_CRL, s->root_crl_key, this_upd, next_upd,
                          &passed, NULL));
done:
    window_narrow(s, this_upd, next_upd);
    return MT_OK;
}

/* Step 2 and the header checks of 2.3. */
static mt_err
step_parse_quote(struct vstate *s, const uint8_t *quote, size_t len)
{
    mt_err e;

    MT_ENSURE(!mt_quote_is_mock(quote, len), MT_ERR_QUOTE_VERSION);
    e = mt_quote_parse(quote, len, &s->out->quote);
    if (e == MT_ERR_TRUNCATED || e == MT_ERR_TOO_LARGE)
        e = MT_ERR_QUOTE_DECODE;
    MT_GUARD(e);
    s->out->quote_parsed = 1;
    return MT_OK;
}

/*
 * Steps 3 and 4: a signed collateral document.  Order inside (2.4): parse,
 * issue/next dates, signing chain, signature over the exact text.
 */
struct doc_errors {
    enum mt_cache_kind kind;
    const char *tag;
    mt_err not_yet_valid, expired, chain_err, sig_err;
};

static const struct doc_errors tcb_info_errors = {MT_CACHE_TCB_INFO,
                                                  "tcb-info",
                                                  MT_ERR_TCB_INFO_NOT_YET_VALID,
                                                  MT_ERR_TCB_INFO_EXPIRED,
                                                  MT_ERR_TCB_INFO_CHAIN,
                                                  MT_ERR_TCB_INFO_SIGNATURE};

static const struct doc_errors qe_identity_errors = {MT_CACHE_QE_IDENTITY,
                                                     "qe-identity",
                                                     MT_ERR_QE_IDENTITY_NOT_YET_VALID,
                                                     MT_ERR_QE_IDENTITY_EXPIRED,
                                                     MT_ERR_QE_IDENTITY_CHAIN,
                                                     MT_ERR_QE_IDENTITY_SIGNATURE};

static void
doc_dates(const struct doc_errors *k, const void *doc, int64_t *issue, int64_t *next)
{
    if (k->kind == MT_CACHE_TCB_INFO) {
        *issue = ((const struct mt_tcb_info *)doc)->issue_date;
        *next = ((const struct mt_tcb_info *)doc)->next_update;
    } else {
        *issue = ((const struct mt_qe_identity *)doc)->issue_date;
        *next = ((const struct mt_qe_identity *)doc)->next_update;
    }
}

/* A TCB-signing chain; TCB Info and QE Identity usually share it, so it is verified once. */
static mt_err
signing_chain(struct vstate *s, const struct mt_prepared_signed_doc *d, const struct doc_errors *k,
              const uint8_t key[32])
{
    int64_t nb, na;
    char detail[200] = "";
    mt_err e;

    if (mt_cache_get(&s->v->cache, MT_CACHE_CHAIN, key, s->now, &nb, &na) != NULL) {
        window_narrow(s, nb, na);
        return MT_OK;
    }
    MT_GUARD(d->chain_err);
    /* Intel requires exactly TCB Signing + root (2.4 step 4). */
    e = mt_chain_verify(s->v, d->chain, NULL, s->pc->root_crl, s->now, 2, k->chain_err, &nb, &na,
                        detail, sizeof(detail));
    if (e != MT_OK)
        return fail(s, e, detail[0] != '\0' ? detail : NULL);
    MT_GUARD(mt_cache_put(&s->v->cache, MT_CACHE_CHAIN, key, nb, na, &passed, NULL));
    window_narrow(s, nb, na);
    return MT_OK;
}

static mt_err
step_signed_doc(struct vstate *s, const struct mt_prepared_signed_doc *d,
                const struct doc_errors *k)
{
    struct mt_verifier *v = s->v;
    uint8_t key[32], chain_key[32];
    int64_t issue, next, nb, na;
    char detail[96];
    const struct mt_hash_part chain_parts[] = {{d->chain_hash, 32}, {s->root_crl_key, 32}};
    const struct mt_hash_part doc_parts[] = {{d->doc_hash, 32}, {chain_key, 32}};

    MT_GUARD(mt_verifier_hash(v, "signing-chain", chain_parts, 2, chain_key));
    MT_GUARD(mt_verifier_hash(v, k->tag, doc_parts, 2, key));
    if (mt_cache_get(&v->cache, k->kind, key, s->now, &nb, &na) != NULL) {
        window_narrow(s, nb, na);
        return MT_OK;
    }
    MT_GUARD(d->doc_err);
    doc_dates(k, d->doc, &issue, &next);
    if (s->now < issue || s->now > next) {
        char a[21], b[21];

        mt_rfc3339_format(issue, a);
        mt_rfc3339_format(next, b);
        snprintf(detail, sizeof(detail), "valid from %s to %s", a, b);
        return fail(s, s->now < issue ? k->not_yet_valid : k->expired, detail);
    }
    MT_GUARD(signing_chain(s, d, k, chain_key));
    MT_GUARD(mt_ecdsa_verify_raw(X509_get0_pubkey(sk_X509_value(d->chain, 0)),
                                 (const uint8_t *)d->text, d->text_len, d->sig, k->sig_err));
    /* The document holds while it is current and its chain holds. */
    MT_GUARD(mt_cache_put(&v->cache, k->kind, key, issue > s->lo ? issue : s->lo,
                          next < s->hi ? next : s->hi, &passed, NULL));
    window_narrow(s, issue, next);
    return MT_OK;
}

static mt_err
step_qe_identity_type(struct vstate *s, const struct mt_qe_identity *qe)
{
    const struct mt_quote *q = &s->out->quote;

    /* 2.5: the QE identity must be for the quote's TEE type. */
    if (q->tee_type == MT_TEE_TDX)
        MT_ENSURE(strcmp(qe->id, "TD_QE") == 0 && (qe->version == 2 || qe->version == 3),
                  MT_ERR_QE_IDENTITY_TYPE);
    else
        MT_ENSURE(strcmp(qe->id, "QE") == 0 && qe->version == 2, MT_ERR_QE_IDENTITY_TYPE);
    return MT_OK;
}

/* Step 5: PCK chain (collateral's if given, else the quote's type-5 data). */
static mt_err
step_pck(struct vstate *s, struct pck_val **out)
{
    struct mt_verifier *v = s->v;
    const struct mt_prepared_collateral *pc = s->pc;
    const struct mt_quote *q = &s->out->quote;
    struct pck_val *val = NULL;
    uint8_t pem_hash[32], key[32];
    int64_t nb, na;
    char detail[200] = "";
    const struct mt_hash_part parts[] = {
        {pem_hash, 32}, {pc->pck_crl_hash, 32}, {s->root_crl_key, 32}};
    mt_err e = MT_OK;

    if (pc->col->pck_certificate_chain != NULL) {
        memcpy(pem_hash, pc->pck_chain_hash, 32);
    } else {
        /* Types 2/3 (encrypted PPID) need the chain from the collateral (1.9). */
        MT_ENSURE(q->cert_type == 5, MT_ERR_QUOTE_CERT_TYPE);
        MT_GUARD(mt_sha256(q->cert_data, q->cert_data_len, pem_hash));
    }
    MT_GUARD(mt_verifier_hash(v, "pck", parts, 3, key));
    val = mt_cache_get(&v->cache, MT_CACHE_PCK, key, s->now, &nb, &na);
    if (val != NULL) {
        window_narrow(s, nb, na);
        goto done;
    }
    val = mt_calloc(1, sizeof(*val));
    MT_ENSURE(val != NULL, MT_ERR_NOMEM);
    memcpy(val->key, key, 32);
    if (pc->col->pck_certificate_chain != NULL) {
        MT_GUARD_GOTO(pc->pck_chain_err, e, out);
        val->chain = X509_chain_up_ref(pc->pck_chain);
        MT_ENSURE_GOTO(val->chain != NULL, MT_ERR_NOMEM, e, out);
    } else {
        e = mt_verifier_pem_chain(v, (const char *)q->cert_data, q->cert_data_len, &val->chain);
        MT_ENSURE_GOTO(e == MT_OK, e == MT_ERR_NOMEM ? e : MT_ERR_PCK_CHAIN, e, out);
    }
    val->leaf = sk_X509_value(val->chain, 0);
    MT_GUARD_GOTO(pc->pck_crl_err, e, out);
    /* Intel: leaf, Processor/Platform CA, root. */
    e = mt_chain_verify(v, val->chain, pc->pck_crl, pc->root_crl, s->now, 3, MT_ERR_PCK_CHAIN, &nb,
                        &na, detail, sizeof(detail));
    if (e != MT_OK) {
        (void)fail(s, e, detail[0] != '\0' ? detail : NULL);
        goto out;
    }
    MT_GUARD_GOTO(mt_pck_info_parse(val->leaf, &val->info), e, out);
    e = mt_cache_put(&v->cache, MT_CACHE_PCK, key, nb, na, val, pck_val_free);
    if (e != MT_OK) {
        val = NULL; /* freed by the cache */
        goto out;
    }
    window_narrow(s, nb, na);
done:
    s->out->pck_parsed = 1;
    memcpy(s->out->fmspc, val->info.fmspc, 6);
    memcpy(s->out->pce_id, val->info.pce_id, 2);
    memcpy(s->out->cpu_svn, val->info.cpu_svn, 16);
    s->out->pce_svn = val->info.pce_svn;
    *out = val;
    val = NULL;
out:
    if (e != MT_OK)
        pck_val_free(val); /* not yet owned by the cache */
    return e;
}

/* Steps 6 and 7: QE report signed by the PCK key, and binding the attestation key. */
static mt_err
step_qe_report(struct vstate *s, const struct pck_val *pck, EVP_PKEY **att_key)
{
    struct mt_verifier *v = s->v;
    const struct mt_quote *q = &s->out->quote;
    struct qe_report_val *val = NULL;
    uint8_t key[32], digest[32];
    unsigned int dlen = 32;
    int64_t nb, na;
    EVP_MD_CTX *md = NULL;
    mt_err e = MT_OK;

    const struct mt_hash_part parts[] = {{pck->key, 32},
                                         {q->qe_report_raw, MT_SGX_REPORT_SIZE},
                                         {q->qe_report_sig, 64},
                                         {q->att_key, 64},
                                         {q->qe_auth_data, q->qe_auth_data_len}};

    MT_GUARD(mt_verifier_hash(v, "qe-report", parts, 5, key));
    val = mt_cache_get(&v->cache, MT_CACHE_QE_REPORT, key, s->now, &nb, &na);
    if (val != NULL) {
        *att_key = val->att_key;
        return MT_OK;
    }
    MT_GUARD(mt_ecdsa_verify_raw(X509_get0_pubkey(pck->leaf), q->qe_report_raw, MT_SGX_REPORT_SIZE,
                                 q->qe_report_sig, MT_ERR_QE_REPORT_SIGNATURE));
    /* dcap-qvl requires exactly 32 bytes of QE auth data (2.8). */
    MT_ENSURE(q->qe_auth_data_len == 32, MT_ERR_QUOTE_QE_AUTH_LEN);
    md = EVP_MD_CTX_new();
    MT_ENSURE(md != NULL, MT_ERR_NOMEM);
    MT_ENSURE_GOTO(EVP_DigestInit_ex(md, v->sha256, NULL) == 1 &&
                       EVP_DigestUpdate(md, q->att_key, 64) == 1 &&
                       EVP_DigestUpdate(md, q->qe_auth_data, q->qe_auth_data_len) == 1 &&
                       EVP_DigestFinal_ex(md, digest, &dlen) == 1,
                   MT_ERR_CRYPTO, e, out);
    MT_ENSURE_GOTO(CRYPTO_memcmp(digest, q->qe_report.report_data, 32) == 0, MT_ERR_QE_REPORT_HASH,
                   e, out);
    val = mt_calloc(1, sizeof(*val));
    MT_ENSURE_GOTO(val != NULL, MT_ERR_NOMEM, e, out);
    e = mt_p256_key_from_raw(q->att_key, &val->att_key);
    if (e != MT_OK) {
        /* An off-curve key can never have signed the quote. */
        e = MT_ERR_QUOTE_SIGNATURE;
        qe_report_val_free(val);
        goto out;
    }
    /* Valid as long as the PCK entry it hangs off: that one is re-checked on every use. */
    MT_GUARD_GOTO(mt_cache_put(&v->cache, MT_CACHE_QE_REPORT, key, INT64_MIN, INT64_MAX, val,
                               qe_report_val_free),
                  e, out);
    *att_key = val->att_key;
out:
    EVP_MD_CTX_free(md);
    return e;
}

/* Step 12: report attribute policy (1.6, 2.12). */
static mt_err
step_attributes(struct vstate *s)
{
    const struct mt_quote *q = &s->out->quote;
    const uint8_t *a = q->td.td_attributes;
    static const uint8_t zero[48];

    if (q->body_kind == MT_BODY_SGX) {
        MT_ENSURE(s->v->allow_debug || (q->sgx.attributes[0] & 0x02) == 0, MT_ERR_DEBUG_ENABLED);
        return MT_OK;
    }
    /* Bits 1-7 (TUD reserved), 8-27, 29, 32-62 must be zero. */
    MT_ENSURE((a[0] & 0xfe) == 0 && a[1] == 0 && a[2] == 0 && (a[3] & 0x2f) == 0 && a[4] == 0 &&
                  a[5] == 0 && a[6] == 0 && (a[7] & 0x7f) == 0,
              MT_ERR_TD_RESERVED_BITS);
    MT_ENSURE(s->v->allow_debug || (a[0] & 0x01) == 0, MT_ERR_DEBUG_ENABLED);
    MT_ENSURE((a[3] & 0x10) != 0, MT_ERR_SEPT_VE_DISABLE);
    if (q->body_kind == MT_BODY_TD15)
        MT_ENSURE(s->v->allow_service_td || memcmp(q->td.mr_service_td, zero, 48) == 0,
                  MT_ERR_MR_SERVICE_TD);
    return MT_OK;
}

static mt_err
verify_steps(struct vstate *s, const uint8_t *quote, size_t len)
{
    const struct mt_quote *q = &s->out->quote;
    struct mt_verdict *out = s->out;
    const struct mt_tcb_info *tcb = s->pc->tcb_info.doc;
    const struct mt_qe_identity *qe = s->pc->qe_identity.doc;
    struct pck_val *pck;
    const struct mt_tcb_level *level;
    struct mt_tcb_result merged;
    EVP_PKEY *att_key;

    MT_GUARD(step_root_crl(s));
    MT_GUARD(step_parse_quote(s, quote, len));
    /* A cache hit skips the decode check; the documents must exist all the same. */
    MT_ENSURE(tcb != NULL,
              s->pc->tcb_info.doc_err != MT_OK ? s->pc->tcb_info.doc_err : MT_ERR_INTERNAL);
    MT_ENSURE(qe != NULL,
              s->pc->qe_identity.doc_err != MT_OK ? s->pc->qe_identity.doc_err : MT_ERR_INTERNAL);
    MT_GUARD(step_signed_doc(s, &s->pc->tcb_info, &tcb_info_errors));
    MT_GUARD(step_signed_doc(s, &s->pc->qe_identity, &qe_identity_errors));
    MT_GUARD(step_qe_identity_type(s, s->pc->qe_identity.doc));
    MT_GUARD(step_pck(s, &pck));
    MT_GUARD(step_qe_report(s, pck, &att_key));
    MT_GUARD(mt_tcb_match_qe(qe, &q->qe_report, &out->qe));
    MT_GUARD(mt_ecdsa_verify_raw(att_key, q->signed_region, q->signed_len, q->quote_sig,
                                 MT_ERR_QUOTE_SIGNATURE));
    MT_GUARD(mt_tcb_match_platform(tcb, q, &pck->info, &level));
    out->platform = level->result;
    out->tcb_date = level->tcb_date;
    memcpy(out->level_sgx, level->sgx, 16);
    memcpy(out->level_tdx, level->tdx, 16);
    out->level_pce_svn = level->pcesvn;
    merged = out->platform;
    if (q->tee_type == MT_TEE_TDX) {
        MT_GUARD(mt_tcb_match_module(tcb, &q->td, &out->has_module, out->module_id, &out->module));
        if (out->has_module)
            MT_GUARD(mt_tcb_merge(&merged, &out->module, &merged));
    }
    MT_GUARD(mt_tcb_merge(&merged, &out->qe, &merged));
    out->tcb = merged;
    MT_ENSURE(merged.status != MT_TCB_REVOKED, MT_ERR_TCB_REVOKED);
    return step_attributes(s);
}

mt_err
mt_verify_quote_prepared(struct mt_verifier *v, const uint8_t *quote, size_t len,
                         const struct mt_prepared_collateral *pc, int64_t now,
                         struct mt_verdict *verdict)
{
    struct vstate s;
    mt_err e;

    memset(verdict, 0, sizeof(*verdict));
    memset(&s, 0, sizeof(s));
    s.v = v;
    s.pc = pc;
    s.now = now;
    s.out = verdict;
    s.lo = INT64_MIN;
    s.hi = INT64_MAX;
    mt_cache_begin(&v->cache);
    e = verify_steps(&s, quote, len);
    verdict->err = e;
    if (e == MT_OK) {
        verdict->valid_from = s.lo;
        verdict->valid_until = s.hi;
    }
    if (v->no_cache)
        mt_cache_clear(&v->cache);
    return e;
}

mt_err
mt_verify_quote(struct mt_verifier *v, const uint8_t *quote, size_t len,
                const struct mt_collateral *col, int64_t now, struct mt_verdict *verdict)
{
    struct mt_prepared_collateral *pc;
    mt_err e;

    e = mt_collateral_prepare(col, &pc);
    if (e != MT_OK) {
        memset(verdict, 0, sizeof(*verdict));
        verdict->err = e;
        return e;
    }
    e = mt_verify_quote_prepared(v, quote, len, pc, now, verdict);
    mt_prepared_collateral_free(pc);
    return e;
}
