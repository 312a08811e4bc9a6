#include "testpki/testpki.h"

#include <string.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "util/mt_alloc.h"
#include "util/mt_buf.h"

/*
 * Keys, certificates, CRLs and the Intel SGX extension of the test PKI.
 * Certificates follow the shape of Intel's (dcap-verify.md 2.0 and the
 * samples): AKI, CRL distribution point, SKI, critical keyUsage, critical
 * basicConstraints, and on the PCK leaf the SGX extension.
 */

#define TEST_ORG "mero-tee test PKI (NOT Intel)"
#define DER_LIMIT 4096u
#define PEM_LIMIT (16u * 1024u)

/* 1.2.840.113741.1.13.1, the Intel SGX extension (content octets of the OID). */
static const uint8_t sgx_oid[] = {0x2A, 0x86, 0x48, 0x86, 0xF8, 0x4D, 0x01, 0x0D, 0x01};

static const char *
pck_ca_cn(enum mt_pck_ca ca)
{
    return ca == MT_PCK_CA_PROCESSOR ? "Intel SGX PCK Processor CA" : "Intel SGX PCK Platform CA";
}

/* ---- a tiny bounded DER writer for the SGX extension ---- */

/* Append tag, definite length and n content bytes. */
static mt_err
der_tlv(struct mt_buf *out, uint8_t tag, const uint8_t *c, size_t n)
{
    uint8_t hdr[4];
    size_t h = 0;

    MT_ENSURE(n <= 0xFFFFu, MT_ERR_TOO_LARGE);
    hdr[h++] = tag;
    if (n < 0x80u) {
        hdr[h++] = (uint8_t)n;
    } else if (n <= 0xFFu) {
        hdr[h++] = 0x81;
        hdr[h++] = (uint8_t)n;
    } else {
        hdr[h++] = 0x82;
        hdr[h++] = (uint8_t)(n >> 8);
        hdr[h++] = (uint8_t)n;
    }
    MT_GUARD(mt_buf_append(out, hdr, h));
    return n == 0 ? MT_OK : mt_buf_append(out, c, n);
}

/* A non-negative INTEGER in minimal two's complement (255 is 02 02 00 FF). */
static mt_err
der_uint(struct mt_buf *out, uint8_t tag, uint32_t v)
{
    uint8_t c[5];
    size_t n = 0, i;
    int started = 0;

    for (i = 0; i < 4; i++) {
        uint8_t byte = (uint8_t)(v >> (8 * (3 - i)));

        if (!started && byte == 0 && i < 3)
            continue;
        if (!started && (byte & 0x80u) != 0)
            c[n++] = 0x00;
        started = 1;
        c[n++] = byte;
    }
    return der_tlv(out, tag, c, n);
}

/*
 * SEQUENCE { OID sgx_oid.arcs, value } where value is an already encoded
 * TLV.  Every arc used here is below 128, so each takes one octet.
 */
static mt_err
der_entry(struct mt_buf *out, const uint8_t *arcs, size_t num_arcs, const struct mt_buf *value)
{
    uint8_t oid[sizeof(sgx_oid) + 4];
    struct mt_buf seq;
    mt_err e;

    MT_ENSURE(num_arcs <= 4, MT_ERR_ARG);
    memcpy(oid, sgx_oid, sizeof(sgx_oid));
    memcpy(oid + sizeof(sgx_oid), arcs, num_arcs);
    mt_buf_init(&seq, DER_LIMIT);
    MT_GUARD_GOTO(der_tlv(&seq, 0x06, oid, sizeof(sgx_oid) + num_arcs), e, out);
    MT_GUARD_GOTO(mt_buf_append(&seq, value->p, value->len), e, out);
    MT_GUARD_GOTO(der_tlv(out, 0x30, seq.p, seq.len), e, out);
out:
    mt_buf_free(&seq);
    return e;
}

