#include "sim/sim_machine.h"

#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "measure/rtmr.h"
#include "testpki/testpki.h"
#include "util/mt_alloc.h"
#include "util/mt_file.h"
#include "util/mt_hex.h"
#include "util/mt_json.h"
#include "util/mt_limits.h"

#define MAX_MACHINE_JSON (1024u * 1024u)
#define MAX_TEXT_FIELD (64u * 1024u)

/* Event types of the simulated boot (TCG PC Client names). */
#define EV_EFI_VARIABLE_DRIVER_CONFIG 0x80000001u
#define EV_EFI_BOOT_SERVICES_APPLICATION 0x80000003u
#define EV_IPL 0x0000000du
/* RTMR3 extends before the agent: the node image's marker (reference 4.4). */
#define EV_EVENT_TAG 0x00000006u

static const char *const known_keys[] = {
    "name",        "mrtd",         "mr_seam",         "td_attributes",   "xfam",
    "tee_tcb_svn", "mr_config_id", "mr_owner",        "mr_owner_config", "fmspc",
    "cpu_svn",     "pce_svn",      "event_log",       "app_id",          "instance_id",
    "app_name",    "app_compose",  "key_provider",    "os_image_hash",   "vm_config",
    "app_key",     "emit_mode",    "event_log_style",
};

void
mt_sim_machine_free(struct mt_sim_machine *m)
{
    if (m == NULL)
        return;
    mt_eventlog_free(m->boot_log);
    mt_free(m->app_name);
    mt_free(m->app_compose);
    mt_free(m->key_provider);
    mt_free(m->vm_config);
    OPENSSL_cleanse(m->app_key, sizeof(m->app_key));
    mt_free(m);
}

static mt_err
sha256(const void *p, size_t n, uint8_t out[32])
{
    unsigned int len = 32;

    MT_ENSURE(EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) == 1, MT_ERR_CRYPTO);
    return MT_OK;
}

static mt_err
sha384(const void *p, size_t n, uint8_t out[48])
{
    unsigned int len = 48;

    MT_ENSURE(EVP_Digest(p, n, out, &len, EVP_sha384(), NULL) == 1, MT_ERR_CRYPTO);
    return MT_OK;
}

static mt_err
sha384_str(const char *s, uint8_t out[48])
{
    return sha384(s, strlen(s), out);
}

/* compose_hash and the default MRCONFIGID follow from app_compose. */
static mt_err
derive(struct mt_sim_machine *m, int have_mr_config_id)
{
    MT_GUARD(sha256(m->app_compose, strlen(m->app_compose), m->compose_hash));
    if (!have_mr_config_id) {
        memset(m->mr_config_id, 0, sizeof(m->mr_config_id));
        m->mr_config_id[0] = 0x01;
        memcpy(m->mr_config_id + 1, m->compose_hash, 32);
    }
    return MT_OK;
}

/* Parsing: each helper names the field that failed. */
struct parse_ctx {
    const json_t *o;
    char *why;
    size_t why_len;
};

static mt_err
bad(struct parse_ctx *c, const char *field, const char *what)
{
    snprintf(c->why, c->why_len, "%s: %s", field, what);
    return MT_ERR_JSON_FIELD;
}

static mt_err
hex_field(struct parse_ctx *c, const char *key, uint8_t *out, size_t n, int optional)
{
    if (optional && json_object_get(c->o, key) == NULL)
        return MT_OK;
    if (mt_json_get_hex(c->o, key, out, n) != MT_OK)
        return bad(c, key, "expected a hex string of the right size");
    return MT_OK;
}

/* A hex field that may also be "" (absent value). */
static mt_err
hex_or_empty(struct parse_ctx *c, const char *key, uint8_t *out, size_t n, int *present)
{
    const char *s;
    size_t len;

    if (mt_json_get_str(c->o, key, &s, &len) != MT_OK)
        return bad(c, key, "expected a string");
    *present = len > 0;
    if (len > 0 && mt_hex_decode_exact(s, len, out, n) != MT_OK)
        return bad(c, key, "expected \"\" or a hex string of the right size");
    return MT_OK;
}

