/*
 * util/mt_time: the strict RFC 3339 parser (UTC only, "Z" or "z", optional
 * ignored fraction, no leap second), its inverse mt_rfc3339_format over
 * 0000..9999, mt_days_from_civil, mt_tm_to_unix, the clocks and
 * mt_parse_int64 at the int64 boundaries.
 */
#include "mt_testlib.h"

#include <string.h>

#include "util/mt_time.h"

static mt_err
parse(const char *s, int64_t *t)
{
    return mt_rfc3339_parse(s, t);
}

/* Parse must succeed with exactly `want`. */
static void
parse_is(const char *s, int64_t want)
{
    int64_t t = 0;

    EXPECT_OK(parse(s, &t));
    if (t != want)
        fail_msg("%s: got %lld, want %lld", s, (long long)t, (long long)want);
}

/* Parse must fail with MT_ERR_TIME and leave *out alone. */
static void
parse_bad(const char *s)
{
    int64_t t = 12345;

    EXPECT_ERR(parse(s, &t), MT_ERR_TIME);
    if (t != 12345)
        fail_msg("%s: output changed on failure", s);
}

static void
test_parse_valid(void **state)
{
    (void)state;
    parse_is("1970-01-01T00:00:00Z", 0);
    parse_is("1969-12-31T23:59:59Z", -1);
    parse_is("2025-06-19T10:16:03Z", 1750328163);
    parse_is("2025-07-19T10:16:03Z", 1752920163);
    parse_is("2024-03-13T00:00:00Z", 1710288000);
    parse_is("2038-01-19T03:14:08Z", 2147483648);
    parse_is("2106-02-07T06:28:16Z", 4294967296);
    parse_is("9999-12-31T23:59:59Z", 253402300799);
    parse_is("0000-01-01T00:00:00Z", -62167219200);
    parse_is("2000-02-29T12:00:00Z", 11016 * 86400LL + 12 * 3600);
    parse_is("2024-12-31T23:59:59Z", 1735689599);
}

static void
test_parse_leap_days(void **state)
{
    (void)state;
    parse_is("2024-02-29T00:00:00Z", 19782 * 86400LL);
    parse_is("2000-02-29T00:00:00Z", 11016 * 86400LL);
    parse_bad("2025-02-29T00:00:00Z");
    parse_bad("1900-02-29T00:00:00Z"); /* divisible by 100, not by 400 */
    parse_bad("2100-02-29T00:00:00Z");
    parse_bad("2024-02-30T00:00:00Z");
    parse_is("2025-02-28T23:59:59Z", 1740787199);
}

static void
test_parse_ranges(void **state)
{
    (void)state;
    parse_bad("2025-07-19T23:59:60Z"); /* no leap seconds */
    parse_bad("2016-12-31T23:59:60Z"); /* not even on a real one */
    parse_bad("2025-07-19T24:00:00Z");
    parse_bad("2025-07-19T10:60:00Z");
    parse_bad("2025-07-19T10:00:61Z");
    parse_bad("2025-13-01T00:00:00Z");
    parse_bad("2025-00-01T00:00:00Z");
    parse_bad("2025-01-00T00:00:00Z");
    parse_bad("2025-01-32T00:00:00Z");
    parse_bad("2025-04-31T00:00:00Z");
    parse_bad("2025-06-31T00:00:00Z");
    parse_bad("2025-09-31T00:00:00Z");
    parse_bad("2025-11-31T00:00:00Z");
    parse_is("2025-12-31T00:00:00Z", 1767139200);
}

