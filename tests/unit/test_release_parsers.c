/*
 * Negative tests for every release parser: checksums files, probe inputs
 * (node, KMS, release metadata), and the schema of each release document,
 * mutated from the golden release (tests/golden/release/expected): missing
 * fields, wrong types, bad hex lengths, duplicates, oversize input.
 */
#include "mt_testlib.h"

#include <stdio.h>
#include <string.h>

#include "release/assemble.h"
#include "release/merod_config.h"
#include "release/schema.h"
#include "util/mt_alloc.h"

#define GOLDEN MT_SOURCE_DIR "/tests/golden/release"
#define KMS_DIR GOLDEN "/expected/mero-kms-v2.3.40/"
#define NODE_DIR GOLDEN "/expected/mero-tee-v2.3.40/"
#define V "2.3.40"
#define H64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void
sums_err(const char *text, mt_err want)
{
    struct mt_rel_sums s = {NULL, 0};
    char why[128];

    if (mt_rel_checksums_parse(text, strlen(text), &s, why, sizeof(why)) != want)
        fail_msg("checksums \"%s\": want %s", text, mt_err_code(want));
    mt_rel_checksums_free(&s);
}

static void
test_checksums(void **state)
{
    struct mt_rel_sums s = {NULL, 0};
    char why[128], *big;
    size_t i;

    (void)state;
    EXPECT_OK(mt_rel_checksums_parse(H64 "  a.tar.gz\n" H64 " *dir/sub/b.json",
                                     strlen(H64 "  a.tar.gz\n" H64 " *dir/sub/b.json"), &s, why,
                                     sizeof(why)));
    assert_int_equal(s.n, 2);
    assert_string_equal(s.v[1].name, "b.json");
    assert_non_null(mt_rel_checksums_find(&s, "a.tar.gz"));
    mt_rel_checksums_free(&s);
    /* Upper-case hex is sha256sum -c compatible. */
    EXPECT_OK(mt_rel_checksums_parse("0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789"
                                     "abcdef  x\n",
                                     64 + 4, &s, why, sizeof(why)));
    mt_rel_checksums_free(&s);
    sums_err("", MT_ERR_RELEASE_CHECKSUMS_FORMAT);
    sums_err("\n", MT_ERR_RELEASE_CHECKSUMS_FORMAT);
    sums_err(H64 "  a\n\n", MT_ERR_RELEASE_CHECKSUMS_FORMAT);
    sums_err(H64 "  a\r\n", MT_ERR_RELEASE_CHECKSUMS_FORMAT);
    sums_err(H64 " a\n", MT_ERR_RELEASE_CHECKSUMS_FORMAT);
    sums_err(H64 "\ta\n", MT_ERR_RELEASE_CHECKSUMS_FORMAT);
    sums_err("0123  a\n", MT_ERR_RELEASE_CHECKSUMS_FORMAT);
    sums_err("g123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef  a\n",
             MT_ERR_RELEASE_CHECKSUMS_FORMAT);
    sums_err(H64 "0  a\n", MT_ERR_RELEASE_CHECKSUMS_FORMAT);
    sums_err(H64 "  \n", MT_ERR_RELEASE_CHECKSUMS_FORMAT);
    sums_err(H64 "  dir/\n", MT_ERR_RELEASE_CHECKSUMS_FORMAT);
    sums_err(H64 "  ..\n", MT_ERR_RELEASE_CHECKSUMS_FORMAT);
    sums_err(H64 "  a\x01\n", MT_ERR_RELEASE_CHECKSUMS_FORMAT);
    sums_err(H64 "  a\n" H64 "  x/a\n", MT_ERR_RELEASE_CHECKSUMS_FORMAT);
    /* An embedded NUL. */
    EXPECT_ERR(mt_rel_checksums_parse(H64 "  a\0b\n", 64 + 6, &s, why, sizeof(why)),
               MT_ERR_RELEASE_CHECKSUMS_FORMAT);
    /* Too many lines, too many bytes. */
    big = mt_malloc(MT_REL_MAX_CHECKSUMS + 2);
    assert_non_null(big);
    big[0] = '\0';
    for (i = 0; i <= MT_REL_MAX_CHECKSUM_LINES; i++) {
        char line[96];

        snprintf(line, sizeof(line), H64 "  f%zu\n", i);
        memcpy(big + strlen(big), line, strlen(line) + 1);
    }
    EXPECT_ERR(mt_rel_checksums_parse(big, strlen(big), &s, why, sizeof(why)),
               MT_ERR_RELEASE_CHECKSUMS_FORMAT);
    assert_non_null(strstr(why, "too many lines"));
    memset(big, 'a', MT_REL_MAX_CHECKSUMS + 1);
    EXPECT_ERR(mt_rel_checksums_parse(big, MT_REL_MAX_CHECKSUMS + 1, &s, why, sizeof(why)),
               MT_ERR_TOO_LARGE);
    mt_free(big);
}

