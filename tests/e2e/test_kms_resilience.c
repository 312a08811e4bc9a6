/*
 * mero-kms when things around it fail or multiply: two KMS processes on one
 * Redis, Redis stopping mid-run, the dstack socket disappearing, the PCCS
 * going down with and without current cached collateral, and a release
 * policy whose SHA-256 pin does not match.
 */
#include "mt_testlib.h"
#include "kms_fixture.h"
#include "redis_fixture.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pccs/pccs.h"
#include "util/mt_alloc.h"
#include "util/mt_hex.h"

/* A full key request for id through the fixture's KMS URL; returns the status. */
static long
get_key(const struct kms_fixture *f, const struct node_identity *id, json_t **out)
{
    char cid[33];
    json_t *body = kms_get_key_body(f, id, f->node.socket, cid);
    long status = kms_post_body(f, "/get-key", body, out);

    json_decref(body);
    return status;
}

static void
test_two_kms_one_redis(void **state)
{
    struct redis_fixture redis;
    struct kms_fixture f, a, b;
    struct node_identity id;
    char url[256], port[32], body[256], cid[33];
    uint16_t p;
    pid_t pa, pb;
    json_t *r, *req;
    char key1[65];

    (void)state;
    redis_fixture_start(&redis, NULL);
    kms_fixture_boot(&f);
    redis_fixture_url(&redis, 0, url, sizeof(url));
    kms_fixture_env(&f, "REDIS_URL", url);
    /* KMS A and KMS B: two processes, same Redis, same key material. */
    EXPECT_OK(mt_pcs_unused_port(&p));
    snprintf(port, sizeof(port), "127.0.0.1:%u", (unsigned)p);
    kms_fixture_env(&f, "LISTEN_ADDR", port);
    /* One writer per audit log: each process keeps its own. */
    snprintf(body, sizeof(body), "%s/audit-a.jsonl", f.node.dir);
    kms_fixture_env(&f, "AUDIT_LOG_PATH", body);
    a = f;
    pa = kms_fixture_spawn(&f, a.url, sizeof(a.url));
    EXPECT_OK(mt_pcs_unused_port(&p));
    snprintf(port, sizeof(port), "127.0.0.1:%u", (unsigned)p);
    kms_fixture_env(&f, "LISTEN_ADDR", port);
    snprintf(body, sizeof(body), "%s/audit-b.jsonl", f.node.dir);
    kms_fixture_env(&f, "AUDIT_LOG_PATH", body);
    b = f;
    pb = kms_fixture_spawn(&f, b.url, sizeof(b.url));
    node_identity_new(&id);
    /* Challenge from A, key from B. */
    req = kms_get_key_body(&a, &id, f.node.socket, cid);
    assert_int_equal(kms_post_body(&b, "/get-key", req, &r), 200);
    snprintf(key1, sizeof(key1), "%s", json_string_value(json_object_get(r, "key")));
    json_decref(r);
    /* ... and not twice: B consumed it for everyone. */
    assert_int_equal(kms_post_body(&a, "/get-key", req, &r), 401);
    assert_string_equal(kms_tag_of(r), "invalid_challenge");
    json_decref(r);
    json_decref(req);
    /* Challenge from B, key from A: the same key. */
    req = kms_get_key_body(&b, &id, f.node.socket, cid);
    assert_int_equal(kms_post_body(&a, "/get-key", req, &r), 200);
    assert_string_equal(json_string_value(json_object_get(r, "key")), key1);
    json_decref(r);
    json_decref(req);
    /* The reference's key names are in Redis. */
    {
        redisContext *rc = redis_fixture_connect(&redis, 0);
        redisReply *rep;

        snprintf(body, sizeof(body), "{\"peerId\":\"%s\"}", id.peer);
        assert_int_equal(kms_post_json(&a, "/challenge", body, &r), 200);
        rep = redisCommand(rc, "EXISTS mero-kms-phala:challenge:%s",
                           json_string_value(json_object_get(r, "challengeId")));
        assert_non_null(rep);
        assert_int_equal(rep->integer, 1);
        freeReplyObject(rep);
        rep = redisCommand(rc, "ZCARD mero-kms-phala:challenge:index");
        assert_int_equal(rep->integer, 1);
        freeReplyObject(rep);
        json_decref(r);
        redisFree(rc);
    }
    kms_fixture_kill_process(pa);
    kms_fixture_kill_process(pb);
    node_identity_free(&id);
    kms_fixture_stop(&f);
    redis_fixture_destroy(&redis);
}

