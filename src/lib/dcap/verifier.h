#ifndef MT_VERIFIER_H
#define MT_VERIFIER_H

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "dcap/cache.h"
#include "dcap/dcap.h"

/* Internals of struct mt_verifier, shared by the verification steps. */
struct mt_verifier {
    X509 *root;        /* the pinned trust anchor */
    uint8_t *root_der; /* and its DER, to recognise copies in chains */
    size_t root_der_len;
    X509_STORE *store; /* holds only root */
    EVP_MD *sha256;    /* fetched once: lookups cost more than short hashes */
    int intel_root;    /* root is the built-in Intel root */
    int allow_debug;
    int allow_service_td;
    int no_cache;
    struct mt_cache cache;
};

/* One input of a cache key. */
struct mt_hash_part {
    const void *p;
    size_t len;
};

/* SHA-256 over a tag and length-prefixed parts: the cache key of a check. */
MT_WUR mt_err mt_verifier_hash(struct mt_verifier *v, const char *tag,
                               const struct mt_hash_part *parts, size_t num_parts, uint8_t out[32]);

/*
 * Verify a chain (leaf first) to the pinned root at time now.  leaf_crl is
 * the CRL of the leaf's issuer when that is not the root (the PCK CRL), else
 * NULL; root_crl must already be checked against the root.  expected_len is
 * the chain length Intel requires; chain_err the code for a broken chain.
 * On success *leaf borrows chain[0] and [*nb, *na] is the window in which
 * the result holds (certificate and CRL validity).
 */
MT_WUR mt_err mt_chain_verify(struct mt_verifier *v, STACK_OF(X509) *chain, X509_CRL *leaf_crl,
                              X509_CRL *root_crl, int64_t now, int expected_len, mt_err chain_err,
                              int64_t *nb, int64_t *na, char *detail, size_t detail_len);

/* Parse a PEM chain, sharing the pinned root instead of decoding copies of it. */
MT_WUR mt_err mt_verifier_pem_chain(struct mt_verifier *v, const char *pem, size_t len,
                                    STACK_OF(X509) **out);

/* Validity window of a CRL; fails when nextUpdate is missing or a time is malformed. */
MT_WUR mt_err mt_crl_window(X509_CRL *crl, int64_t *this_update, int64_t *next_update);
/* ASN1_TIME to Unix seconds. */
MT_WUR mt_err mt_asn1_time_to_unix(const ASN1_TIME *t, int64_t *out);

#endif
