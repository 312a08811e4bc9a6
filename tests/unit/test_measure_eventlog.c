/*
 * dstack event logs (dstack.md 3.3-3.6, 4, 10): the fixture logs in
 * shared/dstack-fixtures round-trip byte for byte in both styles and replay to
 * the quote's RTMR0-3; appends match repeated extends; every malformed shape
 * is refused with its exact error; find() respects `before` and IMR 3.
 */
#include "mt_testlib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "measure/eventlog.h"
#include "measure/rtmr.h"
#include "util/mt_alloc.h"
#include "util/mt_buf.h"
#include "util/mt_hex.h"
#include "util/mt_limits.h"

#define RT MT_DSTACK_RUNTIME_EVENT_TYPE
#define FULL_PATH "dstack-fixtures/sim-event-log-full.json"
#define STRIPPED_PATH "dstack-fixtures/sim-event-log-stripped.json"
#define D96                                                                                        \
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d" \
    "2e2f"

/* A fixture file without its one trailing newline: dstack's compact text. */
static char *
read_fixture(const char *rel, size_t *len)
{
    uint8_t *b = mt_test_read_shared(rel, len);

    assert_true(*len > 1);
    assert_int_equal(b[*len - 1], '\n');
    assert_int_not_equal(b[*len - 2], '\n');
    b[--*len] = '\0';
    return (char *)b;
}

static struct mt_eventlog *
parse_fixture(const char *rel)
{
    struct mt_eventlog *log = NULL;
    size_t len;
    char *text = read_fixture(rel, &len);

    EXPECT_OK(mt_eventlog_parse(text, len, &log));
    mt_free(text);
    return log;
}

static void
expected_registers(uint8_t rtmr[MT_RTMR_COUNT][MT_RTMR_SIZE])
{
    json_t *exp = mt_test_load_shared_json("dstack-fixtures/sim-expected.json");
    json_t *regs = json_object_get(exp, "quote_registers");
    char key[8];
    const char *hex;
    int i;

    for (i = 0; i < MT_RTMR_COUNT; i++) {
        snprintf(key, sizeof(key), "rtmr%d", i);
        hex = json_string_value(json_object_get(regs, key));
        assert_non_null(hex);
        EXPECT_OK(mt_hex_decode_exact(hex, strlen(hex), rtmr[i], MT_RTMR_SIZE));
    }
    json_decref(exp);
}

static void
expect_json(const struct mt_eventlog *log, enum mt_eventlog_style style, const char *want)
{
    char *got = NULL;

    EXPECT_OK(mt_eventlog_to_json(log, style, &got));
    assert_string_equal(got, want);
    mt_free(got);
}

static void
expect_parse_err(const char *json, mt_err want)
{
    struct mt_eventlog *log = (struct mt_eventlog *)&log; /* sentinel: must stay untouched */

    if (mt_eventlog_parse(json, strlen(json), &log) != want)
        fail_msg("parse %.200s: want %s", json, mt_err_code(want));
    assert_ptr_equal(log, (struct mt_eventlog *)&log);
}

static void
expect_parse_ok(const char *json)
{
    struct mt_eventlog *log = NULL;

    if (mt_eventlog_parse(json, strlen(json), &log) != MT_OK)
        fail_msg("parse %.200s: want ok", json);
    mt_eventlog_free(log);
}

/* ---- fixtures ---------------------------------------------------------------------------- */

static void
test_fixture_full_roundtrip(void **state)
{
    struct mt_eventlog *log;
    size_t flen, slen, i, boot = 0, runtime = 0;
    char *full = read_fixture(FULL_PATH, &flen);
    char *stripped = read_fixture(STRIPPED_PATH, &slen);

    (void)state;
    log = parse_fixture(FULL_PATH);
    assert_int_equal(log->num_events, 33);
    for (i = 0; i < log->num_events; i++) {
        const struct mt_event *ev = &log->events[i];

        assert_true(ev->has_digest);
        assert_true(ev->has_payload || ev->payload_len == 0);
        if (ev->event_type == RT) {
            runtime++;
            assert_int_equal(ev->imr, 3);
            assert_true(ev->has_payload);
        } else {
            boot++;
            assert_string_equal(ev->event, "");
        }
    }
    assert_int_equal(runtime, 9);
    assert_int_equal(boot, 24);
    expect_json(log, MT_EVENTLOG_FULL, full);
    expect_json(log, MT_EVENTLOG_STRIPPED, stripped);
    mt_eventlog_free(log);
    mt_free(full);
    mt_free(stripped);
}

static void
test_fixture_stripped_roundtrip(void **state)
{
    struct mt_eventlog *log, *full;
    size_t slen, i;
    char *stripped = read_fixture(STRIPPED_PATH, &slen);

    (void)state;
    log = parse_fixture(STRIPPED_PATH);
    full = parse_fixture(FULL_PATH);
    assert_int_equal(log->num_events, full->num_events);
    for (i = 0; i < log->num_events; i++) {
        const struct mt_event *s = &log->events[i], *f = &full->events[i];

        assert_int_equal(s->imr, f->imr);
        assert_int_equal(s->event_type, f->event_type);
        assert_string_equal(s->event, f->event);
        if (s->event_type == RT) {
            assert_false(s->has_digest);
            assert_true(s->has_payload);
            assert_int_equal(s->payload_len, f->payload_len);
            if (s->payload_len > 0)
                assert_memory_equal(s->payload, f->payload, s->payload_len);
        } else {
            assert_true(s->has_digest);
            assert_memory_equal(s->digest, f->digest, MT_RTMR_SIZE);
            assert_false(s->has_payload);
            assert_null(s->payload);
        }
    }
    expect_json(log, MT_EVENTLOG_STRIPPED, stripped);
    mt_eventlog_free(log);
    mt_eventlog_free(full);
    mt_free(stripped);
}

