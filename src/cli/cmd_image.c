#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "image/image_roothash.h"
#include "util/mt_err.h"

/*
 * mero-tee image root-hash ROOT [--manifest]: the node image's root hash
 * over the image tree at ROOT (image/image_roothash.h, docs/image.md).
 * Prints the 64-hex hash (after the manifest lines with --manifest).
 * Exit 0 on success, 1 when the tree is refused or unreadable (special file,
 * symlinked parent, bad name, limits, ROOT missing), 2 for usage errors.
 */

static int
usage(void)
{
    fprintf(stderr, "usage: mero-tee image root-hash ROOT [--manifest]\n");
    return MT_EXIT_USAGE;
}

static void
print_line(void *arg, const char *line, size_t len)
{
    (void)arg;
    fwrite(line, 1, len, stdout);
}

int
mt_cmd_image(int argc, char **argv)
{
    const char *root = NULL;
    char hex[65], detail[8192];
    int manifest = 0, i;
    mt_err e;

    if (argc < 2 || strcmp(argv[1], "root-hash") != 0)
        return usage();
    for (i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--manifest") == 0)
            manifest = 1;
        else if (argv[i][0] == '-' || root != NULL)
            return usage();
        else
            root = argv[i];
    }
    if (root == NULL)
        return usage();
    e = mt_image_root_hash(root, manifest ? print_line : NULL, NULL, hex, detail, sizeof(detail));
    if (e != MT_OK) {
        fflush(stdout);
        fprintf(stderr, "mero-tee: image root-hash: %s (%s)%s%s\n", mt_err_message(e),
                mt_err_code(e), detail[0] ? ": " : "", detail);
        return MT_EXIT_FAIL;
    }
    printf("%s\n", hex);
    return MT_EXIT_OK;
}
