/* Target: mt_kms_handle */

/*
 * The KMS's HTTP semantics (mero-tee-reference.md 1.6-1.9) on hostile
 * requests, in process: no socket, no PCCS, no Redis.  LLVMFuzzerInitialize
 * builds four KMS instances over one simulated TD (a sim PKI as trust root,
 * its collateral pre-loaded into a disk cache, the guest agent on a Unix
 * socket for /attest), each with the memory store, the local key provider,
 * an audit log, PCCS_URLS pointing at a closed port (never contacted: the
 * collateral is cached) and a clock the harness moves one second per run
 * (CHALLENGE_TTL_SECS=1, so earlier runs' challenges have expired):
 *
 *   0 main      ACCEPT_MOCK_ATTESTATION, env policy admitting the TD, CORS on
 *   1 meas      mock refused, ALLOWED_RTMR3 not the TD's (measurement denial)
 *   2 tcb       mock refused, ALLOWED_TCB_STATUSES=outofdate (TCB denial)
 *   3 notready  no USE_ENV_POLICY and no MERO_KMS_VERSION (policy not ready)
 *
 * Input: byte 0, byte 1, then the body.
 *   byte 0  bits 0-2 route: health ready metrics challenge get-key attest
 *                    other get-key ("other": bits 3-5 pick a near-miss path)
 *           bits 3-4 method: the route's, the other one, HEAD, OPTIONS preflight
 *           bit 5    the transport saw more than 64 KiB
 *           bits 6-7 Origin: none, allowed, not allowed, empty
 *   byte 1  bits 0-1 Content-Type: application/json, +json with parameters,
 *                    none, text/plain
 *           bits 2-3 instance (above)
 *           bit 4    issue a real challenge for the harness's node first
 *           bit 5    $QUOTE is a real DCAP quote (else a mock quote)
 *           bit 6    let the challenge expire before the request
 *           bit 7    send the same request twice (replay)
 *   Tokens in the body are replaced before the request: $CID (the issued
 *   challenge id), $PEER and $PK (the node's peer ID and libp2p public key),
 *   $NONCE (the challenge nonce, base64), $QUOTE (a quote over nonce ||
 *   SHA-256(peer), base64), $QUOTEX (the same over nonce || zeros: the
 *   peer binding is wrong), and last $SIG: the node's signature over the
 *   canonical payload of whatever challengeId, quoteB64 and peerId the body
 *   then carries.  So a mutated body passes the signature check and reaches
 *   attestation, policy and key release.
 *
 * Contracts (abort on violation): mt_kms_handle succeeds; the status is one
 * the route documents; a JSON error is {"error": tag, "details": text} with
 * a tag of the reference's table (1.8), the status the table gives, and a
 * tag the route can produce; the only non-JSON errors are the extractor's
 * plain-text 400/413/415/422 and the empty 404/405; success bodies parse;
 * a key is released only for a challenge issued in this run to the node
 * that signed, only once (the replay is refused), only with the secret
 * flag, and equals HKDF of the local root for <prefix>/<profile>/<peer>; no
 * response, header included, carries the local root key (raw, hex, base64)
 * unless the request did (/attest echoes its nonce and binding).
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/core_names.h>

#include "dcap/collateral.h"
#include "dcap/pck.h"
#include "identity/identity.h"
#include "kms/kms.h"
#include "kms/kms_handlers.h"
#include "quote/quote.h"
#include "sim/sim_agent.h"
#include "sim/sim_http.h"
#include "sim/sim_pki.h"
#include "util/mt_alloc.h"
#include "util/mt_b64.h"
#include "util/mt_buf.h"
#include "util/mt_hex.h"
#include "util/mt_limits.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NUM_KMS 4
/* CHALLENGE_TTL_SECS; the clock moves this much per run, expiring the last run's challenges. */
#define TTL 1
/* Instances are rebuilt (clock back to the start) after this much simulated time. */
#define EPOCH_SECS 20000
#define MAX_ENV 24
#define ORIGIN "https://app.example"
#define KEY_PREFIX "merod/storage"

struct env {
    size_t n;
    const char *name[MAX_ENV];
    char value[MAX_ENV][512];
};

static char dir[64];
static struct mt_testpki *pki;
static struct mt_sim_agent *agent;
static struct mt_sim_http *agent_http;
static struct env envs[NUM_KMS];
static struct mt_kms *kms[NUM_KMS];
static int64_t base_now, now;
static EVP_PKEY *node_key;
static char node_peer[MT_PEER_ID_BUF];
static char node_pk_b64[64];
/* The local root key and its text forms: none may ever appear in a response. */
static uint8_t root_key[32];
static char root_forms[4][96];

