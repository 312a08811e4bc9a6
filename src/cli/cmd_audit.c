#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "audit/audit.h"
#include "cli/cli.h"
#include "cli/cli_io.h"
#include "util/mt_alloc.h"
#include "util/mt_err.h"
#include "util/mt_hex.h"

/*
 * mero-tee audit verify FILE [--json]: check the hash chain of a KMS audit
 * log (audit/audit.h).  Exit 0 when intact (prints the number of lines and
 * the last line's hash, the value to anchor elsewhere), 1 when broken (the
 * first broken line and why), 2 for usage errors and unreadable files.
 */

static int
usage(void)
{
    fprintf(stderr, "usage: mero-tee audit verify FILE [--json]\n");
    return MT_EXIT_USAGE;
}

static void
print_json(json_t *j)
{
    char *text;

    if (j == NULL) {
        fprintf(stderr, "mero-tee: audit verify: out of memory\n");
        return;
    }
    text = json_dumps(j, JSON_INDENT(2));
    if (text != NULL)
        printf("%s\n", text);
    mt_free_libc(text);
    json_decref(j);
}

static int
audit_verify(const char *path, int as_json)
{
    uint8_t last[32];
    char hex[65], why[512];
    size_t lines = 0, bad = 0;
    mt_err e;
    int fd;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "mero-tee: audit verify: %s: cannot open: %s\n", path, strerror(errno));
        return MT_EXIT_USAGE;
    }
    e = mt_audit_verify_fd(fd, &lines, last, &bad, why, sizeof(why));
    close(fd);
    if (e == MT_OK) {
        mt_hex_encode(last, 32, hex);
        if (as_json)
            print_json(json_pack("{s:s, s:b, s:I, s:s}", "file", path, "intact", 1, "lines",
                                 (json_int_t)lines, "lastHash", hex));
        else
            printf("intact: %zu lines, last hash %s\n", lines, hex);
        return MT_EXIT_OK;
    }
    if (e == MT_ERR_AUDIT_FORMAT || e == MT_ERR_AUDIT_CHAIN) {
        if (as_json)
            print_json(json_pack("{s:s, s:b, s:I, s:I, s:s, s:s}", "file", path, "intact", 0,
                                 "linesVerified", (json_int_t)lines, "badLine", (json_int_t)bad,
                                 "error", mt_err_code(e), "reason", why));
        else
            printf("broken: line %zu: %s (%s)\n", bad, why, mt_err_code(e));
        return MT_EXIT_FAIL;
    }
    fprintf(stderr, "mero-tee: audit verify: %s: %s%s%s\n", path, mt_err_message(e),
            why[0] ? ": " : "", why);
    return MT_EXIT_USAGE;
}

int
mt_cmd_audit(int argc, char **argv)
{
    const char *path = NULL;
    int as_json = 0;

    if (argc < 2 || strcmp(argv[1], "verify") != 0)
        return usage();
    if (mt_cli_path_and_json(argc, argv, 2, &path, &as_json) != 0)
        return usage();
    return audit_verify(path, as_json);
}
