/* Target: mt_image_cmdline_parse */

/*
 * Any byte string as /proc/cmdline (image/image_cmdline.h).  Contracts: no
 * crash, only the documented errors, and on success a valid profile and a
 * 64-lowercase-hex root hash that the RTMR3 digest accepts.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "image/image_cmdline.h"
#include "image/image_rtmr3.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mt_image_cmdline c;
    uint8_t d[MT_RTMR_SIZE];
    mt_err e;

    e = mt_image_cmdline_parse((const char *)data, size, &c);
    if (e == MT_OK) {
        if (!mt_image_profile_valid(c.profile, strlen(c.profile)) ||
            mt_image_root_hash_check(c.root_hash, strlen(c.root_hash), 0) != MT_OK ||
            mt_image_rtmr3_digest(c.profile, c.root_hash, d) != MT_OK)
            abort();
    } else if (e != MT_ERR_IMAGE_CMDLINE && e != MT_ERR_IMAGE_PROFILE &&
               e != MT_ERR_IMAGE_ROOT_HASH && e != MT_ERR_TOO_LARGE) {
        abort();
    }
    return 0;
}