static void
die(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_kms_request: %s%s%s\n", what, detail[0] ? ": " : "", detail);
    abort();
}

static void
require(int ok, const char *what, const struct mt_kms_response *rs)
{
    if (ok)
        return;
    fprintf(stderr, "fuzz_kms_request: contract broken: %s (status %u, body %.*s)\n", what,
            rs == NULL ? 0 : rs->status, rs == NULL || rs->body == NULL ? 0 : (int)rs->body_len,
            rs == NULL || rs->body == NULL ? "" : rs->body);
    abort();
}

static void
env_set(struct env *v, const char *name, const char *value)
{
    size_t i;

    for (i = 0; i < v->n; i++) {
        if (strcmp(v->name[i], name) == 0)
            break;
    }
    if (i == v->n) {
        if (v->n == MAX_ENV)
            die("too many variables", name);
        v->n++;
    }
    v->name[i] = name;
    snprintf(v->value[i], sizeof(v->value[i]), "%s", value);
}

static const char *
env_get(const char *name, void *arg)
{
    const struct env *v = arg;
    size_t i;

    for (i = 0; i < v->n; i++) {
        if (strcmp(v->name[i], name) == 0)
            return v->value[i];
    }
    return NULL;
}

static void
build_kms(void)
{
    struct mt_kms_config *cfg;
    char why[512];
    int i;

    for (i = 0; i < NUM_KMS; i++) {
        cfg = NULL;
        if (mt_kms_config_load(env_get, &envs[i], &cfg, why, sizeof(why)) != MT_OK)
            die("KMS configuration", why);
        if (mt_kms_new(cfg, mt_clock_fixed(&now), &kms[i], why, sizeof(why)) != MT_OK)
            die("KMS", why);
    }
}

/* Free the instances and start their audit logs over (they only grow). */
static void
free_kms(void)
{
    char path[128];
    int i;

    for (i = 0; i < NUM_KMS; i++) {
        mt_kms_free(kms[i]);
        kms[i] = NULL;
        snprintf(path, sizeof(path), "%s/audit-%d.jsonl", dir, i);
        unlink(path);
    }
}

/* The environment every instance shares; then each one's differences. */
static void
make_envs(void)
{
    uint8_t rtmr[4][48];
    static const char *const rtmr_vars[4] = {"ALLOWED_RTMR0", "ALLOWED_RTMR1", "ALLOWED_RTMR2",
                                             "ALLOWED_RTMR3"};
    char v[512], hex[97];
    int i, j;

    for (i = 0; i < NUM_KMS; i++) {
        struct env *e = &envs[i];

        env_set(e, "LISTEN_ADDR", "127.0.0.1:0");
        snprintf(v, sizeof(v), "%s/dstack.sock", dir);
        env_set(e, "DSTACK_SOCKET_PATH", v);
        env_set(e, "CHALLENGE_TTL_SECS", "1"); /* TTL */
        env_set(e, "MERO_KMS_PROFILE", "locked-read-only");
        snprintf(v, sizeof(v), "%s/no-pin-file", dir);
        env_set(e, "KMS_PROFILE_PIN_FILE", v);
        env_set(e, "KMS_KEY_PROVIDER", "local");
        snprintf(v, sizeof(v), "%s/kms-root.key", dir);
        env_set(e, "KMS_LOCAL_ROOT_KEY_FILE", v);
        snprintf(v, sizeof(v), "%s/root.der", dir);
        env_set(e, "KMS_TRUST_ROOT_FILE", v);
        /* A closed port: a fetch fails at once, and then backs off for 60 s of clock. */
        env_set(e, "PCCS_URLS", "http://127.0.0.1:1");
        snprintf(v, sizeof(v), "%s/collateral", dir);
        env_set(e, "COLLATERAL_CACHE_DIR", v);
        snprintf(v, sizeof(v), "%s/audit-%d.jsonl", dir, i);
        env_set(e, "AUDIT_LOG_PATH", v);
        env_set(e, "KEY_NAMESPACE_PREFIX", KEY_PREFIX);
        if (i == 3)
            continue; /* no policy source at all: degraded */
        env_set(e, "USE_ENV_POLICY", "true");
        env_set(e, "ALLOWED_TCB_STATUSES", i == 2 ? "outofdate" : "uptodate");
        mt_sim_agent_rtmrs(agent, rtmr);
        mt_hex_encode(mt_sim_agent_params(agent)->quote.td.mr_td, 48, hex);
        env_set(e, "ALLOWED_MRTD", hex);
        for (j = 0; j < 4; j++) {
            if (i == 1 && j == 3)
                memset(rtmr[j], 0x33, 48);
            mt_hex_encode(rtmr[j], 48, hex);
            env_set(e, rtmr_vars[j], hex);
        }
    }
    env_set(&envs[0], "ACCEPT_MOCK_ATTESTATION", "true");
    env_set(&envs[0], "CORS_ALLOWED_ORIGINS", ORIGIN ",https://other.example");
}

