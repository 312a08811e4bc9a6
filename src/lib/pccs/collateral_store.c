#include "pccs/collateral_store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "dcap/pck.h"
#include "dcap/prepared.h"
#include "dcap/tcb_docs.h"
#include "dcap/verifier.h"
#include "dcap/x509.h"
#include "util/mt_alloc.h"
#include "util/mt_file.h"
#include "util/mt_hex.h"
#include "util/mt_limits.h"
#include "util/mt_time.h"

/* Temporary files of the disk cache start with this (and are never loaded). */
#define CS_TMP_PREFIX ".tmp-collateral-"
/* Length of remembered reasons. */
#define CS_WHY 256
/* Longest cache_dir accepted: file names add under 64 bytes. */
#define CS_MAX_DIR (PATH_MAX - 64)
/* Slots of the certification-data table: twice the entries it may hold. */
#define CS_PLAT_SLOTS (2u * MT_CSTORE_MAX_PLATFORMS)
/* Longest refresh margin and retry interval accepted (keeps the arithmetic far from overflow). */
#define CS_MAX_INTERVAL (366 * (int64_t)86400)

/* What an entry is keyed by: the platform (dcap-verify.md 3.3). */
struct cs_key {
    uint32_t tee;     /* MT_TEE_SGX / MT_TEE_TDX */
    uint8_t fmspc[6]; /* from the PCK leaf */
    enum mt_pck_ca ca;
};

/* A remembered certification data -> (FMSPC, CA) mapping. */
struct cs_platform {
    uint8_t hash[32]; /* SHA-256 of the quote's certification data */
    uint8_t fmspc[6];
    enum mt_pck_ca ca;
    int used;
};

struct cs_entry {
    int in_use;
    struct cs_key key;
    struct mt_prepared_collateral *pc; /* one reference, or NULL */
    int64_t not_before, not_after;     /* window of pc */
    int busy;                          /* a thread is loading it (lock not held) */
    int disk_tried;                    /* the disk file was read once */
    int backoff;                       /* no fetch before next_fetch */
    int64_t next_fetch;
    mt_err last_err; /* of the last fetch (MT_OK when it succeeded) */
    char last_why[CS_WHY];
    uint64_t gen;      /* changes with every completed load */
    uint64_t used_seq; /* for LRU eviction */
};

struct mt_collateral_store {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* signalled when a load completes */
    int mu_ok, cv_ok;  /* initialised (for freeing a half-built store) */
    struct mt_pccs_opts pccs;
    char **urls; /* owned copies behind pccs.urls */
    char *ca_file;
    char *proxy;
    char *dir; /* NULL: memory only */
    int64_t margin;
    int64_t retry;
    size_t max_entries;
    struct cs_entry *entries;
    struct cs_platform *plat; /* CS_PLAT_SLOTS, open addressing */
    size_t num_plat;
    uint64_t seq;
    int ever_fetched;
    struct mt_collateral_store_stats st;
    void (*log)(void *arg, mt_err e, const char *msg);
    void *log_arg;
};

/* What one load (disk and/or fetch, done without the lock) produced. */
struct cs_outcome {
    struct mt_prepared_collateral *pc; /* one reference for the caller, or NULL */
    int64_t nb, na;
    int from_fallback; /* pc is the entry's own collateral (stale but current) */
    int disk_loaded;
    int disk_errors;
    int fetched;
    int fetch_ok;
    mt_err err; /* of the fetch, or of the load as a whole */
    char why[CS_WHY];
};

