#ifndef MT_PCCS_H
#define MT_PCCS_H

#include <stddef.h>
#include <stdint.h>

#include "dcap/collateral.h"
#include "quote/quote.h"
#include "util/mt_err.h"

/*
 * Collateral fetching from an Intel PCS or a PCCS, API v4
 * (dcap-verify.md section 3.3), producing dcap-qvl's QuoteCollateralV3
 * (section 3.1).  This is the only network client of the library; it uses
 * the libcurl easy interface, one transfer at a time.
 *
 * For each base URL in order, four requests are made (PCK CRL, TCB Info,
 * QE Identity, root CA CRL), in dcap-qvl's order.  A base URL may be given
 * with or without dcap-qvl's old "/sgx/certification/v4" suffix.  The first URL that answers all
 * four wins; any failure (network error, non-200 status, oversized or malformed response) moves on
 * to the next URL, so collateral is never mixed across servers. When every URL fails, the error of
 * the last one is returned.
 */

#define MT_PCCS_DEFAULT_CONNECT_TIMEOUT_MS 5000L
#define MT_PCCS_DEFAULT_TIMEOUT_MS 20000L
/* Longest base URL accepted; full request URLs add under 100 bytes. */
#define MT_PCCS_MAX_URL 2048u
/* Base URLs tried per fetch. */
#define MT_PCCS_MAX_URLS 16u

struct mt_pccs_opts {
    const char *const *urls; /* base URLs ("https://pccs.example"), tried in order */
    size_t num_urls;
    long connect_timeout_ms; /* per request; > 0 */
    long timeout_ms;         /* whole transfer, per request; > 0 */
    const char *ca_file;     /* PEM CA bundle for https; NULL = libcurl's default store */
    const char *proxy;       /* NULL = libcurl's environment rules; "" = no proxy */
    /*
     * Intel PCS has no rootcacrl endpoint: on a 404 there, the root CA CRL is
     * fetched from the CRL distribution point of the root certificate that
     * ends the QE Identity issuer chain (dcap-verify.md 3.3).  Set to 1 to
     * treat that 404 as an error instead.
     */
    int no_cdp_fallback;
};

/* Defaults: no URLs, 5 s connect, 20 s total, system CAs, environment proxy. */
void mt_pccs_opts_init(struct mt_pccs_opts *o);

/*
 * libcurl's global state.  Call once before starting threads (libcurl
 * initialises lazily otherwise, which is not thread-safe everywhere).
 */
MT_WUR mt_err mt_pccs_global_init(void);
void mt_pccs_global_cleanup(void);

/*
 * Fetch the collateral for a parsed DCAP quote.  The PCK chain comes from
 * the quote's type-5 certification data; FMSPC and CA type from its leaf.
 * On success *out is a new collateral (free with mt_collateral_free) whose
 * pck_certificate_chain is the quote's PEM chain.  On failure *out is
 * untouched and reason (if not NULL) holds one line naming the URL and the
 * cause; reason is always NUL-terminated when reason_len > 0.
 *
 * Errors: MT_ERR_ARG (bad options, mock quote), MT_ERR_QUOTE_CERT_TYPE (not a
 * type-5 chain), MT_ERR_PEM / MT_ERR_PCK_EXTENSION (unusable PCK chain),
 * MT_ERR_NETWORK (connect/TLS/timeout), MT_ERR_HTTP_STATUS (not 200),
 * MT_ERR_TOO_LARGE (body or header over MT_MAX_PCCS_BODY /
 * MT_MAX_PCCS_HEADER), MT_ERR_COLLATERAL_FORMAT (missing or malformed header,
 * body or document), MT_ERR_NOMEM.
 */
MT_WUR mt_err mt_pccs_fetch(const struct mt_pccs_opts *opts, const struct mt_quote *q,
                            struct mt_collateral **out, char *reason, size_t reason_len);

/*
 * Text helpers, public for tests and for servers that produce the same wire
 * format (the PCS stand-in, the TEE simulator).
 */

/*
 * Strict percent-decoding of an issuer-chain header value: every '%' must
 * be followed by two hex digits, '+' is kept literally (PEM base64 uses it),
 * the result must not contain NUL, and input must be visible ASCII.
 * *out is NUL-terminated, freed with mt_free.  MT_ERR_COLLATERAL_FORMAT on
 * any violation.
 */
MT_WUR mt_err mt_pccs_percent_decode(const char *s, size_t len, char **out, size_t *out_len);

/*
 * Percent-encode everything except RFC 3986 unreserved characters, as
 * JavaScript's encodeURIComponent does for PEM text (the PCCS wire form).
 */
MT_WUR mt_err mt_pccs_percent_encode(const char *s, size_t len, char **out, size_t *out_len);

/*
 * Find the raw text of member `key` of the top-level JSON object in
 * text[0..len): the value from its first to its last byte, exactly as
 * transmitted.  Scanning skips string literals (with backslash escapes), so
 * braces inside strings do not count.  The key must appear unescaped and
 * exactly once.  MT_ERR_JSON_FIELD when absent, MT_ERR_JSON when the text is
 * not an object.
 */
MT_WUR mt_err mt_pccs_json_member(const char *text, size_t len, const char *key, const char **val,
                                  size_t *val_len);

/*
 * Parse a signed PCS document body {"<member>":{...},"signature":"<hex>"}:
 * *doc becomes a NUL-terminated copy of the raw member text (checked to
 * parse as a JSON object equal to what the full parse found) and sig the 64
 * signature bytes (exactly 128 hex digits).  MT_ERR_COLLATERAL_FORMAT on any
 * mismatch, MT_ERR_TOO_LARGE past MT_MAX_SIGNED_JSON.
 */
MT_WUR mt_err mt_pccs_signed_doc(const char *body, size_t len, const char *member, char **doc,
                                 size_t *doc_len, uint8_t sig[64]);

#endif