/* The TD's collateral in the KMS's disk cache, under the name the store looks for. */
static void
seed_collateral(void)
{
    const struct mt_testpki_params *p = mt_sim_agent_params(agent);
    struct mt_collateral *c = NULL;
    char path[256], fmspc[13], *json = NULL;

    snprintf(path, sizeof(path), "%s/collateral", dir);
    if (mkdir(path, 0700) != 0)
        die("mkdir", path);
    if (mt_sim_collateral(pki, p, base_now, MT_SIM_COLLATERAL_GOOD, &c) != MT_OK ||
        mt_collateral_to_json(c, &json) != MT_OK)
        die("collateral", "");
    mt_hex_encode(p->pck.fmspc, 6, fmspc);
    snprintf(path, sizeof(path), "%s/collateral/tdx-%s-%s.json", dir, fmspc,
             mt_pck_ca_name(p->ca_type));
    if (mt_sim_write_private(path, json, strlen(json)) != MT_OK)
        die("write", path);
    mt_free(json);
    mt_collateral_free(c);
}

static void
make_node(void)
{
    static const uint8_t seed[32] = "fuzz_kms_request node key seed.";
    uint8_t pb[MT_LIBP2P_ED25519_PB_LEN];
    char *b64;

    node_key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, sizeof(seed));
    if (node_key == NULL || mt_libp2p_pubkey_encode(node_key, pb) != MT_OK ||
        mt_peer_id_from_pubkey_proto(pb, sizeof(pb), node_peer, sizeof(node_peer)) != MT_OK)
        die("node key", "");
    b64 = mt_b64_encode_alloc(pb, sizeof(pb));
    if (b64 == NULL)
        die("node key", "base64");
    snprintf(node_pk_b64, sizeof(node_pk_b64), "%s", b64);
    mt_free(b64);
}

static void
make_root_key(void)
{
    char path[128], *b;
    size_t i, n;

    for (i = 0; i < 32; i++)
        root_key[i] = (uint8_t)(0xa5 ^ (i * 29));
    snprintf(path, sizeof(path), "%s/kms-root.key", dir);
    if (mt_sim_write_private(path, root_key, sizeof(root_key)) != MT_OK)
        die("write", path);
    mt_hex_encode(root_key, 32, root_forms[0]);
    for (i = 0; root_forms[0][i] != '\0'; i++)
        root_forms[1][i] =
            (char)(root_forms[0][i] >= 'a' ? root_forms[0][i] - 32 : root_forms[0][i]);
    b = mt_b64_encode_alloc(root_key, 32);
    if (b == NULL)
        die("base64", "");
    /* base64 without its padding, then the URL-safe alphabet. */
    n = strlen(b);
    while (n > 0 && b[n - 1] == '=')
        n--;
    snprintf(root_forms[2], sizeof(root_forms[2]), "%.*s", (int)n, b);
    for (i = 0; i < n; i++)
        root_forms[3][i] = b[i] == '+' ? '-' : (b[i] == '/' ? '_' : b[i]);
    mt_free(b);
}

/* ---- the request ------------------------------------------------------- */

struct run {
    int have_challenge;
    char cid[MT_CHALLENGE_ID_HEX + 1];
    uint8_t nonce[32];
};

static int
contains(const char *hay, size_t n, const void *needle, size_t m)
{
    size_t i;

    for (i = 0; m > 0 && i + m <= n; i++) {
        if (memcmp(hay + i, needle, m) == 0)
            return 1;
    }
    return 0;
}

/*
 * A quote over nonce || SHA-256(peer) (zeros instead of the hash unless
 * bound), base64: the TD's, signed by the sim PKI, or a mock one.
 */
