#ifndef MT_PCK_H
#define MT_PCK_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/x509.h>

#include "util/mt_err.h"

/*
 * The Intel SGX extension of a PCK certificate (OID 1.2.840.113741.1.13.1,
 * dcap-verify.md section 2.6 step 3) and the PCK CA type.
 */
enum mt_pck_ca {
    MT_PCK_CA_PROCESSOR = 1,
    MT_PCK_CA_PLATFORM = 2,
};

struct mt_pck_info {
    uint8_t ppid[16];
    uint8_t tcb_comp[16]; /* SGX TCB comp01..16 SVNs (.2.1 - .2.16) */
    uint16_t pce_svn;     /* .2.17 */
    uint8_t cpu_svn[16];  /* .2.18 */
    uint8_t pce_id[2];    /* .3 */
    uint8_t fmspc[6];     /* .4 */
    int sgx_type;         /* .5: 0 standard, 1 scalable, 2 scalable with integrity */
    enum mt_pck_ca ca;    /* from the issuer CN */
};

/*
 * Parse the SGX extension of a PCK leaf and its CA type.  Strict: the
 * extension must occur exactly once, every required member exactly once,
 * sizes as specified, no trailing bytes; the 16 component SVNs must equal
 * the CPUSVN octets.  MT_ERR_PCK_EXTENSION otherwise.
 */
MT_WUR mt_err mt_pck_info_parse(X509 *leaf, struct mt_pck_info *out);

/* fmspc, pceId, cpuSvn, pceSvn, sgxType, ca as JSON; NULL when out of memory. */
json_t *mt_pck_info_to_json(const struct mt_pck_info *p);

/* "processor" / "platform" (the PCS `ca` query parameter). */
const char *mt_pck_ca_name(enum mt_pck_ca ca);

#endif
