#include "util/mt_cursor.h"

#include <assert.h>
#include <string.h>

void
mt_cursor_init(struct mt_cursor *c, const uint8_t *p, size_t len)
{
    c->p = p;
    c->len = p == NULL ? 0 : len;
    c->pos = 0;
}

size_t
mt_cursor_remaining(const struct mt_cursor *c)
{
    assert(c->pos <= c->len);
    return c->len - c->pos;
}

int
mt_cursor_empty(const struct mt_cursor *c)
{
    return mt_cursor_remaining(c) == 0;
}

mt_err
mt_cursor_borrow(struct mt_cursor *c, size_t n, const uint8_t **out)
{
    MT_ENSURE(n <= mt_cursor_remaining(c), MT_ERR_TRUNCATED);
    *out = c->p + c->pos;
    c->pos += n;
    return MT_OK;
}

mt_err
mt_cursor_skip(struct mt_cursor *c, size_t n)
{
    const uint8_t *unused;

    return mt_cursor_borrow(c, n, &unused);
}

mt_err
mt_cursor_copy(struct mt_cursor *c, void *out, size_t n)
{
    const uint8_t *src;

    MT_GUARD(mt_cursor_borrow(c, n, &src));
    if (n > 0)
        memcpy(out, src, n);
    return MT_OK;
}

mt_err
mt_cursor_sub(struct mt_cursor *c, size_t n, struct mt_cursor *sub)
{
    const uint8_t *src;

    MT_GUARD(mt_cursor_borrow(c, n, &src));
    mt_cursor_init(sub, src, n);
    return MT_OK;
}

uint16_t
mt_load_u16le(const uint8_t *p)
{
    return (uint16_t)(p[0] | (uint16_t)(p[1] << 8));
}

uint32_t
mt_load_u32le(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint64_t
mt_load_u64le(const uint8_t *p)
{
    return (uint64_t)mt_load_u32le(p) | (uint64_t)mt_load_u32le(p + 4) << 32;
}

mt_err
mt_cursor_u8(struct mt_cursor *c, uint8_t *out)
{
    const uint8_t *b;

    MT_GUARD(mt_cursor_borrow(c, 1, &b));
    *out = b[0];
    return MT_OK;
}

mt_err
mt_cursor_u16le(struct mt_cursor *c, uint16_t *out)
{
    const uint8_t *b;

    MT_GUARD(mt_cursor_borrow(c, 2, &b));
    *out = mt_load_u16le(b);
    return MT_OK;
}

mt_err
mt_cursor_u32le(struct mt_cursor *c, uint32_t *out)
{
    const uint8_t *b;

    MT_GUARD(mt_cursor_borrow(c, 4, &b));
    *out = mt_load_u32le(b);
    return MT_OK;
}

mt_err
mt_cursor_u64le(struct mt_cursor *c, uint64_t *out)
{
    const uint8_t *b;

    MT_GUARD(mt_cursor_borrow(c, 8, &b));
    *out = mt_load_u64le(b);
    return MT_OK;
}
