#ifndef MT_ALLOC_H
#define MT_ALLOC_H

#include <stddef.h>

/*
 * The only allocation entry points (STYLE.md section 4 items 10 and 14).
 * Tests can make the Nth allocation fail to walk every out-of-memory path;
 * production code never sets the hook.
 */
void *mt_malloc(size_t n);
void *mt_calloc(size_t count, size_t size);
void *mt_realloc(void *p, size_t n);
char *mt_strdup(const char *s);
char *mt_strndup(const char *s, size_t n);
void mt_free(void *p);
/* Free memory that a library allocated with the C allocator (jansson's json_dumps). */
void mt_free_libc(void *p);

/* Fail the nth allocation from now on (1 = the next one); 0 disables. */
void mt_alloc_fail_at(unsigned long nth);
/* Allocations counted since the hook was last set. */
unsigned long mt_alloc_count(void);

#endif
