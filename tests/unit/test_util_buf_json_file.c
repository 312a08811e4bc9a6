/*
 * util/mt_buf (a byte buffer that cannot outgrow its limit), util/mt_json
 * (typed getters; duplicate keys rejected) and util/mt_file (whole regular
 * files only, bounded).
 */
#include "mt_testlib.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/mt_alloc.h"
#include "util/mt_buf.h"
#include "util/mt_file.h"
#include "util/mt_json.h"
#include "util/mt_limits.h"

/* ---- mt_buf ---- */

static void
test_buf_basic(void **state)
{
    struct mt_buf b;
    uint8_t *p;
    size_t len = 99;

    (void)state;
    mt_buf_init(&b, 16);
    assert_null(b.p);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.limit, 16);
    EXPECT_OK(mt_buf_append_str(&b, "hello"));
    EXPECT_OK(mt_buf_append(&b, ", ", 2));
    EXPECT_OK(mt_buf_append_str(&b, "world"));
    assert_int_equal(b.len, 12);
    /* always NUL-terminated, the NUL not counted */
    assert_string_equal((const char *)b.p, "hello, world");
    assert_true(b.cap >= b.len);

    p = mt_buf_take(&b, &len);
    assert_int_equal(len, 12);
    assert_string_equal((const char *)p, "hello, world");
    /* the buffer is reset but keeps its limit */
    assert_null(b.p);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    assert_int_equal(b.limit, 16);
    mt_free(p);

    /* take with a NULL length, and free twice */
    EXPECT_OK(mt_buf_append_str(&b, "x"));
    p = mt_buf_take(&b, NULL);
    assert_string_equal((const char *)p, "x");
    mt_free(p);
    mt_buf_free(&b);
    mt_buf_free(&b);
    assert_null(b.p);
}

/* Exactly the limit fits; one byte more fails and changes nothing. */
static void
test_buf_limit(void **state)
{
    struct mt_buf b;
    uint8_t before[17];

    (void)state;
    mt_buf_init(&b, 10);
    EXPECT_OK(mt_buf_append(&b, "0123456", 7));
    memcpy(before, b.p, b.len + 1);
    EXPECT_ERR(mt_buf_append(&b, "abcd", 4), MT_ERR_TOO_LARGE);
    assert_int_equal(b.len, 7);
    assert_memory_equal(b.p, before, 8);
    EXPECT_OK(mt_buf_append(&b, "abc", 3));
    assert_int_equal(b.len, 10);
    assert_string_equal((const char *)b.p, "0123456abc");
    memcpy(before, b.p, b.len + 1);
    EXPECT_ERR(mt_buf_append(&b, "z", 1), MT_ERR_TOO_LARGE);
    EXPECT_ERR(mt_buf_append_str(&b, "z"), MT_ERR_TOO_LARGE);
    /* a size that would overflow len + n is refused, not wrapped */
    EXPECT_ERR(mt_buf_append(&b, "z", SIZE_MAX), MT_ERR_TOO_LARGE);
    EXPECT_ERR(mt_buf_append(&b, "z", SIZE_MAX - 5), MT_ERR_TOO_LARGE);
    assert_int_equal(b.len, 10);
    assert_memory_equal(b.p, before, 11);
    /* zero bytes still fit at the limit */
    EXPECT_OK(mt_buf_append(&b, NULL, 0));
    assert_int_equal(b.len, 10);
    mt_buf_free(&b);

    /* a single append larger than the limit on an empty buffer allocates nothing */
    mt_buf_init(&b, 3);
    EXPECT_ERR(mt_buf_append(&b, "abcd", 4), MT_ERR_TOO_LARGE);
    assert_null(b.p);
    assert_int_equal(b.len, 0);
    EXPECT_OK(mt_buf_append(&b, "abc", 3));
    assert_string_equal((const char *)b.p, "abc");
    mt_buf_free(&b);

    /* limit 0: only empty appends, and they yield an empty string */
    mt_buf_init(&b, 0);
    EXPECT_ERR(mt_buf_append(&b, "a", 1), MT_ERR_TOO_LARGE);
    EXPECT_OK(mt_buf_append(&b, "", 0));
    assert_non_null(b.p);
    assert_string_equal((const char *)b.p, "");
    mt_buf_free(&b);
}

