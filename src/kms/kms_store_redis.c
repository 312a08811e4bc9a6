/*
 * The Redis challenge store (mero-tee-reference.md 1.13, semantics in
 * kms_store.h), wire-compatible with mero-kms-phala 2.3.40:
 *
 *   mero-kms-phala:challenge:<id>       string, the record as serde_json
 *                                       writes it, with EX = expires_at - now
 *                                       (at least 1 s: defect 6):
 *                                       {"nonce":[32 numbers],"peer_id":"…","expires_at":N}
 *   mero-kms-phala:challenge:index      sorted set, member = full challenge
 *                                       key, score = expires_at
 *   mero-kms-phala:challenge:peer:<p>   ours: sorted set of peer p's
 *                                       challenge keys (score = expires_at)
 *                                       for the per-peer limit; its TTL
 *                                       follows the newest challenge.
 *
 * Both operations are single Lua scripts (EVALSHA, falling back to EVAL on
 * NOSCRIPT), so they are atomic against each other and against other KMS
 * processes sharing the Redis, including mero-kms-phala itself: records it
 * wrote can be consumed here (they lack the per-peer set, whose stale
 * members are pruned by score anyway).
 *
 * Pruning: each script first removes index members with score <= now and
 * deletes their records (the reference only trims the index and leaves the
 * records to their Redis TTL; deleting them makes a pruned challenge
 * NOT_FOUND, as in the memory store).  A peer's set is trimmed by score when
 * that peer inserts.  Both run inside the script: O(expired) once each.
 * The scripts touch record keys named by the index, which is fine on a
 * single Redis (the reference's layout already needs it) but not on a
 * cluster.
 *
 * Connection: one hiredis connection per store, guarded by a mutex (waited
 * for at most MT_KMS_STORE_REDIS_TIMEOUT_MS).  Connect and command timeouts
 * are MT_KMS_STORE_REDIS_TIMEOUT_MS.  Any failure drops the connection and
 * returns MT_ERR_STORE_UNAVAILABLE; the next call reconnects (after a
 * failed connect, calls fail at once for MT_KMS_STORE_REDIS_RETRY_MS).
 * A command that fails quickly on a reused connection (Redis restarted, so
 * the socket is dead) is retried once on a fresh one; a timeout never is.
 * Worst cases: Redis killed or restarting: milliseconds; Redis hung or the
 * network black-holed: one timeout for connect plus one per command
 * (EVALSHA, and EVAL after NOSCRIPT), plus up to one timeout waiting for the
 * lock behind another caller.  SIGPIPE is blocked in the calling thread
 * while the socket is used.
 *
 * Nonces pass through hiredis's buffers and the kernel's, which this code
 * cannot wipe; the store wipes the copies it makes (payload, reply).
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <hiredis/hiredis.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "kms/kms_store.h"
#include "util/mt_alloc.h"
#include "util/mt_hex.h"
#include "util/mt_time.h"

#define KEY_PREFIX "mero-kms-phala:challenge:"
#define INDEX_KEY KEY_PREFIX "index"
#define PEER_PREFIX KEY_PREFIX "peer:"
/* Largest EX we ask for: Redis refuses expiry times that overflow in milliseconds. */
#define MAX_TTL 2147483647ull
/* A failed attempt shorter than this was not a timeout, so it may be retried once. */
#define QUICK_FAILURE_US 500000u

/*
 * Shared by both scripts: drop index members with score <= now and their
 * records, in batches that fit Lua's unpack().
 */
#define LUA_PRUNE                                                                                  \
    "local function prune(index, now)\n"                                                           \
    "  local old = redis.call('ZRANGEBYSCORE', index, '-inf', now)\n"                              \
    "  if #old == 0 then return end\n"                                                             \
    "  for i = 1, #old, 256 do\n"                                                                  \
    "    redis.call('DEL', unpack(old, i, math.min(i + 255, #old)))\n"                             \
    "  end\n"                                                                                      \
    "  redis.call('ZREMRANGEBYSCORE', index, '-inf', now)\n"                                       \
    "end\n"

