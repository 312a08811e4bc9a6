/* Target: mt_quote_parse */

/*
 * Any byte string through the DCAP / mock quote parser.  Beyond "no crash,
 * no leak", it checks the parser's contracts: *q is left untouched on
 * failure, and every pointer of a parsed quote borrows a span that lies
 * inside the input.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quote/quote.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
require(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_quote: contract broken: %s\n", what);
        abort();
    }
}

/* A borrowed span is either absent or entirely within data[0..size). */
static void
require_span(const uint8_t *data, size_t size, const uint8_t *p, size_t n, const char *what)
{
    uintptr_t lo = (uintptr_t)data, hi = lo + size, at = (uintptr_t)p;

    if (p == NULL)
        return;
    require(at >= lo && at <= hi && n <= hi - at, what);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mt_quote q, before;
    const uint8_t *rd;
    volatile uint8_t sink = 0;
    size_t i;

    memset(&q, 0xa5, sizeof(q));
    memcpy(&before, &q, sizeof(q));
    (void)mt_quote_is_mock(data, size);
    if (mt_quote_parse(data, size, &q) != MT_OK) {
        require(memcmp(&q, &before, sizeof(q)) == 0, "*q changed on failure");
        return 0;
    }

    require(q.kind == MT_QUOTE_DCAP || q.kind == MT_QUOTE_MOCK, "kind");
    require(mt_body_kind_name(q.body_kind) != NULL, "body kind name");
    rd = mt_quote_report_data(&q);
    require(rd != NULL, "report data");
    for (i = 0; i < MT_REPORT_DATA_SIZE; i++)
        sink ^= rd[i];
    if (q.kind == MT_QUOTE_MOCK) {
        require(size >= MT_MOCK_QUOTE_MAGIC_LEN + MT_REPORT_DATA_SIZE, "mock length");
        require(memcmp(rd, data + MT_MOCK_QUOTE_MAGIC_LEN, MT_REPORT_DATA_SIZE) == 0,
                "mock report data");
        return 0;
    }

    require_span(data, size, q.body, q.body_size, "body");
    require_span(data, size, q.signed_region, q.signed_len, "signed region");
    require(q.signed_region == data, "signed region starts the quote");
    require_span(data, size, q.quote_sig, MT_ECDSA_SIG_SIZE, "quote signature");
    require_span(data, size, q.att_key, MT_ECDSA_KEY_SIZE, "attestation key");
    require_span(data, size, q.qe_report_raw, MT_SGX_REPORT_SIZE, "QE report");
    require_span(data, size, q.qe_report_sig, MT_ECDSA_SIG_SIZE, "QE report signature");
    require_span(data, size, q.qe_auth_data, q.qe_auth_data_len, "QE auth data");
    require_span(data, size, q.cert_data, q.cert_data_len, "cert data");
    require(q.trailing_len <= size, "trailing length");
    (void)sink;
    return 0;
}
