#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "dcap/collateral.h"
#include "dcap/dcap.h"
#include "dcap/prepared.h"
#include "pccs/collateral_store.h"
#include "pccs/pccs.h"
#include "quote/quote.h"
#include "sim/sim_pcs.h"
#include "testpki/testpki.h"
#include "util/mt_alloc.h"
#include "util/mt_file.h"
#include "util/mt_hex.h"
#include "util/mt_limits.h"

#include "mt_testlib.h"

/*
 * The collateral store (pccs/collateral_store.h): memory, disk and the
 * PCCS stand-in of src/sim/sim_pcs.h serving test-PKI collateral that
 * really verifies.  Only 127.0.0.1 is contacted.  Times are injected: T0 is
 * the PKI's "now"; its collateral is current from T0 - 1 day to T0 + 30 days.
 */

#define T0 1750000000LL
#define DAY 86400LL
#define NOT_AFTER (T0 + 30 * DAY)
#define MARGIN 3600LL
#define NTHREADS 16

struct fixture {
    struct mt_testpki_params p;
    struct mt_testpki_bundle *b;
    struct mt_quote q;
};

static struct fixture tdx;  /* TDX v4, Platform CA */
static struct fixture sgx;  /* SGX v3, Processor CA, another FMSPC */
static char tmp_root[256];  /* a fresh directory per run */
static unsigned dir_serial; /* cache dirs below tmp_root */
static atomic_int log_lines;

static void
fixture_make(struct fixture *f, enum mt_testpki_kind kind)
{
    mt_testpki_params_default(&f->p, kind, T0);
    assert_int_equal(mt_testpki_bundle_new(&f->p, &f->b), MT_OK);
    assert_int_equal(mt_quote_parse(f->b->quote, f->b->quote_len, &f->q), MT_OK);
}

static int
group_setup(void **state)
{
    (void)state;
    unsetenv("http_proxy");
    unsetenv("HTTP_PROXY");
    unsetenv("https_proxy");
    unsetenv("HTTPS_PROXY");
    unsetenv("all_proxy");
    unsetenv("ALL_PROXY");
    if (mt_pccs_global_init() != MT_OK)
        return -1;
    snprintf(tmp_root, sizeof(tmp_root), "/tmp/mt-cstore-XXXXXX");
    if (mkdtemp(tmp_root) == NULL)
        return -1;
    fixture_make(&tdx, MT_TESTPKI_TDX_V4);
    fixture_make(&sgx, MT_TESTPKI_SGX_V3);
    return 0;
}

static int
group_teardown(void **state)
{
    char cmd[320];

    (void)state;
    mt_testpki_bundle_free(tdx.b);
    mt_testpki_bundle_free(sgx.b);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp_root);
    if (system(cmd) != 0)
        return -1;
    mt_pccs_global_cleanup();
    return 0;
}

static void
count_log(void *arg, mt_err e, const char *msg)
{
    (void)arg;
    (void)e;
    assert_non_null(msg);
    assert_null(strchr(msg, '\n'));
    atomic_fetch_add(&log_lines, 1);
}

/* A new cache directory path (not yet created). */
static void
new_dir(char *out, size_t len)
{
    snprintf(out, len, "%s/cache%u/sub", tmp_root, ++dir_serial);
}

static struct mt_pcs_server *
server_with(const struct mt_collateral *a, const struct mt_collateral *b)
{
    struct mt_pcs_server *s = NULL;

    assert_int_equal(mt_pcs_server_start(&s), MT_OK);
    if (a != NULL)
        assert_int_equal(mt_pcs_server_add(s, a), MT_OK);
    if (b != NULL)
        assert_int_equal(mt_pcs_server_add(s, b), MT_OK);
    return s;
}

static unsigned long
requests(struct mt_pcs_server *s)
{
    unsigned long n = 0;
    int ep;

    for (ep = 0; ep < MT_PCS_EP__COUNT; ep++)
        n += mt_pcs_server_count(s, (enum mt_pcs_endpoint)ep);
    return n;
}

/* "http://127.0.0.1:<port>" with nothing listening. */
static void
dead_url(char *out, size_t len)
{
    uint16_t port;

    assert_int_equal(mt_pcs_unused_port(&port), MT_OK);
    snprintf(out, len, "http://127.0.0.1:%u", (unsigned)port);
}

struct store_cfg {
    const char *urls[2];
    size_t num_urls;
    const char *dir;
    int64_t retry; /* 0: default */
    size_t max_entries;
};

static struct mt_collateral_store *
store_new(const struct store_cfg *c)
{
    struct mt_collateral_store_opts o;
    struct mt_collateral_store *s = NULL;
    struct mt_pccs_opts po;

    mt_pccs_opts_init(&po);
    po.urls = c->urls;
    po.num_urls = c->num_urls;
    po.proxy = "";
    po.no_cdp_fallback = 1;
    po.connect_timeout_ms = 2000;
    po.timeout_ms = 10000;
    mt_collateral_store_opts_init(&o);
    o.pccs = &po;
    o.cache_dir = c->dir;
    o.refresh_margin = MARGIN;
    if (c->retry != 0)
        o.retry_interval = c->retry;
    o.max_entries = c->max_entries;
    o.log = count_log;
    assert_int_equal(mt_collateral_store_new(&o, &s), MT_OK);
    /* The options were copied: scribbling over ours must not matter. */
    memset(&po, 0, sizeof(po));
    return s;
}

