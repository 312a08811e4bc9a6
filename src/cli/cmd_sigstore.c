#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"
#include "sigstore/sigstore.h"
#include "util/mt_alloc.h"
#include "util/mt_file.h"
#include "util/mt_hex.h"
#include "util/mt_time.h"
#include "util/mt_utf8.h"

/*
 * mero-tee sigstore verify: offline Sigstore blob verification
 * (shared/specs/sigstore.md, docs/sigstore.md).
 *
 *   keyless:   (FILE | --digest sha256:HEX) --bundle B --trusted-root R
 *              --certificate-identity I | --certificate-identity-regexp RE
 *              --certificate-oidc-issuer O | --certificate-oidc-issuer-regexp RE
 *              [--certificate-github-workflow-{trigger,sha,name,repository,ref} V]
 *   key-based: (FILE | --digest sha256:HEX) --key K (--bundle B | --signature S)
 *              [--trusted-root R]
 *
 * Exit 0 verified, 1 not verified (the first failed check is printed),
 * 2 unusable arguments or unreadable files.  --json prints one object:
 * {"ok","error":{"code","message"}|null,"signingTime","identity","issuer","logIndex"}.
 */

#define SIG_FILE_MAX (64u * 1024u) /* a detached .sig */

static int
usage(void)
{
    fprintf(stderr,
            "usage: mero-tee sigstore verify (FILE | --digest sha256:HEX) --bundle B\n"
            "           --trusted-root R --certificate-identity I --certificate-oidc-issuer O\n"
            "           [--certificate-identity-regexp RE] [--certificate-oidc-issuer-regexp RE]\n"
            "           [--certificate-github-workflow-{trigger,sha,name,repository,ref} V]"
            " [--json]\n"
            "       mero-tee sigstore verify (FILE | --digest sha256:HEX) --key K\n"
            "           (--bundle B | --signature S) [--trusted-root R] [--json]\n");
    return MT_EXIT_USAGE;
}

struct opts {
    const char *file, *digest, *bundle, *trusted_root, *key, *signature;
    struct mt_sigstore_policy pol;
    int as_json;
};

/* Errors that mean "could not run the check" rather than "the check failed". */
static int
is_usage_error(mt_err e)
{
    return e == MT_ERR_IO || e == MT_ERR_ARG || e == MT_ERR_NOMEM || e == MT_ERR_SIGSTORE_POLICY ||
           e == MT_ERR_TOO_LARGE;
}

/*
 * src as well-formed UTF-8 in dst (JSON strings must be; a certificate SAN or
 * a path need not be): each byte that starts no valid sequence becomes '?'.
 */
static const char *
utf8_copy(char *dst, size_t cap, const char *src)
{
    const unsigned char *r = (const unsigned char *)src;
    size_t n, w = 0;

    while (*r != '\0') {
        n = mt_utf8_seq(r);
        if (w + (n == 0 ? 1 : n) >= cap)
            break;
        if (n == 0) {
            dst[w++] = '?';
            r++;
            continue;
        }
        memcpy(dst + w, r, n);
        w += n;
        r += n;
    }
    dst[w] = '\0';
    return dst;
}

/* The --json object; NULL only when jansson cannot build it (out of memory). */
static char *
json_result(mt_err e, const struct mt_sigstore_result *res, const char *msg, const char *when)
{
    char m[sizeof(res->detail) + 64], id[sizeof(res->identity)], iss[sizeof(res->issuer)];
    json_t *err, *idx, *j;
    char *text;

    if (e == MT_OK)
        err = json_null();
    else
        err = json_pack("{s:s, s:s}", "code", mt_err_code(e), "message",
                        utf8_copy(m, sizeof(m), msg));
    idx = res->log_index >= 0 ? json_integer((json_int_t)res->log_index) : json_null();
    if (err == NULL || idx == NULL) {
        json_decref(err);
        json_decref(idx);
        return NULL;
    }
    /* "o" steals err and idx, also when json_pack fails. */
    j = json_pack(
        "{s:b, s:o, s:s?, s:s?, s:s?, s:o}", "ok", e == MT_OK, "error", err, "signingTime",
        res->signing_time >= 0 ? when : NULL, "identity",
        res->identity[0] != '\0' ? utf8_copy(id, sizeof(id), res->identity) : NULL, "issuer",
        res->issuer[0] != '\0' ? utf8_copy(iss, sizeof(iss), res->issuer) : NULL, "logIndex", idx);
    if (j == NULL)
        return NULL;
    text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return text;
}