static void
test_redis_outage(void **state)
{
    struct redis_fixture redis;
    struct kms_fixture f;
    struct node_identity id;
    char url[256], body[256], *resp = NULL;
    long status = 0;
    int tries;
    json_t *r;

    (void)state;
    redis_fixture_start(&redis, NULL);
    kms_fixture_boot(&f);
    redis_fixture_url(&redis, 0, url, sizeof(url));
    kms_fixture_env(&f, "REDIS_URL", url);
    kms_fixture_start_kms(&f);
    node_identity_new(&id);
    snprintf(body, sizeof(body), "{\"peerId\":\"%s\"}", id.peer);
    assert_int_equal(kms_post_json(&f, "/challenge", body, &r), 200);
    json_decref(r);
    redis_fixture_stop(&redis);
    /* A clean 503, no crash, and /ready says so. */
    assert_int_equal(kms_post_json(&f, "/challenge", body, &r), 503);
    assert_string_equal(kms_tag_of(r), "service_unavailable");
    json_decref(r);
    assert_int_equal(kms_request(&f, "GET", "/ready", NULL, NULL, 0, &resp), 503);
    assert_non_null(strstr(resp, "challenge store unavailable"));
    mt_free(resp);
    /* Back again: it recovers by itself, within the store's 200 ms reconnect back-off. */
    redis_fixture_restart(&redis);
    for (tries = 0; tries < 60; tries++) {
        status = kms_post_json(&f, "/challenge", body, &r);
        json_decref(r);
        if (status != 503)
            break;
        usleep(50000);
    }
    assert_int_equal(status, 200);
    assert_true(tries < 60);
    assert_int_equal(get_key(&f, &id, &r), 200);
    json_decref(r);
    node_identity_free(&id);
    kms_fixture_stop(&f);
    redis_fixture_destroy(&redis);
}

static void
test_dstack_gone(void **state)
{
    struct kms_fixture f;
    struct node_identity id;
    char *resp = NULL;
    json_t *r;

    (void)state;
    kms_fixture_boot(&f);
    kms_fixture_env(&f, "KMS_KEY_PROVIDER", "dstack");
    kms_fixture_env(&f, "KMS_LOCAL_ROOT_KEY_FILE", NULL);
    kms_fixture_start_kms(&f);
    node_identity_new(&id);
    assert_int_equal(get_key(&f, &id, &r), 200);
    assert_int_equal(json_string_length(json_object_get(r, "key")), 64);
    json_decref(r);
    assert_int_equal(kms_request(&f, "GET", "/ready", NULL, NULL, 0, &resp), 200);
    mt_free(resp);
    /* The KMS's dstack agent goes away. */
    mt_sim_http_stop(f.kms_sim_http);
    f.kms_sim_http = NULL;
    assert_int_equal(get_key(&f, &id, &r), 500);
    assert_string_equal(kms_tag_of(r), "key_derivation_failed");
    json_decref(r);
    assert_int_equal(kms_request(&f, "GET", "/ready", NULL, NULL, 0, &resp), 503);
    assert_non_null(strstr(resp, "dstack guest agent unreachable"));
    mt_free(resp);
    node_identity_free(&id);
    kms_fixture_stop(&f);
}

static void
test_pccs_outage(void **state)
{
    struct kms_fixture f;
    struct node_identity id;
    json_t *r;

    (void)state;
    kms_fixture_boot(&f);
    kms_fixture_start_kms(&f);
    node_identity_new(&id);
    assert_int_equal(get_key(&f, &id, &r), 200);
    json_decref(r);
    /* PCCS down: the cached collateral still serves. */
    mt_pcs_server_stop(f.node.pccs);
    f.node.pccs = NULL;
    assert_int_equal(get_key(&f, &id, &r), 200);
    json_decref(r);
    /* A restarted KMS finds it on disk. */
    kms_fixture_stop_kms(&f);
    kms_fixture_start_kms(&f);
    assert_int_equal(get_key(&f, &id, &r), 200);
    json_decref(r);
    /* Past the collateral's nextUpdate: expired collateral is never used. */
    f.now += 40 * 86400;
    assert_int_equal(get_key(&f, &id, &r), 503);
    assert_string_equal(kms_tag_of(r), "service_unavailable");
    assert_non_null(strstr(json_string_value(json_object_get(r, "details")), "collateral"));
    json_decref(r);
    node_identity_free(&id);
    kms_fixture_stop(&f);
}

/* A release directory holding a locked-read-only policy for the simulated node. */
static void
write_release(const struct kms_fixture *f, const char *dir, char pin_hex[65])
{
    uint8_t rtmr[4][48], digest[32];
    unsigned int dl = 32;
    char path[512], hex[97], *text;
    json_t *doc, *pol, *list;
    FILE *fp;
    int i;

    mkdir(dir, 0700);
    mt_sim_agent_rtmrs(f->node.agent, rtmr);
    pol = json_object();
    json_object_set_new(pol, "node_allowed_tcb_statuses", json_pack("[s]", "UpToDate"));
    mt_hex_encode(mt_sim_agent_params(f->node.agent)->quote.td.mr_td, 48, hex);
    json_object_set_new(pol, "node_allowed_mrtd", json_pack("[s]", hex));
    for (i = 0; i < 4; i++) {
        char key[32];

        mt_hex_encode(rtmr[i], 48, hex);
        snprintf(key, sizeof(key), "node_allowed_rtmr%d", i);
        list = json_pack("[s]", hex);
        json_object_set_new(pol, key, list);
    }
    doc = json_pack("{s:s,s:s,s:s,s:o}", "tag", "9.9.9", "role", "kms", "profile",
                    "locked-read-only", "policy", pol);
    text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    snprintf(path, sizeof(path), "%s/kms-phala-attestation-policy.locked-read-only.json", dir);
    fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
    EVP_Digest(text, strlen(text), digest, &dl, EVP_sha256(), NULL);
    mt_hex_encode(digest, 32, pin_hex);
    mt_free_libc(text);
    json_decref(doc);
}

