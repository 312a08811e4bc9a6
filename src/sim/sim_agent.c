#include "sim/sim_agent.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "dstack/dstack_kdf.h"
#include "measure/eventlog.h"
#include "measure/rtmr.h"
#include "util/mt_alloc.h"
#include "util/mt_hex.h"
#include "util/mt_json.h"
#include "util/mt_limits.h"
#include "util/mt_secret.h"

struct mt_sim_agent {
    struct mt_sim_machine *m;
    struct mt_testpki *pki;
    struct mt_testpki_params p; /* TD report template and PCK certificate of this machine */
    pthread_mutex_t lock;       /* guards log and rtmr */
    struct mt_eventlog *log;
    uint8_t rtmr[4][48];
};

/* A failed call: dstack answers 400 with a pretty-printed {"error": msg} (dstack.md 1.2). */
static mt_err
reply_error(int *status, char **body, const char *msg)
{
    json_t *o = json_object();
    char *text;

    MT_ENSURE(o != NULL, MT_ERR_NOMEM);
    if (json_object_set_new(o, "error", json_string(msg)) != 0) {
        json_decref(o);
        return MT_ERR_NOMEM;
    }
    text = json_dumps(o, JSON_INDENT(2));
    json_decref(o);
    MT_ENSURE(text != NULL, MT_ERR_NOMEM);
    *body = mt_strdup(text);
    mt_free_libc(text);
    MT_ENSURE(*body != NULL, MT_ERR_NOMEM);
    *status = 400;
    return MT_OK;
}

/* Success: compact JSON, no trailing newline. */
static mt_err
reply_json(int *status, char **body, const json_t *o)
{
    char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);

    MT_ENSURE(text != NULL, MT_ERR_NOMEM);
    *body = mt_strdup(text);
    OPENSSL_cleanse(text, strlen(text)); /* GetKey's body holds a key */
    mt_free_libc(text);
    MT_ENSURE(*body != NULL, MT_ERR_NOMEM);
    *status = 200;
    return MT_OK;
}

/*
 * Request fields: missing means default; a field of the wrong type is an
 * error (serde would refuse it).  Returns 0 and sets *why on a bad field.
 */
static int
arg_string(const json_t *args, const char *key, const char **out, const char **why)
{
    const json_t *v = args == NULL ? NULL : json_object_get(args, key);

    *out = "";
    if (v == NULL || json_is_null(v))
        return 1;
    if (!json_is_string(v)) {
        *why = "invalid type: expected a string";
        return 0;
    }
    *out = json_string_value(v);
    return 1;
}

/* Hex as dstack accepts it on input: optional 0x, either case, even length. */
static int
arg_hex(const json_t *args, const char *key, size_t max, uint8_t **out, size_t *len,
        const char **why)
{
    const char *s;
    size_t n;

    *out = NULL;
    *len = 0;
    if (!arg_string(args, key, &s, why))
        return 0;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        s += 2;
    n = strlen(s);
    if (n % 2 != 0 || n / 2 > max) {
        *why = n % 2 != 0 ? "Invalid hex: odd number of digits" : "too long";
        return 0;
    }
    if (mt_hex_decode_alloc(s, n, max, out, len) != MT_OK) {
        *why = "Invalid hex: invalid character";
        return 0;
    }
    return 1;
}

static mt_err
sha256(const void *p, size_t n, uint8_t out[32])
{
    unsigned int len = 32;

    MT_ENSURE(EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) == 1, MT_ERR_CRYPTO);
    return MT_OK;
}

static mt_err
runtime_event(struct mt_eventlog *log, const char *name, const uint8_t *payload, size_t len)
{
    return mt_eventlog_append(log, 3, MT_DSTACK_RUNTIME_EVENT_TYPE, NULL, name, payload, len);
}

/* dstack's runtime events of a boot (dstack.md 3.6). */
static mt_err
boot_runtime_events(const struct mt_sim_machine *m, struct mt_eventlog *log)
{
    MT_GUARD(runtime_event(log, "system-preparing", NULL, 0));
    MT_GUARD(runtime_event(log, "app-id", m->app_id, 20));
    MT_GUARD(runtime_event(log, "compose-hash", m->compose_hash, 32));
    MT_GUARD(runtime_event(log, "instance-id", m->instance_id, m->has_instance_id ? 20 : 0));
    MT_GUARD(runtime_event(log, "boot-mr-done", NULL, 0));
    if (m->has_os_image_hash)
        MT_GUARD(runtime_event(log, "os-image-hash", m->os_image_hash, 32));
    MT_GUARD(runtime_event(log, "key-provider", (const uint8_t *)m->key_provider,
                           strlen(m->key_provider)));
    return runtime_event(log, "system-ready", NULL, 0);
}

