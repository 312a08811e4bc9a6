/* Target: mt_collateral_parse, mt_collateral_prepare */

/*
 * Any byte string through the collateral JSON parser (dcap-qvl's
 * QuoteCollateralV3 shape).  A parse that succeeds must survive
 * mt_collateral_dup and mt_collateral_to_json, and serialising must be
 * stable: to_json(parse(to_json(c))) == to_json(c).  mt_collateral_prepare
 * then runs every decoder behind it (CRL DER, PEM chains, TCB Info and QE
 * Identity JSON) on the fuzzed contents.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "dcap/collateral.h"
#include "dcap/dcap.h"
#include "util/mt_alloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
require(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_collateral: contract broken: %s\n", what);
        abort();
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mt_collateral *c = NULL, *copy = NULL, *again = NULL;
    struct mt_prepared_collateral *pc = NULL;
    char *j1 = NULL, *j2 = NULL;

    if (mt_collateral_parse((const char *)data, size, &c) != MT_OK) {
        require(c == NULL, "*out set on failure");
        goto out;
    }
    require(c != NULL, "parse returned MT_OK and NULL");

    if (mt_collateral_dup(c, &copy) == MT_OK)
        require(copy != NULL && copy != c, "dup");

    require(mt_collateral_to_json(c, &j1) == MT_OK && j1 != NULL, "to_json of a parsed collateral");
    require(mt_collateral_parse(j1, strlen(j1), &again) == MT_OK, "parse(to_json(c))");
    require(mt_collateral_to_json(again, &j2) == MT_OK && j2 != NULL, "to_json(parse(to_json(c)))");
    require(strcmp(j1, j2) == 0, "to_json is stable across a parse");
    /* Decoding failures are recorded, not raised: only NOMEM may fail it. */
    require(mt_collateral_prepare(c, &pc) == MT_OK, "prepare of a parsed collateral");
out:
    mt_prepared_collateral_free(pc);
    mt_free(j2);
    mt_free(j1);
    mt_collateral_free(again);
    mt_collateral_free(copy);
    mt_collateral_free(c);
    ERR_clear_error();
    return 0;
}
