/*
 * Regressions from the release security review (/tmp/review/findings.md):
 *   - finding 2 (TOCTOU): each asset is read once and the checksum, the
 *     schema, the consistency checks, the signature and what merod-config
 *     writes all use those bytes.  The signature callback runs after the
 *     load stage; the tests swap files on disk from inside it (forged ->
 *     genuine, the review's inotify attack, and genuine -> forged) and the
 *     verdict and the loaded documents follow the bytes that were loaded;
 *   - finding 3: both KMS SBOMs are required assets; every asset the
 *     manifest's asset_purposes names must be present and signed;
 *   - finding 6: checksum names must be printable ASCII; report strings are
 *     valid UTF-8 and the JSON report always builds.
 */
#include "mt_testlib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "release/assemble.h"
#include "release/fetch.h"
#include "release/verify.h"
#include "release_fixture.h"
#include "util/mt_alloc.h"
#include "util/mt_file.h"

#define GOLDEN RELEASE_GOLDEN
#define VERSION "2.3.40"
#define DEBUG_POLICY "kms-phala-attestation-policy.debug.json"

static char tmpdir[256], priv[300], pub[300];

/* The golden inputs assembled under out and the KMS family signed; *kdir names it. */
static void
assemble_signed(const char *out, char *kdir, size_t kdir_len)
{
    release_assemble_golden(out, NULL);
    EXPECT_OK(mt_rel_family_dir(out, MT_REL_KMS, VERSION, kdir, kdir_len));
    release_sign_dir(kdir, priv);
}

static int
setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/mt-release-hardening-XXXXXX");
    if (mkdtemp(tmpdir) == NULL)
        return -1;
    snprintf(priv, sizeof(priv), "%s/release.key", tmpdir);
    snprintf(pub, sizeof(pub), "%s/release.pub", tmpdir);
    release_make_key(priv, pub);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    return mt_test_rm_rf(tmpdir);
}

/* The failing checks of a report, joined by ','. */
static char *
fail_names(const struct mt_rel_report *r)
{
    struct mt_buf b;
    size_t i;

    mt_buf_init(&b, 1u << 16);
    for (i = 0; i < r->n; i++) {
        if (r->v[i].err == MT_OK)
            continue;
        if (b.len > 0)
            EXPECT_OK(mt_buf_append_str(&b, ","));
        EXPECT_OK(mt_buf_append_str(&b, r->v[i].name));
    }
    EXPECT_OK(mt_buf_append(&b, "", 1));
    return (char *)mt_buf_take(&b, NULL);
}

/* Verify kdir with the public key; the failing checks. */
static char *
verify_fails(const char *kdir)
{
    struct mt_rel_trust_cfg cfg;
    struct mt_rel_report r;
    char why[256], *f;

    memset(&cfg, 0, sizeof(cfg));
    cfg.key = pub;
    mt_rel_report_init(&r);
    EXPECT_OK(mt_rel_verify_release(&cfg, kdir, MT_REL_KMS, VERSION, &r, NULL, why, sizeof(why)));
    f = fail_names(&r);
    mt_rel_report_free(&r);
    return f;
}

static void
replace_once(char *text, const char *from, const char *to)
{
    char *p = strstr(text, from);

    assert_non_null(p);
    assert_int_equal(strlen(from), strlen(to));
    memcpy(p, to, strlen(to));
    assert_null(strstr(p + strlen(to), from));
}

/* ---- finding 2: the bytes checked are the bytes used ---- */

struct swap {
    const char *dir;
    const char *names[2];
    uint8_t *content[2]; /* written over names[i] at the first signature check */
    size_t len[2];
    size_t calls;
    struct mt_rel_trust *trust;
};

static void
put(const char *dir, const char *name, const uint8_t *data, size_t len)
{
    char path[600];

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    EXPECT_OK(mt_file_write_atomic(path, data, len, 0644));
}

