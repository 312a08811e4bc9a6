#include <stddef.h>

#include "kms/kms_store.h"

/* Shared by both stores and by the handlers: the one form a stored id has. */
int
mt_kms_challenge_id_valid(const char *id)
{
    size_t i;

    if (id == NULL)
        return 0;
    for (i = 0; i < MT_CHALLENGE_ID_HEX; i++) {
        char c = id[i];

        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return 0;
    }
    return id[MT_CHALLENGE_ID_HEX] == '\0';
}