/* der_entry with a primitive value of the given tag. */
static mt_err
der_entry_prim(struct mt_buf *out, const uint8_t *arcs, size_t num_arcs, uint8_t tag,
               const uint8_t *c, size_t n)
{
    struct mt_buf v;
    mt_err e;

    mt_buf_init(&v, DER_LIMIT);
    MT_GUARD_GOTO(der_tlv(&v, tag, c, n), e, out);
    MT_GUARD_GOTO(der_entry(out, arcs, num_arcs, &v), e, out);
out:
    mt_buf_free(&v);
    return e;
}

/* der_entry with a non-negative INTEGER / ENUMERATED value. */
static mt_err
der_entry_uint(struct mt_buf *out, const uint8_t *arcs, size_t num_arcs, uint8_t tag, uint32_t v)
{
    struct mt_buf b;
    mt_err e;

    mt_buf_init(&b, DER_LIMIT);
    MT_GUARD_GOTO(der_uint(&b, tag, v), e, out);
    MT_GUARD_GOTO(der_entry(out, arcs, num_arcs, &b), e, out);
out:
    mt_buf_free(&b);
    return e;
}

/* der_entry whose value is SEQUENCE { content }. */
static mt_err
der_entry_seq(struct mt_buf *out, const uint8_t *arcs, size_t num_arcs,
              const struct mt_buf *content)
{
    struct mt_buf b;
    mt_err e;

    mt_buf_init(&b, DER_LIMIT);
    MT_GUARD_GOTO(der_tlv(&b, 0x30, content->p, content->len), e, out);
    MT_GUARD_GOTO(der_entry(out, arcs, num_arcs, &b), e, out);
out:
    mt_buf_free(&b);
    return e;
}

/* The TCB member: comp01..16 INTEGERs, PCESVN INTEGER, CPUSVN OCTET STRING. */
static mt_err
sgx_ext_tcb(struct mt_buf *out, const struct mt_testpki_pck_params *pck)
{
    uint8_t arcs[2] = {2, 0};
    unsigned i;

    for (i = 0; i < 16; i++) {
        arcs[1] = (uint8_t)(i + 1);
        MT_GUARD(der_entry_uint(out, arcs, 2, 0x02, pck->cpu_svn[i]));
    }
    arcs[1] = 17;
    MT_GUARD(der_entry_uint(out, arcs, 2, 0x02, pck->pce_svn));
    arcs[1] = 18;
    return der_entry_prim(out, arcs, 2, 0x04, pck->cpu_svn, 16);
}

/* Platform CA leaves also carry PlatformInstanceID and Configuration, like Intel's. */
static mt_err
sgx_ext_platform(struct mt_buf *out, const struct mt_testpki_pck_params *pck)
{
    static const uint8_t yes = 0xFF;
    struct mt_buf conf;
    uint8_t arcs[2] = {7, 0};
    uint8_t six = 6;
    unsigned i;
    mt_err e;

    MT_GUARD(der_entry_prim(out, &six, 1, 0x04, pck->platform_instance_id, 16));
    mt_buf_init(&conf, DER_LIMIT);
    /* dynamicPlatform, cachedKeys, SMTEnabled: all TRUE in the real sample */
    for (i = 1; i <= 3; i++) {
        arcs[1] = (uint8_t)i;
        MT_GUARD_GOTO(der_entry_prim(&conf, arcs, 2, 0x01, &yes, 1), e, out);
    }
    MT_GUARD_GOTO(der_entry_seq(out, arcs, 1, &conf), e, out);
out:
    mt_buf_free(&conf);
    return e;
}

