#include "dcap/pck.h"

#include <stdio.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

/* Members of the SGX extension we require, as bits of a "seen" mask. */
enum {
    SEEN_PPID = 1 << 0,
    SEEN_TCB = 1 << 1,
    SEEN_PCEID = 1 << 2,
    SEEN_FMSPC = 1 << 3,
    SEEN_SGXTYPE = 1 << 4,
    SEEN_REQUIRED = (1 << 5) - 1,
};

const char *
mt_pck_ca_name(enum mt_pck_ca ca)
{
    return ca == MT_PCK_CA_PLATFORM ? "platform" : "processor";
}

/* DER contents of OID 1.2.840.113741.1.13.1, the Intel SGX extension. */
static const uint8_t sgx_ext_oid[] = {0x2a, 0x86, 0x48, 0x86, 0xf8, 0x4d, 0x01, 0x0d, 0x01};

/*
 * The arcs below the SGX extension OID as text ("4", "2.17"), or 0 when the
 * OID is outside it.  Works on the DER bytes: OBJ_obj2txt costs more than
 * the rest of the parse.
 */
static int
sub_arc(const ASN1_OBJECT *obj, char *out, size_t size)
{
    const unsigned char *d = OBJ_get0_data(obj);
    size_t n = OBJ_length(obj), i, used = 0;
    unsigned long arc = 0;
    int w;

    if (d == NULL || n <= sizeof(sgx_ext_oid) || memcmp(d, sgx_ext_oid, sizeof(sgx_ext_oid)) != 0)
        return 0;
    for (i = sizeof(sgx_ext_oid); i < n; i++) {
        if (arc > 0xffffff)
            return 0;
        arc = arc << 7 | (d[i] & 0x7fu);
        if (d[i] & 0x80)
            continue;
        w = snprintf(out + used, size - used, "%s%lu", used == 0 ? "" : ".", arc);
        if (w < 0 || (size_t)w >= size - used)
            return 0;
        used += (size_t)w;
        arc = 0;
    }
    /* An OID may not end inside a multi-byte arc. */
    return arc == 0 && (d[n - 1] & 0x80) == 0 && used > 0;
}

/* A SEQUENCE { OID, value } element; both out pointers borrow from the stack. */
static mt_err
pair_get(STACK_OF(ASN1_TYPE) *pair, char *arc, size_t arc_size, ASN1_TYPE **value)
{
    ASN1_TYPE *oid;

    MT_ENSURE(sk_ASN1_TYPE_num(pair) == 2, MT_ERR_PCK_EXTENSION);
    oid = sk_ASN1_TYPE_value(pair, 0);
    MT_ENSURE(ASN1_TYPE_get(oid) == V_ASN1_OBJECT, MT_ERR_PCK_EXTENSION);
    MT_ENSURE(sub_arc(oid->value.object, arc, arc_size), MT_ERR_PCK_EXTENSION);
    *value = sk_ASN1_TYPE_value(pair, 1);
    return MT_OK;
}

static mt_err
seq_decode(const ASN1_TYPE *t, STACK_OF(ASN1_TYPE) **out)
{
    const unsigned char *p;
    long len;

    MT_ENSURE(ASN1_TYPE_get(t) == V_ASN1_SEQUENCE, MT_ERR_PCK_EXTENSION);
    p = t->value.sequence->data;
    len = t->value.sequence->length;
    *out = d2i_ASN1_SEQUENCE_ANY(NULL, &p, len);
    MT_ENSURE(*out != NULL, MT_ERR_PCK_EXTENSION);
    if (p != t->value.sequence->data + len) {
        sk_ASN1_TYPE_pop_free(*out, ASN1_TYPE_free);
        *out = NULL;
        return MT_ERR_PCK_EXTENSION;
    }
    return MT_OK;
}

static mt_err
octets(const ASN1_TYPE *v, uint8_t *out, size_t n)
{
    MT_ENSURE(ASN1_TYPE_get(v) == V_ASN1_OCTET_STRING, MT_ERR_PCK_EXTENSION);
    MT_ENSURE((size_t)ASN1_STRING_length(v->value.octet_string) == n, MT_ERR_PCK_EXTENSION);
    memcpy(out, ASN1_STRING_get0_data(v->value.octet_string), n);
    return MT_OK;
}

