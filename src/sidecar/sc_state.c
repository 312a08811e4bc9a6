#include "sidecar/sidecar.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>

#include "util/mt_alloc.h"
#include "util/mt_file.h"
#include "util/mt_json.h"

/*
 * The state file (docs/fleet-sidecar.md "State file"), one JSON object:
 *   {"version":1,"peer_id":..,"mrtd":..,"groups":[{"group_id","status",
 *    "assigned","join_attempts","confirm_attempts","next_try_ms",
 *    "last_error"}]}
 * Parsing is strict (sc_state_parse is fuzzed); a file that does not parse
 * is moved aside by sc_state_load and the service starts from nothing.
 */

static const char *const STATUS[] = {"pending", "joined", "confirmed"};

const char *
sc_status_name(enum sc_status s)
{
    return (unsigned)s < 3 ? STATUS[s] : "?";
}

void
sc_state_free(struct sc_state *st)
{
    if (st == NULL)
        return;
    mt_free(st->g);
    st->g = NULL;
    st->n = 0;
}

struct sc_group *
sc_state_find(struct sc_state *st, const char *id)
{
    size_t i;

    for (i = 0; i < st->n; i++) {
        if (strcmp(st->g[i].id, id) == 0)
            return &st->g[i];
    }
    return NULL;
}

mt_err
sc_state_add(struct sc_state *st, const char *id, struct sc_group **out)
{
    struct sc_group *g;

    MT_ENSURE(sc_is_group_id(id), MT_ERR_ARG);
    MT_ENSURE(st->n < SC_MAX_STATE_GROUPS, MT_ERR_TOO_LARGE);
    g = mt_realloc(st->g, (st->n + 1) * sizeof(*g));
    MT_ENSURE(g != NULL, MT_ERR_NOMEM);
    st->g = g;
    g = &st->g[st->n++];
    memset(g, 0, sizeof(*g));
    memcpy(g->id, id, SC_GROUP_HEX + 1);
    g->status = SC_PENDING;
    g->assigned = 1;
    *out = g;
    return MT_OK;
}

void
sc_state_remove(struct sc_state *st, size_t i)
{
    if (i >= st->n)
        return;
    memmove(&st->g[i], &st->g[i + 1], (st->n - i - 1) * sizeof(st->g[0]));
    st->n--;
}

size_t
sc_state_prune(struct sc_state *st, int64_t now_ms, int need_room,
               void (*on_drop)(const struct sc_group *g, const char *reason))
{
    size_t i, dropped = 0, oldest;
    const char *reason;

    for (i = st->n; i-- > 0;) {
        struct sc_group *g = &st->g[i];

        if (g->assigned)
            continue;
        if (g->removed_ms <= 0)
            g->removed_ms = now_ms;
        reason = NULL;
        if (g->status == SC_PENDING)
            reason = "unassigned and never joined";
        else if (g->status == SC_CONFIRMED && now_ms - g->removed_ms >= SC_REMOVED_KEEP_MS)
            reason = "unassigned and confirmed, retention over";
        if (reason == NULL)
            continue;
        if (on_drop != NULL)
            on_drop(g, reason);
        sc_state_remove(st, i);
        dropped++;
    }
    while (need_room && st->n >= SC_MAX_STATE_GROUPS) {
        oldest = st->n;
        for (i = 0; i < st->n; i++) {
            if (!st->g[i].assigned && st->g[i].status == SC_CONFIRMED &&
                (oldest == st->n || st->g[i].removed_ms < st->g[oldest].removed_ms))
                oldest = i;
        }
        if (oldest == st->n)
            break;
        if (on_drop != NULL)
            on_drop(&st->g[oldest], "unassigned and confirmed, state full");
        sc_state_remove(st, oldest);
        dropped++;
    }
    return dropped;
}

