/* The verifier end-to-end harness (verifier_harness.h). */
#include "mt_testlib.h"
#include "verifier_harness.h"

#include <stdio.h>
#include <string.h>

#include "sim/sim_pcs.h"
#include "verifier/verifier.h"

const char *
vf_env_get(const char *name, void *arg)
{
    struct vf_env *m = arg;
    size_t i;

    for (i = 0; i < m->n; i++)
        if (strcmp(m->name[i], name) == 0)
            return m->value[i];
    return NULL;
}

void
vf_env_set(struct vf_env *m, const char *name, const char *value)
{
    size_t i;

    for (i = 0; i < m->n; i++)
        if (strcmp(m->name[i], name) == 0)
            break;
    if (i == m->n)
        m->n++;
    snprintf(m->name[i], sizeof(m->name[i]), "%s", name);
    snprintf(m->value[i], sizeof(m->value[i]), "%s", value);
}

void
vf_base_env(struct vf_env *m, const struct kms_fixture *kf)
{
    char v[512];

    memset(m, 0, sizeof(*m));
    vf_env_set(m, "VERIFIER_LISTEN", "127.0.0.1:0");
    vf_env_set(m, "PCCS_URLS", mt_pcs_server_url(kf->node.pccs));
    snprintf(v, sizeof(v), "%s/root.der", kf->node.dir);
    vf_env_set(m, "VERIFIER_TRUST_ROOT_FILE", v);
    vf_env_set(m, "VERIFIER_ALLOW_HTTP", "1");
    vf_env_set(m, "VERIFIER_ALLOW_PRIVATE", "1");
    vf_env_set(m, "VERIFIER_RATE_LIMIT", "0");
}

void
vf_start(struct vf *v, struct vf_env *m)
{
    char why[512];

    memset(v, 0, sizeof(*v));
    if (mtv_config_load(vf_env_get, m, &v->cfg, why, sizeof(why)) != MT_OK)
        fail_msg("config: %s", why);
    if (mtv_service_new(v->cfg, &v->svc, why, sizeof(why)) != MT_OK)
        fail_msg("service: %s", why);
    if (mtv_http_start(v->svc, &v->http, why, sizeof(why)) != MT_OK)
        fail_msg("http: %s", why);
    snprintf(v->url, sizeof(v->url), "http://127.0.0.1:%u", (unsigned)mtv_http_port(v->http));
}

void
vf_stop(struct vf *v)
{
    mtv_http_stop(v->http);
    mtv_service_free(v->svc);
    mtv_config_free(v->cfg);
}

const json_t *
vf_find_check(const json_t *r, const char *id)
{
    size_t i;
    json_t *c;

    json_array_foreach(json_object_get(r, "checks"), i, c)
    {
        if (strcmp(json_string_value(json_object_get(c, "id")), id) == 0)
            return c;
    }
    return NULL;
}
