#include "ita_stub.h"
#include "mhd_test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <microhttpd.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "quote/quote.h"
#include "util/mt_alloc.h"
#include "util/mt_b64.h"
#include "util/mt_buf.h"
#include "util/mt_hex.h"

struct ita_stub {
    struct MHD_Daemon *d;
    char url[64];
    char api_key[128];
    char issuer[256];
    EVP_PKEY *rsa, *ec256, *ec384;
    pthread_mutex_t lock;
    enum ita_stub_alg alg;
    enum ita_stub_mode mode;
    unsigned tokens;
};

/* base64url without padding, malloc'd. */
static char *
b64url(const uint8_t *p, size_t n)
{
    char *s = malloc(4 * (n / 3 + 2) + 1);
    int len, i, o = 0;

    if (s == NULL)
        return NULL;
    len = EVP_EncodeBlock((unsigned char *)s, p, (int)n);
    for (i = 0; i < len; i++) {
        if (s[i] == '=')
            break;
        s[o++] = s[i] == '+' ? '-' : s[i] == '/' ? '_' : s[i];
    }
    s[o] = '\0';
    return s;
}

static char *
b64url_json(const json_t *j)
{
    char *t = json_dumps(j, JSON_COMPACT), *r;

    if (t == NULL)
        return NULL;
    r = b64url((const uint8_t *)t, strlen(t));
    free(t);
    return r;
}

static char *
bn_b64url(const BIGNUM *bn, size_t pad)
{
    uint8_t buf[512];
    int n = pad > 0 ? BN_bn2binpad(bn, buf, (int)pad) : BN_bn2bin(bn, buf);

    return n > 0 ? b64url(buf, (size_t)n) : NULL;
}

static json_t *
jwk_of(EVP_PKEY *k, const char *kid, const char *alg)
{
    BIGNUM *a = NULL, *b = NULL;
    char *x, *y;
    json_t *j;

    if (EVP_PKEY_is_a(k, "RSA")) {
        EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_N, &a);
        EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_E, &b);
        x = bn_b64url(a, 0);
        y = bn_b64url(b, 0);
        j = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "kty", "RSA", "kid", kid, "use", "sig", "alg",
                      alg, "n", x, "e", y);
    } else {
        size_t coord = strcmp(alg, "ES256") == 0 ? 32 : 48;
        EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_EC_PUB_X, &a);
        EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_EC_PUB_Y, &b);
        x = bn_b64url(a, coord);
        y = bn_b64url(b, coord);
        j = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "kty", "EC", "kid", kid, "crv",
                      coord == 32 ? "P-256" : "P-384", "alg", alg, "x", x, "y", y);
    }
    BN_free(a);
    BN_free(b);
    free(x);
    free(y);
    return j;
}

/* Sign input; ES* signatures converted from DER to r||s. */
static int
sign(EVP_PKEY *k, enum ita_stub_alg alg, const char *input, uint8_t *sig, size_t *sig_len)
{
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pc = NULL;
    const char *md = (alg == ITA_STUB_RS256 || alg == ITA_STUB_ES256) ? "SHA256" : "SHA384";
    uint8_t der[1024];
    size_t der_len = sizeof(der);
    int ok;

    ok = EVP_DigestSignInit_ex(m, &pc, md, NULL, NULL, k, NULL) == 1;
    if (ok && alg == ITA_STUB_PS384)
        ok = EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING) > 0 &&
             EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, RSA_PSS_SALTLEN_DIGEST) > 0;
    ok = ok && EVP_DigestSign(m, der, &der_len, (const uint8_t *)input, strlen(input)) == 1;
    EVP_MD_CTX_free(m);
    if (!ok)
        return 0;
    if (alg == ITA_STUB_RS256 || alg == ITA_STUB_PS384) {
        memcpy(sig, der, der_len);
        *sig_len = der_len;
    } else {
        const uint8_t *p = der;
        ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
        size_t c = alg == ITA_STUB_ES256 ? 32 : 48;
        if (es == NULL)
            return 0;
        BN_bn2binpad(ECDSA_SIG_get0_r(es), sig, (int)c);
        BN_bn2binpad(ECDSA_SIG_get0_s(es), sig + c, (int)c);
        ECDSA_SIG_free(es);
        *sig_len = 2 * c;
    }
    return 1;
}

