#include "dstack/dstack_client.h"

#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "util/mt_alloc.h"
#include "util/mt_hex.h"
#include "util/mt_json.h"
#include "util/mt_limits.h"

/* The agent ignores Host; "dstack" is what the Rust SDK that mero-kms uses sends. */
#define DSTACK_URL_PREFIX "http://dstack/"
/* Longest method name we call, for the URL buffer. */
#define DSTACK_MAX_METHOD 16u
/* First allocation of a response body; GetKey and EmitEvent answers fit. */
#define DSTACK_BODY_INITIAL 1024u

struct mt_dstack_client {
    CURL *curl;
    struct curl_slist *headers;
    char socket_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    char curl_err[CURL_ERROR_SIZE];
    char last_error[MT_DSTACK_MAX_ERROR + 1];
};

/*
 * A response body.  Not an mt_buf: that one grows with realloc, which
 * leaves the old block (possibly holding a hex key) unwiped in the heap.
 * This one copies, wipes the old block, then frees it, and is always wiped
 * when freed.
 */
struct body {
    uint8_t *p; /* NUL-terminated when not NULL */
    size_t len;
    size_t cap; /* excluding the NUL */
    mt_err cb_err;
};

static void
body_free(struct body *b)
{
    if (b->p != NULL) {
        OPENSSL_cleanse(b->p, b->cap + 1);
        mt_free(b->p);
    }
    memset(b, 0, sizeof(*b));
}