/*
 * KEYS: record, index, peer set.  ARGV: payload, ttl, expires_at, now,
 * max_total, max_per_peer (0 = none).  Returns the new total, 0 when the
 * identical record is already there, -1 global limit, -2 per-peer limit,
 * -3 a different record holds the id.
 */
static const char insert_lua[] =
    LUA_PRUNE "local key, index, pkey = KEYS[1], KEYS[2], KEYS[3]\n"
              "local now = ARGV[4]\n"
              "prune(index, now)\n"
              "local cur = redis.call('GET', key)\n"
              "if cur then\n"
              "  if cur == ARGV[1] then return 0 end\n"
              "  return -3\n"
              "end\n"
              "local n = redis.call('ZCARD', index)\n"
              "if n >= tonumber(ARGV[5]) then return -1 end\n"
              "redis.call('ZREMRANGEBYSCORE', pkey, '-inf', now)\n"
              "local maxp = tonumber(ARGV[6])\n"
              "if maxp > 0 and redis.call('ZCARD', pkey) >= maxp then return -2 end\n"
              "local ttl = tonumber(ARGV[2])\n"
              "redis.call('SET', key, ARGV[1], 'EX', ttl)\n"
              "redis.call('ZADD', index, ARGV[3], key)\n"
              "redis.call('ZADD', pkey, ARGV[3], key)\n"
              "if redis.call('TTL', pkey) < ttl then redis.call('EXPIRE', pkey, ttl) end\n"
              "return n + 1\n";

/*
 * KEYS: record, index, the caller's peer set.  ARGV: now, peer_id.
 * Returns {0} not found, {2} peer mismatch (record kept), {3} expired
 * (deleted), {1, <32 nonce bytes>} taken, {-1} the record is malformed
 * (kept, for an operator to look at).
 */
static const char consume_lua[] =
    LUA_PRUNE "local key, index, pkey = KEYS[1], KEYS[2], KEYS[3]\n"
              "local now = tonumber(ARGV[1])\n"
              "local r\n"
              "local v = redis.call('GET', key)\n"
              "if not v then\n"
              "  redis.call('ZREM', index, key)\n"
              "  r = {0}\n"
              "else\n"
              "  local ok, rec = pcall(cjson.decode, v)\n"
              "  local nonce = nil\n"
              "  if ok and type(rec) == 'table' and type(rec.nonce) == 'table'\n"
              "     and #rec.nonce == 32 and type(rec.peer_id) == 'string'\n"
              "     and type(rec.expires_at) == 'number' then\n"
              "    nonce = {}\n"
              "    for i = 1, 32 do\n"
              "      local x = rec.nonce[i]\n"
              "      if type(x) ~= 'number' or x < 0 or x > 255 or x % 1 ~= 0 then\n"
              "        nonce = nil\n"
              "        break\n"
              "      end\n"
              "      nonce[i] = x\n"
              "    end\n"
              "  end\n"
              "  if not nonce then\n"
              "    r = {-1}\n"
              "  elseif rec.peer_id ~= ARGV[2] then\n"
              "    r = {2}\n"
              "  else\n"
              "    redis.call('DEL', key)\n"
              "    redis.call('ZREM', index, key)\n"
              "    redis.call('ZREM', pkey, key)\n"
              "    if rec.expires_at <= now then\n"
              "      r = {3}\n"
              "    else\n"
              "      r = {1, string.char(unpack(nonce))}\n"
              "    end\n"
              "  end\n"
              "end\n"
              "prune(index, ARGV[1])\n"
              "return r\n";

struct redis_store {
    struct mt_kms_store base;
    pthread_mutex_t mu;
    struct mt_kms_store_limits lim;
    char *host;
    int port;
    int db;
    char *user;     /* NULL: none */
    char *password; /* NULL: no AUTH */
    redisContext *c;
    int fresh;               /* c was connected during the current call */
    uint64_t retry_after_us; /* mt_monotonic_us before which no connect is tried */
    char insert_sha[41];
    char consume_sha[41];
};

static const struct mt_kms_store_ops redis_ops;

/* --- URL ---------------------------------------------------------------- */

