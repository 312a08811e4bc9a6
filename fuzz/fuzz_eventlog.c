/* Target: mt_eventlog_parse */

/*
 * Any byte string through the dstack event-log parser.  Beyond "no crash, no
 * leak", it checks the round trip: whatever parses serialises (FULL) to text
 * that parses again and serialises to the same text, and the STRIPPED form
 * parses too.  Replay runs on every parsed log; its result is not checked
 * (random logs rarely replay), only that *rtmr is untouched on failure.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "measure/eventlog.h"
#include "util/mt_alloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
require(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_eventlog: contract broken: %s\n", what);
        abort();
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mt_eventlog *log = NULL, *again = NULL, *stripped = NULL;
    uint8_t rtmr[MT_RTMR_COUNT][MT_RTMR_SIZE], before[MT_RTMR_COUNT][MT_RTMR_SIZE];
    char *text = NULL, *text2 = NULL, *stext = NULL;
    mt_err e;

    if (mt_eventlog_parse((const char *)data, size, &log) != MT_OK) {
        require(log == NULL, "*out set on failure");
        return 0;
    }
    require(log->num_events <= log->cap, "count within capacity");

    e = mt_eventlog_to_json(log, MT_EVENTLOG_FULL, &text);
    /* FULL adds computed digests, so only a near-limit input may outgrow the limit. */
    require(e == MT_OK || e == MT_ERR_TOO_LARGE, "to_json(FULL)");
    if (e == MT_OK) {
        require(mt_eventlog_parse(text, strlen(text), &again) == MT_OK, "FULL output parses");
        require(again->num_events == log->num_events, "event count survives");
        require(mt_eventlog_to_json(again, MT_EVENTLOG_FULL, &text2) == MT_OK, "second to_json");
        require(strcmp(text, text2) == 0, "round trip is stable");
    }
    require(mt_eventlog_to_json(log, MT_EVENTLOG_STRIPPED, &stext) == MT_OK, "to_json(STRIPPED)");
    require(mt_eventlog_parse(stext, strlen(stext), &stripped) == MT_OK, "STRIPPED output parses");

    memset(rtmr, 0xa5, sizeof(rtmr));
    memcpy(before, rtmr, sizeof(rtmr));
    e = mt_eventlog_replay(log, rtmr);
    require(e == MT_OK || e == MT_ERR_EVENTLOG_DIGEST || e == MT_ERR_EVENTLOG_FORMAT,
            "replay error code");
    if (e != MT_OK)
        require(memcmp(rtmr, before, sizeof(rtmr)) == 0, "*rtmr changed on failure");
    (void)mt_eventlog_find(log, "app-id", log->num_events);

    mt_free(stext);
    mt_free(text2);
    mt_free(text);
    mt_eventlog_free(stripped);
    mt_eventlog_free(again);
    mt_eventlog_free(log);
    return 0;
}
