/*
 * Bundle parsing (sigstore.md 2.2, 2.3, 2.6, 4.1): the protobuf-JSON
 * Sigstore bundle v0.1-v0.3 (unknown fields rejected, as Go's protojson
 * does) and the legacy cosign bundle (keys matched case-insensitively,
 * unknown keys ignored, as Go's encoding/json does).  Duplicate keys are
 * rejected in both.  Every bytes field is decoded here; nothing is trusted.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/x509.h>

#include "sigstore/sig_internal.h"
#include "util/mt_alloc.h"
#include "util/mt_b64.h"
#include "util/mt_hex.h"
#include "util/mt_json.h"

#define FMT(res, ...) sig_fail((res), MT_ERR_SIGSTORE_FORMAT, __VA_ARGS__)

static const char *const media_types[] = {
    "application/vnd.dev.sigstore.bundle+json;version=0.1",
    "application/vnd.dev.sigstore.bundle+json;version=0.2",
    "application/vnd.dev.sigstore.bundle+json;version=0.3",
    "application/vnd.dev.sigstore.bundle.v0.3+json",
};

void
sig_bundle_clear(struct sig_bundle *b)
{
    size_t i;

    if (b == NULL)
        return;
    for (i = 0; i < b->n_entries; i++) {
        mt_free(b->entries[i].set);
        mt_free(b->entries[i].hashes);
        mt_free(b->entries[i].checkpoint);
        mt_free(b->entries[i].body);
        mt_free(b->entries[i].body_b64);
    }
    for (i = 0; i < b->n_timestamps; i++)
        mt_free(b->timestamps[i]);
    mt_free(b->dsse_payload);
    mt_free(b->dsse_type);
    X509_free(b->leaf);
    mt_free(b->leaf_der);
    mt_free(b->key_hint);
    mt_free(b->sig);
    memset(b, 0, sizeof(*b));
}

/* A bytes member mapped to the bundle error codes, with the field named in the detail. */
static mt_err
bytes_field(const json_t *obj, const char *key, size_t max, uint8_t **out, size_t *len,
            struct mt_sigstore_result *res)
{
    mt_err e = sig_json_bytes(obj, key, max, out, len);

    if (e == MT_ERR_SIGSTORE_BASE64)
        return sig_fail(res, e, "%s: invalid base64", key);
    if (e == MT_ERR_TOO_LARGE)
        return sig_fail(res, MT_ERR_SIGSTORE_FORMAT, "%s: too large", key);
    if (e != MT_OK && e != MT_ERR_NOMEM)
        return FMT(res, "%s: missing or not a string", key);
    return e;
}

static mt_err
bytes_exact(const json_t *obj, const char *key, uint8_t *out, size_t n,
            struct mt_sigstore_result *res)
{
    uint8_t *b = NULL;
    size_t len = 0;

    MT_GUARD(bytes_field(obj, key, n, &b, &len, res));
    if (len != n) {
        mt_free(b);
        return FMT(res, "%s: %zu bytes, expected %zu", key, len, n);
    }
    memcpy(out, b, n);
    mt_free(b);
    return MT_OK;
}

/* An int64 member; absent means 0 (protojson omits default values). */
static mt_err
int64_field(const json_t *obj, const char *key, int64_t *out, struct mt_sigstore_result *res)
{
    if (json_object_get(obj, key) == NULL) {
        *out = 0;
        return MT_OK;
    }
    MT_ENSURE(sig_json_int64(obj, key, out) == MT_OK, FMT(res, "%s: not an int64", key));
    return MT_OK;
}

static mt_err
object_field(const json_t *obj, const char *key, const char *const *allowed, json_t **out,
             struct mt_sigstore_result *res)
{
    json_t *v = json_object_get(obj, key);

    MT_ENSURE(json_is_object(v), FMT(res, "%s: missing or not an object", key));
    MT_ENSURE(sig_json_only_keys(v, allowed) == MT_OK, FMT(res, "%s: unknown field", key));
    *out = v;
    return MT_OK;
}

