#include "dcap/collateral.h"

#include <string.h>

#include <jansson.h>

#include "util/mt_alloc.h"
#include "util/mt_hex.h"
#include "util/mt_json.h"
#include "util/mt_limits.h"

void
mt_collateral_free(struct mt_collateral *c)
{
    if (c == NULL)
        return;
    mt_free(c->pck_crl_issuer_chain);
    mt_free(c->root_ca_crl);
    mt_free(c->pck_crl);
    mt_free(c->tcb_info_issuer_chain);
    mt_free(c->tcb_info);
    mt_free(c->qe_identity_issuer_chain);
    mt_free(c->qe_identity);
    mt_free(c->pck_certificate_chain);
    mt_free(c);
}

static mt_err
take_str(const json_t *root, const char *key, size_t max, char **out, size_t *out_len)
{
    const char *s;
    size_t len;

    MT_ENSURE(mt_json_get_str(root, key, &s, &len) == MT_OK, MT_ERR_COLLATERAL_FORMAT);
    MT_ENSURE(len > 0 && len <= max, MT_ERR_COLLATERAL_FORMAT);
    /* Text fields must not hide a NUL that would cut them short later. */
    MT_ENSURE(strlen(s) == len, MT_ERR_COLLATERAL_FORMAT);
    *out = mt_strndup(s, len);
    MT_ENSURE(*out != NULL, MT_ERR_NOMEM);
    if (out_len != NULL)
        *out_len = len;
    return MT_OK;
}

static mt_err
take_hex(const json_t *root, const char *key, uint8_t **out, size_t *out_len)
{
    const char *s;
    size_t len;
    mt_err e;

    MT_ENSURE(mt_json_get_str(root, key, &s, &len) == MT_OK, MT_ERR_COLLATERAL_FORMAT);
    MT_ENSURE(len > 0, MT_ERR_COLLATERAL_FORMAT);
    e = mt_hex_decode_alloc(s, len, MT_MAX_SIGNED_JSON, out, out_len);
    MT_ENSURE(e == MT_OK, e == MT_ERR_NOMEM ? e : MT_ERR_COLLATERAL_FORMAT);
    return MT_OK;
}

static mt_err
take_sig(const json_t *root, const char *key, uint8_t out[64])
{
    MT_ENSURE(mt_json_get_hex(root, key, out, 64) == MT_OK, MT_ERR_COLLATERAL_FORMAT);
    return MT_OK;
}

mt_err
mt_collateral_parse(const char *json, size_t len, struct mt_collateral **out)
{
    struct mt_collateral *c = NULL;
    json_t *root = NULL;
    mt_err e;

    MT_ENSURE(len <= MT_MAX_COLLATERAL_JSON, MT_ERR_TOO_LARGE);
    e = mt_json_parse(json, len, MT_MAX_COLLATERAL_JSON, &root);
    MT_ENSURE(e == MT_OK, MT_ERR_COLLATERAL_FORMAT);
    MT_ENSURE_GOTO(json_is_object(root), MT_ERR_COLLATERAL_FORMAT, e, out);
    c = mt_calloc(1, sizeof(*c));
    MT_ENSURE_GOTO(c != NULL, MT_ERR_NOMEM, e, out);
    /* pck_crl_issuer_chain is carried only (dcap-verify.md 2.2); tolerate its absence. */
    if (json_object_get(root, "pck_crl_issuer_chain") != NULL)
        MT_GUARD_GOTO(take_str(root, "pck_crl_issuer_chain", MT_MAX_CERT_DATA,
                               &c->pck_crl_issuer_chain, NULL),
                      e, out);
    MT_GUARD_GOTO(take_hex(root, "root_ca_crl", &c->root_ca_crl, &c->root_ca_crl_len), e, out);
    MT_GUARD_GOTO(take_hex(root, "pck_crl", &c->pck_crl, &c->pck_crl_len), e, out);
    MT_GUARD_GOTO(
        take_str(root, "tcb_info_issuer_chain", MT_MAX_CERT_DATA, &c->tcb_info_issuer_chain, NULL),
        e, out);
    MT_GUARD_GOTO(take_str(root, "tcb_info", MT_MAX_SIGNED_JSON, &c->tcb_info, &c->tcb_info_len), e,
                  out);
    MT_GUARD_GOTO(take_sig(root, "tcb_info_signature", c->tcb_info_signature), e, out);
    MT_GUARD_GOTO(take_str(root, "qe_identity_issuer_chain", MT_MAX_CERT_DATA,
                           &c->qe_identity_issuer_chain, NULL),
                  e, out);
    MT_GUARD_GOTO(
        take_str(root, "qe_identity", MT_MAX_SIGNED_JSON, &c->qe_identity, &c->qe_identity_len), e,
        out);
    MT_GUARD_GOTO(take_sig(root, "qe_identity_signature", c->qe_identity_signature), e, out);
    /* Optional; JSON null means absent as well. */
    if (json_is_string(json_object_get(root, "pck_certificate_chain")))
        MT_GUARD_GOTO(take_str(root, "pck_certificate_chain", MT_MAX_CERT_DATA,
                               &c->pck_certificate_chain, NULL),
                      e, out);
    else
        MT_ENSURE_GOTO(json_object_get(root, "pck_certificate_chain") == NULL ||
                           json_is_null(json_object_get(root, "pck_certificate_chain")),
                       MT_ERR_COLLATERAL_FORMAT, e, out);
    *out = c;
    c = NULL;
    e = MT_OK;
out:
    mt_collateral_free(c);
    json_decref(root);
    return e;
}

