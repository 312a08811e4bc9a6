#include "verifier/verifier.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "dcap/dcap.h"
#include "measure/eventlog.h"
#include "pccs/collateral_store.h"
#include "quote/quote.h"
#include "release/release.h"
#include "util/mt_alloc.h"
#include "util/mt_b64.h"
#include "util/mt_hex.h"
#include "util/mt_json.h"
#include "vf_internal.h"

/*
 * One verification (docs/verifier.md "Checks").  Every value the response
 * shows comes from the quote after its signature chain verified, or from
 * the event log after it replayed to the quote's RTMRs: nothing is read
 * from fields the target sends next to the quote.
 */

struct mtv_service {
    const struct mtv_config *cfg;
    struct mt_collateral_store *store;
    struct mt_verifier *verifier; /* not thread-safe: lock */
    pthread_mutex_t lock;
    const char *pccs_urls[MTV_MAX_LIST];
};

/* SHA-256("mero-kms-phala-attest-v1"), the KMS's default binding (reference 1.7 /attest). */
static const char default_binding_hex[] = MT_REL_DEFAULT_BINDING_HEX;

mt_err
mtv_service_new(const struct mtv_config *c, struct mtv_service **out, char *why, size_t why_len)
{
    struct mt_collateral_store_opts so;
    struct mt_verifier_opts vo;
    struct mt_pccs_opts po;
    struct mtv_service *s;
    mt_err e;
    size_t i;

    s = mt_calloc(1, sizeof(*s));
    MT_ENSURE(s != NULL, MT_ERR_NOMEM);
    s->cfg = c;
    for (i = 0; i < c->num_pccs_urls; i++)
        s->pccs_urls[i] = c->pccs_urls[i];
    mt_pccs_opts_init(&po);
    po.urls = s->pccs_urls;
    po.num_urls = c->num_pccs_urls;
    mt_collateral_store_opts_init(&so);
    so.pccs = &po;
    so.cache_dir = c->cache_dir[0] != '\0' ? c->cache_dir : NULL;
    so.retry_interval = -1;
    e = mt_collateral_store_new(&so, &s->store);
    if (e != MT_OK) {
        snprintf(why, why_len, "collateral store: %s (COLLATERAL_CACHE_DIR / PCCS_URLS)",
                 mt_err_message(e));
        mt_free(s);
        return e;
    }
    memset(&vo, 0, sizeof(vo));
    vo.root_der = c->root_der;
    vo.root_der_len = c->root_der_len;
    e = mt_verifier_new(&vo, &s->verifier);
    if (e != MT_OK) {
        snprintf(why, why_len, "verifier: %s (VERIFIER_TRUST_ROOT_FILE)", mt_err_message(e));
        mt_collateral_store_free(s->store);
        mt_free(s);
        return e;
    }
    pthread_mutex_init(&s->lock, NULL);
    *out = s;
    return MT_OK;
}

void
mtv_service_free(struct mtv_service *s)
{
    if (s == NULL)
        return;
    mt_verifier_free(s->verifier);
    mt_collateral_store_free(s->store);
    pthread_mutex_destroy(&s->lock);
    mt_free(s);
}

const struct mtv_config *
mtv_service_config(const struct mtv_service *s)
{
    return s->cfg;
}

json_t *
mtv_check(json_t *checks, const char *id, const char *status, json_t *evidence, const char *fmt,
          ...)
{
    char detail[512];
    va_list ap;
    json_t *c;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    if (evidence == NULL)
        evidence = json_object();
    c = json_pack("{s:s,s:s,s:s,s:o}", "id", id, "status", status, "detail", detail, "evidence",
                  evidence);
    if (c != NULL)
        json_array_append_new(checks, c);
    return c;
}

static json_t *
hexj(const uint8_t *b, size_t n)
{
    char *h = mt_hex_encode_alloc(b, n);
    json_t *j = h != NULL ? json_string(h) : NULL;

    mt_free(h);
    return j;
}

/* The attestation as fetched or pasted. */
struct att {
    uint8_t *quote;
    size_t quote_len;
    char *eventlog; /* JSON array text or NULL */
    size_t eventlog_len;
    uint8_t expect[64]; /* expected report data (prefix of expect_len bytes) */
    size_t expect_len;  /* 0: no nonce */
    const char *binding_desc;
};

