#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "util/mt_err.h"

/*
 * mero-tee errors: the error table, as text or as the Markdown of
 * docs/errors.md (a test keeps that file equal to this output).
 */
int
mt_cmd_errors(int argc, char **argv)
{
    int markdown = argc == 2 && strcmp(argv[1], "--markdown") == 0;
    int e;

    if (argc > 2 || (argc == 2 && !markdown)) {
        fprintf(stderr, "usage: mero-tee errors [--markdown]\n");
        return MT_EXIT_USAGE;
    }
    if (markdown)
        printf("| code | HTTP | KMS tag | message |\n|---|---|---|---|\n");
    for (e = MT_OK; e < MT_ERR__COUNT; e++) {
        if (markdown)
            printf("| `%s` | %d | %s%s%s | %s |\n", mt_err_code((mt_err)e),
                   mt_err_http_status((mt_err)e), mt_err_tag((mt_err)e)[0] ? "`" : "",
                   mt_err_tag((mt_err)e)[0] ? mt_err_tag((mt_err)e) : "-",
                   mt_err_tag((mt_err)e)[0] ? "`" : "", mt_err_message((mt_err)e));
        else
            printf("%-34s %3d  %s\n", mt_err_code((mt_err)e), mt_err_http_status((mt_err)e),
                   mt_err_message((mt_err)e));
    }
    return MT_EXIT_OK;
}
