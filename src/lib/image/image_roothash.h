#ifndef MT_IMAGE_ROOTHASH_H
#define MT_IMAGE_ROOTHASH_H

#include <stddef.h>

#include "util/mt_err.h"

/*
 * The node image's root hash (docs/image.md; mero-tee-reference.md 4.3
 * hashes a sorted sha256sum listing of a few paths, this is the stricter
 * replacement).  Computed at build time over the image tree mounted or
 * unpacked at ROOT and put on the kernel command line as calimero.root_hash.
 *
 * Scope, in this order (paths inside the image; an absent one is skipped):
 *   /etc/calimero             directory, recursive
 *   /etc/default/grub         file
 *   /etc/default/grub.d       directory (GRUB drop-ins; see the exclusion below)
 *   /etc/group, /etc/gshadow  files (groups, e.g. google-sudoers)
 *   /etc/nsswitch.conf        file (OS Login NSS modules)
 *   /etc/pam.d                directory, recursive (OS Login PAM modules)
 *   /etc/passwd, /etc/shadow  files (accounts, password locks; /etc/shadow is
 *                             hashed like any file: only its SHA-256 is in
 *                             the manifest, never its contents)
 *   /etc/ssh                  directory, recursive (absent when SSH is purged)
 *   /etc/sudoers              file
 *   /etc/sudoers.d            directory, recursive
 *   /etc/systemd/system       directory, recursive (units, enablement, masks)
 *   /usr/local/bin            directory, recursive (merod, meroctl, mero-tee, ...)
 *   /usr/local/lib/calimero   directory, recursive
 * Excluded (no manifest line): /etc/default/grub.d/60-calimero-root-hash.cfg,
 * which the build writes after hashing and which carries the root hash itself
 * (its effect, the kernel command line, is measured into RTMR2).
 * Everything else is outside the scope: /usr, /lib (incl. /lib/systemd/system),
 * /boot, /var, the rest of /etc.  See docs/image.md for what this does and does
 * not prove.
 *
 * Manifest: one line per entry, "\n"-terminated, fields separated by one space:
 *   dir  <mode> <uid> <gid> <path>
 *   file <mode> <uid> <gid> <sha256 of the contents, lowercase hex> <path>
 *   link <uid> <gid> <path> <target>
 * mode is the permission bits (st_mode & 07777) as 4 octal digits; uid/gid
 * decimal; path the absolute path inside the image ("/etc/calimero/x");
 * target the symlink's text as readlink(2) returns it (never followed).
 * Directories list their entries depth first, each directory's children in
 * bytewise (strcmp) order of their names, the directory's own line before
 * its children.  Sizes, times, xattrs and ACLs are not hashed.
 *
 * root hash = lowercase hex SHA-256 of the whole manifest.
 *
 * Refused:
 *  - a block or character device, FIFO or socket anywhere in scope:
 *    MT_ERR_IMAGE_SPECIAL_FILE;
 *  - a symlink among the parents of a scope path inside ROOT (e.g.
 *    ROOT/usr/local -> /elsewhere; it could lead outside ROOT), a name or
 *    link target with a byte <= 0x20 or 0x7f (the manifest would be
 *    ambiguous), a path longer than MT_IMAGE_MAX_PATH, more than
 *    MT_IMAGE_MAX_ENTRIES entries, directories nested deeper than
 *    MT_IMAGE_MAX_DEPTH, an unreadable entry, a file that changes type
 *    while read: MT_ERR_IMAGE_TREE.
 * Files are opened with O_NOFOLLOW and re-checked with fstat, so a symlink
 * swapped in during the walk is not followed.
 */

#define MT_IMAGE_MAX_PATH 4096u
#define MT_IMAGE_MAX_ENTRIES 200000u
#define MT_IMAGE_MAX_DEPTH 32u

/* Receives each manifest line (with its "\n"); may be NULL. */
typedef void (*mt_image_manifest_cb)(void *arg, const char *line, size_t len);

/*
 * Hash the scope under root.  hex (65 bytes, NUL-terminated) is written only
 * on success; detail (may be NULL) receives the offending path on failure.
 */
MT_WUR mt_err mt_image_root_hash(const char *root, mt_image_manifest_cb cb, void *cb_arg,
                                 char hex[65], char *detail, size_t detail_len);

#endif