static void
att_free(struct att *a)
{
    mt_free(a->quote);
    mt_free(a->eventlog);
}

/* eventLog / event_log member: an array, or a JSON string holding one. */
static mt_err
take_eventlog(const json_t *o, struct att *a)
{
    const json_t *ev = json_object_get(o, "eventLog");
    char *d;

    if (ev == NULL)
        ev = json_object_get(o, "event_log");
    if (ev == NULL || json_is_null(ev))
        return MT_OK;
    if (json_is_string(ev)) {
        a->eventlog = mt_strndup(json_string_value(ev), json_string_length(ev));
    } else if (json_is_array(ev)) {
        d = json_dumps(ev, JSON_COMPACT);
        MT_ENSURE(d != NULL, MT_ERR_NOMEM);
        a->eventlog = mt_strdup(d);
        free(d); /* lint-allow: free (jansson's malloc) */
    } else {
        return MT_ERR_VERIFIER_RESPONSE_INVALID;
    }
    MT_ENSURE(a->eventlog != NULL, MT_ERR_NOMEM);
    a->eventlog_len = strlen(a->eventlog);
    return MT_OK;
}

/* Fetch from a KMS (/attest) or a node (/admin-api/tee/attest). */
static mt_err
fetch_att(struct mtv_service *s, const struct mtv_request *rq, struct att *a, char *why,
          size_t why_len)
{
    uint8_t nonce[32];
    char body[160], *b64 = NULL, *resp = NULL, hex[65];
    const json_t *data, *q;
    json_t *root = NULL;
    size_t len = 0;
    long status;
    mt_err e;

    MT_ENSURE(RAND_bytes(nonce, sizeof(nonce)) == 1, MT_ERR_CRYPTO);
    memcpy(a->expect, nonce, 32);
    a->expect_len = 64;
    if (rq->kind == MTV_KMS) {
        b64 = mt_b64_encode_alloc(nonce, sizeof(nonce));
        MT_ENSURE(b64 != NULL, MT_ERR_NOMEM);
        snprintf(body, sizeof(body), "{\"nonceB64\":\"%s\"}", b64);
        mt_free(b64);
        MT_GUARD(mt_hex_decode_exact(default_binding_hex, 64, a->expect + 32, 32));
        a->binding_desc = "SHA256(\"mero-kms-phala-attest-v1\")";
        e = mtv_fetch(s->cfg, rq->url, "/attest", body, NULL, MTV_MAX_RESPONSE, &status, &resp,
                      &len, why, why_len);
    } else {
        mt_hex_encode(nonce, 32, hex);
        snprintf(body, sizeof(body), "{\"nonce\":\"%s\"}", hex);
        memset(a->expect + 32, 0, 32);
        a->binding_desc = "32 zero bytes (no applicationId)";
        e = mtv_fetch(s->cfg, rq->url, "/admin-api/tee/attest", body, NULL, MTV_MAX_RESPONSE,
                      &status, &resp, &len, why, why_len);
    }
    if (e != MT_OK)
        return e;
    e = mt_json_parse(resp, len, MTV_MAX_RESPONSE, &root);
    mt_free(resp);
    if (e == MT_ERR_NOMEM)
        return e;
    if (e != MT_OK || !json_is_object(root)) {
        json_decref(root);
        snprintf(why, why_len, "the target's answer is not a JSON object");
        return MT_ERR_VERIFIER_RESPONSE_INVALID;
    }
    data = root;
    if (rq->kind == MTV_NODE && json_is_object(json_object_get(root, "data")))
        data = json_object_get(root, "data");
    q = json_object_get(data, "quoteB64");
    if (q == NULL)
        q = json_object_get(data, "quote_b64");
    e = MT_ERR_VERIFIER_RESPONSE_INVALID;
    if (!json_is_string(q) ||
        mt_b64_decode_alloc(json_string_value(q), json_string_length(q), MTV_MAX_QUOTE, &a->quote,
                            &a->quote_len) != MT_OK ||
        a->quote_len == 0) {
        snprintf(why, why_len, "the answer has no base64 quoteB64 of at most 64 KiB");
        goto out;
    }
    e = take_eventlog(data, a);
    if (e == MT_ERR_VERIFIER_RESPONSE_INVALID)
        snprintf(why, why_len, "eventLog is neither an array nor a string");
out:
    json_decref(root);
    return e;
}

