/*
 * mt_hex_* and mt_b64_*: RFC 4648 test vectors, the strictness promised in
 * mt_hex.h / mt_b64.h (no whitespace, no URL-safe alphabet, no missing,
 * extra or non-canonical padding), size limits (MT_ERR_TOO_LARGE) and round
 * trips of pseudo-random data.
 */
#include "mt_testlib.h"

#include <string.h>

#include "util/mt_alloc.h"
#include "util/mt_b64.h"
#include "util/mt_hex.h"

/* Deterministic xorshift64*, so failures reproduce. */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint8_t
rng_byte(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint8_t)((rng_state * 0x2545F4914F6CDD1Dull) >> 56);
}

/* RFC 4648 section 10. */
static const struct {
    const char *plain;
    const char *b64;
    const char *hex;
} rfc4648[] = {
    {"", "", ""},
    {"f", "Zg==", "66"},
    {"fo", "Zm8=", "666F"},
    {"foo", "Zm9v", "666F6F"},
    {"foob", "Zm9vYg==", "666F6F62"},
    {"fooba", "Zm9vYmE=", "666F6F6261"},
    {"foobar", "Zm9vYmFy", "666F6F626172"},
};

#define NVEC (sizeof(rfc4648) / sizeof(rfc4648[0]))

/* Decode s as base64 with a generous limit; returns the error, out freed. */
static mt_err
b64_try(const char *s)
{
    uint8_t *out = (uint8_t *)"untouched";
    size_t n = 777;
    mt_err e = mt_b64_decode_alloc(s, strlen(s), 1024, &out, &n);

    if (e == MT_OK) {
        mt_free(out);
    } else {
        /* out-params are set only on success (STYLE.md section 4 item 8) */
        assert_string_equal((const char *)out, "untouched");
        assert_int_equal(n, 777);
    }
    return e;
}

static mt_err
hex_try(const char *s)
{
    uint8_t *out = (uint8_t *)"untouched";
    size_t n = 777;
    mt_err e = mt_hex_decode_alloc(s, strlen(s), 1024, &out, &n);

    if (e == MT_OK) {
        mt_free(out);
    } else {
        assert_string_equal((const char *)out, "untouched");
        assert_int_equal(n, 777);
    }
    return e;
}

static void
test_b64_rfc4648_vectors(void **state)
{
    uint8_t *out;
    size_t i, n;
    char *enc;

    (void)state;
    for (i = 0; i < NVEC; i++) {
        const char *plain = rfc4648[i].plain, *b64 = rfc4648[i].b64;

        enc = mt_b64_encode_alloc((const uint8_t *)plain, strlen(plain));
        assert_non_null(enc);
        assert_string_equal(enc, b64);
        mt_free(enc);

        out = NULL;
        EXPECT_OK(mt_b64_decode_alloc(b64, strlen(b64), 64, &out, &n));
        assert_non_null(out);
        assert_int_equal(n, strlen(plain));
        if (n > 0)
            assert_memory_equal(out, plain, n);
        mt_free(out);
    }
}

static void
test_hex_rfc4648_vectors(void **state)
{
    uint8_t *out, fixed[8];
    char enc[16], lower[16];
    size_t i, k, n;

    (void)state;
    for (i = 0; i < NVEC; i++) {
        const char *plain = rfc4648[i].plain, *hex = rfc4648[i].hex;
        size_t plen = strlen(plain);

        /* we encode lowercase; RFC 4648 prints uppercase */
        for (k = 0; hex[k] != '\0'; k++)
            lower[k] = (char)(hex[k] >= 'A' && hex[k] <= 'F' ? hex[k] - 'A' + 'a' : hex[k]);
        lower[k] = '\0';
        mt_hex_encode((const uint8_t *)plain, plen, enc);
        assert_string_equal(enc, lower);

        /* both cases decode */
        out = NULL;
        EXPECT_OK(mt_hex_decode_alloc(hex, strlen(hex), 64, &out, &n));
        assert_int_equal(n, plen);
        if (n > 0)
            assert_memory_equal(out, plain, n);
        mt_free(out);
        EXPECT_OK(mt_hex_decode_exact(lower, strlen(lower), fixed, plen));
        if (plen > 0)
            assert_memory_equal(fixed, plain, plen);
    }
}

