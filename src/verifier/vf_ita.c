#include "verifier/verifier.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include "util/mt_alloc.h"
#include "util/mt_b64.h"
#include "util/mt_json.h"
#include "vf_internal.h"

/*
 * The `ita` check (docs/verifier.md "ITA"): the quote is appraised by Intel
 * Trust Authority (POST ITA_URL {"tdx":{"quote":b64}} with x-api-key,
 * reference 6.1) through the SSRF-safe fetcher; the token it returns is a
 * compact JWS verified here with OpenSSL against the JWKS at ITA_JWKS_URL
 * (kid, algorithm allowlist, issuer, exp/nbf, signature) before any claim
 * is read; its TDX claims are then compared with the locally verified
 * quote.  The reference decoded the claims without checking the signature
 * (defect 27); here an unverified token is a failed check, never evidence.
 */

#define MTV_ITA_MAX_RESPONSE (256u * 1024u)

/* Strict base64url without padding (RFC 7515 2): only [A-Za-z0-9_-], canonical last symbol. */
mt_err
mtv_b64url_decode(const char *s, size_t len, size_t max, uint8_t **out, size_t *out_len)
{
    char *t;
    size_t i, pad;
    mt_err e;

    *out = NULL;
    *out_len = 0;
    if (len % 4 == 1 || len > 4 * (max / 3 + 2))
        return MT_ERR_VERIFIER_ITA;
    for (i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return MT_ERR_VERIFIER_ITA;
    }
    pad = (4 - len % 4) % 4;
    t = mt_malloc(len + pad + 1);
    MT_ENSURE(t != NULL, MT_ERR_NOMEM);
    for (i = 0; i < len; i++)
        t[i] = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
    for (i = 0; i < pad; i++)
        t[len + i] = '=';
    t[len + pad] = '\0';
    if (len == 0) {
        mt_free(t);
        *out = mt_malloc(1);
        MT_ENSURE(*out != NULL, MT_ERR_NOMEM);
        return MT_OK;
    }
    e = mt_b64_decode_alloc(t, len + pad, max, out, out_len);
    mt_free(t);
    if (e == MT_ERR_NOMEM)
        return e;
    return e == MT_OK ? MT_OK : MT_ERR_VERIFIER_ITA;
}

__attribute__((format(printf, 6, 7))) static mt_err
jfail(char *reason, size_t reason_len, const char *code, char *why, size_t why_len, const char *fmt,
      ...)
{
    va_list ap;

    snprintf(reason, reason_len, "%s", code);
    va_start(ap, fmt);
    vsnprintf(why, why_len, fmt, ap);
    va_end(ap);
    return MT_ERR_VERIFIER_ITA;
}

/* A base64url JSON object segment. */
static mt_err
decode_json_part(const char *s, size_t len, json_t **out)
{
    uint8_t *raw = NULL;
    size_t n = 0;
    mt_err e;

    *out = NULL;
    MT_GUARD(mtv_b64url_decode(s, len, MTV_MAX_JWT, &raw, &n));
    e = mt_json_parse((const char *)raw, n, MTV_MAX_JWT, out);
    mt_free(raw);
    if (e == MT_ERR_NOMEM)
        return e;
    if (e != MT_OK || !json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        return MT_ERR_VERIFIER_ITA;
    }
    return MT_OK;
}

struct alg {
    const char *name;
    int kty_rsa; /* 1 RSA, 0 EC */
    int pss;
    const char *md;
    const char *curve; /* EC */
    size_t coord;      /* EC coordinate bytes */
};

static const struct alg algs[] = {
    {"RS256", 1, 0, "SHA256", NULL, 0},
    {"PS384", 1, 1, "SHA384", NULL, 0},
    {"ES256", 0, 0, "SHA256", "P-256", 32},
    {"ES384", 0, 0, "SHA384", "P-384", 48},
};

/* A base64url big-endian member of a JWK as bytes. */
static mt_err
jwk_bytes(const json_t *jwk, const char *name, size_t max, uint8_t **out, size_t *out_len)
{
    const json_t *v = json_object_get(jwk, name);

    if (!json_is_string(v) || json_string_length(v) == 0)
        return MT_ERR_VERIFIER_ITA;
    return mtv_b64url_decode(json_string_value(v), json_string_length(v), max, out, out_len);
}

