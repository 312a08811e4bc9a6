/*
 * TCB evaluation pieces (dcap-verify.md 2.4, 2.5, 2.9, 2.11-2.13):
 *   dcap/tcb.h        status names and Intel's merge rule;
 *   dcap/tcb_docs.h   TCB Info / QE Identity parsing, on the real shared
 *                     documents and on broken ones (each broken field gives
 *                     the document's format error);
 *   dcap/tcb_match.h  QE, platform and TDX module matching on small structs.
 */
#include "mt_testlib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dcap/tcb.h"
#include "dcap/tcb_docs.h"
#include "dcap/tcb_match.h"
#include "util/mt_limits.h"

#define VEC "vectors/dcap/"

/* Short names for the merge table. */
#define T_U MT_TCB_UP_TO_DATE
#define T_S MT_TCB_SW_HARDENING_NEEDED
#define T_C MT_TCB_CONFIGURATION_NEEDED
#define T_CS MT_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED
#define T_O MT_TCB_OUT_OF_DATE
#define T_OC MT_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED
#define T_R MT_TCB_REVOKED

static const char *const names[7] = {"UpToDate",
                                     "SWHardeningNeeded",
                                     "ConfigurationNeeded",
                                     "ConfigurationAndSWHardeningNeeded",
                                     "OutOfDate",
                                     "OutOfDateConfigurationNeeded",
                                     "Revoked"};

/* ---- status names ---- */

static void
test_status_names(void **state)
{
    enum mt_tcb_status s;
    unsigned i;

    (void)state;
    for (i = 0; i < 7; i++) {
        assert_string_equal(mt_tcb_status_name((enum mt_tcb_status)i), names[i]);
        s = (enum mt_tcb_status)99;
        EXPECT_OK(mt_tcb_status_parse(names[i], &s));
        assert_int_equal(s, i);
    }
    assert_string_equal(mt_tcb_status_name((enum mt_tcb_status)7), "Unknown");
    assert_string_equal(mt_tcb_status_name((enum mt_tcb_status)1000), "Unknown");
}

static void
test_status_unknown(void **state)
{
    static const char *const bad[] = {"",
                                      "Unknown",
                                      "uptodate",
                                      "UPTODATE",
                                      "UpToDate ",
                                      " UpToDate",
                                      "Up To Date",
                                      "OutOfDateConfigurationNeededX",
                                      "OutOfDateConfiguration",
                                      "TDRelaunchAdvised",
                                      "TDRelaunchAdvisedConfigurationNeeded",
                                      "Invalid"};
    enum mt_tcb_status s = MT_TCB_REVOKED;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        EXPECT_ERR(mt_tcb_status_parse(bad[i], &s), MT_ERR_JSON_FIELD);
        assert_int_equal(s, MT_TCB_REVOKED);
    }
}

/* ---- merge ---- */

static struct mt_tcb_result
result(enum mt_tcb_status st, const char *const *adv, size_t n)
{
    struct mt_tcb_result r;
    size_t i;

    memset(&r, 0, sizeof(r));
    r.status = st;
    for (i = 0; i < n; i++)
        EXPECT_OK(mt_tcb_result_add_advisory(&r, adv[i]));
    return r;
}

/*
 * Intel's convergence, written out: the worse status, except OutOfDate
 * with ConfigurationNeeded or ConfigurationAndSWHardeningNeeded (either
 * side) gives OutOfDateConfigurationNeeded.
 */
static const int merge_table[7][7] = {
    /*          T_U   T_S   T_C   T_CS  T_O   T_OC  T_R */
    /* T_U  */ {T_U, T_S, T_C, T_CS, T_O, T_OC, T_R},
    /* T_S  */ {T_S, T_S, T_C, T_CS, T_O, T_OC, T_R},
    /* T_C  */ {T_C, T_C, T_C, T_CS, T_OC, T_OC, T_R},
    /* T_CS */ {T_CS, T_CS, T_CS, T_CS, T_OC, T_OC, T_R},
    /* T_O  */ {T_O, T_O, T_OC, T_OC, T_O, T_OC, T_R},
    /* T_OC */ {T_OC, T_OC, T_OC, T_OC, T_OC, T_OC, T_R},
    /* T_R  */ {T_R, T_R, T_R, T_R, T_R, T_R, T_R},
};

static void
test_merge_all_pairs(void **state)
{
    struct mt_tcb_result a, b, out;
    unsigned i, k;

    (void)state;
    for (i = 0; i < 7; i++) {
        for (k = 0; k < 7; k++) {
            a = result((enum mt_tcb_status)i, NULL, 0);
            b = result((enum mt_tcb_status)k, NULL, 0);
            EXPECT_OK(mt_tcb_merge(&a, &b, &out));
            if ((int)out.status != merge_table[i][k])
                fail_msg("merge(%s, %s) = %s, want %s", names[i], names[k],
                         mt_tcb_status_name(out.status), names[merge_table[i][k]]);
            assert_int_equal(out.num_advisories, 0);
            /* merging into a in place gives the same */
            EXPECT_OK(mt_tcb_merge(&a, &b, &a));
            assert_int_equal(a.status, out.status);
        }
    }
}

static void
expect_advisories(const struct mt_tcb_result *r, const char *const *want, size_t n)
{
    size_t i;

    assert_int_equal(r->num_advisories, n);
    for (i = 0; i < n; i++)
        assert_string_equal(r->advisories[i], want[i]);
}

static void
test_merge_advisories(void **state)
{
    static const char *const a_ids[] = {"INTEL-SA-00615", "INTEL-SA-00289"};
    static const char *const b_ids[] = {"INTEL-SA-00289", "INTEL-SA-00837", "INTEL-SA-00615",
                                        "INTEL-SA-00100"};
    static const char *const union_ab[] = {"INTEL-SA-00615", "INTEL-SA-00289", "INTEL-SA-00837",
                                           "INTEL-SA-00100"};
    static const char *const union_ba[] = {"INTEL-SA-00289", "INTEL-SA-00837", "INTEL-SA-00615",
                                           "INTEL-SA-00100"};
    struct mt_tcb_result a = result(T_S, a_ids, 2), b = result(T_O, b_ids, 4),
                         e = result(T_U, NULL, 0), out;

    (void)state;
    /* a's advisories first, then b's new ones in b's order */
    EXPECT_OK(mt_tcb_merge(&a, &b, &out));
    assert_int_equal(out.status, T_O);
    expect_advisories(&out, union_ab, 4);
    EXPECT_OK(mt_tcb_merge(&b, &a, &out));
    expect_advisories(&out, union_ba, 4);
    /* with an empty side */
    EXPECT_OK(mt_tcb_merge(&a, &e, &out));
    assert_int_equal(out.status, T_S);
    expect_advisories(&out, a_ids, 2);
    EXPECT_OK(mt_tcb_merge(&e, &b, &out));
    expect_advisories(&out, b_ids, 4);
    /* merging with itself changes nothing */
    EXPECT_OK(mt_tcb_merge(&b, &b, &out));
    expect_advisories(&out, b_ids, 4);
    /* in place, three-way: (a + b) + a */
    EXPECT_OK(mt_tcb_merge(&a, &b, &a));
    EXPECT_OK(mt_tcb_merge(&a, &a, &a));
    expect_advisories(&a, union_ab, 4);
}

static void
test_add_advisory(void **state)
{
    struct mt_tcb_result r = result(T_U, NULL, 0);
    char id32[33], id33[34];

    (void)state;
    memset(id32, 'A', 32);
    id32[32] = '\0';
    memset(id33, 'A', 33);
    id33[33] = '\0';
    EXPECT_OK(mt_tcb_result_add_advisory(&r, "INTEL-SA-00615"));
    EXPECT_OK(mt_tcb_result_add_advisory(&r, "INTEL-SA-00615"));
    assert_int_equal(r.num_advisories, 1);
    EXPECT_OK(mt_tcb_result_add_advisory(&r, id32));
    assert_string_equal(r.advisories[1], id32);
    EXPECT_ERR(mt_tcb_result_add_advisory(&r, id33), MT_ERR_JSON_FIELD);
    EXPECT_ERR(mt_tcb_result_add_advisory(&r, ""), MT_ERR_JSON_FIELD);
    assert_int_equal(r.num_advisories, 2);
    /* case matters: a different ID */
    EXPECT_OK(mt_tcb_result_add_advisory(&r, "intel-sa-00615"));
    assert_int_equal(r.num_advisories, 3);
}

/* Fill r with n distinct advisories "ADV-<prefix>-<i>". */
static void
fill_advisories(struct mt_tcb_result *r, const char *prefix, size_t n)
{
    char id[32];
    size_t i;

    for (i = 0; i < n; i++) {
        snprintf(id, sizeof(id), "ADV-%s-%zu", prefix, i);
        EXPECT_OK(mt_tcb_result_add_advisory(r, id));
    }
}

static void
test_merge_overflow(void **state)
{
    struct mt_tcb_result a, b, out, before;

    (void)state;
    a = result(T_U, NULL, 0);
    fill_advisories(&a, "a", MT_MAX_ADVISORIES);
    EXPECT_ERR(mt_tcb_result_add_advisory(&a, "one-more"), MT_ERR_TOO_LARGE);
    assert_int_equal(a.num_advisories, MT_MAX_ADVISORIES);
    /* an ID already present still fits */
    EXPECT_OK(mt_tcb_result_add_advisory(&a, "ADV-a-0"));

    /* b overlaps fully: the union is still MT_MAX_ADVISORIES */
    b = result(T_O, NULL, 0);
    fill_advisories(&b, "a", 10);
    EXPECT_OK(mt_tcb_merge(&a, &b, &out));
    assert_int_equal(out.num_advisories, MT_MAX_ADVISORIES);
    assert_int_equal(out.status, T_O);

    /* one new ID past the limit: TOO_LARGE, out untouched */
    b = result(T_O, NULL, 0);
    fill_advisories(&b, "b", 1);
    memset(&out, 0x5A, sizeof(out));
    memcpy(&before, &out, sizeof(out));
    EXPECT_ERR(mt_tcb_merge(&a, &b, &out), MT_ERR_TOO_LARGE);
    assert_memory_equal(&out, &before, sizeof(out));
    /* in place: a is untouched too */
    memcpy(&before, &a, sizeof(a));
    EXPECT_ERR(mt_tcb_merge(&a, &b, &a), MT_ERR_TOO_LARGE);
    assert_memory_equal(&a, &before, sizeof(a));

    /* 63 + 2 new */
    a = result(T_U, NULL, 0);
    fill_advisories(&a, "a", MT_MAX_ADVISORIES - 1);
    b = result(T_U, NULL, 0);
    fill_advisories(&b, "b", 1);
    EXPECT_OK(mt_tcb_merge(&a, &b, &out));
    assert_int_equal(out.num_advisories, MT_MAX_ADVISORIES);
    fill_advisories(&b, "c", 1);
    EXPECT_ERR(mt_tcb_merge(&a, &b, &out), MT_ERR_TOO_LARGE);
}

