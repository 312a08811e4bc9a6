#ifndef MT_KMS_H
#define MT_KMS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <jansson.h>

#include "audit/audit.h"
#include "kms/kms_config.h"
#include "kms/kms_store.h"
#include "pccs/collateral_store.h"
#include "util/mt_err.h"
#include "util/mt_time.h"

/*
 * The KMS: what the request handlers share.  Everything here is either
 * immutable after mt_kms_new or thread-safe on its own (the store, the
 * collateral store, the audit log, the atomic counters); per-thread objects
 * (a DCAP verifier with its cache, a dstack client) live in thread-local
 * storage (kms_thread.c).
 */

enum mt_kms_route {
    MT_KMS_ROUTE_HEALTH = 0,
    MT_KMS_ROUTE_READY,
    MT_KMS_ROUTE_METRICS,
    MT_KMS_ROUTE_CHALLENGE,
    MT_KMS_ROUTE_GET_KEY,
    MT_KMS_ROUTE_ATTEST,
    MT_KMS_ROUTE_OTHER,
    MT_KMS_ROUTE__COUNT
};

/* Status classes counted per route for /metrics. */
enum { MT_KMS_STATUS_2XX = 0, MT_KMS_STATUS_4XX, MT_KMS_STATUS_5XX, MT_KMS_STATUS__COUNT };

struct mt_kms_metrics {
    atomic_ulong requests[MT_KMS_ROUTE__COUNT][MT_KMS_STATUS__COUNT];
    atomic_ulong keys_released;
    atomic_ulong key_denials;
    atomic_ulong challenges_issued;
    atomic_ulong latency_us_sum[MT_KMS_ROUTE__COUNT];
};

struct mt_kms {
    struct mt_kms_config *cfg;
    struct mt_kms_store *store;
    struct mt_collateral_store *collateral;
    struct mt_audit *audit; /* always open: AUDIT_LOG_PATH is required (config refuses "") */
    struct mt_clock clock;
    uint8_t *root_der; /* configured trust root (NULL = built-in Intel root) */
    size_t root_der_len;
    uint8_t local_root_key[32]; /* KMS_KEY_PROVIDER=local */
    int has_local_root_key;
    char profile_event[160]; /* state of the calimero.kms.profile event, for /health */
    struct mt_kms_metrics metrics;
    atomic_ulong next_request_id;
    /*
     * The release policy once it is ready (kms_policy.c).  A KMS that starts
     * without one retries in the background; the policy becomes ready at most
     * once and never changes afterwards, so readers need no lock: they load
     * policy_ready (acquire) and then read the immutable policy.
     */
    atomic_int policy_ready;
    struct mt_policy *retried_policy; /* set once by the retry thread, before policy_ready */
    pthread_mutex_t policy_mu;        /* guards policy_reason and the thread's stop flag */
    pthread_cond_t policy_cv;
    char policy_reason[512];
    int policy_thread_running;
    int policy_stop;
    pthread_t policy_thread;
};

/* Build the KMS from a loaded configuration (takes ownership of cfg). */
MT_WUR mt_err mt_kms_new(struct mt_kms_config *cfg, struct mt_clock clock, struct mt_kms **out,
                         char *why, size_t why_len);
void mt_kms_free(struct mt_kms *k);

/*
 * Measure the KMS profile into RTMR3 through dstack EmitEvent unless the
 * event log already has it (mero-tee-reference.md 1.5).  A different
 * profile already measured is fatal (the reference only warns: defect 2);
 * a dstack failure is not (state reported on /health).
 */
MT_WUR mt_err mt_kms_profile_event(struct mt_kms *k, char *why, size_t why_len);

/*
 * The attestation policy: NULL unless ready.  Once non-NULL it never changes
 * for the life of k.
 */
const struct mt_policy *mt_kms_policy(struct mt_kms *k);

/* Why the policy is not ready ("" when it is), copied under the lock. */
void mt_kms_policy_reason(struct mt_kms *k, char *out, size_t out_len);

/*
 * Start retrying the release policy in the background when it is not ready
 * and can be fetched (MERO_KMS_VERSION set, not USE_ENV_POLICY): after 1 s,
 * then doubling up to 5 minutes, until it loads.  MT_OK with nothing to do.
 */
MT_WUR mt_err mt_kms_policy_retry_start(struct mt_kms *k);

/* Stop the retry thread (mt_kms_free calls it). */
void mt_kms_policy_retry_stop(struct mt_kms *k);

/* One JSON log line on stderr: level, msg, and optional extra fields (borrowed). */
void mt_kms_log(const char *level, const char *msg, const json_t *fields);

#endif