static mt_err
small_int(const ASN1_TYPE *v, int type, int64_t max, int64_t *out)
{
    int64_t i;
    int ok;

    MT_ENSURE(ASN1_TYPE_get(v) == type, MT_ERR_PCK_EXTENSION);
    if (type == V_ASN1_ENUMERATED)
        ok = ASN1_ENUMERATED_get_int64(&i, v->value.enumerated);
    else
        ok = ASN1_INTEGER_get_int64(&i, v->value.integer);
    MT_ENSURE(ok == 1 && i >= 0 && i <= max, MT_ERR_PCK_EXTENSION);
    *out = i;
    return MT_OK;
}

/* "1".."18" to its number; 0 for anything else (longer, leading zero, not a digit). */
static unsigned
tcb_member_number(const char *s)
{
    unsigned k = 0;
    size_t i;

    if (s[0] < '1' || s[0] > '9' || strlen(s) > 2)
        return 0;
    for (i = 0; s[i] != '\0'; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        k = k * 10 + (unsigned)(s[i] - '0');
    }
    return k;
}

/* The TCB member: comp01..16, PCESVN, CPUSVN, each exactly once. */
static mt_err
tcb_parse(const ASN1_TYPE *t, struct mt_pck_info *info)
{
    STACK_OF(ASN1_TYPE) *seq = NULL, *pair = NULL;
    ASN1_TYPE *v;
    char arc[32];
    uint32_t seen = 0;
    int64_t i64;
    unsigned k;
    int i;
    mt_err e = MT_OK;

    MT_GUARD(seq_decode(t, &seq));
    for (i = 0; i < sk_ASN1_TYPE_num(seq); i++) {
        MT_GUARD_GOTO(seq_decode(sk_ASN1_TYPE_value(seq, i), &pair), e, out);
        MT_GUARD_GOTO(pair_get(pair, arc, sizeof(arc), &v), e, out);
        MT_ENSURE_GOTO(strncmp(arc, "2.", 2) == 0, MT_ERR_PCK_EXTENSION, e, out);
        k = tcb_member_number(arc + 2);
        MT_ENSURE_GOTO(k >= 1 && k <= 18 && !(seen & (1u << k)), MT_ERR_PCK_EXTENSION, e, out);
        seen |= 1u << k;
        if (k <= 16) {
            MT_GUARD_GOTO(small_int(v, V_ASN1_INTEGER, 255, &i64), e, out);
            info->tcb_comp[k - 1] = (uint8_t)i64;
        } else if (k == 17) {
            MT_GUARD_GOTO(small_int(v, V_ASN1_INTEGER, UINT16_MAX, &i64), e, out);
            info->pce_svn = (uint16_t)i64;
        } else {
            MT_GUARD_GOTO(octets(v, info->cpu_svn, 16), e, out);
        }
        sk_ASN1_TYPE_pop_free(pair, ASN1_TYPE_free);
        pair = NULL;
    }
    /* All 18 members present. */
    MT_ENSURE_GOTO(seen == 0x7fffeu, MT_ERR_PCK_EXTENSION, e, out);
    /* Intel compares components, dcap-qvl the CPUSVN: they must agree (2.6). */
    MT_ENSURE_GOTO(memcmp(info->tcb_comp, info->cpu_svn, 16) == 0, MT_ERR_PCK_EXTENSION, e, out);
out:
    sk_ASN1_TYPE_pop_free(pair, ASN1_TYPE_free);
    sk_ASN1_TYPE_pop_free(seq, ASN1_TYPE_free);
    return e;
}

static mt_err
member_parse(const char *arc, const ASN1_TYPE *v, struct mt_pck_info *info, uint32_t *seen)
{
    int64_t i64;
    uint32_t bit = 0;

    if (strcmp(arc, "1") == 0) {
        bit = SEEN_PPID;
        MT_GUARD(octets(v, info->ppid, 16));
    } else if (strcmp(arc, "2") == 0) {
        bit = SEEN_TCB;
        MT_GUARD(tcb_parse(v, info));
    } else if (strcmp(arc, "3") == 0) {
        bit = SEEN_PCEID;
        MT_GUARD(octets(v, info->pce_id, 2));
    } else if (strcmp(arc, "4") == 0) {
        bit = SEEN_FMSPC;
        MT_GUARD(octets(v, info->fmspc, 6));
    } else if (strcmp(arc, "5") == 0) {
        bit = SEEN_SGXTYPE;
        MT_GUARD(small_int(v, V_ASN1_ENUMERATED, 2, &i64));
        info->sgx_type = (int)i64;
    }
    /* .6 PlatformInstanceID, .7 Configuration (Platform CA certs) and future
     * members are not needed for verification; they are allowed once each. */
    if (bit != 0) {
        MT_ENSURE(!(*seen & bit), MT_ERR_PCK_EXTENSION);
        *seen |= bit;
    }
    return MT_OK;
}