static void cs_logf(struct mt_collateral_store *s, mt_err e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
cs_logf(struct mt_collateral_store *s, mt_err e, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    if (s->log == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    s->log(s->log_arg, e, msg);
}

static void
set_why(char *why, size_t why_len, const char *text)
{
    if (why != NULL && why_len > 0)
        snprintf(why, why_len, "%s", text);
}

static int
key_eq(const struct cs_key *a, const struct cs_key *b)
{
    return a->tee == b->tee && a->ca == b->ca && memcmp(a->fmspc, b->fmspc, 6) == 0;
}

static const char *
tee_name(uint32_t tee)
{
    return tee == MT_TEE_TDX ? "tdx" : "sgx";
}

/* "tdx-00806f050000-platform", the key as text (log lines and file names). */
static void
key_name(const struct cs_key *k, char out[48])
{
    char hex[13];

    mt_hex_encode(k->fmspc, 6, hex);
    snprintf(out, 48, "%s-%s-%s", tee_name(k->tee), hex, mt_pck_ca_name(k->ca));
}

void
mt_collateral_store_opts_init(struct mt_collateral_store_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->refresh_margin = MT_CSTORE_DEFAULT_REFRESH_MARGIN;
    o->max_entries = MT_CSTORE_DEFAULT_MAX_ENTRIES;
    o->retry_interval = MT_CSTORE_DEFAULT_RETRY_INTERVAL;
}

/* ---- creation ---- */

static mt_err
dup_opt_str(const char *in, char **out)
{
    *out = NULL;
    if (in == NULL)
        return MT_OK;
    *out = mt_strdup(in);
    MT_ENSURE(*out != NULL, MT_ERR_NOMEM);
    return MT_OK;
}

/* mkdir -p with mode 0700 for every directory created; the result must be a directory. */
static mt_err
make_dir(const char *dir)
{
    char path[PATH_MAX];
    struct stat st;
    size_t i, n = strlen(dir);

    MT_ENSURE(n > 0 && n < CS_MAX_DIR, MT_ERR_ARG);
    memcpy(path, dir, n + 1);
    for (i = 1; i <= n; i++) {
        if (path[i] != '/' && path[i] != '\0')
            continue;
        path[i] = '\0';
        if (mkdir(path, 0700) != 0 && errno != EEXIST)
            return MT_ERR_IO;
        path[i] = i < n ? '/' : '\0';
    }
    MT_ENSURE(stat(dir, &st) == 0 && S_ISDIR(st.st_mode), MT_ERR_IO);
    return MT_OK;
}

/* Remove temporary files an interrupted write left behind. */
static void
remove_stale_tmp(const char *dir)
{
    char path[PATH_MAX];
    struct dirent *d;
    DIR *dh;

    dh = opendir(dir);
    if (dh == NULL)
        return;
    while ((d = readdir(dh)) != NULL) {
        if (strncmp(d->d_name, CS_TMP_PREFIX, strlen(CS_TMP_PREFIX)) != 0)
            continue;
        if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, d->d_name) < sizeof(path))
            (void)unlink(path);
    }
    closedir(dh);
}

