#include "kms/kms_thread.h"

#include <pthread.h>

static pthread_key_t verifier_key, dstack_key;
static pthread_once_t keys_once = PTHREAD_ONCE_INIT;
static int keys_ok;

static void
verifier_destroy(void *p)
{
    mt_verifier_free(p);
}

static void
dstack_destroy(void *p)
{
    mt_dstack_client_free(p);
}

static void
keys_create(void)
{
    keys_ok = pthread_key_create(&verifier_key, verifier_destroy) == 0 &&
              pthread_key_create(&dstack_key, dstack_destroy) == 0;
}

struct mt_verifier *
mt_kms_thread_verifier(struct mt_kms *k)
{
    struct mt_verifier_opts o = {0};
    struct mt_verifier *v;

    if (pthread_once(&keys_once, keys_create) != 0 || !keys_ok)
        return NULL;
    v = pthread_getspecific(verifier_key);
    if (v != NULL)
        return v;
    o.root_der = k->root_der;
    o.root_der_len = k->root_der_len;
    if (mt_verifier_new(&o, &v) != MT_OK)
        return NULL;
    if (pthread_setspecific(verifier_key, v) != 0) {
        mt_verifier_free(v);
        return NULL;
    }
    return v;
}

struct mt_dstack_client *
mt_kms_thread_dstack(struct mt_kms *k)
{
    struct mt_dstack_opts o;
    struct mt_dstack_client *c;

    if (pthread_once(&keys_once, keys_create) != 0 || !keys_ok)
        return NULL;
    c = pthread_getspecific(dstack_key);
    if (c != NULL)
        return c;
    mt_dstack_opts_init(&o);
    o.socket_path = k->cfg->dstack_socket;
    if (mt_dstack_client_new(&o, &c) != MT_OK)
        return NULL;
    if (pthread_setspecific(dstack_key, c) != 0) {
        mt_dstack_client_free(c);
        return NULL;
    }
    return c;
}
