#ifndef MT_SIG_INTERNAL_H
#define MT_SIG_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "sigstore/sigstore.h"

/*
 * Internals shared by the files of src/lib/sigstore (shared/specs/sigstore.md,
 * phase 1).  Nothing here is part of the public contract.
 */

/* Limits (STYLE.md section 4 item 4), sigstore-go internal/limits where it has one. */
#define SIG_MAX_TLOG_ENTRIES 32u    /* tlog entries in one bundle (sigstore-go: 32) */
#define SIG_MAX_TIMESTAMPS 32u      /* RFC 3161 timestamps in one bundle */
#define SIG_MAX_BUNDLE_CERTS 16u    /* x509CertificateChain entries */
#define SIG_MAX_PROOF_HASHES 64u    /* audit path of a tree of up to 2^64 leaves */
#define SIG_MAX_TRUST_LOGS 32u      /* tlogs or ctlogs in a trusted root */
#define SIG_MAX_TRUST_CAS 32u       /* certificate or timestamp authorities */
#define SIG_MAX_CA_CHAIN 8u         /* certificates in one authority's chain */
#define SIG_MAX_FIELD (64u * 1024u) /* one decoded bytes field (cert, body, sig) */
#define SIG_MAX_CHECKPOINT 8192u    /* a checkpoint note */
#define SIG_MAX_CHECKPOINT_SIGS 16u /* signature lines in one note */
#define SIG_MAX_URL 256u            /* baseUrl in a trusted root */

#define SIG_TIME_OPEN INT64_MAX /* validFor without an end */

/* A validity window [start_ms, end_ms], closed, in Unix milliseconds (section 3.2). */
struct sig_window {
    int64_t start_ms;
    int64_t end_ms;
};

/* A transparency log or CT log of the trusted root (section 3.1). */
struct sig_log {
    char base_url[SIG_MAX_URL];
    EVP_PKEY *key;
    uint8_t log_id[32];
    int ed25519;
    struct sig_window valid;
};

/* A Fulcio CA or a TSA: chain leaf-most first, anchor last. */
struct sig_ca {
    X509 *anchor;
    STACK_OF(X509) *intermediates; /* the other certificates, untrusted */
    int anchor_self_signed;
    struct sig_window valid;
};

struct mt_sigstore_trust {
    struct sig_log tlogs[SIG_MAX_TRUST_LOGS];
    size_t n_tlogs;
    struct sig_log ctlogs[SIG_MAX_TRUST_LOGS];
    size_t n_ctlogs;
    struct sig_ca cas[SIG_MAX_TRUST_CAS];
    size_t n_cas;
    struct sig_ca tsas[SIG_MAX_TRUST_CAS]; /* chain: [TSA signing cert, ..., anchor] */
    size_t n_tsas;
};

/* One TransparencyLogEntry (section 2.3), or the legacy rekorBundle (2.6). */
struct sig_tlog_entry {
    int64_t log_index; /* global */
    uint8_t log_id[32];
    char kind[32];
    char version[16];
    int64_t integrated_time; /* 0 when absent */
    uint8_t *set;            /* signedEntryTimestamp; NULL when absent */
    size_t set_len;
    int has_proof;
    int64_t proof_index; /* tree-local */
    int64_t tree_size;
    uint8_t root_hash[32];
    uint8_t (*hashes)[32];
    size_t n_hashes;
    char *checkpoint; /* NUL-terminated note text; NULL when absent */
    size_t checkpoint_len;
    uint8_t *body; /* canonicalizedBody */
    size_t body_len;
    char *body_b64; /* the body as it enters the SET payload */
};

enum sig_material { SIG_MAT_CERT, SIG_MAT_KEY };