/* Growth across many reallocations keeps every byte; binary data with NULs is fine. */
static void
test_buf_growth(void **state)
{
    const size_t limit = 100000;
    struct mt_buf b;
    uint8_t chunk[37];
    size_t i, k, total = 0;

    (void)state;
    mt_buf_init(&b, limit);
    for (i = 0; total + sizeof(chunk) <= limit; i++) {
        for (k = 0; k < sizeof(chunk); k++)
            chunk[k] = (uint8_t)(i * 7 + k);
        EXPECT_OK(mt_buf_append(&b, chunk, sizeof(chunk)));
        total += sizeof(chunk);
        assert_int_equal(b.len, total);
        assert_int_equal(b.p[b.len], 0);
        assert_true(b.cap <= limit);
    }
    for (i = 0; i < total; i++)
        assert_int_equal(b.p[i], (uint8_t)((i / sizeof(chunk)) * 7 + i % sizeof(chunk)));
    /* fill to the limit exactly, then nothing more */
    EXPECT_OK(mt_buf_append(&b, chunk, limit - total));
    assert_int_equal(b.len, limit);
    assert_int_equal(b.p[limit], 0);
    EXPECT_ERR(mt_buf_append(&b, chunk, 1), MT_ERR_TOO_LARGE);
    assert_int_equal(b.len, limit);
    mt_buf_free_secret(&b);
    assert_null(b.p);
    assert_int_equal(b.len, 0);
    /* free_secret of a never-used buffer is safe */
    mt_buf_free_secret(&b);
}

/* An allocation failure reports NOMEM and leaves the contents alone. */
static void
test_buf_nomem(void **state)
{
    struct mt_buf b;
    uint8_t big[300];

    (void)state;
    memset(big, 'q', sizeof(big));
    mt_buf_init(&b, 4096);
    mt_alloc_fail_at(1);
    EXPECT_ERR(mt_buf_append(&b, "abc", 3), MT_ERR_NOMEM);
    mt_alloc_fail_at(0);
    assert_null(b.p);
    assert_int_equal(b.len, 0);
    EXPECT_OK(mt_buf_append(&b, "abc", 3));
    /* 256 bytes allocated at first; 300 more need a realloc that fails */
    mt_alloc_fail_at(1);
    EXPECT_ERR(mt_buf_append(&b, big, sizeof(big)), MT_ERR_NOMEM);
    mt_alloc_fail_at(0);
    assert_int_equal(b.len, 3);
    assert_string_equal((const char *)b.p, "abc");
    EXPECT_OK(mt_buf_append(&b, big, sizeof(big)));
    assert_int_equal(b.len, 303);
    mt_buf_free(&b);
}

/* ---- mt_json ---- */

static json_t *
parse_ok(const char *text)
{
    json_t *j = NULL;

    EXPECT_OK(mt_json_parse(text, strlen(text), 4096, &j));
    assert_non_null(j);
    return j;
}

/* mt_json_parse of a C string with a generous limit. */
static mt_err
jparse(const char *text, json_t **j)
{
    return mt_json_parse(text, strlen(text), 4096, j);
}

static void
test_json_parse(void **state)
{
    json_t *j = (json_t *)0x1;
    const char *doc = "{\"a\":1}";

    (void)state;
    json_decref(parse_ok("{}"));
    json_decref(parse_ok("[1,2]"));
    json_decref(parse_ok(" {\"a\": {\"b\": [true]}} \n"));

    EXPECT_ERR(jparse("", &j), MT_ERR_JSON);
    EXPECT_ERR(jparse("{", &j), MT_ERR_JSON);
    EXPECT_ERR(jparse("{} {}", &j), MT_ERR_JSON);
    EXPECT_ERR(jparse("{}x", &j), MT_ERR_JSON);
    EXPECT_ERR(jparse("{'a':1}", &j), MT_ERR_JSON);
    EXPECT_ERR(jparse("{\"a\":1,}", &j), MT_ERR_JSON);
    /* duplicate keys are an ambiguity: rejected at any depth */
    EXPECT_ERR(jparse("{\"a\":1,\"a\":1}", &j), MT_ERR_JSON);
    EXPECT_ERR(jparse("{\"a\":1,\"a\":2}", &j), MT_ERR_JSON);
    EXPECT_ERR(jparse("{\"o\":{\"k\":1,\"k\":2}}", &j), MT_ERR_JSON);
    EXPECT_ERR(jparse("[{\"k\":1,\"k\":1}]", &j), MT_ERR_JSON);
    /* a NUL inside the text is not JSON */
    EXPECT_ERR(mt_json_parse("{}\0", 3, 4096, &j), MT_ERR_JSON);
    /* the length is honoured: the same bytes cut short are malformed */
    EXPECT_ERR(mt_json_parse(doc, strlen(doc) - 1, 4096, &j), MT_ERR_JSON);
    /* size limit: exactly max passes, one byte over is too large */
    EXPECT_OK(mt_json_parse(doc, strlen(doc), strlen(doc), &j));
    json_decref(j);
    j = (json_t *)0x1;
    EXPECT_ERR(mt_json_parse(doc, strlen(doc), strlen(doc) - 1, &j), MT_ERR_TOO_LARGE);
    assert_ptr_equal(j, (json_t *)0x1);
}