static mt_err
text_copy(const char *s, size_t len, size_t max, char **out)
{
    MT_ENSURE(len <= max, MT_ERR_SIGSTORE_FORMAT);
    MT_ENSURE(strlen(s) == len, MT_ERR_SIGSTORE_FORMAT); /* no NUL inside */
    *out = mt_strndup(s, len);
    MT_ENSURE(*out != NULL, MT_ERR_NOMEM);
    return MT_OK;
}

static mt_err
leaf_from_der(struct sig_bundle *b, struct mt_sigstore_result *res)
{
    const unsigned char *p = b->leaf_der;

    b->leaf = d2i_X509(NULL, &p, (long)b->leaf_der_len);
    MT_ENSURE(b->leaf != NULL && p == b->leaf_der + b->leaf_der_len,
              sig_fail(res, MT_ERR_SIGSTORE_CERT, "leaf certificate is not DER X.509"));
    return MT_OK;
}

static mt_err
set_body_b64(struct sig_tlog_entry *e)
{
    e->body_b64 = mt_b64_encode_alloc(e->body, e->body_len);
    MT_ENSURE(e->body_b64 != NULL, MT_ERR_NOMEM);
    return MT_OK;
}

static mt_err
parse_proof(const json_t *pj, struct sig_tlog_entry *e, struct mt_sigstore_result *res)
{
    static const char *const keys[] = {"logIndex", "rootHash",   "treeSize",
                                       "hashes",   "checkpoint", NULL};
    static const char *const cp_keys[] = {"envelope", NULL};
    json_t *hashes, *h, *cp, *env;
    size_t i;

    MT_ENSURE(sig_json_only_keys(pj, keys) == MT_OK, FMT(res, "inclusionProof: unknown field"));
    e->has_proof = 1;
    MT_GUARD(int64_field(pj, "logIndex", &e->proof_index, res));
    MT_ENSURE(e->proof_index >= 0,
              sig_fail(res, MT_ERR_SIGSTORE_LOG_INDEX, "negative inclusionProof.logIndex"));
    MT_GUARD(int64_field(pj, "treeSize", &e->tree_size, res));
    MT_GUARD(bytes_exact(pj, "rootHash", e->root_hash, 32, res));
    hashes = json_object_get(pj, "hashes");
    if (hashes != NULL) {
        MT_ENSURE(json_is_array(hashes), FMT(res, "inclusionProof.hashes: not an array"));
        MT_ENSURE(json_array_size(hashes) <= SIG_MAX_PROOF_HASHES,
                  FMT(res, "inclusionProof.hashes: too many"));
        if (json_array_size(hashes) > 0) {
            e->hashes = mt_calloc(json_array_size(hashes), 32);
            MT_ENSURE(e->hashes != NULL, MT_ERR_NOMEM);
        }
        json_array_foreach(hashes, i, h)
        {
            uint8_t *b = NULL;
            size_t len = 0;
            mt_err er;

            MT_ENSURE(json_is_string(h), FMT(res, "inclusionProof.hashes[%zu]: not a string", i));
            er = sig_b64_decode(json_string_value(h), json_string_length(h), 32, &b, &len);
            if (er == MT_ERR_TOO_LARGE)
                er = MT_ERR_SIGSTORE_FORMAT;
            MT_ENSURE(er == MT_OK, sig_fail(res, er, "inclusionProof.hashes[%zu]: bad hash", i));
            if (len != 32) {
                mt_free(b);
                return FMT(res, "inclusionProof.hashes[%zu]: not 32 bytes", i);
            }
            memcpy(e->hashes[i], b, 32);
            mt_free(b);
            e->n_hashes = i + 1;
        }
    }
    cp = json_object_get(pj, "checkpoint");
    if (cp != NULL) {
        MT_ENSURE(json_is_object(cp) && sig_json_only_keys(cp, cp_keys) == MT_OK,
                  FMT(res, "inclusionProof.checkpoint: not an object with an envelope"));
        env = json_object_get(cp, "envelope");
        MT_ENSURE(json_is_string(env), FMT(res, "checkpoint.envelope: not a string"));
        MT_ENSURE(text_copy(json_string_value(env), json_string_length(env), SIG_MAX_CHECKPOINT,
                            &e->checkpoint) == MT_OK,
                  FMT(res, "checkpoint.envelope: too long or holds NUL"));
        e->checkpoint_len = json_string_length(env);
    }
    return MT_OK;
}

