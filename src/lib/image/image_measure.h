#ifndef MT_IMAGE_MEASURE_H
#define MT_IMAGE_MEASURE_H

#include <stddef.h>
#include <stdint.h>

#include "image/image_cmdline.h"
#include "measure/rtmr.h"
#include "util/mt_err.h"

/*
 * Boot-time RTMR3 extend of the node image (docs/image.md, "mero-tee
 * measure boot").  Unlike the reference (4.4, defect 36) this is not best
 * effort: every failure is an error, and RTMR3 is extended at most once per
 * boot.
 *
 * Steps:
 *  1. read cmdline_path (at most MT_IMAGE_MAX_CMDLINE bytes) and parse it
 *     (image_cmdline.h);
 *  2. digest = mt_image_rtmr3_digest(profile, root_hash);
 *  3. find the kernel interface: the first of these that exists under
 *     tdx_root (normally "/"):
 *       sys/class/misc/tdx_guest/measurements/rtmr3:sha384   (Linux >= 6.16)
 *       sys/class/misc/tdx_guest/mr/rtmr3:sha384             (reference's alternative)
 *       sys/kernel/config/tsm/rtmrs/rtmr3/digest              (configfs-tsm RTMR proposal)
 *     none: MT_ERR_IMAGE_NO_TDX_INTERFACE;
 *  4. claim the boot: create marker_path with O_CREAT|O_EXCL (its parent
 *     directory is created, mode 0755, when missing); it exists already:
 *     MT_ERR_IMAGE_ALREADY_MEASURED.  The marker lives on /run (tmpfs), so
 *     it disappears with the boot;
 *  5. open the interface write-only (no create, no truncate) and write the 48
 *     digest bytes in one write(2).  Failing to open removes the marker
 *     again (nothing was extended; a later run may retry); a failed or
 *     short write keeps it (the register state is unknown) and returns
 *     MT_ERR_IMAGE_MEASURE_WRITE.  On success the marker holds
 *     "<digest hex> <interface path>\n".
 * Errors from reading the command line: MT_ERR_IO (unreadable),
 * MT_ERR_TOO_LARGE, and the parse errors of image_cmdline.h.
 */
struct mt_image_measure_cfg {
    const char *cmdline_path; /* "/proc/cmdline" */
    const char *tdx_root;     /* "/" */
    const char *marker_path;  /* MT_IMAGE_DEFAULT_MARKER */
};

#define MT_IMAGE_DEFAULT_MARKER "/run/calimero/rtmr3-measured"

struct mt_image_measure_result {
    struct mt_image_cmdline cmdline;
    uint8_t digest[MT_RTMR_SIZE];
    char interface[4096]; /* the file written */
};

/*
 * Run the steps above.  detail (may be NULL) receives a one-line reason on
 * failure (path and strerror).  res is written only on success.
 */
MT_WUR mt_err mt_image_measure_boot(const struct mt_image_measure_cfg *cfg,
                                    struct mt_image_measure_result *res, char *detail,
                                    size_t detail_len);

#endif
