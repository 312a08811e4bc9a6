#include "kmsclient/quote_source.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "dstack/dstack_client.h"
#include "quote/quote.h"
#include "util/mt_alloc.h"
#include "util/mt_file.h"
#include "util/mt_hex.h"
#include "util/mt_limits.h"

static void whyf(char *why, size_t why_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
whyf(char *why, size_t why_len, const char *fmt, ...)
{
    va_list ap;

    if (why == NULL || why_len == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(why, why_len, fmt, ap);
    va_end(ap);
}

mt_err
mt_quote_source_parse(const char *spec, struct mt_quote_source *src)
{
    MT_ENSURE(spec != NULL && src != NULL, MT_ERR_ARG);
    memset(src, 0, sizeof(*src));
    if (strcmp(spec, "mock") == 0) {
        src->kind = MT_QSRC_MOCK;
        return MT_OK;
    }
    if (strcmp(spec, "dstack") == 0 || strcmp(spec, "tsm") == 0) {
        src->kind = spec[0] == 'd' ? MT_QSRC_DSTACK : MT_QSRC_TSM;
        return MT_OK;
    }
    if (strncmp(spec, "dstack:", 7) == 0 && spec[7] != '\0') {
        src->kind = MT_QSRC_DSTACK;
        src->path = spec + 7;
    } else if (strncmp(spec, "tsm:", 4) == 0 && spec[4] != '\0') {
        src->kind = MT_QSRC_TSM;
        src->path = spec + 4;
    } else {
        return MT_ERR_ARG;
    }
    MT_ENSURE(strlen(src->path) <= MT_QSRC_MAX_PATH, MT_ERR_ARG);
    return MT_OK;
}

void
mt_mock_quote(const uint8_t report_data[64], uint8_t out[256])
{
    memset(out, 0, MT_MOCK_QUOTE_SIZE);
    memcpy(out, MT_MOCK_QUOTE_MAGIC, MT_MOCK_QUOTE_MAGIC_LEN);
    memcpy(out + MT_MOCK_QUOTE_MAGIC_LEN, report_data, MT_REPORT_DATA_SIZE);
}

static mt_err
from_dstack(const char *socket, const uint8_t rd[64], uint8_t **quote, size_t *len, char *why,
            size_t why_len)
{
    struct mt_dstack_opts o;
    struct mt_dstack_client *c = NULL;
    struct mt_dstack_quote q;
    mt_err e;

    mt_dstack_opts_init(&o);
    o.socket_path = socket;
    memset(&q, 0, sizeof(q));
    e = mt_dstack_client_new(&o, &c);
    if (e != MT_OK) {
        whyf(why, why_len, "dstack client: %s", mt_err_message(e));
        return e;
    }
    e = mt_dstack_get_quote(c, rd, 64, &q);
    if (e != MT_OK) {
        whyf(why, why_len, "dstack GetQuote at %s: %s%s%s",
             socket != NULL ? socket : MT_DSTACK_DEFAULT_SOCKET, mt_err_message(e),
             mt_dstack_last_error(c)[0] != '\0' ? ": " : "", mt_dstack_last_error(c));
        goto out;
    }
    *quote = q.quote;
    *len = q.quote_len;
    q.quote = NULL;
out:
    mt_dstack_quote_free(&q);
    mt_dstack_client_free(c);
    return e;
}

/* Read a whole small file (at most max bytes) into a new buffer. */
static mt_err
read_attr(const char *path, size_t max, uint8_t **out, size_t *out_len)
{
    uint8_t *buf;
    size_t got = 0;
    ssize_t r;
    int fd;

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return errno == ENOENT ? MT_ERR_ARG : MT_ERR_IO;
    buf = mt_malloc(max + 1);
    if (buf == NULL) {
        close(fd);
        return MT_ERR_NOMEM;
    }
    for (;;) {
        r = read(fd, buf + got, max + 1 - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
        if (got > max)
            break;
    }
    close(fd);
    if (r < 0 || got > max) {
        mt_free(buf);
        return r < 0 ? MT_ERR_IO : MT_ERR_TOO_LARGE;
    }
    *out = buf;
    *out_len = got;
    return MT_OK;
}

/* The generation counter as text, or "" when the entry has none. */
static mt_err
read_generation(const char *dir, char out[32])
{
    char path[MT_QSRC_MAX_PATH + 64];
    uint8_t *b = NULL;
    size_t n = 0;
    mt_err e;

    out[0] = '\0';
    snprintf(path, sizeof(path), "%s/generation", dir);
    e = read_attr(path, 31, &b, &n);
    if (e == MT_ERR_ARG)
        return MT_OK; /* absent */
    MT_GUARD(e);
    memcpy(out, b, n);
    out[n] = '\0';
    mt_free(b);
    return MT_OK;
}

static void
remove_entry(const char *dir)
{
    static const char *const attrs[] = {"inblob", "outblob", "generation", "provider"};
    char path[MT_QSRC_MAX_PATH + 64];
    size_t i;

    /* configfs removes the attributes with the directory */
    if (rmdir(dir) == 0 || errno != ENOTEMPTY)
        return;
    /* an ordinary directory (a test's fake tree) needs emptying first */
    for (i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++) {
        int n = snprintf(path, sizeof(path), "%s/%s", dir, attrs[i]);

        if (n > 0 && (size_t)n < sizeof(path))
            (void)unlink(path);
    }
    (void)rmdir(dir);
}

static mt_err
from_tsm(const struct mt_quote_source *src, const uint8_t rd[64], uint8_t **quote, size_t *len,
         char *why, size_t why_len)
{
    const char *base = src->path != NULL ? src->path : MT_TSM_DEFAULT_BASE;
    char dir[MT_QSRC_MAX_PATH + 64], path[MT_QSRC_MAX_PATH + 96], g1[32], g2[32], rnd_hex[17];
    uint8_t rnd[8], *q = NULL;
    size_t qlen = 0;
    int fd, made = 0;
    mt_err e = MT_ERR_IO;

    MT_ENSURE(strlen(base) <= MT_QSRC_MAX_PATH, MT_ERR_ARG);
    MT_ENSURE(RAND_bytes(rnd, sizeof(rnd)) == 1, MT_ERR_CRYPTO);
    mt_hex_encode(rnd, sizeof(rnd), rnd_hex);
    snprintf(dir, sizeof(dir), "%s/mero-tee-%ld-%s", base, (long)getpid(), rnd_hex);
    if (mkdir(dir, 0700) != 0) {
        whyf(why, why_len,
             "configfs-TSM: cannot create %s: %s (is this a TDX guest with "
             "configfs mounted?)",
             dir, strerror(errno));
        return MT_ERR_IO;
    }
    made = 1;
    snprintf(path, sizeof(path), "%s/inblob", dir);
    fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0 || mt_file_write_all(fd, rd, 64) != MT_OK) {
        whyf(why, why_len, "configfs-TSM: cannot write %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        goto out;
    }
    if (close(fd) != 0) {
        whyf(why, why_len, "configfs-TSM: cannot write %s: %s", path, strerror(errno));
        goto out;
    }
    e = read_generation(dir, g1);
    if (e != MT_OK) {
        whyf(why, why_len, "configfs-TSM: cannot read %s/generation", dir);
        goto out;
    }
    if (src->tsm_hook != NULL)
        src->tsm_hook(dir, src->tsm_hook_arg);
    snprintf(path, sizeof(path), "%s/outblob", dir);
    e = read_attr(path, MT_MAX_QUOTE_SIZE, &q, &qlen);
    if (e != MT_OK) {
        whyf(why, why_len, "configfs-TSM: cannot read %s: %s", path,
             e == MT_ERR_TOO_LARGE ? "quote too large" : strerror(errno));
        e = e == MT_ERR_ARG ? MT_ERR_IO : e;
        goto out;
    }
    e = read_generation(dir, g2);
    if (e != MT_OK || strcmp(g1, g2) != 0) {
        whyf(why, why_len, "configfs-TSM: %s was written concurrently (generation %s -> %s)", dir,
             g1, g2);
        e = MT_ERR_IO;
        goto out;
    }
    if (qlen == 0) {
        whyf(why, why_len, "configfs-TSM: %s is empty", path);
        e = MT_ERR_IO;
        goto out;
    }
    *quote = q;
    *len = qlen;
    q = NULL;
    e = MT_OK;
out:
    mt_free(q);
    if (made)
        remove_entry(dir);
    return e;
}

mt_err
mt_quote_source_get(const struct mt_quote_source *src, const uint8_t report_data[64],
                    uint8_t **quote, size_t *len, char *why, size_t why_len)
{
    struct mt_quote parsed;
    uint8_t *q = NULL;
    size_t qlen = 0;
    mt_err e;

    whyf(why, why_len, "%s", "");
    MT_ENSURE(src != NULL && report_data != NULL && quote != NULL && len != NULL, MT_ERR_ARG);
    switch (src->kind) {
    case MT_QSRC_MOCK:
        q = mt_malloc(MT_MOCK_QUOTE_SIZE);
        MT_ENSURE(q != NULL, MT_ERR_NOMEM);
        mt_mock_quote(report_data, q);
        qlen = MT_MOCK_QUOTE_SIZE;
        e = MT_OK;
        break;
    case MT_QSRC_DSTACK:
        e = from_dstack(src->path, report_data, &q, &qlen, why, why_len);
        break;
    case MT_QSRC_TSM:
        e = from_tsm(src, report_data, &q, &qlen, why, why_len);
        break;
    default:
        return MT_ERR_ARG;
    }
    MT_GUARD(e);
    /* The quote must bind exactly what was asked for. */
    e = mt_quote_parse(q, qlen, &parsed);
    if (e != MT_OK) {
        whyf(why, why_len, "the quote source returned an unparseable quote: %s", mt_err_message(e));
    } else if (CRYPTO_memcmp(mt_quote_report_data(&parsed), report_data, 64) != 0) {
        whyf(why, why_len, "the quote source returned a quote over other report data");
        e = MT_ERR_ATTESTATION_FAILED;
    }
    if (e != MT_OK) {
        mt_free(q);
        return e;
    }
    *quote = q;
    *len = qlen;
    return MT_OK;
}