static mt_err
parse_entry(const json_t *ej, struct sig_tlog_entry *e, struct mt_sigstore_result *res)
{
    static const char *const keys[] = {
        "logIndex",         "logId",          "kindVersion",       "integratedTime",
        "inclusionPromise", "inclusionProof", "canonicalizedBody", NULL};
    static const char *const id_keys[] = {"keyId", NULL};
    static const char *const kv_keys[] = {"kind", "version", NULL};
    static const char *const pr_keys[] = {"signedEntryTimestamp", NULL};
    json_t *lid, *kv, *promise, *proof;
    const char *s;
    size_t len;

    MT_ENSURE(json_is_object(ej) && sig_json_only_keys(ej, keys) == MT_OK,
              FMT(res, "tlogEntries: not an object, or an unknown field"));
    MT_GUARD(int64_field(ej, "logIndex", &e->log_index, res));
    MT_ENSURE(e->log_index >= 0, sig_fail(res, MT_ERR_SIGSTORE_LOG_INDEX, "negative logIndex %lld",
                                          (long long)e->log_index));
    MT_GUARD(object_field(ej, "logId", id_keys, &lid, res));
    MT_GUARD(bytes_exact(lid, "keyId", e->log_id, 32, res));
    MT_GUARD(object_field(ej, "kindVersion", kv_keys, &kv, res));
    MT_ENSURE(mt_json_get_str(kv, "kind", &s, &len) == MT_OK && len > 0 && len < sizeof(e->kind),
              FMT(res, "kindVersion.kind: missing or too long"));
    memcpy(e->kind, s, len + 1);
    MT_ENSURE(mt_json_get_str(kv, "version", &s, &len) == MT_OK && len > 0 &&
                  len < sizeof(e->version),
              FMT(res, "kindVersion.version: missing or too long"));
    memcpy(e->version, s, len + 1);
    MT_GUARD(int64_field(ej, "integratedTime", &e->integrated_time, res));
    MT_ENSURE(e->integrated_time >= 0, FMT(res, "negative integratedTime"));
    promise = json_object_get(ej, "inclusionPromise");
    if (promise != NULL) {
        MT_ENSURE(json_is_object(promise) && sig_json_only_keys(promise, pr_keys) == MT_OK,
                  FMT(res, "inclusionPromise: not an object, or an unknown field"));
        MT_GUARD(
            bytes_field(promise, "signedEntryTimestamp", SIG_MAX_FIELD, &e->set, &e->set_len, res));
        MT_ENSURE(e->set_len > 0, FMT(res, "empty signedEntryTimestamp"));
    }
    proof = json_object_get(ej, "inclusionProof");
    if (proof != NULL) {
        MT_ENSURE(json_is_object(proof), FMT(res, "inclusionProof: not an object"));
        MT_GUARD(parse_proof(proof, e, res));
    }
    /* Optional in the proto; every producer sets it and sigstore-go requires it (2.3). */
    MT_GUARD(bytes_field(ej, "canonicalizedBody", SIG_MAX_FIELD, &e->body, &e->body_len, res));
    MT_ENSURE(e->body_len > 0, FMT(res, "empty canonicalizedBody"));
    return set_body_b64(e);
}

static mt_err
check_duplicates(const struct sig_bundle *b, struct mt_sigstore_result *res)
{
    size_t i, j;

    for (i = 0; i < b->n_entries; i++) {
        for (j = i + 1; j < b->n_entries; j++) {
            MT_ENSURE(b->entries[i].log_index != b->entries[j].log_index ||
                          memcmp(b->entries[i].log_id, b->entries[j].log_id, 32) != 0,
                      FMT(res, "duplicate tlog entry (logId, logIndex)"));
        }
    }
    return MT_OK;
}

