#include "kmsclient/kmsclient.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "dcap/dcap.h"
#include "dcap/tcb.h"
#include "identity/identity.h"
#include "measure/eventlog.h"
#include "pccs/pccs.h"
#include "quote/quote.h"
#include "util/mt_alloc.h"
#include "util/mt_b64.h"
#include "util/mt_file.h"
#include "util/mt_hex.h"
#include "util/mt_json.h"

/* One run of the flow. */
struct client {
    const struct mt_kc_opts *o;
    struct mt_kc_http *http;
    char peer_id[MT_PEER_ID_BUF];
    uint8_t pubkey_pb[MT_LIBP2P_ED25519_PB_LEN];
};

const char *
mt_kc_stage_name(enum mt_kc_stage s)
{
    switch (s) {
    case MT_KC_STAGE_TRANSPORT:
        return "transport";
    case MT_KC_STAGE_ATTEST:
        return "attest";
    case MT_KC_STAGE_CHALLENGE:
        return "challenge";
    case MT_KC_STAGE_GET_KEY:
        return "get_key";
    default:
        return "transport";
    }
}

void
mt_kc_opts_init(struct mt_kc_opts *o)
{
    memset(o, 0, sizeof(*o));
    mt_kc_http_opts_init(&o->http);
}

/* Printable ASCII only: what the KMS says is data, and must not break a log or JSON. */
static void
sanitize(char *dst, size_t dst_len, const char *src, size_t src_len)
{
    size_t i, n;

    if (dst_len == 0)
        return;
    n = src_len < dst_len - 1 ? src_len : dst_len - 1;
    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)src[i];

        dst[i] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
    }
    dst[n] = '\0';
}