static int
hexdig(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decode p[0..n) into a new string; NULL on a bad escape, a NUL or no memory. */
static char *
pct_decode(const char *p, size_t n, mt_err *why)
{
    char *out = mt_malloc(n + 1);
    size_t i, o = 0;
    int hi, lo;

    *why = MT_ERR_NOMEM;
    if (out == NULL)
        return NULL;
    *why = MT_ERR_ARG;
    for (i = 0; i < n; i++) {
        if (p[i] != '%') {
            out[o++] = p[i];
            continue;
        }
        if (i + 2 >= n)
            goto bad;
        hi = hexdig(p[i + 1]);
        lo = hexdig(p[i + 2]);
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
            goto bad;
        out[o++] = (char)(hi << 4 | lo);
        i += 2;
    }
    out[o] = '\0';
    return out;
bad:
    OPENSSL_cleanse(out, n + 1);
    mt_free(out);
    return NULL;
}

static int
host_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_';
}

/* Decimal digits only, value in [lo, hi]. */
static int
parse_uint(const char *p, size_t n, long lo, long hi, long *out)
{
    long v = 0;
    size_t i;

    if (n == 0 || n > 10)
        return 0;
    for (i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return 0;
        v = v * 10 + (p[i] - '0');
    }
    if (v < lo || v > hi)
        return 0;
    *out = v;
    return 1;
}

/* redis://[[user]:password@]host[:port][/db] into s (host, port, db, user, password). */
static mt_err
parse_url(const char *url, struct redis_store *s)
{
    const char *p, *auth_end, *slash, *at, *colon, *hp, *host, *host_end, *port_s = NULL;
    size_t i, hlen;
    long v;
    mt_err e = MT_ERR_ARG;

    MT_ENSURE(url != NULL && strncmp(url, "redis://", 8) == 0, MT_ERR_ARG);
    p = url + 8;
    MT_ENSURE(strpbrk(p, "?#") == NULL, MT_ERR_ARG);
    for (i = 0; p[i] != '\0'; i++)
        MT_ENSURE((unsigned char)p[i] > 0x20 && (unsigned char)p[i] < 0x7f, MT_ERR_ARG);
    slash = strchr(p, '/');
    auth_end = slash != NULL ? slash : p + strlen(p);

    /* userinfo: everything before the last '@' of the authority */
    at = NULL;
    for (hp = p; hp < auth_end; hp++)
        if (*hp == '@')
            at = hp;
    hp = p;
    if (at != NULL) {
        colon = memchr(p, ':', (size_t)(at - p));
        MT_ENSURE(colon != NULL, MT_ERR_ARG); /* a user without a password */
        if (colon > p) {
            s->user = pct_decode(p, (size_t)(colon - p), &e);
            MT_ENSURE(s->user != NULL, e);
        }
        if (at > colon + 1) {
            s->password = pct_decode(colon + 1, (size_t)(at - colon - 1), &e);
            MT_ENSURE(s->password != NULL, e);
        }
        MT_ENSURE(s->user == NULL || s->password != NULL, MT_ERR_ARG);
        hp = at + 1;
    }

    /* host: a name, an IPv4 literal or an [IPv6] literal */
    if (*hp == '[') {
        host = hp + 1;
        host_end = memchr(host, ']', (size_t)(auth_end - host));
        MT_ENSURE(host_end != NULL && host_end > host, MT_ERR_ARG);
        for (hp = host; hp < host_end; hp++)
            MT_ENSURE(hexdig(*hp) >= 0 || *hp == ':' || *hp == '.', MT_ERR_ARG);
        hp = host_end + 1;
        MT_ENSURE(hp == auth_end || *hp == ':', MT_ERR_ARG);
    } else {
        host = hp;
        while (hp < auth_end && *hp != ':') {
            MT_ENSURE(host_char_ok(*hp), MT_ERR_ARG);
            hp++;
        }
        host_end = hp;
        MT_ENSURE(host_end > host, MT_ERR_ARG);
    }
    if (hp < auth_end) {
        port_s = hp + 1;
        MT_ENSURE(parse_uint(port_s, (size_t)(auth_end - port_s), 1, 65535, &v), MT_ERR_ARG);
        s->port = (int)v;
    } else {
        s->port = 6379;
    }
    hlen = (size_t)(host_end - host);
    s->host = mt_strndup(host, hlen);
    MT_ENSURE(s->host != NULL, MT_ERR_NOMEM);

    /* db: "", "/" or "/N" */
    s->db = 0;
    if (slash != NULL && slash[1] != '\0') {
        MT_ENSURE(parse_uint(slash + 1, strlen(slash + 1), 0, INT_MAX, &v), MT_ERR_ARG);
        s->db = (int)v;
    }
    return MT_OK;
}