static char *
quote_b64(const struct run *r, int real, int bound)
{
    struct mt_testpki_params *p;
    uint8_t rd[64], rtmr[4][48], *q = NULL;
    unsigned int hl = 32;
    size_t n = 0;
    char *b64;
    int i;

    memset(rd, 0, sizeof(rd));
    memcpy(rd, r->nonce, 32);
    if (bound && EVP_Digest(node_peer, strlen(node_peer), rd + 32, &hl, EVP_sha256(), NULL) != 1)
        die("sha256", "");
    if (!real) {
        q = mt_calloc(1, MT_MOCK_QUOTE_SIZE);
        if (q == NULL)
            die("out of memory", "");
        memcpy(q, MT_MOCK_QUOTE_MAGIC, MT_MOCK_QUOTE_MAGIC_LEN);
        memcpy(q + MT_MOCK_QUOTE_MAGIC_LEN, rd, 64);
        n = MT_MOCK_QUOTE_SIZE;
    } else {
        p = mt_malloc(sizeof(*p));
        if (p == NULL)
            die("out of memory", "");
        *p = *mt_sim_agent_params(agent);
        mt_sim_agent_rtmrs(agent, rtmr);
        for (i = 0; i < 4; i++)
            memcpy(p->quote.td.rt_mr[i], rtmr[i], 48);
        memcpy(p->quote.td.report_data, rd, 64);
        if (mt_testpki_quote(pki, p, &q, &n) != MT_OK)
            die("quote", "");
        mt_free(p);
    }
    b64 = mt_b64_encode_alloc(q, n);
    if (b64 == NULL)
        die("out of memory", "");
    mt_free(q);
    return b64;
}

/* POST /challenge for the node through the handler, as merod would. */
static void
issue_challenge(struct mt_kms *k, struct run *r)
{
    struct mt_kms_request rq;
    struct mt_kms_response rs;
    char body[256];
    json_t *o;
    uint8_t *nb = NULL;
    size_t n = 0;
    const char *cid, *nonce;

    snprintf(body, sizeof(body), "{\"peerId\":\"%s\"}", node_peer);
    memset(&rq, 0, sizeof(rq));
    rq.method = "POST";
    rq.path = "/challenge";
    rq.content_type = "application/json";
    rq.body = (const uint8_t *)body;
    rq.body_len = strlen(body);
    if (mt_kms_handle(k, &rq, &rs) != MT_OK)
        die("challenge", "mt_kms_handle failed");
    require(rs.status == 200, "a well-formed challenge was refused", &rs);
    o = json_loadb(rs.body, rs.body_len, 0, NULL);
    cid = json_string_value(json_object_get(o, "challengeId"));
    nonce = json_string_value(json_object_get(o, "nonceB64"));
    require(cid != NULL && mt_kms_challenge_id_valid(cid) && nonce != NULL &&
                mt_b64_decode_alloc(nonce, strlen(nonce), 64, &nb, &n) == MT_OK && n == 32 &&
                json_integer_value(json_object_get(o, "expiresAt")) == now + TTL,
            "challenge response shape", &rs);
    snprintf(r->cid, sizeof(r->cid), "%s", cid);
    memcpy(r->nonce, nb, 32);
    r->have_challenge = 1;
    mt_free(nb);
    json_decref(o);
    mt_kms_response_free(&rs);
}

static void
append(struct mt_buf *b, const void *p, size_t n)
{
    if (mt_buf_append(b, p, n) != MT_OK)
        die("out of memory", "");
}

/*
 * body with each token of names[] replaced by values[]; NUL-terminated
 * (the NUL not counted in *len).
 */
static char *
substitute(const char *body, size_t len, const char *const *names, const char *const *values,
           size_t num, size_t *out_len)
{
    struct mt_buf b;
    size_t i = 0, t, tl;
    char *out;

    mt_buf_init(&b, 4u * MT_KMS_MAX_BODY);
    while (i < len) {
        for (t = 0; t < num; t++) {
            tl = strlen(names[t]);
            if (len - i >= tl && memcmp(body + i, names[t], tl) == 0)
                break;
        }
        if (t < num) {
            append(&b, values[t], strlen(values[t]));
            i += tl;
            continue;
        }
        append(&b, body + i, 1);
        i++;
    }
    append(&b, "", 1);
    out = (char *)mt_buf_take(&b, out_len);
    (*out_len)--;
    mt_buf_free(&b);
    return out;
}

