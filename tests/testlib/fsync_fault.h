#ifndef MT_FSYNC_FAULT_H
#define MT_FSYNC_FAULT_H

/*
 * An fsync that counts its calls and fails with EIO on demand, for tests of
 * what the audit log does when the disk fails.  It is a definition, not a
 * declaration: include this header in exactly one file of a test program,
 * whose own fsync then wins over libc's for everything linked into it (the
 * library code included).  It is not part of libmttest on purpose: a
 * static-library member defining fsync would be pulled into every test that
 * uses the audit log.
 */
#include <errno.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <unistd.h>

static atomic_int fsync_calls; /* every call, failed or not */
static atomic_int fsync_fails; /* nonzero: fail with EIO */

int fsync(int fd);

int
fsync(int fd)
{
    atomic_fetch_add(&fsync_calls, 1);
    if (atomic_load(&fsync_fails)) {
        errno = EIO;
        return -1;
    }
    return (int)syscall(SYS_fsync, fd);
}

#endif
