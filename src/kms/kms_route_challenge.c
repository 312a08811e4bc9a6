#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "identity/identity.h"
#include "kms/kms_reply.h"
#include "kms/kms_routes.h"
#include "util/mt_alloc.h"
#include "util/mt_b64.h"
#include "util/mt_hex.h"

/* POST /challenge (mero-tee-reference.md 1.7). */
mt_err
mt_kms_route_challenge(struct mt_kms *k, const json_t *req, struct mt_kms_response *rs)
{
    const char *peer = mt_kms_field_str(req, "peerId");
    uint8_t nonce[32], id_bytes[16];
    char id[33], detail[160], *nonce_b64 = NULL;
    uint64_t now, expires;
    json_t *o = NULL;
    mt_err e;

    if (mt_peer_id_check(peer, detail, sizeof(detail)) != MT_OK)
        return mt_kms_reply_error(rs, MT_ERR_INVALID_PEER_ID, detail);
    MT_ENSURE(RAND_bytes(nonce, sizeof(nonce)) == 1 && RAND_bytes(id_bytes, 16) == 1,
              MT_ERR_CRYPTO);
    mt_hex_encode(id_bytes, 16, id);
    now = (uint64_t)mt_clock_now(&k->clock);
    expires = now + k->cfg->challenge_ttl;
    e = k->store->ops->insert(k->store, id, nonce, peer, expires, now);
    if (e != MT_OK) {
        OPENSSL_cleanse(nonce, sizeof(nonce));
        if (e == MT_ERR_RATE_LIMITED)
            return mt_kms_reply_error(rs, e, "Too many pending challenges. Retry shortly.");
        snprintf(detail, sizeof(detail), "Challenge storage failed: %s", mt_err_message(e));
        return mt_kms_reply_error(rs, e == MT_ERR_NOMEM ? e : MT_ERR_STORE_UNAVAILABLE, detail);
    }
    atomic_fetch_add(&k->metrics.challenges_issued, 1);
    nonce_b64 = mt_b64_encode_alloc(nonce, sizeof(nonce));
    OPENSSL_cleanse(nonce, sizeof(nonce));
    MT_ENSURE(nonce_b64 != NULL, MT_ERR_NOMEM);
    o = json_pack("{s:s,s:s,s:I}", "challengeId", id, "nonceB64", nonce_b64, "expiresAt",
                  (json_int_t)expires);
    OPENSSL_cleanse(nonce_b64, strlen(nonce_b64));
    mt_free(nonce_b64);
    MT_ENSURE(o != NULL, MT_ERR_NOMEM);
    e = mt_kms_reply_json(rs, 200, o);
    json_decref(o);
    return e;
}
