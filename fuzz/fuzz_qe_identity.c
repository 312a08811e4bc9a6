/* Target: mt_qe_identity_parse */

/*
 * Any byte string through the QE Identity parser (dcap-verify.md 2.5, 2.9).
 * A document it accepts has a non-empty id, between 1 and
 * MT_MAX_TCB_LEVELS levels kept in published order, known statuses and
 * de-duplicated advisory IDs; *out is set only on success, and a second
 * parse of the same bytes gives the same identity.  Freed with
 * mt_qe_identity_free.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dcap/tcb_docs.h"
#include "util/mt_limits.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
require(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_qe_identity: contract broken: %s\n", what);
        abort();
    }
}

static void
check(const struct mt_qe_identity *q)
{
    size_t i, k, len, id_len = strnlen(q->id, sizeof(q->id));

    require(id_len > 0 && id_len < sizeof(q->id), "id");
    require(q->num_levels > 0 && q->num_levels <= MT_MAX_TCB_LEVELS, "level count");
    require(q->levels != NULL, "levels");
    for (i = 0; i < q->num_levels; i++) {
        const struct mt_tcb_result *r = &q->levels[i].result;

        require(r->status <= MT_TCB_REVOKED, "known status");
        require(r->num_advisories <= MT_MAX_ADVISORIES, "advisory count");
        for (k = 0; k < r->num_advisories; k++) {
            len = strnlen(r->advisories[k], MT_MAX_ADVISORY_LEN + 1);
            require(len > 0 && len <= MT_MAX_ADVISORY_LEN, "advisory length");
        }
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mt_qe_identity *q = NULL, *again = NULL;
    size_t i;

    if (mt_qe_identity_parse((const char *)data, size, &q) != MT_OK) {
        require(q == NULL, "*out set on failure");
        return 0;
    }
    require(q != NULL, "parse returned MT_OK and NULL");
    check(q);

    require(mt_qe_identity_parse((const char *)data, size, &again) == MT_OK, "second parse");
    require(strcmp(again->id, q->id) == 0 && again->version == q->version &&
                again->miscselect == q->miscselect && again->isvprodid == q->isvprodid &&
                memcmp(again->mrsigner, q->mrsigner, sizeof(q->mrsigner)) == 0 &&
                again->num_levels == q->num_levels,
            "same identity");
    for (i = 0; i < q->num_levels; i++)
        require(again->levels[i].isvsvn == q->levels[i].isvsvn &&
                    again->levels[i].result.status == q->levels[i].result.status,
                "same levels in published order");
    mt_qe_identity_free(again);
    mt_qe_identity_free(q);
    return 0;
}
