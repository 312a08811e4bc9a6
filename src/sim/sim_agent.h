#ifndef MT_SIM_AGENT_H
#define MT_SIM_AGENT_H

#include <jansson.h>

#include "sim/sim_machine.h"
#include "testpki/testpki.h"
#include "util/mt_err.h"

/*
 * The dstack guest-agent API of one simulated TD (dstack.md 1-5), without
 * the transport: sim_http.c feeds it requests from the Unix socket.  Thread-
 * safe: the event log and RTMRs are guarded by a lock; quotes are signed
 * outside it.
 */
struct mt_sim_agent;

/*
 * Boot the TD: replay the machine's boot events, append dstack's runtime
 * boot events (dstack.md 3.6), and issue the PCK certificate the quotes
 * carry (the PKI's keys, the machine's FMSPC and SVNs, valid around now).
 * Takes ownership of m; pki is borrowed and must outlive the agent.
 */
MT_WUR mt_err mt_sim_agent_new(struct mt_sim_machine *m, struct mt_testpki *pki, int64_t now,
                               struct mt_sim_agent **out);
void mt_sim_agent_free(struct mt_sim_agent *a);

/*
 * One RPC: `method` as in the URL path ("GetQuote"), args the request object
 * (NULL = every field default).  On return *status is 200 or 400 and *body
 * the exact response text (mt_free): dstack's compact JSON on success, the
 * pretty-printed {"error": ...} on failure.  A failed call changes no state.
 * The return value is MT_OK unless the response itself could not be built.
 */
MT_WUR mt_err mt_sim_agent_call(struct mt_sim_agent *a, const char *method, const json_t *args,
                                int *status, char **body);

/* The registers a machine boots with (before any EmitEvent), without a PKI. */
MT_WUR mt_err mt_sim_boot_registers(const struct mt_sim_machine *m, uint8_t rtmr[4][48]);

/* The current RTMRs (for tests and logs). */
void mt_sim_agent_rtmrs(struct mt_sim_agent *a, uint8_t rtmr[4][48]);

/* The machine the agent runs (borrowed; read-only after boot). */
const struct mt_sim_machine *mt_sim_agent_machine(const struct mt_sim_agent *a);

/* The params quotes are signed with (the PKI's view of this machine), for collateral. */
const struct mt_testpki_params *mt_sim_agent_params(const struct mt_sim_agent *a);

#endif