/* A signature callback that replaces files on disk when it first runs (after the load stage). */
static mt_err
swapping_sigcheck(void *arg, const struct mt_rel_asset *asset, char *why, size_t why_len)
{
    struct swap *s = arg;
    size_t i;

    if (s->calls++ == 0) {
        for (i = 0; i < 2; i++)
            put(s->dir, s->names[i], s->content[i], s->len[i]);
    }
    return mt_rel_sigcheck(s->trust, asset, why, why_len);
}

/*
 * Genuine and forged copies of the debug policy and the compatibility map:
 * the forged policy allows another RTMR0 value, and the forged map pins the
 * forged policy's digest, so the pair passes every schema and consistency
 * check; only the signatures tell them apart.
 */
static void
forge(const char *kdir, uint8_t *genuine[2], size_t glen[2], uint8_t *forged[2], size_t flen[2],
      char rtmr0_genuine[97], char rtmr0_forged[97])
{
    char path[600], old_hex[65], new_hex[65];
    uint8_t d[32];
    json_t *pol;
    const char *v;

    snprintf(path, sizeof(path), "%s/" DEBUG_POLICY, kdir);
    genuine[0] = mt_test_read_file(path, &glen[0]);
    snprintf(path, sizeof(path), "%s/" MT_REL_KMS_COMPAT, kdir);
    genuine[1] = mt_test_read_file(path, &glen[1]);
    pol = json_loadb((const char *)genuine[0], glen[0], 0, NULL);
    assert_non_null(pol);
    v = json_string_value(
        json_array_get(json_object_get(json_object_get(pol, "policy"), "kms_allowed_rtmr0"), 0));
    assert_non_null(v);
    assert_int_equal(strlen(v), 96);
    memcpy(rtmr0_genuine, v, 97);
    memcpy(rtmr0_forged, v, 97);
    rtmr0_forged[0] = rtmr0_forged[0] == 'f' ? 'e' : 'f';
    json_decref(pol);

    forged[0] = mt_malloc(glen[0] + 1);
    memcpy(forged[0], genuine[0], glen[0] + 1);
    flen[0] = glen[0];
    replace_once((char *)forged[0], rtmr0_genuine, rtmr0_forged);
    EXPECT_OK(mt_rel_sha256(genuine[0], glen[0], d));
    memcpy(old_hex, mt_test_hex(d, 32), 65);
    EXPECT_OK(mt_rel_sha256(forged[0], flen[0], d));
    memcpy(new_hex, mt_test_hex(d, 32), 65);
    forged[1] = mt_malloc(glen[1] + 1);
    memcpy(forged[1], genuine[1], glen[1] + 1);
    flen[1] = glen[1];
    replace_once((char *)forged[1], old_hex, new_hex);
}

static void
run_swap(const char *kdir, struct swap *s, struct mt_rel_report *r, struct mt_rel_loaded *l)
{
    struct mt_rel_trust_cfg cfg;
    struct mt_rel_verify_opts o;
    struct mt_rel_trust t;
    char why[256];

    memset(&cfg, 0, sizeof(cfg));
    cfg.key = pub;
    EXPECT_OK(mt_rel_trust_open(&cfg, MT_REL_KMS, &t, why, sizeof(why)));
    s->trust = &t;
    s->dir = kdir;
    s->calls = 0;
    memset(&o, 0, sizeof(o));
    o.dir = kdir;
    o.family = MT_REL_KMS;
    o.version = VERSION;
    o.verify_sig = swapping_sigcheck;
    o.sig_arg = s;
    mt_rel_report_init(r);
    memset(l, 0, sizeof(*l));
    EXPECT_OK(mt_rel_verify(&o, r, l));
    mt_rel_trust_close(&t);
    assert_true(s->calls > 0);
}

static const char *
loaded_rtmr0(const struct mt_rel_loaded *l)
{
    return json_string_value(json_array_get(
        json_object_get(json_object_get(l->kms.policy[0], "policy"), "kms_allowed_rtmr0"), 0));
}