/* The documented rules: "Z" or "z", "T" or "t", a fraction is ignored, nothing else. */
static void
test_parse_syntax(void **state)
{
    (void)state;
    parse_is("2025-07-19t10:16:03z", 1752920163);
    parse_is("2025-07-19T10:16:03z", 1752920163);
    parse_is("2025-07-19T10:16:03.5Z", 1752920163);
    parse_is("2025-07-19T10:16:03.999999999Z", 1752920163);
    parse_is("2025-07-19T10:16:03.0z", 1752920163);
    parse_is("2025-07-19T23:59:59.999Z", 1752969599);

    /* offsets, even +00:00, are refused: Intel only uses Z */
    parse_bad("2025-07-19T10:16:03+00:00");
    parse_bad("2025-07-19T10:16:03-00:00");
    parse_bad("2025-07-19T12:16:03+02:00");
    parse_bad("2025-07-19T10:16:03.5+00:00");
    /* no zone at all */
    parse_bad("2025-07-19T10:16:03");
    /* fractions: a digit must follow the dot, only digits */
    parse_bad("2025-07-19T10:16:03.Z");
    parse_bad("2025-07-19T10:16:03.");
    parse_bad("2025-07-19T10:16:03,5Z");
    parse_bad("2025-07-19T10:16:03.5xZ");
    parse_bad("2025-07-19T10:16:03.-5Z");
    /* separators */
    parse_bad("2025-07-19 10:16:03Z");
    parse_bad("2025/07/19T10:16:03Z");
    parse_bad("2025-07-19T10-16-03Z");
    parse_bad("2025-07-19X10:16:03Z");
    /* digit positions hold digits only */
    parse_bad("+025-07-19T10:16:03Z");
    parse_bad("2025-7-19T10:16:03Z");
    parse_bad("2025-07-1aT10:16:03Z");
    parse_bad(" 025-07-19T10:16:03Z");
    parse_bad("2025-07-19T1 :16:03Z");
    parse_bad("12025-07-19T10:16:03Z");
    /* trailing or leading junk */
    parse_bad("2025-07-19T10:16:03ZZ");
    parse_bad("2025-07-19T10:16:03Z ");
    parse_bad(" 2025-07-19T10:16:03Z");
    parse_bad("2025-07-19T10:16:03Z\n");
    parse_bad("2025-07-19T10:16:03UTC");
    /* other shapes */
    parse_bad("2025-07-19");
    parse_bad("1752920163");
    parse_bad("");
}

/* Every prefix of a valid date is refused, and NULL is refused. */
static void
test_parse_truncated(void **state)
{
    static const char full[] = "2025-07-19T10:16:03.25Z";
    char buf[sizeof(full)];
    size_t n;
    int64_t t;

    (void)state;
    for (n = 0; n < sizeof(full) - 1; n++) {
        memcpy(buf, full, n);
        buf[n] = '\0';
        parse_bad(buf);
    }
    parse_is(full, 1752920163);
    EXPECT_ERR(parse(NULL, &t), MT_ERR_TIME);
}

static void
test_days_from_civil(void **state)
{
    (void)state;
    assert_int_equal(mt_days_from_civil(1970, 1, 1), 0);
    assert_int_equal(mt_days_from_civil(1969, 12, 31), -1);
    assert_int_equal(mt_days_from_civil(2000, 2, 29), 11016);
    assert_int_equal(mt_days_from_civil(2000, 3, 1), 11017);
    assert_int_equal(mt_days_from_civil(2024, 2, 29), 19782);
    assert_int_equal(mt_days_from_civil(2038, 1, 19), 24855);
    assert_int_equal(mt_days_from_civil(1600, 2, 29), -135081);
    assert_int_equal(mt_days_from_civil(1, 1, 1), -719162);
    assert_int_equal(mt_days_from_civil(0, 1, 1), -719528);
    assert_int_equal(mt_days_from_civil(9999, 12, 31), 2932896);
    /* consecutive days are consecutive numbers across month and year ends */
    assert_int_equal(mt_days_from_civil(2023, 3, 1) - mt_days_from_civil(2023, 2, 28), 1);
    assert_int_equal(mt_days_from_civil(2024, 3, 1) - mt_days_from_civil(2024, 2, 29), 1);
    assert_int_equal(mt_days_from_civil(2025, 1, 1) - mt_days_from_civil(2024, 12, 31), 1);
    assert_int_equal(mt_days_from_civil(2025, 1, 1) - mt_days_from_civil(2024, 1, 1), 366);
    assert_int_equal(mt_days_from_civil(2026, 1, 1) - mt_days_from_civil(2025, 1, 1), 365);
}

