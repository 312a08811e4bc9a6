#include "util/mt_alloc.h"

#include <stdlib.h>
#include <string.h>

/*
 * The failure hook is process-wide test state.  It is read without locking:
 * tests that set it are single-threaded, and production never writes it.
 */
static unsigned long fail_at;
static unsigned long counter;

static int
should_fail(void)
{
    if (fail_at == 0)
        return 0;
    counter++;
    return counter == fail_at;
}

void
mt_alloc_fail_at(unsigned long nth)
{
    fail_at = nth;
    counter = 0;
}

unsigned long
mt_alloc_count(void)
{
    return counter;
}

void *
mt_malloc(size_t n)
{
    if (should_fail())
        return NULL;
    return malloc(n == 0 ? 1 : n);
}

void *
mt_calloc(size_t count, size_t size)
{
    if (should_fail())
        return NULL;
    return calloc(count == 0 ? 1 : count, size == 0 ? 1 : size);
}

void *
mt_realloc(void *p, size_t n)
{
    if (should_fail())
        return NULL;
    return realloc(p, n == 0 ? 1 : n);
}

char *
mt_strndup(const char *s, size_t n)
{
    char *d;

    d = mt_malloc(n + 1);
    if (d == NULL)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *
mt_strdup(const char *s)
{
    return mt_strndup(s, strlen(s));
}

void
mt_free(void *p)
{
    free(p);
}

void
mt_free_libc(void *p)
{
    free(p);
}
