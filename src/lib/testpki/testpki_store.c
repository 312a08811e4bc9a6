#include "testpki/testpki.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>

#include "util/mt_alloc.h"
#include "util/mt_file.h"

/*
 * Saving and loading the test PKI so the TEE simulator keeps one identity
 * across runs.  Keys are unencrypted PKCS#8 PEM with mode 0600; they sign
 * only test quotes, but a key file should still not be world-readable.
 */

#define PEM_FILE_MAX (64u * 1024u)

static const char *const file_stem[MT_TESTPKI_NUM_CERTS] = {"root", "pck_ca", "pck_leaf",
                                                            "tcb_signer"};

static mt_err
path_join(char *out, size_t cap, const char *dir, const char *stem, const char *ext)
{
    int n = snprintf(out, cap, "%s/%s.%s", dir, stem, ext);

    MT_ENSURE(n > 0 && (size_t)n < cap, MT_ERR_TOO_LARGE);
    return MT_OK;
}

/* Write the whole of a memory BIO to path with mode, replacing the file. */
static mt_err
write_bio(const char *path, BIO *bio, mode_t mode)
{
    char *data = NULL;
    long n = BIO_get_mem_data(bio, &data);
    size_t off = 0;
    ssize_t w;
    int fd;
    mt_err e = MT_OK;

    MT_ENSURE(n > 0, MT_ERR_CRYPTO);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode);
    MT_ENSURE(fd >= 0, MT_ERR_IO);
    /* an existing file keeps its old mode on open(); a key must not */
    if (fchmod(fd, mode) != 0)
        e = MT_ERR_IO;
    while (e == MT_OK && off < (size_t)n) {
        w = write(fd, data + off, (size_t)n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            e = MT_ERR_IO;
        else
            off += (size_t)w;
    }
    if (close(fd) != 0 && e == MT_OK)
        e = MT_ERR_IO;
    return e;
}

static mt_err
save_key(const char *dir, const char *stem, EVP_PKEY *key)
{
    char path[4096];
    BIO *bio;
    mt_err e = MT_ERR_CRYPTO;

    MT_GUARD(path_join(path, sizeof(path), dir, stem, "key"));
    /* secure memory BIO: the PEM is cleared when the BIO is freed */
    bio = BIO_new(BIO_s_secmem());
    MT_ENSURE(bio != NULL, MT_ERR_NOMEM);
    if (PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) == 1)
        e = write_bio(path, bio, 0600);
    BIO_free(bio);
    return e;
}

static mt_err
save_cert(const char *dir, const char *stem, X509 *cert)
{
    char path[4096];
    BIO *bio;
    mt_err e = MT_ERR_CRYPTO;

    MT_GUARD(path_join(path, sizeof(path), dir, stem, "crt"));
    bio = BIO_new(BIO_s_mem());
    MT_ENSURE(bio != NULL, MT_ERR_NOMEM);
    if (PEM_write_bio_X509(bio, cert) == 1)
        e = write_bio(path, bio, 0644);
    BIO_free(bio);
    return e;
}

mt_err
mt_testpki_save(const struct mt_testpki *pki, const char *dir)
{
    int i;

    MT_ENSURE(pki != NULL && dir != NULL, MT_ERR_ARG);
    for (i = 0; i < MT_TESTPKI_NUM_CERTS; i++) {
        MT_GUARD(save_key(dir, file_stem[i], pki->key[i]));
        MT_GUARD(save_cert(dir, file_stem[i], pki->cert[i]));
    }
    return save_key(dir, "att", pki->att_key);
}