static void
test_b64_padding(void **state)
{
    uint8_t *out;
    size_t n;

    (void)state;
    /* canonical: the unused low bits of the last symbol are zero */
    out = NULL;
    EXPECT_OK(mt_b64_decode_alloc("QQ==", 4, 4, &out, &n));
    assert_int_equal(n, 1);
    assert_int_equal(out[0], 'A');
    mt_free(out);
    EXPECT_OK(b64_try("QUI="));
    EXPECT_OK(b64_try("Zm8="));

    /* non-canonical: same leading bits, non-zero dropped bits */
    EXPECT_ERR(b64_try("QR=="), MT_ERR_BASE64);
    EXPECT_ERR(b64_try("QQ9="), MT_ERR_BASE64);
    EXPECT_ERR(b64_try("QUJ="), MT_ERR_BASE64);
    EXPECT_ERR(b64_try("Zm9="), MT_ERR_BASE64);
    EXPECT_ERR(b64_try("Zh=="), MT_ERR_BASE64);

    /* missing padding */
    EXPECT_ERR(b64_try("Zg"), MT_ERR_BASE64);
    EXPECT_ERR(b64_try("Zg="), MT_ERR_BASE64);
    EXPECT_ERR(b64_try("Zm8"), MT_ERR_BASE64);
    EXPECT_ERR(b64_try("Zm9vYg"), MT_ERR_BASE64);

    /* extra padding */
    EXPECT_ERR(b64_try("Zg==="), MT_ERR_BASE64);
    EXPECT_ERR(b64_try("Zg===="), MT_ERR_BASE64);
    EXPECT_ERR(b64_try("Zm9v===="), MT_ERR_BASE64);
    EXPECT_ERR(b64_try("Z==="), MT_ERR_BASE64);
    EXPECT_ERR(b64_try("===="), MT_ERR_BASE64);
    EXPECT_ERR(b64_try("="), MT_ERR_BASE64);

    /* padding anywhere but at the very end */
    EXPECT_ERR(b64_try("Zg==Zg=="), MT_ERR_BASE64);
    EXPECT_ERR(b64_try("Zm8=Zm9v"), MT_ERR_BASE64);
    EXPECT_ERR(b64_try("Z=9v"), MT_ERR_BASE64);
    EXPECT_ERR(b64_try("=m9v"), MT_ERR_BASE64);
    EXPECT_ERR(b64_try("Zm=v"), MT_ERR_BASE64);
}

static void
test_b64_bad_chars(void **state)
{
    uint8_t *out;
    size_t n;

    (void)state;
    EXPECT_ERR(b64_try("Zm9!"), MT_ERR_BASE64);
    EXPECT_ERR(b64_try("Zm9v!A=="), MT_ERR_BASE64);
    EXPECT_ERR(b64_try("Zm.v"), MT_ERR_BASE64);
    EXPECT_ERR(b64_try("Zm\x80v"), MT_ERR_BASE64);
    EXPECT_ERR(b64_try("\xffZm9"), MT_ERR_BASE64);
    /* whitespace anywhere, including a trailing newline */
    EXPECT_ERR(b64_try("Zm9v Yg=="), MT_ERR_BASE64);
    EXPECT_ERR(b64_try("Zm9v\nYg=="), MT_ERR_BASE64);
    EXPECT_ERR(b64_try("Zm9vYg==\n"), MT_ERR_BASE64);
    EXPECT_ERR(b64_try(" Zm9vYg="), MT_ERR_BASE64);
    EXPECT_ERR(b64_try("Zm9\tYmFy"), MT_ERR_BASE64);
    EXPECT_ERR(b64_try("Zm9v\r\nYmFy"), MT_ERR_BASE64);
    /* the URL-safe alphabet is not accepted: "-" and "_" stand for "+" and "/" */
    EXPECT_OK(b64_try("+/+/"));
    EXPECT_ERR(b64_try("-_-_"), MT_ERR_BASE64);
    EXPECT_ERR(b64_try("ab-d"), MT_ERR_BASE64);
    EXPECT_ERR(b64_try("ab_d"), MT_ERR_BASE64);
    /* an embedded NUL counts as a character */
    EXPECT_ERR(mt_b64_decode_alloc("Zm\0v", 4, 16, &out, &n), MT_ERR_BASE64);
    /* NULL input */
    EXPECT_ERR(mt_b64_decode_alloc(NULL, 0, 16, &out, &n), MT_ERR_BASE64);
}

