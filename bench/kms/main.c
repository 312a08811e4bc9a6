/*
 * mero-kms-bench: the KMS's speed targets (issue 4, "Speed"), measured
 * against a running mero-kms over loopback and against the crypto floor
 * measured in the same run, so the ratios mean the same on any machine:
 *
 *   /get-key   throughput >= 60% of the floor (one P-256 + one Ed25519
 *              verification per request, on every CPU), all cores busy;
 *              p99 < 10 ms at half that throughput (open loop);
 *   /challenge >= 20 000 requests/s;
 *   memory     <= 256 bytes per pending challenge in the memory store,
 *              with 100 000 pending.
 *
 * bench/kms/run.sh starts the simulator and the KMS and runs this; see
 * bench/README.md.  Prints key=value lines; with --check the exit status
 * is 1 when a target fails (2 when the bench itself could not run).
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "floor.h"
#include "load.h"
#include "memory.h"
#include "pccs/pccs.h"
#include "proc.h"
#include "tuples.h"

/* The KMS's default MAX_PENDING_CHALLENGES_PER_PEER; the bench stays under it. */
#define PER_PEER_LIMIT 16u
/* Challenges per identity in the get-key tuples (under the limit, leaving room). */
#define TUPLES_PER_PEER 8u

struct opts {
    char host[64];
    uint16_t port;
    const char *node_socket;
    pid_t kms_pid;
    double seconds;
    size_t conns;
    size_t tuples;
    size_t challenge_peers;
    unsigned threads;
    int check;
    int sim_qe_sig; /* keep the simulator's per-quote QE report signatures */
};

struct phase {
    struct load_result r;
    struct cpu_use cpu;
};

static void
usage(void)
{
    fprintf(stderr, "usage: mero-kms-bench --kms http://127.0.0.1:PORT --node-socket PATH\n"
                    "                      [--kms-pid PID] [--seconds S] [--conns K] [--tuples N]\n"
                    "                      [--challenge-peers P] [--threads T] [--sim-qe-sig]\n"
                    "                      [--check]\n");
}

static int
parse_num(const char *s, double lo, double hi, double *out)
{
    char *end;
    double v = strtod(s, &end);

    if (end == s || *end != '\0' || !(v >= lo && v <= hi))
        return -1;
    *out = v;
    return 0;
}

/* http://a.b.c.d:port (the KMS listens on an IPv4 literal here). */
static int
parse_url(const char *url, struct opts *o)
{
    const char *h, *colon;
    double port;

    if (strncmp(url, "http://", 7) != 0)
        return -1;
    h = url + 7;
    colon = strchr(h, ':');
    if (colon == NULL || (size_t)(colon - h) >= sizeof(o->host) ||
        parse_num(colon + 1, 1, 65535, &port) != 0)
        return -1;
    memcpy(o->host, h, (size_t)(colon - h));
    o->host[colon - h] = '\0';
    o->port = (uint16_t)port;
    return 0;
}

static int
parse_opts(int argc, char **argv, struct opts *o)
{
    static const struct option lo[] = {{"kms", required_argument, NULL, 'k'},
                                       {"node-socket", required_argument, NULL, 's'},
                                       {"kms-pid", required_argument, NULL, 'p'},
                                       {"seconds", required_argument, NULL, 't'},
                                       {"conns", required_argument, NULL, 'c'},
                                       {"tuples", required_argument, NULL, 'n'},
                                       {"threads", required_argument, NULL, 'T'},
                                       {"challenge-peers", required_argument, NULL, 'P'},
                                       {"check", no_argument, NULL, 'C'},
                                       {"sim-qe-sig", no_argument, NULL, 'Q'},
                                       {NULL, 0, NULL, 0}};
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    double v = 0;
    int c, bad = 0, have_url = 0;

    memset(o, 0, sizeof(*o));
    o->seconds = 5;
    /*
     * A /get-key answer waits for its audit line's fsync (up to the KMS's
     * AUDIT_SYNC_INTERVAL_US plus the fsync): keeping both cores busy takes
     * that many more requests in flight (Little's law), as many nodes would.
     */
    o->conns = 64;
    o->tuples = 36000; /* about 5 s of /get-key at saturation on 2 cores */
    o->challenge_peers = 16384;
    o->threads = cpus > 0 && cpus <= 64 ? (unsigned)cpus : 2u;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'k':
            have_url = parse_url(optarg, o) == 0;
            bad |= !have_url;
            break;
        case 's':
            o->node_socket = optarg;
            break;
        case 'p':
            bad |= parse_num(optarg, 1, 4194304, &v);
            o->kms_pid = (pid_t)v;
            break;
        case 't':
            bad |= parse_num(optarg, 0.5, 600, &o->seconds);
            break;
        case 'c':
            bad |= parse_num(optarg, 1, 1000, &v);
            o->conns = (size_t)v;
            break;
        case 'n':
            bad |= parse_num(optarg, 100, 10000000, &v);
            o->tuples = (size_t)v;
            break;
        case 'P':
            bad |= parse_num(optarg, 1, 1000000, &v);
            o->challenge_peers = (size_t)v;
            break;
        case 'T':
            bad |= parse_num(optarg, 1, 64, &v);
            o->threads = (unsigned)v;
            break;
        case 'C':
            o->check = 1;
            break;
        case 'Q':
            o->sim_qe_sig = 1;
            break;
        default:
            bad = 1;
        }
    }
    if (bad || !have_url || o->node_socket == NULL || optind != argc) {
        usage();
        return -1;
    }
    return 0;
}

