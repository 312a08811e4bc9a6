#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "audit/audit.h"
#include "util/mt_alloc.h"
#include "util/mt_hex.h"

#include "mt_testlib.h"

/*
 * The CLI command is compiled into this test (the production file, as
 * rpki-client's regress does), so its exit codes are checked without
 * depending on the dispatch table of src/cli/main.c.
 */
#include "../../src/cli/cli_io.c"
#include "../../src/cli/cmd_audit.c"

/*
 * The hash-chained audit log (audit/audit.h): round trips, reopening,
 * every kind of tampering with the first broken line it must report,
 * refused records, concurrent appends and `mero-tee audit verify`.
 */

#define NLINES 6
#define NTHREADS 8
#define PER_THREAD 40

static char tmp_root[256];
static unsigned file_serial;

static int
group_setup(void **state)
{
    (void)state;
    snprintf(tmp_root, sizeof(tmp_root), "/tmp/mt-audit-XXXXXX");
    return mkdtemp(tmp_root) == NULL ? -1 : 0;
}

static int
group_teardown(void **state)
{
    char cmd[320];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp_root);
    return system(cmd) == 0 ? 0 : -1;
}

static void
new_path(char *out, size_t len)
{
    snprintf(out, len, "%s/audit%u.log", tmp_root, ++file_serial);
}

/* A record as the KMS writes one. */
static json_t *
record(int i, const char *decision)
{
    json_t *r =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:s, s:[s,s]}, s:{s:s, s:i}}", "time",
                  "2025-06-19T10:16:03Z", "requestId", "req-1", "peerId", "12D3KooWExamplePeer",
                  "decision", decision, "reason", i % 2 ? "ok" : "policy", "measurements", "mrtd",
                  "aa", "rtmr", "bb", "cc", "policy", "version", "1.2.3", "n", i);

    assert_non_null(r);
    return r;
}

static void
append(struct mt_audit *a, int i, const char *decision)
{
    json_t *r = record(i, decision);

    EXPECT_OK(mt_audit_append(a, r));
    json_decref(r);
}

/* A new log of n records at path (replacing the file). */
static void
make_log(const char *path, int n)
{
    struct mt_audit *a = NULL;
    int i;

    (void)unlink(path);
    EXPECT_OK(mt_audit_open(path, &a));
    for (i = 1; i <= n; i++)
        append(a, i, "granted");
    mt_audit_close(a);
}

/* The file's lines, each with its '\n'. */
struct lines {
    char *l[64];
    size_t n;
};

static void
read_lines(const char *path, struct lines *ls)
{
    uint8_t *text;
    size_t len, start = 0, i;

    text = mt_test_read_file(path, &len);
    memset(ls, 0, sizeof(*ls));
    for (i = 0; i < len; i++) {
        if (text[i] != '\n')
            continue;
        assert_true(ls->n < 64);
        ls->l[ls->n++] = mt_strndup((const char *)text + start, i + 1 - start);
        start = i + 1;
    }
    assert_int_equal(start, len);
    mt_free(text);
}

static void
free_lines(struct lines *ls)
{
    size_t i;

    for (i = 0; i < ls->n; i++)
        mt_free(ls->l[i]);
    memset(ls, 0, sizeof(*ls));
}

