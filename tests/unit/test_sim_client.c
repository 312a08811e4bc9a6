/*
 * Our dstack client against our simulator, both over the real socket: the
 * pair the KMS and the node client will run on.  Each side is also tested
 * alone (test_dstack_client against a stand-in, test_sim_agent with raw
 * HTTP); this checks that they agree.
 */
#include "mt_testlib.h"
#include "sim_fixture.h"

#include <string.h>

#include "dstack/dstack_client.h"
#include "dstack/dstack_kdf.h"
#include "measure/eventlog.h"
#include "pccs/pccs.h"
#include "quote/quote.h"
#include "util/mt_alloc.h"
#include "util/mt_secret.h"

static struct mt_dstack_client *
client_for(const struct sim_fixture *f)
{
    struct mt_dstack_opts o;
    struct mt_dstack_client *c = NULL;

    mt_dstack_opts_init(&o);
    o.socket_path = f->socket;
    EXPECT_OK(mt_dstack_client_new(&o, &c));
    return c;
}

static void
test_quote_event_key_info(void **state)
{
    struct sim_fixture f;
    struct mt_sim_machine *m;
    struct mt_dstack_client *c;
    struct mt_dstack_quote dq;
    struct mt_eventlog *log = NULL;
    struct mt_secret key, want;
    struct mt_quote q;
    uint8_t rd[64], rtmr[4][48], app_key[32];
    json_t *info;

    (void)state;
    m = sim_fixture_machine("locked-read-only");
    memcpy(app_key, m->app_key, 32);
    sim_fixture_start(&f, m, 0);
    c = client_for(&f);

    /* The KMS's /attest: nonce || binding as report data. */
    memset(rd, 0x42, sizeof(rd));
    memset(&dq, 0, sizeof(dq));
    EXPECT_OK(mt_dstack_get_quote(c, rd, sizeof(rd), &dq));
    EXPECT_OK(mt_quote_parse(dq.quote, dq.quote_len, &q));
    assert_memory_equal(q.td.report_data, rd, 64);
    assert_memory_equal(dq.report_data, rd, 64);
    mt_dstack_quote_free(&dq);

    /* The KMS's profile marker, then a quote whose RTMR3 includes it. */
    EXPECT_OK(mt_dstack_emit_event(c, "calimero.kms.profile",
                                   (const uint8_t *)"calimero.kms.profile=locked-read-only",
                                   strlen("calimero.kms.profile=locked-read-only")));
    memset(&dq, 0, sizeof(dq));
    EXPECT_OK(mt_dstack_get_quote(c, rd, 32, &dq));
    EXPECT_OK(mt_quote_parse(dq.quote, dq.quote_len, &q));
    EXPECT_OK(mt_eventlog_parse(dq.event_log, strlen(dq.event_log), &log));
    EXPECT_OK(mt_eventlog_replay(log, rtmr));
    assert_memory_equal(rtmr[3], q.td.rt_mr[3], 48);
    assert_non_null(mt_eventlog_find(log, "calimero.kms.profile", SIZE_MAX));
    mt_eventlog_free(log);
    mt_dstack_quote_free(&dq);

    /* The KMS's key path; equal to the derivation done here. */
    memset(&key, 0, sizeof(key));
    memset(&want, 0, sizeof(want));
    EXPECT_OK(
        mt_dstack_get_key(c, "merod/storage/locked-read-only/12D3KooWTest", "", "secp256k1", &key));
    EXPECT_OK(mt_dstack_derive_key(app_key, "merod/storage/locked-read-only/12D3KooWTest",
                                   strlen("merod/storage/locked-read-only/12D3KooWTest"), &want));
    assert_true(mt_secret_eq(&key, want.p, want.len));
    mt_secret_free(&key);
    mt_secret_free(&want);

    EXPECT_OK(mt_dstack_info(c, &info));
    assert_non_null(json_object_get(info, "tcb_info"));
    json_decref(info);

    /* The simulator's 400 comes back as the server's message. */
    EXPECT_ERR(mt_dstack_get_key(c, "p", "", "rsa", &key), MT_ERR_DSTACK_REJECTED);
    assert_string_equal(mt_dstack_last_error(c), "Unsupported algorithm");

    mt_dstack_client_free(c);
    sim_fixture_stop(&f);
}

static void
test_reject_mode_and_gone(void **state)
{
    struct sim_fixture f;
    struct mt_sim_machine *m;
    struct mt_dstack_client *c;
    struct mt_dstack_quote dq;
    uint8_t rd[1] = {1};

    (void)state;
    m = sim_fixture_machine("debug");
    m->emit_mode = MT_SIM_EMIT_REJECT;
    sim_fixture_start(&f, m, 0);
    c = client_for(&f);
    EXPECT_ERR(mt_dstack_emit_event(c, "x", (const uint8_t *)"y", 1), MT_ERR_DSTACK_REJECTED);
    assert_non_null(strstr(mt_dstack_last_error(c), "unavailable in simulator mode"));
    /* The agent stops: the socket is gone. */
    mt_sim_http_stop(f.http);
    f.http = NULL;
    memset(&dq, 0, sizeof(dq));
    EXPECT_ERR(mt_dstack_get_quote(c, rd, 1, &dq), MT_ERR_DSTACK_UNAVAILABLE);
    mt_dstack_client_free(c);
    sim_fixture_stop(&f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quote_event_key_info),
        cmocka_unit_test(test_reject_mode_and_gone),
    };

    if (mt_pccs_global_init() != MT_OK)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
