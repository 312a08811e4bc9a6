/*
 * Every case of shared/vectors/sigstore/manifest.json (sigstore.md 7),
 * read in place, in each listed mode (artifact file and sha256 digest):
 * the verdict, and for failures the check that fired (the error code the
 * manifest's spec_first_check maps to).  Phase 1 and phase 2 (RFC 3161,
 * Rekor v2, DSSE) pass cases verify; the deprecated intoto 0.0.2 kind must
 * stay refused as sigstore_unsupported, never accepted.
 */
#include "mt_testlib.h"

#include <stdio.h>
#include <string.h>

#include "sigstore/sigstore.h"
#include "util/mt_alloc.h"
#include "util/mt_hex.h"

#define VDIR "vectors/sigstore/"

/*
 * spec_first_check (sigstore.md 7.2 "Our check") to the rows that may fire:
 * where one spec check covers several of our rows (the RFC 3161 check, the
 * rebuilt Rekor v2 body, the DSSE binding), any of them names that check;
 * id_map below pins the exact row for the cases we have.
 */
static const struct {
    const char *check;
    mt_err want[4];
} check_map[] = {
    {"empty chain", {MT_ERR_SIGSTORE_EMPTY_CHAIN}},
    {"base64", {MT_ERR_SIGSTORE_BASE64}},
    {"JSON", {MT_ERR_SIGSTORE_JSON}},
    {"mediaType", {MT_ERR_SIGSTORE_MEDIA_TYPE}},
    {"proof without checkpoint", {MT_ERR_SIGSTORE_MISSING_CHECKPOINT}},
    {"no checkpoint signature from the log key", {MT_ERR_SIGSTORE_CHECKPOINT_NO_SIG}},
    {"checkpoint signature", {MT_ERR_SIGSTORE_CHECKPOINT_SIG}},
    {"DSSE binding",
     {MT_ERR_SIGSTORE_TLOG_SIGNATURE, MT_ERR_SIGSTORE_TLOG_DIGEST, MT_ERR_SIGSTORE_SIGNATURE,
      MT_ERR_SIGSTORE_DSSE_SUBJECT}},
    /* intoto 0.0.2 is deprecated and stays unsupported (2.4) */
    {"unsupported kind intoto 0.0.2", {MT_ERR_SIGSTORE_UNSUPPORTED}},
    {"v0.2 bundle missing inclusion proof", {MT_ERR_SIGSTORE_MISSING_PROOF}},
    {"no valid SCT", {MT_ERR_SIGSTORE_SCT}},
    {"Merkle root mismatch", {MT_ERR_SIGSTORE_INCLUSION_PROOF}},
    {"no key", {MT_ERR_SIGSTORE_KEY_REQUIRED}},
    {"bad key", {MT_ERR_SIGSTORE_KEY}},
    {"messageDigest", {MT_ERR_SIGSTORE_MESSAGE_DIGEST}},
    {"note parse", {MT_ERR_SIGSTORE_CHECKPOINT_FORMAT}},
    {"origin != baseUrl host", {MT_ERR_SIGSTORE_CHECKPOINT_ORIGIN}},
    {"v2 body reconstruction",
     {MT_ERR_SIGSTORE_TLOG_BODY, MT_ERR_SIGSTORE_TLOG_SIGNATURE, MT_ERR_SIGSTORE_TLOG_DIGEST,
      MT_ERR_SIGSTORE_TLOG_KEY}},
    {"v0.2+ requires a proof", {MT_ERR_SIGSTORE_MISSING_PROOF}},
    {"RFC 3161",
     {MT_ERR_SIGSTORE_TIMESTAMP, MT_ERR_SIGSTORE_TIMESTAMP_IMPRINT, MT_ERR_SIGSTORE_TIMESTAMP_TIME,
      MT_ERR_SIGSTORE_TIMESTAMP_FORMAT}},
    {"chain invalid at TSA time", {MT_ERR_SIGSTORE_CHAIN}},
    {"SET", {MT_ERR_SIGSTORE_SET}},
    {"tlog body <-> bundle binding", {MT_ERR_SIGSTORE_TLOG_SIGNATURE}},
    {"trusted root invalid", {MT_ERR_SIGSTORE_TRUST_ROOT}},
};

