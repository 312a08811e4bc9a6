#include "sidecar/sidecar.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "util/mt_alloc.h"

/*
 * The configuration file (docs/fleet-sidecar.md "Configuration"), parsed
 * strictly in the manner of src/kms/kms_config.c: every problem is fatal
 * and names its line and key.
 */

void
sc_secret_free(char *s)
{
    if (s == NULL)
        return;
    OPENSSL_cleanse(s, strlen(s));
    mt_free(s);
}

mt_err
sc_read_private_file(const char *path, size_t max, char **out, size_t *out_len, char *why,
                     size_t why_len)
{
    struct stat st;
    char *b = NULL;
    size_t got = 0;
    ssize_t r;
    mt_err e = MT_OK;
    int fd;

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
    if (fd < 0) {
        (void)mt_errf(MT_ERR_CONFIG, why, why_len, "%s: cannot open: %s", path, strerror(errno));
        return MT_ERR_IO;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        (void)mt_errf(MT_ERR_CONFIG, why, why_len, "%s: not a regular file", path);
        e = MT_ERR_SIDECAR_FILE_PERMS;
        goto out;
    }
    if (st.st_uid != 0 && st.st_uid != geteuid()) {
        (void)mt_errf(MT_ERR_CONFIG, why, why_len,
                      "%s: owned by uid %u, not root or the running user", path,
                      (unsigned)st.st_uid);
        e = MT_ERR_SIDECAR_FILE_PERMS;
        goto out;
    }
    if ((st.st_mode & 077) != 0) {
        (void)mt_errf(MT_ERR_CONFIG, why, why_len,
                      "%s: mode %04o gives group or others access (chmod 600)", path,
                      (unsigned)(st.st_mode & 07777));
        e = MT_ERR_SIDECAR_FILE_PERMS;
        goto out;
    }
    if ((uint64_t)st.st_size > max) {
        (void)mt_errf(MT_ERR_CONFIG, why, why_len, "%s: larger than %zu bytes", path, max);
        e = MT_ERR_TOO_LARGE;
        goto out;
    }
    b = mt_malloc(max + 1);
    MT_ENSURE_GOTO(b != NULL, MT_ERR_NOMEM, e, out);
    for (;;) {
        r = read(fd, b + got, max + 1 - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            (void)mt_errf(MT_ERR_CONFIG, why, why_len, "%s: read: %s", path, strerror(errno));
            e = MT_ERR_IO;
            goto out;
        }
        if (r == 0)
            break;
        got += (size_t)r;
        if (got > max) {
            (void)mt_errf(MT_ERR_CONFIG, why, why_len, "%s: larger than %zu bytes", path, max);
            e = MT_ERR_TOO_LARGE;
            goto out;
        }
    }
    b[got] = '\0';
    *out = b;
    *out_len = got;
    b = NULL;
out:
    if (b != NULL) {
        OPENSSL_cleanse(b, max + 1);
        mt_free(b);
    }
    close(fd);
    return e;
}

mt_err
sc_token_load(const char *path, char **token, char *why, size_t why_len)
{
    char *t = NULL;
    size_t n = 0, i;
    mt_err e;

    e = sc_read_private_file(path, SC_MAX_TOKEN + 2, &t, &n, why, why_len);
    if (e != MT_OK)
        return e;
    if (n > 0 && t[n - 1] == '\n')
        t[--n] = '\0';
    if (n > 0 && t[n - 1] == '\r')
        t[--n] = '\0';
    if (n == 0 || n > SC_MAX_TOKEN) {
        sc_secret_free(t);
        return mt_errf(MT_ERR_CONFIG, why, why_len,
                       "%s: the token must be one line of 1..%u characters", path, SC_MAX_TOKEN);
    }
    for (i = 0; i < n; i++) {
        if (t[i] < 0x21 || t[i] > 0x7e || t[i] == '"' || t[i] == '\\') {
            sc_secret_free(t);
            return mt_errf(MT_ERR_CONFIG, why, why_len,
                           "%s: the token may hold only printable ASCII without spaces, '\"' "
                           "or '\\' (byte %zu)",
                           path, i + 1);
        }
    }
    *token = t;
    return MT_OK;
}

/* ---- values ---- */

static int
is_abs_path(const char *v)
{
    return v[0] == '/';
}

