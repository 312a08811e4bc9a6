#include "verifier/verifier.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "measure/eventlog.h"
#include "util/mt_limits.h"
#include "release/release.h"
#include "util/mt_alloc.h"
#include "util/mt_b64.h"
#include "util/mt_hex.h"
#include "util/mt_json.h"

/*
 * The body of POST /api/verify (docs/verifier.md "Request"): a JSON object
 * with exactly one of kmsUrl, nodeUrl, quoteB64; eventLog and nonceHex only
 * with quoteB64; optional releaseTag and profile.  Unknown members are
 * refused so a typo is not silently ignored.
 */

__attribute__((format(printf, 3, 4))) static mt_err
refuse(char *why, size_t why_len, const char *fmt, ...)
{
    va_list ap;

    if (why != NULL && why_len > 0) {
        va_start(ap, fmt);
        vsnprintf(why, why_len, fmt, ap);
        va_end(ap);
    }
    return MT_ERR_VERIFIER_BAD_REQUEST;
}

static const char *const known[] = {"kmsUrl",   "nodeUrl",    "quoteB64", "eventLog",
                                    "nonceHex", "releaseTag", "profile"};

/* A string member of at most max bytes, or NULL when absent; non-strings refused. */
static mt_err
opt_str(const json_t *o, const char *key, size_t max, const char **out, size_t *len, char *why,
        size_t why_len)
{
    const json_t *v = json_object_get(o, key);

    *out = NULL;
    *len = 0;
    if (v == NULL)
        return MT_OK;
    if (!json_is_string(v))
        return refuse(why, why_len, "%s: want a string", key);
    *len = json_string_length(v);
    if (*len == 0)
        return refuse(why, why_len, "%s: empty", key);
    if (*len > max)
        return refuse(why, why_len, "%s: too long", key);
    *out = json_string_value(v);
    if (strlen(*out) != *len)
        return refuse(why, why_len, "%s: contains NUL", key);
    return MT_OK;
}

static mt_err
parse_url(const char *s, size_t n, const char *key, struct mtv_request *r, char *why,
          size_t why_len)
{
    size_t i;

    for (i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f)
            return refuse(why, why_len, "%s: whitespace or control character", key);
    if (strncmp(s, "https://", 8) != 0 && strncmp(s, "http://", 7) != 0)
        return refuse(why, why_len, "%s: want an http(s) URL", key);
    memcpy(r->url, s, n);
    r->url[n] = '\0';
    /* The verifier appends the route: drop trailing slashes. */
    while (n > 0 && r->url[n - 1] == '/')
        r->url[--n] = '\0';
    return MT_OK;
}

