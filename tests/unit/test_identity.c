/*
 * The libp2p identity layer (src/lib/identity): base58btc, the peer-ID
 * shape check, the public-key protobuf and peer IDs (the computed vector of
 * mero-tee-reference.md 2.7), the canonical signature payload (the golden
 * vector of 1.9 and serde_json's escaping), Ed25519 signatures (RFC 8032
 * vector 1) and the node key file (modes, no clobbering, refusals).
 */
#include "mt_testlib.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include "identity/base58.h"
#include "identity/libp2p.h"
#include "identity/nodekey.h"
#include "identity/payload.h"
#include "util/mt_alloc.h"
#include "util/mt_b64.h"
#include "util/mt_hex.h"

#define VECTOR_PB_B64 "CAESIAABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4f"
#define VECTOR_PEER_ID "12D3KooW9pP4Seg3kZYhySpuVjn1RPdQBsUFZKiFxGMGQN5MeL6A"
#define VECTOR_PEER_SHA "929397bc3b6a60defda3af751ea6bb0a1b740cb2c00c6d2ec7203f933365fc5d"

static void
unhex(const char *hex, uint8_t *out, size_t n)
{
    EXPECT_OK(mt_hex_decode_exact(hex, strlen(hex), out, n));
}

/* ---- base58 ----------------------------------------------------------- */

static void
test_base58_vectors(void **state)
{
    static const struct {
        const char *hex;
        const char *b58;
    } v[] = {
        {"", ""},
        {"00", "1"},
        {"0000", "11"},
        {"61", "2g"},
        {"626262", "a3gV"},
        {"48656c6c6f20576f726c6421", "2NEpo7TZRRrLZSi2U"},
        {"0000287fb4cd", "11233QC4"},
        {"00eb15231dfceb60925886b67d065299925915aeb172c06647",
         "1NS17iag9jJgTHD1VXjvLCEnZuQ3rJDE9L"},
    };
    uint8_t bin[64], back[64];
    char text[200];
    size_t i, n, blen;

    (void)state;
    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        n = strlen(v[i].hex) / 2;
        unhex(v[i].hex, bin, n);
        EXPECT_OK(mt_base58_encode(bin, n, text, sizeof(text)));
        assert_string_equal(text, v[i].b58);
        EXPECT_OK(mt_base58_decode(v[i].b58, strlen(v[i].b58), back, sizeof(back), &blen));
        assert_int_equal(blen, n);
        if (n > 0)
            assert_memory_equal(back, bin, n);
    }
}

static void
test_base58_round_trip_and_limits(void **state)
{
    uint8_t in[MT_BASE58_MAX_BYTES + 1], back[MT_BASE58_MAX_BYTES + 8];
    char text[MT_BASE58_MAX_CHARS + 2], big[MT_BASE58_MAX_CHARS + 2];
    size_t n, i, blen;
    unsigned seed = 7;

    (void)state;
    for (n = 0; n <= MT_BASE58_MAX_BYTES; n++) {
        for (i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            /* leading zeros now and then */
            in[i] = (i < n / 7) ? 0 : (uint8_t)(seed >> 16);
        }
        EXPECT_OK(mt_base58_encode(in, n, text, sizeof(text)));
        assert_true(strlen(text) <= MT_BASE58_MAX_CHARS);
        EXPECT_OK(mt_base58_decode(text, strlen(text), back, sizeof(back), &blen));
        assert_int_equal(blen, n);
        if (n > 0)
            assert_memory_equal(back, in, n);
    }
    /* All 0xff bytes: the longest text there is. */
    memset(in, 0xff, sizeof(in));
    EXPECT_OK(mt_base58_encode(in, MT_BASE58_MAX_BYTES, text, sizeof(text)));
    assert_int_equal(strlen(text), MT_BASE58_MAX_CHARS);
    EXPECT_ERR(mt_base58_encode(in, MT_BASE58_MAX_BYTES + 1, text, sizeof(text)), MT_ERR_TOO_LARGE);
    /* out too small: needs 3 bytes for "11" */
    memset(in, 0, 2);
    EXPECT_ERR(mt_base58_encode(in, 2, text, 2), MT_ERR_TOO_LARGE);
    EXPECT_OK(mt_base58_encode(in, 2, text, 3));
    /* decoding: too long, does not fit */
    memset(big, 'z', MT_BASE58_MAX_CHARS + 1);
    big[MT_BASE58_MAX_CHARS + 1] = '\0';
    EXPECT_ERR(mt_base58_decode(big, MT_BASE58_MAX_CHARS + 1, back, sizeof(back), &blen),
               MT_ERR_TOO_LARGE);
    /* 175 characters may hold 129 bytes: refused, so what decodes always re-encodes */
    memset(big, 'j', MT_BASE58_MAX_CHARS);
    EXPECT_ERR(mt_base58_decode(big, MT_BASE58_MAX_CHARS, back, sizeof(back), &blen),
               MT_ERR_TOO_LARGE);
    memset(big, '1', MT_BASE58_MAX_BYTES + 1);
    EXPECT_ERR(mt_base58_decode(big, MT_BASE58_MAX_BYTES + 1, back, sizeof(back), &blen),
               MT_ERR_TOO_LARGE);
    EXPECT_OK(mt_base58_decode(big, MT_BASE58_MAX_BYTES, back, sizeof(back), &blen));
    assert_int_equal(blen, MT_BASE58_MAX_BYTES);
    EXPECT_ERR(mt_base58_decode("2NEpo7TZRRrLZSi2U", 17, back, 11, &blen), MT_ERR_TOO_LARGE);
    EXPECT_OK(mt_base58_decode("2NEpo7TZRRrLZSi2U", 17, back, 12, &blen));
    EXPECT_ERR(mt_base58_encode(NULL, 1, text, sizeof(text)), MT_ERR_ARG);
}

