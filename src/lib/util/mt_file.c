#include "util/mt_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/mt_alloc.h"

mt_err
mt_file_read(const char *path, size_t max, uint8_t **out, size_t *out_len)
{
    struct stat st;
    uint8_t *b = NULL;
    size_t n, got = 0;
    ssize_t r;
    mt_err e = MT_OK;
    int fd;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    MT_ENSURE(fd >= 0, MT_ERR_IO);
    MT_ENSURE_GOTO(fstat(fd, &st) == 0 && S_ISREG(st.st_mode), MT_ERR_IO, e, out);
    MT_ENSURE_GOTO(st.st_size > 0, MT_ERR_IO, e, out);
    MT_ENSURE_GOTO((uint64_t)st.st_size <= max, MT_ERR_TOO_LARGE, e, out);
    n = (size_t)st.st_size;
    b = mt_malloc(n + 1);
    MT_ENSURE_GOTO(b != NULL, MT_ERR_NOMEM, e, out);
    while (got < n) {
        r = read(fd, b + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        MT_ENSURE_GOTO(r > 0, MT_ERR_IO, e, out);
        got += (size_t)r;
    }
    b[n] = '\0';
    *out = b;
    *out_len = n;
    b = NULL;
out:
    mt_free(b);
    close(fd);
    return e;
}

mt_err
mt_file_write_all(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;
    ssize_t w;

    while (n > 0) {
        w = write(fd, b, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w == 0)
            errno = EIO;
        MT_ENSURE(w > 0, MT_ERR_IO);
        b += w;
        n -= (size_t)w;
    }
    return MT_OK;
}

/* fsync the directory holding path, so the rename itself is durable. */
static int
sync_parent(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir;
    int fd, ok;

    if (slash == NULL)
        dir = mt_strdup(".");
    else
        dir = mt_strndup(path, slash == path ? 1 : (size_t)(slash - path));
    if (dir == NULL) {
        errno = ENOMEM;
        return -1;
    }
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    mt_free(dir);
    if (fd < 0)
        return -1;
    ok = fsync(fd) == 0;
    close(fd);
    return ok ? 0 : -1;
}

mt_err
mt_file_write_atomic(const char *path, const void *data, size_t len, unsigned mode)
{
    size_t n = strlen(path);
    char *tmp = mt_malloc(n + 8);
    mt_err e = MT_ERR_IO;
    int fd, saved;

    MT_ENSURE(tmp != NULL, MT_ERR_NOMEM);
    memcpy(tmp, path, n);
    memcpy(tmp + n, ".XXXXXX", 8);
    fd = mkstemp(tmp); /* 0600 until fchmod */
    if (fd < 0)
        goto out;
    (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
    if (fchmod(fd, (mode_t)mode) != 0 || mt_file_write_all(fd, data, len) != MT_OK ||
        fsync(fd) != 0) {
        saved = errno;
        close(fd);
        unlink(tmp);
        errno = saved;
        goto out;
    }
    if (close(fd) != 0 || rename(tmp, path) != 0) {
        saved = errno;
        unlink(tmp);
        errno = saved;
        goto out;
    }
    if (sync_parent(path) != 0)
        goto out;
    e = MT_OK;
out:
    saved = errno;
    mt_free(tmp);
    errno = saved;
    return e;
}