static mt_err
parse_obj(const json_t *o, struct mtv_request *r, char *why, size_t why_len)
{
    const char *key, *s, *kms, *node, *q;
    size_t n, kn, nn, qn, i, sources;
    json_t *v, *ev;
    char *text, *dumped;
    mt_err e;

    if (!json_is_object(o))
        return refuse(why, why_len, "%s", "the body must be a JSON object");
    json_object_foreach((json_t *)o, key, v)
    {
        for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
            if (strcmp(key, known[i]) == 0)
                break;
        if (i == sizeof(known) / sizeof(known[0]))
            return refuse(why, why_len, "unknown member \"%.64s\"", key);
    }
    MT_GUARD(opt_str(o, "kmsUrl", MTV_MAX_URL, &kms, &kn, why, why_len));
    MT_GUARD(opt_str(o, "nodeUrl", MTV_MAX_URL, &node, &nn, why, why_len));
    MT_GUARD(opt_str(o, "quoteB64", MTV_MAX_QUOTE * 4 / 3 + 8, &q, &qn, why, why_len));
    sources = (kms != NULL) + (node != NULL) + (q != NULL);
    if (sources != 1)
        return refuse(why, why_len, "%s", "want exactly one of kmsUrl, nodeUrl, quoteB64");
    if (q == NULL &&
        (json_object_get(o, "eventLog") != NULL || json_object_get(o, "nonceHex") != NULL))
        return refuse(why, why_len, "%s", "eventLog and nonceHex go with quoteB64 only");
    if (kms != NULL) {
        r->kind = MTV_KMS;
        MT_GUARD(parse_url(kms, kn, "kmsUrl", r, why, why_len));
    } else if (node != NULL) {
        r->kind = MTV_NODE;
        MT_GUARD(parse_url(node, nn, "nodeUrl", r, why, why_len));
    } else {
        r->kind = MTV_PASTE;
        e = mt_b64_decode_alloc(q, qn, MTV_MAX_QUOTE, &r->quote, &r->quote_len);
        if (e == MT_ERR_NOMEM)
            return e;
        if (e != MT_OK || r->quote_len == 0)
            return refuse(why, why_len, "%s: not base64 of at most 64 KiB", "quoteB64");
        ev = json_object_get(o, "eventLog");
        if (ev != NULL) {
            text = NULL;
            if (json_is_string(ev)) {
                text = mt_strndup(json_string_value(ev), json_string_length(ev));
            } else if (json_is_array(ev)) {
                dumped = json_dumps(ev, JSON_COMPACT);
                MT_ENSURE(dumped != NULL, MT_ERR_NOMEM);
                text = mt_strdup(dumped);
                free(dumped); /* lint-allow: free (jansson's malloc) */
            } else {
                return refuse(why, why_len, "%s: want an array or a JSON string", "eventLog");
            }
            MT_ENSURE(text != NULL, MT_ERR_NOMEM);
            r->eventlog = text;
            r->eventlog_len = strlen(text);
            if (r->eventlog_len > MT_MAX_EVENTLOG_JSON)
                return refuse(why, why_len, "%s: too large", "eventLog");
        }
        MT_GUARD(opt_str(o, "nonceHex", 128, &s, &n, why, why_len));
        if (s != NULL) {
            if ((n != 64 && n != 128) || mt_hex_decode_exact(s, n, r->nonce, n / 2) != MT_OK)
                return refuse(why, why_len, "%s: want 64 or 128 hex digits", "nonceHex");
            r->nonce_len = n / 2;
        }
    }
    MT_GUARD(opt_str(o, "releaseTag", sizeof(r->release_tag) - 1, &s, &n, why, why_len));
    if (s != NULL) {
        if ((strncmp(s, "mero-kms-v", 10) != 0 && strncmp(s, "mero-tee-v", 10) != 0) ||
            mt_rel_version_check(s + 10) != MT_OK)
            return refuse(why, why_len, "%s: want mero-kms-vX.Y.Z or mero-tee-vX.Y.Z",
                          "releaseTag");
        memcpy(r->release_tag, s, n + 1);
    }
    MT_GUARD(opt_str(o, "profile", sizeof(r->profile) - 1, &s, &n, why, why_len));
    if (s != NULL) {
        if (mt_rel_profile_index(s) < 0)
            return refuse(why, why_len, "%s: want debug, debug-read-only or locked-read-only",
                          "profile");
        memcpy(r->profile, s, n + 1);
    }
    return MT_OK;
}

mt_err
mtv_request_parse(const char *body, size_t len, struct mtv_request *out, char *why, size_t why_len)
{
    json_t *o = NULL;
    mt_err e;

    MT_ENSURE(out != NULL && (body != NULL || len == 0), MT_ERR_ARG);
    memset(out, 0, sizeof(*out));
    if (why != NULL && why_len > 0)
        why[0] = '\0';
    if (len > MTV_MAX_BODY)
        return refuse(why, why_len, "%s", "body too large");
    e = mt_json_parse(body, len, MTV_MAX_BODY, &o);
    if (e == MT_ERR_NOMEM)
        return e;
    if (e != MT_OK)
        return refuse(why, why_len, "%s", "the body is not valid JSON");
    e = parse_obj(o, out, why, why_len);
    json_decref(o);
    if (e != MT_OK)
        mtv_request_free(out);
    return e;
}

void
mtv_request_free(struct mtv_request *r)
{
    if (r == NULL)
        return;
    mt_free(r->quote);
    mt_free(r->eventlog);
    r->quote = NULL;
    r->eventlog = NULL;
}
