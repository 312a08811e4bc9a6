#include "fake_cmd.h"

#include <stdio.h>
#include <string.h>

long
fake_cmd_log_run(const char *log, int argc, char **argv)
{
    long run = 1;
    FILE *f;
    int c, i;

    if (log == NULL)
        return -1;
    f = fopen(log, "rb");
    if (f != NULL) {
        while ((c = fgetc(f)) != EOF)
            run += c == '\n';
        fclose(f);
    }
    f = fopen(log, "ab");
    if (f == NULL)
        return -1;
    for (i = 1; i < argc; i++)
        fwrite(argv[i], 1, strlen(argv[i]) + 1, f);
    fputc('\n', f);
    if (fclose(f) != 0)
        return -1;
    return run;
}