/* The node's signature over the payload of the body's own fields (64 zero bytes if none). */
static char *
sign_body(const char *text, size_t len, const struct run *r)
{
    uint8_t sig[64], qh[32], *q = NULL;
    unsigned int hl = 32;
    const char *cid, *quote, *peer;
    char *payload = NULL;
    size_t ql = 0, pl = 0;
    json_t *o;

    memset(sig, 0, sizeof(sig));
    o = json_loadb(text, len, 0, NULL);
    cid = json_string_value(json_object_get(o, "challengeId"));
    quote = json_string_value(json_object_get(o, "quoteB64"));
    peer = json_string_value(json_object_get(o, "peerId"));
    if (cid != NULL && quote != NULL && peer != NULL &&
        mt_b64_decode_alloc(quote, strlen(quote), MT_MAX_QUOTE_SIZE, &q, &ql) == MT_OK &&
        EVP_Digest(q, ql, qh, &hl, EVP_sha256(), NULL) == 1 &&
        mt_kms_payload(cid, r->nonce, qh, peer, 0, &payload, &pl) == MT_OK) {
        if (mt_ed25519_sign(node_key, (const uint8_t *)payload, pl, sig) != MT_OK)
            die("sign", "");
    }
    mt_free(payload);
    mt_free(q);
    json_decref(o);
    return mt_b64_encode_alloc(sig, sizeof(sig));
}

/* ---- the contracts ------------------------------------------------------ */

static const struct {
    const char *tag;
    unsigned status;
    unsigned routes; /* bit per enum mt_kms_route */
} tags[] = {
#define CH (1u << MT_KMS_ROUTE_CHALLENGE)
#define GK (1u << MT_KMS_ROUTE_GET_KEY)
#define AT (1u << MT_KMS_ROUTE_ATTEST)
    {"invalid_request", 400, GK},
    {"invalid_peer_id", 400, CH | GK},
    {"invalid_attestation_request", 400, AT},
    {"invalid_peer_public_key", 400, GK},
    {"rate_limited", 429, CH},
    {"invalid_challenge", 401, GK},
    {"invalid_signature", 401, GK},
    {"attestation_verification_failed", 401, GK},
    {"mock_attestation_rejected", 401, GK},
    {"peer_identity_mismatch", 401, GK},
    {"peer_id_mismatch", 401, GK},
    {"tcb_status_rejected", 403, GK},
    {"measurement_policy_rejected", 403, GK},
    {"policy_not_ready", 503, GK},
    {"key_derivation_failed", 500, GK},
    /* not in the reference: server-side failures are 5xx here (docs/errors.md) */
    {"service_unavailable", 503, CH | GK},
    {"dstack_unavailable", 503, AT},
    {"dstack_response", 502, AT},
#undef CH
#undef GK
#undef AT
};

/* Statuses each route may answer with, beyond the generic 404/405 and the extractor's. */
static int
status_documented(enum mt_kms_route route, unsigned s)
{
    switch (route) {
    case MT_KMS_ROUTE_HEALTH:
    case MT_KMS_ROUTE_METRICS:
        return s == 200 || s == 405;
    case MT_KMS_ROUTE_READY:
        return s == 200 || s == 503 || s == 405;
    case MT_KMS_ROUTE_CHALLENGE:
        return s == 200 || s == 400 || s == 405 || s == 413 || s == 415 || s == 422 || s == 429 ||
               s == 503;
    case MT_KMS_ROUTE_GET_KEY:
        return s == 200 || s == 400 || s == 401 || s == 403 || s == 405 || s == 413 || s == 415 ||
               s == 422 || s == 500 || s == 503;
    case MT_KMS_ROUTE_ATTEST:
        return s == 200 || s == 400 || s == 405 || s == 413 || s == 415 || s == 422 || s == 502 ||
               s == 503;
    case MT_KMS_ROUTE_OTHER:
        return s == 404;
    default:
        return 0;
    }
}

/* Whether p[0..n) holds the root key raw or in one of its text forms. */
static int
has_root(const char *p, size_t n)
{
    size_t i;

    if (contains(p, n, root_key, sizeof(root_key)))
        return 1;
    for (i = 0; i < sizeof(root_forms) / sizeof(root_forms[0]); i++) {
        if (contains(p, n, root_forms[i], strlen(root_forms[i])))
            return 1;
    }
    return 0;
}

/*
 * Whether the request itself carries the root key (a caller who knows it
 * may send it as the /attest nonce, which is echoed): in the raw body, or
 * in a top-level string field, as text or base64.
 */
static int
request_has_root(const struct mt_kms_request *rq)
{
    const char *name, *v;
    uint8_t *b = NULL;
    size_t n = 0;
    json_t *o, *val;
    int found;

    found = has_root((const char *)rq->body, rq->body_len);
    o = json_loadb((const char *)rq->body, rq->body_len, 0, NULL);
    json_object_foreach(o, name, val)
    {
        v = json_string_value(val);
        if (found || v == NULL)
            continue;
        found = has_root(v, json_string_length(val));
        if (!found && mt_b64_decode_alloc(v, strlen(v), MT_KMS_MAX_BODY, &b, &n) == MT_OK) {
            found = has_root((const char *)b, n);
            mt_free(b);
            b = NULL;
        }
    }
    json_decref(o);
    return found;
}