static void
test_tm_to_unix(void **state)
{
    struct tm tm;
    int64_t t = 99;

    (void)state;
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = 125;
    tm.tm_mon = 6;
    tm.tm_mday = 19;
    tm.tm_hour = 10;
    tm.tm_min = 16;
    tm.tm_sec = 3;
    EXPECT_OK(mt_tm_to_unix(&tm, &t));
    assert_int_equal(t, 1752920163);

    tm.tm_mon = 12;
    t = 99;
    EXPECT_ERR(mt_tm_to_unix(&tm, &t), MT_ERR_TIME);
    assert_int_equal(t, 99);
    tm.tm_mon = -1;
    EXPECT_ERR(mt_tm_to_unix(&tm, &t), MT_ERR_TIME);
    tm.tm_mon = 1;
    tm.tm_mday = 29; /* 2025-02-29 */
    EXPECT_ERR(mt_tm_to_unix(&tm, &t), MT_ERR_TIME);
    tm.tm_mday = 0;
    EXPECT_ERR(mt_tm_to_unix(&tm, &t), MT_ERR_TIME);
    tm.tm_mday = 1;
    tm.tm_hour = 24;
    EXPECT_ERR(mt_tm_to_unix(&tm, &t), MT_ERR_TIME);
    tm.tm_hour = -1;
    EXPECT_ERR(mt_tm_to_unix(&tm, &t), MT_ERR_TIME);
    tm.tm_hour = 0;
    tm.tm_min = 60;
    EXPECT_ERR(mt_tm_to_unix(&tm, &t), MT_ERR_TIME);
    tm.tm_min = 0;
    tm.tm_sec = 61;
    EXPECT_ERR(mt_tm_to_unix(&tm, &t), MT_ERR_TIME);
    assert_int_equal(t, 99);
}

static void
format_is(int64_t t, const char *want)
{
    char out[21];

    memset(out, 'X', sizeof(out));
    mt_rfc3339_format(t, out);
    assert_string_equal(out, want);
}

static void
test_format_known(void **state)
{
    (void)state;
    format_is(0, "1970-01-01T00:00:00Z");
    format_is(-1, "1969-12-31T23:59:59Z");
    format_is(-86400, "1969-12-31T00:00:00Z");
    format_is(-86401, "1969-12-30T23:59:59Z");
    format_is(1752920163, "2025-07-19T10:16:03Z");
    format_is(2147483647, "2038-01-19T03:14:07Z");
    format_is(2147483648, "2038-01-19T03:14:08Z");
    format_is(4294967296, "2106-02-07T06:28:16Z");
    format_is(19782 * 86400LL, "2024-02-29T00:00:00Z");
    format_is(253402300799, "9999-12-31T23:59:59Z");
    format_is(-62167219200, "0000-01-01T00:00:00Z");
    /* outside 0000..9999 the output says so instead of printing a bad date */
    format_is(253402300800, "out-of-range");
    format_is(-62167219201, "out-of-range");
    format_is(INT64_MAX, "out-of-range");
    format_is(INT64_MIN, "out-of-range");
}

