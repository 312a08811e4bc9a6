/*
 * mt_cursor (STYLE.md section 4 item 3): every reader at the exact end, one
 * byte short and with zero length; borrow, sub and skip; a failed read
 * leaves the cursor where it was; the load helpers are little-endian.
 */
#include "mt_testlib.h"

#include <string.h>

#include "util/mt_cursor.h"

static const uint8_t bytes[8] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x88};

/* The cursor is exactly (p, len, pos). */
static void
expect_at(const struct mt_cursor *c, const uint8_t *p, size_t len, size_t pos)
{
    assert_ptr_equal(c->p, p);
    assert_int_equal(c->len, len);
    assert_int_equal(c->pos, pos);
    assert_int_equal(mt_cursor_remaining(c), len - pos);
    assert_int_equal(mt_cursor_empty(c), len == pos);
}

static void
test_init(void **state)
{
    struct mt_cursor c;

    (void)state;
    mt_cursor_init(&c, bytes, sizeof(bytes));
    expect_at(&c, bytes, 8, 0);
    assert_false(mt_cursor_empty(&c));

    /* a NULL buffer is an empty cursor whatever length is claimed */
    mt_cursor_init(&c, NULL, 100);
    expect_at(&c, NULL, 0, 0);
    assert_true(mt_cursor_empty(&c));

    mt_cursor_init(&c, bytes, 0);
    expect_at(&c, bytes, 0, 0);
    assert_true(mt_cursor_empty(&c));
}

/* Each fixed-size reader: succeeds with exactly n bytes, fails one short. */
static void
test_u8_exact_and_short(void **state)
{
    struct mt_cursor c;
    uint8_t v = 0xEE;

    (void)state;
    mt_cursor_init(&c, bytes, 1);
    EXPECT_OK(mt_cursor_u8(&c, &v));
    assert_int_equal(v, 0x01);
    expect_at(&c, bytes, 1, 1);
    v = 0xEE;
    EXPECT_ERR(mt_cursor_u8(&c, &v), MT_ERR_TRUNCATED);
    assert_int_equal(v, 0xEE);
    expect_at(&c, bytes, 1, 1);

    mt_cursor_init(&c, bytes, 0);
    EXPECT_ERR(mt_cursor_u8(&c, &v), MT_ERR_TRUNCATED);
    expect_at(&c, bytes, 0, 0);
}

static void
test_u16_exact_and_short(void **state)
{
    struct mt_cursor c;
    uint16_t v = 0xEEEE;

    (void)state;
    mt_cursor_init(&c, bytes, 2);
    EXPECT_OK(mt_cursor_u16le(&c, &v));
    assert_int_equal(v, 0x0201);
    expect_at(&c, bytes, 2, 2);

    mt_cursor_init(&c, bytes, 1);
    v = 0xEEEE;
    EXPECT_ERR(mt_cursor_u16le(&c, &v), MT_ERR_TRUNCATED);
    assert_int_equal(v, 0xEEEE);
    expect_at(&c, bytes, 1, 0);

    /* one byte consumed, one left: still short */
    mt_cursor_init(&c, bytes, 2);
    EXPECT_OK(mt_cursor_skip(&c, 1));
    EXPECT_ERR(mt_cursor_u16le(&c, &v), MT_ERR_TRUNCATED);
    expect_at(&c, bytes, 2, 1);
}

