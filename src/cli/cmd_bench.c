#include <stdio.h>

#include "cli/cli.h"

int
mt_cmd_bench(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "mero-tee bench: not built yet\n");
    return MT_EXIT_USAGE;
}