static void
stats(struct mt_collateral_store *s, struct mt_collateral_store_stats *st)
{
    mt_collateral_store_stats(s, st);
}

/* The prepared collateral verifies f's quote at now (test root pinned). */
static void
assert_verifies(const struct fixture *f, const struct mt_prepared_collateral *pc, int64_t now)
{
    struct mt_verifier_opts vo;
    struct mt_verifier *v = NULL;
    struct mt_verdict verdict;

    memset(&vo, 0, sizeof(vo));
    vo.root_der = mt_testpki_root_der(f->b->pki, &vo.root_der_len);
    assert_int_equal(mt_verifier_new(&vo, &v), MT_OK);
    EXPECT_OK(mt_verify_quote_prepared(v, f->b->quote, f->b->quote_len, pc, now, &verdict));
    assert_int_equal(verdict.tcb.status, MT_TCB_UP_TO_DATE);
    mt_verifier_free(v);
}

static struct mt_prepared_collateral *
get_ok(struct mt_collateral_store *s, const struct fixture *f, int64_t now)
{
    struct mt_prepared_collateral *pc = NULL;
    char why[256] = "x";

    EXPECT_OK(mt_collateral_store_get(s, &f->q, now, &pc, why, sizeof(why)));
    assert_non_null(pc);
    assert_string_equal(why, "");
    return pc;
}

static int64_t
window_end(const struct mt_prepared_collateral *pc)
{
    int64_t nb, na;

    assert_int_equal(mt_prepared_collateral_window(pc, &nb, &na), MT_OK);
    return na;
}

/* Path of f's disk file in dir. */
static void
disk_file(const struct fixture *f, const char *dir, char *out, size_t len)
{
    char hex[13];

    mt_hex_encode(f->p.pck.fmspc, 6, hex);
    snprintf(out, len, "%s/%s-%s-%s.json", dir, f->p.kind == MT_TESTPKI_SGX_V3 ? "sgx" : "tdx", hex,
             f->p.kind == MT_TESTPKI_SGX_V3 ? "processor" : "platform");
}

static void
write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");

    assert_non_null(fp);
    assert_int_equal(fputs(text, fp) >= 0, 1);
    assert_int_equal(fclose(fp), 0);
}

/* ---- tests ---- */

/* First get fetches, the second is a memory hit; the result verifies. */
static void
test_fetch_then_memory_hit(void **state)
{
    struct mt_pcs_server *srv = server_with(tdx.b->col, NULL);
    struct store_cfg c = {{mt_pcs_server_url(srv)}, 1, NULL, 0, 0};
    struct mt_collateral_store *s = store_new(&c);
    struct mt_collateral_store_stats st;
    struct mt_prepared_collateral *a, *b;
    unsigned long n;

    (void)state;
    assert_int_equal(mt_collateral_store_ready(s, T0), 0);
    a = get_ok(s, &tdx, T0);
    stats(s, &st);
    assert_int_equal(st.fetches, 1);
    assert_int_equal(st.memory_hits, 0);
    assert_int_equal(st.pck_decodes, 1);
    assert_int_equal(st.entries, 1);
    assert_int_equal(mt_pcs_server_count(srv, MT_PCS_EP_TCB), 1);
    n = requests(srv);
    assert_int_equal(n, 4);
    /* The entry serves every platform of the FMSPC: no PCK chain of one quote in it. */
    assert_null(a->col->pck_certificate_chain);

    b = get_ok(s, &tdx, T0 + 60);
    assert_ptr_equal(a, b);
    stats(s, &st);
    assert_int_equal(st.fetches, 1);
    assert_int_equal(st.memory_hits, 1);
    assert_int_equal(st.pck_decodes, 1); /* the platform was known by its cert-data hash */
    assert_int_equal(requests(srv), n);
    assert_int_equal(mt_collateral_store_ready(s, T0), 1);
    assert_verifies(&tdx, a, T0);
    assert_verifies(&tdx, b, T0 + 60);
    assert_int_equal(window_end(a), NOT_AFTER);

    mt_prepared_collateral_free(a);
    mt_collateral_store_free(s);
    /* Handed-out collateral outlives the store. */
    assert_verifies(&tdx, b, T0);
    mt_prepared_collateral_free(b);
    mt_pcs_server_stop(srv);
}