static void
test_u32_exact_and_short(void **state)
{
    struct mt_cursor c;
    uint32_t v = 0xEEEEEEEEu;

    (void)state;
    mt_cursor_init(&c, bytes, 4);
    EXPECT_OK(mt_cursor_u32le(&c, &v));
    assert_int_equal(v, 0x04030201u);
    expect_at(&c, bytes, 4, 4);

    mt_cursor_init(&c, bytes, 3);
    v = 0xEEEEEEEEu;
    EXPECT_ERR(mt_cursor_u32le(&c, &v), MT_ERR_TRUNCATED);
    assert_int_equal(v, 0xEEEEEEEEu);
    expect_at(&c, bytes, 3, 0);

    /* the last 4 of 8 bytes, then nothing */
    mt_cursor_init(&c, bytes, 8);
    EXPECT_OK(mt_cursor_skip(&c, 4));
    EXPECT_OK(mt_cursor_u32le(&c, &v));
    assert_int_equal(v, 0x88070605u);
    EXPECT_ERR(mt_cursor_u32le(&c, &v), MT_ERR_TRUNCATED);
    assert_int_equal(v, 0x88070605u);
    expect_at(&c, bytes, 8, 8);
}

static void
test_u64_exact_and_short(void **state)
{
    struct mt_cursor c;
    uint64_t v = 0xEEEEEEEEEEEEEEEEull;

    (void)state;
    mt_cursor_init(&c, bytes, 8);
    EXPECT_OK(mt_cursor_u64le(&c, &v));
    assert_true(v == 0x8807060504030201ull);
    expect_at(&c, bytes, 8, 8);

    mt_cursor_init(&c, bytes, 7);
    v = 0xEEEEEEEEEEEEEEEEull;
    EXPECT_ERR(mt_cursor_u64le(&c, &v), MT_ERR_TRUNCATED);
    assert_true(v == 0xEEEEEEEEEEEEEEEEull);
    expect_at(&c, bytes, 7, 0);

    /* 8 bytes but one already consumed */
    mt_cursor_init(&c, bytes, 8);
    EXPECT_OK(mt_cursor_skip(&c, 1));
    EXPECT_ERR(mt_cursor_u64le(&c, &v), MT_ERR_TRUNCATED);
    expect_at(&c, bytes, 8, 1);
}

static void
test_copy(void **state)
{
    struct mt_cursor c;
    uint8_t out[8];

    (void)state;
    mt_cursor_init(&c, bytes, 8);
    memset(out, 0xEE, sizeof(out));
    EXPECT_OK(mt_cursor_copy(&c, out, 3));
    assert_memory_equal(out, bytes, 3);
    assert_int_equal(out[3], 0xEE);
    expect_at(&c, bytes, 8, 3);

    /* exactly the rest */
    EXPECT_OK(mt_cursor_copy(&c, out, 5));
    assert_memory_equal(out, bytes + 3, 5);
    expect_at(&c, bytes, 8, 8);

    /* zero bytes at the end succeed and may pass NULL */
    EXPECT_OK(mt_cursor_copy(&c, NULL, 0));
    expect_at(&c, bytes, 8, 8);

    /* one short: nothing copied, nothing moved */
    mt_cursor_init(&c, bytes, 8);
    EXPECT_OK(mt_cursor_skip(&c, 2));
    memset(out, 0xEE, sizeof(out));
    EXPECT_ERR(mt_cursor_copy(&c, out, 7), MT_ERR_TRUNCATED);
    assert_int_equal(out[0], 0xEE);
    expect_at(&c, bytes, 8, 2);
}

static void
test_borrow(void **state)
{
    struct mt_cursor c;
    const uint8_t *p = NULL, *sentinel = (const uint8_t *)"x";

    (void)state;
    mt_cursor_init(&c, bytes, 8);
    EXPECT_OK(mt_cursor_borrow(&c, 3, &p));
    assert_ptr_equal(p, bytes);
    EXPECT_OK(mt_cursor_borrow(&c, 0, &p));
    assert_ptr_equal(p, bytes + 3);
    expect_at(&c, bytes, 8, 3);
    EXPECT_OK(mt_cursor_borrow(&c, 5, &p));
    assert_ptr_equal(p, bytes + 3);
    expect_at(&c, bytes, 8, 8);

    /* zero-length borrow at the very end points one past the bytes */
    EXPECT_OK(mt_cursor_borrow(&c, 0, &p));
    assert_ptr_equal(p, bytes + 8);

    /* one byte short, and absurd sizes: out and cursor untouched */
    p = sentinel;
    EXPECT_ERR(mt_cursor_borrow(&c, 1, &p), MT_ERR_TRUNCATED);
    assert_ptr_equal(p, sentinel);
    mt_cursor_init(&c, bytes, 8);
    EXPECT_ERR(mt_cursor_borrow(&c, 9, &p), MT_ERR_TRUNCATED);
    EXPECT_ERR(mt_cursor_borrow(&c, SIZE_MAX, &p), MT_ERR_TRUNCATED);
    assert_ptr_equal(p, sentinel);
    expect_at(&c, bytes, 8, 0);
}