/* --- connection ---------------------------------------------------------- */

static void
rs_disconnect(struct redis_store *s)
{
    if (s->c != NULL)
        redisFree(s->c);
    s->c = NULL;
}

static struct timeval
timeout_tv(void)
{
    struct timeval tv;

    tv.tv_sec = MT_KMS_STORE_REDIS_TIMEOUT_MS / 1000;
    tv.tv_usec = (MT_KMS_STORE_REDIS_TIMEOUT_MS % 1000) * 1000;
    return tv;
}

/* One command; the reply, or NULL after dropping the connection. */
static redisReply *
rs_raw(struct redis_store *s, int argc, const char **argv, const size_t *lens)
{
    redisReply *r = redisCommandArgv(s->c, argc, argv, lens);

    if (r == NULL)
        rs_disconnect(s);
    return r;
}

static int
reply_is_status(const redisReply *r, const char *want)
{
    return r != NULL && r->type == REDIS_REPLY_STATUS && r->str != NULL &&
           strcmp(r->str, want) == 0;
}

static mt_err
rs_connect(struct redis_store *s)
{
    const char *argv[3];
    size_t lens[3];
    char dbs[16];
    redisReply *r;
    int n = 0, ok;

    if (s->c != NULL)
        return MT_OK;
    if (mt_monotonic_us() < s->retry_after_us)
        return MT_ERR_STORE_UNAVAILABLE;
    s->c = redisConnectWithTimeout(s->host, s->port, timeout_tv());
    if (s->c == NULL || s->c->err != 0 || redisSetTimeout(s->c, timeout_tv()) != REDIS_OK)
        goto fail;
    if (s->password != NULL) {
        argv[n] = "AUTH";
        lens[n++] = 4;
        if (s->user != NULL) {
            argv[n] = s->user;
            lens[n++] = strlen(s->user);
        }
        argv[n] = s->password;
        lens[n++] = strlen(s->password);
        r = rs_raw(s, n, argv, lens);
        ok = reply_is_status(r, "OK");
        if (r != NULL)
            freeReplyObject(r);
        if (!ok)
            goto fail;
    }
    if (s->db != 0) {
        snprintf(dbs, sizeof(dbs), "%d", s->db);
        argv[0] = "SELECT";
        lens[0] = 6;
        argv[1] = dbs;
        lens[1] = strlen(dbs);
        r = rs_raw(s, 2, argv, lens);
        ok = reply_is_status(r, "OK");
        if (r != NULL)
            freeReplyObject(r);
        if (!ok)
            goto fail;
    }
    s->fresh = 1;
    return MT_OK;
fail:
    rs_disconnect(s);
    s->retry_after_us = mt_monotonic_us() + (uint64_t)MT_KMS_STORE_REDIS_RETRY_MS * 1000u;
    return MT_ERR_STORE_UNAVAILABLE;
}

/*
 * A command on a connected store.  A quick failure on a connection that
 * was reused (not fresh) is retried once on a new connection.
 */
static mt_err
rs_command(struct redis_store *s, int argc, const char **argv, const size_t *lens, redisReply **out)
{
    uint64_t t0;
    int attempt;

    for (attempt = 0; attempt < 2; attempt++) {
        MT_GUARD(rs_connect(s));
        t0 = mt_monotonic_us();
        *out = rs_raw(s, argc, argv, lens);
        if (*out != NULL)
            return MT_OK;
        if (s->fresh || mt_monotonic_us() - t0 >= QUICK_FAILURE_US)
            break;
    }
    return MT_ERR_STORE_UNAVAILABLE;
}