static void
check_no_root_key(const struct mt_kms_request *rq, const struct mt_kms_response *rs)
{
    size_t i, j;

    if (request_has_root(rq))
        return;

    require(!contains(rs->body, rs->body_len, root_key, sizeof(root_key)),
            "root key bytes in the body", rs);
    for (i = 0; i < sizeof(root_forms) / sizeof(root_forms[0]); i++) {
        require(!contains(rs->body, rs->body_len, root_forms[i], strlen(root_forms[i])),
                "root key text in the body", rs);
        for (j = 0; j < rs->num_headers; j++)
            require(strstr(rs->header_value[j], root_forms[i]) == NULL, "root key text in a header",
                    rs);
    }
}

/* The key the local provider must release for the node. */
static void
expected_key(const char *profile, char hex[65])
{
    OSSL_PARAM params[5];
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *ctx = kdf == NULL ? NULL : EVP_KDF_CTX_new(kdf);
    uint8_t key[32];
    char path[512];

    EVP_KDF_free(kdf);
    if (ctx == NULL)
        die("hkdf", "");
    snprintf(path, sizeof(path), "%s/%s/%s", KEY_PREFIX, profile, node_peer);
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, root_key, 32);
    params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (char *)"mero-kms-local-v1",
                                                  strlen("mero-kms-local-v1"));
    params[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, path, strlen(path));
    params[4] = OSSL_PARAM_construct_end();
    if (EVP_KDF_derive(ctx, key, sizeof(key), params) != 1)
        die("hkdf", "");
    EVP_KDF_CTX_free(ctx);
    mt_hex_encode(key, 32, hex);
    OPENSSL_cleanse(key, sizeof(key));
}

static void
check(const struct mt_kms *k, const struct mt_kms_request *rq, const struct mt_kms_response *rs,
      const struct run *r, int replay)
{
    const char *tag, *details, *key;
    char want[65];
    json_t *o = NULL;
    int preflight, released;
    size_t i;

    require(rs->body != NULL && strlen(rs->body) == rs->body_len, "body length", rs);
    require(status_documented(rs->route, rs->status) ||
                (rs->status == 200 && strcmp(rq->method, "OPTIONS") == 0 &&
                 rs->route != MT_KMS_ROUTE_OTHER),
            "status not documented for the route", rs);
    check_no_root_key(rq, rs);
    /* A CORS preflight is answered by the layer: 200, empty, no handler ran. */
    preflight = strcmp(rq->method, "OPTIONS") == 0 && rs->status == 200;
    require(!preflight || (k->cfg->num_cors_origins > 0 && rs->body_len == 0),
            "preflight answered without CORS", rs);
    released = !preflight && rs->route == MT_KMS_ROUTE_GET_KEY && rs->status == 200;
    require(rs->secret == released, "secret flag", rs);
    if (rs->content_type != NULL && strcmp(rs->content_type, "application/json") == 0) {
        o = json_loadb(rs->body, rs->body_len, 0, NULL);
        require(json_is_object(o), "JSON body is not an object", rs);
    } else if (rs->status >= 400) {
        /* axum's extractor rejections (plain text) and the empty 404/405 (1.6) */
        require(((rs->status == 404 || rs->status == 405) && rs->body_len == 0) ||
                    ((rs->status == 400 || rs->status == 413 || rs->status == 415 ||
                      rs->status == 422) &&
                     rs->content_type != NULL && rs->body_len > 0),
                "error without the JSON error body", rs);
    }
    if (o != NULL && rs->route == MT_KMS_ROUTE_READY) {
        /* /ready's 503 is its own report, not an error body */
        require(json_is_boolean(json_object_get(o, "ready")) &&
                    json_is_true(json_object_get(o, "ready")) == (rs->status == 200) &&
                    json_is_array(json_object_get(o, "reasons")) &&
                    (json_array_size(json_object_get(o, "reasons")) == 0) == (rs->status == 200),
                "ready report", rs);
    } else if (o != NULL && rs->status >= 400) {
        tag = json_string_value(json_object_get(o, "error"));
        details = json_string_value(json_object_get(o, "details"));
        require(tag != NULL && details != NULL && details[0] != '\0' && json_object_size(o) == 2,
                "error body is not {error, details}", rs);
        for (i = 0; i < sizeof(tags) / sizeof(tags[0]); i++) {
            if (strcmp(tags[i].tag, tag) == 0)
                break;
        }
        require(i < sizeof(tags) / sizeof(tags[0]), "unknown error tag", rs);
        require(tags[i].status == rs->status, "status does not match the tag", rs);
        require((tags[i].routes & (1u << rs->route)) != 0, "tag the route cannot produce", rs);
    }
    if (released) {
        require(!replay, "a challenge released a key twice", rs);
        require(r->have_challenge, "key released without an issued challenge", rs);
        require(k->cfg->policy_ready, "key released while the policy is not ready", rs);
        key = json_string_value(json_object_get(o, "key"));
        expected_key(k->cfg->profile, want);
        require(key != NULL && json_object_size(o) == 1 && strcmp(key, want) == 0,
                "released key is not the node's", rs);
    }
    json_decref(o);
}