/* The public key of a JWK for alg a (RSA of at least 2048 bits, or the alg's curve). */
static mt_err
jwk_key(const json_t *jwk, const struct alg *a, EVP_PKEY **out, char *why, size_t why_len)
{
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    BIGNUM *n = NULL, *e = NULL;
    uint8_t *nb = NULL, *eb = NULL, *xb = NULL, *yb = NULL, pt[1 + 2 * 66];
    size_t nl = 0, el = 0, xl = 0, yl = 0;
    const char *kty = json_string_value(json_object_get(jwk, "kty"));
    const char *crv = json_string_value(json_object_get(jwk, "crv"));
    mt_err err = MT_ERR_VERIFIER_ITA;

    *out = NULL;
    if (kty == NULL || strcmp(kty, a->kty_rsa ? "RSA" : "EC") != 0) {
        snprintf(why, why_len, "the key's kty is not the %s of alg %s", a->kty_rsa ? "RSA" : "EC",
                 a->name);
        return MT_ERR_VERIFIER_ITA;
    }
    bld = OSSL_PARAM_BLD_new();
    if (bld == NULL)
        return MT_ERR_NOMEM;
    if (a->kty_rsa) {
        if (jwk_bytes(jwk, "n", 1024, &nb, &nl) != MT_OK ||
            jwk_bytes(jwk, "e", 8, &eb, &el) != MT_OK || nl < 256 || el == 0) {
            snprintf(why, why_len, "the RSA key's n/e are malformed or under 2048 bits");
            goto out;
        }
        n = BN_bin2bn(nb, (int)nl, NULL);
        e = BN_bin2bn(eb, (int)el, NULL);
        if (n == NULL || e == NULL || BN_num_bits(n) < 2048 ||
            !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
            !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e)) {
            snprintf(why, why_len, "the RSA key is unusable or under 2048 bits");
            goto out;
        }
    } else {
        if (crv == NULL || strcmp(crv, a->curve) != 0 ||
            jwk_bytes(jwk, "x", a->coord, &xb, &xl) != MT_OK ||
            jwk_bytes(jwk, "y", a->coord, &yb, &yl) != MT_OK || xl != a->coord || yl != a->coord) {
            snprintf(why, why_len, "the EC key is not a %s point of alg %s", a->curve, a->name);
            goto out;
        }
        pt[0] = 0x04;
        memcpy(pt + 1, xb, xl);
        memcpy(pt + 1 + xl, yb, yl);
        if (!OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, a->curve, 0) ||
            !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt, 1 + xl + yl)) {
            err = MT_ERR_NOMEM;
            goto out;
        }
    }
    params = OSSL_PARAM_BLD_to_param(bld);
    ctx = EVP_PKEY_CTX_new_from_name(NULL, a->kty_rsa ? "RSA" : "EC", NULL);
    if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) <= 0 ||
        EVP_PKEY_fromdata(ctx, out, EVP_PKEY_PUBLIC_KEY, params) <= 0 || *out == NULL) {
        snprintf(why, why_len, "the JWK does not make a valid public key");
        goto out;
    }
    if (!a->kty_rsa) {
        /* fromdata does not check that the point is on the curve. */
        EVP_PKEY_CTX *cc = EVP_PKEY_CTX_new_from_pkey(NULL, *out, NULL);
        int ok = cc != NULL && EVP_PKEY_public_check(cc) == 1;
        EVP_PKEY_CTX_free(cc);
        if (!ok) {
            EVP_PKEY_free(*out);
            *out = NULL;
            snprintf(why, why_len, "the EC key's point is not on %s", a->curve);
            goto out;
        }
    }
    err = MT_OK;
out:
    BN_free(n);
    BN_free(e);
    mt_free(nb);
    mt_free(eb);
    mt_free(xb);
    mt_free(yb);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    EVP_PKEY_CTX_free(ctx);
    return err;
}

/* JWS ES* signature r||s as a DER ECDSA-Sig-Value. */
static mt_err
ecdsa_der(const uint8_t *sig, size_t len, size_t coord, uint8_t **der, size_t *der_len)
{
    ECDSA_SIG *es;
    BIGNUM *r, *s;
    unsigned char *p = NULL;
    int n;

    if (len != 2 * coord)
        return MT_ERR_VERIFIER_ITA;
    es = ECDSA_SIG_new();
    r = BN_bin2bn(sig, (int)coord, NULL);
    s = BN_bin2bn(sig + coord, (int)coord, NULL);
    if (es == NULL || r == NULL || s == NULL || ECDSA_SIG_set0(es, r, s) != 1) {
        ECDSA_SIG_free(es);
        BN_free(r);
        BN_free(s);
        return MT_ERR_NOMEM;
    }
    n = i2d_ECDSA_SIG(es, &p);
    ECDSA_SIG_free(es);
    if (n <= 0)
        return MT_ERR_NOMEM;
    *der = mt_malloc((size_t)n);
    if (*der != NULL)
        memcpy(*der, p, (size_t)n);
    OPENSSL_free(p);
    MT_ENSURE(*der != NULL, MT_ERR_NOMEM);
    *der_len = (size_t)n;
    return MT_OK;
}

