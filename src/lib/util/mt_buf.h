#ifndef MT_BUF_H
#define MT_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "util/mt_err.h"

/*
 * A growable byte buffer that cannot exist without a size limit (curl's
 * dynbuf idea, STYLE.md section 3).  Appending past the limit fails with
 * MT_ERR_TOO_LARGE and leaves the contents unchanged.  The bytes are always
 * followed by a NUL so text can be handed to C string functions.
 */
struct mt_buf {
    uint8_t *p;   /* owned; NULL until the first append */
    size_t len;   /* bytes in use */
    size_t cap;   /* bytes allocated, excluding the NUL */
    size_t limit; /* len never exceeds this */
};

void mt_buf_init(struct mt_buf *b, size_t limit);
MT_WUR mt_err mt_buf_append(struct mt_buf *b, const void *data, size_t n);
MT_WUR mt_err mt_buf_append_str(struct mt_buf *b, const char *s);
/* Take ownership of the bytes (NUL-terminated, "" when empty; NULL only when out of
 * memory); the buffer is reset. */
uint8_t *mt_buf_take(struct mt_buf *b, size_t *len);
/* Free and reset; safe on a zeroed or already freed buffer. */
void mt_buf_free(struct mt_buf *b);
/* Wipe with OPENSSL_cleanse, then free: for buffers that held secrets. */
void mt_buf_free_secret(struct mt_buf *b);

#endif