static mt_err
text_field(struct parse_ctx *c, const char *key, char **out)
{
    const char *s;
    size_t len;

    if (mt_json_get_str(c->o, key, &s, &len) != MT_OK)
        return bad(c, key, "expected a string");
    if (len > MAX_TEXT_FIELD || strlen(s) != len)
        return bad(c, key, "too long or contains NUL");
    *out = mt_strndup(s, len);
    MT_ENSURE(*out != NULL, MT_ERR_NOMEM);
    return MT_OK;
}

static mt_err
enum_field(struct parse_ctx *c, const char *key, const char *const *names, size_t n, int *out)
{
    const char *s;
    size_t i;

    if (json_object_get(c->o, key) == NULL)
        return MT_OK; /* the default, index 0 */
    if (mt_json_get_str(c->o, key, &s, NULL) != MT_OK)
        return bad(c, key, "expected a string");
    for (i = 0; i < n; i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = (int)i;
            return MT_OK;
        }
    }
    return bad(c, key, "unknown value");
}

static mt_err
check_keys(struct parse_ctx *c)
{
    const char *key;
    json_t *v;
    size_t i;
    int known;

    json_object_foreach((json_t *)c->o, key, v)
    {
        (void)v;
        known = 0;
        for (i = 0; i < sizeof(known_keys) / sizeof(known_keys[0]); i++)
            known |= strcmp(key, known_keys[i]) == 0;
        if (!known)
            return bad(c, key, "unknown field");
    }
    return MT_OK;
}

static mt_err
machine_read(struct parse_ctx *c, struct mt_sim_machine *m)
{
    static const char *const emit_names[] = {"extend", "noop", "reject"};
    static const char *const style_names[] = {"full", "stripped"};
    const json_t *log;
    const char *name;
    char *text;
    int64_t pce;
    int mode = 0, style = 0;
    mt_err e;

    MT_GUARD(check_keys(c));
    if (mt_json_get_str(c->o, "name", &name, NULL) != MT_OK || name[0] == '\0' ||
        strlen(name) >= sizeof(m->name))
        return bad(c, "name", "expected a short non-empty string");
    memcpy(m->name, name, strlen(name) + 1);
    MT_GUARD(hex_field(c, "mrtd", m->mrtd, 48, 0));
    MT_GUARD(hex_field(c, "mr_seam", m->mr_seam, 48, 0));
    MT_GUARD(hex_field(c, "td_attributes", m->td_attributes, 8, 0));
    MT_GUARD(hex_field(c, "xfam", m->xfam, 8, 0));
    MT_GUARD(hex_field(c, "tee_tcb_svn", m->tee_tcb_svn, 16, 0));
    MT_GUARD(hex_field(c, "mr_owner", m->mr_owner, 48, 1));
    MT_GUARD(hex_field(c, "mr_owner_config", m->mr_owner_config, 48, 1));
    MT_GUARD(hex_field(c, "fmspc", m->fmspc, 6, 0));
    MT_GUARD(hex_field(c, "cpu_svn", m->cpu_svn, 16, 0));
    if (mt_json_get_int(c->o, "pce_svn", 0, UINT16_MAX, &pce) != MT_OK)
        return bad(c, "pce_svn", "expected an integer 0..65535");
    m->pce_svn = (uint16_t)pce;
    MT_GUARD(hex_field(c, "app_id", m->app_id, 20, 0));
    MT_GUARD(hex_or_empty(c, "instance_id", m->instance_id, 20, &m->has_instance_id));
    MT_GUARD(hex_or_empty(c, "os_image_hash", m->os_image_hash, 32, &m->has_os_image_hash));
    MT_GUARD(text_field(c, "app_name", &m->app_name));
    MT_GUARD(text_field(c, "app_compose", &m->app_compose));
    MT_GUARD(text_field(c, "key_provider", &m->key_provider));
    MT_GUARD(text_field(c, "vm_config", &m->vm_config));
    MT_GUARD(hex_field(c, "app_key", m->app_key, 32, 0));
    MT_GUARD(enum_field(c, "emit_mode", emit_names, 3, &mode));
    MT_GUARD(enum_field(c, "event_log_style", style_names, 2, &style));
    m->emit_mode = (enum mt_sim_emit_mode)mode;
    m->stripped_event_log = style;
    log = json_object_get(c->o, "event_log");
    if (!json_is_array(log))
        return bad(c, "event_log", "expected an array of dstack event-log entries");
    text = json_dumps(log, JSON_COMPACT | JSON_PRESERVE_ORDER);
    MT_ENSURE(text != NULL, MT_ERR_NOMEM);
    e = mt_eventlog_parse(text, strlen(text), &m->boot_log);
    mt_free_libc(text);
    if (e != MT_OK)
        return e == MT_ERR_NOMEM ? e : bad(c, "event_log", mt_err_message(e));
    if (json_object_get(c->o, "mr_config_id") != NULL) {
        MT_GUARD(hex_field(c, "mr_config_id", m->mr_config_id, 48, 0));
        return derive(m, 1);
    }
    return derive(m, 0);
}

