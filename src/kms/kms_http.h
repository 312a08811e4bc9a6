#ifndef MT_KMS_HTTP_H
#define MT_KMS_HTTP_H

#include "kms/kms.h"

/*
 * The KMS's HTTP server (libmicrohttpd) on cfg->listen_host:port: one single-threaded daemon per
 * worker, each on its own SO_REUSEPORT socket, or one daemon with a pool of that many threads where
 * SO_REUSEPORT is missing.  A /get-key answer is held, with its connection suspended, until its
 * audit line is durable (kms_http.c).
 */
struct mt_kms_http;

MT_WUR mt_err mt_kms_http_start(struct mt_kms *k, unsigned threads, struct mt_kms_http **out,
                                char *why, size_t why_len);
/* The port actually bound (when listen_port was 0). */
uint16_t mt_kms_http_port(const struct mt_kms_http *h);
/*
 * Stop: answers waiting for their audit line are settled and in-flight
 * requests finish first.  The audit log then takes no more callbacks
 * (mt_audit_quiesce): a later server on the same KMS would make its
 * workers wait for each fsync themselves.  NULL-safe.
 */
void mt_kms_http_stop(struct mt_kms_http *h);

#endif
