/* Target: mt_rel_probe_parse (node, KMS, metadata), mt_rel_schema_* */

/*
 * Any byte string as a release-assemble input of each kind, and as each
 * release document (JSON) against its schema.  Contracts: *out is set
 * exactly when MT_OK is returned; an accepted probe's measurements are 96
 * lowercase hex digits and its profile a known one; schema checks never
 * fail with anything but release_schema (or out of memory).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "release/assemble.h"
#include "release/schema.h"
#include "util/mt_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
require(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_release_probe: contract broken: %s\n", what);
        abort();
    }
}

static void
schema_ok(mt_err e)
{
    require(e == MT_OK || e == MT_ERR_RELEASE_SCHEMA || e == MT_ERR_NOMEM,
            "schema errors are release_schema");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const meas[5] = {"mrtd", "rtmr0", "rtmr1", "rtmr2", "rtmr3"};
    static const char *const profiles[4] = {"debug", "debug-read-only", "locked-read-only", NULL};
    const char *text = (const char *)data;
    json_t *out, *doc = NULL;
    char why[256];
    size_t k, i;

    for (k = 0; k < 3; k++) {
        out = NULL;
        if (mt_rel_probe_parse(text, size, (enum mt_rel_probe_kind)k, &out, why, sizeof(why)) !=
            MT_OK) {
            require(out == NULL, "no output on failure");
            continue;
        }
        require(out != NULL, "output on success");
        if (k != MT_REL_PROBE_META) {
            require(mt_rel_profile_index(json_string_value(json_object_get(out, "profile"))) >= 0,
                    "a known profile");
            for (i = 0; i < 5; i++) {
                const char *m = json_string_value(json_object_get(out, meas[i]));

                require(m != NULL && mt_rel_is_lower_hex(m, strlen(m), 96),
                        "lowercase 96-hex measurements");
            }
        }
        json_decref(out);
    }
    if (mt_json_parse(text, size, MT_REL_MAX_DOC, &doc) != MT_OK)
        return 0;
    schema_ok(mt_rel_schema_mrtds(doc, "2.3.40", why, sizeof(why)));
    schema_ok(mt_rel_schema_provenance(doc, "2.3.40", why, sizeof(why)));
    schema_ok(mt_rel_schema_sbom(doc, why, sizeof(why)));
    schema_ok(mt_rel_schema_compat(doc, "2.3.40", why, sizeof(why)));
    schema_ok(mt_rel_schema_metadata(doc, "2.3.40", why, sizeof(why)));
    schema_ok(mt_rel_schema_manifest(doc, "2.3.40", why, sizeof(why)));
    for (i = 0; i < 4; i++)
        schema_ok(mt_rel_schema_policy(text, size, doc, "2.3.40", profiles[i], why, sizeof(why)));
    json_decref(doc);
    return 0;
}
