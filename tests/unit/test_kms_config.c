/*
 * mero-kms configuration (mero-tee-reference.md 1.2-1.4, 1.15 "Other unit
 * tests worth porting", 7 items 26-33, defects 5, 6, 11, 12): every
 * variable through a fake environment (the process environment is never
 * read), the profile pin file in a temporary directory, release policies
 * from a local directory and from tests/testlib/release_server.c.
 */
#include "mt_testlib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "kms/kms_config.h"
#include "release_server.h"
#include "util/mt_alloc.h"
#include "util/mt_hex.h"

#define TAG "2.3.40"
#define LOCKED MT_PROFILE_LOCKED_RO
#define PROFILE_ASSET "kms-phala-attestation-policy." LOCKED ".json"
#define GENERIC_ASSET "kms-phala-attestation-policy.json"
#define DEBUG_ASSET "kms-phala-attestation-policy.debug.json"
#define MAX_VARS 48

/* ---- fixture: a fake environment and a temporary directory ---- */

struct fenv {
    const char *k[MAX_VARS];
    char *v[MAX_VARS];
    size_t n;
    char dir[64];
    char pin_file[128];
    struct mt_release_server *srv;
};

static struct fenv E;

static const char *
fenv_get(const char *name, void *arg)
{
    struct fenv *e = arg;
    size_t i;

    for (i = 0; i < e->n; i++) {
        if (strcmp(e->k[i], name) == 0)
            return e->v[i];
    }
    return NULL;
}

/* Set (v != NULL) or unset a variable. */
static void
set(const char *k, const char *v)
{
    size_t i;

    for (i = 0; i < E.n; i++) {
        if (strcmp(E.k[i], k) == 0)
            break;
    }
    if (i < E.n) {
        free(E.v[i]);
        if (v == NULL) {
            E.k[i] = E.k[E.n - 1];
            E.v[i] = E.v[E.n - 1];
            E.n--;
            return;
        }
        E.v[i] = strdup(v);
        return;
    }
    if (v == NULL)
        return;
    assert_true(E.n < MAX_VARS);
    E.k[E.n] = k;
    E.v[E.n] = strdup(v);
    E.n++;
}

static void
write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");

    assert_non_null(fp);
    assert_int_equal(fwrite(text, 1, strlen(text), fp), strlen(text));
    assert_int_equal(fclose(fp), 0);
}

static void
dir_file(char *out, size_t len, const char *name)
{
    snprintf(out, len, "%s/%s", E.dir, name);
}

static int
setup(void **state)
{
    (void)state;
    memset(&E, 0, sizeof(E));
    snprintf(E.dir, sizeof(E.dir), "/tmp/mt-kmscfg-XXXXXX");
    if (mkdtemp(E.dir) == NULL)
        return -1;
    snprintf(E.pin_file, sizeof(E.pin_file), "%s/image-profile", E.dir);
    /* Always: the pin file is ours (absent unless a test writes it). */
    set("KMS_PROFILE_PIN_FILE", E.pin_file);
    return 0;
}

static int
teardown(void **state)
{
    static const char *const names[] = {"image-profile", PROFILE_ASSET, GENERIC_ASSET,
                                        DEBUG_ASSET,     "root.der",    "root.key"};
    char p[256];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        dir_file(p, sizeof(p), names[i]);
        if (unlink(p) != 0)
            rmdir(p);
    }
    rmdir(E.dir);
    for (i = 0; i < E.n; i++)
        free(E.v[i]);
    mt_release_server_stop(E.srv);
    memset(&E, 0, sizeof(E));
    return 0;
}

static mt_err
load(struct mt_kms_config **c, char *why, size_t why_len)
{
    *c = NULL;
    return mt_kms_config_load(fenv_get, &E, c, why, why_len);
}

/* Load must fail with MT_ERR_CONFIG and a message starting with var. */
static void
expect_fatal(const char *var)
{
    struct mt_kms_config *c = NULL;
    char why[1024];

    EXPECT_ERR(load(&c, why, sizeof(why)), MT_ERR_CONFIG);
    assert_null(c);
    if (strncmp(why, var, strlen(var)) != 0)
        fail_msg("message does not name %s: %s", var, why);
}

static struct mt_kms_config *
expect_load(void)
{
    struct mt_kms_config *c = NULL;
    char why[1024];
    mt_err e;

    e = load(&c, why, sizeof(why));
    if (e != MT_OK)
        fail_msg("load: %s: %s", mt_err_code(e), why);
    return c;
}

static int
has_warning(const struct mt_kms_config *c, const char *needle)
{
    size_t i;

    for (i = 0; i < c->num_warnings; i++) {
        if (strstr(c->warnings[i], needle) != NULL)
            return 1;
    }
    return 0;
}

/* 96 hex digits of byte b. */
static const char *
hexrep(uint8_t b)
{
    static char buf[8][97];
    static unsigned slot;
    uint8_t raw[48];
    char *out = buf[slot++ % 8];

    memset(raw, b, sizeof(raw));
    mt_hex_encode(raw, sizeof(raw), out);
    return out;
}

/* A release document for TAG / profile, node lists 0x1N, with an optional empty rtmr3. */
static char *
release_doc(const char *tag, const char *profile, int empty_rtmr3)
{
    json_t *d;
    char *s;

    d = json_pack("{s:s,s:s,s:s,s:{s:[s],s:[s],s:[s],s:[s],s:[s],s:[s]}}", "role", "kms", "profile",
                  profile, "tag", tag, "policy", "node_allowed_tcb_statuses", "uptodate",
                  "node_allowed_mrtd", hexrep(0x10), "node_allowed_rtmr0", hexrep(0x11),
                  "node_allowed_rtmr1", hexrep(0x12), "node_allowed_rtmr2", hexrep(0x13),
                  "node_allowed_rtmr3", hexrep(0x14));
    assert_non_null(d);
    if (empty_rtmr3)
        json_object_set_new(json_object_get(d, "policy"), "node_allowed_rtmr3", json_array());
    s = json_dumps(d, JSON_INDENT(2));
    json_decref(d);
    assert_non_null(s);
    return s;
}

static void
put_dir_doc(const char *asset, const char *profile, int empty_rtmr3)
{
    char path[256], *s = release_doc(TAG, profile, empty_rtmr3);

    dir_file(path, sizeof(path), asset);
    write_file(path, s);
    free(s);
}

/* Five allowlists for an env policy. */
static void
set_env_lists(void)
{
    set("ALLOWED_MRTD", hexrep(0xa0));
    set("ALLOWED_RTMR0", hexrep(0xa1));
    set("ALLOWED_RTMR1", hexrep(0xa2));
    set("ALLOWED_RTMR2", hexrep(0xa3));
    set("ALLOWED_RTMR3", hexrep(0xa4));
}

