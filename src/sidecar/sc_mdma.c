#include "sidecar/sidecar.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "identity/base58.h"
#include "util/mt_json.h"

/*
 * The manager's should-join answer (docs/fleet-sidecar.md "Protocol").  A
 * pure function of its input, fuzzed by fuzz/fuzz_sidecar_mdma.c.  One bad
 * element rejects the whole answer: a partly understood answer is not acted
 * on.
 */

static int
is_hex(char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

int
sc_is_group_id(const char *s)
{
    size_t i;

    for (i = 0; i < SC_GROUP_HEX; i++) {
        if (!is_hex(s[i]))
            return 0;
    }
    return s[SC_GROUP_HEX] == '\0';
}

int
sc_is_mrtd(const char *s)
{
    size_t i;

    for (i = 0; i < SC_MRTD_HEX; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    }
    return s[SC_MRTD_HEX] == '\0';
}

int
sc_is_peer_id(const char *s)
{
    size_t i;

    for (i = 0; s[i] != '\0'; i++) {
        if (i >= SC_MAX_PEER_ID || !mt_base58_is_alphabet(s[i]))
            return 0;
    }
    return i > 0;
}

__attribute__((format(printf, 3, 4))) static mt_err
reject(char *why, size_t why_len, const char *fmt, ...)
{
    va_list ap;

    if (why != NULL && why_len > 0) {
        va_start(ap, fmt);
        vsnprintf(why, why_len, fmt, ap);
        va_end(ap);
    }
    return MT_ERR_SIDECAR_MDMA_RESPONSE;
}

mt_err
sc_mdma_parse_assignments(const char *body, size_t len, char (*ids)[65], size_t max, size_t *n,
                          char *why, size_t why_len)
{
    json_t *root = NULL, *arr, *el, *gid;
    const char *s;
    size_t i, j, k = 0, count;
    mt_err e = MT_OK;

    if (mt_json_parse(body, len, SC_MAX_RESPONSE, &root) != MT_OK)
        return reject(why, why_len, "not a JSON document");
    MT_ENSURE_GOTO(json_is_object(root), reject(why, why_len, "not a JSON object"), e, out);
    arr = json_object_get(root, "assignments");
    MT_ENSURE_GOTO(json_is_array(arr),
                   reject(why, why_len, "\"assignments\" is missing or not an array"), e, out);
    count = json_array_size(arr);
    MT_ENSURE_GOTO(count <= max && count <= SC_MAX_GROUPS,
                   reject(why, why_len, "more than %zu assignments", max), e, out);
    json_array_foreach(arr, i, el)
    {
        MT_ENSURE_GOTO(json_is_object(el),
                       reject(why, why_len, "assignment %zu is not an object", i), e, out);
        gid = json_object_get(el, "group_id");
        MT_ENSURE_GOTO(json_is_string(gid),
                       reject(why, why_len, "assignment %zu: group_id missing or not a string", i),
                       e, out);
        s = json_string_value(gid);
        MT_ENSURE_GOTO(json_string_length(gid) == SC_GROUP_HEX && sc_is_group_id(s),
                       reject(why, why_len, "assignment %zu: group_id is not 64 hex digits", i), e,
                       out);
        for (j = 0; j <= SC_GROUP_HEX; j++)
            ids[k][j] = (char)((s[j] >= 'A' && s[j] <= 'F') ? s[j] + 32 : s[j]);
        for (j = 0; j < k; j++) {
            if (strcmp(ids[j], ids[k]) == 0)
                break;
        }
        if (j == k)
            k++;
    }
    *n = k;
out:
    json_decref(root);
    return e;
}
