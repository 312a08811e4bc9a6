#include "cli/cli_io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/mt_alloc.h"
#include "util/mt_file.h"
#include "util/mt_hex.h"
#include "util/mt_limits.h"

static int
is_space(uint8_t ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

mt_err
mt_cli_read_quote(const char *path, int hex, uint8_t **out, size_t *out_len)
{
    uint8_t *buf = NULL;
    size_t len, start = 0, end;
    mt_err e;

    MT_GUARD(mt_file_read(path, hex ? 2 * MT_MAX_QUOTE_SIZE + 64 : MT_MAX_QUOTE_SIZE, &buf, &len));
    if (!hex) {
        *out = buf;
        *out_len = len;
        return MT_OK;
    }
    end = len;
    while (start < end && is_space(buf[start]))
        start++;
    while (end > start && is_space(buf[end - 1]))
        end--;
    if (end - start >= 2 && buf[start] == '0' && (buf[start + 1] == 'x' || buf[start + 1] == 'X'))
        start += 2;
    e = mt_hex_decode_alloc((const char *)buf + start, end - start, MT_MAX_QUOTE_SIZE, out,
                            out_len);
    mt_free(buf);
    return e;
}

void
mt_cli_print_json(const json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

    if (s == NULL) {
        fprintf(stderr, "mero-tee: out of memory\n");
        return;
    }
    fputs(s, stdout);
    fputc('\n', stdout);
    mt_free_libc(s);
}

void
mt_cli_error(const char *what, mt_err e)
{
    fprintf(stderr, "mero-tee: %s: %s (%s)\n", what, mt_err_message(e), mt_err_code(e));
}

int
mt_cli_path_and_json(int argc, char **argv, int first, const char **path, int *as_json)
{
    int i;

    *path = NULL;
    *as_json = 0;
    for (i = first; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            *as_json = 1;
        else if (argv[i][0] == '-' || *path != NULL)
            return -1;
        else
            *path = argv[i];
    }
    return *path == NULL ? -1 : 0;
}
