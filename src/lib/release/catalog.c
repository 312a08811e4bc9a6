#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "release/catalog.h"
#include "util/mt_alloc.h"

static void
parts(const char *v, unsigned long p[3])
{
    char *end;
    size_t i;

    for (i = 0; i < 3; i++) {
        p[i] = strtoul(v, &end, 10);
        v = *end == '.' ? end + 1 : end;
    }
}

int
mt_rel_version_cmp(const char *a, const char *b)
{
    unsigned long x[3], y[3];
    size_t i;

    parts(a, x);
    parts(b, y);
    for (i = 0; i < 3; i++) {
        if (x[i] != y[i])
            return x[i] < y[i] ? -1 : 1;
    }
    return 0;
}

mt_err
mt_rel_catalog_check(const struct mt_rel_trust_cfg *c, const char *kms_dir, const char *node_dir,
                     const char *version, struct mt_rel_report *r, json_t **entry, char *why,
                     size_t why_len)
{
    struct mt_rel_loaded k, n;
    const json_t *compat;
    mt_err e;

    *entry = NULL;
    memset(&k, 0, sizeof(k));
    memset(&n, 0, sizeof(n));
    MT_GUARD(mt_rel_verify_release(c, kms_dir, MT_REL_KMS, version, r, &k, why, why_len));
    e = mt_rel_verify_release(c, node_dir, MT_REL_NODE, version, r, &n, why, why_len);
    if (e == MT_OK)
        e = mt_rel_consistency_cross(&k.kms, &n.node, r);
    if (e == MT_OK && mt_rel_report_failed(r) == 0) {
        compat = json_object_get(k.kms.compat, "compatibility");
        *entry = json_pack("{s:s,s:O,s:O,s:O,s:O}", "version", version, "kms_tag",
                           json_object_get(compat, "kms_tag"), "node_image_tag",
                           json_object_get(compat, "node_image_tag"), "kms_policy_url",
                           json_object_get(compat, "kms_policy_url"), "node_policy_url",
                           json_object_get(compat, "node_policy_url"));
        if (*entry == NULL)
            e = MT_ERR_NOMEM;
    }
    mt_rel_loaded_free(&k);
    mt_rel_loaded_free(&n);
    return e;
}

static int
cmp_entries(const void *a, const void *b)
{
    const json_t *x = *(const json_t *const *)a, *y = *(const json_t *const *)b;

    return mt_rel_version_cmp(json_string_value(json_object_get(x, "version")),
                              json_string_value(json_object_get(y, "version")));
}

mt_err
mt_rel_catalog_doc(const json_t *entries, json_t **out)
{
    size_t n = json_array_size(entries), i;
    const json_t **v;
    json_t *arr;

    MT_ENSURE(json_is_array(entries) && n <= 4096, MT_ERR_ARG);
    v = mt_calloc(n + 1, sizeof(*v));
    MT_ENSURE(v != NULL, MT_ERR_NOMEM);
    for (i = 0; i < n; i++) {
        v[i] = json_array_get(entries, i);
        if (!json_is_string(json_object_get(v[i], "version"))) {
            mt_free(v);
            return MT_ERR_ARG;
        }
    }
    qsort(v, n, sizeof(*v), cmp_entries);
    for (i = 1; i < n; i++) {
        if (cmp_entries(&v[i - 1], &v[i]) == 0) {
            mt_free(v);
            return MT_ERR_ARG;
        }
    }
    arr = json_array();
    for (i = 0; arr != NULL && i < n; i++) {
        if (json_array_append(arr, (json_t *)v[i]) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    mt_free(v);
    MT_ENSURE(arr != NULL, MT_ERR_NOMEM);
    *out = json_pack("{s:i,s:o}", "schema_version", 1, "releases", arr);
    MT_ENSURE(*out != NULL, MT_ERR_NOMEM);
    return MT_OK;
}
