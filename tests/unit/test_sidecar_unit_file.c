/*
 * image/systemd/mero-fleet-sidecar.service (issue 7, docs/fleet-sidecar.md):
 *
 *   1. the unit is parsed here (sections, "Key=value" lines) and the keys
 *      the issue names are checked: Restart=always, the hardening options
 *      (NoNewPrivileges, ProtectSystem, PrivateTmp, ...), no token anywhere
 *      in it, RestartPreventExitStatus matching the program's EX_CONFIG;
 *   2. when systemd-analyze is installed (Debian package systemd), a copy of
 *      the unit whose ExecStart names this build's binary is run through
 *      `systemd-analyze verify`, and any output or a non-zero exit fails the
 *      test (a deliberately broken copy proves that problems are seen).
 *      Without systemd-analyze only part 1 runs, and the test says so on
 *      stdout; it does not fail for that.
 */
#include "mt_testlib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define UNIT_PATH MT_SOURCE_DIR "/image/systemd/mero-fleet-sidecar.service"
#define INSTALLED_BIN "/usr/local/bin/mero-fleet-sidecar"

/*
 * Every value of key in section, joined by '\n' (a key may repeat), or NULL
 * when absent.  Blank lines and '#'/';' comments are skipped; the unit uses
 * no line continuations (a trailing '\' fails the test).
 */
static char *
values(const char *text, const char *section, const char *key)
{
    char cur[64] = "", line[1024], *out = NULL;
    const char *p = text, *nl;
    size_t n, used = 0;

    while (*p != '\0') {
        nl = strchr(p, '\n');
        n = nl != NULL ? (size_t)(nl - p) : strlen(p);
        assert_true(n < sizeof(line));
        memcpy(line, p, n);
        line[n] = '\0';
        p += n + (nl != NULL);
        if (line[0] == '\0' || line[0] == '#' || line[0] == ';')
            continue;
        assert_true(line[n - 1] != '\\');
        if (line[0] == '[') {
            assert_non_null(strchr(line, ']'));
            snprintf(cur, sizeof(cur), "%.*s", (int)(strchr(line, ']') - line - 1), line + 1);
            continue;
        }
        {
            char *eq = strchr(line, '=');

            assert_non_null(eq);
            *eq = '\0';
            if (strcmp(cur, section) != 0 || strcmp(line, key) != 0)
                continue;
            n = strlen(eq + 1);
            out = realloc(out, used + n + 2);
            assert_non_null(out);
            if (used > 0)
                out[used++] = '\n';
            memcpy(out + used, eq + 1, n + 1);
            used += n;
        }
    }
    return out;
}

static void
expect_key(const char *text, const char *section, const char *key, const char *want)
{
    char *v = values(text, section, key);

    if (v == NULL)
        fail_msg("[%s] %s= missing (want %s)", section, key, want);
    if (strcmp(v, want) != 0)
        fail_msg("[%s] %s=%s, want %s", section, key, v, want);
    free(v);
}

