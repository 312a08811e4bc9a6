#ifndef MT_TESTPKI_H
#define MT_TESTPKI_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "dcap/collateral.h"
#include "dcap/pck.h"
#include "dcap/tcb.h"
#include "quote/quote.h"
#include "util/mt_err.h"

/*
 * A synthetic Intel-like DCAP PKI and quote generator, for tests and the TEE
 * simulator only (dcap-verify.md section 4.6).  It builds a test root, a PCK
 * Platform or Processor CA, a PCK leaf carrying the Intel SGX extension, a
 * TCB Signing certificate, both CRLs, signed TCB Info / QE Identity JSON and
 * SGX v3 / TDX v4 / TDX v5 quotes in Intel's byte layouts.
 *
 * Nothing here is trusted by production verification: every name says
 * "mero-tee test PKI" in its O attribute and the root is never the pinned
 * Intel root, so a verifier only accepts these quotes when a test passes
 * mt_testpki_root_der() as mt_verifier_opts.root_der.
 *
 * Every input comes from struct mt_testpki_params: start from
 * mt_testpki_params_default() (a quote that verifies UpToDate) and change
 * one or two fields to build each negative case.  Times come only from the
 * params; nothing reads the clock.  ECDSA is randomised, so output bytes
 * differ between runs.
 */

#define MT_TESTPKI_MAX_REVOKED 8
#define MT_TESTPKI_MAX_LEVELS 8
#define MT_TESTPKI_MAX_ADVISORIES 4
#define MT_TESTPKI_MAX_MODULES 4
#define MT_TESTPKI_MAX_QE_AUTH 64
#define MT_TESTPKI_DAY 86400

/* The quote formats the generator writes (dcap-verify.md 1.3). */
enum mt_testpki_kind {
    MT_TESTPKI_TDX_V4 = 1,  /* v4, TD report 1.0 */
    MT_TESTPKI_TDX_V5_TD10, /* v5, body type 2 (TD report 1.0) */
    MT_TESTPKI_TDX_V5_TD15, /* v5, body type 3 (TD report 1.5) */
    MT_TESTPKI_SGX_V3,      /* v3, SGX enclave report */
};

/* The certificates of the PKI; each has its own key. */
enum mt_testpki_cert {
    MT_TESTPKI_ROOT = 0,   /* "Intel SGX Root CA", self-signed */
    MT_TESTPKI_PCK_CA,     /* "Intel SGX PCK Platform CA" or "... Processor CA" */
    MT_TESTPKI_PCK_LEAF,   /* "Intel SGX PCK Certificate" with the SGX extension */
    MT_TESTPKI_TCB_SIGNER, /* "Intel SGX TCB Signing", issued by the root */
    MT_TESTPKI_NUM_CERTS
};

enum mt_testpki_crl {
    MT_TESTPKI_ROOT_CRL = 0, /* issued by the root: revokes CAs and the TCB signer */
    MT_TESTPKI_PCK_CRL,      /* issued by the PCK CA: revokes PCK leaves */
};

/* PEM chains, leaf first. */
enum mt_testpki_chain {
    MT_TESTPKI_CHAIN_PCK = 0, /* PCK leaf, PCK CA, root */
    MT_TESTPKI_CHAIN_TCB,     /* TCB signer, root */
    MT_TESTPKI_CHAIN_PCK_CRL, /* PCK CA, root (the CRL issuer chain) */
};

/*
 * Signatures (and one binding) a test can break: bits of params.broken.
 * A broken signature is a valid encoding whose last byte is flipped, so
 * parsing succeeds and only verification fails.
 */
#define MT_TESTPKI_BREAK_QUOTE (1u << 0)       /* attestation key over header..body */
#define MT_TESTPKI_BREAK_QE_REPORT (1u << 1)   /* PCK key over the QE report */
#define MT_TESTPKI_BREAK_QE_HASH (1u << 2)     /* QE report_data != SHA-256(key || auth) */
#define MT_TESTPKI_BREAK_TCB_INFO (1u << 3)    /* TCB Info signature */
#define MT_TESTPKI_BREAK_QE_IDENTITY (1u << 4) /* QE Identity signature */
#define MT_TESTPKI_BREAK_PCK_LEAF (1u << 5)    /* PCK leaf certificate signature */
#define MT_TESTPKI_BREAK_PCK_CA (1u << 6)      /* PCK CA certificate signature */
#define MT_TESTPKI_BREAK_TCB_SIGNER (1u << 7)  /* TCB Signing certificate signature */
#define MT_TESTPKI_BREAK_ROOT_CRL (1u << 8)    /* root CRL signature */
#define MT_TESTPKI_BREAK_PCK_CRL (1u << 9)     /* PCK CRL signature */
#define MT_TESTPKI_BREAK_ROOT (1u << 10)       /* root self-signature */

