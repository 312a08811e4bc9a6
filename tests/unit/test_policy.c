/*
 * The attestation policy (mero-tee-reference.md 1.4, 1.7 step 7d, 7 items
 * 19-20 and 29-32): measurement normalisation, release document parsing
 * for both subjects, completeness, evaluation messages and order, and the
 * release fetch against tests/testlib/release_server.c and a local
 * release directory.  Only 127.0.0.1 is ever contacted.
 */
#include "mt_testlib.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "policy/policy.h"
#include "release_server.h"
#include "sim/sim_pcs.h"
#include "util/mt_alloc.h"
#include "util/mt_hex.h"

#define TAG "2.3.40"
#define LOCKED MT_PROFILE_LOCKED_RO
#define PROFILE_ASSET "kms-phala-attestation-policy." LOCKED ".json"
#define GENERIC_ASSET "kms-phala-attestation-policy.json"
#define PROFILE_PATH "/mero-kms-v" TAG "/" PROFILE_ASSET
#define GENERIC_PATH "/mero-kms-v" TAG "/" GENERIC_ASSET

/* 96 hex digits of byte b repeated. */
static const char *
hexrep(uint8_t b)
{
    static char buf[8][97];
    static unsigned slot;
    uint8_t raw[MT_MEAS_LEN];
    char *out = buf[slot++ % 8];

    memset(raw, b, sizeof(raw));
    mt_hex_encode(raw, sizeof(raw), out);
    return out;
}

static void
meas(uint8_t b, uint8_t out[MT_MEAS_LEN])
{
    memset(out, b, MT_MEAS_LEN);
}

static json_t *
list1(uint8_t b)
{
    return json_pack("[s]", hexrep(b));
}

/*
 * A current release document (3.1): node_* measurements 0x1N, kms_*
 * 0x2N, legacy allowed_* 0x3N, for N = 0 (mrtd), 1..4 (rtmr0..3).
 */
static json_t *
base_doc(const char *tag, const char *profile)
{
    json_t *pol = json_object(), *d;
    static const char *const sfx[5] = {"mrtd", "rtmr0", "rtmr1", "rtmr2", "rtmr3"};
    char key[64];
    size_t i;

    for (i = 0; i < 5; i++) {
        snprintf(key, sizeof(key), "node_allowed_%s", sfx[i]);
        json_object_set_new(pol, key, list1((uint8_t)(0x10 + i)));
        snprintf(key, sizeof(key), "kms_allowed_%s", sfx[i]);
        json_object_set_new(pol, key, list1((uint8_t)(0x20 + i)));
    }
    json_object_set_new(pol, "node_allowed_tcb_statuses", json_pack("[s]", "uptodate"));
    json_object_set_new(pol, "kms_allowed_tcb_statuses",
                        json_pack("[s,s]", "uptodate", "swhardeningneeded"));
    json_object_set_new(pol, "kms_allowed_event_payload", json_array());
    d = json_pack("{s:i,s:s,s:s,s:s,s:s,s:{s:s,s:s,s:s},s:o,s:s}", "schema_version", 1, "role",
                  "kms", "profile", profile, "tag", tag, "commit_sha", "abc", "kms", "provider",
                  "mero-kms-phala", "default_binding_hex",
                  "2323feace9fd1751a89ab2bebb8aba145f343a3688e3d1655ed428eb0766e396",
                  "default_binding_b64", "IyP+rOn9F1GomrK+u4q6FF80OjaI49FlXtQo6wdm45Y=", "policy",
                  pol, "merod_config_path", "tee.kms.phala.attestation");
    assert_non_null(d);
    return d;
}

/* A pre-split legacy document: allowed_* only, no role/profile. */
static json_t *
legacy_doc(const char *tag)
{
    json_t *d = base_doc(tag, LOCKED), *pol = json_object_get(d, "policy");
    static const char *const sfx[5] = {"mrtd", "rtmr0", "rtmr1", "rtmr2", "rtmr3"};
    char key[64];
    size_t i;

    json_object_del(d, "role");
    json_object_del(d, "profile");
    json_object_clear(pol);
    for (i = 0; i < 5; i++) {
        snprintf(key, sizeof(key), "allowed_%s", sfx[i]);
        json_object_set_new(pol, key, list1((uint8_t)(0x30 + i)));
    }
    json_object_set_new(pol, "allowed_tcb_statuses", json_pack("[s]", "UpToDate"));
    return d;
}

/* The document as text (owned, libc malloc); consumes d. */
static char *
dump(json_t *d)
{
    char *s = json_dumps(d, JSON_INDENT(2));

    json_decref(d);
    assert_non_null(s);
    return s;
}

static mt_err
parse(json_t *d, const char *profile, int legacy, enum mt_policy_subject subject,
      struct mt_policy **out, char *why, size_t why_len)
{
    char *s = dump(d);
    mt_err e;

    e = mt_policy_parse_release(s, strlen(s), TAG, profile, legacy, subject, out, why, why_len);
    free(s);
    return e;
}

static void
assert_list1(const struct mt_meas_list *l, uint8_t b)
{
    uint8_t m[MT_MEAS_LEN];

    meas(b, m);
    assert_int_equal(l->n, 1);
    assert_memory_equal(l->v[0], m, MT_MEAS_LEN);
}

/* ---- normalisation ---- */

static void
test_measurement_normalize(void **state)
{
    uint8_t m[MT_MEAS_LEN], want[MT_MEAS_LEN];
    char buf[256];

    (void)state;
    meas(0xab, want);
    EXPECT_OK(mt_measurement_normalize(hexrep(0xab), m));
    assert_memory_equal(m, want, MT_MEAS_LEN);
    /* Upper case, surrounding whitespace, one and several lowercase 0x. */
    snprintf(buf, sizeof(buf), " \t%s\n",
             "ABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABA"
             "BABABABABAB");
    EXPECT_OK(mt_measurement_normalize(buf, m));
    assert_memory_equal(m, want, MT_MEAS_LEN);
    snprintf(buf, sizeof(buf), "0x%s", hexrep(0xab));
    EXPECT_OK(mt_measurement_normalize(buf, m));
    assert_memory_equal(m, want, MT_MEAS_LEN);
    snprintf(buf, sizeof(buf), "  0x0x0x%s ", hexrep(0xab));
    EXPECT_OK(mt_measurement_normalize(buf, m));
    assert_memory_equal(m, want, MT_MEAS_LEN);

    /* Refusals leave out alone. */
    memset(m, 0x5a, sizeof(m));
    snprintf(buf, sizeof(buf), "0X%s", hexrep(0xab)); /* uppercase X is not stripped */
    EXPECT_ERR(mt_measurement_normalize(buf, m), MT_ERR_POLICY_FORMAT);
    snprintf(buf, sizeof(buf), "%.95s", hexrep(0xab));
    EXPECT_ERR(mt_measurement_normalize(buf, m), MT_ERR_POLICY_FORMAT);
    snprintf(buf, sizeof(buf), "%sa", hexrep(0xab));
    EXPECT_ERR(mt_measurement_normalize(buf, m), MT_ERR_POLICY_FORMAT);
    snprintf(buf, sizeof(buf), "%s", hexrep(0xab));
    buf[40] = 'g';
    EXPECT_ERR(mt_measurement_normalize(buf, m), MT_ERR_POLICY_FORMAT);
    snprintf(buf, sizeof(buf), "%.48s %.47s", hexrep(0xab), hexrep(0xab)); /* inner space */
    EXPECT_ERR(mt_measurement_normalize(buf, m), MT_ERR_POLICY_FORMAT);
    EXPECT_ERR(mt_measurement_normalize("", m), MT_ERR_POLICY_FORMAT);
    EXPECT_ERR(mt_measurement_normalize("0x", m), MT_ERR_POLICY_FORMAT);
    EXPECT_ERR(mt_measurement_normalize(NULL, m), MT_ERR_POLICY_FORMAT);
    memcpy(buf, hexrep(0xab), 96);
    buf[10] = '\0';
    EXPECT_ERR(mt_measurement_normalize_n(buf, 96, m), MT_ERR_POLICY_FORMAT);
    assert_int_equal(m[0], 0x5a);
}

