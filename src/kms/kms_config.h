#ifndef MT_KMS_CONFIG_H
#define MT_KMS_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "policy/policy.h"
#include "util/mt_err.h"

/*
 * mero-kms configuration from the environment: the variables and defaults
 * of mero-kms-phala 2.3.40 (mero-tee-reference.md 1.2-1.4), minus its
 * silent fallbacks.  Every value that is set but invalid is fatal with a
 * message naming the variable (defect 5): LISTEN_ADDR, CHALLENGE_TTL_SECS
 * (0 included, defect 6) and MAX_PENDING_CHALLENGES no longer fall back to
 * their defaults.  A variable set to the empty string counts as set (and is
 * refused where empty is not meaningful), except REDIS_URL, where empty
 * means unset as in the reference.
 *
 * Policy (1.4): USE_ENV_POLICY, else the release policy of MERO_KMS_VERSION
 * from MERO_KMS_RELEASE_DIR or MERO_KMS_RELEASE_BASE_URL.  A fetch or parse
 * failure leaves the service degraded (policy_ready = 0, a reason, /get-key
 * answers 503) as in the reference; a loaded policy that is incomplete
 * while enforcing (and not in mock mode) is fatal (defect 12 kept: the
 * asymmetry is the reference's and tests pin it).
 *
 * Variables (defaults in brackets; "new" = not in the reference):
 *   LISTEN_ADDR                 [0.0.0.0:8080] a.b.c.d:port or [v6]:port, port 0..65535
 *   DSTACK_SOCKET_PATH          [/var/run/dstack.sock] < 108 bytes
 *   CHALLENGE_TTL_SECS          [60] 1..86400
 *   MAX_PENDING_CHALLENGES      [10000] 1..MT_KMS_MAX_PENDING_LIMIT
 *   MAX_PENDING_CHALLENGES_PER_PEER (new) [16] 1..MT_KMS_MAX_PENDING_LIMIT
 *   HTTP_WORKERS (new)          [2 per online CPU, at most 63] 1..63
 *   AUDIT_SYNC_INTERVAL_US (new) [3000] 0..100000
 *   ACCEPT_MOCK_ATTESTATION     [false] bool
 *   REDIS_URL                   [unset] see mt_kms_redis_url_parse
 *   MERO_KMS_PROFILE, KMS_POLICY_PROFILE, KMS_PROFILE_PIN_FILE (new,
 *                               [/etc/mero-kms/image-profile]): 1.3
 *   KEY_NAMESPACE_PREFIX        [merod/storage] '/' trimmed both ends
 *   CORS_ALLOWED_ORIGINS        [unset = CORS off] CSV of header-safe values
 *   ENFORCE_MEASUREMENT_POLICY  [true] bool
 *   USE_ENV_POLICY              [false] bool; then ALLOWED_TCB_STATUSES
 *                               [uptodate when unset], ALLOWED_MRTD,
 *                               ALLOWED_RTMR0..3 [empty] CSVs
 *   MERO_KMS_VERSION            [unset] "mero-kms-v" stripped; [A-Za-z0-9._+-]{1,63}
 *   MERO_KMS_POLICY_SHA256      [unset] 64 hex, "0x" stripped
 *   MERO_KMS_RELEASE_BASE_URL   (new) [MT_POLICY_DEFAULT_BASE_URL] https, or
 *                               http to a loopback IP literal (tests)
 *   MERO_KMS_RELEASE_DIR        (new) [unset] directory of release assets; wins
 *   KMS_KEY_PROVIDER            (new) [dstack] dstack | local
 *   KMS_LOCAL_ROOT_KEY_FILE     (new) required for local; may be missing (the KMS
 *                               creates it 0600), must be readable when present
 *   PCCS_URLS                   (new) [https://api.trustedservices.intel.com] CSV, http(s)
 *   COLLATERAL_CACHE_DIR        (new) [/var/lib/mero-kms/collateral] "" disables
 *   KMS_TRUST_ROOT_FILE         (new) [unset] readable file; development only
 *   AUDIT_LOG_PATH              (new) [/var/lib/mero-kms/audit.jsonl]
 */

