/*
 * The signer identity of a Fulcio certificate (sigstore.md 4.9): the SAN
 * (first URI, else first email, else the Fulcio otherName), the OIDC issuer
 * (OID 1.3.6.1.4.1.57264.1.8, falling back to .1), the GitHub workflow
 * extensions, and the policy match (exact, or POSIX ERE unanchored like RE2
 * MatchString).
 */
#include <regex.h>
#include <stdio.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "sigstore/sig_internal.h"

/* Copy bytes that are a C string (no NUL) and fit. */
static mt_err
copy_text(const unsigned char *p, size_t n, char *out, size_t cap)
{
    MT_ENSURE(n < cap && memchr(p, '\0', n) == NULL, MT_ERR_SIGSTORE_CERT_EXTENSION);
    memcpy(out, p, n);
    out[n] = '\0';
    return MT_OK;
}

static mt_err
copy_asn1(const ASN1_STRING *s, char *out, size_t cap)
{
    MT_ENSURE(s != NULL && ASN1_STRING_length(s) >= 0, MT_ERR_SIGSTORE_CERT_EXTENSION);
    return copy_text(ASN1_STRING_get0_data(s), (size_t)ASN1_STRING_length(s), out, cap);
}

mt_err
sig_cert_san(X509 *leaf, char *out, size_t cap)
{
    GENERAL_NAMES *gens;
    GENERAL_NAME *g;
    ASN1_OBJECT *other = NULL;
    const GENERAL_NAME *uri = NULL, *email = NULL, *on = NULL;
    int i, crit = 0;
    mt_err rv = MT_ERR_SIGSTORE_IDENTITY;

    gens = X509_get_ext_d2i(leaf, NID_subject_alt_name, &crit, NULL);
    MT_ENSURE(gens != NULL, MT_ERR_SIGSTORE_IDENTITY);
    other = OBJ_txt2obj("1.3.6.1.4.1.57264.1.7", 1);
    if (other == NULL) {
        rv = MT_ERR_NOMEM;
        goto out;
    }
    for (i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
        g = sk_GENERAL_NAME_value(gens, i);
        if (g->type == GEN_URI && uri == NULL)
            uri = g;
        else if (g->type == GEN_EMAIL && email == NULL)
            email = g;
        else if (g->type == GEN_OTHERNAME && on == NULL &&
                 OBJ_cmp(g->d.otherName->type_id, other) == 0 &&
                 g->d.otherName->value->type == V_ASN1_UTF8STRING)
            on = g;
    }
    if (uri != NULL)
        rv = copy_asn1(uri->d.uniformResourceIdentifier, out, cap);
    else if (email != NULL)
        rv = copy_asn1(email->d.rfc822Name, out, cap);
    else if (on != NULL)
        rv = copy_asn1(on->d.otherName->value->value.utf8string, out, cap);
    if (rv == MT_ERR_SIGSTORE_CERT_EXTENSION)
        rv = MT_ERR_SIGSTORE_IDENTITY;
out:
    ASN1_OBJECT_free(other);
    GENERAL_NAMES_free(gens);
    return rv;
}

mt_err
sig_cert_fulcio_ext(X509 *leaf, unsigned n, char *out, size_t cap, int *found)
{
    char oid[64];
    ASN1_OBJECT *obj;
    const ASN1_OCTET_STRING *data;
    ASN1_UTF8STRING *u = NULL;
    const unsigned char *p;
    int idx, len;
    mt_err rv;

    *found = 0;
    snprintf(oid, sizeof(oid), "1.3.6.1.4.1.57264.1.%u", n);
    obj = OBJ_txt2obj(oid, 1);
    MT_ENSURE(obj != NULL, MT_ERR_NOMEM);
    idx = X509_get_ext_by_OBJ(leaf, obj, -1);
    if (idx < 0) {
        ASN1_OBJECT_free(obj);
        return MT_OK;
    }
    /* An extension twice is ambiguous (RFC 5280 4.2). */
    rv = X509_get_ext_by_OBJ(leaf, obj, idx) >= 0 ? MT_ERR_SIGSTORE_CERT_EXTENSION : MT_OK;
    ASN1_OBJECT_free(obj);
    MT_GUARD(rv);
    data = X509_EXTENSION_get_data(X509_get_ext(leaf, idx));
    MT_ENSURE(data != NULL, MT_ERR_SIGSTORE_CERT_EXTENSION);
    if (n <= 6) {
        /* .1-.6: the raw value, no DER wrapper. */
        MT_GUARD(copy_asn1(data, out, cap));
    } else {
        /* .8 and up: a DER UTF8String that must use every byte. */
        p = ASN1_STRING_get0_data(data);
        len = ASN1_STRING_length(data);
        u = d2i_ASN1_UTF8STRING(NULL, &p, len);
        rv = (u != NULL && p == ASN1_STRING_get0_data(data) + len) ? copy_asn1(u, out, cap)
                                                                   : MT_ERR_SIGSTORE_CERT_EXTENSION;
        ASN1_UTF8STRING_free(u);
        MT_GUARD(rv);
    }
    *found = 1;
    return MT_OK;
}

