#include "mhd_test.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/mt_buf.h"

void
mt_test_sleep_unless(const atomic_int *stopping, unsigned long ms)
{
    struct timespec ts = {0, 5 * 1000 * 1000};
    unsigned long waited = 0;

    while (waited < ms && atomic_load(stopping) == 0) {
        nanosleep(&ts, NULL);
        waited += 5;
    }
}

static ssize_t
fill_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    const size_t *total = cls;
    size_t n;

    if (pos >= *total)
        return MHD_CONTENT_READER_END_OF_STREAM;
    n = max;
    if ((uint64_t)n > *total - pos)
        n = (size_t)(*total - pos);
    memset(buf, 'x', n);
    return (ssize_t)n;
}

struct MHD_Response *
mt_test_filler_response(size_t total, int chunked)
{
    struct MHD_Response *resp;
    size_t *state = malloc(sizeof(*state));

    if (state == NULL)
        return NULL;
    *state = total;
    resp = MHD_create_response_from_callback(chunked ? MHD_SIZE_UNKNOWN : total, 16384, fill_reader,
                                             state, free);
    if (resp == NULL)
        free(state);
    return resp;
}

void
mt_test_free_buf_body(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode t)
{
    struct mt_buf *b = *con_cls;

    (void)cls;
    (void)c;
    (void)t;
    if (b != NULL) {
        mt_buf_free(b);
        free(b);
    }
    *con_cls = NULL;
}
