#include "identity/base58.h"

#include <string.h>

static const char alphabet[] = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/* Value of a base58 digit, or -1. */
static int
digit(char ch)
{
    const char *p;

    if (ch == '\0')
        return -1;
    p = memchr(alphabet, ch, sizeof(alphabet) - 1);
    return p == NULL ? -1 : (int)(p - alphabet);
}

int
mt_base58_is_alphabet(char ch)
{
    return digit(ch) >= 0;
}

mt_err
mt_base58_encode(const uint8_t *in, size_t n, char *out, size_t out_size)
{
    /* log(256) / log(58) < 1.37: at most 138 digits per 100 bytes, plus one. */
    uint8_t digits[MT_BASE58_MAX_BYTES * 138 / 100 + 1];
    size_t zeros = 0, ndig = 0, i, j, total;
    unsigned carry;

    MT_ENSURE(out != NULL && (in != NULL || n == 0), MT_ERR_ARG);
    MT_ENSURE(n <= MT_BASE58_MAX_BYTES, MT_ERR_TOO_LARGE);
    while (zeros < n && in[zeros] == 0)
        zeros++;
    /* digits[0..ndig) holds the value so far, least significant digit first. */
    for (i = zeros; i < n; i++) {
        carry = in[i];
        for (j = 0; j < ndig; j++) {
            carry += (unsigned)digits[j] << 8;
            digits[j] = (uint8_t)(carry % 58);
            carry /= 58;
        }
        while (carry > 0) {
            digits[ndig++] = (uint8_t)(carry % 58);
            carry /= 58;
        }
    }
    total = zeros + ndig;
    MT_ENSURE(total < out_size, MT_ERR_TOO_LARGE);
    memset(out, '1', zeros);
    for (i = 0; i < ndig; i++)
        out[zeros + i] = alphabet[digits[ndig - 1 - i]];
    out[total] = '\0';
    return MT_OK;
}

mt_err
mt_base58_decode(const char *s, size_t len, uint8_t *out, size_t out_size, size_t *out_len)
{
    /* log(58) / log(256) < 0.733: at most 733 bytes per 1000 digits, plus one. */
    uint8_t bytes[MT_BASE58_MAX_CHARS * 733 / 1000 + 1];
    size_t ones = 0, nbytes = 0, i, j, total;
    unsigned carry;
    int d;

    MT_ENSURE(out_len != NULL && (s != NULL || len == 0) && (out != NULL || out_size == 0),
              MT_ERR_ARG);
    MT_ENSURE(len <= MT_BASE58_MAX_CHARS, MT_ERR_TOO_LARGE);
    for (i = 0; i < len; i++)
        MT_ENSURE(digit(s[i]) >= 0, MT_ERR_INVALID_PEER_ID);
    while (ones < len && s[ones] == '1')
        ones++;
    /* bytes[0..nbytes) holds the value so far, least significant byte first. */
    for (i = ones; i < len; i++) {
        d = digit(s[i]);
        carry = (unsigned)d;
        for (j = 0; j < nbytes; j++) {
            carry += (unsigned)bytes[j] * 58u;
            bytes[j] = (uint8_t)(carry & 0xff);
            carry >>= 8;
        }
        while (carry > 0) {
            bytes[nbytes++] = (uint8_t)(carry & 0xff);
            carry >>= 8;
        }
    }
    total = ones + nbytes;
    /* Symmetric with the encoder: whatever decodes can be encoded again. */
    MT_ENSURE(total <= MT_BASE58_MAX_BYTES && total <= out_size, MT_ERR_TOO_LARGE);
    if (ones > 0)
        memset(out, 0, ones);
    for (i = 0; i < nbytes; i++)
        out[ones + i] = bytes[nbytes - 1 - i];
    *out_len = total;
    return MT_OK;
}
