/*
 * Checkpoints ("signed notes", sigstore.md 2.5): note text, a blank line,
 * then signature lines "U+2014 SP name SP b64(keyhint[4] || sig)".  Lines
 * from other keys (witnesses) are ignored; every line with the log's key
 * hint must verify, and at least one must exist.
 */
#include <string.h>

#include "sigstore/sig_internal.h"
#include "util/mt_alloc.h"
#include "util/mt_time.h"

#define CPFMT(res, ...) sig_fail((res), MT_ERR_SIGSTORE_CHECKPOINT_FORMAT, __VA_ARGS__)

/* The next line of [p, end) without its '\n'; 0 when there is no complete line. */
static int
next_line(const char **p, const char *end, const char **line, size_t *len)
{
    const char *nl = memchr(*p, '\n', (size_t)(end - *p));

    if (nl == NULL)
        return 0;
    *line = *p;
    *len = (size_t)(nl - *p);
    *p = nl + 1;
    return 1;
}

static int
all_digits(const char *s, size_t n)
{
    size_t i;

    if (n == 0)
        return 0;
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
    }
    return 1;
}

mt_err
sig_checkpoint_parse(const char *note, size_t len, struct sig_checkpoint *cp, size_t *text_len)
{
    const char *p, *end, *line, *split = NULL;
    char num[21];
    uint8_t *root = NULL;
    size_t i, n, rlen = 0;

    MT_ENSURE(note != NULL && len > 0 && len <= SIG_MAX_CHECKPOINT,
              MT_ERR_SIGSTORE_CHECKPOINT_FORMAT);
    /* The last "\n\n" splits text (ending in '\n') from the signature block. */
    for (i = len - 1; i >= 1; i--) {
        if (note[i] == '\n' && note[i - 1] == '\n') {
            split = note + i - 1;
            break;
        }
    }
    MT_ENSURE(split != NULL, MT_ERR_SIGSTORE_CHECKPOINT_FORMAT);
    *text_len = (size_t)(split - note) + 1;
    /* A non-empty signature block that ends with '\n'. */
    MT_ENSURE(*text_len + 1 < len && note[len - 1] == '\n', MT_ERR_SIGSTORE_CHECKPOINT_FORMAT);
    p = note;
    end = note + *text_len;
    MT_ENSURE(next_line(&p, end, &line, &n) && n > 0 && n < sizeof(cp->origin),
              MT_ERR_SIGSTORE_CHECKPOINT_FORMAT);
    memcpy(cp->origin, line, n);
    cp->origin[n] = '\0';
    MT_ENSURE(next_line(&p, end, &line, &n) && all_digits(line, n) && n < sizeof(num),
              MT_ERR_SIGSTORE_CHECKPOINT_FORMAT);
    memcpy(num, line, n);
    num[n] = '\0';
    MT_ENSURE(mt_parse_int64(num, &cp->size) == MT_OK && cp->size >= 0,
              MT_ERR_SIGSTORE_CHECKPOINT_FORMAT);
    MT_ENSURE(next_line(&p, end, &line, &n), MT_ERR_SIGSTORE_CHECKPOINT_FORMAT);
    MT_ENSURE(sig_b64_decode(line, n, 32, &root, &rlen) == MT_OK,
              MT_ERR_SIGSTORE_CHECKPOINT_FORMAT);
    if (rlen != 32) {
        mt_free(root);
        return MT_ERR_SIGSTORE_CHECKPOINT_FORMAT;
    }
    memcpy(cp->root, root, 32);
    mt_free(root);
    /* Further lines (e.g. "Timestamp: ...") are ignored. */
    return MT_OK;
}

/* Rekor v1 origin: "<host> - <tree id digits>". */
static int
v1_origin_ok(const char *o)
{
    const char *dash = strstr(o, " - ");

    return dash != NULL && dash != o && all_digits(dash + 3, strlen(dash + 3)) &&
           memchr(o, ' ', (size_t)(dash - o)) == NULL;
}

mt_err
sig_checkpoint_verify(const char *note, size_t len, const struct sig_log *log,
                      struct sig_checkpoint *cp, struct mt_sigstore_result *res)
{
    static const char em_dash[] = "\xe2\x80\x94 ";
    const char *p, *end, *line, *name_end;
    uint8_t *blob = NULL;
    size_t text_len = 0, n, blen = 0, matched = 0, nsigs = 0;
    mt_err e;

    MT_ENSURE(sig_checkpoint_parse(note, len, cp, &text_len) == MT_OK,
              CPFMT(res, "checkpoint is not a well-formed signed note"));
    MT_ENSURE(!log->ed25519,
              sig_fail(res, MT_ERR_SIGSTORE_UNSUPPORTED, "Ed25519 (Rekor v2) checkpoints"));
    MT_ENSURE(v1_origin_ok(cp->origin),
              CPFMT(res, "checkpoint origin \"%.64s\" is not \"<host> - <tree id>\"", cp->origin));
    p = note + text_len + 1;
    end = note + len;
    while (p < end) {
        MT_ENSURE(++nsigs <= SIG_MAX_CHECKPOINT_SIGS, CPFMT(res, "too many checkpoint signatures"));
        MT_ENSURE(next_line(&p, end, &line, &n) && n > 4 && memcmp(line, em_dash, 4) == 0,
                  CPFMT(res, "malformed checkpoint signature line"));
        line += 4;
        n -= 4;
        name_end = memchr(line, ' ', n);
        MT_ENSURE(name_end != NULL && name_end != line,
                  CPFMT(res, "checkpoint signature line without a name"));
        n -= (size_t)(name_end - line) + 1;
        e = sig_b64_decode(name_end + 1, n, SIG_MAX_FIELD, &blob, &blen);
        MT_ENSURE(e == MT_OK && blen >= 5, (mt_free(blob), CPFMT(res, "bad checkpoint signature")));
        if (memcmp(blob, log->log_id, 4) == 0) {
            matched++;
            e = sig_verify_message(log->key, (const uint8_t *)note, text_len, blob + 4, blen - 4);
            mt_free(blob);
            blob = NULL;
            MT_ENSURE(e == MT_OK,
                      sig_fail(res,
                               e == MT_ERR_SIGSTORE_SIGNATURE ? MT_ERR_SIGSTORE_CHECKPOINT_SIG : e,
                               "checkpoint signature does not verify with %s", log->base_url));
        }
        mt_free(blob);
        blob = NULL;
    }
    MT_ENSURE(matched > 0, sig_fail(res, MT_ERR_SIGSTORE_CHECKPOINT_NO_SIG,
                                    "checkpoint has no signature from %s", log->base_url));
    return MT_OK;
}
