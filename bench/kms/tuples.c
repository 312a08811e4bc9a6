#include "tuples.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "dstack/dstack_client.h"
#include "identity/identity.h"
#include "load.h"
#include "quote/quote.h"
#include "util/mt_alloc.h"
#include "util/mt_b64.h"

int
idents_make(size_t n, struct ident **out)
{
    uint8_t pb[MT_LIBP2P_ED25519_PB_LEN];
    struct ident *ids = mt_calloc(n, sizeof(*ids));
    char *b64;
    size_t i;
    int len;

    if (ids == NULL)
        return -1;
    for (i = 0; i < n; i++) {
        if (mt_node_key_generate(&ids[i].key) != MT_OK ||
            mt_libp2p_pubkey_encode(ids[i].key, pb) != MT_OK ||
            mt_peer_id_from_pubkey_proto(pb, sizeof(pb), ids[i].peer, sizeof(ids[i].peer)) != MT_OK)
            goto fail;
        b64 = mt_b64_encode_alloc(pb, sizeof(pb));
        if (b64 == NULL)
            goto fail;
        snprintf(ids[i].pub_b64, sizeof(ids[i].pub_b64), "%s", b64);
        mt_free(b64);
        len = snprintf(ids[i].challenge_body, sizeof(ids[i].challenge_body), "{\"peerId\":\"%s\"}",
                       ids[i].peer);
        ids[i].challenge_body_len = (size_t)len;
    }
    *out = ids;
    return 0;
fail:
    idents_free(ids, n);
    return -1;
}

void
idents_free(struct ident *ids, size_t n)
{
    size_t i;

    for (i = 0; ids != NULL && i < n; i++)
        EVP_PKEY_free(ids[i].key);
    mt_free(ids);
}

static void
challenge_body(void *arg, size_t i, const char **p, size_t *len)
{
    struct tuple_set *ts = arg;
    const struct ident *id = &ts->ids[ts->t[i].ident];

    *p = id->challenge_body;
    *len = id->challenge_body_len;
}

/* Keep the challenge id and nonce of an answer. */
static void
challenge_answer(void *arg, size_t i, int status, const char *body, size_t len)
{
    struct tuple_set *ts = arg;
    struct tuple *t = &ts->t[i];
    const char *id, *nonce_b64;
    uint8_t *nonce = NULL;
    size_t n;
    json_t *o;

    if (status != 200)
        return;
    o = json_loadb(body, len, 0, NULL);
    id = json_string_value(json_object_get(o, "challengeId"));
    nonce_b64 = json_string_value(json_object_get(o, "nonceB64"));
    if (id != NULL && strlen(id) == 32 && nonce_b64 != NULL &&
        mt_b64_decode_alloc(nonce_b64, strlen(nonce_b64), 64, &nonce, &n) == MT_OK && n == 32) {
        memcpy(t->challenge_id, id, 33);
        memcpy(t->nonce, nonce, 32);
        t->have_challenge = 1;
    }
    mt_free(nonce);
    json_decref(o);
}

/* The first quote's QE report and its signature, when stable_qe_sig is asked for. */
struct qe_template {
    int set;
    uint8_t report[MT_SGX_REPORT_SIZE];
    uint8_t sig[64];
};

static int
qe_template_take(struct mt_dstack_client *dc, struct qe_template *t)
{
    struct mt_dstack_quote dq;
    struct mt_quote q;
    uint8_t rd[64];
    int rc = -1;

    memset(&dq, 0, sizeof(dq));
    memset(rd, 0x42, sizeof(rd));
    if (mt_dstack_get_quote(dc, rd, 64, &dq) == MT_OK &&
        mt_quote_parse(dq.quote, dq.quote_len, &q) == MT_OK) {
        memcpy(t->report, q.qe_report_raw, MT_SGX_REPORT_SIZE);
        memcpy(t->sig, q.qe_report_sig, 64);
        t->set = 1;
        rc = 0;
    }
    mt_dstack_quote_free(&dq);
    return rc;
}

/* Put the template's signature in place when the QE report is the template's. */
static void
qe_sig_stabilise(const struct qe_template *t, uint8_t *quote, size_t len)
{
    struct mt_quote q;

    if (!t->set || mt_quote_parse(quote, len, &q) != MT_OK ||
        memcmp(q.qe_report_raw, t->report, MT_SGX_REPORT_SIZE) != 0)
        return;
    memcpy(quote + (q.qe_report_sig - quote), t->sig, 64);
}