mt_err
mt_testpki_sgx_ext_der(const struct mt_testpki_pck_params *pck, enum mt_pck_ca ca, uint8_t **der,
                       size_t *len)
{
    struct mt_buf tcb, top, ext;
    uint8_t arc;
    mt_err e;

    MT_ENSURE(pck->sgx_type >= 0 && pck->sgx_type <= 255, MT_ERR_ARG);
    mt_buf_init(&tcb, DER_LIMIT);
    mt_buf_init(&top, DER_LIMIT);
    mt_buf_init(&ext, DER_LIMIT);
    arc = 1;
    MT_GUARD_GOTO(der_entry_prim(&top, &arc, 1, 0x04, pck->ppid, 16), e, out);
    MT_GUARD_GOTO(sgx_ext_tcb(&tcb, pck), e, out);
    arc = 2;
    MT_GUARD_GOTO(der_entry_seq(&top, &arc, 1, &tcb), e, out);
    arc = 3;
    MT_GUARD_GOTO(der_entry_prim(&top, &arc, 1, 0x04, pck->pce_id, 2), e, out);
    arc = 4;
    MT_GUARD_GOTO(der_entry_prim(&top, &arc, 1, 0x04, pck->fmspc, 6), e, out);
    arc = 5;
    MT_GUARD_GOTO(der_entry_uint(&top, &arc, 1, 0x0A, (uint32_t)pck->sgx_type), e, out);
    if (ca == MT_PCK_CA_PLATFORM)
        MT_GUARD_GOTO(sgx_ext_platform(&top, pck), e, out);
    MT_GUARD_GOTO(der_tlv(&ext, 0x30, top.p, top.len), e, out);
    *der = mt_buf_take(&ext, len);
out:
    mt_buf_free(&tcb);
    mt_buf_free(&top);
    mt_buf_free(&ext);
    return e;
}

/* ---- keys and raw ECDSA ---- */

mt_err
mt_testpki_pub_raw(EVP_PKEY *key, uint8_t xy[64])
{
    uint8_t pt[65];
    size_t n = 0;

    MT_ENSURE(key != NULL, MT_ERR_ARG);
    MT_ENSURE(EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pt,
                                              sizeof(pt), &n) == 1,
              MT_ERR_CRYPTO);
    /* uncompressed SEC1 point: 0x04 || X || Y */
    MT_ENSURE(n == sizeof(pt) && pt[0] == 0x04, MT_ERR_CRYPTO);
    memcpy(xy, pt + 1, 64);
    return MT_OK;
}

/* SHA-1 of the public point: the RFC 5280 method 1 key identifier Intel uses. */
static mt_err
key_id(EVP_PKEY *key, uint8_t id[20])
{
    uint8_t pt[65];
    unsigned int n = 0;

    pt[0] = 0x04;
    MT_GUARD(mt_testpki_pub_raw(key, pt + 1));
    MT_ENSURE(EVP_Digest(pt, sizeof(pt), id, &n, EVP_sha1(), NULL) == 1 && n == 20, MT_ERR_CRYPTO);
    return MT_OK;
}

mt_err
mt_testpki_sign_raw(EVP_PKEY *key, const uint8_t *msg, size_t len, uint8_t sig[64])
{
    EVP_MD_CTX *ctx = NULL;
    ECDSA_SIG *es = NULL;
    uint8_t der[80];
    const uint8_t *dp = der;
    const BIGNUM *r, *s;
    size_t dlen = sizeof(der);
    mt_err e = MT_ERR_CRYPTO;

    ctx = EVP_MD_CTX_new();
    if (ctx == NULL)
        goto out;
    if (EVP_DigestSignInit_ex(ctx, NULL, "SHA256", NULL, NULL, key, NULL) != 1)
        goto out;
    if (EVP_DigestSign(ctx, der, &dlen, msg, len) != 1 || dlen > sizeof(der))
        goto out;
    es = d2i_ECDSA_SIG(NULL, &dp, (long)dlen);
    if (es == NULL || dp != der + dlen)
        goto out;
    ECDSA_SIG_get0(es, &r, &s);
    if (BN_bn2binpad(r, sig, 32) != 32 || BN_bn2binpad(s, sig + 32, 32) != 32)
        goto out;
    e = MT_OK;
out:
    ECDSA_SIG_free(es);
    EVP_MD_CTX_free(ctx);
    return e;
}

/* ---- names, extensions ---- */

static X509_NAME *
name_new(const char *cn)
{
    static const struct {
        const char *field;
        const char *value;
    } rest[] = {{"O", TEST_ORG}, {"L", "Santa Clara"}, {"ST", "CA"}, {"C", "US"}};
    X509_NAME *n = X509_NAME_new();
    size_t i;

    if (n == NULL)
        return NULL;
    if (X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0) !=
        1)
        goto fail;
    for (i = 0; i < sizeof(rest) / sizeof(rest[0]); i++) {
        if (X509_NAME_add_entry_by_txt(n, rest[i].field, MBSTRING_UTF8,
                                       (const unsigned char *)rest[i].value, -1, -1, 0) != 1)
            goto fail;
    }
    return n;
