/*
 * Target: mtv_jwt_verify (the ITA token check of mero-verifier).  The input
 * is the token; after a first '\n' the rest replaces the built-in JWKS (an
 * RSA-2048 and a P-256 key), so both the token and the JWKS parsers are
 * explored.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "verifier/verifier.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char jwks[] =
    "{\"keys\":[{\"kty\":\"EC\",\"kid\":\"ec\",\"crv\":\"P-256\",\"alg\":\"ES256\","
    "\"x\":\"Ii7VxPq8fB7O0D-pasJQCtcHrmu7NFHbrx97pqAhHvM\","
    "\"y\":\"tt5NN18zI5c9X6j2TKAtevEhkIBd6l9JWlE5eWeer30\"},"
    "{\"kty\":\"RSA\",\"kid\":\"rsa\",\"use\":\"sig\",\"e\":\"AQAB\",\"n\":"
    "\"twR0rjXxDhXWhaz9GHfd3ZnYwI0P_KPKVK59HCmqhqMlDa5ps0__T5r5AAUDmioblH6jPAt5clHLvJTXPouC0N7"
    "dfphLyLvave55V3leN7ozmCvurzNssPcfP5Jx8JWrDmjFeRRp-5dqLsxWsYcpgmSmKObKiG1do5KyzyPKQW0epbgn"
    "OyQdtNtD6lQfmpIWmbFFoq0IO5Zi9FXhS3sgg74lBXH3olBAEpKqh_4Ez6k0OC6EHUYq-3Fdgtc9no65Vrl64gdOM"
    "J97DxEV3AWa-j80hGJewo1qQGgRIwRjrVHd-e_uOVKNLOZfZB-KZAAe3NBHtxnOeEKfwA0BovRn5Q\"}]}";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data, *nl = memchr(data, '\n', size);
    const char *set = jwks;
    size_t jwt_len = size, set_len = sizeof(jwks) - 1;
    char reason[32], why[512];
    json_t *claims = NULL;

    if (nl != NULL) {
        jwt_len = (size_t)(nl - text);
        set = nl + 1;
        set_len = size - jwt_len - 1;
    }
    if (mtv_jwt_verify(text, jwt_len, set, set_len, "https://ita.test", 1700000000, &claims, reason,
                       sizeof(reason), why, sizeof(why)) == MT_OK)
        json_decref(claims);
    return 0;
}