/* Every byte value in every position of a body quad and of the last quad, and round trips. */
static void
test_b64_every_byte(void **state)
{
    static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    uint8_t data[64], *out = NULL;
    char s[9], *enc;
    size_t pos, n, len, i;
    int c;
    const char *sym;

    (void)state;
    for (c = 0; c < 256; c++) {
        sym = c == 0 ? NULL : strchr(alpha, c);
        for (pos = 0; pos < 8; pos++) {
            memcpy(s, "QUJDREVG", 9);
            s[pos] = (char)c;
            if (sym == NULL) {
                EXPECT_ERR(mt_b64_decode_alloc(s, 8, 16, &out, &n), MT_ERR_BASE64);
                continue;
            }
            /* the symbol's value lands in the right six bits */
            EXPECT_OK(mt_b64_decode_alloc(s, 8, 16, &out, &n));
            assert_int_equal(n, 6);
            enc = mt_b64_encode_alloc(out, n);
            assert_non_null(enc);
            assert_string_equal(enc, s);
            mt_free(enc);
            mt_free(out);
        }
    }
    for (i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 151 + 13);
    for (len = 0; len <= sizeof(data); len++) {
        enc = mt_b64_encode_alloc(data, len);
        assert_non_null(enc);
        EXPECT_OK(mt_b64_decode_alloc(enc, strlen(enc), len, &out, &n));
        assert_int_equal(n, len);
        if (len > 0)
            assert_memory_equal(out, data, len);
        mt_free(out);
        /* '=' anywhere before the padding is rejected */
        for (pos = 0; pos + 4 < strlen(enc); pos++) {
            char saved = enc[pos];

            enc[pos] = '=';
            EXPECT_ERR(mt_b64_decode_alloc(enc, strlen(enc), len, &out, &n), MT_ERR_BASE64);
            enc[pos] = saved;
        }
        mt_free(enc);
    }
}

static void
test_b64_limits(void **state)
{
    uint8_t *out = NULL;
    size_t n = 0;

    (void)state;
    /* "Zm9vYmFy" is 6 bytes: max 6 passes, max 5 is too large */
    EXPECT_OK(mt_b64_decode_alloc("Zm9vYmFy", 8, 6, &out, &n));
    assert_int_equal(n, 6);
    mt_free(out);
    out = NULL;
    EXPECT_ERR(mt_b64_decode_alloc("Zm9vYmFy", 8, 5, &out, &n), MT_ERR_TOO_LARGE);
    assert_null(out);
    /* the limit counts decoded bytes, net of padding */
    EXPECT_OK(mt_b64_decode_alloc("Zm9vYg==", 8, 4, &out, &n));
    assert_int_equal(n, 4);
    mt_free(out);
    out = NULL;
    EXPECT_ERR(mt_b64_decode_alloc("Zm9vYg==", 8, 3, &out, &n), MT_ERR_TOO_LARGE);
    EXPECT_ERR(mt_b64_decode_alloc("Zg==", 4, 0, &out, &n), MT_ERR_TOO_LARGE);
    /* empty input with max 0 is fine */
    EXPECT_OK(mt_b64_decode_alloc("", 0, 0, &out, &n));
    assert_int_equal(n, 0);
    mt_free(out);
}

