/*
 * The mero-tee-sim program itself: init writes the state directory, serve
 * answers on its socket and PCCS port and stops cleanly on SIGTERM, and
 * unusable arguments or profiles are refused with a message.
 */
#include "mt_testlib.h"
#include "sim_fixture.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "sim/sim_pcs.h"
#include "util/mt_alloc.h"
#include "util/mt_hex.h"

static char dir[64];

static int
setup(void **state)
{
    (void)state;
    return mt_test_mkdtemp(dir, sizeof(dir), "mt-simproc");
}

static int
teardown(void **state)
{
    (void)state;
    return mt_test_rm_rf(dir);
}

/* Run the simulator with argv (NULL-terminated) and stderr to a file; wait for it. */
static int
run(const char *const *argv)
{
    char err[160];
    int status;
    pid_t pid;

    snprintf(err, sizeof(err), "%s/stderr", dir);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (freopen(err, "w", stderr) == NULL || freopen("/dev/null", "w", stdout) == NULL)
            _exit(126);
        execv(MT_SIM_PATH, (char *const *)argv);
        _exit(127);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Run the simulator with argv; stdout to DIR/stdout (returned, mt_free), exit code in *rc. */
static char *
run_out(const char *const *argv, int *rc)
{
    char out[160];
    int status;
    size_t len;
    pid_t pid;

    snprintf(out, sizeof(out), "%s/stdout", dir);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (freopen(out, "w", stdout) == NULL || freopen("/dev/null", "w", stderr) == NULL)
            _exit(126);
        execv(MT_SIM_PATH, (char *const *)argv);
        _exit(127);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    *rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return (char *)mt_test_read_file(out, &len);
}

/* The value of "NAME=" in --env output, as 48 bytes. */
static void
env_value(const char *text, const char *name, uint8_t out[48])
{
    char key[16];
    const char *p;

    snprintf(key, sizeof(key), "%s=", name);
    p = strstr(text, key);
    assert_non_null(p);
    assert_int_equal(mt_hex_decode_exact(p + strlen(key), 96, out, 48), MT_OK);
}

static char *
stderr_text(void)
{
    char path[160];
    size_t len;

    snprintf(path, sizeof(path), "%s/stderr", dir);
    return (char *)mt_test_read_file(path, &len);
}

static void
test_init_and_serve(void **state)
{
    char state_dir[128], machine[192], sock[192], port_arg[32], *resp = NULL, *err;
    uint16_t port;
    struct stat st;
    int i;
    pid_t pid;

    (void)state;
    snprintf(state_dir, sizeof(state_dir), "%s/state", dir);
    {
        const char *argv[] = {MT_SIM_PATH, "init", "--state-dir", state_dir, NULL};

        assert_int_equal(run(argv), 0);
        /* A second init would replace the PKI: refused without --force. */
        assert_int_equal(run(argv), 1);
    }
    snprintf(machine, sizeof(machine), "%s/pki/root.key", state_dir);
    assert_int_equal(stat(machine, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    snprintf(machine, sizeof(machine), "%s/machine-locked-read-only.json", state_dir);
    assert_int_equal(stat(machine, &st), 0);
    snprintf(sock, sizeof(sock), "%s/dstack.sock", dir);
    EXPECT_OK(mt_pcs_unused_port(&port));
    snprintf(port_arg, sizeof(port_arg), "127.0.0.1:%u", (unsigned)port);
    {
        const char *argv[] = {MT_SIM_PATH, "--state-dir", state_dir, "--machine", machine,
                              "--socket",  sock,          "--pccs",  port_arg,    NULL};

        pid = mt_test_spawn_quiet(argv);
    }
    /* Wait for the socket to answer. */
    for (i = 0; i < 100; i++) {
        if (sim_http(sock, "POST", "/Version", "application/json", "{}", 2, &resp, NULL, 0) == 200)
            break;
        mt_free(resp);
        resp = NULL;
        usleep(50000);
    }
    assert_true(i < 100);
    assert_non_null(strstr(resp, "\"version\""));
    mt_free(resp);
    assert_int_equal(sim_http(sock, "POST", "/GetQuote", "application/json",
                              "{\"report_data\":\"01\"}", 20, &resp, NULL, 0),
                     200);
    mt_free(resp);
    mt_test_stop_process(pid);
    /* The socket is removed on the way out. */
    assert_int_equal(stat(sock, &st), -1);
    assert_int_equal(errno, ENOENT);
    (void)err;
}

static void
test_refusals(void **state)
{
    char state_dir[128], machine[192], sock[192], *err;
    FILE *f;

    (void)state;
    snprintf(state_dir, sizeof(state_dir), "%s/state2", dir);
    snprintf(sock, sizeof(sock), "%s/x.sock", dir);
    {
        const char *no_args[] = {MT_SIM_PATH, NULL};
        const char *bad_pccs[] = {MT_SIM_PATH, "--state-dir",  state_dir,
                                  "--pccs",    "0.0.0.0:8080", NULL};
        const char *bad_mode[] = {MT_SIM_PATH,   "--state-dir",       state_dir, "--pccs",
                                  "127.0.0.1:1", "--pccs-collateral", "rotten",  NULL};
        const char *machine_no_socket[] = {MT_SIM_PATH, "--state-dir", state_dir,
                                           "--machine", "m.json",      NULL};

        assert_int_equal(run(no_args), 2);
        /* Loopback only for the PCCS. */
        assert_int_equal(run(bad_pccs), 2);
        assert_int_equal(run(bad_mode), 2);
        assert_int_equal(run(machine_no_socket), 2);
    }
    {
        const char *init[] = {MT_SIM_PATH, "init", "--state-dir", state_dir, NULL};
        const char *no_pki[] = {MT_SIM_PATH, "--state-dir", "/nonexistent/state",
                                "--pccs",    "127.0.0.1:1", NULL};

        assert_int_equal(run(no_pki), 1);
        err = stderr_text();
        assert_non_null(strstr(err, "cannot load the test PKI"));
        mt_free(err);
        assert_int_equal(run(init), 0);
    }
    /* A machine profile with an unknown field names it. */
    snprintf(machine, sizeof(machine), "%s/bad.json", dir);
    f = fopen(machine, "w");
    assert_non_null(f);
    fputs("{\"name\":\"x\",\"mrtd\":\"00\",\"colour\":\"red\"}", f);
    fclose(f);
    {
        const char *argv[] = {MT_SIM_PATH, "--state-dir", state_dir, "--machine",
                              machine,     "--socket",    sock,      NULL};

        assert_int_equal(run(argv), 1);
        err = stderr_text();
        assert_non_null(strstr(err, "invalid machine profile"));
        assert_non_null(strstr(err, "colour: unknown field"));
        mt_free(err);
    }
}

/*
 * measurements --event extends RTMR3 with dstack's runtime-event digest,
 * recomputed here from the spec (dstack.md 3.4): SHA-384(LE32(0x08000001) ||
 * ":" || name || ":" || payload), then SHA-384(rtmr3 || digest).
 */
static void
test_measurements_event(void **state)
{
    char state_dir[128], machine[192], *plain, *with;
    uint8_t r3[48], want[48], got[48], digest[48], mr0[48], mr0b[48];
    static const uint8_t type_le[4] = {0x01, 0x00, 0x00, 0x08};
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned int n = 48;
    int rc;

    (void)state;
    snprintf(state_dir, sizeof(state_dir), "%s/state3", dir);
    snprintf(machine, sizeof(machine), "%s/machine-kms.json", state_dir);
    {
        const char *init[] = {MT_SIM_PATH, "init", "--state-dir", state_dir, NULL};

        assert_int_equal(run(init), 0);
    }
    {
        const char *a[] = {MT_SIM_PATH, "measurements", "--machine", machine, "--env", NULL};
        const char *b[] = {MT_SIM_PATH, "measurements",
                           "--machine", machine,
                           "--event",   "calimero.kms.profile=calimero.kms.profile=debug",
                           "--env",     NULL};

        plain = run_out(a, &rc);
        assert_int_equal(rc, 0);
        with = run_out(b, &rc);
        assert_int_equal(rc, 0);
    }
    env_value(plain, "RTMR3", r3);
    env_value(with, "RTMR3", got);
    env_value(plain, "RTMR0", mr0);
    env_value(with, "RTMR0", mr0b);
    assert_memory_equal(mr0, mr0b, 48); /* only RTMR3 moves */
    assert_non_null(ctx);
    assert_int_equal(EVP_DigestInit_ex(ctx, EVP_sha384(), NULL), 1);
    EVP_DigestUpdate(ctx, type_le, 4);
    EVP_DigestUpdate(ctx, ":calimero.kms.profile:calimero.kms.profile=debug", 48);
    assert_int_equal(EVP_DigestFinal_ex(ctx, digest, &n), 1);
    assert_int_equal(EVP_DigestInit_ex(ctx, EVP_sha384(), NULL), 1);
    EVP_DigestUpdate(ctx, r3, 48);
    EVP_DigestUpdate(ctx, digest, 48);
    assert_int_equal(EVP_DigestFinal_ex(ctx, want, &n), 1);
    EVP_MD_CTX_free(ctx);
    assert_memory_equal(got, want, 48);
    mt_free(plain);
    mt_free(with);
    /* A malformed event is refused (1); a bad command line is a usage error (2). */
    {
        const char *no_eq[] = {MT_SIM_PATH, "measurements", "--machine", machine,
                               "--event",   "noequals",     NULL};
        const char *empty_name[] = {MT_SIM_PATH, "measurements", "--machine", machine,
                                    "--event",   "=x",           NULL};
        const char *dangling[] = {MT_SIM_PATH, "measurements", "--machine",
                                  machine,     "--event",      NULL};
        const char *unknown[] = {MT_SIM_PATH, "measurements", "--machine", machine, "--json", NULL};
        const char *no_machine[] = {MT_SIM_PATH, "measurements", "--env", NULL};
        char *err;

        assert_int_equal(run(no_eq), 1);
        err = stderr_text();
        assert_non_null(strstr(err, "--event wants NAME=VALUE"));
        mt_free(err);
        assert_int_equal(run(empty_name), 1);
        assert_int_equal(run(dangling), 2);
        assert_int_equal(run(unknown), 2);
        assert_int_equal(run(no_machine), 2);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_and_serve),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_measurements_event),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
