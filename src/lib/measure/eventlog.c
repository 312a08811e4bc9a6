#include "measure/eventlog.h"

#include <string.h>

#include <openssl/crypto.h>

#include "util/mt_alloc.h"
#include "util/mt_limits.h"

/*
 * The in-memory event log: construction, copies and RTMR replay
 * (dstack.md 3.3-3.6).  JSON text lives in eventlog_json.c.
 */

static int
is_runtime(const struct mt_event *ev)
{
    return ev->event_type == MT_DSTACK_RUNTIME_EVENT_TYPE;
}

/* Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF (as jansson). */
static int
utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0, k, need;
    uint32_t cp, min;

    while (i < n) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        if (s[i] >= 0xc2 && s[i] <= 0xdf) {
            need = 1;
            cp = s[i] & 0x1fu;
            min = 0x80;
        } else if ((s[i] & 0xf0) == 0xe0) {
            need = 2;
            cp = s[i] & 0x0fu;
            min = 0x800;
        } else if (s[i] >= 0xf0 && s[i] <= 0xf4) {
            need = 3;
            cp = s[i] & 0x07u;
            min = 0x10000;
        } else {
            return 0;
        }
        if (n - i - 1 < need)
            return 0;
        for (k = 1; k <= need; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + k] & 0x3fu);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += need + 1;
    }
    return 1;
}

mt_err
mt_eventlog_new(struct mt_eventlog **out)
{
    struct mt_eventlog *log;

    MT_ENSURE(out != NULL, MT_ERR_ARG);
    log = mt_calloc(1, sizeof(*log));
    MT_ENSURE(log != NULL, MT_ERR_NOMEM);
    *out = log;
    return MT_OK;
}

void
mt_eventlog_free(struct mt_eventlog *log)
{
    size_t i;

    if (log == NULL)
        return;
    for (i = 0; i < log->num_events; i++) {
        mt_free(log->events[i].event);
        mt_free(log->events[i].payload);
    }
    mt_free(log->events);
    mt_free(log);
}

/* Room for one more event; the array never grows past MT_MAX_EVENTS. */
static mt_err
reserve_one(struct mt_eventlog *log)
{
    struct mt_event *p;
    size_t cap;

    MT_ENSURE(log->num_events < MT_MAX_EVENTS, MT_ERR_TOO_LARGE);
    if (log->num_events < log->cap)
        return MT_OK;
    cap = log->cap < 16 ? 16 : log->cap * 2;
    if (cap > MT_MAX_EVENTS)
        cap = MT_MAX_EVENTS;
    p = mt_realloc(log->events, cap * sizeof(*p));
    MT_ENSURE(p != NULL, MT_ERR_NOMEM);
    log->events = p;
    log->cap = cap;
    return MT_OK;
}

/* The checks every appended event passes; *name_len = strlen(ev->event). */
static mt_err
check_event(const struct mt_event *ev, size_t *name_len)
{
    size_t n;

    MT_ENSURE(ev->event != NULL && ev->imr < MT_RTMR_COUNT, MT_ERR_ARG);
    MT_ENSURE(ev->payload != NULL || ev->payload_len == 0, MT_ERR_ARG);
    MT_ENSURE(!ev->has_payload == !(is_runtime(ev) || ev->payload_len > 0), MT_ERR_ARG);
    n = strnlen(ev->event, MT_MAX_EVENT_NAME + 1);
    MT_ENSURE(n <= MT_MAX_EVENT_NAME, MT_ERR_TOO_LARGE);
    MT_ENSURE(utf8_valid((const unsigned char *)ev->event, n), MT_ERR_ARG);
    MT_ENSURE(ev->payload_len <= MT_MAX_EVENT_PAYLOAD, MT_ERR_TOO_LARGE);
    *name_len = n;
    return MT_OK;
}

mt_err
mt_eventlog_append_event(struct mt_eventlog *log, const struct mt_event *ev)
{
    struct mt_event copy;
    size_t name_len;
    mt_err e;

    MT_ENSURE(log != NULL && ev != NULL, MT_ERR_ARG);
    MT_GUARD(check_event(ev, &name_len));
    MT_GUARD(reserve_one(log));

    memset(&copy, 0, sizeof(copy));
    copy.imr = ev->imr;
    copy.event_type = ev->event_type;
    copy.has_digest = ev->has_digest ? 1 : 0;
    if (copy.has_digest)
        memcpy(copy.digest, ev->digest, MT_RTMR_SIZE);
    copy.has_payload = ev->has_payload ? 1 : 0;
    copy.payload_len = ev->payload_len;
    copy.event = mt_strndup(ev->event, name_len);
    MT_ENSURE_GOTO(copy.event != NULL, MT_ERR_NOMEM, e, out);
    if (ev->payload_len > 0) {
        copy.payload = mt_malloc(ev->payload_len);
        MT_ENSURE_GOTO(copy.payload != NULL, MT_ERR_NOMEM, e, out);
        memcpy(copy.payload, ev->payload, ev->payload_len);
    }
    log->events[log->num_events++] = copy;
    copy.event = NULL;
    copy.payload = NULL;
    e = MT_OK;
out:
    mt_free(copy.event);
    mt_free(copy.payload);
    return e;
}