static int
report(const struct opts *o, mt_err e, const struct mt_sigstore_result *res)
{
    const char *msg = res->detail[0] != '\0' ? res->detail : mt_err_message(e);
    char when[21] = "";
    char *text;
    int rc = e == MT_OK ? MT_EXIT_OK : is_usage_error(e) ? MT_EXIT_USAGE : MT_EXIT_FAIL;

    if (res->signing_time >= 0)
        mt_rfc3339_format(res->signing_time, when);
    if (o->as_json) {
        /* Never a different shape: either the whole object or an internal error (exit 2). */
        text = json_result(e, res, msg, when);
        if (text == NULL) {
            fprintf(stderr,
                    "mero-tee: sigstore verify: internal error: cannot build the JSON result "
                    "(verdict %s)\n",
                    e == MT_OK ? "ok" : mt_err_code(e));
            return MT_EXIT_USAGE;
        }
        printf("%s\n", text);
        mt_free_libc(text);
        return rc;
    }
    if (e == MT_OK) {
        printf("OK: %s verified", o->file != NULL ? o->file : o->digest);
        if (res->identity[0] != '\0')
            printf("; identity %s; issuer %s", res->identity, res->issuer);
        else
            printf("; public key");
        if (res->signing_time >= 0)
            printf("; signed %s", when);
        if (res->log_index >= 0)
            printf("; log index %lld", (long long)res->log_index);
        printf("\n");
    } else if (rc == MT_EXIT_FAIL) {
        printf("FAIL: %s: %s\n", mt_err_code(e), msg);
    } else {
        fprintf(stderr, "mero-tee: sigstore verify: %s: %s\n", mt_err_code(e), msg);
    }
    return rc;
}

/* Fill res->detail for failures before the library ran. */
static int
early(const struct opts *o, mt_err e, const char *what, const char *path)
{
    struct mt_sigstore_result res;

    memset(&res, 0, sizeof(res));
    res.signing_time = -1;
    res.log_index = -1;
    snprintf(res.detail, sizeof(res.detail), "%s %s: %s", what, path, mt_err_message(e));
    return report(o, e, &res);
}

