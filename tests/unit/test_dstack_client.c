/*
 * The dstack guest-agent client against a scripted stand-in agent on a real
 * Unix socket (testlib/dstack_stub): the requests it sends (method, content
 * type, exact JSON), every response field's checks, refusals with the
 * agent's error message, a missing socket, a slow agent, oversized
 * responses, and arguments refused before anything is sent.  Responses use
 * the dstack simulator fixtures (shared/dstack-fixtures), which must be
 * present.
 */
#include "mt_testlib.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "dstack/dstack_client.h"
#include "dstack_stub.h"
#include "util/mt_alloc.h"
#include "util/mt_hex.h"
#include "util/mt_json.h"
#include "util/mt_limits.h"

/* GetKey vector "test" / "signing" (dstack.md 2.2). */
#define KEY_HEX "133e8ca6e532ead3e38f00347408771da296e9c70e8e3e362f485154e64ef4e8"
#define SIG0_HEX                                                                                   \
    "c2ac442934a10d730c14b553e6b93e4db61aa7afa48b7aa51e649841115d6f4160a29b24a87e0ef4c02e37c1"     \
    "0b176913f1449ebb41466fccdc44a6ef5d9b247300"
#define SIG1_HEX                                                                                   \
    "9e618603e72d01fedb82deff6daf2d62a572becf0059eec3f89c1ab40e1f2e594d2a283f843f34e8f39e4cc4"     \
    "9a612496ce67223a12ac923f8efe330346dfc6c500"
#define VM_CONFIG "{\"os_image_hash\":\"\",\"cpu_count\":1,\"memory_size\":2147483648}"

struct fixture {
    struct mt_dstack_stub *stub;
    struct mt_dstack_client *client;
    char *quote_hex; /* the simulator's canned quote, lowercase hex */
    uint8_t *quote;
    size_t quote_len;
    char *event_log; /* JSON text of the full simulator event log */
};

static int
setup(void **state)
{
    struct fixture *f = mt_calloc(1, sizeof(*f));
    struct mt_dstack_opts o;
    size_t n;

    if (f == NULL)
        return -1;
    f->quote_hex = (char *)mt_test_read_shared("dstack-fixtures/sim-quote.hex", &n);
    while (n > 0 && (f->quote_hex[n - 1] == '\n' || f->quote_hex[n - 1] == '\r' ||
                     f->quote_hex[n - 1] == ' '))
        f->quote_hex[--n] = '\0';
    EXPECT_OK(mt_hex_decode_alloc(f->quote_hex, n, MT_MAX_QUOTE_SIZE, &f->quote, &f->quote_len));
    f->event_log = (char *)mt_test_read_shared("dstack-fixtures/sim-event-log-full.json", &n);
    EXPECT_OK(mt_dstack_stub_start(&f->stub));
    mt_dstack_opts_init(&o);
    o.socket_path = mt_dstack_stub_socket(f->stub);
    o.timeout_ms = 10000;
    EXPECT_OK(mt_dstack_client_new(&o, &f->client));
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;

    mt_dstack_client_free(f->client);
    mt_dstack_stub_stop(f->stub);
    mt_free(f->quote_hex);
    mt_free(f->quote);
    mt_free(f->event_log);
    mt_free(f);
    return 0;
}

static void
reply(struct fixture *f, const char *method, unsigned status, const char *body)
{
    EXPECT_OK(mt_dstack_stub_set_reply(f->stub, method, status, body, strlen(body)));
}

/* Script a reply from a JSON object (stolen). */
static void
reply_json(struct fixture *f, const char *method, json_t *o)
{
    char *s;

    assert_non_null(o);
    s = json_dumps(o, JSON_COMPACT);
    assert_non_null(s);
    reply(f, method, 200, s);
    free(s);
    json_decref(o);
}

/* The latest request must be POST /method, JSON, with exactly this body. */
static void
expect_request(struct fixture *f, const char *method, const char *body)
{
    struct mt_dstack_stub_request r;

    EXPECT_OK(mt_dstack_stub_last_request(f->stub, &r));
    assert_string_equal(r.method, method);
    assert_string_equal(r.http_method, "POST");
    assert_string_equal(r.content_type, "application/json");
    assert_string_equal(r.body, body);
    mt_dstack_stub_request_free(&r);
}

/* A GetQuote response: the fixture quote, event log and the given padded report data. */
static json_t *
quote_response(const struct fixture *f, const uint8_t rd[64])
{
    json_t *o = json_object();
    char hex[129];

    mt_hex_encode(rd, 64, hex);
    json_object_set_new(o, "quote", json_string(f->quote_hex));
    json_object_set_new(o, "event_log", json_string(f->event_log));
    json_object_set_new(o, "report_data", json_string(hex));
    json_object_set_new(o, "vm_config", json_string(VM_CONFIG));
    return o;
}

