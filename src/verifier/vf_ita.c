#include "verifier/verifier.h"

#include "vf_internal.h"

json_t *
mtv_ita_check(struct mtv_service *s, const uint8_t *quote, size_t quote_len,
              const json_t *measurements)
{
    json_t *tmp = json_array(), *c = NULL;

    (void)quote;
    (void)quote_len;
    (void)measurements;
    if (tmp == NULL)
        return NULL;
    if (mtv_service_config(s)->ita_api_key[0] == '\0')
        mtv_check(tmp, "ita", "skipped", NULL,
                  "ITA_API_KEY is not configured: no Intel Trust "
                  "Authority appraisal");
    else
        mtv_check(tmp, "ita", "fail", NULL, "Intel Trust Authority appraisal is not available");
    c = json_array_get(tmp, 0);
    json_incref(c);
    json_decref(tmp);
    return c;
}
