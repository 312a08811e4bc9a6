#include "kms/kms.h"

#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "dcap/x509.h"
#include "dstack/dstack_client.h"
#include "kms/kms_keys.h"
#include "measure/eventlog.h"
#include "policy/policy.h"
#include "util/mt_alloc.h"
#include "util/mt_file.h"
#include "util/mt_json_dump.h"
#include "util/mt_limits.h"

void
mt_kms_log(const char *level, const char *msg, const json_t *fields)
{
    struct mt_clock c = mt_clock_system();
    json_t *o;
    char t[21], *text = NULL;

    mt_rfc3339_format(mt_clock_now(&c), t);
    o = json_pack("{s:s,s:s,s:s,s:s}", "time", t, "level", level, "service", "mero-kms", "msg",
                  msg);
    if (o == NULL)
        return;
    if (fields != NULL)
        json_object_update(o, (json_t *)fields);
    if (mt_json_dumps(o, 0, &text, NULL) == MT_OK)
        fprintf(stderr, "%s\n", text);
    mt_free(text);
    json_decref(o);
}

void
mt_kms_free(struct mt_kms *k)
{
    if (k == NULL)
        return;
    mt_kms_policy_retry_stop(k);
    mt_policy_free(k->retried_policy);
    pthread_cond_destroy(&k->policy_cv);
    pthread_mutex_destroy(&k->policy_mu);
    if (k->store != NULL)
        k->store->ops->free(k->store);
    mt_collateral_store_free(k->collateral);
    mt_audit_close(k->audit);
    mt_free(k->root_der);
    OPENSSL_cleanse(k->local_root_key, sizeof(k->local_root_key));
    mt_kms_config_free(k->cfg);
    mt_free(k);
}

static mt_err
load_trust_root(struct mt_kms *k, char *why, size_t why_len)
{
    uint8_t *buf = NULL;
    size_t len;
    mt_err e;

    e = mt_file_read(k->cfg->trust_root_file, MT_MAX_FILE_SIZE, &buf, &len);
    if (e == MT_OK)
        e = mt_root_load(buf, len, &k->root_der, &k->root_der_len);
    mt_free(buf);
    if (e != MT_OK)
        snprintf(why, why_len, "KMS_TRUST_ROOT_FILE %s: %s", k->cfg->trust_root_file,
                 mt_err_message(e));
    return e;
}

/* Collateral events an operator should see (fetch failures, stale copies served). */
static void
collateral_log(void *arg, mt_err e, const char *msg)
{
    json_t *f = json_pack("{s:s,s:s}", "code", mt_err_code(e), "detail", msg);

    (void)arg;
    mt_kms_log("warning", "collateral", f);
    json_decref(f);
}

static mt_err
open_stores(struct mt_kms *k, char *why, size_t why_len)
{
    struct mt_kms_store_limits lim = {k->cfg->max_pending, k->cfg->max_pending_per_peer};
    struct mt_collateral_store_opts co;
    struct mt_pccs_opts po;
    mt_err e;

    e = k->cfg->redis_url != NULL ? mt_kms_store_redis_new(k->cfg->redis_url, &lim, &k->store)
                                  : mt_kms_store_mem_new(&lim, &k->store);
    if (e != MT_OK) {
        snprintf(why, why_len, "challenge store: %s", mt_err_message(e));
        return e;
    }
    mt_pccs_opts_init(&po);
    po.urls = (const char *const *)k->cfg->pccs_urls;
    po.num_urls = k->cfg->num_pccs_urls;
    mt_collateral_store_opts_init(&co);
    co.pccs = &po;
    co.cache_dir = k->cfg->collateral_cache_dir;
    co.refresh_margin = 3600;
    co.max_entries = 64;
    co.log = collateral_log;
    e = mt_collateral_store_new(&co, &k->collateral);
    if (e != MT_OK) {
        snprintf(why, why_len, "collateral store (COLLATERAL_CACHE_DIR %s): %s",
                 k->cfg->collateral_cache_dir == NULL ? "" : k->cfg->collateral_cache_dir,
                 mt_err_message(e));
        return e;
    }
    if (k->cfg->audit_log != NULL && k->cfg->audit_log[0] != '\0') {
        char reason[256];

        e = mt_audit_open_why(k->cfg->audit_log, &k->audit, reason, sizeof(reason));
        if (e != MT_OK) {
            snprintf(why, why_len, "AUDIT_LOG_PATH %s: %s", k->cfg->audit_log, reason);
            return e;
        }
        mt_audit_set_sync_interval(k->audit, k->cfg->audit_sync_interval_us);
    }
    return MT_OK;
}