static json_t *
load(const char *path)
{
    json_t *j = json_load_file(path, 0, NULL);

    if (j == NULL)
        fail_msg("%s: cannot load", path);
    return j;
}

static void
probe_err(json_t *j, enum mt_rel_probe_kind kind, mt_err want, const char *why_has)
{
    char *text = json_dumps(j, 0), why[256];
    json_t *out = NULL;
    mt_err e;

    assert_non_null(text);
    e = mt_rel_probe_parse(text, strlen(text), kind, &out, why, sizeof(why));
    if (e != want)
        fail_msg("probe %s: got %s (%s), want %s", text, mt_err_code(e), why, mt_err_code(want));
    if (why_has != NULL && strstr(why, why_has) == NULL)
        fail_msg("probe: reason \"%s\" lacks \"%s\"", why, why_has);
    json_decref(out);
    mt_free_libc(text);
    json_decref(j);
}

static void
test_probe_inputs(void **state)
{
    const char *node = GOLDEN "/inputs/node-debug.json", *kms = GOLDEN "/inputs/kms-debug.json";
    const char *meta = GOLDEN "/inputs/meta.json";
    char why[256], *big;
    json_t *j, *out = NULL;

    (void)state;
    /* The inputs parse and come back normalised. */
    j = load(node);
    {
        char upper[97];

        memset(upper, 'A', 96);
        upper[96] = '\0';
        json_object_set_new(j, "mrtd", json_string(upper));
    }
    {
        char *t = json_dumps(j, 0);

        EXPECT_OK(mt_rel_probe_parse(t, strlen(t), MT_REL_PROBE_NODE, &out, why, sizeof(why)));
        mt_free_libc(t);
    }
    assert_string_equal(json_string_value(json_object_get(out, "tcb_status")), "uptodate");
    assert_int_equal(json_string_value(json_object_get(out, "mrtd"))[0], 'a');
    json_decref(out);
    json_decref(j);

    /* Missing fields, wrong types, bad hex, unknown members, wrong kind. */
    j = load(node);
    json_object_del(j, "rtmr2");
    probe_err(j, MT_REL_PROBE_NODE, MT_ERR_RELEASE_PROBE_FORMAT, "rtmr2: missing");
    j = load(node);
    json_object_set_new(j, "rtmr0", json_integer(5));
    probe_err(j, MT_REL_PROBE_NODE, MT_ERR_RELEASE_PROBE_FORMAT, "not a string");
    j = load(node);
    json_object_set_new(j, "rtmr1", json_string("abcd"));
    probe_err(j, MT_REL_PROBE_NODE, MT_ERR_RELEASE_PROBE_FORMAT, "96 hex digits");
    j = load(node);
    json_object_set_new(j, "mrtd",
                        json_string("0x1010101010101010101010101010101010101010101010"
                                    "10101010101010101010101010101010101010101010"));
    probe_err(j, MT_REL_PROBE_NODE, MT_ERR_RELEASE_PROBE_FORMAT, "mrtd: want 96 hex digits");
    j = load(node);
    {
        char g[97];

        memset(g, 'g', 96);
        g[96] = '\0';
        json_object_set_new(j, "rtmr3", json_string(g));
    }
    probe_err(j, MT_REL_PROBE_NODE, MT_ERR_RELEASE_PROBE_FORMAT, "not hexadecimal");
    j = load(node);
    json_object_set_new(j, "rtmr4", json_string(""));
    probe_err(j, MT_REL_PROBE_NODE, MT_ERR_RELEASE_PROBE_FORMAT, "unknown member");
    j = load(node);
    json_object_set_new(j, "profile", json_string("prod"));
    probe_err(j, MT_REL_PROBE_NODE, MT_ERR_RELEASE_PROBE_FORMAT, "not a known profile");
    j = load(node);
    json_object_set_new(j, "external_verification", json_string("skipped"));
    probe_err(j, MT_REL_PROBE_NODE, MT_ERR_RELEASE_PROBE_FORMAT, "external_verification");
    j = load(node);
    json_object_set_new(j, "tcb_status", json_string("Up To Date"));
    probe_err(j, MT_REL_PROBE_NODE, MT_ERR_RELEASE_PROBE_FORMAT, "tcb_status");
    j = load(node);
    json_object_set_new(j, "schema_version", json_integer(2));
    probe_err(j, MT_REL_PROBE_NODE, MT_ERR_RELEASE_PROBE_FORMAT, "schema_version");
    j = load(node);
    json_object_set_new(j, "timestamp_utc", json_string("yesterday"));
    probe_err(j, MT_REL_PROBE_NODE, MT_ERR_RELEASE_PROBE_FORMAT, "timestamp_utc");
    j = load(node);
    json_object_set_new(json_object_get(j, "image"), "name", json_string(""));
    probe_err(j, MT_REL_PROBE_NODE, MT_ERR_RELEASE_PROBE_FORMAT, "image.name: empty");
    j = load(node);
    json_object_set_new(json_object_get(j, "image"), "extra", json_string(""));
    probe_err(j, MT_REL_PROBE_NODE, MT_ERR_RELEASE_PROBE_FORMAT, "unknown member");
    j = load(node);
    json_object_set_new(j, "mrtd_source", json_string("guess"));
    probe_err(j, MT_REL_PROBE_NODE, MT_ERR_RELEASE_PROBE_FORMAT, "mrtd_source");
    /* A node probe is not a KMS probe. */
    probe_err(load(node), MT_REL_PROBE_KMS, MT_ERR_RELEASE_PROBE_FORMAT, "unknown member");
    j = load(kms);
    json_object_set_new(j, "compose_hash", json_string("abcd"));
    probe_err(j, MT_REL_PROBE_KMS, MT_ERR_RELEASE_PROBE_FORMAT, "64 hex digits");
    j = load(kms);
    json_object_set_new(j, "image_digest", json_string("sha256:ABCD"));
    probe_err(j, MT_REL_PROBE_KMS, MT_ERR_RELEASE_PROBE_FORMAT, "image_digest");
    j = load(kms);
    json_object_set_new(j, "kind", json_string("node-probe"));
    probe_err(j, MT_REL_PROBE_KMS, MT_ERR_RELEASE_PROBE_FORMAT, "kind");
    j = load(meta);
    json_object_set_new(j, "version", json_string("2.3"));
    probe_err(j, MT_REL_PROBE_META, MT_ERR_RELEASE_PROBE_FORMAT, "version");
    j = load(meta);
    json_object_set_new(j, "version", json_string("2.03.1"));
    probe_err(j, MT_REL_PROBE_META, MT_ERR_RELEASE_PROBE_FORMAT, "version");
    j = load(meta);
    json_object_set_new(j, "commit_sha", json_string("ABC"));
    probe_err(j, MT_REL_PROBE_META, MT_ERR_RELEASE_PROBE_FORMAT, "commit_sha");
    j = load(meta);
    json_object_set_new(j, "workflow_run_id", json_integer(5));
    probe_err(j, MT_REL_PROBE_META, MT_ERR_RELEASE_PROBE_FORMAT, "workflow_run_id");
    j = load(meta);
    json_object_set_new(j, "repository", json_string("a/b/c"));
    probe_err(j, MT_REL_PROBE_META, MT_ERR_RELEASE_PROBE_FORMAT, "repository");
    j = load(meta);
    json_object_set_new(j, "container_tags", json_pack("[i]", 1));
    probe_err(j, MT_REL_PROBE_META, MT_ERR_RELEASE_PROBE_FORMAT, "container_tags");

    /* Not JSON, duplicates, not an object, oversize. */
    EXPECT_ERR(mt_rel_probe_parse("{", 1, MT_REL_PROBE_NODE, &out, why, sizeof(why)),
               MT_ERR_RELEASE_PROBE_FORMAT);
    EXPECT_ERR(mt_rel_probe_parse("{\"kind\":\"a\",\"kind\":\"b\"}", 23, MT_REL_PROBE_NODE, &out,
                                  why, sizeof(why)),
               MT_ERR_RELEASE_PROBE_FORMAT);
    EXPECT_ERR(mt_rel_probe_parse("[1]", 3, MT_REL_PROBE_META, &out, why, sizeof(why)),
               MT_ERR_RELEASE_PROBE_FORMAT);
    EXPECT_ERR(mt_rel_probe_parse("{} x", 4, MT_REL_PROBE_META, &out, why, sizeof(why)),
               MT_ERR_RELEASE_PROBE_FORMAT);
    big = mt_calloc(1, MT_REL_MAX_PROBE + 2);
    assert_non_null(big);
    memset(big, ' ', MT_REL_MAX_PROBE + 1);
    EXPECT_ERR(
        mt_rel_probe_parse(big, MT_REL_MAX_PROBE + 1, MT_REL_PROBE_META, &out, why, sizeof(why)),
        MT_ERR_TOO_LARGE);
    mt_free(big);
}

