#ifndef MT_KMS_KEYS_H
#define MT_KMS_KEYS_H

#include "kms/kms.h"
#include "util/mt_secret.h"

/*
 * Key providers (DESIGN.md "Keys"):
 *   dstack  GetKey over the guest agent's socket: deterministic across KMS
 *           replicas of one dstack app (dstack.md 2.2);
 *   local   HKDF-SHA256 over a 32-byte root key file, for development and
 *           deployments outside Phala.  The file is created (mode 0600) when
 *           absent; one readable by group or others is refused.
 */

/* The key for a path ("<prefix>/<profile>/<peerId>"); detail says why it failed. */
MT_WUR mt_err mt_kms_derive_key(struct mt_kms *k, const char *path, struct mt_secret *out,
                                char *detail, size_t detail_len);
/* Load or create the local root key file. */
MT_WUR mt_err mt_kms_local_root_key(const char *path, uint8_t out[32], char *why, size_t why_len);

#endif
