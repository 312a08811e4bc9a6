/*
 * mero-tee measure boot against a fake sysfs / configfs tree in a temporary
 * directory (image/image_measure.h): the 48 digest bytes written, a second
 * run refused, and every failure mode reported (missing interface, bad
 * command line, bad root hash, write error, marker problems).
 */
#include "mt_testlib.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/image_measure.h"
#include "image/image_rtmr3.h"
#include "util/mt_alloc.h"

#define H64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define SYSFS "sys/class/misc/tdx_guest/measurements/rtmr3:sha384"
#define SYSFS_MR "sys/class/misc/tdx_guest/mr/rtmr3:sha384"
#define CONFIGFS "sys/kernel/config/tsm/rtmrs/rtmr3/digest"

static char dir[256], cmdline[512], marker[512], root[512];

static void
mkdirs(const char *rel_file)
{
    char p[1024], cmd[1200];

    snprintf(p, sizeof(p), "%s/%s", root, rel_file);
    *strrchr(p, '/') = '\0';
    snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", p);
    assert_int_equal(system(cmd), 0);
}

/* The fake interface: an existing empty file, as sysfs attributes are. */
static void
make_iface(const char *rel, unsigned mode)
{
    char p[1024];
    int fd;

    mkdirs(rel);
    snprintf(p, sizeof(p), "%s/%s", root, rel);
    fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(chmod(p, mode), 0);
}

static void
write_cmdline(const char *text)
{
    FILE *f = fopen(cmdline, "w");

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static uint8_t *
read_iface(const char *rel, size_t *len)
{
    char p[1024];
    struct stat st;

    snprintf(p, sizeof(p), "%s/%s", root, rel);
    assert_int_equal(stat(p, &st), 0);
    if (st.st_size == 0) {
        *len = 0;
        return NULL;
    }
    return mt_test_read_file(p, len);
}

static int
setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/mt-image-measure-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(cmdline, sizeof(cmdline), "%s/cmdline", dir);
    snprintf(marker, sizeof(marker), "%s/run/calimero/rtmr3-measured", dir);
    snprintf(root, sizeof(root), "%s/root", dir);
    assert_int_equal(mkdir(root, 0755), 0);
    write_cmdline("BOOT_IMAGE=/vmlinuz ro calimero.role=node calimero.profile=locked-read-only "
                  "calimero.root_hash=" H64 "\n");
    return 0;
}

static int
teardown(void **state)
{
    char cmd[1024];

    (void)state;
    assert_true(snprintf(cmd, sizeof(cmd), "chmod -R u+w '%s'; rm -rf '%s'", dir, dir) > 0);
    assert_int_equal(system(cmd), 0);
    return 0;
}

static mt_err
run(struct mt_image_measure_result *res, char *detail, size_t dn)
{
    struct mt_image_measure_cfg cfg = {cmdline, root, marker};

    return mt_image_measure_boot(&cfg, res, detail, dn);
}

static void
test_extends_once(void **state)
{
    struct mt_image_measure_result res;
    uint8_t want[MT_RTMR_SIZE], rtmr3[MT_RTMR_SIZE], *got;
    char detail[1024];
    size_t len = 0;

    (void)state;
    make_iface(SYSFS, 0200);
    EXPECT_OK(run(&res, detail, sizeof(detail)));
    EXPECT_OK(mt_image_rtmr3_expected("locked-read-only", H64, want, rtmr3));
    got = read_iface(SYSFS, &len);
    assert_int_equal(len, MT_RTMR_SIZE);
    assert_memory_equal(got, want, MT_RTMR_SIZE);
    assert_memory_equal(res.digest, want, MT_RTMR_SIZE);
    assert_string_equal(res.cmdline.profile, "locked-read-only");
    assert_non_null(strstr(res.interface, SYSFS));
    mt_free(got);
    {
        size_t ml;
        uint8_t *m = mt_test_read_file(marker, &ml);
        assert_true(strncmp((char *)m, mt_test_hex(want, MT_RTMR_SIZE), 96) == 0);
        mt_free(m);
    }
    /* Second run in the same boot: refused, nothing written. */
    make_iface(SYSFS, 0200);
    EXPECT_ERR(run(&res, detail, sizeof(detail)), MT_ERR_IMAGE_ALREADY_MEASURED);
    assert_non_null(strstr(detail, marker));
    got = read_iface(SYSFS, &len);
    assert_int_equal(len, 0);
}

