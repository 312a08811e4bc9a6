/*
 * A release round trip (issue 5 "Tests"): probe results from the simulated
 * machines of the KMS fixture (the locked-read-only and debug nodes, a
 * debug-read-only machine, the KMS's own TD with each profile's event),
 * `mero-tee release assemble`, `release sign` with a generated key,
 * `release verify` (every check passes); then each file is tampered with
 * in turn (content, checksum line, signature, bundle, sidecars removed,
 * another key, keyless without a bundle) and exactly the expected checks
 * fail; finally the merod config is generated from the release and the KMS
 * loads the release's policy (pinned by the compatibility map's digest)
 * and releases a key to the locked-read-only node only.
 */
#include "mt_testlib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kms_fixture.h"
#include "measure/rtmr.h"
#include "release/merod_config.h"
#include "release/verify.h"
#include "release_fixture.h"
#include "sim/sim_agent.h"
#include "sim/sim_machine.h"
#include "util/mt_alloc.h"
#include "util/mt_file.h"
#include "util/mt_hex.h"

#define VERSION "2.3.41"

static struct kms_fixture fx;
static char root[256], kdir[300], ndir[300], pub[300], other_pub[300];

static void
write_json(const char *path, json_t *j)
{
    char *text = json_dumps(j, JSON_INDENT(2));

    assert_non_null(text);
    release_write_text(path, text);
    mt_free_libc(text);
    json_decref(j);
}

static json_t *
regs_json(const uint8_t mrtd[48], uint8_t rtmr[4][48])
{
    json_t *o = json_object();

    release_set_regs(o, mrtd, rtmr);
    return o;
}

static void
node_probe(const char *dir, const char *profile, const uint8_t mrtd[48], uint8_t rtmr[4][48])
{
    json_t *o = regs_json(mrtd, rtmr);
    char path[400];

    json_object_set_new(o, "schema_version", json_integer(1));
    json_object_set_new(o, "kind", json_string("node-probe"));
    json_object_set_new(o, "profile", json_string(profile));
    json_object_set_new(o, "tcb_status", json_string("UpToDate"));
    json_object_set_new(o, "timestamp_utc", json_string("2026-04-01T10:00:00Z"));
    json_object_set_new(o, "external_verification", json_string("performed"));
    json_object_set_new(o, "image",
                        json_pack("{s:s,s:s,s:s,s:s}", "name", profile, "project", "sim", "family",
                                  profile, "self_link", ""));
    snprintf(path, sizeof(path), "%s/node-%s.json", dir, profile);
    write_json(path, o);
}

/* The KMS TD after mero-kms measured its profile event (reference 1.5). */
static void
kms_probe(const char *dir, const char *profile, const uint8_t mrtd[48], uint8_t base[4][48], int n)
{
    uint8_t rtmr[4][48], d[48];
    char payload[64], path[400], digest[80];
    json_t *o;

    memcpy(rtmr, base, sizeof(rtmr));
    snprintf(payload, sizeof(payload), "calimero.kms.profile=%s", profile);
    EXPECT_OK(mt_rtmr_event_digest(MT_DSTACK_RUNTIME_EVENT_TYPE, "calimero.kms.profile",
                                   strlen("calimero.kms.profile"), (const uint8_t *)payload,
                                   strlen(payload), d));
    EXPECT_OK(mt_rtmr_extend(rtmr[3], d));
    o = regs_json(mrtd, rtmr);
    json_object_set_new(o, "schema_version", json_integer(1));
    json_object_set_new(o, "kind", json_string("kms-probe"));
    json_object_set_new(o, "profile", json_string(profile));
    json_object_set_new(o, "tcb_status", json_string("UpToDate"));
    json_object_set_new(o, "compose_hash", json_string(""));
    snprintf(digest, sizeof(digest), "sha256:%064d", n);
    json_object_set_new(o, "image_digest", json_string(digest));
    snprintf(path, sizeof(path), "%s/kms-%s.json", dir, profile);
    write_json(path, o);
}