struct mt_testpki_cert_params {
    uint64_t serial;
    int64_t not_before;
    int64_t not_after;
    int ca; /* basicConstraints CA flag (and keyCertSign); 1 on a leaf makes a CA-as-leaf */
};

struct mt_testpki_crl_params {
    int64_t this_update;
    int64_t next_update;
    uint64_t revoked[MT_TESTPKI_MAX_REVOKED]; /* serials listed as revoked */
    size_t num_revoked;
    int wrong_key; /* right issuer name and AKI, signed by an unrelated key */
    int other_ca;  /* PCK CRL only: issued by the PCK CA of the other type */
};

/* Advisory IDs; the strings are borrowed (literals in practice). */
struct mt_testpki_advisories {
    const char *ids[MT_TESTPKI_MAX_ADVISORIES];
    size_t num;
};

/* A platform TCB level of TCB Info. */
struct mt_testpki_tcb_level {
    uint8_t sgx[16];
    size_t num_sgx; /* 16; fewer writes a malformed level */
    uint16_t pcesvn;
    uint8_t tdx[16];
    size_t num_tdx; /* 16 for TDX TCB Info; ignored for SGX */
    int64_t tcb_date;
    enum mt_tcb_status status;
    struct mt_testpki_advisories adv;
};

/* A QE identity or TDX module identity TCB level. */
struct mt_testpki_isv_level {
    uint16_t isvsvn;
    int64_t tcb_date;
    enum mt_tcb_status status;
    struct mt_testpki_advisories adv;
};

/* One entry of tdxModuleIdentities. */
struct mt_testpki_module {
    uint8_t version; /* id is "TDX_%02X" of this (tee_tcb_svn[1]) */
    uint8_t mrsigner[48];
    uint8_t attributes[8];
    uint8_t attributes_mask[8];
    struct mt_testpki_isv_level levels[MT_TESTPKI_MAX_LEVELS];
    size_t num_levels;
};

struct mt_testpki_tcb_info_params {
    const char *id; /* "TDX" or "SGX" (borrowed) */
    int version;    /* 3 */
    int64_t issue_date;
    int64_t next_update;
    uint8_t fmspc[6];
    uint8_t pce_id[2];
    int tcb_type;
    int tcb_eval_num;
    int has_module; /* write tdxModule and tdxModuleIdentities (TDX only) */
    uint8_t module_mrsigner[48];
    uint8_t module_attributes[8];
    uint8_t module_attributes_mask[8];
    struct mt_testpki_module modules[MT_TESTPKI_MAX_MODULES];
    size_t num_modules;
    struct mt_testpki_tcb_level levels[MT_TESTPKI_MAX_LEVELS];
    size_t num_levels;
};

struct mt_testpki_qe_identity_params {
    const char *id; /* "TD_QE" or "QE" (borrowed) */
    int version;    /* 2 */
    int64_t issue_date;
    int64_t next_update;
    int tcb_eval_num;
    uint32_t miscselect;
    uint32_t miscselect_mask;
    uint8_t attributes[16];
    uint8_t attributes_mask[16];
    uint8_t mrsigner[32];
    uint16_t isvprodid;
    struct mt_testpki_isv_level levels[MT_TESTPKI_MAX_LEVELS]; /* written in this order */
    size_t num_levels;
};

/* The Intel SGX extension of the PCK leaf (dcap-verify.md 2.6 step 3). */
struct mt_testpki_pck_params {
    uint8_t ppid[16];
    uint8_t cpu_svn[16]; /* written both as comp01..16 INTEGERs and as CPUSVN */
    uint16_t pce_svn;
    uint8_t pce_id[2];
    uint8_t fmspc[6];
    int sgx_type;                     /* 0 Standard, 1 Scalable, 2 Scalable with integrity */
    uint8_t platform_instance_id[16]; /* Platform CA leaves only */
};

