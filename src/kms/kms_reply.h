#ifndef MT_KMS_REPLY_H
#define MT_KMS_REPLY_H

#include <jansson.h>

#include "kms/kms_handlers.h"

/* Responses (kms_reply.c). */

/* 200 (or status) with compact JSON. */
MT_WUR mt_err mt_kms_reply_json(struct mt_kms_response *rs, unsigned status, const json_t *o);
/*
 * The reference's error body {"error":"<tag>","details":"<text>"} with the
 * status of the error table (mero-tee-reference.md 1.8).  Errors without a
 * reference tag use their stable code as the tag.
 */
MT_WUR mt_err mt_kms_reply_error(struct mt_kms_response *rs, mt_err e, const char *details);
/* A plain-text answer (axum's extractor rejections) or an empty one (404/405). */
MT_WUR mt_err mt_kms_reply_text(struct mt_kms_response *rs, unsigned status, const char *text);

/* Typed request fields: 422 material when missing or mistyped. */
const char *mt_kms_field_str(const json_t *o, const char *key);

#endif
