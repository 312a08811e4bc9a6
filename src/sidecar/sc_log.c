#include "sidecar/sidecar.h"

#include <stdarg.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "util/mt_alloc.h"
#include "util/mt_file.h"

/*
 * JSON log lines (docs/fleet-sidecar.md "Logs"): one object per line on
 * stderr, which journald keeps.  Values are escaped by jansson, so a hostile
 * group ID or meroctl output cannot forge a line.  As a last guard the
 * token, when set, is replaced by "[redacted]" in every line, both as it is
 * and as jansson escapes it inside a string (a token with '"' or '\\' would
 * otherwise slip through; sc_token_load refuses those characters anyway).
 */

static const char *log_secret;
static char *log_secret_escaped; /* mt_malloc'd, wiped on change; NULL when equal */
static int log_fd = 2;

static void
drop_escaped(void)
{
    if (log_secret_escaped != NULL) {
        OPENSSL_cleanse(log_secret_escaped, strlen(log_secret_escaped));
        mt_free(log_secret_escaped);
        log_secret_escaped = NULL;
    }
}

void
sc_log_set_secret(const char *secret)
{
    json_t *j;
    char *text;
    size_t n;

    drop_escaped();
    log_secret = secret;
    if (secret == NULL || secret[0] == '\0')
        return;
    /* The escaped form: the JSON string jansson would write, without its quotes. */
    j = json_stringn_nocheck(secret, strlen(secret));
    text = j != NULL ? json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    json_decref(j);
    if (text == NULL)
        return;
    n = strlen(text);
    if (n >= 2 && (n - 2 != strlen(secret) || memcmp(text + 1, secret, n - 2) != 0)) {
        log_secret_escaped = mt_malloc(n - 1);
        if (log_secret_escaped != NULL) {
            memcpy(log_secret_escaped, text + 1, n - 2);
            log_secret_escaped[n - 2] = '\0';
        }
    }
    OPENSSL_cleanse(text, n);
    free(text); /* lint-allow: free (jansson's malloc) */
}

void
sc_log_set_fd(int fd)
{
    log_fd = fd;
}

static void
redact_one(char *s, const char *secret)
{
    static const char mark[] = "[redacted]";
    size_t sl, ml = sizeof(mark) - 1;
    char *hit;

    if (secret == NULL || secret[0] == '\0')
        return;
    sl = strlen(secret);
    while ((hit = strstr(s, secret)) != NULL) {
        if (sl >= ml) {
            memcpy(hit, mark, ml);
            memmove(hit + ml, hit + sl, strlen(hit + sl) + 1);
        } else {
            memset(hit, '*', sl);
        }
    }
}

static void
redact(char *s)
{
    redact_one(s, log_secret_escaped);
    redact_one(s, log_secret);
}

void
sc_log(const char *level, const char *event, ...)
{
    char ts[32];
    struct timespec now;
    struct tm tm;
    const char *k, *v;
    json_t *o;
    char *line;
    va_list ap;

    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + strlen(ts), sizeof(ts) - strlen(ts), ".%03ldZ", now.tv_nsec / 1000000L);
    o = json_object();
    if (o == NULL)
        return;
    (void)json_object_set_new(o, "ts", json_string(ts));
    (void)json_object_set_new(o, "level", json_string(level));
    (void)json_object_set_new(o, "event", json_string(event));
    va_start(ap, event);
    while ((k = va_arg(ap, const char *)) != NULL) {
        v = va_arg(ap, const char *);
        (void)json_object_set_new(o, k,
                                  v != NULL ? json_stringn_nocheck(v, strlen(v)) : json_null());
    }
    va_end(ap);
    line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (line == NULL)
        return;
    redact(line);
    (void)(mt_file_write_all(log_fd, line, strlen(line)) == MT_OK &&
           mt_file_write_all(log_fd, "\n", 1) == MT_OK);
    free(line); /* lint-allow: free (jansson's malloc) */
}
