#include "sidecar/sidecar.h"

#include <stdarg.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "util/mt_alloc.h"
#include "util/mt_file.h"

/*
 * JSON log lines (docs/fleet-sidecar.md "Logs"): one object per line on
 * stderr, which journald keeps.  Values are escaped by jansson, so a hostile
 * group ID or meroctl output cannot forge a line.  As a last guard the
 * token, when set, is replaced by "[redacted]" in every line.
 */

static const char *log_secret;
static int log_fd = 2;

void
sc_log_set_secret(const char *secret)
{
    log_secret = secret;
}

void
sc_log_set_fd(int fd)
{
    log_fd = fd;
}

static void
redact(char *s)
{
    static const char mark[] = "[redacted]";
    size_t sl, ml = sizeof(mark) - 1;
    char *hit;

    if (log_secret == NULL || log_secret[0] == '\0')
        return;
    sl = strlen(log_secret);
    while ((hit = strstr(s, log_secret)) != NULL) {
        if (sl >= ml) {
            memcpy(hit, mark, ml);
            memmove(hit + ml, hit + sl, strlen(hit + sl) + 1);
        } else {
            memset(hit, '*', sl);
        }
    }
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
