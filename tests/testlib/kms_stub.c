#include "mt_testlib.h"
#include "kms_stub.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <microhttpd.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "dstack/dstack_client.h"
#include "identity/identity.h"
#include "quote/quote.h"
#include "util/mt_alloc.h"
#include "util/mt_b64.h"
#include "util/mt_hex.h"

#define STUB_MAX_REQUEST (2u * 1024u * 1024u)

const uint8_t kms_stub_default_key[32] = {
    0x6b, 0x6d, 0x73, 0x2d, 0x73, 0x74, 0x75, 0x62, 0x2d, 0x6b, 0x65, 0x79, 0x00, 0x01, 0x02, 0x03,
    0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13,
};

struct scripted {
    unsigned status;
    char *body; /* NULL: default behaviour */
};

struct kms_stub {
    struct MHD_Daemon *daemon;
    char url[64];
    char *dstack_socket;
    pthread_mutex_t lock;

    /* guarded by lock */
    struct scripted script[KMS_STUB__COUNT];
    char *attest_rd;        /* reportDataHex override */
    char *attest_event_log; /* eventLog override */
    char *challenge_id;     /* challengeId override */
    char *challenge_nonce;  /* nonceB64 override */
    char *key_text;
    int accept_mock;
    unsigned count[KMS_STUB__COUNT];
    char *last_body[KMS_STUB__COUNT];
    char *last_path;
    char *last_verdict;
    int last_alphabetical;
    /* the one pending challenge */
    int pending;
    char *pending_id;
    char *pending_peer;
    uint8_t pending_nonce[32];
};

/* A request being received. */
struct request {
    char *body;
    size_t len;
    int too_large;
};

/* An answer: status and body (malloc'd). */
struct answer {
    unsigned status;
    char *body;
};

static char *
dup_or_null(const char *s)
{
    char *d;

    if (s == NULL)
        return NULL;
    d = strdup(s);
    assert_non_null(d);
    return d;
}

static void
replace(char **slot, const char *s)
{
    free(*slot);
    *slot = dup_or_null(s);
}

/* {"error": tag, "details": details} with the table's status. */
static void
answer_error(struct answer *a, mt_err e, const char *details)
{
    json_t *j = json_pack("{s:s, s:s}", "error", mt_err_tag(e)[0] != '\0' ? mt_err_tag(e) : "error",
                          "details", details != NULL ? details : mt_err_message(e));

    assert_non_null(j);
    a->status = (unsigned)mt_err_http_status(e);
    a->body = json_dumps(j, JSON_COMPACT);
    assert_non_null(a->body);
    json_decref(j);
}

static void
answer_json(struct answer *a, json_t *j)
{
    assert_non_null(j);
    a->status = 200;
    a->body = json_dumps(j, JSON_COMPACT);
    assert_non_null(a->body);
    json_decref(j);
}

/* Decode b64 of exactly n bytes; 0 on any failure. */
static int
b64_exact(const char *s, uint8_t *out, size_t n)
{
    uint8_t *b = NULL;
    size_t len = 0;

    if (mt_b64_decode_alloc(s, strlen(s), 4096, &b, &len) != MT_OK)
        return 0;
    if (len != n) {
        mt_free(b);
        return 0;
    }
    memcpy(out, b, n);
    mt_free(b);
    return 1;
}

