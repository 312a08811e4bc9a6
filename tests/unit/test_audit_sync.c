#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "audit/audit.h"

#include "mt_testlib.h"
#include "fsync_fault.h"

/*
 * The audit log's durability (audit/audit.h): mt_audit_write and
 * mt_audit_wait, callbacks through mt_audit_notify (their order, their
 * outcome, one fsync for a batch under a sync interval), mt_audit_quiesce
 * and mt_audit_close settling every callback, and a failing fsync failing
 * every waiter and every later append.
 *
 * fsync is this program's own (fsync_fault.h): it counts calls and fails
 * with EIO on demand.
 */

static char tmp_root[256];
static unsigned file_serial;

static int
group_setup(void **state)
{
    (void)state;
    return mt_test_mkdtemp(tmp_root, sizeof(tmp_root), "mt-audit-sync");
}

static int
group_teardown(void **state)
{
    (void)state;
    return mt_test_rm_rf(tmp_root);
}

static struct mt_audit *
open_new(char *path, size_t len)
{
    struct mt_audit *a = NULL;

    snprintf(path, len, "%s/log-%u.jsonl", tmp_root, file_serial++);
    EXPECT_OK(mt_audit_open(path, &a));
    atomic_store(&fsync_fails, 0);
    return a;
}

/* Write one record; returns the byte count it is durable at. */
static uint64_t
write_one(struct mt_audit *a, int i)
{
    json_t *r = json_pack("{s:i,s:s}", "i", i, "decision", "granted");
    uint64_t upto = 0;

    assert_non_null(r);
    EXPECT_OK(mt_audit_write(a, r, &upto));
    json_decref(r);
    return upto;
}

static uint64_t
file_size(const char *path)
{
    struct stat sb;

    assert_int_equal(stat(path, &sb), 0);
    return (uint64_t)sb.st_size;
}

/* What the callbacks saw, in the order they ran. */
#define MAX_CALLS 32
struct calls {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int n;
    int id[MAX_CALLS];
    mt_err e[MAX_CALLS];
    pthread_t thread[MAX_CALLS];
};
struct waiter {
    struct mt_audit_waiter w;
    struct calls *calls;
    int id;
};

