#ifndef MT_BENCH_FLOOR_H
#define MT_BENCH_FLOOR_H

/*
 * The crypto floor of one /get-key: the two signature verifications no
 * implementation can skip, measured with OpenSSL in this process on this
 * run, over a real request's bytes:
 *   P-256  ECDSA over the quote's signed region with the quote's
 *          attestation key (what DCAP verification cannot cache: the
 *          QE report and certificate checks repeat per machine, not per
 *          request);
 *   Ed25519 over the canonical payload with the node's libp2p key.
 * The floor rate is these two run back to back on every CPU at once, so it
 * is the rate a server would reach if it did nothing else on all cores.
 */
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

struct floor_input {
    const uint8_t *quote; /* a TDX quote (parsed here) */
    size_t quote_len;
    EVP_PKEY *ed25519;  /* the node's public key */
    const uint8_t *msg; /* the payload it signed */
    size_t msg_len;
    const uint8_t *sig; /* 64 bytes */
};

struct floor_result {
    double p256_us;    /* one P-256 verify, one thread, CPU time */
    double ed25519_us; /* one Ed25519 verify, one thread, CPU time */
    unsigned threads;  /* threads run at once for the rate */
    double rate;       /* (P-256 + Ed25519) pairs per wall second over all threads */
};

/* Measure for about `seconds` in total; 0 on success, -1 when a verification fails. */
int floor_measure(const struct floor_input *in, unsigned threads, double seconds,
                  struct floor_result *r);

#endif