static int
all_zero(const uint8_t *p, size_t n)
{
    size_t i;
    uint8_t acc = 0;

    for (i = 0; i < n; i++)
        acc |= p[i];
    return acc == 0;
}

/* quote + tcb checks; *verified set when the chain and signature verified. */
static mt_err
check_quote(struct mtv_service *s, const struct att *a, const struct mt_quote *q, json_t *checks,
            int *verified, struct mt_verdict *vd)
{
    struct mt_prepared_collateral *pc = NULL;
    char why[512], fmspc[13];
    json_t *ev, *adv;
    int64_t now = (int64_t)time(NULL);
    mt_err e;
    size_t i;

    *verified = 0;
    if (q->tee_type != MT_TEE_TDX) {
        mtv_check(checks, "quote", "fail", json_pack("{s:s}", "code", "quote_tee_type"),
                  "not a TDX quote");
        mtv_check(checks, "tcb", "skipped", NULL, "the quote did not verify");
        return MT_OK;
    }
    e = mt_collateral_store_get(s->store, q, now, &pc, why, sizeof(why));
    if (e == MT_ERR_NOMEM)
        return e;
    if (e != MT_OK) {
        mtv_check(checks, "quote", "fail", json_pack("{s:s}", "code", mt_err_code(e)),
                  "no current collateral for this platform: %s (%s)", why, mt_err_code(e));
        mtv_check(checks, "tcb", "skipped", NULL, "the quote did not verify");
        return MT_OK;
    }
    pthread_mutex_lock(&s->lock);
    e = mt_verify_quote_prepared(s->verifier, a->quote, a->quote_len, pc, now, vd);
    pthread_mutex_unlock(&s->lock);
    mt_prepared_collateral_free(pc);
    if (e == MT_ERR_NOMEM)
        return e;
    mt_hex_encode(vd->fmspc, 6, fmspc);
    if (e != MT_OK) {
        mtv_check(checks, "quote", "fail",
                  json_pack("{s:s,s:s}", "code", mt_err_code(e), "root",
                            mt_verifier_is_intel_root(s->verifier) ? "intel" : "configured"),
                  "%s (%s)%s%s", mt_err_message(e), mt_err_code(e), vd->detail[0] ? ": " : "",
                  vd->detail);
        mtv_check(checks, "tcb", "skipped", NULL, "the quote did not verify");
        return MT_OK;
    }
    *verified = 1;
    mtv_check(checks, "quote", "pass",
              json_pack("{s:s,s:s,s:i,s:I}", "root",
                        mt_verifier_is_intel_root(s->verifier) ? "intel" : "configured", "fmspc",
                        vd->pck_parsed ? fmspc : "", "version", (int)q->version,
                        "collateralValidUntil", (json_int_t)vd->valid_until),
              "signature chain verifies to the %s root",
              mt_verifier_is_intel_root(s->verifier) ? "Intel SGX" : "configured (development)");
    adv = json_array();
    for (i = 0; adv != NULL && i < vd->tcb.num_advisories; i++)
        json_array_append_new(adv, json_string(vd->tcb.advisories[i]));
    ev = json_pack("{s:s,s:o}", "status", mt_tcb_status_name(vd->tcb.status), "advisoryIds",
                   adv != NULL ? adv : json_array());
    if (vd->tcb.status == MT_TCB_UP_TO_DATE)
        mtv_check(checks, "tcb", "pass", ev, "TCB status UpToDate");
    else
        mtv_check(checks, "tcb", "fail", ev, "TCB status %s (UpToDate required)",
                  mt_tcb_status_name(vd->tcb.status));
    return MT_OK;
}