static int
setup(void **state)
{
    uint8_t rtmr[4][48], mrtd[48];
    struct mt_sim_machine *m;
    char probes[300], priv[300], *out = NULL;
    int rc;

    (void)state;
    kms_fixture_boot(&fx);
    snprintf(root, sizeof(root), "%s/releases", fx.node.dir);
    snprintf(probes, sizeof(probes), "%s/probes", fx.node.dir);
    assert_int_equal(mkdir(probes, 0700), 0);
    /* Node probes: the fixture's booted nodes, and a debug-read-only machine's boot. */
    mt_sim_agent_rtmrs(fx.node.agent, rtmr);
    node_probe(probes, "locked-read-only", mt_sim_agent_params(fx.node.agent)->quote.td.mr_td,
               rtmr);
    mt_sim_agent_rtmrs(fx.debug_agent, rtmr);
    node_probe(probes, "debug", mt_sim_agent_params(fx.debug_agent)->quote.td.mr_td, rtmr);
    m = sim_fixture_machine("debug-read-only");
    EXPECT_OK(mt_sim_boot_registers(m, rtmr));
    node_probe(probes, "debug-read-only", m->mrtd, rtmr);
    mt_sim_machine_free(m);
    /* KMS probes: the KMS TD with each profile's event. */
    mt_sim_agent_rtmrs(fx.kms_agent, rtmr);
    memcpy(mrtd, mt_sim_agent_params(fx.kms_agent)->quote.td.mr_td, 48);
    kms_probe(probes, "debug", mrtd, rtmr, 1);
    kms_probe(probes, "debug-read-only", mrtd, rtmr, 2);
    kms_probe(probes, "locked-read-only", mrtd, rtmr, 3);
    {
        char meta[400], bin[400];

        snprintf(meta, sizeof(meta), "%s/meta.json", probes);
        write_json(meta,
                   json_pack("{s:i,s:s,s:s,s:s,s:s,s:s,s:s}", "schema_version", 1, "kind",
                             "release-meta", "version", VERSION, "commit_sha",
                             "0123456789abcdef0123456789abcdef01234567", "workflow_run_id", "77",
                             "workflow_run_attempt", "2", "generated_at", "2026-04-01T12:00:00Z"));
        snprintf(bin, sizeof(bin), "%s/mero-kms-phala_x86_64-unknown-linux-gnu.tar.gz", probes);
        release_write_text(bin, "not really a tarball\n");
    }
    {
        char a[6][400], meta[400], bin[400];
        const char *names[6] = {
            "node-debug.json", "node-debug-read-only.json", "node-locked-read-only.json",
            "kms-debug.json",  "kms-debug-read-only.json",  "kms-locked-read-only.json"};
        int i;

        for (i = 0; i < 6; i++)
            snprintf(a[i], sizeof(a[i]), "%s/%s", probes, names[i]);
        snprintf(meta, sizeof(meta), "%s/meta.json", probes);
        snprintf(bin, sizeof(bin), "%s/mero-kms-phala_x86_64-unknown-linux-gnu.tar.gz", probes);
        rc = mt_test_run_cli(
            &out, "release", "assemble", "--meta", meta, "--node-probe", a[0], "--node-probe", a[1],
            "--node-probe", a[2], "--kms-probe", a[3], "--kms-probe", a[4], "--kms-probe", a[5],
            "--binary", bin, "--container-sbom",
            MT_SOURCE_DIR "/tests/golden/release/inputs/kms-phala-container-sbom.spdx.json",
            "--out", root, NULL);
        mt_free(out);
        assert_int_equal(rc, 0);
    }
    snprintf(kdir, sizeof(kdir), "%s/mero-kms-v" VERSION, root);
    snprintf(ndir, sizeof(ndir), "%s/mero-tee-v" VERSION, root);
    snprintf(priv, sizeof(priv), "%s/release.key", fx.node.dir);
    snprintf(pub, sizeof(pub), "%s/release.pub", fx.node.dir);
    release_make_key(priv, pub);
    snprintf(priv, sizeof(priv), "%s/other.key", fx.node.dir);
    snprintf(other_pub, sizeof(other_pub), "%s/other.pub", fx.node.dir);
    release_make_key(priv, other_pub);
    snprintf(priv, sizeof(priv), "%s/release.key", fx.node.dir);
    assert_int_equal(mt_test_run_cli(&out, "release", "sign", kdir, "--key", priv, NULL), 0);
    mt_free(out);
    assert_int_equal(mt_test_run_cli(&out, "release", "sign", ndir, "--key", priv, NULL), 0);
    mt_free(out);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    kms_fixture_stop(&fx);
    return 0;
}

