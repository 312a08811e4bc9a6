/*
 * A stand-in for merod in the tests of `mero-tee policy merod-config
 * --apply` (tests/e2e/test_release_cli.c).  Each run appends one record to
 * the file named by $MT_FAKE_MEROD_LOG: every argument after argv[0],
 * each followed by a NUL byte, then one newline.  Runs are numbered from 1
 * by the records already in the log (arguments must not contain newlines).
 * The run whose number is $MT_FAKE_MEROD_FAIL_AT exits with
 * $MT_FAKE_MEROD_STATUS (a number 1-255), or kills itself with SIGKILL when
 * that is "kill"; every other run exits 0.  Without a usable log it exits
 * 99, so a test notices.
 */
#include "fake_cmd.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long
env_num(const char *name, long dflt)
{
    const char *s = getenv(name);
    char *end;
    long v;

    if (s == NULL || s[0] == '\0')
        return dflt;
    errno = 0;
    v = strtol(s, &end, 10);
    return errno == 0 && *end == '\0' ? v : dflt;
}

int
main(int argc, char **argv)
{
    const char *status = getenv("MT_FAKE_MEROD_STATUS");
    long fail_at = env_num("MT_FAKE_MEROD_FAIL_AT", 0);
    long run = fake_cmd_log_run(getenv("MT_FAKE_MEROD_LOG"), argc, argv);

    if (run < 0)
        return 99;
    if (run != fail_at)
        return 0;
    if (status != NULL && strcmp(status, "kill") == 0)
        raise(SIGKILL);
    return (int)env_num("MT_FAKE_MEROD_STATUS", 1);
}