static void
test_base58_bad_chars(void **state)
{
    static const char bad[] = "0OIl+/= \t-_";
    uint8_t back[8];
    size_t i, blen = 777;
    char s[4];
    int c;

    (void)state;
    for (i = 0; bad[i] != '\0'; i++) {
        snprintf(s, sizeof(s), "2%c2", bad[i]);
        EXPECT_ERR(mt_base58_decode(s, 3, back, sizeof(back), &blen), MT_ERR_INVALID_PEER_ID);
        assert_int_equal(blen, 777);
    }
    /* an embedded NUL counts as a character */
    EXPECT_ERR(mt_base58_decode("2\0002", 3, back, sizeof(back), &blen), MT_ERR_INVALID_PEER_ID);
    /* exactly 58 characters of 256 are accepted */
    for (c = 0, i = 0; c < 256; c++)
        i += (size_t)mt_base58_is_alphabet((char)c);
    assert_int_equal(i, 58);
}

/* ---- peer-ID shape ---------------------------------------------------- */

static void
expect_peer(const char *s, size_t len, mt_err want, const char *msg)
{
    char detail[128];

    memset(detail, 'x', sizeof(detail));
    EXPECT_ERR(mt_peer_id_check_n(s, len, detail, sizeof(detail)), want);
    assert_string_equal(detail, msg);
}

static void
test_peer_id_check(void **state)
{
    char s[200], detail[8];

    (void)state;
    expect_peer(VECTOR_PEER_ID, strlen(VECTOR_PEER_ID), MT_OK, "");
    expect_peer("", 0, MT_ERR_INVALID_PEER_ID, "peer ID must not be empty");
    expect_peer(" \t\r\n\v\f", 6, MT_ERR_INVALID_PEER_ID, "peer ID must not be empty");
    /* U+00A0 and U+3000 are White_Space for Rust's trim() */
    expect_peer("\xc2\xa0\xe3\x80\x80", 5, MT_ERR_INVALID_PEER_ID, "peer ID must not be empty");
    expect_peer("\xc2\xa0"
                "12D3\xe3\x80\x80",
                9, MT_OK, "");
    expect_peer("  12D3KooW  ", 12, MT_OK, "");
    /* U+200B (zero width space) is not White_Space */
    expect_peer("\xe2\x80\x8b", 3, MT_ERR_INVALID_PEER_ID,
                "peer ID contains non-base58btc characters");
    /* a space inside stays */
    expect_peer("12D3 Koo", 8, MT_ERR_INVALID_PEER_ID, "peer ID contains non-base58btc characters");
    expect_peer("0OIl", 4, MT_ERR_INVALID_PEER_ID, "peer ID contains non-base58btc characters");
    expect_peer("abc\0def", 7, MT_ERR_INVALID_PEER_ID, "peer ID contains non-base58btc characters");
    /* invalid UTF-8 stops trimming and is not base58 */
    expect_peer("\xff", 1, MT_ERR_INVALID_PEER_ID, "peer ID contains non-base58btc characters");
    /* 128 bytes after trimming is fine, 129 is not; the length is checked first */
    memset(s, 'z', 128);
    s[128] = ' ';
    expect_peer(s, 129, MT_OK, "");
    memset(s, '0', 129);
    expect_peer(s, 129, MT_ERR_INVALID_PEER_ID, "peer ID exceeds max length 128");
    /* the NUL-terminated form; detail truncated safely */
    EXPECT_ERR(mt_peer_id_check("O", detail, sizeof(detail)), MT_ERR_INVALID_PEER_ID);
    assert_string_equal(detail, "peer ID");
    EXPECT_OK(mt_peer_id_check("1", NULL, 0));
    EXPECT_ERR(mt_peer_id_check(NULL, NULL, 0), MT_ERR_INVALID_PEER_ID);
}

