#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_io.h"
#include "dcap/dcap.h"
#include "dcap/x509.h"
#include "util/mt_alloc.h"
#include "util/mt_file.h"
#include "util/mt_limits.h"
#include "util/mt_time.h"

/*
 * mero-tee bench verify: verification cost against the crypto floor
 * measured in the same run (so the ratios hold on any machine).
 *   floor = one EVP P-256 verification of the quote's signed region with a
 *           prepared key;
 *   cold  = a fresh verifier (nothing cached) per verification, with the
 *           collateral decoded once beforehand (mt_collateral_prepare), as a
 *           KMS does when it loads collateral;
 *   cold_decode = the same, decoding the collateral for every verification;
 *   warm  = one long-lived verifier, as the KMS keeps.
 */

struct bench_input {
    uint8_t *quote;
    size_t quote_len;
    struct mt_collateral *col;
    struct mt_prepared_collateral *pc;
    uint8_t *root;
    size_t root_len;
    int64_t now;
};

/* Run fn until `seconds` have passed (at least 3 times); mean microseconds per call. */
static double
time_loop(double seconds, int (*fn)(void *), void *arg, int *ok)
{
    uint64_t start = mt_monotonic_us(), now;
    unsigned long n = 0;

    do {
        if (!fn(arg))
            *ok = 0;
        n++;
        now = mt_monotonic_us();
    } while (n < 3 || (double)(now - start) < seconds * 1e6);
    return (double)(now - start) / (double)n;
}

struct floor_arg {
    EVP_PKEY *key;
    const struct mt_quote *q;
};

static int
floor_once(void *p)
{
    struct floor_arg *a = p;

    return mt_ecdsa_verify_raw(a->key, a->q->signed_region, a->q->signed_len, a->q->quote_sig,
                               MT_ERR_QUOTE_SIGNATURE) == MT_OK;
}

static int
cold_once(void *p)
{
    struct bench_input *in = p;
    struct mt_verifier_opts o = {in->root, in->root_len, 0, 0, 0};
    struct mt_verifier *v;
    struct mt_verdict verdict;
    int ok;

    if (mt_verifier_new(&o, &v) != MT_OK)
        return 0;
    ok = mt_verify_quote_prepared(v, in->quote, in->quote_len, in->pc, in->now, &verdict) == MT_OK;
    mt_verifier_free(v);
    return ok;
}

static int
cold_decode_once(void *p)
{
    struct bench_input *in = p;
    struct mt_verifier_opts o = {in->root, in->root_len, 0, 0, 0};
    struct mt_verifier *v;
    struct mt_verdict verdict;
    int ok;

    if (mt_verifier_new(&o, &v) != MT_OK)
        return 0;
    ok = mt_verify_quote(v, in->quote, in->quote_len, in->col, in->now, &verdict) == MT_OK;
    mt_verifier_free(v);
    return ok;
}

struct warm_arg {
    struct bench_input *in;
    struct mt_verifier *v;
};

static int
warm_once(void *p)
{
    struct warm_arg *a = p;
    struct mt_verdict verdict;

    return mt_verify_quote_prepared(a->v, a->in->quote, a->in->quote_len, a->in->pc, a->in->now,
                                    &verdict) == MT_OK;
}

static int
bench_load(const char *quote, const char *col, const char *root, struct bench_input *in)
{
    uint8_t *buf = NULL;
    size_t len;
    mt_err e;

    e = mt_cli_read_quote(quote, 0, &in->quote, &in->quote_len);
    if (e == MT_OK)
        e = mt_file_read(col, MT_MAX_COLLATERAL_JSON, &buf, &len);
    if (e == MT_OK)
        e = mt_collateral_parse((const char *)buf, len, &in->col);
    if (e == MT_OK)
        e = mt_collateral_prepare(in->col, &in->pc);
    mt_free(buf);
    buf = NULL;
    if (e == MT_OK && root != NULL) {
        e = mt_file_read(root, MT_MAX_FILE_SIZE, &buf, &len);
        if (e == MT_OK)
            e = mt_root_load(buf, len, &in->root, &in->root_len);
        mt_free(buf);
    }
    if (e != MT_OK) {
        mt_cli_error("bench", e);
        return 0;
    }
    return 1;
}

