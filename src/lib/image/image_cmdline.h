#ifndef MT_IMAGE_CMDLINE_H
#define MT_IMAGE_CMDLINE_H

#include <stddef.h>

#include "image/image_rtmr3.h"
#include "util/mt_err.h"

/*
 * The calimero.* parameters of the kernel command line (/proc/cmdline),
 * written at image build time (docs/image.md).  Parsing is strict, because
 * the values end up in RTMR3:
 *  - the text is at most MT_IMAGE_MAX_CMDLINE bytes; one trailing newline is
 *    allowed, any other control byte or a NUL is MT_ERR_IMAGE_CMDLINE;
 *  - parameters are separated by spaces or tabs; parsing stops at a "--"
 *    parameter (what follows belongs to init, not to the kernel);
 *  - a parameter starting with "calimero." must be one of calimero.role,
 *    calimero.profile, calimero.root_hash, each followed by '=' and a value
 *    without quotes; each appears exactly once; any other calimero.* key, a
 *    missing or repeated one, or a quote inside one is MT_ERR_IMAGE_CMDLINE;
 *  - role must be "node" (MT_ERR_IMAGE_CMDLINE), profile one of the three
 *    profiles (MT_ERR_IMAGE_PROFILE), root_hash 64 lowercase hex digits
 *    (MT_ERR_IMAGE_ROOT_HASH; the reference's "none" is refused here);
 *  - every other parameter is ignored (quoted values of other parameters
 *    are skipped as the kernel does: a space inside double quotes does not
 *    end the parameter).
 * out is written only on success.
 */

/* /proc/cmdline is at most 4096 bytes on every architecture (COMMAND_LINE_SIZE). */
#define MT_IMAGE_MAX_CMDLINE 4096u

struct mt_image_cmdline {
    char profile[MT_IMAGE_MAX_PROFILE + 1];
    char root_hash[MT_IMAGE_ROOT_HASH_HEX + 1];
};

MT_WUR mt_err mt_image_cmdline_parse(const char *text, size_t len, struct mt_image_cmdline *out);

#endif
