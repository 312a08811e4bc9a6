/* mero-verifier pure pieces: address classes, host allowlist, request parser. */
#include "mt_testlib.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "util/mt_alloc.h"
#include "verifier/verifier.h"

static int
priv(const char *text)
{
    struct sockaddr_in s4;
    struct sockaddr_in6 s6;

    memset(&s4, 0, sizeof(s4));
    memset(&s6, 0, sizeof(s6));
    if (inet_pton(AF_INET, text, &s4.sin_addr) == 1) {
        s4.sin_family = AF_INET;
        return mtv_addr_is_private((struct sockaddr *)&s4);
    }
    assert_int_equal(inet_pton(AF_INET6, text, &s6.sin6_addr), 1);
    s6.sin6_family = AF_INET6;
    return mtv_addr_is_private((struct sockaddr *)&s6);
}

static void
test_private_addresses(void **state)
{
    static const char *const yes[] = {
        "0.0.0.0",
        "10.1.2.3",
        "100.64.0.1",
        "100.127.255.255",
        "127.0.0.1",
        "169.254.169.254",
        "172.16.0.1",
        "172.31.255.255",
        "192.168.1.1",
        "192.0.2.1",
        "198.18.0.1",
        "224.0.0.1",
        "255.255.255.255",
        "::",
        "::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "64:ff9b::a00:1",
        "fd00:ec2::254",
        "fc00::1",
        "fe80::1",
        "ff02::1",
        "2001:db8::1",
        "2002:a00:1::1",
        "::127.0.0.1",
    };
    static const char *const no[] = {"8.8.8.8",        "34.65.123.45",    "100.128.0.1",
                                     "172.32.0.1",     "2606:4700::1111", "::ffff:8.8.8.8",
                                     "2002:808:808::1"};
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
        if (!priv(yes[i]))
            fail_msg("%s not refused", yes[i]);
    for (i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        if (priv(no[i]))
            fail_msg("%s refused", no[i]);
}

static void
test_host_allowlist(void **state)
{
    struct mtv_config c;

    (void)state;
    memset(&c, 0, sizeof(c));
    assert_true(mtv_host_allowed(&c, "anything.example"));
    snprintf(c.allowed_hosts[0], sizeof(c.allowed_hosts[0]), ".calimero.network");
    snprintf(c.allowed_hosts[1], sizeof(c.allowed_hosts[1]), "kms.phala.network");
    c.num_allowed_hosts = 2;
    assert_true(mtv_host_allowed(&c, "a.calimero.network"));
    assert_true(mtv_host_allowed(&c, "x.y.calimero.network"));
    assert_false(mtv_host_allowed(&c, "calimero.network"));
    assert_false(mtv_host_allowed(&c, "evilcalimero.network"));
    assert_false(mtv_host_allowed(&c, "calimero.network.evil"));
    assert_true(mtv_host_allowed(&c, "kms.phala.network"));
    assert_false(mtv_host_allowed(&c, "evilkms.phala.network"));
    assert_false(mtv_host_allowed(&c, "a.kms.phala.network"));
}

static void
test_request_parse(void **state)
{
    struct mtv_request r;
    char why[256];
    const char *b;

    (void)state;
    b = "{\"kmsUrl\":\"https://k.example//\",\"releaseTag\":\"mero-kms-v1.2.3\","
        "\"profile\":\"locked-read-only\"}";
    EXPECT_OK(mtv_request_parse(b, strlen(b), &r, why, sizeof(why)));
    assert_int_equal(r.kind, MTV_KMS);
    assert_string_equal(r.url, "https://k.example");
    assert_string_equal(r.release_tag, "mero-kms-v1.2.3");
    assert_string_equal(r.profile, "locked-read-only");
    mtv_request_free(&r);
    b = "{\"quoteB64\":\"AAECAw==\",\"eventLog\":[],\"nonceHex\":"
        "\"0000000000000000000000000000000000000000000000000000000000000001\"}";
    EXPECT_OK(mtv_request_parse(b, strlen(b), &r, why, sizeof(why)));
    assert_int_equal(r.kind, MTV_PASTE);
    assert_int_equal(r.quote_len, 4);
    assert_int_equal(r.nonce_len, 32);
    assert_int_equal(r.nonce[31], 1);
    assert_string_equal(r.eventlog, "[]");
    mtv_request_free(&r);
    b = "{\"nodeUrl\":\"https://n\",\"kmsUrl\":\"https://k\"}";
    EXPECT_ERR(mtv_request_parse(b, strlen(b), &r, why, sizeof(why)), MT_ERR_VERIFIER_BAD_REQUEST);
    assert_non_null(strstr(why, "exactly one"));
    b = "{\"kmsUrl\":\"https://k\",\"profile\":\"x\"}";
    EXPECT_ERR(mtv_request_parse(b, strlen(b), &r, why, sizeof(why)), MT_ERR_VERIFIER_BAD_REQUEST);
    assert_non_null(strstr(why, "profile"));
}

static void
test_b64url(void **state)
{
    static const char *const bad[] = {"a", "ab=", "a+b/", "ab c", "ab\n", "ab==", "YR"};
    uint8_t *out = NULL;
    size_t n = 0, i;

    (void)state;
    assert_int_equal(mtv_b64url_decode("YWI_-w", 6, 16, &out, &n), MT_OK);
    assert_int_equal(n, 4);
    assert_memory_equal(out, "ab\x3f\xfb", 4);
    mt_free(out);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        out = NULL;
        if (mtv_b64url_decode(bad[i], strlen(bad[i]), 16, &out, &n) != MT_ERR_VERIFIER_ITA)
            fail_msg("accepted %s", bad[i]);
        assert_null(out);
    }
    assert_int_equal(mtv_b64url_decode("AAAAAAAA", 8, 3, &out, &n), MT_ERR_VERIFIER_ITA);
}