mt_err
mt_sim_machine_parse(const char *json, size_t len, struct mt_sim_machine **out, char *why,
                     size_t why_len)
{
    struct mt_sim_machine *m = NULL;
    struct parse_ctx c = {NULL, why, why_len};
    json_t *o = NULL;
    mt_err e;

    why[0] = '\0';
    e = mt_json_parse(json, len, MAX_MACHINE_JSON, &o);
    if (e != MT_OK) {
        snprintf(why, why_len, "not a JSON document");
        return e;
    }
    MT_ENSURE_GOTO(json_is_object(o), MT_ERR_JSON, e, out);
    m = mt_calloc(1, sizeof(*m));
    MT_ENSURE_GOTO(m != NULL, MT_ERR_NOMEM, e, out);
    c.o = o;
    MT_GUARD_GOTO(machine_read(&c, m), e, out);
    *out = m;
    m = NULL;
out:
    mt_sim_machine_free(m);
    json_decref(o);
    return e;
}

mt_err
mt_sim_machine_load(const char *path, struct mt_sim_machine **out, char *why, size_t why_len)
{
    uint8_t *buf;
    size_t len;
    mt_err e;

    why[0] = '\0';
    e = mt_file_read(path, MAX_MACHINE_JSON, &buf, &len);
    if (e != MT_OK) {
        snprintf(why, why_len, "cannot read %s", path);
        return e;
    }
    e = mt_sim_machine_parse((const char *)buf, len, out, why, why_len);
    mt_free(buf);
    return e;
}

mt_err
mt_sim_node_marker(const char *profile, const char *root_hash, char *out, size_t out_len)
{
    int n = snprintf(out, out_len, "calimero-rtmr3-v2:node:%s:%s", profile, root_hash);

    MT_ENSURE(n > 0 && (size_t)n < out_len, MT_ERR_TOO_LARGE);
    return MT_OK;
}

/* A boot event whose digest is SHA-384 of its (descriptive) payload. */
static mt_err
boot_event(struct mt_eventlog *log, uint32_t imr, uint32_t type, const char *name,
           const char *payload)
{
    uint8_t d[48];

    MT_GUARD(sha384(payload, strlen(payload), d));
    return mt_eventlog_append(log, imr, type, d, name, (const uint8_t *)payload, strlen(payload));
}

static mt_err
default_boot_log(const char *profile, const char *root_hash, struct mt_eventlog **out)
{
    struct mt_eventlog *log = NULL;
    char text[256], marker[160];
    /* A KMS runs in a Phala CVM: no node image, so no node marker in RTMR3. */
    int kms = strncmp(profile, "kms", 3) == 0;
    mt_err e = MT_OK;

    MT_GUARD(mt_eventlog_new(&log));
    /* RTMR0: firmware configuration, identical for every profile. */
    MT_GUARD_GOTO(boot_event(log, 0, EV_EFI_VARIABLE_DRIVER_CONFIG, "",
                             "mero-tee-sim firmware configuration v1"),
                  e, out);
    /* RTMR1: the kernel, identical for every profile. */
    MT_GUARD_GOTO(
        boot_event(log, 1, EV_EFI_BOOT_SERVICES_APPLICATION, "", "mero-tee-sim kernel image v1"), e,
        out);
    /* RTMR2: the kernel command line names the profile, as on the real images (4.3). */
    snprintf(text, sizeof(text), "calimero.role=%s calimero.profile=%s calimero.root_hash=%s",
             kms ? "kms" : "node", profile, root_hash);
    MT_GUARD_GOTO(boot_event(log, 2, EV_IPL, "", text), e, out);
    /* RTMR3: the node image's boot marker (4.4), extended before the agent starts. */
    if (!kms) {
        MT_GUARD_GOTO(mt_sim_node_marker(profile, root_hash, marker, sizeof(marker)), e, out);
        MT_GUARD_GOTO(boot_event(log, 3, EV_EVENT_TAG, "calimero-rtmr3-v2", marker), e, out);
    }
    *out = log;
    log = NULL;
out:
    mt_eventlog_free(log);
    return e;
}

