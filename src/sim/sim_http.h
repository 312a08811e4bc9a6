#ifndef MT_SIM_HTTP_H
#define MT_SIM_HTTP_H

#include "sim/sim_agent.h"
#include "util/mt_err.h"

/*
 * The guest agent's transport: HTTP/1.1 on a Unix socket, as dstack serves
 * it (dstack.md 1.2): POST /<Method> with a JSON body (Content-Type
 * application/json, or the ?json query flag) or GET /<Method>?field=value;
 * 200 with compact JSON, 400 {"error": ...} for every failure inside the
 * RPC, 404 for paths that are not a single segment.
 */
struct mt_sim_http;

/* Bind socket_path (a stale socket there is replaced; any other file is an error) and serve. */
MT_WUR mt_err mt_sim_http_start(const char *socket_path, struct mt_sim_agent *agent,
                                struct mt_sim_http **out);
/* Stop serving, remove the socket file.  NULL-safe. */
void mt_sim_http_stop(struct mt_sim_http *h);

#endif