/* Tokens refused before any key is used, each with its reason. */
static void
test_jwt_refusals(void **state)
{
    static const struct {
        const char *jwt, *reason;
    } cases[] = {
        {"", "token_malformed"},
        {"a.b", "token_malformed"},
        {"a.b.c.d", "token_malformed"},
        {"e30.e30.", "algorithm"},                                    /* {} */
        {"eyJhbGciOiJub25lIn0.e30.", "algorithm"},                    /* none */
        {"eyJhbGciOiJIUzI1NiIsImtpZCI6ImsifQ.e30.AAAA", "algorithm"}, /* HS256 */
        {"eyJhbGciOiJSUzI1NiJ9.e30.AAAA", "unknown_kid"},             /* no kid */
        {"eyJhbGciOiJSUzI1NiIsImtpZCI6ImsifQ.e30.AAAA", "unknown_kid"},
        {"eyJhbGciOiJSUzI1NiIsImtpZCI6ImsifQ.e30=.AAAA", "token_malformed"},
        {"eyJhbGciOiJSUzI1NiIsImtpZCI6ImsifQ.W10.AAAA", "token_malformed"}, /* [] */
    };
    static const char jwks[] = "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"other\"}]}";
    char reason[32], why[256];
    json_t *claims;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        claims = NULL;
        if (mtv_jwt_verify(cases[i].jwt, strlen(cases[i].jwt), jwks, strlen(jwks), "iss", 0,
                           &claims, reason, sizeof(reason), why,
                           sizeof(why)) != MT_ERR_VERIFIER_ITA ||
            strcmp(reason, cases[i].reason) != 0)
            fail_msg("%s: reason %s (%s), want %s", cases[i].jwt, reason, why, cases[i].reason);
        assert_null(claims);
    }
    /* A kid that is found but whose key is not RSA material. */
    assert_int_equal(mtv_jwt_verify("eyJhbGciOiJSUzI1NiIsImtpZCI6Im90aGVyIn0.e30.AAAA", 46, jwks,
                                    strlen(jwks), "iss", 0, &claims, reason, sizeof(reason), why,
                                    sizeof(why)),
                     MT_ERR_VERIFIER_ITA);
    assert_string_equal(reason, "key_invalid");
    assert_int_equal(mtv_jwt_verify("eyJhbGciOiJSUzI1NiIsImtpZCI6ImsifQ.e30.AAAA", 42, "[]", 2,
                                    "iss", 0, &claims, reason, sizeof(reason), why, sizeof(why)),
                     MT_ERR_VERIFIER_ITA);
    assert_string_equal(reason, "jwks_invalid");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_private_addresses), cmocka_unit_test(test_host_allowlist),
        cmocka_unit_test(test_request_parse),     cmocka_unit_test(test_b64url),
        cmocka_unit_test(test_jwt_refusals),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