static void
test_unicode_trim(void **state)
{
    size_t b, e;

    (void)state;
    mt_unicode_trim("\xe2\x80\xa8x\xc2\x85", 6, &b, &e);
    assert_int_equal(b, 3);
    assert_int_equal(e, 4);
    /* overlong encoding of a space is not a space */
    mt_unicode_trim("\xc0\xa0x", 3, &b, &e);
    assert_int_equal(b, 0);
    assert_int_equal(e, 3);
    /* a lone continuation byte at the end */
    mt_unicode_trim("x\x80", 2, &b, &e);
    assert_int_equal(e, 2);
}

/* ---- protobuf and peer IDs -------------------------------------------- */

static void
test_vector_2_7(void **state)
{
    uint8_t raw[32], pb[MT_LIBP2P_ED25519_PB_LEN], digest[32];
    char peer[MT_PEER_ID_BUF], *b64;
    EVP_PKEY *key = NULL;

    (void)state;
    for (size_t i = 0; i < 32; i++)
        raw[i] = (uint8_t)i;
    mt_libp2p_ed25519_encode(raw, pb);
    b64 = mt_b64_encode_alloc(pb, sizeof(pb));
    assert_non_null(b64);
    assert_string_equal(b64, VECTOR_PB_B64);
    mt_free(b64);
    EXPECT_OK(mt_peer_id_from_protobuf(pb, sizeof(pb), peer));
    assert_string_equal(peer, VECTOR_PEER_ID);
    assert_int_equal(strlen(peer), 52);
    SHA256((const uint8_t *)peer, strlen(peer), digest);
    assert_string_equal(mt_test_hex(digest, 32), VECTOR_PEER_SHA);
    /* the vector key is a valid point: it decodes, and its peer ID is the same */
    EXPECT_OK(mt_libp2p_pubkey_decode(pb, sizeof(pb), &key));
    EXPECT_OK(mt_peer_id_from_pkey(key, peer));
    assert_string_equal(peer, VECTOR_PEER_ID);
    EXPECT_OK(mt_peer_id_verify_pubkey(VECTOR_PEER_ID, 52, pb, sizeof(pb), NULL));
    EVP_PKEY_free(key);
}

static void
test_peer_id_long_key(void **state)
{
    uint8_t pb[4 + 64];
    char peer[MT_PEER_ID_BUF];

    (void)state;
    /* over 42 bytes: a sha2-256 multihash ("Qm..."), computed independently */
    pb[0] = 0x08;
    pb[1] = 0x00;
    pb[2] = 0x12;
    pb[3] = 0x40;
    for (size_t i = 0; i < 64; i++)
        pb[4 + i] = (uint8_t)i;
    EXPECT_OK(mt_peer_id_from_protobuf(pb, sizeof(pb), peer));
    assert_string_equal(peer, "QmdmfsahhEXCPvnTXWZEpyBjVqtohTJ1rb9MX91b2AS6ni");
    /* exactly 42 bytes is still inlined: "1" + ... */
    EXPECT_OK(mt_peer_id_from_protobuf(pb, 42, peer));
    assert_int_equal(peer[0], '1');
    EXPECT_ERR(mt_peer_id_from_protobuf(pb, 0, peer), MT_ERR_ARG);
    /* but the KMS only decodes Ed25519 */
    EXPECT_ERR(mt_libp2p_pubkey_decode(pb, sizeof(pb), &(EVP_PKEY *){NULL}),
               MT_ERR_INVALID_PEER_PUBLIC_KEY);
}

static void
expect_bad_pb(const char *hex)
{
    uint8_t pb[128];
    size_t n = strlen(hex) / 2;
    EVP_PKEY *key = (EVP_PKEY *)"untouched";

    unhex(hex, pb, n);
    EXPECT_ERR(mt_libp2p_pubkey_decode(pb, n, &key), MT_ERR_INVALID_PEER_PUBLIC_KEY);
    assert_string_equal((const char *)key, "untouched");
}

#define K32 "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

static void
test_protobuf_negatives(void **state)
{
    (void)state;
    expect_bad_pb("");
    expect_bad_pb("08");
    expect_bad_pb("0801");
    expect_bad_pb("080112");
    /* RSA, secp256k1 and ECDSA types, and an unknown one */
    expect_bad_pb("08001220" K32);
    expect_bad_pb("08021221" K32 "00");
    expect_bad_pb("08021220" K32);
    expect_bad_pb("08031220" K32);
    expect_bad_pb("08051220" K32);
    /* 31- and 33-byte Ed25519 keys */
    expect_bad_pb("0801121f"
                  "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e");
    expect_bad_pb("08011221" K32 "20");
    /* an extra field after, before, or a repeated field */
    expect_bad_pb("08011220" K32 "1800");
    expect_bad_pb("18000801"
                  "1220" K32);
    expect_bad_pb("08010801"
                  "1220" K32);
    expect_bad_pb("08011220" K32 "1220" K32);
    /* fields out of order */
    expect_bad_pb("1220" K32 "0801");
    /* wrong wire types for fields 1 and 2 */
    expect_bad_pb("09011220" K32);
    expect_bad_pb("08011020" K32);
    /* truncated varints: in the type, the length, the tag */
    expect_bad_pb("0881");
    expect_bad_pb("080112a0");
    expect_bad_pb("80");
    /* non-minimal varints */
    expect_bad_pb("08810012"
                  "20" K32);
    expect_bad_pb("0801128020" K32);
    expect_bad_pb("880008011220" K32);
    /* a varint over 64 bits */
    expect_bad_pb("08ffffffffffffffffff7f1220" K32);
    expect_bad_pb("0880808080808080808002"
                  "1220" K32);
    /* the length runs past the end, and a trailing byte */
    expect_bad_pb("08011221" K32);
    expect_bad_pb("08011220" K32 "00");
    /* 32 bytes that are not a curve point (y = 2) */
    expect_bad_pb("08011220"
                  "02000000000000000000000000000000"
                  "00000000000000000000000000000000");
    /* the largest 64-bit varint is well-formed but not a key type */
    expect_bad_pb("08ffffffffffffffffff011220" K32);
}