fail:
    X509_NAME_free(n);
    return NULL;
}

static AUTHORITY_KEYID *
akid_new(EVP_PKEY *issuer_key)
{
    AUTHORITY_KEYID *a;
    uint8_t id[20];

    if (key_id(issuer_key, id) != MT_OK)
        return NULL;
    a = AUTHORITY_KEYID_new();
    if (a == NULL)
        return NULL;
    a->keyid = ASN1_OCTET_STRING_new();
    if (a->keyid == NULL || ASN1_OCTET_STRING_set(a->keyid, id, sizeof(id)) != 1) {
        AUTHORITY_KEYID_free(a);
        return NULL;
    }
    return a;
}

/* Add one extension from its OpenSSL config-string form. */
static mt_err
add_conf_ext(X509 *x, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509_EXTENSION *ext;
    int ok;

    X509V3_set_ctx(&ctx, NULL, x, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    MT_ENSURE(ext != NULL, MT_ERR_CRYPTO);
    ok = X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    MT_ENSURE(ok == 1, MT_ERR_CRYPTO);
    return MT_OK;
}

static mt_err
add_aki(X509 *x, EVP_PKEY *issuer_key)
{
    AUTHORITY_KEYID *akid = akid_new(issuer_key);
    int ok;

    MT_ENSURE(akid != NULL, MT_ERR_CRYPTO);
    ok = X509_add1_ext_i2d(x, NID_authority_key_identifier, akid, 0, 0);
    AUTHORITY_KEYID_free(akid);
    MT_ENSURE(ok == 1, MT_ERR_CRYPTO);
    return MT_OK;
}

static mt_err
add_ski(X509 *x, EVP_PKEY *subject_key)
{
    ASN1_OCTET_STRING *skid;
    uint8_t id[20];
    int ok;

    MT_GUARD(key_id(subject_key, id));
    skid = ASN1_OCTET_STRING_new();
    MT_ENSURE(skid != NULL, MT_ERR_NOMEM);
    ok = ASN1_OCTET_STRING_set(skid, id, sizeof(id)) == 1 &&
         X509_add1_ext_i2d(x, NID_subject_key_identifier, skid, 0, 0) == 1;
    ASN1_OCTET_STRING_free(skid);
    MT_ENSURE(ok, MT_ERR_CRYPTO);
    return MT_OK;
}

static mt_err
add_sgx_ext(X509 *x, const struct mt_testpki_pck_params *pck, enum mt_pck_ca ca)
{
    ASN1_OBJECT *obj = NULL;
    ASN1_OCTET_STRING *os = NULL;
    X509_EXTENSION *ext = NULL;
    uint8_t *der = NULL;
    size_t len = 0;
    mt_err e;

    MT_GUARD_GOTO(mt_testpki_sgx_ext_der(pck, ca, &der, &len), e, out);
    e = MT_ERR_CRYPTO;
    obj = OBJ_txt2obj("1.2.840.113741.1.13.1", 1);
    os = ASN1_OCTET_STRING_new();
    if (obj == NULL || os == NULL || ASN1_OCTET_STRING_set(os, der, (int)len) != 1)
        goto out;
    ext = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, os);
    if (ext == NULL || X509_add_ext(x, ext, -1) != 1)
        goto out;
    e = MT_OK;
out:
    X509_EXTENSION_free(ext);
    ASN1_OCTET_STRING_free(os);
    ASN1_OBJECT_free(obj);
    mt_free(der);
    return e;
}

/* ---- breaking signatures ---- */

/*
 * Flip the last byte of a DER signed object when cond is set.  In
 * certificates and CRLs it is the last octet of the ECDSA s INTEGER inside
 * the signature BIT STRING, so the encoding stays valid and only the
 * signature check fails.
 */
static void
bit_flip_if(unsigned cond, unsigned char *der, int n)
{
    if (cond != 0 && n > 0)
        der[n - 1] ^= 0x01;
}