static void
test_json_getters(void **state)
{
    json_t *o = parse_ok("{\"s\":\"abc\",\"e\":\"\",\"i\":42,\"neg\":-5,\"f\":1.0,\"t\":true,"
                         "\"n\":null,\"a\":[1,2,3],\"o\":{\"x\":1},\"big\":9223372036854775807}"),
           *a = NULL, *sub = NULL;
    const char *s = "untouched";
    size_t len = 99;
    int64_t v = 7;

    (void)state;
    EXPECT_OK(mt_json_get_str(o, "s", &s, &len));
    assert_string_equal(s, "abc");
    assert_int_equal(len, 3);
    EXPECT_OK(mt_json_get_str(o, "e", &s, NULL));
    assert_string_equal(s, "");
    s = "untouched";
    EXPECT_ERR(mt_json_get_str(o, "i", &s, &len), MT_ERR_JSON_FIELD);
    EXPECT_ERR(mt_json_get_str(o, "n", &s, &len), MT_ERR_JSON_FIELD);
    EXPECT_ERR(mt_json_get_str(o, "missing", &s, &len), MT_ERR_JSON_FIELD);
    EXPECT_ERR(mt_json_get_str(o, "S", &s, &len), MT_ERR_JSON_FIELD); /* keys are case-sensitive */
    assert_string_equal(s, "untouched");

    EXPECT_OK(mt_json_get_int(o, "i", 0, 100, &v));
    assert_int_equal(v, 42);
    EXPECT_OK(mt_json_get_int(o, "i", 42, 42, &v));
    EXPECT_OK(mt_json_get_int(o, "neg", -5, 0, &v));
    assert_true(v == -5);
    EXPECT_OK(mt_json_get_int(o, "big", 0, INT64_MAX, &v));
    assert_true(v == INT64_MAX);
    v = 7;
    EXPECT_ERR(mt_json_get_int(o, "i", 43, 100, &v), MT_ERR_JSON_FIELD);
    EXPECT_ERR(mt_json_get_int(o, "i", 0, 41, &v), MT_ERR_JSON_FIELD);
    EXPECT_ERR(mt_json_get_int(o, "neg", 0, 100, &v), MT_ERR_JSON_FIELD);
    EXPECT_ERR(mt_json_get_int(o, "f", 0, 100, &v), MT_ERR_JSON_FIELD); /* 1.0 is a real */
    EXPECT_ERR(mt_json_get_int(o, "s", 0, 100, &v), MT_ERR_JSON_FIELD);
    EXPECT_ERR(mt_json_get_int(o, "t", 0, 100, &v), MT_ERR_JSON_FIELD);
    EXPECT_ERR(mt_json_get_int(o, "n", 0, 100, &v), MT_ERR_JSON_FIELD);
    EXPECT_ERR(mt_json_get_int(o, "missing", 0, 100, &v), MT_ERR_JSON_FIELD);
    assert_int_equal(v, 7);

    EXPECT_OK(mt_json_get_array(o, "a", 3, &a));
    assert_int_equal(json_array_size(a), 3);
    a = NULL;
    EXPECT_ERR(mt_json_get_array(o, "a", 2, &a), MT_ERR_TOO_LARGE);
    EXPECT_ERR(mt_json_get_array(o, "o", 10, &a), MT_ERR_JSON_FIELD);
    EXPECT_ERR(mt_json_get_array(o, "missing", 10, &a), MT_ERR_JSON_FIELD);
    assert_null(a);

    EXPECT_OK(mt_json_get_object(o, "o", &sub));
    assert_true(json_is_object(sub));
    sub = NULL;
    EXPECT_ERR(mt_json_get_object(o, "a", &sub), MT_ERR_JSON_FIELD);
    EXPECT_ERR(mt_json_get_object(o, "n", &sub), MT_ERR_JSON_FIELD);
    assert_null(sub);
    /* getters on a non-object fail the same way */
    EXPECT_ERR(mt_json_get_object(json_object_get(o, "a"), "x", &sub), MT_ERR_JSON_FIELD);
    EXPECT_ERR(mt_json_get_str(json_object_get(o, "a"), "x", &s, &len), MT_ERR_JSON_FIELD);
    json_decref(o);
}

