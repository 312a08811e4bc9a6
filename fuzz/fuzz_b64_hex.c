/* Target: mt_b64_decode_alloc, mt_hex_decode_alloc */

/*
 * Strict decoders, checked against their encoders (mt_b64_encode_alloc,
 * mt_hex_encode_alloc).  For any input:
 *   - decode(encode(x)) == x, for base64 and hex;
 *   - a string the strict base64 decoder accepts is canonical, so
 *     encode(decode(s)) == s; for hex, the same up to letter case;
 *   - a decode whose output would exceed max fails.
 */
#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/mt_alloc.h"
#include "util/mt_b64.h"
#include "util/mt_hex.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Bigger than any input libFuzzer is given here; it only has to be finite. */
#define FUZZ_MAX_OUT (1024u * 1024u)

static void
require(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_b64_hex: contract broken: %s\n", what);
        abort();
    }
}

static void
round_trip(const uint8_t *data, size_t size)
{
    uint8_t *back = NULL;
    size_t back_len = 0;
    char *enc;

    enc = mt_b64_encode_alloc(data, size);
    require(enc != NULL, "b64 encode");
    require(strlen(enc) == (size + 2) / 3 * 4, "b64 encoded length");
    require(mt_b64_decode_alloc(enc, strlen(enc), size, &back, &back_len) == MT_OK,
            "b64 decode(encode(x))");
    require(back_len == size && (size == 0 || memcmp(back, data, size) == 0),
            "b64 decode(encode(x)) == x");
    mt_free(back);
    back = NULL;
    if (size > 0) {
        require(mt_b64_decode_alloc(enc, strlen(enc), size - 1, &back, &back_len) != MT_OK,
                "b64 decode over max");
        require(back == NULL, "b64 out set on failure");
    }
    mt_free(enc);

    enc = mt_hex_encode_alloc(data, size);
    require(enc != NULL, "hex encode");
    require(strlen(enc) == 2 * size, "hex encoded length");
    require(mt_hex_decode_alloc(enc, 2 * size, size, &back, &back_len) == MT_OK,
            "hex decode(encode(x))");
    require(back_len == size && (size == 0 || memcmp(back, data, size) == 0),
            "hex decode(encode(x)) == x");
    mt_free(back);
    back = NULL;
    if (size > 0) {
        require(mt_hex_decode_alloc(enc, 2 * size, size - 1, &back, &back_len) != MT_OK,
                "hex decode over max");
        require(back == NULL, "hex out set on failure");
    }
    mt_free(enc);
}

static void
decode_input(const char *s, size_t len)
{
    uint8_t *out = NULL;
    size_t out_len = 0, i;
    char *enc;

    if (mt_b64_decode_alloc(s, len, FUZZ_MAX_OUT, &out, &out_len) == MT_OK) {
        enc = mt_b64_encode_alloc(out, out_len);
        require(enc != NULL, "b64 re-encode");
        require(strlen(enc) == len && memcmp(enc, s, len) == 0,
                "accepted base64 is canonical: encode(decode(s)) == s");
        mt_free(enc);
        mt_free(out);
    } else {
        require(out == NULL, "b64 out set on failure");
    }

    out = NULL;
    if (mt_hex_decode_alloc(s, len, FUZZ_MAX_OUT, &out, &out_len) == MT_OK) {
        require(out_len * 2 == len, "hex decoded length");
        enc = mt_hex_encode_alloc(out, out_len);
        require(enc != NULL, "hex re-encode");
        for (i = 0; i < len; i++)
            require(enc[i] == (char)tolower((unsigned char)s[i]),
                    "accepted hex round-trips up to case");
        mt_free(enc);
        mt_free(out);
    } else {
        require(out == NULL, "hex out set on failure");
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s;

    round_trip(data, size);

    /* The decoders take a length, not a C string: give them an exact-size copy
     * so any read past len is caught by ASan. */
    s = malloc(size == 0 ? 1 : size);
    require(s != NULL, "malloc");
    if (size > 0)
        memcpy(s, data, size);
    decode_input(s, size);
    free(s);
    return 0;
}
