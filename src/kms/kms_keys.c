#include "kms/kms_keys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

#include "dstack/dstack_client.h"
#include "kms/kms_thread.h"

/* Domain separation: a local key never equals a dstack key for the same path. */
#define LOCAL_KDF_SALT "mero-kms-local-v1"

/*
 * The HKDF implementation, fetched once: fetching it on every derivation
 * showed in the /get-key profile.  A fetched EVP_KDF may be shared by
 * threads.  Lock free: the first thread to publish wins, a loser frees its
 * own, and a failed fetch is retried on the next call.  (The digest is still
 * named per context: OpenSSL 3.0's HKDF takes it by name and cannot
 * duplicate a prepared context.)
 */
static _Atomic(EVP_KDF *) hkdf_kdf;

static EVP_KDF *
hkdf_get(void)
{
    EVP_KDF *kdf, *expected = NULL;

    kdf = atomic_load_explicit(&hkdf_kdf, memory_order_acquire);
    if (kdf != NULL)
        return kdf;
    kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    if (kdf == NULL)
        return NULL;
    if (!atomic_compare_exchange_strong_explicit(&hkdf_kdf, &expected, kdf, memory_order_acq_rel,
                                                 memory_order_acquire)) {
        EVP_KDF_free(kdf);
        return expected;
    }
    return kdf;
}

static mt_err
hkdf(const uint8_t root[32], const char *path, struct mt_secret *out)
{
    OSSL_PARAM params[5];
    EVP_KDF *kdf;
    EVP_KDF_CTX *ctx;
    int ok;

    MT_GUARD(mt_secret_new(32, out));
    kdf = hkdf_get();
    ctx = kdf == NULL ? NULL : EVP_KDF_CTX_new(kdf);
    if (ctx == NULL) {
        mt_secret_free(out);
        return MT_ERR_CRYPTO;
    }
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)root, 32);
    params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)LOCAL_KDF_SALT,
                                                  strlen(LOCAL_KDF_SALT));
    params[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)path, strlen(path));
    params[4] = OSSL_PARAM_construct_end();
    ok = EVP_KDF_derive(ctx, out->p, 32, params) == 1;
    EVP_KDF_CTX_free(ctx);
    if (!ok) {
        mt_secret_free(out);
        return MT_ERR_CRYPTO;
    }
    return MT_OK;
}

mt_err
mt_kms_derive_key(struct mt_kms *k, const char *path, struct mt_secret *out, char *detail,
                  size_t detail_len)
{
    struct mt_dstack_client *c;
    mt_err e;

    detail[0] = '\0';
    if (k->cfg->key_provider == MT_KMS_KEYS_LOCAL) {
        e = hkdf(k->local_root_key, path, out);
        if (e != MT_OK)
            snprintf(detail, detail_len, "local key derivation failed");
        return e;
    }
    c = mt_kms_thread_dstack(k);
    MT_ENSURE(c != NULL, MT_ERR_NOMEM);
    /* mero-kms asks for secp256k1; the key bytes do not depend on it (dstack.md 2.1). */
    e = mt_dstack_get_key(c, path, "", "secp256k1", out);
    if (e != MT_OK)
        snprintf(detail, detail_len, "dstack GetKey failed: %s%s%s", mt_err_message(e),
                 mt_dstack_last_error(c)[0] != '\0' ? ": " : "", mt_dstack_last_error(c));
    return e;
}

static mt_err
read_exact(int fd, uint8_t *p, size_t n)
{
    ssize_t r;
    uint8_t extra;

    while (n > 0) {
        r = read(fd, p, n);
        if (r < 0 && errno == EINTR)
            continue;
        MT_ENSURE(r > 0, MT_ERR_IO);
        p += r;
        n -= (size_t)r;
    }
    /* Exactly 32 bytes: a longer file is not ours. */
    MT_ENSURE(read(fd, &extra, 1) == 0, MT_ERR_IO);
    return MT_OK;
}

static mt_err
create_root_key(const char *path, uint8_t out[32])
{
    ssize_t w;
    int fd;

    MT_ENSURE(RAND_bytes(out, 32) == 1, MT_ERR_CRYPTO);
    /* O_EXCL: never overwrite a key that appeared meanwhile. */
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    MT_ENSURE(fd >= 0, MT_ERR_IO);
    w = write(fd, out, 32);
    if (w != 32 || fsync(fd) != 0) {
        close(fd);
        unlink(path);
        return MT_ERR_IO;
    }
    MT_ENSURE(close(fd) == 0, MT_ERR_IO);
    return MT_OK;
}

mt_err
mt_kms_local_root_key(const char *path, uint8_t out[32], char *why, size_t why_len)
{
    struct stat st;
    mt_err e;
    int fd;

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 && errno == ENOENT) {
        e = create_root_key(path, out);
        if (e != MT_OK)
            snprintf(why, why_len, "cannot create the local root key %s: %s", path,
                     strerror(errno));
        return e;
    }
    if (fd < 0) {
        snprintf(why, why_len, "cannot open the local root key %s: %s", path, strerror(errno));
        return MT_ERR_IO;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (st.st_mode & 077) != 0) {
        close(fd);
        snprintf(why, why_len, "%s must be a regular file readable by its owner only (0600)", path);
        return MT_ERR_CONFIG;
    }
    e = read_exact(fd, out, 32);
    close(fd);
    if (e != MT_OK) {
        OPENSSL_cleanse(out, 32);
        snprintf(why, why_len, "%s must hold exactly 32 bytes", path);
    }
    return e;
}
