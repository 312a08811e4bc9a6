#include "policy/policy.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "util/mt_alloc.h"
#include "util/mt_hex.h"

/*
 * The policy model, measurement normalisation and evaluation
 * (mero-tee-reference.md 1.4 and 1.7 step 7d).  Pure functions.
 */

static const char *const meas_labels[5] = {"MRTD", "RTMR0", "RTMR1", "RTMR2", "RTMR3"};
static const char *const known_profiles[] = {MT_PROFILE_DEBUG, MT_PROFILE_DEBUG_RO,
                                             MT_PROFILE_LOCKED_RO};

__attribute__((format(printf, 3, 4))) static void
say(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;

    if (buf == NULL || len == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
}

static int
is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static char
lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Narrow s[0..*len) to its ASCII-trimmed span. */
static const char *
trim(const char *s, size_t *len)
{
    size_t n = *len;

    while (n > 0 && is_space(*s)) {
        s++;
        n--;
    }
    while (n > 0 && is_space(s[n - 1]))
        n--;
    *len = n;
    return s;
}

const char *
mt_policy_meas_label(size_t i)
{
    return i < 5 ? meas_labels[i] : "?";
}

mt_err
mt_measurement_normalize_n(const char *s, size_t len, uint8_t out[MT_MEAS_LEN])
{
    char hex[2 * MT_MEAS_LEN];
    size_t i;

    MT_ENSURE(s != NULL && out != NULL, MT_ERR_POLICY_FORMAT);
    MT_ENSURE(memchr(s, '\0', len) == NULL, MT_ERR_POLICY_FORMAT);
    s = trim(s, &len);
    /* The reference strips "0x" in a loop and only with a lowercase x. */
    while (len >= 2 && s[0] == '0' && s[1] == 'x') {
        s += 2;
        len -= 2;
    }
    MT_ENSURE(len == sizeof(hex), MT_ERR_POLICY_FORMAT);
    for (i = 0; i < len; i++)
        hex[i] = lower(s[i]);
    MT_ENSURE(mt_hex_decode_exact(hex, sizeof(hex), out, MT_MEAS_LEN) == MT_OK,
              MT_ERR_POLICY_FORMAT);
    return MT_OK;
}

mt_err
mt_measurement_normalize(const char *s, uint8_t out[MT_MEAS_LEN])
{
    MT_ENSURE(s != NULL, MT_ERR_POLICY_FORMAT);
    return mt_measurement_normalize_n(s, strlen(s), out);
}

mt_err
mt_profile_normalize(const char *s, size_t len, char out[MT_PROFILE_MAX])
{
    char buf[MT_PROFILE_MAX];
    size_t i;

    MT_ENSURE(s != NULL && out != NULL, MT_ERR_POLICY_FORMAT);
    MT_ENSURE(memchr(s, '\0', len) == NULL, MT_ERR_POLICY_FORMAT);
    s = trim(s, &len);
    MT_ENSURE(len > 0 && len < sizeof(buf), MT_ERR_POLICY_FORMAT);
    for (i = 0; i < len; i++)
        buf[i] = lower(s[i]);
    buf[len] = '\0';
    for (i = 0; i < sizeof(known_profiles) / sizeof(known_profiles[0]); i++) {
        if (strcmp(buf, known_profiles[i]) == 0) {
            memcpy(out, buf, len + 1);
            return MT_OK;
        }
    }
    return MT_ERR_POLICY_FORMAT;
}

void
mt_policy_clear_tcb(struct mt_policy *p)
{
    size_t i;

    if (p == NULL)
        return;
    for (i = 0; i < p->num_tcb_statuses; i++)
        mt_free(p->tcb_statuses[i]);
    mt_free(p->tcb_statuses);
    p->tcb_statuses = NULL;
    p->num_tcb_statuses = 0;
}

mt_err
mt_policy_add_tcb(struct mt_policy *p, const char *s, size_t len)
{
    char **grown, *v;
    size_t i;

    MT_ENSURE(p != NULL && s != NULL, MT_ERR_ARG);
    s = trim(s, &len);
    if (len == 0)
        return MT_OK;
    v = mt_strndup(s, len);
    MT_ENSURE(v != NULL, MT_ERR_NOMEM);
    /* strndup stops at a NUL; keep whatever came before it, lowercased. */
    for (i = 0; v[i] != '\0'; i++)
        v[i] = lower(v[i]);
    if (i == 0) {
        mt_free(v);
        return MT_OK;
    }
    grown = mt_realloc(p->tcb_statuses, (p->num_tcb_statuses + 1) * sizeof(*grown));
    if (grown == NULL) {
        mt_free(v);
        return MT_ERR_NOMEM;
    }
    p->tcb_statuses = grown;
    p->tcb_statuses[p->num_tcb_statuses++] = v;
    return MT_OK;
}

mt_err
mt_meas_list_add(struct mt_meas_list *l, const uint8_t m[MT_MEAS_LEN])
{
    uint8_t(*grown)[MT_MEAS_LEN];

    MT_ENSURE(l != NULL && m != NULL, MT_ERR_ARG);
    grown = mt_realloc(l->v, (l->n + 1) * sizeof(*grown));
    MT_ENSURE(grown != NULL, MT_ERR_NOMEM);
    l->v = grown;
    memcpy(l->v[l->n], m, MT_MEAS_LEN);
    l->n++;
    return MT_OK;
}

void
mt_policy_free(struct mt_policy *p)
{
    size_t i;

    if (p == NULL)
        return;
    mt_policy_clear_tcb(p);
    mt_free(p->mrtd.v);
    for (i = 0; i < 4; i++)
        mt_free(p->rtmr[i].v);
    mt_free(p);
}

mt_err
mt_policy_new_empty(struct mt_policy **out)
{
    struct mt_policy *p;
    mt_err e;

    MT_ENSURE(out != NULL, MT_ERR_ARG);
    p = mt_calloc(1, sizeof(*p));
    MT_ENSURE(p != NULL, MT_ERR_NOMEM);
    p->enforce = 1;
    e = mt_policy_add_tcb(p, "uptodate", 8);
    if (e != MT_OK) {
        mt_policy_free(p);
        return e;
    }
    *out = p;
    return MT_OK;
}

static const struct mt_meas_list *
meas_list(const struct mt_policy *p, size_t i)
{
    return i == 0 ? &p->mrtd : &p->rtmr[i - 1];
}

mt_err
mt_policy_require_complete(const struct mt_policy *p, char *why, size_t why_len)
{
    static const char *const keys[5] = {"mrtd", "rtmr0", "rtmr1", "rtmr2", "rtmr3"};
    size_t i;

    say(why, why_len, "%s", "");
    MT_ENSURE(p != NULL, MT_ERR_ARG);
    if (!p->enforce)
        return MT_OK;
    if (p->num_tcb_statuses == 0) {
        say(why, why_len,
            "allowed_tcb_statuses must not be empty when measurement policy is enforced");
        return MT_ERR_CONFIG;
    }
    for (i = 0; i < 5; i++) {
        if (meas_list(p, i)->n == 0) {
            say(why, why_len, "allowed_%s must not be empty when measurement policy is enforced",
                keys[i]);
            return MT_ERR_CONFIG;
        }
    }
    return MT_OK;
}

/* "a, b, c" into buf, cut to fit. */
static void
join_statuses(const struct mt_policy *p, char *buf, size_t len)
{
    size_t i, used = 0;
    int n;

    buf[0] = '\0';
    for (i = 0; i < p->num_tcb_statuses && used < len; i++) {
        n = snprintf(buf + used, len - used, "%s%s", i > 0 ? ", " : "", p->tcb_statuses[i]);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

static int
tcb_allowed(const struct mt_policy *p, const char *status)
{
    size_t i;

    /* List entries are stored lowercased; this equals lowercase(status) == entry. */
    for (i = 0; i < p->num_tcb_statuses; i++) {
        if (strcasecmp(status, p->tcb_statuses[i]) == 0)
            return 1;
    }
    return 0;
}

static int
meas_allowed(const struct mt_meas_list *l, const uint8_t m[MT_MEAS_LEN])
{
    size_t i;

    for (i = 0; i < l->n; i++) {
        if (memcmp(l->v[i], m, MT_MEAS_LEN) == 0)
            return 1;
    }
    return 0;
}

mt_err
mt_policy_check(const struct mt_policy *p, const char *tcb_status, const uint8_t mrtd[MT_MEAS_LEN],
                const uint8_t rtmr[4][MT_MEAS_LEN], char *detail, size_t detail_len)
{
    char allowed[512], hex[2 * MT_MEAS_LEN + 1];
    const struct mt_meas_list *l;
    const uint8_t *m;
    size_t i;

    say(detail, detail_len, "%s", "");
    MT_ENSURE(p != NULL && mrtd != NULL && rtmr != NULL, MT_ERR_ARG);
    if (!p->enforce)
        return MT_OK;
    if (tcb_status == NULL) {
        say(detail, detail_len, "Quote verification did not provide a TCB status");
        return MT_ERR_TCB_STATUS_REJECTED;
    }
    if (!tcb_allowed(p, tcb_status)) {
        join_statuses(p, allowed, sizeof(allowed));
        say(detail, detail_len, "TCB status '%s' is not allowed. Allowed values: %s", tcb_status,
            allowed);
        return MT_ERR_TCB_STATUS_REJECTED;
    }
    for (i = 0; i < 5; i++) {
        l = meas_list(p, i);
        m = i == 0 ? mrtd : rtmr[i - 1];
        if (l->n == 0) {
            say(detail, detail_len, "%s allowlist is empty", meas_labels[i]);
            return MT_ERR_MEASUREMENT_REJECTED;
        }
        if (!meas_allowed(l, m)) {
            mt_hex_encode(m, MT_MEAS_LEN, hex);
            say(detail, detail_len, "%s '%s' is not in allowlist", meas_labels[i], hex);
            return MT_ERR_MEASUREMENT_REJECTED;
        }
    }
    return MT_OK;
}
