/* Target: mt_policy_parse_release, mt_policy_require_complete, mt_policy_check */

/*
 * Any byte string through the release policy parser, for both subjects and
 * both candidate kinds (profile asset, legacy generic asset).  Contracts:
 * *out is set exactly when MT_OK is returned; a parsed policy has lowercase
 * non-empty TCB statuses; completeness and evaluation never fail with
 * anything but their documented errors.  The expected tag and profile are
 * fixed so the seeds can reach the allowlists.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
require(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_policy: contract broken: %s\n", what);
        abort();
    }
}

static void
exercise(const struct mt_policy *p)
{
    static const char *const statuses[] = {"UpToDate", "OutOfDate", NULL};
    uint8_t mrtd[MT_MEAS_LEN], rtmr[4][MT_MEAS_LEN];
    char detail[256];
    size_t i, j;
    mt_err e;

    for (i = 0; i < p->num_tcb_statuses; i++) {
        require(p->tcb_statuses[i][0] != '\0', "empty TCB status kept");
        for (j = 0; p->tcb_statuses[i][j] != '\0'; j++)
            require(!(p->tcb_statuses[i][j] >= 'A' && p->tcb_statuses[i][j] <= 'Z'),
                    "TCB status not lowercased");
    }
    e = mt_policy_require_complete(p, detail, sizeof(detail));
    require(e == MT_OK || e == MT_ERR_CONFIG, "require_complete error");
    /* The first allowlisted measurement (or zeros) as the quote's values. */
    memset(mrtd, 0, sizeof(mrtd));
    memset(rtmr, 0, sizeof(rtmr));
    if (p->mrtd.n > 0)
        memcpy(mrtd, p->mrtd.v[0], MT_MEAS_LEN);
    for (i = 0; i < 4; i++) {
        if (p->rtmr[i].n > 0)
            memcpy(rtmr[i], p->rtmr[i].v[0], MT_MEAS_LEN);
    }
    for (i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
        e = mt_policy_check(p, statuses[i], mrtd, (const uint8_t(*)[MT_MEAS_LEN])rtmr, detail,
                            sizeof(detail));
        require(e == MT_OK || e == MT_ERR_TCB_STATUS_REJECTED || e == MT_ERR_MEASUREMENT_REJECTED,
                "check error");
        require((e == MT_OK) == (detail[0] == '\0'), "detail set iff rejected");
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const profiles[] = {MT_PROFILE_LOCKED_RO, MT_PROFILE_DEBUG};
    struct mt_policy *p;
    char why[512];
    size_t k;
    mt_err e;

    for (k = 0; k < 8; k++) {
        p = NULL;
        e = mt_policy_parse_release((const char *)data, size, "2.3.40", profiles[(k >> 2) & 1],
                                    (int)(k & 1), (k & 2) != 0 ? MT_POLICY_KMS : MT_POLICY_NODE, &p,
                                    why, sizeof(why));
        if (e != MT_OK) {
            require(p == NULL, "*out set on failure");
            require(e == MT_ERR_POLICY_FORMAT || e == MT_ERR_TOO_LARGE || e == MT_ERR_NOMEM,
                    "undocumented parse error");
            require(why[0] != '\0', "failure without a reason");
            continue;
        }
        require(p != NULL, "MT_OK without a policy");
        require(strcmp(p->tag, "2.3.40") == 0, "tag not checked");
        exercise(p);
        mt_policy_free(p);
    }
    return 0;
}
