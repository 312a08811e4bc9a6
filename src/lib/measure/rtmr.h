#ifndef MT_MEASURE_RTMR_H
#define MT_MEASURE_RTMR_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

#include "util/mt_err.h"

/*
 * TDX runtime measurement registers (RTMRs) and the dstack V1 runtime-event
 * digest (dstack.md sections 3.4 and 3.5).  Pure functions: no I/O, no
 * globals; SHA-384 comes from OpenSSL EVP.
 */

#define MT_RTMR_SIZE 48
#define MT_RTMR_COUNT 4
/* event_type of every dstack runtime event (not a TCG type). */
#define MT_DSTACK_RUNTIME_EVENT_TYPE 0x08000001u

/*
 * dstack V1 runtime-event digest:
 *   SHA-384(LE32(event_type) || ':' || name || ':' || payload)
 * with no length prefixes (dstack.md 3.4).  name and payload may be NULL when
 * their length is 0.  out is written only on success.
 */
MT_WUR mt_err mt_rtmr_event_digest(uint32_t event_type, const char *name, size_t name_len,
                                   const uint8_t *payload, size_t payload_len,
                                   uint8_t out[MT_RTMR_SIZE]);

/* rtmr = SHA-384(rtmr || digest), the TDX extend operation; rtmr is unchanged on failure. */
MT_WUR mt_err mt_rtmr_extend(uint8_t rtmr[MT_RTMR_SIZE], const uint8_t digest[MT_RTMR_SIZE]);

/*
 * For loops (replay, serialising many events): one fetched SHA-384 and one
 * digest context reused by the *_with forms, which otherwise behave exactly
 * like the functions above.  A zeroed hasher is safe to finish; finishing
 * twice is a no-op.
 */
struct mt_rtmr_hasher {
    EVP_MD *md;
    EVP_MD_CTX *ctx;
};

MT_WUR mt_err mt_rtmr_hasher_init(struct mt_rtmr_hasher *h);
void mt_rtmr_hasher_fini(struct mt_rtmr_hasher *h);
MT_WUR mt_err mt_rtmr_event_digest_with(struct mt_rtmr_hasher *h, uint32_t event_type,
                                        const char *name, size_t name_len, const uint8_t *payload,
                                        size_t payload_len, uint8_t out[MT_RTMR_SIZE]);
MT_WUR mt_err mt_rtmr_extend_with(struct mt_rtmr_hasher *h, uint8_t rtmr[MT_RTMR_SIZE],
                                  const uint8_t digest[MT_RTMR_SIZE]);

#endif
