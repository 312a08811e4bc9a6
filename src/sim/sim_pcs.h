#ifndef MT_SIM_PCS_H
#define MT_SIM_PCS_H

#include <stddef.h>
#include <stdint.h>

#include "dcap/collateral.h"
#include "util/mt_err.h"

/*
 * A stand-in for an Intel PCS / PCCS (API v4, dcap-verify.md 3.3) on
 * 127.0.0.1 with an ephemeral port, serving collateral in the real wire
 * format:
 *
 *   GET /sgx/certification/v4/pckcrl?ca=processor|platform[&encoding=der]
 *       DER with encoding=der, else hex text (as a PCCS does);
 *       header SGX-PCK-CRL-Issuer-Chain
 *   GET /{sgx|tdx}/certification/v4/tcb?fmspc=HEX
 *       {"tcbInfo":<exact tcb_info text>,"signature":"<hex>"};
 *       header TCB-Info-Issuer-Chain (or the v3 name, see flags)
 *   GET /{sgx|tdx}/certification/v4/qe/identity
 *       {"enclaveIdentity":<exact text>,"signature":"<hex>"};
 *       header SGX-Enclave-Identity-Issuer-Chain
 *   GET /sgx/certification/v4/rootcacrl   hex text of the DER root CA CRL
 *   GET /IntelSGXRootCA.der               DER root CA CRL (a CRL
 *       distribution point stand-in, for Intel-PCS-style fetching)
 *
 * Issuer chains are sent URL-encoded (encodeURIComponent style).  The TEE
 * and FMSPC of an entry come from its tcb_info ("id" TDX -> tdx, else sgx),
 * the CA type from the PCK CRL issuer CN.  Anything unknown is a 404.
 *
 * Built on libmicrohttpd with an internal polling thread and one thread per
 * connection, so a slow answer does not hold up other requests.  All calls
 * are thread-safe.  It serves the tests (failure knobs below) and the TEE
 * simulator's PCCS mode (mero-tee-sim --pccs); it only ever listens on
 * loopback.
 */

enum mt_pcs_endpoint {
    MT_PCS_EP_PCKCRL = 0,
    MT_PCS_EP_TCB,
    MT_PCS_EP_QE_IDENTITY,
    MT_PCS_EP_ROOTCACRL,
    MT_PCS_EP_ROOT_CDP, /* /IntelSGXRootCA.der */
    MT_PCS_EP_OTHER,    /* every other path (always 404) */
    MT_PCS_EP__COUNT
};

#define MT_PCS_EP_BIT(ep) (1u << (ep))
#define MT_PCS_EP_ALL ((1u << MT_PCS_EP__COUNT) - 1u)

/* Failure knobs, one per endpoint, applied once the request was routed. */
enum mt_pcs_fault {
    MT_PCS_FAULT_NONE = 0,
    MT_PCS_FAULT_STATUS,           /* answer with HTTP status `arg`, short text body */
    MT_PCS_FAULT_SLOW,             /* wait `arg` ms, then answer normally */
    MT_PCS_FAULT_OVERSIZE,         /* 200, body of MT_MAX_PCCS_BODY + 1 bytes, Content-Length */
    MT_PCS_FAULT_OVERSIZE_CHUNKED, /* the same, chunked (no Content-Length) */
    MT_PCS_FAULT_HUGE_HEADER,      /* issuer-chain header of MT_MAX_PCCS_HEADER + 1 bytes */
    MT_PCS_FAULT_DROP_CHAIN,       /* no issuer-chain header */
    MT_PCS_FAULT_BAD_PERCENT,      /* issuer-chain header with a broken %-escape */
    MT_PCS_FAULT_BAD_SIGNATURE,    /* signature of 126 hex digits */
    MT_PCS_FAULT_NO_MEMBER,        /* tcbInfo / enclaveIdentity member renamed */
    MT_PCS_FAULT_GARBAGE,          /* 200 with an HTML body instead of the content */
};

/* Wire-format variants (not faults: real servers behave like this). */
#define MT_PCS_FLAG_V3_TCB_HEADER 0x1u /* SGX-TCB-Info-Issuer-Chain instead of the v4 name */
#define MT_PCS_FLAG_ROOTCRL_DER 0x2u   /* rootcacrl answers DER instead of hex text */
#define MT_PCS_FLAG_NO_ROOTCACRL 0x4u  /* rootcacrl is a 404, as on Intel PCS */
#define MT_PCS_FLAG_SPACED_JSON 0x8u   /* pretty-printed outer JSON around the members */

struct mt_pcs_server;

/* Start listening on 127.0.0.1 with an ephemeral port; serves nothing yet. */
MT_WUR mt_err mt_pcs_server_start(struct mt_pcs_server **out);
/* The same on a given port (0 = ephemeral); MT_ERR_IO when it cannot be bound. */
MT_WUR mt_err mt_pcs_server_start_at(uint16_t port, struct mt_pcs_server **out);
/* Serve (a deep copy of) c as well; entries are matched in the order added. */
MT_WUR mt_err mt_pcs_server_add(struct mt_pcs_server *s, const struct mt_collateral *c);
/* Stop, wait for in-flight requests, free.  NULL-safe. */
void mt_pcs_server_stop(struct mt_pcs_server *s);

uint16_t mt_pcs_server_port(const struct mt_pcs_server *s);
/* "http://127.0.0.1:PORT", valid until stop. */
const char *mt_pcs_server_url(const struct mt_pcs_server *s);

/* Set the fault of every endpoint in ep_mask (MT_PCS_EP_BIT / MT_PCS_EP_ALL). */
void mt_pcs_server_set_fault(struct mt_pcs_server *s, unsigned ep_mask, enum mt_pcs_fault f,
                             unsigned long arg);
void mt_pcs_server_clear_faults(struct mt_pcs_server *s);
void mt_pcs_server_set_flags(struct mt_pcs_server *s, unsigned flags);

/* Requests routed to ep since start or the last reset (faulty ones included). */
unsigned long mt_pcs_server_count(struct mt_pcs_server *s, enum mt_pcs_endpoint ep);
void mt_pcs_server_reset_counts(struct mt_pcs_server *s);

/* A 127.0.0.1 TCP port that was free a moment ago and has no listener. */
MT_WUR mt_err mt_pcs_unused_port(uint16_t *out);

#endif