/* ---- documents: helpers ---- */

/* The signed text of a collateral member, from a shared collateral file. */
static char *
shared_doc(const char *collateral, const char *member)
{
    json_t *c = mt_test_load_shared_json(collateral);
    const char *s = json_string_value(json_object_get(c, member));
    char *dup;

    assert_non_null(s);
    dup = strdup(s);
    assert_non_null(dup);
    json_decref(c);
    return dup;
}

static json_t *
load_text(const char *text)
{
    json_error_t jerr;
    json_t *j = json_loads(text, 0, &jerr);

    if (j == NULL)
        fail_msg("test JSON does not parse: %s", jerr.text);
    return j;
}

/*
 * Walk "a/0/b" from root; returns the parent of the last segment and
 * copies that segment to last.  Numeric segments index arrays.
 */
static json_t *
walk(json_t *root, const char *path, char *last, size_t last_size)
{
    char buf[256], *seg, *slash;
    json_t *cur = root;

    snprintf(buf, sizeof(buf), "%s", path);
    seg = buf;
    while ((slash = strchr(seg, '/')) != NULL) {
        *slash = '\0';
        if (json_is_array(cur))
            cur = json_array_get(cur, strtoul(seg, NULL, 10));
        else
            cur = json_object_get(cur, seg);
        if (cur == NULL)
            fail_msg("path %s: no %s", path, seg);
        seg = slash + 1;
    }
    snprintf(last, last_size, "%s", seg);
    return cur;
}

/* Delete (value NULL) or replace (value = JSON text) the member at path. */
static void
edit(json_t *root, const char *path, const char *value)
{
    char last[256];
    json_t *parent = walk(root, path, last, sizeof(last)), *v = NULL;
    json_error_t jerr;

    if (value != NULL) {
        v = json_loads(value, JSON_DECODE_ANY, &jerr);
        if (v == NULL)
            fail_msg("bad test value %s: %s", value, jerr.text);
    }
    if (json_is_array(parent)) {
        size_t i = strtoul(last, NULL, 10);

        if (v == NULL)
            assert_int_equal(json_array_remove(parent, i), 0);
        else
            assert_int_equal(json_array_set_new(parent, i, v), 0);
        return;
    }
    if (v == NULL) {
        if (json_object_del(parent, last) != 0)
            fail_msg("path %s: nothing to delete", path);
    } else {
        assert_int_equal(json_object_set_new(parent, last, v), 0);
    }
}

static mt_err
tcb_info_text(const char *text, size_t len, struct mt_tcb_info **out)
{
    struct mt_tcb_info *t = NULL;
    mt_err e = mt_tcb_info_parse(text, len, &t);

    if (e != MT_OK)
        assert_null(t); /* *out set only on success */
    if (out != NULL)
        *out = t;
    else
        mt_tcb_info_free(t);
    return e;
}

static mt_err
qe_identity_text(const char *text, size_t len, struct mt_qe_identity **out)
{
    struct mt_qe_identity *q = NULL;
    mt_err e = mt_qe_identity_parse(text, len, &q);

    if (e != MT_OK)
        assert_null(q);
    if (out != NULL)
        *out = q;
    else
        mt_qe_identity_free(q);
    return e;
}

/* Serialise doc (compact) and parse it as a TCB Info (kind 0) or QE Identity (kind 1). */
static mt_err
parse_json_doc(const json_t *doc, int kind)
{
    char *text = json_dumps(doc, JSON_COMPACT | JSON_ENCODE_ANY);
    mt_err e;

    assert_non_null(text);
    e = kind == 0 ? tcb_info_text(text, strlen(text), NULL)
                  : qe_identity_text(text, strlen(text), NULL);
    free(text);
    return e;
}

/* A copy of base with one edit, parsed. */
static mt_err
parse_edited(const json_t *base, int kind, const char *path, const char *value)
{
    json_t *copy = json_deep_copy(base);
    mt_err e;

    edit(copy, path, value);
    e = parse_json_doc(copy, kind);
    json_decref(copy);
    return e;
}

struct doc_case {
    const char *path;
    const char *value; /* JSON text; NULL deletes the member */
};

static void
run_doc_cases(const json_t *base, int kind, const struct doc_case *cases, size_t n, mt_err want)
{
    size_t i;
    mt_err e;

    for (i = 0; i < n; i++) {
        e = parse_edited(base, kind, cases[i].path, cases[i].value);
        if (e != want)
            fail_msg("%s %s %s: got %s, want %s", kind == 0 ? "tcbInfo" : "qeIdentity",
                     cases[i].path, cases[i].value == NULL ? "deleted" : cases[i].value,
                     mt_err_code(e), mt_err_code(want));
    }
}

/* level_cmp_desc as documented (2.4 step 6): > 0 when a sorts after b. */
static int
level_after(const struct mt_tcb_level *a, const struct mt_tcb_level *b, int tdx)
{
    int c = memcmp(b->sgx, a->sgx, 16);

    if (c != 0)
        return c > 0;
    if (a->pcesvn != b->pcesvn)
        return a->pcesvn < b->pcesvn;
    return tdx && memcmp(b->tdx, a->tdx, 16) > 0;
}

static void
expect_sorted(const struct mt_tcb_info *t)
{
    size_t i;

    for (i = 1; i < t->num_levels; i++) {
        if (level_after(&t->levels[i - 1], &t->levels[i], 1))
            fail_msg("levels %zu and %zu are out of order", i - 1, i);
    }
}

/* ---- documents: the real ones ---- */

static void
test_tcb_info_d2(void **state)
{
    static const uint8_t fmspc[6] = {0xB0, 0xC0, 0x6F, 0x00, 0x00, 0x00};
    static const uint8_t lvl_sgx[16] = {2, 2, 2, 2, 3, 1, 0, 5};
    static const uint8_t lvl_tdx[16] = {5, 0, 2};
    static const uint8_t zero48[48], ff8[8] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
    char *text = shared_doc(VEC "D2_tdx_quote_collateral.json", "tcb_info");
    struct mt_tcb_info *t = NULL;

    (void)state;
    EXPECT_OK(tcb_info_text(text, strlen(text), &t));
    assert_string_equal(t->id, "TDX");
    assert_int_equal(t->version, 3);
    assert_int_equal(t->issue_date, 1750328163);  /* 2025-06-19T10:16:03Z */
    assert_int_equal(t->next_update, 1752920163); /* 2025-07-19T10:16:03Z */
    assert_memory_equal(t->fmspc, fmspc, 6);
    assert_memory_equal(t->pce_id, "\0\0", 2);
    assert_int_equal(t->tcb_type, 0);
    assert_int_equal(t->tcb_eval_num, 17);
    assert_true(t->has_module);
    assert_memory_equal(t->module_mrsigner, zero48, 48);
    assert_memory_equal(t->module_attributes, zero48, 8);
    assert_memory_equal(t->module_attributes_mask, ff8, 8);

    assert_int_equal(t->num_modules, 2);
    assert_string_equal(t->modules[0].id, "TDX_03");
    assert_int_equal(t->modules[0].num_levels, 1);
    assert_int_equal(t->modules[0].levels[0].isvsvn, 3);
    assert_string_equal(t->modules[1].id, "TDX_01");
    assert_int_equal(t->modules[1].num_levels, 2);
    /* identity levels stay in published order */
    assert_int_equal(t->modules[1].levels[0].isvsvn, 4);
    assert_int_equal(t->modules[1].levels[0].result.status, MT_TCB_UP_TO_DATE);
    assert_int_equal(t->modules[1].levels[0].tcb_date, 1710288000);
    assert_int_equal(t->modules[1].levels[1].isvsvn, 2);
    assert_int_equal(t->modules[1].levels[1].result.status, MT_TCB_OUT_OF_DATE);

    assert_int_equal(t->num_levels, 2);
    assert_int_equal(t->levels[0].num_sgx, 16);
    assert_int_equal(t->levels[0].num_tdx, 16);
    assert_memory_equal(t->levels[0].sgx, lvl_sgx, 16);
    assert_memory_equal(t->levels[0].tdx, lvl_tdx, 16);
    assert_int_equal(t->levels[0].pcesvn, 11);
    assert_int_equal(t->levels[0].tcb_date, 1710288000);
    assert_int_equal(t->levels[0].result.status, MT_TCB_UP_TO_DATE);
    assert_int_equal(t->levels[0].result.num_advisories, 0);
    assert_int_equal(t->levels[1].pcesvn, 5);
    assert_int_equal(t->levels[1].result.status, MT_TCB_OUT_OF_DATE);
    assert_int_equal(t->levels[1].result.num_advisories, 14);
    assert_string_equal(t->levels[1].result.advisories[0], "INTEL-SA-00106");
    assert_string_equal(t->levels[1].result.advisories[13], "INTEL-SA-00837");
    expect_sorted(t);
    mt_tcb_info_free(t);
    free(text);
}

static void
test_tcb_info_d1(void **state)
{
    static const uint8_t top[16] = {11, 11, 2, 2, 255, 1, 12};
    char *text = shared_doc(VEC "D1_sgx_quote_collateral.json", "tcb_info");
    struct mt_tcb_info *t = NULL;
    size_t i;

    (void)state;
    EXPECT_OK(tcb_info_text(text, strlen(text), &t));
    assert_string_equal(t->id, "SGX");
    assert_int_equal(t->version, 3);
    assert_int_equal(t->issue_date, 1750330571); /* 2025-06-19T10:56:11Z */
    assert_false(t->has_module);
    assert_int_equal(t->num_modules, 0);
    assert_int_equal(t->num_levels, 11);
    expect_sorted(t);
    assert_memory_equal(t->levels[0].sgx, top, 16);
    assert_int_equal(t->levels[0].pcesvn, 13);
    assert_int_equal(t->levels[0].result.status, MT_TCB_SW_HARDENING_NEEDED);
    assert_int_equal(t->levels[0].result.num_advisories, 1);
    assert_string_equal(t->levels[0].result.advisories[0], "INTEL-SA-00615");
    for (i = 0; i < t->num_levels; i++) {
        assert_int_equal(t->levels[i].num_sgx, 16);
        assert_int_equal(t->levels[i].num_tdx, 0); /* SGX: not read */
    }
    mt_tcb_info_free(t);
    free(text);
}