/* A parsed bundle, shape (A) or (B). */
struct sig_bundle {
    int legacy;    /* shape (B) */
    int minor;     /* 1, 2 or 3 for shape (A) */
    int is_dsse;   /* dsseEnvelope content: sig is its one signature */
    int has_rekor; /* shape (B): rekorBundle present */
    enum sig_material material;
    X509 *leaf;        /* SIG_MAT_CERT */
    uint8_t *leaf_der; /* DER as given */
    size_t leaf_der_len;
    char *key_hint; /* SIG_MAT_KEY (unauthenticated) */
    struct sig_tlog_entry entries[SIG_MAX_TLOG_ENTRIES];
    size_t n_entries;
    size_t n_timestamps;
    uint8_t *timestamps[SIG_MAX_TIMESTAMPS]; /* DER TimeStampResp */
    size_t timestamp_lens[SIG_MAX_TIMESTAMPS];
    uint8_t *sig; /* messageSignature.signature, or dsseEnvelope.signatures[0].sig */
    size_t sig_len;
    uint8_t *dsse_payload; /* dsseEnvelope.payload (decoded) */
    size_t dsse_payload_len;
    char *dsse_type; /* dsseEnvelope.payloadType */
    int has_msg_digest;
    uint8_t msg_digest[32];
};