/*
 * The test PKI's parameters for this machine: its platform in the PCK
 * certificate and the TCB Info level it sits at, its TD fields in the quote.
 */
static void
params_for_machine(struct mt_testpki_params *p, const struct mt_sim_machine *m, int64_t now)
{
    mt_testpki_params_default(p, MT_TESTPKI_TDX_V4, now);
    memcpy(p->pck.fmspc, m->fmspc, 6);
    memcpy(p->tcb_info.fmspc, m->fmspc, 6);
    memcpy(p->pck.cpu_svn, m->cpu_svn, 16);
    p->pck.pce_svn = m->pce_svn;
    /* The newest level is this platform: it verifies UpToDate. */
    memcpy(p->tcb_info.levels[0].sgx, m->cpu_svn, 16);
    p->tcb_info.levels[0].pcesvn = m->pce_svn;
    memcpy(p->tcb_info.levels[0].tdx, m->tee_tcb_svn, 16);
    memcpy(p->quote.td.tee_tcb_svn, m->tee_tcb_svn, 16);
    memcpy(p->quote.td.mr_seam, m->mr_seam, 48);
    memcpy(p->quote.td.td_attributes, m->td_attributes, 8);
    memcpy(p->quote.td.xfam, m->xfam, 8);
    memcpy(p->quote.td.mr_td, m->mrtd, 48);
    memcpy(p->quote.td.mr_config_id, m->mr_config_id, 48);
    memcpy(p->quote.td.mr_owner, m->mr_owner, 48);
    memcpy(p->quote.td.mr_owner_config, m->mr_owner_config, 48);
    /* Real quotes carry a NUL after the PEM chain and some padding (1.3, 1.9). */
    p->quote.pem_trailing_nul = 1;
}

mt_err
mt_sim_boot_registers(const struct mt_sim_machine *m, uint8_t rtmr[4][48])
{
    struct mt_eventlog *log = NULL;
    mt_err e;

    MT_GUARD(mt_eventlog_dup(m->boot_log, &log));
    e = boot_runtime_events(m, log);
    if (e == MT_OK)
        e = mt_eventlog_replay(log, rtmr);
    mt_eventlog_free(log);
    return e;
}

void
mt_sim_agent_free(struct mt_sim_agent *a)
{
    if (a == NULL)
        return;
    mt_eventlog_free(a->log);
    mt_sim_machine_free(a->m);
    pthread_mutex_destroy(&a->lock);
    mt_free(a);
}

mt_err
mt_sim_agent_new(struct mt_sim_machine *m, struct mt_testpki *pki, int64_t now,
                 struct mt_sim_agent **out)
{
    struct mt_sim_agent *a;
    mt_err e = MT_OK;

    a = mt_calloc(1, sizeof(*a));
    if (a == NULL) {
        mt_sim_machine_free(m);
        return MT_ERR_NOMEM;
    }
    a->m = m;
    a->pki = pki;
    if (pthread_mutex_init(&a->lock, NULL) != 0) {
        mt_sim_machine_free(m);
        mt_free(a);
        return MT_ERR_INTERNAL;
    }
    params_for_machine(&a->p, m, now);
    MT_GUARD_GOTO(mt_testpki_issue(pki, &a->p), e, out);
    MT_GUARD_GOTO(mt_eventlog_dup(m->boot_log, &a->log), e, out);
    MT_GUARD_GOTO(boot_runtime_events(m, a->log), e, out);
    MT_GUARD_GOTO(mt_eventlog_replay(a->log, a->rtmr), e, out);
    *out = a;
    a = NULL;
out:
    mt_sim_agent_free(a);
    return e;
}

void
mt_sim_agent_rtmrs(struct mt_sim_agent *a, uint8_t rtmr[4][48])
{
    pthread_mutex_lock(&a->lock);
    memcpy(rtmr, a->rtmr, sizeof(a->rtmr));
    pthread_mutex_unlock(&a->lock);
}

const struct mt_testpki_params *
mt_sim_agent_params(const struct mt_sim_agent *a)
{
    return &a->p;
}

/* A consistent copy of the log and registers, taken under the lock. */
static mt_err
snapshot(struct mt_sim_agent *a, struct mt_eventlog **log, uint8_t rtmr[4][48])
{
    mt_err e;

    pthread_mutex_lock(&a->lock);
    e = mt_eventlog_dup(a->log, log);
    memcpy(rtmr, a->rtmr, sizeof(a->rtmr));
    pthread_mutex_unlock(&a->lock);
    return e;
}

