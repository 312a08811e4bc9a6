#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "release/release.h"
#include "util/mt_alloc.h"
#include "util/mt_hex.h"

/*
 * Checksums files (mero-tee-reference.md 3.1): `sha256sum` output, one
 * "<hex>  <name>\n" per file.  The reference's node verifier only checked
 * that entries exist (defect 19); release verify compares every line with
 * the file it names (verify.c).
 */

static mt_err
bad(char *why, size_t why_len, size_t line, const char *what)
{
    if (why != NULL && why_len > 0)
        snprintf(why, why_len, "line %zu: %s", line, what);
    return MT_ERR_RELEASE_CHECKSUMS_FORMAT;
}

int
mt_rel_name_ok(const char *s, size_t n)
{
    size_t i;

    if (n == 0 || n > MT_REL_MAX_NAME)
        return 0;
    if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
        return 0;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        /* Printable ASCII only: asset names go into reports (UTF-8 JSON) and URLs. */
        if (c < 0x20 || c > 0x7e || c == '\\' || c == '/')
            return 0;
    }
    return 1;
}

/* Why a name is refused, for the report. */
static const char *
name_problem(const char *s, size_t n)
{
    size_t i;

    if (n == 0 || n > MT_REL_MAX_NAME)
        return "bad file name length";
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c < 0x20 || c > 0x7e)
            return "the file name is not printable ASCII";
    }
    return "bad file name";
}

mt_err
mt_rel_sha256(const void *data, size_t len, uint8_t out[32])
{
    unsigned int dl = 32;

    MT_ENSURE(data != NULL || len == 0, MT_ERR_ARG);
    MT_ENSURE(EVP_Digest(len > 0 ? data : "", len, out, &dl, EVP_sha256(), NULL) == 1 && dl == 32,
              MT_ERR_CRYPTO);
    return MT_OK;
}

void
mt_rel_checksums_free(struct mt_rel_sums *s)
{
    if (s == NULL)
        return;
    mt_free(s->v);
    s->v = NULL;
    s->n = 0;
}

const struct mt_rel_sum *
mt_rel_checksums_find(const struct mt_rel_sums *s, const char *name)
{
    size_t i;

    for (i = 0; i < s->n; i++) {
        if (strcmp(s->v[i].name, name) == 0)
            return &s->v[i];
    }
    return NULL;
}

mt_err
mt_rel_checksums_parse(const char *text, size_t len, struct mt_rel_sums *out, char *why,
                       size_t why_len)
{
    struct mt_rel_sums s = {NULL, 0};
    size_t pos = 0, line = 0, i;
    mt_err e = MT_OK;

    if (why != NULL && why_len > 0)
        why[0] = '\0';
    MT_ENSURE(text != NULL || len == 0, MT_ERR_ARG);
    MT_ENSURE(len <= MT_REL_MAX_CHECKSUMS, MT_ERR_TOO_LARGE);
    if (len == 0)
        return bad(why, why_len, 0, "no lines");
    s.v = mt_calloc(MT_REL_MAX_CHECKSUM_LINES, sizeof(*s.v));
    MT_ENSURE(s.v != NULL, MT_ERR_NOMEM);
    while (pos < len) {
        const char *p = text + pos, *nl = memchr(p, '\n', len - pos), *name, *slash;
        size_t ll = nl != NULL ? (size_t)(nl - p) : len - pos, nlen;
        struct mt_rel_sum *cur;

        line++;
        pos += ll + (nl != NULL);
        if (s.n == MT_REL_MAX_CHECKSUM_LINES) {
            e = bad(why, why_len, line, "too many lines");
            goto out;
        }
        if (ll == 0) {
            e = bad(why, why_len, line, "empty line");
            goto out;
        }
        if (memchr(p, '\r', ll) != NULL || memchr(p, '\0', ll) != NULL) {
            e = bad(why, why_len, line, "carriage return or NUL in line");
            goto out;
        }
        cur = &s.v[s.n];
        if (ll < 67 || mt_hex_decode_exact(p, 64, cur->sha256, 32) != MT_OK) {
            e = bad(why, why_len, line, "does not start with a 64-digit SHA-256");
            goto out;
        }
        if (p[64] != ' ' || (p[65] != ' ' && p[65] != '*')) {
            e = bad(why, why_len, line, "digest and name are not separated by \"  \" or \" *\"");
            goto out;
        }
        name = p + 66;
        nlen = ll - 66;
        /* A directory prefix is reduced to the base name, as the KMS verifier does. */
        slash = NULL;
        for (i = 0; i < nlen; i++) {
            if (name[i] == '/')
                slash = name + i;
        }
        if (slash != NULL) {
            nlen -= (size_t)(slash + 1 - name);
            name = slash + 1;
        }
        if (!mt_rel_name_ok(name, nlen)) {
            e = bad(why, why_len, line, name_problem(name, nlen));
            goto out;
        }
        memcpy(cur->name, name, nlen);
        cur->name[nlen] = '\0';
        if (mt_rel_checksums_find(&s, cur->name) != NULL) {
            e = bad(why, why_len, line, "file listed twice");
            goto out;
        }
        s.n++;
    }
    *out = s;
    return MT_OK;
out:
    mt_rel_checksums_free(&s);
    return e;
}

mt_err
mt_rel_checksums_format(const struct mt_rel_sums *s, struct mt_buf *out)
{
    char hex[65];
    size_t i;

    for (i = 0; i < s->n; i++) {
        mt_hex_encode(s->v[i].sha256, 32, hex);
        MT_GUARD(mt_buf_append_str(out, hex));
        MT_GUARD(mt_buf_append_str(out, "  "));
        MT_GUARD(mt_buf_append_str(out, s->v[i].name));
        MT_GUARD(mt_buf_append(out, "\n", 1));
    }
    return MT_OK;
}

mt_err
mt_rel_file_sha256(const char *path, uint64_t max, uint8_t out[32])
{
    static const size_t chunk = 64u * 1024u;
    EVP_MD_CTX *ctx = NULL;
    uint8_t *buf = NULL;
    uint64_t total = 0;
    unsigned int dl = 32;
    struct stat st;
    mt_err e = MT_ERR_IO;
    int fd;

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return MT_ERR_IO;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        goto out;
    buf = mt_malloc(chunk);
    ctx = EVP_MD_CTX_new();
    if (buf == NULL || ctx == NULL) {
        e = MT_ERR_NOMEM;
        goto out;
    }
    if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        e = MT_ERR_CRYPTO;
        goto out;
    }
    for (;;) {
        ssize_t n = read(fd, buf, chunk);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            goto out;
        if (n == 0)
            break;
        total += (uint64_t)n;
        if (total > max) {
            e = MT_ERR_TOO_LARGE;
            goto out;
        }
        if (EVP_DigestUpdate(ctx, buf, (size_t)n) != 1) {
            e = MT_ERR_CRYPTO;
            goto out;
        }
    }
    e = EVP_DigestFinal_ex(ctx, out, &dl) == 1 && dl == 32 ? MT_OK : MT_ERR_CRYPTO;
out:
    EVP_MD_CTX_free(ctx);
    mt_free(buf);
    close(fd);
    return e;
}
