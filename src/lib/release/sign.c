#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "release/sign.h"
#include "release/schema.h"
#include "util/mt_alloc.h"
#include "util/mt_b64.h"
#include "util/mt_file.h"

#define MAX_KEY_FILE (16u * 1024u)
#define MAX_SIGN_ASSETS 256u

mt_err
mt_rel_sign_key_load(const char *path, EVP_PKEY **out)
{
    uint8_t *pem = NULL;
    size_t len = 0;
    char group[64];
    size_t glen = 0;
    EVP_PKEY *key = NULL;
    BIO *bio = NULL;
    mt_err e = MT_ERR_RELEASE_KEY;

    MT_GUARD(mt_file_read(path, MAX_KEY_FILE, &pem, &len));
    bio = BIO_new_mem_buf(pem, (int)len);
    if (bio == NULL) {
        e = MT_ERR_NOMEM;
        goto out;
    }
    /* No passphrase callback: an encrypted key fails instead of prompting. */
    key = PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)"");
    if (key == NULL || !EVP_PKEY_is_a(key, "EC") ||
        EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                       &glen) != 1 ||
        strcmp(group, "prime256v1") != 0)
        goto out;
    *out = key;
    key = NULL;
    e = MT_OK;
out:
    BIO_free(bio);
    EVP_PKEY_free(key);
    OPENSSL_cleanse(pem, len);
    mt_free(pem);
    return e;
}

static mt_err
sign_digest(EVP_PKEY *key, const uint8_t digest[32], uint8_t **sig, size_t *sig_len)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
    uint8_t *buf = NULL;
    size_t n = 0;
    mt_err e = MT_ERR_CRYPTO;

    if (ctx == NULL)
        return MT_ERR_NOMEM;
    if (EVP_PKEY_sign_init(ctx) != 1 || EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) != 1 ||
        EVP_PKEY_sign(ctx, NULL, &n, digest, 32) != 1 || n == 0 || n > 256)
        goto out;
    buf = mt_malloc(n);
    if (buf == NULL) {
        e = MT_ERR_NOMEM;
        goto out;
    }
    if (EVP_PKEY_sign(ctx, buf, &n, digest, 32) != 1)
        goto out;
    *sig = buf;
    *sig_len = n;
    buf = NULL;
    e = MT_OK;
out:
    mt_free(buf);
    EVP_PKEY_CTX_free(ctx);
    return e;
}

static mt_err
key_hint(EVP_PKEY *key, char **out)
{
    uint8_t *der = NULL, h[32];
    unsigned int hl = 32;
    int n = i2d_PUBKEY(key, &der);
    mt_err e = MT_ERR_CRYPTO;

    if (n <= 0)
        return MT_ERR_CRYPTO;
    if (EVP_Digest(der, (size_t)n, h, &hl, EVP_sha256(), NULL) == 1) {
        *out = mt_b64_encode_alloc(h, 32);
        e = *out != NULL ? MT_OK : MT_ERR_NOMEM;
    }
    OPENSSL_free(der);
    return e;
}

mt_err
mt_rel_sign_file(EVP_PKEY *key, const char *path, char **sig_b64, char **bundle_json)
{
    uint8_t digest[32], *sig = NULL;
    size_t sig_len = 0;
    char *s64 = NULL, *d64 = NULL, *hint = NULL, *text = NULL;
    json_t *b = NULL;
    mt_err e;

    MT_GUARD(mt_rel_file_sha256(path, MT_REL_MAX_ASSET_SIZE, digest));
    MT_GUARD_GOTO(sign_digest(key, digest, &sig, &sig_len), e, out);
    MT_GUARD_GOTO(key_hint(key, &hint), e, out);
    s64 = mt_b64_encode_alloc(sig, sig_len);
    d64 = mt_b64_encode_alloc(digest, 32);
    MT_ENSURE_GOTO(s64 != NULL && d64 != NULL, MT_ERR_NOMEM, e, out);
    b = json_pack("{s:s,s:{s:{s:s}},s:{s:{s:s,s:s},s:s}}", "mediaType",
                  "application/vnd.dev.sigstore.bundle.v0.3+json", "verificationMaterial",
                  "publicKey", "hint", hint, "messageSignature", "messageDigest", "algorithm",
                  "SHA2_256", "digest", d64, "signature", s64);
    MT_ENSURE_GOTO(b != NULL, MT_ERR_NOMEM, e, out);
    text = json_dumps(b, JSON_COMPACT | JSON_PRESERVE_ORDER);
    MT_ENSURE_GOTO(text != NULL, MT_ERR_NOMEM, e, out);
    *bundle_json = mt_strdup(text);
    MT_ENSURE_GOTO(*bundle_json != NULL, MT_ERR_NOMEM, e, out);
    *sig_b64 = s64;
    s64 = NULL;
    e = MT_OK;
out:
    mt_free_libc(text);
    json_decref(b);
    mt_free(sig);
    mt_free(s64);
    mt_free(d64);
    mt_free(hint);
    return e;
}

