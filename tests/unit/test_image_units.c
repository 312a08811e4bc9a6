/*
 * The node image's pure pieces (docs/image.md): the RTMR3 profile digest and
 * its reference vector (mero-tee-reference.md 4.4), kernel command-line
 * parsing, the root hash over a directory tree (image_roothash.h), and the
 * compose hash (dstack.md 5.1).
 */
#include "mt_testlib.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "image/image_cmdline.h"
#include "image/image_compose.h"
#include "image/image_roothash.h"
#include "image/image_rtmr3.h"
#include "util/mt_alloc.h"

#define H64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* mero-tee-reference.md 4.4, exactly. */
static void
test_reference_vector(void **state)
{
    uint8_t d[MT_RTMR_SIZE], r[MT_RTMR_SIZE];

    (void)state;
    EXPECT_OK(mt_image_rtmr3_expected("locked-read-only", "none", d, r));
    assert_string_equal(mt_test_hex(d, sizeof(d)),
                        "9d246b4500028210148cf196ec4e57bc981bfb39e75f09f4d6b3452ef290705e4f98ed527"
                        "6d6d1de738d8e4597b5668c");
    assert_string_equal(mt_test_hex(r, sizeof(r)),
                        "c2d8071a0c1fc9c0a62fcc50d7e1f1a7504366eb9e89ff88469760b170d6c9fc2681774fe"
                        "c468c1e2178e7e03c441a74");
}

/* Other profiles and a real root hash (computed independently with Python hashlib). */
static void
test_profile_vectors(void **state)
{
    static const struct {
        const char *profile, *root, *rtmr3;
    } v[] = {
        {"debug", "none",
         "82fd8be9b7cae9e75b27ce5a1c155bf66c5cd763944376685b3030c661a2393ef812f8951a54023564367a5"
         "7a5201ad3"},
        {"debug-read-only", "none",
         "4314e16d2cf36939fcb6dff90085af338afd65f9392f0555b1895c6bb8e09e7502d2fc50eb15f887d2f631c"
         "1ba17385d"},
        {"locked-read-only", "0000000000000000000000000000000000000000000000000000000000000000",
         "b533e4047364b6ce042f58c53305593121d80b2f93f30660e70ff35cac28711e6fa72fcba7326aa3483eb6d"
         "3c4e22fce"},
    };
    uint8_t d[MT_RTMR_SIZE], r[MT_RTMR_SIZE];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        EXPECT_OK(mt_image_rtmr3_expected(v[i].profile, v[i].root, d, r));
        assert_string_equal(mt_test_hex(r, sizeof(r)), v[i].rtmr3);
    }
}

static void
test_rtmr3_refusals(void **state)
{
    uint8_t d[MT_RTMR_SIZE], r[MT_RTMR_SIZE];

    (void)state;
    EXPECT_ERR(mt_image_rtmr3_expected("locked", "none", d, r), MT_ERR_IMAGE_PROFILE);
    EXPECT_ERR(mt_image_rtmr3_expected("", "none", d, r), MT_ERR_IMAGE_PROFILE);
    EXPECT_ERR(mt_image_rtmr3_expected("DEBUG", "none", d, r), MT_ERR_IMAGE_PROFILE);
    EXPECT_ERR(mt_image_rtmr3_expected("debug", "None", d, r), MT_ERR_IMAGE_ROOT_HASH);
    EXPECT_ERR(mt_image_rtmr3_expected("debug", H64 "0", d, r), MT_ERR_IMAGE_ROOT_HASH);
    EXPECT_ERR(mt_image_rtmr3_expected("debug",
                                       "0123456789ABCDEF0123456789abcdef0123456789abcdef01234567"
                                       "89abcdef",
                                       d, r),
               MT_ERR_IMAGE_ROOT_HASH);
    EXPECT_ERR(mt_image_root_hash_check("none", 4, 0), MT_ERR_IMAGE_ROOT_HASH);
    EXPECT_OK(mt_image_root_hash_check(H64, 64, 0));
}

static mt_err
parse(const char *s, struct mt_image_cmdline *c)
{
    return mt_image_cmdline_parse(s, strlen(s), c);
}

