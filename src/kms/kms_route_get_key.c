#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "dcap/dcap.h"
#include "identity/identity.h"
#include "kms/kms_keys.h"
#include "kms/kms_reply.h"
#include "kms/kms_routes.h"
#include "kms/kms_thread.h"
#include "policy/policy.h"
#include "quote/quote.h"
#include "util/mt_alloc.h"
#include "util/mt_b64.h"
#include "util/mt_hex.h"
#include "util/mt_json.h"
#include "util/mt_limits.h"
#include "util/mt_secret.h"

/*
 * POST /get-key (mero-tee-reference.md 1.7), in the reference's order so
 * that merod sees the same first failure, with its defects fixed: a request
 * from the wrong peer does not burn the right peer's challenge (the store's
 * consume checks the peer first), collateral comes from the cache instead of
 * Intel's PCS on every request, and server-side failures are 503s.
 */

/* What one request learned, for the response and the audit line. */
struct get_key {
    struct mt_kms *k;
    const json_t *req;
    const char *peer;
    uint64_t request_id;
    uint8_t nonce[32]; /* the consumed challenge's nonce */
    uint8_t *quote;
    size_t quote_len;
    uint8_t quote_sha256[32];
    struct mt_quote q;
    int quote_parsed;
    int mock;
    struct mt_verdict *verdict;     /* heap: large */
    const char *tcb_status;         /* NULL until a real quote verified */
    const struct mt_policy *policy; /* NULL until ready (step 3) */
    char detail[384];
};

/*
 * Append the decision to the audit log.  The answer waits for the line's
 * fsync (rs->audit_upto, mt_kms_handle_finish), so a key never leaves before
 * its grant is durable; a line that cannot even be written stops a grant
 * here (MT_ERR_AUDIT_UNAVAILABLE).
 */
static mt_err
audit(struct get_key *g, mt_err e, unsigned status, struct mt_kms_response *rs)
{
    json_t *rec, *m;
    uint64_t upto = 0;
    char t[21];
    mt_err r;
    int i;

    if (g->k->audit == NULL)
        return MT_OK;
    mt_rfc3339_format(mt_clock_now(&g->k->clock), t);
    rec = json_pack("{s:s,s:I,s:s,s:s,s:s,s:i,s:s,s:s}", "time", t, "requestId",
                    (json_int_t)g->request_id, "peerId", g->peer == NULL ? "" : g->peer, "decision",
                    e == MT_OK ? "granted" : "denied", "reason", e == MT_OK ? "ok" : mt_err_code(e),
                    "status", (int)status, "profile", g->k->cfg->profile, "policyTag",
                    g->policy == NULL ? "" : g->policy->tag);
    if (rec == NULL)
        return MT_ERR_AUDIT_UNAVAILABLE;
    if (g->tcb_status != NULL)
        json_object_set_new(rec, "tcbStatus", json_string(g->tcb_status));
    if (g->quote_parsed && !g->mock && g->q.body_kind != MT_BODY_SGX) {
        m = json_object();
        if (m != NULL) {
            int ok = mt_json_set_hex(m, "mrTd", g->q.td.mr_td, 48) == MT_OK;

            for (i = 0; i < 4 && ok; i++) {
                char key[8];

                snprintf(key, sizeof(key), "rtMr%d", i);
                ok = mt_json_set_hex(m, key, g->q.td.rt_mr[i], 48) == MT_OK;
            }
            json_object_set_new(rec, "measurements", m);
        }
    }
    if (g->quote_len > 0 && mt_json_set_hex(rec, "quoteSha256", g->quote_sha256, 32) != MT_OK)
        json_object_set_new(rec, "quoteSha256", json_null());
    if (g->mock)
        json_object_set_new(rec, "mock", json_true());
    r = mt_audit_write(g->k->audit, rec, &upto);
    if (r == MT_OK) {
        rs->audit_upto = upto;
    } else {
        mt_kms_log("error", "audit log append failed", rec);
        r = MT_ERR_AUDIT_UNAVAILABLE;
    }
    json_decref(rec);
    return r;
}

/* Answer with an error, audit the denial. */
static mt_err
deny(struct get_key *g, struct mt_kms_response *rs, mt_err e, const char *details)
{
    mt_err r = mt_kms_reply_error(rs, e, details);

    atomic_fetch_add(&g->k->metrics.key_denials, 1);
    (void)audit(g, e, (unsigned)mt_err_http_status(e), rs); /* a failure is logged by audit() */
    return r;
}