static void
write_text(const char *path, const char *text, size_t len)
{
    FILE *fp = fopen(path, "wb");

    assert_non_null(fp);
    assert_int_equal(fwrite(text, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

/* Replace the file with ls's lines. */
static void
write_lines(const char *path, struct lines *ls)
{
    FILE *fp = fopen(path, "wb");
    size_t i;

    assert_non_null(fp);
    for (i = 0; i < ls->n; i++)
        assert_int_equal(fputs(ls->l[i], fp) >= 0, 1);
    assert_int_equal(fclose(fp), 0);
}

static void
hash_hex(const char *s, size_t n, char out[65])
{
    uint8_t h[32];
    unsigned int len = 32;

    assert_int_equal(EVP_Digest(s, n, h, &len, EVP_sha256(), NULL), 1);
    mt_hex_encode(h, 32, out);
}

static void
expect_broken(const char *path, mt_err want, size_t want_line)
{
    size_t lines = 99, bad = 0;
    char why[256] = "";

    EXPECT_ERR(mt_audit_verify_file(path, &lines, &bad, why, sizeof(why)), want);
    if (bad != want_line)
        fail_msg("first broken line %zu, want %zu (%s)", bad, want_line, why);
    assert_int_equal(lines, want_line - 1);
    assert_true(strlen(why) > 0);
}

static void
expect_intact(const char *path, size_t want_lines)
{
    size_t lines = 0, bad = 7;
    char why[256];

    EXPECT_OK(mt_audit_verify_file(path, &lines, &bad, why, sizeof(why)));
    assert_int_equal(lines, want_lines);
    assert_int_equal(bad, 0);
}

/* ---- tests ---- */

static void
test_round_trip(void **state)
{
    char path[300], hex[65], want[65], zeros[65];
    struct mt_audit *a = NULL;
    struct lines ls;
    struct stat sb;
    uint64_t seq;
    json_t *j;

    (void)state;
    new_path(path, sizeof(path));
    EXPECT_OK(mt_audit_open(path, &a));
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    memset(zeros, '0', 64);
    zeros[64] = '\0';
    mt_audit_last(a, &seq, hex);
    assert_int_equal(seq, 0);
    assert_string_equal(hex, zeros);
    append(a, 1, "granted");
    append(a, 2, "denied");
    append(a, 3, "granted");
    mt_audit_last(a, &seq, hex);
    assert_int_equal(seq, 3);
    mt_audit_close(a);
    expect_intact(path, 3);

    read_lines(path, &ls);
    assert_int_equal(ls.n, 3);
    /* seq and prev come first; the chain is over each line's exact bytes with its '\n'. */
    assert_memory_equal(ls.l[0], "{\"seq\":1,\"prev\":\"", 17);
    assert_memory_equal(ls.l[0] + 17, zeros, 64);
    hash_hex(ls.l[0], strlen(ls.l[0]), want);
    assert_non_null(strstr(ls.l[1], want));
    hash_hex(ls.l[2], strlen(ls.l[2]), want);
    assert_string_equal(hex, want);
    j = json_loads(ls.l[1], 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "decision")), "denied");
    assert_string_equal(json_string_value(json_object_get(j, "peerId")), "12D3KooWExamplePeer");
    assert_int_equal(json_integer_value(json_object_get(j, "seq")), 2);
    json_decref(j);
    free_lines(&ls);

    /* An empty log is a valid log of 0 lines. */
    new_path(path, sizeof(path));
    write_text(path, "", 0);
    expect_intact(path, 0);
}

/*
 * The line is what json_dumps(JSON_COMPACT | JSON_ENSURE_ASCII) makes of an
 * object holding seq, prev and the record's members in order (the append
 * splices seq and prev into the record's own dump), for an empty record too.
 */
static void
test_line_bytes(void **state)
{
    char path[300], zeros[65], *want;
    struct mt_audit *a = NULL;
    struct lines ls;
    json_t *rec, *o;

    (void)state;
    memset(zeros, '0', 64);
    zeros[64] = '\0';
    new_path(path, sizeof(path));
    EXPECT_OK(mt_audit_open(path, &a));
    rec = json_object();
    EXPECT_OK(mt_audit_append(a, rec));
    json_object_set_new(rec, "decision", json_string("granted"));
    json_object_set_new(rec, "note", json_string("caf\xc3\xa9 \"quoted\""));
    json_object_set_new(rec, "n", json_integer(7));
    EXPECT_OK(mt_audit_append(a, rec));
    mt_audit_close(a);
    expect_intact(path, 2);
    read_lines(path, &ls);
    assert_int_equal(ls.n, 2);
    assert_string_equal(ls.l[0], "{\"seq\":1,\"prev\":\"0000000000000000000000000000000000000000"
                                 "000000000000000000000000\"}\n");
    o = json_object();
    json_object_set_new(o, "seq", json_integer(2));
    hash_hex(ls.l[0], strlen(ls.l[0]), zeros);
    json_object_set_new(o, "prev", json_string(zeros));
    json_object_update(o, rec);
    want = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
    assert_non_null(want);
    assert_int_equal(strlen(ls.l[1]), strlen(want) + 1);
    assert_memory_equal(ls.l[1], want, strlen(want));
    assert_int_equal(ls.l[1][strlen(want)], '\n');
    free(want); /* lint-allow: free (jansson's malloc) */
    json_decref(o);
    json_decref(rec);
    free_lines(&ls);
}

static void
test_reopen_continues(void **state)
{
    char path[300], hex[65], why[256];
    struct mt_audit *a = NULL, *b = NULL;
    uint64_t seq;

    (void)state;
    new_path(path, sizeof(path));
    make_log(path, 3);
    EXPECT_OK(mt_audit_open(path, &a));
    mt_audit_last(a, &seq, hex);
    assert_int_equal(seq, 3);
    /* One writer per file. */
    EXPECT_ERR(mt_audit_open_why(path, &b, why, sizeof(why)), MT_ERR_IO);
    assert_null(b);
    assert_non_null(strstr(why, "locked"));
    append(a, 4, "denied");
    append(a, 5, "granted");
    mt_audit_close(a);
    expect_intact(path, 5);
    EXPECT_OK(mt_audit_open(path, &a));
    append(a, 6, "granted");
    mt_audit_close(a);
    expect_intact(path, 6);
}

static void
test_open_refuses_broken_log(void **state)
{
    char path[300], why[256];
    struct mt_audit *a = NULL;
    struct lines ls;

    (void)state;
    new_path(path, sizeof(path));
    make_log(path, 4);
    read_lines(path, &ls);
    mt_free(ls.l[1]);
    ls.l[1] = mt_strdup(ls.l[2]); /* line 2 duplicated over */
    write_lines(path, &ls);
    free_lines(&ls);
    EXPECT_ERR(mt_audit_open_why(path, &a, why, sizeof(why)), MT_ERR_AUDIT_CHAIN);
    assert_null(a);
    assert_non_null(strstr(why, "refusing"));

    /* A last line cut short (a crash mid-write) is refused too. */
    new_path(path, sizeof(path));
    make_log(path, 2);
    assert_int_equal(truncate(path, 100), 0);
    EXPECT_ERR(mt_audit_open(path, &a), MT_ERR_AUDIT_FORMAT);
    assert_null(a);
}

/* Each tampering reports the first line at which it shows. */
static void
test_tampering(void **state)
{
    char path[300], *p, *big;
    struct lines ls;
    size_t i, len;

    (void)state;
    new_path(path, sizeof(path));

    /* edit a field of line 3: line 3 still parses, line 4's prev no longer matches */
    make_log(path, NLINES);
    read_lines(path, &ls);
    p = strstr(ls.l[2], "granted");
    assert_non_null(p);
    memcpy(p, "GRANTED", 7);
    write_lines(path, &ls);
    free_lines(&ls);
    expect_broken(path, MT_ERR_AUDIT_CHAIN, 4);

    /* the same edit on the last line is invisible without an external anchor */
    make_log(path, NLINES);
    read_lines(path, &ls);
    p = strstr(ls.l[NLINES - 1], "granted");
    memcpy(p, "GRANTED", 7);
    write_lines(path, &ls);
    free_lines(&ls);
    expect_intact(path, NLINES);

    /* delete line 3 */
    make_log(path, NLINES);
    read_lines(path, &ls);
    mt_free(ls.l[2]);
    memmove(&ls.l[2], &ls.l[3], (ls.n - 3) * sizeof(ls.l[0]));
    ls.n--;
    write_lines(path, &ls);
    free_lines(&ls);
    expect_broken(path, MT_ERR_AUDIT_CHAIN, 3);

    /* swap lines 2 and 3 */
    make_log(path, NLINES);
    read_lines(path, &ls);
    p = ls.l[1];
    ls.l[1] = ls.l[2];
    ls.l[2] = p;
    write_lines(path, &ls);
    free_lines(&ls);
    expect_broken(path, MT_ERR_AUDIT_CHAIN, 2);

    /* insert a copy of line 4 after line 2 */
    make_log(path, NLINES);
    read_lines(path, &ls);
    memmove(&ls.l[3], &ls.l[2], (ls.n - 2) * sizeof(ls.l[0]));
    ls.l[2] = mt_strdup(ls.l[4]);
    ls.n++;
    write_lines(path, &ls);
    free_lines(&ls);
    expect_broken(path, MT_ERR_AUDIT_CHAIN, 3);

    /* insert a forged line 3 that chains correctly to line 2: the old line 3 breaks */
    make_log(path, NLINES);
    read_lines(path, &ls);
    {
        char prev[65], forged[256];

        hash_hex(ls.l[1], strlen(ls.l[1]), prev);
        snprintf(forged, sizeof(forged), "{\"seq\":3,\"prev\":\"%s\",\"decision\":\"granted\"}\n",
                 prev);
        memmove(&ls.l[3], &ls.l[2], (ls.n - 2) * sizeof(ls.l[0]));
        ls.l[2] = mt_strdup(forged);
        ls.n++;
    }
    write_lines(path, &ls);
    free_lines(&ls);
    expect_broken(path, MT_ERR_AUDIT_CHAIN, 4);

    /* truncate in the middle of line 5 */
    make_log(path, NLINES);
    read_lines(path, &ls);
    for (len = 0, i = 0; i < 4; i++)
        len += strlen(ls.l[i]);
    free_lines(&ls);
    assert_int_equal(truncate(path, (off_t)(len + 10)), 0);
    expect_broken(path, MT_ERR_AUDIT_FORMAT, 5);

    /* truncate at a line boundary: a shorter valid chain (needs an anchor to notice) */
    make_log(path, NLINES);
    assert_int_equal(truncate(path, (off_t)len), 0);
    expect_intact(path, 4);

    /* a non-JSON line 2 */
    make_log(path, NLINES);
    read_lines(path, &ls);
    mt_free(ls.l[1]);
    ls.l[1] = mt_strdup("this is not json\n");
    write_lines(path, &ls);
    free_lines(&ls);
    expect_broken(path, MT_ERR_AUDIT_FORMAT, 2);

    /* a JSON line that is not an object, and one without prev */
    make_log(path, NLINES);
    read_lines(path, &ls);
    mt_free(ls.l[1]);
    ls.l[1] = mt_strdup("[1,2]\n");
    write_lines(path, &ls);
    expect_broken(path, MT_ERR_AUDIT_FORMAT, 2);
    mt_free(ls.l[1]);
    ls.l[1] = mt_strdup("{\"seq\":2}\n");
    write_lines(path, &ls);
    expect_broken(path, MT_ERR_AUDIT_FORMAT, 2);
    mt_free(ls.l[1]);
    ls.l[1] = mt_strdup("{\"seq\":\"2\",\"prev\":\"00\"}\n");
    write_lines(path, &ls);
    expect_broken(path, MT_ERR_AUDIT_FORMAT, 2);
    free_lines(&ls);

    /* a seq gap: line 4 says 5 */
    make_log(path, NLINES);
    read_lines(path, &ls);
    assert_memory_equal(ls.l[3], "{\"seq\":4,", 9);
    ls.l[3][7] = '5';
    write_lines(path, &ls);
    free_lines(&ls);
    expect_broken(path, MT_ERR_AUDIT_CHAIN, 4);

    /* line 1 with a prev other than zeros */
    make_log(path, NLINES);
    read_lines(path, &ls);
    ls.l[0][17] = '1';
    write_lines(path, &ls);
    free_lines(&ls);
    expect_broken(path, MT_ERR_AUDIT_CHAIN, 1);

    /* a duplicated member */
    make_log(path, NLINES);
    read_lines(path, &ls);
    mt_free(ls.l[0]);
    ls.l[0] = mt_strdup("{\"seq\":1,\"seq\":1,\"prev\":"
                        "\"0000000000000000000000000000000000000000000000000000000000000000\"}\n");
    write_lines(path, &ls);
    free_lines(&ls);
    expect_broken(path, MT_ERR_AUDIT_FORMAT, 1);

    /* an empty line 3 */
    make_log(path, NLINES);
    read_lines(path, &ls);
    mt_free(ls.l[2]);
    ls.l[2] = mt_strdup("\n");
    write_lines(path, &ls);
    free_lines(&ls);
    expect_broken(path, MT_ERR_AUDIT_FORMAT, 3);

    /* an over-long line 2, with and without its newline */
    big = mt_malloc(MT_AUDIT_MAX_LINE + 2);
    assert_non_null(big);
    memset(big, 'x', MT_AUDIT_MAX_LINE + 1);
    big[MT_AUDIT_MAX_LINE] = '\n';
    big[MT_AUDIT_MAX_LINE + 1] = '\0';
    make_log(path, NLINES);
    read_lines(path, &ls);
    mt_free(ls.l[1]);
    ls.l[1] = mt_strdup(big);
    write_lines(path, &ls);
    expect_broken(path, MT_ERR_AUDIT_FORMAT, 2);
    big[MT_AUDIT_MAX_LINE] = 'x';
    mt_free(ls.l[1]);
    ls.l[1] = mt_strdup(big);
    ls.n = 2;
    write_lines(path, &ls);
    ls.n = NLINES;
    free_lines(&ls);
    expect_broken(path, MT_ERR_AUDIT_FORMAT, 2);
    mt_free(big);

    /* NUL bytes inside a line */
    make_log(path, 2);
    {
        char *text;
        uint8_t *raw = mt_test_read_file(path, &len);

        text = (char *)raw;
        text[20] = '\0';
        write_text(path, text, len);
        mt_free(raw);
    }
    expect_broken(path, MT_ERR_AUDIT_FORMAT, 1);
}

static void
test_unreadable(void **state)
{
    size_t lines = 5, bad = 5;
    char path[300], why[128];

    (void)state;
    snprintf(path, sizeof(path), "%s/does-not-exist.log", tmp_root);
    EXPECT_ERR(mt_audit_verify_file(path, &lines, &bad, why, sizeof(why)), MT_ERR_IO);
    assert_int_equal(lines, 0);
    assert_int_equal(bad, 0);
    EXPECT_ERR(mt_audit_verify_file(tmp_root, &lines, &bad, why, sizeof(why)), MT_ERR_IO);
}

static void
test_forbidden_keys(void **state)
{
    static const char *const bad[] = {"key",      "nonce", "nonceB64",  "signature", "signatureB64",
                                      "quoteB64", "KEY",   "Signature", "seq",       "prev"};
    char path[300];
    struct mt_audit *a = NULL;
    json_t *r, *inner;
    size_t i;

    (void)state;
    new_path(path, sizeof(path));
    EXPECT_OK(mt_audit_open(path, &a));
    append(a, 1, "granted");
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        /* at the top level */
        r = record(2, "granted");
        assert_int_equal(json_object_set_new(r, bad[i], json_string("AAAA")), 0);
        EXPECT_ERR(mt_audit_append(a, r), MT_ERR_ARG);
        json_decref(r);
        if (strcmp(bad[i], "seq") == 0 || strcmp(bad[i], "prev") == 0)
            continue;
        /* nested in an object inside an array */
        r = record(2, "granted");
        inner = json_pack("[{s:{s:s}}]", "detail", bad[i], "AAAA");
        assert_non_null(inner);
        assert_int_equal(json_object_set_new(r, "extra", inner), 0);
        EXPECT_ERR(mt_audit_append(a, r), MT_ERR_ARG);
        json_decref(r);
    }
    /* Names that merely contain a forbidden word are fine. */
    r = record(2, "granted");
    assert_int_equal(json_object_set_new(r, "keyProvider", json_string("dstack")), 0);
    assert_int_equal(json_object_set_new(r, "signatureValid", json_true()), 0);
    EXPECT_OK(mt_audit_append(a, r));
    json_decref(r);
    /* Not an object. */
    r = json_array();
    EXPECT_ERR(mt_audit_append(a, r), MT_ERR_ARG);
    EXPECT_ERR(mt_audit_append(a, NULL), MT_ERR_ARG);
    json_decref(r);
    /* Too large for one line: refused, and the chain goes on. */
    {
        char *huge = mt_malloc(MT_AUDIT_MAX_LINE);

        assert_non_null(huge);
        memset(huge, 'a', MT_AUDIT_MAX_LINE - 1);
        huge[MT_AUDIT_MAX_LINE - 1] = '\0';
        r = record(3, "granted");
        assert_int_equal(json_object_set_new(r, "reason", json_string(huge)), 0);
        EXPECT_ERR(mt_audit_append(a, r), MT_ERR_TOO_LARGE);
        json_decref(r);
        mt_free(huge);
    }
    append(a, 3, "denied");
    mt_audit_close(a);
    expect_intact(path, 3);
}