static json_t *
claims_of(struct ita_stub *s, const struct mt_quote *q, enum ita_stub_mode mode)
{
    char hex[5][97], rd[129], key[16];
    uint8_t r3[48];
    json_t *c;
    int64_t now = (int64_t)time(NULL);
    int i;

    mt_hex_encode(q->td.mr_td, 48, hex[0]);
    for (i = 0; i < 4; i++)
        mt_hex_encode(q->td.rt_mr[i], 48, hex[i + 1]);
    if (mode == ITA_STUB_CLAIMS_MISMATCH) {
        memcpy(r3, q->td.rt_mr[3], 48);
        r3[0] ^= 1;
        mt_hex_encode(r3, 48, hex[4]);
    }
    mt_hex_encode(mt_quote_report_data(q), 64, rd);
    c = json_pack("{s:s,s:s,s:I,s:I,s:I}", "iss",
                  mode == ITA_STUB_WRONG_ISSUER ? "https://evil.example" : s->issuer,
                  "attester_tcb_status", "UpToDate", "iat", (json_int_t)now, "nbf",
                  (json_int_t)(mode == ITA_STUB_NOT_YET_VALID ? now + 3600 : now - 5), "exp",
                  (json_int_t)(mode == ITA_STUB_EXPIRED ? now - 3600 : now + 300));
    json_object_set_new(c, "tdx_mrtd", json_string(hex[0]));
    for (i = 0; i < 4; i++) {
        snprintf(key, sizeof(key), "tdx_rtmr%d", i);
        json_object_set_new(c, key, json_string(hex[i + 1]));
    }
    json_object_set_new(c, "tdx_report_data", json_string(rd));
    json_object_set_new(c, "attester_type", json_string("TDX"));
    return c;
}

/* The token for one quote under the current alg and mode (malloc'd). */
static char *
token_for(struct ita_stub *s, const struct mt_quote *q)
{
    static const char *const names[] = {"RS256", "PS384", "ES256", "ES384"};
    static const char *const kids[] = {"rsa-1", "rsa-ps-1", "ec256-1", "ec384-1"};
    enum ita_stub_alg alg;
    enum ita_stub_mode mode;
    EVP_PKEY *k;
    json_t *hdr, *cl;
    char *h, *p, *input, *sg = NULL, *tok;
    uint8_t sig[1024];
    size_t sig_len = 0, n;

    pthread_mutex_lock(&s->lock);
    alg = s->alg;
    mode = s->mode;
    pthread_mutex_unlock(&s->lock);
    k = alg == ITA_STUB_ES256 ? s->ec256 : alg == ITA_STUB_ES384 ? s->ec384 : s->rsa;
    hdr = json_pack("{s:s,s:s,s:s}", "alg",
                    mode == ITA_STUB_ALG_NONE    ? "none"
                    : mode == ITA_STUB_ALG_HS256 ? "HS256"
                                                 : names[alg],
                    "kid", mode == ITA_STUB_UNKNOWN_KID ? "nope" : kids[alg], "typ", "JWT");
    cl = claims_of(s, q, mode);
    h = b64url_json(hdr);
    p = b64url_json(cl);
    json_decref(hdr);
    json_decref(cl);
    n = strlen(h) + strlen(p) + 2;
    input = malloc(n);
    snprintf(input, n, "%s.%s", h, p);
    if (mode == ITA_STUB_ALG_NONE) {
        sg = strdup("");
    } else if (mode == ITA_STUB_ALG_HS256) {
        /* The classic confusion: HMAC keyed with public material. */
        size_t ml = 0;
        EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, "rsa-1", 5, (const uint8_t *)input,
                  strlen(input), sig, sizeof(sig), &ml);
        sg = b64url(sig, ml);
    } else if (sign(k, alg, input, sig, &sig_len)) {
        if (mode == ITA_STUB_BAD_SIGNATURE)
            sig[sig_len / 2] ^= 0x01;
        sg = b64url(sig, sig_len);
    }
    n = strlen(input) + (sg != NULL ? strlen(sg) : 0) + 2;
    tok = malloc(n);
    snprintf(tok, n, "%s.%s", input, sg != NULL ? sg : "");
    free(h);
    free(p);
    free(input);
    free(sg);
    return tok;
}

static enum MHD_Result
reply(struct MHD_Connection *c, unsigned status, char *text)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    enum MHD_Result ret;

    MHD_add_response_header(r, "Content-Type", "application/json");
    ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static char *
