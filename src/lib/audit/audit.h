#ifndef MT_AUDIT_H
#define MT_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "util/mt_err.h"

/*
 * The KMS audit log (DESIGN.md "Audit"): one JSON object per line, each key
 * decision appended and fsync'd before the decision takes effect.
 *
 * Format.  Line n (1-based) is a compact JSON object, ASCII only, ending in
 * '\n', whose first two members are
 *
 *   "seq":  n
 *   "prev": lowercase hex SHA-256 of line n-1's exact bytes, including its
 *           terminating '\n' (64 zeros for line 1)
 *
 * followed by the caller's event fields (time, requestId, peerId, decision,
 * reason, tcbStatus, measurements, policy, ...).  The hash of line n is what
 * `sed -n 'np' FILE | sha256sum` prints; the last line's hash is what
 * `tail -n 1 FILE | sha256sum` prints and what mt_audit_last and
 * `mero-tee audit verify` report.
 *
 * What the chain proves.  Every line up to the last is exactly what was
 * appended, in that order, with none removed or inserted between: changing,
 * deleting, reordering or inserting any line before the last breaks the
 * `prev` of the line after it (or the seq numbering), and
 * mt_audit_verify_file names the first line where that shows.
 *
 * What it does not prove.  The chain has no secret: anyone who can write
 * the file can rewrite it from any point on with a consistent chain.
 * Dropping lines from the end (or rewriting the last line) leaves a valid,
 * shorter chain and is undetectable from the file alone.  Both need an
 * external anchor: publish or ship elsewhere, from time to time, the
 * (seq, hash) of the last line (mt_audit_last; the KMS can log it or
 * expose it), and check later that the line with that seq still hashes to
 * it.  The log also does not prove that a decision was logged at all, nor
 * when (the "time" field is the writer's claim).
 *
 * Records never carry keys, nonces, signatures or quotes: mt_audit_append
 * refuses members named in MT_AUDIT_FORBIDDEN_KEYS at any depth.
 *
 * One writer per file: mt_audit_open takes an exclusive flock(2) on it, so
 * a second process (or a second handle) appending to the same log is
 * refused instead of interleaving two chains.  Within a process a handle is
 * thread-safe.
 */

/* Longest line, '\n' included (longer records are refused, longer lines are broken). */
#define MT_AUDIT_MAX_LINE (16u * 1024u)
/*
 * Largest log mt_audit_open and mt_audit_verify_file accept, and that
 * appends may grow a log to (MT_ERR_TOO_LARGE): verification streams the
 * file in constant memory, but its time grows with the size.  Rotate
 * before (start a new file and carry the old one's last hash in its first
 * record).
 */
#define MT_AUDIT_MAX_FILE (64ull * 1024u * 1024u * 1024u)
/* Nesting of a record accepted by mt_audit_append. */
#define MT_AUDIT_MAX_DEPTH 32
/* Member names refused anywhere in a record (compared case-insensitively). */
#define MT_AUDIT_FORBIDDEN_KEYS "key", "nonce", "nonceB64", "signature", "signatureB64", "quoteB64"

struct mt_audit;

/*
 * Open path for appending: created with mode 0600 when missing, otherwise
 * verified from its first line to its last (mt_audit_verify_file) and the
 * chain continued.  Refuses a broken log (MT_ERR_AUDIT_FORMAT /
 * MT_ERR_AUDIT_CHAIN, including a last line cut short): appending to it
 * would bury the damage.  MT_ERR_IO when the file cannot be opened or is
 * locked by another writer, MT_ERR_TOO_LARGE past MT_AUDIT_MAX_FILE.
 * why (may be NULL) explains a failure in one line.
 */
MT_WUR mt_err mt_audit_open(const char *path, struct mt_audit **out);
MT_WUR mt_err mt_audit_open_why(const char *path, struct mt_audit **out, char *why, size_t why_len);

/*
 * Append one record: record must be a JSON object without "seq", "prev" or
 * any forbidden member (MT_ERR_ARG); the line "seq","prev",<record's
 * members in order> must fit MT_AUDIT_MAX_LINE (MT_ERR_TOO_LARGE).  The line
 * is written with one write(2) and fsync'd before this returns MT_OK
 * (mt_audit_write, then mt_audit_wait); concurrent appends share fsyncs
 * (group commit), so the lines of several requests become durable together
 * and each returns once its own is.
 *
 * On an I/O error (MT_ERR_IO) the handle refuses every later append: a
 * partial line is cut off again when possible, but after a failed fsync
 * nothing about the file is certain any more.  Reopen (which verifies) to
 * continue.  Thread-safe.
 */
