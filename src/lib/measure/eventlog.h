#ifndef MT_MEASURE_EVENTLOG_H
#define MT_MEASURE_EVENTLOG_H

#include <stddef.h>
#include <stdint.h>

#include "measure/rtmr.h"
#include "util/mt_err.h"

/*
 * dstack event logs (dstack.md 3.3) and RTMR replay (3.5).
 *
 * A "runtime event" is an event whose event_type is
 * MT_DSTACK_RUNTIME_EVENT_TYPE; every other event is a boot event.
 * Only the V1 runtime-event digest of dstack.md 3.4 is supported: event-log
 * V2 entries (dstack.md 10, unreleased) are refused, never mis-replayed.
 *
 * Parsing (mt_eventlog_parse) is strict:
 *  - the text is one JSON array (whitespace around it allowed, nothing else),
 *    at most MT_MAX_EVENTLOG_JSON bytes and MT_MAX_EVENTS entries;
 *  - every entry is an object with exactly the keys imr, event_type, digest,
 *    event, event_payload, in any order, no key twice.  The one extra key
 *    accepted is "version" with the integer value 1 (an explicit V1 entry),
 *    which is dropped on output; "version" with any other value (V2 is 2),
 *    "preimage" or any other key is MT_ERR_EVENTLOG_FORMAT;
 *  - imr is an integer 0..3, event_type an integer 0..2^32-1;
 *  - digest is "" or exactly 96 hex digits, event_payload an even number of
 *    hex digits; hex is upper or lower case, no "0x" prefix (dstack writes
 *    lowercase without a prefix; output is always lowercase);
 *  - event is a string of at most MT_MAX_EVENT_NAME bytes of UTF-8 without
 *    NUL; the payload decodes to at most MT_MAX_EVENT_PAYLOAD bytes.
 * Size limits fail with MT_ERR_TOO_LARGE, everything else with
 * MT_ERR_EVENTLOG_FORMAT.
 */

struct mt_event {
    uint32_t imr;                 /* 0..3 */
    uint32_t event_type;          /* MT_DSTACK_RUNTIME_EVENT_TYPE for runtime events */
    uint8_t digest[MT_RTMR_SIZE]; /* valid when has_digest */
    int has_digest;               /* 0 when the log carried "" (stripped runtime events) */
    char *event;                  /* name, NUL-terminated, never NULL ("" for boot events) */
    uint8_t *payload;             /* may be NULL when payload_len == 0 */
    size_t payload_len;
    /*
     * 0 when the log carried "" for a boot event: such an event was stripped
     * or is genuinely empty, the log cannot say which.  Runtime events always
     * have a payload (possibly empty), so has_payload is 1 for them; the rule
     * for any event is has_payload == (runtime || payload_len > 0).
     */
    int has_payload;
};

struct mt_eventlog {
    struct mt_event *events;
    size_t num_events;
    size_t cap;
};

MT_WUR mt_err mt_eventlog_new(struct mt_eventlog **out);
/* Parse a dstack event-log JSON array (rules above).  *out only on success. */
MT_WUR mt_err mt_eventlog_parse(const char *json, size_t len, struct mt_eventlog **out);
MT_WUR mt_err mt_eventlog_dup(const struct mt_eventlog *log, struct mt_eventlog **out);

/*
 * Append an event (copies name and payload).  For a runtime event, digest may
 * be NULL: the V1 digest is computed.  A supplied digest is stored as given
 * (replay checks it).  For a boot event a NULL digest stores has_digest = 0.
 * has_payload follows the rule above.  Fails, leaving the log unchanged, with
 * MT_ERR_ARG (imr > 3, NULL name, NULL payload with a length, name not UTF-8),
 * MT_ERR_TOO_LARGE (name, payload or event count over its limit) or
 * MT_ERR_NOMEM.
 */
MT_WUR mt_err mt_eventlog_append(struct mt_eventlog *log, uint32_t imr, uint32_t event_type,
                                 const uint8_t *digest, const char *event, const uint8_t *payload,
                                 size_t payload_len);
/*
 * Append a copy of ev exactly as given (has_digest and has_payload too).
 * Same checks as mt_eventlog_append, plus: has_payload must follow the rule
 * above (MT_ERR_ARG).
 */
MT_WUR mt_err mt_eventlog_append_event(struct mt_eventlog *log, const struct mt_event *ev);

enum mt_eventlog_style { MT_EVENTLOG_FULL = 0, MT_EVENTLOG_STRIPPED = 1 };

/*
 * JSON array text exactly as dstack returns it: one compact object per event
 * with the keys imr, event_type, digest, event, event_payload in that order,
 * lowercase hex, strings escaped as serde_json does, no trailing newline.
 *  FULL (simulators, agents <= 0.5.5, tcb_info): every field.  A runtime
 *    event without a digest gets its computed V1 digest; a boot event without
 *    a digest or payload gets "".
 *  STRIPPED (real TDX agent >= 0.5.6, dstack.md 3.3): boot events carry
 *    event_payload "", runtime events carry digest "".
 * Output is limited to MT_MAX_EVENTLOG_JSON (MT_ERR_TOO_LARGE).  *out is
 * NUL-terminated, freed with mt_free, set only on success.
 */
MT_WUR mt_err mt_eventlog_to_json(const struct mt_eventlog *log, enum mt_eventlog_style style,
                                  char **out);

/*
 * Replay all four RTMRs from zero (dstack.md 3.5).  Runtime events' digests
 * are always recomputed from (event_type, event, payload); a digest supplied
 * for a runtime event must equal the recomputed one (MT_ERR_EVENTLOG_DIGEST:
 * dstack itself ignores it, we refuse a log that contradicts itself).  Boot
 * events extend their digest and need one (MT_ERR_EVENTLOG_FORMAT when it was
 * stripped).  rtmr is written only on success.
 */
MT_WUR mt_err mt_eventlog_replay(const struct mt_eventlog *log,
                                 uint8_t rtmr[MT_RTMR_COUNT][MT_RTMR_SIZE]);

/*
 * Replay only the RTMRs selected by mask (bit i = RTMR i, 1..15) and compare
 * each with quoted[i]: MT_ERR_RTMR_MISMATCH on any difference.  Events of
 * unselected IMRs are not examined at all, so a verifier that relies on RTMR3
 * only (as dstack does) passes mask 1u << 3 and accepts logs whose boot
 * events were stripped of their digests.
 */
MT_WUR mt_err mt_eventlog_verify_rtmrs(const struct mt_eventlog *log,
                                       const uint8_t quoted[MT_RTMR_COUNT][MT_RTMR_SIZE],
                                       unsigned mask);

/*
 * The first runtime event in IMR 3 with this name at an index below `before`
 * (SIZE_MAX = anywhere), or NULL; its index is (ev - log->events).  Events
 * with the runtime type in IMRs 0..2 are skipped: they do not reach RTMR3, so
 * a verifier that replays only RTMR3 must not read values from them.  Pass
 * the index of "system-ready" as `before` to read the values dstack itself
 * emitted (app-id, compose-hash, instance-id, key-provider; dstack.md 3.6).
 */
const struct mt_event *mt_eventlog_find(const struct mt_eventlog *log, const char *name,
                                        size_t before);

/* NULL-safe. */
void mt_eventlog_free(struct mt_eventlog *log);

#endif