static void
on_done(void *arg, mt_err e)
{
    struct waiter *w = arg;
    struct calls *c = w->calls;

    pthread_mutex_lock(&c->mu);
    if (c->n < MAX_CALLS) {
        c->id[c->n] = w->id;
        c->e[c->n] = e;
        c->thread[c->n] = pthread_self();
        c->n++;
    }
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

static void
calls_init(struct calls *c)
{
    memset(c, 0, sizeof(*c));
    assert_int_equal(pthread_mutex_init(&c->mu, NULL), 0);
    assert_int_equal(pthread_cond_init(&c->cv, NULL), 0);
}

/* Wait (at most 10 s) until n callbacks ran. */
static void
calls_wait(struct calls *c, int n)
{
    struct timespec until;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    pthread_mutex_lock(&c->mu);
    while (c->n < n && pthread_cond_timedwait(&c->cv, &c->mu, &until) == 0)
        ;
    assert_int_equal(c->n, n);
    pthread_mutex_unlock(&c->mu);
}

static int
calls_count(struct calls *c)
{
    int n;

    pthread_mutex_lock(&c->mu);
    n = c->n;
    pthread_mutex_unlock(&c->mu);
    return n;
}

static void
calls_free(struct calls *c)
{
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
}

/* write does not sync; wait does; bytes never written are refused. */
static void
test_write_then_wait(void **state)
{
    char path[300];
    struct mt_audit *a;
    uint64_t u1, u2;
    int before;

    (void)state;
    a = open_new(path, sizeof(path));
    before = atomic_load(&fsync_calls);
    u1 = write_one(a, 1);
    assert_int_equal(u1, file_size(path));
    u2 = write_one(a, 2);
    assert_int_equal(u2, file_size(path));
    assert_true(u2 > u1);
    /* Nobody asked: nothing was synced. */
    assert_int_equal(mt_audit_durable(a, u1), 0);
    assert_int_equal(atomic_load(&fsync_calls), before);
    EXPECT_OK(mt_audit_wait(a, u1));
    assert_true(atomic_load(&fsync_calls) > before);
    /* One fsync covered everything written before it began. */
    assert_int_equal(mt_audit_durable(a, u2), 1);
    EXPECT_OK(mt_audit_wait(a, u2));
    EXPECT_ERR(mt_audit_wait(a, u2 + 1), MT_ERR_ARG);
    {
        struct calls c;
        struct waiter w = {.calls = &c, .id = 1};

        calls_init(&c);
        assert_int_equal(mt_audit_notify(a, &w.w, u2 + 1, on_done, &w), 0);
        /* Already durable: answered at once, on this thread. */
        assert_int_equal(mt_audit_notify(a, &w.w, u2, on_done, &w), 1);
        assert_int_equal(c.n, 1);
        EXPECT_OK(c.e[0]);
        assert_true(pthread_equal(c.thread[0], pthread_self()));
        calls_free(&c);
    }
    assert_int_equal(mt_audit_failed(a), 0);
    mt_audit_close(a);
}

/*
 * Under a sync interval, lines written while the syncer waits share one
 * fsync; their callbacks run on the syncer's thread, in registration order.
 */
static void
test_notify_batches_in_order(void **state)
{
    char path[300];
    struct mt_audit *a;
    struct calls c;
    struct waiter w[10];
    uint64_t u;
    int i, before;

    (void)state;
    a = open_new(path, sizeof(path));
    calls_init(&c);
    mt_audit_set_sync_interval(a, 500000);
    /* The first fsync starts the interval. */
    EXPECT_OK(mt_audit_wait(a, write_one(a, 0)));
    before = atomic_load(&fsync_calls);
    for (i = 0; i < 10; i++) {
        w[i].calls = &c;
        w[i].id = i;
        u = write_one(a, i + 1);
        assert_int_equal(mt_audit_notify(a, &w[i].w, u, on_done, &w[i]), 1);
    }
    /* Within the interval nothing is settled yet. */
    assert_int_equal(calls_count(&c), 0);
    calls_wait(&c, 10);
    for (i = 0; i < 10; i++) {
        assert_int_equal(c.id[i], i);
        EXPECT_OK(c.e[i]);
        assert_false(pthread_equal(c.thread[i], pthread_self()));
    }
    assert_int_equal(atomic_load(&fsync_calls) - before, 1);
    assert_int_equal(mt_audit_durable(a, u), 1);
    mt_audit_close(a);
    calls_free(&c);
}

/* quiesce returns after the pending callback ran, and refuses new ones; wait still works. */
static void
test_quiesce(void **state)
{
    char path[300];
    struct mt_audit *a;
    struct calls c;
    struct waiter w = {.id = 7}, w2 = {.id = 8};
    uint64_t u;

    (void)state;
    a = open_new(path, sizeof(path));
    calls_init(&c);
    w.calls = &c;
    w2.calls = &c;
    mt_audit_set_sync_interval(a, 300000);
    EXPECT_OK(mt_audit_wait(a, write_one(a, 0)));
    u = write_one(a, 1);
    assert_int_equal(mt_audit_notify(a, &w.w, u, on_done, &w), 1);
    mt_audit_quiesce(a);
    assert_int_equal(calls_count(&c), 1);
    assert_int_equal(c.id[0], 7);
    EXPECT_OK(c.e[0]);
    u = write_one(a, 2);
    assert_int_equal(mt_audit_notify(a, &w2.w, u, on_done, &w2), 0);
    EXPECT_OK(mt_audit_wait(a, u));
    assert_int_equal(calls_count(&c), 1);
    mt_audit_close(a);
    calls_free(&c);
}

/* close settles a registered callback (after a final fsync) before it returns. */
static void
test_close_settles(void **state)
{
    char path[300];
    struct mt_audit *a;
    struct calls c;
    struct waiter w = {.id = 3};
    uint64_t u;

    (void)state;
    a = open_new(path, sizeof(path));
    calls_init(&c);
    w.calls = &c;
    mt_audit_set_sync_interval(a, 300000);
    EXPECT_OK(mt_audit_wait(a, write_one(a, 0)));
    u = write_one(a, 1);
    assert_int_equal(mt_audit_notify(a, &w.w, u, on_done, &w), 1);
    mt_audit_close(a);
    assert_int_equal(c.n, 1);
    EXPECT_OK(c.e[0]);
    calls_free(&c);
}

/*
 * A failed fsync fails its waiters, blocked and registered, and everything
 * after it: appends, waits, notifications.  Reopening verifies the file.
 */
static void
test_fsync_failure(void **state)
{
    char path[300];
    struct mt_audit *a;
    struct calls c;
    struct waiter w = {.id = 1}, late = {.id = 2};
    json_t *r;
    uint64_t u1, u2, upto;
    size_t lines = 0, bad = 0;

    (void)state;
    a = open_new(path, sizeof(path));
    calls_init(&c);
    w.calls = &c;
    late.calls = &c;
    EXPECT_OK(mt_audit_wait(a, write_one(a, 0)));
    mt_audit_set_sync_interval(a, 200000);
    EXPECT_OK(mt_audit_wait(a, write_one(a, 1)));
    u1 = write_one(a, 2);
    u2 = write_one(a, 3);
    assert_int_equal(mt_audit_notify(a, &w.w, u1, on_done, &w), 1);
    atomic_store(&fsync_fails, 1);
    EXPECT_ERR(mt_audit_wait(a, u2), MT_ERR_IO);
    calls_wait(&c, 1);
    EXPECT_ERR(c.e[0], MT_ERR_IO);
    assert_int_equal(mt_audit_failed(a), 1);
    assert_int_equal(mt_audit_durable(a, u2), -1);
    /* Answered at once, with the failure. */
    assert_int_equal(mt_audit_notify(a, &late.w, u2, on_done, &late), 1);
    assert_int_equal(c.n, 2);
    EXPECT_ERR(c.e[1], MT_ERR_IO);
    r = json_pack("{s:s}", "decision", "granted");
    EXPECT_ERR(mt_audit_write(a, r, &upto), MT_ERR_IO);
    EXPECT_ERR(mt_audit_append(a, r), MT_ERR_IO);
    json_decref(r);
    /* A later successful fsync would prove nothing: still failed. */
    atomic_store(&fsync_fails, 0);
    EXPECT_ERR(mt_audit_wait(a, u2), MT_ERR_IO);
    mt_audit_close(a);
    /* The lines themselves were written whole: the chain is intact. */
    EXPECT_OK(mt_audit_verify_file(path, &lines, &bad, NULL, 0));
    assert_int_equal(lines, 4);
    calls_free(&c);
}

/* Many threads each append and wait: every append returns durable, and fsyncs are shared. */
#define NTHREADS 8
#define PER_THREAD 50
static void *
appender(void *arg)
{
    struct mt_audit *a = arg;
    int i;

    for (i = 0; i < PER_THREAD; i++) {
        uint64_t u = write_one(a, i);

        if (mt_audit_wait(a, u) != MT_OK || mt_audit_durable(a, u) != 1)
            return (void *)1;
    }
    return NULL;
}

static void
test_concurrent_waits(void **state)
{
    char path[300];
    struct mt_audit *a;
    pthread_t th[NTHREADS];
    void *rv;
    int i, before;
    size_t lines = 0, bad = 0;

    (void)state;
    a = open_new(path, sizeof(path));
    mt_audit_set_sync_interval(a, 1000);
    before = atomic_load(&fsync_calls);
    for (i = 0; i < NTHREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, appender, a), 0);
    for (i = 0; i < NTHREADS; i++) {
        assert_int_equal(pthread_join(th[i], &rv), 0);
        assert_null(rv);
    }
    /* Fewer fsyncs than lines: waits shared them. */
    assert_true(atomic_load(&fsync_calls) - before < NTHREADS * PER_THREAD);
    mt_audit_close(a);
    EXPECT_OK(mt_audit_verify_file(path, &lines, &bad, NULL, 0));
    assert_int_equal(lines, NTHREADS * PER_THREAD);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_write_then_wait), cmocka_unit_test(test_notify_batches_in_order),
        cmocka_unit_test(test_quiesce),         cmocka_unit_test(test_close_settles),
        cmocka_unit_test(test_fsync_failure),   cmocka_unit_test(test_concurrent_waits),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