static EVP_PKEY *
new_key(void)
{
    EVP_PKEY *k = NULL;

    EXPECT_OK(mt_node_key_generate(&k));
    return k;
}

/* Decode the Ed25519 key with raw bytes y (little endian); on success check the key's bytes. */
static mt_err
decode_raw(const uint8_t raw[MT_ED25519_PUBKEY_LEN])
{
    uint8_t pb[MT_LIBP2P_ED25519_PB_LEN], back[MT_ED25519_PUBKEY_LEN];
    size_t n = sizeof(back);
    EVP_PKEY *key = NULL;
    mt_err e;

    mt_libp2p_ed25519_encode(raw, pb);
    e = mt_libp2p_pubkey_decode(pb, sizeof(pb), &key);
    if (e == MT_OK) {
        assert_int_equal(EVP_PKEY_get_raw_public_key(key, back, &n), 1);
        assert_int_equal(n, MT_ED25519_PUBKEY_LEN);
        assert_memory_equal(back, raw, MT_ED25519_PUBKEY_LEN);
        EVP_PKEY_free(key);
    } else {
        assert_null(key);
    }
    return e;
}

static void
test_pubkey_point_check(void **state)
{
    /* y = 2 is not a point; y = 2 + 2^248 (last byte differs) and y = 3 (first byte) are */
    uint8_t bad[MT_ED25519_PUBKEY_LEN] = {2}, near_last[MT_ED25519_PUBKEY_LEN] = {2},
            near_first[MT_ED25519_PUBKEY_LEN] = {3};
    uint8_t pb[MT_LIBP2P_ED25519_PB_LEN];
    EVP_PKEY *key = NULL;
    size_t i;

    (void)state;
    near_last[31] = 0x01;
    EXPECT_OK(decode_raw(near_last));
    EXPECT_OK(decode_raw(near_first));
    EXPECT_ERR(decode_raw(bad), MT_ERR_INVALID_PEER_PUBLIC_KEY);
    /* the sign bit does not make y = 2 a point */
    bad[31] = 0x80;
    EXPECT_ERR(decode_raw(bad), MT_ERR_INVALID_PEER_PUBLIC_KEY);
    bad[31] = 0x00;
    /* parse checks the protobuf only; point_check the point, as decode does both */
    mt_libp2p_ed25519_encode(bad, pb);
    EXPECT_OK(mt_libp2p_pubkey_parse(pb, sizeof(pb), &key));
    EVP_PKEY_free(key);
    key = NULL;
    EXPECT_ERR(mt_libp2p_pubkey_point_check(pb, sizeof(pb)), MT_ERR_INVALID_PEER_PUBLIC_KEY);
    mt_libp2p_ed25519_encode(near_first, pb);
    EXPECT_OK(mt_libp2p_pubkey_point_check(pb, sizeof(pb)));
    /* a malformed protobuf fails both halves the same way */
    EXPECT_ERR(mt_libp2p_pubkey_parse(pb, sizeof(pb) - 1, &key), MT_ERR_INVALID_PEER_PUBLIC_KEY);
    EXPECT_ERR(mt_libp2p_pubkey_point_check(pb, sizeof(pb) - 1), MT_ERR_INVALID_PEER_PUBLIC_KEY);
    assert_null(key);
    /* generated keys are always points */
    for (i = 0; i < 32; i++) {
        EVP_PKEY *k = new_key(), *dec = NULL;

        EXPECT_OK(mt_libp2p_pubkey_encode(k, pb));
        EXPECT_OK(mt_libp2p_pubkey_point_check(pb, sizeof(pb)));
        EXPECT_OK(mt_libp2p_pubkey_decode(pb, sizeof(pb), &dec));
        assert_int_equal(EVP_PKEY_eq(dec, k), 1);
        EVP_PKEY_free(dec);
        EVP_PKEY_free(k);
    }
}

/*
 * What makes the KMS's deferred point check sound: OpenSSL's Ed25519
 * verification refuses an off-curve key whatever the signature.
 */