/* EVALSHA, then EVAL when Redis does not have the script cached. */
static mt_err
rs_script(struct redis_store *s, const char *sha, const char *script, int nkeys, const char **keys,
          const size_t *key_lens, int nargs, const char **args, const size_t *arg_lens,
          redisReply **out)
{
    const char *argv[16];
    size_t lens[16];
    char nk[8];
    redisReply *r = NULL;
    int argc = 0, i;

    snprintf(nk, sizeof(nk), "%d", nkeys);
    argv[argc] = "EVALSHA";
    lens[argc++] = 7;
    argv[argc] = sha;
    lens[argc++] = 40;
    argv[argc] = nk;
    lens[argc++] = strlen(nk);
    for (i = 0; i < nkeys; i++) {
        argv[argc] = keys[i];
        lens[argc++] = key_lens[i];
    }
    for (i = 0; i < nargs; i++) {
        argv[argc] = args[i];
        lens[argc++] = arg_lens[i];
    }
    MT_GUARD(rs_command(s, argc, argv, lens, &r));
    if (r->type == REDIS_REPLY_ERROR && r->str != NULL && strncmp(r->str, "NOSCRIPT", 8) == 0) {
        freeReplyObject(r);
        r = NULL;
        argv[0] = "EVAL";
        lens[0] = 4;
        argv[1] = script;
        lens[1] = strlen(script);
        MT_GUARD(rs_command(s, argc, argv, lens, &r));
    }
    if (r->type == REDIS_REPLY_ERROR) {
        freeReplyObject(r);
        return MT_ERR_STORE_UNAVAILABLE;
    }
    *out = r;
    return MT_OK;
}

/*
 * Every operation runs between these two: take the lock (bounded wait),
 * block SIGPIPE in this thread (a write to a socket Redis closed must not
 * kill the KMS) and afterwards swallow a SIGPIPE this call raised.
 */
struct rs_guard {
    sigset_t old;
    int had_pipe;
};

static mt_err
rs_enter(struct redis_store *s, struct rs_guard *g)
{
    struct timespec deadline;
    sigset_t pipe, pend;

    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += MT_KMS_STORE_REDIS_TIMEOUT_MS / 1000;
    deadline.tv_nsec += (long)(MT_KMS_STORE_REDIS_TIMEOUT_MS % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    if (pthread_mutex_timedlock(&s->mu, &deadline) != 0)
        return MT_ERR_STORE_UNAVAILABLE;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, &g->old);
    g->had_pipe = sigpending(&pend) == 0 && sigismember(&pend, SIGPIPE) == 1;
    s->fresh = 0;
    return MT_OK;
}

static void
rs_leave(struct redis_store *s, struct rs_guard *g)
{
    struct timespec zero = {0, 0};
    sigset_t pipe, pend;

    if (!g->had_pipe && sigpending(&pend) == 0 && sigismember(&pend, SIGPIPE) == 1) {
        sigemptyset(&pipe);
        sigaddset(&pipe, SIGPIPE);
        while (sigtimedwait(&pipe, NULL, &zero) < 0 && errno == EINTR)
            ;
    }
    pthread_sigmask(SIG_SETMASK, &g->old, NULL);
    pthread_mutex_unlock(&s->mu);
}

/* --- record encoding ------------------------------------------------------ */

/*
 * serde_json's compact encoding of the record.  Strings: '"' and '\\'
 * escaped, \b \t \n \f \r, other control characters as \u00xx (lowercase
 * hex), everything else (including DEL and UTF-8) verbatim.  The result is
 * a fresh allocation the caller wipes and frees.
 */
