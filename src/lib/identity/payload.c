#include "identity/payload.h"

#include <string.h>

#include "identity/libp2p.h"
#include "identity/nodekey.h"
#include "util/mt_alloc.h"
#include "util/mt_buf.h"
#include "util/mt_hex.h"

const uint8_t mt_kms_default_binding[32] = {
    0x23, 0x23, 0xfe, 0xac, 0xe9, 0xfd, 0x17, 0x51, 0xa8, 0x9a, 0xb2, 0xbe, 0xbb, 0x8a, 0xba, 0x14,
    0x5f, 0x34, 0x3a, 0x36, 0x88, 0xe3, 0xd1, 0x65, 0x5e, 0xd4, 0x28, 0xeb, 0x07, 0x66, 0xe3, 0x96,
};

/* Append s as a JSON string literal, escaped as serde_json does. */
static mt_err
append_json_string(struct mt_buf *b, const char *s)
{
    static const char hexd[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    size_t run = 0;
    char esc[6];

    MT_GUARD(mt_buf_append(b, "\"", 1));
    for (; *p != '\0'; p++) {
        const char *rep = NULL;
        size_t rep_len = 2;

        switch (*p) {
        case '"':
            rep = "\\\"";
            break;
        case '\\':
            rep = "\\\\";
            break;
        case 0x08:
            rep = "\\b";
            break;
        case 0x09:
            rep = "\\t";
            break;
        case 0x0a:
            rep = "\\n";
            break;
        case 0x0c:
            rep = "\\f";
            break;
        case 0x0d:
            rep = "\\r";
            break;
        default:
            if (*p < 0x20) {
                memcpy(esc, "\\u00", 4);
                esc[4] = hexd[*p >> 4];
                esc[5] = hexd[*p & 0xf];
                rep = esc;
                rep_len = 6;
            }
            break;
        }
        if (rep == NULL) {
            run++;
            continue;
        }
        MT_GUARD(mt_buf_append(b, (const char *)p - run, run));
        run = 0;
        MT_GUARD(mt_buf_append(b, rep, rep_len));
    }
    MT_GUARD(mt_buf_append(b, (const char *)p - run, run));
    return mt_buf_append(b, "\"", 1);
}

static mt_err
append_member(struct mt_buf *b, const char *key, const char *value, int first)
{
    if (!first)
        MT_GUARD(mt_buf_append(b, ",", 1));
    MT_GUARD(append_json_string(b, key));
    MT_GUARD(mt_buf_append(b, ":", 1));
    return append_json_string(b, value);
}

static mt_err
build(struct mt_buf *b, const char *challenge_id, const char *nonce_hex, const char *quote_hex,
      const char *peer_id, int alphabetical)
{
    MT_GUARD(mt_buf_append(b, "{", 1));
    MT_GUARD(append_member(b, "challengeId", challenge_id, 1));
    MT_GUARD(append_member(b, "challengeNonceHex", nonce_hex, 0));
    if (alphabetical) {
        MT_GUARD(append_member(b, "peerId", peer_id, 0));
        MT_GUARD(append_member(b, "quoteHashHex", quote_hex, 0));
    } else {
        MT_GUARD(append_member(b, "quoteHashHex", quote_hex, 0));
        MT_GUARD(append_member(b, "peerId", peer_id, 0));
    }
    return mt_buf_append(b, "}", 1);
}

mt_err
mt_kms_payload(const char *challenge_id, const uint8_t nonce[32], const uint8_t quote_sha256[32],
               const char *peer_id, int alphabetical, char **out, size_t *len)
{
    char nonce_hex[65], quote_hex[65];
    struct mt_buf b;
    size_t n;
    mt_err e;

    MT_ENSURE(challenge_id != NULL && nonce != NULL && quote_sha256 != NULL && peer_id != NULL &&
                  out != NULL,
              MT_ERR_ARG);
    MT_ENSURE(strlen(challenge_id) <= MT_KMS_PAYLOAD_MAX_FIELD &&
                  strlen(peer_id) <= MT_KMS_PAYLOAD_MAX_FIELD,
              MT_ERR_TOO_LARGE);
    mt_hex_encode(nonce, 32, nonce_hex);
    mt_hex_encode(quote_sha256, 32, quote_hex);
    /* Every byte escapes to at most 6; the rest is under 128 bytes. */
    mt_buf_init(&b, 12u * MT_KMS_PAYLOAD_MAX_FIELD + 1024u);
    e = build(&b, challenge_id, nonce_hex, quote_hex, peer_id, alphabetical);
    if (e != MT_OK) {
        mt_buf_free(&b);
        return e;
    }
    *out = (char *)mt_buf_take(&b, &n);
    if (len != NULL)
        *len = n;
    return MT_OK;
}

mt_err
mt_kms_payload_verify(const char *challenge_id, const uint8_t nonce[32],
                      const uint8_t quote_sha256[32], const char *peer_id, EVP_PKEY *pub,
                      const uint8_t *sig, size_t sig_len, int *alphabetical)
{
    char *payload = NULL;
    size_t len;
    int alpha;
    mt_err e = MT_ERR_INVALID_SIGNATURE;

    for (alpha = 0; alpha <= 1; alpha++) {
        MT_GUARD(mt_kms_payload(challenge_id, nonce, quote_sha256, peer_id, alpha, &payload, &len));
        e = mt_ed25519_verify(pub, (const uint8_t *)payload, len, sig, sig_len);
        mt_free(payload);
        payload = NULL;
        if (e != MT_ERR_INVALID_SIGNATURE)
            break;
    }
    if (e == MT_OK && alphabetical != NULL)
        *alphabetical = alpha;
    return e;
}