/* Re-encode *x with a broken signature (X509 objects cache their encoding). */
static mt_err
cert_break(X509 **x)
{
    unsigned char *der = NULL;
    const unsigned char *p;
    X509 *nx;
    int n = i2d_X509(*x, &der);

    MT_ENSURE(n > 0, MT_ERR_CRYPTO);
    bit_flip_if(1, der, n);
    p = der;
    nx = d2i_X509(NULL, &p, n);
    OPENSSL_free(der);
    MT_ENSURE(nx != NULL, MT_ERR_CRYPTO);
    X509_free(*x);
    *x = nx;
    return MT_OK;
}

/* ---- certificates ---- */

struct cert_spec {
    enum mt_testpki_cert which;
    const char *cn;
    EVP_PKEY *key;
    EVP_PKEY *issuer_key;
    X509 *issuer; /* NULL: self-signed */
    const char *key_usage;
    const char *basic;
    const char *crl_dp;
};

static mt_err
cert_make(const struct cert_spec *s, const struct mt_testpki_params *p, X509 **out)
{
    const struct mt_testpki_cert_params *cp = &p->cert[s->which];
    X509 *x = NULL;
    X509_NAME *name = NULL;
    mt_err e = MT_ERR_CRYPTO;

    x = X509_new();
    name = name_new(s->cn);
    if (x == NULL || name == NULL)
        goto out;
    if (X509_set_version(x, X509_VERSION_3) != 1 ||
        ASN1_INTEGER_set_uint64(X509_get_serialNumber(x), cp->serial) != 1 ||
        X509_set_subject_name(x, name) != 1 ||
        X509_set_issuer_name(x, s->issuer != NULL ? X509_get_subject_name(s->issuer) : name) != 1 ||
        ASN1_TIME_set(X509_getm_notBefore(x), (time_t)cp->not_before) == NULL ||
        ASN1_TIME_set(X509_getm_notAfter(x), (time_t)cp->not_after) == NULL ||
        X509_set_pubkey(x, s->key) != 1)
        goto out;
    /* Intel's order: AKI, CRL distribution point, SKI, keyUsage, basicConstraints */
    MT_GUARD_GOTO(add_aki(x, s->issuer_key), e, out);
    MT_GUARD_GOTO(add_conf_ext(x, NID_crl_distribution_points, s->crl_dp), e, out);
    MT_GUARD_GOTO(add_ski(x, s->key), e, out);
    MT_GUARD_GOTO(add_conf_ext(x, NID_key_usage, s->key_usage), e, out);
    MT_GUARD_GOTO(add_conf_ext(x, NID_basic_constraints, s->basic), e, out);
    if (s->which == MT_TESTPKI_PCK_LEAF)
        MT_GUARD_GOTO(add_sgx_ext(x, &p->pck, p->ca_type), e, out);
    e = MT_ERR_CRYPTO;
    if (X509_sign(x, s->issuer_key, EVP_sha256()) <= 0)
        goto out;
    e = MT_OK;
    *out = x;
    x = NULL;
out:
    X509_NAME_free(name);
    X509_free(x);
    return e;
}

static unsigned
break_bit(enum mt_testpki_cert which)
{
    switch (which) {
    case MT_TESTPKI_ROOT:
        return MT_TESTPKI_BREAK_ROOT;
    case MT_TESTPKI_PCK_CA:
        return MT_TESTPKI_BREAK_PCK_CA;
    case MT_TESTPKI_PCK_LEAF:
        return MT_TESTPKI_BREAK_PCK_LEAF;
    case MT_TESTPKI_TCB_SIGNER:
        return MT_TESTPKI_BREAK_TCB_SIGNER;
    default:
        return 0;
    }
}

/*
 * Who issues whom and with which usage.  Leaves made CAs (to test the
 * CA-as-leaf checks) also get keyCertSign, or X509_check_ca() would still
 * call them non-CAs.
 */
