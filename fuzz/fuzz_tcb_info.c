/* Target: mt_tcb_info_parse */

/*
 * Any byte string through the TCB Info parser (dcap-verify.md 2.4, 3.2).
 * Beyond "no crash, no leak", a document it accepts keeps the parser's
 * promises: *out is set only on success, every count is within its limit
 * (util/mt_limits.h), statuses are known values, advisory IDs are non-empty
 * and de-duplicated, levels are sorted highest first (2.4 step 6), and a
 * second parse of the same bytes gives the same levels.  Freed with
 * mt_tcb_info_free.
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
        fprintf(stderr, "fuzz_tcb_info: contract broken: %s\n", what);
        abort();
    }
}

static void
check_result(const struct mt_tcb_result *r)
{
    size_t i, k, len;

    require(r->status <= MT_TCB_REVOKED, "known status");
    require(r->num_advisories <= MT_MAX_ADVISORIES, "advisory count");
    for (i = 0; i < r->num_advisories; i++) {
        len = strnlen(r->advisories[i], MT_MAX_ADVISORY_LEN + 1);
        require(len > 0 && len <= MT_MAX_ADVISORY_LEN, "advisory length");
        for (k = 0; k < i; k++)
            require(strcmp(r->advisories[i], r->advisories[k]) != 0, "advisories de-duplicated");
    }
}

/* Descending order of 2.4 step 6: a must not sort after b. */
static int
in_order(const struct mt_tcb_level *a, const struct mt_tcb_level *b)
{
    int c = memcmp(a->sgx, b->sgx, MT_TCB_COMPONENTS);

    if (c != 0)
        return c > 0;
    if (a->pcesvn != b->pcesvn)
        return a->pcesvn > b->pcesvn;
    return memcmp(a->tdx, b->tdx, MT_TCB_COMPONENTS) >= 0;
}

static void
check(const struct mt_tcb_info *t)
{
    size_t i, k, id_len = strnlen(t->id, sizeof(t->id));

    require(id_len > 0 && id_len < sizeof(t->id), "id");
    require(t->num_levels > 0 && t->num_levels <= MT_MAX_TCB_LEVELS, "level count");
    require(t->levels != NULL, "levels");
    require(t->num_modules <= MT_MAX_MODULE_IDENTITIES, "module count");
    require(t->num_modules == 0 || strcmp(t->id, "TDX") == 0, "modules only for TDX");
    require(!t->has_module || strcmp(t->id, "TDX") == 0, "tdxModule only for TDX");
    for (i = 0; i < t->num_levels; i++) {
        require(t->levels[i].num_sgx <= 64, "SGX component count");
        require(t->levels[i].num_tdx <= 64, "TDX component count");
        check_result(&t->levels[i].result);
        if (i > 0)
            require(in_order(&t->levels[i - 1], &t->levels[i]), "levels sorted descending");
    }
    for (i = 0; i < t->num_modules; i++) {
        const struct mt_module_identity *m = &t->modules[i];

        id_len = strnlen(m->id, sizeof(m->id));
        require(id_len > 0 && id_len < sizeof(m->id), "module id");
        require(m->num_levels > 0 && m->num_levels <= MT_MAX_TCB_LEVELS, "module level count");
        for (k = 0; k < m->num_levels; k++)
            check_result(&m->levels[k].result);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mt_tcb_info *t = NULL, *again = NULL;
    size_t i;

    if (mt_tcb_info_parse((const char *)data, size, &t) != MT_OK) {
        require(t == NULL, "*out set on failure");
        return 0;
    }
    require(t != NULL, "parse returned MT_OK and NULL");
    check(t);

    /* deterministic: the same bytes give the same levels */
    require(mt_tcb_info_parse((const char *)data, size, &again) == MT_OK, "second parse");
    require(again->num_levels == t->num_levels && again->num_modules == t->num_modules,
            "same counts");
    for (i = 0; i < t->num_levels; i++) {
        require(memcmp(again->levels[i].sgx, t->levels[i].sgx, MT_TCB_COMPONENTS) == 0 &&
                    memcmp(again->levels[i].tdx, t->levels[i].tdx, MT_TCB_COMPONENTS) == 0 &&
                    again->levels[i].pcesvn == t->levels[i].pcesvn &&
                    again->levels[i].tcb_date == t->levels[i].tcb_date &&
                    again->levels[i].result.status == t->levels[i].result.status,
                "same levels in the same order");
    }
    mt_tcb_info_free(again);
    mt_tcb_info_free(t);
    return 0;
}
