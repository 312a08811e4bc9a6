#include "audit/audit.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "util/mt_alloc.h"
#include "util/mt_hex.h"
#include "util/mt_json_dump.h"
#include "util/mt_time.h"

/*
 * Appending to the audit log (audit.h).  Durability is group commit by one
 * syncer thread per log: writers append their line with write(2) under the
 * lock and then either wait for an fsync that covers it (mt_audit_wait) or
 * register a callback (mt_audit_notify), and the syncer runs one fsync for
 * whatever has been written when it starts, then again while anyone still
 * waits.  A request thread therefore never blocks on the disk unless it
 * chooses to, and concurrent decisions share one fsync.
 */

struct mt_audit {
    pthread_mutex_t mu;
    pthread_cond_t synced_cv; /* broadcast when an fsync ends (or fails) */
    pthread_cond_t work_cv;   /* the syncer's: someone waits for bytes not yet synced, or stop */
    pthread_cond_t idle_cv;   /* broadcast when the syncer has run every callback it took */
    pthread_t syncer;
    int fd;
    uint64_t seq;                    /* lines in the file */
    uint8_t last[32];                /* hash of the last line (zeros when empty) */
    uint64_t size;                   /* bytes in the file */
    uint64_t synced;                 /* bytes an fsync has made durable */
    uint64_t wanted;                 /* the most bytes anyone waits for */
    struct mt_audit_waiter *waiters; /* registered by mt_audit_notify, not yet called */
    int running_callbacks;           /* the syncer is calling waiters (without the lock) */
    int refuse_notify;               /* mt_audit_quiesce ran: callers wait instead */
    int stop;                        /* mt_audit_close: finish and exit */
    int failed;                      /* an I/O error left the file uncertain: refuse appends */
    uint32_t interval_us;            /* least time between the starts of two fsyncs */
};

static const char *const forbidden[] = {MT_AUDIT_FORBIDDEN_KEYS};

static void *syncer_main(void *arg);