static void
test_profile_normalize(void **state)
{
    char out[MT_PROFILE_MAX];

    (void)state;
    EXPECT_OK(mt_profile_normalize(" Locked-Read-Only\n", 18, out));
    assert_string_equal(out, LOCKED);
    EXPECT_OK(mt_profile_normalize("debug", 5, out));
    assert_string_equal(out, "debug");
    EXPECT_OK(mt_profile_normalize("DEBUG-READ-ONLY", 15, out));
    assert_string_equal(out, "debug-read-only");
    EXPECT_ERR(mt_profile_normalize("", 0, out), MT_ERR_POLICY_FORMAT);
    EXPECT_ERR(mt_profile_normalize("locked", 6, out), MT_ERR_POLICY_FORMAT);
    EXPECT_ERR(mt_profile_normalize("debug-read-only-x", 17, out), MT_ERR_POLICY_FORMAT);
    EXPECT_ERR(mt_profile_normalize("de\0bug", 6, out), MT_ERR_POLICY_FORMAT);
}

static void
test_new_empty(void **state)
{
    struct mt_policy *p = NULL;
    size_t i;

    (void)state;
    EXPECT_OK(mt_policy_new_empty(&p));
    assert_int_equal(p->enforce, 1);
    assert_int_equal(p->num_tcb_statuses, 1);
    assert_string_equal(p->tcb_statuses[0], "uptodate");
    assert_int_equal(p->mrtd.n, 0);
    for (i = 0; i < 4; i++)
        assert_int_equal(p->rtmr[i].n, 0);
    assert_string_equal(p->tag, "");
    assert_int_equal(p->has_binding, 0);
    /* add_tcb trims, lowercases and drops empties. */
    EXPECT_OK(mt_policy_add_tcb(p, "  OutOfDate ", 12));
    EXPECT_OK(mt_policy_add_tcb(p, "   ", 3));
    assert_int_equal(p->num_tcb_statuses, 2);
    assert_string_equal(p->tcb_statuses[1], "outofdate");
    mt_policy_clear_tcb(p);
    assert_int_equal(p->num_tcb_statuses, 0);
    mt_policy_free(p);
    mt_policy_free(NULL);
    EXPECT_ERR(mt_policy_new_empty(NULL), MT_ERR_ARG);
}

/* ---- parsing ---- */

static void
test_parse_node_profile_doc(void **state)
{
    struct mt_policy *p = NULL;
    char why[256];
    size_t i;

    (void)state;
    EXPECT_OK(parse(base_doc(TAG, LOCKED), LOCKED, 0, MT_POLICY_NODE, &p, why, sizeof(why)));
    assert_string_equal(why, "");
    assert_int_equal(p->enforce, 1);
    assert_string_equal(p->tag, TAG);
    assert_string_equal(p->profile, LOCKED);
    assert_int_equal(p->num_tcb_statuses, 1);
    assert_string_equal(p->tcb_statuses[0], "uptodate");
    assert_list1(&p->mrtd, 0x10);
    for (i = 0; i < 4; i++)
        assert_list1(&p->rtmr[i], (uint8_t)(0x11 + i));
    /* The KMS ignores kms.* entirely. */
    assert_int_equal(p->has_binding, 0);
    EXPECT_OK(mt_policy_require_complete(p, why, sizeof(why)));
    mt_policy_free(p);

    /* Every profile, and a "mero-kms-v" prefix on the expected tag. */
    EXPECT_OK(parse(base_doc(TAG, "debug"), "debug", 0, MT_POLICY_NODE, &p, NULL, 0));
    assert_string_equal(p->profile, "debug");
    mt_policy_free(p);
    {
        char *s = dump(base_doc(TAG, "debug-read-only"));

        EXPECT_OK(mt_policy_parse_release(s, strlen(s), "mero-kms-v" TAG, "Debug-Read-Only", 0,
                                          MT_POLICY_NODE, &p, NULL, 0));
        assert_string_equal(p->tag, TAG);
        mt_policy_free(p);
        free(s);
    }
    /* The document's profile is normalised before the comparison. */
    EXPECT_OK(parse(base_doc(TAG, " Locked-Read-Only "), LOCKED, 0, MT_POLICY_NODE, &p, NULL, 0));
    mt_policy_free(p);
}

static void
test_parse_node_fallbacks(void **state)
{
    struct mt_policy *p = NULL;
    json_t *d, *pol;
    char why[256];

    (void)state;
    /* node_allowed_mrtd present but [] does not fall back to allowed_mrtd (item 31). */
    d = base_doc(TAG, LOCKED);
    pol = json_object_get(d, "policy");
    json_object_set_new(pol, "node_allowed_mrtd", json_array());
    json_object_set_new(pol, "allowed_mrtd", list1(0x99));
    EXPECT_OK(parse(d, LOCKED, 0, MT_POLICY_NODE, &p, why, sizeof(why)));
    assert_int_equal(p->mrtd.n, 0);
    EXPECT_ERR(mt_policy_require_complete(p, why, sizeof(why)), MT_ERR_CONFIG);
    assert_non_null(strstr(why, "allowed_mrtd"));
    mt_policy_free(p);

    /* node_allowed_rtmr2 absent: allowed_rtmr2 is used; both absent: []. */
    d = base_doc(TAG, LOCKED);
    pol = json_object_get(d, "policy");
    json_object_del(pol, "node_allowed_rtmr2");
    json_object_set_new(pol, "allowed_rtmr2", list1(0x77));
    json_object_del(pol, "node_allowed_rtmr3");
    EXPECT_OK(parse(d, LOCKED, 0, MT_POLICY_NODE, &p, why, sizeof(why)));
    assert_list1(&p->rtmr[2], 0x77);
    assert_int_equal(p->rtmr[3].n, 0);
    EXPECT_ERR(mt_policy_require_complete(p, why, sizeof(why)), MT_ERR_CONFIG);
    assert_non_null(strstr(why, "allowed_rtmr3"));
    mt_policy_free(p);

    /* Missing TCB lists -> ["uptodate"] (item 31). */
    d = base_doc(TAG, LOCKED);
    pol = json_object_get(d, "policy");
    json_object_del(pol, "node_allowed_tcb_statuses");
    EXPECT_OK(parse(d, LOCKED, 0, MT_POLICY_NODE, &p, why, sizeof(why)));
    assert_int_equal(p->num_tcb_statuses, 1);
    assert_string_equal(p->tcb_statuses[0], "uptodate");
    mt_policy_free(p);

    /* A non-array node TCB list falls back to allowed_tcb_statuses (type-based, as the reference).
     */
    d = base_doc(TAG, LOCKED);
    pol = json_object_get(d, "policy");
    json_object_set_new(pol, "node_allowed_tcb_statuses", json_string("uptodate"));
    json_object_set_new(pol, "allowed_tcb_statuses",
                        json_pack("[s,i,s,s,n]", " SWHardeningNeeded ", 7, "", "UpToDate"));
    EXPECT_OK(parse(d, LOCKED, 0, MT_POLICY_NODE, &p, why, sizeof(why)));
    assert_int_equal(p->num_tcb_statuses, 2);
    assert_string_equal(p->tcb_statuses[0], "swhardeningneeded");
    assert_string_equal(p->tcb_statuses[1], "uptodate");
    mt_policy_free(p);

    /* An explicit [] TCB list is an empty list: incomplete when enforcing. */
    d = base_doc(TAG, LOCKED);
    pol = json_object_get(d, "policy");
    json_object_set_new(pol, "node_allowed_tcb_statuses", json_array());
    EXPECT_OK(parse(d, LOCKED, 0, MT_POLICY_NODE, &p, why, sizeof(why)));
    assert_int_equal(p->num_tcb_statuses, 0);
    EXPECT_ERR(mt_policy_require_complete(p, why, sizeof(why)), MT_ERR_CONFIG);
    assert_non_null(strstr(why, "allowed_tcb_statuses"));
    p->enforce = 0;
    EXPECT_OK(mt_policy_require_complete(p, why, sizeof(why)));
    mt_policy_free(p);

    /* Several entries with mixed spellings; duplicates kept. */
    d = base_doc(TAG, LOCKED);
    pol = json_object_get(d, "policy");
    json_object_set_new(pol, "node_allowed_mrtd",
                        json_pack("[s,s,s]", hexrep(0x01),
                                  "0xABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABAB"
                                  "ABABABABABABABABABABABABABABABABAB",
                                  hexrep(0x01)));
    EXPECT_OK(parse(d, LOCKED, 0, MT_POLICY_NODE, &p, why, sizeof(why)));
    assert_int_equal(p->mrtd.n, 3);
    assert_int_equal(p->mrtd.v[1][0], 0xab);
    mt_policy_free(p);
}

