/*
 * RFC 6962 / RFC 9162 2.1.3.2 Merkle inclusion proofs (sigstore.md 4.4 e):
 * leaf H(0x00 || leaf), nodes H(0x01 || left || right).
 */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "sigstore/sig_internal.h"

void
sig_merkle_leaf_hash(const uint8_t *leaf, size_t len, uint8_t out[32])
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    uint8_t prefix = 0x00;
    unsigned int n = 0;

    if (c == NULL || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1 ||
        EVP_DigestUpdate(c, &prefix, 1) != 1 || EVP_DigestUpdate(c, leaf, len) != 1 ||
        EVP_DigestFinal_ex(c, out, &n) != 1)
        memset(out, 0, 32); /* never equals a real root */
    EVP_MD_CTX_free(c);
}

static int
node_hash(const uint8_t l[32], const uint8_t r[32], uint8_t out[32])
{
    uint8_t buf[65];
    unsigned int n = 0;

    buf[0] = 0x01;
    memcpy(buf + 1, l, 32);
    memcpy(buf + 33, r, 32);
    return EVP_Digest(buf, sizeof(buf), out, &n, EVP_sha256(), NULL) == 1 && n == 32;
}

mt_err
sig_merkle_verify(const uint8_t leaf_hash[32], int64_t index, int64_t size,
                  const uint8_t (*hashes)[32], size_t n_hashes, const uint8_t root[32])
{
    uint64_t fn, sn;
    uint8_t r[32], t[32];
    size_t i;

    MT_ENSURE(index >= 0 && size > 0 && index < size, MT_ERR_SIGSTORE_INCLUSION_PROOF);
    fn = (uint64_t)index;
    sn = (uint64_t)size - 1;
    memcpy(r, leaf_hash, 32);
    for (i = 0; i < n_hashes; i++) {
        MT_ENSURE(sn != 0, MT_ERR_SIGSTORE_INCLUSION_PROOF); /* proof too long */
        if ((fn & 1) == 1 || fn == sn) {
            MT_ENSURE(node_hash(hashes[i], r, t), MT_ERR_CRYPTO);
            if ((fn & 1) == 0) {
                while (fn != 0 && (fn & 1) == 0) {
                    fn >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            MT_ENSURE(node_hash(r, hashes[i], t), MT_ERR_CRYPTO);
        }
        memcpy(r, t, 32);
        fn >>= 1;
        sn >>= 1;
    }
    MT_ENSURE(sn == 0 && CRYPTO_memcmp(r, root, 32) == 0, MT_ERR_SIGSTORE_INCLUSION_PROOF);
    return MT_OK;
}