/* FULL of a stripped log: runtime digests are filled in, boot payloads stay "". */
static void
test_stripped_to_full(void **state)
{
    struct mt_eventlog *log, *again = NULL, *full;
    char *text = NULL;
    size_t i;

    (void)state;
    log = parse_fixture(STRIPPED_PATH);
    full = parse_fixture(FULL_PATH);
    EXPECT_OK(mt_eventlog_to_json(log, MT_EVENTLOG_FULL, &text));
    EXPECT_OK(mt_eventlog_parse(text, strlen(text), &again));
    for (i = 0; i < again->num_events; i++) {
        assert_true(again->events[i].has_digest);
        assert_memory_equal(again->events[i].digest, full->events[i].digest, MT_RTMR_SIZE);
        if (again->events[i].event_type != RT)
            assert_false(again->events[i].has_payload);
    }
    mt_free(text);
    mt_eventlog_free(again);
    mt_eventlog_free(log);
    mt_eventlog_free(full);
}

static void
test_fixture_replay(void **state)
{
    static const char *const files[] = {FULL_PATH, STRIPPED_PATH};
    uint8_t want[MT_RTMR_COUNT][MT_RTMR_SIZE], got[MT_RTMR_COUNT][MT_RTMR_SIZE];
    struct mt_eventlog *log;
    size_t f;

    (void)state;
    expected_registers(want);
    assert_string_equal(mt_test_hex(want[3], MT_RTMR_SIZE),
                        "f28a1490ee924e9396c2ccf2d93ad536b83cbe159a1d45024d1fd7acdcc102145efcfcd0cf"
                        "a209416446c70226affadf");
    for (f = 0; f < 2; f++) {
        log = parse_fixture(files[f]);
        EXPECT_OK(mt_eventlog_replay(log, got));
        assert_memory_equal(got, want, sizeof(want));
        EXPECT_OK(mt_eventlog_verify_rtmrs(log, (const uint8_t(*)[MT_RTMR_SIZE])want, 0xf));
        EXPECT_OK(mt_eventlog_verify_rtmrs(log, (const uint8_t(*)[MT_RTMR_SIZE])want, 1u << 3));
        mt_eventlog_free(log);
    }
}

/* ---- tampering ------------------------------------------------------------------------------ */

/* Change one hex digit of the n-th occurrence of `field` value in the text. */
static void
flip_digit_after(char *text, const char *anchor)
{
    char *p = strstr(text, anchor);

    assert_non_null(p);
    p += strlen(anchor);
    *p = *p == '0' ? '1' : '0';
}

static void
test_tampered_runtime_digest(void **state)
{
    struct mt_eventlog *log = NULL;
    uint8_t r[MT_RTMR_COUNT][MT_RTMR_SIZE];
    size_t len;
    char *text = read_fixture(FULL_PATH, &len);

    (void)state;
    memset(r, 0x77, sizeof(r));
    flip_digit_after(text, "\"event_type\":134217729,\"digest\":\"");
    EXPECT_OK(mt_eventlog_parse(text, len, &log));
    EXPECT_ERR(mt_eventlog_replay(log, r), MT_ERR_EVENTLOG_DIGEST);
    assert_int_equal(r[0][0], 0x77); /* untouched on failure */
    /* stripping the bad digest makes the log replay again (dstack ignores it) */
    log->events[24].has_digest = 0;
    EXPECT_OK(mt_eventlog_replay(log, r));
    mt_eventlog_free(log);
    mt_free(text);
}

static void
test_tampered_payload_and_boot_digest(void **state)
{
    uint8_t want[MT_RTMR_COUNT][MT_RTMR_SIZE];
    struct mt_eventlog *log = NULL;
    size_t len;
    char *text;

    (void)state;
    expected_registers(want);
    /* A runtime payload changed in a stripped log: RTMR3 no longer matches. */
    text = read_fixture(STRIPPED_PATH, &len);
    flip_digit_after(text, "\"event\":\"app-id\",\"event_payload\":\"");
    EXPECT_OK(mt_eventlog_parse(text, len, &log));
    EXPECT_ERR(mt_eventlog_verify_rtmrs(log, (const uint8_t(*)[MT_RTMR_SIZE])want, 1u << 3),
               MT_ERR_RTMR_MISMATCH);
    EXPECT_OK(mt_eventlog_verify_rtmrs(log, (const uint8_t(*)[MT_RTMR_SIZE])want, 0x7));
    mt_eventlog_free(log);
    mt_free(text);

    /* A boot digest changed: RTMR0 mismatches, RTMR3 alone still verifies. */
    text = read_fixture(FULL_PATH, &len);
    flip_digit_after(text, "\"digest\":\"");
    log = NULL;
    EXPECT_OK(mt_eventlog_parse(text, len, &log));
    EXPECT_ERR(mt_eventlog_verify_rtmrs(log, (const uint8_t(*)[MT_RTMR_SIZE])want, 0xf),
               MT_ERR_RTMR_MISMATCH);
    EXPECT_ERR(mt_eventlog_verify_rtmrs(log, (const uint8_t(*)[MT_RTMR_SIZE])want, 1u << 0),
               MT_ERR_RTMR_MISMATCH);
    EXPECT_OK(mt_eventlog_verify_rtmrs(log, (const uint8_t(*)[MT_RTMR_SIZE])want, 0xe));
    EXPECT_ERR(mt_eventlog_verify_rtmrs(log, (const uint8_t(*)[MT_RTMR_SIZE])want, 0), MT_ERR_ARG);
    EXPECT_ERR(mt_eventlog_verify_rtmrs(log, (const uint8_t(*)[MT_RTMR_SIZE])want, 0x10),
               MT_ERR_ARG);
    EXPECT_ERR(mt_eventlog_verify_rtmrs(NULL, (const uint8_t(*)[MT_RTMR_SIZE])want, 1), MT_ERR_ARG);
    mt_eventlog_free(log);
    mt_free(text);
}

