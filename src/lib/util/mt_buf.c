#include "util/mt_buf.h"

#include <string.h>

#include <openssl/crypto.h>

#include "util/mt_alloc.h"

void
mt_buf_init(struct mt_buf *b, size_t limit)
{
    b->p = NULL;
    b->len = 0;
    b->cap = 0;
    b->limit = limit;
}

mt_err
mt_buf_append(struct mt_buf *b, const void *data, size_t n)
{
    size_t need, cap;
    uint8_t *np;

    MT_ENSURE(n <= b->limit && b->len <= b->limit - n, MT_ERR_TOO_LARGE);
    need = b->len + n;
    if (b->p == NULL || need > b->cap) {
        cap = b->cap < 256 ? 256 : b->cap;
        while (cap < need)
            cap = cap > b->limit / 2 ? b->limit : cap * 2;
        np = mt_realloc(b->p, cap + 1);
        MT_ENSURE(np != NULL, MT_ERR_NOMEM);
        b->p = np;
        b->cap = cap;
    }
    if (n > 0)
        memcpy(b->p + b->len, data, n);
    b->len = need;
    b->p[b->len] = '\0';
    return MT_OK;
}

mt_err
mt_buf_append_str(struct mt_buf *b, const char *s)
{
    return mt_buf_append(b, s, strlen(s));
}

uint8_t *
mt_buf_take(struct mt_buf *b, size_t *len)
{
    uint8_t *p = b->p;

    /* Never appended to: still hand out a (NUL-terminated) empty string. */
    if (p == NULL) {
        p = mt_malloc(1);
        if (p != NULL)
            p[0] = '\0';
    }
    if (len != NULL)
        *len = b->len;
    mt_buf_init(b, b->limit);
    return p;
}

void
mt_buf_free(struct mt_buf *b)
{
    mt_free(b->p);
    mt_buf_init(b, b->limit);
}

void
mt_buf_free_secret(struct mt_buf *b)
{
    if (b->p != NULL)
        OPENSSL_cleanse(b->p, b->cap + 1);
    mt_buf_free(b);
}