/* A P-256 private key from a PEM file. */
static mt_err
load_key(const char *dir, const char *stem, EVP_PKEY **out)
{
    char path[4096], group[32];
    uint8_t *buf = NULL;
    size_t len = 0, glen = 0;
    BIO *bio = NULL;
    EVP_PKEY *key = NULL;
    mt_err e;

    MT_GUARD(path_join(path, sizeof(path), dir, stem, "key"));
    MT_GUARD(mt_file_read(path, PEM_FILE_MAX, &buf, &len));
    e = MT_ERR_CRYPTO;
    MT_ENSURE_GOTO(len <= PEM_FILE_MAX, MT_ERR_TOO_LARGE, e, out);
    bio = BIO_new_mem_buf(buf, (int)len);
    if (bio == NULL)
        goto out;
    key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    if (key == NULL || EVP_PKEY_is_a(key, "EC") != 1 ||
        EVP_PKEY_get_group_name(key, group, sizeof(group), &glen) != 1 ||
        strcmp(group, "prime256v1") != 0)
        goto out;
    *out = key;
    key = NULL;
    e = MT_OK;
out:
    EVP_PKEY_free(key);
    BIO_free(bio);
    OPENSSL_cleanse(buf, len);
    mt_free(buf);
    return e;
}

static mt_err
load_cert(const char *dir, const char *stem, X509 **out)
{
    char path[4096];
    uint8_t *buf = NULL;
    size_t len = 0;
    BIO *bio = NULL;
    X509 *x = NULL;
    mt_err e;

    MT_GUARD(path_join(path, sizeof(path), dir, stem, "crt"));
    MT_GUARD(mt_file_read(path, PEM_FILE_MAX, &buf, &len));
    e = MT_ERR_CRYPTO;
    MT_ENSURE_GOTO(len <= PEM_FILE_MAX, MT_ERR_TOO_LARGE, e, out);
    bio = BIO_new_mem_buf(buf, (int)len);
    if (bio == NULL)
        goto out;
    x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    if (x == NULL)
        goto out;
    *out = x;
    e = MT_OK;
out:
    BIO_free(bio);
    mt_free(buf);
    return e;
}

mt_err
mt_testpki_load(const char *dir, struct mt_testpki **out)
{
    struct mt_testpki *pki;
    unsigned char *der = NULL;
    char cn[64];
    int i, n;
    mt_err e = MT_OK;

    MT_ENSURE(dir != NULL, MT_ERR_ARG);
    pki = mt_calloc(1, sizeof(*pki));
    MT_ENSURE(pki != NULL, MT_ERR_NOMEM);
    for (i = 0; i < MT_TESTPKI_NUM_CERTS; i++) {
        MT_GUARD_GOTO(load_key(dir, file_stem[i], &pki->key[i]), e, out);
        MT_GUARD_GOTO(load_cert(dir, file_stem[i], &pki->cert[i]), e, out);
        /* a certificate that does not belong to its key is a corrupt store */
        MT_ENSURE_GOTO(X509_check_private_key(pki->cert[i], pki->key[i]) == 1, MT_ERR_CRYPTO, e,
                       out);
    }
    MT_GUARD_GOTO(load_key(dir, "att", &pki->att_key), e, out);

    n = X509_NAME_get_text_by_NID(X509_get_subject_name(pki->cert[MT_TESTPKI_PCK_CA]),
                                  NID_commonName, cn, sizeof(cn));
    MT_ENSURE_GOTO(n > 0, MT_ERR_CRYPTO, e, out);
    pki->ca_type = strstr(cn, "Processor") != NULL ? MT_PCK_CA_PROCESSOR : MT_PCK_CA_PLATFORM;

    n = i2d_X509(pki->cert[MT_TESTPKI_ROOT], &der);
    MT_ENSURE_GOTO(n > 0, MT_ERR_CRYPTO, e, out);
    pki->root_der = mt_malloc((size_t)n);
    MT_ENSURE_GOTO(pki->root_der != NULL, MT_ERR_NOMEM, e, out);
    memcpy(pki->root_der, der, (size_t)n);
    pki->root_der_len = (size_t)n;
    *out = pki;
    pki = NULL;
out:
    OPENSSL_free(der);
    mt_testpki_free(pki);
    return e;
}
