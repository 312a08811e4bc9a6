#include "sidecar/sidecar.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "kmsclient/quote_source.h"
#include "quote/quote.h"
#include "util/mt_alloc.h"
#include "util/mt_hex.h"
#include "util/mt_json.h"

/*
 * The node's identity: merod's readiness, its peer ID and the TD's MRTD.
 * Every step is retried with capped exponential backoff; merod starts
 * slowly after boot, and a sidecar that exits instead would only be
 * restarted by systemd into the same wait.
 */

/* The report data of the MRTD quote: a fixed label, so the quote is recognisable. */
static const char MRTD_LABEL[] = "mero-fleet-sidecar mrtd v1";

/* Tests only (sc_node_set_tsm_hook). */
static void (*tsm_hook)(const char *entry_dir, void *arg);
static void *tsm_hook_arg;

void
sc_node_set_tsm_hook(void (*hook)(const char *entry_dir, void *arg), void *arg)
{
    tsm_hook = hook;
    tsm_hook_arg = arg;
}

static mt_err
admin_get(const struct sc_config *c, const char *path, struct sc_http_resp *r, char *why,
          size_t why_len)
{
    struct sc_http_opts o = {NULL, c->http_timeout_ms, (size_t)c->max_response_bytes};
    char url[4096];
    mt_err e;

    snprintf(url, sizeof(url), "%s%s", c->merod_admin_url, path);
    e = sc_http_request(&o, url, NULL, NULL, r);
    if (e != MT_OK) {
        snprintf(why, why_len, "GET %s: %s", path, r->error);
        return e;
    }
    if (r->status < 200 || r->status > 299) {
        snprintf(why, why_len, "GET %s: HTTP status %ld", path, r->status);
        return MT_ERR_HTTP_STATUS;
    }
    return MT_OK;
}

