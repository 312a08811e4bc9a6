/* Target: mt_rel_checksums_parse, mt_rel_checksums_format */

/*
 * Any byte string as a checksums file (sha256sum output).  Contracts: on
 * MT_OK there is at least one entry, every name is a non-empty base name
 * without '/' or control characters and appears once, and formatting the
 * entries and parsing the result gives the same entries.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "release/release.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
require(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_release_checksums: contract broken: %s\n", what);
        abort();
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mt_rel_sums s = {NULL, 0}, again = {NULL, 0};
    struct mt_buf b;
    char why[128];
    size_t i, j;

    if (mt_rel_checksums_parse((const char *)data, size, &s, why, sizeof(why)) != MT_OK)
        return 0;
    require(s.n > 0, "an accepted file has entries");
    for (i = 0; i < s.n; i++) {
        require(s.v[i].name[0] != '\0' && strchr(s.v[i].name, '/') == NULL, "base names");
        for (j = 0; j < i; j++)
            require(strcmp(s.v[i].name, s.v[j].name) != 0, "names are unique");
    }
    mt_buf_init(&b, MT_REL_MAX_CHECKSUMS * 2);
    if (mt_rel_checksums_format(&s, &b) == MT_OK && b.len <= MT_REL_MAX_CHECKSUMS) {
        require(mt_rel_checksums_parse((const char *)b.p, b.len, &again, why, sizeof(why)) == MT_OK,
                "formatted entries parse");
        require(again.n == s.n, "same number of entries");
        for (i = 0; i < s.n; i++)
            require(strcmp(again.v[i].name, s.v[i].name) == 0 &&
                        memcmp(again.v[i].sha256, s.v[i].sha256, 32) == 0,
                    "same entries");
        mt_rel_checksums_free(&again);
    }
    mt_buf_free(&b);
    mt_rel_checksums_free(&s);
    return 0;
}
