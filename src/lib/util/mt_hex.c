#include "util/mt_hex.h"

#include "util/mt_alloc.h"

static int
nibble(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

mt_err
mt_hex_decode_exact(const char *hex, size_t hex_len, uint8_t *out, size_t out_len)
{
    size_t i;
    int hi, lo;

    MT_ENSURE(hex != NULL, MT_ERR_HEX);
    MT_ENSURE(out_len <= SIZE_MAX / 2 && hex_len == 2 * out_len, MT_ERR_HEX);
    /* Check every digit first: out is written only on success. */
    for (i = 0; i < hex_len; i++)
        MT_ENSURE(nibble(hex[i]) >= 0, MT_ERR_HEX);
    for (i = 0; i < out_len; i++) {
        hi = nibble(hex[2 * i]);
        lo = nibble(hex[2 * i + 1]);
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return MT_OK;
}

mt_err
mt_hex_decode_alloc(const char *hex, size_t hex_len, size_t max, uint8_t **out, size_t *out_len)
{
    uint8_t *b;
    size_t n;
    mt_err e;

    MT_ENSURE(hex_len % 2 == 0, MT_ERR_HEX);
    n = hex_len / 2;
    MT_ENSURE(n <= max, MT_ERR_TOO_LARGE);
    b = mt_malloc(n);
    MT_ENSURE(b != NULL, MT_ERR_NOMEM);
    e = mt_hex_decode_exact(hex, hex_len, b, n);
    if (e != MT_OK) {
        mt_free(b);
        return e;
    }
    *out = b;
    *out_len = n;
    return MT_OK;
}

void
mt_hex_encode(const uint8_t *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    size_t i;

    for (i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 0x0f];
    }
    out[2 * n] = '\0';
}

char *
mt_hex_encode_alloc(const uint8_t *in, size_t n)
{
    char *s;

    if (n > (SIZE_MAX - 1) / 2)
        return NULL;
    s = mt_malloc(2 * n + 1);
    if (s != NULL)
        mt_hex_encode(in, n, s);
    return s;
}