static mt_err
body_append(struct body *b, const char *data, size_t n)
{
    size_t cap;
    uint8_t *np;

    MT_ENSURE(n <= MT_MAX_DSTACK_RESPONSE && b->len <= MT_MAX_DSTACK_RESPONSE - n,
              MT_ERR_TOO_LARGE);
    if (b->p == NULL || b->len + n > b->cap) {
        cap = b->cap < DSTACK_BODY_INITIAL ? DSTACK_BODY_INITIAL : b->cap;
        while (cap < b->len + n)
            cap = cap > MT_MAX_DSTACK_RESPONSE / 2 ? MT_MAX_DSTACK_RESPONSE : cap * 2;
        np = mt_malloc(cap + 1);
        MT_ENSURE(np != NULL, MT_ERR_NOMEM);
        if (b->p != NULL) {
            memcpy(np, b->p, b->len);
            OPENSSL_cleanse(b->p, b->cap + 1);
            mt_free(b->p);
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
    return MT_OK;
}

static size_t
on_body(char *p, size_t size, size_t nmemb, void *ud)
{
    struct body *b = ud;
    size_t n = size * nmemb;
    mt_err e;

    if (n == 0)
        return 0;
    e = body_append(b, p, n);
    if (e != MT_OK) {
        /* A short count makes libcurl abort the transfer with CURLE_WRITE_ERROR. */
        b->cb_err = e;
        return 0;
    }
    return n;
}

/* Record a detail for mt_dstack_last_error, with control characters made harmless for logs. */
static void
set_error(struct mt_dstack_client *c, const char *msg, size_t len)
{
    size_t i;
    unsigned char ch;

    if (len > MT_DSTACK_MAX_ERROR)
        len = MT_DSTACK_MAX_ERROR;
    for (i = 0; i < len; i++) {
        ch = (unsigned char)msg[i];
        c->last_error[i] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
    }
    c->last_error[len] = '\0';
}

static mt_err
fail(struct mt_dstack_client *c, mt_err e, const char *method, const char *what)
{
    char msg[MT_DSTACK_MAX_ERROR + 1];
    int n;

    n = snprintf(msg, sizeof(msg), "%s: %s", method, what);
    if (n > 0)
        set_error(c, msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1);
    return e;
}

void
mt_dstack_opts_init(struct mt_dstack_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->socket_path = MT_DSTACK_DEFAULT_SOCKET;
    o->connect_timeout_ms = MT_DSTACK_DEFAULT_CONNECT_TIMEOUT_MS;
    o->timeout_ms = MT_DSTACK_DEFAULT_TIMEOUT_MS;
}

mt_err
mt_dstack_client_new(const struct mt_dstack_opts *o, struct mt_dstack_client **out)
{
    struct mt_dstack_opts def;
    struct mt_dstack_client *c;
    const char *path;
    long cto, to;
    size_t n;
    CURL *h;
    int ok = 1;

    MT_ENSURE(out != NULL, MT_ERR_ARG);
    mt_dstack_opts_init(&def);
    if (o == NULL)
        o = &def;
    path = o->socket_path != NULL ? o->socket_path : def.socket_path;
    n = strlen(path);
    MT_ENSURE(n > 0 && n < sizeof(c->socket_path), MT_ERR_ARG);
    MT_ENSURE(o->connect_timeout_ms >= 0 && o->timeout_ms >= 0, MT_ERR_ARG);
    cto = o->connect_timeout_ms > 0 ? o->connect_timeout_ms : def.connect_timeout_ms;
    to = o->timeout_ms > 0 ? o->timeout_ms : def.timeout_ms;

    c = mt_calloc(1, sizeof(*c));
    MT_ENSURE(c != NULL, MT_ERR_NOMEM);
    memcpy(c->socket_path, path, n + 1);
    c->curl = h = curl_easy_init();
    if (h == NULL) {
        mt_dstack_client_free(c);
        return MT_ERR_NOMEM;
    }
    c->headers = curl_slist_append(NULL, "Content-Type: application/json");
    /* No "Expect: 100-continue" round trip for larger bodies: the agent never needs it. */
    if (c->headers != NULL)
        c->headers = curl_slist_append(c->headers, "Expect:");
    if (c->headers == NULL) {
        mt_dstack_client_free(c);
        return MT_ERR_NOMEM;
    }
    /* Signals are unsafe in threaded programs (the KMS); timeouts do not need them here. */
    ok &= curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) == CURLE_OK;
    ok &= curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, c->socket_path) == CURLE_OK;
    ok &= curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, cto) == CURLE_OK;
    ok &= curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, to) == CURLE_OK;
    ok &= curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http") == CURLE_OK;
    /* The agent never redirects; following one could leave the socket. */
    ok &= curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK;
    /* http_proxy in the environment must not divert requests meant for the local socket. */
    ok &= curl_easy_setopt(h, CURLOPT_PROXY, "") == CURLE_OK;
    ok &= curl_easy_setopt(h, CURLOPT_NOPROXY, "*") == CURLE_OK;
    /* Refuse early when Content-Length announces too much; on_body catches the rest. */
    ok &= curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)MT_MAX_DSTACK_RESPONSE) ==
          CURLE_OK;
    ok &= curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body) == CURLE_OK;
    ok &= curl_easy_setopt(h, CURLOPT_HTTPHEADER, c->headers) == CURLE_OK;
    ok &= curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->curl_err) == CURLE_OK;
    ok &= curl_easy_setopt(h, CURLOPT_USERAGENT, "mero-tee") == CURLE_OK;
    ok &= curl_easy_setopt(h, CURLOPT_POST, 1L) == CURLE_OK;
    if (!ok) {
        mt_dstack_client_free(c);
        return MT_ERR_INTERNAL;
    }
    *out = c;
    return MT_OK;
}

void
mt_dstack_client_free(struct mt_dstack_client *c)
{
    if (c == NULL)
        return;
    if (c->curl != NULL)
        curl_easy_cleanup(c->curl);
    curl_slist_free_all(c->headers);
    mt_free(c);
}

const char *
mt_dstack_last_error(const struct mt_dstack_client *c)
{
    return c != NULL ? c->last_error : "";
}

static mt_err
curl_to_err(CURLcode rc)
{
    switch (rc) {
    case CURLE_FILESIZE_EXCEEDED:
        return MT_ERR_TOO_LARGE;
    case CURLE_OUT_OF_MEMORY:
        return MT_ERR_NOMEM;
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_BAD_CONTENT_ENCODING:
        /* Something answered, but not in HTTP the agent would speak. */
        return MT_ERR_DSTACK_RESPONSE;
    default:
        /* No socket, refused, reset, timed out, closed early: the agent is not there for us. */
        return MT_ERR_DSTACK_UNAVAILABLE;
    }
}

