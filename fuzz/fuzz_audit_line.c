/* Target: mt_audit_verify_file */

/*
 * Any byte string as an audit log file (audit/audit.h), written to a memfd
 * and verified through its /proc/self/fd path: the verifier streams it in
 * chunks, so lines that straddle reads, over-long lines, NUL bytes and
 * files without a final newline are all reached.  Contracts: no crash, a
 * known error code, *bad_line set exactly for chain/format errors and equal
 * to *lines + 1, and mt_audit_verify_fd agreeing with mt_audit_verify_file.
 */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "audit/audit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
require(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_audit_line: contract broken: %s\n", what);
        abort();
    }
}

static int
write_all(int fd, const uint8_t *p, size_t n)
{
    ssize_t w;

    while (n > 0) {
        w = write(fd, p, n);
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64], why[256];
    size_t lines = 0, bad = 0, lines2 = 0, bad2 = 0;
    uint8_t last[32];
    mt_err e, e2;
    int fd;

    fd = memfd_create("fuzz_audit_line", MFD_CLOEXEC);
    require(fd >= 0, "memfd_create");
    require(write_all(fd, data, size) == 0, "write to memfd");
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);

    e = mt_audit_verify_file(path, &lines, &bad, why, sizeof(why));
    require(memchr(why, '\0', sizeof(why)) != NULL, "why is terminated");
    if (e == MT_OK) {
        require(bad == 0, "bad_line on success");
        require(size == 0 || data[size - 1] == '\n', "an intact log ends with a newline");
    } else if (e == MT_ERR_AUDIT_FORMAT || e == MT_ERR_AUDIT_CHAIN) {
        require(bad == lines + 1, "bad_line follows the verified lines");
        require(why[0] != '\0', "a broken log is explained");
    } else {
        require(e == MT_ERR_NOMEM, "only format, chain or out-of-memory errors on a memfd");
    }

    require(lseek(fd, 0, SEEK_SET) == 0, "rewind");
    e2 = mt_audit_verify_fd(fd, &lines2, last, &bad2, NULL, 0);
    require(e2 == e && lines2 == lines && bad2 == bad, "verify_fd agrees with verify_file");
    close(fd);
    return 0;
}