/* A signed quote over the current registers with report_data (padded to 64). */
static mt_err
make_quote(struct mt_sim_agent *a, const uint8_t rtmr[4][48], const uint8_t report_data[64],
           uint8_t **quote, size_t *len)
{
    struct mt_testpki_params *p;
    mt_err e;
    int i;

    /* The params are large; keep them off the connection thread's stack. */
    p = mt_malloc(sizeof(*p));
    MT_ENSURE(p != NULL, MT_ERR_NOMEM);
    *p = a->p;
    for (i = 0; i < 4; i++)
        memcpy(p->quote.td.rt_mr[i], rtmr[i], 48);
    memcpy(p->quote.td.report_data, report_data, 64);
    e = mt_testpki_quote(a->pki, p, quote, len);
    mt_free(p);
    return e;
}

static mt_err
do_get_quote(struct mt_sim_agent *a, const json_t *args, int *status, char **body)
{
    struct mt_eventlog *log = NULL;
    uint8_t rtmr[4][48], rd[64] = {0}, *data = NULL, *quote = NULL;
    size_t len = 0, quote_len = 0;
    char *hex = NULL, *events = NULL;
    const char *why = NULL;
    json_t *o = NULL;
    mt_err e = MT_OK;

    if (!arg_hex(args, "report_data", 1u << 20, &data, &len, &why))
        return reply_error(status, body, why);
    if (len > 64) {
        mt_free(data);
        return reply_error(status, body, "Report data is too long");
    }
    if (len > 0)
        memcpy(rd, data, len);
    mt_free(data);
    MT_GUARD(snapshot(a, &log, rtmr));
    MT_GUARD_GOTO(make_quote(a, rtmr, rd, &quote, &quote_len), e, out);
    MT_GUARD_GOTO(
        mt_eventlog_to_json(log, a->m->stripped_event_log ? MT_EVENTLOG_STRIPPED : MT_EVENTLOG_FULL,
                            &events),
        e, out);
    o = json_object();
    MT_ENSURE_GOTO(o != NULL, MT_ERR_NOMEM, e, out);
    MT_GUARD_GOTO(mt_json_set_hex(o, "quote", quote, quote_len), e, out);
    MT_GUARD_GOTO(mt_json_set_new(o, "event_log", json_string(events)), e, out);
    MT_GUARD_GOTO(mt_json_set_hex(o, "report_data", rd, 64), e, out);
    MT_GUARD_GOTO(mt_json_set_new(o, "vm_config", json_string(a->m->vm_config)), e, out);
    e = reply_json(status, body, o);
out:
    json_decref(o);
    mt_free(hex);
    mt_free(events);
    mt_free(quote);
    mt_eventlog_free(log);
    return e;
}

static mt_err
do_get_key(struct mt_sim_agent *a, const json_t *args, int *status, char **body)
{
    const char *path, *purpose, *alg, *why = NULL;
    enum mt_dstack_alg algorithm;
    struct mt_secret key;
    char hex[65];
    json_t *o = NULL;
    mt_err e = MT_OK;

    memset(&key, 0, sizeof(key));
    if (!arg_string(args, "path", &path, &why) || !arg_string(args, "purpose", &purpose, &why) ||
        !arg_string(args, "algorithm", &alg, &why))
        return reply_error(status, body, why);
    if (mt_dstack_alg_parse(alg, &algorithm) != MT_OK)
        return reply_error(status, body, "Unsupported algorithm");
    (void)algorithm; /* the key bytes do not depend on it (dstack.md 2.1) */
    MT_GUARD(mt_dstack_derive_key(a->m->app_key, path, strlen(path), &key));
    mt_hex_encode(key.p, key.len, hex);
    o = json_object();
    MT_ENSURE_GOTO(o != NULL, MT_ERR_NOMEM, e, out);
    MT_GUARD_GOTO(mt_json_set_new(o, "key", json_string(hex)), e, out);
    /*
     * signature_chain needs Keccak-256, which OpenSSL 3.0 does not offer
     * (docs/simulator.md): an empty chain, never a made-up one.
     */
    MT_GUARD_GOTO(mt_json_set_new(o, "signature_chain", json_array()), e, out);
    e = reply_json(status, body, o);
out:
    OPENSSL_cleanse(hex, sizeof(hex));
    json_decref(o);
    mt_secret_free(&key);
    return e;
}

