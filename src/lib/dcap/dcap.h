#ifndef MT_DCAP_H
#define MT_DCAP_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "dcap/collateral.h"
#include "dcap/tcb.h"
#include "quote/quote.h"
#include "util/mt_err.h"

/*
 * Offline Intel DCAP quote verification (dcap-verify.md section 2).
 *
 * A verifier holds the pinned root and a cache of the results that
 * dcap-verify.md section 5 says are safe to keep: each entry is keyed by a
 * hash of the exact bytes it verified and carries the validity window it was
 * checked for; `now` is re-tested against that window on every use.  A
 * verifier is not thread-safe: give each thread its own, or lock around it.
 */
struct mt_verifier;

struct mt_verifier_opts {
    /* Trust anchor DER; NULL pins the built-in Intel SGX Root CA. */
    const uint8_t *root_der;
    size_t root_der_len;
    int allow_debug;      /* accept DEBUG TDs / enclaves (never for production) */
    int allow_service_td; /* accept a non-zero TD 1.5 mr_service_td */
    int no_cache;         /* 1: keep nothing between verifications */
};

MT_WUR mt_err mt_verifier_new(const struct mt_verifier_opts *opts, struct mt_verifier **out);
void mt_verifier_free(struct mt_verifier *v);
/* 1 when the verifier pins the built-in Intel root. */
int mt_verifier_is_intel_root(const struct mt_verifier *v);
/* Drop every cached result. */
void mt_verifier_clear_cache(struct mt_verifier *v);

/* Built-in Intel SGX Root CA (DER) and the SHA-256 it is pinned by. */
extern const uint8_t mt_intel_root_der[];
extern const size_t mt_intel_root_der_len;
extern const uint8_t mt_intel_root_sha256[32];

/* The result of one verification. */
struct mt_verdict {
    mt_err err;       /* MT_OK or the first failing check */
    char detail[256]; /* extra context for err ("" when none) */

    /* On success: final status and merged advisory IDs. */
    struct mt_tcb_result tcb;
    struct mt_tcb_result platform; /* matched TCB-Info level */
    struct mt_tcb_result qe;       /* QE identity level */
    struct mt_tcb_result module;   /* TDX module identity level, when has_module */
    int has_module;
    char module_id[16];    /* "TDX_01" */
    int64_t tcb_date;      /* tcbDate of the matched platform level */
    uint8_t level_sgx[16]; /* the matched level's SGX component SVNs */
    uint8_t level_tdx[16]; /* and TDX component SVNs (TDX only) */
    uint16_t level_pce_svn;

    /* Collateral validity window the verdict relied on. */
    int64_t valid_from;
    int64_t valid_until;

    /* From the PCK certificate (filled once the chain verified). */
    uint8_t fmspc[6];
    uint8_t pce_id[2];
    uint8_t cpu_svn[16];
    uint16_t pce_svn;
    int pck_parsed;

    /* The parsed quote (borrowing the caller's bytes), when parsing succeeded. */
    struct mt_quote quote;
    int quote_parsed;
};

/*
 * Collateral decoded once: certificates, CRLs and the signed documents are
 * decoded, hashed and kept, so verifications that share collateral (a KMS
 * serves every node of a platform family from one TCB Info) do not decode
 * it again.  Nothing is verified here: decoding failures are recorded and
 * reported by the verification step they belong to.  Immutable; one
 * prepared collateral may be used by verifiers on several threads.
 */
struct mt_prepared_collateral;

MT_WUR mt_err mt_collateral_prepare(const struct mt_collateral *col,
                                    struct mt_prepared_collateral **out);
/* Another reference (thread-safe); each is released with mt_prepared_collateral_free. */
struct mt_prepared_collateral *mt_prepared_collateral_ref(struct mt_prepared_collateral *p);
/* Release one reference; the last frees.  NULL-safe. */
void mt_prepared_collateral_free(struct mt_prepared_collateral *p);
/*
 * The window in which the collateral's documents and CRLs are all current:
 * the latest issueDate/thisUpdate to the earliest nextUpdate (certificate
 * lifetimes are longer and checked at verification).  For cache refresh.
 */
MT_WUR mt_err mt_prepared_collateral_window(const struct mt_prepared_collateral *p,
                                            int64_t *not_before, int64_t *not_after);

/* Verify with prepared collateral; see mt_verify_quote. */
MT_WUR mt_err mt_verify_quote_prepared(struct mt_verifier *v, const uint8_t *quote, size_t len,
                                       const struct mt_prepared_collateral *pc, int64_t now,
                                       struct mt_verdict *verdict);

/*
 * Verify quote[0..len) with collateral at time now.  Returns verdict->err.
 * Mock quotes are refused (MT_ERR_QUOTE_VERSION); callers that accept them
 * must detect them first with mt_quote_is_mock().
 */
/* The verdict as JSON (the CLI's --json shape); NULL when out of memory. */
json_t *mt_verdict_to_json(const struct mt_verdict *v);

MT_WUR mt_err mt_verify_quote(struct mt_verifier *v, const uint8_t *quote, size_t len,
                              const struct mt_collateral *col, int64_t now,
                              struct mt_verdict *verdict);

#endif
