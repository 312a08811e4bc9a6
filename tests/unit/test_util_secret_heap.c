#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include <openssl/crypto.h>

#include "util/mt_secret.h"

#include "mt_testlib.h"

/*
 * mt_secret with OpenSSL's secure heap (mt_secret_heap_init), in a process
 * of its own since the heap is process-wide: small secrets come from the
 * heap when it is protected, larger ones and the overflow of a full heap
 * get their own locked pages, and every secret goes back (the heap ends
 * empty).  Without a protected heap (no mlock here), every secret must keep
 * its own pages: that branch is asserted instead, and said.
 */

#define HEAP_BYTES 4096u /* 128 secrets of 32 bytes */
#define MANY 160

static int protected_heap;

static int
setup(void **state)
{
    (void)state;
    return mt_secret_heap_init(HEAP_BYTES, &protected_heap) == MT_OK ? 0 : -1;
}

static void
test_small_secrets_use_the_heap(void **state)
{
    struct mt_secret s, big;

    (void)state;
    print_message("secure heap %s\n", protected_heap ? "protected" : "NOT protected (no mlock)");
    EXPECT_OK(mt_secret_new(32, &s));
    assert_int_equal(s.len, 32);
    assert_int_equal(CRYPTO_secure_allocated(s.p), protected_heap);
    if (protected_heap) {
        assert_int_equal(s.flags, MT_SECRET_LOCKED | MT_SECRET_NODUMP | MT_SECRET_SECURE_HEAP);
        assert_true(CRYPTO_secure_used() >= 32);
    } else {
        assert_int_equal(s.flags & MT_SECRET_SECURE_HEAP, 0);
    }
    s.p[0] = 0x5a;
    s.p[31] = 0xa5;
    /* Larger than MT_SECRET_HEAP_MAX_ITEM: its own pages, whatever the heap. */
    EXPECT_OK(mt_secret_new(MT_SECRET_HEAP_MAX_ITEM + 1, &big));
    assert_int_equal(CRYPTO_secure_allocated(big.p), 0);
    assert_int_equal(big.flags & MT_SECRET_SECURE_HEAP, 0);
    assert_int_equal((uintptr_t)big.p % 4096u, 0);
    assert_true(mt_secret_eq(&big, (const uint8_t[MT_SECRET_HEAP_MAX_ITEM + 1]){0}, big.len));
    mt_secret_free(&big);
    mt_secret_free(&s);
    assert_null(s.p);
    assert_int_equal(CRYPTO_secure_used(), 0);
}

/* A full heap: the rest get their own pages; all of them free cleanly. */
static void
test_full_heap_falls_back(void **state)
{
    static struct mt_secret s[MANY];
    int i, in_heap = 0, own = 0;

    (void)state;
    for (i = 0; i < MANY; i++) {
        EXPECT_OK(mt_secret_new(32, &s[i]));
        memset(s[i].p, i, 32);
        if (s[i].flags & MT_SECRET_SECURE_HEAP) {
            assert_int_equal(CRYPTO_secure_allocated(s[i].p), 1);
            in_heap++;
        } else {
            assert_int_equal((uintptr_t)s[i].p % 4096u, 0);
            own++;
        }
    }
    if (protected_heap) {
        assert_int_equal(in_heap, HEAP_BYTES / 32);
        assert_int_equal(own, MANY - HEAP_BYTES / 32);
    } else {
        assert_int_equal(in_heap, 0);
    }
    for (i = 0; i < MANY; i++) {
        uint8_t want[32];

        memset(want, i, sizeof(want));
        assert_true(mt_secret_eq(&s[i], want, 32)); /* no two secrets overlap */
        mt_secret_free(&s[i]);
    }
    assert_int_equal(CRYPTO_secure_used(), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_secrets_use_the_heap),
        cmocka_unit_test(test_full_heap_falls_back),
    };

    return cmocka_run_group_tests(tests, setup, NULL);
}