static void
test_cmdline_ok(void **state)
{
    struct mt_image_cmdline c;

    (void)state;
    EXPECT_OK(parse("BOOT_IMAGE=/vmlinuz root=UUID=x ro console=ttyS0 calimero.role=node "
                    "calimero.profile=debug-read-only calimero.root_hash=" H64 "\n",
                    &c));
    assert_string_equal(c.profile, "debug-read-only");
    assert_string_equal(c.root_hash, H64);
    /* Tabs, quoted values of other parameters, order. */
    EXPECT_OK(parse("calimero.root_hash=" H64 "\tfoo=\"a b calimero.role=kms\" "
                    "calimero.profile=locked-read-only calimero.role=node",
                    &c));
    assert_string_equal(c.profile, "locked-read-only");
}

static void
test_cmdline_refusals(void **state)
{
    struct mt_image_cmdline c;

    (void)state;
    memset(&c, 0x5a, sizeof(c));
    EXPECT_ERR(parse("", &c), MT_ERR_IMAGE_CMDLINE);
    EXPECT_ERR(parse("calimero.profile=debug calimero.root_hash=" H64, &c), MT_ERR_IMAGE_CMDLINE);
    EXPECT_ERR(parse("calimero.role=kms calimero.profile=debug calimero.root_hash=" H64, &c),
               MT_ERR_IMAGE_CMDLINE);
    EXPECT_ERR(parse("calimero.role=node calimero.role=node calimero.profile=debug "
                     "calimero.root_hash=" H64,
                     &c),
               MT_ERR_IMAGE_CMDLINE);
    EXPECT_ERR(parse("calimero.role=node calimero.profile=debug calimero.profile=debug "
                     "calimero.root_hash=" H64,
                     &c),
               MT_ERR_IMAGE_CMDLINE);
    EXPECT_ERR(parse("calimero.role=node calimero.profile=debug calimero.root_hash=" H64
                     " calimero.extra=1",
                     &c),
               MT_ERR_IMAGE_CMDLINE);
    EXPECT_ERR(parse("calimero.role=node calimero.profile=\"debug\" calimero.root_hash=" H64, &c),
               MT_ERR_IMAGE_CMDLINE);
    /* After "--" the parameters belong to init. */
    EXPECT_ERR(parse("calimero.role=node -- calimero.profile=debug calimero.root_hash=" H64, &c),
               MT_ERR_IMAGE_CMDLINE);
    EXPECT_ERR(parse("calimero.role=node calimero.profile=prod calimero.root_hash=" H64, &c),
               MT_ERR_IMAGE_PROFILE);
    EXPECT_ERR(parse("calimero.role=node calimero.profile=debug calimero.root_hash=none", &c),
               MT_ERR_IMAGE_ROOT_HASH);
    EXPECT_ERR(parse("calimero.role=node calimero.profile=debug calimero.root_hash=", &c),
               MT_ERR_IMAGE_ROOT_HASH);
    EXPECT_ERR(parse("calimero.role=node calimero.profile=debug calimero.root_hash=" H64 "\r", &c),
               MT_ERR_IMAGE_CMDLINE);
    EXPECT_ERR(mt_image_cmdline_parse("calimero.role=node\0x", 20, &c), MT_ERR_IMAGE_CMDLINE);
    {
        char big[MT_IMAGE_MAX_CMDLINE + 2];
        memset(big, 'a', sizeof(big));
        EXPECT_ERR(mt_image_cmdline_parse(big, sizeof(big), &c), MT_ERR_TOO_LARGE);
    }
    /* Out-parameter untouched on failure. */
    assert_int_equal((unsigned char)c.profile[0], 0x5a);
}

/* ---- root hash ---- */

static char tree[256];

static void
put(const char *rel, const char *text, unsigned mode)
{
    char p[512];
    FILE *f;

    snprintf(p, sizeof(p), "%s/%s", tree, rel);
    f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(p, mode), 0);
}

static void
mk(const char *rel)
{
    char p[512];

    snprintf(p, sizeof(p), "%s/%s", tree, rel);
    assert_int_equal(mkdir(p, 0755), 0);
    assert_int_equal(chmod(p, 0755), 0);
}

