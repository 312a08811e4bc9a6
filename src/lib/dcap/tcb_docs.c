#include "dcap/tcb_docs.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "util/mt_alloc.h"
#include "util/mt_cursor.h"
#include "util/mt_hex.h"
#include "util/mt_json.h"
#include "util/mt_limits.h"

/* Any error inside a document is reported as that document's format error. */
static mt_err
doc_err(mt_err e, mt_err format_err)
{
    return e == MT_OK || e == MT_ERR_NOMEM ? e : format_err;
}

static mt_err
get_id(const json_t *o, char *out, size_t size)
{
    const char *s;
    size_t len;

    MT_GUARD(mt_json_get_str(o, "id", &s, &len));
    MT_ENSURE(len > 0 && len < size, MT_ERR_JSON_FIELD);
    memcpy(out, s, len + 1);
    return MT_OK;
}

static mt_err
result_read(const json_t *level, struct mt_tcb_result *r)
{
    const char *status;
    json_t *adv, *v;
    size_t i;

    memset(r, 0, sizeof(*r));
    MT_GUARD(mt_json_get_str(level, "tcbStatus", &status, NULL));
    MT_GUARD(mt_tcb_status_parse(status, &r->status));
    /* advisoryIDs is optional: absent means none. */
    if (json_object_get(level, "advisoryIDs") == NULL)
        return MT_OK;
    MT_GUARD(mt_json_get_array(level, "advisoryIDs", MT_MAX_ADVISORIES, &adv));
    json_array_foreach(adv, i, v)
    {
        MT_ENSURE(json_is_string(v), MT_ERR_JSON_FIELD);
        MT_GUARD(mt_tcb_result_add_advisory(r, json_string_value(v)));
    }
    return MT_OK;
}

static mt_err
u16_member(const json_t *o, const char *key, uint16_t *out)
{
    int64_t v;

    MT_GUARD(mt_json_get_int(o, key, 0, UINT16_MAX, &v));
    *out = (uint16_t)v;
    return MT_OK;
}

static mt_err
components_read(const json_t *tcb, const char *key, uint8_t out[MT_TCB_COMPONENTS], size_t *num)
{
    json_t *arr, *c;
    int64_t svn;
    size_t i;

    MT_GUARD(mt_json_get_array(tcb, key, 64, &arr));
    json_array_foreach(arr, i, c)
    {
        MT_ENSURE(json_is_object(c), MT_ERR_JSON_FIELD);
        MT_GUARD(mt_json_get_int(c, "svn", 0, 255, &svn));
        if (i < MT_TCB_COMPONENTS)
            out[i] = (uint8_t)svn;
    }
    *num = json_array_size(arr);
    return MT_OK;
}

static mt_err
isv_levels_read(const json_t *o, struct mt_isv_level **out, size_t *num)
{
    struct mt_isv_level *levels;
    json_t *arr, *lv, *tcb;
    size_t i, n;
    mt_err e = MT_OK;

    MT_GUARD(mt_json_get_array(o, "tcbLevels", MT_MAX_TCB_LEVELS, &arr));
    n = json_array_size(arr);
    MT_ENSURE(n > 0, MT_ERR_JSON_FIELD);
    levels = mt_calloc(n, sizeof(*levels));
    MT_ENSURE(levels != NULL, MT_ERR_NOMEM);
    json_array_foreach(arr, i, lv)
    {
        MT_ENSURE_GOTO(json_is_object(lv), MT_ERR_JSON_FIELD, e, out);
        MT_GUARD_GOTO(mt_json_get_object(lv, "tcb", &tcb), e, out);
        MT_GUARD_GOTO(u16_member(tcb, "isvsvn", &levels[i].isvsvn), e, out);
        MT_GUARD_GOTO(mt_json_get_time(lv, "tcbDate", &levels[i].tcb_date), e, out);
        MT_GUARD_GOTO(result_read(lv, &levels[i].result), e, out);
    }
    *out = levels;
    *num = n;
    levels = NULL;
out:
    mt_free(levels);
    return e;
}

/*
 * Canonical order of TCB levels (dcap-verify.md 2.4 step 6): descending by
 * SGX components, then PCESVN, then (TDX v3+) TDX components.
 */
static int
level_cmp_desc(const void *pa, const void *pb)
{
    const struct mt_tcb_level *a = pa, *b = pb;
    int c;

    c = memcmp(b->sgx, a->sgx, MT_TCB_COMPONENTS);
    if (c != 0)
        return c;
    if (a->pcesvn != b->pcesvn)
        return a->pcesvn < b->pcesvn ? 1 : -1;
    return memcmp(b->tdx, a->tdx, MT_TCB_COMPONENTS);
}

