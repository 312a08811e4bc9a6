#ifndef MT_IMAGE_RTMR3_H
#define MT_IMAGE_RTMR3_H

#include <stddef.h>
#include <stdint.h>

#include "measure/rtmr.h"
#include "util/mt_err.h"

/*
 * The node image's RTMR3 profile measurement (mero-tee-reference.md 4.4,
 * docs/image.md).  Pure functions: no I/O.
 *
 *   digest = SHA-384("calimero-rtmr3-v2:node:" || profile || ":" || root_hash)
 *   RTMR3  = SHA-384(0^48 || digest)      (one extend from the reset value)
 *
 * ASCII, no newline, no length prefixes.  Not a dstack runtime event.
 */

/* Length of a root hash: 64 lowercase hex digits (SHA-256, image_roothash.h). */
#define MT_IMAGE_ROOT_HASH_HEX 64u
/* Longest profile name ("locked-read-only"). */
#define MT_IMAGE_MAX_PROFILE 16u

/* 1 when s[0..n) is one of debug, debug-read-only, locked-read-only. */
int mt_image_profile_valid(const char *s, size_t n);

/*
 * MT_OK when s[0..n) is 64 lowercase hex digits, or, only when allow_none,
 * the reference's placeholder "none" (4.4: root hash absent from the
 * command line).  MT_ERR_IMAGE_ROOT_HASH otherwise.
 */
MT_WUR mt_err mt_image_root_hash_check(const char *s, size_t n, int allow_none);

/*
 * The 48-byte digest above.  MT_ERR_IMAGE_PROFILE, MT_ERR_IMAGE_ROOT_HASH
 * (root_hash "none" is accepted here: the reference vector uses it),
 * MT_ERR_CRYPTO.  out is written only on success.
 */
MT_WUR mt_err mt_image_rtmr3_digest(const char *profile, const char *root_hash,
                                    uint8_t out[MT_RTMR_SIZE]);

/* The RTMR3 value after exactly one extend with that digest from zero. */
MT_WUR mt_err mt_image_rtmr3_expected(const char *profile, const char *root_hash,
                                      uint8_t digest[MT_RTMR_SIZE], uint8_t rtmr3[MT_RTMR_SIZE]);

#endif