static void
do_attest(struct kms_stub *s, json_t *req, struct answer *a)
{
    json_t *nonce = json_object_get(req, "nonceB64"), *bind = json_object_get(req, "bindingB64");
    struct mt_dstack_opts o;
    struct mt_dstack_client *c = NULL;
    struct mt_dstack_quote dq;
    uint8_t rd[64], mock[MT_MOCK_QUOTE_SIZE];
    const uint8_t *quote;
    size_t quote_len;
    char rd_hex[129], *qb64, *rd_override, *el_override;
    json_t *resp, *el = NULL;

    if (!json_is_string(nonce) || (bind != NULL && !json_is_null(bind) && !json_is_string(bind))) {
        answer_error(a, MT_ERR_JSON_FIELD, "missing field");
        return;
    }
    if (!b64_exact(json_string_value(nonce), rd, 32)) {
        answer_error(a, MT_ERR_INVALID_ATTESTATION_REQUEST, "nonceB64 must be exactly 32 bytes");
        return;
    }
    if (json_is_string(bind)) {
        if (!b64_exact(json_string_value(bind), rd + 32, 32)) {
            answer_error(a, MT_ERR_INVALID_ATTESTATION_REQUEST,
                         "bindingB64 must be exactly 32 bytes");
            return;
        }
    } else {
        memcpy(rd + 32, mt_kms_default_binding, 32);
    }
    memset(&dq, 0, sizeof(dq));
    if (s->dstack_socket != NULL) {
        mt_dstack_opts_init(&o);
        o.socket_path = s->dstack_socket;
        if (mt_dstack_client_new(&o, &c) != MT_OK || mt_dstack_get_quote(c, rd, 64, &dq) != MT_OK) {
            mt_dstack_client_free(c);
            answer_error(a, MT_ERR_ATTESTATION_FAILED, "dstack GetQuote failed");
            return;
        }
        mt_dstack_client_free(c);
        quote = dq.quote;
        quote_len = dq.quote_len;
    } else {
        memset(mock, 0, sizeof(mock));
        memcpy(mock, MT_MOCK_QUOTE_MAGIC, MT_MOCK_QUOTE_MAGIC_LEN);
        memcpy(mock + MT_MOCK_QUOTE_MAGIC_LEN, rd, 64);
        quote = mock;
        quote_len = sizeof(mock);
    }
    qb64 = mt_b64_encode_alloc(quote, quote_len);
    assert_non_null(qb64);
    mt_hex_encode(rd, 64, rd_hex);
    pthread_mutex_lock(&s->lock);
    rd_override = dup_or_null(s->attest_rd);
    el_override = dup_or_null(s->attest_event_log);
    pthread_mutex_unlock(&s->lock);
    resp = json_pack("{s:s, s:s}", "quoteB64", qb64, "reportDataHex",
                     rd_override != NULL ? rd_override : rd_hex);
    assert_non_null(resp);
    if (el_override != NULL) {
        if (el_override[0] != '\0')
            el = json_loads(el_override, 0, NULL);
    } else if (dq.event_log != NULL) {
        el = json_loads(dq.event_log, 0, NULL);
    }
    if (el != NULL)
        assert_int_equal(json_object_set_new(resp, "eventLog", el), 0);
    assert_int_equal(json_object_set_new(resp, "vmConfig",
                                         json_string(dq.vm_config != NULL ? dq.vm_config : "")),
                     0);
    answer_json(a, resp);
    mt_free(qb64);
    free(rd_override);
    free(el_override);
    mt_dstack_quote_free(&dq);
}

static void
do_challenge(struct kms_stub *s, json_t *req, struct answer *a)
{
    json_t *peer = json_object_get(req, "peerId");
    uint8_t nonce[32], idb[16];
    char id[33], detail[128], *nb64;
    json_t *resp;

    if (!json_is_string(peer)) {
        answer_error(a, MT_ERR_JSON_FIELD, "missing field peerId");
        return;
    }
    if (mt_peer_id_check(json_string_value(peer), detail, sizeof(detail)) != MT_OK) {
        answer_error(a, MT_ERR_INVALID_PEER_ID, detail);
        return;
    }
    assert_int_equal(RAND_bytes(nonce, 32), 1);
    assert_int_equal(RAND_bytes(idb, 16), 1);
    mt_hex_encode(idb, 16, id);
    nb64 = mt_b64_encode_alloc(nonce, 32);
    assert_non_null(nb64);
    pthread_mutex_lock(&s->lock);
    if (s->challenge_nonce != NULL && !b64_exact(s->challenge_nonce, nonce, 32))
        memset(nonce, 0, 32);
    resp =
        json_pack("{s:s, s:s, s:I}", "challengeId", s->challenge_id != NULL ? s->challenge_id : id,
                  "nonceB64", s->challenge_nonce != NULL ? s->challenge_nonce : nb64, "expiresAt",
                  (json_int_t)time(NULL) + 60);
    replace(&s->pending_id, s->challenge_id != NULL ? s->challenge_id : id);
    replace(&s->pending_peer, json_string_value(peer));
    memcpy(s->pending_nonce, nonce, 32);
    s->pending = 1;
    pthread_mutex_unlock(&s->lock);
    mt_free(nb64);
    answer_json(a, resp);
}

