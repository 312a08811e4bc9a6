#include "util/mt_file.h"

#include <errno.h>
#include <fcntl.h>
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
