#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "pccs/pccs.h"
#include "quote/quote.h"
#include "util/mt_alloc.h"
#include "util/mt_file.h"
#include "util/mt_hex.h"
#include "util/mt_limits.h"
#include "util/mt_time.h"

/*
 * mero-tee collateral fetch QUOTE --pccs URL [--pccs URL2 ...] [--out FILE]
 *     [--hex] [--ca-file FILE] [--connect-timeout MS] [--timeout MS]
 *     [--proxy URL] [--no-cdp]
 *
 * Fetches the collateral of QUOTE from the first PCCS / PCS that answers
 * and prints dcap-qvl QuoteCollateralV3 JSON (dcap-verify.md 3.1).
 */

static void
usage(FILE *f)
{
    fprintf(f, "usage: mero-tee collateral fetch QUOTE --pccs URL [--pccs URL ...]\n"
               "           [--out FILE] [--hex] [--ca-file FILE] [--connect-timeout MS]\n"
               "           [--timeout MS] [--proxy URL] [--no-cdp]\n"
               "  QUOTE            raw quote file, or hex text with --hex ('0x' optional)\n"
               "  --pccs URL       PCCS or Intel PCS base URL; repeat for fallbacks, tried in "
               "order\n"
               "  --out FILE       write the JSON to FILE (atomically) instead of stdout\n"
               "  --ca-file FILE   PEM CA bundle for https (default: system store)\n"
               "  --connect-timeout MS, --timeout MS   per request (default 5000, 20000)\n"
               "  --proxy URL      proxy to use; \"\" disables the environment's proxy\n"
               "  --no-cdp         do not fall back to the root CRL distribution point\n");
}

