/*
 * The signed entry timestamp (inclusion promise, sigstore.md 4.4 d): an
 * ECDSA signature by the log key over the RFC 8785 canonical JSON
 * {"body","integratedTime","logID","logIndex"}.  Every value is ASCII, so
 * the canonical form is a fixed template with sorted keys.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "sigstore/sig_internal.h"
#include "util/mt_alloc.h"
#include "util/mt_hex.h"

mt_err
sig_set_payload(const struct sig_tlog_entry *e, char **out, size_t *out_len)
{
    char logid[65];
    size_t cap;
    char *p;
    int n;

    MT_ENSURE(e->body_b64 != NULL, MT_ERR_ARG);
    mt_hex_encode(e->log_id, 32, logid);
    cap = strlen(e->body_b64) + 160;
    p = mt_malloc(cap);
    MT_ENSURE(p != NULL, MT_ERR_NOMEM);
    n = snprintf(p, cap,
                 "{\"body\":\"%s\",\"integratedTime\":%" PRId64
                 ",\"logID\":\"%s\",\"logIndex\":%" PRId64 "}",
                 e->body_b64, e->integrated_time, logid, e->log_index);
    if (n < 0 || (size_t)n >= cap) {
        mt_free(p);
        return MT_ERR_INTERNAL;
    }
    *out = p;
    *out_len = (size_t)n;
    return MT_OK;
}

mt_err
sig_set_verify(const struct sig_tlog_entry *e, const struct sig_log *log,
               struct mt_sigstore_result *res)
{
    char *payload = NULL;
    size_t len = 0;
    mt_err rv;

    MT_ENSURE(e->set != NULL, sig_fail(res, MT_ERR_SIGSTORE_SET, "no signed entry timestamp"));
    MT_GUARD(sig_set_payload(e, &payload, &len));
    rv = sig_verify_message(log->key, (const uint8_t *)payload, len, e->set, e->set_len);
    mt_free(payload);
    if (rv == MT_ERR_SIGSTORE_SIGNATURE)
        return sig_fail(res, MT_ERR_SIGSTORE_SET,
                        "signed entry timestamp of entry %lld does not verify with %s",
                        (long long)e->log_index, log->base_url);
    MT_GUARD(rv);
    /* The time is only trusted inside the log key's window (closed interval, 3.2). */
    MT_ENSURE(e->integrated_time <= INT64_MAX / 1000 &&
                  sig_window_contains(&log->valid, e->integrated_time * 1000),
              sig_fail(res, MT_ERR_SIGSTORE_SET_TIME,
                       "integratedTime %lld outside the validity of %s",
                       (long long)e->integrated_time, log->base_url));
    return MT_OK;
}