static void
test_get_quote(void **state)
{
    struct fixture *f = *state;
    struct mt_dstack_quote q;
    uint8_t rd[64];
    char want[160];
    size_t i;

    for (i = 0; i < sizeof(rd); i++)
        rd[i] = (uint8_t)(0xa0 + i);
    reply_json(f, "GetQuote", quote_response(f, rd));
    EXPECT_OK(mt_dstack_get_quote(f->client, rd, sizeof(rd), &q));
    assert_int_equal(q.quote_len, f->quote_len);
    assert_int_equal(q.quote_len, 5010);
    assert_memory_equal(q.quote, f->quote, f->quote_len);
    assert_string_equal(q.event_log, f->event_log);
    assert_string_equal(q.vm_config, VM_CONFIG);
    assert_memory_equal(q.report_data, rd, 64);
    assert_string_equal(mt_dstack_last_error(f->client), "");
    mt_dstack_quote_free(&q);
    assert_null(q.quote);
    mt_dstack_quote_free(&q);
    mt_dstack_quote_free(NULL);

    /* unpadded hex on the wire; the agent pads */
    snprintf(want, sizeof(want), "{\"report_data\":\"%s\"}", mt_test_hex(rd, 64));
    expect_request(f, "GetQuote", want);
    assert_int_equal(mt_dstack_stub_count(f->stub), 1);
}

/* mero-kms sends 64 bytes; fewer are zero-padded by the agent and echoed padded. */
static void
test_get_quote_short_report_data(void **state)
{
    struct fixture *f = *state;
    struct mt_dstack_quote q;
    uint8_t rd[64] = {0};
    json_t *o;

    memset(rd, 0x11, 32);
    reply_json(f, "GetQuote", quote_response(f, rd));
    EXPECT_OK(mt_dstack_get_quote(f->client, rd, 32, &q));
    assert_memory_equal(q.report_data, rd, 64);
    mt_dstack_quote_free(&q);
    expect_request(f, "GetQuote",
                   "{\"report_data\":\"1111111111111111111111111111111111111111111111111111111111"
                   "111111\"}");

    /* upper-case hex and a 0x prefix are read as the agent reads its input */
    o = quote_response(f, rd);
    json_object_set_new(o, "report_data",
                        json_string("0x111111111111111111111111111111111111111111111111111111111111"
                                    "11110000000000000000000000000000000000000000000000000000000000"
                                    "000000"));
    reply_json(f, "GetQuote", o);
    EXPECT_OK(mt_dstack_get_quote(f->client, rd, 32, &q));
    mt_dstack_quote_free(&q);

    /* an echo that is not our padded report data is a broken agent */
    rd[40] = 1;
    reply_json(f, "GetQuote", quote_response(f, rd));
    memset(&q, 0x5a, sizeof(q));
    EXPECT_ERR(mt_dstack_get_quote(f->client, rd, 32, &q), MT_ERR_DSTACK_RESPONSE);
    assert_non_null(strstr(mt_dstack_last_error(f->client), "report_data"));
}

static void
test_get_quote_bad_args(void **state)
{
    struct fixture *f = *state;
    struct mt_dstack_quote q;
    uint8_t rd[65] = {0};

    memset(&q, 0x5a, sizeof(q));
    EXPECT_ERR(mt_dstack_get_quote(f->client, rd, 0, &q), MT_ERR_ARG);
    EXPECT_ERR(mt_dstack_get_quote(f->client, rd, 65, &q), MT_ERR_ARG);
    EXPECT_ERR(mt_dstack_get_quote(f->client, NULL, 32, &q), MT_ERR_ARG);
    EXPECT_ERR(mt_dstack_get_quote(f->client, rd, 32, NULL), MT_ERR_ARG);
    EXPECT_ERR(mt_dstack_get_quote(NULL, rd, 32, &q), MT_ERR_ARG);
    assert_int_equal(mt_dstack_stub_count(f->stub), 0);
    assert_int_equal(((uint8_t *)&q)[0], 0x5a);
}

static void
test_rejected(void **state)
{
    struct fixture *f = *state;
    struct mt_dstack_quote q;
    struct mt_secret k = {0};
    uint8_t rd[64] = {0};

    /* exactly as the agent's RPC layer answers: pretty-printed, status 400 */
    reply(f, "GetQuote", 400, "{\n  \"error\": \"Report data is too long\"\n}");
    EXPECT_ERR(mt_dstack_get_quote(f->client, rd, 64, &q), MT_ERR_DSTACK_REJECTED);
    assert_string_equal(mt_dstack_last_error(f->client), "Report data is too long");

    reply(f, "GetKey", 400, "{\"error\": \"Unsupported algorithm\"}");
    EXPECT_ERR(mt_dstack_get_key(f->client, "x", "", "rsa", &k), MT_ERR_DSTACK_REJECTED);
    assert_string_equal(mt_dstack_last_error(f->client), "Unsupported algorithm");
    assert_null(k.p);

    /* no JSON error: the status is what is known */
    reply(f, "GetQuote", 500, "<html>panic</html>");
    EXPECT_ERR(mt_dstack_get_quote(f->client, rd, 64, &q), MT_ERR_DSTACK_REJECTED);
    assert_string_equal(mt_dstack_last_error(f->client), "GetQuote: HTTP status 500");
    reply(f, "GetQuote", 404, "{\"error\": 7}");
    EXPECT_ERR(mt_dstack_get_quote(f->client, rd, 64, &q), MT_ERR_DSTACK_REJECTED);
    assert_string_equal(mt_dstack_last_error(f->client), "GetQuote: HTTP status 404");
    /* a 2xx that is not 200 is not the agent's success either */
    reply(f, "GetQuote", 204, "");
    EXPECT_ERR(mt_dstack_get_quote(f->client, rd, 64, &q), MT_ERR_DSTACK_REJECTED);

    /* control characters in the message are neutralised for logs */
    reply(f, "GetQuote", 400, "{\"error\": \"bad\\nline\\tx\\u001b[31m\\u007f\"}");
    EXPECT_ERR(mt_dstack_get_quote(f->client, rd, 64, &q), MT_ERR_DSTACK_REJECTED);
    assert_string_equal(mt_dstack_last_error(f->client), "bad?line?x?[31m?");

    /* an unscripted method gets the stub's "Service not found" 400 */
    EXPECT_ERR(mt_dstack_emit_event(f->client, "e", NULL, 0), MT_ERR_DSTACK_REJECTED);
    assert_string_equal(mt_dstack_last_error(f->client), "Service not found: EmitEvent");

    /* success clears the detail */
    reply(f, "EmitEvent", 200, "null");
    EXPECT_OK(mt_dstack_emit_event(f->client, "e", NULL, 0));
    assert_string_equal(mt_dstack_last_error(f->client), "");
}