#define MT_KMS_DEFAULT_LISTEN_HOST "0.0.0.0"
#define MT_KMS_DEFAULT_LISTEN_PORT 8080
#define MT_KMS_DEFAULT_DSTACK_SOCKET "/var/run/dstack.sock"
#define MT_KMS_DEFAULT_TTL 60u
#define MT_KMS_MAX_TTL 86400u
#define MT_KMS_DEFAULT_MAX_PENDING 10000u
#define MT_KMS_DEFAULT_MAX_PENDING_PER_PEER 16u
/* HTTP worker threads: 0 = MT_KMS_WORKERS_PER_CPU per online CPU, capped at MT_KMS_MAX_WORKERS. */
#define MT_KMS_WORKERS_PER_CPU 2u
#define MT_KMS_MAX_WORKERS 63u
/* Least time between two audit fsyncs (mt_audit_set_sync_interval), microseconds. */
#define MT_KMS_DEFAULT_AUDIT_SYNC_INTERVAL_US 3000u
#define MT_KMS_MAX_AUDIT_SYNC_INTERVAL_US 100000u
/* Upper bound of both pending limits: each entry costs ~200 bytes in memory. */
#define MT_KMS_MAX_PENDING_LIMIT 10000000u
#define MT_KMS_DEFAULT_PROFILE MT_PROFILE_LOCKED_RO
#define MT_KMS_DEFAULT_KEY_PREFIX "merod/storage"
#define MT_KMS_DEFAULT_PCCS_URL "https://api.trustedservices.intel.com"
#define MT_KMS_DEFAULT_COLLATERAL_DIR "/var/lib/mero-kms/collateral"
#define MT_KMS_DEFAULT_AUDIT_LOG "/var/lib/mero-kms/audit.jsonl"
#define MT_KMS_DEFAULT_PROFILE_PIN_FILE "/etc/mero-kms/image-profile"
/* Entries of CORS_ALLOWED_ORIGINS, and the length of each. */
#define MT_KMS_MAX_CORS_ORIGINS 64u
#define MT_KMS_MAX_CORS_ORIGIN_LEN 1024u
/* Longest path or URL taken from the environment. */
#define MT_KMS_MAX_PATH 4096u
/* The reason the 503 of /get-key carries when no reason was recorded (1.7 step 3). */
#define MT_KMS_POLICY_NOT_READY_TEXT                                                               \
    "Attestation policy is not ready yet. Set MERO_KMS_VERSION and MERO_KMS_PROFILE, or use "      \
    "explicit USE_ENV_POLICY mode."

typedef const char *(*mt_env_get_fn)(const char *name, void *arg);

enum mt_kms_key_provider {
    MT_KMS_KEYS_DSTACK = 0,
    MT_KMS_KEYS_LOCAL = 1,
};

struct mt_kms_config {
    char listen_host[64]; /* IPv4 dotted quad or IPv6 text, without brackets */
    uint16_t listen_port;
    char dstack_socket[108];
    uint64_t challenge_ttl;
    size_t max_pending;
    size_t max_pending_per_peer;
    unsigned http_workers; /* 0: the default for this machine (main.c) */
    uint32_t audit_sync_interval_us;
    int accept_mock;
    char *redis_url; /* NULL = in-memory store; validated by mt_kms_redis_url_parse */
    char profile[32];
    char key_prefix[256]; /* no leading or trailing '/' */
    char **cors_origins;  /* NULL / 0 = CORS off */
    size_t num_cors_origins;
    int enforce;
    int use_env_policy;
    char version[64]; /* without "mero-kms-v" */
    int has_version;
    uint8_t policy_pin[32];
    int has_policy_pin;
    char *release_base_url; /* never NULL */
    char *release_dir;      /* NULL unless MERO_KMS_RELEASE_DIR */
    /*
     * Always a policy (the empty default while not ready); policy->enforce
     * equals enforce.  policy_reason is "" when ready.  Replaced by
     * mt_kms_policy_reload (single-threaded use); the running KMS never
     * changes these after startup and reads its policy through
     * mt_kms_policy() (kms.h).
     */
    struct mt_policy *policy;
    int policy_ready;
    char policy_reason[512];
    enum mt_kms_key_provider key_provider;
    char *local_root_key_file; /* set iff key_provider is local */
    char **pccs_urls;          /* at least one, at most 16 */
    size_t num_pccs_urls;
    char *collateral_cache_dir; /* never NULL; "" = no disk cache */
    char *trust_root_file;      /* NULL unless KMS_TRUST_ROOT_FILE (development only) */
    char *audit_log;            /* never NULL */
    char *profile_pin_file;     /* never NULL */
    /*
     * Things startup should log as warnings, one line each (a deprecated
     * variable, ignored settings, development-only options).  Owned.
     */
    char **warnings;
    size_t num_warnings;
};

