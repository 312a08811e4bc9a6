#include "identity/libp2p.h"

#include <stdio.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/sha.h>

#include "identity/base58.h"
#include "identity/identity.h"

/* ---- Unicode trimming ------------------------------------------------- */

/* Unicode White_Space, as Rust's char::is_whitespace. */
static int
is_unicode_space(uint32_t cp)
{
    return (cp >= 0x09 && cp <= 0x0d) || cp == 0x20 || cp == 0x85 || cp == 0xa0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 || cp == 0x2029 || cp == 0x202f ||
           cp == 0x205f || cp == 0x3000;
}

/*
 * Decode one UTF-8 sequence at s[0..len): its length, or 0 when it is not a
 * valid, shortest-form encoding of a scalar value.
 */
static size_t
utf8_decode(const uint8_t *s, size_t len, uint32_t *cp)
{
    size_t n, i;
    uint32_t c, min;

    if (len == 0)
        return 0;
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    if ((s[0] & 0xe0) == 0xc0) {
        n = 2;
        c = s[0] & 0x1fu;
        min = 0x80;
    } else if ((s[0] & 0xf0) == 0xe0) {
        n = 3;
        c = s[0] & 0x0fu;
        min = 0x800;
    } else if ((s[0] & 0xf8) == 0xf0) {
        n = 4;
        c = s[0] & 0x07u;
        min = 0x10000;
    } else {
        return 0;
    }
    if (len < n)
        return 0;
    for (i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        c = c << 6 | (s[i] & 0x3fu);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return n;
}

void
mt_unicode_trim(const char *str, size_t len, size_t *start, size_t *end)
{
    const uint8_t *s = (const uint8_t *)str;
    size_t b = 0, e = len, n, k;
    uint32_t cp;

    while (b < e) {
        n = utf8_decode(s + b, e - b, &cp);
        if (n == 0 || !is_unicode_space(cp))
            break;
        b += n;
    }
    while (e > b) {
        /* The last character starts at most 3 continuation bytes back. */
        for (k = 1; k <= 4 && k <= e - b; k++) {
            if ((s[e - k] & 0xc0) != 0x80)
                break;
        }
        if (k > 4 || k > e - b)
            break;
        n = utf8_decode(s + e - k, k, &cp);
        if (n != k || !is_unicode_space(cp))
            break;
        e -= k;
    }
    *start = b;
    *end = e;
}

/* ---- peer-ID shape ---------------------------------------------------- */

static void
set_detail(char *detail, size_t detail_len, const char *msg)
{
    if (detail != NULL && detail_len > 0)
        snprintf(detail, detail_len, "%s", msg);
}

mt_err
mt_peer_id_check_n(const char *peer_id, size_t len, char *detail, size_t detail_len)
{
    size_t b, e, i;

    set_detail(detail, detail_len, "");
    if (peer_id == NULL)
        len = 0;
    mt_unicode_trim(peer_id, len, &b, &e);
    if (b == e) {
        set_detail(detail, detail_len, "peer ID must not be empty");
        return MT_ERR_INVALID_PEER_ID;
    }
    if (e - b > MT_PEER_ID_MAX_LEN) {
        set_detail(detail, detail_len, "peer ID exceeds max length 128");
        return MT_ERR_INVALID_PEER_ID;
    }
    for (i = b; i < e; i++) {
        if (!mt_base58_is_alphabet(peer_id[i])) {
            set_detail(detail, detail_len, "peer ID contains non-base58btc characters");
            return MT_ERR_INVALID_PEER_ID;
        }
    }
    return MT_OK;
}

mt_err
mt_peer_id_check(const char *peer_id, char *detail, size_t detail_len)
{
    return mt_peer_id_check_n(peer_id, peer_id == NULL ? 0 : strlen(peer_id), detail, detail_len);
}

/* ---- Ed25519 point check ---------------------------------------------- */

/* p = 2^255 - 19 and d = -121665/121666 mod p, big endian. */
static const uint8_t ed25519_p[MT_ED25519_PUBKEY_LEN] = {
    0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xed,
};
static const uint8_t ed25519_d[MT_ED25519_PUBKEY_LEN] = {
    0x52, 0x03, 0x6c, 0xee, 0x2b, 0x6f, 0xfe, 0x73, 0x8c, 0xc7, 0x40, 0x79, 0x77, 0x79, 0xe8, 0x98,
    0x00, 0x70, 0x0a, 0x4d, 0x41, 0x41, 0xd8, 0xab, 0x75, 0xeb, 0x4d, 0xca, 0x13, 0x59, 0x78, 0xa3,
};

/*
 * 1 when the 32 bytes decompress to a point of edwards25519 the way
 * curve25519-dalek's CompressedEdwardsY::decompress does: y is the low 255
 * bits (little endian, reduced mod p), and (y^2 - 1) / (d y^2 + 1) must be
 * a square mod p.  The sign bit is not otherwise checked (dalek accepts
 * x = 0 with the sign bit set).  v = d y^2 + 1 is never 0 because -1/d is
 * not a square, so u / v is a nonzero square exactly when u v is, and the
 * Legendre symbol (u v / p) (binary Jacobi algorithm, no inversion and no
 * exponentiation) decides it.  0 when not a point, -1 on a library failure.
 */
static int
ed25519_point_check(const uint8_t raw[MT_ED25519_PUBKEY_LEN])
{
    uint8_t be[MT_ED25519_PUBKEY_LEN];
    BN_CTX *ctx;
    BIGNUM *p, *d, *y, *u, *v, *t;
    int i, k, rc = -1;

    ctx = BN_CTX_new();
    if (ctx == NULL)
        return -1;
    BN_CTX_start(ctx);
    p = BN_CTX_get(ctx);
    d = BN_CTX_get(ctx);
    y = BN_CTX_get(ctx);
    u = BN_CTX_get(ctx);
    v = BN_CTX_get(ctx);
    t = BN_CTX_get(ctx);
    if (t == NULL)
        goto out;
    for (i = 0; i < (int)MT_ED25519_PUBKEY_LEN; i++)
        be[i] = raw[MT_ED25519_PUBKEY_LEN - 1 - (size_t)i];
    be[0] &= 0x7f;
    if (BN_bin2bn(ed25519_p, (int)sizeof(ed25519_p), p) == NULL ||
        BN_bin2bn(ed25519_d, (int)sizeof(ed25519_d), d) == NULL)
        goto out;
    if (BN_bin2bn(be, (int)sizeof(be), y) == NULL || !BN_nnmod(y, y, p, ctx))
        goto out;
    /* u = y^2 - 1, v = d y^2 + 1 */
    if (!BN_mod_sqr(t, y, p, ctx) || !BN_mod_sub(u, t, BN_value_one(), p, ctx) ||
        !BN_mod_mul(v, d, t, p, ctx) || !BN_mod_add(v, v, BN_value_one(), p, ctx))
        goto out;
    if (BN_is_zero(u)) {
        rc = 1;
        goto out;
    }
    if (!BN_mod_mul(t, u, v, p, ctx))
        goto out;
    k = BN_kronecker(t, p, ctx);
    if (k == -2)
        goto out;
    rc = k == 1 ? 1 : 0;
out:
    BN_CTX_end(ctx);
    BN_CTX_free(ctx);
    return rc;
}

/* ---- protobuf --------------------------------------------------------- */

/* A minimally encoded varint of at most 64 bits at pb[*pos..len). */
static int
read_varint(const uint8_t *pb, size_t len, size_t *pos, uint64_t *out)
{
    uint64_t v = 0;
    size_t i = *pos;
    unsigned shift = 0;
    uint8_t b;

    for (;;) {
        if (i >= len || shift > 63)
            return 0;
        b = pb[i++];
        /* The tenth byte may only carry the top bit of a 64-bit value. */
        if (shift == 63 && (b & 0x7e) != 0)
            return 0;
        v |= (uint64_t)(b & 0x7f) << shift;
        if ((b & 0x80) == 0)
            break;
        shift += 7;
    }
    /* Shortest form: a multi-byte varint does not end in a zero group. */
    if (i - *pos > 1 && b == 0)
        return 0;
    *pos = i;
    *out = v;
    return 1;
}

/* The structure of the protobuf; *raw points at the 32 key bytes inside pb. */
static mt_err
pubkey_fields(const uint8_t *pb, size_t len, const uint8_t **raw)
{
    uint64_t tag, type, klen;
    size_t pos = 0;

    MT_ENSURE(pb != NULL && len > 0 && len <= MT_LIBP2P_MAX_PUBKEY_PB,
              MT_ERR_INVALID_PEER_PUBLIC_KEY);
    /* field 1, wire type 0: the key type */
    MT_ENSURE(read_varint(pb, len, &pos, &tag) && tag == (1u << 3 | 0u),
              MT_ERR_INVALID_PEER_PUBLIC_KEY);
    MT_ENSURE(read_varint(pb, len, &pos, &type), MT_ERR_INVALID_PEER_PUBLIC_KEY);
    /* field 2, wire type 2: the key bytes */
    MT_ENSURE(read_varint(pb, len, &pos, &tag) && tag == (2u << 3 | 2u),
              MT_ERR_INVALID_PEER_PUBLIC_KEY);
    MT_ENSURE(read_varint(pb, len, &pos, &klen), MT_ERR_INVALID_PEER_PUBLIC_KEY);
    MT_ENSURE(klen <= len - pos, MT_ERR_INVALID_PEER_PUBLIC_KEY);
    /* nothing after the key bytes: no repeated or unknown fields */
    MT_ENSURE(klen == len - pos, MT_ERR_INVALID_PEER_PUBLIC_KEY);
    /* Only Ed25519 is supported (the reference KMS is built with that alone). */
    MT_ENSURE(type == MT_LIBP2P_KEY_ED25519 && klen == MT_ED25519_PUBKEY_LEN,
              MT_ERR_INVALID_PEER_PUBLIC_KEY);
    *raw = pb + pos;
    return MT_OK;
}

mt_err
mt_libp2p_pubkey_parse(const uint8_t *pb, size_t len, EVP_PKEY **out)
{
    const uint8_t *raw;
    EVP_PKEY *key;

    MT_ENSURE(out != NULL, MT_ERR_ARG);
    MT_GUARD(pubkey_fields(pb, len, &raw));
    key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, raw, MT_ED25519_PUBKEY_LEN);
    if (key == NULL) {
        ERR_clear_error();
        return MT_ERR_INVALID_PEER_PUBLIC_KEY;
    }
    *out = key;
    return MT_OK;
}

