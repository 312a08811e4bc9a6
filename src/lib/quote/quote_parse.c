#include "quote/quote.h"

#include <string.h>

#include "util/mt_cursor.h"
#include "util/mt_limits.h"

const uint8_t mt_intel_qe_vendor_id[16] = {0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9,
                                           0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07};

/* Certification data types, dcap-verify.md section 1.9. */
#define CERT_TYPE_PCK_CHAIN 5
#define CERT_TYPE_QE_REPORT 6

int
mt_quote_is_mock(const uint8_t *buf, size_t len)
{
    return len >= MT_MOCK_QUOTE_MAGIC_LEN &&
           memcmp(buf, MT_MOCK_QUOTE_MAGIC, MT_MOCK_QUOTE_MAGIC_LEN) == 0;
}

const char *
mt_body_kind_name(enum mt_body_kind k)
{
    switch (k) {
    case MT_BODY_SGX:
        return "sgx";
    case MT_BODY_TD10:
        return "td10";
    case MT_BODY_TD15:
        return "td15";
    default:
        return "unknown";
    }
}

const uint8_t *
mt_quote_report_data(const struct mt_quote *q)
{
    return q->body_kind == MT_BODY_SGX ? q->sgx.report_data : q->td.report_data;
}

/* SGX report layout (dcap-verify.md 1.4): 384 bytes, already bounds-checked. */
static void
sgx_report_read(const uint8_t *b, struct mt_sgx_report *r)
{
    memcpy(r->cpu_svn, b, 16);
    r->misc_select = mt_load_u32le(b + 16);
    memcpy(r->attributes, b + 48, 16);
    memcpy(r->mr_enclave, b + 64, 32);
    memcpy(r->mr_signer, b + 128, 32);
    memcpy(r->config_id, b + 192, 64);
    r->isv_prod_id = mt_load_u16le(b + 256);
    r->isv_svn = mt_load_u16le(b + 258);
    r->config_svn = mt_load_u16le(b + 260);
    memcpy(r->report_data, b + 320, 64);
}

/* TD report layout (dcap-verify.md 1.5); size is 584 or 648, bounds-checked. */
static void
td_report_read(const uint8_t *b, size_t size, struct mt_td_report *r)
{
    int i;

    memcpy(r->tee_tcb_svn, b, 16);
    memcpy(r->mr_seam, b + 16, 48);
    memcpy(r->mr_signer_seam, b + 64, 48);
    memcpy(r->seam_attributes, b + 112, 8);
    memcpy(r->td_attributes, b + 120, 8);
    memcpy(r->xfam, b + 128, 8);
    memcpy(r->mr_td, b + 136, 48);
    memcpy(r->mr_config_id, b + 184, 48);
    memcpy(r->mr_owner, b + 232, 48);
    memcpy(r->mr_owner_config, b + 280, 48);
    for (i = 0; i < 4; i++)
        memcpy(r->rt_mr[i], b + 328 + 48 * i, 48);
    memcpy(r->report_data, b + 520, 64);
    if (size == MT_TD15_REPORT_SIZE) {
        memcpy(r->tee_tcb_svn2, b + 584, 16);
        memcpy(r->mr_service_td, b + 600, 48);
    }
}

