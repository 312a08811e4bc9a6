#include "measure/eventlog.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "util/mt_alloc.h"
#include "util/mt_buf.h"
#include "util/mt_hex.h"
#include "util/mt_limits.h"

/*
 * Event logs as JSON text: the strict parser and the dstack-shaped writer
 * (dstack.md 3.3).  The parsing rules are listed in eventlog.h.
 */

enum { K_IMR, K_TYPE, K_DIGEST, K_EVENT, K_PAYLOAD, K_COUNT };

static const char *const keys[K_COUNT] = {"imr", "event_type", "digest", "event", "event_payload"};

/* Map a hex/size failure of a decoded field onto the event-log codes. */
static mt_err
field_err(mt_err e)
{
    return e == MT_ERR_TOO_LARGE || e == MT_ERR_NOMEM ? e : MT_ERR_EVENTLOG_FORMAT;
}

/* Collect the five members of one entry, refusing any other key. */
static mt_err
entry_members(json_t *o, json_t *v[K_COUNT])
{
    const char *key;
    json_t *val;
    size_t k;

    MT_ENSURE(json_is_object(o), MT_ERR_EVENTLOG_FORMAT);
    memset(v, 0, K_COUNT * sizeof(v[0]));
    json_object_foreach(o, key, val)
    {
        for (k = 0; k < K_COUNT; k++) {
            if (strcmp(key, keys[k]) == 0)
                break;
        }
        if (k < K_COUNT) {
            /* jansson already refuses duplicates (JSON_REJECT_DUPLICATES); belt and braces. */
            MT_ENSURE(v[k] == NULL, MT_ERR_EVENTLOG_FORMAT);
            v[k] = val;
            continue;
        }
        /*
         * Event-log V2 (dstack.md 10, unreleased at HEAD) marks entries with
         * "version": 2 and hashes an RFC 8785 JSON preimage instead of the V1
         * LE32 || ':' || name || ':' || payload.  Replaying such an entry as
         * V1 would give a wrong RTMR3 (or, with a caller that trusts the
         * digest field, accept a value we never checked), so V2 is refused
         * until it is implemented.  An explicit "version": 1 is plain V1.
         */
        MT_ENSURE(strcmp(key, "version") == 0, MT_ERR_EVENTLOG_FORMAT);
        MT_ENSURE(json_is_integer(val) && json_integer_value(val) == 1, MT_ERR_EVENTLOG_FORMAT);
    }
    for (k = 0; k < K_COUNT; k++)
        MT_ENSURE(v[k] != NULL, MT_ERR_EVENTLOG_FORMAT);
    return MT_OK;
}