struct mt_testpki_quote_params {
    uint8_t qe_id[16];        /* header user_data[0..16) */
    struct mt_td_report td;   /* body of the TDX kinds (TD 1.5 fields only for TD15) */
    struct mt_sgx_report sgx; /* body of MT_TESTPKI_SGX_V3 */
    struct mt_sgx_report qe;  /* QE report; report_data is computed */
    uint8_t qe_auth_data[MT_TESTPKI_MAX_QE_AUTH];
    uint16_t qe_auth_data_len; /* 32 in real quotes */
    int pem_trailing_nul;      /* end the PEM chain with a NUL, as real quotes do */
    size_t trailing_padding;   /* zero bytes after the signature data, as real quotes carry */
};

struct mt_testpki_params {
    int64_t now; /* reference time; the defaults are valid around it */
    enum mt_testpki_kind kind;
    enum mt_pck_ca ca_type;
    struct mt_testpki_cert_params cert[MT_TESTPKI_NUM_CERTS];
    struct mt_testpki_pck_params pck;
    struct mt_testpki_crl_params crl[2]; /* by enum mt_testpki_crl */
    struct mt_testpki_tcb_info_params tcb_info;
    struct mt_testpki_qe_identity_params qe_identity;
    struct mt_testpki_quote_params quote;
    int collateral_pck_chain; /* also put the PCK chain in the collateral */
    unsigned broken;          /* MT_TESTPKI_BREAK_* */
};

/*
 * The PKI: keys and certificates.  Fields are readable by callers; change
 * them only through the functions below.
 */
struct mt_testpki {
    enum mt_pck_ca ca_type;
    EVP_PKEY *key[MT_TESTPKI_NUM_CERTS];
    X509 *cert[MT_TESTPKI_NUM_CERTS];
    EVP_PKEY *att_key; /* the QE's attestation key: signs quotes */
    uint8_t *root_der; /* DER of cert[MT_TESTPKI_ROOT] */
    size_t root_der_len;
};

/* Bytes a test usually wants together: the PKI, a quote and its collateral. */
struct mt_testpki_bundle {
    struct mt_testpki *pki;
    uint8_t *quote;
    size_t quote_len;
    struct mt_collateral *col;
};

/* ---- parameters (testpki.c) ---- */

/*
 * Defaults for a quote of `kind` that verifies at `now` with status UpToDate
 * and no advisories: TDX kinds use a Platform CA, TCB Info "TDX" with module
 * identities TDX_01/TDX_03 and QE identity "TD_QE"; SGX uses a Processor CA,
 * TCB Info "SGX" and QE identity "QE".  Values mirror real Intel data.
 */
void mt_testpki_params_default(struct mt_testpki_params *p, enum mt_testpki_kind kind, int64_t now);
/* List serial as revoked in a CRL; MT_ERR_TOO_LARGE when the list is full. */
MT_WUR mt_err mt_testpki_crl_revoke(struct mt_testpki_crl_params *crl, uint64_t serial);
/* Append an advisory ID (borrowed); MT_ERR_TOO_LARGE when full. */
MT_WUR mt_err mt_testpki_advisories_add(struct mt_testpki_advisories *a, const char *id);
/* Set or clear bit `bit` (0..63) of the TD attributes (dcap-verify.md 1.6). */
void mt_testpki_td_attr_set(struct mt_testpki_params *p, unsigned bit, int on);
/* Set the platform TCB of the PCK leaf (CPUSVN and PCESVN). */
void mt_testpki_pck_svn_set(struct mt_testpki_params *p, const uint8_t cpu_svn[16],
                            uint16_t pce_svn);

/* ---- the PKI object (testpki.c) ---- */

/* Fresh keys and certificates issued from p. */
MT_WUR mt_err mt_testpki_new(const struct mt_testpki_params *p, struct mt_testpki **out);
/* NULL-safe; private keys are freed with EVP_PKEY_free, which clears them. */
void mt_testpki_free(struct mt_testpki *pki);
/* DER of the test root, for mt_verifier_opts.root_der; borrowed from pki. */
const uint8_t *mt_testpki_root_der(const struct mt_testpki *pki, size_t *len);
/* The attestation public key as raw X||Y. */
MT_WUR mt_err mt_testpki_att_key_raw(const struct mt_testpki *pki, uint8_t xy[64]);

