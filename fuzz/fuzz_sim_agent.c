/* Target: mt_sim_agent_call */

/*
 * The guest agent's request handling: the first input byte picks the
 * method, the rest is the request body.  Every call must answer 200 or 400
 * with a body, and a 400 must be dstack's {"error": ...}.  EmitEvent is a
 * no-op here so runs do not depend on each other.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sim/sim_agent.h"
#include "util/mt_alloc.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct mt_testpki *pki;
static struct mt_sim_agent *agent;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct mt_testpki_params p;
    struct mt_sim_machine *m = NULL;

    (void)argc;
    (void)argv;
    mt_testpki_params_default(&p, MT_TESTPKI_TDX_V4, 1800000000);
    if (mt_testpki_new(&p, &pki) != MT_OK || mt_sim_machine_default("debug", &m) != MT_OK)
        abort();
    m->emit_mode = MT_SIM_EMIT_NOOP;
    if (mt_sim_agent_new(m, pki, 1800000000, &agent) != MT_OK)
        abort();
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const methods[] = {"GetQuote", "GetKey",  "EmitEvent",
                                          "Info",     "Version", "Nope"};
    json_t *args = NULL, *reply;
    char *body = NULL;
    int status = 0;

    if (size == 0)
        return 0;
    if (size > 1) {
        args = json_loadb((const char *)data + 1, size - 1, JSON_REJECT_DUPLICATES, NULL);
        if (args != NULL && !json_is_object(args)) {
            json_decref(args);
            return 0;
        }
    }
    if (mt_sim_agent_call(agent, methods[data[0] % 6], args, &status, &body) == MT_OK) {
        reply = json_loads(body, JSON_DECODE_ANY, NULL);
        if ((status != 200 && status != 400) || reply == NULL ||
            (status == 400 && !json_is_string(json_object_get(reply, "error")))) {
            fprintf(stderr, "fuzz_sim_agent: bad reply %d %s\n", status, body);
            abort();
        }
        json_decref(reply);
    }
    mt_free(body);
    json_decref(args);
    return 0;
}