static mt_err
parse_entry(struct mt_eventlog *log, json_t *o)
{
    json_t *v[K_COUNT];
    struct mt_event ev;
    const char *s;
    size_t n;
    json_int_t i;
    mt_err e;

    MT_GUARD(entry_members(o, v));
    memset(&ev, 0, sizeof(ev));

    MT_ENSURE(json_is_integer(v[K_IMR]), MT_ERR_EVENTLOG_FORMAT);
    i = json_integer_value(v[K_IMR]);
    MT_ENSURE(i >= 0 && i < MT_RTMR_COUNT, MT_ERR_EVENTLOG_FORMAT);
    ev.imr = (uint32_t)i;

    MT_ENSURE(json_is_integer(v[K_TYPE]), MT_ERR_EVENTLOG_FORMAT);
    i = json_integer_value(v[K_TYPE]);
    MT_ENSURE(i >= 0 && i <= (json_int_t)UINT32_MAX, MT_ERR_EVENTLOG_FORMAT);
    ev.event_type = (uint32_t)i;

    MT_ENSURE(json_is_string(v[K_DIGEST]), MT_ERR_EVENTLOG_FORMAT);
    s = json_string_value(v[K_DIGEST]);
    n = json_string_length(v[K_DIGEST]);
    if (n > 0) {
        MT_ENSURE(mt_hex_decode_exact(s, n, ev.digest, MT_RTMR_SIZE) == MT_OK,
                  MT_ERR_EVENTLOG_FORMAT);
        ev.has_digest = 1;
    }

    MT_ENSURE(json_is_string(v[K_EVENT]), MT_ERR_EVENTLOG_FORMAT);
    s = json_string_value(v[K_EVENT]);
    n = json_string_length(v[K_EVENT]);
    MT_ENSURE(n <= MT_MAX_EVENT_NAME, MT_ERR_TOO_LARGE);
    MT_ENSURE(strlen(s) == n, MT_ERR_EVENTLOG_FORMAT); /* no NUL inside the name */
    ev.event = (char *)s;

    MT_ENSURE(json_is_string(v[K_PAYLOAD]), MT_ERR_EVENTLOG_FORMAT);
    s = json_string_value(v[K_PAYLOAD]);
    n = json_string_length(v[K_PAYLOAD]);
    MT_ENSURE(n / 2 <= MT_MAX_EVENT_PAYLOAD, MT_ERR_TOO_LARGE);
    if (n > 0) {
        e = mt_hex_decode_alloc(s, n, MT_MAX_EVENT_PAYLOAD, &ev.payload, &ev.payload_len);
        MT_ENSURE(e == MT_OK, field_err(e));
    }
    ev.has_payload = ev.event_type == MT_DSTACK_RUNTIME_EVENT_TYPE || ev.payload_len > 0;

    /* The checks here are a superset of append's except NOMEM and the count. */
    e = mt_eventlog_append_event(log, &ev);
    mt_free(ev.payload);
    return e == MT_ERR_ARG ? MT_ERR_EVENTLOG_FORMAT : e;
}

mt_err
mt_eventlog_parse(const char *json, size_t len, struct mt_eventlog **out)
{
    struct mt_eventlog *log = NULL;
    json_error_t jerr;
    json_t *root = NULL, *item;
    size_t i;
    mt_err e;

    MT_ENSURE(json != NULL && out != NULL, MT_ERR_ARG);
    MT_ENSURE(len <= MT_MAX_EVENTLOG_JSON, MT_ERR_TOO_LARGE);
    /* One value and nothing after it; a duplicate key is an ambiguity an attacker can use. */
    root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    MT_ENSURE_GOTO(root != NULL && json_is_array(root), MT_ERR_EVENTLOG_FORMAT, e, out);
    MT_ENSURE_GOTO(json_array_size(root) <= MT_MAX_EVENTS, MT_ERR_TOO_LARGE, e, out);
    MT_GUARD_GOTO(mt_eventlog_new(&log), e, out);
    json_array_foreach(root, i, item)
    {
        MT_GUARD_GOTO(parse_entry(log, item), e, out);
    }
    *out = log;
    log = NULL;
out:
    mt_eventlog_free(log);
    json_decref(root);
    return e;
}

/*
 * A JSON string escaped exactly as serde_json writes it (dstack is Rust):
 * '"' and '\\' and the control characters below 0x20 are escaped, the short
 * forms where JSON has them, \u00xx with lowercase hex otherwise; everything
 * else, DEL and non-ASCII UTF-8 included, is copied as it is.
 */
static mt_err
put_str(struct mt_buf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s, *start = p;
    char esc[6] = {'\\', 'u', '0', '0', 0, 0};
    size_t n;

    MT_GUARD(mt_buf_append(b, "\"", 1));
    for (; *p != '\0'; p++) {
        if (*p >= 0x20 && *p != '"' && *p != '\\')
            continue;
        MT_GUARD(mt_buf_append(b, start, (size_t)(p - start)));
        start = p + 1;
        n = 2;
        switch (*p) {
        case '"':
        case '\\':
            esc[1] = (char)*p;
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        default:
            esc[1] = 'u';
            esc[4] = hex[*p >> 4];
            esc[5] = hex[*p & 0x0f];
            n = 6;
            break;
        }
        MT_GUARD(mt_buf_append(b, esc, n));
    }
    MT_GUARD(mt_buf_append(b, start, (size_t)(p - start)));
    return mt_buf_append(b, "\"", 1);
}

