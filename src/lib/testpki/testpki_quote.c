#include "testpki/testpki.h"

#include <pthread.h>
#include <string.h>

#include <openssl/evp.h>

#include "util/mt_alloc.h"
#include "util/mt_buf.h"
#include "util/mt_limits.h"

/*
 * Quote bytes in the exact layouts of dcap-verify.md section 1: header,
 * [v5 body descriptor], body, then the signature data (1.7 for v3, 1.8 with
 * the type 6 wrapper for v4/v5).  The QE report binds the attestation key
 * (2.8) and is signed by the PCK leaf key (2.7); the attestation key signs
 * header || [descriptor] || body (2.10).
 */

#define CERT_TYPE_PCK_CHAIN 5
#define CERT_TYPE_QE_REPORT 6
#define ATT_KEY_TYPE_ECDSA_P256 2

static void
put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void
put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t)v);
    put16(p + 2, (uint16_t)(v >> 16));
}

static mt_err
add16(struct mt_buf *b, uint16_t v)
{
    uint8_t le[2];

    put16(le, v);
    return mt_buf_append(b, le, 2);
}

static mt_err
add32(struct mt_buf *b, uint32_t v)
{
    uint8_t le[4];

    put32(le, v);
    return mt_buf_append(b, le, 4);
}

void
mt_testpki_sgx_report_encode(const struct mt_sgx_report *r, uint8_t out[MT_SGX_REPORT_SIZE])
{
    memset(out, 0, MT_SGX_REPORT_SIZE);
    memcpy(out, r->cpu_svn, 16);
    put32(out + 16, r->misc_select);
    memcpy(out + 48, r->attributes, 16);
    memcpy(out + 64, r->mr_enclave, 32);
    memcpy(out + 128, r->mr_signer, 32);
    memcpy(out + 192, r->config_id, 64);
    put16(out + 256, r->isv_prod_id);
    put16(out + 258, r->isv_svn);
    put16(out + 260, r->config_svn);
    memcpy(out + 320, r->report_data, 64);
}

void
mt_testpki_td_report_encode(const struct mt_td_report *r, int td15, uint8_t *out)
{
    int i;

    memcpy(out, r->tee_tcb_svn, 16);
    memcpy(out + 16, r->mr_seam, 48);
    memcpy(out + 64, r->mr_signer_seam, 48);
    memcpy(out + 112, r->seam_attributes, 8);
    memcpy(out + 120, r->td_attributes, 8);
    memcpy(out + 128, r->xfam, 8);
    memcpy(out + 136, r->mr_td, 48);
    memcpy(out + 184, r->mr_config_id, 48);
    memcpy(out + 232, r->mr_owner, 48);
    memcpy(out + 280, r->mr_owner_config, 48);
    for (i = 0; i < 4; i++)
        memcpy(out + 328 + 48 * i, r->rt_mr[i], 48);
    memcpy(out + 520, r->report_data, 64);
    if (td15) {
        memcpy(out + 584, r->tee_tcb_svn2, 16);
        memcpy(out + 600, r->mr_service_td, 48);
    }
}

/* header || [descriptor] || body: the region the attestation key signs. */
static mt_err
signed_region(const struct mt_testpki_params *p, struct mt_buf *b)
{
    const struct mt_testpki_quote_params *q = &p->quote;
    uint8_t hdr[MT_QUOTE_HEADER_SIZE] = {0};
    uint8_t body[MT_TD15_REPORT_SIZE];
    uint16_t version, body_type = 0;
    uint32_t tee, body_size;

    switch (p->kind) {
    case MT_TESTPKI_TDX_V4:
        version = 4;
        body_size = MT_TD10_REPORT_SIZE;
        break;
    case MT_TESTPKI_TDX_V5_TD10:
        version = 5;
        body_type = 2;
        body_size = MT_TD10_REPORT_SIZE;
        break;
    case MT_TESTPKI_TDX_V5_TD15:
        version = 5;
        body_type = 3;
        body_size = MT_TD15_REPORT_SIZE;
        break;
    case MT_TESTPKI_SGX_V3:
        version = 3;
        body_size = MT_SGX_REPORT_SIZE;
        break;
    default:
        return MT_ERR_ARG;
    }
    tee = p->kind == MT_TESTPKI_SGX_V3 ? MT_TEE_SGX : MT_TEE_TDX;

    put16(hdr, version);
    put16(hdr + 2, ATT_KEY_TYPE_ECDSA_P256);
    put32(hdr + 4, tee);
    if (version == 3) {
        /* informational only (1.1), but real SGX quotes fill them */
        put16(hdr + 8, q->qe.isv_svn);
        put16(hdr + 10, p->pck.pce_svn);
    }
    memcpy(hdr + 12, mt_intel_qe_vendor_id, 16);
    memcpy(hdr + 28, q->qe_id, 16);
    MT_GUARD(mt_buf_append(b, hdr, sizeof(hdr)));
    if (version == 5) {
        MT_GUARD(add16(b, body_type));
        MT_GUARD(add32(b, body_size));
    }
    if (p->kind == MT_TESTPKI_SGX_V3)
        mt_testpki_sgx_report_encode(&q->sgx, body);
    else
        mt_testpki_td_report_encode(&q->td, p->kind == MT_TESTPKI_TDX_V5_TD15, body);
    return mt_buf_append(b, body, body_size);
}

