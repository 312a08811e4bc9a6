/*
 * Orchestration of a bundle verification (sigstore.md 4 keyless, 5 key
 * based).  Order of checks, so that a failure names the first one that
 * fired: policy, bundle structure (4.1), signer material (4.2), artifact
 * digest and messageDigest (4.3), [key mode: the signature, 5.2 step 2],
 * each tlog entry (4.4: log, kind, binding, SET, checkpoint, inclusion
 * proof, time versus certificate), RFC 3161 timestamps (4.5), signing
 * times (4.6), the Fulcio chain at each time (4.7), SCTs (4.8), identity
 * (4.9), and the artifact signature or DSSE envelope (4.10).
 */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/x509.h>

#include "sigstore/sig_internal.h"
#include "util/mt_alloc.h"
#include "util/mt_hex.h"
#include "util/mt_time.h"

static void
res_init(struct mt_sigstore_result *res)
{
    memset(res, 0, sizeof(*res));
    res->signing_time = -1;
    res->log_index = -1;
}

static mt_err
cert_window(X509 *leaf, int64_t *nb, int64_t *na)
{
    struct tm tm;

    MT_ENSURE(ASN1_TIME_to_tm(X509_get0_notBefore(leaf), &tm) == 1, MT_ERR_SIGSTORE_CERT);
    MT_ENSURE(mt_tm_to_unix(&tm, nb) == MT_OK, MT_ERR_SIGSTORE_CERT);
    MT_ENSURE(ASN1_TIME_to_tm(X509_get0_notAfter(leaf), &tm) == 1, MT_ERR_SIGSTORE_CERT);
    MT_ENSURE(mt_tm_to_unix(&tm, na) == MT_OK, MT_ERR_SIGSTORE_CERT);
    return MT_OK;
}

/* Inclusion proof and checkpoint (4.4 e); the checkpoint is checked first when present. */
static mt_err
check_proof(const struct sig_tlog_entry *e, const struct sig_log *log, int v2,
            struct mt_sigstore_result *res)
{
    struct sig_checkpoint cp;
    uint8_t lh[32];

    if (e->checkpoint != NULL) {
        MT_GUARD(sig_checkpoint_verify(e->checkpoint, e->checkpoint_len, log, v2, &cp, res));
        MT_ENSURE(cp.size == e->tree_size && CRYPTO_memcmp(cp.root, e->root_hash, 32) == 0,
                  sig_fail(res, MT_ERR_SIGSTORE_CHECKPOINT_MISMATCH,
                           "checkpoint (size %lld) does not match the inclusion proof (size %lld)",
                           (long long)cp.size, (long long)e->tree_size));
    }
    /* The tree-local index, not the global logIndex (4.13). */
    sig_merkle_leaf_hash(e->body, e->body_len, lh);
    MT_ENSURE(sig_merkle_verify(lh, e->proof_index, e->tree_size, (const uint8_t(*)[32])e->hashes,
                                e->n_hashes, e->root_hash) == MT_OK,
              sig_fail(res, MT_ERR_SIGSTORE_INCLUSION_PROOF,
                       "inclusion proof of entry %lld does not lead to its root hash",
                       (long long)e->log_index));
    MT_ENSURE(e->checkpoint != NULL, sig_fail(res, MT_ERR_SIGSTORE_MISSING_CHECKPOINT,
                                              "inclusion proof without a checkpoint"));
    return MT_OK;
}

/*
 * One tlog entry (4.4 a-g).  *counted: the log of an entry from a known log
 * that verified (NULL otherwise); *timed: its integratedTime is covered by a
 * verified SET (whose time was checked against the log key's window).
 */
static mt_err
check_entry(const struct mt_sigstore_trust *trust, const struct sig_tlog_entry *e, X509 *leaf,
            const struct sig_binding *bind, const struct sig_log **counted, int *timed,
            struct mt_sigstore_result *res)
{
    const struct sig_log *log;
    int64_t nb, na;
    int v2;

