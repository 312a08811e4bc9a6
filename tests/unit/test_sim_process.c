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

#include "sim/sim_pcs.h"
#include "util/mt_alloc.h"

static char dir[64];

static int
setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/mt-simproc-XXXXXX");
    return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
    char cmd[128];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
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
    int status, i;
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
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (freopen("/dev/null", "w", stderr) == NULL)
            _exit(126);
        execl(MT_SIM_PATH, MT_SIM_PATH, "--state-dir", state_dir, "--machine", machine, "--socket",
              sock, "--pccs", port_arg, (char *)NULL);
        _exit(127);
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
    assert_int_equal(kill(pid, SIGTERM), 0);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
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

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_and_serve),
        cmocka_unit_test(test_refusals),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
