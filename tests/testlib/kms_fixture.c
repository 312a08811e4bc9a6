#include "mt_testlib.h"
#include "kms_fixture.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "dstack/dstack_client.h"
#include "identity/identity.h"
#include "quote/quote.h"
#include "util/mt_alloc.h"
#include "util/mt_b64.h"
#include "util/mt_buf.h"
#include "util/mt_hex.h"

void
kms_fixture_env(struct kms_fixture *f, const char *name, const char *value)
{
    size_t i;

    for (i = 0; i < f->num_env; i++) {
        if (strcmp(f->env_name[i], name) == 0)
            break;
    }
    if (i == f->num_env) {
        assert_true(f->num_env < KMS_FIXTURE_MAX_ENV);
        f->num_env++;
    }
    snprintf(f->env_name[i], sizeof(f->env_name[i]), "%s", name);
    if (value == NULL) {
        f->env_name[i][0] = '\0';
        return;
    }
    snprintf(f->env_value[i], sizeof(f->env_value[i]), "%s", value);
}

static const char *
env_get(const char *name, void *arg)
{
    const struct kms_fixture *f = arg;
    size_t i;

    for (i = 0; i < f->num_env; i++) {
        if (strcmp(f->env_name[i], name) == 0)
            return f->env_value[i];
    }
    return NULL;
}

static void
start_agent(struct kms_fixture *f, const char *profile, const char *socket,
            struct mt_sim_agent **agent, struct mt_sim_http **http)
{
    EXPECT_OK(mt_sim_agent_new(sim_fixture_machine(profile), f->node.pki, f->node.now, agent));
    EXPECT_OK(mt_sim_http_start(socket, *agent, http));
}

void
kms_fixture_boot(struct kms_fixture *f)
{
    uint8_t rtmr[4][48];
    char v[256], port[32], hex[97], name[16];
    uint16_t p;
    int i;

    memset(f, 0, sizeof(*f));
    sim_fixture_start(&f->node, sim_fixture_machine("locked-read-only"), 1);
    f->now = f->node.now;
    snprintf(f->debug_socket, sizeof(f->debug_socket), "%s/debug.sock", f->node.dir);
    snprintf(f->kms_socket, sizeof(f->kms_socket), "%s/kms.sock", f->node.dir);
    start_agent(f, "debug", f->debug_socket, &f->debug_agent, &f->debug_http);
    start_agent(f, "kms", f->kms_socket, &f->kms_agent, &f->kms_sim_http);
    EXPECT_OK(mt_pcs_unused_port(&p));
    snprintf(port, sizeof(port), "127.0.0.1:%u", (unsigned)p);
    kms_fixture_env(f, "LISTEN_ADDR", port);
    kms_fixture_env(f, "DSTACK_SOCKET_PATH", f->kms_socket);
    kms_fixture_env(f, "MERO_KMS_PROFILE", "locked-read-only");
    snprintf(v, sizeof(v), "%s/no-pin-file", f->node.dir);
    kms_fixture_env(f, "KMS_PROFILE_PIN_FILE", v);
    kms_fixture_env(f, "KMS_KEY_PROVIDER", "local");
    snprintf(v, sizeof(v), "%s/kms-root.key", f->node.dir);
    kms_fixture_env(f, "KMS_LOCAL_ROOT_KEY_FILE", v);
    snprintf(v, sizeof(v), "%s/root.der", f->node.dir);
    kms_fixture_env(f, "KMS_TRUST_ROOT_FILE", v);
    kms_fixture_env(f, "PCCS_URLS", mt_pcs_server_url(f->node.pccs));
    snprintf(v, sizeof(v), "%s/collateral", f->node.dir);
    kms_fixture_env(f, "COLLATERAL_CACHE_DIR", v);
    snprintf(v, sizeof(v), "%s/audit.jsonl", f->node.dir);
    kms_fixture_env(f, "AUDIT_LOG_PATH", v);
    /* The policy admits exactly the locked-read-only node as it booted. */
    kms_fixture_env(f, "USE_ENV_POLICY", "true");
    kms_fixture_env(f, "ALLOWED_TCB_STATUSES", "uptodate");
    mt_sim_agent_rtmrs(f->node.agent, rtmr);
    mt_hex_encode(mt_sim_agent_params(f->node.agent)->quote.td.mr_td, 48, hex);
    kms_fixture_env(f, "ALLOWED_MRTD", hex);
    for (i = 0; i < 4; i++) {
        mt_hex_encode(rtmr[i], 48, hex);
        snprintf(name, sizeof(name), "ALLOWED_RTMR%d", i);
        kms_fixture_env(f, name, hex);
    }
}