/* The exact row per case: cases without a spec_first_check, and the multi-row checks. */
static const struct {
    const char *id;
    mt_err want;
} id_map[] = {
    {"sigstore-python/bundle_cve_2022_36056.txt.sigstore", MT_ERR_SIGSTORE_TLOG_SIGNATURE},
    {"sigstore-python/bundle_invalid_version.txt.sigstore", MT_ERR_SIGSTORE_MEDIA_TYPE},
    {"sigstore-python/bundle_no_checkpoint.txt.sigstore", MT_ERR_SIGSTORE_MISSING_CHECKPOINT},
    {"sigstore-python/bundle_v3_no_signed_time.txt.sigstore.json", MT_ERR_SIGSTORE_NO_SIGNED_TIME},
    {"legacy/set-invalid-signature_fail", MT_ERR_SIGSTORE_SET},
    {"legacy/happy-path-v0.1-sigflip", MT_ERR_SIGSTORE_TLOG_SIGNATURE},
    {"legacy/invalid-ct-key_fail", MT_ERR_SIGSTORE_SCT},
    /* DSSE binding: the logged envelope signature is another one */
    {"conformance/dsse-invalid-sig_fail", MT_ERR_SIGSTORE_TLOG_SIGNATURE},
    {"conformance/dsse-mismatch-sig_fail", MT_ERR_SIGSTORE_TLOG_SIGNATURE},
    /* Rekor v2 body rebuilt from the bundle: the field that differs */
    {"conformance/rekor2-dsse-invalid-sig_fail", MT_ERR_SIGSTORE_TLOG_SIGNATURE},
    {"conformance/rekor2-dsse-mismatch-envelope_fail", MT_ERR_SIGSTORE_TLOG_DIGEST},
    /* RFC 3161 */
    {"conformance/rekor2-timestamp-outside-trust-root-tsa-validity_fail",
     MT_ERR_SIGSTORE_TIMESTAMP_TIME},
    {"conformance/rekor2-timestamp-payload-mismatch_fail", MT_ERR_SIGSTORE_TIMESTAMP_IMPRINT},
    {"conformance/rekor2-timestamp-untrusted-tsa-with-embedded-cert_fail",
     MT_ERR_SIGSTORE_TIMESTAMP},
    {"conformance/rekor2-timestamp-untrusted-tsa-without-embedded-cert_fail",
     MT_ERR_SIGSTORE_TIMESTAMP},
    {"conformance/rekor2-timestamp-outside-tsa-cert-validity_fail", MT_ERR_SIGSTORE_TIMESTAMP},
};

/* Pass cases that stay refused: the deprecated intoto 0.0.2 kind (allowed xfail, 7.2). */
static int
stays_unsupported(const json_t *c)
{
    const json_t *ph = json_object_get(c, "phase");

    return json_is_string(ph) && strncmp(json_string_value(ph), "intoto", 6) == 0;
}

/*
 * The codes a case may end with (want[0] first); MT_OK for a pass.  Every
 * pass case verifies, phase 1 and phase 2 alike, except the intoto kind.
 */
static void
expected(const json_t *c, mt_err want[4])
{
    const char *id = json_string_value(json_object_get(c, "id"));
    const char *expect = json_string_value(json_object_get(c, "expect"));
    const json_t *chk = json_object_get(c, "spec_first_check");
    size_t i, j;

    for (i = 0; i < 4; i++)
        want[i] = MT_ERR_INTERNAL;
    if (strcmp(expect, "pass") == 0) {
        want[0] = stays_unsupported(c) ? MT_ERR_SIGSTORE_UNSUPPORTED : MT_OK;
        return;
    }
    for (i = 0; i < sizeof(id_map) / sizeof(id_map[0]); i++) {
        if (strcmp(id, id_map[i].id) == 0) {
            want[0] = id_map[i].want;
            return;
        }
    }
    if (json_is_string(chk)) {
        for (i = 0; i < sizeof(check_map) / sizeof(check_map[0]); i++) {
            if (strncmp(json_string_value(chk), check_map[i].check, strlen(check_map[i].check)) ==
                0) {
                memcpy(want, check_map[i].want, sizeof(check_map[i].want));
                for (j = 0; j < 4; j++) {
                    if (j > 0 && want[j] == MT_OK)
                        want[j] = want[0]; /* unused slots */
                }
                return;
            }
        }
    }
    fail_msg("%s: no expected check mapped (spec_first_check %s)", id,
             json_is_string(chk) ? json_string_value(chk) : "null");
}

