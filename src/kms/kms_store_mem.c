/*
 * The in-memory challenge store (mero-tee-reference.md 1.13, semantics in
 * kms_store.h).
 *
 * Layout, chosen for about 100 bytes per pending challenge:
 *  - records live in one dense array `ent` (64 bytes each: binary id,
 *    nonce, expiry, peer number, cached hash); removal moves the last
 *    record into the hole, so the array is always packed;
 *  - `slots` is an open-addressing index (linear probing, 4-byte slots
 *    holding record number + 1, load at most 3/4, backward-shift deletion
 *    so there are no tombstones);
 *  - peers are interned once: `peer[]` holds the string and a reference
 *    count (the number of records naming the peer, which is also what the
 *    per-peer limit compares against), with its own 4-byte-slot index
 *    `pslots`.  Peer numbers are stable (a free list reuses them), so
 *    records can refer to peers by 32-bit number.
 * The record array never grows beyond max_total and shrinks again when it
 * is less than a quarter full, so memory follows the live set.
 *
 * Hashes are SipHash-2-4 under a random per-store key: peer ids are chosen
 * by clients, and an unkeyed hash would let one client make every probe
 * sequence long.
 *
 * Pruning.  `min_exp` is a lower bound of every record's expiry.  Insert,
 * consume and count run a full pruning pass (O(records)) only when
 * now >= min_exp; the pass removes every expired record and sets min_exp
 * to the exact minimum of what is left, which is > now.  Consumption never
 * lowers min_exp and inserts lower it only to their own expiry, so (with a
 * TTL of at least one second) there is at most one pass per second of clock
 * time, plus one after each insert of a born-expired record.  Worst case: a
 * pass over max_total records under the lock (about 0.1 ms per 10 000
 * records), once a second.  Expired records therefore never accumulate:
 * each is gone at the first insert, consume or count after it expires.
 *
 * Locking: one mutex.  Hashing and id decoding happen before taking it;
 * inside are table probes, the occasional pruning pass and, rarely, a
 * table resize (amortised O(1)).
 */
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "kms/kms_store.h"
#include "util/mt_alloc.h"

#define NONE UINT32_MAX
#define MIN_ENT_CAP 16u
#define MIN_SLOTS 32u

struct mem_entry {
    uint8_t id[16];
    uint8_t nonce[MT_CHALLENGE_NONCE_LEN];
    uint64_t expires_at;
    uint32_t peer; /* index into peer[] */
    uint32_t hash; /* of id */
};
_Static_assert(sizeof(struct mem_entry) == 64, "a record is one cache line");

struct mem_peer {
    char *str;     /* NULL when this slot is on the free list */
    uint32_t refs; /* records naming this peer */
    uint32_t hash; /* of str; when free: the next free slot or NONE */
};

struct mem_store {
    struct mt_kms_store base;
    pthread_mutex_t mu;
    size_t max_total;
    size_t max_per_peer; /* 0: none */
    uint64_t k0, k1;     /* SipHash key */

    struct mem_entry *ent;
    uint32_t n, cap;
    uint32_t *slots; /* record number + 1, 0 = empty */
    uint32_t mask;   /* slot count - 1; slot count is 0 or a power of two */

    struct mem_peer *peer;
    uint32_t npeer, peer_cap, peer_used, peer_free;
    uint32_t *pslots;
    uint32_t pmask;
    size_t peer_bytes; /* sum of the peer strings' allocations */

    uint64_t min_exp; /* <= every record's expires_at; UINT64_MAX when empty */
    uint64_t prunes, pruned;
};

static const struct mt_kms_store_ops mem_ops;

/* --- SipHash-2-4 ------------------------------------------------------- */

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                                   \
    do {                                                                                           \
        v0 += v1;                                                                                  \
        v1 = ROTL(v1, 13);                                                                         \
        v1 ^= v0;                                                                                  \
        v0 = ROTL(v0, 32);                                                                         \
        v2 += v3;                                                                                  \
        v3 = ROTL(v3, 16);                                                                         \
        v3 ^= v2;                                                                                  \
        v0 += v3;                                                                                  \
        v3 = ROTL(v3, 21);                                                                         \
        v3 ^= v0;                                                                                  \
        v2 += v1;                                                                                  \
        v1 = ROTL(v1, 17);                                                                         \
        v1 ^= v2;                                                                                  \
        v2 = ROTL(v2, 32);                                                                         \
    } while (0)

