#ifndef MT_KMS_HTTP_H
#define MT_KMS_HTTP_H

#include "kms/kms.h"

/* The KMS's HTTP server (libmicrohttpd, a pool of threads) on cfg->listen_host:port. */
struct mt_kms_http;

MT_WUR mt_err mt_kms_http_start(struct mt_kms *k, unsigned threads, struct mt_kms_http **out,
                                char *why, size_t why_len);
/* The port actually bound (when listen_port was 0). */
uint16_t mt_kms_http_port(const struct mt_kms_http *h);
/* Stop: in-flight requests finish first.  NULL-safe. */
void mt_kms_http_stop(struct mt_kms_http *h);

#endif
