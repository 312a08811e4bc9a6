#include <stdio.h>
#include <string.h>

#include "release/verify.h"
#include "sigstore/sigstore.h"

/* The trust material release verify checks signatures with (docs/release-verification.md). */

mt_err
mt_rel_trust_open(const struct mt_rel_trust_cfg *c, enum mt_rel_family f, struct mt_rel_trust *t,
                  char *why, size_t why_len)
{
    mt_err e;

    memset(t, 0, sizeof(*t));
    if (c->key != NULL) {
        e = mt_sigstore_key_load(c->key, &t->key);
        if (e != MT_OK)
            return mt_rel_fail(e, why, why_len, "--key %s: %s", c->key, mt_err_message(e));
    }
    if (c->trusted_root != NULL) {
        e = mt_sigstore_trust_load(c->trusted_root, &t->root);
        if (e != MT_OK) {
            mt_rel_trust_close(t);
            return mt_rel_fail(e, why, why_len, "--trusted-root %s: %s", c->trusted_root,
                               mt_err_message(e));
        }
    }
    if (c->identity != NULL) {
        t->identity = c->identity;
    } else {
        e = mt_rel_family_identity(f, c->repository, t->identity_buf, sizeof(t->identity_buf));
        if (e != MT_OK) {
            mt_rel_trust_close(t);
            return mt_rel_fail(e, why, why_len, "--repository is too long");
        }
        t->identity = t->identity_buf;
    }
    t->issuer = c->issuer != NULL ? c->issuer : MT_REL_OIDC_ISSUER;
    return MT_OK;
}

void
mt_rel_trust_close(struct mt_rel_trust *t)
{
    if (t == NULL)
        return;
    EVP_PKEY_free(t->key);
    mt_sigstore_trust_free(t->root);
    memset(t, 0, sizeof(*t));
}

mt_err
mt_rel_verify_release(const struct mt_rel_trust_cfg *c, const char *dir, enum mt_rel_family f,
                      const char *version, struct mt_rel_report *r, struct mt_rel_loaded *loaded,
                      char *why, size_t why_len)
{
    struct mt_rel_verify_opts o;
    struct mt_rel_trust t;
    mt_err e;

    MT_GUARD(mt_rel_trust_open(c, f, &t, why, why_len));
    memset(&o, 0, sizeof(o));
    o.dir = dir;
    o.family = f;
    o.version = version;
    if (t.key != NULL || t.root != NULL) {
        o.verify_sig = mt_rel_sigcheck;
        o.sig_arg = &t;
    }
    e = mt_rel_verify(&o, r, loaded);
    if (e != MT_OK && e != MT_ERR_NOMEM)
        mt_rel_fail(e, why, why_len, "%s: %s", dir, mt_err_message(e));
    mt_rel_trust_close(&t);
    return e;
}
