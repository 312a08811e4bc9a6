#ifndef MT_IMAGE_COMPOSE_H
#define MT_IMAGE_COMPOSE_H

#include <stddef.h>
#include <stdint.h>

#include "util/mt_err.h"

/*
 * The compose hash dstack measures for a Phala app (dstack.md 5.1):
 * SHA-256 of the exact bytes of app-compose.json.  The guest does not
 * re-serialise, so neither do we.  The bytes must be one JSON object (at
 * most MT_IMAGE_MAX_COMPOSE bytes, no duplicate keys) holding a string
 * "docker_compose_file" or "runner": a YAML compose template or any other
 * file is refused with MT_ERR_JSON / MT_ERR_JSON_FIELD rather than hashed
 * into a value dstack would never report.  *canonical is set to 1 when the
 * bytes are already the deployers' canonical form as far as this can tell
 * (re-serialised with sorted keys and compact separators they are
 * identical), 0 otherwise (a warning for the CLI, not an error).
 */

#define MT_IMAGE_MAX_COMPOSE (1024u * 1024u)

MT_WUR mt_err mt_image_compose_hash(const uint8_t *data, size_t len, uint8_t out[32],
                                    int *canonical);

#endif