/* Verify one family with the library; returns the failed check names joined by ','. */
static char *
failures(enum mt_rel_family f, const char *key, const char *root_file, mt_err *first_err)
{
    struct mt_rel_trust_cfg cfg;
    struct mt_rel_report r;
    struct mt_buf b;
    char why[256];
    size_t i;

    memset(&cfg, 0, sizeof(cfg));
    cfg.key = key;
    cfg.trusted_root = root_file;
    mt_rel_report_init(&r);
    EXPECT_OK(mt_rel_verify_release(&cfg, f == MT_REL_KMS ? kdir : ndir, f, VERSION, &r, NULL, why,
                                    sizeof(why)));
    mt_buf_init(&b, 1u << 20);
    if (first_err != NULL)
        *first_err = MT_OK;
    for (i = 0; i < r.n; i++) {
        if (r.v[i].err == MT_OK)
            continue;
        if (first_err != NULL && *first_err == MT_OK)
            *first_err = r.v[i].err;
        if (b.len > 0)
            EXPECT_OK(mt_buf_append_str(&b, ","));
        EXPECT_OK(mt_buf_append_str(&b, r.v[i].name));
    }
    EXPECT_OK(mt_buf_append(&b, "", 0));
    mt_rel_report_free(&r);
    if (b.p == NULL)
        return mt_strdup("");
    return (char *)mt_buf_take(&b, NULL);
}

static void
expect_failures(enum mt_rel_family f, const char *key, const char *want, const char *what)
{
    char *got = failures(f, key, NULL, NULL);

    if (strcmp(got, want) != 0)
        fail_msg("%s: failing checks \"%s\", want \"%s\"", what, got, want);
    mt_free(got);
}

static void
test_signed_release_verifies(void **state)
{
    char *out = NULL;
    json_t *j;

    (void)state;
    expect_failures(MT_REL_KMS, pub, "", "pristine KMS release");
    expect_failures(MT_REL_NODE, pub, "", "pristine node release");
    /* The command: exit 0, --json says ok. */
    assert_int_equal(mt_test_run_cli(&out, "release", "verify", kdir, "--family", "kms",
                                     "--version", VERSION, "--key", pub, "--json", NULL),
                     0);
    j = json_loads(out, 0, NULL);
    assert_non_null(j);
    assert_true(json_is_true(json_object_get(j, "ok")));
    assert_int_equal(json_integer_value(json_object_get(j, "failed")), 0);
    json_decref(j);
    mt_free(out);
    /* Another key: every signature fails, nothing else; the command exits 1. */
    expect_failures(MT_REL_NODE, other_pub,
                    "signature:published-mrtds.json,signature:release-provenance.json,"
                    "signature:node-image-gcp-release-sbom.spdx.json,"
                    "signature:node-image-gcp-checksums.txt",
                    "verified with another key");
    assert_int_equal(mt_test_run_cli(&out, "release", "verify", ndir, "--family", "node",
                                     "--version", VERSION, "--key", other_pub, NULL),
                     1);
    assert_non_null(strstr(out, "NOT VERIFIED: 21 checks, 17 passed, 4 failed"));
    mt_free(out);
    /* Usage errors exit 2. */
    assert_int_equal(mt_test_run_cli(&out, "release", "verify", ndir, "--family", "nodes",
                                     "--version", VERSION, NULL),
                     2);
    mt_free(out);
}