/* n bytes as a quoted lowercase hex string. */
static mt_err
put_hex(struct mt_buf *b, const uint8_t *p, size_t n)
{
    char chunk[2 * 256 + 1];
    size_t k;

    MT_GUARD(mt_buf_append(b, "\"", 1));
    while (n > 0) {
        k = n < 256 ? n : 256;
        mt_hex_encode(p, k, chunk);
        MT_GUARD(mt_buf_append(b, chunk, 2 * k));
        p += k;
        n -= k;
    }
    return mt_buf_append(b, "\"", 1);
}

static mt_err
put_event(struct mt_buf *b, struct mt_rtmr_hasher *h, const struct mt_event *ev,
          enum mt_eventlog_style style)
{
    int runtime = ev->event_type == MT_DSTACK_RUNTIME_EVENT_TYPE;
    uint8_t d[MT_RTMR_SIZE];
    char head[80];
    int n;

    n = snprintf(head, sizeof(head),
                 "{\"imr\":%" PRIu32 ",\"event_type\":%" PRIu32 ",\"digest\":", ev->imr,
                 ev->event_type);
    MT_ENSURE(n > 0 && (size_t)n < sizeof(head), MT_ERR_INTERNAL);
    MT_GUARD(mt_buf_append(b, head, (size_t)n));
    if (runtime && style == MT_EVENTLOG_STRIPPED) {
        MT_GUARD(mt_buf_append(b, "\"\"", 2));
    } else if (ev->has_digest) {
        MT_GUARD(put_hex(b, ev->digest, MT_RTMR_SIZE));
    } else if (runtime) {
        if (h->md == NULL)
            MT_GUARD(mt_rtmr_hasher_init(h));
        MT_GUARD(mt_rtmr_event_digest_with(h, ev->event_type, ev->event, strlen(ev->event),
                                           ev->payload, ev->payload_len, d));
        MT_GUARD(put_hex(b, d, MT_RTMR_SIZE));
    } else {
        MT_GUARD(mt_buf_append(b, "\"\"", 2));
    }
    MT_GUARD(mt_buf_append_str(b, ",\"event\":"));
    MT_GUARD(put_str(b, ev->event));
    MT_GUARD(mt_buf_append_str(b, ",\"event_payload\":"));
    if (!runtime && style == MT_EVENTLOG_STRIPPED)
        MT_GUARD(mt_buf_append(b, "\"\"", 2));
    else
        MT_GUARD(put_hex(b, ev->payload, ev->payload_len));
    return mt_buf_append(b, "}", 1);
}

mt_err
mt_eventlog_to_json(const struct mt_eventlog *log, enum mt_eventlog_style style, char **out)
{
    struct mt_rtmr_hasher h = {NULL, NULL};
    struct mt_buf b;
    size_t i;
    mt_err e;

    mt_buf_init(&b, MT_MAX_EVENTLOG_JSON);
    MT_ENSURE_GOTO(log != NULL && out != NULL, MT_ERR_ARG, e, out);
    MT_ENSURE_GOTO(style == MT_EVENTLOG_FULL || style == MT_EVENTLOG_STRIPPED, MT_ERR_ARG, e, out);
    MT_GUARD_GOTO(mt_buf_append(&b, "[", 1), e, out);
    for (i = 0; i < log->num_events; i++) {
        if (i > 0)
            MT_GUARD_GOTO(mt_buf_append(&b, ",", 1), e, out);
        MT_GUARD_GOTO(put_event(&b, &h, &log->events[i], style), e, out);
    }
    MT_GUARD_GOTO(mt_buf_append(&b, "]", 1), e, out);
    *out = (char *)mt_buf_take(&b, NULL);
out:
    mt_rtmr_hasher_fini(&h);
    mt_buf_free(&b);
    return e;
}
