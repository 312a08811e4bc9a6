/* Target: mt_sim_machine_parse */

/*
 * Machine profiles are operator input to mero-tee-sim.  A profile that
 * parses must serialise and parse back to the same text.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim_machine.h"
#include "util/mt_alloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mt_sim_machine *m = NULL, *again = NULL;
    char why[256], *j1 = NULL, *j2 = NULL;

    if (mt_sim_machine_parse((const char *)data, size, &m, why, sizeof(why)) != MT_OK)
        return 0;
    if (mt_sim_machine_to_json(m, &j1) == MT_OK) {
        if (mt_sim_machine_parse(j1, strlen(j1), &again, why, sizeof(why)) != MT_OK ||
            mt_sim_machine_to_json(again, &j2) != MT_OK || strcmp(j1, j2) != 0) {
            fprintf(stderr, "fuzz_sim_machine: round trip broken: %s\n", why);
            abort();
        }
    }
    mt_free(j2);
    mt_free(j1);
    mt_sim_machine_free(again);
    mt_sim_machine_free(m);
    return 0;
}
