#ifndef MT_SIDECAR_H
#define MT_SIDECAR_H

/*
 * mero-fleet-sidecar (docs/fleet-sidecar.md): MRTD-gated group admission
 * for read-only fleet nodes.  The pieces are separate so that the tests and
 * fuzz targets can drive each one alone:
 *
 *   sc_config.c  the root-only configuration file and the token file
 *   sc_log.c     JSON log lines on stderr (the token is redacted)
 *   sc_http.c    one libcurl request: TLS verified, bounded body
 *   sc_mdma.c    should-join / confirm bodies and the response parser
 *   sc_state.c   the state file (parse, serialise, atomic save, recovery)
 *   sc_join.c    meroctl through posix_spawn with a timeout
 *   sc_node.c    merod readiness, peer ID, MRTD
 *   sc_run.c     the poll loop and the loopback status endpoint
 */
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "util/mt_buf.h"
#include "util/mt_err.h"

#define SC_DEFAULT_CONFIG "/etc/calimero/fleet-sidecar.conf"
#define SC_STATE_FILE "fleet-state.json"
/* Configuration and token files, bytes. */
#define SC_MAX_CONFIG_FILE 65536u
#define SC_MAX_CONFIG_LINE 4096u
#define SC_MAX_TOKEN 1024u
/* Group assignments in one MDMA answer and groups kept in the state. */
#define SC_MAX_GROUPS 256u
/* One MDMA or merod answer (default; the configuration may lower it). */
#define SC_MAX_RESPONSE (256u * 1024u)
/* The state file. */
#define SC_MAX_STATE_FILE (1024u * 1024u)
/* A peer ID (reference 1.7: at most 128 base58btc characters). */
#define SC_MAX_PEER_ID 128u
#define SC_GROUP_HEX 64u
#define SC_MRTD_HEX 96u
/* Bytes of meroctl output kept for the log. */
#define SC_MAX_CHILD_OUTPUT 2048u
/* Groups kept in the state file (assigned ones plus removed ones still kept). */
#define SC_MAX_STATE_GROUPS (SC_MAX_GROUPS * 2u)
/* A confirmed group MDMA no longer assigns is forgotten this long after its removal. */
#define SC_REMOVED_KEEP_MS (7LL * 24 * 3600 * 1000)
/* Exit status when the state file exists but cannot be read (EX_TEMPFAIL; systemd retries). */
#define SC_EXIT_STATE_UNREADABLE 75

/* ---- configuration ---- */

struct sc_config {
    char *mdma_url;        /* https://... (no trailing slash kept) */
    char *token_file;      /* root-only file holding the fleet token */
    char *ca_file;         /* PEM CA bundle for MDMA; NULL = system store */
    char *meroctl;         /* absolute path */
    char *meroctl_home;    /* --home */
    char *meroctl_node;    /* --node */
    char *merod_admin_url; /* http(s)://127.0.0.1:2428 */
    char *peer_id_path;    /* admin API path answering the node's peer ID */
    char *mrtd_source;     /* "dstack[:SOCKET]", "tsm[:BASE]" or "merod" */
    char *state_dir;
    long poll_interval_ms;
    long http_timeout_ms;
    long join_timeout_ms;
    long backoff_initial_ms;
    long backoff_max_ms;
    long ready_initial_ms;
    long ready_max_ms;
    long max_response_bytes;
    long status_port; /* 0 = no status endpoint */
    int leave_removed;
};

/*
 * Read and check the configuration file (docs/fleet-sidecar.md): a regular
 * file owned by root or by the running user, with no group or other
 * permission bits; "key = value" lines, '#' comments; unknown keys,
 * duplicates, missing required keys and bad values are errors.  why says
 * which line and key.  Errors: MT_ERR_SIDECAR_FILE_PERMS, MT_ERR_CONFIG,
 * MT_ERR_IO, MT_ERR_TOO_LARGE, MT_ERR_NOMEM.
 */
MT_WUR mt_err sc_config_load(const char *path, struct sc_config *c, char *why, size_t why_len);
/* The same over text already read (no permission check). */
MT_WUR mt_err sc_config_parse(const char *text, size_t len, struct sc_config *c, char *why,
                              size_t why_len);
void sc_config_free(struct sc_config *c);

/*
 * Open path and check it is private: regular, owned by root or the running
 * user, mode & 077 == 0.  Reads at most max bytes into *out (NUL-terminated,
 * wiped and freed with sc_secret_free).  Errors: MT_ERR_SIDECAR_FILE_PERMS,
 * MT_ERR_IO, MT_ERR_TOO_LARGE, MT_ERR_NOMEM.
 */
MT_WUR mt_err sc_read_private_file(const char *path, size_t max, char **out, size_t *out_len,
                                   char *why, size_t why_len);
/*
 * The token file: private, one line of 1..SC_MAX_TOKEN printable ASCII
 * characters (0x21..0x7e) other than '"' and '\\', so that the token reads
 * the same inside a JSON log line as outside it.
 */