static void
test_parse_legacy_rules(void **state)
{
    struct mt_policy *p = NULL;
    json_t *d;
    char why[256];

    (void)state;
    /* Legacy generic asset without role/profile: accepted for locked-read-only (item 29). */
    EXPECT_OK(parse(legacy_doc(TAG), LOCKED, 1, MT_POLICY_NODE, &p, why, sizeof(why)));
    assert_string_equal(p->profile, "");
    assert_list1(&p->mrtd, 0x30);
    assert_list1(&p->rtmr[3], 0x34);
    assert_string_equal(p->tcb_statuses[0], "uptodate");
    mt_policy_free(p);

    /* ... but not when it is the profile asset, nor for other profiles. */
    p = (struct mt_policy *)0x1;
    EXPECT_ERR(parse(legacy_doc(TAG), LOCKED, 0, MT_POLICY_NODE, &p, why, sizeof(why)),
               MT_ERR_POLICY_FORMAT);
    assert_ptr_equal(p, (struct mt_policy *)0x1);
    assert_non_null(strstr(why, "role"));
    EXPECT_ERR(parse(legacy_doc(TAG), "debug", 1, MT_POLICY_NODE, &p, why, sizeof(why)),
               MT_ERR_POLICY_FORMAT);

    /* Role present, profile absent: the same rule for profile. */
    d = legacy_doc(TAG);
    json_object_set_new(d, "role", json_string("kms"));
    EXPECT_ERR(parse(d, "debug", 1, MT_POLICY_NODE, &p, why, sizeof(why)), MT_ERR_POLICY_FORMAT);
    assert_non_null(strstr(why, "profile"));
    d = legacy_doc(TAG);
    json_object_set_new(d, "role", json_string("kms"));
    EXPECT_OK(parse(d, LOCKED, 1, MT_POLICY_NODE, &p, why, sizeof(why)));
    mt_policy_free(p);

    /* A legacy document that does carry a profile must carry the right one. */
    d = legacy_doc(TAG);
    json_object_set_new(d, "profile", json_string("debug"));
    EXPECT_ERR(parse(d, LOCKED, 1, MT_POLICY_NODE, &p, why, sizeof(why)), MT_ERR_POLICY_FORMAT);
    assert_non_null(strstr(why, "profile mismatch"));
}

static void
test_parse_rejections(void **state)
{
    struct mt_policy *p = NULL;
    json_t *d;
    char why[256], *big;
    size_t n;

    (void)state;
    /* role "node" (1.15). */
    d = base_doc(TAG, LOCKED);
    json_object_set_new(d, "role", json_string("node"));
    EXPECT_ERR(parse(d, LOCKED, 0, MT_POLICY_NODE, &p, why, sizeof(why)), MT_ERR_POLICY_FORMAT);
    assert_string_equal(why, "policy role 'node' is not 'kms'");
    d = base_doc(TAG, LOCKED);
    json_object_set_new(d, "role", json_integer(1));
    EXPECT_ERR(parse(d, LOCKED, 1, MT_POLICY_NODE, &p, why, sizeof(why)), MT_ERR_POLICY_FORMAT);
    d = base_doc(TAG, LOCKED);
    json_object_set_new(d, "role", json_string("KMS"));
    EXPECT_ERR(parse(d, LOCKED, 0, MT_POLICY_NODE, &p, why, sizeof(why)), MT_ERR_POLICY_FORMAT);

    /* Tag mismatch, absence, wrong type (item 30). */
    EXPECT_ERR(parse(base_doc("2.3.39", LOCKED), LOCKED, 0, MT_POLICY_NODE, &p, why, sizeof(why)),
               MT_ERR_POLICY_FORMAT);
    assert_string_equal(why, "policy tag mismatch: expected '2.3.40', found '2.3.39'");
    EXPECT_ERR(parse(base_doc("mero-kms-v2.3.40", LOCKED), LOCKED, 0, MT_POLICY_NODE, &p, why,
                     sizeof(why)),
               MT_ERR_POLICY_FORMAT);
    d = base_doc(TAG, LOCKED);
    json_object_del(d, "tag");
    EXPECT_ERR(parse(d, LOCKED, 1, MT_POLICY_NODE, &p, why, sizeof(why)), MT_ERR_POLICY_FORMAT);
    d = base_doc(TAG, LOCKED);
    json_object_set_new(d, "tag", json_real(2.3));
    EXPECT_ERR(parse(d, LOCKED, 1, MT_POLICY_NODE, &p, why, sizeof(why)), MT_ERR_POLICY_FORMAT);

    /* Profile mismatch, unknown profile, non-string profile. */
    EXPECT_ERR(parse(base_doc(TAG, "debug"), LOCKED, 0, MT_POLICY_NODE, &p, why, sizeof(why)),
               MT_ERR_POLICY_FORMAT);
    assert_string_equal(why, "policy profile mismatch: expected 'locked-read-only', found 'debug'");
    EXPECT_ERR(parse(base_doc(TAG, "prod"), LOCKED, 0, MT_POLICY_NODE, &p, why, sizeof(why)),
               MT_ERR_POLICY_FORMAT);
    d = base_doc(TAG, LOCKED);
    json_object_set_new(d, "profile", json_null());
    EXPECT_ERR(parse(d, LOCKED, 1, MT_POLICY_NODE, &p, why, sizeof(why)), MT_ERR_POLICY_FORMAT);

    /* policy not an object. */
    d = base_doc(TAG, LOCKED);
    json_object_set_new(d, "policy", json_array());
    EXPECT_ERR(parse(d, LOCKED, 0, MT_POLICY_NODE, &p, why, sizeof(why)), MT_ERR_POLICY_FORMAT);
    d = base_doc(TAG, LOCKED);
    json_object_del(d, "policy");
    EXPECT_ERR(parse(d, LOCKED, 0, MT_POLICY_NODE, &p, why, sizeof(why)), MT_ERR_POLICY_FORMAT);

    /* Allowlists: not an array (null counts as present), a non-string, a bad measurement. */
    d = base_doc(TAG, LOCKED);
    json_object_set_new(json_object_get(d, "policy"), "node_allowed_rtmr1", json_null());
    EXPECT_ERR(parse(d, LOCKED, 0, MT_POLICY_NODE, &p, why, sizeof(why)), MT_ERR_POLICY_FORMAT);
    assert_string_equal(why, "policy.node_allowed_rtmr1 must be an array");
    d = base_doc(TAG, LOCKED);
    json_object_set_new(json_object_get(d, "policy"), "node_allowed_rtmr0",
                        json_pack("[s,i]", hexrep(1), 5));
    EXPECT_ERR(parse(d, LOCKED, 0, MT_POLICY_NODE, &p, why, sizeof(why)), MT_ERR_POLICY_FORMAT);
    assert_string_equal(why, "policy.node_allowed_rtmr0[1] must be a string");
    d = base_doc(TAG, LOCKED);
    json_object_set_new(json_object_get(d, "policy"), "allowed_mrtd", json_pack("[s]", "abcd"));
    json_object_del(json_object_get(d, "policy"), "node_allowed_mrtd");
    EXPECT_ERR(parse(d, LOCKED, 0, MT_POLICY_NODE, &p, why, sizeof(why)), MT_ERR_POLICY_FORMAT);
    assert_string_equal(why, "policy.allowed_mrtd[0]: expected 48 bytes (96 hex characters)");

    /* Not JSON, not an object, duplicate keys, trailing data, bad UTF-8, NUL in a string. */
    {
        static const char *const bad[] = {
            "",
            "{",
            "[]",
            "\"x\"",
            "{\"tag\":\"2.3.40\",\"tag\":\"2.3.40\"}",
            "{\"tag\":\"2.3.40\"} x",
            "{\"tag\":\"2.3.\xff\"}",
            "{\"tag\":\"2.3.40\\u0000\"}",
        };
        size_t i;

        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            p = NULL;
            EXPECT_ERR(mt_policy_parse_release(bad[i], strlen(bad[i]), TAG, LOCKED, 1,
                                               MT_POLICY_NODE, &p, why, sizeof(why)),
                       MT_ERR_POLICY_FORMAT);
            assert_null(p);
        }
    }

    /* Over the size limit, before any parsing. */
    n = MT_POLICY_MAX_DOC + 1;
    big = malloc(n);
    assert_non_null(big);
    memset(big, ' ', n);
    big[0] = '{';
    big[n - 1] = '}';
    EXPECT_ERR(
        mt_policy_parse_release(big, n, TAG, LOCKED, 0, MT_POLICY_NODE, &p, why, sizeof(why)),
        MT_ERR_TOO_LARGE);
    free(big);

    /* Arguments. */
    EXPECT_ERR(
        mt_policy_parse_release(NULL, 0, TAG, LOCKED, 0, MT_POLICY_NODE, &p, why, sizeof(why)),
        MT_ERR_ARG);
    EXPECT_ERR(
        mt_policy_parse_release("{}", 2, TAG, "prod", 0, MT_POLICY_NODE, &p, why, sizeof(why)),
        MT_ERR_ARG);
    EXPECT_ERR(
        mt_policy_parse_release("{}", 2, "", LOCKED, 0, MT_POLICY_NODE, &p, why, sizeof(why)),
        MT_ERR_ARG);
    EXPECT_ERR(mt_policy_parse_release("{}", 2, TAG, LOCKED, 0, (enum mt_policy_subject)7, &p, why,
                                       sizeof(why)),
               MT_ERR_ARG);
    EXPECT_ERR(
        mt_policy_parse_release("{}", 2, TAG, LOCKED, 0, MT_POLICY_NODE, NULL, why, sizeof(why)),
        MT_ERR_ARG);
    /* A why of zero length is fine. */
    EXPECT_ERR(mt_policy_parse_release("{}", 2, TAG, LOCKED, 0, MT_POLICY_NODE, &p, NULL, 0),
               MT_ERR_POLICY_FORMAT);
}

