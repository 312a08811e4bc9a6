/*
 * mero-tee sigstore verify, the built binary (MT_CLI_PATH): exit 0
 * verified, 1 not verified, 2 unusable arguments or files, and the exact
 * shape of --json ({"ok","error","signingTime","identity","issuer",
 * "logIndex"}).
 */
#include "mt_testlib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/mt_alloc.h"

#define BEACON                                                                                     \
    "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/"      \
    "workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main"
#define GHA "https://token.actions.githubusercontent.com"
#define DIGEST "sha256:a0cfc71271d6e278e57cd332ff957c3f7043fdda354c4cbb190a30d56efa01bf"

static char a_txt[1024], root[1024], v03[1024], legacy[1024], sigmis[1024], mkb[1024], mkpub[1024],
    wrongpub[1024];

static int
setup(void **state)
{
    const char *s = mt_test_shared_dir();

    (void)state;
    mt_test_require_shared();
    snprintf(a_txt, sizeof(a_txt), "%s/vectors/sigstore/a.txt", s);
    snprintf(root, sizeof(root), "%s/vectors/sigstore/trusted_root.json", s);
    snprintf(v03, sizeof(v03),
             "%s/vectors/sigstore/conformance/happy-path-v0.3/bundle.sigstore.json", s);
    snprintf(legacy, sizeof(legacy), "%s/vectors/sigstore/legacy/happy-path-v0.1.bundle.json", s);
    snprintf(sigmis, sizeof(sigmis),
             "%s/vectors/sigstore/conformance/signature-mismatch_fail/bundle.sigstore.json", s);
    snprintf(mkb, sizeof(mkb),
             "%s/vectors/sigstore/conformance/managed-key-happy-path/bundle.sigstore.json", s);
    snprintf(mkpub, sizeof(mkpub), "%s/vectors/sigstore/conformance/managed-key-happy-path/key.pub",
             s);
    snprintf(wrongpub, sizeof(wrongpub),
             "%s/vectors/sigstore/conformance/managed-key-wrong-key_fail/key.pub", s);
    return 0;
}

/* Parse --json output and check it has exactly the documented members. */
static json_t *
json_out(const char *out)
{
    static const char *const keys[] = {"ok",       "error",  "signingTime",
                                       "identity", "issuer", "logIndex"};
    json_error_t err;
    json_t *j = json_loads(out, 0, &err);
    size_t i;

    assert_non_null(j);
    assert_int_equal(json_object_size(j), 6);
    for (i = 0; i < 6; i++)
        assert_non_null(json_object_get(j, keys[i]));
    assert_true(json_is_boolean(json_object_get(j, "ok")));
    return j;
}

static void
test_keyless(void **state)
{
    char *out = NULL;
    json_t *j;

    (void)state;
    assert_int_equal(mt_test_run_cli(&out, "sigstore", "verify", a_txt, "--bundle", v03,
                                     "--trusted-root", root, "--certificate-identity", BEACON,
                                     "--certificate-oidc-issuer", GHA, NULL),
                     0);
    assert_non_null(strstr(out, "OK: "));
    assert_non_null(strstr(out, "2024-03-19T17:26:26Z"));
    mt_free(out);
    assert_int_equal(mt_test_run_cli(&out, "sigstore", "verify", "--digest", DIGEST, "--bundle",
                                     legacy, "--trusted-root", root, "--certificate-identity",
                                     BEACON, "--certificate-oidc-issuer", GHA, "--json", NULL),
                     0);
    j = json_out(out);
    assert_true(json_is_true(json_object_get(j, "ok")));
    assert_true(json_is_null(json_object_get(j, "error")));
    assert_string_equal(json_string_value(json_object_get(j, "signingTime")),
                        "2023-07-12T15:56:36Z");
    assert_string_equal(json_string_value(json_object_get(j, "identity")), BEACON);
    assert_int_equal(json_integer_value(json_object_get(j, "logIndex")), 27246492);
    json_decref(j);
    mt_free(out);
    /* Regexp criteria. */
    assert_int_equal(mt_test_run_cli(&out, "sigstore", "verify", a_txt, "--bundle", v03,
                                     "--trusted-root", root, "--certificate-identity-regexp",
                                     "^https://github\\.com/sigstore-conformance/",
                                     "--certificate-oidc-issuer-regexp", "githubusercontent",
                                     "--certificate-github-workflow-ref", "refs/heads/main", NULL),
                     0);
    mt_free(out);
}

