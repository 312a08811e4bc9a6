/* Target: mt_libp2p_pubkey_decode, mt_peer_id_check_n, mt_base58_decode */

/*
 * What a KMS reads from /challenge and /get-key before any signature
 * check: the peer ID text and the protobuf public key (also through
 * mt_peer_id_verify_pubkey).  For any input:
 *   - an accepted protobuf is canonical: re-encoding the decoded key gives
 *     the input back, its peer ID passes the shape check and verifies
 *     against the same bytes;
 *   - base58 text that decodes re-encodes to itself (the encoding is
 *     canonical), and bytes that encode decode back to themselves;
 *   - the shape check never accepts a string with a non-alphabet byte
 *     between its trimmed ends.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "identity/base58.h"
#include "identity/libp2p.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
require(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_peer_key: contract broken: %s\n", what);
        abort();
    }
}

static void
check_protobuf(const uint8_t *pb, size_t len)
{
    uint8_t back[MT_LIBP2P_ED25519_PB_LEN];
    char peer[MT_PEER_ID_BUF];
    EVP_PKEY *key = NULL;

    if (mt_libp2p_pubkey_decode(pb, len, &key) != MT_OK) {
        require(key == NULL, "decode sets *out on failure");
        return;
    }
    require(len == MT_LIBP2P_ED25519_PB_LEN, "accepted protobuf is 36 bytes");
    require(mt_libp2p_pubkey_encode(key, back) == MT_OK, "re-encode");
    require(memcmp(back, pb, len) == 0, "accepted protobuf is canonical");
    require(mt_peer_id_from_pkey(key, peer) == MT_OK, "peer id of a decoded key");
    require(mt_peer_id_check(peer, NULL, 0) == MT_OK, "derived peer id has a valid shape");
    require(mt_peer_id_verify_pubkey(peer, strlen(peer), pb, len, NULL) == MT_OK,
            "derived peer id verifies");
    EVP_PKEY_free(key);
}

static void
check_text(const char *s, size_t len)
{
    uint8_t bin[MT_BASE58_MAX_CHARS];
    char text[MT_BASE58_MAX_CHARS + 1];
    size_t n = 0, b, e, i;
    int shape_ok;

    if (mt_base58_decode(s, len, bin, sizeof(bin), &n) == MT_OK) {
        require(mt_base58_encode(bin, n, text, sizeof(text)) == MT_OK, "re-encode decoded");
        require(strlen(text) == len && memcmp(text, s, len) == 0, "base58 is canonical");
    }
    if (len <= MT_BASE58_MAX_BYTES) {
        require(mt_base58_encode((const uint8_t *)s, len, text, sizeof(text)) == MT_OK,
                "encode any bytes");
        require(mt_base58_decode(text, strlen(text), bin, sizeof(bin), &n) == MT_OK && n == len &&
                    (len == 0 || memcmp(bin, s, len) == 0),
                "decode(encode(x)) == x");
    }
    shape_ok = mt_peer_id_check_n(s, len, NULL, 0) == MT_OK;
    mt_unicode_trim(s, len, &b, &e);
    require(b <= e && e <= len, "trim bounds");
    if (shape_ok) {
        require(e > b && e - b <= MT_PEER_ID_MAX_LEN, "accepted peer id length");
        for (i = b; i < e; i++)
            require(mt_base58_is_alphabet(s[i]), "accepted peer id alphabet");
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy;

    /* Exact-size copies so that any read past the length is caught by ASan. */
    copy = malloc(size == 0 ? 1 : size);
    require(copy != NULL, "malloc");
    if (size > 0)
        memcpy(copy, data, size);
    check_protobuf(copy, size);
    check_text((const char *)copy, size);
    free(copy);
    return 0;
}
