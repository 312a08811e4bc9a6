#include "policy/policy.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "util/mt_alloc.h"
#include "util/mt_b64.h"

/*
 * Release policy documents (mero-tee-reference.md 1.4 "Policy JSON parse",
 * 3.1 for the schema).  Every refusal says which member is wrong; strings
 * from the document are quoted through quote_str so a hostile document
 * cannot put control characters into logs.
 */

/* Longest document string quoted back in a message. */
#define QUOTE_MAX 64

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

/* Printable ASCII copy of a document string, cut at QUOTE_MAX with "...". */
static const char *
quote_str(const json_t *v, char out[QUOTE_MAX + 4])
{
    const char *s = json_string_value(v);
    size_t n = json_string_length(v), i;

    for (i = 0; i < n && i < QUOTE_MAX; i++)
        out[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
    if (n > QUOTE_MAX) {
        memcpy(out + i, "...", 3);
        i += 3;
    }
    out[i] = '\0';
    return out;
}

/* json string v equals s exactly (length included). */
static int
str_eq(const json_t *v, const char *s)
{
    size_t n = strlen(s);

    return json_string_length(v) == n && memcmp(json_string_value(v), s, n) == 0;
}

static mt_err
parse_tcb(struct mt_policy *p, const json_t *pol, enum mt_policy_subject subject)
{
    const json_t *v, *item;
    size_t i;

    if (subject == MT_POLICY_NODE) {
        v = json_object_get(pol, "node_allowed_tcb_statuses");
        if (!json_is_array(v))
            v = json_object_get(pol, "allowed_tcb_statuses");
    } else {
        v = json_object_get(pol, "kms_allowed_tcb_statuses");
    }
    /* Not an array (absent, or any other type): keep the ["uptodate"] default. */
    if (!json_is_array(v))
        return MT_OK;
    mt_policy_clear_tcb(p);
    json_array_foreach(v, i, item)
    {
        if (!json_is_string(item))
            continue; /* the reference drops non-strings silently */
        MT_GUARD(mt_policy_add_tcb(p, json_string_value(item), json_string_length(item)));
    }
    /* merod's release parse (reference 2.4): a list that ends up empty means ["uptodate"]. */
    if (subject == MT_POLICY_KMS && p->num_tcb_statuses == 0)
        MT_GUARD(mt_policy_add_tcb(p, "uptodate", 8));
    return MT_OK;
}

static int
blank(const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (!(s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r' || s[i] == '\v' ||
              s[i] == '\f'))
            return 0;
    }
    return 1;
}

static mt_err
parse_meas(struct mt_meas_list *l, const json_t *pol, const char *suffix,
           enum mt_policy_subject subject, char *why, size_t why_len)
{
    char key[64];
    uint8_t m[MT_MEAS_LEN];
    const json_t *v, *item;
    size_t i;

    if (subject == MT_POLICY_NODE) {
        /* Present, even as [], wins: the reference does not fall back then. */
        snprintf(key, sizeof(key), "node_allowed_%s", suffix);
        v = json_object_get(pol, key);
        if (v == NULL) {
            snprintf(key, sizeof(key), "allowed_%s", suffix);
            v = json_object_get(pol, key);
        }
    } else {
        snprintf(key, sizeof(key), "kms_allowed_%s", suffix);
        v = json_object_get(pol, key);
    }
    if (v == NULL)
        return MT_OK;
    if (!json_is_array(v)) {
        say(why, why_len, "policy.%s must be an array", key);
        return MT_ERR_POLICY_FORMAT;
    }
    json_array_foreach(v, i, item)
    {
        if (!json_is_string(item)) {
            say(why, why_len, "policy.%s[%zu] must be a string", key, i);
            return MT_ERR_POLICY_FORMAT;
        }
        /* merod skips empty entries (reference 2.4); the KMS refuses them (1.4). */
        if (subject == MT_POLICY_KMS && blank(json_string_value(item), json_string_length(item)))
            continue;
        if (mt_measurement_normalize_n(json_string_value(item), json_string_length(item), m) !=
            MT_OK) {
            say(why, why_len, "policy.%s[%zu]: expected 48 bytes (96 hex characters)", key, i);
            return MT_ERR_POLICY_FORMAT;
        }
        MT_GUARD(mt_meas_list_add(l, m));
    }
    return MT_OK;
}

