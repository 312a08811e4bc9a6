#ifndef MT_CURSOR_H
#define MT_CURSOR_H

#include <stddef.h>
#include <stdint.h>

#include "util/mt_err.h"

/*
 * A read-only cursor over untrusted bytes (STYLE.md section 4 item 3).
 * Every reader checks that enough bytes remain before it moves; a failed
 * read returns MT_ERR_TRUNCATED and leaves the cursor where it was.
 * The cursor borrows the bytes; it never owns or copies them.
 */
struct mt_cursor {
    const uint8_t *p; /* start of the bytes */
    size_t len;       /* total length */
    size_t pos;       /* next byte to read; pos <= len always */
};

void mt_cursor_init(struct mt_cursor *c, const uint8_t *p, size_t len);
size_t mt_cursor_remaining(const struct mt_cursor *c);
int mt_cursor_empty(const struct mt_cursor *c);

MT_WUR mt_err mt_cursor_u8(struct mt_cursor *c, uint8_t *out);
MT_WUR mt_err mt_cursor_u16le(struct mt_cursor *c, uint16_t *out);
MT_WUR mt_err mt_cursor_u32le(struct mt_cursor *c, uint32_t *out);
MT_WUR mt_err mt_cursor_u64le(struct mt_cursor *c, uint64_t *out);
/* Copy n bytes into out. */
MT_WUR mt_err mt_cursor_copy(struct mt_cursor *c, void *out, size_t n);
/* Borrow a pointer to the next n bytes and skip them. */
MT_WUR mt_err mt_cursor_borrow(struct mt_cursor *c, size_t n, const uint8_t **out);
MT_WUR mt_err mt_cursor_skip(struct mt_cursor *c, size_t n);
/* Split off the next n bytes as a sub-cursor. */
MT_WUR mt_err mt_cursor_sub(struct mt_cursor *c, size_t n, struct mt_cursor *sub);

/* Little-endian loads from a buffer the caller has already bounds-checked. */
uint16_t mt_load_u16le(const uint8_t *p);
uint32_t mt_load_u32le(const uint8_t *p);
uint64_t mt_load_u64le(const uint8_t *p);

#endif
