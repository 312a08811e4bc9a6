/* Target: sc_mdma_parse_assignments and sc_state_parse (src/sidecar) */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "sidecar/sidecar.h"
#include "util/mt_alloc.h"

/*
 * The first byte picks the parser: even = the fleet manager's should-join
 * answer, odd = the state file.  A state that parses must serialise and
 * parse back to the same groups.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char ids[SC_MAX_GROUPS][65];
    struct sc_state st, again;
    char why[256], *text = NULL;
    size_t n = 0, i;

    if (size < 1)
        return 0;
    if ((data[0] & 1) == 0) {
        if (sc_mdma_parse_assignments((const char *)data + 1, size - 1, ids, SC_MAX_GROUPS, &n, why,
                                      sizeof(why)) == MT_OK) {
            for (i = 0; i < n; i++) {
                if (!sc_is_group_id(ids[i]))
                    __builtin_trap();
            }
        }
        return 0;
    }
    if (sc_state_parse((const char *)data + 1, size - 1, &st) != MT_OK)
        return 0;
    if (sc_state_serialize(&st, "12D3KooW", NULL, &text) != MT_OK) {
        sc_state_free(&st);
        return 0;
    }
    if (sc_state_parse(text, strlen(text), &again) != MT_OK || again.n != st.n)
        __builtin_trap();
    for (i = 0; i < st.n; i++) {
        if (strcmp(st.g[i].id, again.g[i].id) != 0 || st.g[i].status != again.g[i].status)
            __builtin_trap();
    }
    sc_state_free(&again);
    sc_state_free(&st);
    mt_free(text);
    return 0;
}