static mt_err
parse_material(const json_t *vm, struct sig_bundle *b, struct mt_sigstore_result *res)
{
    static const char *const keys[] = {"certificate", "x509CertificateChain",      "publicKey",
                                       "tlogEntries", "timestampVerificationData", NULL};
    static const char *const raw_keys[] = {"rawBytes", NULL};
    static const char *const chain_keys[] = {"certificates", NULL};
    static const char *const pk_keys[] = {"hint", NULL};
    static const char *const tvd_keys[] = {"rfc3161Timestamps", NULL};
    static const char *const ts_keys[] = {"signedTimestamp", NULL};
    json_t *cert, *chain, *pk, *certs, *first, *tlog, *ej, *tvd, *tss, *ts;
    size_t i;
    int n;

    MT_ENSURE(json_is_object(vm) && sig_json_only_keys(vm, keys) == MT_OK,
              FMT(res, "verificationMaterial: missing, or an unknown field"));
    cert = json_object_get(vm, "certificate");
    chain = json_object_get(vm, "x509CertificateChain");
    pk = json_object_get(vm, "publicKey");
    n = (cert != NULL) + (chain != NULL) + (pk != NULL);
    MT_ENSURE(n == 1, FMT(res,
                          "verificationMaterial needs exactly one of certificate, "
                          "x509CertificateChain, publicKey (%d given)",
                          n));
    if (cert != NULL) {
        MT_ENSURE(json_is_object(cert) && sig_json_only_keys(cert, raw_keys) == MT_OK,
                  FMT(res, "certificate: not an object, or an unknown field"));
        b->material = SIG_MAT_CERT;
        MT_GUARD(bytes_field(cert, "rawBytes", SIG_MAX_FIELD, &b->leaf_der, &b->leaf_der_len, res));
        MT_GUARD(leaf_from_der(b, res));
    } else if (chain != NULL) {
        /* v0.3 must carry the leaf alone (sigstore-go rejects chains there). */
        MT_ENSURE(b->minor < 3, FMT(res, "x509CertificateChain in a v0.3 bundle"));
        MT_ENSURE(json_is_object(chain) && sig_json_only_keys(chain, chain_keys) == MT_OK,
                  FMT(res, "x509CertificateChain: not an object, or an unknown field"));
        certs = json_object_get(chain, "certificates");
        MT_ENSURE(certs == NULL || json_is_array(certs),
                  FMT(res, "x509CertificateChain.certificates: not an array"));
        MT_ENSURE(certs != NULL && json_array_size(certs) > 0,
                  sig_fail(res, MT_ERR_SIGSTORE_EMPTY_CHAIN, "empty x509CertificateChain"));
        MT_ENSURE(json_array_size(certs) <= SIG_MAX_BUNDLE_CERTS,
                  FMT(res, "x509CertificateChain: too many certificates"));
        /* Only the leaf is used; the rest is never trusted (2.2), but must be well-formed. */
        json_array_foreach(certs, i, first)
        {
            uint8_t *der = NULL;
            size_t der_len = 0;

            MT_ENSURE(json_is_object(first) && sig_json_only_keys(first, raw_keys) == MT_OK,
                      FMT(res, "certificates[%zu]: not an object, or an unknown field", i));
            MT_GUARD(bytes_field(first, "rawBytes", SIG_MAX_FIELD, &der, &der_len, res));
            if (i == 0) {
                b->leaf_der = der;
                b->leaf_der_len = der_len;
            } else {
                mt_free(der);
            }
        }
        b->material = SIG_MAT_CERT;
        MT_GUARD(leaf_from_der(b, res));
    } else {
        MT_ENSURE(json_is_object(pk) && sig_json_only_keys(pk, pk_keys) == MT_OK,
                  FMT(res, "publicKey: not an object, or an unknown field"));
        b->material = SIG_MAT_KEY;
        if (json_object_get(pk, "hint") != NULL) {
            first = json_object_get(pk, "hint");
            MT_ENSURE(json_is_string(first), FMT(res, "publicKey.hint: not a string"));
            MT_ENSURE(text_copy(json_string_value(first), json_string_length(first), 512,
                                &b->key_hint) == MT_OK,
                      FMT(res, "publicKey.hint: too long"));
        }
    }
    tlog = json_object_get(vm, "tlogEntries");
    if (tlog != NULL) {
        MT_ENSURE(json_is_array(tlog), FMT(res, "tlogEntries: not an array"));
        MT_ENSURE(json_array_size(tlog) <= SIG_MAX_TLOG_ENTRIES, FMT(res, "too many tlogEntries"));
        json_array_foreach(tlog, i, ej)
        {
            b->n_entries = i + 1;
            MT_GUARD(parse_entry(ej, &b->entries[i], res));
        }
        MT_GUARD(check_duplicates(b, res));
    }
    tvd = json_object_get(vm, "timestampVerificationData");
    if (tvd != NULL) {
        MT_ENSURE(json_is_object(tvd) && sig_json_only_keys(tvd, tvd_keys) == MT_OK,
                  FMT(res, "timestampVerificationData: not an object, or an unknown field"));
        tss = json_object_get(tvd, "rfc3161Timestamps");
        if (tss != NULL) {
            MT_ENSURE(json_is_array(tss) && json_array_size(tss) <= SIG_MAX_TIMESTAMPS,
                      FMT(res, "rfc3161Timestamps: not an array or too many"));
            json_array_foreach(tss, i, ts)
            {
                uint8_t *der = NULL;
                size_t der_len = 0;

                MT_ENSURE(json_is_object(ts) && sig_json_only_keys(ts, ts_keys) == MT_OK,
                          FMT(res, "rfc3161Timestamps[%zu]: unknown field", i));
                MT_GUARD(bytes_field(ts, "signedTimestamp", SIG_MAX_FIELD, &der, &der_len, res));
                b->timestamps[i] = der;
                b->timestamp_lens[i] = der_len;
                b->n_timestamps = i + 1;
                MT_ENSURE(der_len > 0, FMT(res, "empty signedTimestamp"));
            }
        }
    }
    return MT_OK;
}

