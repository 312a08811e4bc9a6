/*
 * Release documents generated from fixed inputs (tests/golden/release/
 * inputs) are byte-identical to tests/golden/release/expected: every JSON
 * asset of both families, the checksums files, the merod TOML of each
 * profile (mero-tee-reference.md 3.8), the merod config commands (3.9) and
 * the compatibility catalog (3.3).  The assembled release, signed with a
 * fresh key, verifies with every check passing.
 */
#include "mt_testlib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "release/assemble.h"
#include "release/catalog.h"
#include "release/merod_config.h"
#include "release/sign.h"
#include "release/verify.h"
#include "release_fixture.h"
#include "util/mt_alloc.h"

#define GOLDEN RELEASE_GOLDEN
#define VERSION "2.3.40"

static char tmpdir[256];

static const char *const kms_files[] = {
    "kms-phala-attestation-policy.debug-read-only.json",
    "kms-phala-binaries-sbom.spdx.json",
    "kms-phala-container-sbom.spdx.json",
    "kms-phala-attestation-policy.debug.json",
    "kms-phala-attestation-policy.json",
    "kms-phala-attestation-policy.locked-read-only.json",
    "kms-phala-checksums.txt",
    "kms-phala-compatibility-map.json",
    "kms-phala-container-metadata.json",
    "kms-phala-release-manifest.json",
    NULL,
};
static const char *const node_files[] = {
    "node-image-gcp-checksums.txt",
    "node-image-gcp-release-sbom.spdx.json",
    "published-mrtds.json",
    "release-provenance.json",
    NULL,
};

static void
expect_same(const char *want_path, const void *got, size_t got_len)
{
    size_t len = 0;
    uint8_t *want = mt_test_read_file(want_path, &len);

    if (len != got_len || memcmp(want, got, len) != 0)
        fail_msg("%s: generated output differs from the golden file (%zu vs %zu bytes)", want_path,
                 got_len, len);
    mt_free(want);
}

static void
expect_same_file(const char *want_path, const char *got_path)
{
    size_t len = 0;
    uint8_t *got = mt_test_read_file(got_path, &len);

    expect_same(want_path, got, len);
    mt_free(got);
}

static int
setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/mt-release-golden-XXXXXX");
    return mkdtemp(tmpdir) != NULL ? 0 : -1;
}

static int
teardown(void **state)
{
    (void)state;
    return mt_test_rm_rf(tmpdir);
}

static void
test_assembled_documents_match_golden(void **state)
{
    char out[300], got[600], want[600];
    size_t i;

    (void)state;
    snprintf(out, sizeof(out), "%s/rel", tmpdir);
    release_assemble_golden(out, NULL);
    for (i = 0; kms_files[i] != NULL; i++) {
        snprintf(got, sizeof(got), "%s/mero-kms-v" VERSION "/%s", out, kms_files[i]);
        snprintf(want, sizeof(want), GOLDEN "/expected/mero-kms-v" VERSION "/%s", kms_files[i]);
        expect_same_file(want, got);
    }
    for (i = 0; node_files[i] != NULL; i++) {
        snprintf(got, sizeof(got), "%s/mero-tee-v" VERSION "/%s", out, node_files[i]);
        snprintf(want, sizeof(want), GOLDEN "/expected/mero-tee-v" VERSION "/%s", node_files[i]);
        expect_same_file(want, got);
    }
    /* A release is never overwritten. */
    {
        struct mt_rel_assemble_in in;
        json_t *meta = NULL;
        char why[256];
        const char *bin = GOLDEN "/inputs/meta.json";

        EXPECT_OK(mt_rel_probe_load(GOLDEN "/inputs/meta.json", MT_REL_PROBE_META, &meta, why,
                                    sizeof(why)));
        memset(&in, 0, sizeof(in));
        in.meta = meta;
        in.out_dir = out;
        in.binaries = &bin;
        in.num_binaries = 1;
        /* Missing probes are refused before anything is written. */
        EXPECT_ERR(mt_rel_assemble(&in, why, sizeof(why)), MT_ERR_ARG);
        json_decref(meta);
    }
}

