#include "kms/kms_reply.h"

#include <string.h>

#include <openssl/crypto.h>

#include "util/mt_alloc.h"
#include "util/mt_json_dump.h"

mt_err
mt_kms_reply_json(struct mt_kms_response *rs, unsigned status, const json_t *o)
{
    /*
     * One exact-size allocation (mt_json_dumps): a body holding a key has
     * no other copy to wipe, and mt_kms_response_free wipes this one.
     */
    MT_GUARD(mt_json_dumps(o, 0, &rs->body, &rs->body_len));
    rs->status = status;
    rs->content_type = "application/json";
    return MT_OK;
}

mt_err
mt_kms_reply_error(struct mt_kms_response *rs, mt_err e, const char *details)
{
    const char *tag = mt_err_tag(e)[0] != '\0' ? mt_err_tag(e) : mt_err_code(e);
    json_t *o;
    mt_err r;

    o = json_pack("{s:s,s:s}", "error", tag, "details",
                  details != NULL && details[0] != '\0' ? details : mt_err_message(e));
    MT_ENSURE(o != NULL, MT_ERR_NOMEM);
    r = mt_kms_reply_json(rs, (unsigned)mt_err_http_status(e), o);
    json_decref(o);
    return r;
}

mt_err
mt_kms_reply_text(struct mt_kms_response *rs, unsigned status, const char *text)
{
    size_t n = strlen(text);

    rs->status = status;
    rs->content_type = n > 0 ? "text/plain; charset=utf-8" : NULL;
    rs->body = mt_strndup(text, n);
    MT_ENSURE(rs->body != NULL, MT_ERR_NOMEM);
    rs->body_len = n;
    return MT_OK;
}

const char *
mt_kms_field_str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

void
mt_kms_response_free(struct mt_kms_response *rs)
{
    if (rs == NULL || rs->body == NULL)
        return;
    if (rs->secret)
        OPENSSL_cleanse(rs->body, rs->body_len);
    mt_free(rs->body);
    rs->body = NULL;
}