static mt_err
parse_message_signature(const json_t *ms, struct sig_bundle *b, struct mt_sigstore_result *res)
{
    static const char *const keys[] = {"messageDigest", "signature", NULL};
    static const char *const md_keys[] = {"algorithm", "digest", NULL};
    json_t *md;
    const char *alg;

    MT_ENSURE(json_is_object(ms) && sig_json_only_keys(ms, keys) == MT_OK,
              FMT(res, "messageSignature: not an object, or an unknown field"));
    md = json_object_get(ms, "messageDigest");
    if (md != NULL) {
        MT_ENSURE(json_is_object(md) && sig_json_only_keys(md, md_keys) == MT_OK,
                  FMT(res, "messageDigest: not an object, or an unknown field"));
        MT_ENSURE(mt_json_get_str(md, "algorithm", &alg, NULL) == MT_OK &&
                      strcmp(alg, "SHA2_256") == 0,
                  FMT(res, "messageDigest.algorithm: only SHA2_256 is supported"));
        MT_GUARD(bytes_exact(md, "digest", b->msg_digest, 32, res));
        b->has_msg_digest = 1;
    }
    MT_GUARD(bytes_field(ms, "signature", SIG_MAX_FIELD, &b->sig, &b->sig_len, res));
    MT_ENSURE(b->sig_len > 0, FMT(res, "empty signature"));
    return MT_OK;
}

