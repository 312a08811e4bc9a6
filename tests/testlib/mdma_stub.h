#ifndef MT_MDMA_STUB_H
#define MT_MDMA_STUB_H

/*
 * A stand-in for the fleet manager (MDMA) and for merod's admin API in the
 * fleet sidecar's tests, on a loopback port.  With tls set it speaks HTTPS
 * (libmicrohttpd over GnuTLS) with a server certificate for 127.0.0.1
 * issued by a test CA made at run time with OpenSSL; ca_path names the CA
 * certificate the sidecar is told to trust.
 *
 * Routes:
 *   POST /api/fleet/should-join  answers should_join_status with
 *                                should_join_body (or huge_body 'x' bytes)
 *   POST /api/fleet/confirm      fails (confirm_fail_status, or a delay of
 *                                confirm_delay_ms first) while confirm_fail
 *                                is non-zero (-1 = always), else 200
 *   GET  /admin-api/health       503 while health_fail > 0 (counting down)
 *   GET  /admin-api/peers/self   {"data":{"peerId":peer_id}}
 *   GET  /admin-api/tee/info     {"data":{"mrtd":mrtd,...}}
 * Everything is recorded under mu.  Fields may be changed under mu while
 * the stub runs.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

struct mdma_stub {
    int tls;
    unsigned short port;
    char url[96];
    char ca_path[256];
    char *cert_pem, *key_pem;
    void *daemon;
    atomic_int stopping;
    pthread_mutex_t mu;

    /* script */
    char *should_join_body; /* mt_free'd; set with mdma_stub_set_answer */
    int should_join_status;
    size_t huge_body;
    int confirm_fail;
    int confirm_fail_status;
    int confirm_delay_ms;
    int health_fail;
    char peer_id[130];
    char mrtd[100];

    /* records */
    int should_join_count;
    int confirm_count;
    int confirm_ok;
    int health_count;
    char confirmed[32][65];
    char last_token[256];
    char last_should_join[1024];
    char last_confirm[1024];
    int bad_token_count; /* requests to /api/ without the expected token */
    char expect_token[256];
};

/* Prepare (and for tls make the CA and certificate, writing the CA to dir/ca.pem). */
void mdma_stub_init(struct mdma_stub *s, int tls, const char *dir);
/* Listen on 127.0.0.1:port (0 = any free port; a restart may reuse the old one). */
void mdma_stub_start(struct mdma_stub *s, unsigned short port);
void mdma_stub_stop(struct mdma_stub *s);
void mdma_stub_free(struct mdma_stub *s);
/* Replace the should-join answer. */
void mdma_stub_set_answer(struct mdma_stub *s, int status, const char *body);
/* Read an int field under the lock. */
int mdma_stub_get(struct mdma_stub *s, const int *field);

#endif