static int
is_ws(uint8_t ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

/* Read the quote file: raw bytes, or hex text with an optional 0x and trailing newline. */
static mt_err
read_quote(const char *path, int hex, uint8_t **out, size_t *out_len)
{
    uint8_t *raw = NULL, *bin = NULL;
    size_t len, bin_len, off = 0;
    mt_err e;

    MT_GUARD(mt_file_read(path, hex ? MT_MAX_FILE_SIZE : MT_MAX_QUOTE_SIZE, &raw, &len));
    if (!hex) {
        *out = raw;
        *out_len = len;
        return MT_OK;
    }
    while (len > 0 && is_ws(raw[len - 1]))
        len--;
    if (len >= 2 && raw[0] == '0' && (raw[1] == 'x' || raw[1] == 'X'))
        off = 2;
    e = mt_hex_decode_alloc((const char *)raw + off, len - off, MT_MAX_QUOTE_SIZE, &bin, &bin_len);
    mt_free(raw);
    MT_ENSURE(e == MT_OK, e);
    MT_ENSURE(bin_len > 0, MT_ERR_HEX);
    *out = bin;
    *out_len = bin_len;
    return MT_OK;
}

/* The JSON and a trailing newline (as on stdout), atomically. */
static int
write_file(const char *path, const char *json, size_t len)
{
    char *line;
    int rc;

    line = mt_malloc(len + 2);
    if (line == NULL) {
        errno = ENOMEM;
        return -1;
    }
    memcpy(line, json, len);
    line[len] = '\n';
    line[len + 1] = '\0';
    /* Readers never see half a file; collateral is public data (0644). */
    rc = mt_file_write_atomic(path, line, len + 1, 0644) == MT_OK ? 0 : -1;
    mt_free(line);
    return rc;
}

static int
parse_ms(const char *s, long *out)
{
    int64_t v;

    if (mt_parse_int64(s, &v) != MT_OK || v <= 0 || v > 3600L * 1000L)
        return -1;
    *out = (long)v;
    return 0;
}

/* Errors that mean the input or the arguments are unusable rather than the fetch failed. */
static int
is_usage_error(mt_err e)
{
    switch (e) {
    case MT_ERR_ARG:
    case MT_ERR_PEM:
    case MT_ERR_PCK_EXTENSION:
    case MT_ERR_QUOTE_CERT_TYPE:
    case MT_ERR_QUOTE_TEE_TYPE:
        return 1;
    default:
        return 0;
    }
}

static int
cmd_fetch(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"pccs", required_argument, NULL, 'p'},
        {"out", required_argument, NULL, 'o'},
        {"hex", no_argument, NULL, 'x'},
        {"ca-file", required_argument, NULL, 'c'},
        {"connect-timeout", required_argument, NULL, 'C'},
        {"timeout", required_argument, NULL, 'T'},
        {"proxy", required_argument, NULL, 'P'},
        {"no-cdp", no_argument, NULL, 'N'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *urls[MT_PCCS_MAX_URLS];
    struct mt_pccs_opts opts;
    struct mt_quote q;
    struct mt_collateral *col = NULL;
    const char *out_path = NULL, *quote_path;
    uint8_t *quote = NULL;
    size_t quote_len = 0, num_urls = 0, json_len;
    char *json = NULL, reason[512];
    int ch, hex = 0, rc = MT_EXIT_USAGE;
    mt_err e;

    mt_pccs_opts_init(&opts);
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'p':
            if (num_urls == MT_PCCS_MAX_URLS) {
                fprintf(stderr, "mero-tee collateral: at most %u --pccs URLs\n", MT_PCCS_MAX_URLS);
                return MT_EXIT_USAGE;
            }
            urls[num_urls++] = optarg;
            break;
        case 'o':
            out_path = optarg;
            break;
        case 'x':
            hex = 1;
            break;
        case 'c':
            opts.ca_file = optarg;
            break;
        case 'C':
        case 'T':
            if (parse_ms(optarg, ch == 'C' ? &opts.connect_timeout_ms : &opts.timeout_ms) != 0) {
                fprintf(stderr, "mero-tee collateral: bad timeout '%s' (milliseconds)\n", optarg);
                return MT_EXIT_USAGE;
            }
            break;
        case 'P':
            opts.proxy = optarg;
            break;
        case 'N':
            opts.no_cdp_fallback = 1;
            break;
        case 'h':
            usage(stdout);
            return MT_EXIT_OK;
        default:
            usage(stderr);
            return MT_EXIT_USAGE;
        }
    }
    if (optind != argc - 1 || num_urls == 0) {
        fprintf(stderr, "mero-tee collateral: need exactly one QUOTE and at least one --pccs\n");
        usage(stderr);
        return MT_EXIT_USAGE;
    }
    quote_path = argv[optind];
    opts.urls = urls;
    opts.num_urls = num_urls;

    e = read_quote(quote_path, hex, &quote, &quote_len);
    if (e != MT_OK) {
        fprintf(stderr, "mero-tee collateral: %s: %s\n", quote_path, mt_err_message(e));
        goto out;
    }
    e = mt_quote_parse(quote, quote_len, &q);
    if (e != MT_OK) {
        fprintf(stderr, "mero-tee collateral: %s: %s\n", quote_path, mt_err_message(e));
        goto out;
    }
    if (mt_pccs_global_init() != MT_OK) {
        fprintf(stderr, "mero-tee collateral: cannot initialise libcurl\n");
        rc = MT_EXIT_FAIL;
        goto out;
    }
    e = mt_pccs_fetch(&opts, &q, &col, reason, sizeof(reason));
    mt_pccs_global_cleanup();
    if (e != MT_OK) {
        fprintf(stderr, "mero-tee collateral: fetch failed: %s: %s\n", mt_err_code(e),
                reason[0] != '\0' ? reason : mt_err_message(e));
        rc = is_usage_error(e) ? MT_EXIT_USAGE : MT_EXIT_FAIL;
        goto out;
    }
    e = mt_collateral_to_json(col, &json);
    if (e != MT_OK) {
        fprintf(stderr, "mero-tee collateral: %s\n", mt_err_message(e));
        rc = MT_EXIT_FAIL;
        goto out;
    }
    json_len = strlen(json);
    if (out_path != NULL) {
        if (write_file(out_path, json, json_len) != 0) {
            fprintf(stderr, "mero-tee collateral: cannot write %s: %s\n", out_path,
                    strerror(errno));
            goto out;
        }
    } else if (fwrite(json, 1, json_len, stdout) != json_len || fputc('\n', stdout) == EOF ||
               fflush(stdout) != 0) {
        fprintf(stderr, "mero-tee collateral: cannot write to stdout\n");
        goto out;
    }
    rc = MT_EXIT_OK;
out:
    mt_free(json);
    mt_collateral_free(col);
    mt_free(quote);
    return rc;
}

int
mt_cmd_collateral(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "fetch") == 0)
        return cmd_fetch(argc - 1, argv + 1);
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return MT_EXIT_OK;
    }
    fprintf(stderr, "mero-tee collateral: unknown or missing sub-command\n");
    usage(stderr);
    return MT_EXIT_USAGE;
}