/* ---- value parsers ---- */

static void
test_bool_table(void **state)
{
    static const char *const truthy[] = {"1",   "true", "TRUE", "True",   "yes",
                                         "YES", "on",   "On",   " True ", "\ttrue\n"};
    static const char *const falsy[] = {"0", "false", "FALSE", "no", "No", "off", "OFF", " 0 "};
    static const char *const bad[] = {"maybe", "",  " ",   "2",   "tru", "yess",
                                      "t",     "y", "o n", "1 1", "-1",  "enabled"};
    size_t i;
    int v;

    (void)state;
    for (i = 0; i < sizeof(truthy) / sizeof(truthy[0]); i++) {
        v = -1;
        EXPECT_OK(mt_env_parse_bool(truthy[i], &v));
        assert_int_equal(v, 1);
    }
    for (i = 0; i < sizeof(falsy) / sizeof(falsy[0]); i++) {
        v = -1;
        EXPECT_OK(mt_env_parse_bool(falsy[i], &v));
        assert_int_equal(v, 0);
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        v = -1;
        EXPECT_ERR(mt_env_parse_bool(bad[i], &v), MT_ERR_CONFIG);
        assert_int_equal(v, -1);
    }
    EXPECT_ERR(mt_env_parse_bool(NULL, &v), MT_ERR_CONFIG);
    EXPECT_ERR(mt_env_parse_bool("\xff", &v), MT_ERR_CONFIG);
}

static void
test_pin_normalisation(void **state)
{
    uint8_t pin[32], want[32];
    char buf[128];

    (void)state;
    memset(want, 0xab, sizeof(want));
    EXPECT_OK(
        mt_kms_parse_pin("abababababababababababababababababababababababababababababababab", pin));
    assert_memory_equal(pin, want, 32);
    /* 0x + uppercase, surrounding spaces, repeated 0x. */
    EXPECT_OK(mt_kms_parse_pin(
        " 0xABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABAB ", pin));
    assert_memory_equal(pin, want, 32);
    EXPECT_OK(mt_kms_parse_pin(
        "0x0xabababababababababababababababababababababababababababababababab", pin));
    assert_memory_equal(pin, want, 32);
    /* Wrong length, non-hex, 0X, empty. */
    EXPECT_ERR(mt_kms_parse_pin("abab", pin), MT_ERR_CONFIG);
    snprintf(buf, sizeof(buf), "%.63s", hexrep(0xab));
    EXPECT_ERR(mt_kms_parse_pin(buf, pin), MT_ERR_CONFIG);
    snprintf(buf, sizeof(buf), "%.65s", hexrep(0xab));
    EXPECT_ERR(mt_kms_parse_pin(buf, pin), MT_ERR_CONFIG);
    snprintf(buf, sizeof(buf), "%.63sg", hexrep(0xab));
    EXPECT_ERR(mt_kms_parse_pin(buf, pin), MT_ERR_CONFIG);
    snprintf(buf, sizeof(buf), "0X%.64s", hexrep(0xab));
    EXPECT_ERR(mt_kms_parse_pin(buf, pin), MT_ERR_CONFIG);
    EXPECT_ERR(mt_kms_parse_pin("", pin), MT_ERR_CONFIG);
    EXPECT_ERR(mt_kms_parse_pin(NULL, pin), MT_ERR_CONFIG);
}

static void
test_redis_urls(void **state)
{
    struct mt_kms_redis_target t;
    char why[256];

    (void)state;
    EXPECT_OK(mt_kms_redis_url_parse("redis://127.0.0.1", &t, why, sizeof(why)));
    assert_int_equal(t.is_unix, 0);
    assert_string_equal(t.host, "127.0.0.1");
    assert_int_equal(t.port, 6379);
    assert_int_equal(t.db, 0);
    assert_int_equal(t.has_password, 0);
    EXPECT_OK(
        mt_kms_redis_url_parse("REDIS://:s%40cret@redis.internal:6380/2", &t, why, sizeof(why)));
    assert_string_equal(t.host, "redis.internal");
    assert_int_equal(t.port, 6380);
    assert_int_equal(t.db, 2);
    assert_int_equal(t.has_password, 1);
    assert_string_equal(t.password, "s@cret");
    assert_string_equal(t.user, "");
    EXPECT_OK(mt_kms_redis_url_parse("redis://kms:pw@[::1]:7000/", &t, why, sizeof(why)));
    assert_string_equal(t.host, "::1");
    assert_string_equal(t.user, "kms");
    assert_int_equal(t.port, 7000);
    EXPECT_OK(mt_kms_redis_url_parse("redis://onlyuser@h", &t, why, sizeof(why)));
    assert_string_equal(t.user, "onlyuser");
    assert_int_equal(t.has_password, 0);
    EXPECT_OK(mt_kms_redis_url_parse("unix:///run/redis/redis.sock?db=3&pass=p%26w", &t, why,
                                     sizeof(why)));
    assert_int_equal(t.is_unix, 1);
    assert_string_equal(t.path, "/run/redis/redis.sock");
    assert_int_equal(t.db, 3);
    assert_string_equal(t.password, "p&w");
    EXPECT_OK(mt_kms_redis_url_parse("redis+unix:///tmp/r.sock", &t, why, sizeof(why)));
    assert_string_equal(t.path, "/tmp/r.sock");

    {
        static const char *const bad[] = {
            "",
            "localhost:6379",
            "http://h",
            "rediss://h",
            "redis://",
            "redis://:pw@",
            "redis://h:0",
            "redis://h:65536",
            "redis://h:",
            "redis://h:63x",
            "redis://h/x",
            "redis://h/1/2",
            "redis://h?db=1",
            "redis://h#f",
            "redis://h o",
            "redis://[::1",
            "redis://[zz]:1",
            "redis://[::1]x",
            "redis://:bad%zz@h",
            "redis://:nul%00@h",
            "redis://ho$t",
            "unix://relative.sock",
            "unix:///",
            "unix:///s?db=x",
            "unix:///s?db=1&db=2",
            "unix:///s?color=red",
            "unix:///s?db",
            "redis://h\n",
        };
        size_t i;

        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            memset(&t, 0x5a, sizeof(t));
            if (mt_kms_redis_url_parse(bad[i], &t, why, sizeof(why)) != MT_ERR_CONFIG)
                fail_msg("accepted %s", bad[i]);
            assert_int_equal(t.port, 0x5a5a);
            assert_true(why[0] != '\0');
        }
    }
    EXPECT_ERR(mt_kms_redis_url_parse(NULL, &t, why, sizeof(why)), MT_ERR_CONFIG);
}

/* ---- configuration ---- */

