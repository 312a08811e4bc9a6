#include "measure/rtmr.h"

#include <string.h>

#include <openssl/evp.h>

mt_err
mt_rtmr_hasher_init(struct mt_rtmr_hasher *h)
{
    MT_ENSURE(h != NULL, MT_ERR_ARG);
    h->md = EVP_MD_fetch(NULL, "SHA384", NULL);
    h->ctx = EVP_MD_CTX_new();
    if (h->md == NULL || h->ctx == NULL) {
        mt_rtmr_hasher_fini(h);
        return MT_ERR_CRYPTO;
    }
    return MT_OK;
}

void
mt_rtmr_hasher_fini(struct mt_rtmr_hasher *h)
{
    if (h == NULL)
        return;
    EVP_MD_CTX_free(h->ctx);
    EVP_MD_free(h->md);
    h->ctx = NULL;
    h->md = NULL;
}

/* Feed n bytes; an empty span is skipped so a NULL pointer never reaches OpenSSL. */
static int
update(EVP_MD_CTX *ctx, const void *p, size_t n)
{
    return n == 0 || EVP_DigestUpdate(ctx, p, n) == 1;
}

mt_err
mt_rtmr_event_digest_with(struct mt_rtmr_hasher *h, uint32_t event_type, const char *name,
                          size_t name_len, const uint8_t *payload, size_t payload_len,
                          uint8_t out[MT_RTMR_SIZE])
{
    uint8_t le[4], d[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    int ok;

    MT_ENSURE(h != NULL && h->md != NULL && h->ctx != NULL && out != NULL, MT_ERR_ARG);
    MT_ENSURE(name != NULL || name_len == 0, MT_ERR_ARG);
    MT_ENSURE(payload != NULL || payload_len == 0, MT_ERR_ARG);
    /* The type is written little-endian: dstack writes native order on x86-64 (dstack.md 3.4). */
    le[0] = (uint8_t)event_type;
    le[1] = (uint8_t)(event_type >> 8);
    le[2] = (uint8_t)(event_type >> 16);
    le[3] = (uint8_t)(event_type >> 24);
    ok = EVP_DigestInit_ex(h->ctx, h->md, NULL) == 1 && update(h->ctx, le, sizeof(le)) &&
         update(h->ctx, ":", 1) && update(h->ctx, name, name_len) && update(h->ctx, ":", 1) &&
         update(h->ctx, payload, payload_len) && EVP_DigestFinal_ex(h->ctx, d, &n) == 1;
    MT_ENSURE(ok && n == MT_RTMR_SIZE, MT_ERR_CRYPTO);
    memcpy(out, d, MT_RTMR_SIZE);
    return MT_OK;
}

mt_err
mt_rtmr_extend_with(struct mt_rtmr_hasher *h, uint8_t rtmr[MT_RTMR_SIZE],
                    const uint8_t digest[MT_RTMR_SIZE])
{
    uint8_t d[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    int ok;

    MT_ENSURE(h != NULL && h->md != NULL && h->ctx != NULL, MT_ERR_ARG);
    MT_ENSURE(rtmr != NULL && digest != NULL, MT_ERR_ARG);
    ok = EVP_DigestInit_ex(h->ctx, h->md, NULL) == 1 &&
         EVP_DigestUpdate(h->ctx, rtmr, MT_RTMR_SIZE) == 1 &&
         EVP_DigestUpdate(h->ctx, digest, MT_RTMR_SIZE) == 1 &&
         EVP_DigestFinal_ex(h->ctx, d, &n) == 1;
    MT_ENSURE(ok && n == MT_RTMR_SIZE, MT_ERR_CRYPTO);
    memcpy(rtmr, d, MT_RTMR_SIZE);
    return MT_OK;
}

mt_err
mt_rtmr_event_digest(uint32_t event_type, const char *name, size_t name_len, const uint8_t *payload,
                     size_t payload_len, uint8_t out[MT_RTMR_SIZE])
{
    struct mt_rtmr_hasher h = {NULL, NULL};
    mt_err e;

    MT_GUARD_GOTO(mt_rtmr_hasher_init(&h), e, out);
    e = mt_rtmr_event_digest_with(&h, event_type, name, name_len, payload, payload_len, out);
out:
    mt_rtmr_hasher_fini(&h);
    return e;
}

mt_err
mt_rtmr_extend(uint8_t rtmr[MT_RTMR_SIZE], const uint8_t digest[MT_RTMR_SIZE])
{
    struct mt_rtmr_hasher h = {NULL, NULL};
    mt_err e;

    MT_GUARD_GOTO(mt_rtmr_hasher_init(&h), e, out);
    e = mt_rtmr_extend_with(&h, rtmr, digest);
out:
    mt_rtmr_hasher_fini(&h);
    return e;
}
