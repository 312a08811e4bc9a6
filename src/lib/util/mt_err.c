#include "util/mt_err.h"

#include <stdarg.h>
#include <stdio.h>

struct mt_err_row {
    const char *code;
    int status;
    const char *tag;
    const char *msg;
};

static const struct mt_err_row rows[] = {
#define X(e, code, status, tag, msg) [e] = {code, status, tag, msg},
#include "util/mt_err_table.h"
#undef X
};

static const struct mt_err_row *
row(mt_err e)
{
    if ((unsigned)e >= (unsigned)MT_ERR__COUNT)
        return &rows[MT_ERR_INTERNAL];
    return &rows[e];
}

const char *
mt_err_code(mt_err e)
{
    return row(e)->code;
}

const char *
mt_err_message(mt_err e)
{
    return row(e)->msg;
}

int
mt_err_http_status(mt_err e)
{
    return row(e)->status;
}

const char *
mt_err_tag(mt_err e)
{
    return row(e)->tag;
}

mt_err
mt_errf(mt_err err, char *why, size_t why_len, const char *fmt, ...)
{
    va_list ap;

    if (why != NULL && why_len > 0) {
        va_start(ap, fmt);
        vsnprintf(why, why_len, fmt, ap);
        va_end(ap);
    }
    return err;
}
