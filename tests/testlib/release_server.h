#ifndef MT_RELEASE_SERVER_H
#define MT_RELEASE_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "util/mt_err.h"

/*
 * A stand-in for GitHub release downloads on 127.0.0.1 with an ephemeral
 * port, for policy-fetch tests and KMS end-to-end tests.  Each path (exact
 * match on the request path, query ignored) is scripted to one answer:
 *   put        200 with a body
 *   status     that status with a short text body
 *   redirect   302 with a Location header
 *   hangup     the connection is closed without an answer (a transport
 *              error for the client)
 *   oversize   200 with n bytes of 'x', with Content-Length or chunked
 * Unscripted paths answer 404 "Not Found".  Only GET is served (405
 * otherwise).  Every request is counted per path, and the User-Agent of
 * the latest one is kept.
 *
 * Built on libmicrohttpd, one thread per connection; all calls are
 * thread-safe.  Test code: it trusts its inputs and only ever listens on
 * loopback.
 */

struct mt_release_server;

/* Scripted paths one server holds. */
#define MT_RELEASE_SERVER_MAX_PATHS 32

MT_WUR mt_err mt_release_server_start(struct mt_release_server **out);
/* Stop, wait for in-flight requests, free.  NULL-safe. */
void mt_release_server_stop(struct mt_release_server *s);
/* "http://127.0.0.1:PORT" (no trailing '/'), valid until stop. */
const char *mt_release_server_url(const struct mt_release_server *s);
uint16_t mt_release_server_port(const struct mt_release_server *s);

/* Answer path (e.g. "/mero-kms-v2.3.40/kms-phala-attestation-policy.json") with 200 and body. */
MT_WUR mt_err mt_release_server_put(struct mt_release_server *s, const char *path, const void *body,
                                    size_t len);
/* The same for a release asset: path = "/mero-kms-v<version>/<asset>". */
MT_WUR mt_err mt_release_server_put_asset(struct mt_release_server *s, const char *version,
                                          const char *asset, const void *body, size_t len);
MT_WUR mt_err mt_release_server_set_status(struct mt_release_server *s, const char *path,
                                           unsigned status);
MT_WUR mt_err mt_release_server_set_redirect(struct mt_release_server *s, const char *path,
                                             const char *location);
MT_WUR mt_err mt_release_server_set_hangup(struct mt_release_server *s, const char *path);
MT_WUR mt_err mt_release_server_set_oversize(struct mt_release_server *s, const char *path,
                                             size_t n, int chunked);
/*
 * Serve the regular files of a local directory under a path prefix: a
 * request for "<prefix>/<name>" (name one path component, not "." or "..")
 * that no scripted path matches answers 200 with the file's current bytes,
 * or 404 when there is no such regular file (symlinks are not followed).
 * prefix starts with '/' and has no trailing '/'.  At most
 * MT_RELEASE_SERVER_MAX_DIRS directories; serving a prefix again replaces
 * its directory.  Files over MT_RELEASE_SERVER_MAX_FILE bytes answer 500.
 * mt_release_server_clear keeps the directories.
 */
#define MT_RELEASE_SERVER_MAX_DIRS 4
#define MT_RELEASE_SERVER_MAX_FILE (64u * 1024u * 1024u)
MT_WUR mt_err mt_release_server_serve_dir(struct mt_release_server *s, const char *prefix,
                                          const char *dir);

/* Forget every scripted path and reset the counters. */
void mt_release_server_clear(struct mt_release_server *s);
/* Wait this long before every answer (0: none); ends early when the server stops. */
void mt_release_server_set_delay(struct mt_release_server *s, unsigned long ms);

/* Requests for path (NULL: all paths) since start or the last clear. */
unsigned long mt_release_server_count(struct mt_release_server *s, const char *path);
/* The User-Agent of the latest request ("" when none), cut to fit. */
void mt_release_server_last_user_agent(struct mt_release_server *s, char *out, size_t out_len);

#endif