/* 1 when sig over signing input verifies with key under a; 0 otherwise; <0 out of memory. */
static int
sig_ok(EVP_PKEY *key, const struct alg *a, const char *input, size_t input_len, const uint8_t *sig,
       size_t sig_len)
{
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    uint8_t *der = NULL;
    size_t der_len = 0;
    int r = 0;

    if (mctx == NULL)
        return -1;
    if (!a->kty_rsa) {
        mt_err e = ecdsa_der(sig, sig_len, a->coord, &der, &der_len);
        if (e != MT_OK) {
            EVP_MD_CTX_free(mctx);
            return e == MT_ERR_NOMEM ? -1 : 0;
        }
        sig = der;
        sig_len = der_len;
    }
    if (EVP_DigestVerifyInit_ex(mctx, &pctx, a->md, NULL, NULL, key, NULL) == 1) {
        if (a->pss && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) <= 0 ||
                       EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) <= 0 ||
                       EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, a->md, NULL) <= 0))
            r = 0;
        else if (a->kty_rsa && !a->pss &&
                 EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) <= 0)
            r = 0;
        else
            r = EVP_DigestVerify(mctx, sig, sig_len, (const unsigned char *)input, input_len) == 1;
    }
    EVP_MD_CTX_free(mctx);
    mt_free(der);
    return r;
}

/* A NumericDate claim; 0 absent, 1 present, -1 malformed. */
static int
num_date(const json_t *claims, const char *name, int64_t *out)
{
    const json_t *v = json_object_get(claims, name);

    if (v == NULL)
        return 0;
    if (json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
        return 1;
    }
    if (json_is_real(v) && json_real_value(v) > -9.2e18 && json_real_value(v) < 9.2e18) {
        *out = (int64_t)json_real_value(v);
        return 1;
    }
    return -1;
}