static void
test_off_curve_key_never_verifies(void **state)
{
    uint8_t bad[MT_ED25519_PUBKEY_LEN] = {2}, pb[MT_LIBP2P_ED25519_PB_LEN], sig[64];
    static const uint8_t msg[] = "payload";
    EVP_PKEY *key = NULL;
    size_t i;

    (void)state;
    mt_libp2p_ed25519_encode(bad, pb);
    EXPECT_OK(mt_libp2p_pubkey_parse(pb, sizeof(pb), &key));
    for (i = 0; i < 64; i++) {
        memset(sig, (int)i, sizeof(sig));
        sig[63] &= 0x0f; /* S below the group order, so only the point can fail */
        assert_int_not_equal(mt_ed25519_verify(key, msg, sizeof(msg) - 1, sig, sizeof(sig)), MT_OK);
    }
    EVP_PKEY_free(key);
}

static void
test_pubkey_round_trip_and_mismatch(void **state)
{
    EVP_PKEY *a = new_key(), *b = new_key(), *dec = NULL;
    uint8_t pa[MT_LIBP2P_ED25519_PB_LEN], pb[MT_LIBP2P_ED25519_PB_LEN], pd[36];
    char ida[MT_PEER_ID_BUF], idb[MT_PEER_ID_BUF], spaced[MT_PEER_ID_BUF + 1];

    (void)state;
    EXPECT_OK(mt_libp2p_pubkey_encode(a, pa));
    EXPECT_OK(mt_libp2p_pubkey_encode(b, pb));
    assert_memory_equal(pa, "\x08\x01\x12\x20", 4);
    EXPECT_OK(mt_libp2p_pubkey_decode(pa, sizeof(pa), &dec));
    EXPECT_OK(mt_libp2p_pubkey_encode(dec, pd));
    assert_memory_equal(pd, pa, sizeof(pa));
    EVP_PKEY_free(dec);
    EXPECT_OK(mt_peer_id_from_pkey(a, ida));
    EXPECT_OK(mt_peer_id_from_pkey(b, idb));
    assert_int_equal(strlen(ida), 52);
    assert_memory_equal(ida, "12D3KooW", 8);
    EXPECT_OK(mt_peer_id_check(ida, NULL, 0));

    dec = NULL;
    EXPECT_OK(mt_peer_id_verify_pubkey(ida, strlen(ida), pa, sizeof(pa), &dec));
    assert_non_null(dec);
    EVP_PKEY_free(dec);
    /* key of X, claimed peer Y */
    EXPECT_ERR(mt_peer_id_verify_pubkey(idb, strlen(idb), pa, sizeof(pa), NULL),
               MT_ERR_PEER_IDENTITY_MISMATCH);
    /* the comparison is exact: no trimming, no prefix match */
    snprintf(spaced, sizeof(spaced), "%s ", ida);
    EXPECT_ERR(mt_peer_id_verify_pubkey(spaced, strlen(spaced), pa, sizeof(pa), NULL),
               MT_ERR_PEER_IDENTITY_MISMATCH);
    EXPECT_ERR(mt_peer_id_verify_pubkey(ida, 51, pa, sizeof(pa), NULL),
               MT_ERR_PEER_IDENTITY_MISMATCH);
    /* a bad key is reported before the mismatch */
    pa[4] ^= 0xff;
    pa[0] = 0x10;
    EXPECT_ERR(mt_peer_id_verify_pubkey(ida, strlen(ida), pa, sizeof(pa), NULL),
               MT_ERR_INVALID_PEER_PUBLIC_KEY);
    EVP_PKEY_free(a);
    EVP_PKEY_free(b);
}

static void
test_encode_non_ed25519(void **state)
{
    EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    uint8_t pb[36], sig[64];
    char peer[MT_PEER_ID_BUF];

    (void)state;
    assert_non_null(ec);
    EXPECT_ERR(mt_libp2p_pubkey_encode(ec, pb), MT_ERR_ARG);
    EXPECT_ERR(mt_peer_id_from_pkey(ec, peer), MT_ERR_ARG);
    EXPECT_ERR(mt_ed25519_sign(ec, (const uint8_t *)"x", 1, sig), MT_ERR_ARG);
    EXPECT_ERR(mt_ed25519_verify(ec, (const uint8_t *)"x", 1, sig, 64), MT_ERR_ARG);
    EVP_PKEY_free(ec);
}

/* ---- canonical payload ------------------------------------------------ */

static const char golden[] =
    "{\"challengeId\":\"a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4\",\"challengeNonceHex\":"
    "\"7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b\",\"quoteHashHex\":"
    "\"bfe3f153b6664d989cd0c98455b1af3e6677f6ab06e5a618652294195a079b48\",\"peerId\":"
    "\"12D3KooWExample\"}";

static void
golden_inputs(uint8_t nonce[32], uint8_t qhash[32])
{
    memset(nonce, 0x7b, 32);
    SHA256((const uint8_t *)"quote-bytes-for-signature", strlen("quote-bytes-for-signature"),
           qhash);
}

