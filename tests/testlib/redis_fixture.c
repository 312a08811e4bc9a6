#include "mt_testlib.h"
#include "redis_fixture.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>

#define READY_TIMEOUT_MS 10000
#define STOP_TIMEOUT_MS 5000

static void
sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static long
elapsed_ms(const struct timespec *t0)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long)(t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/* The redis-server to run: $MT_REDIS_SERVER, else MT_REDIS_SERVER looked up in PATH. */
static int
find_server(char *out, size_t n)
{
    const char *name = getenv("MT_REDIS_SERVER");
    const char *path = getenv("PATH"), *p, *end;
    char cand[500];

    if (name == NULL || name[0] == '\0')
        name = MT_REDIS_SERVER;
    if (strchr(name, '/') != NULL) {
        snprintf(out, n, "%s", name);
        return access(out, X_OK) == 0;
    }
    if (path == NULL)
        path = "/usr/local/bin:/usr/bin:/bin";
    for (p = path; *p != '\0'; p = *end == ':' ? end + 1 : end) {
        end = strchr(p, ':');
        if (end == NULL)
            end = p + strlen(p);
        snprintf(cand, sizeof(cand), "%.*s/%s", (int)(end - p), p, name);
        if (end > p && access(cand, X_OK) == 0) {
            snprintf(out, n, "%s", cand);
            return 1;
        }
    }
    snprintf(out, n, "%s", name);
    return 0;
}

/* A loopback port nobody listens on right now (the kernel's choice). */
static int
free_port(void)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

    if (fd < 0)
        return -1;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

/* The last part of the server's log, for failure messages. */
static void
log_tail(const struct redis_fixture *f, char *out, size_t n)
{
    char path[192];
    FILE *fp;
    long size;
    size_t got;

    out[0] = '\0';
    snprintf(path, sizeof(path), "%s/redis.log", f->dir);
    fp = fopen(path, "r");
    if (fp == NULL)
        return;
    if (fseek(fp, 0, SEEK_END) == 0 && (size = ftell(fp)) > 0) {
        long from = size > (long)n - 1 ? size - ((long)n - 1) : 0;

        if (fseek(fp, from, SEEK_SET) == 0) {
            got = fread(out, 1, n - 1, fp);
            out[got] = '\0';
        }
    }
    fclose(fp);
}

static redisContext *
connect_ping(const struct redis_fixture *f, long timeout_ms)
{
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", f->port, tv);
    redisReply *r;
    int ok;

    if (c == NULL || c->err != 0 || redisSetTimeout(c, tv) != REDIS_OK)
        goto fail;
    if (f->password[0] != '\0') {
        r = redisCommand(c, "AUTH %s", f->password);
        ok = r != NULL && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "OK") == 0;
        if (r != NULL)
            freeReplyObject(r);
        if (!ok)
            goto fail;
    }
    r = redisCommand(c, "PING");
    ok = r != NULL && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0;
    if (r != NULL)
        freeReplyObject(r);
    if (ok)
        return c;
fail:
    if (c != NULL)
        redisFree(c);
    return NULL;
}

/* Fork and exec the server on f->port; 0 when it answers PING, -1 when it exited. */
static int
spawn(struct redis_fixture *f)
{
    char port[16], logfile[192];
    const char *argv[24];
    struct timespec t0;
    redisContext *c;
    pid_t parent = getpid(), pid;
    int argc = 0, st, fd;

    snprintf(port, sizeof(port), "%d", f->port);
    snprintf(logfile, sizeof(logfile), "%s/redis.log", f->dir);
    argv[argc++] = f->server;
    argv[argc++] = "--port";
    argv[argc++] = port;
    argv[argc++] = "--bind";
    argv[argc++] = "127.0.0.1";
    argv[argc++] = "--dir";
    argv[argc++] = f->dir;
    argv[argc++] = "--save";
    argv[argc++] = "";
    argv[argc++] = "--appendonly";
    argv[argc++] = "no";
    argv[argc++] = "--daemonize";
    argv[argc++] = "no";
    argv[argc++] = "--logfile";
    argv[argc++] = logfile;
    if (f->password[0] != '\0') {
        argv[argc++] = "--requirepass";
        argv[argc++] = f->password;
    }
    argv[argc] = NULL;

    pid = fork();
    if (pid < 0)
        fail_msg("redis fixture: fork: %s", strerror(errno));
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(126);
        fd = open("/dev/null", O_RDWR);
        if (fd >= 0) {
            dup2(fd, 0);
            dup2(fd, 1);
            dup2(fd, 2);
            if (fd > 2)
                close(fd);
        }
        execv(f->server, (char *const *)argv);
        _exit(127);
    }
    f->pid = pid;
    f->paused = 0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (elapsed_ms(&t0) < READY_TIMEOUT_MS) {
        if (waitpid(pid, &st, WNOHANG) == pid) {
            f->pid = 0;
            return -1;
        }
        c = connect_ping(f, 200);
        if (c != NULL) {
            redisFree(c);
            return 0;
        }
        sleep_ms(20);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    f->pid = 0;
    fail_msg("redis fixture: %s on port %d did not answer PING within %d ms", f->server, f->port,
             READY_TIMEOUT_MS);
    return -1;
}

