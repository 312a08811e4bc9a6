#ifndef MT_MHD_TEST_H
#define MT_MHD_TEST_H

/* Pieces the fake HTTP servers of the test library (stubs, release server) share. */

#include <stdatomic.h>
#include <stddef.h>

#include <microhttpd.h>

/* Sleep up to ms milliseconds in 5 ms steps, returning early once *stopping is set. */
void mt_test_sleep_unless(const atomic_int *stopping, unsigned long ms);

/*
 * A response of total 'x' bytes generated on the fly (for size-limit tests),
 * sent chunked (no Content-Length) when chunked is set.  NULL on failure.
 */
struct MHD_Response *mt_test_filler_response(size_t total, int chunked);

/*
 * An MHD_OPTION_NOTIFY_COMPLETED callback for servers whose per-request
 * state (*con_cls) is a struct mt_buf allocated with malloc: frees it.
 */
void mt_test_free_buf_body(void *cls, struct MHD_Connection *c, void **con_cls,
                           enum MHD_RequestTerminationCode t);

#endif