static void
test_payload_golden(void **state)
{
    uint8_t nonce[32], qhash[32];
    char *p = NULL;
    size_t len = 0;

    (void)state;
    golden_inputs(nonce, qhash);
    EXPECT_OK(mt_kms_payload("a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4", nonce, qhash, "12D3KooWExample", 0,
                             &p, &len));
    assert_int_equal(len, 246);
    assert_int_equal(strlen(golden), 246);
    assert_memory_equal(p, golden, 246);
    assert_int_equal(p[246], '\0');
    mt_free(p);
    EXPECT_OK(mt_kms_payload("a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4", nonce, qhash, "12D3KooWExample", 1,
                             &p, &len));
    assert_string_equal(
        p, "{\"challengeId\":\"a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4\",\"challengeNonceHex\":"
           "\"7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b\",\"peerId\":"
           "\"12D3KooWExample\",\"quoteHashHex\":"
           "\"bfe3f153b6664d989cd0c98455b1af3e6677f6ab06e5a618652294195a079b48\"}");
    assert_int_equal(len, 246);
    mt_free(p);
}

static void
test_payload_escaping(void **state)
{
    static const char want[] =
        "{\"challengeId\":\"a\\\"b\\\\c/d\\u0001\\u001f\\b\\f\\n\\r\\t\x7f\xc3\xa9\","
        "\"challengeNonceHex\":"
        "\"0000000000000000000000000000000000000000000000000000000000000000\","
        "\"quoteHashHex\":\"1111111111111111111111111111111111111111111111111111111111111111\","
        "\"peerId\":\"p\\u001b\"}";
    uint8_t zero[32], ones[32];
    char *p = NULL, *big;
    size_t len;

    (void)state;
    memset(zero, 0, 32);
    memset(ones, 0x11, 32);
    EXPECT_OK(mt_kms_payload("a\"b\\c/d\x01\x1f\b\f\n\r\t\x7f\xc3\xa9", zero, ones, "p\x1b", 0, &p,
                             &len));
    assert_string_equal(p, want);
    assert_int_equal(len, strlen(want));
    mt_free(p);
    EXPECT_ERR(mt_kms_payload(NULL, zero, ones, "p", 0, &p, &len), MT_ERR_ARG);
    big = malloc(MT_KMS_PAYLOAD_MAX_FIELD + 2);
    assert_non_null(big);
    memset(big, '\n', MT_KMS_PAYLOAD_MAX_FIELD + 1);
    big[MT_KMS_PAYLOAD_MAX_FIELD + 1] = '\0';
    EXPECT_ERR(mt_kms_payload(big, zero, ones, "p", 0, &p, &len), MT_ERR_TOO_LARGE);
    /* the worst case at the limit fits */
    big[MT_KMS_PAYLOAD_MAX_FIELD] = '\0';
    memset(big, '\x01', MT_KMS_PAYLOAD_MAX_FIELD);
    EXPECT_OK(mt_kms_payload(big, zero, ones, big, 1, &p, &len));
    assert_int_equal(len, 2u * 6u * MT_KMS_PAYLOAD_MAX_FIELD + 246u - 32u - 15u);
    mt_free(p);
    free(big);
}

/* ---- signatures ------------------------------------------------------- */

static void
test_rfc8032_vector(void **state)
{
    /* RFC 8032 section 7.1, TEST 1 (empty message) */
    uint8_t seed[32], pub[32], want[64], sig[64];
    EVP_PKEY *priv, *pk;

    (void)state;
    unhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60", seed, 32);
    unhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", pub, 32);
    unhex("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
          "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
          want, 64);
    priv = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
    pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, 32);
    assert_non_null(priv);
    assert_non_null(pk);
    EXPECT_OK(mt_ed25519_sign(priv, NULL, 0, sig));
    assert_memory_equal(sig, want, 64);
    EXPECT_OK(mt_ed25519_verify(pk, (const uint8_t *)"", 0, want, 64));
    /* a public key cannot sign */
    EXPECT_ERR(mt_ed25519_sign(pk, (const uint8_t *)"", 0, sig), MT_ERR_ARG);
    EVP_PKEY_free(priv);
    EVP_PKEY_free(pk);
}

