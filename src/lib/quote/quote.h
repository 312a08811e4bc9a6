#ifndef MT_QUOTE_H
#define MT_QUOTE_H

#include <stddef.h>
#include <stdint.h>

#include "util/mt_err.h"

/*
 * Intel DCAP quotes (SGX v3, TDX v4 and v5) and the mero-kms-phala mock
 * quote, parsed without verification.  Layouts: dcap-verify.md section 1;
 * mock format: mero-tee-reference.md section 1.11.
 *
 * A parsed quote borrows the caller's bytes: every pointer below points into
 * them, so they must outlive the struct.  Fixed-size fields are copied.
 */

#define MT_QUOTE_HEADER_SIZE 48
#define MT_SGX_REPORT_SIZE 384
#define MT_TD10_REPORT_SIZE 584
#define MT_TD15_REPORT_SIZE 648
#define MT_MEAS_SIZE 48
#define MT_REPORT_DATA_SIZE 64
#define MT_ECDSA_SIG_SIZE 64
#define MT_ECDSA_KEY_SIZE 64
#define MT_MOCK_QUOTE_MAGIC "MOCK_TDX_QUOTE_V1"
#define MT_MOCK_QUOTE_MAGIC_LEN 17
#define MT_MOCK_QUOTE_SIZE 256

#define MT_TEE_SGX 0x00000000u
#define MT_TEE_TDX 0x00000081u

/* Intel's QE vendor id, dcap-verify.md section 1.1. */
extern const uint8_t mt_intel_qe_vendor_id[16];

enum mt_quote_kind {
    MT_QUOTE_DCAP = 1, /* a real DCAP quote */
    MT_QUOTE_MOCK = 2, /* MOCK_TDX_QUOTE_V1: no signature, never trusted by default */
};

enum mt_body_kind {
    MT_BODY_SGX = 1,  /* SGX enclave report, 384 bytes */
    MT_BODY_TD10 = 2, /* TD report 1.0, 584 bytes */
    MT_BODY_TD15 = 3, /* TD report 1.5, 648 bytes */
};

/* SGX enclave report; also the layout of the QE report (dcap-verify.md 1.4). */
struct mt_sgx_report {
    uint8_t cpu_svn[16];
    uint32_t misc_select;
    uint8_t attributes[16];
    uint8_t mr_enclave[32];
    uint8_t mr_signer[32];
    uint8_t config_id[64];
    uint16_t isv_prod_id;
    uint16_t isv_svn;
    uint16_t config_svn;
    uint8_t report_data[64];
};

/* TD report 1.0 / 1.5 (dcap-verify.md 1.5). */
struct mt_td_report {
    uint8_t tee_tcb_svn[16];
    uint8_t mr_seam[48];
    uint8_t mr_signer_seam[48];
    uint8_t seam_attributes[8];
    uint8_t td_attributes[8];
    uint8_t xfam[8];
    uint8_t mr_td[48];
    uint8_t mr_config_id[48];
    uint8_t mr_owner[48];
    uint8_t mr_owner_config[48];
    uint8_t rt_mr[4][48];
    uint8_t report_data[64];
    uint8_t tee_tcb_svn2[16];  /* TD 1.5 only; zero otherwise */
    uint8_t mr_service_td[48]; /* TD 1.5 only; zero otherwise */
};

struct mt_quote {
    enum mt_quote_kind kind;

    /* header (dcap-verify.md 1.1) */
    uint16_t version;
    uint16_t att_key_type;
    uint32_t tee_type;
    uint16_t qe_svn;
    uint16_t pce_svn;
    uint8_t qe_vendor_id[16];
    uint8_t user_data[20];

    /* body */
    enum mt_body_kind body_kind;
    uint16_t body_type; /* v5 body descriptor type; 0 for v3/v4 */
    uint32_t body_size;
    struct mt_sgx_report sgx;     /* when body_kind == MT_BODY_SGX */
    struct mt_td_report td;       /* when body_kind is TD10 or TD15 */
    const uint8_t *body;          /* raw body bytes */
    const uint8_t *signed_region; /* quote[0 .. signed_len) */
    size_t signed_len;

    /* signature data (dcap-verify.md 1.7, 1.8) */
    uint32_t sig_data_len;
    const uint8_t *quote_sig;     /* 64 bytes raw r||s */
    const uint8_t *att_key;       /* 64 bytes X||Y */
    uint16_t outer_cert_type;     /* 6 for v4/v5; 0 for v3 */
    const uint8_t *qe_report_raw; /* 384 bytes */
    struct mt_sgx_report qe_report;
    const uint8_t *qe_report_sig; /* 64 bytes */
    const uint8_t *qe_auth_data;
    uint16_t qe_auth_data_len;
    uint16_t cert_type; /* inner certification data type (5 expected) */
    const uint8_t *cert_data;
    uint32_t cert_data_len;
    size_t trailing_len; /* ignored padding after the signature data */
};

/*
 * Parse a DCAP or mock quote.  Returns MT_OK and fills *q, or the first
 * structural error (MT_ERR_QUOTE_*).  Never reads outside buf[0..len).
 */
MT_WUR mt_err mt_quote_parse(const uint8_t *buf, size_t len, struct mt_quote *q);

/* 1 when the quote bytes start with the mock magic (detection is by prefix). */
int mt_quote_is_mock(const uint8_t *buf, size_t len);

/* The 64 report-data bytes of a parsed quote, whatever its kind. */
const uint8_t *mt_quote_report_data(const struct mt_quote *q);

/* Name of the body kind: "sgx", "td10", "td15". */
const char *mt_body_kind_name(enum mt_body_kind k);

#endif