mt_err
mt_collateral_store_new(const struct mt_collateral_store_opts *o, struct mt_collateral_store **out)
{
    struct mt_collateral_store *s = NULL;
    const struct mt_pccs_opts *p;
    size_t i;
    mt_err e;

    MT_ENSURE(o != NULL && out != NULL && o->pccs != NULL, MT_ERR_ARG);
    p = o->pccs;
    MT_ENSURE(p->urls != NULL && p->num_urls > 0 && p->num_urls <= MT_PCCS_MAX_URLS, MT_ERR_ARG);
    MT_ENSURE(p->connect_timeout_ms > 0 && p->timeout_ms > 0, MT_ERR_ARG);
    MT_ENSURE(o->refresh_margin >= 0 && o->refresh_margin <= CS_MAX_INTERVAL, MT_ERR_ARG);
    MT_ENSURE(o->retry_interval <= CS_MAX_INTERVAL, MT_ERR_ARG);
    MT_ENSURE(o->max_entries <= MT_CSTORE_MAX_ENTRIES, MT_ERR_ARG);
    for (i = 0; i < p->num_urls; i++)
        MT_ENSURE(p->urls[i] != NULL && strlen(p->urls[i]) <= MT_PCCS_MAX_URL, MT_ERR_ARG);

    s = mt_calloc(1, sizeof(*s));
    MT_ENSURE(s != NULL, MT_ERR_NOMEM);
    s->pccs = *p;
    s->urls = mt_calloc(p->num_urls, sizeof(*s->urls));
    MT_ENSURE_GOTO(s->urls != NULL, MT_ERR_NOMEM, e, out);
    for (i = 0; i < p->num_urls; i++)
        MT_GUARD_GOTO(dup_opt_str(p->urls[i], &s->urls[i]), e, out);
    s->pccs.urls = (const char *const *)s->urls;
    MT_GUARD_GOTO(dup_opt_str(p->ca_file, &s->ca_file), e, out);
    MT_GUARD_GOTO(dup_opt_str(p->proxy, &s->proxy), e, out);
    s->pccs.ca_file = s->ca_file;
    s->pccs.proxy = s->proxy;

    s->margin = o->refresh_margin > 0 ? o->refresh_margin : MT_CSTORE_DEFAULT_REFRESH_MARGIN;
    s->retry = o->retry_interval != 0 ? o->retry_interval : MT_CSTORE_DEFAULT_RETRY_INTERVAL;
    s->max_entries = o->max_entries > 0 ? o->max_entries : MT_CSTORE_DEFAULT_MAX_ENTRIES;
    s->log = o->log;
    s->log_arg = o->log_arg;
    s->entries = mt_calloc(s->max_entries, sizeof(*s->entries));
    MT_ENSURE_GOTO(s->entries != NULL, MT_ERR_NOMEM, e, out);
    s->plat = mt_calloc(CS_PLAT_SLOTS, sizeof(*s->plat));
    MT_ENSURE_GOTO(s->plat != NULL, MT_ERR_NOMEM, e, out);

    if (o->cache_dir != NULL && o->cache_dir[0] != '\0') {
        MT_GUARD_GOTO(make_dir(o->cache_dir), e, out);
        MT_GUARD_GOTO(dup_opt_str(o->cache_dir, &s->dir), e, out);
        remove_stale_tmp(s->dir);
    }
    MT_ENSURE_GOTO(pthread_mutex_init(&s->mu, NULL) == 0, MT_ERR_INTERNAL, e, out);
    s->mu_ok = 1;
    MT_ENSURE_GOTO(pthread_cond_init(&s->cv, NULL) == 0, MT_ERR_INTERNAL, e, out);
    s->cv_ok = 1;
    *out = s;
    s = NULL;
    e = MT_OK;
out:
    mt_collateral_store_free(s);
    return e;
}

void
mt_collateral_store_free(struct mt_collateral_store *s)
{
    size_t i;

    if (s == NULL)
        return;
    if (s->entries != NULL)
        for (i = 0; i < s->max_entries; i++)
            mt_prepared_collateral_free(s->entries[i].pc);
    if (s->cv_ok)
        pthread_cond_destroy(&s->cv);
    if (s->mu_ok)
        pthread_mutex_destroy(&s->mu);
    if (s->urls != NULL)
        for (i = 0; i < s->pccs.num_urls; i++)
            mt_free(s->urls[i]);
    mt_free(s->urls);
    mt_free(s->ca_file);
    mt_free(s->proxy);
    mt_free(s->dir);
    mt_free(s->entries);
    mt_free(s->plat);
    mt_free(s);
}

/* ---- quote -> platform key ---- */

static size_t
plat_slot(const uint8_t hash[32])
{
    uint64_t h = 0;
    size_t i;

    for (i = 0; i < 8; i++)
        h = (h << 8) | hash[i];
    return (size_t)(h % CS_PLAT_SLOTS);
}

/* Under the lock. */
static const struct cs_platform *
plat_find(struct mt_collateral_store *s, const uint8_t hash[32])
{
    size_t i, n;

    for (n = 0, i = plat_slot(hash); n < CS_PLAT_SLOTS; n++, i = (i + 1) % CS_PLAT_SLOTS) {
        if (!s->plat[i].used)
            return NULL;
        if (memcmp(s->plat[i].hash, hash, 32) == 0)
            return &s->plat[i];
    }
    return NULL;
}

/* Under the lock.  When the table is full it starts over (a decode per platform again). */
static void
plat_insert(struct mt_collateral_store *s, const uint8_t hash[32], const uint8_t fmspc[6],
            enum mt_pck_ca ca)
{
    size_t i;

    if (plat_find(s, hash) != NULL)
        return;
    if (s->num_plat >= MT_CSTORE_MAX_PLATFORMS) {
        memset(s->plat, 0, CS_PLAT_SLOTS * sizeof(*s->plat));
        s->num_plat = 0;
    }
    for (i = plat_slot(hash); s->plat[i].used; i = (i + 1) % CS_PLAT_SLOTS)
        ;
    memcpy(s->plat[i].hash, hash, 32);
    memcpy(s->plat[i].fmspc, fmspc, 6);
    s->plat[i].ca = ca;
    s->plat[i].used = 1;
    s->num_plat++;
}