    *counted = NULL;
    *timed = 0;
    log = sig_trust_find_tlog(trust, e->log_id);
    if (log == NULL)
        return MT_OK; /* a log we do not know: the entry does not count (a) */
    v2 = sig_entry_is_v2(e);
    /* b, c: the kind, and the body bound to the bundle. */
    if (strcmp(e->kind, "hashedrekord") == 0 && strcmp(e->version, "0.0.1") == 0) {
        MT_ENSURE(!bind->is_dsse, sig_fail(res, MT_ERR_SIGSTORE_TLOG_BODY,
                                           "hashedrekord 0.0.1 entry for a DSSE envelope"));
        MT_GUARD(sig_rekor_body_check(e, bind, res));
    } else if (strcmp(e->kind, "hashedrekord") == 0 && strcmp(e->version, "0.0.2") == 0) {
        MT_GUARD(sig_rekor_v2_body_check(e, bind, res));
    } else if (strcmp(e->kind, "dsse") == 0 && strcmp(e->version, "0.0.1") == 0) {
        MT_ENSURE(bind->is_dsse, sig_fail(res, MT_ERR_SIGSTORE_TLOG_BODY,
                                          "dsse 0.0.1 entry for a message signature"));
        MT_GUARD(sig_dsse_body_check(e, bind, res));
    } else {
        return sig_fail(res, MT_ERR_SIGSTORE_UNSUPPORTED,
                        "tlog entry kind %s/%s (hashedrekord 0.0.1/0.0.2 and dsse 0.0.1 are "
                        "verified)",
                        e->kind, e->version);
    }
    if (v2) {
        /* Rekor v2: no SET; the proof (with its checkpoint) is the log evidence (4.4 d-e). */
        MT_ENSURE(e->set == NULL, sig_fail(res, MT_ERR_SIGSTORE_FORMAT,
                                           "Rekor v2 entry with an inclusion promise"));
        MT_ENSURE(e->has_proof, sig_fail(res, MT_ERR_SIGSTORE_MISSING_PROOF,
                                         "Rekor v2 entry without an inclusion proof"));
        MT_ENSURE(e->proof_index == e->log_index,
                  sig_fail(res, MT_ERR_SIGSTORE_INCLUSION_PROOF,
                           "Rekor v2 inclusion proof index %lld differs from logIndex %lld",
                           (long long)e->proof_index, (long long)e->log_index));
    }
    if (e->set != NULL) {
        MT_GUARD(sig_set_verify(e, log, res));
        *timed = 1;
    }
    if (e->has_proof || e->checkpoint != NULL)
        MT_GUARD(check_proof(e, log, v2, res));
    if (leaf != NULL && e->integrated_time != 0) {
        MT_GUARD(cert_window(leaf, &nb, &na));
        MT_ENSURE(e->integrated_time >= nb && e->integrated_time <= na,
                  sig_fail(res, MT_ERR_SIGSTORE_TIME_CERT,
                           "integratedTime %lld outside the certificate validity [%lld, %lld]",
                           (long long)e->integrated_time, (long long)nb, (long long)na));
    }
    *counted = log;
    return MT_OK;
}

/*
 * Every tlog entry (4.4 a-f); logs[i] is the log of entry i when it verified,
 * timed[i] whether a verified SET covers its integratedTime.  SET-covered
 * times are appended to times.  Whether an entry counts is settled by
 * count_entries, once the RFC 3161 times are known.
 */
static mt_err
check_entries(const struct mt_sigstore_trust *trust, const struct sig_bundle *b,
              const struct sig_binding *bind, const struct sig_log **logs, int *timed,
              int64_t *times, size_t *n_times, struct mt_sigstore_result *res)
{
    size_t i;

    *n_times = 0;
    for (i = 0; i < b->n_entries; i++) {
        const struct sig_tlog_entry *e = &b->entries[i];

        MT_GUARD(check_entry(trust, e, b->leaf, bind, &logs[i], &timed[i], res));
        if (logs[i] != NULL && timed[i]) {
            times[(*n_times)++] = e->integrated_time;
            if (res->signing_time < 0)
                res->signing_time = e->integrated_time;
        }
    }
    return MT_OK;
}