struct appender {
    struct mt_audit *a;
    int id;
    int failures;
};

static void *
appender_run(void *arg)
{
    struct appender *w = arg;
    json_t *r;
    int i;

    for (i = 0; i < PER_THREAD; i++) {
        r = json_pack("{s:i, s:i, s:s}", "thread", w->id, "i", i, "decision", "granted");
        if (r == NULL || mt_audit_append(w->a, r) != MT_OK)
            w->failures++;
        json_decref(r);
    }
    return NULL;
}

static void
test_concurrent_appends(void **state)
{
    char path[300];
    struct appender w[NTHREADS];
    pthread_t th[NTHREADS];
    struct mt_audit *a = NULL;
    uint64_t seq;
    int i;

    (void)state;
    new_path(path, sizeof(path));
    EXPECT_OK(mt_audit_open(path, &a));
    for (i = 0; i < NTHREADS; i++) {
        w[i].a = a;
        w[i].id = i;
        w[i].failures = 0;
        assert_int_equal(pthread_create(&th[i], NULL, appender_run, &w[i]), 0);
    }
    for (i = 0; i < NTHREADS; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(w[i].failures, 0);
    }
    mt_audit_last(a, &seq, NULL);
    assert_int_equal(seq, NTHREADS * PER_THREAD);
    mt_audit_close(a);
    expect_intact(path, NTHREADS * PER_THREAD);
}