/* FMSPC and CA type of the quote's PCK leaf (dcap-verify.md 3.3, fetch order). */
static mt_err
decode_platform(const struct mt_quote *q, uint8_t fmspc[6], enum mt_pck_ca *ca)
{
    STACK_OF(X509) *chain = NULL;
    struct mt_pck_info info;
    size_t n = q->cert_data_len;
    mt_err e;

    while (n > 0 && q->cert_data[n - 1] == 0)
        n--;
    MT_ENSURE(n > 0 && memchr(q->cert_data, 0, n) == NULL, MT_ERR_PEM);
    MT_GUARD(mt_pem_chain_parse((const char *)q->cert_data, n, &chain));
    MT_GUARD_GOTO(mt_pck_info_parse(sk_X509_value(chain, 0), &info), e, out);
    memcpy(fmspc, info.fmspc, 6);
    *ca = info.ca;
    e = MT_OK;
out:
    sk_X509_pop_free(chain, X509_free);
    return e;
}

static mt_err
platform_key(struct mt_collateral_store *s, const struct mt_quote *q, struct cs_key *k, char *why,
             size_t why_len)
{
    const struct cs_platform *p;
    uint8_t hash[32];
    mt_err e;

    memset(k, 0, sizeof(*k));
    if (q->kind != MT_QUOTE_DCAP) {
        set_why(why, why_len, "quote: not a DCAP quote");
        return MT_ERR_ARG;
    }
    if (q->tee_type != MT_TEE_TDX && q->tee_type != MT_TEE_SGX) {
        set_why(why, why_len, "quote: unknown TEE type");
        return MT_ERR_QUOTE_TEE_TYPE;
    }
    /* Types 2/3 would need the pckcert endpoint; mt_pccs_fetch supports type 5 only. */
    if (q->cert_type != 5 || q->cert_data == NULL || q->cert_data_len == 0) {
        set_why(why, why_len, "quote: certification data is not a PCK chain (type 5)");
        return MT_ERR_QUOTE_CERT_TYPE;
    }
    k->tee = q->tee_type;
    MT_GUARD(mt_sha256(q->cert_data, q->cert_data_len, hash));
    pthread_mutex_lock(&s->mu);
    p = plat_find(s, hash);
    if (p != NULL) {
        memcpy(k->fmspc, p->fmspc, 6);
        k->ca = p->ca;
    }
    pthread_mutex_unlock(&s->mu);
    if (p != NULL)
        return MT_OK;

    e = decode_platform(q, k->fmspc, &k->ca);
    ERR_clear_error();
    if (e != MT_OK) {
        if (why != NULL && why_len > 0)
            snprintf(why, why_len, "quote: PCK certificate chain: %s", mt_err_message(e));
        return e;
    }
    pthread_mutex_lock(&s->mu);
    s->st.pck_decodes++;
    plat_insert(s, hash, k->fmspc, k->ca);
    pthread_mutex_unlock(&s->mu);
    return MT_OK;
}

/* ---- checking collateral against its key and time ---- */

/* Does the collateral belong to the key's platform? (TCB Info id and FMSPC, PCK CRL issuer.) */
static mt_err
check_platform(const struct mt_prepared_collateral *pc, const struct cs_key *k, char *why,
               size_t why_len)
{
    const struct mt_tcb_info *t = pc->tcb_info.doc;
    const char *want_id = k->tee == MT_TEE_TDX ? "TDX" : "SGX";
    const char *want_cn =
        k->ca == MT_PCK_CA_PLATFORM ? "Intel SGX PCK Platform CA" : "Intel SGX PCK Processor CA";
    char cn[128];
    int n;

    if (t == NULL || strcmp(t->id, want_id) != 0 || memcmp(t->fmspc, k->fmspc, 6) != 0) {
        set_why(why, why_len, "TCB Info is for another TEE type or FMSPC");
        return MT_ERR_COLLATERAL_FORMAT;
    }
    n = pc->pck_crl == NULL ? -1
                            : X509_NAME_get_text_by_NID(X509_CRL_get_issuer(pc->pck_crl),
                                                        NID_commonName, cn, sizeof(cn));
    if (n <= 0 || strcmp(cn, want_cn) != 0) {
        set_why(why, why_len, "PCK CRL is not issued by the expected PCK CA");
        return MT_ERR_COLLATERAL_FORMAT;
    }
    return MT_OK;
}

