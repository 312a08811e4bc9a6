#ifndef MT_TESTLIB_H
#define MT_TESTLIB_H

/*
 * Helpers shared by the unit tests.  cmocka must be included by the test
 * first (it needs stdarg/stddef/setjmp).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <sys/types.h>

#include <cmocka.h>
#include <jansson.h>

#include "util/mt_err.h"

/* Assert that an expression returns exactly the given mt_err, naming both on failure. */
#define EXPECT_ERR(expr, want)                                                                     \
    do {                                                                                           \
        mt_err mt_got_ = (expr);                                                                   \
        if (mt_got_ != (want))                                                                     \
            fail_msg("%s: got %s, want %s", #expr, mt_err_code(mt_got_), mt_err_code(want));       \
    } while (0)
#define EXPECT_OK(expr) EXPECT_ERR(expr, MT_OK)

/*
 * The shared/ folder beside the checkout.  Tests that need it call
 * mt_test_require_shared() first: it FAILS (never skips) with a message
 * saying the folder is absent.
 */
const char *mt_test_shared_dir(void);
void mt_test_require_shared(void);

/* Read a file below shared/ (path relative to it); fails the test if unreadable. */
uint8_t *mt_test_read_shared(const char *rel, size_t *len);
/* Read any file; fails the test if unreadable.  NUL-terminated; free with mt_free. */
uint8_t *mt_test_read_file(const char *path, size_t *len);
/* Parse a JSON file below shared/; fails the test if unreadable or malformed. */
json_t *mt_test_load_shared_json(const char *rel);
/*
 * The member of root at a '/'-separated path ("a/0/b": array indices as
 * numbers); fails the test when there is none.  Borrowed from root.
 */
json_t *mt_test_json_at(json_t *root, const char *path);

/* Hex of b as a static buffer (tests only; not reentrant). */
const char *mt_test_hex(const uint8_t *b, size_t n);

/*
 * Run the built CLI with arguments (NULL-terminated), capturing stdout into
 * *out (mt_free) and returning its exit status (or -1).
 */
int mt_test_run_cli(char **out, const char *arg, ...);

/*
 * A fresh directory "/tmp/<prefix>-XXXXXX" (mkdtemp) written into dir;
 * returns 0, or -1 when it cannot be made.
 */
int mt_test_mkdtemp(char *dir, size_t len, const char *prefix);
/* rm -rf dir; returns 0, or -1 when that fails. */
int mt_test_rm_rf(const char *dir);

/*
 * A whole file as a NUL-terminated string (free with free()).  A file that
 * cannot be opened is "" when missing_ok, else fails the test.
 */
char *mt_test_slurp(const char *path, int missing_ok);

/*
 * One HTTP request with libcurl: method on url, with a "Content-Type:"
 * header (empty when content_type is NULL) and body (none when NULL),
 * within timeout_s seconds.  The answer's body is appended to *buf.
 * Returns the status, or -1 when the request failed.
 */
struct mt_buf;
long mt_test_http(const char *url, const char *method, const char *content_type, const char *body,
                  size_t body_len, long timeout_s, struct mt_buf *buf);

/*
 * Start argv[0] with argv (NULL-terminated), its stderr to /dev/null; the
 * child exits 126 when that fails and 127 when exec fails.  Returns its pid.
 */
pid_t mt_test_spawn_quiet(const char *const *argv);
/* SIGTERM to pid, reap it, and require that it exited with status 0. */
void mt_test_stop_process(pid_t pid);

#endif
