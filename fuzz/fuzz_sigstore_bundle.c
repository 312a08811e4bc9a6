/* Target: sig_bundle_parse, mt_sigstore_verify_bundle */

/*
 * Any byte string as a Sigstore bundle (protobuf-JSON v0.1-v0.3 or legacy
 * cosign).  Contracts: the parser either fails with a sigstore/bundle code
 * and leaves the bundle cleared, or yields a bundle whose counts respect
 * the limits and whose material matches its kind; verification never
 * passes without a trusted root in keyless mode, always explains a failure,
 * and never passes a digest it was not given.  When the production trusted
 * root is found beside the checkout (../shared), verification also runs
 * against it, reaching the SET, checkpoint and chain code.
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
production_root(void)
{
    static struct mt_sigstore_trust *t;
    static int tried;

    if (!tried) {
        tried = 1;
        if (mt_sigstore_trust_load("../shared/vectors/sigstore/trusted_root.json", &t) != MT_OK)
            t = NULL;
    }
    return t;
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
        require(b->is_dsse || b->sig_len > 0, "message signature without bytes");
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
    return 0;
}