/* scheme://host[:port][/path] without spaces, query, fragment or userinfo. */
static int
url_ok(const char *v, int https_only)
{
    const char *rest, *p;

    if (strncmp(v, "https://", 8) == 0)
        rest = v + 8;
    else if (!https_only && strncmp(v, "http://", 7) == 0)
        rest = v + 7;
    else
        return 0;
    if (*rest == '\0' || *rest == '/')
        return 0;
    for (p = v; *p != '\0'; p++) {
        if (*p <= 0x20 || *p >= 0x7f || *p == '?' || *p == '#' || *p == '@' || *p == '\\')
            return 0;
    }
    return 1;
}

static mt_err
parse_ms(const char *key, const char *v, long min, long max, long *out, unsigned line, char *why,
         size_t why_len)
{
    char *end;
    long x;

    errno = 0;
    if (v[0] < '0' || v[0] > '9')
        return mt_errf(MT_ERR_CONFIG, why, why_len, "line %u: %s: not a number: %s", line, key, v);
    x = strtol(v, &end, 10);
    if (errno != 0 || *end != '\0' || x < min || x > max)
        return mt_errf(MT_ERR_CONFIG, why, why_len, "line %u: %s: must be an integer in %ld..%ld",
                       line, key, min, max);
    *out = x;
    return MT_OK;
}

enum kind { K_STR, K_URL_HTTPS, K_URL, K_PATH, K_NAME, K_APIPATH, K_SOURCE, K_MS, K_BOOL };

struct key_def {
    const char *name;
    enum kind kind;
    size_t str_off; /* offsetof the char * or long or int */
    long min, max;
    int required;
};

#define STR(f) offsetof(struct sc_config, f)
static const struct key_def KEYS[] = {
    {"mdma_url", K_URL_HTTPS, STR(mdma_url), 0, 0, 1},
    {"token_file", K_PATH, STR(token_file), 0, 0, 1},
    {"ca_file", K_PATH, STR(ca_file), 0, 0, 0},
    {"meroctl", K_PATH, STR(meroctl), 0, 0, 0},
    {"meroctl_home", K_PATH, STR(meroctl_home), 0, 0, 0},
    {"meroctl_node", K_NAME, STR(meroctl_node), 0, 0, 0},
    {"merod_admin_url", K_URL, STR(merod_admin_url), 0, 0, 0},
    {"peer_id_path", K_APIPATH, STR(peer_id_path), 0, 0, 0},
    {"mrtd_source", K_SOURCE, STR(mrtd_source), 0, 0, 0},
    {"state_dir", K_PATH, STR(state_dir), 0, 0, 0},
    {"poll_interval_ms", K_MS, STR(poll_interval_ms), 10, 86400000, 0},
    {"http_timeout_ms", K_MS, STR(http_timeout_ms), 10, 600000, 0},
    {"join_timeout_ms", K_MS, STR(join_timeout_ms), 10, 3600000, 0},
    {"backoff_initial_ms", K_MS, STR(backoff_initial_ms), 1, 86400000, 0},
    {"backoff_max_ms", K_MS, STR(backoff_max_ms), 1, 86400000, 0},
    {"ready_initial_ms", K_MS, STR(ready_initial_ms), 1, 3600000, 0},
    {"ready_max_ms", K_MS, STR(ready_max_ms), 1, 3600000, 0},
    {"max_response_bytes", K_MS, STR(max_response_bytes), 1024, (long)SC_MAX_RESPONSE, 0},
    {"status_port", K_MS, STR(status_port), 0, 65535, 0},
    {"leave_removed", K_BOOL, STR(leave_removed), 0, 0, 0},
};
#define NKEYS (sizeof(KEYS) / sizeof(KEYS[0]))

static int
source_ok(const char *v)
{
    if (strcmp(v, "merod") == 0 || strcmp(v, "dstack") == 0 || strcmp(v, "tsm") == 0)
        return 1;
    if (strncmp(v, "dstack:/", 8) == 0 || strncmp(v, "tsm:/", 5) == 0)
        return 1;
    return 0;
}

static int
name_ok(const char *v)
{
    const char *p;

    if (*v == '\0' || *v == '-' || strlen(v) > 128)
        return 0;
    for (p = v; *p != '\0'; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_' || *p == '.'))
            return 0;
    }
    return 1;
}