mt_err
mt_libp2p_pubkey_point_check(const uint8_t *pb, size_t len)
{
    const uint8_t *raw;
    int valid;

    MT_GUARD(pubkey_fields(pb, len, &raw));
    valid = ed25519_point_check(raw);
    MT_ENSURE(valid >= 0, MT_ERR_CRYPTO);
    MT_ENSURE(valid == 1, MT_ERR_INVALID_PEER_PUBLIC_KEY);
    return MT_OK;
}

mt_err
mt_libp2p_pubkey_decode(const uint8_t *pb, size_t len, EVP_PKEY **out)
{
    MT_ENSURE(out != NULL, MT_ERR_ARG);
    MT_GUARD(mt_libp2p_pubkey_point_check(pb, len));
    return mt_libp2p_pubkey_parse(pb, len, out);
}

void
mt_libp2p_ed25519_encode(const uint8_t raw[MT_ED25519_PUBKEY_LEN],
                         uint8_t out[MT_LIBP2P_ED25519_PB_LEN])
{
    out[0] = 0x08; /* field 1, varint */
    out[1] = MT_LIBP2P_KEY_ED25519;
    out[2] = 0x12; /* field 2, length-delimited */
    out[3] = MT_ED25519_PUBKEY_LEN;
    memcpy(out + 4, raw, MT_ED25519_PUBKEY_LEN);
}

