#ifndef MT_KMS_FIXTURE_H
#define MT_KMS_FIXTURE_H

/*
 * The KMS end to end, in process: a simulated locked-read-only node with
 * the PCCS (sim_fixture), a debug-profile node and the KMS's own TD on the
 * same test PKI, and mero-kms on a loopback port configured through an
 * environment map, with a clock the test moves.  Requests go over real HTTP.
 */
#include <sys/types.h>

#include <openssl/evp.h>

#include "kms/kms.h"
#include "kms/kms_http.h"
#include "sim_fixture.h"

#define KMS_FIXTURE_MAX_ENV 48

struct kms_fixture {
    struct sim_fixture node; /* locked-read-only node + PCCS; owns the PKI and the state dir */
    struct mt_sim_agent *debug_agent;
    struct mt_sim_http *debug_http;
    char debug_socket[192];
    struct mt_sim_agent *kms_agent;
    struct mt_sim_http *kms_sim_http;
    char kms_socket[192];
    struct mt_kms *kms;
    struct mt_kms_http *http;
    char url[64];
    int64_t now; /* the KMS's clock */
    size_t num_env;
    char env_name[KMS_FIXTURE_MAX_ENV][64];
    char env_value[KMS_FIXTURE_MAX_ENV][1024];
};

/* Override (or add, or with NULL remove) one KMS environment variable before start. */
void kms_fixture_env(struct kms_fixture *f, const char *name, const char *value);
/* Boot the simulators only (so overrides can use their paths); then kms_fixture_start_kms. */
void kms_fixture_boot(struct kms_fixture *f);
/* Start the KMS; expects success (kms_fixture_try_kms returns the error instead). */
void kms_fixture_start_kms(struct kms_fixture *f);
mt_err kms_fixture_try_kms(struct kms_fixture *f, char *why, size_t why_len);
void kms_fixture_stop_kms(struct kms_fixture *f);
void kms_fixture_stop(struct kms_fixture *f);

/* HTTP to the KMS: returns the status; *resp (mt_free) gets the body. */
long kms_request(const struct kms_fixture *f, const char *method, const char *path,
                 const char *content_type, const char *body, size_t body_len, char **resp);
/*
 * The same /get-key body from n threads at once (n <= 128): *ok counts the
 * 200s, *refused the 401s.  For the replay races: one challenge, one key.
 */
void kms_race_get_key(const struct kms_fixture *f, const char *body, int n, int *ok, int *refused);
long kms_post_json(const struct kms_fixture *f, const char *path, const char *body, json_t **out);
/* POST body (serialised compactly) as JSON; like kms_post_json. */
long kms_post_body(const struct kms_fixture *f, const char *path, const json_t *body, json_t **out);
/* The "error" tag / "details" string of a reply, or NULL. */
const char *kms_tag_of(const json_t *r);
const char *kms_details_of(const json_t *r);
/*
 * Expect status + error tag, and details containing `details` (NULL: not
 * checked); _exact wants details equal to it.  Consumes *rp: the call that
 * fills it is usually an argument of the same call.
 */
void kms_expect_error(long status, json_t **rp, long want_status, const char *tag,
                      const char *details);
void kms_expect_error_exact(long status, json_t **rp, long want_status, const char *tag,
                            const char *details);

/* A node's libp2p identity. */
struct node_identity {
    EVP_PKEY *key;
    char peer[64];
    char pubkey_b64[80];
};
void node_identity_new(struct node_identity *id);
void node_identity_free(struct node_identity *id);

/*
 * One /get-key request body for `id`, after a /challenge: the quote comes
 * from the dstack socket (report data nonce || SHA-256(peer)), or is a mock
 * quote when socket is NULL.  challenge_id (33 bytes) receives the id.
 */
json_t *kms_get_key_body(const struct kms_fixture *f, const struct node_identity *id,
                         const char *socket, char *challenge_id);
/* The same with the pieces given (for tests that break one of them). */
json_t *kms_sign_body(const struct node_identity *signer, const char *peer,
                      const char *challenge_id, const uint8_t nonce[32], const uint8_t *quote,
                      size_t quote_len);

#endif

/*
 * Run the mero-kms program with the fixture's environment (plus whatever
 * kms_fixture_env set); waits until /health answers at url (filled in).
 * Returns the pid; kms_fixture_kill_process stops it and checks it exited 0.
 */
pid_t kms_fixture_spawn(const struct kms_fixture *f, char *url, size_t url_len);
void kms_fixture_kill_process(pid_t pid);
