/*
 * The dstack V1 runtime-event digest and the RTMR extend operation
 * (dstack.md 3.4, 3.5, 4): the worked examples of the spec, every step of the
 * fixture's RTMR3 replay (shared/dstack-fixtures/sim-expected.json), and the
 * argument checks.
 */
#include "mt_testlib.h"

#include <string.h>

#include <openssl/evp.h>

#include "measure/rtmr.h"
#include "util/mt_alloc.h"
#include "util/mt_hex.h"

#define FIXTURE_RTMR3                                                                              \
    "f28a1490ee924e9396c2ccf2d93ad536b83cbe159a1d45024d1fd7acdcc102145efcfcd0cfa209416446c70226af" \
    "f"                                                                                            \
    "adf"

static void
unhex(const char *hex, uint8_t *out, size_t n)
{
    EXPECT_OK(mt_hex_decode_exact(hex, strlen(hex), out, n));
}

static void
assert_hex(const uint8_t *b, size_t n, const char *want)
{
    assert_string_equal(mt_test_hex(b, n), want);
}

/* dstack.md 3.4: custom-event / deadbeef. */
static void
test_spec_example(void **state)
{
    static const uint8_t payload[] = {0xde, 0xad, 0xbe, 0xef};
    uint8_t d[MT_RTMR_SIZE];

    (void)state;
    EXPECT_OK(mt_rtmr_event_digest(MT_DSTACK_RUNTIME_EVENT_TYPE, "custom-event", 12, payload,
                                   sizeof(payload), d));
    assert_hex(d, sizeof(d),
               "932d89c58e4b06531792f52cae148160c71aed5eef155b3294b2ca88e85b4b9b96753526c082a4cf90"
               "fd39ffe6ee2fd9");
}

/* The digest is SHA-384 of exactly the preimage LE32 || ':' || name || ':' || payload. */
static void
test_preimage_layout(void **state)
{
    static const char pre_hex[] = "010000083a637573746f6d2d6576656e743adeadbeef";
    static const uint8_t payload[] = {0xde, 0xad, 0xbe, 0xef};
    uint8_t pre[22], want[EVP_MAX_MD_SIZE], d[MT_RTMR_SIZE];
    unsigned int n = 0;

    (void)state;
    unhex(pre_hex, pre, sizeof(pre));
    assert_int_equal(EVP_Digest(pre, sizeof(pre), want, &n, EVP_sha384(), NULL), 1);
    EXPECT_OK(mt_rtmr_event_digest(0x08000001u, "custom-event", 12, payload, 4, d));
    assert_memory_equal(d, want, MT_RTMR_SIZE);

    /* Other event types are written little-endian the same way. */
    unhex("78563412"
          "3a3a",
          pre, 6);
    assert_int_equal(EVP_Digest(pre, 6, want, &n, EVP_sha384(), NULL), 1);
    EXPECT_OK(mt_rtmr_event_digest(0x12345678u, NULL, 0, NULL, 0, d));
    assert_memory_equal(d, want, MT_RTMR_SIZE);
}