/* The error naming the component that had expired at now (window already past). */
static mt_err
expired_err(const struct mt_prepared_collateral *pc, int64_t now)
{
    const struct mt_tcb_info *t = pc->tcb_info.doc;
    const struct mt_qe_identity *q = pc->qe_identity.doc;
    int64_t tu, nu;

    if (t != NULL && t->next_update < now)
        return MT_ERR_TCB_INFO_EXPIRED;
    if (q != NULL && q->next_update < now)
        return MT_ERR_QE_IDENTITY_EXPIRED;
    if (pc->root_crl != NULL && mt_crl_window(pc->root_crl, &tu, &nu) == MT_OK && nu < now)
        return MT_ERR_ROOT_CRL;
    return MT_ERR_PCK_CRL_EXPIRED;
}

/*
 * Prepare col for key: without the PCK chain, with its window, matching the
 * key.  Expiry is the caller's business.
 */
static mt_err
prepare_for(struct mt_collateral *col, const struct cs_key *k, struct mt_prepared_collateral **pc,
            int64_t *nb, int64_t *na, char *why, size_t why_len)
{
    struct mt_prepared_collateral *p = NULL;
    mt_err e;

    /* The entry serves every platform of this FMSPC: the verifier must use each quote's chain. */
    mt_free(col->pck_certificate_chain);
    col->pck_certificate_chain = NULL;
    MT_GUARD(mt_collateral_prepare(col, &p));
    e = mt_prepared_collateral_window(p, nb, na);
    if (e != MT_OK) {
        if (why != NULL && why_len > 0)
            snprintf(why, why_len, "collateral window: %s", mt_err_message(e));
        goto out;
    }
    MT_GUARD_GOTO(check_platform(p, k, why, why_len), e, out);
    *pc = p;
    p = NULL;
out:
    mt_prepared_collateral_free(p);
    ERR_clear_error();
    return e;
}

/* ---- disk cache ---- */

static int
disk_path(const struct mt_collateral_store *s, const struct cs_key *k, char *path, size_t len)
{
    char name[48];

    key_name(k, name);
    return (size_t)snprintf(path, len, "%s/%s.json", s->dir, name) < len;
}

/*
 * Read the key's file.  On success o->pc holds collateral current at now.
 * A missing file is silent; anything unusable is logged (and counted when
 * the file is broken rather than merely expired).
 */
static void
disk_load(struct mt_collateral_store *s, const struct cs_key *k, int64_t now, struct cs_outcome *o)
{
    struct mt_collateral *col = NULL;
    struct mt_prepared_collateral *pc = NULL;
    char path[PATH_MAX], why[CS_WHY] = "", until[21];
    struct stat st;
    uint8_t *buf = NULL;
    size_t len;
    int64_t nb, na;
    mt_err e;

    if (!disk_path(s, k, path, sizeof(path)) || stat(path, &st) != 0)
        return;
    e = mt_file_read(path, MT_MAX_COLLATERAL_JSON, &buf, &len);
    if (e == MT_OK) {
        e = mt_collateral_parse((const char *)buf, len, &col);
        if (e != MT_OK)
            snprintf(why, sizeof(why), "not collateral JSON");
    } else {
        snprintf(why, sizeof(why), "unreadable");
    }
    if (e == MT_OK)
        e = prepare_for(col, k, &pc, &nb, &na, why, sizeof(why));
    if (e == MT_ERR_NOMEM) {
        cs_logf(s, e, "collateral cache: out of memory reading %s", path);
        goto out;
    }
    if (e != MT_OK) {
        o->disk_errors++;
        cs_logf(s, e, "collateral cache: ignoring %s: %s (%s); the next fetch replaces it", path,
                why, mt_err_code(e));
        goto out;
    }
    if (now > na) {
        mt_rfc3339_format(na, until);
        cs_logf(s, MT_OK, "collateral cache: ignoring %s: expired at %s", path, until);
        goto out;
    }
    o->pc = pc;
    o->nb = nb;
    o->na = na;
    pc = NULL;
out:
    mt_prepared_collateral_free(pc);
    mt_collateral_free(col);
    mt_free(buf);
}