static void
test_json_hex_time(void **state)
{
    json_t *o = parse_ok("{\"h\":\"00aaFF\",\"odd\":\"0aa\",\"bad\":\"0000g0\",\"num\":7,"
                         "\"t\":\"2025-07-19T10:16:03Z\",\"leap\":\"2025-02-29T00:00:00Z\","
                         "\"off\":\"2025-07-19T10:16:03+00:00\"}");
    uint8_t b[3];
    int64_t t = 5;

    (void)state;
    EXPECT_OK(mt_json_get_hex(o, "h", b, 3));
    assert_memory_equal(b, "\x00\xaa\xff", 3);
    EXPECT_ERR(mt_json_get_hex(o, "h", b, 2), MT_ERR_JSON_FIELD);
    EXPECT_ERR(mt_json_get_hex(o, "odd", b, 2), MT_ERR_JSON_FIELD);
    memset(b, 0x77, sizeof(b));
    EXPECT_ERR(mt_json_get_hex(o, "bad", b, 3), MT_ERR_JSON_FIELD);
    assert_memory_equal(b, "\x77\x77\x77", 3); /* untouched on failure */
    EXPECT_ERR(mt_json_get_hex(o, "num", b, 3), MT_ERR_JSON_FIELD);
    EXPECT_ERR(mt_json_get_hex(o, "missing", b, 3), MT_ERR_JSON_FIELD);

    EXPECT_OK(mt_json_get_time(o, "t", &t));
    assert_int_equal(t, 1752920163);
    t = 5;
    EXPECT_ERR(mt_json_get_time(o, "leap", &t), MT_ERR_JSON_FIELD);
    EXPECT_ERR(mt_json_get_time(o, "off", &t), MT_ERR_JSON_FIELD);
    EXPECT_ERR(mt_json_get_time(o, "num", &t), MT_ERR_JSON_FIELD);
    EXPECT_ERR(mt_json_get_time(o, "missing", &t), MT_ERR_JSON_FIELD);
    assert_int_equal(t, 5);
    json_decref(o);
}

static void
test_json_setters(void **state)
{
    static const uint8_t bytes[3] = {0x01, 0xab, 0xff};
    json_t *o = json_object();
    const char *s;

    (void)state;
    EXPECT_OK(mt_json_set_hex(o, "h", bytes, 3));
    EXPECT_OK(mt_json_get_str(o, "h", &s, NULL));
    assert_string_equal(s, "01abff");
    EXPECT_OK(mt_json_set_hex(o, "empty", bytes, 0));
    EXPECT_OK(mt_json_get_str(o, "empty", &s, NULL));
    assert_string_equal(s, "");
    EXPECT_OK(mt_json_set_new(o, "n", json_integer(3)));
    assert_int_equal(json_integer_value(json_object_get(o, "n")), 3);
    /* a NULL value (a failed jansson constructor) is reported as NOMEM */
    EXPECT_ERR(mt_json_set_new(o, "x", NULL), MT_ERR_NOMEM);
    assert_null(json_object_get(o, "x"));
    /* the hex encoder's allocation failing is NOMEM too */
    mt_alloc_fail_at(1);
    EXPECT_ERR(mt_json_set_hex(o, "y", bytes, 3), MT_ERR_NOMEM);
    mt_alloc_fail_at(0);
    assert_null(json_object_get(o, "y"));
    json_decref(o);
}

/* ---- mt_file ---- */

/* A fresh file under /tmp holding n bytes of `fill`; its path is written to path. */
static void
temp_file(char path[64], size_t n, char fill)
{
    char buf[4096];
    size_t left = n, k;
    int fd;

    snprintf(path, 64, "/tmp/mt_test_file_XXXXXX");
    fd = mkstemp(path);
    assert_true(fd >= 0);
    memset(buf, fill, sizeof(buf));
    while (left > 0) {
        k = left < sizeof(buf) ? left : sizeof(buf);
        assert_int_equal(write(fd, buf, k), (ssize_t)k);
        left -= k;
    }
    assert_int_equal(close(fd), 0);
}