/* A new store on the same cache_dir loads from disk with the PCCS gone. */
static void
test_disk_reload_without_pccs(void **state)
{
    struct mt_pcs_server *srv = server_with(tdx.b->col, NULL);
    char dir[300], path[400], dead[64];
    struct store_cfg c = {{mt_pcs_server_url(srv)}, 1, dir, 0, 0};
    struct mt_collateral_store *s;
    struct mt_collateral_store_stats st;
    struct mt_prepared_collateral *pc;
    struct mt_collateral *col = NULL;
    struct stat sb;
    uint8_t *text;
    size_t len;
    json_t *j;

    (void)state;
    new_dir(dir, sizeof(dir));
    s = store_new(&c);
    assert_int_equal(stat(dir, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0700);
    pc = get_ok(s, &tdx, T0);
    mt_prepared_collateral_free(pc);
    mt_collateral_store_free(s);
    mt_pcs_server_stop(srv);

    /* The file: mode 0600, collateral JSON, no PCK chain, no temporary files left. */
    disk_file(&tdx, dir, path, sizeof(path));
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(mt_file_read(path, MT_MAX_COLLATERAL_JSON, &text, &len), MT_OK);
    assert_int_equal(mt_collateral_parse((const char *)text, len, &col), MT_OK);
    j = json_loadb((const char *)text, len, 0, NULL);
    assert_non_null(j);
    assert_null(json_object_get(j, "pck_certificate_chain"));
    json_decref(j);
    mt_collateral_free(col);
    mt_free(text);

    /* Restart, PCCS stopped: served from disk, no request made. */
    dead_url(dead, sizeof(dead));
    c.urls[0] = dead;
    s = store_new(&c);
    assert_int_equal(mt_collateral_store_ready(s, T0), 0);
    pc = get_ok(s, &tdx, T0 + 10);
    stats(s, &st);
    assert_int_equal(st.fetches, 0);
    assert_int_equal(st.disk_loads, 1);
    assert_int_equal(st.disk_errors, 0);
    assert_int_equal(mt_collateral_store_ready(s, T0 + 10), 1);
    assert_verifies(&tdx, pc, T0 + 10);
    mt_prepared_collateral_free(pc);

    /* Read once: the next get is a memory hit. */
    pc = get_ok(s, &tdx, T0 + 20);
    stats(s, &st);
    assert_int_equal(st.disk_loads, 1);
    assert_int_equal(st.memory_hits, 1);
    mt_prepared_collateral_free(pc);
    mt_collateral_store_free(s);
}

/* PCCS down: current collateral is still served, also through a failed refresh. */
static void
test_pccs_down_cached_current(void **state)
{
    struct mt_pcs_server *srv = server_with(tdx.b->col, NULL);
    struct store_cfg c = {{mt_pcs_server_url(srv)}, 1, NULL, 0, 0};
    struct mt_collateral_store *s = store_new(&c);
    struct mt_collateral_store_stats st;
    struct mt_prepared_collateral *pc;
    int64_t late = NOT_AFTER - MARGIN / 2; /* inside the refresh margin */
    int logs;

    (void)state;
    pc = get_ok(s, &tdx, T0);
    mt_prepared_collateral_free(pc);
    mt_pcs_server_set_fault(srv, MT_PCS_EP_ALL, MT_PCS_FAULT_STATUS, 503);

    pc = get_ok(s, &tdx, T0 + DAY); /* fresh: no request */
    mt_prepared_collateral_free(pc);
    stats(s, &st);
    assert_int_equal(st.fetches, 1);

    logs = atomic_load(&log_lines);
    pc = get_ok(s, &tdx, late); /* refresh fails: the cached one is still current */
    assert_verifies(&tdx, pc, late);
    mt_prepared_collateral_free(pc);
    stats(s, &st);
    assert_int_equal(st.fetches, 2);
    assert_int_equal(st.fetch_failures, 1);
    assert_int_equal(st.stale_served, 1);
    assert_true(atomic_load(&log_lines) > logs);

    /* Within the retry interval the failed refresh is not repeated. */
    pc = get_ok(s, &tdx, late + 10);
    mt_prepared_collateral_free(pc);
    stats(s, &st);
    assert_int_equal(st.fetches, 2);
    assert_int_equal(st.memory_hits, 2);

    /* After it, it is (and fails again, still serving the current copy). */
    pc = get_ok(s, &tdx, late + MT_CSTORE_DEFAULT_RETRY_INTERVAL + 1);
    mt_prepared_collateral_free(pc);
    stats(s, &st);
    assert_int_equal(st.fetches, 3);
    assert_int_equal(st.fetch_failures, 2);
    mt_collateral_store_free(s);
    mt_pcs_server_stop(srv);
}

/* PCCS down and the cached collateral expired: an error, never the expired copy. */
static void
test_pccs_down_cached_expired(void **state)
{
    struct mt_pcs_server *srv = server_with(tdx.b->col, NULL);
    char dir[300], why[256], dead[64];
    struct store_cfg c = {{mt_pcs_server_url(srv)}, 1, dir, 0, 0};
    struct mt_collateral_store *s;
    struct mt_collateral_store_stats st;
    struct mt_prepared_collateral *pc = NULL;

    (void)state;
    new_dir(dir, sizeof(dir));
    s = store_new(&c);
    pc = get_ok(s, &tdx, T0);
    mt_prepared_collateral_free(pc);
    pc = NULL;
    mt_pcs_server_stop(srv);

    /* At nextUpdate itself the collateral is still current (dcap-verify.md 6). */
    pc = get_ok(s, &tdx, NOT_AFTER);
    mt_prepared_collateral_free(pc);
    pc = NULL;

    EXPECT_ERR(mt_collateral_store_get(s, &tdx.q, NOT_AFTER + 1, &pc, why, sizeof(why)),
               MT_ERR_NETWORK);
    assert_null(pc);
    assert_true(strlen(why) > 0);
    assert_int_equal(mt_collateral_store_ready(s, NOT_AFTER + 1), 1); /* a fetch did succeed */
    /* Asked again at once: the remembered error, without another request. */
    stats(s, &st);
    EXPECT_ERR(mt_collateral_store_get(s, &tdx.q, NOT_AFTER + 2, &pc, why, sizeof(why)),
               MT_ERR_NETWORK);
    assert_null(pc);
    assert_true(strlen(why) > 0);
    {
        struct mt_collateral_store_stats st2;

        stats(s, &st2);
        assert_int_equal(st2.fetches, st.fetches);
        assert_int_equal(st2.entries, 0); /* the expired copy was dropped */
    }
    mt_collateral_store_free(s);

    /* After a restart the expired disk file is not used either. */
    dead_url(dead, sizeof(dead));
    c.urls[0] = dead;
    s = store_new(&c);
    EXPECT_ERR(mt_collateral_store_get(s, &tdx.q, NOT_AFTER + 1, &pc, why, sizeof(why)),
               MT_ERR_NETWORK);
    assert_null(pc);
    stats(s, &st);
    assert_int_equal(st.disk_loads, 0);
    assert_int_equal(st.disk_errors, 0);
    assert_int_equal(st.fetches, 1);
    assert_int_equal(mt_collateral_store_ready(s, NOT_AFTER + 1), 0);
    mt_collateral_store_free(s);
}

/* The PCCS serves collateral that has already expired: refused, with the component named. */
static void
test_pccs_serves_expired(void **state)
{
    struct mt_pcs_server *srv = server_with(tdx.b->col, NULL);
    struct store_cfg c = {{mt_pcs_server_url(srv)}, 1, NULL, 0, 0};
    struct mt_collateral_store *s = store_new(&c);
    struct mt_prepared_collateral *pc = NULL;
    char why[256];

    (void)state;
    EXPECT_ERR(mt_collateral_store_get(s, &tdx.q, NOT_AFTER + DAY, &pc, why, sizeof(why)),
               MT_ERR_TCB_INFO_EXPIRED);
    assert_null(pc);
    assert_non_null(strstr(why, "expired"));
    mt_collateral_store_free(s);
    mt_pcs_server_stop(srv);
}

/* Inside the margin a refresh fetches newer collateral, which replaces the entry. */
static void
test_refresh_inside_margin(void **state)
{
    struct mt_testpki_params p2;
    struct mt_collateral *newer = NULL;
    struct mt_pcs_server *old_srv = server_with(tdx.b->col, NULL), *new_srv;
    struct mt_collateral_store *s;
    struct mt_collateral_store_stats st;
    struct mt_prepared_collateral *a, *b, *c2;
    int64_t late = NOT_AFTER - MARGIN / 2;
    struct store_cfg c;

    (void)state;
    /* The same PKI, collateral issued 29 days later: current until T0 + 59 days. */
    mt_testpki_params_default(&p2, MT_TESTPKI_TDX_V4, T0 + 29 * DAY);
    assert_int_equal(mt_testpki_collateral(tdx.b->pki, &p2, &newer), MT_OK);
    new_srv = server_with(newer, NULL);
    memset(&c, 0, sizeof(c));
    c.urls[0] = mt_pcs_server_url(old_srv);
    c.urls[1] = mt_pcs_server_url(new_srv);
    c.num_urls = 2;
    s = store_new(&c);

    a = get_ok(s, &tdx, T0);
    assert_int_equal(window_end(a), NOT_AFTER);
    /* From now on only the second server answers. */
    mt_pcs_server_set_fault(old_srv, MT_PCS_EP_ALL, MT_PCS_FAULT_STATUS, 500);
    b = get_ok(s, &tdx, NOT_AFTER - MARGIN - 1); /* just before the margin: no fetch */
    assert_ptr_equal(a, b);
    stats(s, &st);
    assert_int_equal(st.fetches, 1);

    c2 = get_ok(s, &tdx, late);
    assert_ptr_not_equal(c2, a);
    assert_int_equal(window_end(c2), T0 + 59 * DAY);
    assert_verifies(&tdx, c2, late);
    stats(s, &st);
    assert_int_equal(st.fetches, 2);
    assert_int_equal(st.fetch_failures, 0);
    assert_int_equal(mt_pcs_server_count(new_srv, MT_PCS_EP_TCB), 1);
    /* The old reference is still usable by whoever holds it. */
    assert_verifies(&tdx, a, T0);
    mt_prepared_collateral_free(a);
    mt_prepared_collateral_free(b);
    mt_prepared_collateral_free(c2);

    /* The new one is fresh: memory hits again. */
    a = get_ok(s, &tdx, late + 1);
    stats(s, &st);
    assert_int_equal(st.fetches, 2);
    mt_prepared_collateral_free(a);
    mt_collateral_store_free(s);
    mt_pcs_server_stop(old_srv);
    mt_pcs_server_stop(new_srv);
    mt_collateral_free(newer);
}

/* A corrupt (or foreign) disk file is ignored, counted and replaced by the next fetch. */
static void
test_corrupt_disk_file(void **state)
{
    struct mt_pcs_server *srv = server_with(tdx.b->col, sgx.b->col);
    char dir[300], path[400], *foreign = NULL;
    struct store_cfg c = {{mt_pcs_server_url(srv)}, 1, dir, 0, 0};
    struct mt_collateral_store *s;
    struct mt_collateral_store_stats st;
    struct mt_prepared_collateral *pc;
    struct mt_collateral *col = NULL;
    uint8_t *text;
    size_t len;
    int logs;

    (void)state;
    new_dir(dir, sizeof(dir));
    s = store_new(&c); /* creates dir */
    mt_collateral_store_free(s);
    disk_file(&tdx, dir, path, sizeof(path));
    write_file(path, "{\"pck_crl\": \"not hex");

    logs = atomic_load(&log_lines);
    s = store_new(&c);
    pc = get_ok(s, &tdx, T0);
    assert_verifies(&tdx, pc, T0);
    mt_prepared_collateral_free(pc);
    stats(s, &st);
    assert_int_equal(st.disk_errors, 1);
    assert_int_equal(st.disk_loads, 0);
    assert_int_equal(st.fetches, 1);
    assert_true(atomic_load(&log_lines) > logs);
    mt_collateral_store_free(s);
    /* Replaced by the fetched collateral. */
    assert_int_equal(mt_file_read(path, MT_MAX_COLLATERAL_JSON, &text, &len), MT_OK);
    assert_int_equal(mt_collateral_parse((const char *)text, len, &col), MT_OK);
    mt_collateral_free(col);
    mt_free(text);

    /* Well-formed collateral of another platform under this name: ignored too. */
    assert_int_equal(mt_collateral_to_json(sgx.b->col, &foreign), MT_OK);
    write_file(path, foreign);
    mt_free(foreign);
    s = store_new(&c);
    pc = get_ok(s, &tdx, T0);
    assert_verifies(&tdx, pc, T0);
    mt_prepared_collateral_free(pc);
    stats(s, &st);
    assert_int_equal(st.disk_errors, 1);
    assert_int_equal(st.fetches, 1);
    mt_collateral_store_free(s);
    mt_pcs_server_stop(srv);
}

/* Two URLs, the first answers 500: the second is used. */
static void
test_second_url_used(void **state)
{
    struct mt_pcs_server *bad = server_with(tdx.b->col, NULL);
    struct mt_pcs_server *good = server_with(tdx.b->col, NULL);
    struct store_cfg c = {{mt_pcs_server_url(bad), mt_pcs_server_url(good)}, 2, NULL, 0, 0};
    struct mt_collateral_store *s;
    struct mt_collateral_store_stats st;
    struct mt_prepared_collateral *pc;

    (void)state;
    mt_pcs_server_set_fault(bad, MT_PCS_EP_ALL, MT_PCS_FAULT_STATUS, 500);
    s = store_new(&c);
    pc = get_ok(s, &tdx, T0);
    assert_verifies(&tdx, pc, T0);
    mt_prepared_collateral_free(pc);
    stats(s, &st);
    assert_int_equal(st.fetches, 1);
    assert_int_equal(st.fetch_failures, 0);
    assert_true(requests(bad) >= 1);
    assert_int_equal(mt_pcs_server_count(bad, MT_PCS_EP_TCB), 0);
    assert_int_equal(mt_pcs_server_count(good, MT_PCS_EP_TCB), 1);
    assert_int_equal(requests(good), 4);
    mt_collateral_store_free(s);
    mt_pcs_server_stop(bad);
    mt_pcs_server_stop(good);
}

struct worker {
    struct mt_collateral_store *s;
    pthread_barrier_t *start;
    mt_err err;
    mt_err verify_err;
};

static void *
worker_run(void *arg)
{
    struct worker *w = arg;
    struct mt_prepared_collateral *pc = NULL;
    struct mt_verifier_opts vo;
    struct mt_verifier *v = NULL;
    struct mt_verdict verdict;
    char why[256];

    pthread_barrier_wait(w->start);
    w->err = mt_collateral_store_get(w->s, &tdx.q, T0, &pc, why, sizeof(why));
    w->verify_err = MT_ERR_INTERNAL;
    if (w->err != MT_OK)
        return NULL;
    memset(&vo, 0, sizeof(vo));
    vo.root_der = mt_testpki_root_der(tdx.b->pki, &vo.root_der_len);
    if (mt_verifier_new(&vo, &v) == MT_OK)
        w->verify_err =
            mt_verify_quote_prepared(v, tdx.b->quote, tdx.b->quote_len, pc, T0, &verdict);
    mt_verifier_free(v);
    mt_prepared_collateral_free(pc);
    return NULL;
}

/* 16 threads miss at once: all succeed, one fetch between them. */
static void
test_concurrent_gets(void **state)
{
    struct mt_pcs_server *srv = server_with(tdx.b->col, NULL);
    char dir[300];
    struct store_cfg c = {{mt_pcs_server_url(srv)}, 1, dir, 0, 0};
    struct mt_collateral_store *s;
    struct mt_collateral_store_stats st;
    struct worker w[NTHREADS];
    pthread_t th[NTHREADS];
    pthread_barrier_t start;
    int i;

    (void)state;
    new_dir(dir, sizeof(dir));
    s = store_new(&c);
    /* Slow answers keep the fetch in flight while the other threads arrive. */
    mt_pcs_server_set_fault(srv, MT_PCS_EP_BIT(MT_PCS_EP_TCB), MT_PCS_FAULT_SLOW, 200);
    assert_int_equal(pthread_barrier_init(&start, NULL, NTHREADS), 0);
    for (i = 0; i < NTHREADS; i++) {
        w[i].s = s;
        w[i].start = &start;
        assert_int_equal(pthread_create(&th[i], NULL, worker_run, &w[i]), 0);
    }
    for (i = 0; i < NTHREADS; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    pthread_barrier_destroy(&start);
    for (i = 0; i < NTHREADS; i++) {
        EXPECT_OK(w[i].err);
        EXPECT_OK(w[i].verify_err);
    }
    stats(s, &st);
    assert_int_equal(st.fetches, 1);
    assert_int_equal(st.memory_hits, NTHREADS - 1);
    assert_int_equal(mt_pcs_server_count(srv, MT_PCS_EP_TCB), 1);
    assert_int_equal(st.entries, 1);
    mt_collateral_store_free(s);
    mt_pcs_server_stop(srv);
}

/* Concurrent misses while the PCCS is down share the one failure. */
static void
test_concurrent_failure_shared(void **state)
{
    struct mt_pcs_server *srv = server_with(tdx.b->col, NULL);
    struct store_cfg c = {{mt_pcs_server_url(srv)}, 1, NULL, -1, 0}; /* no retry wait */
    struct mt_collateral_store *s;
    struct mt_collateral_store_stats st;
    struct worker w[NTHREADS];
    pthread_t th[NTHREADS];
    pthread_barrier_t start;
    int i;

    (void)state;
    mt_pcs_server_set_fault(srv, MT_PCS_EP_BIT(MT_PCS_EP_PCKCRL), MT_PCS_FAULT_SLOW, 300);
    mt_pcs_server_set_fault(srv, MT_PCS_EP_BIT(MT_PCS_EP_TCB), MT_PCS_FAULT_STATUS, 404);
    s = store_new(&c);
    assert_int_equal(pthread_barrier_init(&start, NULL, NTHREADS), 0);
    for (i = 0; i < NTHREADS; i++) {
        w[i].s = s;
        w[i].start = &start;
        assert_int_equal(pthread_create(&th[i], NULL, worker_run, &w[i]), 0);
    }
    for (i = 0; i < NTHREADS; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    pthread_barrier_destroy(&start);
    for (i = 0; i < NTHREADS; i++)
        EXPECT_ERR(w[i].err, MT_ERR_HTTP_STATUS);
    stats(s, &st);
    /* Threads arriving after the shared fetch ended may start one more each; never one each. */
    assert_true(st.fetches >= 1 && st.fetches < NTHREADS / 2);
    assert_int_equal(st.fetch_failures, st.fetches);
    mt_collateral_store_free(s);
    mt_pcs_server_stop(srv);
}

/* A failed fetch is not repeated within the retry interval; afterwards it is. */
static void
test_failure_backoff(void **state)
{
    char dead[64], why[256];
    struct store_cfg c = {{dead}, 1, NULL, 0, 0};
    struct mt_collateral_store *s;
    struct mt_collateral_store_stats st;
    struct mt_prepared_collateral *pc = NULL;

    (void)state;
    dead_url(dead, sizeof(dead));
    s = store_new(&c);
    EXPECT_ERR(mt_collateral_store_get(s, &tdx.q, T0, &pc, why, sizeof(why)), MT_ERR_NETWORK);
    assert_non_null(strstr(why, "127.0.0.1"));
    EXPECT_ERR(mt_collateral_store_get(s, &tdx.q, T0 + 30, &pc, why, sizeof(why)), MT_ERR_NETWORK);
    stats(s, &st);
    assert_int_equal(st.fetches, 1);
    EXPECT_ERR(mt_collateral_store_get(s, &tdx.q, T0 + MT_CSTORE_DEFAULT_RETRY_INTERVAL, &pc, why,
                                       sizeof(why)),
               MT_ERR_NETWORK);
    stats(s, &st);
    assert_int_equal(st.fetches, 2);
    assert_int_equal(st.fetch_failures, 2);
    assert_null(pc);
    assert_int_equal(mt_collateral_store_ready(s, T0), 0);
    mt_collateral_store_free(s);

    /* retry_interval < 0: every get that needs a fetch makes one. */
    c.retry = -1;
    s = store_new(&c);
    EXPECT_ERR(mt_collateral_store_get(s, &tdx.q, T0, &pc, why, sizeof(why)), MT_ERR_NETWORK);
    EXPECT_ERR(mt_collateral_store_get(s, &tdx.q, T0, &pc, why, sizeof(why)), MT_ERR_NETWORK);
    stats(s, &st);
    assert_int_equal(st.fetches, 2);
    mt_collateral_store_free(s);
}

/* Two quotes with different certification data of one platform share an entry. */
static void
test_same_platform_shared(void **state)
{
    struct mt_pcs_server *srv = server_with(tdx.b->col, NULL);
    struct store_cfg c = {{mt_pcs_server_url(srv)}, 1, NULL, 0, 0};
    struct mt_collateral_store *s = store_new(&c);
    struct mt_collateral_store_stats st;
    struct mt_prepared_collateral *a, *b;
    struct mt_testpki_params p2 = tdx.p;
    struct fixture other;

    (void)state;
    /* The same PCK chain without the trailing NUL: other bytes, same platform. */
    p2.quote.pem_trailing_nul = 0;
    memset(&other, 0, sizeof(other));
    other.p = p2;
    other.b = mt_calloc(1, sizeof(*other.b));
    assert_non_null(other.b);
    other.b->pki = tdx.b->pki;
    assert_int_equal(mt_testpki_quote(tdx.b->pki, &p2, &other.b->quote, &other.b->quote_len),
                     MT_OK);
    assert_int_equal(mt_quote_parse(other.b->quote, other.b->quote_len, &other.q), MT_OK);
    assert_int_not_equal(other.q.cert_data_len, tdx.q.cert_data_len);

    a = get_ok(s, &tdx, T0);
    b = get_ok(s, &other, T0);
    assert_ptr_equal(a, b);
    stats(s, &st);
    assert_int_equal(st.fetches, 1);
    assert_int_equal(st.pck_decodes, 2);
    assert_int_equal(st.entries, 1);
    assert_verifies(&tdx, a, T0);
    assert_verifies(&other, b, T0);
    mt_prepared_collateral_free(a);
    mt_prepared_collateral_free(b);
    mt_free(other.b->quote);
    mt_free(other.b);
    mt_collateral_store_free(s);
    mt_pcs_server_stop(srv);
}

/* Different platforms get their own entries; max_entries bounds them (LRU). */
static void
test_platforms_and_eviction(void **state)
{
    /*
     * The two fixtures are separate test PKIs with separate roots, and a
     * stand-in serves one root CRL: one server each.  The TDX server does
     * not know the SGX FMSPC (404), so SGX quotes move on to the second URL.
     */
    struct mt_pcs_server *srv = server_with(tdx.b->col, NULL);
    struct mt_pcs_server *srv2 = server_with(sgx.b->col, NULL);
    struct store_cfg c = {{mt_pcs_server_url(srv), mt_pcs_server_url(srv2)}, 2, NULL, 0, 0};
    struct mt_collateral_store *s;
    struct mt_collateral_store_stats st;
    struct mt_prepared_collateral *a, *b;

    (void)state;
    s = store_new(&c);
    a = get_ok(s, &tdx, T0);
    b = get_ok(s, &sgx, T0);
    assert_ptr_not_equal(a, b);
    assert_verifies(&tdx, a, T0);
    assert_verifies(&sgx, b, T0);
    stats(s, &st);
    assert_int_equal(st.entries, 2);
    assert_int_equal(st.fetches, 2);
    mt_prepared_collateral_free(a);
    mt_prepared_collateral_free(b);
    mt_collateral_store_free(s);

    c.max_entries = 1;
    s = store_new(&c);
    a = get_ok(s, &tdx, T0);
    b = get_ok(s, &sgx, T0); /* evicts tdx */
    mt_prepared_collateral_free(a);
    mt_prepared_collateral_free(b);
    a = get_ok(s, &tdx, T0);
    mt_prepared_collateral_free(a);
    stats(s, &st);
    assert_int_equal(st.entries, 1);
    assert_int_equal(st.fetches, 3);
    mt_collateral_store_free(s);
    mt_pcs_server_stop(srv);
    mt_pcs_server_stop(srv2);
}

/*
 * Every allocation of store creation and of a get served from disk fails
 * in turn: no crash, no leak (under ASan), nothing handed out on failure.
 */
static void
test_out_of_memory(void **state)
{
    struct mt_pcs_server *srv = server_with(tdx.b->col, NULL);
    char dir[300], dead[64], why[256];
    struct store_cfg c = {{mt_pcs_server_url(srv)}, 1, dir, 0, 0};
    struct mt_collateral_store_opts o;
    struct mt_collateral_store *s;
    struct mt_prepared_collateral *pc;
    struct mt_pccs_opts po;
    unsigned long n;
    int reached;
    mt_err e;

    (void)state;
    new_dir(dir, sizeof(dir));
    s = store_new(&c);
    pc = get_ok(s, &tdx, T0);
    mt_prepared_collateral_free(pc);
    mt_collateral_store_free(s);
    mt_pcs_server_stop(srv);

    dead_url(dead, sizeof(dead));
    c.urls[0] = dead;
    mt_pccs_opts_init(&po);
    po.urls = c.urls;
    po.num_urls = 1;
    po.proxy = "";
    mt_collateral_store_opts_init(&o);
    o.pccs = &po;
    o.cache_dir = dir;
    for (n = 1; n < 100000; n++) {
        s = NULL;
        pc = NULL;
        mt_alloc_fail_at(n);
        e = mt_collateral_store_new(&o, &s);
        if (e == MT_OK)
            e = mt_collateral_store_get(s, &tdx.q, T0, &pc, why, sizeof(why));
        reached = mt_alloc_count() >= n;
        mt_alloc_fail_at(0);
        if (e == MT_OK) {
            assert_non_null(pc);
            assert_verifies(&tdx, pc, T0);
        } else {
            assert_null(pc);
            assert_true(reached);
        }
        mt_prepared_collateral_free(pc);
        mt_collateral_store_free(s);
        if (!reached)
            break;
    }
    assert_true(n > 5);
    print_message("out-of-memory sweep: %lu allocation sites\n", n - 1);
}

/* Arguments and quotes the store cannot serve. */
static void
test_bad_arguments(void **state)
{
    struct mt_collateral_store_opts o;
    struct mt_collateral_store *s = NULL;
    struct mt_prepared_collateral *pc = NULL;
    struct mt_pccs_opts po;
    struct mt_quote mock;
    const char *urls[1] = {"http://127.0.0.1:9"};
    char path[300], why[128];

    (void)state;
    EXPECT_ERR(mt_collateral_store_new(NULL, &s), MT_ERR_ARG);
    mt_collateral_store_opts_init(&o);
    EXPECT_ERR(mt_collateral_store_new(&o, &s), MT_ERR_ARG); /* no PCCS options */
    mt_pccs_opts_init(&po);
    o.pccs = &po;
    EXPECT_ERR(mt_collateral_store_new(&o, &s), MT_ERR_ARG); /* no URLs */
    po.urls = urls;
    po.num_urls = 1;
    o.refresh_margin = -1;
    EXPECT_ERR(mt_collateral_store_new(&o, &s), MT_ERR_ARG);
    o.refresh_margin = 0;
    o.max_entries = MT_CSTORE_MAX_ENTRIES + 1;
    EXPECT_ERR(mt_collateral_store_new(&o, &s), MT_ERR_ARG);
    o.max_entries = 0;
    /* cache_dir that is a file */
    snprintf(path, sizeof(path), "%s/a-file", tmp_root);
    write_file(path, "x");
    o.cache_dir = path;
    EXPECT_ERR(mt_collateral_store_new(&o, &s), MT_ERR_IO);
    assert_null(s);
    o.cache_dir = "";
    EXPECT_OK(mt_collateral_store_new(&o, &s));

    memset(&mock, 0, sizeof(mock));
    mock.kind = MT_QUOTE_MOCK;
    EXPECT_ERR(mt_collateral_store_get(s, &mock, T0, &pc, why, sizeof(why)), MT_ERR_ARG);
    mock = tdx.q;
    mock.cert_type = 3;
    EXPECT_ERR(mt_collateral_store_get(s, &mock, T0, &pc, why, sizeof(why)),
               MT_ERR_QUOTE_CERT_TYPE);
    mock = tdx.q;
    mock.cert_data = (const uint8_t *)"not a PEM chain";
    mock.cert_data_len = 15;
    EXPECT_ERR(mt_collateral_store_get(s, &mock, T0, &pc, why, sizeof(why)), MT_ERR_PEM);
    assert_true(strlen(why) > 0);
    EXPECT_ERR(mt_collateral_store_get(s, NULL, T0, &pc, why, sizeof(why)), MT_ERR_ARG);
    assert_null(pc);
    mt_collateral_store_free(s);
    mt_collateral_store_free(NULL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fetch_then_memory_hit),
        cmocka_unit_test(test_disk_reload_without_pccs),
        cmocka_unit_test(test_pccs_down_cached_current),
        cmocka_unit_test(test_pccs_down_cached_expired),
        cmocka_unit_test(test_pccs_serves_expired),
        cmocka_unit_test(test_refresh_inside_margin),
        cmocka_unit_test(test_corrupt_disk_file),
        cmocka_unit_test(test_second_url_used),
        cmocka_unit_test(test_concurrent_gets),
        cmocka_unit_test(test_concurrent_failure_shared),
        cmocka_unit_test(test_failure_backoff),
        cmocka_unit_test(test_same_platform_shared),
        cmocka_unit_test(test_platforms_and_eviction),
        cmocka_unit_test(test_out_of_memory),
        cmocka_unit_test(test_bad_arguments),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
