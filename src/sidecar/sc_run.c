#include "sidecar/sidecar.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <curl/curl.h>
#include <jansson.h>
#include <microhttpd.h>
#include <openssl/crypto.h>

#include "util/mt_alloc.h"
#include "util/mt_file.h"

/*
 * The poll loop (docs/fleet-sidecar.md "Behaviour").  Every change to a
 * group is saved before the next step, so a kill at any point loses at most
 * the step in flight: a join that ran but was not recorded is run again
 * (fleet-join of a group already joined is harmless), and a confirm that was
 * sent but not recorded is sent again (MDMA treats it as idempotent).
 */

struct loop {
    const struct sc_config *c;
    const char *token;
    const struct sc_run_opts *o;
    volatile sig_atomic_t *stop;
    char peer[SC_MAX_PEER_ID + 1];
    char mrtd[SC_MRTD_HEX + 1];
    struct sc_state st;
    unsigned full_total; /* the state file's state_full_total */
    pthread_mutex_t mu;  /* guards snapshot */
    char *snapshot;      /* the last saved state text, for the status endpoint */
};

static int64_t
backoff_ms(const struct sc_config *c, unsigned attempts)
{
    int64_t d = c->backoff_initial_ms;
    unsigned i;

    for (i = 1; i < attempts && d < c->backoff_max_ms; i++)
        d *= 2;
    return d > c->backoff_max_ms ? c->backoff_max_ms : d;
}

static void
save(struct loop *L)
{
    struct sc_state_info info;
    char *text = NULL;
    mt_err e;

    memset(&info, 0, sizeof(info));
    snprintf(info.peer_id, sizeof(info.peer_id), "%s", L->peer);
    snprintf(info.mrtd, sizeof(info.mrtd), "%s", L->mrtd);
    info.full_total = L->full_total;
    e = sc_state_save_info(L->c->state_dir, &L->st, &info);
    if (e != MT_OK)
        sc_log("error", "state_save_failed", "error", mt_err_code(e), "dir", L->c->state_dir, NULL);
    if (sc_state_serialize_info(&L->st, &info, &text) == MT_OK) {
        pthread_mutex_lock(&L->mu);
        mt_free(L->snapshot);
        L->snapshot = text;
        pthread_mutex_unlock(&L->mu);
    }
}

/* POST to MDMA with the token header; the header text is wiped afterwards. */
static mt_err
mdma_post(struct loop *L, const char *path, json_t *body, struct sc_http_resp *r)
{
    struct sc_http_opts o = {L->c->ca_file, L->c->http_timeout_ms,
                             (size_t)L->c->max_response_bytes};
    char url[4096], hdr[SC_MAX_TOKEN + 32];
    const char *headers[] = {hdr, NULL};
    char *text;
    mt_err e;

    text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(body);
    if (text == NULL) {
        memset(r, 0, sizeof(*r));
        return MT_ERR_NOMEM;
    }
    snprintf(url, sizeof(url), "%s%s", L->c->mdma_url, path);
    snprintf(hdr, sizeof(hdr), "X-Fleet-Token: %s", L->token);
    e = sc_http_request(&o, url, headers, text, r);
    OPENSSL_cleanse(hdr, sizeof(hdr));
    free(text); /* lint-allow: free (jansson's malloc) */
    return e;
}