/* A document of the golden release, mutated by fn, against its schema. */
typedef mt_err (*schema_fn)(const json_t *, const char *, char *, size_t);

static void
schema_err(schema_fn fn, json_t *doc, const char *why_has)
{
    char why[256];
    mt_err e = fn(doc, V, why, sizeof(why));

    if (e != MT_ERR_RELEASE_SCHEMA)
        fail_msg("want release_schema, got %s", mt_err_code(e));
    if (strstr(why, why_has) == NULL)
        fail_msg("reason \"%s\" lacks \"%s\"", why, why_has);
    json_decref(doc);
}

static json_t *
profile_of(json_t *doc, const char *p)
{
    return json_object_get(json_object_get(doc, "profiles"), p);
}

static void
test_schema_node_documents(void **state)
{
    const char *m = NODE_DIR "published-mrtds.json", *p = NODE_DIR "release-provenance.json";
    char why[256];
    json_t *j;

    (void)state;
    j = load(m);
    EXPECT_OK(mt_rel_schema_mrtds(j, V, why, sizeof(why)));
    EXPECT_ERR(mt_rel_schema_mrtds(j, "2.3.41", why, sizeof(why)), MT_ERR_RELEASE_SCHEMA);
    json_decref(j);
    j = load(m);
    json_object_del(json_object_get(j, "profiles"), "debug");
    schema_err(mt_rel_schema_mrtds, j, "profiles.debug: missing");
    j = load(m);
    json_object_set_new(json_object_get(j, "profiles"), "prod", json_object());
    schema_err(mt_rel_schema_mrtds, j, "unknown profile");
    j = load(m);
    json_object_set_new(profile_of(j, "debug"), "rtmr3", json_string("abc"));
    schema_err(mt_rel_schema_mrtds, j, "profiles.debug.rtmr3: want 96 lowercase hex");
    j = load(m);
    json_object_set_new(profile_of(j, "debug"), "allowed_rtmr3", json_array());
    schema_err(mt_rel_schema_mrtds, j, "allowed_rtmr3: empty");
    j = load(m);
    json_object_set_new(profile_of(j, "debug"), "allowed_rtmr2", json_string("x"));
    schema_err(mt_rel_schema_mrtds, j, "not an array");
    j = load(m);
    json_array_append(json_object_get(profile_of(j, "debug"), "allowed_mrtd"),
                      json_array_get(json_object_get(profile_of(j, "debug"), "allowed_mrtd"), 0));
    schema_err(mt_rel_schema_mrtds, j, "duplicate");
    j = load(m);
    json_object_set_new(profile_of(j, "debug"), "allowed_tcb_statuses",
                        json_pack("[s]", "UpToDate"));
    schema_err(mt_rel_schema_mrtds, j, "lowercase");
    j = load(m);
    json_object_set_new(j, "role", json_string("kms"));
    schema_err(mt_rel_schema_mrtds, j, "role");

    j = load(p);
    EXPECT_OK(mt_rel_schema_provenance(j, V, why, sizeof(why)));
    json_decref(j);
    j = load(p);
    json_object_set_new(json_object_get(profile_of(j, "debug"), "external_verification"), "status",
                        json_string("skipped"));
    schema_err(mt_rel_schema_provenance, j, "status");
    j = load(p);
    json_object_set_new(j, "commit_sha", json_string("master"));
    schema_err(mt_rel_schema_provenance, j, "commit_sha");
    j = load(p);
    json_object_del(j, "mrtds");
    schema_err(mt_rel_schema_provenance, j, "mrtds: missing");
    j = load(p);
    json_object_set_new(json_object_get(j, "compatibility"), "kms_tag", json_string("x"));
    schema_err(mt_rel_schema_provenance, j, "kms_tag");

    j = load(NODE_DIR "node-image-gcp-release-sbom.spdx.json");
    EXPECT_OK(mt_rel_schema_sbom(j, why, sizeof(why)));
    json_object_set_new(j, "spdxVersion", json_string("CycloneDX"));
    EXPECT_ERR(mt_rel_schema_sbom(j, why, sizeof(why)), MT_ERR_RELEASE_SCHEMA);
    json_decref(j);
}