/* dsseEnvelope (2.2, 2.7): payload, payloadType and exactly one signature. */
static mt_err
parse_dsse(const json_t *env, struct sig_bundle *b, struct mt_sigstore_result *res)
{
    static const char *const keys[] = {"payload", "payloadType", "signatures", NULL};
    static const char *const sig_keys[] = {"sig", "keyid", NULL};
    json_t *type, *sigs, *s0, *kid;

    MT_ENSURE(json_is_object(env) && sig_json_only_keys(env, keys) == MT_OK,
              FMT(res, "dsseEnvelope: not an object, or an unknown field"));
    b->is_dsse = 1;
    MT_GUARD(
        bytes_field(env, "payload", SIG_MAX_FIELD, &b->dsse_payload, &b->dsse_payload_len, res));
    MT_ENSURE(b->dsse_payload_len > 0, FMT(res, "dsseEnvelope: empty payload"));
    type = json_object_get(env, "payloadType");
    MT_ENSURE(json_is_string(type) && json_string_length(type) > 0,
              FMT(res, "dsseEnvelope.payloadType: missing or empty"));
    MT_ENSURE(text_copy(json_string_value(type), json_string_length(type), 256, &b->dsse_type) ==
                  MT_OK,
              FMT(res, "dsseEnvelope.payloadType: too long or holds NUL"));
    sigs = json_object_get(env, "signatures");
    MT_ENSURE(json_is_array(sigs) && json_array_size(sigs) == 1,
              FMT(res, "dsseEnvelope must carry exactly one signature"));
    s0 = json_array_get(sigs, 0);
    MT_ENSURE(json_is_object(s0) && sig_json_only_keys(s0, sig_keys) == MT_OK,
              FMT(res, "dsseEnvelope.signatures[0]: not an object, or an unknown field"));
    /* keyid is an unauthenticated hint (4.13): only its type is checked. */
    kid = json_object_get(s0, "keyid");
    MT_ENSURE(kid == NULL || json_is_string(kid), FMT(res, "dsseEnvelope keyid: not a string"));
    MT_GUARD(bytes_field(s0, "sig", SIG_MAX_FIELD, &b->sig, &b->sig_len, res));
    MT_ENSURE(b->sig_len > 0, FMT(res, "dsseEnvelope: empty signature"));
    return MT_OK;
}

/* Per-version rules of 2.2 (the checkpoint is checked with the proof, 4.4 e). */
static mt_err
version_rules(const struct sig_bundle *b, struct mt_sigstore_result *res)
{
    size_t i;

    for (i = 0; i < b->n_entries; i++) {
        if (b->minor == 1)
            MT_ENSURE(b->entries[i].set != NULL,
                      sig_fail(res, MT_ERR_SIGSTORE_MISSING_PROMISE,
                               "v0.1 bundle: tlog entry %zu has no inclusionPromise", i));
        else
            MT_ENSURE(b->entries[i].has_proof,
                      sig_fail(res, MT_ERR_SIGSTORE_MISSING_PROOF,
                               "v0.%d bundle: tlog entry %zu has no inclusionProof", b->minor, i));
    }
    return MT_OK;
}

static mt_err
parse_protobuf(const json_t *root, struct sig_bundle *b, struct mt_sigstore_result *res)
{
    static const char *const keys[] = {"mediaType", "verificationMaterial", "messageSignature",
                                       "dsseEnvelope", NULL};
    json_t *mt = json_object_get(root, "mediaType"), *ms, *dsse;
    const char *s;
    size_t i;

    MT_ENSURE(json_is_string(mt), FMT(res, "mediaType: not a string"));
    s = json_string_value(mt);
    for (i = 0; i < sizeof(media_types) / sizeof(media_types[0]); i++) {
        if (strcmp(s, media_types[i]) == 0)
            b->minor = i < 3 ? (int)i + 1 : 3;
    }
    MT_ENSURE(b->minor != 0,
              sig_fail(res, MT_ERR_SIGSTORE_MEDIA_TYPE, "unsupported mediaType \"%.160s\"", s));
    MT_ENSURE(sig_json_only_keys(root, keys) == MT_OK, FMT(res, "bundle: unknown field"));
    MT_GUARD(parse_material(json_object_get(root, "verificationMaterial"), b, res));
    ms = json_object_get(root, "messageSignature");
    dsse = json_object_get(root, "dsseEnvelope");
    MT_ENSURE((ms != NULL) + (dsse != NULL) == 1,
              FMT(res, "bundle needs exactly one of messageSignature, dsseEnvelope"));
    if (ms != NULL) {
        MT_GUARD(parse_message_signature(ms, b, res));
    } else {
        MT_GUARD(parse_dsse(dsse, b, res));
    }
    return version_rules(b, res);
}