static void
check_nonce(const struct mtv_request *rq, const struct att *a, const uint8_t rd[64], json_t *checks)
{
    json_t *ev;

    if (a->expect_len == 0) {
        mtv_check(checks, "nonce", "skipped", json_pack("{s:o}", "reportData", hexj(rd, 64)),
                  "no nonceHex given: the quote's freshness is not proven");
        return;
    }
    ev = json_pack("{s:o,s:o}", "expected", hexj(a->expect, a->expect_len), "reportData",
                   hexj(rd, 64));
    if (CRYPTO_memcmp(rd, a->expect, a->expect_len) == 0)
        mtv_check(checks, "nonce", "pass", ev,
                  rq->kind == MTV_PASTE ? "the quote's report data starts with nonceHex"
                                        : "the quote's report data is this request's fresh "
                                          "nonce followed by %s",
                  a->binding_desc);
    else if (CRYPTO_memcmp(rd, a->expect, 32) != 0)
        mtv_check(checks, "nonce", "fail", ev,
                  "the quote's report data does not carry the nonce: replayed or not bound to "
                  "this request");
    else
        mtv_check(checks, "nonce", "fail", ev, "the nonce matches but the binding is not %s",
                  a->binding_desc);
}

static const char *
imr_name(uint32_t imr)
{
    static const char *const n[4] = {"rtmr0", "rtmr1", "rtmr2", "rtmr3"};
    return n[imr & 3];
}

/*
 * The one non-runtime RTMR3 event accepted, first in RTMR3: the node
 * image's boot marker (docs/image.md, EV_EVENT_TAG "calimero-rtmr3-v2"),
 * whose stated digest must be SHA-384 of its "calimero-rtmr3-v2:node:..."
 * payload, so neither its name nor its payload is the sender's choice.
 */
#define MTV_EV_EVENT_TAG 0x00000006u

static int
is_node_marker(const struct mt_event *x)
{
    static const char prefix[] = "calimero-rtmr3-v2:node:";
    uint8_t d[48];
    unsigned int dl = 0;

    if (x->event_type != MTV_EV_EVENT_TAG || strcmp(x->event, "calimero-rtmr3-v2") != 0 ||
        !x->has_digest || x->payload_len < sizeof(prefix) - 1 ||
        memcmp(x->payload, prefix, sizeof(prefix) - 1) != 0)
        return 0;
    if (EVP_Digest(x->payload, x->payload_len, d, &dl, EVP_sha384(), NULL) != 1 || dl != 48)
        return 0;
    return CRYPTO_memcmp(d, x->digest, 48) == 0;
}

/*
 * event_log, compose_hash, app_id; *log_ok set when the log replayed.
 * RTMR3 holds dstack runtime events only (after the node marker), each digest recomputed from its
 * payload: any other event type there fails the log.  In RTMR0-2 a
 * digest-less event leaves that register "not covered": none of its events
 * is replayed, and none is shown.  Every event shown was extended, and the
 * log passes only when every covered register equals the quote's.
 */