static void
test_hex_strictness(void **state)
{
    uint8_t out[4], *p;
    size_t n;

    (void)state;
    EXPECT_OK(hex_try("00ff7F80"));
    EXPECT_OK(hex_try(""));
    /* odd length */
    EXPECT_ERR(hex_try("0"), MT_ERR_HEX);
    EXPECT_ERR(hex_try("abc"), MT_ERR_HEX);
    /* characters outside [0-9a-fA-F] */
    EXPECT_ERR(hex_try("0g"), MT_ERR_HEX);
    EXPECT_ERR(hex_try("G0"), MT_ERR_HEX);
    EXPECT_ERR(hex_try("0x12"), MT_ERR_HEX);
    EXPECT_ERR(hex_try("12 34"), MT_ERR_HEX);
    EXPECT_ERR(hex_try(" 1234 "), MT_ERR_HEX);
    EXPECT_ERR(hex_try("1234\n0"), MT_ERR_HEX);
    EXPECT_ERR(hex_try("-1"), MT_ERR_HEX);
    EXPECT_ERR(hex_try("+1"), MT_ERR_HEX);
    EXPECT_ERR(hex_try("\xc3\xa9"), MT_ERR_HEX);
    EXPECT_ERR(mt_hex_decode_alloc("1\0", 2, 4, &p, &n), MT_ERR_HEX);
    /* the bad character may be the last one */
    EXPECT_ERR(hex_try("0011223z"), MT_ERR_HEX);

    /* decode_exact wants exactly 2 * out_len digits */
    EXPECT_OK(mt_hex_decode_exact("deadbeef", 8, out, 4));
    assert_memory_equal(out, "\xde\xad\xbe\xef", 4);
    EXPECT_ERR(mt_hex_decode_exact("deadbeef", 8, out, 3), MT_ERR_HEX);
    EXPECT_ERR(mt_hex_decode_exact("deadbe", 6, out, 4), MT_ERR_HEX);
    EXPECT_ERR(mt_hex_decode_exact("deadbee", 7, out, 4), MT_ERR_HEX);
    EXPECT_ERR(mt_hex_decode_exact("deadbeefaa", 10, out, 4), MT_ERR_HEX);
    /* out-params are set only on success: nothing is written before a bad digit */
    memset(out, 0xEE, sizeof(out));
    EXPECT_ERR(mt_hex_decode_exact("deadbeeg", 8, out, 4), MT_ERR_HEX);
    EXPECT_ERR(mt_hex_decode_exact("0011223z", 8, out, 4), MT_ERR_HEX);
    EXPECT_ERR(mt_hex_decode_exact("00112233", 8, out, 3), MT_ERR_HEX);
    assert_memory_equal(out, "\xEE\xEE\xEE\xEE", 4);
    EXPECT_ERR(mt_hex_decode_exact(NULL, 0, out, 0), MT_ERR_HEX);
    EXPECT_OK(mt_hex_decode_exact("", 0, out, 0));
    /* an out_len whose double overflows size_t */
    EXPECT_ERR(mt_hex_decode_exact("00", 2, out, SIZE_MAX / 2 + 1), MT_ERR_HEX);
}

static void
test_hex_limits(void **state)
{
    uint8_t *out = NULL;
    size_t n = 0;

    (void)state;
    EXPECT_OK(mt_hex_decode_alloc("00112233", 8, 4, &out, &n));
    assert_int_equal(n, 4);
    mt_free(out);
    out = NULL;
    EXPECT_ERR(mt_hex_decode_alloc("00112233", 8, 3, &out, &n), MT_ERR_TOO_LARGE);
    assert_null(out);
    EXPECT_ERR(mt_hex_decode_alloc("00", 2, 0, &out, &n), MT_ERR_TOO_LARGE);
    /* odd length is reported as bad hex before the limit */
    EXPECT_ERR(mt_hex_decode_alloc("001", 3, 0, &out, &n), MT_ERR_HEX);
    EXPECT_OK(mt_hex_decode_alloc("", 0, 0, &out, &n));
    assert_int_equal(n, 0);
    mt_free(out);
}

