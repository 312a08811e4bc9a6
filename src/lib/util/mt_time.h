#ifndef MT_TIME_H
#define MT_TIME_H

#include <stdint.h>
#include <time.h>

#include "util/mt_err.h"

/*
 * Time is injected (STYLE.md section 4 item 7): every validity decision
 * takes `now` from an mt_clock, so tests and offline verification are
 * deterministic.  Only mt_clock_system reads the real clock.
 */
struct mt_clock {
    int64_t (*now)(void *arg); /* Unix seconds */
    void *arg;
};

int64_t mt_clock_now(const struct mt_clock *c);
/* A clock reading CLOCK_REALTIME. */
struct mt_clock mt_clock_system(void);
/* A clock that always answers *fixed (the pointer must outlive the clock). */
struct mt_clock mt_clock_fixed(const int64_t *fixed);

/* Monotonic microseconds, for measuring durations only. */
uint64_t mt_monotonic_us(void);

/* Days since 1970-01-01 of a proleptic Gregorian date (no time zones involved). */
int64_t mt_days_from_civil(int64_t y, unsigned m, unsigned d);
/* struct tm in UTC to Unix seconds, without consulting the local time zone. */
MT_WUR mt_err mt_tm_to_unix(const struct tm *tm, int64_t *out);
/* Strict RFC 3339 UTC "YYYY-MM-DDThh:mm:ssZ" (optional ".fraction" ignored). */
MT_WUR mt_err mt_rfc3339_parse(const char *s, int64_t *out);
/* Format Unix seconds as "YYYY-MM-DDThh:mm:ssZ" into out[21]. */
void mt_rfc3339_format(int64_t t, char out[21]);
/* Parse a decimal Unix time (optionally negative) with overflow checks. */
MT_WUR mt_err mt_parse_int64(const char *s, int64_t *out);

#endif
