#ifndef MT_KMSCLIENT_QUOTE_SOURCE_H
#define MT_KMSCLIENT_QUOTE_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "util/mt_err.h"

/*
 * Where a node gets the TDX quote over its 64 bytes of report data
 * (mero-tee-reference.md 2.6 step 2):
 *
 *   dstack[:SOCKET]  the dstack guest agent's GetQuote (default socket
 *                    /var/run/dstack.sock);
 *   tsm[:BASE]       Linux configfs-TSM: mkdir BASE/<unique entry>, write
 *                    the 64 bytes to inblob, read outblob, rmdir (BASE
 *                    default /sys/kernel/config/tsm/report).  When the
 *                    entry has a "generation" attribute it is read before
 *                    and after outblob, and a change (another writer) is
 *                    an error;
 *   mock             MOCK_TDX_QUOTE_V1 || report data || zeros to 256
 *                    bytes (reference 1.11), accepted only by a KMS in
 *                    mock mode.
 *
 * Every quote obtained is parsed and its report data must be the 64 bytes
 * asked for, so a source that returns a stale or foreign quote fails here
 * rather than at the KMS.
 */

#define MT_TSM_DEFAULT_BASE "/sys/kernel/config/tsm/report"
/* Longest path accepted for a socket or a TSM base directory. */
#define MT_QSRC_MAX_PATH 1024u

enum mt_qsrc_kind {
    MT_QSRC_DSTACK = 1,
    MT_QSRC_TSM = 2,
    MT_QSRC_MOCK = 3,
};

struct mt_quote_source {
    enum mt_qsrc_kind kind;
    const char *path; /* dstack socket or TSM base; NULL = the default */
    /*
     * Tests only: called after inblob is written and before outblob is
     * read, with the entry's directory, so a fake configfs tree in an
     * ordinary directory can produce outblob.  NULL in production.
     */
    void (*tsm_hook)(const char *entry_dir, void *arg);
    void *tsm_hook_arg;
};

/*
 * Parse "dstack", "dstack:SOCKET", "tsm", "tsm:BASE" or "mock".  path
 * points into spec (which must outlive src).  MT_ERR_ARG otherwise.
 */
MT_WUR mt_err mt_quote_source_parse(const char *spec, struct mt_quote_source *src);

/* The mock quote of reference 1.11 for report_data. */
void mt_mock_quote(const uint8_t report_data[64], uint8_t out[256]);

/*
 * A quote over report_data from src.  On success *quote (mt_free) holds
 * *len bytes, at most MT_MAX_QUOTE_SIZE.  Errors: MT_ERR_DSTACK_* from the
 * agent, MT_ERR_IO (configfs-TSM missing or failing), MT_ERR_TOO_LARGE,
 * MT_ERR_QUOTE_* (unparseable quote), MT_ERR_ATTESTATION_FAILED (the
 * quote's report data is not report_data), MT_ERR_ARG, MT_ERR_NOMEM; why
 * (when why_len > 0) says what failed.
 */
MT_WUR mt_err mt_quote_source_get(const struct mt_quote_source *src, const uint8_t report_data[64],
                                  uint8_t **quote, size_t *len, char *why, size_t why_len);

#endif