mt_err
kms_fixture_try_kms(struct kms_fixture *f, char *why, size_t why_len)
{
    struct mt_kms_config *cfg = NULL;
    mt_err e;

    e = mt_kms_config_load(env_get, f, &cfg, why, why_len);
    if (e != MT_OK)
        return e;
    e = mt_kms_new(cfg, mt_clock_fixed(&f->now), &f->kms, why, why_len);
    if (e != MT_OK)
        return e;
    e = mt_kms_profile_event(f->kms, why, why_len);
    if (e == MT_OK)
        e = mt_kms_http_start(f->kms, 4, &f->http, why, why_len);
    if (e != MT_OK) {
        mt_kms_free(f->kms);
        f->kms = NULL;
        return e;
    }
    snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%u", (unsigned)mt_kms_http_port(f->http));
    return MT_OK;
}

void
kms_fixture_start_kms(struct kms_fixture *f)
{
    char why[512];
    mt_err e = kms_fixture_try_kms(f, why, sizeof(why));

    if (e != MT_OK)
        fail_msg("KMS did not start: %s: %s", mt_err_code(e), why);
}

void
kms_fixture_stop_kms(struct kms_fixture *f)
{
    mt_kms_http_stop(f->http);
    f->http = NULL;
    mt_kms_free(f->kms);
    f->kms = NULL;
}

void
kms_fixture_stop(struct kms_fixture *f)
{
    kms_fixture_stop_kms(f);
    mt_sim_http_stop(f->debug_http);
    mt_sim_agent_free(f->debug_agent);
    mt_sim_http_stop(f->kms_sim_http);
    mt_sim_agent_free(f->kms_agent);
    sim_fixture_stop(&f->node);
}

long
kms_request(const struct kms_fixture *f, const char *method, const char *path,
            const char *content_type, const char *body, size_t body_len, char **resp)
{
    struct mt_buf buf;
    char url[512];
    long status;

    mt_buf_init(&buf, 16u * 1024u * 1024u);
    snprintf(url, sizeof(url), "%s%s", f->url, path);
    status = mt_test_http(url, method, content_type, body, body_len, 60L, &buf);
    *resp = (char *)mt_buf_take(&buf, NULL);
    return status;
}

long
kms_post_json(const struct kms_fixture *f, const char *path, const char *body, json_t **out)
{
    char *resp = NULL;
    long status;

    status = kms_request(f, "POST", path, "application/json", body, strlen(body), &resp);
    if (out != NULL)
        *out = json_loads(resp, 0, NULL);
    mt_free(resp);
    return status;
}

void
node_identity_new(struct node_identity *id)
{
    uint8_t pb[MT_LIBP2P_ED25519_PB_LEN];
    char *b64;

    memset(id, 0, sizeof(*id));
    EXPECT_OK(mt_node_key_generate(&id->key));
    EXPECT_OK(mt_libp2p_pubkey_encode(id->key, pb));
    EXPECT_OK(mt_peer_id_from_pubkey_proto(pb, sizeof(pb), id->peer, sizeof(id->peer)));
    b64 = mt_b64_encode_alloc(pb, sizeof(pb));
    assert_non_null(b64);
    snprintf(id->pubkey_b64, sizeof(id->pubkey_b64), "%s", b64);
    mt_free(b64);
}

void
node_identity_free(struct node_identity *id)
{
    EVP_PKEY_free(id->key);
    id->key = NULL;
}

json_t *
kms_sign_body(const struct node_identity *signer, const char *peer, const char *challenge_id,
              const uint8_t nonce[32], const uint8_t *quote, size_t quote_len)
{
    uint8_t qhash[32], sig[64];
    unsigned int hl = 32;
    size_t payload_len;
    char *payload = NULL, *quote_b64, *sig_b64;
    json_t *o;

    assert_int_equal(EVP_Digest(quote, quote_len, qhash, &hl, EVP_sha256(), NULL), 1);
    EXPECT_OK(mt_kms_payload(challenge_id, nonce, qhash, peer, 0, &payload, &payload_len));
    EXPECT_OK(mt_ed25519_sign(signer->key, (const uint8_t *)payload, payload_len, sig));
    mt_free(payload);
    quote_b64 = mt_b64_encode_alloc(quote, quote_len);
    sig_b64 = mt_b64_encode_alloc(sig, 64);
    o = json_pack("{s:s,s:s,s:s,s:s,s:s}", "challengeId", challenge_id, "quoteB64", quote_b64,
                  "peerId", peer, "peerPublicKeyB64", signer->pubkey_b64, "signatureB64", sig_b64);
    mt_free(quote_b64);
    mt_free(sig_b64);
    assert_non_null(o);
    return o;
}