mt_err
mt_sim_machine_default(const char *profile, struct mt_sim_machine **out)
{
    struct mt_testpki_params p;
    struct mt_sim_machine *m;
    uint8_t h[48];
    char root_hash[65], text[512];
    mt_err e = MT_OK;

    MT_ENSURE(strlen(profile) > 0 && strlen(profile) < sizeof(m->name), MT_ERR_ARG);
    m = mt_calloc(1, sizeof(*m));
    MT_ENSURE(m != NULL, MT_ERR_NOMEM);
    memcpy(m->name, profile, strlen(profile) + 1);
    /* The platform and TD values of the test PKI's defaults, so collateral matches. */
    mt_testpki_params_default(&p, MT_TESTPKI_TDX_V4, 0);
    memcpy(m->mr_seam, p.quote.td.mr_seam, 48);
    memcpy(m->td_attributes, p.quote.td.td_attributes, 8);
    memcpy(m->xfam, p.quote.td.xfam, 8);
    memcpy(m->tee_tcb_svn, p.quote.td.tee_tcb_svn, 16);
    memcpy(m->fmspc, p.pck.fmspc, 6);
    memcpy(m->cpu_svn, p.pck.cpu_svn, 16);
    m->pce_svn = p.pck.pce_svn;
    /* Same firmware (MRTD) for every profile; the image differs. */
    MT_GUARD_GOTO(sha384_str("mero-tee-sim TDVF v1", m->mrtd), e, out);
    snprintf(text, sizeof(text), "mero-tee-sim image %s", profile);
    MT_GUARD_GOTO(sha256(text, strlen(text), h), e, out);
    mt_hex_encode(h, 32, root_hash);
    MT_GUARD_GOTO(default_boot_log(profile, root_hash, &m->boot_log), e, out);
    snprintf(text, sizeof(text), "mero-tee-sim app %s", profile);
    MT_GUARD_GOTO(sha256(text, strlen(text), h), e, out);
    memcpy(m->app_id, h, 20);
    MT_ENSURE_GOTO(RAND_bytes(m->instance_id, 20) == 1 && RAND_bytes(m->app_key, 32) == 1,
                   MT_ERR_CRYPTO, e, out);
    m->has_instance_id = 1;
    MT_GUARD_GOTO(sha256(text, (size_t)snprintf(text, sizeof(text), "mero-tee-sim os image v1"),
                         m->os_image_hash),
                  e, out);
    m->has_os_image_hash = 1;
    m->app_name = mt_strdup(strncmp(profile, "kms", 3) == 0 ? "mero-kms" : "mero-node");
    snprintf(text, sizeof(text),
             "{\"docker_compose_file\":\"services: {merod: {image: calimero/merod}}\","
             "\"manifest_version\":2,\"name\":\"mero-%s\",\"runner\":\"docker-compose\"}",
             profile);
    m->app_compose = mt_strdup(text);
    m->key_provider = mt_strdup("{\"name\":\"none\",\"id\":\"\"}");
    m->vm_config = mt_strdup("{\"os_image_hash\":\"\",\"cpu_count\":2,\"memory_size\":4294967296}");
    MT_ENSURE_GOTO(m->app_name != NULL && m->app_compose != NULL && m->key_provider != NULL &&
                       m->vm_config != NULL,
                   MT_ERR_NOMEM, e, out);
    m->emit_mode = MT_SIM_EMIT_EXTEND;
    MT_GUARD_GOTO(derive(m, 0), e, out);
    *out = m;
    m = NULL;
out:
    mt_sim_machine_free(m);
    return e;
}