static void
policy_err(json_t *doc, const char *profile, const char *why_has)
{
    char *text = json_dumps(doc, JSON_INDENT(2)), why[256];
    mt_err e;

    assert_non_null(text);
    e = mt_rel_schema_policy(text, strlen(text), doc, V, profile, why, sizeof(why));
    if (e != MT_ERR_RELEASE_SCHEMA)
        fail_msg("policy: want release_schema, got %s", mt_err_code(e));
    if (strstr(why, why_has) == NULL)
        fail_msg("policy: reason \"%s\" lacks \"%s\"", why, why_has);
    mt_free_libc(text);
    json_decref(doc);
}

static json_t *
pol(json_t *doc)
{
    return json_object_get(doc, "policy");
}

static void
test_schema_kms_documents(void **state)
{
    const char *lp = KMS_DIR "kms-phala-attestation-policy.locked-read-only.json";
    const char *cm = KMS_DIR "kms-phala-compatibility-map.json";
    const char *md = KMS_DIR "kms-phala-container-metadata.json";
    const char *mf = KMS_DIR "kms-phala-release-manifest.json";
    char why[256];
    uint8_t *raw;
    size_t len;
    json_t *j;

    (void)state;
    raw = mt_test_read_file(lp, &len);
    j = load(lp);
    EXPECT_OK(
        mt_rel_schema_policy((const char *)raw, len, j, V, "locked-read-only", why, sizeof(why)));
    EXPECT_OK(mt_rel_schema_policy((const char *)raw, len, j, V, NULL, why, sizeof(why)));
    /* The wrong profile: both the KMS parser and the schema refuse it. */
    EXPECT_ERR(mt_rel_schema_policy((const char *)raw, len, j, V, "debug", why, sizeof(why)),
               MT_ERR_RELEASE_SCHEMA);
    json_decref(j);
    mt_free(raw);
    j = load(lp);
    json_object_set_new(pol(j), "kms_allowed_rtmr3", json_array());
    policy_err(j, "locked-read-only", "kms_allowed_rtmr3: empty");
    j = load(lp);
    json_object_set_new(pol(j), "node_allowed_mrtd", json_pack("[s]", "00"));
    policy_err(j, "locked-read-only", "refuses");
    j = load(lp);
    json_object_del(pol(j), "kms_allowed_mrtd");
    policy_err(j, "locked-read-only", "kms_allowed_mrtd: missing");
    j = load(lp);
    json_object_set_new(pol(j), "kms_allowed_event_payload", json_pack("[s,s]", H64, H64));
    policy_err(j, "locked-read-only", "kms_allowed_event_payload");
    j = load(lp);
    json_object_set_new(json_object_get(j, "kms"), "default_binding_b64",
                        json_string("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="));
    policy_err(j, "locked-read-only", "default_binding_b64");
    j = load(lp);
    json_object_set_new(j, "schema_version", json_string("1"));
    policy_err(j, "locked-read-only", "schema_version");
    j = load(lp);
    json_object_set_new(j, "merod_config_path", json_string("tee"));
    policy_err(j, "locked-read-only", "merod_config_path");
    j = load(lp);
    json_object_set_new(j, "tag", json_string("2.3.39"));
    policy_err(j, "locked-read-only", "refuses");

    j = load(cm);
    EXPECT_OK(mt_rel_schema_compat(j, V, why, sizeof(why)));
    json_decref(j);
    j = load(cm);
    json_object_set_new(
        json_object_get(json_object_get(json_object_get(j, "compatibility"), "profiles"), "debug"),
        "event_payload", json_string("ABC"));
    schema_err(mt_rel_schema_compat, j, "event_payload");
    j = load(cm);
    json_object_set_new(json_object_get(j, "compatibility"), "kms_policy_url",
                        json_string("http://example.com/mero-kms-v2.3.40/"
                                    "kms-phala-attestation-policy.json"));
    schema_err(mt_rel_schema_compat, j, "https URL");
    j = load(cm);
    {
        json_t *ps = json_object_get(json_object_get(j, "compatibility"), "profiles");

        json_object_set(
            json_object_get(ps, "debug"), "kms_image_digest",
            json_object_get(json_object_get(ps, "locked-read-only"), "kms_image_digest"));
    }
    schema_err(mt_rel_schema_compat, j, "share one image digest");

    j = load(md);
    EXPECT_OK(mt_rel_schema_metadata(j, V, why, sizeof(why)));
    json_decref(j);
    j = load(md);
    json_object_set_new(json_object_get(j, "container"), "digest", json_string("sha256:x"));
    schema_err(mt_rel_schema_metadata, j, "container.digest");
    j = load(md);
    json_object_set_new(json_object_get(j, "container"), "tags", json_pack("[i]", 3));
    schema_err(mt_rel_schema_metadata, j, "container.tags");

    j = load(mf);
    EXPECT_OK(mt_rel_schema_manifest(j, V, why, sizeof(why)));
    json_decref(j);
    j = load(mf);
    json_object_set_new(j, "binaries", json_array());
    schema_err(mt_rel_schema_manifest, j, "binaries");
    j = load(mf);
    json_array_append(json_object_get(j, "binaries"),
                      json_array_get(json_object_get(j, "binaries"), 0));
    schema_err(mt_rel_schema_manifest, j, "listed twice");
    j = load(mf);
    json_object_set_new(json_array_get(json_object_get(j, "binaries"), 0), "file",
                        json_string("../x"));
    schema_err(mt_rel_schema_manifest, j, "base name");
    j = load(mf);
    json_object_set_new(json_object_get(j, "asset_purposes"), "x", json_pack("[s]", "fun"));
    schema_err(mt_rel_schema_manifest, j, "unknown purpose");
    j = load(mf);
    json_object_set_new(json_object_get(j, "verification"), "kms_attest_endpoint",
                        json_string("/attestation"));
    schema_err(mt_rel_schema_manifest, j, "kms_attest_endpoint");
    /* Not objects at all. */
    j = json_array();
    schema_err(mt_rel_schema_manifest, j, "not an object");
}