jwks_text(struct ita_stub *s)
{
    json_t *keys =
        json_pack("{s:[o,o,o,o]}", "keys", jwk_of(s->rsa, "rsa-1", "RS256"),
                  jwk_of(s->rsa, "rsa-ps-1", "PS384"), jwk_of(s->ec256, "ec256-1", "ES256"),
                  jwk_of(s->ec384, "ec384-1", "ES384"));
    char *t = json_dumps(keys, JSON_COMPACT);

    json_decref(keys);
    return t;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
           const char *version, const char *upload_data, size_t *upload_size, void **con_cls)
{
    struct ita_stub *s = cls;
    struct mt_buf *body = *con_cls;
    const char *key;
    const json_t *qv;
    json_t *in = NULL;
    uint8_t *quote = NULL;
    size_t qlen = 0;
    struct mt_quote q;
    char *tok, *text;

    (void)version;
    if (body == NULL) {
        body = calloc(1, sizeof(*body));
        mt_buf_init(body, 1u << 20);
        *con_cls = body;
        return MHD_YES;
    }
    if (*upload_size > 0) {
        if (mt_buf_append(body, upload_data, *upload_size) != MT_OK)
            return MHD_NO;
        *upload_size = 0;
        return MHD_YES;
    }
    if (strcmp(method, "GET") == 0 && strcmp(url, "/certs") == 0)
        return reply(c, 200, jwks_text(s));
    if (strcmp(method, "POST") != 0 || strcmp(url, "/appraisal/v2/attest") != 0)
        return reply(c, 404, strdup("{\"error\":\"not found\"}"));
    key = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "x-api-key");
    if (key == NULL || strcmp(key, s->api_key) != 0)
        return reply(c, 401, strdup("{\"error\":\"unauthorized\"}"));
    in = body->len > 0 ? json_loadb((const char *)body->p, body->len, 0, NULL) : NULL;
    if (in == NULL)
        return reply(c, 400, strdup("{\"error\":\"bad json\"}"));
    qv = json_object_get(json_object_get(in, "tdx"), "quote");
    if (!json_is_string(qv) ||
        mt_b64_decode_alloc(json_string_value(qv), json_string_length(qv), 1u << 20, &quote,
                            &qlen) != MT_OK ||
        mt_quote_parse(quote, qlen, &q) != MT_OK) {
        json_decref(in);
        mt_free(quote);
        return reply(c, 400, strdup("{\"error\":\"bad quote\"}"));
    }
    tok = token_for(s, &q);
    json_decref(in);
    mt_free(quote);
    pthread_mutex_lock(&s->lock);
    s->tokens++;
    pthread_mutex_unlock(&s->lock);
    in = json_pack("{s:s}", "token", tok);
    text = json_dumps(in, JSON_COMPACT);
    json_decref(in);
    free(tok);
    return reply(c, 200, text);
}

mt_err
ita_stub_start(const char *api_key, const char *issuer, struct ita_stub **out)
{
    struct ita_stub *s = calloc(1, sizeof(*s));
    struct sockaddr_in sa;
    const union MHD_DaemonInfo *info;

    if (s == NULL)
        return MT_ERR_NOMEM;
    snprintf(s->api_key, sizeof(s->api_key), "%s", api_key);
    snprintf(s->issuer, sizeof(s->issuer), "%s", issuer);
    pthread_mutex_init(&s->lock, NULL);
    s->rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    s->ec256 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    s->ec384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->d =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, NULL,
                         NULL, on_request, s, MHD_OPTION_NOTIFY_COMPLETED, mt_test_free_buf_body,
                         NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_END);
    info = s->d != NULL ? MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT) : NULL;
    if (s->rsa == NULL || s->ec256 == NULL || s->ec384 == NULL || info == NULL) {
        ita_stub_stop(s);
        return MT_ERR_IO;
    }
    snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%u", (unsigned)info->port);
    *out = s;
    return MT_OK;
}

void
ita_stub_stop(struct ita_stub *s)
{
    if (s == NULL)
        return;
    if (s->d != NULL)
        MHD_stop_daemon(s->d);
    EVP_PKEY_free(s->rsa);
    EVP_PKEY_free(s->ec256);
    EVP_PKEY_free(s->ec384);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

const char *
ita_stub_url(const struct ita_stub *s)
{
    return s->url;
}

void
ita_stub_set(struct ita_stub *s, enum ita_stub_alg alg, enum ita_stub_mode mode)
{
    pthread_mutex_lock(&s->lock);
    s->alg = alg;
    s->mode = mode;
    pthread_mutex_unlock(&s->lock);
}

unsigned
ita_stub_tokens(struct ita_stub *s)
{
    unsigned n;

    pthread_mutex_lock(&s->lock);
    n = s->tokens;
    pthread_mutex_unlock(&s->lock);
    return n;
}
