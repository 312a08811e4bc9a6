/*
 * util/mt_json_yajl: the yajl-driven parser must build exactly the tree
 * json_loadb(JSON_REJECT_DUPLICATES) builds, and refuse exactly what it
 * refuses, for escape-free text; mt_json_parse sends text with a backslash
 * to jansson.  fuzz/fuzz_json_parity checks the same on arbitrary input.
 */
#include "mt_testlib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/mt_alloc.h"
#include "util/mt_json.h"
#include "util/mt_json_yajl.h"

/* Both parsers on text[0..len); returns 1 when they accepted, 0 when both refused. */
static int
agree_n(const char *text, size_t len)
{
    json_error_t jerr;
    json_t *want = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr), *got = NULL;
    mt_err e = mt_json_parse_yajl(text, len, &got);

    if (want == NULL) {
        if (e != MT_ERR_JSON)
            fail_msg("jansson refused (%s) but yajl path gave %s for: %.80s", jerr.text,
                     mt_err_code(e), text);
        assert_null(got);
        return 0;
    }
    if (e != MT_OK)
        fail_msg("jansson accepted but yajl path gave %s for: %.80s", mt_err_code(e), text);
    assert_true(json_equal(want, got));
    json_decref(want);
    json_decref(got);
    return 1;
}

static int
agree(const char *text)
{
    return agree_n(text, strlen(text));
}

