#include "identity/nodekey.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/buffer.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "util/mt_alloc.h"
#include "util/mt_file.h"
#include "util/mt_secret.h"

static void detailf(char *detail, size_t detail_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
detailf(char *detail, size_t detail_len, const char *fmt, ...)
{
    va_list ap;

    if (detail == NULL || detail_len == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(detail, detail_len, fmt, ap);
    va_end(ap);
}

mt_err
mt_ed25519_sign(EVP_PKEY *key, const uint8_t *msg, size_t len, uint8_t sig[MT_ED25519_SIG_LEN])
{
    EVP_MD_CTX *ctx;
    size_t sig_len = MT_ED25519_SIG_LEN;
    mt_err e = MT_ERR_CRYPTO;

    MT_ENSURE(key != NULL && sig != NULL && (msg != NULL || len == 0), MT_ERR_ARG);
    MT_ENSURE(EVP_PKEY_is_a(key, "ED25519"), MT_ERR_ARG);
    /* A public-only key has no raw private half. */
    if (EVP_PKEY_get_raw_private_key(key, NULL, &sig_len) != 1) {
        ERR_clear_error();
        return MT_ERR_ARG;
    }
    sig_len = MT_ED25519_SIG_LEN;
    ctx = EVP_MD_CTX_new();
    MT_ENSURE(ctx != NULL, MT_ERR_NOMEM);
    /* Ed25519 takes no digest: the message is signed whole (PureEdDSA). */
    if (EVP_DigestSignInit(ctx, NULL, NULL, NULL, key) != 1)
        goto out;
    if (EVP_DigestSign(ctx, sig, &sig_len, msg == NULL ? (const uint8_t *)"" : msg, len) != 1 ||
        sig_len != MT_ED25519_SIG_LEN)
        goto out;
    e = MT_OK;
out:
    ERR_clear_error();
    EVP_MD_CTX_free(ctx);
    return e;
}

mt_err
mt_ed25519_verify(EVP_PKEY *pub, const uint8_t *msg, size_t len, const uint8_t *sig, size_t sig_len)
{
    EVP_MD_CTX *ctx;
    mt_err e = MT_ERR_INVALID_SIGNATURE;

    MT_ENSURE(pub != NULL && (msg != NULL || len == 0), MT_ERR_ARG);
    MT_ENSURE(EVP_PKEY_is_a(pub, "ED25519"), MT_ERR_ARG);
    MT_ENSURE(sig != NULL && sig_len == MT_ED25519_SIG_LEN, MT_ERR_INVALID_SIGNATURE);
    ctx = EVP_MD_CTX_new();
    MT_ENSURE(ctx != NULL, MT_ERR_NOMEM);
    if (EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pub) != 1) {
        e = MT_ERR_CRYPTO;
        goto out;
    }
    /* 1 valid; 0 invalid; negative for malformed input: all but 1 are refusals. */
    if (EVP_DigestVerify(ctx, sig, sig_len, msg == NULL ? (const uint8_t *)"" : msg, len) == 1)
        e = MT_OK;
out:
    ERR_clear_error();
    EVP_MD_CTX_free(ctx);
    return e;
}

mt_err
mt_node_key_generate(EVP_PKEY **out)
{
    EVP_PKEY *key;

    MT_ENSURE(out != NULL, MT_ERR_ARG);
    key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    if (key == NULL) {
        ERR_clear_error();
        return MT_ERR_CRYPTO;
    }
    *out = key;
    return MT_OK;
}

mt_err
mt_node_key_write(const char *path, EVP_PKEY *key, char *detail, size_t detail_len)
{
    BIO *bio = NULL;
    BUF_MEM *mem = NULL;
    char *tmp = NULL;
    size_t n;
    int fd = -1, created = 0;
    mt_err e = MT_ERR_IO;

    detailf(detail, detail_len, "%s", "");
    MT_ENSURE(path != NULL && *path != '\0' && key != NULL, MT_ERR_ARG);
    if (!EVP_PKEY_is_a(key, "ED25519")) {
        detailf(detail, detail_len, "not an Ed25519 key");
        return MT_ERR_ARG;
    }
    bio = BIO_new(BIO_s_mem());
    if (bio == NULL)
        return MT_ERR_NOMEM;
    /* Unencrypted PKCS#8 ("BEGIN PRIVATE KEY"). */
    if (PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) != 1 ||
        BIO_get_mem_ptr(bio, &mem) != 1 || mem == NULL) {
        ERR_clear_error();
        detailf(detail, detail_len, "cannot encode the key");
        e = MT_ERR_CRYPTO;
        goto out;
    }
    n = strlen(path);
    tmp = mt_malloc(n + 8);
    if (tmp == NULL) {
        e = MT_ERR_NOMEM;
        goto out;
    }
    memcpy(tmp, path, n);
    memcpy(tmp + n, ".XXXXXX", 8);
    /* mkstemp creates the file 0600 (and O_EXCL) whatever the umask. */
    fd = mkstemp(tmp);
    if (fd < 0) {
        detailf(detail, detail_len, "cannot create %s: %s", tmp, strerror(errno));
        goto out;
    }
    created = 1;
    if (fchmod(fd, 0600) != 0 || mt_file_write_all(fd, mem->data, mem->length) != MT_OK ||
        fsync(fd) != 0) {
        detailf(detail, detail_len, "cannot write %s: %s", tmp, strerror(errno));
        goto out;
    }
    if (close(fd) != 0) {
        fd = -1;
        detailf(detail, detail_len, "cannot write %s: %s", tmp, strerror(errno));
        goto out;
    }
    fd = -1;
    /* link(2), unlike rename(2), fails rather than replace an existing key. */
    if (link(tmp, path) != 0) {
        if (errno == EEXIST) {
            detailf(detail, detail_len, "%s exists; refusing to replace an identity key", path);
            e = MT_ERR_ARG;
        } else {
            detailf(detail, detail_len, "cannot create %s: %s", path, strerror(errno));
        }
        goto out;
    }
    e = MT_OK;
out:
    if (fd >= 0)
        close(fd);
    /* The key is now (also) at path, or nowhere. */
    if (created)
        unlink(tmp);
    mt_free(tmp);
    if (mem != NULL && mem->data != NULL)
        OPENSSL_cleanse(mem->data, mem->max);
    BIO_free(bio);
    return e;
}

