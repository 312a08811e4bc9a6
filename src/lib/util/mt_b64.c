#include "util/mt_b64.h"

#include "util/mt_alloc.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int
symbol(char ch)
{
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A';
    if (ch >= 'a' && ch <= 'z')
        return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9')
        return ch - '0' + 52;
    if (ch == '+')
        return 62;
    if (ch == '/')
        return 63;
    return -1;
}

mt_err
mt_b64_decode_alloc(const char *s, size_t len, size_t max, uint8_t **out, size_t *out_len)
{
    size_t pad = 0, n, i, o = 0;
    uint8_t *b;
    uint32_t acc;
    int v[4], k;

    MT_ENSURE(s != NULL && len % 4 == 0, MT_ERR_BASE64);
    if (len >= 1 && s[len - 1] == '=')
        pad = (len >= 2 && s[len - 2] == '=') ? 2 : 1;
    n = len / 4 * 3 - pad;
    MT_ENSURE(n <= max, MT_ERR_TOO_LARGE);
    b = mt_malloc(n);
    MT_ENSURE(b != NULL, MT_ERR_NOMEM);
    for (i = 0; i < len; i += 4) {
        int last = i + 4 == len;

        for (k = 0; k < 4; k++) {
            if (last && k >= 4 - (int)pad) {
                v[k] = 0;
                continue;
            }
            v[k] = symbol(s[i + (size_t)k]);
            if (v[k] < 0)
                goto bad;
        }
        acc = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        /* Canonical padding: the bits dropped by the padding must be zero. */
        if (last && pad == 1 && (acc & 0xff) != 0)
            goto bad;
        if (last && pad == 2 && (acc & 0xffff) != 0)
            goto bad;
        b[o++] = (uint8_t)(acc >> 16);
        if (!last || pad < 2)
            b[o++] = (uint8_t)(acc >> 8);
        if (!last || pad < 1)
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