static int
setup_tree(void **state)
{
    (void)state;
    snprintf(tree, sizeof(tree), "/tmp/mt-image-tree-XXXXXX");
    assert_non_null(mkdtemp(tree));
    assert_int_equal(chmod(tree, 0755), 0);
    mk("etc");
    mk("etc/calimero");
    mk("etc/default");
    mk("etc/systemd");
    mk("etc/systemd/system");
    mk("usr");
    mk("usr/local");
    mk("usr/local/bin");
    put("etc/calimero/image-profile", "debug\n", 0644);
    put("etc/default/grub", "GRUB_TIMEOUT=0\n", 0644);
    put("usr/local/bin/merod", "binary", 0755);
    return 0;
}

static int
teardown_tree(void **state)
{
    char cmd[512];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tree);
    assert_int_equal(system(cmd), 0);
    return 0;
}

struct collect {
    char text[8192];
    size_t len;
};

static void
collect(void *arg, const char *line, size_t len)
{
    struct collect *c = arg;

    assert_true(c->len + len < sizeof(c->text));
    memcpy(c->text + c->len, line, len);
    c->len += len;
    c->text[c->len] = '\0';
}

static void
test_root_hash_manifest(void **state)
{
    struct collect c = {{0}, 0};
    char hex[65], hex2[65], want[8192], sha[65], cmd[16384];
    unsigned uid = (unsigned)getuid(), gid = (unsigned)getgid();
    FILE *p;

    (void)state;
    EXPECT_OK(mt_image_root_hash(tree, collect, &c, hex, NULL, 0));
    snprintf(want, sizeof(want),
             "dir 0755 %u %u /etc/calimero\n"
             "file 0644 %u %u "
             "99c39ef24f13344f477d1d797cb4e70c55b27770d5880f8c1f9d93684bcf2f80"
             " /etc/calimero/image-profile\n"
             "file 0644 %u %u "
             "85dc19b7441c7194d02855708c2b04835f52f642b7b71aeb8c2dd65a6fcb0a13"
             " /etc/default/grub\n"
             "dir 0755 %u %u /etc/systemd/system\n"
             "dir 0755 %u %u /usr/local/bin\n"
             "file 0755 %u %u "
             "9a3a45d01531a20e89ac6ae10b0b0beb0492acd7216a368aa062d1a5fecaf9cd"
             " /usr/local/bin/merod\n",
             uid, gid, uid, gid, uid, gid, uid, gid, uid, gid, uid, gid);
    assert_string_equal(c.text, want);
    /* The hash is SHA-256 of exactly that manifest (checked with sha256sum). */
    snprintf(cmd, sizeof(cmd), "printf '%%s' '%s' | sha256sum", c.text);
    p = popen(cmd, "r");
    assert_non_null(p);
    assert_non_null(fgets(sha, sizeof(sha), p));
    pclose(p);
    assert_string_equal(sha, hex);
    /* Deterministic. */
    EXPECT_OK(mt_image_root_hash(tree, NULL, NULL, hex2, NULL, 0));
    assert_string_equal(hex, hex2);
}

