#include "image/image_roothash.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "util/mt_alloc.h"
#include "util/mt_hex.h"

static const char *const scope[] = {
    "etc/calimero",
    "etc/default/grub",
    "etc/default/grub.d",
    "etc/group",
    "etc/gshadow",
    "etc/nsswitch.conf",
    "etc/pam.d",
    "etc/passwd",
    "etc/shadow",
    "etc/ssh",
    "etc/sudoers",
    "etc/sudoers.d",
    "etc/systemd/system",
    "usr/local/bin",
    "usr/local/lib/calimero",
};

/* Inside the scope but not hashed: it carries the root hash itself. */
static const char *const excluded[] = {
    "/etc/default/grub.d/60-calimero-root-hash.cfg",
};

static int
is_excluded(const char *path)
{
    size_t i;

    for (i = 0; i < sizeof(excluded) / sizeof(excluded[0]); i++)
        if (strcmp(path, excluded[i]) == 0)
            return 1;
    return 0;
}

struct walk {
    EVP_MD_CTX *manifest; /* SHA-256 over the manifest */
    mt_image_manifest_cb cb;
    void *cb_arg;
    size_t entries;
    char *detail;
    size_t dn;
};

static mt_err
fail(struct walk *w, mt_err e, const char *path, const char *why, int err)
{
    if (w->detail != NULL && w->dn > 0) {
        if (err != 0)
            snprintf(w->detail, w->dn, "%s: %s: %s", path, why, strerror(err));
        else
            snprintf(w->detail, w->dn, "%s: %s", path, why);
    }
    return e;
}

static int
name_ok(const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c == 0x7f)
            return 0;
    }
    return n > 0;
}

static mt_err
emit(struct walk *w, const char *line, size_t len)
{
    MT_ENSURE(EVP_DigestUpdate(w->manifest, line, len) == 1, MT_ERR_CRYPTO);
    if (w->cb != NULL)
        w->cb(w->cb_arg, line, len);
    return MT_OK;
}

/* SHA-256 of an open regular file, read to EOF. */
static mt_err
hash_fd(int fd, char hex[65])
{
    uint8_t buf[65536], md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    EVP_MD_CTX *ctx;
    mt_err rv = MT_ERR_CRYPTO;
    ssize_t r;

    ctx = EVP_MD_CTX_new();
    MT_ENSURE(ctx != NULL, MT_ERR_NOMEM);
    if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
        goto out;
    for (;;) {
        r = read(fd, buf, sizeof(buf));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rv = MT_ERR_IO;
            goto out;
        }
        if (r == 0)
            break;
        if (EVP_DigestUpdate(ctx, buf, (size_t)r) != 1)
            goto out;
    }
    if (EVP_DigestFinal_ex(ctx, md, &md_len) != 1 || md_len != 32)
        goto out;
    mt_hex_encode(md, 32, hex);
    rv = MT_OK;
out:
    EVP_MD_CTX_free(ctx);
    return rv;
}

static int
cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static mt_err walk_entry(struct walk *w, int dirfd, const char *name, const char *path,
                         unsigned depth, int missing_ok);