/* A boot event without its digest cannot be replayed; RTMR3 alone still can. */
static void
test_boot_without_digest(void **state)
{
    uint8_t want[MT_RTMR_COUNT][MT_RTMR_SIZE], r[MT_RTMR_COUNT][MT_RTMR_SIZE];
    struct mt_eventlog *log;

    (void)state;
    expected_registers(want);
    log = parse_fixture(FULL_PATH);
    log->events[0].has_digest = 0;
    EXPECT_ERR(mt_eventlog_replay(log, r), MT_ERR_EVENTLOG_FORMAT);
    EXPECT_ERR(mt_eventlog_verify_rtmrs(log, (const uint8_t(*)[MT_RTMR_SIZE])want, 1u << 0),
               MT_ERR_EVENTLOG_FORMAT);
    EXPECT_OK(mt_eventlog_verify_rtmrs(log, (const uint8_t(*)[MT_RTMR_SIZE])want, 0xe));
    mt_eventlog_free(log);
}

/* ---- append --------------------------------------------------------------------------------- */

/* dstack.md 4: EmitEvent calimero.kms.profile on top of the fixture. */
static void
test_append_kms_profile(void **state)
{
    static const char payload[] = "calimero.kms.profile=locked-read-only";
    uint8_t r[MT_RTMR_COUNT][MT_RTMR_SIZE], want[MT_RTMR_COUNT][MT_RTMR_SIZE];
    struct mt_eventlog *log, *again = NULL;
    const struct mt_event *ev;
    char *text = NULL;

    (void)state;
    expected_registers(want);
    log = parse_fixture(STRIPPED_PATH);
    EXPECT_OK(mt_eventlog_append(log, 3, RT, NULL, "calimero.kms.profile", (const uint8_t *)payload,
                                 strlen(payload)));
    assert_int_equal(log->num_events, 34);
    ev = &log->events[33];
    assert_true(ev->has_digest);
    assert_true(ev->has_payload);
    assert_string_equal(mt_test_hex(ev->digest, MT_RTMR_SIZE),
                        "c1bab0788a0e0554c109c96519f55bbd88dd9b185db37f355559f1ef7d26f1a3122213141"
                        "5180727a1f3f45d57f3b0a1");
    EXPECT_OK(mt_eventlog_replay(log, r));
    assert_string_equal(mt_test_hex(r[3], MT_RTMR_SIZE),
                        "0bd47731ff2dda4e40b4afeea40e194e74f531c9ef62f466bb4e9699eee8c5819701b0de2"
                        "33c824653fc94baffdf7972");
    assert_memory_equal(r, want, 3 * MT_RTMR_SIZE);

    /* The serialised form replays the same in both styles. */
    EXPECT_OK(mt_eventlog_to_json(log, MT_EVENTLOG_STRIPPED, &text));
    assert_non_null(strstr(text, ",{\"imr\":3,\"event_type\":134217729,\"digest\":\"\",\"event\":"
                                 "\"calimero.kms.profile\",\"event_payload\":\"63616c696d65726f"));
    EXPECT_OK(mt_eventlog_parse(text, strlen(text), &again));
    memset(want, 0, sizeof(want));
    EXPECT_OK(mt_eventlog_replay(again, want));
    assert_memory_equal(r, want, sizeof(r));
    mt_free(text);
    mt_eventlog_free(again);
    mt_eventlog_free(log);
}

/* Appends then replay == the same extends done by hand. */
static void
test_append_matches_extends(void **state)
{
    static const uint8_t boot_digest[MT_RTMR_SIZE] = {1, 2, 3};
    struct mt_eventlog *log = NULL;
    uint8_t r[MT_RTMR_COUNT][MT_RTMR_SIZE], want[MT_RTMR_COUNT][MT_RTMR_SIZE];
    uint8_t d[MT_RTMR_SIZE], payload[40];
    char name[32];
    int i;

    (void)state;
    memset(want, 0, sizeof(want));
    EXPECT_OK(mt_eventlog_new(&log));
    EXPECT_OK(mt_eventlog_replay(log, r));
    assert_memory_equal(r, want, sizeof(r)); /* empty log: all zero */
    EXPECT_OK(mt_eventlog_append(log, 1, 0x80000003u, boot_digest, "", NULL, 0));
    EXPECT_OK(mt_rtmr_extend(want[1], boot_digest));
    for (i = 0; i < 40; i++) {
        snprintf(name, sizeof(name), "app.event-%d", i);
        memset(payload, i, sizeof(payload));
        EXPECT_OK(mt_eventlog_append(log, 3, RT, NULL, name, payload, (size_t)i));
        EXPECT_OK(mt_rtmr_event_digest(RT, name, strlen(name), payload, (size_t)i, d));
        assert_memory_equal(log->events[log->num_events - 1].digest, d, MT_RTMR_SIZE);
        EXPECT_OK(mt_rtmr_extend(want[3], d));
        EXPECT_OK(mt_eventlog_replay(log, r));
        assert_memory_equal(r, want, sizeof(r));
    }
    /* a runtime event with a caller-supplied digest is stored as given; replay checks it */
    EXPECT_OK(mt_eventlog_append(log, 3, RT, d, "wrong", NULL, 0));
    EXPECT_ERR(mt_eventlog_replay(log, r), MT_ERR_EVENTLOG_DIGEST);
    mt_eventlog_free(log);
}