static int
bench_verify(int argc, char **argv)
{
    static const struct option opts[] = {
        {"quote", required_argument, NULL, 'q'},      {"collateral", required_argument, NULL, 'c'},
        {"now", required_argument, NULL, 'n'},        {"seconds", required_argument, NULL, 's'},
        {"trust-root", required_argument, NULL, 'r'}, {NULL, 0, NULL, 0}};
    const char *quote = NULL, *col = NULL, *root = NULL;
    struct bench_input in;
    struct mt_verdict verdict;
    struct floor_arg fa;
    struct warm_arg wa = {&in, NULL};
    struct mt_verifier_opts o;
    struct mt_quote q;
    int64_t secs = 2;
    double floor_us, cold_us, cold_decode_us, warm_us, each;
    int c, have_now = 0, ok = 1, rc = MT_EXIT_USAGE;

    memset(&in, 0, sizeof(in));
    memset(&fa, 0, sizeof(fa));
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'q':
            quote = optarg;
            break;
        case 'c':
            col = optarg;
            break;
        case 'r':
            root = optarg;
            break;
        case 'n':
            have_now = mt_parse_int64(optarg, &in.now) == MT_OK;
            break;
        case 's':
            if (mt_parse_int64(optarg, &secs) != MT_OK || secs < 1 || secs > 600)
                secs = -1;
            break;
        default:
            secs = -1;
        }
    }
    if (quote == NULL || col == NULL || !have_now || secs < 0 || optind != argc) {
        fprintf(stderr, "usage: mero-tee bench verify --quote Q --collateral C --now T "
                        "[--seconds S] [--trust-root R]\n");
        return MT_EXIT_USAGE;
    }
    if (!bench_load(quote, col, root, &in))
        goto out;
    rc = MT_EXIT_FAIL;
    /* The quote must verify at all, or the numbers mean nothing. */
    if (!cold_once(&in) || mt_quote_parse(in.quote, in.quote_len, &q) != MT_OK ||
        mt_p256_key_from_raw(q.att_key, &fa.key) != MT_OK) {
        fprintf(stderr, "mero-tee bench: the quote does not verify with this collateral\n");
        goto out;
    }
    fa.q = &q;
    memset(&o, 0, sizeof(o));
    o.root_der = in.root;
    o.root_der_len = in.root_len;
    if (mt_verifier_new(&o, &wa.v) != MT_OK)
        goto out;
    if (mt_verify_quote(wa.v, in.quote, in.quote_len, in.col, in.now, &verdict) != MT_OK)
        goto out;
    /* Interleave short rounds so drift in clock speed affects all three alike. */
    floor_us = cold_us = cold_decode_us = warm_us = 0;
    each = (double)secs / 4.0 / 4.0;
    for (c = 0; c < 4; c++) {
        floor_us += time_loop(each, floor_once, &fa, &ok) / 4;
        cold_us += time_loop(each, cold_once, &in, &ok) / 4;
        cold_decode_us += time_loop(each, cold_decode_once, &in, &ok) / 4;
        warm_us += time_loop(each, warm_once, &wa, &ok) / 4;
    }
    if (!ok) {
        fprintf(stderr, "mero-tee bench: a verification failed during the run\n");
        goto out;
    }
    printf("{\"cold_us\":%.1f,\"warm_us\":%.1f,\"floor_us\":%.1f,\"cold_over_floor\":%.2f,"
           "\"warm_over_floor\":%.2f,\"cold_decode_us\":%.1f,\"cold_decode_over_floor\":%.2f}\n",
           cold_us, warm_us, floor_us, cold_us / floor_us, warm_us / floor_us, cold_decode_us,
           cold_decode_us / floor_us);
    rc = MT_EXIT_OK;
out:
    mt_verifier_free(wa.v);
    EVP_PKEY_free(fa.key);
    mt_prepared_collateral_free(in.pc);
    mt_collateral_free(in.col);
    mt_free(in.quote);
    mt_free(in.root);
    return rc;
}

int
mt_cmd_bench(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "verify") == 0)
        return bench_verify(argc - 1, argv + 1);
    fprintf(stderr, "usage: mero-tee bench verify --quote Q --collateral C --now T "
                    "[--seconds S]\n");
    return MT_EXIT_USAGE;
}