/*
 * 3.2 / 4.4 g: the log key's validFor for an entry without a SET.  A SET
 * ties integratedTime to the log key's window (set.c); an entry that only
 * has an inclusion proof (Rekor v2, proof-only Rekor v1) is vouched for by
 * the log key at the verified signing times instead: every RFC 3161 genTime
 * must lie in the window (closed, as elsewhere), so a retired log key does
 * not keep witnessing entries.  With no verified time at all (key mode
 * without a timestamp) nothing places the entry in time, so it counts only
 * while the key's window is open-ended.  sigstore-go likewise checks every
 * verified time against the validity windows of the keys it uses.
 */
static mt_err
unset_entry_window(const struct sig_tlog_entry *e, const struct sig_log *log, const int64_t *tsa,
                   size_t n_tsa, int *counts, struct mt_sigstore_result *res)
{
    size_t i;

    *counts = 0;
    if (n_tsa == 0) {
        *counts = log->valid.end_ms == SIG_TIME_OPEN;
        return MT_OK;
    }
    for (i = 0; i < n_tsa; i++)
        MT_ENSURE(tsa[i] >= 0 && tsa[i] <= INT64_MAX / 1000 &&
                      sig_window_contains(&log->valid, tsa[i] * 1000),
                  sig_fail(res, MT_ERR_SIGSTORE_TLOG_KEY_TIME,
                           "tlog entry %lld has no signed entry timestamp, and the signing time "
                           "%lld is outside the validity of its log key (%s)",
                           (long long)e->log_index, (long long)tsa[i], log->base_url));
    *counts = 1;
    return MT_OK;
}

/* 4.4 g: the entries that count, the threshold, and the entry reported in res. */
static mt_err
count_entries(const struct sig_bundle *b, const struct sig_log *const *logs, const int *timed,
              const int64_t *tsa, size_t n_tsa, struct mt_sigstore_result *res)
{
    size_t i, verified = 0, closed = 0;
    int counts, reported_timed = 0;

    for (i = 0; i < b->n_entries; i++) {
        const struct sig_tlog_entry *e = &b->entries[i];

        if (logs[i] == NULL)
            continue;
        counts = timed[i];
        if (!counts) {
            MT_GUARD(unset_entry_window(e, logs[i], tsa, n_tsa, &counts, res));
            if (!counts) {
                closed++;
                continue;
            }
        }
        if (verified++ == 0 || (timed[i] && !reported_timed)) {
            res->log_index = e->log_index;
            mt_hex_encode(e->log_id, 32, res->log_id_hex);
            reported_timed = timed[i];
        }
    }
    MT_ENSURE(verified >= 1 || closed == 0,
              sig_fail(res, MT_ERR_SIGSTORE_TLOG_KEY_TIME,
                       "no verified signing time places the tlog entries inside their log keys' "
                       "validity (%zu entries without a signed entry timestamp or timestamp)",
                       closed));
    MT_ENSURE(verified >= 1,
              sig_fail(res, MT_ERR_SIGSTORE_NO_TLOG,
                       "no tlog entry from a log of the trusted root (%zu entries)", b->n_entries));
    return MT_OK;
}

/*
 * 4.5: every RFC 3161 timestamp the bundle carries must verify (strict, so a
 * bad timestamp is reported rather than silently dropped); each genTime is
 * a signing time.  Appends to times.
 */
static mt_err
check_timestamps(const struct mt_sigstore_trust *trust, const struct sig_bundle *b, int64_t *times,
                 size_t *n_times, struct mt_sigstore_result *res)
{
    int64_t gen = 0;
    size_t i;

    for (i = 0; i < b->n_timestamps; i++) {
        MT_GUARD(sig_tsa_verify(trust, b->timestamps[i], b->timestamp_lens[i], b->sig, b->sig_len,
                                &gen, res));
        times[(*n_times)++] = gen;
        if (res->signing_time < 0)
            res->signing_time = gen;
    }
    return MT_OK;
}

