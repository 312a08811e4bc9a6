/*
 * mero-kms and its audit log's durability, over real HTTP: a /get-key
 * answer leaves only once its audit line is fsync'd (the connection waits
 * suspended, so concurrent decisions share fsyncs), a failing fsync turns
 * a grant into 503 audit_unavailable with no key and /ready into 503, and
 * stopping the KMS with answers still waiting settles them first.
 *
 * fsync is this program's own (fsync_fault.h): it counts calls and fails
 * with EIO on demand, for the KMS linked into it too.
 */
#include "mt_testlib.h"
#include "fsync_fault.h"
#include "kms_fixture.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "audit/audit.h"
#include "util/mt_alloc.h"

struct request {
    const struct kms_fixture *f;
    json_t *body;
    long status;
    json_t *reply;
};

static void *
post(void *arg)
{
    struct request *r = arg;

    r->status = kms_post_body(r->f, "/get-key", r->body, &r->reply);
    return NULL;
}

/* n distinct nodes' /get-key at once; statuses and replies in r[]. */
static void
get_keys_at_once(const struct kms_fixture *f, struct node_identity *ids, struct request *r, int n)
{
    pthread_t th[16];
    char cid[33];
    int i;

    for (i = 0; i < n; i++) {
        r[i].f = f;
        r[i].reply = NULL;
        r[i].body = kms_get_key_body(f, &ids[i], f->node.socket, cid);
    }
    for (i = 0; i < n; i++)
        assert_int_equal(pthread_create(&th[i], NULL, post, &r[i]), 0);
    for (i = 0; i < n; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        json_decref(r[i].body);
    }
}

static size_t
audit_lines(const struct kms_fixture *f)
{
    char path[300], why[256];
    size_t lines = 0, bad = 0;

    snprintf(path, sizeof(path), "%s/audit.jsonl", f->node.dir);
    EXPECT_OK(mt_audit_verify_file(path, &lines, &bad, why, sizeof(why)));
    return lines;
}

/* Eight grants at once under a 100 ms sync interval: all released, sharing few fsyncs. */
static void
test_grants_share_fsyncs(void **state)
{
    struct kms_fixture f;
    struct node_identity ids[8];
    struct request r[8];
    int i, before;

    (void)state;
    kms_fixture_boot(&f);
    kms_fixture_env(&f, "AUDIT_SYNC_INTERVAL_US", "100000");
    kms_fixture_start_kms(&f);
    for (i = 0; i < 8; i++)
        node_identity_new(&ids[i]);
    before = atomic_load(&fsync_calls);
    get_keys_at_once(&f, ids, r, 8);
    for (i = 0; i < 8; i++) {
        assert_int_equal(r[i].status, 200);
        assert_int_equal(strlen(json_string_value(json_object_get(r[i].reply, "key"))), 64);
        json_decref(r[i].reply);
    }
    /* One line each, durable before its answer; far fewer fsyncs than answers. */
    assert_true(atomic_load(&fsync_calls) - before <= 4);
    assert_int_equal(audit_lines(&f), 8);
    for (i = 0; i < 8; i++)
        node_identity_free(&ids[i]);
    kms_fixture_stop(&f);
}

static void
test_fsync_failure_refuses_keys(void **state)
{
    struct kms_fixture f;
    struct node_identity ids[4];
    struct request r[4];
    json_t *reply, *reasons;
    char *resp = NULL;
    long status;
    size_t i;
    int found = 0;

    (void)state;
    kms_fixture_boot(&f);
    kms_fixture_start_kms(&f);
    for (i = 0; i < 4; i++)
        node_identity_new(&ids[i]);
    /* Healthy first. */
    get_keys_at_once(&f, ids, r, 1);
    assert_int_equal(r[0].status, 200);
    json_decref(r[0].reply);
    assert_int_equal(kms_request(&f, "GET", "/ready", NULL, NULL, 0, &resp), 200);
    mt_free(resp);

    atomic_store(&fsync_fails, 1);
    get_keys_at_once(&f, ids, r, 4);
    for (i = 0; i < 4; i++) {
        assert_null(json_object_get(r[i].reply, "key"));
        kms_expect_error(r[i].status, &r[i].reply, 503, "service_unavailable", "audit log");
    }
    atomic_store(&fsync_fails, 0);
    /* The log stays failed (a later fsync proves nothing): still no keys, and not ready. */
    get_keys_at_once(&f, ids, r, 1);
    kms_expect_error(r[0].status, &r[0].reply, 503, "service_unavailable", "audit log");
    status = kms_request(&f, "GET", "/ready", NULL, NULL, 0, &resp);
    assert_int_equal(status, 503);
    reply = json_loads(resp, 0, NULL);
    mt_free(resp);
    reasons = json_object_get(reply, "reasons");
    for (i = 0; i < json_array_size(reasons); i++)
        found |= strstr(json_string_value(json_array_get(reasons, i)), "audit log failed") != NULL;
    assert_true(found);
    json_decref(reply);
    /* A denial still gets its own answer. */
    status = kms_post_json(&f, "/get-key",
                           "{\"challengeId\":\"x\",\"quoteB64\":\"\",\"peerId\":\"nope\","
                           "\"peerPublicKeyB64\":\"\",\"signatureB64\":\"\"}",
                           &reply);
    kms_expect_error(status, &reply, 401, "invalid_challenge", "32 hex");
    for (i = 0; i < 4; i++)
        node_identity_free(&ids[i]);
    kms_fixture_stop(&f);
}

/* Stopping while answers wait for the fsync: they are settled first; no crash, log intact. */
static void
test_stop_with_waiting_answers(void **state)
{
    struct kms_fixture f;
    struct node_identity ids[4];
    struct request r[4];
    pthread_t th[4];
    char cid[33];
    size_t granted = 1;
    int i;

    (void)state;
    kms_fixture_boot(&f);
    kms_fixture_env(&f, "AUDIT_SYNC_INTERVAL_US", "100000");
    kms_fixture_start_kms(&f);
    for (i = 0; i < 4; i++) {
        node_identity_new(&ids[i]);
        r[i].f = &f;
        r[i].reply = NULL;
        r[i].body = kms_get_key_body(&f, &ids[i], f.node.socket, cid);
    }
    /* The first fsync starts the interval; the next four wait up to 100 ms. */
    assert_int_equal(pthread_create(&th[0], NULL, post, &r[0]), 0);
    assert_int_equal(pthread_join(th[0], NULL), 0);
    assert_int_equal(r[0].status, 200);
    json_decref(r[0].reply);
    for (i = 1; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, post, &r[i]), 0);
    usleep(30000);
    kms_fixture_stop_kms(&f);
    for (i = 1; i < 4; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        /* Answered with the key, or the connection closed: never a key without its line. */
        print_message("answer %d after the stop began: %ld\n", i, r[i].status);
        assert_true(r[i].status == 200 || r[i].status <= 0);
        granted += r[i].status == 200;
        json_decref(r[i].reply);
    }
    for (i = 0; i < 4; i++) {
        json_decref(r[i].body);
        node_identity_free(&ids[i]);
    }
    assert_true(audit_lines(&f) >= granted);
    kms_fixture_stop(&f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grants_share_fsyncs),
        cmocka_unit_test(test_fsync_failure_refuses_keys),
        cmocka_unit_test(test_stop_with_waiting_answers),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
