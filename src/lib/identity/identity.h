#ifndef MT_IDENTITY_IDENTITY_H
#define MT_IDENTITY_IDENTITY_H

/*
 * The whole identity layer in one include: base58btc, libp2p public keys
 * and peer IDs, Ed25519 signatures and node key files, and the canonical
 * KMS signature payload.
 */
#include <stddef.h>
#include <stdint.h>

#include "identity/base58.h"
#include "identity/libp2p.h"
#include "identity/nodekey.h"
#include "identity/payload.h"
#include "util/mt_err.h"

/* The reference's peer-ID length limit; a buffer of MT_PEER_ID_MAX + 1 holds any peer ID. */
#define MT_PEER_ID_MAX MT_PEER_ID_MAX_LEN

/*
 * mt_peer_id_from_protobuf with an explicit buffer size: MT_ERR_TOO_LARGE
 * when out_size cannot hold the peer ID and its NUL.
 */
MT_WUR mt_err mt_peer_id_from_pubkey_proto(const uint8_t *pb, size_t len, char *out,
                                           size_t out_size);

#endif
