#include "floor.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "dcap/x509.h"
#include "identity/identity.h"
#include "proc.h"
#include "quote/quote.h"

struct floor_ctx {
    const struct floor_input *in;
    const struct mt_quote *q;
    EVP_PKEY *p256;
    double seconds;
    int do_p256, do_ed;
    unsigned long count; /* out: iterations done */
    int failed;          /* out */
};

static int
verify_p256(const struct floor_ctx *c)
{
    return mt_ecdsa_verify_raw(c->p256, c->q->signed_region, c->q->signed_len, c->q->quote_sig,
                               MT_ERR_QUOTE_SIGNATURE) == MT_OK;
}

static int
verify_ed(const struct floor_ctx *c)
{
    return mt_ed25519_verify(c->in->ed25519, c->in->msg, c->in->msg_len, c->in->sig,
                             MT_ED25519_SIG_LEN) == MT_OK;
}

/* Loop until the time is up; the clock is read every 16 iterations to keep it out of the cost. */
static void *
loop(void *p)
{
    struct floor_ctx *c = p;
    double end = now_s() + c->seconds;
    int i;

    do {
        for (i = 0; i < 16; i++) {
            if ((c->do_p256 && !verify_p256(c)) || (c->do_ed && !verify_ed(c)))
                c->failed = 1;
            c->count++;
        }
    } while (now_s() < end);
    return NULL;
}

/* CPU seconds of the calling thread: unlike wall time, not inflated when another process competes.
 */
static double
thread_cpu_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One thread doing the selected operations; CPU microseconds per iteration. */
static double
single(struct floor_ctx *base, int p256, int ed, double seconds, int *failed)
{
    struct floor_ctx c = *base;
    double t0;

    c.do_p256 = p256;
    c.do_ed = ed;
    c.seconds = seconds;
    c.count = 0;
    t0 = thread_cpu_s();
    loop(&c);
    *failed |= c.failed;
    return (thread_cpu_s() - t0) * 1e6 / (double)c.count;
}

int
floor_measure(const struct floor_input *in, unsigned threads, double seconds,
              struct floor_result *r)
{
    struct floor_ctx base, c[64];
    pthread_t t[64];
    struct mt_quote q;
    unsigned i, started = 0;
    unsigned long total = 0;
    double t0, wall;
    int failed = 0;

    memset(r, 0, sizeof(*r));
    memset(&base, 0, sizeof(base));
    if (threads == 0 || threads > 64 || mt_quote_parse(in->quote, in->quote_len, &q) != MT_OK ||
        mt_p256_key_from_raw(q.att_key, &base.p256) != MT_OK)
        return -1;
    base.in = in;
    base.q = &q;
    r->p256_us = single(&base, 1, 0, seconds / 4, &failed);
    r->ed25519_us = single(&base, 0, 1, seconds / 4, &failed);
    /* Every CPU at once: shared caches, turbo limits and SMT count against it too. */
    t0 = now_s();
    for (i = 0; i < threads; i++) {
        c[i] = base;
        c[i].do_p256 = c[i].do_ed = 1;
        c[i].seconds = seconds / 2;
        if (pthread_create(&t[i], NULL, loop, &c[i]) != 0)
            break;
        started++;
    }
    for (i = 0; i < started; i++) {
        pthread_join(t[i], NULL);
        total += c[i].count;
        failed |= c[i].failed;
    }
    wall = now_s() - t0;
    EVP_PKEY_free(base.p256);
    r->threads = started;
    r->rate = (double)total / wall;
    if (failed || started != threads) {
        fprintf(stderr, "mero-kms-bench: a floor verification failed\n");
        return -1;
    }
    return 0;
}