static void
test_defaults(void **state)
{
    struct mt_kms_config *c;

    (void)state;
    c = expect_load();
    assert_string_equal(c->listen_host, "0.0.0.0");
    assert_int_equal(c->listen_port, 8080);
    assert_string_equal(c->dstack_socket, "/var/run/dstack.sock");
    assert_int_equal(c->challenge_ttl, 60);
    assert_int_equal(c->max_pending, 10000);
    assert_int_equal(c->max_pending_per_peer, 16);
    assert_int_equal(c->accept_mock, 0);
    assert_null(c->redis_url);
    assert_string_equal(c->profile, LOCKED);
    assert_string_equal(c->key_prefix, "merod/storage");
    assert_int_equal(c->num_cors_origins, 0);
    assert_int_equal(c->enforce, 1);
    assert_int_equal(c->use_env_policy, 0);
    assert_int_equal(c->has_version, 0);
    assert_int_equal(c->has_policy_pin, 0);
    assert_string_equal(c->release_base_url, MT_POLICY_DEFAULT_BASE_URL);
    assert_null(c->release_dir);
    assert_int_equal(c->key_provider, MT_KMS_KEYS_DSTACK);
    assert_null(c->local_root_key_file);
    assert_int_equal(c->num_pccs_urls, 1);
    assert_string_equal(c->pccs_urls[0], "https://api.trustedservices.intel.com");
    assert_string_equal(c->collateral_cache_dir, "/var/lib/mero-kms/collateral");
    assert_null(c->trust_root_file);
    assert_string_equal(c->audit_log, "/var/lib/mero-kms/audit.jsonl");
    assert_string_equal(c->profile_pin_file, E.pin_file);
    assert_int_equal(c->num_warnings, 0);
    /* Item 28: no version, no env policy -> degraded, reason names MERO_KMS_VERSION. */
    assert_int_equal(c->policy_ready, 0);
    assert_string_equal(c->policy_reason,
                        "MERO_KMS_VERSION is not set; release policy is not available yet");
    assert_non_null(c->policy);
    assert_int_equal(c->policy->enforce, 1);
    assert_int_equal(c->policy->num_tcb_statuses, 1);
    assert_string_equal(c->policy->tcb_statuses[0], "uptodate");
    assert_int_equal(c->policy->mrtd.n, 0);
    mt_kms_config_free(c);
    mt_kms_config_free(NULL);

    /* The unset default pin file path is the image's. */
    set("KMS_PROFILE_PIN_FILE", "");
    expect_fatal("KMS_PROFILE_PIN_FILE");
    EXPECT_ERR(mt_kms_config_load(NULL, NULL, &c, NULL, 0), MT_ERR_ARG);
    EXPECT_ERR(mt_kms_config_load(fenv_get, &E, NULL, NULL, 0), MT_ERR_ARG);
}

static void
test_listen_addr(void **state)
{
    static const struct {
        const char *v, *host;
        unsigned port;
    } good[] = {
        {"127.0.0.1:9000", "127.0.0.1", 9000}, {" 10.1.2.3:80 ", "10.1.2.3", 80},
        {"0.0.0.0:0", "0.0.0.0", 0},           {"[::1]:8443", "::1", 8443},
        {"[::]:65535", "::", 65535},           {"[fe80::1:2]:1", "fe80::1:2", 1},
    };
    static const char *const bad[] = {
        "",           "localhost:8080", "1.2.3.4",     "1.2.3.4:",     "1.2.3.4:65536",
        ":8080",      "[::1]",          "::1:8080",    "[::1]8080",    "1.2.3.4:80x",
        "1.2.3.4:-1", "1.2.3:80",       "01.2.3.4:80", "[1.2.3.4]:80", "1.2.3.4: 80",
        "256.1.1.1:1"};
    struct mt_kms_config *c;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        set("LISTEN_ADDR", good[i].v);
        c = expect_load();
        assert_string_equal(c->listen_host, good[i].host);
        assert_int_equal(c->listen_port, good[i].port);
        mt_kms_config_free(c);
    }
    /* Defect 5: no silent fallback to 0.0.0.0:8080. */
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        set("LISTEN_ADDR", bad[i]);
        expect_fatal("LISTEN_ADDR");
    }
}

static void
test_numbers(void **state)
{
    struct mt_kms_config *c;
    static const char *const bad_ttl[] = {"0", "86401", "abc", "-1",
                                          "",  "1e3",   "60s", "99999999999999999999999"};
    size_t i;

    (void)state;
    set("CHALLENGE_TTL_SECS", " 120 ");
    set("MAX_PENDING_CHALLENGES", "1");
    set("MAX_PENDING_CHALLENGES_PER_PEER", "4");
    c = expect_load();
    assert_int_equal(c->challenge_ttl, 120);
    assert_int_equal(c->max_pending, 1);
    assert_int_equal(c->max_pending_per_peer, 4);
    mt_kms_config_free(c);
    set("CHALLENGE_TTL_SECS", "86400");
    c = expect_load();
    assert_int_equal(c->challenge_ttl, 86400);
    mt_kms_config_free(c);

    /* Defect 6: TTL 0 is refused; defect 5: junk is fatal, not 60. */
    for (i = 0; i < sizeof(bad_ttl) / sizeof(bad_ttl[0]); i++) {
        set("CHALLENGE_TTL_SECS", bad_ttl[i]);
        expect_fatal("CHALLENGE_TTL_SECS");
    }
    set("CHALLENGE_TTL_SECS", NULL);
    /* Item 26: MAX_PENDING_CHALLENGES=0 is fatal; junk too. */
    set("MAX_PENDING_CHALLENGES", "0");
    expect_fatal("MAX_PENDING_CHALLENGES");
    set("MAX_PENDING_CHALLENGES", "ten");
    expect_fatal("MAX_PENDING_CHALLENGES");
    set("MAX_PENDING_CHALLENGES", "10000001");
    expect_fatal("MAX_PENDING_CHALLENGES");
    set("MAX_PENDING_CHALLENGES", NULL);
    set("MAX_PENDING_CHALLENGES_PER_PEER", "0");
    expect_fatal("MAX_PENDING_CHALLENGES_PER_PEER");
    set("MAX_PENDING_CHALLENGES_PER_PEER", NULL);

    /* HTTP_WORKERS: unset is 0 (the machine's default, chosen by main.c); set, 1..63. */
    c = expect_load();
    assert_int_equal(c->http_workers, 0);
    mt_kms_config_free(c);
    set("HTTP_WORKERS", " 63 ");
    c = expect_load();
    assert_int_equal(c->http_workers, 63);
    mt_kms_config_free(c);
    set("HTTP_WORKERS", "1");
    c = expect_load();
    assert_int_equal(c->http_workers, 1);
    mt_kms_config_free(c);
    for (i = 0; i < 4; i++) {
        static const char *const bad_workers[] = {"0", "64", "", "two"};

        set("HTTP_WORKERS", bad_workers[i]);
        expect_fatal("HTTP_WORKERS");
    }
    set("HTTP_WORKERS", NULL);

    /* AUDIT_SYNC_INTERVAL_US: 3000 unset; 0 (no pacing) .. 100000. */
    c = expect_load();
    assert_int_equal(c->audit_sync_interval_us, 3000);
    mt_kms_config_free(c);
    set("AUDIT_SYNC_INTERVAL_US", "0");
    c = expect_load();
    assert_int_equal(c->audit_sync_interval_us, 0);
    mt_kms_config_free(c);
    set("AUDIT_SYNC_INTERVAL_US", "100000");
    c = expect_load();
    assert_int_equal(c->audit_sync_interval_us, 100000);
    mt_kms_config_free(c);
    for (i = 0; i < 4; i++) {
        static const char *const bad_interval[] = {"-1", "100001", "", "2ms"};

        set("AUDIT_SYNC_INTERVAL_US", bad_interval[i]);
        expect_fatal("AUDIT_SYNC_INTERVAL_US");
    }
    set("AUDIT_SYNC_INTERVAL_US", NULL);
}

