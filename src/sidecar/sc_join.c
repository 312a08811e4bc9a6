#include "sidecar/sidecar.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/*
 * meroctl as a child process: an argument vector handed to posix_spawn, so
 * no shell ever sees a group ID (and sc_mdma only lets 64 hex digits
 * through in the first place).
 */

extern char **environ;

int64_t
sc_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t
mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
sc_sleep_ms(long ms, volatile sig_atomic_t *stop)
{
    int64_t until = mono_ms() + ms, left;
    struct timespec ts;

    while ((stop == NULL || !*stop) && (left = until - mono_ms()) > 0) {
        if (left > 50)
            left = 50;
        ts.tv_sec = 0;
        ts.tv_nsec = (long)left * 1000000L;
        (void)nanosleep(&ts, NULL);
    }
}

static void
describe(char *why, size_t why_len, int status)
{
    if (WIFEXITED(status))
        snprintf(why, why_len, "meroctl exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(why, why_len, "meroctl was killed by signal %d", WTERMSIG(status));
    else
        snprintf(why, why_len, "meroctl ended abnormally");
}

mt_err
sc_meroctl_run(const struct sc_config *c, const char *sub, const char *group, char *out,
               size_t out_len, char *why, size_t why_len)
{
    char *argv[] = {c->meroctl, "--home",    c->meroctl_home, "--node", c->meroctl_node,
                    "tee",      (char *)sub, (char *)group,   NULL};
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    int pipefd[2] = {-1, -1}, status = 0, done = 0, timed_out = 0, rc;
    size_t got = 0;
    int64_t deadline;
    struct pollfd pfd;
    char chunk[512];
    ssize_t r;
    pid_t pid, w;

    if (out_len > 0)
        out[0] = '\0';
    snprintf(why, why_len, "could not start meroctl");
    if (pipe(pipefd) != 0)
        return MT_ERR_SIDECAR_JOIN_FAILED;
    (void)fcntl(pipefd[0], F_SETFD, FD_CLOEXEC);
    (void)fcntl(pipefd[1], F_SETFD, FD_CLOEXEC);
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    (void)posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    (void)posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
    (void)posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
    (void)posix_spawnattr_setpgroup(&attr, 0);
    (void)posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    rc = posix_spawn(&pid, c->meroctl, &fa, &attr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close(pipefd[1]);
    if (rc != 0) {
        close(pipefd[0]);
        snprintf(why, why_len, "could not start %s: %s", c->meroctl, strerror(rc));
        return MT_ERR_SIDECAR_JOIN_FAILED;
    }
    deadline = mono_ms() + c->join_timeout_ms;
    pfd.fd = pipefd[0];
    pfd.events = POLLIN;
    while (!done) {
        int64_t left = deadline - mono_ms();

        if (left <= 0) {
            timed_out = 1;
            (void)kill(-pid, SIGKILL);
            (void)kill(pid, SIGKILL);
            break;
        }
        if (pfd.fd >= 0) {
            rc = poll(&pfd, 1, (int)(left > 100 ? 100 : left));
            if (rc > 0) {
                r = read(pfd.fd, chunk, sizeof(chunk));
                if (r > 0) {
                    size_t take = (size_t)r;

                    if (out_len > 0 && got + 1 < out_len) {
                        if (take > out_len - 1 - got)
                            take = out_len - 1 - got;
                        memcpy(out + got, chunk, take);
                        got += take;
                        out[got] = '\0';
                    }
                } else if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
                    close(pfd.fd);
                    pfd.fd = -1;
                }
            }
        } else {
            struct timespec ts = {0, 10 * 1000000L};

            (void)nanosleep(&ts, NULL);
        }
        w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            done = 1;
    }
    if (!done) {
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
    }
    if (pfd.fd >= 0)
        close(pfd.fd);
    if (timed_out) {
        snprintf(why, why_len, "meroctl did not finish within %ld ms and was killed",
                 c->join_timeout_ms);
        return MT_ERR_SIDECAR_JOIN_TIMEOUT;
    }
    describe(why, why_len, status);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return MT_OK;
    return MT_ERR_SIDECAR_JOIN_FAILED;
}
