#include "image/image_rtmr3.h"

#include <string.h>

#include <openssl/evp.h>

static const char *const profiles[] = {"debug", "debug-read-only", "locked-read-only"};

int
mt_image_profile_valid(const char *s, size_t n)
{
    size_t i;

    if (s == NULL)
        return 0;
    for (i = 0; i < sizeof(profiles) / sizeof(profiles[0]); i++) {
        if (strlen(profiles[i]) == n && memcmp(profiles[i], s, n) == 0)
            return 1;
    }
    return 0;
}

mt_err
mt_image_root_hash_check(const char *s, size_t n, int allow_none)
{
    size_t i;

    MT_ENSURE(s != NULL, MT_ERR_IMAGE_ROOT_HASH);
    if (allow_none && n == 4 && memcmp(s, "none", 4) == 0)
        return MT_OK;
    MT_ENSURE(n == MT_IMAGE_ROOT_HASH_HEX, MT_ERR_IMAGE_ROOT_HASH);
    for (i = 0; i < n; i++) {
        MT_ENSURE((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'),
                  MT_ERR_IMAGE_ROOT_HASH);
    }
    return MT_OK;
}

mt_err
mt_image_rtmr3_digest(const char *profile, const char *root_hash, uint8_t out[MT_RTMR_SIZE])
{
    static const char prefix[] = "calimero-rtmr3-v2:node:";
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    EVP_MD_CTX *ctx = NULL;
    mt_err rv = MT_ERR_CRYPTO;

    MT_ENSURE(profile != NULL && mt_image_profile_valid(profile, strlen(profile)),
              MT_ERR_IMAGE_PROFILE);
    MT_ENSURE(root_hash != NULL, MT_ERR_IMAGE_ROOT_HASH);
    MT_GUARD(mt_image_root_hash_check(root_hash, strlen(root_hash), 1));
    ctx = EVP_MD_CTX_new();
    MT_ENSURE(ctx != NULL, MT_ERR_NOMEM);
    if (EVP_DigestInit_ex(ctx, EVP_sha384(), NULL) != 1 ||
        EVP_DigestUpdate(ctx, prefix, sizeof(prefix) - 1) != 1 ||
        EVP_DigestUpdate(ctx, profile, strlen(profile)) != 1 ||
        EVP_DigestUpdate(ctx, ":", 1) != 1 ||
        EVP_DigestUpdate(ctx, root_hash, strlen(root_hash)) != 1 ||
        EVP_DigestFinal_ex(ctx, md, &md_len) != 1 || md_len != MT_RTMR_SIZE)
        goto out;
    memcpy(out, md, MT_RTMR_SIZE);
    rv = MT_OK;
out:
    EVP_MD_CTX_free(ctx);
    return rv;
}

mt_err
mt_image_rtmr3_expected(const char *profile, const char *root_hash, uint8_t digest[MT_RTMR_SIZE],
                        uint8_t rtmr3[MT_RTMR_SIZE])
{
    uint8_t d[MT_RTMR_SIZE], r[MT_RTMR_SIZE];

    MT_GUARD(mt_image_rtmr3_digest(profile, root_hash, d));
    memset(r, 0, sizeof(r));
    MT_GUARD(mt_rtmr_extend(r, d));
    memcpy(digest, d, sizeof(d));
    memcpy(rtmr3, r, sizeof(r));
    return MT_OK;
}
