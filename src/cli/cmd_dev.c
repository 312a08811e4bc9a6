#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_io.h"
#include "dcap/collateral.h"
#include "testpki/testpki.h"
#include "util/mt_alloc.h"
#include "util/mt_time.h"

/*
 * mero-tee dev sample: a quote, its collateral and the root of a freshly
 * generated test PKI (an Intel-like chain whose root is NOT Intel's).  For
 * demos and development on machines without TDX; every verdict on such a
 * quote is meaningful only with --trust-root pointing at the test root.
 */

static int
write_file(const char *dir, const char *name, const void *data, size_t len)
{
    char path[4096];
    const uint8_t *p = data;
    ssize_t w;
    int fd;

    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
        return 0;
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return 0;
    while (len > 0) {
        w = write(fd, p, len);
        if (w <= 0) {
            close(fd);
            return 0;
        }
        p += w;
        len -= (size_t)w;
    }
    return close(fd) == 0;
}

static void
dev_usage(FILE *f)
{
    fprintf(f, "usage: mero-tee dev sample --out DIR [--kind tdx|tdx15|sgx] [--now UNIX]\n"
               "                             [--debug-td]\n"
               "       mero-tee dev port\n");
}

static int
dev_sample(int argc, char **argv)
{
    static const struct option opts[] = {{"out", required_argument, NULL, 'o'},
                                         {"kind", required_argument, NULL, 'k'},
                                         {"now", required_argument, NULL, 'n'},
                                         {"debug-td", no_argument, NULL, 'd'},
                                         {NULL, 0, NULL, 0}};
    struct mt_testpki_params p;
    struct mt_testpki_bundle *b = NULL;
    struct mt_clock clock = mt_clock_system();
    enum mt_testpki_kind kind = MT_TESTPKI_TDX_V4;
    const char *out = NULL;
    const uint8_t *root;
    size_t root_len;
    char *json = NULL;
    int64_t now = mt_clock_now(&clock);
    int c, debug = 0, bad = 0, rc = MT_EXIT_USAGE;
    mt_err e;

    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'o':
            out = optarg;
            break;
        case 'k':
            if (strcmp(optarg, "tdx") == 0)
                kind = MT_TESTPKI_TDX_V4;
            else if (strcmp(optarg, "tdx15") == 0)
                kind = MT_TESTPKI_TDX_V5_TD15;
            else if (strcmp(optarg, "sgx") == 0)
                kind = MT_TESTPKI_SGX_V3;
            else
                bad = 1;
            break;
        case 'n':
            if (mt_parse_int64(optarg, &now) != MT_OK || now < 0)
                bad = 1;
            break;
        case 'd':
            debug = 1;
            break;
        default:
            dev_usage(stderr);
            return MT_EXIT_USAGE;
        }
    }
    if (bad || out == NULL || optind != argc) {
        dev_usage(stderr);
        return MT_EXIT_USAGE;
    }
    mt_testpki_params_default(&p, kind, now);
    if (debug && kind != MT_TESTPKI_SGX_V3)
        mt_testpki_td_attr_set(&p, 0, 1);
    e = mt_testpki_bundle_new(&p, &b);
    if (e == MT_OK)
        e = mt_collateral_to_json(b->col, &json);
    if (e != MT_OK) {
        mt_cli_error("dev sample", e);
        goto out;
    }
    root = mt_testpki_root_der(b->pki, &root_len);
    if (mkdir(out, 0755) != 0 && access(out, W_OK) != 0) {
        fprintf(stderr, "mero-tee: cannot create %s\n", out);
        goto out;
    }
    if (!write_file(out, "quote.bin", b->quote, b->quote_len) ||
        !write_file(out, "collateral.json", json, strlen(json)) ||
        !write_file(out, "root.der", root, root_len)) {
        fprintf(stderr, "mero-tee: cannot write into %s\n", out);
        goto out;
    }
    printf("%lld\n", (long long)now);
    rc = MT_EXIT_OK;
out:
    mt_free(json);
    mt_testpki_bundle_free(b);
    return rc;
}

/* mero-tee dev port: a loopback TCP port that was free a moment ago (for scripts). */
static int
dev_port(void)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof(sin);
    int fd;

    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return MT_EXIT_FAIL;
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
        getsockname(fd, (struct sockaddr *)&sin, &len) != 0) {
        close(fd);
        return MT_EXIT_FAIL;
    }
    close(fd);
    printf("%u\n", (unsigned)ntohs(sin.sin_port));
    return MT_EXIT_OK;
}

int
mt_cmd_dev(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "sample") == 0)
        return dev_sample(argc - 1, argv + 1);
    if (argc == 2 && strcmp(argv[1], "port") == 0)
        return dev_port();
    dev_usage(stderr);
    return MT_EXIT_USAGE;
}
