#include "quote/quote_json.h"

#include <stdio.h>

#include "util/mt_alloc.h"
#include "util/mt_hex.h"

/*
 * Builders that turn a failed allocation into a NULL result: each set_*
 * records failure in *ok so one check at the end suffices.
 */
static void
set_new(json_t *o, const char *key, json_t *v, int *ok)
{
    if (v == NULL || json_object_set_new(o, key, v) != 0)
        *ok = 0;
}

static void
set_hex(json_t *o, const char *key, const uint8_t *b, size_t n, int *ok)
{
    char *s = mt_hex_encode_alloc(b, n);

    set_new(o, key, s == NULL ? NULL : json_string(s), ok);
    mt_free(s);
}

static void
set_int(json_t *o, const char *key, json_int_t v, int *ok)
{
    set_new(o, key, json_integer(v), ok);
}

static json_t *
finish(json_t *o, int ok)
{
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *
mt_sgx_report_to_json(const struct mt_sgx_report *r)
{
    json_t *o = json_object();
    int ok = o != NULL;

    if (o == NULL)
        return NULL;
    set_hex(o, "cpuSvn", r->cpu_svn, 16, &ok);
    set_int(o, "miscSelect", r->misc_select, &ok);
    set_hex(o, "attributes", r->attributes, 16, &ok);
    set_hex(o, "mrEnclave", r->mr_enclave, 32, &ok);
    set_hex(o, "mrSigner", r->mr_signer, 32, &ok);
    set_hex(o, "configId", r->config_id, 64, &ok);
    set_int(o, "isvProdId", r->isv_prod_id, &ok);
    set_int(o, "isvSvn", r->isv_svn, &ok);
    set_int(o, "configSvn", r->config_svn, &ok);
    set_hex(o, "reportData", r->report_data, 64, &ok);
    return finish(o, ok);
}

static json_t *
td_report_to_json(const struct mt_quote *q)
{
    const struct mt_td_report *r = &q->td;
    json_t *o = json_object();
    int ok = o != NULL;
    char key[8];
    int i;

    if (o == NULL)
        return NULL;
    set_hex(o, "teeTcbSvn", r->tee_tcb_svn, 16, &ok);
    set_hex(o, "mrSeam", r->mr_seam, 48, &ok);
    set_hex(o, "mrSignerSeam", r->mr_signer_seam, 48, &ok);
    set_hex(o, "seamAttributes", r->seam_attributes, 8, &ok);
    set_hex(o, "tdAttributes", r->td_attributes, 8, &ok);
    set_hex(o, "xfam", r->xfam, 8, &ok);
    set_hex(o, "mrTd", r->mr_td, 48, &ok);
    set_hex(o, "mrConfigId", r->mr_config_id, 48, &ok);
    set_hex(o, "mrOwner", r->mr_owner, 48, &ok);
    set_hex(o, "mrOwnerConfig", r->mr_owner_config, 48, &ok);
    for (i = 0; i < 4; i++) {
        snprintf(key, sizeof(key), "rtMr%d", i);
        set_hex(o, key, r->rt_mr[i], 48, &ok);
    }
    set_hex(o, "reportData", r->report_data, 64, &ok);
    if (q->body_kind == MT_BODY_TD15) {
        set_hex(o, "teeTcbSvn2", r->tee_tcb_svn2, 16, &ok);
        set_hex(o, "mrServiceTd", r->mr_service_td, 48, &ok);
    }
    return finish(o, ok);
}

json_t *
mt_quote_measurements_json(const struct mt_quote *q)
{
    json_t *o = json_object();
    int ok = o != NULL;

    if (o == NULL)
        return NULL;
    if (q->body_kind == MT_BODY_SGX) {
        set_hex(o, "mrEnclave", q->sgx.mr_enclave, 32, &ok);
        set_hex(o, "mrSigner", q->sgx.mr_signer, 32, &ok);
        set_hex(o, "reportData", q->sgx.report_data, 64, &ok);
    } else {
        set_hex(o, "mrTd", q->td.mr_td, 48, &ok);
        set_hex(o, "rtMr0", q->td.rt_mr[0], 48, &ok);
        set_hex(o, "rtMr1", q->td.rt_mr[1], 48, &ok);
        set_hex(o, "rtMr2", q->td.rt_mr[2], 48, &ok);
        set_hex(o, "rtMr3", q->td.rt_mr[3], 48, &ok);
        set_hex(o, "reportData", q->td.report_data, 64, &ok);
    }
    return finish(o, ok);
}

static json_t *
header_to_json(const struct mt_quote *q)
{
    json_t *o = json_object();
    int ok = o != NULL;

    if (o == NULL)
        return NULL;
    set_int(o, "version", q->version, &ok);
    set_int(o, "attestationKeyType", q->att_key_type, &ok);
    set_int(o, "teeType", q->tee_type, &ok);
    set_int(o, "qeSvn", q->qe_svn, &ok);
    set_int(o, "pceSvn", q->pce_svn, &ok);
    set_hex(o, "qeVendorId", q->qe_vendor_id, 16, &ok);
    set_hex(o, "userData", q->user_data, 20, &ok);
    return finish(o, ok);
}

static json_t *
signature_to_json(const struct mt_quote *q)
{
    json_t *o = json_object();
    int ok = o != NULL;

    if (o == NULL)
        return NULL;
    set_hex(o, "quoteSignature", q->quote_sig, 64, &ok);
    set_hex(o, "attestationKey", q->att_key, 64, &ok);
    set_new(o, "outerCertType", q->version == 3 ? json_null() : json_integer(q->outer_cert_type),
            &ok);
    set_new(o, "qeReport", mt_sgx_report_to_json(&q->qe_report), &ok);
    set_hex(o, "qeReportSignature", q->qe_report_sig, 64, &ok);
    set_hex(o, "qeAuthData", q->qe_auth_data, q->qe_auth_data_len, &ok);
    set_int(o, "certType", q->cert_type, &ok);
    set_int(o, "certDataLength", q->cert_data_len, &ok);
    return finish(o, ok);
}

json_t *
mt_quote_to_json(const struct mt_quote *q)
{
    json_t *o = json_object(), *body;
    int ok = o != NULL;

    if (o == NULL)
        return NULL;
    if (q->kind == MT_QUOTE_MOCK) {
        set_new(o, "kind", json_string("mock"), &ok);
        set_hex(o, "reportData", q->td.report_data, 64, &ok);
        set_int(o, "trailingBytes", (json_int_t)q->trailing_len, &ok);
        return finish(o, ok);
    }
    set_new(o, "kind", json_string("dcap"), &ok);
    set_new(o, "header", header_to_json(q), &ok);
    body = q->body_kind == MT_BODY_SGX ? mt_sgx_report_to_json(&q->sgx) : td_report_to_json(q);
    if (body != NULL) {
        set_new(body, "type", json_string(mt_body_kind_name(q->body_kind)), &ok);
        set_new(body, "bodyType", q->version == 5 ? json_integer(q->body_type) : json_null(), &ok);
        set_int(body, "size", q->body_size, &ok);
    }
    set_new(o, "body", body, &ok);
    set_int(o, "signedLength", (json_int_t)q->signed_len, &ok);
    set_int(o, "signatureDataLength", q->sig_data_len, &ok);
    set_int(o, "trailingBytes", (json_int_t)q->trailing_len, &ok);
    set_new(o, "signature", signature_to_json(q), &ok);
    return finish(o, ok);
}