/* Stable insertion sort: qsort is not stable, and level lists are short. */
static void
levels_sort(struct mt_tcb_level *lv, size_t n)
{
    struct mt_tcb_level tmp;
    size_t i, j;

    for (i = 1; i < n; i++) {
        tmp = lv[i];
        for (j = i; j > 0 && level_cmp_desc(&lv[j - 1], &tmp) > 0; j--)
            lv[j] = lv[j - 1];
        lv[j] = tmp;
    }
}

static mt_err
platform_levels_read(const json_t *o, int tdx, struct mt_tcb_info *t)
{
    json_t *arr, *lv, *tcb;
    size_t i, n;

    MT_GUARD(mt_json_get_array(o, "tcbLevels", MT_MAX_TCB_LEVELS, &arr));
    n = json_array_size(arr);
    MT_ENSURE(n > 0, MT_ERR_JSON_FIELD);
    t->levels = mt_calloc(n, sizeof(*t->levels));
    MT_ENSURE(t->levels != NULL, MT_ERR_NOMEM);
    t->num_levels = n;
    json_array_foreach(arr, i, lv)
    {
        struct mt_tcb_level *l = &t->levels[i];

        MT_ENSURE(json_is_object(lv), MT_ERR_JSON_FIELD);
        MT_GUARD(mt_json_get_object(lv, "tcb", &tcb));
        MT_GUARD(components_read(tcb, "sgxtcbcomponents", l->sgx, &l->num_sgx));
        MT_GUARD(u16_member(tcb, "pcesvn", &l->pcesvn));
        if (tdx)
            MT_GUARD(components_read(tcb, "tdxtcbcomponents", l->tdx, &l->num_tdx));
        MT_GUARD(mt_json_get_time(lv, "tcbDate", &l->tcb_date));
        MT_GUARD(result_read(lv, &l->result));
    }
    levels_sort(t->levels, n);
    return MT_OK;
}

static mt_err
module_read(const json_t *m, uint8_t mrsigner[48], uint8_t attr[8], uint8_t mask[8])
{
    MT_GUARD(mt_json_get_hex(m, "mrsigner", mrsigner, 48));
    MT_GUARD(mt_json_get_hex(m, "attributes", attr, 8));
    MT_GUARD(mt_json_get_hex(m, "attributesMask", mask, 8));
    return MT_OK;
}

static mt_err
module_identities_read(const json_t *o, struct mt_tcb_info *t)
{
    json_t *arr, *m;
    size_t i, n;

    if (json_object_get(o, "tdxModuleIdentities") == NULL)
        return MT_OK;
    MT_GUARD(mt_json_get_array(o, "tdxModuleIdentities", MT_MAX_MODULE_IDENTITIES, &arr));
    n = json_array_size(arr);
    if (n == 0)
        return MT_OK;
    t->modules = mt_calloc(n, sizeof(*t->modules));
    MT_ENSURE(t->modules != NULL, MT_ERR_NOMEM);
    t->num_modules = n;
    json_array_foreach(arr, i, m)
    {
        struct mt_module_identity *mi = &t->modules[i];

        MT_ENSURE(json_is_object(m), MT_ERR_JSON_FIELD);
        MT_GUARD(get_id(m, mi->id, sizeof(mi->id)));
        MT_GUARD(module_read(m, mi->mrsigner, mi->attributes, mi->attributes_mask));
        MT_GUARD(isv_levels_read(m, &mi->levels, &mi->num_levels));
    }
    return MT_OK;
}

static mt_err
tcb_info_read(const json_t *o, struct mt_tcb_info *t)
{
    json_t *mod;
    int tdx;

    MT_ENSURE(json_is_object(o), MT_ERR_JSON_FIELD);
    MT_GUARD(get_id(o, t->id, sizeof(t->id)));
    MT_GUARD(mt_json_get_int(o, "version", 0, 1000, &t->version));
    MT_GUARD(mt_json_get_time(o, "issueDate", &t->issue_date));
    MT_GUARD(mt_json_get_time(o, "nextUpdate", &t->next_update));
    MT_GUARD(mt_json_get_hex(o, "fmspc", t->fmspc, sizeof(t->fmspc)));
    MT_GUARD(mt_json_get_hex(o, "pceId", t->pce_id, sizeof(t->pce_id)));
    MT_GUARD(mt_json_get_int(o, "tcbType", 0, 1000, &t->tcb_type));
    MT_GUARD(mt_json_get_int(o, "tcbEvaluationDataNumber", 0, INT32_MAX, &t->tcb_eval_num));
    tdx = strcmp(t->id, "TDX") == 0;
    if (tdx && (mod = json_object_get(o, "tdxModule")) != NULL) {
        MT_ENSURE(json_is_object(mod), MT_ERR_JSON_FIELD);
        MT_GUARD(
            module_read(mod, t->module_mrsigner, t->module_attributes, t->module_attributes_mask));
        t->has_module = 1;
    }
    if (tdx)
        MT_GUARD(module_identities_read(o, t));
    /* TDX components are only defined for TDX TCB Info v3+ (2.4 step 6). */
    return platform_levels_read(o, tdx && t->version >= 3, t);
}