/*
 * A real QE signs its report once, when the attestation key is certified, so
 * every quote of a platform carries the same QE report and signature (and a
 * verifier may cache that check).  ECDSA is randomised, so to behave alike the
 * last signature is kept and reused for identical report bytes under the same
 * PCK key, compared by its public key (a pointer could be reused).
 */
static pthread_mutex_t qe_sig_lock = PTHREAD_MUTEX_INITIALIZER;
static uint8_t qe_sig_pub[65], qe_sig_rep[MT_SGX_REPORT_SIZE], qe_sig_val[64];
static int qe_sig_valid;

static mt_err
sign_qe_report(EVP_PKEY *pck, const uint8_t rep[MT_SGX_REPORT_SIZE], uint8_t sig[64])
{
    uint8_t pub[65];
    size_t pub_len = 0;
    int have_pub, hit;

    have_pub =
        EVP_PKEY_get_octet_string_param(pck, "encoded-pub-key", pub, sizeof(pub), &pub_len) == 1 &&
        pub_len == sizeof(pub);
    pthread_mutex_lock(&qe_sig_lock);
    hit = have_pub && qe_sig_valid && memcmp(qe_sig_pub, pub, sizeof(pub)) == 0 &&
          memcmp(qe_sig_rep, rep, MT_SGX_REPORT_SIZE) == 0;
    if (hit)
        memcpy(sig, qe_sig_val, 64);
    pthread_mutex_unlock(&qe_sig_lock);
    if (hit)
        return MT_OK;
    MT_GUARD(mt_testpki_sign_raw(pck, rep, MT_SGX_REPORT_SIZE, sig));
    if (have_pub) {
        pthread_mutex_lock(&qe_sig_lock);
        memcpy(qe_sig_pub, pub, sizeof(pub));
        memcpy(qe_sig_rep, rep, MT_SGX_REPORT_SIZE);
        memcpy(qe_sig_val, sig, 64);
        qe_sig_valid = 1;
        pthread_mutex_unlock(&qe_sig_lock);
    }
    return MT_OK;
}

/* The QE report with report_data = SHA-256(att_key || auth data) || zeros, and its signature. */
static mt_err
qe_report(const struct mt_testpki *pki, const struct mt_testpki_params *p, const uint8_t att[64],
          uint8_t rep[MT_SGX_REPORT_SIZE], uint8_t sig[64])
{
    const struct mt_testpki_quote_params *q = &p->quote;
    struct mt_sgx_report r = q->qe;
    EVP_MD_CTX *ctx;
    unsigned int n = 0;
    int ok;

    MT_ENSURE(q->qe_auth_data_len <= MT_TESTPKI_MAX_QE_AUTH, MT_ERR_ARG);
    memset(r.report_data, 0, sizeof(r.report_data));
    ctx = EVP_MD_CTX_new();
    MT_ENSURE(ctx != NULL, MT_ERR_NOMEM);
    ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 && EVP_DigestUpdate(ctx, att, 64) == 1 &&
         EVP_DigestUpdate(ctx, q->qe_auth_data, q->qe_auth_data_len) == 1 &&
         EVP_DigestFinal_ex(ctx, r.report_data, &n) == 1 && n == 32;
    EVP_MD_CTX_free(ctx);
    MT_ENSURE(ok, MT_ERR_CRYPTO);
    if ((p->broken & MT_TESTPKI_BREAK_QE_HASH) != 0)
        r.report_data[0] ^= 0x01;
    mt_testpki_sgx_report_encode(&r, rep);
    MT_GUARD(sign_qe_report(pki->key[MT_TESTPKI_PCK_LEAF], rep, sig));
    if ((p->broken & MT_TESTPKI_BREAK_QE_REPORT) != 0)
        sig[63] ^= 0x01;
    return MT_OK;
}

