/*
 * struct mt_secret: allocation in pages of its own, the best-effort
 * protections (checked against the kernel's own view in /proc/self when the
 * flags say they took effect), constant-time comparison, wiping frees that
 * are NULL-, zero- and double-safe, and the out-of-memory path.
 */
#include "mt_testlib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/mt_alloc.h"
#include "util/mt_secret.h"

/*
 * The sanitizers replace mlock with a no-op that reports success (locking
 * their shadow memory would exhaust any rlimit), so VmLck cannot be checked.
 */
#if defined(__SANITIZE_ADDRESS__)
#define MLOCK_INTERCEPTED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MLOCK_INTERCEPTED 1
#endif
#endif
#ifndef MLOCK_INTERCEPTED
#define MLOCK_INTERCEPTED 0
#endif

static size_t
pagesz(void)
{
    return (size_t)sysconf(_SC_PAGESIZE);
}

/* VmLck of this process in kB, or -1 when /proc does not say. */
static long
vm_locked_kb(void)
{
    char line[256];
    long kb = -1;
    FILE *f = fopen("/proc/self/status", "r");

    if (f == NULL)
        return -1;
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, "VmLck:", 6) == 0) {
            kb = strtol(line + 6, NULL, 10);
            break;
        }
    }
    fclose(f);
    return kb;
}

/* 1 when the mapping holding addr has the "dd" (do not dump) VmFlag, 0 when not, -1 unknown. */
static int
mapping_dontdump(const void *addr)
{
    char line[512];
    unsigned long long a = (unsigned long long)(uintptr_t)addr, lo, hi;
    char *end;
    int in = 0, r = -1;
    FILE *f = fopen("/proc/self/smaps", "r");

    if (f == NULL)
        return -1;
    while (fgets(line, sizeof(line), f) != NULL) {
        lo = strtoull(line, &end, 16);
        if (end != line && *end == '-') {
            hi = strtoull(end + 1, &end, 16);
            in = a >= lo && a < hi;
            continue;
        }
        if (in && strncmp(line, "VmFlags:", 8) == 0) {
            r = strstr(line, " dd") != NULL;
            break;
        }
    }
    fclose(f);
    return r;
}

static void
test_new_free(void **state)
{
    struct mt_secret s;
    uint8_t want[32];
    size_t i;

    (void)state;
    EXPECT_OK(mt_secret_new(32, &s));
    assert_non_null(s.p);
    assert_int_equal(s.len, 32);
    assert_int_equal((uintptr_t)s.p % pagesz(), 0);
    assert_int_equal(s.flags & ~(MT_SECRET_LOCKED | MT_SECRET_NODUMP), 0);
    for (i = 0; i < s.len; i++)
        assert_int_equal(s.p[i], 0);
    for (i = 0; i < sizeof(want); i++)
        want[i] = (uint8_t)(i * 7 + 1);
    memcpy(s.p, want, sizeof(want));
    assert_true(mt_secret_eq(&s, want, sizeof(want)));
    mt_secret_free(&s);
    assert_null(s.p);
    assert_int_equal(s.len, 0);
    assert_int_equal(s.flags, 0);
    /* twice, NULL, and a zeroed struct are all no-ops */
    mt_secret_free(&s);
    mt_secret_free(NULL);
    memset(&s, 0, sizeof(s));
    mt_secret_free(&s);
}

static void
test_eq(void **state)
{
    struct mt_secret s, empty = {0};
    uint8_t b[16];

    (void)state;
    EXPECT_OK(mt_secret_new(sizeof(b), &s));
    memset(s.p, 0xa5, s.len);
    memset(b, 0xa5, sizeof(b));
    assert_int_equal(mt_secret_eq(&s, b, sizeof(b)), 1);
    b[15] ^= 1;
    assert_int_equal(mt_secret_eq(&s, b, sizeof(b)), 0);
    b[15] ^= 1;
    b[0] ^= 0x80;
    assert_int_equal(mt_secret_eq(&s, b, sizeof(b)), 0);
    b[0] ^= 0x80;
    /* lengths must match exactly: a prefix is not equal */
    assert_int_equal(mt_secret_eq(&s, b, sizeof(b) - 1), 0);
    assert_int_equal(mt_secret_eq(&s, NULL, sizeof(b)), 0);
    assert_int_equal(mt_secret_eq(NULL, b, sizeof(b)), 0);
    assert_int_equal(mt_secret_eq(&empty, b, 0), 0);
    mt_secret_free(&s);
}