/* Make s well-formed UTF-8 in place: a sequence cut at the end is dropped, bad bytes become ?. */
void sig_utf8_fix(char *s);
/* Printf into a result's detail (NULL res: nothing; kept UTF-8); returns e for chaining. */
mt_err sig_fail(struct mt_sigstore_result *res, mt_err e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* b64.c: protojson bytes (standard or URL-safe alphabet, padding optional). */
MT_WUR mt_err sig_b64_decode(const char *s, size_t len, size_t max, uint8_t **out, size_t *out_len);
/* A member that must be a base64 string; MT_ERR_SIGSTORE_BASE64 on bad base64. */
MT_WUR mt_err sig_json_bytes(const json_t *obj, const char *key, size_t max, uint8_t **out,
                             size_t *out_len);
/* A member of exactly n decoded bytes. */
MT_WUR mt_err sig_json_bytes_exact(const json_t *obj, const char *key, uint8_t *out, size_t n);
/* int64 as a decimal string or a JSON integer (section 2.1). */
MT_WUR mt_err sig_json_int64(const json_t *obj, const char *key, int64_t *out);
/* Every key of obj is in the NULL-terminated list (protojson rejects unknown fields). */
MT_WUR mt_err sig_json_only_keys(const json_t *obj, const char *const *allowed);
/* The member at a NULL-terminated path of object keys, or NULL (a missing key, a non-object). */
const json_t *sig_json_path(const json_t *v, const char *const *path);
/*
 * A tlog entry's canonicalizedBody parsed into *body (json_decref), its kind and
 * apiVersion those of the entry's kindVersion; MT_ERR_SIGSTORE_TLOG_BODY
 * (with *body NULL) otherwise.
 */
MT_WUR mt_err sig_tlog_body_load(const struct sig_tlog_entry *e, json_t **body,
                                 struct mt_sigstore_result *res);
/* RFC 3339 with an optional fraction to milliseconds; round_up for window ends. */
MT_WUR mt_err sig_rfc3339_ms(const char *s, int round_up, int64_t *out_ms);
/* PEM text (one block of the given type) to DER. */
MT_WUR mt_err sig_pem_to_der(const uint8_t *pem, size_t len, const char *type, uint8_t **der,
                             size_t *der_len);
/* DER SubjectPublicKeyInfo of a key. */
MT_WUR mt_err sig_spki_der(EVP_PKEY *key, uint8_t **der, size_t *der_len);

/* bundle_parse.c */
MT_WUR mt_err sig_bundle_parse(const uint8_t *doc, size_t len, struct sig_bundle *b,
                               struct mt_sigstore_result *res);
void sig_bundle_clear(struct sig_bundle *b);

/* trusted_root.c */
const struct sig_log *sig_trust_find_tlog(const struct mt_sigstore_trust *t, const uint8_t id[32]);
const struct sig_log *sig_trust_find_ctlog(const struct mt_sigstore_trust *t, const uint8_t *id,
                                           size_t id_len);
int sig_window_contains(const struct sig_window *w, int64_t t_ms);

/* rekor_body.c: hashedrekord 0.0.1 (section 4.4 b-c). */
struct sig_binding {
    const uint8_t *digest; /* 32 bytes: D */
    const uint8_t *sig;
    size_t sig_len;
    const uint8_t *material_der; /* leaf certificate DER, or the SPKI DER in key mode */
    size_t material_der_len;
    int material_is_key;
    EVP_PKEY *signer; /* the leaf's or the pinned key (keyDetails of Rekor v2) */
    int is_dsse;
    const uint8_t *dsse_payload; /* DSSE: the envelope payload */
    size_t dsse_payload_len;
    const uint8_t *pae_digest; /* DSSE: H(PAE(type, payload)), 32 bytes */
};
MT_WUR mt_err sig_rekor_body_check(const struct sig_tlog_entry *e, const struct sig_binding *bind,
                                   struct mt_sigstore_result *res);
/* Kinds (4.4 b): hashedrekord 0.0.1, hashedrekord 0.0.2 (Rekor v2), dsse 0.0.1. */
int sig_entry_is_v2(const struct sig_tlog_entry *e);
/* rekor_v2.c: hashedrekord 0.0.2, rebuilt from the bundle and compared byte for byte (2.4). */
MT_WUR mt_err sig_rekor_v2_body_check(const struct sig_tlog_entry *e,
                                      const struct sig_binding *bind,
                                      struct mt_sigstore_result *res);
/* dsse.c: dsse 0.0.1 bodies, PAE, the envelope signature and the in-toto subject (2.7). */
MT_WUR mt_err sig_dsse_body_check(const struct sig_tlog_entry *e, const struct sig_binding *bind,
                                  struct mt_sigstore_result *res);
MT_WUR mt_err sig_dsse_pae(const char *type, const uint8_t *payload, size_t len, uint8_t **out,
                           size_t *out_len);
MT_WUR mt_err sig_dsse_verify(EVP_PKEY *key, const EVP_MD *md, const struct sig_bundle *b,
                              const uint8_t digest[32], struct mt_sigstore_result *res);
/* The subject check alone: D among subject[].digest.sha256 of an in-toto statement. */
MT_WUR mt_err sig_intoto_subject(const uint8_t *payload, size_t len, const uint8_t digest[32]);

/* tsa.c: RFC 3161 timestamps over the signature bytes (4.5); *gen_time in Unix seconds. */
MT_WUR mt_err sig_tsa_verify(const struct mt_sigstore_trust *t, const uint8_t *der, size_t len,
                             const uint8_t *sig, size_t sig_len, int64_t *gen_time,
                             struct mt_sigstore_result *res);

/* set.c: the signed entry timestamp (section 4.4 d). */
MT_WUR mt_err sig_set_payload(const struct sig_tlog_entry *e, char **out, size_t *out_len);
MT_WUR mt_err sig_set_verify(const struct sig_tlog_entry *e, const struct sig_log *log,
                             struct mt_sigstore_result *res);

/* merkle.c: RFC 6962 / 9162 inclusion proof. */
void sig_merkle_leaf_hash(const uint8_t *leaf, size_t len, uint8_t out[32]);
MT_WUR mt_err sig_merkle_verify(const uint8_t leaf_hash[32], int64_t index, int64_t size,
                                const uint8_t (*hashes)[32], size_t n_hashes,
                                const uint8_t root[32]);

/* checkpoint.c: signed note (section 2.5). */
struct sig_checkpoint {
    char origin[256];
    int64_t size;
    uint8_t root[32];
};
MT_WUR mt_err sig_checkpoint_parse(const char *note, size_t len, struct sig_checkpoint *cp,
                                   size_t *text_len);
/* v2: Rekor v2 rules (origin and signer name = baseUrl host, C2SP key IDs, 3.3). */
MT_WUR mt_err sig_checkpoint_verify(const char *note, size_t len, const struct sig_log *log, int v2,
                                    struct sig_checkpoint *cp, struct mt_sigstore_result *res);
/* The host of a baseUrl ("https://host[:port]/path" -> "host"). */
MT_WUR mt_err sig_url_host(const char *url, char *out, size_t cap);
/* The C2SP signed-note key ID of a Rekor v2 log key (3.3). */
MT_WUR mt_err sig_note_key_id(const struct sig_log *log, uint8_t out[32]);

/* fulcio_chain.c: leaf to a trusted-root CA at time t (section 4.7). */
MT_WUR mt_err sig_fulcio_verify(const struct mt_sigstore_trust *t, X509 *leaf, int64_t when,
                                X509 **issuer_out, struct mt_sigstore_result *res);

/* sct.c: embedded SCTs (section 4.8). */
MT_WUR mt_err sig_sct_verify(const struct mt_sigstore_trust *t, X509 *leaf, X509 *issuer,
                             struct mt_sigstore_result *res);

/* identity.c (section 4.9). */
MT_WUR mt_err sig_cert_san(X509 *leaf, char *out, size_t cap);
MT_WUR mt_err sig_cert_issuer(X509 *leaf, char *out, size_t cap);
/* Raw (.1-.6) or UTF8String (.8 and up) value of a Fulcio extension; MT_ERR_SIGSTORE_CERT_EXTENSION
 * when malformed, and *found = 0 when absent. */
MT_WUR mt_err sig_cert_fulcio_ext(X509 *leaf, unsigned n, char *out, size_t cap, int *found);
MT_WUR mt_err sig_policy_check_keyless(const struct mt_sigstore_policy *p);
MT_WUR mt_err sig_identity_verify(X509 *leaf, const struct mt_sigstore_policy *p,
                                  struct mt_sigstore_result *res);
/* Unanchored POSIX ERE match (RE2 MatchString semantics for simple patterns). */
MT_WUR mt_err sig_regex_match(const char *re, const char *s, int *matched);

/* artifact.c (section 4.3, 4.10) */
struct sig_digest {
    uint8_t sha256[32];
    const EVP_MD *extra_md; /* a second hash for key-based P-384/P-521, or NULL */
    uint8_t extra[EVP_MAX_MD_SIZE];
    size_t extra_len;
};
MT_WUR mt_err sig_artifact_digest(const struct mt_sigstore_artifact *a, const EVP_MD *extra_md,
                                  struct sig_digest *out, struct mt_sigstore_result *res);
/* Verify a DER/raw signature over a precomputed digest with the signature md. */
MT_WUR mt_err sig_verify_prehashed(EVP_PKEY *key, const EVP_MD *md, const uint8_t *dgst,
                                   size_t dlen, const uint8_t *sig, size_t sig_len);
/* Verify a signature over a message with SHA-256 (ECDSA/RSA) or pure Ed25519. */
MT_WUR mt_err sig_verify_message(EVP_PKEY *key, const uint8_t *msg, size_t len, const uint8_t *sig,
                                 size_t sig_len);

/* keyed.c (section 5) */
const EVP_MD *sig_key_md(EVP_PKEY *key);
/*
 * The signature over the artifact with a pinned key.  key_md_only: only the
 * key type's hash (5.1; detached signatures); otherwise SHA-256 is accepted
 * for any key as well (bundles: the hash a hashedrekord entry records, and
 * what sigstore-python signs with a P-384 key).
 */
MT_WUR mt_err sig_keyed_signature(EVP_PKEY *key, const struct sig_digest *d, const uint8_t *sig,
                                  size_t sig_len, int key_md_only, struct mt_sigstore_result *res);

#endif
