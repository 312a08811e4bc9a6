#ifndef MT_SIM_NODE_H
#define MT_SIM_NODE_H

#include <stddef.h>
#include <stdint.h>

#include "sim/sim_agent.h"
#include "util/mt_err.h"

/*
 * A stand-in for merod's node admin API (mero-tee-reference.md 2.9, 1.10),
 * answered from a simulated TD's own guest agent, on 127.0.0.1 (HTTP,
 * libmicrohttpd):
 *
 *   POST /admin-api/tee/attest  {"nonce":"<64 hex>","applicationId"?:"<64 hex>"}
 *       200 {"data":{"quoteB64":"...","quote":{"header":{...},"body":{...},
 *       "signature":"<hex>","attestationKey":"<hex>","certificationData":
 *       {"type":6,"data":"<hex>"}}}}; report data = nonce || (application
 *       id bytes, or 32 zero bytes), as merod builds it.
 *   GET  /admin-api/tee/info    200 {"data":{"cloudProvider":"unknown",
 *       "osImage":"mero-tee-sim <profile>","mrtd":"<hex>"}}
 *
 * Failures are {"error":"<message>"}: 400 bad JSON, bad or missing nonce,
 * bad applicationId; 405 another method on a known path; 404 other paths;
 * 413 a body over MT_SIM_NODE_MAX_BODY; 415 a POST that is not
 * application/json.  docs/simulator.md documents it.
 */
#define MT_SIM_NODE_MAX_BODY 4096

struct mt_sim_node;

/*
 * Listen on 127.0.0.1:port (0 = ephemeral) and answer from agent (borrowed;
 * it must outlive the server).  MT_ERR_IO with *why when it cannot bind.
 */
MT_WUR mt_err mt_sim_node_start(struct mt_sim_agent *agent, uint16_t port, struct mt_sim_node **out,
                                char *why, size_t why_len);
/* Stop, wait for in-flight requests, free.  NULL-safe. */
void mt_sim_node_stop(struct mt_sim_node *n);
uint16_t mt_sim_node_port(const struct mt_sim_node *n);

/*
 * The attest call without the transport: body[0..len) is the request JSON.
 * *status is 200 or 400 and *resp (mt_free) the response text.  Returns
 * MT_OK unless the response could not be built.
 */
MT_WUR mt_err mt_sim_node_attest(struct mt_sim_agent *agent, const char *body, size_t len,
                                 int *status, char **resp);

#endif