static void
test_parse_kms_subject(void **state)
{
    static const uint8_t default_binding[32] = {0x23, 0x23, 0xfe, 0xac, 0xe9, 0xfd, 0x17, 0x51,
                                                0xa8, 0x9a, 0xb2, 0xbe, 0xbb, 0x8a, 0xba, 0x14,
                                                0x5f, 0x34, 0x3a, 0x36, 0x88, 0xe3, 0xd1, 0x65,
                                                0x5e, 0xd4, 0x28, 0xeb, 0x07, 0x66, 0xe3, 0x96};
    struct mt_policy *p = NULL;
    json_t *d, *pol;
    char why[256];
    size_t i;

    (void)state;
    EXPECT_OK(parse(base_doc(TAG, LOCKED), LOCKED, 0, MT_POLICY_KMS, &p, why, sizeof(why)));
    assert_list1(&p->mrtd, 0x20);
    for (i = 0; i < 4; i++)
        assert_list1(&p->rtmr[i], (uint8_t)(0x21 + i));
    assert_int_equal(p->num_tcb_statuses, 2);
    assert_string_equal(p->tcb_statuses[1], "swhardeningneeded");
    assert_int_equal(p->has_binding, 1);
    assert_memory_equal(p->binding, default_binding, 32);
    mt_policy_free(p);

    /* The KMS subject never reads allowed_* or node_allowed_* (defects 13, 14). */
    EXPECT_OK(parse(legacy_doc(TAG), LOCKED, 1, MT_POLICY_KMS, &p, why, sizeof(why)));
    assert_int_equal(p->mrtd.n, 0);
    assert_string_equal(p->tcb_statuses[0], "uptodate");
    assert_int_equal(p->num_tcb_statuses, 1);
    assert_int_equal(p->has_binding, 1);
    EXPECT_ERR(mt_policy_require_complete(p, why, sizeof(why)), MT_ERR_CONFIG);
    mt_policy_free(p);

    /* merod's leniencies: an empty TCB list means ["uptodate"], blank entries are skipped. */
    d = base_doc(TAG, LOCKED);
    pol = json_object_get(d, "policy");
    json_object_set_new(pol, "kms_allowed_tcb_statuses", json_pack("[s,i]", " ", 3));
    json_object_set_new(pol, "kms_allowed_rtmr1", json_pack("[s,s,s]", "", hexrep(0x55), " "));
    EXPECT_OK(parse(d, LOCKED, 0, MT_POLICY_KMS, &p, why, sizeof(why)));
    assert_int_equal(p->num_tcb_statuses, 1);
    assert_string_equal(p->tcb_statuses[0], "uptodate");
    assert_list1(&p->rtmr[1], 0x55);
    mt_policy_free(p);
    /* The same document is refused on the KMS side (blank measurement entry). */
    d = base_doc(TAG, LOCKED);
    json_object_set_new(json_object_get(d, "policy"), "node_allowed_rtmr1", json_pack("[s]", ""));
    EXPECT_ERR(parse(d, LOCKED, 0, MT_POLICY_NODE, &p, why, sizeof(why)), MT_ERR_POLICY_FORMAT);

    /* kms_allowed_X present but [] stays empty; a bad entry fails. */
    d = base_doc(TAG, LOCKED);
    pol = json_object_get(d, "policy");
    json_object_set_new(pol, "kms_allowed_rtmr3", json_array());
    EXPECT_OK(parse(d, LOCKED, 0, MT_POLICY_KMS, &p, why, sizeof(why)));
    assert_int_equal(p->rtmr[3].n, 0);
    mt_policy_free(p);
    d = base_doc(TAG, LOCKED);
    json_object_set_new(json_object_get(d, "policy"), "kms_allowed_mrtd", json_string("x"));
    EXPECT_ERR(parse(d, LOCKED, 0, MT_POLICY_KMS, &p, why, sizeof(why)), MT_ERR_POLICY_FORMAT);
    assert_string_equal(why, "policy.kms_allowed_mrtd must be an array");

    /* Binding: absent -> has_binding 0; 31 bytes, bad base64, non-string -> refused. */
    d = base_doc(TAG, LOCKED);
    json_object_del(d, "kms");
    EXPECT_OK(parse(d, LOCKED, 0, MT_POLICY_KMS, &p, why, sizeof(why)));
    assert_int_equal(p->has_binding, 0);
    mt_policy_free(p);
    {
        static const char *const bad[] = {"IyP+rOn9F1GomrK+u4q6FF80OjaI49FlXtQo6wdm4w==",
                                          "IyP+rOn9F1GomrK+u4q6FF80OjaI49FlXtQo6wdm45Y",
                                          "IyP-rOn9F1GomrK+u4q6FF80OjaI49FlXtQo6wdm45Y=", ""};

        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            d = base_doc(TAG, LOCKED);
            json_object_set_new(json_object_get(d, "kms"), "default_binding_b64",
                                json_string(bad[i]));
            EXPECT_ERR(parse(d, LOCKED, 0, MT_POLICY_KMS, &p, why, sizeof(why)),
                       MT_ERR_POLICY_FORMAT);
            assert_string_equal(why, "kms.default_binding_b64 must be base64 of exactly 32 bytes");
            /* The KMS side ignores the kms object, however broken. */
            d = base_doc(TAG, LOCKED);
            json_object_set_new(json_object_get(d, "kms"), "default_binding_b64",
                                json_string(bad[i]));
            EXPECT_OK(parse(d, LOCKED, 0, MT_POLICY_NODE, &p, why, sizeof(why)));
            mt_policy_free(p);
        }
    }
    d = base_doc(TAG, LOCKED);
    json_object_set_new(json_object_get(d, "kms"), "default_binding_b64", json_integer(3));
    EXPECT_ERR(parse(d, LOCKED, 0, MT_POLICY_KMS, &p, why, sizeof(why)), MT_ERR_POLICY_FORMAT);
    d = base_doc(TAG, LOCKED);
    json_object_set_new(d, "kms", json_string("x"));
    EXPECT_ERR(parse(d, LOCKED, 0, MT_POLICY_KMS, &p, why, sizeof(why)), MT_ERR_POLICY_FORMAT);
}