/* ---- one run ------------------------------------------------------------ */

static const char *const other_paths[] = {"/",        "/get-key/", "/GET-KEY", "/challenge?x=1",
                                          "/health ", "//health",  "/attest/", ""};

/* One input; returns the status of the (first) response. */
static unsigned
run_input(const uint8_t *data, size_t size)
{
    static const char *const paths[] = {"/health",  "/ready",  "/metrics", "/challenge",
                                        "/get-key", "/attest", NULL,       "/get-key"};
    static const char *const ctypes[] = {
        "application/json", "application/problem+json; charset=utf-8", NULL, "text/plain"};
    static const char *const origins[] = {NULL, ORIGIN, "https://evil.example", ""};
    struct mt_kms_request rq;
    struct mt_kms_response rs;
    struct run r;
    struct mt_kms *k;
    const uint8_t *body = data + 2;
    const char *names[6], *values[6], *def_method;
    char *text1 = NULL, *text2 = NULL, *nonce_b64 = NULL, *sig_b64 = NULL;
    char *quote = NULL, *quote_x = NULL;
    size_t len1 = 0, len2 = 0;
    int real = (data[1] & 0x20) != 0;
    unsigned route, method, status = 0;
    int pass;

    now += TTL;
    if (now - base_now > EPOCH_SECS) {
        free_kms();
        now = base_now;
        build_kms();
    }
    memset(&r, 0, sizeof(r));
    snprintf(r.cid, sizeof(r.cid), "00112233445566778899aabbccddeeff");
    k = kms[(data[1] >> 2) & 3];
    route = data[0] & 7;
    method = (data[0] >> 3) & 3;
    if ((data[1] & 0x10) != 0)
        issue_challenge(k, &r);
    if ((data[1] & 0x40) != 0)
        now += TTL;
    /* Quotes only when asked for: a real one costs a signature. */
    quote = contains((const char *)body, size - 2, "$QUOTE", 6) ? quote_b64(&r, real, 1) : NULL;
    quote_x = contains((const char *)body, size - 2, "$QUOTEX", 7) ? quote_b64(&r, real, 0) : NULL;
    nonce_b64 = mt_b64_encode_alloc(r.nonce, 32);
    if (nonce_b64 == NULL)
        die("out of memory", "");
    names[0] = "$CID", values[0] = r.cid;
    names[1] = "$PEER", values[1] = node_peer;
    names[2] = "$PK", values[2] = node_pk_b64;
    names[3] = "$NONCE", values[3] = nonce_b64;
    names[4] = "$QUOTEX", values[4] = quote_x != NULL ? quote_x : "";
    names[5] = "$QUOTE", values[5] = quote != NULL ? quote : "";
    text1 = substitute((const char *)body, size - 2, names, values, 6, &len1);
    sig_b64 = sign_body(text1, len1, &r);
    if (sig_b64 == NULL)
        die("out of memory", "");
    names[0] = "$SIG", values[0] = sig_b64;
    text2 = substitute(text1, len1, names, values, 1, &len2);

    memset(&rq, 0, sizeof(rq));
    rq.path = paths[route] != NULL ? paths[route] : other_paths[(data[0] >> 3) & 7];
    def_method = route < 3 || route == 6 ? "GET" : "POST";
    rq.method = method == 0   ? def_method
                : method == 1 ? (def_method[0] == 'G' ? "POST" : "GET")
                : method == 2 ? "HEAD"
                              : "OPTIONS";
    if (method == 3)
        rq.acr_method = "POST";
    rq.content_type = ctypes[data[1] & 3];
    rq.origin = origins[data[0] >> 6];
    rq.body = (const uint8_t *)text2;
    rq.body_len = len2;
    rq.body_too_large = (data[0] & 0x20) != 0;
    for (pass = 0; pass < ((data[1] & 0x80) != 0 ? 2 : 1); pass++) {
        if (mt_kms_handle(k, &rq, &rs) != MT_OK)
            die("mt_kms_handle failed", "");
        check(k, &rq, &rs, &r, pass);
        if (pass == 0)
            status = rs.status;
        mt_kms_response_free(&rs);
    }
    mt_free(text1);
    mt_free(text2);
    mt_free(sig_b64);
    mt_free(quote);
    mt_free(quote_x);
    mt_free(nonce_b64);
    OPENSSL_cleanse(r.nonce, sizeof(r.nonce));
    return status;
}