static void
test_signature_covers_the_bytes_that_are_used(void **state)
{
    char out[300], kdir[400], g_rtmr0[97], f_rtmr0[97], *fails;
    uint8_t *genuine[2], *forged[2];
    size_t glen[2], flen[2], i;
    struct mt_rel_report r;
    struct mt_rel_loaded l;
    struct swap s;

    (void)state;
    snprintf(out, sizeof(out), "%s/toctou", tmpdir);
    assemble_signed(out, kdir, sizeof(kdir));
    forge(kdir, genuine, glen, forged, flen, g_rtmr0, f_rtmr0);
    memset(&s, 0, sizeof(s));
    s.names[0] = DEBUG_POLICY;
    s.names[1] = MT_REL_KMS_COMPAT;

    /*
     * The review's attack: the forged pair is in place while the documents
     * are read, the genuine files come back before the signatures are
     * checked.  The signatures are checked over what was read: they fail.
     */
    put(kdir, DEBUG_POLICY, forged[0], flen[0]);
    put(kdir, MT_REL_KMS_COMPAT, forged[1], flen[1]);
    for (i = 0; i < 2; i++) {
        s.content[i] = genuine[i];
        s.len[i] = glen[i];
    }
    run_swap(kdir, &s, &r, &l);
    fails = fail_names(&r);
    assert_string_equal(fails, "signature:" DEBUG_POLICY ",signature:" MT_REL_KMS_COMPAT);
    mt_free(fails);
    mt_rel_report_free(&r);
    mt_rel_loaded_free(&l);

    /*
     * The other way round: genuine while loading, forged from the first
     * signature check on.  The release verifies, and the documents handed
     * to merod-config are the genuine ones, not what is on disk now.
     */
    for (i = 0; i < 2; i++) {
        s.content[i] = forged[i];
        s.len[i] = flen[i];
    }
    run_swap(kdir, &s, &r, &l);
    fails = fail_names(&r);
    assert_string_equal(fails, "");
    mt_free(fails);
    assert_string_equal(loaded_rtmr0(&l), g_rtmr0);
    assert_int_equal(l.kms.policy_len[0], glen[0]);
    assert_memory_equal(l.kms.policy_raw[0], genuine[0], glen[0]);
    mt_rel_report_free(&r);
    mt_rel_loaded_free(&l);

    /* The forged files are on disk now: an ordinary run sees and refuses them. */
    fails = verify_fails(kdir);
    assert_string_equal(fails, "signature:" DEBUG_POLICY ",signature:" MT_REL_KMS_COMPAT);
    mt_free(fails);
    for (i = 0; i < 2; i++) {
        mt_free(genuine[i]);
        mt_free(forged[i]);
    }
}

/* A symlinked asset is not followed (O_NOFOLLOW): it is missing, not read through the link. */
static void
test_assets_are_not_read_through_symlinks(void **state)
{
    char out[300], kdir[400], path[600], target[600], *fails;

    (void)state;
    snprintf(out, sizeof(out), "%s/symlink", tmpdir);
    assemble_signed(out, kdir, sizeof(kdir));
    snprintf(path, sizeof(path), "%s/" MT_REL_KMS_METADATA, kdir);
    snprintf(target, sizeof(target), "%s/metadata-elsewhere.json", out);
    assert_int_equal(rename(path, target), 0);
    assert_int_equal(symlink(target, path), 0);
    fails = verify_fails(kdir);
    assert_non_null(strstr(fails, "asset:" MT_REL_KMS_METADATA ","));
    assert_non_null(strstr(fails, "signature:" MT_REL_KMS_METADATA));
    mt_free(fails);
}

/* ---- finding 3: SBOMs and asset_purposes ---- */