/* ---- evaluation ---- */

/* A complete policy with one entry per list: mrtd 0x00, rtmr i = 0x00 too. */
static struct mt_policy *
zero_policy(void)
{
    struct mt_policy *p = NULL;
    uint8_t z[MT_MEAS_LEN];
    size_t i;

    memset(z, 0, sizeof(z));
    EXPECT_OK(mt_policy_new_empty(&p));
    EXPECT_OK(mt_meas_list_add(&p->mrtd, z));
    for (i = 0; i < 4; i++)
        EXPECT_OK(mt_meas_list_add(&p->rtmr[i], z));
    return p;
}

static void
test_check_messages_and_order(void **state)
{
    uint8_t mrtd[MT_MEAS_LEN], rtmr[4][MT_MEAS_LEN], ones[MT_MEAS_LEN];
    struct mt_policy *p;
    char d[512], want[256];

    (void)state;
    memset(mrtd, 0, sizeof(mrtd));
    memset(rtmr, 0, sizeof(rtmr));
    meas(0x11, ones);

    /* 1.15 item 7: all five lists = zeros, tcb UpToDate (case-insensitive) -> accepted. */
    p = zero_policy();
    EXPECT_OK(mt_policy_check(p, "UpToDate", mrtd, rtmr, d, sizeof(d)));
    assert_string_equal(d, "");

    /* 1.15 item 5: OutOfDate vs [uptodate]. */
    EXPECT_ERR(mt_policy_check(p, "OutOfDate", mrtd, rtmr, d, sizeof(d)),
               MT_ERR_TCB_STATUS_REJECTED);
    assert_string_equal(d, "TCB status 'OutOfDate' is not allowed. Allowed values: uptodate");
    EXPECT_OK(mt_policy_add_tcb(p, "SWHardeningNeeded", 17));
    EXPECT_ERR(mt_policy_check(p, "Revoked", mrtd, rtmr, d, sizeof(d)), MT_ERR_TCB_STATUS_REJECTED);
    assert_string_equal(d, "TCB status 'Revoked' is not allowed. Allowed values: uptodate, "
                           "swhardeningneeded");
    EXPECT_OK(mt_policy_check(p, "SWHARDENINGNEEDED", mrtd, rtmr, d, sizeof(d)));

    /* Missing TCB status (item 19). */
    EXPECT_ERR(mt_policy_check(p, NULL, mrtd, rtmr, d, sizeof(d)), MT_ERR_TCB_STATUS_REJECTED);
    assert_string_equal(d, "Quote verification did not provide a TCB status");

    /* TCB is checked before measurements. */
    EXPECT_ERR(mt_policy_check(p, "OutOfDate", ones, rtmr, d, sizeof(d)),
               MT_ERR_TCB_STATUS_REJECTED);

    /* 1.15 item 6: MRTD allowlist 96 x '1' vs zero MRTD. */
    mt_policy_free(p);
    p = zero_policy();
    memcpy(p->mrtd.v[0], ones, MT_MEAS_LEN);
    EXPECT_ERR(mt_policy_check(p, "UpToDate", mrtd, rtmr, d, sizeof(d)),
               MT_ERR_MEASUREMENT_REJECTED);
    snprintf(want, sizeof(want), "MRTD '%s' is not in allowlist", hexrep(0));
    assert_string_equal(d, want);
    /* A second entry that matches is enough. */
    EXPECT_OK(mt_meas_list_add(&p->mrtd, mrtd));
    EXPECT_OK(mt_policy_check(p, "UpToDate", mrtd, rtmr, d, sizeof(d)));

    /* Order MRTD -> RTMR0 -> ... -> RTMR3 (item 20): the first failing list is reported. */
    rtmr[1][47] = 0x01;
    rtmr[3][0] = 0x01;
    EXPECT_ERR(mt_policy_check(p, "UpToDate", mrtd, rtmr, d, sizeof(d)),
               MT_ERR_MEASUREMENT_REJECTED);
    snprintf(want, sizeof(want), "RTMR1 '%.94s01' is not in allowlist", hexrep(0));
    assert_string_equal(d, want);
    rtmr[1][47] = 0;
    EXPECT_ERR(mt_policy_check(p, "UpToDate", mrtd, rtmr, d, sizeof(d)),
               MT_ERR_MEASUREMENT_REJECTED);
    snprintf(want, sizeof(want), "RTMR3 '01%.94s' is not in allowlist", hexrep(0));
    assert_string_equal(d, want);
    rtmr[3][0] = 0;

    /* Empty allowlists: "<LABEL> allowlist is empty", also in order. */
    mt_free(p->rtmr[2].v);
    p->rtmr[2].v = NULL;
    p->rtmr[2].n = 0;
    mt_free(p->rtmr[0].v);
    p->rtmr[0].v = NULL;
    p->rtmr[0].n = 0;
    EXPECT_ERR(mt_policy_check(p, "uptodate", mrtd, rtmr, d, sizeof(d)),
               MT_ERR_MEASUREMENT_REJECTED);
    assert_string_equal(d, "RTMR0 allowlist is empty");
    EXPECT_OK(mt_meas_list_add(&p->rtmr[0], rtmr[0]));
    EXPECT_ERR(mt_policy_check(p, "uptodate", mrtd, rtmr, d, sizeof(d)),
               MT_ERR_MEASUREMENT_REJECTED);
    assert_string_equal(d, "RTMR2 allowlist is empty");
    mt_free(p->mrtd.v);
    p->mrtd.v = NULL;
    p->mrtd.n = 0;
    EXPECT_ERR(mt_policy_check(p, "uptodate", mrtd, rtmr, d, sizeof(d)),
               MT_ERR_MEASUREMENT_REJECTED);
    assert_string_equal(d, "MRTD allowlist is empty");

    /* Not enforcing: nothing is checked (ENFORCE_MEASUREMENT_POLICY=false). */
    p->enforce = 0;
    EXPECT_OK(mt_policy_check(p, NULL, ones, rtmr, d, sizeof(d)));
    EXPECT_OK(mt_policy_check(p, "Revoked", ones, rtmr, NULL, 0));

    /* An empty TCB list rejects everything, listing nothing. */
    p->enforce = 1;
    mt_policy_clear_tcb(p);
    EXPECT_ERR(mt_policy_check(p, "UpToDate", mrtd, rtmr, d, sizeof(d)),
               MT_ERR_TCB_STATUS_REJECTED);
    assert_string_equal(d, "TCB status 'UpToDate' is not allowed. Allowed values: ");
    /* A short detail buffer is cut, never overrun. */
    EXPECT_ERR(mt_policy_check(p, "UpToDate", mrtd, rtmr, d, 8), MT_ERR_TCB_STATUS_REJECTED);
    assert_string_equal(d, "TCB sta");
    EXPECT_ERR(mt_policy_check(NULL, "UpToDate", mrtd, rtmr, d, sizeof(d)), MT_ERR_ARG);
    mt_policy_free(p);

    assert_string_equal(mt_policy_meas_label(0), "MRTD");
    assert_string_equal(mt_policy_meas_label(4), "RTMR3");
}

