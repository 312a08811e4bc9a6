#ifndef MT_KMS_ROUTES_H
#define MT_KMS_ROUTES_H

#include <jansson.h>

#include "kms/kms_handlers.h"

/* The route handlers; the request body has been extracted and typed already. */
MT_WUR mt_err mt_kms_route_health(struct mt_kms *k, struct mt_kms_response *rs);
MT_WUR mt_err mt_kms_route_ready(struct mt_kms *k, struct mt_kms_response *rs);
MT_WUR mt_err mt_kms_route_metrics(struct mt_kms *k, struct mt_kms_response *rs);
MT_WUR mt_err mt_kms_route_challenge(struct mt_kms *k, const json_t *req,
                                     struct mt_kms_response *rs);
MT_WUR mt_err mt_kms_route_get_key(struct mt_kms *k, const json_t *req, uint64_t request_id,
                                   struct mt_kms_response *rs);
MT_WUR mt_err mt_kms_route_attest(struct mt_kms *k, const json_t *req, struct mt_kms_response *rs);

#endif