static void
test_signed_golden_release_verifies_and_derives_golden_outputs(void **state)
{
    struct mt_rel_trust_cfg cfg;
    struct mt_rel_report r;
    struct mt_rel_loaded l;
    char out[300], kdir[400], ndir[400], priv[300], pub[300], why[256], want[600];
    char *settings[MT_REL_MEROD_SETTINGS] = {NULL}, *cli = NULL;
    EVP_PKEY *key = NULL;
    json_t *entry = NULL, *entries, *doc = NULL;
    struct mt_buf b;
    size_t i, n = 0;

    (void)state;
    snprintf(out, sizeof(out), "%s/signed", tmpdir);
    release_assemble_golden(out, NULL);
    snprintf(kdir, sizeof(kdir), "%s/mero-kms-v" VERSION, out);
    snprintf(ndir, sizeof(ndir), "%s/mero-tee-v" VERSION, out);
    snprintf(priv, sizeof(priv), "%s/release.key", tmpdir);
    snprintf(pub, sizeof(pub), "%s/release.pub", tmpdir);
    release_make_key(priv, pub);
    EXPECT_OK(mt_rel_sign_key_load(priv, &key));
    EXPECT_OK(mt_rel_sign_dir(kdir, key, &n, why, sizeof(why)));
    assert_int_equal(n, 12);
    EXPECT_OK(mt_rel_sign_dir(ndir, key, &n, why, sizeof(why)));
    assert_int_equal(n, 4);
    EVP_PKEY_free(key);

    memset(&cfg, 0, sizeof(cfg));
    cfg.key = pub;
    mt_rel_report_init(&r);
    memset(&l, 0, sizeof(l));
    EXPECT_OK(mt_rel_verify_release(&cfg, kdir, MT_REL_KMS, VERSION, &r, &l, why, sizeof(why)));
    /* 38 checks, the two required SBOMs (asset, schema, signature), assets:purposes, unlisted. */
    assert_int_equal(r.n, 46);
    assert_int_equal(mt_rel_report_failed(&r), 0);
    assert_non_null(mt_rel_report_find(&r, "asset:kms-phala-binaries-sbom.spdx.json"));
    assert_non_null(mt_rel_report_find(&r, "schema:kms-phala-binaries-sbom.spdx.json"));
    assert_non_null(mt_rel_report_find(&r, "signature:kms-phala-binaries-sbom.spdx.json"));
    assert_non_null(mt_rel_report_find(&r, "asset:kms-phala-container-sbom.spdx.json"));
    assert_non_null(mt_rel_report_find(&r, "schema:kms-phala-container-sbom.spdx.json"));
    assert_non_null(mt_rel_report_find(&r, "signature:kms-phala-container-sbom.spdx.json"));
    assert_non_null(mt_rel_report_find(&r, "assets:purposes"));
    assert_non_null(mt_rel_report_find(&r, "assets:unlisted"));
    mt_rel_report_free(&r);

    /* The merod TOML of each profile (3.8) and the merod config commands (3.9). */
    for (i = 0; i < 3; i++) {
        mt_buf_init(&b, 65536);
        EXPECT_OK(mt_rel_merod_toml(l.kms.policy[i], VERSION, mt_rel_profiles[i],
                                    "https://kms.example.com/", &b));
        snprintf(want, sizeof(want), GOLDEN "/expected/merod-config.%s.toml", mt_rel_profiles[i]);
        expect_same(want, b.p, b.len);
        mt_buf_free(&b);
    }
    EXPECT_OK(mt_rel_merod_settings(l.kms.policy[2], "https://kms.example.com/", settings));
    assert_string_equal(settings[0], "tee.kms.phala.url=\"https://kms.example.com/\"");
    assert_string_equal(settings[9], "tee.kms.phala.attestation.binding_b64="
                                     "\"IyP+rOn9F1GomrK+u4q6FF80OjaI49FlXtQo6wdm45Y=\"");
    mt_rel_merod_settings_free(settings);
    EXPECT_ERR(mt_rel_merod_settings(l.kms.policy[2], "https://kms\".example", settings),
               MT_ERR_ARG);
    mt_rel_loaded_free(&l);
    assert_int_equal(mt_test_run_cli(&cli, "policy", "merod-config", "--release", kdir, "--kms-url",
                                     "https://kms.example.com/", "--key", pub, "--apply",
                                     "--merod-home", "/data/calimero", "--dry-run", NULL),
                     0);
    expect_same(GOLDEN "/expected/merod-apply.locked-read-only.txt", cli, strlen(cli));
    mt_free(cli);

    /* The catalog (3.3). */
    mt_rel_report_init(&r);
    EXPECT_OK(mt_rel_catalog_check(&cfg, kdir, ndir, VERSION, &r, &entry, why, sizeof(why)));
    assert_int_equal(mt_rel_report_failed(&r), 0);
    assert_non_null(mt_rel_report_find(&r, "cross:node-measurements"));
    mt_rel_report_free(&r);
    assert_non_null(entry);
    entries = json_pack("[o]", entry);
    EXPECT_OK(mt_rel_catalog_doc(entries, &doc));
    mt_buf_init(&b, 65536);
    EXPECT_OK(mt_rel_json_dump(doc, &b));
    expect_same(GOLDEN "/expected/compatibility-catalog.json", b.p, b.len);
    mt_buf_free(&b);
    json_decref(doc);
    /* The same version twice is refused. */
    json_array_append(entries, json_array_get(entries, 0));
    EXPECT_ERR(mt_rel_catalog_doc(entries, &doc), MT_ERR_ARG);
    json_decref(entries);
}

static void
test_version_order(void **state)
{
    (void)state;
    assert_true(mt_rel_version_cmp("2.3.9", "2.3.40") < 0);
    assert_true(mt_rel_version_cmp("10.0.0", "9.99.99") > 0);
    assert_int_equal(mt_rel_version_cmp("2.3.40", "2.3.40"), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_assembled_documents_match_golden),
        cmocka_unit_test(test_signed_golden_release_verifies_and_derives_golden_outputs),
        cmocka_unit_test(test_version_order),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