/* Every allocation of open, append and verify fails in turn: no crash, no leak, no damage. */
static void
test_out_of_memory(void **state)
{
    char path[300];
    struct mt_audit *a;
    unsigned long n;
    size_t lines, bad;
    int reached;
    mt_err e;

    (void)state;
    new_path(path, sizeof(path));
    make_log(path, 2);
    for (n = 1; n < 10000; n++) {
        a = NULL;
        mt_alloc_fail_at(n);
        e = mt_audit_open(path, &a);
        if (e == MT_OK) {
            json_t *r = record(1, "granted");

            e = mt_audit_append(a, r);
            json_decref(r);
        }
        if (e == MT_OK)
            e = mt_audit_verify_file(path, &lines, &bad, NULL, 0);
        reached = mt_alloc_count() >= n;
        mt_alloc_fail_at(0);
        mt_audit_close(a);
        if (e != MT_OK) {
            assert_true(reached);
            EXPECT_ERR(e, MT_ERR_NOMEM);
        }
        /* Whatever failed, the log is intact. */
        EXPECT_OK(mt_audit_verify_file(path, &lines, &bad, NULL, 0));
        if (!reached)
            break;
    }
    assert_true(n > 2);
    print_message("out-of-memory sweep: %lu allocation sites\n", n - 1);
}

