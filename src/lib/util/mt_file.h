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

#endif
