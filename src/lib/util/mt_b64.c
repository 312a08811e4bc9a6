#include "util/mt_b64.h"

#include "util/mt_alloc.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Symbol value of each byte, or 0xff when the byte is not in the alphabet ('=' included). */
#define X 0xff
static const uint8_t dtab[256] = {
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  /* 0x00 */
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  /* 0x10 */
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  62, X,  X,  X,  63, /* 0x20 */
    52, 53, 54, 55, 56, 57, 58, 59, 60, 61, X,  X,  X,  X,  X,  X,  /* 0x30 */
    X,  0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, /* 0x40 */
    15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, X,  X,  X,  X,  X,  /* 0x50 */
    X,  26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, /* 0x60 */
    41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, X,  X,  X,  X,  X,  /* 0x70 */
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  /* 0x80 */
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  /* 0x90 */
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  /* 0xa0 */
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  /* 0xb0 */
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  /* 0xc0 */
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  /* 0xd0 */
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  /* 0xe0 */
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  /* 0xf0 */
};
#undef X

mt_err
mt_b64_decode_alloc(const char *s, size_t len, size_t max, uint8_t **out, size_t *out_len)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t pad = 0, n, i, o = 0, body;
    uint8_t *b;
    uint32_t acc, c0, c1, c2, c3;

    MT_ENSURE(s != NULL && len % 4 == 0, MT_ERR_BASE64);
    if (len >= 1 && s[len - 1] == '=')
        pad = (len >= 2 && s[len - 2] == '=') ? 2 : 1;
    n = len / 4 * 3 - pad;
    MT_ENSURE(n <= max, MT_ERR_TOO_LARGE);
    b = mt_malloc(n);
    MT_ENSURE(b != NULL, MT_ERR_NOMEM);
    /* Every quad but the last: four symbols, none of them '='. */
    body = len == 0 ? 0 : len - 4;
    for (i = 0; i < body; i += 4) {
        c0 = dtab[u[i]];
        c1 = dtab[u[i + 1]];
        c2 = dtab[u[i + 2]];
        c3 = dtab[u[i + 3]];
        /* 0xff marks a non-symbol; any of them sets a bit above the low 6. */
        if (((c0 | c1 | c2 | c3) & 0xc0) != 0)
            goto bad;
        acc = c0 << 18 | c1 << 12 | c2 << 6 | c3;
        b[o++] = (uint8_t)(acc >> 16);
        b[o++] = (uint8_t)(acc >> 8);
        b[o++] = (uint8_t)acc;
    }
    if (len > 0) {
        /* The last quad: 4 - pad symbols, then the padding. */
        c0 = dtab[u[i]];
        c1 = dtab[u[i + 1]];
        c2 = pad >= 2 ? 0 : dtab[u[i + 2]];
        c3 = pad >= 1 ? 0 : dtab[u[i + 3]];
        if (((c0 | c1 | c2 | c3) & 0xc0) != 0)
            goto bad;
        acc = c0 << 18 | c1 << 12 | c2 << 6 | c3;
        /* Canonical padding: the bits dropped by the padding must be zero. */
        if ((pad == 1 && (acc & 0xff) != 0) || (pad == 2 && (acc & 0xffff) != 0))
            goto bad;
        b[o++] = (uint8_t)(acc >> 16);
        if (pad < 2)
            b[o++] = (uint8_t)(acc >> 8);
        if (pad < 1)
            b[o++] = (uint8_t)acc;
    }
    *out = b;
    *out_len = n;
    return MT_OK;
bad:
    mt_free(b);
    return MT_ERR_BASE64;
}

char *
mt_b64_encode_alloc(const uint8_t *in, size_t n)
{
    size_t i, o = 0, outlen;
    char *s;
    uint32_t acc;

    if (n > (SIZE_MAX - 1) / 4 * 3 - 3)
        return NULL;
    outlen = (n + 2) / 3 * 4;
    s = mt_malloc(outlen + 1);
    if (s == NULL)
        return NULL;
    for (i = 0; i < n; i += 3) {
        acc = (uint32_t)in[i] << 16;
        if (i + 1 < n)
            acc |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n)
            acc |= in[i + 2];
        s[o++] = alphabet[acc >> 18 & 63];
        s[o++] = alphabet[acc >> 12 & 63];
        s[o++] = i + 1 < n ? alphabet[acc >> 6 & 63] : '=';
        s[o++] = i + 2 < n ? alphabet[acc & 63] : '=';
    }
    s[o] = '\0';
    return s;
}