static void
test_not_verified(void **state)
{
    char *out = NULL;
    json_t *j;

    (void)state;
    assert_int_equal(mt_test_run_cli(&out, "sigstore", "verify", a_txt, "--bundle", sigmis,
                                     "--trusted-root", root, "--certificate-identity", BEACON,
                                     "--certificate-oidc-issuer", GHA, "--json", NULL),
                     1);
    j = json_out(out);
    assert_true(json_is_false(json_object_get(j, "ok")));
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "error"), "code")),
                        "sigstore_tlog_signature_mismatch");
    assert_true(json_is_string(json_object_get(json_object_get(j, "error"), "message")));
    assert_true(json_is_null(json_object_get(j, "signingTime")));
    json_decref(j);
    mt_free(out);
    assert_int_equal(mt_test_run_cli(&out, "sigstore", "verify", a_txt, "--bundle", v03,
                                     "--trusted-root", root, "--certificate-identity", BEACON "/x",
                                     "--certificate-oidc-issuer", GHA, NULL),
                     1);
    assert_non_null(strstr(out, "FAIL: sigstore_identity"));
    mt_free(out);
    assert_int_equal(mt_test_run_cli(&out, "sigstore", "verify", a_txt, "--bundle", v03,
                                     "--trusted-root", root, "--certificate-identity", BEACON,
                                     "--certificate-oidc-issuer", GHA,
                                     "--certificate-github-workflow-trigger", "release", NULL),
                     1);
    assert_non_null(strstr(out, "FAIL: sigstore_github_extension"));
    mt_free(out);
    /* A corrupt key file is a verdict (managed-key-wrong-key_fail), not a usage error. */
    assert_int_equal(mt_test_run_cli(&out, "sigstore", "verify", a_txt, "--key", wrongpub,
                                     "--bundle", mkb, "--trusted-root", root, "--json", NULL),
                     1);
    j = json_out(out);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "error"), "code")),
                        "sigstore_key");
    json_decref(j);
    mt_free(out);
}

static void
test_key_mode(void **state)
{
    char *out = NULL;
    json_t *j;

    (void)state;
    assert_int_equal(mt_test_run_cli(&out, "sigstore", "verify", a_txt, "--key", mkpub, "--bundle",
                                     mkb, "--trusted-root", root, "--json", NULL),
                     0);
    j = json_out(out);
    assert_true(json_is_true(json_object_get(j, "ok")));
    assert_true(json_is_null(json_object_get(j, "identity")));
    assert_true(json_is_string(json_object_get(j, "signingTime")));
    json_decref(j);
    mt_free(out);
    /* The key bundle's tlog entry needs a trusted root. */
    assert_int_equal(
        mt_test_run_cli(&out, "sigstore", "verify", a_txt, "--key", mkpub, "--bundle", mkb, NULL),
        2);
    mt_free(out);
}

/*
 * Review finding 5: a detail cut inside a UTF-8 character (mediaType is
 * printed with %.160s) or holding other bytes (a path) still gives the
 * whole --json object, its error member included.
 */
static void
test_json_utf8(void **state)
{
    char mt[256], path[] = "/tmp/mt_sig_cli_XXXXXX", bad_root[64], *out = NULL, *text;
    json_t *b, *j, *err;
    const char *msg;
    FILE *f;
    int fd;

    (void)state;
    memset(mt, 'a', 159);
    memcpy(mt + 159, "\xc3\xa9", 3); /* 159 'a' and an e-acute, NUL included */
    b = mt_test_load_shared_json(
        "vectors/sigstore/conformance/happy-path-v0.3/bundle.sigstore.json");
    json_object_set_new(b, "mediaType", json_string(mt));
    text = json_dumps(b, JSON_COMPACT);
    assert_non_null(text);
    fd = mkstemp(path);
    assert_true(fd >= 0);
    f = fdopen(fd, "wb");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    fclose(f);
    free(text); /* lint-allow: free (jansson's malloc) */
    json_decref(b);
    assert_int_equal(mt_test_run_cli(&out, "sigstore", "verify", a_txt, "--bundle", path,
                                     "--trusted-root", root, "--certificate-identity", BEACON,
                                     "--certificate-oidc-issuer", GHA, "--json", NULL),
                     1);
    remove(path);
    j = json_out(out);
    err = json_object_get(j, "error");
    assert_true(json_is_object(err));
    assert_string_equal(json_string_value(json_object_get(err, "code")), "sigstore_media_type");
    msg = json_string_value(json_object_get(err, "message"));
    assert_non_null(msg);
    assert_non_null(strstr(msg, "aaaaaaaaaa"));
    json_decref(j);
    mt_free(out);
    /* A path that is not UTF-8, in an early failure's detail. */
    snprintf(bad_root, sizeof(bad_root), "/nonexistent/mt-\xff\xfe-root.json");
    assert_int_equal(mt_test_run_cli(&out, "sigstore", "verify", a_txt, "--bundle", v03,
                                     "--trusted-root", bad_root, "--certificate-identity", BEACON,
                                     "--certificate-oidc-issuer", GHA, "--json", NULL),
                     2);
    j = json_out(out);
    err = json_object_get(j, "error");
    assert_true(json_is_object(err));
    assert_non_null(
        strstr(json_string_value(json_object_get(err, "message")), "/nonexistent/mt-??"));
    json_decref(j);
    mt_free(out);
}