/* Each way a GetQuote response can be malformed. */
static void
test_get_quote_malformed(void **state)
{
    struct fixture *f = *state;
    static const char *const raw[] = {
        "", "not json", "[]", "null", "{\"quote\":", "\"string\"",
    };
    struct {
        const char *field;
        json_t *value; /* NULL: remove the member */
    } cases[14];
    struct mt_dstack_quote q;
    uint8_t rd[64] = {0};
    char *short_quote, *odd_quote, *bad_quote;
    size_t i, n = 0, qlen = strlen(f->quote_hex);
    json_t *o;

    short_quote = mt_strndup(f->quote_hex, 2 * (MT_DSTACK_MIN_QUOTE - 1));
    odd_quote = mt_strndup(f->quote_hex, qlen - 1);
    bad_quote = mt_strdup(f->quote_hex);
    assert_non_null(short_quote);
    assert_non_null(odd_quote);
    assert_non_null(bad_quote);
    bad_quote[100] = 'g';
    cases[n].field = "quote", cases[n++].value = NULL;
    cases[n].field = "quote", cases[n++].value = json_integer(1);
    cases[n].field = "quote", cases[n++].value = json_string(short_quote);
    cases[n].field = "quote", cases[n++].value = json_string(odd_quote);
    cases[n].field = "quote", cases[n++].value = json_string(bad_quote);
    cases[n].field = "event_log", cases[n++].value = NULL;
    cases[n].field = "event_log", cases[n++].value = json_array();
    cases[n].field = "event_log", cases[n++].value = json_string("{\"imr\":3}");
    cases[n].field = "event_log", cases[n++].value = json_string("[{\"imr\":3}");
    cases[n].field = "vm_config", cases[n++].value = NULL;
    cases[n].field = "vm_config", cases[n++].value = json_object();
    cases[n].field = "report_data", cases[n++].value = NULL;
    cases[n].field = "report_data", cases[n++].value = json_string("00");
    cases[n].field = "report_data", cases[n++].value = json_null();
    assert_true(n <= sizeof(cases) / sizeof(cases[0]));

    for (i = 0; i < n; i++) {
        o = quote_response(f, rd);
        if (cases[i].value == NULL)
            json_object_del(o, cases[i].field);
        else
            json_object_set_new(o, cases[i].field, cases[i].value);
        reply_json(f, "GetQuote", o);
        memset(&q, 0x5a, sizeof(q));
        EXPECT_ERR(mt_dstack_get_quote(f->client, rd, 64, &q), MT_ERR_DSTACK_RESPONSE);
        if (strstr(mt_dstack_last_error(f->client), cases[i].field) == NULL)
            fail_msg("case %zu (%s): detail \"%s\" does not name the field", i, cases[i].field,
                     mt_dstack_last_error(f->client));
        assert_int_equal(((uint8_t *)&q)[0], 0x5a);
    }
    for (i = 0; i < sizeof(raw) / sizeof(raw[0]); i++) {
        reply(f, "GetQuote", 200, raw[i]);
        EXPECT_ERR(mt_dstack_get_quote(f->client, rd, 64, &q), MT_ERR_DSTACK_RESPONSE);
    }
    mt_free(short_quote);
    mt_free(odd_quote);
    mt_free(bad_quote);

    /* the shortest acceptable quote passes the length check */
    o = quote_response(f, rd);
    short_quote = mt_strndup(f->quote_hex, 2 * MT_DSTACK_MIN_QUOTE);
    json_object_set_new(o, "quote", json_string(short_quote));
    mt_free(short_quote);
    reply_json(f, "GetQuote", o);
    EXPECT_OK(mt_dstack_get_quote(f->client, rd, 64, &q));
    assert_int_equal(q.quote_len, MT_DSTACK_MIN_QUOTE);
    mt_dstack_quote_free(&q);
}

