#ifndef MT_VF_INTERNAL_H
#define MT_VF_INTERNAL_H

#include <stdarg.h>

#include <jansson.h>

#include "quote/quote.h"
#include "verifier/verifier.h"

/* Append {"id","status","detail","evidence"} to checks (evidence taken; NULL: {}). */
__attribute__((format(printf, 5, 6))) json_t *mtv_check(json_t *checks, const char *id,
                                                        const char *status, json_t *evidence,
                                                        const char *fmt, ...);

/*
 * The release, measurements and profile checks (vf_release.c); *release
 * gets the response's "release" member (NULL when no releaseTag).
 */
MT_WUR mt_err mtv_release_checks(struct mtv_service *s, const struct mtv_request *rq,
                                 const struct mt_quote *q, const char *compose_hash, json_t *checks,
                                 json_t **release);

#endif