/*
 * The harness reaches what it claims: a well-formed /get-key releases the key
 * for a mock and for a real quote, and each other instance denies as meant.
 */
static void
self_test(void)
{
    static const struct {
        uint8_t b1;
        unsigned want;
    } cases[] = {
        {0x10, 200},        /* main, mock quote */
        {0x30, 200},        /* main, real quote */
        {0x30 | 0x80, 200}, /* main, real quote, replayed (the replay must fail) */
        {0x34, 403},        /* meas: RTMR3 not allowed */
        {0x38, 403},        /* tcb: UpToDate not allowed */
        {0x14, 401},        /* meas: mock refused */
        {0x3c, 503},        /* notready */
        {0x70, 401},        /* main, challenge expired */
    };
    static const char body[] = "{\"challengeId\":\"$CID\",\"quoteB64\":\"$QUOTE\",\"peerId\":"
                               "\"$PEER\",\"peerPublicKeyB64\":\"$PK\",\"signatureB64\":\"$SIG\"}";
    uint8_t in[sizeof(body) + 1];
    char got[64];
    size_t i;
    unsigned s;

    memcpy(in + 2, body, sizeof(body) - 1);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        in[0] = 4; /* POST /get-key */
        in[1] = cases[i].b1;
        s = run_input(in, sizeof(in));
        if (s != cases[i].want) {
            snprintf(got, sizeof(got), "case %zu: status %u, want %u", i, s, cases[i].want);
            die("self test", got);
        }
    }
}

/* rm -r of the harness's own directory (two levels: files and collateral/). */
static void
remove_tree(const char *path, int depth)
{
    char child[512];
    struct dirent *d;
    DIR *dp;

    dp = opendir(path);
    if (dp == NULL)
        return;
    while ((d = readdir(dp)) != NULL) {
        if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0)
            continue;
        snprintf(child, sizeof(child), "%s/%s", path, d->d_name);
        if (unlink(child) != 0 && depth < 2)
            remove_tree(child, depth + 1);
    }
    closedir(dp);
    rmdir(path);
}

/* At exit: everything freed (LeakSanitizer stays quiet) and the directory gone. */
static void
cleanup(void)
{
    free_kms();
    mt_sim_http_stop(agent_http);
    mt_sim_agent_free(agent);
    mt_testpki_free(pki);
    EVP_PKEY_free(node_key);
    OPENSSL_cleanse(root_key, sizeof(root_key));
    remove_tree(dir, 0);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct mt_sim_machine *m = NULL;
    char why[512], sock[128];

    (void)argc;
    (void)argv;
    /* tmpfs when there is one: the audit log fsyncs every line. */
    snprintf(dir, sizeof(dir), "%s/fuzz-kms-XXXXXX",
             access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    if (mkdtemp(dir) == NULL)
        die("mkdtemp", dir);
    base_now = now = (int64_t)time(NULL);
    if (mt_sim_pki_init(dir, 0, why, sizeof(why)) != MT_OK ||
        mt_sim_pki_load(dir, &pki, why, sizeof(why)) != MT_OK)
        die("sim pki", why);
    if (mt_sim_machine_default("locked-read-only", &m) != MT_OK ||
        mt_sim_agent_new(m, pki, base_now, &agent) != MT_OK)
        die("sim agent", "");
    snprintf(sock, sizeof(sock), "%s/dstack.sock", dir);
    if (mt_sim_http_start(sock, agent, &agent_http) != MT_OK)
        die("sim agent socket", sock);
    seed_collateral();
    make_root_key();
    make_node();
    make_envs();
    build_kms();
    if (atexit(cleanup) != 0)
        die("atexit", "");
    self_test();
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size >= 2)
        (void)run_input(data, size);
    return 0;
}
