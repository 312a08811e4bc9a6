#include "image/image_cmdline.h"

#include <string.h>

enum { KEY_ROLE, KEY_PROFILE, KEY_ROOT_HASH, KEY_COUNT };

static const char *const keys[KEY_COUNT] = {
    "calimero.role=", "calimero.profile=", "calimero.root_hash="};

static int
is_sep(char c)
{
    return c == ' ' || c == '\t';
}

/* One calimero.* parameter p[0..n): which key, and its value. */
static mt_err
take_param(const char *p, size_t n, const char *val[KEY_COUNT], size_t val_len[KEY_COUNT])
{
    size_t k, kl;

    for (k = 0; k < KEY_COUNT; k++) {
        kl = strlen(keys[k]);
        if (n >= kl && memcmp(p, keys[k], kl) == 0)
            break;
    }
    MT_ENSURE(k < KEY_COUNT, MT_ERR_IMAGE_CMDLINE);
    MT_ENSURE(val[k] == NULL, MT_ERR_IMAGE_CMDLINE);
    MT_ENSURE(memchr(p, '"', n) == NULL, MT_ERR_IMAGE_CMDLINE);
    val[k] = p + kl;
    val_len[k] = n - kl;
    return MT_OK;
}

mt_err
mt_image_cmdline_parse(const char *text, size_t len, struct mt_image_cmdline *out)
{
    const char *val[KEY_COUNT] = {NULL, NULL, NULL};
    size_t val_len[KEY_COUNT] = {0, 0, 0};
    size_t i = 0, start;
    int quoted;

    MT_ENSURE(text != NULL && out != NULL, MT_ERR_ARG);
    MT_ENSURE(len <= MT_IMAGE_MAX_CMDLINE, MT_ERR_TOO_LARGE);
    if (len > 0 && text[len - 1] == '\n')
        len--;
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        MT_ENSURE(c != '\t' ? (c >= 0x20 && c != 0x7f) : 1, MT_ERR_IMAGE_CMDLINE);
    }
    i = 0;
    while (i < len) {
        while (i < len && is_sep(text[i]))
            i++;
        if (i == len)
            break;
        start = i;
        quoted = 0;
        while (i < len && (quoted || !is_sep(text[i]))) {
            if (text[i] == '"')
                quoted = !quoted;
            i++;
        }
        if (i - start == 2 && memcmp(text + start, "--", 2) == 0)
            break;
        if (i - start >= 9 && memcmp(text + start, "calimero.", 9) == 0)
            MT_GUARD(take_param(text + start, i - start, val, val_len));
    }
    for (i = 0; i < KEY_COUNT; i++)
        MT_ENSURE(val[i] != NULL, MT_ERR_IMAGE_CMDLINE);
    MT_ENSURE(val_len[KEY_ROLE] == 4 && memcmp(val[KEY_ROLE], "node", 4) == 0,
              MT_ERR_IMAGE_CMDLINE);
    MT_ENSURE(mt_image_profile_valid(val[KEY_PROFILE], val_len[KEY_PROFILE]), MT_ERR_IMAGE_PROFILE);
    MT_GUARD(mt_image_root_hash_check(val[KEY_ROOT_HASH], val_len[KEY_ROOT_HASH], 0));
    memcpy(out->profile, val[KEY_PROFILE], val_len[KEY_PROFILE]);
    out->profile[val_len[KEY_PROFILE]] = '\0';
    memcpy(out->root_hash, val[KEY_ROOT_HASH], val_len[KEY_ROOT_HASH]);
    out->root_hash[val_len[KEY_ROOT_HASH]] = '\0';
    return MT_OK;
}
