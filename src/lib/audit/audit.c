#include "audit/audit.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "util/mt_alloc.h"
#include "util/mt_hex.h"

/* Bytes read per read(2) while verifying. */
#define AUDIT_READ_CHUNK (64u * 1024u)

struct mt_audit {
    pthread_mutex_t mu;
    pthread_cond_t synced_cv; /* signalled when an fsync ends */
    int fd;
    uint64_t seq;     /* lines in the file */
    uint8_t last[32]; /* hash of the last line (zeros when empty) */
    uint64_t size;    /* bytes in the file */
    uint64_t synced;  /* bytes an fsync has made durable */
    int syncing;      /* an fsync is running (without the lock) */
    int failed;       /* an I/O error left the file uncertain: refuse appends */
};

static const char *const forbidden[] = {MT_AUDIT_FORBIDDEN_KEYS};

static void
set_why(char *why, size_t why_len, const char *fmt_text)
{
    if (why != NULL && why_len > 0)
        snprintf(why, why_len, "%s", fmt_text);
}

static mt_err
sha256(const void *p, size_t n, uint8_t out[32])
{
    unsigned int len = 32;

    MT_ENSURE(EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) == 1 && len == 32, MT_ERR_CRYPTO);
    return MT_OK;
}

/* ---- verification ---- */

/* State carried from one line to the next. */
struct av_state {
    size_t lines;     /* lines verified so far */
    uint8_t prev[32]; /* hash of the last verified line */
    char *why;
    size_t why_len;
};

/* Check line[0..n) (n >= 1, line[n-1] == '\n') as line number st->lines + 1. */
static mt_err
verify_line(struct av_state *st, const char *line, size_t n)
{
    json_error_t jerr;
    json_t *j = NULL, *seq, *prev;
    const char *hex;
    uint8_t want[32];
    size_t lineno = st->lines + 1;
    mt_err e;

    if (n > MT_AUDIT_MAX_LINE) {
        if (st->why != NULL && st->why_len > 0)
            snprintf(st->why, st->why_len, "line %zu is longer than %u bytes", lineno,
                     MT_AUDIT_MAX_LINE);
        return MT_ERR_AUDIT_FORMAT;
    }
    if (n == 1) {
        if (st->why != NULL && st->why_len > 0)
            snprintf(st->why, st->why_len, "line %zu is empty", lineno);
        return MT_ERR_AUDIT_FORMAT;
    }
    j = json_loadb(line, n - 1, JSON_REJECT_DUPLICATES, &jerr);
    if (j == NULL || !json_is_object(j)) {
        if (st->why != NULL && st->why_len > 0) {
            if (j == NULL)
                snprintf(st->why, st->why_len, "line %zu is not JSON: %s at column %d", lineno,
                         jerr.text, jerr.column);
            else
                snprintf(st->why, st->why_len, "line %zu is not a JSON object", lineno);
        }
        e = MT_ERR_AUDIT_FORMAT;
        goto out;
    }
    seq = json_object_get(j, "seq");
    prev = json_object_get(j, "prev");
    hex = json_string_value(prev);
    if (!json_is_integer(seq) || hex == NULL || json_string_length(prev) != 64 ||
        mt_hex_decode_exact(hex, 64, want, sizeof(want)) != MT_OK) {
        if (st->why != NULL && st->why_len > 0)
            snprintf(st->why, st->why_len,
                     "line %zu lacks an integer \"seq\" or a 64-digit hex \"prev\"", lineno);
        e = MT_ERR_AUDIT_FORMAT;
        goto out;
    }
    if (json_integer_value(seq) != (json_int_t)lineno) {
        if (st->why != NULL && st->why_len > 0)
            snprintf(st->why, st->why_len,
                     "line %zu has seq %" JSON_INTEGER_FORMAT
                     ", expected %zu: a line was removed, inserted or moved here",
                     lineno, json_integer_value(seq), lineno);
        e = MT_ERR_AUDIT_CHAIN;
        goto out;
    }
    if (memcmp(want, st->prev, 32) != 0) {
        if (st->why != NULL && st->why_len > 0) {
            if (lineno == 1)
                snprintf(st->why, st->why_len, "line 1 has a prev other than 64 zeros");
            else
                snprintf(st->why, st->why_len,
                         "line %zu's prev is not the hash of line %zu: line %zu was altered, "
                         "or lines were replaced",
                         lineno, lineno - 1, lineno - 1);
        }
        e = MT_ERR_AUDIT_CHAIN;
        goto out;
    }
    MT_GUARD_GOTO(sha256(line, n, st->prev), e, out);
    st->lines = lineno;
    e = MT_OK;
out:
    json_decref(j);
    return e;
}