/* Header checks in dcap-qvl order (dcap-verify.md 2.3). */
static mt_err
header_read(struct mt_cursor *c, struct mt_quote *q)
{
    MT_ENSURE(mt_cursor_remaining(c) >= MT_QUOTE_HEADER_SIZE, MT_ERR_QUOTE_DECODE);
    MT_GUARD(mt_cursor_u16le(c, &q->version));
    MT_GUARD(mt_cursor_u16le(c, &q->att_key_type));
    MT_GUARD(mt_cursor_u32le(c, &q->tee_type));
    MT_GUARD(mt_cursor_u16le(c, &q->qe_svn));
    MT_GUARD(mt_cursor_u16le(c, &q->pce_svn));
    MT_GUARD(mt_cursor_copy(c, q->qe_vendor_id, 16));
    MT_GUARD(mt_cursor_copy(c, q->user_data, 20));

    MT_ENSURE(q->version >= 3 && q->version <= 5, MT_ERR_QUOTE_VERSION);
    MT_ENSURE(memcmp(q->qe_vendor_id, mt_intel_qe_vendor_id, 16) == 0, MT_ERR_QUOTE_VENDOR);
    MT_ENSURE(q->tee_type == MT_TEE_SGX || q->tee_type == MT_TEE_TDX, MT_ERR_QUOTE_TEE_TYPE);
    /* SGX only as v3, TDX only as v4/v5: the combinations dcap-qvl accepts (1.10). */
    MT_ENSURE((q->tee_type == MT_TEE_SGX) == (q->version == 3), MT_ERR_QUOTE_TEE_TYPE);
    /* 2 = ECDSA-256 with P-256, the only key type defined for use. */
    MT_ENSURE(q->att_key_type == 2, MT_ERR_QUOTE_KEY_TYPE);
    return MT_OK;
}

/* Body descriptor (v5) and body; dcap-verify.md 1.2, 1.3. */
static mt_err
body_read(struct mt_cursor *c, struct mt_quote *q)
{
    uint32_t size;

    if (q->version == 5) {
        MT_ENSURE(mt_cursor_u16le(c, &q->body_type) == MT_OK, MT_ERR_QUOTE_DECODE);
        MT_ENSURE(mt_cursor_u32le(c, &q->body_size) == MT_OK, MT_ERR_QUOTE_DECODE);
        switch (q->body_type) {
        case 2:
            q->body_kind = MT_BODY_TD10;
            size = MT_TD10_REPORT_SIZE;
            break;
        case 3:
            q->body_kind = MT_BODY_TD15;
            size = MT_TD15_REPORT_SIZE;
            break;
        default:
            /* Type 1 (SGX in v5) is refused with the TEE type: SGX must be v3. */
            return MT_ERR_QUOTE_BODY_TYPE;
        }
        MT_ENSURE(q->body_size == size, MT_ERR_QUOTE_BODY_SIZE);
    } else if (q->version == 4) {
        q->body_kind = MT_BODY_TD10;
        size = MT_TD10_REPORT_SIZE;
    } else {
        q->body_kind = MT_BODY_SGX;
        size = MT_SGX_REPORT_SIZE;
    }
    q->body_size = size;
    MT_ENSURE(mt_cursor_borrow(c, size, &q->body) == MT_OK, MT_ERR_QUOTE_DECODE);
    if (q->body_kind == MT_BODY_SGX)
        sgx_report_read(q->body, &q->sgx);
    else
        td_report_read(q->body, size, &q->td);
    return MT_OK;
}

/*
 * QE report, its signature, QE auth data and the inner certification data:
 * the part shared by v3 (directly in the signature data) and v4/v5 (inside
 * the type-6 certification data).  The cursor must be consumed exactly.
 */
static mt_err
qe_block_read(struct mt_cursor *c, struct mt_quote *q)
{
    MT_GUARD(mt_cursor_borrow(c, MT_SGX_REPORT_SIZE, &q->qe_report_raw));
    sgx_report_read(q->qe_report_raw, &q->qe_report);
    MT_GUARD(mt_cursor_borrow(c, MT_ECDSA_SIG_SIZE, &q->qe_report_sig));
    MT_GUARD(mt_cursor_u16le(c, &q->qe_auth_data_len));
    MT_GUARD(mt_cursor_borrow(c, q->qe_auth_data_len, &q->qe_auth_data));
    MT_GUARD(mt_cursor_u16le(c, &q->cert_type));
    MT_GUARD(mt_cursor_u32le(c, &q->cert_data_len));
    MT_ENSURE(q->cert_data_len <= MT_MAX_CERT_DATA, MT_ERR_TOO_LARGE);
    MT_GUARD(mt_cursor_borrow(c, q->cert_data_len, &q->cert_data));
    /* Intel rejects a certification block whose size differs from its content. */
    MT_ENSURE(mt_cursor_empty(c), MT_ERR_QUOTE_DECODE);
    return MT_OK;
}