/* 32 ASCII hex digits, either case (the reference accepts upper case here). */
static int
challenge_id_ok(const char *s)
{
    size_t i;

    for (i = 0; s[i] != '\0'; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
              (s[i] >= 'A' && s[i] <= 'F')))
            return 0;
    }
    return i == 32;
}

/*
 * 1 when the key bytes are not a curve point: the answer is then
 * invalid_peer_public_key (the reference's decode refuses such a key before
 * anything else) and *e the result of answering.  0 when the key is a point.
 */
static int
answered_off_curve(struct get_key *g, struct mt_kms_response *rs, const uint8_t *pk, size_t pk_len,
                   mt_err *e)
{
    mt_err c = mt_libp2p_pubkey_point_check(pk, pk_len);

    if (c == MT_OK)
        return 0;
    if (c == MT_ERR_CRYPTO)
        *e = c;
    else
        *e = deny(g, rs, MT_ERR_INVALID_PEER_PUBLIC_KEY, "not a point of edwards25519");
    return 1;
}

/* Step 6: the libp2p key is the peer's and signed the canonical payload (1.9). */
static mt_err
check_signature(struct get_key *g, struct mt_kms_response *rs, int *answered)
{
    const char *pk_b64 = mt_kms_field_str(g->req, "peerPublicKeyB64");
    const char *sig_b64 = mt_kms_field_str(g->req, "signatureB64");
    uint8_t *pk = NULL, *sig = NULL;
    size_t pk_len, sig_len;
    char peer_of_key[MT_PEER_ID_MAX + 1], *payload = NULL;
    size_t payload_len;
    EVP_PKEY *key = NULL;
    mt_err e = MT_OK, v;
    int alphabetical;

    *answered = 1;
    if (mt_b64_decode_alloc(pk_b64, strlen(pk_b64), 4096, &pk, &pk_len) != MT_OK) {
        e = deny(g, rs, MT_ERR_INVALID_PEER_PUBLIC_KEY, "peerPublicKeyB64 is not valid base64");
        goto out;
    }
    if (mt_b64_decode_alloc(sig_b64, strlen(sig_b64), 4096, &sig, &sig_len) != MT_OK) {
        e = deny(g, rs, MT_ERR_INVALID_SIGNATURE, "signatureB64 is not valid base64");
        goto out;
    }
    /*
     * The curve-point check costs ~14 us; it only decides which error a
     * failure is given (the reference refuses an off-curve key first), so it
     * runs on the failure paths (mt_libp2p_pubkey_parse says why that is
     * sound).
     */
    if (mt_libp2p_pubkey_parse(pk, pk_len, &key) != MT_OK) {
        e = deny(g, rs, MT_ERR_INVALID_PEER_PUBLIC_KEY,
                 "not a libp2p Ed25519 public key (protobuf)");
        goto out;
    }
    if (mt_peer_id_from_pubkey_proto(pk, pk_len, peer_of_key, sizeof(peer_of_key)) != MT_OK ||
        strcmp(peer_of_key, g->peer) != 0) {
        if (!answered_off_curve(g, rs, pk, pk_len, &e))
            e = deny(g, rs, MT_ERR_PEER_IDENTITY_MISMATCH, NULL);
        goto out;
    }
    /* merod signs with keys in insertion order; accept the alphabetical variant too (1.9). */
    for (alphabetical = 0; alphabetical < 2; alphabetical++) {
        MT_GUARD_GOTO(mt_kms_payload(mt_kms_field_str(g->req, "challengeId"), g->nonce,
                                     g->quote_sha256, g->peer, alphabetical, &payload,
                                     &payload_len),
                      e, out);
        v = mt_ed25519_verify(key, (const uint8_t *)payload, payload_len, sig, sig_len);
        mt_free(payload);
        payload = NULL;
        if (v == MT_OK) {
            *answered = 0;
            goto out;
        }
    }
    if (!answered_off_curve(g, rs, pk, pk_len, &e))
        e = deny(g, rs, MT_ERR_INVALID_SIGNATURE, "signature verification failed");
out:
    EVP_PKEY_free(key);
    mt_free(pk);
    mt_free(sig);
    return e;
}