static void
test_skip(void **state)
{
    struct mt_cursor c;

    (void)state;
    mt_cursor_init(&c, bytes, 8);
    EXPECT_OK(mt_cursor_skip(&c, 0));
    expect_at(&c, bytes, 8, 0);
    EXPECT_OK(mt_cursor_skip(&c, 7));
    EXPECT_ERR(mt_cursor_skip(&c, 2), MT_ERR_TRUNCATED);
    expect_at(&c, bytes, 8, 7);
    EXPECT_ERR(mt_cursor_skip(&c, SIZE_MAX), MT_ERR_TRUNCATED);
    expect_at(&c, bytes, 8, 7);
    EXPECT_OK(mt_cursor_skip(&c, 1));
    expect_at(&c, bytes, 8, 8);
    EXPECT_OK(mt_cursor_skip(&c, 0));
    EXPECT_ERR(mt_cursor_skip(&c, 1), MT_ERR_TRUNCATED);
    expect_at(&c, bytes, 8, 8);
}

static void
test_sub(void **state)
{
    struct mt_cursor c, sub, before;
    uint16_t v16;
    uint8_t v8;

    (void)state;
    mt_cursor_init(&c, bytes, 8);
    EXPECT_OK(mt_cursor_skip(&c, 1));
    EXPECT_OK(mt_cursor_sub(&c, 3, &sub));
    /* the parent moved past the sub-range; the sub-cursor starts at 0 */
    expect_at(&c, bytes, 8, 4);
    expect_at(&sub, bytes + 1, 3, 0);

    /* the sub-cursor cannot read past its own end, even with parent bytes left */
    EXPECT_OK(mt_cursor_u16le(&sub, &v16));
    assert_int_equal(v16, 0x0302);
    EXPECT_ERR(mt_cursor_u16le(&sub, &v16), MT_ERR_TRUNCATED);
    EXPECT_OK(mt_cursor_u8(&sub, &v8));
    assert_int_equal(v8, 0x04);
    assert_true(mt_cursor_empty(&sub));
    /* ... and reading it never moved the parent */
    expect_at(&c, bytes, 8, 4);

    /* zero-length sub at the end is an empty cursor */
    EXPECT_OK(mt_cursor_skip(&c, 4));
    EXPECT_OK(mt_cursor_sub(&c, 0, &sub));
    assert_true(mt_cursor_empty(&sub));
    expect_at(&c, bytes, 8, 8);

    /* too long: parent unmoved, sub untouched */
    mt_cursor_init(&c, bytes, 8);
    EXPECT_OK(mt_cursor_skip(&c, 5));
    memset(&sub, 0x5A, sizeof(sub));
    memcpy(&before, &sub, sizeof(sub));
    EXPECT_ERR(mt_cursor_sub(&c, 4, &sub), MT_ERR_TRUNCATED);
    assert_memory_equal(&sub, &before, sizeof(sub));
    expect_at(&c, bytes, 8, 5);
    EXPECT_OK(mt_cursor_sub(&c, 3, &sub));
    expect_at(&sub, bytes + 5, 3, 0);
}