/* Run mt_cmd_audit with stdout captured; returns its exit status. */
static int
run_cmd(char **out, int argc, const char *a1, const char *a2, const char *a3)
{
    char *argv[5] = {"audit", (char *)a1, (char *)a2, (char *)a3, NULL};
    char cap[300];
    int saved, fd, rc;
    size_t len;

    snprintf(cap, sizeof(cap), "%s/stdout.txt", tmp_root);
    fflush(stdout);
    saved = dup(1);
    fd = open(cap, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(saved >= 0 && fd >= 0);
    assert_int_equal(dup2(fd, 1), 1);
    close(fd);
    rc = mt_cmd_audit(argc, argv);
    fflush(stdout);
    assert_int_equal(dup2(saved, 1), 1);
    close(saved);
    *out = NULL;
    fd = open(cap, O_RDONLY);
    assert_true(fd >= 0);
    {
        struct stat sb;

        assert_int_equal(fstat(fd, &sb), 0);
        len = (size_t)sb.st_size;
        *out = mt_calloc(1, len + 1);
        assert_non_null(*out);
        assert_int_equal(read(fd, *out, len), (ssize_t)len);
    }
    close(fd);
    return rc;
}

static void
test_cli(void **state)
{
    char path[300], missing[300], *out = NULL, want[65];
    struct lines ls;
    json_t *j;

    (void)state;
    new_path(path, sizeof(path));
    make_log(path, 3);
    read_lines(path, &ls);
    hash_hex(ls.l[2], strlen(ls.l[2]), want);

    assert_int_equal(run_cmd(&out, 3, "verify", path, NULL), MT_EXIT_OK);
    assert_non_null(strstr(out, "3 lines"));
    assert_non_null(strstr(out, want));
    mt_free(out);

    assert_int_equal(run_cmd(&out, 4, "verify", path, "--json"), MT_EXIT_OK);
    j = json_loads(out, 0, NULL);
    assert_non_null(j);
    assert_true(json_is_true(json_object_get(j, "intact")));
    assert_int_equal(json_integer_value(json_object_get(j, "lines")), 3);
    assert_string_equal(json_string_value(json_object_get(j, "lastHash")), want);
    json_decref(j);
    mt_free(out);

    /* broken: line 2 deleted */
    mt_free(ls.l[1]);
    ls.l[1] = ls.l[2];
    ls.l[2] = NULL;
    ls.n = 2;
    write_lines(path, &ls);
    free_lines(&ls);
    assert_int_equal(run_cmd(&out, 3, "verify", path, NULL), MT_EXIT_FAIL);
    assert_non_null(strstr(out, "line 2"));
    mt_free(out);
    assert_int_equal(run_cmd(&out, 4, "--json", "verify", path), MT_EXIT_USAGE);
    mt_free(out);
    assert_int_equal(run_cmd(&out, 4, "verify", "--json", path), MT_EXIT_FAIL);
    j = json_loads(out, 0, NULL);
    assert_non_null(j);
    assert_true(json_is_false(json_object_get(j, "intact")));
    assert_int_equal(json_integer_value(json_object_get(j, "badLine")), 2);
    assert_int_equal(json_integer_value(json_object_get(j, "linesVerified")), 1);
    assert_string_equal(json_string_value(json_object_get(j, "error")), "audit_chain_broken");
    json_decref(j);
    mt_free(out);

    /* unreadable and usage */
    snprintf(missing, sizeof(missing), "%s/missing.log", tmp_root);
    assert_int_equal(run_cmd(&out, 3, "verify", missing, NULL), MT_EXIT_USAGE);
    mt_free(out);
    assert_int_equal(run_cmd(&out, 3, "verify", tmp_root, NULL), MT_EXIT_USAGE);
    mt_free(out);
    assert_int_equal(run_cmd(&out, 2, "verify", NULL, NULL), MT_EXIT_USAGE);
    mt_free(out);
    assert_int_equal(run_cmd(&out, 1, NULL, NULL, NULL), MT_EXIT_USAGE);
    mt_free(out);
    assert_int_equal(run_cmd(&out, 3, "check", path, NULL), MT_EXIT_USAGE);
    mt_free(out);
    assert_int_equal(run_cmd(&out, 4, "verify", path, path), MT_EXIT_USAGE);
    mt_free(out);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),       cmocka_unit_test(test_line_bytes),
        cmocka_unit_test(test_reopen_continues), cmocka_unit_test(test_open_refuses_broken_log),
        cmocka_unit_test(test_tampering),        cmocka_unit_test(test_unreadable),
        cmocka_unit_test(test_forbidden_keys),   cmocka_unit_test(test_concurrent_appends),
        cmocka_unit_test(test_out_of_memory),    cmocka_unit_test(test_cli),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
