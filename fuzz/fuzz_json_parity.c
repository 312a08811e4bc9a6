/* Target: mt_json_parse_yajl against json_loadb, mt_json_dumps against json_dumps (differential) */

/*
 * The yajl-driven parser behind mt_json_parse must accept exactly what
 * json_loadb(JSON_REJECT_DUPLICATES) accepts and build an equal tree, for
 * the text it is given (text without a backslash, which mt_json_parse sends
 * to jansson, and without NUL bytes, which it refuses).  And for every tree
 * jansson parses (escapes included), mt_json_dumps must write exactly what
 * json_dumps writes, with and without JSON_ENSURE_ASCII.  Any disagreement
 * aborts.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/mt_alloc.h"
#include "util/mt_json.h"
#include "util/mt_json_dump.h"
#include "util/mt_json_yajl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* mt_json_dumps(tree) == json_dumps(tree), both flag sets; v is any parsed value. */
static void
check_dump(const json_t *v)
{
    static const size_t flags[] = {0, JSON_ENSURE_ASCII};
    char *want, *got;
    size_t i, len;
    mt_err e;

    if (!json_is_object(v) && !json_is_array(v))
        return;
    for (i = 0; i < 2; i++) {
        want = json_dumps(v, JSON_COMPACT | flags[i]);
        e = mt_json_dumps(v, flags[i], &got, &len);
        if (want == NULL || e != MT_OK || len != strlen(want) || strcmp(want, got) != 0) {
            fprintf(stderr, "fuzz_json_parity: dumps differ (flags %zu): %s\n", flags[i],
                    mt_err_code(e));
            abort();
        }
        free(want);
        mt_free(got);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t jerr;
    json_t *want, *got = NULL, *via = NULL;
    mt_err e, ev;

    if (size > 65536)
        return 0;
    want = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &jerr);
    if (want != NULL)
        check_dump(want);
    /* NUL bytes: refused by design where jansson has a quirk (mt_json_yajl.c). */
    if (memchr(data, '\\', size) != NULL || memchr(data, '\0', size) != NULL) {
        json_decref(want);
        return 0;
    }
    e = mt_json_parse_yajl((const char *)data, size, &got);
    if ((want != NULL) != (e == MT_OK)) {
        fprintf(stderr, "fuzz_json_parity: jansson %s (%s), yajl path %s\n",
                want != NULL ? "accepted" : "refused", want != NULL ? "" : jerr.text,
                mt_err_code(e));
        abort();
    }
    if (want != NULL && !json_equal(want, got)) {
        fprintf(stderr, "fuzz_json_parity: trees differ\n");
        abort();
    }
    if (e != MT_OK && (e != MT_ERR_JSON || got != NULL))
        abort();
    /* The public entry point agrees too. */
    ev = mt_json_parse((const char *)data, size, 65536, &via);
    if (ev != e || (via != NULL) != (got != NULL) || (via != NULL && !json_equal(via, got)))
        abort();
    json_decref(want);
    json_decref(got);
    json_decref(via);
    return 0;
}