static void
test_limits(void **state)
{
    struct mt_secret s, keep;

    (void)state;
    memset(&keep, 0x5c, sizeof(keep));
    s = keep;
    EXPECT_ERR(mt_secret_new(0, &s), MT_ERR_ARG);
    EXPECT_ERR(mt_secret_new(MT_SECRET_MAX + 1, &s), MT_ERR_TOO_LARGE);
    EXPECT_ERR(mt_secret_new(SIZE_MAX, &s), MT_ERR_TOO_LARGE);
    EXPECT_ERR(mt_secret_new(32, NULL), MT_ERR_ARG);
    /* out-params are set only on success */
    assert_memory_equal(&s, &keep, sizeof(s));

    mt_alloc_fail_at(1);
    EXPECT_ERR(mt_secret_new(32, &s), MT_ERR_NOMEM);
    mt_alloc_fail_at(0);
    assert_memory_equal(&s, &keep, sizeof(s));

    EXPECT_OK(mt_secret_new(MT_SECRET_MAX, &s));
    assert_int_equal(s.len, MT_SECRET_MAX);
    s.p[MT_SECRET_MAX - 1] = 1;
    mt_secret_free(&s);

    /* an odd size still gets whole pages */
    EXPECT_OK(mt_secret_new(pagesz() + 1, &s));
    assert_int_equal((uintptr_t)s.p % pagesz(), 0);
    s.p[pagesz()] = 1;
    mt_secret_free(&s);
}

/* Two secrets never share a page, so unlocking one leaves the other locked. */
static void
test_pages_not_shared(void **state)
{
    struct mt_secret a, b;
    long base, now;
    size_t ps = pagesz();

    (void)state;
    base = vm_locked_kb();
    EXPECT_OK(mt_secret_new(32, &a));
    EXPECT_OK(mt_secret_new(32, &b));
    assert_true((uintptr_t)a.p + ps <= (uintptr_t)b.p || (uintptr_t)b.p + ps <= (uintptr_t)a.p);
    if (!MLOCK_INTERCEPTED && base >= 0 && (a.flags & MT_SECRET_LOCKED) &&
        (b.flags & MT_SECRET_LOCKED)) {
        now = vm_locked_kb();
        assert_true(now >= base + 2 * (long)(ps / 1024));
        mt_secret_free(&a);
        now = vm_locked_kb();
        assert_true(now >= base + (long)(ps / 1024));
        mt_secret_free(&b);
        assert_int_equal(vm_locked_kb(), base);
    } else {
        /* mlock refused here (rlimit, no CAP_IPC_LOCK): best effort, so not an error */
        print_message("mlock not effective here; lock accounting not checked\n");
        mt_secret_free(&a);
        mt_secret_free(&b);
    }
}

static void
test_dontdump(void **state)
{
    struct mt_secret s;
    const uint8_t *p;

    (void)state;
    EXPECT_OK(mt_secret_new(64, &s));
    p = s.p;
    if (s.flags & MT_SECRET_NODUMP) {
        assert_int_equal(mapping_dontdump(p), 1);
        mt_secret_free(&s);
        /* the pages went back to the heap with dumping restored */
        assert_int_equal(mapping_dontdump(p), 0);
    } else {
        print_message("MADV_DONTDUMP not available here; not checked\n");
        mt_secret_free(&s);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_free), cmocka_unit_test(test_eq),
        cmocka_unit_test(test_limits),   cmocka_unit_test(test_pages_not_shared),
        cmocka_unit_test(test_dontdump),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