static void
test_accepts_like_jansson(void **state)
{
    static const char *const ok[] = {
        "{}",
        "[]",
        " \t\r\n{ \"a\" : 1 } \n",
        "{\"challengeId\":\"00ff\",\"nested\":{\"x\":[1,2.5,-0,1e3,true,false,null,\"s\"]}}",
        "[{\"a\":{}},[[]],\"\"]",
        "{\"\":0}",
        "{\"k\":-9223372036854775808,\"m\":9223372036854775807}",
        "{\"tiny\":1e-400,\"neg\":-1E+2,\"frac\":0.000001}",
        "{\"utf8\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x91\",\"\xc3\xa9\":1}",
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        assert_int_equal(agree(ok[i]), 1);
}

static void
test_refuses_like_jansson(void **state)
{
    static const char *const bad[] = {
        "",
        "   ",
        "1",
        "\"top-level string\"",
        "null",
        "{\"a\":1,\"a\":2}",            /* duplicate key */
        "{\"o\":{\"b\":1,\"b\":1}}",    /* duplicate key, nested */
        "{\"a\":1} x",                  /* trailing garbage */
        "{\"a\":1}{}",                  /* two values */
        "{/*c*/\"a\":1}",               /* comment */
        "{\"a\":01}",                   /* leading zero */
        "{\"a\":1.}",                   /* bad fraction */
        "{\"a\":+1}",                   /* plus sign */
        "{\"a\":9223372036854775808}",  /* integer overflow */
        "{\"a\":-9223372036854775809}", /* integer overflow */
        "{\"a\":1e400}",                /* real overflow */
        "{\"a\":NaN}",                  /* not JSON */
        "{\"a\":\"\xc0\x80\"}",         /* overlong NUL */
        "{\"a\":\"\xed\xa0\x80\"}",     /* encoded surrogate */
        "{\"a\":\"\xf4\x90\x80\x80\"}", /* above U+10FFFF */
        "{\"a\":\"\xe2\x82\"}",         /* truncated sequence */
        "{\"\xed\xa0\x80\":1}",         /* encoded surrogate in a key */
        "{\"a\":\"tab\there\"}",        /* raw control character */
        "{\"a\":[1,]}",                 /* trailing comma */
        "{\"a\" 1}",                    /* missing colon */
        "{\"a\":1",                     /* unterminated */
        "\xef\xbb\xbf{}",               /* byte order mark */
        "{\"a\":\v1}",                  /* \v is not JSON white space (yajl takes it) */
        "[\f]",                         /* nor is \f */
        "{\"a\":\"\v\"}",               /* raw control character in a string */
        "[]\"]]",                       /* unterminated string after the value */
        "{} \"",                        /* the same, shortest */
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(agree(bad[i]), 0);
    /* A NUL byte inside and after the text. */
    assert_int_equal(agree_n("{\"a\":\"x\0y\"}", 11), 0);
    assert_int_equal(agree_n("{}\0", 3), 0);
}

/*
 * A NUL byte is never JSON; jansson skips one after a number or a literal
 * (a lexer quirk).  Both paths of mt_json_parse refuse it.
 */
static void
test_nul_refused(void **state)
{
    static const struct {
        const char *t;
        size_t n;
    } cases[] = {{"[1\0]", 4}, {"[null\0 ]\t", 9}, {"[\"\\n\",1\0]", 9}};
    json_error_t jerr;
    json_t *j = NULL;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(mt_json_parse(cases[i].t, cases[i].n, 1024, &j), MT_ERR_JSON);
        assert_int_equal(mt_json_parse_yajl(cases[i].t, cases[i].n, &j), MT_ERR_JSON);
        assert_null(j);
    }
    /* The quirk this guards against, so the test notices a jansson that fixes it. */
    j = json_loadb("[1\0]", 4, JSON_REJECT_DUPLICATES, &jerr);
    assert_non_null(j);
    json_decref(j);
}

/* jansson counts every value against JSON_PARSER_MAX_DEPTH (2048), scalars included. */
static void
test_depth_limit(void **state)
{
    char *t = mt_malloc(2 * 2049 + 8);
    size_t i, n;

    (void)state;
    assert_non_null(t);
    for (n = 2047; n <= 2049; n++) {
        for (i = 0; i < n; i++)
            t[i] = '[';
        for (i = 0; i < n; i++)
            t[n + i] = ']';
        t[2 * n] = '\0';
        assert_int_equal(agree(t), n <= 2048);
        /* One scalar inside: one level deeper. */
        memmove(t + n + 1, t + n, n + 1);
        t[n] = '1';
        assert_int_equal(agree(t), n + 1 <= 2048);
    }
    mt_free(t);
}

/* A /get-key-sized body: the case the fast path is for. */
static void
test_large_string(void **state)
{
    size_t n = 60000, i;
    char *t = mt_malloc(n + 64);

    (void)state;
    assert_non_null(t);
    memcpy(t, "{\"quoteB64\":\"", 13);
    for (i = 0; i < n; i++)
        t[13 + i] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef0123456789+/"[i % 44];
    memcpy(t + 13 + n, "\",\"x\":1}", 9);
    assert_int_equal(agree(t), 1);
    t[13 + n / 2] = (char)0xff; /* one invalid byte in the middle */
    assert_int_equal(agree(t), 0);
    t[13 + n / 2] = (char)0xc3; /* a valid two-byte sequence needs its second byte */
    t[13 + n / 2 + 1] = (char)0xa9;
    assert_int_equal(agree(t), 1);
    mt_free(t);
}

/* Text with a backslash goes to jansson: a lone surrogate escape stays refused. */
static void
test_dispatch_escapes(void **state)
{
    json_t *j = NULL;

    (void)state;
    assert_int_equal(mt_json_parse("{\"a\":\"\\ud800\"}", 14, 1024, &j), MT_ERR_JSON);
    assert_int_equal(mt_json_parse("{\"a\":\"\\u0000\"}", 14, 1024, &j), MT_ERR_JSON);
    assert_int_equal(mt_json_parse("{\"a\":\"\\n\\u00e9\"}", 16, 1024, &j), MT_OK);
    assert_string_equal(json_string_value(json_object_get(j, "a")), "\n\xc3\xa9");
    json_decref(j);
    j = NULL;
    assert_int_equal(mt_json_parse("", 0, 1024, &j), MT_ERR_JSON);
    assert_int_equal(mt_json_parse("{}", 2, 1, &j), MT_ERR_TOO_LARGE);
    assert_null(j);
}

/* Every allocation of the builder's own can fail: NOMEM, no leak. */
static void
test_nomem(void **state)
{
    static const char text[] = "{\"a\":[{\"b\":[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]}],"
                               "\"long-key-long-key-long-key-long-key-long-key-long-key-long-key\":"
                               "123456789012345678901234567890123456789012345678901234567890123456"
                               "78901234567890.5}";
    unsigned long nth;
    json_t *j;
    mt_err e;

    (void)state;
    for (nth = 1;; nth++) {
        j = NULL;
        mt_alloc_fail_at(nth);
        e = mt_json_parse_yajl(text, sizeof(text) - 1, &j);
        mt_alloc_fail_at(0);
        if (e == MT_OK)
            break;
        if (e != MT_ERR_NOMEM)
            fail_msg("allocation %lu failed: %s", nth, mt_err_code(e));
        assert_null(j);
        assert_true(nth < 100);
    }
    assert_true(nth > 1); /* the sweep did reach a failure */
    json_decref(j);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepts_like_jansson), cmocka_unit_test(test_refuses_like_jansson),
        cmocka_unit_test(test_depth_limit),          cmocka_unit_test(test_large_string),
        cmocka_unit_test(test_dispatch_escapes),     cmocka_unit_test(test_nomem),
        cmocka_unit_test(test_nul_refused),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