static int
has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);

    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int
cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static mt_err
write_sidecar(const char *dir, const char *asset, const char *suffix, const char *text)
{
    char path[MT_REL_MAX_PATH];
    int n = snprintf(path, sizeof(path), "%s/%s%s", dir, asset, suffix);

    MT_ENSURE(n > 0 && (size_t)n < sizeof(path), MT_ERR_ARG);
    return mt_file_write_atomic(path, text, strlen(text), 0644);
}

mt_err
mt_rel_sign_dir(const char *dir, EVP_PKEY *key, size_t *n_signed, char *why, size_t why_len)
{
    char *names[MAX_SIGN_ASSETS], path[MT_REL_MAX_PATH];
    size_t n = 0, i;
    struct dirent *de;
    struct stat st;
    DIR *d;
    mt_err e = MT_OK;

    if (why != NULL && why_len > 0)
        why[0] = '\0';
    d = opendir(dir);
    if (d == NULL)
        return mt_rel_fail(MT_ERR_IO, why, why_len, "%s: cannot open the directory", dir);
    while ((de = readdir(d)) != NULL) {
        const char *name = de->d_name;

        if (name[0] == '.' || has_suffix(name, ".sig") || has_suffix(name, ".pem") ||
            has_suffix(name, ".bundle.json") || strlen(name) > MT_REL_MAX_NAME)
            continue;
        if (mt_rel_path(dir, name, path, sizeof(path)) != MT_OK || lstat(path, &st) != 0 ||
            !S_ISREG(st.st_mode))
            continue;
        if (n == MAX_SIGN_ASSETS) {
            e = mt_rel_fail(MT_ERR_TOO_LARGE, why, why_len, "more than %u assets", MAX_SIGN_ASSETS);
            break;
        }
        names[n] = mt_strdup(name);
        if (names[n] == NULL) {
            e = MT_ERR_NOMEM;
            break;
        }
        n++;
    }
    closedir(d);
    if (e == MT_OK && n == 0)
        e = mt_rel_fail(MT_ERR_ARG, why, why_len, "%s has no assets to sign", dir);
    qsort(names, n, sizeof(names[0]), cmp_names);
    for (i = 0; e == MT_OK && i < n; i++) {
        char *sig = NULL, *bundle = NULL;

        e = mt_rel_path(dir, names[i], path, sizeof(path));
        if (e == MT_OK)
            e = mt_rel_sign_file(key, path, &sig, &bundle);
        if (e == MT_OK)
            e = write_sidecar(dir, names[i], ".sig", sig);
        if (e == MT_OK)
            e = write_sidecar(dir, names[i], ".bundle.json", bundle);
        if (e != MT_OK && why != NULL && why[0] == '\0')
            mt_rel_fail(e, why, why_len, "%s: %s", names[i], mt_err_message(e));
        mt_free(sig);
        mt_free(bundle);
    }
    for (i = 0; i < n; i++)
        mt_free(names[i]);
    if (e == MT_OK && n_signed != NULL)
        *n_signed = n;
    return e;
}
