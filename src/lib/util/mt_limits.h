#ifndef MT_LIMITS_H
#define MT_LIMITS_H

/*
 * Every variable size the project accepts, in one reviewable list
 * (STYLE.md section 4 item 4).  A limit here is a promise to operators: input
 * larger than this is refused with MT_ERR_TOO_LARGE before it is used.
 */

/* A real quote is about 5 KB; dcap-qvl caps any variable field at 1 MiB. */
#define MT_MAX_QUOTE_SIZE (64u * 1024u)
/* QE authentication data: 32 bytes in every real quote; Intel allows any u16. */
#define MT_MAX_QE_AUTH_DATA 65535u
/* Certification data (the PEM PCK chain, about 3.7 KB in real quotes). */
#define MT_MAX_CERT_DATA (32u * 1024u)
/* Certificates in one PEM chain (PCK: 3, TCB signing: 2). */
#define MT_MAX_CHAIN_CERTS 4u
/* One collateral JSON document (real ones are 14-19 KB). */
#define MT_MAX_COLLATERAL_JSON (1024u * 1024u)
/* A signed TCB Info or QE Identity document. */
#define MT_MAX_SIGNED_JSON (256u * 1024u)
/* TCB levels in a TCB Info or QE Identity (real: under 30). */
#define MT_MAX_TCB_LEVELS 256u
/* Advisory IDs attached to one TCB level, and in a merged verdict. */
#define MT_MAX_ADVISORIES 64u
/* Length of one advisory ID ("INTEL-SA-00615"). */
#define MT_MAX_ADVISORY_LEN 32u
/* TDX module identities in one TCB Info. */
#define MT_MAX_MODULE_IDENTITIES 16u
/* Any file the CLI reads (quotes, collateral, roots). */
#define MT_MAX_FILE_SIZE (4u * 1024u * 1024u)
/* One HTTP response body from a PCCS / PCS. */
#define MT_MAX_PCCS_BODY (1024u * 1024u)
/* One HTTP header value from a PCCS / PCS (URL-encoded PEM chains). */
#define MT_MAX_PCCS_HEADER (16u * 1024u)
/* HTTP request body accepted by the services (mero-tee-reference.md 1.6). */
#define MT_MAX_HTTP_BODY 65536u
/* Events in one event log (the dstack fixture has 33). */
#define MT_MAX_EVENTS 4096u
/* Name and payload of one event. */
#define MT_MAX_EVENT_NAME 256u
#define MT_MAX_EVENT_PAYLOAD (64u * 1024u)
/* An event log as JSON text. */
#define MT_MAX_EVENTLOG_JSON (4u * 1024u * 1024u)
/* One response from the dstack guest agent (a quote plus its event log). */
#define MT_MAX_DSTACK_RESPONSE (4u * 1024u * 1024u)
/* Entries kept in a verifier context cache before the oldest are dropped. */
#define MT_MAX_CACHE_ENTRIES 1024u

#endif