static void
test_release_policy_pin(void **state)
{
    struct kms_fixture f;
    struct node_identity id;
    char dir[256], pin[65], *resp = NULL;
    json_t *r;

    (void)state;
    kms_fixture_boot(&f);
    snprintf(dir, sizeof(dir), "%s/release", f.node.dir);
    write_release(&f, dir, pin);
    kms_fixture_env(&f, "USE_ENV_POLICY", NULL);
    kms_fixture_env(&f, "MERO_KMS_VERSION", "mero-kms-v9.9.9");
    kms_fixture_env(&f, "MERO_KMS_RELEASE_DIR", dir);
    /* The right pin: ready, and the node gets its key. */
    kms_fixture_env(&f, "MERO_KMS_POLICY_SHA256", pin);
    kms_fixture_start_kms(&f);
    assert_int_equal(kms_request(&f, "GET", "/ready", NULL, NULL, 0, &resp), 200);
    mt_free(resp);
    node_identity_new(&id);
    assert_int_equal(get_key(&f, &id, &r), 200);
    json_decref(r);
    kms_fixture_stop_kms(&f);
    /* A wrong pin: running but not ready, keys refused with the reason. */
    pin[0] = pin[0] == '0' ? '1' : '0';
    kms_fixture_env(&f, "MERO_KMS_POLICY_SHA256", pin);
    kms_fixture_start_kms(&f);
    assert_int_equal(kms_request(&f, "GET", "/ready", NULL, NULL, 0, &resp), 503);
    assert_non_null(strstr(resp, "mismatch"));
    mt_free(resp);
    assert_int_equal(get_key(&f, &id, &r), 503);
    assert_string_equal(kms_tag_of(r), "policy_not_ready");
    json_decref(r);
    node_identity_free(&id);
    kms_fixture_stop(&f);
}

/*
 * A release policy missing at startup (release server or disk briefly
 * unavailable): the KMS runs not ready, retries in the background, and
 * becomes ready by itself once the policy appears (the reference needs a
 * restart).
 */
static void
test_release_policy_retry(void **state)
{
    struct kms_fixture f;
    struct node_identity id;
    char dir[256], staging[256], from[400], to[400], pin[65], *resp = NULL;
    long status = 0;
    int tries;
    json_t *r;

    (void)state;
    kms_fixture_boot(&f);
    snprintf(staging, sizeof(staging), "%s/staging", f.node.dir);
    write_release(&f, staging, pin);
    snprintf(dir, sizeof(dir), "%s/release", f.node.dir);
    assert_int_equal(mkdir(dir, 0700), 0);
    kms_fixture_env(&f, "USE_ENV_POLICY", NULL);
    kms_fixture_env(&f, "MERO_KMS_VERSION", "mero-kms-v9.9.9");
    kms_fixture_env(&f, "MERO_KMS_RELEASE_DIR", dir);
    kms_fixture_env(&f, "MERO_KMS_POLICY_SHA256", pin);
    kms_fixture_start_kms(&f);
    node_identity_new(&id);
    assert_int_equal(kms_request(&f, "GET", "/ready", NULL, NULL, 0, &resp), 503);
    assert_non_null(strstr(resp, "Failed to load release policy"));
    mt_free(resp);
    assert_int_equal(get_key(&f, &id, &r), 503);
    assert_string_equal(kms_tag_of(r), "policy_not_ready");
    json_decref(r);
    /* The release appears; the first retry is after 1 s. */
    snprintf(from, sizeof(from), "%s/kms-phala-attestation-policy.locked-read-only.json", staging);
    snprintf(to, sizeof(to), "%s/kms-phala-attestation-policy.locked-read-only.json", dir);
    assert_int_equal(rename(from, to), 0);
    for (tries = 0; tries < 80; tries++) {
        status = kms_request(&f, "GET", "/ready", NULL, NULL, 0, &resp);
        mt_free(resp);
        resp = NULL;
        if (status == 200)
            break;
        usleep(50000);
    }
    assert_int_equal(status, 200);
    assert_int_equal(get_key(&f, &id, &r), 200);
    json_decref(r);
    assert_int_equal(kms_request(&f, "GET", "/health", NULL, NULL, 0, &resp), 200);
    assert_non_null(strstr(resp, "\"policyReady\":true"));
    mt_free(resp);
    node_identity_free(&id);
    kms_fixture_stop(&f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_kms_one_redis),  cmocka_unit_test(test_redis_outage),
        cmocka_unit_test(test_dstack_gone),        cmocka_unit_test(test_pccs_outage),
        cmocka_unit_test(test_release_policy_pin), cmocka_unit_test(test_release_policy_retry),
    };

    if (mt_pccs_global_init() != MT_OK)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