static void
test_bool_vars(void **state)
{
    static const char *const vars[] = {"ACCEPT_MOCK_ATTESTATION", "ENFORCE_MEASUREMENT_POLICY",
                                       "USE_ENV_POLICY"};
    struct mt_kms_config *c;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
        set(vars[i], "maybe");
        expect_fatal(vars[i]);
        set(vars[i], "");
        expect_fatal(vars[i]);
        set(vars[i], NULL);
    }
    set("ACCEPT_MOCK_ATTESTATION", " Yes ");
    set("ENFORCE_MEASUREMENT_POLICY", "off");
    c = expect_load();
    assert_int_equal(c->accept_mock, 1);
    assert_int_equal(c->enforce, 0);
    assert_int_equal(c->policy->enforce, 0);
    assert_true(has_warning(c, "ACCEPT_MOCK_ATTESTATION"));
    assert_true(has_warning(c, "ENFORCE_MEASUREMENT_POLICY"));
    mt_kms_config_free(c);
}

static void
test_redis_var(void **state)
{
    struct mt_kms_config *c;
    char why[1024];

    (void)state;
    set("REDIS_URL", "  ");
    c = expect_load();
    assert_null(c->redis_url); /* empty = unset */
    mt_kms_config_free(c);
    set("REDIS_URL", " redis://:hunter2@127.0.0.1:6379/0 ");
    c = expect_load();
    assert_string_equal(c->redis_url, "redis://:hunter2@127.0.0.1:6379/0");
    mt_kms_config_free(c);
    /* Item 26: invalid -> fatal; the message never shows the password. */
    set("REDIS_URL", "redis://:hunter2@127.0.0.1:99999");
    EXPECT_ERR(load(&c, why, sizeof(why)), MT_ERR_CONFIG);
    assert_non_null(strstr(why, "REDIS_URL"));
    assert_null(strstr(why, "hunter2"));
    set("REDIS_URL", "not a url");
    expect_fatal("REDIS_URL");
    set("REDIS_URL", "rediss://h");
    expect_fatal("REDIS_URL");
    /* Forms the URL grammar allows but the challenge store cannot use: fatal here. */
    set("REDIS_URL", "unix:///run/redis.sock");
    EXPECT_ERR(load(&c, why, sizeof(why)), MT_ERR_CONFIG);
    assert_non_null(strstr(why, "REDIS_URL: unix sockets are not supported"));
    set("REDIS_URL", "REDIS://127.0.0.1");
    EXPECT_ERR(load(&c, why, sizeof(why)), MT_ERR_CONFIG);
    assert_non_null(strstr(why, "lower case"));
    set("REDIS_URL", "redis://onlyuser@127.0.0.1");
    EXPECT_ERR(load(&c, why, sizeof(why)), MT_ERR_CONFIG);
    assert_non_null(strstr(why, "a user needs a password"));
    set("REDIS_URL", "redis://user:pw@127.0.0.1");
    c = expect_load();
    mt_kms_config_free(c);
}

