#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "image/image_measure.h"
#include "util/mt_err.h"
#include "util/mt_hex.h"

/*
 * mero-tee measure boot [--cmdline PATH] [--tdx-root DIR] [--marker PATH]:
 * extend RTMR3 once with the node image's profile digest
 * (image/image_measure.h, docs/image.md).  Run by mero-measure-boot.service.
 * Exit 0 after one successful extend; 1 with a message on stderr for every
 * failure (no interface, bad command line, bad root hash, already measured,
 * write error), so that the unit fails; 2 for usage errors.
 */

static int
usage(void)
{
    fprintf(stderr, "usage: mero-tee measure boot [--cmdline PATH] [--tdx-root DIR] "
                    "[--marker PATH]\n");
    return MT_EXIT_USAGE;
}

int
mt_cmd_measure(int argc, char **argv)
{
    struct mt_image_measure_cfg cfg = {"/proc/cmdline", "/", MT_IMAGE_DEFAULT_MARKER};
    struct mt_image_measure_result res;
    char detail[8192], hex[2 * MT_RTMR_SIZE + 1];
    const char **opt;
    int i;
    mt_err e;

    if (argc < 2 || strcmp(argv[1], "boot") != 0)
        return usage();
    for (i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--cmdline") == 0)
            opt = &cfg.cmdline_path;
        else if (strcmp(argv[i], "--tdx-root") == 0)
            opt = &cfg.tdx_root;
        else if (strcmp(argv[i], "--marker") == 0)
            opt = &cfg.marker_path;
        else
            return usage();
        if (i + 1 >= argc || argv[i + 1][0] == '\0')
            return usage();
        *opt = argv[++i];
    }
    e = mt_image_measure_boot(&cfg, &res, detail, sizeof(detail));
    if (e != MT_OK) {
        fprintf(stderr, "mero-tee: measure boot: FAILED, RTMR3 not extended: %s (%s)%s%s\n",
                mt_err_message(e), mt_err_code(e), detail[0] ? ": " : "", detail);
        if (e == MT_ERR_IMAGE_MEASURE_WRITE)
            fprintf(stderr, "mero-tee: measure boot: the RTMR3 state is unknown if the write "
                            "was attempted; reboot to retry\n");
        return MT_EXIT_FAIL;
    }
    mt_hex_encode(res.digest, sizeof(res.digest), hex);
    printf("measured: profile %s root_hash %s digest %s via %s\n", res.cmdline.profile,
           res.cmdline.root_hash, hex, res.interface);
    return MT_EXIT_OK;
}
