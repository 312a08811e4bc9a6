/*
 * Checkpoints ("signed notes", sigstore.md 2.5): note text, a blank line,
 * then signature lines "U+2014 SP name SP b64(keyhint[4] || sig)".  Lines
 * from other keys (witnesses) are ignored; every line with the log's key
 * hint must verify, and at least one must exist.  Rekor v2 (C2SP) notes
 * also need origin and signer name equal to the host of the log's baseUrl,
 * with key hints from the C2SP key ID (3.3).
 */
#include <string.h>

#include <openssl/evp.h>

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
sig_url_host(const char *url, char *out, size_t cap)
{
    const char *h = url, *end;
    size_t n;

    MT_ENSURE(url != NULL && cap > 0, MT_ERR_ARG);
    if (strncmp(h, "https://", 8) == 0)
        h += 8;
    else if (strncmp(h, "http://", 7) == 0)
        h += 7;
    for (end = h; *end != '\0' && *end != '/' && *end != ':' && *end != '?' && *end != '#'; end++)
        ;
    n = (size_t)(end - h);
    MT_ENSURE(n > 0 && n < cap && memchr(h, '@', n) == NULL, MT_ERR_SIGSTORE_TRUST_ROOT);
    memcpy(out, h, n);
    out[n] = '\0';
    return MT_OK;
}

mt_err
sig_note_key_id(const struct sig_log *log, uint8_t out[32])
{
    static const char rsa_alg[] = "PKIX-RSA-PKCS#1v1.5";
    char host[SIG_MAX_URL];
    uint8_t raw[32], *spki = NULL, type;
    size_t raw_len = sizeof(raw), spki_len = 0;
    EVP_MD_CTX *c;
    unsigned int n = 0;
    int base = EVP_PKEY_get_base_id(log->key), ok;
    mt_err rv;

    MT_GUARD(sig_url_host(log->base_url, host, sizeof(host)));
    MT_GUARD(sig_spki_der(log->key, &spki, &spki_len));
    if (base == EVP_PKEY_EC) {
        /* ECDSA C2SP notes: H(DER SPKI), as for Rekor v1 (3.3). */
        ok = EVP_Digest(spki, spki_len, out, &n, EVP_sha256(), NULL) == 1;
        mt_free(spki);
        return ok ? MT_OK : MT_ERR_CRYPTO;
    }
    /* Ed25519: H(origin || 0x0A || 0x01 || raw32); RSA: H(origin || 0x0A || 0xFF || alg || SPKI).
     */
    c = EVP_MD_CTX_new();
    MT_ENSURE_GOTO(c != NULL, MT_ERR_NOMEM, rv, out);
    type = base == EVP_PKEY_ED25519 ? 0x01 : 0xff;
    MT_ENSURE_GOTO(base == EVP_PKEY_ED25519 || base == EVP_PKEY_RSA, MT_ERR_SIGSTORE_UNSUPPORTED,
                   rv, out);
    ok = EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1 &&
         EVP_DigestUpdate(c, host, strlen(host)) == 1 && EVP_DigestUpdate(c, "\n", 1) == 1 &&
         EVP_DigestUpdate(c, &type, 1) == 1;
    if (ok && base == EVP_PKEY_ED25519)
        ok = EVP_PKEY_get_raw_public_key(log->key, raw, &raw_len) == 1 && raw_len == 32 &&
             EVP_DigestUpdate(c, raw, 32) == 1;
    else if (ok)
        ok = EVP_DigestUpdate(c, rsa_alg, strlen(rsa_alg)) == 1 &&
             EVP_DigestUpdate(c, spki, spki_len) == 1;
    ok = ok && EVP_DigestFinal_ex(c, out, &n) == 1 && n == 32;
    rv = ok ? MT_OK : MT_ERR_CRYPTO;
out:
    EVP_MD_CTX_free(c);
    mt_free(spki);
    return rv;
}

mt_err
sig_checkpoint_verify(const char *note, size_t len, const struct sig_log *log, int v2,
                      struct sig_checkpoint *cp, struct mt_sigstore_result *res)
{
    static const char em_dash[] = "\xe2\x80\x94 ";
    const char *p, *end, *line, *name_end;
    char host[SIG_MAX_URL];
    uint8_t *blob = NULL, hint[32];
    size_t text_len = 0, n, blen = 0, matched = 0, nsigs = 0, name_len;
    int mine;
    mt_err e;

    MT_ENSURE(sig_checkpoint_parse(note, len, cp, &text_len) == MT_OK,
              CPFMT(res, "checkpoint is not a well-formed signed note"));
    if (v2) {
        /* Rekor v2 (2.5, 3.3): origin and signer name are the baseUrl host; C2SP key IDs. */
        MT_ENSURE(sig_url_host(log->base_url, host, sizeof(host)) == MT_OK,
                  sig_fail(res, MT_ERR_SIGSTORE_TRUST_ROOT, "log baseUrl %.64s has no host",
                           log->base_url));
        MT_ENSURE(strcmp(cp->origin, host) == 0,
                  sig_fail(res, MT_ERR_SIGSTORE_CHECKPOINT_ORIGIN,
                           "checkpoint origin \"%.64s\" is not the log host \"%.64s\"", cp->origin,
                           host));
        e = sig_note_key_id(log, hint);
        MT_ENSURE(e == MT_OK,
                  sig_fail(res, e, "no checkpoint key ID for the key of %s", log->base_url));
    } else {
        MT_ENSURE(!log->ed25519, sig_fail(res, MT_ERR_SIGSTORE_UNSUPPORTED,
                                          "Ed25519 checkpoint of a Rekor v1 log"));
        MT_ENSURE(
            v1_origin_ok(cp->origin),
            CPFMT(res, "checkpoint origin \"%.64s\" is not \"<host> - <tree id>\"", cp->origin));
        memcpy(hint, log->log_id, 4);
        host[0] = '\0';
    }
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
        name_len = (size_t)(name_end - line);
        n -= name_len + 1;
        e = sig_b64_decode(name_end + 1, n, SIG_MAX_FIELD, &blob, &blen);
        MT_ENSURE(e == MT_OK && blen >= 5, (mt_free(blob), CPFMT(res, "bad checkpoint signature")));
        /* Lines of other keys (witness cosignatures) are ignored. */
        mine = memcmp(blob, hint, 4) == 0;
        if (v2)
            mine = mine && name_len == strlen(host) && memcmp(line, host, name_len) == 0;
        if (mine) {
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
