#include "audit/audit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "util/mt_alloc.h"
#include "util/mt_hex.h"

/*
 * Verification of an audit log (audit.h): streamed line by line in constant
 * memory, so a 64 GiB log needs no more than one line and one read chunk.
 */

/* Bytes read per read(2) while verifying. */
#define AUDIT_READ_CHUNK (64u * 1024u)

static void
set_why(char *why, size_t why_len, const char *fmt_text)
{
    if (why != NULL && why_len > 0)
        snprintf(why, why_len, "%s", fmt_text);
}

static mt_err
sha256(const void *p, size_t n, uint8_t out[32])
{
    unsigned int len = 32;

    MT_ENSURE(EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) == 1 && len == 32, MT_ERR_CRYPTO);
    return MT_OK;
}

/* State carried from one line to the next. */
struct av_state {
    size_t lines;     /* lines verified so far */
    uint8_t prev[32]; /* hash of the last verified line */
    char *why;
    size_t why_len;
};

/* Check line[0..n) (n >= 1, line[n-1] == '\n') as line number st->lines + 1. */
static mt_err
verify_line(struct av_state *st, const char *line, size_t n)
{
    json_error_t jerr;
    json_t *j = NULL, *seq, *prev;
    const char *hex;
    uint8_t want[32];
    size_t lineno = st->lines + 1;
    mt_err e;

    if (n > MT_AUDIT_MAX_LINE) {
        if (st->why != NULL && st->why_len > 0)
            snprintf(st->why, st->why_len, "line %zu is longer than %u bytes", lineno,
                     MT_AUDIT_MAX_LINE);
        return MT_ERR_AUDIT_FORMAT;
    }
    if (n == 1) {
        if (st->why != NULL && st->why_len > 0)
            snprintf(st->why, st->why_len, "line %zu is empty", lineno);
        return MT_ERR_AUDIT_FORMAT;
    }
    j = json_loadb(line, n - 1, JSON_REJECT_DUPLICATES, &jerr);
    if (j == NULL || !json_is_object(j)) {
        if (st->why != NULL && st->why_len > 0) {
            if (j == NULL)
                snprintf(st->why, st->why_len, "line %zu is not JSON: %s at column %d", lineno,
                         jerr.text, jerr.column);
            else
                snprintf(st->why, st->why_len, "line %zu is not a JSON object", lineno);
        }
        e = MT_ERR_AUDIT_FORMAT;
        goto out;
    }
    seq = json_object_get(j, "seq");
    prev = json_object_get(j, "prev");
    hex = json_string_value(prev);
    if (!json_is_integer(seq) || hex == NULL || json_string_length(prev) != 64 ||
        mt_hex_decode_exact(hex, 64, want, sizeof(want)) != MT_OK) {
        if (st->why != NULL && st->why_len > 0)
            snprintf(st->why, st->why_len,
                     "line %zu lacks an integer \"seq\" or a 64-digit hex \"prev\"", lineno);
        e = MT_ERR_AUDIT_FORMAT;
        goto out;
    }
    if (json_integer_value(seq) != (json_int_t)lineno) {
        if (st->why != NULL && st->why_len > 0)
            snprintf(st->why, st->why_len,
                     "line %zu has seq %" JSON_INTEGER_FORMAT
                     ", expected %zu: a line was removed, inserted or moved here",
                     lineno, json_integer_value(seq), lineno);
        e = MT_ERR_AUDIT_CHAIN;
        goto out;
    }
    if (memcmp(want, st->prev, 32) != 0) {
        if (st->why != NULL && st->why_len > 0) {
            if (lineno == 1)
                snprintf(st->why, st->why_len, "line 1 has a prev other than 64 zeros");
            else
                snprintf(st->why, st->why_len,
                         "line %zu's prev is not the hash of line %zu: line %zu was altered, "
                         "or lines were replaced",
                         lineno, lineno - 1, lineno - 1);
        }
        e = MT_ERR_AUDIT_CHAIN;
        goto out;
    }
    MT_GUARD_GOTO(sha256(line, n, st->prev), e, out);
    st->lines = lineno;
    e = MT_OK;
out:
    json_decref(j);
    return e;
}