/* Modify path with fn, verify, restore. */
static void
tamper(enum mt_rel_family f, const char *dir, const char *file, const char *append,
       const char *want)
{
    char path[600], what[700];
    uint8_t *orig;
    size_t len;
    FILE *fp;

    snprintf(path, sizeof(path), "%s/%s", dir, file);
    orig = mt_test_read_file(path, &len);
    fp = fopen(path, "a");
    assert_non_null(fp);
    fputs(append, fp);
    fclose(fp);
    snprintf(what, sizeof(what), "%s with \"%s\" appended", file, append);
    expect_failures(f, pub, want, what);
    EXPECT_OK(mt_file_write_atomic(path, orig, len, 0644));
    mt_free(orig);
}

static void
test_tampered_content_fails_precisely(void **state)
{
    static const char *const plain[] = {
        "kms-phala-release-manifest.json",
        "kms-phala-compatibility-map.json",
        "kms-phala-container-metadata.json",
    };
    char want[1024];
    size_t i;

    (void)state;
    for (i = 0; i < 3; i++) {
        snprintf(want, sizeof(want), "signature:%s", plain[i]);
        tamper(MT_REL_KMS, kdir, plain[i], " ", want);
    }
    tamper(MT_REL_KMS, kdir, "kms-phala-attestation-policy.debug.json", " ",
           "consistency:policy-digests,signature:kms-phala-attestation-policy.debug.json");
    tamper(MT_REL_KMS, kdir, "kms-phala-attestation-policy.debug-read-only.json", " ",
           "consistency:policy-digests,"
           "signature:kms-phala-attestation-policy.debug-read-only.json");
    tamper(MT_REL_KMS, kdir, "kms-phala-attestation-policy.locked-read-only.json", " ",
           "consistency:policy-digests,consistency:generic-policy,"
           "signature:kms-phala-attestation-policy.locked-read-only.json");
    tamper(MT_REL_KMS, kdir, "kms-phala-attestation-policy.json", " ",
           "consistency:policy-digests,consistency:generic-policy,"
           "signature:kms-phala-attestation-policy.json");
    tamper(MT_REL_KMS, kdir, "mero-kms-phala_x86_64-unknown-linux-gnu.tar.gz", "x",
           "checksum:mero-kms-phala_x86_64-unknown-linux-gnu.tar.gz,"
           "signature:mero-kms-phala_x86_64-unknown-linux-gnu.tar.gz");
    tamper(MT_REL_KMS, kdir, "kms-phala-checksums.txt", "\n",
           "checksums:parse,consistency:binaries,signature:kms-phala-checksums.txt");
    tamper(MT_REL_NODE, ndir, "published-mrtds.json", " ",
           "checksum:published-mrtds.json,signature:published-mrtds.json");
    tamper(MT_REL_NODE, ndir, "release-provenance.json", " ",
           "checksum:release-provenance.json,signature:release-provenance.json");
    tamper(MT_REL_NODE, ndir, "node-image-gcp-release-sbom.spdx.json", " ",
           "checksum:node-image-gcp-release-sbom.spdx.json,"
           "signature:node-image-gcp-release-sbom.spdx.json");
    tamper(MT_REL_NODE, ndir, "node-image-gcp-checksums.txt", "\n",
           "checksums:parse,signature:node-image-gcp-checksums.txt");
}

/* Replace one byte of path at off (hex digit flip), verify, restore. */
static void
flip(enum mt_rel_family f, const char *dir, const char *file, size_t off, const char *want)
{
    char path[600], what[700];
    uint8_t *orig, *copy;
    size_t len;

    snprintf(path, sizeof(path), "%s/%s", dir, file);
    orig = mt_test_read_file(path, &len);
    assert_true(off < len);
    copy = mt_malloc(len);
    memcpy(copy, orig, len);
    copy[off] = copy[off] == '0' ? '1' : '0';
    EXPECT_OK(mt_file_write_atomic(path, copy, len, 0644));
    snprintf(what, sizeof(what), "%s byte %zu changed", file, off);
    expect_failures(f, pub, want, what);
    EXPECT_OK(mt_file_write_atomic(path, orig, len, 0644));
    mt_free(orig);
    mt_free(copy);
}

