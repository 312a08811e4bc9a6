/*
 * A stand-in for meroctl in the fleet sidecar's tests.  Each run appends one
 * record to $MT_FAKE_MEROCTL_LOG: every argument after argv[0], each
 * followed by a NUL byte, then one newline (arguments must not contain
 * newlines; the sidecar never passes one).  Runs are numbered from 1 by the
 * records already in the log.  $MT_FAKE_MEROCTL_SCRIPT is a comma-separated
 * list of what runs 1, 2, ... do: a number is the exit status, "hang"
 * sleeps 60 s (for timeouts); runs past the end of the list exit 0.  It
 * prints one line to stdout and one to stderr.  Without a usable log it
 * exits 99, so a test notices.
 */
#include "fake_cmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
    const char *script = getenv("MT_FAKE_MEROCTL_SCRIPT");
    long run = fake_cmd_log_run(getenv("MT_FAKE_MEROCTL_LOG"), argc, argv);
    char word[32];
    long k;
    size_t n;

    if (run < 0)
        return 99;
    printf("fake meroctl run %ld\n", run);
    fprintf(stderr, "fake meroctl stderr\n");
    fflush(stdout);
    for (k = 1; script != NULL && *script != '\0'; k++) {
        n = strcspn(script, ",");
        if (k == run) {
            if (n >= sizeof(word))
                return 98;
            memcpy(word, script, n);
            word[n] = '\0';
            if (strcmp(word, "hang") == 0) {
                sleep(60);
                return 0;
            }
            return (int)strtol(word, NULL, 10);
        }
        script += n + (script[n] == ',');
    }
    return 0;
}