static mt_err
do_emit_event(struct mt_sim_agent *a, const json_t *args, int *status, char **body)
{
    const char *name, *why = NULL;
    uint8_t *payload = NULL;
    size_t len = 0;
    char msg[MT_MAX_EVENT_NAME + 80];
    mt_err e;

    if (!arg_string(args, "event", &name, &why) ||
        !arg_hex(args, "payload", MT_MAX_EVENT_PAYLOAD, &payload, &len, &why))
        return reply_error(status, body, why);
    if (strlen(name) > MT_MAX_EVENT_NAME) {
        mt_free(payload);
        return reply_error(status, body, "Event name is too long");
    }
    switch (a->m->emit_mode) {
    case MT_SIM_EMIT_REJECT:
        mt_free(payload);
        snprintf(msg, sizeof(msg), "runtime event emission is unavailable in simulator mode: %s",
                 name);
        return reply_error(status, body, msg);
    case MT_SIM_EMIT_NOOP:
        mt_free(payload);
        return reply_json(status, body, json_null());
    case MT_SIM_EMIT_EXTEND:
    default:
        break;
    }
    pthread_mutex_lock(&a->lock);
    if (a->log->num_events >= MT_MAX_EVENTS) {
        e = MT_ERR_TOO_LARGE;
    } else {
        /* Log and register change together, under one lock (dstack HEAD's fix). */
        e = runtime_event(a->log, name, payload, len);
        if (e == MT_OK)
            e = mt_rtmr_extend(a->rtmr[3], a->log->events[a->log->num_events - 1].digest);
    }
    pthread_mutex_unlock(&a->lock);
    mt_free(payload);
    if (e == MT_ERR_TOO_LARGE)
        return reply_error(status, body, "Too many runtime events");
    MT_GUARD(e);
    return reply_json(status, body, json_null());
}

/* mr_aggregated (dstack.md 5). */
static mt_err
mr_aggregated(const struct mt_sim_machine *m, const uint8_t rtmr[4][48], uint8_t out[32])
{
    static const uint8_t zero[48];
    uint8_t buf[48 * 8];
    size_t n = 0;
    int i;

    memcpy(buf, m->mrtd, 48);
    n = 48;
    for (i = 0; i < 4; i++, n += 48)
        memcpy(buf + n, rtmr[i], 48);
    if (memcmp(m->mr_config_id, zero, 48) != 0 || memcmp(m->mr_owner, zero, 48) != 0 ||
        memcmp(m->mr_owner_config, zero, 48) != 0) {
        memcpy(buf + n, m->mr_config_id, 48);
        memcpy(buf + n + 48, m->mr_owner, 48);
        memcpy(buf + n + 96, m->mr_owner_config, 48);
        n += 144;
    }
    return sha256(buf, n, out);
}

static mt_err
tcb_info_text(const struct mt_sim_machine *m, const struct mt_eventlog *log,
              const uint8_t rtmr[4][48], const uint8_t agg[32], const uint8_t device_id[32],
              char **out)
{
    json_t *o = json_object(), *events = NULL;
    char *full = NULL, *text;
    mt_err e = MT_OK;
    char key[8];
    int i;

    MT_ENSURE(o != NULL, MT_ERR_NOMEM);
    MT_GUARD_GOTO(mt_json_set_hex(o, "mrtd", m->mrtd, 48), e, out);
    for (i = 0; i < 4; i++) {
        snprintf(key, sizeof(key), "rtmr%d", i);
        MT_GUARD_GOTO(mt_json_set_hex(o, key, rtmr[i], 48), e, out);
    }
    MT_GUARD_GOTO(mt_json_set_hex(o, "mr_aggregated", agg, 32), e, out);
    MT_GUARD_GOTO(m->has_os_image_hash ? mt_json_set_hex(o, "os_image_hash", m->os_image_hash, 32)
                                       : mt_json_set_new(o, "os_image_hash", json_string("")),
                  e, out);
    MT_GUARD_GOTO(mt_json_set_hex(o, "compose_hash", m->compose_hash, 32), e, out);
    MT_GUARD_GOTO(mt_json_set_hex(o, "device_id", device_id, 32), e, out);
    /* Info's event log is never stripped (dstack.md 5). */
    MT_GUARD_GOTO(mt_eventlog_to_json(log, MT_EVENTLOG_FULL, &full), e, out);
    events = json_loads(full, 0, NULL);
    MT_ENSURE_GOTO(events != NULL, MT_ERR_INTERNAL, e, out);
    MT_GUARD_GOTO(mt_json_set_new(o, "event_log", events), e, out);
    MT_GUARD_GOTO(mt_json_set_new(o, "app_compose", json_string(m->app_compose)), e, out);
    text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    MT_ENSURE_GOTO(text != NULL, MT_ERR_NOMEM, e, out);
    *out = mt_strdup(text);
    mt_free_libc(text);
    MT_ENSURE_GOTO(*out != NULL, MT_ERR_NOMEM, e, out);
out:
    mt_free(full);
    json_decref(o);
    return e;
}

