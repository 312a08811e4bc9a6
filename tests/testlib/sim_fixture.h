#ifndef MT_SIM_FIXTURE_H
#define MT_SIM_FIXTURE_H

/*
 * A simulated TD for tests: a temporary state directory with a fresh test
 * PKI, a machine (a default image profile, adjustable before start), the
 * guest agent on a real Unix socket in that directory, and optionally the
 * PCCS on an ephemeral loopback port.  Raw HTTP over the socket is sent
 * with libcurl so that tests see exactly what a client sees.
 */
#include <stddef.h>
#include <stdint.h>

#include "sim/sim_agent.h"
#include "sim/sim_http.h"
#include "sim/sim_pcs.h"
#include "testpki/testpki.h"

struct sim_fixture {
    char dir[128];    /* state directory */
    char socket[192]; /* the agent's socket */
    struct mt_testpki *pki;
    struct mt_sim_agent *agent;
    struct mt_sim_http *http;
    struct mt_pcs_server *pccs; /* NULL unless started */
    int64_t now;
};

/* A default machine of `profile`, to adjust before sim_fixture_start. */
struct mt_sim_machine *sim_fixture_machine(const char *profile);
/* Create the state dir and PKI, boot `m` (taken over), serve it; with_pccs starts the PCCS. */
void sim_fixture_start(struct sim_fixture *f, struct mt_sim_machine *m, int with_pccs);
void sim_fixture_stop(struct sim_fixture *f);

/*
 * Verify a quote of the fixture's machine with collateral from its PCCS (the
 * test fails without it) at f->now, trusting the test root when test_root,
 * else the verifier's default root.
 */
struct mt_verdict;
mt_err sim_fixture_verify(const struct sim_fixture *f, const uint8_t *quote, size_t len,
                          int test_root, struct mt_verdict *v);

/*
 * One HTTP request over the fixture's socket.  method "GET" or "POST";
 * content_type NULL sends none; body NULL sends none.  Returns the status;
 * *resp (mt_free) and *resp_type (static buffer) receive the answer.
 */
long sim_http(const char *socket, const char *method, const char *path, const char *content_type,
              const char *body, size_t body_len, char **resp, char *resp_type, size_t type_len);

#endif
