#ifndef MT_DSTACK_CLIENT_H
#define MT_DSTACK_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "util/mt_err.h"
#include "util/mt_secret.h"

/*
 * Client of the dstack guest-agent API (DstackGuest service, released 0.5.x;
 * dstack.md sections 1, 7 and 8) over its Unix socket, as merod and mero-kms
 * use it.  Every call is one HTTP/1.1 request through libcurl:
 *
 *   POST http://dstack/<Method>           (Host: dstack, like the Rust SDK)
 *   Content-Type: application/json        (otherwise the agent speaks protobuf)
 *   <compact JSON body>
 *
 * with the configured connect and total timeouts, no redirects, no proxy, and
 * responses capped at MT_MAX_DSTACK_RESPONSE.
 *
 * Hex on the wire.  Requests carry lowercase hex without "0x", exactly as the
 * SDKs send it.  Responses are read with upper- or lower-case digits and one
 * optional leading "0x" is stripped, mirroring how the agent reads its own
 * inputs; the agent itself only ever writes lowercase without a prefix.
 *
 * Errors of every call:
 *   MT_ERR_DSTACK_UNAVAILABLE  no socket, connection refused, reset, timeout
 *   MT_ERR_DSTACK_REJECTED     any status other than 200; the JSON "error"
 *                              string (or "HTTP status N" when the body has
 *                              none) is kept for mt_dstack_last_error
 *   MT_ERR_DSTACK_RESPONSE     200 with a body that is not what the method
 *                              returns: bad JSON, a missing or mistyped field,
 *                              bad hex, a wrong length
 *   MT_ERR_TOO_LARGE           response over MT_MAX_DSTACK_RESPONSE (aborted
 *                              while reading), or request over its limit
 *   MT_ERR_ARG                 bad arguments, detected before anything is sent
 *   MT_ERR_NOMEM, MT_ERR_INTERNAL (libcurl refused an option)
 * Out-parameters are written only on success.
 *
 * A client owns one libcurl easy handle (and so one kept-alive connection)
 * and is not thread-safe: use one per thread, or serialise calls, which
 * EmitEvent needs anyway (dstack.md section 4: released agents do not order
 * concurrent extensions).  Call curl_global_init (mt_pccs_global_init) once
 * before starting threads.
 *
 * Secrets: GetKey's key is decoded from the response text straight into a
 * struct mt_secret and blanked in the text before the rest of the response
 * goes to the JSON parser, so no JSON object ever holds it; the response
 * buffer is wiped whenever it grows and when it is freed.  What this code
 * cannot wipe: libcurl's internal receive buffer (overwritten by the next
 * call on the same client, freed unwiped by mt_dstack_client_free) and the
 * kernel's socket buffers.
 */

#define MT_DSTACK_DEFAULT_SOCKET "/var/run/dstack.sock"
#define MT_DSTACK_DEFAULT_CONNECT_TIMEOUT_MS 2000L
#define MT_DSTACK_DEFAULT_TIMEOUT_MS 30000L
/* GetKey path and purpose, bytes each; real ones are under 100. */
#define MT_DSTACK_MAX_KEY_FIELD 4096u
/* Bytes of the server's error message kept for mt_dstack_last_error. */
#define MT_DSTACK_MAX_ERROR 512u
/* GetQuote report data: right-padded with zeros to this by the agent. */
#define MT_DSTACK_REPORT_DATA_LEN 64u
/* Shortest acceptable quote: header + TD report body + signature length + ECDSA signature. */
#define MT_DSTACK_MIN_QUOTE 636u
/* GetKey key size. */
#define MT_DSTACK_KEY_LEN 32u

struct mt_dstack_client;

struct mt_dstack_opts {
    const char *socket_path; /* NULL = MT_DSTACK_DEFAULT_SOCKET; under 108 bytes */
    long connect_timeout_ms; /* 0 = default 2 s; negative is MT_ERR_ARG */
    long timeout_ms;         /* whole request; 0 = default 30 s; negative is MT_ERR_ARG */
};

/* Defaults: MT_DSTACK_DEFAULT_SOCKET, 2 s connect, 30 s total. */
void mt_dstack_opts_init(struct mt_dstack_opts *o);

