#include <string.h>

#include "release/release.h"
#include "util/mt_alloc.h"
#include "util/mt_file.h"
#include "util/mt_json.h"

/*
 * JSON documents as the reference's jq writes them (3: "pretty-printed,
 * 2-space indent"): jansson with JSON_INDENT(2) prints the same layout as
 * jq for the values releases hold (strings, integers, arrays, objects), keys
 * in insertion order, UTF-8 unescaped, "/" not escaped, and jq's final
 * newline.
 */

mt_err
mt_rel_json_dump(const json_t *j, struct mt_buf *out)
{
    char *text;
    mt_err e;

    text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    MT_ENSURE(text != NULL, MT_ERR_NOMEM);
    e = mt_buf_append_str(out, text);
    if (e == MT_OK)
        e = mt_buf_append(out, "\n", 1);
    mt_free_libc(text);
    return e;
}

mt_err
mt_rel_json_load(const char *path, json_t **out, uint8_t **raw, size_t *raw_len)
{
    uint8_t *data = NULL;
    size_t len = 0;
    json_t *j = NULL;
    mt_err e;

    MT_GUARD(mt_file_read(path, MT_REL_MAX_DOC, &data, &len));
    e = mt_json_parse((const char *)data, len, MT_REL_MAX_DOC, &j);
    if (e != MT_OK) {
        mt_free(data);
        return e;
    }
    *out = j;
    if (raw != NULL) {
        *raw = data;
        *raw_len = len;
    } else {
        mt_free(data);
    }
    return MT_OK;
}