static const struct {
    const char *cn; /* NULL: the PCK CA, named after its type */
    int issuer;
    const char *ca_basic;
    const char *ca_usage;
    const char *leaf_usage;
} layout[MT_TESTPKI_NUM_CERTS] = {
    [MT_TESTPKI_ROOT] = {"Intel SGX Root CA", MT_TESTPKI_ROOT, "critical,CA:TRUE,pathlen:1",
                         "critical,keyCertSign,cRLSign", "critical,keyCertSign,cRLSign"},
    [MT_TESTPKI_PCK_CA] = {NULL, MT_TESTPKI_ROOT, "critical,CA:TRUE,pathlen:0",
                           "critical,keyCertSign,cRLSign", "critical,keyCertSign,cRLSign"},
    [MT_TESTPKI_PCK_LEAF] = {"Intel SGX PCK Certificate", MT_TESTPKI_PCK_CA, "critical,CA:TRUE",
                             "critical,digitalSignature,nonRepudiation,keyCertSign,cRLSign",
                             "critical,digitalSignature,nonRepudiation"},
    [MT_TESTPKI_TCB_SIGNER] = {"Intel SGX TCB Signing", MT_TESTPKI_ROOT, "critical,CA:TRUE",
                               "critical,digitalSignature,nonRepudiation,keyCertSign,cRLSign",
                               "critical,digitalSignature,nonRepudiation"},
};

static const char *
crl_dp(enum mt_testpki_cert which, enum mt_pck_ca ca)
{
    if (which != MT_TESTPKI_PCK_LEAF)
        return "URI:https://certificates.trustedservices.intel.com/IntelSGXRootCA.der";
    return ca == MT_PCK_CA_PROCESSOR ? "URI:https://api.trustedservices.intel.com/sgx/"
                                       "certification/v4/pckcrl?ca=processor&encoding=der"
                                     : "URI:https://api.trustedservices.intel.com/sgx/"
                                       "certification/v4/pckcrl?ca=platform&encoding=der";
}

mt_err
mt_testpki_issue(struct mt_testpki *pki, const struct mt_testpki_params *p)
{
    X509 *certs[MT_TESTPKI_NUM_CERTS] = {NULL, NULL, NULL, NULL};
    struct cert_spec s;
    unsigned char *der = NULL;
    uint8_t *root_der = NULL;
    int i, n;
    mt_err e = MT_OK;

    MT_ENSURE(p->ca_type == MT_PCK_CA_PLATFORM || p->ca_type == MT_PCK_CA_PROCESSOR, MT_ERR_ARG);
    /* in enum order, so every issuer exists before what it issues */
    for (i = 0; i < MT_TESTPKI_NUM_CERTS; i++) {
        const int ca = p->cert[i].ca;

        memset(&s, 0, sizeof(s));
        s.which = (enum mt_testpki_cert)i;
        s.cn = layout[i].cn != NULL ? layout[i].cn : pck_ca_cn(p->ca_type);
        s.key = pki->key[i];
        s.issuer = i == MT_TESTPKI_ROOT ? NULL : certs[layout[i].issuer];
        s.issuer_key = pki->key[layout[i].issuer];
        s.basic = ca ? layout[i].ca_basic : "critical,CA:FALSE";
        s.key_usage = ca ? layout[i].ca_usage : layout[i].leaf_usage;
        s.crl_dp = crl_dp(s.which, p->ca_type);
        MT_GUARD_GOTO(cert_make(&s, p, &certs[i]), e, out);
    }
    /* break after all are issued: issuers are found by name, not by signature */
    for (i = 0; i < MT_TESTPKI_NUM_CERTS; i++) {
        if ((p->broken & break_bit((enum mt_testpki_cert)i)) != 0)
            MT_GUARD_GOTO(cert_break(&certs[i]), e, out);
    }
    n = i2d_X509(certs[MT_TESTPKI_ROOT], &der);
    MT_ENSURE_GOTO(n > 0, MT_ERR_CRYPTO, e, out);
    root_der = mt_malloc((size_t)n);
    MT_ENSURE_GOTO(root_der != NULL, MT_ERR_NOMEM, e, out);
    memcpy(root_der, der, (size_t)n);

    /* nothing can fail from here: replace the old certificates all at once */
    for (i = 0; i < MT_TESTPKI_NUM_CERTS; i++) {
        X509_free(pki->cert[i]);
        pki->cert[i] = certs[i];
        certs[i] = NULL;
    }
    mt_free(pki->root_der);
    pki->root_der = root_der;
    pki->root_der_len = (size_t)n;
    root_der = NULL;
    pki->ca_type = p->ca_type;
out:
    for (i = 0; i < MT_TESTPKI_NUM_CERTS; i++)
        X509_free(certs[i]);
    OPENSSL_free(der);
    mt_free(root_der);
    return e;
}