/*
 * Read and validate everything, then load the policy.  On failure *out is
 * untouched and why names the variable and the problem.
 * Errors: MT_ERR_CONFIG (any invalid value, profile pin conflicts, an
 * incomplete enforced policy), MT_ERR_NOMEM, MT_ERR_ARG (NULL get/out).
 * A degraded policy is MT_OK with policy_ready = 0.
 */
MT_WUR mt_err mt_kms_config_load(mt_env_get_fn get, void *arg, struct mt_kms_config **out,
                                 char *why, size_t why_len);
/* NULL-safe; wipes the Redis URL (it may hold a password). */
void mt_kms_config_free(struct mt_kms_config *c);

/* getenv(3) for production; arg is unused. */
const char *mt_env_getenv(const char *name, void *arg);

/*
 * Booleans as the reference: trimmed, case-insensitive, 1 true yes on ->
 * 1; 0 false no off -> 0; anything else (NULL included) MT_ERR_CONFIG.
 */
MT_WUR mt_err mt_env_parse_bool(const char *s, int *out);

/*
 * MERO_KMS_POLICY_SHA256 normalisation: trim, strip leading "0x"
 * repeatedly, lowercase, exactly 64 hex digits -> 32 bytes; else
 * MT_ERR_CONFIG.
 */
MT_WUR mt_err mt_kms_parse_pin(const char *s, uint8_t out[32]);

/*
 * Load the release policy the configuration names, without touching c, so
 * a caller can fetch outside its lock and swap under it.  On MT_OK *out is
 * a new policy with enforce applied.  On failure reason holds the text the
 * 503 of /get-key carries:
 *   USE_ENV_POLICY                MT_ERR_ARG (the env policy is not reloaded)
 *   no MERO_KMS_VERSION           MT_ERR_POLICY_NOT_READY,
 *                                 "MERO_KMS_VERSION is not set; release policy is not available
 * yet" fetch / pin / parse failure   that error (see mt_policy_fetch_release), "Failed to load
 *                                 release policy for version '<v>' profile '<p>': <cause>"
 *   incomplete while enforcing    MT_ERR_CONFIG, naming allowed_<label>
 *   (and not in mock mode)
 * Reads only fields that never change after load, so it needs no lock.
 */
MT_WUR mt_err mt_kms_policy_fetch(const struct mt_kms_config *c, struct mt_policy **out,
                                  char *reason, size_t reason_len);

/*
 * Load the release policy now (single-threaded callers; the running KMS
 * retries with mt_kms_policy_fetch in kms_policy.c instead) and update
 * policy / policy_ready / policy_reason: on success the new policy replaces
 * the old; on failure the old policy is kept if it was ready (a failed
 * retry does not take a working policy away), otherwise the reason is
 * updated.  Returns what mt_kms_policy_fetch returned; with USE_ENV_POLICY
 * it does nothing and returns MT_OK.  Not thread-safe against readers.
 */
MT_WUR mt_err mt_kms_policy_reload(struct mt_kms_config *c);

/*
 * REDIS_URL forms accepted:
 *   redis://[[user]:password@]host[:port][/db]      host: name, IPv4 or [IPv6];
 *                                                   port default 6379, db default 0
 *   unix:///abs/path.sock[?db=N][&pass=P][&user=U]  (also redis+unix://)
 * user and password are percent-decoded.  rediss:// (TLS) is refused: the
 * KMS links hiredis without TLS.  Nothing else (query strings on redis://,
 * fragments, whitespace, control characters) is accepted.
 */
struct mt_kms_redis_target {
    int is_unix;
    char host[256]; /* without brackets */
    uint16_t port;
    char path[108]; /* unix socket */
    char user[128];
    char password[256]; /* secret: wipe after use */
    int has_password;
    unsigned db; /* 0..15 by default Redis config; any u32 accepted here */
};

/*
 * Parse and validate a Redis URL into *out (wiped first).  MT_ERR_CONFIG with
 * why (which never repeats the password) on anything else.
 */
MT_WUR mt_err mt_kms_redis_url_parse(const char *url, struct mt_kms_redis_target *out, char *why,
                                     size_t why_len);

#endif