/* A rekor index as the reference writes it (3.1), one entry per mutation site. */
static json_t *
rekor_doc(void)
{
    json_t *j = json_pack(
        "{s:i,s:s,s:s,s:s,s:s,s:[{s:s,s:s,s:s,s:s,s:s,s:s,s:s},{s:s,s:s,s:s,s:s,s:I,s:I,s:s}]}",
        "schema_version", 1, "tag", V, "workflow_run_id", "1234567890", "workflow_run_attempt", "1",
        "generated_at", "2026-03-30T12:00:00Z", "entries", "asset", "kms-phala-checksums.txt",
        "bundle_asset", "kms-phala-checksums.txt.bundle.json", "hash", "sha256:" H64,
        "sigstore_search_url", "https://search.sigstore.dev/?hash=sha256:" H64, "log_index",
        "25915956", "integrated_time", "1712085549", "log_id",
        "0y8wo8MtY5wrdiIFohx7sHeI5oKDpK5vQhGHI6G+pJY=", "asset", "kms-phala-release-manifest.json",
        "bundle_asset", "kms-phala-release-manifest.json.bundle.json", "hash", "sha256:" H64,
        "sigstore_search_url", "https://search.sigstore.dev/?hash=sha256:" H64, "log_index",
        (json_int_t)27246492, "integrated_time", (json_int_t)1689177396, "log_id",
        "c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d");

    assert_non_null(j);
    return j;
}

