#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "kms/kms_reply.h"
#include "kms/kms_routes.h"
#include "util/mt_alloc.h"
#include "util/mt_buf.h"

static const char *const route_names[MT_KMS_ROUTE__COUNT] = {
    "health", "ready", "metrics", "challenge", "get-key", "attest", "other"};

static int
trust_root_is_intel(const struct mt_kms *k)
{
    return k->root_der == NULL;
}

/* Whether the dstack socket accepts connections (cheap; no request sent). */
static int
dstack_reachable(const struct mt_kms *k)
{
    struct sockaddr_un sun;
    int fd, ok;

    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", k->cfg->dstack_socket);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    ok = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
    close(fd);
    return ok;
}

static int
collateral_usable(struct mt_kms *k)
{
    struct mt_collateral_store_stats st;

    mt_collateral_store_stats(k->collateral, &st);
    /* No attempt yet, or something cached, or the last attempts did not all fail. */
    return st.entries > 0 || st.fetch_failures == 0 || st.fetches > st.fetch_failures;
}

/*
 * GET /health: the reference's body (merod and probes read status/service),
 * plus what an operator needs to see at a glance.  Always 200: readiness
 * for load balancers is /ready.
 */
mt_err
mt_kms_route_health(struct mt_kms *k, struct mt_kms_response *rs)
{
    char reason[sizeof(k->policy_reason)];
    json_t *o;
    mt_err e;

    mt_kms_policy_reason(k, reason, sizeof(reason));
    o = json_pack("{s:s,s:s,s:s,s:b,s:s,s:s,s:s,s:s,s:s}", "status", "alive", "service",
                  "mero-kms-phala", "profile", k->cfg->profile, "policyReady",
                  mt_kms_policy(k) != NULL, "policyReason", reason, "store",
                  k->cfg->redis_url != NULL ? "redis" : "memory", "keyProvider",
                  k->cfg->key_provider == MT_KMS_KEYS_LOCAL ? "local" : "dstack", "trustRoot",
                  trust_root_is_intel(k) ? "intel"
                                         : "TEST ROOT (development only: quotes are not "
                                           "checked against Intel)",
                  "profileEvent", k->profile_event);
    MT_ENSURE(o != NULL, MT_ERR_NOMEM);
    if (k->cfg->accept_mock)
        json_object_set_new(o, "mockAttestation", json_true());
    e = mt_kms_reply_json(rs, 200, o);
    json_decref(o);
    return e;
}

/*
 * GET /ready: 200 when policy, store, collateral source, dstack and the audit log are usable;
 * else 503.
 */
mt_err
mt_kms_route_ready(struct mt_kms *k, struct mt_kms_response *rs)
{
    json_t *o, *reasons;
    int ready;
    mt_err e;

    reasons = json_array();
    MT_ENSURE(reasons != NULL, MT_ERR_NOMEM);
    if (mt_kms_policy(k) == NULL) {
        char reason[sizeof(k->policy_reason)];

        mt_kms_policy_reason(k, reason, sizeof(reason));
        json_array_append_new(reasons, json_string(reason));
    }
    if (k->store->ops->ping(k->store) != MT_OK)
        json_array_append_new(reasons, json_string("challenge store unavailable"));
    if (!collateral_usable(k))
        json_array_append_new(reasons, json_string("collateral source unavailable"));
    if (!dstack_reachable(k))
        json_array_append_new(reasons, json_string("dstack guest agent unreachable"));
    if (k->audit != NULL && mt_audit_failed(k->audit))
        json_array_append_new(reasons,
                              json_string("audit log failed (I/O error): restart to reopen it"));
    ready = json_array_size(reasons) == 0;
    o = json_pack("{s:b,s:o}", "ready", ready, "reasons", reasons);
    MT_ENSURE(o != NULL, MT_ERR_NOMEM);
    e = mt_kms_reply_json(rs, ready ? 200 : 503, o);
    json_decref(o);
    return e;
}

/* "name{labels} value\n", or "name value\n" without labels. */
static mt_err
line(struct mt_buf *b, const char *name, unsigned long v, const char *label)
{
    char text[256];
    int n = snprintf(text, sizeof(text), "%s%s%s%s %lu\n", name, label[0] ? "{" : "", label,
                     label[0] ? "}" : "", v);

    MT_ENSURE(n > 0 && (size_t)n < sizeof(text), MT_ERR_INTERNAL);
    return mt_buf_append(b, text, (size_t)n);
}