static uint64_t
load64(const uint8_t *p)
{
    uint64_t v = 0;
    unsigned i;

    for (i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static uint32_t
siphash(const struct mem_store *s, const uint8_t *in, size_t len)
{
    uint64_t v0 = 0x736f6d6570736575ULL ^ s->k0, v1 = 0x646f72616e646f6dULL ^ s->k1;
    uint64_t v2 = 0x6c7967656e657261ULL ^ s->k0, v3 = 0x7465646279746573ULL ^ s->k1;
    uint64_t b = (uint64_t)len << 56, m;
    size_t i, left = len & 7;

    for (i = 0; i + 8 <= len; i += 8) {
        m = load64(in + i);
        v3 ^= m;
        SIPROUND;
        SIPROUND;
        v0 ^= m;
    }
    for (i = 0; i < left; i++)
        b |= (uint64_t)in[len - left + i] << (8 * i);
    v3 ^= b;
    SIPROUND;
    SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    b = v0 ^ v1 ^ v2 ^ v3;
    return (uint32_t)(b ^ (b >> 32));
}

/* --- open-addressing index (shared by records and peers) ----------------- */

/* The hash of the item a slot value (item number + 1) names. */
typedef uint32_t (*hash_of_fn)(const struct mem_store *s, uint32_t v);

static uint32_t
ent_hash_of(const struct mem_store *s, uint32_t v)
{
    return s->ent[v - 1].hash;
}

static uint32_t
peer_hash_of(const struct mem_store *s, uint32_t v)
{
    return s->peer[v - 1].hash;
}

static void
idx_put(uint32_t *slots, uint32_t mask, uint32_t hash, uint32_t v)
{
    uint32_t i = hash & mask;

    while (slots[i] != 0)
        i = (i + 1) & mask;
    slots[i] = v;
}

/* The slot holding exactly v, which must be present. */
static uint32_t
idx_slot_of(const uint32_t *slots, uint32_t mask, uint32_t hash, uint32_t v)
{
    uint32_t i = hash & mask;

    while (slots[i] != v)
        i = (i + 1) & mask;
    return i;
}

/* Empty slot i and shift later members of its cluster back (Knuth 6.4 Algorithm R). */
static void
idx_delete(const struct mem_store *s, uint32_t *slots, uint32_t mask, uint32_t i, hash_of_fn hof)
{
    uint32_t j = i, home;

    for (;;) {
        j = (j + 1) & mask;
        if (slots[j] == 0)
            break;
        home = hof(s, slots[j]) & mask;
        /* Leave slots[j] where it is if its home lies cyclically in (i, j]. */
        if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
            continue;
        slots[i] = slots[j];
        i = j;
    }
    slots[i] = 0;
}

/* A zeroed slot array of 2^k >= want slots; NULL when out of memory. */
static uint32_t *
slots_new(uint32_t want, uint32_t *mask)
{
    uint32_t n = MIN_SLOTS;
    uint32_t *p;

    while (n < want)
        n <<= 1;
    p = mt_calloc(n, sizeof(*p));
    if (p != NULL)
        *mask = n - 1;
    return p;
}

/* Slots for `items` members at load <= 3/4. */
static uint32_t
slots_for(uint32_t items)
{
    return (uint32_t)(((uint64_t)items * 4 + 2) / 3);
}

static mt_err
ent_index_rebuild(struct mem_store *s, uint32_t want)
{
    uint32_t mask = 0, i;
    uint32_t *slots = slots_new(want, &mask);

    MT_ENSURE(slots != NULL, MT_ERR_NOMEM);
    for (i = 0; i < s->n; i++)
        idx_put(slots, mask, s->ent[i].hash, i + 1);
    mt_free(s->slots);
    s->slots = slots;
    s->mask = mask;
    return MT_OK;
}

static mt_err
peer_index_rebuild(struct mem_store *s, uint32_t want)
{
    uint32_t mask = 0, i;
    uint32_t *slots = slots_new(want, &mask);

    MT_ENSURE(slots != NULL, MT_ERR_NOMEM);
    for (i = 0; i < s->peer_used; i++)
        if (s->peer[i].str != NULL)
            idx_put(slots, mask, s->peer[i].hash, i + 1);
    mt_free(s->pslots);
    s->pslots = slots;
    s->pmask = mask;
    return MT_OK;
}

/* --- records ------------------------------------------------------------ */

/* Move the records to an array of new_cap (>= n); the old array is wiped first. */
static mt_err
ent_resize(struct mem_store *s, uint32_t new_cap)
{
    struct mem_entry *p = mt_malloc((size_t)new_cap * sizeof(*p));

    MT_ENSURE(p != NULL, MT_ERR_NOMEM);
    if (s->n > 0)
        memcpy(p, s->ent, (size_t)s->n * sizeof(*p));
    if (s->ent != NULL)
        OPENSSL_cleanse(s->ent, (size_t)s->cap * sizeof(*p));
    mt_free(s->ent);
    s->ent = p;
    s->cap = new_cap;
    return MT_OK;
}

/* Room for one more record, in the array and in the index. */
static mt_err
ent_reserve(struct mem_store *s)
{
    uint32_t want;

    if (s->n == s->cap) {
        want = s->cap < MIN_ENT_CAP ? MIN_ENT_CAP : s->cap + s->cap / 2;
        if (want > s->max_total)
            want = (uint32_t)s->max_total;
        if (want <= s->n)
            want = s->n + 1;
        MT_GUARD(ent_resize(s, want));
    }
    if (s->slots == NULL)
        MT_GUARD(ent_index_rebuild(s, MIN_SLOTS));
    else if (s->n + 1 > (s->mask + 1) / 4 * 3)
        MT_GUARD(ent_index_rebuild(s, (s->mask + 1) * 2));
    return MT_OK;
}

/* Give memory back once the live set has shrunk well below the tables (best effort). */
static void
ent_maybe_shrink(struct mem_store *s)
{
    uint32_t want;

    if (s->cap <= 4 * MIN_ENT_CAP || s->n >= s->cap / 4)
        return;
    want = s->n * 2 < MIN_ENT_CAP ? MIN_ENT_CAP : s->n * 2;
    if (ent_resize(s, want) != MT_OK)
        return;
    if (s->mask + 1 > 4 * slots_for(want) && s->mask + 1 > MIN_SLOTS)
        (void)ent_index_rebuild(s, slots_for(want));
}

static uint32_t
ent_find(const struct mem_store *s, const uint8_t id[16], uint32_t hash, uint32_t *slot)
{
    uint32_t i, v;

    if (s->slots == NULL)
        return NONE;
    for (i = hash & s->mask;; i = (i + 1) & s->mask) {
        v = s->slots[i];
        if (v == 0)
            return NONE;
        if (s->ent[v - 1].hash == hash && CRYPTO_memcmp(s->ent[v - 1].id, id, 16) == 0) {
            if (slot != NULL)
                *slot = i;
            return v - 1;
        }
    }
}

/* --- peers -------------------------------------------------------------- */

static uint32_t
peer_find(const struct mem_store *s, const char *str, uint32_t hash)
{
    uint32_t i, v;

    if (s->pslots == NULL)
        return NONE;
    for (i = hash & s->pmask;; i = (i + 1) & s->pmask) {
        v = s->pslots[i];
        if (v == 0)
            return NONE;
        if (s->peer[v - 1].hash == hash && strcmp(s->peer[v - 1].str, str) == 0)
            return v - 1;
    }
}

/* Intern a new peer (refs 0); *out is its number. */
static mt_err
peer_add(struct mem_store *s, const char *str, uint32_t hash, uint32_t *out)
{
    size_t len = strlen(str);
    struct mem_peer *np;
    uint32_t p, want;
    char *copy;

    if (s->pslots == NULL)
        MT_GUARD(peer_index_rebuild(s, MIN_SLOTS));
    else if (s->npeer + 1 > (s->pmask + 1) / 4 * 3)
        MT_GUARD(peer_index_rebuild(s, (s->pmask + 1) * 2));
    if (s->peer_free == NONE && s->peer_used == s->peer_cap) {
        want = s->peer_cap < MIN_ENT_CAP ? MIN_ENT_CAP : s->peer_cap + s->peer_cap / 2;
        if (want > s->max_total)
            want = (uint32_t)s->max_total;
        if (want <= s->peer_used)
            want = s->peer_used + 1;
        np = mt_realloc(s->peer, (size_t)want * sizeof(*np));
        MT_ENSURE(np != NULL, MT_ERR_NOMEM);
        s->peer = np;
        s->peer_cap = want;
    }
    copy = mt_strndup(str, len);
    MT_ENSURE(copy != NULL, MT_ERR_NOMEM);
    if (s->peer_free != NONE) {
        p = s->peer_free;
        s->peer_free = s->peer[p].hash;
    } else {
        p = s->peer_used++;
    }
    s->peer[p].str = copy;
    s->peer[p].refs = 0;
    s->peer[p].hash = hash;
    idx_put(s->pslots, s->pmask, hash, p + 1);
    s->npeer++;
    s->peer_bytes += len + 1;
    *out = p;
    return MT_OK;
}

static void
peer_unref(struct mem_store *s, uint32_t p)
{
    struct mem_peer *pe = &s->peer[p];

    if (--pe->refs > 0)
        return;
    idx_delete(s, s->pslots, s->pmask, idx_slot_of(s->pslots, s->pmask, pe->hash, p + 1),
               peer_hash_of);
    s->peer_bytes -= strlen(pe->str) + 1;
    mt_free(pe->str);
    pe->str = NULL;
    pe->hash = s->peer_free;
    s->peer_free = p;
    s->npeer--;
    if (s->npeer == 0 && s->peer_cap > 4 * MIN_ENT_CAP) {
        /* After a burst of many peers, give the peer tables back once none is left. */
        mt_free(s->peer);
        mt_free(s->pslots);
        s->peer = NULL;
        s->pslots = NULL;
        s->peer_cap = s->peer_used = 0;
        s->pmask = 0;
        s->peer_free = NONE;
    }
}

/* Remove record i (its index slot is `slot`), wiping its nonce. */
static void
ent_remove(struct mem_store *s, uint32_t i, uint32_t slot)
{
    uint32_t last = s->n - 1;

    idx_delete(s, s->slots, s->mask, slot, ent_hash_of);
    peer_unref(s, s->ent[i].peer);
    if (i != last) {
        s->slots[idx_slot_of(s->slots, s->mask, s->ent[last].hash, last + 1)] = i + 1;
        s->ent[i] = s->ent[last];
    }
    OPENSSL_cleanse(&s->ent[last], sizeof(s->ent[last]));
    s->n--;
}

static void
prune(struct mem_store *s, uint64_t now)
{
    uint64_t min = UINT64_MAX;
    uint32_t i = 0;

    s->prunes++;
    while (i < s->n) {
        if (s->ent[i].expires_at <= now) {
            ent_remove(s, i, idx_slot_of(s->slots, s->mask, s->ent[i].hash, i + 1));
            s->pruned++;
            continue; /* the last record moved into i */
        }
        if (s->ent[i].expires_at < min)
            min = s->ent[i].expires_at;
        i++;
    }
    s->min_exp = min;
    ent_maybe_shrink(s);
}

static void
maybe_prune(struct mem_store *s, uint64_t now)
{
    if (now >= s->min_exp)
        prune(s, now);
}

/* --- operations --------------------------------------------------------- */

static int
hexval(char c)
{
    return c <= '9' ? c - '0' : c - 'a' + 10;
}

/* id must already satisfy mt_kms_challenge_id_valid. */
static void
id_decode(const char *id, uint8_t out[16])
{
    unsigned i;

    for (i = 0; i < 16; i++)
        out[i] = (uint8_t)(hexval(id[2 * i]) << 4 | hexval(id[2 * i + 1]));
}

static mt_err
mem_insert(struct mt_kms_store *base, const char *challenge_id, const uint8_t nonce[32],
           const char *peer_id, uint64_t expires_at, uint64_t now)
{
    struct mem_store *s = (struct mem_store *)base;
    uint32_t h, ph, p, i;
    uint8_t id[16];
    mt_err rv = MT_OK;

    MT_ENSURE(s != NULL && nonce != NULL && peer_id != NULL, MT_ERR_ARG);
    MT_ENSURE(mt_kms_challenge_id_valid(challenge_id), MT_ERR_ARG);
    id_decode(challenge_id, id);
    h = siphash(s, id, sizeof(id));
    ph = siphash(s, (const uint8_t *)peer_id, strlen(peer_id));

    pthread_mutex_lock(&s->mu);
    maybe_prune(s, now);
    i = ent_find(s, id, h, NULL);
    if (i != NONE) {
        struct mem_entry *e = &s->ent[i];

        /* The identical record again is a no-op; anything else is a collision. */
        if (!(e->expires_at == expires_at && strcmp(s->peer[e->peer].str, peer_id) == 0 &&
              CRYPTO_memcmp(e->nonce, nonce, sizeof(e->nonce)) == 0))
            rv = MT_ERR_ARG;
        goto out;
    }
    MT_ENSURE_GOTO(s->n < s->max_total, MT_ERR_RATE_LIMITED, rv, out);
    p = peer_find(s, peer_id, ph);
    MT_ENSURE_GOTO(p == NONE || s->max_per_peer == 0 || s->peer[p].refs < s->max_per_peer,
                   MT_ERR_RATE_LIMITED, rv, out);
    MT_GUARD_GOTO(ent_reserve(s), rv, out);
    if (p == NONE)
        MT_GUARD_GOTO(peer_add(s, peer_id, ph, &p), rv, out);
    i = s->n++;
    memcpy(s->ent[i].id, id, sizeof(id));
    memcpy(s->ent[i].nonce, nonce, MT_CHALLENGE_NONCE_LEN);
    s->ent[i].expires_at = expires_at;
    s->ent[i].peer = p;
    s->ent[i].hash = h;
    idx_put(s->slots, s->mask, h, i + 1);
    s->peer[p].refs++;
    if (expires_at < s->min_exp)
        s->min_exp = expires_at;
out:
    pthread_mutex_unlock(&s->mu);
    return rv;
}

static mt_err
mem_consume(struct mt_kms_store *base, const char *challenge_id, const char *peer_id, uint64_t now,
            uint8_t nonce_out[32])
{
    struct mem_store *s = (struct mem_store *)base;
    uint32_t h, i, slot = 0;
    uint8_t id[16];
    mt_err rv;

    MT_ENSURE(s != NULL && challenge_id != NULL && peer_id != NULL && nonce_out != NULL,
              MT_ERR_ARG);
    MT_ENSURE(mt_kms_challenge_id_valid(challenge_id), MT_ERR_CHALLENGE_NOT_FOUND);
    id_decode(challenge_id, id);
    h = siphash(s, id, sizeof(id));

    pthread_mutex_lock(&s->mu);
    i = ent_find(s, id, h, &slot);
    if (i == NONE) {
        rv = MT_ERR_CHALLENGE_NOT_FOUND;
    } else if (strcmp(s->peer[s->ent[i].peer].str, peer_id) != 0) {
        rv = MT_ERR_CHALLENGE_PEER_MISMATCH; /* kept: defect 7 */
    } else if (s->ent[i].expires_at <= now) {
        ent_remove(s, i, slot);
        rv = MT_ERR_CHALLENGE_EXPIRED;
    } else {
        memcpy(nonce_out, s->ent[i].nonce, MT_CHALLENGE_NONCE_LEN);
        ent_remove(s, i, slot);
        rv = MT_OK;
    }
    maybe_prune(s, now);
    if (rv == MT_OK || rv == MT_ERR_CHALLENGE_EXPIRED)
        ent_maybe_shrink(s);
    pthread_mutex_unlock(&s->mu);
    return rv;
}

static mt_err
mem_ping(struct mt_kms_store *base)
{
    MT_ENSURE(base != NULL, MT_ERR_ARG);
    return MT_OK;
}

static mt_err
mem_count(struct mt_kms_store *base, uint64_t now, size_t *out)
{
    struct mem_store *s = (struct mem_store *)base;

    MT_ENSURE(s != NULL && out != NULL, MT_ERR_ARG);
    pthread_mutex_lock(&s->mu);
    maybe_prune(s, now);
    *out = s->n;
    pthread_mutex_unlock(&s->mu);
    return MT_OK;
}

static void
mem_free(struct mt_kms_store *base)
{
    struct mem_store *s = (struct mem_store *)base;
    uint32_t i;

    if (s == NULL)
        return;
    if (s->ent != NULL)
        OPENSSL_cleanse(s->ent, (size_t)s->cap * sizeof(*s->ent));
    mt_free(s->ent);
    mt_free(s->slots);
    for (i = 0; i < s->peer_used; i++)
        mt_free(s->peer[i].str);
    mt_free(s->peer);
    mt_free(s->pslots);
    pthread_mutex_destroy(&s->mu);
    OPENSSL_cleanse(s, sizeof(*s));
    mt_free(s);
}

static const struct mt_kms_store_ops mem_ops = {
    .insert = mem_insert,
    .consume = mem_consume,
    .ping = mem_ping,
    .count = mem_count,
    .free = mem_free,
};

mt_err
mt_kms_store_mem_new(const struct mt_kms_store_limits *l, struct mt_kms_store **out)
{
    struct mem_store *s;
    uint8_t key[16];

    MT_ENSURE(l != NULL && out != NULL, MT_ERR_ARG);
    MT_ENSURE(l->max_total >= 1 && l->max_total <= MT_KMS_STORE_MAX_TOTAL, MT_ERR_ARG);
    MT_ENSURE(RAND_bytes(key, sizeof(key)) == 1, MT_ERR_CRYPTO);
    s = mt_calloc(1, sizeof(*s));
    if (s == NULL) {
        OPENSSL_cleanse(key, sizeof(key));
        return MT_ERR_NOMEM;
    }
    if (pthread_mutex_init(&s->mu, NULL) != 0) {
        OPENSSL_cleanse(key, sizeof(key));
        mt_free(s);
        return MT_ERR_NOMEM;
    }
    s->base.ops = &mem_ops;
    s->max_total = l->max_total;
    s->max_per_peer = l->max_per_peer >= l->max_total ? 0 : l->max_per_peer;
    s->k0 = load64(key);
    s->k1 = load64(key + 8);
    OPENSSL_cleanse(key, sizeof(key));
    s->peer_free = NONE;
    s->min_exp = UINT64_MAX;
    *out = &s->base;
    return MT_OK;
}

mt_err
mt_kms_store_mem_stats(struct mt_kms_store *base, struct mt_kms_store_mem_stats *out)
{
    struct mem_store *s = (struct mem_store *)base;

    MT_ENSURE(s != NULL && out != NULL && s->base.ops == &mem_ops, MT_ERR_ARG);
    pthread_mutex_lock(&s->mu);
    memset(out, 0, sizeof(*out));
    out->entries = s->n;
    out->entry_cap = s->cap;
    out->index_slots = s->slots == NULL ? 0 : (size_t)s->mask + 1;
    out->peers = s->npeer;
    out->peer_cap = s->peer_cap;
    out->peer_slots = s->pslots == NULL ? 0 : (size_t)s->pmask + 1;
    out->bytes = sizeof(*s) + (size_t)s->cap * sizeof(*s->ent) + out->index_slots * 4 +
                 (size_t)s->peer_cap * sizeof(*s->peer) + out->peer_slots * 4 + s->peer_bytes;
    out->prunes = s->prunes;
    out->pruned = s->pruned;
    pthread_mutex_unlock(&s->mu);
    return MT_OK;
}