/* Atomically replace the key's file: temp + fsync + rename + fsync of the directory. */
static mt_err
disk_write(struct mt_collateral_store *s, const struct cs_key *k, const struct mt_collateral *col)
{
    char path[PATH_MAX], tmp[PATH_MAX];
    char *json = NULL;
    int fd = -1, dfd, ok, created = 0;
    mt_err e;

    MT_ENSURE(disk_path(s, k, path, sizeof(path)), MT_ERR_IO);
    MT_ENSURE((size_t)snprintf(tmp, sizeof(tmp), "%s/%sXXXXXX", s->dir, CS_TMP_PREFIX) <
                  sizeof(tmp),
              MT_ERR_IO);
    MT_GUARD(mt_collateral_to_json(col, &json));
    fd = mkstemp(tmp);
    MT_ENSURE_GOTO(fd >= 0, MT_ERR_IO, e, out);
    created = 1;
    (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
    MT_ENSURE_GOTO(fchmod(fd, 0600) == 0, MT_ERR_IO, e, out);
    MT_GUARD_GOTO(mt_file_write_all(fd, json, strlen(json)), e, out);
    MT_ENSURE_GOTO(fsync(fd) == 0, MT_ERR_IO, e, out);
    ok = close(fd) == 0;
    fd = -1;
    MT_ENSURE_GOTO(ok, MT_ERR_IO, e, out);
    MT_ENSURE_GOTO(rename(tmp, path) == 0, MT_ERR_IO, e, out);
    created = 0;
    dfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    MT_ENSURE_GOTO(dfd >= 0, MT_ERR_IO, e, out);
    ok = fsync(dfd) == 0;
    close(dfd);
    MT_ENSURE_GOTO(ok, MT_ERR_IO, e, out);
    e = MT_OK;
out:
    if (fd >= 0)
        close(fd);
    if (created)
        (void)unlink(tmp);
    mt_free(json);
    return e;
}

/* ---- fetching ---- */

/* Fetch, prepare and check; on success o->pc is current at now and the disk file is written. */
static void
fetch_load(struct mt_collateral_store *s, const struct mt_quote *q, const struct cs_key *k,
           int64_t now, struct cs_outcome *o)
{
    struct mt_collateral *col = NULL;
    struct mt_prepared_collateral *pc = NULL;
    char name[48], until[21], why[CS_WHY] = "";
    int64_t nb = 0, na = 0;
    mt_err e;

    key_name(k, name);
    o->fetched = 1;
    e = mt_pccs_fetch(&s->pccs, q, &col, why, sizeof(why));
    if (e == MT_OK)
        e = prepare_for(col, k, &pc, &nb, &na, why, sizeof(why));
    if (e == MT_OK && now > na) {
        e = expired_err(pc, now);
        mt_rfc3339_format(na, until);
        snprintf(why, sizeof(why), "the PCCS served collateral that expired at %s", until);
    }
    if (e != MT_OK) {
        o->err = e;
        snprintf(o->why, sizeof(o->why), "%s", why);
        cs_logf(s, e, "collateral %s: fetch failed: %s (%s)", name, why, mt_err_code(e));
        goto out;
    }
    if (s->dir != NULL) {
        e = disk_write(s, k, col);
        if (e != MT_OK) {
            o->disk_errors++;
            cs_logf(s, e, "collateral %s: cannot write the disk cache in %s (%s)", name, s->dir,
                    mt_err_code(e));
        }
    }
    o->fetch_ok = 1;
    o->err = MT_OK;
    o->why[0] = '\0';
    o->pc = pc;
    o->nb = nb;
    o->na = na;
    pc = NULL;
out:
    mt_prepared_collateral_free(pc);
    mt_collateral_free(col);
}

/*
 * The slow path, without the lock: the disk file (once per key), then the
 * network.  fallback is the entry's current collateral when this is a
 * refresh (a reference owned by the caller), else NULL.
 */
static void
load(struct mt_collateral_store *s, const struct mt_quote *q, const struct cs_key *k, int64_t now,
     int try_disk, struct mt_prepared_collateral *fallback, int64_t fb_na, struct cs_outcome *o)
{
    struct cs_outcome d;
    char name[48];

    memset(&d, 0, sizeof(d));
    if (try_disk && s->dir != NULL)
        disk_load(s, k, now, &d);
    o->disk_errors = d.disk_errors;
    if (d.pc != NULL && now <= d.na - s->margin) {
        o->pc = d.pc;
        o->nb = d.nb;
        o->na = d.na;
        o->disk_loaded = 1;
        return;
    }
    fetch_load(s, q, k, now, o);
    if (o->pc != NULL) {
        mt_prepared_collateral_free(d.pc);
        return;
    }
    key_name(k, name);
    /* The fetch failed: anything still current beats an error. */
    if (d.pc != NULL && (fallback == NULL || d.na >= fb_na)) {
        o->pc = d.pc;
        o->nb = d.nb;
        o->na = d.na;
        o->disk_loaded = 1;
        cs_logf(s, o->err, "collateral %s: serving the disk cache's copy until its refresh", name);
    } else if (fallback != NULL) {
        mt_prepared_collateral_free(d.pc);
        o->pc = fallback;
        o->from_fallback = 1;
        cs_logf(s, o->err, "collateral %s: refresh failed; serving the cached copy", name);
    }
}

/* ---- the entry table (under the lock) ---- */

static struct cs_entry *
entry_find(struct mt_collateral_store *s, const struct cs_key *k)
{
    size_t i;

    for (i = 0; i < s->max_entries; i++)
        if (s->entries[i].in_use && key_eq(&s->entries[i].key, k))
            return &s->entries[i];
    return NULL;
}

/* A new entry for k: a free slot, else the least recently used idle one; NULL when all are busy. */
static struct cs_entry *
entry_insert(struct mt_collateral_store *s, const struct cs_key *k)
{
    struct cs_entry *ent = NULL;
    size_t i;

    for (i = 0; i < s->max_entries; i++) {
        if (!s->entries[i].in_use) {
            ent = &s->entries[i];
            break;
        }
        if (s->entries[i].busy)
            continue;
        if (ent == NULL || s->entries[i].used_seq < ent->used_seq)
            ent = &s->entries[i];
    }
    if (ent == NULL)
        return NULL;
    mt_prepared_collateral_free(ent->pc);
    memset(ent, 0, sizeof(*ent));
    ent->in_use = 1;
    ent->key = *k;
    ent->gen = ++s->seq;
    ent->used_seq = s->seq;
    return ent;
}

static int
current(const struct cs_entry *ent, int64_t now)
{
    return ent->pc != NULL && now <= ent->not_after;
}

static int
in_backoff(const struct mt_collateral_store *s, const struct cs_entry *ent, int64_t now)
{
    return s->retry > 0 && ent->backoff && now < ent->next_fetch;
}

/* Record a finished load in its entry and the counters. */
static void
commit(struct mt_collateral_store *s, struct cs_entry *ent, int tried_disk, int64_t now,
       const struct cs_outcome *o)
{
    s->st.disk_errors += (uint64_t)o->disk_errors;
    s->st.disk_loads += (uint64_t)o->disk_loaded;
    s->st.fetches += (uint64_t)o->fetched;
    s->st.fetch_failures += (uint64_t)(o->fetched && !o->fetch_ok);
    s->st.stale_served += (uint64_t)o->from_fallback;
    if (o->fetch_ok)
        s->ever_fetched = 1;
    if (ent == NULL)
        return;
    ent->busy = 0;
    ent->gen = ++s->seq;
    if (tried_disk)
        ent->disk_tried = 1;
    if (o->pc != NULL && o->pc != ent->pc) {
        mt_prepared_collateral_free(ent->pc);
        ent->pc = mt_prepared_collateral_ref(o->pc);
        ent->not_before = o->nb;
        ent->not_after = o->na;
    }
    if (o->fetched) {
        ent->last_err = o->err;
        snprintf(ent->last_why, sizeof(ent->last_why), "%s", o->why);
        /* Failed, or nothing fresher than the margin: do not ask again at once. */
        ent->backoff = !o->fetch_ok || now > o->na - s->margin;
        ent->next_fetch = now + (s->retry > 0 ? s->retry : 0);
    }
    pthread_cond_broadcast(&s->cv);
}

mt_err
mt_collateral_store_get(struct mt_collateral_store *s, const struct mt_quote *q, int64_t now,
                        struct mt_prepared_collateral **out, char *why, size_t why_len)
{
    struct mt_prepared_collateral *fallback = NULL, *hit = NULL;
    struct cs_entry *ent;
    struct cs_outcome o;
    struct cs_key k;
    uint64_t waited_gen = 0;
    int waited = 0, try_disk;
    int64_t fb_na = 0;
    mt_err e;

    set_why(why, why_len, "");
    MT_ENSURE(s != NULL && q != NULL && out != NULL, MT_ERR_ARG);
    MT_GUARD(platform_key(s, q, &k, why, why_len));

    pthread_mutex_lock(&s->mu);
    for (;;) {
        ent = entry_find(s, &k);
        if (ent == NULL) {
            ent = entry_insert(s, &k); /* NULL: every slot is loading; load uncached */
            break;
        }
        ent->used_seq = ++s->seq;
        if (current(ent, now)) {
            if (now <= ent->not_after - s->margin || ent->busy || in_backoff(s, ent, now)) {
                hit = mt_prepared_collateral_ref(ent->pc);
                s->st.memory_hits++;
                break;
            }
            /* Inside the margin: this thread refreshes, the entry stays served meanwhile. */
            fallback = mt_prepared_collateral_ref(ent->pc);
            fb_na = ent->not_after;
            break;
        }
        if (ent->busy) {
            waited = 1;
            waited_gen = ent->gen;
            pthread_cond_wait(&s->cv, &s->mu);
            continue;
        }
        /* Nothing current; expired collateral is never served again: drop it now. */
        mt_prepared_collateral_free(ent->pc);
        ent->pc = NULL;
        /* Share the outcome of a load this thread waited for, or of a recent failure. */
        if (ent->last_err != MT_OK &&
            ((waited && ent->gen != waited_gen) || (ent->disk_tried && in_backoff(s, ent, now)))) {
            e = ent->last_err;
            set_why(why, why_len, ent->last_why);
            pthread_mutex_unlock(&s->mu);
            return e;
        }
        break;
    }
    if (hit != NULL) {
        pthread_mutex_unlock(&s->mu);
        *out = hit;
        return MT_OK;
    }
    try_disk = ent == NULL || !ent->disk_tried;
    if (ent != NULL)
        ent->busy = 1;
    pthread_mutex_unlock(&s->mu);

    memset(&o, 0, sizeof(o));
    load(s, q, &k, now, try_disk, fallback, fb_na, &o);

    pthread_mutex_lock(&s->mu);
    commit(s, ent, try_disk, now, &o);
    pthread_mutex_unlock(&s->mu);

    if (o.pc != fallback)
        mt_prepared_collateral_free(fallback);
    if (o.pc == NULL) {
        set_why(why, why_len, o.why);
        return o.err != MT_OK ? o.err : MT_ERR_INTERNAL;
    }
    *out = o.pc;
    return MT_OK;
}

int
mt_collateral_store_ready(struct mt_collateral_store *s, int64_t now)
{
    int ready;
    size_t i;

    if (s == NULL)
        return 0;
    pthread_mutex_lock(&s->mu);
    ready = s->ever_fetched;
    for (i = 0; i < s->max_entries && !ready; i++)
        ready = s->entries[i].in_use && current(&s->entries[i], now);
    pthread_mutex_unlock(&s->mu);
    return ready;
}

void
mt_collateral_store_stats(struct mt_collateral_store *s, struct mt_collateral_store_stats *out)
{
    size_t i;

    memset(out, 0, sizeof(*out));
    if (s == NULL)
        return;
    pthread_mutex_lock(&s->mu);
    *out = s->st;
    out->entries = 0;
    for (i = 0; i < s->max_entries; i++)
        out->entries += s->entries[i].in_use && s->entries[i].pc != NULL;
    pthread_mutex_unlock(&s->mu);
}