MT_WUR mt_err mt_audit_append(struct mt_audit *a, const json_t *record);

/*
 * The two halves of mt_audit_append, for callers that must not block on the
 * disk (the KMS's HTTP workers).  mt_audit_write appends the line (same
 * rules and errors) without waiting and sets *upto to the file size after
 * it: the line is durable once the first *upto bytes are.  mt_audit_wait
 * blocks until they are (MT_OK) or an fsync failed (MT_ERR_IO; MT_ERR_ARG
 * for bytes never written).
 */
MT_WUR mt_err mt_audit_write(struct mt_audit *a, const json_t *record, uint64_t *upto);
MT_WUR mt_err mt_audit_wait(struct mt_audit *a, uint64_t upto);

/* 1 when the first upto bytes are durable, -1 when they never will be (failed), else 0. */
int mt_audit_durable(struct mt_audit *a, uint64_t upto);

/*
 * Call done(arg, MT_OK) once the first upto bytes are durable, or
 * done(arg, MT_ERR_IO) when an fsync failed.  Returns 1 when done will be
 * called exactly once: from the log's syncer thread, or from this thread
 * before this returns when the answer is already known.  Returns 0, and
 * never calls done, after mt_audit_quiesce or for bytes never written: the
 * caller then uses mt_audit_wait.  w is the caller's storage and must stay
 * valid until done has been called; done must not call back into a.
 * Callbacks run in the order of registration.
 */
struct mt_audit_waiter {
    uint64_t upto;
    void (*done)(void *arg, mt_err e);
    void *arg;
    struct mt_audit_waiter *next;
};
int mt_audit_notify(struct mt_audit *a, struct mt_audit_waiter *w, uint64_t upto,
                    void (*done)(void *arg, mt_err e), void *arg);

/*
 * Least time between the starts of two fsyncs (0, the default: none).
 * Under load, lines written meanwhile wait for the next fsync together, so
 * fewer fsyncs serve the same decisions; a line written after a pause
 * longer than us is synced at once.  Each line's wait grows by up to us.
 */
void mt_audit_set_sync_interval(struct mt_audit *a, uint32_t us);

/* 1 after an I/O error: the handle refuses appends until reopened. */
int mt_audit_failed(struct mt_audit *a);

/*
 * Refuse further mt_audit_notify (it returns 0) and return once every
 * registered callback has run: after this, no callback can reach the
 * caller's objects (the KMS calls it before stopping its HTTP daemons,
 * whose suspended connections the callbacks resume).  NULL-safe.
 */
void mt_audit_quiesce(struct mt_audit *a);

/* Number of lines and hash of the last (64 zeros for an empty log). */
void mt_audit_last(struct mt_audit *a, uint64_t *seq, char hash_hex[65]);

/*
 * Close (the syncer thread, the fd, the lock).  Registered callbacks are
 * called first (after a final fsync).  No other call may be running.
 * NULL-safe.
 */
void mt_audit_close(struct mt_audit *a);

/*
 * Verify a whole file, streaming it line by line: each line ends in '\n',
 * is at most MT_AUDIT_MAX_LINE bytes, parses as one JSON object (duplicate
 * members refused) with an integer "seq" equal to its line number and a
 * "prev" equal to the previous line's hash.  *lines = number of lines that
 * verified (all of them on success).  On failure *bad_line = 1-based number
 * of the first broken line and the error is MT_ERR_AUDIT_FORMAT (not a
 * well-formed line: cut short, too long, not JSON, missing or mistyped
 * seq/prev) or MT_ERR_AUDIT_CHAIN (well-formed, but seq or prev do not
 * follow); why explains.  MT_ERR_IO when the file cannot be read,
 * MT_ERR_TOO_LARGE past MT_AUDIT_MAX_FILE.  An empty file is a valid log of
 * 0 lines.  bad_line, why may be NULL.
 */
MT_WUR mt_err mt_audit_verify_file(const char *path, size_t *lines, size_t *bad_line, char *why,
                                   size_t why_len);

/* The same over an open file descriptor read from its current offset; also returns the last hash.
 */
MT_WUR mt_err mt_audit_verify_fd(int fd, size_t *lines, uint8_t last_hash[32], size_t *bad_line,
                                 char *why, size_t why_len);

#endif