static mt_err
set_key(struct sc_config *c, const struct key_def *k, const char *v, unsigned line, char *why,
        size_t why_len)
{
    char *base = (char *)c + k->str_off;
    char **sp = (char **)(void *)base;
    size_t vl = strlen(v);

    switch (k->kind) {
    case K_MS:
        return parse_ms(k->name, v, k->min, k->max, (long *)(void *)base, line, why, why_len);
    case K_BOOL:
        if (strcmp(v, "true") == 0)
            *(int *)(void *)base = 1;
        else if (strcmp(v, "false") == 0)
            *(int *)(void *)base = 0;
        else
            return mt_errf(MT_ERR_CONFIG, why, why_len, "line %u: %s: must be true or false", line,
                           k->name);
        return MT_OK;
    case K_URL_HTTPS:
        if (!url_ok(v, 1))
            return mt_errf(MT_ERR_CONFIG, why, why_len,
                           "line %u: %s: must be an https:// URL without query, fragment or "
                           "credentials",
                           line, k->name);
        break;
    case K_URL:
        if (!url_ok(v, 0))
            return mt_errf(MT_ERR_CONFIG, why, why_len,
                           "line %u: %s: must be an http:// or https:// URL", line, k->name);
        break;
    case K_PATH:
        if (!is_abs_path(v))
            return mt_errf(MT_ERR_CONFIG, why, why_len, "line %u: %s: must be an absolute path",
                           line, k->name);
        break;
    case K_NAME:
        if (!name_ok(v))
            return mt_errf(MT_ERR_CONFIG, why, why_len,
                           "line %u: %s: must be letters, digits, '-', '_' or '.'", line, k->name);
        break;
    case K_APIPATH:
        if (v[0] != '/' || strpbrk(v, "?#\\@") != NULL)
            return mt_errf(MT_ERR_CONFIG, why, why_len,
                           "line %u: %s: must be a path starting with '/'", line, k->name);
        break;
    case K_SOURCE:
        if (!source_ok(v))
            return mt_errf(MT_ERR_CONFIG, why, why_len,
                           "line %u: %s: must be dstack, dstack:/SOCKET, tsm, tsm:/BASE or merod",
                           line, k->name);
        break;
    case K_STR:
        break;
    }
    /* Trailing slashes of URLs are dropped so that paths join with one '/'. */
    if (k->kind == K_URL || k->kind == K_URL_HTTPS) {
        while (vl > 0 && v[vl - 1] == '/')
            vl--;
    }
    mt_free(*sp);
    *sp = mt_strndup(v, vl);
    return *sp != NULL ? MT_OK : MT_ERR_NOMEM;
}

static mt_err
set_default(char **field, const char *v)
{
    if (*field != NULL)
        return MT_OK;
    *field = mt_strdup(v);
    return *field != NULL ? MT_OK : MT_ERR_NOMEM;
}