static int
hex32(const char *s)
{
    size_t i;

    for (i = 0; s[i] != '\0'; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
              (s[i] >= 'A' && s[i] <= 'F')))
            return 0;
    }
    return i == 32;
}

/* The KMS's /get-key checks without DCAP; returns the verdict tag ("ok" or the error's). */
static const char *
get_key_checks(struct kms_stub *s, json_t *req, struct answer *a)
{
    const char *f[5] = {"challengeId", "quoteB64", "peerId", "peerPublicKeyB64", "signatureB64"};
    const char *v[5];
    uint8_t *quote = NULL, *pk = NULL, *sig = NULL, nonce[32], qhash[32], phash[32];
    size_t quote_len = 0, pk_len = 0, sig_len = 0;
    char detail[128], *key_text;
    struct mt_quote q;
    EVP_PKEY *key = NULL;
    int have = 0, alpha = 0, accept_mock;
    const char *verdict = "ok";
    mt_err e;

    for (size_t i = 0; i < 5; i++) {
        json_t *x = json_object_get(req, f[i]);

        if (!json_is_string(x)) {
            answer_error(a, MT_ERR_JSON_FIELD, f[i]);
            return "missing_field";
        }
        v[i] = json_string_value(x);
    }
    if (mt_peer_id_check(v[2], detail, sizeof(detail)) != MT_OK) {
        answer_error(a, MT_ERR_INVALID_PEER_ID, detail);
        return "invalid_peer_id";
    }
    if (!hex32(v[0])) {
        answer_error(a, MT_ERR_INVALID_CHALLENGE, "challenge ID must be 32 hex characters");
        return "invalid_challenge";
    }
    if (mt_b64_decode_alloc(v[1], strlen(v[1]), 1024 * 1024, &quote, &quote_len) != MT_OK) {
        answer_error(a, MT_ERR_INVALID_REQUEST, "bad quoteB64");
        return "invalid_request";
    }
    /* consume: single use even when later checks fail */
    pthread_mutex_lock(&s->lock);
    if (s->pending && strcmp(s->pending_id, v[0]) == 0) {
        have = strcmp(s->pending_peer, v[2]) == 0 ? 1 : -1;
        memcpy(nonce, s->pending_nonce, 32);
        s->pending = 0;
    }
    accept_mock = s->accept_mock;
    pthread_mutex_unlock(&s->lock);
    if (have != 1) {
        answer_error(a, MT_ERR_INVALID_CHALLENGE,
                     have == 0 ? "Challenge validation failed: challenge not found or expired"
                               : "Challenge validation failed: challenge peer mismatch");
        verdict = "invalid_challenge";
        goto out;
    }
    if (mt_b64_decode_alloc(v[3], strlen(v[3]), 4096, &pk, &pk_len) != MT_OK) {
        answer_error(a, MT_ERR_INVALID_PEER_PUBLIC_KEY, "bad base64");
        verdict = "invalid_peer_public_key";
        goto out;
    }
    if (mt_b64_decode_alloc(v[4], strlen(v[4]), 4096, &sig, &sig_len) != MT_OK) {
        answer_error(a, MT_ERR_INVALID_SIGNATURE, "bad base64");
        verdict = "invalid_signature";
        goto out;
    }
    e = mt_peer_id_verify_pubkey(v[2], strlen(v[2]), pk, pk_len, &key);
    if (e != MT_OK) {
        answer_error(a, e, NULL);
        verdict = mt_err_tag(e);
        goto out;
    }
    SHA256(quote, quote_len, qhash);
    e = mt_kms_payload_verify(v[0], nonce, qhash, v[2], key, sig, sig_len, &alpha);
    if (e != MT_OK) {
        answer_error(a, MT_ERR_INVALID_SIGNATURE, "signature verification failed");
        verdict = "invalid_signature";
        goto out;
    }
    if (mt_quote_is_mock(quote, quote_len) && !accept_mock) {
        answer_error(a, MT_ERR_MOCK_REJECTED, NULL);
        verdict = "mock_attestation_rejected";
        goto out;
    }
    if (mt_quote_parse(quote, quote_len, &q) != MT_OK) {
        answer_error(a, MT_ERR_ATTESTATION_FAILED, "Failed to parse quote");
        verdict = "attestation_verification_failed";
        goto out;
    }
    SHA256((const uint8_t *)v[2], strlen(v[2]), phash);
    if (memcmp(mt_quote_report_data(&q), nonce, 32) != 0) {
        answer_error(a, MT_ERR_INVALID_CHALLENGE, "Attested nonce does not match issued challenge");
        verdict = "invalid_challenge";
        goto out;
    }
    if (memcmp(mt_quote_report_data(&q) + 32, phash, 32) != 0) {
        answer_error(a, MT_ERR_PEER_ID_MISMATCH, NULL);
        verdict = "peer_id_mismatch";
        goto out;
    }
    pthread_mutex_lock(&s->lock);
    key_text = dup_or_null(s->key_text);
    s->last_alphabetical = alpha;
    pthread_mutex_unlock(&s->lock);
    answer_json(a, json_pack("{s:s}", "key", key_text));
    free(key_text);
out:
    EVP_PKEY_free(key);
    mt_free(quote);
    mt_free(pk);
    mt_free(sig);
    return verdict;
}