static json_t *
rekor_entry(json_t *doc, size_t i)
{
    return json_array_get(json_object_get(doc, "entries"), i);
}

static void
test_schema_rekor_index(void **state)
{
    char why[256];
    json_t *j, *e;
    size_t i;

    (void)state;
    j = rekor_doc();
    EXPECT_OK(mt_rel_schema_rekor_index(j, V, why, sizeof(why)));
    EXPECT_ERR(mt_rel_schema_rekor_index(j, "2.3.41", why, sizeof(why)), MT_ERR_RELEASE_SCHEMA);
    /* Legacy bundles: the three log fields are all "". */
    e = rekor_entry(j, 0);
    json_object_set_new(e, "log_index", json_string(""));
    json_object_set_new(e, "integrated_time", json_string(""));
    json_object_set_new(e, "log_id", json_string(""));
    EXPECT_OK(mt_rel_schema_rekor_index(j, V, why, sizeof(why)));
    json_decref(j);

    schema_err(mt_rel_schema_rekor_index, json_array(), "not an object");
    j = rekor_doc();
    json_object_set_new(j, "schema_version", json_integer(2));
    schema_err(mt_rel_schema_rekor_index, j, "schema_version");
    j = rekor_doc();
    json_object_del(j, "workflow_run_id");
    schema_err(mt_rel_schema_rekor_index, j, "workflow_run_id: missing");
    j = rekor_doc();
    json_object_set_new(j, "generated_at", json_string("yesterday"));
    schema_err(mt_rel_schema_rekor_index, j, "generated_at: not an RFC 3339 time");
    j = rekor_doc();
    json_object_set_new(j, "entries", json_array());
    schema_err(mt_rel_schema_rekor_index, j, "entries: want an array of 1 to");
    j = rekor_doc();
    json_object_set_new(j, "entries", json_object());
    schema_err(mt_rel_schema_rekor_index, j, "entries: want an array");
    j = rekor_doc();
    for (i = 0; i < MT_REL_MAX_REKOR_ENTRIES; i++)
        json_array_append(json_object_get(j, "entries"), rekor_entry(j, 0));
    schema_err(mt_rel_schema_rekor_index, j, "entries: want an array of 1 to 256");
    j = rekor_doc();
    json_array_set_new(json_object_get(j, "entries"), 1, json_string("x"));
    schema_err(mt_rel_schema_rekor_index, j, "entries[1]: not an object");
    j = rekor_doc();
    json_object_del(rekor_entry(j, 0), "asset");
    schema_err(mt_rel_schema_rekor_index, j, "entries[0].asset: missing");
    j = rekor_doc();
    json_object_set_new(rekor_entry(j, 0), "asset", json_string("../etc/passwd"));
    schema_err(mt_rel_schema_rekor_index, j, "entries[0].asset: not a release asset name");
    j = rekor_doc();
    json_object_set_new(rekor_entry(j, 0), "asset", json_string(".."));
    schema_err(mt_rel_schema_rekor_index, j, "not a release asset name");
    j = rekor_doc();
    json_object_set_new(rekor_entry(j, 0), "asset", json_string("a b"));
    schema_err(mt_rel_schema_rekor_index, j, "not a release asset name");
    j = rekor_doc();
    json_object_set_new(rekor_entry(j, 1), "asset", json_string("kms-phala-checksums.txt"));
    schema_err(mt_rel_schema_rekor_index, j,
               "entries[1].asset: kms-phala-checksums.txt is listed "
               "twice");
    j = rekor_doc();
    json_object_set_new(rekor_entry(j, 0), "bundle_asset", json_string("kms-phala-checksums.txt"));
    schema_err(mt_rel_schema_rekor_index, j, "entries[0].bundle_asset: want");
    j = rekor_doc();
    json_object_set_new(rekor_entry(j, 0), "hash", json_string(H64));
    schema_err(mt_rel_schema_rekor_index, j, "entries[0].hash: want sha256:<64 lowercase hex>");
    j = rekor_doc();
    json_object_set_new(rekor_entry(j, 0), "hash",
                        json_string("sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef01234"
                                    "56789abcdef"));
    schema_err(mt_rel_schema_rekor_index, j, "entries[0].hash");
    j = rekor_doc();
    json_object_set_new(rekor_entry(j, 0), "sigstore_search_url",
                        json_string("https://evil.example/?hash=sha256:" H64));
    schema_err(mt_rel_schema_rekor_index, j, "entries[0].sigstore_search_url");
    j = rekor_doc();
    json_object_set_new(rekor_entry(j, 0), "sigstore_search_url",
                        json_string("https://search.sigstore.dev/?hash=sha256:00"));
    schema_err(mt_rel_schema_rekor_index, j, "entries[0].sigstore_search_url");
    j = rekor_doc();
    json_object_set_new(rekor_entry(j, 0), "log_index", json_string("-1"));
    schema_err(mt_rel_schema_rekor_index, j, "entries[0].log_index");
    j = rekor_doc();
    json_object_set_new(rekor_entry(j, 0), "log_index", json_string("0012"));
    schema_err(mt_rel_schema_rekor_index, j, "entries[0].log_index");
    j = rekor_doc();
    json_object_set_new(rekor_entry(j, 0), "log_index", json_string("12345678901234567890"));
    schema_err(mt_rel_schema_rekor_index, j, "entries[0].log_index");
    j = rekor_doc();
    json_object_set_new(rekor_entry(j, 1), "log_index", json_integer(-5));
    schema_err(mt_rel_schema_rekor_index, j, "entries[1].log_index");
    j = rekor_doc();
    json_object_set_new(rekor_entry(j, 1), "integrated_time", json_real(1.5));
    schema_err(mt_rel_schema_rekor_index, j, "entries[1].integrated_time");
    j = rekor_doc();
    json_object_del(rekor_entry(j, 1), "integrated_time");
    schema_err(mt_rel_schema_rekor_index, j, "entries[1].integrated_time");
    j = rekor_doc();
    json_object_set_new(rekor_entry(j, 0), "log_id", json_integer(3));
    schema_err(mt_rel_schema_rekor_index, j, "entries[0].log_id: not a string");
    /* Half-set log fields: the reference writes all three or none. */
    j = rekor_doc();
    json_object_set_new(rekor_entry(j, 0), "log_id", json_string(""));
    schema_err(mt_rel_schema_rekor_index, j, "must be all set or all empty");
    j = rekor_doc();
    json_object_set_new(rekor_entry(j, 0), "integrated_time", json_string(""));
    schema_err(mt_rel_schema_rekor_index, j, "must be all set or all empty");
}