void
redis_fixture_start(struct redis_fixture *f, const char *password)
{
    char tail[1024];
    int attempt;

    memset(f, 0, sizeof(*f));
    if (password != NULL)
        snprintf(f->password, sizeof(f->password), "%s", password);
    if (!find_server(f->server, sizeof(f->server)))
        fail_msg("redis fixture: '%s' not found or not executable (PATH or $MT_REDIS_SERVER); "
                 "the Redis challenge-store tests need redis-server installed "
                 "(apt-get install redis-server)",
                 f->server);
    snprintf(f->dir, sizeof(f->dir), "/tmp/mt-redis-XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        fail_msg("redis fixture: mkdtemp: %s", strerror(errno));
    for (attempt = 0; attempt < 5; attempt++) {
        f->port = free_port();
        if (f->port <= 0)
            fail_msg("redis fixture: no free loopback port");
        if (spawn(f) == 0)
            return;
        log_tail(f, tail, sizeof(tail));
        if (strstr(tail, "in use") == NULL)
            fail_msg("redis fixture: %s exited at start (port %d); log tail:\n%s", f->server,
                     f->port, tail);
    }
    fail_msg("redis fixture: could not find a free port in 5 attempts");
}

static void
reap(struct redis_fixture *f, int sig)
{
    struct timespec t0;
    int st;

    if (f->pid <= 0)
        return;
    kill(f->pid, sig);
    if (f->paused)
        kill(f->pid, SIGCONT);
    f->paused = 0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (waitpid(f->pid, &st, WNOHANG) == 0) {
        if (elapsed_ms(&t0) > STOP_TIMEOUT_MS) {
            kill(f->pid, SIGKILL);
            waitpid(f->pid, &st, 0);
            break;
        }
        sleep_ms(5);
    }
    f->pid = 0;
}

void
redis_fixture_stop(struct redis_fixture *f)
{
    reap(f, SIGTERM);
}

void
redis_fixture_kill(struct redis_fixture *f)
{
    reap(f, SIGKILL);
}

void
redis_fixture_pause(struct redis_fixture *f)
{
    if (f->pid <= 0 || kill(f->pid, SIGSTOP) != 0)
        fail_msg("redis fixture: cannot pause (pid %d)", (int)f->pid);
    f->paused = 1;
}

void
redis_fixture_resume(struct redis_fixture *f)
{
    if (f->pid <= 0 || kill(f->pid, SIGCONT) != 0)
        fail_msg("redis fixture: cannot resume (pid %d)", (int)f->pid);
    f->paused = 0;
}

void
redis_fixture_restart(struct redis_fixture *f)
{
    char tail[1024];
    struct timespec t0;

    if (f->pid > 0)
        redis_fixture_stop(f);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    /* The old server's listening socket may linger for a moment; retry briefly. */
    while (spawn(f) != 0) {
        log_tail(f, tail, sizeof(tail));
        if (strstr(tail, "in use") == NULL || elapsed_ms(&t0) > READY_TIMEOUT_MS)
            fail_msg("redis fixture: restart on port %d failed; log tail:\n%s", f->port, tail);
        sleep_ms(50);
    }
}

void
redis_fixture_destroy(struct redis_fixture *f)
{
    char cmd[256];

    redis_fixture_stop(f);
    if (f->dir[0] != '\0') {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
        if (system(cmd) != 0)
            fprintf(stderr, "warning: could not remove %s\n", f->dir);
    }
    memset(f, 0, sizeof(*f));
}

void
redis_fixture_url(const struct redis_fixture *f, int db, char *buf, size_t n)
{
    char dbs[16] = "";

    if (db >= 0)
        snprintf(dbs, sizeof(dbs), "/%d", db);
    if (f->password[0] != '\0')
        snprintf(buf, n, "redis://:%s@127.0.0.1:%d%s", f->password, f->port, dbs);
    else
        snprintf(buf, n, "redis://127.0.0.1:%d%s", f->port, dbs);
}

redisContext *
redis_fixture_connect(const struct redis_fixture *f, int db)
{
    redisContext *c = connect_ping(f, 2000);
    redisReply *r;

    if (c == NULL)
        fail_msg("redis fixture: cannot connect to 127.0.0.1:%d", f->port);
    if (db > 0) {
        r = redisCommand(c, "SELECT %d", db);
        if (r == NULL || r->type != REDIS_REPLY_STATUS)
            fail_msg("redis fixture: SELECT %d failed", db);
        freeReplyObject(r);
    }
    return c;
}

void
redis_fixture_flush(const struct redis_fixture *f)
{
    redisContext *c = redis_fixture_connect(f, 0);
    redisReply *r = redisCommand(c, "FLUSHALL");

    if (r == NULL || r->type != REDIS_REPLY_STATUS)
        fail_msg("redis fixture: FLUSHALL failed");
    freeReplyObject(r);
    redisFree(c);
}
