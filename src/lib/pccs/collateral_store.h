#ifndef MT_COLLATERAL_STORE_H
#define MT_COLLATERAL_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "dcap/dcap.h"
#include "pccs/pccs.h"
#include "quote/quote.h"
#include "util/mt_err.h"

/*
 * Where the KMS (and the web verifier) gets collateral for a quote
 * (DESIGN.md "Collateral", dcap-verify.md 3.3 and 5): memory, then an
 * on-disk cache, then the PCCS / PCS URLs (first that answers, mt_pccs_fetch).
 *
 * Entries are keyed by the platform: (TEE type, FMSPC, PCK CA type), learned
 * from the quote's PCK leaf.  The quote's certification data -> key mapping
 * is kept by SHA-256 of those bytes, so a known platform costs a hash, not a
 * certificate decode.  Each entry holds prepared collateral
 * (mt_collateral_prepare) and its window (mt_prepared_collateral_window):
 *
 *   now <= not_after - refresh_margin   served from memory
 *   inside the margin                   one caller refreshes (fetches);
 *                                       meanwhile, and if that fails, the
 *                                       current entry keeps being served
 *   now > not_after                     expired: never served; fetched anew,
 *                                       and the fetch's error is returned
 *                                       when it fails
 *
 * After a fetch that failed, or that brought nothing fresher than the
 * margin, the key is not fetched again for retry_interval seconds (of the
 * callers' `now`): a PCCS outage costs one timeout per key and interval, not
 * one per request.  A miss inside that interval returns the remembered
 * error at once.
 *
 * Collateral is stored without pck_certificate_chain: a fetch fills it from
 * the quote at hand, but the entry serves every platform of that FMSPC, and
 * the verifier prefers that field over the quote's own chain.  The
 * verifier therefore always uses the chain of the quote it verifies.
 *
 * Disk cache (cache_dir): one file per key, "<tee>-<fmspc>-<ca>.json"
 * ("tdx-00806f050000-platform.json") holding dcap-qvl collateral JSON
 * (dcap/collateral.h), written after each successful fetch through a
 * temporary file, fsync, rename and fsync of the directory, mode 0600.  A
 * file is read once per key, the first time the key is needed in memory
 * (after a restart, or after eviction).  A file that does not parse, does not
 * match its name's platform or whose window cannot be computed is ignored
 * (counted in disk_errors, logged) and replaced by the next fetch; a file
 * whose contents have expired is never used.  Leftover temporary files of an
 * interrupted write are removed by mt_collateral_store_new.
 *
 * The store never decides trust: it only delivers collateral.  What it
 * returns (fetched, or read from a disk the KMS owns) is checked by
 * mt_verify_quote_prepared like any other collateral.  A fetched
 * collateral that was not yet valid at `now` is delivered (the verifier
 * then reports the precise error); one that had already expired is not.
 *
 * Thread-safe: any number of threads may call mt_collateral_store_get.  No
 * lock is held during disk or network I/O; concurrent misses for one key
 * wait for a single fetch and share its result (its error too).
 */
struct mt_collateral_store;

/* Defaults of struct mt_collateral_store_opts. */
#define MT_CSTORE_DEFAULT_REFRESH_MARGIN 3600
#define MT_CSTORE_DEFAULT_RETRY_INTERVAL 60
#define MT_CSTORE_DEFAULT_MAX_ENTRIES 64u
/* Upper bound of max_entries. */
#define MT_CSTORE_MAX_ENTRIES 4096u
/* Certification-data hashes remembered (beyond that the table starts over). */
#define MT_CSTORE_MAX_PLATFORMS 1024u