static void
test_qe_identity_real(void **state)
{
    static const uint8_t attr[16] = {0x11},
                         mask[16] = {0xFB, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
    static const uint8_t td_mrsigner_head[4] = {0xDC, 0x9E, 0x2A, 0x7C};
    static const uint16_t d1_isvsvn[6] = {8, 6, 5, 4, 2, 1};
    char *text = shared_doc(VEC "D2_tdx_quote_collateral.json", "qe_identity");
    struct mt_qe_identity *q = NULL;
    size_t i;

    (void)state;
    EXPECT_OK(qe_identity_text(text, strlen(text), &q));
    assert_string_equal(q->id, "TD_QE");
    assert_int_equal(q->version, 2);
    assert_int_equal(q->issue_date, 1750329147);
    assert_int_equal(q->next_update, 1752921147);
    assert_int_equal(q->tcb_eval_num, 17);
    assert_int_equal(q->miscselect, 0);
    assert_int_equal(q->miscselect_mask, 0xFFFFFFFFu);
    assert_memory_equal(q->attributes, attr, 16);
    assert_memory_equal(q->attributes_mask, mask, 16);
    assert_memory_equal(q->mrsigner, td_mrsigner_head, 4);
    assert_int_equal(q->mrsigner[31], 0xC5);
    assert_int_equal(q->isvprodid, 2);
    assert_int_equal(q->num_levels, 1);
    assert_int_equal(q->levels[0].isvsvn, 4);
    assert_int_equal(q->levels[0].result.status, MT_TCB_UP_TO_DATE);
    mt_qe_identity_free(q);
    free(text);

    text = shared_doc(VEC "D1_sgx_quote_collateral.json", "qe_identity");
    EXPECT_OK(qe_identity_text(text, strlen(text), &q));
    assert_string_equal(q->id, "QE");
    assert_int_equal(q->isvprodid, 1);
    assert_int_equal(q->num_levels, 6);
    for (i = 0; i < 6; i++)
        assert_int_equal(q->levels[i].isvsvn, d1_isvsvn[i]);
    assert_int_equal(q->levels[1].result.status, MT_TCB_OUT_OF_DATE);
    assert_int_equal(q->levels[5].result.num_advisories, 6);
    assert_string_equal(q->levels[5].result.advisories[0], "INTEL-SA-00202");
    mt_qe_identity_free(q);
    free(text);
}

/* ---- documents: broken ---- */

static json_t *
shared_doc_json(const char *collateral, const char *member)
{
    char *text = shared_doc(collateral, member);
    json_t *j = load_text(text);

    free(text);
    return j;
}

static void
test_tcb_info_missing_fields(void **state)
{
    static const struct doc_case cases[] = {
        {"id", NULL},
        {"version", NULL},
        {"issueDate", NULL},
        {"nextUpdate", NULL},
        {"fmspc", NULL},
        {"pceId", NULL},
        {"tcbType", NULL},
        {"tcbEvaluationDataNumber", NULL},
        {"tcbLevels", NULL},
        {"tcbLevels/0/tcb", NULL},
        {"tcbLevels/0/tcb/sgxtcbcomponents", NULL},
        {"tcbLevels/0/tcb/pcesvn", NULL},
        {"tcbLevels/0/tcb/tdxtcbcomponents", NULL},
        {"tcbLevels/1/tcb/tdxtcbcomponents", NULL},
        {"tcbLevels/0/tcbDate", NULL},
        {"tcbLevels/1/tcbStatus", NULL},
        {"tcbLevels/1/tcb/sgxtcbcomponents/3/svn", NULL},
        {"tcbLevels/0/tcb/tdxtcbcomponents/15/svn", NULL},
        {"tdxModule/mrsigner", NULL},
        {"tdxModule/attributes", NULL},
        {"tdxModule/attributesMask", NULL},
        {"tdxModuleIdentities/0/id", NULL},
        {"tdxModuleIdentities/0/mrsigner", NULL},
        {"tdxModuleIdentities/0/attributes", NULL},
        {"tdxModuleIdentities/1/attributesMask", NULL},
        {"tdxModuleIdentities/1/tcbLevels", NULL},
        {"tdxModuleIdentities/1/tcbLevels/1/tcb", NULL},
        {"tdxModuleIdentities/1/tcbLevels/1/tcb/isvsvn", NULL},
        {"tdxModuleIdentities/1/tcbLevels/0/tcbDate", NULL},
        {"tdxModuleIdentities/0/tcbLevels/0/tcbStatus", NULL},
    };
    json_t *base = shared_doc_json(VEC "D2_tdx_quote_collateral.json", "tcb_info");

    (void)state;
    EXPECT_OK(parse_json_doc(base, 0)); /* re-serialised, the base itself parses */
    run_doc_cases(base, 0, cases, sizeof(cases) / sizeof(cases[0]), MT_ERR_TCB_INFO_FORMAT);
    json_decref(base);
}

static void
test_tcb_info_bad_values(void **state)
{
    static const struct doc_case cases[] = {
        /* id */
        {"id", "5"},
        {"id", "\"\""},
        {"id", "\"TDXTDXTDX\""},
        {"id", "null"},
        /* integers: type and range */
        {"version", "\"3\""},
        {"version", "3.0"},
        {"version", "-1"},
        {"version", "1001"},
        {"tcbType", "\"0\""},
        {"tcbType", "1001"},
        {"tcbEvaluationDataNumber", "-1"},
        {"tcbEvaluationDataNumber", "2147483648"},
        {"tcbEvaluationDataNumber", "true"},
        /* dates */
        {"issueDate", "0"},
        {"issueDate", "\"2025-02-29T00:00:00Z\""},
        {"issueDate", "\"2025-06-19T10:16:03\""},
        {"issueDate", "\"2025-06-19T10:16:03+00:00\""},
        {"nextUpdate", "\"2025-07-19 10:16:03Z\""},
        {"nextUpdate", "\"2025-07-19T24:00:00Z\""},
        {"nextUpdate", "null"},
        {"tcbLevels/0/tcbDate", "\"2024-03-13\""},
        {"tdxModuleIdentities/1/tcbLevels/0/tcbDate", "\"yesterday\""},
        /* hex sizes and characters */
        {"fmspc", "\"B0C06F00000\""},
        {"fmspc", "\"B0C06F0000\""},
        {"fmspc", "\"B0C06F00000000\""},
        {"fmspc", "\"G0C06F000000\""},
        {"fmspc", "\" 0C06F000000\""},
        {"fmspc", "123"},
        {"pceId", "\"00\""},
        {"pceId", "\"000000\""},
        {"pceId", "\"0x00\""},
        {"tdxModule/mrsigner", "\"00\""},
        {"tdxModule/attributes", "\"000000000000000000\""},
        {"tdxModule/attributesMask", "\"FFFFFFFFFFFFFFF\""},
        {"tdxModuleIdentities/0/mrsigner", "\"zz\""},
        {"tdxModuleIdentities/0/attributes", "0"},
        /* levels */
        {"tcbLevels", "{}"},
        {"tcbLevels", "[]"},
        {"tcbLevels", "[5]"},
        {"tcbLevels/0", "\"level\""},
        {"tcbLevels/0/tcb", "[]"},
        {"tcbLevels/0/tcb/sgxtcbcomponents", "{}"},
        {"tcbLevels/0/tcb/sgxtcbcomponents/0", "5"},
        {"tcbLevels/0/tcb/sgxtcbcomponents/0/svn", "256"},
        {"tcbLevels/0/tcb/sgxtcbcomponents/0/svn", "-1"},
        {"tcbLevels/0/tcb/sgxtcbcomponents/0/svn", "\"2\""},
        {"tcbLevels/0/tcb/sgxtcbcomponents/0/svn", "2.5"},
        {"tcbLevels/0/tcb/tdxtcbcomponents/2/svn", "300"},
        {"tcbLevels/0/tcb/tdxtcbcomponents", "null"},
        {"tcbLevels/0/tcb/pcesvn", "65536"},
        {"tcbLevels/0/tcb/pcesvn", "-1"},
        {"tcbLevels/0/tcb/pcesvn", "\"11\""},
        /* statuses and advisories */
        {"tcbLevels/0/tcbStatus", "\"Unknown\""},
        {"tcbLevels/0/tcbStatus", "\"uptodate\""},
        {"tcbLevels/0/tcbStatus", "\"TDRelaunchAdvised\""},
        {"tcbLevels/0/tcbStatus", "0"},
        {"tcbLevels/1/advisoryIDs", "\"INTEL-SA-00106\""},
        {"tcbLevels/1/advisoryIDs", "[5]"},
        {"tcbLevels/1/advisoryIDs", "[\"\"]"},
        {"tcbLevels/1/advisoryIDs", "[\"INTEL-SA-0000000000000000000000001\"]"},
        {"tcbLevels/1/advisoryIDs", "null"},
        {"tdxModuleIdentities/1/tcbLevels/1/tcbStatus", "\"Bogus\""},
        /* module identities */
        {"tdxModule", "\"x\""},
        {"tdxModule", "[]"},
        {"tdxModuleIdentities", "{}"},
        {"tdxModuleIdentities", "[5]"},
        {"tdxModuleIdentities/0/id", "\"TDX_000000000003\""},
        {"tdxModuleIdentities/0/id", "\"\""},
        {"tdxModuleIdentities/0/tcbLevels", "[]"},
        {"tdxModuleIdentities/0/tcbLevels/0", "[]"},
        {"tdxModuleIdentities/1/tcbLevels/0/tcb/isvsvn", "65536"},
        {"tdxModuleIdentities/1/tcbLevels/0/tcb/isvsvn", "-4"},
    };
    json_t *base = shared_doc_json(VEC "D2_tdx_quote_collateral.json", "tcb_info");

    (void)state;
    run_doc_cases(base, 0, cases, sizeof(cases) / sizeof(cases[0]), MT_ERR_TCB_INFO_FORMAT);
    json_decref(base);
}

/* What the parser leaves to the verifier, or treats as optional. */
static void
test_tcb_info_accepted_variants(void **state)
{
    static const struct doc_case cases[] = {
        {"tcbLevels/1/advisoryIDs", NULL},
        {"tcbLevels/0/advisoryIDs", "[]"},
        {"tcbLevels/0/someNewField", "{\"x\":1}"},
        {"futureField", "[1,2,3]"},
        {"tdxModule", NULL},
        {"tdxModuleIdentities", NULL},
        {"tdxModuleIdentities", "[]"},
        {"tdxModuleIdentities/0/id", "\"tdx_03\""},
        {"fmspc", "\"b0c06f000000\""},
        {"tcbLevels/0/tcb/sgxtcbcomponents/15", NULL}, /* 15 components: a matching error */
        {"tcbLevels/0/tcb/tdxtcbcomponents/0/svn", "255"},
        {"tcbLevels/0/tcb/pcesvn", "65535"},
        {"tcbLevels/0/tcbStatus", "\"Revoked\""},
        {"issueDate", "\"2025-06-19T10:16:03.123Z\""},
        {"tcbLevels/1/advisoryIDs", "[\"INTEL-SA-00106\",\"INTEL-SA-00106\"]"},
    };
    json_t *base = shared_doc_json(VEC "D2_tdx_quote_collateral.json", "tcb_info");
    struct mt_tcb_info *t;
    json_t *copy;
    char *text;

    (void)state;
    run_doc_cases(base, 0, cases, sizeof(cases) / sizeof(cases[0]), MT_OK);

    /* the 15-component level is kept with its count */
    copy = json_deep_copy(base);
    edit(copy, "tcbLevels/0/tcb/sgxtcbcomponents/15", NULL);
    text = json_dumps(copy, JSON_COMPACT);
    EXPECT_OK(tcb_info_text(text, strlen(text), &t));
    assert_int_equal(t->levels[0].num_sgx, 15);
    mt_tcb_info_free(t);
    free(text);
    json_decref(copy);

    /* without tdxModule: parsed, has_module clear (the verifier objects later) */
    copy = json_deep_copy(base);
    edit(copy, "tdxModule", NULL);
    edit(copy, "tcbLevels/1/advisoryIDs", "[\"A\",\"B\",\"A\"]");
    text = json_dumps(copy, JSON_COMPACT);
    EXPECT_OK(tcb_info_text(text, strlen(text), &t));
    assert_false(t->has_module);
    assert_int_equal(t->num_modules, 2);
    assert_int_equal(t->levels[1].result.num_advisories, 2); /* de-duplicated */
    mt_tcb_info_free(t);
    free(text);
    json_decref(copy);
    json_decref(base);
}

/* Raw-text faults: duplicate keys at any depth, bad JSON, size. */
static void
test_tcb_info_raw_text(void **state)
{
    char *text = shared_doc(VEC "D2_tdx_quote_collateral.json", "tcb_info");
    size_t len = strlen(text);
    char *dup, *big, *at;
    mt_err e;

    (void)state;
    /* duplicate top-level key */
    dup = malloc(len + 64);
    assert_non_null(dup);
    assert_memory_equal(text, "{\"id\":\"TDX\",", 12);
    snprintf(dup, len + 64, "{\"id\":\"TDX\",\"id\":\"TDX\",%s", text + 12);
    EXPECT_ERR(tcb_info_text(dup, strlen(dup), NULL), MT_ERR_TCB_INFO_FORMAT);
    /* duplicate key inside a level */
    at = strstr(text, "\"pcesvn\":11,");
    assert_non_null(at);
    snprintf(dup, len + 64, "%.*s\"pcesvn\":11,%s", (int)(at - text), text, at);
    EXPECT_ERR(tcb_info_text(dup, strlen(dup), NULL), MT_ERR_TCB_INFO_FORMAT);
    /* same with different values: still refused */
    snprintf(dup, len + 64, "%.*s\"pcesvn\":99,%s", (int)(at - text), text, at);
    EXPECT_ERR(tcb_info_text(dup, strlen(dup), NULL), MT_ERR_TCB_INFO_FORMAT);
    /* trailing bytes after the object */
    snprintf(dup, len + 64, "%s}", text);
    EXPECT_ERR(tcb_info_text(dup, strlen(dup), NULL), MT_ERR_TCB_INFO_FORMAT);
    snprintf(dup, len + 64, "%s{}", text);
    EXPECT_ERR(tcb_info_text(dup, strlen(dup), NULL), MT_ERR_TCB_INFO_FORMAT);
    /* whitespace around is fine */
    snprintf(dup, len + 64, " \n%s\n ", text);
    EXPECT_OK(tcb_info_text(dup, strlen(dup), NULL));
    free(dup);

    /* every truncation of the text fails with the format error */
    for (size_t n = 0; n < len; n += 7) {
        e = tcb_info_text(text, n, NULL);
        if (e != MT_ERR_TCB_INFO_FORMAT)
            fail_msg("truncated at %zu: got %s", n, mt_err_code(e));
    }

    /* not objects */
    EXPECT_ERR(tcb_info_text("", 0, NULL), MT_ERR_TCB_INFO_FORMAT);
    EXPECT_ERR(tcb_info_text("[]", 2, NULL), MT_ERR_TCB_INFO_FORMAT);
    EXPECT_ERR(tcb_info_text("[{}]", 4, NULL), MT_ERR_TCB_INFO_FORMAT);
    EXPECT_ERR(tcb_info_text("{}", 2, NULL), MT_ERR_TCB_INFO_FORMAT);
    EXPECT_ERR(tcb_info_text("\"x\"", 3, NULL), MT_ERR_TCB_INFO_FORMAT);

    /* over MT_MAX_SIGNED_JSON, even as valid JSON padded with spaces */
    big = malloc(MT_MAX_SIGNED_JSON + 2);
    assert_non_null(big);
    memset(big, ' ', MT_MAX_SIGNED_JSON + 1);
    memcpy(big, text, len);
    big[MT_MAX_SIGNED_JSON + 1] = '\0';
    EXPECT_OK(tcb_info_text(big, MT_MAX_SIGNED_JSON, NULL));
    EXPECT_ERR(tcb_info_text(big, MT_MAX_SIGNED_JSON + 1, NULL), MT_ERR_TCB_INFO_FORMAT);
    free(big);
    free(text);
}

/* ---- hand-made documents: counts and sort order ---- */

static json_t *
mk_level(const uint8_t sgx[16], size_t nsgx, int pcesvn, const uint8_t *tdx, size_t ntdx,
         const char *status, const char *date)
{
    json_t *lv = json_object(), *tcb = json_object(), *a = json_array(), *b;
    size_t i;

    for (i = 0; i < nsgx; i++)
        json_array_append_new(a, json_pack("{s:i}", "svn", sgx[i % 16]));
    json_object_set_new(tcb, "sgxtcbcomponents", a);
    json_object_set_new(tcb, "pcesvn", json_integer(pcesvn));
    if (tdx != NULL) {
        b = json_array();
        for (i = 0; i < ntdx; i++)
            json_array_append_new(b, json_pack("{s:i}", "svn", tdx[i % 16]));
        json_object_set_new(tcb, "tdxtcbcomponents", b);
    }
    json_object_set_new(lv, "tcb", tcb);
    json_object_set_new(lv, "tcbDate", json_string(date));
    json_object_set_new(lv, "tcbStatus", json_string(status));
    return lv;
}

static json_t *
mk_tcb_info(const char *id, int version, json_t *levels)
{
    json_t *o =
        json_pack("{s:s,s:i,s:s,s:s,s:s,s:s,s:i,s:i}", "id", id, "version", version, "issueDate",
                  "2025-06-19T10:16:03Z", "nextUpdate", "2025-07-19T10:16:03Z", "fmspc",
                  "00A067110000", "pceId", "0000", "tcbType", 0, "tcbEvaluationDataNumber", 17);

    assert_non_null(o);
    json_object_set_new(o, "tcbLevels", levels);
    return o;
}

static void
test_tcb_info_limits(void **state)
{
    static const uint8_t sgx[16] = {1};
    json_t *levels, *doc, *adv, *lv;
    size_t i;

    (void)state;
    /* MT_MAX_TCB_LEVELS levels pass, one more is a format error */
    levels = json_array();
    for (i = 0; i < MT_MAX_TCB_LEVELS; i++)
        json_array_append_new(
            levels, mk_level(sgx, 16, (int)i, NULL, 0, "UpToDate", "2024-03-13T00:00:00Z"));
    doc = mk_tcb_info("SGX", 3, levels);
    EXPECT_OK(parse_json_doc(doc, 0));
    json_array_append_new(levels,
                          mk_level(sgx, 16, 999, NULL, 0, "UpToDate", "2024-03-13T00:00:00Z"));
    EXPECT_ERR(parse_json_doc(doc, 0), MT_ERR_TCB_INFO_FORMAT);
    json_decref(doc);

    /* MT_MAX_ADVISORIES advisories on a level pass, one more does not */
    lv = mk_level(sgx, 16, 1, NULL, 0, "OutOfDate", "2024-03-13T00:00:00Z");
    adv = json_array();
    for (i = 0; i < MT_MAX_ADVISORIES; i++)
        json_array_append_new(adv, json_sprintf("INTEL-SA-%05zu", i));
    json_object_set_new(lv, "advisoryIDs", adv);
    doc = mk_tcb_info("SGX", 3, json_pack("[o]", lv));
    EXPECT_OK(parse_json_doc(doc, 0));
    json_array_append_new(adv, json_string("INTEL-SA-99999"));
    EXPECT_ERR(parse_json_doc(doc, 0), MT_ERR_TCB_INFO_FORMAT);
    json_decref(doc);

    /* up to 64 components per list are read; more is refused */
    doc = mk_tcb_info(
        "SGX", 3,
        json_pack("[o]", mk_level(sgx, 64, 1, NULL, 0, "UpToDate", "2024-03-13T00:00:00Z")));
    EXPECT_OK(parse_json_doc(doc, 0));
    json_decref(doc);
    doc = mk_tcb_info(
        "SGX", 3,
        json_pack("[o]", mk_level(sgx, 65, 1, NULL, 0, "UpToDate", "2024-03-13T00:00:00Z")));
    EXPECT_ERR(parse_json_doc(doc, 0), MT_ERR_TCB_INFO_FORMAT);
    json_decref(doc);
}

static void
test_tcb_info_module_limit(void **state)
{
    json_t *base = shared_doc_json(VEC "D2_tdx_quote_collateral.json", "tcb_info"), *mods, *m;

    (void)state;
    mods = json_object_get(base, "tdxModuleIdentities");
    m = json_array_get(mods, 0);
    while (json_array_size(mods) < MT_MAX_MODULE_IDENTITIES)
        json_array_append_new(mods, json_deep_copy(m));
    EXPECT_OK(parse_json_doc(base, 0));
    json_array_append_new(mods, json_deep_copy(m));
    EXPECT_ERR(parse_json_doc(base, 0), MT_ERR_TCB_INFO_FORMAT);
    json_decref(base);
}

/* Levels come back highest first: SGX components, then PCESVN, then (TDX v3) TDX components. */
static void
test_tcb_info_sort(void **state)
{
    static const uint8_t s1[16] = {1, 9, 9}, s2[16] = {2}, s3[16] = {3}, s2b[16] = {2, 255};
    static const uint8_t t1[16] = {1}, t5[16] = {5}, t5b[16] = {5, 0, 1};
    const char *d = "2024-03-13T00:00:00Z";
    struct mt_tcb_info *t;
    json_t *levels, *doc;
    char *text;

    (void)state;
    /* published lowest first, with a tie (same key) to show the sort is stable */
    levels = json_array();
    json_array_append_new(levels, mk_level(s1, 16, 9, NULL, 0, "OutOfDate", d));
    json_array_append_new(levels, mk_level(s2, 16, 1, NULL, 0, "OutOfDate", d));
    json_array_append_new(levels, mk_level(s2, 16, 5, NULL, 0, "SWHardeningNeeded", d));
    json_array_append_new(levels, mk_level(s2, 16, 5, NULL, 0, "ConfigurationNeeded", d));
    json_array_append_new(levels, mk_level(s3, 16, 0, NULL, 0, "UpToDate", d));
    json_array_append_new(levels, mk_level(s2b, 16, 0, NULL, 0, "Revoked", d));
    doc = mk_tcb_info("SGX", 3, levels);
    text = json_dumps(doc, JSON_COMPACT);
    EXPECT_OK(tcb_info_text(text, strlen(text), &t));
    assert_int_equal(t->num_levels, 6);
    /* {3} > {2,255} > {2},5 (two, in published order) > {2},1 > {1,9,9} */
    assert_int_equal(t->levels[0].sgx[0], 3);
    assert_int_equal(t->levels[1].sgx[1], 255);
    assert_int_equal(t->levels[2].pcesvn, 5);
    assert_int_equal(t->levels[2].result.status, MT_TCB_SW_HARDENING_NEEDED);
    assert_int_equal(t->levels[3].pcesvn, 5);
    assert_int_equal(t->levels[3].result.status, MT_TCB_CONFIGURATION_NEEDED);
    assert_int_equal(t->levels[4].pcesvn, 1);
    assert_int_equal(t->levels[5].sgx[0], 1);
    expect_sorted(t);
    mt_tcb_info_free(t);
    free(text);
    json_decref(doc);

    /* TDX v3: equal SGX and PCESVN, TDX components decide */
    levels = json_array();
    json_array_append_new(levels, mk_level(s2, 16, 5, t1, 16, "OutOfDate", d));
    json_array_append_new(levels, mk_level(s2, 16, 5, t5, 16, "SWHardeningNeeded", d));
    json_array_append_new(levels, mk_level(s2, 16, 5, t5b, 16, "UpToDate", d));
    doc = mk_tcb_info("TDX", 3, levels);
    text = json_dumps(doc, JSON_COMPACT);
    EXPECT_OK(tcb_info_text(text, strlen(text), &t));
    assert_int_equal(t->levels[0].result.status, MT_TCB_UP_TO_DATE);
    assert_int_equal(t->levels[1].result.status, MT_TCB_SW_HARDENING_NEEDED);
    assert_int_equal(t->levels[2].result.status, MT_TCB_OUT_OF_DATE);
    assert_int_equal(t->levels[0].num_tdx, 16);
    mt_tcb_info_free(t);
    free(text);
    json_decref(doc);

    /* TDX TCB Info v2 has no TDX components: not required, not read, order kept */
    levels = json_array();
    json_array_append_new(levels, mk_level(s2, 16, 5, NULL, 0, "OutOfDate", d));
    json_array_append_new(levels, mk_level(s2, 16, 5, t5, 16, "UpToDate", d));
    doc = mk_tcb_info("TDX", 2, levels);
    text = json_dumps(doc, JSON_COMPACT);
    EXPECT_OK(tcb_info_text(text, strlen(text), &t));
    assert_int_equal(t->levels[0].result.status, MT_TCB_OUT_OF_DATE);
    assert_int_equal(t->levels[1].num_tdx, 0);
    mt_tcb_info_free(t);
    free(text);
    json_decref(doc);
}

/* ---- QE identity: broken ---- */

static void
test_qe_identity_broken(void **state)
{
    static const struct doc_case missing[] = {
        {"id", NULL},
        {"version", NULL},
        {"issueDate", NULL},
        {"nextUpdate", NULL},
        {"tcbEvaluationDataNumber", NULL},
        {"miscselect", NULL},
        {"miscselectMask", NULL},
        {"attributes", NULL},
        {"attributesMask", NULL},
        {"mrsigner", NULL},
        {"isvprodid", NULL},
        {"tcbLevels", NULL},
        {"tcbLevels/0/tcb", NULL},
        {"tcbLevels/3/tcb/isvsvn", NULL},
        {"tcbLevels/5/tcbDate", NULL},
        {"tcbLevels/2/tcbStatus", NULL},
    };
    static const struct doc_case bad[] = {
        {"id", "\"TD_QE_XYZ\""},
        {"id", "\"\""},
        {"id", "[]"},
        {"version", "\"2\""},
        {"version", "-2"},
        {"issueDate", "\"2025-13-19T10:01:18Z\""},
        {"nextUpdate", "\"2025-07-19T10:01:18+01:00\""},
        {"tcbEvaluationDataNumber", "17.5"},
        {"miscselect", "\"0000000\""},
        {"miscselect", "\"000000\""},
        {"miscselect", "\"0000000000\""},
        {"miscselect", "0"},
        {"miscselectMask", "\"FFFFFFFG\""},
        {"attributes", "\"110000000000000000000000000000\""},
        {"attributesMask", "\"FBFFFFFFFFFFFFFF000000000000000000\""},
        {"mrsigner", "\"8C4F5775D796503E96137F77C68A829A0056AC8DED70140B081B094490C57B\""},
        {"isvprodid", "65536"},
        {"isvprodid", "-1"},
        {"isvprodid", "\"1\""},
        {"tcbLevels", "[]"},
        {"tcbLevels", "{}"},
        {"tcbLevels/0", "8"},
        {"tcbLevels/0/tcb/isvsvn", "65536"},
        {"tcbLevels/0/tcb/isvsvn", "\"8\""},
        {"tcbLevels/2/tcbStatus", "\"Bogus\""},
        {"tcbLevels/2/tcbStatus", "null"},
        {"tcbLevels/1/advisoryIDs", "5"},
        {"tcbLevels/1/advisoryIDs", "[null]"},
        {"tcbLevels/4/tcbDate", "\"2019-05-15\""},
    };
    static const struct doc_case fine[] = {
        {"tcbLevels/1/advisoryIDs", NULL},
        {"extra", "{\"nested\":[1]}"},
        {"isvprodid", "65535"},
        {"mrsigner", "\"8c4f5775d796503e96137f77c68a829a0056ac8ded70140b081b094490c57bff\""},
    };
    json_t *base = shared_doc_json(VEC "D1_sgx_quote_collateral.json", "qe_identity");
    struct mt_qe_identity *q;
    json_t *copy;
    char *text;

    (void)state;
    EXPECT_OK(parse_json_doc(base, 1));
    run_doc_cases(base, 1, missing, sizeof(missing) / sizeof(missing[0]),
                  MT_ERR_QE_IDENTITY_FORMAT);
    run_doc_cases(base, 1, bad, sizeof(bad) / sizeof(bad[0]), MT_ERR_QE_IDENTITY_FORMAT);
    run_doc_cases(base, 1, fine, sizeof(fine) / sizeof(fine[0]), MT_OK);

    /* miscselect is the hex of a little-endian u32 */
    copy = json_deep_copy(base);
    edit(copy, "miscselect", "\"01020304\"");
    edit(copy, "miscselectMask", "\"FEFFFFFF\"");
    text = json_dumps(copy, JSON_COMPACT);
    EXPECT_OK(qe_identity_text(text, strlen(text), &q));
    assert_int_equal(q->miscselect, 0x04030201u);
    assert_int_equal(q->miscselect_mask, 0xFFFFFFFEu);
    mt_qe_identity_free(q);
    free(text);
    json_decref(copy);

    /* duplicate keys, top level and nested */
    copy = json_deep_copy(base);
    text = json_dumps(copy, JSON_COMPACT);
    {
        size_t len = strlen(text);
        char *dup = malloc(len + 32);
        char *at = strstr(text, "\"isvsvn\":8");

        assert_non_null(dup);
        assert_non_null(at);
        snprintf(dup, len + 32, "{\"isvprodid\":1,%s", text + 1);
        EXPECT_ERR(qe_identity_text(dup, strlen(dup), NULL), MT_ERR_QE_IDENTITY_FORMAT);
        snprintf(dup, len + 32, "%.*s\"isvsvn\":8,%s", (int)(at - text), text, at);
        EXPECT_ERR(qe_identity_text(dup, strlen(dup), NULL), MT_ERR_QE_IDENTITY_FORMAT);
        free(dup);
    }
    free(text);
    json_decref(copy);

    /* not JSON, not an object, too many levels */
    EXPECT_ERR(qe_identity_text("{", 1, NULL), MT_ERR_QE_IDENTITY_FORMAT);
    EXPECT_ERR(qe_identity_text("[]", 2, NULL), MT_ERR_QE_IDENTITY_FORMAT);
    EXPECT_ERR(qe_identity_text("{}", 2, NULL), MT_ERR_QE_IDENTITY_FORMAT);
    copy = json_deep_copy(base);
    {
        json_t *levels = json_object_get(copy, "tcbLevels"), *lv0 = json_array_get(levels, 0);

        while (json_array_size(levels) < MT_MAX_TCB_LEVELS)
            json_array_append_new(levels, json_deep_copy(lv0));
        EXPECT_OK(parse_json_doc(copy, 1));
        json_array_append_new(levels, json_deep_copy(lv0));
        EXPECT_ERR(parse_json_doc(copy, 1), MT_ERR_QE_IDENTITY_FORMAT);
    }
    json_decref(copy);
    json_decref(base);
}

/* ---- tcb_match: QE ---- */

static const uint8_t qe_mrsigner[32] = {0x8C, 0x4F, 0x57, 0x75, 0xD7, 0x96, 0x50, 0x3E,
                                        0x96, 0x13, 0x7F, 0x77, 0xC6, 0x8A, 0x82, 0x9A};

/* An identity like Intel's SGX QE: levels 8 UpToDate, 6 and 4 OutOfDate. */
static void
qe_fixture(struct mt_qe_identity *qe, struct mt_isv_level levels[3], struct mt_sgx_report *r)
{
    static const char *const a6[] = {"INTEL-SA-00615"};
    static const char *const a4[] = {"INTEL-SA-00477", "INTEL-SA-00615"};

    memset(qe, 0, sizeof(*qe));
    snprintf(qe->id, sizeof(qe->id), "QE");
    qe->version = 2;
    qe->miscselect = 0;
    qe->miscselect_mask = 0xFFFFFFFFu;
    qe->attributes[0] = 0x11;
    memset(qe->attributes_mask, 0xFF, 8);
    qe->attributes_mask[0] = 0xFB;
    memcpy(qe->mrsigner, qe_mrsigner, 32);
    qe->isvprodid = 1;
    memset(levels, 0, 3 * sizeof(levels[0]));
    levels[0].isvsvn = 8;
    levels[0].result = result(T_U, NULL, 0);
    levels[1].isvsvn = 6;
    levels[1].result = result(T_O, a6, 1);
    levels[2].isvsvn = 4;
    levels[2].result = result(T_O, a4, 2);
    qe->levels = levels;
    qe->num_levels = 3;

    memset(r, 0, sizeof(*r));
    memcpy(r->mr_signer, qe_mrsigner, 32);
    r->isv_prod_id = 1;
    r->attributes[0] = 0x15; /* INIT | MODE64BIT | PROVISIONKEY; bit 2 is outside the mask */
    r->attributes[8] = 0xE7; /* XFRM: mask 0 */
    r->isv_svn = 8;
}

static void
test_match_qe_levels(void **state)
{
    static const struct {
        uint16_t isv_svn;
        mt_err err;
        enum mt_tcb_status status;
        size_t num_adv;
    } cases[] = {
        {65535, MT_OK, MT_TCB_UP_TO_DATE, 0}, {9, MT_OK, MT_TCB_UP_TO_DATE, 0},
        {8, MT_OK, MT_TCB_UP_TO_DATE, 0},     {7, MT_OK, MT_TCB_OUT_OF_DATE, 1},
        {6, MT_OK, MT_TCB_OUT_OF_DATE, 1},    {5, MT_OK, MT_TCB_OUT_OF_DATE, 2},
        {4, MT_OK, MT_TCB_OUT_OF_DATE, 2},    {3, MT_ERR_QE_ISVSVN, 0, 0},
        {0, MT_ERR_QE_ISVSVN, 0, 0},
    };
    struct mt_qe_identity qe;
    struct mt_isv_level lv[3];
    struct mt_sgx_report r;
    struct mt_tcb_result out, before;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        qe_fixture(&qe, lv, &r);
        r.isv_svn = cases[i].isv_svn;
        memset(&out, 0x77, sizeof(out));
        memcpy(&before, &out, sizeof(out));
        EXPECT_ERR(mt_tcb_match_qe(&qe, &r, &out), cases[i].err);
        if (cases[i].err != MT_OK) {
            assert_memory_equal(&out, &before, sizeof(out));
            continue;
        }
        assert_int_equal(out.status, cases[i].status);
        assert_int_equal(out.num_advisories, cases[i].num_adv);
    }

    /* levels are taken in published order: the first one the QE reaches applies */
    qe_fixture(&qe, lv, &r);
    lv[0].isvsvn = 4;
    lv[2].isvsvn = 8;
    r.isv_svn = 9;
    EXPECT_OK(mt_tcb_match_qe(&qe, &r, &out));
    assert_int_equal(out.status, MT_TCB_UP_TO_DATE); /* lv[0], not the isvsvn-8 level */
    assert_int_equal(out.num_advisories, 0);
}