void
mt_tcb_info_free(struct mt_tcb_info *t)
{
    size_t i;

    if (t == NULL)
        return;
    for (i = 0; i < t->num_modules; i++)
        mt_free(t->modules[i].levels);
    mt_free(t->modules);
    mt_free(t->levels);
    mt_free(t);
}

mt_err
mt_tcb_info_parse(const char *text, size_t len, struct mt_tcb_info **out)
{
    struct mt_tcb_info *t = NULL;
    json_t *o = NULL;
    mt_err e;

    MT_GUARD_GOTO(doc_err(mt_json_parse(text, len, MT_MAX_SIGNED_JSON, &o), MT_ERR_TCB_INFO_FORMAT),
                  e, out);
    t = mt_calloc(1, sizeof(*t));
    MT_ENSURE_GOTO(t != NULL, MT_ERR_NOMEM, e, out);
    MT_GUARD_GOTO(doc_err(tcb_info_read(o, t), MT_ERR_TCB_INFO_FORMAT), e, out);
    *out = t;
    t = NULL;
out:
    mt_tcb_info_free(t);
    json_decref(o);
    return e;
}

static mt_err
qe_identity_read(const json_t *o, struct mt_qe_identity *q)
{
    uint8_t b4[4];

    MT_ENSURE(json_is_object(o), MT_ERR_JSON_FIELD);
    MT_GUARD(get_id(o, q->id, sizeof(q->id)));
    MT_GUARD(mt_json_get_int(o, "version", 0, 1000, &q->version));
    MT_GUARD(mt_json_get_time(o, "issueDate", &q->issue_date));
    MT_GUARD(mt_json_get_time(o, "nextUpdate", &q->next_update));
    MT_GUARD(mt_json_get_int(o, "tcbEvaluationDataNumber", 0, INT32_MAX, &q->tcb_eval_num));
    /* miscselect is published as the hex of the little-endian u32 (2.9 step 4). */
    MT_GUARD(mt_json_get_hex(o, "miscselect", b4, 4));
    q->miscselect = mt_load_u32le(b4);
    MT_GUARD(mt_json_get_hex(o, "miscselectMask", b4, 4));
    q->miscselect_mask = mt_load_u32le(b4);
    MT_GUARD(mt_json_get_hex(o, "attributes", q->attributes, 16));
    MT_GUARD(mt_json_get_hex(o, "attributesMask", q->attributes_mask, 16));
    MT_GUARD(mt_json_get_hex(o, "mrsigner", q->mrsigner, 32));
    MT_GUARD(u16_member(o, "isvprodid", &q->isvprodid));
    return isv_levels_read(o, &q->levels, &q->num_levels);
}

void
mt_qe_identity_free(struct mt_qe_identity *q)
{
    if (q == NULL)
        return;
    mt_free(q->levels);
    mt_free(q);
}

mt_err
mt_qe_identity_parse(const char *text, size_t len, struct mt_qe_identity **out)
{
    struct mt_qe_identity *q = NULL;
    json_t *o = NULL;
    mt_err e;

    MT_GUARD_GOTO(
        doc_err(mt_json_parse(text, len, MT_MAX_SIGNED_JSON, &o), MT_ERR_QE_IDENTITY_FORMAT), e,
        out);
    q = mt_calloc(1, sizeof(*q));
    MT_ENSURE_GOTO(q != NULL, MT_ERR_NOMEM, e, out);
    MT_GUARD_GOTO(doc_err(qe_identity_read(o, q), MT_ERR_QE_IDENTITY_FORMAT), e, out);
    *out = q;
    q = NULL;
out:
    mt_qe_identity_free(q);
    json_decref(o);
    return e;
}
