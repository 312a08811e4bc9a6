#include <stdio.h>
#include <string.h>

#include "release/merod_config.h"
#include "release/schema.h"
#include "util/mt_alloc.h"

static const char *const list_keys[6] = {"tcb_statuses", "mrtd",  "rtmr0",
                                         "rtmr1",        "rtmr2", "rtmr3"};

mt_err
mt_rel_kms_url_check(const char *url)
{
    size_t n, i;

    MT_ENSURE(url != NULL, MT_ERR_ARG);
    n = strnlen(url, MT_REL_MAX_KMS_URL + 1);
    MT_ENSURE(n <= MT_REL_MAX_KMS_URL, MT_ERR_ARG);
    MT_ENSURE((strncmp(url, "https://", 8) == 0 && n > 8) ||
                  (strncmp(url, "http://", 7) == 0 && n > 7),
              MT_ERR_ARG);
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)url[i];

        /* The reference inserts the URL unescaped; we refuse what would need escaping. */
        MT_ENSURE(c > 0x20 && c < 0x7f && c != '"' && c != '\\', MT_ERR_ARG);
    }
    return MT_OK;
}

/* policy.kms_allowed_<key> as compact JSON ("[\"a\",\"b\"]"), as jq -c prints it. */
static mt_err
compact_list(const json_t *doc, const char *key, char **out)
{
    char name[48];
    json_t *l;
    char *text;

    snprintf(name, sizeof(name), "kms_allowed_%s", key);
    l = json_object_get(json_object_get(doc, "policy"), name);
    MT_ENSURE(json_is_array(l) && json_array_size(l) > 0, MT_ERR_RELEASE_SCHEMA);
    text = json_dumps(l, JSON_COMPACT);
    MT_ENSURE(text != NULL, MT_ERR_NOMEM);
    *out = mt_strdup(text);
    mt_free_libc(text);
    MT_ENSURE(*out != NULL, MT_ERR_NOMEM);
    return MT_OK;
}

static const char *
binding(const json_t *doc)
{
    return json_string_value(json_object_get(json_object_get(doc, "kms"), "default_binding_b64"));
}

mt_err
mt_rel_merod_toml(const json_t *doc, const char *version, const char *profile, const char *kms_url,
                  struct mt_buf *out)
{
    char line[4096], *lists[6] = {NULL};
    const char *commit = json_string_value(json_object_get(doc, "commit_sha"));
    size_t i;
    mt_err e = MT_OK;

    MT_GUARD(mt_rel_kms_url_check(kms_url));
    MT_ENSURE(commit != NULL && binding(doc) != NULL, MT_ERR_RELEASE_SCHEMA);
    for (i = 0; i < 6 && e == MT_OK; i++)
        e = compact_list(doc, list_keys[i], &lists[i]);
    if (e == MT_OK) {
        snprintf(line, sizeof(line),
                 "# Generated from mero-tee release mero-kms-v%s (commit %s, profile %s)\n"
                 "# Do not auto-follow latest: pin this to a reviewed release tag.\n"
                 "\n"
                 "[tee]\n"
                 "[tee.kms.phala]\n"
                 "url = \"%s\"\n"
                 "\n"
                 "[tee.kms.phala.attestation]\n"
                 "enabled = true\n"
                 "accept_mock = false\n",
                 version, commit, profile, kms_url);
        e = mt_buf_append_str(out, line);
    }
    for (i = 0; i < 6 && e == MT_OK; i++) {
        snprintf(line, sizeof(line), "allowed_%s = ", list_keys[i]);
        e = mt_buf_append_str(out, line);
        if (e == MT_OK)
            e = mt_buf_append_str(out, lists[i]);
        if (e == MT_OK)
            e = mt_buf_append(out, "\n", 1);
    }
    if (e == MT_OK) {
        snprintf(line, sizeof(line), "binding_b64 = \"%s\"\n", binding(doc));
        e = mt_buf_append_str(out, line);
    }
    for (i = 0; i < 6; i++)
        mt_free(lists[i]);
    return e;
}

void
mt_rel_merod_settings_free(char *s[MT_REL_MEROD_SETTINGS])
{
    size_t i;

    for (i = 0; i < MT_REL_MEROD_SETTINGS; i++) {
        mt_free(s[i]);
        s[i] = NULL;
    }
}

static mt_err
setting(char **out, const char *key, const char *value, int quote)
{
    size_t n = strlen(key) + strlen(value) + 4;
    char *s = mt_malloc(n);

    MT_ENSURE(s != NULL, MT_ERR_NOMEM);
    snprintf(s, n, quote ? "%s=\"%s\"" : "%s=%s", key, value);
    *out = s;
    return MT_OK;
}

mt_err
mt_rel_merod_settings(const json_t *doc, const char *kms_url, char *out[MT_REL_MEROD_SETTINGS])
{
    char *s[MT_REL_MEROD_SETTINGS] = {NULL}, *list = NULL, key[96];
    size_t i;
    mt_err e;

    MT_GUARD(mt_rel_kms_url_check(kms_url));
    MT_ENSURE(binding(doc) != NULL, MT_ERR_RELEASE_SCHEMA);
    e = setting(&s[0], "tee.kms.phala.url", kms_url, 1);
    if (e == MT_OK)
        e = setting(&s[1], "tee.kms.phala.attestation.enabled", "true", 0);
    if (e == MT_OK)
        e = setting(&s[2], "tee.kms.phala.attestation.accept_mock", "false", 0);
    for (i = 0; i < 6 && e == MT_OK; i++) {
        e = compact_list(doc, list_keys[i], &list);
        snprintf(key, sizeof(key), "tee.kms.phala.attestation.allowed_%s", list_keys[i]);
        if (e == MT_OK)
            e = setting(&s[3 + i], key, list, 0);
        mt_free(list);
        list = NULL;
    }
    if (e == MT_OK)
        e = setting(&s[9], "tee.kms.phala.attestation.binding_b64", binding(doc), 1);
    if (e != MT_OK) {
        mt_rel_merod_settings_free(s);
        return e;
    }
    memcpy(out, s, sizeof(s));
    return MT_OK;
}
