#ifndef MT_FILE_H
#define MT_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "util/mt_err.h"

/*
 * Read a whole regular file of at most max bytes (rpki-client's load_file).
 * Empty files are refused.  *out is NUL-terminated and must be freed with
 * mt_free.
 */
MT_WUR mt_err mt_file_read(const char *path, size_t max, uint8_t **out, size_t *out_len);

/* Write all n bytes to fd, retrying short writes and EINTR; MT_ERR_IO (errno set) otherwise. */
MT_WUR mt_err mt_file_write_all(int fd, const void *p, size_t n);

/*
 * Replace path with data atomically: a temporary file beside it (mkstemp,
 * then fchmod to mode), written and fsync'd, renamed over path, and the
 * directory fsync'd, so a reader sees the old file or the new one and a
 * crash leaves one of them.  MT_ERR_IO with errno set (the temporary file is
 * removed), MT_ERR_NOMEM.
 */
MT_WUR mt_err mt_file_write_atomic(const char *path, const void *data, size_t len, unsigned mode);

#endif