/* The node's part for one tuple: quote over nonce || SHA-256(peer), payload, signature, body. */
static int
node_side(struct tuple_set *ts, size_t i, struct mt_dstack_client *dc, const struct qe_template *qt)
{
    struct tuple *t = &ts->t[i];
    const struct ident *id = &ts->ids[t->ident];
    struct mt_dstack_quote dq;
    uint8_t rd[64], qhash[32], sig[64];
    unsigned int hl = 32;
    char *payload = NULL, *quote_b64 = NULL, *sig_b64 = NULL, *text = NULL;
    size_t payload_len;
    json_t *o = NULL;
    int rc = -1;

    memset(&dq, 0, sizeof(dq));
    memcpy(rd, t->nonce, 32);
    if (EVP_Digest(id->peer, strlen(id->peer), rd + 32, &hl, EVP_sha256(), NULL) != 1 ||
        mt_dstack_get_quote(dc, rd, 64, &dq) != MT_OK)
        goto out;
    qe_sig_stabilise(qt, dq.quote, dq.quote_len);
    if (EVP_Digest(dq.quote, dq.quote_len, qhash, &hl, EVP_sha256(), NULL) != 1 ||
        mt_kms_payload(t->challenge_id, t->nonce, qhash, id->peer, 0, &payload, &payload_len) !=
            MT_OK ||
        mt_ed25519_sign(id->key, (const uint8_t *)payload, payload_len, sig) != MT_OK)
        goto out;
    quote_b64 = mt_b64_encode_alloc(dq.quote, dq.quote_len);
    sig_b64 = mt_b64_encode_alloc(sig, sizeof(sig));
    if (quote_b64 == NULL || sig_b64 == NULL)
        goto out;
    o = json_pack("{s:s,s:s,s:s,s:s,s:s}", "challengeId", t->challenge_id, "quoteB64", quote_b64,
                  "peerId", id->peer, "peerPublicKeyB64", id->pub_b64, "signatureB64", sig_b64);
    text = o == NULL ? NULL : json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (text == NULL)
        goto out;
    t->body = mt_strdup(text);
    if (t->body == NULL)
        goto out;
    t->body_len = strlen(t->body);
    if (i == 0) {
        /* Keep one request's pieces for the floor (thread 0 owns tuple 0). */
        ts->quote = dq.quote;
        ts->quote_len = dq.quote_len;
        dq.quote = NULL;
        ts->payload = payload;
        ts->payload_len = payload_len;
        payload = NULL;
        memcpy(ts->sig, sig, 64);
    }
    rc = 0;
out:
    mt_free_libc(text);
    json_decref(o);
    mt_free(quote_b64);
    mt_free(sig_b64);
    mt_free(payload);
    mt_dstack_quote_free(&dq);
    return rc;
}

struct worker {
    struct tuple_set *ts;
    const struct qe_template *qt;
    const char *socket;
    size_t first, step;
    int failed;
};

static void *
work(void *p)
{
    struct worker *w = p;
    struct mt_dstack_opts o;
    struct mt_dstack_client *dc = NULL;
    size_t i;

    mt_dstack_opts_init(&o);
    o.socket_path = w->socket;
    if (mt_dstack_client_new(&o, &dc) != MT_OK) {
        w->failed = 1;
        return NULL;
    }
    for (i = w->first; i < w->ts->n && !w->failed; i += w->step) {
        if (node_side(w->ts, i, dc, w->qt) != 0)
            w->failed = 1;
    }
    mt_dstack_client_free(dc);
    return NULL;
}

int
tuples_make(const struct tuple_opts *o, struct tuple_set *ts)
{
    uint8_t pb[MT_LIBP2P_ED25519_PB_LEN];
    struct load_spec ls;
    struct load_result lr;
    struct worker w[16];
    pthread_t th[16];
    struct qe_template qt;
    struct mt_dstack_opts dopts;
    struct mt_dstack_client *dc = NULL;
    unsigned k, started = 0, threads = o->threads > 16 ? 16 : o->threads;
    size_t i;
    int failed = 0;

    memset(ts, 0, sizeof(*ts));
    memset(&qt, 0, sizeof(qt));
    if (o->stable_qe_sig) {
        mt_dstack_opts_init(&dopts);
        dopts.socket_path = o->node_socket;
        if (mt_dstack_client_new(&dopts, &dc) != MT_OK || qe_template_take(dc, &qt) != 0) {
            mt_dstack_client_free(dc);
            fprintf(stderr, "mero-kms-bench: no quote from the simulator at %s\n", o->node_socket);
            return -1;
        }
        mt_dstack_client_free(dc);
    }
    ts->n = o->n;
    ts->num_ids = (o->n + o->per_peer - 1) / o->per_peer;
    ts->t = mt_calloc(o->n, sizeof(*ts->t));
    if (ts->t == NULL || idents_make(ts->num_ids, &ts->ids) != 0)
        goto fail;
    for (i = 0; i < o->n; i++)
        ts->t[i].ident = i / o->per_peer;
    memset(&ls, 0, sizeof(ls));
    ls.host = o->host;
    ls.port = o->port;
    ls.path = "/challenge";
    ls.conns = o->conns;
    ls.max_requests = o->n;
    ls.body = challenge_body;
    ls.on_answer = challenge_answer;
    ls.arg = ts;
    if (load_run(&ls, &lr) != 0 || lr.ok != o->n) {
        fprintf(stderr, "mero-kms-bench: %zu of %zu challenges issued (first other status %d)\n",
                lr.ok, o->n, lr.first_bad);
        goto fail;
    }
    for (k = 0; k < threads; k++) {
        w[k].ts = ts;
        w[k].qt = &qt;
        w[k].socket = o->node_socket;
        w[k].first = k;
        w[k].step = threads;
        w[k].failed = 0;
        if (pthread_create(&th[k], NULL, work, &w[k]) != 0)
            break;
        started++;
    }
    for (k = 0; k < started; k++) {
        pthread_join(th[k], NULL);
        failed |= w[k].failed;
    }
    if (failed || started == 0) {
        fprintf(stderr, "mero-kms-bench: the simulator at %s did not give every quote\n",
                o->node_socket);
        goto fail;
    }
    if (mt_libp2p_pubkey_encode(ts->ids[0].key, pb) != MT_OK ||
        mt_libp2p_pubkey_decode(pb, sizeof(pb), &ts->pub) != MT_OK)
        goto fail;
    return 0;
fail:
    tuples_free(ts);
    return -1;
}

void
tuples_free(struct tuple_set *ts)
{
    size_t i;

    for (i = 0; ts->t != NULL && i < ts->n; i++) {
        OPENSSL_cleanse(ts->t[i].nonce, sizeof(ts->t[i].nonce));
        mt_free(ts->t[i].body);
    }
    mt_free(ts->t);
    idents_free(ts->ids, ts->num_ids);
    mt_free(ts->quote);
    mt_free(ts->payload);
    EVP_PKEY_free(ts->pub);
    memset(ts, 0, sizeof(*ts));
}