static void
test_usage(void **state)
{
    char *out = NULL;

    (void)state;
    assert_int_equal(mt_test_run_cli(&out, "sigstore", NULL), 2);
    mt_free(out);
    assert_int_equal(mt_test_run_cli(&out, "sigstore", "verify", a_txt, "--bundle", v03, NULL), 2);
    mt_free(out);
    /* No issuer criterion. */
    assert_int_equal(mt_test_run_cli(&out, "sigstore", "verify", a_txt, "--bundle", v03,
                                     "--trusted-root", root, "--certificate-identity", BEACON,
                                     NULL),
                     2);
    mt_free(out);
    /* Two artifacts; a bad digest; a bad regexp; --key with both bundle and signature. */
    assert_int_equal(mt_test_run_cli(&out, "sigstore", "verify", a_txt, "--digest", DIGEST,
                                     "--bundle", v03, "--trusted-root", root,
                                     "--certificate-identity", BEACON, "--certificate-oidc-issuer",
                                     GHA, NULL),
                     2);
    mt_free(out);
    assert_int_equal(mt_test_run_cli(&out, "sigstore", "verify", "--digest", "sha256:abc",
                                     "--bundle", v03, "--trusted-root", root,
                                     "--certificate-identity", BEACON, "--certificate-oidc-issuer",
                                     GHA, NULL),
                     2);
    mt_free(out);
    assert_int_equal(mt_test_run_cli(&out, "sigstore", "verify", a_txt, "--bundle", v03,
                                     "--trusted-root", root, "--certificate-identity-regexp", "(",
                                     "--certificate-oidc-issuer", GHA, NULL),
                     2);
    mt_free(out);
    assert_int_equal(mt_test_run_cli(&out, "sigstore", "verify", a_txt, "--key", mkpub, "--bundle",
                                     mkb, "--signature", mkb, NULL),
                     2);
    mt_free(out);
    /* Unreadable files. */
    assert_int_equal(mt_test_run_cli(&out, "sigstore", "verify", "/nonexistent/a.txt", "--bundle",
                                     v03, "--trusted-root", root, "--certificate-identity", BEACON,
                                     "--certificate-oidc-issuer", GHA, "--json", NULL),
                     2);
    json_decref(json_out(out));
    mt_free(out);
    assert_int_equal(mt_test_run_cli(&out, "sigstore", "verify", a_txt, "--bundle",
                                     "/nonexistent/b.json", "--trusted-root", root,
                                     "--certificate-identity", BEACON, "--certificate-oidc-issuer",
                                     GHA, NULL),
                     2);
    mt_free(out);
    assert_int_equal(mt_test_run_cli(&out, "sigstore", "verify", a_txt, "--bundle", v03,
                                     "--trusted-root", "/nonexistent/root.json",
                                     "--certificate-identity", BEACON, "--certificate-oidc-issuer",
                                     GHA, NULL),
                     2);
    mt_free(out);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keyless),   cmocka_unit_test(test_not_verified),
        cmocka_unit_test(test_key_mode),  cmocka_unit_test(test_usage),
        cmocka_unit_test(test_json_utf8),
    };

    return cmocka_run_group_tests(tests, setup, NULL);
}