/* Step 7: the quote (mock or DCAP), its binding to the challenge and peer, the policy. */
static mt_err
check_attestation(struct get_key *g, struct mt_kms_response *rs, int *answered)
{
    struct mt_kms *k = g->k;
    struct mt_prepared_collateral *pc = NULL;
    struct mt_verifier *ver;
    uint8_t app_hash[32];
    unsigned int hl = 32;
    const uint8_t *rd;
    char why[256];
    mt_err e, ve;

    *answered = 1;
    g->mock = mt_quote_is_mock(g->quote, g->quote_len);
    if (g->mock && !k->cfg->accept_mock)
        return deny(g, rs, MT_ERR_MOCK_REJECTED, NULL);
    e = mt_quote_parse(g->quote, g->quote_len, &g->q);
    if (e != MT_OK) {
        snprintf(g->detail, sizeof(g->detail), "Failed to parse TDX quote: %s", mt_err_message(e));
        return deny(g, rs, MT_ERR_ATTESTATION_FAILED, g->detail);
    }
    g->quote_parsed = 1;
    MT_ENSURE(EVP_Digest(g->peer, strlen(g->peer), app_hash, &hl, EVP_sha256(), NULL) == 1,
              MT_ERR_CRYPTO);
    ve = MT_OK;
    if (!g->mock) {
        if (g->q.tee_type != MT_TEE_TDX)
            return deny(g, rs, MT_ERR_ATTESTATION_FAILED, "not a TDX quote");
        e = mt_collateral_store_get(k->collateral, &g->q, mt_clock_now(&k->clock), &pc, why,
                                    sizeof(why));
        if (e != MT_OK) {
            snprintf(g->detail, sizeof(g->detail), "no current collateral: %s", why);
            return deny(g, rs, e == MT_ERR_NOMEM ? e : MT_ERR_COLLATERAL_UNAVAILABLE, g->detail);
        }
        ver = mt_kms_thread_verifier(k);
        if (ver == NULL) {
            mt_prepared_collateral_free(pc);
            return MT_ERR_NOMEM;
        }
        ve = mt_verify_quote_prepared(ver, g->quote, g->quote_len, pc, mt_clock_now(&k->clock),
                                      g->verdict);
        mt_prepared_collateral_free(pc);
        if (ve == MT_ERR_NOMEM)
            return ve;
    }
    /* The reference's order: nonce, then peer binding, then the cryptography. */
    rd = mt_quote_report_data(&g->q);
    if (CRYPTO_memcmp(rd, g->nonce, 32) != 0)
        return deny(g, rs, MT_ERR_INVALID_CHALLENGE,
                    "Attested nonce does not match issued challenge");
    if (CRYPTO_memcmp(rd + 32, app_hash, 32) != 0)
        return deny(g, rs, MT_ERR_PEER_ID_MISMATCH, NULL);
    if (ve != MT_OK) {
        snprintf(g->detail, sizeof(g->detail), "Quote verification failed: %s (%s)%s%s",
                 mt_err_message(ve), mt_err_code(ve), g->verdict->detail[0] ? ": " : "",
                 g->verdict->detail);
        return deny(g, rs, MT_ERR_ATTESTATION_FAILED, g->detail);
    }
    /* Policy applies to real quotes only (1.7 step 7d). */
    if (!g->mock) {
        g->tcb_status = mt_tcb_status_name(g->verdict->tcb.status);
        e = mt_policy_check(g->policy, g->tcb_status, g->q.td.mr_td,
                            (const uint8_t(*)[48])g->q.td.rt_mr, g->detail, sizeof(g->detail));
        if (e != MT_OK)
            return deny(g, rs, e, g->detail);
    }
    *answered = 0;
    return MT_OK;
}

static mt_err
release_key(struct get_key *g, struct mt_kms_response *rs)
{
    struct mt_kms *k = g->k;
    struct mt_secret key;
    char path[512], *hex = NULL;
    json_t *o;
    mt_err e;
    int n;

    memset(&key, 0, sizeof(key));
    /* <prefix>/<profile>/<peerId> (1.14). */
    n = snprintf(path, sizeof(path), "%s/%s/%s", k->cfg->key_prefix, k->cfg->profile, g->peer);
    MT_ENSURE(n > 0 && (size_t)n < sizeof(path), MT_ERR_INTERNAL);
    e = mt_kms_derive_key(k, path, &key, g->detail, sizeof(g->detail));
    if (e == MT_ERR_NOMEM)
        return e;
    if (e != MT_OK)
        return deny(g, rs, MT_ERR_KEY_DERIVATION, g->detail);
    /* Recorded before it is released: no key leaves without its audit line. */
    if (audit(g, MT_OK, 200, rs) != MT_OK) {
        mt_secret_free(&key);
        return deny(g, rs, MT_ERR_AUDIT_UNAVAILABLE, "audit log append failed");
    }
    hex = mt_malloc(2 * key.len + 1);
    if (hex == NULL) {
        mt_secret_free(&key);
        return MT_ERR_NOMEM;
    }
    mt_hex_encode(key.p, key.len, hex);
    mt_secret_free(&key);
    o = json_object();
    if (o == NULL || json_object_set_new(o, "key", json_string(hex)) != 0)
        e = MT_ERR_NOMEM;
    OPENSSL_cleanse(hex, strlen(hex));
    mt_free(hex);
    if (e == MT_OK) {
        rs->secret = 1;
        e = mt_kms_reply_json(rs, 200, o);
    }
    json_decref(o);
    return e; /* counted as released once the line is durable (mt_kms_handle_finish) */
}

