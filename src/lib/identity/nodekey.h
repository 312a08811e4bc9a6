#ifndef MT_IDENTITY_NODEKEY_H
#define MT_IDENTITY_NODEKEY_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "identity/libp2p.h"
#include "util/mt_err.h"

/*
 * Ed25519 signatures (RFC 8032, no prehash: what libp2p's Keypair::sign and
 * ed25519-dalek's verify do, mero-tee-reference.md 1.9) and the node
 * identity key file.
 */

/*
 * Sign msg[0..len) with an Ed25519 private key.  MT_ERR_ARG when key is not
 * an Ed25519 private key, MT_ERR_CRYPTO on a library failure.
 */
MT_WUR mt_err mt_ed25519_sign(EVP_PKEY *key, const uint8_t *msg, size_t len,
                              uint8_t sig[MT_ED25519_SIG_LEN]);

/*
 * Verify an Ed25519 signature.  Every bad signature, including one that is
 * not exactly 64 bytes, is MT_ERR_INVALID_SIGNATURE; MT_ERR_ARG when pub is
 * not an Ed25519 key.
 */
MT_WUR mt_err mt_ed25519_verify(EVP_PKEY *pub, const uint8_t *msg, size_t len, const uint8_t *sig,
                                size_t sig_len);

/* A fresh Ed25519 key pair from the system CSPRNG (EVP_PKEY_free). */
MT_WUR mt_err mt_node_key_generate(EVP_PKEY **out);

/*
 * Write key as an unencrypted PKCS#8 PEM private key to path, mode 0600.
 * The file appears complete or not at all (written beside it, then linked
 * into place), and an existing path is never replaced (MT_ERR_ARG, "exists").
 * Errors: MT_ERR_ARG, MT_ERR_IO, MT_ERR_CRYPTO, MT_ERR_NOMEM; detail (when
 * detail_len > 0) says what failed.
 */
MT_WUR mt_err mt_node_key_write(const char *path, EVP_PKEY *key, char *detail, size_t detail_len);

/* Longest key file accepted. */
#define MT_NODE_KEY_MAX_FILE (16u * 1024u)

/*
 * Load an Ed25519 private key from a PKCS#8 PEM file.  The file must be a
 * regular file that neither group nor others can access (mode & 077 == 0,
 * as ssh demands of private keys): otherwise MT_ERR_ARG with a message
 * naming the mode.  Encrypted keys are refused (never prompts).  The file's
 * bytes are held in locked memory and wiped.  Errors: MT_ERR_ARG (mode,
 * not a regular file, not an Ed25519 PEM private key), MT_ERR_IO,
 * MT_ERR_TOO_LARGE, MT_ERR_NOMEM; detail says which.
 */
MT_WUR mt_err mt_node_key_load(const char *path, EVP_PKEY **out, char *detail, size_t detail_len);

#endif