static void
test_get_key(void **state)
{
    struct fixture *f = *state;
    struct mt_secret k = {0};
    uint8_t want[32];
    char body[512];

    EXPECT_OK(mt_hex_decode_exact(KEY_HEX, 64, want, 32));
    snprintf(body, sizeof(body), "{\"key\":\"%s\",\"signature_chain\":[\"%s\",\"%s\"]}", KEY_HEX,
             SIG0_HEX, SIG1_HEX);
    reply(f, "GetKey", 200, body);
    EXPECT_OK(mt_dstack_get_key(f->client, "test", "signing", "secp256k1", &k));
    assert_true(mt_secret_eq(&k, want, 32));
    assert_int_equal(k.len, 32);
    mt_secret_free(&k);
    expect_request(f, "GetKey",
                   "{\"path\":\"test\",\"purpose\":\"signing\",\"algorithm\":\"secp256k1\"}");

    /* mero-kms's call; NULLs become "" and the Rust SDK's "secp256k1" */
    EXPECT_OK(
        mt_dstack_get_key(f->client, "merod/storage/locked-read-only/12D3KooW", NULL, NULL, &k));
    mt_secret_free(&k);
    expect_request(f, "GetKey",
                   "{\"path\":\"merod/storage/locked-read-only/12D3KooW\",\"purpose\":\"\","
                   "\"algorithm\":\"secp256k1\"}");
    EXPECT_OK(mt_dstack_get_key(f->client, NULL, "p", "ed25519", &k));
    mt_secret_free(&k);
    expect_request(f, "GetKey", "{\"path\":\"\",\"purpose\":\"p\",\"algorithm\":\"ed25519\"}");
    /* JSON escaping of what the caller passes, UTF-8 kept as it is */
    EXPECT_OK(mt_dstack_get_key(f->client, "a\"b\\c/\xc3\xa9", "", "k256", &k));
    mt_secret_free(&k);
    expect_request(f, "GetKey",
                   "{\"path\":\"a\\\"b\\\\c/\xc3\xa9\",\"purpose\":\"\",\"algorithm\":\"k256\"}");

    /* upper case, 0x, pretty-printed, members in another order, no chain, unknown member */
    reply(f, "GetKey", 200,
          "{\n  \"extra\": {\"key\": \"00\"},\n  \"key\" : \"0x133E8CA6E532EAD3E38F00347408771DA296"
          "E9C70E8E3E362F485154E64EF4E8\"\n}");
    EXPECT_OK(mt_dstack_get_key(f->client, "test", "signing", "secp256k1", &k));
    assert_true(mt_secret_eq(&k, want, 32));
    mt_secret_free(&k);
}

/*
 * jansson's allocations, watched: every block it frees is searched for the
 * key's hex digits.  The client must keep the key away from the JSON parser
 * entirely (its lexer buffers are freed unwiped).  Plain malloc/free
 * underneath, so blocks allocated before or after the watch mix safely.
 */
static int jansson_saw_key;

static void *
watch_malloc(size_t n)
{
    return malloc(n);
}

/* Whether the n bytes at p hold the key's first 16 hex digits, in either case. */
static int
holds_key_digits(const unsigned char *p, size_t n)
{
    static const char lo[] = "133e8ca6e532ead3";
    size_t i, j;

    for (i = 0; i + 16 <= n; i++) {
        for (j = 0; j < 16; j++)
            if (p[i + j] != (unsigned char)lo[j] &&
                !(lo[j] >= 'a' && p[i + j] == (unsigned char)(lo[j] - 'a' + 'A')))
                break;
        if (j == 16)
            return 1;
    }
    return 0;
}

static void
watch_free(void *p)
{
    if (p == NULL)
        return;
    if (holds_key_digits(p, malloc_usable_size(p)))
        jansson_saw_key = 1;
    free(p);
}

static void
test_get_key_json_never_sees_key(void **state)
{
    struct fixture *f = *state;
    struct mt_secret k = {0};
    char body[512];

    snprintf(body, sizeof(body), "{\"key\":\"%s\",\"signature_chain\":[\"%s\",\"%s\"]}", KEY_HEX,
             SIG0_HEX, SIG1_HEX);
    reply(f, "GetKey", 200, body);
    jansson_saw_key = 0;
    json_set_alloc_funcs(watch_malloc, watch_free);
    EXPECT_OK(mt_dstack_get_key(f->client, "test", "signing", "secp256k1", &k));
    json_set_alloc_funcs(malloc, free);
    assert_int_equal(jansson_saw_key, 0);
    assert_int_equal(k.len, 32);
    mt_secret_free(&k);

    /* the watch works: parsing the same text directly is seen */
    json_set_alloc_funcs(watch_malloc, watch_free);
    json_decref(json_loads(body, 0, NULL));
    json_set_alloc_funcs(malloc, free);
    assert_int_equal(jansson_saw_key, 1);
}