mt_err
mtv_jwt_verify(const char *jwt, size_t jwt_len, const char *jwks, size_t jwks_len,
               const char *issuer, int64_t now, json_t **claims, char *reason, size_t reason_len,
               char *why, size_t why_len)
{
    const char *dot1, *dot2, *alg_name, *kid, *iss;
    const struct alg *a = NULL;
    json_t *hdr = NULL, *pl = NULL, *set = NULL, *k, *jwk = NULL;
    uint8_t *sig = NULL;
    size_t sig_len = 0, i, nmatch = 0;
    EVP_PKEY *key = NULL;
    int64_t exp = 0, nbf = 0;
    int r;
    mt_err e;

    *claims = NULL;
    reason[0] = '\0';
    why[0] = '\0';
    if (jwt_len == 0 || jwt_len > MTV_MAX_JWT)
        return jfail(reason, reason_len, "token_malformed", why, why_len,
                     "the token is empty or over %u bytes", MTV_MAX_JWT);
    dot1 = memchr(jwt, '.', jwt_len);
    dot2 = dot1 != NULL ? memchr(dot1 + 1, '.', jwt_len - (size_t)(dot1 + 1 - jwt)) : NULL;
    if (dot2 == NULL || memchr(dot2 + 1, '.', jwt_len - (size_t)(dot2 + 1 - jwt)) != NULL)
        return jfail(reason, reason_len, "token_malformed", why, why_len,
                     "the token is not a compact JWS of three parts");
    e = decode_json_part(jwt, (size_t)(dot1 - jwt), &hdr);
    if (e == MT_OK)
        e = decode_json_part(dot1 + 1, (size_t)(dot2 - dot1 - 1), &pl);
    if (e == MT_ERR_NOMEM)
        goto out;
    if (e != MT_OK) {
        e = jfail(reason, reason_len, "token_malformed", why, why_len,
                  "the token's header or payload is not base64url JSON");
        goto out;
    }
    alg_name = json_string_value(json_object_get(hdr, "alg"));
    for (i = 0; alg_name != NULL && i < sizeof(algs) / sizeof(algs[0]); i++)
        if (strcmp(alg_name, algs[i].name) == 0)
            a = &algs[i];
    if (a == NULL) {
        e = jfail(reason, reason_len, "algorithm", why, why_len,
                  "alg \"%.32s\" is not allowed (RS256, PS384, ES256, ES384)",
                  alg_name != NULL ? alg_name : "(none)");
        goto out;
    }
    if (json_object_get(hdr, "crit") != NULL) {
        e = jfail(reason, reason_len, "token_malformed", why, why_len,
                  "the header has crit extensions, none are understood");
        goto out;
    }
    kid = json_string_value(json_object_get(hdr, "kid"));
    if (kid == NULL) {
        e = jfail(reason, reason_len, "unknown_kid", why, why_len, "the header has no kid");
        goto out;
    }
    e = mt_json_parse(jwks, jwks_len, MTV_MAX_JWKS, &set);
    if (e == MT_ERR_NOMEM)
        goto out;
    if (e != MT_OK || !json_is_array(json_object_get(set, "keys"))) {
        e = jfail(reason, reason_len, "jwks_invalid", why, why_len,
                  "the JWKS is not {\"keys\":[...]}");
        goto out;
    }
    json_array_foreach(json_object_get(set, "keys"), i, k)
    {
        const char *kk = json_string_value(json_object_get(k, "kid"));
        if (json_is_object(k) && kk != NULL && strcmp(kk, kid) == 0) {
            jwk = k;
            nmatch++;
        }
    }
    if (nmatch != 1) {
        e = jfail(reason, reason_len, "unknown_kid", why, why_len,
                  nmatch == 0 ? "kid \"%.64s\" is not in the JWKS"
                              : "kid \"%.64s\" is in the JWKS more than once",
                  kid);
        goto out;
    }
    if ((json_object_get(jwk, "alg") != NULL &&
         (!json_is_string(json_object_get(jwk, "alg")) ||
          strcmp(json_string_value(json_object_get(jwk, "alg")), a->name) != 0)) ||
        (json_object_get(jwk, "use") != NULL &&
         (!json_is_string(json_object_get(jwk, "use")) ||
          strcmp(json_string_value(json_object_get(jwk, "use")), "sig") != 0))) {
        e = jfail(reason, reason_len, "algorithm", why, why_len,
                  "key %.64s is not for signatures with %s", kid, a->name);
        goto out;
    }
    e = jwk_key(jwk, a, &key, why, why_len);
    if (e == MT_ERR_NOMEM)
        goto out;
    if (e != MT_OK) {
        snprintf(reason, reason_len, "key_invalid");
        goto out;
    }
    e = mtv_b64url_decode(dot2 + 1, jwt_len - (size_t)(dot2 + 1 - jwt), 1024, &sig, &sig_len);
    if (e == MT_ERR_NOMEM)
        goto out;
    r = e == MT_OK ? sig_ok(key, a, jwt, (size_t)(dot2 - jwt), sig, sig_len) : 0;
    if (r < 0) {
        e = MT_ERR_NOMEM;
        goto out;
    }
    if (r != 1) {
        e = jfail(reason, reason_len, "signature", why, why_len,
                  "the %s signature does not verify with key %.64s", a->name, kid);
        goto out;
    }
    /* Signed: now the claims may be read. */
    iss = json_string_value(json_object_get(pl, "iss"));
    if (iss == NULL || strcmp(iss, issuer) != 0) {
        e = jfail(reason, reason_len, "issuer", why, why_len, "iss \"%.200s\" is not %.200s",
                  iss != NULL ? iss : "(none)", issuer);
        goto out;
    }
    r = num_date(pl, "exp", &exp);
    if (r != 1) {
        e = jfail(reason, reason_len, "expired", why, why_len,
                  "the token has no numeric exp claim");
        goto out;
    }
    if (now > exp && now - exp > MTV_JWT_SKEW) {
        e = jfail(reason, reason_len, "expired", why, why_len,
                  "the token expired at %lld (now %lld, skew %d s)", (long long)exp, (long long)now,
                  MTV_JWT_SKEW);
        goto out;
    }
    r = num_date(pl, "nbf", &nbf);
    if (r < 0 || (r == 1 && nbf > now && nbf - now > MTV_JWT_SKEW)) {
        e = jfail(reason, reason_len, "not_yet_valid", why, why_len,
                  "the token is not valid before %lld (now %lld)", (long long)nbf, (long long)now);
        goto out;
    }
    *claims = pl;
    pl = NULL;
    e = MT_OK;
out:
    json_decref(hdr);
    json_decref(pl);
    json_decref(set);
    EVP_PKEY_free(key);
    mt_free(sig);
    return e;
}