/* Case-insensitive member (Go encoding/json); two spellings of one key are ambiguous. */
static mt_err
ci_get(const json_t *obj, const char *name, json_t **out, struct mt_sigstore_result *res)
{
    const char *k;
    json_t *v, *found = NULL;

    MT_ENSURE(json_is_object(obj), FMT(res, "legacy bundle: %s: parent not an object", name));
    json_object_foreach((json_t *)obj, k, v)
    {
        if (strcasecmp(k, name) == 0) {
            MT_ENSURE(found == NULL, FMT(res, "legacy bundle: duplicate key %s", name));
            found = v;
        }
    }
    *out = found;
    return MT_OK;
}

static mt_err
legacy_int(const json_t *obj, const char *name, int64_t *out, struct mt_sigstore_result *res)
{
    json_t *v;

    MT_GUARD(ci_get(obj, name, &v, res));
    MT_ENSURE(json_is_integer(v), FMT(res, "legacy bundle: %s: not an integer", name));
    *out = (int64_t)json_integer_value(v);
    return MT_OK;
}

static mt_err
legacy_b64(const json_t *obj, const char *name, uint8_t **out, size_t *len,
           struct mt_sigstore_result *res)
{
    json_t *v;
    mt_err e;

    MT_GUARD(ci_get(obj, name, &v, res));
    MT_ENSURE(json_is_string(v), FMT(res, "legacy bundle: %s: missing or not a string", name));
    e = sig_b64_decode(json_string_value(v), json_string_length(v), SIG_MAX_FIELD * 2, out, len);
    if (e == MT_ERR_TOO_LARGE)
        return FMT(res, "legacy bundle: %s: too large", name);
    MT_ENSURE(e == MT_OK, sig_fail(res, e, "legacy bundle: %s: invalid base64", name));
    return MT_OK;
}

/* kind and apiVersion of a body, for the legacy entry (it has no kindVersion). */
static mt_err
legacy_kind(struct sig_tlog_entry *e, struct mt_sigstore_result *res)
{
    json_t *body = NULL;
    const char *kind, *ver;
    size_t kl, vl;
    mt_err rv = MT_OK;

    MT_ENSURE(mt_json_parse((const char *)e->body, e->body_len, SIG_MAX_FIELD, &body) == MT_OK,
              sig_fail(res, MT_ERR_SIGSTORE_TLOG_BODY, "legacy bundle: body is not JSON"));
    if (mt_json_get_str(body, "kind", &kind, &kl) != MT_OK ||
        mt_json_get_str(body, "apiVersion", &ver, &vl) != MT_OK || kl == 0 ||
        kl >= sizeof(e->kind) || vl == 0 || vl >= sizeof(e->version)) {
        rv = sig_fail(res, MT_ERR_SIGSTORE_TLOG_BODY, "legacy bundle: body without kind");
        goto out;
    }
    memcpy(e->kind, kind, kl + 1);
    memcpy(e->version, ver, vl + 1);
out:
    json_decref(body);
    return rv;
}

