#ifndef MT_TCB_H
#define MT_TCB_H

#include <stddef.h>
#include <stdint.h>

#include "util/mt_err.h"
#include "util/mt_limits.h"

/* TCB status values in severity order (dcap-verify.md 2.12). */
enum mt_tcb_status {
    MT_TCB_UP_TO_DATE = 0,
    MT_TCB_SW_HARDENING_NEEDED,
    MT_TCB_CONFIGURATION_NEEDED,
    MT_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED,
    MT_TCB_OUT_OF_DATE,
    MT_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED,
    MT_TCB_REVOKED,
};

/* Intel's status name ("UpToDate", ...). */
const char *mt_tcb_status_name(enum mt_tcb_status s);
/* Parse a status name; MT_ERR_JSON_FIELD for any other string. */
MT_WUR mt_err mt_tcb_status_parse(const char *s, enum mt_tcb_status *out);

/* A status with its advisory IDs, in publication order, without duplicates. */
struct mt_tcb_result {
    enum mt_tcb_status status;
    size_t num_advisories;
    char advisories[MT_MAX_ADVISORIES][MT_MAX_ADVISORY_LEN + 1];
};

/* Append an advisory unless present; MT_ERR_TOO_LARGE past the limit. */
MT_WUR mt_err mt_tcb_result_add_advisory(struct mt_tcb_result *r, const char *id);

/*
 * Combine two results with Intel's QVL rules (dcap-verify.md 2.13): the
 * worse status wins, except that OutOfDate combined with a Configuration*
 * status becomes OutOfDateConfigurationNeeded.  Advisory IDs are the union,
 * a's first, order kept.
 */
MT_WUR mt_err mt_tcb_merge(const struct mt_tcb_result *a, const struct mt_tcb_result *b,
                           struct mt_tcb_result *out);

#endif