static void
test_sign_verify_payload(void **state)
{
    EVP_PKEY *key = new_key(), *other = new_key();
    uint8_t nonce[32], qhash[32], sig[MT_ED25519_SIG_LEN], big[65];
    char *p = NULL;
    size_t len;
    int alpha = -1;

    (void)state;
    golden_inputs(nonce, qhash);
    EXPECT_OK(mt_kms_payload("cid", nonce, qhash, "12D3KooWExample", 0, &p, &len));
    EXPECT_OK(mt_ed25519_sign(key, (const uint8_t *)p, len, sig));
    EXPECT_OK(mt_ed25519_verify(key, (const uint8_t *)p, len, sig, sizeof(sig)));
    EXPECT_OK(mt_kms_payload_verify("cid", nonce, qhash, "12D3KooWExample", key, sig, 64, &alpha));
    assert_int_equal(alpha, 0);
    /* tampered payload, tampered signature, wrong key */
    p[5] ^= 1;
    EXPECT_ERR(mt_ed25519_verify(key, (const uint8_t *)p, len, sig, sizeof(sig)),
               MT_ERR_INVALID_SIGNATURE);
    p[5] ^= 1;
    EXPECT_ERR(mt_ed25519_verify(other, (const uint8_t *)p, len, sig, sizeof(sig)),
               MT_ERR_INVALID_SIGNATURE);
    sig[10] ^= 0x40;
    EXPECT_ERR(mt_ed25519_verify(key, (const uint8_t *)p, len, sig, sizeof(sig)),
               MT_ERR_INVALID_SIGNATURE);
    sig[10] ^= 0x40;
    /* wrong lengths */
    EXPECT_ERR(mt_ed25519_verify(key, (const uint8_t *)p, len, sig, 63), MT_ERR_INVALID_SIGNATURE);
    memcpy(big, sig, 64);
    big[64] = 0;
    EXPECT_ERR(mt_ed25519_verify(key, (const uint8_t *)p, len, big, 65), MT_ERR_INVALID_SIGNATURE);
    EXPECT_ERR(mt_ed25519_verify(key, (const uint8_t *)p, len, NULL, 0), MT_ERR_INVALID_SIGNATURE);
    /* S >= L (non-canonical) is refused */
    memset(big, 0xff, 64);
    EXPECT_ERR(mt_ed25519_verify(key, (const uint8_t *)p, len, big, 64), MT_ERR_INVALID_SIGNATURE);
    /* any change to a field breaks the signature */
    EXPECT_ERR(mt_kms_payload_verify("cie", nonce, qhash, "12D3KooWExample", key, sig, 64, NULL),
               MT_ERR_INVALID_SIGNATURE);
    nonce[0] ^= 1;
    EXPECT_ERR(mt_kms_payload_verify("cid", nonce, qhash, "12D3KooWExample", key, sig, 64, NULL),
               MT_ERR_INVALID_SIGNATURE);
    nonce[0] ^= 1;
    qhash[31] ^= 1;
    EXPECT_ERR(mt_kms_payload_verify("cid", nonce, qhash, "12D3KooWExample", key, sig, 64, NULL),
               MT_ERR_INVALID_SIGNATURE);
    qhash[31] ^= 1;
    EXPECT_ERR(mt_kms_payload_verify("cid", nonce, qhash, "12D3KooWExamplf", key, sig, 64, NULL),
               MT_ERR_INVALID_SIGNATURE);
    mt_free(p);

    /* a signature over the alphabetical variant is accepted and reported */
    EXPECT_OK(mt_kms_payload("cid", nonce, qhash, "12D3KooWExample", 1, &p, &len));
    EXPECT_OK(mt_ed25519_sign(key, (const uint8_t *)p, len, sig));
    EXPECT_OK(mt_kms_payload_verify("cid", nonce, qhash, "12D3KooWExample", key, sig, 64, &alpha));
    assert_int_equal(alpha, 1);
    mt_free(p);
    EVP_PKEY_free(key);
    EVP_PKEY_free(other);
}

/* ---- key files -------------------------------------------------------- */

static char tmpdir[64];

static int
setup_dir(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/mt-identity-XXXXXX");
    return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
teardown_dir(void **state)
{
    char cmd[128];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static size_t
count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    size_t n = 0;

    assert_non_null(d);
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            n++;
    }
    closedir(d);
    return n;
}

static void
write_text(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(chmod(path, mode), 0);
}