static void
test_tampered_checksum_line_fails_precisely(void **state)
{
    (void)state;
    /* The node file lists published-mrtds.json first. */
    flip(MT_REL_NODE, ndir, "node-image-gcp-checksums.txt", 0,
         "checksum:published-mrtds.json,signature:node-image-gcp-checksums.txt");
    flip(MT_REL_KMS, kdir, "kms-phala-checksums.txt", 5,
         "checksum:mero-kms-phala_x86_64-unknown-linux-gnu.tar.gz,consistency:binaries,"
         "signature:kms-phala-checksums.txt");
}

static void
swap_sidecar(const char *dir, const char *asset, const char *suffix, const char *from_asset)
{
    char a[600], b[600];
    uint8_t *data;
    size_t len;

    snprintf(a, sizeof(a), "%s/%s%s", dir, asset, suffix);
    snprintf(b, sizeof(b), "%s/%s%s", dir, from_asset, suffix);
    data = mt_test_read_file(b, &len);
    EXPECT_OK(mt_file_write_atomic(a, data, len, 0644));
    mt_free(data);
}

static void
test_tampered_signatures_fail_precisely(void **state)
{
    char path[600], saved_sig[600], saved_bundle[600];
    uint8_t *sig, *bundle;
    size_t sig_len, bundle_len;
    mt_err e;
    char *got;

    (void)state;
    snprintf(saved_sig, sizeof(saved_sig), "%s/published-mrtds.json.sig", ndir);
    snprintf(saved_bundle, sizeof(saved_bundle), "%s/published-mrtds.json.bundle.json", ndir);
    sig = mt_test_read_file(saved_sig, &sig_len);
    bundle = mt_test_read_file(saved_bundle, &bundle_len);
    /* Another asset's .sig. */
    swap_sidecar(ndir, "published-mrtds.json", ".sig", "release-provenance.json");
    expect_failures(MT_REL_NODE, pub, "signature:published-mrtds.json", "swapped .sig");
    EXPECT_OK(mt_file_write_atomic(saved_sig, sig, sig_len, 0644));
    /* Another asset's bundle. */
    swap_sidecar(ndir, "published-mrtds.json", ".bundle.json", "release-provenance.json");
    expect_failures(MT_REL_NODE, pub, "signature:published-mrtds.json", "swapped bundle");
    EXPECT_OK(mt_file_write_atomic(saved_bundle, bundle, bundle_len, 0644));
    /* No sidecars at all. */
    unlink(saved_sig);
    unlink(saved_bundle);
    got = failures(MT_REL_NODE, pub, NULL, &e);
    assert_string_equal(got, "signature:published-mrtds.json");
    assert_int_equal(e, MT_ERR_RELEASE_SIGNATURE_MISSING);
    mt_free(got);
    /*
     * What node releases publish: .sig + .pem only.  Without a key that
     * cannot be verified offline (sigstore.md 0, 4.12), and says so.
     */
    EXPECT_OK(mt_file_write_atomic(saved_sig, sig, sig_len, 0644));
    snprintf(path, sizeof(path), "%s/published-mrtds.json.pem", ndir);
    release_write_text(path, "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n");
    got = failures(MT_REL_NODE, NULL, MT_SHARED_DIR "/vectors/sigstore/trusted_root.json", &e);
    assert_non_null(strstr(got, "signature:published-mrtds.json"));
    assert_int_equal(e, MT_ERR_RELEASE_UNVERIFIABLE);
    mt_free(got);
    unlink(path);
    /* Keyless mode on key-signed bundles: refused, never accepted. */
    got = failures(MT_REL_KMS, NULL, MT_SHARED_DIR "/vectors/sigstore/trusted_root.json", &e);
    assert_non_null(strstr(got, "signature:kms-phala-checksums.txt"));
    assert_null(strstr(got, "schema:"));
    assert_int_not_equal(e, MT_OK);
    mt_free(got);
    /* No trust material at all. */
    got = failures(MT_REL_KMS, NULL, NULL, &e);
    assert_int_equal(e, MT_ERR_RELEASE_NO_TRUST);
    mt_free(got);
    EXPECT_OK(mt_file_write_atomic(saved_bundle, bundle, bundle_len, 0644));
    mt_free(sig);
    mt_free(bundle);
    expect_failures(MT_REL_NODE, pub, "", "restored node release");
}