static mt_err
parse_group(const json_t *o, struct sc_group *g)
{
    const char *s;
    size_t sl;
    int64_t v;
    json_t *b;
    unsigned i;

    MT_ENSURE(json_is_object(o), MT_ERR_SIDECAR_STATE_CORRUPT);
    memset(g, 0, sizeof(*g));
    MT_ENSURE(mt_json_get_str(o, "group_id", &s, &sl) == MT_OK && sl == SC_GROUP_HEX &&
                  sc_is_group_id(s),
              MT_ERR_SIDECAR_STATE_CORRUPT);
    memcpy(g->id, s, SC_GROUP_HEX + 1);
    MT_ENSURE(mt_json_get_str(o, "status", &s, &sl) == MT_OK, MT_ERR_SIDECAR_STATE_CORRUPT);
    for (i = 0; i < 3; i++) {
        if (strcmp(s, STATUS[i]) == 0)
            break;
    }
    MT_ENSURE(i < 3, MT_ERR_SIDECAR_STATE_CORRUPT);
    g->status = (enum sc_status)i;
    b = json_object_get(o, "assigned");
    MT_ENSURE(json_is_boolean(b), MT_ERR_SIDECAR_STATE_CORRUPT);
    g->assigned = json_is_true(b);
    MT_ENSURE(mt_json_get_int(o, "join_attempts", 0, 1000000000, &v) == MT_OK,
              MT_ERR_SIDECAR_STATE_CORRUPT);
    g->join_attempts = (unsigned)v;
    MT_ENSURE(mt_json_get_int(o, "confirm_attempts", 0, 1000000000, &v) == MT_OK,
              MT_ERR_SIDECAR_STATE_CORRUPT);
    g->confirm_attempts = (unsigned)v;
    MT_ENSURE(mt_json_get_int(o, "next_try_ms", 0, INT64_MAX / 2, &v) == MT_OK,
              MT_ERR_SIDECAR_STATE_CORRUPT);
    g->next_try_ms = v;
    if (mt_json_get_str(o, "last_error", &s, &sl) == MT_OK)
        snprintf(g->last_error, sizeof(g->last_error), "%s", s);
    /* Optional (files written before it existed have none). */
    if (json_object_get(o, "removed_ms") != NULL) {
        MT_ENSURE(mt_json_get_int(o, "removed_ms", 0, INT64_MAX / 2, &v) == MT_OK,
                  MT_ERR_SIDECAR_STATE_CORRUPT);
        g->removed_ms = v;
    }
    return MT_OK;
}

mt_err
sc_state_parse(const char *text, size_t len, struct sc_state *st)
{
    return sc_state_parse_info(text, len, st, NULL);
}

mt_err
sc_state_parse_info(const char *text, size_t len, struct sc_state *st, struct sc_state_info *info)
{
    struct sc_state tmp = {NULL, 0};
    struct sc_state_info ti;
    json_t *root = NULL, *arr, *el, *id;
    struct sc_group *g;
    int64_t ver;
    size_t i;
    mt_err e = MT_OK;

    memset(&ti, 0, sizeof(ti));
    MT_ENSURE(mt_json_parse(text, len, SC_MAX_STATE_FILE, &root) == MT_OK,
              MT_ERR_SIDECAR_STATE_CORRUPT);
    MT_ENSURE_GOTO(json_is_object(root), MT_ERR_SIDECAR_STATE_CORRUPT, e, out);
    MT_ENSURE_GOTO(mt_json_get_int(root, "version", 1, 1, &ver) == MT_OK,
                   MT_ERR_SIDECAR_STATE_CORRUPT, e, out);
    /* The identity the file was written for: absent, null, or a valid value. */
    id = json_object_get(root, "peer_id");
    if (json_is_string(id)) {
        MT_ENSURE_GOTO(sc_is_peer_id(json_string_value(id)), MT_ERR_SIDECAR_STATE_CORRUPT, e, out);
        snprintf(ti.peer_id, sizeof(ti.peer_id), "%s", json_string_value(id));
    } else {
        MT_ENSURE_GOTO(id == NULL || json_is_null(id), MT_ERR_SIDECAR_STATE_CORRUPT, e, out);
    }
    id = json_object_get(root, "mrtd");
    if (json_is_string(id)) {
        MT_ENSURE_GOTO(sc_is_mrtd(json_string_value(id)), MT_ERR_SIDECAR_STATE_CORRUPT, e, out);
        snprintf(ti.mrtd, sizeof(ti.mrtd), "%s", json_string_value(id));
    } else {
        MT_ENSURE_GOTO(id == NULL || json_is_null(id), MT_ERR_SIDECAR_STATE_CORRUPT, e, out);
    }
    if (json_object_get(root, "state_full_total") != NULL) {
        MT_ENSURE_GOTO(mt_json_get_int(root, "state_full_total", 0, 1000000000, &ver) == MT_OK,
                       MT_ERR_SIDECAR_STATE_CORRUPT, e, out);
        ti.full_total = (unsigned)ver;
    }
    arr = json_object_get(root, "groups");
    MT_ENSURE_GOTO(json_is_array(arr) && json_array_size(arr) <= SC_MAX_STATE_GROUPS,
                   MT_ERR_SIDECAR_STATE_CORRUPT, e, out);
    json_array_foreach(arr, i, el)
    {
        struct sc_group one;

        MT_GUARD_GOTO(parse_group(el, &one), e, out);
        MT_ENSURE_GOTO(sc_state_find(&tmp, one.id) == NULL, MT_ERR_SIDECAR_STATE_CORRUPT, e, out);
        MT_GUARD_GOTO(sc_state_add(&tmp, one.id, &g), e, out);
        *g = one;
    }
    *st = tmp;
    tmp.g = NULL;
    tmp.n = 0;
    if (info != NULL)
        *info = ti;
out:
    sc_state_free(&tmp);
    json_decref(root);
    return e;
}

