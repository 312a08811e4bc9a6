#include "dcap/cache.h"

#include <string.h>

#include "util/mt_alloc.h"

void
mt_cache_init(struct mt_cache *c, size_t max_entries)
{
    memset(c, 0, sizeof(*c));
    c->max_entries = max_entries;
}

static void
entry_drop(struct mt_cache *c, size_t i)
{
    struct mt_cache_entry *e = &c->entries[i];

    if (e->free_value != NULL)
        e->free_value(e->value);
    c->entries[i] = c->entries[c->num_entries - 1];
    c->num_entries--;
}

void
mt_cache_clear(struct mt_cache *c)
{
    while (c->num_entries > 0)
        entry_drop(c, c->num_entries - 1);
    mt_free(c->entries);
    c->entries = NULL;
}

void
mt_cache_begin(struct mt_cache *c)
{
    c->gen++;
}

void *
mt_cache_get(struct mt_cache *c, enum mt_cache_kind kind, const uint8_t key[32], int64_t now,
             int64_t *nb, int64_t *na)
{
    size_t i;

    for (i = 0; i < c->num_entries; i++) {
        struct mt_cache_entry *e = &c->entries[i];

        if (e->kind != kind || memcmp(e->key, key, 32) != 0)
            continue;
        if (now < e->not_before || now > e->not_after) {
            entry_drop(c, i);
            break;
        }
        c->hits++;
        e->gen = c->gen;
        *nb = e->not_before;
        *na = e->not_after;
        return e->value;
    }
    c->misses++;
    return NULL;
}

mt_err
mt_cache_put(struct mt_cache *c, enum mt_cache_kind kind, const uint8_t key[32], int64_t not_before,
             int64_t not_after, void *value, void (*free_value)(void *))
{
    struct mt_cache_entry *e;
    size_t i, oldest = SIZE_MAX;

    if (c->num_entries == c->max_entries) {
        for (i = 0; i < c->num_entries; i++) {
            if (c->entries[i].gen == c->gen)
                continue;
            if (oldest == SIZE_MAX || c->entries[i].seq < c->entries[oldest].seq)
                oldest = i;
        }
        if (oldest == SIZE_MAX)
            goto drop;
        entry_drop(c, oldest);
    }
    if (c->entries == NULL) {
        c->entries = mt_calloc(c->max_entries, sizeof(*c->entries));
        if (c->entries == NULL)
            goto drop;
    }
    e = &c->entries[c->num_entries++];
    memcpy(e->key, key, 32);
    e->kind = kind;
    e->not_before = not_before;
    e->not_after = not_after;
    e->value = value;
    e->free_value = free_value;
    e->seq = c->next_seq++;
    e->gen = c->gen;
    return MT_OK;
drop:
    if (free_value != NULL)
        free_value(value);
    return MT_ERR_NOMEM;
}
