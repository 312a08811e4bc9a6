#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "util/mt_alloc.h"
#include "util/mt_json_dump.h"

#include "mt_testlib.h"

/*
 * mt_json_dumps against json_dumps(JSON_COMPACT | flags): every escape,
 * code points in all UTF-8 lengths with and without JSON_ENSURE_ASCII,
 * NUL inside strings, integers at their limits, reals, insertion order,
 * the depth limit, refused arguments, allocation failures, and random
 * trees.  (fuzz_json_parity compares the two on every parsed input too.)
 */

static const size_t flag_sets[] = {0, JSON_ENSURE_ASCII};

/* Both ways, for both flag sets: the same bytes and length. */
static void
expect_same(const json_t *v)
{
    size_t i, len;
    char *want, *got;

    for (i = 0; i < 2; i++) {
        want = json_dumps(v, JSON_COMPACT | flag_sets[i]);
        assert_non_null(want);
        EXPECT_OK(mt_json_dumps(v, flag_sets[i], &got, &len));
        if (strcmp(want, got) != 0)
            print_error("flags %zu:\n want %s\n got  %s\n", flag_sets[i], want, got);
        assert_string_equal(got, want);
        assert_int_equal(len, strlen(want));
        mt_free(got);
        free(want);
    }
}

static void
test_scalars_and_nesting(void **state)
{
    json_t *v;

    (void)state;
    v = json_pack("{s:i,s:I,s:I,s:b,s:b,s:n,s:f,s:f,s:f,s:f,s:[],s:{},s:[i,[{}],{s:[s]}]}", "zero",
                  0, "max", (json_int_t)INT64_MAX, "min", (json_int_t)INT64_MIN, "t", 1, "f", 0,
                  "null", "half", 1.5, "big", 1e300, "neg0", -0.0, "three", 3.0, "empty_a",
                  "empty_o", "mix", -7, "k", "v");
    assert_non_null(v);
    expect_same(v);
    json_decref(v);
    v = json_array();
    expect_same(v);
    json_decref(v);
    v = json_object();
    expect_same(v);
    json_decref(v);
}

static void
test_escapes(void **state)
{
    static const char nul_inside[] = {'a', '\0', 'b'};
    char all_controls[64];
    json_t *v;
    int i;

    (void)state;
    for (i = 0; i < 0x20; i++)
        all_controls[i] = (char)(i + 1 == 0x20 ? 0x7f : i + 1);
    all_controls[31] = '\0';
    v = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s#}", "quote\"key\\", "a\"b\\c/d", "controls",
                  all_controls, "two", "caf\xc3\xa9", "three", "\xe2\x82\xac and \xef\xbf\xbf",
                  "four", "\xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf", "\xc3\xa9t\xc3\xa9", "key non-ASCII",
                  "nul", nul_inside, sizeof(nul_inside));
    assert_non_null(v);
    expect_same(v);
    json_decref(v);
}

static void
test_insertion_order(void **state)
{
    json_t *v = json_object();

    (void)state;
    assert_int_equal(json_object_set_new(v, "zeta", json_integer(1)), 0);
    assert_int_equal(json_object_set_new(v, "alpha", json_integer(2)), 0);
    assert_int_equal(json_object_set_new(v, "mid", json_integer(3)), 0);
    assert_int_equal(json_object_del(v, "alpha"), 0);
    assert_int_equal(json_object_set_new(v, "alpha", json_integer(4)), 0);
    assert_int_equal(json_object_set_new(v, "zeta", json_integer(5)), 0); /* replaced in place */
    expect_same(v);
    json_decref(v);
}

/* MT_JSON_DUMP_MAX_DEPTH levels are dumped as jansson does; one more is refused. */
static void
test_depth(void **state)
{
    json_t *root = json_array(), *cur = root, *next;
    char *got = NULL;
    int i;

    (void)state;
    for (i = 1; i < MT_JSON_DUMP_MAX_DEPTH; i++) {
        next = json_array();
        assert_int_equal(json_array_append_new(cur, next), 0);
        cur = next;
    }
    expect_same(root);
    assert_int_equal(json_array_append_new(cur, json_array()), 0);
    EXPECT_ERR(mt_json_dumps(root, 0, &got, NULL), MT_ERR_TOO_LARGE);
    assert_null(got);
    json_decref(root);
}