/* The interfaces are tried in order: sysfs measurements, sysfs mr, configfs-tsm. */
static void
test_interface_order(void **state)
{
    struct mt_image_measure_result res;
    size_t len = 0;
    uint8_t *got;

    (void)state;
    make_iface(CONFIGFS, 0600);
    make_iface(SYSFS_MR, 0600);
    EXPECT_OK(run(&res, NULL, 0));
    assert_non_null(strstr(res.interface, SYSFS_MR));
    got = read_iface(SYSFS_MR, &len);
    assert_int_equal(len, MT_RTMR_SIZE);
    mt_free(got);
    got = read_iface(CONFIGFS, &len);
    assert_int_equal(len, 0);
    assert_int_equal(unlink(marker), 0);
    {
        char p[1024];
        snprintf(p, sizeof(p), "%s/%s", root, SYSFS_MR);
        assert_int_equal(unlink(p), 0);
    }
    EXPECT_OK(run(&res, NULL, 0));
    assert_non_null(strstr(res.interface, CONFIGFS));
}

static void
test_no_interface(void **state)
{
    struct mt_image_measure_result res;
    char detail[1024];
    struct stat st;

    (void)state;
    EXPECT_ERR(run(&res, detail, sizeof(detail)), MT_ERR_IMAGE_NO_TDX_INTERFACE);
    assert_non_null(strstr(detail, root));
    /* No marker: a later run (after modprobe) may still measure. */
    assert_int_equal(stat(marker, &st), -1);
}

static void
test_bad_cmdline(void **state)
{
    struct mt_image_measure_result res;
    char detail[1024];
    struct stat st;

    (void)state;
    make_iface(SYSFS, 0600);
    write_cmdline("BOOT_IMAGE=/vmlinuz ro quiet\n");
    EXPECT_ERR(run(&res, detail, sizeof(detail)), MT_ERR_IMAGE_CMDLINE);
    assert_non_null(strstr(detail, cmdline));
    write_cmdline("calimero.role=node calimero.profile=production calimero.root_hash=" H64);
    EXPECT_ERR(run(&res, NULL, 0), MT_ERR_IMAGE_PROFILE);
    write_cmdline("calimero.role=node calimero.profile=debug calimero.root_hash=none\n");
    EXPECT_ERR(run(&res, NULL, 0), MT_ERR_IMAGE_ROOT_HASH);
    write_cmdline("calimero.role=node calimero.profile=debug calimero.root_hash=" H64 "00\n");
    EXPECT_ERR(run(&res, NULL, 0), MT_ERR_IMAGE_ROOT_HASH);
    assert_int_equal(unlink(cmdline), 0);
    EXPECT_ERR(run(&res, detail, sizeof(detail)), MT_ERR_IO);
    assert_non_null(strstr(detail, "No such file"));
    assert_int_equal(stat(marker, &st), -1);
}

static void
test_write_error(void **state)
{
    struct mt_image_measure_result res;
    char detail[1024], p[1024];
    struct stat st;

    (void)state;
    /* A directory where the attribute should be: open fails, marker removed. */
    mkdirs(SYSFS);
    snprintf(p, sizeof(p), "%s/%s", root, SYSFS);
    assert_int_equal(mkdir(p, 0755), 0);
    EXPECT_ERR(run(&res, detail, sizeof(detail)), MT_ERR_IMAGE_MEASURE_WRITE);
    assert_non_null(strstr(detail, "cannot open"));
    assert_int_equal(stat(marker, &st), -1);
    assert_int_equal(rmdir(p), 0);
    /* /dev/full as the attribute: the write itself fails; the marker stays (state unknown). */
    assert_int_equal(symlink("/dev/full", p), 0);
    EXPECT_ERR(run(&res, detail, sizeof(detail)), MT_ERR_IMAGE_MEASURE_WRITE);
    assert_non_null(strstr(detail, "cannot write"));
    assert_int_equal(stat(marker, &st), 0);
    EXPECT_ERR(run(&res, NULL, 0), MT_ERR_IMAGE_ALREADY_MEASURED);
}

static void
test_marker_dir_unusable(void **state)
{
    struct mt_image_measure_result res;
    char detail[1024], p[600];
    FILE *f;

    (void)state;
    make_iface(SYSFS, 0600);
    /* The marker's parent is a regular file: cannot create the marker. */
    snprintf(p, sizeof(p), "%s/run", dir);
    f = fopen(p, "w");
    assert_non_null(f);
    fclose(f);
    EXPECT_ERR(run(&res, detail, sizeof(detail)), MT_ERR_IO);
    assert_non_null(strstr(detail, "marker"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_extends_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interface_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_interface, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_cmdline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_marker_dir_unusable, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