/*
 * QE report, its signature, auth data and the type 5 PCK chain: the whole
 * v3 tail after the attestation key, and the content of the v4/v5 type 6
 * block.
 */
static mt_err
qe_block(const struct mt_testpki *pki, const struct mt_testpki_params *p, const uint8_t att[64],
         struct mt_buf *b)
{
    const struct mt_testpki_quote_params *q = &p->quote;
    uint8_t rep[MT_SGX_REPORT_SIZE], sig[64];
    char *pem = NULL;
    size_t pem_len = 0;
    mt_err e;

    MT_GUARD(qe_report(pki, p, att, rep, sig));
    MT_GUARD(mt_buf_append(b, rep, sizeof(rep)));
    MT_GUARD(mt_buf_append(b, sig, sizeof(sig)));
    MT_GUARD(add16(b, q->qe_auth_data_len));
    MT_GUARD(mt_buf_append(b, q->qe_auth_data, q->qe_auth_data_len));
    MT_GUARD(mt_testpki_chain_pem(pki, MT_TESTPKI_CHAIN_PCK, q->pem_trailing_nul, &pem, &pem_len));
    MT_ENSURE_GOTO(pem_len <= MT_MAX_CERT_DATA, MT_ERR_TOO_LARGE, e, out);
    MT_GUARD_GOTO(add16(b, CERT_TYPE_PCK_CHAIN), e, out);
    MT_GUARD_GOTO(add32(b, (uint32_t)pem_len), e, out);
    MT_GUARD_GOTO(mt_buf_append(b, pem, pem_len), e, out);
out:
    mt_free(pem);
    return e;
}

mt_err
mt_testpki_quote(const struct mt_testpki *pki, const struct mt_testpki_params *p, uint8_t **quote,
                 size_t *len)
{
    struct mt_buf qb, sigdata, inner;
    uint8_t att[64], sig[64];
    static const uint8_t zero[64];
    size_t pad;
    mt_err e;

    mt_buf_init(&qb, MT_MAX_QUOTE_SIZE);
    mt_buf_init(&sigdata, MT_MAX_QUOTE_SIZE);
    mt_buf_init(&inner, MT_MAX_QUOTE_SIZE);
    MT_GUARD_GOTO(mt_testpki_att_key_raw(pki, att), e, out);
    MT_GUARD_GOTO(signed_region(p, &qb), e, out);
    MT_GUARD_GOTO(mt_testpki_sign_raw(pki->att_key, qb.p, qb.len, sig), e, out);
    if ((p->broken & MT_TESTPKI_BREAK_QUOTE) != 0)
        sig[63] ^= 0x01;

    MT_GUARD_GOTO(mt_buf_append(&sigdata, sig, sizeof(sig)), e, out);
    MT_GUARD_GOTO(mt_buf_append(&sigdata, att, sizeof(att)), e, out);
    if (p->kind == MT_TESTPKI_SGX_V3) {
        MT_GUARD_GOTO(qe_block(pki, p, att, &sigdata), e, out);
    } else {
        MT_GUARD_GOTO(qe_block(pki, p, att, &inner), e, out);
        MT_GUARD_GOTO(add16(&sigdata, CERT_TYPE_QE_REPORT), e, out);
        MT_GUARD_GOTO(add32(&sigdata, (uint32_t)inner.len), e, out);
        MT_GUARD_GOTO(mt_buf_append(&sigdata, inner.p, inner.len), e, out);
    }
    MT_GUARD_GOTO(add32(&qb, (uint32_t)sigdata.len), e, out);
    MT_GUARD_GOTO(mt_buf_append(&qb, sigdata.p, sigdata.len), e, out);
    /* real quotes are padded with zeros the verifier must ignore (1.3) */
    for (pad = p->quote.trailing_padding; pad > 0;) {
        size_t n = pad < sizeof(zero) ? pad : sizeof(zero);

        MT_GUARD_GOTO(mt_buf_append(&qb, zero, n), e, out);
        pad -= n;
    }
    *quote = mt_buf_take(&qb, len);
out:
    mt_buf_free(&qb);
    mt_buf_free(&sigdata);
    mt_buf_free(&inner);
    return e;
}
