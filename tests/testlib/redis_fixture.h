#ifndef MT_REDIS_FIXTURE_H
#define MT_REDIS_FIXTURE_H

/*
 * A private redis-server for tests: its own temporary directory, a free
 * loopback port, no persistence (--save "" --appendonly no), optionally a
 * password.  It can be stopped, killed, paused (SIGSTOP) and restarted on
 * the same port, so that tests can take Redis away in the middle of a run.
 *
 * Every function fails the running cmocka test (never skips) when it cannot
 * do its job; a missing redis-server binary is reported as such.  Start and
 * stop from the thread that runs the test: the server is killed when that
 * thread's process dies (PR_SET_PDEATHSIG), so a crashed test leaves no
 * server behind.
 */
#include <stddef.h>
#include <sys/types.h>

#include <hiredis/hiredis.h>

struct redis_fixture {
    pid_t pid; /* 0 when not running */
    int port;
    int paused;
    char dir[128];     /* temporary directory (log file lives here) */
    char password[64]; /* "" = no password */
    char server[512];  /* path of the redis-server binary used */
};

/* Start a server; password NULL or "" for none. */
void redis_fixture_start(struct redis_fixture *f, const char *password);
/* SIGTERM and wait (SIGKILL after 5 s).  The port and directory are kept. */
void redis_fixture_stop(struct redis_fixture *f);
/* SIGKILL and wait, as a crash would. */
void redis_fixture_kill(struct redis_fixture *f);
/* SIGSTOP: the server keeps its sockets but answers nothing. */
void redis_fixture_pause(struct redis_fixture *f);
/* SIGCONT after redis_fixture_pause. */
void redis_fixture_resume(struct redis_fixture *f);
/* Start again on the same port with the same options (empty: no persistence). */
void redis_fixture_restart(struct redis_fixture *f);
/* Stop if running and remove the directory; the struct is zeroed. */
void redis_fixture_destroy(struct redis_fixture *f);

/* "redis://[:password@]127.0.0.1:<port>[/db]" (db < 0: no path) into buf. */
void redis_fixture_url(const struct redis_fixture *f, int db, char *buf, size_t n);
/* A connection for inspecting the data (authenticated, database db selected); redisFree it. */
redisContext *redis_fixture_connect(const struct redis_fixture *f, int db);
/* FLUSHALL. */
void redis_fixture_flush(const struct redis_fixture *f);

#endif