/* One load phase with CPU accounting around it. */
static int
run_phase(const struct opts *o, struct load_spec *ls, struct phase *ph)
{
    struct cpu_snap a, b;
    double t0;

    ls->host = o->host;
    ls->port = o->port;
    cpu_snap_take(o->kms_pid, &a);
    t0 = now_s();
    if (load_run(ls, &ph->r) != 0)
        return -1;
    cpu_snap_take(o->kms_pid, &b);
    cpu_use_between(&a, &b, now_s() - t0, &ph->cpu);
    return 0;
}

static void
print_phase(const char *name, const struct phase *ph)
{
    size_t i;

    printf("%s: requests=%zu ok=%zu non200=%zu lost=%zu seconds=%.2f rate_per_s=%.0f "
           "p50_ms=%.2f p99_ms=%.2f max_ms=%.2f client_cpu=%.2f kms_cpu=%.2f rest_cpu=%.2f",
           name, ph->r.issued, ph->r.ok, ph->r.answered - ph->r.ok, ph->r.failed, ph->r.elapsed_s,
           ph->r.rate, ph->r.p50_ms, ph->r.p99_ms, ph->r.max_ms, ph->cpu.self_cores,
           ph->cpu.kms_cores, ph->cpu.rest_cores);
    printf(" kms_threads_cpu=");
    for (i = 0; i < ph->cpu.kms_threads; i++)
        printf("%s%.2f", i > 0 ? "," : "", ph->cpu.kms_thread_cores[i]);
    if (ph->cpu.kms_threads == 0)
        printf("-");
    if (ph->r.first_bad != 0)
        printf(" first_non200_status=%d", ph->r.first_bad);
    printf("\n");
}

/* The challenge phase: many peers so that the per-peer limit never answers instead. */
struct challenge_arg {
    struct ident *ids;
    size_t n;
};

static void
challenge_body(void *arg, size_t i, const char **p, size_t *len)
{
    struct challenge_arg *c = arg;

    *p = c->ids[i % c->n].challenge_body;
    *len = c->ids[i % c->n].challenge_body_len;
}

static void
getkey_body(void *arg, size_t i, const char **p, size_t *len)
{
    struct tuple_set *ts = arg;

    *p = ts->t[i].body;
    *len = ts->t[i].body_len;
}

static int
make_tuples(const struct opts *o, size_t n, struct tuple_set *ts)
{
    struct tuple_opts to;
    double t0 = now_s();

    memset(&to, 0, sizeof(to));
    to.host = o->host;
    to.port = o->port;
    to.node_socket = o->node_socket;
    to.n = n;
    to.per_peer = TUPLES_PER_PEER;
    to.conns = o->conns;
    to.threads = o->threads;
    to.stable_qe_sig = !o->sim_qe_sig;
    if (tuples_make(&to, ts) != 0)
        return -1;
    printf("tuples: made=%zu peers=%zu seconds=%.1f (challenge + simulator quote + signature "
           "each, untimed)\n",
           n, ts->num_ids, now_s() - t0);
    fflush(stdout);
    return 0;
}