/* Never ask for a passphrase: an encrypted key is refused. */
static int
no_passphrase(char *buf, int size, int rwflag, void *arg)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)arg;
    return -1;
}

mt_err
mt_node_key_load(const char *path, EVP_PKEY **out, char *detail, size_t detail_len)
{
    struct mt_secret buf;
    struct stat st;
    EVP_PKEY *key = NULL;
    BIO *bio = NULL;
    size_t got = 0;
    ssize_t r;
    int fd;
    mt_err e = MT_ERR_IO;

    memset(&buf, 0, sizeof(buf));
    detailf(detail, detail_len, "%s", "");
    MT_ENSURE(path != NULL && out != NULL, MT_ERR_ARG);
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        detailf(detail, detail_len, "cannot open %s: %s", path, strerror(errno));
        return MT_ERR_IO;
    }
    if (fstat(fd, &st) != 0) {
        detailf(detail, detail_len, "cannot stat %s: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        detailf(detail, detail_len, "%s is not a regular file", path);
        e = MT_ERR_ARG;
        goto out;
    }
    if ((st.st_mode & 077) != 0) {
        detailf(detail, detail_len,
                "identity key %s is accessible by group or others (mode %04o); "
                "it must be private to its owner: chmod 600 %s",
                path, (unsigned)(st.st_mode & 07777), path);
        e = MT_ERR_ARG;
        goto out;
    }
    if (st.st_size <= 0 || (unsigned long long)st.st_size > MT_NODE_KEY_MAX_FILE) {
        detailf(detail, detail_len, "%s: size %lld is not 1..%u bytes", path, (long long)st.st_size,
                MT_NODE_KEY_MAX_FILE);
        e = st.st_size <= 0 ? MT_ERR_ARG : MT_ERR_TOO_LARGE;
        goto out;
    }
    /* One byte more than the size, to notice a file that grew. */
    e = mt_secret_new((size_t)st.st_size + 1, &buf);
    if (e != MT_OK)
        goto out;
    e = MT_ERR_IO;
    while (got < buf.len) {
        r = read(fd, buf.p + got, buf.len - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            detailf(detail, detail_len, "cannot read %s: %s", path, strerror(errno));
            goto out;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    if (got != (size_t)st.st_size) {
        detailf(detail, detail_len, "%s changed while being read", path);
        goto out;
    }
    bio = BIO_new_mem_buf(buf.p, (int)got);
    if (bio == NULL) {
        e = MT_ERR_NOMEM;
        goto out;
    }
    key = PEM_read_bio_PrivateKey_ex(bio, NULL, no_passphrase, NULL, NULL, NULL);
    if (key == NULL) {
        ERR_clear_error();
        detailf(detail, detail_len, "%s is not an unencrypted PEM private key", path);
        e = MT_ERR_ARG;
        goto out;
    }
    if (!EVP_PKEY_is_a(key, "ED25519")) {
        detailf(detail, detail_len, "%s holds a %s key, not Ed25519", path,
                EVP_PKEY_get0_type_name(key) == NULL ? "non-Ed25519"
                                                     : EVP_PKEY_get0_type_name(key));
        EVP_PKEY_free(key);
        key = NULL;
        e = MT_ERR_ARG;
        goto out;
    }
    *out = key;
    e = MT_OK;
out:
    BIO_free(bio);
    mt_secret_free(&buf);
    close(fd);
    return e;
}
