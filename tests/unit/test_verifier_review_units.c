/*
 * mero-verifier SSRF hardening from the second security review: the
 * local-use NAT64 and SIIT prefixes, the port policy, the startup warning
 * for an unset host allowlist, and DNS resolution bounded by the connect
 * timeout (docs/verifier.md "SSRF").
 */
#include "mt_testlib.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/mt_alloc.h"
#include "verifier/verifier.h"

static int
priv6(const char *text)
{
    struct sockaddr_in6 s6;

    memset(&s6, 0, sizeof(s6));
    assert_int_equal(inet_pton(AF_INET6, text, &s6.sin6_addr), 1);
    s6.sin6_family = AF_INET6;
    return mtv_addr_is_private((struct sockaddr *)&s6);
}

static void
test_translation_prefixes(void **state)
{
    (void)state;
    /* 64:ff9b:1::/48 (RFC 8215 local-use NAT64) carries any IPv4 address, public ones too. */
    assert_true(priv6("64:ff9b:1::a00:1"));
    assert_true(priv6("64:ff9b:1::808:808"));
    assert_true(priv6("64:ff9b:1:ffff::1"));
    /* ::ffff:0:a.b.c.d (RFC 7915 SIIT). */
    assert_true(priv6("::ffff:0:7f00:1"));
    assert_true(priv6("::ffff:0:808:808"));
    /* Neighbours stay public. */
    assert_false(priv6("64:ff9b:2::808:808"));
    assert_false(priv6("64:ff9b::808:808"));
    assert_false(priv6("::ffff:8.8.8.8"));
    assert_false(priv6("2606:4700::1111"));
}

struct env_map {
    const char *const *kv; /* name, value, ..., NULL */
};

static const char *
env_get(const char *name, void *arg)
{
    const struct env_map *m = arg;
    size_t i;

    for (i = 0; m->kv[i] != NULL; i += 2)
        if (strcmp(m->kv[i], name) == 0)
            return m->kv[i + 1];
    return NULL;
}

static struct mtv_config *
load(const char *const *kv, mt_err want, char *why, size_t why_len)
{
    struct env_map m = {kv};
    struct mtv_config *c = NULL;

    assert_int_equal(mtv_config_load(env_get, &m, &c, why, why_len), want);
    return c;
}

static int
warned(const struct mtv_config *c, const char *needle)
{
    size_t i;

    for (i = 0; i < c->num_warnings; i++)
        if (strstr(c->warnings[i], needle) != NULL)
            return 1;
    return 0;
}

static void
test_port_policy(void **state)
{
    static const char *const plain[] = {NULL};
    static const char *const priv[] = {"VERIFIER_ALLOW_PRIVATE", "1", NULL};
    static const char *const listed[] = {"VERIFIER_ALLOWED_PORTS", "8443,443",
                                         "VERIFIER_ALLOWED_HOSTS", "kms.example.com", NULL};
    static const char *const bad[][3] = {{"VERIFIER_ALLOWED_PORTS", "0", NULL},
                                         {"VERIFIER_ALLOWED_PORTS", "65536", NULL},
                                         {"VERIFIER_ALLOWED_PORTS", "443,", NULL},
                                         {"VERIFIER_ALLOWED_PORTS", "x", NULL},
                                         {"VERIFIER_ALLOWED_PORTS", "443 ", NULL}};
    struct mtv_config *c;
    char why[256], body_why[256], *out = NULL;
    size_t i, len;
    long st;

    (void)state;
    c = load(plain, MT_OK, why, sizeof(why));
    assert_true(mtv_port_allowed(c, 443));
    assert_true(mtv_port_allowed(c, 80));
    assert_false(mtv_port_allowed(c, 8080));
    assert_false(mtv_port_allowed(c, 22));
    assert_true(warned(c, "VERIFIER_ALLOWED_HOSTS is unset"));
    /* Refused before any lookup or connection. */
    assert_int_equal(mtv_fetch(c, "https://example.com:8443", "/attest", "{}", NULL, 1024, &st,
                               &out, &len, body_why, sizeof(body_why)),
                     MT_ERR_VERIFIER_TARGET_REFUSED);
    assert_non_null(strstr(body_why, "port 8443"));
    mtv_config_free(c);

    c = load(priv, MT_OK, why, sizeof(why));
    assert_true(mtv_port_allowed(c, 8080));
    mtv_config_free(c);

    c = load(listed, MT_OK, why, sizeof(why));
    assert_true(mtv_port_allowed(c, 8443));
    assert_true(mtv_port_allowed(c, 443));
    assert_false(mtv_port_allowed(c, 80));
    assert_false(warned(c, "VERIFIER_ALLOWED_HOSTS is unset"));
    mtv_config_free(c);

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        c = load(bad[i], MT_ERR_CONFIG, why, sizeof(why));
        assert_null(c);
        assert_non_null(strstr(why, "VERIFIER_ALLOWED_PORTS"));
    }
}