static int
verdict(int *all_ok, const char *name, double value, const char *op, double target)
{
    int pass = strcmp(op, ">=") == 0 ? value >= target
                                     : (strcmp(op, "<=") == 0 ? value <= target : value < target);

    printf("%s=%.2f target%s%g %s\n", name, value, op, target, pass ? "PASS" : "FAIL");
    *all_ok &= pass;
    return pass;
}

static int
measure_floor(const struct opts *o, const struct tuple_set *ts, struct floor_result *f)
{
    struct floor_input fi;

    fi.quote = ts->quote;
    fi.quote_len = ts->quote_len;
    fi.ed25519 = ts->pub;
    fi.msg = (const uint8_t *)ts->payload;
    fi.msg_len = ts->payload_len;
    fi.sig = ts->sig;
    return floor_measure(&fi, o->threads, 2.0, f);
}

int
main(int argc, char **argv)
{
    struct opts o;
    struct tuple_set ts1, ts2;
    struct ident *peers = NULL;
    struct challenge_arg ca;
    struct load_spec ls;
    struct phase ch, gk, half;
    struct floor_result f1, f2;
    struct mem_result m1, m2;
    size_t rss0, rss1;
    double floor_rate, half_rate, mem_worst, kms_us_per_req, client_us_per_req, floor_us;
    int all_ok = 1, rc = 2;

    memset(&ts1, 0, sizeof(ts1));
    memset(&ts2, 0, sizeof(ts2));
    if (parse_opts(argc, argv, &o) != 0)
        return 2;
    if (mt_pccs_global_init() != MT_OK)
        return 2;
    printf("mero-kms-bench: kms=http://%s:%u nproc=%ld floor_threads=%u conns=%zu "
           "seconds_per_phase=%.1f loadavg_1m=%.2f\n",
           o.host, (unsigned)o.port, sysconf(_SC_NPROCESSORS_ONLN), o.threads, o.conns, o.seconds,
           load_average());
    printf("quotes: qe_report_signature=%s\n",
           o.sim_qe_sig ? "per-quote (the simulator's; a real QE's is fixed per attestation key)"
                        : "fixed per attestation key, as on a real platform (--sim-qe-sig: "
                          "the simulator's per-quote signatures)");
    fflush(stdout);

    /* /get-key requests for the saturation phase, made before anything is timed. */
    if (make_tuples(&o, o.tuples, &ts1) != 0)
        goto out;
    if (measure_floor(&o, &ts1, &f1) != 0)
        goto out;

    /* /challenge, closed loop. */
    if (idents_make(o.challenge_peers, &peers) != 0)
        goto out;
    ca.ids = peers;
    ca.n = o.challenge_peers;
    memset(&ls, 0, sizeof(ls));
    ls.path = "/challenge";
    ls.conns = o.conns;
    ls.max_requests = o.challenge_peers * PER_PEER_LIMIT;
    ls.seconds = o.seconds;
    ls.body = challenge_body;
    ls.arg = &ca;
    rss0 = o.kms_pid > 0 ? proc_rss_bytes(o.kms_pid) : 0;
    if (run_phase(&o, &ls, &ch) != 0)
        goto out;
    rss1 = o.kms_pid > 0 ? proc_rss_bytes(o.kms_pid) : 0;
    print_phase("challenge", &ch);
    if (o.kms_pid > 0 && ch.r.ok > 0)
        printf("challenge: kms_rss_growth_bytes_per_challenge=%.1f pending_added=%zu "
               "(whole process, allocator included)\n",
               rss1 > rss0 ? (double)(rss1 - rss0) / (double)ch.r.ok : 0.0, ch.r.ok);

    /* The store's memory with 100 000 pending, in this process. */
    if (memory_measure(100000, 100000 / PER_PEER_LIMIT, 2000000, &m1) != 0 ||
        memory_measure(100000, 100000, 2000000, &m2) != 0)
        goto out;
    printf("memory: pending=%zu peers=%zu store_bytes_per_challenge=%.1f "
           "heap_bytes_per_challenge=%.1f\n",
           m1.pending, m1.peers, m1.store_bytes, m1.heap_bytes);
    printf("memory: pending=%zu peers=%zu store_bytes_per_challenge=%.1f "
           "heap_bytes_per_challenge=%.1f (one peer each: worst case)\n",
           m2.pending, m2.peers, m2.store_bytes, m2.heap_bytes);
    fflush(stdout);

    /* /get-key at saturation, closed loop. */
    memset(&ls, 0, sizeof(ls));
    ls.path = "/get-key";
    ls.conns = o.conns;
    ls.max_requests = ts1.n;
    ls.seconds = o.seconds;
    ls.body = getkey_body;
    ls.arg = &ts1;
    if (run_phase(&o, &ls, &gk) != 0)
        goto out;
    print_phase("getkey_max", &gk);
    if (gk.r.ok == 0) {
        fprintf(stderr, "mero-kms-bench: no /get-key succeeded\n");
        goto out;
    }
    if (gk.r.issued == ts1.n && gk.r.elapsed_s < o.seconds * 0.9)
        printf("note: the tuples ran out after %.1f s; --tuples %zu would fill %.0f s\n",
               gk.r.elapsed_s, (size_t)(gk.r.rate * o.seconds * 1.1), o.seconds);
    fflush(stdout);

    /* /get-key at half that rate, open loop, with fresh tuples. */
    half_rate = gk.r.rate / 2;
    if (make_tuples(&o, (size_t)ceil(half_rate * o.seconds) + 1, &ts2) != 0)
        goto out;
    memset(&ls, 0, sizeof(ls));
    ls.path = "/get-key";
    ls.conns = o.conns;
    ls.max_requests = ts2.n;
    ls.seconds = o.seconds;
    ls.rate = half_rate;
    ls.body = getkey_body;
    ls.arg = &ts2;
    if (run_phase(&o, &ls, &half) != 0)
        goto out;
    print_phase("getkey_half", &half);
    printf("getkey_half: offered_per_s=%.0f (open loop; latency from each request's due time)\n",
           half_rate);

    if (measure_floor(&o, &ts1, &f2) != 0)
        goto out;
    floor_rate = (f1.rate + f2.rate) / 2;
    printf("floor: p256_verify_us=%.1f ed25519_verify_us=%.1f threads=%u "
           "floor_getkey_per_s=%.0f (before %.0f, after %.0f)\n",
           (f1.p256_us + f2.p256_us) / 2, (f1.ed25519_us + f2.ed25519_us) / 2, f1.threads,
           floor_rate, f1.rate, f2.rate);
    /*
     * CPU per request, which another workload on the machine does not
     * inflate: what the KMS and the load generator spent per /get-key
     * against the floor's two verifications.  floor_over_cpu is the
     * getkey_over_floor this run would reach on a machine given over to
     * the KMS and its clients, all cores busy.
     */
    kms_us_per_req = gk.cpu.kms_cores * gk.r.elapsed_s * 1e6 / (double)gk.r.ok;
    client_us_per_req = gk.cpu.self_cores * gk.r.elapsed_s * 1e6 / (double)gk.r.ok;
    floor_us = (f1.p256_us + f1.ed25519_us + f2.p256_us + f2.ed25519_us) / 2;
    printf("getkey_max: kms_cpu_us_per_request=%.1f client_cpu_us_per_request=%.1f "
           "floor_cpu_us_per_request=%.1f kms_cpu_over_floor=%.2f "
           "floor_over_cpu_per_request=%.2f\n",
           kms_us_per_req, client_us_per_req, floor_us, kms_us_per_req / floor_us,
           floor_us / (kms_us_per_req + client_us_per_req));

    printf("targets:\n");
    verdict(&all_ok, "getkey_over_floor", gk.r.rate / floor_rate, ">=", 0.60);
    verdict(&all_ok, "getkey_p99_ms_at_half_rate", half.r.p99_ms, "<", 10);
    verdict(&all_ok, "challenge_per_s", ch.r.rate, ">=", 20000);
    mem_worst = m1.store_bytes > m1.heap_bytes ? m1.store_bytes : m1.heap_bytes;
    verdict(&all_ok, "store_bytes_per_pending_challenge", mem_worst, "<=", 256);
    if (half.r.ok + half.r.failed < half.r.issued || half.r.failed > 0 || gk.r.failed > 0)
        printf("note: some requests were lost or refused; see the phase lines\n");
    rc = o.check && !all_ok ? 1 : 0;
out:
    tuples_free(&ts1);
    tuples_free(&ts2);
    idents_free(peers, o.challenge_peers);
    mt_pccs_global_cleanup();
    return rc;
}