static void
test_profile_resolution(void **state)
{
    struct mt_kms_config *c;
    char why[1024];

    (void)state;
    /* Pin file missing: override or default. */
    set("MERO_KMS_PROFILE", " Debug ");
    c = expect_load();
    assert_string_equal(c->profile, "debug");
    mt_kms_config_free(c);
    set("MERO_KMS_PROFILE", "");
    c = expect_load();
    assert_string_equal(c->profile, LOCKED); /* empty override ignored when unpinned */
    mt_kms_config_free(c);
    set("MERO_KMS_PROFILE", "prod");
    expect_fatal("MERO_KMS_PROFILE");
    set("MERO_KMS_PROFILE", NULL);

    /* Deprecated alias alone: used, with a warning. */
    set("KMS_POLICY_PROFILE", "debug-read-only");
    c = expect_load();
    assert_string_equal(c->profile, "debug-read-only");
    assert_true(has_warning(c, "KMS_POLICY_PROFILE is deprecated"));
    mt_kms_config_free(c);
    set("KMS_POLICY_PROFILE", "unknown");
    expect_fatal("KMS_POLICY_PROFILE");
    /* Both set: equal after trim + case-insensitive is fine; different is fatal (item 27). */
    set("MERO_KMS_PROFILE", "debug-read-only");
    set("KMS_POLICY_PROFILE", " DEBUG-read-only ");
    c = expect_load();
    assert_string_equal(c->profile, "debug-read-only");
    assert_false(has_warning(c, "deprecated"));
    mt_kms_config_free(c);
    set("KMS_POLICY_PROFILE", "debug");
    expect_fatal("MERO_KMS_PROFILE");
    set("KMS_POLICY_PROFILE", NULL);
    set("MERO_KMS_PROFILE", NULL);

    /* Pinned: the pin is used. */
    write_file(E.pin_file, "debug\n");
    c = expect_load();
    assert_string_equal(c->profile, "debug");
    mt_kms_config_free(c);
    /* A matching override (any case) is fine; a mismatching one is fatal (item 27). */
    set("MERO_KMS_PROFILE", "DEBUG");
    c = expect_load();
    assert_string_equal(c->profile, "debug");
    mt_kms_config_free(c);
    set("MERO_KMS_PROFILE", LOCKED);
    EXPECT_ERR(load(&c, why, sizeof(why)), MT_ERR_CONFIG);
    assert_non_null(strstr(why, "does not match profile-pinned image value 'debug'"));
    /* When pinned, an empty override must still parse: fatal. */
    set("MERO_KMS_PROFILE", "");
    expect_fatal("MERO_KMS_PROFILE");
    set("MERO_KMS_PROFILE", NULL);
    set("KMS_POLICY_PROFILE", LOCKED);
    expect_fatal("KMS_POLICY_PROFILE");
    set("KMS_POLICY_PROFILE", NULL);

    /* Empty pin file (after trim) is fatal (item 27); unknown content too. */
    write_file(E.pin_file, " \n\t");
    EXPECT_ERR(load(&c, why, sizeof(why)), MT_ERR_CONFIG);
    assert_non_null(strstr(why, "is empty; refusing startup"));
    write_file(E.pin_file, "");
    expect_fatal("KMS_PROFILE_PIN_FILE");
    write_file(E.pin_file, "production\n");
    expect_fatal("KMS_PROFILE_PIN_FILE");
    /* Unreadable (a directory): fatal, not "no pin". */
    unlink(E.pin_file);
    assert_int_equal(mkdir(E.pin_file, 0700), 0);
    expect_fatal("KMS_PROFILE_PIN_FILE");
    rmdir(E.pin_file);
    /* A FIFO: refused at once, not waited on. */
    assert_int_equal(mkfifo(E.pin_file, 0600), 0);
    expect_fatal("KMS_PROFILE_PIN_FILE");
    unlink(E.pin_file);
    /* A file too large to be a profile. */
    {
        char big[600];

        memset(big, 'a', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        write_file(E.pin_file, big);
        expect_fatal("KMS_PROFILE_PIN_FILE");
    }
    unlink(E.pin_file);
}

static void
test_prefix_cors_misc(void **state)
{
    struct mt_kms_config *c;
    char long_prefix[300], sock[200];

    (void)state;
    /* Item 21: /a/b/ -> a/b. */
    set("KEY_NAMESPACE_PREFIX", "/a/b/");
    c = expect_load();
    assert_string_equal(c->key_prefix, "a/b");
    mt_kms_config_free(c);
    set("KEY_NAMESPACE_PREFIX", "///");
    c = expect_load();
    assert_string_equal(c->key_prefix, "merod/storage");
    mt_kms_config_free(c);
    set("KEY_NAMESPACE_PREFIX", " x ");
    c = expect_load();
    assert_string_equal(c->key_prefix, " x "); /* no whitespace trim, as the reference */
    mt_kms_config_free(c);
    memset(long_prefix, 'p', sizeof(long_prefix) - 1);
    long_prefix[sizeof(long_prefix) - 1] = '\0';
    set("KEY_NAMESPACE_PREFIX", long_prefix);
    expect_fatal("KEY_NAMESPACE_PREFIX");
    set("KEY_NAMESPACE_PREFIX", NULL);

    /* CORS CSV: trimmed, empties dropped. */
    set("CORS_ALLOWED_ORIGINS", " https://a.example , ,https://b.example:8443,");
    c = expect_load();
    assert_int_equal(c->num_cors_origins, 2);
    assert_string_equal(c->cors_origins[0], "https://a.example");
    assert_string_equal(c->cors_origins[1], "https://b.example:8443");
    mt_kms_config_free(c);
    set("CORS_ALLOWED_ORIGINS", " , ");
    c = expect_load();
    assert_int_equal(c->num_cors_origins, 0);
    mt_kms_config_free(c);
    /* Item 26: not a header value -> fatal. */
    set("CORS_ALLOWED_ORIGINS", "https://a.example,https://b\x01.example");
    expect_fatal("CORS_ALLOWED_ORIGINS");
    set("CORS_ALLOWED_ORIGINS", "https://\xc3\xa9.example");
    expect_fatal("CORS_ALLOWED_ORIGINS");
    set("CORS_ALLOWED_ORIGINS", NULL);

    /* dstack socket path: length and emptiness. */
    set("DSTACK_SOCKET_PATH", "/tmp/agent.sock");
    c = expect_load();
    assert_string_equal(c->dstack_socket, "/tmp/agent.sock");
    mt_kms_config_free(c);
    memset(sock, 's', sizeof(sock) - 1);
    sock[0] = '/';
    sock[sizeof(sock) - 1] = '\0';
    set("DSTACK_SOCKET_PATH", sock);
    expect_fatal("DSTACK_SOCKET_PATH");
    set("DSTACK_SOCKET_PATH", "");
    expect_fatal("DSTACK_SOCKET_PATH");
    set("DSTACK_SOCKET_PATH", NULL);

    /* Files and directories. */
    set("COLLATERAL_CACHE_DIR", "");
    set("AUDIT_LOG_PATH", "/tmp/audit.jsonl");
    c = expect_load();
    assert_string_equal(c->collateral_cache_dir, "");
    assert_string_equal(c->audit_log, "/tmp/audit.jsonl");
    mt_kms_config_free(c);
    set("AUDIT_LOG_PATH", "");
    expect_fatal("AUDIT_LOG_PATH");
    set("AUDIT_LOG_PATH", NULL);
    set("COLLATERAL_CACHE_DIR", "/tmp/a\nb");
    expect_fatal("COLLATERAL_CACHE_DIR");
    set("COLLATERAL_CACHE_DIR", NULL);
}

static void
test_pccs_keys_trust_root(void **state)
{
    struct mt_kms_config *c;
    char path[256];

    (void)state;
    set("PCCS_URLS", " http://127.0.0.1:8081 ,, https://pccs.example/sgx/certification/v4 ");
    c = expect_load();
    assert_int_equal(c->num_pccs_urls, 2);
    assert_string_equal(c->pccs_urls[0], "http://127.0.0.1:8081");
    assert_string_equal(c->pccs_urls[1], "https://pccs.example/sgx/certification/v4");
    mt_kms_config_free(c);
    set("PCCS_URLS", "");
    expect_fatal("PCCS_URLS");
    set("PCCS_URLS", "ftp://pccs.example");
    expect_fatal("PCCS_URLS");
    set("PCCS_URLS", "https://");
    expect_fatal("PCCS_URLS");
    set("PCCS_URLS", "https://u:p@pccs.example");
    expect_fatal("PCCS_URLS");
    set("PCCS_URLS", NULL);

    /* Key provider. */
    set("KMS_KEY_PROVIDER", "tpm");
    expect_fatal("KMS_KEY_PROVIDER");
    set("KMS_KEY_PROVIDER", " Local ");
    expect_fatal("KMS_LOCAL_ROOT_KEY_FILE");
    /* Unusable path (its parent is a file): fatal. */
    snprintf(path, sizeof(path), "%s/root.key", E.pin_file);
    write_file(E.pin_file, "debug\n");
    set("KMS_LOCAL_ROOT_KEY_FILE", path);
    expect_fatal("KMS_LOCAL_ROOT_KEY_FILE");
    unlink(E.pin_file);
    /* Missing: accepted, the KMS creates it (0600) at startup. */
    dir_file(path, sizeof(path), "root.key");
    set("KMS_LOCAL_ROOT_KEY_FILE", path);
    c = expect_load();
    assert_int_equal(c->key_provider, MT_KMS_KEYS_LOCAL);
    mt_kms_config_free(c);
    write_file(path, "0123456789abcdef0123456789abcdef");
    c = expect_load();
    assert_int_equal(c->key_provider, MT_KMS_KEYS_LOCAL);
    assert_string_equal(c->local_root_key_file, path);
    assert_true(has_warning(c, "development only"));
    mt_kms_config_free(c);
    set("KMS_KEY_PROVIDER", "dstack");
    c = expect_load();
    assert_int_equal(c->key_provider, MT_KMS_KEYS_DSTACK);
    assert_null(c->local_root_key_file);
    assert_true(has_warning(c, "KMS_LOCAL_ROOT_KEY_FILE is ignored"));
    mt_kms_config_free(c);
    set("KMS_KEY_PROVIDER", NULL);
    set("KMS_LOCAL_ROOT_KEY_FILE", NULL);

    /* Trust root: must be readable, and is warned about loudly. */
    dir_file(path, sizeof(path), "root.der");
    set("KMS_TRUST_ROOT_FILE", path);
    expect_fatal("KMS_TRUST_ROOT_FILE");
    write_file(path, "not really DER");
    c = expect_load();
    assert_string_equal(c->trust_root_file, path);
    assert_true(has_warning(c, "DEVELOPMENT ONLY"));
    mt_kms_config_free(c);
    set("KMS_TRUST_ROOT_FILE", "");
    expect_fatal("KMS_TRUST_ROOT_FILE");
    set("KMS_TRUST_ROOT_FILE", NULL);
}

static void
test_version_and_pin_vars(void **state)
{
    struct mt_kms_config *c;

    (void)state;
    set("MERO_KMS_RELEASE_DIR", E.dir); /* never the network */
    /* 1.15: mero-kms-v2.3.4 -> 2.3.4. */
    set("MERO_KMS_VERSION", " mero-kms-v2.3.4 ");
    c = expect_load();
    assert_int_equal(c->has_version, 1);
    assert_string_equal(c->version, "2.3.4");
    assert_int_equal(c->policy_ready, 0);
    assert_non_null(strstr(c->policy_reason,
                           "Failed to load release policy for version '2.3.4' profile "
                           "'locked-read-only': "));
    mt_kms_config_free(c);
    /* Item 26: empty version is fatal; so is a bare prefix or URL-path characters. */
    set("MERO_KMS_VERSION", "  ");
    expect_fatal("MERO_KMS_VERSION");
    set("MERO_KMS_VERSION", "mero-kms-v");
    expect_fatal("MERO_KMS_VERSION");
    set("MERO_KMS_VERSION", "2.3.4/../../x");
    expect_fatal("MERO_KMS_VERSION");
    set("MERO_KMS_VERSION", "2.3.4?x=1");
    expect_fatal("MERO_KMS_VERSION");
    set("MERO_KMS_VERSION", NULL);

    /* Item 26: bad pin is fatal; good pin normalised. */
    set("MERO_KMS_POLICY_SHA256",
        "0xABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABAB");
    c = expect_load();
    assert_int_equal(c->has_policy_pin, 1);
    assert_int_equal(c->policy_pin[31], 0xab);
    mt_kms_config_free(c);
    set("MERO_KMS_POLICY_SHA256", "abc");
    expect_fatal("MERO_KMS_POLICY_SHA256");
    set("MERO_KMS_POLICY_SHA256", "");
    expect_fatal("MERO_KMS_POLICY_SHA256");
    set("MERO_KMS_POLICY_SHA256", NULL);

    /* Release locations. */
    set("MERO_KMS_RELEASE_DIR", "/nonexistent/mero-kms");
    expect_fatal("MERO_KMS_RELEASE_DIR");
    set("MERO_KMS_RELEASE_DIR", E.pin_file); /* absent file, not a directory */
    expect_fatal("MERO_KMS_RELEASE_DIR");
    set("MERO_KMS_RELEASE_DIR", "");
    expect_fatal("MERO_KMS_RELEASE_DIR");
    set("MERO_KMS_RELEASE_DIR", NULL);
    {
        static const char *const good[] = {"https://mirror.example/releases/download/",
                                           "HTTPS://mirror.example:8443", "http://127.0.0.1:9",
                                           "http://127.3.4.5", "http://[::1]:8080/x"};
        static const char *const bad[] = {"http://mirror.example",
                                          "http://localhost:8080",
                                          "http://10.0.0.1",
                                          "ftp://mirror.example",
                                          "mirror",
                                          "https://",
                                          "https://a b",
                                          "https://u@mirror.example",
                                          "https://mirror.example/?q",
                                          "http://[::2]:80",
                                          ""};
        size_t i;

        for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
            set("MERO_KMS_RELEASE_BASE_URL", good[i]);
            c = expect_load();
            mt_kms_config_free(c);
        }
        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            set("MERO_KMS_RELEASE_BASE_URL", bad[i]);
            expect_fatal("MERO_KMS_RELEASE_BASE_URL");
        }
        set("MERO_KMS_RELEASE_BASE_URL", NULL);
    }
}

