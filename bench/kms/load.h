#ifndef MT_BENCH_LOAD_H
#define MT_BENCH_LOAD_H

/*
 * A small HTTP/1.1 load generator: one thread, epoll, `conns` keep-alive
 * TCP connections to the KMS, one request in flight per connection (no
 * pipelining, as merod's reqwest client does).  Its own code rather than
 * libcurl multi because the generator shares two cores with the server:
 * every cycle it spends is taken from the KMS, so it should spend few.
 *
 * Two modes:
 *   closed loop (rate 0): each connection sends the next request as soon
 *     as the previous answer arrived; latency = answer - send.  Gives the
 *     maximum rate.
 *   open loop (rate > 0): request i is due at start + i / rate whether or
 *     not earlier ones have been answered; latency = answer - due time, so
 *     a server that falls behind shows it in the tail (no coordinated
 *     omission).  Gives the latency at a given load.
 */
#include <stddef.h>
#include <stdint.h>

struct load_spec {
    const char *host; /* IPv4 literal */
    uint16_t port;
    const char *path;
    size_t conns;
    size_t max_requests; /* stop issuing after this many */
    double seconds;      /* stop issuing after this long (0: no limit) */
    double rate;         /* 0: closed loop; else requests per second, open loop */
    /* The body of request i (must stay valid until its answer). */
    void (*body)(void *arg, size_t i, const char **p, size_t *len);
    /* Called with each answer (may be NULL). */
    void (*on_answer)(void *arg, size_t i, int status, const char *body, size_t len);
    void *arg;
};

struct load_result {
    size_t issued;    /* requests sent */
    size_t answered;  /* answers received */
    size_t ok;        /* answers with status 200 */
    size_t failed;    /* requests lost to a closed or broken connection */
    int first_bad;    /* status of the first non-200 answer, 0 if none */
    double elapsed_s; /* first send to last answer */
    double rate;      /* 200 answers per second over elapsed_s */
    double p50_ms, p99_ms, max_ms, mean_ms;
};

/*
 * Run one phase.  Returns 0 on success, -1 when the KMS could not be
 * reached at all (a message is printed).  Latencies are of 200 answers.
 */
int load_run(const struct load_spec *s, struct load_result *r);

#endif