static mt_err
walk_dir(struct walk *w, int parent, const char *name, const char *path, unsigned depth)
{
    char **names = NULL;
    size_t n = 0, cap = 0, i;
    char child[MT_IMAGE_MAX_PATH];
    struct dirent *de;
    DIR *d = NULL;
    int fd, k;
    mt_err rv = MT_OK;

    MT_ENSURE(depth < MT_IMAGE_MAX_DEPTH, fail(w, MT_ERR_IMAGE_TREE, path, "too deep", 0));
    fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return fail(w, MT_ERR_IMAGE_TREE, path, "cannot open directory", errno);
    d = fdopendir(fd);
    if (d == NULL) {
        close(fd);
        return fail(w, MT_ERR_IMAGE_TREE, path, "cannot read directory", errno);
    }
    for (;;) {
        errno = 0;
        de = readdir(d);
        if (de == NULL) {
            MT_ENSURE_GOTO(errno == 0,
                           fail(w, MT_ERR_IMAGE_TREE, path, "cannot read directory", errno), rv,
                           out);
            break;
        }
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        MT_ENSURE_GOTO(w->entries + n < MT_IMAGE_MAX_ENTRIES,
                       fail(w, MT_ERR_IMAGE_TREE, path, "too many entries", 0), rv, out);
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            char **nn = mt_realloc(names, ncap * sizeof(*names));
            MT_ENSURE_GOTO(nn != NULL, MT_ERR_NOMEM, rv, out);
            names = nn;
            cap = ncap;
        }
        names[n] = mt_strdup(de->d_name);
        MT_ENSURE_GOTO(names[n] != NULL, MT_ERR_NOMEM, rv, out);
        n++;
    }
    if (n > 1)
        qsort(names, n, sizeof(*names), cmp_names);
    for (i = 0; i < n; i++) {
        k = snprintf(child, sizeof(child), "%s/%s", path, names[i]);
        MT_ENSURE_GOTO(k > 0 && (size_t)k < sizeof(child),
                       fail(w, MT_ERR_IMAGE_TREE, path, "path too long", 0), rv, out);
        MT_GUARD_GOTO(walk_entry(w, fd, names[i], child, depth + 1, 0), rv, out);
    }
out:
    for (i = 0; i < n; i++)
        mt_free(names[i]);
    mt_free(names);
    closedir(d);
    return rv;
}

static mt_err
walk_entry(struct walk *w, int dirfd, const char *name, const char *path, unsigned depth,
           int missing_ok)
{
    char line[3 * MT_IMAGE_MAX_PATH], target[MT_IMAGE_MAX_PATH], hex[65];
    struct stat st, st2;
    unsigned mode;
    ssize_t tl;
    int fd, k;
    mt_err rv;

    if (is_excluded(path))
        return MT_OK;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT && missing_ok)
            return MT_OK;
        return fail(w, MT_ERR_IMAGE_TREE, path, "cannot stat", errno);
    }
    MT_ENSURE(name_ok(name, strlen(name)),
              fail(w, MT_ERR_IMAGE_TREE, path, "name with space or control byte", 0));
    MT_ENSURE(w->entries < MT_IMAGE_MAX_ENTRIES,
              fail(w, MT_ERR_IMAGE_TREE, path, "too many entries", 0));
    w->entries++;
    mode = (unsigned)(st.st_mode & 07777);
    if (S_ISDIR(st.st_mode)) {
        k = snprintf(line, sizeof(line), "dir %04o %u %u %s\n", mode, (unsigned)st.st_uid,
                     (unsigned)st.st_gid, path);
        MT_ENSURE(k > 0 && (size_t)k < sizeof(line), MT_ERR_INTERNAL);
        MT_GUARD(emit(w, line, (size_t)k));
        return walk_dir(w, dirfd, name, path, depth);
    }
    if (S_ISLNK(st.st_mode)) {
        tl = readlinkat(dirfd, name, target, sizeof(target));
        if (tl < 0)
            return fail(w, MT_ERR_IMAGE_TREE, path, "cannot read link", errno);
        MT_ENSURE((size_t)tl < sizeof(target),
                  fail(w, MT_ERR_IMAGE_TREE, path, "link target too long", 0));
        MT_ENSURE(name_ok(target, (size_t)tl),
                  fail(w, MT_ERR_IMAGE_TREE, path, "link target with space or control byte", 0));
        target[tl] = '\0';
        k = snprintf(line, sizeof(line), "link %u %u %s %s\n", (unsigned)st.st_uid,
                     (unsigned)st.st_gid, path, target);
        MT_ENSURE(k > 0 && (size_t)k < sizeof(line), MT_ERR_INTERNAL);
        return emit(w, line, (size_t)k);
    }
    if (!S_ISREG(st.st_mode))
        return fail(w, MT_ERR_IMAGE_SPECIAL_FILE, path, "device, FIFO or socket", 0);
    fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return fail(w, MT_ERR_IMAGE_TREE, path, "cannot open", errno);
    if (fstat(fd, &st2) != 0 || !S_ISREG(st2.st_mode) || st2.st_ino != st.st_ino ||
        st2.st_dev != st.st_dev) {
        close(fd);
        return fail(w, MT_ERR_IMAGE_TREE, path, "changed while hashed", 0);
    }
    rv = hash_fd(fd, hex);
    close(fd);
    if (rv == MT_ERR_IO)
        return fail(w, MT_ERR_IMAGE_TREE, path, "cannot read", errno);
    MT_GUARD(rv);
    k = snprintf(line, sizeof(line), "file %04o %u %u %s %s\n", mode, (unsigned)st2.st_uid,
                 (unsigned)st2.st_gid, hex, path);
    MT_ENSURE(k > 0 && (size_t)k < sizeof(line), MT_ERR_INTERNAL);
    return emit(w, line, (size_t)k);
}

