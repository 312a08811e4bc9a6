#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "dcap/pck.h"
#include "dcap/tcb_docs.h"
#include "dcap/tcb_match.h"
#include "dcap/verifier.h"
#include "dcap/x509.h"
#include "util/mt_alloc.h"

/*
 * dcap-verify.md section 2.1, in dcap-qvl's order so that the first failing
 * check is the one dcap-qvl would name.  Each step that depends only on
 * collateral and certificates goes through the cache (section 5).
 */

/* What one verification carries between its steps. */
struct vstate {
    struct mt_verifier *v;
    const struct mt_collateral *col;
    int64_t now;
    struct mt_verdict *out;
    X509_CRL *root_crl; /* borrowed from the cache */
    uint8_t root_crl_key[32];
    const char *last_chain_pem; /* the signing chain hashed last, and its key */
    uint8_t last_chain_key[32];
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

/* Cached values. */
struct root_crl_val {
    X509_CRL *crl;
};

struct chain_val {
    STACK_OF(X509) * chain;
};

struct signed_doc_val {
    void *doc; /* struct mt_tcb_info * or struct mt_qe_identity * */
    enum mt_cache_kind kind;
};

struct pck_val {
    STACK_OF(X509) * chain;
    X509 *leaf; /* borrowed from chain */
    struct mt_pck_info info;
    uint8_t key[32]; /* the cache key, reused by the QE report entry */
};

struct qe_report_val {
    EVP_PKEY *att_key;
};

static void
root_crl_val_free(void *p)
{
    struct root_crl_val *r = p;

    X509_CRL_free(r->crl);
    mt_free(r);
}

static void
chain_val_free(void *p)
{
    struct chain_val *c = p;

    sk_X509_pop_free(c->chain, X509_free);
    mt_free(c);
}

static void
signed_doc_val_free(void *p)
{
    struct signed_doc_val *d = p;

    if (d->kind == MT_CACHE_TCB_INFO)
        mt_tcb_info_free(d->doc);
    else
        mt_qe_identity_free(d->doc);
    mt_free(d);
}

static void
pck_val_free(void *p)
{
    struct pck_val *k = p;

    sk_X509_pop_free(k->chain, X509_free);
    mt_free(k);
}

static void
qe_report_val_free(void *p)
{
    struct qe_report_val *q = p;

    EVP_PKEY_free(q->att_key);
    mt_free(q);
}

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
    struct root_crl_val *val;
    X509_CRL *crl = NULL;
    X509_REVOKED *rev = NULL;
    const char *why = NULL;
    int64_t this_upd = 0, next_upd = 0;
    const struct mt_hash_part parts[] = {{s->col->root_ca_crl, s->col->root_ca_crl_len}};
    mt_err e = MT_OK;