static void
test_match_qe_identity_checks(void **state)
{
    struct mt_qe_identity qe;
    struct mt_isv_level lv[3];
    struct mt_sgx_report r;
    struct mt_tcb_result out;

    (void)state;
    qe_fixture(&qe, lv, &r);
    EXPECT_OK(mt_tcb_match_qe(&qe, &r, &out));

    qe_fixture(&qe, lv, &r);
    r.mr_signer[31] ^= 1;
    EXPECT_ERR(mt_tcb_match_qe(&qe, &r, &out), MT_ERR_QE_MRSIGNER);

    /* DEBUG is refused outright, even with a mask that ignores it */
    qe_fixture(&qe, lv, &r);
    r.attributes[0] |= 0x02;
    EXPECT_ERR(mt_tcb_match_qe(&qe, &r, &out), MT_ERR_QE_DEBUG);
    qe.attributes_mask[0] = 0x00;
    EXPECT_ERR(mt_tcb_match_qe(&qe, &r, &out), MT_ERR_QE_DEBUG);

    qe_fixture(&qe, lv, &r);
    r.isv_prod_id = 2;
    EXPECT_ERR(mt_tcb_match_qe(&qe, &r, &out), MT_ERR_QE_ISVPRODID);

    /* MISCSELECT: masked comparison */
    qe_fixture(&qe, lv, &r);
    r.misc_select = 1;
    EXPECT_ERR(mt_tcb_match_qe(&qe, &r, &out), MT_ERR_QE_MISCSELECT);
    qe.miscselect_mask = 0xFFFFFFFEu;
    EXPECT_OK(mt_tcb_match_qe(&qe, &r, &out));
    qe.miscselect = 0x00000001u; /* expected bits outside the mask do not count */
    EXPECT_OK(mt_tcb_match_qe(&qe, &r, &out));
    r.misc_select = 0x80000000u;
    EXPECT_ERR(mt_tcb_match_qe(&qe, &r, &out), MT_ERR_QE_MISCSELECT);

    /* ATTRIBUTES: each byte masked */
    qe_fixture(&qe, lv, &r);
    r.attributes[1] = 0x01;
    EXPECT_ERR(mt_tcb_match_qe(&qe, &r, &out), MT_ERR_QE_ATTRIBUTES);
    qe_fixture(&qe, lv, &r);
    r.attributes[0] = 0x01; /* INIT without MODE64BIT */
    EXPECT_ERR(mt_tcb_match_qe(&qe, &r, &out), MT_ERR_QE_ATTRIBUTES);
    qe_fixture(&qe, lv, &r);
    r.attributes[15] = 0xFF; /* mask 0 there */
    r.attributes[0] = 0x11;  /* without PROVISIONKEY: bit 2 is masked out */
    EXPECT_OK(mt_tcb_match_qe(&qe, &r, &out));
    qe_fixture(&qe, lv, &r);
    r.attributes[7] = 0x80;
    EXPECT_ERR(mt_tcb_match_qe(&qe, &r, &out), MT_ERR_QE_ATTRIBUTES);

    /* several faults: the order of 2.9 decides */
    qe_fixture(&qe, lv, &r);
    r.mr_signer[0] ^= 1;
    r.attributes[0] |= 0x02;
    r.isv_prod_id = 9;
    r.misc_select = 1;
    r.attributes[1] = 1;
    r.isv_svn = 0;
    EXPECT_ERR(mt_tcb_match_qe(&qe, &r, &out), MT_ERR_QE_MRSIGNER);
    r.mr_signer[0] ^= 1;
    EXPECT_ERR(mt_tcb_match_qe(&qe, &r, &out), MT_ERR_QE_DEBUG);
    r.attributes[0] &= (uint8_t)~0x02;
    EXPECT_ERR(mt_tcb_match_qe(&qe, &r, &out), MT_ERR_QE_ISVPRODID);
    r.isv_prod_id = 1;
    EXPECT_ERR(mt_tcb_match_qe(&qe, &r, &out), MT_ERR_QE_MISCSELECT);
    r.misc_select = 0;
    EXPECT_ERR(mt_tcb_match_qe(&qe, &r, &out), MT_ERR_QE_ATTRIBUTES);
    r.attributes[1] = 0;
    EXPECT_ERR(mt_tcb_match_qe(&qe, &r, &out), MT_ERR_QE_ISVSVN);

    /* no levels at all */
    qe_fixture(&qe, lv, &r);
    qe.num_levels = 0;
    EXPECT_ERR(mt_tcb_match_qe(&qe, &r, &out), MT_ERR_QE_ISVSVN);
}