static void
test_required_keys(void **state)
{
    char *t = mt_test_slurp(UNIT_PATH, 0), *v;
    /* The hardening the issue names, and the rest the unit promises in docs/fleet-sidecar.md. */
    static const char *const yes[] = {
        "NoNewPrivileges",       "PrivateTmp",
        "PrivateDevices",        "ProtectHome",
        "ProtectKernelTunables", "ProtectKernelModules",
        "ProtectKernelLogs",     "ProtectControlGroups",
        "RestrictNamespaces",    "RestrictSUIDSGID",
        "LockPersonality",       "MemoryDenyWriteExecute",
        "RestrictRealtime",      "ProtectClock",
        "ProtectHostname",
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
        expect_key(t, "Service", yes[i], "yes");
    expect_key(t, "Service", "Restart", "always");
    expect_key(t, "Service", "ProtectSystem", "strict");
    expect_key(t, "Service", "CapabilityBoundingSet", "");
    expect_key(t, "Service", "AmbientCapabilities", "");
    expect_key(t, "Service", "UMask", "0077");
    expect_key(t, "Service", "Type", "simple");
    /* The program's EX_CONFIG (src/sidecar/main.c): a bad config is not restarted in a loop. */
    expect_key(t, "Service", "RestartPreventExitStatus", "78");
    expect_key(t, "Service", "StateDirectory", "calimero/fleet-sidecar");
    expect_key(t, "Service", "StateDirectoryMode", "0700");
    expect_key(t, "Service", "ExecStart",
               INSTALLED_BIN " --config /etc/calimero/fleet-sidecar.conf");
    expect_key(t, "Install", "WantedBy", "multi-user.target");
    v = values(t, "Unit", "After");
    assert_non_null(v);
    assert_non_null(strstr(v, "merod.service"));
    free(v);
    /* The token is never in the unit: no environment at all, nothing named token. */
    assert_null(values(t, "Service", "Environment"));
    assert_null(values(t, "Service", "EnvironmentFile"));
    assert_null(values(t, "Service", "LoadCredential"));
    v = values(t, "Service", "ExecStart");
    assert_null(strstr(v, "token"));
    assert_null(strstr(v, "TOKEN"));
    free(v);
    free(t);
}

/* Find systemd-analyze in the usual places (the test runs with a minimal PATH too). */
static const char *
systemd_analyze(void)
{
    static const char *const where[] = {"/usr/bin/systemd-analyze", "/bin/systemd-analyze",
                                        "/usr/local/bin/systemd-analyze"};
    size_t i;

    for (i = 0; i < sizeof(where) / sizeof(where[0]); i++) {
        if (access(where[i], X_OK) == 0)
            return where[i];
    }
    return NULL;
}

/* Run `systemd-analyze verify` on text as dir/mero-fleet-sidecar.service; out: its output. */
static int
verify(const char *tool, const char *dir, const char *text, char *out, size_t out_len)
{
    char path[256], cmd[768];
    FILE *f, *p;
    size_t n = 0, k;
    int st;

    snprintf(path, sizeof(path), "%s/mero-fleet-sidecar.service", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    assert_true(fputs(text, f) >= 0);
    assert_int_equal(fclose(f), 0);
    snprintf(cmd, sizeof(cmd), "SYSTEMD_LOG_COLOR=0 '%s' verify --man=no '%s' 2>&1", tool, path);
    p = popen(cmd, "r");
    assert_non_null(p);
    while (n + 1 < out_len && (k = fread(out + n, 1, out_len - n - 1, p)) > 0)
        n += k;
    out[n] = '\0';
    st = pclose(p);
    return st;
}

/* text with the installed binary's path replaced by this build's (systemd checks it exists). */
static char *
with_build_binary(const char *text)
{
    const char *at = strstr(text, INSTALLED_BIN);
    size_t pre, len;
    char *out;

    assert_non_null(at);
    pre = (size_t)(at - text);
    len = strlen(text) - strlen(INSTALLED_BIN) + strlen(MT_SIDECAR_PATH);
    out = calloc(1, len + 1);
    assert_non_null(out);
    snprintf(out, len + 1, "%.*s%s%s", (int)pre, text, MT_SIDECAR_PATH, at + strlen(INSTALLED_BIN));
    return out;
}

static void
test_systemd_analyze_verify(void **state)
{
    const char *tool = systemd_analyze();
    char dir[64] = "/tmp/mt-unit-XXXXXX", out[8192], cmd[128], *t, *unit, *broken;
    size_t n;
    int st;

    (void)state;
    if (tool == NULL) {
        printf("NOTE: systemd-analyze not installed (Debian package systemd; "
               "scripts/install-deps.sh systemd): only the parsed-key checks ran\n");
        return;
    }
    assert_non_null(mkdtemp(dir));
    t = mt_test_slurp(UNIT_PATH, 0);
    unit = with_build_binary(t);
    st = verify(tool, dir, unit, out, sizeof(out));
    if (st != 0 || out[0] != '\0')
        fail_msg("systemd-analyze verify (status %d) reports:\n%s", st, out);
    /* The check sees problems: an unknown key and a bad value are reported. */
    n = strlen(unit) + 64;
    broken = calloc(1, n);
    assert_non_null(broken);
    snprintf(broken, n, "%s\n[Service]\nProtectSystm=strict\n", unit);
    (void)verify(tool, dir, broken, out, sizeof(out));
    assert_non_null(strstr(out, "ProtectSystm"));
    snprintf(broken, n, "%s\n[Service]\nRestart=sometimes\n", unit);
    (void)verify(tool, dir, broken, out, sizeof(out));
    assert_non_null(strstr(out, "sometimes"));
    free(broken);
    free(unit);
    free(t);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_required_keys),
        cmocka_unit_test(test_systemd_analyze_verify),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
