#ifndef MT_BENCH_TUPLES_H
#define MT_BENCH_TUPLES_H

/*
 * Ready-made /get-key requests.  A node's cost (asking the simulator for a
 * quote, signing the payload) is client work, so it is all done before the
 * timed phase: each tuple is a live challenge, a simulator quote over
 * nonce || SHA-256(peerId) and the Ed25519 signature, serialised as the
 * request body merod would send.  The KMS then sees exactly what it sees in
 * production, minus the node's own latency.
 */
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

/* A node identity: libp2p Ed25519 key, its peer ID and protobuf public key in base64. */
struct ident {
    EVP_PKEY *key;
    char peer[64];
    char pub_b64[80];
    char challenge_body[96]; /* {"peerId":"..."} */
    size_t challenge_body_len;
};

/* n fresh identities (0 on success). */
int idents_make(size_t n, struct ident **out);
void idents_free(struct ident *ids, size_t n);

struct tuple {
    size_t ident;
    char challenge_id[33];
    uint8_t nonce[32];
    int have_challenge;
    char *body; /* the /get-key request body */
    size_t body_len;
};

struct tuple_set {
    struct ident *ids;
    size_t num_ids;
    struct tuple *t;
    size_t n;
    /* The first tuple's pieces, for the crypto floor. */
    uint8_t *quote;
    size_t quote_len;
    char *payload;
    size_t payload_len;
    uint8_t sig[64];
    EVP_PKEY *pub; /* decoded from the protobuf, as the KMS does */
};

struct tuple_opts {
    const char *host;
    uint16_t port;
    const char *node_socket; /* the simulated node's dstack socket */
    size_t n;
    size_t per_peer; /* challenges per identity, under the KMS's per-peer limit */
    size_t conns;
    unsigned threads; /* quote-fetching threads */
    /*
     * Give every quote the QE report signature of the first one.  A real
     * platform's quotes all carry the one signature the PCE made when it
     * certified the attestation key; the simulator re-signs the QE report
     * per quote (ECDSA is randomised), which defeats the verifier's
     * QE-report cache and adds a P-256 verification a real node never
     * causes.  The signature lies outside what the quote signature covers,
     * and the QE report bytes must match, so the quote stays valid.
     */
    int stable_qe_sig;
};

/* Make ts->n tuples; 0 on success, -1 with a message. */
int tuples_make(const struct tuple_opts *o, struct tuple_set *ts);
void tuples_free(struct tuple_set *ts);

#endif