json_t *
kms_get_key_body(const struct kms_fixture *f, const struct node_identity *id, const char *socket,
                 char *challenge_id)
{
    struct mt_dstack_opts o;
    struct mt_dstack_client *c = NULL;
    struct mt_dstack_quote dq;
    uint8_t rd[64], nonce[32], mock[MT_MOCK_QUOTE_SIZE];
    unsigned int hl = 32;
    size_t n;
    uint8_t *nb = NULL;
    char body[256];
    json_t *r = NULL, *out;

    snprintf(body, sizeof(body), "{\"peerId\":\"%s\"}", id->peer);
    assert_int_equal(kms_post_json(f, "/challenge", body, &r), 200);
    snprintf(challenge_id, 33, "%s", json_string_value(json_object_get(r, "challengeId")));
    EXPECT_OK(mt_b64_decode_alloc(json_string_value(json_object_get(r, "nonceB64")),
                                  json_string_length(json_object_get(r, "nonceB64")), 64, &nb, &n));
    assert_int_equal(n, 32);
    memcpy(nonce, nb, 32);
    mt_free(nb);
    json_decref(r);
    memcpy(rd, nonce, 32);
    assert_int_equal(EVP_Digest(id->peer, strlen(id->peer), rd + 32, &hl, EVP_sha256(), NULL), 1);
    if (socket == NULL) {
        memset(mock, 0, sizeof(mock));
        memcpy(mock, MT_MOCK_QUOTE_MAGIC, MT_MOCK_QUOTE_MAGIC_LEN);
        memcpy(mock + MT_MOCK_QUOTE_MAGIC_LEN, rd, 64);
        return kms_sign_body(id, id->peer, challenge_id, nonce, mock, sizeof(mock));
    }
    mt_dstack_opts_init(&o);
    o.socket_path = socket;
    EXPECT_OK(mt_dstack_client_new(&o, &c));
    memset(&dq, 0, sizeof(dq));
    EXPECT_OK(mt_dstack_get_quote(c, rd, 64, &dq));
    out = kms_sign_body(id, id->peer, challenge_id, nonce, dq.quote, dq.quote_len);
    mt_dstack_quote_free(&dq);
    mt_dstack_client_free(c);
    return out;
}

/*
 * KMS processes still running when the test program exits (a failed assertion
 * jumps past kms_fixture_kill_process) are killed then, so none is left behind.
 */
static pid_t spawned[16];

static void
kill_spawned(void)
{
    size_t i;

    for (i = 0; i < sizeof(spawned) / sizeof(spawned[0]); i++) {
        if (spawned[i] > 0) {
            kill(spawned[i], SIGKILL);
            waitpid(spawned[i], NULL, 0);
            spawned[i] = 0;
        }
    }
}

static void
track_spawned(pid_t pid, int add)
{
    static int registered;
    size_t i;

    if (!registered) {
        atexit(kill_spawned);
        registered = 1;
    }
    for (i = 0; i < sizeof(spawned) / sizeof(spawned[0]); i++) {
        if (add ? spawned[i] == 0 : spawned[i] == pid) {
            spawned[i] = add ? pid : 0;
            return;
        }
    }
}

/* Print a child's log to stderr (after a failure, for the reader of the test output). */
static void
dump_file(const char *path)
{
    char line[512];
    FILE *fp = fopen(path, "r");

    if (fp == NULL)
        return;
    fprintf(stderr, "---- %s ----\n", path);
    while (fgets(line, sizeof(line), fp) != NULL)
        fputs(line, stderr);
    fclose(fp);
}

