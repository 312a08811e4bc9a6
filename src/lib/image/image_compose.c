#include "image/image_compose.h"

#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "util/mt_alloc.h"
#include "util/mt_json.h"

mt_err
mt_image_compose_hash(const uint8_t *data, size_t len, uint8_t out[32], int *canonical)
{
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    json_t *root = NULL;
    char *dumped = NULL;
    int canon;
    mt_err rv = MT_OK;

    MT_ENSURE(data != NULL && out != NULL && canonical != NULL, MT_ERR_ARG);
    MT_ENSURE(len <= MT_IMAGE_MAX_COMPOSE, MT_ERR_TOO_LARGE);
    MT_GUARD(mt_json_parse((const char *)data, len, MT_IMAGE_MAX_COMPOSE, &root));
    MT_ENSURE_GOTO(json_is_object(root), MT_ERR_JSON, rv, out);
    MT_ENSURE_GOTO(json_is_string(json_object_get(root, "docker_compose_file")) ||
                       json_is_string(json_object_get(root, "runner")),
                   MT_ERR_JSON_FIELD, rv, out);
    MT_ENSURE_GOTO(EVP_Digest(data, len, md, &md_len, EVP_sha256(), NULL) == 1 && md_len == 32,
                   MT_ERR_CRYPTO, rv, out);
    dumped = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
    canon = dumped != NULL && strlen(dumped) == len && memcmp(dumped, data, len) == 0;
    memcpy(out, md, 32);
    *canonical = canon;
out:
    mt_free_libc(dumped);
    json_decref(root);
    return rv;
}
