/*
 * The KMS's view of its attestation policy, and the background retry of a
 * release policy that could not be loaded at startup (a release server or
 * disk that was briefly unavailable must not need a restart; the reference
 * never retries).  The policy goes from not ready to ready at most once and
 * is immutable afterwards, which keeps the request path lock-free.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "kms/kms.h"
#include "policy/policy.h"

#define RETRY_FIRST_S 1
#define RETRY_MAX_S 300

const struct mt_policy *
mt_kms_policy(struct mt_kms *k)
{
    if (!atomic_load_explicit(&k->policy_ready, memory_order_acquire))
        return NULL;
    return k->retried_policy != NULL ? k->retried_policy : k->cfg->policy;
}

void
mt_kms_policy_reason(struct mt_kms *k, char *out, size_t out_len)
{
    pthread_mutex_lock(&k->policy_mu);
    snprintf(out, out_len, "%s", k->policy_reason);
    pthread_mutex_unlock(&k->policy_mu);
}

/* Sleep up to s seconds; 1 when asked to stop. */
static int
wait_or_stop(struct mt_kms *k, int s)
{
    struct timespec until;
    int stop;

    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += s;
    pthread_mutex_lock(&k->policy_mu);
    while (!k->policy_stop &&
           pthread_cond_timedwait(&k->policy_cv, &k->policy_mu, &until) != ETIMEDOUT)
        ;
    stop = k->policy_stop;
    pthread_mutex_unlock(&k->policy_mu);
    return stop;
}

static void *
retry_main(void *arg)
{
    struct mt_kms *k = arg;
    struct mt_policy *p = NULL;
    char reason[sizeof(k->policy_reason)];
    int delay = RETRY_FIRST_S;
    json_t *f;

    while (!wait_or_stop(k, delay)) {
        /* Fetched without any lock: it may take a network timeout. */
        if (mt_kms_policy_fetch(k->cfg, &p, reason, sizeof(reason)) == MT_OK) {
            k->retried_policy = p;
            pthread_mutex_lock(&k->policy_mu);
            k->policy_reason[0] = '\0';
            pthread_mutex_unlock(&k->policy_mu);
            atomic_store_explicit(&k->policy_ready, 1, memory_order_release);
            f = json_pack("{s:s}", "tag", p->tag);
            mt_kms_log("info", "release policy loaded on retry", f);
            json_decref(f);
            return NULL;
        }
        pthread_mutex_lock(&k->policy_mu);
        snprintf(k->policy_reason, sizeof(k->policy_reason), "%s", reason);
        pthread_mutex_unlock(&k->policy_mu);
        f = json_pack("{s:s,s:i}", "reason", reason, "retryInS",
                      delay * 2 > RETRY_MAX_S ? RETRY_MAX_S : delay * 2);
        mt_kms_log("warning", "release policy still not loaded", f);
        json_decref(f);
        delay = delay * 2 > RETRY_MAX_S ? RETRY_MAX_S : delay * 2;
    }
    return NULL;
}

mt_err
mt_kms_policy_retry_start(struct mt_kms *k)
{
    pthread_condattr_t ca;

    if (atomic_load(&k->policy_ready) || k->cfg->use_env_policy || !k->cfg->has_version)
        return MT_OK;
    MT_ENSURE(!k->policy_thread_running, MT_ERR_INTERNAL);
    /* CLOCK_MONOTONIC: a wall-clock jump must not stall or spin the retries. */
    MT_ENSURE(pthread_condattr_init(&ca) == 0, MT_ERR_NOMEM);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_destroy(&k->policy_cv);
    if (pthread_cond_init(&k->policy_cv, &ca) != 0) {
        pthread_condattr_destroy(&ca);
        return MT_ERR_NOMEM;
    }
    pthread_condattr_destroy(&ca);
    MT_ENSURE(pthread_create(&k->policy_thread, NULL, retry_main, k) == 0, MT_ERR_NOMEM);
    k->policy_thread_running = 1;
    return MT_OK;
}

void
mt_kms_policy_retry_stop(struct mt_kms *k)
{
    if (!k->policy_thread_running)
        return;
    pthread_mutex_lock(&k->policy_mu);
    k->policy_stop = 1;
    pthread_cond_broadcast(&k->policy_cv);
    pthread_mutex_unlock(&k->policy_mu);
    pthread_join(k->policy_thread, NULL);
    k->policy_thread_running = 0;
}
