#ifndef MT_DSTACK_STUB_H
#define MT_DSTACK_STUB_H

#include <stddef.h>

#include "util/mt_err.h"

/*
 * A stand-in dstack guest agent for client tests: HTTP on a real Unix
 * socket (a fresh temporary directory holds "dstack.sock"), built on
 * libmicrohttpd with a listening socket created here and handed over with
 * MHD_OPTION_LISTEN_SOCKET.  It knows nothing of dstack: each method
 * (the path segment, "GetQuote") answers with the status and body a test
 * scripted for it; an unscripted method answers 400
 * {"error": "Service not found: <path>"} as the agent's RPC layer does.
 * Every request is counted and the latest one captured (method, HTTP method,
 * Content-Type, body), so tests can assert what a client sent, or that it
 * sent nothing.
 *
 * One thread per connection, so a delayed answer holds up nothing else;
 * delays end early when the stub stops.  All calls are thread-safe.  Test
 * code: it trusts its inputs.  The real simulator is mero-tee-sim.
 */

struct mt_dstack_stub;

struct mt_dstack_stub_request {
    char method[64];        /* the path without its leading '/', cut to fit */
    char http_method[16];   /* "POST", "GET", ... */
    char content_type[128]; /* the Content-Type header, "" when absent */
    char *body;             /* NUL-terminated, owned (mt_dstack_stub_request_free) */
    size_t body_len;
};

/* Bytes of request body kept per request; more is refused with 413. */
#define MT_DSTACK_STUB_MAX_REQUEST (1024u * 1024u)

/* Listen on <new temp dir>/dstack.sock. */
MT_WUR mt_err mt_dstack_stub_start(struct mt_dstack_stub **out);
/* Stop, wait for in-flight requests, remove the socket and its directory, free.  NULL-safe. */
void mt_dstack_stub_stop(struct mt_dstack_stub *s);
/* The socket's path, valid until stop. */
const char *mt_dstack_stub_socket(const struct mt_dstack_stub *s);

/* Answer /<method> with status and (a copy of) body, Content-Type application/json. */
MT_WUR mt_err mt_dstack_stub_set_reply(struct mt_dstack_stub *s, const char *method,
                                       unsigned status, const char *body, size_t body_len);
/* Answer /<method> with 200 and n bytes of 'x', with Content-Length or chunked. */
MT_WUR mt_err mt_dstack_stub_set_oversize(struct mt_dstack_stub *s, const char *method, size_t n,
                                          int chunked);
/* Wait this long before every answer (0: none). */
void mt_dstack_stub_set_delay(struct mt_dstack_stub *s, unsigned long ms);

/* Requests received since start or the last reset. */
unsigned long mt_dstack_stub_count(struct mt_dstack_stub *s);
void mt_dstack_stub_reset_count(struct mt_dstack_stub *s);
/* A copy of the latest request; MT_ERR_ARG when there was none. */
MT_WUR mt_err mt_dstack_stub_last_request(struct mt_dstack_stub *s,
                                          struct mt_dstack_stub_request *out);
/* NULL-safe; resets *r. */
void mt_dstack_stub_request_free(struct mt_dstack_stub_request *r);

#endif