pid_t
kms_fixture_spawn(const struct kms_fixture *f, char *url, size_t url_len)
{
    char *envp[KMS_FIXTURE_MAX_ENV + 2], entries[KMS_FIXTURE_MAX_ENV][1100], *resp = NULL;
    const char *listen = env_get("LISTEN_ADDR", (void *)f);
    struct kms_fixture probe;
    char log[400];
    size_t i, n = 0;
    pid_t pid;
    int tries, status;

    for (i = 0; i < f->num_env; i++) {
        if (f->env_name[i][0] == '\0')
            continue;
        snprintf(entries[n], sizeof(entries[n]), "%s=%s", f->env_name[i], f->env_value[i]);
        envp[n] = entries[n];
        n++;
    }
    envp[n] = NULL;
    assert_non_null(listen);
    snprintf(url, url_len, "http://%s", listen);
    /* The child's log goes to a file next to the state, shown on failure. */
    snprintf(log, sizeof(log), "%s/kms-%s.log", f->node.dir, listen);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (freopen(log, "w", stderr) == NULL)
            _exit(126);
        execle(MT_KMS_PATH, MT_KMS_PATH, (char *)NULL, envp);
        _exit(127);
    }
    memset(&probe, 0, sizeof(probe));
    snprintf(probe.url, sizeof(probe.url), "%s", url);
    for (tries = 0; tries < 200; tries++) {
        if (kms_request(&probe, "GET", "/health", NULL, NULL, 0, &resp) == 200) {
            mt_free(resp);
            track_spawned(pid, 1);
            return pid;
        }
        mt_free(resp);
        resp = NULL;
        if (waitpid(pid, &status, WNOHANG) == pid)
            break; /* it exited: no point waiting */
        usleep(25000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    dump_file(log);
    fail_msg("mero-kms did not come up at %s", url);
    return -1;
}

void
kms_fixture_kill_process(pid_t pid)
{
    int status;

    track_spawned(pid, 0);
    assert_int_equal(kill(pid, SIGTERM), 0);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

long
kms_post_body(const struct kms_fixture *f, const char *path, const json_t *body, json_t **out)
{
    char *text = json_dumps(body, JSON_COMPACT);
    long status;

    assert_non_null(text);
    status = kms_post_json(f, path, text, out);
    mt_free_libc(text);
    return status;
}

const char *
kms_tag_of(const json_t *r)
{
    return r == NULL ? NULL : json_string_value(json_object_get(r, "error"));
}

const char *
kms_details_of(const json_t *r)
{
    return r == NULL ? NULL : json_string_value(json_object_get(r, "details"));
}

static void
expect_error_mode(long status, json_t **rp, long want_status, const char *tag, const char *details,
                  int exact)
{
    json_t *r = *rp;
    const char *d = kms_details_of(r);

    if (status != want_status || kms_tag_of(r) == NULL || strcmp(kms_tag_of(r), tag) != 0)
        fail_msg("want %ld %s, got %ld %s (%s)", want_status, tag, status,
                 kms_tag_of(r) == NULL ? "(no tag)" : kms_tag_of(r), d == NULL ? "" : d);
    if (details != NULL) {
        if (d == NULL)
            fail_msg("no details; want \"%s\"", details);
        if (exact && strcmp(d, details) != 0)
            fail_msg("details \"%s\", want exactly \"%s\"", d, details);
        if (!exact && strstr(d, details) == NULL)
            fail_msg("details \"%s\" lack \"%s\"", d, details);
    }
    json_decref(r);
    *rp = NULL;
}

void
kms_expect_error(long status, json_t **rp, long want_status, const char *tag, const char *details)
{
    expect_error_mode(status, rp, want_status, tag, details, 0);
}

void
kms_expect_error_exact(long status, json_t **rp, long want_status, const char *tag,
                       const char *details)
{
    expect_error_mode(status, rp, want_status, tag, details, 1);
}

struct racer {
    const struct kms_fixture *f;
    const char *body;
    long status;
};

static void *
race(void *arg)
{
    struct racer *rc = arg;
    char *resp = NULL;

    rc->status = kms_request(rc->f, "POST", "/get-key", "application/json", rc->body,
                             strlen(rc->body), &resp);
    mt_free(resp);
    return NULL;
}

void
kms_race_get_key(const struct kms_fixture *f, const char *body, int n, int *ok, int *refused)
{
    struct racer rc[128];
    pthread_t t[128];
    int i;

    assert_true(n > 0 && n <= 128);
    *ok = *refused = 0;
    for (i = 0; i < n; i++) {
        rc[i].f = f;
        rc[i].body = body;
        assert_int_equal(pthread_create(&t[i], NULL, race, &rc[i]), 0);
    }
    for (i = 0; i < n; i++) {
        pthread_join(t[i], NULL);
        *ok += rc[i].status == 200;
        *refused += rc[i].status == 401;
    }
}