/* Keep the "error" string of a refusal, or say which status came without one. */
static mt_err
rejected(struct mt_dstack_client *c, const char *method, long status, const struct body *b)
{
    json_t *j = NULL;
    const char *msg;
    size_t len;
    char what[64];

    if (b->p != NULL &&
        mt_json_parse((const char *)b->p, b->len, MT_MAX_DSTACK_RESPONSE, &j) == MT_OK &&
        json_is_object(j) && mt_json_get_str(j, "error", &msg, &len) == MT_OK) {
        set_error(c, msg, len);
    } else {
        snprintf(what, sizeof(what), "HTTP status %ld", status);
        (void)fail(c, MT_ERR_DSTACK_REJECTED, method, what);
    }
    json_decref(j);
    return MT_ERR_DSTACK_REJECTED;
}

/*
 * POST the JSON text req to /<method>; MT_OK only for status 200, with the
 * body in *b (which the caller frees with body_free in every case).
 */
static mt_err
call(struct mt_dstack_client *c, const char *method, const char *req, size_t req_len,
     struct body *b)
{
    char url[sizeof(DSTACK_URL_PREFIX) + DSTACK_MAX_METHOD];
    CURLcode rc;
    long status = 0;
    mt_err e;
    int ok = 1;

    memset(b, 0, sizeof(*b));
    c->curl_err[0] = '\0';
    snprintf(url, sizeof(url), "%s%s", DSTACK_URL_PREFIX, method);
    ok &= curl_easy_setopt(c->curl, CURLOPT_URL, url) == CURLE_OK;
    ok &= curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, req) == CURLE_OK;
    ok &= curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req_len) == CURLE_OK;
    ok &= curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, b) == CURLE_OK;
    if (!ok)
        return fail(c, MT_ERR_INTERNAL, method, "cannot configure the request");
    rc = curl_easy_perform(c->curl);
    /* The request text must not be reachable from the handle after this call. */
    (void)curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, NULL);
    (void)curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, NULL);
    if (rc != CURLE_OK) {
        /* Our own callback knows better than CURLE_WRITE_ERROR why it stopped. */
        e = b->cb_err != MT_OK ? b->cb_err : curl_to_err(rc);
        if (e == MT_ERR_TOO_LARGE)
            return fail(c, e, method, "response over the size limit");
        return fail(c, e, method, c->curl_err[0] != '\0' ? c->curl_err : curl_easy_strerror(rc));
    }
    if (curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK)
        return fail(c, MT_ERR_INTERNAL, method, "no response code");
    if (status != 200)
        return rejected(c, method, status, b);
    return MT_OK;
}

