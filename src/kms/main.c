/*
 * mero-kms: releases a storage key to a merod node only after a fresh
 * challenge, a valid libp2p peer signature, an Intel TDX quote that verifies
 * offline, and the attestation policy of a signed release.  Configured by
 * environment variables (docs/configuration.md); wire-compatible with
 * mero-kms-phala 2.3.40 (docs/compatibility.md).
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "kms/kms.h"
#include "kms/kms_http.h"
#include "pccs/pccs.h"
#include "util/mt_secret.h"

/*
 * OpenSSL's secure heap (a power of two): 64 KiB holds 2048 keys in flight
 * at once, more than the connection limit; a full heap falls back to pages.
 */
#define MT_KMS_SECURE_HEAP_BYTES (64u * 1024u)

static int
fatal(const char *msg, const char *why)
{
    json_t *f = json_pack("{s:s}", "detail", why);

    mt_kms_log("fatal", msg, f);
    json_decref(f);
    return 1;
}

int
main(void)
{
    struct mt_kms_config *cfg = NULL;
    struct mt_kms *k = NULL;
    struct mt_kms_http *http = NULL;
    sigset_t set;
    char why[512];
    json_t *f;
    long cpus;
    unsigned workers;
    int sig, rc = 1, secure_heap = 0;
    mt_err e;

    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (mt_pccs_global_init() != MT_OK)
        return fatal("cannot initialise libcurl", "");
    /*
     * Keys in OpenSSL's secure heap: locked and out of core dumps once, for
     * every request (mt_secret.h).  Without it each key locks its own page.
     */
    if (mt_secret_heap_init(MT_KMS_SECURE_HEAP_BYTES, &secure_heap) != MT_OK || !secure_heap)
        mt_kms_log("warning",
                   "secure heap not locked (RLIMIT_MEMLOCK or CAP_IPC_LOCK?): each key locks "
                   "its own page instead",
                   NULL);
    e = mt_kms_config_load(mt_env_getenv, NULL, &cfg, why, sizeof(why));
    if (e != MT_OK)
        return fatal("invalid configuration", why);
    for (size_t i = 0; i < cfg->num_warnings; i++)
        mt_kms_log("warning", cfg->warnings[i], NULL);
    e = mt_kms_new(cfg, mt_clock_system(), &k, why, sizeof(why));
    if (e != MT_OK)
        return fatal("cannot start", why);
    /* Trust-root, mock and enforcement warnings came with the configuration. */
    if (!k->cfg->policy_ready) {
        f = json_pack("{s:s}", "reason", k->cfg->policy_reason);
        mt_kms_log("warning", "attestation policy not ready: /get-key answers 503", f);
        json_decref(f);
    }
    e = mt_kms_profile_event(k, why, sizeof(why));
    if (e != MT_OK) {
        rc = fatal("refusing to start", why);
        goto out;
    }
    /*
     * Two single-threaded daemons per CPU: a worker never waits for the audit
     * log's fsync (the connection is suspended meanwhile, kms_http.c), but it
     * does wait for Redis and for dstack, and a second daemon keeps the CPU
     * busy then.
     */
    workers = k->cfg->http_workers;
    if (workers == 0) {
        cpus = sysconf(_SC_NPROCESSORS_ONLN);
        workers = MT_KMS_WORKERS_PER_CPU * (cpus > 0 && cpus < 64 ? (unsigned)cpus : 2u);
        if (workers > MT_KMS_MAX_WORKERS)
            workers = MT_KMS_MAX_WORKERS;
    }
    e = mt_kms_http_start(k, workers, &http, why, sizeof(why));
    if (e != MT_OK) {
        rc = fatal("cannot listen", why);
        goto out;
    }
    f = json_pack("{s:s,s:i,s:s,s:s,s:s,s:b}", "listen", k->cfg->listen_host, "port",
                  (int)mt_kms_http_port(http), "profile", k->cfg->profile, "store",
                  k->cfg->redis_url != NULL ? "redis" : "memory", "profileEvent", k->profile_event,
                  "policyReady", k->cfg->policy_ready);
    mt_kms_log("info", "mero-kms listening", f);
    json_decref(f);
    while (sigwait(&set, &sig) != 0)
        ;
    mt_kms_log("info", "shutting down", NULL);
    rc = 0;
out:
    mt_kms_http_stop(http);
    mt_kms_free(k);
    mt_pccs_global_cleanup();
    return rc;
}