mt_err
mt_libp2p_pubkey_encode(EVP_PKEY *key, uint8_t out[MT_LIBP2P_ED25519_PB_LEN])
{
    uint8_t raw[MT_ED25519_PUBKEY_LEN];
    size_t n = sizeof(raw);

    MT_ENSURE(key != NULL && out != NULL && EVP_PKEY_is_a(key, "ED25519"), MT_ERR_ARG);
    if (EVP_PKEY_get_raw_public_key(key, raw, &n) != 1 || n != sizeof(raw)) {
        ERR_clear_error();
        return MT_ERR_CRYPTO;
    }
    mt_libp2p_ed25519_encode(raw, out);
    return MT_OK;
}

/* ---- peer IDs --------------------------------------------------------- */

mt_err
mt_peer_id_from_protobuf(const uint8_t *pb, size_t len, char out[MT_PEER_ID_BUF])
{
    uint8_t mh[2 + MT_LIBP2P_MAX_INLINE_KEY];
    size_t mh_len;

    MT_ENSURE(pb != NULL && out != NULL && len > 0, MT_ERR_ARG);
    MT_ENSURE(len <= MT_LIBP2P_MAX_PUBKEY_PB, MT_ERR_TOO_LARGE);
    if (len <= MT_LIBP2P_MAX_INLINE_KEY) {
        mh[0] = 0x00; /* identity multihash */
        mh[1] = (uint8_t)len;
        memcpy(mh + 2, pb, len);
        mh_len = 2 + len;
    } else {
        mh[0] = 0x12; /* sha2-256 */
        mh[1] = SHA256_DIGEST_LENGTH;
        SHA256(pb, len, mh + 2);
        mh_len = 2 + SHA256_DIGEST_LENGTH;
    }
    return mt_base58_encode(mh, mh_len, out, MT_PEER_ID_BUF);
}