/* ---- CRLs ---- */

static mt_err
crl_add_revoked(X509_CRL *crl, uint64_t serial, ASN1_TIME *when)
{
    X509_REVOKED *r = X509_REVOKED_new();
    ASN1_INTEGER *sn = ASN1_INTEGER_new();
    mt_err e = MT_ERR_CRYPTO;

    if (r == NULL || sn == NULL || ASN1_INTEGER_set_uint64(sn, serial) != 1 ||
        X509_REVOKED_set_serialNumber(r, sn) != 1 || X509_REVOKED_set_revocationDate(r, when) != 1)
        goto out;
    if (X509_CRL_add0_revoked(crl, r) != 1)
        goto out;
    r = NULL;
    e = MT_OK;
out:
    ASN1_INTEGER_free(sn);
    X509_REVOKED_free(r);
    return e;
}

/* Fill and sign crl; the caller owns every argument. */
static mt_err
crl_fill(X509_CRL *crl, const struct mt_testpki_crl_params *cp, const X509_NAME *issuer,
         EVP_PKEY *aki_key, EVP_PKEY *sign_key)
{
    ASN1_TIME *this_up = ASN1_TIME_set(NULL, (time_t)cp->this_update);
    ASN1_TIME *next_up = ASN1_TIME_set(NULL, (time_t)cp->next_update);
    ASN1_INTEGER *number = ASN1_INTEGER_new();
    AUTHORITY_KEYID *akid = akid_new(aki_key);
    size_t i;
    mt_err e = MT_ERR_CRYPTO;

    if (this_up == NULL || next_up == NULL || number == NULL || akid == NULL)
        goto out;
    if (X509_CRL_set_version(crl, X509_CRL_VERSION_2) != 1 ||
        X509_CRL_set_issuer_name(crl, issuer) != 1 || X509_CRL_set1_lastUpdate(crl, this_up) != 1 ||
        X509_CRL_set1_nextUpdate(crl, next_up) != 1)
        goto out;
    MT_ENSURE_GOTO(cp->num_revoked <= MT_TESTPKI_MAX_REVOKED, MT_ERR_ARG, e, out);
    for (i = 0; i < cp->num_revoked; i++)
        MT_GUARD_GOTO(crl_add_revoked(crl, cp->revoked[i], this_up), e, out);
    e = MT_ERR_CRYPTO;
    if (ASN1_INTEGER_set(number, 1) != 1 ||
        X509_CRL_add1_ext_i2d(crl, NID_crl_number, number, 0, 0) != 1 ||
        X509_CRL_add1_ext_i2d(crl, NID_authority_key_identifier, akid, 0, 0) != 1)
        goto out;
    if (X509_CRL_sort(crl) != 1 || X509_CRL_sign(crl, sign_key, EVP_sha256()) <= 0)
        goto out;
    e = MT_OK;
out:
    AUTHORITY_KEYID_free(akid);
    ASN1_INTEGER_free(number);
    ASN1_TIME_free(next_up);
    ASN1_TIME_free(this_up);
    return e;
}

mt_err
mt_testpki_crl_der(const struct mt_testpki *pki, const struct mt_testpki_params *p,
                   enum mt_testpki_crl which, uint8_t **der, size_t *len)
{
    const struct mt_testpki_crl_params *cp;
    const int issuer_idx = which == MT_TESTPKI_ROOT_CRL ? MT_TESTPKI_ROOT : MT_TESTPKI_PCK_CA;
    X509_CRL *crl = NULL;
    X509_NAME *other_name = NULL;
    EVP_PKEY *fresh = NULL;
    EVP_PKEY *aki_key, *sign_key;
    const X509_NAME *issuer;
    unsigned char *d = NULL;
    uint8_t *copy;
    int n;
    mt_err e = MT_ERR_CRYPTO;