/* Every step of the fixture's RTMR3 replay: preimage, digest and running RTMR3. */
static void
test_fixture_rtmr3_steps(void **state)
{
    json_t *exp = mt_test_load_shared_json("dstack-fixtures/sim-expected.json");
    json_t *steps = json_object_get(exp, "rtmr3_replay"), *step;
    uint8_t rtmr[MT_RTMR_SIZE], d[MT_RTMR_SIZE], pdig[EVP_MAX_MD_SIZE];
    uint8_t *payload, *pre;
    const char *name, *phex, *prehex;
    size_t i, plen, prelen;
    unsigned int n = 0;

    (void)state;
    assert_true(json_is_array(steps));
    assert_int_equal(json_array_size(steps), 9);
    memset(rtmr, 0, sizeof(rtmr));
    json_array_foreach(steps, i, step)
    {
        name = json_string_value(json_object_get(step, "event"));
        phex = json_string_value(json_object_get(step, "payload_hex"));
        prehex = json_string_value(json_object_get(step, "preimage_hex"));
        assert_non_null(name);
        assert_non_null(phex);
        assert_non_null(prehex);
        payload = NULL;
        plen = 0;
        if (phex[0] != '\0')
            EXPECT_OK(mt_hex_decode_alloc(phex, strlen(phex), 1u << 20, &payload, &plen));
        EXPECT_OK(mt_rtmr_event_digest(MT_DSTACK_RUNTIME_EVENT_TYPE, name, strlen(name), payload,
                                       plen, d));
        assert_hex(d, sizeof(d), json_string_value(json_object_get(step, "digest")));
        /* the published preimage hashes to the same digest */
        EXPECT_OK(mt_hex_decode_alloc(prehex, strlen(prehex), 1u << 20, &pre, &prelen));
        assert_int_equal(prelen, 4 + 1 + strlen(name) + 1 + plen);
        assert_int_equal(EVP_Digest(pre, prelen, pdig, &n, EVP_sha384(), NULL), 1);
        assert_memory_equal(pdig, d, MT_RTMR_SIZE);
        EXPECT_OK(mt_rtmr_extend(rtmr, d));
        assert_hex(rtmr, sizeof(rtmr), json_string_value(json_object_get(step, "rtmr3_after")));
        mt_free(pre);
        mt_free(payload);
    }
    assert_hex(
        rtmr, sizeof(rtmr),
        json_string_value(json_object_get(json_object_get(exp, "quote_registers"), "rtmr3")));
    assert_hex(rtmr, sizeof(rtmr), FIXTURE_RTMR3);
    json_decref(exp);
}

/* dstack.md 4: calimero.kms.profile emitted on top of the fixture. */
static void
test_kms_profile_example(void **state)
{
    static const char name[] = "calimero.kms.profile";
    static const char payload[] = "calimero.kms.profile=locked-read-only";
    uint8_t d[MT_RTMR_SIZE], rtmr[MT_RTMR_SIZE];

    (void)state;
    EXPECT_OK(mt_rtmr_event_digest(MT_DSTACK_RUNTIME_EVENT_TYPE, name, strlen(name),
                                   (const uint8_t *)payload, strlen(payload), d));
    assert_hex(d, sizeof(d),
               "c1bab0788a0e0554c109c96519f55bbd88dd9b185db37f355559f1ef7d26f1a31222131415180727a1"
               "f3f45d57f3b0a1");
    unhex(FIXTURE_RTMR3, rtmr, sizeof(rtmr));
    EXPECT_OK(mt_rtmr_extend(rtmr, d));
    assert_hex(rtmr, sizeof(rtmr),
               "0bd47731ff2dda4e40b4afeea40e194e74f531c9ef62f466bb4e9699eee8c5819701b0de233c824653"
               "fc94baffdf7972");
}