/* The JWT of an appraisal answer, at the fixed paths the reference uses (6.1 step 3). */
static const char *
find_token(const json_t *resp, size_t *len)
{
    static const char *const top[] = {"token", "attestationToken", "attestation_token",
                                      "jwt",   "signed_token",     "signedToken"};
    static const char *const nested[][2] = {{"data", "token"},
                                            {"data", "attestationToken"},
                                            {"data", "attestation_token"},
                                            {"result", "token"},
                                            {"response", "token"}};
    const json_t *v = NULL;
    const char *s;
    size_t i;

    for (i = 0; v == NULL && i < sizeof(top) / sizeof(top[0]); i++)
        v = json_is_string(json_object_get(resp, top[i])) ? json_object_get(resp, top[i]) : NULL;
    for (i = 0; v == NULL && i < sizeof(nested) / sizeof(nested[0]); i++) {
        const json_t *x = json_object_get(json_object_get(resp, nested[i][0]), nested[i][1]);
        v = json_is_string(x) ? x : NULL;
    }
    if (v == NULL)
        return NULL;
    s = json_string_value(v);
    *len = json_string_length(v);
    if (*len > 7 && strncmp(s, "Bearer ", 7) == 0) {
        s += 7;
        *len -= 7;
    }
    return s;
}

/* A TDX claim, at the top level or under "tdx" (ITA v2 tokens nest them). */
static const char *
tdx_claim(const json_t *claims, const char *name)
{
    const json_t *v = json_object_get(claims, name);

    if (v == NULL)
        v = json_object_get(json_object_get(claims, "tdx"), name);
    return json_string_value(v);
}

/* Lowercase letters and digits only: "UpToDate" and "up_to_date" compare equal. */
static void
norm_status(const char *in, char *out, size_t out_len)
{
    size_t n = 0;

    for (; in != NULL && *in != '\0' && n + 1 < out_len; in++) {
        char c = *in;
        if (c >= 'A' && c <= 'Z')
            out[n++] = (char)(c - 'A' + 'a');
        else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
            out[n++] = c;
    }
    out[n] = '\0';
}

/* Compare the token's claims with the local result; evidence gets per-claim rows. */
static int
claims_agree(const json_t *claims, const json_t *meas, json_t *rows, char *first, size_t first_len)
{
    static const char *const pairs[][2] = {
        {"tdx_mrtd", "mrtd"},   {"tdx_rtmr0", "rtmr0"}, {"tdx_rtmr1", "rtmr1"},
        {"tdx_rtmr2", "rtmr2"}, {"tdx_rtmr3", "rtmr3"}, {"tdx_report_data", "reportData"},
    };
    char a[64], b[64];
    const char *ita, *local;
    size_t i;
    int ok = 1, m;

    first[0] = '\0';
    for (i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        ita = tdx_claim(claims, pairs[i][0]);
        local = json_string_value(json_object_get(meas, pairs[i][1]));
        m = ita != NULL && local != NULL && strcasecmp(ita, local) == 0;
        json_object_set_new(rows, pairs[i][0],
                            json_pack("{s:s?,s:s?,s:b}", "ita", ita, "local", local, "match", m));
        if (!m && ok) {
            ok = 0;
            snprintf(first, first_len, "%s", pairs[i][0]);
        }
    }
    ita = tdx_claim(claims, "attester_tcb_status");
    local = json_string_value(json_object_get(meas, "tcbStatus"));
    norm_status(ita, a, sizeof(a));
    norm_status(local, b, sizeof(b));
    m = ita != NULL && local != NULL && strcmp(a, b) == 0;
    json_object_set_new(rows, "attester_tcb_status",
                        json_pack("{s:s?,s:s?,s:b}", "ita", ita, "local", local, "match", m));
    if (!m && ok) {
        ok = 0;
        snprintf(first, first_len, "attester_tcb_status");
    }
    return ok;
}

static json_t *
one(json_t *tmp)
{
    json_t *c = json_array_get(tmp, 0);

    json_incref(c);
    json_decref(tmp);
    return c;
}