static void
test_append_boot_flags(void **state)
{
    static const uint8_t pl[] = {0xaa};
    struct mt_eventlog *log = NULL;

    (void)state;
    EXPECT_OK(mt_eventlog_new(&log));
    EXPECT_OK(mt_eventlog_append(log, 0, 1, NULL, "", NULL, 0));
    EXPECT_OK(mt_eventlog_append(log, 2, 1, NULL, "boot", pl, 1));
    EXPECT_OK(mt_eventlog_append(log, 3, RT, NULL, "", NULL, 0));
    assert_false(log->events[0].has_digest);
    assert_false(log->events[0].has_payload);
    assert_true(log->events[1].has_payload);
    assert_true(log->events[2].has_digest);
    assert_true(log->events[2].has_payload);
    assert_null(log->events[2].payload);
    expect_json(
        log, MT_EVENTLOG_FULL,
        "[{\"imr\":0,\"event_type\":1,\"digest\":\"\",\"event\":\"\",\"event_payload\":\"\"},"
        "{\"imr\":2,\"event_type\":1,\"digest\":\"\",\"event\":\"boot\",\"event_payload\":"
        "\"aa\"},{\"imr\":3,\"event_type\":134217729,\"digest\":\"ff43e849def880489a769ce41"
        "7c0d0f1a6453a39f2058090d2037cc38648dd9f7e9fd61b554110201dd2d1bd069399fc\",\"event\""
        ":\"\",\"event_payload\":\"\"}]");
    mt_eventlog_free(log);
}

static void
test_append_errors(void **state)
{
    struct mt_eventlog *log = NULL;
    uint8_t big[MT_MAX_EVENT_PAYLOAD + 1], d[MT_RTMR_SIZE];
    char name[MT_MAX_EVENT_NAME + 2];
    struct mt_event ev;
    size_t i;

    (void)state;
    memset(big, 0, sizeof(big));
    memset(d, 0, sizeof(d));
    EXPECT_ERR(mt_eventlog_new(NULL), MT_ERR_ARG);
    EXPECT_OK(mt_eventlog_new(&log));
    EXPECT_ERR(mt_eventlog_append(NULL, 3, RT, NULL, "x", NULL, 0), MT_ERR_ARG);
    EXPECT_ERR(mt_eventlog_append(log, 4, RT, NULL, "x", NULL, 0), MT_ERR_ARG);
    EXPECT_ERR(mt_eventlog_append(log, 4, 1, d, "", NULL, 0), MT_ERR_ARG);
    EXPECT_ERR(mt_eventlog_append(log, 3, RT, NULL, NULL, NULL, 0), MT_ERR_ARG);
    EXPECT_ERR(mt_eventlog_append(log, 3, RT, NULL, "x", NULL, 1), MT_ERR_ARG);
    EXPECT_ERR(mt_eventlog_append(log, 3, RT, NULL, "bad\xff", NULL, 0), MT_ERR_ARG);
    EXPECT_ERR(mt_eventlog_append(log, 3, RT, NULL, "\xc0\xae", NULL, 0), MT_ERR_ARG);
    EXPECT_ERR(mt_eventlog_append(log, 3, RT, NULL, "\xed\xa0\x80", NULL, 0), MT_ERR_ARG);
    EXPECT_ERR(mt_eventlog_append(log, 3, RT, NULL, "\xe2\x82", NULL, 0), MT_ERR_ARG);
    EXPECT_ERR(mt_eventlog_append(log, 3, RT, NULL, "x", big, sizeof(big)), MT_ERR_TOO_LARGE);
    EXPECT_ERR(mt_eventlog_append(log, 0, 1, d, "x", big, sizeof(big)), MT_ERR_TOO_LARGE);
    memset(name, 'n', sizeof(name));
    name[MT_MAX_EVENT_NAME + 1] = '\0';
    EXPECT_ERR(mt_eventlog_append(log, 3, RT, NULL, name, NULL, 0), MT_ERR_TOO_LARGE);
    assert_int_equal(log->num_events, 0);
    name[MT_MAX_EVENT_NAME] = '\0';
    EXPECT_OK(mt_eventlog_append(log, 3, RT, NULL, name, big, MT_MAX_EVENT_PAYLOAD));
    EXPECT_OK(mt_eventlog_append(log, 3, RT, NULL, "caf\xc3\xa9 \xf0\x9f\x94\x92", NULL, 0));

    /* has_payload must follow the rule */
    memset(&ev, 0, sizeof(ev));
    ev.imr = 3;
    ev.event_type = RT;
    ev.event = (char *)"x";
    EXPECT_ERR(mt_eventlog_append_event(log, &ev), MT_ERR_ARG);
    ev.event_type = 1;
    ev.has_payload = 1;
    EXPECT_ERR(mt_eventlog_append_event(log, &ev), MT_ERR_ARG);
    ev.has_payload = 0;
    EXPECT_OK(mt_eventlog_append_event(log, &ev));
    EXPECT_ERR(mt_eventlog_append_event(log, NULL), MT_ERR_ARG);

    /* the event count is capped */
    while (log->num_events < MT_MAX_EVENTS)
        EXPECT_OK(mt_eventlog_append(log, 3, RT, d, "e", NULL, 0));
    EXPECT_ERR(mt_eventlog_append(log, 3, RT, d, "e", NULL, 0), MT_ERR_TOO_LARGE);
    EXPECT_ERR(mt_eventlog_append_event(log, &ev), MT_ERR_TOO_LARGE);
    assert_int_equal(log->num_events, MT_MAX_EVENTS);
    for (i = 4; i < MT_MAX_EVENTS; i++)
        assert_string_equal(log->events[i].event, "e");
    mt_eventlog_free(log);
    mt_eventlog_free(NULL);
}