mt_err
sc_state_serialize(const struct sc_state *st, const char *peer_id, const char *mrtd, char **out)
{
    struct sc_state_info info;

    memset(&info, 0, sizeof(info));
    if (peer_id != NULL)
        snprintf(info.peer_id, sizeof(info.peer_id), "%s", peer_id);
    if (mrtd != NULL)
        snprintf(info.mrtd, sizeof(info.mrtd), "%s", mrtd);
    return sc_state_serialize_info(st, &info, out);
}

mt_err
sc_state_serialize_info(const struct sc_state *st, const struct sc_state_info *info, char **out)
{
    const char *peer_id = info->peer_id[0] != '\0' ? info->peer_id : NULL;
    const char *mrtd = info->mrtd[0] != '\0' ? info->mrtd : NULL;
    json_t *root, *arr, *o;
    char *text, *copy;
    size_t i;
    int bad = 0;

    root = json_object();
    arr = json_array();
    if (root == NULL || arr == NULL) {
        json_decref(root);
        json_decref(arr);
        return MT_ERR_NOMEM;
    }
    bad |= json_object_set_new(root, "version", json_integer(1));
    bad |= json_object_set_new(root, "peer_id", peer_id ? json_string(peer_id) : json_null());
    bad |= json_object_set_new(root, "mrtd", mrtd ? json_string(mrtd) : json_null());
    bad |= json_object_set_new(root, "state_full_total", json_integer(info->full_total));
    bad |= json_object_set_new(root, "groups", arr);
    for (i = 0; i < st->n && !bad; i++) {
        const struct sc_group *g = &st->g[i];

        o = json_object();
        bad |= o == NULL;
        if (bad)
            break;
        bad |= json_object_set_new(o, "group_id", json_string(g->id));
        bad |= json_object_set_new(o, "status", json_string(sc_status_name(g->status)));
        bad |= json_object_set_new(o, "assigned", json_boolean(g->assigned));
        bad |= json_object_set_new(o, "join_attempts", json_integer(g->join_attempts));
        bad |= json_object_set_new(o, "confirm_attempts", json_integer(g->confirm_attempts));
        bad |= json_object_set_new(o, "next_try_ms", json_integer(g->next_try_ms));
        bad |= json_object_set_new(o, "last_error",
                                   json_stringn_nocheck(g->last_error, strlen(g->last_error)));
        if (g->removed_ms > 0)
            bad |= json_object_set_new(o, "removed_ms", json_integer(g->removed_ms));
        bad |= json_array_append_new(arr, o);
    }
    text = bad ? NULL : json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(root);
    MT_ENSURE(text != NULL, MT_ERR_NOMEM);
    copy = mt_malloc(strlen(text) + 2);
    if (copy != NULL) {
        memcpy(copy, text, strlen(text));
        memcpy(copy + strlen(text), "\n", 2);
    }
    free(text); /* lint-allow: free (jansson's malloc) */
    MT_ENSURE(copy != NULL, MT_ERR_NOMEM);
    *out = copy;
    return MT_OK;
}