static mt_err
parse_legacy(const json_t *root, struct sig_bundle *b, struct mt_sigstore_result *res)
{
    json_t *cert, *rb, *payload, *body, *logid;
    struct sig_tlog_entry *e = &b->entries[0];
    uint8_t *pem = NULL;
    size_t pem_len = 0;
    mt_err rv;

    b->legacy = 1;
    b->minor = 0;
    MT_GUARD(legacy_b64(root, "base64Signature", &b->sig, &b->sig_len, res));
    MT_ENSURE(b->sig_len > 0, FMT(res, "legacy bundle: empty base64Signature"));
    MT_GUARD(ci_get(root, "cert", &cert, res));
    if (cert != NULL && !json_is_null(cert) &&
        !(json_is_string(cert) && json_string_length(cert) == 0)) {
        /* b64 of a PEM CERTIFICATE (2.6). */
        MT_GUARD(legacy_b64(root, "cert", &pem, &pem_len, res));
        rv = sig_pem_to_der(pem, pem_len, "CERTIFICATE", &b->leaf_der, &b->leaf_der_len);
        mt_free(pem);
        MT_ENSURE(rv == MT_OK, sig_fail(res, rv == MT_ERR_NOMEM ? rv : MT_ERR_SIGSTORE_CERT,
                                        "legacy bundle: cert is not a PEM certificate"));
        b->material = SIG_MAT_CERT;
        MT_GUARD(leaf_from_der(b, res));
    } else {
        b->material = SIG_MAT_KEY;
    }
    MT_GUARD(ci_get(root, "rekorBundle", &rb, res));
    if (rb == NULL || json_is_null(rb))
        return MT_OK;
    b->has_rekor = 1;
    b->n_entries = 1;
    MT_GUARD(legacy_b64(rb, "SignedEntryTimestamp", &e->set, &e->set_len, res));
    MT_ENSURE(e->set_len > 0, FMT(res, "legacy bundle: empty SignedEntryTimestamp"));
    MT_GUARD(ci_get(rb, "Payload", &payload, res));
    MT_ENSURE(json_is_object(payload), FMT(res, "legacy bundle: Payload: not an object"));
    MT_GUARD(ci_get(payload, "body", &body, res));
    MT_ENSURE(json_is_string(body), FMT(res, "legacy bundle: Payload.body: not a string"));
    MT_GUARD(legacy_b64(payload, "body", &e->body, &e->body_len, res));
    MT_ENSURE(e->body_len > 0 && e->body_len <= SIG_MAX_FIELD,
              FMT(res, "legacy bundle: Payload.body empty or too large"));
    /* The SET covers the body string exactly as written (4.4 d). */
    e->body_b64 = mt_strndup(json_string_value(body), json_string_length(body));
    MT_ENSURE(e->body_b64 != NULL, MT_ERR_NOMEM);
    MT_GUARD(legacy_int(payload, "integratedTime", &e->integrated_time, res));
    MT_ENSURE(e->integrated_time >= 0, FMT(res, "legacy bundle: negative integratedTime"));
    MT_GUARD(legacy_int(payload, "logIndex", &e->log_index, res));
    MT_ENSURE(e->log_index >= 0,
              sig_fail(res, MT_ERR_SIGSTORE_LOG_INDEX, "legacy bundle: negative logIndex"));
    MT_GUARD(ci_get(payload, "logID", &logid, res));
    MT_ENSURE(json_is_string(logid) &&
                  mt_hex_decode_exact(json_string_value(logid), json_string_length(logid),
                                      e->log_id, 32) == MT_OK,
              FMT(res, "legacy bundle: logID is not 64 hex digits"));
    return legacy_kind(e, res);
}

mt_err
sig_bundle_parse(const uint8_t *doc, size_t len, struct sig_bundle *b,
                 struct mt_sigstore_result *res)
{
    json_t *root = NULL, *sig = NULL;
    mt_err rv;

    memset(b, 0, sizeof(*b));
    MT_ENSURE(doc != NULL && len > 0, sig_fail(res, MT_ERR_SIGSTORE_JSON, "empty bundle"));
    MT_ENSURE(len <= MT_SIGSTORE_MAX_DOC,
              sig_fail(res, MT_ERR_TOO_LARGE, "bundle larger than %u bytes", MT_SIGSTORE_MAX_DOC));
    rv = mt_json_parse((const char *)doc, len, MT_SIGSTORE_MAX_DOC, &root);
    if (rv != MT_OK)
        return sig_fail(res, rv == MT_ERR_NOMEM ? rv : MT_ERR_SIGSTORE_JSON,
                        "bundle is not valid JSON (or has duplicate keys)");
    MT_ENSURE_GOTO(json_is_object(root), FMT(res, "bundle is not a JSON object"), rv, out);
    if (json_object_get(root, "mediaType") != NULL) {
        rv = parse_protobuf(root, b, res);
    } else {
        MT_GUARD_GOTO(ci_get(root, "base64Signature", &sig, res), rv, out);
        MT_ENSURE_GOTO(sig != NULL,
                       FMT(res, "neither a Sigstore bundle (mediaType) nor a legacy cosign bundle "
                                "(base64Signature)"),
                       rv, out);
        rv = parse_legacy(root, b, res);
    }
out:
    json_decref(root);
    if (rv != MT_OK)
        sig_bundle_clear(b);
    return rv;
}