/* ---- dup, find, JSON escaping -----------------------------------------------------------------
 */

static void
test_dup(void **state)
{
    struct mt_eventlog *log, *copy = (struct mt_eventlog *)&copy;
    size_t len;
    char *full = read_fixture(FULL_PATH, &len);

    (void)state;
    log = parse_fixture(FULL_PATH);
    EXPECT_ERR(mt_eventlog_dup(NULL, &copy), MT_ERR_ARG);
    assert_ptr_equal(copy, (struct mt_eventlog *)&copy);
    EXPECT_OK(mt_eventlog_dup(log, &copy));
    assert_ptr_not_equal(copy->events, log->events);
    assert_ptr_not_equal(copy->events[30].event, log->events[30].event);
    copy->events[30].event[0] = 'X';
    copy->events[0].payload[0] ^= 1;
    expect_json(log, MT_EVENTLOG_FULL, full);
    mt_eventlog_free(copy);
    EXPECT_OK(mt_eventlog_dup(log, &copy));
    expect_json(copy, MT_EVENTLOG_FULL, full);
    mt_eventlog_free(copy);
    mt_eventlog_free(log);
    mt_free(full);
}

static void
test_find(void **state)
{
    static const uint8_t fake[] = {0xee};
    struct mt_eventlog *log;
    const struct mt_event *ev, *ready, *app;
    size_t ready_at;

    (void)state;
    log = parse_fixture(STRIPPED_PATH);
    app = mt_eventlog_find(log, "app-id", SIZE_MAX);
    assert_non_null(app);
    assert_int_equal(app - log->events, 25);
    assert_string_equal(mt_test_hex(app->payload, app->payload_len),
                        "5bb4ff9a3837357f19dc176407a5709c62eb6c56");
    assert_null(mt_eventlog_find(log, "app-id", 25));
    assert_ptr_equal(mt_eventlog_find(log, "app-id", 26), app);
    assert_null(mt_eventlog_find(log, "app-id", 0));
    assert_null(mt_eventlog_find(log, "no-such-event", SIZE_MAX));
    assert_null(mt_eventlog_find(log, "", SIZE_MAX)); /* boot events are not runtime events */
    assert_null(mt_eventlog_find(NULL, "app-id", SIZE_MAX));
    assert_null(mt_eventlog_find(log, NULL, SIZE_MAX));
    ready = mt_eventlog_find(log, "system-ready", SIZE_MAX);
    assert_non_null(ready);
    ready_at = (size_t)(ready - log->events);
    assert_int_equal(ready_at, log->num_events - 1);

    /* an application emits a second app-id after system-ready: the first one wins */
    EXPECT_OK(mt_eventlog_append(log, 3, RT, NULL, "app-id", fake, 1));
    assert_ptr_equal(mt_eventlog_find(log, "app-id", ready_at), app);
    ev = mt_eventlog_find(log, "compose-hash", ready_at);
    assert_non_null(ev);
    assert_int_equal(ev->payload_len, 32);
    mt_eventlog_free(log);

    /* a runtime-typed event outside IMR 3 never reaches RTMR3 and is skipped */
    EXPECT_OK(mt_eventlog_new(&log));
    EXPECT_OK(mt_eventlog_append(log, 0, RT, NULL, "app-id", fake, 1));
    EXPECT_OK(mt_eventlog_append(log, 3, RT, NULL, "app-id", NULL, 0));
    assert_ptr_equal(mt_eventlog_find(log, "app-id", SIZE_MAX), &log->events[1]);
    mt_eventlog_free(log);
}

static void
test_json_escaping(void **state)
{
    static const char want[] =
        "[{\"imr\":3,\"event_type\":1,\"digest\":\"\",\"event\":\"q\\\"b\\\\s/\\b\\f\\n\\r\\t"
        "\\u0001\\u001f\x7f\xc3\xa9\",\"event_payload\":\"00ff\"}]";
    static const uint8_t pl[] = {0x00, 0xff};
    struct mt_eventlog *log = NULL, *again = NULL;
    char *text = NULL;

    (void)state;
    EXPECT_OK(mt_eventlog_new(&log));
    expect_json(log, MT_EVENTLOG_FULL, "[]");
    expect_json(log, MT_EVENTLOG_STRIPPED, "[]");
    EXPECT_OK(mt_eventlog_append(log, 3, 1, NULL, "q\"b\\s/\b\f\n\r\t\x01\x1f\x7f\xc3\xa9", pl, 2));
    expect_json(log, MT_EVENTLOG_FULL, want);
    EXPECT_OK(mt_eventlog_to_json(log, MT_EVENTLOG_FULL, &text));
    EXPECT_OK(mt_eventlog_parse(text, strlen(text), &again));
    assert_string_equal(again->events[0].event, log->events[0].event);
    expect_json(again, MT_EVENTLOG_FULL, want);
    EXPECT_ERR(mt_eventlog_to_json(log, (enum mt_eventlog_style)2, &text), MT_ERR_ARG);
    EXPECT_ERR(mt_eventlog_to_json(NULL, MT_EVENTLOG_FULL, &text), MT_ERR_ARG);
    mt_free(text);
    mt_eventlog_free(again);
    mt_eventlog_free(log);
}

