#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pccs/pccs.h"
#include "verifier/verifier.h"

/* mero-verifier: configuration from the environment (docs/verifier.md). */

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static const char *
env_get(const char *name, void *arg)
{
    (void)arg;
    return getenv(name);
}

int
main(int argc, char **argv)
{
    struct mtv_config *cfg = NULL;
    struct mtv_service *svc = NULL;
    struct mtv_http *http = NULL;
    struct sigaction sa;
    char why[768] = "";
    size_t i;
    mt_err e;

    (void)argv;
    if (argc > 1) {
        fprintf(stderr, "usage: mero-verifier (configured by the environment; see "
                        "docs/verifier.md)\n");
        return 2;
    }
    e = mtv_config_load(env_get, NULL, &cfg, why, sizeof(why));
    if (e != MT_OK) {
        fprintf(stderr, "mero-verifier: invalid configuration: %s\n", why);
        return 1;
    }
    for (i = 0; i < cfg->num_warnings; i++)
        fprintf(stderr, "mero-verifier: warning: %s\n", cfg->warnings[i]);
    if (mt_pccs_global_init() != MT_OK) {
        fprintf(stderr, "mero-verifier: libcurl init failed\n");
        mtv_config_free(cfg);
        return 1;
    }
    e = mtv_service_new(cfg, &svc, why, sizeof(why));
    if (e == MT_OK)
        e = mtv_http_start(svc, &http, why, sizeof(why));
    if (e != MT_OK) {
        fprintf(stderr, "mero-verifier: %s\n", why);
        mtv_service_free(svc);
        mtv_config_free(cfg);
        return 1;
    }
    fprintf(stderr, "mero-verifier: listening on %s:%u\n", cfg->listen_host,
            (unsigned)mtv_http_port(http));
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    while (!stop)
        pause();
    mtv_http_stop(http);
    mtv_service_free(svc);
    mtv_config_free(cfg);
    mt_pccs_global_cleanup();
    return 0;
}