static void fail(struct mt_kc_result *r, enum mt_kc_stage stage, const char *code, mt_err e,
                 const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void
fail(struct mt_kc_result *r, enum mt_kc_stage stage, const char *code, mt_err e, const char *fmt,
     ...)
{
    char buf[sizeof(r->details)];
    va_list ap;

    r->ok = 0;
    r->stage = stage;
    r->code = code;
    r->err = e == MT_OK ? MT_ERR_INTERNAL : e;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    sanitize(r->details, sizeof(r->details), buf, strlen(buf));
}

/* The reference's map_kms_error_to_probe_code. */
static const char *
map_kms_error(const char *tag, const char *fallback)
{
    char low[64];
    size_t b, e, i;

    mt_unicode_trim(tag, strlen(tag), &b, &e);
    if (e - b >= sizeof(low))
        return fallback;
    for (i = b; i < e; i++)
        low[i - b] = (char)((tag[i] >= 'A' && tag[i] <= 'Z') ? tag[i] - 'A' + 'a' : tag[i]);
    low[e - b] = '\0';
    if (strcmp(low, "measurement_policy_rejected") == 0 ||
        strcmp(low, "profile_policy_rejected") == 0)
        return "KMS_PROFILE_POLICY_REJECTED";
    return fallback;
}

/* A non-2xx answer: {"error","details"?} when it parses as that, else the raw body. */
static void
http_failure(struct mt_kc_result *r, enum mt_kc_stage stage, const char *fallback,
             const char *label, const struct mt_kc_response *resp)
{
    const char *body = resp->body.p != NULL ? (const char *)resp->body.p : "";
    const char *tag = NULL, *det = "";
    char safe_tag[sizeof(r->kms_error)], safe[512];
    json_t *j = NULL, *d;
    size_t tl = 0, dl = 0;

    if (mt_json_parse(body, resp->body.len, MT_KC_MAX_ATTEST_RESPONSE, &j) == MT_OK &&
        json_is_object(j) && mt_json_get_str(j, "error", &tag, &tl) == MT_OK) {
        d = json_object_get(j, "details");
        if (d == NULL || json_is_null(d)) {
            det = "";
        } else if (json_is_string(d)) {
            det = json_string_value(d);
            dl = json_string_length(d);
        } else {
            tag = NULL; /* serde would refuse the body as an error object */
        }
    }
    if (tag != NULL) {
        sanitize(safe_tag, sizeof(safe_tag), tag, tl);
        sanitize(safe, sizeof(safe), det, dl);
        fail(r, stage, map_kms_error(safe_tag, fallback), MT_ERR_HTTP_STATUS,
             "KMS %s request failed (HTTP %ld): %s - %s", label, resp->status, safe_tag, safe);
        memcpy(r->kms_error, safe_tag, sizeof(safe_tag));
    } else {
        sanitize(safe, sizeof(safe), body, resp->body.len);
        fail(r, stage, fallback, MT_ERR_HTTP_STATUS, "KMS %s request failed (HTTP %ld): %s", label,
             resp->status, safe);
    }
    json_decref(j);
}

/* POST and sort out transport failures; MT_OK only for a 2xx response. */
static mt_err
post(struct client *c, struct mt_kc_result *r, enum mt_kc_stage stage, const char *endpoint,
     const char *label, json_t *req, size_t max_body, const char *code_request,
     const char *code_oversized, const char *code_rejected, struct mt_kc_response *resp)
{
    char *text;
    mt_err e;

    text = json_dumps(req, JSON_COMPACT);
    if (text == NULL) {
        memset(resp, 0, sizeof(*resp));
        fail(r, stage, code_request, MT_ERR_NOMEM, "cannot build the %s request", label);
        return MT_ERR_NOMEM;
    }
    e = mt_kc_http_post(c->http, endpoint, text, strlen(text), max_body, resp);
    OPENSSL_cleanse(text, strlen(text));
    mt_free_libc(text);
    if (e == MT_ERR_TOO_LARGE) {
        fail(r, stage, code_oversized, e, "KMS %s response exceeds %zu bytes", label, max_body);
        return e;
    }
    if (e != MT_OK) {
        fail(r, stage, code_request, e, "Failed to send the %s request to the KMS: %s", label,
             resp->error[0] != '\0' ? resp->error : mt_err_message(e));
        return e;
    }
    if (resp->status < 200 || resp->status > 299) {
        http_failure(r, stage, code_rejected, label, resp);
        return MT_ERR_HTTP_STATUS;
    }
    return MT_OK;
}

/* ---- Plane 1 ---------------------------------------------------------- */

/* Measurements of a mock quote are all zero; only the allowlists apply (no TCB status). */
static mt_err
mock_policy_check(const struct mt_policy *p, char *why, size_t why_len)
{
    static const uint8_t zero[MT_MEAS_LEN];
    const struct mt_meas_list *lists[5] = {&p->mrtd, &p->rtmr[0], &p->rtmr[1], &p->rtmr[2],
                                           &p->rtmr[3]};
    size_t i, j;

    for (i = 0; i < 5; i++) {
        for (j = 0; j < lists[i]->n; j++) {
            if (memcmp(lists[i]->v[j], zero, MT_MEAS_LEN) == 0)
                break;
        }
        if (j == lists[i]->n) {
            snprintf(why, why_len, "%s of the mock quote (all zero) is not in allowlist",
                     mt_policy_meas_label(i));
            return MT_ERR_MEASUREMENT_REJECTED;
        }
    }
    return MT_OK;
}

/* DCAP-verify a real KMS quote; fills the verdict. */
static mt_err
verify_kms_quote(const struct mt_kc_opts *o, const uint8_t *quote, size_t len,
                 const struct mt_quote *q, struct mt_verdict *verdict, struct mt_kc_result *r)
{
    static const char *const intel[] = {MT_KC_DEFAULT_PCCS};
    struct mt_pccs_opts po;
    struct mt_verifier_opts vo;
    struct mt_verifier *v = NULL;
    struct mt_collateral *col = NULL;
    char reason[512];
    int64_t now = o->now != 0 ? o->now : (int64_t)time(NULL);
    mt_err e;

    mt_pccs_opts_init(&po);
    po.urls = o->num_pccs_urls > 0 ? o->pccs_urls : intel;
    po.num_urls = o->num_pccs_urls > 0 ? o->num_pccs_urls : 1;
    po.ca_file = o->pccs_ca_file;
    e = mt_pccs_fetch(&po, q, &col, reason, sizeof(reason));
    if (e != MT_OK) {
        fail(r, MT_KC_STAGE_ATTEST, "KMS_ATTEST_VERIFICATION_FAILED", e,
             "Failed to fetch collateral for the KMS quote: %s",
             reason[0] != '\0' ? reason : mt_err_message(e));
        return e;
    }
    memset(&vo, 0, sizeof(vo));
    vo.root_der = o->trust_root_der;
    vo.root_der_len = o->trust_root_der_len;
    vo.no_cache = 1;
    e = mt_verifier_new(&vo, &v);
    if (e != MT_OK) {
        fail(r, MT_KC_STAGE_ATTEST, "KMS_ATTEST_VERIFICATION_FAILED", e,
             "cannot set up the quote verifier: %s", mt_err_message(e));
        goto out;
    }
    e = mt_verify_quote(v, quote, len, col, now, verdict);
    if (e != MT_OK)
        fail(r, MT_KC_STAGE_ATTEST, "KMS_ATTEST_VERIFICATION_FAILED", e,
             "KMS attestation verification failed: %s (%s)%s%s", mt_err_message(e), mt_err_code(e),
             verdict->detail[0] != '\0' ? ": " : "", verdict->detail);
out:
    mt_verifier_free(v);
    mt_collateral_free(col);
    return e;
}

/* The response's eventLog, when present, must replay to the quote's RTMR3. */
static mt_err
check_event_log(const json_t *resp, const struct mt_quote *q, struct mt_kc_result *r)
{
    const json_t *el = json_object_get(resp, "eventLog");
    struct mt_eventlog *log = NULL;
    char *text;
    mt_err e;

    if (el == NULL || json_is_null(el))
        return MT_OK;
    if (!json_is_array(el)) {
        fail(r, MT_KC_STAGE_ATTEST, "KMS_ATTEST_RESPONSE_INVALID", MT_ERR_EVENTLOG_FORMAT,
             "Failed to parse KMS attest response: eventLog is not an array");
        return MT_ERR_EVENTLOG_FORMAT;
    }
    text = json_dumps(el, JSON_COMPACT);
    if (text == NULL) {
        fail(r, MT_KC_STAGE_ATTEST, "KMS_ATTEST_RESPONSE_INVALID", MT_ERR_NOMEM,
             "cannot re-encode the eventLog");
        return MT_ERR_NOMEM;
    }
    e = mt_eventlog_parse(text, strlen(text), &log);
    mt_free_libc(text);
    if (e != MT_OK) {
        fail(r, MT_KC_STAGE_ATTEST, "KMS_ATTEST_RESPONSE_INVALID", e,
             "Failed to parse KMS attest response: eventLog: %s", mt_err_message(e));
        return e;
    }
    e = mt_eventlog_verify_rtmrs(log, (const uint8_t(*)[MT_RTMR_SIZE])q->td.rt_mr, 1u << 3);
    mt_eventlog_free(log);
    if (e != MT_OK)
        fail(r, MT_KC_STAGE_ATTEST, "KMS_ATTEST_VERIFICATION_FAILED", e,
             "KMS attestation verification failed: the eventLog does not replay to the quoted "
             "RTMR3 (%s)",
             mt_err_message(e));
    return e;
}

static mt_err
plane1(struct client *c, struct mt_kc_result *r)
{
    const struct mt_kc_opts *o = c->o;
    const struct mt_policy *p = o->policy;
    struct mt_kc_response resp;
    struct mt_verdict *verdict = NULL;
    struct mt_quote q;
    uint8_t nonce[32], expected[64], *quote = NULL, *rd = NULL;
    const uint8_t *binding;
    const char *quote_b64, *rd_hex, *tcb;
    size_t qb_len, rd_hex_len, quote_len = 0, rd_len = 0;
    char *nonce_b64 = NULL, *binding_b64 = NULL, why[512];
    json_t *req = NULL, *j = NULL;
    int send_binding;
    mt_err e;

    memset(&resp, 0, sizeof(resp));
    if (o->binding != NULL) {
        binding = o->binding;
        send_binding = 1;
    } else if (p->has_binding) {
        binding = p->binding;
        send_binding = 1;
    } else {
        binding = mt_kms_default_binding;
        send_binding = 0;
    }
    if (RAND_bytes(nonce, sizeof(nonce)) != 1) {
        fail(r, MT_KC_STAGE_ATTEST, "KMS_ATTEST_VERIFICATION_FAILED", MT_ERR_CRYPTO,
             "cannot draw a nonce");
        return MT_ERR_CRYPTO;
    }
    memcpy(expected, nonce, 32);
    memcpy(expected + 32, binding, 32);
    nonce_b64 = mt_b64_encode_alloc(nonce, 32);
    binding_b64 = mt_b64_encode_alloc(binding, 32);
    req = json_object();
    e = MT_ERR_NOMEM;
    if (nonce_b64 == NULL || binding_b64 == NULL || req == NULL ||
        json_object_set_new(req, "nonceB64", json_string(nonce_b64)) != 0 ||
        (send_binding && json_object_set_new(req, "bindingB64", json_string(binding_b64)) != 0)) {
        fail(r, MT_KC_STAGE_ATTEST, "KMS_ATTEST_VERIFICATION_FAILED", e,
             "cannot build the attest request");
        goto out;
    }
    /* A transport failure here is "verification failed" in the reference too. */
    e = post(c, r, MT_KC_STAGE_ATTEST, "attest", "attestation", req, MT_KC_MAX_ATTEST_RESPONSE,
             "KMS_ATTEST_VERIFICATION_FAILED", "KMS_ATTEST_RESPONSE_OVERSIZED",
             "KMS_ATTEST_REJECTED", &resp);
    if (e != MT_OK)
        goto out;
    e = mt_json_parse((const char *)resp.body.p, resp.body.len, MT_KC_MAX_ATTEST_RESPONSE, &j);
    if (e == MT_OK && !json_is_object(j))
        e = MT_ERR_JSON;
    if (e == MT_OK)
        e = mt_json_get_str(j, "quoteB64", &quote_b64, &qb_len);
    if (e == MT_OK)
        e = mt_json_get_str(j, "reportDataHex", &rd_hex, &rd_hex_len);
    if (e != MT_OK) {
        fail(r, MT_KC_STAGE_ATTEST, "KMS_ATTEST_RESPONSE_INVALID", e,
             "Failed to parse KMS attest response: %s", mt_err_message(e));
        goto out;
    }
    e = MT_ERR_ATTESTATION_FAILED;
    if (qb_len == 0 || rd_hex_len == 0) {
        fail(r, MT_KC_STAGE_ATTEST, "KMS_ATTEST_RESPONSE_INVALID", e,
             "KMS attest response %s is empty", qb_len == 0 ? "quoteB64" : "reportDataHex");
        goto out;
    }
    if (qb_len > MT_KC_MAX_QUOTE_B64 || rd_hex_len > MT_KC_MAX_REPORT_DATA_HEX) {
        e = MT_ERR_TOO_LARGE;
        fail(r, MT_KC_STAGE_ATTEST, "KMS_ATTEST_RESPONSE_OVERSIZED", e,
             "KMS attest response %s exceeds maximum allowed size (%zu chars > %u)",
             qb_len > MT_KC_MAX_QUOTE_B64 ? "quoteB64" : "reportDataHex",
             qb_len > MT_KC_MAX_QUOTE_B64 ? qb_len : rd_hex_len,
             qb_len > MT_KC_MAX_QUOTE_B64 ? MT_KC_MAX_QUOTE_B64 : MT_KC_MAX_REPORT_DATA_HEX);
        goto out;
    }
    e = mt_b64_decode_alloc(quote_b64, qb_len, MT_KC_MAX_QUOTE_B64, &quote, &quote_len);
    if (e != MT_OK) {
        fail(r, MT_KC_STAGE_ATTEST, "KMS_ATTEST_RESPONSE_INVALID", e,
             "Failed to decode KMS quote from base64");
        goto out;
    }
    e = mt_hex_decode_alloc(rd_hex, rd_hex_len, MT_KC_MAX_REPORT_DATA_HEX, &rd, &rd_len);
    if (e != MT_OK) {
        fail(r, MT_KC_STAGE_ATTEST, "KMS_ATTEST_RESPONSE_INVALID", e,
             "Failed to decode reportDataHex from KMS attest response");
        goto out;
    }
    if (rd_len != 64) {
        e = MT_ERR_ATTESTATION_FAILED;
        fail(r, MT_KC_STAGE_ATTEST, "KMS_ATTEST_RESPONSE_INVALID", e,
             "KMS attest reportDataHex must be 64 bytes, got %zu", rd_len);
        goto out;
    }
    if (CRYPTO_memcmp(rd, expected, 64) != 0) {
        e = MT_ERR_ATTESTATION_FAILED;
        fail(r, MT_KC_STAGE_ATTEST, "KMS_ATTEST_REPORT_DATA_MISMATCH", e,
             "KMS attest reportData mismatch (nonce/binding mismatch or tampered response "
             "payload)");
        goto out;
    }

    if (mt_quote_is_mock(quote, quote_len)) {
        if (!o->allow_mock_kms) {
            e = MT_ERR_MOCK_REJECTED;
            fail(r, MT_KC_STAGE_ATTEST, "KMS_ATTEST_MOCK_QUOTE_REJECTED", e,
                 "KMS returned mock attestation quote, but mock KMS attestation is not allowed "
                 "(--allow-mock-kms, development only)");
            goto out;
        }
        if (quote_len < MT_MOCK_QUOTE_MAGIC_LEN + MT_REPORT_DATA_SIZE ||
            CRYPTO_memcmp(quote + MT_MOCK_QUOTE_MAGIC_LEN, expected, 64) != 0) {
            e = MT_ERR_ATTESTATION_FAILED;
            fail(r, MT_KC_STAGE_ATTEST, "KMS_ATTEST_VERIFICATION_FAILED", e,
                 "KMS attestation verification failed: %s",
                 quote_len < 81 ? "mock quote too short" : "mock quote report data mismatch");
            goto out;
        }
        e = mock_policy_check(p, why, sizeof(why));
        if (e != MT_OK) {
            fail(r, MT_KC_STAGE_ATTEST, "KMS_PROFILE_POLICY_REJECTED", e, "KMS %s", why);
            goto out;
        }
        e = MT_OK;
        goto out;
    }

    e = mt_quote_parse(quote, quote_len, &q);
    if (e == MT_OK && q.body_kind != MT_BODY_TD10 && q.body_kind != MT_BODY_TD15)
        e = MT_ERR_QUOTE_TEE_TYPE;
    if (e != MT_OK) {
        fail(r, MT_KC_STAGE_ATTEST, "KMS_ATTEST_VERIFICATION_FAILED", e,
             "Failed to parse the KMS's TDX quote: %s", mt_err_message(e));
        goto out;
    }
    /* reportDataHex is only the KMS's say-so: the signed quote must carry it too. */
    if (CRYPTO_memcmp(q.td.report_data, expected, 64) != 0) {
        e = MT_ERR_ATTESTATION_FAILED;
        fail(r, MT_KC_STAGE_ATTEST, "KMS_ATTEST_VERIFICATION_FAILED", e,
             "KMS attestation verification failed: the quote's report data is not nonce || "
             "binding");
        goto out;
    }
    verdict = mt_calloc(1, sizeof(*verdict));
    if (verdict == NULL) {
        e = MT_ERR_NOMEM;
        fail(r, MT_KC_STAGE_ATTEST, "KMS_ATTEST_VERIFICATION_FAILED", e, "out of memory");
        goto out;
    }
    e = verify_kms_quote(o, quote, quote_len, &q, verdict, r);
    if (e != MT_OK)
        goto out;
    e = check_event_log(j, &q, r);
    if (e != MT_OK)
        goto out;
    tcb = mt_tcb_status_name(verdict->tcb.status);
    e = mt_policy_check(p, tcb, q.td.mr_td, (const uint8_t(*)[MT_MEAS_LEN])q.td.rt_mr, why,
                        sizeof(why));
    if (e != MT_OK) {
        fail(r, MT_KC_STAGE_ATTEST, "KMS_PROFILE_POLICY_REJECTED", e, "KMS %s", why);
        goto out;
    }
out:
    mt_kc_response_free(&resp);
    json_decref(req);
    json_decref(j);
    mt_free(nonce_b64);
    mt_free(binding_b64);
    mt_free(quote);
    mt_free(rd);
    mt_free(verdict);
    return e;
}

/* ---- Plane 2 ---------------------------------------------------------- */

struct challenge {
    char *id; /* verbatim from the KMS */
    uint8_t nonce[32];
};

static mt_err
request_challenge(struct client *c, struct challenge *ch, struct mt_kc_result *r)
{
    struct mt_kc_response resp;
    const char *id, *nonce_b64;
    size_t id_len, nb_len, n = 0;
    uint8_t *nonce = NULL;
    json_t *req, *j = NULL;
    mt_err e;

    memset(&resp, 0, sizeof(resp));
    req = json_pack("{s:s}", "peerId", c->peer_id);
    if (req == NULL) {
        fail(r, MT_KC_STAGE_CHALLENGE, "KMS_CHALLENGE_REQUEST_FAILED", MT_ERR_NOMEM,
             "cannot build the challenge request");
        return MT_ERR_NOMEM;
    }
    e = post(c, r, MT_KC_STAGE_CHALLENGE, "challenge", "challenge", req, MT_KC_MAX_RESPONSE,
             "KMS_CHALLENGE_REQUEST_FAILED", "KMS_CHALLENGE_RESPONSE_INVALID",
             "KMS_CHALLENGE_REJECTED", &resp);
    json_decref(req);
    if (e != MT_OK)
        goto out;
    e = mt_json_parse((const char *)resp.body.p, resp.body.len, MT_KC_MAX_RESPONSE, &j);
    if (e == MT_OK && !json_is_object(j))
        e = MT_ERR_JSON;
    if (e == MT_OK)
        e = mt_json_get_str(j, "challengeId", &id, &id_len);
    if (e == MT_OK)
        e = mt_json_get_str(j, "nonceB64", &nonce_b64, &nb_len);
    if (e != MT_OK) {
        fail(r, MT_KC_STAGE_CHALLENGE, "KMS_CHALLENGE_RESPONSE_INVALID", e,
             "Failed to parse KMS challenge response: %s", mt_err_message(e));
        goto out;
    }
    if (id_len > MT_KC_MAX_CHALLENGE_ID) {
        e = MT_ERR_TOO_LARGE;
        fail(r, MT_KC_STAGE_CHALLENGE, "KMS_CHALLENGE_ID_OVERSIZED", e,
             "KMS challengeId exceeds maximum allowed length (%u chars)", MT_KC_MAX_CHALLENGE_ID);
        goto out;
    }
    if (nb_len > MT_KC_MAX_NONCE_B64) {
        e = MT_ERR_TOO_LARGE;
        fail(r, MT_KC_STAGE_CHALLENGE, "KMS_CHALLENGE_NONCE_OVERSIZED", e,
             "KMS challenge nonce exceeds maximum allowed size (%u chars base64)",
             MT_KC_MAX_NONCE_B64);
        goto out;
    }
    e = mt_b64_decode_alloc(nonce_b64, nb_len, MT_KC_MAX_NONCE_B64, &nonce, &n);
    if (e != MT_OK) {
        fail(r, MT_KC_STAGE_CHALLENGE, "KMS_CHALLENGE_NONCE_INVALID", e,
             "Failed to decode challenge nonce from base64");
        goto out;
    }
    if (n != 32) {
        e = MT_ERR_INVALID_CHALLENGE;
        fail(r, MT_KC_STAGE_CHALLENGE, "KMS_CHALLENGE_NONCE_INVALID", e,
             "Challenge nonce must be exactly 32 bytes (got %zu)", n);
        goto out;
    }
    ch->id = mt_strndup(id, id_len);
    if (ch->id == NULL) {
        e = MT_ERR_NOMEM;
        fail(r, MT_KC_STAGE_CHALLENGE, "KMS_CHALLENGE_RESPONSE_INVALID", e, "out of memory");
        goto out;
    }
    memcpy(ch->nonce, nonce, 32);
out:
    if (nonce != NULL)
        OPENSSL_cleanse(nonce, n);
    mt_free(nonce);
    json_decref(j);
    mt_kc_response_free(&resp);
    return e;
}

/*
 * The key from {"key":"<hex>"} without the hex ever entering a JSON object:
 * the raw member is copied into a secret and blanked in the text, then the
 * text is parsed to check the shape, then the copy is decoded.
 */
static mt_err
extract_key(struct mt_kc_response *resp, struct mt_secret *key, struct mt_kc_result *r)
{
    const char *val;
    struct mt_secret hex;
    size_t val_len, b, e_, n;
    json_t *j = NULL;
    mt_err e;

    memset(&hex, 0, sizeof(hex));
    e = mt_pccs_json_member((const char *)resp->body.p, resp->body.len, "key", &val, &val_len);
    if (e != MT_OK || val_len < 2 || val[0] != '"' || val[val_len - 1] != '"') {
        e = e != MT_OK ? e : MT_ERR_JSON_FIELD;
        fail(r, MT_KC_STAGE_GET_KEY, "KMS_GET_KEY_RESPONSE_INVALID", e,
             "Failed to parse KMS get-key response: no string member \"key\"");
        return e;
    }
    n = val_len - 2;
    if (n > 0) {
        e = mt_secret_new(n, &hex);
        if (e != MT_OK) {
            fail(r, MT_KC_STAGE_GET_KEY, "KMS_GET_KEY_RESPONSE_INVALID", e,
                 "cannot hold the key: %s", mt_err_message(e));
            return e;
        }
        memcpy(hex.p, val + 1, n);
        /* '0' keeps the text valid JSON of the same shape */
        memset((char *)val + 1, '0', n);
    }
    e = mt_json_parse((const char *)resp->body.p, resp->body.len, MT_KC_MAX_RESPONSE, &j);
    if (e == MT_OK && (!json_is_object(j) || !json_is_string(json_object_get(j, "key"))))
        e = MT_ERR_JSON_FIELD;
    json_decref(j);
    if (e != MT_OK) {
        fail(r, MT_KC_STAGE_GET_KEY, "KMS_GET_KEY_RESPONSE_INVALID", e,
             "Failed to parse KMS get-key response: %s", mt_err_message(e));
        goto out;
    }
    e = MT_ERR_KEY_DERIVATION;
    if (n > 0 && memchr(hex.p, '\\', n) != NULL) {
        fail(r, MT_KC_STAGE_GET_KEY, "KMS_KEY_INVALID", e,
             "Failed to decode key from hex: escaped characters in the key");
        goto out;
    }
    mt_unicode_trim((const char *)hex.p, n, &b, &e_);
    n = e_ - b;
    if (n == 0) {
        fail(r, MT_KC_STAGE_GET_KEY, "KMS_KEY_INVALID", e, "KMS returned an empty encryption key");
        goto out;
    }
    if (n > MT_KC_MAX_KEY_HEX) {
        fail(r, MT_KC_STAGE_GET_KEY, "KMS_KEY_INVALID", e,
             "KMS returned oversized encryption key (%zu hex chars > %u)", n, MT_KC_MAX_KEY_HEX);
        goto out;
    }
    if (n % 2 != 0) {
        fail(r, MT_KC_STAGE_GET_KEY, "KMS_KEY_INVALID", e,
             "KMS returned encryption key with invalid odd hex length");
        goto out;
    }
    e = mt_secret_new(n / 2, key);
    if (e != MT_OK) {
        fail(r, MT_KC_STAGE_GET_KEY, "KMS_KEY_INVALID", e, "cannot hold the key: %s",
             mt_err_message(e));
        goto out;
    }
    e = mt_hex_decode_exact((const char *)hex.p + b, n, key->p, key->len);
    if (e != MT_OK) {
        mt_secret_free(key);
        fail(r, MT_KC_STAGE_GET_KEY, "KMS_KEY_INVALID", e, "Failed to decode key from hex");
        goto out;
    }
    /* core HEAD's rule, after decoding as there */
    if (key->len < MT_KC_MIN_KEY_BYTES) {
        e = MT_ERR_KEY_DERIVATION;
        fail(r, MT_KC_STAGE_GET_KEY, "KMS_KEY_INVALID", e,
             "KMS returned a %zu-byte encryption key; at least %u bytes are required", key->len,
             MT_KC_MIN_KEY_BYTES);
        mt_secret_free(key);
    }
out:
    mt_secret_free(&hex);
    return e;
}

static mt_err
plane2(struct client *c, struct mt_secret *key, struct mt_kc_result *r)
{
    const struct mt_kc_opts *o = c->o;
    struct challenge ch;
    struct mt_kc_response resp;
    struct mt_secret got;
    uint8_t rd[64], qhash[32], sig[MT_ED25519_SIG_LEN], *quote = NULL;
    size_t quote_len = 0, payload_len;
    char why[512], *payload = NULL, *quote_b64 = NULL, *pk_b64 = NULL, *sig_b64 = NULL;
    json_t *req = NULL;
    mt_err e;

    memset(&ch, 0, sizeof(ch));
    memset(&resp, 0, sizeof(resp));
    memset(&got, 0, sizeof(got));
    e = request_challenge(c, &ch, r);
    if (e != MT_OK)
        return e;

    /* report_data = nonce || SHA256(peerId) (reference 1.10) */
    memcpy(rd, ch.nonce, 32);
    SHA256((const uint8_t *)c->peer_id, strlen(c->peer_id), rd + 32);
    e = mt_quote_source_get(o->quote_source, rd, &quote, &quote_len, why, sizeof(why));
    if (e != MT_OK) {
        fail(r, MT_KC_STAGE_GET_KEY, "KMS_GET_KEY_ATTESTATION_FAILED", e,
             "Failed to generate TDX attestation: %s", why[0] != '\0' ? why : mt_err_message(e));
        goto out;
    }
    SHA256(quote, quote_len, qhash);
    e = mt_kms_payload(ch.id, ch.nonce, qhash, c->peer_id, 0, &payload, &payload_len);
    if (e == MT_OK)
        e = mt_ed25519_sign(o->identity, (const uint8_t *)payload, payload_len, sig);
    if (e != MT_OK) {
        fail(r, MT_KC_STAGE_GET_KEY, "KMS_GET_KEY_SIGNATURE_FAILED", e,
             "Failed to sign KMS challenge payload with node identity key: %s", mt_err_message(e));
        goto out;
    }
    quote_b64 = mt_b64_encode_alloc(quote, quote_len);
    pk_b64 = mt_b64_encode_alloc(c->pubkey_pb, sizeof(c->pubkey_pb));
    sig_b64 = mt_b64_encode_alloc(sig, sizeof(sig));
    if (quote_b64 != NULL && pk_b64 != NULL && sig_b64 != NULL)
        req = json_pack("{s:s, s:s, s:s, s:s, s:s}", "challengeId", ch.id, "quoteB64", quote_b64,
                        "peerId", c->peer_id, "peerPublicKeyB64", pk_b64, "signatureB64", sig_b64);
    if (req == NULL) {
        /* json_pack also refuses a challengeId that is not UTF-8 */
        e = MT_ERR_NOMEM;
        fail(r, MT_KC_STAGE_GET_KEY, "KMS_GET_KEY_REQUEST_FAILED", e,
             "cannot build the get-key request");
        goto out;
    }
    e = post(c, r, MT_KC_STAGE_GET_KEY, "get-key", "get-key", req, MT_KC_MAX_RESPONSE,
             "KMS_GET_KEY_REQUEST_FAILED", "KMS_GET_KEY_RESPONSE_INVALID", "KMS_GET_KEY_REJECTED",
             &resp);
    if (e != MT_OK)
        goto out;
    e = extract_key(&resp, &got, r);
    if (e != MT_OK)
        goto out;
    *key = got;
    memset(&got, 0, sizeof(got));
out:
    mt_kc_response_free(&resp);
    mt_secret_free(&got);
    json_decref(req);
    mt_free(payload);
    mt_free(quote);
    mt_free(quote_b64);
    mt_free(pk_b64);
    mt_free(sig_b64);
    mt_free(ch.id);
    OPENSSL_cleanse(ch.nonce, sizeof(ch.nonce));
    return e;
}

/* ---- the flow ---------------------------------------------------------- */

mt_err
mt_kc_get_key(const struct mt_kc_opts *o, struct mt_secret *key, struct mt_kc_result *r)
{
    struct client c;
    const char *code = "KMS_HTTP_CLIENT_SETUP_FAILED";
    char why[512];
    mt_err e;

    MT_ENSURE(r != NULL, MT_ERR_ARG);
    memset(r, 0, sizeof(*r));
    r->code = "KMS_HTTP_CLIENT_SETUP_FAILED";
    r->err = MT_ERR_ARG;
    if (o == NULL || key == NULL || o->quote_source == NULL || o->identity == NULL) {
        fail(r, MT_KC_STAGE_TRANSPORT, "KMS_HTTP_CLIENT_SETUP_FAILED", MT_ERR_ARG,
             "missing quote source or identity key");
        return MT_ERR_ARG;
    }
    memset(&c, 0, sizeof(c));
    c.o = o;
    e = mt_libp2p_pubkey_encode(o->identity, c.pubkey_pb);
    if (e == MT_OK)
        e = mt_peer_id_from_pkey(o->identity, c.peer_id);
    if (e != MT_OK) {
        fail(r, MT_KC_STAGE_TRANSPORT, "KMS_HTTP_CLIENT_SETUP_FAILED", e,
             "the identity key is not an Ed25519 key: %s", mt_err_message(e));
        return e;
    }
    e = mt_kc_http_new(&o->http, &c.http, &code, why, sizeof(why));
    if (e != MT_OK) {
        fail(r, MT_KC_STAGE_TRANSPORT, code, e, "%s", why);
        return e;
    }
    if (o->policy != NULL) {
        e = plane1(&c, r);
        if (e != MT_OK)
            goto out;
    }
    e = plane2(&c, key, r);
    if (e != MT_OK)
        goto out;
    r->ok = 1;
    r->stage = MT_KC_STAGE_GET_KEY;
    r->code = "OK";
    r->err = MT_OK;
    r->kms_error[0] = '\0';
    snprintf(r->details, sizeof(r->details), "KMS probe succeeded and returned %zu key bytes",
             key->len);
out:
    mt_kc_http_free(c.http);
    return e;
}

json_t *
mt_kc_result_to_json(const struct mt_kc_result *r)
{
    json_t *j = json_object();

    if (j == NULL)
        return NULL;
    if (json_object_set_new(j, "ok", json_boolean(r->ok)) != 0 ||
        json_object_set_new(j, "stage", json_string(mt_kc_stage_name(r->stage))) != 0 ||
        json_object_set_new(j, "code", json_string(r->code != NULL ? r->code : "")) != 0 ||
        (r->kms_error[0] != '\0' &&
         json_object_set_new(j, "kms_error", json_string(r->kms_error)) != 0) ||
        (r->details[0] != '\0' &&
         json_object_set_new(j, "details", json_string(r->details)) != 0)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

/* ---- policy documents -------------------------------------------------- */

static void whyf(char *why, size_t why_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
whyf(char *why, size_t why_len, const char *fmt, ...)
{
    va_list ap;

    if (why == NULL || why_len == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(why, why_len, fmt, ap);
    va_end(ap);
}

mt_err
mt_kc_policy_load(const char *path, struct mt_policy **out, char *why, size_t why_len)
{
    uint8_t *text = NULL;
    size_t len = 0;
    json_t *root = NULL;
    const json_t *tag, *profile;
    char tag_buf[128], prof_buf[64];
    struct mt_policy *p = NULL;
    mt_err e;

    whyf(why, why_len, "%s", "");
    MT_ENSURE(path != NULL && out != NULL, MT_ERR_ARG);
    e = mt_file_read(path, MT_POLICY_MAX_DOC, &text, &len);
    if (e != MT_OK) {
        whyf(why, why_len, "%s: %s", path, mt_err_message(e));
        return e;
    }
    /* The document's own tag and profile are the expected ones: nothing pins them here. */
    e = mt_json_parse((const char *)text, len, MT_POLICY_MAX_DOC, &root);
    if (e != MT_OK || !json_is_object(root)) {
        whyf(why, why_len, "%s: not a JSON object", path);
        e = MT_ERR_POLICY_FORMAT;
        goto out;
    }
    tag = json_object_get(root, "tag");
    profile = json_object_get(root, "profile");
    if (!json_is_string(tag) || json_string_length(tag) >= sizeof(tag_buf)) {
        whyf(why, why_len, "%s: \"tag\" is missing or not a short string", path);
        e = MT_ERR_POLICY_FORMAT;
        goto out;
    }
    if (profile != NULL &&
        (!json_is_string(profile) || json_string_length(profile) >= sizeof(prof_buf))) {
        whyf(why, why_len, "%s: \"profile\" is not a short string", path);
        e = MT_ERR_POLICY_FORMAT;
        goto out;
    }
    snprintf(tag_buf, sizeof(tag_buf), "%s", json_string_value(tag));
    snprintf(prof_buf, sizeof(prof_buf), "%s",
             profile != NULL ? json_string_value(profile) : MT_PROFILE_LOCKED_RO);
    e = mt_policy_parse_release((const char *)text, len, tag_buf, prof_buf, profile == NULL,
                                MT_POLICY_KMS, &p, why, why_len);
    if (e != MT_OK)
        goto out;
    e = mt_policy_require_complete(p, why, why_len);
    if (e != MT_OK) {
        mt_policy_free(p);
        goto out;
    }
    *out = p;
out:
    json_decref(root);
    mt_free(text);
    return e;
}