/* parse(format(t)) == t over a sweep of 0000..9999 with odd steps. */
static void
test_format_parse_inverse(void **state)
{
    const int64_t lo = -62167219200, hi = 253402300799;
    char out[21];
    int64_t t, back, step = 86400LL * 97 + 3607; /* about 97 days, odd seconds */
    size_t n = 0;

    (void)state;
    for (t = lo; t <= hi; t += step) {
        mt_rfc3339_format(t, out);
        EXPECT_OK(parse(out, &back));
        if (back != t)
            fail_msg("%lld -> %s -> %lld", (long long)t, out, (long long)back);
        n++;
    }
    assert_true(n > 30000);
    /* every second of a day around the epoch and of a leap day */
    for (t = -43200; t < 43200; t += 1) {
        mt_rfc3339_format(t, out);
        EXPECT_OK(parse(out, &back));
        assert_true(back == t);
    }
    for (t = 19782 * 86400LL - 5; t < 19783 * 86400LL + 5; t += 7) {
        mt_rfc3339_format(t, out);
        EXPECT_OK(parse(out, &back));
        assert_true(back == t);
    }
    mt_rfc3339_format(hi, out);
    EXPECT_OK(parse(out, &back));
    assert_true(back == hi);
}

static void
test_clocks(void **state)
{
    int64_t fixed = 1752919234;
    struct mt_clock c = mt_clock_fixed(&fixed), sys = mt_clock_system();
    uint64_t m1, m2;

    (void)state;
    assert_int_equal(mt_clock_now(&c), 1752919234);
    fixed = 42; /* the clock reads through the pointer */
    assert_int_equal(mt_clock_now(&c), 42);
    assert_true(mt_clock_now(&sys) > 1700000000);
    m1 = mt_monotonic_us();
    m2 = mt_monotonic_us();
    assert_true(m2 >= m1);
}

static void
int_is(const char *s, int64_t want)
{
    int64_t v = 0;

    EXPECT_OK(mt_parse_int64(s, &v));
    if (v != want)
        fail_msg("%s: got %lld, want %lld", s, (long long)v, (long long)want);
}

static void
int_bad(const char *s)
{
    int64_t v = 777;

    EXPECT_ERR(mt_parse_int64(s, &v), MT_ERR_ARG);
    if (v != 777)
        fail_msg("%s: output changed on failure", s == NULL ? "(null)" : s);
}

static void
test_parse_int64(void **state)
{
    (void)state;
    int_is("0", 0);
    int_is("-0", 0);
    int_is("7", 7);
    int_is("-7", -7);
    int_is("007", 7);
    int_is("1752919234", 1752919234);
    int_is("-1752919234", -1752919234);
    int_is("9223372036854775807", INT64_MAX);
    int_is("9223372036854775806", INT64_MAX - 1);
    int_is("-9223372036854775808", INT64_MIN);
    int_is("-9223372036854775807", INT64_MIN + 1);
    int_is("00000000000000000000009223372036854775807", INT64_MAX);

    /* one past each end, and far past */
    int_bad("9223372036854775808");
    int_bad("9223372036854775809");
    int_bad("9223372036854775810");
    int_bad("-9223372036854775809");
    int_bad("-9223372036854775810");
    int_bad("92233720368547758070");
    int_bad("18446744073709551615");
    int_bad("18446744073709551616");
    int_bad("-18446744073709551616");
    int_bad("99999999999999999999999999999");

    /* signs, empty, spaces, other characters */
    int_bad(NULL);
    int_bad("");
    int_bad("-");
    int_bad("+");
    int_bad("+5");
    int_bad("--5");
    int_bad("-+5");
    int_bad(" 5");
    int_bad("5 ");
    int_bad("- 5");
    int_bad("\t5");
    int_bad("5\n");
    int_bad("1e3");
    int_bad("0x10");
    int_bad("1.5");
    int_bad("1,000");
    int_bad("5-");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_valid),          cmocka_unit_test(test_parse_leap_days),
        cmocka_unit_test(test_parse_ranges),         cmocka_unit_test(test_parse_syntax),
        cmocka_unit_test(test_parse_truncated),      cmocka_unit_test(test_days_from_civil),
        cmocka_unit_test(test_tm_to_unix),           cmocka_unit_test(test_format_known),
        cmocka_unit_test(test_format_parse_inverse), cmocka_unit_test(test_clocks),
        cmocka_unit_test(test_parse_int64),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