static mt_err
check_log(const struct att *a, const struct mt_quote *q, json_t *checks, json_t *events,
          int *log_ok)
{
    struct mt_eventlog *log = NULL;
    uint8_t replay[4][48], digest[48];
    const struct mt_event *ready, *ce, *ae;
    size_t i, n_imr[4] = {0}, missing[4] = {0}, before, shown = 0;
    json_t *ev, *regs;
    unsigned mask = 1u << 3;
    int fail = 0, r;
    mt_err e;

    *log_ok = 0;
    if (a->eventlog == NULL) {
        mtv_check(checks, "event_log", "skipped", json_pack("{s:b}", "noEventLog", 1),
                  "the target sent no event log: RTMR0-3 are shown from the verified quote, "
                  "but no event is itemised");
        mtv_check(checks, "compose_hash", "skipped", NULL,
                  "no event log: the compose hash is not shown");
        mtv_check(checks, "app_id", "skipped", NULL, "no event log: the app id is not shown");
        return MT_OK;
    }
    e = mt_eventlog_parse(a->eventlog, a->eventlog_len, &log);
    if (e == MT_ERR_NOMEM)
        return e;
    if (e != MT_OK) {
        mtv_check(checks, "event_log", "fail", json_pack("{s:s}", "code", mt_err_code(e)),
                  "the event log does not parse: %s", mt_err_message(e));
        mtv_check(checks, "compose_hash", "skipped", NULL, "the event log did not verify");
        mtv_check(checks, "app_id", "skipped", NULL, "the event log did not verify");
        return MT_OK;
    }
    memset(replay, 0, sizeof(replay));
    /* First pass: refuse non-runtime RTMR3 events; find the registers with a gap. */
    for (i = 0; i < log->num_events; i++) {
        const struct mt_event *x = &log->events[i];
        n_imr[x->imr]++;
        if (x->imr == 3 && x->event_type != MT_DSTACK_RUNTIME_EVENT_TYPE &&
            !(n_imr[3] == 1 && is_node_marker(x))) {
            if (!fail)
                mtv_check(checks, "event_log", "fail",
                          json_pack("{s:I,s:I}", "index", (json_int_t)i, "eventType",
                                    (json_int_t)x->event_type),
                          "event %zu: RTMR3 holds only dstack runtime events (type 0x%08x) "
                          "after the node image's boot marker, not type 0x%08x",
                          i, (unsigned)MT_DSTACK_RUNTIME_EVENT_TYPE, (unsigned)x->event_type);
            fail = 1;
        } else if (x->imr < 3 && x->event_type != MT_DSTACK_RUNTIME_EVENT_TYPE && !x->has_digest) {
            missing[x->imr]++;
        }
    }
    for (i = 0; i < 3; i++)
        if (n_imr[i] > 0 && missing[i] == 0)
            mask |= 1u << i;
    /* Second pass: extend and show only the events of covered registers. */
    for (i = 0; !fail && i < log->num_events; i++) {
        const struct mt_event *x = &log->events[i];
        if (!(mask & (1u << x->imr)))
            continue;
        if (x->event_type == MT_DSTACK_RUNTIME_EVENT_TYPE) {
            e = mt_rtmr_event_digest(x->event_type, x->event, strlen(x->event), x->payload,
                                     x->payload_len, digest);
            if (e != MT_OK) {
                mt_eventlog_free(log);
                return e;
            }
            if (x->has_digest && CRYPTO_memcmp(digest, x->digest, 48) != 0) {
                fail = 1;
                mtv_check(checks, "event_log", "fail", json_pack("{s:I}", "index", (json_int_t)i),
                          "event %zu (%s): the stated digest is not the digest of its payload", i,
                          x->event);
                break;
            }
        } else if (x->imr == 3) {
            /* The node marker: its digest is SHA-384 of its payload (checked in pass one). */
            memcpy(digest, x->digest, 48);
        } else {
            memcpy(digest, x->digest, 48); /* has_digest: registers with a gap are skipped */
        }
        e = mt_rtmr_extend(replay[x->imr], digest);
        if (e != MT_OK) {
            mt_eventlog_free(log);
            return e;
        }
        ev = json_pack("{s:I,s:i,s:s,s:o,s:o}", "index", (json_int_t)i, "imr", (int)x->imr, "event",
                       x->event, "digest", hexj(digest, 48), "payload",
                       hexj(x->payload, x->payload_len));
        if (ev != NULL)
            json_array_append_new(events, ev);
        shown++;
    }
    if (fail) /* nothing of a refused log is shown */
        json_array_clear(events);
    regs = json_object();
    for (i = 0; !fail && i < 4; i++) {
        if (!(mask & (1u << i))) {
            json_object_set_new(regs, imr_name((uint32_t)i), json_string("not covered"));
            continue;
        }
        r = CRYPTO_memcmp(replay[i], q->td.rt_mr[i], 48) == 0;
        json_object_set_new(regs, imr_name((uint32_t)i),
                            json_pack("{s:o,s:o,s:b}", "replayed", hexj(replay[i], 48), "quoted",
                                      hexj(q->td.rt_mr[i], 48), "match", r));
        if (!r && !fail) {
            fail = 1;
            mtv_check(checks, "event_log", "fail", json_pack("{s:O}", "rtmrs", regs),
                      "the event log replays to a different %s than the quote's",
                      imr_name((uint32_t)i));
        }
    }
    if (!fail) {
        *log_ok = 1;
        mtv_check(checks, "event_log", "pass",
                  json_pack("{s:O,s:I,s:I}", "rtmrs", regs, "replayedEvents", (json_int_t)shown,
                            "notReplayedEvents", (json_int_t)(log->num_events - shown)),
                  "%zu events replay to the quote's RTMR3%s%s", shown,
                  (mask & 7u) == 7u ? " and RTMR0-2" : "",
                  shown < log->num_events ? " (registers with a digest-less event not covered)"
                                          : "");
    }
    json_decref(regs);
    /* Values dstack itself emitted: runtime RTMR3 events before system-ready only (dstack.md
     * 3.6); with *log_ok every one of them was extended and RTMR3 matched. */
    ready = mt_eventlog_find(log, "system-ready", SIZE_MAX);
    before = ready != NULL ? (size_t)(ready - log->events) : SIZE_MAX;
    ce = mt_eventlog_find(log, "compose-hash", before);
    ae = mt_eventlog_find(log, "app-id", before);
    if (!*log_ok) {
        mtv_check(checks, "compose_hash", "fail", NULL,
                  "not shown: the event log is not bound to the quote");
        mtv_check(checks, "app_id", "fail", NULL,
                  "not shown: the event log is not bound to the quote");
    } else {
        if (ce == NULL || ce->payload_len != 32)
            mtv_check(checks, "compose_hash", "fail", NULL,
                      "the verified log has no 32-byte compose-hash event");
        else
            mtv_check(checks, "compose_hash", "pass",
                      json_pack("{s:o}", "composeHash", hexj(ce->payload, 32)),
                      "compose hash read from the replayed log");
        if (ae == NULL || ae->payload_len == 0)
            mtv_check(checks, "app_id", "fail", NULL, "the verified log has no app-id event");
        else
            mtv_check(checks, "app_id", "pass",
                      json_pack("{s:o}", "appId", hexj(ae->payload, ae->payload_len)),
                      "app id read from the replayed log");
    }
    mt_eventlog_free(log);
    return MT_OK;
}