static mt_err
sig_data_read(struct mt_cursor *c, struct mt_quote *q)
{
    struct mt_cursor sig, outer;
    uint32_t outer_len;
    mt_err e;

    MT_ENSURE(mt_cursor_u32le(c, &q->sig_data_len) == MT_OK, MT_ERR_QUOTE_DECODE);
    MT_ENSURE(mt_cursor_sub(c, q->sig_data_len, &sig) == MT_OK, MT_ERR_QUOTE_DECODE);
    /* Real quotes carry padding after the signature data; it is ignored (1.3). */
    q->trailing_len = mt_cursor_remaining(c);

    MT_ENSURE(mt_cursor_borrow(&sig, MT_ECDSA_SIG_SIZE, &q->quote_sig) == MT_OK,
              MT_ERR_QUOTE_DECODE);
    MT_ENSURE(mt_cursor_borrow(&sig, MT_ECDSA_KEY_SIZE, &q->att_key) == MT_OK, MT_ERR_QUOTE_DECODE);
    if (q->version == 3) {
        e = qe_block_read(&sig, q);
    } else {
        MT_ENSURE(mt_cursor_u16le(&sig, &q->outer_cert_type) == MT_OK, MT_ERR_QUOTE_DECODE);
        MT_ENSURE(q->outer_cert_type == CERT_TYPE_QE_REPORT, MT_ERR_QUOTE_CERT_TYPE);
        MT_ENSURE(mt_cursor_u32le(&sig, &outer_len) == MT_OK, MT_ERR_QUOTE_DECODE);
        MT_ENSURE(mt_cursor_sub(&sig, outer_len, &outer) == MT_OK, MT_ERR_QUOTE_DECODE);
        e = qe_block_read(&outer, q);
    }
    MT_ENSURE(e == MT_OK, e == MT_ERR_NOMEM || e == MT_ERR_TOO_LARGE ? e : MT_ERR_QUOTE_DECODE);
    MT_ENSURE(mt_cursor_empty(&sig), MT_ERR_QUOTE_DECODE);
    return MT_OK;
}

static mt_err
mock_parse(const uint8_t *buf, size_t len, struct mt_quote *q)
{
    MT_ENSURE(len >= MT_MOCK_QUOTE_MAGIC_LEN + MT_REPORT_DATA_SIZE, MT_ERR_QUOTE_MOCK_SHORT);
    q->kind = MT_QUOTE_MOCK;
    q->tee_type = MT_TEE_TDX;
    q->body_kind = MT_BODY_TD10;
    memcpy(q->td.report_data, buf + MT_MOCK_QUOTE_MAGIC_LEN, MT_REPORT_DATA_SIZE);
    q->trailing_len = len - MT_MOCK_QUOTE_MAGIC_LEN - MT_REPORT_DATA_SIZE;
    return MT_OK;
}

mt_err
mt_quote_parse(const uint8_t *buf, size_t len, struct mt_quote *q)
{
    struct mt_cursor c;
    struct mt_quote tmp;

    memset(&tmp, 0, sizeof(tmp));
    MT_ENSURE(len <= MT_MAX_QUOTE_SIZE, MT_ERR_TOO_LARGE);
    if (mt_quote_is_mock(buf, len)) {
        MT_GUARD(mock_parse(buf, len, &tmp));
        *q = tmp;
        return MT_OK;
    }
    mt_cursor_init(&c, buf, len);
    tmp.kind = MT_QUOTE_DCAP;
    MT_GUARD(header_read(&c, &tmp));
    MT_GUARD(body_read(&c, &tmp));
    tmp.signed_region = buf;
    tmp.signed_len = c.pos;
    MT_GUARD(sig_data_read(&c, &tmp));
    *q = tmp;
    return MT_OK;
}