/* ---- tcb_match: platform ---- */

static const uint8_t fmspc_a[6] = {0xB0, 0xC0, 0x6F, 0, 0, 0};
static const uint8_t l0_sgx[16] = {2, 2, 2, 2, 3, 1, 0, 5, 0, 0, 0, 0, 0, 0, 0, 1};
static const uint8_t l0_tdx[16] = {5, 3, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
static const uint8_t l1_sgx[16] = {1};
static const uint8_t l1_tdx[16] = {1, 0, 1};

/*
 * Two TDX levels: L0 (pcesvn 11, UpToDate) and L1 (pcesvn 5, OutOfDate),
 * a PCK and a quote that reach L0.
 */
static void
platform_fixture(struct mt_tcb_info *ti, struct mt_tcb_level lv[2], struct mt_quote *q,
                 struct mt_pck_info *pck, int tdx)
{
    memset(ti, 0, sizeof(*ti));
    snprintf(ti->id, sizeof(ti->id), "%s", tdx ? "TDX" : "SGX");
    ti->version = 3;
    memcpy(ti->fmspc, fmspc_a, 6);
    memset(lv, 0, 2 * sizeof(lv[0]));
    memcpy(lv[0].sgx, l0_sgx, 16);
    lv[0].num_sgx = 16;
    lv[0].pcesvn = 11;
    lv[0].result.status = MT_TCB_UP_TO_DATE;
    memcpy(lv[1].sgx, l1_sgx, 16);
    lv[1].num_sgx = 16;
    lv[1].pcesvn = 5;
    lv[1].result.status = MT_TCB_OUT_OF_DATE;
    if (tdx) {
        memcpy(lv[0].tdx, l0_tdx, 16);
        lv[0].num_tdx = 16;
        memcpy(lv[1].tdx, l1_tdx, 16);
        lv[1].num_tdx = 16;
    }
    ti->levels = lv;
    ti->num_levels = 2;

    memset(pck, 0, sizeof(*pck));
    memcpy(pck->fmspc, fmspc_a, 6);
    memcpy(pck->cpu_svn, l0_sgx, 16);
    pck->pce_svn = 11;

    memset(q, 0, sizeof(*q));
    q->kind = MT_QUOTE_DCAP;
    q->tee_type = tdx ? MT_TEE_TDX : MT_TEE_SGX;
    q->body_kind = tdx ? MT_BODY_TD10 : MT_BODY_SGX;
    memcpy(q->td.tee_tcb_svn, l0_tdx, 16);
}

/* Which level matched: 0, 1, or -1 with the error. */
static int
match_level(const struct mt_tcb_info *ti, const struct mt_quote *q, const struct mt_pck_info *pck,
            mt_err *err)
{
    const struct mt_tcb_level *m = NULL;

    *err = mt_tcb_match_platform(ti, q, pck, &m);
    if (*err != MT_OK) {
        assert_null(m);
        return -1;
    }
    assert_true(m >= ti->levels && m < ti->levels + ti->num_levels);
    return (int)(m - ti->levels);
}

static void
test_match_platform_identity(void **state)
{
    struct mt_tcb_info ti;
    struct mt_tcb_level lv[2];
    struct mt_quote q;
    struct mt_pck_info pck;
    mt_err e;

    (void)state;
    platform_fixture(&ti, lv, &q, &pck, 1);
    assert_int_equal(match_level(&ti, &q, &pck, &e), 0);

    pck.fmspc[5] = 1;
    pck.pce_id[0] = 1;
    assert_int_equal(match_level(&ti, &q, &pck, &e), -1);
    EXPECT_ERR(e, MT_ERR_FMSPC_MISMATCH); /* FMSPC is checked first */
    pck.fmspc[5] = 0;
    (void)match_level(&ti, &q, &pck, &e);
    EXPECT_ERR(e, MT_ERR_PCEID_MISMATCH);

    /* TCB Info id/version for the TEE type */
    platform_fixture(&ti, lv, &q, &pck, 1);
    ti.version = 2;
    (void)match_level(&ti, &q, &pck, &e);
    EXPECT_ERR(e, MT_ERR_TCB_INFO_TYPE);
    ti.version = 3;
    snprintf(ti.id, sizeof(ti.id), "SGX");
    (void)match_level(&ti, &q, &pck, &e);
    EXPECT_ERR(e, MT_ERR_TCB_INFO_TYPE);
    snprintf(ti.id, sizeof(ti.id), "tdx");
    (void)match_level(&ti, &q, &pck, &e);
    EXPECT_ERR(e, MT_ERR_TCB_INFO_TYPE);
    snprintf(ti.id, sizeof(ti.id), "TDX");
    ti.version = 4;
    assert_int_equal(match_level(&ti, &q, &pck, &e), 0);

    platform_fixture(&ti, lv, &q, &pck, 0);
    assert_int_equal(match_level(&ti, &q, &pck, &e), 0);
    ti.version = 2;
    assert_int_equal(match_level(&ti, &q, &pck, &e), 0);
    ti.version = 1;
    (void)match_level(&ti, &q, &pck, &e);
    EXPECT_ERR(e, MT_ERR_TCB_INFO_TYPE);
    ti.version = 3;
    snprintf(ti.id, sizeof(ti.id), "TDX");
    (void)match_level(&ti, &q, &pck, &e);
    EXPECT_ERR(e, MT_ERR_TCB_INFO_TYPE);
}

static void
test_match_platform_pcesvn_and_sgx(void **state)
{
    struct mt_tcb_info ti;
    struct mt_tcb_level lv[2];
    struct mt_quote q;
    struct mt_pck_info pck;
    mt_err e;
    size_t i;
    int tdx;

    (void)state;
    for (tdx = 0; tdx <= 1; tdx++) {
        platform_fixture(&ti, lv, &q, &pck, tdx);
        pck.pce_svn = 65535;
        assert_int_equal(match_level(&ti, &q, &pck, &e), 0);
        pck.pce_svn = 11; /* equal: reached */
        assert_int_equal(match_level(&ti, &q, &pck, &e), 0);
        pck.pce_svn = 10; /* one below: the next level */
        assert_int_equal(match_level(&ti, &q, &pck, &e), 1);
        pck.pce_svn = 5;
        assert_int_equal(match_level(&ti, &q, &pck, &e), 1);
        pck.pce_svn = 4;
        assert_int_equal(match_level(&ti, &q, &pck, &e), -1);
        EXPECT_ERR(e, MT_ERR_NO_TCB_LEVEL);

        /* each SGX component one below L0 falls to L1 */
        for (i = 0; i < 16; i++) {
            platform_fixture(&ti, lv, &q, &pck, tdx);
            if (l0_sgx[i] == 0)
                continue;
            pck.cpu_svn[i] = (uint8_t)(l0_sgx[i] - 1);
            if (match_level(&ti, &q, &pck, &e) != 1)
                fail_msg("tdx %d, component %zu: want level 1 (%s)", tdx, i, mt_err_code(e));
        }
        /* and below L1 too: nothing */
        platform_fixture(&ti, lv, &q, &pck, tdx);
        memset(pck.cpu_svn, 0, 16);
        (void)match_level(&ti, &q, &pck, &e);
        EXPECT_ERR(e, MT_ERR_NO_TCB_LEVEL);

        /* a level with 15 SGX components is a hard error once its PCESVN is reached */
        platform_fixture(&ti, lv, &q, &pck, tdx);
        lv[0].num_sgx = 15;
        (void)match_level(&ti, &q, &pck, &e);
        EXPECT_ERR(e, MT_ERR_SGX_COMPONENTS);
        pck.pce_svn = 10; /* not reached: skipped without looking at it */
        assert_int_equal(match_level(&ti, &q, &pck, &e), 1);
        lv[1].num_sgx = 17;
        (void)match_level(&ti, &q, &pck, &e);
        EXPECT_ERR(e, MT_ERR_SGX_COMPONENTS);

        /* no levels */
        platform_fixture(&ti, lv, &q, &pck, tdx);
        ti.num_levels = 0;
        (void)match_level(&ti, &q, &pck, &e);
        EXPECT_ERR(e, MT_ERR_NO_TCB_LEVEL);
    }
}

static void
test_match_platform_tdx_components(void **state)
{
    struct mt_tcb_info ti;
    struct mt_tcb_level lv[2];
    struct mt_quote q;
    struct mt_pck_info pck;
    mt_err e;
    size_t i;

    (void)state;
    /* TDX component count: hard error for TDX, ignored for SGX */
    platform_fixture(&ti, lv, &q, &pck, 1);
    lv[0].num_tdx = 15;
    (void)match_level(&ti, &q, &pck, &e);
    EXPECT_ERR(e, MT_ERR_TDX_COMPONENTS);
    platform_fixture(&ti, lv, &q, &pck, 0);
    lv[0].num_tdx = 0;
    assert_int_equal(match_level(&ti, &q, &pck, &e), 0);

    /*
     * Intel's rule: with tee_tcb_svn[1] > 0 components 0 and 1 are judged
     * by the module identity, not the TCB level.
     */
    platform_fixture(&ti, lv, &q, &pck, 1);
    q.td.tee_tcb_svn[0] = 0; /* below L0's 5 and L1's 1 */
    q.td.tee_tcb_svn[1] = 1; /* below L0's 3 */
    assert_int_equal(match_level(&ti, &q, &pck, &e), 0);
    q.td.tee_tcb_svn[1] = 255;
    assert_int_equal(match_level(&ti, &q, &pck, &e), 0);
    /* with tee_tcb_svn[1] == 0 all 16 count */
    q.td.tee_tcb_svn[1] = 0;
    q.td.tee_tcb_svn[0] = 5;
    assert_int_equal(match_level(&ti, &q, &pck, &e), 1); /* [1] = 0 < 3 */
    q.td.tee_tcb_svn[0] = 4;
    assert_int_equal(match_level(&ti, &q, &pck, &e), 1);
    q.td.tee_tcb_svn[0] = 0; /* below L1's 1 as well */
    (void)match_level(&ti, &q, &pck, &e);
    EXPECT_ERR(e, MT_ERR_NO_TCB_LEVEL);

    /* components 2..15 always count, whatever tee_tcb_svn[1] says */
    for (i = 2; i < 16; i++) {
        platform_fixture(&ti, lv, &q, &pck, 1);
        if (l0_tdx[i] == 0)
            continue;
        q.td.tee_tcb_svn[i] = (uint8_t)(l0_tdx[i] - 1);
        if (match_level(&ti, &q, &pck, &e) != 1)
            fail_msg("TDX component %zu below L0: want level 1", i);
    }
    /* an SGX quote never looks at TDX components */
    platform_fixture(&ti, lv, &q, &pck, 0);
    memcpy(lv[0].tdx, l0_tdx, 16);
    lv[0].num_tdx = 3;
    memset(q.td.tee_tcb_svn, 0, 16);
    assert_int_equal(match_level(&ti, &q, &pck, &e), 0);
}

/* ---- tcb_match: TDX module ---- */

struct module_fixture {
    struct mt_tcb_info ti;
    struct mt_module_identity mods[2];
    struct mt_isv_level lv03[1];
    struct mt_isv_level lv01[2];
    struct mt_td_report td;
};

/* Like D2: tdxModule all-zero mrsigner, mask FF; TDX_03 {3}, TDX_01 {4 UpToDate, 2 OutOfDate}. */
static void
module_fixture(struct module_fixture *f)
{
    static const char *const adv[] = {"INTEL-SA-00837"};

    memset(f, 0, sizeof(*f));
    snprintf(f->ti.id, sizeof(f->ti.id), "TDX");
    f->ti.version = 3;
    f->ti.has_module = 1;
    memset(f->ti.module_attributes_mask, 0xFF, 8);
    snprintf(f->mods[0].id, sizeof(f->mods[0].id), "TDX_03");
    memset(f->mods[0].attributes_mask, 0xFF, 8);
    f->lv03[0].isvsvn = 3;
    f->lv03[0].result = result(T_U, NULL, 0);
    f->mods[0].levels = f->lv03;
    f->mods[0].num_levels = 1;
    snprintf(f->mods[1].id, sizeof(f->mods[1].id), "TDX_01");
    memset(f->mods[1].attributes_mask, 0xFF, 8);
    f->lv01[0].isvsvn = 4;
    f->lv01[0].result = result(T_U, NULL, 0);
    f->lv01[1].isvsvn = 2;
    f->lv01[1].result = result(T_O, adv, 1);
    f->mods[1].levels = f->lv01;
    f->mods[1].num_levels = 2;
    f->ti.modules = f->mods;
    f->ti.num_modules = 2;
    f->td.tee_tcb_svn[0] = 6;
    f->td.tee_tcb_svn[1] = 1;
}

/* Run the module match; returns its error, *has and the module id. */
static mt_err
match_module(struct module_fixture *f, int *has, char id[16], struct mt_tcb_result *out)
{
    *has = 42;
    memset(id, 0, 16);
    return mt_tcb_match_module(&f->ti, &f->td, has, id, out);
}

static void
test_match_module_lookup(void **state)
{
    struct module_fixture f;
    struct mt_tcb_result out;
    char id[16];
    int has;

    (void)state;
    module_fixture(&f);
    EXPECT_OK(match_module(&f, &has, id, &out));
    assert_int_equal(has, 1);
    assert_string_equal(id, "TDX_01");
    assert_int_equal(out.status, MT_TCB_UP_TO_DATE);

    /* ISVSVN against the identity's levels, in published order */
    f.td.tee_tcb_svn[0] = 4;
    EXPECT_OK(match_module(&f, &has, id, &out));
    assert_int_equal(out.status, MT_TCB_UP_TO_DATE);
    f.td.tee_tcb_svn[0] = 3;
    EXPECT_OK(match_module(&f, &has, id, &out));
    assert_int_equal(out.status, MT_TCB_OUT_OF_DATE);
    assert_int_equal(out.num_advisories, 1);
    f.td.tee_tcb_svn[0] = 2;
    EXPECT_OK(match_module(&f, &has, id, &out));
    assert_int_equal(out.status, MT_TCB_OUT_OF_DATE);
    f.td.tee_tcb_svn[0] = 1;
    EXPECT_ERR(match_module(&f, &has, id, &out), MT_ERR_TDX_MODULE_ISVSVN);
    assert_int_equal(has, 0);

    /* "TDX_%02X" of tee_tcb_svn[1] */
    module_fixture(&f);
    f.td.tee_tcb_svn[1] = 3;
    f.td.tee_tcb_svn[0] = 3;
    EXPECT_OK(match_module(&f, &has, id, &out));
    assert_string_equal(id, "TDX_03");
    f.td.tee_tcb_svn[1] = 2;
    EXPECT_ERR(match_module(&f, &has, id, &out), MT_ERR_TDX_MODULE);
    assert_int_equal(has, 0);

    /* case-insensitive, hexadecimal, two digits */
    module_fixture(&f);
    snprintf(f.mods[1].id, sizeof(f.mods[1].id), "tdx_01");
    EXPECT_OK(match_module(&f, &has, id, &out));
    assert_string_equal(id, "tdx_01");
    snprintf(f.mods[1].id, sizeof(f.mods[1].id), "TDX_1");
    EXPECT_ERR(match_module(&f, &has, id, &out), MT_ERR_TDX_MODULE);
    snprintf(f.mods[1].id, sizeof(f.mods[1].id), "TDX_01 ");
    EXPECT_ERR(match_module(&f, &has, id, &out), MT_ERR_TDX_MODULE);
    snprintf(f.mods[1].id, sizeof(f.mods[1].id), "TDX_0a");
    f.td.tee_tcb_svn[1] = 0x0A;
    EXPECT_OK(match_module(&f, &has, id, &out));
    snprintf(f.mods[1].id, sizeof(f.mods[1].id), "tdx_0A");
    EXPECT_OK(match_module(&f, &has, id, &out));
    snprintf(f.mods[1].id, sizeof(f.mods[1].id), "TDX_10"); /* decimal 10 is not 0x0A */
    EXPECT_ERR(match_module(&f, &has, id, &out), MT_ERR_TDX_MODULE);
    f.td.tee_tcb_svn[1] = 0x10;
    EXPECT_OK(match_module(&f, &has, id, &out));
    snprintf(f.mods[1].id, sizeof(f.mods[1].id), "TDX_FF");
    f.td.tee_tcb_svn[1] = 0xFF;
    EXPECT_OK(match_module(&f, &has, id, &out));

    /* a version with no identities at all, and a missing tdxModule */
    module_fixture(&f);
    f.ti.num_modules = 0;
    EXPECT_ERR(match_module(&f, &has, id, &out), MT_ERR_TDX_MODULE);
    module_fixture(&f);
    f.ti.has_module = 0;
    EXPECT_ERR(match_module(&f, &has, id, &out), MT_ERR_TDX_MODULE);
    assert_int_equal(has, 0);

    /* version 0: tdxModule alone decides, no status */
    module_fixture(&f);
    f.td.tee_tcb_svn[1] = 0;
    memset(&out, 0x33, sizeof(out));
    EXPECT_OK(match_module(&f, &has, id, &out));
    assert_int_equal(has, 0);
    assert_string_equal(id, "");
    f.ti.num_modules = 0;
    EXPECT_OK(match_module(&f, &has, id, &out));
    f.ti.has_module = 0;
    EXPECT_ERR(match_module(&f, &has, id, &out), MT_ERR_TDX_MODULE);
}

static void
test_match_module_signer_and_attributes(void **state)
{
    static const struct {
        uint8_t exp, mask, seam;
        int ok;
    } attr[] = {
        {0x00, 0xFF, 0x00, 1}, {0x00, 0xFF, 0x01, 0},
        {0x00, 0x00, 0x00, 1}, {0x00, 0x00, 0x80, 0}, /* bits outside the mask must be zero */
        {0x01, 0x0F, 0x01, 1}, {0x01, 0x0F, 0x00, 0}, /* masked mismatch */
        {0x01, 0x0F, 0x03, 0}, {0x01, 0x0F, 0x11, 0}, /* outside the mask */
        {0x10, 0x0F, 0x00, 1},                        /* expected bits outside the mask ignored */
        {0x10, 0x0F, 0x10, 0}, {0xFF, 0xFF, 0xFF, 1},
    };
    struct module_fixture f;
    struct mt_tcb_result out;
    char id[16];
    int has;
    size_t i, byte;

    (void)state;
    /* mrsigner: through the identity, and through tdxModule for version 0 */
    module_fixture(&f);
    f.td.mr_signer_seam[47] = 1;
    EXPECT_ERR(match_module(&f, &has, id, &out), MT_ERR_TDX_MODULE);
    f.mods[1].mrsigner[47] = 1;
    EXPECT_OK(match_module(&f, &has, id, &out));
    f.td.tee_tcb_svn[1] = 0;
    EXPECT_ERR(match_module(&f, &has, id, &out), MT_ERR_TDX_MODULE);
    f.ti.module_mrsigner[47] = 1;
    EXPECT_OK(match_module(&f, &has, id, &out));

    /* SEAM attributes, byte by byte, via tdxModule (version 0) and an identity */
    for (i = 0; i < sizeof(attr) / sizeof(attr[0]); i++) {
        for (byte = 0; byte < 8; byte += 7) {
            module_fixture(&f);
            f.td.tee_tcb_svn[1] = 0;
            f.ti.module_attributes[byte] = attr[i].exp;
            f.ti.module_attributes_mask[byte] = attr[i].mask;
            f.td.seam_attributes[byte] = attr[i].seam;
            EXPECT_ERR(match_module(&f, &has, id, &out), attr[i].ok ? MT_OK : MT_ERR_TDX_MODULE);

            module_fixture(&f);
            f.mods[1].attributes[byte] = attr[i].exp;
            f.mods[1].attributes_mask[byte] = attr[i].mask;
            f.td.seam_attributes[byte] = attr[i].seam;
            EXPECT_ERR(match_module(&f, &has, id, &out), attr[i].ok ? MT_OK : MT_ERR_TDX_MODULE);
        }
    }
    /* an identity's attributes replace tdxModule's */
    module_fixture(&f);
    memset(f.ti.module_attributes_mask, 0xFF, 8);
    f.mods[1].attributes[2] = 0x04;
    f.mods[1].attributes_mask[2] = 0x04;
    f.td.seam_attributes[2] = 0x04;
    EXPECT_OK(match_module(&f, &has, id, &out));
    f.td.tee_tcb_svn[1] = 0;
    EXPECT_ERR(match_module(&f, &has, id, &out), MT_ERR_TDX_MODULE);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_names),
        cmocka_unit_test(test_status_unknown),
        cmocka_unit_test(test_merge_all_pairs),
        cmocka_unit_test(test_merge_advisories),
        cmocka_unit_test(test_add_advisory),
        cmocka_unit_test(test_merge_overflow),
        cmocka_unit_test(test_tcb_info_d2),
        cmocka_unit_test(test_tcb_info_d1),
        cmocka_unit_test(test_qe_identity_real),
        cmocka_unit_test(test_tcb_info_missing_fields),
        cmocka_unit_test(test_tcb_info_bad_values),
        cmocka_unit_test(test_tcb_info_accepted_variants),
        cmocka_unit_test(test_tcb_info_raw_text),
        cmocka_unit_test(test_tcb_info_limits),
        cmocka_unit_test(test_tcb_info_module_limit),
        cmocka_unit_test(test_tcb_info_sort),
        cmocka_unit_test(test_qe_identity_broken),
        cmocka_unit_test(test_match_qe_levels),
        cmocka_unit_test(test_match_qe_identity_checks),
        cmocka_unit_test(test_match_platform_identity),
        cmocka_unit_test(test_match_platform_pcesvn_and_sgx),
        cmocka_unit_test(test_match_platform_tdx_components),
        cmocka_unit_test(test_match_module_lookup),
        cmocka_unit_test(test_match_module_signer_and_attributes),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