static void
test_get_key_malformed(void **state)
{
    struct fixture *f = *state;
    static const char *const bodies[] = {
        "",
        "null",
        "[]",
        "not json",
        "{}",
        "{\"signature_chain\":[]}",
        "{\"key\":1}",
        "{\"key\":null}",
        "{\"key\":[\"" KEY_HEX "\"]}",
        /* 31 bytes, 33 bytes, odd, a non-hex digit, empty */
        "{\"key\":\"133e8ca6e532ead3e38f00347408771da296e9c70e8e3e362f485154e64ef4\"}",
        "{\"key\":\"" KEY_HEX "00\"}",
        "{\"key\":\"" KEY_HEX "0\"}",
        "{\"key\":\"133e8ca6e532ead3e38f00347408771da296e9c70e8e3e362f485154e64ef4eg\"}",
        "{\"key\":\"\"}",
        /* escapes: in the value, in a member name, a duplicate */
        "{\"key\":\"\\u0031" KEY_HEX "\"}",
        "{\"k\\u0065y\":\"" KEY_HEX "\"}",
        "{\"key\":\"" KEY_HEX "\",\"key\":\"" KEY_HEX "\"}",
        /* valid key, broken rest */
        "{\"key\":\"" KEY_HEX "\",}",
        "{\"key\":\"" KEY_HEX "\"",
        "{\"key\":\"" KEY_HEX "\"} x",
        "{\"key\":\"" KEY_HEX "\",\"signature_chain\":\"" SIG0_HEX "\"}",
        "{\"key\":\"" KEY_HEX "\",\"signature_chain\":[1]}",
        "{\"key\":\"" KEY_HEX "\",\"signature_chain\":[\"abc\"]}",
        "{\"key\":\"" KEY_HEX "\",\"signature_chain\":[\"zz\"]}",
    };
    struct mt_secret k;
    size_t i;

    for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        reply(f, "GetKey", 200, bodies[i]);
        memset(&k, 0, sizeof(k));
        if (mt_dstack_get_key(f->client, "p", "", "secp256k1", &k) != MT_ERR_DSTACK_RESPONSE)
            fail_msg("body %zu (%s) was not refused as a malformed response", i, bodies[i]);
        assert_null(k.p);
        assert_string_not_equal(mt_dstack_last_error(f->client), "");
    }
}

static void
test_get_key_bad_args(void **state)
{
    struct fixture *f = *state;
    struct mt_secret k = {0};
    char *big;

    big = mt_malloc(MT_DSTACK_MAX_KEY_FIELD + 2);
    assert_non_null(big);
    memset(big, 'a', MT_DSTACK_MAX_KEY_FIELD + 1);
    big[MT_DSTACK_MAX_KEY_FIELD + 1] = '\0';
    EXPECT_ERR(mt_dstack_get_key(f->client, big, "", "", &k), MT_ERR_TOO_LARGE);
    EXPECT_ERR(mt_dstack_get_key(f->client, "", big, "", &k), MT_ERR_TOO_LARGE);
    mt_free(big);
    /* not UTF-8: a lone continuation byte, an overlong '/', a surrogate, past U+10FFFF */
    EXPECT_ERR(mt_dstack_get_key(f->client, "a\x80", "", "", &k), MT_ERR_ARG);
    EXPECT_ERR(mt_dstack_get_key(f->client, "\xc0\xaf", "", "", &k), MT_ERR_ARG);
    EXPECT_ERR(mt_dstack_get_key(f->client, "", "\xed\xa0\x80", "", &k), MT_ERR_ARG);
    EXPECT_ERR(mt_dstack_get_key(f->client, "", "", "\xf4\x90\x80\x80", &k), MT_ERR_ARG);
    EXPECT_ERR(mt_dstack_get_key(f->client, "\xe2\x82", "", "", &k), MT_ERR_ARG);
    EXPECT_ERR(mt_dstack_get_key(f->client, "p", "", "", NULL), MT_ERR_ARG);
    EXPECT_ERR(mt_dstack_get_key(NULL, "p", "", "", &k), MT_ERR_ARG);
    assert_int_equal(mt_dstack_stub_count(f->stub), 0);
    assert_null(k.p);
}

static void
test_emit_event(void **state)
{
    struct fixture *f = *state;
    static const char payload[] = "calimero.kms.profile=locked-read-only";
    static const char *const bad[] = {"", "{}", "[]", "0", "nul", "null null", "\"null\""};
    char want[256];
    size_t i;

    reply(f, "EmitEvent", 200, "null");
    EXPECT_OK(mt_dstack_emit_event(f->client, "calimero.kms.profile", (const uint8_t *)payload,
                                   strlen(payload)));
    snprintf(want, sizeof(want), "{\"event\":\"calimero.kms.profile\",\"payload\":\"%s\"}",
             mt_test_hex((const uint8_t *)payload, strlen(payload)));
    expect_request(f, "EmitEvent", want);
    EXPECT_OK(mt_dstack_emit_event(f->client, "empty", NULL, 0));
    expect_request(f, "EmitEvent", "{\"event\":\"empty\",\"payload\":\"\"}");
    reply(f, "EmitEvent", 200, " null\n");
    EXPECT_OK(mt_dstack_emit_event(f->client, "e", NULL, 0));

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        reply(f, "EmitEvent", 200, bad[i]);
        EXPECT_ERR(mt_dstack_emit_event(f->client, "e", NULL, 0), MT_ERR_DSTACK_RESPONSE);
    }

    /* the 0.5.9+ simulator's refusal */
    reply(f, "EmitEvent", 400,
          "{\n  \"error\": \"runtime event emission is unavailable in simulator mode: e\"\n}");
    EXPECT_ERR(mt_dstack_emit_event(f->client, "e", NULL, 0), MT_ERR_DSTACK_REJECTED);
    assert_string_equal(mt_dstack_last_error(f->client),
                        "runtime event emission is unavailable in simulator mode: e");
}