/* Every hashed property changes the hash: contents, mode, a new file, a link target. */
static void
test_root_hash_sensitivity(void **state)
{
    char base[65], h[65], p[512];

    (void)state;
    EXPECT_OK(mt_image_root_hash(tree, NULL, NULL, base, NULL, 0));
    put("etc/calimero/image-profile", "locked-read-only\n", 0644);
    EXPECT_OK(mt_image_root_hash(tree, NULL, NULL, h, NULL, 0));
    assert_string_not_equal(h, base);
    put("etc/calimero/image-profile", "debug\n", 0644);
    EXPECT_OK(mt_image_root_hash(tree, NULL, NULL, h, NULL, 0));
    assert_string_equal(h, base);

    snprintf(p, sizeof(p), "%s/usr/local/bin/merod", tree);
    assert_int_equal(chmod(p, 04755), 0);
    EXPECT_OK(mt_image_root_hash(tree, NULL, NULL, h, NULL, 0));
    assert_string_not_equal(h, base);
    assert_int_equal(chmod(p, 0755), 0);

    snprintf(p, sizeof(p), "%s/etc/systemd/system/getty.target", tree);
    assert_int_equal(symlink("/dev/null", p), 0);
    EXPECT_OK(mt_image_root_hash(tree, NULL, NULL, h, NULL, 0));
    assert_string_not_equal(h, base);
    {
        char h2[65];
        assert_int_equal(unlink(p), 0);
        assert_int_equal(symlink("/lib/systemd/system/getty.target", p), 0);
        EXPECT_OK(mt_image_root_hash(tree, NULL, NULL, h2, NULL, 0));
        assert_string_not_equal(h2, h);
        assert_string_not_equal(h2, base);
    }
    assert_int_equal(unlink(p), 0);

    /* Out of scope: not hashed. */
    put("etc/hostname", "x\n", 0644);
    EXPECT_OK(mt_image_root_hash(tree, NULL, NULL, h, NULL, 0));
    assert_string_equal(h, base);

    /* The GRUB drop-in that carries the root hash is excluded; other drop-ins are not. */
    mk("etc/default/grub.d");
    EXPECT_OK(mt_image_root_hash(tree, NULL, NULL, base, NULL, 0));
    put("etc/default/grub.d/60-calimero-root-hash.cfg", "GRUB_CMDLINE_LINUX=x\n", 0644);
    EXPECT_OK(mt_image_root_hash(tree, NULL, NULL, h, NULL, 0));
    assert_string_equal(h, base);
    put("etc/default/grub.d/50-cloudimg-settings.cfg", "GRUB_TERMINAL=serial\n", 0644);
    EXPECT_OK(mt_image_root_hash(tree, NULL, NULL, h, NULL, 0));
    assert_string_not_equal(h, base);
    memcpy(base, h, sizeof(h));

    /* Accounts, PAM, NSS, sudo and SSH configuration are in scope. */
    {
        static const char *const files[] = {"etc/passwd",  "etc/shadow",        "etc/group",
                                            "etc/gshadow", "etc/nsswitch.conf", "etc/sudoers"};
        static const char *const dirs[] = {"etc/pam.d", "etc/sudoers.d", "etc/ssh"};
        size_t i;
        struct collect c = {{0}, 0};

        for (i = 0; i < sizeof(files) / sizeof(files[0]) + sizeof(dirs) / sizeof(dirs[0]); i++) {
            if (i < sizeof(files) / sizeof(files[0]))
                put(files[i], "root:secret-hash:0\n", 0640);
            else
                mk(dirs[i - sizeof(files) / sizeof(files[0])]);
            EXPECT_OK(mt_image_root_hash(tree, NULL, NULL, h, NULL, 0));
            assert_string_not_equal(h, base);
            memcpy(base, h, sizeof(h));
        }
        /* /etc/shadow: its SHA-256 is listed, never its contents. */
        EXPECT_OK(mt_image_root_hash(tree, collect, &c, h, NULL, 0));
        assert_non_null(strstr(c.text, " /etc/shadow\n"));
        assert_null(strstr(c.text, "secret-hash"));
    }
}