static enum kms_stub_ep
route(const char *url)
{
    const char *last = strrchr(url, '/');

    last = last == NULL ? url : last + 1;
    if (strcmp(last, "attest") == 0)
        return KMS_STUB_ATTEST;
    if (strcmp(last, "challenge") == 0)
        return KMS_STUB_CHALLENGE;
    if (strcmp(last, "get-key") == 0)
        return KMS_STUB_GET_KEY;
    return KMS_STUB_OTHER;
}

static enum MHD_Result
send_answer(struct MHD_Connection *c, struct answer *a)
{
    struct MHD_Response *r;
    enum MHD_Result ret;
    char *body = a->body != NULL ? a->body : strdup("");

    assert_non_null(body);
    r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    if (r == NULL) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    ret = MHD_queue_response(c, a->status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
           const char *version, const char *upload_data, size_t *upload_size, void **con_cls)
{
    struct kms_stub *s = cls;
    struct request *rq = *con_cls;
    struct answer a = {0, NULL};
    enum kms_stub_ep ep;
    json_t *req;
    const char *verdict;

    (void)version;
    if (rq == NULL) {
        rq = calloc(1, sizeof(*rq));
        if (rq == NULL)
            return MHD_NO;
        *con_cls = rq;
        return MHD_YES;
    }
    if (*upload_size > 0) {
        if (rq->len + *upload_size > STUB_MAX_REQUEST) {
            rq->too_large = 1;
        } else {
            char *nb = realloc(rq->body, rq->len + *upload_size + 1);

            if (nb == NULL)
                return MHD_NO;
            memcpy(nb + rq->len, upload_data, *upload_size);
            rq->len += *upload_size;
            nb[rq->len] = '\0';
            rq->body = nb;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    ep = route(url);
    pthread_mutex_lock(&s->lock);
    s->count[ep]++;
    replace(&s->last_path, url);
    replace(&s->last_body[ep], rq->body != NULL ? rq->body : "");
    if (s->script[ep].body != NULL) {
        a.status = s->script[ep].status;
        a.body = strdup(s->script[ep].body);
    }
    pthread_mutex_unlock(&s->lock);
    if (a.body != NULL)
        return send_answer(c, &a);
    if (ep == KMS_STUB_OTHER) {
        a.status = 404;
        return send_answer(c, &a);
    }
    if (strcmp(method, MHD_HTTP_METHOD_POST) != 0) {
        a.status = 405;
        return send_answer(c, &a);
    }
    if (rq->too_large) {
        a.status = 413;
        return send_answer(c, &a);
    }
    req = json_loads(rq->body != NULL ? rq->body : "", 0, NULL);
    if (!json_is_object(req)) {
        json_decref(req);
        a.status = 400;
        a.body = strdup("malformed JSON");
        return send_answer(c, &a);
    }
    switch (ep) {
    case KMS_STUB_ATTEST:
        do_attest(s, req, &a);
        break;
    case KMS_STUB_CHALLENGE:
        do_challenge(s, req, &a);
        break;
    default:
        verdict = get_key_checks(s, req, &a);
        pthread_mutex_lock(&s->lock);
        replace(&s->last_verdict, verdict);
        pthread_mutex_unlock(&s->lock);
        break;
    }
    json_decref(req);
    return send_answer(c, &a);
}

static void
on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
             enum MHD_RequestTerminationCode toe)
{
    struct request *rq = *con_cls;

    (void)cls;
    (void)c;
    (void)toe;
    if (rq == NULL)
        return;
    free(rq->body);
    free(rq);
    *con_cls = NULL;
}

struct kms_stub *
kms_stub_start(const char *dstack_socket)
{
    struct kms_stub *s = calloc(1, sizeof(*s));
    struct sockaddr_in sin;
    const union MHD_DaemonInfo *info;
    char key_hex[65];

    assert_non_null(s);
    assert_int_equal(pthread_mutex_init(&s->lock, NULL), 0);
    s->dstack_socket = dup_or_null(dstack_socket);
    mt_hex_encode(kms_stub_default_key, 32, key_hex);
    s->key_text = dup_or_null(key_hex);
    s->accept_mock = 1;
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = 0;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0,
                                 NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR,
                                 (struct sockaddr *)&sin, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
                                 NULL, MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_END);
    assert_non_null(s->daemon);
    info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    assert_non_null(info);
    snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%u", (unsigned)info->port);
    return s;
}

void
kms_stub_stop(struct kms_stub *s)
{
    size_t i;

    if (s == NULL)
        return;
    MHD_stop_daemon(s->daemon);
    for (i = 0; i < KMS_STUB__COUNT; i++) {
        free(s->script[i].body);
        free(s->last_body[i]);
    }
    free(s->dstack_socket);
    free(s->attest_rd);
    free(s->attest_event_log);
    free(s->challenge_id);
    free(s->challenge_nonce);
    free(s->key_text);
    free(s->last_path);
    free(s->last_verdict);
    free(s->pending_id);
    free(s->pending_peer);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

const char *
kms_stub_url(const struct kms_stub *s)
{
    return s->url;
}

void
kms_stub_script(struct kms_stub *s, enum kms_stub_ep ep, unsigned status, const char *body)
{
    pthread_mutex_lock(&s->lock);
    s->script[ep].status = status;
    replace(&s->script[ep].body, body);
    pthread_mutex_unlock(&s->lock);
}

void
kms_stub_set_attest_report_data(struct kms_stub *s, const char *text)
{
    pthread_mutex_lock(&s->lock);
    replace(&s->attest_rd, text);
    pthread_mutex_unlock(&s->lock);
}

void
kms_stub_set_attest_event_log(struct kms_stub *s, const char *json)
{
    pthread_mutex_lock(&s->lock);
    replace(&s->attest_event_log, json);
    pthread_mutex_unlock(&s->lock);
}

void
kms_stub_set_challenge(struct kms_stub *s, const char *id, const char *nonce_b64)
{
    pthread_mutex_lock(&s->lock);
    replace(&s->challenge_id, id);
    replace(&s->challenge_nonce, nonce_b64);
    pthread_mutex_unlock(&s->lock);
}

void
kms_stub_set_key(struct kms_stub *s, const char *key_text)
{
    pthread_mutex_lock(&s->lock);
    replace(&s->key_text, key_text);
    pthread_mutex_unlock(&s->lock);
}

void
kms_stub_accept_mock(struct kms_stub *s, int accept)
{
    pthread_mutex_lock(&s->lock);
    s->accept_mock = accept;
    pthread_mutex_unlock(&s->lock);
}

unsigned
kms_stub_count(struct kms_stub *s, enum kms_stub_ep ep)
{
    unsigned n;

    pthread_mutex_lock(&s->lock);
    n = s->count[ep];
    pthread_mutex_unlock(&s->lock);
    return n;
}

static char *
copy_locked(struct kms_stub *s, char **slot)
{
    char *d;

    pthread_mutex_lock(&s->lock);
    d = dup_or_null(*slot);
    pthread_mutex_unlock(&s->lock);
    return d;
}

char *
kms_stub_last_body(struct kms_stub *s, enum kms_stub_ep ep)
{
    return copy_locked(s, &s->last_body[ep]);
}

char *
kms_stub_last_path(struct kms_stub *s)
{
    return copy_locked(s, &s->last_path);
}

char *
kms_stub_last_get_key_verdict(struct kms_stub *s)
{
    return copy_locked(s, &s->last_verdict);
}

int
kms_stub_last_alphabetical(struct kms_stub *s)
{
    int v;

    pthread_mutex_lock(&s->lock);
    v = s->last_alphabetical;
    pthread_mutex_unlock(&s->lock);
    return v;
}
