#include "dcap/tcb.h"

#include <string.h>

static const char *const status_names[] = {
    [MT_TCB_UP_TO_DATE] = "UpToDate",
    [MT_TCB_SW_HARDENING_NEEDED] = "SWHardeningNeeded",
    [MT_TCB_CONFIGURATION_NEEDED] = "ConfigurationNeeded",
    [MT_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED] = "ConfigurationAndSWHardeningNeeded",
    [MT_TCB_OUT_OF_DATE] = "OutOfDate",
    [MT_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED] = "OutOfDateConfigurationNeeded",
    [MT_TCB_REVOKED] = "Revoked",
};

const char *
mt_tcb_status_name(enum mt_tcb_status s)
{
    if ((unsigned)s > MT_TCB_REVOKED)
        return "Unknown";
    return status_names[s];
}

mt_err
mt_tcb_status_parse(const char *s, enum mt_tcb_status *out)
{
    unsigned i;

    for (i = 0; i <= MT_TCB_REVOKED; i++) {
        if (strcmp(s, status_names[i]) == 0) {
            *out = (enum mt_tcb_status)i;
            return MT_OK;
        }
    }
    return MT_ERR_JSON_FIELD;
}

mt_err
mt_tcb_result_add_advisory(struct mt_tcb_result *r, const char *id)
{
    size_t i, len = strlen(id);

    MT_ENSURE(len > 0 && len <= MT_MAX_ADVISORY_LEN, MT_ERR_JSON_FIELD);
    for (i = 0; i < r->num_advisories; i++) {
        if (strcmp(r->advisories[i], id) == 0)
            return MT_OK;
    }
    MT_ENSURE(r->num_advisories < MT_MAX_ADVISORIES, MT_ERR_TOO_LARGE);
    memcpy(r->advisories[r->num_advisories], id, len + 1);
    r->num_advisories++;
    return MT_OK;
}

static int
is_configuration(enum mt_tcb_status s)
{
    return s == MT_TCB_CONFIGURATION_NEEDED || s == MT_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED;
}

/*
 * Intel QVL's convergence (QuoteVerifier convergeTcbStatusWithQeTcbStatus,
 * and the same rule for the TDX module): an out-of-date QE or module turns
 * a Configuration* platform into OutOfDateConfigurationNeeded rather than
 * plain OutOfDate, which max-severity (dcap-qvl) would give.
 */
static enum mt_tcb_status
converge(enum mt_tcb_status a, enum mt_tcb_status b)
{
    if ((a == MT_TCB_OUT_OF_DATE && is_configuration(b)) ||
        (b == MT_TCB_OUT_OF_DATE && is_configuration(a)))
        return MT_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED;
    return a >= b ? a : b;
}

mt_err
mt_tcb_merge(const struct mt_tcb_result *a, const struct mt_tcb_result *b,
             struct mt_tcb_result *out)
{
    struct mt_tcb_result r = *a;
    size_t i;

    r.status = converge(a->status, b->status);
    for (i = 0; i < b->num_advisories; i++)
        MT_GUARD(mt_tcb_result_add_advisory(&r, b->advisories[i]));
    *out = r;
    return MT_OK;
}
