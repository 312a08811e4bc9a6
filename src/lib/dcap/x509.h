#ifndef MT_X509_H
#define MT_X509_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "util/mt_err.h"
#include "util/mt_limits.h"

/*
 * Certificates and CRLs: the only place chains are verified
 * (STYLE.md section 4 item 6).
 */

/*
 * Split a PEM chain into certificates, leaf first.  Tolerates a trailing NUL
 * (real quotes carry one) and whitespace between blocks; refuses anything
 * else, more than MT_MAX_CHAIN_CERTS certificates, or none (MT_ERR_PEM).
 * A copy of the built-in Intel root is not decoded again: the shared
 * object is used (reference counted).
 */
MT_WUR mt_err mt_pem_chain_parse(const char *pem, size_t len, STACK_OF(X509) **out);

/*
 * As mt_pem_chain_parse, but a certificate whose DER equals `known` (the
 * pinned root) is not decoded again: `known` is shared (reference counted).
 * Decoding a certificate costs OpenSSL 3.0 more than an ECDSA verification,
 * and every Intel chain ends with the root.
 */
MT_WUR mt_err mt_pem_chain_parse_known(const char *pem, size_t len, X509 *known,
                                       const uint8_t *known_der, size_t known_der_len,
                                       STACK_OF(X509) **out);

/*
 * The built-in Intel SGX Root CA, decoded once per process (a borrowed,
 * immutable object; NULL only if decoding failed).  It is part of the
 * program, not verification state: decoding a certificate costs OpenSSL 3.0
 * more than an ECDSA verification, and every Intel chain ends with it.
 */
X509 *mt_intel_root_x509(void);

/* Decode one DER certificate or CRL; all bytes must be consumed. */
MT_WUR mt_err mt_x509_from_der(const uint8_t *der, size_t len, X509 **out);
MT_WUR mt_err mt_crl_from_der(const uint8_t *der, size_t len, X509_CRL **out);

/* Load a trust anchor file: DER, or PEM holding exactly one certificate. */
MT_WUR mt_err mt_root_load(const uint8_t *buf, size_t len, uint8_t **der, size_t *der_len);

/* SHA-256 of a certificate's DER encoding. */
MT_WUR mt_err mt_x509_sha256(X509 *cert, uint8_t out[32]);

/*
 * Verify an ECDSA P-256 / SHA-256 signature given as raw r||s (64 bytes)
 * over msg with key.  Returns MT_OK or `fail` (the caller's error code for
 * "signature invalid"); never a generic error for a bad signature.
 */
MT_WUR mt_err mt_ecdsa_verify_raw(EVP_PKEY *key, const uint8_t *msg, size_t msg_len,
                                  const uint8_t sig[64], mt_err fail);

/* A P-256 public key from a raw X||Y point (64 bytes); MT_ERR_CRYPTO if off-curve. */
MT_WUR mt_err mt_p256_key_from_raw(const uint8_t xy[64], EVP_PKEY **out);

#endif