mt_err
sig_cert_issuer(X509 *leaf, char *out, size_t cap)
{
    char v1[512];
    int f8 = 0, f1 = 0;

    MT_GUARD(sig_cert_fulcio_ext(leaf, 8, out, cap, &f8));
    MT_GUARD(sig_cert_fulcio_ext(leaf, 1, v1, sizeof(v1), &f1));
    if (f8 && f1)
        MT_ENSURE(strcmp(out, v1) == 0, MT_ERR_SIGSTORE_CERT_EXTENSION);
    if (!f8 && f1)
        MT_GUARD(copy_text((const unsigned char *)v1, strlen(v1), out, cap));
    MT_ENSURE(f8 || f1, MT_ERR_SIGSTORE_ISSUER);
    return MT_OK;
}

mt_err
sig_regex_match(const char *re, const char *s, int *matched)
{
    regex_t rx;
    int rc;

    MT_ENSURE(regcomp(&rx, re, REG_EXTENDED | REG_NOSUB) == 0, MT_ERR_SIGSTORE_POLICY);
    rc = regexec(&rx, s, 0, NULL, 0);
    regfree(&rx);
    *matched = rc == 0;
    return MT_OK;
}

mt_err
sig_policy_check_keyless(const struct mt_sigstore_policy *p)
{
    int m;

    MT_ENSURE(p != NULL, MT_ERR_SIGSTORE_POLICY);
    MT_ENSURE(p->identity != NULL || p->identity_regexp != NULL, MT_ERR_SIGSTORE_POLICY);
    MT_ENSURE(p->issuer != NULL || p->issuer_regexp != NULL, MT_ERR_SIGSTORE_POLICY);
    if (p->identity_regexp != NULL)
        MT_GUARD(sig_regex_match(p->identity_regexp, "", &m));
    if (p->issuer_regexp != NULL)
        MT_GUARD(sig_regex_match(p->issuer_regexp, "", &m));
    return MT_OK;
}

/* Exact and/or regexp: when both are given both must match (sigstore-go). */
static mt_err
match(const char *exact, const char *re, const char *value, int *ok)
{
    int m = 1;

    *ok = 1;
    if (exact != NULL)
        *ok = strcmp(exact, value) == 0;
    if (re != NULL)
        MT_GUARD(sig_regex_match(re, value, &m));
    *ok = *ok && m;
    return MT_OK;
}

mt_err
sig_identity_verify(X509 *leaf, const struct mt_sigstore_policy *p, struct mt_sigstore_result *res)
{
    static const unsigned gh_oid[5] = {2, 3, 4, 5, 6};
    static const char *const gh_name[5] = {"trigger", "sha", "name", "repository", "ref"};
    const char *gh_want[5];
    char v[512];
    int ok = 0, found = 0;
    size_t i;
    mt_err e;

    e = sig_cert_san(leaf, res->identity, sizeof(res->identity));
    MT_ENSURE(e == MT_OK, sig_fail(res, e, "certificate has no usable SAN"));
    e = sig_cert_issuer(leaf, res->issuer, sizeof(res->issuer));
    if (e != MT_OK) {
        res->issuer[0] = '\0';
        return sig_fail(res, e, "certificate OIDC issuer missing, malformed or contradictory");
    }
    MT_GUARD(match(p->identity, p->identity_regexp, res->identity, &ok));
    MT_ENSURE(ok, sig_fail(res, MT_ERR_SIGSTORE_IDENTITY, "identity \"%.200s\" not allowed",
                           res->identity));
    MT_GUARD(match(p->issuer, p->issuer_regexp, res->issuer, &ok));
    MT_ENSURE(ok,
              sig_fail(res, MT_ERR_SIGSTORE_ISSUER, "issuer \"%.200s\" not allowed", res->issuer));
    gh_want[0] = p->gh_workflow_trigger;
    gh_want[1] = p->gh_workflow_sha;
    gh_want[2] = p->gh_workflow_name;
    gh_want[3] = p->gh_workflow_repository;
    gh_want[4] = p->gh_workflow_ref;
    for (i = 0; i < 5; i++) {
        if (gh_want[i] == NULL)
            continue;
        e = sig_cert_fulcio_ext(leaf, gh_oid[i], v, sizeof(v), &found);
        MT_ENSURE(e == MT_OK, sig_fail(res, e, "malformed workflow %s extension", gh_name[i]));
        MT_ENSURE(found && strcmp(v, gh_want[i]) == 0,
                  sig_fail(res, MT_ERR_SIGSTORE_GH_EXTENSION,
                           "workflow %s is \"%.120s\", not \"%.120s\"", gh_name[i],
                           found ? v : "(absent)", gh_want[i]));
    }
    return MT_OK;
}
