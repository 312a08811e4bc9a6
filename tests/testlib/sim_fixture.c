#include "mt_testlib.h"
#include "sim_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "dcap/dcap.h"
#include "pccs/pccs.h"
#include "quote/quote.h"
#include "sim/sim_pki.h"
#include "util/mt_alloc.h"
#include "util/mt_buf.h"

struct mt_sim_machine *
sim_fixture_machine(const char *profile)
{
    struct mt_sim_machine *m = NULL;

    EXPECT_OK(mt_sim_machine_default(profile, &m));
    return m;
}

void
sim_fixture_start(struct sim_fixture *f, struct mt_sim_machine *m, int with_pccs)
{
    char why[256];
    mt_err e;

    memset(f, 0, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/mt-sim-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->socket, sizeof(f->socket), "%s/dstack.sock", f->dir);
    f->now = (int64_t)time(NULL);
    e = mt_sim_pki_init(f->dir, 0, why, sizeof(why));
    if (e != MT_OK)
        fail_msg("sim pki init: %s", why);
    EXPECT_OK(mt_sim_pki_load(f->dir, &f->pki, why, sizeof(why)));
    EXPECT_OK(mt_sim_agent_new(m, f->pki, f->now, &f->agent));
    EXPECT_OK(mt_sim_http_start(f->socket, f->agent, &f->http));
    if (with_pccs) {
        e = mt_sim_pccs_start(f->pki, mt_sim_agent_params(f->agent), f->now, MT_SIM_COLLATERAL_GOOD,
                              0, &f->pccs, why, sizeof(why));
        if (e != MT_OK)
            fail_msg("sim pccs: %s", why);
    }
}

void
sim_fixture_stop(struct sim_fixture *f)
{
    char cmd[256];

    mt_sim_http_stop(f->http);
    mt_pcs_server_stop(f->pccs);
    mt_sim_agent_free(f->agent);
    mt_testpki_free(f->pki);
    if (f->dir[0] != '\0') {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
        if (system(cmd) != 0)
            fprintf(stderr, "warning: could not remove %s\n", f->dir);
    }
    memset(f, 0, sizeof(*f));
}

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
    return mt_buf_append(arg, p, size * n) == MT_OK ? size * n : 0;
}

long
sim_http(const char *socket, const char *method, const char *path, const char *content_type,
         const char *body, size_t body_len, char **resp, char *resp_type, size_t type_len)
{
    struct curl_slist *hdrs = NULL;
    struct mt_buf buf;
    char url[512], hdr[256];
    char *ct = NULL;
    long status = -1;
    CURL *h;

    mt_buf_init(&buf, 64u * 1024u * 1024u);
    h = curl_easy_init();
    assert_non_null(h);
    snprintf(url, sizeof(url), "http://dstack%s", path);
    curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, socket);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &buf);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
    if (content_type != NULL) {
        snprintf(hdr, sizeof(hdr), "Content-Type: %s", content_type);
        hdrs = curl_slist_append(hdrs, hdr);
    } else {
        hdrs = curl_slist_append(hdrs, "Content-Type:");
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body == NULL ? "" : body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)(body == NULL ? 0 : body_len));
    }
    if (curl_easy_perform(h) == CURLE_OK) {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct);
        if (resp_type != NULL)
            snprintf(resp_type, type_len, "%s", ct == NULL ? "" : ct);
    }
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    if (buf.p == NULL)
        assert_int_equal(mt_buf_append(&buf, "", 0), MT_OK);
    *resp = (char *)mt_buf_take(&buf, NULL);
    return status;
}

mt_err
sim_fixture_verify(const struct sim_fixture *f, const uint8_t *quote, size_t len, int test_root,
                   struct mt_verdict *v)
{
    struct mt_verifier_opts o;
    struct mt_verifier *ver = NULL;
    struct mt_collateral *col = NULL;
    struct mt_pccs_opts po;
    struct mt_quote q;
    const char *urls[1];
    char why[256];
    size_t root_len;
    mt_err e;

    EXPECT_OK(mt_quote_parse(quote, len, &q));
    mt_pccs_opts_init(&po);
    urls[0] = mt_pcs_server_url(f->pccs);
    po.urls = urls;
    po.num_urls = 1;
    e = mt_pccs_fetch(&po, &q, &col, why, sizeof(why));
    if (e != MT_OK)
        fail_msg("collateral from the simulator's PCCS: %s", why);
    memset(&o, 0, sizeof(o));
    if (test_root) {
        o.root_der = mt_testpki_root_der(f->pki, &root_len);
        o.root_der_len = root_len;
    }
    EXPECT_OK(mt_verifier_new(&o, &ver));
    e = mt_verify_quote(ver, quote, len, col, f->now, v);
    mt_verifier_free(ver);
    mt_collateral_free(col);
    return e;
}