/* kms.default_binding_b64, when present: base64 of exactly 32 bytes. */
static mt_err
parse_binding(struct mt_policy *p, const json_t *root, char *why, size_t why_len)
{
    const json_t *kms, *b;
    uint8_t *raw = NULL;
    size_t raw_len = 0;
    mt_err e;

    kms = json_object_get(root, "kms");
    if (kms == NULL)
        return MT_OK;
    if (!json_is_object(kms)) {
        say(why, why_len, "\"kms\" must be an object");
        return MT_ERR_POLICY_FORMAT;
    }
    b = json_object_get(kms, "default_binding_b64");
    if (b == NULL)
        return MT_OK;
    if (!json_is_string(b)) {
        say(why, why_len, "kms.default_binding_b64 must be a string");
        return MT_ERR_POLICY_FORMAT;
    }
    e = mt_b64_decode_alloc(json_string_value(b), json_string_length(b), 64, &raw, &raw_len);
    if (e == MT_ERR_NOMEM)
        return e;
    if (e != MT_OK || raw_len != sizeof(p->binding)) {
        mt_free(raw);
        say(why, why_len, "kms.default_binding_b64 must be base64 of exactly 32 bytes");
        return MT_ERR_POLICY_FORMAT;
    }
    memcpy(p->binding, raw, sizeof(p->binding));
    p->has_binding = 1;
    mt_free(raw);
    return MT_OK;
}

/* "role" and "profile" (1.4): absent only for a legacy locked-read-only document. */
static mt_err
check_identity(const json_t *root, const char *profile, int legacy, char *prof_out, char *why,
               size_t why_len)
{
    char q[QUOTE_MAX + 4], norm[MT_PROFILE_MAX];
    const json_t *v;
    int absent_ok = legacy && strcmp(profile, MT_PROFILE_LOCKED_RO) == 0;

    v = json_object_get(root, "role");
    if (v == NULL && !absent_ok) {
        say(why, why_len, "policy has no \"role\" (only a legacy %s document may omit it)",
            MT_PROFILE_LOCKED_RO);
        return MT_ERR_POLICY_FORMAT;
    }
    if (v != NULL && !json_is_string(v)) {
        say(why, why_len, "policy \"role\" must be a string");
        return MT_ERR_POLICY_FORMAT;
    }
    if (v != NULL && !str_eq(v, "kms")) {
        say(why, why_len, "policy role '%s' is not 'kms'", quote_str(v, q));
        return MT_ERR_POLICY_FORMAT;
    }
    v = json_object_get(root, "profile");
    if (v == NULL && !absent_ok) {
        say(why, why_len, "policy has no \"profile\" (only a legacy %s document may omit it)",
            MT_PROFILE_LOCKED_RO);
        return MT_ERR_POLICY_FORMAT;
    }
    if (v == NULL)
        return MT_OK;
    if (!json_is_string(v)) {
        say(why, why_len, "policy \"profile\" must be a string");
        return MT_ERR_POLICY_FORMAT;
    }
    if (mt_profile_normalize(json_string_value(v), json_string_length(v), norm) != MT_OK) {
        say(why, why_len, "policy profile '%s' is not a known profile", quote_str(v, q));
        return MT_ERR_POLICY_FORMAT;
    }
    if (strcmp(norm, profile) != 0) {
        say(why, why_len, "policy profile mismatch: expected '%s', found '%s'", profile, norm);
        return MT_ERR_POLICY_FORMAT;
    }
    memcpy(prof_out, norm, strlen(norm) + 1);
    return MT_OK;
}