mt_err
mt_kms_new(struct mt_kms_config *cfg, struct mt_clock clock, struct mt_kms **out, char *why,
           size_t why_len)
{
    struct mt_kms *k;
    mt_err e = MT_OK;

    why[0] = '\0';
    k = mt_calloc(1, sizeof(*k));
    if (k == NULL) {
        mt_kms_config_free(cfg);
        return MT_ERR_NOMEM;
    }
    k->cfg = cfg;
    k->clock = clock;
    atomic_init(&k->next_request_id, 1);
    /* mt_calloc zeroed the thread fields; the lock and condition are plain defaults. */
    pthread_mutex_init(&k->policy_mu, NULL);
    pthread_cond_init(&k->policy_cv, NULL);
    atomic_init(&k->policy_ready, cfg->policy_ready ? 1 : 0);
    snprintf(k->policy_reason, sizeof(k->policy_reason), "%s", cfg->policy_reason);
    snprintf(k->profile_event, sizeof(k->profile_event), "not attempted");
    if (cfg->trust_root_file != NULL && cfg->trust_root_file[0] != '\0')
        MT_GUARD_GOTO(load_trust_root(k, why, why_len), e, out);
    if (cfg->key_provider == MT_KMS_KEYS_LOCAL) {
        MT_GUARD_GOTO(
            mt_kms_local_root_key(cfg->local_root_key_file, k->local_root_key, why, why_len), e,
            out);
        k->has_local_root_key = 1;
    }
    MT_GUARD_GOTO(open_stores(k, why, why_len), e, out);
    e = mt_kms_policy_retry_start(k);
    if (e != MT_OK) {
        snprintf(why, why_len, "cannot start the release policy retry thread");
        goto out;
    }
    *out = k;
    k = NULL;
out:
    mt_kms_free(k);
    return e;
}

/* The profile marker, as mero-kms emits it (reference 1.5). */
mt_err
mt_kms_profile_event(struct mt_kms *k, char *why, size_t why_len)
{
    struct mt_dstack_opts o;
    struct mt_dstack_client *c = NULL;
    struct mt_dstack_quote dq;
    struct mt_eventlog *log = NULL;
    const struct mt_event *ev;
    char payload[96];
    uint8_t rd[1] = {0};
    size_t plen;
    mt_err e = MT_OK;

    why[0] = '\0';
    memset(&dq, 0, sizeof(dq));
    if (k->cfg->accept_mock) {
        snprintf(k->profile_event, sizeof(k->profile_event), "skipped (mock attestation mode)");
        return MT_OK;
    }
    plen = (size_t)snprintf(payload, sizeof(payload), "calimero.kms.profile=%s", k->cfg->profile);
    mt_dstack_opts_init(&o);
    o.socket_path = k->cfg->dstack_socket;
    MT_GUARD(mt_dstack_client_new(&o, &c));
    /* Is it measured already?  The event log of a fresh quote says. */
    e = mt_dstack_get_quote(c, rd, sizeof(rd), &dq);
    if (e == MT_OK)
        e = mt_eventlog_parse(dq.event_log, strlen(dq.event_log), &log);
    if (e != MT_OK) {
        snprintf(k->profile_event, sizeof(k->profile_event),
                 "failed: cannot read the event log: %s", mt_err_message(e));
        e = MT_OK; /* not fatal, as the reference */
        goto out;
    }
    ev = mt_eventlog_find(log, "calimero.kms.profile", SIZE_MAX);
    if (ev != NULL) {
        if (ev->payload_len == plen && CRYPTO_memcmp(ev->payload, payload, plen) == 0) {
            snprintf(k->profile_event, sizeof(k->profile_event), "already measured");
            goto out;
        }
        /* Another profile was measured into this TD: serving would lie about it. */
        snprintf(why, why_len,
                 "RTMR3 already carries calimero.kms.profile for another profile; refusing "
                 "to start as %s",
                 k->cfg->profile);
        e = MT_ERR_CONFIG;
        goto out;
    }
    e = mt_dstack_emit_event(c, "calimero.kms.profile", (const uint8_t *)payload, plen);
    if (e == MT_OK)
        snprintf(k->profile_event, sizeof(k->profile_event), "measured");
    else
        snprintf(k->profile_event, sizeof(k->profile_event), "failed: EmitEvent: %s%s%s",
                 mt_err_message(e), mt_dstack_last_error(c)[0] ? ": " : "",
                 mt_dstack_last_error(c));
    e = MT_OK;
out:
    mt_eventlog_free(log);
    mt_dstack_quote_free(&dq);
    mt_dstack_client_free(c);
    return e;
}
