#include <stdio.h>

#include "cli/cli.h"

/* Placeholder until the command lands (issue 5); refuses to run. */
int
mt_cmd_sigstore(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "mero-tee sigstore: not implemented yet\n");
    return MT_EXIT_USAGE;
}