/* PKI + quote + collateral from p in one call. */
MT_WUR mt_err mt_testpki_bundle_new(const struct mt_testpki_params *p,
                                    struct mt_testpki_bundle **out);
/* NULL-safe. */
void mt_testpki_bundle_free(struct mt_testpki_bundle *b);

/* ---- keys, certificates, CRLs (testpki_cert.c) ---- */

/*
 * (Re)issue every certificate of pki from its keys and p (validity, CA
 * flags, the SGX extension, broken signatures).  Keys are kept, so a loaded
 * PKI can be re-issued with new dates.
 */
MT_WUR mt_err mt_testpki_issue(struct mt_testpki *pki, const struct mt_testpki_params *p);
/* The DER of the Intel SGX extension value (extnValue contents). */
MT_WUR mt_err mt_testpki_sgx_ext_der(const struct mt_testpki_pck_params *pck, enum mt_pck_ca ca,
                                     uint8_t **der, size_t *len);
/* A DER CRL as p->crl[which] describes; *der freed with mt_free. */
MT_WUR mt_err mt_testpki_crl_der(const struct mt_testpki *pki, const struct mt_testpki_params *p,
                                 enum mt_testpki_crl which, uint8_t **der, size_t *len);
/*
 * PEM chain, leaf first, NUL-terminated; with trailing_nul the NUL is also
 * counted in *len (the shape of certification data type 5).
 */
MT_WUR mt_err mt_testpki_chain_pem(const struct mt_testpki *pki, enum mt_testpki_chain which,
                                   int trailing_nul, char **out, size_t *len);
/* ECDSA P-256 / SHA-256 over msg, as raw r||s. */
MT_WUR mt_err mt_testpki_sign_raw(EVP_PKEY *key, const uint8_t *msg, size_t len, uint8_t sig[64]);
/* A P-256 public key as raw X||Y. */
MT_WUR mt_err mt_testpki_pub_raw(EVP_PKEY *key, uint8_t xy[64]);

/* ---- signed documents and collateral (testpki_docs.c) ---- */

/* TCB Info JSON text (Intel's compact form) and its signature by the TCB signer. */
MT_WUR mt_err mt_testpki_tcb_info(const struct mt_testpki *pki, const struct mt_testpki_params *p,
                                  char **json, size_t *len, uint8_t sig[64]);
/* QE Identity JSON text and its signature by the TCB signer. */
MT_WUR mt_err mt_testpki_qe_identity(const struct mt_testpki *pki,
                                     const struct mt_testpki_params *p, char **json, size_t *len,
                                     uint8_t sig[64]);
/* Collateral for a quote of this PKI; free with mt_collateral_free. */
MT_WUR mt_err mt_testpki_collateral(const struct mt_testpki *pki, const struct mt_testpki_params *p,
                                    struct mt_collateral **out);

/* ---- quotes (testpki_quote.c) ---- */

/* The 384-byte SGX report layout (dcap-verify.md 1.4) of r. */
void mt_testpki_sgx_report_encode(const struct mt_sgx_report *r, uint8_t out[MT_SGX_REPORT_SIZE]);
/* The TD report layout (dcap-verify.md 1.5); td15 selects 648 bytes, else 584. */
void mt_testpki_td_report_encode(const struct mt_td_report *r, int td15, uint8_t *out);
/* A signed quote of p->kind; *quote freed with mt_free. */
MT_WUR mt_err mt_testpki_quote(const struct mt_testpki *pki, const struct mt_testpki_params *p,
                               uint8_t **quote, size_t *len);

/* ---- persistence (testpki_store.c) ---- */

/*
 * Save keys (PEM, mode 0600) and certificates (PEM) into an existing
 * directory: root.{key,crt}, pck_ca.*, pck_leaf.*, tcb_signer.*, att.key.
 * Existing files are replaced.
 */
MT_WUR mt_err mt_testpki_save(const struct mt_testpki *pki, const char *dir);
/* Load what mt_testpki_save wrote; MT_ERR_IO when a file is missing. */
MT_WUR mt_err mt_testpki_load(const char *dir, struct mt_testpki **out);

#endif