struct mt_collateral_store_opts {
    const struct mt_pccs_opts *pccs; /* URLs, timeouts (deep-copied); required */
    const char *cache_dir;           /* NULL or "": memory only; else created 0700 if missing */
    int64_t refresh_margin;          /* refresh when now > not_after - margin; 0: default 3600 */
    size_t max_entries;              /* platforms kept in memory (LRU); 0: default 64 */
    /*
     * Seconds before a key is fetched again after a failed fetch or one
     * whose result is already inside the margin; 0: default 60; < 0: no
     * wait (every get that needs a fetch makes one).
     */
    int64_t retry_interval;
    /*
     * Called (never with the store's lock held) for events an operator
     * should see: a failed fetch, stale collateral still served, a disk file
     * ignored or not written.  One line, no trailing newline.  NULL: none.
     */
    void (*log)(void *arg, mt_err e, const char *msg);
    void *log_arg;
};

/* Zero the options and set the defaults (pccs stays NULL). */
void mt_collateral_store_opts_init(struct mt_collateral_store_opts *o);

/*
 * A new store.  MT_ERR_ARG for missing or invalid options (no URLs, a
 * negative margin, more than MT_CSTORE_MAX_ENTRIES), MT_ERR_IO when
 * cache_dir cannot be created or is not a directory, MT_ERR_NOMEM.
 * Call mt_pccs_global_init() before using a store from several threads.
 */
MT_WUR mt_err mt_collateral_store_new(const struct mt_collateral_store_opts *o,
                                      struct mt_collateral_store **out);
/* NULL-safe.  Collateral handed out earlier stays valid (reference counted). */
void mt_collateral_store_free(struct mt_collateral_store *s);

/*
 * Prepared collateral for the quote's platform, current at now (never past
 * its window's not_after).  *out is a new reference: release it with
 * mt_prepared_collateral_free.  On failure *out is untouched and why holds
 * one line (always NUL-terminated when why_len > 0; "" on success).
 *
 * Errors: MT_ERR_ARG (mock quote, NULL arguments), MT_ERR_QUOTE_TEE_TYPE,
 * MT_ERR_QUOTE_CERT_TYPE / MT_ERR_PEM / MT_ERR_PCK_EXTENSION (the quote's
 * PCK chain names no platform); when nothing current is cached: the fetch's
 * error (MT_ERR_NETWORK, MT_ERR_HTTP_STATUS, MT_ERR_TOO_LARGE,
 * MT_ERR_COLLATERAL_FORMAT, ...), a decode error of the fetched documents
 * (MT_ERR_TCB_INFO_FORMAT, ...), or, when what the server sent had already
 * expired at now, MT_ERR_TCB_INFO_EXPIRED / MT_ERR_QE_IDENTITY_EXPIRED /
 * MT_ERR_PCK_CRL_EXPIRED / MT_ERR_ROOT_CRL; MT_ERR_NOMEM.
 */
MT_WUR mt_err mt_collateral_store_get(struct mt_collateral_store *s, const struct mt_quote *q,
                                      int64_t now, struct mt_prepared_collateral **out, char *why,
                                      size_t why_len);

/*
 * Readiness (the KMS's /ready): 1 when a fetch has ever succeeded or an
 * entry current at now exists (a disk load counts), else 0.
 */
int mt_collateral_store_ready(struct mt_collateral_store *s, int64_t now);

/* Counters for /metrics, since mt_collateral_store_new. */
struct mt_collateral_store_stats {
    uint64_t memory_hits;    /* gets answered from memory without I/O */
    uint64_t disk_loads;     /* entries read from the disk cache and used */
    uint64_t disk_errors;    /* disk files ignored (corrupt, mismatched) or not written */
    uint64_t fetches;        /* mt_pccs_fetch calls */
    uint64_t fetch_failures; /* fetches that failed or brought expired collateral */
    uint64_t stale_served;   /* gets answered with a current entry after a failed refresh */
    uint64_t pck_decodes;    /* PCK leaves decoded to learn a platform */
    size_t entries;          /* platforms with collateral in memory now */
};
void mt_collateral_store_stats(struct mt_collateral_store *s,
                               struct mt_collateral_store_stats *out);

#endif