static char *
encode_record(const uint8_t nonce[32], const char *peer_id, uint64_t expires_at, size_t *len)
{
    static const char hex[] = "0123456789abcdef";
    size_t plen = strlen(peer_id), cap = 48 + 32 * 4 + 6 * plen + 24, o = 0, i;
    char *out = mt_malloc(cap);
    int n;

    if (out == NULL)
        return NULL;
    memcpy(out, "{\"nonce\":[", 10);
    o = 10;
    for (i = 0; i < 32; i++) {
        n = snprintf(out + o, cap - o, i == 0 ? "%u" : ",%u", (unsigned)nonce[i]);
        o += (size_t)n;
    }
    memcpy(out + o, "],\"peer_id\":\"", 13);
    o += 13;
    for (i = 0; i < plen; i++) {
        unsigned char c = (unsigned char)peer_id[i];

        switch (c) {
        case '"':
        case '\\':
            out[o++] = '\\';
            out[o++] = (char)c;
            break;
        case '\b':
            out[o++] = '\\';
            out[o++] = 'b';
            break;
        case '\t':
            out[o++] = '\\';
            out[o++] = 't';
            break;
        case '\n':
            out[o++] = '\\';
            out[o++] = 'n';
            break;
        case '\f':
            out[o++] = '\\';
            out[o++] = 'f';
            break;
        case '\r':
            out[o++] = '\\';
            out[o++] = 'r';
            break;
        default:
            if (c < 0x20) {
                memcpy(out + o, "\\u00", 4);
                o += 4;
                out[o++] = hex[c >> 4];
                out[o++] = hex[c & 15];
            } else {
                out[o++] = (char)c;
            }
        }
    }
    n = snprintf(out + o, cap - o, "\",\"expires_at\":%llu}", (unsigned long long)expires_at);
    o += (size_t)n;
    *len = o;
    return out;
}

/* --- operations ------------------------------------------------------------ */

static char *
peer_key(const char *peer_id, size_t *len)
{
    size_t plen = strlen(peer_id), pre = sizeof(PEER_PREFIX) - 1;
    char *k = mt_malloc(pre + plen + 1);

    if (k == NULL)
        return NULL;
    memcpy(k, PEER_PREFIX, pre);
    memcpy(k + pre, peer_id, plen + 1);
    *len = pre + plen;
    return k;
}

static mt_err
redis_insert(struct mt_kms_store *base, const char *challenge_id, const uint8_t nonce[32],
             const char *peer_id, uint64_t expires_at, uint64_t now)
{
    struct redis_store *s = (struct redis_store *)base;
    char key[sizeof(KEY_PREFIX) + MT_CHALLENGE_ID_HEX], ttl_s[24], exp_s[24], now_s[24], max_s[24],
        maxp_s[24];
    const char *keys[3], *args[6];
    size_t key_lens[3], arg_lens[6], payload_len = 0, pkey_len = 0;
    char *payload = NULL, *pkey = NULL;
    uint64_t ttl;
    redisReply *r = NULL;
    struct rs_guard g;
    mt_err rv;

    MT_ENSURE(s != NULL && nonce != NULL && peer_id != NULL, MT_ERR_ARG);
    MT_ENSURE(mt_kms_challenge_id_valid(challenge_id), MT_ERR_ARG);
    snprintf(key, sizeof(key), KEY_PREFIX "%s", challenge_id);
    ttl = expires_at > now ? expires_at - now : 1;
    if (ttl > MAX_TTL)
        ttl = MAX_TTL;
    snprintf(ttl_s, sizeof(ttl_s), "%llu", (unsigned long long)ttl);
    snprintf(exp_s, sizeof(exp_s), "%llu", (unsigned long long)expires_at);
    snprintf(now_s, sizeof(now_s), "%llu", (unsigned long long)now);
    snprintf(max_s, sizeof(max_s), "%zu", s->lim.max_total);
    snprintf(maxp_s, sizeof(maxp_s), "%zu", s->lim.max_per_peer);
    payload = encode_record(nonce, peer_id, expires_at, &payload_len);
    pkey = peer_key(peer_id, &pkey_len);
    MT_ENSURE_GOTO(payload != NULL && pkey != NULL, MT_ERR_NOMEM, rv, out);
    keys[0] = key;
    key_lens[0] = strlen(key);
    keys[1] = INDEX_KEY;
    key_lens[1] = sizeof(INDEX_KEY) - 1;
    keys[2] = pkey;
    key_lens[2] = pkey_len;
    args[0] = payload;
    arg_lens[0] = payload_len;
    args[1] = ttl_s;
    args[2] = exp_s;
    args[3] = now_s;
    args[4] = max_s;
    args[5] = maxp_s;
    for (int i = 1; i < 6; i++)
        arg_lens[i] = strlen(args[i]);

    MT_GUARD_GOTO(rs_enter(s, &g), rv, out);
    rv = rs_script(s, s->insert_sha, insert_lua, 3, keys, key_lens, 6, args, arg_lens, &r);
    rs_leave(s, &g);
    if (rv != MT_OK)
        goto out;
    if (r->type != REDIS_REPLY_INTEGER)
        rv = MT_ERR_STORE_UNAVAILABLE;
    else if (r->integer >= 0)
        rv = MT_OK;
    else if (r->integer == -1 || r->integer == -2)
        rv = MT_ERR_RATE_LIMITED;
    else if (r->integer == -3)
        rv = MT_ERR_ARG;
    else
        rv = MT_ERR_STORE_UNAVAILABLE;
out:
    if (r != NULL)
        freeReplyObject(r);
    if (payload != NULL)
        OPENSSL_cleanse(payload, payload_len);
    mt_free(payload);
    mt_free(pkey);
    return rv;
}