mt_err
mt_peer_id_from_pkey(EVP_PKEY *key, char out[MT_PEER_ID_BUF])
{
    uint8_t pb[MT_LIBP2P_ED25519_PB_LEN];

    MT_GUARD(mt_libp2p_pubkey_encode(key, pb));
    return mt_peer_id_from_protobuf(pb, sizeof(pb), out);
}

mt_err
mt_peer_id_verify_pubkey(const char *peer_id, size_t peer_id_len, const uint8_t *pb, size_t pb_len,
                         EVP_PKEY **out)
{
    char derived[MT_PEER_ID_BUF];
    EVP_PKEY *key = NULL;
    mt_err e;

    MT_ENSURE(peer_id != NULL || peer_id_len == 0, MT_ERR_ARG);
    MT_GUARD(mt_libp2p_pubkey_decode(pb, pb_len, &key));
    e = mt_peer_id_from_protobuf(pb, pb_len, derived);
    if (e == MT_OK &&
        (strlen(derived) != peer_id_len || memcmp(derived, peer_id, peer_id_len) != 0))
        e = MT_ERR_PEER_IDENTITY_MISMATCH;
    if (e != MT_OK) {
        EVP_PKEY_free(key);
        return e;
    }
    if (out != NULL)
        *out = key;
    else
        EVP_PKEY_free(key);
    return MT_OK;
}

/* The KMS's spelling, declared in identity/identity.h. */
mt_err
mt_peer_id_from_pubkey_proto(const uint8_t *pb, size_t len, char *out, size_t out_size)
{
    char id[MT_PEER_ID_BUF];
    size_t n;

    MT_ENSURE(out != NULL, MT_ERR_ARG);
    MT_GUARD(mt_peer_id_from_protobuf(pb, len, id));
    n = strlen(id);
    MT_ENSURE(n < out_size, MT_ERR_TOO_LARGE);
    memcpy(out, id, n + 1);
    return MT_OK;
}