static void
test_require_complete(void **state)
{
    struct mt_policy *p = zero_policy();
    char why[256];
    size_t i;

    (void)state;
    EXPECT_OK(mt_policy_require_complete(p, why, sizeof(why)));
    assert_string_equal(why, "");
    for (i = 4; i > 0; i--) {
        char want[128];

        p->rtmr[i - 1].n = 0;
        EXPECT_ERR(mt_policy_require_complete(p, why, sizeof(why)), MT_ERR_CONFIG);
        snprintf(want, sizeof(want),
                 "allowed_rtmr%zu must not be empty when measurement policy is enforced", i - 1);
        assert_string_equal(why, want);
    }
    p->mrtd.n = 0;
    EXPECT_ERR(mt_policy_require_complete(p, why, sizeof(why)), MT_ERR_CONFIG);
    assert_non_null(strstr(why, "allowed_mrtd"));
    mt_policy_clear_tcb(p);
    EXPECT_ERR(mt_policy_require_complete(p, why, sizeof(why)), MT_ERR_CONFIG);
    assert_non_null(strstr(why, "allowed_tcb_statuses"));
    p->enforce = 0;
    EXPECT_OK(mt_policy_require_complete(p, why, sizeof(why)));
    EXPECT_ERR(mt_policy_require_complete(NULL, why, sizeof(why)), MT_ERR_ARG);
    mt_policy_free(p);
}

/* ---- fetch ---- */

struct fetch_env {
    struct mt_release_server *srv;
    char dir[64];
};

