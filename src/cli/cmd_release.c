#include <stdio.h>

#include "cli/cli.h"

/* Placeholder until the command lands (issue 5); refuses to run. */
int
mt_cmd_release(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "mero-tee release: not implemented yet\n");
    return MT_EXIT_USAGE;
}