/* The lock, the condition variables and the syncer thread; nothing is left on failure. */
static mt_err
start_syncer(struct mt_audit *a)
{
    int inited = 0;

    if (pthread_mutex_init(&a->mu, NULL) != 0)
        return MT_ERR_INTERNAL;
    inited++;
    if (pthread_cond_init(&a->synced_cv, NULL) != 0)
        goto fail;
    inited++;
    if (pthread_cond_init(&a->work_cv, NULL) != 0)
        goto fail;
    inited++;
    if (pthread_cond_init(&a->idle_cv, NULL) != 0)
        goto fail;
    inited++;
    if (pthread_create(&a->syncer, NULL, syncer_main, a) != 0)
        goto fail;
    return MT_OK;
fail:
    if (inited > 3)
        pthread_cond_destroy(&a->idle_cv);
    if (inited > 2)
        pthread_cond_destroy(&a->work_cv);
    if (inited > 1)
        pthread_cond_destroy(&a->synced_cv);
    pthread_mutex_destroy(&a->mu);
    return MT_ERR_INTERNAL;
}

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

    if (why != NULL && why_len > 0)
        why[0] = '\0';
    MT_ENSURE(path != NULL && out != NULL, MT_ERR_ARG);
    fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) {
        if (why != NULL && why_len > 0)
            snprintf(why, why_len, "cannot open %s: %s", path, strerror(errno));
        return MT_ERR_IO;
    }
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        if (why != NULL && why_len > 0)
            snprintf(why, why_len, "%s is not a regular file", path);
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
    a->wanted = a->size;
    MT_GUARD_GOTO(start_syncer(a), e, out);
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
    char *text = NULL;
    size_t n = 0;

    MT_GUARD(mt_json_dumps(record, JSON_ENSURE_ASCII, &text, &n));
    /* an object: "{}" or "{...}" */
    if (n < 2 || text[0] != '{' || text[n - 1] != '}') {
        mt_free(text);
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
 * Take the waiters an fsync has settled: all of them when the log failed,
 * else those whose bytes are now durable.  Called with a->mu held.
 */
static struct mt_audit_waiter *
take_settled(struct mt_audit *a)
{
    struct mt_audit_waiter **pp = &a->waiters, *w, *done = NULL, **tail = &done;

    while ((w = *pp) != NULL) {
        if (a->failed || w->upto <= a->synced) {
            *pp = w->next;
            w->next = NULL;
            *tail = w;
            tail = &w->next;
        } else {
            pp = &w->next;
        }
    }
    return done;
}

/*
 * Let at least interval_us pass since the last fsync began (commit delay):
 * an fsync costs the same for one line as for twenty, mostly in the kernel
 * and the block device, so under load fewer, larger batches leave more CPU
 * for requests.  An idle log is not delayed: the first line after a pause
 * is synced at once.  Called and returns with a->mu held.
 */
static void
pace(struct mt_audit *a, uint64_t *last_start)
{
    uint64_t now = mt_monotonic_us(), d;
    struct timespec ts;

    if (*last_start != 0 && now < *last_start + a->interval_us) {
        d = *last_start + a->interval_us - now;
        ts.tv_sec = (time_t)(d / 1000000u);
        ts.tv_nsec = (long)(d % 1000000u) * 1000;
        pthread_mutex_unlock(&a->mu);
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
            ;
        pthread_mutex_lock(&a->mu);
        now = mt_monotonic_us();
    }
    *last_start = now;
}

/*
 * The log is in doubt (a failed fsync, or a partial line that could not be
 * cut off): wake everyone who waits, blocked or registered, to fail them.
 * Called with a->mu held.
 */
static void
fail_locked(struct mt_audit *a)
{
    a->failed = 1;
    pthread_cond_broadcast(&a->synced_cv);
    pthread_cond_signal(&a->work_cv);
}

/* Something for the syncer: bytes wanted but not durable, or waiters to fail.  a->mu held. */
static int
has_work(const struct mt_audit *a)
{
    return a->failed ? a->waiters != NULL : a->wanted > a->synced;
}

/*
 * The syncer: while anyone waits for bytes not yet durable, fsync everything
 * written so far (appends that land during an fsync are covered by the
 * next), then wake the blocked waiters and call the registered ones, in the
 * order they registered.  A failed fsync fails every waiter, present and
 * future: the kernel may have dropped the dirty pages and the error with
 * them, so a later fsync's success would prove nothing.
 */
static void *
syncer_main(void *arg)
{
    struct mt_audit *a = arg;
    struct mt_audit_waiter *done, *next;
    uint64_t target, last_start = 0;
    mt_err e;
    int rc;

    pthread_mutex_lock(&a->mu);
    for (;;) {
        while (!a->stop && !has_work(a))
            pthread_cond_wait(&a->work_cv, &a->mu);
        if (a->stop && !has_work(a))
            break;
        if (!a->failed && a->wanted > a->synced) {
            if (a->interval_us > 0 && !a->stop)
                pace(a, &last_start);
            target = a->size;
            pthread_mutex_unlock(&a->mu);
            rc = fsync(a->fd);
            pthread_mutex_lock(&a->mu);
            if (rc != 0)
                fail_locked(a);
            else if (target > a->synced)
                a->synced = target;
            pthread_cond_broadcast(&a->synced_cv);
        }
        done = take_settled(a);
        if (done == NULL)
            continue;
        e = a->failed ? MT_ERR_IO : MT_OK;
        a->running_callbacks = 1;
        pthread_mutex_unlock(&a->mu);
        for (; done != NULL; done = next) {
            next = done->next; /* done may be gone once its callback returns */
            done->done(done->arg, e);
        }
        pthread_mutex_lock(&a->mu);
        a->running_callbacks = 0;
        pthread_cond_broadcast(&a->idle_cv);
    }
    pthread_mutex_unlock(&a->mu);
    return NULL;
}

mt_err
mt_audit_write(struct mt_audit *a, const json_t *record, uint64_t *upto)
{
    uint8_t hash[32];
    unsigned int hl = 32;
    char *line = NULL, *rec = NULL;
    size_t n = 0, rec_len = 0;
    ssize_t w;
    mt_err e;

    MT_ENSURE(a != NULL && json_is_object(record) && upto != NULL, MT_ERR_ARG);
    MT_ENSURE(json_object_get(record, "seq") == NULL && json_object_get(record, "prev") == NULL,
              MT_ERR_ARG);
    MT_GUARD(check_members(record, 0));
    MT_GUARD(dump_record(record, &rec, &rec_len));

    pthread_mutex_lock(&a->mu);
    MT_ENSURE_GOTO(!a->failed, MT_ERR_IO, e, out);
    MT_GUARD_GOTO(render_line(a, rec, rec_len, &line, &n), e, out);
    MT_ENSURE_GOTO(a->size + n <= MT_AUDIT_MAX_FILE, MT_ERR_TOO_LARGE, e, out);
    MT_ENSURE_GOTO(EVP_Digest(line, n, hash, &hl, EVP_sha256(), NULL) == 1 && hl == 32,
                   MT_ERR_CRYPTO, e, out);
    do
        w = write(a->fd, line, n);
    while (w < 0 && errno == EINTR);
    if (w != (ssize_t)n) {
        /* Take a partial line back; if that fails too the file is in doubt. */
        if (w > 0 && ftruncate(a->fd, (off_t)a->size) != 0)
            fail_locked(a);
        e = MT_ERR_IO;
        goto out;
    }
    a->seq++;
    a->size += n;
    memcpy(a->last, hash, 32);
    *upto = a->size;
    e = MT_OK;
out:
    pthread_mutex_unlock(&a->mu);
    mt_free(line);
    mt_free(rec);
    return e;
}

/* Ask the syncer for the first upto bytes.  Called with a->mu held. */
static void
want(struct mt_audit *a, uint64_t upto)
{
    if (upto > a->wanted) {
        a->wanted = upto;
        pthread_cond_signal(&a->work_cv);
    }
}

mt_err
mt_audit_wait(struct mt_audit *a, uint64_t upto)
{
    mt_err e;

    MT_ENSURE(a != NULL, MT_ERR_ARG);
    pthread_mutex_lock(&a->mu);
    if (upto > a->size) { /* bytes never written would never become durable */
        pthread_mutex_unlock(&a->mu);
        return MT_ERR_ARG;
    }
    want(a, upto);
    while (a->synced < upto && !a->failed)
        pthread_cond_wait(&a->synced_cv, &a->mu);
    e = a->synced >= upto ? MT_OK : MT_ERR_IO;
    pthread_mutex_unlock(&a->mu);
    return e;
}

int
mt_audit_durable(struct mt_audit *a, uint64_t upto)
{
    int r;

    pthread_mutex_lock(&a->mu);
    r = a->synced >= upto ? 1 : (a->failed ? -1 : 0);
    pthread_mutex_unlock(&a->mu);
    return r;
}

int
mt_audit_notify(struct mt_audit *a, struct mt_audit_waiter *w, uint64_t upto,
                void (*done)(void *arg, mt_err e), void *arg)
{
    mt_err now;

    pthread_mutex_lock(&a->mu);
    if (a->refuse_notify || upto > a->size) {
        pthread_mutex_unlock(&a->mu);
        return 0;
    }
    w->upto = upto;
    w->done = done;
    w->arg = arg;
    w->next = NULL;
    if (a->synced < upto && !a->failed) {
        struct mt_audit_waiter **pp = &a->waiters;

        while (*pp != NULL) /* FIFO: callbacks run in the order of registration */
            pp = &(*pp)->next;
        *pp = w;
        want(a, upto);
        pthread_mutex_unlock(&a->mu);
        return 1;
    }
    /* Settled already (durable, or the log failed): answer at once, from this thread. */
    now = a->synced >= upto ? MT_OK : MT_ERR_IO;
    pthread_mutex_unlock(&a->mu);
    done(arg, now);
    return 1;
}

void
mt_audit_set_sync_interval(struct mt_audit *a, uint32_t us)
{
    pthread_mutex_lock(&a->mu);
    a->interval_us = us;
    pthread_mutex_unlock(&a->mu);
}

int
mt_audit_failed(struct mt_audit *a)
{
    int r;

    pthread_mutex_lock(&a->mu);
    r = a->failed;
    pthread_mutex_unlock(&a->mu);
    return r;
}

void
mt_audit_quiesce(struct mt_audit *a)
{
    if (a == NULL)
        return;
    pthread_mutex_lock(&a->mu);
    a->refuse_notify = 1;
    while (a->waiters != NULL || a->running_callbacks)
        pthread_cond_wait(&a->idle_cv, &a->mu);
    pthread_mutex_unlock(&a->mu);
}

mt_err
mt_audit_append(struct mt_audit *a, const json_t *record)
{
    uint64_t upto;

    MT_GUARD(mt_audit_write(a, record, &upto));
    return mt_audit_wait(a, upto);
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
    /* The syncer settles every registered waiter before it exits. */
    pthread_mutex_lock(&a->mu);
    a->stop = 1;
    if (a->waiters != NULL)
        want(a, a->size);
    pthread_cond_signal(&a->work_cv);
    pthread_mutex_unlock(&a->mu);
    pthread_join(a->syncer, NULL);
    close(a->fd);
    pthread_cond_destroy(&a->idle_cv);
    pthread_cond_destroy(&a->work_cv);
    pthread_cond_destroy(&a->synced_cv);
    pthread_mutex_destroy(&a->mu);
    mt_free(a);
}