static void
test_file_read(void **state)
{
    char path[64];
    uint8_t *b = (uint8_t *)"untouched";
    size_t n = 99;

    (void)state;
    temp_file(path, 1000, 'r');
    EXPECT_OK(mt_file_read(path, 1000, &b, &n));
    assert_int_equal(n, 1000);
    assert_int_equal(b[0], 'r');
    assert_int_equal(b[999], 'r');
    assert_int_equal(b[1000], '\0'); /* NUL-terminated past the data */
    mt_free(b);

    /* one byte over the limit */
    b = (uint8_t *)"untouched";
    n = 99;
    EXPECT_ERR(mt_file_read(path, 999, &b, &n), MT_ERR_TOO_LARGE);
    EXPECT_ERR(mt_file_read(path, 0, &b, &n), MT_ERR_TOO_LARGE);
    assert_string_equal((const char *)b, "untouched");
    assert_int_equal(n, 99);
    assert_int_equal(unlink(path), 0);

    /* the same path, now missing */
    EXPECT_ERR(mt_file_read(path, 1000, &b, &n), MT_ERR_IO);
    EXPECT_ERR(mt_file_read("/nonexistent/dir/file", 1000, &b, &n), MT_ERR_IO);
    EXPECT_ERR(mt_file_read("", 1000, &b, &n), MT_ERR_IO);
    assert_string_equal((const char *)b, "untouched");
}

/* Entries in dir other than . and .. */
static int
dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;

    assert_non_null(d);
    while ((e = readdir(d)) != NULL)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

/*
 * mt_file_write_atomic: creates with the asked mode, replaces an existing
 * file whole, leaves no temporary file behind, and on failure (a missing
 * directory) reports MT_ERR_IO and changes nothing.
 */
static void
test_file_write_atomic(void **state)
{
    char dir[64], path[128], cmd[160];
    struct stat st;
    uint8_t *b;
    size_t n;

    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/mt-wa-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/f", dir);
    EXPECT_OK(mt_file_write_atomic(path, "first", 5, 0644));
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    EXPECT_OK(mt_file_write_atomic(path, "second!", 7, 0600));
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    EXPECT_OK(mt_file_read(path, 100, &b, &n));
    assert_int_equal(n, 7);
    assert_memory_equal(b, "second!", 7);
    mt_free(b);
    assert_int_equal(dir_entries(dir), 1); /* no temporary file left */
    snprintf(path, sizeof(path), "%s/missing/f", dir);
    EXPECT_ERR(mt_file_write_atomic(path, "x", 1, 0600), MT_ERR_IO);
    assert_int_equal(errno, ENOENT);
    assert_int_equal(dir_entries(dir), 1);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void
test_file_refused_kinds(void **state)
{
    char path[64], dir[64];
    uint8_t *b = (uint8_t *)"untouched";
    size_t n = 99;

    (void)state;
    /* empty files are refused */
    temp_file(path, 0, 'x');
    EXPECT_ERR(mt_file_read(path, 1000, &b, &n), MT_ERR_IO);
    assert_int_equal(unlink(path), 0);

    /* a directory is not a regular file */
    snprintf(dir, sizeof(dir), "/tmp/mt_test_dir_XXXXXX");
    assert_non_null(mkdtemp(dir));
    EXPECT_ERR(mt_file_read(dir, 1000, &b, &n), MT_ERR_IO);
    assert_int_equal(rmdir(dir), 0);

    /* nor is a character device */
    EXPECT_ERR(mt_file_read("/dev/null", 1000, &b, &n), MT_ERR_IO);

    assert_string_equal((const char *)b, "untouched");
    assert_int_equal(n, 99);
}

/* A file exactly at the limit, and a one-byte file. */
static void
test_file_boundaries(void **state)
{
    char path[64];
    uint8_t *b = NULL;
    size_t n = 0;

    (void)state;
    temp_file(path, 1, 'z');
    EXPECT_OK(mt_file_read(path, 1, &b, &n));
    assert_int_equal(n, 1);
    assert_string_equal((const char *)b, "z");
    mt_free(b);
    assert_int_equal(unlink(path), 0);

    temp_file(path, 70000, 'k');
    EXPECT_OK(mt_file_read(path, 70000, &b, &n));
    assert_int_equal(n, 70000);
    assert_int_equal(b[69999], 'k');
    mt_free(b);
    EXPECT_ERR(mt_file_read(path, 69999, &b, &n), MT_ERR_TOO_LARGE);

    /* allocation failure surfaces as NOMEM */
    mt_alloc_fail_at(1);
    EXPECT_ERR(mt_file_read(path, 70000, &b, &n), MT_ERR_NOMEM);
    mt_alloc_fail_at(0);
    assert_int_equal(unlink(path), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_basic),       cmocka_unit_test(test_buf_limit),
        cmocka_unit_test(test_buf_growth),      cmocka_unit_test(test_buf_nomem),
        cmocka_unit_test(test_json_parse),      cmocka_unit_test(test_json_getters),
        cmocka_unit_test(test_json_hex_time),   cmocka_unit_test(test_json_setters),
        cmocka_unit_test(test_file_read),       cmocka_unit_test(test_file_refused_kinds),
        cmocka_unit_test(test_file_boundaries), cmocka_unit_test(test_file_write_atomic),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
