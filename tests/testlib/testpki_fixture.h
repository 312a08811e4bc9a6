#ifndef TESTPKI_FIXTURE_H
#define TESTPKI_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "dcap/dcap.h"
#include "testpki/testpki.h"
#include "util/mt_err.h"

/*
 * Glue between the synthetic PKI (src/lib/testpki) and mt_verify_quote for
 * the unit tests: build the quote and collateral that params describe, then
 * verify them at params->now.
 */

struct testpki_run {
    int intel_root;       /* pin the built-in Intel root instead of the test root */
    int allow_debug;      /* mt_verifier_opts.allow_debug */
    int allow_service_td; /* mt_verifier_opts.allow_service_td */
};

/*
 * Generate and verify; returns what mt_verify_quote returned (or the
 * generator's error, which tests treat as a failure).  run may be NULL for
 * the defaults.  The quote bytes are freed before returning, so the
 * verdict's parsed quote is cleared; statuses and advisories stay.
 */
MT_WUR mt_err testpki_verify(const struct mt_testpki_params *p, const struct testpki_run *run,
                             struct mt_verdict *v);

#endif