static void
test_key_file(void **state)
{
    char path[128], detail[256], id1[MT_PEER_ID_BUF], id2[MT_PEER_ID_BUF];
    EVP_PKEY *key = new_key(), *loaded = NULL;
    uint8_t *text;
    struct stat st;
    size_t n;
    mode_t old = umask(0);

    (void)state;
    snprintf(path, sizeof(path), "%s/node.pem", tmpdir);
    EXPECT_OK(mt_node_key_write(path, key, detail, sizeof(detail)));
    umask(old);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(count_entries(tmpdir), 1); /* no temporary left behind */
    text = mt_test_read_file(path, &n);
    assert_non_null(strstr((const char *)text, "-----BEGIN PRIVATE KEY-----"));
    mt_free(text);

    EXPECT_OK(mt_node_key_load(path, &loaded, detail, sizeof(detail)));
    EXPECT_OK(mt_peer_id_from_pkey(key, id1));
    EXPECT_OK(mt_peer_id_from_pkey(loaded, id2));
    assert_string_equal(id1, id2);
    EVP_PKEY_free(loaded);
    loaded = NULL;

    /* never replaces an existing key */
    EXPECT_ERR(mt_node_key_write(path, key, detail, sizeof(detail)), MT_ERR_ARG);
    assert_non_null(strstr(detail, "exists"));
    assert_int_equal(count_entries(tmpdir), 1);

    /* group- or world-accessible files are refused, with a clear message */
    assert_int_equal(chmod(path, 0640), 0);
    EXPECT_ERR(mt_node_key_load(path, &loaded, detail, sizeof(detail)), MT_ERR_ARG);
    assert_non_null(strstr(detail, "mode 0640"));
    assert_non_null(strstr(detail, "chmod 600"));
    assert_int_equal(chmod(path, 0604), 0);
    EXPECT_ERR(mt_node_key_load(path, &loaded, detail, sizeof(detail)), MT_ERR_ARG);
    assert_int_equal(chmod(path, 0620), 0);
    EXPECT_ERR(mt_node_key_load(path, &loaded, detail, sizeof(detail)), MT_ERR_ARG);
    assert_int_equal(chmod(path, 0400), 0);
    EXPECT_OK(mt_node_key_load(path, &loaded, detail, sizeof(detail)));
    EVP_PKEY_free(loaded);
    loaded = NULL;
    assert_null(loaded);

    /* missing file, directory, garbage, empty file */
    snprintf(path, sizeof(path), "%s/missing.pem", tmpdir);
    EXPECT_ERR(mt_node_key_load(path, &loaded, detail, sizeof(detail)), MT_ERR_IO);
    EXPECT_ERR(mt_node_key_load(tmpdir, &loaded, detail, sizeof(detail)), MT_ERR_ARG);
    snprintf(path, sizeof(path), "%s/garbage.pem", tmpdir);
    write_text(path, "not a key\n", 0600);
    EXPECT_ERR(mt_node_key_load(path, &loaded, detail, sizeof(detail)), MT_ERR_ARG);
    snprintf(path, sizeof(path), "%s/empty.pem", tmpdir);
    write_text(path, "", 0600);
    EXPECT_ERR(mt_node_key_load(path, &loaded, detail, sizeof(detail)), MT_ERR_ARG);
    assert_null(loaded);
    EVP_PKEY_free(key);
}

static void
write_pem_key(const char *path, EVP_PKEY *k, const EVP_CIPHER *enc)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    assert_int_equal(PEM_write_PrivateKey(f, k, enc, enc == NULL ? NULL : (unsigned char *)"pw",
                                          enc == NULL ? 0 : 2, NULL, NULL),
                     1);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(chmod(path, 0600), 0);
}

static void
test_key_file_wrong_kinds(void **state)
{
    char path[128], detail[256];
    EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"), *ed = new_key(), *out = NULL;

    (void)state;
    assert_non_null(ec);
    snprintf(path, sizeof(path), "%s/ec.pem", tmpdir);
    write_pem_key(path, ec, NULL);
    EXPECT_ERR(mt_node_key_load(path, &out, detail, sizeof(detail)), MT_ERR_ARG);
    assert_non_null(strstr(detail, "not Ed25519"));
    /* an encrypted key is refused without prompting */
    snprintf(path, sizeof(path), "%s/enc.pem", tmpdir);
    write_pem_key(path, ed, EVP_aes_256_cbc());
    EXPECT_ERR(mt_node_key_load(path, &out, detail, sizeof(detail)), MT_ERR_ARG);
    /* writing a non-Ed25519 key is refused */
    snprintf(path, sizeof(path), "%s/ec-out.pem", tmpdir);
    EXPECT_ERR(mt_node_key_write(path, ec, detail, sizeof(detail)), MT_ERR_ARG);
    /* a directory that does not exist */
    snprintf(path, sizeof(path), "%s/no/such/dir/k.pem", tmpdir);
    EXPECT_ERR(mt_node_key_write(path, ed, detail, sizeof(detail)), MT_ERR_IO);
    assert_null(out);
    EVP_PKEY_free(ec);
    EVP_PKEY_free(ed);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base58_vectors),
        cmocka_unit_test(test_base58_round_trip_and_limits),
        cmocka_unit_test(test_base58_bad_chars),
        cmocka_unit_test(test_peer_id_check),
        cmocka_unit_test(test_unicode_trim),
        cmocka_unit_test(test_vector_2_7),
        cmocka_unit_test(test_peer_id_long_key),
        cmocka_unit_test(test_protobuf_negatives),
        cmocka_unit_test(test_pubkey_round_trip_and_mismatch),
        cmocka_unit_test(test_pubkey_point_check),
        cmocka_unit_test(test_off_curve_key_never_verifies),
        cmocka_unit_test(test_encode_non_ed25519),
        cmocka_unit_test(test_payload_golden),
        cmocka_unit_test(test_payload_escaping),
        cmocka_unit_test(test_rfc8032_vector),
        cmocka_unit_test(test_sign_verify_payload),
        cmocka_unit_test(test_key_file),
        cmocka_unit_test(test_key_file_wrong_kinds),
    };

    return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
