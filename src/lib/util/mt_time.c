#include "util/mt_time.h"

#include <stdio.h>
#include <string.h>

static int64_t
system_now(void *arg)
{
    struct timespec ts;

    (void)arg;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec;
}

static int64_t
fixed_now(void *arg)
{
    return *(const int64_t *)arg;
}

int64_t
mt_clock_now(const struct mt_clock *c)
{
    return c->now(c->arg);
}

struct mt_clock
mt_clock_system(void)
{
    struct mt_clock c = {system_now, NULL};

    return c;
}

struct mt_clock
mt_clock_fixed(const int64_t *fixed)
{
    struct mt_clock c = {fixed_now, (void *)(uintptr_t)fixed};

    return c;
}

uint64_t
mt_monotonic_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Howard Hinnant's days_from_civil, valid for the whole int64 range we use. */
int64_t
mt_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (int64_t)(m > 2 ? m - 3 : m + 9) + 2) / 5 + (int64_t)d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int
days_in_month(int64_t y, unsigned m)
{
    static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

    return m == 2 ? 28 + leap : dm[m - 1];
}

mt_err
mt_tm_to_unix(const struct tm *tm, int64_t *out)
{
    int64_t y = (int64_t)tm->tm_year + 1900;

    MT_ENSURE(tm->tm_mon >= 0 && tm->tm_mon < 12, MT_ERR_TIME);
    MT_ENSURE(tm->tm_mday >= 1 && tm->tm_mday <= days_in_month(y, (unsigned)tm->tm_mon + 1),
              MT_ERR_TIME);
    MT_ENSURE(tm->tm_hour >= 0 && tm->tm_hour < 24 && tm->tm_min >= 0 && tm->tm_min < 60 &&
                  tm->tm_sec >= 0 && tm->tm_sec < 61,
              MT_ERR_TIME);
    *out = mt_days_from_civil(y, (unsigned)tm->tm_mon + 1, (unsigned)tm->tm_mday) * 86400 +
           tm->tm_hour * 3600 + tm->tm_min * 60 + tm->tm_sec;
    return MT_OK;
}

static int
digits(const char *s, size_t n, int *out)
{
    int v = 0;
    size_t i;

    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 1;
}

mt_err
mt_rfc3339_parse(const char *s, int64_t *out)
{
    struct tm tm;
    int y, mo, d, h, mi, sec;
    size_t len, i = 19;

    MT_ENSURE(s != NULL, MT_ERR_TIME);
    len = strlen(s);
    MT_ENSURE(len >= 20, MT_ERR_TIME);
    MT_ENSURE(s[4] == '-' && s[7] == '-' && (s[10] == 'T' || s[10] == 't') && s[13] == ':' &&
                  s[16] == ':',
              MT_ERR_TIME);
    MT_ENSURE(digits(s, 4, &y) && digits(s + 5, 2, &mo) && digits(s + 8, 2, &d) &&
                  digits(s + 11, 2, &h) && digits(s + 14, 2, &mi) && digits(s + 17, 2, &sec),
              MT_ERR_TIME);
    if (s[i] == '.') {
        i++;
        MT_ENSURE(i < len && s[i] >= '0' && s[i] <= '9', MT_ERR_TIME);
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
    }
    /* Only UTC: Intel's documents always use Z, and offsets invite mistakes. */
    MT_ENSURE(i + 1 == len && (s[i] == 'Z' || s[i] == 'z'), MT_ERR_TIME);
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    MT_ENSURE(sec < 60, MT_ERR_TIME);
    return mt_tm_to_unix(&tm, out);
}

void
mt_rfc3339_format(int64_t t, char out[21])
{
    int64_t days = t / 86400, rem = t % 86400, z, era, doe, yoe, y, doy, mp, d, m;

    if (rem < 0) {
        rem += 86400;
        days--;
    }
    /* Inverse of mt_days_from_civil. */
    z = days + 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    y = yoe + era * 400;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    d = doy - (153 * mp + 2) / 5 + 1;
    m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
    if (y < 0 || y > 9999) {
        snprintf(out, 21, "%s", "out-of-range");
        return;
    }
    snprintf(out, 21, "%04d-%02d-%02dT%02d:%02d:%02dZ", (int)y, (int)m, (int)d, (int)(rem / 3600),
             (int)(rem / 60 % 60), (int)(rem % 60));
}

mt_err
mt_parse_int64(const char *s, int64_t *out)
{
    int neg = 0;
    uint64_t v = 0, lim;
    const char *p = s;

    MT_ENSURE(s != NULL && *s != '\0', MT_ERR_ARG);
    if (*p == '-') {
        neg = 1;
        p++;
    }
    MT_ENSURE(*p != '\0', MT_ERR_ARG);
    lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; *p != '\0'; p++) {
        MT_ENSURE(*p >= '0' && *p <= '9', MT_ERR_ARG);
        MT_ENSURE(v <= (lim - (uint64_t)(*p - '0')) / 10, MT_ERR_ARG);
        v = v * 10 + (uint64_t)(*p - '0');
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return MT_OK;
}