static char *
vpath(const char *rel)
{
    char buf[1024];

    snprintf(buf, sizeof(buf), "%s/" VDIR "%s", mt_test_shared_dir(), rel);
    return mt_strdup(buf);
}

/* Run one case in one mode; the code it ended with. */
static mt_err
run_case(const json_t *c, int digest_mode, struct mt_sigstore_result *res)
{
    const char *rel;
    struct mt_sigstore_trust *trust = NULL;
    struct mt_sigstore_policy pol;
    struct mt_sigstore_artifact art;
    EVP_PKEY *key = NULL;
    uint8_t *bundle, sha[32];
    size_t blen = 0;
    char *p;
    mt_err e;

    memset(res, 0, sizeof(*res));
    memset(&pol, 0, sizeof(pol));
    memset(&art, 0, sizeof(art));
    p = vpath(json_string_value(json_object_get(c, "trusted_root")));
    e = mt_sigstore_trust_load(p, &trust);
    mt_free(p);
    if (e != MT_OK) {
        snprintf(res->detail, sizeof(res->detail), "trusted root not loaded");
        return e;
    }
    if (json_is_string(json_object_get(c, "key"))) {
        p = vpath(json_string_value(json_object_get(c, "key")));
        e = mt_sigstore_key_load(p, &key);
        mt_free(p);
        if (e != MT_OK) {
            snprintf(res->detail, sizeof(res->detail), "key not loaded");
            mt_sigstore_trust_free(trust);
            return e;
        }
        pol.key = key;
    } else {
        pol.identity = json_string_value(json_object_get(c, "identity"));
        pol.issuer = json_string_value(json_object_get(c, "issuer"));
    }
    p = NULL;
    if (digest_mode) {
        rel = json_string_value(json_object_get(c, "artifact_sha256"));
        assert_int_equal(mt_hex_decode_exact(rel, strlen(rel), sha, 32), MT_OK);
        art.sha256 = sha;
    } else {
        p = vpath(json_string_value(json_object_get(c, "artifact")));
        art.path = p;
    }
    {
        char rb[512];

        snprintf(rb, sizeof(rb), VDIR "%s", json_string_value(json_object_get(c, "bundle")));
        bundle = mt_test_read_shared(rb, &blen);
    }
    e = mt_sigstore_verify_bundle(trust, &pol, &art, bundle, blen, res);
    mt_free(bundle);
    mt_free(p);
    EVP_PKEY_free(key);
    mt_sigstore_trust_free(trust);
    return e;
}

static void
test_manifest(void **state)
{
    json_t *m, *c, *modes, *mode;
    size_t i, j, runs = 0, bad = 0, pass_ok = 0;
    struct mt_sigstore_result res;
    mt_err want[4], got;

    (void)state;
    mt_test_require_shared();
    m = mt_test_load_shared_json(VDIR "manifest.json");
    assert_true(json_is_array(m));
    assert_true(json_array_size(m) >= 57);
    json_array_foreach(m, i, c)
    {
        const char *id = json_string_value(json_object_get(c, "id"));

        expected(c, want);
        modes = json_object_get(c, "modes");
        json_array_foreach(modes, j, mode)
        {
            int dm = strcmp(json_string_value(mode), "digest") == 0;

            got = run_case(c, dm, &res);
            runs++;
            if (got != want[0] && got != want[1] && got != want[2] && got != want[3]) {
                bad++;
                print_error("MISMATCH %s [%s]: got %s, want %s (%s)\n", id, json_string_value(mode),
                            mt_err_code(got), mt_err_code(want[0]), res.detail);
                continue;
            }
            if (got == MT_OK) {
                pass_ok++;
                /* The result reports what was established. */
                if (json_is_string(json_object_get(c, "identity")))
                    assert_string_equal(res.identity,
                                        json_string_value(json_object_get(c, "identity")));
                if (json_object_get(c, "key") == NULL || json_is_null(json_object_get(c, "key"))) {
                    assert_true(res.signing_time > 0);
                    assert_true(res.log_index >= 0);
                    assert_int_equal(strlen(res.log_id_hex), 64);
                }
                assert_string_equal(res.detail, "");
            } else {
                assert_true(res.detail[0] != '\0');
            }
        }
    }
    print_message("sigstore manifest: %zu cases, %zu runs, %zu verified, %zu mismatches\n",
                  json_array_size(m), runs, pass_ok, bad);
    json_decref(m);
    assert_int_equal(bad, 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_manifest),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