static json_t *
ident_body(struct loop *L, const char *group)
{
    json_t *o = json_object();

    if (o == NULL)
        return NULL;
    if (json_object_set_new(o, "peer_id", json_string(L->peer)) != 0 ||
        (group != NULL && json_object_set_new(o, "group_id", json_string(group)) != 0) ||
        json_object_set_new(o, "mrtd", json_string(L->mrtd)) != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static void
log_pruned(const struct sc_group *g, const char *reason)
{
    sc_log("info", "state_pruned", "group_id", g->id, "status", sc_status_name(g->status), "reason",
           reason, NULL);
}

/*
 * Removals first (an unassigned pending group is forgotten at once), then
 * additions: a new assignment finding the state full prunes removed groups
 * (oldest removal first); if it is still full it is logged (state_full) and
 * counted in state_full_total, and retried on the next poll.
 */
static void
reconcile(struct loop *L, char (*ids)[65], size_t n)
{
    struct sc_group *g;
    size_t i, j;
    char count[32], kept[32], total[32];
    int64_t now = sc_now_ms();
    int changed = 0;

    for (j = 0; j < L->st.n; j++) {
        g = &L->st.g[j];
        for (i = 0; i < n && strcmp(ids[i], g->id) != 0; i++)
            ;
        if (i == n && g->assigned) {
            g->assigned = 0;
            g->removed_ms = now;
            sc_log("warn", "assignment_removed", "group_id", g->id, "status",
                   sc_status_name(g->status), "action",
                   g->status == SC_PENDING  ? "forgotten (never joined)"
                   : g->status == SC_JOINED ? "confirmation still pending"
                   : L->o->leave_removed    ? "leave"
                                            : "none (no --leave-removed)",
                   NULL);
            changed = 1;
        }
    }
    if (sc_state_prune(&L->st, now, 0, log_pruned) > 0)
        changed = 1;
    for (i = 0; i < n; i++) {
        g = sc_state_find(&L->st, ids[i]);
        if (g == NULL) {
            if (L->st.n >= SC_MAX_STATE_GROUPS && sc_state_prune(&L->st, now, 1, log_pruned) > 0)
                changed = 1;
            if (sc_state_add(&L->st, ids[i], &g) != MT_OK) {
                L->full_total++;
                snprintf(kept, sizeof(kept), "%zu", L->st.n);
                snprintf(total, sizeof(total), "%u", L->full_total);
                sc_log("error", "state_full", "group_id", ids[i], "groups", kept,
                       "state_full_total", total, "note",
                       "not joined; retried next poll (groups awaiting confirmation are kept)",
                       NULL);
                changed = 1;
                continue;
            }
            sc_log("info", "assignment_new", "group_id", ids[i], NULL);
            changed = 1;
        } else if (!g->assigned) {
            g->assigned = 1;
            g->removed_ms = 0;
            sc_log("info", "assignment_restored", "group_id", g->id, "status",
                   sc_status_name(g->status), NULL);
            changed = 1;
        }
    }
    snprintf(count, sizeof(count), "%zu", n);
    sc_log("debug", "poll_ok", "assignments", count, NULL);
    if (changed)
        save(L);
}

static void
poll_mdma(struct loop *L)
{
    char ids[SC_MAX_GROUPS][65], why[256], status[16];
    struct sc_http_resp r;
    size_t n = 0;
    mt_err e;

    e = mdma_post(L, "/api/fleet/should-join", ident_body(L, NULL), &r);
    if (e != MT_OK) {
        sc_log("warn", "mdma_unreachable", "error", mt_err_code(e), "detail", r.error, "note",
               "state kept", NULL);
    } else if (r.status < 200 || r.status > 299) {
        snprintf(status, sizeof(status), "%ld", r.status);
        sc_log("warn", "mdma_status", "status", status, "note", "state kept", NULL);
    } else if (sc_mdma_parse_assignments((const char *)r.body.p, r.body.len, ids, SC_MAX_GROUPS, &n,
                                         why, sizeof(why)) != MT_OK) {
        sc_log("warn", "mdma_response_invalid", "detail", why, "note", "ignored, state kept", NULL);
    } else {
        reconcile(L, ids, n);
    }
    sc_http_resp_free(&r);
}

static void
try_join(struct loop *L, struct sc_group *g)
{
    char out[SC_MAX_CHILD_OUTPUT + 1], why[160], att[16];
    mt_err e;

    e = sc_meroctl_run(L->c, "fleet-join", g->id, out, sizeof(out), why, sizeof(why));
    if (e == MT_OK) {
        g->status = SC_JOINED;
        g->join_attempts = 0;
        g->next_try_ms = 0;
        g->last_error[0] = '\0';
        sc_log("info", "join_ok", "group_id", g->id, NULL);
    } else {
        g->join_attempts++;
        g->next_try_ms = sc_now_ms() + backoff_ms(L->c, g->join_attempts);
        snprintf(g->last_error, sizeof(g->last_error), "join: %.140s", why);
        snprintf(att, sizeof(att), "%u", g->join_attempts);
        sc_log("warn", "join_failed", "group_id", g->id, "error", mt_err_code(e), "detail", why,
               "attempts", att, "output", out, NULL);
    }
    save(L);
}

static void
try_confirm(struct loop *L, struct sc_group *g)
{
    struct sc_http_resp r;
    char why[160], att[16];
    mt_err e;

    e = mdma_post(L, "/api/fleet/confirm", ident_body(L, g->id), &r);
    if (e == MT_OK && r.status >= 200 && r.status <= 299) {
        g->status = SC_CONFIRMED;
        g->confirm_attempts = 0;
        g->next_try_ms = 0;
        g->last_error[0] = '\0';
        sc_log("info", "confirm_ok", "group_id", g->id, NULL);
    } else {
        if (e != MT_OK)
            snprintf(why, sizeof(why), "%.30s: %.120s", mt_err_code(e), r.error);
        else
            snprintf(why, sizeof(why), "HTTP status %ld", r.status);
        g->confirm_attempts++;
        g->next_try_ms = sc_now_ms() + backoff_ms(L->c, g->confirm_attempts);
        snprintf(g->last_error, sizeof(g->last_error), "confirm: %.140s", why);
        snprintf(att, sizeof(att), "%u", g->confirm_attempts);
        sc_log("warn", "confirm_failed", "group_id", g->id, "detail", why, "attempts", att, NULL);
    }
    sc_http_resp_free(&r);
    save(L);
}

static void
try_leave(struct loop *L, size_t i)
{
    struct sc_group *g = &L->st.g[i];
    char out[SC_MAX_CHILD_OUTPUT + 1], why[160], id[65];

    if (sc_meroctl_run(L->c, "fleet-leave", g->id, out, sizeof(out), why, sizeof(why)) == MT_OK) {
        memcpy(id, g->id, sizeof(id));
        sc_state_remove(&L->st, i);
        sc_log("info", "leave_ok", "group_id", id, NULL);
    } else {
        g->next_try_ms = sc_now_ms() + L->c->backoff_max_ms;
        snprintf(g->last_error, sizeof(g->last_error), "leave: %.140s", why);
        sc_log("warn", "leave_failed", "group_id", g->id, "detail", why, "output", out, NULL);
    }
    save(L);
}

static void
poll_once(struct loop *L)
{
    size_t i;
    int64_t now;

    poll_mdma(L);
    for (i = 0; i < L->st.n && !*L->stop; i++) {
        struct sc_group *g = &L->st.g[i];

        now = sc_now_ms();
        if (g->next_try_ms > now)
            continue;
        if (g->status == SC_PENDING && g->assigned)
            try_join(L, g);
        if (g->status == SC_JOINED && L->st.g[i].next_try_ms <= sc_now_ms())
            try_confirm(L, g);
    }
    if (!L->o->leave_removed)
        return;
    for (i = L->st.n; i-- > 0 && !*L->stop;) {
        struct sc_group *g = &L->st.g[i];

        if (!g->assigned && g->status == SC_CONFIRMED && g->next_try_ms <= sc_now_ms())
            try_leave(L, i);
    }
}

/* ---- status endpoint ---- */

static enum MHD_Result
on_status(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
          const char *version, const char *upload, size_t *upload_len, void **ctx)
{
    struct loop *L = cls;
    struct MHD_Response *resp;
    const char *text;
    enum MHD_Result rc;
    char *copy;
    unsigned code = MHD_HTTP_OK;

    (void)version;
    (void)upload;
    (void)upload_len;
    (void)ctx;
    if (strcmp(method, "GET") != 0 || strcmp(url, "/status") != 0) {
        resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        code = strcmp(url, "/status") == 0 ? MHD_HTTP_METHOD_NOT_ALLOWED : MHD_HTTP_NOT_FOUND;
    } else {
        pthread_mutex_lock(&L->mu);
        text = L->snapshot != NULL ? L->snapshot : "{\"state\":\"starting\"}\n";
        copy = mt_strdup(text);
        pthread_mutex_unlock(&L->mu);
        if (copy == NULL)
            return MHD_NO;
        resp = MHD_create_response_from_buffer_with_free_callback(strlen(copy), copy, mt_free);
        if (resp == NULL)
            mt_free(copy);
    }
    if (resp == NULL)
        return MHD_NO;
    (void)MHD_add_response_header(resp, "Content-Type", "application/json");
    rc = MHD_queue_response(conn, code, resp);
    MHD_destroy_response(resp);
    return rc;
}

static struct MHD_Daemon *
status_start(struct loop *L)
{
    struct sockaddr_in sa;

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)L->c->status_port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, (uint16_t)L->c->status_port, NULL,
        NULL, on_status, L, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
        MHD_OPTION_CONNECTION_LIMIT, 8u, MHD_OPTION_CONNECTION_TIMEOUT, 5u, MHD_OPTION_END);
}