static void
test_root_hash_refusals(void **state)
{
    char h[65], p[512], p2[1100], detail[1024];
    struct sockaddr_un sa;
    int s;

    (void)state;
    memset(h, 'x', sizeof(h));
    /* FIFO */
    snprintf(p, sizeof(p), "%s/etc/calimero/fifo", tree);
    assert_int_equal(mkfifo(p, 0600), 0);
    EXPECT_ERR(mt_image_root_hash(tree, NULL, NULL, h, detail, sizeof(detail)),
               MT_ERR_IMAGE_SPECIAL_FILE);
    assert_non_null(strstr(detail, "/etc/calimero/fifo"));
    assert_int_equal(h[0], 'x');
    assert_int_equal(unlink(p), 0);
    /* socket */
    snprintf(p, sizeof(p), "%s/etc/calimero/sock", tree);
    s = socket(AF_UNIX, SOCK_STREAM, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    assert_true(snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", p) > 0);
    assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
    EXPECT_ERR(mt_image_root_hash(tree, NULL, NULL, h, NULL, 0), MT_ERR_IMAGE_SPECIAL_FILE);
    close(s);
    assert_int_equal(unlink(p), 0);
    /* a name with a space */
    put("etc/calimero/a b", "x", 0644);
    EXPECT_ERR(mt_image_root_hash(tree, NULL, NULL, h, NULL, 0), MT_ERR_IMAGE_TREE);
    snprintf(p, sizeof(p), "%s/etc/calimero/a b", tree);
    assert_int_equal(unlink(p), 0);
    /* a symlinked parent that leads outside the root */
    snprintf(p, sizeof(p), "%s/usr/local/lib", tree);
    assert_int_equal(symlink("/usr/lib", p), 0);
    EXPECT_ERR(mt_image_root_hash(tree, NULL, NULL, h, detail, sizeof(detail)), MT_ERR_IMAGE_TREE);
    assert_int_equal(unlink(p), 0);
    /* an unreadable file (skipped as root, which reads everything) */
    if (geteuid() != 0) {
        snprintf(p2, sizeof(p2), "%s/etc/calimero/secret", tree);
        put("etc/calimero/secret", "x", 0000);
        EXPECT_ERR(mt_image_root_hash(tree, NULL, NULL, h, NULL, 0), MT_ERR_IMAGE_TREE);
        assert_int_equal(unlink(p2), 0);
    }
    EXPECT_ERR(mt_image_root_hash("/nonexistent/mt-image", NULL, NULL, h, NULL, 0),
               MT_ERR_IMAGE_TREE);
    /* An empty root is fine: every scope item is absent. */
    snprintf(p, sizeof(p), "%s/etc", tree);
    assert_true(snprintf(p2, sizeof(p2), "rm -rf '%s' '%s/usr'", p, tree) > 0);
    assert_int_equal(system(p2), 0);
    EXPECT_OK(mt_image_root_hash(tree, NULL, NULL, h, NULL, 0));
    /* SHA-256 of the empty manifest. */
    assert_string_equal(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

/* ---- compose hash ---- */

static void
test_compose_fixture(void **state)
{
    uint8_t *data, md[32];
    size_t len;
    int canonical = -1;

    (void)state;
    data = mt_test_read_shared("dstack-fixtures/sim-app-compose.json", &len);
    EXPECT_OK(mt_image_compose_hash(data, len, md, &canonical));
    /* dstack.md 5.1: the fixture's SHA-256 is 5981514c...9a6b56. */
    assert_string_equal(mt_test_hex(md, 32),
                        "5981514cb2c1c16c4c8d9ef04c69bc0efcb75186238a84872e6f858f2d9a6b56");
    assert_int_equal(canonical, 0);
    mt_free(data);
}

static void
test_compose_canonical_and_refusals(void **state)
{
    static const char canon[] = "{\"docker_compose_file\":\"services: {}\",\"runner\":\"docker-"
                                "compose\"}";
    uint8_t md[32];
    int canonical = -1;

    (void)state;
    EXPECT_OK(mt_image_compose_hash((const uint8_t *)canon, strlen(canon), md, &canonical));
    assert_int_equal(canonical, 1);
    EXPECT_ERR(mt_image_compose_hash((const uint8_t *)"services:\n  a: {}\n", 18, md, &canonical),
               MT_ERR_JSON);
    EXPECT_ERR(mt_image_compose_hash((const uint8_t *)"[1]", 3, md, &canonical), MT_ERR_JSON);
    EXPECT_ERR(mt_image_compose_hash((const uint8_t *)"{\"a\":1}", 7, md, &canonical),
               MT_ERR_JSON_FIELD);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_vector),
        cmocka_unit_test(test_profile_vectors),
        cmocka_unit_test(test_rtmr3_refusals),
        cmocka_unit_test(test_cmdline_ok),
        cmocka_unit_test(test_cmdline_refusals),
        cmocka_unit_test_setup_teardown(test_root_hash_manifest, setup_tree, teardown_tree),
        cmocka_unit_test_setup_teardown(test_root_hash_sensitivity, setup_tree, teardown_tree),
        cmocka_unit_test_setup_teardown(test_root_hash_refusals, setup_tree, teardown_tree),
        cmocka_unit_test(test_compose_fixture),
        cmocka_unit_test(test_compose_canonical_and_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