mt_err
mt_kms_route_get_key(struct mt_kms *k, const json_t *req, uint64_t request_id,
                     struct mt_kms_response *rs)
{
    const char *challenge_id = mt_kms_field_str(req, "challengeId");
    const char *quote_b64 = mt_kms_field_str(req, "quoteB64");
    struct get_key g;
    unsigned int hl = 32;
    int answered;
    mt_err e;

    memset(&g, 0, sizeof(g));
    g.k = k;
    g.req = req;
    g.request_id = request_id;
    g.peer = mt_kms_field_str(req, "peerId");
    /* 1. peer ID shape */
    if (mt_peer_id_check(g.peer, g.detail, sizeof(g.detail)) != MT_OK) {
        g.peer = NULL; /* not a peer ID: keep it out of the audit log */
        return deny(&g, rs, MT_ERR_INVALID_PEER_ID, g.detail);
    }
    /* 2. challenge ID shape */
    if (!challenge_id_ok(challenge_id))
        return deny(&g, rs, MT_ERR_INVALID_CHALLENGE, "challenge ID must be 32 hex characters");
    /* 3. policy readiness (read once: the request uses this policy throughout) */
    g.policy = mt_kms_policy(k);
    if (g.policy == NULL) {
        mt_kms_policy_reason(k, g.detail, sizeof(g.detail));
        return deny(&g, rs, MT_ERR_POLICY_NOT_READY,
                    g.detail[0] != '\0'
                        ? g.detail
                        : "Attestation policy is not ready yet. Set MERO_KMS_VERSION and "
                          "MERO_KMS_PROFILE, or use explicit USE_ENV_POLICY mode.");
    }
    /* 4. quote base64 */
    if (mt_b64_decode_alloc(quote_b64, strlen(quote_b64), MT_MAX_QUOTE_SIZE, &g.quote,
                            &g.quote_len) != MT_OK)
        return deny(&g, rs, MT_ERR_INVALID_REQUEST, "quoteB64 is not valid base64");
    g.verdict = mt_calloc(1, sizeof(*g.verdict));
    if (g.verdict == NULL) {
        mt_free(g.quote);
        return MT_ERR_NOMEM;
    }
    if (EVP_Digest(g.quote, g.quote_len, g.quote_sha256, &hl, EVP_sha256(), NULL) != 1) {
        e = MT_ERR_CRYPTO;
        goto out;
    }
    /* 5. consume the challenge: from here on it is gone, whatever follows */
    e = k->store->ops->consume(k->store, challenge_id, g.peer, (uint64_t)mt_clock_now(&k->clock),
                               g.nonce);
    if (e != MT_OK) {
        if (e == MT_ERR_NOMEM)
            goto out;
        if (e == MT_ERR_STORE_UNAVAILABLE) {
            e = deny(&g, rs, e, "Challenge store is unavailable");
            goto out;
        }
        snprintf(g.detail, sizeof(g.detail), "Challenge validation failed: %s", mt_err_message(e));
        e = deny(&g, rs, MT_ERR_INVALID_CHALLENGE, g.detail);
        goto out;
    }
    /* 6. peer signature */
    MT_GUARD_GOTO(check_signature(&g, rs, &answered), e, out);
    if (answered)
        goto out;
    /* 7. attestation and policy */
    MT_GUARD_GOTO(check_attestation(&g, rs, &answered), e, out);
    if (answered)
        goto out;
    /* 8-9. the key */
    e = release_key(&g, rs);
out:
    OPENSSL_cleanse(g.nonce, sizeof(g.nonce));
    mt_free(g.verdict);
    mt_free(g.quote);
    return e;
}