static mt_err
keyless_tail(const struct mt_sigstore_trust *trust, const struct mt_sigstore_policy *policy,
             const struct sig_bundle *b, const struct sig_digest *d, const int64_t *times,
             size_t n_times, struct mt_sigstore_result *res)
{
    X509 *issuer = NULL, *iss;
    EVP_PKEY *pub;
    size_t i;
    mt_err rv = MT_OK, e;

    /* 4.6: at least one verified time (a SET-covered integratedTime or a TSA genTime). */
    MT_ENSURE(n_times > 0,
              sig_fail(res, MT_ERR_SIGSTORE_NO_SIGNED_TIME,
                       "no verified signing time: no signed entry timestamp and no RFC 3161 "
                       "timestamp"));
    /* 4.7: the chain at every verified time. */
    for (i = 0; i < n_times; i++) {
        iss = NULL;
        MT_GUARD_GOTO(sig_fulcio_verify(trust, b->leaf, times[i], &iss, res), rv, out);
        if (issuer == NULL)
            issuer = iss;
        else
            X509_free(iss);
    }
    /* 4.8, 4.9 */
    MT_GUARD_GOTO(sig_sct_verify(trust, b->leaf, issuer, res), rv, out);
    MT_GUARD_GOTO(sig_identity_verify(b->leaf, policy, res), rv, out);
    pub = X509_get0_pubkey(b->leaf);
    MT_ENSURE_GOTO(pub != NULL, sig_fail(res, MT_ERR_SIGSTORE_CERT, "leaf without a public key"),
                   rv, out);
    /* 4.10: a DSSE envelope over PAE, naming the artifact. */
    if (b->is_dsse) {
        MT_GUARD_GOTO(sig_dsse_verify(pub, EVP_sha256(), b, d->sha256, res), rv, out);
        goto out;
    }
    /* 4.10: ECDSA over the SHA-256 digest, whatever the curve (4.3). */
    e = sig_verify_prehashed(pub, EVP_sha256(), d->sha256, 32, b->sig, b->sig_len);
    MT_ENSURE_GOTO(e == MT_OK,
                   sig_fail(res, e, "artifact signature does not verify with the certificate key"),
                   rv, out);
out:
    X509_free(issuer);
    return rv;
}

/* H(PAE(payloadType, payload)): what a Rekor v2 entry records for a DSSE envelope (2.4). */
static mt_err
pae_digest(const struct sig_bundle *b, uint8_t out[32])
{
    uint8_t *pae = NULL;
    size_t len = 0;
    unsigned int n = 0;
    int ok;

    MT_GUARD(sig_dsse_pae(b->dsse_type, b->dsse_payload, b->dsse_payload_len, &pae, &len));
    ok = EVP_Digest(pae, len, out, &n, EVP_sha256(), NULL) == 1 && n == 32;
    mt_free(pae);
    return ok ? MT_OK : MT_ERR_CRYPTO;
}