mt_err
mt_eventlog_append(struct mt_eventlog *log, uint32_t imr, uint32_t event_type,
                   const uint8_t *digest, const char *event, const uint8_t *payload,
                   size_t payload_len)
{
    struct mt_event ev;
    size_t name_len;

    MT_ENSURE(log != NULL && event != NULL, MT_ERR_ARG);
    memset(&ev, 0, sizeof(ev));
    ev.imr = imr;
    ev.event_type = event_type;
    ev.event = (char *)event;
    ev.payload = (uint8_t *)payload;
    ev.payload_len = payload_len;
    ev.has_payload = is_runtime(&ev) || payload_len > 0;
    if (digest != NULL) {
        memcpy(ev.digest, digest, MT_RTMR_SIZE);
        ev.has_digest = 1;
    } else if (is_runtime(&ev)) {
        /* Check first so a bad argument is reported as such, never hashed. */
        MT_GUARD(check_event(&ev, &name_len));
        MT_GUARD(
            mt_rtmr_event_digest(event_type, event, name_len, payload, payload_len, ev.digest));
        ev.has_digest = 1;
    }
    return mt_eventlog_append_event(log, &ev);
}

mt_err
mt_eventlog_dup(const struct mt_eventlog *log, struct mt_eventlog **out)
{
    struct mt_eventlog *copy = NULL;
    size_t i;
    mt_err e;

    MT_ENSURE(log != NULL && out != NULL, MT_ERR_ARG);
    MT_GUARD_GOTO(mt_eventlog_new(&copy), e, out);
    for (i = 0; i < log->num_events; i++)
        MT_GUARD_GOTO(mt_eventlog_append_event(copy, &log->events[i]), e, out);
    *out = copy;
    copy = NULL;
out:
    mt_eventlog_free(copy);
    return e;
}

/* Replay the IMRs selected by mask; see mt_eventlog_replay. */
static mt_err
replay_mask(const struct mt_eventlog *log, unsigned mask, uint8_t rtmr[MT_RTMR_COUNT][MT_RTMR_SIZE])
{
    struct mt_rtmr_hasher h = {NULL, NULL};
    uint8_t r[MT_RTMR_COUNT][MT_RTMR_SIZE], d[MT_RTMR_SIZE];
    const struct mt_event *ev;
    size_t i;
    mt_err e;

    memset(r, 0, sizeof(r));
    MT_GUARD_GOTO(mt_rtmr_hasher_init(&h), e, out);
    for (i = 0; i < log->num_events; i++) {
        ev = &log->events[i];
        MT_ENSURE_GOTO(ev->imr < MT_RTMR_COUNT, MT_ERR_EVENTLOG_FORMAT, e, out);
        if ((mask & (1u << ev->imr)) == 0)
            continue;
        if (is_runtime(ev)) {
            /* Always recomputed: real stripped logs carry "" here (dstack.md 3.3). */
            MT_GUARD_GOTO(mt_rtmr_event_digest_with(&h, ev->event_type, ev->event,
                                                    strlen(ev->event), ev->payload, ev->payload_len,
                                                    d),
                          e, out);
            MT_ENSURE_GOTO(!ev->has_digest || CRYPTO_memcmp(d, ev->digest, MT_RTMR_SIZE) == 0,
                           MT_ERR_EVENTLOG_DIGEST, e, out);
        } else {
            MT_ENSURE_GOTO(ev->has_digest, MT_ERR_EVENTLOG_FORMAT, e, out);
            memcpy(d, ev->digest, MT_RTMR_SIZE);
        }
        MT_GUARD_GOTO(mt_rtmr_extend_with(&h, r[ev->imr], d), e, out);
    }
    memcpy(rtmr, r, sizeof(r));
out:
    mt_rtmr_hasher_fini(&h);
    return e;
}

mt_err
mt_eventlog_replay(const struct mt_eventlog *log, uint8_t rtmr[MT_RTMR_COUNT][MT_RTMR_SIZE])
{
    MT_ENSURE(log != NULL && rtmr != NULL, MT_ERR_ARG);
    return replay_mask(log, (1u << MT_RTMR_COUNT) - 1, rtmr);
}

mt_err
mt_eventlog_verify_rtmrs(const struct mt_eventlog *log,
                         const uint8_t quoted[MT_RTMR_COUNT][MT_RTMR_SIZE], unsigned mask)
{
    uint8_t r[MT_RTMR_COUNT][MT_RTMR_SIZE];
    unsigned i;

    MT_ENSURE(log != NULL && quoted != NULL, MT_ERR_ARG);
    MT_ENSURE(mask != 0 && mask < (1u << MT_RTMR_COUNT), MT_ERR_ARG);
    MT_GUARD(replay_mask(log, mask, r));
    for (i = 0; i < MT_RTMR_COUNT; i++) {
        if ((mask & (1u << i)) != 0)
            MT_ENSURE(CRYPTO_memcmp(r[i], quoted[i], MT_RTMR_SIZE) == 0, MT_ERR_RTMR_MISMATCH);
    }
    return MT_OK;
}

const struct mt_event *
mt_eventlog_find(const struct mt_eventlog *log, const char *name, size_t before)
{
    const struct mt_event *ev;
    size_t i, n;

    if (log == NULL || name == NULL)
        return NULL;
    n = before < log->num_events ? before : log->num_events;
    for (i = 0; i < n; i++) {
        ev = &log->events[i];
        if (ev->imr == 3 && is_runtime(ev) && strcmp(ev->event, name) == 0)
            return ev;
    }
    return NULL;
}