/* Strict UTF-8 (no overlongs, surrogates or values past U+10FFFF), as serde requires. */
static int
utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, k, more;
    uint32_t cp;

    while (i < n) {
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        if ((p[i] & 0xe0) == 0xc0) {
            more = 1;
            cp = p[i] & 0x1fu;
        } else if ((p[i] & 0xf0) == 0xe0) {
            more = 2;
            cp = p[i] & 0x0fu;
        } else if ((p[i] & 0xf8) == 0xf0) {
            more = 3;
            cp = p[i] & 0x07u;
        } else {
            return 0;
        }
        if (n - i <= more)
            return 0;
        for (k = 1; k <= more; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return 0;
            cp = cp << 6 | (p[i + k] & 0x3fu);
        }
        if ((more == 1 && cp < 0x80) || (more == 2 && cp < 0x800) || (more == 3 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += more + 1;
    }
    return 1;
}

/* Add a string member; the text must be UTF-8 (checked by the caller). */
static mt_err
req_set_str(json_t *o, const char *key, const char *s)
{
    return mt_json_set_new(o, key, json_string_nocheck(s));
}

/* Compact JSON text of o into *out (free with mt_free_libc). */
static mt_err
req_dump(const json_t *o, char **out, size_t *len)
{
    char *s = json_dumps(o, JSON_COMPACT);

    MT_ENSURE(s != NULL, MT_ERR_NOMEM);
    *out = s;
    *len = strlen(s);
    return MT_OK;
}

/* A response member that is a hex string: its digits, one leading "0x" skipped. */
static mt_err
get_hex_text(const json_t *o, const char *key, const char **hex, size_t *len)
{
    const char *s;
    size_t n;

    MT_ENSURE(mt_json_get_str(o, key, &s, &n) == MT_OK, MT_ERR_DSTACK_RESPONSE);
    if (n >= 2 && s[0] == '0' && s[1] == 'x') {
        s += 2;
        n -= 2;
    }
    *hex = s;
    *len = n;
    return MT_OK;
}

/* The body as one JSON value; MT_ERR_DSTACK_RESPONSE when it is not JSON. */
static mt_err
parse_body(struct mt_dstack_client *c, const char *method, const struct body *b, json_t **out)
{
    mt_err e;

    e = mt_json_parse(b->p != NULL ? (const char *)b->p : "", b->len, MT_MAX_DSTACK_RESPONSE, out);
    if (e == MT_ERR_NOMEM)
        return fail(c, e, method, "out of memory");
    if (e != MT_OK)
        return fail(c, MT_ERR_DSTACK_RESPONSE, method, "response is not JSON");
    return MT_OK;
}

static mt_err
bad_field(struct mt_dstack_client *c, const char *method, const char *field, const char *what)
{
    char msg[128];

    snprintf(msg, sizeof(msg), "response field %s %s", field, what);
    return fail(c, MT_ERR_DSTACK_RESPONSE, method, msg);
}

void
mt_dstack_quote_free(struct mt_dstack_quote *q)
{
    if (q == NULL)
        return;
    mt_free(q->quote);
    mt_free(q->event_log);
    mt_free(q->vm_config);
    memset(q, 0, sizeof(*q));
}

/* GetQuote's response members into q (owned by the caller even on failure). */
static mt_err
quote_from_json(struct mt_dstack_client *c, const json_t *j, const uint8_t want_rd[64],
                struct mt_dstack_quote *q)
{
    static const char m[] = "GetQuote";
    const char *hex, *text;
    size_t hex_len, text_len;
    json_t *log = NULL;
    mt_err e;

    MT_ENSURE(json_is_object(j), fail(c, MT_ERR_DSTACK_RESPONSE, m, "response is not an object"));

    if (get_hex_text(j, "quote", &hex, &hex_len) != MT_OK)
        return bad_field(c, m, "quote", "is missing or not a string");
    e = mt_hex_decode_alloc(hex, hex_len, MT_MAX_QUOTE_SIZE, &q->quote, &q->quote_len);
    if (e == MT_ERR_NOMEM)
        return fail(c, e, m, "out of memory");
    if (e == MT_ERR_TOO_LARGE)
        return bad_field(c, m, "quote", "is larger than a quote can be");
    if (e != MT_OK)
        return bad_field(c, m, "quote", "is not hex");
    if (q->quote_len < MT_DSTACK_MIN_QUOTE)
        return bad_field(c, m, "quote", "is shorter than a TDX quote");

    if (get_hex_text(j, "report_data", &hex, &hex_len) != MT_OK)
        return bad_field(c, m, "report_data", "is missing or not a string");
    if (mt_hex_decode_exact(hex, hex_len, q->report_data, sizeof(q->report_data)) != MT_OK)
        return bad_field(c, m, "report_data", "is not 64 bytes of hex");
    if (memcmp(q->report_data, want_rd, sizeof(q->report_data)) != 0)
        return bad_field(c, m, "report_data", "differs from the padded request");

    /* mero-kms parses it as JSON too; an agent always sends an array (dstack.md 3.3). */
    if (mt_json_get_str(j, "event_log", &text, &text_len) != MT_OK)
        return bad_field(c, m, "event_log", "is missing or not a string");
    e = mt_json_parse(text, text_len, MT_MAX_EVENTLOG_JSON, &log);
    if (e == MT_OK && (!json_is_array(log) || json_array_size(log) > MT_MAX_EVENTS))
        e = MT_ERR_JSON;
    json_decref(log);
    if (e == MT_ERR_NOMEM)
        return fail(c, e, m, "out of memory");
    if (e != MT_OK)
        return bad_field(c, m, "event_log", "is not the text of a JSON array");
    q->event_log = mt_strndup(text, text_len);
    MT_ENSURE(q->event_log != NULL, fail(c, MT_ERR_NOMEM, m, "out of memory"));

    if (mt_json_get_str(j, "vm_config", &text, &text_len) != MT_OK)
        return bad_field(c, m, "vm_config", "is missing or not a string");
    q->vm_config = mt_strndup(text, text_len);
    MT_ENSURE(q->vm_config != NULL, fail(c, MT_ERR_NOMEM, m, "out of memory"));
    return MT_OK;
}

mt_err
mt_dstack_get_quote(struct mt_dstack_client *c, const uint8_t *report_data, size_t len,
                    struct mt_dstack_quote *out)
{
    static const char m[] = "GetQuote";
    struct mt_dstack_quote q;
    uint8_t want_rd[MT_DSTACK_REPORT_DATA_LEN] = {0};
    struct body b = {0};
    json_t *req = NULL, *j = NULL;
    char *text = NULL;
    size_t text_len = 0;
    mt_err e;

    memset(&q, 0, sizeof(q));
    MT_ENSURE(c != NULL, MT_ERR_ARG);
    c->last_error[0] = '\0';
    MT_ENSURE(out != NULL && report_data != NULL, MT_ERR_ARG);
    MT_ENSURE(len >= 1 && len <= MT_DSTACK_REPORT_DATA_LEN, MT_ERR_ARG);
    memcpy(want_rd, report_data, len);

    req = json_object();
    MT_ENSURE_GOTO(req != NULL, MT_ERR_NOMEM, e, out);
    MT_GUARD_GOTO(mt_json_set_hex(req, "report_data", report_data, len), e, out);
    MT_GUARD_GOTO(req_dump(req, &text, &text_len), e, out);
    MT_GUARD_GOTO(call(c, m, text, text_len, &b), e, out);
    MT_GUARD_GOTO(parse_body(c, m, &b, &j), e, out);
    MT_GUARD_GOTO(quote_from_json(c, j, want_rd, &q), e, out);
    *out = q;
    memset(&q, 0, sizeof(q));
out:
    mt_dstack_quote_free(&q);
    json_decref(j);
    json_decref(req);
    mt_free_libc(text);
    body_free(&b);
    return e;
}

/*
 * Locating GetKey's "key" member in the raw response text, so the key can
 * go from there straight into a secret and be blanked before the JSON
 * parser copies the text into buffers nobody wipes.  The scanner follows
 * JSON's structure (strings with escapes, nesting) just far enough to find
 * the top-level members; the JSON parser still validates the whole text
 * afterwards.  Member names with escapes are refused, so a name the scanner
 * reads differently from the parser ("k\u0065y") cannot smuggle the key
 * past it; dstack writes plain names.
 */
struct scan {
    const char *t;
    size_t len;
    size_t i;
};

static void
scan_ws(struct scan *s)
{
    while (s->i < s->len &&
           (s->t[s->i] == ' ' || s->t[s->i] == '\t' || s->t[s->i] == '\n' || s->t[s->i] == '\r'))
        s->i++;
}

/* At a '"': move past the closing quote; *escaped says whether a backslash occurred. */
static int
scan_string(struct scan *s, int *escaped)
{
    *escaped = 0;
    if (s->i >= s->len || s->t[s->i] != '"')
        return 0;
    for (s->i++; s->i < s->len; s->i++) {
        if (s->t[s->i] == '\\') {
            *escaped = 1;
            s->i++;
        } else if (s->t[s->i] == '"') {
            s->i++;
            return 1;
        }
    }
    return 0;
}

/* Move past one value of any kind. */
static int
scan_value(struct scan *s)
{
    size_t depth = 0;
    int esc;

    if (s->i >= s->len)
        return 0;
    if (s->t[s->i] == '"')
        return scan_string(s, &esc);
    if (s->t[s->i] != '{' && s->t[s->i] != '[') {
        /* number, true, false, null: up to the next delimiter */
        while (s->i < s->len && strchr(",}] \t\r\n", s->t[s->i]) == NULL)
            s->i++;
        return 1;
    }
    while (s->i < s->len) {
        switch (s->t[s->i]) {
        case '"':
            if (!scan_string(s, &esc))
                return 0;
            continue;
        case '{':
        case '[':
            depth++;
            break;
        case '}':
        case ']':
            if (--depth == 0) {
                s->i++;
                return 1;
            }
            break;
        default:
            break;
        }
        s->i++;
    }
    return 0;
}

/* Offset and length of the text of the top-level string member "key"; 0 if none or unsure. */
static int
scan_find_key(const char *t, size_t len, size_t *off, size_t *vlen)
{
    struct scan s = {t, len, 0};
    size_t name, found = 0;
    int esc, is_key;

    scan_ws(&s);
    if (s.i >= len || t[s.i] != '{')
        return 0;
    s.i++;
    scan_ws(&s);
    if (s.i < len && t[s.i] == '}')
        return 0;
    for (;;) {
        scan_ws(&s);
        name = s.i;
        if (!scan_string(&s, &esc) || esc)
            return 0;
        is_key = s.i - name == 5 && memcmp(t + name, "\"key\"", 5) == 0;
        scan_ws(&s);
        if (s.i >= len || t[s.i] != ':')
            return 0;
        s.i++;
        scan_ws(&s);
        if (is_key) {
            /* Twice is ambiguous (the parser would refuse it anyway); escapes never occur in hex.
             */
            if (found || s.i >= len || t[s.i] != '"')
                return 0;
            name = s.i;
            if (!scan_string(&s, &esc) || esc)
                return 0;
            *off = name + 1;
            *vlen = s.i - name - 2;
            found = 1;
        } else if (!scan_value(&s)) {
            return 0;
        }
        scan_ws(&s);
        if (s.i < len && t[s.i] == ',') {
            s.i++;
            continue;
        }
        return found && s.i < len && t[s.i] == '}';
    }
}

/*
 * Whether the body is the JSON value null (whitespace around it allowed).
 * Not through mt_json_parse: jansson takes a bare scalar only with
 * JSON_DECODE_ANY, and this is the one place that needs it.
 */
static int
body_is_null(const struct body *b)
{
    struct scan s = {b->p != NULL ? (const char *)b->p : "", b->len, 0};

    scan_ws(&s);
    if (s.len - s.i < 4 || memcmp(s.t + s.i, "null", 4) != 0)
        return 0;
    s.i += 4;
    scan_ws(&s);
    return s.i == s.len;
}

/* Decode the key out of the text into a new secret and blank its digits in place. */
static mt_err
take_key(struct mt_dstack_client *c, struct body *b, struct mt_secret *key)
{
    static const char m[] = "GetKey";
    size_t off = 0, n = 0;
    char *hex;
    mt_err e;

    if (b->p == NULL || !scan_find_key((const char *)b->p, b->len, &off, &n))
        return fail(c, MT_ERR_DSTACK_RESPONSE, m,
                    "response is not an object with one plain string member key");
    hex = (char *)b->p + off;
    if (n >= 2 && hex[0] == '0' && hex[1] == 'x') {
        hex += 2;
        n -= 2;
    }
    if (n != 2 * MT_DSTACK_KEY_LEN)
        return bad_field(c, m, "key", "is not 32 bytes of hex");
    MT_GUARD(mt_secret_new(MT_DSTACK_KEY_LEN, key));
    e = mt_hex_decode_exact(hex, n, key->p, key->len);
    /* Digits, not NULs: the text still has to be valid JSON for the parser. */
    memset(hex, '0', n);
    if (e != MT_OK) {
        mt_secret_free(key);
        return bad_field(c, m, "key", "is not 32 bytes of hex");
    }
    return MT_OK;
}

/* Everything of a GetKey response but the key (already taken and blanked). */
static mt_err
check_key_response(struct mt_dstack_client *c, const json_t *j)
{
    static const char m[] = "GetKey";
    json_t *chain, *v;
    const char *s;
    size_t i, n;

    MT_ENSURE(json_is_object(j), fail(c, MT_ERR_DSTACK_RESPONSE, m, "response is not an object"));
    /* The blanked key must be where the scanner found it; the parser agrees or this fails. */
    if (mt_json_get_str(j, "key", &s, &n) != MT_OK || strspn(s, "0x") != n)
        return bad_field(c, m, "key", "is not where it was found");
    /* Unused here, but a mistyped chain means the agent is not what we think it is. */
    v = json_object_get(j, "signature_chain");
    if (v != NULL) {
        if (mt_json_get_array(j, "signature_chain", 16, &chain) != MT_OK)
            return bad_field(c, m, "signature_chain", "is not an array of at most 16 entries");
        for (i = 0; i < json_array_size(chain); i++) {
            v = json_array_get(chain, i);
            s = json_string_value(v);
            n = json_string_length(v);
            if (s != NULL && n >= 2 && s[0] == '0' && s[1] == 'x') {
                s += 2;
                n -= 2;
            }
            if (!json_is_string(v) || n % 2 != 0 || strspn(s, "0123456789abcdefABCDEF") != n)
                return bad_field(c, m, "signature_chain", "has an entry that is not hex");
        }
    }
    return MT_OK;
}

mt_err
mt_dstack_get_key(struct mt_dstack_client *c, const char *path, const char *purpose,
                  const char *algorithm, struct mt_secret *key)
{
    static const char m[] = "GetKey";
    struct mt_secret k = {0};
    struct body b = {0};
    json_t *req = NULL, *j = NULL;
    char *text = NULL;
    size_t text_len = 0;
    mt_err e;

    MT_ENSURE(c != NULL, MT_ERR_ARG);
    c->last_error[0] = '\0';
    MT_ENSURE(key != NULL, MT_ERR_ARG);
    if (path == NULL)
        path = "";
    if (purpose == NULL)
        purpose = "";
    if (algorithm == NULL)
        algorithm = "secp256k1";
    MT_ENSURE(strlen(path) <= MT_DSTACK_MAX_KEY_FIELD && strlen(purpose) <= MT_DSTACK_MAX_KEY_FIELD,
              MT_ERR_TOO_LARGE);
    MT_ENSURE(strlen(algorithm) <= MT_DSTACK_MAX_KEY_FIELD, MT_ERR_TOO_LARGE);
    MT_ENSURE(utf8_valid(path, strlen(path)) && utf8_valid(purpose, strlen(purpose)) &&
                  utf8_valid(algorithm, strlen(algorithm)),
              MT_ERR_ARG);

    req = json_object();
    MT_ENSURE_GOTO(req != NULL, MT_ERR_NOMEM, e, out);
    MT_GUARD_GOTO(req_set_str(req, "path", path), e, out);
    MT_GUARD_GOTO(req_set_str(req, "purpose", purpose), e, out);
    MT_GUARD_GOTO(req_set_str(req, "algorithm", algorithm), e, out);
    MT_GUARD_GOTO(req_dump(req, &text, &text_len), e, out);
    MT_GUARD_GOTO(call(c, m, text, text_len, &b), e, out);
    MT_GUARD_GOTO(take_key(c, &b, &k), e, out);
    MT_GUARD_GOTO(parse_body(c, m, &b, &j), e, out);
    MT_GUARD_GOTO(check_key_response(c, j), e, out);
    *key = k;
    memset(&k, 0, sizeof(k));
out:
    mt_secret_free(&k);
    json_decref(j);
    json_decref(req);
    mt_free_libc(text);
    body_free(&b);
    return e;
}

mt_err
mt_dstack_emit_event(struct mt_dstack_client *c, const char *event, const uint8_t *payload,
                     size_t payload_len)
{
    static const char m[] = "EmitEvent";
    struct body b = {0};
    json_t *req = NULL;
    char *text = NULL;
    size_t text_len = 0, name_len;
    mt_err e;

    MT_ENSURE(c != NULL, MT_ERR_ARG);
    c->last_error[0] = '\0';
    MT_ENSURE(event != NULL, MT_ERR_ARG);
    MT_ENSURE(payload != NULL || payload_len == 0, MT_ERR_ARG);
    name_len = strlen(event);
    /* The SDKs refuse an empty name; the agent would accept it. */
    MT_ENSURE(name_len > 0 && utf8_valid(event, name_len), MT_ERR_ARG);
    MT_ENSURE(name_len <= MT_MAX_EVENT_NAME && payload_len <= MT_MAX_EVENT_PAYLOAD,
              MT_ERR_TOO_LARGE);

    req = json_object();
    MT_ENSURE_GOTO(req != NULL, MT_ERR_NOMEM, e, out);
    MT_GUARD_GOTO(req_set_str(req, "event", event), e, out);
    MT_GUARD_GOTO(mt_json_set_hex(req, "payload", payload != NULL ? payload : (const uint8_t *)"",
                                  payload_len),
                  e, out);
    MT_GUARD_GOTO(req_dump(req, &text, &text_len), e, out);
    MT_GUARD_GOTO(call(c, m, text, text_len, &b), e, out);
    if (!body_is_null(&b))
        e = fail(c, MT_ERR_DSTACK_RESPONSE, m, "response is not null");
out:
    json_decref(req);
    mt_free_libc(text);
    body_free(&b);
    return e;
}

/* Info members: name, and whether it is required / hex. */
static const struct {
    const char *name;
    int required;
    int hex;
} info_fields[] = {
    {"app_id", 1, 1},        {"instance_id", 1, 1},
    {"compose_hash", 1, 1},  {"device_id", 1, 1},
    {"tcb_info", 1, 0},      {"app_name", 1, 0},
    {"mr_aggregated", 0, 1}, {"os_image_hash", 0, 1},
    {"app_cert", 0, 0},      {"key_provider_info", 0, 0},
    {"vm_config", 0, 0},     {"cloud_vendor", 0, 0},
    {"cloud_product", 0, 0},
};

static mt_err
check_info(struct mt_dstack_client *c, const json_t *j)
{
    static const char m[] = "Info";
    const char *s;
    size_t i, n;

    MT_ENSURE(json_is_object(j), fail(c, MT_ERR_DSTACK_RESPONSE, m, "response is not an object"));
    for (i = 0; i < sizeof(info_fields) / sizeof(info_fields[0]); i++) {
        if (!info_fields[i].required && json_object_get(j, info_fields[i].name) == NULL)
            continue;
        if (info_fields[i].hex) {
            if (get_hex_text(j, info_fields[i].name, &s, &n) != MT_OK)
                return bad_field(c, m, info_fields[i].name, "is missing or not a string");
            if (n % 2 != 0 || strspn(s, "0123456789abcdefABCDEF") != n)
                return bad_field(c, m, info_fields[i].name, "is not hex");
        } else if (mt_json_get_str(j, info_fields[i].name, &s, &n) != MT_OK) {
            return bad_field(c, m, info_fields[i].name, "is missing or not a string");
        }
    }
    return MT_OK;
}

mt_err
mt_dstack_info(struct mt_dstack_client *c, json_t **out)
{
    static const char m[] = "Info";
    static const char req[] = "{}";
    struct body b = {0};
    json_t *j = NULL;
    mt_err e;

    MT_ENSURE(c != NULL, MT_ERR_ARG);
    c->last_error[0] = '\0';
    MT_ENSURE(out != NULL, MT_ERR_ARG);
    MT_GUARD_GOTO(call(c, m, req, sizeof(req) - 1, &b), e, out);
    MT_GUARD_GOTO(parse_body(c, m, &b, &j), e, out);
    MT_GUARD_GOTO(check_info(c, j), e, out);
    *out = j;
    j = NULL;
out:
    json_decref(j);
    body_free(&b);
    return e;
}