/* GET /metrics: Prometheus text format 0.0.4. */
mt_err
mt_kms_route_metrics(struct mt_kms *k, struct mt_kms_response *rs)
{
    static const char *const classes[MT_KMS_STATUS__COUNT] = {"2xx", "4xx", "5xx"};
    struct mt_collateral_store_stats st;
    struct mt_buf b;
    char label[96];
    size_t pending = 0;
    int r, c;
    mt_err e = MT_OK;

    mt_buf_init(&b, 1u << 20);
    MT_GUARD_GOTO(mt_buf_append_str(&b, "# HELP mero_kms_requests_total HTTP requests by route "
                                        "and status class.\n# TYPE mero_kms_requests_total "
                                        "counter\n"),
                  e, out);
    for (r = 0; r < MT_KMS_ROUTE__COUNT; r++) {
        for (c = 0; c < MT_KMS_STATUS__COUNT; c++) {
            snprintf(label, sizeof(label), "route=\"%s\",status=\"%s\"", route_names[r],
                     classes[c]);
            MT_GUARD_GOTO(
                line(&b, "mero_kms_requests_total", atomic_load(&k->metrics.requests[r][c]), label),
                e, out);
        }
    }
    MT_GUARD_GOTO(mt_buf_append_str(&b, "# TYPE mero_kms_request_duration_us_sum counter\n"), e,
                  out);
    for (r = 0; r < MT_KMS_ROUTE__COUNT; r++) {
        snprintf(label, sizeof(label), "route=\"%s\"", route_names[r]);
        MT_GUARD_GOTO(line(&b, "mero_kms_request_duration_us_sum",
                           atomic_load(&k->metrics.latency_us_sum[r]), label),
                      e, out);
    }
    MT_GUARD_GOTO(mt_buf_append_str(&b, "# TYPE mero_kms_keys_released_total counter\n"), e, out);
    MT_GUARD_GOTO(
        line(&b, "mero_kms_keys_released_total", atomic_load(&k->metrics.keys_released), ""), e,
        out);
    MT_GUARD_GOTO(mt_buf_append_str(&b, "# TYPE mero_kms_key_denials_total counter\n"), e, out);
    MT_GUARD_GOTO(line(&b, "mero_kms_key_denials_total", atomic_load(&k->metrics.key_denials), ""),
                  e, out);
    MT_GUARD_GOTO(mt_buf_append_str(&b, "# TYPE mero_kms_challenges_issued_total counter\n"), e,
                  out);
    MT_GUARD_GOTO(line(&b, "mero_kms_challenges_issued_total",
                       atomic_load(&k->metrics.challenges_issued), ""),
                  e, out);
    if (k->store->ops->count(k->store, (uint64_t)mt_clock_now(&k->clock), &pending) == MT_OK) {
        MT_GUARD_GOTO(mt_buf_append_str(&b, "# TYPE mero_kms_pending_challenges gauge\n"), e, out);
        MT_GUARD_GOTO(line(&b, "mero_kms_pending_challenges", (unsigned long)pending, ""), e, out);
    }
    mt_collateral_store_stats(k->collateral, &st);
    MT_GUARD_GOTO(mt_buf_append_str(&b, "# TYPE mero_kms_collateral_fetches_total counter\n"), e,
                  out);
    MT_GUARD_GOTO(line(&b, "mero_kms_collateral_fetches_total", (unsigned long)st.fetches, ""), e,
                  out);
    MT_GUARD_GOTO(
        mt_buf_append_str(&b, "# TYPE mero_kms_collateral_fetch_failures_total counter\n"), e, out);
    MT_GUARD_GOTO(
        line(&b, "mero_kms_collateral_fetch_failures_total", (unsigned long)st.fetch_failures, ""),
        e, out);
    MT_GUARD_GOTO(mt_buf_append_str(&b, "# TYPE mero_kms_collateral_memory_hits_total counter\n"),
                  e, out);
    MT_GUARD_GOTO(
        line(&b, "mero_kms_collateral_memory_hits_total", (unsigned long)st.memory_hits, ""), e,
        out);
    MT_GUARD_GOTO(mt_buf_append_str(&b, "# TYPE mero_kms_policy_ready gauge\n"), e, out);
    MT_GUARD_GOTO(line(&b, "mero_kms_policy_ready", (unsigned long)(mt_kms_policy(k) != NULL), ""),
                  e, out);
    MT_GUARD_GOTO(mt_buf_append_str(&b, "# HELP mero_kms_test_trust_root 1 when quotes are "
                                        "checked against a test root instead of Intel's.\n"
                                        "# TYPE mero_kms_test_trust_root gauge\n"),
                  e, out);
    MT_GUARD_GOTO(line(&b, "mero_kms_test_trust_root", (unsigned long)!trust_root_is_intel(k), ""),
                  e, out);
    rs->status = 200;
    rs->content_type = "text/plain; version=0.0.4";
    rs->body = (char *)mt_buf_take(&b, &rs->body_len);
out:
    mt_buf_free(&b);
    return e;
}