static void
test_merod_config_and_kms_loads_the_release(void **state)
{
    struct mt_rel_trust_cfg cfg;
    struct mt_rel_report r;
    struct mt_rel_loaded l;
    struct node_identity id;
    uint8_t rtmr[4][48];
    char why[256], hex[97], pin[65], cid[33], *out = NULL, *toml;
    const char *s;
    json_t *body, *resp;

    (void)state;
    memset(&cfg, 0, sizeof(cfg));
    cfg.key = pub;
    mt_rel_report_init(&r);
    memset(&l, 0, sizeof(l));
    EXPECT_OK(mt_rel_verify_release(&cfg, kdir, MT_REL_KMS, VERSION, &r, &l, why, sizeof(why)));
    assert_int_equal(mt_rel_report_failed(&r), 0);
    mt_rel_report_free(&r);
    s = json_string_value(json_object_get(
        json_object_get(json_object_get(json_object_get(l.kms.compat, "compatibility"), "profiles"),
                        "locked-read-only"),
        "kms_policy_sha256"));
    assert_non_null(s);
    snprintf(pin, sizeof(pin), "%s", s);
    mt_rel_loaded_free(&l);

    /* merod config through the command. */
    assert_int_equal(mt_test_run_cli(&out, "policy", "merod-config", "--release", kdir, "--kms-url",
                                     "https://kms.example.com", "--key", pub, NULL),
                     0);
    toml = out;
    assert_non_null(strstr(toml, "[tee.kms.phala.attestation]\nenabled = true\n"));

    /* The KMS: the release's policy, pinned, and the profile event the probe predicted. */
    kms_fixture_env(&fx, "USE_ENV_POLICY", NULL);
    kms_fixture_env(&fx, "MERO_KMS_VERSION", "mero-kms-v" VERSION);
    kms_fixture_env(&fx, "MERO_KMS_RELEASE_DIR", kdir);
    kms_fixture_env(&fx, "MERO_KMS_POLICY_SHA256", pin);
    kms_fixture_start_kms(&fx);
    mt_sim_agent_rtmrs(fx.kms_agent, rtmr);
    mt_hex_encode(rtmr[3], 48, hex);
    /* merod would check the KMS's RTMR3 against what the generated config allows. */
    assert_non_null(strstr(toml, hex));
    mt_free(toml);
    assert_int_equal(kms_request(&fx, "GET", "/ready", NULL, NULL, 0, &out), 200);
    mt_free(out);
    /* The locked-read-only node gets its key; the debug node does not. */
    node_identity_new(&id);
    body = kms_get_key_body(&fx, &id, fx.node.socket, cid);
    assert_int_equal(kms_post_body(&fx, "/get-key", body, &resp), 200);
    json_decref(body);
    json_decref(resp);
    body = kms_get_key_body(&fx, &id, fx.debug_socket, cid);
    kms_expect_error(kms_post_body(&fx, "/get-key", body, &resp), &resp, 403,
                     "measurement_policy_rejected", NULL);
    json_decref(body);
    node_identity_free(&id);
    kms_fixture_stop_kms(&fx);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signed_release_verifies),
        cmocka_unit_test(test_tampered_content_fails_precisely),
        cmocka_unit_test(test_tampered_checksum_line_fails_precisely),
        cmocka_unit_test(test_tampered_signatures_fail_precisely),
        cmocka_unit_test(test_merod_config_and_kms_loads_the_release),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