static void
test_env_policy(void **state)
{
    struct mt_kms_config *c;
    char why[1024];

    (void)state;
    /* Item 33: USE_ENV_POLICY ignores MERO_KMS_VERSION; TCB unset -> uptodate. */
    set("USE_ENV_POLICY", "true");
    set("MERO_KMS_VERSION", "2.3.40");
    set("MERO_KMS_RELEASE_BASE_URL", "http://127.0.0.1:9"); /* would fail if used */
    set_env_lists();
    set("ALLOWED_RTMR2", " , 0x"
                         "A3A3A3A3A3A3A3A3A3A3A3A3A3A3A3A3A3A3A3A3A3A3A3A3A3A3A3A3A3A3A3A3A3A3A3A3A"
                         "3A3A3A3A3A3A3A3A3A3A3A3"
                         " ,");
    c = expect_load();
    assert_int_equal(c->policy_ready, 1);
    assert_string_equal(c->policy_reason, "");
    assert_int_equal(c->policy->num_tcb_statuses, 1);
    assert_string_equal(c->policy->tcb_statuses[0], "uptodate");
    assert_int_equal(c->policy->mrtd.n, 1);
    assert_int_equal(c->policy->mrtd.v[0][0], 0xa0);
    assert_int_equal(c->policy->rtmr[2].n, 1);
    assert_int_equal(c->policy->rtmr[2].v[0][47], 0xa3);
    assert_string_equal(c->policy->tag, "");
    assert_true(has_warning(c, "MERO_KMS_VERSION is ignored"));
    /* Reload does nothing in env mode; fetch refuses. */
    EXPECT_OK(mt_kms_policy_reload(c));
    {
        struct mt_policy *p = NULL;

        EXPECT_ERR(mt_kms_policy_fetch(c, &p, why, sizeof(why)), MT_ERR_ARG);
        assert_null(p);
    }
    mt_kms_config_free(c);

    /* TCB list: lowercased CSV; set-but-empty -> empty list -> fatal while enforcing. */
    set("ALLOWED_TCB_STATUSES", "UpToDate, SWHardeningNeeded,");
    c = expect_load();
    assert_int_equal(c->policy->num_tcb_statuses, 2);
    assert_string_equal(c->policy->tcb_statuses[1], "swhardeningneeded");
    mt_kms_config_free(c);
    set("ALLOWED_TCB_STATUSES", "");
    EXPECT_ERR(load(&c, why, sizeof(why)), MT_ERR_CONFIG);
    assert_non_null(strstr(why, "USE_ENV_POLICY: allowed_tcb_statuses"));
    set("ALLOWED_TCB_STATUSES", NULL);

    /* Item 26 / 1.15: malformed ALLOWED_MRTD -> "expected 48 bytes". */
    set("ALLOWED_MRTD", "abcd");
    EXPECT_ERR(load(&c, why, sizeof(why)), MT_ERR_CONFIG);
    assert_non_null(strstr(why, "ALLOWED_MRTD"));
    assert_non_null(strstr(why, "expected 48 bytes"));
    set("ALLOWED_MRTD", hexrep(0xa0));

    /* 1.15: missing RTMR3 fatal; mock mode and ENFORCE=false skip the requirement. */
    set("ALLOWED_RTMR3", NULL);
    EXPECT_ERR(load(&c, why, sizeof(why)), MT_ERR_CONFIG);
    assert_non_null(strstr(why, "allowed_rtmr3"));
    set("ACCEPT_MOCK_ATTESTATION", "true");
    c = expect_load();
    assert_int_equal(c->policy_ready, 1);
    assert_int_equal(c->policy->rtmr[3].n, 0);
    mt_kms_config_free(c);
    set("ACCEPT_MOCK_ATTESTATION", NULL);
    set("ENFORCE_MEASUREMENT_POLICY", "false");
    c = expect_load();
    assert_int_equal(c->policy->enforce, 0);
    mt_kms_config_free(c);
    set("ENFORCE_MEASUREMENT_POLICY", NULL);

    /* ALLOWED_* outside env mode: ignored, with a warning, not validated. */
    set("USE_ENV_POLICY", NULL);
    set("MERO_KMS_VERSION", NULL);
    set("ALLOWED_MRTD", "garbage");
    c = expect_load();
    assert_true(has_warning(c, "ALLOWED_MRTD is ignored unless USE_ENV_POLICY=true"));
    assert_int_equal(c->policy_ready, 0);
    mt_kms_config_free(c);
}