/*
 * Open the parent directory of rel ("usr/local/bin" -> ROOT/usr/local)
 * component by component without following symlinks.  *fd = -1 when a
 * parent does not exist (the scope item is absent).
 */
static mt_err
open_parent(struct walk *w, int rootfd, const char *rel, int *fd, const char **leaf)
{
    char comp[MT_IMAGE_MAX_PATH];
    const char *p = rel, *slash;
    int cur, next;

    cur = dup(rootfd);
    if (cur < 0)
        return fail(w, MT_ERR_IMAGE_TREE, rel, "dup", errno);
    while ((slash = strchr(p, '/')) != NULL) {
        memcpy(comp, p, (size_t)(slash - p));
        comp[slash - p] = '\0';
        next = openat(cur, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (next < 0) {
            int e = errno;
            close(cur);
            if (e == ENOENT) {
                *fd = -1;
                return MT_OK;
            }
            return fail(w, MT_ERR_IMAGE_TREE, rel, "parent is a symlink or unreadable", e);
        }
        close(cur);
        cur = next;
        p = slash + 1;
    }
    *fd = cur;
    *leaf = p;
    return MT_OK;
}

mt_err
mt_image_root_hash(const char *root, mt_image_manifest_cb cb, void *cb_arg, char hex[65],
                   char *detail, size_t detail_len)
{
    struct walk w;
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    char path[MT_IMAGE_MAX_PATH];
    const char *leaf = NULL;
    int rootfd = -1, pfd = -1;
    size_t i;
    mt_err rv = MT_OK;

    MT_ENSURE(root != NULL && hex != NULL, MT_ERR_ARG);
    memset(&w, 0, sizeof(w));
    w.cb = cb;
    w.cb_arg = cb_arg;
    w.detail = detail;
    w.dn = detail_len;
    if (detail != NULL && detail_len > 0)
        detail[0] = '\0';
    rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0)
        return fail(&w, MT_ERR_IMAGE_TREE, root, "cannot open image root", errno);
    w.manifest = EVP_MD_CTX_new();
    MT_ENSURE_GOTO(w.manifest != NULL, MT_ERR_NOMEM, rv, out);
    MT_ENSURE_GOTO(EVP_DigestInit_ex(w.manifest, EVP_sha256(), NULL) == 1, MT_ERR_CRYPTO, rv, out);
    for (i = 0; i < sizeof(scope) / sizeof(scope[0]); i++) {
        MT_GUARD_GOTO(open_parent(&w, rootfd, scope[i], &pfd, &leaf), rv, out);
        if (pfd < 0)
            continue;
        snprintf(path, sizeof(path), "/%s", scope[i]);
        rv = walk_entry(&w, pfd, leaf, path, 0, 1);
        close(pfd);
        pfd = -1;
        if (rv != MT_OK)
            goto out;
    }
    MT_ENSURE_GOTO(EVP_DigestFinal_ex(w.manifest, md, &md_len) == 1 && md_len == 32, MT_ERR_CRYPTO,
                   rv, out);
    mt_hex_encode(md, 32, hex);
out:
    EVP_MD_CTX_free(w.manifest);
    close(rootfd);
    return rv;
}
