/* Target: mtv_request_parse (the body of mero-verifier's POST /api/verify) */
#include <stddef.h>
#include <stdint.h>

#include "verifier/verifier.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mtv_request r;
    char why[256];

    if (mtv_request_parse((const char *)data, size, &r, why, sizeof(why)) == MT_OK)
        mtv_request_free(&r);
    return 0;
}
