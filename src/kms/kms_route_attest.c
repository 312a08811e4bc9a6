#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "dstack/dstack_client.h"
#include "kms/kms_reply.h"
#include "kms/kms_routes.h"
#include "kms/kms_thread.h"
#include "util/mt_alloc.h"
#include "util/mt_b64.h"
#include "util/mt_hex.h"

/* SHA-256("mero-kms-phala-attest-v1"), the default binding (reference 1.10). */
static const uint8_t default_binding[32] = {
    0x23, 0x23, 0xfe, 0xac, 0xe9, 0xfd, 0x17, 0x51, 0xa8, 0x9a, 0xb2, 0xbe, 0xbb, 0x8a, 0xba, 0x14,
    0x5f, 0x34, 0x3a, 0x36, 0x88, 0xe3, 0xd1, 0x65, 0x5e, 0xd4, 0x28, 0xeb, 0x07, 0x66, 0xe3, 0x96};

/* A base64 field that must decode to exactly 32 bytes. */
static int
b64_32(const char *s, uint8_t out[32])
{
    uint8_t *b = NULL;
    size_t n;
    int ok;

    if (mt_b64_decode_alloc(s, strlen(s), 64, &b, &n) != MT_OK)
        return -1;
    ok = n == 32;
    if (ok)
        memcpy(out, b, 32);
    mt_free(b);
    return ok ? 1 : 0;
}

/*
 * POST /attest: the KMS quotes nonce || binding through dstack (1.7).  A
 * dstack failure is the server's, so 503 dstack_unavailable (or 502
 * dstack_response for a malformed agent reply) where the reference answers
 * 401 attestation_verification_failed (defect 4); merod treats any non-2xx
 * /attest as KMS_ATTEST_REJECTED, so the tag change is invisible to it.
 */
mt_err
mt_kms_route_attest(struct mt_kms *k, const json_t *req, struct mt_kms_response *rs)
{
    const json_t *binding_v = json_object_get(req, "bindingB64");
    struct mt_dstack_quote dq;
    struct mt_dstack_client *c;
    uint8_t rd[64];
    char hex[129], detail[400], *quote_b64 = NULL;
    json_t *o = NULL, *log = NULL;
    mt_err e;
    int r;

    r = b64_32(mt_kms_field_str(req, "nonceB64"), rd);
    if (r != 1)
        return mt_kms_reply_error(rs, MT_ERR_INVALID_ATTESTATION_REQUEST,
                                  r < 0 ? "nonceB64: invalid base64"
                                        : "nonceB64 must be exactly 32 bytes");
    if (binding_v == NULL || json_is_null(binding_v)) {
        memcpy(rd + 32, default_binding, 32);
    } else {
        if (!json_is_string(binding_v))
            return mt_kms_reply_text(rs, 422,
                                     "Failed to deserialize the JSON body into the "
                                     "target type: invalid type for field `bindingB64`");
        r = b64_32(json_string_value(binding_v), rd + 32);
        if (r != 1)
            return mt_kms_reply_error(rs, MT_ERR_INVALID_ATTESTATION_REQUEST,
                                      r < 0 ? "bindingB64: invalid base64"
                                            : "bindingB64 must be exactly 32 bytes");
    }
    c = mt_kms_thread_dstack(k);
    MT_ENSURE(c != NULL, MT_ERR_NOMEM);
    memset(&dq, 0, sizeof(dq));
    e = mt_dstack_get_quote(c, rd, sizeof(rd), &dq);
    if (e != MT_OK) {
        snprintf(detail, sizeof(detail), "dstack GetQuote failed: %s%s%s", mt_err_message(e),
                 mt_dstack_last_error(c)[0] != '\0' ? ": " : "", mt_dstack_last_error(c));
        return mt_kms_reply_error(rs, e == MT_ERR_NOMEM ? e : MT_ERR_DSTACK_UNAVAILABLE, detail);
    }
    log = json_loads(dq.event_log, 0, NULL);
    quote_b64 = mt_b64_encode_alloc(dq.quote, dq.quote_len);
    mt_hex_encode(rd, 64, hex);
    if (log == NULL) {
        e = mt_kms_reply_error(rs, MT_ERR_DSTACK_RESPONSE,
                               "dstack returned invalid event log json");
        goto out;
    }
    o = json_object();
    if (o == NULL || quote_b64 == NULL ||
        json_object_set_new(o, "quoteB64", json_string(quote_b64)) != 0 ||
        json_object_set_new(o, "reportDataHex", json_string(hex)) != 0 ||
        json_object_set(o, "eventLog", log) != 0 ||
        json_object_set_new(o, "vmConfig", json_string(dq.vm_config == NULL ? "" : dq.vm_config)) !=
            0) {
        e = MT_ERR_NOMEM;
        goto out;
    }
    e = mt_kms_reply_json(rs, 200, o);
out:
    OPENSSL_cleanse(rd, sizeof(rd));
    json_decref(o);
    json_decref(log);
    mt_free(quote_b64);
    mt_dstack_quote_free(&dq);
    return e;
}