/* extend(r, d) == SHA-384(r || d), also when r and d are the same buffer. */
static void
test_extend_definition(void **state)
{
    uint8_t r[MT_RTMR_SIZE], d[MT_RTMR_SIZE], both[2 * MT_RTMR_SIZE], want[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    size_t i;

    (void)state;
    for (i = 0; i < MT_RTMR_SIZE; i++) {
        r[i] = (uint8_t)i;
        d[i] = (uint8_t)(0xff - i);
    }
    memcpy(both, r, MT_RTMR_SIZE);
    memcpy(both + MT_RTMR_SIZE, d, MT_RTMR_SIZE);
    assert_int_equal(EVP_Digest(both, sizeof(both), want, &n, EVP_sha384(), NULL), 1);
    EXPECT_OK(mt_rtmr_extend(r, d));
    assert_memory_equal(r, want, MT_RTMR_SIZE);

    memcpy(both, r, MT_RTMR_SIZE);
    memcpy(both + MT_RTMR_SIZE, r, MT_RTMR_SIZE);
    assert_int_equal(EVP_Digest(both, sizeof(both), want, &n, EVP_sha384(), NULL), 1);
    EXPECT_OK(mt_rtmr_extend(r, r));
    assert_memory_equal(r, want, MT_RTMR_SIZE);
}

/* The reusable hasher gives the same results as the one-shot calls, many times over. */
static void
test_hasher_reuse(void **state)
{
    struct mt_rtmr_hasher h = {NULL, NULL};
    uint8_t a[MT_RTMR_SIZE], b[MT_RTMR_SIZE], ra[MT_RTMR_SIZE], rb[MT_RTMR_SIZE];
    uint8_t payload[64];
    size_t i;

    (void)state;
    memset(ra, 0, sizeof(ra));
    memset(rb, 0, sizeof(rb));
    EXPECT_OK(mt_rtmr_hasher_init(&h));
    for (i = 0; i < sizeof(payload); i++) {
        payload[i] = (uint8_t)(i * 7);
        EXPECT_OK(
            mt_rtmr_event_digest_with(&h, MT_DSTACK_RUNTIME_EVENT_TYPE, "ev", 2, payload, i, a));
        EXPECT_OK(mt_rtmr_event_digest(MT_DSTACK_RUNTIME_EVENT_TYPE, "ev", 2, payload, i, b));
        assert_memory_equal(a, b, MT_RTMR_SIZE);
        EXPECT_OK(mt_rtmr_extend_with(&h, ra, a));
        EXPECT_OK(mt_rtmr_extend(rb, b));
        assert_memory_equal(ra, rb, MT_RTMR_SIZE);
    }
    mt_rtmr_hasher_fini(&h);
    mt_rtmr_hasher_fini(&h); /* idempotent */
    mt_rtmr_hasher_fini(NULL);
}

static void
test_bad_arguments(void **state)
{
    struct mt_rtmr_hasher h = {NULL, NULL}, none = {NULL, NULL};
    uint8_t d[MT_RTMR_SIZE], r[MT_RTMR_SIZE], before[MT_RTMR_SIZE];

    (void)state;
    memset(d, 0x5a, sizeof(d));
    memcpy(before, d, sizeof(d));
    EXPECT_ERR(mt_rtmr_event_digest(MT_DSTACK_RUNTIME_EVENT_TYPE, NULL, 3, NULL, 0, d), MT_ERR_ARG);
    EXPECT_ERR(mt_rtmr_event_digest(MT_DSTACK_RUNTIME_EVENT_TYPE, "x", 1, NULL, 1, d), MT_ERR_ARG);
    EXPECT_ERR(mt_rtmr_event_digest(MT_DSTACK_RUNTIME_EVENT_TYPE, "x", 1, NULL, 0, NULL),
               MT_ERR_ARG);
    assert_memory_equal(d, before, sizeof(d)); /* untouched on failure */
    memset(r, 0, sizeof(r));
    EXPECT_ERR(mt_rtmr_extend(NULL, d), MT_ERR_ARG);
    EXPECT_ERR(mt_rtmr_extend(r, NULL), MT_ERR_ARG);
    EXPECT_ERR(mt_rtmr_hasher_init(NULL), MT_ERR_ARG);
    EXPECT_ERR(mt_rtmr_event_digest_with(NULL, 1, "x", 1, NULL, 0, d), MT_ERR_ARG);
    EXPECT_ERR(mt_rtmr_event_digest_with(&none, 1, "x", 1, NULL, 0, d), MT_ERR_ARG);
    EXPECT_ERR(mt_rtmr_extend_with(&none, r, d), MT_ERR_ARG);
    EXPECT_OK(mt_rtmr_hasher_init(&h));
    EXPECT_ERR(mt_rtmr_extend_with(&h, r, NULL), MT_ERR_ARG);
    mt_rtmr_hasher_fini(&h);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_example),        cmocka_unit_test(test_preimage_layout),
        cmocka_unit_test(test_fixture_rtmr3_steps), cmocka_unit_test(test_kms_profile_example),
        cmocka_unit_test(test_extend_definition),   cmocka_unit_test(test_hasher_reuse),
        cmocka_unit_test(test_bad_arguments),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