/*
 * A client for the agent at o->socket_path (o may be NULL for all
 * defaults).  Nothing is connected until the first call, so the agent may
 * start later.  Errors: MT_ERR_ARG, MT_ERR_NOMEM, MT_ERR_INTERNAL.
 */
MT_WUR mt_err mt_dstack_client_new(const struct mt_dstack_opts *o, struct mt_dstack_client **out);
/* NULL-safe. */
void mt_dstack_client_free(struct mt_dstack_client *c);

/*
 * Detail of the last failed call: the server's "error" string (control
 * characters replaced by '?', cut at MT_DSTACK_MAX_ERROR bytes), the
 * transport's message, or what was wrong with the response; "" after a
 * successful call, and for NULL.  Valid until the next call on c.
 */
const char *mt_dstack_last_error(const struct mt_dstack_client *c);

struct mt_dstack_quote {
    uint8_t
        *quote; /* raw TDX quote, at least MT_DSTACK_MIN_QUOTE bytes, at most MT_MAX_QUOTE_SIZE */
    size_t quote_len;
    char *event_log; /* JSON text of an array, as the agent sent it (checked to parse) */
    char *vm_config; /* JSON text as the agent sent it, possibly "" (not parsed) */
    uint8_t report_data[MT_DSTACK_REPORT_DATA_LEN]; /* the padded report data the agent quoted */
};

/*
 * GetQuote with len (1..64) bytes of report data; the agent pads them with
 * zeros to 64 and quotes them verbatim.  The echoed report_data must equal
 * that padding, else MT_ERR_DSTACK_RESPONSE.  len 0 or over 64 (or NULL
 * report_data) is MT_ERR_ARG before anything is sent: the Rust SDK refuses
 * empty report data, and the agent refuses more than 64 bytes.
 * On success *out owns its buffers (mt_dstack_quote_free).
 */
MT_WUR mt_err mt_dstack_get_quote(struct mt_dstack_client *c, const uint8_t *report_data,
                                  size_t len, struct mt_dstack_quote *out);
/* Free the buffers and zero *q.  NULL-safe; safe on a zeroed struct. */
void mt_dstack_quote_free(struct mt_dstack_quote *q);

/*
 * GetKey: the 32-byte key derived from path (dstack.md section 2; purpose
 * and algorithm only affect the signature chain, which is type-checked and
 * otherwise ignored).  NULL path or purpose is sent as "", NULL algorithm as
 * "secp256k1" (what the Rust SDK sends); the algorithm is not checked here,
 * the agent answers 400 "Unsupported algorithm" for one it does not know.
 * Strings must be valid UTF-8 (MT_ERR_ARG) and path and purpose at most
 * MT_DSTACK_MAX_KEY_FIELD bytes (MT_ERR_TOO_LARGE).  A key that is not
 * exactly 32 bytes is MT_ERR_DSTACK_RESPONSE.  On success *key is a new
 * secret (mt_secret_free).
 */
MT_WUR mt_err mt_dstack_get_key(struct mt_dstack_client *c, const char *path, const char *purpose,
                                const char *algorithm, struct mt_secret *key);

/*
 * EmitEvent: extend RTMR3 with a runtime event.  event must be non-empty
 * UTF-8 of at most MT_MAX_EVENT_NAME bytes, payload at most
 * MT_MAX_EVENT_PAYLOAD bytes (NULL with payload_len 0 is an empty payload).
 * Success is status 200 with the body null.  Agents newer than 0.5.11 and
 * the 0.5.9+ simulator answer 400 (MT_ERR_DSTACK_REJECTED); mero-kms treats
 * a failed marker as non-fatal.
 */
MT_WUR mt_err mt_dstack_emit_event(struct mt_dstack_client *c, const char *event,
                                   const uint8_t *payload, size_t payload_len);

/*
 * Info: the response object as the agent sent it (free with json_decref).
 * tcb_info, vm_config and key_provider_info stay the JSON text strings they
 * are.  Checked: app_id, instance_id, compose_hash, device_id, tcb_info and
 * app_name are present strings (the four ids hex, possibly empty: a 0.5.6
 * agent whose quote failed answers with every field empty); any other known
 * member, when present, is a string.  Unknown members are kept.
 */
MT_WUR mt_err mt_dstack_info(struct mt_dstack_client *c, json_t **out);

#endif
