#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_io.h"
#include "dcap/dcap.h"
#include "dcap/pck.h"
#include "dcap/x509.h"
#include "quote/quote_json.h"
#include "util/mt_alloc.h"
#include "util/mt_file.h"
#include "util/mt_limits.h"
#include "util/mt_time.h"

static void
quote_usage(FILE *f)
{
    fprintf(f, "usage: mero-tee quote parse FILE [--hex]\n"
               "       mero-tee quote verify QUOTE --collateral FILE --now UNIX\n"
               "                [--trust-root FILE.der|pem] [--hex] [--json]\n");
}

/* The PCK data of the quote's own certificate chain, or JSON null if it has none. */
static json_t *
pck_json(const struct mt_quote *q)
{
    STACK_OF(X509) *chain = NULL;
    struct mt_pck_info info;
    json_t *j = NULL;

    if (q->kind != MT_QUOTE_DCAP || q->cert_type != 5)
        return json_null();
    if (mt_pem_chain_parse((const char *)q->cert_data, q->cert_data_len, &chain) != MT_OK)
        return json_null();
    if (mt_pck_info_parse(sk_X509_value(chain, 0), &info) == MT_OK) {
        j = mt_pck_info_to_json(&info);
        if (j != NULL)
            json_object_set_new(j, "chainLength", json_integer(sk_X509_num(chain)));
    }
    sk_X509_pop_free(chain, X509_free);
    return j == NULL ? json_null() : j;
}

static int
cmd_parse(int argc, char **argv)
{
    static const struct option opts[] = {{"hex", no_argument, NULL, 'x'}, {NULL, 0, NULL, 0}};
    struct mt_quote q;
    uint8_t *buf = NULL;
    size_t len;
    json_t *j;
    int hex = 0, c, rc = MT_EXIT_FAIL;
    mt_err e;

    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c != 'x') {
            quote_usage(stderr);
            return MT_EXIT_USAGE;
        }
        hex = 1;
    }
    if (optind != argc - 1) {
        quote_usage(stderr);
        return MT_EXIT_USAGE;
    }
    e = mt_cli_read_quote(argv[optind], hex, &buf, &len);
    if (e != MT_OK) {
        mt_cli_error(argv[optind], e);
        return e == MT_ERR_IO || e == MT_ERR_TOO_LARGE ? MT_EXIT_USAGE : MT_EXIT_FAIL;
    }
    e = mt_quote_parse(buf, len, &q);
    if (e != MT_OK) {
        mt_cli_error("quote parse", e);
        goto out;
    }
    j = mt_quote_to_json(&q);
    if (j != NULL && q.kind == MT_QUOTE_DCAP)
        json_object_set_new(j, "pck", pck_json(&q));
    if (j == NULL) {
        mt_cli_error("quote parse", MT_ERR_NOMEM);
        goto out;
    }
    mt_cli_print_json(j);
    json_decref(j);
    rc = MT_EXIT_OK;
out:
    mt_free(buf);
    return rc;
}

struct verify_args {
    const char *quote, *collateral, *root;
    int64_t now;
    int have_now, hex, json;
};

static int
verify_args_parse(int argc, char **argv, struct verify_args *a)
{
    static const struct option opts[] = {{"collateral", required_argument, NULL, 'c'},
                                         {"now", required_argument, NULL, 'n'},
                                         {"trust-root", required_argument, NULL, 'r'},
                                         {"hex", no_argument, NULL, 'x'},
                                         {"json", no_argument, NULL, 'j'},
                                         {NULL, 0, NULL, 0}};
    int c;

    memset(a, 0, sizeof(*a));
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            a->collateral = optarg;
            break;
        case 'n':
            if (mt_parse_int64(optarg, &a->now) != MT_OK || a->now < 0) {
                fprintf(stderr, "mero-tee: --now takes Unix seconds, not '%s'\n", optarg);
                return 0;
            }
            a->have_now = 1;
            break;
        case 'r':
            a->root = optarg;
            break;
        case 'x':
            a->hex = 1;
            break;
        case 'j':
            a->json = 1;
            break;
        default:
            return 0;
        }
    }
    if (optind != argc - 1 || a->collateral == NULL || !a->have_now)
        return 0;
    a->quote = argv[optind];
    return 1;
}

