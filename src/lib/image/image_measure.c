#include "image/image_measure.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/mt_file.h"
#include "util/mt_hex.h"

static const char *const interfaces[] = {
    "sys/class/misc/tdx_guest/measurements/rtmr3:sha384",
    "sys/class/misc/tdx_guest/mr/rtmr3:sha384",
    "sys/kernel/config/tsm/rtmrs/rtmr3/digest",
};

static void
say(char *detail, size_t n, const char *what, const char *path, int err)
{
    if (detail == NULL || n == 0)
        return;
    if (err != 0)
        snprintf(detail, n, "%s %s: %s", what, path, strerror(err));
    else
        snprintf(detail, n, "%s %s", what, path);
}

static mt_err
read_cmdline(const char *path, struct mt_image_cmdline *out, char *detail, size_t dn)
{
    char text[MT_IMAGE_MAX_CMDLINE + 1];
    size_t len = 0;
    ssize_t r;
    int fd;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        say(detail, dn, "cannot open", path, errno);
        return MT_ERR_IO;
    }
    /* /proc files report size 0: read until EOF, one byte past the limit. */
    while (len < sizeof(text)) {
        r = read(fd, text + len, sizeof(text) - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            say(detail, dn, "cannot read", path, errno);
            close(fd);
            return MT_ERR_IO;
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    if (len > MT_IMAGE_MAX_CMDLINE) {
        say(detail, dn, "kernel command line too long:", path, 0);
        return MT_ERR_TOO_LARGE;
    }
    say(detail, dn, "kernel command line", path, 0);
    return mt_image_cmdline_parse(text, len, out);
}

static mt_err
find_interface(const char *root, char *out, size_t out_len, char *detail, size_t dn)
{
    struct stat st;
    size_t i;
    int n;

    for (i = 0; i < sizeof(interfaces) / sizeof(interfaces[0]); i++) {
        n = snprintf(out, out_len, "%s%s%s", root,
                     root[0] != '\0' && root[strlen(root) - 1] == '/' ? "" : "/", interfaces[i]);
        MT_ENSURE(n > 0 && (size_t)n < out_len, MT_ERR_TOO_LARGE);
        if (stat(out, &st) == 0)
            return MT_OK;
    }
    say(detail, dn, "no RTMR3 interface under", root,
        0); /* modprobe tdx_guest? not a TDX guest? kernel < 6.16? */
    return MT_ERR_IMAGE_NO_TDX_INTERFACE;
}

static mt_err
claim_marker(const char *path, int *fd_out, char *detail, size_t dn)
{
    char dir[4096];
    char *slash;
    int fd;

    MT_ENSURE(strlen(path) < sizeof(dir), MT_ERR_TOO_LARGE);
    memcpy(dir, path, strlen(path) + 1);
    slash = strrchr(dir, '/');
    if (slash != NULL && slash != dir) {
        *slash = '\0';
        /* mkdir -p of the parent: each component in turn. */
        for (char *c = dir + 1;; c++) {
            if (*c != '/' && *c != '\0')
                continue;
            char saved = *c;
            *c = '\0';
            if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
                say(detail, dn, "cannot create marker directory", dir, errno);
                return MT_ERR_IO;
            }
            *c = saved;
            if (saved == '\0')
                break;
        }
    }
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0 && errno == EEXIST) {
        say(detail, dn, "marker exists:", path, 0);
        return MT_ERR_IMAGE_ALREADY_MEASURED;
    }
    if (fd < 0) {
        say(detail, dn, "cannot create marker", path, errno);
        return MT_ERR_IO;
    }
    *fd_out = fd;
    return MT_OK;
}

mt_err
mt_image_measure_boot(const struct mt_image_measure_cfg *cfg, struct mt_image_measure_result *res,
                      char *detail, size_t dn)
{
    struct mt_image_measure_result r;
    char line[2 * MT_RTMR_SIZE + 4096 + 3];
    int mfd = -1, tfd = -1, n;
    ssize_t w;
    mt_err rv = MT_OK;

    MT_ENSURE(cfg != NULL && res != NULL && cfg->cmdline_path != NULL && cfg->tdx_root != NULL &&
                  cfg->marker_path != NULL,
              MT_ERR_ARG);
    if (detail != NULL && dn > 0)
        detail[0] = '\0';
    memset(&r, 0, sizeof(r));
    MT_GUARD(read_cmdline(cfg->cmdline_path, &r.cmdline, detail, dn));
    MT_GUARD(mt_image_rtmr3_digest(r.cmdline.profile, r.cmdline.root_hash, r.digest));
    MT_GUARD(find_interface(cfg->tdx_root, r.interface, sizeof(r.interface), detail, dn));
    MT_GUARD(claim_marker(cfg->marker_path, &mfd, detail, dn));

    tfd = open(r.interface, O_WRONLY | O_CLOEXEC);
    if (tfd < 0) {
        say(detail, dn, "cannot open", r.interface, errno);
        close(mfd);
        mfd = -1;
        unlink(cfg->marker_path);
        rv = MT_ERR_IMAGE_MEASURE_WRITE;
        goto out;
    }
    do {
        w = write(tfd, r.digest, sizeof(r.digest));
    } while (w < 0 && errno == EINTR);
    if (w != (ssize_t)sizeof(r.digest)) {
        if (w < 0)
            say(detail, dn, "cannot write the digest to", r.interface, errno);
        else
            say(detail, dn, "short write of the digest to", r.interface, 0);
        n = snprintf(line, sizeof(line), "failed %s\n", r.interface);
        if (n > 0 && (size_t)n < sizeof(line))
            if (mt_file_write_all(mfd, line, (size_t)n) != MT_OK) {
                /* best effort: the write error above is what is reported */
            }
        rv = MT_ERR_IMAGE_MEASURE_WRITE;
        goto out;
    }
    if (close(tfd) != 0) {
        tfd = -1;
        say(detail, dn, "cannot write the digest to", r.interface, errno);
        rv = MT_ERR_IMAGE_MEASURE_WRITE;
        goto out;
    }
    tfd = -1;
    mt_hex_encode(r.digest, sizeof(r.digest), line);
    n = snprintf(line + 2 * MT_RTMR_SIZE, sizeof(line) - 2 * MT_RTMR_SIZE, " %s\n", r.interface);
    if (n > 0 && (size_t)n < sizeof(line) - 2 * MT_RTMR_SIZE)
        if (mt_file_write_all(mfd, line, 2 * MT_RTMR_SIZE + (size_t)n) != MT_OK)
            say(detail, dn, "cannot write marker", cfg->marker_path, errno);
    memcpy(res, &r, sizeof(r));
out:
    if (tfd >= 0)
        close(tfd);
    if (mfd >= 0)
        close(mfd);
    return rv;
}