mt_err
mt_audit_verify_fd(int fd, size_t *lines, uint8_t last_hash[32], size_t *bad_line, char *why,
                   size_t why_len)
{
    struct av_state st;
    struct stat sb;
    uint8_t *buf = NULL;
    size_t len = 0, start, i, cap = MT_AUDIT_MAX_LINE + AUDIT_READ_CHUNK;
    uint64_t total = 0;
    ssize_t r;
    mt_err e;

    memset(&st, 0, sizeof(st));
    st.why = why;
    st.why_len = why_len;
    set_why(why, why_len, "");
    if (lines != NULL)
        *lines = 0;
    if (bad_line != NULL)
        *bad_line = 0;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        set_why(why, why_len, "cannot read the file");
        return MT_ERR_IO;
    }
    if (S_ISDIR(sb.st_mode)) {
        set_why(why, why_len, "is a directory");
        return MT_ERR_IO;
    }
    if (S_ISREG(sb.st_mode) && (uint64_t)sb.st_size > MT_AUDIT_MAX_FILE) {
        set_why(why, why_len, "the file is larger than the audit log limit");
        return MT_ERR_TOO_LARGE;
    }
    buf = mt_malloc(cap);
    MT_ENSURE(buf != NULL, MT_ERR_NOMEM);
    for (;;) {
        r = read(fd, buf + len, cap - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            set_why(why, why_len, "read error");
            e = MT_ERR_IO;
            goto out;
        }
        total += (uint64_t)r;
        if (total > MT_AUDIT_MAX_FILE) {
            set_why(why, why_len, "the file is larger than the audit log limit");
            e = MT_ERR_TOO_LARGE;
            goto out;
        }
        if (r == 0) {
            if (len > 0) {
                if (why != NULL && why_len > 0)
                    snprintf(why, why_len, "line %zu is cut short (no final newline)",
                             st.lines + 1);
                e = MT_ERR_AUDIT_FORMAT;
                goto fail;
            }
            break;
        }
        len += (size_t)r;
        /* Every complete line in buf[0..len). */
        for (start = 0, i = 0; i < len; i++) {
            if (buf[i] != '\n')
                continue;
            MT_GUARD_GOTO(verify_line(&st, (const char *)buf + start, i + 1 - start), e, fail);
            start = i + 1;
        }
        memmove(buf, buf + start, len - start);
        len -= start;
        /* A partial line of MT_AUDIT_MAX_LINE bytes can only become a longer one. */
        if (len >= MT_AUDIT_MAX_LINE) {
            if (why != NULL && why_len > 0)
                snprintf(why, why_len, "line %zu is longer than %u bytes", st.lines + 1,
                         MT_AUDIT_MAX_LINE);
            e = MT_ERR_AUDIT_FORMAT;
            goto fail;
        }
    }
    if (lines != NULL)
        *lines = st.lines;
    if (last_hash != NULL)
        memcpy(last_hash, st.prev, 32);
    e = MT_OK;
    goto out;
fail:
    if (e == MT_ERR_AUDIT_FORMAT || e == MT_ERR_AUDIT_CHAIN) {
        if (lines != NULL)
            *lines = st.lines;
        if (bad_line != NULL)
            *bad_line = st.lines + 1;
    }
out:
    mt_free(buf);
    return e;
}

mt_err
mt_audit_verify_file(const char *path, size_t *lines, size_t *bad_line, char *why, size_t why_len)
{
    mt_err e;
    int fd;

    if (lines != NULL)
        *lines = 0;
    if (bad_line != NULL)
        *bad_line = 0;
    MT_ENSURE(path != NULL, MT_ERR_ARG);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (why != NULL && why_len > 0)
            snprintf(why, why_len, "cannot open: %s", strerror(errno));
        return MT_ERR_IO;
    }
    e = mt_audit_verify_fd(fd, lines, NULL, bad_line, why, why_len);
    close(fd);
    return e;
}

/* ---- writing ---- */

