#include "util/mt_secret.h"

#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "util/mt_alloc.h"

static size_t
page_size(void)
{
    long ps = sysconf(_SC_PAGESIZE);

    /* 4096 is right on every platform we target; sysconf failing is theoretical. */
    return ps > 0 ? (size_t)ps : 4096u;
}

/* Set once by mt_secret_heap_init, before other threads exist; read-only afterwards. */
static int heap_protected;

mt_err
mt_secret_heap_init(size_t heap_bytes, int *protected_)
{
    int r;

    *protected_ = 0;
    /* Both must be powers of two; the smallest unit holds a 32-byte key. */
    r = CRYPTO_secure_malloc_init(heap_bytes, 32);
    MT_ENSURE(r != 0, MT_ERR_CRYPTO);
    heap_protected = r == 1; /* 2: made, but mlock or madvise failed */
    *protected_ = heap_protected;
    return MT_OK;
}

/* From the secure heap when it is protected and has room; 0 otherwise. */
static int
secure_heap_new(size_t len, struct mt_secret *out)
{
    uint8_t *p;

    if (!heap_protected || len > MT_SECRET_HEAP_MAX_ITEM)
        return 0;
    p = CRYPTO_secure_zalloc(len, NULL, 0);
    if (p == NULL)
        return 0;
    memset(out, 0, sizeof(*out));
    out->p = p;
    out->len = len;
    out->flags = MT_SECRET_LOCKED | MT_SECRET_NODUMP | MT_SECRET_SECURE_HEAP;
    return 1;
}

mt_err
mt_secret_new(size_t len, struct mt_secret *out)
{
    size_t ps = page_size(), span;
    uintptr_t a;
    uint8_t *base, *p;

    MT_ENSURE(out != NULL && len > 0, MT_ERR_ARG);
    MT_ENSURE(len <= MT_SECRET_MAX, MT_ERR_TOO_LARGE);
    if (secure_heap_new(len, out))
        return MT_OK;
    span = (len + ps - 1) / ps * ps;
    /*
     * One spare page lets p start on a page boundary inside the block, so
     * [p, p + span) is ours alone: madvise needs an aligned start, and
     * munlock at free time must not unlock pages another object shares.
     * mt_malloc (not mmap) keeps the allocation under the failure hook.
     */
    base = mt_malloc(span + ps);
    MT_ENSURE(base != NULL, MT_ERR_NOMEM);
    a = (uintptr_t)base;
    p = base + ((ps - a % ps) % ps);
    memset(p, 0, span);
    memset(out, 0, sizeof(*out));
    if (mlock(p, span) == 0)
        out->flags |= MT_SECRET_LOCKED;
#ifdef MADV_DONTDUMP
    if (madvise(p, span, MADV_DONTDUMP) == 0)
        out->flags |= MT_SECRET_NODUMP;
#endif
    out->p = p;
    out->len = len;
    out->base_ = base;
    out->span_ = span;
    return MT_OK;
}

void
mt_secret_free(struct mt_secret *s)
{
    if (s == NULL)
        return;
    if (s->p != NULL && (s->flags & MT_SECRET_SECURE_HEAP)) {
        CRYPTO_secure_clear_free(s->p, s->len, NULL, 0);
    } else if (s->p != NULL) {
        OPENSSL_cleanse(s->p, s->span_);
        if (s->flags & MT_SECRET_LOCKED)
            (void)munlock(s->p, s->span_);
#ifdef MADV_DODUMP
        /* The pages go back to the heap; later owners should appear in dumps as usual. */
        if (s->flags & MT_SECRET_NODUMP)
            (void)madvise(s->p, s->span_, MADV_DODUMP);
#endif
        mt_free(s->base_);
    }
    memset(s, 0, sizeof(*s));
}

int
mt_secret_eq(const struct mt_secret *s, const uint8_t *b, size_t n)
{
    if (s == NULL || b == NULL || s->p == NULL || s->len != n)
        return 0;
    return CRYPTO_memcmp(s->p, b, n) == 0;
}
