/*
 * The artifact: its SHA-256 (streamed from a file, from memory, or given in
 * digest mode), and signature checks over a digest or a message
 * (sigstore.md 4.3, 4.10, 6.1).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "sigstore/sig_internal.h"

static mt_err
hash_fd(int fd, EVP_MD_CTX *c256, EVP_MD_CTX *cx)
{
    uint8_t buf[65536];
    ssize_t n;

    for (;;) {
        n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        MT_ENSURE(n >= 0, MT_ERR_IO);
        if (n == 0)
            return MT_OK;
        MT_ENSURE(EVP_DigestUpdate(c256, buf, (size_t)n) == 1, MT_ERR_CRYPTO);
        if (cx != NULL)
            MT_ENSURE(EVP_DigestUpdate(cx, buf, (size_t)n) == 1, MT_ERR_CRYPTO);
    }
}

mt_err
sig_artifact_digest(const struct mt_sigstore_artifact *a, const EVP_MD *extra_md,
                    struct sig_digest *out, struct mt_sigstore_result *res)
{
    EVP_MD_CTX *c256 = NULL, *cx = NULL;
    unsigned int n = 0;
    mt_err rv = MT_OK;
    int fd = -1, given;

    MT_ENSURE(a != NULL, MT_ERR_ARG);
    given = (a->path != NULL) + (a->data != NULL || a->len != 0) + (a->sha256 != NULL);
    MT_ENSURE(given == 1, sig_fail(res, MT_ERR_ARG, "give exactly one of path, data, sha256"));
    memset(out, 0, sizeof(*out));
    if (a->sha256 != NULL) {
        /* Digest mode: a key-based signature over another hash cannot be checked. */
        memcpy(out->sha256, a->sha256, 32);
        return MT_OK;
    }
    c256 = EVP_MD_CTX_new();
    MT_ENSURE_GOTO(c256 != NULL, MT_ERR_NOMEM, rv, out);
    MT_ENSURE_GOTO(EVP_DigestInit_ex(c256, EVP_sha256(), NULL) == 1, MT_ERR_CRYPTO, rv, out);
    if (extra_md != NULL && EVP_MD_get_type(extra_md) != NID_sha256) {
        cx = EVP_MD_CTX_new();
        MT_ENSURE_GOTO(cx != NULL, MT_ERR_NOMEM, rv, out);
        MT_ENSURE_GOTO(EVP_DigestInit_ex(cx, extra_md, NULL) == 1, MT_ERR_CRYPTO, rv, out);
    }
    if (a->path != NULL) {
        fd = open(a->path, O_RDONLY | O_CLOEXEC);
        MT_ENSURE_GOTO(fd >= 0, sig_fail(res, MT_ERR_IO, "%s: %s", a->path, strerror(errno)), rv,
                       out);
        MT_GUARD_GOTO(hash_fd(fd, c256, cx), rv, out);
    } else if (a->len > 0) {
        MT_ENSURE_GOTO(EVP_DigestUpdate(c256, a->data, a->len) == 1, MT_ERR_CRYPTO, rv, out);
        if (cx != NULL)
            MT_ENSURE_GOTO(EVP_DigestUpdate(cx, a->data, a->len) == 1, MT_ERR_CRYPTO, rv, out);
    }
    MT_ENSURE_GOTO(EVP_DigestFinal_ex(c256, out->sha256, &n) == 1 && n == 32, MT_ERR_CRYPTO, rv,
                   out);
    if (cx != NULL) {
        MT_ENSURE_GOTO(EVP_DigestFinal_ex(cx, out->extra, &n) == 1, MT_ERR_CRYPTO, rv, out);
        out->extra_md = extra_md;
        out->extra_len = n;
    }
out:
    if (fd >= 0)
        close(fd);
    EVP_MD_CTX_free(c256);
    EVP_MD_CTX_free(cx);
    return rv;
}

mt_err
sig_verify_prehashed(EVP_PKEY *key, const EVP_MD *md, const uint8_t *dgst, size_t dlen,
                     const uint8_t *sig, size_t sig_len)
{
    EVP_PKEY_CTX *ctx;
    int ok;

    MT_ENSURE(key != NULL && sig != NULL && sig_len > 0, MT_ERR_SIGSTORE_SIGNATURE);
    MT_ENSURE(EVP_PKEY_get_base_id(key) == EVP_PKEY_EC || EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA,
              MT_ERR_SIGSTORE_UNSUPPORTED);
    ctx = EVP_PKEY_CTX_new(key, NULL);
    MT_ENSURE(ctx != NULL, MT_ERR_NOMEM);
    ok = EVP_PKEY_verify_init(ctx) == 1 && EVP_PKEY_CTX_set_signature_md(ctx, md) == 1 &&
         EVP_PKEY_verify(ctx, sig, sig_len, dgst, dlen) == 1;
    EVP_PKEY_CTX_free(ctx);
    return ok ? MT_OK : MT_ERR_SIGSTORE_SIGNATURE;
}

mt_err
sig_verify_message(EVP_PKEY *key, const uint8_t *msg, size_t len, const uint8_t *sig,
                   size_t sig_len)
{
    EVP_MD_CTX *ctx;
    const EVP_MD *md = EVP_sha256();
    int ok;

    MT_ENSURE(key != NULL && sig != NULL && sig_len > 0, MT_ERR_SIGSTORE_SIGNATURE);
    if (EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519)
        md = NULL;
    ctx = EVP_MD_CTX_new();
    MT_ENSURE(ctx != NULL, MT_ERR_NOMEM);
    ok = EVP_DigestVerifyInit(ctx, NULL, md, NULL, key) == 1 &&
         EVP_DigestVerify(ctx, sig, sig_len, msg, len) == 1;
    EVP_MD_CTX_free(ctx);
    return ok ? MT_OK : MT_ERR_SIGSTORE_SIGNATURE;
}