mt_err
mt_audit_open_why(const char *path, struct mt_audit **out, char *why, size_t why_len)
{
    struct mt_audit *a = NULL;
    struct stat sb;
    size_t lines = 0, bad = 0;
    char vwhy[256];
    off_t end;
    mt_err e;
    int fd;

    set_why(why, why_len, "");
    MT_ENSURE(path != NULL && out != NULL, MT_ERR_ARG);
    fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) {
        if (why != NULL && why_len > 0)
            snprintf(why, why_len, "cannot open %s: %s", path, strerror(errno));
        return MT_ERR_IO;
    }
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        set_why(why, why_len, "not a regular file");
        e = MT_ERR_IO;
        goto out;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (why != NULL && why_len > 0)
            snprintf(why, why_len, "%s is locked by another writer", path);
        e = MT_ERR_IO;
        goto out;
    }
    a = mt_calloc(1, sizeof(*a));
    MT_ENSURE_GOTO(a != NULL, MT_ERR_NOMEM, e, out);
    a->fd = fd;
    MT_ENSURE_GOTO(lseek(fd, 0, SEEK_SET) == 0, MT_ERR_IO, e, out);
    e = mt_audit_verify_fd(fd, &lines, a->last, &bad, vwhy, sizeof(vwhy));
    if (e != MT_OK) {
        if (why != NULL && why_len > 0)
            snprintf(why, why_len, "refusing to append to %s: %s", path, vwhy);
        goto out;
    }
    end = lseek(fd, 0, SEEK_END);
    MT_ENSURE_GOTO(end >= 0, MT_ERR_IO, e, out);
    a->size = (uint64_t)end;
    a->synced = a->size;
    a->seq = lines;
    MT_ENSURE_GOTO(pthread_cond_init(&a->synced_cv, NULL) == 0, MT_ERR_INTERNAL, e, out);
    if (pthread_mutex_init(&a->mu, NULL) != 0) {
        pthread_cond_destroy(&a->synced_cv);
        e = MT_ERR_INTERNAL;
        goto out;
    }
    *out = a;
    a = NULL;
    fd = -1;
    e = MT_OK;
out:
    mt_free(a);
    if (fd >= 0)
        close(fd); /* also drops the lock */
    return e;
}

mt_err
mt_audit_open(const char *path, struct mt_audit **out)
{
    return mt_audit_open_why(path, out, NULL, 0);
}

/* Refuse reserved and forbidden member names anywhere in v. */
static mt_err
check_members(const json_t *v, int depth)
{
    const char *k;
    json_t *m;
    size_t i;

    MT_ENSURE(depth <= MT_AUDIT_MAX_DEPTH, MT_ERR_ARG);
    if (json_is_array(v)) {
        for (i = 0; i < json_array_size(v); i++)
            MT_GUARD(check_members(json_array_get(v, i), depth + 1));
        return MT_OK;
    }
    if (!json_is_object(v))
        return MT_OK;
    /* json_object_foreach takes a non-const object; nothing is modified. */
    json_object_foreach((json_t *)v, k, m)
    {
        for (i = 0; i < sizeof(forbidden) / sizeof(forbidden[0]); i++)
            MT_ENSURE(strcasecmp(k, forbidden[i]) != 0, MT_ERR_ARG);
        MT_GUARD(check_members(m, depth + 1));
    }
    return MT_OK;
}

/*
 * The record as compact JSON, made outside the lock: the lock then only
 * splices "seq" and "prev" in front of it (render_line), so concurrent
 * appends wait for the hash, the write and the fsync alone.
 */
static mt_err
dump_record(const json_t *record, char **out, size_t *out_len)
{
    char *text = json_dumps(record, JSON_COMPACT | JSON_ENSURE_ASCII);
    size_t n;

    MT_ENSURE(text != NULL, MT_ERR_NOMEM);
    n = strlen(text);
    /* json_dumps of an object: "{}" or "{...}" */
    if (n < 2 || text[0] != '{' || text[n - 1] != '}') {
        mt_free_libc(text);
        return MT_ERR_INTERNAL;
    }
    *out = text;
    *out_len = n;
    return MT_OK;
}

/*
 * {"seq":N,"prev":"<hex>",<the record's members>}\n: byte for byte what
 * json_dumps(JSON_COMPACT | JSON_ENSURE_ASCII) makes of an object holding
 * seq, prev and then the record's members in order.
 */
