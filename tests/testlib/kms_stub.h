#ifndef MT_KMS_STUB_H
#define MT_KMS_STUB_H

/*
 * A scripted loopback stand-in for the mero-kms HTTP API
 * (mero-tee-reference.md 1.6-1.8), for testing the node client without the
 * real KMS.  It listens on 127.0.0.1 with an ephemeral port and routes on
 * the LAST path segment, so a client with a base path ("/prefix/") reaches
 * it too; the full path of every request is recorded.
 *
 * Default behaviour, per endpoint:
 *   POST .../attest     nonceB64 (32 bytes) and optional bindingB64 (32
 *                       bytes, default SHA256("mero-kms-phala-attest-v1"));
 *                       with a dstack socket: GetQuote(nonce || binding)
 *                       and {"quoteB64","reportDataHex","eventLog","vmConfig"}
 *                       like the KMS; without one: a mock quote.
 *   POST .../challenge  the peer-ID shape check, then a fresh 32-hex id and
 *                       32-byte nonce (one pending challenge at a time).
 *   POST .../get-key    the KMS's checks in order (peer shape, challenge-id
 *                       shape, quote base64, consume, public key, peer
 *                       identity, signature over the canonical payload, the
 *                       quote's report data = nonce || SHA256(peerId)) but
 *                       no DCAP verification; then {"key":"<key text>"}.
 * Errors are the KMS's {"error","details"} bodies with its statuses.
 *
 * Knobs override parts of the answers; a scripted reply overrides all of
 * an endpoint.  Every call is thread-safe.  Test code: failures abort the
 * test (cmocka asserts).
 */
#include <stddef.h>
#include <stdint.h>

enum kms_stub_ep {
    KMS_STUB_ATTEST = 0,
    KMS_STUB_CHALLENGE,
    KMS_STUB_GET_KEY,
    KMS_STUB_OTHER,
    KMS_STUB__COUNT
};

struct kms_stub;

/* Start; dstack_socket (may be NULL) is where /attest gets its quotes. */
struct kms_stub *kms_stub_start(const char *dstack_socket);
/* Stop and free; NULL-safe. */
void kms_stub_stop(struct kms_stub *s);
/* "http://127.0.0.1:PORT" */
const char *kms_stub_url(const struct kms_stub *s);

/* Answer ep with exactly this status and body (NULL body: back to the default). */
void kms_stub_script(struct kms_stub *s, enum kms_stub_ep ep, unsigned status, const char *body);
/* Replace reportDataHex in /attest answers with this text (NULL: the real one). */
void kms_stub_set_attest_report_data(struct kms_stub *s, const char *text);
/* Replace eventLog in /attest answers with this JSON text (NULL: dstack's; "" drops it). */
void kms_stub_set_attest_event_log(struct kms_stub *s, const char *json);
/* Issue this challengeId / nonceB64 text (NULL: generated). */
void kms_stub_set_challenge(struct kms_stub *s, const char *id, const char *nonce_b64);
/* The "key" text /get-key answers with (default 64 hex digits, see kms_stub_default_key). */
void kms_stub_set_key(struct kms_stub *s, const char *key_text);
/* Whether /get-key accepts mock quotes (default 1). */
void kms_stub_accept_mock(struct kms_stub *s, int accept);

/* The default key's bytes (32). */
extern const uint8_t kms_stub_default_key[32];

/* Requests routed to ep since start. */
unsigned kms_stub_count(struct kms_stub *s, enum kms_stub_ep ep);
/* A copy of the last request body to ep (free with free), or NULL. */
char *kms_stub_last_body(struct kms_stub *s, enum kms_stub_ep ep);
/* A copy of the last request path (any endpoint), or NULL; free with free. */
char *kms_stub_last_path(struct kms_stub *s);
/* The outcome of the last default /get-key: "ok" or the error tag it answered with. */
char *kms_stub_last_get_key_verdict(struct kms_stub *s);
/* Whether the last accepted signature was over the alphabetical payload variant. */
int kms_stub_last_alphabetical(struct kms_stub *s);

#endif
