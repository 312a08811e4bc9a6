#ifndef MT_TCB_MATCH_H
#define MT_TCB_MATCH_H

#include "dcap/pck.h"
#include "dcap/tcb_docs.h"
#include "quote/quote.h"

/*
 * TCB evaluation: pure functions over a parsed quote, its PCK data and the
 * verified collateral documents (dcap-verify.md 2.9, 2.11).  Each fills a
 * status + advisories or returns the failing check.
 */

/* QE identity policy and QE TCB level (2.9). */
MT_WUR mt_err mt_tcb_match_qe(const struct mt_qe_identity *qe, const struct mt_sgx_report *report,
                              struct mt_tcb_result *out);

/*
 * Platform TCB level (2.11 steps 1-3), following Intel's rule for TDX:
 * components 0 and 1 are skipped when tee_tcb_svn[1] > 0, since the TDX
 * module identity judges them.  *matched is the chosen level.
 */
MT_WUR mt_err mt_tcb_match_platform(const struct mt_tcb_info *ti, const struct mt_quote *q,
                                    const struct mt_pck_info *pck,
                                    const struct mt_tcb_level **matched);

/*
 * TDX module identity (2.11 step 4).  *has_module is set when an identity's
 * TCB levels gave a status (then *out and module_id are filled).
 */
MT_WUR mt_err mt_tcb_match_module(const struct mt_tcb_info *ti, const struct mt_td_report *td,
                                  int *has_module, char module_id[16], struct mt_tcb_result *out);

#endif