static void
print_text(const struct mt_verdict *v)
{
    size_t i;

    if (v->err != MT_OK) {
        printf("FAIL %s: %s%s%s\n", mt_err_code(v->err), mt_err_message(v->err),
               v->detail[0] != '\0' ? ": " : "", v->detail);
        return;
    }
    printf("OK %s", mt_tcb_status_name(v->tcb.status));
    for (i = 0; i < v->tcb.num_advisories; i++)
        printf("%s%s", i == 0 ? " " : ",", v->tcb.advisories[i]);
    printf("\n");
}

static int
cmd_verify(int argc, char **argv)
{
    struct verify_args a;
    struct mt_verifier_opts vo;
    struct mt_verifier *ver = NULL;
    struct mt_collateral *col = NULL;
    struct mt_verdict verdict;
    uint8_t *quote = NULL, *colbuf = NULL, *rootbuf = NULL, *rootder = NULL;
    size_t quote_len, col_len, root_len, rootder_len = 0;
    json_t *j;
    int rc = MT_EXIT_USAGE;
    mt_err e;

    if (!verify_args_parse(argc, argv, &a)) {
        quote_usage(stderr);
        return MT_EXIT_USAGE;
    }
    memset(&vo, 0, sizeof(vo));
    e = mt_cli_read_quote(a.quote, a.hex, &quote, &quote_len);
    if (e == MT_ERR_HEX) {
        rc = MT_EXIT_FAIL;
        memset(&verdict, 0, sizeof(verdict));
        verdict.err = MT_ERR_QUOTE_DECODE;
        goto report;
    }
    if (e != MT_OK) {
        mt_cli_error(a.quote, e);
        goto out;
    }
    e = mt_file_read(a.collateral, MT_MAX_COLLATERAL_JSON, &colbuf, &col_len);
    if (e != MT_OK) {
        mt_cli_error(a.collateral, e);
        goto out;
    }
    if (a.root != NULL) {
        e = mt_file_read(a.root, MT_MAX_FILE_SIZE, &rootbuf, &root_len);
        if (e == MT_OK)
            e = mt_root_load(rootbuf, root_len, &rootder, &rootder_len);
        if (e != MT_OK) {
            mt_cli_error(a.root, e);
            goto out;
        }
        vo.root_der = rootder;
        vo.root_der_len = rootder_len;
    }
    e = mt_verifier_new(&vo, &ver);
    if (e != MT_OK) {
        mt_cli_error("verifier", e);
        goto out;
    }
    if (a.root != NULL && !mt_verifier_is_intel_root(ver))
        fprintf(stderr, "mero-tee: WARNING: trust root is not the Intel SGX Root CA; "
                        "verdicts are meaningful for tests only\n");
    memset(&verdict, 0, sizeof(verdict));
    e = mt_collateral_parse((const char *)colbuf, col_len, &col);
    if (e == MT_OK)
        e = mt_verify_quote(ver, quote, quote_len, col, a.now, &verdict);
    else
        verdict.err = e;
report:
    rc = verdict.err == MT_OK ? MT_EXIT_OK : MT_EXIT_FAIL;
    if (a.json) {
        j = mt_verdict_to_json(&verdict);
        if (j == NULL) {
            mt_cli_error("verify", MT_ERR_NOMEM);
            rc = MT_EXIT_FAIL;
            goto out;
        }
        mt_cli_print_json(j);
        json_decref(j);
    } else {
        print_text(&verdict);
    }
out:
    mt_collateral_free(col);
    mt_verifier_free(ver);
    mt_free(quote);
    mt_free(colbuf);
    mt_free(rootbuf);
    mt_free(rootder);
    return rc;
}

int
mt_cmd_quote(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "parse") == 0)
        return cmd_parse(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "verify") == 0)
        return cmd_verify(argc - 1, argv + 1);
    quote_usage(stderr);
    return MT_EXIT_USAGE;
}