mt_err
sc_config_parse(const char *text, size_t len, struct sc_config *c, char *why, size_t why_len)
{
    unsigned char seen[NKEYS];
    const char *p = text, *end = text + len, *nl;
    char buf[SC_MAX_CONFIG_LINE + 1], *key, *val, *eq, *s;
    unsigned line = 0;
    size_t i, n;
    mt_err e = MT_OK;

    memset(c, 0, sizeof(*c));
    memset(seen, 0, sizeof(seen));
    c->poll_interval_ms = 30000;
    c->http_timeout_ms = 10000;
    c->join_timeout_ms = 120000;
    c->backoff_initial_ms = 5000;
    c->backoff_max_ms = 600000;
    c->ready_initial_ms = 1000;
    c->ready_max_ms = 60000;
    c->max_response_bytes = 65536;
    if (memchr(text, '\0', len) != NULL)
        return mt_errf(MT_ERR_CONFIG, why, why_len, "the file contains a NUL byte");
    while (p < end) {
        line++;
        nl = memchr(p, '\n', (size_t)(end - p));
        n = (size_t)((nl != NULL ? nl : end) - p);
        if (n > SC_MAX_CONFIG_LINE) {
            e = mt_errf(MT_ERR_CONFIG, why, why_len, "line %u: longer than %u bytes", line,
                        SC_MAX_CONFIG_LINE);
            goto out;
        }
        memcpy(buf, p, n);
        buf[n] = '\0';
        p += n + (nl != NULL);
        if (n > 0 && buf[n - 1] == '\r')
            buf[--n] = '\0';
        for (s = buf; *s == ' ' || *s == '\t'; s++)
            ;
        if (*s == '\0' || *s == '#')
            continue;
        eq = strchr(s, '=');
        if (eq == NULL) {
            e = mt_errf(MT_ERR_CONFIG, why, why_len, "line %u: expected key = value", line);
            goto out;
        }
        key = s;
        val = eq + 1;
        for (s = eq; s > key && (s[-1] == ' ' || s[-1] == '\t'); s--)
            ;
        *s = '\0';
        while (*val == ' ' || *val == '\t')
            val++;
        for (s = val + strlen(val); s > val && (s[-1] == ' ' || s[-1] == '\t'); s--)
            ;
        *s = '\0';
        for (s = val; *s != '\0'; s++) {
            if ((unsigned char)*s < 0x20 || *s == 0x7f) {
                e = mt_errf(MT_ERR_CONFIG, why, why_len,
                            "line %u: %s: control character in the value", line, key);
                goto out;
            }
        }
        if (*val == '\0') {
            e = mt_errf(MT_ERR_CONFIG, why, why_len, "line %u: %s: empty value", line, key);
            goto out;
        }
        if (strcmp(key, "token") == 0 || strcmp(key, "fleet_token") == 0) {
            e = mt_errf(MT_ERR_CONFIG, why, why_len,
                        "line %u: %s: the token is never written here; put it in token_file", line,
                        key);
            goto out;
        }
        for (i = 0; i < NKEYS; i++) {
            if (strcmp(KEYS[i].name, key) == 0)
                break;
        }
        if (i == NKEYS) {
            e = mt_errf(MT_ERR_CONFIG, why, why_len, "line %u: unknown key '%.64s'", line, key);
            goto out;
        }
        if (seen[i]) {
            e = mt_errf(MT_ERR_CONFIG, why, why_len, "line %u: %s: given twice", line, key);
            goto out;
        }
        seen[i] = 1;
        MT_GUARD_GOTO(set_key(c, &KEYS[i], val, line, why, why_len), e, out);
    }
    for (i = 0; i < NKEYS; i++) {
        if (KEYS[i].required && !seen[i]) {
            e = mt_errf(MT_ERR_CONFIG, why, why_len, "%s: missing (required)", KEYS[i].name);
            goto out;
        }
    }
    if (c->backoff_max_ms < c->backoff_initial_ms || c->ready_max_ms < c->ready_initial_ms) {
        e = mt_errf(MT_ERR_CONFIG, why, why_len,
                    "backoff_max_ms/ready_max_ms must not be below the initial value");
        goto out;
    }
    MT_GUARD_GOTO(set_default(&c->meroctl, "/usr/local/bin/meroctl"), e, out);
    MT_GUARD_GOTO(set_default(&c->meroctl_home, "/mnt/data/calimero"), e, out);
    MT_GUARD_GOTO(set_default(&c->meroctl_node, "default"), e, out);
    MT_GUARD_GOTO(set_default(&c->merod_admin_url, "http://127.0.0.1:2428"), e, out);
    MT_GUARD_GOTO(set_default(&c->peer_id_path, "/admin-api/peers/self"), e, out);
    MT_GUARD_GOTO(set_default(&c->mrtd_source, "dstack"), e, out);
    MT_GUARD_GOTO(set_default(&c->state_dir, "/var/lib/calimero/fleet-sidecar"), e, out);
out:
    OPENSSL_cleanse(buf, sizeof(buf));
    if (e != MT_OK)
        sc_config_free(c);
    return e;
}

mt_err
sc_config_load(const char *path, struct sc_config *c, char *why, size_t why_len)
{
    char *text = NULL;
    size_t n = 0;
    mt_err e;

    MT_GUARD(sc_read_private_file(path, SC_MAX_CONFIG_FILE, &text, &n, why, why_len));
    e = sc_config_parse(text, n, c, why, why_len);
    sc_secret_free(text);
    return e;
}

void
sc_config_free(struct sc_config *c)
{
    if (c == NULL)
        return;
    mt_free(c->mdma_url);
    mt_free(c->token_file);
    mt_free(c->ca_file);
    mt_free(c->meroctl);
    mt_free(c->meroctl_home);
    mt_free(c->meroctl_node);
    mt_free(c->merod_admin_url);
    mt_free(c->peer_id_path);
    mt_free(c->mrtd_source);
    mt_free(c->state_dir);
    memset(c, 0, sizeof(*c));
}
