#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "image/image_compose.h"
#include "util/mt_alloc.h"
#include "util/mt_err.h"
#include "util/mt_file.h"
#include "util/mt_hex.h"

/*
 * mero-tee compose-hash FILE: the compose hash dstack measures for a Phala
 * app (dstack.md 5.1): SHA-256 of the exact bytes of FILE, an
 * app-compose.json (image/image_compose.h).  Prints the 64-hex hash; warns on
 * stderr when the bytes are not in the deployers' canonical form (sorted
 * keys, compact), because dstack would then report another hash for the
 * same content.  Exit 0, 1 when FILE is not an app-compose JSON object,
 * 2 for usage errors and unreadable files.
 */

static int
usage(void)
{
    fprintf(stderr, "usage: mero-tee compose-hash FILE\n");
    return MT_EXIT_USAGE;
}

int
mt_cmd_compose(int argc, char **argv)
{
    uint8_t *data = NULL, md[32];
    char hex[65];
    size_t len = 0;
    int canonical = 0;
    mt_err e;

    if (argc != 2 || argv[1][0] == '-')
        return usage();
    e = mt_file_read(argv[1], MT_IMAGE_MAX_COMPOSE, &data, &len);
    if (e != MT_OK) {
        fprintf(stderr, "mero-tee: compose-hash: %s: %s\n", argv[1], mt_err_message(e));
        return MT_EXIT_USAGE;
    }
    e = mt_image_compose_hash(data, len, md, &canonical);
    mt_free(data);
    if (e != MT_OK) {
        fprintf(stderr, "mero-tee: compose-hash: %s: %s (%s)\n", argv[1], mt_err_message(e),
                mt_err_code(e));
        return MT_EXIT_FAIL;
    }
    if (!canonical)
        fprintf(stderr,
                "mero-tee: compose-hash: warning: %s is not in canonical form (sorted keys, "
                "compact); the hash is over its exact bytes\n",
                argv[1]);
    mt_hex_encode(md, sizeof(md), hex);
    printf("%s\n", hex);
    return MT_EXIT_OK;
}