static mt_err
set_str(json_t *o, const char *key, const char *s)
{
    if (s == NULL)
        return MT_OK;
    return mt_json_set_new(o, key, json_string(s));
}

mt_err
mt_collateral_to_json(const struct mt_collateral *c, char **out)
{
    json_t *o;
    char *text;
    mt_err e = MT_OK;

    o = json_object();
    MT_ENSURE(o != NULL, MT_ERR_NOMEM);
    MT_GUARD_GOTO(set_str(o, "pck_crl_issuer_chain", c->pck_crl_issuer_chain), e, out);
    MT_GUARD_GOTO(mt_json_set_hex(o, "root_ca_crl", c->root_ca_crl, c->root_ca_crl_len), e, out);
    MT_GUARD_GOTO(mt_json_set_hex(o, "pck_crl", c->pck_crl, c->pck_crl_len), e, out);
    MT_GUARD_GOTO(set_str(o, "tcb_info_issuer_chain", c->tcb_info_issuer_chain), e, out);
    MT_GUARD_GOTO(set_str(o, "tcb_info", c->tcb_info), e, out);
    MT_GUARD_GOTO(mt_json_set_hex(o, "tcb_info_signature", c->tcb_info_signature, 64), e, out);
    MT_GUARD_GOTO(set_str(o, "qe_identity_issuer_chain", c->qe_identity_issuer_chain), e, out);
    MT_GUARD_GOTO(set_str(o, "qe_identity", c->qe_identity), e, out);
    MT_GUARD_GOTO(mt_json_set_hex(o, "qe_identity_signature", c->qe_identity_signature, 64), e,
                  out);
    MT_GUARD_GOTO(set_str(o, "pck_certificate_chain", c->pck_certificate_chain), e, out);
    text = json_dumps(o, JSON_PRESERVE_ORDER | JSON_COMPACT);
    MT_ENSURE_GOTO(text != NULL, MT_ERR_NOMEM, e, out);
    /* jansson allocates with malloc; hand the caller an mt_alloc copy. */
    *out = mt_strdup(text);
    mt_free_libc(text);
    MT_ENSURE_GOTO(*out != NULL, MT_ERR_NOMEM, e, out);
out:
    json_decref(o);
    return e;
}

static mt_err
dup_str(const char *s, char **out)
{
    *out = NULL;
    if (s == NULL)
        return MT_OK;
    *out = mt_strdup(s);
    MT_ENSURE(*out != NULL, MT_ERR_NOMEM);
    return MT_OK;
}

static mt_err
dup_bytes(const uint8_t *b, size_t n, uint8_t **out)
{
    *out = mt_malloc(n);
    MT_ENSURE(*out != NULL, MT_ERR_NOMEM);
    memcpy(*out, b, n);
    return MT_OK;
}

mt_err
mt_collateral_dup(const struct mt_collateral *c, struct mt_collateral **out)
{
    struct mt_collateral *d;
    mt_err e = MT_OK;

    d = mt_calloc(1, sizeof(*d));
    MT_ENSURE(d != NULL, MT_ERR_NOMEM);
    memcpy(d->tcb_info_signature, c->tcb_info_signature, 64);
    memcpy(d->qe_identity_signature, c->qe_identity_signature, 64);
    d->root_ca_crl_len = c->root_ca_crl_len;
    d->pck_crl_len = c->pck_crl_len;
    d->tcb_info_len = c->tcb_info_len;
    d->qe_identity_len = c->qe_identity_len;
    MT_GUARD_GOTO(dup_str(c->pck_crl_issuer_chain, &d->pck_crl_issuer_chain), e, out);
    MT_GUARD_GOTO(dup_bytes(c->root_ca_crl, c->root_ca_crl_len, &d->root_ca_crl), e, out);
    MT_GUARD_GOTO(dup_bytes(c->pck_crl, c->pck_crl_len, &d->pck_crl), e, out);
    MT_GUARD_GOTO(dup_str(c->tcb_info_issuer_chain, &d->tcb_info_issuer_chain), e, out);
    MT_GUARD_GOTO(dup_str(c->tcb_info, &d->tcb_info), e, out);
    MT_GUARD_GOTO(dup_str(c->qe_identity_issuer_chain, &d->qe_identity_issuer_chain), e, out);
    MT_GUARD_GOTO(dup_str(c->qe_identity, &d->qe_identity), e, out);
    MT_GUARD_GOTO(dup_str(c->pck_certificate_chain, &d->pck_certificate_chain), e, out);
    *out = d;
    d = NULL;
out:
    mt_collateral_free(d);
    return e;
}