mt_err
mt_audit_verify_fd(int fd, size_t *lines, uint8_t last_hash[32], size_t *bad_line, char *why,
                   size_t why_len)
{
    struct av_state st;
    struct stat sb;
    uint8_t *buf = NULL;
    size_t len = 0, start, i, cap = MT_AUDIT_MAX_LINE + AUDIT_READ_CHUNK;
    uint64_t total = 0;
    ssize_t r;
    mt_err e;

    memset(&st, 0, sizeof(st));
    st.why = why;
    st.why_len = why_len;
    set_why(why, why_len, "");
    if (lines != NULL)
        *lines = 0;
    if (bad_line != NULL)
        *bad_line = 0;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        set_why(why, why_len, "cannot read the file");
        return MT_ERR_IO;
    }
    if (S_ISDIR(sb.st_mode)) {
        set_why(why, why_len, "is a directory");
        return MT_ERR_IO;
    }
    if (S_ISREG(sb.st_mode) && (uint64_t)sb.st_size > MT_AUDIT_MAX_FILE) {
        set_why(why, why_len, "the file is larger than the audit log limit");
        return MT_ERR_TOO_LARGE;
    }
    buf = mt_malloc(cap);
    MT_ENSURE(buf != NULL, MT_ERR_NOMEM);
    for (;;) {
        r = read(fd, buf + len, cap - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            set_why(why, why_len, "read error");
            e = MT_ERR_IO;
            goto out;
        }
        total += (uint64_t)r;
        if (total > MT_AUDIT_MAX_FILE) {
            set_why(why, why_len, "the file is larger than the audit log limit");
            e = MT_ERR_TOO_LARGE;
            goto out;
        }
        if (r == 0) {
            if (len > 0) {
                if (why != NULL && why_len > 0)
                    snprintf(why, why_len, "line %zu is cut short (no final newline)",
                             st.lines + 1);
                e = MT_ERR_AUDIT_FORMAT;
                goto fail;
            }
            break;
        }
        len += (size_t)r;
        /* Every complete line in buf[0..len). */
        for (start = 0, i = 0; i < len; i++) {
            if (buf[i] != '\n')
                continue;
            MT_GUARD_GOTO(verify_line(&st, (const char *)buf + start, i + 1 - start), e, fail);
            start = i + 1;
        }
        memmove(buf, buf + start, len - start);
        len -= start;
        /* A partial line of MT_AUDIT_MAX_LINE bytes can only become a longer one. */
        if (len >= MT_AUDIT_MAX_LINE) {
            if (why != NULL && why_len > 0)
                snprintf(why, why_len, "line %zu is longer than %u bytes", st.lines + 1,
                         MT_AUDIT_MAX_LINE);
            e = MT_ERR_AUDIT_FORMAT;
            goto fail;
        }
    }
    if (lines != NULL)
        *lines = st.lines;
    if (last_hash != NULL)
        memcpy(last_hash, st.prev, 32);
    e = MT_OK;
    goto out;
fail:
    if (e == MT_ERR_AUDIT_FORMAT || e == MT_ERR_AUDIT_CHAIN) {
        if (lines != NULL)
            *lines = st.lines;
        if (bad_line != NULL)
            *bad_line = st.lines + 1;
    }
out:
    mt_free(buf);
    return e;
}

mt_err
mt_audit_verify_file(const char *path, size_t *lines, size_t *bad_line, char *why, size_t why_len)
{
    mt_err e;
    int fd;

    if (lines != NULL)
        *lines = 0;
    if (bad_line != NULL)
        *bad_line = 0;
    MT_ENSURE(path != NULL, MT_ERR_ARG);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (why != NULL && why_len > 0)
            snprintf(why, why_len, "cannot open: %s", strerror(errno));
        return MT_ERR_IO;
    }
    e = mt_audit_verify_fd(fd, lines, NULL, bad_line, why, why_len);
    close(fd);
    return e;
}