MT_WUR mt_err sc_token_load(const char *path, char **token, char *why, size_t why_len);
/* Wipe and free a NUL-terminated secret.  NULL-safe. */
void sc_secret_free(char *s);

/* ---- logging ---- */

/* Redact this string (the token) from every line from now on; NULL stops. */
void sc_log_set_secret(const char *secret);
/* Log to this fd (default 2). */
void sc_log_set_fd(int fd);
/*
 * One JSON line {"ts","level","event", key: value ...}: the variadic part is
 * pairs of const char * (key, string value) ending with NULL.
 */
void sc_log(const char *level, const char *event, ...) __attribute__((sentinel));

/* ---- HTTP ---- */

struct sc_http_opts {
    const char *ca_file; /* NULL = system store */
    long timeout_ms;
    size_t max_body;
};

struct sc_http_resp {
    long status; /* 0 when no response arrived */
    struct mt_buf body;
    char error[256];
};

/*
 * One request (body NULL = GET, else POST with Content-Type application/json).
 * headers: NULL-terminated extra header lines.  TLS peer and host are always
 * verified, redirects are not followed, http and https only.  MT_OK when a
 * response arrived (any status); MT_ERR_NETWORK when none did;
 * MT_ERR_TOO_LARGE past max_body.  sc_http_resp_free whatever the result.
 */
MT_WUR mt_err sc_http_request(const struct sc_http_opts *o, const char *url,
                              const char *const *headers, const char *body, struct sc_http_resp *r);
void sc_http_resp_free(struct sc_http_resp *r);

/* ---- MDMA protocol ---- */

/*
 * Parse a should-join answer: an object whose "assignments" is an array of
 * at most SC_MAX_GROUPS objects each with a "group_id" of exactly 64 hex
 * digits (stored lowercase; duplicates dropped).  Other members are ignored.
 * Anything else fails the whole answer: MT_ERR_SIDECAR_MDMA_RESPONSE (why
 * says what).  ids receives *n entries of 65 bytes.
 */
MT_WUR mt_err sc_mdma_parse_assignments(const char *body, size_t len, char (*ids)[65], size_t max,
                                        size_t *n, char *why, size_t why_len);
/* 1 when s is exactly 64 hex digits. */
int sc_is_group_id(const char *s);
/* 1 when s is exactly 96 lowercase hex digits. */
int sc_is_mrtd(const char *s);
/* 1 when s is a plausible peer ID: 1..128 base58btc characters. */
int sc_is_peer_id(const char *s);

/* ---- state ---- */

enum sc_status { SC_PENDING = 0, SC_JOINED = 1, SC_CONFIRMED = 2 };

struct sc_group {
    char id[65];
    enum sc_status status;
    int assigned;              /* in MDMA's last successful answer */
    unsigned join_attempts;    /* failed joins since the last success */
    unsigned confirm_attempts; /* failed confirms since the join */
    int64_t next_try_ms;       /* unix ms before which no retry is made */
    char last_error[160];
    int64_t removed_ms; /* unix ms when MDMA stopped assigning it; 0 while assigned */
};

struct sc_state {
    struct sc_group *g;
    size_t n;
};

/* The state file's other members. */
struct sc_state_info {
    /* The identity the file was written for ("" when absent or null). */
    char peer_id[SC_MAX_PEER_ID + 1];
    char mrtd[SC_MRTD_HEX + 1];
    /* "state_full_total": times a new assignment found the state full (after pruning). */
    unsigned full_total;
};

const char *sc_status_name(enum sc_status s);
/* Parse a state file's text.  MT_ERR_SIDECAR_STATE_CORRUPT for anything malformed. */
MT_WUR mt_err sc_state_parse(const char *text, size_t len, struct sc_state *st);
/* The same, also filling info (may be NULL). */
MT_WUR mt_err sc_state_parse_info(const char *text, size_t len, struct sc_state *st,
                                  struct sc_state_info *info);
/* Serialise (pretty JSON, trailing newline); *out freed with mt_free. */
MT_WUR mt_err sc_state_serialize(const struct sc_state *st, const char *peer_id, const char *mrtd,
                                 char **out);
/* The same with every member of info ("" peer_id/mrtd are written as null). */
MT_WUR mt_err sc_state_serialize_info(const struct sc_state *st, const struct sc_state_info *info,
                                      char **out);
/*
 * Load dir/fleet-state.json.  Missing: empty state, MT_OK, *missing = 1.
 * Corrupt: the file is renamed to fleet-state.json.corrupt-<unix seconds>,
 * the state is empty and MT_ERR_SIDECAR_STATE_CORRUPT is returned (the
 * caller logs and goes on).  MT_ERR_IO when it exists but cannot be read
 * (not a regular file, EACCES, EIO): it is left alone and the caller must
 * not save over it.
 */