/* A resolver that never answers in time. */
static int
slow_resolver(const char *host, const char *port, const struct addrinfo *hints,
              struct addrinfo **res)
{
    (void)host;
    (void)port;
    (void)hints;
    sleep(1);
    *res = NULL;
    return EAI_AGAIN;
}

static void
test_dns_deadline(void **state)
{
    static const char *const kv[] = {"VERIFIER_ALLOWED_HOSTS", "kms.example.com", NULL};
    struct mtv_config *c;
    struct timespec t0, t1;
    char why[256], *out = NULL;
    size_t len;
    long st, ms;

    (void)state;
    c = load(kv, MT_OK, why, sizeof(why));
    c->connect_timeout_ms = 200;
    mtv_set_resolver(slow_resolver);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(mtv_fetch(c, "https://kms.example.com", "/attest", "{}", NULL, 1024, &st, &out,
                               &len, why, sizeof(why)),
                     MT_ERR_VERIFIER_FETCH_FAILED);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    mtv_set_resolver(NULL);
    ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    assert_true(ms < 900);
    assert_non_null(strstr(why, "within 200 ms"));
    mtv_config_free(c);
    sleep(1); /* the abandoned lookup ends and frees itself */
}

static const char *
key_of(const char *text, char *out, size_t len)
{
    struct sockaddr_in s4;
    struct sockaddr_in6 s6;

    memset(&s4, 0, sizeof(s4));
    memset(&s6, 0, sizeof(s6));
    if (inet_pton(AF_INET, text, &s4.sin_addr) == 1) {
        s4.sin_family = AF_INET;
        mtv_client_key((struct sockaddr *)&s4, out, len);
    } else {
        assert_int_equal(inet_pton(AF_INET6, text, &s6.sin6_addr), 1);
        s6.sin6_family = AF_INET6;
        mtv_client_key((struct sockaddr *)&s6, out, len);
    }
    return out;
}

/* Review 2 finding 4: one IPv6 /64 is one rate-limit client. */
static void
test_rate_key(void **state)
{
    char a[64], b[64];

    (void)state;
    assert_string_equal(key_of("203.0.113.7", a, sizeof(a)), "203.0.113.7");
    assert_string_equal(key_of("::ffff:203.0.113.7", a, sizeof(a)), "203.0.113.7");
    assert_string_equal(key_of("2001:db8:1:2:aaaa:bbbb:cccc:dddd", a, sizeof(a)),
                        "2001:db8:1:2::/64");
    assert_string_equal(key_of("2001:db8:1:2::1", a, sizeof(a)),
                        key_of("2001:db8:1:2:ffff::9", b, sizeof(b)));
    assert_string_not_equal(key_of("2001:db8:1:2::1", a, sizeof(a)),
                            key_of("2001:db8:1:3::1", b, sizeof(b)));
    mtv_client_key(NULL, a, sizeof(a));
    assert_string_equal(a, "?");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_translation_prefixes),
        cmocka_unit_test(test_port_policy),
        cmocka_unit_test(test_dns_deadline),
        cmocka_unit_test(test_rate_key),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