/* The checks that state something the quote's signature vouches for. */
static const char *const unverified_ids[] = {"nonce",   "event_log",     "compose_hash",
                                             "app_id",  "release",       "measurements",
                                             "profile", "compose_policy"};

/*
 * "pass", "fail" or "incomplete" (docs/verifier.md "Verdict"): incomplete
 * when nothing failed but the quote's freshness is unproven (no nonce) or
 * it verified against a development trust root; a note on the quote check
 * says which.  No event log keeps "pass": its cards say what is not shown.
 */
static const char *
verdict_of(const struct mtv_service *s, json_t *checks, int pass)
{
    const char *why[2];
    size_t i, n = 0;
    json_t *c, *quote = NULL, *reasons;

    if (!pass)
        return "fail";
    json_array_foreach(checks, i, c)
    {
        const char *id = json_string_value(json_object_get(c, "id"));
        if (strcmp(id, "quote") == 0)
            quote = c;
        else if (strcmp(id, "nonce") == 0 &&
                 strcmp(json_string_value(json_object_get(c, "status")), "skipped") == 0)
            why[n++] = "no nonce: the quote's freshness is not proven";
    }
    if (!mt_verifier_is_intel_root(s->verifier))
        why[n++] = "verified against a development trust root (VERIFIER_TRUST_ROOT_FILE), "
                   "not Intel's";
    if (n == 0)
        return "pass";
    reasons = json_array();
    for (i = 0; reasons != NULL && i < n; i++)
        json_array_append_new(reasons, json_string(why[i]));
    if (quote != NULL && reasons != NULL)
        json_object_set_new(json_object_get(quote, "evidence"), "incomplete", reasons);
    else
        json_decref(reasons);
    return "incomplete";
}

/* The compose hash the log gave, for the release check (NULL when none). */
static const char *
compose_of(const json_t *checks)
{
    size_t i;
    json_t *c;

    json_array_foreach(checks, i, c)
    {
        if (strcmp(json_string_value(json_object_get(c, "id")), "compose_hash") == 0)
            return json_string_value(
                json_object_get(json_object_get(c, "evidence"), "composeHash"));
    }
    return NULL;
}