MT_WUR mt_err sc_state_load(const char *dir, struct sc_state *st, int *missing, char *aside,
                            size_t aside_len);
/* The same, also filling info (may be NULL; zeroed when the state is empty). */
MT_WUR mt_err sc_state_load_info(const char *dir, struct sc_state *st, struct sc_state_info *info,
                                 int *missing, char *aside, size_t aside_len);
/* Write atomically (temp, fsync, rename, fsync dir), mode 0600. */
MT_WUR mt_err sc_state_save(const char *dir, const struct sc_state *st, const char *peer_id,
                            const char *mrtd);
MT_WUR mt_err sc_state_save_info(const char *dir, const struct sc_state *st,
                                 const struct sc_state_info *info);
struct sc_group *sc_state_find(struct sc_state *st, const char *id);
/* MT_ERR_TOO_LARGE when SC_MAX_STATE_GROUPS are kept (sc_state_prune first). */
MT_WUR mt_err sc_state_add(struct sc_state *st, const char *id, struct sc_group **out);
void sc_state_remove(struct sc_state *st, size_t i);
/*
 * Retention (docs/fleet-sidecar.md "State file"): drop groups MDMA no longer
 * assigns that need no more work.  An unassigned pending group (never
 * joined) goes at once; an unassigned confirmed group goes SC_REMOVED_KEEP_MS
 * after its removal, or earlier, oldest removal first, while need_room is set
 * and the state holds SC_MAX_STATE_GROUPS.  Assigned groups and joined
 * groups (confirmation pending) are never dropped.  An unassigned group
 * without removed_ms gets now_ms.  on_drop (may be NULL) sees each group
 * before it goes.  Returns the number dropped.
 */
size_t sc_state_prune(struct sc_state *st, int64_t now_ms, int need_room,
                      void (*on_drop)(const struct sc_group *g, const char *reason));
/*
 * Rename dir/fleet-state.json to fleet-state.json.<tag>-<unix seconds>
 * (a fresh name, never over another file).  aside receives the new path.
 * MT_ERR_IO when it cannot be moved.
 */
MT_WUR mt_err sc_state_move_aside(const char *dir, const char *tag, char *aside, size_t aside_len);
void sc_state_free(struct sc_state *st);

/* ---- meroctl ---- */

/*
 * Run `meroctl --home H --node N tee <sub> <group>` through posix_spawn (no
 * shell), stdin /dev/null, stdout+stderr captured (first
 * SC_MAX_CHILD_OUTPUT bytes into out), in its own process group, killed
 * with SIGKILL after timeout_ms.  MT_OK only on exit status 0;
 * MT_ERR_SIDECAR_JOIN_TIMEOUT; MT_ERR_SIDECAR_JOIN_FAILED otherwise (why
 * says how it ended).
 */
MT_WUR mt_err sc_meroctl_run(const struct sc_config *c, const char *sub, const char *group,
                             char *out, size_t out_len, char *why, size_t why_len);

/* ---- node ---- */

/* Milliseconds, and sleeping that stops early when *stop is set. */
int64_t sc_now_ms(void);
void sc_sleep_ms(long ms, volatile sig_atomic_t *stop);

/*
 * Wait for merod's admin health endpoint, then read the peer ID and the
 * MRTD, each retried with capped exponential backoff until it works or
 * *stop is set (then MT_ERR_SIDECAR_NODE_NOT_READY).
 */
MT_WUR mt_err sc_node_identify(const struct sc_config *c, volatile sig_atomic_t *stop,
                               char peer_id[SC_MAX_PEER_ID + 1], char mrtd[SC_MRTD_HEX + 1]);

/*
 * Tests only: the configfs-TSM hook of kmsclient/quote_source.h, used for
 * mrtd_source = tsm[:BASE] so that a fake configfs tree in an ordinary
 * directory can answer (a real configfs-tsm produces outblob itself).
 * Never set in production; NULL clears it.
 */
void sc_node_set_tsm_hook(void (*hook)(const char *entry_dir, void *arg), void *arg);

/* ---- loop ---- */

struct sc_run_opts {
    int once;          /* one poll, then exit */
    int leave_removed; /* from --leave-removed (or the config) */
};

/*
 * Process hardening at startup: no core dumps (PR_SET_DUMPABLE 0 and
 * RLIMIT_CORE 0), so that the token never lands in a core file.  MT_OK, or
 * MT_ERR_IO when the kernel refused.
 */
MT_WUR mt_err sc_disable_core_dumps(void);

/*
 * The service: identify, then poll until *stop.  Returns a process exit
 * status: 0, 1 (startup failure), SC_EXIT_STATE_UNREADABLE.
 */
int sc_run(const struct sc_config *c, const char *token, const struct sc_run_opts *o,
           volatile sig_atomic_t *stop);
/* --status: print the state file (or "no state yet") to stdout.  Exit status. */
int sc_print_status(const struct sc_config *c);

#endif