static mt_err
render_line(const struct mt_audit *a, const char *rec, size_t rec_len, char **out, size_t *out_len)
{
    char hex[65], head[128], *line;
    size_t hn, n;
    int r;

    mt_hex_encode(a->last, 32, hex);
    r = snprintf(head, sizeof(head), "{\"seq\":%llu,\"prev\":\"%s\"",
                 (unsigned long long)(a->seq + 1), hex);
    MT_ENSURE(r > 0 && (size_t)r < sizeof(head), MT_ERR_INTERNAL);
    hn = (size_t)r;
    /* head, then "," + members + "}" (or "}" alone for "{}"), then "\n" */
    n = hn + (rec_len > 2 ? rec_len : 1) + 1;
    MT_ENSURE(n <= MT_AUDIT_MAX_LINE, MT_ERR_TOO_LARGE);
    line = mt_malloc(n);
    MT_ENSURE(line != NULL, MT_ERR_NOMEM);
    memcpy(line, head, hn);
    if (rec_len > 2) {
        line[hn] = ',';
        memcpy(line + hn + 1, rec + 1, rec_len - 1); /* members and the closing brace */
    } else {
        line[hn] = '}';
    }
    line[n - 1] = '\n';
    *out = line;
    *out_len = n;
    return MT_OK;
}

/*
 * Group commit: return once an fsync that began after the first `upto`
 * bytes were written has succeeded.  Whoever finds no fsync running starts
 * one covering everything written so far; appends that arrive meanwhile
 * wait and are covered by the next, so concurrent requests share fsyncs
 * instead of queueing one each behind the lock.  Called and returns with
 * a->mu held.
 */
static mt_err
wait_durable(struct mt_audit *a, uint64_t upto)
{
    uint64_t target;
    int rc;

    while (a->synced < upto && !a->failed) {
        if (a->syncing) {
            pthread_cond_wait(&a->synced_cv, &a->mu);
            continue;
        }
        target = a->size;
        a->syncing = 1;
        pthread_mutex_unlock(&a->mu);
        rc = fsync(a->fd);
        pthread_mutex_lock(&a->mu);
        a->syncing = 0;
        /* A failed fsync: the lines may or may not be on disk (and the kernel may have dropped
         * the error), so nothing after it can be trusted either. */
        if (rc != 0)
            a->failed = 1;
        else if (target > a->synced)
            a->synced = target;
        pthread_cond_broadcast(&a->synced_cv);
    }
    return a->synced >= upto ? MT_OK : MT_ERR_IO;
}

mt_err
mt_audit_append(struct mt_audit *a, const json_t *record)
{
    uint8_t hash[32];
    char *line = NULL, *rec = NULL;
    size_t n = 0, rec_len = 0;
    ssize_t w;
    mt_err e;

    MT_ENSURE(a != NULL && json_is_object(record), MT_ERR_ARG);
    MT_ENSURE(json_object_get(record, "seq") == NULL && json_object_get(record, "prev") == NULL,
              MT_ERR_ARG);
    MT_GUARD(check_members(record, 0));
    MT_GUARD(dump_record(record, &rec, &rec_len));

    pthread_mutex_lock(&a->mu);
    MT_ENSURE_GOTO(!a->failed, MT_ERR_IO, e, out);
    MT_GUARD_GOTO(render_line(a, rec, rec_len, &line, &n), e, out);
    MT_ENSURE_GOTO(a->size + n <= MT_AUDIT_MAX_FILE, MT_ERR_TOO_LARGE, e, out);
    MT_GUARD_GOTO(sha256(line, n, hash), e, out);
    do
        w = write(a->fd, line, n);
    while (w < 0 && errno == EINTR);
    if (w != (ssize_t)n) {
        /* Take a partial line back; if that fails too the file is in doubt. */
        if (w > 0 && ftruncate(a->fd, (off_t)a->size) != 0)
            a->failed = 1;
        e = MT_ERR_IO;
        goto out;
    }
    a->seq++;
    a->size += n;
    memcpy(a->last, hash, 32);
    e = wait_durable(a, a->size);
out:
    pthread_mutex_unlock(&a->mu);
    mt_free(line);
    mt_free_libc(rec);
    return e;
}

void
mt_audit_last(struct mt_audit *a, uint64_t *seq, char hash_hex[65])
{
    pthread_mutex_lock(&a->mu);
    if (seq != NULL)
        *seq = a->seq;
    if (hash_hex != NULL)
        mt_hex_encode(a->last, 32, hash_hex);
    pthread_mutex_unlock(&a->mu);
}

void
mt_audit_close(struct mt_audit *a)
{
    if (a == NULL)
        return;
    close(a->fd);
    pthread_cond_destroy(&a->synced_cv);
    pthread_mutex_destroy(&a->mu);
    mt_free(a);
}
