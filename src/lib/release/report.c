#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "release/release.h"
#include "util/mt_alloc.h"
#include "util/mt_utf8.h"

/*
 * The outcome of `release verify`: one named check per line, PASS or FAIL
 * with the reason and the error code, then a summary.
 */

#define MAX_CHECKS 4096u
#define MAX_DETAIL 1024

/*
 * A copy of s that is valid UTF-8 (what a JSON string must be; review
 * finding 6): valid sequences are kept, every other byte is written as the
 * four characters \xHH.  Names come from files and details quote them.
 */
static char *
utf8_clean(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s), i = 0, o = 0, k;
    char *out = mt_malloc(4 * n + 1);

    if (out == NULL)
        return NULL;
    while (i < n) {
        k = mt_utf8_seq(p + i);
        if (k == 0) {
            snprintf(out + o, 5, "\\x%02x", p[i]);
            o += 4;
            i++;
            continue;
        }
        memcpy(out + o, p + i, k);
        o += k;
        i += k;
    }
    out[o] = '\0';
    return out;
}

void
mt_rel_report_init(struct mt_rel_report *r)
{
    memset(r, 0, sizeof(*r));
}

void
mt_rel_report_free(struct mt_rel_report *r)
{
    size_t i;

    if (r == NULL)
        return;
    for (i = 0; i < r->n; i++) {
        mt_free(r->v[i].name);
        mt_free(r->v[i].detail);
    }
    mt_free(r->v);
    memset(r, 0, sizeof(*r));
}

mt_err
mt_rel_report_add(struct mt_rel_report *r, const char *name, mt_err err, const char *fmt, ...)
{
    char detail[MAX_DETAIL];
    struct mt_rel_check *c;
    va_list ap;

    MT_ENSURE(r->n < MAX_CHECKS, MT_ERR_TOO_LARGE);
    if (r->n == r->cap) {
        size_t cap = r->cap == 0 ? 32 : r->cap * 2;
        struct mt_rel_check *v = mt_realloc(r->v, cap * sizeof(*v));

        MT_ENSURE(v != NULL, MT_ERR_NOMEM);
        r->v = v;
        r->cap = cap;
    }
    detail[0] = '\0';
    if (err != MT_OK && fmt != NULL) {
        va_start(ap, fmt);
        vsnprintf(detail, sizeof(detail), fmt, ap);
        va_end(ap);
    }
    c = &r->v[r->n];
    c->name = utf8_clean(name);
    c->detail = utf8_clean(detail);
    c->err = err;
    if (c->name == NULL || c->detail == NULL) {
        mt_free(c->name);
        mt_free(c->detail);
        return MT_ERR_NOMEM;
    }
    r->n++;
    return MT_OK;
}

size_t
mt_rel_report_failed(const struct mt_rel_report *r)
{
    size_t i, n = 0;

    for (i = 0; i < r->n; i++)
        n += r->v[i].err != MT_OK;
    return n;
}

const struct mt_rel_check *
mt_rel_report_find(const struct mt_rel_report *r, const char *name)
{
    size_t i;

    for (i = 0; i < r->n; i++) {
        if (strcmp(r->v[i].name, name) == 0)
            return &r->v[i];
    }
    return NULL;
}

mt_err
mt_rel_report_text(const struct mt_rel_report *r, const char *title, struct mt_buf *out)
{
    char line[2048];
    size_t i, failed = mt_rel_report_failed(r);

    for (i = 0; i < r->n; i++) {
        const struct mt_rel_check *c = &r->v[i];

        if (c->err == MT_OK)
            snprintf(line, sizeof(line), "PASS %s\n", c->name);
        else
            snprintf(line, sizeof(line), "FAIL %s: %s (%s)\n", c->name,
                     c->detail[0] != '\0' ? c->detail : mt_err_message(c->err),
                     mt_err_code(c->err));
        MT_GUARD(mt_buf_append_str(out, line));
    }
    snprintf(line, sizeof(line), "%s: %s: %zu checks, %zu passed, %zu failed\n", title,
             failed == 0 && r->n > 0 ? "VERIFIED" : "NOT VERIFIED", r->n, r->n - failed, failed);
    return mt_buf_append_str(out, line);
}

json_t *
mt_rel_report_json(const struct mt_rel_report *r, const char *title)
{
    json_t *checks = json_array(), *root = NULL;
    size_t i, failed = mt_rel_report_failed(r);

    if (checks == NULL)
        return NULL;
    for (i = 0; i < r->n; i++) {
        const struct mt_rel_check *c = &r->v[i];
        json_t *o;

        if (c->err == MT_OK)
            o = json_pack("{s:s,s:b,s:n,s:s}", "name", c->name, "ok", 1, "error", "detail", "");
        else
            o = json_pack("{s:s,s:b,s:{s:s,s:s},s:s}", "name", c->name, "ok", 0, "error", "code",
                          mt_err_code(c->err), "message", mt_err_message(c->err), "detail",
                          c->detail);
        if (o == NULL || json_array_append_new(checks, o) != 0) {
            json_decref(checks);
            return NULL;
        }
    }
    root = json_pack("{s:s,s:b,s:I,s:I,s:o}", "release", title, "ok", failed == 0 && r->n > 0,
                     "passed", (json_int_t)(r->n - failed), "failed", (json_int_t)failed, "checks",
                     checks);
    return root;
}