static int
state_path(const char *dir, const char *suffix, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s/%s%s", dir, SC_STATE_FILE, suffix);

    return n > 0 && (size_t)n < len;
}

mt_err
sc_state_load(const char *dir, struct sc_state *st, int *missing, char *aside, size_t aside_len)
{
    return sc_state_load_info(dir, st, NULL, missing, aside, aside_len);
}

mt_err
sc_state_load_info(const char *dir, struct sc_state *st, struct sc_state_info *info, int *missing,
                   char *aside, size_t aside_len)
{
    char path[4096];
    uint8_t *text = NULL;
    size_t len = 0;
    struct stat sb;
    mt_err e;

    memset(st, 0, sizeof(*st));
    if (info != NULL)
        memset(info, 0, sizeof(*info));
    *missing = 0;
    if (aside_len > 0)
        aside[0] = '\0';
    MT_ENSURE(state_path(dir, "", path, sizeof(path)), MT_ERR_ARG);
    if (stat(path, &sb) != 0) {
        if (errno == ENOENT) {
            *missing = 1;
            return MT_OK;
        }
        return MT_ERR_IO;
    }
    /* A directory, FIFO, socket or device is not ours to replace (and a FIFO would block). */
    MT_ENSURE(S_ISREG(sb.st_mode), MT_ERR_IO);
    e = mt_file_read(path, SC_MAX_STATE_FILE, &text, &len);
    if (e == MT_OK)
        e = sc_state_parse_info((const char *)text, len, st, info);
    else if (e == MT_ERR_TOO_LARGE ||
             (e == MT_ERR_IO && stat(path, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size == 0))
        e = MT_ERR_SIDECAR_STATE_CORRUPT;
    mt_free(text);
    if (e != MT_ERR_SIDECAR_STATE_CORRUPT)
        return e;
    /* Keep the bad file for a human; a fresh name each time, never overwriting. */
    if (sc_state_move_aside(dir, "corrupt", aside, aside_len) != MT_OK) {
        /* aside says why; the caller logs it and the next save replaces the file. */
    }
    return MT_ERR_SIDECAR_STATE_CORRUPT;
}

mt_err
sc_state_move_aside(const char *dir, const char *tag, char *aside, size_t aside_len)
{
    char path[4096], bad_path[4200], suffix[64];
    struct stat sb;
    int i;

    MT_ENSURE(state_path(dir, "", path, sizeof(path)), MT_ERR_ARG);
    for (i = 0; i < 100; i++) {
        if (i == 0)
            snprintf(suffix, sizeof(suffix), ".%.20s-%lld", tag, (long long)time(NULL));
        else
            snprintf(suffix, sizeof(suffix), ".%.20s-%lld.%d", tag, (long long)time(NULL), i);
        MT_ENSURE(state_path(dir, suffix, bad_path, sizeof(bad_path)), MT_ERR_ARG);
        if (lstat(bad_path, &sb) != 0 && errno == ENOENT)
            break;
    }
    if (i < 100 && rename(path, bad_path) == 0) {
        if (aside_len > 0)
            snprintf(aside, aside_len, "%s", bad_path);
        return MT_OK;
    }
    if (aside_len > 0)
        snprintf(aside, aside_len, "(could not move aside: %s)",
                 i < 100 ? strerror(errno) : "no free name");
    return MT_ERR_IO;
}

mt_err
sc_state_save(const char *dir, const struct sc_state *st, const char *peer_id, const char *mrtd)
{
    char path[4096], *text = NULL;
    mt_err e;

    MT_ENSURE(state_path(dir, "", path, sizeof(path)), MT_ERR_ARG);
    MT_GUARD(sc_state_serialize(st, peer_id, mrtd, &text));
    e = mt_file_write_atomic(path, text, strlen(text), 0600);
    mt_free(text);
    return e;
}

mt_err
sc_state_save_info(const char *dir, const struct sc_state *st, const struct sc_state_info *info)
{
    char path[4096], *text = NULL;
    mt_err e;

    MT_ENSURE(state_path(dir, "", path, sizeof(path)), MT_ERR_ARG);
    MT_GUARD(sc_state_serialize_info(st, info, &text));
    e = mt_file_write_atomic(path, text, strlen(text), 0600);
    mt_free(text);
    return e;
}