static void
test_release_dir_policy(void **state)
{
    struct mt_kms_config *c;
    char why[1024], path[256];

    (void)state;
    set("MERO_KMS_VERSION", "mero-kms-v" TAG);
    set("MERO_KMS_RELEASE_DIR", E.dir);
    set("MERO_KMS_RELEASE_BASE_URL", "http://127.0.0.1:9");

    /* Generic (legacy) file only: used. */
    put_dir_doc(GENERIC_ASSET, LOCKED, 0);
    c = expect_load();
    assert_int_equal(c->policy_ready, 1);
    assert_string_equal(c->policy_reason, "");
    assert_string_equal(c->policy->tag, TAG);
    assert_int_equal(c->policy->rtmr[3].n, 1);
    assert_int_equal(c->policy->enforce, 1);
    mt_kms_config_free(c);

    /* Item 32: loaded but incomplete while enforcing -> fatal ... */
    put_dir_doc(PROFILE_ASSET, LOCKED, 1);
    EXPECT_ERR(load(&c, why, sizeof(why)), MT_ERR_CONFIG);
    assert_non_null(strstr(why, "allowed_rtmr3"));
    /* ... unless mock mode or not enforcing. */
    set("ACCEPT_MOCK_ATTESTATION", "1");
    c = expect_load();
    assert_int_equal(c->policy_ready, 1);
    mt_kms_config_free(c);
    set("ACCEPT_MOCK_ATTESTATION", NULL);
    set("ENFORCE_MEASUREMENT_POLICY", "0");
    c = expect_load();
    assert_int_equal(c->policy_ready, 1);
    assert_int_equal(c->policy->enforce, 0);
    mt_kms_config_free(c);
    set("ENFORCE_MEASUREMENT_POLICY", NULL);

    /* ... whereas a parse failure only degrades (the asymmetry of defect 12). */
    dir_file(path, sizeof(path), PROFILE_ASSET);
    write_file(path, "{not json");
    c = expect_load();
    assert_int_equal(c->policy_ready, 0);
    assert_non_null(strstr(c->policy_reason, "Failed to load release policy for version '" TAG
                                             "' profile 'locked-read-only': "));
    assert_non_null(strstr(c->policy_reason, "not valid JSON"));
    mt_kms_config_free(c);

    /* Profile mismatch in the profile asset -> degraded (item 29). */
    put_dir_doc(PROFILE_ASSET, "debug", 0);
    c = expect_load();
    assert_int_equal(c->policy_ready, 0);
    assert_non_null(strstr(c->policy_reason, "profile mismatch"));
    mt_kms_config_free(c);

    /* The profile from the pin file selects the asset. */
    write_file(E.pin_file, "debug\n");
    c = expect_load();
    assert_int_equal(c->policy_ready, 0); /* no debug asset: generic is locked-read-only */
    assert_non_null(strstr(c->policy_reason, GENERIC_ASSET));
    mt_kms_config_free(c);
    put_dir_doc(DEBUG_ASSET, "debug", 0);
    c = expect_load();
    assert_int_equal(c->policy_ready, 1);
    assert_string_equal(c->policy->profile, "debug");
    mt_kms_config_free(c);
    unlink(E.pin_file);

    /* Pin mismatch -> degraded with the reason. */
    put_dir_doc(PROFILE_ASSET, LOCKED, 0);
    set("MERO_KMS_POLICY_SHA256",
        "0000000000000000000000000000000000000000000000000000000000000000");
    c = expect_load();
    assert_int_equal(c->policy_ready, 0);
    assert_non_null(strstr(c->policy_reason, "Policy hash mismatch"));
    mt_kms_config_free(c);
    set("MERO_KMS_POLICY_SHA256", NULL);
}