static void
remove_asset(const char *kdir, const char *name)
{
    static const char *const suffix[4] = {"", ".sig", ".pem", ".bundle.json"};
    char path[600];
    size_t i;

    for (i = 0; i < 4; i++) {
        snprintf(path, sizeof(path), "%s/%s%s", kdir, name, suffix[i]);
        unlink(path);
    }
}

static void
test_kms_sboms_are_required(void **state)
{
    char out[300], kdir[400], *fails;

    (void)state;
    snprintf(out, sizeof(out), "%s/sbom", tmpdir);
    assemble_signed(out, kdir, sizeof(kdir));
    fails = verify_fails(kdir);
    assert_string_equal(fails, "");
    mt_free(fails);

    remove_asset(kdir, MT_REL_KMS_BINARIES_SBOM);
    fails = verify_fails(kdir);
    assert_string_equal(fails, "asset:" MT_REL_KMS_BINARIES_SBOM ",schema:" MT_REL_KMS_BINARIES_SBOM
                               ",assets:purposes,signature:" MT_REL_KMS_BINARIES_SBOM);
    mt_free(fails);
    remove_asset(kdir, MT_REL_KMS_CONTAINER_SBOM);
    fails = verify_fails(kdir);
    assert_non_null(strstr(fails, "asset:" MT_REL_KMS_CONTAINER_SBOM ","));
    assert_non_null(strstr(fails, "signature:" MT_REL_KMS_CONTAINER_SBOM));
    mt_free(fails);
}

/* assemble cannot derive the container SBOM: it is a required input, checked, copied as is. */
static void
test_assemble_needs_the_container_sbom(void **state)
{
    static const char *const bin = GOLDEN "/inputs/mero-kms-phala_x86_64-unknown-linux-gnu.tar.gz";
    struct release_inputs ri;
    char out[300], bad[300], why[256];

    (void)state;
    release_inputs_load(&ri);
    snprintf(out, sizeof(out), "%s/nosbom", tmpdir);
    ri.in.binaries = &bin;
    ri.in.num_binaries = 1;
    ri.in.container_sbom = NULL;
    ri.in.out_dir = out;
    EXPECT_ERR(mt_rel_assemble(&ri.in, why, sizeof(why)), MT_ERR_ARG);
    assert_non_null(strstr(why, "--container-sbom"));
    /* Not an SPDX document. */
    snprintf(bad, sizeof(bad), "%s/not-spdx.json", tmpdir);
    EXPECT_OK(mt_file_write_atomic(bad, "{\"bomFormat\":\"CycloneDX\"}\n", 26, 0644));
    ri.in.container_sbom = bad;
    EXPECT_ERR(mt_rel_assemble(&ri.in, why, sizeof(why)), MT_ERR_ARG);
    assert_non_null(strstr(why, "--container-sbom"));
    /* Nothing was written. */
    assert_int_not_equal(access(out, F_OK), 0);
    release_inputs_free(&ri);
}

static void
test_asset_purposes_must_be_present_and_signed(void **state)
{
    char out[300], kdir[400], path[600], *fails;
    struct mt_buf b;
    json_t *man;

    (void)state;
    snprintf(out, sizeof(out), "%s/purposes", tmpdir);
    assemble_signed(out, kdir, sizeof(kdir));
    /* The signed manifest names an operator-required asset the directory lacks. */
    snprintf(path, sizeof(path), "%s/" MT_REL_KMS_MANIFEST, kdir);
    man = json_load_file(path, JSON_PRESERVE_ORDER, NULL);
    assert_non_null(man);
    json_object_set_new(json_object_get(man, "asset_purposes"), "kms-operator-notes.txt",
                        json_pack("[s]", "operator-required"));
    mt_buf_init(&b, 1u << 20);
    EXPECT_OK(mt_rel_json_dump(man, &b));
    json_decref(man);
    EXPECT_OK(mt_file_write_atomic(path, b.p, b.len, 0644));
    mt_buf_free(&b);
    release_sign_dir(kdir, priv);
    fails = verify_fails(kdir);
    assert_string_equal(fails, "assets:purposes,signature:kms-operator-notes.txt");
    mt_free(fails);

    /* Present but unsigned. */
    snprintf(path, sizeof(path), "%s/kms-operator-notes.txt", kdir);
    EXPECT_OK(mt_file_write_atomic(path, "notes\n", 6, 0644));
    fails = verify_fails(kdir);
    assert_string_equal(fails, "signature:kms-operator-notes.txt");
    mt_free(fails);

    /* Present and signed: part of the release (not unlisted). */
    release_sign_dir(kdir, priv);
    fails = verify_fails(kdir);
    assert_string_equal(fails, "");
    mt_free(fails);
}