static void
test_emit_event_bad_args(void **state)
{
    struct fixture *f = *state;
    uint8_t *big;
    char name[MT_MAX_EVENT_NAME + 2];

    EXPECT_ERR(mt_dstack_emit_event(f->client, "", NULL, 0), MT_ERR_ARG);
    EXPECT_ERR(mt_dstack_emit_event(f->client, NULL, NULL, 0), MT_ERR_ARG);
    EXPECT_ERR(mt_dstack_emit_event(f->client, "e", NULL, 1), MT_ERR_ARG);
    EXPECT_ERR(mt_dstack_emit_event(f->client, "\xff", NULL, 0), MT_ERR_ARG);
    memset(name, 'n', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    EXPECT_ERR(mt_dstack_emit_event(f->client, name, NULL, 0), MT_ERR_TOO_LARGE);
    big = mt_calloc(1, MT_MAX_EVENT_PAYLOAD + 1);
    assert_non_null(big);
    EXPECT_ERR(mt_dstack_emit_event(f->client, "e", big, MT_MAX_EVENT_PAYLOAD + 1),
               MT_ERR_TOO_LARGE);
    EXPECT_ERR(mt_dstack_emit_event(NULL, "e", big, 1), MT_ERR_ARG);
    assert_int_equal(mt_dstack_stub_count(f->stub), 0);

    /* the largest payload goes through (a 128 KiB hex body) */
    reply(f, "EmitEvent", 200, "null");
    EXPECT_OK(mt_dstack_emit_event(f->client, "e", big, MT_MAX_EVENT_PAYLOAD));
    mt_free(big);
}

/* An Info response as the simulator gives it (dstack.md section 5). */
static json_t *
info_response(void)
{
    json_t *o = json_object();

    json_object_set_new(o, "app_id", json_string("5bb4ff9a3837357f19dc176407a5709c62eb6c56"));
    json_object_set_new(o, "instance_id", json_string("1691ed1b47506cad7d08834668691d88246f5b1f"));
    json_object_set_new(o, "app_cert", json_string(""));
    json_object_set_new(o, "tcb_info",
                        json_string("{\n  \"mrtd\": \"e532\",\n  \"event_log\": []\n}"));
    json_object_set_new(o, "app_name", json_string("guest-agent"));
    json_object_set_new(
        o, "device_id",
        json_string("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
    json_object_set_new(
        o, "mr_aggregated",
        json_string("85334a62c97d0f8bf82d0245d31b539d17a2d7c258e2a13efc928aaea0e107cb"));
    json_object_set_new(o, "os_image_hash", json_string(""));
    json_object_set_new(o, "key_provider_info", json_string("{\"name\":\"kms\",\"id\":\"30\"}"));
    json_object_set_new(
        o, "compose_hash",
        json_string("c143116fef3940e7f776bfc0919c256232ae5338a6e948c96b711e0b2383483a"));
    json_object_set_new(o, "vm_config", json_string(VM_CONFIG));
    json_object_set_new(o, "cloud_vendor", json_string(""));
    json_object_set_new(o, "cloud_product", json_string(""));
    return o;
}

static void
test_info(void **state)
{
    struct fixture *f = *state;
    const char *s;
    json_t *j = NULL, *o;

    reply_json(f, "Info", info_response());
    EXPECT_OK(mt_dstack_info(f->client, &j));
    EXPECT_OK(mt_json_get_str(j, "tcb_info", &s, NULL));
    assert_string_equal(s, "{\n  \"mrtd\": \"e532\",\n  \"event_log\": []\n}");
    EXPECT_OK(mt_json_get_str(j, "app_id", &s, NULL));
    assert_string_equal(s, "5bb4ff9a3837357f19dc176407a5709c62eb6c56");
    json_decref(j);
    expect_request(f, "Info", "{}");

    /* older agents: no cloud_*; unknown members are kept */
    o = info_response();
    json_object_del(o, "cloud_vendor");
    json_object_del(o, "cloud_product");
    json_object_set_new(o, "future", json_true());
    reply_json(f, "Info", o);
    EXPECT_OK(mt_dstack_info(f->client, &j));
    assert_true(json_is_true(json_object_get(j, "future")));
    json_decref(j);
}

static void
test_info_malformed(void **state)
{
    struct fixture *f = *state;
    static const char *const required[] = {"app_id",    "instance_id", "compose_hash",
                                           "device_id", "tcb_info",    "app_name"};
    static const char *const hex[] = {"app_id",    "instance_id",   "compose_hash",
                                      "device_id", "mr_aggregated", "os_image_hash"};
    static const char *const strings[] = {"app_cert",     "key_provider_info", "vm_config",
                                          "cloud_vendor", "cloud_product",     "tcb_info"};
    json_t *j = (json_t *)"untouched", *o;
    size_t i;

    for (i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
        o = info_response();
        json_object_del(o, required[i]);
        reply_json(f, "Info", o);
        EXPECT_ERR(mt_dstack_info(f->client, &j), MT_ERR_DSTACK_RESPONSE);
        assert_non_null(strstr(mt_dstack_last_error(f->client), required[i]));
    }
    for (i = 0; i < sizeof(hex) / sizeof(hex[0]); i++) {
        o = info_response();
        json_object_set_new(o, hex[i], json_string("abc"));
        reply_json(f, "Info", o);
        EXPECT_ERR(mt_dstack_info(f->client, &j), MT_ERR_DSTACK_RESPONSE);
        o = info_response();
        json_object_set_new(o, hex[i], json_string("zz"));
        reply_json(f, "Info", o);
        EXPECT_ERR(mt_dstack_info(f->client, &j), MT_ERR_DSTACK_RESPONSE);
    }
    for (i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
        o = info_response();
        json_object_set_new(o, strings[i], json_object());
        reply_json(f, "Info", o);
        EXPECT_ERR(mt_dstack_info(f->client, &j), MT_ERR_DSTACK_RESPONSE);
    }
    reply(f, "Info", 200, "[]");
    EXPECT_ERR(mt_dstack_info(f->client, &j), MT_ERR_DSTACK_RESPONSE);
    reply(f, "Info", 200, "{\"app_id\":");
    EXPECT_ERR(mt_dstack_info(f->client, &j), MT_ERR_DSTACK_RESPONSE);
    assert_string_equal((const char *)j, "untouched");
    EXPECT_ERR(mt_dstack_info(f->client, NULL), MT_ERR_ARG);
}

static void
test_missing_socket(void **state)
{
    struct fixture *f = *state;
    struct mt_dstack_client *c = NULL;
    struct mt_dstack_opts o;
    struct mt_secret k = {0};
    char path[256];
    json_t *j = NULL;
    uint8_t rd[1] = {1};
    struct mt_dstack_quote q;
    struct sockaddr_un sun;
    int fd;

    /* a path beside the stub's socket where nothing listens */
    snprintf(path, sizeof(path), "%s.absent", mt_dstack_stub_socket(f->stub));
    mt_dstack_opts_init(&o);
    o.socket_path = path;
    EXPECT_OK(mt_dstack_client_new(&o, &c));
    EXPECT_ERR(mt_dstack_get_key(c, "p", "", "", &k), MT_ERR_DSTACK_UNAVAILABLE);
    assert_string_not_equal(mt_dstack_last_error(c), "");
    EXPECT_ERR(mt_dstack_get_quote(c, rd, 1, &q), MT_ERR_DSTACK_UNAVAILABLE);
    EXPECT_ERR(mt_dstack_info(c, &j), MT_ERR_DSTACK_UNAVAILABLE);
    EXPECT_ERR(mt_dstack_emit_event(c, "e", NULL, 0), MT_ERR_DSTACK_UNAVAILABLE);
    mt_dstack_client_free(c);

    /* a socket file with nobody listening: connection refused */
    snprintf(path, sizeof(path), "%s.refused", mt_dstack_stub_socket(f->stub));
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    memcpy(sun.sun_path, path, strlen(path) + 1);
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
    o.socket_path = path;
    EXPECT_OK(mt_dstack_client_new(&o, &c));
    EXPECT_ERR(mt_dstack_info(c, &j), MT_ERR_DSTACK_UNAVAILABLE);
    assert_string_not_equal(mt_dstack_last_error(c), "");
    mt_dstack_client_free(c);
    close(fd);
    unlink(path);
    assert_null(k.p);
    assert_null(j);
    assert_int_equal(mt_dstack_stub_count(f->stub), 0);
}

static double
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static void
test_slow_agent(void **state)
{
    struct fixture *f = *state;
    struct mt_dstack_client *c = NULL;
    struct mt_dstack_opts o;
    json_t *j = NULL;
    double t0, dt;

    reply_json(f, "Info", info_response());
    mt_dstack_stub_set_delay(f->stub, 3000);
    mt_dstack_opts_init(&o);
    o.socket_path = mt_dstack_stub_socket(f->stub);
    o.timeout_ms = 300;
    EXPECT_OK(mt_dstack_client_new(&o, &c));
    t0 = now_ms();
    EXPECT_ERR(mt_dstack_info(c, &j), MT_ERR_DSTACK_UNAVAILABLE);
    dt = now_ms() - t0;
    assert_true(dt >= 250.0 && dt < 2500.0);
    assert_string_not_equal(mt_dstack_last_error(c), "");
    /* the same client works again once the agent is quick */
    mt_dstack_stub_set_delay(f->stub, 0);
    EXPECT_OK(mt_dstack_info(c, &j));
    json_decref(j);
    mt_dstack_client_free(c);
}

static void
test_oversize(void **state)
{
    struct fixture *f = *state;
    uint8_t rd[64] = {0};
    struct mt_dstack_quote q;

    /* announced by Content-Length */
    EXPECT_OK(mt_dstack_stub_set_oversize(f->stub, "GetQuote", MT_MAX_DSTACK_RESPONSE + 1, 0));
    EXPECT_ERR(mt_dstack_get_quote(f->client, rd, 64, &q), MT_ERR_TOO_LARGE);
    /* chunked: noticed while reading */
    EXPECT_OK(mt_dstack_stub_set_oversize(f->stub, "GetQuote", MT_MAX_DSTACK_RESPONSE + 1, 1));
    EXPECT_ERR(mt_dstack_get_quote(f->client, rd, 64, &q), MT_ERR_TOO_LARGE);
    assert_non_null(strstr(mt_dstack_last_error(f->client), "size limit"));
    /* exactly the limit is read (and then is not JSON) */
    EXPECT_OK(mt_dstack_stub_set_oversize(f->stub, "GetQuote", MT_MAX_DSTACK_RESPONSE, 1));
    EXPECT_ERR(mt_dstack_get_quote(f->client, rd, 64, &q), MT_ERR_DSTACK_RESPONSE);
    /* and the client still works afterwards */
    reply_json(f, "GetQuote", quote_response(f, rd));
    EXPECT_OK(mt_dstack_get_quote(f->client, rd, 64, &q));
    mt_dstack_quote_free(&q);
}

static void
test_client_new_args(void **state)
{
    struct mt_dstack_client *c = (struct mt_dstack_client *)"untouched";
    struct mt_dstack_opts o;
    char longpath[200];

    (void)state;
    mt_dstack_opts_init(&o);
    assert_string_equal(o.socket_path, "/var/run/dstack.sock");
    assert_int_equal(o.connect_timeout_ms, 2000);
    assert_int_equal(o.timeout_ms, 30000);
    o.timeout_ms = -1;
    EXPECT_ERR(mt_dstack_client_new(&o, &c), MT_ERR_ARG);
    mt_dstack_opts_init(&o);
    o.connect_timeout_ms = -5;
    EXPECT_ERR(mt_dstack_client_new(&o, &c), MT_ERR_ARG);
    mt_dstack_opts_init(&o);
    memset(longpath, 'a', sizeof(longpath) - 1);
    longpath[0] = '/';
    longpath[sizeof(longpath) - 1] = '\0';
    o.socket_path = longpath;
    EXPECT_ERR(mt_dstack_client_new(&o, &c), MT_ERR_ARG);
    o.socket_path = "";
    EXPECT_ERR(mt_dstack_client_new(&o, &c), MT_ERR_ARG);
    EXPECT_ERR(mt_dstack_client_new(NULL, NULL), MT_ERR_ARG);
    assert_string_equal((const char *)c, "untouched");

    /* NULL options and zero timeouts mean the defaults */
    EXPECT_OK(mt_dstack_client_new(NULL, &c));
    mt_dstack_client_free(c);
    memset(&o, 0, sizeof(o));
    EXPECT_OK(mt_dstack_client_new(&o, &c));
    assert_string_equal(mt_dstack_last_error(c), "");
    mt_dstack_client_free(c);
    mt_dstack_client_free(NULL);
    assert_string_equal(mt_dstack_last_error(NULL), "");

    mt_alloc_fail_at(1);
    EXPECT_ERR(mt_dstack_client_new(NULL, &c), MT_ERR_NOMEM);
    mt_alloc_fail_at(0);
}

/* Every allocation of a GetKey call can fail without a leak or a crash (run under ASan). */
static void
test_get_key_out_of_memory(void **state)
{
    struct fixture *f = *state;
    struct mt_secret k = {0};
    char body[512];
    unsigned long nth;
    mt_err e;

    snprintf(body, sizeof(body), "{\"key\":\"%s\",\"signature_chain\":[\"%s\",\"%s\"]}", KEY_HEX,
             SIG0_HEX, SIG1_HEX);
    reply(f, "GetKey", 200, body);
    for (nth = 1; nth < 64; nth++) {
        mt_alloc_fail_at(nth);
        e = mt_dstack_get_key(f->client, "test", "signing", "secp256k1", &k);
        mt_alloc_fail_at(0);
        if (e == MT_OK) {
            mt_secret_free(&k);
            break;
        }
        assert_true(e == MT_ERR_NOMEM || e == MT_ERR_DSTACK_UNAVAILABLE);
        assert_null(k.p);
    }
    assert_true(nth < 64);
}

int
main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_get_quote),
        T(test_get_quote_short_report_data),
        T(test_get_quote_bad_args),
        T(test_rejected),
        T(test_get_quote_malformed),
        T(test_get_key),
        T(test_get_key_json_never_sees_key),
        T(test_get_key_malformed),
        T(test_get_key_bad_args),
        T(test_emit_event),
        T(test_emit_event_bad_args),
        T(test_info),
        T(test_info_malformed),
        T(test_missing_socket),
        T(test_slow_agent),
        T(test_oversize),
        cmocka_unit_test(test_client_new_args),
        T(test_get_key_out_of_memory),
    };
#undef T

    return cmocka_run_group_tests(tests, NULL, NULL);
}