/* ---- malformed input --------------------------------------------------------------------------
 */

#define ENTRY(imr, type, digest, event, payload)                                                   \
    "{\"imr\":" imr ",\"event_type\":" type ",\"digest\":" digest ",\"event\":" event              \
    ",\"event_payload\":" payload "}"
#define GOOD ENTRY("3", "134217729", "\"\"", "\"x\"", "\"ab\"")

static void
test_parse_malformed(void **state)
{
    static const struct {
        const char *json;
        mt_err want;
    } cases[] = {
        {"", MT_ERR_EVENTLOG_FORMAT},
        {"   ", MT_ERR_EVENTLOG_FORMAT},
        {"{}", MT_ERR_EVENTLOG_FORMAT},
        {"null", MT_ERR_EVENTLOG_FORMAT},
        {"\"[]\"", MT_ERR_EVENTLOG_FORMAT},
        {"[", MT_ERR_EVENTLOG_FORMAT},
        {"[1]", MT_ERR_EVENTLOG_FORMAT},
        {"[[]]", MT_ERR_EVENTLOG_FORMAT},
        {"[null]", MT_ERR_EVENTLOG_FORMAT},
        {"[" GOOD ",]", MT_ERR_EVENTLOG_FORMAT},
        {"[] x", MT_ERR_EVENTLOG_FORMAT},
        {"[][]", MT_ERR_EVENTLOG_FORMAT},
        {"[" GOOD "] {}", MT_ERR_EVENTLOG_FORMAT},
        /* imr */
        {"[" ENTRY("4", "1", "\"\"", "\"\"", "\"\"") "]", MT_ERR_EVENTLOG_FORMAT},
        {"[" ENTRY("-1", "1", "\"\"", "\"\"", "\"\"") "]", MT_ERR_EVENTLOG_FORMAT},
        {"[" ENTRY("1.0", "1", "\"\"", "\"\"", "\"\"") "]", MT_ERR_EVENTLOG_FORMAT},
        {"[" ENTRY("\"3\"", "1", "\"\"", "\"\"", "\"\"") "]", MT_ERR_EVENTLOG_FORMAT},
        {"[" ENTRY("null", "1", "\"\"", "\"\"", "\"\"") "]", MT_ERR_EVENTLOG_FORMAT},
        {"[" ENTRY("99999999999999999999999", "1", "\"\"", "\"\"", "\"\"") "]",
         MT_ERR_EVENTLOG_FORMAT},
        /* event_type */
        {"[" ENTRY("3", "-1", "\"\"", "\"\"", "\"\"") "]", MT_ERR_EVENTLOG_FORMAT},
        {"[" ENTRY("3", "4294967296", "\"\"", "\"\"", "\"\"") "]", MT_ERR_EVENTLOG_FORMAT},
        {"[" ENTRY("3", "\"134217729\"", "\"\"", "\"\"", "\"\"") "]", MT_ERR_EVENTLOG_FORMAT},
        {"[" ENTRY("3", "true", "\"\"", "\"\"", "\"\"") "]", MT_ERR_EVENTLOG_FORMAT},
        /* digest */
        {"[" ENTRY("0", "1", "\"" D96 "0\"", "\"\"", "\"\"") "]", MT_ERR_EVENTLOG_FORMAT},
        {"[" ENTRY("0", "1", "\"" D96 "00\"", "\"\"", "\"\"") "]", MT_ERR_EVENTLOG_FORMAT},
        {"[" ENTRY("0", "1", "\"0x" D96 "\"", "\"\"", "\"\"") "]", MT_ERR_EVENTLOG_FORMAT},
        {"[" ENTRY("0", "1", "\"zz" D96 "\"", "\"\"", "\"\"") "]", MT_ERR_EVENTLOG_FORMAT},
        {"[" ENTRY("0", "1", "null", "\"\"", "\"\"") "]", MT_ERR_EVENTLOG_FORMAT},
        {"[" ENTRY("0", "1", "[]", "\"\"", "\"\"") "]", MT_ERR_EVENTLOG_FORMAT},
        {"[" ENTRY("0", "1", "\"g001020304\"", "\"\"", "\"\"") "]", MT_ERR_EVENTLOG_FORMAT},
        /* event */
        {"[" ENTRY("3", "134217729", "\"\"", "null", "\"\"") "]", MT_ERR_EVENTLOG_FORMAT},
        {"[" ENTRY("3", "134217729", "\"\"", "7", "\"\"") "]", MT_ERR_EVENTLOG_FORMAT},
        {"[" ENTRY("3", "134217729", "\"\"", "\"a\\u0000b\"", "\"\"") "]", MT_ERR_EVENTLOG_FORMAT},
        /* event_payload */
        {"[" ENTRY("3", "134217729", "\"\"", "\"x\"", "\"abc\"") "]", MT_ERR_EVENTLOG_FORMAT},
        {"[" ENTRY("3", "134217729", "\"\"", "\"x\"", "\"zz\"") "]", MT_ERR_EVENTLOG_FORMAT},
        {"[" ENTRY("3", "134217729", "\"\"", "\"x\"", "\"0xab\"") "]", MT_ERR_EVENTLOG_FORMAT},
        {"[" ENTRY("3", "134217729", "\"\"", "\"x\"", "\"a b\"") "]", MT_ERR_EVENTLOG_FORMAT},
        {"[" ENTRY("3", "134217729", "\"\"", "\"x\"", "171") "]", MT_ERR_EVENTLOG_FORMAT},
        {"[" ENTRY("3", "134217729", "\"\"", "\"x\"", "null") "]", MT_ERR_EVENTLOG_FORMAT},
        /* keys */
        {"[{\"imr\":3,\"event_type\":1,\"digest\":\"\",\"event\":\"\"}]", MT_ERR_EVENTLOG_FORMAT},
        {"[{}]", MT_ERR_EVENTLOG_FORMAT},
        {"[{\"imr\":3,\"imr\":3,\"event_type\":1,\"digest\":\"\",\"event\":\"\","
         "\"event_payload\":\"\"}]",
         MT_ERR_EVENTLOG_FORMAT},
        {"[{\"imr\":3,\"event_type\":1,\"digest\":\"\",\"event\":\"\",\"event_payload\":\"\","
         "\"event\":\"\"}]",
         MT_ERR_EVENTLOG_FORMAT},
        {"[{\"imr\":3,\"event_type\":1,\"digest\":\"\",\"event\":\"\",\"event_payload\":\"\","
         "\"extra\":0}]",
         MT_ERR_EVENTLOG_FORMAT},
        {"[{\"IMR\":3,\"event_type\":1,\"digest\":\"\",\"event\":\"\",\"event_payload\":\"\"}]",
         MT_ERR_EVENTLOG_FORMAT},
        /* event-log V2 (dstack.md 10) is refused, as are its preimage and odd versions */
        {"[{\"imr\":3,\"event_type\":134217729,\"digest\":\"\",\"event\":\"compose-hash\","
         "\"event_payload\":\"abcd\",\"version\":2,\"preimage\":\"7b226e616d65223a22636f6d706f73"
         "652d68617368222c227061796c6f6164223a2261626364222c2274797065223a3133343231373732397d\"}]",
         MT_ERR_EVENTLOG_FORMAT},
        {"[{\"imr\":3,\"event_type\":134217729,\"digest\":\"\",\"event\":\"compose-hash\","
         "\"event_payload\":\"abcd\",\"version\":2}]",
         MT_ERR_EVENTLOG_FORMAT},
        {"[" GOOD ",{\"version\":2,\"imr\":3,\"event_type\":134217729,\"digest\":\"\",\"event\":"
         "\"x\",\"event_payload\":\"\"}]",
         MT_ERR_EVENTLOG_FORMAT},
        {"[{\"imr\":3,\"event_type\":134217729,\"digest\":\"\",\"event\":\"x\","
         "\"event_payload\":\"\",\"preimage\":\"\"}]",
         MT_ERR_EVENTLOG_FORMAT},
        {"[{\"imr\":3,\"event_type\":134217729,\"digest\":\"\",\"event\":\"x\","
         "\"event_payload\":\"\",\"version\":\"1\"}]",
         MT_ERR_EVENTLOG_FORMAT},
        {"[{\"imr\":3,\"event_type\":134217729,\"digest\":\"\",\"event\":\"x\","
         "\"event_payload\":\"\",\"version\":0}]",
         MT_ERR_EVENTLOG_FORMAT},
        {"[{\"imr\":3,\"event_type\":134217729,\"digest\":\"\",\"event\":\"x\","
         "\"event_payload\":\"\",\"version\":1,\"version\":1}]",
         MT_ERR_EVENTLOG_FORMAT},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        expect_parse_err(cases[i].json, cases[i].want);
    EXPECT_ERR(mt_eventlog_parse(NULL, 0, NULL), MT_ERR_ARG);
}

static void
test_parse_accepted_variants(void **state)
{
    struct mt_eventlog *log = NULL;
    static const char upper[] =
        "[{\"event_payload\":\"ABCDEF\",\"event\":\"\",\"digest\":\"" D96 "\","
        "\"event_type\":4294967295,\"imr\":0}]";
    char lower[sizeof(upper) + 64];

    (void)state;
    expect_parse_ok("[]");
    expect_parse_ok(" \n[ ]\n ");
    expect_parse_ok("[" GOOD "]");
    /* explicit V1 */
    expect_parse_ok("[{\"imr\":3,\"event_type\":134217729,\"digest\":\"\",\"event\":\"x\","
                    "\"event_payload\":\"\",\"version\":1}]");
    /* keys in any order, upper-case hex, the largest u32, output normalised */
    EXPECT_OK(mt_eventlog_parse(upper, strlen(upper), &log));
    assert_int_equal(log->events[0].event_type, UINT32_MAX);
    snprintf(lower, sizeof(lower),
             "[{\"imr\":0,\"event_type\":4294967295,\"digest\":\"%s\",\"event\":\"\","
             "\"event_payload\":\"abcdef\"}]",
             D96);
    expect_json(log, MT_EVENTLOG_FULL, lower);
    mt_eventlog_free(log);
}

/* Build "[" + n copies of entry joined by "," + "]". */
static char *
repeat_entries(const char *entry, size_t n)
{
    struct mt_buf b;
    size_t i;

    mt_buf_init(&b, 64u * 1024u * 1024u);
    EXPECT_OK(mt_buf_append_str(&b, "["));
    for (i = 0; i < n; i++) {
        if (i > 0)
            EXPECT_OK(mt_buf_append_str(&b, ","));
        EXPECT_OK(mt_buf_append_str(&b, entry));
    }
    EXPECT_OK(mt_buf_append_str(&b, "]"));
    return (char *)mt_buf_take(&b, NULL);
}

static void
test_parse_limits(void **state)
{
    struct mt_eventlog *log = NULL;
    struct mt_buf b;
    char *text, *name;
    size_t len, i;

    (void)state;
    /* event count */
    text = repeat_entries(GOOD, MT_MAX_EVENTS);
    EXPECT_OK(mt_eventlog_parse(text, strlen(text), &log));
    assert_int_equal(log->num_events, MT_MAX_EVENTS);
    mt_eventlog_free(log);
    mt_free(text);
    text = repeat_entries(GOOD, MT_MAX_EVENTS + 1);
    expect_parse_err(text, MT_ERR_TOO_LARGE);
    mt_free(text);

    /* whole text */
    len = MT_MAX_EVENTLOG_JSON + 1;
    text = mt_malloc(len + 1);
    assert_non_null(text);
    memset(text, ' ', len);
    text[0] = '[';
    text[1] = '[';
    text[len - 1] = ']';
    text[len] = '\0';
    expect_parse_err(text, MT_ERR_TOO_LARGE);
    EXPECT_OK(mt_eventlog_parse(text + 1, len - 1, &log)); /* exactly the limit */
    mt_eventlog_free(log);
    mt_free(text);

    /* name: MT_MAX_EVENT_NAME bytes are fine, one more is not */
    name = mt_malloc(MT_MAX_EVENT_NAME + 2);
    assert_non_null(name);
    for (i = 0; i < 2; i++) {
        memset(name, 'n', MT_MAX_EVENT_NAME + i);
        name[MT_MAX_EVENT_NAME + i] = '\0';
        mt_buf_init(&b, 1u << 20);
        EXPECT_OK(
            mt_buf_append_str(&b, "[{\"imr\":3,\"event_type\":1,\"digest\":\"\",\"event\":\""));
        EXPECT_OK(mt_buf_append_str(&b, name));
        EXPECT_OK(mt_buf_append_str(&b, "\",\"event_payload\":\"\"}]"));
        text = (char *)mt_buf_take(&b, NULL);
        if (i == 0)
            expect_parse_ok(text);
        else
            expect_parse_err(text, MT_ERR_TOO_LARGE);
        mt_free(text);
    }
    mt_free(name);

    /* payload: MT_MAX_EVENT_PAYLOAD bytes are fine, one more is not */
    for (i = 0; i < 2; i++) {
        size_t digits = 2 * (MT_MAX_EVENT_PAYLOAD + i);

        mt_buf_init(&b, 1u << 20);
        EXPECT_OK(mt_buf_append_str(&b, "[{\"imr\":3,\"event_type\":134217729,\"digest\":\"\","
                                        "\"event\":\"big\",\"event_payload\":\""));
        while (digits-- > 0)
            EXPECT_OK(mt_buf_append(&b, "a", 1));
        EXPECT_OK(mt_buf_append_str(&b, "\"}]"));
        text = (char *)mt_buf_take(&b, NULL);
        if (i == 0)
            expect_parse_ok(text);
        else
            expect_parse_err(text, MT_ERR_TOO_LARGE);
        mt_free(text);
    }
}

/* Every allocation of parse and to_json can fail cleanly (run under ASan for leaks). */
static void
test_alloc_failures(void **state)
{
    struct mt_eventlog *log = NULL, *copy = NULL;
    unsigned long n;
    size_t len;
    char *text = read_fixture(STRIPPED_PATH, &len), *out = NULL;
    mt_err e;

    (void)state;
    for (n = 1;; n++) {
        mt_alloc_fail_at(n);
        e = mt_eventlog_parse(text, len, &log);
        mt_alloc_fail_at(0);
        if (e == MT_OK)
            break;
        EXPECT_ERR(e, MT_ERR_NOMEM);
        assert_null(log);
    }
    assert_true(n > 1);
    for (n = 1;; n++) {
        mt_alloc_fail_at(n);
        e = mt_eventlog_to_json(log, MT_EVENTLOG_FULL, &out);
        mt_alloc_fail_at(0);
        if (e == MT_OK)
            break;
        EXPECT_ERR(e, MT_ERR_NOMEM);
        assert_null(out);
    }
    mt_free(out);
    for (n = 1;; n++) {
        mt_alloc_fail_at(n);
        e = mt_eventlog_dup(log, &copy);
        mt_alloc_fail_at(0);
        if (e == MT_OK)
            break;
        EXPECT_ERR(e, MT_ERR_NOMEM);
        assert_null(copy);
    }
    mt_eventlog_free(copy);
    mt_eventlog_free(log);
    mt_free(text);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture_full_roundtrip),
        cmocka_unit_test(test_fixture_stripped_roundtrip),
        cmocka_unit_test(test_stripped_to_full),
        cmocka_unit_test(test_fixture_replay),
        cmocka_unit_test(test_tampered_runtime_digest),
        cmocka_unit_test(test_tampered_payload_and_boot_digest),
        cmocka_unit_test(test_boot_without_digest),
        cmocka_unit_test(test_append_kms_profile),
        cmocka_unit_test(test_append_matches_extends),
        cmocka_unit_test(test_append_boot_flags),
        cmocka_unit_test(test_append_errors),
        cmocka_unit_test(test_dup),
        cmocka_unit_test(test_find),
        cmocka_unit_test(test_json_escaping),
        cmocka_unit_test(test_parse_malformed),
        cmocka_unit_test(test_parse_accepted_variants),
        cmocka_unit_test(test_parse_limits),
        cmocka_unit_test(test_alloc_failures),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