mt_err
mtv_verify(struct mtv_service *s, const struct mtv_request *rq, json_t **result, char *why,
           size_t why_len)
{
    struct mt_verdict *vd = NULL;
    struct mt_quote q;
    struct att a;
    json_t *out = NULL, *checks, *events, *meas = NULL, *release = NULL, *c, *adv;
    const uint8_t *rd;
    int verified = 0, log_ok = 0, pass = 1;
    mt_err e;
    size_t i;

    memset(&a, 0, sizeof(a));
    if (rq->kind == MTV_PASTE) {
        a.quote = mt_malloc(rq->quote_len);
        MT_ENSURE(a.quote != NULL, MT_ERR_NOMEM);
        memcpy(a.quote, rq->quote, rq->quote_len);
        a.quote_len = rq->quote_len;
        if (rq->eventlog != NULL) {
            a.eventlog = mt_strndup(rq->eventlog, rq->eventlog_len);
            MT_ENSURE_GOTO(a.eventlog != NULL, MT_ERR_NOMEM, e, out);
            a.eventlog_len = rq->eventlog_len;
        }
        memcpy(a.expect, rq->nonce, rq->nonce_len);
        a.expect_len = rq->nonce_len;
        a.binding_desc = "the given binding";
    } else {
        MT_GUARD_GOTO(fetch_att(s, rq, &a, why, why_len), e, out);
    }
    out = json_object();
    checks = json_array();
    events = json_array();
    vd = mt_calloc(1, sizeof(*vd));
    MT_ENSURE_GOTO(out != NULL && checks != NULL && events != NULL && vd != NULL, MT_ERR_NOMEM, e,
                   fail_alloc);
    json_object_set_new(out, "checks", checks);
    json_object_set_new(out, "events", events);
    e = mt_quote_parse(a.quote, a.quote_len, &q);
    if (e == MT_OK && q.kind == MT_QUOTE_MOCK)
        e = MT_ERR_QUOTE_VERSION;
    if (e != MT_OK || (q.body_kind != MT_BODY_TD10 && q.body_kind != MT_BODY_TD15)) {
        mtv_check(checks, "quote", "fail",
                  json_pack("{s:s}", "code", e != MT_OK ? mt_err_code(e) : "quote_tee_type"), "%s",
                  q.kind == MT_QUOTE_MOCK ? "a mock quote proves nothing"
                                          : "not a parsable TDX quote");
        json_object_set_new(out, "verdict", json_string("fail"));
        json_object_set_new(out, "measurements", json_null());
        json_object_set_new(out, "release", json_null());
        e = MT_OK;
        goto done;
    }
    MT_GUARD_GOTO(check_quote(s, &a, &q, checks, &verified, vd), e, fail_alloc);
    rd = mt_quote_report_data(&q);
    if (verified) {
        check_nonce(rq, &a, rd, checks);
        MT_GUARD_GOTO(check_log(&a, &q, checks, events, &log_ok), e, fail_alloc);
    } else {
        /* Nothing read from an unverified quote is a claim (docs/verifier.md "Checks"). */
        for (i = 0; i < sizeof(unverified_ids) / sizeof(unverified_ids[0]); i++)
            mtv_check(checks, unverified_ids[i], "skipped", NULL, "the quote did not verify");
    }
    adv = json_array();
    for (i = 0; verified && adv != NULL && i < vd->tcb.num_advisories; i++)
        json_array_append_new(adv, json_string(vd->tcb.advisories[i]));
    meas =
        json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:s?,s:o,s:b}", "mrtd", hexj(q.td.mr_td, 48), "rtmr0",
                  hexj(q.td.rt_mr[0], 48), "rtmr1", hexj(q.td.rt_mr[1], 48), "rtmr2",
                  hexj(q.td.rt_mr[2], 48), "rtmr3", hexj(q.td.rt_mr[3], 48), "reportData",
                  hexj(rd, 64), "tcbStatus", verified ? mt_tcb_status_name(vd->tcb.status) : NULL,
                  "advisoryIds", adv != NULL ? adv : json_array(), "quoteVerified", verified);
    if (verified)
        MT_GUARD_GOTO(mtv_release_checks(s, rq, &q, compose_of(checks), checks, &release), e,
                      fail_alloc);
    c = mtv_ita_check(s, a.quote, a.quote_len, meas);
    if (c != NULL)
        json_array_append_new(checks, c);
    json_object_set_new(out, "measurements", meas != NULL ? meas : json_null());
    json_object_set_new(out, "release", release != NULL ? release : json_null());
    (void)all_zero;
    json_array_foreach(checks, i, c)
    {
        if (strcmp(json_string_value(json_object_get(c, "status")), "fail") == 0)
            pass = 0;
    }
    if (!verified)
        pass = 0;
    json_object_set_new(out, "verdict", json_string(verdict_of(s, checks, pass)));
    e = MT_OK;
done:
    *result = out;
    out = NULL;
fail_alloc:
    json_decref(out);
out:
    mt_free(vd);
    att_free(&a);
    return e;
}