static mt_err
redis_consume(struct mt_kms_store *base, const char *challenge_id, const char *peer_id,
              uint64_t now, uint8_t nonce_out[32])
{
    struct redis_store *s = (struct redis_store *)base;
    char key[sizeof(KEY_PREFIX) + MT_CHALLENGE_ID_HEX], now_s[24];
    const char *keys[3], *args[2];
    size_t key_lens[3], arg_lens[2], pkey_len = 0;
    char *pkey = NULL;
    redisReply *r = NULL, *st;
    struct rs_guard g;
    mt_err rv;

    MT_ENSURE(s != NULL && challenge_id != NULL && peer_id != NULL && nonce_out != NULL,
              MT_ERR_ARG);
    MT_ENSURE(mt_kms_challenge_id_valid(challenge_id), MT_ERR_CHALLENGE_NOT_FOUND);
    snprintf(key, sizeof(key), KEY_PREFIX "%s", challenge_id);
    snprintf(now_s, sizeof(now_s), "%llu", (unsigned long long)now);
    pkey = peer_key(peer_id, &pkey_len);
    MT_ENSURE(pkey != NULL, MT_ERR_NOMEM);
    keys[0] = key;
    key_lens[0] = strlen(key);
    keys[1] = INDEX_KEY;
    key_lens[1] = sizeof(INDEX_KEY) - 1;
    keys[2] = pkey;
    key_lens[2] = pkey_len;
    args[0] = now_s;
    arg_lens[0] = strlen(now_s);
    args[1] = peer_id;
    arg_lens[1] = strlen(peer_id);

    MT_GUARD_GOTO(rs_enter(s, &g), rv, out);
    rv = rs_script(s, s->consume_sha, consume_lua, 3, keys, key_lens, 2, args, arg_lens, &r);
    rs_leave(s, &g);
    if (rv != MT_OK)
        goto out;
    rv = MT_ERR_STORE_UNAVAILABLE;
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
        r->element[0]->type != REDIS_REPLY_INTEGER)
        goto out;
    st = r->element[0];
    if (st->integer == 0)
        rv = MT_ERR_CHALLENGE_NOT_FOUND;
    else if (st->integer == 2)
        rv = MT_ERR_CHALLENGE_PEER_MISMATCH;
    else if (st->integer == 3)
        rv = MT_ERR_CHALLENGE_EXPIRED;
    else if (st->integer == 1 && r->elements == 2 && r->element[1]->type == REDIS_REPLY_STRING &&
             r->element[1]->len == MT_CHALLENGE_NONCE_LEN) {
        memcpy(nonce_out, r->element[1]->str, MT_CHALLENGE_NONCE_LEN);
        OPENSSL_cleanse(r->element[1]->str, MT_CHALLENGE_NONCE_LEN);
        rv = MT_OK;
    }
out:
    if (r != NULL)
        freeReplyObject(r);
    mt_free(pkey);
    return rv;
}