static int
fetch_setup(void **state)
{
    struct fetch_env *f = calloc(1, sizeof(*f));

    if (f == NULL || mt_release_server_start(&f->srv) != MT_OK)
        return -1;
    snprintf(f->dir, sizeof(f->dir), "/tmp/mt-policy-XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    *state = f;
    return 0;
}

static void
rm_dir_files(const char *dir)
{
    char p[256];

    snprintf(p, sizeof(p), "%s/%s", dir, PROFILE_ASSET);
    /* A test leaves a directory under the profile asset's name at times. */
    if (unlink(p) != 0)
        rmdir(p);
    snprintf(p, sizeof(p), "%s/%s", dir, GENERIC_ASSET);
    unlink(p);
}

static int
fetch_teardown(void **state)
{
    struct fetch_env *f = *state;

    mt_release_server_stop(f->srv);
    rm_dir_files(f->dir);
    rmdir(f->dir);
    free(f);
    return 0;
}

static void
src_init(struct mt_policy_source *src, const struct fetch_env *f, int use_dir)
{
    memset(src, 0, sizeof(*src));
    src->base_url = mt_release_server_url(f->srv);
    src->dir = use_dir ? f->dir : NULL;
    src->version = TAG;
    src->profile = LOCKED;
    src->subject = MT_POLICY_NODE;
}

static void
sha256(const char *s, uint8_t out[32])
{
    unsigned int n = 0;

    assert_int_equal(EVP_Digest(s, strlen(s), out, &n, EVP_sha256(), NULL), 1);
}

static void
put(struct fetch_env *f, const char *path, json_t *d)
{
    char *s = dump(d);

    EXPECT_OK(mt_release_server_put(f->srv, path, s, strlen(s)));
    free(s);
}

static void
write_file(const char *dir, const char *name, const char *text)
{
    char p[256];
    FILE *fp;

    snprintf(p, sizeof(p), "%s/%s", dir, name);
    fp = fopen(p, "w");
    assert_non_null(fp);
    assert_int_equal(fwrite(text, 1, strlen(text), fp), strlen(text));
    assert_int_equal(fclose(fp), 0);
}

static void
test_candidates(void **state)
{
    struct fetch_env *f = *state;
    struct mt_policy_source src;
    char out[512];

    src_init(&src, f, 0);
    src.base_url = "https://github.com/calimero-network/mero-tee/releases/download/";
    src.version = "mero-kms-v2.3.4";
    EXPECT_OK(mt_policy_candidate(&src, 0, out, sizeof(out)));
    assert_string_equal(out, "https://github.com/calimero-network/mero-tee/releases/download/"
                             "mero-kms-v2.3.4/kms-phala-attestation-policy.locked-read-only.json");
    EXPECT_OK(mt_policy_candidate(&src, 1, out, sizeof(out)));
    assert_string_equal(out, "https://github.com/calimero-network/mero-tee/releases/download/"
                             "mero-kms-v2.3.4/kms-phala-attestation-policy.json");
    src.profile = "Debug";
    src.version = "2.3.4-rc.1";
    EXPECT_OK(mt_policy_candidate(&src, 0, out, sizeof(out)));
    assert_non_null(strstr(out, "/mero-kms-v2.3.4-rc.1/kms-phala-attestation-policy.debug.json"));
    src.dir = "/srv/rel//";
    EXPECT_OK(mt_policy_candidate(&src, 0, out, sizeof(out)));
    assert_string_equal(out, "/srv/rel/kms-phala-attestation-policy.debug.json");
    EXPECT_OK(mt_policy_candidate(&src, 1, out, sizeof(out)));
    assert_string_equal(out, "/srv/rel/kms-phala-attestation-policy.json");
    src.dir = "/";
    EXPECT_OK(mt_policy_candidate(&src, 1, out, sizeof(out)));
    assert_string_equal(out, "/kms-phala-attestation-policy.json");

    /* Refusals: path characters in the version, an unknown profile, no room, index 2. */
    src.dir = NULL;
    src.version = "2.3.4/../x";
    EXPECT_ERR(mt_policy_candidate(&src, 0, out, sizeof(out)), MT_ERR_ARG);
    src.version = "mero-kms-v";
    EXPECT_ERR(mt_policy_candidate(&src, 0, out, sizeof(out)), MT_ERR_ARG);
    src.version = "2.3.4";
    src.profile = "prod";
    EXPECT_ERR(mt_policy_candidate(&src, 0, out, sizeof(out)), MT_ERR_ARG);
    src.profile = LOCKED;
    EXPECT_ERR(mt_policy_candidate(&src, 0, out, 20), MT_ERR_ARG);
    EXPECT_ERR(mt_policy_candidate(&src, 2, out, sizeof(out)), MT_ERR_ARG);
    src.base_url = NULL;
    EXPECT_ERR(mt_policy_candidate(&src, 0, out, sizeof(out)), MT_ERR_ARG);
}

static void
test_fetch_profile_asset(void **state)
{
    struct fetch_env *f = *state;
    struct mt_policy_source src;
    struct mt_policy *p = NULL;
    char why[1024], ua[64];

    mt_release_server_clear(f->srv);
    put(f, PROFILE_PATH, base_doc(TAG, LOCKED));
    put(f, GENERIC_PATH, legacy_doc(TAG));
    src_init(&src, f, 0);
    EXPECT_OK(mt_policy_fetch_release(&src, &p, why, sizeof(why)));
    assert_list1(&p->mrtd, 0x10); /* the profile asset's node list */
    assert_int_equal(mt_release_server_count(f->srv, PROFILE_PATH), 1);
    assert_int_equal(mt_release_server_count(f->srv, GENERIC_PATH), 0);
    mt_release_server_last_user_agent(f->srv, ua, sizeof(ua));
    assert_string_equal(ua, "mero-kms/1.0");
    mt_policy_free(p);

    /* The KMS subject reads the same document's kms_* lists. */
    src.subject = MT_POLICY_KMS;
    EXPECT_OK(mt_policy_fetch_release(&src, &p, why, sizeof(why)));
    assert_list1(&p->mrtd, 0x20);
    assert_int_equal(p->has_binding, 1);
    mt_policy_free(p);
}

static void
test_fetch_profile_404_uses_generic(void **state)
{
    struct fetch_env *f = *state;
    struct mt_policy_source src;
    struct mt_policy *p = NULL;
    json_t *d;
    char why[1024];

    /* Item 29: profile asset 404 -> generic asset, parsed as legacy. */
    mt_release_server_clear(f->srv);
    EXPECT_OK(mt_release_server_set_status(f->srv, PROFILE_PATH, 404));
    put(f, GENERIC_PATH, legacy_doc(TAG));
    src_init(&src, f, 0);
    EXPECT_OK(mt_policy_fetch_release(&src, &p, why, sizeof(why)));
    assert_list1(&p->mrtd, 0x30);
    assert_int_equal(mt_release_server_count(f->srv, PROFILE_PATH), 1);
    assert_int_equal(mt_release_server_count(f->srv, GENERIC_PATH), 1);
    mt_policy_free(p);

    /* The legacy exemption is for locked-read-only only: debug gets a format error. */
    EXPECT_OK(mt_release_server_put_asset(f->srv, TAG, GENERIC_ASSET, "{}", 2));
    d = legacy_doc(TAG);
    put(f, GENERIC_PATH, d);
    src.profile = "debug";
    p = NULL;
    EXPECT_ERR(mt_policy_fetch_release(&src, &p, why, sizeof(why)), MT_ERR_POLICY_FORMAT);
    assert_null(p);
    assert_non_null(strstr(why, GENERIC_PATH));
    assert_non_null(strstr(why, "role"));

    /* Generic asset with another profile: profile mismatch -> format error (degraded). */
    src.profile = LOCKED;
    put(f, GENERIC_PATH, base_doc(TAG, "debug"));
    EXPECT_ERR(mt_policy_fetch_release(&src, &p, why, sizeof(why)), MT_ERR_POLICY_FORMAT);
    assert_non_null(strstr(why, "profile mismatch"));

    /* Tag mismatch (item 30). */
    put(f, GENERIC_PATH, base_doc("2.3.41", LOCKED));
    EXPECT_ERR(mt_policy_fetch_release(&src, &p, why, sizeof(why)), MT_ERR_POLICY_FORMAT);
    assert_non_null(strstr(why, "tag mismatch"));

    /* Both missing (unscripted paths are 404 too): the last reason is reported. */
    mt_release_server_clear(f->srv);
    EXPECT_ERR(mt_policy_fetch_release(&src, &p, why, sizeof(why)), MT_ERR_POLICY_FETCH);
    assert_non_null(strstr(why, GENERIC_PATH));
    assert_non_null(strstr(why, "404"));
    assert_int_equal(mt_release_server_count(f->srv, NULL), 2);
}

static void
test_fetch_stops(void **state)
{
    struct fetch_env *f = *state;
    struct mt_policy_source src;
    struct mt_policy *p = NULL;
    uint8_t pin[32];
    char why[1024], *text;
    static const unsigned statuses[] = {500, 403, 401, 410, 503, 301};
    size_t i;

    src_init(&src, f, 0);
    /* Item 30: 500 (and any non-404 error status) on the first candidate stops. */
    for (i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
        mt_release_server_clear(f->srv);
        EXPECT_OK(mt_release_server_set_status(f->srv, PROFILE_PATH, statuses[i]));
        put(f, GENERIC_PATH, legacy_doc(TAG));
        EXPECT_ERR(mt_policy_fetch_release(&src, &p, why, sizeof(why)), MT_ERR_POLICY_FETCH);
        assert_null(p);
        assert_int_equal(mt_release_server_count(f->srv, GENERIC_PATH), 0);
        assert_non_null(strstr(why, "HTTP status"));
    }

    /* Pin mismatch stops, no fallback, even though the generic one would match. */
    mt_release_server_clear(f->srv);
    put(f, PROFILE_PATH, base_doc(TAG, LOCKED));
    text = dump(legacy_doc(TAG));
    EXPECT_OK(mt_release_server_put(f->srv, GENERIC_PATH, text, strlen(text)));
    sha256(text, pin);
    src.pin = pin;
    EXPECT_ERR(mt_policy_fetch_release(&src, &p, why, sizeof(why)), MT_ERR_POLICY_PIN);
    assert_non_null(strstr(why, "Policy hash mismatch"));
    assert_non_null(strstr(why, PROFILE_PATH));
    assert_int_equal(mt_release_server_count(f->srv, GENERIC_PATH), 0);

    /* The pin applies to whichever candidate was read (defect 11): generic + its hash = OK. */
    EXPECT_OK(mt_release_server_set_status(f->srv, PROFILE_PATH, 404));
    EXPECT_OK(mt_policy_fetch_release(&src, &p, why, sizeof(why)));
    mt_policy_free(p);
    p = NULL;
    free(text);
    /* ... and the profile asset with its own hash. */
    text = dump(base_doc(TAG, LOCKED));
    EXPECT_OK(mt_release_server_put(f->srv, PROFILE_PATH, text, strlen(text)));
    sha256(text, pin);
    EXPECT_OK(mt_policy_fetch_release(&src, &p, why, sizeof(why)));
    mt_policy_free(p);
    p = NULL;
    free(text);
    src.pin = NULL;

    /* Oversize body, announced or chunked: an error, no fallback. */
    mt_release_server_clear(f->srv);
    put(f, GENERIC_PATH, legacy_doc(TAG));
    EXPECT_OK(mt_release_server_set_oversize(f->srv, PROFILE_PATH, MT_POLICY_MAX_DOC + 1, 0));
    EXPECT_ERR(mt_policy_fetch_release(&src, &p, why, sizeof(why)), MT_ERR_TOO_LARGE);
    assert_int_equal(mt_release_server_count(f->srv, GENERIC_PATH), 0);
    EXPECT_OK(mt_release_server_set_oversize(f->srv, PROFILE_PATH, 4 * MT_POLICY_MAX_DOC, 1));
    EXPECT_ERR(mt_policy_fetch_release(&src, &p, why, sizeof(why)), MT_ERR_TOO_LARGE);
    assert_non_null(strstr(why, "exceeds"));
    /* Exactly at the limit is read (and then fails to parse). */
    EXPECT_OK(mt_release_server_set_oversize(f->srv, PROFILE_PATH, MT_POLICY_MAX_DOC, 1));
    EXPECT_ERR(mt_policy_fetch_release(&src, &p, why, sizeof(why)), MT_ERR_POLICY_FORMAT);
    assert_null(p);
}

static void
test_fetch_transport_errors(void **state)
{
    struct fetch_env *f = *state;
    struct mt_policy_source src;
    struct mt_policy *p = NULL;
    char why[1024], base[64];
    uint16_t port;

    src_init(&src, f, 0);
    /* Transport error (connection closed without an answer) -> next candidate. */
    mt_release_server_clear(f->srv);
    EXPECT_OK(mt_release_server_set_hangup(f->srv, PROFILE_PATH));
    put(f, GENERIC_PATH, legacy_doc(TAG));
    EXPECT_OK(mt_policy_fetch_release(&src, &p, why, sizeof(why)));
    assert_int_equal(mt_release_server_count(f->srv, PROFILE_PATH), 1);
    assert_int_equal(mt_release_server_count(f->srv, GENERIC_PATH), 1);
    mt_policy_free(p);
    p = NULL;

    /* Both unreachable -> fetch error naming the last URL. */
    EXPECT_OK(mt_release_server_set_hangup(f->srv, GENERIC_PATH));
    EXPECT_ERR(mt_policy_fetch_release(&src, &p, why, sizeof(why)), MT_ERR_POLICY_FETCH);
    assert_non_null(strstr(why, GENERIC_PATH));

    /* Nothing listening at all. */
    EXPECT_OK(mt_pcs_unused_port(&port));
    snprintf(base, sizeof(base), "http://127.0.0.1:%u", (unsigned)port);
    src.base_url = base;
    EXPECT_ERR(mt_policy_fetch_release(&src, &p, why, sizeof(why)), MT_ERR_POLICY_FETCH);
    assert_null(p);

    /* Redirects are followed only to https: an http redirect is a transport error. */
    src.base_url = mt_release_server_url(f->srv);
    mt_release_server_clear(f->srv);
    {
        char loc[128];

        snprintf(loc, sizeof(loc), "%s/elsewhere.json", mt_release_server_url(f->srv));
        EXPECT_OK(mt_release_server_set_redirect(f->srv, PROFILE_PATH, loc));
        put(f, "/elsewhere.json", base_doc(TAG, "debug"));
        put(f, GENERIC_PATH, legacy_doc(TAG));
        EXPECT_OK(mt_policy_fetch_release(&src, &p, why, sizeof(why)));
        assert_list1(&p->mrtd, 0x30);
        assert_int_equal(mt_release_server_count(f->srv, "/elsewhere.json"), 0);
        mt_policy_free(p);
        p = NULL;
    }

    /* A timeout is a transport error too. */
    mt_release_server_clear(f->srv);
    put(f, PROFILE_PATH, base_doc(TAG, LOCKED));
    mt_release_server_set_delay(f->srv, 1500);
    src.timeout_ms = 300;
    EXPECT_ERR(mt_policy_fetch_release(&src, &p, why, sizeof(why)), MT_ERR_POLICY_FETCH);
    mt_release_server_set_delay(f->srv, 0);

    /* A bad source is refused before any request. */
    mt_release_server_clear(f->srv);
    src.version = "a b";
    EXPECT_ERR(mt_policy_fetch_release(&src, &p, why, sizeof(why)), MT_ERR_ARG);
    EXPECT_ERR(mt_policy_fetch_release(NULL, &p, why, sizeof(why)), MT_ERR_ARG);
    assert_int_equal(mt_release_server_count(f->srv, NULL), 0);
}

static void
test_fetch_local_dir(void **state)
{
    struct fetch_env *f = *state;
    struct mt_policy_source src;
    struct mt_policy *p = NULL;
    uint8_t pin[32];
    char why[1024], *text, path[256];
    FILE *fp;
    size_t i;

    src_init(&src, f, 1);
    rm_dir_files(f->dir);
    /* Nothing there: both candidates "404". */
    EXPECT_ERR(mt_policy_fetch_release(&src, &p, why, sizeof(why)), MT_ERR_POLICY_FETCH);
    assert_non_null(strstr(why, GENERIC_ASSET));

    /* Generic only: used as legacy. */
    text = dump(legacy_doc(TAG));
    write_file(f->dir, GENERIC_ASSET, text);
    EXPECT_OK(mt_policy_fetch_release(&src, &p, why, sizeof(why)));
    assert_list1(&p->mrtd, 0x30);
    mt_policy_free(p);
    p = NULL;
    /* The pin applies to it. */
    sha256(text, pin);
    src.pin = pin;
    EXPECT_OK(mt_policy_fetch_release(&src, &p, why, sizeof(why)));
    mt_policy_free(p);
    p = NULL;
    free(text);

    /* Profile file present: it wins, and the generic file's pin no longer matches. */
    text = dump(base_doc(TAG, LOCKED));
    write_file(f->dir, PROFILE_ASSET, text);
    EXPECT_ERR(mt_policy_fetch_release(&src, &p, why, sizeof(why)), MT_ERR_POLICY_PIN);
    src.pin = NULL;
    EXPECT_OK(mt_policy_fetch_release(&src, &p, why, sizeof(why)));
    assert_list1(&p->mrtd, 0x10);
    mt_policy_free(p);
    p = NULL;
    free(text);

    /* An empty file is read and fails to parse; no fallback. */
    write_file(f->dir, PROFILE_ASSET, "");
    EXPECT_ERR(mt_policy_fetch_release(&src, &p, why, sizeof(why)), MT_ERR_POLICY_FORMAT);

    /* Over the limit. */
    snprintf(path, sizeof(path), "%s/%s", f->dir, PROFILE_ASSET);
    fp = fopen(path, "w");
    assert_non_null(fp);
    for (i = 0; i < MT_POLICY_MAX_DOC + 1; i++)
        fputc(' ', fp);
    assert_int_equal(fclose(fp), 0);
    EXPECT_ERR(mt_policy_fetch_release(&src, &p, why, sizeof(why)), MT_ERR_TOO_LARGE);

    /* Not a regular file: stops (a read error is not a 404). */
    unlink(path);
    assert_int_equal(mkdir(path, 0700), 0);
    EXPECT_ERR(mt_policy_fetch_release(&src, &p, why, sizeof(why)), MT_ERR_POLICY_FETCH);
    assert_non_null(strstr(why, "not a regular file"));
    rmdir(path);
    /* A FIFO neither hangs the reader nor counts as missing. */
    assert_int_equal(mkfifo(path, 0600), 0);
    EXPECT_ERR(mt_policy_fetch_release(&src, &p, why, sizeof(why)), MT_ERR_POLICY_FETCH);
    unlink(path);

    /* The directory form never touches the network. */
    assert_int_equal(mt_release_server_count(f->srv, NULL), 0);
    assert_null(p);
}

static void
test_out_of_memory(void **state)
{
    struct fetch_env *f = *state;
    struct mt_policy_source src;
    struct mt_policy *p;
    unsigned long n;
    char *text, why[1024];
    mt_err e;

    text = dump(base_doc(TAG, LOCKED));
    for (n = 1; n < 10000; n++) {
        p = NULL;
        mt_alloc_fail_at(n);
        e = mt_policy_parse_release(text, strlen(text), TAG, LOCKED, 0, MT_POLICY_KMS, &p, why,
                                    sizeof(why));
        mt_alloc_fail_at(0);
        if (e == MT_OK) {
            mt_policy_free(p);
            break;
        }
        assert_int_equal(e, MT_ERR_NOMEM);
        assert_null(p);
    }
    assert_true(n < 10000);

    mt_release_server_clear(f->srv);
    EXPECT_OK(mt_release_server_put(f->srv, PROFILE_PATH, text, strlen(text)));
    src_init(&src, f, 0);
    for (n = 1; n < 10000; n++) {
        p = NULL;
        mt_alloc_fail_at(n);
        e = mt_policy_fetch_release(&src, &p, why, sizeof(why));
        mt_alloc_fail_at(0);
        if (e == MT_OK) {
            mt_policy_free(p);
            break;
        }
        /* A failed body append surfaces as NOMEM; nothing else may appear. */
        if (e != MT_ERR_NOMEM)
            fail_msg("allocation %lu: %s (%s)", n, mt_err_code(e), why);
        assert_null(p);
    }
    assert_true(n < 10000);
    free(text);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_measurement_normalize),
        cmocka_unit_test(test_profile_normalize),
        cmocka_unit_test(test_new_empty),
        cmocka_unit_test(test_parse_node_profile_doc),
        cmocka_unit_test(test_parse_node_fallbacks),
        cmocka_unit_test(test_parse_legacy_rules),
        cmocka_unit_test(test_parse_rejections),
        cmocka_unit_test(test_parse_kms_subject),
        cmocka_unit_test(test_check_messages_and_order),
        cmocka_unit_test(test_require_complete),
        cmocka_unit_test_setup_teardown(test_candidates, fetch_setup, fetch_teardown),
        cmocka_unit_test_setup_teardown(test_fetch_profile_asset, fetch_setup, fetch_teardown),
        cmocka_unit_test_setup_teardown(test_fetch_profile_404_uses_generic, fetch_setup,
                                        fetch_teardown),
        cmocka_unit_test_setup_teardown(test_fetch_stops, fetch_setup, fetch_teardown),
        cmocka_unit_test_setup_teardown(test_fetch_transport_errors, fetch_setup, fetch_teardown),
        cmocka_unit_test_setup_teardown(test_fetch_local_dir, fetch_setup, fetch_teardown),
        cmocka_unit_test_setup_teardown(test_out_of_memory, fetch_setup, fetch_teardown),
    };

    return cmocka_run_group_tests_name("policy", tests, NULL, NULL);
}
