/*
 * mero-fleet-sidecar: joins the groups the fleet manager assigns to this
 * node (docs/fleet-sidecar.md).
 *
 *   mero-fleet-sidecar [--config PATH] [--once] [--leave-removed]
 *   mero-fleet-sidecar [--config PATH] --status
 *
 * The token is read from the file named by token_file; it is never taken
 * from the command line or the environment.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "sidecar/sidecar.h"

static volatile sig_atomic_t stop_flag;

static void
on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static int
usage(void)
{
    fprintf(stderr, "usage: mero-fleet-sidecar [--config PATH] [--once] [--leave-removed]\n"
                    "       mero-fleet-sidecar [--config PATH] --status\n");
    return 2;
}

int
main(int argc, char **argv)
{
    const char *config = SC_DEFAULT_CONFIG;
    struct sc_run_opts ro = {0, 0};
    struct sc_config c;
    struct sigaction sa;
    char why[1024], *token = NULL;
    int status = 0, i, rc;
    mt_err e;

    /* First of all: no core dump may ever hold the token (see also LimitCORE=0 in the unit). */
    if (sc_disable_core_dumps() != MT_OK) {
        sc_log("error", "startup_failed", "detail", "could not disable core dumps", NULL);
        return 1;
    }
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            config = argv[++i];
        else if (strcmp(argv[i], "--once") == 0)
            ro.once = 1;
        else if (strcmp(argv[i], "--status") == 0)
            status = 1;
        else if (strcmp(argv[i], "--leave-removed") == 0)
            ro.leave_removed = 1;
        else
            return usage();
    }
    why[0] = '\0';
    e = sc_config_load(config, &c, why, sizeof(why));
    if (e != MT_OK) {
        sc_log("error", "config_invalid", "error", mt_err_code(e), "detail", why, "path", config,
               NULL);
        return 78; /* EX_CONFIG */
    }
    if (status) {
        rc = sc_print_status(&c);
        sc_config_free(&c);
        return rc;
    }
    e = sc_token_load(c.token_file, &token, why, sizeof(why));
    if (e != MT_OK) {
        sc_log("error", "token_invalid", "error", mt_err_code(e), "detail", why, NULL);
        sc_config_free(&c);
        return 78;
    }
    sc_log_set_secret(token);
    ro.leave_removed |= c.leave_removed;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    (void)sigaction(SIGTERM, &sa, NULL);
    (void)sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    (void)sigaction(SIGPIPE, &sa, NULL);
    rc = sc_run(&c, token, &ro, &stop_flag);
    sc_log_set_secret(NULL);
    sc_secret_free(token);
    sc_config_free(&c);
    return rc;
}