static void
test_hex_encode(void **state)
{
    static const uint8_t all[4] = {0x00, 0x0f, 0xf0, 0xff};
    char buf[9], *s;

    (void)state;
    memset(buf, 'X', sizeof(buf));
    mt_hex_encode(all, 4, buf);
    assert_string_equal(buf, "000ff0ff");
    mt_hex_encode(all, 0, buf);
    assert_string_equal(buf, "");
    s = mt_hex_encode_alloc(all, 4);
    assert_non_null(s);
    assert_string_equal(s, "000ff0ff");
    mt_free(s);
    s = mt_hex_encode_alloc(all, 0);
    assert_non_null(s);
    assert_string_equal(s, "");
    mt_free(s);
}

/* Every length 0..200 (all three padding cases many times), random bytes. */
static void
test_round_trips(void **state)
{
    uint8_t data[200], *back, fixed[200];
    size_t len, i, n;
    char *b64, *hex;

    (void)state;
    for (len = 0; len <= sizeof(data); len++) {
        for (i = 0; i < len; i++)
            data[i] = rng_byte();

        b64 = mt_b64_encode_alloc(data, len);
        assert_non_null(b64);
        assert_int_equal(strlen(b64), (len + 2) / 3 * 4);
        back = NULL;
        EXPECT_OK(mt_b64_decode_alloc(b64, strlen(b64), len, &back, &n));
        assert_int_equal(n, len);
        if (len > 0)
            assert_memory_equal(back, data, len);
        mt_free(back);
        /* one symbol less than needed always fails the length check */
        if (len > 0)
            EXPECT_ERR(mt_b64_decode_alloc(b64, strlen(b64) - 1, len, &back, &n), MT_ERR_BASE64);
        mt_free(b64);

        hex = mt_hex_encode_alloc(data, len);
        assert_non_null(hex);
        assert_int_equal(strlen(hex), 2 * len);
        EXPECT_OK(mt_hex_decode_exact(hex, 2 * len, fixed, len));
        if (len > 0)
            assert_memory_equal(fixed, data, len);
        back = NULL;
        EXPECT_OK(mt_hex_decode_alloc(hex, 2 * len, len, &back, &n));
        assert_int_equal(n, len);
        if (len > 0)
            assert_memory_equal(back, data, len);
        mt_free(back);
        mt_free(hex);
    }
}

/* Every byte value through both codecs, and each single-bit change to a b64 string. */
static void
test_all_byte_values(void **state)
{
    uint8_t data[256], *back = NULL;
    size_t i, n;
    char *b64, *hex;

    (void)state;
    for (i = 0; i < 256; i++)
        data[i] = (uint8_t)i;
    b64 = mt_b64_encode_alloc(data, 256);
    hex = mt_hex_encode_alloc(data, 256);
    assert_non_null(b64);
    assert_non_null(hex);
    EXPECT_OK(mt_b64_decode_alloc(b64, strlen(b64), 256, &back, &n));
    assert_int_equal(n, 256);
    assert_memory_equal(back, data, 256);
    mt_free(back);
    back = NULL;
    EXPECT_OK(mt_hex_decode_alloc(hex, strlen(hex), 256, &back, &n));
    assert_memory_equal(back, data, 256);
    mt_free(back);

    /* every one of the 256 possible characters in position 0 of a b64 quad */
    for (i = 1; i < 256; i++) {
        char quad[5] = "AAAA";
        int ok = (i >= 'A' && i <= 'Z') || (i >= 'a' && i <= 'z') || (i >= '0' && i <= '9') ||
                 i == '+' || i == '/';

        quad[0] = (char)i;
        EXPECT_ERR(b64_try(quad), ok ? MT_OK : MT_ERR_BASE64);
    }
    mt_free(b64);
    mt_free(hex);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_b64_rfc4648_vectors), cmocka_unit_test(test_hex_rfc4648_vectors),
        cmocka_unit_test(test_b64_padding),         cmocka_unit_test(test_b64_bad_chars),
        cmocka_unit_test(test_b64_every_byte),      cmocka_unit_test(test_b64_limits),
        cmocka_unit_test(test_hex_strictness),      cmocka_unit_test(test_hex_limits),
        cmocka_unit_test(test_hex_encode),          cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_all_byte_values),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