static void
sha256_hex(const char *s, char out[65])
{
    uint8_t d[32];
    unsigned int n = 0;

    assert_int_equal(EVP_Digest(s, strlen(s), d, &n, EVP_sha256(), NULL), 1);
    mt_hex_encode(d, 32, out);
}

static void
test_release_url_policy(void **state)
{
    struct mt_kms_config *c;
    struct mt_policy *p = NULL, *old;
    char *doc, pin[65], reason[512];
    const char *profile_path = "/mero-kms-v" TAG "/" PROFILE_ASSET;
    const char *generic_path = "/mero-kms-v" TAG "/" GENERIC_ASSET;

    (void)state;
    EXPECT_OK(mt_release_server_start(&E.srv));
    set("MERO_KMS_VERSION", TAG);
    set("MERO_KMS_RELEASE_BASE_URL", mt_release_server_url(E.srv));

    /* Nothing published yet: degraded, the last candidate's 404 in the reason. */
    c = expect_load();
    assert_int_equal(c->policy_ready, 0);
    assert_non_null(strstr(c->policy_reason, generic_path));
    assert_non_null(strstr(c->policy_reason, "404"));
    assert_int_equal(mt_release_server_count(E.srv, NULL), 2);

    /* Published later: a reload picks it up (profile 404 -> generic). */
    doc = release_doc(TAG, LOCKED, 0);
    EXPECT_OK(mt_release_server_put(E.srv, generic_path, doc, strlen(doc)));
    EXPECT_OK(mt_kms_policy_reload(c));
    assert_int_equal(c->policy_ready, 1);
    assert_string_equal(c->policy_reason, "");
    assert_int_equal(c->policy->mrtd.n, 1);
    old = c->policy;
    /* A failed retry keeps the working policy. */
    EXPECT_OK(mt_release_server_set_status(E.srv, profile_path, 500));
    EXPECT_ERR(mt_kms_policy_reload(c), MT_ERR_POLICY_FETCH);
    assert_int_equal(c->policy_ready, 1);
    assert_ptr_equal(c->policy, old);
    assert_string_equal(c->policy_reason, "");
    /* mt_kms_policy_fetch reports without touching c. */
    EXPECT_ERR(mt_kms_policy_fetch(c, &p, reason, sizeof(reason)), MT_ERR_POLICY_FETCH);
    assert_null(p);
    assert_non_null(strstr(reason, "HTTP status 500"));
    mt_kms_config_free(c);

    /* Item 30: 500 on the profile asset stops at startup: degraded, generic never asked. */
    mt_release_server_clear(E.srv);
    EXPECT_OK(mt_release_server_set_status(E.srv, profile_path, 500));
    EXPECT_OK(mt_release_server_put(E.srv, generic_path, doc, strlen(doc)));
    c = expect_load();
    assert_int_equal(c->policy_ready, 0);
    assert_non_null(strstr(c->policy_reason, "HTTP status 500"));
    assert_int_equal(mt_release_server_count(E.srv, generic_path), 0);
    mt_kms_config_free(c);

    /* Pin: matching the generic asset when the profile one is missing (defect 11). */
    mt_release_server_clear(E.srv);
    EXPECT_OK(mt_release_server_put(E.srv, generic_path, doc, strlen(doc)));
    sha256_hex(doc, pin);
    set("MERO_KMS_POLICY_SHA256", pin);
    c = expect_load();
    assert_int_equal(c->policy_ready, 1);
    mt_kms_config_free(c);
    /* Pin mismatch on the profile asset stops, degraded with the reason. */
    free(doc);
    doc = release_doc(TAG, LOCKED, 0);
    doc[0] = ' ';
    EXPECT_OK(mt_release_server_put(E.srv, profile_path, doc, strlen(doc)));
    c = expect_load();
    assert_int_equal(c->policy_ready, 0);
    assert_non_null(strstr(c->policy_reason, "Policy hash mismatch"));
    assert_int_equal(mt_release_server_count(E.srv, generic_path), 1); /* from the load above */
    mt_kms_config_free(c);
    set("MERO_KMS_POLICY_SHA256", NULL);

    /* The tag must match the version (item 30). */
    mt_release_server_clear(E.srv);
    free(doc);
    doc = release_doc("2.3.39", LOCKED, 0);
    EXPECT_OK(mt_release_server_put(E.srv, profile_path, doc, strlen(doc)));
    c = expect_load();
    assert_int_equal(c->policy_ready, 0);
    assert_non_null(strstr(c->policy_reason, "tag mismatch"));
    mt_kms_config_free(c);
    free(doc);

    /* Incomplete release policy while enforcing -> fatal; the reload API says MT_ERR_CONFIG. */
    mt_release_server_clear(E.srv);
    doc = release_doc(TAG, LOCKED, 1);
    EXPECT_OK(mt_release_server_put(E.srv, profile_path, doc, strlen(doc)));
    expect_fatal("ENFORCE_MEASUREMENT_POLICY");
    free(doc);
}

static void
test_out_of_memory(void **state)
{
    struct mt_kms_config *c;
    unsigned long n;
    char why[1024];
    mt_err e;

    (void)state;
    set("USE_ENV_POLICY", "yes");
    set_env_lists();
    set("CORS_ALLOWED_ORIGINS", "https://a.example,https://b.example");
    set("PCCS_URLS", "https://p1.example,https://p2.example");
    set("REDIS_URL", "redis://127.0.0.1/1");
    set("KMS_POLICY_PROFILE", "debug");
    for (n = 1; n < 100000; n++) {
        c = NULL;
        mt_alloc_fail_at(n);
        e = mt_kms_config_load(fenv_get, &E, &c, why, sizeof(why));
        mt_alloc_fail_at(0);
        if (e == MT_OK) {
            mt_kms_config_free(c);
            break;
        }
        if (e != MT_ERR_NOMEM)
            fail_msg("allocation %lu: %s (%s)", n, mt_err_code(e), why);
        assert_null(c);
    }
    assert_true(n > 10 && n < 100000);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bool_table),
        cmocka_unit_test(test_pin_normalisation),
        cmocka_unit_test(test_redis_urls),
        cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_listen_addr, setup, teardown),
        cmocka_unit_test_setup_teardown(test_numbers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bool_vars, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redis_var, setup, teardown),
        cmocka_unit_test_setup_teardown(test_profile_resolution, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prefix_cors_misc, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pccs_keys_trust_root, setup, teardown),
        cmocka_unit_test_setup_teardown(test_version_and_pin_vars, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_policy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_release_dir_policy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_release_url_policy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_out_of_memory, setup, teardown),
    };

    return cmocka_run_group_tests_name("kms_config", tests, NULL, NULL);
}
