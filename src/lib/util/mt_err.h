#ifndef MT_ERR_H
#define MT_ERR_H

#include <stddef.h>

/*
 * Error codes of the whole project, generated from mt_err_table.h.
 * Every fallible function returns an mt_err and is marked MT_WUR, so an
 * ignored error is a compile error.
 */

#define MT_WUR __attribute__((warn_unused_result))

typedef enum mt_err {
#define X(e, code, status, tag, msg) e,
#include "util/mt_err_table.h"
#undef X
    MT_ERR__COUNT
} mt_err;

/* Stable machine-readable code ("quote_signature"); never NULL. */
const char *mt_err_code(mt_err e);
/* Human-readable message; never NULL. */
const char *mt_err_message(mt_err e);
/* HTTP status a service answers with for this error. */
int mt_err_http_status(mt_err e);
/* mero-kms-phala error tag, or "" when the error has none. */
const char *mt_err_tag(mt_err e);

/*
 * The closed set of control-flow macros (STYLE.md section 4 item 2).
 * MT_GUARD propagates, MT_ENSURE fails with a code; the _GOTO forms are for
 * functions that own resources and leave through one out: label with the
 * error in the named variable.
 */
#define MT_GUARD(expr)                                                                             \
    do {                                                                                           \
        mt_err mt_guard_e_ = (expr);                                                               \
        if (mt_guard_e_ != MT_OK)                                                                  \
            return mt_guard_e_;                                                                    \
    } while (0)

#define MT_ENSURE(cond, err)                                                                       \
    do {                                                                                           \
        if (!(cond))                                                                               \
            return (err);                                                                          \
    } while (0)

#define MT_GUARD_GOTO(expr, rv, label)                                                             \
    do {                                                                                           \
        (rv) = (expr);                                                                             \
        if ((rv) != MT_OK)                                                                         \
            goto label;                                                                            \
    } while (0)

#define MT_ENSURE_GOTO(cond, err, rv, label)                                                       \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            (rv) = (err);                                                                          \
            goto label;                                                                            \
        }                                                                                          \
    } while (0)

/*
 * Format the reason for a failure into why (when why is not NULL and
 * why_len > 0) and return err: `return mt_errf(MT_ERR_CONFIG, why, why_len,
 * "line %d: ...", n);`.
 */
__attribute__((format(printf, 4, 5))) mt_err mt_errf(mt_err err, char *why, size_t why_len,
                                                     const char *fmt, ...);

#endif
