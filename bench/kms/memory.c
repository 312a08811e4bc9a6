#include "memory.h"

#include <malloc.h>
#include <stdio.h>
#include <string.h>

#include "kms/kms_store.h"
#include "util/mt_hex.h"

#define T0 1700000000u

static size_t
heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();

    return mi.uordblks + mi.hblkhd;
}

int
memory_measure(size_t pending, size_t peers, size_t limit, struct mem_result *r)
{
    struct mt_kms_store_limits l = {limit, 0};
    struct mt_kms_store_mem_stats st;
    struct mt_kms_store *s = NULL;
    uint8_t nonce[32], b[16];
    char id[33], peer[53];
    size_t before, after, i;
    int rc = -1;

    memset(r, 0, sizeof(*r));
    memset(nonce, 7, sizeof(nonce));
    before = heap_in_use();
    if (mt_kms_store_mem_new(&l, &s) != MT_OK)
        return -1;
    for (i = 0; i < pending; i++) {
        memset(b, 0, sizeof(b));
        memcpy(b, &i, sizeof(i));
        b[15] = 0x5a;
        mt_hex_encode(b, sizeof(b), id);
        /* 52 characters: the length of a real Ed25519 peer ID. */
        snprintf(peer, sizeof(peer), "12D3KooW%044zu", i % peers);
        if (s->ops->insert(s, id, nonce, peer, T0 + 60, T0) != MT_OK)
            goto out;
    }
    after = heap_in_use();
    if (mt_kms_store_mem_stats(s, &st) != MT_OK || st.entries != pending)
        goto out;
    r->pending = pending;
    r->peers = peers;
    r->limit = limit;
    r->store_bytes = (double)st.bytes / (double)pending;
    /* Under a sanitizer's allocator mallinfo2 sees nothing: say so rather than report 0. */
    r->heap_bytes = after > before ? (double)(after - before) / (double)pending : -1;
    rc = 0;
out:
    mt_kms_store_free(s);
    return rc;
}