mt_err
mt_policy_parse_release(const char *json, size_t len, const char *expected_tag,
                        const char *expected_profile, int legacy, enum mt_policy_subject subject,
                        struct mt_policy **out, char *why, size_t why_len)
{
    static const char *const suffixes[5] = {"mrtd", "rtmr0", "rtmr1", "rtmr2", "rtmr3"};
    char profile[MT_PROFILE_MAX], q[QUOTE_MAX + 4];
    const char *tag;
    struct mt_policy *p = NULL;
    json_error_t jerr;
    json_t *root = NULL;
    const json_t *v, *pol;
    size_t tag_len, i;
    mt_err e = MT_OK;

    say(why, why_len, "%s", "");
    if (json == NULL || expected_tag == NULL || expected_profile == NULL || out == NULL ||
        (subject != MT_POLICY_NODE && subject != MT_POLICY_KMS)) {
        say(why, why_len, "bad arguments");
        return MT_ERR_ARG;
    }
    if (mt_profile_normalize(expected_profile, strlen(expected_profile), profile) != MT_OK) {
        say(why, why_len, "expected profile is not a known profile");
        return MT_ERR_ARG;
    }
    tag = expected_tag;
    if (strncmp(tag, MT_POLICY_TAG_PREFIX, strlen(MT_POLICY_TAG_PREFIX)) == 0)
        tag += strlen(MT_POLICY_TAG_PREFIX);
    tag_len = strlen(tag);
    if (tag_len == 0 || tag_len >= sizeof(p->tag)) {
        say(why, why_len, "expected tag is empty or too long");
        return MT_ERR_ARG;
    }
    if (len > MT_POLICY_MAX_DOC) {
        say(why, why_len, "policy document of %zu bytes exceeds the %u byte limit", len,
            MT_POLICY_MAX_DOC);
        return MT_ERR_TOO_LARGE;
    }

    /* jansson checks UTF-8 and refuses \u0000 in strings (no JSON_ALLOW_NUL). */
    root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        say(why, why_len, "policy is not valid JSON: %s (line %d, column %d)", jerr.text, jerr.line,
            jerr.column);
        return MT_ERR_POLICY_FORMAT;
    }
    if (!json_is_object(root)) {
        say(why, why_len, "policy document is not a JSON object");
        e = MT_ERR_POLICY_FORMAT;
        goto out;
    }
    v = json_object_get(root, "tag");
    if (!json_is_string(v)) {
        say(why, why_len, "policy has no string \"tag\"");
        e = MT_ERR_POLICY_FORMAT;
        goto out;
    }
    if (!str_eq(v, tag)) {
        say(why, why_len, "policy tag mismatch: expected '%s', found '%s'", tag, quote_str(v, q));
        e = MT_ERR_POLICY_FORMAT;
        goto out;
    }
    MT_GUARD_GOTO(mt_policy_new_empty(&p), e, out);
    memcpy(p->tag, tag, tag_len + 1);
    MT_GUARD_GOTO(check_identity(root, profile, legacy, p->profile, why, why_len), e, out);
    pol = json_object_get(root, "policy");
    if (!json_is_object(pol)) {
        say(why, why_len, "policy document has no \"policy\" object");
        e = MT_ERR_POLICY_FORMAT;
        goto out;
    }
    MT_GUARD_GOTO(parse_tcb(p, pol, subject), e, out);
    for (i = 0; i < 5; i++)
        MT_GUARD_GOTO(parse_meas(i == 0 ? &p->mrtd : &p->rtmr[i - 1], pol, suffixes[i], subject,
                                 why, why_len),
                      e, out);
    if (subject == MT_POLICY_KMS)
        MT_GUARD_GOTO(parse_binding(p, root, why, why_len), e, out);
    *out = p;
    p = NULL;
out:
    if (e == MT_ERR_NOMEM)
        say(why, why_len, "out of memory");
    mt_policy_free(p);
    json_decref(root);
    return e;
}