/* data.<a>|data.<b>|<a>|<b> as a string. */
static const char *
pick(json_t *root, const char *a, const char *b)
{
    json_t *data = json_object_get(root, "data"), *v;

    if (json_is_object(data)) {
        v = json_object_get(data, a);
        if (json_is_string(v))
            return json_string_value(v);
        v = json_object_get(data, b);
        if (json_is_string(v))
            return json_string_value(v);
    }
    v = json_object_get(root, a);
    if (json_is_string(v))
        return json_string_value(v);
    v = json_object_get(root, b);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static mt_err
get_peer_id(const struct sc_config *c, char peer[SC_MAX_PEER_ID + 1], char *why, size_t why_len)
{
    struct sc_http_resp r;
    json_t *root = NULL;
    const char *s;
    mt_err e;

    e = admin_get(c, c->peer_id_path, &r, why, why_len);
    if (e == MT_OK) {
        e = mt_json_parse((const char *)r.body.p, r.body.len, r.body.limit, &root);
        s = e == MT_OK ? pick(root, "peerId", "peer_id") : NULL;
        if (s == NULL || !sc_is_peer_id(s)) {
            snprintf(why, why_len, "%s: no valid peerId/peer_id in the answer", c->peer_id_path);
            e = MT_ERR_SIDECAR_NODE_NOT_READY;
        } else {
            snprintf(peer, SC_MAX_PEER_ID + 1, "%s", s);
        }
    }
    json_decref(root);
    sc_http_resp_free(&r);
    return e;
}

static mt_err
mrtd_from_merod(const struct sc_config *c, char mrtd[SC_MRTD_HEX + 1], char *why, size_t why_len)
{
    struct sc_http_resp r;
    json_t *root = NULL;
    const char *s;
    mt_err e;

    e = admin_get(c, "/admin-api/tee/info", &r, why, why_len);
    if (e == MT_OK) {
        e = mt_json_parse((const char *)r.body.p, r.body.len, r.body.limit, &root);
        s = e == MT_OK ? pick(root, "mrtd", "mrtd") : NULL;
        if (s == NULL || !sc_is_mrtd(s)) {
            snprintf(why, why_len, "/admin-api/tee/info: data.mrtd is not 96 lowercase hex");
            e = MT_ERR_SIDECAR_MRTD;
        } else {
            memcpy(mrtd, s, SC_MRTD_HEX + 1);
        }
    }
    json_decref(root);
    sc_http_resp_free(&r);
    return e;
}

static mt_err
mrtd_from_quote(const struct sc_config *c, char mrtd[SC_MRTD_HEX + 1], char *why, size_t why_len)
{
    struct mt_quote_source src;
    uint8_t rd[64], *quote = NULL;
    struct mt_quote q;
    size_t len = 0;
    char hex[SC_MRTD_HEX + 1];
    mt_err e;

    memset(rd, 0, sizeof(rd));
    memcpy(rd, MRTD_LABEL, sizeof(MRTD_LABEL) - 1);
    if (mt_quote_source_parse(c->mrtd_source, &src) != MT_OK || src.kind == MT_QSRC_MOCK) {
        snprintf(why, why_len, "mrtd_source %s is not usable", c->mrtd_source);
        return MT_ERR_CONFIG;
    }
    if (src.kind == MT_QSRC_TSM) {
        src.tsm_hook = tsm_hook;
        src.tsm_hook_arg = tsm_hook_arg;
    }
    e = mt_quote_source_get(&src, rd, &quote, &len, why, why_len);
    if (e != MT_OK)
        return e;
    e = mt_quote_parse(quote, len, &q);
    if (e == MT_OK && q.body_kind != MT_BODY_TD10 && q.body_kind != MT_BODY_TD15)
        e = MT_ERR_SIDECAR_MRTD;
    if (e == MT_OK) {
        mt_hex_encode(q.td.mr_td, sizeof(q.td.mr_td), hex);
        if (!sc_is_mrtd(hex))
            e = MT_ERR_SIDECAR_MRTD;
        else
            memcpy(mrtd, hex, sizeof(hex));
    }
    if (e != MT_OK)
        snprintf(why, why_len, "the quote from %s holds no TD report: %s", c->mrtd_source,
                 mt_err_code(e));
    mt_free(quote);
    return e;
}

typedef mt_err (*step_fn)(const struct sc_config *c, void *out, char *why, size_t why_len);

static mt_err
step_health(const struct sc_config *c, void *out, char *why, size_t why_len)
{
    struct sc_http_resp r;
    mt_err e;

    (void)out;
    e = admin_get(c, "/admin-api/health", &r, why, why_len);
    sc_http_resp_free(&r);
    return e;
}

static mt_err
step_peer(const struct sc_config *c, void *out, char *why, size_t why_len)
{
    return get_peer_id(c, out, why, why_len);
}

static mt_err
step_mrtd(const struct sc_config *c, void *out, char *why, size_t why_len)
{
    if (strcmp(c->mrtd_source, "merod") == 0)
        return mrtd_from_merod(c, out, why, why_len);
    return mrtd_from_quote(c, out, why, why_len);
}

/* Run step until it works, doubling the wait from ready_initial_ms up to ready_max_ms. */
static mt_err
retry(const struct sc_config *c, volatile sig_atomic_t *stop, const char *what, step_fn step,
      void *out)
{
    long delay = c->ready_initial_ms;
    char why[512], ms[32];
    mt_err e;

    for (;;) {
        why[0] = '\0';
        e = step(c, out, why, sizeof(why));
        if (e == MT_OK || e == MT_ERR_CONFIG)
            return e;
        snprintf(ms, sizeof(ms), "%ld", delay);
        sc_log("warn", what, "error", mt_err_code(e), "detail", why, "retry_in_ms", ms, NULL);
        sc_sleep_ms(delay, stop);
        if (*stop)
            return MT_ERR_SIDECAR_NODE_NOT_READY;
        delay = delay > c->ready_max_ms / 2 ? c->ready_max_ms : delay * 2;
    }
}

mt_err
sc_node_identify(const struct sc_config *c, volatile sig_atomic_t *stop,
                 char peer_id[SC_MAX_PEER_ID + 1], char mrtd[SC_MRTD_HEX + 1])
{
    MT_GUARD(retry(c, stop, "merod_not_ready", step_health, NULL));
    MT_GUARD(retry(c, stop, "peer_id_unavailable", step_peer, peer_id));
    MT_GUARD(retry(c, stop, "mrtd_unavailable", step_mrtd, mrtd));
    return MT_OK;
}