static void
test_names_and_urls(void **state)
{
    (void)state;
    EXPECT_OK(mt_rel_version_check("0.10.1"));
    EXPECT_ERR(mt_rel_version_check("1.2"), MT_ERR_ARG);
    EXPECT_ERR(mt_rel_version_check("1.2.3.4"), MT_ERR_ARG);
    EXPECT_ERR(mt_rel_version_check("1..3"), MT_ERR_ARG);
    EXPECT_ERR(mt_rel_version_check("01.2.3"), MT_ERR_ARG);
    EXPECT_ERR(mt_rel_version_check("1.2.3-rc.1"), MT_ERR_ARG);
    EXPECT_ERR(mt_rel_version_check("1234567890.1.1"), MT_ERR_ARG);
    EXPECT_OK(mt_rel_kms_url_check("https://kms.example.com:8443/"));
    EXPECT_ERR(mt_rel_kms_url_check("ftp://kms"), MT_ERR_ARG);
    EXPECT_ERR(mt_rel_kms_url_check("https://"), MT_ERR_ARG);
    EXPECT_ERR(mt_rel_kms_url_check("https://a b"), MT_ERR_ARG);
    EXPECT_ERR(mt_rel_kms_url_check("https://a\"\n[x]"), MT_ERR_ARG);
    assert_int_equal(mt_rel_profile_index("locked-read-only"), MT_REL_LOCKED);
    assert_int_equal(mt_rel_profile_index("Locked-read-only"), -1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checksums),
        cmocka_unit_test(test_probe_inputs),
        cmocka_unit_test(test_schema_node_documents),
        cmocka_unit_test(test_schema_kms_documents),
        cmocka_unit_test(test_schema_rekor_index),
        cmocka_unit_test(test_names_and_urls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