    MT_GUARD(mt_verifier_hash(v, "root-crl", parts, 1, s->root_crl_key));
    val = mt_cache_get(&v->cache, MT_CACHE_ROOT_CRL, s->root_crl_key, s->now, &this_upd, &next_upd);
    if (val != NULL)
        goto done;
    MT_ENSURE(mt_crl_from_der(s->col->root_ca_crl, s->col->root_ca_crl_len, &crl) == MT_OK,
              MT_ERR_COLLATERAL_FORMAT);
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
    if (why != NULL) {
        e = fail(s, MT_ERR_ROOT_CRL, why);
        goto out;
    }
    val = mt_calloc(1, sizeof(*val));
    MT_ENSURE_GOTO(val != NULL, MT_ERR_NOMEM, e, out);
    val->crl = crl;
    crl = NULL;
    MT_GUARD_GOTO(mt_cache_put(&v->cache, MT_CACHE_ROOT_CRL, s->root_crl_key, this_upd, next_upd,
                               val, root_crl_val_free),
                  e, out);
done:
    s->root_crl = val->crl;
    window_narrow(s, this_upd, next_upd);
out:
    X509_CRL_free(crl);
    return e;
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
struct doc_spec {
    enum mt_cache_kind kind;
    const char *text;
    size_t text_len;
    const uint8_t *sig;
    const char *chain_pem;
    mt_err not_yet_valid, expired, chain_err, sig_err;
};

static mt_err
doc_parse(const struct doc_spec *d, void **doc, int64_t *issue, int64_t *next)
{
    if (d->kind == MT_CACHE_TCB_INFO) {
        struct mt_tcb_info *t;

        MT_GUARD(mt_tcb_info_parse(d->text, d->text_len, &t));
        *doc = t;
        *issue = t->issue_date;
        *next = t->next_update;
    } else {
        struct mt_qe_identity *q;

        MT_GUARD(mt_qe_identity_parse(d->text, d->text_len, &q));
        *doc = q;
        *issue = q->issue_date;
        *next = q->next_update;
    }
    return MT_OK;
}

static void
doc_free(enum mt_cache_kind kind, void *doc)
{
    if (kind == MT_CACHE_TCB_INFO)
        mt_tcb_info_free(doc);
    else
        mt_qe_identity_free(doc);
}

/*
 * A TCB-signing chain (TCB Info and QE Identity usually share the same
 * bytes, so the second document finds it cached even in a cold run).
 */
static mt_err
signing_chain(struct vstate *s, const struct doc_spec *d, const uint8_t key[32], X509 **leaf)
{
    struct mt_verifier *v = s->v;
    struct chain_val *val = NULL;
    STACK_OF(X509) *chain = NULL;
    int64_t nb, na;
    char detail[200] = "";
    mt_err e = MT_OK;

    val = mt_cache_get(&v->cache, MT_CACHE_CHAIN, key, s->now, &nb, &na);
    if (val != NULL)
        goto done;
    e = mt_verifier_pem_chain(v, d->chain_pem, strlen(d->chain_pem), &chain);
    MT_ENSURE(e == MT_OK, e == MT_ERR_NOMEM ? e : d->chain_err);
    /* Intel requires exactly TCB Signing + root (2.4 step 4). */
    e = mt_chain_verify(v, chain, NULL, s->root_crl, s->now, 2, d->chain_err, &nb, &na, detail,
                        sizeof(detail));
    MT_ENSURE_GOTO(e == MT_OK, e, e, out);
    val = mt_calloc(1, sizeof(*val));
    MT_ENSURE_GOTO(val != NULL, MT_ERR_NOMEM, e, out);
    val->chain = chain;
    chain = NULL;
    MT_GUARD_GOTO(mt_cache_put(&v->cache, MT_CACHE_CHAIN, key, nb, na, val, chain_val_free), e,
                  out);
done:
    window_narrow(s, nb, na);
    *leaf = sk_X509_value(val->chain, 0);
out:
    if (e != MT_OK && detail[0] != '\0')
        (void)fail(s, e, detail);
    sk_X509_pop_free(chain, X509_free);
    return e;
}

static mt_err
step_signed_doc(struct vstate *s, const struct doc_spec *d, void **doc_out)
{
    struct mt_verifier *v = s->v;
    struct signed_doc_val *val;
    void *doc = NULL;
    uint8_t key[32], chain_key[32];
    int64_t issue, next, nb, na;
    X509 *signer = NULL;
    mt_err e = MT_OK;

    struct mt_hash_part chain_parts[] = {{d->chain_pem, strlen(d->chain_pem)},
                                         {s->root_crl_key, 32}};
    struct mt_hash_part doc_parts[] = {{d->text, d->text_len}, {d->sig, 64}, {chain_key, 32}};

    /* TCB Info and QE Identity usually share their chain: hash it once. */
    if (s->last_chain_pem != NULL && strcmp(s->last_chain_pem, d->chain_pem) == 0) {
        memcpy(chain_key, s->last_chain_key, 32);
    } else {
        MT_GUARD(mt_verifier_hash(v, "signing-chain", chain_parts, 2, chain_key));
        s->last_chain_pem = d->chain_pem;
        memcpy(s->last_chain_key, chain_key, 32);
    }
    MT_GUARD(mt_verifier_hash(v, d->kind == MT_CACHE_TCB_INFO ? "tcb-info" : "qe-identity",
                              doc_parts, 3, key));
    val = mt_cache_get(&v->cache, d->kind, key, s->now, &nb, &na);
    if (val != NULL) {
        window_narrow(s, nb, na);
        *doc_out = val->doc;
        return MT_OK;
    }
    MT_GUARD(doc_parse(d, &doc, &issue, &next));
    MT_ENSURE_GOTO(s->now >= issue, d->not_yet_valid, e, out);
    MT_ENSURE_GOTO(s->now <= next, d->expired, e, out);
    MT_GUARD_GOTO(signing_chain(s, d, chain_key, &signer), e, out);
    MT_GUARD_GOTO(mt_ecdsa_verify_raw(X509_get0_pubkey(signer), (const uint8_t *)d->text,
                                      d->text_len, d->sig, d->sig_err),
                  e, out);
    val = mt_calloc(1, sizeof(*val));
    MT_ENSURE_GOTO(val != NULL, MT_ERR_NOMEM, e, out);
    val->doc = doc;
    val->kind = d->kind;
    doc = NULL;
    /* The document holds while it is current and its chain holds (s->lo/hi has the chain). */
    nb = issue > s->lo ? issue : s->lo;
    na = next < s->hi ? next : s->hi;
    MT_GUARD_GOTO(mt_cache_put(&v->cache, d->kind, key, nb, na, val, signed_doc_val_free), e, out);
    window_narrow(s, nb, na);
    *doc_out = val->doc;
out:
    doc_free(d->kind, doc);
    return e;
}

static mt_err
step_tcb_info(struct vstate *s, struct mt_tcb_info **out)
{
    struct doc_spec d = {MT_CACHE_TCB_INFO,
                         s->col->tcb_info,
                         s->col->tcb_info_len,
                         s->col->tcb_info_signature,
                         s->col->tcb_info_issuer_chain,
                         MT_ERR_TCB_INFO_NOT_YET_VALID,
                         MT_ERR_TCB_INFO_EXPIRED,
                         MT_ERR_TCB_INFO_CHAIN,
                         MT_ERR_TCB_INFO_SIGNATURE};
    void *doc;

    MT_GUARD(step_signed_doc(s, &d, &doc));
    *out = doc;
    return MT_OK;
}

static mt_err
step_qe_identity(struct vstate *s, struct mt_qe_identity **out)
{
    struct doc_spec d = {MT_CACHE_QE_IDENTITY,
                         s->col->qe_identity,
                         s->col->qe_identity_len,
                         s->col->qe_identity_signature,
                         s->col->qe_identity_issuer_chain,
                         MT_ERR_QE_IDENTITY_NOT_YET_VALID,
                         MT_ERR_QE_IDENTITY_EXPIRED,
                         MT_ERR_QE_IDENTITY_CHAIN,
                         MT_ERR_QE_IDENTITY_SIGNATURE};
    const struct mt_quote *q = &s->out->quote;
    struct mt_qe_identity *qe;
    void *doc;

    MT_GUARD(step_signed_doc(s, &d, &doc));
    qe = doc;
    /* 2.5: the QE identity must be for the quote's TEE type. */
    if (q->tee_type == MT_TEE_TDX)
        MT_ENSURE(strcmp(qe->id, "TD_QE") == 0 && (qe->version == 2 || qe->version == 3),
                  MT_ERR_QE_IDENTITY_TYPE);
    else
        MT_ENSURE(strcmp(qe->id, "QE") == 0 && qe->version == 2, MT_ERR_QE_IDENTITY_TYPE);
    *out = qe;
    return MT_OK;
}

/* Step 5: PCK chain (collateral's if given, else the quote's type-5 data). */
static mt_err
step_pck(struct vstate *s, struct pck_val **out)
{
    struct mt_verifier *v = s->v;
    const struct mt_quote *q = &s->out->quote;
    struct pck_val *val = NULL;
    X509_CRL *pck_crl = NULL;
    const char *pem;
    size_t pem_len;
    struct mt_hash_part parts[] = {
        {NULL, 0}, {s->col->pck_crl, s->col->pck_crl_len}, {s->root_crl_key, 32}};
    uint8_t key[32];
    int64_t nb, na;
    char detail[200] = "";
    mt_err e = MT_OK;

    if (s->col->pck_certificate_chain != NULL) {
        pem = s->col->pck_certificate_chain;
        pem_len = strlen(pem);
    } else {
        /* Types 2/3 (encrypted PPID) need the chain from the collateral (1.9). */
        MT_ENSURE(q->cert_type == 5, MT_ERR_QUOTE_CERT_TYPE);
        pem = (const char *)q->cert_data;
        pem_len = q->cert_data_len;
    }
    parts[0].p = pem;
    parts[0].len = pem_len;
    MT_GUARD(mt_verifier_hash(v, "pck", parts, 3, key));
    val = mt_cache_get(&v->cache, MT_CACHE_PCK, key, s->now, &nb, &na);
    if (val != NULL) {
        window_narrow(s, nb, na);
        goto done;
    }
    val = mt_calloc(1, sizeof(*val));
    MT_ENSURE(val != NULL, MT_ERR_NOMEM);
    memcpy(val->key, key, 32);
    e = mt_verifier_pem_chain(v, pem, pem_len, &val->chain);
    MT_ENSURE_GOTO(e == MT_OK, e == MT_ERR_NOMEM ? e : MT_ERR_PCK_CHAIN, e, out);
    val->leaf = sk_X509_value(val->chain, 0);
    MT_GUARD_GOTO(mt_crl_from_der(s->col->pck_crl, s->col->pck_crl_len, &pck_crl), e, out);
    /* Intel: leaf, Processor/Platform CA, root. */
    MT_GUARD_GOTO(mt_chain_verify(v, val->chain, pck_crl, s->root_crl, s->now, 3, MT_ERR_PCK_CHAIN,
                                  &nb, &na, detail, sizeof(detail)),
                  e, out);
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
    if (e != MT_OK) {
        if (detail[0] != '\0')
            (void)fail(s, e, detail);
        /* Not yet owned by the cache. */
        pck_val_free(val);
    }
    X509_CRL_free(pck_crl);
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
    struct mt_tcb_info *tcb;
    struct mt_qe_identity *qe;
    struct pck_val *pck;
    const struct mt_tcb_level *level;
    struct mt_tcb_result merged;
    EVP_PKEY *att_key;

    MT_GUARD(step_root_crl(s));
    MT_GUARD(step_parse_quote(s, quote, len));
    MT_GUARD(step_tcb_info(s, &tcb));
    MT_GUARD(step_qe_identity(s, &qe));
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
mt_verify_quote(struct mt_verifier *v, const uint8_t *quote, size_t len,
                const struct mt_collateral *col, int64_t now, struct mt_verdict *verdict)
{
    struct vstate s;
    mt_err e;

    memset(verdict, 0, sizeof(*verdict));
    memset(&s, 0, sizeof(s));
    s.v = v;
    s.col = col;
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