static mt_err
redis_ping(struct mt_kms_store *base)
{
    struct redis_store *s = (struct redis_store *)base;
    const char *argv[1] = {"PING"};
    size_t lens[1] = {4};
    redisReply *r = NULL;
    struct rs_guard g;
    mt_err rv;

    MT_ENSURE(s != NULL, MT_ERR_ARG);
    MT_GUARD(rs_enter(s, &g));
    rv = rs_command(s, 1, argv, lens, &r);
    rs_leave(s, &g);
    if (rv == MT_OK && !reply_is_status(r, "PONG"))
        rv = MT_ERR_STORE_UNAVAILABLE;
    if (r != NULL)
        freeReplyObject(r);
    return rv;
}

static mt_err
redis_count(struct mt_kms_store *base, uint64_t now, size_t *out)
{
    struct redis_store *s = (struct redis_store *)base;
    char min_s[32];
    const char *argv[4];
    size_t lens[4];
    redisReply *r = NULL;
    struct rs_guard g;
    mt_err rv;

    MT_ENSURE(s != NULL && out != NULL, MT_ERR_ARG);
    snprintf(min_s, sizeof(min_s), "(%llu", (unsigned long long)now);
    argv[0] = "ZCOUNT";
    argv[1] = INDEX_KEY;
    argv[2] = min_s;
    argv[3] = "+inf";
    for (int i = 0; i < 4; i++)
        lens[i] = strlen(argv[i]);
    MT_GUARD(rs_enter(s, &g));
    rv = rs_command(s, 4, argv, lens, &r);
    rs_leave(s, &g);
    if (rv == MT_OK) {
        if (r->type == REDIS_REPLY_INTEGER && r->integer >= 0)
            *out = (size_t)r->integer;
        else
            rv = MT_ERR_STORE_UNAVAILABLE;
    }
    if (r != NULL)
        freeReplyObject(r);
    return rv;
}

static void
redis_free(struct mt_kms_store *base)
{
    struct redis_store *s = (struct redis_store *)base;

    if (s == NULL)
        return;
    rs_disconnect(s);
    mt_free(s->host);
    mt_free(s->user);
    if (s->password != NULL)
        OPENSSL_cleanse(s->password, strlen(s->password));
    mt_free(s->password);
    pthread_mutex_destroy(&s->mu);
    mt_free(s);
}

static const struct mt_kms_store_ops redis_ops = {
    .insert = redis_insert,
    .consume = redis_consume,
    .ping = redis_ping,
    .count = redis_count,
    .free = redis_free,
};

static mt_err
script_sha(const char *script, char out[41])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;

    MT_ENSURE(EVP_Digest(script, strlen(script), md, &len, EVP_sha1(), NULL) == 1 && len == 20,
              MT_ERR_CRYPTO);
    mt_hex_encode(md, 20, out);
    return MT_OK;
}

mt_err
mt_kms_store_redis_new(const char *redis_url, const struct mt_kms_store_limits *l,
                       struct mt_kms_store **out)
{
    struct redis_store *s;
    mt_err rv;

    MT_ENSURE(redis_url != NULL && l != NULL && out != NULL, MT_ERR_ARG);
    MT_ENSURE(l->max_total >= 1 && l->max_total <= MT_KMS_STORE_MAX_TOTAL, MT_ERR_ARG);
    s = mt_calloc(1, sizeof(*s));
    MT_ENSURE(s != NULL, MT_ERR_NOMEM);
    if (pthread_mutex_init(&s->mu, NULL) != 0) {
        mt_free(s);
        return MT_ERR_NOMEM;
    }
    s->base.ops = &redis_ops;
    s->lim = *l;
    if (s->lim.max_per_peer >= s->lim.max_total)
        s->lim.max_per_peer = 0;
    MT_GUARD_GOTO(parse_url(redis_url, s), rv, fail);
    MT_GUARD_GOTO(script_sha(insert_lua, s->insert_sha), rv, fail);
    MT_GUARD_GOTO(script_sha(consume_lua, s->consume_sha), rv, fail);
    *out = &s->base;
    return MT_OK;
fail:
    redis_free(&s->base);
    return rv;
}