static int
parse_args(int argc, char **argv, struct opts *o)
{
    static const char *const gh[5] = {"trigger", "sha", "name", "repository", "ref"};
    const char **gh_dst[5];
    char flag[64];
    int i, k, matched;

    memset(o, 0, sizeof(*o));
    gh_dst[0] = &o->pol.gh_workflow_trigger;
    gh_dst[1] = &o->pol.gh_workflow_sha;
    gh_dst[2] = &o->pol.gh_workflow_name;
    gh_dst[3] = &o->pol.gh_workflow_repository;
    gh_dst[4] = &o->pol.gh_workflow_ref;
    for (i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char **dst = NULL;

        if (strcmp(a, "--json") == 0) {
            o->as_json = 1;
            continue;
        }
        if (a[0] != '-') {
            if (o->file != NULL)
                return 0;
            o->file = a;
            continue;
        }
        if (strcmp(a, "--digest") == 0)
            dst = &o->digest;
        else if (strcmp(a, "--bundle") == 0)
            dst = &o->bundle;
        else if (strcmp(a, "--trusted-root") == 0)
            dst = &o->trusted_root;
        else if (strcmp(a, "--key") == 0)
            dst = &o->key;
        else if (strcmp(a, "--signature") == 0)
            dst = &o->signature;
        else if (strcmp(a, "--certificate-identity") == 0)
            dst = &o->pol.identity;
        else if (strcmp(a, "--certificate-oidc-issuer") == 0)
            dst = &o->pol.issuer;
        else if (strcmp(a, "--certificate-identity-regexp") == 0)
            dst = &o->pol.identity_regexp;
        else if (strcmp(a, "--certificate-oidc-issuer-regexp") == 0)
            dst = &o->pol.issuer_regexp;
        for (k = 0, matched = 0; dst == NULL && k < 5 && !matched; k++) {
            snprintf(flag, sizeof(flag), "--certificate-github-workflow-%s", gh[k]);
            if (strcmp(a, flag) == 0) {
                dst = gh_dst[k];
                matched = 1;
            }
        }
        if (dst == NULL || *dst != NULL || i + 1 >= argc)
            return 0;
        *dst = argv[++i];
    }
    /* Exactly one artifact; key mode needs a bundle or a signature, keyless a bundle, root
     * and both criteria. */
    if ((o->file != NULL) == (o->digest != NULL))
        return 0;
    if (o->key != NULL)
        return (o->bundle != NULL) != (o->signature != NULL);
    return o->bundle != NULL && o->trusted_root != NULL && o->signature == NULL &&
           (o->pol.identity != NULL || o->pol.identity_regexp != NULL) &&
           (o->pol.issuer != NULL || o->pol.issuer_regexp != NULL);
}

static int
verify(struct opts *o)
{
    struct mt_sigstore_trust *trust = NULL;
    struct mt_sigstore_artifact art;
    struct mt_sigstore_result res;
    EVP_PKEY *key = NULL;
    uint8_t sha[32], *doc = NULL;
    size_t len = 0;
    mt_err e;
    int rc;

    memset(&art, 0, sizeof(art));
    if (o->digest != NULL) {
        if (strncmp(o->digest, "sha256:", 7) != 0 ||
            mt_hex_decode_exact(o->digest + 7, strlen(o->digest + 7), sha, 32) != MT_OK)
            return early(o, MT_ERR_ARG, "digest", "(want sha256:<64 hex digits>)");
        art.sha256 = sha;
    } else {
        art.path = o->file;
    }
    if (o->trusted_root != NULL) {
        e = mt_sigstore_trust_load(o->trusted_root, &trust);
        if (e != MT_OK)
            return early(o, e, "trusted root", o->trusted_root);
    }
    if (o->key != NULL) {
        e = mt_sigstore_key_load(o->key, &key);
        if (e != MT_OK) {
            rc = early(o, e, "key", o->key);
            goto out;
        }
        o->pol.key = key;
    }
    e = mt_file_read(o->bundle != NULL ? o->bundle : o->signature,
                     o->bundle != NULL ? MT_SIGSTORE_MAX_DOC : SIG_FILE_MAX, &doc, &len);
    if (e != MT_OK) {
        rc = early(o, e == MT_ERR_TOO_LARGE ? e : MT_ERR_IO, o->bundle ? "bundle" : "signature",
                   o->bundle ? o->bundle : o->signature);
        goto out;
    }
    if (o->bundle != NULL)
        e = mt_sigstore_verify_bundle(trust, &o->pol, &art, doc, len, &res);
    else
        e = mt_sigstore_verify_detached(key, &art, doc, len, &res);
    rc = report(o, e, &res);
out:
    mt_free(doc);
    EVP_PKEY_free(key);
    mt_sigstore_trust_free(trust);
    return rc;
}

int
mt_cmd_sigstore(int argc, char **argv)
{
    struct opts o;

    if (argc < 2 || strcmp(argv[1], "verify") != 0)
        return usage();
    if (!parse_args(argc, argv, &o))
        return usage();
    return verify(&o);
}
