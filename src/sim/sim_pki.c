#include "sim/sim_pki.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "util/mt_alloc.h"
#include "util/mt_file.h"

#define DAY 86400

static int
join(char *out, size_t len, const char *dir, const char *name)
{
    int n = snprintf(out, len, "%s/%s", dir, name);

    return n > 0 && (size_t)n < len;
}

mt_err
mt_sim_write_private(const char *path, const void *data, size_t len)
{
    return mt_file_write_atomic(path, data, len, 0600);
}

static mt_err
write_root(const struct mt_testpki *pki, const char *dir)
{
    char path[4096];
    const uint8_t *der;
    size_t len;
    BIO *bio;
    BUF_MEM *mem;
    mt_err e;

    der = mt_testpki_root_der(pki, &len);
    MT_ENSURE(join(path, sizeof(path), dir, "root.der"), MT_ERR_ARG);
    MT_GUARD(mt_file_write_atomic(path, der, len, 0644));
    bio = BIO_new(BIO_s_mem());
    MT_ENSURE(bio != NULL, MT_ERR_NOMEM);
    if (PEM_write_bio_X509(bio, pki->cert[MT_TESTPKI_ROOT]) != 1 ||
        BIO_get_mem_ptr(bio, &mem) != 1) {
        BIO_free(bio);
        return MT_ERR_CRYPTO;
    }
    MT_ENSURE(join(path, sizeof(path), dir, "root.pem"), MT_ERR_ARG);
    e = mt_file_write_atomic(path, mem->data, mem->length, 0644);
    BIO_free(bio);
    return e;
}

mt_err
mt_sim_pki_init(const char *dir, int force, char *why, size_t why_len)
{
    struct mt_testpki_params p;
    struct mt_testpki *pki = NULL;
    struct stat st;
    char pkidir[4096];
    mt_err e;

    why[0] = '\0';
    if (!join(pkidir, sizeof(pkidir), dir, "pki")) {
        snprintf(why, why_len, "path too long");
        return MT_ERR_ARG;
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        snprintf(why, why_len, "cannot create %s: %s", dir, strerror(errno));
        return MT_ERR_IO;
    }
    if (stat(pkidir, &st) == 0 && !force) {
        snprintf(why, why_len, "%s exists (use --force to replace the PKI)", pkidir);
        return MT_ERR_ARG;
    }
    if (mkdir(pkidir, 0700) != 0 && errno != EEXIST) {
        snprintf(why, why_len, "cannot create %s: %s", pkidir, strerror(errno));
        return MT_ERR_IO;
    }
    mt_testpki_params_default(&p, MT_TESTPKI_TDX_V4, (int64_t)time(NULL));
    e = mt_testpki_new(&p, &pki);
    if (e == MT_OK)
        e = mt_testpki_save(pki, pkidir);
    if (e == MT_OK)
        e = write_root(pki, dir);
    if (e != MT_OK)
        snprintf(why, why_len, "%s", mt_err_message(e));
    mt_testpki_free(pki);
    return e;
}

mt_err
mt_sim_pki_load(const char *dir, struct mt_testpki **out, char *why, size_t why_len)
{
    char pkidir[4096];
    mt_err e;

    why[0] = '\0';
    MT_ENSURE(join(pkidir, sizeof(pkidir), dir, "pki"), MT_ERR_ARG);
    e = mt_testpki_load(pkidir, out);
    if (e != MT_OK)
        snprintf(why, why_len, "%s: %s", pkidir, mt_err_message(e));
    return e;
}

mt_err
mt_sim_collateral_mode_parse(const char *s, enum mt_sim_collateral_mode *out)
{
    static const char *const names[] = {"good", "stale", "revoked", "broken"};
    size_t i;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = (enum mt_sim_collateral_mode)i;
            return MT_OK;
        }
    }
    return MT_ERR_ARG;
}

mt_err
mt_sim_collateral(struct mt_testpki *pki, const struct mt_testpki_params *params, int64_t now,
                  enum mt_sim_collateral_mode mode, struct mt_collateral **out)
{
    struct mt_testpki_params *p;
    mt_err e;

    p = mt_malloc(sizeof(*p));
    MT_ENSURE(p != NULL, MT_ERR_NOMEM);
    if (params != NULL) {
        *p = *params;
    } else {
        mt_testpki_params_default(p, MT_TESTPKI_TDX_V4, now);
        e = mt_testpki_issue(pki, p);
        if (e != MT_OK) {
            mt_free(p);
            return e;
        }
    }
    switch (mode) {
    case MT_SIM_COLLATERAL_STALE:
        /*
         * Issued two months ago, due for renewal a month ago: TCB Info, QE
         * Identity and the PCK CRL.  The root CRL stays current, so the
         * failure is the one a stale PCCS really causes.
         */
        p->tcb_info.issue_date = p->qe_identity.issue_date = now - 60 * DAY;
        p->tcb_info.next_update = p->qe_identity.next_update = now - 30 * DAY;
        p->crl[MT_TESTPKI_PCK_CRL].this_update = now - 60 * DAY;
        p->crl[MT_TESTPKI_PCK_CRL].next_update = now - 30 * DAY;
        break;
    case MT_SIM_COLLATERAL_REVOKED:
        e = mt_testpki_crl_revoke(&p->crl[MT_TESTPKI_PCK_CRL], p->cert[MT_TESTPKI_PCK_LEAF].serial);
        if (e != MT_OK) {
            mt_free(p);
            return e;
        }
        break;
    case MT_SIM_COLLATERAL_BROKEN:
        p->broken |= MT_TESTPKI_BREAK_TCB_INFO;
        break;
    case MT_SIM_COLLATERAL_GOOD:
    default:
        break;
    }
    e = mt_testpki_collateral(pki, p, out);
    mt_free(p);
    return e;
}

mt_err
mt_sim_pccs_start(struct mt_testpki *pki, const struct mt_testpki_params *params, int64_t now,
                  enum mt_sim_collateral_mode mode, uint16_t port, struct mt_pcs_server **out,
                  char *why, size_t why_len)
{
    struct mt_collateral *col = NULL;
    struct mt_pcs_server *s = NULL;
    mt_err e;

    why[0] = '\0';
    e = mt_sim_collateral(pki, params, now, mode, &col);
    if (e != MT_OK) {
        snprintf(why, why_len, "collateral: %s", mt_err_message(e));
        return e;
    }
    e = mt_pcs_server_start_at(port, &s);
    if (e != MT_OK)
        snprintf(why, why_len, "cannot listen on 127.0.0.1:%u", (unsigned)port);
    if (e == MT_OK)
        e = mt_pcs_server_add(s, col);
    mt_collateral_free(col);
    if (e != MT_OK) {
        mt_pcs_server_stop(s);
        return e;
    }
    *out = s;
    return MT_OK;
}