json_t *
mtv_ita_check(struct mtv_service *s, const uint8_t *quote, size_t quote_len,
              const json_t *measurements)
{
    const struct mtv_config *c = mtv_service_config(s);
    json_t *tmp = json_array(), *req = NULL, *resp = NULL, *claims = NULL, *rows, *ev;
    char why[512] = "", reason[32] = "", hdr1[MTV_MAX_STR + 16], hdr2[MTV_MAX_STR + 16], first[32];
    const char *headers[3] = {hdr1, hdr2, NULL}, *tok;
    char *b64 = NULL, *body = NULL, *text = NULL, *jwks = NULL;
    size_t text_len = 0, jwks_len = 0, tok_len = 0;
    long status = 0;
    mt_err e;

    if (tmp == NULL)
        return NULL;
    if (c->ita_api_key[0] == '\0') {
        mtv_check(tmp, "ita", "skipped", NULL,
                  "ITA_API_KEY is not configured: no Intel Trust Authority appraisal");
        return one(tmp);
    }
    if (!json_is_true(json_object_get(measurements, "quoteVerified"))) {
        mtv_check(tmp, "ita", "skipped", NULL,
                  "the quote did not verify locally: nothing to compare an appraisal with");
        return one(tmp);
    }
    b64 = mt_b64_encode_alloc(quote, quote_len);
    req = b64 != NULL ? json_pack("{s:{s:s}}", "tdx", "quote", b64) : NULL;
    body = req != NULL ? json_dumps(req, JSON_COMPACT) : NULL;
    if (body == NULL) {
        mtv_check(tmp, "ita", "fail", json_pack("{s:s}", "reason", "internal"), "out of memory");
        goto out;
    }
    snprintf(hdr1, sizeof(hdr1), "x-api-key: %s", c->ita_api_key);
    snprintf(hdr2, sizeof(hdr2), "api-key: %s", c->ita_api_key);
    e = mtv_fetch(c, c->ita_url, "", body, headers, MTV_ITA_MAX_RESPONSE, &status, &text, &text_len,
                  why, sizeof(why));
    if (e != MT_OK) {
        mtv_check(tmp, "ita", "fail",
                  json_pack("{s:s,s:s,s:I}", "reason", "appraisal_failed", "code", mt_err_code(e),
                            "httpStatus", (json_int_t)status),
                  "the appraisal request failed: %s", why);
        goto out;
    }
    if (mt_json_parse(text, text_len, MTV_ITA_MAX_RESPONSE, &resp) != MT_OK ||
        (tok = find_token(resp, &tok_len)) == NULL) {
        mtv_check(tmp, "ita", "fail", json_pack("{s:s}", "reason", "appraisal_failed"),
                  "the appraisal answer is not JSON with a token");
        goto out;
    }
    e = mtv_fetch(c, c->ita_jwks_url, "", NULL, NULL, MTV_MAX_JWKS, &status, &jwks, &jwks_len, why,
                  sizeof(why));
    if (e != MT_OK) {
        mtv_check(tmp, "ita", "fail",
                  json_pack("{s:s,s:s}", "reason", "jwks_failed", "code", mt_err_code(e)),
                  "the JWKS could not be fetched: %s", why);
        goto out;
    }
    e = mtv_jwt_verify(tok, tok_len, jwks, jwks_len, c->ita_issuer, (int64_t)time(NULL), &claims,
                       reason, sizeof(reason), why, sizeof(why));
    if (e != MT_OK) {
        mtv_check(tmp, "ita", "fail", json_pack("{s:s}", "reason", reason[0] ? reason : "internal"),
                  "the ITA token does not verify: %s", e == MT_ERR_NOMEM ? "out of memory" : why);
        goto out;
    }
    rows = json_object();
    if (rows == NULL) {
        mtv_check(tmp, "ita", "fail", json_pack("{s:s}", "reason", "internal"), "out of memory");
        goto out;
    }
    if (claims_agree(claims, measurements, rows, first, sizeof(first))) {
        ev = json_pack("{s:s,s:s,s:o}", "issuer", c->ita_issuer, "tcbStatus",
                       tdx_claim(claims, "attester_tcb_status"), "claims", rows);
        mtv_check(tmp, "ita", "pass", ev,
                  "the Intel Trust Authority token verifies and its MRTD, RTMRs, report data "
                  "and TCB status agree with the local result");
    } else {
        ev =
            json_pack("{s:s,s:s,s:o}", "reason", "claims_mismatch", "claim", first, "claims", rows);
        mtv_check(tmp, "ita", "fail", ev,
                  "the verified ITA token disagrees with the local result on %s", first);
    }
out:
    json_decref(claims);
    json_decref(resp);
    json_decref(req);
    mt_free(b64);
    mt_free_libc(body);
    mt_free(text);
    mt_free(jwks);
    return one(tmp);
}
