/* Target: sig_bundle_parse, mt_sigstore_verify_bundle, sig_tsa_verify, sig_intoto_subject */

/*
 * Any byte string as a Sigstore bundle (protobuf-JSON v0.1-v0.3 or legacy
 * cosign).  Contracts: the parser either fails with a sigstore/bundle code
 * and leaves the bundle cleared, or yields a bundle whose counts respect
 * the limits and whose material matches its kind; verification never
 * passes without a trusted root in keyless mode, always explains a failure,
 * and never passes a digest it was not given.  When the production trusted
 * root is found beside the checkout (../shared), verification also runs
 * against it, reaching the SET, checkpoint and chain code; and against the
 * staging root with a Rekor v2 log and a TSA (rekor2-happy-path), reaching
 * the Rekor v2 body, Ed25519 checkpoint and RFC 3161 code.  The same bytes
 * are also tried as a DER TimeStampResp and as an in-toto statement.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sigstore/sig_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
require(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_sigstore_bundle: contract broken: %s\n", what);
        abort();
    }
}

static const struct mt_sigstore_trust *
load_root(struct mt_sigstore_trust **t, int *tried, const char *path)
{
    if (!*tried) {
        *tried = 1;
        if (mt_sigstore_trust_load(path, t) != MT_OK)
            *t = NULL;
    }
    return *t;
}

static const struct mt_sigstore_trust *
production_root(void)
{
    static struct mt_sigstore_trust *t;
    static int tried;

    return load_root(&t, &tried, "../shared/vectors/sigstore/trusted_root.json");
}

static const struct mt_sigstore_trust *
rekor_v2_root(void)
{
    static struct mt_sigstore_trust *t;
    static int tried;

    return load_root(&t, &tried,
                     "../shared/vectors/sigstore/conformance/rekor2-happy-path/trusted_root.json");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t digest[32] = {0xa0, 0xcf, 0xc7, 0x12, 0x71, 0xd6, 0xe2, 0x78,
                                       0xe5, 0x7c, 0xd3, 0x32, 0xff, 0x95, 0x7c, 0x3f,
                                       0x70, 0x43, 0xfd, 0xda, 0x35, 0x4c, 0x4c, 0xbb,
                                       0x19, 0x0a, 0x30, 0xd5, 0x6e, 0xfa, 0x01, 0xbf};
    struct mt_sigstore_policy pol;
    struct mt_sigstore_artifact art;
    struct mt_sigstore_result res;
    struct sig_bundle *b = calloc(1, sizeof(*b));
    size_t i;
    mt_err e;

    if (b == NULL)
        return 0;
    memset(&res, 0, sizeof(res));
    e = sig_bundle_parse(data, size, b, &res);
    if (e != MT_OK) {
        require(b->n_entries == 0 && b->leaf == NULL && b->sig == NULL, "not cleared on failure");
        require(res.detail[0] != '\0', "failure without a detail");
    } else {
        require(b->n_entries <= SIG_MAX_TLOG_ENTRIES, "too many entries");
        require((b->material == SIG_MAT_CERT) == (b->leaf != NULL), "material and leaf disagree");
        require(b->sig_len > 0, "content without signature bytes");
        require(b->n_timestamps <= SIG_MAX_TIMESTAMPS, "too many timestamps");
        for (i = 0; i < b->n_timestamps; i++)
            require(b->timestamps[i] != NULL && b->timestamp_lens[i] > 0, "empty timestamp");
        require(!b->is_dsse || (b->dsse_type != NULL && b->dsse_payload_len > 0),
                "DSSE envelope without type or payload");
        for (i = 0; i < b->n_entries; i++) {
            require(b->entries[i].log_index >= 0, "negative log index");
            require(b->entries[i].body_len > 0 && b->entries[i].body_b64 != NULL, "no body");
            require(b->entries[i].n_hashes <= SIG_MAX_PROOF_HASHES, "too many hashes");
        }
    }
    sig_bundle_clear(b);
    free(b);

    memset(&pol, 0, sizeof(pol));
    memset(&art, 0, sizeof(art));
    pol.identity = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/"
                   ".github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
    pol.issuer = "https://token.actions.githubusercontent.com";
    art.sha256 = digest;
    e = mt_sigstore_verify_bundle(NULL, &pol, &art, data, size, &res);
    require(e != MT_OK, "keyless verification passed without a trusted root");
    require(res.detail[0] != '\0', "verification failure without a detail");
    if (production_root() != NULL) {
        e = mt_sigstore_verify_bundle(production_root(), &pol, &art, data, size, &res);
        require((e == MT_OK) == (res.detail[0] == '\0'), "detail set iff failed");
        if (e == MT_OK)
            require(res.signing_time > 0 && res.log_index >= 0, "pass without log evidence");
    }
    if (rekor_v2_root() != NULL) {
        static const uint8_t sig[] = "fuzz signature bytes";
        int64_t gen = -1;

        e = mt_sigstore_verify_bundle(rekor_v2_root(), &pol, &art, data, size, &res);
        require((e == MT_OK) == (res.detail[0] == '\0'), "detail set iff failed (v2 root)");
        if (e == MT_OK)
            require(res.signing_time > 0 && res.log_index >= 0, "pass without log evidence (v2)");
        /* A timestamp over other bytes never verifies. */
        memset(&res, 0, sizeof(res));
        e = sig_tsa_verify(rekor_v2_root(), data, size, sig, sizeof(sig) - 1, &gen, &res);
        require(e != MT_OK && res.detail[0] != '\0', "timestamp over foreign bytes verified");
    }
    e = sig_intoto_subject(data, size, digest);
    require(e == MT_OK || e == MT_ERR_SIGSTORE_DSSE_SUBJECT || e == MT_ERR_NOMEM,
            "in-toto subject: unexpected code");
    return 0;
}