mt_err
mt_sigstore_verify_bundle(const struct mt_sigstore_trust *trust,
                          const struct mt_sigstore_policy *policy,
                          const struct mt_sigstore_artifact *artifact, const uint8_t *bundle,
                          size_t bundle_len, struct mt_sigstore_result *res)
{
    struct sig_bundle *b = NULL;
    struct sig_binding bind;
    struct sig_digest d;
    int64_t times[SIG_MAX_TLOG_ENTRIES + SIG_MAX_TIMESTAMPS];
    const struct sig_log *logs[SIG_MAX_TLOG_ENTRIES];
    int timed[SIG_MAX_TLOG_ENTRIES];
    uint8_t *spki = NULL, pae_sha[32];
    size_t spki_len = 0, n_times = 0, n_set = 0;
    EVP_PKEY *key;
    mt_err rv;

    MT_ENSURE(res != NULL, MT_ERR_ARG);
    res_init(res);
    MT_ENSURE(policy != NULL && artifact != NULL,
              sig_fail(res, MT_ERR_SIGSTORE_POLICY, "no policy or artifact"));
    key = policy->key;
    if (key == NULL)
        MT_ENSURE(sig_policy_check_keyless(policy) == MT_OK,
                  sig_fail(res, MT_ERR_SIGSTORE_POLICY,
                           "keyless verification needs an identity and an issuer "
                           "(exact or a valid regexp)"));
    b = mt_calloc(1, sizeof(*b));
    MT_ENSURE(b != NULL, MT_ERR_NOMEM);
    MT_GUARD_GOTO(sig_bundle_parse(bundle, bundle_len, b, res), rv, out);
    /* 4.2 / 5.2 step 1: the material must match the mode. */
    if (key != NULL)
        MT_ENSURE_GOTO(b->material == SIG_MAT_KEY,
                       sig_fail(res, MT_ERR_SIGSTORE_MATERIAL,
                                "expected a key signature, but the bundle carries a certificate"),
                       rv, out);
    else
        MT_ENSURE_GOTO(b->material == SIG_MAT_CERT,
                       sig_fail(res, MT_ERR_SIGSTORE_KEY_REQUIRED,
                                "bundle was signed with a key; give the public key"),
                       rv, out);
    /* 4.3 */
    MT_GUARD_GOTO(sig_artifact_digest(artifact, key != NULL ? sig_key_md(key) : NULL, &d, res), rv,
                  out);
    if (b->has_msg_digest)
        MT_ENSURE_GOTO(CRYPTO_memcmp(b->msg_digest, d.sha256, 32) == 0,
                       sig_fail(res, MT_ERR_SIGSTORE_MESSAGE_DIGEST,
                                "messageDigest differs from the artifact's SHA-256"),
                       rv, out);
    memset(&bind, 0, sizeof(bind));
    bind.digest = d.sha256;
    bind.sig = b->sig;
    bind.sig_len = b->sig_len;
    if (b->is_dsse) {
        MT_GUARD_GOTO(pae_digest(b, pae_sha), rv, out);
        bind.is_dsse = 1;
        bind.dsse_payload = b->dsse_payload;
        bind.dsse_payload_len = b->dsse_payload_len;
        bind.pae_digest = pae_sha;
    }
    if (key != NULL) {
        /* 5.2 step 2: the signature with the pinned key (the hint is not trusted). */
        if (b->is_dsse)
            MT_GUARD_GOTO(sig_dsse_verify(key, sig_key_md(key), b, d.sha256, res), rv, out);
        else
            MT_GUARD_GOTO(sig_keyed_signature(key, &d, b->sig, b->sig_len, 0, res), rv, out);
        MT_GUARD_GOTO(sig_spki_der(key, &spki, &spki_len), rv, out);
        bind.material_der = spki;
        bind.material_der_len = spki_len;
        bind.material_is_key = 1;
        bind.signer = key;
        /* 5.2 step 4: without a tlog entry the signature check is all there is. */
        if (b->n_entries == 0 && (trust == NULL || b->n_timestamps == 0)) {
            rv = MT_OK;
            goto out;
        }
    } else {
        bind.material_der = b->leaf_der;
        bind.material_der_len = b->leaf_der_len;
        bind.signer = X509_get0_pubkey(b->leaf);
        /* WithTransparencyLog(1): a TSA timestamp alone is not enough (4.4). */
        MT_ENSURE_GOTO(b->n_entries > 0,
                       sig_fail(res, MT_ERR_SIGSTORE_NO_TLOG, "bundle has no tlog entry"), rv, out);
    }
    MT_ENSURE_GOTO(trust != NULL,
                   sig_fail(res, MT_ERR_ARG, "a trusted root is needed to check tlog entries"), rv,
                   out);
    if (b->n_entries > 0)
        MT_GUARD_GOTO(check_entries(trust, b, &bind, logs, timed, times, &n_times, res), rv, out);
    n_set = n_times;
    /*
     * 4.5: RFC 3161 timestamps (in key mode only with a trusted root; there
     * the times only place SET-less entries in their log key's window).
     */
    MT_GUARD_GOTO(check_timestamps(trust, b, times, &n_times, res), rv, out);
    if (b->n_entries > 0)
        MT_GUARD_GOTO(count_entries(b, logs, timed, times + n_set, n_times - n_set, res), rv, out);
    if (key != NULL) {
        rv = MT_OK;
        goto out;
    }
    MT_GUARD_GOTO(keyless_tail(trust, policy, b, &d, times, n_times, res), rv, out);
    rv = MT_OK;
out:
    if (rv == MT_OK)
        res->detail[0] = '\0';
    else if (res->detail[0] == '\0')
        sig_fail(res, rv, "%s", mt_err_message(rv));
    mt_free(spki);
    sig_bundle_clear(b);
    mt_free(b);
    return rv;
}