static mt_err
put_hex(json_t *o, const char *key, const uint8_t *b, size_t n, int present)
{
    if (!present)
        return mt_json_set_new(o, key, json_string(""));
    return mt_json_set_hex(o, key, b, n);
}

mt_err
mt_sim_machine_to_json(const struct mt_sim_machine *m, char **out)
{
    static const char *const emit_names[] = {"extend", "noop", "reject"};
    json_t *o = json_object(), *log = NULL;
    char *text = NULL;
    mt_err e = MT_OK;

    MT_ENSURE(o != NULL, MT_ERR_NOMEM);
    MT_GUARD_GOTO(mt_json_set_new(o, "name", json_string(m->name)), e, out);
    MT_GUARD_GOTO(mt_json_set_hex(o, "mrtd", m->mrtd, 48), e, out);
    MT_GUARD_GOTO(mt_json_set_hex(o, "mr_seam", m->mr_seam, 48), e, out);
    MT_GUARD_GOTO(mt_json_set_hex(o, "td_attributes", m->td_attributes, 8), e, out);
    MT_GUARD_GOTO(mt_json_set_hex(o, "xfam", m->xfam, 8), e, out);
    MT_GUARD_GOTO(mt_json_set_hex(o, "tee_tcb_svn", m->tee_tcb_svn, 16), e, out);
    MT_GUARD_GOTO(mt_json_set_hex(o, "mr_config_id", m->mr_config_id, 48), e, out);
    MT_GUARD_GOTO(mt_json_set_hex(o, "fmspc", m->fmspc, 6), e, out);
    MT_GUARD_GOTO(mt_json_set_hex(o, "cpu_svn", m->cpu_svn, 16), e, out);
    MT_GUARD_GOTO(mt_json_set_new(o, "pce_svn", json_integer(m->pce_svn)), e, out);
    MT_GUARD_GOTO(mt_eventlog_to_json(m->boot_log, MT_EVENTLOG_FULL, &text), e, out);
    log = json_loads(text, 0, NULL);
    MT_ENSURE_GOTO(log != NULL, MT_ERR_INTERNAL, e, out);
    MT_GUARD_GOTO(mt_json_set_new(o, "event_log", log), e, out);
    MT_GUARD_GOTO(mt_json_set_hex(o, "app_id", m->app_id, 20), e, out);
    MT_GUARD_GOTO(put_hex(o, "instance_id", m->instance_id, 20, m->has_instance_id), e, out);
    MT_GUARD_GOTO(mt_json_set_new(o, "app_name", json_string(m->app_name)), e, out);
    MT_GUARD_GOTO(mt_json_set_new(o, "app_compose", json_string(m->app_compose)), e, out);
    MT_GUARD_GOTO(mt_json_set_new(o, "key_provider", json_string(m->key_provider)), e, out);
    MT_GUARD_GOTO(put_hex(o, "os_image_hash", m->os_image_hash, 32, m->has_os_image_hash), e, out);
    MT_GUARD_GOTO(mt_json_set_new(o, "vm_config", json_string(m->vm_config)), e, out);
    MT_GUARD_GOTO(mt_json_set_hex(o, "app_key", m->app_key, 32), e, out);
    MT_GUARD_GOTO(mt_json_set_new(o, "emit_mode", json_string(emit_names[m->emit_mode])), e, out);
    MT_GUARD_GOTO(mt_json_set_new(o, "event_log_style",
                                  json_string(m->stripped_event_log ? "stripped" : "full")),
                  e, out);
    mt_free(text);
    text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    MT_ENSURE_GOTO(text != NULL, MT_ERR_NOMEM, e, out);
    *out = mt_strdup(text);
    /* The text holds the app key: wipe the library's copy. */
    OPENSSL_cleanse(text, strlen(text));
    mt_free_libc(text);
    text = NULL;
    MT_ENSURE_GOTO(*out != NULL, MT_ERR_NOMEM, e, out);
out:
    mt_free(text);
    json_decref(o);
    return e;
}