    MT_ENSURE(which == MT_TESTPKI_ROOT_CRL || which == MT_TESTPKI_PCK_CRL, MT_ERR_ARG);
    cp = &p->crl[which];
    issuer = X509_get_subject_name(pki->cert[issuer_idx]);
    aki_key = pki->key[issuer_idx];
    sign_key = aki_key;
    if (cp->wrong_key || (which == MT_TESTPKI_PCK_CRL && cp->other_ca)) {
        fresh = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
        if (fresh == NULL)
            goto out;
        sign_key = fresh;
    }
    if (which == MT_TESTPKI_PCK_CRL && cp->other_ca) {
        /* a CA of the other type has its own name and key: nothing matches the leaf */
        other_name = name_new(pck_ca_cn(pki->ca_type == MT_PCK_CA_PLATFORM ? MT_PCK_CA_PROCESSOR
                                                                           : MT_PCK_CA_PLATFORM));
        if (other_name == NULL)
            goto out;
        issuer = other_name;
        aki_key = fresh;
    }
    crl = X509_CRL_new();
    if (crl == NULL)
        goto out;
    MT_GUARD_GOTO(crl_fill(crl, cp, issuer, aki_key, sign_key), e, out);
    e = MT_ERR_CRYPTO;
    n = i2d_X509_CRL(crl, &d);
    if (n <= 0)
        goto out;
    bit_flip_if(p->broken & (which == MT_TESTPKI_ROOT_CRL ? MT_TESTPKI_BREAK_ROOT_CRL
                                                          : MT_TESTPKI_BREAK_PCK_CRL),
                d, n);
    copy = mt_malloc((size_t)n);
    MT_ENSURE_GOTO(copy != NULL, MT_ERR_NOMEM, e, out);
    memcpy(copy, d, (size_t)n);
    *der = copy;
    *len = (size_t)n;
    e = MT_OK;
out:
    OPENSSL_free(d);
    X509_CRL_free(crl);
    X509_NAME_free(other_name);
    EVP_PKEY_free(fresh);
    return e;
}

/* ---- PEM chains ---- */

mt_err
mt_testpki_chain_pem(const struct mt_testpki *pki, enum mt_testpki_chain which, int trailing_nul,
                     char **out, size_t *len)
{
    static const int chains[3][4] = {
        {MT_TESTPKI_PCK_LEAF, MT_TESTPKI_PCK_CA, MT_TESTPKI_ROOT, -1},
        {MT_TESTPKI_TCB_SIGNER, MT_TESTPKI_ROOT, -1, -1},
        {MT_TESTPKI_PCK_CA, MT_TESTPKI_ROOT, -1, -1},
    };
    struct mt_buf b;
    BIO *bio = NULL;
    char *data;
    long n;
    int i;
    mt_err e = MT_ERR_CRYPTO;

    MT_ENSURE(which >= MT_TESTPKI_CHAIN_PCK && which <= MT_TESTPKI_CHAIN_PCK_CRL, MT_ERR_ARG);
    mt_buf_init(&b, PEM_LIMIT);
    bio = BIO_new(BIO_s_mem());
    if (bio == NULL)
        goto out;
    for (i = 0; i < 4 && chains[which][i] >= 0; i++) {
        if (PEM_write_bio_X509(bio, pki->cert[chains[which][i]]) != 1)
            goto out;
    }
    n = BIO_get_mem_data(bio, &data);
    if (n <= 0)
        goto out;
    MT_GUARD_GOTO(mt_buf_append(&b, data, (size_t)n), e, out);
    if (trailing_nul)
        MT_GUARD_GOTO(mt_buf_append(&b, "", 1), e, out);
    *out = (char *)mt_buf_take(&b, len);
    e = MT_OK;
out:
    BIO_free(bio);
    mt_buf_free(&b);
    return e;
}