static mt_err
do_info(struct mt_sim_agent *a, int *status, char **body)
{
    const struct mt_sim_machine *m = a->m;
    struct mt_eventlog *log = NULL;
    uint8_t rtmr[4][48], agg[32], device_id[32];
    char *tcb = NULL;
    json_t *o = NULL;
    mt_err e = MT_OK;

    MT_GUARD(snapshot(a, &log, rtmr));
    MT_GUARD_GOTO(mr_aggregated(m, rtmr, agg), e, out);
    /* The agent evaluates the PPID on an unverified quote: always SHA-256 of nothing. */
    MT_GUARD_GOTO(sha256("", 0, device_id), e, out);
    MT_GUARD_GOTO(tcb_info_text(m, log, rtmr, agg, device_id, &tcb), e, out);
    o = json_object();
    MT_ENSURE_GOTO(o != NULL, MT_ERR_NOMEM, e, out);
    MT_GUARD_GOTO(mt_json_set_hex(o, "app_id", m->app_id, 20), e, out);
    MT_GUARD_GOTO(m->has_instance_id ? mt_json_set_hex(o, "instance_id", m->instance_id, 20)
                                     : mt_json_set_new(o, "instance_id", json_string("")),
                  e, out);
    MT_GUARD_GOTO(mt_json_set_new(o, "app_cert", json_string("")), e, out);
    MT_GUARD_GOTO(mt_json_set_new(o, "tcb_info", json_string(tcb)), e, out);
    MT_GUARD_GOTO(mt_json_set_new(o, "app_name", json_string(m->app_name)), e, out);
    MT_GUARD_GOTO(mt_json_set_hex(o, "device_id", device_id, 32), e, out);
    MT_GUARD_GOTO(mt_json_set_hex(o, "mr_aggregated", agg, 32), e, out);
    MT_GUARD_GOTO(m->has_os_image_hash ? mt_json_set_hex(o, "os_image_hash", m->os_image_hash, 32)
                                       : mt_json_set_new(o, "os_image_hash", json_string("")),
                  e, out);
    MT_GUARD_GOTO(mt_json_set_new(o, "key_provider_info", json_string(m->key_provider)), e, out);
    MT_GUARD_GOTO(mt_json_set_hex(o, "compose_hash", m->compose_hash, 32), e, out);
    MT_GUARD_GOTO(mt_json_set_new(o, "vm_config", json_string(m->vm_config)), e, out);
    MT_GUARD_GOTO(mt_json_set_new(o, "cloud_vendor", json_string("mero-tee-sim")), e, out);
    MT_GUARD_GOTO(mt_json_set_new(o, "cloud_product", json_string("simulated TDX")), e, out);
    e = reply_json(status, body, o);
out:
    json_decref(o);
    mt_free(tcb);
    mt_eventlog_free(log);
    return e;
}

static mt_err
do_version(int *status, char **body)
{
    json_t *o = json_pack("{s:s,s:s}", "version", "0.5.11", "rev", "mero-tee-sim");
    mt_err e;

    MT_ENSURE(o != NULL, MT_ERR_NOMEM);
    e = reply_json(status, body, o);
    json_decref(o);
    return e;
}

const struct mt_sim_machine *
mt_sim_agent_machine(const struct mt_sim_agent *a)
{
    return a->m;
}

mt_err
mt_sim_agent_call(struct mt_sim_agent *a, const char *method, const json_t *args, int *status,
                  char **body)
{
    char msg[160];

    if (strcmp(method, "GetQuote") == 0)
        return do_get_quote(a, args, status, body);
    if (strcmp(method, "GetKey") == 0)
        return do_get_key(a, args, status, body);
    if (strcmp(method, "EmitEvent") == 0)
        return do_emit_event(a, args, status, body);
    if (strcmp(method, "Info") == 0)
        return do_info(a, status, body);
    if (strcmp(method, "Version") == 0)
        return do_version(status, body);
    snprintf(msg, sizeof(msg), "Method not found: %.100s", method);
    return reply_error(status, body, msg);
}
