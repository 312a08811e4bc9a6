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
    const char *log = getenv("MT_FAKE_MEROD_LOG");
    const char *status = getenv("MT_FAKE_MEROD_STATUS");
    long run = 1, fail_at = env_num("MT_FAKE_MEROD_FAIL_AT", 0);
    FILE *f;
    int c, i;

    if (log == NULL)
        return 99;
    f = fopen(log, "rb");
    if (f != NULL) {
        while ((c = fgetc(f)) != EOF)
            run += c == '\n';
        fclose(f);
    }
    f = fopen(log, "ab");
    if (f == NULL)
        return 99;
    for (i = 1; i < argc; i++)
        fwrite(argv[i], 1, strlen(argv[i]) + 1, f);
    fputc('\n', f);
    if (fclose(f) != 0)
        return 99;
    if (run != fail_at)
        return 0;
    if (status != NULL && strcmp(status, "kill") == 0)
        raise(SIGKILL);
    return (int)env_num("MT_FAKE_MEROD_STATUS", 1);
}
