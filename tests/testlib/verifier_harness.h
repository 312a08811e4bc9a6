#ifndef MT_VERIFIER_HARNESS_H
#define MT_VERIFIER_HARNESS_H

/*
 * The verifier end-to-end harness (tests/e2e/test_verifier_*.c): an
 * environment map the verifier's configuration is loaded from, the base
 * environment against a kms_fixture's PCCS and development trust root, and
 * one in-process verifier (library service plus loopback HTTP).
 */
#include <stddef.h>

#include <jansson.h>

#include "kms_fixture.h"

struct mtv_config;
struct mtv_service;
struct mtv_http;

struct vf_env {
    size_t n;
    char name[32][48];
    char value[32][512];
};

/* An mtv_env_fn over a struct vf_env. */
const char *vf_env_get(const char *name, void *arg);
/* Set (or replace) name. */
void vf_env_set(struct vf_env *m, const char *name, const char *value);
/* Reset m to the base environment for kf: loopback, its PCCS and root, no rate limit. */
void vf_base_env(struct vf_env *m, const struct kms_fixture *kf);

struct vf {
    struct mtv_config *cfg;
    struct mtv_service *svc;
    struct mtv_http *http;
    char url[64];
};

/* Load m, start the service and its HTTP listener; v->url is its base URL. */
void vf_start(struct vf *v, struct vf_env *m);
void vf_stop(struct vf *v);
/* The check of r with this id, or NULL. */
const json_t *vf_find_check(const json_t *r, const char *id);

#endif
