#ifndef MT_ITA_STUB_H
#define MT_ITA_STUB_H

#include "util/mt_err.h"

/*
 * A stand-in for Intel Trust Authority on 127.0.0.1 (ephemeral port), for
 * the verifier's `ita` check: POST /appraisal/v2/attest with x-api-key and
 * {"tdx":{"quote":b64}} answers {"token": JWT} whose TDX claims
 * (tdx_mrtd, tdx_rtmr0..3, tdx_report_data, attester_tcb_status
 * "UpToDate") are read from the quote; GET /certs serves the JWKS of the
 * generated test keys (RSA 2048 as "rsa-1" for RS256 and "rsa-ps-1" for
 * PS384, P-256 "ec256-1", P-384 "ec384-1").  A mode breaks one thing in the next tokens.  Test
 * code: libmicrohttpd, thread per connection, loopback only.
 */

enum ita_stub_alg { ITA_STUB_RS256, ITA_STUB_PS384, ITA_STUB_ES256, ITA_STUB_ES384 };

enum ita_stub_mode {
    ITA_STUB_OK,
    ITA_STUB_WRONG_ISSUER,
    ITA_STUB_EXPIRED,
    ITA_STUB_NOT_YET_VALID,
    ITA_STUB_BAD_SIGNATURE,
    ITA_STUB_UNKNOWN_KID,
    ITA_STUB_ALG_NONE,
    ITA_STUB_ALG_HS256,
    ITA_STUB_CLAIMS_MISMATCH
};

struct ita_stub;

/* Start with the API key the appraisal route requires and the iss its tokens carry. */
MT_WUR mt_err ita_stub_start(const char *api_key, const char *issuer, struct ita_stub **out);
void ita_stub_stop(struct ita_stub *s);
/* "http://127.0.0.1:PORT". */
const char *ita_stub_url(const struct ita_stub *s);
void ita_stub_set(struct ita_stub *s, enum ita_stub_alg alg, enum ita_stub_mode mode);
/* Appraisal requests answered with a token so far. */
unsigned ita_stub_tokens(struct ita_stub *s);

#endif
