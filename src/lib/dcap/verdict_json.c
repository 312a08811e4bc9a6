#include <stdio.h>

#include "dcap/dcap.h"
#include "dcap/pck.h"
#include "quote/quote_json.h"
#include "util/mt_alloc.h"
#include "util/mt_hex.h"
#include "util/mt_time.h"

/* As in quote_json.c: record failure in *ok, check once. */
static void
set_new(json_t *o, const char *key, json_t *v, int *ok)
{
    if (v == NULL || json_object_set_new(o, key, v) != 0)
        *ok = 0;
}

static json_t *
hex_string(const uint8_t *b, size_t n)
{
    char *s = mt_hex_encode_alloc(b, n);
    json_t *j;

    if (s == NULL)
        return NULL;
    j = json_string(s);
    mt_free(s);
    return j;
}

static json_t *
time_string(int64_t t)
{
    char buf[21];

    mt_rfc3339_format(t, buf);
    return json_string(buf);
}

static json_t *
advisories(const struct mt_tcb_result *r)
{
    json_t *a = json_array();
    size_t i;

    for (i = 0; a != NULL && i < r->num_advisories; i++) {
        if (json_array_append_new(a, json_string(r->advisories[i])) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

static json_t *
result_json(const struct mt_tcb_result *r)
{
    json_t *o = json_object();
    int ok = o != NULL;

    if (o == NULL)
        return NULL;
    set_new(o, "status", json_string(mt_tcb_status_name(r->status)), &ok);
    set_new(o, "advisoryIds", advisories(r), &ok);
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *
mt_pck_info_to_json(const struct mt_pck_info *p)
{
    json_t *o = json_object();
    char fmspc[13];
    int ok = o != NULL;

    if (o == NULL)
        return NULL;
    /* FMSPC in upper case, as Intel's PCS and TCB Info spell it. */
    snprintf(fmspc, sizeof(fmspc), "%02X%02X%02X%02X%02X%02X", p->fmspc[0], p->fmspc[1],
             p->fmspc[2], p->fmspc[3], p->fmspc[4], p->fmspc[5]);
    set_new(o, "fmspc", json_string(fmspc), &ok);
    set_new(o, "pceId", hex_string(p->pce_id, 2), &ok);
    set_new(o, "cpuSvn", hex_string(p->cpu_svn, 16), &ok);
    set_new(o, "pceSvn", json_integer(p->pce_svn), &ok);
    set_new(o, "sgxType", json_integer(p->sgx_type), &ok);
    set_new(o, "ca", json_string(mt_pck_ca_name(p->ca)), &ok);
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *
level_json(const struct mt_verdict *v)
{
    json_t *o = json_object();
    int ok = o != NULL;

    if (o == NULL)
        return NULL;
    set_new(o, "tcbDate", time_string(v->tcb_date), &ok);
    set_new(o, "sgxTcbComponents", hex_string(v->level_sgx, 16), &ok);
    set_new(o, "pceSvn", json_integer(v->level_pce_svn), &ok);
    if (v->quote.tee_type == MT_TEE_TDX)
        set_new(o, "tdxTcbComponents", hex_string(v->level_tdx, 16), &ok);
    set_new(o, "status", json_string(mt_tcb_status_name(v->platform.status)), &ok);
    set_new(o, "advisoryIds", advisories(&v->platform), &ok);
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *
mt_verdict_to_json(const struct mt_verdict *v)
{
    json_t *o = json_object(), *err, *mod;
    int ok = o != NULL, good = v->err == MT_OK;
    char fmspc[13];

    if (o == NULL)
        return NULL;
    set_new(o, "ok", json_boolean(good), &ok);
    set_new(o, "tcbStatus", good ? json_string(mt_tcb_status_name(v->tcb.status)) : json_null(),
            &ok);
    set_new(o, "advisoryIds", good ? advisories(&v->tcb) : json_array(), &ok);
    if (good) {
        set_new(o, "error", json_null(), &ok);
    } else {
        err = json_object();
        if (err != NULL) {
            set_new(err, "code", json_string(mt_err_code(v->err)), &ok);
            set_new(err, "message", json_string(mt_err_message(v->err)), &ok);
            if (v->detail[0] != '\0')
                set_new(err, "detail", json_string(v->detail), &ok);
        }
        set_new(o, "error", err, &ok);
    }
    set_new(o, "measurements",
            v->quote_parsed ? mt_quote_measurements_json(&v->quote) : json_null(), &ok);
    if (good) {
        set_new(o, "platformTcb", level_json(v), &ok);
        set_new(o, "qeTcb", result_json(&v->qe), &ok);
        if (v->has_module) {
            mod = result_json(&v->module);
            if (mod != NULL)
                set_new(mod, "id", json_string(v->module_id), &ok);
            set_new(o, "tdxModule", mod, &ok);
        } else {
            set_new(o, "tdxModule", json_null(), &ok);
        }
        err = json_object();
        if (err != NULL) {
            set_new(err, "notBefore", time_string(v->valid_from), &ok);
            set_new(err, "notAfter", time_string(v->valid_until), &ok);
        }
        set_new(o, "collateralValidity", err, &ok);
    }
    if (v->pck_parsed) {
        snprintf(fmspc, sizeof(fmspc), "%02X%02X%02X%02X%02X%02X", v->fmspc[0], v->fmspc[1],
                 v->fmspc[2], v->fmspc[3], v->fmspc[4], v->fmspc[5]);
        set_new(o, "fmspc", json_string(fmspc), &ok);
    }
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}