/* ---- finding 4: the download URL ---- */

static void
test_fetch_url_check(void **state)
{
    static const char *const ok_https[] = {
        "https://github.com/calimero-network/mero-tee/releases/download/mero-kms-v2.3.40",
        "HTTPS://github.com/x/y/releases/download/mero-kms-v2.3.40/",
    };
    static const char *const ok_http[] = {
        "http://127.0.0.1:8080/mero-kms-v2.3.40",
        "http://127.0.0.1/mero-kms-v2.3.40",
    };
    static const char *const bad[][2] = {
        {"http://127.0.0.1:1@evil.example/mero-kms-v2.3.40", "a user name or password"},
        {"http://127.0.0.1:@evil.example/mero-kms-v2.3.40", "a user name or password"},
        {"http://127.0.0.1@evil.example/mero-kms-v2.3.40", "a user name or password"},
        {"http://127.0.0.1:x:y@evil.example/", "a user name or password"},
        {"https://user:pw@github.com/x", "a user name or password"},
        {"http://u@127.0.0.1:8080/x", "a user name or password"},
        {"http://evil.example/mero-kms-v2.3.40", "want an https URL"},
        {"http://127.0.0.1.evil.example/x", "want an https URL"},
        {"http://localhost:8080/x", "want an https URL"},
        {"ftp://127.0.0.1/x", "want an https URL"},
        {"file:///etc/passwd", "no scheme or host"},
        {"https://github.com/x?y=1", "a query or fragment"},
        {"https://github.com/x#frag", "a query or fragment"},
        {"not a url", "not a URL"},
    };
    char why[256];
    size_t i;
    int plain;

    (void)state;
    for (i = 0; i < sizeof(ok_https) / sizeof(ok_https[0]); i++) {
        EXPECT_OK(mt_rel_fetch_url_check(ok_https[i], &plain, why, sizeof(why)));
        assert_int_equal(plain, 0);
    }
    for (i = 0; i < sizeof(ok_http) / sizeof(ok_http[0]); i++) {
        EXPECT_OK(mt_rel_fetch_url_check(ok_http[i], &plain, why, sizeof(why)));
        assert_int_equal(plain, 1);
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why[0] = '\0';
        if (mt_rel_fetch_url_check(bad[i][0], &plain, why, sizeof(why)) != MT_ERR_ARG ||
            strstr(why, bad[i][1]) == NULL)
            fail_msg("%s: accepted or \"%s\", want \"%s\"", bad[i][0], why, bad[i][1]);
        assert_int_equal(plain, 0);
    }
    /* The download refuses the same before any request. */
    EXPECT_ERR(mt_rel_fetch_release("http://127.0.0.1:1@evil.example/mero-kms-v2.3.40", MT_REL_KMS,
                                    tmpdir, why, sizeof(why)),
               MT_ERR_ARG);
}

/* ---- finding 6: names and report strings ---- */