static mt_err
ca_type(X509 *leaf, enum mt_pck_ca *out)
{
    char cn[128];
    int n;

    n = X509_NAME_get_text_by_NID(X509_get_issuer_name(leaf), NID_commonName, cn, sizeof(cn));
    MT_ENSURE(n > 0 && (size_t)n < sizeof(cn), MT_ERR_PCK_EXTENSION);
    /* go-tdx-guest matches the issuer CN exactly (dcap-verify.md 2.6 step 4). */
    if (strcmp(cn, "Intel SGX PCK Processor CA") == 0)
        *out = MT_PCK_CA_PROCESSOR;
    else if (strcmp(cn, "Intel SGX PCK Platform CA") == 0)
        *out = MT_PCK_CA_PLATFORM;
    else
        return MT_ERR_PCK_EXTENSION;
    return MT_OK;
}

mt_err
mt_pck_info_parse(X509 *leaf, struct mt_pck_info *out)
{
    STACK_OF(ASN1_TYPE) *seq = NULL, *pair = NULL;
    struct mt_pck_info info;
    const ASN1_OBJECT *oid;
    X509_EXTENSION *ext;
    const ASN1_OCTET_STRING *data;
    const unsigned char *p;
    ASN1_TYPE *v;
    char arc[32], seen_other[8][32];
    uint32_t seen = 0;
    int idx, i, j, num_other = 0;
    mt_err e = MT_OK;

    memset(&info, 0, sizeof(info));
    MT_GUARD(ca_type(leaf, &info.ca));
    idx = -1;
    for (i = 0; i < X509_get_ext_count(leaf); i++) {
        oid = X509_EXTENSION_get_object(X509_get_ext(leaf, i));
        if ((size_t)OBJ_length(oid) != sizeof(sgx_ext_oid) ||
            memcmp(OBJ_get0_data(oid), sgx_ext_oid, sizeof(sgx_ext_oid)) != 0)
            continue;
        /* Exactly once. */
        MT_ENSURE(idx < 0, MT_ERR_PCK_EXTENSION);
        idx = i;
    }
    MT_ENSURE(idx >= 0, MT_ERR_PCK_EXTENSION);
    ext = X509_get_ext(leaf, idx);
    data = X509_EXTENSION_get_data(ext);
    p = ASN1_STRING_get0_data(data);
    seq = d2i_ASN1_SEQUENCE_ANY(NULL, &p, ASN1_STRING_length(data));
    MT_ENSURE_GOTO(seq != NULL, MT_ERR_PCK_EXTENSION, e, out);
    MT_ENSURE_GOTO(p == ASN1_STRING_get0_data(data) + ASN1_STRING_length(data),
                   MT_ERR_PCK_EXTENSION, e, out);
    for (i = 0; i < sk_ASN1_TYPE_num(seq); i++) {
        MT_GUARD_GOTO(seq_decode(sk_ASN1_TYPE_value(seq, i), &pair), e, out);
        MT_GUARD_GOTO(pair_get(pair, arc, sizeof(arc), &v), e, out);
        MT_GUARD_GOTO(member_parse(arc, v, &info, &seen), e, out);
        if (strcmp(arc, "1") != 0 && strcmp(arc, "2") != 0 && strcmp(arc, "3") != 0 &&
            strcmp(arc, "4") != 0 && strcmp(arc, "5") != 0) {
            for (j = 0; j < num_other; j++)
                MT_ENSURE_GOTO(strcmp(seen_other[j], arc) != 0, MT_ERR_PCK_EXTENSION, e, out);
            MT_ENSURE_GOTO(num_other < 8, MT_ERR_PCK_EXTENSION, e, out);
            memcpy(seen_other[num_other++], arc, strlen(arc) + 1);
        }
        sk_ASN1_TYPE_pop_free(pair, ASN1_TYPE_free);
        pair = NULL;
    }
    MT_ENSURE_GOTO(seen == SEEN_REQUIRED, MT_ERR_PCK_EXTENSION, e, out);
    *out = info;
out:
    sk_ASN1_TYPE_pop_free(pair, ASN1_TYPE_free);
    sk_ASN1_TYPE_pop_free(seq, ASN1_TYPE_free);
    return e;
}