mt_err
sc_disable_core_dumps(void)
{
    struct rlimit rl = {0, 0};
    mt_err e = MT_OK;

    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
        e = MT_ERR_IO;
    if (setrlimit(RLIMIT_CORE, &rl) != 0)
        e = MT_ERR_IO;
    return e;
}

int
sc_run(const struct sc_config *c, const char *token, const struct sc_run_opts *o,
       volatile sig_atomic_t *stop)
{
    struct MHD_Daemon *d = NULL;
    struct sc_state_info info;
    struct loop L;
    char aside[4400], port[16];
    int missing = 0, rc = 0;
    mt_err e;

    memset(&L, 0, sizeof(L));
    L.c = c;
    L.token = token;
    L.o = o;
    L.stop = stop;
    pthread_mutex_init(&L.mu, NULL);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        sc_log("error", "startup_failed", "detail", "curl_global_init", NULL);
        return 1;
    }
    if (c->status_port > 0) {
        d = status_start(&L);
        snprintf(port, sizeof(port), "%ld", c->status_port);
        sc_log(d != NULL ? "info" : "error", d != NULL ? "status_listening" : "status_failed",
               "address", "127.0.0.1", "port", port, NULL);
    }
    sc_log("info", "starting", "mdma_url", c->mdma_url, "merod_admin_url", c->merod_admin_url,
           "mrtd_source", c->mrtd_source, "state_dir", c->state_dir, NULL);
    if (sc_node_identify(c, stop, L.peer, L.mrtd) != MT_OK) {
        rc = *stop ? 0 : 1;
        goto out;
    }
    sc_log("info", "identified", "peer_id", L.peer, "mrtd", L.mrtd, NULL);
    e = sc_state_load_info(c->state_dir, &L.st, &info, &missing, aside, sizeof(aside));
    L.full_total = info.full_total;
    if (e == MT_ERR_SIDECAR_STATE_CORRUPT) {
        sc_log("error", "state_corrupt", "moved_to", aside, "note", "starting from empty state",
               NULL);
    } else if (e != MT_OK) {
        /* Never save over a file that could not be read: exit, systemd retries. */
        sc_log("error", "state_unreadable", "error", mt_err_code(e), "dir", c->state_dir, "note",
               "state file left as is; exiting 75 (EX_TEMPFAIL) without saving", NULL);
        rc = SC_EXIT_STATE_UNREADABLE;
        goto out;
    } else if (missing) {
        sc_log("info", "state_missing", "note", "starting from empty state", NULL);
    } else if ((info.peer_id[0] != '\0' && strcmp(info.peer_id, L.peer) != 0) ||
               (info.mrtd[0] != '\0' && strcmp(info.mrtd, L.mrtd) != 0)) {
        sc_log("warn", "identity_changed", "state_peer_id", info.peer_id, "peer_id", L.peer,
               "state_mrtd", info.mrtd, "mrtd", L.mrtd, NULL);
        if (sc_state_move_aside(c->state_dir, "identity", aside, sizeof(aside)) != MT_OK) {
            sc_log("error", "state_unreadable", "error", "io", "detail", aside, "note",
                   "state of another identity not moved aside; exiting 75 without saving", NULL);
            rc = SC_EXIT_STATE_UNREADABLE;
            goto out;
        }
        sc_log("warn", "state_reset", "moved_to", aside, "note",
               "starting from empty state for the new identity", NULL);
        sc_state_free(&L.st);
        L.full_total = 0;
    }
    save(&L);
    while (!*stop) {
        poll_once(&L);
        if (o->once)
            break;
        sc_sleep_ms(c->poll_interval_ms, stop);
    }
    sc_log("info", "stopping", NULL);
out:
    if (d != NULL)
        MHD_stop_daemon(d);
    sc_state_free(&L.st);
    mt_free(L.snapshot);
    pthread_mutex_destroy(&L.mu);
    curl_global_cleanup();
    return rc;
}

int
sc_print_status(const struct sc_config *c)
{
    struct sc_state st;
    char path[4096];
    uint8_t *text = NULL;
    size_t len = 0;

    snprintf(path, sizeof(path), "%s/%s", c->state_dir, SC_STATE_FILE);
    if (mt_file_read(path, SC_MAX_STATE_FILE, &text, &len) != MT_OK) {
        fprintf(stderr, "mero-fleet-sidecar: no readable state file at %s\n", path);
        return 1;
    }
    if (sc_state_parse((const char *)text, len, &st) != MT_OK) {
        fprintf(stderr, "mero-fleet-sidecar: %s is corrupt\n", path);
        mt_free(text);
        return 1;
    }
    sc_state_free(&st);
    fwrite(text, 1, len, stdout);
    mt_free(text);
    return 0;
}