static void
test_checksum_names_are_printable_ascii(void **state)
{
    static const char *const bad[] = {
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef  bad\xff.tar.gz\n",
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef  caf\xc3\xa9.tar.gz\n",
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef  a\x7f.tar.gz\n",
    };
    struct mt_rel_sums s = {NULL, 0};
    char why[128];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        EXPECT_ERR(mt_rel_checksums_parse(bad[i], strlen(bad[i]), &s, why, sizeof(why)),
                   MT_ERR_RELEASE_CHECKSUMS_FORMAT);
        assert_string_equal(why, "line 1: the file name is not printable ASCII");
    }
    {
        const char *ok =
            "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef  a b~+.tar.gz\n";

        EXPECT_OK(mt_rel_checksums_parse(ok, strlen(ok), &s, why, sizeof(why)));
        assert_string_equal(s.v[0].name, "a b~+.tar.gz");
    }
    mt_rel_checksums_free(&s);
}

static void
test_report_strings_are_utf8(void **state)
{
    struct mt_rel_report r;
    const char *detail;
    json_t *j, *c;
    char *text;

    (void)state;
    mt_rel_report_init(&r);
    EXPECT_OK(mt_rel_report_add(&r, "checksum:bad\xff.tar.gz", MT_ERR_RELEASE_ASSET_MISSING,
                                "listed as %s but \xc3", "bad\xff\xfe"));
    EXPECT_OK(mt_rel_report_add(&r, "checksum:caf\xc3\xa9", MT_OK, NULL));
    j = mt_rel_report_json(&r, "mero-kms-v" VERSION);
    assert_non_null(j);
    text = json_dumps(j, 0);
    assert_non_null(text);
    mt_free_libc(text);
    c = json_array_get(json_object_get(j, "checks"), 0);
    assert_string_equal(json_string_value(json_object_get(c, "name")), "checksum:bad\\xff.tar.gz");
    detail = json_string_value(json_object_get(c, "detail"));
    assert_string_equal(detail, "listed as bad\\xff\\xfe but \\xc3");
    /* Valid UTF-8 is kept. */
    c = json_array_get(json_object_get(j, "checks"), 1);
    assert_string_equal(json_string_value(json_object_get(c, "name")), "checksum:caf\xc3\xa9");
    json_decref(j);
    mt_rel_report_free(&r);
}

/* release verify --json on a checksums file with a non-UTF-8 name: a report, exit 1. */
static void
test_verify_json_with_a_non_utf8_name(void **state)
{
    char out[300], kdir[400], path[600], *cli = NULL;
    json_t *j;
    FILE *f;
    int rc;

    (void)state;
    snprintf(out, sizeof(out), "%s/utf8", tmpdir);
    assemble_signed(out, kdir, sizeof(kdir));
    snprintf(path, sizeof(path), "%s/" MT_REL_KMS_CHECKSUMS, kdir);
    f = fopen(path, "a");
    assert_non_null(f);
    fputs("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef  bad\xff.tar.gz\n", f);
    fclose(f);
    rc = mt_test_run_cli(&cli, "release", "verify", kdir, "--family", "kms", "--version", VERSION,
                         "--key", pub, "--json", NULL);
    assert_int_equal(rc, 1);
    j = json_loads(cli, 0, NULL);
    if (j == NULL)
        fail_msg("not a JSON report: %s", cli);
    assert_true(json_is_false(json_object_get(j, "ok")));
    assert_true(json_integer_value(json_object_get(j, "failed")) > 0);
    json_decref(j);
    mt_free(cli);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signature_covers_the_bytes_that_are_used),
        cmocka_unit_test(test_assets_are_not_read_through_symlinks),
        cmocka_unit_test(test_kms_sboms_are_required),
        cmocka_unit_test(test_assemble_needs_the_container_sbom),
        cmocka_unit_test(test_asset_purposes_must_be_present_and_signed),
        cmocka_unit_test(test_fetch_url_check),
        cmocka_unit_test(test_checksum_names_are_printable_ascii),
        cmocka_unit_test(test_report_strings_are_utf8),
        cmocka_unit_test(test_verify_json_with_a_non_utf8_name),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