/* Every failing reader on a 3-byte remainder leaves the cursor exactly as it was. */
static void
test_failed_reads_do_not_move(void **state)
{
    struct mt_cursor c, sub, before;
    const uint8_t *p;
    uint8_t buf[8];
    uint32_t v32;
    uint64_t v64;

    (void)state;
    mt_cursor_init(&c, bytes, 8);
    EXPECT_OK(mt_cursor_skip(&c, 5));
    before = c;
    EXPECT_ERR(mt_cursor_u32le(&c, &v32), MT_ERR_TRUNCATED);
    EXPECT_ERR(mt_cursor_u64le(&c, &v64), MT_ERR_TRUNCATED);
    EXPECT_ERR(mt_cursor_copy(&c, buf, 4), MT_ERR_TRUNCATED);
    EXPECT_ERR(mt_cursor_borrow(&c, 4, &p), MT_ERR_TRUNCATED);
    EXPECT_ERR(mt_cursor_skip(&c, 4), MT_ERR_TRUNCATED);
    EXPECT_ERR(mt_cursor_sub(&c, 4, &sub), MT_ERR_TRUNCATED);
    assert_memory_equal(&c, &before, sizeof(c));
    /* and the bytes that remain are still readable */
    EXPECT_OK(mt_cursor_copy(&c, buf, 3));
    assert_memory_equal(buf, bytes + 5, 3);
}

/* A header-like record read field by field: mixed widths, little-endian. */
static void
test_mixed_sequence(void **state)
{
    static const uint8_t rec[] = {0x05, 0x00, 0x06, 0x00, 0x81, 0x00, 0x00, 0x00,
                                  0xff, 0xff, 0x7f, 0xde, 0xad, 0xbe, 0xef};
    struct mt_cursor c;
    uint16_t ver, kt;
    uint32_t tee;
    uint8_t a;
    const uint8_t *rest;

    (void)state;
    mt_cursor_init(&c, rec, sizeof(rec));
    EXPECT_OK(mt_cursor_u16le(&c, &ver));
    EXPECT_OK(mt_cursor_u16le(&c, &kt));
    EXPECT_OK(mt_cursor_u32le(&c, &tee));
    assert_int_equal(ver, 5);
    assert_int_equal(kt, 6);
    assert_int_equal(tee, 0x81);
    EXPECT_OK(mt_cursor_u16le(&c, &kt));
    assert_int_equal(kt, 0xffff);
    EXPECT_OK(mt_cursor_u8(&c, &a));
    assert_int_equal(a, 0x7f);
    EXPECT_OK(mt_cursor_borrow(&c, mt_cursor_remaining(&c), &rest));
    assert_memory_equal(rest, "\xde\xad\xbe\xef", 4);
    assert_true(mt_cursor_empty(&c));
}

static void
test_load_endianness(void **state)
{
    static const uint8_t hi[8] = {0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0xfa, 0xf9, 0x80};

    (void)state;
    assert_int_equal(mt_load_u16le(bytes), 0x0201);
    assert_int_equal(mt_load_u32le(bytes), 0x04030201u);
    assert_true(mt_load_u64le(bytes) == 0x8807060504030201ull);
    /* high bits do not sign-extend or get lost */
    assert_int_equal(mt_load_u16le(hi), 0xfeff);
    assert_int_equal(mt_load_u32le(hi), 0xfcfdfeffu);
    assert_true(mt_load_u64le(hi) == 0x80f9fafbfcfdfeffull);
    assert_int_equal(mt_load_u16le(hi + 6), 0x80f9);
    assert_int_equal(mt_load_u32le(hi + 4), 0x80f9fafbu);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init),
        cmocka_unit_test(test_u8_exact_and_short),
        cmocka_unit_test(test_u16_exact_and_short),
        cmocka_unit_test(test_u32_exact_and_short),
        cmocka_unit_test(test_u64_exact_and_short),
        cmocka_unit_test(test_copy),
        cmocka_unit_test(test_borrow),
        cmocka_unit_test(test_skip),
        cmocka_unit_test(test_sub),
        cmocka_unit_test(test_failed_reads_do_not_move),
        cmocka_unit_test(test_mixed_sequence),
        cmocka_unit_test(test_load_endianness),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