static void
test_refused(void **state)
{
    json_t *s = json_string("x"), *o = json_object();
    char *got = (char *)"untouched";

    (void)state;
    EXPECT_ERR(mt_json_dumps(s, 0, &got, NULL), MT_ERR_ARG);
    assert_null(got);
    EXPECT_ERR(mt_json_dumps(NULL, 0, &got, NULL), MT_ERR_ARG);
    EXPECT_ERR(mt_json_dumps(o, JSON_SORT_KEYS, &got, NULL), MT_ERR_ARG);
    EXPECT_ERR(mt_json_dumps(o, JSON_INDENT(2), &got, NULL), MT_ERR_ARG);
    EXPECT_ERR(mt_json_dumps(o, 0, NULL, NULL), MT_ERR_ARG);
    /* JSON_PRESERVE_ORDER is a no-op (insertion order), as in jansson >= 2.8. */
    EXPECT_OK(mt_json_dumps(o, JSON_PRESERVE_ORDER, &got, NULL));
    assert_string_equal(got, "{}");
    mt_free(got);
    json_decref(s);
    json_decref(o);
}

static void
test_out_of_memory(void **state)
{
    json_t *v = json_pack("{s:s,s:[i,i]}", "a", "b", "c", 1, 2);
    unsigned long n;
    char *got;
    mt_err e;

    (void)state;
    for (n = 1; n < 10; n++) {
        got = NULL;
        mt_alloc_fail_at(n);
        e = mt_json_dumps(v, 0, &got, NULL);
        mt_alloc_fail_at(0);
        if (e == MT_OK) {
            assert_string_equal(got, "{\"a\":\"b\",\"c\":[1,2]}");
            mt_free(got);
            break;
        }
        EXPECT_ERR(e, MT_ERR_NOMEM);
        assert_null(got);
    }
    assert_true(n > 1 && n < 10);
    json_decref(v);
}

/* Random trees (a fixed seed): strings drawn from bytes that exercise every branch. */
static uint32_t rng = 12345;

static uint32_t
next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

static json_t *
random_string(void)
{
    static const char *const pieces[] = {"a",
                                         "\"",
                                         "\\",
                                         "/",
                                         "\n",
                                         "\x01",
                                         "\x1f",
                                         "\x7f",
                                         "\xc3\xa9",
                                         "\xe2\x82\xac",
                                         "\xf0\x9f\x98\x80",
                                         " "};
    char buf[64];
    size_t n = next_rand() % 8, i, used = 0, k;
    const char *piece;

    for (i = 0; i < n; i++) {
        piece = pieces[next_rand() % (sizeof(pieces) / sizeof(pieces[0]))];
        k = strlen(piece); /* at most 4 bytes, 8 pieces: fits */
        memcpy(buf + used, piece, k);
        used += k;
    }
    buf[used] = '\0';
    return json_string(buf);
}

static json_t *
random_value(int depth)
{
    json_t *v;
    size_t n, i;
    char key[16];

    switch (depth > 4 ? next_rand() % 5 : next_rand() % 7) {
    case 0:
        return random_string();
    case 1:
        return json_integer((json_int_t)(int32_t)next_rand());
    case 2:
        return json_real((double)(int32_t)next_rand() / 64.0);
    case 3:
        return json_boolean(next_rand() & 1);
    case 4:
        return json_null();
    case 5:
        v = json_array();
        n = next_rand() % 4;
        for (i = 0; i < n; i++)
            json_array_append_new(v, random_value(depth + 1));
        return v;
    default:
        v = json_object();
        n = next_rand() % 4;
        for (i = 0; i < n; i++) {
            json_t *k = random_string();

            snprintf(key, sizeof(key), "%zu", i);
            json_object_set_new(v, json_string_length(k) > 0 ? json_string_value(k) : key,
                                random_value(depth + 1));
            json_decref(k);
        }
        return v;
    }
}

static void
test_random_trees(void **state)
{
    json_t *v;
    int i;

    (void)state;
    for (i = 0; i < 3000; i++) {
        v = json_array();
        assert_int_equal(json_array_append_new(v, random_value(0)), 0);
        expect_same(v);
        json_decref(v);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scalars_and_nesting),
        cmocka_unit_test(test_escapes),
        cmocka_unit_test(test_insertion_order),
        cmocka_unit_test(test_depth),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_out_of_memory),
        cmocka_unit_test(test_random_trees),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
